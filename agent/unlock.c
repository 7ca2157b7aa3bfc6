// SPDX-License-Identifier: Apache-2.0
/*
 * unlock.c: `kagi unlock`, the agent side of the attestation protocol
 * (contrib/verifier/PROTOCOL.md).
 *
 * One run: read the configuration; make the TLS client identity; choose the evidence path
 * (vTPM: a TPM and an SVSM; direct: no TPM, or rd.kagi.no-tpm); then attempts, each trying the
 * verifier URLs in order: POST /v1/challenge, evidence bound to the nonce and the TLS key,
 * POST /v1/attest. A refusal (403) is printed reason by reason and retried later (the owner may
 * fix the policy), a bad request (400) stops, 5xx and network errors are retried, with an
 * exponential back-off (1, 2, 4 .. 30 s, +-25 % jitter) within rd.kagi.timeout.
 *
 * SNP rule: a failed SNP guest request disables the VMPCK until reboot, so inputs are checked
 * before the request and a failed request ends the run. A network retry re-sends the same
 * evidence while the challenge token is still fresh; otherwise it fetches a new challenge, and
 * the new nonce needs a new (successful, so repeatable) SNP request.
 *
 * On a grant: K from TPM2_ActivateCredential (vTPM) or ECDH (direct); each volume key opened
 * with K into locked memory; the boot-phase PCR extended (vTPM) so this boot can never attest
 * again; each volume opened (or with --check-only, its key checked against the keyslots);
 * every key wiped.
 *
 * TEST HOOKS (kagi-test only, compiled with -DKAGI_TEST_HOOKS; the installed kagi has none of
 * this code). Extra options of `kagi-test unlock`, for the refusal tests in tests/integration:
 *   --test-tamper FIELD:OFFSET   flip bit 0 of byte OFFSET of FIELD just before sending;
 *                                FIELD: snp.report svsm.report svsm.manifest quote.attest
 *                                quote.sig eventlog ak_public (repeatable, up to 8)
 *   --test-bind-other-tls-key    compute the bindings with another key than the TLS session's
 *   --test-quote-nonce HEX       use HEX (1..64 bytes) as the quote's qualifying data
 *   --test-save-token FILE       write the challenge's nonce (hex) and token to FILE
 *   --test-reuse-token FILE      take nonce and token from FILE instead of POST /v1/challenge
 *   --test-delay-after-challenge SECONDS   wait that long between challenge and attest
 *   --test-no-client-cert        present no client certificate
 *   --test-ak-tcti CONF          create the AK and the quote in the TPM at CONF; the EK, the
 *                                SVSM binding and ActivateCredential stay in the main TPM
 *   --test-eventlog FILE         send this event log instead of the system's
 *   --test-print-response        print the verifier's JSON answers on stdout
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "collect.h"
#include "config.h"
#include "http.h"
#include "lib/binding.h"
#include "lib/credential.h"
#include "lib/log.h"
#include "lib/proto.h"
#include "lib/reader.h"
#include "lib/secret.h"
#include "lib/util.h"
#include "luks.h"
#include "unlock.h"

_Static_assert(CONFIG_VOLUMES_MAX == PROTO_MAX_VOLUMES, "volume count");
_Static_assert(CONFIG_UUID_LEN == PROTO_UUID_LEN, "UUID length");
_Static_assert(CONFIG_BOOT_PHASE_PCR == BINDING_BOOT_PHASE_PCR, "boot-phase PCR");
_Static_assert(HTTP_MAX_RESPONSE_DEFAULT == PROTO_MAX_RESPONSE, "response cap");

enum {
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
};

#define BACKOFF_MAX_S    30
#define P384_POINT_LEN   97 /* 0x04 || X || Y */
#define TOKEN_MARGIN_MAX 15 /* seconds kept in hand before a token's expiry */
#define URL_BUF          (CONFIG_URL_MAX + 32)
#define MSG_PART         2048 /* what one step says */
#define MSG_FULL         3072 /* the final reason, which may quote a step */

struct device_map {
	char uuid[CONFIG_UUID_LEN + 1];
	const char *path;
};

#ifdef KAGI_TEST_HOOKS
enum tamper_field {
	TAMPER_SNP_REPORT,
	TAMPER_SVSM_REPORT,
	TAMPER_SVSM_MANIFEST,
	TAMPER_QUOTE_ATTEST,
	TAMPER_QUOTE_SIG,
	TAMPER_EVENTLOG,
	TAMPER_AK_PUBLIC,
};

static const char *const tamper_names[] = {
	[TAMPER_SNP_REPORT] = "snp.report",       [TAMPER_SVSM_REPORT] = "svsm.report",
	[TAMPER_SVSM_MANIFEST] = "svsm.manifest", [TAMPER_QUOTE_ATTEST] = "quote.attest",
	[TAMPER_QUOTE_SIG] = "quote.sig",         [TAMPER_EVENTLOG] = "eventlog",
	[TAMPER_AK_PUBLIC] = "ak_public",
};

struct test_hooks {
	size_t ntamper;
	struct {
		enum tamper_field field;
		size_t off;
	} tamper[8];
	bool bind_other_tls_key;
	bool has_quote_nonce;
	uint8_t quote_nonce[64];
	size_t quote_nonce_len;
	const char *save_token;
	const char *reuse_token;
	unsigned delay_after_challenge;
	bool no_client_cert;
	const char *ak_tcti;
	const char *eventlog;
	bool print_response;
};
#endif

struct unlock_args {
	const char *cmdline_path;
	const char *config_path;
	bool check_only;
	size_t ndevices;
	struct device_map devices[CONFIG_VOLUMES_MAX];
#ifdef KAGI_TEST_HOOKS
	struct test_hooks t;
#endif
};

enum evidence_path {
	PATH_VTPM,
	PATH_DIRECT,
};

enum outcome {
	OUT_DONE, /* a step (challenge, evidence) succeeded */
	OUT_GRANTED,
	OUT_REFUSED, /* 403: retry later with a new challenge */
	OUT_RETRY,   /* 5xx, bad answers: retry later */
	OUT_NETWORK, /* no answer: try the next URL */
	OUT_STOP,    /* 400 and the like: retrying cannot help */
	OUT_FATAL,   /* local failure (SNP request, TPM): retrying is not allowed or cannot help */
};

