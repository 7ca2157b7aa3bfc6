// SPDX-License-Identifier: Apache-2.0
/*
 * enroll.c: `kagi enroll`, run once by the owner (not in the initramfs): add a keyslot holding
 * 32 fresh random bytes to a LUKS2 volume and register that key with the verifier
 * (POST /v1/admin/keys, PROTOCOL.md section 5, mTLS with an admin certificate). If the
 * registration fails the new keyslot is removed again, so the disk never keeps a slot whose
 * key nobody has. The key exists only in locked memory and in the TLS stream; it is never
 * printed, logged or written to a file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "http.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/util.h"
#include "luks.h"
#include "unlock.h"

enum {
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
};

#define ENROLL_KEY_SIZE    32
#define ENROLL_PASS_MAX    512         /* passphrase on standard input (cryptsetup's limit) */
#define ENROLL_KEYFILE_MAX (64 * 1024) /* key file */
#define ENROLL_LABEL_MAX   128
#define ENROLL_TIMEOUT     30
#define ENROLL_URL_MAX     512

struct enroll_args {
	const char *device;
	const char *url;
	const char *ca;
	const char *admin_cert;
	const char *admin_key;
	const char *label;
	const char *keyfile;
	bool passphrase_stdin;
	unsigned timeout;
};

static void enroll_usage(FILE *f)
{
	fputs("Usage: kagi enroll --device PATH --url URL --ca PEM --admin-cert PEM --admin-key "
	      "PEM\n"
	      "                   [--label TEXT] [--timeout SECONDS]\n"
	      "                   (--passphrase-stdin | --keyfile FILE)\n"
	      "\n"
	      "Add a keyslot with 32 random bytes to the LUKS2 volume on PATH and register the\n"
	      "key with the verifier at URL (POST URL/v1/admin/keys, authenticated with the admin\n"
	      "certificate). The keyslot uses PBKDF2-SHA256 with 1000 iterations: the key is "
	      "random,\n"
	      "a slow KDF would only delay the boot. If the registration fails the keyslot is\n"
	      "removed again.\n"
	      "\n"
	      "  --device PATH        the LUKS2 device or image\n"
	      "  --url URL            the verifier (https://)\n"
	      "  --ca PEM             CA bundle for the verifier's certificate\n"
	      "  --admin-cert PEM     admin client certificate\n"
	      "  --admin-key PEM      its private key (unencrypted PEM)\n"
	      "  --label TEXT         a note stored with the key (at most 128 characters)\n"
	      "  --timeout SECONDS    for the registration (default 30)\n"
	      "  --passphrase-stdin   an existing passphrase: the first line of standard input\n"
	      "  --keyfile FILE       an existing key file (all of its bytes)\n",
	      f);
}

static bool url_ok(const char *u)
{
	size_t len = strlen(u);

	if (len <= 8 || len > ENROLL_URL_MAX || strncmp(u, "https://", 8) != 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (u[i] <= 0x20 || u[i] >= 0x7f || strchr("\"\\?#@", u[i]))
			return false;
	return true;
}

static int parse_enroll_args(int argc, char **argv, struct enroll_args *a)
{
	enum {
		OPT_DEVICE = 0x100,
		OPT_URL,
		OPT_CA,
		OPT_ADMIN_CERT,
		OPT_ADMIN_KEY,
		OPT_LABEL,
		OPT_TIMEOUT,
		OPT_PASS_STDIN,
		OPT_KEYFILE,
	};
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "url", required_argument, NULL, OPT_URL },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "admin-cert", required_argument, NULL, OPT_ADMIN_CERT },
		{ "admin-key", required_argument, NULL, OPT_ADMIN_KEY },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "passphrase-stdin", no_argument, NULL, OPT_PASS_STDIN },
		{ "keyfile", required_argument, NULL, OPT_KEYFILE },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t n;
	int c;

	*a = (struct enroll_args){ .timeout = ENROLL_TIMEOUT };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			enroll_usage(stdout);
			return 1;
		case OPT_DEVICE:
			a->device = optarg;
			break;
		case OPT_URL:
			a->url = optarg;
			break;
		case OPT_CA:
			a->ca = optarg;
			break;
		case OPT_ADMIN_CERT:
			a->admin_cert = optarg;
			break;
		case OPT_ADMIN_KEY:
			a->admin_key = optarg;
			break;
		case OPT_LABEL:
			a->label = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_u64(optarg, &n) < 0 || n < 1 || n > 3600) {
				log_error("--timeout wants 1..3600 seconds, got '%s'", optarg);
				return -EINVAL;
			}
			a->timeout = (unsigned)n;
			break;
		case OPT_PASS_STDIN:
			a->passphrase_stdin = true;
			break;
		case OPT_KEYFILE:
			a->keyfile = optarg;
			break;
		default:
			log_error("enroll: unknown or incomplete option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("enroll: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!a->device || !a->url || !a->ca || !a->admin_cert || !a->admin_key) {
		log_error(
			"enroll: --device, --url, --ca, --admin-cert and --admin-key are required");
		return -EINVAL;
	}
	if (a->passphrase_stdin == !!a->keyfile) {
		log_error("enroll: give exactly one of --passphrase-stdin and --keyfile");
		return -EINVAL;
	}
	if (!url_ok(a->url)) {
		log_error(
			"enroll: '%s' is not an https:// URL without query, fragment or user info",
			a->url);
		return -EINVAL;
	}
	if (a->label) {
		size_t len = strlen(a->label);

		if (len == 0 || len > ENROLL_LABEL_MAX) {
			log_error("enroll: --label wants 1..%d characters", ENROLL_LABEL_MAX);
			return -EINVAL;
		}
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)a->label[i] < 0x20 || a->label[i] == 0x7f) {
				log_error("enroll: --label must not contain control characters");
				return -EINVAL;
			}
	}
	return 0;
}

