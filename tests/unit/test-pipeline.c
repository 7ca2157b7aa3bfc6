// SPDX-License-Identifier: Apache-2.0
/*
 * test-pipeline.c: the verifier's decisions without network or TPM. The evidence is built here:
 * an in-memory AMD-shaped PKI (snp-testpki.h), SNP reports signed by a test VCEK with
 * REPORT_DATA bound to the challenge, the agent's ephemeral ECDH key and its TLS key; a temporary
 * SQLite store with a file KEK holds the volume keys; the policy is parsed from text.
 *
 * The direct path is checked end to end (the sealed keys open with the K the "agent" derives),
 * every refusal gets its exact reason code and carries no key material, and the audit log has
 * one line per decision without key bytes. The vTPM path runs in the integration tests (swtpm).
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "audit.h"
#include "kagi-build.h"
#include "binding.h"
#include "credential.h"
#include "kek.h"
#include "pipeline.h"
#include "proto.h"
#include "snp-certs.h"
#include "snp-testpki.h"
#include "store.h"
#include "token.h"
#include "vconfig.h"
#include "vpolicy.h"

#define UUID_A "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" /* group web, 32-byte key */
#define UUID_B "1b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" /* group web, 64-byte key */
#define UUID_C "2b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" /* group vtpm (require_vtpm) */
#define UUID_D "3b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" /* group other (another measurement) */
#define UUID_E "4b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" /* in the store, in no group */
#define UUID_R "5b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" /* group web, revoked */
#define UUID_U "6b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" /* group web, not in the store */
#define UUID_N "7b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" /* added through the admin API */

static const char *const stored[] = { UUID_A, UUID_B, UUID_C, UUID_D, UUID_E, UUID_R };
static const size_t stored_len[] = { 32, 64, 32, 32, 48, 32 };

struct world {
	char dir[64];
	char audit_path[128];
	EVP_PKEY *ark_key, *ask_key, *vcek_key;
	X509 *ark, *ask, *vcek, *vcek_low, *vcek_chip2;
	uint8_t hwid[64], hwid2[64];
	uint8_t measurement[48];
	struct snp_roots roots;
	struct kek *kek;
	struct store *store;
	struct secret *token_key;
	struct vpolicy policy;
	struct audit *audit;
	struct pipeline_ctx ctx;
	EVP_PKEY *tls_key, *agent_ecdh;
	uint8_t point[97];
	struct secret *keys[ARRAY_SIZE(stored)];
};

static struct world *W;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void ec_point(EVP_PKEY *k, uint8_t out[97])
{
	size_t len = 0;

	assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out,
							 97, &len),
			 1);
	assert_int_equal(len, 97);
}

static EVP_PKEY *ec_from_point(const uint8_t *pt, size_t len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-384", 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len),
		OSSL_PARAM_construct_end(),
	};

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
	assert_int_equal(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p), 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

