/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kds.h: client of AMD's Key Distribution Service (KDS; "VCEK Certificate and KDS Interface
 * Specification" #57230, shared/spec section 4.4): fetches the VCEK of a report and the ASK+ARK
 * chain of a product, with a persistent cache and handling of the KDS rate limit.
 *
 *   VCEK, Milan/Genoa: {base}/vcek/v1/{Product}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..
 *                      hwid = CHIP_ID as 128 lowercase hex digits
 *   VCEK, Turin:       {base}/vcek/v1/Turin/{hwid8}?fmcSPL=..&blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..
 *                      hwid8 = the first 8 bytes of CHIP_ID (16 hex digits)
 *   chain:             {base}/vcek/v1/{Product}/cert_chain (PEM: ASK, then ARK)
 * SPL values are the REPORTED_TCB components (split with the product's byte layout), in plain
 * decimal. A VCEK answer is one DER certificate.
 *
 * TRUST: nothing this module returns is trusted. Neither the network answer nor the cache
 * decides trust: the caller still runs snp_verify_report() (or snp_verify_cert_chain()) against
 * the pinned AMD ARKs, so a poisoned cache or a lying KDS (or anyone who can answer in its
 * place) can only cause a rejection, never an acceptance. The ARK inside a fetched cert_chain
 * must never be used as a trust anchor except by byte comparison with a pinned one.
 * The checks done here (size caps, X.509 parsing, the VCEK's hwID and TCB extensions equal to
 * what was asked) only keep garbage out of the cache and turn a wrong answer into a clear error.
 *
 * Transport: only https. Plain http is accepted solely when the base URL names the loopback
 * address literally (http://127.0.0.1[:port] or http://[::1][:port]), for tests with a local
 * stand-in KDS; "localhost" is not accepted, nor is any other host. Redirects are not followed.
 *
 * Cache (optional): one file per answer in cache_dir (created 0700 if missing; refused if
 * writable by group or others), written atomically (temporary file + rename, mode 0600):
 *   vcek-{Product}-{hwid}-bl{B}-tee{T}-snp{S}-ucode{U}.der   (Turin: ...-fmc{F}-bl{B}-...)
 *   cert_chain-{Product}.pem
 * Only answers that passed the checks above are written. A cached VCEK is returned without any
 * network access; a cached file that no longer passes the checks is ignored and fetched again.
 *
 * Rate limit: on HTTP 429 the client waits for Retry-After (seconds or an HTTP date; 1, 2, 4...
 * seconds when absent) and retries, at most max_retries times and max_wait_s seconds in total;
 * if the server asks for a longer wait than is left, it gives up at once. Then "kds.rate_limited".
 *
 * Failure identifiers (kagi_err.what): kds.url (bad base URL), kds.product (product unknown,
 * e.g. a version 2 report without a product from the caller), kds.chip_id (all-zero CHIP_ID:
 * MASK_CHIP_ID was set on the host, the chip cannot be looked up), kds.signing_key (the report
 * is not signed by a VCEK), kds.rate_limited, kds.not_found (HTTP 404; names the URL), kds.http
 * (any other HTTP status), kds.network (curl's message), kds.size (answer above the cap),
 * kds.response (not a certificate / not a PEM chain), kds.mismatch (a certificate for another
 * chip or TCB), kds.cache (the cache directory cannot be used).
 */
#ifndef KAGI_KDS_H
#define KAGI_KDS_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "err.h"
#include "snp-report.h"

#define KDS_DEFAULT_URL       "https://kdsintf.amd.com"
#define KDS_VCEK_MAX_SIZE     (8 * 1024)  /* DER VCEK answer cap */
#define KDS_CHAIN_MAX_SIZE    (32 * 1024) /* PEM cert_chain answer cap */
#define KDS_DEFAULT_TIMEOUT_S 30
#define KDS_DEFAULT_RETRIES   3
#define KDS_DEFAULT_MAX_WAIT  10 /* seconds, total over all Retry-After waits */

struct kds_opts {
	unsigned timeout_s;   /* whole-request timeout; 0 = KDS_DEFAULT_TIMEOUT_S */
	unsigned max_retries; /* retries after HTTP 429 (0 = none) */
	unsigned max_wait_s;  /* total time spent waiting for the rate limit */
	const char *ca_file;  /* extra CA bundle (PEM) for a test https server; NULL = system */
};

/* The defaults used when kds_new() gets opts == NULL. */
#define KDS_OPTS_INIT                                                                              \
	{                                                                                          \
		.timeout_s = KDS_DEFAULT_TIMEOUT_S, .max_retries = KDS_DEFAULT_RETRIES,            \
		.max_wait_s = KDS_DEFAULT_MAX_WAIT, .ca_file = NULL                                \
	}

/* Counters of one struct kds (for tests and for the tools' messages). */
struct kds_stats {
	unsigned requests;     /* HTTP requests sent (retries included) */
	unsigned rate_limited; /* 429 answers received */
	unsigned cache_hits;   /* answers served from the cache */
	unsigned cache_writes; /* answers written to the cache */
	bool last_from_cache;  /* the last successful get came from the cache */
};

struct kds;

/*
 * base_url: e.g. KDS_DEFAULT_URL (NULL = that); one trailing '/' is ignored; no query, fragment
 * or user info. cache_dir: persistent directory (created 0700 if missing), or NULL for no cache.
 * opts: NULL = KDS_OPTS_INIT. No network access happens here.
 */
int kds_new(const char *base_url, const char *cache_dir, const struct kds_opts *opts,
	    struct kds **ret, struct kagi_err *reterr);
void kds_free(struct kds *k);

/*
 * The VCEK for this report: product p (SNP_PRODUCT_UNKNOWN = as far as the report tells, see
 * snp_report_product(); a version 2 report needs the caller's product), TCB = REPORTED_TCB split
 * with snp_tcb_decode(). Cache key = product, hwID and TCB. *ret is a new reference.
 */
int kds_get_vcek(struct kds *k, const struct snp_report *rep, enum snp_product p, X509 **ret,
		 struct kagi_err *reterr);

/* The ASK and ARK of a product, in that order (AMD's order). *ret owns its certificates. */
int kds_get_cert_chain(struct kds *k, enum snp_product p, STACK_OF(X509) * *ret,
		       struct kagi_err *reterr);

/* The request URL of the VCEK of a report (new string). Same checks as kds_get_vcek(). */
int kds_vcek_url(const struct kds *k, const struct snp_report *rep, enum snp_product p, char **ret,
		 struct kagi_err *reterr);
/* The cache file of that VCEK (new string); -ENODATA if the struct kds has no cache. */
int kds_vcek_cache_path(const struct kds *k, const struct snp_report *rep, enum snp_product p,
			char **ret, struct kagi_err *reterr);
/* The request URL / cache file of a product's cert_chain (new strings). */
int kds_cert_chain_url(const struct kds *k, enum snp_product p, char **ret,
		       struct kagi_err *reterr);
int kds_cert_chain_cache_path(const struct kds *k, enum snp_product p, char **ret,
			      struct kagi_err *reterr);

const struct kds_stats *kds_get_stats(const struct kds *k);

#endif
