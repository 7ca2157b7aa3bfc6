// SPDX-License-Identifier: Apache-2.0
/*
 * test-kds.c: the AMD KDS client. URL and cache-path building from real reports (Milan v2,
 * Milan v3, Genoa v5; Turin from the hwID and TCB of a real Turin VCEK), refusals that need no
 * network, and the network path against a tiny scripted HTTP server forked on 127.0.0.1.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "kds.h"
#include "snp-report.h"
#include "snp-verify.h"

#define MILAN_V2   "snp/go-sev-guest/milan_v2_attestation.bin"
#define MILAN_VCEK "snp/go-sev-guest/milan_vcek.der"
#define MILAN_V3   "snp/oak/milan_oc_release_report.bin"
#define GENOA_V5   "snp/oak/genoa_oc_report.bin"
#define OTHER_VCEK "snp/oak/milan_oc_release_vcek.der"
#define TURIN_VCEK "snp/virtee-sev/vcek_turin.der"
#define VLEK_REP   "snp/trustee/test-vlek-report.bin"
#define MILAN_PEM  "snp/go-sev-guest/ask_ark_milan.pem"
#define GENOA_PEM  "snp/go-sev-guest/ask_ark_genoa.pem"
#define MVLEK_PEM  "snp/go-sev-guest/ask_ark_milan_vlek.pem"

#define MILAN_CHIP                                                                                 \
	"3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a193677" \
	"6b"                                                                                       \
	"564ea464cdce40c05f63c9b610c5068b006b5d"
#define MILAN_V3_CHIP                                                                              \
	"a3fdc2c64dc299ab90d4238973864b586378e2e5ef9c9d4dc608f3bdaa89a969a03f1b5752cad55a0c1547ad" \
	"e8"                                                                                       \
	"00dbd7404e9cb3f9738da3b280d1df69cf82e4"
#define GENOA_CHIP                                                                                 \
	"d2421d976f95ce0ba849b7cc5c789122f1e59c77a037272c137ae4d188bb102adbc7c53d0302bff82a432c94" \
	"a3"                                                                                       \
	"05dec7a7a270ceb19a10f04a83316c6486968d"
#define TURIN_HWID "1e550a8ee5cf9f4d" /* hwID extension of virtee-sev/vcek_turin.der */

/* ---- helpers ------------------------------------------------------------------------------ */

static struct snp_report load_report(const char *rel)
{
	struct snp_report rep;
	struct kagi_err e = { 0 };
	size_t len;
	uint8_t *raw = testdata_read(rel, &len);

	if (snp_report_decode(raw, len, &rep, &e) < 0)
		fail_msg("%s: %s", rel, e.msg);
	free(raw);
	return rep;
}

/* A Turin report (version 3, family 0x1A model 0x02) for the chip of the real Turin VCEK. */
static struct snp_report turin_report(uint64_t reported_tcb)
{
	struct snp_report rep = load_report(MILAN_V2);

	rep.version = 3;
	rep.cpuid_fam_id = 0x1A;
	rep.cpuid_mod_id = 0x02;
	memset(rep.chip_id, 0, sizeof(rep.chip_id));
	assert_int_equal(hex_decode(TURIN_HWID, rep.chip_id, 8), 0);
	rep.reported_tcb = reported_tcb;
	return rep;
}

static struct kds *new_kds(const char *url, const char *cache, const struct kds_opts *o)
{
	struct kagi_err e = { 0 };
	struct kds *k = NULL;

	if (kds_new(url, cache, o, &k, &e) < 0)
		fail_msg("kds_new(%s): %s: %s", url, e.what, e.msg);
	return k;
}

static void expect_url(const struct snp_report *rep, enum snp_product p, const char *want)
{
	struct kds *k = new_kds("https://kdsintf.amd.com", NULL, NULL);
	struct kagi_err e = { 0 };
	char *url = NULL;

	if (kds_vcek_url(k, rep, p, &url, &e) < 0)
		fail_msg("kds_vcek_url: %s: %s", e.what, e.msg);
	assert_string_equal(url, want);
	free(url);
	kds_free(k);
}

