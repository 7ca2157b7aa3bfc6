// SPDX-License-Identifier: Apache-2.0
/* kagi-verifier: the reference attestation verifier and key server of kagi (kagi-verifier(8)). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "kagi-build.h"
#include "kek.h"
#include "log.h"
#include "pipeline.h"
#include "secret.h"
#include "server.h"
#include "snp-verify.h"
#include "store.h"
#include "token.h"
#include "util.h"
#include "vconfig.h"
#include "vpolicy.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

struct verifier {
	struct vconfig cfg;
	struct secret *token_key;
	struct vpolicy policy;
	bool policy_loaded;
	struct snp_roots roots;
	struct kek *kek;
	struct store *store;
	struct audit *audit;
	struct kds *kds;
	struct pipeline_ctx ctx;
};

static void usage(FILE *f)
{
	fputs("Usage: kagi-verifier --config FILE [--check] [--verbose]\n"
	      "\n"
	      "  --config FILE   the configuration file (see kagi-verifier(8))\n"
	      "  --check         load and check everything, print a summary, exit\n"
	      "  --verbose, -v   debug logging\n"
	      "  --version, --help\n",
	      f);
}

static int fail_err(const char *what, const struct kagi_err *e)
{
	char buf[700];

	log_error("%s: %s; exiting", what, kagi_err_str(e, buf, sizeof(buf)));
	return -EINVAL;
}

static int load_roots(struct verifier *v)
{
	struct kagi_err e = { 0 };
	struct stat st;

	if (v->cfg.amd_roots_set || stat(v->cfg.amd_roots, &st) == 0) {
		if (snp_roots_load_dir(&v->roots, v->cfg.amd_roots, &e) < 0) {
			if (v->cfg.amd_roots_set || !v->cfg.trust_chain)
				return fail_err("amd_roots", &e);
			log_warn("amd_roots '%s': %s; continuing with trust_chain only",
				 v->cfg.amd_roots, e.msg);
		}
	} else if (!v->cfg.trust_chain) {
		log_error("amd_roots: the default directory '%s' does not exist; exiting",
			  v->cfg.amd_roots);
		return -ENOENT;
	}
	if (v->cfg.trust_chain) {
		log_warn("trust_chain '%s': trusting extra SNP root keys (ARKs) besides AMD's; "
			 "use this only for tests or when you know why",
			 v->cfg.trust_chain);
		if (snp_roots_load_pem_file(&v->roots, v->cfg.trust_chain, &e) < 0)
			return fail_err("trust_chain", &e);
	}
	if (!v->roots.arks || sk_X509_num(v->roots.arks) == 0) {
		log_error("no trusted ARK loaded from amd_roots or trust_chain; exiting");
		return -ENOKEY;
	}
	return 0;
}

static int setup(struct verifier *v, const char *path)
{
	struct kagi_err e = { 0 };

	if (vconfig_load(path, &v->cfg, &e) < 0)
		return fail_err("configuration", &e);
	if (token_key_load(v->cfg.token_key, &v->token_key, &e) < 0)
		return fail_err("token_key", &e);
	if (vpolicy_load(v->cfg.policy, &v->policy, &e) < 0)
		return fail_err("policy", &e);
	v->policy_loaded = true;
	if (load_roots(v) < 0)
		return -EINVAL;
	if (kek_open(v->cfg.kek, &v->kek, &e) < 0)
		return fail_err("kek", &e);
	if (store_open(v->cfg.store, v->kek, &v->store, &e) < 0)
		return fail_err("store", &e);
	if (audit_open(v->cfg.audit_log, &v->audit, &e) < 0)
		return fail_err("audit_log", &e);
	if (v->cfg.kds_url && kds_new(v->cfg.kds_url, v->cfg.kds_cache, NULL, &v->kds, &e) < 0)
		return fail_err("kds_url", &e);
	v->ctx = (struct pipeline_ctx){
		.kds = v->kds,
		.policy = &v->policy,
		.roots = &v->roots,
		.store = v->store,
		.token_key = v->token_key,
		.token_lifetime = v->cfg.token_lifetime,
		.audit = v->audit,
	};
	return 0;
}

static void teardown(struct verifier *v)
{
	kds_free(v->kds);
	audit_close(v->audit);
	store_close(v->store);
	kek_close(v->kek);
	snp_roots_done(&v->roots);
	if (v->policy_loaded)
		vpolicy_done(&v->policy);
	secret_free(v->token_key);
	vconfig_done(&v->cfg);
}

static int count_key(const struct store_key_info *info, void *userdata)
{
	size_t *n = userdata;

	n[info->revoked ? 1 : 0]++;
	return 0;
}

static void summary(struct verifier *v)
{
	const struct vconfig *c = &v->cfg;
	size_t keys[2] = { 0, 0 }, nvol = 0;
	struct kagi_err e = { 0 };
	bool ipv6 = strchr(c->listen_host, ':') != NULL;

	for (size_t i = 0; i < v->policy.ngroups; i++)
		nvol += v->policy.groups[i].nvolumes;
	printf("configuration   %s: OK\n", c->path);
	printf("listen          %s%s%s:%u\n", ipv6 ? "[" : "", c->listen_host, ipv6 ? "]" : "",
	       c->listen_port);
	printf("tls             minimum %s, certificate %s\n",
	       c->tls_min_version == VCONFIG_TLS_1_2 ? "1.2" : "1.3", c->tls_cert);
	printf("client auth     %s%s%s\n", c->client_ca ? "client_ca " : "",
	       c->client_ca ? c->client_ca : "",
	       c->allow_self_signed_clients ? (c->client_ca ? " + self-signed" : "self-signed")
					    : "");
	printf("admin api       %s\n", c->admin_ca ? c->admin_ca : "off (no admin_ca)");
	printf("tokens          lifetime %u s\n", c->token_lifetime);
	printf("policy          %s: %zu group(s), %zu volume entries, boot-phase PCR %u\n",
	       c->policy, v->policy.ngroups, nvol, v->policy.boot_phase_pcr);
	printf("snp roots       %d ARK(s), %d intermediate(s)%s\n", sk_X509_num(v->roots.arks),
	       v->roots.intermediates ? sk_X509_num(v->roots.intermediates) : 0,
	       c->trust_chain ? " (trust_chain override in use)" : "");
	if (store_key_list(v->store, count_key, keys, &e) < 0)
		printf("store           %s: cannot list keys: %s\n", c->store, e.msg);
	else
		printf("store           %s: %zu key(s), %zu revoked\n", c->store, keys[0], keys[1]);
	printf("kek             %s\n", strncmp(c->kek, "file:", 5) == 0 ? "file" : "pkcs11");
	printf("audit log       %s\n", c->audit_log);
	printf("max body        %zu bytes\n", c->max_body);
}

int main(int argc, char **argv)
{
	struct verifier v = { 0 };
	struct server *srv = NULL;
	struct kagi_err e = { 0 };
	const char *config = NULL;
	bool check = false;
	int r, ret = EXIT_FAIL;

	secret_harden_process();
	signal(SIGPIPE, SIG_IGN);
	log_set_prefix("kagi-verifier");
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--config") && i + 1 < argc) {
			config = argv[++i];
		} else if (streq(argv[i], "--check")) {
			check = true;
		} else if (streq(argv[i], "--verbose") || streq(argv[i], "-v")) {
			log_set_level(LOG_LVL_DEBUG);
		} else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
			usage(stdout);
			return EXIT_OK;
		} else if (streq(argv[i], "--version")) {
			printf("kagi-verifier %s\n", KAGI_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, "kagi-verifier: unknown or incomplete option '%s'\n",
				argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!config) {
		usage(stderr);
		return EXIT_USAGE;
	}

	if (setup(&v, config) < 0)
		goto out;
	if (check) {
		if (server_tls_check(&v.cfg, &e) < 0) {
			fail_err("tls", &e);
			goto out;
		}
		summary(&v);
		ret = EXIT_OK;
		goto out;
	}
	r = server_new(&v.cfg, &v.ctx, &srv, &e);
	if (r < 0) {
		fail_err("server", &e);
		goto out;
	}
	log_info("kagi-verifier %s listening on %s%s%s:%u (TLS %s+, %zu policy group(s))",
		 KAGI_VERSION, strchr(v.cfg.listen_host, ':') ? "[" : "", v.cfg.listen_host,
		 strchr(v.cfg.listen_host, ':') ? "]" : "", v.cfg.listen_port,
		 v.cfg.tls_min_version == VCONFIG_TLS_1_2 ? "1.2" : "1.3", v.policy.ngroups);
	r = server_run(srv);
	if (r < 0)
		log_error("event loop failed: %s; exiting", strerror(-r));
	else
		ret = EXIT_OK;
out:
	server_free(srv);
	teardown(&v);
	return ret;
}
