// SPDX-License-Identifier: Apache-2.0
/*
 * test-proto.c: protocol v1 JSON messages.
 *
 * Valid messages are built here by hand with json-c and OpenSSL's EVP_EncodeBlock (not with the
 * encoders under test); each negative test changes one thing in such a message and checks the
 * decoder's `what` and, where it matters, that the message names the member path. Round trips
 * encode a struct, decode the text and compare every field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include "proto.h"
#include "util.h"

static const char uuid_a[] = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
static const char uuid_b[] = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
static const char token[] = "AQAAAABnmH8AAAAAZ5iAeA-_abcdefghijklmnopqrstuvwxyz0123456789";

/* ---- helpers ----------------------------------------------------------------------------------- */

static uint8_t pattern(size_t i, uint8_t seed)
{
	return (uint8_t)(seed + 13 * i + (i >> 8));
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(i, seed);
}

/* Base64 of n pattern bytes (first byte optionally forced), through EVP_EncodeBlock. */
static char *b64_pattern(size_t n, uint8_t seed, int first)
{
	uint8_t *buf = malloc(n ? n : 1);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	assert_non_null(buf);
	assert_non_null(out);
	fill(buf, n, seed);
	if (first >= 0 && n)
		buf[0] = (uint8_t)first;
	EVP_EncodeBlock((unsigned char *)out, buf, (int)n);
	free(buf);
	return out;
}

static json_object *jblob(size_t n, uint8_t seed)
{
	char *s = b64_pattern(n, seed, -1);
	json_object *o = json_object_new_string(s);

	free(s);
	return o;
}

static json_object *jpoint(size_t n, uint8_t seed)
{
	char *s = b64_pattern(n, seed, 0x04);
	json_object *o = json_object_new_string(s);

	free(s);
	return o;
}

static void jset(json_object *o, const char *key, json_object *v)
{
	assert_non_null(o);
	assert_int_equal(json_object_object_add(o, key, v), 0);
}

/* The object at a dotted path ("evidence.tpm.quote"); "" is the root; "keys[0]" indexes. */
static json_object *at(json_object *root, const char *path)
{
	char buf[128], *save = NULL, *tok;
	json_object *o = root;

	if (!*path)
		return root;
	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		char *br = strchr(tok, '[');
		json_object *next = NULL;

		if (br)
			*br = '\0';
		assert_true(json_object_object_get_ex(o, tok, &next));
		if (br)
			next = json_object_array_get_idx(next, (size_t)atoi(br + 1));
		assert_non_null(next);
		o = next;
	}
	return o;
}

static void del(json_object *root, const char *path, const char *key)
{
	json_object_object_del(at(root, path), key);
}

static json_object *pcrs_json(void)
{
	json_object *pcrs = json_object_new_object(), *b256 = json_object_new_object(),
		    *b1 = json_object_new_object();

	for (unsigned i = 0; i < 24; i += 3) {
		uint8_t d[32];
		char key[4], hex[65];

		fill(d, 32, (uint8_t)i);
		snprintf(key, sizeof(key), "%u", i);
		jset(b256, key, json_object_new_string(hex_encode(d, 32, hex)));
		if (i < 8)
			jset(b1, key, json_object_new_string(hex_encode(d, 20, hex)));
	}
	jset(pcrs, "sha256", b256);
	jset(pcrs, "sha1", b1);
	return pcrs;
}

static json_object *request_json(bool vtpm)
{
	json_object *o = json_object_new_object(), *vols = json_object_new_array();
	json_object *ev = json_object_new_object(), *snp = json_object_new_object();

	jset(o, "version", json_object_new_int(1));
	jset(o, "token", json_object_new_string(token));
	json_object_array_add(vols, json_object_new_string(uuid_a));
	json_object_array_add(vols, json_object_new_string(uuid_b));
	jset(o, "volumes", vols);
	jset(snp, "report", jblob(1184, 1));
	jset(snp, "certs", jblob(3000, 2));
	jset(ev, "snp", snp);
	if (vtpm) {
		json_object *svsm = json_object_new_object(), *tpm = json_object_new_object();
		json_object *q = json_object_new_object();

		jset(svsm, "report", jblob(1184, 3));
		jset(svsm, "manifest", jblob(314, 4));
		jset(svsm, "certs", jblob(2000, 5));
		jset(ev, "svsm", svsm);
		jset(tpm, "ek_public", jblob(314, 4));
		jset(tpm, "ak_public", jblob(280, 6));
		jset(q, "attest", jblob(145, 7));
		jset(q, "signature", jblob(262, 8));
		jset(tpm, "quote", q);
		jset(tpm, "pcrs", pcrs_json());
		jset(tpm, "eventlog", jblob(5000, 9));
		jset(ev, "tpm", tpm);
	} else {
		jset(ev, "ecdh_public", jpoint(97, 10));
	}
	jset(o, "evidence", ev);
	return o;
}

/* {"size": n, "buffer"} marshaled: u16_be(n) || n bytes. */
static json_object *jtpm2b(size_t n, uint8_t seed)
{
	uint8_t *buf = malloc(n + 2);
	char *s = malloc(4 * ((n + 4) / 3) + 1);
	json_object *o;

	fill(buf + 2, n, seed);
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	EVP_EncodeBlock((unsigned char *)s, buf, (int)n + 2);
	o = json_object_new_string(s);
	free(buf);
	free(s);
	return o;
}

enum resp_kind {
	RESP_CREDENTIAL,
	RESP_ECDH,
	RESP_REFUSED
};

static json_object *response_json(enum resp_kind kind)
{
	json_object *o = json_object_new_object();

	jset(o, "version", json_object_new_int(1));
	if (kind == RESP_REFUSED) {
		json_object *rs = json_object_new_array(), *r1 = json_object_new_object(),
			    *r2 = json_object_new_object();

		jset(o, "result", json_object_new_string("refused"));
		jset(r1, "code", json_object_new_string("snp.policy.measurement"));
		jset(r1, "message", json_object_new_string("MEASUREMENT 7a1e is not allowed"));
		jset(r2, "code", json_object_new_string("tpm.quote.nonce"));
		jset(r2, "message", json_object_new_string("extraData differs \xc3\xa9/"));
		json_object_array_add(rs, r1);
		json_object_array_add(rs, r2);
		jset(o, "reasons", rs);
	} else {
		json_object *keys = json_object_new_array();
		const char *vols[] = { uuid_a, uuid_b };

		jset(o, "result", json_object_new_string("granted"));
		jset(o, "group", json_object_new_string("web"));
		if (kind == RESP_CREDENTIAL) {
			json_object *c = json_object_new_object();

			jset(c, "blob", jtpm2b(68, 20));
			jset(c, "secret", jtpm2b(256, 21));
			jset(o, "credential", c);
		} else {
			json_object *c = json_object_new_object();

			jset(c, "public", jpoint(97, 22));
			jset(o, "ecdh", c);
		}
		for (size_t i = 0; i < 2; i++) {
			json_object *k = json_object_new_object();

			jset(k, "volume", json_object_new_string(vols[i]));
			jset(k, "iv", jblob(12, (uint8_t)(30 + i)));
			jset(k, "ciphertext", jblob(32 + 32 * i, (uint8_t)(40 + i)));
			jset(k, "tag", jblob(16, (uint8_t)(50 + i)));
			json_object_array_add(keys, k);
		}
		jset(o, "keys", keys);
	}
	return o;
}

static const char *text(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

/* Decode o's text as a request, expect failure with `what`, and `msg` in the message. */
static void expect_req_fail(json_object *o, const char *what, const char *msg)
{
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };
	const char *t = text(o);
	int r;

	req->nvolumes = 99;
	r = proto_attest_request_decode(t, strlen(t), req, &e);
	if (r >= 0)
		fail_msg("accepted (expected %s): %.200s", what,
			 strstr(t, "\"pcrs\"") ? strstr(t, "\"pcrs\"") : t);
	assert_string_equal(e.what, what);
	if (msg && !strstr(e.msg, msg))
		fail_msg("message '%s' does not contain '%s'", e.msg, msg);
	assert_int_equal(req->nvolumes, 99); /* untouched */
	free(req);
	json_object_put(o);
}

static void expect_resp_fail(json_object *o, const char *what, const char *msg)
{
	struct proto_attest_response *resp = calloc(1, sizeof(*resp));
	struct kagi_err e = { 0 };
	const char *t = text(o);
	int r;

	resp->nkeys = 99;
	r = proto_attest_response_decode(t, strlen(t), resp, &e);
	if (r >= 0)
		fail_msg("accepted (expected %s): %.200s", what,
			 strstr(t, "\"pcrs\"") ? strstr(t, "\"pcrs\"") : t);
	assert_string_equal(e.what, what);
	if (msg && !strstr(e.msg, msg))
		fail_msg("message '%s' does not contain '%s'", e.msg, msg);
	assert_int_equal(resp->nkeys, 99);
	free(resp);
	json_object_put(o);
}

static void expect_chal_fail(json_object *o, const char *what, const char *msg)
{
	struct proto_challenge c;
	struct kagi_err e = { 0 };
	const char *t = text(o);

	memset(&c, 0x33, sizeof(c));
	if (proto_challenge_decode(t, strlen(t), &c, &e) >= 0)
		fail_msg("accepted (expected %s): %.200s", what,
			 strstr(t, "\"pcrs\"") ? strstr(t, "\"pcrs\"") : t);
	assert_string_equal(e.what, what);
	if (msg && !strstr(e.msg, msg))
		fail_msg("message '%s' does not contain '%s'", e.msg, msg);
	assert_int_equal(c.nonce[0], 0x33);
	json_object_put(o);
}

