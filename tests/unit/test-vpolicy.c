// SPDX-License-Identifier: Apache-2.0
/* test-vpolicy.c: the verifier policy file: parsing with JSON-path errors, PCR and event rules. */
#include "testutil.h"

#include <errno.h>

#include <openssl/sha.h>

#include "vpolicy.h"

#define VOL_A "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
#define VOL_B "1b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
#define H32   "1111111111111111111111111111111111111111111111111111111111111111"
#define H20   "2222222222222222222222222222222222222222"
#define H48                                                                                        \
	"3333333333333333333333333333333333333333333333333333333333333333333333333333333333333333" \
	"33333333"

#define LOG_UBUNTU "eventlog/go-tpm-tools/ubuntu-2104-no-secure-boot.bin"

static int parse(const char *json, struct vpolicy *p, struct kagi_err *e)
{
	return vpolicy_parse(json, strlen(json), p, e);
}

static void parse_ok(const char *json, struct vpolicy *p)
{
	struct kagi_err e = { 0 };

	if (parse(json, p, &e) < 0)
		fail_msg("policy did not parse: %s: %s\n%s", e.what, e.msg, json);
}

/* The policy must be refused with a message that contains `msg` (and what = `what`). */
static void parse_bad(const char *json, const char *what, const char *msg)
{
	struct vpolicy p = { .ngroups = 12345 };
	struct kagi_err e = { 0 };
	int r = parse(json, &p, &e);

	if (r >= 0) {
		vpolicy_done(&p);
		fail_msg("accepted: %s", json);
	}
	if (!e.what || strcmp(e.what, what) || !strstr(e.msg, msg))
		fail_msg("%s\n  wanted %s '%s'\n  got    %s '%s'", json, what, msg,
			 e.what ? e.what : "(null)", e.msg);
	assert_int_equal(p.ngroups, 12345); /* untouched on failure */
}

/* A one-group policy with the group's members given as text. */
static void group_bad(const char *members, const char *msg)
{
	char json[4096];

	snprintf(json, sizeof(json), "{\"groups\": [{%s}]}", members);
	parse_bad(json, "vpolicy", msg);
}

#define BASE "\"name\": \"g\", \"snp\": {}, \"volumes\": [\"" VOL_A "\"]"

static const char full_policy[] =
	"{\n"
	"  \"_comment\": \"top-level comment\",\n"
	"  \"boot_phase_pcr\": 16,\n"
	"  \"groups\": [\n"
	"    {\n"
	"      \"_comment\": \"a group\",\n"
	"      \"name\": \"web.prod-1_a\",\n"
	"      \"snp\": {\"_why\": \"x\", \"measurements\": [\"" H48 "\"], "
	"\"vmpls\": [0]},\n"
	"      \"require_vtpm\": true,\n"
	"      \"pcrs\": {\"_c\": 1, \"sha256\": {\"_c\": 2, \"7\": \"" H32 "\", \"9\": \"" H32
	"\"}, \"sha1\": {\"0\": \"" H20 "\"}},\n"
	"      \"events\": [\n"
	"        {\"_c\": 3, \"pcr\": 9, \"type\": \"EV_IPL\", \"digest\": \"" H32 "\"},\n"
	"        {\"pcr\": 4, \"type\": 2147483651, \"digest\": \"" H20 "\"},\n"
	"        {\"pcr\": 8, \"type\": \"0x80000008\", \"digest\": \"" H48 "\"},\n"
	"        {\"pcr\": 23, \"type\": \"ev_separator\", \"digest\": \"" H32 H32 "\"}\n"
	"      ],\n"
	"      \"volumes\": [\"" VOL_A "\", \"" VOL_B "\"]\n"
	"    },\n"
	"    {\"name\": \"dev\", \"snp\": {\"allow_debug\": true}, \"volumes\": [\"" VOL_A "\"]}\n"
	"  ]\n"
	"}\n";

