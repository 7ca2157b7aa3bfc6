// SPDX-License-Identifier: Apache-2.0
/*
 * collect.c: `kagi collect`, a debugging aid run on a live VM. It gathers what evidence the VM
 * can give and prints it (text or JSON), or stores the raw files for offline checks with
 * kagictl. It binds nothing beyond the nonce: the SNP REPORT_DATA is the nonce zero-padded to
 * 64 bytes and the TPM quote's qualifying data is the nonce itself. The attestation protocol
 * (kagi unlock) derives both from more than the nonce; do not mistake this for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "collect.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/snp-certs.h"
#include "lib/snp-report.h"
#include "lib/util.h"
#include "sev-guest.h"
#include "tpm.h"
#include "tsm.h"

enum {
	EXIT_NOTHING = 1,
	EXIT_USAGE = 2,
};

#define NONCE_MAX 64
#define MSG_MAX   EVIDENCE_MSG_MAX
#define PCR_ALL   0xffffffu

_Static_assert(EVIDENCE_PCR_MAX == TPM_PCR_MAX, "PCR count");
_Static_assert(EVIDENCE_DIGEST_MAX == TPM2_SHA512_DIGEST_SIZE, "digest size");
_Static_assert(EVIDENCE_NAME_MAX <= sizeof(((TPM2B_NAME *)0)->name), "name size");

struct opts {
	bool json;
	bool no_snp;
	bool no_tpm;
	uint8_t nonce[NONCE_MAX];
	size_t nonce_len;
	const char *tsm_dir;
	const char *sev_dev;
	const char *tcti;
	const char *eventlog;
	bool eventlog_given;
	const char *out_dir;
	uint32_t pcr_mask;
	enum tpm_ak_type ak_type;
};

static void set_error_n(char *dst, size_t len, const struct kagi_err *e, const char *fallback)
{
	char buf[sizeof(e->msg) + 128];

	if (e && e->what)
		snprintf(dst, len, "%s", kagi_err_str(e, buf, sizeof(buf)));
	else
		snprintf(dst, len, "%s", fallback);
}

#define set_error(dst, e, fallback) set_error_n(dst, sizeof(dst), e, fallback)

/* ==== evidence: the collection shared with `kagi unlock` ===================================== */

struct evidence_session {
	struct kagi_tpm *tpm; /* EK + AK: credential activation, PCR extend */
	struct kagi_tpm
		*ak_tpm; /* the TPM that quotes (= tpm, unless a test hook says otherwise) */
};

void evidence_opts_init(struct evidence_opts *o)
{
	*o = (struct evidence_opts){
		.tsm_dir = TSM_REPORT_ROOT,
		.sev_dev = SEV_GUEST_DEVICE,
		.tcti = TPM_DEFAULT_TCTI,
		.pcr_mask = PCR_ALL,
	};
}

static struct evidence_session *session_get(struct evidence *ev)
{
	if (!ev->session)
		ev->session = calloc(1, sizeof(*ev->session));
	return ev->session;
}

/* --- SNP ----------------------------------------------------------------------------------- */

int evidence_snp_probe(const struct evidence_opts *o, struct evidence *ev)
{
	struct evidence_snp *s = &ev->snp;
	struct kagi_err e = { 0 };
	struct tsm_info info;
	char tsm_why[700];
	unsigned vmpl = 0;
	int r;

	r = tsm_probe(o->tsm_dir, &info, &e);
	if (r >= 0) {
		s->source = "configfs-tsm";
		memcpy(s->provider, info.provider, sizeof(s->provider));
		s->has_floor = info.has_privlevel_floor;
		s->floor = info.privlevel_floor;
		s->svsm_present = info.has_service_provider;
		s->probed = true;
		return 0;
	}
	set_error(tsm_why, &e, "configfs-tsm not usable");

	if (access(o->sev_dev, F_OK) < 0) {
		snprintf(s->error, MSG_MAX,
			 "no SNP evidence: configfs-tsm not available at %s (%s) and %s missing",
			 o->tsm_dir, tsm_why, o->sev_dev);
		return -ENODEV;
	}
	log_debug("configfs-tsm not usable (%s), using %s", tsm_why, o->sev_dev);
	/* The report must not ask for a VMPL below our own: that request would fail. */
	r = sev_guest_read_vmpl(NULL, &vmpl, &e);
	if (r < 0 && r != -ENOENT) {
		set_error(s->error, &e, "cannot tell the guest VMPL");
		return r;
	}
	if (r == -ENOENT)
		vmpl = 0;
	s->source = "sev-guest";
	s->vmpl = vmpl;
	s->probed = true;
	return 0;
}

static int collect_svsm(const struct evidence_opts *o, const uint8_t nonce64[64],
			struct evidence_snp *s)
{
	struct tsm_request req = {
		.inblob = nonce64,
		.inblob_len = TSM_INBLOB_SIZE,
		.service_provider = TSM_SERVICE_PROVIDER_SVSM,
		.service_guid = TSM_SVSM_VTPM_GUID,
		.set_manifest_version = true,
		.manifest_version = 0,
	};
	struct tsm_result res;
	struct kagi_err e = { 0 };
	int r;

	r = tsm_report_get(o->tsm_dir, &req, &res, &e);
	if (r < 0) {
		set_error(s->svsm_error, &e, "SVSM vTPM attestation failed");
		return r;
	}
	s->svsm_report = res.outblob;
	s->svsm_report_len = res.outblob_len;
	s->manifest = res.manifestblob;
	s->manifest_len = res.manifestblob_len;
	if (res.auxblob_len > 0) {
		s->svsm_certs = res.auxblob;
		s->svsm_certs_len = res.auxblob_len;
		res.auxblob = NULL;
	}
	res.outblob = res.manifestblob = NULL;
	tsm_result_done(&res);
	s->svsm_collected = true;
	return 0;
}

/* The SNP report (and the SVSM vTPM report); *ret_request_failed if a guest request failed. */
static int collect_snp(const struct evidence_opts *o, const struct evidence_inputs *in,
		       bool have_ek, struct evidence_snp *s, bool *ret_request_failed)
{
	struct kagi_err e = { 0 };
	int r;

	if (!s->probed)
		return -ENODEV; /* s->error says why */
	if (streq(s->source, "configfs-tsm")) {
		struct tsm_request req = { .inblob = in->report_data,
					   .inblob_len = TSM_INBLOB_SIZE };
		struct tsm_result res;

		/*
		 * No fallback to /dev/sev-guest after a failed request: both share the VMPCK,
		 * which the kernel wipes after a failure.
		 */
		r = tsm_report_get(o->tsm_dir, &req, &res, &e);
		if (r < 0) {
			set_error(s->error, &e, "configfs-tsm report failed");
			*ret_request_failed = true;
			return r;
		}
		s->report = res.outblob;
		s->report_len = res.outblob_len;
		if (res.auxblob_len > 0) {
			s->certs = res.auxblob;
			s->certs_len = res.auxblob_len;
			res.auxblob = NULL;
		}
		res.outblob = NULL;
		tsm_result_done(&res);
		s->collected = true;

		if (!s->svsm_present || o->no_svsm)
			return 0;
		if (!have_ek) {
			snprintf(
				s->svsm_error, MSG_MAX,
				"an SVSM is present but no TPM EK is available to compare its vTPM "
				"manifest with (--no-tpm, or the TPM failed)");
			return -ENODEV;
		}
		r = collect_svsm(o, in->svsm_nonce, s);
		if (r < 0)
			*ret_request_failed = true;
		return r;
	} else {
		struct sev_guest_result res;

		r = sev_guest_get_report(o->sev_dev, in->report_data, 64, s->vmpl, true, &res, &e);
		if (r < 0) {
			set_error(s->error, &e, "SNP_GET_EXT_REPORT failed");
			*ret_request_failed = true;
			return r;
		}
		s->report = res.report;
		s->report_len = res.report_len;
		s->certs = res.certs;
		s->certs_len = res.certs_len;
		s->collected = true;
		return 0;
	}
}

