// SPDX-License-Identifier: Apache-2.0
/*
 * tpm.c: EK, AK, quote, PCRs, ActivateCredential and PCR extend on tpm2-tss ESYS
 * (shared/spec section 6), and the event log from securityfs (7.1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "lib/log.h"
#include "lib/secret.h"
#include "lib/util.h"
#include "tpm.h"

#define TPM_RETRIES       4
#define PCR_READ_ATTEMPTS 3
#define SECURITYFS_MAGIC  0x73636673
#define SECFS             "/sys/kernel/security"

struct kagi_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR ek;
	ESYS_TR ak;
	bool has_ak_priv;
	TPM2B_PRIVATE ak_priv;
};

/* PolicySecret(TPM_RH_ENDORSEMENT) digest, SHA-256 ("policy A", spec 5.2/6.2) */
static const uint8_t policy_a_sha256[32] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
	0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
	0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

/* --- TSS2_RC -> errno, once, here -------------------------------------------------------- */

static TSS2_RC rc_tpm_part(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	/* TPM response codes come bare, or wrapped by a resource manager. */
	if (layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER)
		return rc & ~TSS2_RC_LAYER_MASK;
	return 0;
}

static bool rc_is_tpm(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	return layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER;
}

static bool rc_transient(TSS2_RC rc)
{
	TSS2_RC t = rc_tpm_part(rc);

	if (!rc_is_tpm(rc))
		return false;
	return t == TPM2_RC_RETRY || t == TPM2_RC_YIELDED || t == TPM2_RC_TESTING;
}

static int rc_errno(TSS2_RC rc)
{
	if (rc_is_tpm(rc)) {
		TSS2_RC t = rc_tpm_part(rc);

		if (t & TPM2_RC_FMT1) {
			switch (t & (TPM2_RC_FMT1 | 0x3f)) {
			case TPM2_RC_AUTH_FAIL:
			case TPM2_RC_BAD_AUTH:
			case TPM2_RC_POLICY_FAIL:
				return -EACCES;
			case TPM2_RC_INTEGRITY:
				return -EBADMSG;
			default:
				return -EINVAL;
			}
		}
		switch (t) {
		case TPM2_RC_RETRY:
		case TPM2_RC_YIELDED:
		case TPM2_RC_TESTING:
			return -EAGAIN;
		case TPM2_RC_LOCKOUT:
			return -EBUSY;
		case TPM2_RC_OBJECT_MEMORY:
		case TPM2_RC_SESSION_MEMORY:
		case TPM2_RC_MEMORY:
			return -ENOSPC;
		case TPM2_RC_COMMAND_CODE:
			return -EOPNOTSUPP;
		default:
			return -EIO;
		}
	}
	switch (rc & ~TSS2_RC_LAYER_MASK) {
	case TSS2_BASE_RC_MEMORY:
		return -ENOMEM;
	case TSS2_BASE_RC_BAD_REFERENCE:
	case TSS2_BASE_RC_BAD_VALUE:
	case TSS2_BASE_RC_INSUFFICIENT_BUFFER:
	case TSS2_BASE_RC_BAD_SIZE:
		return -EINVAL;
	case TSS2_BASE_RC_NOT_IMPLEMENTED:
	case TSS2_BASE_RC_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case TSS2_BASE_RC_TRY_AGAIN:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

static int tpm_fail(struct kagi_err *reterr, TSS2_RC rc, const char *what, const char *op)
{
	return kagi_err_set(reterr, rc_errno(rc), what, KAGI_ERR_NO_OFFSET, "%s failed: %s (0x%x)",
			    op, Tss2_RC_Decode(rc), rc);
}

/* Run an ESYS call, retrying a few times when the TPM says RETRY/YIELDED/TESTING. */
#define TPM_CALL(rc, expr)                                                                         \
	do {                                                                                       \
		for (unsigned _try = 1;; _try++) {                                                 \
			(rc) = (expr);                                                             \
			if (!rc_transient(rc) || _try >= TPM_RETRIES)                              \
				break;                                                             \
			log_debug("TPM busy (0x%x), retrying", (unsigned)(rc));                    \
			usleep(20000U * _try);                                                     \
		}                                                                                  \
	} while (0)

static void flush(struct kagi_tpm *t, ESYS_TR *h)
{
	if (*h != ESYS_TR_NONE) {
		TSS2_RC rc = Esys_FlushContext(t->esys, *h);

		if (rc != TSS2_RC_SUCCESS)
			log_debug("flushing a TPM handle failed: %s", Tss2_RC_Decode(rc));
		*h = ESYS_TR_NONE;
	}
}

/* --- names and sizes ----------------------------------------------------------------------- */

const char *tpm_hash_alg_name(TPMI_ALG_HASH alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return "sha1";
	case TPM2_ALG_SHA256:
		return "sha256";
	case TPM2_ALG_SHA384:
		return "sha384";
	case TPM2_ALG_SHA512:
		return "sha512";
	case TPM2_ALG_SM3_256:
		return "sm3_256";
	default:
		return NULL;
	}
}

TPMI_ALG_HASH tpm_hash_alg_from_name(const char *name)
{
	static const TPMI_ALG_HASH algs[] = { TPM2_ALG_SHA1, TPM2_ALG_SHA256, TPM2_ALG_SHA384,
					      TPM2_ALG_SHA512, TPM2_ALG_SM3_256 };

	for (size_t i = 0; name && i < ARRAY_SIZE(algs); i++)
		if (strcasecmp(name, tpm_hash_alg_name(algs[i])) == 0)
			return algs[i];
	return 0;
}

static uint16_t hash_size(TPMI_ALG_HASH alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return TPM2_SHA1_DIGEST_SIZE;
	case TPM2_ALG_SHA256:
		return TPM2_SHA256_DIGEST_SIZE;
	case TPM2_ALG_SHA384:
		return TPM2_SHA384_DIGEST_SIZE;
	case TPM2_ALG_SHA512:
		return TPM2_SHA512_DIGEST_SIZE;
	case TPM2_ALG_SM3_256:
		return TPM2_SM3_256_DIGEST_SIZE;
	default:
		return 0;
	}
}