static void test_vpolicy_parse_full(void **state)
{
	struct vpolicy p;
	const struct vpolicy_group *g;
	uint8_t h32[32];

	(void)state;
	parse_ok(full_policy, &p);
	assert_int_equal(p.boot_phase_pcr, 16);
	assert_int_equal(p.ngroups, 2);
	g = &p.groups[0];
	assert_string_equal(g->name, "web.prod-1_a");
	assert_true(g->require_vtpm);
	assert_int_equal(g->snp.measurements.n, 1);
	assert_int_equal(g->snp.vmpl_mask, 1);
	/* pcrs */
	memset(h32, 0x11, sizeof(h32));
	assert_non_null(tpm_pcr_values_get(&g->pcrs, TPM2_ALG_SHA256, 7));
	assert_memory_equal(tpm_pcr_values_get(&g->pcrs, TPM2_ALG_SHA256, 9), h32, 32);
	assert_null(tpm_pcr_values_get(&g->pcrs, TPM2_ALG_SHA256, 8));
	assert_non_null(tpm_pcr_values_get(&g->pcrs, TPM2_ALG_SHA1, 0));
	/* events: type by name, by number, by hex string, case-insensitive name */
	assert_int_equal(g->nevents, 4);
	assert_int_equal(g->events[0].pcr, 9);
	assert_int_equal(g->events[0].type, EV_IPL);
	assert_int_equal(g->events[0].alg, EVENTLOG_ALG_SHA256);
	assert_int_equal(g->events[0].digest_len, 32);
	assert_memory_equal(g->events[0].digest, h32, 32);
	assert_int_equal(g->events[1].type, EV_EFI_BOOT_SERVICES_APPLICATION);
	assert_int_equal(g->events[1].alg, EVENTLOG_ALG_SHA1);
	assert_int_equal(g->events[2].type, EV_EFI_PLATFORM_FIRMWARE_BLOB);
	assert_int_equal(g->events[2].alg, EVENTLOG_ALG_SHA384);
	assert_int_equal(g->events[2].digest_len, 48);
	assert_int_equal(g->events[3].type, EV_SEPARATOR);
	assert_int_equal(g->events[3].alg, EVENTLOG_ALG_SHA512);
	/* volumes */
	assert_int_equal(g->nvolumes, 2);
	assert_true(vpolicy_group_has_volume(g, VOL_A));
	assert_true(vpolicy_group_has_volume(g, VOL_B));
	assert_false(vpolicy_group_has_volume(g, "2b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"));
	/* second group: defaults */
	g = &p.groups[1];
	assert_string_equal(g->name, "dev");
	assert_false(g->require_vtpm);
	assert_true(g->snp.allow_debug);
	assert_int_equal(g->pcrs.nbanks, 0);
	assert_int_equal(g->nevents, 0);
	assert_false(vpolicy_group_has_volume(g, VOL_B));
	vpolicy_done(&p);
	assert_int_equal(p.ngroups, 0);
	assert_null(p.groups);
}

static void test_vpolicy_parse_defaults(void **state)
{
	struct vpolicy p;

	(void)state;
	parse_ok("{\"groups\": [{" BASE "}]}", &p);
	assert_int_equal(p.boot_phase_pcr, 15);
	assert_false(p.groups[0].snp.allow_debug); /* DEBUG refused by default */
	vpolicy_done(&p);
}

static void test_vpolicy_parse_bad_json(void **state)
{
	(void)state;
	parse_bad("{\"groups\": [", "vpolicy.json", "invalid JSON");
	parse_bad("{\"groups\": []} x", "vpolicy.json", "invalid JSON");
	parse_bad("{\"groups\": [],}", "vpolicy.json", "invalid JSON");
	parse_bad("", "vpolicy.json", "invalid JSON");
	/* depth limit */
	parse_bad("{\"groups\": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}", "vpolicy.json",
		  "invalid JSON");
	{
		struct vpolicy p;
		struct kagi_err e = { 0 };
		const char nul[] = "{\"groups\"\0: []}";

		assert_int_equal(vpolicy_parse(nul, sizeof(nul) - 1, &p, &e), -EINVAL);
		assert_string_equal(e.what, "vpolicy.json");
		assert_int_equal(e.off, 9);
	}
}

