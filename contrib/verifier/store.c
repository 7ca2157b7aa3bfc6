// SPDX-License-Identifier: Apache-2.0
/*
 * store.c: the verifier's SQLite store (wrapped volume keys, used challenge tokens).
 *
 * One database file in WAL mode with a 5 s busy timeout, so kagictl and any number of verifier
 * processes can share it. Every statement is prepared with bound parameters. Volume keys are
 * stored only as kek_wrap() output with AAD = "kagi-store-v1\0" || uuid, so a wrapped key
 * copied to another row does not decrypt. Database errors carry sqlite3_errmsg() and map to
 * errno values callers can act on: locked -EBUSY, read-only -EROFS, disk full -ENOSPC.
 * The cached statements belong to one connection, so a mutex serializes the public calls
 * (a store_key_list() callback must not call back into the same store).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "util.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_AAD_PREFIX     "kagi-store-v1" /* followed by its NUL, then the uuid */
#define STORE_AAD_LEN        (sizeof(STORE_AAD_PREFIX) + 36)
#define STORE_KEY_MIN        16
#define STORE_KEY_MAX        64
#define STORE_WRAPPED_MAX    1024
#define STORE_LABEL_MAX      127
#define STORE_BUSY_MS        5000

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_KEY_ADD,
	ST_KEY_GET,
	ST_KEY_REVOKE,
	ST_KEY_REVOKED_AT,
	ST_KEY_LIST,
	ST_TOKEN_PURGE,
	ST_TOKEN_ADD,
	ST_MAX
};

static const char *const stmt_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_KEY_ADD] = "INSERT INTO keys (uuid, wrapped, label, created, revoked, revoked_at) "
		       "VALUES (?1, ?2, ?3, ?4, 0, NULL)",
	[ST_KEY_GET] = "SELECT wrapped, revoked, revoked_at FROM keys WHERE uuid = ?1",
	[ST_KEY_REVOKE] = "UPDATE keys SET revoked = 1, revoked_at = ?2 "
			  "WHERE uuid = ?1 AND revoked = 0",
	[ST_KEY_REVOKED_AT] = "SELECT revoked FROM keys WHERE uuid = ?1",
	[ST_KEY_LIST] = "SELECT uuid, label, created, revoked, revoked_at FROM keys "
			"ORDER BY created, uuid",
	[ST_TOKEN_PURGE] = "DELETE FROM tokens WHERE expires < ?1",
	[ST_TOKEN_ADD] = "INSERT INTO tokens (id, expires) VALUES (?1, ?2)",
};

static const char *const schema_sql[] = {
	"CREATE TABLE schema_version (version INTEGER NOT NULL)",
	"CREATE TABLE keys ("
	" uuid TEXT PRIMARY KEY NOT NULL,"
	" wrapped BLOB NOT NULL,"
	" label TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" revoked_at INTEGER)",
	"CREATE TABLE tokens (id BLOB PRIMARY KEY NOT NULL, expires INTEGER NOT NULL)",
	"CREATE INDEX tokens_expires ON tokens (expires)",
	"INSERT INTO schema_version (version) VALUES (1)",
};

struct store {
	sqlite3 *db;
	struct kek *kek;
	char *path;
	sqlite3_stmt *st[ST_MAX];
	pthread_mutex_t lock;
};

/* ---- errors ---------------------------------------------------------------------------------- */

static int sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_TOOBIG:
		return -E2BIG;
	default:
		return -EIO;
	}
}

/* "store.db": "<op> in '<path>': <sqlite3_errmsg> (SQLite error N)". */
static int db_fail(struct store *s, int rc, const char *op, struct kagi_err *e)
{
	const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	int r = sqlite_errno(rc);

	/* CANTOPEN says little; the system errno says why */
	if ((rc & 0xff) == SQLITE_CANTOPEN && s->db && sqlite3_system_errno(s->db) > 0)
		r = -sqlite3_system_errno(s->db);
	return kagi_err_set(e, r, "store.db", KAGI_ERR_NO_OFFSET,
			    "%s in '%s': %s (SQLite error %d)", op, s->path, msg, rc);
}

/* ---- helpers --------------------------------------------------------------------------------- */

