/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsm.h: the configfs-tsm report backend (shared/spec section 1; Linux
 * Documentation/ABI/testing/configfs-tsm-report).
 *
 * Gets bytes from the kernel, decodes nothing. The root directory is a parameter
 * (normally TSM_REPORT_ROOT) so tests can point the backend at a stand-in that implements the
 * same file semantics.
 */
#ifndef KAGI_TSM_H
#define KAGI_TSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define TSM_REPORT_ROOT   "/sys/kernel/config/tsm/report"
#define TSM_INBLOB_SIZE   64          /* sev_guest and tdx_guest require exactly 64 bytes */
#define TSM_BLOB_MAX      (64 * 1024) /* cap on outblob/auxblob/manifestblob reads */
#define TSM_PRIVLEVEL_MAX 3           /* SNP VMPLs 0..3 */
#define TSM_MAX_ATTEMPTS  3           /* whole sequence, on a generation mismatch only */

/* SVSM (COCONUT) vTPM service, shared/spec 5.1 */
#define TSM_SERVICE_PROVIDER_SVSM "svsm"
#define TSM_SVSM_VTPM_GUID        "c476f1eb-0123-45a5-9641-b4e7dde5bfe3"

struct tsm_request {
	const uint8_t *inblob; /* must be exactly TSM_INBLOB_SIZE bytes */
	size_t inblob_len;
	/*
	 * privlevel: written when set_privlevel is true (value checked against 0..3 before any
	 * file access), or, when not set and no service is requested, with privlevel_floor if
	 * that is > 0 (the provider would refuse a level below its floor).
	 */
	bool set_privlevel;
	unsigned privlevel;
	/* SVSM service attestation: all NULL/false for a plain report */
	const char *service_provider; /* "svsm" */
	const char *service_guid;     /* canonical UUID text, validated before any file access */
	bool set_manifest_version;
	unsigned manifest_version;
};

struct tsm_result {
	char provider[32]; /* "sev_guest", "tdx_guest", ... (newline trimmed) */
	bool has_privlevel_floor;
	unsigned privlevel_floor;
	uint8_t *outblob; /* the evidence (SNP: the 1184-byte report) */
	size_t outblob_len;
	bool has_auxblob; /* the attribute exists; auxblob_len 0 = the host gave no certs */
	uint8_t *auxblob;
	size_t auxblob_len;
	uint8_t *manifestblob; /* only for a service request */
	size_t manifestblob_len;
	uint64_t generation_before;
	uint64_t generation_after;
	unsigned writes;   /* attribute writes in the accepted attempt */
	unsigned attempts; /* 1 unless another writer interfered */
};

struct tsm_info {
	char provider[32];
	bool has_auxblob;
	bool has_privlevel;
	bool has_privlevel_floor;
	unsigned privlevel_floor;
	bool has_service_provider; /* the guest runs at VMPL > 0 under an SVSM (kernel >= 6.10) */
	bool has_manifestblob;
};

/*
 * Is configfs-tsm usable at root? Creates (and removes) a private entry, reads `provider` and
 * detects the optional attributes with access(). 0 and *ret filled on success.
 */
int tsm_probe(const char *root, struct tsm_info *ret, struct kagi_err *reterr);

/*
 * One report: validates the request, then mkdir a private entry, read provider, g0, do the
 * attribute writes (one open/write/close each; the inblob last), read outblob (+ auxblob,
 * + manifestblob for a service request) each from a fresh fd until EOF, read g1 and accept
 * only g1 == g0 + writes. On a mismatch the whole sequence is retried (TSM_MAX_ATTEMPTS); read
 * errors are never retried (an SNP request failure wipes the VMPCK). The entry is always removed.
 */
int tsm_report_get(const char *root, const struct tsm_request *req, struct tsm_result *ret,
		   struct kagi_err *reterr);
void tsm_result_done(struct tsm_result *r);

/* Pure helpers (exported for the tests). */
int tsm_request_validate(const struct tsm_request *req, struct kagi_err *reterr);
/* Canonical 8-4-4-4-12 hex UUID text (either case), exactly 36 characters. */
bool tsm_guid_valid(const char *s);
/* The text of a `generation` attribute: decimal digits, one optional trailing newline. */
int tsm_parse_generation(const char *text, size_t len, uint64_t *ret, struct kagi_err *reterr);
/* Why an errno from configfs-tsm happened, in words (`attr` is the attribute involved). */
const char *tsm_errno_hint(int err, const char *attr);

#endif