static const EVP_MD *hash_md(TPMI_ALG_HASH alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return EVP_sha1();
	case TPM2_ALG_SHA256:
		return EVP_sha256();
	case TPM2_ALG_SHA384:
		return EVP_sha384();
	case TPM2_ALG_SHA512:
		return EVP_sha512();
	default:
		return NULL; /* SM3 is not in every OpenSSL build */
	}
}

/* --- open / close -------------------------------------------------------------------------- */

int tpm_open(const char *tcti, struct kagi_tpm **ret, struct kagi_err *reterr)
{
	const char *conf = tcti ? tcti : TPM_DEFAULT_TCTI;
	bool device = strncmp(conf, "device", 6) == 0 && (conf[6] == '\0' || conf[6] == ':');
	struct kagi_tpm *t;
	TSS2_RC rc;

	/* A clear message for the common case, instead of the TCTI loader's noise. */
	if (device && conf[6] == ':' && conf[7] && access(conf + 7, F_OK) < 0) {
		int r = -errno;

		return kagi_err_set(reterr, r == -ENOENT ? -ENODEV : r, "tpm.open",
				    KAGI_ERR_NO_OFFSET, "'%s' %s", conf + 7,
				    r == -ENOENT ? "does not exist (no TPM, or its driver is not "
						   "loaded)"
						 : strerror(-r));
	}

	t = calloc(1, sizeof(*t));
	if (!t)
		return kagi_err_set(reterr, -ENOMEM, "tpm.open", KAGI_ERR_NO_OFFSET,
				    "out of memory");
	t->ek = ESYS_TR_NONE;
	t->ak = ESYS_TR_NONE;

	rc = Tss2_TctiLdr_Initialize(conf, &t->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		free(t);
		return kagi_err_set(reterr, -ENODEV, "tpm.open", KAGI_ERR_NO_OFFSET,
				    "no TPM reachable through TCTI '%s': %s (0x%x)", conf,
				    Tss2_RC_Decode(rc), rc);
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		int r = tpm_fail(reterr, rc, "tpm.open", "Esys_Initialize");

		Tss2_TctiLdr_Finalize(&t->tcti);
		free(t);
		return r;
	}
	if (!device) {
		/* The kernel starts a device TPM; a simulator needs TPM2_Startup. */
		TPM_CALL(rc, Esys_Startup(t->esys, TPM2_SU_CLEAR));
		if (rc != TSS2_RC_SUCCESS && rc_tpm_part(rc) != TPM2_RC_INITIALIZE) {
			int r = tpm_fail(reterr, rc, "tpm.startup", "TPM2_Startup(CLEAR)");

			tpm_close(t);
			return r;
		}
	}
	*ret = t;
	return 0;
}

