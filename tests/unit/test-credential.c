// SPDX-License-Identifier: Apache-2.0
/*
 * test-credential.c: key release crypto.
 *
 * MakeCredential is checked against an independent implementation of the TPM's side
 * (ActivateCredential math, written here with different OpenSSL entry points: RSA-OAEP decrypt
 * with the EK private key, KDFa through OpenSSL's KBKDF, one-shot HMAC(), AES-128-CFB decrypt).
 * That implementation is itself validated on blobs made by tpm2-tools (tpm2_makecredential
 * -T none) when the tool is installed. With KAGI_TEST_TCTI set (e.g. "swtpm:port=2321"), a blob
 * is also activated by a real TPM through tpm2-tools (tpm2_createek/createak/activatecredential).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "credential.h"
#include "proto.h"
#include "reader.h"
#include "tpm-quote.h"
#include "util.h"

static EVP_PKEY *ek_key; /* RSA-2048, the test's EK */
static TPMT_PUBLIC ek_pub;

/* PolicySecret(TPM_RH_ENDORSEMENT), the L-1 EK template's authPolicy */
static const char ek_policy_hex[] =
	"837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";

/* The RSA-2048 EK template L-1 (TCG EK Credential Profile) with the modulus of k. */
static void ek_template(EVP_PKEY *k, TPMT_PUBLIC *p)
{
	BIGNUM *n = NULL;

	memset(p, 0, sizeof(*p));
	p->type = TPM2_ALG_RSA;
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
			      TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
			      TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	assert_int_equal(p->objectAttributes, 0x000300b2);
	p->authPolicy.size = 32;
	assert_int_equal(hex_decode(ek_policy_hex, p->authPolicy.buffer, 32), 0);
	p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
	p->parameters.rsaDetail.symmetric.keyBits.aes = 128;
	p->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	p->parameters.rsaDetail.keyBits = 2048;
	p->parameters.rsaDetail.exponent = 0;
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(BN_bn2binpad(n, p->unique.rsa.buffer, 256), 256);
	p->unique.rsa.size = 256;
	BN_free(n);
}

static int setup(void **state)
{
	(void)state;
	setenv("TSS2_LOG", "all+none", 0);
	ek_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!ek_key)
		return -1;
	ek_template(ek_key, &ek_pub);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(ek_key);
	return 0;
}

static void ak_name_fill(uint8_t name[34], uint8_t seed)
{
	name[0] = 0x00;
	name[1] = 0x0b;
	for (size_t i = 2; i < 34; i++)
		name[i] = (uint8_t)(seed * 31 + i);
}

/* ---- the independent TPM-side implementation ------------------------------------------------- */

/* KDFa through OpenSSL's SP 800-108 KBKDF: counter mode, HMAC, 32-bit counter, label, a 0x00
 * separator, context, 32-bit L. The TPM's "label with its NUL" is label || separator. */
static void kbkdf(const char *md, const uint8_t *key, size_t key_len, const char *label,
		  const uint8_t *ctx, size_t ctx_len, unsigned bits, uint8_t *out)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
	OSSL_PARAM p[7];
	size_t i = 0;

	assert_non_null(kctx);
	p[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"COUNTER", 0);
	p[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0);
	p[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	p[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
	p[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label,
						   strlen(label));
	p[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ctx, ctx_len);
	p[i] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_KDF_derive(kctx, out, bits / 8, p), 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

enum activate_result {
	ACT_OK = 0,
	ACT_SEED,
	ACT_SHAPE,
	ACT_HMAC,
	ACT_SIZE
};

/* TPM2_ActivateCredential (Part 1 section 24, Part 3 section 12.5) with the EK private key. */
static enum activate_result activate(EVP_PKEY *ek, const uint8_t *name, size_t name_len,
				     const TPM2B_ID_OBJECT *blob,
				     const TPM2B_ENCRYPTED_SECRET *secret, uint8_t *out,
				     size_t *out_len)
{
	static const uint8_t zero_iv[16];
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(ek, NULL);
	uint8_t seed[512], sym[16], hk[32], mac[32], buf[256], plain[256];
	size_t seed_len = sizeof(seed), enc_len;
	unsigned int mac_len = 0;
	unsigned char *label = OPENSSL_malloc(9);
	EVP_CIPHER_CTX *c;
	int n = 0, m = 0;

	memcpy(label, "IDENTITY\0", 9);
	assert_int_equal(EVP_PKEY_decrypt_init(pctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, label, 9), 1);
	if (EVP_PKEY_decrypt(pctx, seed, &seed_len, secret->secret, secret->size) != 1 ||
	    seed_len != 32) {
		EVP_PKEY_CTX_free(pctx);
		return ACT_SEED;
	}
	EVP_PKEY_CTX_free(pctx);

	kbkdf("SHA256", seed, 32, "STORAGE", name, name_len, 128, sym);
	kbkdf("SHA256", seed, 32, "INTEGRITY", NULL, 0, 256, hk);

	/* credentialBlob = u16 size || integrityHMAC || encIdentity */
	if (blob->size < 2 + 32 + 2 || blob->credential[0] != 0 || blob->credential[1] != 32)
		return ACT_SHAPE;
	enc_len = blob->size - 34u;
	memcpy(buf, blob->credential + 34, enc_len);
	memcpy(buf + enc_len, name, name_len);
	HMAC(EVP_sha256(), hk, 32, buf, enc_len + name_len, mac, &mac_len);
	if (mac_len != 32 || memcmp(mac, blob->credential + 2, 32) != 0)
		return ACT_HMAC;

	c = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_128_cfb128(), NULL, sym, zero_iv), 1);
	assert_int_equal(EVP_DecryptUpdate(c, plain, &n, blob->credential + 34, (int)enc_len), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, plain + n, &m), 1);
	EVP_CIPHER_CTX_free(c);
	if ((size_t)(n + m) != enc_len || ((size_t)plain[0] << 8 | plain[1]) != enc_len - 2)
		return ACT_SIZE;
	memcpy(out, plain + 2, enc_len - 2);
	*out_len = enc_len - 2;
	return ACT_OK;
}

