// SPDX-License-Identifier: Apache-2.0
/*
 * vpolicy.c: the verifier's policy file (format in vpolicy.h).
 *
 * Loading validates everything once and names the JSON path of the first problem
 * ("groups[1].volumes[0]: ..."). Members whose name starts with '_' are documentation and are
 * dropped at every level before validation; any other unknown member is an error.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "util.h"
#include "vpolicy.h"

#define VPOLICY_MAX_TEXT    (8u << 20)
#define VPOLICY_MAX_DEPTH   16
#define VPOLICY_MAX_VOLUMES 10000 /* per group */
#define VPOLICY_MAX_PCR     (TPM_PCR_MAX - 1)
#define VPOLICY_PATH_MAX    192

static int bad(struct kagi_err *e, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* what = "vpolicy", message = "<path>: <text>" */
static int bad(struct kagi_err *e, const char *path, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return kagi_err_set(e, -EINVAL, "vpolicy", KAGI_ERR_NO_OFFSET, "%s: %s", path, text);
}

static void path_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* JSON paths are for messages: truncating a very long one is fine. */
static void path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static const char *json_kind(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fractional number";
	case json_type_int:
		return "a number";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "unknown";
}

/* Drop every member named "_..." (documentation) from all objects, recursively. */
static void strip_comments(json_object *o, unsigned depth)
{
	if (depth > VPOLICY_MAX_DEPTH)
		return;
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			strip_comments(json_object_array_get_idx(o, i), depth + 1);
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	for (;;) {
		char *victim = NULL;

		json_object_object_foreach(o, key, val)
		{
			(void)val;
			if (key[0] == '_') {
				victim = strdup(key);
				break;
			}
		}
		if (!victim)
			break;
		json_object_object_del(o, victim);
		free(victim);
	}
	json_object_object_foreach(o, k, v)
	{
		(void)k;
		strip_comments(v, depth + 1);
	}
}

static bool uuid_canonical(const char *u)
{
	if (strlen(u) != 36)
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

static int get_uint(json_object *v, const char *path, uint64_t max, uint64_t *ret,
		    struct kagi_err *e)
{
	int64_t i;

	if (!json_object_is_type(v, json_type_int))
		return bad(e, path, "must be a number from 0 to %" PRIu64 ", not %s", max,
			   json_kind(v));
	i = json_object_get_int64(v);
	if (i < 0 || (uint64_t)i > max)
		return bad(e, path, "%" PRId64 " is out of range 0..%" PRIu64, i, max);
	*ret = (uint64_t)i;
	return 0;
}

/* An event type: a JSON number, a "0x..." string, or a name eventlog_type_name() knows. */
static int event_type(json_object *v, const char *path, uint32_t *ret, struct kagi_err *e)
{
	static const uint32_t ranges[][2] = { { 0x0, 0xff }, { 0x80000000u, 0x800000ffu } };
	const char *s;
	uint64_t u;

	if (json_object_is_type(v, json_type_int))
		return get_uint(v, path, UINT32_MAX, &u, e) < 0 ? -EINVAL : (*ret = (uint32_t)u, 0);
	if (!json_object_is_type(v, json_type_string))
		return bad(e, path,
			   "must be an event type name such as \"EV_SEPARATOR\" or a "
			   "number, not %s",
			   json_kind(v));
	s = json_object_get_string(v);
	for (size_t r = 0; r < ARRAY_SIZE(ranges); r++)
		for (uint32_t t = ranges[r][0]; t <= ranges[r][1]; t++) {
			const char *name = eventlog_type_name(t);

			if (name && !strcasecmp(name, s)) {
				*ret = t;
				return 0;
			}
		}
	if (parse_u64(s, &u) == 0 && u <= UINT32_MAX) {
		*ret = (uint32_t)u;
		return 0;
	}
	return bad(e, path, "'%.64s' is not a known event type name (EV_...) or number", s);
}

static int parse_event(json_object *o, const char *path, struct vpolicy_event *ev,
		       struct kagi_err *e)
{
	bool has_pcr = false, has_type = false, has_digest = false;
	char sub[VPOLICY_PATH_MAX];
	int r;

	if (!json_object_is_type(o, json_type_object))
		return bad(e, path,
			   "must be an object {\"pcr\": N, \"type\": ..., \"digest\": "
			   "\"hex\"}, not %s",
			   json_kind(o));
	json_object_object_foreach(o, key, v)
	{
		path_fmt(sub, sizeof(sub), "%s.%s", path, key);
		if (streq(key, "pcr")) {
			uint64_t n;

			r = get_uint(v, sub, VPOLICY_MAX_PCR, &n, e);
			if (r < 0)
				return r;
			ev->pcr = (uint32_t)n;
			has_pcr = true;
		} else if (streq(key, "type")) {
			r = event_type(v, sub, &ev->type, e);
			if (r < 0)
				return r;
			has_type = true;
		} else if (streq(key, "digest")) {
			const char *s = json_object_get_string(v);
			size_t n = json_object_is_type(v, json_type_string) ? strlen(s) / 2 : 0;

			if (!json_object_is_type(v, json_type_string))
				return bad(e, sub, "must be a hex string, not %s", json_kind(v));
			switch (n * 2 == strlen(s) ? n : 0) {
			case 20:
				ev->alg = EVENTLOG_ALG_SHA1;
				break;
			case 32:
				ev->alg = EVENTLOG_ALG_SHA256;
				break;
			case 48:
				ev->alg = EVENTLOG_ALG_SHA384;
				break;
			case 64:
				ev->alg = EVENTLOG_ALG_SHA512;
				break;
			default:
				return bad(e, sub,
					   "must be a SHA-1, SHA-256, SHA-384 or SHA-512 digest "
					   "(40, 64, 96 or 128 hex digits), not %zu characters",
					   strlen(s));
			}
			if (hex_decode(s, ev->digest, n) < 0)
				return bad(e, sub, "'%.140s' is not hexadecimal", s);
			ev->digest_len = n;
			has_digest = true;
		} else {
			return bad(e, path, "unknown member '%.64s' (known: pcr, type, digest)",
				   key);
		}
	}
	if (!has_pcr || !has_type || !has_digest)
		return bad(e, path, "member '%s' is required",
			   !has_pcr    ? "pcr"
			   : !has_type ? "type"
				       : "digest");
	return 0;
}

/* "pcrs": {"sha256": {"7": "hex", ...}, ...}: only bank names, then tpm_pcr_values_from_json. */
static int parse_pcrs(json_object *o, const char *path, struct tpm_pcr_values *ret,
		      struct kagi_err *e)
{
	struct kagi_err sub = { 0 };
	size_t n = 0;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return bad(e, path, "must be an object {\"sha256\": {\"7\": \"hex\", ...}}, not %s",
			   json_kind(o));
	json_object_object_foreach(o, key, v)
	{
		TPMI_ALG_HASH alg;

		if (tpm_hash_from_name(key, &alg) < 0)
			return bad(e, path, "'%.64s' is not a PCR bank name (sha1, sha256, ...)",
				   key);
		if (!json_object_is_type(v, json_type_object))
			return bad(e, path, "%s: must be an object {\"7\": \"hex\", ...}, not %s",
				   key, json_kind(v));
		n += (size_t)json_object_object_length(v);
	}
	if (n == 0)
		return bad(e, path, "no PCR values (leave out \"pcrs\" for no PCR rule)");
	r = tpm_pcr_values_from_json(o, ret, &sub);
	if (r < 0)
		return bad(e, path, "%s", sub.msg);
	return 0;
}

static int parse_volumes(json_object *o, const char *path, struct vpolicy_group *g,
			 struct kagi_err *e)
{
	char sub[VPOLICY_PATH_MAX];
	size_t n;

	if (!json_object_is_type(o, json_type_array))
		return bad(e, path, "must be an array of volume UUIDs, not %s", json_kind(o));
	n = json_object_array_length(o);
	if (n == 0)
		return bad(e, path, "must list at least one volume");
	if (n > VPOLICY_MAX_VOLUMES)
		return bad(e, path, "has %zu volumes, at most %d", n, VPOLICY_MAX_VOLUMES);
	g->volumes = calloc(n, sizeof(*g->volumes));
	if (!g->volumes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(o, i);
		const char *s;

		path_fmt(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!json_object_is_type(v, json_type_string))
			return bad(e, sub, "must be a UUID string, not %s", json_kind(v));
		s = json_object_get_string(v);
		if (!uuid_canonical(s))
			return bad(e, sub, "'%.40s' is not a canonical lowercase UUID", s);
		for (size_t j = 0; j < g->nvolumes; j++)
			if (streq(g->volumes[j], s))
				return bad(e, sub, "%s is already listed as %s[%zu]", s, path, j);
		memcpy(g->volumes[g->nvolumes++], s, 37);
	}
	return 0;
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static void group_done(struct vpolicy_group *g)
{
	snp_policy_done(&g->snp);
	free(g->volumes);
	memset(g, 0, sizeof(*g));
}

/* snp_policy_from_json errors have what = "policy[.member]": rewrite them under our path. */
static int snp_error(struct kagi_err *e, const char *path, const struct kagi_err *sub, int r)
{
	const char *member = sub->what && !strncmp(sub->what, "policy", 6) ? sub->what + 6 : "";

	if (r == -ENOMEM)
		return r;
	return bad(e, path, "%s%s%s", member[0] == '.' ? member + 1 : "", member[0] ? ": " : "",
		   sub->msg);
}

static int parse_group(json_object *o, size_t idx, struct vpolicy_group *g, struct kagi_err *e)
{
	char path[VPOLICY_PATH_MAX], sub[VPOLICY_PATH_MAX];
	bool has_name = false, has_snp = false, has_volumes = false;
	int r;

	path_fmt(path, sizeof(path), "groups[%zu]", idx);
	if (!json_object_is_type(o, json_type_object))
		return bad(e, path, "must be an object, not %s", json_kind(o));
	json_object_object_foreach(o, key, v)
	{
		path_fmt(sub, sizeof(sub), "%s.%s", path, key);
		if (streq(key, "name")) {
			const char *s = json_object_get_string(v);

			if (!json_object_is_type(v, json_type_string))
				return bad(e, sub, "must be a string, not %s", json_kind(v));
			if (!name_valid(s))
				return bad(e, sub,
					   "'%.80s' is not 1 to 63 characters of A-Z a-z 0-9 . _ -",
					   s);
			memcpy(g->name, s, strlen(s) + 1);
			has_name = true;
		} else if (streq(key, "snp")) {
			struct kagi_err se = { 0 };

			if (!json_object_is_type(v, json_type_object))
				return bad(e, sub, "must be an object (it may be {}), not %s",
					   json_kind(v));
			r = snp_policy_from_json(v, &g->snp, &se);
			if (r < 0)
				return snp_error(e, sub, &se, r);
			has_snp = true;
		} else if (streq(key, "require_vtpm")) {
			if (!json_object_is_type(v, json_type_boolean))
				return bad(e, sub, "must be true or false, not %s", json_kind(v));
			g->require_vtpm = json_object_get_boolean(v);
		} else if (streq(key, "pcrs")) {
			r = parse_pcrs(v, sub, &g->pcrs, e);
			if (r < 0)
				return r;
		} else if (streq(key, "events")) {
			size_t n;

			if (!json_object_is_type(v, json_type_array))
				return bad(e, sub, "must be an array of events, not %s",
					   json_kind(v));
			n = json_object_array_length(v);
			if (n > VPOLICY_MAX_EVENTS)
				return bad(e, sub, "has %zu events, at most %d", n,
					   VPOLICY_MAX_EVENTS);
			for (size_t i = 0; i < n; i++) {
				char ep[VPOLICY_PATH_MAX];

				path_fmt(ep, sizeof(ep), "%s[%zu]", sub, i);
				r = parse_event(json_object_array_get_idx(v, i), ep, &g->events[i],
						e);
				if (r < 0)
					return r;
				g->nevents++;
			}
		} else if (streq(key, "volumes")) {
			r = parse_volumes(v, sub, g, e);
			if (r < 0)
				return r;
			has_volumes = true;
		} else {
			return bad(e, path,
				   "unknown member '%.64s' (known: name, snp, require_vtpm, pcrs, "
				   "events, volumes)",
				   key);
		}
	}
	if (!has_name || !has_snp || !has_volumes)
		return bad(e, path, "member '%s' is required",
			   !has_name  ? "name"
			   : !has_snp ? "snp"
				      : "volumes");
	return 0;
}

static int parse_root(json_object *root, struct vpolicy *p, struct kagi_err *e)
{
	json_object *groups = NULL;
	size_t n;
	int r;

	if (!json_object_is_type(root, json_type_object))
		return bad(e, "(top level)", "the policy must be a JSON object, not %s",
			   json_kind(root));
	p->boot_phase_pcr = 15;
	json_object_object_foreach(root, key, v)
	{
		if (streq(key, "boot_phase_pcr")) {
			uint64_t u;

			r = get_uint(v, "boot_phase_pcr", 23, &u, e);
			if (r < 0)
				return r;
			p->boot_phase_pcr = (unsigned)u;
		} else if (streq(key, "groups")) {
			groups = v;
		} else {
			return bad(e, "(top level)",
				   "unknown member '%.64s' (known: boot_phase_pcr, groups)", key);
		}
	}
	if (!groups)
		return bad(e, "(top level)", "member 'groups' is required");
	if (!json_object_is_type(groups, json_type_array))
		return bad(e, "groups", "must be an array of groups, not %s", json_kind(groups));
	n = json_object_array_length(groups);
	if (n == 0)
		return bad(e, "groups", "must have at least one group");
	if (n > VPOLICY_MAX_GROUPS)
		return bad(e, "groups", "has %zu groups, at most %d", n, VPOLICY_MAX_GROUPS);
	p->groups = calloc(n, sizeof(*p->groups));
	if (!p->groups)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = parse_group(json_object_array_get_idx(groups, i), i, &p->groups[i], e);
		p->ngroups++; /* even when it failed: vpolicy_done() frees its parts */
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (streq(p->groups[j].name, p->groups[i].name)) {
				char path[VPOLICY_PATH_MAX];

				path_fmt(path, sizeof(path), "groups[%zu].name", i);
				return bad(e, path, "'%s' is already the name of groups[%zu]",
					   p->groups[i].name, j);
			}
	}
	return 0;
}

int vpolicy_parse(const char *text, size_t len, struct vpolicy *ret, struct kagi_err *reterr)
{
	struct vpolicy p = { 0 };
	struct json_tokener *tok;
	const char *nul;
	json_object *root;
	size_t end;
	int r;

	if (len > VPOLICY_MAX_TEXT)
		return kagi_err_set(reterr, -EFBIG, "vpolicy.json", KAGI_ERR_NO_OFFSET,
				    "policy is %zu bytes, at most %u", len, VPOLICY_MAX_TEXT);
	nul = memchr(text, '\0', len);
	if (nul)
		return kagi_err_set(reterr, -EINVAL, "vpolicy.json", (size_t)(nul - text),
				    "policy text contains a NUL byte");
	/* whitespace after the object (a final newline) is fine */
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r' ||
		       text[len - 1] == '\n'))
		len--;
	tok = json_tokener_new_ex(VPOLICY_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!root || end != len) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		json_tokener_free(tok);
		r = kagi_err_set(reterr, -EINVAL, "vpolicy.json", end, "invalid JSON: %s",
				 root ? "characters after the policy object"
				 : je == json_tokener_continue ? "unexpected end of input"
							       : json_tokener_error_desc(je));
		json_object_put(root);
		return r;
	}
	json_tokener_free(tok);
	strip_comments(root, 0);
	r = parse_root(root, &p, reterr);
	json_object_put(root);
	if (r < 0) {
		vpolicy_done(&p);
		return r;
	}
	*ret = p;
	return 0;
}

