/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.h: stateless challenge tokens (contrib/verifier/PROTOCOL.md section 1).
 *
 *   token   = base64url-nopad(payload || tag)                       130 characters
 *   payload = 0x01 || issued_at (u64 BE) || expires (u64 BE) || nonce (32) || token_id (16)
 *   tag     = HMAC-SHA256(token_key, "kagi-token-v1\0" || payload)
 *
 * Any replica holding token_key checks a token without session state; one-time use is
 * enforced through the store (store_token_use), which remembers token ids until they expire.
 * Failures set reterr->what to the protocol reason code: "token.invalid" (encoding, length,
 * MAC, version), "token.expired", "token.replayed", or "internal" (the store failed).
 */
#ifndef KAGI_TOKEN_H
#define KAGI_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "proto.h"
#include "secret.h"
#include "store.h"

#define TOKEN_KEY_SIZE     32
#define TOKEN_VERSION      1
#define TOKEN_PAYLOAD_SIZE 65
#define TOKEN_TAG_SIZE     32
#define TOKEN_RAW_SIZE     (TOKEN_PAYLOAD_SIZE + TOKEN_TAG_SIZE)
#define TOKEN_TEXT_LEN     130 /* base64url of 97 bytes, no padding */

struct token_claims {
	uint8_t version;
	uint64_t issued_at;
	uint64_t expires;
	uint8_t nonce[32];
	uint8_t id[16];
};

/* Read the 32-byte token key into locked memory. The file must be a regular file of exactly
 * 32 bytes with no group or other permission bits (0600 or 0400). */
int token_key_load(const char *path, struct secret **ret, struct kagi_err *reterr);

/* Encode claims into a token (MAC computed with key). out holds TOKEN_TEXT_LEN + 1 bytes. */
int token_encode(const struct secret *key, const struct token_claims *c,
		 char out[TOKEN_TEXT_LEN + 1]);

/* A new challenge: random nonce and token id, issued now, expiring now + lifetime. */
int token_issue(const struct secret *key, time_t now, unsigned lifetime,
		struct proto_challenge *ret);

/* Decode and authenticate (encoding, length, MAC, version): "token.invalid" on failure.
 * Does not look at the time or the store. */
int token_decode(const struct secret *key, const char *text, struct token_claims *ret,
		 struct kagi_err *reterr);

/* token_decode(), then expiry (now > expires: "token.expired"), then one-time use through
 * the store ("token.replayed"; a store failure gives "internal" and -EIO or the store's error). */
int token_check(const struct secret *key, struct store *store, const char *text, time_t now,
		struct token_claims *ret, struct kagi_err *reterr);

#endif