/* ---- KDFa ------------------------------------------------------------------------------------ */

static void test_credential_kdfa_vectors(void **state)
{
	static const struct {
		TPMI_ALG_HASH alg;
		const char *md;
		const char *label;
		size_t ulen, vlen;
		unsigned bits;
	} v[] = {
		{ TPM2_ALG_SHA256, "SHA256", "STORAGE", 34, 0, 128 },
		{ TPM2_ALG_SHA256, "SHA256", "INTEGRITY", 0, 0, 256 },
		{ TPM2_ALG_SHA256, "SHA256", "DUPLICATE", 20, 13, 520 }, /* 3 blocks */
		{ TPM2_ALG_SHA384, "SHA384", "STORAGE", 50, 0, 256 },
		{ TPM2_ALG_SHA1, "SHA1", "ATH", 7, 9, 1024 },
		{ TPM2_ALG_SHA512, "SHA512", "CFB", 0, 64, 1032 },
	};
	uint8_t key[48], ctx[128], got[160], want[160];

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0xa0 ^ i);
	for (size_t i = 0; i < sizeof(ctx); i++)
		ctx[i] = (uint8_t)(3 * i + 1);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		memset(got, 0, sizeof(got));
		assert_int_equal(credential_kdfa(v[i].alg, key, 32, v[i].label, ctx, v[i].ulen,
						 ctx + v[i].ulen, v[i].vlen, v[i].bits, got),
				 0);
		/* contextU || contextV is one contiguous context for KBKDF */
		kbkdf(v[i].md, key, 32, v[i].label, ctx, v[i].ulen + v[i].vlen, v[i].bits, want);
		assert_memory_equal(got, want, v[i].bits / 8);
	}
}

/* The same computation written out: HMAC(key, u32(1) || "STORAGE\0" || U || u32(128)). */
static void test_credential_kdfa_by_hand(void **state)
{
	uint8_t key[32], u[34], in[4 + 8 + 34 + 4], mac[32], got[16];
	unsigned int ml = 0;

	(void)state;
	memset(key, 0x42, sizeof(key));
	ak_name_fill(u, 9);
	memcpy(in, "\0\0\0\1", 4);
	memcpy(in + 4, "STORAGE", 8); /* with the NUL */
	memcpy(in + 12, u, 34);
	memcpy(in + 46, "\0\0\0\x80", 4);
	HMAC(EVP_sha256(), key, 32, in, sizeof(in), mac, &ml);
	assert_int_equal(
		credential_kdfa(TPM2_ALG_SHA256, key, 32, "STORAGE", u, 34, NULL, 0, 128, got), 0);
	assert_memory_equal(got, mac, 16);
}

static void test_credential_kdfa_bad_args(void **state)
{
	uint8_t key[32] = { 1 }, out[64];

	(void)state;
	assert_int_equal(credential_kdfa(TPM2_ALG_SHA256, key, 32, "X", NULL, 0, NULL, 0, 0, out),
			 -EINVAL);
	assert_int_equal(credential_kdfa(TPM2_ALG_SHA256, key, 32, "X", NULL, 0, NULL, 0, 12, out),
			 -EINVAL);
	assert_int_equal(
		credential_kdfa(TPM2_ALG_SM3_256, key, 32, "X", NULL, 0, NULL, 0, 128, out),
		-EINVAL);
	assert_int_equal(
		credential_kdfa(TPM2_ALG_SHA256, key, 32, NULL, NULL, 0, NULL, 0, 128, out),
		-EINVAL);
	assert_int_equal(credential_kdfa(TPM2_ALG_SHA256, key, 32, "X", NULL, 5, NULL, 0, 128, out),
			 -EINVAL);
	assert_int_equal(
		credential_kdfa(TPM2_ALG_SHA256, key, 32, "X", NULL, 0, NULL, 0, 100000, out),
		-EINVAL);
}

