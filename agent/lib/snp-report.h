/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snp-report.h: the SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP Firmware ABI #56860,
 * Table "ATTESTATION_REPORT"; shared/spec section 3). Versions 2, 3 (and 4) and 5.
 *
 * Decoding is pure: no I/O, field by field through a bounds-checked reader, never a struct
 * cast over the untrusted bytes. All integers in the report are little-endian.
 */
#ifndef KAGI_SNP_REPORT_H
#define KAGI_SNP_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "err.h"

#define SNP_REPORT_SIZE                0x4A0 /* 1184 */
#define SNP_REPORT_SIGNED_SIZE         0x2A0 /* bytes covered by the signature */
#define SNP_REPORT_MIN_VERSION         2
#define SNP_REPORT_MAX_VERSION         5
#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1

/* KEY_INFO.SIGNING_KEY (bits 4:2) */
enum snp_signing_key {
	SNP_SIGNING_KEY_VCEK = 0,
	SNP_SIGNING_KEY_VLEK = 1,
	SNP_SIGNING_KEY_NONE = 7,
};

/* Guest policy bits (u64 at 0x08) */
#define SNP_POLICY_ABI_MINOR(p)      ((unsigned)((p)&0xff))
#define SNP_POLICY_ABI_MAJOR(p)      ((unsigned)(((p) >> 8) & 0xff))
#define SNP_POLICY_SMT               (1ULL << 16)
#define SNP_POLICY_RESERVED_1        (1ULL << 17) /* must be 1 */
#define SNP_POLICY_MIGRATE_MA        (1ULL << 18)
#define SNP_POLICY_DEBUG             (1ULL << 19)
#define SNP_POLICY_SINGLE_SOCKET     (1ULL << 20)
#define SNP_POLICY_CXL_ALLOW         (1ULL << 21)
#define SNP_POLICY_MEM_AES_256_XTS   (1ULL << 22)
#define SNP_POLICY_RAPL_DIS          (1ULL << 23)
#define SNP_POLICY_CIPHERTEXT_HIDING (1ULL << 24)
#define SNP_POLICY_PAGE_SWAP_DISABLE (1ULL << 25)
#define SNP_POLICY_KNOWN_MASK        ((1ULL << 26) - 1)

/* Platform info bits (u64 at 0x40) */
#define SNP_PLATFORM_SMT_EN               (1ULL << 0)
#define SNP_PLATFORM_TSME_EN              (1ULL << 1)
#define SNP_PLATFORM_ECC_EN               (1ULL << 2)
#define SNP_PLATFORM_RAPL_DIS             (1ULL << 3)
#define SNP_PLATFORM_CIPHERTEXT_HIDING_EN (1ULL << 4)
#define SNP_PLATFORM_ALIAS_CHECK_COMPLETE (1ULL << 5)
#define SNP_PLATFORM_SEV_TIO_EN           (1ULL << 7)

/* KEY_INFO bits (u32 at 0x48) */
#define SNP_KEY_INFO_AUTHOR_KEY_EN  (1U << 0)
#define SNP_KEY_INFO_MASK_CHIP_KEY  (1U << 1)
#define SNP_KEY_INFO_SIGNING_KEY(k) (((k) >> 2) & 7)

enum snp_product {
	SNP_PRODUCT_UNKNOWN = 0,
	SNP_PRODUCT_MILAN,
	SNP_PRODUCT_GENOA,
	SNP_PRODUCT_TURIN,
};

/* A TCB_VERSION split into its SVNs; the byte layout depends on the product (spec 3.4). */
struct snp_tcb {
	uint8_t fmc; /* Turin and later only */
	uint8_t bl;
	uint8_t tee;
	uint8_t snp;
	uint8_t ucode;
};

