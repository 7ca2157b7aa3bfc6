/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline.h: what the verifier does with one request, without any network or TPM
 * (contrib/verifier/PROTOCOL.md sections 1, 3 and 5). The server (server.c) only moves bytes
 * and authenticates TLS peers; every decision is taken here, so unit tests drive the same code.
 *
 * Each function returns the HTTP status to answer with (200/201 granted or done, 400
 * request.malformed, 403 refused, 409 exists, 503 internal) and fills the response; a negative
 * errno only when not even a response could be built (out of memory).
 *
 * /v1/attest runs the checks of the PROTOCOL.md table in its order and stops at the first
 * failure; a refusal carries reasons only. The audit record is written and fsync()ed before
 * the function returns; if that fails the answer becomes 503 "internal" and nothing is released.
 */
#ifndef KAGI_PIPELINE_H
#define KAGI_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "audit.h"
#include "kds.h"
#include "proto.h"
#include "secret.h"
#include "snp-verify.h"
#include "store.h"
#include "vpolicy.h"

#define PIPELINE_HTTP_OK          200
#define PIPELINE_HTTP_CREATED     201
#define PIPELINE_HTTP_BAD_REQUEST 400
#define PIPELINE_HTTP_FORBIDDEN   403
#define PIPELINE_HTTP_CONFLICT    409
#define PIPELINE_HTTP_UNAVAILABLE 503

struct pipeline_ctx {
	const struct vpolicy *policy;
	const struct snp_roots *roots; /* trusted ARKs (+ intermediates) */
	struct store *store;
	const struct secret *token_key;
	unsigned token_lifetime; /* seconds */
	struct audit *audit;     /* required for attest and admin requests */
	time_t now;              /* 0: the wall clock; tests pin it */
	struct kds *kds; /* NULL: no KDS fetching; else used when the evidence has no VCEK */
};

/*
 * POST /v1/challenge. tls_client_key is the public key of the accepted client certificate, or
 * NULL if the peer's certificate is not acceptable for this route (tls.client_cert).
 * *ret_json: malloc'd response body. `audit` (may be NULL) gets the decision and reason codes
 * for the request log line; it is not written to the audit log (a challenge decides nothing).
 */
int pipeline_challenge(struct pipeline_ctx *ctx, const char *body, size_t len,
		       EVP_PKEY *tls_client_key, struct audit_record *audit, char **ret_json);

/*
 * POST /v1/attest on a decoded request. `audit` comes pre-filled by the caller (peer,
 * client_cert_sha256, route); the pipeline completes it and writes it. *ret_resp is always
 * initialised (release it with proto_attest_response_done()).
 */
int pipeline_attest(struct pipeline_ctx *ctx, const struct proto_attest_request *req,
		    EVP_PKEY *tls_client_key, struct proto_attest_response *ret_resp,
		    struct audit_record *audit);

/* POST /v1/attest from the JSON body (request.malformed when it does not decode). */
int pipeline_attest_json(struct pipeline_ctx *ctx, const char *body, size_t len,
			 EVP_PKEY *tls_client_key, struct audit_record *audit, char **ret_json);

/*
 * POST /v1/admin/keys. `authorized`: the client certificate chains to the admin CA (else 403
 * admin.forbidden). The body carries a key: it is wiped (all len bytes) once parsed.
 */
int pipeline_admin_keys(struct pipeline_ctx *ctx, bool authorized, char *body, size_t len,
			struct audit_record *audit, char **ret_json);

/* {"version":1,"result":"refused","reasons":[{"code":code,"message":msg}]} (malloc'd). */
int pipeline_refusal_json(const char *code, const char *msg, char **ret_json);

#endif