static bool uuid_valid(const char *u)
{
	if (!u || strlen(u) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return false;
		} else if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

static int check_uuid(const char *uuid, struct kagi_err *e)
{
	if (!uuid_valid(uuid))
		return kagi_err_set(e, -EINVAL, "store.uuid", KAGI_ERR_NO_OFFSET,
				    "'%.40s' is not a canonical lowercase UUID", uuid ? uuid : "");
	return 0;
}

static void store_aad(const char *uuid, uint8_t aad[STORE_AAD_LEN])
{
	memcpy(aad, STORE_AAD_PREFIX, sizeof(STORE_AAD_PREFIX)); /* with its NUL */
	memcpy(aad + sizeof(STORE_AAD_PREFIX), uuid, 36);
}

static void stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Run a constant statement once (schema, pragmas): prepared like every other statement. */
static int exec1(struct store *s, const char *sql, const char *op, struct kagi_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(s, rc, op, e);
	do
		rc = sqlite3_step(st);
	while (rc == SQLITE_ROW);
	if (rc != SQLITE_DONE) {
		int r = db_fail(s, rc, op, e);

		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	return 0;
}

static int step_simple(struct store *s, int which, const char *op, struct kagi_err *e)
{
	int rc = sqlite3_step(s->st[which]);
	int r = 0;

	if (rc != SQLITE_DONE)
		r = db_fail(s, rc, op, e);
	stmt_done(s->st[which]);
	return r;
}

static int tx_begin(struct store *s, struct kagi_err *e)
{
	return step_simple(s, ST_BEGIN, "starting a transaction", e);
}

static int tx_commit(struct store *s, struct kagi_err *e)
{
	return step_simple(s, ST_COMMIT, "committing", e);
}

static void tx_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)step_simple(s, ST_ROLLBACK, "rolling back", NULL);
}

/* ---- open / schema --------------------------------------------------------------------------- */

/* Create the file with mode 0600 before SQLite does (SQLite would use 0644 & ~umask); the WAL
 * and shared-memory files SQLite creates later copy the database file's permissions. */
static int create_private(const char *path, struct kagi_err *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		return kagi_err_set(e, -errno, "store.open", KAGI_ERR_NO_OFFSET,
				    "cannot create '%s': %s", path, strerror(errno));
	}
	(void)fchmod(fd, 0600);
	close(fd);
	return 0;
}

