// SPDX-License-Identifier: Apache-2.0
/* snp-report.c: decode, encode and render the SEV-SNP ATTESTATION_REPORT (spec section 3). */
#include <errno.h>
#include <string.h>

#include "reader.h"
#include "snp-report.h"
#include "util.h"

/* Reserved ranges that must be zero, per version (spec 3.1). */
struct mbz_range {
	size_t off, len;
	uint32_t min_version; /* the range is reserved from this version on */
	uint32_t max_version; /* ... up to this one */
	const char *what;
};

static const struct mbz_range mbz_ranges[] = {
	{ 0x04C, 4, 2, UINT32_MAX, "report.reserved_0x04c" },
	{ 0x188, 3, 2, 2, "report.reserved_0x188" }, /* CPUID fields from v3 on */
	{ 0x18B, 21, 2, UINT32_MAX, "report.reserved_0x18b" },
	{ 0x1EB, 1, 2, UINT32_MAX, "report.reserved_0x1eb" },
	{ 0x1EF, 1, 2, UINT32_MAX, "report.reserved_0x1ef" },
	{ 0x1F8, 16, 2, 4, "report.reserved_0x1f8" }, /* mitigation vectors from v5 on */
	{ 0x208, 152, 2, UINT32_MAX, "report.reserved_0x208" },
};

int snp_report_decode(const uint8_t *buf, size_t len, struct snp_report *ret,
		      struct kagi_err *reterr)
{
	struct reader r = reader_init(buf, len);
	struct snp_report rep = { 0 };
	uint8_t reserved[4];

	if (len != SNP_REPORT_SIZE)
		return kagi_err_set(reterr, -EBADMSG, "report.size", 0,
				    "an SNP attestation report is %u bytes, got %zu",
				    SNP_REPORT_SIZE, len);

	/* Every read below is in bounds by the length check; the reader still enforces it. */
	if (reader_le32(&r, &rep.version) < 0)
		goto short_read;
	if (rep.version < SNP_REPORT_MIN_VERSION || rep.version > SNP_REPORT_MAX_VERSION)
		return kagi_err_set(reterr, -EBADMSG, "report.version", 0,
				    "unsupported report version %u (supported: %d to %d)",
				    rep.version, SNP_REPORT_MIN_VERSION, SNP_REPORT_MAX_VERSION);
	for (size_t i = 0; i < ARRAY_SIZE(mbz_ranges); i++) {
		const struct mbz_range *m = &mbz_ranges[i];

		if (rep.version < m->min_version || rep.version > m->max_version)
			continue;
		for (size_t j = 0; j < m->len; j++)
			if (buf[m->off + j])
				return kagi_err_set(reterr, -EBADMSG, m->what, m->off + j,
						    "reserved byte is 0x%02x, must be zero in a "
						    "version %u report",
						    buf[m->off + j], rep.version);
	}