static X509 *make_vcek(const uint8_t *hwid, long snp_svn)
{
	struct testpki_vcek_opts vo = { .product_name = "Milan-B0",
					.tcb = { 0, 3, 0, snp_svn, 0, 0, 0, 0, 115 },
					.hwid = hwid,
					.hwid_len = 64,
					.not_before_days = -1,
					.not_after_days = 365 };

	return testpki_vcek(W->vcek_key, W->ask, W->ask_key, &vo);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static int setup(void **state)
{
	struct kagi_err e = { 0 };
	char path[128], url[160], mh[97], ch[129], other[97], *pol;
	uint8_t kek[32];
	int n;

	(void)state;
	W = calloc(1, sizeof(*W));
	assert_non_null(W);
	snprintf(W->dir, sizeof(W->dir), "/tmp/kagi-test-pipeline-XXXXXX");
	assert_non_null(mkdtemp(W->dir));

	/* the SNP test PKI: only the ARK is trusted, the ASK comes with the evidence */
	W->ark_key = testpki_rsa();
	W->ask_key = testpki_rsa();
	W->vcek_key = testpki_ec384();
	W->ark = testpki_cert("ARK-Milan", W->ark_key, NULL, W->ark_key, -1, 3650, true);
	W->ask = testpki_cert("SEV-Milan", W->ask_key, W->ark, W->ark_key, -1, 3650, true);
	for (int i = 0; i < 64; i++) {
		W->hwid[i] = (uint8_t)(i * 7 + 1);
		W->hwid2[i] = (uint8_t)(i * 5 + 3);
	}
	W->vcek = make_vcek(W->hwid, 8);
	W->vcek_low = make_vcek(W->hwid, 7);
	W->vcek_chip2 = make_vcek(W->hwid2, 8);
	W->roots.arks = sk_X509_new_null();
	W->roots.intermediates = sk_X509_new_null();
	X509_up_ref(W->ark);
	sk_X509_push(W->roots.arks, W->ark);
	RAND_bytes(W->measurement, sizeof(W->measurement));

	/* store, KEK, token key, audit log */
	snprintf(path, sizeof(path), "%s/kek.bin", W->dir);
	RAND_bytes(kek, sizeof(kek));
	write_file(path, kek, sizeof(kek));
	snprintf(url, sizeof(url), "file:%s", path);
	if (kek_open(url, &W->kek, &e) < 0)
		fail_msg("kek_open: %s", e.msg);
	snprintf(url, sizeof(url), "sqlite:%s/kagi.db", W->dir);
	if (store_open(url, W->kek, &W->store, &e) < 0)
		fail_msg("store_open: %s", e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(stored); i++) {
		W->keys[i] = secret_new(stored_len[i]);
		RAND_bytes(W->keys[i]->data, (int)stored_len[i]);
		if (store_key_add(W->store, stored[i], W->keys[i], "test", &e) < 0)
			fail_msg("store_key_add: %s", e.msg);
	}
	assert_int_equal(store_key_revoke(W->store, UUID_R, &e), 0);
	W->token_key = secret_new(TOKEN_KEY_SIZE);
	RAND_bytes(W->token_key->data, TOKEN_KEY_SIZE);
	snprintf(W->audit_path, sizeof(W->audit_path), "%s/audit.log", W->dir);
	if (audit_open(W->audit_path, &W->audit, &e) < 0)
		fail_msg("audit_open: %s", e.msg);

	/* the policy */
	hex_encode(W->measurement, 48, mh);
	hex_encode(W->hwid, 64, ch);
	memset(other, 'a', 96);
	other[96] = '\0';
	pol = malloc(4096);
	n = snprintf(
		pol, 4096,
		"{\"boot_phase_pcr\": 15, \"groups\": ["
		"{\"name\": \"web\", \"snp\": {\"measurements\": [\"%s\"], \"min_tcb\": "
		"{\"bl\": 3, \"tee\": 0, \"snp\": 8, \"ucode\": 115}, \"chip_ids\": [\"%s\"]}, "
		"\"volumes\": [\"" UUID_A "\", \"" UUID_B "\", \"" UUID_R "\", \"" UUID_U "\"]},"
		"{\"name\": \"vtpm\", \"snp\": {\"measurements\": [\"%s\"]}, \"require_vtpm\": "
		"true, \"volumes\": [\"" UUID_C "\"]},"
		"{\"name\": \"other\", \"snp\": {\"measurements\": [\"%s\"]}, "
		"\"volumes\": [\"" UUID_D "\"]}]}",
		mh, ch, mh, other);
	if (vpolicy_parse(pol, (size_t)n, &W->policy, &e) < 0)
		fail_msg("vpolicy_parse: %s: %s", e.what, e.msg);
	free(pol);

	/* the agent's keys */
	W->tls_key = EVP_EC_gen("P-256");
	W->agent_ecdh = EVP_EC_gen("P-384");
	assert_non_null(W->tls_key);
	assert_non_null(W->agent_ecdh);
	ec_point(W->agent_ecdh, W->point);

	W->ctx = (struct pipeline_ctx){ .policy = &W->policy,
					.roots = &W->roots,
					.store = W->store,
					.token_key = W->token_key,
					.token_lifetime = 120,
					.audit = W->audit };
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	audit_close(W->audit);
	store_close(W->store);
	kek_close(W->kek);
	vpolicy_done(&W->policy);
	snp_roots_done(&W->roots);
	secret_free(W->token_key);
	for (size_t i = 0; i < ARRAY_SIZE(stored); i++)
		secret_free(W->keys[i]);
	X509_free(W->ark);
	X509_free(W->ask);
	X509_free(W->vcek);
	X509_free(W->vcek_low);
	X509_free(W->vcek_chip2);
	EVP_PKEY_free(W->ark_key);
	EVP_PKEY_free(W->ask_key);
	EVP_PKEY_free(W->vcek_key);
	EVP_PKEY_free(W->tls_key);
	EVP_PKEY_free(W->agent_ecdh);
	nftw(W->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(W);
	return 0;
}

/* ---- evidence ---- */

struct ev_opts {
	const uint8_t *measurement; /* NULL: the allowed one */
	uint64_t policy_bits;       /* added to 0x30000 */
	X509 *vcek;                 /* NULL: W->vcek */
	const uint8_t *chip_id;     /* NULL: W->hwid */
	unsigned snp_svn;           /* 0: 8 */
	EVP_PKEY *bind_tls;         /* NULL: W->tls_key */
	bool tamper;                /* flip a MEASUREMENT byte after signing */
	bool no_vcek;               /* certificate table without the VCEK */
};

static struct proto_blob blob_dup(const void *p, size_t len)
{
	struct proto_blob b = { .data = malloc(len), .len = len };

	assert_non_null(b.data);
	memcpy(b.data, p, len);
	return b;
}

static uint8_t *der_of(X509 *x, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	*len = (size_t)n;
	return der;
}

/* A fresh challenge and direct-path evidence for it. */
static void build(struct proto_attest_request *req, uint8_t nonce[32], const struct ev_opts *o,
		  const char *const *vols, size_t nvols)
{
	static const struct ev_opts none;
	struct proto_challenge ch;
	struct snp_report rep = { 0 };
	struct snp_tcb t = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 };
	struct snp_cert_table tab = { 0 };
	uint8_t raw[SNP_REPORT_SIZE], spki[32];
	uint8_t *vder, *ader, *certs = NULL;
	size_t vlen, alen, clen = 0;

	if (!o)
		o = &none;
	memset(req, 0, sizeof(*req));
	assert_int_equal(token_issue(W->token_key, time(NULL), 120, &ch), 0);
	snprintf(req->token, sizeof(req->token), "%s", ch.token);
	memcpy(nonce, ch.nonce, 32);
	req->nvolumes = nvols;
	for (size_t i = 0; i < nvols; i++)
		snprintf(req->volumes[i], sizeof(req->volumes[i]), "%s", vols[i]);

	if (o->snp_svn)
		t.snp = (uint8_t)o->snp_svn;
	rep.version = 3;
	rep.policy = 0x30000 | o->policy_bits;
	rep.sig_algo = 1;
	rep.current_tcb = rep.reported_tcb = rep.committed_tcb = rep.launch_tcb =
		snp_tcb_encode(&t, SNP_PRODUCT_MILAN);
	rep.cpuid_fam_id = 0x19;
	rep.cpuid_mod_id = 0x01;
	rep.cpuid_step = 1;
	memcpy(rep.chip_id, o->chip_id ? o->chip_id : W->hwid, 64);
	memcpy(rep.measurement, o->measurement ? o->measurement : W->measurement, 48);
	RAND_bytes(rep.report_id, 32);
	memset(rep.report_id_ma, 0xff, 32);
	assert_int_equal(binding_spki_hash(o->bind_tls ? o->bind_tls : W->tls_key, spki), 0);
	binding_report_data(nonce, W->point, sizeof(W->point), spki, rep.report_data);
	testpki_sign_report(&rep, W->vcek_key, raw);
	if (o->tamper)
		raw[0x90] ^= 0x01;

	vder = der_of(o->vcek ? o->vcek : W->vcek, &vlen);
	ader = der_of(W->ask, &alen);
	if (!o->no_vcek)
		tab.e[tab.n++] =
			(struct snp_cert_entry){ .kind = SNP_CERT_VCEK, .der = vder, .len = vlen };
	tab.e[tab.n++] = (struct snp_cert_entry){ .kind = SNP_CERT_ASK, .der = ader, .len = alen };
	assert_int_equal(snp_certs_encode(&tab, &certs, &clen), 0);
	OPENSSL_free(vder);
	OPENSSL_free(ader);

	req->ev.snp_report = blob_dup(raw, sizeof(raw));
	req->ev.snp_certs = (struct proto_blob){ .data = certs, .len = clen };
	req->ev.ecdh_public = blob_dup(W->point, sizeof(W->point));
}

static int run(const struct proto_attest_request *req, EVP_PKEY *tls,
	       struct proto_attest_response *resp, struct audit_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->peer, sizeof(rec->peer), "192.0.2.1:4242");
	snprintf(rec->route, sizeof(rec->route), "/v1/attest");
	return pipeline_attest(&W->ctx, req, tls, resp, rec);
}

