// SPDX-License-Identifier: Apache-2.0
/*
 * binding.c: the values that bind evidence to one challenge and one TLS session
 * (contrib/verifier/PROTOCOL.md section 2). Every domain tag is hashed with its trailing NUL.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "binding.h"
#include "log.h"

/*
 * PROTOCOL.md section 4: SHA-256 of "kagi-boot-phase-v1\0unlocked". The notation shows every NUL
 * that is part of the data, so this is 18 + 1 + 8 = 27 bytes; the literal's own terminating NUL
 * (index 27) is not part of the event.
 */
const char binding_boot_phase_event[BINDING_BOOT_PHASE_EVENT_LEN + 1] =
	"kagi-boot-phase-v1\0unlocked";
_Static_assert(sizeof("kagi-boot-phase-v1\0unlocked") - 1 == BINDING_BOOT_PHASE_EVENT_LEN,
	       "BINDING_BOOT_PHASE_EVENT_LEN must be the length without the literal's final NUL");

/* Domain tags, each hashed with its terminating NUL (sizeof includes it). */
static const char tag_report_data[] = "kagi-report-data-v1";
static const char tag_svsm_nonce[] = "kagi-svsm-nonce-v1";
static const char tag_quote[] = "kagi-quote-v1";

struct part {
	const void *p;
	size_t len;
};

/* Hash the concatenation of parts with SHA-256 or SHA-512. These digests cannot fail on
 * in-memory input short of memory exhaustion, and the functions that use them have no error
 * return in binding.h: on an OpenSSL failure the output is filled with 0xff so it never equals
 * an honest binding, and the failure is logged at debug. */
static void digest_parts(const EVP_MD *md, const struct part *parts, size_t n, uint8_t *out,
			 size_t out_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	bool ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1;

	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == out_len;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		log_debug("binding: digest failed: %s", ERR_reason_error_string(ERR_peek_error()));
		ERR_clear_error();
		memset(out, 0xff, out_len);
	}
}

int binding_spki_hash(EVP_PKEY *key, uint8_t ret[32])
{
	unsigned char *der = NULL;
	int len;

	if (!key)
		return -EINVAL;
	len = i2d_PUBKEY(key, &der);
	if (len <= 0) {
		log_debug("binding: i2d_PUBKEY failed: %s",
			  ERR_reason_error_string(ERR_peek_error()));
		ERR_clear_error();
		return -EINVAL;
	}
	if (SHA256(der, (size_t)len, ret) == NULL) {
		OPENSSL_free(der);
		ERR_clear_error();
		return -EIO;
	}
	OPENSSL_free(der);
	return 0;
}

void binding_report_data(const uint8_t nonce[32], const uint8_t *key_public, size_t key_len,
			 const uint8_t spki_hash[32], uint8_t ret[64])
{
	uint8_t key_hash[32];
	struct part parts[] = {
		{ tag_report_data, sizeof(tag_report_data) },
		{ nonce, BINDING_NONCE_SIZE },
		{ key_hash, sizeof(key_hash) },
		{ spki_hash, 32 },
	};
	struct part kp = { key_public, key_len };

	digest_parts(EVP_sha256(), &kp, 1, key_hash, sizeof(key_hash));
	digest_parts(EVP_sha512(), parts, sizeof(parts) / sizeof(parts[0]), ret, 64);
}

void binding_svsm_nonce(const uint8_t nonce[32], const uint8_t spki_hash[32], uint8_t ret[64])
{
	struct part parts[] = {
		{ tag_svsm_nonce, sizeof(tag_svsm_nonce) },
		{ nonce, BINDING_NONCE_SIZE },
		{ spki_hash, 32 },
	};

	digest_parts(EVP_sha512(), parts, sizeof(parts) / sizeof(parts[0]), ret, 64);
}

void binding_svsm_report_data(const uint8_t nonce64[64], const uint8_t *manifest, size_t len,
			      uint8_t ret[64])
{
	struct part parts[] = {
		{ nonce64, 64 },
		{ manifest, len },
	};

	digest_parts(EVP_sha512(), parts, sizeof(parts) / sizeof(parts[0]), ret, 64);
}

void binding_quote_qualifying(const uint8_t nonce[32], const uint8_t spki_hash[32], uint8_t ret[32])
{
	struct part parts[] = {
		{ tag_quote, sizeof(tag_quote) },
		{ nonce, BINDING_NONCE_SIZE },
		{ spki_hash, 32 },
	};

	digest_parts(EVP_sha256(), parts, sizeof(parts) / sizeof(parts[0]), ret, 32);
}
