// SPDX-License-Identifier: Apache-2.0
/* snp-policy.c: owner policy for SNP reports; parsing with precise errors, then the checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snp-policy.h"
#include "util.h"

#define POLICY_MAX_TEXT   (1024 * 1024)
#define POLICY_MAX_DEPTH  16
#define POLICY_MAX_DIGEST 4096

void snp_policy_done(struct snp_policy *pol)
{
	free(pol->measurements.v);
	free(pol->chip_ids.v);
	free(pol->id_key_digests.v);
	free(pol->author_key_digests.v);
	memset(pol, 0, sizeof(*pol));
}

#define bad(e, what, ...) kagi_err_set(e, -EINVAL, what, KAGI_ERR_NO_OFFSET, __VA_ARGS__)

static int get_hex(json_object *v, const char *what, uint8_t *out, size_t n,
		   struct kagi_err *reterr)
{
	if (!json_object_is_type(v, json_type_string) ||
	    hex_decode(json_object_get_string(v), out, n) < 0)
		return kagi_err_set(reterr, -EINVAL, what, KAGI_ERR_NO_OFFSET,
				    "must be a string of %zu hex digits", 2 * n);
	return 0;
}

static int get_list(json_object *v, const char *what, size_t size, struct snp_digest_list *l,
		    struct kagi_err *reterr)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return bad(reterr, what, "must be an array of hex strings%s", "");
	n = json_object_array_length(v);
	if (n > POLICY_MAX_DIGEST)
		return bad(reterr, what, "too many entries%s", "");
	free(l->v);
	l->v = calloc(n ? n : 1, size);
	if (!l->v)
		return -ENOMEM;
	l->n = n;
	l->size = size;
	for (size_t i = 0; i < n; i++) {
		int r = get_hex(json_object_array_get_idx(v, i), what, l->v + i * size, size,
				reterr);

		if (r < 0)
			return kagi_err_prefix(reterr, r, "entry %zu", i);
	}
	return 0;
}

static int get_bool(json_object *v, const char *what, bool *ret, struct kagi_err *reterr)
{
	if (!json_object_is_type(v, json_type_boolean))
		return bad(reterr, what, "must be true or false%s", "");
	*ret = json_object_get_boolean(v);
	return 0;
}

static int get_uint(json_object *v, const char *what, uint64_t max, uint64_t *ret,
		    struct kagi_err *reterr)
{
	int64_t i;

	if (json_object_is_type(v, json_type_string))
		return parse_u64(json_object_get_string(v), ret) < 0 || *ret > max
			       ? kagi_err_set(reterr, -EINVAL, what, KAGI_ERR_NO_OFFSET,
					      "must be a number from 0 to %llu",
					      (unsigned long long)max)
			       : 0;
	if (!json_object_is_type(v, json_type_int))
		return kagi_err_set(reterr, -EINVAL, what, KAGI_ERR_NO_OFFSET,
				    "must be a number from 0 to %llu", (unsigned long long)max);
	i = json_object_get_int64(v);
	if (i < 0 || (uint64_t)i > max)
		return kagi_err_set(reterr, -EINVAL, what, KAGI_ERR_NO_OFFSET,
				    "%lld is out of range 0..%llu", (long long)i,
				    (unsigned long long)max);
	*ret = (uint64_t)i;
	return 0;
}

/* "1.55" or "1.55.29" */
static int get_version(json_object *v, const char *what, unsigned *maj, unsigned *min,
		       unsigned *build, bool allow_build, struct kagi_err *reterr)
{
	const char *s;
	unsigned a, b, c = 0;
	int n, consumed = 0;

	if (!json_object_is_type(v, json_type_string))
		return bad(reterr, what, "must be a string like \"1.55\"%s", "");
	s = json_object_get_string(v);
	n = sscanf(s, "%3u.%3u%n.%3u%n", &a, &b, &consumed, &c, &consumed);
	if (n < 2 || (size_t)consumed != strlen(s) || a > 255 || b > 255 || c > 255 ||
	    (n == 3 && !allow_build))
		return bad(reterr, what, "'%s' is not a version like \"1.55\"", s);
	*maj = a;
	*min = b;
	if (build)
		*build = c;
	return 0;
}

