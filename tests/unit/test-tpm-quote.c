// SPDX-License-Identifier: Apache-2.0
/*
 * test-tpm-quote.c: TPM quote codec and verification.
 *
 * Positive cases build their own keys with OpenSSL, marshal a TPMS_ATTEST with tss2-mu, sign it
 * and verify; negative cases change one field each and check the failure names that field.
 * Real quotes from tests/data/tpmquote (PROVENANCE.md §3) are used where they exist.
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
#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "tpm-quote.h"
#include "util.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static EVP_PKEY *rsa_key;
static EVP_PKEY *p256_key;
static EVP_PKEY *p384_key;

static const uint8_t nonce[] = { 0x90, 0x09, 0xde, 0xad, 0xbe, 0xef };

/* Read tests/data/REL into a new buffer; skip the test if the file is not there. */
static uint8_t *testdata(const char *rel, size_t *len)
{
	const char *dir = getenv("KAGI_TESTDATA");
	char path[4096];
	uint8_t *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", rel);
	if (read_file(path, 1 << 20, &buf, len) < 0) {
		print_message("# %s not present\n", path);
		skip();
	}
	return buf;
}

static json_object *testdata_json(const char *rel)
{
	size_t len = 0;
	uint8_t *buf = testdata(rel, &len);
	char *s = calloc(1, len + 1);
	json_object *o;

	assert_non_null(s);
	memcpy(s, buf, len);
	o = json_tokener_parse(s);
	free(s);
	free(buf);
	assert_non_null(o);
	return o;
}

static void sha(const char *md, const void *p, size_t n, uint8_t *out)
{
	unsigned int l = 0;

	assert_int_equal(EVP_Digest(p, n, out, &l, EVP_get_digestbyname(md), NULL), 1);
}

/* A TPMT_PUBLIC for an OpenSSL key, as tpm2_createak would make it. */
static void tpmt_from_evp(EVP_PKEY *k, TPMT_PUBLIC *p)
{
	memset(p, 0, sizeof(*p));
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = 0x00050072;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		BIGNUM *n = NULL;
		int bytes = EVP_PKEY_get_size(k);

		p->type = TPM2_ALG_RSA;
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
		p->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		p->parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)(bytes * 8);
		assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
		assert_int_equal(BN_bn2binpad(n, p->unique.rsa.buffer, bytes), bytes);
		p->unique.rsa.size = (UINT16)bytes;
		BN_free(n);
	} else {
		uint8_t pt[1 + 2 * 66];
		char g[32] = "";
		size_t ptl = 0, fb;

		assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt,
								 sizeof(pt), &ptl),
				 1);
		assert_int_equal(pt[0], 0x04);
		fb = (ptl - 1) / 2;
		EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, g, sizeof(g), NULL);
		p->type = TPM2_ALG_ECC;
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
		p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		p->parameters.eccDetail.curveID =
			streq(g, "secp384r1") ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		p->unique.ecc.x.size = p->unique.ecc.y.size = (UINT16)fb;
		memcpy(p->unique.ecc.x.buffer, pt + 1, fb);
		memcpy(p->unique.ecc.y.buffer, pt + 1 + fb, fb);
	}
}

static void set_pcr(TPMS_PCR_SELECTION *s, TPMI_ALG_HASH bank, const unsigned *pcrs, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->hash = bank;
	s->sizeofSelect = 3;
	for (size_t i = 0; i < n; i++)
		s->pcrSelect[pcrs[i] / 8] |= (uint8_t)(1u << (pcrs[i] % 8));
}

/* PCR value for (bank, index) used throughout: H_bank("pcr" || index || bank id). */
static void pcr_value(TPMI_ALG_HASH bank, unsigned idx, uint8_t *out)
{
	uint8_t seed[5] = { 'p', 'c', 'r', (uint8_t)idx, (uint8_t)bank };

	sha(bank == TPM2_ALG_SHA1 ? "SHA1" : "SHA256", seed, sizeof(seed), out);
}

static void fill_pcrs(struct tpm_pcr_values *v, TPMI_ALG_HASH bank, unsigned from, unsigned to)
{
	for (unsigned i = from; i <= to; i++) {
		uint8_t d[64];

		pcr_value(bank, i, d);
		assert_int_equal(tpm_pcr_values_set(v, bank, i, d, tpm_hash_size(bank), NULL), 0);
	}
}

/* A quote of sha256 PCRs 0, 1, 7 with the digest computed here, independently of the library. */
static void make_attest(TPMS_ATTEST *a)
{
	static const unsigned sel[] = { 0, 1, 7 };
	uint8_t cat[3 * 32];

	memset(a, 0, sizeof(*a));
	a->magic = TPM2_GENERATED_VALUE;
	a->type = TPM2_ST_ATTEST_QUOTE;
	a->qualifiedSigner.size = 34;
	memset(a->qualifiedSigner.name, 0x5a, 34);
	a->qualifiedSigner.name[0] = 0x00;
	a->qualifiedSigner.name[1] = 0x0b;
	a->extraData.size = sizeof(nonce);
	memcpy(a->extraData.buffer, nonce, sizeof(nonce));
	a->clockInfo.clock = 123456789;
	a->clockInfo.resetCount = 3;
	a->clockInfo.restartCount = 1;
	a->clockInfo.safe = 1;
	a->firmwareVersion = 0x2019102300163636ULL;
	a->attested.quote.pcrSelect.count = 1;
	set_pcr(&a->attested.quote.pcrSelect.pcrSelections[0], TPM2_ALG_SHA256, sel, 3);
	for (size_t i = 0; i < 3; i++)
		pcr_value(TPM2_ALG_SHA256, sel[i], cat + 32 * i);
	sha("SHA256", cat, sizeof(cat), a->attested.quote.pcrDigest.buffer);
	a->attested.quote.pcrDigest.size = 32;
}

static size_t marshal_attest(const TPMS_ATTEST *a, uint8_t *buf, size_t len)
{
	size_t off = 0;

	assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(a, buf, len, &off), TSS2_RC_SUCCESS);
	return off;
}

/* Sign msg and return it as a TPMT_SIGNATURE. saltlen only for RSAPSS. */
static void sign_tpmt(EVP_PKEY *k, TPMI_ALG_SIG_SCHEME scheme, TPMI_ALG_HASH hash, int saltlen,
		      const uint8_t *msg, size_t len, TPMT_SIGNATURE *sig)
{
	const char *mdname = hash == TPM2_ALG_SHA384 ? "SHA384"
			     : hash == TPM2_ALG_SHA1 ? "SHA1"
						     : "SHA256";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t out[1024];
	size_t ol = sizeof(out);

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_get_digestbyname(mdname), NULL, k), 1);
	if (scheme == TPM2_ALG_RSAPSS) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen), 1);
	}
	assert_int_equal(EVP_DigestSign(ctx, out, &ol, msg, len), 1);
	EVP_MD_CTX_free(ctx);

	memset(sig, 0, sizeof(*sig));
	sig->sigAlg = scheme;
	if (scheme == TPM2_ALG_ECDSA) {
		const unsigned char *p = out;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)ol);
		const BIGNUM *r, *s;
		int fb = (EVP_PKEY_get_bits(k) + 7) / 8;

		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &s);
		sig->signature.ecdsa.hash = hash;
		sig->signature.ecdsa.signatureR.size = (UINT16)fb;
		sig->signature.ecdsa.signatureS.size = (UINT16)fb;
		assert_int_equal(BN_bn2binpad(r, sig->signature.ecdsa.signatureR.buffer, fb), fb);
		assert_int_equal(BN_bn2binpad(s, sig->signature.ecdsa.signatureS.buffer, fb), fb);
		ECDSA_SIG_free(es);
	} else {
		sig->signature.rsassa.hash = hash; /* rsassa and rsapss share the layout */
		sig->signature.rsassa.sig.size = (UINT16)ol;
		memcpy(sig->signature.rsassa.sig.buffer, out, ol);
	}
}

