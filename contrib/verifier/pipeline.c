// SPDX-License-Identifier: Apache-2.0
/*
 * pipeline.c: the verifier's decisions (see pipeline.h). /v1/attest runs the checks of the
 * PROTOCOL.md table in order:
 *
 *   request.malformed -> tls.client_cert -> token.* -> snp.report/chain/signature/report_data
 *   -> snp.policy.* (groups) -> svsm.* -> tpm.* -> policy.* (group selection)
 *   -> volume.unknown/revoked/not_allowed -> release (K, MakeCredential or ECDH, seal)
 *
 * K and the volume keys live only in struct secret and are freed (wiped) before returning.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "binding.h"
#include "credential.h"
#include "eventlog.h"
#include "log.h"
#include "pipeline.h"
#include "snp-certs.h"
#include "snp-policy.h"
#include "snp-report.h"
#include "snp-verify.h"
#include "token.h"
#include "tpm-quote.h"
#include "util.h"

#define EC_P384_POINT_SIZE 97 /* 0x04 || X (48) || Y (48) */

/* The TCG EK Credential Profile template L-1 (RSA 2048): fixedTPM, fixedParent,
 * sensitiveDataOrigin, adminWithPolicy, restricted, decrypt. */
#define EK_L1_ATTRIBUTES 0x000300B2u

struct attest {
	struct pipeline_ctx *ctx;
	const struct proto_attest_request *req;
	const struct proto_evidence *ev;
	struct proto_attest_response *resp;
	struct audit_record *audit;
	time_t now;
	bool vtpm;
	EVP_PKEY *agent_ecdh; /* direct path: the agent's ephemeral public key */
	struct token_claims tok;
	uint8_t spki_hash[32];
	struct snp_report rep;
	enum snp_product product;
	TPMT_PUBLIC ek, ak;
	struct tpm_pcr_values pcrs; /* quoted (and therefore verified) values */
	bool has_log;
	struct eventlog log;
	/* groups listing a requested volume, in file order */
	size_t ncand;
	size_t *cand;
	bool *snp_ok, *passed;
	bool have_first;
	char first_code[64];
	char first_msg[600];
	const struct vpolicy_group *group; /* chosen */
	struct secret *keys[PROTO_MAX_VOLUMES];
};

/* ---- responses ------------------------------------------------------------------------------ */

static void reset_response(struct proto_attest_response *resp)
{
	proto_attest_response_done(resp);
	memset(resp, 0, sizeof(*resp));
}

static int add_reason(struct proto_attest_response *resp, struct audit_record *audit, int status,
		      const char *code, const char *msg)
{
	proto_response_add_reason(resp, code, "%s", msg);
	if (audit)
		audit_record_add_reason(audit, code);
	return status;
}

static int refuse_err(struct attest *a, int status, const char *code, const struct kagi_err *e)
{
	char msg[600];

	return add_reason(a->resp, a->audit, status, code,
			  e && e->what ? kagi_err_str(e, msg, sizeof(msg)) : "(no details)");
}

static int refusef(struct attest *a, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refusef(struct attest *a, int status, const char *code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return add_reason(a->resp, a->audit, status, code, msg);
}

static int internal(struct attest *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int internal(struct attest *a, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("attest: %s", msg);
	reset_response(a->resp);
	a->audit->nreasons = 0;
	return add_reason(a->resp, a->audit, PIPELINE_HTTP_UNAVAILABLE, "internal",
			  "the verifier could not complete the request");
}

int pipeline_refusal_json(const char *code, const char *msg, char **ret_json)
{
	struct proto_attest_response resp = { 0 };
	int r;

	proto_response_add_reason(&resp, code, "%s", msg);
	r = proto_attest_response_encode(&resp, ret_json);
	proto_attest_response_done(&resp);
	return r;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static time_t ctx_now(const struct pipeline_ctx *ctx)
{
	return ctx->now ? ctx->now : time(NULL);
}

/* An uncompressed P-384 point into a public EVP_PKEY, validated. */
static int ec_p384_from_point(const uint8_t *pt, size_t len, EVP_PKEY **ret, const char **why)
{
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[3];
	int r = -EBADMSG;

	if (len != EC_P384_POINT_SIZE || pt[0] != 0x04) {
		*why = "not an uncompressed P-384 point (97 bytes starting with 0x04)";
		return -EBADMSG;
	}
	params[0] =
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-384", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len);
	params[2] = OSSL_PARAM_construct_end();
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		*why = "not a point on P-384";
		goto out;
	}
	EVP_PKEY_CTX_free(pctx);
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!pctx || EVP_PKEY_public_check(pctx) != 1) {
		*why = "not a valid P-384 public key";
		goto out;
	}
	*ret = pkey;
	pkey = NULL;
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pkey);
	return r;
}

static int ec_point_encode(EVP_PKEY *key, struct proto_blob *ret)
{
	uint8_t buf[EC_P384_POINT_SIZE + 8];
	size_t len = 0;

	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf,
					    sizeof(buf), &len) != 1 ||
	    len != EC_P384_POINT_SIZE) {
		ERR_clear_error();
		return -EIO;
	}
	ret->data = malloc(len);
	if (!ret->data)
		return -ENOMEM;
	memcpy(ret->data, buf, len);
	ret->len = len;
	return 0;
}