static void assert_blob_pattern(const struct proto_blob *b, size_t n, uint8_t seed)
{
	assert_int_equal(b->len, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(b->data[i], pattern(i, seed));
}

/* ---- base64 and UUIDs -------------------------------------------------------------------------- */

static void test_b64_roundtrip(void **state)
{
	uint8_t buf[80], *out = NULL;
	char want[120];
	size_t n = 0;

	(void)state;
	for (size_t len = 0; len <= sizeof(buf); len++) {
		char *s;

		fill(buf, len, (uint8_t)len);
		s = proto_b64_encode(buf, len);
		assert_non_null(s);
		EVP_EncodeBlock((unsigned char *)want, buf, (int)len);
		assert_string_equal(s, want);
		assert_int_equal(proto_b64_decode(s, len, &out, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, buf, len);
		free(out);
		free(s);
	}
}

static void expect_b64_bad(const char *s, size_t max, int err)
{
	uint8_t *out = (uint8_t *)0x1;
	size_t n = 77;

	if (proto_b64_decode(s, max, &out, &n) != err)
		fail_msg("'%s' was not refused with %d", s, err);
	assert_ptr_equal(out, (uint8_t *)0x1);
	assert_int_equal(n, 77);
}

static void test_b64_decode_bad_variants(void **state)
{
	(void)state;
	expect_b64_bad("QUJD RA==", 16, -EBADMSG);    /* space */
	expect_b64_bad("QUJD\nRA==", 16, -EBADMSG);   /* newline */
	expect_b64_bad("QUJDRA==\n", 16, -EBADMSG);   /* trailing newline */
	expect_b64_bad("QUJDRA", 16, -EBADMSG);       /* padding missing */
	expect_b64_bad("QUJDRA=", 16, -EBADMSG);      /* padding short */
	expect_b64_bad("QUJDRA===", 16, -EBADMSG);    /* padding long */
	expect_b64_bad("QUJDRE==", 16, -EBADMSG);     /* non-zero bits under the padding */
	expect_b64_bad("QUJDRR==", 16, -EBADMSG);     /* non-zero bits under the padding */
	expect_b64_bad("QUI=RA==", 16, -EBADMSG);     /* padding in the middle */
	expect_b64_bad("QU-_", 16, -EBADMSG);         /* base64url alphabet */
	expect_b64_bad("QUJ!", 16, -EBADMSG);         /* not in the alphabet */
	expect_b64_bad("====", 16, -EBADMSG);         /* padding only */
	expect_b64_bad("A===", 16, -EBADMSG);         /* one data character */
	expect_b64_bad("QUJDRA==QUJD", 16, -EBADMSG); /* data after the padding */
	expect_b64_bad("QUJDRA==", 3, -EFBIG);        /* 4 bytes, max 3 */
	expect_b64_bad("QUJD", 2, -EFBIG);
}

static void test_b64_decode_max(void **state)
{
	uint8_t *out = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(proto_b64_decode("QUJDRA==", 4, &out, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "ABCD", 4);
	free(out);
	assert_int_equal(proto_b64_decode("", 0, &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
}

static void test_uuid_valid(void **state)
{
	(void)state;
	assert_true(proto_uuid_valid(uuid_a));
	assert_true(proto_uuid_valid("00000000-0000-0000-0000-000000000000"));
	assert_false(proto_uuid_valid("3F2504E0-4F89-41D3-9A0C-0305E82C3301"));  /* uppercase */
	assert_false(proto_uuid_valid("3f2504e0-4f89-41d3-9a0c-0305e82c330"));   /* short */
	assert_false(proto_uuid_valid("3f2504e0-4f89-41d3-9a0c-0305e82c33011")); /* long */
	assert_false(proto_uuid_valid("3f2504e04f8941d39a0c0305e82c3301"));      /* no dashes */
	assert_false(proto_uuid_valid("{3f2504e0-4f89-41d3-9a0c-0305e82c3301}"));
	assert_false(proto_uuid_valid("3f2504e0-4f89-41d3-9a0c_0305e82c3301"));
	assert_false(proto_uuid_valid("3f2504e0-4f89-41d3-9a0c-0305e82c330g"));
	assert_false(proto_uuid_valid(""));
	assert_false(proto_uuid_valid(NULL));
}

/* ---- challenge ------------------------------------------------------------------------------- */

static void test_challenge_request_roundtrip(void **state)
{
	char *s = NULL;
	struct kagi_err e = { 0 };

	(void)state;
	assert_int_equal(proto_challenge_request_encode(&s), 0);
	assert_string_equal(s, "{\"version\":1}");
	assert_int_equal(proto_challenge_request_decode(s, strlen(s), &e), 0);
	assert_int_equal(proto_challenge_request_decode(" {\"version\": 1}\n", 16, &e), 0);
	free(s);
}

static void test_challenge_request_bad(void **state)
{
	static const struct {
		const char *json, *what;
	} bad[] = {
		{ "{\"version\":2}", "challenge_request.version" },
		{ "{\"version\":\"1\"}", "challenge_request.type" },
		{ "{}", "challenge_request.missing" },
		{ "{\"version\":1,\"x\":0}", "challenge_request.unknown_member" },
		{ "{\"version\":1}x", "challenge_request.json" },
		{ "{\"version\":1", "challenge_request.json" },
		{ "[1]", "challenge_request.json" },
	};
	struct kagi_err e = { 0 };
	char *big;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
			proto_challenge_request_decode(bad[i].json, strlen(bad[i].json), &e),
			-EBADMSG);
		assert_string_equal(e.what, bad[i].what);
	}
	big = calloc(1, 4096);
	memset(big, ' ', 4095);
	memcpy(big, "{\"version\":1}", 13);
	assert_int_equal(proto_challenge_request_decode(big, 4095, &e), -EFBIG);
	assert_string_equal(e.what, "challenge_request.too_large");
	free(big);
}

static void test_challenge_roundtrip(void **state)
{
	struct proto_challenge c = { 0 }, d;
	struct kagi_err e = { 0 };
	char *s = NULL;

	(void)state;
	fill(c.nonce, 32, 7);
	snprintf(c.token, sizeof(c.token), "%s", token);
	c.expires = 1767225600;
	assert_int_equal(proto_challenge_encode(&c, &s), 0);
	assert_null(strchr(s, ' '));
	memset(&d, 0x55, sizeof(d));
	assert_int_equal(proto_challenge_decode(s, strlen(s), &d, &e), 0);
	assert_memory_equal(d.nonce, c.nonce, 32);
	assert_string_equal(d.token, c.token);
	assert_int_equal(d.expires, c.expires);
	free(s);
}

static json_object *challenge_json(void)
{
	json_object *o = json_object_new_object();

	jset(o, "version", json_object_new_int(1));
	jset(o, "nonce", jblob(32, 3));
	jset(o, "token", json_object_new_string(token));
	jset(o, "expires", json_object_new_int64(1767225600));
	return o;
}

static void test_challenge_decode_hand_built(void **state)
{
	json_object *o = challenge_json();
	struct proto_challenge c;
	struct kagi_err e = { 0 };
	const char *t = text(o);
	uint8_t want[32];

	(void)state;
	assert_int_equal(proto_challenge_decode(t, strlen(t), &c, &e), 0);
	fill(want, 32, 3);
	assert_memory_equal(c.nonce, want, 32);
	assert_string_equal(c.token, token);
	assert_int_equal(c.expires, 1767225600);
	json_object_put(o);
}

static void test_challenge_bad_nonce_size(void **state)
{
	json_object *o;

	(void)state;
	o = challenge_json();
	jset(o, "nonce", jblob(31, 1));
	expect_chal_fail(o, "challenge.size", "nonce: 31 bytes, expected exactly 32");
	o = challenge_json();
	jset(o, "nonce", jblob(33, 1));
	expect_chal_fail(o, "challenge.size", "nonce");
}

static void test_challenge_bad_expires(void **state)
{
	json_object *o;

	(void)state;
	o = challenge_json();
	jset(o, "expires", json_object_new_int(-1));
	expect_chal_fail(o, "challenge.value", "expires");
	o = challenge_json();
	jset(o, "expires", json_object_new_string("1767225600"));
	expect_chal_fail(o, "challenge.type", "expires: not an integer");
	o = challenge_json();
	jset(o, "expires", json_object_new_double(1.5));
	expect_chal_fail(o, "challenge.type", "expires");
	o = challenge_json();
	del(o, "", "expires");
	expect_chal_fail(o, "challenge.missing", "expires");
}

static void test_challenge_bad_token(void **state)
{
	char long_token[PROTO_TOKEN_MAX + 2];
	json_object *o;

	(void)state;
	memset(long_token, 'A', sizeof(long_token) - 1);
	long_token[sizeof(long_token) - 1] = '\0';
	o = challenge_json();
	jset(o, "token", json_object_new_string(long_token));
	expect_chal_fail(o, "challenge.size", "token");
	o = challenge_json();
	jset(o, "token", json_object_new_string("abc="));
	expect_chal_fail(o, "challenge.value", "token");
	o = challenge_json();
	jset(o, "token", json_object_new_string("ab+c"));
	expect_chal_fail(o, "challenge.value", "token");
	o = challenge_json();
	jset(o, "token", json_object_new_string(""));
	expect_chal_fail(o, "challenge.value", "token");
}

static void test_challenge_bad_unknown_member(void **state)
{
	json_object *o = challenge_json();

	(void)state;
	jset(o, "nonce2", jblob(32, 1));
	expect_chal_fail(o, "challenge.unknown_member", "nonce2");
}

static void test_challenge_bad_version(void **state)
{
	json_object *o = challenge_json();

	(void)state;
	jset(o, "version", json_object_new_int(0));
	expect_chal_fail(o, "challenge.version", "version");
}

/* ---- attest request: valid ------------------------------------------------------------------- */

static void test_request_decode_vtpm(void **state)
{
	json_object *o = request_json(true);
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };
	const char *t = text(o);
	uint8_t d[32];

	(void)state;
	assert_int_equal(proto_attest_request_decode(t, strlen(t), req, &e), 0);
	assert_string_equal(req->token, token);
	assert_int_equal(req->nvolumes, 2);
	assert_string_equal(req->volumes[0], uuid_a);
	assert_string_equal(req->volumes[1], uuid_b);
	assert_blob_pattern(&req->ev.snp_report, 1184, 1);
	assert_blob_pattern(&req->ev.snp_certs, 3000, 2);
	assert_int_equal(req->ev.ecdh_public.len, 0);
	assert_true(req->ev.has_svsm);
	assert_blob_pattern(&req->ev.svsm_report, 1184, 3);
	assert_blob_pattern(&req->ev.svsm_manifest, 314, 4);
	assert_blob_pattern(&req->ev.svsm_certs, 2000, 5);
	assert_true(req->ev.has_tpm);
	assert_blob_pattern(&req->ev.ek_public, 314, 4);
	assert_blob_pattern(&req->ev.ak_public, 280, 6);
	assert_blob_pattern(&req->ev.quote_attest, 145, 7);
	assert_blob_pattern(&req->ev.quote_sig, 262, 8);
	assert_blob_pattern(&req->ev.eventlog, 5000, 9);
	fill(d, 32, 21);
	assert_non_null(tpm_pcr_values_get(&req->ev.pcrs, TPM2_ALG_SHA256, 21));
	assert_memory_equal(tpm_pcr_values_get(&req->ev.pcrs, TPM2_ALG_SHA256, 21), d, 32);
	assert_null(tpm_pcr_values_get(&req->ev.pcrs, TPM2_ALG_SHA256, 22));
	fill(d, 32, 6);
	assert_memory_equal(tpm_pcr_values_get(&req->ev.pcrs, TPM2_ALG_SHA1, 6), d, 20);
	proto_attest_request_done(req);
	assert_true(mem_is_zero(req, sizeof(*req))); /* wiped */
	free(req);
	json_object_put(o);
}

static void test_request_decode_direct(void **state)
{
	json_object *o = request_json(false);
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };
	const char *t;

	(void)state;
	del(o, "evidence.snp", "certs"); /* optional */
	t = text(o);
	assert_int_equal(proto_attest_request_decode(t, strlen(t), req, &e), 0);
	assert_false(req->ev.has_svsm);
	assert_false(req->ev.has_tpm);
	assert_int_equal(req->ev.snp_certs.len, 0);
	assert_int_equal(req->ev.ecdh_public.len, 97);
	assert_int_equal(req->ev.ecdh_public.data[0], 0x04);
	proto_attest_request_done(req);
	free(req);
	json_object_put(o);
}

static void blob_set(struct proto_blob *b, size_t n, uint8_t seed)
{
	b->data = malloc(n);
	b->len = n;
	fill(b->data, n, seed);
}

static struct proto_attest_request *request_struct(bool vtpm, bool optional)
{
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct proto_evidence *ev = &req->ev;

	snprintf(req->token, sizeof(req->token), "%s", token);
	req->nvolumes = PROTO_MAX_VOLUMES;
	for (size_t i = 0; i < PROTO_MAX_VOLUMES; i++)
		snprintf(req->volumes[i], sizeof(req->volumes[i]),
			 "%08zx-0000-4000-8000-0000000000%02zx", i, i);
	blob_set(&ev->snp_report, 1184, 1);
	if (optional)
		blob_set(&ev->snp_certs, 32 * 1024, 2);
	if (!vtpm) {
		blob_set(&ev->ecdh_public, 97, 3);
		ev->ecdh_public.data[0] = 0x04;
		return req;
	}
	ev->has_svsm = ev->has_tpm = true;
	blob_set(&ev->svsm_report, 1184, 4);
	blob_set(&ev->svsm_manifest, 1024, 5);
	if (optional)
		blob_set(&ev->svsm_certs, 100, 6);
	blob_set(&ev->ek_public, 314, 7);
	blob_set(&ev->ak_public, 1024, 8);
	blob_set(&ev->quote_attest, 1024, 9);
	blob_set(&ev->quote_sig, 1024, 10);
	if (optional)
		blob_set(&ev->eventlog, 512 * 1024, 11);
	for (unsigned i = 0; i < 24; i++) {
		uint8_t d[48];

		fill(d, 48, (uint8_t)i);
		assert_int_equal(tpm_pcr_values_set(&ev->pcrs, TPM2_ALG_SHA384, i, d, 48, NULL), 0);
		if (i % 5 == 0)
			assert_int_equal(
				tpm_pcr_values_set(&ev->pcrs, TPM2_ALG_SHA256, i, d, 32, NULL), 0);
	}
	return req;
}

static void assert_blob_equal(const struct proto_blob *a, const struct proto_blob *b)
{
	assert_int_equal(a->len, b->len);
	if (a->len)
		assert_memory_equal(a->data, b->data, a->len);
}

static void assert_request_equal(const struct proto_attest_request *a,
				 const struct proto_attest_request *b)
{
	const struct proto_evidence *x = &a->ev, *y = &b->ev;

	assert_string_equal(a->token, b->token);
	assert_int_equal(a->nvolumes, b->nvolumes);
	for (size_t i = 0; i < a->nvolumes; i++)
		assert_string_equal(a->volumes[i], b->volumes[i]);
	assert_blob_equal(&x->snp_report, &y->snp_report);
	assert_blob_equal(&x->snp_certs, &y->snp_certs);
	assert_blob_equal(&x->ecdh_public, &y->ecdh_public);
	assert_int_equal(x->has_svsm, y->has_svsm);
	assert_blob_equal(&x->svsm_report, &y->svsm_report);
	assert_blob_equal(&x->svsm_manifest, &y->svsm_manifest);
	assert_blob_equal(&x->svsm_certs, &y->svsm_certs);
	assert_int_equal(x->has_tpm, y->has_tpm);
	assert_blob_equal(&x->ek_public, &y->ek_public);
	assert_blob_equal(&x->ak_public, &y->ak_public);
	assert_blob_equal(&x->quote_attest, &y->quote_attest);
	assert_blob_equal(&x->quote_sig, &y->quote_sig);
	assert_blob_equal(&x->eventlog, &y->eventlog);
	assert_int_equal(x->pcrs.nbanks, y->pcrs.nbanks);
	for (size_t b2 = 0; b2 < x->pcrs.nbanks; b2++) {
		const struct tpm_pcr_bank *p = &x->pcrs.bank[b2];

		for (unsigned i = 0; i < TPM_PCR_MAX; i++) {
			const uint8_t *v = tpm_pcr_values_get(&y->pcrs, p->alg, i);

			assert_int_equal(p->present[i], v != NULL);
			if (v)
				assert_memory_equal(v, p->value[i], tpm_hash_size(p->alg));
		}
	}
}

static void roundtrip_request(bool vtpm, bool optional)
{
	struct proto_attest_request *req = request_struct(vtpm, optional);
	struct proto_attest_request *back = calloc(1, sizeof(*back));
	struct kagi_err e = { 0 };
	char *s = NULL;

	assert_int_equal(proto_attest_request_encode(req, &s), 0);
	assert_null(strstr(s, "\\/")); /* no escaped slashes */
	assert_null(strchr(s, '\n'));
	if (proto_attest_request_decode(s, strlen(s), back, &e) < 0)
		fail_msg("%s: %s", e.what, e.msg);
	assert_request_equal(req, back);
	if (vtpm)
		assert_non_null(strstr(s, "\"pcrs\":{\"sha384\":{\"0\":\""));
	proto_attest_request_done(req);
	proto_attest_request_done(back);
	free(req);
	free(back);
	free(s);
}

static void test_request_roundtrip_vtpm(void **state)
{
	(void)state;
	roundtrip_request(true, true);
	roundtrip_request(true, false);
}

static void test_request_roundtrip_direct(void **state)
{
	(void)state;
	roundtrip_request(false, true);
	roundtrip_request(false, false);
}

static void test_request_encode_bad(void **state)
{
	struct proto_attest_request *req;
	char *s = NULL;

	(void)state;
	req = request_struct(true, false);
	req->nvolumes = 0;
	assert_int_equal(proto_attest_request_encode(req, &s), -EINVAL);
	req->nvolumes = 2;
	memcpy(req->volumes[1], req->volumes[0], sizeof(req->volumes[0]));
	assert_int_equal(proto_attest_request_encode(req, &s), -EINVAL);
	snprintf(req->volumes[1], sizeof(req->volumes[1]), "%s", uuid_b);
	req->ev.has_svsm = false;
	assert_int_equal(proto_attest_request_encode(req, &s), -EINVAL);
	req->ev.has_svsm = true;
	req->ev.snp_report.len = 1183;
	assert_int_equal(proto_attest_request_encode(req, &s), -EINVAL);
	req->ev.snp_report.len = 1184;
	req->token[0] = '=';
	assert_int_equal(proto_attest_request_encode(req, &s), -EINVAL);
	req->token[0] = 'A';
	assert_int_equal(proto_attest_request_encode(req, &s), 0);
	assert_non_null(s);
	free(s);
	proto_attest_request_done(req);
	free(req);
}

/* ---- attest request: rejections ----------------------------------------------------------------- */

static void test_request_bad_version(void **state)
{
	json_object *o;

	(void)state;
	o = request_json(true);
	jset(o, "version", json_object_new_int(2));
	expect_req_fail(o, "request.version", "version: 2, expected 1");
	o = request_json(true);
	jset(o, "version", json_object_new_int(0));
	expect_req_fail(o, "request.version", NULL);
	o = request_json(true);
	jset(o, "version", json_object_new_string("1"));
	expect_req_fail(o, "request.type", "version: not an integer");
	o = request_json(true);
	jset(o, "version", json_object_new_double(1.0));
	expect_req_fail(o, "request.type", "version");
	o = request_json(true);
	del(o, "", "version");
	expect_req_fail(o, "request.missing", "version");
}

static void unknown_member_at(const char *path, const char *expect_path)
{
	json_object *o = request_json(true);

	jset(at(o, path), "extra", json_object_new_int(1));
	expect_req_fail(o, "request.unknown_member", expect_path);
}

static void test_request_bad_unknown_member_top(void **state)
{
	(void)state;
	unknown_member_at("", "extra: unknown member");
}

static void test_request_bad_unknown_member_evidence(void **state)
{
	(void)state;
	unknown_member_at("evidence", "evidence.extra: unknown member");
}

static void test_request_bad_unknown_member_snp(void **state)
{
	(void)state;
	unknown_member_at("evidence.snp", "evidence.snp.extra: unknown member");
}

static void test_request_bad_unknown_member_svsm(void **state)
{
	(void)state;
	unknown_member_at("evidence.svsm", "evidence.svsm.extra: unknown member");
}

static void test_request_bad_unknown_member_tpm(void **state)
{
	(void)state;
	unknown_member_at("evidence.tpm", "evidence.tpm.extra: unknown member");
}

static void test_request_bad_unknown_member_quote(void **state)
{
	(void)state;
	unknown_member_at("evidence.tpm.quote", "evidence.tpm.quote.extra: unknown member");
}

/* Echoed member names cannot put control characters into a log line. */
static void test_request_bad_unknown_member_control_chars(void **state)
{
	json_object *o = request_json(true);
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };
	const char *t;

	(void)state;
	jset(at(o, "evidence"), "x\ny\x1b", json_object_new_int(1));
	t = text(o);
	assert_non_null(strstr(t, "x\\ny\\u001b")); /* escaped in the JSON text */
	assert_int_equal(proto_attest_request_decode(t, strlen(t), req, &e), -EBADMSG);
	assert_string_equal(e.what, "request.unknown_member");
	assert_non_null(strstr(e.msg, "evidence.x?y?: unknown member"));
	free(req);
	json_object_put(o);
}

