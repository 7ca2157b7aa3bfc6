// SPDX-License-Identifier: Apache-2.0
/*
 * tpm-quote.c: TPM 2.0 quote codec and verification.
 *
 * All TPM structures are (un)marshaled by tss2-mu. When a tss2-mu call refuses an input, the
 * structure is walked again field by field, still with tss2-mu, only to name the field and the
 * offset that failed. Signatures are checked with OpenSSL 3 (EVP), keys built with
 * OSSL_PARAM_BLD + EVP_PKEY_fromdata.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "reader.h"
#include "tpm-quote.h"
#include "util.h"

/* ---- algorithms ------------------------------------------------------------------------------ */

struct hash_info {
	TPMI_ALG_HASH alg;
	const char *name; /* kagi / tpm2-tools spelling */
	const char *ossl; /* OpenSSL fetch name */
	size_t size;
};

static const struct hash_info hashes[] = {
	{ TPM2_ALG_SHA1, "sha1", "SHA1", 20 },
	{ TPM2_ALG_SHA256, "sha256", "SHA2-256", 32 },
	{ TPM2_ALG_SHA384, "sha384", "SHA2-384", 48 },
	{ TPM2_ALG_SHA512, "sha512", "SHA2-512", 64 },
	{ TPM2_ALG_SM3_256, "sm3_256", "SM3", 32 },
	{ TPM2_ALG_SHA3_256, "sha3_256", "SHA3-256", 32 },
	{ TPM2_ALG_SHA3_384, "sha3_384", "SHA3-384", 48 },
	{ TPM2_ALG_SHA3_512, "sha3_512", "SHA3-512", 64 },
};

static const struct {
	TPM2_ALG_ID alg;
	const char *name;
} alg_names[] = {
	{ TPM2_ALG_RSA, "rsa" },
	{ TPM2_ALG_KEYEDHASH, "keyedhash" },
	{ TPM2_ALG_ECC, "ecc" },
	{ TPM2_ALG_SYMCIPHER, "symcipher" },
	{ TPM2_ALG_NULL, "null" },
	{ TPM2_ALG_RSASSA, "rsassa" },
	{ TPM2_ALG_RSAPSS, "rsapss" },
	{ TPM2_ALG_ECDSA, "ecdsa" },
	{ TPM2_ALG_ECDAA, "ecdaa" },
	{ TPM2_ALG_SM2, "sm2" },
	{ TPM2_ALG_ECSCHNORR, "ecschnorr" },
	{ TPM2_ALG_HMAC, "hmac" },
	{ TPM2_ALG_RSAES, "rsaes" },
	{ TPM2_ALG_OAEP, "oaep" },
	{ TPM2_ALG_AES, "aes" },
};

static const struct {
	TPMI_ECC_CURVE curve;
	const char *name;
	const char *ossl; /* NULL: not supported for AKs */
	size_t bytes;
} curves[] = {
	{ TPM2_ECC_NIST_P192, "nist_p192", NULL, 24 },
	{ TPM2_ECC_NIST_P224, "nist_p224", NULL, 28 },
	{ TPM2_ECC_NIST_P256, "nist_p256", "prime256v1", 32 },
	{ TPM2_ECC_NIST_P384, "nist_p384", "secp384r1", 48 },
	{ TPM2_ECC_NIST_P521, "nist_p521", "secp521r1", 66 },
	{ TPM2_ECC_BN_P256, "bn_p256", NULL, 32 },
	{ TPM2_ECC_BN_P638, "bn_p638", NULL, 80 },
	{ TPM2_ECC_SM2_P256, "sm2_p256", NULL, 32 },
};

static const struct hash_info *hash_find(TPMI_ALG_HASH alg)
{
	for (size_t i = 0; i < ARRAY_SIZE(hashes); i++)
		if (hashes[i].alg == alg)
			return &hashes[i];
	return NULL;
}

size_t tpm_hash_size(TPMI_ALG_HASH alg)
{
	const struct hash_info *h = hash_find(alg);

	return h ? h->size : 0;
}

const char *tpm_alg_name(TPM2_ALG_ID alg)
{
	const struct hash_info *h = hash_find(alg);

	if (h)
		return h->name;
	for (size_t i = 0; i < ARRAY_SIZE(alg_names); i++)
		if (alg_names[i].alg == alg)
			return alg_names[i].name;
	return NULL;
}

const char *tpm_curve_name(TPMI_ECC_CURVE curve)
{
	for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
		if (curves[i].curve == curve)
			return curves[i].name;
	return NULL;
}

/* Lowercase, without '-' and '_': "SHA-256" and "sha_256" both become "sha256". */
static void name_fold(const char *in, char *out, size_t len)
{
	size_t j = 0;

	for (; *in && j + 1 < len; in++) {
		if (*in == '-' || *in == '_')
			continue;
		out[j++] = (char)((*in >= 'A' && *in <= 'Z') ? *in - 'A' + 'a' : *in);
	}
	out[j] = '\0';
}

int tpm_hash_from_name(const char *name, TPMI_ALG_HASH *ret)
{
	char a[32], b[32];

	if (!name || strlen(name) >= sizeof(a))
		return -EINVAL;
	name_fold(name, a, sizeof(a));
	for (size_t i = 0; i < ARRAY_SIZE(hashes); i++) {
		name_fold(hashes[i].name, b, sizeof(b));
		if (streq(a, b) || (hashes[i].alg == TPM2_ALG_SM3_256 && streq(a, "sm3"))) {
			*ret = hashes[i].alg;
			return 0;
		}
	}
	return -EINVAL;
}

static EVP_MD *md_fetch(TPMI_ALG_HASH alg)
{
	const struct hash_info *h = hash_find(alg);
	EVP_MD *md;

	if (!h)
		return NULL;
	md = EVP_MD_fetch(NULL, h->ossl, NULL);
	if (!md)
		ERR_clear_error();
	return md;
}

int tpm_hash(TPMI_ALG_HASH alg, const uint8_t *buf, size_t len, uint8_t *out, size_t *ret_len)
{
	EVP_MD *md = md_fetch(alg);
	unsigned int n = 0;
	int ok;

	if (!md)
		return -EOPNOTSUPP;
	ok = EVP_Digest(buf, len, out, &n, md, NULL);
	EVP_MD_free(md);
	if (!ok) {
		ERR_clear_error();
		return -EIO;
	}
	*ret_len = n;
	return 0;
}

static const char *alg_str(TPM2_ALG_ID alg, char *buf, size_t len)
{
	const char *n = tpm_alg_name(alg);

	if (n)
		return n;
	snprintf(buf, len, "0x%04x", alg);
	return buf;
}

/* Hex of up to 80 bytes for messages, "(empty)" for none. */
static const char *hex_short(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	size_t n = len > 80 ? 80 : len;

	if (len == 0) {
		snprintf(out, outlen, "(empty)");
		return out;
	}
	if (outlen < 2 * n + 4) {
		snprintf(out, outlen, "...");
		return out;
	}
	hex_encode(p, n, out);
	if (n < len)
		strcat(out, "...");
	return out;
}

/* ---- tss2-mu failure diagnosis --------------------------------------------------------------- */

/*
 * Turn a failed tss2-mu unmarshal at offset `at` into a message. `field` is the spec name,
 * `tpm2b_max` the buffer size when the field is a TPM2B (0 otherwise), so the size it declares
 * can be shown.
 */