	if (reader_le32(&r, &rep.guest_svn) < 0 || reader_le64(&r, &rep.policy) < 0 ||
	    reader_copy(&r, rep.family_id, 16) < 0 || reader_copy(&r, rep.image_id, 16) < 0 ||
	    reader_le32(&r, &rep.vmpl) < 0 || reader_le32(&r, &rep.sig_algo) < 0 ||
	    reader_le64(&r, &rep.current_tcb) < 0 || reader_le64(&r, &rep.platform_info) < 0 ||
	    reader_le32(&r, &rep.key_info) < 0 || reader_copy(&r, reserved, 4) < 0 ||
	    reader_copy(&r, rep.report_data, 64) < 0 || reader_copy(&r, rep.measurement, 48) < 0 ||
	    reader_copy(&r, rep.host_data, 32) < 0 || reader_copy(&r, rep.id_key_digest, 48) < 0 ||
	    reader_copy(&r, rep.author_key_digest, 48) < 0 ||
	    reader_copy(&r, rep.report_id, 32) < 0 || reader_copy(&r, rep.report_id_ma, 32) < 0 ||
	    reader_le64(&r, &rep.reported_tcb) < 0 || reader_u8(&r, &rep.cpuid_fam_id) < 0 ||
	    reader_u8(&r, &rep.cpuid_mod_id) < 0 || reader_u8(&r, &rep.cpuid_step) < 0 ||
	    reader_skip(&r, 21) < 0 || reader_copy(&r, rep.chip_id, 64) < 0 ||
	    reader_le64(&r, &rep.committed_tcb) < 0 || reader_u8(&r, &rep.current_build) < 0 ||
	    reader_u8(&r, &rep.current_minor) < 0 || reader_u8(&r, &rep.current_major) < 0 ||
	    reader_skip(&r, 1) < 0 || reader_u8(&r, &rep.committed_build) < 0 ||
	    reader_u8(&r, &rep.committed_minor) < 0 || reader_u8(&r, &rep.committed_major) < 0 ||
	    reader_skip(&r, 1) < 0 || reader_le64(&r, &rep.launch_tcb) < 0 ||
	    reader_le64(&r, &rep.launch_mit_vector) < 0 ||
	    reader_le64(&r, &rep.current_mit_vector) < 0 || reader_skip(&r, 152) < 0 ||
	    reader_copy(&r, rep.signature, 512) < 0)
		goto short_read;
	if (!reader_empty(&r))
		return kagi_err_set(reterr, -EBADMSG, "report.size", r.off, "trailing bytes");

	if (rep.key_info & ~0x1fU)
		return kagi_err_set(reterr, -EBADMSG, "report.key_info", 0x48,
				    "reserved KEY_INFO bits set: 0x%08x", rep.key_info);
	if (rep.version < 3) {
		rep.cpuid_fam_id = rep.cpuid_mod_id = rep.cpuid_step = 0;
	}
	if (rep.version < 5)
		rep.launch_mit_vector = rep.current_mit_vector = 0;

	*ret = rep;
	return 0;

short_read:
	return kagi_err_set(reterr, -EBADMSG, "report.truncated", r.off, "report ends early");
}

void snp_report_encode(const struct snp_report *rep, uint8_t out[SNP_REPORT_SIZE])
{
	memset(out, 0, SNP_REPORT_SIZE);
	put_le32(out + 0x000, rep->version);
	put_le32(out + 0x004, rep->guest_svn);
	put_le64(out + 0x008, rep->policy);
	memcpy(out + 0x010, rep->family_id, 16);
	memcpy(out + 0x020, rep->image_id, 16);
	put_le32(out + 0x030, rep->vmpl);
	put_le32(out + 0x034, rep->sig_algo);
	put_le64(out + 0x038, rep->current_tcb);
	put_le64(out + 0x040, rep->platform_info);
	put_le32(out + 0x048, rep->key_info);
	memcpy(out + 0x050, rep->report_data, 64);
	memcpy(out + 0x090, rep->measurement, 48);
	memcpy(out + 0x0C0, rep->host_data, 32);
	memcpy(out + 0x0E0, rep->id_key_digest, 48);
	memcpy(out + 0x110, rep->author_key_digest, 48);
	memcpy(out + 0x140, rep->report_id, 32);
	memcpy(out + 0x160, rep->report_id_ma, 32);
	put_le64(out + 0x180, rep->reported_tcb);
	if (rep->version >= 3) {
		out[0x188] = rep->cpuid_fam_id;
		out[0x189] = rep->cpuid_mod_id;
		out[0x18A] = rep->cpuid_step;
	}
	memcpy(out + 0x1A0, rep->chip_id, 64);
	put_le64(out + 0x1E0, rep->committed_tcb);
	out[0x1E8] = rep->current_build;
	out[0x1E9] = rep->current_minor;
	out[0x1EA] = rep->current_major;
	out[0x1EC] = rep->committed_build;
	out[0x1ED] = rep->committed_minor;
	out[0x1EE] = rep->committed_major;
	put_le64(out + 0x1F0, rep->launch_tcb);
	if (rep->version >= 5) {
		put_le64(out + 0x1F8, rep->launch_mit_vector);
		put_le64(out + 0x200, rep->current_mit_vector);
	}
	memcpy(out + 0x2A0, rep->signature, 512);
}

