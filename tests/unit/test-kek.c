// SPDX-License-Identifier: Apache-2.0
/*
 * test-kek.c: the store's key-encryption key, file backend and PKCS#11 backend.
 * The PKCS#11 tests build a private SoftHSM2 token in a temporary directory (SOFTHSM2_CONF)
 * with softhsm2-util and pkcs11-tool; they are skipped only when those tools are missing.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "kek.h"

extern char **environ;

#define PIN    "1234"
#define SO_PIN "5678"

static char tmpdir[64];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static const char *tpath(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

static struct secret *secret_of(const void *p, size_t n)
{
	struct secret *s = secret_new(n);

	assert_non_null(s);
	memcpy(s->data, p, n);
	return s;
}

static void expect_err(int r, int want, const struct kagi_err *e, const char *needle)
{
	if (r != want)
		fail_msg("expected %d, got %d (%s: %s)", want, r, e->what ? e->what : "-", e->msg);
	if (needle && !strstr(e->msg, needle))
		fail_msg("message '%s' lacks '%s'", e->msg, needle);
}

static int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kagi-test-kek-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

/* ---- file backend ---------------------------------------------------------------------------- */

static struct kek *open_file_kek(const uint8_t key[32])
{
	char p[128], url[160];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;
	int r;

	write_file(tpath("kek.bin", p, sizeof(p)), key, 32, 0600);
	snprintf(url, sizeof(url), "file:%s", p);
	r = kek_open(url, &k, &e);
	if (r < 0)
		fail_msg("kek_open: %s", e.msg);
	return k;
}

static void roundtrip(struct kek *k, size_t n)
{
	static const uint8_t aad[] = "kagi-store-v1\0"
				     "00000000-0000-0000-0000-000000000000";
	uint8_t buf[4096];
	struct kagi_err e = { 0 };
	struct secret *plain, *back = NULL;
	uint8_t *w = NULL, *w2 = NULL;
	size_t wl = 0, wl2 = 0;

	assert_true(RAND_bytes(buf, (int)n) == 1);
	plain = secret_of(buf, n);
	if (kek_wrap(k, plain, aad, sizeof(aad), &w, &wl, &e) < 0)
		fail_msg("kek_wrap(%zu): %s", n, e.msg);
	/* 0x01 || iv(12) || ciphertext || tag(16) */
	assert_int_equal(wl, 1 + 12 + n + 16);
	assert_int_equal(w[0], 0x01);
	if (n >= 16)
		assert_true(memmem(w, wl, buf, n) == NULL);
	if (kek_unwrap(k, w, wl, aad, sizeof(aad), &back, &e) < 0)
		fail_msg("kek_unwrap(%zu): %s", n, e.msg);
	assert_int_equal(back->len, n);
	assert_memory_equal(back->data, buf, n);
	/* a fresh IV every time */
	assert_int_equal(kek_wrap(k, plain, aad, sizeof(aad), &w2, &wl2, &e), 0);
	assert_int_equal(wl2, wl);
	assert_memory_not_equal(w + 1, w2 + 1, 12);
	secret_free(back);
	secret_free(plain);
	free(w);
	free(w2);
}

static void test_kek_file_roundtrip(void **state)
{
	uint8_t key[32];
	struct kek *k;

	(void)state;
	assert_true(RAND_bytes(key, sizeof(key)) == 1);
	k = open_file_kek(key);
	roundtrip(k, 1);
	roundtrip(k, 16);
	roundtrip(k, 32);
	roundtrip(k, 64);
	roundtrip(k, 4096);
	kek_close(k);
}

/* Wrap 32 bytes with AAD "A"; return the wrapped buffer. */
static uint8_t *wrap32(struct kek *k, const uint8_t *aad, size_t aad_len, size_t *len)
{
	uint8_t buf[32];
	struct kagi_err e = { 0 };
	struct secret *plain;
	uint8_t *w = NULL;

	memset(buf, 0x5a, sizeof(buf));
	plain = secret_of(buf, sizeof(buf));
	if (kek_wrap(k, plain, aad, aad_len, &w, len, &e) < 0)
		fail_msg("kek_wrap: %s", e.msg);
	secret_free(plain);
	return w;
}

