// SPDX-License-Identifier: Apache-2.0
/*
 * config.c: rd.kagi.* on the kernel command line and kagi.conf, parsed into struct kagi_config.
 *
 * Kernel command line words follow the kernel's own rules (lib/cmdline.c next_arg()): words
 * are separated by whitespace outside double quotes, a double quote anywhere toggles quoting,
 * a word that starts with a quote loses it and its closing quote, and a value that starts with a
 * quote after the '=' loses it and the closing quote at the end of the word.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "lib/util.h"

struct option_def {
	const char *name;      /* as in kagi.conf */
	const char *cmd_what;  /* "rd.kagi.<name>" */
	const char *conf_what; /* "kagi.conf.<name>" */
	enum config_option id;
	bool is_bool;
};

#define OPT(n, i, b)                                                                               \
	{                                                                                          \
		n, CONFIG_PREFIX n, "kagi.conf." n, CONFIG_OPT_##i, b                              \
	}

static const struct option_def options[] = {
	OPT("url", URL, false),
	OPT("ca", CA, false),
	OPT("pin", PIN, false),
	OPT("cert", CERT, false),
	OPT("key", KEY, false),
	OPT("volume", VOLUME, false),
	OPT("timeout", TIMEOUT, false),
	OPT("attempt-timeout", ATTEMPT_TIMEOUT, false),
	OPT("retries", RETRIES, false),
	OPT("on-failure", ON_FAILURE, false),
	OPT("tcti", TCTI, false),
	OPT("tsm-dir", TSM_DIR, false),
	OPT("sev-guest", SEV_GUEST, false),
	OPT("eventlog", EVENTLOG, false),
	OPT("pcrs", PCRS, false),
	OPT("no-tpm", NO_TPM, true),
	OPT("debug", DEBUG, true),
};

static const char *const on_failure_names[] = {
	[CONFIG_ON_FAILURE_POWEROFF] = "poweroff",
	[CONFIG_ON_FAILURE_HALT] = "halt",
	[CONFIG_ON_FAILURE_SHELL] = "shell",
	[CONFIG_ON_FAILURE_PASSPHRASE] = "passphrase",
};

/* Where a value came from, for messages. */
struct src {
	bool cmdline;
	const char *file; /* kagi.conf path */
	unsigned line;
	size_t off; /* byte offset of the word or line */
};

void config_init(struct kagi_config *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout = CONFIG_DEFAULT_TIMEOUT;
	c->attempt_timeout = CONFIG_DEFAULT_ATTEMPT_TIMEOUT;
	c->retries = CONFIG_DEFAULT_RETRIES;
	c->on_failure = CONFIG_ON_FAILURE_POWEROFF;
	snprintf(c->tcti, sizeof(c->tcti), "%s", CONFIG_DEFAULT_TCTI);
	snprintf(c->tsm_dir, sizeof(c->tsm_dir), "%s", CONFIG_DEFAULT_TSM_DIR);
	snprintf(c->sev_guest, sizeof(c->sev_guest), "%s", CONFIG_DEFAULT_SEV_GUEST);
	snprintf(c->eventlog, sizeof(c->eventlog), "%s", CONFIG_DEFAULT_EVENTLOG);
	c->pcrs = CONFIG_DEFAULT_PCRS;
}

const char *config_on_failure_name(enum config_on_failure f)
{
	if ((size_t)f < ARRAY_SIZE(on_failure_names))
		return on_failure_names[f];
	return "unknown";
}

/* A value as it can be shown in a message: printable ASCII, others as \xNN, at most ~80 chars. */
static const char *shown(const char *v, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; v[i] && o + 8 < len; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (i >= 80) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
	}
	buf[o] = '\0';
	return buf;
}

/* The error: "rd.kagi.NAME: ..." or "FILE:LINE: NAME: ..." */
static int __attribute__((format(printf, 5, 6)))
fail(struct kagi_err *e, const struct src *s, const struct option_def *d, int r, const char *fmt,
     ...)
{
	char msg[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->cmdline)
		return kagi_err_set(e, r, d->cmd_what, s->off, "%s: %s", d->cmd_what, msg);
	return kagi_err_set(e, r, d->conf_what, s->off, "%s:%u: %s: %s", s->file, s->line, d->name,
			    msg);
}

