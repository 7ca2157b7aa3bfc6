// SPDX-License-Identifier: Apache-2.0
/*
 * kds.c: AMD KDS client (VCEK and cert_chain) with a persistent cache and rate-limit handling.
 * See kds.h for the URLs, the cache layout and why neither the network nor the cache is trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kagi-build.h"
#include "kds.h"
#include "log.h"
#include "snp-verify.h"
#include "util.h"

#define KDS_MAX_URL         512 /* base URL length cap */
#define KDS_CONNECT_TIMEOUT 10
#define KDS_CHAIN_MAX_CERTS 2 /* ASK, ARK */

struct kds {
	char *base;  /* without a trailing '/' */
	char *cache; /* NULL: no cache */
	char *ca_file;
	bool loopback_http; /* base is http://127.0.0.1 or http://[::1] (tests) */
	struct kds_opts o;
	struct kds_stats st;
};

/* ---- base URL --------------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "127.0.0.1", "127.0.0.1:PORT", "[::1]", "[::1]:PORT" and nothing else. */
static bool is_loopback_authority(const char *a, size_t n)
{
	static const char *const hosts[] = { "127.0.0.1", "[::1]" };

	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		size_t h = strlen(hosts[i]);
		unsigned long port;

		if (n < h || memcmp(a, hosts[i], h) != 0)
			continue;
		if (n == h)
			return true;
		if (a[h] != ':' || !all_digits(a + h + 1, n - h - 1) || n - h - 1 > 5)
			return false;
		port = strtoul(a + h + 1, NULL, 10);
		return port >= 1 && port <= 65535;
	}
	return false;
}

/*
 * Only https. Plain http only for a literal loopback address: the test suite runs a stand-in
 * KDS on 127.0.0.1; a production verifier must reach the real KDS over TLS.
 */
static int check_base_url(const char *url, bool *ret_loopback, struct kagi_err *reterr)
{
	const char *auth;
	size_t n = strlen(url), alen;
	bool http;

	if (n == 0 || n > KDS_MAX_URL)
		return kagi_err_set(reterr, -EINVAL, "kds.url", KAGI_ERR_NO_OFFSET,
				    "KDS URL is %zu characters, expected 1..%d", n, KDS_MAX_URL);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '@' || c == '\\')
			return kagi_err_set(reterr, -EINVAL, "kds.url", i,
					    "KDS URL '%s' contains a character not allowed in a "
					    "base URL (0x%02x: no spaces, query, fragment or user "
					    "info)",
					    url, c);
	}
	if (!strncmp(url, "https://", 8)) {
		auth = url + 8;
		http = false;
	} else if (!strncmp(url, "http://", 7)) {
		auth = url + 7;
		http = true;
	} else {
		return kagi_err_set(reterr, -EINVAL, "kds.url", KAGI_ERR_NO_OFFSET,
				    "KDS URL '%s' is not https:// (http:// is accepted only for "
				    "127.0.0.1 and [::1], for tests)",
				    url);
	}
	alen = strcspn(auth, "/");
	if (alen == 0)
		return kagi_err_set(reterr, -EINVAL, "kds.url", KAGI_ERR_NO_OFFSET,
				    "KDS URL '%s' has no host", url);
	if (http && !is_loopback_authority(auth, alen))
		return kagi_err_set(reterr, -EINVAL, "kds.url", KAGI_ERR_NO_OFFSET,
				    "KDS URL '%s': plain http:// is accepted only for 127.0.0.1 "
				    "and [::1] (a local test server); use https://",
				    url);
	*ret_loopback = http;
	return 0;
}

/* ---- cache directory ---------------------------------------------------------------------- */