/* The last line of the audit log, parsed. */
static json_object *last_audit(void)
{
	uint8_t *buf = NULL;
	size_t len = 0, start;
	json_object *o;

	assert_int_equal(read_file(W->audit_path, 16 << 20, &buf, &len), 0);
	assert_true(len > 1 && buf[len - 1] == '\n');
	start = len - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	buf[len - 1] = '\0';
	o = json_tokener_parse((const char *)buf + start);
	free(buf);
	assert_non_null(o);
	return o;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

/* No registered key appears in the audit log, in hex or base64. */
static void audit_has_no_keys(void)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(read_file(W->audit_path, 16 << 20, &buf, &len), 0);
	buf = realloc(buf, len + 1);
	buf[len] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(stored); i++) {
		char hex[2 * 64 + 1], *b64 = proto_b64_encode(W->keys[i]->data, W->keys[i]->len);

		hex_encode(W->keys[i]->data, W->keys[i]->len, hex);
		hex[32] = '\0'; /* any 16-byte prefix is enough to tell */
		assert_null(strstr((char *)buf, hex));
		b64[20] = '\0';
		assert_null(strstr((char *)buf, b64));
		free(b64);
	}
	free(buf);
}

static void expect_no_keys(const struct proto_attest_response *resp)
{
	assert_false(resp->granted);
	assert_int_equal(resp->nkeys, 0);
	assert_false(resp->has_ecdh);
	assert_false(resp->has_credential);
	assert_null(resp->ecdh_public.data);
	assert_null(resp->cred_blob.data);
	assert_null(resp->cred_secret.data);
	for (size_t i = 0; i < PROTO_MAX_VOLUMES; i++)
		assert_null(resp->keys[i].ciphertext.data);
}

/* Run the request, expect a refusal with `code` first, no keys, and an audit line saying so. */
static void expect_refused(struct proto_attest_request *req, EVP_PKEY *tls, int want_status,
			   const char *code)
{
	struct proto_attest_response resp;
	struct audit_record rec;
	json_object *a, *reasons;
	int status = run(req, tls, &resp, &rec);

	if (resp.nreasons == 0 || strcmp(resp.reasons[0].code, code) || status != want_status)
		fail_msg("expected %d %s, got %d %s: %s", want_status, code, status,
			 resp.nreasons ? resp.reasons[0].code : "(no reason)",
			 resp.nreasons ? resp.reasons[0].message : (resp.granted ? "granted" : ""));
	expect_no_keys(&resp);
	assert_true(resp.reasons[0].message[0] != '\0');

	a = last_audit();
	assert_string_equal(jstr(a, "decision"), want_status == 403 ? "refused" : "error");
	assert_string_equal(jstr(a, "route"), "/v1/attest");
	assert_string_equal(jstr(a, "peer"), "192.0.2.1:4242");
	assert_true(json_object_object_get_ex(a, "reasons", &reasons));
	assert_string_equal(json_object_get_string(json_object_array_get_idx(reasons, 0)), code);
	json_object_put(a);
	audit_has_no_keys();
	proto_attest_response_done(&resp);
	proto_attest_request_done(req);
}

static const struct secret *stored_key(const char *uuid)
{
	for (size_t i = 0; i < ARRAY_SIZE(stored); i++)
		if (streq(stored[i], uuid))
			return W->keys[i];
	fail_msg("no key for %s", uuid);
	return NULL;
}

/* The agent's side: K from ECDH with the verifier's ephemeral key, then every sealed key opens
 * to exactly the registered key. */