static int mu_fail(TSS2_RC rc, const uint8_t *buf, size_t len, size_t at, size_t base,
		   const char *what, const char *field, size_t tpm2b_max, struct kagi_err *reterr)
{
	unsigned code = rc & 0xffff;

	if (tpm2b_max && at + 2 <= len) {
		unsigned sz = get_be16(buf + at);

		if (sz > tpm2b_max)
			return kagi_err_set(reterr, -EBADMSG, what, base + at,
					    "%s declares %u bytes, more than its maximum %zu",
					    field, sz, tpm2b_max);
		if (sz > len - at - 2)
			return kagi_err_set(reterr, -EBADMSG, what, base + at,
					    "%s declares %u bytes, only %zu left", field, sz,
					    len - at - 2);
	}
	if (code == TSS2_BASE_RC_INSUFFICIENT_BUFFER)
		return kagi_err_set(reterr, -EBADMSG, what, base + at,
				    "%s truncated: only %zu bytes left", field, len - at);
	if (code == TSS2_BASE_RC_BAD_SIZE)
		return kagi_err_set(reterr, -EBADMSG, what, base + at,
				    "%s has a size or count out of range", field);
	if (code == TSS2_BASE_RC_BAD_VALUE)
		return kagi_err_set(reterr, -EBADMSG, what, base + at,
				    "%s holds an invalid value (selector or size)", field);
	/* e.g. TSS2_SYS_RC_MALFORMED_RESPONSE for a PCR selection count or sizeofSelect */
	return kagi_err_set(reterr, -EBADMSG, what, base + at,
			    "%s is malformed or out of range (tss2-mu 0x%x)", field, rc);
}

#define MU_STEP(call, what, field, max)                                                            \
	do {                                                                                       \
		size_t at_ = off;                                                                  \
		TSS2_RC rc_ = (call);                                                              \
		if (rc_ != TSS2_RC_SUCCESS)                                                        \
			return mu_fail(rc_, buf, len, at_, base, what, field, max, reterr);        \
	} while (0)

/* ---- TPMS_ATTEST ----------------------------------------------------------------------------- */

static int attest_check_header(uint32_t magic, TPM2_ST type, struct kagi_err *reterr)
{
	if (magic != TPM2_GENERATED_VALUE)
		return kagi_err_set(reterr, -EBADMSG, "quote.attest.magic", 0,
				    "magic is 0x%08x, expected TPM_GENERATED_VALUE 0x%08x", magic,
				    TPM2_GENERATED_VALUE);
	if (type != TPM2_ST_ATTEST_QUOTE)
		return kagi_err_set(reterr, -EBADMSG, "quote.attest.type", 4,
				    "type is 0x%04x, expected TPM_ST_ATTEST_QUOTE 0x%04x", type,
				    TPM2_ST_ATTEST_QUOTE);
	return 0;
}

static int attest_diagnose(const uint8_t *buf, size_t len, struct kagi_err *reterr)
{
	TPMS_ATTEST a;
	size_t off = 0, base = 0;
	int r;

	memset(&a, 0, sizeof(a));
	MU_STEP(Tss2_MU_UINT32_Unmarshal(buf, len, &off, &a.magic), "quote.attest.magic", "magic",
		0);
	if (a.magic != TPM2_GENERATED_VALUE)
		return attest_check_header(a.magic, TPM2_ST_ATTEST_QUOTE, reterr);
	MU_STEP(Tss2_MU_TPM2_ST_Unmarshal(buf, len, &off, &a.type), "quote.attest.type", "type", 0);
	r = attest_check_header(a.magic, a.type, reterr);
	if (r < 0)
		return r;
	MU_STEP(Tss2_MU_TPM2B_NAME_Unmarshal(buf, len, &off, &a.qualifiedSigner),
		"quote.attest.qualifiedSigner", "qualifiedSigner (TPM2B_NAME)",
		sizeof(a.qualifiedSigner.name));
	MU_STEP(Tss2_MU_TPM2B_DATA_Unmarshal(buf, len, &off, &a.extraData),
		"quote.attest.extraData", "extraData (TPM2B_DATA)", sizeof(a.extraData.buffer));
	MU_STEP(Tss2_MU_TPMS_CLOCK_INFO_Unmarshal(buf, len, &off, &a.clockInfo),
		"quote.attest.clockInfo", "clockInfo (TPMS_CLOCK_INFO)", 0);
	MU_STEP(Tss2_MU_UINT64_Unmarshal(buf, len, &off, &a.firmwareVersion),
		"quote.attest.firmwareVersion", "firmwareVersion", 0);
	MU_STEP(Tss2_MU_TPML_PCR_SELECTION_Unmarshal(buf, len, &off, &a.attested.quote.pcrSelect),
		"quote.attest.pcrSelect",
		"pcrSelect (TPML_PCR_SELECTION: count <= 16, sizeofSelect <= 4)", 0);
	MU_STEP(Tss2_MU_TPM2B_DIGEST_Unmarshal(buf, len, &off, &a.attested.quote.pcrDigest),
		"quote.attest.pcrDigest", "pcrDigest (TPM2B_DIGEST)",
		sizeof(a.attested.quote.pcrDigest.buffer));
	return kagi_err_set(reterr, -EBADMSG, "quote.attest", KAGI_ERR_NO_OFFSET,
			    "tss2-mu refuses the TPMS_ATTEST");
}

int tpm_attest_decode(const uint8_t *buf, size_t len, TPMS_ATTEST *ret, struct kagi_err *reterr)
{
	TPMS_ATTEST a;
	size_t off = 0;
	TSS2_RC rc;
	int r;

	if (!buf)
		len = 0;
	memset(&a, 0, sizeof(a));
	rc = Tss2_MU_TPMS_ATTEST_Unmarshal(buf ? buf : (const uint8_t *)"", len, &off, &a);
	if (rc != TSS2_RC_SUCCESS)
		return attest_diagnose(buf ? buf : (const uint8_t *)"", len, reterr);
	r = attest_check_header(a.magic, a.type, reterr);
	if (r < 0)
		return r;
	if (off != len)
		return kagi_err_set(reterr, -EBADMSG, "quote.attest.trailing", off,
				    "%zu bytes after the %zu-byte TPMS_ATTEST", len - off, off);
	*ret = a;
	return 0;
}

/* ---- TPMT_PUBLIC ----------------------------------------------------------------------------- */

static bool public_type_known(TPMI_ALG_PUBLIC t)
{
	return t == TPM2_ALG_RSA || t == TPM2_ALG_ECC || t == TPM2_ALG_KEYEDHASH ||
	       t == TPM2_ALG_SYMCIPHER;
}

/* Walk a TPMT_PUBLIC at buf[0..len) (which sits at `base` in the caller's input). */
static int public_diagnose(const uint8_t *buf, size_t len, size_t base, struct kagi_err *reterr)
{
	TPMT_PUBLIC p;
	size_t off = 0;

	memset(&p, 0, sizeof(p));
	MU_STEP(Tss2_MU_UINT16_Unmarshal(buf, len, &off, &p.type), "tpm.public.type", "type", 0);
	if (!public_type_known(p.type))
		return kagi_err_set(reterr, -EBADMSG, "tpm.public.type", base,
				    "object type 0x%04x is not rsa 0x0001, ecc 0x0023, keyedhash "
				    "0x0008 or symcipher 0x0025",
				    p.type);
	MU_STEP(Tss2_MU_UINT16_Unmarshal(buf, len, &off, &p.nameAlg), "tpm.public.nameAlg",
		"nameAlg", 0);
	MU_STEP(Tss2_MU_TPMA_OBJECT_Unmarshal(buf, len, &off, &p.objectAttributes),
		"tpm.public.objectAttributes", "objectAttributes", 0);
	MU_STEP(Tss2_MU_TPM2B_DIGEST_Unmarshal(buf, len, &off, &p.authPolicy),
		"tpm.public.authPolicy", "authPolicy (TPM2B_DIGEST)", sizeof(p.authPolicy.buffer));
	MU_STEP(Tss2_MU_TPMU_PUBLIC_PARMS_Unmarshal(buf, len, &off, p.type, &p.parameters),
		"tpm.public.parameters", "parameters", 0);
	MU_STEP(Tss2_MU_TPMU_PUBLIC_ID_Unmarshal(buf, len, &off, p.type, &p.unique),
		"tpm.public.unique", "unique", 0);
	return kagi_err_set(reterr, -EBADMSG, "tpm.public", base,
			    "tss2-mu refuses the TPMT_PUBLIC");
}