static void test_vpolicy_parse_bad_top(void **state)
{
	(void)state;
	parse_bad("[]", "vpolicy", "(top level): the policy must be a JSON object, not an array");
	parse_bad("{}", "vpolicy", "(top level): member 'groups' is required");
	parse_bad("{\"groups\": [{" BASE "}], \"extra\": 1}", "vpolicy",
		  "(top level): unknown member 'extra'");
	parse_bad("{\"groups\": {}}", "vpolicy",
		  "groups: must be an array of groups, not an object");
	parse_bad("{\"groups\": []}", "vpolicy", "groups: must have at least one group");
	parse_bad("{\"boot_phase_pcr\": 24, \"groups\": [{" BASE "}]}", "vpolicy",
		  "boot_phase_pcr: 24 is out of range 0..23");
	parse_bad("{\"boot_phase_pcr\": -1, \"groups\": [{" BASE "}]}", "vpolicy",
		  "boot_phase_pcr: -1 is out of range");
	parse_bad("{\"boot_phase_pcr\": \"15\", \"groups\": [{" BASE "}]}", "vpolicy",
		  "boot_phase_pcr: must be a number from 0 to 23, not a string");
	parse_bad("{\"groups\": [{" BASE "}, 3]}", "vpolicy", "groups[1]: must be an object");
}

static void test_vpolicy_parse_bad_too_many_groups(void **state)
{
	size_t cap = (VPOLICY_MAX_GROUPS + 2) * 100 + 64, n = 0;
	char *json = malloc(cap);

	(void)state;
	assert_non_null(json);
	n += (size_t)snprintf(json + n, cap - n, "{\"groups\": [");
	for (int i = 0; i <= VPOLICY_MAX_GROUPS; i++)
		n += (size_t)snprintf(json + n, cap - n,
				      "%s{\"name\": \"g%d\", \"snp\": {}, \"volumes\": [\"" VOL_A
				      "\"]}",
				      i ? "," : "", i);
	snprintf(json + n, cap - n, "]}");
	parse_bad(json, "vpolicy", "groups: has 257 groups, at most 256");
	free(json);
}

static void test_vpolicy_parse_bad_group(void **state)
{
	(void)state;
	group_bad(BASE ", \"colour\": 1", "groups[0]: unknown member 'colour'");
	group_bad("\"snp\": {}, \"volumes\": [\"" VOL_A "\"]", "groups[0]: member 'name' is "
							       "required");
	group_bad("\"name\": \"g\", \"volumes\": [\"" VOL_A "\"]", "groups[0]: member 'snp' is "
								   "required");
	group_bad("\"name\": \"g\", \"snp\": {}", "groups[0]: member 'volumes' is required");
	group_bad(BASE ", \"require_vtpm\": 1", "groups[0].require_vtpm: must be true or false");
}

static void test_vpolicy_parse_bad_name(void **state)
{
	(void)state;
	group_bad("\"name\": \"a b\", \"snp\": {}, \"volumes\": [\"" VOL_A "\"]",
		  "groups[0].name: 'a b' is not 1 to 63 characters");
	group_bad("\"name\": \"\", \"snp\": {}, \"volumes\": [\"" VOL_A "\"]",
		  "groups[0].name: '' is not");
	group_bad("\"name\": \"0123456789012345678901234567890123456789012345678901234567890123\", "
		  "\"snp\": {}, \"volumes\": [\"" VOL_A "\"]",
		  "is not 1 to 63");
	group_bad("\"name\": 7, \"snp\": {}, \"volumes\": [\"" VOL_A "\"]",
		  "groups[0].name: must be a string, not a number");
	group_bad("\"name\": \"caf\xc3\xa9\", \"snp\": {}, \"volumes\": [\"" VOL_A "\"]",
		  "groups[0].name");
	parse_bad("{\"groups\": [{" BASE "}, {\"name\": \"h\", \"snp\": {}, \"volumes\": [\"" VOL_A
		  "\"]}, {" BASE "}]}",
		  "vpolicy", "groups[2].name: 'g' is already the name of groups[0]");
}