/* ---- MakeCredential -------------------------------------------------------------------------- */

static void test_credential_make_activate(void **state)
{
	uint8_t name[34], cred[32], out[64];
	size_t out_len = 0;

	(void)state;
	ak_name_fill(name, 1);
	for (size_t len = 1; len <= 32; len += 31) {
		TPM2B_ID_OBJECT blob;
		TPM2B_ENCRYPTED_SECRET secret;
		struct kagi_err e = { 0 };

		assert_int_equal(RAND_bytes(cred, (int)len), 1);
		assert_int_equal(
			credential_make(&ek_pub, name, sizeof(name), cred, len, &blob, &secret, &e),
			0);
		assert_int_equal(blob.size, 2 + 32 + 2 + len);
		assert_int_equal(secret.size, 256);
		assert_int_equal(
			activate(ek_key, name, sizeof(name), &blob, &secret, out, &out_len),
			ACT_OK);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, cred, len);
	}
}

/* The TPM refuses the blob for any other object Name (the HMAC covers it). */
static void test_credential_make_bad_other_name(void **state)
{
	uint8_t name[34], other[34], cred[32] = { 7 }, out[64];
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET secret;
	size_t out_len = 0;

	(void)state;
	ak_name_fill(name, 2);
	memcpy(other, name, sizeof(name));
	other[33] ^= 1;
	assert_int_equal(credential_make(&ek_pub, name, 34, cred, 32, &blob, &secret, NULL), 0);
	assert_int_equal(activate(ek_key, other, 34, &blob, &secret, out, &out_len), ACT_HMAC);
	/* and for a tampered blob */
	blob.credential[40] ^= 1;
	assert_int_equal(activate(ek_key, name, 34, &blob, &secret, out, &out_len), ACT_HMAC);
}

/* Another EK cannot recover the seed. */
static void test_credential_make_bad_other_ek(void **state)
{
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	uint8_t name[34], cred[16] = { 1 }, out[64];
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET secret;
	size_t out_len = 0;

	(void)state;
	assert_non_null(other);
	ak_name_fill(name, 3);
	assert_int_equal(credential_make(&ek_pub, name, 34, cred, 16, &blob, &secret, NULL), 0);
	assert_int_equal(activate(other, name, 34, &blob, &secret, out, &out_len), ACT_SEED);
	EVP_PKEY_free(other);
}

static void expect_make_fail(const TPMT_PUBLIC *ek, const uint8_t *name, size_t name_len,
			     size_t cred_len, const char *what)
{
	uint8_t cred[64] = { 0 };
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET secret;
	struct kagi_err e = { 0 };

	memset(&blob, 0x5a, sizeof(blob));
	assert_int_equal(credential_make(ek, name, name_len, cred, cred_len, &blob, &secret, &e),
			 -EINVAL);
	assert_string_equal(e.what, what);
	assert_int_equal(blob.size, 0x5a5a); /* untouched */
}

static void test_credential_make_bad_ek(void **state)
{
	uint8_t name[34];
	TPMT_PUBLIC p;

	(void)state;
	ak_name_fill(name, 4);
	p = ek_pub;
	p.type = TPM2_ALG_ECC;
	expect_make_fail(&p, name, 34, 32, "credential.ek");
	p = ek_pub;
	p.nameAlg = TPM2_ALG_SHA1;
	expect_make_fail(&p, name, 34, 32, "credential.ek");
	p = ek_pub;
	p.parameters.rsaDetail.symmetric.keyBits.aes = 256;
	expect_make_fail(&p, name, 34, 32, "credential.ek");
	p = ek_pub;
	p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CBC;
	expect_make_fail(&p, name, 34, 32, "credential.ek");
	p = ek_pub;
	p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	expect_make_fail(&p, name, 34, 32, "credential.ek");
	p = ek_pub;
	p.parameters.rsaDetail.keyBits = 3072;
	expect_make_fail(&p, name, 34, 32, "credential.ek");
	p = ek_pub;
	p.unique.rsa.size = 255;
	expect_make_fail(&p, name, 34, 32, "credential.ek");
	p = ek_pub;
	p.objectAttributes &= ~TPMA_OBJECT_DECRYPT;
	p.objectAttributes |= TPMA_OBJECT_SIGN_ENCRYPT;
	expect_make_fail(&p, name, 34, 32, "credential.ek");
}