/* Marshal the signature, decode it again with the library, verify. */
static int roundtrip_verify(EVP_PKEY *k, TPMI_ALG_SIG_SCHEME scheme, TPMI_ALG_HASH hash,
			    int saltlen, bool tamper, struct kagi_err *e)
{
	TPMS_ATTEST a, back;
	TPMT_SIGNATURE sig, dec;
	uint8_t buf[2048], sbuf[1024];
	size_t len, off = 0;

	make_attest(&a);
	len = marshal_attest(&a, buf, sizeof(buf));
	assert_int_equal(tpm_attest_decode(buf, len, &back, NULL), 0);
	sign_tpmt(k, scheme, hash, saltlen, buf, len, &sig);
	assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sbuf, sizeof(sbuf), &off),
			 TSS2_RC_SUCCESS);
	assert_int_equal(tpm_signature_decode(sbuf, off, &dec, NULL), 0);
	if (tamper)
		buf[len - 1] ^= 1;
	return tpm_quote_verify_signature(buf, len, &dec, k, e);
}

/* ---- TPMS_ATTEST ----------------------------------------------------------------------------- */

static void test_tpm_attest_decode_ok(void **state)
{
	TPMS_ATTEST a, ref;
	uint8_t buf[2048];
	size_t len;
	(void)state;

	make_attest(&ref);
	len = marshal_attest(&ref, buf, sizeof(buf));
	assert_int_equal(tpm_attest_decode(buf, len, &a, NULL), 0);
	assert_int_equal(a.magic, TPM2_GENERATED_VALUE);
	assert_int_equal(a.type, TPM2_ST_ATTEST_QUOTE);
	assert_int_equal(a.extraData.size, sizeof(nonce));
	assert_memory_equal(a.extraData.buffer, nonce, sizeof(nonce));
	assert_int_equal(a.clockInfo.clock, 123456789);
	assert_int_equal(a.clockInfo.resetCount, 3);
	assert_int_equal(a.clockInfo.restartCount, 1);
	assert_int_equal(a.firmwareVersion, 0x2019102300163636ULL);
	assert_int_equal(a.attested.quote.pcrSelect.count, 1);
	assert_int_equal(tpm_pcr_selection_count(&a.attested.quote.pcrSelect), 3);
	assert_memory_equal(a.attested.quote.pcrDigest.buffer, ref.attested.quote.pcrDigest.buffer,
			    32);
}

static void test_tpm_attest_decode_real(void **state)
{
	size_t len = 0;
	uint8_t *buf = testdata("tpmquote/keylime-test-data/quote.out", &len);
	static const uint8_t extra[] = {
		0xdb, 0x1d, 0xb2, 0x98, 0xdb, 0x6d, 0x60, 0xe6, 0x38, 0x5b,
		0x72, 0x31, 0x74, 0x3e, 0x9c, 0x30, 0x56, 0xa1, 0x80, 0x03
	};
	char desc[64];
	TPMS_ATTEST a;
	(void)state;

	assert_int_equal(tpm_attest_decode(buf, len, &a, NULL), 0);
	assert_int_equal(a.extraData.size, sizeof(extra));
	assert_memory_equal(a.extraData.buffer, extra, sizeof(extra));
	assert_int_equal(a.clockInfo.clock, 5994);
	assert_int_equal(a.firmwareVersion, 0x2016051100162800ULL);
	/* sha256 PCRs 15, 16, 22 */
	assert_int_equal(a.attested.quote.pcrSelect.pcrSelections[0].hash, TPM2_ALG_SHA256);
	assert_int_equal(a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[1], 0x80);
	assert_int_equal(a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[2], 0x41);
	assert_string_equal(
		tpm_pcr_selection_describe(&a.attested.quote.pcrSelect, desc, sizeof(desc)),
		"3 sha256 PCRs");
	free(buf);
}

static void expect_attest_error(const uint8_t *buf, size_t len, const char *what, size_t off)
{
	struct kagi_err e = { 0 };
	TPMS_ATTEST a;

	memset(&a, 0xa5, sizeof(a));
	assert_int_equal(tpm_attest_decode(buf, len, &a, &e), -EBADMSG);
	assert_string_equal(e.what, what);
	if (off != KAGI_ERR_NO_OFFSET)
		assert_int_equal(e.off, off);
	/* the output is untouched on failure */
	assert_int_equal(((uint8_t *)&a)[0], 0xa5);
	assert_int_equal(((uint8_t *)&a)[sizeof(a) - 1], 0xa5);
}

static void test_tpm_attest_decode_bad_magic(void **state)
{
	TPMS_ATTEST a;
	uint8_t buf[2048];
	size_t len;
	(void)state;

	make_attest(&a);
	a.magic = 0xff544348;
	len = marshal_attest(&a, buf, sizeof(buf));
	expect_attest_error(buf, len, "quote.attest.magic", 0);
	/* also when the rest is too short for tss2-mu */
	expect_attest_error(buf, 6, "quote.attest.magic", 0);
}

static void test_tpm_attest_decode_bad_type(void **state)
{
	struct kagi_err e = { 0 };
	TPMS_ATTEST a;
	uint8_t buf[2048];
	size_t len;
	(void)state;

	/* a certify attestation is well-formed for tss2-mu, but not a quote */
	make_attest(&a);
	a.type = TPM2_ST_ATTEST_CERTIFY;
	a.attested.certify.name.size = 2;
	a.attested.certify.qualifiedName.size = 2;
	len = marshal_attest(&a, buf, sizeof(buf));
	expect_attest_error(buf, len, "quote.attest.type", 4);
	/* an unknown type, which tss2-mu itself refuses */
	make_attest(&a);
	len = marshal_attest(&a, buf, sizeof(buf));
	buf[5] = 0x99;
	expect_attest_error(buf, len, "quote.attest.type", 4);
	assert_int_equal(tpm_attest_decode(buf, len, &a, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "0x8099"));
}

static void test_tpm_attest_decode_bad_trailing(void **state)
{
	TPMS_ATTEST a;
	uint8_t buf[2048];
	size_t len;
	(void)state;

	make_attest(&a);
	len = marshal_attest(&a, buf, sizeof(buf));
	buf[len] = 0;
	expect_attest_error(buf, len + 1, "quote.attest.trailing", len);
}

static void test_tpm_attest_decode_bad_truncated(void **state)
{
	TPMS_ATTEST a;
	uint8_t buf[2048];
	size_t len, sizeof_head = 4 + 2 + 2 + 34; /* magic, type, qualifiedSigner */
	(void)state;

	make_attest(&a);
	len = marshal_attest(&a, buf, sizeof(buf));
	for (size_t cut = 0; cut < len; cut++) {
		struct kagi_err e = { 0 };
		TPMS_ATTEST out;

		assert_int_equal(tpm_attest_decode(buf, cut, &out, &e), -EBADMSG);
		assert_non_null(e.what);
	}
	expect_attest_error(buf, 3, "quote.attest.magic", 0);
	expect_attest_error(buf, 5, "quote.attest.type", 4);
	expect_attest_error(buf, 20, "quote.attest.qualifiedSigner", 6);
	expect_attest_error(buf, sizeof_head + 3, "quote.attest.extraData", sizeof_head);
	expect_attest_error(buf, len - 1, "quote.attest.pcrDigest", KAGI_ERR_NO_OFFSET);
	expect_attest_error(NULL, 0, "quote.attest.magic", 0);
}