struct snp_report {
	uint32_t version;              /* 0x000 */
	uint32_t guest_svn;            /* 0x004 */
	uint64_t policy;               /* 0x008 */
	uint8_t family_id[16];         /* 0x010 */
	uint8_t image_id[16];          /* 0x020 */
	uint32_t vmpl;                 /* 0x030 */
	uint32_t sig_algo;             /* 0x034 */
	uint64_t current_tcb;          /* 0x038 */
	uint64_t platform_info;        /* 0x040 */
	uint32_t key_info;             /* 0x048 */
	uint8_t report_data[64];       /* 0x050 */
	uint8_t measurement[48];       /* 0x090 */
	uint8_t host_data[32];         /* 0x0C0 */
	uint8_t id_key_digest[48];     /* 0x0E0 */
	uint8_t author_key_digest[48]; /* 0x110 */
	uint8_t report_id[32];         /* 0x140 */
	uint8_t report_id_ma[32];      /* 0x160 */
	uint64_t reported_tcb;         /* 0x180 */
	uint8_t cpuid_fam_id;          /* 0x188, v3+ */
	uint8_t cpuid_mod_id;          /* 0x189, v3+ */
	uint8_t cpuid_step;            /* 0x18A, v3+ */
	uint8_t chip_id[64];           /* 0x1A0 */
	uint64_t committed_tcb;        /* 0x1E0 */
	uint8_t current_build;         /* 0x1E8 */
	uint8_t current_minor;         /* 0x1E9 */
	uint8_t current_major;         /* 0x1EA */
	uint8_t committed_build;       /* 0x1EC */
	uint8_t committed_minor;       /* 0x1ED */
	uint8_t committed_major;       /* 0x1EE */
	uint64_t launch_tcb;           /* 0x1F0 */
	uint64_t launch_mit_vector;    /* 0x1F8, v5+ */
	uint64_t current_mit_vector;   /* 0x200, v5+ */
	uint8_t signature[512];        /* 0x2A0: R (72, LE) at +0, S (72, LE) at +0x48 */
};

/*
 * Decode exactly SNP_REPORT_SIZE bytes. Rejects other lengths, versions outside 2..5, and
 * non-zero reserved (MBZ) ranges, naming the field and offset in *reterr.
 */
int snp_report_decode(const uint8_t *buf, size_t len, struct snp_report *ret,
		      struct kagi_err *reterr);

/* Encode into exactly SNP_REPORT_SIZE bytes (reserved ranges zero). For tests and the stand-in. */
void snp_report_encode(const struct snp_report *rep, uint8_t out[SNP_REPORT_SIZE]);

/*
 * The product generation as far as the report alone can tell: CPUID fields on v3+, the
 * Turin chip_id shape on v2; SNP_PRODUCT_UNKNOWN when Milan and Genoa cannot be told apart.
 */
enum snp_product snp_report_product(const struct snp_report *rep);
const char *snp_product_name(enum snp_product p);         /* "Milan", ... "unknown" */
enum snp_product snp_product_from_name(const char *name); /* "Milan-B0", "Genoa", "ARK-Turin" */

/* Split a TCB_VERSION with the byte layout of the product (Turin layout only for Turin). */
struct snp_tcb snp_tcb_decode(uint64_t raw, enum snp_product p);
uint64_t snp_tcb_encode(const struct snp_tcb *tcb, enum snp_product p);

/* r and s as big-endian 48-byte integers (for OpenSSL). */
void snp_report_signature_rs(const struct snp_report *rep, uint8_t r_be[48], uint8_t s_be[48]);
/* Store big-endian 48-byte r and s into the report's little-endian signature fields. */
void snp_report_set_signature_rs(struct snp_report *rep, const uint8_t r_be[48],
				 const uint8_t s_be[48]);

/* Renderings. `p` selects the TCB layout; pass snp_report_product(rep) if nothing better. */
json_object *snp_report_to_json(const struct snp_report *rep, enum snp_product p);
void snp_report_print(FILE *f, const struct snp_report *rep, enum snp_product p);

#endif