static void test_request_bad_duplicate_volume(void **state)
{
	json_object *o = request_json(true);

	(void)state;
	json_object_array_add(at(o, "volumes"), json_object_new_string(uuid_a));
	expect_req_fail(o, "request.value", "volumes[2]: volume " /* uuid_a */);
}

static void test_request_bad_uuid(void **state)
{
	static const char *bad[] = {
		"3F2504E0-4F89-41D3-9A0C-0305E82C3301", "3f2504e0-4f89-41d3-9a0c-0305e82c330",
		"3f2504e04f8941d39a0c0305e82c3301",     "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}",
		"3f2504e0-4f89-41d3-9a0c-0305e82c330z", "",
	};
	json_object *o;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		o = request_json(true);
		json_object_array_put_idx(at(o, "volumes"), 1, json_object_new_string(bad[i]));
		expect_req_fail(o, "request.value", "volumes[1]: ");
	}
	o = request_json(true);
	json_object_array_put_idx(at(o, "volumes"), 0, json_object_new_int(5));
	expect_req_fail(o, "request.type", "volumes[0]: not a string");
	/* an embedded NUL after a valid UUID */
	o = request_json(true);
	json_object_array_put_idx(
		at(o, "volumes"), 0,
		json_object_new_string_len("3f2504e0-4f89-41d3-9a0c-0305e82c3301\0x", 38));
	expect_req_fail(o, "request.value", "volumes[0]");
}