static void check_bad_aad(struct kek *k)
{
	struct kagi_err e = { 0 };
	struct secret *out = NULL;
	size_t wl;
	uint8_t *w = wrap32(k, (const uint8_t *)"volume-a", 8, &wl);

	expect_err(kek_unwrap(k, w, wl, (const uint8_t *)"volume-b", 8, &out, &e), -EBADMSG, &e,
		   "does not authenticate");
	assert_null(out);
	expect_err(kek_unwrap(k, w, wl, NULL, 0, &out, &e), -EBADMSG, &e, NULL);
	assert_int_equal(kek_unwrap(k, w, wl, (const uint8_t *)"volume-a", 8, &out, &e), 0);
	secret_free(out);
	free(w);
}

/* Flip one bit in every byte position: each must be refused with -EBADMSG. */
static void check_tamper(struct kek *k)
{
	struct kagi_err e = { 0 };
	size_t wl;
	uint8_t *w = wrap32(k, (const uint8_t *)"x", 1, &wl);

	for (size_t i = 0; i < wl; i++) {
		struct secret *out = NULL;

		w[i] ^= 0x01;
		if (kek_unwrap(k, w, wl, (const uint8_t *)"x", 1, &out, &e) != -EBADMSG)
			fail_msg("byte %zu flipped: not refused with -EBADMSG (%s)", i, e.msg);
		assert_null(out);
		w[i] ^= 0x01;
	}
	/* version byte: its own message */
	w[0] = 0x02;
	expect_err(kek_unwrap(k, w, wl, (const uint8_t *)"x", 1, &(struct secret *){ NULL }, &e),
		   -EBADMSG, &e, "version is 0x02");
	free(w);
}

static void test_kek_file_bad_aad(void **state)
{
	uint8_t key[32];
	struct kek *k;

	(void)state;
	assert_true(RAND_bytes(key, sizeof(key)) == 1);
	k = open_file_kek(key);
	check_bad_aad(k);
	kek_close(k);
}

static void test_kek_file_bad_tampered(void **state)
{
	uint8_t key[32];
	struct kek *k;

	(void)state;
	assert_true(RAND_bytes(key, sizeof(key)) == 1);
	k = open_file_kek(key);
	check_tamper(k);
	kek_close(k);
}

static void test_kek_file_bad_other_kek(void **state)
{
	uint8_t key[32];
	struct kagi_err e = { 0 };
	struct secret *out = NULL;
	struct kek *k;
	uint8_t *w;
	size_t wl;

	(void)state;
	assert_true(RAND_bytes(key, sizeof(key)) == 1);
	k = open_file_kek(key);
	w = wrap32(k, (const uint8_t *)"a", 1, &wl);
	kek_close(k);
	key[0] ^= 1;
	k = open_file_kek(key);
	expect_err(kek_unwrap(k, w, wl, (const uint8_t *)"a", 1, &out, &e), -EBADMSG, &e,
		   "wrong KEK");
	kek_close(k);
	free(w);
}

static void test_kek_unwrap_bad_size(void **state)
{
	uint8_t key[32] = { 1 }, buf[64] = { 0x01 };
	struct kagi_err e = { 0 };
	struct secret *out = NULL;
	struct kek *k;

	(void)state;
	k = open_file_kek(key);
	/* version || iv || tag with no ciphertext, and shorter */
	for (size_t n = 0; n <= 29; n++)
		expect_err(kek_unwrap(k, buf, n, NULL, 0, &out, &e), -EBADMSG, &e, "expected 30");
	assert_null(out);
	kek_close(k);
}

static void test_kek_wrap_bad_len(void **state)
{
	uint8_t key[32] = { 2 };
	struct kagi_err e = { 0 };
	struct secret *big = secret_new(4097);
	uint8_t *w = NULL;
	size_t wl;
	struct kek *k;

	(void)state;
	k = open_file_kek(key);
	expect_err(kek_wrap(k, big, NULL, 0, &w, &wl, &e), -EINVAL, &e, "4097");
	assert_null(w);
	kek_close(k);
	secret_free(big);
}

static void expect_file_refused(const void *data, size_t len, mode_t mode, int want,
				const char *needle)
{
	char p[128], url[160];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	write_file(tpath("bad-kek.bin", p, sizeof(p)), data, len, mode);
	snprintf(url, sizeof(url), "file:%s", p);
	expect_err(kek_open(url, &k, &e), want, &e, needle);
	assert_null(k);
	assert_string_equal(e.what, "kek.file");
}

