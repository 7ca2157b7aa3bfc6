// SPDX-License-Identifier: Apache-2.0
/*
 * cmd-quote.c: kagictl quote verify | show | ak
 *
 * verify: decode the TPMS_ATTEST, the signature and the AK, then check, in this order, the AK
 * attributes and scheme (only when the AK is given as a TPM public area), the signature, the
 * nonce (--nonce) and the PCR digest (--pcrs). The first failed check is the one reported.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "err.h"
#include "kagictl.h"
#include "log.h"
#include "tpm-quote.h"
#include "util.h"

#define ATTEST_MAX (64 * 1024)
#define SIG_MAX    (64 * 1024)
#define AK_MAX     (1024 * 1024)
#define PCRS_MAX   (8 * 1024 * 1024)
#define JSON_DEPTH 16

static void quote_usage(FILE *f)
{
	fputs("Usage: kagictl quote verify --attest FILE --sig FILE --ak FILE [--nonce HEX]\n"
	      "                            [--pcrs FILE] [--json]\n"
	      "       kagictl quote show [--attest] FILE [--json]\n"
	      "       kagictl quote ak [--ak] FILE [--json]\n"
	      "\n"
	      "  --attest FILE  TPMS_ATTEST bytes of a TPM2_Quote (TPM2B_ATTEST contents)\n"
	      "  --sig FILE     TPMT_SIGNATURE; if the file is not a TPMT_SIGNATURE (all bytes\n"
	      "                 consumed) and its size equals the RSA AK's modulus size, it is\n"
	      "                 taken as a raw RSASSA-PKCS1-v1_5 SHA-256 signature\n"
	      "  --ak FILE      AK public key: PEM or DER SubjectPublicKeyInfo, TPMT_PUBLIC or\n"
	      "                 TPM2B_PUBLIC (then its attributes and scheme are checked too)\n"
	      "  --nonce HEX    expected extraData; --nonce '' expects it empty\n"
	      "  --pcrs FILE    JSON PCR values ({\"bank\": \"sha256\", \"pcrs\": {\"0\": HEX}} "
	      "or\n"
	      "                 {\"sha256\": {\"0\": HEX}}, as 'kagictl eventlog replay --json'\n"
	      "                 prints); the quote's pcrDigest must match them\n"
	      "  --json         print the result as JSON\n"
	      "\n"
	      "Exit status: 0 valid, 1 rejected, 2 usage or unreadable input.\n",
	      f);
}

struct quote_opts {
	const char *attest, *sig, *ak, *nonce, *pcrs;
	const char *positional;
	bool json;
};

/* 0 ok, 1 --help shown, negative on a usage error (already printed) */
static int parse_opts(int argc, char **argv, struct quote_opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} valued[] = {
		{ "--attest", offsetof(struct quote_opts, attest) },
		{ "--sig", offsetof(struct quote_opts, sig) },
		{ "--ak", offsetof(struct quote_opts, ak) },
		{ "--nonce", offsetof(struct quote_opts, nonce) },
		{ "--pcrs", offsetof(struct quote_opts, pcrs) },
	};

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq = strchr(arg, '=');
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		bool matched = false;

		if (streq(arg, "--json")) {
			o->json = true;
			continue;
		}
		if (streq(arg, "--help") || streq(arg, "-h")) {
			quote_usage(stdout);
			return 1;
		}
		for (size_t k = 0; k < ARRAY_SIZE(valued) && !matched; k++) {
			const char **slot = (const char **)((char *)o + valued[k].off);

			if (strlen(valued[k].name) != nlen || strncmp(arg, valued[k].name, nlen))
				continue;
			matched = true;
			if (eq) {
				*slot = eq + 1;
			} else if (i + 1 < argc) {
				*slot = argv[++i];
			} else {
				fprintf(stderr, "kagictl: option '%s' needs a value\n", arg);
				return -EINVAL;
			}
		}
		if (matched)
			continue;
		if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "kagictl: unknown option '%s' for 'quote %s'\n", arg,
				argv[0]);
			return -EINVAL;
		}
		if (o->positional) {
			fprintf(stderr, "kagictl: unexpected argument '%s'\n", arg);
			return -EINVAL;
		}
		o->positional = arg;
	}
	return 0;
}

static int load(const char *opt, const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int r = read_file(path, max, buf, len);

	if (r < 0) {
		fprintf(stderr, "kagictl: cannot read %s file '%s': %s\n", opt, path,
			r == -EFBIG ? "file too large" : strerror(-r));
		return r;
	}
	return 0;
}

static void decode_error(const char *opt, const char *path, const struct kagi_err *e)
{
	char buf[768];

	fprintf(stderr, "kagictl: cannot decode %s file '%s': %s\n", opt, path,
		kagi_err_str(e, buf, sizeof(buf)));
}