static void test_request_bad_volume_count(void **state)
{
	json_object *o, *vols;

	(void)state;
	o = request_json(true);
	jset(o, "volumes", json_object_new_array());
	expect_req_fail(o, "request.size", "volumes: 0 volumes");
	o = request_json(true);
	vols = json_object_new_array();
	for (unsigned i = 0; i <= PROTO_MAX_VOLUMES; i++) {
		char u[40];

		snprintf(u, sizeof(u), "%08x-0000-4000-8000-000000000000", i);
		json_object_array_add(vols, json_object_new_string(u));
	}
	jset(o, "volumes", vols);
	expect_req_fail(o, "request.size", "volumes: 17 volumes");
	o = request_json(true);
	jset(o, "volumes", json_object_new_string(uuid_a));
	expect_req_fail(o, "request.type", "volumes: not an array");
}

static void test_request_bad_svsm_without_tpm(void **state)
{
	json_object *o = request_json(true);

	(void)state;
	del(o, "evidence", "tpm");
	expect_req_fail(o, "request.evidence", "evidence.svsm: given without evidence.tpm");
}

static void test_request_bad_tpm_without_svsm(void **state)
{
	json_object *o = request_json(true);

	(void)state;
	del(o, "evidence", "svsm");
	expect_req_fail(o, "request.evidence", "evidence.tpm: given without evidence.svsm");
}

static void test_request_bad_ecdh_with_tpm(void **state)
{
	json_object *o = request_json(true);

	(void)state;
	jset(at(o, "evidence"), "ecdh_public", jpoint(97, 1));
	expect_req_fail(o, "request.evidence", "evidence.ecdh_public: only allowed");
}

static void test_request_bad_missing_snp(void **state)
{
	json_object *o;

	(void)state;
	o = request_json(true);
	del(o, "evidence", "snp");
	expect_req_fail(o, "request.evidence", "evidence.snp: SNP evidence is required");
	o = request_json(false);
	del(o, "evidence", "snp");
	expect_req_fail(o, "request.evidence", "evidence.snp");
}

static void test_request_bad_direct_without_ecdh(void **state)
{
	json_object *o = request_json(false);

	(void)state;
	del(o, "evidence", "ecdh_public");
	expect_req_fail(o, "request.evidence", "evidence.ecdh_public: required");
}

static void test_request_bad_missing_members(void **state)
{
	static const struct {
		const char *path, *key, *msg;
	} m[] = {
		{ "", "token", "token: required member is missing" },
		{ "", "volumes", "volumes: required" },
		{ "", "evidence", "evidence: required" },
		{ "evidence.snp", "report", "evidence.snp.report: required" },
		{ "evidence.svsm", "report", "evidence.svsm.report: required" },
		{ "evidence.svsm", "manifest", "evidence.svsm.manifest: required" },
		{ "evidence.tpm", "ek_public", "evidence.tpm.ek_public: required" },
		{ "evidence.tpm", "ak_public", "evidence.tpm.ak_public: required" },
		{ "evidence.tpm", "quote", "evidence.tpm.quote: required" },
		{ "evidence.tpm.quote", "attest", "evidence.tpm.quote.attest: required" },
		{ "evidence.tpm.quote", "signature", "evidence.tpm.quote.signature: required" },
		{ "evidence.tpm", "pcrs", "evidence.tpm.pcrs: required" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		json_object *o = request_json(true);

		del(o, m[i].path, m[i].key);
		expect_req_fail(o, "request.missing", m[i].msg);
	}
	/* optional members may be absent */
	{
		json_object *o = request_json(true);
		struct proto_attest_request *req = calloc(1, sizeof(*req));
		const char *t;

		del(o, "evidence.snp", "certs");
		del(o, "evidence.svsm", "certs");
		del(o, "evidence.tpm", "eventlog");
		t = text(o);
		assert_int_equal(proto_attest_request_decode(t, strlen(t), req, NULL), 0);
		assert_int_equal(req->ev.eventlog.len, 0);
		assert_null(req->ev.eventlog.data);
		proto_attest_request_done(req);
		free(req);
		json_object_put(o);
	}
}

/* Set path.key to n bytes and expect request.size naming path.key. */
static void size_fail(bool vtpm, const char *path, const char *key, size_t n)
{
	json_object *o = request_json(vtpm);
	char msg[128];

	jset(at(o, path), key, jblob(n, 77));
	snprintf(msg, sizeof(msg), "%s%s%s: ", path, *path ? "." : "", key);
	expect_req_fail(o, "request.size", msg);
}

static void size_ok(bool vtpm, const char *path, const char *key, size_t n)
{
	json_object *o = request_json(vtpm);
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };
	const char *t;

	jset(at(o, path), key, jblob(n, 77));
	t = text(o);
	if (proto_attest_request_decode(t, strlen(t), req, &e) < 0)
		fail_msg("%s.%s of %zu bytes refused: %s: %s", path, key, n, e.what, e.msg);
	proto_attest_request_done(req);
	free(req);
	json_object_put(o);
}

static void test_request_bad_snp_report_size(void **state)
{
	(void)state;
	size_fail(true, "evidence.snp", "report", 1183);
	size_fail(true, "evidence.snp", "report", 1185);
	size_fail(true, "evidence.snp", "report", 0);
}

static void test_request_bad_snp_certs_size(void **state)
{
	(void)state;
	size_ok(true, "evidence.snp", "certs", 32 * 1024);
	size_fail(true, "evidence.snp", "certs", 32 * 1024 + 1);
	size_fail(true, "evidence.snp", "certs", 0);
}

static void test_request_bad_svsm_report_size(void **state)
{
	(void)state;
	size_fail(true, "evidence.svsm", "report", 1183);
	size_fail(true, "evidence.svsm", "report", 1185);
}

static void test_request_bad_svsm_manifest_size(void **state)
{
	(void)state;
	size_ok(true, "evidence.svsm", "manifest", 1024);
	size_fail(true, "evidence.svsm", "manifest", 1025);
	size_fail(true, "evidence.svsm", "manifest", 0);
}

