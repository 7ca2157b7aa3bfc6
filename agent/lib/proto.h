/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto.h: protocol v1 messages (contrib/verifier/PROTOCOL.md) to and from JSON.
 * Decoders take untrusted text: size caps, json-c strict mode with a depth limit, every member
 * type-checked, unknown members rejected, base64 decoded with exact size limits. Decoded blobs
 * are heap copies owned by the struct; *_done() frees (and wipes) them.
 */
#ifndef KAGI_PROTO_H
#define KAGI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tpm-quote.h"

#define PROTO_VERSION      1
#define PROTO_MAX_REQUEST  (1024 * 1024)
#define PROTO_MAX_RESPONSE (64 * 1024)
#define PROTO_MAX_DEPTH    16
#define PROTO_MAX_VOLUMES  16
#define PROTO_MAX_REASONS  16
#define PROTO_TOKEN_MAX    160
#define PROTO_UUID_LEN     36

struct proto_blob {
	uint8_t *data;
	size_t len;
};

struct proto_challenge {
	uint8_t nonce[32];
	char token[PROTO_TOKEN_MAX + 1];
	uint64_t expires;
};

struct proto_evidence {
	struct proto_blob snp_report, snp_certs; /* certs optional (len 0) */
	struct proto_blob ecdh_public;           /* direct path only */
	bool has_svsm;
	struct proto_blob svsm_report, svsm_manifest, svsm_certs;
	bool has_tpm;
	struct proto_blob ek_public, ak_public, quote_attest, quote_sig,
		eventlog; /* eventlog optional */
	struct tpm_pcr_values pcrs;
};

struct proto_attest_request {
	char token[PROTO_TOKEN_MAX + 1];
	size_t nvolumes;
	char volumes[PROTO_MAX_VOLUMES][PROTO_UUID_LEN + 1];
	struct proto_evidence ev;
};

struct proto_sealed_key {
	char volume[PROTO_UUID_LEN + 1];
	uint8_t iv[12];
	uint8_t tag[16];
	struct proto_blob ciphertext;
};

struct proto_reason {
	char code[64];
	char message[512];
};

struct proto_attest_response {
	bool granted;
	char group[64];
	bool has_credential;
	struct proto_blob cred_blob,
		cred_secret; /* marshaled TPM2B_ID_OBJECT / TPM2B_ENCRYPTED_SECRET */
	bool has_ecdh;
	struct proto_blob ecdh_public; /* uncompressed EC point */
	size_t nkeys;
	struct proto_sealed_key keys[PROTO_MAX_VOLUMES];
	size_t nreasons;
	struct proto_reason reasons[PROTO_MAX_REASONS];
};

/* A lowercase canonical UUID (8-4-4-4-12 hex digits). */
bool proto_uuid_valid(const char *s);

/* Encoders return a malloc'd NUL-terminated JSON string. */
int proto_challenge_request_encode(char **ret);
int proto_challenge_request_decode(const char *json, size_t len, struct kagi_err *reterr);
int proto_challenge_encode(const struct proto_challenge *c, char **ret);
int proto_challenge_decode(const char *json, size_t len, struct proto_challenge *ret,
			   struct kagi_err *reterr);
int proto_attest_request_encode(const struct proto_attest_request *req, char **ret);
int proto_attest_request_decode(const char *json, size_t len, struct proto_attest_request *ret,
				struct kagi_err *reterr);
void proto_attest_request_done(struct proto_attest_request *req);
int proto_attest_response_encode(const struct proto_attest_response *resp, char **ret);
int proto_attest_response_decode(const char *json, size_t len, struct proto_attest_response *ret,
				 struct kagi_err *reterr);
void proto_attest_response_done(struct proto_attest_response *resp);
/* Add a refusal reason (truncating long messages); ignores more than PROTO_MAX_REASONS. */
void proto_response_add_reason(struct proto_attest_response *resp, const char *code,
			       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Base64 (RFC 4648 section 4, padded), strict: no whitespace, exact padding. */
char *proto_b64_encode(const uint8_t *buf, size_t len);
int proto_b64_decode(const char *text, size_t max, uint8_t **ret, size_t *ret_len);

#endif