enum snp_product snp_report_product(const struct snp_report *rep)
{
	uint8_t fam = rep->cpuid_fam_id, mod = rep->cpuid_mod_id;

	if (rep->version >= 3 && fam) {
		if (fam == 0x19 && mod <= 0x0f)
			return SNP_PRODUCT_MILAN;
		if (fam == 0x19 && ((mod >= 0x10 && mod <= 0x1f) || (mod >= 0xa0 && mod <= 0xaf)))
			return SNP_PRODUCT_GENOA;
		if (fam == 0x1a && mod <= 0x11)
			return SNP_PRODUCT_TURIN;
		return SNP_PRODUCT_UNKNOWN;
	}
	/* v2: a Turin chip id has only its first 8 bytes set; Milan and Genoa look alike. */
	if (!mem_is_zero(rep->chip_id, 8) && mem_is_zero(rep->chip_id + 8, 56))
		return SNP_PRODUCT_TURIN;
	return SNP_PRODUCT_UNKNOWN;
}

const char *snp_product_name(enum snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN:
		return "Milan";
	case SNP_PRODUCT_GENOA:
		return "Genoa";
	case SNP_PRODUCT_TURIN:
		return "Turin";
	default:
		return "unknown";
	}
}

enum snp_product snp_product_from_name(const char *name)
{
	static const struct {
		const char *word;
		enum snp_product p;
	} words[] = { { "Milan", SNP_PRODUCT_MILAN },
		      { "Genoa", SNP_PRODUCT_GENOA },
		      { "Turin", SNP_PRODUCT_TURIN } };

	if (!name)
		return SNP_PRODUCT_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strstr(name, words[i].word))
			return words[i].p;
	return SNP_PRODUCT_UNKNOWN;
}

struct snp_tcb snp_tcb_decode(uint64_t raw, enum snp_product p)
{
	struct snp_tcb t = { 0 };

	if (p == SNP_PRODUCT_TURIN) {
		t.fmc = (uint8_t)raw;
		t.bl = (uint8_t)(raw >> 8);
		t.tee = (uint8_t)(raw >> 16);
		t.snp = (uint8_t)(raw >> 24);
	} else {
		t.bl = (uint8_t)raw;
		t.tee = (uint8_t)(raw >> 8);
		t.snp = (uint8_t)(raw >> 48);
	}
	t.ucode = (uint8_t)(raw >> 56);
	return t;
}

uint64_t snp_tcb_encode(const struct snp_tcb *t, enum snp_product p)
{
	uint64_t raw = (uint64_t)t->ucode << 56;

	if (p == SNP_PRODUCT_TURIN)
		raw |= (uint64_t)t->fmc | (uint64_t)t->bl << 8 | (uint64_t)t->tee << 16 |
		       (uint64_t)t->snp << 24;
	else
		raw |= (uint64_t)t->bl | (uint64_t)t->tee << 8 | (uint64_t)t->snp << 48;
	return raw;
}

void snp_report_signature_rs(const struct snp_report *rep, uint8_t r_be[48], uint8_t s_be[48])
{
	for (size_t i = 0; i < 48; i++) {
		r_be[i] = rep->signature[47 - i];
		s_be[i] = rep->signature[0x48 + 47 - i];
	}
}

void snp_report_set_signature_rs(struct snp_report *rep, const uint8_t r_be[48],
				 const uint8_t s_be[48])
{
	memset(rep->signature, 0, sizeof(rep->signature));
	for (size_t i = 0; i < 48; i++) {
		rep->signature[47 - i] = r_be[i];
		rep->signature[0x48 + 47 - i] = s_be[i];
	}
}

/* ---- rendering ---- */

static json_object *json_hex(const uint8_t *p, size_t n)
{
	char buf[2 * 512 + 1];

	return json_object_new_string(hex_encode(p, n, buf));
}

static json_object *json_u64hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_object_new_string(buf);
}