static void test_vpolicy_parse_bad_snp(void **state)
{
	(void)state;
	group_bad("\"name\": \"g\", \"snp\": [], \"volumes\": [\"" VOL_A "\"]",
		  "groups[0].snp: must be an object (it may be {}), not an array");
	group_bad("\"name\": \"g\", \"snp\": {\"measurements\": [\"aa\"]}, \"volumes\": [\"" VOL_A
		  "\"]",
		  "groups[0].snp: measurements: entry 0: must be a string of 96 hex digits");
	group_bad("\"name\": \"g\", \"snp\": {\"debug\": false}, \"volumes\": [\"" VOL_A "\"]",
		  "groups[0].snp: unknown member 'debug'");
	group_bad("\"name\": \"g\", \"snp\": {\"min_tcb\": {\"bl\": 256}}, \"volumes\": [\"" VOL_A
		  "\"]",
		  "groups[0].snp: min_tcb:");
	/* '_' members are dropped inside nested snp objects too */
	{
		struct vpolicy p;

		parse_ok("{\"groups\": [{\"name\": \"g\", \"snp\": {\"min_tcb\": {\"_c\": 1, "
			 "\"bl\": 3}}, \"volumes\": [\"" VOL_A "\"]}]}",
			 &p);
		assert_true(p.groups[0].snp.has_min_tcb);
		assert_int_equal(p.groups[0].snp.min_tcb.bl, 3);
		vpolicy_done(&p);
	}
}

static void test_vpolicy_parse_bad_pcrs(void **state)
{
	(void)state;
	group_bad(BASE ", \"pcrs\": []", "groups[0].pcrs: must be an object");
	group_bad(BASE ", \"pcrs\": {\"sha265\": {\"7\": \"" H32 "\"}}",
		  "groups[0].pcrs: 'sha265' is not a PCR bank name");
	group_bad(BASE ", \"pcrs\": {\"sha256\": [\"" H32 "\"]}",
		  "groups[0].pcrs: sha256: must be an object");
	group_bad(BASE ", \"pcrs\": {}", "groups[0].pcrs: no PCR values");
	group_bad(BASE ", \"pcrs\": {\"sha256\": {}}", "groups[0].pcrs: no PCR values");
	group_bad(BASE ", \"pcrs\": {\"sha256\": {\"7\": \"" H20 "\"}}",
		  "groups[0].pcrs: sha256 PCR 7: '" H20 "' is not 64 hex digits");
	group_bad(BASE ", \"pcrs\": {\"sha256\": {\"32\": \"" H32 "\"}}",
		  "groups[0].pcrs: sha256: key '32' is not a PCR index");
	group_bad(BASE ", \"pcrs\": {\"sha256\": {\"seven\": \"" H32 "\"}}",
		  "groups[0].pcrs: sha256: key 'seven'");
	group_bad(BASE ", \"pcrs\": {\"sha256\": {\"7\": 7}}",
		  "groups[0].pcrs: sha256 PCR 7: value is not a hex string");
}