static void agent_opens(const struct proto_attest_response *resp, const uint8_t nonce[32])
{
	EVP_PKEY *vpub, *other = EVP_EC_gen("P-384");
	uint8_t k[CREDENTIAL_KEY_SIZE], k2[CREDENTIAL_KEY_SIZE];
	struct kagi_err e = { 0 };

	assert_true(resp->has_ecdh);
	assert_false(resp->has_credential);
	vpub = ec_from_point(resp->ecdh_public.data, resp->ecdh_public.len);
	assert_int_equal(ecdh_derive(W->agent_ecdh, vpub, nonce, k, &e), 0);
	assert_int_equal(ecdh_derive(other, vpub, nonce, k2, &e), 0);
	for (size_t i = 0; i < resp->nkeys; i++) {
		const struct proto_sealed_key *sk = &resp->keys[i];
		const struct secret *want = stored_key(sk->volume);
		struct secret *got = NULL;

		assert_int_equal(open_key(k, sk->volume, nonce, sk->iv, sk->ciphertext.data,
					  sk->ciphertext.len, sk->tag, &got, &e),
				 0);
		assert_int_equal(got->len, want->len);
		assert_memory_equal(got->data, want->data, want->len);
		secret_free(got);
		/* a VM without the agent's ephemeral private key cannot open it */
		assert_true(open_key(k2, sk->volume, nonce, sk->iv, sk->ciphertext.data,
				     sk->ciphertext.len, sk->tag, &got, &e) < 0);
	}
	OPENSSL_cleanse(k, sizeof(k));
	EVP_PKEY_free(vpub);
	EVP_PKEY_free(other);
}

/* ---- the happy path ---- */

static void test_attest_direct_granted(void **state)
{
	static const char *const vols[] = { UUID_A, UUID_B };
	struct proto_attest_request req;
	struct proto_attest_response resp;
	struct audit_record rec;
	uint8_t nonce[32];
	json_object *a, *v;
	int status;

	(void)state;
	build(&req, nonce, NULL, vols, 2);
	status = run(&req, W->tls_key, &resp, &rec);
	if (status != 200)
		fail_msg("refused: %s: %s", resp.reasons[0].code, resp.reasons[0].message);
	assert_true(resp.granted);
	assert_string_equal(resp.group, "web");
	assert_int_equal(resp.nkeys, 2);
	assert_string_equal(resp.keys[0].volume, UUID_A);
	assert_string_equal(resp.keys[1].volume, UUID_B);
	assert_int_equal(resp.keys[0].ciphertext.len, 32);
	assert_int_equal(resp.keys[1].ciphertext.len, 64);
	assert_int_equal(resp.nreasons, 0);
	agent_opens(&resp, nonce);

	a = last_audit();
	assert_string_equal(jstr(a, "decision"), "granted");
	assert_string_equal(jstr(a, "group"), "web");
	assert_int_equal(strlen(jstr(a, "measurement")), 96);
	assert_int_equal(strlen(jstr(a, "chip_id")), 128);
	assert_int_equal(strlen(jstr(a, "report_id")), 64);
	assert_non_null(strstr(jstr(a, "time"), "T"));
	assert_true(json_object_object_get_ex(a, "volumes", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_true(json_object_object_get_ex(a, "reasons", &v));
	assert_int_equal(json_object_array_length(v), 0);
	json_object_put(a);
	audit_has_no_keys();

	/* the same token a second time */
	proto_attest_response_done(&resp);
	expect_refused(&req, W->tls_key, 403, "token.replayed");
}

static void test_attest_json_roundtrip(void **state)
{
	static const char *const vols[] = { UUID_B };
	struct proto_attest_request req;
	struct proto_attest_response resp = { 0 };
	struct audit_record rec = { 0 };
	struct kagi_err e = { 0 };
	uint8_t nonce[32];
	char *in = NULL, *out = NULL;
	int status;

	(void)state;
	build(&req, nonce, NULL, vols, 1);
	assert_int_equal(proto_attest_request_encode(&req, &in), 0);
	status = pipeline_attest_json(&W->ctx, in, strlen(in), W->tls_key, &rec, &out);
	assert_int_equal(status, 200);
	if (proto_attest_response_decode(out, strlen(out), &resp, &e) < 0)
		fail_msg("response does not decode: %s: %s", e.what, e.msg);
	assert_true(resp.granted);
	agent_opens(&resp, nonce);
	proto_attest_response_done(&resp);
	proto_attest_request_done(&req);
	free(in);
	free(out);
}

/* ---- refusals, in the order of the PROTOCOL.md table ---- */

static void test_attest_bad_json(void **state)
{
	static const char *bodies[] = { "{", "[]", "{\"version\": 1}", "{\"version\": 2}",
					"{\"version\": 1, \"token\": \"x\", \"volumes\": [], "
					"\"evidence\": {}, \"extra\": 1}" };
	struct audit_record rec = { 0 };
	json_object *a;
	char *out = NULL;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		memset(&rec, 0, sizeof(rec));
		assert_int_equal(pipeline_attest_json(&W->ctx, bodies[i], strlen(bodies[i]),
						      W->tls_key, &rec, &out),
				 400);
		assert_non_null(strstr(out, "\"request.malformed\""));
		assert_null(strstr(out, "\"keys\""));
		free(out);
		a = last_audit();
		assert_string_equal(jstr(a, "decision"), "error");
		json_object_put(a);
	}
}

static void test_attest_bad_shape(void **state)
{
	static const char *const vols[] = { UUID_A };
	static const char *const dup[] = { UUID_A, UUID_A };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, NULL, vols, 1);
	free(req.ev.ecdh_public.data);
	req.ev.ecdh_public = (struct proto_blob){ 0 };
	expect_refused(&req, W->tls_key, 400, "request.malformed");

	build(&req, nonce, NULL, vols, 1);
	req.ev.has_svsm = true; /* svsm without tpm */
	expect_refused(&req, W->tls_key, 400, "request.malformed");

	build(&req, nonce, NULL, vols, 1);
	req.ev.ecdh_public.data[10] ^= 0x55; /* not on the curve */
	expect_refused(&req, W->tls_key, 400, "request.malformed");

	build(&req, nonce, NULL, dup, 2);
	expect_refused(&req, W->tls_key, 400, "request.malformed");
}