void tpm_close(struct kagi_tpm *t)
{
	if (!t)
		return;
	if (t->esys) {
		flush(t, &t->ak);
		flush(t, &t->ek);
		Esys_Finalize(&t->esys);
	}
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	secret_wipe(t, sizeof(*t));
	free(t);
}

/* --- templates ----------------------------------------------------------------------------- */

int tpm_ek_template(enum tpm_ek_type type, TPMT_PUBLIC *ret)
{
	TPMT_PUBLIC p = {
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPM_EK_ATTRIBUTES,
		.authPolicy.size = sizeof(policy_a_sha256),
	};

	memcpy(p.authPolicy.buffer, policy_a_sha256, sizeof(policy_a_sha256));
	switch (type) {
	case TPM_EK_RSA2048:
		p.type = TPM2_ALG_RSA;
		p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
		p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
		p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		p.parameters.rsaDetail.keyBits = 2048;
		p.parameters.rsaDetail.exponent = 0;
		p.unique.rsa.size = 256; /* zero-filled, as the EK Credential Profile says */
		break;
	case TPM_EK_ECC_P256:
		p.type = TPM2_ALG_ECC;
		p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
		p.parameters.eccDetail.symmetric.keyBits.aes = 128;
		p.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		p.unique.ecc.x.size = 32;
		p.unique.ecc.y.size = 32;
		break;
	default:
		return -EINVAL;
	}
	*ret = p;
	return 0;
}

int tpm_ak_template(enum tpm_ak_type type, TPMT_PUBLIC *ret)
{
	TPMT_PUBLIC p = {
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPM_AK_ATTRIBUTES,
	};

	switch (type) {
	case TPM_AK_RSA2048:
		p.type = TPM2_ALG_RSA;
		p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
		p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		p.parameters.rsaDetail.keyBits = 2048;
		p.parameters.rsaDetail.exponent = 0;
		break;
	case TPM_AK_ECC_P256:
		p.type = TPM2_ALG_ECC;
		p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
		p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		break;
	default:
		return -EINVAL;
	}
	*ret = p;
	return 0;
}

/* --- marshaling ---------------------------------------------------------------------------- */

int tpm_public_marshal(const TPMT_PUBLIC *pub, uint8_t **ret, size_t *ret_len,
		       struct kagi_err *reterr)
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	size_t off = 0;
	uint8_t *out;
	TSS2_RC rc;

	rc = Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof(buf), &off);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.public", "marshaling TPMT_PUBLIC");
	out = malloc(off);
	if (!out)
		return kagi_err_set(reterr, -ENOMEM, "tpm.public", KAGI_ERR_NO_OFFSET,
				    "out of memory");
	memcpy(out, buf, off);
	*ret = out;
	*ret_len = off;
	return 0;
}

int tpm_public_unmarshal(const uint8_t *buf, size_t len, TPMT_PUBLIC *ret, struct kagi_err *reterr)
{
	TPMT_PUBLIC pub = { 0 };
	size_t off = 0;
	TSS2_RC rc;

	rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(buf, len, &off, &pub);
	if (rc != TSS2_RC_SUCCESS)
		return kagi_err_set(reterr, -EBADMSG, "tpm.public", KAGI_ERR_NO_OFFSET,
				    "not a TPMT_PUBLIC: %s (0x%x)", Tss2_RC_Decode(rc), rc);
	if (off != len)
		return kagi_err_set(reterr, -EBADMSG, "tpm.public", off,
				    "TPMT_PUBLIC ends at byte %zu of %zu", off, len);
	*ret = pub;
	return 0;
}

/* --- EK / AK ------------------------------------------------------------------------------- */

/* A fresh policy session satisfying PolicySecret(TPM_RH_ENDORSEMENT) = the EK's policy A. */
static int ek_session(struct kagi_tpm *t, ESYS_TR *ret, struct kagi_err *reterr)
{
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	ESYS_TR sess = ESYS_TR_NONE;
	TSS2_RC rc;

	TPM_CALL(rc, Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					   ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym,
					   TPM2_ALG_SHA256, &sess));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.session", "TPM2_StartAuthSession(policy)");
	TPM_CALL(rc,
		 Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, sess, ESYS_TR_PASSWORD,
				   ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL));
	if (rc != TSS2_RC_SUCCESS) {
		int r = tpm_fail(reterr, rc, "tpm.session",
				 "TPM2_PolicySecret(TPM_RH_ENDORSEMENT) (is the endorsement "
				 "hierarchy password set?)");

		flush(t, &sess);
		return r;
	}
	*ret = sess;
	return 0;
}