static void test_credential_make_bad_size(void **state)
{
	uint8_t name[34];

	(void)state;
	ak_name_fill(name, 5);
	expect_make_fail(&ek_pub, name, 34, 0, "credential.size");
	expect_make_fail(&ek_pub, name, 34, 33, "credential.size");
}

static void test_credential_make_bad_ak_name(void **state)
{
	uint8_t name[68];

	(void)state;
	ak_name_fill(name, 6);
	expect_make_fail(&ek_pub, name, 33, 32, "credential.ak_name");
	expect_make_fail(&ek_pub, name, 35, 32, "credential.ak_name");
	expect_make_fail(&ek_pub, name, 1, 32, "credential.ak_name");
	name[1] = 0x99; /* unknown nameAlg */
	expect_make_fail(&ek_pub, name, 34, 32, "credential.ak_name");
}

/* Marshaling for the wire and back, and the refusal of trailing or truncated bytes. */
static void test_credential_marshal_roundtrip(void **state)
{
	uint8_t name[34], cred[32] = { 9 };
	TPM2B_ID_OBJECT blob, blob2;
	TPM2B_ENCRYPTED_SECRET secret, secret2;
	struct proto_blob b = { 0 }, s = { 0 }, t;
	struct kagi_err e = { 0 };
	uint8_t *big;

	(void)state;
	ak_name_fill(name, 7);
	assert_int_equal(credential_make(&ek_pub, name, 34, cred, 32, &blob, &secret, NULL), 0);
	assert_int_equal(credential_marshal(&blob, &secret, &b, &s), 0);
	assert_int_equal(b.len, 2 + blob.size);
	assert_int_equal(s.len, 2 + 256);
	assert_int_equal(credential_unmarshal(&b, &s, &blob2, &secret2, &e), 0);
	assert_int_equal(blob2.size, blob.size);
	assert_memory_equal(blob2.credential, blob.credential, blob.size);
	assert_memory_equal(secret2.secret, secret.secret, 256);

	/* one byte too many */
	big = malloc(s.len + 1);
	memcpy(big, s.data, s.len);
	big[s.len] = 0;
	t = (struct proto_blob){ big, s.len + 1 };
	assert_int_equal(credential_unmarshal(&b, &t, &blob2, &secret2, &e), -EBADMSG);
	assert_string_equal(e.what, "credential.secret");
	/* one byte short */
	t = (struct proto_blob){ b.data, b.len - 1 };
	assert_int_equal(credential_unmarshal(&t, &s, &blob2, &secret2, &e), -EBADMSG);
	assert_string_equal(e.what, "credential.blob");
	/* empty TPM2B */
	big[0] = big[1] = 0;
	t = (struct proto_blob){ big, 2 };
	assert_int_equal(credential_unmarshal(&t, &s, &blob2, &secret2, &e), -EBADMSG);
	assert_string_equal(e.what, "credential.blob");
	free(big);
	free(b.data);
	free(s.data);
}

/* ---- tpm2-tools ---------------------------------------------------------------------------- */

