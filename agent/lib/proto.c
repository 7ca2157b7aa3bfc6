// SPDX-License-Identifier: Apache-2.0
/*
 * proto.c: protocol v1 messages (contrib/verifier/PROTOCOL.md) to and from JSON.
 *
 * Decoding untrusted text: the size cap is checked before the tokenizer sees a byte; json-c runs
 * in strict mode with UTF-8 validation and a depth limit; the whole input must be one JSON object
 * (only whitespace may follow it); every member is type-checked and unknown members are
 * rejected; base64 is strict (proto_b64_decode) and every blob has an exact size range. A
 * failure names the check in `what` ("request.type") and the member path in the message
 * ("evidence.tpm.quote.attest: not a base64 string").
 *
 * Encoders check the same limits, so that whatever they produce decodes again, and emit compact
 * JSON without escaped slashes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "credential.h"
#include "proto.h"
#include "util.h"

/* Per-field limits (PROTOCOL.md section 3). */
#define SNP_REPORT_LEN  1184
#define CERTS_MAX       (32 * 1024)
#define TPMT_MAX        1024 /* a marshaled TPMT_PUBLIC / SVSM manifest */
#define QUOTE_MAX       1024 /* TPMS_ATTEST and TPMT_SIGNATURE */
#define EVENTLOG_MAX    (512 * 1024)
#define ECDH_MAX        133 /* uncompressed P-521 point; P-384 is 97 bytes */
#define CRED_MAX        1024
#define SEALED_MIN      16
#define SEALED_MAX      64
#define IV_LEN          12
#define TAG_LEN         16
#define NONCE_LEN       32
#define CHALLENGE_MAX   1024 /* {"version":1} */
#define REASON_CODE_MAX (sizeof(((struct proto_reason *)0)->code) - 1)
#define REASON_MSG_MAX  (sizeof(((struct proto_reason *)0)->message) - 1)
#define GROUP_MAX       (sizeof(((struct proto_attest_response *)0)->group) - 1)
#define JSON_FLAGS_OUT  (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ---- small helpers ----------------------------------------------------------------------------- */

bool proto_uuid_valid(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < PROTO_UUID_LEN; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false; /* also stops at the terminating NUL of a short string */
		}
	}
	return s[PROTO_UUID_LEN] == '\0';
}