static const char *bank_name(TPMI_ALG_HASH alg)
{
	const char *n = tpm_alg_name(alg);

	return n ? n : "unknown";
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void hex_field(char *dst, size_t dstlen, const uint8_t *p, size_t n)
{
	if (dstlen >= 2 * n + 1)
		hex_encode(p, n, dst);
}

/* ---- 1. shape, TLS, token ------------------------------------------------------------------- */

static int check_shape(struct attest *a)
{
	const struct proto_attest_request *req = a->req;
	const struct proto_evidence *ev = a->ev;
	const char *why = NULL;

	if (req->nvolumes == 0 || req->nvolumes > PROTO_MAX_VOLUMES)
		return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
			       "volumes: %zu given, expected 1..%d", req->nvolumes,
			       PROTO_MAX_VOLUMES);
	for (size_t i = 0; i < req->nvolumes; i++) {
		if (!proto_uuid_valid(req->volumes[i]))
			return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
				       "volumes[%zu] is not a lowercase canonical UUID", i);
		for (size_t j = 0; j < i; j++)
			if (streq(req->volumes[i], req->volumes[j]))
				return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
					       "volumes[%zu] repeats volumes[%zu]", i, j);
	}
	if (!ev->snp_report.len)
		return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
			       "evidence.snp.report is missing");
	if (ev->has_svsm != ev->has_tpm)
		return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
			       "evidence.svsm and evidence.tpm must come together");
	a->vtpm = ev->has_svsm;
	if (a->vtpm) {
		if (ev->ecdh_public.len)
			return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
				       "evidence.ecdh_public is for the direct path only");
		if (!ev->svsm_report.len || !ev->svsm_manifest.len || !ev->ek_public.len ||
		    !ev->ak_public.len || !ev->quote_attest.len || !ev->quote_sig.len)
			return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
				       "the vTPM evidence is incomplete");
		return 0;
	}
	if (!ev->ecdh_public.len)
		return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
			       "evidence.ecdh_public is required without a vTPM");
	if (ec_p384_from_point(ev->ecdh_public.data, ev->ecdh_public.len, &a->agent_ecdh, &why) < 0)
		return refusef(a, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
			       "evidence.ecdh_public: %s", why);
	return 0;
}

static int check_tls(struct attest *a, EVP_PKEY *tls_client_key)
{
	if (!tls_client_key)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "tls.client_cert",
			       "no acceptable TLS client certificate");
	if (binding_spki_hash(tls_client_key, a->spki_hash) < 0)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "tls.client_cert",
			       "cannot encode the TLS client public key");
	return 0;
}

static int check_token(struct attest *a)
{
	struct kagi_err e = { 0 };

	if (token_check(a->ctx->token_key, a->ctx->store, a->req->token, a->now, &a->tok, &e) >= 0)
		return 0;
	if (streq(e.what, "internal"))
		return internal(a, "token: %s", e.msg);
	return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, e.what, &e);
}

/* ---- 2. SNP reports -------------------------------------------------------------------------- */

/* Verify one report (the direct one: prefix "snp"; the SVSM one: "svsm"). */
static int check_snp(struct attest *a, const char *prefix, const struct proto_blob *report,
		     const struct proto_blob *certs, struct snp_report *ret_rep,
		     enum snp_product *ret_product)
{
	struct snp_verify_opts opts = { .at = a->now };
	struct snp_verify_result res = { 0 };
	struct snp_cert_table t = { 0 };
	const struct snp_cert_entry *ent;
	struct kagi_err e = { 0 };
	STACK_OF(X509) *host = NULL;
	X509 *signer = NULL;
	char code[32];
	unsigned sk;
	bool vlek;
	int r, status = 0;

	snprintf(code, sizeof(code), "%s.report", prefix);
	if (snp_report_decode(report->data, report->len, ret_rep, &e) < 0)
		return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, code, &e);

	snprintf(code, sizeof(code), "%s.signature", prefix);
	sk = SNP_KEY_INFO_SIGNING_KEY(ret_rep->key_info);
	if (sk != SNP_SIGNING_KEY_VCEK && sk != SNP_SIGNING_KEY_VLEK)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, code,
			       "report.key_info at offset 0x48: SIGNING_KEY is %u: the report is "
			       "not signed by a VCEK (0) or VLEK (1)",
			       sk);
	vlek = sk == SNP_SIGNING_KEY_VLEK;

	snprintf(code, sizeof(code), "%s.chain", prefix);
	if (snp_certs_decode(certs->data, certs->len, &t, &e) < 0)
		return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, code, &e);
	ent = snp_certs_find(&t, vlek ? SNP_CERT_VLEK : SNP_CERT_VCEK);
	if (ent) {
		if (snp_cert_load(ent->der, ent->len, &signer, &e) < 0)
			return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, code, &e);
	} else if (a->ctx->kds && !vlek) {
		/* Fetched (or cached) certificates decide nothing: the chain check below does. */
		if (kds_get_vcek(a->ctx->kds, ret_rep, SNP_PRODUCT_UNKNOWN, &signer, &e) < 0)
			return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, code, &e);
	} else {
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, code,
			       "no %s supplied: the evidence has no %s certificate%s",
			       vlek ? "VLEK" : "VCEK", vlek ? "VLEK" : "VCEK",
			       vlek ? "" : " and kds_url is not configured");
	}
	host = sk_X509_new_null();
	if (!host) {
		status = internal(a, "out of memory");
		goto out;
	}
	/* Host-supplied ASK/ASVK: used only if it chains to a trusted ARK. A host ARK is ignored. */
	ent = snp_certs_find(&t, SNP_CERT_ASK);
	if (ent) {
		X509 *ask = NULL;

		if (snp_cert_load(ent->der, ent->len, &ask, &e) < 0) {
			status = refuse_err(a, PIPELINE_HTTP_FORBIDDEN, code, &e);
			goto out;
		}
		if (!sk_X509_push(host, ask)) {
			X509_free(ask);
			status = internal(a, "out of memory");
			goto out;
		}
	}
	r = snp_verify_report(ret_rep, report->data, signer, host, a->ctx->roots, &opts, &res, &e);
	if (r == -ENOMEM) {
		status = internal(a, "out of memory verifying the %s report", prefix);
	} else if (r < 0) {
		/* chain and certificate problems -> .chain; the report's own -> .signature */
		bool chain = starts_with(e.what, "chain.") || starts_with(e.what, "cert");

		snprintf(code, sizeof(code), "%s.%s", prefix, chain ? "chain" : "signature");
		status = refuse_err(a, PIPELINE_HTTP_FORBIDDEN, code, &e);
	} else {
		*ret_product = res.product;
		log_debug("attest: %s report verified: %s", prefix, res.chain);
	}