static void test_vpolicy_parse_bad_events(void **state)
{
	char json[8192];
	size_t n = 0;

	(void)state;
	group_bad(BASE ", \"events\": {}", "groups[0].events: must be an array of events");
	group_bad(BASE ", \"events\": [1]", "groups[0].events[0]: must be an object");
	group_bad(BASE ", \"events\": [{\"type\": \"EV_IPL\", \"digest\": \"" H32 "\"}]",
		  "groups[0].events[0]: member 'pcr' is required");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"digest\": \"" H32 "\"}]",
		  "groups[0].events[0]: member 'type' is required");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": \"EV_IPL\"}]",
		  "groups[0].events[0]: member 'digest' is required");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": 6, \"digest\": \"" H32
		       "\", \"bank\": \"sha256\"}]",
		  "groups[0].events[0]: unknown member 'bank'");
	group_bad(BASE ", \"events\": [{\"pcr\": 32, \"type\": 6, \"digest\": \"" H32 "\"}]",
		  "groups[0].events[0].pcr: 32 is out of range 0..31");
	group_bad(BASE ", \"events\": [{\"pcr\": -1, \"type\": 6, \"digest\": \"" H32 "\"}]",
		  "groups[0].events[0].pcr: -1 is out of range");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": \"EV_NOPE\", \"digest\": \"" H32
		       "\"}]",
		  "groups[0].events[0].type: 'EV_NOPE' is not a known event type");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": true, \"digest\": \"" H32 "\"}]",
		  "groups[0].events[0].type: must be an event type name");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": 4294967296, \"digest\": \"" H32
		       "\"}]",
		  "groups[0].events[0].type: 4294967296 is out of range");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": 6, \"digest\": \"abc\"}]",
		  "groups[0].events[0].digest: must be a SHA-1, SHA-256, SHA-384 or SHA-512 "
		  "digest (40, 64, 96 or 128 hex digits), not 3 characters");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": 6, \"digest\": \"" H32 "00\"}]",
		  "not 66 characters");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": 6, \"digest\": "
		       "\"zz22222222222222222222222222222222222222\"}]",
		  "groups[0].events[0].digest: 'zz22");
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": 6, \"digest\": 5}]",
		  "groups[0].events[0].digest: must be a hex string, not a number");
	/* the second event is the bad one: its index is named */
	group_bad(BASE ", \"events\": [{\"pcr\": 9, \"type\": 6, \"digest\": \"" H32
		       "\"}, {\"pcr\": 9, \"type\": 6, \"digest\": \"\"}]",
		  "groups[0].events[1].digest");
	/* at most VPOLICY_MAX_EVENTS */
	n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"groups\": [{" BASE ", \"events\": [");
	for (int i = 0; i <= VPOLICY_MAX_EVENTS; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n,
				      "%s{\"pcr\": 9, \"type\": 6, \"digest\": \"" H20 "\"}",
				      i ? "," : "");
	snprintf(json + n, sizeof(json) - n, "]}]}");
	parse_bad(json, "vpolicy", "groups[0].events: has 65 events, at most 64");
}

static void test_vpolicy_parse_bad_volumes(void **state)
{
	(void)state;
	group_bad("\"name\": \"g\", \"snp\": {}, \"volumes\": []",
		  "groups[0].volumes: must list at least one volume");
	group_bad("\"name\": \"g\", \"snp\": {}, \"volumes\": \"" VOL_A "\"",
		  "groups[0].volumes: must be an array of volume UUIDs, not a string");
	group_bad("\"name\": \"g\", \"snp\": {}, \"volumes\": [null]",
		  "groups[0].volumes[0]: must be a UUID string, not null");
	group_bad("\"name\": \"g\", \"snp\": {}, \"volumes\": [\"" VOL_A
		  "\", \"0B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9\"]",
		  "groups[0].volumes[1]: '0B1C2D3E-4F50-4617-8293-A4B5C6D7E8F9' is not a canonical "
		  "lowercase UUID");
	group_bad(
		"\"name\": \"g\", \"snp\": {}, \"volumes\": [\"0b1c2d3e4f5046178293a4b5c6d7e8f9\"]",
		"not a canonical lowercase UUID");
	group_bad("\"name\": \"g\", \"snp\": {}, \"volumes\": [\"" VOL_A "\", \"" VOL_B
		  "\", \"" VOL_A "\"]",
		  "groups[0].volumes[2]: " VOL_A " is already listed as groups[0].volumes[0]");
	/* the example from the brief: second group, first volume */
	parse_bad("{\"groups\": [{" BASE "}, {\"name\": \"h\", \"snp\": {}, \"volumes\": "
		  "[\"not-a-uuid\"]}]}",
		  "vpolicy",
		  "groups[1].volumes[0]: 'not-a-uuid' is not a canonical lowercase UUID");
}

static void test_vpolicy_load_bad_file(void **state)
{
	struct vpolicy p;
	struct kagi_err e = { 0 };

	(void)state;
	assert_int_equal(vpolicy_load("/nonexistent/policy.json", &p, &e), -ENOENT);
	assert_string_equal(e.what, "vpolicy.file");
	assert_non_null(strstr(e.msg, "/nonexistent/policy.json"));
}

/* The documented example policy parses. */
static void test_vpolicy_load_example(void **state)
{
	const char *root = getenv("KAGI_SOURCE_ROOT");
	char path[4096];
	struct vpolicy p;
	struct kagi_err e = { 0 };

	(void)state;
	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/contrib/examples/policy.json", root);
	if (vpolicy_load(path, &p, &e) < 0)
		fail_msg("%s: %s", path, e.msg);
	assert_true(p.ngroups >= 2);
	vpolicy_done(&p);
}