static void expect_url_fails(const struct snp_report *rep, enum snp_product p, const char *what)
{
	struct kds *k = new_kds(NULL, NULL, NULL);
	struct kagi_err e = { 0 };
	char *url = NULL;

	assert_int_equal(kds_vcek_url(k, rep, p, &url, &e), -EINVAL);
	assert_null(url);
	assert_string_equal(e.what, what);
	kds_free(k);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

struct fixture {
	char dir[64];   /* temporary directory */
	char cache[96]; /* dir/cache (not created: kds_new creates it) */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/kagi-test-kds.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static size_t dir_entries(const char *dir)
{
	char cmd[256];
	size_t n = 0;
	FILE *p;
	int c;

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	pclose(p);
	return n;
}

/* ---- a scripted HTTP server --------------------------------------------------------------- */

struct resp {
	int status;
	const char *headers; /* extra header lines, each ending in \r\n */
	const uint8_t *body;
	size_t len;
};

struct srv {
	pid_t pid;
	int port;
	int count_fd; /* one byte per request served */
	char url[64];
};

static void srv_child(int ls, int count_fd, const struct resp *rs, size_t n)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* If a failed assertion leaves this child behind, it must not hold the test's output
	 * open (the harness would wait for it) nor live on. */
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	alarm(30);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < n; i++) {
		char req[16384], hdr[512];
		size_t got = 0;
		int c = accept(ls, NULL, NULL);
		int hl;

		if (c < 0)
			_exit(1);
		while (got < sizeof(req) - 1) {
			ssize_t m = read(c, req + got, sizeof(req) - 1 - got);

			if (m <= 0)
				break;
			got += (size_t)m;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		if (write(count_fd, "x", 1) != 1)
			_exit(1);
		hl = snprintf(hdr, sizeof(hdr),
			      "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\nConnection: close\r\n"
			      "%s\r\n",
			      rs[i].status, rs[i].len, rs[i].headers ? rs[i].headers : "");
		if (write_all(c, hdr, (size_t)hl) == 0 && rs[i].len)
			(void)write_all(c, rs[i].body, rs[i].len);
		shutdown(c, SHUT_WR);
		/* drain until the client closes, so it sees the whole answer */
		while (read(c, req, sizeof(req)) > 0)
			;
		close(c);
	}
	_exit(0);
}

/* Answer the scripted responses, one per connection, in order; then stop listening. */
static void srv_start(struct srv *s, const struct resp *rs, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p[2];

	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 8), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	s->port = ntohs(a.sin_port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		close(p[0]);
		srv_child(ls, p[1], rs, n);
	}
	close(ls);
	close(p[1]);
	s->count_fd = p[0];
}

/* Stop the server (our own child, by pid) and return how many requests it answered. */
static unsigned srv_stop(struct srv *s)
{
	char buf[64];
	unsigned n = 0;
	ssize_t m;

	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	while ((m = read(s->count_fd, buf, sizeof(buf))) > 0)
		n += (unsigned)m;
	close(s->count_fd);
	return n;
}

/* ---- URLs and cache paths ------------------------------------------------------------------- */

static void test_kds_vcek_url_milan(void **state)
{
	struct snp_report rep = load_report(MILAN_V2);

	(void)state;
	expect_url(&rep, SNP_PRODUCT_MILAN,
		   "https://kdsintf.amd.com/vcek/v1/Milan/" MILAN_CHIP
		   "?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68");
}

static void test_kds_vcek_url_milan_v3(void **state)
{
	struct snp_report rep = load_report(MILAN_V3);

	(void)state;
	/* product from the report's CPUID fields */
	expect_url(&rep, SNP_PRODUCT_UNKNOWN,
		   "https://kdsintf.amd.com/vcek/v1/Milan/" MILAN_V3_CHIP
		   "?blSPL=4&teeSPL=0&snpSPL=24&ucodeSPL=219");
}

static void test_kds_vcek_url_genoa(void **state)
{
	struct snp_report rep = load_report(GENOA_V5);

	(void)state;
	expect_url(&rep, SNP_PRODUCT_UNKNOWN,
		   "https://kdsintf.amd.com/vcek/v1/Genoa/" GENOA_CHIP
		   "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84");
	expect_url(&rep, SNP_PRODUCT_GENOA,
		   "https://kdsintf.amd.com/vcek/v1/Genoa/" GENOA_CHIP
		   "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84");
}

static void test_kds_vcek_url_turin(void **state)
{
	/* the TCB of the real Turin VCEK: ucode 9, everything else 0 */
	struct snp_report rep = turin_report(0x0900000000000000ULL);

	(void)state;
	expect_url(&rep, SNP_PRODUCT_UNKNOWN,
		   "https://kdsintf.amd.com/vcek/v1/Turin/" TURIN_HWID
		   "?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9");
	/* distinct values prove the Turin byte layout: fmc b0, bl b1, tee b2, snp b3, ucode b7 */
	rep = turin_report(0x0900000004030201ULL);
	expect_url(&rep, SNP_PRODUCT_TURIN,
		   "https://kdsintf.amd.com/vcek/v1/Turin/" TURIN_HWID
		   "?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=9");
	/* Milan/Genoa layout of the same bytes: bl b0, tee b1, snp b6, ucode b7; SPLs >= 100 */
	rep = load_report(MILAN_V2);
	rep.reported_tcb = 0xff7b000000000201ULL;
	expect_url(&rep, SNP_PRODUCT_GENOA,
		   "https://kdsintf.amd.com/vcek/v1/Genoa/" MILAN_CHIP
		   "?blSPL=1&teeSPL=2&snpSPL=123&ucodeSPL=255");
}

