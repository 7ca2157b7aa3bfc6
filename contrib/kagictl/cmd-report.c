// SPDX-License-Identifier: Apache-2.0
/* kagictl report show|verify|certs: offline SNP report tools. */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>

#include "kagi-build.h"
#include "kagictl.h"
#include "kds.h"
#include "snp-certs.h"
#include "snp-policy.h"
#include "snp-report.h"
#include "snp-verify.h"
#include "util.h"

#define KAGICTL_MAX_INPUT (1024 * 1024)

static int load(const char *what, const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int r = read_file(path, max, buf, len);

	if (r < 0)
		fprintf(stderr, "kagictl: cannot read %s '%s': %s\n", what, path,
			r == -EFBIG ? "file too large" : strerror(-r));
	return r;
}

static int load_report(const char *path, uint8_t **raw, struct snp_report *rep)
{
	struct kagi_err e;
	size_t len;
	char msg[700];

	if (load("report", path, KAGICTL_MAX_INPUT, raw, &len) < 0)
		return -1;
	if (snp_report_decode(*raw, len, rep, &e) < 0) {
		fprintf(stderr, "kagictl: report '%s': %s\n", path,
			kagi_err_str(&e, msg, sizeof(msg)));
		free(*raw);
		*raw = NULL;
		return -1;
	}
	return 0;
}

static int report_show(int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "product", required_argument, NULL, 'p' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	_cleanup_free_ uint8_t *raw = NULL;
	struct snp_report rep;
	enum snp_product p = SNP_PRODUCT_UNKNOWN;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'p':
			p = snp_product_from_name(optarg);
			if (!p) {
				fprintf(stderr,
					"kagictl: --product: unknown product '%s' (Milan, "
					"Genoa, Turin)\n",
					optarg);
				return KAGICTL_USAGE;
			}
			break;
		case 'h':
			printf("Usage: kagictl report show FILE [--json] [--product NAME]\n");
			return KAGICTL_OK;
		default:
			return KAGICTL_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: kagictl report show FILE [--json] [--product NAME]\n");
		return KAGICTL_USAGE;
	}
	if (load_report(argv[optind], &raw, &rep) < 0)
		return KAGICTL_USAGE;
	if (!p)
		p = snp_report_product(&rep);
	if (json) {
		json_object *o = snp_report_to_json(&rep, p);

		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		snp_report_print(stdout, &rep, p);
	}
	return KAGICTL_OK;
}

static int report_certs(int argc, char **argv)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct snp_cert_table t;
	struct kagi_err e;
	size_t len;
	char msg[700];

	if (argc != 2) {
		fprintf(stderr, "Usage: kagictl report certs AUXBLOB\n");
		return KAGICTL_USAGE;
	}
	if (load("certificate table", argv[1], KAGICTL_MAX_INPUT, &buf, &len) < 0)
		return KAGICTL_USAGE;
	if (snp_certs_decode(buf, len, &t, &e) < 0) {
		fprintf(stderr, "kagictl: certificate table '%s': %s\n", argv[1],
			kagi_err_str(&e, msg, sizeof(msg)));
		return KAGICTL_USAGE;
	}
	if (t.n == 0)
		printf("empty certificate table (the host supplied no certificates)\n");
	for (size_t i = 0; i < t.n; i++) {
		char g[33], cn[128] = "(not an X.509 certificate)";
		X509 *c = NULL;

		if (snp_cert_load(t.e[i].der, t.e[i].len, &c, NULL) == 0) {
			X509_NAME_oneline(X509_get_subject_name(c), cn, sizeof(cn));
			X509_free(c);
		}
		printf("%-5s %s %5zu bytes  %s\n", snp_cert_kind_name(t.e[i].kind),
		       hex_encode(t.e[i].guid, 16, g), t.e[i].len, cn);
	}
	return KAGICTL_OK;
}

