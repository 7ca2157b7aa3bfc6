/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snp-testpki.h: an in-memory AMD-shaped test PKI for unit tests (ARK -> ASK -> VCEK, RSA-PSS
 * SHA-384, VCEK extensions) and report signing, so every verification check can be made to
 * fail on its own. Header-only, static; test code only.
 */
#ifndef KAGI_SNP_TESTPKI_H
#define KAGI_SNP_TESTPKI_H

#include <openssl/evp.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "snp-report.h"

struct testpki_vcek_opts {
	const char *product_name; /* "Milan-B0" */
	long tcb[9];              /* index as snp_cert_claims: 0 fmc, 1 bl, 2 tee, 3 snp, 8 ucode */
	bool turin;
	const uint8_t *hwid;
	size_t hwid_len; /* 0 = VLEK-style (cspID instead) */
	long not_before_days, not_after_days;
};

static inline void testpki_add_ext(X509 *x, const char *oid, const unsigned char *der, int len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;

	ASN1_OCTET_STRING_set(os, der, len);
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
}

static inline void testpki_add_int_ext(X509 *x, const char *oid, long v)
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	unsigned char *der = NULL;
	int len;

	ASN1_INTEGER_set(ai, v);
	len = i2d_ASN1_INTEGER(ai, &der);
	testpki_add_ext(x, oid, der, len);
	OPENSSL_free(der);
	ASN1_INTEGER_free(ai);
}

static inline EVP_PKEY *testpki_rsa(void)
{
	return EVP_RSA_gen(2048);
}

static inline EVP_PKEY *testpki_ec384(void)
{
	return EVP_EC_gen("P-384");
}

static inline X509 *testpki_cert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
				 long nb_days, long na_days, bool pss)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), nb_days * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), na_days * 86400);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"kagi unit test",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, pub);
	EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, issuer_key);
	if (pss) {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48);
	}
	X509_NAME_free(n);
	if (X509_sign_ctx(x, md) <= 0) {
		EVP_MD_CTX_free(md);
		X509_free(x);
		return NULL;
	}
	EVP_MD_CTX_free(md);
	return x;
}

static inline void testpki_vcek_ext(X509 *x, const struct testpki_vcek_opts *o)
{
	static const char *const arcs[9] = { "3.9", "3.1", "3.2", "3.3", "3.4",
					     "3.5", "3.6", "3.7", "3.8" };
	char oid[64];

	if (o->product_name) {
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		unsigned char *der = NULL;
		int len;

		ASN1_STRING_set(s, o->product_name, -1);
		len = i2d_ASN1_IA5STRING(s, &der);
		testpki_add_ext(x, "1.3.6.1.4.1.3704.1.2", der, len);
		OPENSSL_free(der);
		ASN1_IA5STRING_free(s);
	}
	for (int i = 0; i < 9; i++) {
		if (i == 0 && !o->turin)
			continue;
		snprintf(oid, sizeof(oid), "1.3.6.1.4.1.3704.1.%s", arcs[i]);
		testpki_add_int_ext(x, oid, o->tcb[i]);
	}
	if (o->hwid_len) {
		unsigned char der[2 + 64];

		der[0] = 0x04;
		der[1] = (unsigned char)o->hwid_len;
		memcpy(der + 2, o->hwid, o->hwid_len);
		testpki_add_ext(x, "1.3.6.1.4.1.3704.1.4", der, (int)o->hwid_len + 2);
	} else {
		unsigned char der[] = { 0x16, 0x03, 'c', 's', 'p' };

		testpki_add_ext(x, "1.3.6.1.4.1.3704.1.5", der, sizeof(der));
	}
}

/* VCEK certificate for pub, signed by ASK; extensions added before signing. */
static inline X509 *testpki_vcek(EVP_PKEY *pub, X509 *ask, EVP_PKEY *ask_key,
				 const struct testpki_vcek_opts *o)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 2);
	X509_gmtime_adj(X509_getm_notBefore(x), o->not_before_days * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x),
			(o->not_after_days ? o->not_after_days : 365) * 86400);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)(o->hwid_len ? "SEV-VCEK" : "SEV-VLEK"),
				   -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, X509_get_subject_name(ask));
	X509_set_pubkey(x, pub);
	testpki_vcek_ext(x, o);
	EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, ask_key);
	EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
	EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48);
	X509_sign_ctx(x, md);
	EVP_MD_CTX_free(md);
	X509_NAME_free(n);
	return x;
}

/* Sign rep with key (ECDSA P-384 SHA-384) and encode it into out. */
static inline void testpki_sign_report(struct snp_report *rep, EVP_PKEY *key,
				       uint8_t out[SNP_REPORT_SIZE])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[128];
	const unsigned char *p = der;
	size_t derlen = sizeof(der);
	ECDSA_SIG *sig;
	uint8_t r[48], s[48];

	snp_report_encode(rep, out);
	EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key);
	EVP_DigestSign(md, der, &derlen, out, SNP_REPORT_SIGNED_SIZE);
	EVP_MD_CTX_free(md);
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	BN_bn2binpad(ECDSA_SIG_get0_r(sig), r, 48);
	BN_bn2binpad(ECDSA_SIG_get0_s(sig), s, 48);
	ECDSA_SIG_free(sig);
	snp_report_set_signature_rs(rep, r, s);
	snp_report_encode(rep, out);
}

#endif
