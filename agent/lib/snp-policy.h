/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snp-policy.h: the owner's rules for an SNP report (JSON, documented in kagictl(1) and
 * contrib/examples/snp-policy.json). Every member is optional; unknown members are errors.
 *
 *   measurements        ["<96 hex>", ...]   allowed launch measurements
 *   min_tcb             {"bl":N,"tee":N,"snp":N,"ucode":N,"fmc":N}  minimum REPORTED_TCB SVNs
 *   allow_debug         false (default)     accept guest policy DEBUG=1
 *   allow_migrate_ma    false (default)     accept guest policy MIGRATE_MA=1
 *   allow_smt           true (default)      accept guest policy SMT=1
 *   require_policy_bits "0x..."             guest policy bits that must be set
 *   forbid_policy_bits  "0x..."             guest policy bits that must be clear
 *   min_abi             "1.51"              minimum guest policy ABI major.minor
 *   vmpls               [0, ...]            allowed VMPL values
 *   platform_info_required / platform_info_forbidden  "0x..." bit masks
 *   chip_ids            ["<128 hex>", ...]  allowed CHIP_IDs
 *   host_data           "<64 hex>"          exact HOST_DATA
 *   family_id, image_id "<32 hex>"          exact ID block values
 *   id_key_digests, author_key_digests      ["<96 hex>", ...] allowed digests
 *   require_id_block, require_author_key    false (default)
 *   report_data         "<128 hex>"         exact REPORT_DATA
 *   min_fw              "1.55" or "1.55.29" minimum CURRENT and COMMITTED firmware
 *   min_fw_build        N                   minimum CURRENT_BUILD
 *   min_guest_svn       N
 */
#ifndef KAGI_SNP_POLICY_H
#define KAGI_SNP_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"
#include "snp-report.h"

struct snp_digest_list {
	size_t n;
	size_t size; /* bytes per entry */
	uint8_t *v;  /* n * size bytes */
};

struct snp_policy {
	struct snp_digest_list measurements, chip_ids, id_key_digests, author_key_digests;
	bool has_min_tcb;
	struct snp_tcb min_tcb;
	bool allow_debug, allow_migrate_ma, allow_smt;
	uint64_t require_policy_bits, forbid_policy_bits;
	bool has_min_abi;
	unsigned min_abi_major, min_abi_minor;
	uint32_t vmpl_mask; /* bit n = VMPL n allowed; 0 = any */
	uint64_t platform_required, platform_forbidden;
	bool has_host_data, has_family_id, has_image_id, has_report_data;
	uint8_t host_data[32], family_id[16], image_id[16], report_data[64];
	bool require_id_block, require_author_key;
	bool has_min_fw;
	unsigned min_fw_major, min_fw_minor, min_fw_build; /* build 0 = not compared */
	bool has_min_fw_build;
	unsigned min_fw_build_only;
	bool has_min_guest_svn;
	uint32_t min_guest_svn;
};

/* Parse a policy object; errors name the member ("policy.min_tcb.bl"). */
int snp_policy_from_json(json_object *o, struct snp_policy *ret, struct kagi_err *reterr);
/* Parse JSON text (size capped); errors include the JSON parser's position. */
int snp_policy_parse(const char *text, size_t len, struct snp_policy *ret, struct kagi_err *reterr);
void snp_policy_done(struct snp_policy *pol);

/*
 * Check a report whose signature was already verified. `p` selects the TCB layout.
 * The first failing rule is reported: what = "policy.<rule>", message with expected and actual.
 */
int snp_policy_check(const struct snp_policy *pol, const struct snp_report *rep, enum snp_product p,
		     struct kagi_err *reterr);

#endif