static void test_request_bad_svsm_certs_size(void **state)
{
	(void)state;
	size_fail(true, "evidence.svsm", "certs", 32 * 1024 + 1);
}

static void test_request_bad_ek_public_size(void **state)
{
	(void)state;
	size_ok(true, "evidence.tpm", "ek_public", 1024);
	size_fail(true, "evidence.tpm", "ek_public", 1025);
}

static void test_request_bad_ak_public_size(void **state)
{
	(void)state;
	size_ok(true, "evidence.tpm", "ak_public", 1024);
	size_fail(true, "evidence.tpm", "ak_public", 1025);
}

static void test_request_bad_quote_attest_size(void **state)
{
	(void)state;
	size_ok(true, "evidence.tpm.quote", "attest", 1024);
	size_fail(true, "evidence.tpm.quote", "attest", 1025);
	size_fail(true, "evidence.tpm.quote", "attest", 0);
}

static void test_request_bad_quote_signature_size(void **state)
{
	(void)state;
	size_ok(true, "evidence.tpm.quote", "signature", 1024);
	size_fail(true, "evidence.tpm.quote", "signature", 1025);
}

static void test_request_bad_eventlog_size(void **state)
{
	(void)state;
	size_ok(true, "evidence.tpm", "eventlog", 512 * 1024);
	size_fail(true, "evidence.tpm", "eventlog", 512 * 1024 + 1);
}

static void test_request_bad_ecdh_public_size(void **state)
{
	json_object *o;

	(void)state;
	size_fail(false, "evidence", "ecdh_public", 134);
	o = request_json(false);
	jset(at(o, "evidence"), "ecdh_public", jpoint(96, 1));
	expect_req_fail(o, "request.value", "evidence.ecdh_public: 96 bytes");
	o = request_json(false);
	jset(at(o, "evidence"), "ecdh_public", jblob(97, 0)); /* first byte 0x00, not 0x04 */
	expect_req_fail(o, "request.value", "evidence.ecdh_public");
	o = request_json(false);
	jset(at(o, "evidence"), "ecdh_public", jpoint(65, 1)); /* P-256 is fine */
	{
		struct proto_attest_request *req = calloc(1, sizeof(*req));
		const char *t = text(o);

		assert_int_equal(proto_attest_request_decode(t, strlen(t), req, NULL), 0);
		proto_attest_request_done(req);
		free(req);
	}
	json_object_put(o);
}

static void test_request_bad_token(void **state)
{
	char long_token[PROTO_TOKEN_MAX + 2];
	json_object *o;

	(void)state;
	memset(long_token, 'x', sizeof(long_token) - 1);
	long_token[sizeof(long_token) - 1] = '\0';
	o = request_json(true);
	jset(o, "token", json_object_new_string(long_token));
	expect_req_fail(o, "request.size", "token: 161 characters, at most 160");
	long_token[PROTO_TOKEN_MAX] = '\0';
	o = request_json(true);
	jset(o, "token", json_object_new_string(long_token));
	{
		struct proto_attest_request *req = calloc(1, sizeof(*req));
		const char *t = text(o);

		assert_int_equal(proto_attest_request_decode(t, strlen(t), req, NULL), 0);
		assert_int_equal(strlen(req->token), PROTO_TOKEN_MAX);
		proto_attest_request_done(req);
		free(req);
	}
	json_object_put(o);
	o = request_json(true);
	jset(o, "token", json_object_new_string("abc/def"));
	expect_req_fail(o, "request.value", "token: not base64url");
	o = request_json(true);
	jset(o, "token", json_object_new_string("abcd=="));
	expect_req_fail(o, "request.value", "token");
	o = request_json(true);
	jset(o, "token", json_object_new_int(7));
	expect_req_fail(o, "request.type", "token: not a string");
}

static void b64_fail(const char *value)
{
	json_object *o = request_json(true);

	jset(at(o, "evidence.tpm.quote"), "attest", json_object_new_string(value));
	expect_req_fail(o, "request.base64", "evidence.tpm.quote.attest: not a base64 string");
}

static void test_request_bad_base64(void **state)
{
	(void)state;
	b64_fail("QUJD RA==");
	b64_fail("QUJD\nRA==");
	b64_fail("QUJDRA");
	b64_fail("QUJDRA=");
	b64_fail("QUJDRA===");
	b64_fail("QUJDRE==");
	b64_fail("QUI=RA==");
	b64_fail("QU-_");
	b64_fail(" QUJD");
}

static void test_request_bad_type(void **state)
{
	json_object *o;

	(void)state;
	o = request_json(true);
	jset(at(o, "evidence.tpm.quote"), "attest", json_object_new_int(12));
	expect_req_fail(o, "request.type",
			"evidence.tpm.quote.attest: not a base64 string (found an integer)");
	o = request_json(true);
	jset(at(o, "evidence.snp"), "report", json_object_new_null());
	expect_req_fail(o, "request.type", "evidence.snp.report: not a base64 string");
	o = request_json(true);
	jset(o, "evidence", json_object_new_array());
	expect_req_fail(o, "request.type", "evidence: not an object (found an array)");
	o = request_json(true);
	jset(at(o, "evidence"), "snp", json_object_new_string("x"));
	expect_req_fail(o, "request.type", "evidence.snp: not an object");
	o = request_json(true);
	jset(at(o, "evidence.tpm"), "quote", json_object_new_boolean(1));
	expect_req_fail(o, "request.type", "evidence.tpm.quote: not an object (found a boolean)");
	o = request_json(true);
	jset(at(o, "evidence.tpm"), "pcrs", json_object_new_array());
	expect_req_fail(o, "request.type", "evidence.tpm.pcrs: not an object");
}

static void pcr_fail(json_object *pcrs, const char *what, const char *msg)
{
	json_object *o = request_json(true);

	jset(at(o, "evidence.tpm"), "pcrs", pcrs);
	expect_req_fail(o, what, msg);
}

static json_object *one_bank(const char *bank, const char *idx, json_object *val)
{
	json_object *p = json_object_new_object(), *b = json_object_new_object();

	jset(b, idx, val);
	jset(p, bank, b);
	return p;
}

static void test_request_bad_pcrs(void **state)
{
	static const char h32[] =
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	json_object *p;

	(void)state;
	pcr_fail(one_bank("SHA256", "0", json_object_new_string(h32)), "request.unknown_member",
		 "evidence.tpm.pcrs.SHA256");
	pcr_fail(one_bank("md5", "0", json_object_new_string(h32)), "request.unknown_member",
		 "evidence.tpm.pcrs.md5");
	pcr_fail(one_bank("sha256", "32", json_object_new_string(h32)), "request.value",
		 "'32' is not a PCR index"); /* TPM_PCR_MAX */
	pcr_fail(one_bank("sha256", "01", json_object_new_string(h32)), "request.value",
		 "'01' is not a PCR index");
	pcr_fail(one_bank("sha256", "x", json_object_new_string(h32)), "request.value", NULL);
	pcr_fail(one_bank("sha256", "0", json_object_new_string("0011")), "request.value",
		 "evidence.tpm.pcrs");
	pcr_fail(one_bank("sha1", "0", json_object_new_string(h32)), "request.value", NULL);
	pcr_fail(one_bank("sha256", "0", json_object_new_int(0)), "request.type",
		 "PCR 0: not a hex string");
	pcr_fail(json_object_new_object(), "request.value", "evidence.tpm.pcrs: no PCR bank");
	p = json_object_new_object();
	jset(p, "sha256", json_object_new_object());
	pcr_fail(p, "request.value", "evidence.tpm.pcrs.sha256: no PCR values");
	p = json_object_new_object();
	jset(p, "sha256", json_object_new_array());
	pcr_fail(p, "request.type", "evidence.tpm.pcrs.sha256: not an object");
}

static void test_request_bad_depth_bomb(void **state)
{
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };
	char bomb[2 * 40 + 64];
	size_t n = 0;

	(void)state;
	n += (size_t)sprintf(bomb, "{\"version\":1,\"token\":");
	for (int i = 0; i < 20; i++)
		bomb[n++] = '[';
	for (int i = 0; i < 20; i++)
		bomb[n++] = ']';
	bomb[n++] = '}';
	assert_int_equal(proto_attest_request_decode(bomb, n, req, &e), -EBADMSG);
	assert_string_equal(e.what, "request.json");
	assert_non_null(strstr(e.msg, "nesting"));
	/* 16 levels are fine for the tokenizer (then refused as a type error) */
	n = (size_t)sprintf(bomb, "{\"version\":1,\"token\":");
	for (int i = 0; i < 15; i++)
		bomb[n++] = '[';
	for (int i = 0; i < 15; i++)
		bomb[n++] = ']';
	bomb[n++] = '}';
	assert_int_equal(proto_attest_request_decode(bomb, n, req, &e), -EBADMSG);
	assert_string_equal(e.what, "request.type");
	free(req);
}

static void test_request_bad_trailing_garbage(void **state)
{
	json_object *o = request_json(true);
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };
	const char *t = text(o);
	size_t len = strlen(t);
	char *buf = malloc(len + 8);

	(void)state;
	memcpy(buf, t, len);
	memcpy(buf + len, "x", 2);
	assert_int_equal(proto_attest_request_decode(buf, len + 1, req, &e), -EBADMSG);
	assert_string_equal(e.what, "request.json");
	assert_int_equal(e.off, len);
	memcpy(buf + len, "{}", 3);
	assert_int_equal(proto_attest_request_decode(buf, len + 2, req, &e), -EBADMSG);
	assert_string_equal(e.what, "request.json");
	/* a NUL byte inside the given length */
	buf[len] = '\0';
	assert_int_equal(proto_attest_request_decode(buf, len + 1, req, &e), -EBADMSG);
	assert_string_equal(e.what, "request.json");
	/* whitespace is not data */
	memcpy(buf + len, " \r\n\t", 5);
	assert_int_equal(proto_attest_request_decode(buf, len + 4, req, &e), 0);
	proto_attest_request_done(req);
	free(buf);
	free(req);
	json_object_put(o);
}