int tpm_ek_create(struct kagi_tpm *t, enum tpm_ek_type type, TPMT_PUBLIC *ret_pub,
		  struct kagi_err *reterr)
{
	TPM2B_SENSITIVE_CREATE insens = { 0 };
	TPM2B_PUBLIC inpub = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcrs = { 0 };
	TPM2B_PUBLIC *outpub = NULL;
	ESYS_TR h = ESYS_TR_NONE;
	TSS2_RC rc;

	if (tpm_ek_template(type, &inpub.publicArea) < 0)
		return kagi_err_set(reterr, -EINVAL, "tpm.ek", KAGI_ERR_NO_OFFSET,
				    "unknown EK type %d", (int)type);
	TPM_CALL(rc, Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
					ESYS_TR_NONE, ESYS_TR_NONE, &insens, &inpub, &outside,
					&pcrs, &h, &outpub, NULL, NULL, NULL));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.ek",
				"TPM2_CreatePrimary(endorsement, EK template)");
	flush(t, &t->ek);
	t->ek = h;
	if (ret_pub)
		*ret_pub = outpub->publicArea;
	Esys_Free(outpub);
	return 0;
}

int tpm_ek_public_marshaled(const char *tcti, uint8_t **ret, size_t *ret_len,
			    struct kagi_err *reterr)
{
	struct kagi_tpm *t = NULL;
	TPMT_PUBLIC pub;
	int r;

	r = tpm_open(tcti, &t, reterr);
	if (r < 0)
		return r;
	r = tpm_ek_create(t, TPM_EK_RSA2048, &pub, reterr);
	if (r >= 0)
		r = tpm_public_marshal(&pub, ret, ret_len, reterr);
	tpm_close(t);
	return r;
}

static int need_ek(struct kagi_tpm *t, struct kagi_err *reterr)
{
	if (t->ek == ESYS_TR_NONE)
		return kagi_err_set(reterr, -EINVAL, "tpm.ek", KAGI_ERR_NO_OFFSET,
				    "no EK loaded (call tpm_ek_create first)");
	return 0;
}

static int need_ak(struct kagi_tpm *t, struct kagi_err *reterr)
{
	if (t->ak == ESYS_TR_NONE)
		return kagi_err_set(reterr, -EINVAL, "tpm.ak", KAGI_ERR_NO_OFFSET,
				    "no AK loaded (call tpm_ak_create or tpm_ak_reload first)");
	return 0;
}

static int load_under_ek(struct kagi_tpm *t, const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub,
			 struct kagi_err *reterr)
{
	ESYS_TR sess = ESYS_TR_NONE, h = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	r = ek_session(t, &sess, reterr);
	if (r < 0)
		return r;
	TPM_CALL(rc, Esys_Load(t->esys, t->ek, sess, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &h));
	flush(t, &sess);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.ak", "TPM2_Load(AK under the EK)");
	flush(t, &t->ak);
	t->ak = h;
	return 0;
}

int tpm_ak_create(struct kagi_tpm *t, enum tpm_ak_type type, TPMT_PUBLIC *ret_pub,
		  struct kagi_err *reterr)
{
	TPM2B_SENSITIVE_CREATE insens = { 0 };
	TPM2B_PUBLIC inpub = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcrs = { 0 };
	TPM2B_PRIVATE *outpriv = NULL;
	TPM2B_PUBLIC *outpub = NULL;
	ESYS_TR sess = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	r = need_ek(t, reterr);
	if (r < 0)
		return r;
	if (tpm_ak_template(type, &inpub.publicArea) < 0)
		return kagi_err_set(reterr, -EINVAL, "tpm.ak", KAGI_ERR_NO_OFFSET,
				    "unknown AK type %d", (int)type);
	r = ek_session(t, &sess, reterr);
	if (r < 0)
		return r;
	TPM_CALL(rc, Esys_Create(t->esys, t->ek, sess, ESYS_TR_NONE, ESYS_TR_NONE, &insens, &inpub,
				 &outside, &pcrs, &outpriv, &outpub, NULL, NULL, NULL));
	flush(t, &sess);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.ak", "TPM2_Create(AK under the EK)");

	r = load_under_ek(t, outpriv, outpub, reterr);
	if (r >= 0) {
		t->ak_priv = *outpriv;
		t->has_ak_priv = true;
		if (ret_pub)
			*ret_pub = outpub->publicArea;
	}
	Esys_Free(outpriv);
	Esys_Free(outpub);
	return r;
}