static void test_tpm_attest_decode_bad_extradata_size(void **state)
{
	struct kagi_err e = { 0 };
	TPMS_ATTEST a;
	uint8_t buf[2048];
	size_t len, at = 4 + 2 + 2 + 34;
	(void)state;

	make_attest(&a);
	len = marshal_attest(&a, buf, sizeof(buf));
	buf[at] = 0x01; /* extraData.size = 0x0106 > 66 */
	expect_attest_error(buf, len, "quote.attest.extraData", at);
	assert_int_equal(tpm_attest_decode(buf, len, &a, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "262"));
}

static void test_tpm_attest_decode_bad_pcrselect(void **state)
{
	TPMS_ATTEST a;
	uint8_t buf[2048];
	size_t len, at = 4 + 2 + 2 + 34 + 2 + sizeof(nonce) + 17 + 8;
	(void)state;

	make_attest(&a);
	len = marshal_attest(&a, buf, sizeof(buf));
	assert_int_equal(buf[at + 3], 1); /* count */
	buf[at + 3] = 17;                 /* more than TPM2_NUM_PCR_BANKS */
	expect_attest_error(buf, len, "quote.attest.pcrSelect", at);
	buf[at + 3] = 1;
	buf[at + 6] = 5; /* sizeofSelect > 4 */
	expect_attest_error(buf, len, "quote.attest.pcrSelect", at);
}

/* ---- TPMT_PUBLIC, keys, names ---------------------------------------------------------------- */

static void test_tpm_public_decode_real(void **state)
{
	size_t l1 = 0, l2 = 0;
	uint8_t *tpmt =
		testdata("tpmquote/go-tpm-tools/gce-cos-85-nonce9009/ak_pub.tpmt_public.bin", &l1);
	uint8_t *tpm2b = testdata("tpmquote/keylime-test-data/ak.pub", &l2);
	TPMT_PUBLIC p;
	(void)state;

	assert_int_equal(tpm_public_decode(tpmt, l1, &p, NULL), 0);
	assert_int_equal(p.type, TPM2_ALG_RSA);
	assert_int_equal(p.parameters.rsaDetail.keyBits, 2048);
	assert_int_equal(tpm_public_check_ak(&p, NULL), 0);
	assert_int_equal(tpm_public_decode(tpm2b, l2, &p, NULL), 0);
	assert_int_equal(p.type, TPM2_ALG_RSA);
	assert_int_equal(p.objectAttributes, 0x00050072);
	assert_int_equal(p.unique.rsa.size, 256);
	free(tpmt);
	free(tpm2b);
}

static size_t marshal_public(const TPMT_PUBLIC *p, uint8_t *buf, size_t len)
{
	size_t off = 0;

	assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(p, buf, len, &off), TSS2_RC_SUCCESS);
	return off;
}

static void expect_public_error(const uint8_t *buf, size_t len, const char *what)
{
	struct kagi_err e = { 0 };
	TPMT_PUBLIC p;

	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(tpm_public_decode(buf, len, &p, &e), -EBADMSG);
	assert_string_equal(e.what, what);
	assert_int_equal(((uint8_t *)&p)[0], 0xa5);
}

static void test_tpm_public_decode_bad_type(void **state)
{
	TPMT_PUBLIC p;
	uint8_t buf[1024];
	size_t len;
	(void)state;

	tpmt_from_evp(p256_key, &p);
	len = marshal_public(&p, buf, sizeof(buf));
	buf[1] = 0x24; /* 0x0024: not a public type */
	expect_public_error(buf, len, "tpm.public.type");
}

static void test_tpm_public_decode_bad_trailing(void **state)
{
	TPMT_PUBLIC p;
	uint8_t buf[1024];
	size_t len;
	(void)state;

	tpmt_from_evp(p256_key, &p);
	len = marshal_public(&p, buf, sizeof(buf));
	buf[len] = 0;
	expect_public_error(buf, len + 1, "tpm.public.trailing");
}

static void test_tpm_public_decode_bad_truncated(void **state)
{
	TPMT_PUBLIC p;
	uint8_t buf[1024], b2[1024];
	size_t len;
	(void)state;

	tpmt_from_evp(p256_key, &p);
	len = marshal_public(&p, buf, sizeof(buf));
	for (size_t cut = 0; cut < len; cut++) {
		TPMT_PUBLIC out;

		assert_int_equal(tpm_public_decode(buf, cut, &out, NULL), -EBADMSG);
	}
	expect_public_error(buf, len - 1, "tpm.public.unique");
	expect_public_error(buf, 15, "tpm.public.parameters");
	/* a TPM2B_PUBLIC whose size promises more than follows */
	b2[0] = (uint8_t)(len >> 8);
	b2[1] = (uint8_t)len;
	memcpy(b2 + 2, buf, len);
	assert_int_equal(tpm_public_decode(b2, len + 2, &p, NULL), 0);
	expect_public_error(b2, len + 1, "tpm.public.size");
	/* and one whose size is right but whose content is short of it */
	b2[1] = (uint8_t)(len - 1);
	expect_public_error(b2, len + 1, "tpm.public.unique");
}

static void test_tpm_public_to_evp_roundtrip(void **state)
{
	EVP_PKEY *keys[] = { rsa_key, p256_key, p384_key };
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		TPMT_PUBLIC p, back;
		EVP_PKEY *k = NULL;
		uint8_t buf[1024];
		size_t len;

		tpmt_from_evp(keys[i], &p);
		len = marshal_public(&p, buf, sizeof(buf));
		assert_int_equal(tpm_public_decode(buf, len, &back, NULL), 0);
		assert_int_equal(tpm_public_to_evp(&back, &k, NULL), 0);
		assert_int_equal(EVP_PKEY_eq(k, keys[i]), 1);
		EVP_PKEY_free(k);
	}
}

static void test_tpm_public_to_evp_bad_curve(void **state)
{
	struct kagi_err e = { 0 };
	EVP_PKEY *k = NULL;
	TPMT_PUBLIC p;
	(void)state;

	tpmt_from_evp(p256_key, &p);
	p.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
	assert_int_equal(tpm_public_to_evp(&p, &k, &e), -EOPNOTSUPP);
	assert_string_equal(e.what, "tpm.public.ecc.curve");
	assert_non_null(strstr(e.msg, "bn_p256"));
	assert_null(k);
	p.parameters.eccDetail.curveID = 0x0077;
	assert_int_equal(tpm_public_to_evp(&p, &k, &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "0x0077"));
}

static void test_tpm_public_to_evp_bad_point(void **state)
{
	struct kagi_err e = { 0 };
	EVP_PKEY *k = NULL;
	TPMT_PUBLIC p;
	(void)state;

	tpmt_from_evp(p256_key, &p);
	p.unique.ecc.y.buffer[31] ^= 1; /* no longer on the curve */
	assert_int_equal(tpm_public_to_evp(&p, &k, &e), -EBADMSG);
	assert_string_equal(e.what, "tpm.public.ecc.point");
	assert_null(k);
	tpmt_from_evp(p256_key, &p);
	p.unique.ecc.x.size = 33;
	assert_int_equal(tpm_public_to_evp(&p, &k, &e), -EBADMSG);
	assert_string_equal(e.what, "tpm.public.ecc.point");
}

static void test_tpm_public_to_evp_bad_type(void **state)
{
	struct kagi_err e = { 0 };
	EVP_PKEY *k = NULL;
	TPMT_PUBLIC p;
	(void)state;

	tpmt_from_evp(rsa_key, &p);
	p.type = TPM2_ALG_KEYEDHASH;
	assert_int_equal(tpm_public_to_evp(&p, &k, &e), -EOPNOTSUPP);
	assert_string_equal(e.what, "tpm.public.type");
	assert_non_null(strstr(e.msg, "keyedhash"));
}

