// SPDX-License-Identifier: Apache-2.0
/* kagictl kds fetch|chain|url: AMD Key Distribution Service client (VCEK, ASK+ARK). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kagictl.h"
#include "kds.h"
#include "snp-report.h"
#include "snp-verify.h"
#include "util.h"

#define KDS_MAX_REPORT_FILE (1024 * 1024)
#define KDS_MAX_SECONDS     3600

struct kds_args {
	const char *url, *cache, *out, *ca_file;
	enum snp_product product;
	struct kds_opts o;
};

static void kds_usage(FILE *f)
{
	fputs("Usage: kagictl kds fetch REPORT [--product NAME] [OPTIONS] [--out FILE]\n"
	      "       kagictl kds chain PRODUCT [OPTIONS] [--out FILE]\n"
	      "       kagictl kds url REPORT [--product NAME] [--kds-url URL]\n"
	      "Options:\n"
	      "  --kds-url URL    KDS base URL (default " KDS_DEFAULT_URL "); https only,\n"
	      "                   http only for http://127.0.0.1 or http://[::1] (tests)\n"
	      "  --cache DIR      persistent cache directory (created 0700)\n"
	      "  --out FILE       write the VCEK (DER) or the chain (PEM) to FILE\n"
	      "  --product NAME   Milan, Genoa or Turin (needed for version 2 reports)\n"
	      "  --ca-file PEM    CA bundle for an https test server\n"
	      "  --timeout S      per-request timeout in seconds (default 30)\n"
	      "  --retries N      retries after HTTP 429 (default 3)\n"
	      "  --max-wait S     total seconds to wait for the rate limit (default 10)\n",
	      f);
}

static int parse_seconds(const char *opt, const char *s, unsigned *ret)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > KDS_MAX_SECONDS) {
		fprintf(stderr, "kagictl: %s: '%s' is not a number in 0..%d\n", opt, s,
			KDS_MAX_SECONDS);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

/* Options common to the verbs; returns the index of the first positional argument or -1. */
static int kds_parse(int argc, char **argv, struct kds_args *a)
{
	static const struct option opts[] = { { "kds-url", required_argument, NULL, 'u' },
					      { "cache", required_argument, NULL, 'c' },
					      { "out", required_argument, NULL, 'o' },
					      { "product", required_argument, NULL, 'p' },
					      { "ca-file", required_argument, NULL, 'C' },
					      { "timeout", required_argument, NULL, 't' },
					      { "retries", required_argument, NULL, 'r' },
					      { "max-wait", required_argument, NULL, 'w' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	const struct kds_opts defaults = KDS_OPTS_INIT;
	int c;

	a->o = defaults;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			a->url = optarg;
			break;
		case 'c':
			a->cache = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'C':
			a->o.ca_file = optarg;
			break;
		case 'p':
			a->product = snp_product_from_name(optarg);
			if (!a->product) {
				fprintf(stderr,
					"kagictl: --product: unknown product '%s' (Milan, Genoa, "
					"Turin)\n",
					optarg);
				return -1;
			}
			break;
		case 't':
			if (parse_seconds("--timeout", optarg, &a->o.timeout_s) < 0)
				return -1;
			break;
		case 'r':
			if (parse_seconds("--retries", optarg, &a->o.max_retries) < 0)
				return -1;
			break;
		case 'w':
			if (parse_seconds("--max-wait", optarg, &a->o.max_wait_s) < 0)
				return -1;
			break;
		case 'h':
			kds_usage(stdout);
			exit(KAGICTL_OK);
		default:
			kds_usage(stderr);
			return -1;
		}
	}
	return optind;
}

/* Exit status of a failure: the caller's input (2) or the KDS could not deliver (1). */
static int kds_fail(const struct kagi_err *e)
{
	char msg[700];

	fprintf(stderr, "kagictl: kds: %s\n", kagi_err_str(e, msg, sizeof(msg)));
	if (e->what && (streq(e->what, "kds.url") || streq(e->what, "kds.product") ||
			streq(e->what, "kds.cache")))
		return KAGICTL_USAGE;
	return KAGICTL_REJECTED;
}