/* ---- checks ---------------------------------------------------------------------------------- */

static void check_expect(const struct vpolicy_group *g, const struct tpm_pcr_values *v,
			 const struct eventlog *log, const char *what, const char *msg)
{
	struct kagi_err e = { 0 };
	int r = vpolicy_check_tpm(g, v, log, &e);

	if (!what) {
		if (r < 0)
			fail_msg("unexpected refusal: %s: %s", e.what, e.msg);
		return;
	}
	if (r != -EKEYREJECTED || strcmp(e.what, what) || !strstr(e.msg, msg))
		fail_msg("wanted %s '%s', got %d %s '%s'", what, msg, r, e.what ? e.what : "-",
			 e.msg);
}

static void test_vpolicy_check_pcrs(void **state)
{
	struct vpolicy p;
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	uint8_t d[32];

	(void)state;
	parse_ok("{\"groups\": [{" BASE ", \"pcrs\": {\"sha256\": {\"7\": \"" H32
		 "\", \"8\": \"" H32
		 "\"}}}, {\"name\": \"norules\", \"snp\": {}, \"volumes\": [\"" VOL_A "\"]}]}",
		 &p);
	memset(d, 0x11, sizeof(d));
	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 7, d, 32, NULL), 0);
	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 0, d, 32, NULL), 0);
	check_expect(&p.groups[0], v, NULL, "policy.pcr",
		     "PCR 8 (sha256) was not quoted, expected " H32);
	check_expect(&p.groups[0], NULL, NULL, "policy.pcr", "was not sent (no TPM evidence)");
	d[31] = 0x12;
	assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, 8, d, 32, NULL), 0);
	check_expect(
		&p.groups[0], v, NULL, "policy.pcr",
		"PCR 8 (sha256) is "
		"1111111111111111111111111111111111111111111111111111111111111112, expected " H32);
	/* a group without rules passes without any TPM evidence */
	check_expect(&p.groups[1], NULL, NULL, NULL, NULL);
	vpolicy_done(&p);
	/* all equal: passes; extra quoted PCRs and banks do not matter */
	parse_ok("{\"groups\": [{" BASE ", \"pcrs\": {\"sha256\": {\"7\": \"" H32 "\"}}}]}", &p);
	check_expect(&p.groups[0], v, NULL, NULL, NULL);
	vpolicy_done(&p);
	/* the rule's bank must be the one compared */
	parse_ok("{\"groups\": [{" BASE ", \"pcrs\": {\"sha1\": {\"7\": \"" H20 "\"}}}]}", &p);
	check_expect(&p.groups[0], v, NULL, "policy.pcr", "PCR 7 (sha1) was not quoted");
	vpolicy_done(&p);
	free(v);
}

struct real_log {
	uint8_t *buf;
	size_t len;
	struct eventlog log;
};

static void load_log(struct real_log *l)
{
	struct kagi_err e = { 0 };

	l->buf = testdata_read(LOG_UBUNTU, &l->len);
	if (eventlog_decode(l->buf, l->len, &l->log, &e) < 0)
		fail_msg("decode: %s", e.msg);
}

static void check_events(const struct eventlog *log, const char *events, const char *what,
			 const char *msg)
{
	char json[2048];
	struct vpolicy p;

	snprintf(json, sizeof(json), "{\"groups\": [{" BASE ", \"events\": [%s]}]}", events);
	parse_ok(json, &p);
	check_expect(&p.groups[0], NULL, log, what, msg);
	vpolicy_done(&p);
}