/* The size cap applies before parsing: a huge invalid document is refused as too large. */
static void test_request_bad_oversize(void **state)
{
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };
	char *big = malloc(PROTO_MAX_REQUEST + 1);

	(void)state;
	memset(big, '[', PROTO_MAX_REQUEST + 1);
	assert_int_equal(proto_attest_request_decode(big, PROTO_MAX_REQUEST + 1, req, &e), -EFBIG);
	assert_string_equal(e.what, "request.too_large");
	/* the same bytes within the cap are a JSON error */
	assert_int_equal(proto_attest_request_decode(big, 1000, req, &e), -EBADMSG);
	assert_string_equal(e.what, "request.json");
	free(big);
	free(req);
}

static void test_request_bad_json(void **state)
{
	static const char *bad[] = {
		"",
		"[]",
		"\"x\"",
		"1",
		"{\"version\":1,",
		"{'version':1}",
		"{\"version\":1,}",
		"{\"version\":01}",
		"{\"version\":1} {\"version\":1}",
		"{'version':1}", /* json-c takes single quotes even when strict */
		"{\"version\":1,\"token\":\"a\tb\"}", /* raw control character in a string */
		"{\"token\":\"\xff\xfe\"}",           /* not UTF-8 */
		"/* c */ {\"version\":1}",
	};
	struct proto_attest_request *req = calloc(1, sizeof(*req));
	struct kagi_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		e.what = NULL;
		if (proto_attest_request_decode(bad[i], strlen(bad[i]), req, &e) != -EBADMSG)
			fail_msg("'%s' accepted", bad[i]);
		assert_string_equal(e.what, "request.json");
	}
	assert_int_equal(proto_attest_request_decode(NULL, 0, req, &e), -EINVAL);
	free(req);
}

/* ---- attest response ---------------------------------------------------------------------------- */

static void test_response_decode_credential(void **state)
{
	json_object *o = response_json(RESP_CREDENTIAL);
	struct proto_attest_response *r = calloc(1, sizeof(*r));
	struct kagi_err e = { 0 };
	const char *t = text(o);

	(void)state;
	assert_int_equal(proto_attest_response_decode(t, strlen(t), r, &e), 0);
	assert_true(r->granted);
	assert_string_equal(r->group, "web");
	assert_true(r->has_credential);
	assert_false(r->has_ecdh);
	assert_int_equal(r->cred_blob.len, 70);
	assert_int_equal(r->cred_blob.data[1], 68);
	assert_int_equal(r->cred_secret.len, 258);
	assert_int_equal(r->nkeys, 2);
	assert_string_equal(r->keys[0].volume, uuid_a);
	assert_string_equal(r->keys[1].volume, uuid_b);
	assert_int_equal(r->keys[0].iv[1], pattern(1, 30));
	assert_int_equal(r->keys[1].tag[15], pattern(15, 51));
	assert_blob_pattern(&r->keys[0].ciphertext, 32, 40);
	assert_blob_pattern(&r->keys[1].ciphertext, 64, 41);
	assert_int_equal(r->nreasons, 0);
	proto_attest_response_done(r);
	assert_true(mem_is_zero(r, sizeof(*r)));
	free(r);
	json_object_put(o);
}

static void test_response_decode_refused(void **state)
{
	json_object *o = response_json(RESP_REFUSED);
	struct proto_attest_response *r = calloc(1, sizeof(*r));
	const char *t = text(o);

	(void)state;
	assert_int_equal(proto_attest_response_decode(t, strlen(t), r, NULL), 0);
	assert_false(r->granted);
	assert_int_equal(r->nreasons, 2);
	assert_string_equal(r->reasons[0].code, "snp.policy.measurement");
	assert_string_equal(r->reasons[1].message, "extraData differs \xc3\xa9/");
	assert_int_equal(r->nkeys, 0);
	proto_attest_response_done(r);
	free(r);
	json_object_put(o);
}

static struct proto_attest_response *response_struct(enum resp_kind kind)
{
	struct proto_attest_response *r = calloc(1, sizeof(*r));

	if (kind == RESP_REFUSED) {
		for (int i = 0; i < PROTO_MAX_REASONS; i++)
			proto_response_add_reason(r, "policy.pcr", "PCR %d is \"%s\" / %s", i,
						  "bad", "x");
		return r;
	}
	r->granted = true;
	snprintf(r->group, sizeof(r->group), "group/1");
	if (kind == RESP_CREDENTIAL) {
		r->has_credential = true;
		blob_set(&r->cred_blob, 70, 1); /* a TPM2B_ID_OBJECT for a 32-byte credential */
		r->cred_blob.data[0] = 0x00;
		r->cred_blob.data[1] = 68;
		blob_set(&r->cred_secret, 258, 2);
		r->cred_secret.data[0] = 0x01;
		r->cred_secret.data[1] = 0x00;
	} else {
		r->has_ecdh = true;
		blob_set(&r->ecdh_public, 133, 3);
		r->ecdh_public.data[0] = 0x04;
	}
	r->nkeys = PROTO_MAX_VOLUMES;
	for (size_t i = 0; i < PROTO_MAX_VOLUMES; i++) {
		struct proto_sealed_key *k = &r->keys[i];

		snprintf(k->volume, sizeof(k->volume), "%08zx-0000-4000-8000-0000000000%02zx", i,
			 i);
		fill(k->iv, 12, (uint8_t)i);
		fill(k->tag, 16, (uint8_t)(i + 100));
		blob_set(&k->ciphertext, 16 + 3 * i, (uint8_t)(i + 50));
	}
	return r;
}

static void roundtrip_response(enum resp_kind kind)
{
	struct proto_attest_response *a = response_struct(kind), *b = calloc(1, sizeof(*b));
	struct kagi_err e = { 0 };
	char *s = NULL;

	assert_int_equal(proto_attest_response_encode(a, &s), 0);
	assert_true(strlen(s) <= PROTO_MAX_RESPONSE);
	if (proto_attest_response_decode(s, strlen(s), b, &e) < 0)
		fail_msg("%s: %s", e.what, e.msg);
	assert_int_equal(a->granted, b->granted);
	assert_string_equal(a->group, b->group);
	assert_int_equal(a->has_credential, b->has_credential);
	assert_blob_equal(&a->cred_blob, &b->cred_blob);
	assert_blob_equal(&a->cred_secret, &b->cred_secret);
	assert_int_equal(a->has_ecdh, b->has_ecdh);
	assert_blob_equal(&a->ecdh_public, &b->ecdh_public);
	assert_int_equal(a->nkeys, b->nkeys);
	for (size_t i = 0; i < a->nkeys; i++) {
		assert_string_equal(a->keys[i].volume, b->keys[i].volume);
		assert_memory_equal(a->keys[i].iv, b->keys[i].iv, 12);
		assert_memory_equal(a->keys[i].tag, b->keys[i].tag, 16);
		assert_blob_equal(&a->keys[i].ciphertext, &b->keys[i].ciphertext);
	}
	assert_int_equal(a->nreasons, b->nreasons);
	for (size_t i = 0; i < a->nreasons; i++) {
		assert_string_equal(a->reasons[i].code, b->reasons[i].code);
		assert_string_equal(a->reasons[i].message, b->reasons[i].message);
	}
	if (kind != RESP_REFUSED)
		assert_non_null(strstr(s, "\"group\":\"group/1\"")); /* no slash escaping */
	proto_attest_response_done(a);
	proto_attest_response_done(b);
	free(a);
	free(b);
	free(s);
}

static void test_response_roundtrip_credential(void **state)
{
	(void)state;
	roundtrip_response(RESP_CREDENTIAL);
}

static void test_response_roundtrip_ecdh(void **state)
{
	(void)state;
	roundtrip_response(RESP_ECDH);
}

static void test_response_roundtrip_refused(void **state)
{
	(void)state;
	roundtrip_response(RESP_REFUSED);
}

static void test_response_encode_bad(void **state)
{
	struct proto_attest_response *r;
	char *s = NULL;

	(void)state;
	r = response_struct(RESP_CREDENTIAL);
	r->nkeys = 0;
	assert_int_equal(proto_attest_response_encode(r, &s), -EINVAL);
	r->nkeys = 2;
	r->has_ecdh = true;
	assert_int_equal(proto_attest_response_encode(r, &s), -EINVAL);
	r->has_ecdh = false;
	r->keys[1].ciphertext.len = 65;
	assert_int_equal(proto_attest_response_encode(r, &s), -EINVAL);
	r->keys[1].ciphertext.len = 16;
	memcpy(r->keys[1].volume, r->keys[0].volume, sizeof(r->keys[0].volume));
	assert_int_equal(proto_attest_response_encode(r, &s), -EINVAL);
	proto_attest_response_done(r);
	free(r);
	r = calloc(1, sizeof(*r)); /* refused without reasons */
	assert_int_equal(proto_attest_response_encode(r, &s), -EINVAL);
	free(r);
	assert_null(s);
}

static void test_response_bad_version(void **state)
{
	json_object *o = response_json(RESP_REFUSED);

	(void)state;
	jset(o, "version", json_object_new_int(3));
	expect_resp_fail(o, "response.version", "version: 3, expected 1");
}

static void resp_unknown_at(enum resp_kind kind, const char *path, const char *msg)
{
	json_object *o = response_json(kind);

	jset(at(o, path), "extra", json_object_new_string("x"));
	expect_resp_fail(o, "response.unknown_member", msg);
}