static json_object *tcb_to_json(uint64_t raw, enum snp_product p)
{
	struct snp_tcb t = snp_tcb_decode(raw, p);
	json_object *o = json_object_new_object();

	if (p == SNP_PRODUCT_TURIN)
		json_object_object_add(o, "fmc", json_object_new_int(t.fmc));
	json_object_object_add(o, "bl", json_object_new_int(t.bl));
	json_object_object_add(o, "tee", json_object_new_int(t.tee));
	json_object_object_add(o, "snp", json_object_new_int(t.snp));
	json_object_object_add(o, "ucode", json_object_new_int(t.ucode));
	json_object_object_add(o, "raw", json_u64hex(raw));
	return o;
}

static const char *signing_key_name(uint32_t key_info)
{
	switch (SNP_KEY_INFO_SIGNING_KEY(key_info)) {
	case SNP_SIGNING_KEY_VCEK:
		return "VCEK";
	case SNP_SIGNING_KEY_VLEK:
		return "VLEK";
	case SNP_SIGNING_KEY_NONE:
		return "none";
	default:
		return "reserved";
	}
}

struct bit_name {
	uint64_t bit;
	const char *name;
};

static const struct bit_name policy_bits[] = {
	{ SNP_POLICY_SMT, "SMT" },
	{ SNP_POLICY_MIGRATE_MA, "MIGRATE_MA" },
	{ SNP_POLICY_DEBUG, "DEBUG" },
	{ SNP_POLICY_SINGLE_SOCKET, "SINGLE_SOCKET" },
	{ SNP_POLICY_CXL_ALLOW, "CXL_ALLOW" },
	{ SNP_POLICY_MEM_AES_256_XTS, "MEM_AES_256_XTS" },
	{ SNP_POLICY_RAPL_DIS, "RAPL_DIS" },
	{ SNP_POLICY_CIPHERTEXT_HIDING, "CIPHERTEXT_HIDING" },
	{ SNP_POLICY_PAGE_SWAP_DISABLE, "PAGE_SWAP_DISABLE" },
};

static const struct bit_name platform_bits[] = {
	{ SNP_PLATFORM_SMT_EN, "SMT_EN" },
	{ SNP_PLATFORM_TSME_EN, "TSME_EN" },
	{ SNP_PLATFORM_ECC_EN, "ECC_EN" },
	{ SNP_PLATFORM_RAPL_DIS, "RAPL_DIS" },
	{ SNP_PLATFORM_CIPHERTEXT_HIDING_EN, "CIPHERTEXT_HIDING_EN" },
	{ SNP_PLATFORM_ALIAS_CHECK_COMPLETE, "ALIAS_CHECK_COMPLETE" },
	{ SNP_PLATFORM_SEV_TIO_EN, "SEV_TIO_EN" },
};

static void bits_str(uint64_t v, const struct bit_name *names, size_t n, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (v & names[i].bit) {
			int k = snprintf(out + used, len - used, "%s%s", used ? " " : "",
					 names[i].name);
			if (k < 0 || (size_t)k >= len - used)
				break;
			used += (size_t)k;
		}
}