int tpm_public_decode(const uint8_t *buf, size_t len, TPMT_PUBLIC *ret, struct kagi_err *reterr)
{
	bool sized = buf && len >= 2 && get_be16(buf) == len - 2;
	TPMT_PUBLIC pub;
	size_t off = 0;
	TSS2_RC rc;

	if (!buf)
		return kagi_err_set(reterr, -EBADMSG, "tpm.public.type", 0, "empty input");
	if (sized) {
		TPM2B_PUBLIC p2;

		memset(&p2, 0, sizeof(p2)); /* tss2-mu wants size 0 on entry */
		rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &p2);
		if (rc == TSS2_RC_SUCCESS && off == len) {
			*ret = p2.publicArea;
			return 0;
		}
		off = 0;
	}
	memset(&pub, 0, sizeof(pub));
	rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(buf, len, &off, &pub);
	if (rc != TSS2_RC_SUCCESS) {
		/* The size prefix made TPM2B_PUBLIC the likelier reading: explain that one. */
		if (sized)
			return public_diagnose(buf + 2, len - 2, 2, reterr);
		/* Not a type, and more than what follows: a TPM2B_PUBLIC cut short. */
		if (len >= 2 && !public_type_known(get_be16(buf)) && get_be16(buf) > len - 2)
			return kagi_err_set(reterr, -EBADMSG, "tpm.public.size", 0,
					    "neither a TPMT_PUBLIC (type 0x%04x is unknown) nor a "
					    "TPM2B_PUBLIC (size %u, but %zu bytes follow)",
					    get_be16(buf), get_be16(buf), len - 2);
		return public_diagnose(buf, len, 0, reterr);
	}
	if (off != len)
		return kagi_err_set(reterr, -EBADMSG, "tpm.public.trailing", off,
				    "%zu bytes after the %zu-byte TPMT_PUBLIC", len - off, off);
	*ret = pub;
	return 0;
}

/* ---- TPMT_SIGNATURE -------------------------------------------------------------------------- */

static int signature_diagnose(const uint8_t *buf, size_t len, struct kagi_err *reterr)
{
	TPMT_SIGNATURE s;
	size_t off = 0, base = 0, at;
	TSS2_RC rc;
	char a[16];

	memset(&s, 0, sizeof(s));
	MU_STEP(Tss2_MU_UINT16_Unmarshal(buf, len, &off, &s.sigAlg), "tpm.signature.sigAlg",
		"sigAlg", 0);
	at = off;
	rc = Tss2_MU_TPMU_SIGNATURE_Unmarshal(buf, len, &off, s.sigAlg, &s.signature);
	if ((rc & 0xffff) == TSS2_BASE_RC_BAD_VALUE)
		return kagi_err_set(reterr, -EBADMSG, "tpm.signature.sigAlg", 0,
				    "sigAlg %s is not a signature scheme",
				    alg_str(s.sigAlg, a, sizeof(a)));
	if (rc != TSS2_RC_SUCCESS)
		return mu_fail(rc, buf, len, at, 0, "tpm.signature.body",
			       "signature body (hash, then TPM2B values)", 0, reterr);
	return kagi_err_set(reterr, -EBADMSG, "tpm.signature", KAGI_ERR_NO_OFFSET,
			    "tss2-mu refuses the TPMT_SIGNATURE");
}

int tpm_signature_decode(const uint8_t *buf, size_t len, TPMT_SIGNATURE *ret,
			 struct kagi_err *reterr)
{
	TPMT_SIGNATURE s;
	size_t off = 0;
	TSS2_RC rc;

	if (!buf)
		return kagi_err_set(reterr, -EBADMSG, "tpm.signature.sigAlg", 0, "empty input");
	memset(&s, 0, sizeof(s));
	rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(buf, len, &off, &s);
	if (rc != TSS2_RC_SUCCESS)
		return signature_diagnose(buf, len, reterr);
	if (off != len)
		return kagi_err_set(reterr, -EBADMSG, "tpm.signature.trailing", off,
				    "%zu bytes after the %zu-byte TPMT_SIGNATURE", len - off, off);
	*ret = s;
	return 0;
}

int tpm_signature_from_raw_rsassa(const uint8_t *sig, size_t len, TPMI_ALG_HASH hash,
				  TPMT_SIGNATURE *ret, struct kagi_err *reterr)
{
	TPMT_SIGNATURE s;

	if (!hash_find(hash))
		return kagi_err_set(reterr, -EINVAL, "tpm.signature.hash", KAGI_ERR_NO_OFFSET,
				    "unknown hash algorithm 0x%04x", hash);
	if (len == 0 || len > sizeof(s.signature.rsassa.sig.buffer))
		return kagi_err_set(reterr, -EBADMSG, "tpm.signature.size", KAGI_ERR_NO_OFFSET,
				    "raw RSA signature is %zu bytes, expected 1..%zu", len,
				    sizeof(s.signature.rsassa.sig.buffer));
	memset(&s, 0, sizeof(s));
	s.sigAlg = TPM2_ALG_RSASSA;
	s.signature.rsassa.hash = hash;
	s.signature.rsassa.sig.size = (UINT16)len;
	memcpy(s.signature.rsassa.sig.buffer, sig, len);
	*ret = s;
	return 0;
}

int tpm_signature_decode_any(const uint8_t *buf, size_t len, EVP_PKEY *ak, TPMT_SIGNATURE *ret,
			     bool *ret_raw, struct kagi_err *reterr)
{
	struct kagi_err e = { 0 };
	TPMT_SIGNATURE s;
	int r, keysize = 0;

	r = tpm_signature_decode(buf, len, &s, &e);
	if (r >= 0) {
		*ret = s;
		if (ret_raw)
			*ret_raw = false;
		return 0;
	}
	if (ak && EVP_PKEY_get_base_id(ak) == EVP_PKEY_RSA)
		keysize = EVP_PKEY_get_size(ak);
	if (keysize > 0 && len == (size_t)keysize) {
		r = tpm_signature_from_raw_rsassa(buf, len, TPM2_ALG_SHA256, ret, reterr);
		if (r >= 0 && ret_raw)
			*ret_raw = true;
		return r;
	}
	if (reterr) {
		*reterr = e;
		if (keysize > 0)
			kagi_err_prefix(
				reterr, r,
				"not a TPMT_SIGNATURE, nor a raw RSASSA signature (%zu bytes, "
				"the AK modulus is %d)",
				len, keysize);
		else
			kagi_err_prefix(reterr, r, "not a TPMT_SIGNATURE");
	}
	return r;
}

/* ---- keys ------------------------------------------------------------------------------------ */

static int evp_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL, *cctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r = -EBADMSG;

	if (!params)
		return -ENOMEM;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!ctx) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!cctx || EVP_PKEY_public_check(cctx) != 1)
		goto out;
	*ret = pkey;
	pkey = NULL;
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	OSSL_PARAM_free(params);
	return r;
}