out:
	sk_X509_pop_free(host, X509_free);
	X509_free(signer);
	return status;
}

static int check_report_data(struct attest *a)
{
	const struct proto_blob *kp = a->vtpm ? &a->ev->ak_public : &a->ev->ecdh_public;
	uint8_t want[64];
	char h1[129], h2[129];

	binding_report_data(a->tok.nonce, kp->data, kp->len, a->spki_hash, want);
	if (CRYPTO_memcmp(want, a->rep.report_data, 64) == 0)
		return 0;
	return refusef(
		a, PIPELINE_HTTP_FORBIDDEN, "snp.report_data",
		"REPORT_DATA %.32s... is not the binding of this challenge, %s and TLS client "
		"key (expected %.32s...)",
		hex_encode(a->rep.report_data, 64, h1), a->vtpm ? "AK" : "ECDH public key",
		hex_encode(want, 64, h2));
}

/* ---- 3. groups ------------------------------------------------------------------------------ */

static int find_candidates(struct attest *a)
{
	const struct vpolicy *pol = a->ctx->policy;

	a->cand = calloc(pol->ngroups ? pol->ngroups : 1, sizeof(*a->cand));
	a->snp_ok = calloc(pol->ngroups ? pol->ngroups : 1, sizeof(*a->snp_ok));
	a->passed = calloc(pol->ngroups ? pol->ngroups : 1, sizeof(*a->passed));
	if (!a->cand || !a->snp_ok || !a->passed)
		return internal(a, "out of memory");
	for (size_t g = 0; g < pol->ngroups; g++)
		for (size_t i = 0; i < a->req->nvolumes; i++)
			if (vpolicy_group_has_volume(&pol->groups[g], a->req->volumes[i])) {
				a->cand[a->ncand++] = g;
				break;
			}
	return 0;
}

static void note_first(struct attest *a, size_t i, const char *code, const struct kagi_err *e,
		       const char *msg)
{
	char buf[600];

	if (i != 0 || a->have_first)
		return;
	a->have_first = true;
	snprintf(a->first_code, sizeof(a->first_code), "%s", code);
	snprintf(a->first_msg, sizeof(a->first_msg), "group '%s': %s",
		 a->ctx->policy->groups[a->cand[0]].name,
		 e ? kagi_err_str(e, buf, sizeof(buf)) : msg);
}

static int refuse_first(struct attest *a)
{
	return add_reason(a->resp, a->audit, PIPELINE_HTTP_FORBIDDEN, a->first_code, a->first_msg);
}

/* snp.policy.<rule>, per candidate group. If no candidate passes, the first one's reason. */
static int check_snp_policies(struct attest *a)
{
	bool any = false;

	for (size_t i = 0; i < a->ncand; i++) {
		const struct vpolicy_group *g = &a->ctx->policy->groups[a->cand[i]];
		struct kagi_err e = { 0 };
		char code[80];

		if (snp_policy_check(&g->snp, &a->rep, a->product, &e) == 0) {
			a->snp_ok[i] = any = true;
			continue;
		}
		snprintf(code, sizeof(code), "snp.%s",
			 starts_with(e.what, "policy.") ? e.what : "policy.report");
		note_first(a, i, code, &e, NULL);
	}
	if (a->ncand && !any)
		return refuse_first(a);
	return 0;
}

/* policy.pcr, policy.event, policy.vtpm_required; the first candidate that passes is used. */
static int select_group(struct attest *a)
{
	static const struct tpm_pcr_values none;

	for (size_t i = 0; i < a->ncand; i++) {
		const struct vpolicy_group *g = &a->ctx->policy->groups[a->cand[i]];
		struct kagi_err e = { 0 };
		int r = 0;

		if (!a->snp_ok[i])
			continue;
		/* An event is only evidence if its PCR, in the rule's bank, is quoted: only then
		 * did check_eventlog() compare the log's replay with what the TPM signed. */
		for (size_t k = 0; a->vtpm && a->has_log && k < g->nevents; k++) {
			const struct vpolicy_event *ev = &g->events[k];

			if (ev->pcr >= TPM_PCR_MAX ||
			    !tpm_pcr_values_get(&a->pcrs, ev->alg, ev->pcr)) {
				char m[160];

				snprintf(m, sizeof(m),
					 "required event %zu is in PCR %u (%s), which the quote "
					 "does "
					 "not cover",
					 k, ev->pcr, bank_name(ev->alg));
				note_first(a, i, "policy.event", NULL, m);
				r = -1;
				break;
			}
		}
		if (r < 0)
			continue;
		r = vpolicy_check_tpm(g, a->vtpm ? &a->pcrs : &none, a->has_log ? &a->log : NULL,
				      &e);
		if (r == -ENOMEM)
			return internal(a, "out of memory checking the TPM policy");
		if (r < 0) {
			note_first(a, i,
				   streq(e.what, "policy.event") ? "policy.event" : "policy.pcr",
				   &e, NULL);
			continue;
		}
		if (g->require_vtpm && !a->vtpm) {
			note_first(a, i, "policy.vtpm_required", NULL,
				   "the group requires a vTPM, but the evidence is for the direct "
				   "path");
			continue;
		}
		a->passed[i] = true;
		if (!a->group)
			a->group = g;
	}
	if (a->ncand && !a->group)
		return refuse_first(a);
	return 0;
}

/* ---- 4. SVSM ---------------------------------------------------------------------------------- */

