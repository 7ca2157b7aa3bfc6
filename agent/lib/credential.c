// SPDX-License-Identifier: Apache-2.0
/*
 * credential.c: key release crypto (contrib/verifier/PROTOCOL.md section 3, spec README 6.5).
 *
 * MakeCredential in software for an RSA-2048 EK (TPM 2.0 Part 1 sections 24 and 38):
 *   seed       = 32 random bytes (digest size of the EK nameAlg, SHA-256)
 *   secret     = RSA-OAEP(EK, SHA-256, MGF1-SHA-256, label "IDENTITY\0"; seed)
 *   symKey     = KDFa(SHA-256, seed, "STORAGE", AK Name, empty, 128)
 *   hmacKey    = KDFa(SHA-256, seed, "INTEGRITY", empty, empty, 256)
 *   encIdentity = AES-128-CFB(symKey, IV 0, u16_be(len) || credential)
 *   outerHMAC  = HMAC-SHA-256(hmacKey, encIdentity || AK Name)
 *   blob       = u16_be(32) || outerHMAC || encIdentity
 * Volume keys are sealed with AES-256-GCM under K; the direct path derives K with ECDH + HKDF.
 * Every buffer that held K, the seed or a derived key is wiped before it goes out of scope.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "credential.h"
#include "log.h"
#include "proto.h"
#include "reader.h"
#include "tpm-quote.h"

#define SEED_SIZE        32 /* SHA-256, the EK nameAlg */
#define SYM_KEY_BITS     128
#define HMAC_KEY_BITS    256
#define EK_RSA_BITS      2048
#define KDFA_MAX_BITS    8192
#define SEAL_AAD_TAG_LEN 12 /* "kagi-key-v1\0" */

static const char identity_label[] = "IDENTITY";  /* 9 bytes with the NUL */
static const char seal_aad_tag[] = "kagi-key-v1"; /* 12 bytes with the NUL */
static const char ecdh_info[] = "kagi-ecdh-v1";   /* 13 bytes with the NUL */
_Static_assert(sizeof(seal_aad_tag) == SEAL_AAD_TAG_LEN, "AAD tag length");

/* Log the OpenSSL error queue at debug and clear it; returns r. */
static int ossl_fail(int r, const char *what)
{
	unsigned long e = ERR_peek_last_error();

	log_debug("credential: %s failed: %s", what, e ? ERR_reason_error_string(e) : "unknown");
	ERR_clear_error();
	return r;
}

static const char *kdfa_md_name(TPMI_ALG_HASH alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return "SHA1";
	case TPM2_ALG_SHA256:
		return "SHA256";
	case TPM2_ALG_SHA384:
		return "SHA384";
	case TPM2_ALG_SHA512:
		return "SHA512";
	default:
		return NULL;
	}
}

struct part {
	const void *p;
	size_t len;
};