static void test_tpm_public_to_evp_bad_rsa_size(void **state)
{
	struct kagi_err e = { 0 };
	EVP_PKEY *k = NULL;
	TPMT_PUBLIC p;
	(void)state;

	tpmt_from_evp(rsa_key, &p);
	p.parameters.rsaDetail.keyBits = 1024;
	assert_int_equal(tpm_public_to_evp(&p, &k, &e), -EBADMSG);
	assert_string_equal(e.what, "tpm.public.rsa.size");
	assert_null(k);
}

static void test_tpm_public_name_independent(void **state)
{
	/* A P-256 AK TPMT_PUBLIC written out by hand from TPM 2.0 Part 2 (not via tss2-mu). */
	uint8_t bytes[88], expect[34], name[TPM_NAME_MAX], pt[65];
	size_t ptl = 0, nl = 0, o = 0;
	TPMT_PUBLIC p;
	(void)state;

	assert_int_equal(EVP_PKEY_get_octet_string_param(p256_key, OSSL_PKEY_PARAM_PUB_KEY, pt,
							 sizeof(pt), &ptl),
			 1);
	assert_int_equal(ptl, 65);
	static const uint8_t head[] = {
		0x00, 0x23, /* type ECC */
		0x00, 0x0b, /* nameAlg SHA256 */
		0x00, 0x05, 0x00,
		0x72,       /* fixedTPM fixedParent sensitiveDataOrigin userWithAuth
					   restricted sign */
		0x00, 0x00, /* authPolicy: empty */
		0x00, 0x10, /* symmetric: NULL */
		0x00, 0x18, 0x00,
		0x0b,       /* scheme ECDSA, SHA256 */
		0x00, 0x03, /* curve NIST P-256 */
		0x00, 0x10, /* kdf NULL */
	};
	memcpy(bytes, head, sizeof(head));
	o = sizeof(head);
	bytes[o++] = 0x00;
	bytes[o++] = 0x20;
	memcpy(bytes + o, pt + 1, 32);
	o += 32;
	bytes[o++] = 0x00;
	bytes[o++] = 0x20;
	memcpy(bytes + o, pt + 33, 32);
	o += 32;
	assert_int_equal(o, sizeof(bytes));

	expect[0] = 0x00;
	expect[1] = 0x0b;
	sha("SHA256", bytes, sizeof(bytes), expect + 2);

	assert_int_equal(tpm_public_decode(bytes, sizeof(bytes), &p, NULL), 0);
	assert_int_equal(tpm_public_name(&p, name, &nl), 0);
	assert_int_equal(nl, 34);
	assert_memory_equal(name, expect, 34);
	/* nameAlg is part of the Name; an unknown one is refused */
	p.nameAlg = TPM2_ALG_NULL;
	assert_int_equal(tpm_public_name(&p, name, &nl), -EOPNOTSUPP);
}

static void test_tpm_public_name_keylime(void **state)
{
	size_t lp = 0, ln = 0, nl = 0;
	uint8_t *pub = testdata("tpmquote/keylime-test-data/ak.pub", &lp);
	uint8_t *want = testdata("tpmquote/keylime-test-data/ak.name", &ln);
	uint8_t name[TPM_NAME_MAX];
	TPMT_PUBLIC p;
	(void)state;

	assert_int_equal(tpm_public_decode(pub, lp, &p, NULL), 0);
	assert_int_equal(tpm_public_name(&p, name, &nl), 0);
	assert_int_equal(nl, ln);
	assert_memory_equal(name, want, ln);
	free(pub);
	free(want);
}

static void test_tpm_public_check_ak_bad_attributes(void **state)
{
	struct kagi_err e = { 0 };
	TPMT_PUBLIC p;
	(void)state;

	tpmt_from_evp(rsa_key, &p);
	assert_int_equal(tpm_public_check_ak(&p, &e), 0);
	p.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
	assert_int_equal(tpm_public_check_ak(&p, &e), -EBADMSG);
	assert_string_equal(e.what, "ak.attributes");
	assert_non_null(strstr(e.msg, "lack restricted"));
	tpmt_from_evp(rsa_key, &p);
	p.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
	assert_int_equal(tpm_public_check_ak(&p, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "lack fixedTPM"));
	tpmt_from_evp(rsa_key, &p);
	p.objectAttributes &= ~TPMA_OBJECT_SIGN_ENCRYPT;
	assert_int_equal(tpm_public_check_ak(&p, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "lack sign"));
	tpmt_from_evp(rsa_key, &p);
	p.objectAttributes |= TPMA_OBJECT_DECRYPT;
	assert_int_equal(tpm_public_check_ak(&p, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "decrypt"));
}

static void test_tpm_ak_load_forms(void **state)
{
	size_t lpem = 0, l2b = 0;
	uint8_t *pem = testdata("tpmquote/keylime-test-data/akpub.pem", &lpem);
	uint8_t *tpm2b = testdata("tpmquote/keylime-test-data/ak.pub", &l2b);
	EVP_PKEY *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	unsigned char *der = NULL;
	uint8_t tbuf[1024];
	TPMT_PUBLIC pub;
	bool has = true;
	int dl;
	(void)state;

	assert_int_equal(tpm_ak_load(pem, lpem, &a, NULL, &has, NULL), 0);
	assert_false(has);
	dl = i2d_PUBKEY(a, &der);
	assert_true(dl > 0);
	assert_int_equal(tpm_ak_load(der, (size_t)dl, &b, NULL, &has, NULL), 0);
	assert_false(has);
	assert_int_equal(tpm_ak_load(tpm2b, l2b, &c, &pub, &has, NULL), 0);
	assert_true(has);
	assert_int_equal(pub.objectAttributes, 0x00050072);
	/* the bare TPMT_PUBLIC inside the TPM2B_PUBLIC */
	assert_int_equal(tpm_ak_load(tpm2b + 2, l2b - 2, &d, NULL, &has, NULL), 0);
	assert_true(has);
	assert_int_equal(EVP_PKEY_eq(a, b), 1);
	assert_int_equal(EVP_PKEY_eq(a, c), 1);
	assert_int_equal(EVP_PKEY_eq(a, d), 1);
	/* an EC AK as TPMT_PUBLIC */
	EVP_PKEY_free(d);
	d = NULL;
	tpmt_from_evp(p256_key, &pub);
	assert_int_equal(
		tpm_ak_load(tbuf, marshal_public(&pub, tbuf, sizeof(tbuf)), &d, NULL, &has, NULL),
		0);
	assert_int_equal(EVP_PKEY_eq(d, p256_key), 1);
	OPENSSL_free(der);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(c);
	EVP_PKEY_free(d);
	free(pem);
	free(tpm2b);
}

