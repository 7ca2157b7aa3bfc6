/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snp-certs.h: the GHCB certificate table that the host returns with an extended report
 * (SNP_GET_EXT_REPORT certs buffer, configfs-tsm `auxblob`; shared/spec section 2.5).
 *
 * An array of 24-byte entries {GUID[16], u32 offset, u32 length} (LE) ended by an all-zero
 * entry; each entry points at a DER certificate inside the same blob. GUIDs are in RFC 4122
 * (big-endian string) byte order; the mixed-endian form is accepted too, defensively.
 */
#ifndef KAGI_SNP_CERTS_H
#define KAGI_SNP_CERTS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SNP_CERTS_MAX_ENTRIES 16
#define SNP_CERTS_MAX_SIZE    (32 * 1024) /* configfs TSM_REPORT_OUTBLOB_MAX */

enum snp_cert_kind {
	SNP_CERT_OTHER = 0, /* unknown GUID: kept, ignored by verification */
	SNP_CERT_ARK,
	SNP_CERT_ASK, /* also used for the ASVK */
	SNP_CERT_VCEK,
	SNP_CERT_VLEK,
};

struct snp_cert_entry {
	enum snp_cert_kind kind;
	uint8_t guid[16];   /* as found in the table */
	const uint8_t *der; /* borrowed from the decoded buffer */
	size_t len;
};

struct snp_cert_table {
	size_t n;
	struct snp_cert_entry e[SNP_CERTS_MAX_ENTRIES];
};

/*
 * Decode a table. An empty blob (0 bytes) or one whose first entry is all zero gives n == 0.
 * Rejects: truncated entries, a missing terminator, offsets inside the entry array, entries
 * running past the blob, zero-length certificates, duplicate known GUIDs, too many entries.
 */
int snp_certs_decode(const uint8_t *buf, size_t len, struct snp_cert_table *ret,
		     struct kagi_err *reterr);

/* Build a table (terminator included, certificates appended in order). For tests/stand-in. */
int snp_certs_encode(const struct snp_cert_table *t, uint8_t **ret, size_t *ret_len);

/* The GUID (big-endian byte order) of a known kind; NULL for SNP_CERT_OTHER. */
const uint8_t *snp_cert_kind_guid(enum snp_cert_kind k);
const char *snp_cert_kind_name(enum snp_cert_kind k); /* "ARK", "ASK", "VCEK", "VLEK", "other" */

const struct snp_cert_entry *snp_certs_find(const struct snp_cert_table *t, enum snp_cert_kind k);

#endif
