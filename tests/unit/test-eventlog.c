// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for eventlog.c: a named negative test per check, built from small crafted logs;
 * replay results computed independently here with OpenSSL one-shot digests; the real logs in
 * $KAGI_TESTDATA.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "eventlog.h"
#include "util.h"

/* ---------------------------------------------------------------------------------------- */
/* A little log builder */

struct buf {
	uint8_t b[8192];
	size_t n;
};

static void put8(struct buf *b, uint8_t v)
{
	assert_true(b->n < sizeof(b->b));
	b->b[b->n++] = v;
}

static void put16(struct buf *b, uint16_t v)
{
	put8(b, (uint8_t)v);
	put8(b, (uint8_t)(v >> 8));
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, (uint16_t)v);
	put16(b, (uint16_t)(v >> 16));
}

static void put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

static void putmem(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void putfill(struct buf *b, uint8_t v, size_t n)
{
	while (n--)
		put8(b, v);
}

static void set32(struct buf *b, size_t off, uint32_t v)
{
	b->b[off] = (uint8_t)v;
	b->b[off + 1] = (uint8_t)(v >> 8);
	b->b[off + 2] = (uint8_t)(v >> 16);
	b->b[off + 3] = (uint8_t)(v >> 24);
}

/* Spec ID record: legacy TCG_PCR_EVENT header + TCG_EfiSpecIDEvent with n algorithms. */
static void specid(struct buf *b, const uint16_t *algs, const uint16_t *sizes, size_t n)
{
	put32(b, 0);            /* pcr */
	put32(b, EV_NO_ACTION); /* type */
	putfill(b, 0, 20);      /* digest */
	put32(b, (uint32_t)(16 + 4 + 4 + 4 + 4 * n + 1));
	putmem(b, "Spec ID Event03", 16);
	put32(b, 0); /* platform class */
	put8(b, 0);  /* minor */
	put8(b, 2);  /* major */
	put8(b, 0);  /* errata */
	put8(b, 2);  /* uintn */
	put32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put16(b, algs[i]);
		put16(b, sizes[i]);
	}
	put8(b, 0); /* vendor info size */
}

static const uint16_t two_algs[] = { EVENTLOG_ALG_SHA1, EVENTLOG_ALG_SHA256 };
static const uint16_t two_sizes[] = { 20, 32 };

/* Offsets in a log started with specid(two_algs) */
#define SPECID2_LEN     (32 + 16 + 12 + 8 + 1) /* 69 */
#define SPECID_SIG_OFF  32
#define SPECID_NALG_OFF 56

/* TCG_PCR_EVENT2 with one digest per algorithm, every digest byte = fill + bank index */
static void ev2(struct buf *b, uint32_t pcr, uint32_t type, const uint16_t *algs,
		const uint16_t *sizes, size_t n, uint8_t fill, const void *data, uint32_t len)
{
	put32(b, pcr);
	put32(b, type);
	put32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put16(b, algs[i]);
		putfill(b, (uint8_t)(fill + i), sizes[i]);
	}
	put32(b, len);
	if (len)
		putmem(b, data, len);
}

static void ev2_std(struct buf *b, uint32_t pcr, uint32_t type, uint8_t fill, const void *data,
		    uint32_t len)
{
	ev2(b, pcr, type, two_algs, two_sizes, 2, fill, data, len);
}

/* TCG_PCR_EVENT (SHA-1 format), digest bytes = fill */
static void ev1(struct buf *b, uint32_t pcr, uint32_t type, uint8_t fill, const void *data,
		uint32_t len)
{
	put32(b, pcr);
	put32(b, type);
	putfill(b, fill, 20);
	put32(b, len);
	if (len)
		putmem(b, data, len);
}

static const uint8_t startup_locality3[17] = "StartupLocality\0\3";

/* Decode expecting failure; check `what` and the offset. */
static void expect_fail(const struct buf *b, const char *what, size_t off)
{
	struct eventlog log;
	struct kagi_err err = { 0 };
	int r = eventlog_decode(b->b, b->n, &log, &err);

	if (r != -EBADMSG || !err.what || strcmp(err.what, what) != 0 || err.off != off)
		print_error("expected %s at 0x%zx, got r=%d %s at 0x%zx: %s\n", what, off, r,
			    err.what ? err.what : "(none)", err.off, err.msg);
	assert_int_equal(r, -EBADMSG);
	assert_string_equal(err.what, what);
	assert_int_equal(err.off, off);
	assert_true(strlen(err.msg) > 0);
}

static void decode_ok(const struct buf *b, struct eventlog *log)
{
	struct kagi_err err = { 0 };
	int r = eventlog_decode(b->b, b->n, log, &err);

	if (r < 0)
		print_error("decode failed: %s at 0x%zx: %s\n", err.what, err.off, err.msg);
	assert_int_equal(r, 0);
}

/* Independent extend: v = H(v || d) with the one-shot OpenSSL API */
static void extend(const char *mdname, uint8_t *v, size_t size, uint8_t fill)
{
	uint8_t in[2 * EVENTLOG_MAX_DIGEST_SIZE];
	unsigned outlen = 0;

	memcpy(in, v, size);
	memset(in + size, fill, size);
	assert_int_equal(EVP_Digest(in, 2 * size, v, &outlen, EVP_get_digestbyname(mdname), NULL),
			 1);
	assert_int_equal(outlen, size);
}

static struct buf *newbuf(void)
{
	struct buf *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	return b;
}

/* ---------------------------------------------------------------------------------------- */
/* Negative tests: whole-log structure */

static void test_eventlog_decode_bad_empty(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog log;
	struct kagi_err err;

	(void)state;
	expect_fail(&b, "eventlog.empty", 0);
	assert_int_equal(eventlog_decode(NULL, 0, &log, &err), -EBADMSG);
	assert_string_equal(err.msg, "empty event log");
}

static void test_eventlog_decode_bad_truncated_header(void **state)
{
	struct buf b = { .n = 0 };

	(void)state;
	putfill(&b, 1, 20);
	expect_fail(&b, "eventlog.event.truncated", 0);
}

static void test_eventlog_decode_bad_only_padding(void **state)
{
	struct buf b = { .n = 0 };

	(void)state;
	putfill(&b, 0, 64);
	expect_fail(&b, "eventlog.empty", 0);
}

static void test_eventlog_decode_bad_first_data_size(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	b->n -= 5; /* the Spec ID data is cut */
	expect_fail(b, "eventlog.event.data_size", 28);
	free(b);
}

static void test_eventlog_decode_bad_data_size_limit(void **state)
{
	struct buf b = { .n = 0 };

	(void)state;
	ev1(&b, 0, EV_S_CRTM_VERSION, 1, NULL, 0);
	set32(&b, 28, EVENTLOG_MAX_EVENT_DATA + 1);
	putfill(&b, 0, 16);
	expect_fail(&b, "eventlog.event.data_size", 28);
}