/* Rules against a real crypto-agile log (Ubuntu 21.04 on GCE, sha1/sha256/sha384 banks). */
static void test_vpolicy_check_events_real_log(void **state)
{
	/* SHA-256 and SHA-1 of the 4 zero bytes of an EV_SEPARATOR, computed here */
	static const uint8_t zero4[4] = { 0 };
	uint8_t d256[32], d1[20];
	char h256[65], h1[41], ev[512];
	struct real_log l = { 0 };

	(void)state;
	load_log(&l);
	SHA256(zero4, 4, d256);
	SHA1(zero4, 4, d1);
	hex_encode(d256, 32, h256);
	hex_encode(d1, 20, h1);

	/* separators in PCR 7, by name and by number, in the sha256 and the sha1 bank */
	snprintf(ev, sizeof(ev), "{\"pcr\": 7, \"type\": \"EV_SEPARATOR\", \"digest\": \"%s\"}",
		 h256);
	check_events(&l.log, ev, NULL, NULL);
	snprintf(ev, sizeof(ev), "{\"pcr\": 7, \"type\": 4, \"digest\": \"%s\"}", h1);
	check_events(&l.log, ev, NULL, NULL);
	/* the shim's Authenticode digest, measured in PCR 4 (from the log's own listing) */
	check_events(&l.log,
		     "{\"pcr\": 4, \"type\": \"EV_EFI_BOOT_SERVICES_APPLICATION\", \"digest\": "
		     "\"6265b732b005b3f330bcd1843374e5ec6ec5aef27cdb97a23daeb8580abbf526\"}",
		     NULL, NULL);
	/* several rules: all must match */
	snprintf(ev, sizeof(ev),
		 "{\"pcr\": 7, \"type\": \"EV_SEPARATOR\", \"digest\": \"%s\"}, "
		 "{\"pcr\": 4, \"type\": \"EV_EFI_BOOT_SERVICES_APPLICATION\", \"digest\": "
		 "\"6265b732b005b3f330bcd1843374e5ec6ec5aef27cdb97a23daeb8580abbf526\"}",
		 h256);
	check_events(&l.log, ev, NULL, NULL);

	/* must not match: the same digest with another PCR, another type, a changed digest */
	check_events(&l.log,
		     "{\"pcr\": 5, \"type\": \"EV_EFI_BOOT_SERVICES_APPLICATION\", \"digest\": "
		     "\"6265b732b005b3f330bcd1843374e5ec6ec5aef27cdb97a23daeb8580abbf526\"}",
		     "policy.event",
		     "required event 0 (PCR 5, EV_EFI_BOOT_SERVICES_APPLICATION, sha256 "
		     "6265b732b005b3f330bcd1843374e5ec6ec5aef27cdb97a23daeb8580abbf526): none of "
		     "the");
	check_events(&l.log,
		     "{\"pcr\": 4, \"type\": \"EV_EFI_BOOT_SERVICES_DRIVER\", \"digest\": "
		     "\"6265b732b005b3f330bcd1843374e5ec6ec5aef27cdb97a23daeb8580abbf526\"}",
		     "policy.event", "(0 with this PCR and type");
	check_events(&l.log,
		     "{\"pcr\": 4, \"type\": \"EV_EFI_BOOT_SERVICES_APPLICATION\", \"digest\": "
		     "\"6265b732b005b3f330bcd1843374e5ec6ec5aef27cdb97a23daeb8580abbf527\"}",
		     "policy.event", "(2 with this PCR and type, 2 of them with a sha256 digest)");
	/* a SHA-512 digest: the log has no such bank */
	snprintf(ev, sizeof(ev), "{\"pcr\": 7, \"type\": 4, \"digest\": \"%s%s\"}", h256, h256);
	check_events(&l.log, ev, "policy.event", "0 of them with a sha512 digest");
	/* the first rule matches, the second does not: the second is named */
	snprintf(ev, sizeof(ev),
		 "{\"pcr\": 7, \"type\": 4, \"digest\": \"%s\"}, {\"pcr\": 9, \"type\": 4, "
		 "\"digest\": \"%s\"}",
		 h256, h256);
	check_events(&l.log, ev, "policy.event", "required event 1 (PCR 9, EV_SEPARATOR");
	/* no log at all */
	check_events(NULL, "{\"pcr\": 7, \"type\": 4, \"digest\": \"" H32 "\"}", "policy.event",
		     "no event log was sent");
	eventlog_done(&l.log);
	free(l.buf);
}