static void test_kds_vcek_url_base(void **state)
{
	struct snp_report rep = load_report(MILAN_V2);
	struct kds *k = new_kds("http://127.0.0.1:8080/", NULL, NULL);
	char *url = NULL;

	(void)state;
	assert_int_equal(kds_vcek_url(k, &rep, SNP_PRODUCT_MILAN, &url, NULL), 0);
	assert_string_equal(url, "http://127.0.0.1:8080/vcek/v1/Milan/" MILAN_CHIP
				 "?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68");
	free(url);
	kds_free(k);
	k = new_kds(NULL, NULL, NULL);
	assert_int_equal(kds_cert_chain_url(k, SNP_PRODUCT_MILAN, &url, NULL), 0);
	assert_string_equal(url, KDS_DEFAULT_URL "/vcek/v1/Milan/cert_chain");
	free(url);
	assert_int_equal(kds_cert_chain_url(k, SNP_PRODUCT_TURIN, &url, NULL), 0);
	assert_string_equal(url, KDS_DEFAULT_URL "/vcek/v1/Turin/cert_chain");
	free(url);
	kds_free(k);
}

static void test_kds_vcek_url_bad_product(void **state)
{
	struct snp_report rep = load_report(MILAN_V2);
	struct kds *k = new_kds(NULL, NULL, NULL);
	struct kagi_err e = { 0 };
	char *url = NULL;

	(void)state;
	/* a version 2 report cannot tell Milan from Genoa */
	expect_url_fails(&rep, SNP_PRODUCT_UNKNOWN, "kds.product");
	assert_int_equal(kds_cert_chain_url(k, SNP_PRODUCT_UNKNOWN, &url, &e), -EINVAL);
	assert_string_equal(e.what, "kds.product");
	assert_int_equal(kds_cert_chain_url(k, (enum snp_product)42, &url, &e), -EINVAL);
	assert_null(url);
	kds_free(k);
}

static void test_kds_vcek_url_bad_chip_id(void **state)
{
	struct snp_report rep = load_report(MILAN_V2);
	struct kds *k = new_kds(NULL, NULL, NULL);
	struct kagi_err e = { 0 };
	X509 *c = NULL;

	(void)state;
	memset(rep.chip_id, 0, sizeof(rep.chip_id));
	expect_url_fails(&rep, SNP_PRODUCT_MILAN, "kds.chip_id");
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, &e), -EINVAL);
	assert_string_equal(e.what, "kds.chip_id");
	assert_int_equal(e.off, 0x1A0);
	assert_null(c);
	assert_int_equal(kds_get_stats(k)->requests, 0);
	/* Turin looks at the first 8 bytes only */
	rep = turin_report(0);
	memset(rep.chip_id, 0, 8);
	rep.chip_id[9] = 1;
	expect_url_fails(&rep, SNP_PRODUCT_TURIN, "kds.chip_id");
	kds_free(k);
}

static void test_kds_vcek_url_bad_signing_key(void **state)
{
	struct snp_report rep = load_report(VLEK_REP);

	(void)state;
	expect_url_fails(&rep, SNP_PRODUCT_MILAN, "kds.signing_key");
}