static bool have_tool(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void write_bytes(const char *dir, const char *name, const void *p, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	fclose(f);
}

static uint8_t *read_bytes(const char *dir, const char *name, size_t *len)
{
	char path[512];
	uint8_t *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (read_file(path, 1 << 20, &buf, len) < 0)
		fail_msg("cannot read %s", path);
	return buf;
}

static void rm_dir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The tpm2-tools credential file: u32 0xBADCC0DE, u32 version 1, TPM2B_ID_OBJECT,
 * TPM2B_ENCRYPTED_SECRET (all big-endian; tools/tpm2_makecredential.c). */
static void tools_cred_read(const uint8_t *buf, size_t len, TPM2B_ID_OBJECT *blob,
			    TPM2B_ENCRYPTED_SECRET *secret)
{
	size_t off = 8;

	assert_true(len > 8);
	assert_int_equal(get_be32(buf), 0xbadcc0de);
	assert_int_equal(get_be32(buf + 4), 1);
	assert_int_equal(Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(buf, len, &off, blob), TSS2_RC_SUCCESS);
	assert_int_equal(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(buf, len, &off, secret),
			 TSS2_RC_SUCCESS);
	assert_int_equal(off, len);
}

static void tools_cred_write(const char *dir, const char *name, const TPM2B_ID_OBJECT *blob,
			     const TPM2B_ENCRYPTED_SECRET *secret)
{
	uint8_t buf[8 + sizeof(*blob) + sizeof(*secret)] = { 0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1 };
	size_t off = 8;

	assert_int_equal(Tss2_MU_TPM2B_ID_OBJECT_Marshal(blob, buf, sizeof(buf), &off),
			 TSS2_RC_SUCCESS);
	assert_int_equal(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(secret, buf, sizeof(buf), &off),
			 TSS2_RC_SUCCESS);
	write_bytes(dir, name, buf, off);
}

/*
 * tpm2_makecredential -T none on the same EK public, AK Name and credential. The seed is random
 * so the outputs differ; both must have the same structure, and the independent activation above
 * must open tpm2-tools' blob (which validates it) and ours.
 */
static void test_credential_make_vs_tpm2_tools(void **state)
{
	char dir[] = "/tmp/kagi-test-cred-XXXXXX", cmd[1024], hex[2 * 34 + 1];
	uint8_t name[34], cred[32], out[64], pub[sizeof(TPM2B_PUBLIC)], *file;
	TPM2B_PUBLIC p2b = { .size = 0, .publicArea = ek_pub };
	TPM2B_ID_OBJECT tblob, blob;
	TPM2B_ENCRYPTED_SECRET tsecret, secret;
	size_t off = 0, out_len = 0, len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	ak_name_fill(name, 8);
	assert_int_equal(RAND_bytes(cred, sizeof(cred)), 1);
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&p2b, pub, sizeof(pub), &off),
			 TSS2_RC_SUCCESS);
	write_bytes(dir, "ek.pub", pub, off);
	write_bytes(dir, "cred.bin", cred, sizeof(cred));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && tpm2_makecredential -T none -u ek.pub -s cred.bin -n %s "
		 "-o tools.out >tools.log 2>&1",
		 dir, hex_encode(name, sizeof(name), hex));
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s/tools.log' >&2", dir);
		(void)!system(cmd);
		rm_dir(dir);
		fail_msg("tpm2_makecredential failed");
	}
	file = read_bytes(dir, "tools.out", &len);
	tools_cred_read(file, len, &tblob, &tsecret);
	free(file);
	rm_dir(dir);

	/* the test's ActivateCredential opens tpm2-tools' blob... */
	assert_int_equal(activate(ek_key, name, 34, &tblob, &tsecret, out, &out_len), ACT_OK);
	assert_int_equal(out_len, sizeof(cred));
	assert_memory_equal(out, cred, sizeof(cred));
	/* ...and ours, which has the same shape */
	assert_int_equal(
		credential_make(&ek_pub, name, 34, cred, sizeof(cred), &blob, &secret, NULL), 0);
	assert_int_equal(blob.size, tblob.size);
	assert_int_equal(secret.size, tsecret.size);
	assert_memory_equal(blob.credential, tblob.credential, 2);              /* u16 32 */
	assert_memory_not_equal(blob.credential + 2, tblob.credential + 2, 32); /* random seed */
	assert_int_equal(activate(ek_key, name, 34, &blob, &secret, out, &out_len), ACT_OK);
	assert_memory_equal(out, cred, sizeof(cred));
}

/* A real TPM (swtpm or hardware through KAGI_TEST_TCTI): EK with the L-1 template and an AK made
 * by tpm2-tools, our blob activated by the TPM; a blob for another Name is refused. */
static void test_credential_make_real_tpm(void **state)
{
	const char *tcti = getenv("KAGI_TEST_TCTI");
	char dir[] = "/tmp/kagi-test-tpm-XXXXXX", cmd[2048];
	uint8_t cred[32], *ekb, *akb, *nameb, *act, akname[TPM_NAME_MAX];
	size_t ekl = 0, akl = 0, namel = 0, actl = 0, aknl = 0;
	TPMT_PUBLIC ek, ak;
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET secret;
	struct kagi_err e = { 0 };
	static const char activate_cmd[] =
		"cd '%s' && tpm2_startauthsession --policy-session -S s.ctx >>tpm.log 2>&1 && "
		"tpm2_policysecret -S s.ctx -c e >>tpm.log 2>&1 && "
		"tpm2_activatecredential -c ak.ctx -C ek.ctx -i %s -o %s -P session:s.ctx "
		">>tpm.log 2>&1; rc=$?; tpm2_flushcontext s.ctx >/dev/null 2>&1; "
		"tpm2_flushcontext -t >/dev/null 2>&1; exit $rc";

	(void)state;
	assert_non_null(tcti);
	assert_int_equal(setenv("TPM2TOOLS_TCTI", tcti, 1), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && tpm2_createek -c ek.ctx -G rsa -u ek.pub >tpm.log 2>&1 && "
		 "tpm2_createak -C ek.ctx -c ak.ctx -G rsa -g sha256 -s rsassa -u ak.pub "
		 "-n ak.name >>tpm.log 2>&1; rc=$?; tpm2_flushcontext -t >/dev/null 2>&1; exit $rc",
		 dir);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s/tpm.log' >&2", dir);
		(void)!system(cmd);
		rm_dir(dir);
		fail_msg("tpm2_createek/createak failed with TCTI %s", tcti);
	}
	ekb = read_bytes(dir, "ek.pub", &ekl);
	akb = read_bytes(dir, "ak.pub", &akl);
	nameb = read_bytes(dir, "ak.name", &namel);
	assert_int_equal(tpm_public_decode(ekb, ekl, &ek, &e), 0);
	assert_int_equal(tpm_public_decode(akb, akl, &ak, &e), 0);
	/* the Name we would compute for the AK is the TPM's */
	assert_int_equal(tpm_public_name(&ak, akname, &aknl), 0);
	assert_int_equal(aknl, namel);
	assert_memory_equal(akname, nameb, namel);

	assert_int_equal(RAND_bytes(cred, sizeof(cred)), 1);
	assert_int_equal(credential_make(&ek, akname, aknl, cred, sizeof(cred), &blob, &secret, &e),
			 0);
	tools_cred_write(dir, "kagi.cred", &blob, &secret);
	snprintf(cmd, sizeof(cmd), activate_cmd, dir, "kagi.cred", "act.out");
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s/tpm.log' >&2", dir);
		(void)!system(cmd);
		rm_dir(dir);
		fail_msg("the TPM refused kagi's credential");
	}
	act = read_bytes(dir, "act.out", &actl);
	assert_int_equal(actl, sizeof(cred));
	assert_memory_equal(act, cred, sizeof(cred));
	free(act);

	/* negative: made for another Name, the TPM refuses it */
	akname[aknl - 1] ^= 1;
	assert_int_equal(credential_make(&ek, akname, aknl, cred, sizeof(cred), &blob, &secret, &e),
			 0);
	tools_cred_write(dir, "other.cred", &blob, &secret);
	snprintf(cmd, sizeof(cmd), activate_cmd, dir, "other.cred", "act2.out");
	assert_int_not_equal(system(cmd), 0);

	free(ekb);
	free(akb);
	free(nameb);
	rm_dir(dir);
}