static int load_report(const char *path, struct snp_report *rep)
{
	_cleanup_free_ uint8_t *raw = NULL;
	struct kagi_err e;
	size_t len;
	char msg[700];
	int r;

	r = read_file(path, KDS_MAX_REPORT_FILE, &raw, &len);
	if (r < 0) {
		fprintf(stderr, "kagictl: cannot read report '%s': %s\n", path,
			r == -EFBIG ? "file too large" : strerror(-r));
		return r;
	}
	r = snp_report_decode(raw, len, rep, &e);
	if (r < 0)
		fprintf(stderr, "kagictl: report '%s': %s\n", path,
			kagi_err_str(&e, msg, sizeof(msg)));
	return r;
}

static int write_out(const char *path, const void *buf, size_t len)
{
	_cleanup_close_ int fd =
		open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	int r;

	if (fd < 0) {
		r = -errno;
	} else {
		r = write_all(fd, buf, len);
		if (r == 0 && close(fd) < 0)
			r = -errno;
		fd = -1;
	}
	if (r < 0)
		fprintf(stderr, "kagictl: cannot write '%s': %s\n", path, strerror(-r));
	return r;
}

static void print_source(struct kds *k, const char *url, const char *cache_path)
{
	if (kds_get_stats(k)->last_from_cache)
		printf("source: cache %s\n", cache_path);
	else
		printf("source: %s%s\n", url, cache_path ? " (cached)" : "");
}

static int kds_fetch(int argc, char **argv)
{
	_cleanup_free_ char *url = NULL, *path = NULL;
	struct kds_args a = { 0 };
	struct snp_cert_claims cl;
	struct snp_report rep;
	struct kagi_err e = { 0 };
	struct kds *k = NULL;
	unsigned char *der = NULL;
	X509 *vcek = NULL;
	char name[256], hex[129];
	int i, dlen, ret = KAGICTL_USAGE;

	i = kds_parse(argc, argv, &a);
	if (i < 0)
		return KAGICTL_USAGE;
	if (i != argc - 1) {
		kds_usage(stderr);
		return KAGICTL_USAGE;
	}
	if (load_report(argv[i], &rep) < 0)
		return KAGICTL_USAGE;
	if (kds_new(a.url, a.cache, &a.o, &k, &e) < 0)
		return kds_fail(&e);
	if (kds_vcek_url(k, &rep, a.product, &url, &e) < 0 ||
	    (a.cache && kds_vcek_cache_path(k, &rep, a.product, &path, &e) < 0) ||
	    kds_get_vcek(k, &rep, a.product, &vcek, &e) < 0) {
		ret = kds_fail(&e);
		goto out;
	}
	if (a.out) {
		dlen = i2d_X509(vcek, &der);
		if (dlen <= 0 || write_out(a.out, der, (size_t)dlen) < 0)
			goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(vcek), name, sizeof(name));
	printf("subject: %s\n", name);
	if (snp_cert_claims_get(vcek, &cl, NULL) == 0) {
		printf("product: %s\n", cl.product_name[0] ? cl.product_name : "(none)");
		printf("tcb:");
		if (cl.has_tcb[0])
			printf(" fmc %ld", cl.tcb[0]);
		printf(" bl %ld tee %ld snp %ld ucode %ld\n", cl.tcb[1], cl.tcb[2], cl.tcb[3],
		       cl.tcb[8]);
		printf("hwid: %s\n", hex_encode(cl.hwid, cl.hwid_len, hex));
	}
	print_source(k, url, path);
	if (a.out)
		printf("written: %s\n", a.out);
	ret = KAGICTL_OK;
out:
	OPENSSL_free(der);
	X509_free(vcek);
	kds_free(k);
	ERR_clear_error();
	return ret;
}