static const char *default_roots(void)
{
	struct stat st;

	if (stat(KAGI_AMD_ROOTS_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		return KAGI_AMD_ROOTS_DIR;
	return KAGI_SOURCE_AMD_ROOTS_DIR; /* running from the build tree */
}

static void verify_usage(FILE *f)
{
	fputs("Usage: kagictl report verify FILE (--vcek CERT | --certs-from-aux FILE | --kds)\n"
	      "                [--chain PEM | --amd-roots DIR] [--at RFC3339] [--policy FILE]\n"
	      "                [--product Milan|Genoa|Turin]\n"
	      "  --vcek CERT           the VCEK or VLEK that signed the report (DER or PEM)\n"
	      "  --certs-from-aux FILE certificate table from the extended report (auxblob)\n"
	      "  --kds                 fetch the VCEK from AMD KDS (--kds-url URL, --cache DIR)\n"
	      "  --chain PEM           trust exactly the ARK(s) in this PEM (plus its ASK/ASVK)\n"
	      "  --amd-roots DIR       trust AMD's ARKs in DIR (default: " KAGI_AMD_ROOTS_DIR ")\n"
	      "  --at TIME             check certificate validity at TIME, e.g. "
	      "2025-08-01T00:00:00Z\n"
	      "  --policy FILE         also check the owner's policy (JSON, see kagictl(1))\n",
	      f);
}

struct verify_args {
	const char *report, *vcek, *aux, *chain, *roots, *policy, *kds_url, *kds_cache;
	bool kds;
	time_t at;
	enum snp_product product;
};

static int verify_inputs(const struct verify_args *a, struct snp_report *rep, uint8_t **raw,
			 X509 **signer, STACK_OF(X509) * host, struct snp_roots *roots,
			 struct snp_policy *pol, bool *has_pol)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct kagi_err e;
	size_t len;
	char msg[700];
	bool vlek;

	if (load_report(a->report, raw, rep) < 0)
		return -1;
	vlek = SNP_KEY_INFO_SIGNING_KEY(rep->key_info) == SNP_SIGNING_KEY_VLEK;
	if (a->kds) {
		struct kds *k = NULL;
		int r = kds_new(a->kds_url, a->kds_cache, NULL, &k, &e);

		if (r == 0)
			r = kds_get_vcek(k, rep, a->product, signer, &e);
		kds_free(k);
		if (r < 0) {
			fprintf(stderr, "kagictl: kds: %s\n", kagi_err_str(&e, msg, sizeof(msg)));
			return -1;
		}
	} else if (a->vcek) {
		if (load("certificate", a->vcek, KAGICTL_MAX_INPUT, &buf, &len) < 0)
			return -1;
		if (snp_cert_load(buf, len, signer, &e) < 0) {
			fprintf(stderr, "kagictl: certificate '%s': %s\n", a->vcek,
				kagi_err_str(&e, msg, sizeof(msg)));
			return -1;
		}
	} else {
		struct snp_cert_table t;
		const struct snp_cert_entry *ent;

		if (load("certificate table", a->aux, KAGICTL_MAX_INPUT, &buf, &len) < 0)
			return -1;
		if (snp_certs_decode(buf, len, &t, &e) < 0) {
			fprintf(stderr, "kagictl: certificate table '%s': %s\n", a->aux,
				kagi_err_str(&e, msg, sizeof(msg)));
			return -1;
		}
		ent = snp_certs_find(&t, vlek ? SNP_CERT_VLEK : SNP_CERT_VCEK);
		if (!ent) {
			fprintf(stderr, "kagictl: certificate table '%s' has no %s\n", a->aux,
				vlek ? "VLEK" : "VCEK");
			return -1;
		}
		if (snp_cert_load(ent->der, ent->len, signer, &e) < 0) {
			fprintf(stderr, "kagictl: %s in '%s': %s\n", vlek ? "VLEK" : "VCEK", a->aux,
				kagi_err_str(&e, msg, sizeof(msg)));
			return -1;
		}
		ent = snp_certs_find(&t, SNP_CERT_ASK);
		if (ent) {
			X509 *c;

			if (snp_cert_load(ent->der, ent->len, &c, &e) < 0) {
				fprintf(stderr, "kagictl: ASK in '%s': %s\n", a->aux,
					kagi_err_str(&e, msg, sizeof(msg)));
				return -1;
			}
			sk_X509_push(host, c);
		}
		/* A host-supplied ARK is never trusted, so it is not even loaded. */
	}
	if ((a->chain ? snp_roots_load_pem_file(roots, a->chain, &e)
		      : snp_roots_load_dir(roots, a->roots ? a->roots : default_roots(), &e)) < 0) {
		fprintf(stderr, "kagictl: trust anchors: %s\n", kagi_err_str(&e, msg, sizeof(msg)));
		return -1;
	}
	if (a->policy) {
		free(buf);
		buf = NULL;
		if (load("policy", a->policy, KAGICTL_MAX_INPUT, &buf, &len) < 0)
			return -1;
		if (snp_policy_parse((const char *)buf, len, pol, &e) < 0) {
			fprintf(stderr, "kagictl: policy '%s': %s\n", a->policy,
				kagi_err_str(&e, msg, sizeof(msg)));
			return -1;
		}
		*has_pol = true;
	}
	return 0;
}

static int report_verify(int argc, char **argv)
{
	static const struct option opts[] = { { "vcek", required_argument, NULL, 'v' },
					      { "vlek", required_argument, NULL, 'v' },
					      { "certs-from-aux", required_argument, NULL, 'x' },
					      { "chain", required_argument, NULL, 'c' },
					      { "amd-roots", required_argument, NULL, 'r' },
					      { "at", required_argument, NULL, 't' },
					      { "policy", required_argument, NULL, 'p' },
					      { "product", required_argument, NULL, 'P' },
					      { "kds", no_argument, NULL, 'K' },
					      { "kds-url", required_argument, NULL, 'U' },
					      { "cache", required_argument, NULL, 'C' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	struct verify_args a = { 0 };
	_cleanup_free_ uint8_t *raw = NULL;
	struct snp_roots roots = { 0 };
	struct snp_policy pol = { 0 };
	struct snp_verify_opts vo = { 0 };
	struct snp_verify_result res;
	struct snp_report rep;
	STACK_OF(X509) *host = sk_X509_new_null();
	X509 *signer = NULL;
	bool has_pol = false;
	struct kagi_err e;
	char msg[700];
	int c, ret = KAGICTL_USAGE;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			a.vcek = optarg;
			break;
		case 'x':
			a.aux = optarg;
			break;
		case 'K':
			a.kds = true;
			break;
		case 'U':
			a.kds_url = optarg;
			break;
		case 'C':
			a.kds_cache = optarg;
			break;
		case 'c':
			a.chain = optarg;
			break;
		case 'r':
			a.roots = optarg;
			break;
		case 'p':
			a.policy = optarg;
			break;
		case 't':
			if (parse_time(optarg, &a.at) < 0) {
				fprintf(stderr,
					"kagictl: --at: '%s' is not a time like "
					"2025-08-01T00:00:00Z\n",
					optarg);
				goto out;
			}
			break;
		case 'P':
			a.product = snp_product_from_name(optarg);
			if (!a.product) {
				fprintf(stderr, "kagictl: --product: unknown product '%s'\n",
					optarg);
				goto out;
			}
			break;
		case 'h':
			verify_usage(stdout);
			ret = KAGICTL_OK;
			goto out;
		default:
			verify_usage(stderr);
			goto out;
		}
	}
	if (optind != argc - 1 || !!a.vcek + !!a.aux + a.kds != 1 || (a.chain && a.roots)) {
		verify_usage(stderr);
		goto out;
	}
	a.report = argv[optind];
	if (verify_inputs(&a, &rep, &raw, &signer, host, &roots, &pol, &has_pol) < 0)
		goto out;

	vo.at = a.at;
	vo.product = a.product;
	ret = KAGICTL_REJECTED;
	if (snp_verify_report(&rep, raw, signer, host, &roots, &vo, &res, &e) < 0) {
		printf("report: REJECTED: %s\n", kagi_err_str(&e, msg, sizeof(msg)));
		goto out;
	}
	if (has_pol && snp_policy_check(&pol, &rep, res.product, &e) < 0) {
		printf("report: REJECTED: %s\n", kagi_err_str(&e, msg, sizeof(msg)));
		goto out;
	}
	printf("report: valid (%s, %s, version %u%s)\n", res.chain, snp_product_name(res.product),
	       rep.version, has_pol ? ", policy satisfied" : "");
	ret = KAGICTL_OK;
out:
	X509_free(signer);
	sk_X509_pop_free(host, X509_free);
	snp_roots_done(&roots);
	snp_policy_done(&pol);
	ERR_clear_error();
	return ret;
}

static int report_verify_cert(int argc, char **argv)
{
	static const struct option opts[] = { { "chain", required_argument, NULL, 'c' },
					      { "amd-roots", required_argument, NULL, 'r' },
					      { "at", required_argument, NULL, 't' },
					      {} };
	const char *chain = NULL, *dir = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct snp_roots roots = { 0 };
	struct snp_verify_result res;
	struct kagi_err e;
	X509 *cert = NULL;
	time_t at = 0;
	size_t len;
	char msg[700];
	int c, ret = KAGICTL_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			chain = optarg;
		else if (c == 'r')
			dir = optarg;
		else if (c == 't' && parse_time(optarg, &at) == 0)
			continue;
		else {
			fprintf(stderr, "Usage: kagictl report verify-cert CERT [--chain PEM | "
					"--amd-roots DIR] [--at RFC3339]\n");
			return KAGICTL_USAGE;
		}
	}
	if (optind != argc - 1 || (chain && dir)) {
		fprintf(stderr, "Usage: kagictl report verify-cert CERT [--chain PEM | --amd-roots "
				"DIR] [--at RFC3339]\n");
		return KAGICTL_USAGE;
	}
	if (load("certificate", argv[optind], KAGICTL_MAX_INPUT, &buf, &len) < 0)
		return KAGICTL_USAGE;
	if (snp_cert_load(buf, len, &cert, &e) < 0 ||
	    (chain ? snp_roots_load_pem_file(&roots, chain, &e)
		   : snp_roots_load_dir(&roots, dir ? dir : default_roots(), &e)) < 0) {
		fprintf(stderr, "kagictl: %s\n", kagi_err_str(&e, msg, sizeof(msg)));
		goto out;
	}
	ret = KAGICTL_REJECTED;
	if (snp_verify_cert_chain(cert, NULL, &roots, at, &res, &e) < 0) {
		printf("certificate: REJECTED: %s\n", kagi_err_str(&e, msg, sizeof(msg)));
		goto out;
	}
	printf("certificate: valid (%s)\n", res.chain);
	ret = KAGICTL_OK;
out:
	X509_free(cert);
	snp_roots_done(&roots);
	return ret;
}

int cmd_report(int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "Usage: kagictl report show|verify|certs ...\n");
		return KAGICTL_USAGE;
	}
	optind = 1;
	if (streq(argv[0], "show"))
		return report_show(argc, argv);
	if (streq(argv[0], "verify"))
		return report_verify(argc, argv);
	if (streq(argv[0], "verify-cert"))
		return report_verify_cert(argc, argv);
	if (streq(argv[0], "certs"))
		return report_certs(argc, argv);
	fprintf(stderr, "kagictl: unknown verb 'report %s' (show, verify, verify-cert, certs)\n",
		argv[0]);
	return KAGICTL_USAGE;
}
