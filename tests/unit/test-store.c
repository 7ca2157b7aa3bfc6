// SPDX-License-Identifier: Apache-2.0
/* test-store.c: the verifier's SQLite store with a file KEK, in a temporary directory. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "kek.h"
#include "store.h"

#define UUID_A "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
#define UUID_B "1b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
#define UUID_C "2b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"

struct fixture {
	char dir[64];
	char db[128];
	char url[160];
	char kek_url[160];
	struct kek *kek;
	struct store *store;
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void write_kek(const char *path, const uint8_t key[32])
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, key, 32), 32);
	close(fd);
}

static struct kek *open_kek(const char *url)
{
	struct kagi_err e = { 0 };
	struct kek *k = NULL;

	if (kek_open(url, &k, &e) < 0)
		fail_msg("kek_open: %s", e.msg);
	return k;
}

static struct store *open_store(struct fixture *f, struct kek *k)
{
	struct kagi_err e = { 0 };
	struct store *s = NULL;

	if (store_open(f->url, k, &s, &e) < 0)
		fail_msg("store_open: %s: %s", e.what, e.msg);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t key[32];
	char kp[128];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kagi-test-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/kagi.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->db);
	snprintf(kp, sizeof(kp), "%s/kek.bin", f->dir);
	snprintf(f->kek_url, sizeof(f->kek_url), "file:%s", kp);
	RAND_bytes(key, sizeof(key));
	write_kek(kp, key);
	f->kek = open_kek(f->kek_url);
	f->store = open_store(f, f->kek);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->store);
	kek_close(f->kek);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct secret *random_key(size_t n)
{
	struct secret *s = secret_new(n);

	assert_non_null(s);
	assert_true(RAND_bytes(s->data, (int)n) == 1);
	return s;
}

static void add(struct store *s, const char *uuid, const struct secret *key, const char *label)
{
	struct kagi_err e = { 0 };

	if (store_key_add(s, uuid, key, label, &e) < 0)
		fail_msg("store_key_add(%s): %s", uuid, e.msg);
}

static void expect_err(int r, int want, const struct kagi_err *e, const char *needle)
{
	if (r != want)
		fail_msg("expected %d, got %d (%s: %s)", want, r, e->what ? e->what : "-", e->msg);
	if (needle && !strstr(e->msg, needle))
		fail_msg("message '%s' lacks '%s'", e->msg, needle);
}

/* Run one SQL statement on the database file from outside the store. */
static void sql(struct fixture *f, const char *stmt)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", stmt, err);
	sqlite3_close(db);
}

static int sql_int(struct fixture *f, const char *stmt)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, stmt, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void test_store_add_get(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	size_t lens[] = { 16, 32, 64 };
	const char *uuids[] = { UUID_A, UUID_B, UUID_C };

	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		struct secret *k = random_key(lens[i]), *back = NULL;

		add(f->store, uuids[i], k, "web-1");
		if (store_key_get(f->store, uuids[i], &back, &e) < 0)
			fail_msg("store_key_get: %s", e.msg);
		assert_int_equal(back->len, lens[i]);
		assert_memory_equal(back->data, k->data, lens[i]);
		secret_free(back);
		secret_free(k);
	}
}

static void test_store_persists(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32), *back = NULL;

	add(f->store, UUID_A, k, NULL);
	store_close(f->store);
	f->store = open_store(f, f->kek);
	assert_int_equal(store_key_get(f->store, UUID_A, &back, &e), 0);
	assert_memory_equal(back->data, k->data, 32);
	secret_free(back);
	secret_free(k);
}

static void test_store_add_bad_exists(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32), *k2 = random_key(32), *back = NULL;

	add(f->store, UUID_A, k, "first");
	expect_err(store_key_add(f->store, UUID_A, k2, "second", &e), -EEXIST, &e,
		   "already has a key");
	/* the first key is untouched */
	assert_int_equal(store_key_get(f->store, UUID_A, &back, &e), 0);
	assert_memory_equal(back->data, k->data, 32);
	/* still taken after revocation */
	assert_int_equal(store_key_revoke(f->store, UUID_A, &e), 0);
	expect_err(store_key_add(f->store, UUID_A, k2, NULL, &e), -EEXIST, &e, NULL);
	secret_free(back);
	secret_free(k);
	secret_free(k2);
}

static void test_store_get_bad_unknown(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *back = NULL;

	expect_err(store_key_get(f->store, UUID_B, &back, &e), -ENOENT, &e, UUID_B);
	assert_string_equal(e.what, "store.unknown");
	assert_null(back);
	expect_err(store_key_revoke(f->store, UUID_B, &e), -ENOENT, &e, UUID_B);
}