/* HMAC(md, key, concatenation of parts) into out (EVP_MAC_CTX, so several parts need no copy). */
static int hmac_parts(const char *md, const uint8_t *key, size_t key_len, const struct part *parts,
		      size_t n, uint8_t *out, size_t out_size, size_t *ret_len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0),
		OSSL_PARAM_construct_end(),
	};
	size_t len = 0;
	int r = -EIO;

	if (!ctx || EVP_MAC_init(ctx, key, key_len, params) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (parts[i].len && EVP_MAC_update(ctx, parts[i].p, parts[i].len) != 1)
			goto out;
	if (EVP_MAC_final(ctx, out, &len, out_size) != 1)
		goto out;
	*ret_len = len;
	r = 0;
out:
	if (r < 0)
		ossl_fail(r, "HMAC");
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int credential_kdfa(TPMI_ALG_HASH alg, const uint8_t *key, size_t key_len, const char *label,
		    const uint8_t *ctx_u, size_t u_len, const uint8_t *ctx_v, size_t v_len,
		    unsigned bits, uint8_t *out)
{
	const char *md = kdfa_md_name(alg);
	size_t hlen = tpm_hash_size(alg), want = bits / 8, done = 0;
	uint8_t counter[4], bits_be[4], block[TPM_DIGEST_MAX];
	int r = 0;

	if (!md || !hlen || !label || !out || (!key && key_len) || (!ctx_u && u_len) ||
	    (!ctx_v && v_len))
		return -EINVAL;
	if (bits == 0 || bits % 8 != 0 || bits > KDFA_MAX_BITS)
		return -EINVAL;
	put_be32(bits_be, bits);
	for (uint32_t i = 1; done < want; i++) {
		/* u32_be(i) || label (with its NUL) || contextU || contextV || u32_be(bits) */
		struct part parts[] = {
			{ counter, sizeof(counter) },
			{ label, strlen(label) + 1 },
			{ ctx_u, u_len },
			{ ctx_v, v_len },
			{ bits_be, sizeof(bits_be) },
		};
		size_t n = 0, take;

		put_be32(counter, i);
		r = hmac_parts(md, key, key_len, parts, sizeof(parts) / sizeof(parts[0]), block,
			       sizeof(block), &n);
		if (r < 0)
			break;
		take = want - done < n ? want - done : n;
		memcpy(out + done, block, take);
		done += take;
	}
	OPENSSL_cleanse(block, sizeof(block));
	if (r < 0)
		OPENSSL_cleanse(out, want);
	return r;
}

/* The checks MakeCredential needs: an RSA-2048 storage-style EK with SHA-256 nameAlg and an
 * AES-128-CFB symmetric definition (the L-1 template, spec README 5.2). */
static int ek_check(const TPMT_PUBLIC *ek, struct kagi_err *reterr)
{
	const TPMS_RSA_PARMS *p = &ek->parameters.rsaDetail;
	TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;

	if (ek->type != TPM2_ALG_RSA)
		return kagi_err_set(reterr, -EINVAL, "credential.ek", KAGI_ERR_NO_OFFSET,
				    "EK type is 0x%04x, expected RSA (0x%04x)", ek->type,
				    TPM2_ALG_RSA);
	if (ek->nameAlg != TPM2_ALG_SHA256)
		return kagi_err_set(reterr, -EINVAL, "credential.ek", KAGI_ERR_NO_OFFSET,
				    "EK nameAlg is 0x%04x, expected SHA-256 (0x%04x)", ek->nameAlg,
				    TPM2_ALG_SHA256);
	if ((ek->objectAttributes & need) != need ||
	    (ek->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT))
		return kagi_err_set(reterr, -EINVAL, "credential.ek", KAGI_ERR_NO_OFFSET,
				    "EK attributes 0x%08x are not those of a restricted decryption "
				    "key",
				    ek->objectAttributes);
	if (p->symmetric.algorithm != TPM2_ALG_AES || p->symmetric.keyBits.aes != SYM_KEY_BITS ||
	    p->symmetric.mode.aes != TPM2_ALG_CFB)
		return kagi_err_set(reterr, -EINVAL, "credential.ek", KAGI_ERR_NO_OFFSET,
				    "EK symmetric definition is 0x%04x/%u/0x%04x, expected "
				    "AES-128-CFB (0x%04x/%u/0x%04x)",
				    p->symmetric.algorithm, p->symmetric.keyBits.aes,
				    p->symmetric.mode.aes, TPM2_ALG_AES, SYM_KEY_BITS,
				    TPM2_ALG_CFB);
	if (p->keyBits != EK_RSA_BITS || ek->unique.rsa.size != EK_RSA_BITS / 8)
		return kagi_err_set(
			reterr, -EINVAL, "credential.ek", KAGI_ERR_NO_OFFSET,
			"EK is RSA-%u with a %u-byte modulus, expected RSA-%d (%d bytes)",
			p->keyBits, ek->unique.rsa.size, EK_RSA_BITS, EK_RSA_BITS / 8);
	return 0;
}

/* RSA-OAEP(SHA-256, MGF1-SHA-256, label "IDENTITY\0") of the seed to the EK. */
static int seed_encrypt(const TPMT_PUBLIC *ek, const uint8_t seed[SEED_SIZE],
			TPM2B_ENCRYPTED_SECRET *ret, struct kagi_err *reterr)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *label = NULL;
	size_t len = sizeof(ret->secret);
	int r;

	r = tpm_public_to_evp(ek, &pkey, reterr);
	if (r < 0)
		return r;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	label = OPENSSL_memdup(identity_label, sizeof(identity_label));
	if (!ctx || !label || EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) != 1) {
		r = kagi_err_set(reterr, ossl_fail(-EIO, "RSA-OAEP setup"), "credential.encrypt",
				 KAGI_ERR_NO_OFFSET, "cannot set up RSA-OAEP to the EK");
		goto out;
	}
	if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, (int)sizeof(identity_label)) != 1) {
		r = kagi_err_set(reterr, ossl_fail(-EIO, "OAEP label"), "credential.encrypt",
				 KAGI_ERR_NO_OFFSET, "cannot set the OAEP label");
		goto out;
	}
	label = NULL; /* owned by ctx now */
	if (EVP_PKEY_encrypt(ctx, ret->secret, &len, seed, SEED_SIZE) != 1 || len > UINT16_MAX) {
		r = kagi_err_set(reterr, ossl_fail(-EIO, "RSA-OAEP"), "credential.encrypt",
				 KAGI_ERR_NO_OFFSET, "RSA-OAEP encryption of the seed failed");
		goto out;
	}
	ret->size = (UINT16)len;
	r = 0;