static void test_kds_cache_path(void **state)
{
	struct fixture *f = *state;
	struct snp_report rep = load_report(MILAN_V2);
	struct kds *k = new_kds(NULL, f->cache, NULL);
	char want[512], *path = NULL;
	struct stat st;

	assert_int_equal(stat(f->cache, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(kds_vcek_cache_path(k, &rep, SNP_PRODUCT_MILAN, &path, NULL), 0);
	snprintf(want, sizeof(want), "%s/vcek-Milan-" MILAN_CHIP "-bl2-tee0-snp5-ucode68.der",
		 f->cache);
	assert_string_equal(path, want);
	free(path);
	assert_int_equal(kds_cert_chain_cache_path(k, SNP_PRODUCT_GENOA, &path, NULL), 0);
	snprintf(want, sizeof(want), "%s/cert_chain-Genoa.pem", f->cache);
	assert_string_equal(path, want);
	free(path);
	rep = turin_report(0x0900000004030201ULL);
	assert_int_equal(kds_vcek_cache_path(k, &rep, SNP_PRODUCT_UNKNOWN, &path, NULL), 0);
	snprintf(want, sizeof(want), "%s/vcek-Turin-" TURIN_HWID "-fmc1-bl2-tee3-snp4-ucode9.der",
		 f->cache);
	assert_string_equal(path, want);
	free(path);
	kds_free(k);

	/* no cache configured */
	k = new_kds(NULL, NULL, NULL);
	path = NULL;
	assert_int_equal(kds_vcek_cache_path(k, &rep, SNP_PRODUCT_TURIN, &path, NULL), -ENODATA);
	assert_int_equal(kds_cert_chain_cache_path(k, SNP_PRODUCT_MILAN, &path, NULL), -ENODATA);
	assert_null(path);
	kds_free(k);
}

static void test_kds_new_bad_url(void **state)
{
	static const char *const bad[] = {
		"",
		"http://kdsintf.amd.com",
		"http://localhost:8080",
		"http://127.0.0.1.evil.example",
		"http://127.0.0.1@evil.example",
		"http://127.0.0.2",
		"http://127.0.0.1:99999",
		"http://127.0.0.1:",
		"http://127.0.0.1:80x",
		"http://[::1]x",
		"http://[::2]",
		"ftp://kdsintf.amd.com",
		"file:///etc/passwd",
		"HTTPS://kdsintf.amd.com",
		"https://",
		"https:///path",
		"https://kdsintf.amd.com/?x=1",
		"https://kdsintf.amd.com/#x",
		"https://kds intf.amd.com",
		"https://kdsintf.amd.com\n",
	};
	static const char *const good[] = {
		"https://kdsintf.amd.com",
		"https://kds.example:8443/mirror/",
		"http://127.0.0.1",
		"http://127.0.0.1:8080",
		"http://[::1]",
		"http://[::1]:65535/kds",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct kagi_err e = { 0 };
		struct kds *k = NULL;

		if (kds_new(bad[i], NULL, NULL, &k, &e) != -EINVAL)
			fail_msg("base URL '%s' was accepted", bad[i]);
		assert_null(k);
		assert_string_equal(e.what, "kds.url");
	}
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		kds_free(new_kds(good[i], NULL, NULL));
}

static void test_kds_new_bad_cache(void **state)
{
	struct fixture *f = *state;
	struct kagi_err e = { 0 };
	struct kds *k = NULL;
	char path[160];
	int fd;

	/* writable by others: anyone could make verification fail */
	snprintf(path, sizeof(path), "%s/open", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, 0777), 0);
	assert_int_equal(kds_new(NULL, path, NULL, &k, &e), -EPERM);
	assert_string_equal(e.what, "kds.cache");
	/* not a directory */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(kds_new(NULL, path, NULL, &k, &e) < 0);
	assert_string_equal(e.what, "kds.cache");
	assert_true(kds_new(NULL, "", NULL, &k, &e) < 0);
	assert_null(k);
	/* nested directories are created 0700 */
	snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
	k = new_kds(NULL, path, NULL);
	kds_free(k);
	snprintf(path, sizeof(path), "%s/a", f->dir);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0700);
	}
}

/* ---- the network path ------------------------------------------------------------------------ */

static void fetch_expect_fail(struct fixture *f, const struct resp *rs, size_t n,
			      const struct kds_opts *o, const char *what, int err,
			      unsigned requests)
{
	struct snp_report rep = load_report(MILAN_V2);
	struct kagi_err e = { 0 };
	struct srv s;
	struct kds *k;
	X509 *c = NULL;

	srv_start(&s, rs, n);
	k = new_kds(s.url, f->cache, o);
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, &e), err);
	assert_null(c);
	assert_string_equal(e.what, what);
	assert_int_equal(kds_get_stats(k)->requests, requests);
	assert_int_equal(kds_get_stats(k)->cache_writes, 0);
	kds_free(k);
	assert_int_equal(srv_stop(&s), requests);
	assert_int_equal(dir_entries(f->cache), 0); /* nothing cached, no temporary files */
}

