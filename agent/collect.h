/* SPDX-License-Identifier: Apache-2.0 */
/*
 * collect.h: evidence collection, shared by `kagi collect` (a debugging aid that prints or
 * stores what the VM can give) and `kagi unlock` (the attestation protocol).
 *
 * The caller decides what the evidence is bound to: it passes the 64-byte SNP REPORT_DATA, the
 * 64-byte SVSM vTPM attestation nonce and the TPM quote's qualifying data. Sequence:
 *   evidence_tpm_open()   open the TPM, recreate the EK, create the AK (kept loaded)
 *   evidence_snp_probe()  which SNP interface is there, is an SVSM present (no guest request)
 *   evidence_collect()    quote + PCRs, event log, SNP report, SVSM vTPM report
 *   evidence_reset()      drop the nonce-bound parts before collecting for another nonce
 *   evidence_activate_credential() / evidence_pcr_extend()   with the same TPM session
 *   evidence_done()
 * A failed SNP guest request is never retried here or by the callers: the kernel wipes the
 * VMPCK after a failure and no further report can be had until reboot.
 *
 * This header deliberately does not include tpm.h (its PCR types clash with lib/tpm-quote.h,
 * which the protocol code uses): PCR values come out in struct evidence_pcrs.
 */
#ifndef KAGI_COLLECT_H
#define KAGI_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "lib/err.h"
#include "lib/secret.h"

#define EVIDENCE_MSG_MAX    1536
#define EVIDENCE_PCR_MAX    24
#define EVIDENCE_DIGEST_MAX 64
#define EVIDENCE_NAME_MAX   (2 + EVIDENCE_DIGEST_MAX)

struct evidence_opts {
	const char *tsm_dir;  /* configfs-tsm report root (TSM_REPORT_ROOT) */
	const char *sev_dev;  /* /dev/sev-guest, used only without configfs-tsm */
	const char *tcti;     /* NULL = device:/dev/tpmrm0 */
	const char *eventlog; /* NULL = securityfs */
	bool read_eventlog;
	bool no_snp;
	bool no_svsm; /* do not ask for the SVSM vTPM report even under an SVSM */
	bool no_tpm;
	uint32_t pcr_mask; /* sha256 PCRs to quote and read */
	bool ak_ecc;       /* ECC P-256 AK instead of RSA-2048 */
#ifdef KAGI_TEST_HOOKS
	/* TEST ONLY: create the AK and quote in this other TPM; EK/credential stay in `tcti`. */
	const char *ak_tcti;
#endif
};

/* One PCR bank as read right before and after the quote (identical reads). */
struct evidence_pcrs {
	uint16_t alg; /* TPM2_ALG_ID */
	uint16_t digest_size;
	uint32_t mask; /* bit n: value[n] is valid */
	uint32_t update_counter;
	uint8_t value[EVIDENCE_PCR_MAX][EVIDENCE_DIGEST_MAX];
};

struct evidence_snp {
	bool probed;
	bool collected;
	char error[EVIDENCE_MSG_MAX];
	const char *source; /* "configfs-tsm" or "sev-guest" */
	char provider[32];
	bool has_floor;
	unsigned floor;
	unsigned vmpl; /* requested VMPL (sev-guest path) */
	uint8_t *report;
	size_t report_len;
	uint8_t *certs; /* auxblob / ext-report certificate table */
	size_t certs_len;
	/* SVSM vTPM attestation */
	bool svsm_present;
	bool svsm_collected;
	char svsm_error[EVIDENCE_MSG_MAX];
	uint8_t *svsm_report;
	size_t svsm_report_len;
	uint8_t *manifest;
	size_t manifest_len;
	uint8_t *svsm_certs;
	size_t svsm_certs_len;
};