static void test_store_get_bad_revoked(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32), *back = NULL;

	add(f->store, UUID_A, k, NULL);
	add(f->store, UUID_B, k, NULL);
	assert_int_equal(store_key_revoke(f->store, UUID_A, &e), 0);
	expect_err(store_key_get(f->store, UUID_A, &back, &e), -EKEYREVOKED, &e, "was revoked at");
	assert_string_equal(e.what, "store.revoked");
	assert_null(back);
	/* revoking again reports "already revoked" and keeps the first time */
	sql(f, "UPDATE keys SET revoked_at = 1000 WHERE uuid = '" UUID_A "'");
	assert_int_equal(store_key_revoke(f->store, UUID_A, &e), 1);
	assert_int_equal(sql_int(f, "SELECT revoked_at FROM keys WHERE uuid = '" UUID_A "'"), 1000);
	/* the other volume is unaffected */
	assert_int_equal(store_key_get(f->store, UUID_B, &back, &e), 0);
	secret_free(back);
	secret_free(k);
}

struct listed {
	size_t n;
	struct store_key_info info[8];
	size_t stop_after;
};

static int list_cb(const struct store_key_info *info, void *userdata)
{
	struct listed *l = userdata;

	if (l->stop_after && l->n == l->stop_after)
		return -ECANCELED;
	assert_true(l->n < ARRAY_SIZE(l->info));
	l->info[l->n++] = *info;
	return 0;
}

static void test_store_list(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32);
	struct listed l = { 0 };
	time_t now = time(NULL);

	add(f->store, UUID_A, k, "alpha");
	add(f->store, UUID_B, k, "");
	add(f->store, UUID_C, k, "gamma \xc3\xa9");
	assert_int_equal(store_key_revoke(f->store, UUID_B, &e), 0);
	assert_int_equal(store_key_list(f->store, list_cb, &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.info[0].uuid, UUID_A);
	assert_string_equal(l.info[0].label, "alpha");
	assert_false(l.info[0].revoked);
	assert_string_equal(l.info[1].uuid, UUID_B);
	assert_string_equal(l.info[1].label, "");
	assert_true(l.info[1].revoked);
	assert_true(l.info[1].revoked_at >= now - 5 && l.info[1].revoked_at <= now + 5);
	assert_string_equal(l.info[2].label, "gamma \xc3\xa9");
	for (size_t i = 0; i < 3; i++)
		assert_true(l.info[i].created >= now - 5 && l.info[i].created <= now + 5);
	/* a callback error stops the listing and is returned */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(store_key_list(f->store, list_cb, &l, &e), -ECANCELED);
	assert_int_equal(l.n, 1);
	/* and the statement is usable again */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_key_list(f->store, list_cb, &l, &e), 0);
	assert_int_equal(l.n, 3);
	secret_free(k);
}

static void test_store_add_bad_uuid(void **state)
{
	static const char *const bad[] = {
		"0B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9",
		"0b1c2d3e4f5046178293a4b5c6d7e8f9",
		"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f",
		"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9a",
		"0b1c2d3e_4f50-4617-8293-a4b5c6d7e8f9",
		"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8fg",
		"",
	};
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32), *back = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		expect_err(store_key_add(f->store, bad[i], k, NULL, &e), -EINVAL, &e,
			   "not a canonical lowercase UUID");
		expect_err(store_key_get(f->store, bad[i], &back, &e), -EINVAL, &e, NULL);
		expect_err(store_key_revoke(f->store, bad[i], &e), -EINVAL, &e, NULL);
	}
	secret_free(k);
}

static void test_store_add_bad_key_len(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k15 = random_key(15), *k65 = random_key(65);

	expect_err(store_key_add(f->store, UUID_A, k15, NULL, &e), -EINVAL, &e, "not 15");
	expect_err(store_key_add(f->store, UUID_A, k65, NULL, &e), -EINVAL, &e, "not 65");
	expect_err(store_key_add(f->store, UUID_A, NULL, NULL, &e), -EINVAL, &e, NULL);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM keys"), 0);
	secret_free(k15);
	secret_free(k65);
}

static void test_store_add_bad_label(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32);
	char longl[129];

	memset(longl, 'x', 128);
	longl[128] = '\0';
	expect_err(store_key_add(f->store, UUID_A, k, longl, &e), -EINVAL, &e, "at most 127");
	expect_err(store_key_add(f->store, UUID_A, k, "a\nb", &e), -EINVAL, &e,
		   "control character at position 1");
	longl[127] = '\0';
	add(f->store, UUID_A, k, longl);
	secret_free(k);
}

