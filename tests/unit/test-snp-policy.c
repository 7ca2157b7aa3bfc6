// SPDX-License-Identifier: Apache-2.0
#include "testutil.h"

#include <errno.h>

#include "snp-policy.h"

static struct snp_report base(void)
{
	struct snp_report r = { 0 };
	struct snp_tcb t = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 };

	r.version = 3;
	r.policy = 0x30000;
	r.reported_tcb = snp_tcb_encode(&t, SNP_PRODUCT_MILAN);
	r.platform_info = 1;
	r.current_major = r.committed_major = 1;
	r.current_minor = r.committed_minor = 55;
	r.current_build = r.committed_build = 20;
	memset(r.measurement, 0xaa, 48);
	memset(r.chip_id, 0xcc, 64);
	return r;
}

static void parse_bad(const char *json, const char *what)
{
	struct snp_policy p;
	struct kagi_err e = { 0 };

	assert_true(snp_policy_parse(json, strlen(json), &p, &e) < 0);
	if (!strstr(e.what, what))
		fail_msg("%s: expected %s, got %s: %s", json, what, e.what, e.msg);
}

static void check(const char *json, const struct snp_report *r, const char *what)
{
	struct snp_policy p;
	struct kagi_err e = { 0 };
	int rc;

	if (snp_policy_parse(json, strlen(json), &p, &e) < 0)
		fail_msg("policy %s does not parse: %s", json, e.msg);
	rc = snp_policy_check(&p, r, SNP_PRODUCT_MILAN, &e);
	snp_policy_done(&p);
	if (!what) {
		if (rc < 0)
			fail_msg("%s: unexpected rejection %s: %s", json, e.what, e.msg);
		return;
	}
	assert_true(rc < 0);
	if (strcmp(e.what, what))
		fail_msg("%s: expected %s, got %s: %s", json, what, e.what, e.msg);
}

static void test_snp_policy_parse_bad(void **state)
{
	(void)state;
	parse_bad("{\"nope\": 1}", "policy");
	parse_bad("[]", "policy");
	parse_bad("{\"measurements\": [\"aa\"]}", "policy.measurements");
	parse_bad("{\"measurements\": \"aa\"}", "policy.measurements");
	parse_bad("{\"min_tcb\": {\"xx\": 1}}", "policy.min_tcb");
	parse_bad("{\"min_tcb\": {\"bl\": 256}}", "policy.min_tcb");
	parse_bad("{\"min_tcb\": {\"bl\": -1}}", "policy.min_tcb");
	parse_bad("{\"vmpls\": [4]}", "policy.vmpls");
	parse_bad("{\"vmpls\": []}", "policy.vmpls");
	parse_bad("{\"allow_debug\": 1}", "policy.allow_debug");
	parse_bad("{\"min_fw\": \"1.x\"}", "policy.min_fw");
	parse_bad("{\"min_abi\": \"1.2.3\"}", "policy.min_abi");
	parse_bad("{\"host_data\": \"zz\"}", "policy.host_data");
	parse_bad("{} {}", "policy.json");
	parse_bad("{\"a\":", "policy.json");
	parse_bad(
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		"policy.json");
}

static void test_snp_policy_check_each_rule(void **state)
{
	struct snp_report r = base();
	char json[512], m[97];

	(void)state;
	check("{}", &r, NULL);
	snprintf(json, sizeof(json), "{\"measurements\": [\"%s\"]}",
		 hex_encode(r.measurement, 48, m));
	check(json, &r, NULL);
	memset(m, 'b', 96);
	snprintf(json, sizeof(json), "{\"measurements\": [\"%s\"]}", m);
	check(json, &r, "policy.measurement");
	check("{\"min_tcb\": {\"bl\": 3, \"snp\": 8, \"ucode\": 115}}", &r, NULL);
	check("{\"min_tcb\": {\"ucode\": 116}}", &r, "policy.min_tcb");
	check("{\"min_tcb\": {\"snp\": 9}}", &r, "policy.min_tcb");
	check("{\"vmpls\": [1, 2]}", &r, "policy.vmpl");
	check("{\"platform_info_required\": \"0x4\"}", &r, "policy.platform_info");
	check("{\"platform_info_forbidden\": 1}", &r, "policy.platform_info");
	check("{\"min_fw\": \"1.55\"}", &r, NULL);
	check("{\"min_fw\": \"1.55.21\"}", &r, "policy.min_fw");
	check("{\"min_fw\": \"1.56\"}", &r, "policy.min_fw");
	check("{\"min_fw_build\": 21}", &r, "policy.min_fw_build");
	check("{\"min_guest_svn\": 1}", &r, "policy.min_guest_svn");
	check("{\"require_id_block\": true}", &r, "policy.id_block");
	check("{\"require_author_key\": true}", &r, "policy.author_key");
	check("{\"min_abi\": \"1.0\"}", &r, "policy.min_abi");
	check("{\"allow_smt\": false}", &r, "policy.smt");
	check("{\"require_policy_bits\": \"0x400000\"}", &r, "policy.require_policy_bits");
	check("{\"forbid_policy_bits\": \"0x10000\"}", &r, "policy.forbid_policy_bits");
	check("{\"host_data\": "
	      "\"0000000000000000000000000000000000000000000000000000000000000001\"}",
	      &r, "policy.host_data");
}

static void test_snp_policy_debug_default_refused(void **state)
{
	struct snp_report r = base();

	(void)state;
	r.policy |= SNP_POLICY_DEBUG;
	check("{}", &r, "policy.debug");
	check("{\"allow_debug\": true}", &r, NULL);
	r.policy |= SNP_POLICY_MIGRATE_MA;
	check("{\"allow_debug\": true}", &r, "policy.migrate_ma");
	r.policy = 0x10000; /* reserved bit 17 clear */
	check("{}", &r, "policy.guest_policy");
}

static void test_snp_policy_chip_allowlist(void **state)
{
	struct snp_report r = base();
	char json[300], c[129];

	(void)state;
	snprintf(json, sizeof(json), "{\"chip_ids\": [\"%s\"]}", hex_encode(r.chip_id, 64, c));
	check(json, &r, NULL);
	r.chip_id[0] ^= 1;
	check(json, &r, "policy.chip_id");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snp_policy_parse_bad),
		cmocka_unit_test(test_snp_policy_check_each_rule),
		cmocka_unit_test(test_snp_policy_debug_default_refused),
		cmocka_unit_test(test_snp_policy_chip_allowlist),
	};
	return cmocka_run_group_tests_name("snp-policy", tests, NULL, NULL);
}
