// SPDX-License-Identifier: Apache-2.0
/* vconfig.c: the kagi-verifier configuration file (see vconfig.h and kagi-verifier(8)). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kagi-build.h"
#include "util.h"
#include "vconfig.h"

#define LINE_MAX_LEN 4096

enum key_id {
	KEY_LISTEN,
	KEY_TLS_CERT,
	KEY_TLS_KEY,
	KEY_CLIENT_CA,
	KEY_ALLOW_SELF_SIGNED,
	KEY_ADMIN_CA,
	KEY_TLS_MIN_VERSION,
	KEY_TOKEN_KEY,
	KEY_TOKEN_LIFETIME,
	KEY_POLICY,
	KEY_AMD_ROOTS,
	KEY_TRUST_CHAIN,
	KEY_STORE,
	KEY_KEK,
	KEY_AUDIT_LOG,
	KEY_MAX_BODY,
	KEY_KDS_URL,
	KEY_KDS_CACHE,
	KEY_COUNT,
};

static const char *const key_names[KEY_COUNT] = {
	[KEY_LISTEN] = "listen",
	[KEY_TLS_CERT] = "tls_cert",
	[KEY_TLS_KEY] = "tls_key",
	[KEY_CLIENT_CA] = "client_ca",
	[KEY_ALLOW_SELF_SIGNED] = "allow_self_signed_clients",
	[KEY_ADMIN_CA] = "admin_ca",
	[KEY_TLS_MIN_VERSION] = "tls_min_version",
	[KEY_TOKEN_KEY] = "token_key",
	[KEY_TOKEN_LIFETIME] = "token_lifetime",
	[KEY_POLICY] = "policy",
	[KEY_AMD_ROOTS] = "amd_roots",
	[KEY_TRUST_CHAIN] = "trust_chain",
	[KEY_STORE] = "store",
	[KEY_KEK] = "kek",
	[KEY_AUDIT_LOG] = "audit_log",
	[KEY_MAX_BODY] = "max_body",
	[KEY_KDS_URL] = "kds_url",
	[KEY_KDS_CACHE] = "kds_cache",
};

/* Keys without which the verifier cannot run (client_ca: unless self-signed clients are on). */
static const enum key_id required_keys[] = { KEY_TLS_CERT, KEY_TLS_KEY, KEY_TOKEN_KEY, KEY_POLICY,
					     KEY_STORE,    KEY_KEK,     KEY_AUDIT_LOG };

static int fail(struct kagi_err *e, const char *file, unsigned line, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct kagi_err *e, const char *file, unsigned line, const char *key,
		const char *fmt, ...)
{
	char msg[384], where[32] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(where, sizeof(where), ":%u", line);
	if (key)
		return kagi_err_set(e, -EINVAL, "config.key", KAGI_ERR_NO_OFFSET,
				    "%s%s: key '%s': %s", file, where, key, msg);
	return kagi_err_set(e, -EINVAL, "config.syntax", KAGI_ERR_NO_OFFSET, "%s%s: %s", file,
			    where, msg);
}

void vconfig_done(struct vconfig *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->client_ca);
	free(c->admin_ca);
	free(c->token_key);
	free(c->policy);
	free(c->amd_roots);
	free(c->trust_chain);
	free(c->kds_url);
	free(c->kds_cache);
	free(c->store);
	free(c->kek);
	free(c->audit_log);
	memset(c, 0, sizeof(*c));
}