static void snp_clear(struct evidence_snp *s)
{
	free(s->report);
	free(s->certs);
	free(s->svsm_report);
	free(s->manifest);
	free(s->svsm_certs);
	s->report = s->certs = s->svsm_report = s->manifest = s->svsm_certs = NULL;
	s->report_len = s->certs_len = s->svsm_report_len = s->manifest_len = s->svsm_certs_len = 0;
	s->collected = s->svsm_collected = false;
	s->error[0] = s->svsm_error[0] = '\0';
}

/* --- TPM ----------------------------------------------------------------------------------- */

static int marshal_private(const TPM2B_PRIVATE *priv, uint8_t **ret, size_t *ret_len)
{
	uint8_t buf[sizeof(TPM2B_PRIVATE)];
	size_t off = 0;

	if (Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return -EINVAL;
	*ret = malloc(off);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, buf, off);
	*ret_len = off;
	return 0;
}

static bool pcrs_equal(const struct tpm_pcr_readout *a, const struct tpm_pcr_readout *b)
{
	return a->update_counter == b->update_counter && memcmp(a, b, sizeof(*a)) == 0;
}

/* Create an AK under t's EK; its public part, name and private blob go into p. */
static int create_ak(struct kagi_tpm *t, const struct evidence_opts *o, struct evidence_tpm *p)
{
	struct kagi_err e = { 0 };
	uint8_t *ak = NULL, *priv_buf = NULL;
	size_t ak_len = 0, priv_len = 0;
	TPM2B_PRIVATE priv;
	TPM2B_NAME name;
	TPMT_PUBLIC pub;
	int r;

	if ((r = tpm_ak_create(t, o->ak_ecc ? TPM_AK_ECC_P256 : TPM_AK_RSA2048, &pub, &e)) < 0 ||
	    (r = tpm_public_marshal(&pub, &ak, &ak_len, &e)) < 0 ||
	    (r = tpm_ak_name(t, &name, &e)) < 0 || (r = tpm_ak_private(t, &priv, &e)) < 0) {
		set_error(p->error, &e, "AK creation failed");
		free(ak);
		return r;
	}
	if (name.size > sizeof(p->ak_name) || marshal_private(&priv, &priv_buf, &priv_len) < 0) {
		snprintf(p->error, MSG_MAX, "marshaling the AK private blob failed");
		free(ak);
		return -EINVAL;
	}
	free(p->ak);
	free(p->ak_priv);
	p->ak = ak;
	p->ak_len = ak_len;
	p->ak_priv = priv_buf;
	p->ak_priv_len = priv_len;
	memcpy(p->ak_name, name.name, name.size);
	p->ak_name_len = name.size;
	return 0;
}

int evidence_tpm_open(const struct evidence_opts *o, struct evidence *ev)
{
	struct evidence_session *sess = session_get(ev);
	struct evidence_tpm *p = &ev->tpm;
	struct kagi_err e = { 0 };
	TPMT_PUBLIC pub;
	int r;

	if (!sess) {
		snprintf(p->error, MSG_MAX, "out of memory");
		return -ENOMEM;
	}
	if (sess->tpm) {
		snprintf(p->error, MSG_MAX, "the TPM is already open");
		return -EBUSY;
	}
	r = tpm_open(o->tcti, &sess->tpm, &e);
	if (r < 0) {
		set_error(p->error, &e, "no TPM");
		return r;
	}
	if ((r = tpm_ek_create(sess->tpm, TPM_EK_RSA2048, &pub, &e)) < 0 ||
	    (r = tpm_public_marshal(&pub, &p->ek, &p->ek_len, &e)) < 0) {
		set_error(p->error, &e, "EK creation failed");
		return r;
	}
	p->collected = true;
	r = create_ak(sess->tpm, o, p);
	if (r < 0)
		return r;
	sess->ak_tpm = sess->tpm;
#ifdef KAGI_TEST_HOOKS
	if (o->ak_tcti) {
		/* TEST ONLY: the AK that quotes lives in another TPM (under that TPM's EK) */
		r = tpm_open(o->ak_tcti, &sess->ak_tpm, &e);
		if (r >= 0)
			r = tpm_ek_create(sess->ak_tpm, TPM_EK_RSA2048, NULL, &e);
		if (r < 0) {
			set_error(p->error, &e, "the --test-ak-tcti TPM failed");
			return r;
		}
		r = create_ak(sess->ak_tpm, o, p);
		if (r < 0)
			return r;
	}
#endif
	return 0;
}

static void pcrs_from_tpm(const struct tpm_pcr_readout *v, struct evidence_pcrs *ret)
{
	const struct tpm_pcr_readout_bank *b = &v->banks[0];

	memset(ret, 0, sizeof(*ret));
	if (v->n_banks == 0)
		return;
	ret->alg = b->alg;
	ret->digest_size = b->digest_size;
	ret->mask = b->mask;
	ret->update_counter = v->update_counter;
	for (unsigned n = 0; n < TPM_PCR_MAX; n++)
		if (b->mask & (1u << n))
			memcpy(ret->value[n], b->pcr[n], b->digest_size);
}

static int collect_quote(const struct evidence_opts *o, const struct evidence_inputs *in,
			 struct kagi_tpm *t, struct evidence_tpm *p)
{
	_cleanup_free_ struct tpm_pcr_readout *before = NULL, *after = NULL;
	struct kagi_err e = { 0 };
	TPML_PCR_SELECTION sel;
	int r;

