/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tpm.h: the TPM evidence collector on tpm2-tss ESYS (shared/spec section 6).
 *
 * TSS2_RC values are converted to negative errno here, once, with the decoded text
 * (Tss2_RC_Decode) in the kagi_err message. TPM2_RC_RETRY/YIELDED/TESTING are retried a few
 * times. Keys are transient: the EK is a primary recreated from the fixed template (so it is the
 * same key as long as the endorsement seed is), the AK a child of the EK.
 */
#ifndef KAGI_TPM_H
#define KAGI_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "lib/err.h"

#define TPM_DEFAULT_TCTI       "device:/dev/tpmrm0"
#define TPM_EVENTLOG_PATH      "/sys/kernel/security/tpm0/binary_bios_measurements"
#define TPM_EVENTLOG_MAX       (1024 * 1024)
#define TPM_EK_RSA_PUBLIC_SIZE 314 /* marshaled L-1 TPMT_PUBLIC */
#define TPM_EK_ECC_PUBLIC_SIZE 122 /* marshaled L-2 TPMT_PUBLIC */
#define TPM_EK_ATTRIBUTES      0x000300B2u
/* fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA, restricted, sign. noDA: the AK
 * has an empty auth value, so dictionary-attack protection adds nothing; without it an unclean
 * reboot counts as an authorization failure and a few of them lock the TPM out. */
#define TPM_AK_ATTRIBUTES 0x00050472u
#define TPM_PCR_MAX       24
#define TPM_PCR_BANKS_MAX 8

struct kagi_tpm;

enum tpm_ek_type {
	TPM_EK_RSA2048 = 1, /* TCG EK Credential Profile template L-1 (what the SVSM uses) */
	TPM_EK_ECC_P256,    /* template L-2 */
};

enum tpm_ak_type {
	TPM_AK_RSA2048 = 1, /* RSASSA-SHA256 */
	TPM_AK_ECC_P256,    /* ECDSA-SHA256 */
};

/* PCR values of one bank; pcr[n] is valid when bit n of mask is set. */
struct tpm_pcr_readout_bank {
	TPMI_ALG_HASH alg;
	uint16_t digest_size;
	uint32_t mask;
	uint8_t pcr[TPM_PCR_MAX][TPM2_SHA512_DIGEST_SIZE];
};

struct tpm_pcr_readout {
	uint32_t update_counter;
	size_t n_banks;
	struct tpm_pcr_readout_bank banks[TPM_PCR_BANKS_MAX];
};

/*
 * Open the TPM (tcti NULL = TPM_DEFAULT_TCTI, else a tctildr string such as
 * "swtpm:host=127.0.0.1,port=2321"). For non-device TCTIs TPM2_Startup(CLEAR) is sent.
 */
int tpm_open(const char *tcti, struct kagi_tpm **ret, struct kagi_err *reterr);
/* Flush the transient keys, finalize ESYS and the TCTI. NULL is fine. */
void tpm_close(struct kagi_tpm *t);

/* The exact EK template (spec 6.2), unique zero-filled. Pure. */
int tpm_ek_template(enum tpm_ek_type type, TPMT_PUBLIC *ret);
/* The AK template (spec 6.3). Pure. */
int tpm_ak_template(enum tpm_ak_type type, TPMT_PUBLIC *ret);

/* Create the EK as a transient primary in the endorsement hierarchy; kept in the context. */
int tpm_ek_create(struct kagi_tpm *t, enum tpm_ek_type type, TPMT_PUBLIC *ret_pub,
		  struct kagi_err *reterr);

/*
 * Open the TPM named by the TCTI configuration (NULL = "device:/dev/tpmrm0"), create the L-1
 * RSA-2048 EK (spec 6.2) as a transient primary, marshal its TPMT_PUBLIC (314 bytes) into a new
 * buffer and close the TPM again.
 */
int tpm_ek_public_marshaled(const char *tcti, uint8_t **ret, size_t *ret_len,
			    struct kagi_err *reterr);