static int rsa_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret, struct kagi_err *reterr)
{
	const TPM2B_PUBLIC_KEY_RSA *n = &pub->unique.rsa;
	unsigned bits = pub->parameters.rsaDetail.keyBits;
	uint32_t e =
		pub->parameters.rsaDetail.exponent ? pub->parameters.rsaDetail.exponent : 65537;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn = NULL, *be = NULL;
	int r = -ENOMEM;

	if (n->size == 0 || n->size > sizeof(n->buffer) || (unsigned)n->size * 8 != bits)
		return kagi_err_set(reterr, -EBADMSG, "tpm.public.rsa.size", KAGI_ERR_NO_OFFSET,
				    "unique.rsa is %u bytes, keyBits says %u bits", n->size, bits);
	bn = BN_bin2bn(n->buffer, n->size, NULL);
	be = BN_new();
	bld = OSSL_PARAM_BLD_new();
	if (!bn || !be || !bld || !BN_set_word(be, e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		goto out;
	r = evp_from_params("RSA", bld, ret);
	if (r == -EBADMSG)
		kagi_err_set(reterr, r, "tpm.public.rsa.key", KAGI_ERR_NO_OFFSET,
			     "the %u-bit modulus with exponent %" PRIu32
			     " fails OpenSSL's public key check",
			     bits, e);
out:
	ERR_clear_error();
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return r;
}

static int ecc_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret, struct kagi_err *reterr)
{
	TPMI_ECC_CURVE curve = pub->parameters.eccDetail.curveID;
	const TPMS_ECC_POINT *q = &pub->unique.ecc;
	uint8_t point[1 + 2 * 66];
	const char *group = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	size_t fb = 0;
	char cbuf[16];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
		if (curves[i].curve == curve) {
			group = curves[i].ossl;
			fb = curves[i].bytes;
		}
	if (!group) {
		const char *cn = tpm_curve_name(curve);

		if (!cn) {
			snprintf(cbuf, sizeof(cbuf), "0x%04x", curve);
			cn = cbuf;
		}
		return kagi_err_set(reterr, -EOPNOTSUPP, "tpm.public.ecc.curve", KAGI_ERR_NO_OFFSET,
				    "curve %s is not supported (nist_p256, nist_p384, nist_p521)",
				    cn);
	}
	if (q->x.size == 0 || q->x.size > fb || q->y.size == 0 || q->y.size > fb)
		return kagi_err_set(reterr, -EBADMSG, "tpm.public.ecc.point", KAGI_ERR_NO_OFFSET,
				    "point coordinates are %u and %u bytes, expected 1..%zu",
				    q->x.size, q->y.size, fb);
	/* 04 || x || y, each coordinate left-padded to the field size */
	memset(point, 0, sizeof(point));
	point[0] = 0x04;
	memcpy(point + 1 + fb - q->x.size, q->x.buffer, q->x.size);
	memcpy(point + 1 + 2 * fb - q->y.size, q->y.buffer, q->y.size);
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * fb)) {
		OSSL_PARAM_BLD_free(bld);
		ERR_clear_error();
		return -ENOMEM;
	}
	r = evp_from_params("EC", bld, ret);
	OSSL_PARAM_BLD_free(bld);
	if (r == -EBADMSG)
		kagi_err_set(reterr, r, "tpm.public.ecc.point", KAGI_ERR_NO_OFFSET,
			     "(x, y) is not a valid point on %s", tpm_curve_name(curve));
	return r;
}

int tpm_public_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret, struct kagi_err *reterr)
{
	char a[16];

	switch (pub->type) {
	case TPM2_ALG_RSA:
		return rsa_to_evp(pub, ret, reterr);
	case TPM2_ALG_ECC:
		return ecc_to_evp(pub, ret, reterr);
	default:
		return kagi_err_set(reterr, -EOPNOTSUPP, "tpm.public.type", KAGI_ERR_NO_OFFSET,
				    "object type %s is not an asymmetric key type kagi supports "
				    "(rsa, ecc)",
				    alg_str(pub->type, a, sizeof(a)));
	}
}

int tpm_public_name(const TPMT_PUBLIC *pub, uint8_t *ret, size_t *ret_len)
{
	uint8_t m[sizeof(TPMT_PUBLIC)];
	uint8_t d[TPM_DIGEST_MAX];
	size_t off = 0, dl = 0;
	int r;

	if (!hash_find(pub->nameAlg))
		return -EOPNOTSUPP;
	if (Tss2_MU_TPMT_PUBLIC_Marshal(pub, m, sizeof(m), &off) != TSS2_RC_SUCCESS)
		return -EINVAL;
	r = tpm_hash(pub->nameAlg, m, off, d, &dl);
	if (r < 0)
		return r;
	ret[0] = (uint8_t)(pub->nameAlg >> 8);
	ret[1] = (uint8_t)pub->nameAlg;
	memcpy(ret + 2, d, dl);
	*ret_len = 2 + dl;
	return 0;
}

int tpm_public_check_ak(const TPMT_PUBLIC *pub, struct kagi_err *reterr)
{
	static const struct {
		TPMA_OBJECT bit;
		const char *name;
	} need[] = {
		{ TPMA_OBJECT_FIXEDTPM, "fixedTPM" },
		{ TPMA_OBJECT_FIXEDPARENT, "fixedParent" },
		{ TPMA_OBJECT_SENSITIVEDATAORIGIN, "sensitiveDataOrigin" },
		{ TPMA_OBJECT_RESTRICTED, "restricted" },
		{ TPMA_OBJECT_SIGN_ENCRYPT, "sign" },
	};
	TPMA_OBJECT at = pub->objectAttributes;
	char a[16];

	if (pub->type != TPM2_ALG_RSA && pub->type != TPM2_ALG_ECC)
		return kagi_err_set(reterr, -EBADMSG, "ak.type", KAGI_ERR_NO_OFFSET,
				    "AK type is %s, expected rsa or ecc",
				    alg_str(pub->type, a, sizeof(a)));
	for (size_t i = 0; i < ARRAY_SIZE(need); i++)
		if (!(at & need[i].bit))
			return kagi_err_set(reterr, -EBADMSG, "ak.attributes", KAGI_ERR_NO_OFFSET,
					    "AK objectAttributes 0x%08" PRIx32
					    " lack %s (an AK needs fixedTPM, fixedParent, "
					    "sensitiveDataOrigin, restricted and sign)",
					    at, need[i].name);
	if (at & TPMA_OBJECT_DECRYPT)
		return kagi_err_set(reterr, -EBADMSG, "ak.attributes", KAGI_ERR_NO_OFFSET,
				    "AK objectAttributes 0x%08" PRIx32
				    " have decrypt set: an AK must be a signing-only key",
				    at);
	return 0;
}

static int ak_key_check(EVP_PKEY *pkey, struct kagi_err *reterr)
{
	int id = EVP_PKEY_get_base_id(pkey);

	if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
		int bits = EVP_PKEY_get_bits(pkey);

		if (bits < TPM_AK_RSA_MIN_BITS)
			return kagi_err_set(reterr, -EBADMSG, "ak.rsa.bits", KAGI_ERR_NO_OFFSET,
					    "RSA AK has %d bits, at least %d are required", bits,
					    TPM_AK_RSA_MIN_BITS);
		return 0;
	}
	if (id == EVP_PKEY_EC) {
		char g[64] = "";

		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, g, sizeof(g),
						   NULL) != 1)
			ERR_clear_error();
		for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
			if (curves[i].ossl && streq(curves[i].ossl, g))
				return 0;
		return kagi_err_set(reterr, -EOPNOTSUPP, "ak.ec.curve", KAGI_ERR_NO_OFFSET,
				    "EC AK on curve '%s', expected P-256, P-384 or P-521",
				    g[0] ? g : "(explicit or unknown)");
	}
	return kagi_err_set(reterr, -EOPNOTSUPP, "ak.type", KAGI_ERR_NO_OFFSET,
			    "AK key type %s is neither RSA nor EC",
			    EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
}

static bool starts_with_pem(const uint8_t *buf, size_t len)
{
	static const char tag[] = "-----BEGIN ";
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return len - i >= sizeof(tag) - 1 && memcmp(buf + i, tag, sizeof(tag) - 1) == 0;
}

int tpm_ak_load(const uint8_t *buf, size_t len, EVP_PKEY **ret, TPMT_PUBLIC *ret_pub,
		bool *ret_has_tpmt, struct kagi_err *reterr)
{
	EVP_PKEY *pkey = NULL;
	TPMT_PUBLIC pub;
	bool has_tpmt = false;
	int r;

	if (!buf || len == 0)
		return kagi_err_set(reterr, -EBADMSG, "ak.format", KAGI_ERR_NO_OFFSET,
				    "empty AK input");
	if (starts_with_pem(buf, len)) {
		BIO *bio;

		if (len > INT_MAX)
			return kagi_err_set(reterr, -EFBIG, "ak.pem", KAGI_ERR_NO_OFFSET,
					    "PEM input too large");
		bio = BIO_new_mem_buf(buf, (int)len);
		if (!bio)
			return -ENOMEM;
		pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
		ERR_clear_error();
		if (!pkey)
			return kagi_err_set(reterr, -EBADMSG, "ak.pem", KAGI_ERR_NO_OFFSET,
					    "PEM input is not a SubjectPublicKeyInfo "
					    "(-----BEGIN PUBLIC KEY-----)");
	} else {
		const uint8_t *p = buf;

		if (buf[0] == 0x30 && len <= LONG_MAX) {
			pkey = d2i_PUBKEY(NULL, &p, (long)len);
			ERR_clear_error();
			if (pkey && p != buf + len) {
				EVP_PKEY_free(pkey);
				pkey = NULL;
			}
		}
		if (!pkey) {
			r = tpm_public_decode(buf, len, &pub, reterr);
			if (r < 0)
				return kagi_err_prefix(reterr, r,
						       "neither PEM nor DER SubjectPublicKeyInfo, "
						       "and as TPMT_PUBLIC/TPM2B_PUBLIC");
			r = tpm_public_to_evp(&pub, &pkey, reterr);
			if (r < 0)
				return r;
			has_tpmt = true;
		}
	}
	r = ak_key_check(pkey, reterr);
	if (r < 0) {
		EVP_PKEY_free(pkey);
		return r;
	}
	*ret = pkey;
	if (ret_pub && has_tpmt)
		*ret_pub = pub;
	if (ret_has_tpmt)
		*ret_has_tpmt = has_tpmt;
	return 0;
}