static int load_pcrs(const char *path, struct tpm_pcr_values *v)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct json_tokener *tok = NULL;
	json_object *o = NULL;
	struct kagi_err e = { 0 };
	size_t len = 0, end;
	int r;

	r = load("--pcrs", path, PCRS_MAX, &buf, &len);
	if (r < 0)
		return r;
	if (len > INT32_MAX) {
		fprintf(stderr, "kagictl: --pcrs file '%s' too large\n", path);
		return -EFBIG;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		fprintf(stderr, "kagictl: cannot parse --pcrs file '%s' as JSON: %s at byte %zu\n",
			path, json_tokener_error_desc(json_tokener_get_error(tok)), end);
		json_tokener_free(tok);
		json_object_put(o);
		return -EBADMSG;
	}
	json_tokener_free(tok);
	for (; end < len; end++)
		if (buf[end] != ' ' && buf[end] != '\n' && buf[end] != '\r' && buf[end] != '\t') {
			fprintf(stderr,
				"kagictl: --pcrs file '%s': trailing data after the JSON value at "
				"byte %zu\n",
				path, end);
			json_object_put(o);
			return -EBADMSG;
		}
	r = tpm_pcr_values_from_json(o, v, &e);
	json_object_put(o);
	if (r < 0) {
		decode_error("--pcrs", path, &e);
		return r;
	}
	return 0;
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *key_desc(EVP_PKEY *k, char *buf, size_t len)
{
	int id = EVP_PKEY_get_base_id(k);

	if (id == EVP_PKEY_EC) {
		char g[64] = "";

		EVP_PKEY_get_utf8_string_param(k, "group", g, sizeof(g), NULL);
		snprintf(buf, len, "EC %s", g);
	} else {
		snprintf(buf, len, "RSA-%d", EVP_PKEY_get_bits(k));
	}
	return buf;
}

struct verify_ctx {
	struct quote_opts o;
	uint8_t *attest_buf, *sig_buf, *ak_buf;
	size_t attest_len, sig_len, ak_len;
	uint8_t nonce[sizeof(((TPM2B_DATA *)0)->buffer)];
	size_t nonce_len;
	TPMS_ATTEST attest;
	TPMT_SIGNATURE sig;
	TPMT_PUBLIC ak_pub;
	bool has_tpmt, raw_sig;
	EVP_PKEY *ak;
	struct tpm_pcr_values *pcrs;
};

static void verify_ctx_done(struct verify_ctx *c)
{
	free(c->attest_buf);
	free(c->sig_buf);
	free(c->ak_buf);
	free(c->pcrs);
	EVP_PKEY_free(c->ak);
}

/* Reads and decodes every input; returns KAGICTL_OK or KAGICTL_USAGE (message printed). */
static int verify_load(struct verify_ctx *c)
{
	struct kagi_err e = { 0 };
	int r;

	if (!c->o.attest || !c->o.sig || !c->o.ak) {
		fprintf(stderr, "kagictl: quote verify needs --attest, --sig and --ak\n");
		quote_usage(stderr);
		return KAGICTL_USAGE;
	}
	if (c->o.positional) {
		fprintf(stderr, "kagictl: unexpected argument '%s'\n", c->o.positional);
		return KAGICTL_USAGE;
	}
	if (c->o.nonce) {
		size_t n = strlen(c->o.nonce);

		if (n % 2 || n / 2 > sizeof(c->nonce) ||
		    hex_decode(c->o.nonce, c->nonce, n / 2) < 0) {
			fprintf(stderr,
				"kagictl: --nonce '%s' is not hex of at most %zu bytes (use '' for "
				"an "
				"empty extraData)\n",
				c->o.nonce, sizeof(c->nonce));
			return KAGICTL_USAGE;
		}
		c->nonce_len = n / 2;
	}
	if (load("--attest", c->o.attest, ATTEST_MAX, &c->attest_buf, &c->attest_len) < 0 ||
	    load("--sig", c->o.sig, SIG_MAX, &c->sig_buf, &c->sig_len) < 0 ||
	    load("--ak", c->o.ak, AK_MAX, &c->ak_buf, &c->ak_len) < 0)
		return KAGICTL_USAGE;

	r = tpm_ak_load(c->ak_buf, c->ak_len, &c->ak, &c->ak_pub, &c->has_tpmt, &e);
	if (r < 0) {
		decode_error("--ak", c->o.ak, &e);
		return KAGICTL_USAGE;
	}
	r = tpm_attest_decode(c->attest_buf, c->attest_len, &c->attest, &e);
	if (r < 0) {
		decode_error("--attest", c->o.attest, &e);
		return KAGICTL_USAGE;
	}
	r = tpm_signature_decode_any(c->sig_buf, c->sig_len, c->ak, &c->sig, &c->raw_sig, &e);
	if (r < 0) {
		decode_error("--sig", c->o.sig, &e);
		return KAGICTL_USAGE;
	}
	if (c->o.pcrs) {
		c->pcrs = calloc(1, sizeof(*c->pcrs));
		if (!c->pcrs || load_pcrs(c->o.pcrs, c->pcrs) < 0)
			return KAGICTL_USAGE;
	}
	return KAGICTL_OK;
}

