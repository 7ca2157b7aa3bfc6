/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.h: the agent's HTTPS client (libcurl): POST a JSON body with mutual TLS and read a
 * bounded answer.
 *
 * TLS 1.3 only, https only, no redirects, no proxy, the server checked against a CA bundle
 * file (and optionally a public key pin), the client certificate and key handed to curl from
 * memory so a generated key never touches a file system. CURLcode is converted to a negative
 * errno here, once, with curl's error text in the kagi_err.
 */
#ifndef KAGI_HTTP_H
#define KAGI_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "lib/err.h"
#include "lib/secret.h"

#define HTTP_MAX_RESPONSE_DEFAULT (64 * 1024) /* = PROTO_MAX_RESPONSE */
#define HTTP_PEM_MAX              (64 * 1024) /* certificate and key files */

/* A TLS client identity: the certificate (public) and its key, the key PEM in locked memory. */
struct http_identity {
	EVP_PKEY *key;          /* the certificate's public key: what the server sees */
	char *cert_pem;         /* NUL-terminated certificate (chain) PEM */
	size_t cert_pem_len;    /* without the NUL */
	struct secret *key_pem; /* the private key, PEM, exactly key_pem->len bytes */
	bool ephemeral;
};

/*
 * A fresh EC P-256 key and a self-signed certificate for it, both generated in memory (the
 * verifier must accept self-signed agent certificates; the key is bound into the evidence).
 */
int http_identity_ephemeral(struct http_identity *ret, struct kagi_err *reterr);
/* A provisioned identity: certificate PEM file and unencrypted private key PEM file. */
int http_identity_load(const char *cert_path, const char *key_path, struct http_identity *ret,
		       struct kagi_err *reterr);
/* Free and wipe. */
void http_identity_done(struct http_identity *id);

/*
 * Read a whole file holding key material (at most max bytes, at least one) straight into a
 * locked secret of exactly its size; no unlocked heap copy is left behind.
 */
int http_read_secret(const char *path, size_t max, struct secret **ret);

struct http_opts {
	const char *ca_file;            /* PEM bundle the server certificate must chain to */
	const char *pin;                /* NULL or "" = none; "sha256//b64[;...]" */
	const struct http_identity *id; /* NULL = present no client certificate */
	unsigned timeout;               /* seconds for the whole exchange (>= 1) */
	size_t max_response;            /* 0 = HTTP_MAX_RESPONSE_DEFAULT */
};

struct http_response {
	long status; /* HTTP status code */
	char *body;  /* NUL-terminated (the body itself may hold NULs: use len) */
	size_t len;
};

/* curl_global_init(); once at program start. */
int http_global_init(struct kagi_err *reterr);
void http_global_cleanup(void);

/*
 * POST body (len bytes, Content-Type application/json) to url. On any HTTP answer returns 0
 * with ret filled (the status may be anything; the caller decides). Fails with a negative errno
 * for transport errors: -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (name or route),
 * -EKEYREJECTED (server certificate or pin), -EPROTO (TLS or HTTP protocol), -EFBIG (answer
 * larger than max_response), -ECONNRESET, -EINVAL (bad option such as an unreadable CA file).
 * The body may be secret (enroll): it is passed to curl without a copy.
 */
int http_post_json(const struct http_opts *o, const char *url, const char *body, size_t len,
		   struct http_response *ret, struct kagi_err *reterr);
void http_response_done(struct http_response *r);

#endif