/* ---- signature verification ------------------------------------------------------------------ */

int tpm_signature_hash(const TPMT_SIGNATURE *sig, TPMI_ALG_HASH *ret)
{
	switch (sig->sigAlg) {
	case TPM2_ALG_RSASSA:
		*ret = sig->signature.rsassa.hash;
		return 0;
	case TPM2_ALG_RSAPSS:
		*ret = sig->signature.rsapss.hash;
		return 0;
	case TPM2_ALG_ECDSA:
		*ret = sig->signature.ecdsa.hash;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

const char *tpm_signature_describe(const TPMT_SIGNATURE *sig, char *buf, size_t len)
{
	TPMI_ALG_HASH h;
	char a[16], b[16];

	if (tpm_signature_hash(sig, &h) < 0)
		snprintf(buf, len, "%s", alg_str(sig->sigAlg, a, sizeof(a)));
	else
		snprintf(buf, len, "%s-%s", alg_str(sig->sigAlg, a, sizeof(a)),
			 alg_str(h, b, sizeof(b)));
	return buf;
}

/* 1 valid, 0 does not verify, negative errno if verification could not be set up. */
static int verify_one(EVP_PKEY *key, const EVP_MD *md, int padding, int saltlen, const uint8_t *sig,
		      size_t siglen, const uint8_t *msg, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int r = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key) <= 0)
		goto out;
	if (padding) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, padding) <= 0)
			goto out;
		if (padding == RSA_PKCS1_PSS_PADDING &&
		    (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) <= 0 ||
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0))
			goto out;
	}
	r = EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1 ? 1 : 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return r;
}

static const char *key_kind(EVP_PKEY *k)
{
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return "RSA";
	case EVP_PKEY_EC:
		return "EC";
	default:
		return EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "unknown";
	}
}

static int ecdsa_der(const TPMS_SIGNATURE_ECC *e, uint8_t **ret, size_t *ret_len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
	BIGNUM *sv = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
	unsigned char *der = NULL;
	int n;

	if (!s || !r || !sv || !ECDSA_SIG_set0(s, r, sv)) {
		ECDSA_SIG_free(s);
		BN_free(r);
		BN_free(sv);
		ERR_clear_error();
		return -ENOMEM;
	}
	n = i2d_ECDSA_SIG(s, &der);
	ECDSA_SIG_free(s);
	if (n <= 0) {
		ERR_clear_error();
		return -ENOMEM;
	}
	*ret = der;
	*ret_len = (size_t)n;
	return 0;
}

int tpm_quote_verify_signature(const uint8_t *attest, size_t attest_len, const TPMT_SIGNATURE *sig,
			       EVP_PKEY *ak, struct kagi_err *reterr)
{
	const char *need = NULL;
	TPMI_ALG_HASH h;
	EVP_MD *md = NULL;
	char desc[48], a[16];
	int id = EVP_PKEY_get_base_id(ak), r, ok = 0;

	tpm_signature_describe(sig, desc, sizeof(desc));
	if (tpm_signature_hash(sig, &h) < 0)
		return kagi_err_set(reterr, -EOPNOTSUPP, "quote.signature.alg", KAGI_ERR_NO_OFFSET,
				    "signature scheme %s is not supported (rsassa, rsapss, ecdsa)",
				    alg_str(sig->sigAlg, a, sizeof(a)));
	md = md_fetch(h);
	if (!md)
		return kagi_err_set(reterr, -EOPNOTSUPP, "quote.signature.hash", KAGI_ERR_NO_OFFSET,
				    "signature hash %s is not supported", alg_str(h, a, sizeof(a)));

	if (sig->sigAlg == TPM2_ALG_RSASSA && id != EVP_PKEY_RSA)
		need = "RSA";
	else if (sig->sigAlg == TPM2_ALG_RSAPSS && id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS)
		need = "RSA";
	else if (sig->sigAlg == TPM2_ALG_ECDSA && id != EVP_PKEY_EC)
		need = "EC";
	if (need) {
		r = kagi_err_set(reterr, -EBADMSG, "quote.signature.key", KAGI_ERR_NO_OFFSET,
				 "%s signature needs an %s AK, the AK is %s", desc, need,
				 key_kind(ak));
		goto out;
	}

	if (sig->sigAlg == TPM2_ALG_ECDSA) {
		uint8_t *der = NULL;
		size_t derlen = 0;

		if (sig->signature.ecdsa.signatureR.size == 0 ||
		    sig->signature.ecdsa.signatureS.size == 0) {
			r = kagi_err_set(reterr, -EBADMSG, "quote.signature.size",
					 KAGI_ERR_NO_OFFSET, "ECDSA r or s is empty");
			goto out;
		}
		r = ecdsa_der(&sig->signature.ecdsa, &der, &derlen);
		if (r < 0)
			goto out;
		ok = verify_one(ak, md, 0, 0, der, derlen, attest, attest_len);
		OPENSSL_free(der);
	} else {
		const TPM2B_PUBLIC_KEY_RSA *s = sig->sigAlg == TPM2_ALG_RSASSA
							? &sig->signature.rsassa.sig
							: &sig->signature.rsapss.sig;
		int ksz = EVP_PKEY_get_size(ak);

		if (ksz <= 0 || s->size != (size_t)ksz) {
			r = kagi_err_set(reterr, -EBADMSG, "quote.signature.size",
					 KAGI_ERR_NO_OFFSET,
					 "%s signature is %u bytes, the AK modulus is %d bytes",
					 desc, s->size, ksz);
			goto out;
		}
		if (sig->sigAlg == TPM2_ALG_RSASSA) {
			ok = verify_one(ak, md, RSA_PKCS1_PADDING, 0, s->buffer, s->size, attest,
					attest_len);
		} else {
			/* salt = digest length (libtpms, FIPS TPMs), else the maximum (Part 1 B.7) */
			ok = verify_one(ak, md, RSA_PKCS1_PSS_PADDING, RSA_PSS_SALTLEN_DIGEST,
					s->buffer, s->size, attest, attest_len);
			if (ok == 0)
				ok = verify_one(ak, md, RSA_PKCS1_PSS_PADDING, RSA_PSS_SALTLEN_MAX,
						s->buffer, s->size, attest, attest_len);
		}
	}
	if (ok < 0) {
		r = kagi_err_set(reterr, ok, "quote.signature", KAGI_ERR_NO_OFFSET,
				 "cannot set up %s verification with the %s AK", desc,
				 key_kind(ak));
		goto out;
	}
	if (ok == 0) {
		r = kagi_err_set(reterr, -EBADMSG, "quote.signature", KAGI_ERR_NO_OFFSET,
				 "%s signature over the %zu-byte TPMS_ATTEST does not verify "
				 "with the %d-bit %s AK",
				 desc, attest_len, EVP_PKEY_get_bits(ak), key_kind(ak));
		goto out;
	}
	r = 0;
out:
	EVP_MD_free(md);
	return r;
}

int tpm_quote_check_scheme(const TPMT_PUBLIC *ak, const TPMT_SIGNATURE *sig,
			   struct kagi_err *reterr)
{
	TPMI_ALG_HASH sh = TPM2_ALG_NULL, kh;
	TPMI_ALG_SIG_SCHEME ks;
	char a[16], b[16], c[16], d[16];