static int cmd_quote_verify(struct quote_opts *o)
{
	struct verify_ctx c = { .o = *o };
	struct kagi_err e = { 0 };
	char sigdesc[48], sel[128], kd[64], line[1024];
	const char *stage = NULL;
	TPMI_ALG_HASH sig_hash = TPM2_ALG_NULL;
	int r, ret;

	ret = verify_load(&c);
	if (ret != KAGICTL_OK)
		goto out;
	tpm_signature_describe(&c.sig, sigdesc, sizeof(sigdesc));
	key_desc(c.ak, kd, sizeof(kd));
	tpm_pcr_selection_describe(&c.attest.attested.quote.pcrSelect, sel, sizeof(sel));

	if (c.has_tpmt) {
		stage = "ak";
		r = tpm_public_check_ak(&c.ak_pub, &e);
		if (r >= 0)
			r = tpm_quote_check_scheme(&c.ak_pub, &c.sig, &e);
		if (r < 0)
			goto rejected;
	}
	stage = "signature";
	r = tpm_quote_verify_signature(c.attest_buf, c.attest_len, &c.sig, c.ak, &e);
	if (r < 0)
		goto rejected;
	(void)tpm_signature_hash(&c.sig, &sig_hash);
	if (o->nonce) {
		stage = "nonce";
		r = tpm_quote_check_nonce(&c.attest, c.nonce, c.nonce_len, &e);
		if (r < 0)
			goto rejected;
	}
	if (c.pcrs) {
		stage = "pcrs";
		r = tpm_quote_check_pcrs(&c.attest, c.pcrs, sig_hash, &e);
		if (r < 0)
			goto rejected;
	}
	stage = NULL;
	snprintf(line, sizeof(line), "quote: valid (signature %s%s by %s AK, %s, %s%s)", sigdesc,
		 c.raw_sig ? " (raw)" : "", kd,
		 o->nonce ? (c.nonce_len ? "nonce matches" : "empty extraData as expected")
			  : "nonce not checked",
		 c.pcrs ? "pcr digest matches " : "pcr digest not checked over ", sel);
	ret = KAGICTL_OK;
	goto report;

rejected:
	snprintf(line, sizeof(line), "quote: REJECTED: %s: %s", e.what, e.msg);
	ret = KAGICTL_REJECTED;
report:
	if (o->json) {
		json_object *j = json_object_new_object(), *att = NULL;
		uint8_t name[TPM_NAME_MAX];
		size_t nl = 0;

		json_object_object_add(j, "result",
				       json_object_new_string(stage ? "rejected" : "valid"));
		json_object_object_add(j, "signature", json_object_new_string(sigdesc));
		json_object_object_add(
			j, "signature_format",
			json_object_new_string(c.raw_sig ? "raw" : "tpmt_signature"));
		json_object_object_add(j, "ak", json_object_new_string(kd));
		if (c.has_tpmt && tpm_public_name(&c.ak_pub, name, &nl) == 0) {
			char *h = hex_encode_alloc(name, nl);

			json_object_object_add(j, "ak_name", json_object_new_string(h ? h : ""));
			free(h);
		}
		json_object_object_add(j, "nonce_checked",
				       json_object_new_boolean(o->nonce != NULL));
		json_object_object_add(j, "pcrs_checked", json_object_new_boolean(c.pcrs != NULL));
		json_object_object_add(j, "pcr_selection", json_object_new_string(sel));
		if (stage) {
			json_object *err = json_object_new_object();

			json_object_object_add(err, "stage", json_object_new_string(stage));
			json_object_object_add(err, "what", json_object_new_string(e.what));
			json_object_object_add(err, "message", json_object_new_string(e.msg));
			json_object_object_add(j, "error", err);
		}
		if (tpm_attest_to_json(&c.attest, &att) == 0)
			json_object_object_add(j, "attest", att);
		print_json(j);
		json_object_put(j);
	} else {
		puts(line);
	}
out:
	verify_ctx_done(&c);
	return ret;
}