out:
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return r;
}

/* AES-128-CFB with a zero IV (TPM 2.0 Part 1, 24.4: the credential's encryption). */
static int cfb_encrypt(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out)
{
	static const uint8_t iv[16];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, m = 0, r = -EIO;

	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_128_cfb128(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + n, &m) != 1 || (size_t)(n + m) != len)
		ossl_fail(r, "AES-128-CFB");
	else
		r = 0;
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int credential_make(const TPMT_PUBLIC *ek, const uint8_t *ak_name, size_t ak_name_len,
		    const uint8_t *cred, size_t cred_len, TPM2B_ID_OBJECT *ret_blob,
		    TPM2B_ENCRYPTED_SECRET *ret_secret, struct kagi_err *reterr)
{
	uint8_t seed[SEED_SIZE], sym_key[SYM_KEY_BITS / 8], hmac_key[HMAC_KEY_BITS / 8];
	uint8_t plain[2 + SEED_SIZE], enc[2 + SEED_SIZE], hmac[32];
	TPM2B_ENCRYPTED_SECRET secret = { 0 };
	TPM2B_ID_OBJECT blob = { 0 };
	size_t hlen = 0, name_hash;
	int r;

	if (!ek || !ret_blob || !ret_secret)
		return -EINVAL;
	r = ek_check(ek, reterr);
	if (r < 0)
		return r;
	name_hash = ak_name && ak_name_len >= 2 ? tpm_hash_size(get_be16(ak_name)) : 0;
	if (!name_hash || ak_name_len != 2 + name_hash)
		return kagi_err_set(
			reterr, -EINVAL, "credential.ak_name", KAGI_ERR_NO_OFFSET,
			"AK Name is %zu bytes, expected nameAlg (2 bytes) and its digest",
			ak_name_len);
	if (!cred || cred_len < 1 || cred_len > SEED_SIZE)
		return kagi_err_set(reterr, -EINVAL, "credential.size", KAGI_ERR_NO_OFFSET,
				    "credential is %zu bytes, expected 1..%d", cred_len, SEED_SIZE);

	if (RAND_bytes(seed, sizeof(seed)) != 1) {
		r = kagi_err_set(reterr, ossl_fail(-EIO, "RAND_bytes"), "credential.random",
				 KAGI_ERR_NO_OFFSET, "no random bytes for the seed");
		goto out;
	}
	r = seed_encrypt(ek, seed, &secret, reterr);
	if (r < 0)
		goto out;
	r = credential_kdfa(TPM2_ALG_SHA256, seed, sizeof(seed), "STORAGE", ak_name, ak_name_len,
			    NULL, 0, SYM_KEY_BITS, sym_key);
	if (r >= 0)
		r = credential_kdfa(TPM2_ALG_SHA256, seed, sizeof(seed), "INTEGRITY", NULL, 0, NULL,
				    0, HMAC_KEY_BITS, hmac_key);
	if (r < 0) {
		r = kagi_err_set(reterr, r, "credential.kdf", KAGI_ERR_NO_OFFSET,
				 "KDFa of the seed failed");
		goto out;
	}

	/* encIdentity = CFB(u16_be(size) || credential): the TPM2B_DIGEST, marshaled */
	plain[0] = (uint8_t)(cred_len >> 8);
	plain[1] = (uint8_t)cred_len;
	memcpy(plain + 2, cred, cred_len);
	r = cfb_encrypt(sym_key, plain, 2 + cred_len, enc);
	if (r < 0) {
		r = kagi_err_set(reterr, r, "credential.encrypt", KAGI_ERR_NO_OFFSET,
				 "AES-128-CFB encryption of the credential failed");
		goto out;
	}
	{
		struct part parts[] = { { enc, 2 + cred_len }, { ak_name, ak_name_len } };

		r = hmac_parts("SHA256", hmac_key, sizeof(hmac_key), parts, 2, hmac, sizeof(hmac),
			       &hlen);
	}
	if (r < 0 || hlen != sizeof(hmac)) {
		r = kagi_err_set(reterr, r < 0 ? r : -EIO, "credential.hmac", KAGI_ERR_NO_OFFSET,
				 "outer HMAC failed");
		goto out;
	}

	/* TPM2B_ID_OBJECT.credential = u16_be(32) || outerHMAC || encIdentity (no size) */
	blob.credential[0] = 0;
	blob.credential[1] = sizeof(hmac);
	memcpy(blob.credential + 2, hmac, sizeof(hmac));
	memcpy(blob.credential + 2 + sizeof(hmac), enc, 2 + cred_len);
	blob.size = (UINT16)(2 + sizeof(hmac) + 2 + cred_len);
	_Static_assert(sizeof(blob.credential) >= 2 + 32 + 2 + SEED_SIZE, "TPM2B_ID_OBJECT size");

	*ret_blob = blob;
	*ret_secret = secret;
	r = 0;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(sym_key, sizeof(sym_key));
	OPENSSL_cleanse(hmac_key, sizeof(hmac_key));
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(enc, sizeof(enc));
	OPENSSL_cleanse(&blob, sizeof(blob));
	return r;
}