static bool token_valid(const char *s, size_t len)
{
	if (len < 1 || len > PROTO_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* A refusal reason code: "snp.policy.measurement", "tls.client_cert". */
static bool code_valid(const char *s, size_t len)
{
	if (len < 1 || len > REASON_CODE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* No control characters (a message ends up in the agent's log). UTF-8 was validated by json-c. */
static bool text_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* An uncompressed EC point on P-256, P-384 or P-521: 0x04 || X || Y. */
static bool ec_point_shape_valid(const struct proto_blob *b)
{
	return (b->len == 65 || b->len == 97 || b->len == 133) && b->data[0] == 0x04;
}

static void blob_done(struct proto_blob *b)
{
	if (b->data) {
		OPENSSL_cleanse(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

static bool blob_ok(const struct proto_blob *b, size_t min, size_t max)
{
	return b->len >= min && b->len <= max && (b->len == 0 || b->data);
}

/* ---- base64 ------------------------------------------------------------------------------------ */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *proto_b64_encode(const uint8_t *buf, size_t len)
{
	size_t out_len, o = 0;
	char *out;

	if (!buf && len)
		return NULL;
	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		return NULL;
	out_len = (len + 2) / 3 * 4;
	out = malloc(out_len + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)buf[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (uint32_t)buf[i + 1] << 8;
		if (n > 2)
			v |= buf[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = n > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = n > 2 ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 section 4: length a multiple of 4, only the standard alphabet, '=' only as the
 * last one or two characters of the last quantum, and the unused bits before the padding zero
 * (so every byte string has exactly one accepted encoding). -EFBIG if it decodes to more than
 * max bytes, -EBADMSG if it is not valid.
 */
int proto_b64_decode(const char *text, size_t max, uint8_t **ret, size_t *ret_len)
{
	size_t len, pad = 0, out_len, o = 0;
	uint8_t *out;

	if (!text || !ret || !ret_len)
		return -EINVAL;
	len = strlen(text);
	if (len % 4 != 0)
		return -EBADMSG;
	if (len && len / 4 * 3 - 2 > max)
		return -EFBIG; /* before allocating: at least this many bytes */
	if (len >= 1 && text[len - 1] == '=')
		pad = (len >= 2 && text[len - 2] == '=') ? 2 : 1;
	out_len = len / 4 * 3 - pad;
	if (out_len > max)
		return -EFBIG;
	out = malloc(out_len ? out_len : 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		size_t data_chars = last ? 4 - pad : 4;
		uint32_t v = 0;

		for (size_t j = 0; j < 4; j++) {
			int x;

			if (j >= data_chars) {
				v <<= 6; /* a '=' (checked by the pad count above) */
				continue;
			}
			x = b64_value(text[i + j]);
			if (x < 0)
				goto bad;
			v = (v << 6) | (uint32_t)x;
		}
		if ((pad == 1 && last && (v & 0xff)) || (pad == 2 && last && (v & 0xffff)))
			goto bad; /* non-zero bits under the padding */
		out[o++] = (uint8_t)(v >> 16);
		if (data_chars > 2)
			out[o++] = (uint8_t)(v >> 8);
		if (data_chars > 3)
			out[o++] = (uint8_t)v;
	}
	*ret = out;
	*ret_len = out_len;
	return 0;
bad:
	OPENSSL_cleanse(out, out_len ? out_len : 1);
	free(out);
	return -EBADMSG;
}

/* ---- decoding context -------------------------------------------------------------------------- */

struct whats {
	const char *json;      /* not JSON, not one object, trailing data, too deep */
	const char *too_large; /* the size cap */
	const char *version;
	const char *unknown; /* unknown member */
	const char *missing; /* required member absent */
	const char *type;    /* member of the wrong JSON type */
	const char *base64;  /* not strict base64 */
	const char *size;    /* a field's length out of range */
	const char *value;   /* a field's value not allowed (uuid, duplicate, token characters) */
	const char *rules;   /* combination rules (evidence paths, granted/refused) */
};

#define WHATS(k, rules)                                                                            \
	{                                                                                          \
		k ".json", k ".too_large", k ".version", k ".unknown_member", k ".missing",        \
			k ".type", k ".base64", k ".size", k ".value", rules                       \
	}

static const struct whats w_chreq = WHATS("challenge_request", "challenge_request.value");
static const struct whats w_chal = WHATS("challenge", "challenge.value");
static const struct whats w_req = WHATS("request", "request.evidence");
static const struct whats w_resp = WHATS("response", "response.result");

struct dec {
	const struct whats *w;
	struct kagi_err *e;
};

static int dfail(struct dec *d, const char *what, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int dfail(struct dec *d, const char *what, const char *path, const char *fmt, ...)
{
	char msg[400], where[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "%s", path);
	/* member names and values are echoed: no control characters into anyone's log */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	for (char *c = where; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return kagi_err_set(d->e, -EBADMSG, what, KAGI_ERR_NO_OFFSET, "%s: %s", where, msg);
}

static const char *path_join(char *buf, size_t len, const char *parent, const char *name)
{
	if (parent && *parent)
		snprintf(buf, len, "%s.%s", parent, name);
	else
		snprintf(buf, len, "%s", name);
	return buf;
}

static const char *type_desc(json_type t)
{
	switch (t) {
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	case json_type_int:
		return "an integer";
	default:
		return "a value of the expected type";
	}
}

static const char *json_type_desc(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fractional number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "unknown";
}

/* Reject members of o not in allowed (NULL-terminated). */
static int check_members(struct dec *d, json_object *o, const char *path,
			 const char *const *allowed)
{
	json_object_object_foreach(o, key, val)
	{
		bool ok = false;
		char p[160];

		(void)val;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = streq(key, allowed[i]);
		if (!ok)
			return dfail(d, d->w->unknown, path_join(p, sizeof(p), path, key),
				     "unknown member");
	}
	return 0;
}

/* 1 and *ret if present with the right type, 0 if absent and optional, < 0 otherwise. */
static int member(struct dec *d, json_object *o, const char *path, const char *name, json_type type,
		  bool required, json_object **ret)
{
	json_object *v = NULL;
	char p[160];

	path_join(p, sizeof(p), path, name);
	if (!json_object_object_get_ex(o, name, &v)) {
		if (required)
			return dfail(d, d->w->missing, p, "required member is missing");
		return 0;
	}
	if (!json_object_is_type(v, type))
		return dfail(d, d->w->type, p, "not %s (found %s)", type_desc(type),
			     json_type_desc(v));
	*ret = v;
	return 1;
}

/* A string member without embedded NUL bytes, at most max bytes. */
static int get_string(struct dec *d, json_object *o, const char *path, const char *name,
		      bool required, size_t max, const char *kind, const char **ret,
		      size_t *ret_len)
{
	json_object *v = NULL;
	const char *s;
	char p[160];
	int len;

	path_join(p, sizeof(p), path, name);
	if (!json_object_object_get_ex(o, name, &v)) {
		if (required)
			return dfail(d, d->w->missing, p, "required member is missing");
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return dfail(d, d->w->type, p, "not %s (found %s)", kind, json_type_desc(v));
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len < 0 || strlen(s) != (size_t)len)
		return dfail(d, d->w->value, p, "string contains a NUL character");
	if ((size_t)len > max)
		return dfail(d, d->w->size, p, "%d characters, at most %zu", len, max);
	*ret = s;
	*ret_len = (size_t)len;
	return 1;
}

/* A base64 member decoding to min..max bytes. Returns 1 if present, 0 if absent and optional. */
static int get_b64(struct dec *d, json_object *o, const char *path, const char *name, bool required,
		   size_t min, size_t max, struct proto_blob *ret)
{
	const char *s = NULL;
	size_t len = 0, n = 0;
	uint8_t *buf = NULL;
	char p[160];
	int r;

	r = get_string(d, o, path, name, required, (max + 2) / 3 * 4, "a base64 string", &s, &len);
	if (r <= 0)
		return r;
	path_join(p, sizeof(p), path, name);
	r = proto_b64_decode(s, max, &buf, &n);
	if (r == -EFBIG)
		return dfail(d, d->w->size, p, "more than %zu bytes", max);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return dfail(d, d->w->base64, p,
			     "not a base64 string (RFC 4648 standard alphabet with exact padding, "
			     "no whitespace)");
	if (n < min || n > max) {
		OPENSSL_cleanse(buf, n);
		free(buf);
		if (min == max)
			return dfail(d, d->w->size, p, "%zu bytes, expected exactly %zu", n, min);
		return dfail(d, d->w->size, p, "%zu bytes, expected %zu..%zu", n, min, max);
	}
	ret->data = buf;
	ret->len = n;
	return 1;
}

/* Exactly n bytes of base64 into a fixed buffer. */
static int get_b64_fixed(struct dec *d, json_object *o, const char *path, const char *name,
			 uint8_t *out, size_t n)
{
	struct proto_blob b = { 0 };
	int r = get_b64(d, o, path, name, true, n, n, &b);

	if (r < 0)
		return r;
	memcpy(out, b.data, n);
	blob_done(&b);
	return 0;
}

static int check_version(struct dec *d, json_object *o)
{
	json_object *v = NULL;
	int r = member(d, o, "", "version", json_type_int, true, &v);
	int64_t ver;

	if (r < 0)
		return r;
	ver = json_object_get_int64(v);
	if (ver != PROTO_VERSION)
		return dfail(d, d->w->version, "version", "%s%" PRId64 ", expected %d",
			     ver == INT64_MAX ? ">= " : "", ver, PROTO_VERSION);
	return 0;
}

/*
 * What json-c's strict mode still lets through: single-quoted strings and raw control characters
 * inside strings (RFC 8259 section 7 requires them escaped). One pass, string-aware.
 */
static int json_prescan(struct dec *d, const char *json, size_t len)
{
	bool in_str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)json[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			else if (c < 0x20)
				return kagi_err_set(d->e, -EBADMSG, d->w->json, i,
						    "invalid JSON: control character 0x%02x in a "
						    "string",
						    c);
		} else if (c == '"') {
			in_str = true;
		} else if (c == '\'') {
			return kagi_err_set(d->e, -EBADMSG, d->w->json, i,
					    "invalid JSON: single-quoted string");
		}
	}
	return 0;
}

/* Parse text (at most max bytes, checked first) into one JSON object. */
static int parse_object(struct dec *d, const char *json, size_t len, size_t max, json_object **ret)
{
	struct json_tokener *tok;
	json_object *o;
	size_t end;
	int r;

	if (!json)
		return -EINVAL;
	if (len > max)
		return kagi_err_set(d->e, -EFBIG, d->w->too_large, KAGI_ERR_NO_OFFSET,
				    "message is %zu bytes, more than %zu", len, max);
	r = json_prescan(d, json, len);
	if (r < 0)
		return r;
	tok = json_tokener_new_ex(PROTO_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, json, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!o) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		json_tokener_free(tok);
		return kagi_err_set(d->e, -EBADMSG, d->w->json, end, "invalid JSON: %s",
				    je == json_tokener_continue ? "unexpected end of input"
								: json_tokener_error_desc(je));
	}
	json_tokener_free(tok);
	/* only JSON whitespace may follow the value */
	for (size_t i = end; i < len; i++) {
		char c = json[i];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(o);
			return kagi_err_set(d->e, -EBADMSG, d->w->json, i,
					    "trailing data after the JSON object");
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		int rc = kagi_err_set(d->e, -EBADMSG, d->w->json, 0, "message is %s, not an object",
				      json_type_desc(o));

		json_object_put(o);
		return rc;
	}
	*ret = o;
	return 0;
}

/* ---- encoding helpers ---------------------------------------------------------------------------- */

static int jadd(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int jappend(json_object *a, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static json_object *jb64(const uint8_t *p, size_t len)
{
	char *s = proto_b64_encode(p, len);
	json_object *o;

	if (!s)
		return NULL;
	o = json_object_new_string(s);
	free(s);
	return o;
}

static json_object *jstr(const char *s)
{
	return json_object_new_string(s);
}

/* The compact text of o, then o is released. */
static int finish(json_object *o, char **ret)
{
	const char *s = json_object_to_json_string_ext(o, JSON_FLAGS_OUT);
	char *copy = s ? strdup(s) : NULL;

	json_object_put(o);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

static json_object *new_message(void)
{
	json_object *o = json_object_new_object();

	if (o && jadd(o, "version", json_object_new_int(PROTO_VERSION)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* ---- POST /v1/challenge ------------------------------------------------------------------------- */

int proto_challenge_request_encode(char **ret)
{
	json_object *o = new_message();

	if (!ret)
		return -EINVAL;
	if (!o)
		return -ENOMEM;
	return finish(o, ret);
}

int proto_challenge_request_decode(const char *json, size_t len, struct kagi_err *reterr)
{
	static const char *const allowed[] = { "version", NULL };
	struct dec d = { &w_chreq, reterr };
	json_object *o = NULL;
	int r;

	r = parse_object(&d, json, len, CHALLENGE_MAX, &o);
	if (r < 0)
		return r;
	r = check_members(&d, o, "", allowed);
	if (r >= 0)
		r = check_version(&d, o);
	json_object_put(o);
	return r < 0 ? r : 0;
}

int proto_challenge_encode(const struct proto_challenge *c, char **ret)
{
	json_object *o;
	size_t tl;
	int r;

	if (!c || !ret)
		return -EINVAL;
	tl = strnlen(c->token, sizeof(c->token));
	if (tl > PROTO_TOKEN_MAX || !token_valid(c->token, tl) || c->expires > INT64_MAX)
		return -EINVAL;
	o = new_message();
	if (!o)
		return -ENOMEM;
	r = jadd(o, "nonce", jb64(c->nonce, sizeof(c->nonce)));
	if (r >= 0)
		r = jadd(o, "token", jstr(c->token));
	if (r >= 0)
		r = jadd(o, "expires", json_object_new_int64((int64_t)c->expires));
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	return finish(o, ret);
}

static int get_token(struct dec *d, json_object *o, char out[PROTO_TOKEN_MAX + 1])
{
	const char *s = NULL;
	size_t len = 0;
	int r;

	r = get_string(d, o, "", "token", true, PROTO_TOKEN_MAX, "a string", &s, &len);
	if (r < 0)
		return r;
	if (!token_valid(s, len))
		return dfail(d, d->w->value, "token",
			     "not base64url without padding (1..%d characters of A-Z a-z 0-9 - _)",
			     PROTO_TOKEN_MAX);
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

int proto_challenge_decode(const char *json, size_t len, struct proto_challenge *ret,
			   struct kagi_err *reterr)
{
	static const char *const allowed[] = { "version", "nonce", "token", "expires", NULL };
	struct dec d = { &w_chal, reterr };
	struct proto_challenge c = { 0 };
	json_object *o = NULL, *x = NULL;
	int64_t exp;
	int r;

	if (!ret)
		return -EINVAL;
	r = parse_object(&d, json, len, PROTO_MAX_RESPONSE, &o);
	if (r < 0)
		return r;
	r = check_members(&d, o, "", allowed);
	if (r >= 0)
		r = check_version(&d, o);
	if (r >= 0)
		r = get_b64_fixed(&d, o, "", "nonce", c.nonce, sizeof(c.nonce));
	if (r >= 0)
		r = get_token(&d, o, c.token);
	if (r >= 0)
		r = member(&d, o, "", "expires", json_type_int, true, &x);
	if (r >= 0) {
		exp = json_object_get_int64(x);
		if (exp < 0 || exp == INT64_MAX)
			r = dfail(&d, d.w->value, "expires", "%" PRId64 " is out of range", exp);
		else
			c.expires = (uint64_t)exp;
	}
	json_object_put(o);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}

/* ---- POST /v1/attest request ----------------------------------------------------------------- */

static bool hash_key_canonical(const char *key, TPMI_ALG_HASH *ret)
{
	const char *n;

	if (tpm_hash_from_name(key, ret) < 0 || !tpm_hash_size(*ret))
		return false;
	n = tpm_alg_name(*ret);
	return n && streq(n, key);
}

/* "0".."23" without leading zeros. */
static bool pcr_key_canonical(const char *key)
{
	size_t len = strlen(key);
	unsigned v = 0;

	if (len < 1 || len > 2 || (len == 2 && key[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (key[i] < '0' || key[i] > '9')
			return false;
		v = v * 10 + (unsigned)(key[i] - '0');
	}
	return v < TPM_PCR_MAX;
}

/* {"sha256": {"0": "hex", ...}, ...}: the shape is checked here, the values by tpm-quote. */
static int get_pcrs(struct dec *d, json_object *tpm, const char *path, struct tpm_pcr_values *ret)
{
	json_object *pcrs = NULL;
	struct kagi_err e2 = { 0 };
	size_t nbanks = 0;
	char p[160], pb[200];
	int r;

	r = member(d, tpm, path, "pcrs", json_type_object, true, &pcrs);
	if (r < 0)
		return r;
	path_join(p, sizeof(p), path, "pcrs");
	json_object_object_foreach(pcrs, bank, vals)
	{
		TPMI_ALG_HASH alg;
		size_t nvals = 0;

		path_join(pb, sizeof(pb), p, bank);
		if (!hash_key_canonical(bank, &alg))
			return dfail(d, d->w->unknown, pb,
				     "'%.32s' is not a PCR bank name (sha1, sha256, sha384, ...)",
				     bank);
		if (!json_object_is_type(vals, json_type_object))
			return dfail(d, d->w->type, pb, "not an object (found %s)",
				     json_type_desc(vals));
		json_object_object_foreach(vals, idx, val)
		{
			(void)val;
			if (!pcr_key_canonical(idx))
				return dfail(d, d->w->value, pb, "'%.32s' is not a PCR index 0..%d",
					     idx, TPM_PCR_MAX - 1);
			if (!json_object_is_type(val, json_type_string))
				return dfail(d, d->w->type, pb,
					     "PCR %s: not a hex string (found %s)", idx,
					     json_type_desc(val));
			nvals++;
		}
		if (!nvals)
			return dfail(d, d->w->value, pb, "no PCR values");
		nbanks++;
	}
	if (!nbanks)
		return dfail(d, d->w->value, p, "no PCR bank");
	if (nbanks > TPM_PCR_BANKS_MAX)
		return dfail(d, d->w->value, p, "%zu banks, at most %d", nbanks, TPM_PCR_BANKS_MAX);
	r = tpm_pcr_values_from_json(pcrs, ret, &e2);
	if (r < 0)
		return dfail(d, d->w->value, p, "%s", e2.msg);
	return 0;
}

static void evidence_done(struct proto_evidence *ev)
{
	blob_done(&ev->snp_report);
	blob_done(&ev->snp_certs);
	blob_done(&ev->ecdh_public);
	blob_done(&ev->svsm_report);
	blob_done(&ev->svsm_manifest);
	blob_done(&ev->svsm_certs);
	blob_done(&ev->ek_public);
	blob_done(&ev->ak_public);
	blob_done(&ev->quote_attest);
	blob_done(&ev->quote_sig);
	blob_done(&ev->eventlog);
}

void proto_attest_request_done(struct proto_attest_request *req)
{
	if (!req)
		return;
	evidence_done(&req->ev);
	OPENSSL_cleanse(req, sizeof(*req));
}

static int get_evidence(struct dec *d, json_object *top, struct proto_evidence *ev)
{
	static const char *const ev_allowed[] = { "snp", "ecdh_public", "svsm", "tpm", NULL };
	static const char *const snp_allowed[] = { "report", "certs", NULL };
	static const char *const svsm_allowed[] = { "report", "manifest", "certs", NULL };
	static const char *const tpm_allowed[] = { "ek_public", "ak_public", "quote",
						   "pcrs",      "eventlog",  NULL };
	static const char *const quote_allowed[] = { "attest", "signature", NULL };
	json_object *e = NULL, *snp = NULL, *svsm = NULL, *tpm = NULL, *q = NULL;
	int r, has_ecdh;

	r = member(d, top, "", "evidence", json_type_object, true, &e);
	if (r < 0)
		return r;
	r = check_members(d, e, "evidence", ev_allowed);
	if (r < 0)
		return r;

	r = member(d, e, "evidence", "snp", json_type_object, false, &snp);
	if (r < 0)
		return r;
	if (r == 0)
		return dfail(d, d->w->rules, "evidence.snp", "SNP evidence is required");
	r = check_members(d, snp, "evidence.snp", snp_allowed);
	if (r >= 0)
		r = get_b64(d, snp, "evidence.snp", "report", true, SNP_REPORT_LEN, SNP_REPORT_LEN,
			    &ev->snp_report);
	if (r >= 0)
		r = get_b64(d, snp, "evidence.snp", "certs", false, 1, CERTS_MAX, &ev->snp_certs);
	if (r < 0)
		return r;

	r = has_ecdh =
		get_b64(d, e, "evidence", "ecdh_public", false, 1, ECDH_MAX, &ev->ecdh_public);
	if (r < 0)
		return r;
	if (has_ecdh && !ec_point_shape_valid(&ev->ecdh_public))
		return dfail(d, d->w->value, "evidence.ecdh_public",
			     "%zu bytes, expected an uncompressed EC point (0x04 || X || Y; 97 "
			     "bytes for P-384)",
			     ev->ecdh_public.len);

	r = member(d, e, "evidence", "svsm", json_type_object, false, &svsm);
	if (r < 0)
		return r;
	ev->has_svsm = r == 1;
	r = member(d, e, "evidence", "tpm", json_type_object, false, &tpm);
	if (r < 0)
		return r;
	ev->has_tpm = r == 1;
	if (ev->has_svsm && !ev->has_tpm)
		return dfail(d, d->w->rules, "evidence.svsm", "given without evidence.tpm");
	if (ev->has_tpm && !ev->has_svsm)
		return dfail(d, d->w->rules, "evidence.tpm", "given without evidence.svsm");
	if (ev->has_tpm && has_ecdh)
		return dfail(d, d->w->rules, "evidence.ecdh_public",
			     "only allowed on the direct path (without evidence.tpm)");
	if (!ev->has_tpm && !has_ecdh)
		return dfail(
			d, d->w->rules, "evidence.ecdh_public",
			"required on the direct path (without evidence.svsm and evidence.tpm)");

	if (ev->has_svsm) {
		r = check_members(d, svsm, "evidence.svsm", svsm_allowed);
		if (r >= 0)
			r = get_b64(d, svsm, "evidence.svsm", "report", true, SNP_REPORT_LEN,
				    SNP_REPORT_LEN, &ev->svsm_report);
		if (r >= 0)
			r = get_b64(d, svsm, "evidence.svsm", "manifest", true, 1, TPMT_MAX,
				    &ev->svsm_manifest);
		if (r >= 0)
			r = get_b64(d, svsm, "evidence.svsm", "certs", false, 1, CERTS_MAX,
				    &ev->svsm_certs);
		if (r < 0)
			return r;
	}
	if (ev->has_tpm) {
		r = check_members(d, tpm, "evidence.tpm", tpm_allowed);
		if (r >= 0)
			r = get_b64(d, tpm, "evidence.tpm", "ek_public", true, 1, TPMT_MAX,
				    &ev->ek_public);
		if (r >= 0)
			r = get_b64(d, tpm, "evidence.tpm", "ak_public", true, 1, TPMT_MAX,
				    &ev->ak_public);
		if (r >= 0)
			r = member(d, tpm, "evidence.tpm", "quote", json_type_object, true, &q);
		if (r >= 0)
			r = check_members(d, q, "evidence.tpm.quote", quote_allowed);
		if (r >= 0)
			r = get_b64(d, q, "evidence.tpm.quote", "attest", true, 1, QUOTE_MAX,
				    &ev->quote_attest);
		if (r >= 0)
			r = get_b64(d, q, "evidence.tpm.quote", "signature", true, 1, QUOTE_MAX,
				    &ev->quote_sig);
		if (r >= 0)
			r = get_pcrs(d, tpm, "evidence.tpm", &ev->pcrs);
		if (r >= 0)
			r = get_b64(d, tpm, "evidence.tpm", "eventlog", false, 1, EVENTLOG_MAX,
				    &ev->eventlog);
		if (r < 0)
			return r;
	}
	return 0;
}

static int get_volume(struct dec *d, json_object *v, const char *path, char out[PROTO_UUID_LEN + 1])
{
	const char *s;
	int len;

	if (!json_object_is_type(v, json_type_string))
		return dfail(d, d->w->type, path, "not a string (found %s)", json_type_desc(v));
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len != PROTO_UUID_LEN || strlen(s) != PROTO_UUID_LEN || !proto_uuid_valid(s))
		return dfail(d, d->w->value, path,
			     "'%.40s' is not a lowercase canonical UUID (8-4-4-4-12 hex digits)",
			     s);
	memcpy(out, s, PROTO_UUID_LEN + 1);
	return 0;
}

int proto_attest_request_decode(const char *json, size_t len, struct proto_attest_request *ret,
				struct kagi_err *reterr)
{
	static const char *const allowed[] = { "version", "token", "volumes", "evidence", NULL };
	struct dec d = { &w_req, reterr };
	struct proto_attest_request *req;
	json_object *o = NULL, *vols = NULL;
	size_t n;
	int r;

	if (!ret)
		return -EINVAL;
	r = parse_object(&d, json, len, PROTO_MAX_REQUEST, &o);
	if (r < 0)
		return r;
	req = calloc(1, sizeof(*req));
	if (!req) {
		json_object_put(o);
		return -ENOMEM;
	}
	r = check_members(&d, o, "", allowed);
	if (r >= 0)
		r = check_version(&d, o);
	if (r >= 0)
		r = get_token(&d, o, req->token);
	if (r >= 0)
		r = member(&d, o, "", "volumes", json_type_array, true, &vols);
	if (r < 0)
		goto out;
	n = json_object_array_length(vols);
	if (n < 1 || n > PROTO_MAX_VOLUMES) {
		r = dfail(&d, d.w->size, "volumes", "%zu volumes, expected 1..%d", n,
			  PROTO_MAX_VOLUMES);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char p[32];

		snprintf(p, sizeof(p), "volumes[%zu]", i);
		r = get_volume(&d, json_object_array_get_idx(vols, i), p, req->volumes[i]);
		if (r < 0)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (streq(req->volumes[j], req->volumes[i])) {
				r = dfail(&d, d.w->value, p, "volume %s is listed twice",
					  req->volumes[i]);
				goto out;
			}
	}
	req->nvolumes = n;
	r = get_evidence(&d, o, &req->ev);
out:
	json_object_put(o);
	if (r < 0) {
		proto_attest_request_done(req);
		free(req);
		return r;
	}
	*ret = *req;
	OPENSSL_cleanse(req, sizeof(*req));
	free(req);
	return 0;
}

static json_object *pcrs_to_json(const struct tpm_pcr_values *v)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	for (size_t b = 0; b < v->nbanks && b < TPM_PCR_BANKS_MAX; b++) {
		const struct tpm_pcr_bank *bank = &v->bank[b];
		const char *name = tpm_alg_name(bank->alg);
		size_t ds = tpm_hash_size(bank->alg);
		json_object *jb = json_object_new_object();

		if (!jb || !name || !ds || jadd(o, name, jb) < 0) {
			if (jb && (!name || !ds))
				json_object_put(jb);
			json_object_put(o);
			return NULL;
		}
		for (unsigned i = 0; i < TPM_PCR_MAX; i++) {
			char key[4], hex[2 * TPM_DIGEST_MAX + 1];

			if (!bank->present[i])
				continue;
			snprintf(key, sizeof(key), "%u", i);
			if (jadd(jb, key, jstr(hex_encode(bank->value[i], ds, hex))) < 0) {
				json_object_put(o);
				return NULL;
			}
		}
	}
	return o;
}

static bool pcrs_valid(const struct tpm_pcr_values *v)
{
	if (v->nbanks < 1 || v->nbanks > TPM_PCR_BANKS_MAX)
		return false;
	for (size_t b = 0; b < v->nbanks; b++) {
		const char *name = tpm_alg_name(v->bank[b].alg);
		TPMI_ALG_HASH alg;
		bool any = false;

		if (!name || !hash_key_canonical(name, &alg) || alg != v->bank[b].alg)
			return false;
		for (size_t j = 0; j < b; j++)
			if (v->bank[j].alg == v->bank[b].alg)
				return false;
		for (unsigned i = 0; i < TPM_PCR_MAX; i++)
			any |= v->bank[b].present[i];
		if (!any)
			return false;
	}
	return true;
}

static bool volumes_valid(const char (*vols)[PROTO_UUID_LEN + 1], size_t n)
{
	if (n < 1 || n > PROTO_MAX_VOLUMES)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!proto_uuid_valid(vols[i]))
			return false;
		for (size_t j = 0; j < i; j++)
			if (streq(vols[i], vols[j]))
				return false;
	}
	return true;
}

static bool evidence_valid(const struct proto_evidence *ev)
{
	if (!blob_ok(&ev->snp_report, SNP_REPORT_LEN, SNP_REPORT_LEN) ||
	    !blob_ok(&ev->snp_certs, 0, CERTS_MAX) || !blob_ok(&ev->ecdh_public, 0, ECDH_MAX))
		return false;
	if (ev->has_svsm != ev->has_tpm)
		return false;
	if (!ev->has_tpm)
		return ev->ecdh_public.len > 0 && ec_point_shape_valid(&ev->ecdh_public);
	return ev->ecdh_public.len == 0 &&
	       blob_ok(&ev->svsm_report, SNP_REPORT_LEN, SNP_REPORT_LEN) &&
	       blob_ok(&ev->svsm_manifest, 1, TPMT_MAX) && blob_ok(&ev->svsm_certs, 0, CERTS_MAX) &&
	       blob_ok(&ev->ek_public, 1, TPMT_MAX) && blob_ok(&ev->ak_public, 1, TPMT_MAX) &&
	       blob_ok(&ev->quote_attest, 1, QUOTE_MAX) && blob_ok(&ev->quote_sig, 1, QUOTE_MAX) &&
	       blob_ok(&ev->eventlog, 0, EVENTLOG_MAX) && pcrs_valid(&ev->pcrs);
}

static int add_opt_b64(json_object *o, const char *key, const struct proto_blob *b)
{
	if (!b->len)
		return 0;
	return jadd(o, key, jb64(b->data, b->len));
}

static int evidence_to_json(const struct proto_evidence *ev, json_object **ret)
{
	json_object *e = json_object_new_object(), *snp = NULL, *svsm = NULL, *tpm = NULL,
		    *q = NULL;
	int r = e ? 0 : -ENOMEM;

	if (r >= 0)
		r = jadd(e, "snp", snp = json_object_new_object());
	if (r >= 0)
		r = jadd(snp, "report", jb64(ev->snp_report.data, ev->snp_report.len));
	if (r >= 0)
		r = add_opt_b64(snp, "certs", &ev->snp_certs);
	if (r >= 0)
		r = add_opt_b64(e, "ecdh_public", &ev->ecdh_public);
	if (r >= 0 && ev->has_svsm) {
		r = jadd(e, "svsm", svsm = json_object_new_object());
		if (r >= 0)
			r = jadd(svsm, "report", jb64(ev->svsm_report.data, ev->svsm_report.len));
		if (r >= 0)
			r = jadd(svsm, "manifest",
				 jb64(ev->svsm_manifest.data, ev->svsm_manifest.len));
		if (r >= 0)
			r = add_opt_b64(svsm, "certs", &ev->svsm_certs);
	}
	if (r >= 0 && ev->has_tpm) {
		r = jadd(e, "tpm", tpm = json_object_new_object());
		if (r >= 0)
			r = jadd(tpm, "ek_public", jb64(ev->ek_public.data, ev->ek_public.len));
		if (r >= 0)
			r = jadd(tpm, "ak_public", jb64(ev->ak_public.data, ev->ak_public.len));
		if (r >= 0)
			r = jadd(tpm, "quote", q = json_object_new_object());
		if (r >= 0)
			r = jadd(q, "attest", jb64(ev->quote_attest.data, ev->quote_attest.len));
		if (r >= 0)
			r = jadd(q, "signature", jb64(ev->quote_sig.data, ev->quote_sig.len));
		if (r >= 0)
			r = jadd(tpm, "pcrs", pcrs_to_json(&ev->pcrs));
		if (r >= 0)
			r = add_opt_b64(tpm, "eventlog", &ev->eventlog);
	}
	if (r < 0) {
		json_object_put(e);
		return r;
	}
	*ret = e;
	return 0;
}

int proto_attest_request_encode(const struct proto_attest_request *req, char **ret)
{
	json_object *o, *vols, *ev = NULL;
	size_t tl;
	int r;

	if (!req || !ret)
		return -EINVAL;
	tl = strnlen(req->token, sizeof(req->token));
	if (tl > PROTO_TOKEN_MAX || !token_valid(req->token, tl) ||
	    !volumes_valid(req->volumes, req->nvolumes) || !evidence_valid(&req->ev))
		return -EINVAL;
	o = new_message();
	if (!o)
		return -ENOMEM;
	r = jadd(o, "token", jstr(req->token));
	if (r >= 0)
		r = jadd(o, "volumes", vols = json_object_new_array());
	for (size_t i = 0; r >= 0 && i < req->nvolumes; i++)
		r = jappend(vols, jstr(req->volumes[i]));
	if (r >= 0)
		r = evidence_to_json(&req->ev, &ev);
	if (r >= 0)
		r = jadd(o, "evidence", ev);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	return finish(o, ret);
}

/* ---- POST /v1/attest response ---------------------------------------------------------------- */

void proto_attest_response_done(struct proto_attest_response *resp)
{
	if (!resp)
		return;
	blob_done(&resp->cred_blob);
	blob_done(&resp->cred_secret);
	blob_done(&resp->ecdh_public);
	for (size_t i = 0; i < PROTO_MAX_VOLUMES; i++)
		blob_done(&resp->keys[i].ciphertext);
	OPENSSL_cleanse(resp, sizeof(*resp));
}

/* Cut s (a NUL-terminated string in a buffer) so it does not end inside a UTF-8 sequence. */
static void utf8_trim(char *s)
{
	size_t len = strlen(s), i = len, need;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	lead = (unsigned char)s[i - 1];
	if (lead < 0x80)
		return;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (len - (i - 1) < need)
		s[i - 1] = '\0';
}

void proto_response_add_reason(struct proto_attest_response *resp, const char *code,
			       const char *fmt, ...)
{
	struct proto_reason *rs;
	va_list ap;

	if (!resp || !code || resp->nreasons >= PROTO_MAX_REASONS)
		return;
	rs = &resp->reasons[resp->nreasons++];
	snprintf(rs->code, sizeof(rs->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(rs->message, sizeof(rs->message), fmt, ap);
	va_end(ap);
	utf8_trim(rs->message);
	for (char *p = rs->message; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static int get_sealed_key(struct dec *d, json_object *k, const char *path,
			  struct proto_sealed_key *ret)
{
	static const char *const allowed[] = { "volume", "iv", "ciphertext", "tag", NULL };
	json_object *v = NULL;
	char p[64];
	int r;

	if (!json_object_is_type(k, json_type_object))
		return dfail(d, d->w->type, path, "not an object (found %s)", json_type_desc(k));
	r = check_members(d, k, path, allowed);
	if (r >= 0)
		r = member(d, k, path, "volume", json_type_string, true, &v);
	if (r >= 0)
		r = get_volume(d, v, path_join(p, sizeof(p), path, "volume"), ret->volume);
	if (r >= 0)
		r = get_b64_fixed(d, k, path, "iv", ret->iv, sizeof(ret->iv));
	if (r >= 0)
		r = get_b64(d, k, path, "ciphertext", true, SEALED_MIN, SEALED_MAX,
			    &ret->ciphertext);
	if (r >= 0)
		r = get_b64_fixed(d, k, path, "tag", ret->tag, sizeof(ret->tag));
	return r < 0 ? r : 0;
}

static int get_reason(struct dec *d, json_object *x, const char *path, struct proto_reason *ret)
{
	static const char *const allowed[] = { "code", "message", NULL };
	const char *s = NULL;
	size_t len = 0;
	char p[64];
	int r;

	if (!json_object_is_type(x, json_type_object))
		return dfail(d, d->w->type, path, "not an object (found %s)", json_type_desc(x));
	r = check_members(d, x, path, allowed);
	if (r >= 0)
		r = get_string(d, x, path, "code", true, REASON_CODE_MAX, "a string", &s, &len);
	if (r < 0)
		return r;
	if (!code_valid(s, len))
		return dfail(d, d->w->value, path_join(p, sizeof(p), path, "code"),
			     "'%.64s' is not a reason code (a-z 0-9 . _ -)", s);
	memcpy(ret->code, s, len);
	ret->code[len] = '\0';
	r = get_string(d, x, path, "message", true, REASON_MSG_MAX, "a string", &s, &len);
	if (r < 0)
		return r;
	if (!text_valid(s, len))
		return dfail(d, d->w->value, path_join(p, sizeof(p), path, "message"),
			     "contains control characters");
	memcpy(ret->message, s, len);
	ret->message[len] = '\0';
	return 0;
}

/* The credential must be a marshaled TPM2B_ID_OBJECT / TPM2B_ENCRYPTED_SECRET pair. */
static int credential_shape(struct dec *d, const struct proto_attest_response *resp)
{
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET secret;
	struct kagi_err e2 = { 0 };
	int r;

	r = credential_unmarshal(&resp->cred_blob, &resp->cred_secret, &blob, &secret, &e2);
	if (r < 0)
		return dfail(d, d->w->value,
			     streq(e2.what, "credential.secret") ? "credential.secret"
								 : "credential.blob",
			     "%s", e2.msg);
	return 0;
}

static int decode_granted(struct dec *d, json_object *o, struct proto_attest_response *resp)
{
	static const char *const cred_allowed[] = { "blob", "secret", NULL };
	static const char *const ecdh_allowed[] = { "public", NULL };
	json_object *cred = NULL, *ecdh = NULL, *keys = NULL, *x = NULL;
	const char *s = NULL;
	size_t n, len = 0;
	int r;

	if (json_object_object_get_ex(o, "reasons", &x))
		return dfail(d, d->w->rules, "reasons", "not allowed when the result is granted");
	r = get_string(d, o, "", "group", false, GROUP_MAX, "a string", &s, &len);
	if (r < 0)
		return r;
	if (r == 1) {
		if (len < 1 || !text_valid(s, len))
			return dfail(d, d->w->value, "group",
				     "empty or contains control characters");
		memcpy(resp->group, s, len);
		resp->group[len] = '\0';
	}
	r = member(d, o, "", "credential", json_type_object, false, &cred);
	if (r < 0)
		return r;
	resp->has_credential = r == 1;
	r = member(d, o, "", "ecdh", json_type_object, false, &ecdh);
	if (r < 0)
		return r;
	resp->has_ecdh = r == 1;
	if (resp->has_credential == resp->has_ecdh)
		return dfail(d, d->w->rules, "credential",
			     "a grant needs exactly one of \"credential\" and \"ecdh\" (found %s)",
			     resp->has_ecdh ? "both" : "neither");
	if (resp->has_credential) {
		r = check_members(d, cred, "credential", cred_allowed);
		if (r >= 0)
			r = get_b64(d, cred, "credential", "blob", true, 1, CRED_MAX,
				    &resp->cred_blob);
		if (r >= 0)
			r = get_b64(d, cred, "credential", "secret", true, 1, CRED_MAX,
				    &resp->cred_secret);
		if (r >= 0)
			r = credential_shape(d, resp);
	} else {
		r = check_members(d, ecdh, "ecdh", ecdh_allowed);
		if (r >= 0)
			r = get_b64(d, ecdh, "ecdh", "public", true, 1, ECDH_MAX,
				    &resp->ecdh_public);
		if (r >= 0 && !ec_point_shape_valid(&resp->ecdh_public))
			r = dfail(d, d->w->value, "ecdh.public",
				  "%zu bytes, expected an uncompressed EC point",
				  resp->ecdh_public.len);
	}
	if (r < 0)
		return r;

	r = member(d, o, "", "keys", json_type_array, false, &keys);
	if (r < 0)
		return r;
	if (r == 0)
		return dfail(d, d->w->rules, "keys", "a grant needs at least one key");
	n = json_object_array_length(keys);
	if (n < 1 || n > PROTO_MAX_VOLUMES)
		return dfail(d, n ? d->w->size : d->w->rules, "keys", "%zu keys, expected 1..%d", n,
			     PROTO_MAX_VOLUMES);
	for (size_t i = 0; i < n; i++) {
		char p[32];

		snprintf(p, sizeof(p), "keys[%zu]", i);
		r = get_sealed_key(d, json_object_array_get_idx(keys, i), p, &resp->keys[i]);
		resp->nkeys = i + 1; /* so a failure frees this key's ciphertext too */
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (streq(resp->keys[j].volume, resp->keys[i].volume))
				return dfail(d, d->w->value, p, "volume %s has two keys",
					     resp->keys[i].volume);
	}
	return 0;
}

static int decode_refused(struct dec *d, json_object *o, struct proto_attest_response *resp)
{
	static const char *const not_allowed[] = { "group", "credential", "ecdh", "keys" };
	json_object *rs = NULL, *x = NULL;
	size_t n;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(not_allowed); i++)
		if (json_object_object_get_ex(o, not_allowed[i], &x))
			return dfail(d, d->w->rules, not_allowed[i],
				     "not allowed when the result is refused");
	r = member(d, o, "", "reasons", json_type_array, false, &rs);
	if (r < 0)
		return r;
	if (r == 0)
		return dfail(d, d->w->rules, "reasons", "a refusal needs at least one reason");
	n = json_object_array_length(rs);
	if (n < 1 || n > PROTO_MAX_REASONS)
		return dfail(d, n ? d->w->size : d->w->rules, "reasons",
			     "%zu reasons, expected 1..%d", n, PROTO_MAX_REASONS);
	for (size_t i = 0; i < n; i++) {
		char p[32];

		snprintf(p, sizeof(p), "reasons[%zu]", i);
		r = get_reason(d, json_object_array_get_idx(rs, i), p, &resp->reasons[i]);
		if (r < 0)
			return r;
	}
	resp->nreasons = n;
	return 0;
}

int proto_attest_response_decode(const char *json, size_t len, struct proto_attest_response *ret,
				 struct kagi_err *reterr)
{
	static const char *const allowed[] = { "version", "result", "group",   "credential",
					       "ecdh",    "keys",   "reasons", NULL };
	struct dec d = { &w_resp, reterr };
	struct proto_attest_response *resp;
	json_object *o = NULL;
	const char *res = NULL;
	size_t rl = 0;
	int r;

	if (!ret)
		return -EINVAL;
	r = parse_object(&d, json, len, PROTO_MAX_RESPONSE, &o);
	if (r < 0)
		return r;
	resp = calloc(1, sizeof(*resp));
	if (!resp) {
		json_object_put(o);
		return -ENOMEM;
	}
	r = check_members(&d, o, "", allowed);
	if (r >= 0)
		r = check_version(&d, o);
	if (r >= 0)
		r = get_string(&d, o, "", "result", true, 16, "a string", &res, &rl);
	if (r >= 0) {
		if (streq(res, "granted")) {
			resp->granted = true;
			r = decode_granted(&d, o, resp);
		} else if (streq(res, "refused")) {
			r = decode_refused(&d, o, resp);
		} else {
			r = dfail(&d, d.w->value, "result",
				  "'%.16s', expected \"granted\" or \"refused\"", res);
		}
	}
	json_object_put(o);
	if (r < 0) {
		proto_attest_response_done(resp);
		free(resp);
		return r;
	}
	*ret = *resp;
	OPENSSL_cleanse(resp, sizeof(*resp));
	free(resp);
	return 0;
}

static bool response_valid(const struct proto_attest_response *resp)
{
	if (!resp->granted) {
		if (resp->nreasons < 1 || resp->nreasons > PROTO_MAX_REASONS)
			return false;
		for (size_t i = 0; i < resp->nreasons; i++) {
			const struct proto_reason *rs = &resp->reasons[i];
			size_t cl = strnlen(rs->code, sizeof(rs->code));
			size_t ml = strnlen(rs->message, sizeof(rs->message));

			if (cl >= sizeof(rs->code) || ml >= sizeof(rs->message) ||
			    !code_valid(rs->code, cl) || !text_valid(rs->message, ml))
				return false;
		}
		return true;
	}
	if (resp->has_credential == resp->has_ecdh)
		return false;
	if (resp->has_credential &&
	    (!blob_ok(&resp->cred_blob, 1, CRED_MAX) || !blob_ok(&resp->cred_secret, 1, CRED_MAX)))
		return false;
	if (resp->has_ecdh && (!blob_ok(&resp->ecdh_public, 1, ECDH_MAX) ||
			       !ec_point_shape_valid(&resp->ecdh_public)))
		return false;
	if (strnlen(resp->group, sizeof(resp->group)) >= sizeof(resp->group) ||
	    !text_valid(resp->group, strlen(resp->group)))
		return false;
	if (resp->nkeys < 1 || resp->nkeys > PROTO_MAX_VOLUMES)
		return false;
	for (size_t i = 0; i < resp->nkeys; i++) {
		const struct proto_sealed_key *k = &resp->keys[i];

		if (!proto_uuid_valid(k->volume) ||
		    !blob_ok(&k->ciphertext, SEALED_MIN, SEALED_MAX))
			return false;
		for (size_t j = 0; j < i; j++)
			if (streq(resp->keys[j].volume, k->volume))
				return false;
	}
	return true;
}

int proto_attest_response_encode(const struct proto_attest_response *resp, char **ret)
{
	json_object *o, *x = NULL, *arr = NULL;
	int r;

	if (!resp || !ret || !response_valid(resp))
		return -EINVAL;
	o = new_message();
	if (!o)
		return -ENOMEM;
	r = jadd(o, "result", jstr(resp->granted ? "granted" : "refused"));
	if (r >= 0 && !resp->granted) {
		r = jadd(o, "reasons", arr = json_object_new_array());
		for (size_t i = 0; r >= 0 && i < resp->nreasons; i++) {
			r = jappend(arr, x = json_object_new_object());
			if (r >= 0)
				r = jadd(x, "code", jstr(resp->reasons[i].code));
			if (r >= 0)
				r = jadd(x, "message", jstr(resp->reasons[i].message));
		}
		goto out;
	}
	if (r >= 0 && resp->group[0])
		r = jadd(o, "group", jstr(resp->group));
	if (r >= 0 && resp->has_credential) {
		r = jadd(o, "credential", x = json_object_new_object());
		if (r >= 0)
			r = jadd(x, "blob", jb64(resp->cred_blob.data, resp->cred_blob.len));
		if (r >= 0)
			r = jadd(x, "secret", jb64(resp->cred_secret.data, resp->cred_secret.len));
	}
	if (r >= 0 && resp->has_ecdh) {
		r = jadd(o, "ecdh", x = json_object_new_object());
		if (r >= 0)
			r = jadd(x, "public", jb64(resp->ecdh_public.data, resp->ecdh_public.len));
	}
	if (r >= 0)
		r = jadd(o, "keys", arr = json_object_new_array());
	for (size_t i = 0; r >= 0 && i < resp->nkeys; i++) {
		const struct proto_sealed_key *k = &resp->keys[i];

		r = jappend(arr, x = json_object_new_object());
		if (r >= 0)
			r = jadd(x, "volume", jstr(k->volume));
		if (r >= 0)
			r = jadd(x, "iv", jb64(k->iv, sizeof(k->iv)));
		if (r >= 0)
			r = jadd(x, "ciphertext", jb64(k->ciphertext.data, k->ciphertext.len));
		if (r >= 0)
			r = jadd(x, "tag", jb64(k->tag, sizeof(k->tag)));
	}
out:
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	return finish(o, ret);
}