static int kds_chain(int argc, char **argv)
{
	_cleanup_free_ char *url = NULL, *path = NULL;
	struct kds_args a = { 0 };
	struct kagi_err e = { 0 };
	STACK_OF(X509) *sk = NULL;
	enum snp_product p;
	struct kds *k = NULL;
	BIO *bio = NULL;
	int i, ret = KAGICTL_USAGE;

	i = kds_parse(argc, argv, &a);
	if (i < 0)
		return KAGICTL_USAGE;
	if (i != argc - 1 || a.product) {
		kds_usage(stderr);
		return KAGICTL_USAGE;
	}
	p = snp_product_from_name(argv[i]);
	if (!p) {
		fprintf(stderr, "kagictl: unknown product '%s' (Milan, Genoa, Turin)\n", argv[i]);
		return KAGICTL_USAGE;
	}
	if (kds_new(a.url, a.cache, &a.o, &k, &e) < 0)
		return kds_fail(&e);
	if (kds_cert_chain_url(k, p, &url, &e) < 0 ||
	    (a.cache && kds_cert_chain_cache_path(k, p, &path, &e) < 0) ||
	    kds_get_cert_chain(k, p, &sk, &e) < 0) {
		ret = kds_fail(&e);
		goto out;
	}
	if (a.out) {
		BUF_MEM *mem;

		bio = BIO_new(BIO_s_mem());
		if (!bio)
			goto out;
		for (int j = 0; j < sk_X509_num(sk); j++)
			if (!PEM_write_bio_X509(bio, sk_X509_value(sk, j)))
				goto out;
		BIO_get_mem_ptr(bio, &mem);
		if (write_out(a.out, mem->data, mem->length) < 0)
			goto out;
	}
	for (int j = 0; j < sk_X509_num(sk); j++) {
		char name[256];

		X509_NAME_oneline(X509_get_subject_name(sk_X509_value(sk, j)), name, sizeof(name));
		printf("%s: %s\n", j == 0 ? "ask" : "ark", name);
	}
	print_source(k, url, path);
	if (a.out)
		printf("written: %s\n", a.out);
	ret = KAGICTL_OK;
out:
	BIO_free(bio);
	sk_X509_pop_free(sk, X509_free);
	kds_free(k);
	ERR_clear_error();
	return ret;
}

static int kds_url(int argc, char **argv)
{
	_cleanup_free_ char *url = NULL;
	struct kds_args a = { 0 };
	struct kagi_err e = { 0 };
	struct snp_report rep;
	struct kds *k = NULL;
	int i, ret;

	i = kds_parse(argc, argv, &a);
	if (i < 0)
		return KAGICTL_USAGE;
	if (i != argc - 1 || a.cache || a.out) {
		kds_usage(stderr);
		return KAGICTL_USAGE;
	}
	if (load_report(argv[i], &rep) < 0)
		return KAGICTL_USAGE;
	if (kds_new(a.url, NULL, &a.o, &k, &e) < 0)
		return kds_fail(&e);
	if (kds_vcek_url(k, &rep, a.product, &url, &e) < 0) {
		ret = kds_fail(&e);
	} else {
		puts(url);
		ret = KAGICTL_OK;
	}
	kds_free(k);
	return ret;
}

int cmd_kds(int argc, char **argv)
{
	if (argc < 1) {
		kds_usage(stderr);
		return KAGICTL_USAGE;
	}
	optind = 1;
	if (streq(argv[0], "fetch"))
		return kds_fetch(argc, argv);
	if (streq(argv[0], "chain"))
		return kds_chain(argc, argv);
	if (streq(argv[0], "url"))
		return kds_url(argc, argv);
	if (streq(argv[0], "--help") || streq(argv[0], "-h") || streq(argv[0], "help")) {
		kds_usage(stdout);
		return KAGICTL_OK;
	}
	fprintf(stderr, "kagictl: kds: unknown verb '%s'\n", argv[0]);
	kds_usage(stderr);
	return KAGICTL_USAGE;
}