/* ---------------------------------------------------------------------------------------- */
/* Negative tests: Spec ID event */

static void test_eventlog_decode_bad_specid_signature(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	b->b[SPECID_SIG_OFF + 14] = '4'; /* "Spec ID Event04" */
	expect_fail(b, "eventlog.specid.signature", SPECID_SIG_OFF);
	free(b);
}

static void test_eventlog_decode_bad_specid_signature_nul(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	b->b[SPECID_SIG_OFF + 15] = 'X'; /* "Spec ID Event03X" */
	expect_fail(b, "eventlog.specid.signature", SPECID_SIG_OFF);
	free(b);
}

static void test_eventlog_decode_bad_specid_pcr(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	set32(b, 0, 7);
	expect_fail(b, "eventlog.specid.pcr", 0);
	free(b);
}

static void test_eventlog_decode_bad_specid_type(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	set32(b, 4, EV_SEPARATOR);
	expect_fail(b, "eventlog.specid.type", 4);
	free(b);
}

static void test_eventlog_decode_bad_specid_digest(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	b->b[8 + 19] = 1;
	expect_fail(b, "eventlog.specid.digest", 8);
	free(b);
}

static void test_eventlog_decode_bad_specid_version(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	b->b[32 + 21] = 1; /* specVersionMajor */
	expect_fail(b, "eventlog.specid.version", 32 + 21);
	free(b);
}

static void test_eventlog_decode_bad_specid_uintn_size(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	b->b[32 + 23] = 3;
	expect_fail(b, "eventlog.specid.uintn_size", 32 + 23);
	free(b);
}

static void test_eventlog_decode_bad_specid_zero_algorithms(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, NULL, NULL, 0);
	expect_fail(b, "eventlog.specid.algorithm_count", SPECID_NALG_OFF);
	free(b);
}

static void test_eventlog_decode_bad_specid_too_many_algorithms(void **state)
{
	uint16_t algs[EVENTLOG_MAX_BANKS + 1], sizes[EVENTLOG_MAX_BANKS + 1];
	struct buf *b = newbuf();

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++) {
		algs[i] = (uint16_t)(0x100 + i);
		sizes[i] = 32;
	}
	specid(b, algs, sizes, ARRAY_SIZE(algs));
	expect_fail(b, "eventlog.specid.algorithm_count", SPECID_NALG_OFF);
	free(b);
}

static void test_eventlog_decode_bad_specid_algorithms_truncated(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	set32(b, SPECID_NALG_OFF, 3); /* the third entry would overlap vendorInfoSize */
	expect_fail(b, "eventlog.specid.size", SPECID_NALG_OFF + 4 + 8);
	free(b);
}

static void test_eventlog_decode_bad_specid_digest_size(void **state)
{
	const uint16_t sizes[] = { 20, 20 }; /* sha256 declared with 20 bytes */
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, sizes, 2);
	expect_fail(b, "eventlog.specid.digest_size", SPECID_NALG_OFF + 4 + 4 + 2);
	free(b);
}

static void test_eventlog_decode_bad_specid_unknown_digest_size(void **state)
{
	const uint16_t algs[] = { EVENTLOG_ALG_SHA1, 0x00ff };
	const uint16_t big[] = { 20, EVENTLOG_MAX_DIGEST_SIZE + 1 }, zero[] = { 20, 0 };
	struct buf *b = newbuf();

	(void)state;
	specid(b, algs, big, 2);
	expect_fail(b, "eventlog.specid.digest_size", SPECID_NALG_OFF + 4 + 4 + 2);
	b->n = 0;
	specid(b, algs, zero, 2);
	expect_fail(b, "eventlog.specid.digest_size", SPECID_NALG_OFF + 4 + 4 + 2);
	free(b);
}

static void test_eventlog_decode_bad_specid_duplicate_algorithm(void **state)
{
	const uint16_t algs[] = { EVENTLOG_ALG_SHA256, EVENTLOG_ALG_SHA256 };
	const uint16_t sizes[] = { 32, 32 };
	struct buf *b = newbuf();

	(void)state;
	specid(b, algs, sizes, 2);
	expect_fail(b, "eventlog.specid.algorithm", SPECID_NALG_OFF + 4 + 4);
	free(b);
}

static void test_eventlog_decode_bad_specid_vendor_info(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	b->b[b->n - 1] = 5; /* vendorInfoSize 5, no bytes follow inside the event */
	expect_fail(b, "eventlog.specid.vendor_info", b->n - 1);
	free(b);
}

static void test_eventlog_decode_bad_specid_trailing(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	set32(b, 28, SPECID2_LEN - 32 + 2); /* two bytes more than the structure */
	putfill(b, 0xaa, 2);
	expect_fail(b, "eventlog.specid.size", SPECID2_LEN);
	free(b);
}

/* ---------------------------------------------------------------------------------------- */
/* Negative tests: TCG_PCR_EVENT2 and TCG_PCR_EVENT records */

static void test_eventlog_decode_bad_event2_digest_count(void **state)
{
	const uint16_t algs[] = { EVENTLOG_ALG_SHA1, EVENTLOG_ALG_SHA256, EVENTLOG_ALG_SHA1 };
	const uint16_t sizes[] = { 20, 32, 20 };
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2(b, 0, EV_SEPARATOR, algs, sizes, 3, 1, "\0\0\0\0", 4);
	expect_fail(b, "eventlog.event2.digest_count", SPECID2_LEN + 8);
	free(b);
}

static void test_eventlog_decode_bad_event2_undeclared_alg(void **state)
{
	const uint16_t algs[] = { EVENTLOG_ALG_SHA1, EVENTLOG_ALG_SHA384 };
	const uint16_t sizes[] = { 20, 48 };
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2(b, 0, EV_SEPARATOR, algs, sizes, 2, 1, "\0\0\0\0", 4);
	expect_fail(b, "eventlog.event2.digest_alg", SPECID2_LEN + 12 + 2 + 20);
	free(b);
}

static void test_eventlog_decode_bad_event2_duplicate_alg(void **state)
{
	const uint16_t algs[] = { EVENTLOG_ALG_SHA1, EVENTLOG_ALG_SHA1 };
	const uint16_t sizes[] = { 20, 20 };
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2(b, 0, EV_SEPARATOR, algs, sizes, 2, 1, "\0\0\0\0", 4);
	expect_fail(b, "eventlog.event2.digest_alg", SPECID2_LEN + 12 + 2 + 20);
	free(b);
}

static void test_eventlog_decode_bad_event2_truncated_digest(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_SEPARATOR, 1, "\0\0\0\0", 4);
	b->n = SPECID2_LEN + 12 + 2 + 20 + 2 + 10; /* cut inside the sha256 digest */
	expect_fail(b, "eventlog.event2.digest", SPECID2_LEN + 12 + 2 + 20 + 2);
	free(b);
}