static void test_attest_bad_no_client_cert(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, NULL, vols, 1);
	expect_refused(&req, NULL, 403, "tls.client_cert");
}

static void test_attest_bad_token(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, NULL, vols, 1);
	req.token[40] = req.token[40] == 'A' ? 'B' : 'A';
	expect_refused(&req, W->tls_key, 403, "token.invalid");
}

static void test_attest_bad_tampered_report(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct ev_opts o = { .tamper = true };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, &o, vols, 1);
	expect_refused(&req, W->tls_key, 403, "snp.signature");
}

static void test_attest_bad_report_size(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, NULL, vols, 1);
	req.ev.snp_report.len -= 1;
	expect_refused(&req, W->tls_key, 403, "snp.report");
}

static void test_attest_bad_no_vcek(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct ev_opts o = { .no_vcek = true };
	struct proto_attest_request req;
	struct proto_attest_response resp;
	struct audit_record rec;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, &o, vols, 1);
	assert_int_equal(run(&req, W->tls_key, &resp, &rec), 403);
	assert_string_equal(resp.reasons[0].code, "snp.chain");
	assert_non_null(strstr(resp.reasons[0].message, "no VCEK supplied"));
	proto_attest_response_done(&resp);
	expect_refused(&req, W->tls_key, 403, "token.replayed");
}

static void test_attest_bad_untrusted_ark(void **state)
{
	static const char *const vols[] = { UUID_A };
	const struct snp_roots *saved = W->ctx.roots;
	struct snp_roots other = { 0 };
	EVP_PKEY *k = testpki_rsa();
	X509 *ark2 = testpki_cert("ARK-Milan", k, NULL, k, -1, 3650, true);
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	other.arks = sk_X509_new_null();
	other.intermediates = sk_X509_new_null();
	sk_X509_push(other.arks, ark2);
	W->ctx.roots = &other;
	build(&req, nonce, NULL, vols, 1);
	expect_refused(&req, W->tls_key, 403, "snp.chain");
	W->ctx.roots = saved;
	snp_roots_done(&other);
	EVP_PKEY_free(k);
}

static void test_attest_bad_report_data(void **state)
{
	static const char *const vols[] = { UUID_A };
	EVP_PKEY *someone_else = EVP_EC_gen("P-256");
	struct ev_opts o = { .bind_tls = someone_else };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	/* evidence bound to another TLS key, presented on this TLS session */
	build(&req, nonce, &o, vols, 1);
	expect_refused(&req, W->tls_key, 403, "snp.report_data");
	/* and the right evidence presented from the other key's session */
	build(&req, nonce, NULL, vols, 1);
	expect_refused(&req, someone_else, 403, "snp.report_data");
	EVP_PKEY_free(someone_else);
}

static void test_attest_bad_measurement(void **state)
{
	static const char *const vols[] = { UUID_A };
	uint8_t m[48];
	struct ev_opts o = { .measurement = m };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	memcpy(m, W->measurement, 48);
	m[47] ^= 0x80;
	build(&req, nonce, &o, vols, 1);
	expect_refused(&req, W->tls_key, 403, "snp.policy.measurement");
}

static void test_attest_bad_debug(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct ev_opts o = { .policy_bits = SNP_POLICY_DEBUG };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, &o, vols, 1);
	expect_refused(&req, W->tls_key, 403, "snp.policy.debug");
}

static void test_attest_bad_tcb_below_minimum(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct ev_opts o = { .vcek = W->vcek_low, .snp_svn = 7 };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, &o, vols, 1);
	expect_refused(&req, W->tls_key, 403, "snp.policy.min_tcb");
}

static void test_attest_bad_chip_not_allowed(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct ev_opts o = { .vcek = W->vcek_chip2, .chip_id = W->hwid2 };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, &o, vols, 1);
	expect_refused(&req, W->tls_key, 403, "snp.policy.chip_id");
}

static void test_attest_bad_vtpm_required(void **state)
{
	static const char *const vols[] = { UUID_C };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, NULL, vols, 1);
	expect_refused(&req, W->tls_key, 403, "policy.vtpm_required");
}

static void test_attest_bad_unknown_volume(void **state)
{
	static const char *const vols[] = { UUID_A, UUID_U };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, NULL, vols, 2);
	expect_refused(&req, W->tls_key, 403, "volume.unknown");
}

static void test_attest_bad_revoked_volume(void **state)
{
	static const char *const vols[] = { UUID_R, UUID_A };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	build(&req, nonce, NULL, vols, 2);
	expect_refused(&req, W->tls_key, 403, "volume.revoked");
}

static void test_attest_bad_volume_not_allowed(void **state)
{
	static const char *const mixed[] = { UUID_A, UUID_D };
	static const char *const nogroup[] = { UUID_E };
	static const char *const other[] = { UUID_D };
	struct proto_attest_request req;
	uint8_t nonce[32];

	(void)state;
	/* web passes, "other" (another measurement) does not: UUID_D may not be released, so
	 * nothing is, UUID_A included */
	build(&req, nonce, NULL, mixed, 2);
	expect_refused(&req, W->tls_key, 403, "volume.not_allowed");
	/* a registered volume that no group lists */
	build(&req, nonce, NULL, nogroup, 1);
	expect_refused(&req, W->tls_key, 403, "volume.not_allowed");
	/* the only candidate group fails: its reason, not the volume's */
	build(&req, nonce, NULL, other, 1);
	expect_refused(&req, W->tls_key, 403, "snp.policy.measurement");
}