/* ---- wire form ------------------------------------------------------------------------------- */

int credential_marshal(const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *secret,
		       struct proto_blob *ret_blob, struct proto_blob *ret_secret)
{
	uint8_t b[sizeof(TPM2B_ID_OBJECT)], s[sizeof(TPM2B_ENCRYPTED_SECRET)];
	size_t bl = 0, sl = 0;
	uint8_t *bd, *sd;

	if (!blob || !secret || !ret_blob || !ret_secret)
		return -EINVAL;
	if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(blob, b, sizeof(b), &bl) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(secret, s, sizeof(s), &sl) != TSS2_RC_SUCCESS)
		return -EINVAL;
	bd = malloc(bl);
	sd = malloc(sl);
	if (!bd || !sd) {
		free(bd);
		free(sd);
		return -ENOMEM;
	}
	memcpy(bd, b, bl);
	memcpy(sd, s, sl);
	ret_blob->data = bd;
	ret_blob->len = bl;
	ret_secret->data = sd;
	ret_secret->len = sl;
	return 0;
}

int credential_unmarshal(const struct proto_blob *blob, const struct proto_blob *secret,
			 TPM2B_ID_OBJECT *ret_blob, TPM2B_ENCRYPTED_SECRET *ret_secret,
			 struct kagi_err *reterr)
{
	TPM2B_ID_OBJECT b = { 0 };
	TPM2B_ENCRYPTED_SECRET s = { 0 };
	size_t off = 0;