static int parse_listen(const char *v, struct vconfig *c, const char **why)
{
	char host[64];
	const char *port;
	uint8_t addr[16];
	size_t hl;
	uint64_t p = 0;

	if (v[0] == '[') {
		const char *end = strchr(v, ']');

		if (!end || end[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -EINVAL;
		}
		hl = (size_t)(end - v - 1);
		if (hl == 0 || hl >= sizeof(host)) {
			*why = "bad IPv6 address";
			return -EINVAL;
		}
		memcpy(host, v + 1, hl);
		host[hl] = '\0';
		port = end + 2;
		if (inet_pton(AF_INET6, host, addr) != 1) {
			*why = "bad IPv6 address";
			return -EINVAL;
		}
	} else {
		const char *colon = strrchr(v, ':');

		if (!colon || strchr(v, ':') != colon) {
			*why = "expected IPv4:PORT or [IPv6]:PORT";
			return -EINVAL;
		}
		hl = (size_t)(colon - v);
		if (hl == 0 || hl >= sizeof(host)) {
			*why = "bad IPv4 address";
			return -EINVAL;
		}
		memcpy(host, v, hl);
		host[hl] = '\0';
		port = colon + 1;
		if (inet_pton(AF_INET, host, addr) != 1) {
			*why = "bad IPv4 address (host names are not accepted)";
			return -EINVAL;
		}
	}
	if (!port[0] || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    parse_u64(port, &p) < 0 || p < 1 || p > 65535) {
		*why = "port must be a decimal number 1..65535";
		return -EINVAL;
	}
	snprintf(c->listen_host, sizeof(c->listen_host), "%s", host);
	c->listen_port = (uint16_t)p;
	return 0;
}

static int parse_decimal(const char *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t n;

	if (!v[0] || strspn(v, "0123456789") != strlen(v) || strlen(v) > 19)
		return -EINVAL;
	if (parse_u64(v, &n) < 0 || n < min || n > max)
		return -ERANGE;
	*ret = n;
	return 0;
}

static bool printable(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int set_string(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int set_value(struct vconfig *c, enum key_id k, const char *v, const char *file,
		     unsigned line, struct kagi_err *e)
{
	const char *name = key_names[k];
	const char *why = NULL;
	uint64_t n;
	char **dst = NULL;

	if (!v[0])
		return fail(e, file, line, name, "empty value");
	if (!printable(v))
		return fail(e, file, line, name, "value contains control characters");
	switch (k) {
	case KEY_LISTEN:
		if (parse_listen(v, c, &why) < 0)
			return fail(e, file, line, name, "'%s': %s", v, why);
		return 0;
	case KEY_ALLOW_SELF_SIGNED:
		if (streq(v, "true"))
			c->allow_self_signed_clients = true;
		else if (streq(v, "false"))
			c->allow_self_signed_clients = false;
		else
			return fail(e, file, line, name, "'%s' is not true or false", v);
		return 0;
	case KEY_TLS_MIN_VERSION:
		if (streq(v, "1.3"))
			c->tls_min_version = VCONFIG_TLS_1_3;
		else if (streq(v, "1.2"))
			c->tls_min_version = VCONFIG_TLS_1_2;
		else
			return fail(e, file, line, name, "'%s' is not 1.3 or 1.2", v);
		return 0;
	case KEY_TOKEN_LIFETIME:
		if (parse_decimal(v, VCONFIG_MIN_LIFETIME, VCONFIG_MAX_LIFETIME, &n) < 0)
			return fail(e, file, line, name,
				    "'%s' is not a number of seconds in %u..%u", v,
				    VCONFIG_MIN_LIFETIME, VCONFIG_MAX_LIFETIME);
		c->token_lifetime = (unsigned)n;
		return 0;
	case KEY_MAX_BODY:
		if (parse_decimal(v, VCONFIG_MIN_MAX_BODY, VCONFIG_MAX_MAX_BODY, &n) < 0)
			return fail(e, file, line, name, "'%s' is not a number of bytes in %u..%u",
				    v, VCONFIG_MIN_MAX_BODY, VCONFIG_MAX_MAX_BODY);
		c->max_body = (size_t)n;
		return 0;
	case KEY_STORE:
		if (strncmp(v, "sqlite:", 7) != 0 || !v[7])
			return fail(e, file, line, name, "'%s' is not sqlite:PATH", v);
		dst = &c->store;
		break;
	case KEY_KEK:
		if (!((strncmp(v, "file:", 5) == 0 && v[5]) ||
		      (strncmp(v, "pkcs11:", 7) == 0 && v[7])))
			return fail(e, file, line, name, "'%.40s' is not file:PATH or pkcs11:...",
				    v);
		dst = &c->kek;
		break;
	case KEY_TLS_CERT:
		dst = &c->tls_cert;
		break;
	case KEY_TLS_KEY:
		dst = &c->tls_key;
		break;
	case KEY_CLIENT_CA:
		dst = &c->client_ca;
		break;
	case KEY_ADMIN_CA:
		dst = &c->admin_ca;
		break;
	case KEY_TOKEN_KEY:
		dst = &c->token_key;
		break;
	case KEY_POLICY:
		dst = &c->policy;
		break;
	case KEY_AMD_ROOTS:
		dst = &c->amd_roots;
		c->amd_roots_set = true;
		break;
	case KEY_TRUST_CHAIN:
		dst = &c->trust_chain;
		break;
	case KEY_AUDIT_LOG:
		dst = &c->audit_log;
		break;
	case KEY_KDS_URL:
		dst = &c->kds_url;
		break;
	case KEY_KDS_CACHE:
		dst = &c->kds_cache;
		break;
	case KEY_COUNT:
		return -EINVAL;
	}
	if (k != KEY_STORE && k != KEY_KEK && strlen(v) >= PATH_MAX)
		return fail(e, file, line, name, "path too long");
	if (set_string(dst, v) < 0)
		return kagi_err_set(e, -ENOMEM, "config.memory", KAGI_ERR_NO_OFFSET,
				    "out of memory");
	return 0;
}

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

int vconfig_parse(const char *text, size_t len, const char *name, struct vconfig *ret,
		  struct kagi_err *reterr)
{
	struct vconfig c = { 0 };
	unsigned seen[KEY_COUNT] = { 0 };
	char line[LINE_MAX_LEN + 1];
	size_t pos = 0;
	unsigned lineno = 0;
	int r;

	if (!name)
		name = "<config>";
	if (len > VCONFIG_MAX_SIZE)
		return fail(reterr, name, 0, NULL, "file is larger than %u bytes",
			    VCONFIG_MAX_SIZE);
	if (memchr(text, '\0', len))
		return fail(reterr, name, 0, NULL, "file contains a NUL byte");

	c.tls_min_version = VCONFIG_TLS_1_3;
	c.token_lifetime = VCONFIG_DEFAULT_LIFETIME;
	c.max_body = VCONFIG_DEFAULT_MAX_BODY;
	(void)parse_listen(VCONFIG_DEFAULT_LISTEN, &c, &(const char *){ NULL });

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *s, *eq, *key, *val;
		enum key_id k;

		lineno++;
		if (ll > LINE_MAX_LEN) {
			r = fail(reterr, name, lineno, NULL, "line longer than %d characters",
				 LINE_MAX_LEN);
			goto out;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + (nl ? 1 : 0);

		s = trim(line);
		if (!s[0] || s[0] == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			r = fail(reterr, name, lineno, NULL, "expected 'key = value', got '%.60s'",
				 s);
			goto out;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		for (k = 0; k < KEY_COUNT; k++)
			if (streq(key, key_names[k]))
				break;
		if (k == KEY_COUNT) {
			r = fail(reterr, name, lineno, NULL, "unknown key '%.60s'", key);
			goto out;
		}
		if (seen[k]) {
			r = fail(reterr, name, lineno, key_names[k],
				 "duplicate key (first set on line %u)", seen[k]);
			goto out;
		}
		seen[k] = lineno;
		r = set_value(&c, k, val, name, lineno, reterr);
		if (r < 0)
			goto out;
	}

	for (size_t i = 0; i < ARRAY_SIZE(required_keys); i++)
		if (!seen[required_keys[i]]) {
			r = fail(reterr, name, 0, key_names[required_keys[i]],
				 "missing (required)");
			goto out;
		}
	if (!c.client_ca && !c.allow_self_signed_clients) {
		r = fail(reterr, name, 0, "client_ca",
			 "missing (required unless allow_self_signed_clients = true)");
		goto out;
	}
	if (!c.amd_roots && set_string(&c.amd_roots, KAGI_AMD_ROOTS_DIR) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if (set_string(&c.path, name) < 0) {
		r = -ENOMEM;
		goto out;
	}
	*ret = c;
	return 0;
out:
	vconfig_done(&c);
	return r;
}

int vconfig_load(const char *path, struct vconfig *ret, struct kagi_err *reterr)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, VCONFIG_MAX_SIZE, &buf, &len);
	if (r < 0)
		return kagi_err_set(reterr, r, "config.file", KAGI_ERR_NO_OFFSET,
				    "cannot read '%s': %s", path,
				    r == -EFBIG ? "file too large" : strerror(-r));
	return vconfig_parse((const char *)buf, len, path, ret, reterr);
}
