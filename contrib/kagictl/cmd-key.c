// SPDX-License-Identifier: Apache-2.0
/*
 * cmd-key.c: kagictl key add | list | revoke, and kagictl kek generate.
 *
 * The store and the KEK come from --store URL and --kek URL, or from the verifier's
 * configuration file (--config FILE: its 'store' and 'kek' lines; explicit options win).
 * A volume key enters only through standard input (--key-stdin) or is generated here
 * (--generate); it lives in locked memory and is never printed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "err.h"
#include "kagictl.h"
#include "kek.h"
#include "secret.h"
#include "store.h"
#include "util.h"

#define CONFIG_MAX   (1024 * 1024)
#define KEY_MIN      16
#define KEY_MAX      64
#define KEY_GENERATE 32
#define KEK_LEN      32

struct key_opts {
	const char *config, *store, *kek, *volume, *label, *file;
	bool key_stdin, generate, json;
};

static void key_usage(FILE *f)
{
	fputs("Usage: kagictl key add (--config FILE | --store URL --kek URL) --volume UUID\n"
	      "                       [--label TEXT] (--key-stdin | --generate)\n"
	      "       kagictl key list (--config FILE | --store URL --kek URL) [--json]\n"
	      "       kagictl key revoke (--config FILE | --store URL --kek URL) --volume UUID\n"
	      "       kagictl kek generate --file PATH\n"
	      "\n"
	      "  --config FILE  the verifier configuration: its 'store' and 'kek' lines\n"
	      "  --store URL    sqlite:/path/to/kagi.db\n"
	      "  --kek URL      file:/path (32 bytes, mode 0600) or\n"
	      "                 pkcs11:module=PATH;token=LABEL;object=LABEL;pin-file=PATH\n"
	      "  --volume UUID  the LUKS2 UUID of the volume\n"
	      "  --label TEXT   a note shown by 'key list' (at most 127 bytes)\n"
	      "  --key-stdin    read the volume key (16 to 64 raw bytes) from standard input\n"
	      "  --generate     generate a random 32-byte key (nothing of it is printed)\n"
	      "\n"
	      "Exit status: 0 done, 1 refused (key exists, unknown volume, file exists),\n"
	      "2 usage, configuration, store or KEK error.\n",
	      f);
}

/* 0 ok, 1 --help shown, negative on a usage error (already printed) */
static int parse_opts(int argc, char **argv, const char *group, struct key_opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} valued[] = {
		{ "--config", offsetof(struct key_opts, config) },
		{ "--store", offsetof(struct key_opts, store) },
		{ "--kek", offsetof(struct key_opts, kek) },
		{ "--volume", offsetof(struct key_opts, volume) },
		{ "--label", offsetof(struct key_opts, label) },
		{ "--file", offsetof(struct key_opts, file) },
	};

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq = strchr(arg, '=');
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		bool matched = false;

		if (streq(arg, "--key-stdin")) {
			o->key_stdin = true;
			continue;
		}
		if (streq(arg, "--generate")) {
			o->generate = true;
			continue;
		}
		if (streq(arg, "--json")) {
			o->json = true;
			continue;
		}
		if (streq(arg, "--help") || streq(arg, "-h")) {
			key_usage(stdout);
			return 1;
		}
		for (size_t k = 0; k < ARRAY_SIZE(valued) && !matched; k++) {
			const char **slot = (const char **)((char *)o + valued[k].off);

			if (strlen(valued[k].name) != nlen || strncmp(arg, valued[k].name, nlen))
				continue;
			matched = true;
			if (*slot) {
				fprintf(stderr, "kagictl: option '%s' given twice\n",
					valued[k].name);
				return -EINVAL;
			}
			if (eq) {
				*slot = eq + 1;
			} else if (i + 1 < argc) {
				*slot = argv[++i];
			} else {
				fprintf(stderr, "kagictl: option '%s' needs a value\n", arg);
				return -EINVAL;
			}
		}
		if (matched)
			continue;
		if (arg[0] == '-')
			fprintf(stderr, "kagictl: unknown option '%s' for '%s %s'%s\n", arg, group,
				argv[0],
				!strncmp(arg, "--key", 5) ? " (a key is read only from standard "
							    "input: --key-stdin)"
							  : "");
		else
			fprintf(stderr, "kagictl: unexpected argument '%s'\n", arg);
		return -EINVAL;
	}
	return 0;
}