static void test_store_token_replay(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	uint8_t id[16], id2[16];
	time_t exp = time(NULL) + 120;

	RAND_bytes(id, sizeof(id));
	memcpy(id2, id, 16);
	id2[15] ^= 1;
	assert_int_equal(store_token_use(f->store, id, exp, &e), 0);
	expect_err(store_token_use(f->store, id, exp, &e), -EALREADY, &e, "already used");
	assert_string_equal(e.what, "store.token_used");
	assert_int_equal(store_token_use(f->store, id2, exp, &e), 0);
	/* replay is seen from a second connection too (another verifier process) */
	{
		struct store *s2 = open_store(f, f->kek);

		expect_err(store_token_use(s2, id2, exp, &e), -EALREADY, &e, NULL);
		store_close(s2);
	}
	/* the store still works after a refused token (transaction rolled back) */
	id2[0] ^= 1;
	assert_int_equal(store_token_use(f->store, id2, exp, &e), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tokens"), 3);
}

static void test_store_token_purge(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	uint8_t old[16] = { 1 }, live[16] = { 2 }, other[16] = { 3 };
	time_t now = time(NULL);

	assert_int_equal(store_token_use(f->store, old, now - 100, &e), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tokens"), 1);
	/* the next use purges the expired entry */
	assert_int_equal(store_token_use(f->store, live, now + 100, &e), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tokens"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tokens WHERE id = x'01000000000000000000"
				    "000000000000'"),
			 0);
	/* several expired rows at once, live ones stay */
	sql(f, "INSERT INTO tokens (id, expires) VALUES (x'aa', 5), (x'bb', 6), (x'cc', 7)");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tokens"), 4);
	assert_int_equal(store_token_use(f->store, other, now + 100, &e), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM tokens"), 2);
	expect_err(store_token_use(f->store, live, now + 100, &e), -EALREADY, &e, NULL);
}

static bool file_contains(const char *path, const uint8_t *needle, size_t n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	bool found;

	if (read_file(path, 64 << 20, &buf, &len) < 0)
		return false;
	found = memmem(buf, len, needle, n) != NULL;
	free(buf);
	return found;
}

static void test_store_no_plain_keys(void **state)
{
	struct fixture *f = *state;
	struct secret *keys[3] = { random_key(32), random_key(64), random_key(16) };
	const char *uuids[3] = { UUID_A, UUID_B, UUID_C };
	char wal[160];
	struct stat st;

	for (size_t i = 0; i < 3; i++)
		add(f->store, uuids[i], keys[i], "label");
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	/* while open (data in the WAL) and after close (checkpointed into the file) */
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(stat(f->db, &st), 0);
		for (size_t i = 0; i < 3; i++) {
			/* the whole key, and its first 8 bytes */
			assert_false(file_contains(f->db, keys[i]->data, keys[i]->len));
			assert_false(file_contains(f->db, keys[i]->data, 8));
			assert_false(file_contains(wal, keys[i]->data, keys[i]->len));
			assert_false(file_contains(wal, keys[i]->data, 8));
		}
		if (pass == 0) {
			/* the scan does see plain data: the uuid is there */
			assert_true(file_contains(f->db, (const uint8_t *)UUID_A, 36) ||
				    file_contains(wal, (const uint8_t *)UUID_A, 36));
			store_close(f->store);
			f->store = NULL;
		}
	}
	assert_true(file_contains(f->db, (const uint8_t *)UUID_A, 36));
	f->store = open_store(f, f->kek);
	for (size_t i = 0; i < 3; i++)
		secret_free(keys[i]);
}

static void test_store_file_mode(void **state)
{
	struct fixture *f = *state;
	struct secret *k = random_key(32);
	char wal[160];
	struct stat st;

	add(f->store, UUID_A, k, NULL);
	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	if (stat(wal, &st) == 0)
		assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM pragma_journal_mode WHERE "
				    "journal_mode = 'wal'"),
			 1);
	secret_free(k);
}

static void test_store_get_bad_kek(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32), *back = NULL;
	uint8_t other[32];
	char kp[128], url[160];
	struct kek *k2;
	struct store *s2;

	add(f->store, UUID_A, k, NULL);
	RAND_bytes(other, sizeof(other));
	snprintf(kp, sizeof(kp), "%s/other-kek.bin", f->dir);
	write_kek(kp, other);
	snprintf(url, sizeof(url), "file:%s", kp);
	k2 = open_kek(url);
	s2 = open_store(f, k2);
	expect_err(store_key_get(s2, UUID_A, &back, &e), -EBADMSG, &e,
		   "cannot unwrap the key of volume " UUID_A);
	assert_non_null(strstr(e.msg, "wrong KEK"));
	assert_null(back);
	store_close(s2);
	kek_close(k2);
	secret_free(k);
}