	if (ak->type == TPM2_ALG_RSA) {
		ks = ak->parameters.rsaDetail.scheme.scheme;
		kh = ak->parameters.rsaDetail.scheme.details.anySig.hashAlg;
	} else if (ak->type == TPM2_ALG_ECC) {
		ks = ak->parameters.eccDetail.scheme.scheme;
		kh = ak->parameters.eccDetail.scheme.details.anySig.hashAlg;
	} else {
		return 0;
	}
	if (ks == TPM2_ALG_NULL)
		return 0;
	(void)tpm_signature_hash(sig, &sh);
	if (sig->sigAlg != ks || sh != kh)
		return kagi_err_set(reterr, -EBADMSG, "quote.signature.scheme", KAGI_ERR_NO_OFFSET,
				    "signature is %s-%s, the AK's scheme is %s-%s",
				    alg_str(sig->sigAlg, a, sizeof(a)), alg_str(sh, b, sizeof(b)),
				    alg_str(ks, c, sizeof(c)), alg_str(kh, d, sizeof(d)));
	return 0;
}

int tpm_quote_check_nonce(const TPMS_ATTEST *a, const uint8_t *nonce, size_t len,
			  struct kagi_err *reterr)
{
	const TPM2B_DATA *x = &a->extraData;
	char exp[2 * 80 + 4], act[2 * 80 + 4];

	if (x->size == len && (len == 0 || CRYPTO_memcmp(x->buffer, nonce, len) == 0))
		return 0;
	return kagi_err_set(reterr, -EBADMSG, "quote.nonce", KAGI_ERR_NO_OFFSET,
			    "extraData is %s (%u bytes), expected nonce %s (%zu bytes)",
			    hex_short(x->buffer, x->size, act, sizeof(act)), x->size,
			    hex_short(nonce, len, exp, sizeof(exp)), len);
}

/* ---- PCR values ------------------------------------------------------------------------------ */

static struct tpm_pcr_bank *bank_find(const struct tpm_pcr_values *v, TPMI_ALG_HASH alg)
{
	for (size_t i = 0; i < v->nbanks && i < TPM_PCR_BANKS_MAX; i++)
		if (v->bank[i].alg == alg)
			return (struct tpm_pcr_bank *)&v->bank[i];
	return NULL;
}

int tpm_pcr_values_set(struct tpm_pcr_values *v, TPMI_ALG_HASH alg, unsigned idx,
		       const uint8_t *digest, size_t len, struct kagi_err *reterr)
{
	size_t ds = tpm_hash_size(alg);
	struct tpm_pcr_bank *b;
	char a[16];

	if (!ds)
		return kagi_err_set(reterr, -EINVAL, "pcrs.bank", KAGI_ERR_NO_OFFSET,
				    "unknown PCR bank hash 0x%04x", alg);
	if (idx >= TPM_PCR_MAX)
		return kagi_err_set(reterr, -EINVAL, "pcrs.index", KAGI_ERR_NO_OFFSET,
				    "PCR index %u, expected 0..%d", idx, TPM_PCR_MAX - 1);
	if (len != ds)
		return kagi_err_set(reterr, -EINVAL, "pcrs.value", KAGI_ERR_NO_OFFSET,
				    "%s PCR %u value is %zu bytes, expected %zu",
				    alg_str(alg, a, sizeof(a)), idx, len, ds);
	b = bank_find(v, alg);
	if (!b) {
		if (v->nbanks >= TPM_PCR_BANKS_MAX)
			return kagi_err_set(reterr, -E2BIG, "pcrs.banks", KAGI_ERR_NO_OFFSET,
					    "more than %d PCR banks", TPM_PCR_BANKS_MAX);
		b = &v->bank[v->nbanks++];
		memset(b, 0, sizeof(*b));
		b->alg = alg;
	}
	if (b->present[idx]) {
		if (memcmp(b->value[idx], digest, ds) != 0)
			return kagi_err_set(reterr, -EINVAL, "pcrs.duplicate", KAGI_ERR_NO_OFFSET,
					    "two different values for %s PCR %u",
					    alg_str(alg, a, sizeof(a)), idx);
		return 0;
	}
	memcpy(b->value[idx], digest, ds);
	b->present[idx] = true;
	return 0;
}

const uint8_t *tpm_pcr_values_get(const struct tpm_pcr_values *v, TPMI_ALG_HASH alg, unsigned idx)
{
	const struct tpm_pcr_bank *b = bank_find(v, alg);

	if (!b || idx >= TPM_PCR_MAX || !b->present[idx])
		return NULL;
	return b->value[idx];
}

/* Bank from a JSON string ("sha256", "SHA-256", "0x000b", "11") or integer. */
static int json_bank(json_object *o, TPMI_ALG_HASH *ret)
{
	uint64_t u;

	if (json_object_is_type(o, json_type_int)) {
		int64_t i = json_object_get_int64(o);

		if (i < 0 || i > 0xffff || !hash_find((TPMI_ALG_HASH)i))
			return -EINVAL;
		*ret = (TPMI_ALG_HASH)i;
		return 0;
	}
	if (!json_object_is_type(o, json_type_string))
		return -EINVAL;
	if (tpm_hash_from_name(json_object_get_string(o), ret) == 0)
		return 0;
	if (parse_u64(json_object_get_string(o), &u) == 0 && u <= 0xffff &&
	    hash_find((TPMI_ALG_HASH)u)) {
		*ret = (TPMI_ALG_HASH)u;
		return 0;
	}
	return -EINVAL;
}

