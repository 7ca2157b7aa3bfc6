/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snp-verify.h: verify an SNP report against AMD's certificate chain (shared/spec section 4).
 *
 *   ARK (pinned, self-signed, RSA-PSS SHA-384) -> ASK  -> VCEK -> report
 *                                               -> ASVK -> VLEK -> report
 *
 * Trust comes only from the ARKs in `struct snp_roots` (loaded from a directory of AMD's
 * certificates or a PEM file the caller explicitly trusts). Intermediates (ASK/ASVK) may come
 * from the roots or from the host (extended report); they are used only if they chain to a
 * trusted ARK. A host-supplied ARK is never trusted.
 */
#ifndef KAGI_SNP_VERIFY_H
#define KAGI_SNP_VERIFY_H

#include <time.h>

#include <openssl/x509.h>

#include "err.h"
#include "snp-report.h"

struct snp_roots {
	STACK_OF(X509) * arks;          /* trust anchors */
	STACK_OF(X509) * intermediates; /* ASK / ASVK candidates */
};

/* Every *.pem / *.crt / *.cer file in dir (and in its direct subdirectories). */
int snp_roots_load_dir(struct snp_roots *roots, const char *dir, struct kagi_err *reterr);
/* A PEM bundle such as AMD KDS cert_chain (ASK then ARK); self-signed certificates are ARKs. */
int snp_roots_load_pem_file(struct snp_roots *roots, const char *path, struct kagi_err *reterr);
void snp_roots_done(struct snp_roots *roots);

/* A certificate in DER or PEM. */
int snp_cert_load(const uint8_t *buf, size_t len, X509 **ret, struct kagi_err *reterr);

/* The TCB and identity claims of a VCEK/VLEK (OIDs 1.3.6.1.4.1.3704.1.*). */
struct snp_cert_claims {
	char product_name[64]; /* "Milan-B0"; empty if absent */
	bool has_tcb[9];       /* index = OID arc .1.3.N: 1 bl, 2 tee, 3 snp, 8 ucode; 0 = fmc */
	long tcb[9];
	uint8_t hwid[64];
	size_t hwid_len; /* 0 = absent (VLEK); 64, or 8 on Turin */
	bool has_csp_id; /* VLEK */
};

int snp_cert_claims_get(X509 *cert, struct snp_cert_claims *ret, struct kagi_err *reterr);

struct snp_verify_opts {
	time_t at;                /* check time; 0 = now */
	enum snp_product product; /* SNP_PRODUCT_UNKNOWN = work it out */
};

struct snp_verify_result {
	enum snp_product product;
	char chain[384]; /* "VCEK (Milan-B0) <- SEV-Milan <- ARK-Milan" */
};

/*
 * Verify report `rep` (decoded from `raw`, which must be its SNP_REPORT_SIZE bytes) signed by
 * `signer` (VCEK or VLEK). `host_certs` (may be NULL) are extra untrusted intermediates, e.g.
 * from the auxblob. Checks: signature algorithm and signing key, chain to a trusted ARK with
 * RSA-PSS signatures and validity at the check time, REPORTED_TCB equal to the certificate's
 * TCB, hwID equal to CHIP_ID (VCEK), and the ECDSA P-384 signature over bytes 0..0x29f.
 */
int snp_verify_report(const struct snp_report *rep, const uint8_t *raw, X509 *signer,
		      STACK_OF(X509) * host_certs, const struct snp_roots *roots,
		      const struct snp_verify_opts *opts, struct snp_verify_result *ret,
		      struct kagi_err *reterr);

/* Only the certificate chain of a VCEK/VLEK: ARK -> ASK/ASVK -> signer, validity at `at`. */
int snp_verify_cert_chain(X509 *signer, STACK_OF(X509) * host_certs, const struct snp_roots *roots,
			  time_t at, struct snp_verify_result *ret, struct kagi_err *reterr);

#endif