int vpolicy_load(const char *path, struct vpolicy *ret, struct kagi_err *reterr)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r;

	r = read_file(path, VPOLICY_MAX_TEXT, &buf, &len);
	if (r < 0)
		return kagi_err_set(reterr, r, "vpolicy.file", KAGI_ERR_NO_OFFSET,
				    "cannot read policy file '%s': %s", path,
				    r == -EFBIG ? "larger than 8 MiB" : strerror(-r));
	return vpolicy_parse((const char *)buf, len, ret, reterr);
}

void vpolicy_done(struct vpolicy *p)
{
	for (size_t i = 0; i < p->ngroups; i++)
		group_done(&p->groups[i]);
	free(p->groups);
	memset(p, 0, sizeof(*p));
}

bool vpolicy_group_has_volume(const struct vpolicy_group *g, const char *uuid)
{
	for (size_t i = 0; i < g->nvolumes; i++)
		if (streq(g->volumes[i], uuid))
			return true;
	return false;
}

/* ---- checks ---------------------------------------------------------------------------------- */

static const char *bank_name(uint16_t alg, char buf[16])
{
	const char *n = tpm_alg_name(alg);

	if (n)
		return n;
	snprintf(buf, 16, "0x%04x", alg);
	return buf;
}

static const char *type_str(uint32_t type, char buf[16])
{
	const char *n = eventlog_type_name(type);

	if (n)
		return n;
	snprintf(buf, 16, "0x%08" PRIx32, type);
	return buf;
}