static void test_kds_get_vcek(void **state)
{
	struct fixture *f = *state;
	struct snp_report rep = load_report(MILAN_V2);
	size_t vlen;
	uint8_t *v = testdata_read(MILAN_VCEK, &vlen);
	const struct resp rs[] = { { 200, NULL, v, vlen } };
	struct snp_cert_claims cl;
	char *path = NULL;
	uint8_t *cached;
	size_t clen;
	struct stat st;
	struct srv s;
	struct kds *k;
	X509 *c = NULL;

	srv_start(&s, rs, ARRAY_SIZE(rs));
	k = new_kds(s.url, f->cache, NULL);
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, NULL), 0);
	assert_int_equal(snp_cert_claims_get(c, &cl, NULL), 0);
	assert_string_equal(cl.product_name, "Milan-B0");
	X509_free(c);
	c = NULL;
	assert_int_equal(kds_get_stats(k)->requests, 1);
	assert_int_equal(kds_get_stats(k)->cache_writes, 1);
	assert_false(kds_get_stats(k)->last_from_cache);
	/* the cache file: 0600, the certificate's DER */
	assert_int_equal(kds_vcek_cache_path(k, &rep, SNP_PRODUCT_MILAN, &path, NULL), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(read_file(path, 1 << 20, &cached, &clen), 0);
	assert_int_equal(clen, vlen);
	assert_memory_equal(cached, v, vlen);
	free(cached);
	assert_int_equal(dir_entries(f->cache), 1);
	/* second time: from the cache, no request (the server answers only once anyway) */
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, NULL), 0);
	X509_free(c);
	c = NULL;
	assert_int_equal(kds_get_stats(k)->requests, 1);
	assert_int_equal(kds_get_stats(k)->cache_hits, 1);
	assert_true(kds_get_stats(k)->last_from_cache);
	kds_free(k);
	assert_int_equal(srv_stop(&s), 1);
	/* persistent: a new client with a dead server still gets it */
	k = new_kds(s.url, f->cache, NULL);
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, NULL), 0);
	assert_int_equal(kds_get_stats(k)->requests, 0);
	X509_free(c);
	kds_free(k);
	free(path);
	free(v);
}

static void test_kds_get_vcek_turin(void **state)
{
	struct fixture *f = *state;
	struct snp_report rep = turin_report(0x0900000000000000ULL);
	size_t vlen;
	uint8_t *v = testdata_read(TURIN_VCEK, &vlen);
	const struct resp rs[] = { { 200, NULL, v, vlen } };
	struct kagi_err e = { 0 };
	struct srv s;
	struct kds *k;
	X509 *c = NULL;

	srv_start(&s, rs, ARRAY_SIZE(rs));
	k = new_kds(s.url, f->cache, NULL);
	/* the certificate's 8-byte hwID matches the first 8 bytes of CHIP_ID */
	if (kds_get_vcek(k, &rep, SNP_PRODUCT_UNKNOWN, &c, &e) < 0)
		fail_msg("%s: %s", e.what, e.msg);
	X509_free(c);
	kds_free(k);
	assert_int_equal(srv_stop(&s), 1);
	assert_int_equal(dir_entries(f->cache), 1);
	free(v);
}

static void test_kds_get_vcek_poisoned_cache(void **state)
{
	struct fixture *f = *state;
	struct snp_report rep = load_report(MILAN_V2);
	size_t vlen, olen, clen;
	uint8_t *v = testdata_read(MILAN_VCEK, &vlen), *cached;
	uint8_t *other = testdata_read(OTHER_VCEK, &olen);
	const struct resp rs[] = { { 200, NULL, v, vlen }, { 200, NULL, v, vlen } };
	char *path = NULL;
	struct srv s;
	struct kds *k;
	X509 *c = NULL;
	int fd;

	srv_start(&s, rs, ARRAY_SIZE(rs));
	k = new_kds(s.url, f->cache, NULL);
	assert_int_equal(kds_vcek_cache_path(k, &rep, SNP_PRODUCT_MILAN, &path, NULL), 0);
	/* garbage in the cache: ignored, fetched again, replaced */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write_all(fd, "garbage", 7), 0);
	close(fd);
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, NULL), 0);
	X509_free(c);
	assert_int_equal(kds_get_stats(k)->requests, 1);
	/* a valid certificate of another chip in the cache: same */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write_all(fd, other, olen), 0);
	close(fd);
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, NULL), 0);
	X509_free(c);
	assert_int_equal(kds_get_stats(k)->requests, 2);
	assert_int_equal(kds_get_stats(k)->cache_hits, 0);
	assert_int_equal(read_file(path, 1 << 20, &cached, &clen), 0);
	assert_int_equal(clen, vlen);
	assert_memory_equal(cached, v, vlen);
	free(cached);
	kds_free(k);
	assert_int_equal(srv_stop(&s), 2);
	free(path);
	free(other);
	free(v);
}

