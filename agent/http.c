// SPDX-License-Identifier: Apache-2.0
/*
 * http.c: libcurl POST with mutual TLS from memory, bounded answers, and the agent's TLS client
 * identity (an ephemeral self-signed EC P-256 certificate, or provisioned files).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "http.h"
#include "lib/log.h"
#include "lib/util.h"

/* ---- identity ------------------------------------------------------------------------------ */

void http_identity_done(struct http_identity *id)
{
	if (!id)
		return;
	EVP_PKEY_free(id->key);
	free(id->cert_pem);
	secret_free(id->key_pem);
	memset(id, 0, sizeof(*id));
}

int http_read_secret(const char *path, size_t max, struct secret **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct secret *buf = NULL, *out;
	size_t len = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (!buf || len == buf->len) {
			size_t cap = buf ? buf->len * 2 : 4096;
			struct secret *nb;

			if (buf && buf->len > max) {
				secret_free(buf);
				return -EFBIG;
			}
			nb = secret_new(cap);
			if (!nb) {
				secret_free(buf);
				return -ENOMEM;
			}
			if (buf)
				memcpy(nb->data, buf->data, len);
			secret_free(buf);
			buf = nb;
		}
		n = read(fd, buf->data + len, buf->len - len);
		if (n < 0) {
			int r = -errno;

			if (errno == EINTR)
				continue;
			secret_free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0 || len > max) {
		secret_free(buf);
		return len ? -EFBIG : -ENODATA;
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

/* The PEM text written into a memory BIO: copied into *ret (a secret if `secret`). */
static int bio_take(BIO *b, bool secret, char **ret_text, size_t *ret_len, struct secret **ret_s)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);

	if (n <= 0 || !data)
		return -EIO;
	if (secret) {
		struct secret *s = secret_new((size_t)n);

		if (!s) {
			OPENSSL_cleanse(data, (size_t)n);
			return -ENOMEM;
		}
		memcpy(s->data, data, (size_t)n);
		OPENSSL_cleanse(data, (size_t)n);
		*ret_s = s;
	} else {
		char *t = malloc((size_t)n + 1);

		if (!t)
			return -ENOMEM;
		memcpy(t, data, (size_t)n);
		t[n] = '\0';
		*ret_text = t;
		*ret_len = (size_t)n;
	}
	return 0;
}

static int ossl_fail(struct kagi_err *e, const char *what, const char *op)
{
	unsigned long code = ERR_get_error();
	char buf[256] = "";

	if (code)
		ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	return kagi_err_set(e, -EIO, what, KAGI_ERR_NO_OFFSET, "%s failed%s%s", op,
			    buf[0] ? ": " : "", buf);
}

static int self_signed_cert(EVP_PKEY *key, X509 **ret, struct kagi_err *reterr)
{
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	int ok;

	if (!x)
		return -ENOMEM;
	if (RAND_bytes(serial, sizeof(serial)) != 1) {
		X509_free(x);
		return ossl_fail(reterr, "identity.cert", "drawing a serial number");
	}
	serial[0] &= 0x7f; /* positive */
	serial[0] |= 0x40; /* and 16 bytes long */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	name = X509_NAME_new();
	/*
	 * No validity worth checking: the key lives for one boot and its only meaning is the
	 * binding in the evidence. 1970 to 9999 (RFC 5280 4.1.2.5: no well-defined expiry) so a
	 * guest clock that is still wrong in the initramfs cannot make it "not yet valid".
	 */
	ok = bn && name && X509_set_version(x, X509_VERSION_3) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"kagi agent (ephemeral)", -1, -1,
					0) &&
	     X509_set_subject_name(x, name) && X509_set_issuer_name(x, name) &&
	     ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "19700101000000Z") &&
	     ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "99991231235959Z") &&
	     X509_set_pubkey(x, key) && X509_sign(x, key, EVP_sha256()) > 0;
	BN_free(bn);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return ossl_fail(reterr, "identity.cert", "creating the self-signed certificate");
	}
	*ret = x;
	return 0;
}

int http_identity_ephemeral(struct http_identity *ret, struct kagi_err *reterr)
{
	struct http_identity id = { .ephemeral = true };
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	int r;

	key = EVP_EC_gen("P-256");
	if (!key)
		return ossl_fail(reterr, "identity.key", "generating an EC P-256 key");
	r = self_signed_cert(key, &x, reterr);
	if (r < 0)
		goto out;

	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509(b, x)) {
		r = ossl_fail(reterr, "identity.cert", "encoding the certificate");
		goto out;
	}
	r = bio_take(b, false, &id.cert_pem, &id.cert_pem_len, NULL);
	if (r < 0)
		goto out;
	BIO_free(b);
	/* the key PEM: BIO memory is wiped by bio_take and cleared again by BIO_free */
	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) {
		r = ossl_fail(reterr, "identity.key", "encoding the key");
		goto out;
	}
	r = bio_take(b, true, NULL, NULL, &id.key_pem);
	if (r < 0)
		goto out;
	id.key = key;
	key = NULL;
	*ret = id;
	memset(&id, 0, sizeof(id));