static void test_attest_bad_audit_unwritable(void **state)
{
	static const char *const vols[] = { UUID_A };
	struct pipeline_ctx saved = W->ctx;
	struct proto_attest_request req;
	struct proto_attest_response resp;
	struct audit_record rec;
	struct audit *full = NULL;
	struct kagi_err e = { 0 };
	uint8_t nonce[32];

	(void)state;
	if (access("/dev/full", W_OK) != 0 || audit_open("/dev/full", &full, &e) < 0)
		skip();
	W->ctx.audit = full;
	build(&req, nonce, NULL, vols, 1);
	assert_int_equal(run(&req, W->tls_key, &resp, &rec), 503);
	assert_int_equal(resp.nreasons, 1);
	assert_string_equal(resp.reasons[0].code, "internal");
	expect_no_keys(&resp);
	proto_attest_response_done(&resp);
	proto_attest_request_done(&req);
	W->ctx = saved;
	audit_close(full);
}

/* ---- /v1/challenge ---- */

static void test_challenge(void **state)
{
	static const char body[] = "{\"version\": 1}";
	struct proto_challenge ch;
	struct token_claims c;
	struct kagi_err e = { 0 };
	char *out = NULL;

	(void)state;
	assert_int_equal(pipeline_challenge(&W->ctx, body, strlen(body), W->tls_key, NULL, &out),
			 200);
	assert_int_equal(proto_challenge_decode(out, strlen(out), &ch, &e), 0);
	assert_int_equal(token_decode(W->token_key, ch.token, &c, &e), 0);
	assert_memory_equal(c.nonce, ch.nonce, 32);
	assert_true(ch.expires == c.expires && c.expires - c.issued_at == 120);
	free(out);
}

static void test_challenge_bad(void **state)
{
	static const char body[] = "{\"version\": 1}";
	static const char *bad[] = { "", "{}", "{\"version\": 1, \"x\": 2}",
				     "{\"version\": \"1\"}" };
	struct audit_record rec = { 0 };
	char *out = NULL;

	(void)state;
	assert_int_equal(pipeline_challenge(&W->ctx, body, strlen(body), NULL, &rec, &out), 403);
	assert_non_null(strstr(out, "tls.client_cert"));
	assert_null(strstr(out, "nonce"));
	assert_string_equal(rec.reasons[0], "tls.client_cert");
	free(out);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
			pipeline_challenge(&W->ctx, bad[i], strlen(bad[i]), W->tls_key, NULL, &out),
			400);
		assert_non_null(strstr(out, "request.malformed"));
		free(out);
	}
}

/* ---- /v1/admin/keys ---- */

static int admin(bool authorized, const char *json, char **out, struct audit_record *rec)
{
	size_t len = strlen(json);
	char *body = malloc(len + 1);
	int status;

	memcpy(body, json, len + 1);
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->route, sizeof(rec->route), "/v1/admin/keys");
	status = pipeline_admin_keys(&W->ctx, authorized, body, len, rec, out);
	/* the body carried a key: nothing of it is left */
	assert_true(mem_is_zero(body, len));
	free(body);
	return status;
}

static void test_admin_add_key(void **state)
{
	struct audit_record rec;
	struct secret *got = NULL;
	struct kagi_err e = { 0 };
	uint8_t key[48];
	char json[512], *b64, *out = NULL;
	json_object *a;

	(void)state;
	RAND_bytes(key, sizeof(key));
	b64 = proto_b64_encode(key, sizeof(key));
	snprintf(json, sizeof(json),
		 "{\"version\": 1, \"volume\": \"" UUID_N "\", \"key\": \"%s\", \"label\": "
		 "\"new disk\"}",
		 b64);
	assert_int_equal(admin(true, json, &out, &rec), 201);
	assert_string_equal(out, "{\"version\":1,\"result\":\"added\"}");
	free(out);
	assert_int_equal(store_key_get(W->store, UUID_N, &got, &e), 0);
	assert_int_equal(got->len, sizeof(key));
	assert_memory_equal(got->data, key, sizeof(key));
	secret_free(got);
	a = last_audit();
	assert_string_equal(jstr(a, "route"), "/v1/admin/keys");
	assert_string_equal(jstr(a, "decision"), "granted");
	json_object_put(a);

	/* the same volume again */
	assert_int_equal(admin(true, json, &out, &rec), 409);
	assert_non_null(strstr(out, "admin.exists"));
	free(out);
	free(b64);
}

static void test_admin_bad_forbidden(void **state)
{
	static const char *uuid = "8b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
	struct audit_record rec;
	struct secret *got = NULL;
	struct kagi_err e = { 0 };
	uint8_t key[32] = { 1 };
	char json[512], *b64 = proto_b64_encode(key, sizeof(key)), *out = NULL;
	json_object *a;

	(void)state;
	snprintf(json, sizeof(json), "{\"version\": 1, \"volume\": \"%s\", \"key\": \"%s\"}", uuid,
		 b64);
	assert_int_equal(admin(false, json, &out, &rec), 403);
	assert_non_null(strstr(out, "admin.forbidden"));
	assert_int_equal(store_key_get(W->store, uuid, &got, &e), -ENOENT);
	a = last_audit();
	assert_string_equal(jstr(a, "decision"), "refused");
	json_object_put(a);
	free(out);
	free(b64);
}

