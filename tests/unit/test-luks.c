// SPDX-License-Identifier: Apache-2.0
/*
 * test-luks.c: luks_open on LUKS2 image files (check-only activation, name NULL; no
 * device-mapper needed). Images are made with the cryptsetup CLI in a temporary directory;
 * forged headers (cipher_null) are made by editing the LUKS2 JSON area of a copy of a good
 * image and recomputing both binary headers' SHA-256 checksums, because cryptsetup refuses to
 * format cipher_null without device-mapper. Every test also checks that the image's SHA-256 is
 * unchanged (the agent never writes) and that the private header copy was removed.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "../../agent/luks.h"
#include "err.h"
#include "secret.h"

#define UUID_A "3f1b6a4e-8c0d-4e57-9a61-2b7c5d9e0f11"
#define UUID_B "0a0b0c0d-1111-4222-8333-444455556666"
#define KEY    "kagi-test-key-0123456789abcdefgh"

static char dir[256], copydir[300], keyfile[320];

static void path_of(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	if (r != 0)
		fail_msg("command failed (%d): %s", r, cmd);
}

static void file_sha256(const char *path, uint8_t out[32])
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (read_file(path, 64 << 20, &buf, &len) < 0)
		fail_msg("cannot read %s", path);
	SHA256(buf, len, out);
	free(buf);
}

static struct secret *key_of(const char *k)
{
	struct secret *s = secret_new(strlen(k));

	assert_non_null(s);
	memcpy(s->data, k, strlen(k));
	return s;
}

/* The header copy directory must be empty again after every luks_open. */
static void assert_no_copy_left(void)
{
	DIR *d = opendir(copydir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	assert_int_equal(n, 0);
}

/* luks_open_limits on image `name`; asserts the image is unchanged and returns r. */
static int open_image(const char *name, const char *uuid, const char *key,
		      const struct luks_limits *lim, struct kagi_err *e)
{
	char path[400];
	uint8_t before[32], after[32];
	struct secret *k = key_of(key);
	int r;

	path_of(name, path, sizeof(path));
	file_sha256(path, before);
	r = luks_open_limits(path, uuid, NULL, k, lim, e);
	secret_free(k);
	file_sha256(path, after);
	assert_memory_equal(before, after, 32);
	assert_no_copy_left();
	return r;
}

static void assert_refused(int r, const struct kagi_err *e, int want_r, const char *what)
{
	if (r != want_r || strcmp(e->what, what) != 0)
		fail_msg("expected %d %s, got %d %s: %s", want_r, what, r, e->what, e->msg);
}

/*
 * Replace the first `from` after `anchor` in the JSON area of both LUKS2 binary headers of
 * `path` by `to` and fix the headers' checksums (sha256 over hdr_size bytes, csum zeroed).
 */
static void forge_json(const char *path, const char *anchor, const char *from, const char *to)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t hdr_size = 0;
	int fd;

	if (read_file(path, 64 << 20, &buf, &len) < 0)
		fail_msg("cannot read %s", path);
	for (int i = 8; i < 16; i++)
		hdr_size = hdr_size << 8 | buf[i];
	assert_true(hdr_size > 4096 && 2 * hdr_size <= len);
	for (uint64_t off = 0; off <= hdr_size; off += hdr_size) {
		uint8_t *h = buf + off;
		char *json = (char *)h + 4096, *a, *p, *nj;
		size_t area = hdr_size - 4096;

		assert_non_null(memchr(json, '\0', area));
		a = strstr(json, anchor);
		assert_non_null(a);
		p = strstr(a, from);
		assert_non_null(p);
		nj = calloc(1, area);
		assert_non_null(nj);
		snprintf(nj, area, "%.*s%s%s", (int)(p - json), json, to, p + strlen(from));
		memcpy(json, nj, area);
		free(nj);
		memset(h + 448, 0, 64);
		SHA256(h, hdr_size, h + 448);
	}
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, 2 * hdr_size, 0), (ssize_t)(2 * hdr_size));
	close(fd);
	free(buf);
}

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");
	char p[400], q[400];
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/test-luks-XXXXXX", t && t[0] ? t : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(copydir, sizeof(copydir), "%s/run", dir);
	if (mkdir(copydir, 0700) < 0)
		return -1;
	/* luks_open puts its header copy under $TMPDIR: watch that it is removed */
	setenv("TMPDIR", copydir, 1);
	snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
	fd = open(keyfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, KEY, strlen(KEY)) != (ssize_t)strlen(KEY))
		return -1;
	close(fd);

	path_of("good.img", p, sizeof(p));
	sh("truncate -s 20M %s && cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 "
	   "--pbkdf-force-iterations 1000 --uuid " UUID_A " --key-file %s %s",
	   p, keyfile, p);
	path_of("luks1.img", p, sizeof(p));
	sh("truncate -s 8M %s && cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations "
	   "1000 --uuid " UUID_A " --key-file %s %s",
	   p, keyfile, p);
	path_of("argon.img", p, sizeof(p));
	sh("truncate -s 20M %s && cryptsetup luksFormat -q --type luks2 --pbkdf argon2id "
	   "--pbkdf-memory 65536 --pbkdf-force-iterations 4 --pbkdf-parallel 1 --uuid " UUID_A
	   " --key-file %s %s",
	   p, keyfile, p);
	path_of("noluks.img", p, sizeof(p));
	sh("head -c 65536 /dev/urandom > %s", p);

	/* forged copies of the good image */
	path_of("good.img", q, sizeof(q));
	path_of("null-segment.img", p, sizeof(p));
	sh("cp --sparse=always %s %s", q, p);
	forge_json(p, "\"segments\"", "\"encryption\":\"aes-xts-plain64\"",
		   "\"encryption\":\"cipher_null-ecb\"");
	path_of("null-keyslot.img", p, sizeof(p));
	sh("cp --sparse=always %s %s", q, p);
	forge_json(p, "\"area\"", "\"encryption\":\"aes-xts-plain64\"",
		   "\"encryption\":\"cipher_null-ecb\"");
	path_of("plain-iv.img", p, sizeof(p));
	sh("cp --sparse=always %s %s", q, p);
	forge_json(p, "\"segments\"", "\"encryption\":\"aes-xts-plain64\"",
		   "\"encryption\":\"aes-xts-plain\"");
	path_of("pbkdf2-sha1.img", p, sizeof(p));
	sh("cp --sparse=always %s %s", q, p);
	forge_json(p, "\"kdf\"", "\"hash\":\"sha256\"", "\"hash\":\"sha1\"");
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_luks_open_good(void **state)
{
	struct kagi_err e = { 0 };
	int r;

	(void)state;
	r = open_image("good.img", UUID_A, KEY, NULL, &e);
	if (r < 0)
		fail_msg("good image refused: %d %s: %s", r, e.what, e.msg);
	assert_int_equal(r, 0);
	/* the UUID is compared case-insensitively */
	r = open_image("good.img", "3F1B6A4E-8C0D-4E57-9A61-2B7C5D9E0F11", KEY, NULL, &e);
	assert_int_equal(r, 0);
}