	tpm_pcr_selection_single(TPM2_ALG_SHA256, o->pcr_mask, &sel);
	before = malloc(sizeof(*before));
	after = malloc(sizeof(*after));
	if (!before || !after) {
		snprintf(p->error, MSG_MAX, "out of memory");
		return -ENOMEM;
	}
	/* PCR values read right before and after the quote must agree, or the pair is useless. */
	for (int attempt = 1; attempt <= 3; attempt++) {
		free(p->attest);
		free(p->sig);
		p->attest = p->sig = NULL;
		if ((r = tpm_pcr_read(t, &sel, before, &e)) < 0 ||
		    (r = tpm_quote(t, in->qualifying, in->qualifying_len, &sel, &p->attest,
				   &p->attest_len, &p->sig, &p->sig_len, &e)) < 0 ||
		    (r = tpm_pcr_read(t, &sel, after, &e)) < 0) {
			set_error(p->error, &e, "quote failed");
			return r;
		}
		if (pcrs_equal(before, after)) {
			pcrs_from_tpm(after, &p->pcrs);
			p->quoted = true;
			return 0;
		}
		log_debug("PCRs changed around the quote, quoting again");
	}
	snprintf(p->error, MSG_MAX, "the PCRs kept changing around the quote");
	return -EAGAIN;
}

/* --- event log ----------------------------------------------------------------------------- */

static int collect_eventlog(const struct evidence_opts *o, struct evidence_log *l)
{
	struct kagi_err e = { 0 };
	unsigned int n = 0;
	int r;

	l->tried = true;
	l->path = o->eventlog ? o->eventlog : TPM_EVENTLOG_PATH;
	r = tpm_eventlog_read(l->path, &l->data, &l->len, &e);
	if (r < 0) {
		set_error(l->error, &e, "reading the event log failed");
		return r;
	}
	if (!EVP_Digest(l->data, l->len, l->sha256, &n, EVP_sha256(), NULL) || n != 32) {
		snprintf(l->error, MSG_MAX, "hashing the event log failed");
		return -EIO;
	}
	l->collected = true;
	return 0;
}