static void test_kek_file_bad_size(void **state)
{
	uint8_t buf[64] = { 0 };

	(void)state;
	expect_file_refused(buf, 31, 0600, -EINVAL, "holds 31 bytes");
	expect_file_refused(buf, 33, 0600, -EINVAL, "more than 32");
	expect_file_refused(buf, 64, 0600, -EINVAL, "exactly 32");
	expect_file_refused(buf, 0, 0600, -EINVAL, "holds 0 bytes");
}

static void test_kek_file_bad_mode(void **state)
{
	uint8_t buf[32] = { 0 };

	(void)state;
	expect_file_refused(buf, 32, 0644, -EPERM, "chmod 600");
	expect_file_refused(buf, 32, 0640, -EPERM, "mode 0640");
	expect_file_refused(buf, 32, 0604, -EPERM, "chmod 600");
	expect_file_refused(buf, 32, 0620, -EPERM, "chmod 600");
	/* owner-only read is fine */
	{
		char p[128], url[160];
		struct kagi_err e = { 0 };
		struct kek *k = NULL;

		write_file(tpath("ro-kek.bin", p, sizeof(p)), buf, 32, 0400);
		snprintf(url, sizeof(url), "file:%s", p);
		assert_int_equal(kek_open(url, &k, &e), 0);
		kek_close(k);
	}
}

static void test_kek_file_bad_missing(void **state)
{
	char p[128], url[160];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	(void)state;
	snprintf(url, sizeof(url), "file:%s", tpath("does-not-exist", p, sizeof(p)));
	expect_err(kek_open(url, &k, &e), -ENOENT, &e, "cannot open");
	snprintf(url, sizeof(url), "file:%s", tmpdir);
	expect_err(kek_open(url, &k, &e), -EINVAL, &e, NULL);
}