static void test_eventlog_decode_bad_event2_truncated_alg(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_SEPARATOR, 1, "\0\0\0\0", 4);
	b->n = SPECID2_LEN + 12 + 1; /* cut inside the first algorithm id */
	expect_fail(b, "eventlog.event2.digest", SPECID2_LEN + 12);
	free(b);
}

static void test_eventlog_decode_bad_event2_truncated_header(void **state)
{
	struct buf *b = newbuf();

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	put32(b, 4);
	put32(b, EV_SEPARATOR);
	expect_fail(b, "eventlog.event.truncated", SPECID2_LEN);
	free(b);
}

static void test_eventlog_decode_bad_event2_truncated_size(void **state)
{
	struct buf *b = newbuf();
	size_t size_off = SPECID2_LEN + 12 + 22 + 34;

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_SEPARATOR, 1, "\0\0\0\0", 4);
	b->n = size_off + 2;
	expect_fail(b, "eventlog.event.truncated", size_off);
	free(b);
}

static void test_eventlog_decode_bad_event2_data_size(void **state)
{
	struct buf *b = newbuf();
	size_t size_off = SPECID2_LEN + 12 + 22 + 34;

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_SEPARATOR, 1, "\0\0\0\0", 4);
	b->n -= 1; /* event size past the end */
	expect_fail(b, "eventlog.event.data_size", size_off);
	set32(b, size_off, EVENTLOG_MAX_EVENT_DATA + 1);
	expect_fail(b, "eventlog.event.data_size", size_off);
	free(b);
}

static void test_eventlog_decode_bad_sha1_truncated_record(void **state)
{
	struct buf b = { .n = 0 };

	(void)state;
	ev1(&b, 0, EV_S_CRTM_VERSION, 1, "v\0", 2);
	ev1(&b, 4, EV_SEPARATOR, 2, "\0\0\0\0", 4);
	b.n = 34 + 31;
	expect_fail(&b, "eventlog.event.truncated", 34);
}

static void test_eventlog_decode_bad_sha1_data_size(void **state)
{
	struct buf b = { .n = 0 };

	(void)state;
	ev1(&b, 0, EV_S_CRTM_VERSION, 1, "v\0", 2);
	ev1(&b, 4, EV_SEPARATOR, 2, "\0\0\0\0", 4);
	b.n -= 2;
	expect_fail(&b, "eventlog.event.data_size", 34 + 28);
}

static void test_eventlog_decode_bad_event_count(void **state)
{
	size_t n = EVENTLOG_MAX_EVENTS + 1, len = SPECID2_LEN + 16 * n;
	struct buf *hdr = newbuf();
	uint8_t *big = malloc(len);
	struct eventlog log;
	struct kagi_err err;

	(void)state;
	assert_non_null(big);
	specid(hdr, two_algs, two_sizes, 2);
	memcpy(big, hdr->b, hdr->n);
	for (size_t i = 0; i < n; i++) { /* pcr 1, EV_ACTION, no digest, no data */
		uint8_t *p = big + SPECID2_LEN + 16 * i;

		memset(p, 0, 16);
		p[0] = 1;
		p[4] = EV_ACTION;
	}
	assert_int_equal(eventlog_decode(big, len, &log, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.event.count");
	assert_int_equal(err.off, SPECID2_LEN + 16 * (size_t)EVENTLOG_MAX_EVENTS);
	/* exactly the limit is fine */
	assert_int_equal(eventlog_decode(big, len - 16, &log, &err), 0);
	assert_int_equal(log.nevents, EVENTLOG_MAX_EVENTS);
	eventlog_done(&log);
	free(big);
	free(hdr);
}

static void test_eventlog_decode_bad_specid_legacy_unknown(void **state)
{
	struct buf b = { .n = 0 };

	(void)state;
	ev1(&b, 0, EV_NO_ACTION, 0, "Spec ID Event01", 16);
	expect_fail(&b, "eventlog.specid.signature", 32);
}

/* ---------------------------------------------------------------------------------------- */
/* Positive decoding and replay on crafted logs */

static void test_eventlog_decode_crypto_agile(void **state)
{
	struct buf *b = newbuf();
	struct eventlog log;
	struct eventlog_pcrs pcrs;
	struct kagi_err err;
	uint8_t exp1[24][20] = { { 0 } }, exp256[24][32] = { { 0 } };

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_S_CRTM_VERSION, 0x10, "v\0\0\0", 4);
	ev2_std(b, 0, EV_SEPARATOR, 0x20, "\0\0\0\0", 4);
	ev2_std(b, 4, EV_EFI_ACTION, 0x30, "Calling EFI Application from Boot Option", 40);
	ev2_std(b, 17, EV_ACTION, 0x40, "drtm", 4);
	ev2_std(b, 4, EV_NO_ACTION, 0x50, "ignored", 7); /* never extended */
	decode_ok(b, &log);

	assert_true(log.crypto_agile);
	assert_int_equal(log.nbanks, 2);
	assert_int_equal(log.banks[1].alg, EVENTLOG_ALG_SHA256);
	assert_int_equal(log.banks[1].size, 32);
	assert_int_equal(log.spec_major, 2);
	assert_int_equal(log.uintn_size, 2);
	assert_int_equal(log.nevents, 5);
	assert_int_equal(log.events[0].offset, SPECID2_LEN);
	assert_int_equal(log.events[1].offset, SPECID2_LEN + 12 + 22 + 34 + 4 + 4);
	assert_int_equal(log.events[2].pcr, 4);
	assert_int_equal(log.events[2].type, EV_EFI_ACTION);
	assert_int_equal(log.events[2].data_len, 40);
	assert_memory_equal(log.events[2].data, "Calling", 7);
	assert_int_equal(log.events[2].ndigests, 2);
	assert_int_equal(log.events[2].digests[1].size, 32);
	assert_int_equal(log.events[2].digests[1].bytes[0], 0x31);
	assert_ptr_equal(eventlog_event_digest(&log.events[2], EVENTLOG_ALG_SHA256),
			 &log.events[2].digests[1]);
	assert_null(eventlog_event_digest(&log.events[2], EVENTLOG_ALG_SHA384));
	assert_int_equal(log.end, b->n);
	assert_int_equal(log.trailing_len, 0);

	assert_int_equal(eventlog_replay(&log, &pcrs, &err), 0);
	memset(exp1[17], 0xff, 20);
	memset(exp256[17], 0xff, 32);
	extend("SHA1", exp1[0], 20, 0x10);
	extend("SHA1", exp1[0], 20, 0x20);
	extend("SHA1", exp1[4], 20, 0x30);
	extend("SHA1", exp1[17], 20, 0x40);
	extend("SHA256", exp256[0], 32, 0x11);
	extend("SHA256", exp256[0], 32, 0x21);
	extend("SHA256", exp256[4], 32, 0x31);
	extend("SHA256", exp256[17], 32, 0x41);
	for (unsigned i = 0; i < 24; i++) {
		if (i >= 18 && i <= 22) {
			memset(exp1[i], 0xff, 20);
			memset(exp256[i], 0xff, 32);
		}
		assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, i), exp1[i], 20);
		assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA256, i), exp256[i],
				    32);
	}
	assert_true(pcrs.bank[0].extended[4]);
	assert_false(pcrs.bank[0].extended[5]);
	assert_null(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA384, 0));
	assert_null(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, 24));
	assert_int_equal(pcrs.locality, 0);
	eventlog_done(&log);
	free(b);
}