/* A PCR index key: decimal digits only, 0..TPM_PCR_MAX-1. */
static int parse_index(const char *s, unsigned *ret)
{
	unsigned v = 0;

	if (!*s || strlen(s) > 2)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v >= TPM_PCR_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int json_pcr_value(json_object *val, TPMI_ALG_HASH alg, unsigned idx,
			  struct tpm_pcr_values *v, struct kagi_err *reterr)
{
	uint8_t d[TPM_DIGEST_MAX];
	size_t ds = tpm_hash_size(alg);
	const char *s;
	char a[16];

	if (!json_object_is_type(val, json_type_string))
		return kagi_err_set(reterr, -EBADMSG, "pcrs.json.value", KAGI_ERR_NO_OFFSET,
				    "%s PCR %u: value is not a hex string",
				    alg_str(alg, a, sizeof(a)), idx);
	s = json_object_get_string(val);
	if (strlen(s) != 2 * ds || hex_decode(s, d, ds) < 0)
		return kagi_err_set(reterr, -EBADMSG, "pcrs.json.value", KAGI_ERR_NO_OFFSET,
				    "%s PCR %u: '%.140s' is not %zu hex digits",
				    alg_str(alg, a, sizeof(a)), idx, s, 2 * ds);
	return tpm_pcr_values_set(v, alg, idx, d, ds, reterr);
}

/* {"0": "hex", ...} or ["hex", ...] or [{"index": 0, "digest": "hex"}, ...] */
static int json_bank_values(json_object *pcrs, TPMI_ALG_HASH alg, struct tpm_pcr_values *v,
			    struct kagi_err *reterr)
{
	char a[16];
	int r;

	if (json_object_is_type(pcrs, json_type_object)) {
		json_object_object_foreach(pcrs, key, val)
		{
			unsigned idx;

			if (parse_index(key, &idx) < 0)
				return kagi_err_set(
					reterr, -EBADMSG, "pcrs.json.index", KAGI_ERR_NO_OFFSET,
					"%s: key '%.64s' is not a PCR index 0..%d",
					alg_str(alg, a, sizeof(a)), key, TPM_PCR_MAX - 1);
			r = json_pcr_value(val, alg, idx, v, reterr);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (json_object_is_type(pcrs, json_type_array)) {
		size_t n = json_object_array_length(pcrs);

		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(pcrs, i), *jx = NULL, *jd = NULL;
			int64_t idx;

			if (!e)
				continue;
			if (json_object_is_type(e, json_type_string)) {
				if (i >= TPM_PCR_MAX)
					return kagi_err_set(reterr, -EBADMSG, "pcrs.json.index",
							    KAGI_ERR_NO_OFFSET,
							    "%s: more than %d values in the list",
							    alg_str(alg, a, sizeof(a)),
							    TPM_PCR_MAX);
				r = json_pcr_value(e, alg, (unsigned)i, v, reterr);
				if (r < 0)
					return r;
				continue;
			}
			if (!json_object_is_type(e, json_type_object) ||
			    (!json_object_object_get_ex(e, "index", &jx) &&
			     !json_object_object_get_ex(e, "pcr", &jx)) ||
			    (!json_object_object_get_ex(e, "digest", &jd) &&
			     !json_object_object_get_ex(e, "value", &jd)) ||
			    !json_object_is_type(jx, json_type_int))
				return kagi_err_set(
					reterr, -EBADMSG, "pcrs.json.format", KAGI_ERR_NO_OFFSET,
					"%s: list entry %zu is neither a hex string nor "
					"{\"index\": n, \"digest\": \"hex\"}",
					alg_str(alg, a, sizeof(a)), i);
			idx = json_object_get_int64(jx);
			if (idx < 0 || idx >= TPM_PCR_MAX)
				return kagi_err_set(
					reterr, -EBADMSG, "pcrs.json.index", KAGI_ERR_NO_OFFSET,
					"%s: PCR index %" PRId64 ", expected 0..%d",
					alg_str(alg, a, sizeof(a)), idx, TPM_PCR_MAX - 1);
			r = json_pcr_value(jd, alg, (unsigned)idx, v, reterr);
			if (r < 0)
				return r;
		}
		return 0;
	}
	return kagi_err_set(reterr, -EBADMSG, "pcrs.json.format", KAGI_ERR_NO_OFFSET,
			    "%s: PCR values must be an object or a list",
			    alg_str(alg, a, sizeof(a)));
}

/* {"sha1": {...}, "sha256": {...}}: keys that are not hash names are ignored. */
static int json_banks(json_object *o, struct tpm_pcr_values *v, struct kagi_err *reterr)
{
	unsigned found = 0;
	int r;

	json_object_object_foreach(o, key, val)
	{
		TPMI_ALG_HASH alg;

		if (tpm_hash_from_name(key, &alg) < 0)
			continue;
		r = json_bank_values(val, alg, v, reterr);
		if (r < 0)
			return r;
		found++;
	}
	if (!found)
		return kagi_err_set(reterr, -EBADMSG, "pcrs.json.format", KAGI_ERR_NO_OFFSET,
				    "no PCR bank found: expected {\"bank\": \"sha256\", \"pcrs\": "
				    "{...}} or {\"sha256\": {\"0\": \"hex\", ...}}");
	return 0;
}

static int json_pcrs_any(json_object *o, struct tpm_pcr_values *v, unsigned depth,
			 struct kagi_err *reterr)
{
	static const char *const bank_keys[] = { "bank", "alg", "hash", "hashAlg", "hash_alg" };
	json_object *x = NULL, *b = NULL;
	int r;

	if (depth > 4)
		return kagi_err_set(reterr, -EBADMSG, "pcrs.json.format", KAGI_ERR_NO_OFFSET,
				    "PCR values nested too deeply");
	if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);

		for (size_t i = 0; i < n; i++) {
			r = json_pcrs_any(json_object_array_get_idx(o, i), v, depth + 1, reterr);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!json_object_is_type(o, json_type_object))
		return kagi_err_set(reterr, -EBADMSG, "pcrs.json.format", KAGI_ERR_NO_OFFSET,
				    "expected a JSON object or list of PCR values");
	if (json_object_object_get_ex(o, "quotes", &x) && json_object_is_type(x, json_type_array))
		return json_pcrs_any(x, v, depth + 1, reterr);
	if (json_object_object_get_ex(o, "pcrs", &x)) {
		for (size_t i = 0; i < ARRAY_SIZE(bank_keys) && !b; i++)
			json_object_object_get_ex(o, bank_keys[i], &b);
		if (b) {
			TPMI_ALG_HASH alg;

			if (json_bank(b, &alg) < 0)
				return kagi_err_set(reterr, -EBADMSG, "pcrs.json.bank",
						    KAGI_ERR_NO_OFFSET,
						    "bank '%.64s' is not a known hash algorithm",
						    json_object_get_string(b));
			return json_bank_values(x, alg, v, reterr);
		}
		if (json_object_is_type(x, json_type_object))
			return json_banks(x, v, reterr);
		return kagi_err_set(reterr, -EBADMSG, "pcrs.json.bank", KAGI_ERR_NO_OFFSET,
				    "\"pcrs\" given without a \"bank\"");
	}
	if (json_object_object_get_ex(o, "banks", &x) && json_object_is_type(x, json_type_object))
		return json_banks(x, v, reterr);
	return json_banks(o, v, reterr);
}

int tpm_pcr_values_from_json(json_object *o, struct tpm_pcr_values *ret, struct kagi_err *reterr)
{
	struct tpm_pcr_values *v;
	int r;

	if (!o)
		return kagi_err_set(reterr, -EBADMSG, "pcrs.json.format", KAGI_ERR_NO_OFFSET,
				    "no JSON value");
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = json_pcrs_any(o, v, 0, reterr);
	if (r >= 0)
		memcpy(ret, v, sizeof(*v));
	free(v);
	return r;
}

/* ---- pcrDigest ------------------------------------------------------------------------------- */

static bool pcr_selected(const TPMS_PCR_SELECTION *s, unsigned pcr)
{
	return pcr / 8 < s->sizeofSelect && (s->pcrSelect[pcr / 8] >> (pcr % 8)) & 1;
}

int tpm_pcr_digest(const TPML_PCR_SELECTION *sel, const struct tpm_pcr_values *v,
		   TPMI_ALG_HASH hash, uint8_t *out, size_t *ret_len, struct kagi_err *reterr)
{
	EVP_MD *md = md_fetch(hash);
	EVP_MD_CTX *ctx = NULL;
	unsigned int n = 0;
	char a[16];
	int r;

	if (!md)
		return kagi_err_set(reterr, -EOPNOTSUPP, "quote.pcrs.hash", KAGI_ERR_NO_OFFSET,
				    "hash %s is not supported", alg_str(hash, a, sizeof(a)));
	if (sel->count > TPM2_NUM_PCR_BANKS) {
		r = kagi_err_set(reterr, -EBADMSG, "quote.pcrs.select", KAGI_ERR_NO_OFFSET,
				 "selection has %" PRIu32 " banks, at most %d", sel->count,
				 TPM2_NUM_PCR_BANKS);
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < sel->count; i++) {
		const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
		size_t bs = tpm_hash_size(s->hash);

		if (!bs) {
			r = kagi_err_set(reterr, -EOPNOTSUPP, "quote.pcrs.bank", KAGI_ERR_NO_OFFSET,
					 "selection %" PRIu32 " is for bank 0x%04x, which kagi "
					 "does not know",
					 i, s->hash);
			goto out;
		}
		if (s->sizeofSelect > TPM2_PCR_SELECT_MAX) {
			r = kagi_err_set(reterr, -EBADMSG, "quote.pcrs.select", KAGI_ERR_NO_OFFSET,
					 "sizeofSelect %u, at most %d", s->sizeofSelect,
					 TPM2_PCR_SELECT_MAX);
			goto out;
		}
		for (unsigned pcr = 0; pcr < 8u * s->sizeofSelect; pcr++) {
			const uint8_t *val;

			if (!pcr_selected(s, pcr))
				continue;
			val = tpm_pcr_values_get(v, s->hash, pcr);
			if (!val) {
				r = kagi_err_set(reterr, -ENOENT, "quote.pcrs.missing",
						 KAGI_ERR_NO_OFFSET,
						 "no %s value for PCR %u, which the quote selects",
						 alg_str(s->hash, a, sizeof(a)), pcr);
				goto out;
			}
			if (EVP_DigestUpdate(ctx, val, bs) != 1) {
				r = -EIO;
				goto out;
			}
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, &n) != 1) {
		r = -EIO;
		goto out;
	}
	*ret_len = n;
	r = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	return r;
}

unsigned tpm_pcr_selection_count(const TPML_PCR_SELECTION *sel)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++)
		for (unsigned pcr = 0; pcr < TPM_PCR_MAX; pcr++)
			n += pcr_selected(&sel->pcrSelections[i], pcr);
	return n;
}