static void test_tpm_ak_load_bad_key(void **state)
{
	static const char junk_pem[] =
		"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	struct kagi_err e = { 0 };
	unsigned char *der = NULL;
	EVP_PKEY *k = NULL;
	int dl;
	(void)state;

	assert_non_null(small);
	assert_non_null(k1);
	dl = i2d_PUBKEY(small, &der);
	assert_int_equal(tpm_ak_load(der, (size_t)dl, &k, NULL, NULL, &e), -EBADMSG);
	assert_string_equal(e.what, "ak.rsa.bits");
	OPENSSL_free(der);
	der = NULL;
	dl = i2d_PUBKEY(k1, &der);
	assert_int_equal(tpm_ak_load(der, (size_t)dl, &k, NULL, NULL, &e), -EOPNOTSUPP);
	assert_string_equal(e.what, "ak.ec.curve");
	assert_non_null(strstr(e.msg, "secp256k1"));
	assert_int_equal(
		tpm_ak_load((const uint8_t *)junk_pem, strlen(junk_pem), &k, NULL, NULL, &e),
		-EBADMSG);
	assert_string_equal(e.what, "ak.pem");
	/* DER with a trailing byte is not taken as DER; then it is not a TPM structure either */
	der = OPENSSL_realloc(der, (size_t)dl + 1);
	der[dl] = 0;
	assert_true(tpm_ak_load(der, (size_t)dl + 1, &k, NULL, NULL, &e) < 0);
	assert_int_equal(tpm_ak_load(NULL, 0, &k, NULL, NULL, &e), -EBADMSG);
	assert_null(k);
	OPENSSL_free(der);
	EVP_PKEY_free(small);
	EVP_PKEY_free(k1);
}

/* ---- TPMT_SIGNATURE and verification ---------------------------------------------------------- */

static void test_tpm_signature_decode_bad_sigalg(void **state)
{
	static const uint8_t buf[] = { 0x00, 0x99, 0x00, 0x0b, 0x00, 0x01, 0xaa };
	struct kagi_err e = { 0 };
	TPMT_SIGNATURE s;
	(void)state;

	assert_int_equal(tpm_signature_decode(buf, sizeof(buf), &s, &e), -EBADMSG);
	assert_string_equal(e.what, "tpm.signature.sigAlg");
	assert_non_null(strstr(e.msg, "0x0099"));
	assert_int_equal(tpm_signature_decode(buf, 1, &s, &e), -EBADMSG);
	assert_string_equal(e.what, "tpm.signature.sigAlg");
}

static void test_tpm_signature_decode_bad_trailing(void **state)
{
	static const uint8_t buf[] = { 0x00, 0x14, 0x00, 0x0b, 0x00, 0x01, 0xaa, 0x00 };
	struct kagi_err e = { 0 };
	TPMT_SIGNATURE s;
	(void)state;

	assert_int_equal(tpm_signature_decode(buf, sizeof(buf) - 1, &s, &e), 0);
	assert_int_equal(s.sigAlg, TPM2_ALG_RSASSA);
	assert_int_equal(tpm_signature_decode(buf, sizeof(buf), &s, &e), -EBADMSG);
	assert_string_equal(e.what, "tpm.signature.trailing");
	assert_int_equal(e.off, 7);
}

static void test_tpm_signature_decode_bad_truncated(void **state)
{
	static const uint8_t buf[] = { 0x00, 0x14, 0x00, 0x0b, 0x00, 0x04, 0xaa, 0xbb };
	struct kagi_err e = { 0 };
	TPMT_SIGNATURE s;
	(void)state;

	assert_int_equal(tpm_signature_decode(buf, sizeof(buf), &s, &e), -EBADMSG);
	assert_string_equal(e.what, "tpm.signature.body");
	assert_non_null(strstr(e.msg, "truncated"));
}

static void test_tpm_signature_decode_any_raw(void **state)
{
	uint8_t raw[256];
	struct kagi_err e = { 0 };
	TPMT_SIGNATURE s;
	bool is_raw = false;
	(void)state;

	memset(raw, 0x42, sizeof(raw));
	assert_int_equal(tpm_signature_decode_any(raw, sizeof(raw), rsa_key, &s, &is_raw, &e), 0);
	assert_true(is_raw);
	assert_int_equal(s.sigAlg, TPM2_ALG_RSASSA);
	assert_int_equal(s.signature.rsassa.hash, TPM2_ALG_SHA256);
	assert_int_equal(s.signature.rsassa.sig.size, 256);
	/* not the modulus size, and with an EC AK there is no raw form */
	assert_int_equal(tpm_signature_decode_any(raw, 255, rsa_key, &s, &is_raw, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "255 bytes"));
	assert_int_equal(tpm_signature_decode_any(raw, sizeof(raw), p256_key, &s, &is_raw, &e),
			 -EBADMSG);
}

static void test_tpm_quote_verify_roundtrip(void **state)
{
	struct kagi_err e = { 0 };
	(void)state;

	assert_int_equal(roundtrip_verify(rsa_key, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, 0, false, &e),
			 0);
	assert_int_equal(roundtrip_verify(rsa_key, TPM2_ALG_RSASSA, TPM2_ALG_SHA1, 0, false, &e),
			 0);
	assert_int_equal(roundtrip_verify(rsa_key, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256,
					  RSA_PSS_SALTLEN_DIGEST, false, &e),
			 0);
	assert_int_equal(roundtrip_verify(rsa_key, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256,
					  RSA_PSS_SALTLEN_MAX, false, &e),
			 0);
	assert_int_equal(roundtrip_verify(p256_key, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, false, &e),
			 0);
	assert_int_equal(roundtrip_verify(p384_key, TPM2_ALG_ECDSA, TPM2_ALG_SHA384, 0, false, &e),
			 0);
}

static void test_tpm_quote_verify_bad_signature(void **state)
{
	struct kagi_err e = { 0 };
	(void)state;

	assert_int_equal(roundtrip_verify(rsa_key, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, 0, true, &e),
			 -EBADMSG);
	assert_string_equal(e.what, "quote.signature");
	assert_non_null(strstr(e.msg, "rsassa-sha256"));
	assert_int_equal(roundtrip_verify(rsa_key, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256,
					  RSA_PSS_SALTLEN_DIGEST, true, &e),
			 -EBADMSG);
	assert_string_equal(e.what, "quote.signature");
	assert_int_equal(roundtrip_verify(p256_key, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, true, &e),
			 -EBADMSG);
	assert_string_equal(e.what, "quote.signature");
	/* PSS with a salt that is neither the digest length nor the maximum */
	assert_int_equal(roundtrip_verify(rsa_key, TPM2_ALG_RSAPSS, TPM2_ALG_SHA256, 20, false, &e),
			 -EBADMSG);
	assert_string_equal(e.what, "quote.signature");
}

static void test_tpm_quote_verify_bad_key(void **state)
{
	struct kagi_err e = { 0 };
	uint8_t buf[2048];
	TPMT_SIGNATURE sig;
	TPMS_ATTEST a;
	size_t len;
	(void)state;

	make_attest(&a);
	len = marshal_attest(&a, buf, sizeof(buf));
	sign_tpmt(p256_key, TPM2_ALG_ECDSA, TPM2_ALG_SHA256, 0, buf, len, &sig);
	assert_int_equal(tpm_quote_verify_signature(buf, len, &sig, rsa_key, &e), -EBADMSG);
	assert_string_equal(e.what, "quote.signature.key");
	assert_non_null(strstr(e.msg, "needs an EC AK"));
	/* the right key type but another key */
	assert_int_equal(tpm_quote_verify_signature(buf, len, &sig, p384_key, &e), -EBADMSG);
	assert_string_equal(e.what, "quote.signature");
	sign_tpmt(rsa_key, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, 0, buf, len, &sig);
	assert_int_equal(tpm_quote_verify_signature(buf, len, &sig, p256_key, &e), -EBADMSG);
	assert_string_equal(e.what, "quote.signature.key");
	assert_non_null(strstr(e.msg, "needs an RSA AK"));
}