/* An error about the text itself, not one option. */
static int __attribute__((format(printf, 4, 5)))
fail_text(struct kagi_err *e, const struct src *s, const char *what, const char *fmt, ...)
{
	char msg[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->cmdline)
		return kagi_err_set(e, -EINVAL, what, s->off, "kernel command line: %s", msg);
	if (s->line)
		return kagi_err_set(e, -EINVAL, what, s->off, "%s:%u: %s", s->file, s->line, msg);
	return kagi_err_set(e, -EINVAL, what, s->off, "%s: %s", s->file, msg);
}

static const struct option_def *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
			return &options[i];
	return NULL;
}

/* ---- value checks ------------------------------------------------------------------------- */

static bool is_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Text values: printable ASCII (space allowed where `space`), no double quote or backslash. */
static int check_text(const char *v, size_t max, bool space, struct kagi_err *e,
		      const struct src *s, const struct option_def *d)
{
	char b[128];
	size_t len = strlen(v);

	if (len == 0)
		return fail(e, s, d, -EINVAL, "needs a value");
	if (len > max)
		return fail(e, s, d, -EINVAL, "'%s' is longer than %zu characters",
			    shown(v, b, sizeof(b)), max);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || (ch == ' ' && !space))
			return fail(e, s, d, -EINVAL,
				    "'%s' has a character that is not allowed at position %zu",
				    shown(v, b, sizeof(b)), i + 1);
	}
	return 0;
}

static int parse_bool_value(const char *v, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (streq(v, yes[i])) {
			*ret = true;
			return 0;
		}
		if (streq(v, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_seconds(const char *v, unsigned min, unsigned max, unsigned *ret,
			 struct kagi_err *e, const struct src *s, const struct option_def *d)
{
	char b[128];
	uint64_t n;

	if (!is_digits(v) || strlen(v) > 12 || parse_u64(v, &n) < 0)
		return fail(e, s, d, -EINVAL, "'%s' is not a number of seconds",
			    shown(v, b, sizeof(b)));
	if (n < min || n > max)
		return fail(e, s, d, -ERANGE, "%s seconds is out of range (%u..%u)", v, min, max);
	*ret = (unsigned)n;
	return 0;
}

/* https://authority[/path]: no user info, query, fragment, comma or whitespace. */
static int check_url(const char *v, struct kagi_err *e, const struct src *s,
		     const struct option_def *d)
{
	static const char scheme[] = "https://";
	const char *host, *end, *port = NULL;
	char b[128];
	int r;

	r = check_text(v, CONFIG_URL_MAX, false, e, s, d);
	if (r < 0)
		return r;
	if (strncmp(v, scheme, sizeof(scheme) - 1) != 0)
		return fail(e, s, d, -EINVAL, "'%s' is not an https:// URL",
			    shown(v, b, sizeof(b)));
	host = v + sizeof(scheme) - 1;
	end = host + strcspn(host, "/");
	if (strpbrk(v, "?#@,"))
		return fail(e, s, d, -EINVAL,
			    "'%s': user info, query, fragment or a comma are not allowed in a URL",
			    shown(v, b, sizeof(b)));
	if (end == host)
		return fail(e, s, d, -EINVAL, "'%s' has no host", shown(v, b, sizeof(b)));
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (!close || close == host + 1)
			return fail(e, s, d, -EINVAL, "'%s': bad IPv6 address literal",
				    shown(v, b, sizeof(b)));
		for (const char *p = host + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return fail(e, s, d, -EINVAL, "'%s': bad IPv6 address literal",
					    shown(v, b, sizeof(b)));
		if (close + 1 < end) {
			if (close[1] != ':')
				return fail(e, s, d, -EINVAL, "'%s': bad host",
					    shown(v, b, sizeof(b)));
			port = close + 2;
		}
	} else {
		for (const char *p = host; p < end; p++) {
			if (*p == ':') {
				port = p + 1;
				break;
			}
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
				return fail(e, s, d, -EINVAL, "'%s': bad host name",
					    shown(v, b, sizeof(b)));
		}
		if (port == host + 1)
			return fail(e, s, d, -EINVAL, "'%s' has no host", shown(v, b, sizeof(b)));
	}
	if (port) {
		unsigned long n = 0;
		const char *p = port;

		for (; p < end && *p >= '0' && *p <= '9' && n <= 65535; p++)
			n = n * 10 + (unsigned long)(*p - '0');
		if (p == port || p != end || n == 0 || n > 65535)
			return fail(e, s, d, -EINVAL, "'%s': bad port number",
				    shown(v, b, sizeof(b)));
	}
	return 0;
}

/* sha256//<44 base64 characters>, up to 8 separated by ';' (curl's CURLOPT_PINNEDPUBLICKEY). */
static int check_pin(const char *v, struct kagi_err *e, const struct src *s,
		     const struct option_def *d)
{
	static const char pre[] = "sha256//";
	const char *p = v;
	char b[128];
	unsigned n = 0;
	int r;

	r = check_text(v, CONFIG_PIN_MAX, false, e, s, d);
	if (r < 0)
		return r;
	for (;;) {
		size_t i;

		if (++n > 8)
			return fail(e, s, d, -EINVAL, "more than 8 pins");
		if (strncmp(p, pre, sizeof(pre) - 1) != 0)
			return fail(e, s, d, -EINVAL,
				    "'%s' is not a public key pin of the form sha256//BASE64",
				    shown(v, b, sizeof(b)));
		p += sizeof(pre) - 1;
		/* 32 bytes: 43 base64 characters and one '=' */
		for (i = 0; i < 43; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '+' && p[i] != '/')
				break;
		if (i != 43 || p[43] != '=')
			return fail(e, s, d, -EINVAL,
				    "'%s': a pin is sha256// and the base64 of a 32-byte SHA-256 "
				    "digest (44 characters)",
				    shown(v, b, sizeof(b)));
		p += 44;
		if (*p == '\0')
			return 0;
		if (*p != ';' || p[1] == '\0')
			return fail(e, s, d, -EINVAL, "'%s': pins are separated by ';'",
				    shown(v, b, sizeof(b)));
		p++;
	}
}

static bool uuid_ok(const char *u)
{
	for (size_t i = 0; i < CONFIG_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)u[i])) {
			return false;
		}
	}
	return u[CONFIG_UUID_LEN] == '\0';
}