struct unlock_state {
	const struct kagi_config *cfg;
	const struct unlock_args *args;
	struct http_identity id;
	struct http_opts http;
	uint8_t spki_hash[32]; /* of the key the bindings use (the TLS client key) */
	struct evidence_opts eo;
	struct evidence ev;
	enum evidence_path path;
	bool eventlog_warned;
	/* the current challenge and the request built for it */
	bool have_challenge;
	struct proto_challenge ch;
	uint64_t ch_reuse_until; /* monotonic ms */
	EVP_PKEY *ecdh;          /* direct path: this challenge's ephemeral P-384 key */
	char *request;
	/* the grant */
	uint8_t granted_nonce[32];
	struct proto_attest_response *resp;
	/* the reasons of the last answer, printed after the attempt's line */
	struct proto_attest_response *reasons;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Back-off before attempt n+1 after n failed attempts: 1, 2, 4 .. 30 s, +-25 % jitter. */
static uint64_t backoff_ms(unsigned failed)
{
	uint64_t base = failed >= 6 ? BACKOFF_MAX_S * 1000 : (1000ull << (failed - 1));
	uint32_t rnd = 0;

	if (base > BACKOFF_MAX_S * 1000)
		base = BACKOFF_MAX_S * 1000;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)now_ms();
	/* base * [0.75, 1.25] */
	return base * 3 / 4 + (base / 2) * (rnd % 1001) / 1000;
}

/* Untrusted text (verifier messages) made safe for a terminal and the kernel log. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 1 < len; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[o] = '\0';
	return buf;
}

static const char *err_text(const struct kagi_err *e, int r, char *buf, size_t len)
{
	if (e->what)
		return kagi_err_str(e, buf, len);
	snprintf(buf, len, "%s", strerror(-r));
	return buf;
}

static bool uuid_canonical(char *u)
{
	if (strlen(u) != CONFIG_UUID_LEN)
		return false;
	for (size_t i = 0; i < CONFIG_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return false;
			continue;
		}
		if (u[i] >= 'A' && u[i] <= 'F')
			u[i] = (char)(u[i] - 'A' + 'a');
		if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
			return false;
	}
	return true;
}

static int blob_dup(struct proto_blob *b, const uint8_t *data, size_t len)
{
	b->data = NULL;
	b->len = 0;
	if (!data || !len)
		return 0;
	b->data = malloc(len);
	if (!b->data)
		return -ENOMEM;
	memcpy(b->data, data, len);
	b->len = len;
	return 0;
}

/* ---- options ------------------------------------------------------------------------------- */

static void unlock_usage(FILE *f)
{
	fputs("Usage: kagi unlock [--cmdline FILE] [--config FILE] [--check-only]\n"
	      "                   [--device UUID=PATH ...]\n"
	      "\n"
	      "Attest this VM to the verifier, receive the LUKS2 keys and open the volumes\n"
	      "named by rd.kagi.volume= (kernel command line) or volume = (kagi.conf).\n"
	      "\n"
	      "  --cmdline FILE      kernel command line text (default /proc/cmdline)\n"
	      "  --config FILE       configuration file (default /etc/kagi/kagi.conf)\n"
	      "  --check-only        only prove that each key opens a keyslot; create no mapping\n"
	      "  --device UUID=PATH  the volume UUID is on PATH (default /dev/disk/by-uuid/UUID)\n"
	      "\n"
	      "Exit status: 0 every volume opened, 1 not unlocked (the on-failure action\n"
	      "applies), 2 usage or configuration error.\n",
	      f);
#ifdef KAGI_TEST_HOOKS
	fputs("\nTEST HOOKS (kagi-test only):\n"
	      "  --test-tamper FIELD:OFFSET  --test-bind-other-tls-key  --test-quote-nonce HEX\n"
	      "  --test-save-token FILE  --test-reuse-token FILE  --test-delay-after-challenge S\n"
	      "  --test-no-client-cert  --test-ak-tcti CONF  --test-eventlog FILE\n"
	      "  --test-print-response\n",
	      f);
#endif
}

enum {
	OPT_CMDLINE = 0x100,
	OPT_CONFIG,
	OPT_CHECK_ONLY,
	OPT_DEVICE,
	OPT_TEST_TAMPER,
	OPT_TEST_BIND_OTHER,
	OPT_TEST_QUOTE_NONCE,
	OPT_TEST_SAVE_TOKEN,
	OPT_TEST_REUSE_TOKEN,
	OPT_TEST_DELAY,
	OPT_TEST_NO_CERT,
	OPT_TEST_AK_TCTI,
	OPT_TEST_EVENTLOG,
	OPT_TEST_PRINT,
};

#ifdef KAGI_TEST_HOOKS
static int parse_test_option(int c, const char *arg, struct test_hooks *t)
{
	uint64_t n;

	switch (c) {
	case OPT_TEST_TAMPER: {
		const char *colon = strrchr(arg, ':');
		size_t i;

		if (!colon || t->ntamper >= ARRAY_SIZE(t->tamper) || parse_u64(colon + 1, &n) < 0)
			break;
		for (i = 0; i < ARRAY_SIZE(tamper_names); i++)
			if (strlen(tamper_names[i]) == (size_t)(colon - arg) &&
			    memcmp(tamper_names[i], arg, (size_t)(colon - arg)) == 0)
				break;
		if (i == ARRAY_SIZE(tamper_names))
			break;
		t->tamper[t->ntamper].field = (enum tamper_field)i;
		t->tamper[t->ntamper].off = (size_t)n;
		t->ntamper++;
		return 0;
	}
	case OPT_TEST_BIND_OTHER:
		t->bind_other_tls_key = true;
		return 0;
	case OPT_TEST_QUOTE_NONCE: {
		size_t len = strlen(arg);

		if (len == 0 || len % 2 || len / 2 > sizeof(t->quote_nonce) ||
		    hex_decode(arg, t->quote_nonce, len / 2) < 0)
			break;
		t->quote_nonce_len = len / 2;
		t->has_quote_nonce = true;
		return 0;
	}
	case OPT_TEST_SAVE_TOKEN:
		t->save_token = arg;
		return 0;
	case OPT_TEST_REUSE_TOKEN:
		t->reuse_token = arg;
		return 0;
	case OPT_TEST_DELAY:
		if (parse_u64(arg, &n) < 0 || n > 3600)
			break;
		t->delay_after_challenge = (unsigned)n;
		return 0;
	case OPT_TEST_NO_CERT:
		t->no_client_cert = true;
		return 0;
	case OPT_TEST_AK_TCTI:
		t->ak_tcti = arg;
		return 0;
	case OPT_TEST_EVENTLOG:
		t->eventlog = arg;
		return 0;
	case OPT_TEST_PRINT:
		t->print_response = true;
		return 0;
	}
	log_error("unlock: bad value '%s' for a test option", arg);
	return -EINVAL;
}
#endif

static int parse_unlock_args(int argc, char **argv, struct unlock_args *a)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "check-only", no_argument, NULL, OPT_CHECK_ONLY },
		{ "device", required_argument, NULL, OPT_DEVICE },