/*
 * Create a restricted signing AK as a child of the EK (Esys_Create + Esys_Load, each with a
 * fresh PolicySecret(ENDORSEMENT) session) and keep it loaded. Needs tpm_ek_create() first.
 */
int tpm_ak_create(struct kagi_tpm *t, enum tpm_ak_type type, TPMT_PUBLIC *ret_pub,
		  struct kagi_err *reterr);
/* The AK's private blob (wrapped by the EK, not secret by itself) from tpm_ak_create(). */
int tpm_ak_private(struct kagi_tpm *t, TPM2B_PRIVATE *ret, struct kagi_err *reterr);
/* Load an AK created earlier under the same EK. */
int tpm_ak_reload(struct kagi_tpm *t, const TPM2B_PRIVATE *priv, const TPMT_PUBLIC *pub,
		  struct kagi_err *reterr);
/* Name of the loaded AK (nameAlg || H(TPMT_PUBLIC)). */
int tpm_ak_name(struct kagi_tpm *t, TPM2B_NAME *ret, struct kagi_err *reterr);

/* Marshal a TPMT_PUBLIC / TPMT_SIGNATURE into a new buffer. */
int tpm_public_marshal(const TPMT_PUBLIC *pub, uint8_t **ret, size_t *ret_len,
		       struct kagi_err *reterr);
int tpm_public_unmarshal(const uint8_t *buf, size_t len, TPMT_PUBLIC *ret, struct kagi_err *reterr);

/*
 * TPM2_Quote with the loaded AK over sel, qualifying data up to 64 bytes. *ret_attest = the
 * TPMS_ATTEST bytes (without the TPM2B size), *ret_sig = the marshaled TPMT_SIGNATURE.
 */
int tpm_quote(struct kagi_tpm *t, const uint8_t *qualifying, size_t qlen,
	      const TPML_PCR_SELECTION *sel, uint8_t **ret_attest, size_t *ret_attest_len,
	      uint8_t **ret_sig, size_t *ret_sig_len, struct kagi_err *reterr);

/*
 * Read every PCR in sel (at most TPM_PCR_BANKS_MAX banks, PCRs 0..23), looping over the
 * 8-digests-per-call limit; fails with -EAGAIN if the PCRs changed during the read (checked
 * with updateCounter) more than a few times in a row, and -ENOENT for an unallocated bank.
 */
int tpm_pcr_read(struct kagi_tpm *t, const TPML_PCR_SELECTION *sel, struct tpm_pcr_readout *ret,
		 struct kagi_err *reterr);

/* One-bank selection helper: mask bit n = PCR n. */
void tpm_pcr_selection_single(TPMI_ALG_HASH alg, uint32_t mask, TPML_PCR_SELECTION *ret);

/*
 * ActivateCredential with the loaded AK (password session) and the EK (PolicySecret session).
 * *ret_cert is the credential: a secret, the caller must wipe it.
 */
int tpm_activate_credential(struct kagi_tpm *t, const TPM2B_ID_OBJECT *blob,
			    const TPM2B_ENCRYPTED_SECRET *secret, TPM2B_DIGEST *ret_cert,
			    struct kagi_err *reterr);

/* Extend PCR pcr in every active bank with H_bank(data). */
int tpm_pcr_extend(struct kagi_tpm *t, unsigned pcr, const uint8_t *data, size_t len,
		   struct kagi_err *reterr);

/* Read the TCG event log (path NULL = TPM_EVENTLOG_PATH), at most TPM_EVENTLOG_MAX bytes. */
int tpm_eventlog_read(const char *path, uint8_t **ret, size_t *ret_len, struct kagi_err *reterr);

/* "sha1", "sha256", "sha384", "sha512", "sm3_256", or NULL; and back (0 if unknown). */
const char *tpm_hash_alg_name(TPMI_ALG_HASH alg);
TPMI_ALG_HASH tpm_hash_alg_from_name(const char *name);

#endif
