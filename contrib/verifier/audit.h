/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.h: the verifier's decision log. One JSON object per line, appended (O_APPEND) and
 * fsync()ed before the answer leaves the verifier:
 *
 *   {"time": "2026-01-01T00:00:00Z", "peer": "192.0.2.7:51234", "client_cert_sha256": "<hex>",
 *    "route": "/v1/attest", "decision": "granted|refused|error", "reasons": ["snp.chain", ...],
 *    "volumes": ["<uuid>", ...], "group": "web", "measurement": "<hex>", "chip_id": "<hex>",
 *    "report_id": "<hex>"}
 *
 * Records carry identifiers and reason codes only, never key material.
 */
#ifndef KAGI_AUDIT_H
#define KAGI_AUDIT_H

#include <stddef.h>
#include <time.h>

#include "err.h"
#include "proto.h"

enum audit_decision {
	AUDIT_ERROR = 0,
	AUDIT_GRANTED,
	AUDIT_REFUSED,
};

struct audit_record {
	time_t time; /* 0: the time of audit_write() */
	char peer[80];
	char client_cert_sha256[65];
	char route[32];
	enum audit_decision decision;
	size_t nreasons;
	char reasons[PROTO_MAX_REASONS][64];
	size_t nvolumes;
	char volumes[PROTO_MAX_VOLUMES][PROTO_UUID_LEN + 1];
	char group[64];
	char measurement[97];
	char chip_id[129];
	char report_id[65];
};

struct audit;

/* Open (create, mode 0640) for appending. */
int audit_open(const char *path, struct audit **ret, struct kagi_err *reterr);
void audit_close(struct audit *a);
/* Append one line and fsync. */
int audit_write(struct audit *a, const struct audit_record *rec, struct kagi_err *reterr);

/* The JSON line without the newline (malloc'd), for tests and audit_write. */
int audit_record_format(const struct audit_record *rec, char **ret);
void audit_record_add_reason(struct audit_record *rec, const char *code);
const char *audit_decision_name(enum audit_decision d);

#endif