int evidence_collect(const struct evidence_opts *o, struct evidence *ev,
		     const struct evidence_inputs *in, bool *ret_snp_failed)
{
	struct evidence_session *sess = ev->session;
	bool snp_failed = false;
	int ret = 0, r;

	if (in->qualifying_len > 64) {
		snprintf(ev->tpm.error, MSG_MAX, "qualifying data longer than 64 bytes");
		return -EINVAL;
	}
	if (sess && sess->ak_tpm && ev->tpm.ak) {
		r = collect_quote(o, in, sess->ak_tpm, &ev->tpm);
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (o->read_eventlog) {
		r = collect_eventlog(o, &ev->log);
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (!o->no_snp) {
		if (!ev->snp.probed)
			(void)evidence_snp_probe(o, ev);
		r = collect_snp(o, in, ev->tpm.ek != NULL, &ev->snp, &snp_failed);
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (ret_snp_failed)
		*ret_snp_failed = snp_failed;
	return ret;
}

void evidence_reset(struct evidence *ev)
{
	struct evidence_tpm *p = &ev->tpm;
	struct evidence_log *l = &ev->log;

	snp_clear(&ev->snp);
	free(p->attest);
	free(p->sig);
	p->attest = p->sig = NULL;
	p->attest_len = p->sig_len = 0;
	p->quoted = false;
	memset(&p->pcrs, 0, sizeof(p->pcrs));
	free(l->data);
	l->data = NULL;
	l->len = 0;
	l->tried = l->collected = false;
	l->error[0] = '\0';
}

int evidence_activate_credential(struct evidence *ev, const TPM2B_ID_OBJECT *blob,
				 const TPM2B_ENCRYPTED_SECRET *secret, struct secret **ret,
				 struct kagi_err *reterr)
{
	TPM2B_DIGEST cert = { 0 };
	struct secret *k;
	int r;

	if (!ev->session || !ev->session->tpm || !ev->tpm.ak)
		return kagi_err_set(reterr, -ENODEV, "tpm.activate", KAGI_ERR_NO_OFFSET,
				    "no TPM with an AK is open");
	r = tpm_activate_credential(ev->session->tpm, blob, secret, &cert, reterr);
	if (r < 0)
		return r;
	if (cert.size == 0) {
		secret_wipe(&cert, sizeof(cert));
		return kagi_err_set(reterr, -EBADMSG, "credential.size", KAGI_ERR_NO_OFFSET,
				    "the activated credential is empty");
	}
	k = secret_new(cert.size);
	if (!k) {
		secret_wipe(&cert, sizeof(cert));
		return -ENOMEM;
	}
	memcpy(k->data, cert.buffer, cert.size);
	secret_wipe(&cert, sizeof(cert));
	*ret = k;
	return 0;
}

int evidence_pcr_extend(struct evidence *ev, unsigned pcr, const uint8_t *data, size_t len,
			struct kagi_err *reterr)
{
	if (!ev->session || !ev->session->tpm)
		return kagi_err_set(reterr, -ENODEV, "tpm.extend", KAGI_ERR_NO_OFFSET,
				    "no TPM is open");
	return tpm_pcr_extend(ev->session->tpm, pcr, data, len, reterr);
}

void evidence_done(struct evidence *ev)
{
	struct evidence_tpm *p = &ev->tpm;

	evidence_reset(ev);
	free(p->ek);
	free(p->ak);
	free(p->ak_priv);
	p->ek = p->ak = p->ak_priv = NULL;
	if (ev->session) {
		if (ev->session->ak_tpm && ev->session->ak_tpm != ev->session->tpm)
			tpm_close(ev->session->ak_tpm);
		tpm_close(ev->session->tpm);
		free(ev->session);
		ev->session = NULL;
	}
}

/* ==== kagi collect ========================================================================== */

static void report_data_for(const struct opts *o, uint8_t rd[64])
{
	memset(rd, 0, 64);
	memcpy(rd, o->nonce, o->nonce_len);
}

/* --- checks on what was collected ---------------------------------------------------------- */

struct snp_checks {
	bool report_ok;
	struct snp_report rep;
	char report_error[MSG_MAX];
	bool rd_matches;
	struct snp_cert_table certs;
	bool certs_ok;
	char certs_error[MSG_MAX];
	/* SVSM */
	bool svsm_report_ok;
	struct snp_report svsm_rep;
	char svsm_report_error[MSG_MAX];
	bool manifest_matches_ek;
	bool svsm_rd_ok;
	bool svsm_vmpl0;
};

static void check_snp(const struct opts *o, const struct evidence_snp *s,
		      const struct evidence_tpm *p, struct snp_checks *c)
{
	struct kagi_err e = { 0 };
	uint8_t rd[64];

	memset(c, 0, sizeof(*c));
	if (!s->collected)
		return;
	report_data_for(o, rd);
	if (snp_report_decode(s->report, s->report_len, &c->rep, &e) < 0) {
		set_error(c->report_error, &e, "the report does not decode");
	} else {
		c->report_ok = true;
		c->rd_matches = memcmp(c->rep.report_data, rd, 64) == 0;
	}
	if (s->certs_len) {
		if (snp_certs_decode(s->certs, s->certs_len, &c->certs, &e) < 0)
			set_error(c->certs_error, &e, "the certificate table does not decode");
		else
			c->certs_ok = true;
	}
	if (!s->svsm_collected)
		return;
	c->manifest_matches_ek =
		p->ek && s->manifest_len == p->ek_len && memcmp(s->manifest, p->ek, p->ek_len) == 0;
	if (snp_report_decode(s->svsm_report, s->svsm_report_len, &c->svsm_rep, &e) < 0) {
		set_error(c->svsm_report_error, &e, "the SVSM report does not decode");
	} else {
		uint8_t want[64];
		unsigned int n = 0;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		c->svsm_report_ok = true;
		c->svsm_vmpl0 = c->svsm_rep.vmpl == 0;
		/* REPORT_DATA = SHA-512(nonce64 || manifest) (spec 5.4) */
		if (ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) &&
		    EVP_DigestUpdate(ctx, rd, sizeof(rd)) &&
		    EVP_DigestUpdate(ctx, s->manifest, s->manifest_len) &&
		    EVP_DigestFinal_ex(ctx, want, &n) && n == 64)
			c->svsm_rd_ok = memcmp(c->svsm_rep.report_data, want, 64) == 0;
		EVP_MD_CTX_free(ctx);
	}
}

/* --- output -------------------------------------------------------------------------------- */

static json_object *json_hex(const uint8_t *buf, size_t len)
{
	_cleanup_free_ char *h = hex_encode_alloc(buf, len);

	return h ? json_object_new_string(h) : NULL;
}

static json_object *pcrs_json(const struct evidence_pcrs *b)
{
	json_object *root = json_object_new_object();
	json_object *bank = json_object_new_object();
	const char *name = tpm_hash_alg_name(b->alg);

	for (unsigned n = 0; n < TPM_PCR_MAX; n++) {
		char key[8];

		if (!(b->mask & (1u << n)))
			continue;
		snprintf(key, sizeof(key), "%u", n);
		json_object_object_add(bank, key, json_hex(b->value[n], b->digest_size));
	}
	json_object_object_add(root, name ? name : "unknown", bank);
	return root;
}

static const char *ak_type_name(enum tpm_ak_type t)
{
	return t == TPM_AK_ECC_P256 ? "ecc-p256-ecdsa-sha256" : "rsa2048-rsassa-sha256";
}

static json_object *build_json(const struct opts *o, const struct evidence_snp *s,
			       const struct snp_checks *c, const struct evidence_tpm *p,
			       const struct evidence_log *l)
{
	json_object *root = json_object_new_object();
	json_object *js = json_object_new_object();
	json_object *jt = json_object_new_object();
	json_object *jl = json_object_new_object();
	uint8_t rd[64];

	report_data_for(o, rd);
	json_object_object_add(root, "nonce", json_hex(o->nonce, o->nonce_len));
	json_object_object_add(root, "report_data", json_hex(rd, sizeof(rd)));

	/* SNP */
	json_object_object_add(js, "collected", json_object_new_boolean(s->collected));
	if (o->no_snp)
		json_object_object_add(js, "skipped", json_object_new_string("--no-snp"));
	if (s->source)
		json_object_object_add(js, "source", json_object_new_string(s->source));
	if (s->provider[0])
		json_object_object_add(js, "provider", json_object_new_string(s->provider));
	if (s->has_floor)
		json_object_object_add(js, "privlevel_floor", json_object_new_int((int)s->floor));
	if (s->error[0])
		json_object_object_add(js, "error", json_object_new_string(s->error));
	if (s->collected) {
		json_object_object_add(js, "report_hex", json_hex(s->report, s->report_len));
		if (c->report_ok) {
			json_object_object_add(
				js, "report",
				snp_report_to_json(&c->rep, snp_report_product(&c->rep)));
			json_object_object_add(js, "report_data_matches_nonce",
					       json_object_new_boolean(c->rd_matches));
		} else {
			json_object_object_add(js, "report_error",
					       json_object_new_string(c->report_error));
		}
		if (s->certs_len) {
			json_object *arr = json_object_new_array();

			json_object_object_add(js, "auxblob_hex", json_hex(s->certs, s->certs_len));
			for (size_t i = 0; c->certs_ok && i < c->certs.n; i++) {
				json_object *ce = json_object_new_object();

				json_object_object_add(ce, "kind",
						       json_object_new_string(snp_cert_kind_name(
							       c->certs.e[i].kind)));
				json_object_object_add(ce, "guid",
						       json_hex(c->certs.e[i].guid, 16));
				json_object_object_add(
					ce, "size",
					json_object_new_int64((int64_t)c->certs.e[i].len));
				json_object_array_add(arr, ce);
			}
			json_object_object_add(js, "certs", arr);
			if (!c->certs_ok)
				json_object_object_add(js, "certs_error",
						       json_object_new_string(c->certs_error));
		} else {
			json_object_object_add(js, "certs", json_object_new_array());
		}
		json_object_object_add(js, "svsm_present",
				       json_object_new_boolean(s->svsm_present));
	}
	if (s->svsm_present) {
		json_object *jv = json_object_new_object();

		json_object_object_add(jv, "collected", json_object_new_boolean(s->svsm_collected));
		json_object_object_add(jv, "service_guid",
				       json_object_new_string(TSM_SVSM_VTPM_GUID));
		if (s->svsm_error[0])
			json_object_object_add(jv, "error", json_object_new_string(s->svsm_error));
		if (s->svsm_collected) {
			json_object_object_add(jv, "report_hex",
					       json_hex(s->svsm_report, s->svsm_report_len));
			json_object_object_add(jv, "manifest_hex",
					       json_hex(s->manifest, s->manifest_len));
			json_object_object_add(jv, "manifest_matches_ek",
					       json_object_new_boolean(c->manifest_matches_ek));
			if (c->svsm_report_ok) {
				json_object_object_add(
					jv, "report",
					snp_report_to_json(&c->svsm_rep,
							   snp_report_product(&c->svsm_rep)));
				json_object_object_add(jv, "report_data_ok",
						       json_object_new_boolean(c->svsm_rd_ok));
				json_object_object_add(jv, "vmpl0",
						       json_object_new_boolean(c->svsm_vmpl0));
				/* the three checks together: this TPM's EK is bound into a VMPL 0 report */
				json_object_object_add(
					jv, "vtpm_binding_valid",
					json_object_new_boolean(c->manifest_matches_ek &&
								c->svsm_rd_ok && c->svsm_vmpl0));
			} else {
				json_object_object_add(
					jv, "report_error",
					json_object_new_string(c->svsm_report_error));
			}
		}
		json_object_object_add(js, "svsm", jv);
	}
	json_object_object_add(root, "snp", js);

	/* TPM */
	json_object_object_add(jt, "collected", json_object_new_boolean(p->collected));
	if (o->no_tpm)
		json_object_object_add(jt, "skipped", json_object_new_string("--no-tpm"));
	else
		json_object_object_add(jt, "tcti", json_object_new_string(o->tcti));
	if (p->error[0])
		json_object_object_add(jt, "error", json_object_new_string(p->error));
	if (p->ek) {
		json_object_object_add(jt, "ek_type", json_object_new_string("rsa2048-l1"));
		json_object_object_add(jt, "ek_public_hex", json_hex(p->ek, p->ek_len));
	}
	if (p->ak) {
		json_object_object_add(jt, "ak_type",
				       json_object_new_string(ak_type_name(o->ak_type)));
		json_object_object_add(jt, "ak_public_hex", json_hex(p->ak, p->ak_len));
		json_object_object_add(jt, "ak_name_hex", json_hex(p->ak_name, p->ak_name_len));
	}
	if (p->quoted) {
		json_object_object_add(jt, "quote_attest_hex", json_hex(p->attest, p->attest_len));
		json_object_object_add(jt, "quote_sig_hex", json_hex(p->sig, p->sig_len));
		json_object_object_add(jt, "pcrs", pcrs_json(&p->pcrs));
		json_object_object_add(jt, "pcr_update_counter",
				       json_object_new_int64(p->pcrs.update_counter));
	}
	json_object_object_add(root, "tpm", jt);

	/* event log */
	json_object_object_add(jl, "collected", json_object_new_boolean(l->collected));
	if (l->path)
		json_object_object_add(jl, "path", json_object_new_string(l->path));
	if (!l->tried)
		json_object_object_add(jl, "skipped", json_object_new_string("--no-tpm"));
	if (l->error[0])
		json_object_object_add(jl, "error", json_object_new_string(l->error));
	if (l->collected) {
		json_object_object_add(jl, "size", json_object_new_int64((int64_t)l->len));
		json_object_object_add(jl, "sha256", json_hex(l->sha256, sizeof(l->sha256)));
	}
	json_object_object_add(root, "eventlog", jl);
	return root;
}

static void print_yesno(const char *what, bool v)
{
	printf("  %s: %s\n", what, v ? "yes" : "NO");
}

/* The shared report printer, indented under its section. */
static void print_report_indented(const struct snp_report *rep)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f) {
		snp_report_print(stdout, rep, snp_report_product(rep));
		return;
	}
	snp_report_print(f, rep, snp_report_product(rep));
	fclose(f);
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		printf("  %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
	}
	free(text);
}