static void test_kds_get_vcek_bad_size(void **state)
{
	size_t vlen;
	uint8_t *v = testdata_read(MILAN_VCEK, &vlen);
	uint8_t *big = calloc(1, KDS_VCEK_MAX_SIZE + 1);
	const struct resp rs[] = { { 200, NULL, big, KDS_VCEK_MAX_SIZE + 1 } };

	/* a real certificate followed by padding, one byte over the cap */
	memcpy(big, v, vlen);
	fetch_expect_fail(*state, rs, ARRAY_SIZE(rs), NULL, "kds.size", -EFBIG, 1);
	free(big);
	free(v);
}

static void test_kds_get_vcek_bad_response(void **state)
{
	static const uint8_t garbage[] = "this is not a certificate";
	size_t vlen;
	uint8_t *v = testdata_read(MILAN_VCEK, &vlen);
	const struct resp rs[] = { { 200, NULL, garbage, sizeof(garbage) } };
	const struct resp trunc[] = { { 200, NULL, v, vlen - 1 } };
	const struct resp empty[] = { { 200, NULL, NULL, 0 } };

	fetch_expect_fail(*state, rs, ARRAY_SIZE(rs), NULL, "kds.response", -EBADMSG, 1);
	fetch_expect_fail(*state, trunc, ARRAY_SIZE(trunc), NULL, "kds.response", -EBADMSG, 1);
	fetch_expect_fail(*state, empty, ARRAY_SIZE(empty), NULL, "kds.response", -EBADMSG, 1);
	free(v);
}

static void test_kds_get_vcek_bad_mismatch(void **state)
{
	size_t olen, glen;
	uint8_t *other = testdata_read(OTHER_VCEK, &olen);
	uint8_t *genoa = testdata_read("snp/oak/genoa_oc_vcek.der", &glen);
	const struct resp rs[] = { { 200, NULL, other, olen } };
	const struct resp rg[] = { { 200, NULL, genoa, glen } };

	/* another Milan chip, then a Genoa certificate */
	fetch_expect_fail(*state, rs, ARRAY_SIZE(rs), NULL, "kds.mismatch", -EBADMSG, 1);
	fetch_expect_fail(*state, rg, ARRAY_SIZE(rg), NULL, "kds.mismatch", -EBADMSG, 1);
	free(genoa);
	free(other);
}

static void test_kds_get_vcek_bad_not_found(void **state)
{
	struct fixture *f = *state;
	struct snp_report rep = load_report(MILAN_V2);
	const struct resp rs[] = { { 404, NULL, (const uint8_t *)"Not Found", 9 } };
	struct kagi_err e = { 0 };
	char want[512];
	struct srv s;
	struct kds *k;
	X509 *c = NULL;

	fetch_expect_fail(f, rs, ARRAY_SIZE(rs), NULL, "kds.not_found", -ENOENT, 1);
	/* the message names the URL */
	srv_start(&s, rs, ARRAY_SIZE(rs));
	k = new_kds(s.url, NULL, NULL);
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, &e), -ENOENT);
	snprintf(want, sizeof(want), "%s/vcek/v1/Milan/" MILAN_CHIP, s.url);
	assert_non_null(strstr(e.msg, want));
	kds_free(k);
	srv_stop(&s);
}

static void test_kds_get_vcek_bad_http(void **state)
{
	const struct resp rs[] = { { 500, NULL, (const uint8_t *)"oops", 4 } };
	const struct resp redirect[] = { { 302, "Location: http://127.0.0.1:1/x\r\n", NULL, 0 } };

	fetch_expect_fail(*state, rs, ARRAY_SIZE(rs), NULL, "kds.http", -EPROTO, 1);
	/* redirects are not followed */
	fetch_expect_fail(*state, redirect, ARRAY_SIZE(redirect), NULL, "kds.http", -EPROTO, 1);
}

static void test_kds_get_vcek_bad_network(void **state)
{
	/* the server answers nothing: the connection is refused once it is gone */
	struct fixture *f = *state;
	struct snp_report rep = load_report(MILAN_V2);
	struct kagi_err e = { 0 };
	struct srv s;
	struct kds *k;
	X509 *c = NULL;

	srv_start(&s, NULL, 0);
	assert_int_equal(srv_stop(&s), 0);
	k = new_kds(s.url, f->cache, NULL);
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, &e), -EIO);
	assert_string_equal(e.what, "kds.network");
	assert_non_null(strstr(e.msg, s.url));
	assert_null(c);
	kds_free(k);
	assert_int_equal(dir_entries(f->cache), 0);
}

