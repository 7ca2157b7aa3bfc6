// SPDX-License-Identifier: Apache-2.0
/*
 * test-binding.c: the binding values of PROTOCOL.md section 2.
 *
 * Every expected value is computed here independently: the input buffer is built by hand, byte
 * by byte, with the domain tags written out as byte arrays (trailing NUL included), and hashed
 * with OpenSSL's one-shot SHA256()/SHA512().
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "binding.h"
#include "util.h"

static const uint8_t tag_report_data[20] = { 'k', 'a', 'g', 'i', '-', 'r', 'e', 'p', 'o', 'r',
					     't', '-', 'd', 'a', 't', 'a', '-', 'v', '1', 0 };
static const uint8_t tag_svsm_nonce[19] = { 'k', 'a', 'g', 'i', '-', 's', 'v', 's', 'm', '-',
					    'n', 'o', 'n', 'c', 'e', '-', 'v', '1', 0 };
static const uint8_t tag_quote[14] = { 'k', 'a', 'g', 'i', '-', 'q', 'u',
				       'o', 't', 'e', '-', 'v', '1', 0 };

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

/* A P-256 public key and the SHA-256 of its DER SubjectPublicKeyInfo, computed outside the test
 * suite with: openssl pkey -pubin -outform DER | sha256sum */
static const char fixed_pem[] = "-----BEGIN PUBLIC KEY-----\n"
				"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEh3yVxVux6/Z2emBPpBGm6Y6mQ07p\n"
				"w9jrhrGvOsYwlcmDwcpw1fL1EBXCBd/qFOPyExbVtFzxAGCMsuxP7O6Afw==\n"
				"-----END PUBLIC KEY-----\n";
static const char fixed_spki_sha256[] =
	"2614598820bccc3450c4d05a149fd2aafd2bbdf73f7d9a947fc677eb10fbd3a2";

static void test_binding_spki_hash_vector(void **state)
{
	BIO *bio = BIO_new_mem_buf(fixed_pem, -1);
	EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	uint8_t h[32], want[32];

	(void)state;
	assert_non_null(k);
	assert_int_equal(hex_decode(fixed_spki_sha256, want, 32), 0);
	assert_int_equal(binding_spki_hash(k, h), 0);
	assert_memory_equal(h, want, 32);
	EVP_PKEY_free(k);
	BIO_free(bio);
}

/* A freshly generated key: DER SubjectPublicKeyInfo through the OSSL_ENCODER API. */
static void test_binding_spki_hash_generated(void **state)
{
	const char *curves[] = { "P-384", "P-256" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(curves); i++) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		OSSL_ENCODER_CTX *ectx;
		unsigned char *der = NULL;
		size_t der_len = 0;
		uint8_t h[32], want[32];

		assert_non_null(k);
		ectx = OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_PUBLIC_KEY, "DER",
						     "SubjectPublicKeyInfo", NULL);
		assert_non_null(ectx);
		assert_int_equal(OSSL_ENCODER_to_data(ectx, &der, &der_len), 1);
		SHA256(der, der_len, want);
		assert_int_equal(binding_spki_hash(k, h), 0);
		assert_memory_equal(h, want, 32);
		OPENSSL_free(der);
		OSSL_ENCODER_CTX_free(ectx);
		EVP_PKEY_free(k);
	}
}

static void test_binding_spki_hash_bad_key(void **state)
{
	EVP_PKEY *empty = EVP_PKEY_new();
	uint8_t h[32];

	(void)state;
	memset(h, 0xaa, sizeof(h));
	assert_int_equal(binding_spki_hash(NULL, h), -EINVAL);
	assert_int_equal(binding_spki_hash(empty, h), -EINVAL);
	for (size_t i = 0; i < sizeof(h); i++)
		assert_int_equal(h[i], 0xaa); /* untouched on failure */
	EVP_PKEY_free(empty);
}

static void test_binding_report_data(void **state)
{
	uint8_t nonce[32], spki[32], key[97], buf[20 + 32 + 32 + 32], want[64], got[64];

	(void)state;
	fill(nonce, sizeof(nonce), 1);
	fill(spki, sizeof(spki), 2);
	fill(key, sizeof(key), 3);
	memcpy(buf, tag_report_data, 20);
	memcpy(buf + 20, nonce, 32);
	SHA256(key, sizeof(key), buf + 52);
	memcpy(buf + 84, spki, 32);
	SHA512(buf, sizeof(buf), want);
	binding_report_data(nonce, key, sizeof(key), spki, got);
	assert_memory_equal(got, want, 64);

	/* each input changes the output */
	nonce[0] ^= 1;
	binding_report_data(nonce, key, sizeof(key), spki, got);
	assert_memory_not_equal(got, want, 64);
	nonce[0] ^= 1;
	binding_report_data(nonce, key, sizeof(key) - 1, spki, got);
	assert_memory_not_equal(got, want, 64);
	spki[31] ^= 1;
	binding_report_data(nonce, key, sizeof(key), spki, got);
	assert_memory_not_equal(got, want, 64);
}