static void print_human(const struct opts *o, const struct evidence_snp *s,
			const struct snp_checks *c, const struct evidence_tpm *p,
			const struct evidence_log *l)
{
	char hex[2 * NONCE_MAX + 1];

	printf("nonce: %s (%zu byte%s)\n", hex_encode(o->nonce, o->nonce_len, hex), o->nonce_len,
	       o->nonce_len == 1 ? "" : "s");
	printf("  SNP REPORT_DATA = the nonce zero-padded to 64 bytes; TPM qualifying data = the "
	       "nonce\n\n");

	if (o->no_snp) {
		printf("SNP: skipped (--no-snp)\n");
	} else if (!s->collected) {
		printf("SNP: not collected: %s\n", s->error);
	} else {
		printf("SNP: report via %s", s->source);
		if (s->provider[0])
			printf(", provider %s", s->provider);
		if (s->has_floor)
			printf(", privlevel_floor %u", s->floor);
		if (streq(s->source, "sev-guest"))
			printf(", VMPL %u requested", s->vmpl);
		printf("\n");
		if (c->report_ok) {
			print_report_indented(&c->rep);
			print_yesno("report_data matches the nonce", c->rd_matches);
		} else {
			printf("  report (%zu bytes) does not decode: %s\n", s->report_len,
			       c->report_error);
		}
		if (!s->certs_len)
			printf("  certificates: none from the host (fetch them from the AMD "
			       "KDS)\n");
		else if (!c->certs_ok)
			printf("  certificates: %zu-byte table does not decode: %s\n", s->certs_len,
			       c->certs_error);
		else {
			printf("  certificates:");
			for (size_t i = 0; i < c->certs.n; i++)
				printf(" %s (%zu bytes)", snp_cert_kind_name(c->certs.e[i].kind),
				       c->certs.e[i].len);
			printf("%s\n", c->certs.n ? "" : " empty table");
		}
		if (!s->svsm_present) {
			printf("  SVSM: not present (no service_provider attribute)\n");
		} else if (!s->svsm_collected) {
			printf("  SVSM vTPM attestation: not collected: %s\n", s->svsm_error);
		} else {
			printf("  SVSM vTPM attestation (service %s):\n", TSM_SVSM_VTPM_GUID);
			printf("    manifest: %zu bytes\n", s->manifest_len);
			print_yesno("  manifest equals the TPM's L-1 EK TPMT_PUBLIC",
				    c->manifest_matches_ek);
			if (c->svsm_report_ok) {
				print_yesno("  report_data == SHA-512(nonce64 || manifest)",
					    c->svsm_rd_ok);
				printf("    report VMPL: %u (%s)\n", c->svsm_rep.vmpl,
				       c->svsm_vmpl0 ? "0: produced by the SVSM"
						     : "NOT 0: the binding is not trustworthy");
				printf("  vTPM binding (EK in a VMPL 0 report for this nonce): "
				       "%s\n",
				       c->manifest_matches_ek && c->svsm_rd_ok && c->svsm_vmpl0
					       ? "valid"
					       : "NOT VALID");
			} else {
				printf("    SVSM report does not decode: %s\n",
				       c->svsm_report_error);
			}
		}
	}
	printf("\n");

	if (o->no_tpm) {
		printf("TPM: skipped (--no-tpm)\n");
	} else if (!p->collected) {
		printf("TPM: not collected: %s\n", p->error);
	} else {
		printf("TPM: %s\n", o->tcti);
		printf("  EK: RSA-2048 (TCG template L-1), TPMT_PUBLIC %zu bytes\n", p->ek_len);
		if (p->ak) {
			char name[2 * sizeof(p->ak_name) + 1];

			printf("  AK: %s, TPMT_PUBLIC %zu bytes, child of the EK\n",
			       ak_type_name(o->ak_type), p->ak_len);
			printf("  AK name: %s\n", hex_encode(p->ak_name, p->ak_name_len, name));
		}
		if (p->quoted) {
			const struct evidence_pcrs *b = &p->pcrs;
			char d[2 * TPM2_SHA512_DIGEST_SIZE + 1];

			printf("  quote: TPMS_ATTEST %zu bytes, TPMT_SIGNATURE %zu bytes\n",
			       p->attest_len, p->sig_len);
			printf("  PCRs (%s, update counter %u):\n", tpm_hash_alg_name(b->alg),
			       p->pcrs.update_counter);
			for (unsigned n = 0; n < TPM_PCR_MAX; n++)
				if (b->mask & (1u << n))
					printf("    %2u: %s\n", n,
					       hex_encode(b->value[n], b->digest_size, d));
		}
		if (p->error[0])
			printf("  incomplete: %s\n", p->error);
	}
	printf("\n");

	if (!l->tried) {
		printf("event log: skipped (--no-tpm)\n");
	} else if (!l->collected) {
		printf("event log: not collected: %s\n", l->error);
	} else {
		char d[65];

		printf("event log: %s, %zu bytes, sha256 %s\n", l->path, l->len,
		       hex_encode(l->sha256, 32, d));
	}
}