/* UUID or UUID:NAME */
static int parse_volume(const char *v, struct config_volume *ret, struct kagi_err *e,
			const struct src *s, const struct option_def *d)
{
	struct config_volume vol = { 0 };
	const char *colon = strchr(v, ':');
	size_t ulen = colon ? (size_t)(colon - v) : strlen(v);
	char b[128];
	int r;

	r = check_text(v, CONFIG_LINE_MAX, false, e, s, d);
	if (r < 0)
		return r;
	if (ulen != CONFIG_UUID_LEN)
		return fail(e, s, d, -EINVAL,
			    "'%s' is not a LUKS UUID (8-4-4-4-12 hex digits), optionally followed "
			    "by :NAME",
			    shown(v, b, sizeof(b)));
	memcpy(vol.uuid, v, CONFIG_UUID_LEN);
	if (!uuid_ok(vol.uuid))
		return fail(e, s, d, -EINVAL,
			    "'%s' is not a LUKS UUID (8-4-4-4-12 hex digits), optionally followed "
			    "by :NAME",
			    shown(v, b, sizeof(b)));
	for (size_t i = 0; i < CONFIG_UUID_LEN; i++)
		vol.uuid[i] = (char)tolower((unsigned char)vol.uuid[i]);
	if (colon) {
		const char *name = colon + 1;
		size_t nlen = strlen(name);

		if (nlen == 0 || nlen > CONFIG_NAME_MAX)
			return fail(e, s, d, -EINVAL,
				    "'%s': the mapping name after ':' must have 1..%d characters",
				    shown(v, b, sizeof(b)), CONFIG_NAME_MAX);
		if (streq(name, ".") || streq(name, "..") || name[0] == '-')
			return fail(e, s, d, -EINVAL, "'%s': '%s' is not a usable mapping name",
				    shown(v, b, sizeof(b)), name);
		for (size_t i = 0; i < nlen; i++)
			if (!isalnum((unsigned char)name[i]) && !strchr("_.+-", name[i]))
				return fail(
					e, s, d, -EINVAL,
					"'%s': a mapping name may only have letters, digits and "
					"_ . + -",
					shown(v, b, sizeof(b)));
		memcpy(vol.name, name, nlen + 1);
	}
	*ret = vol;
	return 0;
}