static int check_manifest(struct attest *a)
{
	const struct proto_blob *m = &a->ev->svsm_manifest, *ek = &a->ev->ek_public;
	const TPMS_RSA_PARMS *rp;
	struct kagi_err e = { 0 };
	TPMT_PUBLIC pub;

	if (tpm_public_decode(m->data, m->len, &pub, &e) < 0)
		return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "svsm.manifest", &e);
	rp = &pub.parameters.rsaDetail;
	if (pub.type != TPM2_ALG_RSA || rp->keyBits != 2048 || pub.unique.rsa.size != 256)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "svsm.manifest",
			       "the manifest is not an RSA-2048 EK (type 0x%04x, %u bits)",
			       pub.type, pub.type == TPM2_ALG_RSA ? rp->keyBits : 0);
	if (pub.objectAttributes != EK_L1_ATTRIBUTES)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "svsm.manifest",
			       "EK attributes 0x%08x, expected 0x%08x (template L-1)",
			       pub.objectAttributes, EK_L1_ATTRIBUTES);
	if (pub.nameAlg != TPM2_ALG_SHA256)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "svsm.manifest",
			       "EK nameAlg 0x%04x, expected SHA-256 (0x000b)", pub.nameAlg);
	if (rp->symmetric.algorithm != TPM2_ALG_AES || rp->symmetric.keyBits.aes != 128 ||
	    rp->symmetric.mode.aes != TPM2_ALG_CFB)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "svsm.manifest",
			       "EK symmetric algorithm is not AES-128-CFB (template L-1)");
	if (m->len != ek->len || memcmp(m->data, ek->data, m->len) != 0)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "svsm.manifest",
			       "the manifest (%zu bytes) differs from tpm.ek_public (%zu bytes)",
			       m->len, ek->len);
	a->ek = pub;
	return 0;
}

static int check_svsm(struct attest *a)
{
	const struct proto_evidence *ev = a->ev;
	struct snp_report srep;
	enum snp_product sp = SNP_PRODUCT_UNKNOWN;
	uint8_t nonce64[64], want[64];
	char h1[129], h2[129];
	int r;

	r = check_snp(a, "svsm", &ev->svsm_report, &ev->svsm_certs, &srep, &sp);
	if (r)
		return r;
	if (srep.vmpl != 0)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "svsm.vmpl",
			       "the SVSM report has VMPL %u, expected 0", srep.vmpl);
	binding_svsm_nonce(a->tok.nonce, a->spki_hash, nonce64);
	binding_svsm_report_data(nonce64, ev->svsm_manifest.data, ev->svsm_manifest.len, want);
	if (CRYPTO_memcmp(want, srep.report_data, 64) != 0)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "svsm.binding",
			       "SVSM REPORT_DATA %.32s... is not SHA-512(nonce64 || manifest) for "
			       "this challenge and TLS client key (expected %.32s...)",
			       hex_encode(srep.report_data, 64, h1), hex_encode(want, 64, h2));
	/* Both reports come from the same guest: same launch measurement, same chip. */
	if (memcmp(srep.measurement, a->rep.measurement, 48) != 0 ||
	    memcmp(srep.chip_id, a->rep.chip_id, 64) != 0)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "svsm.binding",
			       "the SVSM report and the guest report differ in %s",
			       memcmp(srep.measurement, a->rep.measurement, 48) ? "MEASUREMENT"
										: "CHIP_ID");
	return check_manifest(a);
}

/* ---- 5. TPM ----------------------------------------------------------------------------------- */

/* The values the quote covers (selected PCRs of the sent values); extra sent values are dropped. */
static int take_quoted(struct attest *a, const TPMS_ATTEST *at)
{
	const TPML_PCR_SELECTION *sel = &at->attested.quote.pcrSelect;

	for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
		const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
		size_t ds = tpm_hash_size(s->hash);

		for (unsigned p = 0; p < 8u * s->sizeofSelect && p < TPM_PCR_MAX; p++) {
			const uint8_t *v;
			struct kagi_err e = { 0 };

			if (!(s->pcrSelect[p / 8] & (1u << (p % 8))))
				continue;
			v = tpm_pcr_values_get(&a->ev->pcrs, s->hash, p);
			if (!v)
				return refusef(a, PIPELINE_HTTP_FORBIDDEN, "tpm.quote.pcrs",
					       "PCR %s:%u is quoted but its value was not sent",
					       bank_name(s->hash), p);
			if (tpm_pcr_values_set(&a->pcrs, s->hash, p, v, ds, &e) < 0)
				return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "tpm.quote.pcrs", &e);
		}
	}
	return 0;
}

/* Every quoted PCR is either explained by the event log or still in its initial state. */
static int check_eventlog(struct attest *a)
{
	const struct proto_blob *el = &a->ev->eventlog;
	unsigned bp = a->ctx->policy->boot_phase_pcr;
	struct eventlog_pcrs *rp = NULL;
	struct kagi_err e = { 0 };
	bool touched[EVENTLOG_NUM_PCRS] = { false };
	int status = 0;

	if (!el->len)
		return 0; /* no log: only the PCR values and the policy speak */
	if (eventlog_decode(el->data, el->len, &a->log, &e) < 0)
		return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "tpm.eventlog", &e);
	a->has_log = true;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return internal(a, "out of memory");
	if (eventlog_replay(&a->log, rp, &e) < 0) {
		status = refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "tpm.eventlog", &e);
		goto out;
	}
	for (size_t b = 0; b < rp->nbanks; b++)
		for (unsigned p = 0; p < EVENTLOG_NUM_PCRS; p++)
			touched[p] |= rp->bank[b].extended[p];

	for (size_t b = 0; b < a->pcrs.nbanks; b++) {
		const struct tpm_pcr_bank *qb = &a->pcrs.bank[b];
		const struct eventlog_bank_pcrs *lb = eventlog_pcrs_bank(rp, qb->alg);
		size_t ds = tpm_hash_size(qb->alg);

		if (lb && !lb->available)
			lb = NULL;
		for (unsigned p = 0; p < TPM_PCR_MAX; p++) {
			uint8_t init[TPM_DIGEST_MAX];
			const uint8_t *want;
			char h1[2 * TPM_DIGEST_MAX + 1], h2[2 * TPM_DIGEST_MAX + 1];

			if (!qb->present[p] || p == bp)
				continue;
			if (p < EVENTLOG_NUM_PCRS && touched[p]) {
				if (!lb || lb->size != ds) {
					status = refusef(a, PIPELINE_HTTP_FORBIDDEN, "tpm.eventlog",
							 "PCR %s:%u is extended by the event log, "
							 "but the log has no usable %s bank",
							 bank_name(qb->alg), p, bank_name(qb->alg));
					goto out;
				}
				want = lb->value[p];
			} else if (lb && p < EVENTLOG_NUM_PCRS) {
				want = lb->value[p]; /* the start value (locality for PCR 0) */
			} else {
				memset(init, p >= 17 && p <= 22 ? 0xff : 0x00, sizeof(init));
				want = init;
			}
			if (CRYPTO_memcmp(want, qb->value[p], ds) != 0) {
				status = refusef(
					a, PIPELINE_HTTP_FORBIDDEN, "tpm.eventlog",
					"PCR %s:%u is %s, but the event log %s %s",
					bank_name(qb->alg), p, hex_encode(qb->value[p], ds, h1),
					p < EVENTLOG_NUM_PCRS && touched[p]
						? "replays to"
						: "does not extend it: expected the initial value",
					hex_encode(want, ds, h2));
				goto out;
			}
		}
	}