/* A wrapped key moved to another volume's row does not unwrap (AAD binds the uuid). */
static void test_store_get_bad_swapped_row(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32), *back = NULL;

	add(f->store, UUID_A, k, NULL);
	secret_free(k);
	k = random_key(32);
	add(f->store, UUID_B, k, NULL);
	sql(f, "UPDATE keys SET wrapped = (SELECT wrapped FROM keys WHERE uuid = '" UUID_A
	       "') WHERE uuid = '" UUID_B "'");
	expect_err(store_key_get(f->store, UUID_B, &back, &e), -EBADMSG, &e,
		   "does not "
		   "authenticate");
	sql(f, "UPDATE keys SET wrapped = x'0102' WHERE uuid = '" UUID_A "'");
	expect_err(store_key_get(f->store, UUID_A, &back, &e), -EBADMSG, &e, "2 bytes");
	sql(f, "UPDATE keys SET wrapped = 'text' WHERE uuid = '" UUID_A "'");
	expect_err(store_key_get(f->store, UUID_A, &back, &e), -EBADMSG, &e, "not a wrapped key");
	assert_null(back);
	secret_free(k);
}

static void test_store_open_bad_schema_version(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct store *s = NULL;

	sql(f, "UPDATE schema_version SET version = 2");
	expect_err(store_open(f->url, f->kek, &s, &e), -EPROTONOSUPPORT, &e, "schema version 2");
	assert_null(s);
}

static void test_store_open_bad_not_db(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct store *s = NULL;
	char p[128], url[160];
	int fd;

	snprintf(p, sizeof(p), "%s/garbage.db", f->dir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(write(fd, "this is not an SQLite database..", 32), 32);
	close(fd);
	snprintf(url, sizeof(url), "sqlite:%s", p);
	expect_err(store_open(url, f->kek, &s, &e), -EBADMSG, &e, "file is not a database");
	assert_string_equal(e.what, "store.db");
	assert_non_null(strstr(e.msg, p));
	assert_null(s);
}

static void test_store_open_bad_url(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct store *s = NULL;
	char url[160];

	expect_err(store_open("postgres://db/kagi", f->kek, &s, &e), -EINVAL, &e,
		   "unknown store 'postgres:");
	expect_err(store_open("", f->kek, &s, &e), -EINVAL, &e, NULL);
	expect_err(store_open("sqlite:", f->kek, &s, &e), -EINVAL, &e, NULL);
	expect_err(store_open(f->url, NULL, &s, &e), -EINVAL, &e, "KEK");
	snprintf(url, sizeof(url), "sqlite:%s/no/such/dir/kagi.db", f->dir);
	expect_err(store_open(url, f->kek, &s, &e), -ENOENT, &e, "cannot create");
	assert_null(s);
	/* a bare path works too */
	assert_int_equal(store_open(f->db, f->kek, &s, &e), 0);
	store_close(s);
}

/* Another process holding the write lock: after the 5 s busy timeout, -EBUSY with SQLite's
 * "database is locked". */
static void test_store_add_bad_busy(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct secret *k = random_key(32);
	sqlite3 *db;
	time_t t0;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	t0 = time(NULL);
	expect_err(store_key_add(f->store, UUID_A, k, NULL, &e), -EBUSY, &e, "database is locked");
	assert_true(time(NULL) - t0 >= 4);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	add(f->store, UUID_A, k, NULL);
	secret_free(k);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_store_add_get),
		T(test_store_persists),
		T(test_store_add_bad_exists),
		T(test_store_get_bad_unknown),
		T(test_store_get_bad_revoked),
		T(test_store_list),
		T(test_store_add_bad_uuid),
		T(test_store_add_bad_key_len),
		T(test_store_add_bad_label),
		T(test_store_token_replay),
		T(test_store_token_purge),
		T(test_store_no_plain_keys),
		T(test_store_file_mode),
		T(test_store_get_bad_kek),
		T(test_store_get_bad_swapped_row),
		T(test_store_open_bad_schema_version),
		T(test_store_open_bad_not_db),
		T(test_store_open_bad_url),
		T(test_store_add_bad_busy),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
