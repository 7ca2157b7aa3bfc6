/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h: the HTTPS front of kagi-verifier: libevent evhttp over bufferevent_openssl, one
 * single-threaded event loop, mutual TLS (TLS 1.3 only unless tls_min_version = 1.2).
 *
 * Routes: POST /v1/challenge, POST /v1/attest (agent certificates: chain to client_ca, or
 * self-signed when allow_self_signed_clients is on), POST /v1/admin/keys (certificates that
 * chain to admin_ca only). Everything else is 404, other methods 405, bodies over max_body 413.
 * Every decision is taken by pipeline.c; this file authenticates peers and moves bytes.
 */
#ifndef KAGI_SERVER_H
#define KAGI_SERVER_H

#include "err.h"
#include "pipeline.h"
#include "vconfig.h"

struct server;

/* Build the TLS context from the configuration (certificate, key, CAs) and free it again:
 * for --check. */
int server_tls_check(const struct vconfig *cfg, struct kagi_err *reterr);

/* TLS context, HTTP server bound to cfg->listen_host:listen_port, signal handlers. The
 * pipeline context must outlive the server. */
int server_new(const struct vconfig *cfg, struct pipeline_ctx *ctx, struct server **ret,
	       struct kagi_err *reterr);
/* Serve until SIGTERM or SIGINT. */
int server_run(struct server *s);
void server_free(struct server *s);

#endif
