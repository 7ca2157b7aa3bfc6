/* SPDX-License-Identifier: Apache-2.0 */
/*
 * binding.h: the values that bind evidence to one challenge and one TLS session
 * (contrib/verifier/PROTOCOL.md section 2). Agent and verifier call the same functions.
 */
#ifndef KAGI_BINDING_H
#define KAGI_BINDING_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define BINDING_NONCE_SIZE     32
#define BINDING_BOOT_PHASE_PCR 15

/* SHA-256 of the DER SubjectPublicKeyInfo of key. */
int binding_spki_hash(EVP_PKEY *key, uint8_t ret[32]);

/* SNP REPORT_DATA of a direct report:
 * SHA-512("kagi-report-data-v1\0" || nonce || H(key_public) || spki_hash), key_public = the AK
 * TPMT_PUBLIC (vTPM path) or the agent's ephemeral ECDH public point (direct path). */
void binding_report_data(const uint8_t nonce[32], const uint8_t *key_public, size_t key_len,
			 const uint8_t spki_hash[32], uint8_t ret[64]);

/* The 64-byte inblob for the SVSM vTPM attestation: SHA-512("kagi-svsm-nonce-v1\0" || nonce || spki_hash). */
void binding_svsm_nonce(const uint8_t nonce[32], const uint8_t spki_hash[32], uint8_t ret[64]);

/* What the SVSM puts in REPORT_DATA: SHA-512(nonce64 || manifest). */
void binding_svsm_report_data(const uint8_t nonce64[64], const uint8_t *manifest, size_t len,
			      uint8_t ret[64]);

/* TPM2_Quote qualifying data: SHA-256("kagi-quote-v1\0" || nonce || spki_hash). */
void binding_quote_qualifying(const uint8_t nonce[32], const uint8_t spki_hash[32],
			      uint8_t ret[32]);

/* The data the agent extends into the boot-phase PCR after an unlock (hashed per bank). */
extern const char binding_boot_phase_event[]; /* "kagi-boot-phase-v1\0unlocked" */
#define BINDING_BOOT_PHASE_EVENT_LEN 27       /* 18 + NUL + 8: no NUL after "unlocked" */

#endif