int tpm_ak_private(struct kagi_tpm *t, TPM2B_PRIVATE *ret, struct kagi_err *reterr)
{
	if (!t->has_ak_priv)
		return kagi_err_set(reterr, -ENOENT, "tpm.ak", KAGI_ERR_NO_OFFSET,
				    "no AK was created in this context");
	*ret = t->ak_priv;
	return 0;
}

int tpm_ak_reload(struct kagi_tpm *t, const TPM2B_PRIVATE *priv, const TPMT_PUBLIC *pub,
		  struct kagi_err *reterr)
{
	TPM2B_PUBLIC p = { .publicArea = *pub };
	int r;

	r = need_ek(t, reterr);
	if (r < 0)
		return r;
	r = load_under_ek(t, priv, &p, reterr);
	if (r < 0)
		return r;
	t->has_ak_priv = false;
	return 0;
}

int tpm_ak_name(struct kagi_tpm *t, TPM2B_NAME *ret, struct kagi_err *reterr)
{
	TPM2B_NAME *name = NULL;
	TSS2_RC rc;
	int r;

	r = need_ak(t, reterr);
	if (r < 0)
		return r;
	rc = Esys_TR_GetName(t->esys, t->ak, &name);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.ak", "Esys_TR_GetName(AK)");
	*ret = *name;
	Esys_Free(name);
	return 0;
}

/* --- quote, PCRs --------------------------------------------------------------------------- */

static int check_selection(const TPML_PCR_SELECTION *sel, struct kagi_err *reterr)
{
	if (!sel || sel->count == 0)
		return kagi_err_set(reterr, -EINVAL, "tpm.pcr_selection", KAGI_ERR_NO_OFFSET,
				    "empty PCR selection");
	if (sel->count > TPM_PCR_BANKS_MAX)
		return kagi_err_set(reterr, -EINVAL, "tpm.pcr_selection", KAGI_ERR_NO_OFFSET,
				    "PCR selection has %u banks, expected at most %d", sel->count,
				    TPM_PCR_BANKS_MAX);
	for (uint32_t i = 0; i < sel->count; i++) {
		const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];

		if (!hash_size(s->hash))
			return kagi_err_set(reterr, -EINVAL, "tpm.pcr_selection",
					    KAGI_ERR_NO_OFFSET, "unknown PCR bank 0x%04x", s->hash);
		if (s->sizeofSelect > 3)
			return kagi_err_set(reterr, -EINVAL, "tpm.pcr_selection",
					    KAGI_ERR_NO_OFFSET,
					    "bank %s selects %u bytes of PCRs, expected at most 3",
					    tpm_hash_alg_name(s->hash), s->sizeofSelect);
		for (uint32_t j = 0; j < i; j++)
			if (sel->pcrSelections[j].hash == s->hash)
				return kagi_err_set(reterr, -EINVAL, "tpm.pcr_selection",
						    KAGI_ERR_NO_OFFSET, "bank %s is selected twice",
						    tpm_hash_alg_name(s->hash));
	}
	return 0;
}

void tpm_pcr_selection_single(TPMI_ALG_HASH alg, uint32_t mask, TPML_PCR_SELECTION *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->count = 1;
	ret->pcrSelections[0].hash = alg;
	ret->pcrSelections[0].sizeofSelect = 3;
	ret->pcrSelections[0].pcrSelect[0] = (uint8_t)mask;
	ret->pcrSelections[0].pcrSelect[1] = (uint8_t)(mask >> 8);
	ret->pcrSelections[0].pcrSelect[2] = (uint8_t)(mask >> 16);
}