/* ---- AES-256-GCM sealing ------------------------------------------------------------------- */

static const char uuid1[] = "0b6c5d7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
static const char uuid2[] = "0b6c5d7e-1f2a-4b3c-8d4e-5f6a7b8c9d0f";

struct sealed {
	uint8_t k[32], nonce[32], key[64], iv[12], ct[64], tag[16];
	size_t len;
};

static void seal_fixture(struct sealed *s, size_t len)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(RAND_bytes(s->k, 32), 1);
	assert_int_equal(RAND_bytes(s->nonce, 32), 1);
	assert_int_equal(RAND_bytes(s->key, (int)len), 1);
	s->len = len;
	assert_int_equal(seal_key(s->k, uuid1, s->nonce, s->key, len, s->iv, s->ct, s->tag), 0);
}

static void expect_open_fail(const struct sealed *s, const char *uuid, int err, const char *what)
{
	struct secret *out = (struct secret *)0x1;
	struct kagi_err e = { 0 };

	assert_int_equal(open_key(s->k, uuid, s->nonce, s->iv, s->ct, s->len, s->tag, &out, &e),
			 err);
	assert_string_equal(e.what, what);
	assert_ptr_equal(out, (struct secret *)0x1); /* untouched */
}

static void test_seal_open_roundtrip(void **state)
{
	static const size_t lens[] = { 1, 16, 32, 64 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		struct sealed s;
		struct secret *out = NULL;
		struct kagi_err e = { 0 };

		seal_fixture(&s, lens[i]);
		assert_memory_not_equal(s.ct, s.key, s.len);
		assert_int_equal(open_key(s.k, uuid1, s.nonce, s.iv, s.ct, s.len, s.tag, &out, &e),
				 0);
		assert_non_null(out);
		assert_int_equal(out->len, s.len);
		assert_memory_equal(out->data, s.key, s.len);
		secret_free(out);
	}
}

/* Decrypt with plain EVP and the AAD built by hand: "kagi-key-v1\0" || uuid || nonce. */
static void test_seal_aad_layout(void **state)
{
	uint8_t aad[12 + 36 + 32], plain[64];
	struct sealed s;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, m = 0;

	(void)state;
	seal_fixture(&s, 32);
	memcpy(aad, "kagi-key-v1", 12);
	memcpy(aad + 12, uuid1, 36);
	memcpy(aad + 48, s.nonce, 32);
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL), 1);
	assert_int_equal(EVP_DecryptInit_ex(c, NULL, NULL, s.k, s.iv), 1);
	assert_int_equal(EVP_DecryptUpdate(c, NULL, &n, aad, sizeof(aad)), 1);
	assert_int_equal(EVP_DecryptUpdate(c, plain, &n, s.ct, 32), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, s.tag), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, plain + n, &m), 1);
	assert_int_equal(n + m, 32);
	assert_memory_equal(plain, s.key, 32);
	EVP_CIPHER_CTX_free(c);
}

