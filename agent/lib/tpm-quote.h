/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tpm-quote.h: TPM 2.0 quote codec and verification (spec README §6.3, §6.5, §6.6).
 *
 * Decoding goes through tss2-mu only (no hand-rolled TPM structures); every decoder requires the
 * whole input to be consumed. Verification uses OpenSSL libcrypto. Nothing here does file I/O or
 * logs above debug level; callers print the `struct kagi_err` they get back.
 *
 * The usual order for a verifier:
 *   tpm_ak_load() -> tpm_attest_decode() -> tpm_signature_decode_any()
 *   -> tpm_quote_verify_signature() -> tpm_quote_check_nonce() -> tpm_quote_check_pcrs()
 */
#ifndef KAGI_TPM_QUOTE_H
#define KAGI_TPM_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "err.h"

/* PCR indices 0..TPM_PCR_MAX-1 (TPM2_MAX_PCRS, i.e. up to 4 bytes of pcrSelect). */
#define TPM_PCR_MAX TPM2_MAX_PCRS
/* At most this many banks in one struct tpm_pcr_values. */
#define TPM_PCR_BANKS_MAX 8
/* Largest digest kagi knows (SHA-512, SHA3-512). */
#define TPM_DIGEST_MAX 64
/* A Name: nameAlg (u16 BE) followed by its digest. */
#define TPM_NAME_MAX (2 + TPM_DIGEST_MAX)
/* The smallest RSA AK modulus accepted. */
#define TPM_AK_RSA_MIN_BITS 2048

/* ---- algorithms ---------------------------------------------------------------------------- */

/* Digest size of a TPM hash algorithm, 0 if kagi does not know it. */
size_t tpm_hash_size(TPMI_ALG_HASH alg);
/* Lowercase name of an algorithm ("sha256", "rsassa", "ecc", "nist_p256"...), NULL if unknown.
 * `tpm_curve_name` is for TPMI_ECC_CURVE values. */
const char *tpm_alg_name(TPM2_ALG_ID alg);
const char *tpm_curve_name(TPMI_ECC_CURVE curve);
/* "sha1", "SHA256", "sha3_256", "sha3-256", "sm3_256" -> algorithm id. -EINVAL if unknown. */
int tpm_hash_from_name(const char *name, TPMI_ALG_HASH *ret);
/* out must hold TPM_DIGEST_MAX bytes. -EOPNOTSUPP if OpenSSL lacks the algorithm. */
int tpm_hash(TPMI_ALG_HASH alg, const uint8_t *buf, size_t len, uint8_t *out, size_t *ret_len);

/* ---- decoders (whole input must be consumed) ------------------------------------------------ */

/* TPMS_ATTEST of a TPM2_Quote: magic TPM2_GENERATED_VALUE, type TPM2_ST_ATTEST_QUOTE. */
int tpm_attest_decode(const uint8_t *buf, size_t len, TPMS_ATTEST *ret, struct kagi_err *reterr);
/* A marshaled TPMT_PUBLIC, or a TPM2B_PUBLIC (size-prefixed; tried first when the leading u16
 * equals len - 2). */
int tpm_public_decode(const uint8_t *buf, size_t len, TPMT_PUBLIC *ret, struct kagi_err *reterr);
int tpm_signature_decode(const uint8_t *buf, size_t len, TPMT_SIGNATURE *ret,
			 struct kagi_err *reterr);
/* Wrap a bare RSASSA-PKCS1-v1_5 signature (as stored by e.g. the Azure vTPM tooling) into a
 * TPMT_SIGNATURE with the given hash. */
int tpm_signature_from_raw_rsassa(const uint8_t *sig, size_t len, TPMI_ALG_HASH hash,
				  TPMT_SIGNATURE *ret, struct kagi_err *reterr);
/*
 * The signature file rule used by kagictl and the verifier: if buf decodes as a TPMT_SIGNATURE
 * consuming every byte, that is it; otherwise, if the AK is RSA and len equals its modulus size,
 * buf is a raw RSASSA-SHA256 signature (*ret_raw = true). Anything else is an error.
 */
int tpm_signature_decode_any(const uint8_t *buf, size_t len, EVP_PKEY *ak, TPMT_SIGNATURE *ret,
			     bool *ret_raw, struct kagi_err *reterr);

/* ---- keys ------------------------------------------------------------------------------------ */

/* RSA (n = unique.rsa, e = exponent or 65537) or ECC P-256/P-384/P-521 (point validated). */
int tpm_public_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret, struct kagi_err *reterr);
/* Name = nameAlg (u16 BE) || H_nameAlg(marshaled TPMT_PUBLIC). ret holds TPM_NAME_MAX bytes. */
int tpm_public_name(const TPMT_PUBLIC *pub, uint8_t *ret, size_t *ret_len);
/* fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign set; decrypt clear. */
int tpm_public_check_ak(const TPMT_PUBLIC *pub, struct kagi_err *reterr);
/*
 * Load an AK public key from PEM SubjectPublicKeyInfo, DER SubjectPublicKeyInfo, TPMT_PUBLIC or
 * TPM2B_PUBLIC bytes. RSA keys need at least TPM_AK_RSA_MIN_BITS, EC keys one of P-256/384/521.
 * When the input was a TPM structure, *ret_has_tpmt is set and *ret_pub (if non-NULL) filled;
 * its attributes are NOT checked here (see tpm_public_check_ak()).
 */