/* --- out-dir ------------------------------------------------------------------------------- */

static int write_path(const char *path, const void *buf, size_t len)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		r = -errno;
		log_error("creating '%s' failed: %s", path, strerror(-r));
		return r;
	}
	r = write_all(fd, buf, len);
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r < 0)
		log_error("writing '%s' failed: %s", path, strerror(-r));
	return r;
}

static int write_out(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		log_error("output path '%s/%s' is too long", dir, name);
		return -ENAMETOOLONG;
	}
	return write_path(path, buf, len);
}

static int write_out_dir(const struct opts *o, const struct evidence_snp *s,
			 const struct evidence_tpm *p, const struct evidence_log *l)
{
	char hex[2 * NONCE_MAX + 2];
	int r = 0;

	if (mkdir(o->out_dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		log_error("creating '%s' failed: %s", o->out_dir, strerror(-r));
		return r;
	}
	hex_encode(o->nonce, o->nonce_len, hex);
	strcat(hex, "\n");
	r = write_out(o->out_dir, "nonce.hex", hex, strlen(hex));
	if (r >= 0 && s->collected)
		r = write_out(o->out_dir, "report.bin", s->report, s->report_len);
	if (r >= 0 && s->certs_len)
		r = write_out(o->out_dir, "auxblob.bin", s->certs, s->certs_len);
	if (r >= 0 && s->svsm_collected)
		r = write_out(o->out_dir, "manifest.bin", s->manifest, s->manifest_len);
	if (r >= 0 && s->svsm_collected)
		r = write_out(o->out_dir, "svsm-report.bin", s->svsm_report, s->svsm_report_len);
	if (r >= 0 && p->ek)
		r = write_out(o->out_dir, "ek.tpmt", p->ek, p->ek_len);
	if (r >= 0 && p->ak)
		r = write_out(o->out_dir, "ak.tpmt", p->ak, p->ak_len);
	if (r >= 0 && p->ak_priv)
		r = write_out(o->out_dir, "ak.priv", p->ak_priv, p->ak_priv_len);
	if (r >= 0 && p->quoted) {
		json_object *j = pcrs_json(&p->pcrs);
		const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);

		r = write_out(o->out_dir, "quote.attest", p->attest, p->attest_len);
		if (r >= 0)
			r = write_out(o->out_dir, "quote.sig", p->sig, p->sig_len);
		if (r >= 0)
			r = write_out(o->out_dir, "pcrs.json", text, strlen(text));
		json_object_put(j);
	}
	if (r >= 0 && l->collected)
		r = write_out(o->out_dir, "eventlog.bin", l->data, l->len);
	return r;
}

/* --- options ------------------------------------------------------------------------------- */

static void collect_usage(FILE *f)
{
	fputs("Usage: kagi collect [OPTIONS]\n"
	      "\n"
	      "Gather the attestation evidence this VM can produce and print it. A debugging aid:\n"
	      "the SNP REPORT_DATA is just the nonce zero-padded to 64 bytes and the TPM quote's\n"
	      "qualifying data is the nonce.\n"
	      "\n"
	      "  --json              print one JSON object instead of text\n"
	      "  --nonce HEX         1..64 bytes (default: 64 random bytes)\n"
	      "  --tsm-dir DIR       configfs-tsm report directory (" TSM_REPORT_ROOT ")\n"
	      "  --sev-guest DEV     SNP guest device, used without configfs-tsm (" SEV_GUEST_DEVICE
	      ")\n"
	      "  --tcti CONF         TPM TCTI (" TPM_DEFAULT_TCTI ")\n"
	      "  --eventlog FILE     TCG event log (" TPM_EVENTLOG_PATH ")\n"
	      "  --pcrs LIST         sha256 PCRs to quote and read, e.g. 0,1,2-7 (default 0-23)\n"
	      "  --ak-type rsa|ecc   AK algorithm (default rsa)\n"
	      "  --no-snp            do not ask for an SNP report\n"
	      "  --no-tpm            do not use the TPM (nor read the event log)\n"
	      "  --out-dir DIR       also write the raw evidence files into DIR\n"
	      "\n"
	      "Exit status: 0 if anything was collected, 1 if nothing, 2 on a usage error.\n",
	      f);
}

static int parse_pcrs(const char *s, uint32_t *ret)
{
	uint32_t mask = 0;
	const char *p = s;

	if (!*s)
		return -EINVAL;
	while (*p) {
		uint64_t a, b;
		char num[8];
		size_t n = strspn(p, "0123456789");

		if (n == 0 || n >= sizeof(num))
			return -EINVAL;
		memcpy(num, p, n);
		num[n] = '\0';
		if (parse_u64(num, &a) < 0)
			return -EINVAL;
		p += n;
		b = a;
		if (*p == '-') {
			p++;
			n = strspn(p, "0123456789");
			if (n == 0 || n >= sizeof(num))
				return -EINVAL;
			memcpy(num, p, n);
			num[n] = '\0';
			if (parse_u64(num, &b) < 0)
				return -EINVAL;
			p += n;
		}
		if (a > b || b >= TPM_PCR_MAX)
			return -EINVAL;
		for (uint64_t i = a; i <= b; i++)
			mask |= 1u << i;
		if (*p == ',') {
			p++;
			if (!*p)
				return -EINVAL;
		} else if (*p) {
			return -EINVAL;
		}
	}
	*ret = mask;
	return 0;
}

static int parse_nonce(const char *s, struct opts *o)
{
	size_t len = strlen(s);

	if (len == 0 || len % 2 || len / 2 > NONCE_MAX)
		return -EINVAL;
	if (hex_decode(s, o->nonce, len / 2) < 0)
		return -EINVAL;
	o->nonce_len = len / 2;
	return 0;
}

enum {
	OPT_JSON = 0x100,
	OPT_NONCE,
	OPT_TSM_DIR,
	OPT_SEV_GUEST,
	OPT_TCTI,
	OPT_EVENTLOG,
	OPT_PCRS,
	OPT_NO_SNP,
	OPT_NO_TPM,
	OPT_OUT_DIR,
	OPT_AK_TYPE,
};