static int schema_version(struct store *s, int *ret, struct kagi_err *e)
{
	static const char sql_has[] =
		"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
		"'schema_version'";
	static const char sql_ver[] = "SELECT max(version) FROM schema_version";
	sqlite3_stmt *st = NULL;
	int rc, n;

	rc = sqlite3_prepare_v2(s->db, sql_has, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(s, rc, "reading the schema", e);
	rc = sqlite3_step(st);
	n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return db_fail(s, rc, "reading the schema", e);
	if (n == 0) {
		*ret = 0;
		return 0;
	}
	rc = sqlite3_prepare_v2(s->db, sql_ver, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(s, rc, "reading the schema version", e);
	rc = sqlite3_step(st);
	n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return db_fail(s, rc, "reading the schema version", e);
	*ret = n;
	return 0;
}

static int schema_setup(struct store *s, struct kagi_err *e)
{
	int v, r;

	r = schema_version(s, &v, e);
	if (r < 0)
		return r;
	if (v == 0) {
		/* re-check inside a write transaction: another process may be creating it */
		r = exec1(s, "BEGIN IMMEDIATE", "creating the schema", e);
		if (r < 0)
			return r;
		r = schema_version(s, &v, e);
		for (size_t i = 0; r >= 0 && v == 0 && i < ARRAY_SIZE(schema_sql); i++)
			r = exec1(s, schema_sql[i], "creating the schema", e);
		if (r >= 0)
			r = exec1(s, "COMMIT", "creating the schema", e);
		if (r < 0) {
			(void)exec1(s, "ROLLBACK", "creating the schema", NULL);
			return r;
		}
		if (v == 0)
			v = STORE_SCHEMA_VERSION;
	}
	if (v != STORE_SCHEMA_VERSION)
		return kagi_err_set(e, -EPROTONOSUPPORT, "store.schema", KAGI_ERR_NO_OFFSET,
				    "'%s' has schema version %d, this kagi knows version %d",
				    s->path, v, STORE_SCHEMA_VERSION);
	return 0;
}

int store_open(const char *url, struct kek *kek, struct store **ret, struct kagi_err *reterr)
{
	struct store *s;
	const char *path = url;
	int rc, r;

	if (!url || !*url)
		return kagi_err_set(reterr, -EINVAL, "store.url", KAGI_ERR_NO_OFFSET,
				    "no store configured (sqlite:/path/to/kagi.db)");
	if (!strncmp(url, "sqlite:", 7))
		path = url + 7;
	else if (strchr(url, ':') && url[0] != '/' && url[0] != '.')
		return kagi_err_set(reterr, -EINVAL, "store.url", KAGI_ERR_NO_OFFSET,
				    "unknown store '%.*s:...': expected sqlite:PATH",
				    (int)strcspn(url, ":"), url);
	if (!*path || strlen(path) > 4096)
		return kagi_err_set(reterr, -EINVAL, "store.url", KAGI_ERR_NO_OFFSET,
				    "store path must have 1 to 4096 characters");
	if (!kek)
		return kagi_err_set(reterr, -EINVAL, "store.kek", KAGI_ERR_NO_OFFSET,
				    "the store needs a KEK");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kek = kek;
	pthread_mutex_init(&s->lock, NULL);
	s->path = strdup(path);
	if (!s->path) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -ENOMEM;
	}
	r = create_private(path, reterr);
	if (r < 0)
		goto fail;
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc != SQLITE_OK) {
		r = db_fail(s, rc, "opening the database", reterr);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	/* WAL fails on a read-only file; reads still work in the current journal mode */
	r = exec1(s, "PRAGMA journal_mode = WAL", "enabling WAL", reterr);
	if (r < 0 && r != -EROFS)
		goto fail;
	r = exec1(s, "PRAGMA synchronous = FULL", "setting synchronous mode", reterr);
	if (r >= 0)
		r = exec1(s, "PRAGMA foreign_keys = ON", "enabling foreign keys", reterr);
	if (r >= 0)
		r = exec1(s, "PRAGMA secure_delete = ON", "enabling secure delete", reterr);
	if (r < 0)
		goto fail;
	r = schema_setup(s, reterr);
	if (r < 0)
		goto fail;
	for (int i = 0; i < ST_MAX; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->st[i], NULL);
		if (rc != SQLITE_OK) {
			r = db_fail(s, rc, "preparing a statement", reterr);
			goto fail;
		}
	}
	*ret = s;
	return 0;
fail:
	store_close(s);
	return r;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

/* ---- keys ------------------------------------------------------------------------------------ */

static int check_label(const char *label, struct kagi_err *e)
{
	size_t n = strlen(label);

	if (n > STORE_LABEL_MAX)
		return kagi_err_set(e, -EINVAL, "store.label", KAGI_ERR_NO_OFFSET,
				    "label has %zu bytes, at most %d", n, STORE_LABEL_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
			return kagi_err_set(e, -EINVAL, "store.label", KAGI_ERR_NO_OFFSET,
					    "label has a control character at position %zu", i);
	return 0;
}

static int store_key_add_locked(struct store *s, const char *uuid, const struct secret *key,
				const char *label, struct kagi_err *reterr)
{
	_cleanup_free_ uint8_t *wrapped = NULL;
	uint8_t aad[STORE_AAD_LEN];
	sqlite3_stmt *st = s->st[ST_KEY_ADD];
	size_t wlen;
	int rc, r;

	if (!label)
		label = "";
	r = check_uuid(uuid, reterr);
	if (r < 0)
		return r;
	if (!key || key->len < STORE_KEY_MIN || key->len > STORE_KEY_MAX)
		return kagi_err_set(reterr, -EINVAL, "store.key", KAGI_ERR_NO_OFFSET,
				    "a volume key has %d to %d bytes, not %zu", STORE_KEY_MIN,
				    STORE_KEY_MAX, key ? key->len : 0);
	r = check_label(label, reterr);
	if (r < 0)
		return r;
	store_aad(uuid, aad);
	r = kek_wrap(s->kek, key, aad, sizeof(aad), &wrapped, &wlen, reterr);
	if (r < 0)
		return kagi_err_prefix(reterr, r, "cannot wrap the key of volume %s", uuid);
	if (sqlite3_bind_text(st, 1, uuid, 36, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(st, 2, wrapped, (int)wlen, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL)) != SQLITE_OK) {
		r = db_fail(s, sqlite3_errcode(s->db), "binding parameters", reterr);
		stmt_done(st);
		return r;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r = 0;
	else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		r = kagi_err_set(reterr, -EEXIST, "store.exists", KAGI_ERR_NO_OFFSET,
				 "volume %s already has a key (revoked keys stay registered)",
				 uuid);
	else
		r = db_fail(s, rc, "adding a key", reterr);
	stmt_done(st);
	return r;
}

static int store_key_get_locked(struct store *s, const char *uuid, struct secret **ret,
				struct kagi_err *reterr)
{
	_cleanup_free_ uint8_t *wrapped = NULL;
	uint8_t aad[STORE_AAD_LEN];
	sqlite3_stmt *st = s->st[ST_KEY_GET];
	struct secret *key = NULL;
	size_t wlen;
	int rc, r;

	r = check_uuid(uuid, reterr);
	if (r < 0)
		return r;
	if (sqlite3_bind_text(st, 1, uuid, 36, SQLITE_STATIC) != SQLITE_OK) {
		r = db_fail(s, sqlite3_errcode(s->db), "binding parameters", reterr);
		stmt_done(st);
		return r;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		stmt_done(st);
		return kagi_err_set(reterr, -ENOENT, "store.unknown", KAGI_ERR_NO_OFFSET,
				    "no key is registered for volume %s", uuid);
	}
	if (rc != SQLITE_ROW) {
		r = db_fail(s, rc, "reading a key", reterr);
		stmt_done(st);
		return r;
	}
	if (sqlite3_column_int64(st, 1) != 0) {
		time_t at = (time_t)sqlite3_column_int64(st, 2);
		char when[32] = "an unknown time";
		struct tm tm;

		if (gmtime_r(&at, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		stmt_done(st);
		return kagi_err_set(reterr, -EKEYREVOKED, "store.revoked", KAGI_ERR_NO_OFFSET,
				    "the key of volume %s was revoked at %s", uuid, when);
	}
	wlen = (size_t)sqlite3_column_bytes(st, 0);
	if (sqlite3_column_type(st, 0) != SQLITE_BLOB || wlen == 0 || wlen > STORE_WRAPPED_MAX) {
		stmt_done(st);
		return kagi_err_set(reterr, -EBADMSG, "store.wrapped", KAGI_ERR_NO_OFFSET,
				    "the stored key of volume %s is not a wrapped key (%zu bytes)",
				    uuid, wlen);
	}
	wrapped = malloc(wlen);
	if (!wrapped) {
		stmt_done(st);
		return -ENOMEM;
	}
	memcpy(wrapped, sqlite3_column_blob(st, 0), wlen);
	stmt_done(st);

	store_aad(uuid, aad);
	r = kek_unwrap(s->kek, wrapped, wlen, aad, sizeof(aad), &key, reterr);
	if (r < 0)
		return kagi_err_prefix(reterr, r, "cannot unwrap the key of volume %s", uuid);
	if (key->len < STORE_KEY_MIN || key->len > STORE_KEY_MAX) {
		size_t n = key->len;

		secret_free(key);
		return kagi_err_set(reterr, -EBADMSG, "store.wrapped", KAGI_ERR_NO_OFFSET,
				    "the key of volume %s has %zu bytes, expected %d to %d", uuid,
				    n, STORE_KEY_MIN, STORE_KEY_MAX);
	}
	*ret = key;
	return 0;
}

static int store_key_revoke_locked(struct store *s, const char *uuid, struct kagi_err *reterr)
{
	sqlite3_stmt *st;
	int rc, r;

	r = check_uuid(uuid, reterr);
	if (r < 0)
		return r;
	st = s->st[ST_KEY_REVOKE];
	if (sqlite3_bind_text(st, 1, uuid, 36, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL)) != SQLITE_OK) {
		r = db_fail(s, sqlite3_errcode(s->db), "binding parameters", reterr);
		stmt_done(st);
		return r;
	}
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, rc, "revoking a key", reterr);
	if (sqlite3_changes(s->db) > 0)
		return 0;
	/* nothing changed: unknown, or revoked before (then keep the first revocation time) */
	st = s->st[ST_KEY_REVOKED_AT];
	if (sqlite3_bind_text(st, 1, uuid, 36, SQLITE_STATIC) != SQLITE_OK) {
		r = db_fail(s, sqlite3_errcode(s->db), "binding parameters", reterr);
		stmt_done(st);
		return r;
	}
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc == SQLITE_DONE)
		return kagi_err_set(reterr, -ENOENT, "store.unknown", KAGI_ERR_NO_OFFSET,
				    "no key is registered for volume %s", uuid);
	if (rc != SQLITE_ROW)
		return db_fail(s, rc, "reading a key", reterr);
	return 1; /* already revoked */
}

static int store_key_list_locked(struct store *s,
				 int (*cb)(const struct store_key_info *info, void *userdata),
				 void *userdata, struct kagi_err *reterr)
{
	sqlite3_stmt *st = s->st[ST_KEY_LIST];
	int rc, r = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_key_info info = { 0 };
		const unsigned char *u = sqlite3_column_text(st, 0);
		const unsigned char *l = sqlite3_column_text(st, 1);

		if (!u || strlen((const char *)u) != 36) {
			r = kagi_err_set(reterr, -EBADMSG, "store.uuid", KAGI_ERR_NO_OFFSET,
					 "the store has a row whose uuid is not a UUID");
			break;
		}
		memcpy(info.uuid, u, 36);
		if (l)
			snprintf(info.label, sizeof(info.label), "%s", (const char *)l);
		info.created = (time_t)sqlite3_column_int64(st, 2);
		info.revoked = sqlite3_column_int64(st, 3) != 0;
		info.revoked_at = (time_t)sqlite3_column_int64(st, 4);
		r = cb(&info, userdata);
		if (r < 0)
			break;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = db_fail(s, rc, "listing keys", reterr);
	stmt_done(st);
	return r < 0 ? r : 0;
}

/* ---- challenge tokens ------------------------------------------------------------------------ */

static int store_token_use_locked(struct store *s, const uint8_t token_id[16], time_t expires,
				  struct kagi_err *reterr)
{
	sqlite3_stmt *st;
	int rc, r;

	r = tx_begin(s, reterr);
	if (r < 0)
		return r;
	st = s->st[ST_TOKEN_PURGE];
	if (sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL)) != SQLITE_OK) {
		r = db_fail(s, sqlite3_errcode(s->db), "binding parameters", reterr);
		stmt_done(st);
		goto fail;
	}
	r = step_simple(s, ST_TOKEN_PURGE, "purging expired tokens", reterr);
	if (r < 0)
		goto fail;
	st = s->st[ST_TOKEN_ADD];
	if (sqlite3_bind_blob(st, 1, token_id, 16, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (sqlite3_int64)expires) != SQLITE_OK) {
		r = db_fail(s, sqlite3_errcode(s->db), "binding parameters", reterr);
		stmt_done(st);
		goto fail;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		r = kagi_err_set(reterr, -EALREADY, "store.token_used", KAGI_ERR_NO_OFFSET,
				 "this challenge token was already used");
	else if (rc != SQLITE_DONE)
		r = db_fail(s, rc, "recording a token", reterr);
	stmt_done(st);
	if (r < 0)
		goto fail;
	r = tx_commit(s, reterr);
	if (r < 0)
		goto fail;
	return 0;
fail:
	tx_rollback(s);
	return r;
}

int store_key_add(struct store *s, const char *uuid, const struct secret *key, const char *label,
		  struct kagi_err *reterr)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = store_key_add_locked(s, uuid, key, label, reterr);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_key_get(struct store *s, const char *uuid, struct secret **ret, struct kagi_err *reterr)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = store_key_get_locked(s, uuid, ret, reterr);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_key_revoke(struct store *s, const char *uuid, struct kagi_err *reterr)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = store_key_revoke_locked(s, uuid, reterr);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_key_list(struct store *s, int (*cb)(const struct store_key_info *info, void *userdata),
		   void *userdata, struct kagi_err *reterr)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = store_key_list_locked(s, cb, userdata, reterr);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_token_use(struct store *s, const uint8_t token_id[16], time_t expires,
		    struct kagi_err *reterr)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = store_token_use_locked(s, token_id, expires, reterr);
	pthread_mutex_unlock(&s->lock);
	return r;
}