	if (!blob || !secret || !ret_blob || !ret_secret)
		return -EINVAL;
	if (!blob->data ||
	    Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob->data, blob->len, &off, &b) != TSS2_RC_SUCCESS ||
	    off != blob->len || b.size == 0)
		return kagi_err_set(reterr, -EBADMSG, "credential.blob",
				    off < blob->len ? off : KAGI_ERR_NO_OFFSET,
				    "%zu bytes are not one marshaled non-empty TPM2B_ID_OBJECT",
				    blob->len);
	off = 0;
	if (!secret->data ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret->data, secret->len, &off, &s) !=
		    TSS2_RC_SUCCESS ||
	    off != secret->len || s.size == 0)
		return kagi_err_set(
			reterr, -EBADMSG, "credential.secret",
			off < secret->len ? off : KAGI_ERR_NO_OFFSET,
			"%zu bytes are not one marshaled non-empty TPM2B_ENCRYPTED_SECRET",
			secret->len);
	*ret_blob = b;
	*ret_secret = s;
	return 0;
}

/* ---- AES-256-GCM sealing of volume keys ------------------------------------------------------ */

/* AAD = "kagi-key-v1\0" || uuid (36 ASCII) || nonce (32) */
static void seal_aad(const char *uuid, const uint8_t nonce[32],
		     uint8_t aad[SEAL_AAD_TAG_LEN + PROTO_UUID_LEN + 32])
{
	memcpy(aad, seal_aad_tag, SEAL_AAD_TAG_LEN);
	memcpy(aad + SEAL_AAD_TAG_LEN, uuid, PROTO_UUID_LEN);
	memcpy(aad + SEAL_AAD_TAG_LEN + PROTO_UUID_LEN, nonce, 32);
}

int seal_key(const uint8_t k[CREDENTIAL_KEY_SIZE], const char *uuid, const uint8_t nonce[32],
	     const uint8_t *key, size_t key_len, uint8_t ret_iv[SEAL_IV_SIZE], uint8_t *ret_ct,
	     uint8_t ret_tag[SEAL_TAG_SIZE])
{
	uint8_t aad[SEAL_AAD_TAG_LEN + PROTO_UUID_LEN + 32], iv[SEAL_IV_SIZE], tag[SEAL_TAG_SIZE];
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, m = 0, r = -EIO;

	if (!k || !uuid || !proto_uuid_valid(uuid) || !nonce || !key || key_len < 1 ||
	    key_len > SEAL_MAX_KEY || !ret_iv || !ret_ct || !ret_tag)
		return -EINVAL;
	if (RAND_bytes(iv, sizeof(iv)) != 1)
		return ossl_fail(-EIO, "RAND_bytes");
	seal_aad(uuid, nonce, aad);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_IV_SIZE, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, k, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)sizeof(aad)) != 1 ||
	    EVP_EncryptUpdate(ctx, ret_ct, &n, key, (int)key_len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ret_ct + n, &m) != 1 || (size_t)(n + m) != key_len ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_SIZE, tag) != 1) {
		ossl_fail(r, "AES-256-GCM seal");
		OPENSSL_cleanse(ret_ct, key_len);
		goto out;
	}
	memcpy(ret_iv, iv, sizeof(iv));
	memcpy(ret_tag, tag, sizeof(tag));
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx); /* frees the expanded key schedule with it */
	return r;
}