out:
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);
	http_identity_done(&id);
	if (r < 0 && r != -EIO)
		kagi_err_set(reterr, r, "identity", KAGI_ERR_NO_OFFSET,
			     "creating the ephemeral TLS identity failed: %s", strerror(-r));
	return r;
}

int http_identity_load(const char *cert_path, const char *key_path, struct http_identity *ret,
		       struct kagi_err *reterr)
{
	struct http_identity id = { 0 };
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	EVP_PKEY *priv = NULL;
	X509 *x = NULL;
	BIO *b = NULL;
	int r;

	r = read_file(cert_path, HTTP_PEM_MAX, &raw, &raw_len);
	if (r < 0)
		return kagi_err_set(reterr, r, "identity.cert", KAGI_ERR_NO_OFFSET,
				    "reading the client certificate '%s' failed: %s", cert_path,
				    strerror(-r));
	id.cert_pem = realloc(raw, raw_len + 1);
	if (!id.cert_pem) {
		free(raw);
		return -ENOMEM;
	}
	id.cert_pem[raw_len] = '\0';
	id.cert_pem_len = raw_len;
	raw = NULL;
	b = BIO_new_mem_buf(id.cert_pem, (int)id.cert_pem_len);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	b = NULL;
	if (!x) {
		ERR_clear_error();
		r = kagi_err_set(reterr, -EINVAL, "identity.cert", KAGI_ERR_NO_OFFSET,
				 "'%s' holds no PEM certificate", cert_path);
		goto out;
	}
	id.key = X509_get_pubkey(x);
	if (!id.key) {
		r = ossl_fail(reterr, "identity.cert", "reading the certificate's public key");
		goto out;
	}

	r = http_read_secret(key_path, HTTP_PEM_MAX, &id.key_pem);
	if (r < 0) {
		r = kagi_err_set(reterr, r, "identity.key", KAGI_ERR_NO_OFFSET,
				 "reading the client key '%s' failed: %s", key_path,
				 r == -ENODATA ? "empty file" : strerror(-r));
		goto out;
	}
	b = BIO_new_mem_buf(id.key_pem->data, (int)id.key_pem->len);
	/* no passphrase callback: an encrypted key fails here instead of prompting */
	priv = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"") : NULL;
	if (!priv) {
		ERR_clear_error();
		r = kagi_err_set(reterr, -EINVAL, "identity.key", KAGI_ERR_NO_OFFSET,
				 "'%s' holds no unencrypted PEM private key", key_path);
		goto out;
	}
	if (X509_check_private_key(x, priv) != 1) {
		ERR_clear_error();
		r = kagi_err_set(reterr, -EINVAL, "identity.key", KAGI_ERR_NO_OFFSET,
				 "the key '%s' does not belong to the certificate '%s'", key_path,
				 cert_path);
		goto out;
	}
	*ret = id;
	memset(&id, 0, sizeof(id));
	r = 0;
out:
	BIO_free(b);
	EVP_PKEY_free(priv);
	X509_free(x);
	http_identity_done(&id);
	return r;
}

/* ---- transport ----------------------------------------------------------------------------- */