int tpm_quote(struct kagi_tpm *t, const uint8_t *qualifying, size_t qlen,
	      const TPML_PCR_SELECTION *sel, uint8_t **ret_attest, size_t *ret_attest_len,
	      uint8_t **ret_sig, size_t *ret_sig_len, struct kagi_err *reterr)
{
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL }; /* the AK's own scheme */
	TPM2B_DATA q = { 0 };
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *sig = NULL;
	uint8_t sigbuf[sizeof(TPMT_SIGNATURE)];
	_cleanup_free_ uint8_t *attest = NULL, *sigout = NULL;
	size_t sigoff = 0;
	TSS2_RC rc;
	int r;

	r = need_ak(t, reterr);
	if (r < 0)
		return r;
	r = check_selection(sel, reterr);
	if (r < 0)
		return r;
	if (qlen > 64 || (qlen && !qualifying))
		return kagi_err_set(reterr, -EINVAL, "tpm.quote.qualifying", KAGI_ERR_NO_OFFSET,
				    "qualifying data is %zu bytes, expected at most 64", qlen);
	q.size = (UINT16)qlen;
	if (qlen)
		memcpy(q.buffer, qualifying, qlen);

	TPM_CALL(rc, Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q,
				&scheme, sel, &quoted, &sig));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.quote", "TPM2_Quote");
	rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sigbuf, sizeof(sigbuf), &sigoff);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_fail(reterr, rc, "tpm.quote", "marshaling TPMT_SIGNATURE");
		goto out;
	}
	attest = malloc(quoted->size ? quoted->size : 1);
	sigout = malloc(sigoff);
	if (!attest || !sigout) {
		r = kagi_err_set(reterr, -ENOMEM, "tpm.quote", KAGI_ERR_NO_OFFSET, "out of memory");
		goto out;
	}
	memcpy(attest, quoted->attestationData, quoted->size);
	memcpy(sigout, sigbuf, sigoff);
	*ret_attest_len = quoted->size;
	*ret_attest = attest;
	attest = NULL;
	*ret_sig_len = sigoff;
	*ret_sig = sigout;
	sigout = NULL;
	r = 0;
out:
	Esys_Free(quoted);
	Esys_Free(sig);
	return r;
}

static bool selection_empty(const TPML_PCR_SELECTION *s)
{
	for (uint32_t i = 0; i < s->count; i++)
		for (unsigned b = 0; b < s->pcrSelections[i].sizeofSelect; b++)
			if (s->pcrSelections[i].pcrSelect[b])
				return false;
	return true;
}

/* Consume one PCR_Read answer into v, clearing what came back from want. */
static int pcr_take(const TPML_PCR_SELECTION *out, const TPML_DIGEST *vals,
		    TPML_PCR_SELECTION *want, struct tpm_pcr_readout *v, bool *progress,
		    struct kagi_err *reterr)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < out->count; i++) {
		const TPMS_PCR_SELECTION *o = &out->pcrSelections[i];
		TPMS_PCR_SELECTION *w = NULL;
		struct tpm_pcr_readout_bank *bank = NULL;

		for (uint32_t j = 0; j < want->count; j++)
			if (want->pcrSelections[j].hash == o->hash) {
				w = &want->pcrSelections[j];
				bank = &v->banks[j];
			}
		if (!w)
			return kagi_err_set(reterr, -EBADMSG, "tpm.pcr_read", KAGI_ERR_NO_OFFSET,
					    "the TPM returned bank 0x%04x, which was not requested",
					    o->hash);
		for (unsigned n = 0; n < 8u * o->sizeofSelect && n < 8u * sizeof(o->pcrSelect);
		     n++) {
			uint8_t bit = (uint8_t)(1u << (n % 8));

			if (!(o->pcrSelect[n / 8] & bit))
				continue;
			if (n >= TPM_PCR_MAX || n / 8 >= w->sizeofSelect ||
			    !(w->pcrSelect[n / 8] & bit))
				return kagi_err_set(reterr, -EBADMSG, "tpm.pcr_read",
						    KAGI_ERR_NO_OFFSET,
						    "the TPM returned %s PCR %u, which was not "
						    "requested",
						    tpm_hash_alg_name(o->hash), n);
			if (k >= vals->count || vals->digests[k].size != bank->digest_size)
				return kagi_err_set(
					reterr, -EBADMSG, "tpm.pcr_read", KAGI_ERR_NO_OFFSET,
					"the TPM returned %u digests that do not match its "
					"selection (%s PCR %u)",
					vals->count, tpm_hash_alg_name(o->hash), n);
			memcpy(bank->pcr[n], vals->digests[k].buffer, bank->digest_size);
			bank->mask |= 1u << n;
			w->pcrSelect[n / 8] &= (uint8_t)~bit;
			k++;
			*progress = true;
		}
	}
	if (k != vals->count)
		return kagi_err_set(reterr, -EBADMSG, "tpm.pcr_read", KAGI_ERR_NO_OFFSET,
				    "the TPM returned %u digests for %u selected PCRs", vals->count,
				    k);
	return 0;
}