out:
	free(rp);
	return status;
}

static int check_boot_phase(struct attest *a)
{
	unsigned bp = a->ctx->policy->boot_phase_pcr;
	bool quoted = false;

	for (size_t b = 0; b < a->pcrs.nbanks; b++) {
		const struct tpm_pcr_bank *qb = &a->pcrs.bank[b];

		if (bp >= TPM_PCR_MAX || !qb->present[bp])
			continue;
		quoted = true;
		if (!mem_is_zero(qb->value[bp], tpm_hash_size(qb->alg)))
			return refusef(a, PIPELINE_HTTP_FORBIDDEN, "tpm.boot_phase",
				       "boot-phase PCR %s:%u is not all zero: this boot already "
				       "passed attestation",
				       bank_name(qb->alg), bp);
	}
	if (!quoted)
		return refusef(a, PIPELINE_HTTP_FORBIDDEN, "tpm.boot_phase",
			       "the boot-phase PCR %u is not in the quote", bp);
	return 0;
}

static int check_tpm(struct attest *a)
{
	const struct proto_evidence *ev = a->ev;
	struct kagi_err e = { 0 };
	EVP_PKEY *ak = NULL;
	TPMS_ATTEST at;
	TPMT_SIGNATURE sig;
	TPMI_ALG_HASH sig_hash;
	uint8_t q[32];
	bool has_tpmt = false, raw = false;
	int status = 0;

	if (tpm_ak_load(ev->ak_public.data, ev->ak_public.len, &ak, &a->ak, &has_tpmt, &e) < 0)
		return refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "tpm.ak", &e);
	if (!has_tpmt) {
		status = refusef(a, PIPELINE_HTTP_FORBIDDEN, "tpm.ak",
				 "tpm.ak_public is not a TPMT_PUBLIC");
		goto out;
	}
	if (tpm_public_check_ak(&a->ak, &e) < 0) {
		status = refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "tpm.ak", &e);
		goto out;
	}
	if (tpm_attest_decode(ev->quote_attest.data, ev->quote_attest.len, &at, &e) < 0 ||
	    tpm_signature_decode_any(ev->quote_sig.data, ev->quote_sig.len, ak, &sig, &raw, &e) <
		    0 ||
	    tpm_quote_check_scheme(&a->ak, &sig, &e) < 0 ||
	    tpm_quote_verify_signature(ev->quote_attest.data, ev->quote_attest.len, &sig, ak, &e) <
		    0 ||
	    tpm_signature_hash(&sig, &sig_hash) < 0) {
		if (!e.what)
			kagi_err_set(&e, -EBADMSG, "quote.signature", KAGI_ERR_NO_OFFSET,
				     "unsupported signature scheme");
		status = refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "tpm.quote.signature", &e);
		goto out;
	}
	binding_quote_qualifying(a->tok.nonce, a->spki_hash, q);
	if (tpm_quote_check_nonce(&at, q, sizeof(q), &e) < 0) {
		status = refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "tpm.quote.nonce", &e);
		goto out;
	}
	if (tpm_quote_check_pcrs(&at, &ev->pcrs, sig_hash, &e) < 0) {
		status = refuse_err(a, PIPELINE_HTTP_FORBIDDEN, "tpm.quote.pcrs", &e);
		goto out;
	}
	status = take_quoted(a, &at);
	if (status)
		goto out;
	status = check_eventlog(a);
	if (status)
		goto out;
	status = check_boot_phase(a);
out:
	EVP_PKEY_free(ak);
	return status;
}

/* ---- 6. volumes and release -------------------------------------------------------------------- */

static int check_volumes(struct attest *a)
{
	bool bad = false;

	for (size_t i = 0; i < a->req->nvolumes; i++) {
		const char *uuid = a->req->volumes[i];
		struct kagi_err e = { 0 };
		int r = store_key_get(a->ctx->store, uuid, &a->keys[i], &e);

		if (r == -ENOENT) {
			refusef(a, PIPELINE_HTTP_FORBIDDEN, "volume.unknown",
				"no key is registered for volume %s", uuid);
			bad = true;
		} else if (r == -EKEYREVOKED) {
			refusef(a, PIPELINE_HTTP_FORBIDDEN, "volume.revoked",
				"the key of volume %s was revoked", uuid);
			bad = true;
		} else if (r < 0) {
			return internal(a, "store: volume %s: %s", uuid,
					e.what ? e.msg : strerror(-r));
		}
	}
	if (bad)
		return PIPELINE_HTTP_FORBIDDEN;
	for (size_t i = 0; i < a->req->nvolumes; i++) {
		const char *uuid = a->req->volumes[i];
		bool ok = false;

		for (size_t c = 0; c < a->ncand && !ok; c++)
			ok = a->passed[c] &&
			     vpolicy_group_has_volume(&a->ctx->policy->groups[a->cand[c]], uuid);
		if (!ok) {
			refusef(a, PIPELINE_HTTP_FORBIDDEN, "volume.not_allowed",
				"no group whose policy passed may unlock volume %s", uuid);
			bad = true;
		}
	}
	return bad ? PIPELINE_HTTP_FORBIDDEN : 0;
}