json_object *snp_report_to_json(const struct snp_report *rep, enum snp_product p)
{
	json_object *o = json_object_new_object(), *pol = json_object_new_object();
	char buf[256];

	json_object_object_add(o, "version", json_object_new_int64(rep->version));
	json_object_object_add(o, "guest_svn", json_object_new_int64(rep->guest_svn));
	json_object_object_add(o, "policy", json_u64hex(rep->policy));
	json_object_object_add(pol, "abi_major",
			       json_object_new_int((int)SNP_POLICY_ABI_MAJOR(rep->policy)));
	json_object_object_add(pol, "abi_minor",
			       json_object_new_int((int)SNP_POLICY_ABI_MINOR(rep->policy)));
	for (size_t i = 0; i < ARRAY_SIZE(policy_bits); i++)
		json_object_object_add(
			pol, policy_bits[i].name,
			json_object_new_boolean(!!(rep->policy & policy_bits[i].bit)));
	json_object_object_add(o, "policy_bits", pol);
	json_object_object_add(o, "family_id", json_hex(rep->family_id, 16));
	json_object_object_add(o, "image_id", json_hex(rep->image_id, 16));
	json_object_object_add(o, "vmpl", json_object_new_int64(rep->vmpl));
	json_object_object_add(o, "sig_algo", json_object_new_int64(rep->sig_algo));
	json_object_object_add(o, "current_tcb", tcb_to_json(rep->current_tcb, p));
	json_object_object_add(o, "platform_info", json_u64hex(rep->platform_info));
	bits_str(rep->platform_info, platform_bits, ARRAY_SIZE(platform_bits), buf, sizeof(buf));
	json_object_object_add(o, "platform_info_flags", json_object_new_string(buf));
	snprintf(buf, sizeof(buf), "0x%x", rep->key_info);
	json_object_object_add(o, "key_info", json_object_new_string(buf));
	json_object_object_add(o, "signing_key",
			       json_object_new_string(signing_key_name(rep->key_info)));
	json_object_object_add(o, "author_key_en",
			       json_object_new_boolean(rep->key_info & SNP_KEY_INFO_AUTHOR_KEY_EN));
	json_object_object_add(o, "mask_chip_key",
			       json_object_new_boolean(rep->key_info & SNP_KEY_INFO_MASK_CHIP_KEY));
	json_object_object_add(o, "report_data", json_hex(rep->report_data, 64));
	json_object_object_add(o, "measurement", json_hex(rep->measurement, 48));
	json_object_object_add(o, "host_data", json_hex(rep->host_data, 32));
	json_object_object_add(o, "id_key_digest", json_hex(rep->id_key_digest, 48));
	json_object_object_add(o, "author_key_digest", json_hex(rep->author_key_digest, 48));
	json_object_object_add(o, "report_id", json_hex(rep->report_id, 32));
	json_object_object_add(o, "report_id_ma", json_hex(rep->report_id_ma, 32));
	json_object_object_add(o, "reported_tcb", tcb_to_json(rep->reported_tcb, p));
	if (rep->version >= 3) {
		json_object *c = json_object_new_array();

		json_object_array_add(c, json_object_new_int(rep->cpuid_fam_id));
		json_object_array_add(c, json_object_new_int(rep->cpuid_mod_id));
		json_object_array_add(c, json_object_new_int(rep->cpuid_step));
		json_object_object_add(o, "cpuid", c);
	}
	json_object_object_add(o, "product", json_object_new_string(snp_product_name(p)));
	json_object_object_add(o, "chip_id", json_hex(rep->chip_id, 64));
	json_object_object_add(o, "committed_tcb", tcb_to_json(rep->committed_tcb, p));
	snprintf(buf, sizeof(buf), "%u.%u.%u", rep->current_major, rep->current_minor,
		 rep->current_build);
	json_object_object_add(o, "current_fw", json_object_new_string(buf));
	snprintf(buf, sizeof(buf), "%u.%u.%u", rep->committed_major, rep->committed_minor,
		 rep->committed_build);
	json_object_object_add(o, "committed_fw", json_object_new_string(buf));
	json_object_object_add(o, "launch_tcb", tcb_to_json(rep->launch_tcb, p));
	if (rep->version >= 5) {
		json_object_object_add(o, "launch_mit_vector", json_u64hex(rep->launch_mit_vector));
		json_object_object_add(o, "current_mit_vector",
				       json_u64hex(rep->current_mit_vector));
	}
	json_object_object_add(o, "signature_r", json_hex(rep->signature, 72));
	json_object_object_add(o, "signature_s", json_hex(rep->signature + 0x48, 72));
	return o;
}

static void print_tcb(FILE *f, const char *name, uint64_t raw, enum snp_product p)
{
	struct snp_tcb t = snp_tcb_decode(raw, p);

	fprintf(f, "%-20s 0x%016llx (", name, (unsigned long long)raw);
	if (p == SNP_PRODUCT_TURIN)
		fprintf(f, "fmc %u, ", t.fmc);
	fprintf(f, "bl %u, tee %u, snp %u, ucode %u)\n", t.bl, t.tee, t.snp, t.ucode);
}