int tpm_pcr_read(struct kagi_tpm *t, const TPML_PCR_SELECTION *sel, struct tpm_pcr_readout *ret,
		 struct kagi_err *reterr)
{
	_cleanup_free_ struct tpm_pcr_readout *v = NULL;
	int r;

	r = check_selection(sel, reterr);
	if (r < 0)
		return r;
	v = malloc(sizeof(*v));
	if (!v)
		return kagi_err_set(reterr, -ENOMEM, "tpm.pcr_read", KAGI_ERR_NO_OFFSET,
				    "out of memory");

	for (unsigned attempt = 1; attempt <= PCR_READ_ATTEMPTS; attempt++) {
		TPML_PCR_SELECTION want = *sel;
		bool have_counter = false, changed = false;
		uint32_t counter = 0;

		memset(v, 0, sizeof(*v));
		v->n_banks = sel->count;
		for (uint32_t i = 0; i < sel->count; i++) {
			v->banks[i].alg = sel->pcrSelections[i].hash;
			v->banks[i].digest_size = hash_size(sel->pcrSelections[i].hash);
		}
		while (!selection_empty(&want)) {
			TPML_PCR_SELECTION *out = NULL;
			TPML_DIGEST *vals = NULL;
			UINT32 uc = 0;
			bool progress = false;
			TSS2_RC rc;

			TPM_CALL(rc, Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
						   ESYS_TR_NONE, &want, &uc, &out, &vals));
			if (rc != TSS2_RC_SUCCESS)
				return tpm_fail(reterr, rc, "tpm.pcr_read", "TPM2_PCR_Read");
			if (have_counter && uc != counter) {
				changed = true;
				Esys_Free(out);
				Esys_Free(vals);
				break;
			}
			counter = uc;
			have_counter = true;
			r = pcr_take(out, vals, &want, v, &progress, reterr);
			Esys_Free(out);
			Esys_Free(vals);
			if (r < 0)
				return r;
			if (!progress) {
				for (uint32_t i = 0; i < want.count; i++)
					for (unsigned b = 0; b < want.pcrSelections[i].sizeofSelect;
					     b++)
						if (want.pcrSelections[i].pcrSelect[b])
							return kagi_err_set(
								reterr, -ENOENT, "tpm.pcr_read",
								KAGI_ERR_NO_OFFSET,
								"the TPM returned no values for "
								"some %s PCRs (bank not "
								"allocated?)",
								tpm_hash_alg_name(
									want.pcrSelections[i]
										.hash));
			}
		}
		if (!changed) {
			v->update_counter = counter;
			*ret = *v;
			return 0;
		}
		log_debug("PCRs changed during TPM2_PCR_Read (attempt %u), reading again", attempt);
	}
	return kagi_err_set(reterr, -EAGAIN, "tpm.pcr_read", KAGI_ERR_NO_OFFSET,
			    "the PCRs kept changing during the read (updateCounter moved in %d "
			    "attempts)",
			    PCR_READ_ATTEMPTS);
}

int tpm_pcr_extend(struct kagi_tpm *t, unsigned pcr, const uint8_t *data, size_t len,
		   struct kagi_err *reterr)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = 0;
	TPML_DIGEST_VALUES dv = { 0 };
	TSS2_RC rc;
	int r = 0;

	if (pcr >= TPM_PCR_MAX)
		return kagi_err_set(reterr, -EINVAL, "tpm.pcr_extend", KAGI_ERR_NO_OFFSET,
				    "PCR %u is out of range, expected 0..%d", pcr, TPM_PCR_MAX - 1);
	if (len && !data)
		return kagi_err_set(reterr, -EINVAL, "tpm.pcr_extend", KAGI_ERR_NO_OFFSET,
				    "no data");
	TPM_CALL(rc, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					TPM2_CAP_PCRS, 0, 1, &more, &cap));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.pcr_extend", "TPM2_GetCapability(PCRS)");

	for (uint32_t i = 0; i < cap->data.assignedPCR.count; i++) {
		const TPMS_PCR_SELECTION *s = &cap->data.assignedPCR.pcrSelections[i];
		const EVP_MD *md;
		unsigned int mdlen = 0;

		if (pcr / 8 >= s->sizeofSelect || !(s->pcrSelect[pcr / 8] & (1u << (pcr % 8))))
			continue; /* bank not active for this PCR */
		md = hash_md(s->hash);
		if (!md || dv.count >= TPM2_NUM_PCR_BANKS) {
			r = kagi_err_set(reterr, -EOPNOTSUPP, "tpm.pcr_extend", KAGI_ERR_NO_OFFSET,
					 "PCR bank 0x%04x is active but kagi cannot hash with it",
					 s->hash);
			goto out;
		}
		dv.digests[dv.count].hashAlg = s->hash;
		if (!EVP_Digest(data ? data : (const uint8_t *)"", len,
				(unsigned char *)&dv.digests[dv.count].digest, &mdlen, md, NULL) ||
		    mdlen != hash_size(s->hash)) {
			r = kagi_err_set(reterr, -EIO, "tpm.pcr_extend", KAGI_ERR_NO_OFFSET,
					 "hashing with %s failed", tpm_hash_alg_name(s->hash));
			goto out;
		}
		dv.count++;
	}
	if (dv.count == 0) {
		r = kagi_err_set(reterr, -ENOENT, "tpm.pcr_extend", KAGI_ERR_NO_OFFSET,
				 "PCR %u is not allocated in any bank", pcr);
		goto out;
	}
	TPM_CALL(rc, Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				     ESYS_TR_NONE, &dv));
	if (rc != TSS2_RC_SUCCESS)
		r = tpm_fail(reterr, rc, "tpm.pcr_extend", "TPM2_PCR_Extend");