#ifdef KAGI_TEST_HOOKS
		{ "test-tamper", required_argument, NULL, OPT_TEST_TAMPER },
		{ "test-bind-other-tls-key", no_argument, NULL, OPT_TEST_BIND_OTHER },
		{ "test-quote-nonce", required_argument, NULL, OPT_TEST_QUOTE_NONCE },
		{ "test-save-token", required_argument, NULL, OPT_TEST_SAVE_TOKEN },
		{ "test-reuse-token", required_argument, NULL, OPT_TEST_REUSE_TOKEN },
		{ "test-delay-after-challenge", required_argument, NULL, OPT_TEST_DELAY },
		{ "test-no-client-cert", no_argument, NULL, OPT_TEST_NO_CERT },
		{ "test-ak-tcti", required_argument, NULL, OPT_TEST_AK_TCTI },
		{ "test-eventlog", required_argument, NULL, OPT_TEST_EVENTLOG },
		{ "test-print-response", no_argument, NULL, OPT_TEST_PRINT },
#endif
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			unlock_usage(stdout);
			return 1;
		case OPT_CMDLINE:
			a->cmdline_path = optarg;
			break;
		case OPT_CONFIG:
			a->config_path = optarg;
			break;
		case OPT_CHECK_ONLY:
			a->check_only = true;
			break;
		case OPT_DEVICE: {
			const char *eq = strchr(optarg, '=');
			struct device_map *d = &a->devices[a->ndevices];

			if (a->ndevices >= ARRAY_SIZE(a->devices) || !eq ||
			    (size_t)(eq - optarg) != CONFIG_UUID_LEN || !eq[1]) {
				log_error("--device wants UUID=PATH (at most %zu), got '%s'",
					  ARRAY_SIZE(a->devices), optarg);
				return -EINVAL;
			}
			memcpy(d->uuid, optarg, CONFIG_UUID_LEN);
			d->uuid[CONFIG_UUID_LEN] = '\0';
			if (!uuid_canonical(d->uuid)) {
				log_error("--device: '%.*s' is not a UUID", CONFIG_UUID_LEN,
					  optarg);
				return -EINVAL;
			}
			d->path = eq + 1;
			a->ndevices++;
			break;
		}
		default:
#ifdef KAGI_TEST_HOOKS
			if (c >= OPT_TEST_TAMPER && c <= OPT_TEST_PRINT) {
				if (parse_test_option(c, optarg, &a->t) < 0)
					return -EINVAL;
				break;
			}
#endif
			log_error("unlock: unknown or incomplete option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("unlock: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* ---- the challenge ------------------------------------------------------------------------- */

/*
 * How long the token may be re-sent: its lifetime from its own issued_at/expires (PROTOCOL.md
 * section 1), measured on our monotonic clock so a wrong guest clock does not matter.
 */
static uint64_t token_lifetime_s(const struct proto_challenge *ch)
{
	char b64[PROTO_TOKEN_MAX + 4];
	size_t n = strlen(ch->token), len = 0;
	uint8_t *raw = NULL;
	uint64_t life = 0;

	memcpy(b64, ch->token, n);
	for (size_t i = 0; i < n; i++)
		b64[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
	while (n % 4)
		b64[n++] = '=';
	b64[n] = '\0';
	if (proto_b64_decode(b64, 256, &raw, &len) == 0 && len >= 65) {
		/* version (u8) || issued_at (u64 BE) || expires (u64 BE) || ... */
		struct reader rd = reader_init(raw, len);
		uint64_t issued = 0, expires = 0;
		uint8_t version = 0;

		if (reader_u8(&rd, &version) == 0 && version == 1 &&
		    reader_be64(&rd, &issued) == 0 && reader_be64(&rd, &expires) == 0 &&
		    expires > issued)
			life = expires - issued;
	}
	if (life == 0) {
		time_t now = time(NULL);

		/* an opaque token: trust our clock, within reason */
		if (now > 0 && ch->expires > (uint64_t)now)
			life = ch->expires - (uint64_t)now;
	}
	free(raw);
	return life > 3600 ? 3600 : life;
}

static void drop_challenge(struct unlock_state *st)
{
	st->have_challenge = false;
	free(st->request);
	st->request = NULL;
}

#ifdef KAGI_TEST_HOOKS
static int save_token(const char *path, const struct proto_challenge *ch)
{
	char hex[65];
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%s\n%s\n", hex_encode(ch->nonce, 32, hex), ch->token);
	return fclose(f) == 0 ? 0 : -EIO;
}

static int load_token(const char *path, struct proto_challenge *ret)
{
	_cleanup_free_ uint8_t *text = NULL;
	struct proto_challenge ch = { 0 };
	char buf[4097], *nl, *tok;
	size_t len = 0;
	int r;

	r = read_file(path, sizeof(buf) - 1, &text, &len);
	if (r < 0)
		return r;
	memcpy(buf, text, len);
	buf[len] = '\0';
	/* line 1: the nonce in hex; line 2: the token */
	nl = strchr(buf, '\n');
	if (!nl || nl - buf != 64)
		return -EINVAL;
	*nl = '\0';
	if (hex_decode(buf, ch.nonce, 32) < 0)
		return -EINVAL;
	tok = nl + 1;
	tok[strcspn(tok, "\n")] = '\0';
	if (strlen(tok) == 0 || strlen(tok) > PROTO_TOKEN_MAX)
		return -EINVAL;
	memcpy(ch.token, tok, strlen(tok) + 1);
	ch.expires = (uint64_t)time(NULL) + 120;
	*ret = ch;
	return 0;
}
#endif

/* ---- evidence and the attest request -------------------------------------------------------- */

static int ecdh_public_point(EVP_PKEY *k, uint8_t out[P384_POINT_LEN])
{
	size_t len = 0;

	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out,
					    P384_POINT_LEN, &len) != 1 ||
	    len != P384_POINT_LEN || out[0] != 0x04)
		return -EIO;
	return 0;
}

static EVP_PKEY *p384_from_point(const uint8_t *pt, size_t len)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-384", 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len),
		OSSL_PARAM_construct_end(),
	};

	if (len != P384_POINT_LEN || pt[0] != 0x04)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	return k;
}