static void replay_ok(const struct buf *b, struct eventlog_pcrs *pcrs)
{
	struct eventlog log;
	struct kagi_err err;

	decode_ok(b, &log);
	assert_int_equal(eventlog_replay(&log, pcrs, &err), 0);
	eventlog_done(&log);
}

static void test_eventlog_replay_startup_locality(void **state)
{
	struct buf *b = newbuf();
	struct eventlog_pcrs pcrs;
	uint8_t e1[20] = { 0 }, e256[32] = { 0 };

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_NO_ACTION, 0, startup_locality3, sizeof(startup_locality3));
	ev2_std(b, 0, EV_S_CRTM_VERSION, 0x10, "v\0\0\0", 4);
	replay_ok(b, &pcrs);
	e1[19] = 3;
	e256[31] = 3;
	extend("SHA1", e1, 20, 0x10);
	extend("SHA256", e256, 32, 0x11);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, 0), e1, 20);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA256, 0), e256, 32);
	assert_int_equal(pcrs.locality, 3);
	free(b);
}

static void test_eventlog_replay_startup_locality_after_extend(void **state)
{
	struct buf *b = newbuf();
	struct eventlog_pcrs pcrs;
	uint8_t e1[20] = { 0 };

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_S_CRTM_VERSION, 0x10, "v\0\0\0", 4);
	ev2_std(b, 0, EV_NO_ACTION, 0, startup_locality3, sizeof(startup_locality3));
	replay_ok(b, &pcrs);
	extend("SHA1", e1, 20, 0x10);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, 0), e1, 20);
	assert_int_equal(pcrs.locality, 0);
	free(b);
}

static void test_eventlog_replay_startup_locality_bad_length(void **state)
{
	uint8_t longer[18] = "StartupLocality\0\3\0";
	struct buf *b = newbuf();
	struct eventlog_pcrs pcrs;
	uint8_t zero[20] = { 0 };

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_NO_ACTION, 0, longer, sizeof(longer));
	replay_ok(b, &pcrs);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, 0), zero, 20);
	free(b);
}

static void test_eventlog_replay_hcrtm(void **state)
{
	struct buf *b = newbuf();
	struct eventlog_pcrs pcrs;
	uint8_t e1[20] = { 0 };

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_EFI_HCRTM_EVENT, 0x10, "HCRTM", 5);
	/* a StartupLocality after the H-CRTM event changes nothing */
	ev2_std(b, 0, EV_NO_ACTION, 0, startup_locality3, sizeof(startup_locality3));
	replay_ok(b, &pcrs);
	e1[19] = 4;
	extend("SHA1", e1, 20, 0x10);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, 0), e1, 20);
	assert_true(pcrs.hcrtm);
	assert_int_equal(pcrs.locality, 4);
	free(b);
}

static void test_eventlog_replay_sha1_log_startup_locality(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog log;
	struct eventlog_pcrs pcrs;
	struct kagi_err err;
	uint8_t e1[20] = { 0 }, e7[20] = { 0 };

	(void)state;
	ev1(&b, 0, EV_NO_ACTION, 0, startup_locality3, sizeof(startup_locality3));
	ev1(&b, 0, EV_S_CRTM_VERSION, 0x10, "v\0", 2);
	ev1(&b, 7, EV_SEPARATOR, 0x20, "\0\0\0\0", 4);
	decode_ok(&b, &log);
	assert_false(log.crypto_agile);
	assert_int_equal(log.nbanks, 1);
	assert_int_equal(log.banks[0].alg, EVENTLOG_ALG_SHA1);
	assert_int_equal(log.nevents, 3);
	assert_int_equal(log.events[1].offset, 49);
	assert_int_equal(eventlog_replay(&log, &pcrs, &err), 0);
	assert_int_equal(pcrs.nbanks, 1);
	e1[19] = 3;
	extend("SHA1", e1, 20, 0x10);
	extend("SHA1", e7, 20, 0x20);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, 0), e1, 20);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, 7), e7, 20);
	assert_null(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA256, 0));
	eventlog_done(&log);
}

static void test_eventlog_decode_sha1_legacy_specid(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog log;

	(void)state;
	ev1(&b, 0, EV_NO_ACTION, 0, "Spec ID Event00\0\0\0\0\0", 20);
	ev1(&b, 0, EV_SEPARATOR, 0x20, "\0\0\0\0", 4);
	decode_ok(&b, &log);
	assert_false(log.crypto_agile);
	assert_int_equal(log.nevents, 2);
	eventlog_done(&log);
}

static void test_eventlog_decode_padding(void **state)
{
	struct buf *b = newbuf();
	struct eventlog log;

	(void)state;
	specid(b, two_algs, two_sizes, 2);
	ev2_std(b, 0, EV_SEPARATOR, 1, "\0\0\0\0", 4);
	putfill(b, 0, 100);
	decode_ok(b, &log);
	assert_int_equal(log.nevents, 1);
	assert_int_equal(log.trailing_len, 100);
	assert_int_equal(log.end, b->n - 100);
	eventlog_done(&log);

	b->n -= 100; /* erased flash */
	putfill(b, 0xff, 333);
	decode_ok(b, &log);
	assert_int_equal(log.nevents, 1);
	assert_int_equal(log.trailing_len, 333);
	eventlog_done(&log);

	b->n -= 333; /* a short zero tail */
	putfill(b, 0, 5);
	decode_ok(b, &log);
	assert_int_equal(log.trailing_len, 5);
	eventlog_done(&log);

	b->n -= 5; /* a short non-zero tail is not padding */
	putfill(b, 1, 5);
	expect_fail(b, "eventlog.event.truncated", b->n - 5);

	b->n -= 5; /* and a zero record header followed by data still ends the log */
	putfill(b, 0, 12);
	putfill(b, 0x5a, 4);
	decode_ok(b, &log);
	assert_int_equal(log.nevents, 1);
	assert_int_equal(log.trailing_len, 16);
	eventlog_done(&log);
	free(b);
}

