// SPDX-License-Identifier: Apache-2.0
/* server.c: HTTPS with mutual TLS on libevent (see server.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "server.h"
#include "util.h"

#define HTTP_TIMEOUT_SECONDS 30
#define HTTP_MAX_HEADERS     (16 * 1024)

enum route {
	ROUTE_NONE = 0,
	ROUTE_CHALLENGE,
	ROUTE_ATTEST,
	ROUTE_ADMIN_KEYS,
};

struct server {
	const struct vconfig *cfg;
	struct pipeline_ctx *ctx;
	SSL_CTX *ssl_ctx;
	X509_STORE *client_store; /* client_ca only (NULL: none) */
	X509_STORE *admin_store;  /* admin_ca only (NULL: admin API off) */
	struct event_base *base;
	struct evhttp *http;
	struct event *sigterm, *sigint;
};

/* ---- TLS ------------------------------------------------------------------------------------- */

static const char *ssl_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (!e)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int ssl_ex_index(void)
{
	static int idx = -1;

	if (idx < 0)
		idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return idx;
}

/* With allow_self_signed_clients, accept a self-signed leaf (depth 0) and nothing else: its
 * key is then only trusted through the attestation binding of REPORT_DATA. */
static int verify_cb(int ok, X509_STORE_CTX *xctx)
{
	SSL *ssl;
	const struct vconfig *cfg;

	if (ok)
		return 1;
	ssl = X509_STORE_CTX_get_ex_data(xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	cfg = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ssl_ex_index()) : NULL;
	if (cfg && cfg->allow_self_signed_clients &&
	    X509_STORE_CTX_get_error(xctx) == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT &&
	    X509_STORE_CTX_get_error_depth(xctx) == 0)
		return 1;
	log_debug("TLS: client certificate rejected at depth %d: %s",
		  X509_STORE_CTX_get_error_depth(xctx),
		  X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx)));
	return 0;
}

static void peer_of_ssl(const SSL *ssl, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int fd = SSL_get_fd(ssl);
	unsigned port = 0;

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(buf, len, "(peer gone)");
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

/* One line per TLS failure we send an alert for (no certificate, bad certificate, version). */
static void info_cb(const SSL *ssl, int where, int ret)
{
	char peer[80];

	if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_WRITE))
		return;
	if (strcmp(SSL_alert_type_string(ret), "F") != 0)
		return;
	peer_of_ssl(ssl, peer, sizeof(peer));
	/* OpenSSL 3.0 has no text for TLS 1.3's certificate_required (116) */
	log_info("%s TLS handshake refused: %s", peer,
		 (ret & 0xff) == 116 ? "certificate required (no client certificate)"
				     : SSL_alert_desc_string_long(ret));
}

static X509_STORE *store_from_file(const char *path, const char *key, struct kagi_err *reterr)
{
	X509_STORE *st = X509_STORE_new();

	if (!st || X509_STORE_load_file(st, path) != 1) {
		X509_STORE_free(st);
		kagi_err_set(reterr, -EINVAL, "tls.ca", KAGI_ERR_NO_OFFSET,
			     "%s '%s': cannot load CA certificates: %s", key, path, ssl_error());
		return NULL;
	}
	return st;
}

/* admin_ca must not contain a certificate that client_ca also trusts. */
static int check_ca_overlap(const char *client_ca, const char *admin_ca, struct kagi_err *reterr)
{
	STACK_OF(X509_INFO) *ci = NULL, *ai = NULL;
	BIO *b;
	int r = 0;

	if (!client_ca || !admin_ca)
		return 0;
	b = BIO_new_file(client_ca, "r");
	ci = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	b = BIO_new_file(admin_ca, "r");
	ai = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!ci || !ai) {
		r = kagi_err_set(reterr, -EINVAL, "tls.ca", KAGI_ERR_NO_OFFSET,
				 "cannot read '%s' or '%s' as PEM", client_ca, admin_ca);
		goto out;
	}
	for (int i = 0; i < sk_X509_INFO_num(ci); i++) {
		X509 *c = sk_X509_INFO_value(ci, i)->x509;

		for (int j = 0; c && j < sk_X509_INFO_num(ai); j++) {
			X509 *a = sk_X509_INFO_value(ai, j)->x509;

			if (a && X509_cmp(a, c) == 0) {
				r = kagi_err_set(reterr, -EINVAL, "tls.ca", KAGI_ERR_NO_OFFSET,
						 "admin_ca '%s' and client_ca '%s' share a "
						 "certificate: the admin CA must differ from the "
						 "agents' CA",
						 admin_ca, client_ca);
				goto out;
			}
		}
	}
