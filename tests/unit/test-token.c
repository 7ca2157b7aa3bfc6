// SPDX-License-Identifier: Apache-2.0
/*
 * test-token.c: challenge tokens (PROTOCOL.md section 1). The wire format is checked against
 * an independent construction here (OpenSSL HMAC + base64), and every rejection of
 * token_check() is made to happen on its own with its reason code.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kek.h"
#include "store.h"
#include "token.h"

struct fixture {
	char dir[64];
	struct kek *kek;
	struct store *store;
	struct secret *key;
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kagi_err e = { 0 };
	uint8_t kek[32];
	char path[128], url[160];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kagi-test-token-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/kek.bin", f->dir);
	RAND_bytes(kek, sizeof(kek));
	write_file(path, kek, sizeof(kek), 0600);
	snprintf(url, sizeof(url), "file:%s", path);
	if (kek_open(url, &f->kek, &e) < 0)
		fail_msg("kek_open: %s", e.msg);
	snprintf(url, sizeof(url), "sqlite:%s/kagi.db", f->dir);
	if (store_open(url, f->kek, &f->store, &e) < 0)
		fail_msg("store_open: %s", e.msg);
	f->key = secret_new(TOKEN_KEY_SIZE);
	assert_non_null(f->key);
	RAND_bytes(f->key->data, TOKEN_KEY_SIZE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->store);
	kek_close(f->kek);
	secret_free(f->key);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- an independent construction of the format ---- */

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* base64url without padding via OpenSSL's standard base64. */
static void ref_b64url(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	unsigned char tmp[256];
	int n = EVP_EncodeBlock(tmp, in, (int)len);
	size_t o = 0;

	for (int i = 0; i < n && tmp[i] != '=' && o + 1 < outlen; i++)
		out[o++] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : (char)tmp[i];
	out[o] = '\0';
}

static void ref_b64url_decode(const char *text, uint8_t *out, size_t want)
{
	char tmp[256];
	unsigned char dec[256];
	size_t n = strlen(text);

	assert_true(n + 4 < sizeof(tmp));
	for (size_t i = 0; i < n; i++)
		tmp[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
	while (n % 4)
		tmp[n++] = '=';
	tmp[n] = '\0';
	assert_true(EVP_DecodeBlock(dec, (unsigned char *)tmp, (int)n) >= (int)want);
	memcpy(out, dec, want);
}

/* A token with any version/times, MACed like PROTOCOL.md says, with HMAC() from libcrypto. */
static void ref_token(const struct secret *key, uint8_t version, uint64_t issued, uint64_t expires,
		      const uint8_t nonce[32], const uint8_t id[16], char *out, size_t outlen)
{
	uint8_t raw[97], msg[14 + 65];
	unsigned taglen = 0;

	raw[0] = version;
	be64(raw + 1, issued);
	be64(raw + 9, expires);
	memcpy(raw + 17, nonce, 32);
	memcpy(raw + 49, id, 16);
	memcpy(msg, "kagi-token-v1\0", 14);
	memcpy(msg + 14, raw, 65);
	assert_non_null(
		HMAC(EVP_sha256(), key->data, (int)key->len, msg, sizeof(msg), raw + 65, &taglen));
	assert_int_equal(taglen, 32);
	ref_b64url(raw, sizeof(raw), out, outlen);
}

static void expect(struct fixture *f, const char *token, time_t now, const char *what)
{
	struct token_claims c;
	struct kagi_err e = { 0 };
	int r = token_check(f->key, f->store, token, now, &c, &e);

	if (!what) {
		if (r < 0)
			fail_msg("unexpected rejection %s: %s", e.what, e.msg);
		return;
	}
	if (r >= 0)
		fail_msg("token accepted, expected %s", what);
	if (!e.what || strcmp(e.what, what))
		fail_msg("expected %s, got %s: %s", what, e.what ? e.what : "(null)", e.msg);
}

/* ---- tests ---- */

static void test_token_issue_format(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	uint8_t raw[97], msg[14 + 65], tag[32];
	unsigned taglen = 0;
	time_t now = time(NULL);

	assert_int_equal(token_issue(f->key, now, 120, &ch), 0);
	assert_int_equal(strlen(ch.token), TOKEN_TEXT_LEN);
	assert_int_equal(strspn(ch.token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					  "0123456789-_"),
			 TOKEN_TEXT_LEN);
	ref_b64url_decode(ch.token, raw, sizeof(raw));
	assert_int_equal(raw[0], 1);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(raw[1 + i], (uint8_t)((uint64_t)now >> (56 - 8 * i)));
		assert_int_equal(raw[9 + i], (uint8_t)(((uint64_t)now + 120) >> (56 - 8 * i)));
	}
	assert_memory_equal(raw + 17, ch.nonce, 32);
	assert_true(ch.expires == (uint64_t)now + 120);
	memcpy(msg, "kagi-token-v1\0", 14);
	memcpy(msg + 14, raw, 65);
	HMAC(EVP_sha256(), f->key->data, 32, msg, sizeof(msg), tag, &taglen);
	assert_memory_equal(raw + 65, tag, 32);
}