static void test_response_bad_unknown_member(void **state)
{
	(void)state;
	resp_unknown_at(RESP_CREDENTIAL, "", "extra: unknown member");
	resp_unknown_at(RESP_CREDENTIAL, "credential", "credential.extra: unknown member");
	resp_unknown_at(RESP_ECDH, "ecdh", "ecdh.extra: unknown member");
	resp_unknown_at(RESP_CREDENTIAL, "keys[1]", "keys[1].extra: unknown member");
	resp_unknown_at(RESP_REFUSED, "reasons[0]", "reasons[0].extra: unknown member");
}

static void test_response_bad_granted_without_keys(void **state)
{
	json_object *o;

	(void)state;
	o = response_json(RESP_CREDENTIAL);
	del(o, "", "keys");
	expect_resp_fail(o, "response.result", "keys: a grant needs at least one key");
	o = response_json(RESP_ECDH);
	jset(o, "keys", json_object_new_array());
	expect_resp_fail(o, "response.result", "keys: 0 keys");
}

static void test_response_bad_granted_with_both(void **state)
{
	json_object *o = response_json(RESP_CREDENTIAL), *c = json_object_new_object();

	(void)state;
	jset(c, "public", jpoint(97, 1));
	jset(o, "ecdh", c);
	expect_resp_fail(o, "response.result",
			 "exactly one of \"credential\" and \"ecdh\" (found both)");
}

static void test_response_bad_granted_with_neither(void **state)
{
	json_object *o = response_json(RESP_CREDENTIAL);

	(void)state;
	del(o, "", "credential");
	expect_resp_fail(o, "response.result", "(found neither)");
}

static void test_response_bad_granted_with_reasons(void **state)
{
	json_object *o = response_json(RESP_CREDENTIAL);

	(void)state;
	jset(o, "reasons", json_object_new_array());
	expect_resp_fail(o, "response.result", "reasons: not allowed");
}

static void test_response_bad_refused_without_reasons(void **state)
{
	json_object *o;

	(void)state;
	o = response_json(RESP_REFUSED);
	del(o, "", "reasons");
	expect_resp_fail(o, "response.result", "reasons: a refusal needs at least one reason");
	o = response_json(RESP_REFUSED);
	jset(o, "reasons", json_object_new_array());
	expect_resp_fail(o, "response.result", "reasons: 0 reasons");
}

static void test_response_bad_refused_with_keys(void **state)
{
	json_object *o, *g = response_json(RESP_CREDENTIAL);
	static const char *members[] = { "keys", "credential", "group" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(members); i++) {
		json_object *v = NULL;

		o = response_json(RESP_REFUSED);
		assert_true(json_object_object_get_ex(g, members[i], &v));
		jset(o, members[i], json_object_get(v));
		expect_resp_fail(o, "response.result", "not allowed when the result is refused");
	}
	json_object_put(g);
}

static void test_response_bad_result(void **state)
{
	json_object *o;

	(void)state;
	o = response_json(RESP_CREDENTIAL);
	jset(o, "result", json_object_new_string("ok"));
	expect_resp_fail(o, "response.value", "result: 'ok'");
	o = response_json(RESP_CREDENTIAL);
	jset(o, "result", json_object_new_boolean(1));
	expect_resp_fail(o, "response.type", "result");
	o = response_json(RESP_CREDENTIAL);
	del(o, "", "result");
	expect_resp_fail(o, "response.missing", "result");
}

static void key_field(const char *key, json_object *v, const char *what, const char *msg)
{
	json_object *o = response_json(RESP_CREDENTIAL);

	jset(at(o, "keys[0]"), key, v);
	expect_resp_fail(o, what, msg);
}

static void test_response_bad_iv_size(void **state)
{
	(void)state;
	key_field("iv", jblob(11, 1), "response.size", "keys[0].iv: 11 bytes, expected exactly 12");
	key_field("iv", jblob(13, 1), "response.size", "keys[0].iv");
}

static void test_response_bad_tag_size(void **state)
{
	(void)state;
	key_field("tag", jblob(15, 1), "response.size",
		  "keys[0].tag: 15 bytes, expected exactly 16");
	key_field("tag", jblob(17, 1), "response.size", "keys[0].tag");
}

static void test_response_bad_ciphertext_size(void **state)
{
	(void)state;
	key_field("ciphertext", jblob(15, 1), "response.size",
		  "keys[0].ciphertext: 15 bytes, expected 16..64");
	key_field("ciphertext", jblob(65, 1), "response.size", "keys[0].ciphertext");
}

static void test_response_bad_key_volume(void **state)
{
	json_object *o;

	(void)state;
	key_field("volume", json_object_new_string("3F2504E0-4F89-41D3-9A0C-0305E82C3301"),
		  "response.value", "keys[0].volume");
	key_field("volume", json_object_new_int(1), "response.type", "keys[0].volume");
	o = response_json(RESP_CREDENTIAL);
	jset(at(o, "keys[1]"), "volume", json_object_new_string(uuid_a));
	expect_resp_fail(o, "response.value", "keys[1]: volume");
	o = response_json(RESP_CREDENTIAL);
	json_object_array_put_idx(at(o, "keys"), 0, json_object_new_string("x"));
	expect_resp_fail(o, "response.type", "keys[0]: not an object");
}

static void test_response_bad_credential_size(void **state)
{
	json_object *o;

	(void)state;
	o = response_json(RESP_CREDENTIAL);
	jset(at(o, "credential"), "blob", jtpm2b(1023, 1)); /* 1025 bytes */
	expect_resp_fail(o, "response.size", "credential.blob: more than 1024 bytes");
	o = response_json(RESP_CREDENTIAL);
	jset(at(o, "credential"), "secret", jtpm2b(1023, 1));
	expect_resp_fail(o, "response.size", "credential.secret");
	o = response_json(RESP_CREDENTIAL);
	del(o, "credential", "secret");
	expect_resp_fail(o, "response.missing", "credential.secret");
}

static void test_response_bad_credential_shape(void **state)
{
	json_object *o;

	(void)state;
	o = response_json(RESP_CREDENTIAL);
	jset(at(o, "credential"), "blob", jblob(70, 1)); /* size prefix does not match */
	expect_resp_fail(o, "response.value", "credential.blob");
	o = response_json(RESP_CREDENTIAL);
	jset(at(o, "credential"), "secret", jtpm2b(0, 1)); /* empty */
	expect_resp_fail(o, "response.value", "credential.secret");
}

static void test_response_bad_ecdh_public_size(void **state)
{
	json_object *o;

	(void)state;
	o = response_json(RESP_ECDH);
	jset(at(o, "ecdh"), "public", jpoint(134, 1));
	expect_resp_fail(o, "response.size", "ecdh.public");
	o = response_json(RESP_ECDH);
	jset(at(o, "ecdh"), "public", jpoint(64, 1));
	expect_resp_fail(o, "response.value", "ecdh.public: 64 bytes");
}

static json_object *reason(const char *code, const char *msg)
{
	json_object *r = json_object_new_object();

	jset(r, "code", json_object_new_string(code));
	jset(r, "message", json_object_new_string(msg));
	return r;
}

static void test_response_bad_reason(void **state)
{
	char long_code[80], long_msg[600];
	json_object *o, *rs;

	(void)state;
	o = response_json(RESP_REFUSED);
	json_object_array_put_idx(at(o, "reasons"), 1, reason("Policy PCR", "x"));
	expect_resp_fail(o, "response.value", "reasons[1].code: 'Policy PCR'");
	o = response_json(RESP_REFUSED);
	json_object_array_put_idx(at(o, "reasons"), 0, reason("policy.pcr", "a\nb"));
	expect_resp_fail(o, "response.value", "reasons[0].message: contains control characters");
	o = response_json(RESP_REFUSED);
	json_object_array_put_idx(at(o, "reasons"), 0, reason("policy.pcr", "a\x1b[2Jb"));
	expect_resp_fail(o, "response.value", "reasons[0].message");
	memset(long_code, 'a', sizeof(long_code) - 1);
	long_code[64] = '\0';
	o = response_json(RESP_REFUSED);
	json_object_array_put_idx(at(o, "reasons"), 0, reason(long_code, "x"));
	expect_resp_fail(o, "response.size", "reasons[0].code");
	memset(long_msg, 'm', sizeof(long_msg) - 1);
	long_msg[512] = '\0';
	o = response_json(RESP_REFUSED);
	json_object_array_put_idx(at(o, "reasons"), 0, reason("x", long_msg));
	expect_resp_fail(o, "response.size", "reasons[0].message");
	o = response_json(RESP_REFUSED);
	rs = json_object_new_array();
	for (int i = 0; i <= PROTO_MAX_REASONS; i++)
		json_object_array_add(rs, reason("internal", "x"));
	jset(o, "reasons", rs);
	expect_resp_fail(o, "response.size", "reasons: 17 reasons");
	o = response_json(RESP_REFUSED);
	del(o, "reasons[0]", "message");
	expect_resp_fail(o, "response.missing", "reasons[0].message");
}

static void test_response_bad_oversize(void **state)
{
	struct proto_attest_response *r = calloc(1, sizeof(*r));
	struct kagi_err e = { 0 };
	char *big = malloc(PROTO_MAX_RESPONSE + 1);

	(void)state;
	memset(big, ' ', PROTO_MAX_RESPONSE + 1);
	memcpy(big, "{\"version\":1}", 13);
	assert_int_equal(proto_attest_response_decode(big, PROTO_MAX_RESPONSE + 1, r, &e), -EFBIG);
	assert_string_equal(e.what, "response.too_large");
	free(big);
	free(r);
}