struct evidence_tpm {
	bool collected; /* the EK exists */
	char error[EVIDENCE_MSG_MAX];
	uint8_t *ek; /* marshaled TPMT_PUBLIC */
	size_t ek_len;
	uint8_t *ak; /* marshaled TPMT_PUBLIC */
	size_t ak_len;
	uint8_t *ak_priv; /* marshaled TPM2B_PRIVATE (wrapped by the EK, not secret) */
	size_t ak_priv_len;
	uint8_t ak_name[EVIDENCE_NAME_MAX];
	size_t ak_name_len;
	bool quoted;
	uint8_t *attest; /* TPMS_ATTEST */
	size_t attest_len;
	uint8_t *sig; /* TPMT_SIGNATURE */
	size_t sig_len;
	struct evidence_pcrs pcrs;
};

struct evidence_log {
	bool tried;
	bool collected;
	char error[EVIDENCE_MSG_MAX];
	const char *path;
	uint8_t *data;
	size_t len;
	uint8_t sha256[32];
};

struct evidence_session; /* the open TPM(s), private to collect.c */

struct evidence {
	struct evidence_snp snp;
	struct evidence_tpm tpm;
	struct evidence_log log;
	struct evidence_session *session;
};

/* Defaults: configfs-tsm, /dev/sev-guest, device:/dev/tpmrm0, PCRs 0-23, RSA AK. */
void evidence_opts_init(struct evidence_opts *o);

/*
 * Open the TPM, recreate the L-1 RSA EK and create an AK under it; the TPM stays open. On
 * failure ev->tpm.error says why (ev->tpm.collected tells whether at least the EK exists) and
 * a negative errno is returned.
 */
int evidence_tpm_open(const struct evidence_opts *o, struct evidence *ev);

/*
 * Which SNP interface is usable (configfs-tsm, else /dev/sev-guest) and whether the guest runs
 * under an SVSM. Makes no guest request. Fills ev->snp.source, provider, svsm_present; on
 * failure ev->snp.error and a negative errno.
 */
int evidence_snp_probe(const struct evidence_opts *o, struct evidence *ev);

struct evidence_inputs {
	const uint8_t *report_data; /* 64 bytes: SNP REPORT_DATA */
	const uint8_t *svsm_nonce;  /* 64 bytes: SVSM vTPM attestation inblob */
	const uint8_t *qualifying;  /* TPM quote qualifying data, 0..64 bytes */
	size_t qualifying_len;
};

/*
 * Quote the PCRs (if an AK exists), read the event log (if opts.read_eventlog), then ask for the
 * SNP report and, under an SVSM with a TPM EK, the SVSM vTPM report. Every part records its own
 * failure in its error text; returns 0 if no part failed, else the first negative errno
 * (*ret_snp_failed tells whether an SNP or SVSM guest request itself failed).
 */
int evidence_collect(const struct evidence_opts *o, struct evidence *ev,
		     const struct evidence_inputs *in, bool *ret_snp_failed);

/* Drop the nonce-bound parts (reports, quote, PCRs, event log); keep the TPM, EK and AK. */
void evidence_reset(struct evidence *ev);

/*
 * TPM2_ActivateCredential with the loaded AK and the EK of the main TPM (blob and secret as
 * from credential_unmarshal()); the credential goes into a new locked secret.
 */
int evidence_activate_credential(struct evidence *ev, const TPM2B_ID_OBJECT *blob,
				 const TPM2B_ENCRYPTED_SECRET *secret, struct secret **ret,
				 struct kagi_err *reterr);

/* Extend PCR `pcr` of the main TPM in every active bank with H_bank(data). */
int evidence_pcr_extend(struct evidence *ev, unsigned pcr, const uint8_t *data, size_t len,
			struct kagi_err *reterr);

/* Close the TPM(s) and free everything. */
void evidence_done(struct evidence *ev);

int cmd_collect(int argc, char **argv);
/* Hidden test/debug helpers for the TPM (extend a PCR, activate a credential). */
int cmd_tpm_debug(int argc, char **argv);

#endif
