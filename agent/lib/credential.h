/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credential.h: key release crypto (contrib/verifier/PROTOCOL.md section 3).
 *  - TPM2 MakeCredential in software (verifier side) for an RSA EK (TPM 2.0 Part 1, 24 and 38;
 *    shared/spec 6.5): seed RSA-OAEP(SHA-256, label "IDENTITY\0"), KDFa STORAGE/INTEGRITY,
 *    AES-128-CFB, outer HMAC.
 *  - AES-256-GCM sealing of a volume key under K, AAD = "kagi-key-v1\0" || uuid || nonce.
 *  - ECDH + HKDF for the direct (no vTPM) path.
 * Every buffer that held K or a volume key is wiped before it is freed.
 */
#ifndef KAGI_CREDENTIAL_H
#define KAGI_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "err.h"
#include "secret.h"

#define CREDENTIAL_KEY_SIZE 32 /* K */
#define SEAL_IV_SIZE        12
#define SEAL_TAG_SIZE       16
#define SEAL_MAX_KEY        64 /* largest volume key we seal */

/*
 * MakeCredential: `cred` (<= 32 bytes) for the object named `ak_name` (nameAlg || digest)
 * protected to `ek` (RSA-2048 EK with the L-1 template: SHA-256 nameAlg, AES-128-CFB).
 */
int credential_make(const TPMT_PUBLIC *ek, const uint8_t *ak_name, size_t ak_name_len,
		    const uint8_t *cred, size_t cred_len, TPM2B_ID_OBJECT *ret_blob,
		    TPM2B_ENCRYPTED_SECRET *ret_secret, struct kagi_err *reterr);

/*
 * The wire form of a credential (PROTOCOL.md section 3, "credential"): the tss2-mu marshaling
 * of the TPM2B_ID_OBJECT and of the TPM2B_ENCRYPTED_SECRET. credential_marshal() allocates both
 * (free with free()); credential_unmarshal() requires every byte to be used and non-empty
 * structures (what = "credential.blob" / "credential.secret").
 */
struct proto_blob;
int credential_marshal(const TPM2B_ID_OBJECT *blob, const TPM2B_ENCRYPTED_SECRET *secret,
		       struct proto_blob *ret_blob, struct proto_blob *ret_secret);
int credential_unmarshal(const struct proto_blob *blob, const struct proto_blob *secret,
			 TPM2B_ID_OBJECT *ret_blob, TPM2B_ENCRYPTED_SECRET *ret_secret,
			 struct kagi_err *reterr);

/* KDFa (SP 800-108 counter mode, HMAC with hash `alg`), exposed for tests. */
int credential_kdfa(TPMI_ALG_HASH alg, const uint8_t *key, size_t key_len, const char *label,
		    const uint8_t *ctx_u, size_t u_len, const uint8_t *ctx_v, size_t v_len,
		    unsigned bits, uint8_t *out);

/* Seal `key` (1..SEAL_MAX_KEY bytes) for volume `uuid` (36-char canonical form). ct has key_len bytes. */
int seal_key(const uint8_t k[CREDENTIAL_KEY_SIZE], const char *uuid, const uint8_t nonce[32],
	     const uint8_t *key, size_t key_len, uint8_t ret_iv[SEAL_IV_SIZE], uint8_t *ret_ct,
	     uint8_t ret_tag[SEAL_TAG_SIZE]);

/* Open into a new locked secret; -EBADMSG (what = "key.tag") if it does not authenticate. */
int open_key(const uint8_t k[CREDENTIAL_KEY_SIZE], const char *uuid, const uint8_t nonce[32],
	     const uint8_t iv[SEAL_IV_SIZE], const uint8_t *ct, size_t ct_len,
	     const uint8_t tag[SEAL_TAG_SIZE], struct secret **ret, struct kagi_err *reterr);

/* K = HKDF-SHA256(salt = nonce, ikm = ECDH(priv, peer), info = "kagi-ecdh-v1\0"). */
int ecdh_derive(EVP_PKEY *priv, EVP_PKEY *peer, const uint8_t nonce[32],
		uint8_t ret_k[CREDENTIAL_KEY_SIZE], struct kagi_err *reterr);

#endif