#ifdef KAGI_TEST_HOOKS
static int apply_tamper(const struct test_hooks *t, struct proto_attest_request *req)
{
	for (size_t i = 0; i < t->ntamper; i++) {
		struct proto_blob *b = NULL;

		switch (t->tamper[i].field) {
		case TAMPER_SNP_REPORT:
			b = &req->ev.snp_report;
			break;
		case TAMPER_SVSM_REPORT:
			b = &req->ev.svsm_report;
			break;
		case TAMPER_SVSM_MANIFEST:
			b = &req->ev.svsm_manifest;
			break;
		case TAMPER_QUOTE_ATTEST:
			b = &req->ev.quote_attest;
			break;
		case TAMPER_QUOTE_SIG:
			b = &req->ev.quote_sig;
			break;
		case TAMPER_EVENTLOG:
			b = &req->ev.eventlog;
			break;
		case TAMPER_AK_PUBLIC:
			b = &req->ev.ak_public;
			break;
		}
		if (!b || t->tamper[i].off >= b->len) {
			log_error("--test-tamper %s:%zu: the field has %zu bytes",
				  tamper_names[t->tamper[i].field], t->tamper[i].off,
				  b ? b->len : 0);
			return -EINVAL;
		}
		b->data[t->tamper[i].off] ^= 1;
		log_info("TEST: flipped bit 0 of %s byte %zu", tamper_names[t->tamper[i].field],
			 t->tamper[i].off);
	}
	return 0;
}
#endif

/* Collect evidence for st->ch and encode the attest request into st->request. */
static enum outcome build_request(struct unlock_state *st, char *msg, size_t msglen)
{
	struct evidence *ev = &st->ev;
	struct proto_attest_request *req = NULL;
	struct evidence_inputs in = { 0 };
	uint8_t rd[64], svsm[64], q[32], point[P384_POINT_LEN];
	struct kagi_err e = { 0 };
	char eb[sizeof(e.msg) + 128];
	bool snp_failed = false;
	enum outcome out = OUT_FATAL;
	int r;

	evidence_reset(ev);
	if (st->path == PATH_VTPM) {
		binding_report_data(st->ch.nonce, ev->tpm.ak, ev->tpm.ak_len, st->spki_hash, rd);
		binding_svsm_nonce(st->ch.nonce, st->spki_hash, svsm);
		binding_quote_qualifying(st->ch.nonce, st->spki_hash, q);
		in = (struct evidence_inputs){ .report_data = rd,
					       .svsm_nonce = svsm,
					       .qualifying = q,
					       .qualifying_len = sizeof(q) };
#ifdef KAGI_TEST_HOOKS
		if (st->args->t.has_quote_nonce) {
			in.qualifying = st->args->t.quote_nonce;
			in.qualifying_len = st->args->t.quote_nonce_len;
		}
#endif
	} else {
		EVP_PKEY_free(st->ecdh);
		st->ecdh = EVP_EC_gen("P-384");
		if (!st->ecdh || ecdh_public_point(st->ecdh, point) < 0) {
			snprintf(msg, msglen, "generating the ephemeral P-384 key failed");
			return OUT_FATAL;
		}
		binding_report_data(st->ch.nonce, point, sizeof(point), st->spki_hash, rd);
		in = (struct evidence_inputs){ .report_data = rd, .svsm_nonce = rd };
	}

	(void)evidence_collect(&st->eo, ev, &in, &snp_failed);
	if (!ev->snp.collected) {
		snprintf(msg, msglen, "no SNP report: %s%s", ev->snp.error,
			 snp_failed ? " (a failed SNP guest request is never retried: the kernel "
				      "disables the guest's message key until reboot)"
				    : "");
		return OUT_FATAL;
	}
	if (st->path == PATH_VTPM) {
		if (!ev->snp.svsm_collected) {
			snprintf(msg, msglen, "no SVSM vTPM report: %s%s", ev->snp.svsm_error,
				 snp_failed ? " (not retried: a failed guest request is final "
					      "until reboot)"
					    : "");
			return OUT_FATAL;
		}
		if (!ev->tpm.quoted) {
			snprintf(msg, msglen, "TPM quote failed: %s", ev->tpm.error);
			return OUT_FATAL;
		}
		if (!ev->log.collected && !st->eventlog_warned) {
			log_warn("no TCG event log (%s): sending the quote without it",
				 ev->log.error);
			st->eventlog_warned = true;
		}
	}