static void test_response_bad_depth_bomb(void **state)
{
	struct proto_attest_response *r = calloc(1, sizeof(*r));
	struct kagi_err e = { 0 };
	char bomb[256];
	size_t n = (size_t)sprintf(bomb, "{\"version\":1,\"result\":\"refused\",\"reasons\":");

	(void)state;
	for (int i = 0; i < 17; i++)
		bomb[n++] = '[';
	for (int i = 0; i < 17; i++)
		bomb[n++] = ']';
	bomb[n++] = '}';
	assert_int_equal(proto_attest_response_decode(bomb, n, r, &e), -EBADMSG);
	assert_string_equal(e.what, "response.json");
	free(r);
}

static void test_response_bad_trailing_garbage(void **state)
{
	json_object *o = response_json(RESP_REFUSED);
	struct proto_attest_response *r = calloc(1, sizeof(*r));
	struct kagi_err e = { 0 };
	const char *t = text(o);
	size_t len = strlen(t);
	char *buf = malloc(len + 4);

	(void)state;
	memcpy(buf, t, len);
	memcpy(buf + len, "]", 2);
	assert_int_equal(proto_attest_response_decode(buf, len + 1, r, &e), -EBADMSG);
	assert_string_equal(e.what, "response.json");
	free(buf);
	free(r);
	json_object_put(o);
}

static void test_response_add_reason(void **state)
{
	struct proto_attest_response *r = calloc(1, sizeof(*r));
	char big[2000];

	(void)state;
	proto_response_add_reason(r, "snp.policy.debug", "debug %s", "allowed\n\tx");
	assert_int_equal(r->nreasons, 1);
	assert_string_equal(r->reasons[0].code, "snp.policy.debug");
	assert_string_equal(r->reasons[0].message, "debug allowed??x");
	/* 510 ASCII bytes and a 2-byte UTF-8 character that does not fit: cut before it */
	memset(big, 'a', 510);
	memcpy(big + 510, "\xc3\xa9zzz", 6);
	proto_response_add_reason(r, "x", "%s", big);
	assert_int_equal(strlen(r->reasons[1].message), 510);
	for (int i = 2; i < 20; i++)
		proto_response_add_reason(r, "internal", "n %d", i);
	assert_int_equal(r->nreasons, PROTO_MAX_REASONS);
	assert_string_equal(r->reasons[15].message, "n 15");
	{
		char *s = NULL;
		struct proto_attest_response *back = calloc(1, sizeof(*back));

		assert_int_equal(proto_attest_response_encode(r, &s), 0);
		assert_int_equal(proto_attest_response_decode(s, strlen(s), back, NULL), 0);
		assert_int_equal(back->nreasons, PROTO_MAX_REASONS);
		free(s);
		free(back);
	}
	free(r);
}

/* The fuzz seed corpora: "valid-*" / "granted-*" / "refused" / "challenge" decode, "bad-*" do not. */
static void corpus_dir(const char *name, bool request)
{
	const char *root = getenv("KAGI_SOURCE_ROOT");
	char cmd[4096];
	FILE *ls;
	char file[512];
	unsigned n = 0;

	assert_non_null(root);
	snprintf(cmd, sizeof(cmd), "ls '%s/tests/fuzz/corpus/%s'", root, name);
	ls = popen(cmd, "r");
	assert_non_null(ls);
	while (fgets(file, sizeof(file), ls)) {
		char path[4096];
		uint8_t *buf = NULL;
		size_t len = 0;
		bool bad = strncmp(file, "bad-", 4) == 0;
		struct kagi_err e = { 0 };
		int r;

		file[strcspn(file, "\n")] = '\0';
		snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s/%s", root, name, file);
		assert_int_equal(read_file(path, 1 << 20, &buf, &len), 0);
		if (request) {
			struct proto_attest_request *req = calloc(1, sizeof(*req));

			r = proto_attest_request_decode((const char *)buf, len, req, &e);
			proto_attest_request_done(req);
			free(req);
		} else if (streq(file, "challenge")) {
			struct proto_challenge c;

			r = proto_challenge_decode((const char *)buf, len, &c, &e);
		} else {
			struct proto_attest_response *resp = calloc(1, sizeof(*resp));

			r = proto_attest_response_decode((const char *)buf, len, resp, &e);
			proto_attest_response_done(resp);
			free(resp);
		}
		if (bad && r >= 0)
			fail_msg("%s: accepted", file);
		if (!bad && r < 0)
			fail_msg("%s: %s: %s", file, e.what, e.msg);
		free(buf);
		n++;
	}
	pclose(ls);
	assert_true(n >= 5);
}

static void test_corpus_seeds(void **state)
{
	(void)state;
	corpus_dir("proto-request", true);
	corpus_dir("proto-response", false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_b64_decode_bad_variants),
		cmocka_unit_test(test_b64_decode_max),
		cmocka_unit_test(test_uuid_valid),
		cmocka_unit_test(test_challenge_request_roundtrip),
		cmocka_unit_test(test_challenge_request_bad),
		cmocka_unit_test(test_challenge_roundtrip),
		cmocka_unit_test(test_challenge_decode_hand_built),
		cmocka_unit_test(test_challenge_bad_nonce_size),
		cmocka_unit_test(test_challenge_bad_expires),
		cmocka_unit_test(test_challenge_bad_token),
		cmocka_unit_test(test_challenge_bad_unknown_member),
		cmocka_unit_test(test_challenge_bad_version),
		cmocka_unit_test(test_request_decode_vtpm),
		cmocka_unit_test(test_request_decode_direct),
		cmocka_unit_test(test_request_roundtrip_vtpm),
		cmocka_unit_test(test_request_roundtrip_direct),
		cmocka_unit_test(test_request_encode_bad),
		cmocka_unit_test(test_request_bad_version),
		cmocka_unit_test(test_request_bad_unknown_member_top),
		cmocka_unit_test(test_request_bad_unknown_member_evidence),
		cmocka_unit_test(test_request_bad_unknown_member_snp),
		cmocka_unit_test(test_request_bad_unknown_member_svsm),
		cmocka_unit_test(test_request_bad_unknown_member_tpm),
		cmocka_unit_test(test_request_bad_unknown_member_quote),
		cmocka_unit_test(test_request_bad_unknown_member_control_chars),
		cmocka_unit_test(test_request_bad_duplicate_volume),
		cmocka_unit_test(test_request_bad_uuid),
		cmocka_unit_test(test_request_bad_volume_count),
		cmocka_unit_test(test_request_bad_svsm_without_tpm),
		cmocka_unit_test(test_request_bad_tpm_without_svsm),
		cmocka_unit_test(test_request_bad_ecdh_with_tpm),
		cmocka_unit_test(test_request_bad_missing_snp),
		cmocka_unit_test(test_request_bad_direct_without_ecdh),
		cmocka_unit_test(test_request_bad_missing_members),
		cmocka_unit_test(test_request_bad_snp_report_size),
		cmocka_unit_test(test_request_bad_snp_certs_size),
		cmocka_unit_test(test_request_bad_svsm_report_size),
		cmocka_unit_test(test_request_bad_svsm_manifest_size),
		cmocka_unit_test(test_request_bad_svsm_certs_size),
		cmocka_unit_test(test_request_bad_ek_public_size),
		cmocka_unit_test(test_request_bad_ak_public_size),
		cmocka_unit_test(test_request_bad_quote_attest_size),
		cmocka_unit_test(test_request_bad_quote_signature_size),
		cmocka_unit_test(test_request_bad_eventlog_size),
		cmocka_unit_test(test_request_bad_ecdh_public_size),
		cmocka_unit_test(test_request_bad_token),
		cmocka_unit_test(test_request_bad_base64),
		cmocka_unit_test(test_request_bad_type),
		cmocka_unit_test(test_request_bad_pcrs),
		cmocka_unit_test(test_request_bad_depth_bomb),
		cmocka_unit_test(test_request_bad_trailing_garbage),
		cmocka_unit_test(test_request_bad_oversize),
		cmocka_unit_test(test_request_bad_json),
		cmocka_unit_test(test_response_decode_credential),
		cmocka_unit_test(test_response_decode_refused),
		cmocka_unit_test(test_response_roundtrip_credential),
		cmocka_unit_test(test_response_roundtrip_ecdh),
		cmocka_unit_test(test_response_roundtrip_refused),
		cmocka_unit_test(test_response_encode_bad),
		cmocka_unit_test(test_response_bad_version),
		cmocka_unit_test(test_response_bad_unknown_member),
		cmocka_unit_test(test_response_bad_granted_without_keys),
		cmocka_unit_test(test_response_bad_granted_with_both),
		cmocka_unit_test(test_response_bad_granted_with_neither),
		cmocka_unit_test(test_response_bad_granted_with_reasons),
		cmocka_unit_test(test_response_bad_refused_without_reasons),
		cmocka_unit_test(test_response_bad_refused_with_keys),
		cmocka_unit_test(test_response_bad_result),
		cmocka_unit_test(test_response_bad_iv_size),
		cmocka_unit_test(test_response_bad_tag_size),
		cmocka_unit_test(test_response_bad_ciphertext_size),
		cmocka_unit_test(test_response_bad_key_volume),
		cmocka_unit_test(test_response_bad_credential_size),
		cmocka_unit_test(test_response_bad_credential_shape),
		cmocka_unit_test(test_response_bad_ecdh_public_size),
		cmocka_unit_test(test_response_bad_reason),
		cmocka_unit_test(test_response_bad_oversize),
		cmocka_unit_test(test_response_bad_depth_bomb),
		cmocka_unit_test(test_response_bad_trailing_garbage),
		cmocka_unit_test(test_response_add_reason),
		cmocka_unit_test(test_corpus_seeds),
	};

	setenv("TSS2_LOG", "all+none", 0);
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