static void test_seal_iv_random(void **state)
{
	struct sealed a, b;

	(void)state;
	seal_fixture(&a, 32);
	b = a;
	assert_int_equal(seal_key(a.k, uuid1, a.nonce, a.key, 32, b.iv, b.ct, b.tag), 0);
	assert_memory_not_equal(a.iv, b.iv, 12);
	assert_memory_not_equal(a.ct, b.ct, 32);
}

static void test_open_key_bad_iv(void **state)
{
	struct sealed s;

	(void)state;
	seal_fixture(&s, 32);
	s.iv[0] ^= 1;
	expect_open_fail(&s, uuid1, -EBADMSG, "key.tag");
}

static void test_open_key_bad_ciphertext(void **state)
{
	struct sealed s;

	(void)state;
	seal_fixture(&s, 32);
	s.ct[31] ^= 0x80;
	expect_open_fail(&s, uuid1, -EBADMSG, "key.tag");
	s.ct[31] ^= 0x80;
	s.len = 31; /* truncated */
	expect_open_fail(&s, uuid1, -EBADMSG, "key.tag");
}

static void test_open_key_bad_tag(void **state)
{
	struct sealed s;

	(void)state;
	seal_fixture(&s, 32);
	s.tag[15] ^= 1;
	expect_open_fail(&s, uuid1, -EBADMSG, "key.tag");
}

static void test_open_key_bad_uuid(void **state)
{
	struct sealed s;

	(void)state;
	seal_fixture(&s, 32);
	expect_open_fail(&s, uuid2, -EBADMSG, "key.tag"); /* another volume */
	expect_open_fail(&s, "0B6C5D7E-1F2A-4B3C-8D4E-5F6A7B8C9D0E", -EINVAL, "key.uuid");
	expect_open_fail(&s, "0b6c5d7e1f2a4b3c8d4e5f6a7b8c9d0e", -EINVAL, "key.uuid");
}

static void test_open_key_bad_nonce(void **state)
{
	struct sealed s;

	(void)state;
	seal_fixture(&s, 32);
	s.nonce[0] ^= 1;
	expect_open_fail(&s, uuid1, -EBADMSG, "key.tag");
}

static void test_open_key_bad_k(void **state)
{
	struct sealed s;

	(void)state;
	seal_fixture(&s, 32);
	s.k[5] ^= 1;
	expect_open_fail(&s, uuid1, -EBADMSG, "key.tag");
}

static void test_open_key_bad_size(void **state)
{
	struct sealed s;

	(void)state;
	seal_fixture(&s, 32);
	s.len = 0;
	expect_open_fail(&s, uuid1, -EBADMSG, "key.size");
	s.len = 65;
	expect_open_fail(&s, uuid1, -EBADMSG, "key.size");
}

static void test_seal_key_bad_args(void **state)
{
	uint8_t k[32] = { 0 }, nonce[32] = { 0 }, key[65] = { 0 }, iv[12], ct[65], tag[16];

	(void)state;
	assert_int_equal(seal_key(k, uuid1, nonce, key, 0, iv, ct, tag), -EINVAL);
	assert_int_equal(seal_key(k, uuid1, nonce, key, 65, iv, ct, tag), -EINVAL);
	assert_int_equal(seal_key(k, "not-a-uuid", nonce, key, 32, iv, ct, tag), -EINVAL);
	assert_int_equal(seal_key(k, NULL, nonce, key, 32, iv, ct, tag), -EINVAL);
}

/* ---- ECDH + HKDF ---------------------------------------------------------------------------- */

/* The public half only, as the other side gets it. */
static EVP_PKEY *public_only(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_PUBKEY(k, &der);
	EVP_PKEY *pub;

	assert_true(len > 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	assert_non_null(pub);
	return pub;
}

/* Independent K: EVP_PKEY_derive, then HKDF through the EVP_PKEY_HKDF interface. */
static void ecdh_expected(EVP_PKEY *priv, EVP_PKEY *peer, const uint8_t nonce[32], uint8_t k[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(priv, NULL);
	uint8_t z[66];
	size_t zl = sizeof(z), kl = 32;

	assert_int_equal(EVP_PKEY_derive_init(c), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(c, peer), 1);
	assert_int_equal(EVP_PKEY_derive(c, z, &zl), 1);
	EVP_PKEY_CTX_free(c);
	c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	assert_int_equal(EVP_PKEY_derive_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_salt(c, nonce, 32), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(c, z, (int)zl), 1);
	assert_int_equal(EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)"kagi-ecdh-v1", 13),
			 1);
	assert_int_equal(EVP_PKEY_derive(c, k, &kl), 1);
	assert_int_equal(kl, 32);
	EVP_PKEY_CTX_free(c);
}