int open_key(const uint8_t k[CREDENTIAL_KEY_SIZE], const char *uuid, const uint8_t nonce[32],
	     const uint8_t iv[SEAL_IV_SIZE], const uint8_t *ct, size_t ct_len,
	     const uint8_t tag[SEAL_TAG_SIZE], struct secret **ret, struct kagi_err *reterr)
{
	uint8_t aad[SEAL_AAD_TAG_LEN + PROTO_UUID_LEN + 32], tagbuf[SEAL_TAG_SIZE];
	_cleanup_secret_ struct secret *s = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, m = 0, r;

	if (!k || !nonce || !iv || !tag || !ret)
		return -EINVAL;
	if (!uuid || !proto_uuid_valid(uuid))
		return kagi_err_set(reterr, -EINVAL, "key.uuid", KAGI_ERR_NO_OFFSET,
				    "volume '%.40s' is not a lowercase canonical UUID",
				    uuid ? uuid : "(null)");
	if (!ct || ct_len < 1 || ct_len > SEAL_MAX_KEY)
		return kagi_err_set(reterr, -EBADMSG, "key.size", KAGI_ERR_NO_OFFSET,
				    "sealed key is %zu bytes, expected 1..%d", ct_len,
				    SEAL_MAX_KEY);
	s = secret_new(ct_len);
	if (!s)
		return -ENOMEM;
	seal_aad(uuid, nonce, aad);
	memcpy(tagbuf, tag, sizeof(tagbuf));
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_IV_SIZE, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, k, iv) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)sizeof(aad)) != 1 ||
	    EVP_DecryptUpdate(ctx, s->data, &n, ct, (int)ct_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_SIZE, tagbuf) != 1) {
		r = kagi_err_set(reterr, ossl_fail(-EIO, "AES-256-GCM open"), "key.open",
				 KAGI_ERR_NO_OFFSET, "AES-256-GCM setup failed");
		goto out;
	}
	if (EVP_DecryptFinal_ex(ctx, s->data + n, &m) != 1 || (size_t)(n + m) != ct_len) {
		ERR_clear_error();
		r = kagi_err_set(reterr, -EBADMSG, "key.tag", KAGI_ERR_NO_OFFSET,
				 "sealed key for volume %s does not authenticate under K", uuid);
		goto out;
	}
	*ret = s;
	s = NULL;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* ---- ECDH + HKDF (direct path) ---------------------------------------------------------------- */

static int ec_group(EVP_PKEY *k, char *buf, size_t len)
{
	size_t n = 0;

	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(k, buf, len, &n) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

int ecdh_derive(EVP_PKEY *priv, EVP_PKEY *peer, const uint8_t nonce[32],
		uint8_t ret_k[CREDENTIAL_KEY_SIZE], struct kagi_err *reterr)
{
	char g1[64] = "", g2[64] = "";
	uint8_t z[66], k[CREDENTIAL_KEY_SIZE];
	size_t zlen = sizeof(z);
	EVP_PKEY_CTX *dctx = NULL;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	int r;

	if (!nonce || !ret_k)
		return -EINVAL;
	if (ec_group(priv, g1, sizeof(g1)) < 0 || ec_group(peer, g2, sizeof(g2)) < 0)
		return kagi_err_set(reterr, -EINVAL, "ecdh.curve", KAGI_ERR_NO_OFFSET,
				    "ECDH needs two EC keys");
	if (strcmp(g1, g2) != 0 || (strcmp(g1, "secp384r1") != 0 && strcmp(g1, "prime256v1") != 0))
		return kagi_err_set(reterr, -EINVAL, "ecdh.curve", KAGI_ERR_NO_OFFSET,
				    "keys are on %s and %s, expected both on P-384 (or P-256)", g1,
				    g2);

	dctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	if (!dctx || EVP_PKEY_derive_init(dctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(dctx, peer, 1) != 1 ||
	    EVP_PKEY_derive(dctx, z, &zlen) != 1) {
		r = kagi_err_set(reterr, ossl_fail(-EINVAL, "ECDH"), "ecdh.derive",
				 KAGI_ERR_NO_OFFSET, "ECDH failed (invalid peer point?)");
		goto out;
	}

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, zlen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)nonce, 32);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ecdh_info,
						      sizeof(ecdh_info));
	params[4] = OSSL_PARAM_construct_end();
	if (!kctx || EVP_KDF_derive(kctx, k, sizeof(k), params) != 1) {
		r = kagi_err_set(reterr, ossl_fail(-EIO, "HKDF"), "ecdh.kdf", KAGI_ERR_NO_OFFSET,
				 "HKDF-SHA256 failed");
		goto out;
	}
	memcpy(ret_k, k, sizeof(k));
	r = 0;
out:
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(k, sizeof(k));
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	EVP_PKEY_CTX_free(dctx);
	return r;
}