out:
	ERR_clear_error();
	sk_X509_INFO_pop_free(ci, X509_INFO_free);
	sk_X509_INFO_pop_free(ai, X509_INFO_free);
	return r;
}

static int add_ca_names(SSL_CTX *ctx, const char *path, struct kagi_err *reterr)
{
	STACK_OF(X509_NAME) *names = SSL_CTX_get_client_CA_list(ctx);

	if (!names) {
		names = sk_X509_NAME_new_null();
		if (!names)
			return -ENOMEM;
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	if (SSL_add_file_cert_subjects_to_stack(names, path) != 1)
		return kagi_err_set(reterr, -EINVAL, "tls.ca", KAGI_ERR_NO_OFFSET,
				    "'%s': cannot read CA names: %s", path, ssl_error());
	return 0;
}

static int tls_ctx_new(const struct vconfig *cfg, SSL_CTX **ret, struct kagi_err *reterr)
{
	static const unsigned char sid_ctx[] = "kagi-verifier";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int r;

	if (!ctx)
		return kagi_err_set(reterr, -ENOMEM, "tls.context", KAGI_ERR_NO_OFFSET,
				    "cannot create the TLS context: %s", ssl_error());
	if (SSL_CTX_set_min_proto_version(ctx, cfg->tls_min_version) != 1) {
		r = kagi_err_set(reterr, -EINVAL, "tls.version", KAGI_ERR_NO_OFFSET,
				 "cannot set the minimum TLS version: %s", ssl_error());
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
	/* No resumption: every connection presents and proves its client certificate afresh. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		r = kagi_err_set(reterr, -EINVAL, "tls.cert", KAGI_ERR_NO_OFFSET,
				 "tls_cert '%s': %s", cfg->tls_cert, ssl_error());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		r = kagi_err_set(reterr, -EINVAL, "tls.key", KAGI_ERR_NO_OFFSET, "tls_key '%s': %s",
				 cfg->tls_key, ssl_error());
		goto fail;
	}
	if (cfg->client_ca) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1) {
			r = kagi_err_set(reterr, -EINVAL, "tls.ca", KAGI_ERR_NO_OFFSET,
					 "client_ca '%s': %s", cfg->client_ca, ssl_error());
			goto fail;
		}
		r = add_ca_names(ctx, cfg->client_ca, reterr);
		if (r < 0)
			goto fail;
	}
	if (cfg->admin_ca) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->admin_ca, NULL) != 1) {
			r = kagi_err_set(reterr, -EINVAL, "tls.ca", KAGI_ERR_NO_OFFSET,
					 "admin_ca '%s': %s", cfg->admin_ca, ssl_error());
			goto fail;
		}
		r = add_ca_names(ctx, cfg->admin_ca, reterr);
		if (r < 0)
			goto fail;
	}
	r = check_ca_overlap(cfg->client_ca, cfg->admin_ca, reterr);
	if (r < 0)
		goto fail;
	SSL_CTX_set_ex_data(ctx, ssl_ex_index(), (void *)cfg);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	SSL_CTX_set_verify_depth(ctx, 8);
	SSL_CTX_set_info_callback(ctx, info_cb);
	*ret = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return r;
}

int server_tls_check(const struct vconfig *cfg, struct kagi_err *reterr)
{
	SSL_CTX *ctx = NULL;
	X509_STORE *st;
	int r;

	r = tls_ctx_new(cfg, &ctx, reterr);
	if (r < 0)
		return r;
	SSL_CTX_free(ctx);
	if (cfg->client_ca) {
		st = store_from_file(cfg->client_ca, "client_ca", reterr);
		if (!st)
			return -EINVAL;
		X509_STORE_free(st);
	}
	if (cfg->admin_ca) {
		st = store_from_file(cfg->admin_ca, "admin_ca", reterr);
		if (!st)
			return -EINVAL;
		X509_STORE_free(st);
	}
	return 0;
}

/* Does leaf chain to a CA in store (untrusted intermediates from the TLS session)? */
static bool chains_to(X509_STORE *store, X509 *leaf, STACK_OF(X509) * untrusted, const char **why)
{
	X509_STORE_CTX *x;
	bool ok = false;

	if (!store) {
		*why = "no CA configured for this route";
		return false;
	}
	x = X509_STORE_CTX_new();
	if (x && X509_STORE_CTX_init(x, store, leaf, untrusted) == 1) {
		X509_STORE_CTX_set_purpose(x, X509_PURPOSE_SSL_CLIENT);
		ok = X509_verify_cert(x) == 1;
		if (!ok)
			*why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(x));
	} else {
		*why = "out of memory";
	}
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	return ok;
}

static bool self_signed(X509 *c)
{
	EVP_PKEY *k = X509_get0_pubkey(c);
	bool ok = k && X509_check_issued(c, c) == X509_V_OK && X509_verify(c, k) == 1;

	ERR_clear_error();
	return ok;
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

static enum route route_of(const char *path)
{
	if (!path)
		return ROUTE_NONE;
	if (streq(path, "/v1/challenge"))
		return ROUTE_CHALLENGE;
	if (streq(path, "/v1/attest"))
		return ROUTE_ATTEST;
	if (streq(path, "/v1/admin/keys"))
		return ROUTE_ADMIN_KEYS;
	return ROUTE_NONE;
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 415:
		return "Unsupported Media Type";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	}
	return "Error";
}

static void send_json(struct evhttp_request *req, int status, const char *json)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (b && json)
		evbuffer_add(b, json, strlen(json));
	evhttp_send_reply(req, status, status_text(status), b);
	evbuffer_free(b);
}

/* Content-Type, if given, must be application/json (parameters such as charset allowed). */
static bool content_type_ok(struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	size_t n = strlen("application/json");

	if (!ct)
		return true;
	return strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void log_request(const char *peer, const char *method, const char *path, int status,
			const struct audit_record *rec)
{
	char reasons[512] = "";
	size_t used = 0;

	for (size_t i = 0; rec && i < rec->nreasons && i < PROTO_MAX_REASONS; i++) {
		int n = snprintf(reasons + used, sizeof(reasons) - used, "%s%s", i ? "," : "",
				 rec->reasons[i]);

		if (n < 0 || (size_t)n >= sizeof(reasons) - used)
			break;
		used += (size_t)n;
	}
	log_info("%s %s %s -> %d %s%s%s%s%s%s", peer, method, path, status,
		 rec ? audit_decision_name(rec->decision) : "error", reasons[0] ? " [" : "",
		 reasons, reasons[0] ? "]" : "", rec && rec->group[0] ? " group=" : "",
		 rec && rec->group[0] ? rec->group : "");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *method = method_name(evhttp_request_get_command(req));
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct audit_record rec = { 0 };
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	char peer[80] = "?", *addr = NULL, *body = NULL, *json = NULL;
	const char *why = NULL;
	X509 *cert = NULL;
	EVP_PKEY *agent_key = NULL;
	ev_uint16_t port = 0;
	enum route route = route_of(path);
	size_t len;
	int status;

	if (conn) {
		evhttp_connection_get_peer(conn, &addr, &port);
		if (addr)
			snprintf(peer, sizeof(peer), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr,
				 port);
	}
	if (!path)
		path = "?";
	if (route == ROUTE_NONE) {
		evhttp_send_error(req, 404, NULL);
		log_info("%s %s %.80s -> 404", peer, method, path);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		evhttp_send_error(req, 405, NULL);
		log_info("%s %s %s -> 405", peer, method, path);
		return;
	}
	if (!content_type_ok(req)) {
		evhttp_send_error(req, 415, NULL);
		log_info("%s %s %s -> 415", peer, method, path);
		return;
	}

	snprintf(rec.peer, sizeof(rec.peer), "%s", peer);
	snprintf(rec.route, sizeof(rec.route), "%s", path);
	cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	if (cert) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;

		if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
			hex_encode(md, 32, rec.client_cert_sha256);
		ERR_clear_error();
	}

	/* One contiguous copy of the body; libevent's copy is wiped (admin bodies carry keys). */
	len = evbuffer_get_length(in);
	body = malloc(len + 1);
	if (!body) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (len) {
		unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)len);

		if (!p) {
			free(body);
			evhttp_send_error(req, 500, NULL);
			return;
		}
		memcpy(body, p, len);
		OPENSSL_cleanse(p, len);
		evbuffer_drain(in, len);
	}
	body[len] = '\0';

	if (route == ROUTE_ADMIN_KEYS) {
		STACK_OF(X509) *chain = ssl ? SSL_get_peer_cert_chain(ssl) : NULL;
		bool authorized = cert && chains_to(s->admin_store, cert, chain, &why);

		if (!authorized)
			log_info("%s admin request refused: %s", peer,
				 cert ? why : "no client certificate");
		status = pipeline_admin_keys(s->ctx, authorized, body, len, &rec, &json);
	} else {
		STACK_OF(X509) *chain = ssl ? SSL_get_peer_cert_chain(ssl) : NULL;

		if (cert && (chains_to(s->client_store, cert, chain, &why) ||
			     (s->cfg->allow_self_signed_clients && self_signed(cert))))
			agent_key = X509_get0_pubkey(cert);
		else
			log_info("%s client certificate not accepted for %s: %s", peer, path,
				 cert ? why : "none presented");
		if (route == ROUTE_CHALLENGE)
			status = pipeline_challenge(s->ctx, body, len, agent_key, &rec, &json);
		else
			status = pipeline_attest_json(s->ctx, body, len, agent_key, &rec, &json);
	}
	OPENSSL_cleanse(body, len);
	free(body);

	if (status < 0) {
		log_error("%s %s %s: cannot build the response: %s", peer, method, path,
			  strerror(-status));
		evhttp_send_error(req, 500, NULL);
		return;
	}
	send_json(req, status, json);
	log_request(peer, method, path, status, &rec);
	free(json);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct server *s = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(s->ssl_ctx);

	if (!ssl) {
		log_error("TLS: cannot create a session: %s", ssl_error());
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;

	(void)what;
	log_info("%s received, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopexit(s->base, NULL);
}

int server_new(const struct vconfig *cfg, struct pipeline_ctx *ctx, struct server **ret,
	       struct kagi_err *reterr)
{
	struct server *s = calloc(1, sizeof(*s));
	struct timeval tv = { .tv_sec = HTTP_TIMEOUT_SECONDS };
	int r;

	if (!s)
		return kagi_err_set(reterr, -ENOMEM, "server.memory", KAGI_ERR_NO_OFFSET,
				    "out of memory");
	s->cfg = cfg;
	s->ctx = ctx;
	r = tls_ctx_new(cfg, &s->ssl_ctx, reterr);
	if (r < 0)
		goto fail;
	if (cfg->client_ca &&
	    !(s->client_store = store_from_file(cfg->client_ca, "client_ca", reterr))) {
		r = -EINVAL;
		goto fail;
	}
	if (cfg->admin_ca &&
	    !(s->admin_store = store_from_file(cfg->admin_ca, "admin_ca", reterr))) {
		r = -EINVAL;
		goto fail;
	}
	s->base = event_base_new();
	s->http = s->base ? evhttp_new(s->base) : NULL;
	if (!s->http) {
		r = kagi_err_set(reterr, -ENOMEM, "server.event", KAGI_ERR_NO_OFFSET,
				 "cannot create the event loop");
		goto fail;
	}
	evhttp_set_bevcb(s->http, make_bev, s);
	evhttp_set_gencb(s->http, on_request, s);
	evhttp_set_max_body_size(s->http, (ev_ssize_t)cfg->max_body);
	evhttp_set_max_headers_size(s->http, HTTP_MAX_HEADERS);
	evhttp_set_timeout_tv(s->http, &tv);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	if (!evhttp_bind_socket_with_handle(s->http, cfg->listen_host, cfg->listen_port)) {
		r = kagi_err_set(reterr, errno ? -errno : -EADDRNOTAVAIL, "server.listen",
				 KAGI_ERR_NO_OFFSET, "cannot listen on %s%s%s:%u: %s",
				 strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
				 strchr(cfg->listen_host, ':') ? "]" : "", cfg->listen_port,
				 errno ? strerror(errno) : "bind failed");
		goto fail;
	}
	s->sigterm = evsignal_new(s->base, SIGTERM, on_signal, s);
	s->sigint = evsignal_new(s->base, SIGINT, on_signal, s);
	if (!s->sigterm || !s->sigint || evsignal_add(s->sigterm, NULL) < 0 ||
	    evsignal_add(s->sigint, NULL) < 0) {
		r = kagi_err_set(reterr, -ENOMEM, "server.signal", KAGI_ERR_NO_OFFSET,
				 "cannot install the signal handlers");
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	server_free(s);
	return r;
}

int server_run(struct server *s)
{
	if (event_base_dispatch(s->base) < 0)
		return -EIO;
	return 0;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (s->sigterm)
		event_free(s->sigterm);
	if (s->sigint)
		event_free(s->sigint);
	if (s->http)
		evhttp_free(s->http);
	if (s->base)
		event_base_free(s->base);
	X509_STORE_free(s->client_store);
	X509_STORE_free(s->admin_store);
	SSL_CTX_free(s->ssl_ctx);
	free(s);
}