static int release(struct attest *a)
{
	struct proto_attest_response *resp = a->resp;
	_cleanup_secret_ struct secret *k = NULL;
	struct kagi_err e = { 0 };
	EVP_PKEY *eph = NULL;
	int r, status = 0;

	k = secret_new(CREDENTIAL_KEY_SIZE);
	if (!k)
		return internal(a, "cannot allocate locked memory for K");
	if (a->vtpm) {
		TPM2B_ID_OBJECT blob = { 0 };
		TPM2B_ENCRYPTED_SECRET sec = { 0 };
		uint8_t name[TPM_NAME_MAX];
		size_t nlen = 0;

		if (RAND_priv_bytes(k->data, CREDENTIAL_KEY_SIZE) != 1) {
			ERR_clear_error();
			return internal(a, "no random bytes for K");
		}
		if (tpm_public_name(&a->ak, name, &nlen) < 0)
			return internal(a, "cannot compute the AK name");
		if (credential_make(&a->ek, name, nlen, k->data, CREDENTIAL_KEY_SIZE, &blob, &sec,
				    &e) < 0)
			return internal(a, "MakeCredential: %s", e.what ? e.msg : "failed");
		r = credential_marshal(&blob, &sec, &resp->cred_blob, &resp->cred_secret);
		OPENSSL_cleanse(&blob, sizeof(blob));
		OPENSSL_cleanse(&sec, sizeof(sec));
		if (r < 0)
			return internal(a, "cannot marshal the credential");
		resp->has_credential = true;
	} else {
		eph = EVP_EC_gen("P-384");
		if (!eph) {
			ERR_clear_error();
			return internal(a, "cannot generate the ephemeral ECDH key");
		}
		r = ecdh_derive(eph, a->agent_ecdh, a->tok.nonce, k->data, &e);
		if (r == 0)
			r = ec_point_encode(eph, &resp->ecdh_public);
		EVP_PKEY_free(eph);
		if (r < 0)
			return internal(a, "ECDH: %s", e.what ? e.msg : "cannot encode the point");
		resp->has_ecdh = true;
	}
	for (size_t i = 0; i < a->req->nvolumes; i++) {
		struct proto_sealed_key *sk = &resp->keys[i];
		const struct secret *vk = a->keys[i];

		snprintf(sk->volume, sizeof(sk->volume), "%s", a->req->volumes[i]);
		sk->ciphertext.data = malloc(vk->len);
		if (!sk->ciphertext.data) {
			status = internal(a, "out of memory");
			break;
		}
		sk->ciphertext.len = vk->len;
		resp->nkeys = i + 1;
		r = seal_key(k->data, a->req->volumes[i], a->tok.nonce, vk->data, vk->len, sk->iv,
			     sk->ciphertext.data, sk->tag);
		if (r < 0) {
			status =
				internal(a, "cannot seal the key of volume %s", a->req->volumes[i]);
			break;
		}
	}
	if (status)
		return status;
	resp->granted = true;
	snprintf(resp->group, sizeof(resp->group), "%s", a->group->name);
	return 0;
}

/* ---- the whole /v1/attest ---------------------------------------------------------------------- */

static int run(struct attest *a, EVP_PKEY *tls_client_key)
{
	int r;

	if ((r = check_shape(a)) || (r = check_tls(a, tls_client_key)) || (r = check_token(a)))
		return r;
	r = check_snp(a, "snp", &a->ev->snp_report, &a->ev->snp_certs, &a->rep, &a->product);
	/* identify the guest in the audit log from here on, verified or not */
	if (a->rep.version) {
		hex_field(a->audit->measurement, sizeof(a->audit->measurement), a->rep.measurement,
			  48);
		hex_field(a->audit->chip_id, sizeof(a->audit->chip_id), a->rep.chip_id, 64);
		hex_field(a->audit->report_id, sizeof(a->audit->report_id), a->rep.report_id, 32);
	}
	if (r || (r = check_report_data(a)))
		return r;
	if ((r = find_candidates(a)) || (r = check_snp_policies(a)))
		return r;
	if (a->vtpm && ((r = check_svsm(a)) || (r = check_tpm(a))))
		return r;
	if ((r = select_group(a)))
		return r;
	if (a->group)
		snprintf(a->audit->group, sizeof(a->audit->group), "%s", a->group->name);
	if ((r = check_volumes(a)))
		return r;
	if (!a->group) /* check_volumes refuses every volume without a passing group */
		return internal(a, "no group selected");
	r = release(a);
	return r ? r : PIPELINE_HTTP_OK;
}

/* Write the audit record; if that fails nothing may leave: 503 "internal". */
static int finish(struct pipeline_ctx *ctx, int status, struct proto_attest_response *resp,
		  struct audit_record *audit)
{
	struct kagi_err e = { 0 };
	char buf[600];

	audit->decision = status == PIPELINE_HTTP_OK || status == PIPELINE_HTTP_CREATED
				  ? AUDIT_GRANTED
			  : status == PIPELINE_HTTP_FORBIDDEN || status == PIPELINE_HTTP_CONFLICT
				  ? AUDIT_REFUSED
				  : AUDIT_ERROR;
	if (audit_write(ctx->audit, audit, &e) == 0)
		return status;
	log_error("audit log: %s; answering 503 and releasing nothing",
		  kagi_err_str(&e, buf, sizeof(buf)));
	if (resp) {
		reset_response(resp);
		proto_response_add_reason(resp, "internal",
					  "the verifier could not complete the request");
	}
	audit->nreasons = 0;
	audit_record_add_reason(audit, "internal");
	audit->decision = AUDIT_ERROR;
	return PIPELINE_HTTP_UNAVAILABLE;
}