static int cmd_quote_show(struct quote_opts *o)
{
	const char *path = o->attest ? o->attest : o->positional;
	_cleanup_free_ uint8_t *buf = NULL;
	struct kagi_err e = { 0 };
	TPMS_ATTEST a;
	size_t len = 0;

	if (!path || (o->attest && o->positional) || o->sig || o->ak || o->nonce || o->pcrs) {
		fprintf(stderr, "kagictl: usage: kagictl quote show [--attest] FILE [--json]\n");
		return KAGICTL_USAGE;
	}
	if (load("--attest", path, ATTEST_MAX, &buf, &len) < 0)
		return KAGICTL_USAGE;
	if (tpm_attest_decode(buf, len, &a, &e) < 0) {
		decode_error("--attest", path, &e);
		return KAGICTL_USAGE;
	}
	if (o->json) {
		json_object *j = NULL;

		if (tpm_attest_to_json(&a, &j) < 0)
			return KAGICTL_USAGE;
		print_json(j);
		json_object_put(j);
	} else {
		tpm_attest_print(&a, stdout);
	}
	return KAGICTL_OK;
}

static int cmd_quote_ak(struct quote_opts *o)
{
	const char *path = o->ak ? o->ak : o->positional;
	_cleanup_free_ uint8_t *buf = NULL;
	struct kagi_err e = { 0 }, ce = { 0 };
	uint8_t name[TPM_NAME_MAX];
	char kd[64], *hname = NULL;
	TPMT_PUBLIC pub;
	EVP_PKEY *k = NULL;
	bool has_tpmt = false;
	size_t len = 0, nl = 0;
	int check = 0;

	if (!path || (o->ak && o->positional) || o->sig || o->attest || o->nonce || o->pcrs) {
		fprintf(stderr, "kagictl: usage: kagictl quote ak [--ak] FILE [--json]\n");
		return KAGICTL_USAGE;
	}
	if (load("--ak", path, AK_MAX, &buf, &len) < 0)
		return KAGICTL_USAGE;
	if (tpm_ak_load(buf, len, &k, &pub, &has_tpmt, &e) < 0) {
		decode_error("--ak", path, &e);
		return KAGICTL_USAGE;
	}
	key_desc(k, kd, sizeof(kd));
	if (has_tpmt) {
		check = tpm_public_check_ak(&pub, &ce);
		if (tpm_public_name(&pub, name, &nl) == 0)
			hname = hex_encode_alloc(name, nl);
	}
	if (o->json) {
		json_object *j = json_object_new_object();
		char attrs[16];

		json_object_object_add(j, "key", json_object_new_string(kd));
		json_object_object_add(j, "format",
				       json_object_new_string(has_tpmt ? "tpmt_public" : "spki"));
		if (has_tpmt) {
			snprintf(attrs, sizeof(attrs), "0x%08x", pub.objectAttributes);
			json_object_object_add(j, "object_attributes",
					       json_object_new_string(attrs));
			if (hname)
				json_object_object_add(j, "name", json_object_new_string(hname));
			json_object_object_add(j, "ak_attributes_ok",
					       json_object_new_boolean(check >= 0));
			if (check < 0)
				json_object_object_add(j, "error", json_object_new_string(ce.msg));
		}
		print_json(j);
		json_object_put(j);
	} else {
		printf("key:        %s\n", kd);
		printf("format:     %s\n", has_tpmt ? "TPMT_PUBLIC" : "SubjectPublicKeyInfo");
		if (has_tpmt) {
			printf("attributes: 0x%08x (%s)\n", pub.objectAttributes,
			       check < 0 ? ce.msg : "AK attributes ok");
			printf("name:       %s\n", hname ? hname : "(unknown nameAlg)");
		}
	}
	free(hname);
	EVP_PKEY_free(k);
	return check < 0 ? KAGICTL_REJECTED : KAGICTL_OK;
}

int cmd_quote(int argc, char **argv)
{
	struct quote_opts o = { 0 };
	int r;

	if (argc < 1) {
		quote_usage(stderr);
		return KAGICTL_USAGE;
	}
	/* tss2-mu logs refused input on stderr; our own messages say it better. */
	if (log_get_level() < LOG_LVL_DEBUG)
		setenv("TSS2_LOG", "all+none", 0);
	r = parse_opts(argc, argv, &o);
	if (r != 0)
		return r > 0 ? KAGICTL_OK : KAGICTL_USAGE;
	if (streq(argv[0], "verify"))
		return cmd_quote_verify(&o);
	if (streq(argv[0], "show"))
		return cmd_quote_show(&o);
	if (streq(argv[0], "ak"))
		return cmd_quote_ak(&o);
	if (streq(argv[0], "--help") || streq(argv[0], "-h") || streq(argv[0], "help")) {
		quote_usage(stdout);
		return KAGICTL_OK;
	}
	fprintf(stderr, "kagictl: unknown verb 'quote %s'\n", argv[0]);
	quote_usage(stderr);
	return KAGICTL_USAGE;
}