static void test_admin_bad_body(void **state)
{
	static const char *uuid = "9b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
	struct audit_record rec;
	struct secret *got = NULL;
	struct kagi_err e = { 0 };
	uint8_t key16[16] = { 1 }, key65[65] = { 2 }, key32[32] = { 3 };
	char *k16 = proto_b64_encode(key16, 16), *k65 = proto_b64_encode(key65, 65),
	     *k32 = proto_b64_encode(key32, 32), *out = NULL;
	char bodies[10][400];
	size_t n = 0;

	(void)state;
	snprintf(bodies[n++], 400, "{\"version\": 1, \"volume\": \"%s\", \"key\": \"%s\"}", uuid,
		 k16);
	snprintf(bodies[n++], 400, "{\"version\": 1, \"volume\": \"%s\", \"key\": \"%s\"}", uuid,
		 k65);
	snprintf(bodies[n++], 400, "{\"version\": 2, \"volume\": \"%s\", \"key\": \"%s\"}", uuid,
		 k32);
	snprintf(bodies[n++], 400, "{\"version\": 1, \"volume\": \"%s\"}", uuid);
	snprintf(bodies[n++], 400,
		 "{\"version\": 1, \"volume\": \"%s\", \"key\": \"%s\", \"owner\": \"x\"}", uuid,
		 k32);
	snprintf(bodies[n++], 400, "{\"version\": 1, \"volume\": \"%s\", \"key\": \"%s\"} x", uuid,
		 k32);
	snprintf(bodies[n++], 400, "{\"version\": 1, \"volume\": \"%s\", \"key\": \"%s\"}",
		 "9B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9", k32);
	snprintf(bodies[n++], 400, "{\"version\": 1, \"volume\": \"%s\", \"key\": \"%s!\"}", uuid,
		 k32);
	snprintf(bodies[n++], 400,
		 "{\"version\": 1, \"volume\": \"%s\", \"key\": \"%s\", \"label\": 7}", uuid, k32);
	snprintf(bodies[n++], 400, "[1, 2]");
	for (size_t i = 0; i < n; i++) {
		int status = admin(true, bodies[i], &out, &rec);

		if (status != 400)
			fail_msg("body %zu: expected 400, got %d: %s", i, status, out);
		assert_non_null(strstr(out, "request.malformed"));
		free(out);
	}
	assert_int_equal(store_key_get(W->store, uuid, &got, &e), -ENOENT);
	free(k16);
	free(k65);
	free(k32);
}

/* ---- the configuration file (vconfig) ---- */

#define CONF_BASE                                                                                  \
	"# comment\n"                                                                              \
	"tls_cert = /etc/kv/server.pem\n"                                                          \
	"tls_key=/etc/kv/server-key.pem\n"                                                         \
	"  client_ca =   /etc/kv/agents.pem  \n"                                                   \
	"\n"                                                                                       \
	"token_key = /etc/kv/token.key\n"                                                          \
	"policy = /etc/kv/policy.json\n"                                                           \
	"store = sqlite:/var/lib/kv/kagi.db\n"                                                     \
	"kek = file:/etc/kv/kek.bin\n"                                                             \
	"audit_log = /var/log/kv/audit.log\n"

static void conf_fails_len(const char *text, size_t len, const char *needle)
{
	struct vconfig c;
	struct kagi_err e = { 0 };

	if (vconfig_parse(text, len, "kv.conf", &c, &e) == 0) {
		vconfig_done(&c);
		fail_msg("accepted: %s", text);
	}
	if (!strstr(e.msg, needle))
		fail_msg("message '%s' lacks '%s'", e.msg, needle);
}

static void conf_fails(const char *text, const char *needle)
{
	conf_fails_len(text, strlen(text), needle);
}