out:
	Esys_Free(cap);
	return r;
}

/* --- credential ---------------------------------------------------------------------------- */

int tpm_activate_credential(struct kagi_tpm *t, const TPM2B_ID_OBJECT *blob,
			    const TPM2B_ENCRYPTED_SECRET *secret, TPM2B_DIGEST *ret_cert,
			    struct kagi_err *reterr)
{
	TPM2B_DIGEST *cert = NULL;
	ESYS_TR sess = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	r = need_ek(t, reterr);
	if (r < 0)
		return r;
	r = need_ak(t, reterr);
	if (r < 0)
		return r;
	if (!blob || !secret)
		return kagi_err_set(reterr, -EINVAL, "tpm.activate", KAGI_ERR_NO_OFFSET,
				    "no credential blob or secret");
	r = ek_session(t, &sess, reterr);
	if (r < 0)
		return r;
	/* activateHandle = AK (ADMIN role, empty password), keyHandle = EK (USER role, policy). */
	TPM_CALL(rc, Esys_ActivateCredential(t->esys, t->ak, t->ek, ESYS_TR_PASSWORD, sess,
					     ESYS_TR_NONE, blob, secret, &cert));
	flush(t, &sess);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(reterr, rc, "tpm.activate", "TPM2_ActivateCredential");
	*ret_cert = *cert;
	secret_wipe(cert, sizeof(*cert));
	Esys_Free(cert);
	return 0;
}

/* --- event log ----------------------------------------------------------------------------- */

int tpm_eventlog_read(const char *path, uint8_t **ret, size_t *ret_len, struct kagi_err *reterr)
{
	static const char secfs[] = SECFS;
	int r;

	if (!path)
		path = TPM_EVENTLOG_PATH;
	r = read_file(path, TPM_EVENTLOG_MAX, ret, ret_len);
	if (r >= 0)
		return 0;
	if (r == -ENOENT && strncmp(path, SECFS "/", sizeof(SECFS)) == 0) {
		struct statfs sfs;

		if (statfs(secfs, &sfs) < 0 || (unsigned long)sfs.f_type != SECURITYFS_MAGIC)
			return kagi_err_set(reterr, r, "tpm.eventlog", KAGI_ERR_NO_OFFSET,
					    "'%s' not found: securityfs is not mounted at %s "
					    "(mount -t securityfs securityfs %s)",
					    path, secfs, secfs);
		return kagi_err_set(reterr, r, "tpm.eventlog", KAGI_ERR_NO_OFFSET,
				    "'%s' not found: the kernel exposes no TPM event log (no TPM, "
				    "or the firmware passed no log)",
				    path);
	}
	if (r == -EFBIG)
		return kagi_err_set(reterr, r, "tpm.eventlog", KAGI_ERR_NO_OFFSET,
				    "'%s' is larger than %d bytes", path, TPM_EVENTLOG_MAX);
	if (r == -EACCES || r == -EPERM)
		return kagi_err_set(reterr, r, "tpm.eventlog", KAGI_ERR_NO_OFFSET,
				    "reading '%s': permission denied (needs root)", path);
	return kagi_err_set(reterr, r, "tpm.eventlog", KAGI_ERR_NO_OFFSET,
			    "reading '%s' failed: %s", path, strerror(-r));
}