	req = calloc(1, sizeof(*req));
	if (!req) {
		snprintf(msg, msglen, "out of memory");
		return OUT_FATAL;
	}
	memcpy(req->token, st->ch.token, sizeof(req->token));
	req->nvolumes = st->cfg->nvolumes;
	for (size_t i = 0; i < st->cfg->nvolumes; i++)
		memcpy(req->volumes[i], st->cfg->volumes[i].uuid, sizeof(req->volumes[i]));
	r = blob_dup(&req->ev.snp_report, ev->snp.report, ev->snp.report_len);
	if (r >= 0)
		r = blob_dup(&req->ev.snp_certs, ev->snp.certs, ev->snp.certs_len);
	if (r >= 0 && st->path == PATH_DIRECT) {
		r = blob_dup(&req->ev.ecdh_public, point, sizeof(point));
	} else if (r >= 0) {
		const struct evidence_pcrs *p = &ev->tpm.pcrs;

		req->ev.has_svsm = true;
		req->ev.has_tpm = true;
		if ((r = blob_dup(&req->ev.svsm_report, ev->snp.svsm_report,
				  ev->snp.svsm_report_len)) >= 0 &&
		    (r = blob_dup(&req->ev.svsm_manifest, ev->snp.manifest,
				  ev->snp.manifest_len)) >= 0 &&
		    (r = blob_dup(&req->ev.svsm_certs, ev->snp.svsm_certs,
				  ev->snp.svsm_certs_len)) >= 0 &&
		    (r = blob_dup(&req->ev.ek_public, ev->tpm.ek, ev->tpm.ek_len)) >= 0 &&
		    (r = blob_dup(&req->ev.ak_public, ev->tpm.ak, ev->tpm.ak_len)) >= 0 &&
		    (r = blob_dup(&req->ev.quote_attest, ev->tpm.attest, ev->tpm.attest_len)) >=
			    0 &&
		    (r = blob_dup(&req->ev.quote_sig, ev->tpm.sig, ev->tpm.sig_len)) >= 0)
			r = blob_dup(&req->ev.eventlog, ev->log.data, ev->log.len);
		for (unsigned n = 0; r >= 0 && n < EVIDENCE_PCR_MAX; n++)
			if (p->mask & (1u << n))
				r = tpm_pcr_values_set(&req->ev.pcrs, p->alg, n, p->value[n],
						       p->digest_size, &e);
		if (r < 0 && e.what) {
			snprintf(msg, msglen, "PCR values: %s", kagi_err_str(&e, eb, sizeof(eb)));
			goto out;
		}
	}
	if (r < 0) {
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
#ifdef KAGI_TEST_HOOKS
	if (apply_tamper(&st->args->t, req) < 0) {
		snprintf(msg, msglen, "a --test-tamper offset is out of range");
		goto out;
	}
#endif
	free(st->request);
	st->request = NULL;
	r = proto_attest_request_encode(req, &st->request);
	if (r < 0) {
		snprintf(msg, msglen, "encoding the attest request failed: %s", strerror(-r));
		goto out;
	}
	out = OUT_DONE;
out:
	proto_attest_request_done(req);
	free(req);
	return out;
}

/* ---- one exchange with one verifier URL ----------------------------------------------------- */

/* The verifier's reasons (refusal output: one `refused: CODE: MESSAGE` line each). */
static void print_reasons(struct unlock_state *st)
{
	const struct proto_attest_response *resp = st->reasons;
	char code[sizeof(resp->reasons[0].code)], m[sizeof(resp->reasons[0].message)];

	if (!resp)
		return;
	for (size_t i = 0; i < resp->nreasons; i++)
		log_info("refused: %s: %s", printable(resp->reasons[i].code, code, sizeof(code)),
			 printable(resp->reasons[i].message, m, sizeof(m)));
	proto_attest_response_done(st->reasons);
	free(st->reasons);
	st->reasons = NULL;
}

/*
 * A non-200 answer (or a 200 that is not a grant): what now, and the summary. The reasons are
 * kept in st->reasons for print_reasons().
 */
static enum outcome judge_answer(struct unlock_state *st, const struct http_response *hr,
				 const char *step, char *msg, size_t msglen)
{
	struct proto_attest_response *resp = calloc(1, sizeof(*resp));
	struct kagi_err e = { 0 };
	char code[64], m[256];
	enum outcome out;
	const char *kind;

	if (!resp) {
		snprintf(msg, msglen, "out of memory");
		return OUT_FATAL;
	}
	if (hr->status == 403 || hr->status == 200) {
		out = OUT_REFUSED;
		kind = "verifier refused";
	} else if (hr->status == 400) {
		out = OUT_STOP;
		kind = "verifier rejected the request";
	} else if (hr->status >= 500 || hr->status == 408 || hr->status == 429) {
		out = OUT_RETRY;
		kind = "verifier unavailable";
	} else {
		out = OUT_STOP;
		kind = "unexpected answer";
	}
	if (proto_attest_response_decode(hr->body, hr->len, resp, &e) == 0 && !resp->granted &&
	    resp->nreasons > 0) {
		snprintf(msg, msglen, "%s: %s: %s: %s%s (HTTP %ld)", step, kind,
			 printable(resp->reasons[0].code, code, sizeof(code)),
			 printable(resp->reasons[0].message, m, sizeof(m)),
			 resp->nreasons > 1 ? ", and more" : "", hr->status);
		print_reasons(st); /* an earlier answer's, if never printed */
		st->reasons = resp;
		return out;
	}
	if (e.what) {
		char eb[sizeof(e.msg) + 128];

		snprintf(msg, msglen, "%s: %s, HTTP %ld; its answer does not decode: %s", step,
			 kind, hr->status, kagi_err_str(&e, eb, sizeof(eb)));
	} else {
		snprintf(msg, msglen, "%s: %s, HTTP %ld with no reasons", step, kind, hr->status);
	}
	if (out == OUT_REFUSED)
		out = OUT_RETRY;
	proto_attest_response_done(resp);
	free(resp);
	return out;
}

#ifdef KAGI_TEST_HOOKS
#define HOOK(x) (st->args->t.x)
#else
#define HOOK(x) 0
#endif

static enum outcome get_challenge(struct unlock_state *st, const char *base, char *msg,
				  size_t msglen)
{
	struct http_response hr = { 0 };
	struct kagi_err e = { 0 };
	char url[URL_BUF], eb[sizeof(e.msg) + 128];
	_cleanup_free_ char *body = NULL;
	struct proto_challenge ch;
	uint64_t life;
	int r;

#ifdef KAGI_TEST_HOOKS
	if (st->args->t.reuse_token) {
		r = load_token(st->args->t.reuse_token, &ch);
		if (r < 0) {
			snprintf(msg, msglen, "--test-reuse-token '%s' is unusable",
				 st->args->t.reuse_token);
			return OUT_FATAL;
		}
		log_info("TEST: re-using the challenge token from '%s'", st->args->t.reuse_token);
		goto have;
	}
#endif
	snprintf(url, sizeof(url), "%s/v1/challenge", base);
	r = proto_challenge_request_encode(&body);
	if (r < 0) {
		snprintf(msg, msglen, "encoding the challenge request failed");
		return OUT_FATAL;
	}
	r = http_post_json(&st->http, url, body, strlen(body), &hr, &e);
	if (r < 0) {
		snprintf(msg, msglen, "challenge: %s", err_text(&e, r, eb, sizeof(eb)));
		return r == -EINVAL ? OUT_STOP : OUT_NETWORK;
	}
	if (HOOK(print_response))
		printf("%.*s\n", (int)hr.len, hr.body);
	if (hr.status != 200) {
		enum outcome o = judge_answer(st, &hr, "challenge", msg, msglen);

		http_response_done(&hr);
		return o;
	}
	r = proto_challenge_decode(hr.body, hr.len, &ch, &e);
	http_response_done(&hr);
	if (r < 0) {
		snprintf(msg, msglen, "challenge: malformed answer: %s",
			 err_text(&e, r, eb, sizeof(eb)));
		return OUT_RETRY;
	}
#ifdef KAGI_TEST_HOOKS
	if (st->args->t.save_token && save_token(st->args->t.save_token, &ch) < 0) {
		snprintf(msg, msglen, "--test-save-token '%s' failed", st->args->t.save_token);
		return OUT_FATAL;
	}
have:
#endif
	st->ch = ch;
	st->have_challenge = true;
	life = token_lifetime_s(&ch);
	{
		uint64_t margin = life / 4 < TOKEN_MARGIN_MAX ? life / 4 : TOKEN_MARGIN_MAX;

		st->ch_reuse_until = now_ms() + (life - margin) * 1000;
	}
	log_debug("challenge from %s, token valid for %llu s", base, (unsigned long long)life);
	return OUT_DONE;
}

static enum outcome try_url(struct unlock_state *st, const char *base, unsigned timeout, char *msg,
			    size_t msglen)
{
	struct http_response hr = { 0 };
	struct kagi_err e = { 0 };
	char url[URL_BUF], eb[sizeof(e.msg) + 128];
	enum outcome o;
	int r;

	st->http.timeout = timeout;
	if (st->have_challenge && now_ms() >= st->ch_reuse_until) {
		log_debug("the challenge token is too old to re-use: asking for a new one");
		drop_challenge(st);
	}
	if (!st->have_challenge) {
		o = get_challenge(st, base, msg, msglen);
		if (o != OUT_DONE)
			return o;
		o = build_request(st, msg, msglen);
		if (o != OUT_DONE) {
			drop_challenge(st);
			return o;
		}
	} else {
		log_debug("re-sending the evidence for the still valid challenge");
	}
#ifdef KAGI_TEST_HOOKS
	if (st->args->t.delay_after_challenge) {
		log_info("TEST: waiting %u s before sending the evidence",
			 st->args->t.delay_after_challenge);
		sleep_ms((uint64_t)st->args->t.delay_after_challenge * 1000);
	}
#endif
	snprintf(url, sizeof(url), "%s/v1/attest", base);
	r = http_post_json(&st->http, url, st->request, strlen(st->request), &hr, &e);
	if (r < 0) {
		/* no answer: the same evidence may go out again while the token is fresh */
		snprintf(msg, msglen, "attest: %s", err_text(&e, r, eb, sizeof(eb)));
		return r == -EINVAL ? OUT_STOP : OUT_NETWORK;
	}
	/* the verifier saw the token: never send it again */
	memcpy(st->granted_nonce, st->ch.nonce, sizeof(st->granted_nonce));
	drop_challenge(st);
	if (HOOK(print_response))
		printf("%.*s\n", (int)hr.len, hr.body);
	if (hr.status == 200) {
		struct proto_attest_response *resp = calloc(1, sizeof(*resp));

		if (!resp) {
			http_response_done(&hr);
			snprintf(msg, msglen, "out of memory");
			return OUT_FATAL;
		}
		r = proto_attest_response_decode(hr.body, hr.len, resp, &e);
		if (r == 0 && resp->granted) {
			http_response_done(&hr);
			st->resp = resp;
			snprintf(msg, msglen, "keys released (group '%s')", resp->group);
			return OUT_GRANTED;
		}
		proto_attest_response_done(resp);
		free(resp);
		if (r < 0) {
			snprintf(msg, msglen, "attest: malformed answer: %s",
				 err_text(&e, r, eb, sizeof(eb)));
			http_response_done(&hr);
			return OUT_RETRY;
		}
	}
	o = judge_answer(st, &hr, "attest", msg, msglen);
	http_response_done(&hr);
	return o;
}

/* ---- after the grant ------------------------------------------------------------------------ */

static const char *device_for(const struct unlock_args *a, const char *uuid, char *buf, size_t len)
{
	for (size_t i = 0; i < a->ndevices; i++)
		if (streq(a->devices[i].uuid, uuid))
			return a->devices[i].path;
	snprintf(buf, len, "/dev/disk/by-uuid/%s", uuid);
	return buf;
}

/* K: from the TPM (vTPM path) or ECDH (direct path), in a locked secret. */
static int recover_k(struct unlock_state *st, struct secret **ret, char *msg, size_t msglen)
{
	const struct proto_attest_response *resp = st->resp;
	struct kagi_err e = { 0 };
	char eb[sizeof(e.msg) + 128];
	struct secret *k = NULL;
	int r;

	if (st->path == PATH_VTPM) {
		if (!resp->has_credential) {
			snprintf(msg, msglen, "the grant has no TPM credential");
			return -EBADMSG;
		}
		TPM2B_ID_OBJECT blob;
		TPM2B_ENCRYPTED_SECRET sec;

		r = credential_unmarshal(&resp->cred_blob, &resp->cred_secret, &blob, &sec, &e);
		if (r < 0) {
			snprintf(msg, msglen, "the grant's TPM credential is malformed: %s",
				 err_text(&e, r, eb, sizeof(eb)));
			return r;
		}
		r = evidence_activate_credential(&st->ev, &blob, &sec, &k, &e);
		if (r < 0) {
			snprintf(msg, msglen,
				 "TPM2_ActivateCredential failed (the credential is not for this "
				 "TPM's EK and AK): %s",
				 err_text(&e, r, eb, sizeof(eb)));
			return r;
		}
		if (k->len != CREDENTIAL_KEY_SIZE) {
			snprintf(msg, msglen, "the credential has %zu bytes, expected %d", k->len,
				 CREDENTIAL_KEY_SIZE);
			secret_free(k);
			return -EBADMSG;
		}
	} else {
		EVP_PKEY *peer;

		if (!resp->has_ecdh) {
			snprintf(msg, msglen, "the grant has no ECDH public key");
			return -EBADMSG;
		}
		peer = p384_from_point(resp->ecdh_public.data, resp->ecdh_public.len);
		if (!peer) {
			snprintf(msg, msglen, "the verifier's ECDH key is not a P-384 point");
			return -EBADMSG;
		}
		k = secret_new(CREDENTIAL_KEY_SIZE);
		r = k ? ecdh_derive(st->ecdh, peer, st->granted_nonce, k->data, &e) : -ENOMEM;
		EVP_PKEY_free(peer);
		if (r < 0) {
			snprintf(msg, msglen, "ECDH failed: %s", err_text(&e, r, eb, sizeof(eb)));
			secret_free(k);
			return r;
		}
	}
	*ret = k;
	return 0;
}

/* Open every volume key into keys[i]; all or nothing. */
static int open_keys(struct unlock_state *st, const struct secret *k, struct secret **keys,
		     char *msg, size_t msglen)
{
	const struct proto_attest_response *resp = st->resp;
	struct kagi_err e = { 0 };
	char eb[sizeof(e.msg) + 128];

	for (size_t i = 0; i < st->cfg->nvolumes; i++) {
		const char *uuid = st->cfg->volumes[i].uuid;
		const struct proto_sealed_key *sk = NULL;
		int r;

		for (size_t j = 0; j < resp->nkeys; j++)
			if (streq(resp->keys[j].volume, uuid))
				sk = &resp->keys[j];
		if (!sk) {
			snprintf(msg, msglen, "the verifier sent no key for volume %s", uuid);
			return -ENOKEY;
		}
		r = open_key(k->data, uuid, st->granted_nonce, sk->iv, sk->ciphertext.data,
			     sk->ciphertext.len, sk->tag, &keys[i], &e);
		if (r < 0) {
			snprintf(msg, msglen, "the key for volume %s does not decrypt: %s", uuid,
				 err_text(&e, r, eb, sizeof(eb)));
			return r;
		}
	}
	return 0;
}

/* Returns the number of volumes opened; prints one line per volume. */
static size_t open_volumes(struct unlock_state *st, struct secret **keys, bool check_only)
{
	size_t opened = 0;

	for (size_t i = 0; i < st->cfg->nvolumes; i++) {
		const struct config_volume *v = &st->cfg->volumes[i];
		char dev[64], name[CONFIG_NAME_MAX + 1], eb[700];
		struct kagi_err e = { 0 };
		const char *path = device_for(st->args, v->uuid, dev, sizeof(dev));
		int slot;

		if (v->name[0])
			snprintf(name, sizeof(name), "%s", v->name);
		else
			snprintf(name, sizeof(name), "luks-%s", v->uuid);
		slot = luks_open(path, v->uuid, check_only ? NULL : name, keys[i], &e);
		secret_free(keys[i]);
		keys[i] = NULL;
		if (slot < 0) {
			log_error("volume %s (%s): %s", v->uuid, path,
				  err_text(&e, slot, eb, sizeof(eb)));
			continue;
		}
		opened++;
		if (check_only)
			log_info("volume %s (%s): the key opens keyslot %d (check only, no "
				 "mapping created)",
				 v->uuid, path, slot);
		else
			log_info("volume %s (%s): opened as /dev/mapper/%s with keyslot %d",
				 v->uuid, path, name, slot);
	}
	return opened;
}

/* ---- the command ---------------------------------------------------------------------------- */

static int setup(struct unlock_state *st, char *msg, size_t msglen)
{
	const struct kagi_config *cfg = st->cfg;
	struct kagi_err e = { 0 };
	char eb[sizeof(e.msg) + 128];
	EVP_PKEY *bind_key;
	int r;

	r = cfg->cert[0] ? http_identity_load(cfg->cert, cfg->key, &st->id, &e)
			 : http_identity_ephemeral(&st->id, &e);
	if (r < 0) {
		snprintf(msg, msglen, "TLS client identity: %s", err_text(&e, r, eb, sizeof(eb)));
		return r;
	}
	bind_key = st->id.key;
#ifdef KAGI_TEST_HOOKS
	if (st->args->t.bind_other_tls_key) {
		bind_key = EVP_EC_gen("P-256");
		log_info("TEST: binding the evidence to a key other than the TLS client key");
	}
#endif
	r = bind_key ? binding_spki_hash(bind_key, st->spki_hash) : -ENOMEM;
	if (bind_key != st->id.key)
		EVP_PKEY_free(bind_key);
	if (r < 0) {
		snprintf(msg, msglen, "hashing the TLS client key failed");
		return r;
	}
	st->http = (struct http_opts){
		.ca_file = cfg->ca,
		.pin = cfg->pin,
		.id = HOOK(no_client_cert) ? NULL : &st->id,
		.timeout = cfg->attempt_timeout,
	};

	evidence_opts_init(&st->eo);
	st->eo.tsm_dir = cfg->tsm_dir;
	st->eo.sev_dev = cfg->sev_guest;
	st->eo.tcti = cfg->tcti;
	st->eo.eventlog = cfg->eventlog;
	st->eo.pcr_mask = cfg->pcrs;
	st->eo.no_tpm = cfg->no_tpm;
#ifdef KAGI_TEST_HOOKS
	st->eo.ak_tcti = st->args->t.ak_tcti;
	if (st->args->t.eventlog)
		st->eo.eventlog = st->args->t.eventlog;
#endif

	/*
	 * The path: the vTPM path needs an SVSM that vouches for the TPM (no guest request is
	 * made to find out) and a working TPM; anything else is the direct path, which does not
	 * touch a TPM at all.
	 */
	r = evidence_snp_probe(&st->eo, &st->ev);
	if (r < 0) {
		snprintf(msg, msglen, "%s", st->ev.snp.error);
		return r;
	}
	if (!cfg->no_tpm && st->ev.snp.svsm_present) {
		r = evidence_tpm_open(&st->eo, &st->ev);
		if (r >= 0) {
			st->path = PATH_VTPM;
			st->eo.read_eventlog = true;
			log_info("evidence: SNP report via %s, SVSM vTPM attestation, quote of the "
				 "TPM at %s",
				 st->ev.snp.source, cfg->tcti);
			return 0;
		}
		log_warn("an SVSM is present but its vTPM at '%s' is not usable (%s): using the "
			 "direct path",
			 cfg->tcti, st->ev.tpm.error);
		evidence_done(&st->ev);
		memset(&st->ev, 0, sizeof(st->ev));
		r = evidence_snp_probe(&st->eo, &st->ev);
		if (r < 0) {
			snprintf(msg, msglen, "%s", st->ev.snp.error);
			return r;
		}
	} else if (!cfg->no_tpm) {
		log_debug("no SVSM: nothing binds a TPM to the SNP report, not using one");
	}
	st->eo.no_svsm = true;
	st->eo.read_eventlog = false;
	st->path = PATH_DIRECT;
	log_info("evidence: SNP report via %s with an ephemeral ECDH key (direct path, no vTPM)",
		 st->ev.snp.source);
	return 0;
}

/* The attempts; 0 with st->resp on a grant, else the reason in msg. */
static int attempts(struct unlock_state *st, char *msg, size_t msglen)
{
	const struct kagi_config *cfg = st->cfg;
	uint64_t deadline = now_ms() + (uint64_t)cfg->timeout * 1000;
	unsigned failed = 0;

	for (unsigned attempt = 1; attempt <= cfg->retries; attempt++) {
		enum outcome o = OUT_NETWORK;
		char line[MSG_PART];
		uint64_t wait;

		for (size_t u = 0; u < cfg->nurls; u++) {
			uint64_t now = now_ms(), left_s;

			if (now >= deadline) {
				snprintf(msg, msglen, "no grant within rd.kagi.timeout=%u s",
					 cfg->timeout);
				return -ETIMEDOUT;
			}
			left_s = (deadline - now + 999) / 1000;
			o = try_url(st, cfg->urls[u],
				    left_s < cfg->attempt_timeout ? (unsigned)left_s
								  : cfg->attempt_timeout,
				    line, sizeof(line));
			if (o == OUT_GRANTED) {
				log_info("attempt %u/%u to %s: %s", attempt, cfg->retries,
					 cfg->urls[u], line);
				return 0;
			}
			if (o == OUT_NETWORK && u + 1 < cfg->nurls) {
				log_info("attempt %u/%u to %s: %s; trying %s", attempt,
					 cfg->retries, cfg->urls[u], line, cfg->urls[u + 1]);
				print_reasons(st);
				continue;
			}
			if (o == OUT_STOP || o == OUT_FATAL) {
				log_info("attempt %u/%u to %s: %s; giving up", attempt,
					 cfg->retries, cfg->urls[u], line);
				print_reasons(st);
				snprintf(msg, msglen, "%s", line);
				return o == OUT_STOP ? -EPROTO : -EIO;
			}
			/* refused, retry later, or the last URL did not answer */
			if (attempt == cfg->retries) {
				log_info("attempt %u/%u to %s: %s; no attempts left", attempt,
					 cfg->retries, cfg->urls[u], line);
				print_reasons(st);
				snprintf(msg, msglen, "%u attempts failed, the last: %s",
					 cfg->retries, line);
				return o == OUT_REFUSED ? -EACCES : -ETIMEDOUT;
			}
			wait = backoff_ms(++failed);
			if (now_ms() + wait >= deadline) {
				log_info("attempt %u/%u to %s: %s; no time left for another "
					 "attempt",
					 attempt, cfg->retries, cfg->urls[u], line);
				print_reasons(st);
				snprintf(msg, msglen,
					 "no grant within rd.kagi.timeout=%u s, the last: %s",
					 cfg->timeout, line);
				return o == OUT_REFUSED ? -EACCES : -ETIMEDOUT;
			}
			log_info("attempt %u/%u to %s: %s; next attempt in %llu.%llu s", attempt,
				 cfg->retries, cfg->urls[u], line,
				 (unsigned long long)(wait / 1000),
				 (unsigned long long)(wait % 1000 / 100));
			print_reasons(st);
			sleep_ms(wait);
			break;
		}
	}
	snprintf(msg, msglen, "no attempts left");
	return -ETIMEDOUT;
}

static void say_failure(const struct kagi_config *cfg, const char *why)
{
	log_error("FAILED: %s", why);
	log_info("decision: the disk stays locked; on-failure action: %s (left to the boot "
		 "integration)",
		 config_on_failure_name(cfg ? cfg->on_failure : CONFIG_ON_FAILURE_POWEROFF));
}

int cmd_unlock(int argc, char **argv)
{
	struct unlock_args *args = NULL;
	struct unlock_state st = { 0 };
	struct kagi_config *cfg = NULL;
	struct secret *keys[CONFIG_VOLUMES_MAX] = { 0 };
	struct secret *k = NULL;
	struct kagi_err e = { 0 };
	char msg[MSG_FULL], eb[sizeof(e.msg) + 128];
	bool check_only;
	size_t opened;
	int r, ret = EXIT_FAILED;

	secret_harden_process();
	args = calloc(1, sizeof(*args));
	cfg = calloc(1, sizeof(*cfg));
	if (!args || !cfg) {
		log_error("out of memory");
		ret = EXIT_FAILED;
		goto out;
	}
	r = parse_unlock_args(argc, argv, args);
	if (r != 0) {
		if (r < 0)
			fputs("Try 'kagi unlock --help'.\n", stderr);
		ret = r > 0 ? 0 : EXIT_USAGE;
		goto out;
	}
	if (access("/etc/initrd-release", F_OK) == 0)
		log_set_kmsg(1); /* in the initramfs: the console may be all there is */
	r = config_load(args->cmdline_path, args->config_path, cfg, &e);
	if (r < 0) {
		log_error("configuration: %s", e.msg);
		say_failure(NULL, "the configuration is not usable");
		ret = EXIT_USAGE;
		goto out;
	}
	if (cfg->debug)
		log_set_level(LOG_LVL_DEBUG);
	for (size_t i = 0; i < args->ndevices; i++) {
		bool known = false;

		for (size_t j = 0; j < cfg->nvolumes; j++)
			known |= streq(cfg->volumes[j].uuid, args->devices[i].uuid);
		if (!known) {
			log_error("--device %s: not a configured volume", args->devices[i].uuid);
			ret = EXIT_USAGE;
			goto out;
		}
	}
	st.cfg = cfg;
	st.args = args;
	luks_init_logging();
	if (http_global_init(&e) < 0) {
		say_failure(cfg, e.msg);
		goto out;
	}
	check_only = args->check_only;
	if (!check_only && !luks_dm_available()) {
		log_warn("device-mapper is not available (/dev/mapper/control): only checking "
			 "the keys");
		check_only = true;
	}

	r = setup(&st, msg, sizeof(msg));
	if (r < 0) {
		say_failure(cfg, msg);
		goto out_http;
	}
	r = attempts(&st, msg, sizeof(msg));
	if (r < 0) {
		say_failure(cfg, msg);
		goto out_http;
	}

	/*
	 * granted: K, the volume keys, then lock this boot out before using them. Once K is in
	 * memory the boot-phase PCR is extended whatever happens next; if K cannot be recovered
	 * this boot got nothing and the PCR stays as it is.
	 */
	r = recover_k(&st, &k, msg, sizeof(msg));
	if (r < 0) {
		say_failure(cfg, msg);
		goto out_http;
	}
	r = open_keys(&st, k, keys, msg, sizeof(msg));
	secret_free(k);
	k = NULL;
	if (st.path == PATH_VTPM) {
		int x = evidence_pcr_extend(&st.ev, BINDING_BOOT_PHASE_PCR,
					    (const uint8_t *)binding_boot_phase_event,
					    BINDING_BOOT_PHASE_EVENT_LEN, &e);

		if (x < 0) {
			log_error("extending the boot-phase PCR %d failed: %s",
				  BINDING_BOOT_PHASE_PCR, err_text(&e, x, eb, sizeof(eb)));
			if (r >= 0) {
				snprintf(msg, sizeof(msg),
					 "this boot could not be locked out of attesting again "
					 "(PCR %d): not using the keys",
					 BINDING_BOOT_PHASE_PCR);
				r = x;
			}
		} else {
			log_info("boot-phase PCR %d extended: this boot cannot attest again",
				 BINDING_BOOT_PHASE_PCR);
		}
	}
	if (r < 0) {
		say_failure(cfg, msg);
		goto out_http;
	}
	opened = open_volumes(&st, keys, check_only);
	if (opened == cfg->nvolumes) {
		log_info("decision: unlocked: %s %zu of %zu volume%s%s",
			 check_only ? "the released keys open" : "opened", opened, cfg->nvolumes,
			 cfg->nvolumes == 1 ? "" : "s",
			 check_only ? " (check only, no mapping created)" : "");
		ret = 0;
	} else {
		snprintf(msg, sizeof(msg), "%zu of %zu volumes %s", opened, cfg->nvolumes,
			 check_only ? "accept their key" : "opened");
		say_failure(cfg, msg);
	}
out_http:
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		secret_free(keys[i]);
	secret_free(k);
	drop_challenge(&st);
	if (st.resp) {
		proto_attest_response_done(st.resp);
		free(st.resp);
	}
	print_reasons(&st);
	EVP_PKEY_free(st.ecdh);
	evidence_done(&st.ev);
	http_identity_done(&st.id);
	http_global_cleanup();
out:
	free(args);
	free(cfg);
	fflush(stdout);
	return ret;
}