static int parse_pcr_number(const char **p, unsigned *ret)
{
	unsigned n = 0;
	const char *q = *p;

	if (*q < '0' || *q > '9')
		return -EINVAL;
	for (; *q >= '0' && *q <= '9'; q++) {
		n = n * 10 + (unsigned)(*q - '0');
		if (n >= CONFIG_PCR_MAX)
			return -EINVAL;
	}
	*p = q;
	*ret = n;
	return 0;
}

/* [sha256:]N[-M][,N[-M]...] */
static int parse_pcrs(const char *v, uint32_t *ret, struct kagi_err *e, const struct src *s,
		      const struct option_def *d)
{
	const char *p = v;
	uint32_t mask = 0;
	char b[128];
	int r;

	r = check_text(v, 128, false, e, s, d);
	if (r < 0)
		return r;
	if (strncmp(p, "sha256:", 7) == 0)
		p += 7;
	else if (strchr(p, ':'))
		return fail(e, s, d, -EINVAL, "'%s': only the sha256 bank is supported",
			    shown(v, b, sizeof(b)));
	for (;;) {
		unsigned a, z;

		if (parse_pcr_number(&p, &a) < 0)
			goto bad;
		z = a;
		if (*p == '-') {
			p++;
			if (parse_pcr_number(&p, &z) < 0 || z < a)
				goto bad;
		}
		for (unsigned i = a; i <= z; i++)
			mask |= 1u << i;
		if (*p == '\0')
			break;
		if (*p != ',')
			goto bad;
		p++;
	}
	if (!(mask & (1u << CONFIG_BOOT_PHASE_PCR)))
		return fail(
			e, s, d, -EINVAL,
			"'%s' does not include PCR %d, the boot-phase PCR, which must be quoted",
			shown(v, b, sizeof(b)), CONFIG_BOOT_PHASE_PCR);
	*ret = mask;
	return 0;
bad:
	return fail(e, s, d, -EINVAL, "'%s' is not a list of PCRs 0..%d such as 0-7,9,15",
		    shown(v, b, sizeof(b)), CONFIG_PCR_MAX - 1);
}