/* ---- the verifier configuration file: only 'store' and 'kek' are read here ------------------- */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/*
 * Lines "key = value", '#' comments (whole lines), blank lines, as kagi-verifier reads them
 * (vconfig.c). Other keys are the server's business and are skipped here; a line without '='
 * or a repeated store/kek line is an error, as it is there.
 */
static int config_read(const char *path, char **ret_store, char **ret_kek)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char *store = NULL, *kek = NULL, *line, *next;
	unsigned store_line = 0, kek_line = 0, n = 0;
	size_t len;
	int r;

	r = read_file(path, CONFIG_MAX, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "kagictl: cannot read configuration '%s': %s\n", path,
			r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	if (memchr(buf, '\0', len)) {
		fprintf(stderr, "kagictl: configuration '%s' contains a NUL byte\n", path);
		return -EINVAL;
	}
	{
		uint8_t *nb = realloc(buf, len + 1);

		if (!nb)
			return -ENOMEM;
		buf = nb;
		buf[len] = '\0';
	}
	for (line = (char *)buf; line; line = next) {
		char *eq, *key, *val, **slot;
		unsigned *slot_line;

		n++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line = trim(line);
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			fprintf(stderr, "kagictl: %s:%u: expected 'key = value'\n", path, n);
			r = -EINVAL;
			goto out;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (streq(key, "store"))
			slot = &store, slot_line = &store_line;
		else if (streq(key, "kek"))
			slot = &kek, slot_line = &kek_line;
		else
			continue;
		if (*slot) {
			fprintf(stderr, "kagictl: %s:%u: '%s' was already set on line %u\n", path,
				n, key, *slot_line);
			r = -EINVAL;
			goto out;
		}
		*slot = strdup(val);
		*slot_line = n;
		if (!*slot) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret_store = store;
	*ret_kek = kek;
	return 0;
out:
	free(store);
	free(kek);
	return r;
}

/* ---- opening the store ----------------------------------------------------------------------- */

static void print_err(const char *prefix, const struct kagi_err *e)
{
	char buf[768];

	fprintf(stderr, "kagictl: %s: %s\n", prefix, kagi_err_str(e, buf, sizeof(buf)));
}

/* KAGICTL_OK, or KAGICTL_USAGE after printing why. */
static int open_store(const struct key_opts *o, struct kek **ret_kek, struct store **ret_store)
{
	_cleanup_free_ char *cstore = NULL, *ckek = NULL;
	const char *store_url, *kek_url;
	struct kagi_err e = { 0 };
	struct kek *kek = NULL;
	int r;

	if (o->config && config_read(o->config, &cstore, &ckek) < 0)
		return KAGICTL_USAGE;
	store_url = o->store ? o->store : cstore;
	kek_url = o->kek ? o->kek : ckek;
	if (!store_url || !kek_url) {
		fprintf(stderr,
			"kagictl: no %s given: use --%s URL, or --config FILE with a "
			"'%s = ...' line\n",
			!store_url ? "store" : "KEK", !store_url ? "store" : "kek",
			!store_url ? "store" : "kek");
		return KAGICTL_USAGE;
	}
	r = kek_open(kek_url, &kek, &e);
	if (r < 0) {
		print_err("cannot open the KEK", &e);
		return KAGICTL_USAGE;
	}
	r = store_open(store_url, kek, ret_store, &e);
	if (r < 0) {
		print_err("cannot open the store", &e);
		kek_close(kek);
		return KAGICTL_USAGE;
	}
	*ret_kek = kek;
	return KAGICTL_OK;
}

/* Lowercase canonical form of a UUID given in either case; false if it is not a UUID. */
static bool uuid_normalize(const char *in, char out[37])
{
	if (strlen(in) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = in[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!isxdigit((unsigned char)c)) {
			return false;
		}
		out[i] = (char)tolower((unsigned char)c);
	}
	out[36] = '\0';
	return true;
}

static int need_volume(const struct key_opts *o, char uuid[37])
{
	if (!o->volume) {
		fprintf(stderr, "kagictl: --volume UUID is required\n");
		return -EINVAL;
	}
	if (!uuid_normalize(o->volume, uuid)) {
		fprintf(stderr,
			"kagictl: --volume '%s' is not a UUID like "
			"0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9\n",
			o->volume);
		return -EINVAL;
	}
	return 0;
}

/* Read 16..64 raw bytes from standard input straight into locked memory. */
static int read_key_stdin(struct secret **ret)
{
	_cleanup_secret_ struct secret *buf = secret_new(KEY_MAX + 1);
	struct secret *key;
	size_t len = 0;

	if (!buf)
		return -ENOMEM;
	if (isatty(STDIN_FILENO)) {
		fprintf(stderr, "kagictl: --key-stdin reads raw key bytes; pipe or redirect them "
				"into standard input\n");
		return -EINVAL;
	}
	while (len <= KEY_MAX) {
		ssize_t n = read(STDIN_FILENO, buf->data + len, KEY_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "kagictl: cannot read the key from standard input: %s\n",
				strerror(errno));
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len < KEY_MIN || len > KEY_MAX) {
		fprintf(stderr,
			"kagictl: standard input held %s%zu bytes; a volume key has %d to %d "
			"bytes\n",
			len > KEY_MAX ? "more than " : "", len > KEY_MAX ? (size_t)KEY_MAX : len,
			KEY_MIN, KEY_MAX);
		return -EINVAL;
	}
	key = secret_new(len);
	if (!key)
		return -ENOMEM;
	memcpy(key->data, buf->data, len);
	*ret = key;
	return 0;
}

static int key_add(const struct key_opts *o)
{
	_cleanup_secret_ struct secret *key = NULL;
	struct kagi_err e = { 0 };
	struct store *store = NULL;
	struct kek *kek = NULL;
	char uuid[37];
	int r, rc;

	if (need_volume(o, uuid) < 0)
		return KAGICTL_USAGE;
	if (o->key_stdin == o->generate) {
		fprintf(stderr, "kagictl: give exactly one of --key-stdin and --generate\n");
		return KAGICTL_USAGE;
	}
	if (o->key_stdin) {
		if (read_key_stdin(&key) < 0)
			return KAGICTL_USAGE;
	} else {
		key = secret_new(KEY_GENERATE);
		if (!key || RAND_priv_bytes(key->data, KEY_GENERATE) != 1) {
			fprintf(stderr, "kagictl: cannot generate a key\n");
			return KAGICTL_USAGE;
		}
	}
	rc = open_store(o, &kek, &store);
	if (rc != KAGICTL_OK)
		return rc;
	r = store_key_add(store, uuid, key, o->label, &e);
	store_close(store);
	kek_close(kek);
	if (r == -EEXIST) {
		fprintf(stderr,
			"kagictl: volume %s already has a key; revoked keys stay "
			"registered, so use a new volume UUID\n",
			uuid);
		return KAGICTL_REJECTED;
	}
	if (r < 0) {
		print_err("cannot add the key", &e);
		return KAGICTL_USAGE;
	}
	printf("key for volume %s added\n", uuid);
	return KAGICTL_OK;
}

static const char *rfc3339(time_t t, char buf[32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "@%lld", (long long)t);
	return buf;
}

struct list_ctx {
	json_object *arr; /* --json */
	size_t n;
};

static int list_cb(const struct store_key_info *info, void *userdata)
{
	struct list_ctx *c = userdata;
	char created[32], revoked[32];

	c->n++;
	rfc3339(info->created, created);
	if (info->revoked)
		rfc3339(info->revoked_at, revoked);
	if (!c->arr) {
		printf("%-36s  %-20s  %-20s  %s\n", info->uuid, created,
		       info->revoked ? revoked : "-", info->label);
		return 0;
	}
	{
		json_object *o = json_object_new_object();

		if (!o || json_object_array_add(c->arr, o) < 0) {
			json_object_put(o);
			return -ENOMEM;
		}
		if (json_object_object_add(o, "uuid", json_object_new_string(info->uuid)) < 0 ||
		    json_object_object_add(o, "label", json_object_new_string(info->label)) < 0 ||
		    json_object_object_add(o, "created", json_object_new_string(created)) < 0 ||
		    json_object_object_add(o, "revoked", json_object_new_boolean(info->revoked)) <
			    0 ||
		    (info->revoked &&
		     json_object_object_add(o, "revoked_at", json_object_new_string(revoked)) < 0))
			return -ENOMEM;
	}
	return 0;
}

static int key_list(const struct key_opts *o)
{
	struct list_ctx c = { 0 };
	struct kagi_err e = { 0 };
	struct store *store = NULL;
	struct kek *kek = NULL;
	int r, rc;

	rc = open_store(o, &kek, &store);
	if (rc != KAGICTL_OK)
		return rc;
	if (o->json) {
		c.arr = json_object_new_array();
		if (!c.arr)
			return KAGICTL_USAGE;
	} else {
		printf("%-36s  %-20s  %-20s  %s\n", "VOLUME", "CREATED", "REVOKED", "LABEL");
	}
	r = store_key_list(store, list_cb, &c, &e);
	store_close(store);
	kek_close(kek);
	if (r < 0) {
		if (r == -ENOMEM)
			kagi_err_set(&e, r, "kagictl", KAGI_ERR_NO_OFFSET, "out of memory");
		print_err("cannot list keys", &e);
		json_object_put(c.arr);
		return KAGICTL_USAGE;
	}
	if (c.arr) {
		puts(json_object_to_json_string_ext(c.arr, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(c.arr);
	}
	return KAGICTL_OK;
}

static int key_revoke(const struct key_opts *o)
{
	struct kagi_err e = { 0 };
	struct store *store = NULL;
	struct kek *kek = NULL;
	char uuid[37];
	int r, rc;

	if (need_volume(o, uuid) < 0)
		return KAGICTL_USAGE;
	rc = open_store(o, &kek, &store);
	if (rc != KAGICTL_OK)
		return rc;
	r = store_key_revoke(store, uuid, &e);
	store_close(store);
	kek_close(kek);
	if (r == -ENOENT) {
		fprintf(stderr, "kagictl: no key is registered for volume %s\n", uuid);
		return KAGICTL_REJECTED;
	}
	if (r < 0) {
		print_err("cannot revoke the key", &e);
		return KAGICTL_USAGE;
	}
	if (r == 1)
		printf("key for volume %s was already revoked\n", uuid);
	else
		printf("key for volume %s revoked\n", uuid);
	return KAGICTL_OK;
}

/* Options that do not belong to a verb are refused rather than ignored. */
static int only(const struct key_opts *o, const char *verb, bool volume, bool label, bool input,
		bool json, bool store)
{
	const char *bad = (!volume && o->volume)                    ? "--volume"
			  : (!label && o->label)                    ? "--label"
			  : (!input && o->key_stdin)                ? "--key-stdin"
			  : (!input && o->generate)                 ? "--generate"
			  : (!json && o->json)                      ? "--json"
			  : (!store && o->config)                   ? "--config"
			  : (!store && o->store)                    ? "--store"
			  : (!store && o->kek)                      ? "--kek"
			  : o->file && !streq(verb, "kek generate") ? "--file"
								    : NULL;

	if (!bad)
		return 0;
	fprintf(stderr, "kagictl: option '%s' does not apply to '%s'\n", bad, verb);
	return -EINVAL;
}

int cmd_key(int argc, char **argv)
{
	struct key_opts o = { 0 };
	int r;

	if (argc < 1) {
		key_usage(stderr);
		return KAGICTL_USAGE;
	}
	if (streq(argv[0], "--help") || streq(argv[0], "-h")) {
		key_usage(stdout);
		return KAGICTL_OK;
	}
	r = parse_opts(argc, argv, "key", &o);
	if (r)
		return r > 0 ? KAGICTL_OK : KAGICTL_USAGE;
	if (streq(argv[0], "add")) {
		if (only(&o, "key add", true, true, true, false, true) < 0)
			return KAGICTL_USAGE;
		return key_add(&o);
	}
	if (streq(argv[0], "list")) {
		if (only(&o, "key list", false, false, false, true, true) < 0)
			return KAGICTL_USAGE;
		return key_list(&o);
	}
	if (streq(argv[0], "revoke")) {
		if (only(&o, "key revoke", true, false, false, false, true) < 0)
			return KAGICTL_USAGE;
		return key_revoke(&o);
	}
	fprintf(stderr, "kagictl: unknown verb 'key %s'\n", argv[0]);
	key_usage(stderr);
	return KAGICTL_USAGE;
}

/* ---- kek generate ---------------------------------------------------------------------------- */

static int kek_generate(const char *path)
{
	_cleanup_secret_ struct secret *k = secret_new(KEK_LEN);
	int fd, r = 0;

	if (!k || RAND_priv_bytes(k->data, KEK_LEN) != 1) {
		fprintf(stderr, "kagictl: cannot generate a KEK\n");
		return KAGICTL_USAGE;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		fprintf(stderr,
			"kagictl: '%s' exists; refusing to overwrite a KEK (keys wrapped "
			"under it would be lost)\n",
			path);
		return KAGICTL_REJECTED;
	}
	if (fd < 0) {
		fprintf(stderr, "kagictl: cannot create '%s': %s\n", path, strerror(errno));
		return KAGICTL_USAGE;
	}
	if (fchmod(fd, 0600) < 0 || (r = write_all(fd, k->data, KEK_LEN)) < 0 || fsync(fd) < 0) {
		int err = r < 0 ? -r : errno;

		fprintf(stderr, "kagictl: cannot write '%s': %s\n", path, strerror(err));
		close(fd);
		unlink(path);
		return KAGICTL_USAGE;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "kagictl: cannot write '%s': %s\n", path, strerror(errno));
		unlink(path);
		return KAGICTL_USAGE;
	}
	printf("wrote a new %d-byte KEK to %s (mode 0600); keep a backup: the keys wrapped under "
	       "it cannot be recovered without it\n",
	       KEK_LEN, path);
	return KAGICTL_OK;
}

int cmd_kek(int argc, char **argv)
{
	struct key_opts o = { 0 };
	int r;

	if (argc < 1) {
		key_usage(stderr);
		return KAGICTL_USAGE;
	}
	if (streq(argv[0], "--help") || streq(argv[0], "-h")) {
		key_usage(stdout);
		return KAGICTL_OK;
	}
	if (!streq(argv[0], "generate")) {
		fprintf(stderr, "kagictl: unknown verb 'kek %s'\n", argv[0]);
		key_usage(stderr);
		return KAGICTL_USAGE;
	}
	r = parse_opts(argc, argv, "kek", &o);
	if (r)
		return r > 0 ? KAGICTL_OK : KAGICTL_USAGE;
	if (only(&o, "kek generate", false, false, false, false, false) < 0)
		return KAGICTL_USAGE;
	if (!o.file) {
		fprintf(stderr, "kagictl: --file PATH is required\n");
		return KAGICTL_USAGE;
	}
	return kek_generate(o.file);
}