static void test_tpm_quote_verify_bad_alg(void **state)
{
	struct kagi_err e = { 0 };
	uint8_t buf[2048];
	TPMT_SIGNATURE sig;
	TPMS_ATTEST a;
	size_t len;
	(void)state;

	make_attest(&a);
	len = marshal_attest(&a, buf, sizeof(buf));
	sign_tpmt(rsa_key, TPM2_ALG_RSASSA, TPM2_ALG_SHA256, 0, buf, len, &sig);
	sig.sigAlg = TPM2_ALG_HMAC;
	assert_int_equal(tpm_quote_verify_signature(buf, len, &sig, rsa_key, &e), -EOPNOTSUPP);
	assert_string_equal(e.what, "quote.signature.alg");
	sig.sigAlg = TPM2_ALG_RSASSA;
	sig.signature.rsassa.hash = 0x0099;
	assert_int_equal(tpm_quote_verify_signature(buf, len, &sig, rsa_key, &e), -EOPNOTSUPP);
	assert_string_equal(e.what, "quote.signature.hash");
	/* a signature that is not the modulus size */
	sig.signature.rsassa.hash = TPM2_ALG_SHA256;
	sig.signature.rsassa.sig.size = 255;
	assert_int_equal(tpm_quote_verify_signature(buf, len, &sig, rsa_key, &e), -EBADMSG);
	assert_string_equal(e.what, "quote.signature.size");
}

static void test_tpm_quote_check_scheme_bad(void **state)
{
	struct kagi_err e = { 0 };
	TPMT_SIGNATURE sig;
	TPMT_PUBLIC p;
	(void)state;

	tpmt_from_evp(rsa_key, &p);
	memset(&sig, 0, sizeof(sig));
	sig.sigAlg = TPM2_ALG_RSASSA;
	sig.signature.rsassa.hash = TPM2_ALG_SHA256;
	assert_int_equal(tpm_quote_check_scheme(&p, &sig, &e), 0);
	sig.signature.rsassa.hash = TPM2_ALG_SHA1;
	assert_int_equal(tpm_quote_check_scheme(&p, &sig, &e), -EBADMSG);
	assert_string_equal(e.what, "quote.signature.scheme");
	sig.sigAlg = TPM2_ALG_RSAPSS;
	sig.signature.rsapss.hash = TPM2_ALG_SHA256;
	assert_int_equal(tpm_quote_check_scheme(&p, &sig, &e), -EBADMSG);
	/* a key with scheme NULL accepts any */
	p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	assert_int_equal(tpm_quote_check_scheme(&p, &sig, &e), 0);
}

static void test_tpm_quote_verify_real(void **state)
{
	size_t la = 0, ls = 0, lk = 0;
	uint8_t *att = testdata("tpmquote/keylime-test-data/quote.out", &la);
	uint8_t *sb = testdata("tpmquote/keylime-test-data/quotesig.out", &ls);
	uint8_t *kb = testdata("tpmquote/keylime-test-data/akpub.pem", &lk);
	struct kagi_err e = { 0 };
	TPMT_SIGNATURE sig;
	EVP_PKEY *k = NULL;
	(void)state;

	assert_int_equal(tpm_ak_load(kb, lk, &k, NULL, NULL, NULL), 0);
	assert_int_equal(tpm_signature_decode(sb, ls, &sig, NULL), 0);
	assert_int_equal(tpm_quote_verify_signature(att, la, &sig, k, &e), 0);
	att[40] ^= 0x80;
	assert_int_equal(tpm_quote_verify_signature(att, la, &sig, k, &e), -EBADMSG);
	EVP_PKEY_free(k);
	free(att);
	free(sb);
	free(kb);
}

/* ---- nonce ----------------------------------------------------------------------------------- */

static void test_tpm_quote_check_nonce_bad(void **state)
{
	struct kagi_err e = { 0 };
	uint8_t other[sizeof(nonce)];
	TPMS_ATTEST a;
	(void)state;

	make_attest(&a);
	assert_int_equal(tpm_quote_check_nonce(&a, nonce, sizeof(nonce), &e), 0);
	memcpy(other, nonce, sizeof(nonce));
	other[5] ^= 1;
	assert_int_equal(tpm_quote_check_nonce(&a, other, sizeof(other), &e), -EBADMSG);
	assert_string_equal(e.what, "quote.nonce");
	assert_non_null(strstr(e.msg, "9009deadbeef"));
	assert_non_null(strstr(e.msg, "9009deadbeee"));
	/* a prefix is not enough, and an empty expectation needs an empty extraData */
	assert_int_equal(tpm_quote_check_nonce(&a, nonce, 4, &e), -EBADMSG);
	assert_int_equal(tpm_quote_check_nonce(&a, NULL, 0, &e), -EBADMSG);
	a.extraData.size = 0;
	assert_int_equal(tpm_quote_check_nonce(&a, NULL, 0, &e), 0);
	assert_int_equal(tpm_quote_check_nonce(&a, nonce, 1, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "(empty)"));
}

/* ---- PCR digest ------------------------------------------------------------------------------- */

static void test_tpm_quote_check_pcrs_ok(void **state)
{
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	struct kagi_err e = { 0 };
	TPMS_ATTEST a;
	(void)state;

	make_attest(&a);
	fill_pcrs(v, TPM2_ALG_SHA256, 0, 23);
	assert_int_equal(tpm_quote_check_pcrs(&a, v, TPM2_ALG_SHA256, &e), 0);
	free(v);
}

static void test_tpm_pcr_digest_sha1_bank_sha256_hash(void **state)
{
	/* a quote over the sha1 bank signed with SHA-256: SHA-256 of 20-byte values */
	static const unsigned sel[] = { 2, 3 };
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	uint8_t cat[40], want[32], got[TPM_DIGEST_MAX];
	TPML_PCR_SELECTION s = { .count = 1 };
	size_t gl = 0;
	(void)state;

	fill_pcrs(v, TPM2_ALG_SHA1, 0, 23);
	set_pcr(&s.pcrSelections[0], TPM2_ALG_SHA1, sel, 2);
	pcr_value(TPM2_ALG_SHA1, 2, cat);
	pcr_value(TPM2_ALG_SHA1, 3, cat + 20);
	sha("SHA256", cat, sizeof(cat), want);
	assert_int_equal(tpm_pcr_digest(&s, v, TPM2_ALG_SHA256, got, &gl, NULL), 0);
	assert_int_equal(gl, 32);
	assert_memory_equal(got, want, 32);
	free(v);
}

static void test_tpm_pcr_digest_bank_order(void **state)
{
	/* banks in list order, PCRs ascending within a bank */
	static const unsigned s256[] = { 1, 0 }, s1[] = { 5 };
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	uint8_t cat[32 + 32 + 20], want[32], got[TPM_DIGEST_MAX];
	TPML_PCR_SELECTION s = { .count = 2 };
	size_t gl = 0;
	(void)state;

	fill_pcrs(v, TPM2_ALG_SHA1, 0, 7);
	fill_pcrs(v, TPM2_ALG_SHA256, 0, 7);
	set_pcr(&s.pcrSelections[0], TPM2_ALG_SHA256, s256, 2);
	set_pcr(&s.pcrSelections[1], TPM2_ALG_SHA1, s1, 1);
	pcr_value(TPM2_ALG_SHA256, 0, cat);
	pcr_value(TPM2_ALG_SHA256, 1, cat + 32);
	pcr_value(TPM2_ALG_SHA1, 5, cat + 64);
	sha("SHA256", cat, sizeof(cat), want);
	assert_int_equal(tpm_pcr_digest(&s, v, TPM2_ALG_SHA256, got, &gl, NULL), 0);
	assert_memory_equal(got, want, 32);
	/* the other bank order gives another digest */
	s.pcrSelections[1] = s.pcrSelections[0];
	set_pcr(&s.pcrSelections[0], TPM2_ALG_SHA1, s1, 1);
	assert_int_equal(tpm_pcr_digest(&s, v, TPM2_ALG_SHA256, got, &gl, NULL), 0);
	assert_memory_not_equal(got, want, 32);
	free(v);
}

