/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vconfig.h: the configuration file of kagi-verifier (kagi-verifier(8)).
 *
 * One `key = value` per line; blank lines and lines whose first non-blank character is `#` are
 * ignored. Values run to the end of the line (surrounding blanks trimmed, no quoting, no inline
 * comments). Unknown keys, duplicate keys, bad values and missing required keys are errors that
 * name the file, the line and the key.
 */
#ifndef KAGI_VCONFIG_H
#define KAGI_VCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define VCONFIG_MAX_SIZE         (64 * 1024)
#define VCONFIG_DEFAULT_LISTEN   "127.0.0.1:8443"
#define VCONFIG_DEFAULT_LIFETIME 120
#define VCONFIG_MIN_LIFETIME     10
#define VCONFIG_MAX_LIFETIME     3600
#define VCONFIG_DEFAULT_MAX_BODY (1024 * 1024)
#define VCONFIG_MIN_MAX_BODY     1024
#define VCONFIG_MAX_MAX_BODY     (1024 * 1024)
#define VCONFIG_TLS_1_2          0x0303 /* == TLS1_2_VERSION */
#define VCONFIG_TLS_1_3          0x0304 /* == TLS1_3_VERSION */

struct vconfig {
	char *path;           /* the file the configuration came from */
	char listen_host[64]; /* numeric IPv4 or IPv6 address (no brackets) */
	uint16_t listen_port;
	char *tls_cert;  /* PEM certificate chain of the server */
	char *tls_key;   /* PEM private key of the server */
	char *client_ca; /* PEM CA bundle for agent client certificates (NULL: none) */
	bool allow_self_signed_clients;
	char *admin_ca;      /* PEM CA bundle for admin client certificates (NULL: no admin API) */
	int tls_min_version; /* VCONFIG_TLS_1_3 (default) or VCONFIG_TLS_1_2 */
	char *token_key;     /* 32-byte secret file, mode 0600 or stricter */
	unsigned token_lifetime;
	char *policy;       /* vpolicy JSON */
	char *amd_roots;    /* directory of AMD ARK/ASK/ASVK certificates */
	bool amd_roots_set; /* given in the file (not the built-in default) */
	char *trust_chain;  /* optional PEM of extra trusted ARKs (owner override) */
	char *store;        /* "sqlite:PATH" */
	char *kek;          /* "file:PATH" or "pkcs11:..." */
	char *audit_log;    /* JSON lines, appended */
	size_t max_body;
	char *kds_url; /* AMD KDS base URL; NULL: no fetching (VCEKs must come with the evidence) */
	char *kds_cache; /* persistent VCEK cache directory (with kds_url) */
};

/* Read and parse `path`. On failure *ret is untouched and reterr names file, line and key. */
int vconfig_load(const char *path, struct vconfig *ret, struct kagi_err *reterr);
/* Parse text; `name` is used in error messages and kept as ret->path. */
int vconfig_parse(const char *text, size_t len, const char *name, struct vconfig *ret,
		  struct kagi_err *reterr);
void vconfig_done(struct vconfig *c);

#endif