static void test_ecdh_derive(void **state)
{
	const char *curves[] = { "P-384", "P-256" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(curves); i++) {
		EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);
		EVP_PKEY *apub = public_only(a), *bpub = public_only(b);
		uint8_t nonce[32], k1[32], k2[32], want[32];
		struct kagi_err e = { 0 };

		assert_int_equal(RAND_bytes(nonce, 32), 1);
		assert_int_equal(ecdh_derive(a, bpub, nonce, k1, &e), 0);
		assert_int_equal(ecdh_derive(b, apub, nonce, k2, &e), 0);
		assert_memory_equal(k1, k2, 32);
		ecdh_expected(a, bpub, nonce, want);
		assert_memory_equal(k1, want, 32);
		/* another nonce, another K */
		nonce[0] ^= 1;
		assert_int_equal(ecdh_derive(a, bpub, nonce, k2, &e), 0);
		assert_memory_not_equal(k1, k2, 32);
		EVP_PKEY_free(a);
		EVP_PKEY_free(b);
		EVP_PKEY_free(apub);
		EVP_PKEY_free(bpub);
	}
}

static void test_ecdh_derive_bad_curve(void **state)
{
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *p521a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	EVP_PKEY *p521b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	uint8_t nonce[32] = { 0 }, k[32];
	struct kagi_err e = { 0 };

	(void)state;
	memset(k, 0x77, sizeof(k));
	assert_int_equal(ecdh_derive(p384, p256, nonce, k, &e), -EINVAL);
	assert_string_equal(e.what, "ecdh.curve");
	assert_int_equal(ecdh_derive(p521a, p521b, nonce, k, &e), -EINVAL);
	assert_string_equal(e.what, "ecdh.curve");
	assert_int_equal(ecdh_derive(ek_key, p384, nonce, k, &e), -EINVAL);
	assert_string_equal(e.what, "ecdh.curve");
	assert_int_equal(ecdh_derive(p384, NULL, nonce, k, &e), -EINVAL);
	for (size_t i = 0; i < sizeof(k); i++)
		assert_int_equal(k[i], 0x77);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p521a);
	EVP_PKEY_free(p521b);
}

/*
 * The tpm2-tools and real-TPM tests are only registered when they can run: cmocka 1.1 prints a
 * skipped test as "not ok N # SKIP", which meson's TAP parser counts as a failure.
 */
int main(void)
{
	const char *tcti = getenv("KAGI_TEST_TCTI");
	bool tools = have_tool("tpm2_makecredential");
	bool tpm = tcti && *tcti && have_tool("tpm2_createek") && have_tool("tpm2_createak") &&
		   have_tool("tpm2_activatecredential");
	const struct CMUnitTest all[] = {
		cmocka_unit_test(test_credential_kdfa_vectors),
		cmocka_unit_test(test_credential_kdfa_by_hand),
		cmocka_unit_test(test_credential_kdfa_bad_args),
		cmocka_unit_test(test_credential_make_activate),
		cmocka_unit_test(test_credential_make_bad_other_name),
		cmocka_unit_test(test_credential_make_bad_other_ek),
		cmocka_unit_test(test_credential_make_bad_ek),
		cmocka_unit_test(test_credential_make_bad_size),
		cmocka_unit_test(test_credential_make_bad_ak_name),
		cmocka_unit_test(test_credential_marshal_roundtrip),
		cmocka_unit_test(test_seal_open_roundtrip),
		cmocka_unit_test(test_seal_aad_layout),
		cmocka_unit_test(test_seal_iv_random),
		cmocka_unit_test(test_open_key_bad_iv),
		cmocka_unit_test(test_open_key_bad_ciphertext),
		cmocka_unit_test(test_open_key_bad_tag),
		cmocka_unit_test(test_open_key_bad_uuid),
		cmocka_unit_test(test_open_key_bad_nonce),
		cmocka_unit_test(test_open_key_bad_k),
		cmocka_unit_test(test_open_key_bad_size),
		cmocka_unit_test(test_seal_key_bad_args),
		cmocka_unit_test(test_ecdh_derive),
		cmocka_unit_test(test_ecdh_derive_bad_curve),
		cmocka_unit_test(test_credential_make_vs_tpm2_tools),
		cmocka_unit_test(test_credential_make_real_tpm),
	};
	struct CMUnitTest run[ARRAY_SIZE(all)];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		if (all[i].test_func == test_credential_make_vs_tpm2_tools && !tools) {
			printf("# tpm2_makecredential is not installed: cross-check not run\n");
			continue;
		}
		if (all[i].test_func == test_credential_make_real_tpm && !tpm) {
			printf("# KAGI_TEST_TCTI not set (or tpm2-tools missing): real-TPM test "
			       "not run\n");
			continue;
		}
		run[n++] = all[i];
	}
	return _cmocka_run_group_tests("credential", run, n, setup, teardown);
}