static void test_kds_get_vcek_rate_limited(void **state)
{
	struct fixture *f = *state;
	struct snp_report rep = load_report(MILAN_V2);
	size_t vlen;
	uint8_t *v = testdata_read(MILAN_VCEK, &vlen);
	const struct resp rs[] = { { 429, "Retry-After: 1\r\n", NULL, 0 }, { 200, NULL, v, vlen } };
	struct timespec t0, t1;
	struct srv s;
	struct kds *k;
	X509 *c = NULL;

	srv_start(&s, rs, ARRAY_SIZE(rs));
	k = new_kds(s.url, f->cache, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(kds_get_vcek(k, &rep, SNP_PRODUCT_MILAN, &c, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec * 1000 + t1.tv_nsec / 1000000 - t0.tv_sec * 1000 -
			    t0.tv_nsec / 1000000 >=
		    1000);
	assert_int_equal(kds_get_stats(k)->requests, 2);
	assert_int_equal(kds_get_stats(k)->rate_limited, 1);
	X509_free(c);
	kds_free(k);
	assert_int_equal(srv_stop(&s), 2);
	free(v);
}

static void test_kds_get_vcek_bad_rate_limited(void **state)
{
	const struct resp once[] = { { 429, "Retry-After: 1\r\n", NULL, 0 } };
	const struct resp far[] = { { 429, "Retry-After: 3600\r\n", NULL, 0 } };
	const struct resp twice[] = { { 429, "Retry-After: 1\r\n", NULL, 0 },
				      { 429, "Retry-After: 1\r\n", NULL, 0 } };
	struct kds_opts none = KDS_OPTS_INIT, one = KDS_OPTS_INIT;

	none.max_retries = 0;
	one.max_retries = 1;
	/* no retries allowed: one request */
	fetch_expect_fail(*state, once, ARRAY_SIZE(once), &none, "kds.rate_limited", -EAGAIN, 1);
	/* Retry-After beyond the waiting budget: give up at once */
	fetch_expect_fail(*state, far, ARRAY_SIZE(far), NULL, "kds.rate_limited", -EAGAIN, 1);
	/* still limited after the allowed retry */
	fetch_expect_fail(*state, twice, ARRAY_SIZE(twice), &one, "kds.rate_limited", -EAGAIN, 2);
}

/* ---- cert_chain ------------------------------------------------------------------------------ */

static void test_kds_get_cert_chain(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *pem = testdata_read(MILAN_PEM, &len);
	const struct resp rs[] = { { 200, NULL, pem, len } };
	STACK_OF(X509) *sk = NULL;
	char cn[64];
	struct srv s;
	struct kds *k;

	srv_start(&s, rs, ARRAY_SIZE(rs));
	k = new_kds(s.url, f->cache, NULL);
	assert_int_equal(kds_get_cert_chain(k, SNP_PRODUCT_MILAN, &sk, NULL), 0);
	assert_int_equal(sk_X509_num(sk), 2);
	X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(sk, 0)), NID_commonName, cn,
				  sizeof(cn));
	assert_string_equal(cn, "SEV-Milan");
	X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(sk, 1)), NID_commonName, cn,
				  sizeof(cn));
	assert_string_equal(cn, "ARK-Milan");
	sk_X509_pop_free(sk, X509_free);
	sk = NULL;
	assert_int_equal(kds_get_cert_chain(k, SNP_PRODUCT_MILAN, &sk, NULL), 0);
	assert_int_equal(sk_X509_num(sk), 2);
	sk_X509_pop_free(sk, X509_free);
	assert_int_equal(kds_get_stats(k)->requests, 1);
	assert_int_equal(kds_get_stats(k)->cache_hits, 1);
	kds_free(k);
	assert_int_equal(srv_stop(&s), 1);
	free(pem);
}

static void chain_expect_fail(struct fixture *f, const uint8_t *body, size_t len, const char *what,
			      int err)
{
	const struct resp rs[] = { { 200, NULL, body, len } };
	struct kagi_err e = { 0 };
	STACK_OF(X509) *sk = NULL;
	struct srv s;
	struct kds *k;

	srv_start(&s, rs, ARRAY_SIZE(rs));
	k = new_kds(s.url, f->cache, NULL);
	assert_int_equal(kds_get_cert_chain(k, SNP_PRODUCT_MILAN, &sk, &e), err);
	assert_null(sk);
	assert_string_equal(e.what, what);
	kds_free(k);
	assert_int_equal(srv_stop(&s), 1);
	assert_int_equal(dir_entries(f->cache), 0);
}