int tpm_ak_load(const uint8_t *buf, size_t len, EVP_PKEY **ret, TPMT_PUBLIC *ret_pub,
		bool *ret_has_tpmt, struct kagi_err *reterr);

/* ---- verification ---------------------------------------------------------------------------- */

/* The hash of a signature's scheme (RSASSA, RSAPSS, ECDSA). -EOPNOTSUPP for other schemes. */
int tpm_signature_hash(const TPMT_SIGNATURE *sig, TPMI_ALG_HASH *ret);
/* "rsassa-sha256", "ecdsa-sha384", ... into buf. */
const char *tpm_signature_describe(const TPMT_SIGNATURE *sig, char *buf, size_t len);
/*
 * Verify sig over the attestation bytes with the AK. RSASSA = PKCS#1 v1.5; RSAPSS with salt
 * length = digest length, or else the maximum salt length (TPM 2.0 Part 1 B.7 asks for the
 * maximum; libtpms and FIPS-mode TPMs use the digest length); ECDSA from r, s. The key type must
 * match the signature algorithm, and an RSA signature must be exactly the modulus size.
 */
int tpm_quote_verify_signature(const uint8_t *attest, size_t attest_len, const TPMT_SIGNATURE *sig,
			       EVP_PKEY *ak, struct kagi_err *reterr);
/* When the AK's TPMT_PUBLIC names a scheme (not TPM2_ALG_NULL), the signature must use it. */
int tpm_quote_check_scheme(const TPMT_PUBLIC *ak, const TPMT_SIGNATURE *sig,
			   struct kagi_err *reterr);
/* extraData must equal nonce exactly (len 0 = expect empty extraData). */
int tpm_quote_check_nonce(const TPMS_ATTEST *a, const uint8_t *nonce, size_t len,
			  struct kagi_err *reterr);

/* ---- PCR values and the pcrDigest -------------------------------------------------------------- */

struct tpm_pcr_bank {
	TPMI_ALG_HASH alg;
	bool present[TPM_PCR_MAX];
	uint8_t value[TPM_PCR_MAX][TPM_DIGEST_MAX]; /* first tpm_hash_size(alg) bytes used */
};

struct tpm_pcr_values {
	size_t nbanks;
	struct tpm_pcr_bank bank[TPM_PCR_BANKS_MAX];
};

/* Set one value (len must be the bank's digest size). Setting the same value twice is fine; a
 * different value for the same bank and index is an error. */
int tpm_pcr_values_set(struct tpm_pcr_values *v, TPMI_ALG_HASH alg, unsigned idx,
		       const uint8_t *digest, size_t len, struct kagi_err *reterr);
/* NULL if absent. */
const uint8_t *tpm_pcr_values_get(const struct tpm_pcr_values *v, TPMI_ALG_HASH alg, unsigned idx);
/*
 * PCR values from JSON. Accepted shapes (hex strings must have the bank's digest size):
 *   {"bank": "sha256", "pcrs": {"0": "hex", ...}}        (also "alg"/"hash"/"hashAlg" for "bank",
 *                                                          a number for the algorithm id, and
 *                                                          "pcrs" as a list indexed by position or
 *                                                          of {"index": n, "digest": "hex"})
 *   {"sha1": {"0": "hex"}, "sha256": {...}}               (e.g. kagictl eventlog replay --json;
 *                                                          also wrapped in "pcrs" or "banks")
 *   {"quotes": [ <one of the above>, ... ]} or a top-level list of them: merged.
 */
int tpm_pcr_values_from_json(json_object *o, struct tpm_pcr_values *ret, struct kagi_err *reterr);
/* H_hash(selected PCR values in selection order); out holds TPM_DIGEST_MAX bytes. */
int tpm_pcr_digest(const TPML_PCR_SELECTION *sel, const struct tpm_pcr_values *v,
		   TPMI_ALG_HASH hash, uint8_t *out, size_t *ret_len, struct kagi_err *reterr);
/* Recompute and compare with attested.quote.pcrDigest. sig_hash is the signature scheme's hash. */
int tpm_quote_check_pcrs(const TPMS_ATTEST *a, const struct tpm_pcr_values *v,
			 TPMI_ALG_HASH sig_hash, struct kagi_err *reterr);
/* Number of selected PCRs over all banks. */
unsigned tpm_pcr_selection_count(const TPML_PCR_SELECTION *sel);
/* "24 sha256 PCRs", "3 sha256 PCRs and 24 sha1 PCRs", "no PCRs" into buf. */
const char *tpm_pcr_selection_describe(const TPML_PCR_SELECTION *sel, char *buf, size_t len);

/* ---- rendering ------------------------------------------------------------------------------- */

/* {"magic", "type", "qualified_signer", "extra_data", "clock_info", "firmware_version",
 *  "pcr_select": [{"bank", "pcrs": [...]}], "pcr_digest"} */
int tpm_attest_to_json(const TPMS_ATTEST *a, json_object **ret);
void tpm_attest_print(const TPMS_ATTEST *a, FILE *f);

#endif