/* The tag is hashed with its NUL: without it the value must differ. */
static void test_binding_report_data_bad_tag_without_nul(void **state)
{
	uint8_t nonce[32], spki[32], key[10], buf[19 + 32 + 32 + 32], without[64], got[64];

	(void)state;
	fill(nonce, sizeof(nonce), 4);
	fill(spki, sizeof(spki), 5);
	fill(key, sizeof(key), 6);
	memcpy(buf, tag_report_data, 19);
	memcpy(buf + 19, nonce, 32);
	SHA256(key, sizeof(key), buf + 51);
	memcpy(buf + 83, spki, 32);
	SHA512(buf, sizeof(buf), without);
	binding_report_data(nonce, key, sizeof(key), spki, got);
	assert_memory_not_equal(got, without, 64);
}

static void test_binding_svsm_nonce(void **state)
{
	uint8_t nonce[32], spki[32], buf[19 + 32 + 32], want[64], got[64];

	(void)state;
	fill(nonce, sizeof(nonce), 9);
	fill(spki, sizeof(spki), 10);
	memcpy(buf, tag_svsm_nonce, 19);
	memcpy(buf + 19, nonce, 32);
	memcpy(buf + 51, spki, 32);
	SHA512(buf, sizeof(buf), want);
	binding_svsm_nonce(nonce, spki, got);
	assert_memory_equal(got, want, 64);
	spki[0] ^= 0x80;
	binding_svsm_nonce(nonce, spki, got);
	assert_memory_not_equal(got, want, 64);
}

static void test_binding_svsm_report_data(void **state)
{
	uint8_t nonce64[64], manifest[314], buf[64 + 314], want[64], got[64];

	(void)state;
	fill(nonce64, sizeof(nonce64), 11);
	fill(manifest, sizeof(manifest), 12);
	memcpy(buf, nonce64, 64);
	memcpy(buf + 64, manifest, sizeof(manifest));
	SHA512(buf, sizeof(buf), want);
	binding_svsm_report_data(nonce64, manifest, sizeof(manifest), got);
	assert_memory_equal(got, want, 64);
	/* empty manifest: SHA-512 of the nonce alone */
	SHA512(nonce64, 64, want);
	binding_svsm_report_data(nonce64, NULL, 0, got);
	assert_memory_equal(got, want, 64);
}

static void test_binding_quote_qualifying(void **state)
{
	uint8_t nonce[32], spki[32], buf[14 + 32 + 32], want[32], got[32];

	(void)state;
	fill(nonce, sizeof(nonce), 13);
	fill(spki, sizeof(spki), 14);
	memcpy(buf, tag_quote, 14);
	memcpy(buf + 14, nonce, 32);
	memcpy(buf + 46, spki, 32);
	SHA256(buf, sizeof(buf), want);
	binding_quote_qualifying(nonce, spki, got);
	assert_memory_equal(got, want, 32);
	nonce[31] ^= 1;
	binding_quote_qualifying(nonce, spki, got);
	assert_memory_not_equal(got, want, 32);
}

/* The four values for one (nonce, spki) are pairwise different (domain separation). */
static void test_binding_domains_differ(void **state)
{
	uint8_t nonce[32], spki[32], a[64], b[64], c[32];

	(void)state;
	fill(nonce, sizeof(nonce), 20);
	fill(spki, sizeof(spki), 21);
	binding_report_data(nonce, NULL, 0, spki, a);
	binding_svsm_nonce(nonce, spki, b);
	binding_quote_qualifying(nonce, spki, c);
	assert_memory_not_equal(a, b, 64);
	assert_memory_not_equal(a, c, 32);
	assert_memory_not_equal(b, c, 32);
}

static void test_binding_boot_phase_event(void **state)
{
	static const uint8_t want[] = { 'k', 'a', 'g', 'i', '-', 'b', 'o', 'o', 't',
					'-', 'p', 'h', 'a', 's', 'e', '-', 'v', '1',
					0,   'u', 'n', 'l', 'o', 'c', 'k', 'e', 'd' };

	(void)state;
	assert_int_equal(BINDING_BOOT_PHASE_EVENT_LEN, sizeof(want));
	assert_memory_equal(binding_boot_phase_event, want, sizeof(want));
	assert_int_equal(binding_boot_phase_event[sizeof(want)], 0);
	assert_int_equal(BINDING_BOOT_PHASE_PCR, 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_spki_hash_vector),
		cmocka_unit_test(test_binding_spki_hash_generated),
		cmocka_unit_test(test_binding_spki_hash_bad_key),
		cmocka_unit_test(test_binding_report_data),
		cmocka_unit_test(test_binding_report_data_bad_tag_without_nul),
		cmocka_unit_test(test_binding_svsm_nonce),
		cmocka_unit_test(test_binding_svsm_report_data),
		cmocka_unit_test(test_binding_quote_qualifying),
		cmocka_unit_test(test_binding_domains_differ),
		cmocka_unit_test(test_binding_boot_phase_event),
	};

	return cmocka_run_group_tests_name("binding", tests, NULL, NULL);
}