static void test_kek_open_bad_url(void **state)
{
	static const struct {
		const char *url, *needle;
	} cases[] = {
		{ "", "no KEK" },
		{ "vault:xyz", "unknown KEK" },
		{ "file:", "needs a path" },
		{ "pkcs11:token=a;object=b;pin-file=/p", "missing module" },
		{ "pkcs11:module=/m.so;object=b;pin-file=/p", "missing token" },
		{ "pkcs11:module=/m.so;token=a;pin-file=/p", "missing object" },
		{ "pkcs11:module=/m.so;token=a;object=b", "missing pin-file" },
		{ "pkcs11:module=m.so;token=a;object=b;pin-file=/p", "absolute path" },
		{ "pkcs11:module=/m.so;token=a;object=b;pin-file=/p;slot=3", "unknown pkcs11 "
									     "attribute 'slot'" },
		{ "pkcs11:module=/m.so;token=a;token=b;object=b;pin-file=/p", "given twice" },
		{ "pkcs11:module=/m.so;token=a%zz;object=b;pin-file=/p", "%-escape" },
		{ "pkcs11:module=/m.so;token=a%0;object=b;pin-file=/p", "%-escape" },
		{ "pkcs11:module=/m.so;token=a;object=b;pin-source=/p", "file:PATH" },
		{ "pkcs11:module=/m.so;token=0123456789012345678901234567890123;object=b;"
		  "pin-file=/p",
		  "1 to 32" },
		{ "pkcs11:module=/m.so;token;object=b;pin-file=/p", "no '=value'" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct kagi_err e = { 0 };
		struct kek *k = NULL;
		int r = kek_open(cases[i].url, &k, &e);

		if (r != -EINVAL || !strstr(e.msg, cases[i].needle))
			fail_msg("'%s': got %d '%s', wanted -EINVAL with '%s'", cases[i].url, r,
				 e.msg, cases[i].needle);
		assert_null(k);
	}
}

/* ---- PKCS#11 backend (SoftHSM2) -------------------------------------------------------------- */

struct hsm {
	char module[256];
	char conf[128];
	char pin[128];
	char log[128];
	bool ok, broken;
};

static struct hsm hsm;

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[1024];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Run argv with stdout and stderr appended to hsm.log; return the exit status. */
static int run(const char *const *argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, hsm.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void dump_log(void)
{
	size_t len = 0;
	uint8_t *buf = NULL;

	if (read_file(hsm.log, 1 << 16, &buf, &len) == 0) {
		fprintf(stderr, "# tool output:\n%.*s\n", (int)len, (const char *)buf);
		free(buf);
	}
}

static int p11_tool(const char *const *extra)
{
	const char *argv[32] = { "pkcs11-tool", "--module", hsm.module, "--token-label",
				 "kagi",        "--login",  "--pin",    PIN };
	size_t n = 8;

	for (size_t i = 0; extra[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return run(argv);
}

static int setup_hsm(void **state)
{
	static const char *const modules[] = {
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib64/pkcs11/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
	};
	char tokdir[128], conf[512];
	int r;

	if (setup_tmp(state) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(modules) && !hsm.module[0]; i++)
		if (access(modules[i], R_OK) == 0)
			snprintf(hsm.module, sizeof(hsm.module), "%s", modules[i]);
	if (!hsm.module[0] || !in_path("softhsm2-util") || !in_path("pkcs11-tool"))
		return 0; /* tests skip */
	tpath("tool.log", hsm.log, sizeof(hsm.log));
	tpath("tokens", tokdir, sizeof(tokdir));
	if (mkdir(tokdir, 0700) < 0)
		return -1;
	snprintf(conf, sizeof(conf),
		 "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
		 tokdir);
	tpath("softhsm2.conf", hsm.conf, sizeof(hsm.conf));
	write_file(hsm.conf, conf, strlen(conf), 0600);
	setenv("SOFTHSM2_CONF", hsm.conf, 1);
	tpath("pin", hsm.pin, sizeof(hsm.pin));
	write_file(hsm.pin, PIN "\n", strlen(PIN) + 1, 0600);

	r = run((const char *const[]){ "softhsm2-util", "--init-token", "--free", "--label", "kagi",
				       "--so-pin", SO_PIN, "--pin", PIN, NULL });
	if (r == 0)
		/* AES-256, sensitive, never extractable, encrypt+decrypt allowed */
		r = p11_tool((const char *const[]){ "--keygen", "--key-type", "AES:32", "--label",
						    "kagi-kek", "--sensitive", "--usage-decrypt",
						    NULL });
	if (r != 0) {
		/* the tools are here but failed: the PKCS#11 tests fail (not skip) */
		dump_log();
		fprintf(stderr, "# could not create the SoftHSM2 token (exit %d)\n", r);
		hsm.broken = true;
		return 0;
	}
	hsm.ok = true;
	return 0;
}

static int teardown_tmp(void **state)
{
	(void)state;
	rm_rf(tmpdir);
	return 0;
}

static void need_hsm(void)
{
	if (hsm.broken)
		fail_msg("the SoftHSM2 token could not be created (see the tool output above)");
	if (!hsm.ok) {
		fprintf(stderr, "# softhsm2-util, pkcs11-tool or libsofthsm2.so missing\n");
		skip();
	}
}

static void p11_url(char *buf, size_t len, const char *token, const char *object,
		    const char *pin_file)
{
	snprintf(buf, len, "pkcs11:module=%s;token=%s;object=%s;pin-file=%s", hsm.module, token,
		 object, pin_file);
}

static struct kek *open_p11(const char *object)
{
	char url[768];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	p11_url(url, sizeof(url), "kagi", object, hsm.pin);
	if (kek_open(url, &k, &e) < 0)
		fail_msg("kek_open(%s): %s: %s", url, e.what, e.msg);
	return k;
}

static void test_kek_pkcs11_roundtrip(void **state)
{
	struct kek *k;

	(void)state;
	need_hsm();
	k = open_p11("kagi-kek");
	roundtrip(k, 16);
	roundtrip(k, 32);
	roundtrip(k, 64);
	kek_close(k);
}

static void test_kek_pkcs11_bad_aad(void **state)
{
	struct kek *k;

	(void)state;
	need_hsm();
	k = open_p11("kagi-kek");
	check_bad_aad(k);
	kek_close(k);
}

static void test_kek_pkcs11_bad_tampered(void **state)
{
	struct kek *k;

	(void)state;
	need_hsm();
	k = open_p11("kagi-kek");
	check_tamper(k);
	kek_close(k);
}

static void test_kek_pkcs11_bad_pin(void **state)
{
	char url[768], pin[128];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	(void)state;
	need_hsm();
	write_file(tpath("wrong-pin", pin, sizeof(pin)), "9999\n", 5, 0600);
	p11_url(url, sizeof(url), "kagi", "kagi-kek", pin);
	expect_err(kek_open(url, &k, &e), -EACCES, &e, "C_Login failed: CKR_PIN_INCORRECT");
	assert_string_equal(e.what, "kek.pkcs11.login");
	assert_non_null(strstr(e.msg, "the PIN is wrong"));
	assert_non_null(strstr(e.msg, pin));
	assert_null(k);
	/* the right PIN still works afterwards */
	kek_close(open_p11("kagi-kek"));
}

static void test_kek_pkcs11_bad_pin_file(void **state)
{
	char url[768], pin[128];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	(void)state;
	need_hsm();
	write_file(tpath("open-pin", pin, sizeof(pin)), PIN, 4, 0644);
	p11_url(url, sizeof(url), "kagi", "kagi-kek", pin);
	expect_err(kek_open(url, &k, &e), -EPERM, &e, "chmod 600");
	write_file(pin, "", 0, 0600);
	expect_err(kek_open(url, &k, &e), -EINVAL, &e, "is empty");
	p11_url(url, sizeof(url), "kagi", "kagi-kek", "/nonexistent/pin");
	expect_err(kek_open(url, &k, &e), -ENOENT, &e, "/nonexistent/pin");
	assert_null(k);
}

static void test_kek_pkcs11_bad_token(void **state)
{
	char url[768];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	(void)state;
	need_hsm();
	p11_url(url, sizeof(url), "other", "kagi-kek", hsm.pin);
	expect_err(kek_open(url, &k, &e), -ENODEV, &e, "no token labeled 'other'");
	assert_non_null(strstr(e.msg, "'kagi'")); /* lists the tokens present */
	assert_null(k);
}

static void test_kek_pkcs11_bad_object(void **state)
{
	char url[768];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	(void)state;
	need_hsm();
	p11_url(url, sizeof(url), "kagi", "no-such-key", hsm.pin);
	expect_err(kek_open(url, &k, &e), -ENOENT, &e, "no secret key labeled 'no-such-key'");
	assert_null(k);
}

static void test_kek_pkcs11_bad_module(void **state)
{
	char url[768];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	(void)state;
	snprintf(url, sizeof(url), "pkcs11:module=%s/none.so;token=kagi;object=x;pin-file=/p",
		 tmpdir);
	expect_err(kek_open(url, &k, &e), -ENOENT, &e, "cannot load PKCS#11 module");
	/* a shared object that is not a PKCS#11 module */
	snprintf(url, sizeof(url), "pkcs11:module=%s;token=kagi;object=x;pin-file=/p",
		 "/lib/x86_64-linux-gnu/libz.so.1");
	if (access("/lib/x86_64-linux-gnu/libz.so.1", R_OK) == 0)
		expect_err(kek_open(url, &k, &e), -ENOENT, &e, "no C_GetFunctionList");
	assert_null(k);
}

static void test_kek_pkcs11_bad_not_sensitive(void **state)
{
	char kp[128];
	uint8_t key[32];
	struct kagi_err e = { 0 };
	struct kek *k = NULL;
	char url[768];

	(void)state;
	need_hsm();
	assert_true(RAND_bytes(key, sizeof(key)) == 1);
	write_file(tpath("plain-key.bin", kp, sizeof(kp)), key, sizeof(key), 0600);
	if (p11_tool((const char *const[]){ "--write-object", kp, "--type", "secrkey", "--key-type",
					    "AES:32", "--label", "kagi-open", "--usage-decrypt",
					    NULL }) != 0) {
		dump_log();
		fail_msg("pkcs11-tool --write-object failed");
	}
	p11_url(url, sizeof(url), "kagi", "kagi-open", hsm.pin);
	expect_err(kek_open(url, &k, &e), -EPERM, &e, "is not sensitive");
	assert_null(k);
}

/* The same 32 bytes as a KEK file and as a token key: each unwraps what the other wrapped. */
static void test_kek_pkcs11_file_interop(void **state)
{
	static const uint8_t aad[] = "kagi-store-v1\0"
				     "11111111-2222-3333-4444-555555555555";
	char kp[128], url[160];
	uint8_t key[32], vk[48];
	struct kagi_err e = { 0 };
	struct kek *kf = NULL, *kt;
	struct secret *plain, *back = NULL;
	uint8_t *w = NULL;
	size_t wl;

	(void)state;
	need_hsm();
	assert_true(RAND_bytes(key, sizeof(key)) == 1);
	assert_true(RAND_bytes(vk, sizeof(vk)) == 1);
	write_file(tpath("shared-kek.bin", kp, sizeof(kp)), key, sizeof(key), 0600);
	if (p11_tool((const char *const[]){ "--write-object", kp, "--type", "secrkey", "--key-type",
					    "AES:32", "--label", "kagi-shared", "--sensitive",
					    "--usage-decrypt", NULL }) != 0) {
		dump_log();
		fail_msg("pkcs11-tool --write-object failed");
	}
	snprintf(url, sizeof(url), "file:%s", kp);
	assert_int_equal(kek_open(url, &kf, &e), 0);
	kt = open_p11("kagi-shared");
	plain = secret_of(vk, sizeof(vk));

	assert_int_equal(kek_wrap(kf, plain, aad, sizeof(aad), &w, &wl, &e), 0);
	if (kek_unwrap(kt, w, wl, aad, sizeof(aad), &back, &e) < 0)
		fail_msg("token cannot unwrap what the file KEK wrapped: %s", e.msg);
	assert_memory_equal(back->data, vk, sizeof(vk));
	secret_free(back);
	free(w);

	assert_int_equal(kek_wrap(kt, plain, aad, sizeof(aad), &w, &wl, &e), 0);
	if (kek_unwrap(kf, w, wl, aad, sizeof(aad), &back, &e) < 0)
		fail_msg("file KEK cannot unwrap what the token wrapped: %s", e.msg);
	assert_memory_equal(back->data, vk, sizeof(vk));
	secret_free(back);
	free(w);

	/* and a different token key cannot */
	{
		struct kek *other = open_p11("kagi-kek");

		assert_int_equal(kek_wrap(kf, plain, aad, sizeof(aad), &w, &wl, &e), 0);
		expect_err(kek_unwrap(other, w, wl, aad, sizeof(aad), &back, &e), -EBADMSG, &e,
			   "does not authenticate");
		free(w);
		kek_close(other);
	}
	secret_free(plain);
	kek_close(kt);
	kek_close(kf);
}

/* Two KEKs on one module: closing one must not finalize the module under the other. */
static void test_kek_pkcs11_two_open(void **state)
{
	struct kek *a, *b;

	(void)state;
	need_hsm();
	a = open_p11("kagi-kek");
	b = open_p11("kagi-kek");
	roundtrip(a, 32);
	kek_close(a);
	roundtrip(b, 32);
	kek_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kek_file_roundtrip),
		cmocka_unit_test(test_kek_file_bad_aad),
		cmocka_unit_test(test_kek_file_bad_tampered),
		cmocka_unit_test(test_kek_file_bad_other_kek),
		cmocka_unit_test(test_kek_unwrap_bad_size),
		cmocka_unit_test(test_kek_wrap_bad_len),
		cmocka_unit_test(test_kek_file_bad_size),
		cmocka_unit_test(test_kek_file_bad_mode),
		cmocka_unit_test(test_kek_file_bad_missing),
		cmocka_unit_test(test_kek_open_bad_url),
		cmocka_unit_test(test_kek_pkcs11_roundtrip),
		cmocka_unit_test(test_kek_pkcs11_bad_aad),
		cmocka_unit_test(test_kek_pkcs11_bad_tampered),
		cmocka_unit_test(test_kek_pkcs11_bad_pin),
		cmocka_unit_test(test_kek_pkcs11_bad_pin_file),
		cmocka_unit_test(test_kek_pkcs11_bad_token),
		cmocka_unit_test(test_kek_pkcs11_bad_object),
		cmocka_unit_test(test_kek_pkcs11_bad_module),
		cmocka_unit_test(test_kek_pkcs11_bad_not_sensitive),
		cmocka_unit_test(test_kek_pkcs11_file_interop),
		cmocka_unit_test(test_kek_pkcs11_two_open),
	};
	return cmocka_run_group_tests_name("kek", tests, setup_hsm, teardown_tmp);
}