static int get_tcb(json_object *v, struct snp_tcb *t, struct kagi_err *reterr)
{
	static const char *const keys[] = { "fmc", "bl", "tee", "snp", "ucode" };
	uint8_t *dst[] = { &t->fmc, &t->bl, &t->tee, &t->snp, &t->ucode };

	if (!json_object_is_type(v, json_type_object))
		return bad(reterr, "policy.min_tcb", "must be an object like {\"bl\": 3, ...}%s",
			   "");
	json_object_object_foreach(v, key, val)
	{
		size_t i;
		uint64_t n;
		char what[64];

		for (i = 0; i < ARRAY_SIZE(keys); i++)
			if (streq(key, keys[i]))
				break;
		if (i == ARRAY_SIZE(keys))
			return bad(reterr, "policy.min_tcb",
				   "unknown member '%s' (known: fmc, bl, tee, snp, ucode)", key);
		snprintf(what, sizeof(what), "policy.min_tcb.%s", key);
		if (get_uint(val, "policy.min_tcb", 255, &n, reterr) < 0)
			return kagi_err_prefix(reterr, -EINVAL, "%s", what);
		*dst[i] = (uint8_t)n;
	}
	return 0;
}

int snp_policy_from_json(json_object *o, struct snp_policy *ret, struct kagi_err *reterr)
{
	struct snp_policy pol = { .allow_smt = true };
	int r = 0;

	if (!json_object_is_type(o, json_type_object))
		return bad(reterr, "policy", "the policy must be a JSON object%s", "");
	json_object_object_foreach(o, key, v)
	{
		uint64_t n;

		if (streq(key, "measurements"))
			r = get_list(v, "policy.measurements", 48, &pol.measurements, reterr);
		else if (streq(key, "chip_ids"))
			r = get_list(v, "policy.chip_ids", 64, &pol.chip_ids, reterr);
		else if (streq(key, "id_key_digests"))
			r = get_list(v, "policy.id_key_digests", 48, &pol.id_key_digests, reterr);
		else if (streq(key, "author_key_digests"))
			r = get_list(v, "policy.author_key_digests", 48, &pol.author_key_digests,
				     reterr);
		else if (streq(key, "min_tcb"))
			r = get_tcb(v, &pol.min_tcb, reterr), pol.has_min_tcb = true;
		else if (streq(key, "allow_debug"))
			r = get_bool(v, "policy.allow_debug", &pol.allow_debug, reterr);
		else if (streq(key, "allow_migrate_ma"))
			r = get_bool(v, "policy.allow_migrate_ma", &pol.allow_migrate_ma, reterr);
		else if (streq(key, "allow_smt"))
			r = get_bool(v, "policy.allow_smt", &pol.allow_smt, reterr);
		else if (streq(key, "require_policy_bits"))
			r = get_uint(v, "policy.require_policy_bits", UINT64_MAX,
				     &pol.require_policy_bits, reterr);
		else if (streq(key, "forbid_policy_bits"))
			r = get_uint(v, "policy.forbid_policy_bits", UINT64_MAX,
				     &pol.forbid_policy_bits, reterr);
		else if (streq(key, "min_abi"))
			r = get_version(v, "policy.min_abi", &pol.min_abi_major, &pol.min_abi_minor,
					NULL, false, reterr),
			pol.has_min_abi = true;
		else if (streq(key, "vmpls")) {
			if (!json_object_is_type(v, json_type_array) ||
			    json_object_array_length(v) == 0)
				return bad(reterr, "policy.vmpls",
					   "must be a non-empty array of VMPLs 0..3%s", "");
			for (size_t i = 0; i < json_object_array_length(v) && r >= 0; i++) {
				r = get_uint(json_object_array_get_idx(v, i), "policy.vmpls", 3, &n,
					     reterr);
				if (r >= 0)
					pol.vmpl_mask |= 1U << n;
			}
		} else if (streq(key, "platform_info_required"))
			r = get_uint(v, "policy.platform_info_required", UINT64_MAX,
				     &pol.platform_required, reterr);
		else if (streq(key, "platform_info_forbidden"))
			r = get_uint(v, "policy.platform_info_forbidden", UINT64_MAX,
				     &pol.platform_forbidden, reterr);
		else if (streq(key, "host_data"))
			r = get_hex(v, "policy.host_data", pol.host_data, 32, reterr),
			pol.has_host_data = true;
		else if (streq(key, "family_id"))
			r = get_hex(v, "policy.family_id", pol.family_id, 16, reterr),
			pol.has_family_id = true;
		else if (streq(key, "image_id"))
			r = get_hex(v, "policy.image_id", pol.image_id, 16, reterr),
			pol.has_image_id = true;
		else if (streq(key, "report_data"))
			r = get_hex(v, "policy.report_data", pol.report_data, 64, reterr),
			pol.has_report_data = true;
		else if (streq(key, "require_id_block"))
			r = get_bool(v, "policy.require_id_block", &pol.require_id_block, reterr);
		else if (streq(key, "require_author_key"))
			r = get_bool(v, "policy.require_author_key", &pol.require_author_key,
				     reterr);
		else if (streq(key, "min_fw"))
			r = get_version(v, "policy.min_fw", &pol.min_fw_major, &pol.min_fw_minor,
					&pol.min_fw_build, true, reterr),
			pol.has_min_fw = true;
		else if (streq(key, "min_fw_build"))
			r = get_uint(v, "policy.min_fw_build", UINT32_MAX, &n, reterr),
			pol.min_fw_build_only = (unsigned)n, pol.has_min_fw_build = true;
		else if (streq(key, "min_guest_svn"))
			r = get_uint(v, "policy.min_guest_svn", UINT32_MAX, &n, reterr),
			pol.min_guest_svn = (uint32_t)n, pol.has_min_guest_svn = true;
		else if (key[0] == '_' || streq(key, "comment"))
			continue; /* documentation members */
		else
			r = bad(reterr, "policy", "unknown member '%s'", key);
		if (r < 0) {
			snp_policy_done(&pol);
			return r;
		}
	}
	*ret = pol;
	return 0;
}