/* The first line of standard input (without its newline), as cryptsetup reads a passphrase. */
static int read_passphrase_stdin(struct secret **ret)
{
	struct secret *buf = secret_new(ENROLL_PASS_MAX + 1), *out;
	size_t len = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf->data + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			secret_free(buf);
			return r;
		}
		if (n == 0 || buf->data[len] == '\n')
			break;
		if (++len > ENROLL_PASS_MAX) {
			secret_free(buf);
			return -EFBIG;
		}
	}
	if (len == 0) {
		secret_free(buf);
		return -ENODATA;
	}
	out = secret_new(len);
	if (out)
		memcpy(out->data, buf->data, len);
	secret_free(buf);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

/*
 * {"version":1,"volume":"UUID","key":"B64","label":"..."} in a locked secret (NUL-terminated;
 * the JSON is len bytes). Built by hand so the key's base64 never sits in a json-c string.
 */
static int admin_body(const char *uuid, const struct secret *key, const char *label,
		      struct secret **ret, size_t *ret_len)
{
	char head[128], tail[ENROLL_LABEL_MAX * 6 + 32];
	size_t b64_len = 4 * ((key->len + 2) / 3), hl, tl;
	struct secret *s;

	hl = (size_t)snprintf(head, sizeof(head), "{\"version\":1,\"volume\":\"%s\",\"key\":\"",
			      uuid);
	if (label) {
		json_object *j = json_object_new_string(label);
		const char *q =
			j ? json_object_to_json_string_ext(
				    j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
			  : NULL;

		if (!q || strlen(q) + 16 >= sizeof(tail)) {
			json_object_put(j);
			return -ENOMEM;
		}
		tl = (size_t)snprintf(tail, sizeof(tail), "\",\"label\":%s}", q);
		json_object_put(j);
	} else {
		tl = (size_t)snprintf(tail, sizeof(tail), "\"}");
	}
	s = secret_new(hl + b64_len + tl + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s->data, head, hl);
	if (EVP_EncodeBlock(s->data + hl, key->data, (int)key->len) != (int)b64_len) {
		secret_free(s);
		return -EIO;
	}
	memcpy(s->data + hl + b64_len, tail, tl);
	s->data[hl + b64_len + tl] = '\0';
	*ret = s;
	*ret_len = hl + b64_len + tl;
	return 0;
}

/* The verifier's answer, shortened and safe to print. */
static const char *answer_text(const struct http_response *hr, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < hr->len && o + 4 < len; i++)
		buf[o++] = (hr->body[i] >= 0x20 && hr->body[i] < 0x7f) ? hr->body[i] : '?';
	if (hr->len > o)
		memcpy(buf + o, "...", 4);
	else
		buf[o] = '\0';
	return buf;
}