static void test_eventlog_decode_cc_index_and_high_pcr(void **state)
{
	const uint16_t algs[] = { EVENTLOG_ALG_SHA384 }, sizes[] = { 48 };
	struct buf *b = newbuf();
	struct eventlog log;
	struct eventlog_pcrs pcrs;
	struct kagi_err err;
	uint8_t e[48] = { 0 };

	(void)state;
	specid(b, algs, sizes, 1);
	set32(b, 0, 1); /* CC event log: Spec ID in MR index 1 */
	ev2(b, 1, EV_SEPARATOR, algs, sizes, 1, 0x10, "\0\0\0\0", 4);
	ev2(b, 1000, EV_IPL, algs, sizes, 1, 0x20, "x", 1);
	decode_ok(b, &log);
	assert_int_equal(log.specid_pcr, 1);
	assert_int_equal(log.nevents, 2);
	assert_int_equal(log.events[1].pcr, 1000);
	assert_int_equal(eventlog_replay(&log, &pcrs, &err), 0);
	assert_int_equal(pcrs.nskipped, 1);
	extend("SHA384", e, 48, 0x10);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA384, 1), e, 48);
	eventlog_done(&log);
	free(b);
}

static void test_eventlog_replay_unknown_bank_and_missing_digest(void **state)
{
	const uint16_t algs[] = { EVENTLOG_ALG_SHA256, 0x7777 }, sizes[] = { 32, 24 };
	struct buf *b = newbuf();
	struct eventlog log;
	struct eventlog_pcrs pcrs;
	struct kagi_err err;
	uint8_t e[32] = { 0 };
	json_object *j;

	(void)state;
	specid(b, algs, sizes, 2);
	ev2(b, 4, EV_SEPARATOR, algs, sizes, 2, 0x10, "\0\0\0\0", 4);
	ev2(b, 4, EV_SEPARATOR, algs, sizes, 1, 0x20, "\0\0\0\0", 4); /* sha256 only */
	decode_ok(b, &log);
	assert_int_equal(log.banks[1].size, 24);
	assert_int_equal(log.events[0].digests[1].size, 24);
	assert_int_equal(eventlog_replay(&log, &pcrs, &err), 0);
	assert_true(pcrs.bank[0].available);
	assert_false(pcrs.bank[1].available);
	assert_int_equal(pcrs.bank[1].nmissing, 1);
	assert_null(eventlog_pcrs_get(&pcrs, 0x7777, 4));
	extend("SHA256", e, 32, 0x10);
	extend("SHA256", e, 32, 0x20);
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA256, 4), e, 32);
	/* the JSON has only the bank it could compute */
	j = eventlog_pcrs_to_json(&pcrs);
	assert_non_null(j);
	assert_int_equal(json_object_object_length(j), 1);
	assert_true(json_object_object_get_ex(j, "sha256", NULL));
	json_object_put(j);
	eventlog_done(&log);
	free(b);
}

/* ---------------------------------------------------------------------------------------- */
/* Event data layouts */

static void variable(struct buf *b, const uint8_t guid[16], const char *name, const void *data,
		     size_t len)
{
	size_t n = strlen(name);

	putmem(b, guid, 16);
	put64(b, n);
	put64(b, len);
	for (size_t i = 0; i < n; i++)
		put16(b, (uint8_t)name[i]);
	if (len)
		putmem(b, data, len);
}

static const uint8_t global_guid[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
					 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };

static void test_eventlog_guid_str(void **state)
{
	char s[37];

	(void)state;
	assert_string_equal(eventlog_guid_str(global_guid, s),
			    "8be4df61-93ca-11d2-aa0d-00e098032b8c");
}