int pipeline_attest(struct pipeline_ctx *ctx, const struct proto_attest_request *req,
		    EVP_PKEY *tls_client_key, struct proto_attest_response *ret_resp,
		    struct audit_record *audit)
{
	struct attest *a;
	int status;

	memset(ret_resp, 0, sizeof(*ret_resp));
	audit->nvolumes = 0;
	for (size_t i = 0; i < req->nvolumes && i < PROTO_MAX_VOLUMES; i++)
		snprintf(audit->volumes[audit->nvolumes++], sizeof(audit->volumes[0]), "%s",
			 req->volumes[i]);
	a = calloc(1, sizeof(*a));
	if (!a) {
		proto_response_add_reason(ret_resp, "internal",
					  "the verifier could not complete the request");
		audit_record_add_reason(audit, "internal");
		return finish(ctx, PIPELINE_HTTP_UNAVAILABLE, ret_resp, audit);
	}
	a->ctx = ctx;
	a->req = req;
	a->ev = &req->ev;
	a->resp = ret_resp;
	a->audit = audit;
	a->now = ctx_now(ctx);

	status = run(a, tls_client_key);
	if (status != PIPELINE_HTTP_OK && ret_resp->granted)
		reset_response(ret_resp); /* cannot happen; never let a refusal carry keys */

	for (size_t i = 0; i < PROTO_MAX_VOLUMES; i++)
		secret_free(a->keys[i]);
	if (a->has_log)
		eventlog_done(&a->log);
	EVP_PKEY_free(a->agent_ecdh);
	free(a->cand);
	free(a->snp_ok);
	free(a->passed);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	return finish(ctx, status, ret_resp, audit);
}

int pipeline_attest_json(struct pipeline_ctx *ctx, const char *body, size_t len,
			 EVP_PKEY *tls_client_key, struct audit_record *audit, char **ret_json)
{
	struct proto_attest_request *req;
	struct proto_attest_response resp = { 0 };
	struct kagi_err e = { 0 };
	char msg[600];
	int status, r;

	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	if (proto_attest_request_decode(body, len, req, &e) < 0) {
		free(req);
		proto_response_add_reason(&resp, "request.malformed", "%s",
					  e.what ? kagi_err_str(&e, msg, sizeof(msg))
						 : "the request does not decode");
		audit_record_add_reason(audit, "request.malformed");
		status = finish(ctx, PIPELINE_HTTP_BAD_REQUEST, &resp, audit);
	} else {
		status = pipeline_attest(ctx, req, tls_client_key, &resp, audit);
		proto_attest_request_done(req);
		free(req);
	}
	r = proto_attest_response_encode(&resp, ret_json);
	proto_attest_response_done(&resp);
	return r < 0 ? r : status;
}

/* ---- /v1/challenge ------------------------------------------------------------------------------ */

static int challenge_refuse(struct audit_record *audit, int status, const char *code,
			    const char *msg, char **ret_json)
{
	int r;

	if (audit) {
		audit->decision = status == PIPELINE_HTTP_FORBIDDEN ? AUDIT_REFUSED : AUDIT_ERROR;
		audit_record_add_reason(audit, code);
	}
	r = pipeline_refusal_json(code, msg, ret_json);
	return r < 0 ? r : status;
}

int pipeline_challenge(struct pipeline_ctx *ctx, const char *body, size_t len,
		       EVP_PKEY *tls_client_key, struct audit_record *audit, char **ret_json)
{
	struct proto_challenge ch;
	struct kagi_err e = { 0 };
	char msg[600];
	int r;

	if (proto_challenge_request_decode(body, len, &e) < 0)
		return challenge_refuse(audit, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
					e.what ? kagi_err_str(&e, msg, sizeof(msg))
					       : "the request does not decode",
					ret_json);
	if (!tls_client_key)
		return challenge_refuse(audit, PIPELINE_HTTP_FORBIDDEN, "tls.client_cert",
					"no acceptable TLS client certificate", ret_json);
	r = token_issue(ctx->token_key, ctx_now(ctx), ctx->token_lifetime, &ch);
	if (r < 0) {
		log_error("challenge: cannot issue a token: %s", strerror(-r));
		return challenge_refuse(audit, PIPELINE_HTTP_UNAVAILABLE, "internal",
					"the verifier could not complete the request", ret_json);
	}
	r = proto_challenge_encode(&ch, ret_json);
	if (r < 0)
		return r;
	if (audit)
		audit->decision = AUDIT_GRANTED;
	return PIPELINE_HTTP_OK;
}

/* ---- /v1/admin/keys ----------------------------------------------------------------------------- */

struct admin_req {
	char volume[PROTO_UUID_LEN + 1];
	char label[128];
	struct secret *key;
};

