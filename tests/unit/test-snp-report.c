// SPDX-License-Identifier: Apache-2.0
#include "testutil.h"

#include <errno.h>

#include "snp-report.h"

static void expect_bad(const uint8_t *buf, size_t len, const char *what)
{
	struct snp_report rep;
	struct kagi_err e = { 0 };

	assert_int_equal(snp_report_decode(buf, len, &rep, &e), -EBADMSG);
	if (strcmp(e.what, what))
		fail_msg("expected %s, got %s: %s", what, e.what, e.msg);
}

static uint8_t *milan_v2(void)
{
	size_t len;
	uint8_t *b = testdata_read("snp/go-sev-guest/milan_v2_attestation.bin", &len);

	assert_int_equal(len, SNP_REPORT_SIZE);
	return b;
}

static void test_snp_report_decode_real_fields(void **state)
{
	uint8_t *b = milan_v2();
	struct snp_report rep;
	struct snp_tcb t;
	char hex[129];

	(void)state;
	assert_int_equal(snp_report_decode(b, SNP_REPORT_SIZE, &rep, NULL), 0);
	assert_int_equal(rep.version, 2);
	assert_int_equal(rep.policy, 0xb0000);
	assert_int_equal(rep.vmpl, 0);
	assert_int_equal(rep.platform_info, 1);
	assert_int_equal(rep.reported_tcb, 0x4405000000000002ULL);
	t = snp_tcb_decode(rep.reported_tcb, SNP_PRODUCT_MILAN);
	assert_int_equal(t.bl, 2);
	assert_int_equal(t.snp, 5);
	assert_int_equal(t.ucode, 68);
	assert_string_equal(hex_encode(rep.measurement, 48, hex),
			    "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a"
			    "9ece31a5a608eb0cf2e4872b01");
	assert_string_equal(hex_encode(rep.report_id, 32, hex),
			    "8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a");
	assert_int_equal(rep.current_major, 1);
	assert_int_equal(rep.current_minor, 49);
	assert_int_equal(rep.current_build, 3);
	assert_int_equal(snp_report_product(&rep), SNP_PRODUCT_UNKNOWN); /* v2 Milan/Genoa */
	free(b);
}

static void test_snp_report_encode_roundtrip(void **state)
{
	static const char *const files[] = { "snp/go-sev-guest/milan_v2_attestation.bin",
					     "snp/trustee/test-vlek-report.bin",
					     "snp/oak/genoa_oc_report.bin" };
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		size_t len;
		uint8_t *b = testdata_read(files[i], &len), out[SNP_REPORT_SIZE];
		struct snp_report rep;

		assert_int_equal(snp_report_decode(b, len, &rep, NULL), 0);
		snp_report_encode(&rep, out);
		assert_memory_equal(b, out, SNP_REPORT_SIZE);
		free(b);
	}
}

static void test_snp_report_v5_and_product(void **state)
{
	size_t len;
	uint8_t *b = testdata_read("snp/oak/genoa_oc_report.bin", &len);
	struct snp_report rep;

	(void)state;
	assert_int_equal(snp_report_decode(b, len, &rep, NULL), 0);
	assert_int_equal(rep.version, 5);
	assert_int_equal(rep.launch_mit_vector, 1);
	assert_int_equal(rep.current_mit_vector, 1);
	assert_int_equal(snp_report_product(&rep), SNP_PRODUCT_GENOA);
	free(b);
}

static void test_snp_report_decode_bad_size(void **state)
{
	uint8_t *b = milan_v2();

	(void)state;
	expect_bad(b, SNP_REPORT_SIZE - 1, "report.size");
	expect_bad(b, 0, "report.size");
	free(b);
}

static void test_snp_report_decode_bad_version(void **state)
{
	uint8_t *b = milan_v2();

	(void)state;
	b[0] = 1;
	expect_bad(b, SNP_REPORT_SIZE, "report.version");
	b[0] = 6;
	expect_bad(b, SNP_REPORT_SIZE, "report.version");
	free(b);
}

static void test_snp_report_decode_bad_reserved(void **state)
{
	static const struct {
		size_t off;
		const char *what;
	} cases[] = { { 0x04C, "report.reserved_0x04c" },     { 0x188, "report.reserved_0x188" },
		      { 0x1A0 - 1, "report.reserved_0x18b" }, { 0x1EB, "report.reserved_0x1eb" },
		      { 0x1EF, "report.reserved_0x1ef" },     { 0x1F8, "report.reserved_0x1f8" },
		      { 0x29F, "report.reserved_0x208" } };
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t *b = milan_v2();

		b[cases[i].off] = 0x80;
		expect_bad(b, SNP_REPORT_SIZE, cases[i].what);
		free(b);
	}
}