static void test_kds_get_cert_chain_bad_response(void **state)
{
	struct fixture *f = *state;
	size_t len, glen, vlen;
	uint8_t *pem = testdata_read(MILAN_PEM, &len);
	uint8_t *genoa = testdata_read(GENOA_PEM, &glen);
	uint8_t *vlek = testdata_read(MVLEK_PEM, &vlen);
	const char *mid = strstr((const char *)pem, "-----END CERTIFICATE-----");
	size_t first, n;
	uint8_t *buf = malloc(2 * len + 64);

	assert_non_null(mid);
	first = (size_t)(mid - (const char *)pem) + strlen("-----END CERTIFICATE-----\n");
	/* only the ASK */
	chain_expect_fail(f, pem, first, "kds.response", -EBADMSG);
	/* ARK first, then ASK */
	memcpy(buf, pem + first, len - first);
	memcpy(buf + len - first, pem, first);
	chain_expect_fail(f, buf, len, "kds.mismatch", -EBADMSG);
	/* three certificates */
	memcpy(buf, pem, len);
	memcpy(buf + len, pem, first);
	chain_expect_fail(f, buf, len + first, "kds.response", -EBADMSG);
	/* text after the chain */
	memcpy(buf, pem, len);
	n = len + (size_t)sprintf((char *)buf + len, "trailing text\n");
	chain_expect_fail(f, buf, n, "kds.response", -EBADMSG);
	/* a truncated certificate */
	chain_expect_fail(f, pem, len - 40, "kds.response", -EBADMSG);
	/* the Genoa chain, and the Milan VLEK chain (ASVK), asked for the Milan VCEK chain */
	chain_expect_fail(f, genoa, glen, "kds.mismatch", -EBADMSG);
	chain_expect_fail(f, vlek, vlen, "kds.mismatch", -EBADMSG);
	free(buf);
	free(vlek);
	free(genoa);
	free(pem);
}

static void test_kds_get_cert_chain_bad_size(void **state)
{
	size_t len;
	uint8_t *pem = testdata_read(MILAN_PEM, &len);
	uint8_t *big = malloc(KDS_CHAIN_MAX_SIZE + 1);

	/* the real chain followed by whitespace, one byte over the cap */
	memset(big, '\n', KDS_CHAIN_MAX_SIZE + 1);
	memcpy(big, pem, len);
	chain_expect_fail(*state, big, KDS_CHAIN_MAX_SIZE + 1, "kds.size", -EFBIG);
	/* exactly at the cap it is accepted */
	{
		const struct resp rs[] = { { 200, NULL, big, KDS_CHAIN_MAX_SIZE } };
		STACK_OF(X509) *sk = NULL;
		struct srv s;
		struct kds *k;

		srv_start(&s, rs, 1);
		k = new_kds(s.url, NULL, NULL);
		assert_int_equal(kds_get_cert_chain(k, SNP_PRODUCT_MILAN, &sk, NULL), 0);
		sk_X509_pop_free(sk, X509_free);
		kds_free(k);
		srv_stop(&s);
	}
	free(big);
	free(pem);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kds_vcek_url_milan),
		cmocka_unit_test(test_kds_vcek_url_milan_v3),
		cmocka_unit_test(test_kds_vcek_url_genoa),
		cmocka_unit_test(test_kds_vcek_url_turin),
		cmocka_unit_test(test_kds_vcek_url_base),
		cmocka_unit_test(test_kds_vcek_url_bad_product),
		cmocka_unit_test(test_kds_vcek_url_bad_chip_id),
		cmocka_unit_test(test_kds_vcek_url_bad_signing_key),
		T(test_kds_cache_path),
		cmocka_unit_test(test_kds_new_bad_url),
		T(test_kds_new_bad_cache),
		T(test_kds_get_vcek),
		T(test_kds_get_vcek_turin),
		T(test_kds_get_vcek_poisoned_cache),
		T(test_kds_get_vcek_bad_size),
		T(test_kds_get_vcek_bad_response),
		T(test_kds_get_vcek_bad_mismatch),
		T(test_kds_get_vcek_bad_not_found),
		T(test_kds_get_vcek_bad_http),
		T(test_kds_get_vcek_bad_network),
		T(test_kds_get_vcek_rate_limited),
		T(test_kds_get_vcek_bad_rate_limited),
		T(test_kds_get_cert_chain),
		T(test_kds_get_cert_chain_bad_response),
		T(test_kds_get_cert_chain_bad_size),
	};

	return cmocka_run_group_tests_name("kds", tests, NULL, NULL);
}