int http_global_init(struct kagi_err *reterr)
{
	CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (c != CURLE_OK)
		return kagi_err_set(reterr, -EIO, "http.init", KAGI_ERR_NO_OFFSET,
				    "curl_global_init failed: %s", curl_easy_strerror(c));
	return 0;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

struct sink {
	char *buf;
	size_t len;
	size_t max;
	bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;
	char *nb;

	if (n > s->max - s->len) {
		s->too_big = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	nb = realloc(s->buf, s->len + n + 1);
	if (!nb)
		return 0;
	memcpy(nb + s->len, ptr, n);
	s->buf = nb;
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

void http_response_done(struct http_response *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* CURLcode -> -errno and a stable identifier */
static int curl_errno(CURLcode c, bool too_big, const char **what)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		*what = "http.timeout";
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		*what = "http.connect";
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*what = "http.resolve";
		return -EHOSTUNREACH;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		*what = "http.server_cert";
		return -EKEYREJECTED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
		*what = "http.protocol";
		return -EPROTO;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (too_big || c == CURLE_FILESIZE_EXCEEDED) {
			*what = "http.size";
			return -EFBIG;
		}
		*what = "http.memory";
		return -ENOMEM;
	case CURLE_OUT_OF_MEMORY:
		*what = "http.memory";
		return -ENOMEM;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		*what = "http.connection";
		return -ECONNRESET;
	case CURLE_URL_MALFORMAT:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
		*what = "http.setup";
		return -EINVAL;
	default:
		*what = "http";
		return -EIO;
	}
}

#define SETOPT(h, opt, val)                                                                        \
	do {                                                                                       \
		if ((c = curl_easy_setopt(h, opt, val)) != CURLE_OK) {                             \
			name = #opt;                                                               \
			goto setopt_failed;                                                        \
		}                                                                                  \
	} while (0)

int http_post_json(const struct http_opts *o, const char *url, const char *body, size_t len,
		   struct http_response *ret, struct kagi_err *reterr)
{
	static const char *const headers[] = { "Content-Type: application/json",
					       "Accept: application/json", "Expect:" };
	struct sink s = { .max = o->max_response ? o->max_response : HTTP_MAX_RESPONSE_DEFAULT };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *h2;
	struct curl_blob cert, key;
	const char *name = NULL, *what;
	long status = 0;
	CURL *h;
	CURLcode c;
	int r;

	if (o->timeout == 0 || !o->ca_file || !o->ca_file[0])
		return kagi_err_set(reterr, -EINVAL, "http.setup", KAGI_ERR_NO_OFFSET,
				    "no timeout or no CA bundle given");
	h = curl_easy_init();
	if (!h)
		return kagi_err_set(reterr, -ENOMEM, "http.memory", KAGI_ERR_NO_OFFSET,
				    "curl_easy_init failed");
	/* no "Expect: 100-continue" round trip */
	for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
		h2 = curl_slist_append(hdrs, headers[i]);
		if (!h2) {
			r = kagi_err_set(reterr, -ENOMEM, "http.memory", KAGI_ERR_NO_OFFSET,
					 "out of memory");
			goto out;
		}
		hdrs = h2;
	}

	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "https");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_PROXY, ""); /* never a proxy from the environment */
	SETOPT(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(h, CURLOPT_USERAGENT, "kagi-agent/1");
	SETOPT(h, CURLOPT_POST, 1L);
	SETOPT(h, CURLOPT_POSTFIELDS, body); /* not copied: may be secret (enroll) */
	SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
	SETOPT(h, CURLOPT_TIMEOUT, (long)o->timeout);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT, (long)o->timeout);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.max);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_data);
	SETOPT(h, CURLOPT_WRITEDATA, &s);
	/* the server: TLS 1.3, the owner's CA bundle only (no system store), optional pin */
	SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h, CURLOPT_CAINFO, o->ca_file);
	SETOPT(h, CURLOPT_CAPATH, NULL);
	if (o->pin && o->pin[0])
		SETOPT(h, CURLOPT_PINNEDPUBLICKEY, o->pin);
	/* the client: certificate and key from memory, not copied by curl */
	if (o->id) {
		cert = (struct curl_blob){ .data = o->id->cert_pem,
					   .len = o->id->cert_pem_len,
					   .flags = CURL_BLOB_NOCOPY };
		key = (struct curl_blob){ .data = o->id->key_pem->data,
					  .len = o->id->key_pem->len,
					  .flags = CURL_BLOB_NOCOPY };
		SETOPT(h, CURLOPT_SSLCERTTYPE, "PEM");
		SETOPT(h, CURLOPT_SSLCERT_BLOB, &cert);
		SETOPT(h, CURLOPT_SSLKEYTYPE, "PEM");
		SETOPT(h, CURLOPT_SSLKEY_BLOB, &key);
	}

	c = curl_easy_perform(h);
	if (c != CURLE_OK) {
		curl_off_t tls_done = 0;

		r = curl_errno(c, s.too_big, &what);
		if (r == -EFBIG) {
			r = kagi_err_set(reterr, r, what, KAGI_ERR_NO_OFFSET,
					 "the answer is larger than %zu bytes", s.max);
		} else if (r == -ECONNRESET && s.len == 0 &&
			   curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &tls_done) ==
				   CURLE_OK &&
			   tls_done > 0) {
			/*
			 * TLS 1.3: the client's handshake ends before the server has checked the
			 * client certificate, and a server that refuses it may just close the
			 * connection: say so instead of leaving only a socket error.
			 */
			what = "http.tls_client_cert";
			r = kagi_err_set(reterr, -ECONNREFUSED, what, KAGI_ERR_NO_OFFSET,
					 "the server closed the connection right after the TLS "
					 "handshake, as a TLS 1.3 server does when it refuses the "
					 "client certificate (%s) [%s]",
					 o->id ? "this client's certificate is not accepted"
					       : "none was presented",
					 errbuf[0] ? errbuf : curl_easy_strerror(c));
		} else {
			r = kagi_err_set(reterr, r, what, KAGI_ERR_NO_OFFSET, "%s",
					 errbuf[0] ? errbuf : curl_easy_strerror(c));
		}
		goto out;
	}
	c = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (c != CURLE_OK || status < 100 || status > 599) {
		r = kagi_err_set(reterr, -EPROTO, "http.protocol", KAGI_ERR_NO_OFFSET,
				 "no valid HTTP status (%ld)", status);
		goto out;
	}
	if (!s.buf) {
		s.buf = calloc(1, 1);
		if (!s.buf) {
			r = -ENOMEM;
			goto out;
		}
	}
	ret->status = status;
	ret->body = s.buf;
	ret->len = s.len;
	s.buf = NULL;
	r = 0;
	goto out;

setopt_failed:
	r = kagi_err_set(reterr, -EINVAL, "http.setup", KAGI_ERR_NO_OFFSET,
			 "curl_easy_setopt(%s) failed: %s", name, curl_easy_strerror(c));
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(s.buf);
	return r;
}