static void test_tpm_quote_check_pcrs_bad_missing(void **state)
{
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	struct kagi_err e = { 0 };
	TPMS_ATTEST a;
	(void)state;

	make_attest(&a);
	fill_pcrs(v, TPM2_ALG_SHA256, 0, 6); /* no PCR 7 */
	assert_int_equal(tpm_quote_check_pcrs(&a, v, TPM2_ALG_SHA256, &e), -ENOENT);
	assert_string_equal(e.what, "quote.pcrs.missing");
	assert_non_null(strstr(e.msg, "sha256"));
	assert_non_null(strstr(e.msg, "PCR 7"));
	/* values of another bank do not count */
	memset(v, 0, sizeof(*v));
	fill_pcrs(v, TPM2_ALG_SHA1, 0, 23);
	assert_int_equal(tpm_quote_check_pcrs(&a, v, TPM2_ALG_SHA256, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "PCR 0"));
	free(v);
}

static void test_tpm_quote_check_pcrs_bad_digest(void **state)
{
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	struct kagi_err e = { 0 };
	uint8_t d[32];
	TPMS_ATTEST a;
	(void)state;

	make_attest(&a);
	fill_pcrs(v, TPM2_ALG_SHA256, 0, 23);
	pcr_value(TPM2_ALG_SHA256, 7, d);
	d[0] ^= 1;
	v->bank[0].present[7] = false;
	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 7, d, 32, NULL), 0);
	assert_int_equal(tpm_quote_check_pcrs(&a, v, TPM2_ALG_SHA256, &e), -EBADMSG);
	assert_string_equal(e.what, "quote.pcrs.digest");
	assert_non_null(strstr(e.msg, "3 sha256 PCRs"));
	/* the right values hashed with the wrong algorithm */
	memset(v, 0, sizeof(*v));
	fill_pcrs(v, TPM2_ALG_SHA256, 0, 23);
	assert_int_equal(tpm_quote_check_pcrs(&a, v, TPM2_ALG_SHA384, &e), -EBADMSG);
	assert_string_equal(e.what, "quote.pcrs.digest");
	free(v);
}

static void test_tpm_pcr_values_set_bad(void **state)
{
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	struct kagi_err e = { 0 };
	uint8_t d[32] = { 1 }, d2[32] = { 2 };
	(void)state;

	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 3, d, 32, &e), 0);
	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 3, d, 32, &e), 0);
	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 3, d2, 32, &e), -EINVAL);
	assert_string_equal(e.what, "pcrs.duplicate");
	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 32, d, 32, &e), -EINVAL);
	assert_string_equal(e.what, "pcrs.index");
	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 4, d, 20, &e), -EINVAL);
	assert_string_equal(e.what, "pcrs.value");
	assert_int_equal(tpm_pcr_values_set(v, 0x0099, 4, d, 20, &e), -EINVAL);
	assert_string_equal(e.what, "pcrs.bank");
	free(v);
}

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

#define H20 "0102030405060708090a0b0c0d0e0f1011121314"
#define H32 "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"

static void expect_json(const char *text, int want, const char *what)
{
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	struct kagi_err e = { 0 };
	json_object *o = parse(text);

	v->nbanks = 7; /* untouched on failure */
	assert_int_equal(tpm_pcr_values_from_json(o, v, &e), want);
	if (want < 0) {
		assert_string_equal(e.what, what);
		assert_int_equal(v->nbanks, 7);
	}
	json_object_put(o);
	free(v);
}

static void test_tpm_pcr_values_from_json_formats(void **state)
{
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	json_object *o;
	const uint8_t *p;
	(void)state;

	o = parse("{\"bank\": \"sha256\", \"pcrs\": {\"0\": \"" H32 "\", \"23\": \"" H32 "\"}}");
	assert_int_equal(tpm_pcr_values_from_json(o, v, NULL), 0);
	assert_int_equal(v->nbanks, 1);
	assert_non_null(tpm_pcr_values_get(v, TPM2_ALG_SHA256, 23));
	assert_null(tpm_pcr_values_get(v, TPM2_ALG_SHA256, 1));
	json_object_put(o);

	o = parse("{\"sha1\": {\"5\": \"" H20 "\"}, \"sha256\": {\"5\": \"" H32 "\"}}");
	assert_int_equal(tpm_pcr_values_from_json(o, v, NULL), 0);
	assert_int_equal(v->nbanks, 2);
	p = tpm_pcr_values_get(v, TPM2_ALG_SHA1, 5);
	assert_non_null(p);
	assert_int_equal(p[19], 0x14);
	json_object_put(o);

	o = parse("{\"nonce_hex\": \"9009\", \"quotes\": [{\"bank\": \"sha1\", \"attest\": \"x\", "
		  "\"pcrs\": {\"0\": \"" H20 "\"}}, {\"bank\": \"sha256\", \"pcrs\": {\"1\": "
		  "\"" H32 "\"}}]}");
	assert_int_equal(tpm_pcr_values_from_json(o, v, NULL), 0);
	assert_int_equal(v->nbanks, 2);
	assert_non_null(tpm_pcr_values_get(v, TPM2_ALG_SHA1, 0));
	assert_non_null(tpm_pcr_values_get(v, TPM2_ALG_SHA256, 1));
	json_object_put(o);

	o = parse("{\"hashAlg\": 11, \"pcrs\": [\"" H32 "\", null, \"" H32 "\"]}");
	assert_int_equal(tpm_pcr_values_from_json(o, v, NULL), 0);
	assert_non_null(tpm_pcr_values_get(v, TPM2_ALG_SHA256, 2));
	assert_null(tpm_pcr_values_get(v, TPM2_ALG_SHA256, 1));
	json_object_put(o);

	o = parse("{\"alg\": \"SHA-1\", \"pcrs\": [{\"index\": 9, \"digest\": \"" H20 "\"}]}");
	assert_int_equal(tpm_pcr_values_from_json(o, v, NULL), 0);
	assert_non_null(tpm_pcr_values_get(v, TPM2_ALG_SHA1, 9));
	json_object_put(o);

	o = parse("{\"pcrs\": {\"sha256\": {\"4\": \"" H32 "\"}}}");
	assert_int_equal(tpm_pcr_values_from_json(o, v, NULL), 0);
	assert_non_null(tpm_pcr_values_get(v, TPM2_ALG_SHA256, 4));
	json_object_put(o);
	free(v);
}

static void test_tpm_pcr_values_from_json_bad_hex_length(void **state)
{
	(void)state;
	expect_json("{\"bank\": \"sha256\", \"pcrs\": {\"0\": \"" H20 "\"}}", -EBADMSG,
		    "pcrs.json.value");
	expect_json("{\"sha1\": {\"0\": \"" H32 "\"}}", -EBADMSG, "pcrs.json.value");
	expect_json("{\"sha1\": {\"0\": \"" H20 "0\"}}", -EBADMSG, "pcrs.json.value");
	expect_json("{\"sha1\": {\"0\": \"zz" H20 "\"}}", -EBADMSG, "pcrs.json.value");
	expect_json("{\"sha1\": {\"0\": 5}}", -EBADMSG, "pcrs.json.value");
}