static int check_pcrs(const struct vpolicy_group *g, const struct tpm_pcr_values *pcrs,
		      struct kagi_err *e)
{
	for (size_t b = 0; b < g->pcrs.nbanks; b++) {
		const struct tpm_pcr_bank *bank = &g->pcrs.bank[b];
		size_t ds = tpm_hash_size(bank->alg);
		char an[16];

		for (unsigned i = 0; i < TPM_PCR_MAX; i++) {
			const uint8_t *got;
			char want[2 * TPM_DIGEST_MAX + 1], have[2 * TPM_DIGEST_MAX + 1];

			if (!bank->present[i])
				continue;
			hex_encode(bank->value[i], ds, want);
			got = pcrs ? tpm_pcr_values_get(pcrs, bank->alg, i) : NULL;
			if (!got)
				return kagi_err_set(
					e, -EKEYREJECTED, "policy.pcr", KAGI_ERR_NO_OFFSET,
					"PCR %u (%s) was not %s, expected %s", i,
					bank_name(bank->alg, an),
					pcrs ? "quoted" : "sent (no TPM evidence)", want);
			if (memcmp(got, bank->value[i], ds))
				return kagi_err_set(
					e, -EKEYREJECTED, "policy.pcr", KAGI_ERR_NO_OFFSET,
					"PCR %u (%s) is %s, expected %s", i,
					bank_name(bank->alg, an), hex_encode(got, ds, have), want);
		}
	}
	return 0;
}