static void print_hex(FILE *f, const char *name, const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];

	fprintf(f, "%-20s %s\n", name, hex_encode(p, n, buf));
}

void snp_report_print(FILE *f, const struct snp_report *rep, enum snp_product p)
{
	char buf[256];

	fprintf(f, "%-20s %u\n", "version", rep->version);
	fprintf(f, "%-20s %s\n", "product", snp_product_name(p));
	fprintf(f, "%-20s %u\n", "guest_svn", rep->guest_svn);
	bits_str(rep->policy, policy_bits, ARRAY_SIZE(policy_bits), buf, sizeof(buf));
	fprintf(f, "%-20s 0x%llx (abi %u.%u%s%s)\n", "policy", (unsigned long long)rep->policy,
		SNP_POLICY_ABI_MAJOR(rep->policy), SNP_POLICY_ABI_MINOR(rep->policy),
		buf[0] ? ", " : "", buf);
	print_hex(f, "family_id", rep->family_id, 16);
	print_hex(f, "image_id", rep->image_id, 16);
	fprintf(f, "%-20s %u\n", "vmpl", rep->vmpl);
	fprintf(f, "%-20s %u%s\n", "sig_algo", rep->sig_algo,
		rep->sig_algo == SNP_SIG_ALGO_ECDSA_P384_SHA384 ? " (ECDSA P-384 SHA-384)" : "");
	bits_str(rep->platform_info, platform_bits, ARRAY_SIZE(platform_bits), buf, sizeof(buf));
	fprintf(f, "%-20s 0x%llx (%s)\n", "platform_info", (unsigned long long)rep->platform_info,
		buf);
	fprintf(f, "%-20s 0x%x (signing key %s%s%s)\n", "key_info", rep->key_info,
		signing_key_name(rep->key_info),
		rep->key_info & SNP_KEY_INFO_AUTHOR_KEY_EN ? ", author key" : "",
		rep->key_info & SNP_KEY_INFO_MASK_CHIP_KEY ? ", chip key masked" : "");
	print_hex(f, "report_data", rep->report_data, 64);
	print_hex(f, "measurement", rep->measurement, 48);
	print_hex(f, "host_data", rep->host_data, 32);
	print_hex(f, "id_key_digest", rep->id_key_digest, 48);
	print_hex(f, "author_key_digest", rep->author_key_digest, 48);
	print_hex(f, "report_id", rep->report_id, 32);
	print_hex(f, "report_id_ma", rep->report_id_ma, 32);
	print_tcb(f, "current_tcb", rep->current_tcb, p);
	print_tcb(f, "reported_tcb", rep->reported_tcb, p);
	print_tcb(f, "committed_tcb", rep->committed_tcb, p);
	print_tcb(f, "launch_tcb", rep->launch_tcb, p);
	if (rep->version >= 3)
		fprintf(f, "%-20s family 0x%02x, model 0x%02x, stepping %u\n", "cpuid",
			rep->cpuid_fam_id, rep->cpuid_mod_id, rep->cpuid_step);
	print_hex(f, "chip_id", rep->chip_id, 64);
	fprintf(f, "%-20s %u.%u.%u\n", "current_fw", rep->current_major, rep->current_minor,
		rep->current_build);
	fprintf(f, "%-20s %u.%u.%u\n", "committed_fw", rep->committed_major, rep->committed_minor,
		rep->committed_build);
	if (rep->version >= 5) {
		fprintf(f, "%-20s 0x%llx\n", "launch_mit_vector",
			(unsigned long long)rep->launch_mit_vector);
		fprintf(f, "%-20s 0x%llx\n", "current_mit_vector",
			(unsigned long long)rep->current_mit_vector);
	}
	print_hex(f, "signature_r", rep->signature, 48);
	print_hex(f, "signature_s", rep->signature + 0x48, 48);
}