static void test_tpm_pcr_values_from_json_bad_index(void **state)
{
	(void)state;
	expect_json("{\"sha1\": {\"x\": \"" H20 "\"}}", -EBADMSG, "pcrs.json.index");
	expect_json("{\"sha1\": {\"32\": \"" H20 "\"}}", -EBADMSG, "pcrs.json.index");
	expect_json("{\"sha1\": {\"-1\": \"" H20 "\"}}", -EBADMSG, "pcrs.json.index");
	expect_json("{\"bank\": \"sha1\", \"pcrs\": [{\"index\": 40, \"digest\": \"" H20 "\"}]}",
		    -EBADMSG, "pcrs.json.index");
}

static void test_tpm_pcr_values_from_json_bad_bank(void **state)
{
	(void)state;
	expect_json("{\"bank\": \"md5\", \"pcrs\": {\"0\": \"" H20 "\"}}", -EBADMSG,
		    "pcrs.json.bank");
	expect_json("{\"md5\": {\"0\": \"" H20 "\"}}", -EBADMSG, "pcrs.json.format");
	expect_json("[1, 2]", -EBADMSG, "pcrs.json.format");
	expect_json("\"sha1\"", -EBADMSG, "pcrs.json.format");
	expect_json("{\"sha1\": {\"0\": \"" H20 "\"}, \"sha1 \": 1, \"SHA1\": {\"0\": \"" H32
		    "\"}}",
		    -EBADMSG, "pcrs.json.value");
}

static void test_tpm_quote_check_pcrs_real(void **state)
{
	static const char *const quotes[] = { "sha1", "sha256", "sha384" };
	json_object *all = testdata_json("tpmquote/go-tpm-tools/gce-cos-85-nonce9009/"
					 "quotes_pcrs.json");
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	struct kagi_err e = { 0 };
	(void)state;

	assert_int_equal(tpm_pcr_values_from_json(all, v, &e), 0);
	assert_int_equal(v->nbanks, 3);
	for (size_t i = 0; i < ARRAY_SIZE(quotes); i++) {
		char rel[256];
		size_t la = 0;
		uint8_t *buf;
		TPMS_ATTEST a;

		snprintf(rel, sizeof(rel),
			 "tpmquote/go-tpm-tools/gce-cos-85-nonce9009/quote_%s.attest.bin",
			 quotes[i]);
		buf = testdata(rel, &la);
		assert_int_equal(tpm_attest_decode(buf, la, &a, NULL), 0);
		/* every quote here is signed RSASSA-SHA256, whatever the bank */
		assert_int_equal(tpm_quote_check_pcrs(&a, v, TPM2_ALG_SHA256, &e), 0);
		assert_int_equal(tpm_quote_check_nonce(&a, (const uint8_t *)"\x90\x09", 2, &e), 0);
		free(buf);
	}
	json_object_put(all);
	free(v);
}

/* ---- rendering ------------------------------------------------------------------------------- */

static void test_tpm_attest_to_json(void **state)
{
	json_object *o = NULL, *x = NULL, *sel = NULL;
	TPMS_ATTEST a;
	char *h;
	(void)state;

	make_attest(&a);
	assert_int_equal(tpm_attest_to_json(&a, &o), 0);
	assert_true(json_object_object_get_ex(o, "extra_data", &x));
	assert_string_equal(json_object_get_string(x), "9009deadbeef");
	assert_true(json_object_object_get_ex(o, "firmware_version", &x));
	assert_string_equal(json_object_get_string(x), "0x2019102300163636");
	assert_true(json_object_object_get_ex(o, "pcr_select", &sel));
	assert_int_equal(json_object_array_length(sel), 1);
	x = json_object_array_get_idx(sel, 0);
	assert_true(json_object_object_get_ex(x, "bank", &x));
	assert_string_equal(json_object_get_string(x), "sha256");
	x = json_object_array_get_idx(sel, 0);
	assert_true(json_object_object_get_ex(x, "pcrs", &x));
	assert_string_equal(json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN), "[0,1,7]");
	assert_true(json_object_object_get_ex(o, "pcr_digest", &x));
	h = hex_encode_alloc(a.attested.quote.pcrDigest.buffer, 32);
	assert_string_equal(json_object_get_string(x), h);
	free(h);
	json_object_put(o);
}

static int setup(void **state)
{
	(void)state;
	setenv("TSS2_LOG", "all+none", 0);
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	p256_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	p384_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	return rsa_key && p256_key && p384_key ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(p256_key);
	EVP_PKEY_free(p384_key);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tpm_attest_decode_ok),
		cmocka_unit_test(test_tpm_attest_decode_real),
		cmocka_unit_test(test_tpm_attest_decode_bad_magic),
		cmocka_unit_test(test_tpm_attest_decode_bad_type),
		cmocka_unit_test(test_tpm_attest_decode_bad_trailing),
		cmocka_unit_test(test_tpm_attest_decode_bad_truncated),
		cmocka_unit_test(test_tpm_attest_decode_bad_extradata_size),
		cmocka_unit_test(test_tpm_attest_decode_bad_pcrselect),
		cmocka_unit_test(test_tpm_public_decode_real),
		cmocka_unit_test(test_tpm_public_decode_bad_type),
		cmocka_unit_test(test_tpm_public_decode_bad_trailing),
		cmocka_unit_test(test_tpm_public_decode_bad_truncated),
		cmocka_unit_test(test_tpm_public_to_evp_roundtrip),
		cmocka_unit_test(test_tpm_public_to_evp_bad_curve),
		cmocka_unit_test(test_tpm_public_to_evp_bad_point),
		cmocka_unit_test(test_tpm_public_to_evp_bad_type),
		cmocka_unit_test(test_tpm_public_to_evp_bad_rsa_size),
		cmocka_unit_test(test_tpm_public_name_independent),
		cmocka_unit_test(test_tpm_public_name_keylime),
		cmocka_unit_test(test_tpm_public_check_ak_bad_attributes),
		cmocka_unit_test(test_tpm_ak_load_forms),
		cmocka_unit_test(test_tpm_ak_load_bad_key),
		cmocka_unit_test(test_tpm_signature_decode_bad_sigalg),
		cmocka_unit_test(test_tpm_signature_decode_bad_trailing),
		cmocka_unit_test(test_tpm_signature_decode_bad_truncated),
		cmocka_unit_test(test_tpm_signature_decode_any_raw),
		cmocka_unit_test(test_tpm_quote_verify_roundtrip),
		cmocka_unit_test(test_tpm_quote_verify_bad_signature),
		cmocka_unit_test(test_tpm_quote_verify_bad_key),
		cmocka_unit_test(test_tpm_quote_verify_bad_alg),
		cmocka_unit_test(test_tpm_quote_check_scheme_bad),
		cmocka_unit_test(test_tpm_quote_verify_real),
		cmocka_unit_test(test_tpm_quote_check_nonce_bad),
		cmocka_unit_test(test_tpm_quote_check_pcrs_ok),
		cmocka_unit_test(test_tpm_pcr_digest_sha1_bank_sha256_hash),
		cmocka_unit_test(test_tpm_pcr_digest_bank_order),
		cmocka_unit_test(test_tpm_quote_check_pcrs_bad_missing),
		cmocka_unit_test(test_tpm_quote_check_pcrs_bad_digest),
		cmocka_unit_test(test_tpm_pcr_values_set_bad),
		cmocka_unit_test(test_tpm_pcr_values_from_json_formats),
		cmocka_unit_test(test_tpm_pcr_values_from_json_bad_hex_length),
		cmocka_unit_test(test_tpm_pcr_values_from_json_bad_index),
		cmocka_unit_test(test_tpm_pcr_values_from_json_bad_bank),
		cmocka_unit_test(test_tpm_quote_check_pcrs_real),
		cmocka_unit_test(test_tpm_attest_to_json),
	};

	return cmocka_run_group_tests_name("tpm-quote", tests, setup, teardown);
}