static int set_path(char *dst, size_t size, const char *v, struct kagi_err *e, const struct src *s,
		    const struct option_def *d)
{
	int r = check_text(v, size - 1, true, e, s, d);

	if (r < 0)
		return r;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* Apply one option to *c (a scratch copy of the caller's). value NULL: the bare word. */
static int apply(struct kagi_config *c, const struct option_def *d, const char *v,
		 struct kagi_err *e, const struct src *s)
{
	char b[128];
	int r = 0;

	if (!v) {
		if (!d->is_bool)
			return fail(e, s, d, -EINVAL, "needs a value (%s%s=...)",
				    s->cmdline ? CONFIG_PREFIX : "", d->name);
		v = "1";
	}
	if (!*v)
		return fail(e, s, d, -EINVAL, "needs a value");
	switch (d->id) {
	case CONFIG_OPT_URL: {
		const char *p = v;

		for (;;) {
			size_t n = strcspn(p, ","), k = n;
			char one[CONFIG_URL_MAX + 1];

			if (n == 0)
				return fail(e, s, d, -EINVAL, "'%s' has an empty URL in its list",
					    shown(v, b, sizeof(b)));
			if (n > CONFIG_URL_MAX)
				return fail(e, s, d, -EINVAL, "a URL is longer than %d characters",
					    CONFIG_URL_MAX);
			memcpy(one, p, n);
			one[n] = '\0';
			r = check_url(one, e, s, d);
			if (r < 0)
				return r;
			if (c->nurls >= CONFIG_URLS_MAX)
				return fail(e, s, d, -E2BIG, "more than %d URLs", CONFIG_URLS_MAX);
			while (k > 0 && one[k - 1] == '/')
				one[--k] = '\0';
			memcpy(c->urls[c->nurls++], one, k + 1);
			p += n;
			if (*p == '\0')
				break;
			p++; /* ',': an empty URL after it is an error above */
		}
		break;
	}
	case CONFIG_OPT_CA:
		r = set_path(c->ca, sizeof(c->ca), v, e, s, d);
		break;
	case CONFIG_OPT_PIN:
		r = check_pin(v, e, s, d);
		if (r >= 0)
			memcpy(c->pin, v, strlen(v) + 1);
		break;
	case CONFIG_OPT_CERT:
		r = set_path(c->cert, sizeof(c->cert), v, e, s, d);
		break;
	case CONFIG_OPT_KEY:
		r = set_path(c->key, sizeof(c->key), v, e, s, d);
		break;
	case CONFIG_OPT_VOLUME: {
		struct config_volume vol;

		r = parse_volume(v, &vol, e, s, d);
		if (r < 0)
			return r;
		for (size_t i = 0; i < c->nvolumes; i++)
			if (streq(c->volumes[i].uuid, vol.uuid))
				return fail(e, s, d, -EEXIST, "volume %s is given twice", vol.uuid);
		if (c->nvolumes >= CONFIG_VOLUMES_MAX)
			return fail(e, s, d, -E2BIG, "more than %d volumes", CONFIG_VOLUMES_MAX);
		c->volumes[c->nvolumes++] = vol;
		break;
	}
	case CONFIG_OPT_TIMEOUT:
		r = parse_seconds(v, 1, CONFIG_TIMEOUT_MAX, &c->timeout, e, s, d);
		break;
	case CONFIG_OPT_ATTEMPT_TIMEOUT:
		r = parse_seconds(v, 1, 3600, &c->attempt_timeout, e, s, d);
		break;
	case CONFIG_OPT_RETRIES: {
		uint64_t n;

		if (!is_digits(v) || strlen(v) > 12 || parse_u64(v, &n) < 0)
			return fail(e, s, d, -EINVAL, "'%s' is not a number of attempts",
				    shown(v, b, sizeof(b)));
		if (n < 1 || n > 1000)
			return fail(e, s, d, -ERANGE, "%s attempts is out of range (1..1000)", v);
		c->retries = (unsigned)n;
		break;
	}
	case CONFIG_OPT_ON_FAILURE: {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(on_failure_names); i++)
			if (streq(v, on_failure_names[i]))
				break;
		if (i == ARRAY_SIZE(on_failure_names))
			return fail(e, s, d, -EINVAL,
				    "'%s' is not one of poweroff, halt, shell, passphrase",
				    shown(v, b, sizeof(b)));
		c->on_failure = (enum config_on_failure)i;
		break;
	}
	case CONFIG_OPT_TCTI:
		r = check_text(v, CONFIG_TCTI_MAX, false, e, s, d);
		if (r >= 0)
			memcpy(c->tcti, v, strlen(v) + 1);
		break;
	case CONFIG_OPT_TSM_DIR:
		r = set_path(c->tsm_dir, sizeof(c->tsm_dir), v, e, s, d);
		break;
	case CONFIG_OPT_SEV_GUEST:
		r = set_path(c->sev_guest, sizeof(c->sev_guest), v, e, s, d);
		break;
	case CONFIG_OPT_EVENTLOG:
		r = set_path(c->eventlog, sizeof(c->eventlog), v, e, s, d);
		break;
	case CONFIG_OPT_PCRS:
		r = parse_pcrs(v, &c->pcrs, e, s, d);
		break;
	case CONFIG_OPT_NO_TPM:
	case CONFIG_OPT_DEBUG: {
		bool bv;

		if (parse_bool_value(v, &bv) < 0)
			return fail(e, s, d, -EINVAL, "'%s' is not a boolean (yes/no, 1/0)",
				    shown(v, b, sizeof(b)));
		if (d->id == CONFIG_OPT_NO_TPM)
			c->no_tpm = bv;
		else
			c->debug = bv;
		break;
	}
	case CONFIG_OPT_COUNT:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	c->set |= 1u << d->id;
	return 0;
}

/* ---- kernel command line ------------------------------------------------------------------ */

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* One word (quotes still in it) starting at text offset `off`. */
static int cmdline_word(struct kagi_config *c, const char *w, size_t wlen, bool open_quote,
			size_t off, unsigned *count, struct kagi_err *e)
{
	static const char prefix[] = CONFIG_PREFIX;
	struct src s = { .cmdline = true, .off = off };
	char buf[CONFIG_LINE_MAX + 1];
	const struct option_def *d;
	const char *key, *eq;
	char *val = NULL;
	size_t klen;
	char b[128];

	/* not ours? (rd.kagi.* or the bare rd.kagi) */
	if (wlen >= sizeof(prefix) - 1 && memcmp(w, prefix, sizeof(prefix) - 1) == 0)
		;
	else if (wlen > 0 && w[0] == '"' && wlen - 1 >= sizeof(prefix) - 1 &&
		 memcmp(w + 1, prefix, sizeof(prefix) - 1) == 0)
		;
	else if ((wlen == 7 && memcmp(w, "rd.kagi", 7) == 0) ||
		 (wlen > 7 && memcmp(w, "rd.kagi=", 8) == 0))
		return fail_text(e, &s, "cmdline.option",
				 "'rd.kagi' is not an option; use rd.kagi.<option>=<value>");
	else
		return 0;

	if (++*count > CONFIG_ENTRIES_MAX)
		return fail_text(e, &s, "cmdline.count", "more than %d rd.kagi options",
				 CONFIG_ENTRIES_MAX);
	if (wlen > CONFIG_LINE_MAX)
		return fail_text(e, &s, "cmdline.word", "an rd.kagi word is longer than %d bytes",
				 CONFIG_LINE_MAX);
	memcpy(buf, w, wlen);
	buf[wlen] = '\0';
	if (open_quote)
		return fail_text(e, &s, "cmdline.quote", "'%s' has an unterminated double quote",
				 shown(buf, b, sizeof(b)));
	key = buf;
	/* "rd.kagi.x=a b": the whole word quoted */
	if (buf[0] == '"') {
		key++;
		if (wlen > 1 && buf[wlen - 1] == '"')
			buf[wlen - 1] = '\0';
	}
	eq = strchr(key, '=');
	klen = eq ? (size_t)(eq - key) : strlen(key);
	d = find_option(key + sizeof(prefix) - 1, klen - (sizeof(prefix) - 1));
	if (!d) {
		char name[CONFIG_LINE_MAX + 1];

		memcpy(name, key, klen);
		name[klen] = '\0';
		return fail_text(e, &s, "cmdline.option", "%s: unknown option",
				 shown(name, b, sizeof(b)));
	}
	if (eq) {
		size_t vlen;

		val = (char *)eq + 1;
		vlen = strlen(val);
		if (val[0] == '"') {
			val++;
			vlen--;
			if (vlen > 0 && val[vlen - 1] == '"')
				val[--vlen] = '\0';
		}
	}
	return apply(c, d, val, e, &s);
}

int config_parse_cmdline(const char *text, size_t len, struct kagi_config *c,
			 struct kagi_err *reterr)
{
	struct kagi_config *tmp;
	struct src s = { .cmdline = true, .off = 0 };
	unsigned count = 0;
	size_t i = 0;
	int r = 0;

	if (len > CONFIG_CMDLINE_MAX)
		return fail_text(reterr, &s, "cmdline.size", "%zu bytes, more than the %d accepted",
				 len, CONFIG_CMDLINE_MAX);
	if (memchr(text, '\0', len)) {
		s.off = (size_t)((const char *)memchr(text, '\0', len) - text);
		return fail_text(reterr, &s, "cmdline.nul", "a NUL byte at offset %zu", s.off);
	}
	tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	*tmp = *c;
	while (i < len) {
		bool quote = false;
		size_t start;

		while (i < len && is_space(text[i]))
			i++;
		if (i >= len)
			break;
		start = i;
		for (; i < len && (quote || !is_space(text[i])); i++)
			if (text[i] == '"')
				quote = !quote;
		r = cmdline_word(tmp, text + start, i - start, quote, start, &count, reterr);
		if (r < 0)
			break;
	}
	if (r >= 0)
		*c = *tmp;
	free(tmp);
	return r < 0 ? r : 0;
}

/* ---- kagi.conf ---------------------------------------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

int config_parse_file(const char *text, size_t len, const char *source, struct kagi_config *c,
		      struct kagi_err *reterr)
{
	struct src s = { .cmdline = false, .file = source ? source : "kagi.conf" };
	struct kagi_config *tmp;
	unsigned count = 0;
	size_t pos = 0;
	int r = 0;

	if (len > CONFIG_FILE_MAX)
		return fail_text(reterr, &s, "kagi.conf.size",
				 "%zu bytes, more than the %d accepted", len, CONFIG_FILE_MAX);
	if (memchr(text, '\0', len)) {
		s.off = (size_t)((const char *)memchr(text, '\0', len) - text);
		return fail_text(reterr, &s, "kagi.conf.nul", "a NUL byte at offset %zu", s.off);
	}
	tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	*tmp = *c;
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		char buf[CONFIG_LINE_MAX + 1], b[128];
		const struct option_def *d;
		char *k, *v, *eq, *end;

		s.line++;
		s.off = pos;
		pos += llen + (nl ? 1 : 0);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen > CONFIG_LINE_MAX) {
			r = fail_text(reterr, &s, "kagi.conf.line", "longer than %d bytes",
				      CONFIG_LINE_MAX);
			break;
		}
		memcpy(buf, line, llen);
		buf[llen] = '\0';
		k = buf;
		while (is_blank(*k))
			k++;
		end = k + strlen(k);
		while (end > k && is_blank(end[-1]))
			*--end = '\0';
		if (*k == '\0' || *k == '#')
			continue;
		if (++count > CONFIG_ENTRIES_MAX) {
			r = fail_text(reterr, &s, "kagi.conf.count", "more than %d options",
				      CONFIG_ENTRIES_MAX);
			break;
		}
		eq = strchr(k, '=');
		if (!eq) {
			r = fail_text(reterr, &s, "kagi.conf.line",
				      "'%s' is not of the form 'key = value'",
				      shown(k, b, sizeof(b)));
			break;
		}
		v = eq + 1;
		while (eq > k && is_blank(eq[-1]))
			eq--;
		*eq = '\0';
		while (is_blank(*v))
			v++;
		d = find_option(k, strlen(k));
		if (!d) {
			r = fail_text(reterr, &s, "kagi.conf.option", "%s: unknown option",
				      shown(k, b, sizeof(b)));
			break;
		}
		if (*v == '"') {
			size_t vlen = strlen(v);

			if (vlen < 2 || v[vlen - 1] != '"') {
				r = fail(reterr, &s, d, -EINVAL, "unterminated double quote");
				break;
			}
			v[vlen - 1] = '\0';
			v++;
		}
		r = apply(tmp, d, v, reterr, &s);
		if (r < 0)
			break;
	}
	if (r >= 0)
		*c = *tmp;
	free(tmp);
	return r < 0 ? r : 0;
}

/* ---- merge, check, load ------------------------------------------------------------------- */

void config_merge(struct kagi_config *base, const struct kagi_config *over)
{
	uint32_t m = over->set;

#define TAKE(opt, field)                                                                           \
	do {                                                                                       \
		if (m & (1u << CONFIG_OPT_##opt))                                                  \
			memcpy(&base->field, &over->field, sizeof(base->field));                   \
	} while (0)
	if (m & (1u << CONFIG_OPT_URL)) {
		base->nurls = over->nurls;
		memcpy(base->urls, over->urls, sizeof(base->urls));
	}
	if (m & (1u << CONFIG_OPT_VOLUME)) {
		base->nvolumes = over->nvolumes;
		memcpy(base->volumes, over->volumes, sizeof(base->volumes));
	}
	TAKE(CA, ca);
	TAKE(PIN, pin);
	TAKE(CERT, cert);
	TAKE(KEY, key);
	TAKE(TIMEOUT, timeout);
	TAKE(ATTEMPT_TIMEOUT, attempt_timeout);
	TAKE(RETRIES, retries);
	TAKE(ON_FAILURE, on_failure);
	TAKE(TCTI, tcti);
	TAKE(TSM_DIR, tsm_dir);
	TAKE(SEV_GUEST, sev_guest);
	TAKE(EVENTLOG, eventlog);
	TAKE(PCRS, pcrs);
	TAKE(NO_TPM, no_tpm);
	TAKE(DEBUG, debug);
#undef TAKE
	base->set |= m;
}

int config_check(const struct kagi_config *c, struct kagi_err *reterr)
{
	if (c->nurls == 0)
		return kagi_err_set(reterr, -EINVAL, "config.url", KAGI_ERR_NO_OFFSET,
				    "no verifier URL: set rd.kagi.url= on the kernel command line "
				    "or url = in kagi.conf");
	if (!c->ca[0])
		return kagi_err_set(reterr, -EINVAL, "config.ca", KAGI_ERR_NO_OFFSET,
				    "no CA bundle for the verifier's certificate: set rd.kagi.ca= "
				    "or ca = in kagi.conf");
	if (c->nvolumes == 0)
		return kagi_err_set(reterr, -EINVAL, "config.volume", KAGI_ERR_NO_OFFSET,
				    "no volume to unlock: set rd.kagi.volume=UUID[:NAME] or "
				    "volume = in kagi.conf");
	if (!c->cert[0] != !c->key[0])
		return kagi_err_set(reterr, -EINVAL, "config.cert", KAGI_ERR_NO_OFFSET,
				    "cert and key go together: a client certificate (%s) needs "
				    "its key (%s)",
				    c->cert[0] ? c->cert : "missing",
				    c->key[0] ? c->key : "missing");
	if (!(c->pcrs & (1u << CONFIG_BOOT_PHASE_PCR)))
		return kagi_err_set(reterr, -EINVAL, "config.pcrs", KAGI_ERR_NO_OFFSET,
				    "the quoted PCRs must include PCR %d, the boot-phase PCR",
				    CONFIG_BOOT_PHASE_PCR);
	return 0;
}

int config_load(const char *cmdline_path, const char *conf_path, struct kagi_config *ret,
		struct kagi_err *reterr)
{
	const char *cpath = cmdline_path ? cmdline_path : KAGI_CMDLINE_PATH;
	const char *fpath = conf_path ? conf_path : KAGI_CONFIG_PATH;
	struct kagi_config *file = NULL, *cmd = NULL;
	_cleanup_free_ uint8_t *text = NULL;
	size_t len = 0;
	int r;

	file = malloc(sizeof(*file));
	cmd = malloc(sizeof(*cmd));
	if (!file || !cmd) {
		r = -ENOMEM;
		goto out;
	}
	config_init(file);
	config_init(cmd);

	r = read_file(fpath, CONFIG_FILE_MAX, &text, &len);
	if (r == -ENOENT && !conf_path) {
		r = 0; /* no kagi.conf: everything on the command line */
	} else if (r < 0) {
		r = kagi_err_set(reterr, r, "kagi.conf.read", KAGI_ERR_NO_OFFSET,
				 "reading '%s' failed: %s", fpath,
				 r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		goto out;
	} else {
		r = config_parse_file((const char *)text, len, fpath, file, reterr);
		if (r < 0)
			goto out;
	}
	free(text);
	text = NULL;

	r = read_file(cpath, CONFIG_CMDLINE_MAX, &text, &len);
	if (r < 0) {
		r = kagi_err_set(reterr, r, "cmdline.read", KAGI_ERR_NO_OFFSET,
				 "reading '%s' failed: %s", cpath,
				 r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		goto out;
	}
	r = config_parse_cmdline((const char *)text, len, cmd, reterr);
	if (r < 0)
		goto out;
	config_merge(file, cmd);
	r = config_check(file, reterr);
	if (r < 0)
		goto out;
	*ret = *file;
	r = 0;
out:
	free(file);
	free(cmd);
	return r;
}