static void test_luks_open_bad_key(void **state)
{
	struct kagi_err e = { 0 };
	int r;

	(void)state;
	r = open_image("good.img", UUID_A, "kagi-test-key-0123456789abcdefgX", NULL, &e);
	assert_refused(r, &e, -EPERM, "luks.key");
}

static void test_luks_open_bad_uuid(void **state)
{
	struct kagi_err e = { 0 };
	int r;

	(void)state;
	r = open_image("good.img", UUID_B, KEY, NULL, &e);
	assert_refused(r, &e, -ENOKEY, "luks.uuid");
}

/* The forged header's volume key digest still matches KEY: only the check stops it. */
static void test_luks_open_bad_cipher(void **state)
{
	struct kagi_err e = { 0 };
	int r;

	(void)state;
	r = open_image("null-segment.img", UUID_A, KEY, NULL, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.cipher");
	assert_non_null(strstr(e.msg, "cipher_null-ecb"));
	assert_non_null(strstr(e.msg, "aes-xts-plain64"));
	/* a real cipher spec, but not in the allowlist (32-bit IV wraps) */
	r = open_image("plain-iv.img", UUID_A, KEY, NULL, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.cipher");
	assert_non_null(strstr(e.msg, "aes-xts-plain,"));
}

static void test_luks_open_bad_keyslot_cipher(void **state)
{
	struct kagi_err e = { 0 };
	int r;

	(void)state;
	r = open_image("null-keyslot.img", UUID_A, KEY, NULL, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.keyslot.cipher");
	assert_non_null(strstr(e.msg, "cipher_null"));
}

static void test_luks_open_bad_kdf_argon2_memory(void **state)
{
	struct luks_limits lim;
	struct kagi_err e = { 0 };
	int r;

	(void)state;
	/* 64 MiB keyslot: fine under the default 1 GiB bound */
	r = open_image("argon.img", UUID_A, KEY, NULL, &e);
	if (r < 0)
		fail_msg("argon2id image refused: %d %s: %s", r, e.what, e.msg);
	luks_limits_default(&lim);
	lim.argon2_max_memory_kb = 32768;
	r = open_image("argon.img", UUID_A, KEY, &lim, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.keyslot.kdf");
	assert_non_null(strstr(e.msg, "65536 KiB"));
	luks_limits_default(&lim);
	lim.argon2_max_time = 3;
	r = open_image("argon.img", UUID_A, KEY, &lim, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.keyslot.kdf");
	assert_non_null(strstr(e.msg, "time cost 4"));
}

static void test_luks_open_bad_kdf_pbkdf2(void **state)
{
	struct luks_limits lim;
	struct kagi_err e = { 0 };
	int r;

	(void)state;
	luks_limits_default(&lim);
	lim.pbkdf2_max_iterations = 999;
	r = open_image("good.img", UUID_A, KEY, &lim, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.keyslot.kdf");
	assert_non_null(strstr(e.msg, "1000 iterations"));
	r = open_image("pbkdf2-sha1.img", UUID_A, KEY, NULL, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.keyslot.kdf");
	assert_non_null(strstr(e.msg, "sha1"));
}

static void test_luks_open_bad_type(void **state)
{
	struct kagi_err e = { 0 };
	int r;

	(void)state;
	r = open_image("luks1.img", UUID_A, KEY, NULL, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.type");
	r = open_image("noluks.img", UUID_A, KEY, NULL, &e);
	assert_refused(r, &e, -EMEDIUMTYPE, "luks.header");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_luks_open_good),
		cmocka_unit_test(test_luks_open_bad_key),
		cmocka_unit_test(test_luks_open_bad_uuid),
		cmocka_unit_test(test_luks_open_bad_cipher),
		cmocka_unit_test(test_luks_open_bad_keyslot_cipher),
		cmocka_unit_test(test_luks_open_bad_kdf_argon2_memory),
		cmocka_unit_test(test_luks_open_bad_kdf_pbkdf2),
		cmocka_unit_test(test_luks_open_bad_type),
	};

	return cmocka_run_group_tests_name("luks", tests, setup, teardown);
}