static int parse_collect_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "nonce", required_argument, NULL, OPT_NONCE },
		{ "tsm-dir", required_argument, NULL, OPT_TSM_DIR },
		{ "sev-guest", required_argument, NULL, OPT_SEV_GUEST },
		{ "tcti", required_argument, NULL, OPT_TCTI },
		{ "eventlog", required_argument, NULL, OPT_EVENTLOG },
		{ "pcrs", required_argument, NULL, OPT_PCRS },
		{ "no-snp", no_argument, NULL, OPT_NO_SNP },
		{ "no-tpm", no_argument, NULL, OPT_NO_TPM },
		{ "out-dir", required_argument, NULL, OPT_OUT_DIR },
		{ "ak-type", required_argument, NULL, OPT_AK_TYPE },
		{ NULL, 0, NULL, 0 },
	};
	bool have_nonce = false;
	int c;

	*o = (struct opts){
		.tsm_dir = TSM_REPORT_ROOT,
		.sev_dev = SEV_GUEST_DEVICE,
		.tcti = TPM_DEFAULT_TCTI,
		.pcr_mask = PCR_ALL,
		.ak_type = TPM_AK_RSA2048,
	};
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			collect_usage(stdout);
			return 1;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_NONCE:
			if (parse_nonce(optarg, o) < 0) {
				log_error("--nonce wants 1..%d bytes of hex, got '%s'", NONCE_MAX,
					  optarg);
				return -EINVAL;
			}
			have_nonce = true;
			break;
		case OPT_TSM_DIR:
			o->tsm_dir = optarg;
			break;
		case OPT_SEV_GUEST:
			o->sev_dev = optarg;
			break;
		case OPT_TCTI:
			o->tcti = optarg;
			break;
		case OPT_EVENTLOG:
			o->eventlog = optarg;
			o->eventlog_given = true;
			break;
		case OPT_PCRS:
			if (parse_pcrs(optarg, &o->pcr_mask) < 0) {
				log_error("--pcrs wants a list of PCRs 0..23 such as 0,1,2-7, got "
					  "'%s'",
					  optarg);
				return -EINVAL;
			}
			break;
		case OPT_NO_SNP:
			o->no_snp = true;
			break;
		case OPT_NO_TPM:
			o->no_tpm = true;
			break;
		case OPT_OUT_DIR:
			o->out_dir = optarg;
			break;
		case OPT_AK_TYPE:
			if (streq(optarg, "rsa")) {
				o->ak_type = TPM_AK_RSA2048;
			} else if (streq(optarg, "ecc")) {
				o->ak_type = TPM_AK_ECC_P256;
			} else {
				log_error("--ak-type wants 'rsa' or 'ecc', got '%s'", optarg);
				return -EINVAL;
			}
			break;
		default:
			log_error("collect: unknown or incomplete option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("collect: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!have_nonce) {
		if (getrandom(o->nonce, NONCE_MAX, 0) != NONCE_MAX) {
			log_error("getting a random nonce failed: %m");
			return -EIO;
		}
		o->nonce_len = NONCE_MAX;
	}
	return 0;
}

int cmd_collect(int argc, char **argv)
{
	struct evidence ev = { 0 };
	struct evidence_snp *s = &ev.snp;
	struct evidence_tpm *p = &ev.tpm;
	struct evidence_log *l = &ev.log;
	struct evidence_opts eo;
	struct snp_checks *c = NULL;
	struct opts o;
	uint8_t rd[64];
	int r, ret;

	r = parse_collect_args(argc, argv, &o);
	if (r > 0)
		return 0;
	if (r < 0) {
		if (r == -EINVAL)
			fputs("Try 'kagi collect --help'.\n", stderr);
		return r == -EINVAL ? EXIT_USAGE : EXIT_NOTHING;
	}

	evidence_opts_init(&eo);
	eo.tsm_dir = o.tsm_dir;
	eo.sev_dev = o.sev_dev;
	eo.tcti = o.tcti;
	eo.eventlog = o.eventlog;
	eo.read_eventlog = !o.no_tpm || o.eventlog_given;
	eo.no_snp = o.no_snp;
	eo.no_tpm = o.no_tpm;
	eo.pcr_mask = o.pcr_mask;
	eo.ak_ecc = o.ak_type == TPM_AK_ECC_P256;
	/* collect binds nothing but the nonce: REPORT_DATA and the SVSM inblob are the nonce
	 * zero-padded, the quote's qualifying data is the nonce */
	report_data_for(&o, rd);
	if (!o.no_tpm)
		(void)evidence_tpm_open(&eo, &ev);
	(void)evidence_collect(&eo, &ev,
			       &(struct evidence_inputs){ .report_data = rd,
							  .svsm_nonce = rd,
							  .qualifying = o.nonce,
							  .qualifying_len = o.nonce_len },
			       NULL);
	if (o.json) {
		/* stdout is the JSON document; say what is missing on stderr too */
		if (!o.no_tpm && !p->collected)
			log_warn("no TPM evidence: %s", p->error);
		else if (p->error[0])
			log_warn("TPM evidence incomplete: %s", p->error);
		if (l->tried && !l->collected)
			log_warn("no event log: %s", l->error);
		if (!o.no_snp && !s->collected)
			log_warn("%s", s->error);
		else if (s->svsm_present && !s->svsm_collected)
			log_warn("SVSM vTPM attestation not collected: %s", s->svsm_error);
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		log_error("out of memory");
		ret = EXIT_NOTHING;
		goto out;
	}
	check_snp(&o, s, p, c);

	if (o.json) {
		json_object *j = build_json(&o, s, c, p, l);

		printf("%s\n",
		       json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		print_human(&o, s, c, p, l);
	}
	fflush(stdout);

	ret = s->collected || p->collected || l->collected ? 0 : EXIT_NOTHING;
	if (ret != 0)
		log_error("nothing was collected");
	if (o.out_dir && write_out_dir(&o, s, p, l) < 0)
		ret = EXIT_NOTHING;
out:
	free(c);
	evidence_done(&ev);
	secret_wipe(&o, sizeof(o));
	return ret;
}

/* --- hidden: tpm-debug --------------------------------------------------------------------- */

static void tpm_debug_usage(FILE *f)
{
	fputs("Usage: kagi tpm-debug ek --tcti CONF --type rsa|ecc --out FILE\n"
	      "       kagi tpm-debug extend --tcti CONF --pcr N --data-hex HEX\n"
	      "       kagi tpm-debug activate --tcti CONF --ak-public FILE --ak-private FILE\n"
	      "                               --blob FILE --secret FILE --expect FILE\n"
	      "\n"
	      "Test helpers. 'ek' writes the marshaled TPMT_PUBLIC of the L-1 (rsa) or L-2 (ecc)\n"
	      "EK. 'activate' recreates the L-1 EK, loads the AK (ak.tpmt, ak.priv as\n"
	      "written by 'kagi collect --out-dir'), runs ActivateCredential with the marshaled\n"
	      "TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET and compares the credential with the\n"
	      "bytes in --expect (exit 0 equal, 1 different or failed). The credential is never\n"
	      "printed.\n",
	      f);
}

static int debug_extend(const char *tcti, const char *pcr_s, const char *hex)
{
	_cleanup_free_ uint8_t *data = NULL;
	struct kagi_tpm *t = NULL;
	struct kagi_err e = { 0 };
	char buf[sizeof(e.msg) + 128];
	size_t len = 0;
	uint64_t pcr;
	int r;

	if (!pcr_s || parse_u64(pcr_s, &pcr) < 0 || pcr >= TPM_PCR_MAX || !hex ||
	    hex_decode_alloc(hex, 4096, &data, &len) < 0) {
		tpm_debug_usage(stderr);
		return EXIT_USAGE;
	}
	r = tpm_open(tcti, &t, &e);
	if (r >= 0)
		r = tpm_pcr_extend(t, (unsigned)pcr, data, len, &e);
	tpm_close(t);
	if (r < 0) {
		log_error("%s", kagi_err_str(&e, buf, sizeof(buf)));
		return 1;
	}
	return 0;
}

/* Write the marshaled EK TPMT_PUBLIC (rsa: through the one-shot tpm_ek_public_marshaled()). */
static int debug_ek(const char *tcti, const char *type, const char *out)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct kagi_err e = { 0 };
	char ebuf[sizeof(e.msg) + 128];
	size_t len = 0;
	int r;

	if (!out || !type || (!streq(type, "rsa") && !streq(type, "ecc"))) {
		tpm_debug_usage(stderr);
		return EXIT_USAGE;
	}
	if (streq(type, "rsa")) {
		r = tpm_ek_public_marshaled(tcti, &buf, &len, &e);
	} else {
		struct kagi_tpm *t = NULL;
		TPMT_PUBLIC pub;

		r = tpm_open(tcti, &t, &e);
		if (r >= 0)
			r = tpm_ek_create(t, TPM_EK_ECC_P256, &pub, &e);
		if (r >= 0)
			r = tpm_public_marshal(&pub, &buf, &len, &e);
		tpm_close(t);
	}
	if (r < 0) {
		log_error("%s", kagi_err_str(&e, ebuf, sizeof(ebuf)));
		return 1;
	}
	return write_path(out, buf, len) < 0 ? 1 : 0;
}