static void test_token_issue_fresh(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge a, b;

	assert_int_equal(token_issue(f->key, time(NULL), 120, &a), 0);
	assert_int_equal(token_issue(f->key, time(NULL), 120, &b), 0);
	assert_memory_not_equal(a.nonce, b.nonce, 32);
	assert_string_not_equal(a.token, b.token);
}

static void test_token_check_ok(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	struct token_claims c;
	struct kagi_err e = { 0 };
	time_t now = time(NULL);

	assert_int_equal(token_issue(f->key, now, 60, &ch), 0);
	assert_int_equal(token_check(f->key, f->store, ch.token, now + 60, &c, &e), 0);
	assert_memory_equal(c.nonce, ch.nonce, 32);
	assert_true(c.issued_at == (uint64_t)now);
	assert_true(c.expires == (uint64_t)now + 60);
}

static void test_token_ref_accepted(void **state)
{
	struct fixture *f = *state;
	uint8_t nonce[32], id[16];
	char tok[160];
	time_t now = time(NULL);

	RAND_bytes(nonce, 32);
	RAND_bytes(id, 16);
	ref_token(f->key, 1, (uint64_t)now, (uint64_t)now + 30, nonce, id, tok, sizeof(tok));
	expect(f, tok, now, NULL);
}

static void test_token_bad_mac(void **state)
{
	struct fixture *f = *state;
	struct secret *other = secret_new(32);
	struct proto_challenge ch;
	time_t now = time(NULL);

	RAND_bytes(other->data, 32);
	assert_int_equal(token_issue(other, now, 120, &ch), 0);
	secret_free(other);
	expect(f, ch.token, now, "token.invalid");
}

static void test_token_bad_mac_altered_payload(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	time_t now = time(NULL);

	assert_int_equal(token_issue(f->key, now, 120, &ch), 0);
	/* character 30 lies in the nonce: a different but canonical token */
	ch.token[30] = ch.token[30] == 'A' ? 'B' : 'A';
	expect(f, ch.token, now, "token.invalid");
}

static void test_token_bad_mac_altered_tag(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	time_t now = time(NULL);

	assert_int_equal(token_issue(f->key, now, 120, &ch), 0);
	ch.token[100] = ch.token[100] == 'A' ? 'B' : 'A';
	expect(f, ch.token, now, "token.invalid");
}

static void test_token_bad_truncated(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	time_t now = time(NULL);

	assert_int_equal(token_issue(f->key, now, 120, &ch), 0);
	ch.token[TOKEN_TEXT_LEN - 1] = '\0';
	expect(f, ch.token, now, "token.invalid");
	ch.token[TOKEN_TEXT_LEN - 4] = '\0';
	expect(f, ch.token, now, "token.invalid");
	expect(f, "", now, "token.invalid");
}

static void test_token_bad_too_long(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	char tok[200];
	time_t now = time(NULL);

	assert_int_equal(token_issue(f->key, now, 120, &ch), 0);
	snprintf(tok, sizeof(tok), "%sAA", ch.token);
	expect(f, tok, now, "token.invalid");
}

static void test_token_bad_version(void **state)
{
	struct fixture *f = *state;
	uint8_t nonce[32] = { 1 }, id[16] = { 2 };
	char tok[160];
	struct token_claims c;
	struct kagi_err e = { 0 };
	time_t now = time(NULL);

	ref_token(f->key, 2, (uint64_t)now, (uint64_t)now + 30, nonce, id, tok, sizeof(tok));
	expect(f, tok, now, "token.invalid");
	assert_true(token_decode(f->key, tok, &c, &e) < 0);
	assert_non_null(strstr(e.msg, "version 2"));
	ref_token(f->key, 0, (uint64_t)now, (uint64_t)now + 30, nonce, id, tok, sizeof(tok));
	expect(f, tok, now, "token.invalid");
}

static void test_token_bad_expires_before_issued(void **state)
{
	struct fixture *f = *state;
	uint8_t nonce[32] = { 3 }, id[16] = { 4 };
	char tok[160];
	time_t now = time(NULL);

	ref_token(f->key, 1, (uint64_t)now, (uint64_t)now - 1, nonce, id, tok, sizeof(tok));
	expect(f, tok, now - 10, "token.invalid");
}