int snp_policy_parse(const char *text, size_t len, struct snp_policy *ret, struct kagi_err *reterr)
{
	struct json_tokener *tok;
	json_object *o;
	int r;

	if (len > POLICY_MAX_TEXT)
		return kagi_err_set(reterr, -EFBIG, "policy", KAGI_ERR_NO_OFFSET,
				    "policy is %zu bytes, more than %d", len, POLICY_MAX_TEXT);
	tok = json_tokener_new_ex(POLICY_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o || json_tokener_get_parse_end(tok) != len) {
		enum json_tokener_error je = json_tokener_get_error(tok);
		size_t end = json_tokener_get_parse_end(tok);

		json_tokener_free(tok);
		json_object_put(o);
		return kagi_err_set(reterr, -EINVAL, "policy.json", end, "invalid JSON: %s",
				    o ? "trailing characters after the policy object"
				      : json_tokener_error_desc(je));
	}
	json_tokener_free(tok);
	r = snp_policy_from_json(o, ret, reterr);
	json_object_put(o);
	return r;
}

static bool in_list(const struct snp_digest_list *l, const uint8_t *v)
{
	for (size_t i = 0; i < l->n; i++)
		if (!memcmp(l->v + i * l->size, v, l->size))
			return true;
	return false;
}

static int fail_hex(struct kagi_err *e, const char *what, size_t off, const char *field,
		    const uint8_t *actual, size_t n, const char *expected)
{
	char a[2 * 64 + 1];

	return kagi_err_set(e, -EKEYREJECTED, what, off, "%s %s is not %s", field,
			    hex_encode(actual, n, a), expected);
}

static int check_exact(struct kagi_err *e, const char *what, size_t off, const char *field,
		       const uint8_t *actual, const uint8_t *expected, size_t n)
{
	char x[2 * 64 + 1], want[2 * 64 + 20];

	if (!memcmp(actual, expected, n))
		return 0;
	snprintf(want, sizeof(want), "the expected %s", hex_encode(expected, n, x));
	return fail_hex(e, what, off, field, actual, n, want);
}