static void test_snp_report_decode_bad_key_info(void **state)
{
	uint8_t *b = milan_v2();

	(void)state;
	b[0x48] = 0x20; /* bit 5: MBZ */
	expect_bad(b, SNP_REPORT_SIZE, "report.key_info");
	free(b);
}

static void test_snp_report_v3_cpuid_not_reserved(void **state)
{
	uint8_t *b = milan_v2();
	struct snp_report rep;

	(void)state;
	b[0] = 3;
	b[0x188] = 0x1a;
	b[0x189] = 0x02;
	assert_int_equal(snp_report_decode(b, SNP_REPORT_SIZE, &rep, NULL), 0);
	assert_int_equal(snp_report_product(&rep), SNP_PRODUCT_TURIN);
	free(b);
}

static void test_snp_tcb_layouts(void **state)
{
	struct snp_tcb t = snp_tcb_decode(0x4700000002000100ULL, SNP_PRODUCT_TURIN);

	(void)state;
	assert_int_equal(t.fmc, 0);
	assert_int_equal(t.bl, 1);
	assert_int_equal(t.tee, 0);
	assert_int_equal(t.snp, 2);
	assert_int_equal(t.ucode, 0x47);
	assert_int_equal(snp_tcb_encode(&t, SNP_PRODUCT_TURIN), 0x4700000002000100ULL);
	t = snp_tcb_decode(0xdb18000000000004ULL, SNP_PRODUCT_MILAN);
	assert_int_equal(t.bl, 4);
	assert_int_equal(t.snp, 0x18);
	assert_int_equal(t.ucode, 0xdb);
}

static void test_snp_signature_rs_roundtrip(void **state)
{
	struct snp_report rep = { 0 };
	uint8_t r[48], s[48], r2[48], s2[48];

	(void)state;
	for (int i = 0; i < 48; i++)
		r[i] = (uint8_t)i, s[i] = (uint8_t)(0xff - i);
	snp_report_set_signature_rs(&rep, r, s);
	assert_int_equal(rep.signature[0], 47); /* little-endian: least significant first */
	assert_int_equal(rep.signature[0x48], 0xff - 47);
	snp_report_signature_rs(&rep, r2, s2);
	assert_memory_equal(r, r2, 48);
	assert_memory_equal(s, s2, 48);
}

static void test_snp_report_json(void **state)
{
	uint8_t *b = milan_v2();
	struct snp_report rep;
	json_object *o, *v;

	(void)state;
	assert_int_equal(snp_report_decode(b, SNP_REPORT_SIZE, &rep, NULL), 0);
	o = snp_report_to_json(&rep, SNP_PRODUCT_MILAN);
	assert_true(json_object_object_get_ex(o, "policy_bits", &v));
	assert_true(json_object_object_get_ex(v, "DEBUG", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "reported_tcb", &v));
	assert_true(json_object_object_get_ex(v, "ucode", &v));
	assert_int_equal(json_object_get_int(v), 68);
	json_object_put(o);
	free(b);
}

static void test_snp_product_names(void **state)
{
	(void)state;
	assert_int_equal(snp_product_from_name("Milan-B0"), SNP_PRODUCT_MILAN);
	assert_int_equal(snp_product_from_name("ARK-Genoa"), SNP_PRODUCT_GENOA);
	assert_int_equal(snp_product_from_name("Turin"), SNP_PRODUCT_TURIN);
	assert_int_equal(snp_product_from_name("Naples"), SNP_PRODUCT_UNKNOWN);
	assert_int_equal(snp_product_from_name(NULL), SNP_PRODUCT_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snp_report_decode_real_fields),
		cmocka_unit_test(test_snp_report_encode_roundtrip),
		cmocka_unit_test(test_snp_report_v5_and_product),
		cmocka_unit_test(test_snp_report_decode_bad_size),
		cmocka_unit_test(test_snp_report_decode_bad_version),
		cmocka_unit_test(test_snp_report_decode_bad_reserved),
		cmocka_unit_test(test_snp_report_decode_bad_key_info),
		cmocka_unit_test(test_snp_report_v3_cpuid_not_reserved),
		cmocka_unit_test(test_snp_tcb_layouts),
		cmocka_unit_test(test_snp_signature_rs_roundtrip),
		cmocka_unit_test(test_snp_report_json),
		cmocka_unit_test(test_snp_product_names),
	};
	return cmocka_run_group_tests_name("snp-report", tests, NULL, NULL);
}