static void test_vconfig_defaults(void **state)
{
	struct vconfig c;
	struct kagi_err e = { 0 };

	(void)state;
	if (vconfig_parse(CONF_BASE, strlen(CONF_BASE), "kv.conf", &c, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 8443);
	assert_string_equal(c.tls_key, "/etc/kv/server-key.pem");
	assert_string_equal(c.client_ca, "/etc/kv/agents.pem");
	assert_false(c.allow_self_signed_clients);
	assert_null(c.admin_ca);
	assert_null(c.trust_chain);
	assert_int_equal(c.tls_min_version, VCONFIG_TLS_1_3);
	assert_int_equal(c.token_lifetime, 120);
	assert_int_equal(c.max_body, 1024 * 1024);
	assert_string_equal(c.amd_roots, KAGI_AMD_ROOTS_DIR);
	assert_false(c.amd_roots_set);
	assert_string_equal(c.store, "sqlite:/var/lib/kv/kagi.db");
	assert_string_equal(c.path, "kv.conf");
	vconfig_done(&c);
}

static void test_vconfig_all_keys(void **state)
{
	static const char text[] = "listen = [::1]:9443\n"
				   "tls_cert = a\ntls_key = b\n"
				   "allow_self_signed_clients = true\n"
				   "admin_ca = /ca/admin.pem\n"
				   "tls_min_version = 1.2\n"
				   "token_key = t\ntoken_lifetime = 3600\n"
				   "policy = p\namd_roots = /roots\ntrust_chain = /test-ark.pem\n"
				   "store = sqlite:db\n"
				   "kek = pkcs11:module=/m.so;token=kagi;object=kek;pin-file=/pin\n"
				   "audit_log = a.log\nmax_body = 1024\n";
	struct vconfig c;
	struct kagi_err e = { 0 };

	(void)state;
	if (vconfig_parse(text, strlen(text), "kv.conf", &c, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(c.listen_host, "::1");
	assert_int_equal(c.listen_port, 9443);
	assert_true(c.allow_self_signed_clients);
	assert_null(c.client_ca); /* not required with self-signed clients */
	assert_int_equal(c.tls_min_version, VCONFIG_TLS_1_2);
	assert_int_equal(c.token_lifetime, 3600);
	assert_string_equal(c.amd_roots, "/roots");
	assert_true(c.amd_roots_set);
	assert_string_equal(c.trust_chain, "/test-ark.pem");
	assert_int_equal(c.max_body, 1024);
	vconfig_done(&c);
}

static void test_vconfig_bad_unknown_key(void **state)
{
	(void)state;
	conf_fails(CONF_BASE "colour = blue\n", "kv.conf:11: unknown key 'colour'");
	conf_fails("listen = 127.0.0.1:1\nListen = 127.0.0.1:2\n" CONF_BASE, "kv.conf:2");
}

static void test_vconfig_bad_duplicate_key(void **state)
{
	(void)state;
	conf_fails(CONF_BASE "policy = /other.json\n",
		   "kv.conf:11: key 'policy': duplicate key (first set on line 7)");
}

static void test_vconfig_bad_syntax(void **state)
{
	(void)state;
	conf_fails(CONF_BASE "just words\n", "kv.conf:11: expected 'key = value'");
	conf_fails(CONF_BASE "admin_ca =\n", "kv.conf:11: key 'admin_ca': empty value");
	conf_fails_len("tls_cert = a\0b\n", 15, "NUL");
}

static void test_vconfig_bad_value(void **state)
{
	static const struct {
		const char *line, *needle;
	} bad[] = {
		{ "listen = 127.0.0.1\n", "key 'listen'" },
		{ "listen = localhost:8443\n", "key 'listen'" },
		{ "listen = 127.0.0.1:0\n", "key 'listen'" },
		{ "listen = 127.0.0.1:65536\n", "key 'listen'" },
		{ "listen = 127.0.0.1:0x10\n", "key 'listen'" },
		{ "listen = ::1:8443\n", "key 'listen'" },
		{ "listen = [::1:8443\n", "key 'listen'" },
		{ "listen = [1.2.3.4]:8443\n", "key 'listen'" },
		{ "allow_self_signed_clients = yes\n", "key 'allow_self_signed_clients'" },
		{ "tls_min_version = 1.1\n", "key 'tls_min_version'" },
		{ "token_lifetime = 9\n", "key 'token_lifetime'" },
		{ "token_lifetime = 3601\n", "key 'token_lifetime'" },
		{ "token_lifetime = -5\n", "key 'token_lifetime'" },
		{ "token_lifetime = 12s\n", "key 'token_lifetime'" },
		{ "max_body = 1023\n", "key 'max_body'" },
		{ "max_body = 1048577\n", "key 'max_body'" },
	};
	static const char *const base_bad[][3] = {
		{ "store =", "store = /var/lib/kv/kagi.db\n", "key 'store'" },
		{ "store =", "store = postgres:db\n", "key 'store'" },
		{ "kek =", "kek = /etc/kv/kek.bin\n", "key 'kek'" },
		{ "kek =", "kek = file:\n", "key 'kek'" },
	};
	char text[2048];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text), "%s%s", CONF_BASE, bad[i].line);
		conf_fails(text, "kv.conf:11: ");
		conf_fails(text, bad[i].needle);
	}
	for (size_t i = 0; i < ARRAY_SIZE(base_bad); i++) {
		/* the base text with the line of this key replaced */
		const char *at = strstr(CONF_BASE, base_bad[i][0]);
		const char *eol = strchr(at, '\n') + 1;

		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - CONF_BASE), CONF_BASE,
			 base_bad[i][1], eol);
		conf_fails(text, base_bad[i][2]);
	}
}

static void test_vconfig_bad_missing_key(void **state)
{
	static const char *const required[] = { "tls_cert", "tls_key", "client_ca", "token_key",
						"policy",   "store",   "kek",       "audit_log" };
	char text[2048], needle[96];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		const char *p = CONF_BASE;
		size_t o = 0;

		/* CONF_BASE without the line that sets this key */
		while (*p) {
			const char *eol = strchr(p, '\n') + 1;
			const char *k = p + strspn(p, " ");

			if (!(strncmp(k, required[i], strlen(required[i])) == 0 &&
			      strchr(" =", k[strlen(required[i])]))) {
				memcpy(text + o, p, (size_t)(eol - p));
				o += (size_t)(eol - p);
			}
			p = eol;
		}
		text[o] = '\0';
		snprintf(needle, sizeof(needle), "kv.conf: key '%s': missing", required[i]);
		conf_fails(text, needle);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attest_direct_granted),
		cmocka_unit_test(test_attest_json_roundtrip),
		cmocka_unit_test(test_attest_bad_json),
		cmocka_unit_test(test_attest_bad_shape),
		cmocka_unit_test(test_attest_bad_no_client_cert),
		cmocka_unit_test(test_attest_bad_token),
		cmocka_unit_test(test_attest_bad_tampered_report),
		cmocka_unit_test(test_attest_bad_report_size),
		cmocka_unit_test(test_attest_bad_no_vcek),
		cmocka_unit_test(test_attest_bad_untrusted_ark),
		cmocka_unit_test(test_attest_bad_report_data),
		cmocka_unit_test(test_attest_bad_measurement),
		cmocka_unit_test(test_attest_bad_debug),
		cmocka_unit_test(test_attest_bad_tcb_below_minimum),
		cmocka_unit_test(test_attest_bad_chip_not_allowed),
		cmocka_unit_test(test_attest_bad_vtpm_required),
		cmocka_unit_test(test_attest_bad_unknown_volume),
		cmocka_unit_test(test_attest_bad_revoked_volume),
		cmocka_unit_test(test_attest_bad_volume_not_allowed),
		cmocka_unit_test(test_attest_bad_audit_unwritable),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_challenge_bad),
		cmocka_unit_test(test_admin_add_key),
		cmocka_unit_test(test_admin_bad_forbidden),
		cmocka_unit_test(test_admin_bad_body),
		cmocka_unit_test(test_vconfig_defaults),
		cmocka_unit_test(test_vconfig_all_keys),
		cmocka_unit_test(test_vconfig_bad_unknown_key),
		cmocka_unit_test(test_vconfig_bad_duplicate_key),
		cmocka_unit_test(test_vconfig_bad_syntax),
		cmocka_unit_test(test_vconfig_bad_value),
		cmocka_unit_test(test_vconfig_bad_missing_key),
	};

	return cmocka_run_group_tests_name("pipeline", tests, setup, teardown);
}