/* PCR rules from the published expected values, against the log's replay. */
static void test_vpolicy_check_pcrs_real_log(void **state)
{
	struct real_log l = { 0 };
	struct eventlog_pcrs *rp = calloc(1, sizeof(*rp));
	struct tpm_pcr_values *v = calloc(1, sizeof(*v));
	struct kagi_err e = { 0 };
	json_object *exp = NULL, *entry, *banks, *sha256;
	uint8_t *jbuf;
	size_t jlen;
	char json[4096], *pcrs_text;
	struct vpolicy p;

	(void)state;
	load_log(&l);
	assert_int_equal(eventlog_replay(&l.log, rp, &e), 0);
	for (unsigned i = 0; i < EVENTLOG_NUM_PCRS; i++) {
		const uint8_t *val = eventlog_pcrs_get(rp, EVENTLOG_ALG_SHA256, i);

		assert_non_null(val);
		assert_int_equal(tpm_pcr_values_set(v, TPM2_ALG_SHA256, i, val, 32, NULL), 0);
	}
	/* expected values published with the log (go-tpm-tools) */
	jbuf = testdata_read("eventlog/go-tpm-tools/expected_pcrs.json", &jlen);
	exp = json_tokener_parse((const char *)jbuf);
	assert_non_null(exp);
	assert_true(json_object_object_get_ex(exp, "Ubuntu2104NoSecureBootGCE", &entry));
	assert_true(json_object_object_get_ex(entry, "expected_pcrs", &banks));
	assert_true(json_object_object_get_ex(banks, "sha256", &sha256));
	pcrs_text = strdup(json_object_to_json_string_ext(sha256, JSON_C_TO_STRING_PLAIN));
	snprintf(json, sizeof(json), "{\"groups\": [{" BASE ", \"pcrs\": {\"sha256\": %s}}]}",
		 pcrs_text);
	parse_ok(json, &p);
	assert_true(p.groups[0].pcrs.bank[0].present[4]);
	check_expect(&p.groups[0], v, NULL, NULL, NULL);
	vpolicy_done(&p);
	/* one expected value changed: refused, naming the PCR, the actual and expected values */
	{
		char bad[4096], *pos = strstr(pcrs_text, "\"8\":\"");

		assert_non_null(pos);
		pos += 5;
		*pos = *pos == '0' ? '1' : '0';
		snprintf(bad, sizeof(bad), "{\"groups\": [{" BASE ", \"pcrs\": {\"sha256\": %s}}]}",
			 pcrs_text);
		parse_ok(bad, &p);
		check_expect(&p.groups[0], v, NULL, "policy.pcr",
			     "PCR 8 (sha256) is "
			     "b9a324947de94ec2fd4b04483ecfcb37dfdd520a7c0ecf73c77bf2595549c84f, "
			     "expected ");
		vpolicy_done(&p);
	}
	free(pcrs_text);
	json_object_put(exp);
	free(jbuf);
	free(v);
	free(rp);
	eventlog_done(&l.log);
	free(l.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vpolicy_parse_full),
		cmocka_unit_test(test_vpolicy_parse_defaults),
		cmocka_unit_test(test_vpolicy_parse_bad_json),
		cmocka_unit_test(test_vpolicy_parse_bad_top),
		cmocka_unit_test(test_vpolicy_parse_bad_too_many_groups),
		cmocka_unit_test(test_vpolicy_parse_bad_group),
		cmocka_unit_test(test_vpolicy_parse_bad_name),
		cmocka_unit_test(test_vpolicy_parse_bad_snp),
		cmocka_unit_test(test_vpolicy_parse_bad_pcrs),
		cmocka_unit_test(test_vpolicy_parse_bad_events),
		cmocka_unit_test(test_vpolicy_parse_bad_volumes),
		cmocka_unit_test(test_vpolicy_load_bad_file),
		cmocka_unit_test(test_vpolicy_load_example),
		cmocka_unit_test(test_vpolicy_check_pcrs),
		cmocka_unit_test(test_vpolicy_check_events_real_log),
		cmocka_unit_test(test_vpolicy_check_pcrs_real_log),
	};

	return cmocka_run_group_tests_name("vpolicy", tests, NULL, NULL);
}