static int register_key(const struct enroll_args *a, const char *uuid, const struct secret *key,
			char *msg, size_t msglen)
{
	struct http_identity id = { 0 };
	struct http_response hr = { 0 };
	struct secret *body = NULL;
	struct kagi_err e = { 0 };
	char url[ENROLL_URL_MAX + 32], eb[sizeof(e.msg) + 128], ans[300];
	size_t body_len = 0;
	size_t ul = strlen(a->url);
	int r;

	while (ul > 0 && a->url[ul - 1] == '/')
		ul--;
	snprintf(url, sizeof(url), "%.*s/v1/admin/keys", (int)ul, a->url);
	r = http_identity_load(a->admin_cert, a->admin_key, &id, &e);
	if (r < 0) {
		snprintf(msg, msglen, "admin identity: %s", kagi_err_str(&e, eb, sizeof(eb)));
		return r;
	}
	r = admin_body(uuid, key, a->label, &body, &body_len);
	if (r < 0) {
		snprintf(msg, msglen, "building the request failed: %s", strerror(-r));
		http_identity_done(&id);
		return r;
	}
	r = http_post_json(
		&(struct http_opts){ .ca_file = a->ca, .id = &id, .timeout = a->timeout }, url,
		(const char *)body->data, body_len, &hr, &e);
	secret_free(body);
	http_identity_done(&id);
	if (r < 0) {
		snprintf(msg, msglen, "POST %s: %s", url, kagi_err_str(&e, eb, sizeof(eb)));
		return r;
	}
	if (hr.status == 201) {
		http_response_done(&hr);
		return 0;
	}
	if (hr.status == 409)
		snprintf(msg, msglen, "the verifier already has a key for volume %s (HTTP 409): %s",
			 uuid, answer_text(&hr, ans, sizeof(ans)));
	else
		snprintf(msg, msglen, "the verifier refused the key (HTTP %ld): %s", hr.status,
			 answer_text(&hr, ans, sizeof(ans)));
	http_response_done(&hr);
	return -EACCES;
}

int cmd_enroll(int argc, char **argv)
{
	struct secret *pass = NULL, *key = NULL;
	struct enroll_args a;
	struct kagi_err e = { 0 };
	char uuid[LUKS_UUID_LEN + 1], eb[sizeof(e.msg) + 128], msg[1200];
	int r, slot, ret = EXIT_FAILED;

	secret_harden_process();
	r = parse_enroll_args(argc, argv, &a);
	if (r != 0) {
		if (r < 0)
			fputs("Try 'kagi enroll --help'.\n", stderr);
		return r > 0 ? 0 : EXIT_USAGE;
	}
	luks_init_logging();
	if (a.passphrase_stdin)
		r = read_passphrase_stdin(&pass);
	else
		r = http_read_secret(a.keyfile, ENROLL_KEYFILE_MAX, &pass);
	if (r < 0) {
		log_error("reading the existing %s failed: %s",
			  a.passphrase_stdin ? "passphrase from standard input" : "key file",
			  r == -ENODATA ? "it is empty" : strerror(-r));
		return EXIT_USAGE;
	}
	key = secret_new(ENROLL_KEY_SIZE);
	if (!key || RAND_priv_bytes(key->data, ENROLL_KEY_SIZE) != 1) {
		log_error("drawing the random key failed");
		goto out;
	}
	if (http_global_init(&e) < 0) {
		log_error("%s", e.msg);
		goto out;
	}

	slot = luks_enroll_key(a.device, pass, key, uuid, &e);
	secret_free(pass);
	pass = NULL;
	if (slot < 0) {
		log_error("%s", kagi_err_str(&e, eb, sizeof(eb)));
		goto out_http;
	}
	log_info("volume %s: added keyslot %d (PBKDF2-SHA256, %d iterations)", uuid, slot,
		 LUKS_ENROLL_PBKDF_ITERATIONS);

	r = register_key(&a, uuid, key, msg, sizeof(msg));
	if (r < 0) {
		log_error("registering the key failed: %s", msg);
		/* no key nobody has: take the keyslot out again */
		memset(&e, 0, sizeof(e));
		if (luks_remove_keyslot(a.device, uuid, slot, &e) < 0)
			log_error("removing keyslot %d again failed, remove it by hand "
				  "(cryptsetup luksKillSlot %s %d): %s",
				  slot, a.device, slot, kagi_err_str(&e, eb, sizeof(eb)));
		else
			log_info("removed keyslot %d again", slot);
		goto out_http;
	}
	printf("enrolled: volume %s keyslot %d, key registered with %s%s%s\n", uuid, slot, a.url,
	       a.label ? " as " : "", a.label ? a.label : "");
	ret = 0;
out_http:
	http_global_cleanup();
out:
	secret_free(pass);
	secret_free(key);
	return ret;
}