static int check_policy_bits(const struct snp_policy *pol, uint64_t gp, struct kagi_err *e)
{
	if (!(gp & SNP_POLICY_RESERVED_1))
		return kagi_err_set(e, -EKEYREJECTED, "policy.guest_policy", 0x08,
				    "guest policy 0x%llx has reserved bit 17 clear (must be 1)",
				    (unsigned long long)gp);
	if ((gp & SNP_POLICY_DEBUG) && !pol->allow_debug)
		return kagi_err_set(e, -EKEYREJECTED, "policy.debug", 0x08,
				    "guest policy 0x%llx allows DEBUG (the host can read guest "
				    "memory); expected DEBUG=0 (set allow_debug to accept)",
				    (unsigned long long)gp);
	if ((gp & SNP_POLICY_MIGRATE_MA) && !pol->allow_migrate_ma)
		return kagi_err_set(e, -EKEYREJECTED, "policy.migrate_ma", 0x08,
				    "guest policy 0x%llx allows a migration agent; expected "
				    "MIGRATE_MA=0",
				    (unsigned long long)gp);
	if ((gp & SNP_POLICY_SMT) && !pol->allow_smt)
		return kagi_err_set(e, -EKEYREJECTED, "policy.smt", 0x08,
				    "guest policy 0x%llx allows SMT; expected SMT=0",
				    (unsigned long long)gp);
	if ((gp & pol->require_policy_bits) != pol->require_policy_bits)
		return kagi_err_set(e, -EKEYREJECTED, "policy.require_policy_bits", 0x08,
				    "guest policy 0x%llx lacks required bits 0x%llx",
				    (unsigned long long)gp,
				    (unsigned long long)(pol->require_policy_bits & ~gp));
	if (gp & pol->forbid_policy_bits)
		return kagi_err_set(e, -EKEYREJECTED, "policy.forbid_policy_bits", 0x08,
				    "guest policy 0x%llx has forbidden bits 0x%llx",
				    (unsigned long long)gp,
				    (unsigned long long)(gp & pol->forbid_policy_bits));
	if (pol->has_min_abi && (SNP_POLICY_ABI_MAJOR(gp) < pol->min_abi_major ||
				 (SNP_POLICY_ABI_MAJOR(gp) == pol->min_abi_major &&
				  SNP_POLICY_ABI_MINOR(gp) < pol->min_abi_minor)))
		return kagi_err_set(e, -EKEYREJECTED, "policy.min_abi", 0x08,
				    "guest policy ABI %u.%u is below the minimum %u.%u",
				    SNP_POLICY_ABI_MAJOR(gp), SNP_POLICY_ABI_MINOR(gp),
				    pol->min_abi_major, pol->min_abi_minor);
	return 0;
}

static int check_tcb(const struct snp_policy *pol, const struct snp_report *rep, enum snp_product p,
		     struct kagi_err *e)
{
	struct snp_tcb t = snp_tcb_decode(rep->reported_tcb, p);
	const struct snp_tcb *m = &pol->min_tcb;
	const struct {
		const char *name;
		uint8_t have, want;
	} c[] = { { "fmc", t.fmc, m->fmc },
		  { "bl", t.bl, m->bl },
		  { "tee", t.tee, m->tee },
		  { "snp", t.snp, m->snp },
		  { "ucode", t.ucode, m->ucode } };

	/* Component-wise, never as one number (spec 3.4). */
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		if (c[i].have < c[i].want)
			return kagi_err_set(e, -EKEYREJECTED, "policy.min_tcb", 0x180,
					    "REPORTED_TCB %s SVN %u is below the minimum %u",
					    c[i].name, c[i].have, c[i].want);
	return 0;
}

static int fw_cmp(unsigned a1, unsigned b1, unsigned c1, unsigned a2, unsigned b2, unsigned c2)
{
	if (a1 != a2)
		return a1 < a2 ? -1 : 1;
	if (b1 != b2)
		return b1 < b2 ? -1 : 1;
	if (c1 != c2)
		return c1 < c2 ? -1 : 1;
	return 0;
}

int snp_policy_check(const struct snp_policy *pol, const struct snp_report *rep, enum snp_product p,
		     struct kagi_err *reterr)
{
	int r;

