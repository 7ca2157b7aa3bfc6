// SPDX-License-Identifier: Apache-2.0
#include "testutil.h"

#include <errno.h>

#include "reader.h"
#include "snp-certs.h"

static const uint8_t vcek_guid[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
				       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };

static void expect_bad(const uint8_t *buf, size_t len, const char *what)
{
	struct snp_cert_table t;
	struct kagi_err e = { 0 };

	assert_int_equal(snp_certs_decode(buf, len, &t, &e), -EBADMSG);
	if (strcmp(e.what, what))
		fail_msg("expected %s, got %s: %s", what, e.what, e.msg);
}

/* [VCEK entry][terminator][4 bytes of "cert"] */
static size_t one_entry(uint8_t *b, uint32_t off, uint32_t len)
{
	memset(b, 0, 80);
	memcpy(b, vcek_guid, 16);
	put_le32(b + 16, off);
	put_le32(b + 20, len);
	memcpy(b + 48, "cert", 4);
	return 52;
}

static void test_snp_certs_roundtrip(void **state)
{
	struct snp_cert_table t = { 0 }, d;
	uint8_t *buf;
	size_t len;

	(void)state;
	t.n = 3;
	t.e[0] = (struct snp_cert_entry){ .kind = SNP_CERT_VCEK,
					  .der = (const uint8_t *)"vcek",
					  .len = 4 };
	t.e[1] = (struct snp_cert_entry){ .kind = SNP_CERT_ASK,
					  .der = (const uint8_t *)"ask!!",
					  .len = 5 };
	t.e[2] = (struct snp_cert_entry){ .kind = SNP_CERT_ARK,
					  .der = (const uint8_t *)"ark",
					  .len = 3 };
	assert_int_equal(snp_certs_encode(&t, &buf, &len), 0);
	assert_int_equal(len, 4 * 24 + 12);
	assert_memory_equal(buf, vcek_guid, 16);
	assert_int_equal(snp_certs_decode(buf, len, &d, NULL), 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.e[1].kind, SNP_CERT_ASK);
	assert_int_equal(d.e[1].len, 5);
	assert_memory_equal(d.e[1].der, "ask!!", 5);
	assert_non_null(snp_certs_find(&d, SNP_CERT_ARK));
	assert_null(snp_certs_find(&d, SNP_CERT_VLEK));
	free(buf);
}

static void test_snp_certs_empty(void **state)
{
	struct snp_cert_table t;
	uint8_t zero[24] = { 0 };

	(void)state;
	assert_int_equal(snp_certs_decode(NULL, 0, &t, NULL), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(snp_certs_decode(zero, sizeof(zero), &t, NULL), 0);
	assert_int_equal(t.n, 0);
}

static void test_snp_certs_mixed_endian_guid(void **state)
{
	uint8_t b[80];
	struct snp_cert_table t;
	size_t len = one_entry(b, 48, 4);

	(void)state;
	/* the same GUID with its first three groups byte-swapped (UEFI guid_t layout) */
	b[0] = 0x8d, b[1] = 0x75, b[2] = 0xda, b[3] = 0x63, b[4] = 0x64, b[5] = 0xe6, b[6] = 0x64,
	b[7] = 0x45;
	assert_int_equal(snp_certs_decode(b, len, &t, NULL), 0);
	assert_int_equal(t.e[0].kind, SNP_CERT_VCEK);
}

static void test_snp_certs_bad_no_terminator(void **state)
{
	uint8_t b[80];

	(void)state;
	one_entry(b, 48, 4);
	expect_bad(b, 30, "certs.terminator");
	expect_bad(b, 24, "certs.terminator");
}

static void test_snp_certs_bad_offset_inside_table(void **state)
{
	uint8_t b[80];
	size_t len = one_entry(b, 20, 4);

	(void)state;
	expect_bad(b, len, "certs.entry.offset");
}

static void test_snp_certs_bad_length_past_end(void **state)
{
	uint8_t b[80];
	size_t len = one_entry(b, 48, 5);

	(void)state;
	expect_bad(b, len, "certs.entry.length");
	one_entry(b, 48, 0xffffffff);
	expect_bad(b, len, "certs.entry.length");
	one_entry(b, 0xfffffff0, 0x20);
	expect_bad(b, len, "certs.entry.offset");
}

static void test_snp_certs_bad_zero_length(void **state)
{
	uint8_t b[80];
	size_t len = one_entry(b, 48, 0);

	(void)state;
	expect_bad(b, len, "certs.entry.length");
}

static void test_snp_certs_bad_duplicate(void **state)
{
	uint8_t b[24 * 3 + 4] = { 0 };

	(void)state;
	memcpy(b, vcek_guid, 16);
	put_le32(b + 16, 72);
	put_le32(b + 20, 4);
	memcpy(b + 24, vcek_guid, 16);
	put_le32(b + 40, 72);
	put_le32(b + 44, 4);
	expect_bad(b, sizeof(b), "certs.entry.duplicate");
}

static void test_snp_certs_bad_too_many(void **state)
{
	size_t n = SNP_CERTS_MAX_ENTRIES + 1, len = (n + 1) * 24 + 1;
	uint8_t *b = calloc(1, len);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		b[i * 24] = 0x11;
		b[i * 24 + 1] = (uint8_t)i;
		put_le32(b + i * 24 + 16, (uint32_t)(len - 1));
		put_le32(b + i * 24 + 20, 1);
	}
	expect_bad(b, len, "certs.count");
	free(b);
}

static void test_snp_certs_bad_too_big(void **state)
{
	uint8_t *b = calloc(1, SNP_CERTS_MAX_SIZE + 1);

	(void)state;
	expect_bad(b, SNP_CERTS_MAX_SIZE + 1, "certs.size");
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snp_certs_roundtrip),
		cmocka_unit_test(test_snp_certs_empty),
		cmocka_unit_test(test_snp_certs_mixed_endian_guid),
		cmocka_unit_test(test_snp_certs_bad_no_terminator),
		cmocka_unit_test(test_snp_certs_bad_offset_inside_table),
		cmocka_unit_test(test_snp_certs_bad_length_past_end),
		cmocka_unit_test(test_snp_certs_bad_zero_length),
		cmocka_unit_test(test_snp_certs_bad_duplicate),
		cmocka_unit_test(test_snp_certs_bad_too_many),
		cmocka_unit_test(test_snp_certs_bad_too_big),
	};
	return cmocka_run_group_tests_name("snp-certs", tests, NULL, NULL);
}