static bool label_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static int admin_decode(char *body, size_t len, struct admin_req *ret, char *why, size_t whylen)
{
	json_tokener *tok = NULL;
	json_object *o = NULL;
	bool have_version = false, have_volume = false, have_key = false;
	int r = -EBADMSG;

	if (len > PROTO_MAX_REQUEST) {
		snprintf(why, whylen, "body larger than %d bytes", PROTO_MAX_REQUEST);
		return -EBADMSG;
	}
	tok = json_tokener_new_ex(PROTO_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		snprintf(why, whylen, "not JSON: %s",
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!strchr(" \t\r\n", body[i])) {
			snprintf(why, whylen, "trailing data at byte %zu", i);
			goto out;
		}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(why, whylen, "the body is not a JSON object");
		goto out;
	}
	json_object_object_foreach(o, key, val)
	{
		if (streq(key, "version")) {
			if (!json_object_is_type(val, json_type_int) ||
			    json_object_get_int64(val) != PROTO_VERSION) {
				snprintf(why, whylen, "version must be %d", PROTO_VERSION);
				goto out;
			}
			have_version = true;
		} else if (streq(key, "volume")) {
			if (!json_object_is_type(val, json_type_string) ||
			    !proto_uuid_valid(json_object_get_string(val))) {
				snprintf(why, whylen, "volume must be a lowercase canonical UUID");
				goto out;
			}
			snprintf(ret->volume, sizeof(ret->volume), "%s",
				 json_object_get_string(val));
			have_volume = true;
		} else if (streq(key, "key")) {
			char *text;
			uint8_t *raw = NULL;
			size_t rawlen = 0;

			if (!json_object_is_type(val, json_type_string)) {
				snprintf(why, whylen, "key must be a base64 string");
				goto out;
			}
			text = (char *)json_object_get_string(val);
			r = proto_b64_decode(text, SEAL_MAX_KEY, &raw, &rawlen);
			OPENSSL_cleanse(text, strlen(text));
			if (r < 0 || rawlen < 32 || rawlen > SEAL_MAX_KEY) {
				if (raw)
					OPENSSL_cleanse(raw, rawlen);
				free(raw);
				snprintf(why, whylen, "key must be base64 of 32..%d bytes",
					 SEAL_MAX_KEY);
				r = -EBADMSG;
				goto out;
			}
			secret_free(ret->key);
			ret->key = secret_new(rawlen);
			if (ret->key)
				memcpy(ret->key->data, raw, rawlen);
			OPENSSL_cleanse(raw, rawlen);
			free(raw);
			if (!ret->key) {
				r = -ENOMEM;
				goto out;
			}
			r = -EBADMSG;
			have_key = true;
		} else if (streq(key, "label")) {
			const char *s;

			if (!json_object_is_type(val, json_type_string) ||
			    strlen(s = json_object_get_string(val)) >= sizeof(ret->label) ||
			    !label_ok(s)) {
				snprintf(why, whylen,
					 "label must be text without control characters, at most "
					 "%zu "
					 "bytes",
					 sizeof(ret->label) - 1);
				goto out;
			}
			snprintf(ret->label, sizeof(ret->label), "%s", s);
		} else {
			snprintf(why, whylen, "unknown member '%.40s'", key);
			goto out;
		}
	}
	if (!have_version || !have_volume || !have_key) {
		snprintf(why, whylen, "missing member '%s'",
			 !have_version  ? "version"
			 : !have_volume ? "volume"
					: "key");
		goto out;
	}
	r = 0;
out:
	if (o && r < 0) {
		/* wipe the key text wherever it is in the parsed tree */
		json_object *k = NULL;

		if (json_object_is_type(o, json_type_object) &&
		    json_object_object_get_ex(o, "key", &k) &&
		    json_object_is_type(k, json_type_string))
			OPENSSL_cleanse((char *)json_object_get_string(k),
					strlen(json_object_get_string(k)));
	}
	json_object_put(o);
	json_tokener_free(tok);
	OPENSSL_cleanse(body, len);
	if (r < 0) {
		secret_free(ret->key);
		ret->key = NULL;
	}
	return r;
}

static int admin_answer(struct pipeline_ctx *ctx, int status, const char *code, const char *msg,
			struct audit_record *audit, char **ret_json)
{
	int r;

	if (code)
		audit_record_add_reason(audit, code);
	status = finish(ctx, status, NULL, audit);
	if (status == PIPELINE_HTTP_UNAVAILABLE) {
		code = "internal";
		msg = "the verifier could not complete the request";
	}
	if (status == PIPELINE_HTTP_CREATED) {
		*ret_json = strdup("{\"version\":1,\"result\":\"added\"}");
		return *ret_json ? status : -ENOMEM;
	}
	r = pipeline_refusal_json(code, msg, ret_json);
	return r < 0 ? r : status;
}

int pipeline_admin_keys(struct pipeline_ctx *ctx, bool authorized, char *body, size_t len,
			struct audit_record *audit, char **ret_json)
{
	struct admin_req ar = { 0 };
	struct kagi_err e = { 0 };
	char why[256] = "";
	int r;

	if (!authorized) {
		OPENSSL_cleanse(body, len);
		return admin_answer(ctx, PIPELINE_HTTP_FORBIDDEN, "admin.forbidden",
				    "the client certificate is not issued by the admin CA", audit,
				    ret_json);
	}
	r = admin_decode(body, len, &ar, why, sizeof(why));
	if (r == -ENOMEM)
		return admin_answer(ctx, PIPELINE_HTTP_UNAVAILABLE, "internal",
				    "the verifier could not complete the request", audit, ret_json);
	if (r < 0)
		return admin_answer(ctx, PIPELINE_HTTP_BAD_REQUEST, "request.malformed", why, audit,
				    ret_json);
	audit->nvolumes = 1;
	snprintf(audit->volumes[0], sizeof(audit->volumes[0]), "%s", ar.volume);
	r = store_key_add(ctx->store, ar.volume, ar.key, ar.label[0] ? ar.label : NULL, &e);
	secret_free(ar.key);
	if (r == -EEXIST)
		return admin_answer(ctx, PIPELINE_HTTP_CONFLICT, "admin.exists",
				    "the volume already has a key", audit, ret_json);
	if (r == -EINVAL)
		return admin_answer(ctx, PIPELINE_HTTP_BAD_REQUEST, "request.malformed",
				    e.what ? e.msg : "the store refused the key", audit, ret_json);
	if (r < 0) {
		log_error("admin: store: %s", e.what ? e.msg : strerror(-r));
		return admin_answer(ctx, PIPELINE_HTTP_UNAVAILABLE, "internal",
				    "the verifier could not complete the request", audit, ret_json);
	}
	return admin_answer(ctx, PIPELINE_HTTP_CREATED, NULL, NULL, audit, ret_json);
}