static void test_eventlog_utf16_to_utf8(void **state)
{
	/* "aé€" + U+1F600 (pair) + unpaired high surrogate + 'z', then NUL and more */
	const uint8_t in[] = { 'a',  0,    0xe9, 0,   0xac, 0x20, 0x3d, 0xd8, 0x00,
			       0xde, 0x00, 0xd8, 'z', 0,    0,    0,    'q',  0 };
	char *s;

	(void)state;
	s = eventlog_utf16_to_utf8(in, sizeof(in) / 2);
	assert_non_null(s);
	assert_string_equal(s, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80?z");
	free(s);
}

static void test_eventlog_variable_decode(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog_variable v;
	struct kagi_err err;
	char *name;

	(void)state;
	variable(&b, global_guid, "SecureBoot", "\1", 1);
	assert_int_equal(eventlog_variable_decode(b.b, b.n, &v, &err), 0);
	assert_int_equal(v.name_len, 10);
	assert_int_equal(v.data_len, 1);
	assert_int_equal(v.data[0], 1);
	assert_int_equal(v.trailing, 0);
	name = eventlog_variable_name(&v);
	assert_string_equal(name, "SecureBoot");
	free(name);
}

static void test_eventlog_variable_decode_bad_header(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog_variable v;
	struct kagi_err err;

	(void)state;
	variable(&b, global_guid, "X", NULL, 0);
	assert_int_equal(eventlog_variable_decode(b.b, 31, &v, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.variable.header");
}

static void test_eventlog_variable_decode_bad_name_length(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog_variable v;
	struct kagi_err err;

	(void)state;
	variable(&b, global_guid, "SecureBoot", "\1", 1);
	b.b[16] = 0xff; /* UnicodeNameLength */
	assert_int_equal(eventlog_variable_decode(b.b, b.n, &v, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.variable.name_length");
	assert_int_equal(err.off, 16);
	b.b[16] = 10;
	b.b[23] = 0x80; /* huge: must not overflow */
	assert_int_equal(eventlog_variable_decode(b.b, b.n, &v, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.variable.name_length");
}

static void test_eventlog_variable_decode_bad_data_length(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog_variable v;
	struct kagi_err err;

	(void)state;
	variable(&b, global_guid, "SecureBoot", "\1", 1);
	b.b[24] = 2; /* VariableDataLength */
	assert_int_equal(eventlog_variable_decode(b.b, b.n, &v, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.variable.data_length");
	assert_int_equal(err.off, 24);
}

static void test_eventlog_image_load_decode(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog_image_load im;
	struct kagi_err err;

	(void)state;
	put64(&b, 0x1000);
	put64(&b, 0x2000);
	put64(&b, 0);
	put64(&b, 4);
	putmem(&b, "\x7f\xff\x04\x00", 4);
	assert_int_equal(eventlog_image_load_decode(b.b, b.n, &im, &err), 0);
	assert_int_equal(im.location, 0x1000);
	assert_int_equal(im.length, 0x2000);
	assert_int_equal(im.device_path_len, 4);
	assert_int_equal(im.device_path[0], 0x7f);
	assert_int_equal(im.trailing, 0);
	putfill(&b, 0, 8); /* padding after the device path is tolerated and reported */
	assert_int_equal(eventlog_image_load_decode(b.b, b.n, &im, &err), 0);
	assert_int_equal(im.trailing, 8);
}

static void test_eventlog_image_load_decode_bad_device_path_length(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog_image_load im;
	struct kagi_err err;

	(void)state;
	put64(&b, 0x1000);
	put64(&b, 0x2000);
	put64(&b, 0);
	put64(&b, 5);
	putmem(&b, "\x7f\xff\x04\x00", 4);
	assert_int_equal(eventlog_image_load_decode(b.b, b.n, &im, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.image_load.device_path_length");
	assert_int_equal(eventlog_image_load_decode(b.b, 31, &im, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.image_load.header");
}

static void test_eventlog_tagged_decode_bad_data_size(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog_tagged t;
	struct kagi_err err;

	(void)state;
	put32(&b, EVENTLOG_TAG_LINUX_INITRD);
	put32(&b, 13);
	putmem(&b, "Linux initrd", 13);
	assert_int_equal(eventlog_tagged_decode(b.b, b.n, &t, &err), 0);
	assert_int_equal(t.id, EVENTLOG_TAG_LINUX_INITRD);
	assert_int_equal(t.data_len, 13);
	assert_int_equal(eventlog_tagged_decode(b.b, b.n - 1, &t, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.tagged.data_size");
	assert_int_equal(eventlog_tagged_decode(b.b, 7, &t, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.tagged.header");
	putfill(&b, 0, 1);
	assert_int_equal(eventlog_tagged_decode(b.b, b.n, &t, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.tagged.size");
}

static void test_eventlog_blob_decode_bad_description(void **state)
{
	struct buf b = { .n = 0 };
	struct eventlog_blob bl;
	struct kagi_err err;

	(void)state;
	put8(&b, 3);
	putmem(&b, "FvX", 3);
	put64(&b, 0xffc00000);
	put64(&b, 0x84000);
	assert_int_equal(eventlog_blob_decode(b.b, b.n, true, &bl, &err), 0);
	assert_int_equal(bl.desc_len, 3);
	assert_int_equal(bl.base, 0xffc00000);
	assert_int_equal(bl.length, 0x84000);
	b.b[0] = 200;
	assert_int_equal(eventlog_blob_decode(b.b, b.n, true, &bl, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.blob.description");
	assert_int_equal(eventlog_blob_decode(b.b + 4, 15, false, &bl, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.blob.size");
}

/* event_to_json on a single crafted event */
static json_object *event_json(uint32_t type, const void *data, uint32_t len)
{
	static const uint8_t d[20];
	struct eventlog_event e = { .offset = 0x40, .pcr = 7, .type = type, .ndigests = 1 };
	json_object *o;

	e.digests[0].alg = EVENTLOG_ALG_SHA1;
	e.digests[0].size = 20;
	e.digests[0].bytes = d;
	e.data = data;
	e.data_len = len;
	o = eventlog_event_to_json(&e);
	assert_non_null(o);
	return o;
}

static const char *jpath(json_object *o, const char *a, const char *b)
{
	json_object *x = NULL, *y = NULL;

	if (!json_object_object_get_ex(o, a, &x))
		return NULL;
	if (!b)
		return json_object_get_string(x);
	if (!json_object_object_get_ex(x, b, &y))
		return NULL;
	return json_object_get_string(y);
}

static void test_eventlog_event_json_variable(void **state)
{
	struct buf b = { .n = 0 };
	json_object *o;

	(void)state;
	variable(&b, global_guid, "BootOrder", "\x01\x00\x00\x00\x0a\x00", 6);
	o = event_json(EV_EFI_VARIABLE_BOOT, b.b, (uint32_t)b.n);
	assert_string_equal(jpath(o, "type_name", NULL), "EV_EFI_VARIABLE_BOOT");
	assert_string_equal(jpath(o, "decoded", "variable_guid"),
			    "8be4df61-93ca-11d2-aa0d-00e098032b8c");
	assert_string_equal(jpath(o, "decoded", "variable_name"), "BootOrder");
	assert_string_equal(jpath(o, "decoded", "boot_order"), "[ \"0001\", \"0000\", \"000A\" ]");
	json_object_put(o);
}

static void test_eventlog_event_json_bad_variable(void **state)
{
	struct buf b = { .n = 0 };
	json_object *o;

	(void)state;
	variable(&b, global_guid, "SecureBoot", "\1", 1);
	o = event_json(EV_EFI_VARIABLE_DRIVER_CONFIG, b.b, (uint32_t)b.n - 1);
	assert_null(jpath(o, "decoded", NULL));
	assert_non_null(
		strstr(jpath(o, "note", NULL), "event data does not decode as UEFI_VARIABLE_DATA"));
	assert_int_equal(strlen(jpath(o, "data", NULL)), 2 * (b.n - 1));
	json_object_put(o);
}

static void test_eventlog_event_json_strings(void **state)
{
	const uint8_t crtm[] = { 'G', 0, 'C', 0, 'E', 0, 0, 0 };
	const uint8_t ipl16[] = { 'i', 0, 'd', 0, 0 }; /* odd: truncated UTF-16 NUL */
	json_object *o;

	(void)state;
	o = event_json(EV_S_CRTM_VERSION, crtm, sizeof(crtm));
	assert_string_equal(jpath(o, "decoded", "string"), "GCE");
	json_object_put(o);
	o = event_json(EV_IPL, "grub_cmd: linux /vmlinuz", 25);
	assert_string_equal(jpath(o, "decoded", "string"), "grub_cmd: linux /vmlinuz");
	json_object_put(o);
	o = event_json(EV_IPL, ipl16, sizeof(ipl16));
	assert_string_equal(jpath(o, "decoded", "string"), "id");
	assert_string_equal(jpath(o, "decoded", "encoding"), "utf-16le");
	json_object_put(o);
	o = event_json(EV_IPL, "\xff\xfe\x01", 3);
	assert_null(jpath(o, "decoded", NULL));
	assert_non_null(jpath(o, "note", NULL));
	json_object_put(o);
	o = event_json(EV_EFI_ACTION, "Exit Boot Services Invocation", 29);
	assert_string_equal(jpath(o, "decoded", "string"), "Exit Boot Services Invocation");
	json_object_put(o);
	o = event_json(EV_EFI_ACTION, "caf\xc3\xa9", 5); /* not ASCII */
	assert_null(jpath(o, "decoded", NULL));
	assert_non_null(jpath(o, "note", NULL));
	json_object_put(o);
}

static void test_eventlog_event_json_separator(void **state)
{
	json_object *o;

	(void)state;
	o = event_json(EV_SEPARATOR, "\1\0\0\0", 4);
	assert_string_equal(jpath(o, "decoded", "meaning"), "error");
	json_object_put(o);
	o = event_json(EV_SEPARATOR, "\0\0\0\0", 4);
	assert_string_equal(jpath(o, "decoded", "meaning"), "normal");
	json_object_put(o);
	o = event_json(EV_SEPARATOR, "\0\0\0", 3);
	assert_non_null(strstr(jpath(o, "note", NULL), "expected 4"));
	json_object_put(o);
}

static void test_eventlog_event_json_tag_and_no_action(void **state)
{
	struct buf b = { .n = 0 };
	json_object *o;

	(void)state;
	put32(&b, EVENTLOG_TAG_LINUX_LOAD_OPTIONS);
	put32(&b, 26);
	putmem(&b, "LOADED_IMAGE::LoadOptions", 26);
	o = event_json(EV_EVENT_TAG, b.b, (uint32_t)b.n);
	assert_string_equal(jpath(o, "decoded", "tag_name"), "Linux LoadOptions");
	assert_string_equal(jpath(o, "decoded", "tag_id"), "0x8f3b22ed");
	json_object_put(o);
	o = event_json(EV_NO_ACTION, startup_locality3, sizeof(startup_locality3));
	assert_string_equal(jpath(o, "decoded", "signature"), "StartupLocality");
	assert_string_equal(jpath(o, "decoded", "startup_locality"), "3");
	json_object_put(o);
	o = event_json(EV_NO_ACTION, "NvIndexInstance\0\1\2", 18);
	assert_string_equal(jpath(o, "decoded", "signature"), "NvIndexInstance");
	json_object_put(o);
}

static void test_eventlog_names(void **state)
{
	uint16_t alg;

	(void)state;
	assert_string_equal(eventlog_alg_name(EVENTLOG_ALG_SHA1), "sha1");
	assert_string_equal(eventlog_alg_name(EVENTLOG_ALG_SHA256), "sha256");
	assert_string_equal(eventlog_alg_name(EVENTLOG_ALG_SHA384), "sha384");
	assert_string_equal(eventlog_alg_name(EVENTLOG_ALG_SHA512), "sha512");
	assert_string_equal(eventlog_alg_name(EVENTLOG_ALG_SM3_256), "sm3_256");
	assert_null(eventlog_alg_name(0x7777));
	assert_int_equal(eventlog_alg_from_name("sha384", &alg), 0);
	assert_int_equal(alg, EVENTLOG_ALG_SHA384);
	assert_int_equal(eventlog_alg_from_name("md5", &alg), -EINVAL);
	assert_string_equal(eventlog_type_name(EV_SEPARATOR), "EV_SEPARATOR");
	assert_string_equal(eventlog_type_name(EV_EFI_BOOT_SERVICES_APPLICATION),
			    "EV_EFI_BOOT_SERVICES_APPLICATION");
	assert_string_equal(eventlog_type_name(EV_EFI_VARIABLE_AUTHORITY),
			    "EV_EFI_VARIABLE_AUTHORITY");
	assert_null(eventlog_type_name(0x12345));
}

/* ---------------------------------------------------------------------------------------- */
/* Real logs from $KAGI_TESTDATA */

static int load(const char *rel, uint8_t **buf, size_t *len)
{
	const char *dir = getenv("KAGI_TESTDATA");
	char path[1024];

	if (!dir)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return read_file(path, EVENTLOG_MAX_LOG_SIZE, buf, len);
}

#define REQUIRE_DATA(rel, buf, len)                                                                \
	do {                                                                                       \
		if (load(rel, buf, len) < 0) {                                                     \
			print_message("# KAGI_TESTDATA file %s missing\n", rel);                   \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* The quoted PCRs of the GCE COS 85 attestation against the replay of its event log. */
static void test_eventlog_data_tpmquote_replay(void **state)
{
	static const struct {
		const char *bank;
		uint16_t alg;
	} banks[] = { { "sha1", EVENTLOG_ALG_SHA1 },
		      { "sha256", EVENTLOG_ALG_SHA256 },
		      { "sha384", EVENTLOG_ALG_SHA384 } };
	const char *set = "tpmquote/go-tpm-tools/gce-cos-85-nonce9009";
	uint8_t *buf = NULL;
	size_t len = 0;
	struct eventlog log;
	struct eventlog_pcrs pcrs;
	struct kagi_err err;
	char rel[256];

	(void)state;
	snprintf(rel, sizeof(rel), "%s/eventlog.bin", set);
	REQUIRE_DATA(rel, &buf, &len);
	assert_int_equal(eventlog_decode(buf, len, &log, &err), 0);
	assert_int_equal(eventlog_replay(&log, &pcrs, &err), 0);
	for (size_t b = 0; b < ARRAY_SIZE(banks); b++) {
		const char *dir = getenv("KAGI_TESTDATA");
		char path[1024];
		json_object *j, *p;

		snprintf(path, sizeof(path), "%s/%s/pcrs_%s.json", dir, set, banks[b].bank);
		j = json_object_from_file(path);
		assert_non_null(j);
		assert_true(json_object_object_get_ex(j, "pcrs", &p));
		for (unsigned i = 0; i < 24; i++) {
			const uint8_t *v = eventlog_pcrs_get(&pcrs, banks[b].alg, i);
			json_object *h;
			char key[4], hex[2 * EVENTLOG_MAX_DIGEST_SIZE + 1];

			snprintf(key, sizeof(key), "%u", i);
			assert_true(json_object_object_get_ex(p, key, &h));
			assert_non_null(v);
			hex_encode(v, eventlog_alg_size(banks[b].alg), hex);
			/* PCR 10 is IMA, extended by the running OS: not in the firmware log */
			if (i == 10)
				assert_string_not_equal(hex, json_object_get_string(h));
			else
				assert_string_equal(hex, json_object_get_string(h));
		}
		json_object_put(j);
	}
	eventlog_done(&log);
	free(buf);
}

static void test_eventlog_data_short_no_action(void **state)
{
	uint8_t *buf = NULL, e[20] = { 0 };
	size_t len = 0;
	struct eventlog log;
	struct eventlog_pcrs pcrs;
	struct kagi_err err;

	(void)state;
	REQUIRE_DATA("eventlog/go-attestation/short_no_action_eventlog", &buf, &len);
	assert_int_equal(eventlog_decode(buf, len, &log, &err), 0);
	assert_false(log.crypto_agile);
	assert_int_equal(log.nevents, 1);
	assert_int_equal(eventlog_replay(&log, &pcrs, &err), 0);
	e[19] = 3;
	assert_memory_equal(eventlog_pcrs_get(&pcrs, EVENTLOG_ALG_SHA1, 0), e, 20);
	eventlog_done(&log);
	free(buf);
}

static void test_eventlog_data_ccel(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct eventlog log;
	struct kagi_err err;

	(void)state;
	REQUIRE_DATA("eventlog/trustee-ccel-tdx/CCEL_data_ovmf", &buf, &len);
	assert_int_equal(eventlog_decode(buf, len, &log, &err), 0);
	assert_true(log.crypto_agile);
	assert_int_equal(log.specid_pcr, 1);
	assert_int_equal(log.nbanks, 1);
	assert_int_equal(log.banks[0].alg, EVENTLOG_ALG_SHA384);
	assert_int_equal(log.nevents, 20);
	assert_true(log.trailing_len > 0);
	assert_int_equal(log.end + log.trailing_len, len);
	eventlog_done(&log);
	free(buf);
}

static void test_eventlog_data_keylime_bad(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct eventlog log;
	struct kagi_err err;

	(void)state;
	REQUIRE_DATA("eventlog/keylime/binary_bios_measurements-bogus", &buf, &len);
	assert_int_equal(eventlog_decode(buf, len, &log, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.event.data_size");
	free(buf);
	buf = NULL;
	REQUIRE_DATA("eventlog/keylime/binary_bios_measurements-empty", &buf, &len);
	assert_int_equal(eventlog_decode(buf, len, &log, &err), -EBADMSG);
	assert_string_equal(err.what, "eventlog.empty");
	free(buf);
}

/* Every event of every good log renders to JSON, and some decoded fields are as expected. */
static void test_eventlog_data_render_all(void **state)
{
	static const char *files[] = {
		"eventlog/go-tpm-tools/arch-linux-workstation.bin",
		"eventlog/go-tpm-tools/debian-10.bin",
		"eventlog/keylime/binary_bios_measurements",
		"eventlog/keylime/mb_log.bin",
		"eventlog/tpm2-tools/event-bootorder.bin",
		"eventlog/tpm2-tools/event-postcode.bin",
	};
	unsigned gpt = 0, sep = 0;

	(void)state;
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		struct eventlog log;
		struct kagi_err err;
		json_object *j;

		REQUIRE_DATA(files[f], &buf, &len);
		assert_int_equal(eventlog_decode(buf, len, &log, &err), 0);
		assert_true(log.nevents > 10);
		j = eventlog_to_json(&log);
		assert_non_null(j);
		for (size_t i = 0; i < log.nevents; i++) {
			json_object *ev =
				json_object_array_get_idx(json_object_object_get(j, "events"), i);
			const char *tn = jpath(ev, "type_name", NULL);

			if (streq(tn, "EV_EFI_GPT_EVENT") && jpath(ev, "decoded", "disk_guid"))
				gpt++;
			if (streq(tn, "EV_SEPARATOR") &&
			    streq(jpath(ev, "decoded", "meaning"), "normal"))
				sep++;
		}
		json_object_put(j);
		eventlog_done(&log);
		free(buf);
	}
	assert_true(gpt >= 2);
	assert_true(sep >= 6 * 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eventlog_decode_bad_empty),
		cmocka_unit_test(test_eventlog_decode_bad_truncated_header),
		cmocka_unit_test(test_eventlog_decode_bad_only_padding),
		cmocka_unit_test(test_eventlog_decode_bad_first_data_size),
		cmocka_unit_test(test_eventlog_decode_bad_data_size_limit),
		cmocka_unit_test(test_eventlog_decode_bad_specid_signature),
		cmocka_unit_test(test_eventlog_decode_bad_specid_signature_nul),
		cmocka_unit_test(test_eventlog_decode_bad_specid_legacy_unknown),
		cmocka_unit_test(test_eventlog_decode_bad_specid_pcr),
		cmocka_unit_test(test_eventlog_decode_bad_specid_type),
		cmocka_unit_test(test_eventlog_decode_bad_specid_digest),
		cmocka_unit_test(test_eventlog_decode_bad_specid_version),
		cmocka_unit_test(test_eventlog_decode_bad_specid_uintn_size),
		cmocka_unit_test(test_eventlog_decode_bad_specid_zero_algorithms),
		cmocka_unit_test(test_eventlog_decode_bad_specid_too_many_algorithms),
		cmocka_unit_test(test_eventlog_decode_bad_specid_algorithms_truncated),
		cmocka_unit_test(test_eventlog_decode_bad_specid_digest_size),
		cmocka_unit_test(test_eventlog_decode_bad_specid_unknown_digest_size),
		cmocka_unit_test(test_eventlog_decode_bad_specid_duplicate_algorithm),
		cmocka_unit_test(test_eventlog_decode_bad_specid_vendor_info),
		cmocka_unit_test(test_eventlog_decode_bad_specid_trailing),
		cmocka_unit_test(test_eventlog_decode_bad_event2_digest_count),
		cmocka_unit_test(test_eventlog_decode_bad_event2_undeclared_alg),
		cmocka_unit_test(test_eventlog_decode_bad_event2_duplicate_alg),
		cmocka_unit_test(test_eventlog_decode_bad_event2_truncated_digest),
		cmocka_unit_test(test_eventlog_decode_bad_event2_truncated_alg),
		cmocka_unit_test(test_eventlog_decode_bad_event2_truncated_header),
		cmocka_unit_test(test_eventlog_decode_bad_event2_truncated_size),
		cmocka_unit_test(test_eventlog_decode_bad_event2_data_size),
		cmocka_unit_test(test_eventlog_decode_bad_sha1_truncated_record),
		cmocka_unit_test(test_eventlog_decode_bad_sha1_data_size),
		cmocka_unit_test(test_eventlog_decode_bad_event_count),
		cmocka_unit_test(test_eventlog_decode_crypto_agile),
		cmocka_unit_test(test_eventlog_replay_startup_locality),
		cmocka_unit_test(test_eventlog_replay_startup_locality_after_extend),
		cmocka_unit_test(test_eventlog_replay_startup_locality_bad_length),
		cmocka_unit_test(test_eventlog_replay_hcrtm),
		cmocka_unit_test(test_eventlog_replay_sha1_log_startup_locality),
		cmocka_unit_test(test_eventlog_decode_sha1_legacy_specid),
		cmocka_unit_test(test_eventlog_decode_padding),
		cmocka_unit_test(test_eventlog_decode_cc_index_and_high_pcr),
		cmocka_unit_test(test_eventlog_replay_unknown_bank_and_missing_digest),
		cmocka_unit_test(test_eventlog_guid_str),
		cmocka_unit_test(test_eventlog_utf16_to_utf8),
		cmocka_unit_test(test_eventlog_variable_decode),
		cmocka_unit_test(test_eventlog_variable_decode_bad_header),
		cmocka_unit_test(test_eventlog_variable_decode_bad_name_length),
		cmocka_unit_test(test_eventlog_variable_decode_bad_data_length),
		cmocka_unit_test(test_eventlog_image_load_decode),
		cmocka_unit_test(test_eventlog_image_load_decode_bad_device_path_length),
		cmocka_unit_test(test_eventlog_tagged_decode_bad_data_size),
		cmocka_unit_test(test_eventlog_blob_decode_bad_description),
		cmocka_unit_test(test_eventlog_event_json_variable),
		cmocka_unit_test(test_eventlog_event_json_bad_variable),
		cmocka_unit_test(test_eventlog_event_json_strings),
		cmocka_unit_test(test_eventlog_event_json_separator),
		cmocka_unit_test(test_eventlog_event_json_tag_and_no_action),
		cmocka_unit_test(test_eventlog_names),
		cmocka_unit_test(test_eventlog_data_tpmquote_replay),
		cmocka_unit_test(test_eventlog_data_short_no_action),
		cmocka_unit_test(test_eventlog_data_ccel),
		cmocka_unit_test(test_eventlog_data_keylime_bad),
		cmocka_unit_test(test_eventlog_data_render_all),
	};

	return cmocka_run_group_tests_name("eventlog", tests, NULL, NULL);
}