static int check_event(const struct vpolicy_event *rule, size_t idx, const struct eventlog *log,
		       struct kagi_err *e)
{
	size_t same_kind = 0, with_bank = 0;
	char want[2 * 64 + 1], tb[16], ab[16];

	for (size_t i = 0; i < log->nevents; i++) {
		const struct eventlog_event *ev = &log->events[i];
		const struct eventlog_digest *d;

		if (ev->pcr != rule->pcr || ev->type != rule->type)
			continue;
		same_kind++;
		d = eventlog_event_digest(ev, rule->alg);
		if (!d || d->size != rule->digest_len)
			continue;
		with_bank++;
		if (!memcmp(d->bytes, rule->digest, rule->digest_len))
			return 0;
	}
	hex_encode(rule->digest, rule->digest_len, want);
	return kagi_err_set(e, -EKEYREJECTED, "policy.event", KAGI_ERR_NO_OFFSET,
			    "required event %zu (PCR %" PRIu32 ", %s, %s %s): none of the %zu "
			    "events in the log matched (%zu with this PCR and type, %zu of them "
			    "with a %s digest)",
			    idx, rule->pcr, type_str(rule->type, tb), bank_name(rule->alg, ab),
			    want, log->nevents, same_kind, with_bank, bank_name(rule->alg, ab));
}

int vpolicy_check_tpm(const struct vpolicy_group *g, const struct tpm_pcr_values *pcrs,
		      const struct eventlog *log, struct kagi_err *reterr)
{
	int r;

	r = check_pcrs(g, pcrs, reterr);
	if (r < 0)
		return r;
	if (g->nevents && !log)
		return kagi_err_set(reterr, -EKEYREJECTED, "policy.event", KAGI_ERR_NO_OFFSET,
				    "no event log was sent, and group '%s' requires %zu event%s",
				    g->name, g->nevents, g->nevents == 1 ? "" : "s");
	for (size_t i = 0; i < g->nevents; i++) {
		r = check_event(&g->events[i], i, log, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}