/* mkdir -p with mode 0700 for every directory created. */
static int mkdir_p(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int cache_dir_open(const char *dir, struct kagi_err *reterr)
{
	struct stat st;
	int r;

	if (!*dir)
		return kagi_err_set(reterr, -EINVAL, "kds.cache", KAGI_ERR_NO_OFFSET,
				    "empty cache directory name");
	r = mkdir_p(dir);
	if (r < 0)
		return kagi_err_set(reterr, r, "kds.cache", KAGI_ERR_NO_OFFSET,
				    "cannot create cache directory '%s': %s", dir, strerror(-r));
	if (stat(dir, &st) < 0)
		return kagi_err_set(reterr, -errno, "kds.cache", KAGI_ERR_NO_OFFSET,
				    "cache directory '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return kagi_err_set(reterr, -ENOTDIR, "kds.cache", KAGI_ERR_NO_OFFSET,
				    "cache '%s' is not a directory", dir);
	/* Anyone who can write here could make every verification fail: refuse. */
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return kagi_err_set(reterr, -EPERM, "kds.cache", KAGI_ERR_NO_OFFSET,
				    "cache directory '%s' is writable by group or others (mode "
				    "%04o), expected 0700",
				    dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* The cached file, or -ENOENT. Symlinks are not followed; only regular files are read. */
static int cache_read(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADF;
	return read_fd(fd, max, ret, ret_len);
}

/* Atomically replace path with buf: a 0600 temporary file in the same directory, then rename. */
static int cache_write(const char *dir, const char *path, const uint8_t *buf, size_t len)
{
	_cleanup_free_ char *tmpl = NULL;
	int fd, r = 0;

	if (asprintf(&tmpl, "%s/.kds-tmp-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0)
		r = -errno;
	if (r == 0)
		r = write_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmpl, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmpl);
	return r;
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

struct body {
	CURL *h;
	uint8_t *buf;
	size_t len, max;
	bool overflow;
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	long code = 0;
	uint8_t *nb;

	if (nmemb && n / nmemb != size)
		return 0;
	/* Bodies of error answers are not needed: drop them instead of buffering. */
	if (curl_easy_getinfo(b->h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code != 200)
		return n;
	if (n > b->max - b->len) {
		b->overflow = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	nb = realloc(b->buf, b->len + n + 1);
	if (!nb)
		return 0;
	b->buf = nb;
	memcpy(b->buf + b->len, ptr, n);
	b->len += n;
	return n;
}

static void sleep_s(unsigned s)
{
	struct timespec ts = { .tv_sec = s, .tv_nsec = 0 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int curl_init_once(void)
{
	static bool done;

	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		done = true;
	}
	return 0;
}

static int http_get(struct kds *k, const char *url, size_t max, uint8_t **ret, size_t *ret_len,
		    struct kagi_err *reterr)
{
	char errbuf[CURL_ERROR_SIZE];
	struct body b = { .max = max };
	unsigned waited = 0;
	CURL *h;
	int r;

	r = curl_init_once();
	if (r < 0)
		return kagi_err_set(reterr, r, "kds.network", KAGI_ERR_NO_OFFSET,
				    "cannot initialise libcurl");
	h = curl_easy_init();
	if (!h)
		return kagi_err_set(reterr, -ENOMEM, "kds.network", KAGI_ERR_NO_OFFSET,
				    "cannot create a libcurl handle");
	b.h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, k->loopback_http ? "http" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)k->o.timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
			 (long)(k->o.timeout_s < KDS_CONNECT_TIMEOUT ? k->o.timeout_s
								     : KDS_CONNECT_TIMEOUT));
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kagi/" KAGI_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (k->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, k->ca_file);
	if (k->loopback_http)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* a local test server, never a proxy */

	for (unsigned attempt = 0;; attempt++) {
		curl_off_t after = 0;
		unsigned wait;
		long code = 0;
		CURLcode cr;

		free(b.buf);
		b.buf = NULL;
		b.len = 0;
		b.overflow = false;
		errbuf[0] = '\0';
		k->st.requests++;
		cr = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (b.overflow) {
			r = kagi_err_set(reterr, -EFBIG, "kds.size", KAGI_ERR_NO_OFFSET,
					 "answer from %s is larger than %zu bytes, refused", url,
					 max);
			break;
		}
		if (cr != CURLE_OK) {
			r = kagi_err_set(reterr, -EIO, "kds.network", KAGI_ERR_NO_OFFSET, "%s: %s",
					 url, errbuf[0] ? errbuf : curl_easy_strerror(cr));
			log_debug("kds: GET %s: curl error %d: %s", url, (int)cr,
				  errbuf[0] ? errbuf : curl_easy_strerror(cr));
			break;
		}
		log_debug("kds: GET %s: HTTP %ld, %zu bytes", url, code, b.len);
		if (code == 200) {
			*ret = b.buf;
			*ret_len = b.len;
			b.buf = NULL;
			r = 0;
			break;
		}
		if (code == 404) {
			r = kagi_err_set(reterr, -ENOENT, "kds.not_found", KAGI_ERR_NO_OFFSET,
					 "%s: HTTP 404, the KDS has no such certificate (wrong "
					 "product, chip or TCB?)",
					 url);
			break;
		}
		if (code != 429) {
			r = kagi_err_set(reterr, -EPROTO, "kds.http", KAGI_ERR_NO_OFFSET,
					 "%s: HTTP %ld, expected 200", url, code);
			break;
		}
		k->st.rate_limited++;
		if (attempt >= k->o.max_retries) {
			r = kagi_err_set(reterr, -EAGAIN, "kds.rate_limited", KAGI_ERR_NO_OFFSET,
					 "%s: HTTP 429 (rate limited) after %u retr%s and %u s of "
					 "waiting; try again later",
					 url, attempt, attempt == 1 ? "y" : "ies", waited);
			break;
		}
		/* Retry-After as seconds or HTTP date (curl parses both); else 1, 2, 4 ... s */
		if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &after) != CURLE_OK || after <= 0)
			after = attempt < 5 ? (curl_off_t)1 << attempt : 32;
		if (after > (curl_off_t)(k->o.max_wait_s - waited)) {
			r = kagi_err_set(
				reterr, -EAGAIN, "kds.rate_limited", KAGI_ERR_NO_OFFSET,
				"%s: HTTP 429 (rate limited), the server asks to wait "
				"%lld s but only %u s of the %u s waiting budget are left; "
				"try again later",
				url, (long long)after, k->o.max_wait_s - waited, k->o.max_wait_s);
			break;
		}
		wait = (unsigned)after;
		log_debug("kds: GET %s: rate limited, retrying in %u s", url, wait);
		sleep_s(wait);
		waited += wait;
	}
	free(b.buf);
	curl_easy_cleanup(h);
	return r;
}

/* ---- names --------------------------------------------------------------------------------- */

struct vcek_key {
	enum snp_product p;
	struct snp_tcb tcb;
	char hwid[129]; /* 128 hex digits, 16 on Turin */
};

static int vcek_key_get(const struct snp_report *rep, enum snp_product p, struct vcek_key *ret,
			struct kagi_err *reterr)
{
	struct vcek_key key = { 0 };
	unsigned sk = SNP_KEY_INFO_SIGNING_KEY(rep->key_info);
	size_t idlen;

	if (p == SNP_PRODUCT_UNKNOWN)
		p = snp_report_product(rep);
	if (p != SNP_PRODUCT_MILAN && p != SNP_PRODUCT_GENOA && p != SNP_PRODUCT_TURIN)
		return kagi_err_set(reterr, -EINVAL, "kds.product", KAGI_ERR_NO_OFFSET,
				    "the processor generation cannot be told from this report "
				    "(version %u, CPUID family 0x%02x model 0x%02x; version 2 "
				    "cannot tell Milan from Genoa): name the product",
				    rep->version, rep->cpuid_fam_id, rep->cpuid_mod_id);
	if (sk != SNP_SIGNING_KEY_VCEK)
		return kagi_err_set(reterr, -EINVAL, "kds.signing_key", 0x48,
				    "KEY_INFO.SIGNING_KEY is %u (%s), expected 0 (VCEK): only "
				    "VCEKs can be fetched from the KDS",
				    sk, sk == SNP_SIGNING_KEY_VLEK ? "VLEK" : "no VCEK");
	idlen = p == SNP_PRODUCT_TURIN ? 8 : 64;
	if (mem_is_zero(rep->chip_id, idlen))
		return kagi_err_set(reterr, -EINVAL, "kds.chip_id", 0x1A0,
				    "CHIP_ID is all zero (the host set MASK_CHIP_ID): the VCEK "
				    "of this chip cannot be looked up in the KDS; use the "
				    "certificates from the extended report instead");
	hex_encode(rep->chip_id, idlen, key.hwid);
	key.p = p;
	key.tcb = snp_tcb_decode(rep->reported_tcb, p);
	*ret = key;
	return 0;
}

static int vcek_url(const struct kds *k, const struct vcek_key *key, char **ret)
{
	const struct snp_tcb *t = &key->tcb;
	int n;

	if (key->p == SNP_PRODUCT_TURIN)
		n = asprintf(ret,
			     "%s/vcek/v1/%s/%s?fmcSPL=%u&blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
			     k->base, snp_product_name(key->p), key->hwid, t->fmc, t->bl, t->tee,
			     t->snp, t->ucode);
	else
		n = asprintf(ret, "%s/vcek/v1/%s/%s?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
			     k->base, snp_product_name(key->p), key->hwid, t->bl, t->tee, t->snp,
			     t->ucode);
	return n < 0 ? -ENOMEM : 0;
}

static int vcek_cache_path(const struct kds *k, const struct vcek_key *key, char **ret)
{
	const struct snp_tcb *t = &key->tcb;
	int n;

	if (key->p == SNP_PRODUCT_TURIN)
		n = asprintf(ret, "%s/vcek-%s-%s-fmc%u-bl%u-tee%u-snp%u-ucode%u.der", k->cache,
			     snp_product_name(key->p), key->hwid, t->fmc, t->bl, t->tee, t->snp,
			     t->ucode);
	else
		n = asprintf(ret, "%s/vcek-%s-%s-bl%u-tee%u-snp%u-ucode%u.der", k->cache,
			     snp_product_name(key->p), key->hwid, t->bl, t->tee, t->snp, t->ucode);
	return n < 0 ? -ENOMEM : 0;
}

static int check_product(enum snp_product p, struct kagi_err *reterr)
{
	if (p != SNP_PRODUCT_MILAN && p != SNP_PRODUCT_GENOA && p != SNP_PRODUCT_TURIN)
		return kagi_err_set(reterr, -EINVAL, "kds.product", KAGI_ERR_NO_OFFSET,
				    "unknown product %d, expected Milan, Genoa or Turin", (int)p);
	return 0;
}

int kds_vcek_url(const struct kds *k, const struct snp_report *rep, enum snp_product p, char **ret,
		 struct kagi_err *reterr)
{
	struct vcek_key key;
	int r = vcek_key_get(rep, p, &key, reterr);

	if (r < 0)
		return r;
	return vcek_url(k, &key, ret);
}

int kds_vcek_cache_path(const struct kds *k, const struct snp_report *rep, enum snp_product p,
			char **ret, struct kagi_err *reterr)
{
	struct vcek_key key;
	int r;

	if (!k->cache)
		return -ENODATA;
	r = vcek_key_get(rep, p, &key, reterr);
	if (r < 0)
		return r;
	return vcek_cache_path(k, &key, ret);
}

int kds_cert_chain_url(const struct kds *k, enum snp_product p, char **ret, struct kagi_err *reterr)
{
	int r = check_product(p, reterr);

	if (r < 0)
		return r;
	return asprintf(ret, "%s/vcek/v1/%s/cert_chain", k->base, snp_product_name(p)) < 0 ? -ENOMEM
											   : 0;
}

int kds_cert_chain_cache_path(const struct kds *k, enum snp_product p, char **ret,
			      struct kagi_err *reterr)
{
	int r;

	if (!k->cache)
		return -ENODATA;
	r = check_product(p, reterr);
	if (r < 0)
		return r;
	return asprintf(ret, "%s/cert_chain-%s.pem", k->cache, snp_product_name(p)) < 0 ? -ENOMEM
											: 0;
}

/* ---- answer checks --------------------------------------------------------------------------- */

/*
 * A VCEK answer (or cache file): one X.509 certificate whose product, hwID and TCB extensions
 * are the ones asked for. Not a trust decision (see kds.h): it keeps garbage and certificates
 * of other chips out of the cache.
 */
static int check_vcek(const uint8_t *buf, size_t len, const struct vcek_key *key, const char *src,
		      X509 **ret, struct kagi_err *reterr)
{
	struct snp_cert_claims cl;
	struct kagi_err e = { 0 };
	uint8_t id[64];
	X509 *c = NULL;
	const struct {
		const char *name;
		int idx;
		uint8_t val;
	} comps[] = { { "fmc", 0, key->tcb.fmc },
		      { "bl", 1, key->tcb.bl },
		      { "tee", 2, key->tcb.tee },
		      { "snp", 3, key->tcb.snp },
		      { "ucode", 8, key->tcb.ucode } };
	size_t idlen = strlen(key->hwid) / 2;
	int r;

	r = snp_cert_load(buf, len, &c, &e);
	if (r < 0)
		return kagi_err_set(reterr, -EBADMSG, "kds.response", KAGI_ERR_NO_OFFSET,
				    "%s: %zu bytes that are not an X.509 certificate (%s: %s)", src,
				    len, e.what ? e.what : "?", e.msg);
	r = snp_cert_claims_get(c, &cl, &e);
	if (r < 0) {
		X509_free(c);
		return kagi_err_set(reterr, -EBADMSG, "kds.response", KAGI_ERR_NO_OFFSET,
				    "%s: not a usable VCEK (%s: %s)", src, e.what, e.msg);
	}
	r = -EBADMSG;
	if (cl.product_name[0] && snp_product_from_name(cl.product_name) != key->p) {
		kagi_err_set(reterr, r, "kds.mismatch", KAGI_ERR_NO_OFFSET,
			     "%s: a VCEK for product '%s', expected %s", src, cl.product_name,
			     snp_product_name(key->p));
		goto fail;
	}
	/* 64 bytes = CHIP_ID; Turin asks by 8 bytes, its certificates carry 8 or 64 (zero-padded) */
	if (hex_decode(key->hwid, id, idlen) < 0 || cl.hwid_len < idlen ||
	    memcmp(cl.hwid, id, idlen) != 0 || !mem_is_zero(cl.hwid + idlen, cl.hwid_len - idlen)) {
		char got[129];

		kagi_err_set(reterr, r, "kds.mismatch", KAGI_ERR_NO_OFFSET,
			     "%s: certificate hwID is %s, expected %s", src,
			     cl.hwid_len ? hex_encode(cl.hwid, cl.hwid_len, got) : "(none)",
			     key->hwid);
		goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(comps); i++) {
		if (comps[i].idx == 0 && key->p != SNP_PRODUCT_TURIN)
			continue;
		if (!cl.has_tcb[comps[i].idx] || cl.tcb[comps[i].idx] != comps[i].val) {
			kagi_err_set(reterr, r, "kds.mismatch", KAGI_ERR_NO_OFFSET,
				     "%s: certificate %sSPL is %ld, expected %u", src,
				     comps[i].name,
				     cl.has_tcb[comps[i].idx] ? cl.tcb[comps[i].idx] : -1L,
				     comps[i].val);
			goto fail;
		}
	}
	*ret = c;
	return 0;
fail:
	X509_free(c);
	return r;
}

static const char *cert_cn(X509 *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, buf, (int)len) < 0)
		snprintf(buf, len, "(no CN)");
	ERR_clear_error();
	return buf;
}

/*
 * A cert_chain answer: exactly KDS_CHAIN_MAX_CERTS PEM certificates (ASK, then the self-issued
 * ARK) of the product asked for, nothing but whitespace around them.
 */
static int check_chain(const uint8_t *buf, size_t len, enum snp_product p, const char *src,
		       STACK_OF(X509) * *ret, struct kagi_err *reterr)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	STACK_OF(X509) *sk = sk_X509_new_null();
	const char *s = (const char *)buf, *stop = s + len;
	struct kagi_err e = { 0 };
	char cn[128];
	int r = -EBADMSG;

	if (!sk)
		return -ENOMEM;
	for (;;) {
		const char *blk_end;
		X509 *c;

		while (s < stop && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
			s++;
		if (s == stop)
			break;
		if ((size_t)(stop - s) < sizeof(begin) - 1 || memcmp(s, begin, sizeof(begin) - 1)) {
			kagi_err_set(reterr, r, "kds.response", (size_t)(s - (const char *)buf),
				     "%s: expected a PEM certificate at byte %zu", src,
				     (size_t)(s - (const char *)buf));
			goto fail;
		}
		blk_end = memmem(s, (size_t)(stop - s), end, sizeof(end) - 1);
		if (!blk_end) {
			kagi_err_set(reterr, r, "kds.response", (size_t)(s - (const char *)buf),
				     "%s: PEM certificate at byte %zu has no END line", src,
				     (size_t)(s - (const char *)buf));
			goto fail;
		}
		blk_end += sizeof(end) - 1;
		if (sk_X509_num(sk) >= KDS_CHAIN_MAX_CERTS) {
			kagi_err_set(reterr, r, "kds.response", (size_t)(s - (const char *)buf),
				     "%s: more than %d certificates, expected ASK and ARK", src,
				     KDS_CHAIN_MAX_CERTS);
			goto fail;
		}
		if (snp_cert_load((const uint8_t *)s, (size_t)(blk_end - s), &c, &e) < 0) {
			kagi_err_set(reterr, r, "kds.response", (size_t)(s - (const char *)buf),
				     "%s: certificate %d at byte %zu: %s", src, sk_X509_num(sk) + 1,
				     (size_t)(s - (const char *)buf), e.msg);
			goto fail;
		}
		if (!sk_X509_push(sk, c)) {
			X509_free(c);
			r = -ENOMEM;
			goto fail;
		}
		s = blk_end;
	}
	if (sk_X509_num(sk) != KDS_CHAIN_MAX_CERTS) {
		kagi_err_set(reterr, r, "kds.response", KAGI_ERR_NO_OFFSET,
			     "%s: %d certificate(s), expected %d (ASK, then ARK)", src,
			     sk_X509_num(sk), KDS_CHAIN_MAX_CERTS);
		goto fail;
	}
	/* AMD's names (spec 4.1): the ASK is "SEV-<Product>", the ARK "ARK-<Product>". */
	for (int i = 0; i < sk_X509_num(sk); i++) {
		char want[32];

		snprintf(want, sizeof(want), "%s-%s", i == 0 ? "SEV" : "ARK", snp_product_name(p));
		if (!streq(cert_cn(sk_X509_value(sk, i), cn, sizeof(cn)), want)) {
			kagi_err_set(reterr, r, "kds.mismatch", KAGI_ERR_NO_OFFSET,
				     "%s: certificate %d is '%s', expected '%s'", src, i + 1, cn,
				     want);
			goto fail;
		}
	}
	if (X509_check_issued(sk_X509_value(sk, 1), sk_X509_value(sk, 1)) != X509_V_OK ||
	    X509_check_issued(sk_X509_value(sk, 1), sk_X509_value(sk, 0)) != X509_V_OK) {
		ERR_clear_error();
		kagi_err_set(reterr, r, "kds.response", KAGI_ERR_NO_OFFSET,
			     "%s: expected the ASK first, then the self-issued ARK that issued it",
			     src);
		goto fail;
	}
	*ret = sk;
	return 0;
fail:
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return r;
}

/* ---- public --------------------------------------------------------------------------------- */

int kds_new(const char *base_url, const char *cache_dir, const struct kds_opts *opts,
	    struct kds **ret, struct kagi_err *reterr)
{
	static const struct kds_opts defaults = KDS_OPTS_INIT;
	struct kds *k;
	bool loopback = false;
	size_t n;
	int r;

	if (!base_url)
		base_url = KDS_DEFAULT_URL;
	r = check_base_url(base_url, &loopback, reterr);
	if (r < 0)
		return r;
	if (cache_dir) {
		r = cache_dir_open(cache_dir, reterr);
		if (r < 0)
			return r;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->o = opts ? *opts : defaults;
	if (k->o.timeout_s == 0)
		k->o.timeout_s = KDS_DEFAULT_TIMEOUT_S;
	k->loopback_http = loopback;
	k->base = strdup(base_url);
	k->cache = cache_dir ? strdup(cache_dir) : NULL;
	k->ca_file = k->o.ca_file ? strdup(k->o.ca_file) : NULL;
	k->o.ca_file = NULL;
	if (!k->base || (cache_dir && !k->cache) || (opts && opts->ca_file && !k->ca_file)) {
		kds_free(k);
		return -ENOMEM;
	}
	n = strlen(k->base);
	if (n > 0 && k->base[n - 1] == '/')
		k->base[n - 1] = '\0';
	*ret = k;
	return 0;
}

void kds_free(struct kds *k)
{
	if (!k)
		return;
	free(k->base);
	free(k->cache);
	free(k->ca_file);
	free(k);
}

const struct kds_stats *kds_get_stats(const struct kds *k)
{
	return &k->st;
}

int kds_get_vcek(struct kds *k, const struct snp_report *rep, enum snp_product p, X509 **ret,
		 struct kagi_err *reterr)
{
	_cleanup_free_ char *url = NULL, *path = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	unsigned char *der = NULL;
	struct vcek_key key;
	X509 *c = NULL;
	size_t len;
	int r, dlen;

	r = vcek_key_get(rep, p, &key, reterr);
	if (r < 0)
		return r;
	if (vcek_url(k, &key, &url) < 0 || (k->cache && vcek_cache_path(k, &key, &path) < 0))
		return -ENOMEM;

	if (path) {
		r = cache_read(path, KDS_VCEK_MAX_SIZE, &buf, &len);
		if (r == 0) {
			r = check_vcek(buf, len, &key, path, &c, NULL);
			if (r == 0) {
				k->st.cache_hits++;
				k->st.last_from_cache = true;
				*ret = c;
				return 0;
			}
			log_debug("kds: ignoring cached '%s' (not the expected VCEK), fetching "
				  "it again",
				  path);
		} else if (r != -ENOENT) {
			log_debug("kds: cannot read cached '%s': %s, fetching it again", path,
				  strerror(-r));
		}
		free(buf);
		buf = NULL;
	}

	r = http_get(k, url, KDS_VCEK_MAX_SIZE, &buf, &len, reterr);
	if (r < 0)
		return r;
	r = check_vcek(buf, len, &key, url, &c, reterr);
	if (r < 0)
		return r;
	k->st.last_from_cache = false;
	if (path) {
		/* Cache the canonical DER of the parsed certificate, never raw network bytes. */
		dlen = i2d_X509(c, &der);
		if (dlen <= 0) {
			ERR_clear_error();
			log_debug("kds: cannot encode the VCEK for the cache");
		} else if ((r = cache_write(k->cache, path, der, (size_t)dlen)) < 0) {
			log_debug("kds: cannot write cache file '%s': %s", path, strerror(-r));
		} else {
			k->st.cache_writes++;
		}
		OPENSSL_free(der);
	}
	*ret = c;
	return 0;
}

int kds_get_cert_chain(struct kds *k, enum snp_product p, STACK_OF(X509) * *ret,
		       struct kagi_err *reterr)
{
	_cleanup_free_ char *url = NULL, *path = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	STACK_OF(X509) *sk = NULL;
	size_t len;
	int r;

	r = kds_cert_chain_url(k, p, &url, reterr);
	if (r < 0)
		return r;
	if (k->cache) {
		r = kds_cert_chain_cache_path(k, p, &path, reterr);
		if (r < 0)
			return r;
		r = cache_read(path, KDS_CHAIN_MAX_SIZE, &buf, &len);
		if (r == 0 && check_chain(buf, len, p, path, &sk, NULL) == 0) {
			k->st.cache_hits++;
			k->st.last_from_cache = true;
			*ret = sk;
			return 0;
		}
		if (r != -ENOENT)
			log_debug("kds: ignoring cached '%s', fetching it again", path);
		free(buf);
		buf = NULL;
	}
	r = http_get(k, url, KDS_CHAIN_MAX_SIZE, &buf, &len, reterr);
	if (r < 0)
		return r;
	r = check_chain(buf, len, p, url, &sk, reterr);
	if (r < 0)
		return r;
	k->st.last_from_cache = false;
	if (path) {
		r = cache_write(k->cache, path, buf, len);
		if (r < 0)
			log_debug("kds: cannot write cache file '%s': %s", path, strerror(-r));
		else
			k->st.cache_writes++;
	}
	*ret = sk;
	return 0;
}