const char *tpm_pcr_selection_describe(const TPML_PCR_SELECTION *sel, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
		unsigned n = 0;
		char a[16];
		int w;

		for (unsigned pcr = 0; pcr < TPM_PCR_MAX; pcr++)
			n += pcr_selected(s, pcr);
		if (!n)
			continue;
		w = snprintf(buf + used, len - used, "%s%u %s PCR%s", used ? " and " : "", n,
			     alg_str(s->hash, a, sizeof(a)), n == 1 ? "" : "s");
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	if (!used)
		snprintf(buf, len, "no PCRs");
	return buf;
}

int tpm_quote_check_pcrs(const TPMS_ATTEST *a, const struct tpm_pcr_values *v,
			 TPMI_ALG_HASH sig_hash, struct kagi_err *reterr)
{
	const TPM2B_DIGEST *q = &a->attested.quote.pcrDigest;
	uint8_t d[TPM_DIGEST_MAX];
	char hq[2 * 80 + 4], hc[2 * 80 + 4], sel[128], h[16];
	size_t dl = 0;
	int r;

	if (a->type != TPM2_ST_ATTEST_QUOTE)
		return kagi_err_set(reterr, -EINVAL, "quote.attest.type", KAGI_ERR_NO_OFFSET,
				    "not a quote (type 0x%04x)", a->type);
	r = tpm_pcr_digest(&a->attested.quote.pcrSelect, v, sig_hash, d, &dl, reterr);
	if (r < 0)
		return r;
	if (q->size == dl && CRYPTO_memcmp(q->buffer, d, dl) == 0)
		return 0;
	return kagi_err_set(
		reterr, -EBADMSG, "quote.pcrs.digest", KAGI_ERR_NO_OFFSET,
		"pcrDigest in the quote is %s, but %s over the %s given is %s",
		hex_short(q->buffer, q->size, hq, sizeof(hq)), alg_str(sig_hash, h, sizeof(h)),
		tpm_pcr_selection_describe(&a->attested.quote.pcrSelect, sel, sizeof(sel)),
		hex_short(d, dl, hc, sizeof(hc)));
}

/* ---- rendering ------------------------------------------------------------------------------- */

/* "0-7,14,23" */
static const char *pcr_list(const TPMS_PCR_SELECTION *s, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned p = 0; p < TPM_PCR_MAX; p++) {
		unsigned q = p;
		int w;

		if (!pcr_selected(s, p))
			continue;
		while (q + 1 < TPM_PCR_MAX && pcr_selected(s, q + 1))
			q++;
		if (q > p)
			w = snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", p, q);
		else
			w = snprintf(buf + used, len - used, "%s%u", used ? "," : "", p);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
		p = q;
	}
	if (!used)
		snprintf(buf, len, "none");
	return buf;
}

static json_object *json_hex(const uint8_t *p, size_t len)
{
	char *s = hex_encode_alloc(p, len);
	json_object *o;

	if (!s)
		return NULL;
	o = json_object_new_string(s);
	free(s);
	return o;
}

static int json_add(json_object *o, const char *key, json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(o, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

int tpm_attest_to_json(const TPMS_ATTEST *a, json_object **ret)
{
	json_object *o = json_object_new_object(), *ci = NULL, *sel = NULL;
	char buf[32];
	int r = -ENOMEM;

	if (!o)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "0x%08" PRIx32, a->magic);
	if (json_add(o, "magic", json_object_new_string(buf)) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "0x%04x", a->type);
	if (json_add(o, "type", json_object_new_string(buf)) < 0 ||
	    json_add(o, "qualified_signer",
		     json_hex(a->qualifiedSigner.name, a->qualifiedSigner.size)) < 0 ||
	    json_add(o, "extra_data", json_hex(a->extraData.buffer, a->extraData.size)) < 0)
		goto fail;
	ci = json_object_new_object();
	if (!ci || json_add(ci, "clock", json_object_new_uint64(a->clockInfo.clock)) < 0 ||
	    json_add(ci, "reset_count", json_object_new_int64(a->clockInfo.resetCount)) < 0 ||
	    json_add(ci, "restart_count", json_object_new_int64(a->clockInfo.restartCount)) < 0 ||
	    json_add(ci, "safe", json_object_new_boolean(a->clockInfo.safe)) < 0) {
		json_object_put(ci);
		goto fail;
	}
	if (json_add(o, "clock_info", ci) < 0)
		goto fail;
	snprintf(buf, sizeof(buf), "0x%016" PRIx64, a->firmwareVersion);
	if (json_add(o, "firmware_version", json_object_new_string(buf)) < 0)
		goto fail;
	if (a->type == TPM2_ST_ATTEST_QUOTE) {
		const TPML_PCR_SELECTION *ps = &a->attested.quote.pcrSelect;

		sel = json_object_new_array();
		if (!sel)
			goto fail;
		for (uint32_t i = 0; i < ps->count && i < TPM2_NUM_PCR_BANKS; i++) {
			const TPMS_PCR_SELECTION *s = &ps->pcrSelections[i];
			json_object *e = json_object_new_object(), *l = json_object_new_array();
			char an[16];

			if (!e || !l) {
				json_object_put(e);
				json_object_put(l);
				json_object_put(sel);
				goto fail;
			}
			for (unsigned p = 0; p < TPM_PCR_MAX; p++)
				if (pcr_selected(s, p))
					json_object_array_add(l, json_object_new_int((int)p));
			if (json_add(e, "bank",
				     json_object_new_string(alg_str(s->hash, an, sizeof(an)))) <
				    0 ||
			    json_add(e, "pcrs", l) < 0 || json_object_array_add(sel, e) < 0) {
				json_object_put(e);
				json_object_put(sel);
				goto fail;
			}
		}
		if (json_add(o, "pcr_select", sel) < 0 ||
		    json_add(o, "pcr_digest",
			     json_hex(a->attested.quote.pcrDigest.buffer,
				      a->attested.quote.pcrDigest.size)) < 0)
			goto fail;
	}
	*ret = o;
	return 0;
fail:
	json_object_put(o);
	return r;
}

void tpm_attest_print(const TPMS_ATTEST *a, FILE *f)
{
	char *h;

	fprintf(f, "magic:            0x%08" PRIx32 "%s\n", a->magic,
		a->magic == TPM2_GENERATED_VALUE ? " (TPM_GENERATED_VALUE)" : "");
	fprintf(f, "type:             0x%04x%s\n", a->type,
		a->type == TPM2_ST_ATTEST_QUOTE ? " (TPM_ST_ATTEST_QUOTE)" : "");
	h = hex_encode_alloc(a->qualifiedSigner.name, a->qualifiedSigner.size);
	fprintf(f, "qualified signer: %s\n", h ? h : "?");
	free(h);
	h = hex_encode_alloc(a->extraData.buffer, a->extraData.size);
	fprintf(f, "extra data:       %s (%u bytes)\n", h && *h ? h : "(empty)", a->extraData.size);
	free(h);
	fprintf(f,
		"clock:            %" PRIu64 " ms, reset count %" PRIu32 ", restart count %" PRIu32
		", safe %s\n",
		a->clockInfo.clock, a->clockInfo.resetCount, a->clockInfo.restartCount,
		a->clockInfo.safe ? "yes" : "no");
	fprintf(f, "firmware version: 0x%016" PRIx64 "\n", a->firmwareVersion);
	if (a->type != TPM2_ST_ATTEST_QUOTE)
		return;
	for (uint32_t i = 0; i < a->attested.quote.pcrSelect.count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *s = &a->attested.quote.pcrSelect.pcrSelections[i];
		char an[16], l[128];

		fprintf(f, "pcr selection:    %s: %s\n", alg_str(s->hash, an, sizeof(an)),
			pcr_list(s, l, sizeof(l)));
	}
	h = hex_encode_alloc(a->attested.quote.pcrDigest.buffer, a->attested.quote.pcrDigest.size);
	fprintf(f, "pcr digest:       %s\n", h ? h : "?");
	free(h);
}