static void test_token_bad_expired(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	time_t now = time(NULL);

	assert_int_equal(token_issue(f->key, now - 200, 120, &ch), 0);
	expect(f, ch.token, now, "token.expired");
	/* the boundary: valid through `expires`, expired one second later */
	assert_int_equal(token_issue(f->key, now, 10, &ch), 0);
	expect(f, ch.token, now + 11, "token.expired");
	expect(f, ch.token, now + 10, NULL);
}

static void test_token_bad_replayed(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	time_t now = time(NULL);

	assert_int_equal(token_issue(f->key, now, 120, &ch), 0);
	expect(f, ch.token, now, NULL);
	expect(f, ch.token, now, "token.replayed");
	expect(f, ch.token, now + 1, "token.replayed");
}

static void test_token_bad_garbage_base64(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	char tok[PROTO_TOKEN_MAX + 8];
	time_t now = time(NULL);
	static const char bad[] = { '+', '/', '=', '!', ' ', '.', '\n', (char)0xc3 };

	assert_int_equal(token_issue(f->key, now, 120, &ch), 0);
	for (size_t i = 0; i < sizeof(bad); i++) {
		snprintf(tok, sizeof(tok), "%s", ch.token);
		tok[57] = bad[i];
		expect(f, tok, now, "token.invalid");
	}
	/* standard base64 with padding is not base64url */
	snprintf(tok, sizeof(tok), "%.*s==", TOKEN_TEXT_LEN - 2, ch.token);
	expect(f, tok, now, "token.invalid");
	memset(tok, 'A', TOKEN_TEXT_LEN);
	tok[TOKEN_TEXT_LEN] = '\0';
	expect(f, tok, now, "token.invalid");
	expect(f, NULL, now, "token.invalid");
}

static void test_token_bad_noncanonical(void **state)
{
	struct fixture *f = *state;
	struct proto_challenge ch;
	time_t now = time(NULL);
	char *last;

	assert_int_equal(token_issue(f->key, now, 120, &ch), 0);
	/* 97 bytes: the last character carries 2 bits and 4 unused zero bits; set one */
	last = &ch.token[TOKEN_TEXT_LEN - 1];
	assert_true(strchr("AQgw", *last) != NULL);
	*last = (char)(*last + 1);
	expect(f, ch.token, now, "token.invalid");
}

static void test_token_key_load(void **state)
{
	struct fixture *f = *state;
	struct secret *k = NULL;
	struct kagi_err e = { 0 };
	uint8_t buf[33];
	char path[128];

	RAND_bytes(buf, sizeof(buf));
	snprintf(path, sizeof(path), "%s/token.key", f->dir);
	write_file(path, buf, 32, 0600);
	assert_int_equal(token_key_load(path, &k, &e), 0);
	assert_int_equal(k->len, 32);
	assert_memory_equal(k->data, buf, 32);
	secret_free(k);
	k = NULL;
	write_file(path, buf, 32, 0400);
	assert_int_equal(token_key_load(path, &k, &e), 0);
	secret_free(k);
}

static void test_token_key_load_bad_mode(void **state)
{
	struct fixture *f = *state;
	struct secret *k = NULL;
	struct kagi_err e = { 0 };
	uint8_t buf[32] = { 0 };
	char path[128];

	snprintf(path, sizeof(path), "%s/token.key", f->dir);
	write_file(path, buf, 32, 0644);
	assert_int_equal(token_key_load(path, &k, &e), -EPERM);
	assert_string_equal(e.what, "token_key.mode");
	write_file(path, buf, 32, 0610);
	assert_int_equal(token_key_load(path, &k, &e), -EPERM);
	assert_null(k);
}

static void test_token_key_load_bad_size(void **state)
{
	struct fixture *f = *state;
	struct secret *k = NULL;
	struct kagi_err e = { 0 };
	uint8_t buf[33] = { 0 };
	char path[128];

	snprintf(path, sizeof(path), "%s/token.key", f->dir);
	write_file(path, buf, 31, 0600);
	assert_int_equal(token_key_load(path, &k, &e), -EINVAL);
	assert_string_equal(e.what, "token_key.size");
	write_file(path, buf, 33, 0600);
	assert_int_equal(token_key_load(path, &k, &e), -EINVAL);
	assert_true(token_key_load(f->dir, &k, &e) < 0); /* a directory */
	assert_string_equal(e.what, "token_key.file");
	snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_int_equal(token_key_load(path, &k, &e), -ENOENT);
	assert_null(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_issue_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_issue_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_check_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_ref_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_mac_altered_payload, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_mac_altered_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_expires_before_issued, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_replayed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_garbage_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_bad_noncanonical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_key_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_key_load_bad_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_key_load_bad_size, setup, teardown),
	};

	return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
