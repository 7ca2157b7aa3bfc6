// SPDX-License-Identifier: Apache-2.0
/* token.c: stateless, one-time challenge tokens (PROTOCOL.md section 1; see token.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"
#include "token.h"
#include "util.h"

/* Domain tag, MACed with its trailing NUL. */
static const char token_tag[] = "kagi-token-v1";
#define TOKEN_TAG_LEN sizeof(token_tag) /* 14, NUL included */

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding; out holds 4 * ceil(len / 3) + 1 bytes. */
static void b64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (n > 2)
			v |= in[i + 2];
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		if (n > 1)
			out[o++] = b64url_alphabet[(v >> 6) & 63];
		if (n > 2)
			out[o++] = b64url_alphabet[v & 63];
	}
	out[o] = '\0';
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Strict base64url without padding into exactly `want` bytes: only the URL-safe alphabet, no
 * '=', no whitespace, the exact length, and zero unused bits in the last character (so every
 * token has exactly one text form). Returns the offending character position on failure.
 */
static int b64url_decode_exact(const char *text, size_t tlen, uint8_t *out, size_t want,
			       size_t *ret_bad)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (tlen != (want * 4 + 2) / 3) {
		*ret_bad = tlen;
		return -EBADMSG;
	}
	for (size_t i = 0; i < tlen; i++) {
		int v = b64url_value(text[i]);

		if (v < 0) {
			*ret_bad = i;
			return -EBADMSG;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (o != want || acc != 0) {
		*ret_bad = tlen - 1;
		return -EBADMSG;
	}
	return 0;
}

static int token_mac(const struct secret *key, const uint8_t payload[TOKEN_PAYLOAD_SIZE],
		     uint8_t tag[TOKEN_TAG_SIZE])
{
	uint8_t msg[TOKEN_TAG_LEN + TOKEN_PAYLOAD_SIZE];
	size_t outlen = 0;

	if (!key || key->len != TOKEN_KEY_SIZE)
		return -EINVAL;
	memcpy(msg, token_tag, TOKEN_TAG_LEN);
	memcpy(msg + TOKEN_TAG_LEN, payload, TOKEN_PAYLOAD_SIZE);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key->data, key->len, msg, sizeof(msg),
		       tag, TOKEN_TAG_SIZE, &outlen) ||
	    outlen != TOKEN_TAG_SIZE) {
		log_debug("token: HMAC failed: %s", ERR_reason_error_string(ERR_peek_error()));
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

int token_encode(const struct secret *key, const struct token_claims *c,
		 char out[TOKEN_TEXT_LEN + 1])
{
	uint8_t raw[TOKEN_RAW_SIZE];
	int r;

	raw[0] = c->version;
	put_be64(raw + 1, c->issued_at);
	put_be64(raw + 9, c->expires);
	memcpy(raw + 17, c->nonce, 32);
	memcpy(raw + 49, c->id, 16);
	r = token_mac(key, raw, raw + TOKEN_PAYLOAD_SIZE);
	if (r < 0)
		return r;
	b64url_encode(raw, sizeof(raw), out);
	return 0;
}

int token_issue(const struct secret *key, time_t now, unsigned lifetime,
		struct proto_challenge *ret)
{
	struct token_claims c = { .version = TOKEN_VERSION };
	struct proto_challenge ch = { 0 };
	int r;

	if (now < 0 || lifetime == 0)
		return -EINVAL;
	c.issued_at = (uint64_t)now;
	c.expires = (uint64_t)now + lifetime;
	if (RAND_bytes(c.nonce, sizeof(c.nonce)) != 1 || RAND_bytes(c.id, sizeof(c.id)) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	_Static_assert(sizeof(ch.token) > TOKEN_TEXT_LEN, "proto token buffer");
	r = token_encode(key, &c, ch.token);
	if (r < 0)
		return r;
	memcpy(ch.nonce, c.nonce, 32);
	ch.expires = c.expires;
	*ret = ch;
	return 0;
}

int token_decode(const struct secret *key, const char *text, struct token_claims *ret,
		 struct kagi_err *reterr)
{
	uint8_t raw[TOKEN_RAW_SIZE], tag[TOKEN_TAG_SIZE];
	struct token_claims c = { 0 };
	size_t tlen, bad = 0;
	int r;

	if (!text)
		return kagi_err_set(reterr, -EBADMSG, "token.invalid", KAGI_ERR_NO_OFFSET,
				    "no token");
	tlen = strnlen(text, TOKEN_TEXT_LEN + 1);
	if (tlen != TOKEN_TEXT_LEN)
		return kagi_err_set(reterr, -EBADMSG, "token.invalid", KAGI_ERR_NO_OFFSET,
				    "token has %s%zu characters, expected %d",
				    tlen > TOKEN_TEXT_LEN ? "more than " : "",
				    tlen > TOKEN_TEXT_LEN ? (size_t)TOKEN_TEXT_LEN : tlen,
				    TOKEN_TEXT_LEN);
	if (b64url_decode_exact(text, tlen, raw, sizeof(raw), &bad) < 0)
		return kagi_err_set(reterr, -EBADMSG, "token.invalid", bad,
				    "token is not canonical base64url without padding "
				    "(character %zu)",
				    bad);
	r = token_mac(key, raw, tag);
	if (r < 0)
		return kagi_err_set(reterr, r, "internal", KAGI_ERR_NO_OFFSET,
				    "cannot compute the token MAC");
	if (CRYPTO_memcmp(tag, raw + TOKEN_PAYLOAD_SIZE, TOKEN_TAG_SIZE) != 0)
		return kagi_err_set(reterr, -EBADMSG, "token.invalid", KAGI_ERR_NO_OFFSET,
				    "token MAC does not verify (not issued by this verifier, or "
				    "altered)");
	c.version = raw[0];
	if (c.version != TOKEN_VERSION)
		return kagi_err_set(reterr, -EBADMSG, "token.invalid", 0,
				    "token version %u, expected %u", c.version, TOKEN_VERSION);
	c.issued_at = get_be64(raw + 1);
	c.expires = get_be64(raw + 9);
	memcpy(c.nonce, raw + 17, 32);
	memcpy(c.id, raw + 49, 16);
	if (c.expires < c.issued_at)
		return kagi_err_set(reterr, -EBADMSG, "token.invalid", 9,
				    "token expires (%llu) before it was issued (%llu)",
				    (unsigned long long)c.expires, (unsigned long long)c.issued_at);
	*ret = c;
	return 0;
}

int token_check(const struct secret *key, struct store *store, const char *text, time_t now,
		struct token_claims *ret, struct kagi_err *reterr)
{
	struct token_claims c;
	struct kagi_err se = { 0 };
	int r;

	r = token_decode(key, text, &c, reterr);
	if (r < 0)
		return r;
	if (now < 0 || (uint64_t)now > c.expires)
		return kagi_err_set(reterr, -ETIME, "token.expired", KAGI_ERR_NO_OFFSET,
				    "token expired %llu s ago",
				    (unsigned long long)((uint64_t)now - c.expires));
	if (c.expires > (uint64_t)INT64_MAX)
		return kagi_err_set(reterr, -EBADMSG, "token.invalid", 9,
				    "token expiry out of range");
	r = store_token_use(store, c.id, (time_t)c.expires, &se);
	if (r == -EALREADY)
		return kagi_err_set(reterr, r, "token.replayed", KAGI_ERR_NO_OFFSET,
				    "token was already used");
	if (r < 0) {
		char buf[600];

		log_debug("token: store: %s", kagi_err_str(&se, buf, sizeof(buf)));
		return kagi_err_set(reterr, r, "internal", KAGI_ERR_NO_OFFSET,
				    "cannot record the token: %s", se.what ? se.msg : strerror(-r));
	}
	*ret = c;
	return 0;
}

int token_key_load(const char *path, struct secret **ret, struct kagi_err *reterr)
{
	_cleanup_close_ int fd = -1;
	struct secret *s;
	struct stat st;
	uint8_t extra;
	size_t got = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kagi_err_set(reterr, -errno, "token_key.file", KAGI_ERR_NO_OFFSET,
				    "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return kagi_err_set(reterr, -errno, "token_key.file", KAGI_ERR_NO_OFFSET,
				    "cannot stat '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return kagi_err_set(reterr, -EINVAL, "token_key.file", KAGI_ERR_NO_OFFSET,
				    "'%s' is not a regular file", path);
	if (st.st_mode & 0077)
		return kagi_err_set(reterr, -EPERM, "token_key.mode", KAGI_ERR_NO_OFFSET,
				    "'%s' has mode %04o; it must not be accessible to group or "
				    "others (chmod 0600)",
				    path, (unsigned)(st.st_mode & 07777));
	if (st.st_size != TOKEN_KEY_SIZE)
		return kagi_err_set(reterr, -EINVAL, "token_key.size", KAGI_ERR_NO_OFFSET,
				    "'%s' has %lld bytes, expected %d", path, (long long)st.st_size,
				    TOKEN_KEY_SIZE);
	s = secret_new(TOKEN_KEY_SIZE);
	if (!s)
		return kagi_err_set(reterr, -ENOMEM, "token_key.memory", KAGI_ERR_NO_OFFSET,
				    "cannot allocate locked memory for the token key");
	while (got < TOKEN_KEY_SIZE) {
		ssize_t n = read(fd, s->data + got, TOKEN_KEY_SIZE - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? -errno : -EINVAL;

			secret_free(s);
			return kagi_err_set(reterr, r, "token_key.size", KAGI_ERR_NO_OFFSET,
					    "short read from '%s'", path);
		}
		got += (size_t)n;
	}
	if (read(fd, &extra, 1) != 0) {
		secret_free(s);
		return kagi_err_set(reterr, -EINVAL, "token_key.size", KAGI_ERR_NO_OFFSET,
				    "'%s' grew while being read", path);
	}
	*ret = s;
	return 0;
}