static int load_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	int r = read_file(path, max, ret, ret_len);

	if (r < 0)
		log_error("reading '%s' failed: %s", path, strerror(-r));
	return r;
}

static int debug_activate(const char *tcti, const char *pub_f, const char *priv_f,
			  const char *blob_f, const char *secret_f, const char *expect_f)
{
	_cleanup_free_ uint8_t *pubb = NULL, *privb = NULL, *blobb = NULL, *secb = NULL;
	_cleanup_secret_ struct secret *expect = NULL;
	size_t publ, privl, blobl, secl, off;
	uint8_t *expb = NULL;
	size_t expl = 0;
	TPM2B_PRIVATE priv = { 0 };
	TPM2B_ID_OBJECT blob = { 0 };
	TPM2B_ENCRYPTED_SECRET sec = { 0 };
	TPM2B_DIGEST cert = { 0 };
	TPMT_PUBLIC pub;
	struct kagi_tpm *t = NULL;
	struct kagi_err e = { 0 };
	char buf[sizeof(e.msg) + 128];
	int r;

	if (!pub_f || !priv_f || !blob_f || !secret_f || !expect_f) {
		tpm_debug_usage(stderr);
		return EXIT_USAGE;
	}
	if (load_file(pub_f, 4096, &pubb, &publ) < 0 ||
	    load_file(priv_f, 4096, &privb, &privl) < 0 ||
	    load_file(blob_f, 4096, &blobb, &blobl) < 0 ||
	    load_file(secret_f, 4096, &secb, &secl) < 0 ||
	    load_file(expect_f, 64, &expb, &expl) < 0)
		return EXIT_USAGE;
	expect = secret_new(expl ? expl : 1);
	if (!expect) {
		secret_wipe(expb, expl);
		free(expb);
		log_error("out of memory");
		return 1;
	}
	memcpy(expect->data, expb, expl);
	expect->len = expl;
	secret_wipe(expb, expl);
	free(expb);

	if (tpm_public_unmarshal(pubb, publ, &pub, &e) < 0) {
		log_error("'%s': %s", pub_f, kagi_err_str(&e, buf, sizeof(buf)));
		return EXIT_USAGE;
	}
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(privb, privl, &off, &priv) != TSS2_RC_SUCCESS ||
	    off != privl) {
		log_error("'%s' is not a marshaled TPM2B_PRIVATE", priv_f);
		return EXIT_USAGE;
	}
	off = 0;
	if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blobb, blobl, &off, &blob) != TSS2_RC_SUCCESS ||
	    off != blobl) {
		log_error("'%s' is not a marshaled TPM2B_ID_OBJECT", blob_f);
		return EXIT_USAGE;
	}
	off = 0;
	if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secb, secl, &off, &sec) != TSS2_RC_SUCCESS ||
	    off != secl) {
		log_error("'%s' is not a marshaled TPM2B_ENCRYPTED_SECRET", secret_f);
		return EXIT_USAGE;
	}

	r = tpm_open(tcti, &t, &e);
	if (r >= 0)
		r = tpm_ek_create(t, TPM_EK_RSA2048, NULL, &e);
	if (r >= 0)
		r = tpm_ak_reload(t, &priv, &pub, &e);
	if (r >= 0)
		r = tpm_activate_credential(t, &blob, &sec, &cert, &e);
	tpm_close(t);
	if (r < 0) {
		log_error("%s", kagi_err_str(&e, buf, sizeof(buf)));
		return 1;
	}
	r = cert.size == expect->len && secret_memcmp(cert.buffer, expect->data, expect->len) == 0;
	secret_wipe(&cert, sizeof(cert));
	if (!r) {
		log_error("the activated credential differs from '%s'", expect_f);
		return 1;
	}
	printf("credential activated and equal to '%s'\n", expect_f);
	return 0;
}

int cmd_tpm_debug(int argc, char **argv)
{
	const char *tcti = TPM_DEFAULT_TCTI, *pcr = NULL, *data = NULL, *pub = NULL, *priv = NULL,
		   *blob = NULL, *secret = NULL, *expect = NULL, *type = NULL, *out = NULL;
	const char *action;

	if (argc < 2) {
		tpm_debug_usage(stderr);
		return EXIT_USAGE;
	}
	action = argv[1];
	if (streq(action, "--help") || streq(action, "-h")) {
		tpm_debug_usage(stdout);
		return 0;
	}
	for (int i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			log_error("tpm-debug: option '%s' needs a value", k);
			return EXIT_USAGE;
		}
		if (streq(k, "--tcti"))
			tcti = v;
		else if (streq(k, "--pcr"))
			pcr = v;
		else if (streq(k, "--data-hex"))
			data = v;
		else if (streq(k, "--ak-public"))
			pub = v;
		else if (streq(k, "--ak-private"))
			priv = v;
		else if (streq(k, "--blob"))
			blob = v;
		else if (streq(k, "--secret"))
			secret = v;
		else if (streq(k, "--expect"))
			expect = v;
		else if (streq(k, "--type"))
			type = v;
		else if (streq(k, "--out"))
			out = v;
		else {
			log_error("tpm-debug: unknown option '%s'", k);
			return EXIT_USAGE;
		}
	}
	if (streq(action, "ek"))
		return debug_ek(tcti, type, out);
	if (streq(action, "extend"))
		return debug_extend(tcti, pcr, data);
	if (streq(action, "activate"))
		return debug_activate(tcti, pub, priv, blob, secret, expect);
	log_error("tpm-debug: unknown action '%s'", action);
	tpm_debug_usage(stderr);
	return EXIT_USAGE;
}