	if (pol->measurements.n && !in_list(&pol->measurements, rep->measurement))
		return fail_hex(reterr, "policy.measurement", 0x90, "MEASUREMENT", rep->measurement,
				48, "in the allowed list");
	r = check_policy_bits(pol, rep->policy, reterr);
	if (r < 0)
		return r;
	if (pol->has_min_tcb && (r = check_tcb(pol, rep, p, reterr)) < 0)
		return r;
	if (pol->vmpl_mask && (rep->vmpl > 31 || !(pol->vmpl_mask & (1U << rep->vmpl))))
		return kagi_err_set(reterr, -EKEYREJECTED, "policy.vmpl", 0x30,
				    "VMPL %u is not allowed (allowed mask 0x%x)", rep->vmpl,
				    pol->vmpl_mask);
	if ((rep->platform_info & pol->platform_required) != pol->platform_required)
		return kagi_err_set(
			reterr, -EKEYREJECTED, "policy.platform_info", 0x40,
			"PLATFORM_INFO 0x%llx lacks required bits 0x%llx",
			(unsigned long long)rep->platform_info,
			(unsigned long long)(pol->platform_required & ~rep->platform_info));
	if (rep->platform_info & pol->platform_forbidden)
		return kagi_err_set(
			reterr, -EKEYREJECTED, "policy.platform_info", 0x40,
			"PLATFORM_INFO 0x%llx has forbidden bits 0x%llx",
			(unsigned long long)rep->platform_info,
			(unsigned long long)(rep->platform_info & pol->platform_forbidden));
	if (pol->chip_ids.n && !in_list(&pol->chip_ids, rep->chip_id))
		return fail_hex(reterr, "policy.chip_id", 0x1A0, "CHIP_ID", rep->chip_id, 64,
				"in the allowed list");
	if (pol->has_host_data && (r = check_exact(reterr, "policy.host_data", 0xC0, "HOST_DATA",
						   rep->host_data, pol->host_data, 32)) < 0)
		return r;
	if (pol->has_family_id && (r = check_exact(reterr, "policy.family_id", 0x10, "FAMILY_ID",
						   rep->family_id, pol->family_id, 16)) < 0)
		return r;
	if (pol->has_image_id && (r = check_exact(reterr, "policy.image_id", 0x20, "IMAGE_ID",
						  rep->image_id, pol->image_id, 16)) < 0)
		return r;
	if (pol->has_report_data &&
	    (r = check_exact(reterr, "policy.report_data", 0x50, "REPORT_DATA", rep->report_data,
			     pol->report_data, 64)) < 0)
		return r;
	if (pol->require_id_block && mem_is_zero(rep->id_key_digest, 48))
		return kagi_err_set(reterr, -EKEYREJECTED, "policy.id_block", 0xE0,
				    "the guest was launched without an ID block (ID_KEY_DIGEST is "
				    "zero), but the policy requires one");
	if (pol->id_key_digests.n && !in_list(&pol->id_key_digests, rep->id_key_digest))
		return fail_hex(reterr, "policy.id_key_digest", 0xE0, "ID_KEY_DIGEST",
				rep->id_key_digest, 48, "in the allowed list");
	if (pol->require_author_key && !(rep->key_info & SNP_KEY_INFO_AUTHOR_KEY_EN))
		return kagi_err_set(reterr, -EKEYREJECTED, "policy.author_key", 0x48,
				    "the ID block has no author key (AUTHOR_KEY_EN=0), but the "
				    "policy requires one");
	if (pol->author_key_digests.n &&
	    (!(rep->key_info & SNP_KEY_INFO_AUTHOR_KEY_EN) ||
	     !in_list(&pol->author_key_digests, rep->author_key_digest)))
		return fail_hex(reterr, "policy.author_key_digest", 0x110, "AUTHOR_KEY_DIGEST",
				rep->author_key_digest, 48, "in the allowed list");
	if (pol->has_min_fw) {
		if (fw_cmp(rep->current_major, rep->current_minor,
			   pol->min_fw_build ? rep->current_build : 0, pol->min_fw_major,
			   pol->min_fw_minor, pol->min_fw_build) < 0)
			return kagi_err_set(reterr, -EKEYREJECTED, "policy.min_fw", 0x1E8,
					    "current firmware %u.%u.%u is below the minimum "
					    "%u.%u.%u",
					    rep->current_major, rep->current_minor,
					    rep->current_build, pol->min_fw_major,
					    pol->min_fw_minor, pol->min_fw_build);
		if (fw_cmp(rep->committed_major, rep->committed_minor,
			   pol->min_fw_build ? rep->committed_build : 0, pol->min_fw_major,
			   pol->min_fw_minor, pol->min_fw_build) < 0)
			return kagi_err_set(reterr, -EKEYREJECTED, "policy.min_fw", 0x1EC,
					    "committed firmware %u.%u.%u is below the minimum "
					    "%u.%u.%u",
					    rep->committed_major, rep->committed_minor,
					    rep->committed_build, pol->min_fw_major,
					    pol->min_fw_minor, pol->min_fw_build);
	}
	if (pol->has_min_fw_build && rep->current_build < pol->min_fw_build_only)
		return kagi_err_set(reterr, -EKEYREJECTED, "policy.min_fw_build", 0x1E8,
				    "current firmware build %u is below the minimum %u",
				    rep->current_build, pol->min_fw_build_only);
	if (pol->has_min_guest_svn && rep->guest_svn < pol->min_guest_svn)
		return kagi_err_set(reterr, -EKEYREJECTED, "policy.min_guest_svn", 0x04,
				    "GUEST_SVN %u is below the minimum %u", rep->guest_svn,
				    pol->min_guest_svn);
	return 0;
}
