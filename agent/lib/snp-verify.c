// SPDX-License-Identifier: Apache-2.0
/* snp-verify.c: AMD chain, TCB, hwID and report signature checks (spec 3.5, 4.1-4.3). */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "snp-verify.h"
#include "util.h"

#define AMD_OID_PREFIX "1.3.6.1.4.1.3704.1."
#define MAX_CERT_FILE  (256 * 1024)

static int roots_init(struct snp_roots *roots)
{
	if (!roots->arks)
		roots->arks = sk_X509_new_null();
	if (!roots->intermediates)
		roots->intermediates = sk_X509_new_null();
	return roots->arks && roots->intermediates ? 0 : -ENOMEM;
}

void snp_roots_done(struct snp_roots *roots)
{
	sk_X509_pop_free(roots->arks, X509_free);
	sk_X509_pop_free(roots->intermediates, X509_free);
	roots->arks = roots->intermediates = NULL;
}

static bool self_signed(X509 *c)
{
	EVP_PKEY *k = X509_get0_pubkey(c);

	return !X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)) && k &&
	       X509_verify(c, k) == 1;
}

static int roots_add(struct snp_roots *roots, X509 *c)
{
	STACK_OF(X509) *sk = self_signed(c) ? roots->arks : roots->intermediates;

	for (int i = 0; i < sk_X509_num(sk); i++)
		if (!X509_cmp(sk_X509_value(sk, i), c)) {
			X509_free(c); /* duplicate */
			return 0;
		}
	if (!sk_X509_push(sk, c)) {
		X509_free(c);
		return -ENOMEM;
	}
	return 0;
}

int snp_roots_load_pem_file(struct snp_roots *roots, const char *path, struct kagi_err *reterr)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len, n = 0;
	BIO *bio;
	X509 *c;
	int r;

	r = roots_init(roots);
	if (r < 0)
		return r;
	r = read_file(path, MAX_CERT_FILE, &buf, &len);
	if (r < 0)
		return kagi_err_set(reterr, r, "certs.file", KAGI_ERR_NO_OFFSET,
				    "cannot read '%s': %s", path, strerror(-r));
	bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio)
		return -ENOMEM;
	while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		r = roots_add(roots, c);
		if (r < 0)
			break;
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (r < 0)
		return r;
	if (n == 0)
		return kagi_err_set(reterr, -EBADMSG, "certs.file", KAGI_ERR_NO_OFFSET,
				    "'%s' holds no PEM certificate", path);
	return 0;
}

static bool cert_file_name(const char *name)
{
	size_t l = strlen(name);

	return (l > 4 && (streq(name + l - 4, ".pem") || streq(name + l - 4, ".crt") ||
			  streq(name + l - 4, ".cer")));
}

static int load_dir(struct snp_roots *roots, const char *dir, int depth, size_t *count,
		    struct kagi_err *reterr)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return kagi_err_set(reterr, -errno, "certs.dir", KAGI_ERR_NO_OFFSET,
				    "cannot open AMD root directory '%s': %s", dir,
				    strerror(errno));
	while ((de = readdir(d)) && r >= 0) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth == 0)
			r = load_dir(roots, path, 1, count, reterr);
		else if (S_ISREG(st.st_mode) && cert_file_name(de->d_name)) {
			r = snp_roots_load_pem_file(roots, path, reterr);
			(*count)++;
		}
	}
	closedir(d);
	return r;
}

int snp_roots_load_dir(struct snp_roots *roots, const char *dir, struct kagi_err *reterr)
{
	size_t count = 0;
	int r = roots_init(roots);

	if (r < 0)
		return r;
	r = load_dir(roots, dir, 0, &count, reterr);
	if (r < 0)
		return r;
	if (sk_X509_num(roots->arks) == 0)
		return kagi_err_set(reterr, -ENOENT, "certs.dir", KAGI_ERR_NO_OFFSET,
				    "no self-signed ARK certificate found in '%s'", dir);
	return 0;
}

int snp_cert_load(const uint8_t *buf, size_t len, X509 **ret, struct kagi_err *reterr)
{
	const unsigned char *p = buf;
	X509 *c = NULL;

	if (len > MAX_CERT_FILE || len > INT32_MAX)
		return kagi_err_set(reterr, -EBADMSG, "cert.size", 0, "certificate too large");
	if (len > 10 && !memcmp(buf, "-----BEGIN", 10)) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);

		if (!bio)
			return -ENOMEM;
		c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		c = d2i_X509(NULL, &p, (long)len);
		if (c && p != buf + len) {
			X509_free(c);
			c = NULL;
		}
	}
	ERR_clear_error();
	if (!c)
		return kagi_err_set(reterr, -EBADMSG, "cert.encoding", 0,
				    "not a DER or PEM X.509 certificate");
	*ret = c;
	return 0;
}

/* The DER value inside an extension's OCTET STRING, or NULL if absent. */
static const ASN1_OCTET_STRING *ext_data(X509 *c, const char *oid_suffix)
{
	char oid[64];
	ASN1_OBJECT *obj;
	int idx;

	snprintf(oid, sizeof(oid), AMD_OID_PREFIX "%s", oid_suffix);
	obj = OBJ_txt2obj(oid, 1);
	if (!obj)
		return NULL;
	idx = X509_get_ext_by_OBJ(c, obj, -1);
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return NULL;
	return X509_EXTENSION_get_data(X509_get_ext(c, idx));
}

int snp_cert_claims_get(X509 *cert, struct snp_cert_claims *ret, struct kagi_err *reterr)
{
	struct snp_cert_claims cl = { 0 };
	const ASN1_OCTET_STRING *os;
	static const char *const tcb_oids[9] = { "3.9", "3.1", "3.2", "3.3", "3.4",
						 "3.5", "3.6", "3.7", "3.8" };

	for (int i = 0; i < 9; i++) {
		const unsigned char *p;
		ASN1_INTEGER *ai;
		int64_t v;

		os = ext_data(cert, tcb_oids[i]);
		if (!os)
			continue;
		p = ASN1_STRING_get0_data(os);
		ai = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(os));
		if (!ai || ASN1_INTEGER_get_int64(&v, ai) != 1 || v < 0 || v > 255) {
			ASN1_INTEGER_free(ai);
			ERR_clear_error();
			return kagi_err_set(reterr, -EBADMSG, "cert.tcb_extension",
					    KAGI_ERR_NO_OFFSET,
					    "TCB extension " AMD_OID_PREFIX "%s is not an INTEGER "
					    "in 0..255",
					    tcb_oids[i]);
		}
		ASN1_INTEGER_free(ai);
		cl.has_tcb[i] = true;
		cl.tcb[i] = (long)v;
	}
	os = ext_data(cert, "2");
	if (os) {
		const unsigned char *p = ASN1_STRING_get0_data(os);
		ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &p, ASN1_STRING_length(os));

		if (s) {
			snprintf(cl.product_name, sizeof(cl.product_name), "%.*s",
				 ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
			ASN1_IA5STRING_free(s);
		}
		ERR_clear_error();
	}
	os = ext_data(cert, "4");
	if (os) {
		const unsigned char *p = ASN1_STRING_get0_data(os);
		int l = ASN1_STRING_length(os);

		/* Newer certs wrap the hwID in an OCTET STRING; older ones store raw bytes. */
		if (l >= 2 && p[0] == 0x04 && p[1] == l - 2 && (l - 2 == 64 || l - 2 == 8)) {
			p += 2;
			l -= 2;
		}
		if (l != 64 && l != 8)
			return kagi_err_set(reterr, -EBADMSG, "cert.hwid", KAGI_ERR_NO_OFFSET,
					    "hwID extension is %d bytes, expected 64 (or 8 on "
					    "Turin)",
					    l);
		memcpy(cl.hwid, p, (size_t)l);
		cl.hwid_len = (size_t)l;
	}
	cl.has_csp_id = ext_data(cert, "5") != NULL;
	*ret = cl;
	return 0;
}

static const char *cert_cn(X509 *c, char *buf, size_t len)
{
	buf[0] = '\0';
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, buf, (int)len) < 0)
		snprintf(buf, len, "(no CN)");
	return buf;
}

static void fmt_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(buf, len, "(unreadable time)");
}

static int check_cert(X509 *c, const char *role, time_t at, struct kagi_err *reterr)
{
	char cn[128], tb[64], tc[64];
	time_t t = at;

	cert_cn(c, cn, sizeof(cn));
	if (X509_get_signature_nid(c) != NID_rsassaPss)
		return kagi_err_set(reterr, -EKEYREJECTED, "chain.signature_algorithm",
				    KAGI_ERR_NO_OFFSET,
				    "%s '%s' is signed with %s, expected RSASSA-PSS", role, cn,
				    OBJ_nid2ln(X509_get_signature_nid(c)));
	strftime(tc, sizeof(tc), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	if (X509_cmp_time(X509_get0_notBefore(c), &t) > 0) {
		fmt_time(X509_get0_notBefore(c), tb, sizeof(tb));
		return kagi_err_set(reterr, -EKEYEXPIRED, "chain.not_yet_valid", KAGI_ERR_NO_OFFSET,
				    "%s '%s' is valid only from %s (check time %s)", role, cn, tb,
				    tc);
	}
	if (X509_cmp_time(X509_get0_notAfter(c), &t) < 0) {
		fmt_time(X509_get0_notAfter(c), tb, sizeof(tb));
		return kagi_err_set(reterr, -EKEYEXPIRED, "chain.expired", KAGI_ERR_NO_OFFSET,
				    "%s '%s' expired on %s (check time %s)", role, cn, tb, tc);
	}
	return 0;
}

static bool signs(X509 *issuer, X509 *subject)
{
	EVP_PKEY *k = X509_get0_pubkey(issuer);
	int ok;

	if (!k || X509_NAME_cmp(X509_get_issuer_name(subject), X509_get_subject_name(issuer)))
		return false;
	ok = X509_verify(subject, k) == 1;
	ERR_clear_error();
	return ok;
}

/* Find ASK/ASVK and ARK for signer; *ret_* borrowed. */
static int find_chain(X509 *signer, bool vlek, STACK_OF(X509) * host_certs,
		      const struct snp_roots *roots, X509 **ret_ask, X509 **ret_ark,
		      struct kagi_err *reterr)
{
	STACK_OF(X509) * pools[2] = { roots->intermediates, host_certs };
	char cn[128], issuer[256];
	bool found_ask = false, name_match = false;

	for (int p = 0; p < 2; p++) {
		for (int i = 0; pools[p] && i < sk_X509_num(pools[p]); i++) {
			X509 *ask = sk_X509_value(pools[p], i);
			bool is_asvk;

			if (!X509_NAME_cmp(X509_get_issuer_name(signer),
					   X509_get_subject_name(ask)))
				name_match = true;
			if (!signs(ask, signer))
				continue;
			is_asvk = strncmp(cert_cn(ask, cn, sizeof(cn)), "SEV-VLEK", 8) == 0;
			if (is_asvk != vlek)
				return kagi_err_set(reterr, -EKEYREJECTED, "chain.intermediate",
						    KAGI_ERR_NO_OFFSET,
						    "the %s is signed by '%s', but a %s must be "
						    "signed by an %s",
						    vlek ? "VLEK" : "VCEK", cn,
						    vlek ? "VLEK" : "VCEK", vlek ? "ASVK" : "ASK");
			found_ask = true;
			for (int j = 0; j < sk_X509_num(roots->arks); j++) {
				X509 *ark = sk_X509_value(roots->arks, j);

				if (signs(ark, ask)) {
					*ret_ask = ask;
					*ret_ark = ark;
					return 0;
				}
			}
		}
	}
	X509_NAME_oneline(X509_get_issuer_name(signer), issuer, sizeof(issuer));
	if (found_ask)
		return kagi_err_set(reterr, -EKEYREJECTED, "chain.ark", KAGI_ERR_NO_OFFSET,
				    "the %s's issuer '%s' is not signed by any trusted ARK",
				    vlek ? "VLEK" : "VCEK", issuer);
	if (name_match)
		return kagi_err_set(reterr, -EKEYREJECTED, "chain.signature", KAGI_ERR_NO_OFFSET,
				    "the %s's signature does not verify with the key of its issuer "
				    "'%s' (the certificate was altered or not issued by it)",
				    vlek ? "VLEK" : "VCEK", issuer);
	return kagi_err_set(reterr, -EKEYREJECTED, "chain.ask", KAGI_ERR_NO_OFFSET,
			    "no trusted or supplied %s signs the %s (its issuer is '%s')",
			    vlek ? "ASVK" : "ASK", vlek ? "VLEK" : "VCEK", issuer);
}

static int verify_signature(const struct snp_report *rep, const uint8_t *raw, X509 *signer,
			    struct kagi_err *reterr)
{
	uint8_t rb[48], sb[48];
	ECDSA_SIG *sig = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *md = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_PKEY *key = X509_get0_pubkey(signer);
	int derlen, ok = -EBADMSG;

	if (mem_is_zero(rep->signature, sizeof(rep->signature)))
		return kagi_err_set(reterr, -EBADMSG, "report.signature", 0x2A0,
				    "the report is not signed (signature is all zero)");
	if (!mem_is_zero(rep->signature + 48, 24) || !mem_is_zero(rep->signature + 0x48 + 48, 24) ||
	    !mem_is_zero(rep->signature + 0x90, 512 - 0x90))
		return kagi_err_set(reterr, -EBADMSG, "report.signature", 0x2A0,
				    "reserved signature bytes are not zero");
	snp_report_signature_rs(rep, rb, sb);
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(rb, 48, NULL);
	s = BN_bin2bn(sb, 48, NULL);
	if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ok = -ENOMEM;
		goto out;
	}
	derlen = i2d_ECDSA_SIG(sig, &der);
	md = EVP_MD_CTX_new();
	if (derlen <= 0 || !md) {
		ok = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, der, (size_t)derlen, raw, SNP_REPORT_SIGNED_SIZE) == 1)
		ok = 0;
	else
		ok = kagi_err_set(reterr, -EBADMSG, "report.signature", 0x2A0,
				  "the report signature does not verify with the %s public key",
				  SNP_KEY_INFO_SIGNING_KEY(rep->key_info) ? "VLEK" : "VCEK");
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	return ok;
}

static int check_tcb(const struct snp_report *rep, const struct snp_cert_claims *cl,
		     enum snp_product p, const char *signer, struct kagi_err *reterr)
{
	struct snp_tcb t = snp_tcb_decode(rep->reported_tcb, p);
	const struct {
		const char *name;
		int idx;
		uint8_t val;
	} comps[] = { { "fmc", 0, t.fmc },
		      { "bl", 1, t.bl },
		      { "tee", 2, t.tee },
		      { "snp", 3, t.snp },
		      { "ucode", 8, t.ucode } };

	for (size_t i = 0; i < ARRAY_SIZE(comps); i++) {
		if (comps[i].idx == 0 && p != SNP_PRODUCT_TURIN)
			continue;
		if (!cl->has_tcb[comps[i].idx])
			return kagi_err_set(reterr, -EBADMSG, "cert.tcb_extension",
					    KAGI_ERR_NO_OFFSET, "the %s has no %sSPL extension",
					    signer, comps[i].name);
		if (cl->tcb[comps[i].idx] != comps[i].val)
			return kagi_err_set(reterr, -EKEYREJECTED, "report.reported_tcb", 0x180,
					    "REPORTED_TCB %s SVN is %u but the %s certifies %ld "
					    "(%s TCB layout)",
					    comps[i].name, comps[i].val, signer,
					    cl->tcb[comps[i].idx], snp_product_name(p));
	}
	return 0;
}

int snp_verify_report(const struct snp_report *rep, const uint8_t *raw, X509 *signer,
		      STACK_OF(X509) * host_certs, const struct snp_roots *roots,
		      const struct snp_verify_opts *opts, struct snp_verify_result *ret,
		      struct kagi_err *reterr)
{
	struct snp_verify_result res = { 0 };
	struct snp_cert_claims cl;
	unsigned sk = SNP_KEY_INFO_SIGNING_KEY(rep->key_info);
	bool vlek = sk == SNP_SIGNING_KEY_VLEK;
	const char *sname = vlek ? "VLEK" : "VCEK";
	enum snp_product p, p_report, p_cert, p_ark;
	X509 *ask = NULL, *ark = NULL;
	EVP_PKEY *key;
	time_t at = opts && opts->at ? opts->at : time(NULL);
	char cn_ask[128], cn_ark[128];
	int r;

	if (rep->sig_algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
		return kagi_err_set(reterr, -EBADMSG, "report.sig_algo", 0x34,
				    "signature algorithm %u is not ECDSA P-384 with SHA-384 (1)",
				    rep->sig_algo);
	if (sk != SNP_SIGNING_KEY_VCEK && sk != SNP_SIGNING_KEY_VLEK)
		return kagi_err_set(reterr, -EBADMSG, "report.key_info", 0x48,
				    "SIGNING_KEY is %u: the report is not signed by a VCEK (0) or "
				    "VLEK (1)",
				    sk);
	if (rep->key_info & SNP_KEY_INFO_MASK_CHIP_KEY)
		return kagi_err_set(reterr, -EBADMSG, "report.key_info", 0x48,
				    "MASK_CHIP_KEY is set: the firmware did not sign this report");
	if (!roots || !roots->arks || sk_X509_num(roots->arks) == 0)
		return kagi_err_set(reterr, -ENOKEY, "chain.ark", KAGI_ERR_NO_OFFSET,
				    "no trusted ARK configured");

	key = X509_get0_pubkey(signer);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 384)
		return kagi_err_set(reterr, -EKEYREJECTED, "cert.key", KAGI_ERR_NO_OFFSET,
				    "the %s key is not an EC P-384 key", sname);
	r = snp_cert_claims_get(signer, &cl, reterr);
	if (r < 0)
		return r;
	if (!vlek && (cl.hwid_len == 0 || cl.has_csp_id))
		return kagi_err_set(reterr, -EKEYREJECTED, "cert.kind", KAGI_ERR_NO_OFFSET,
				    "the report names a VCEK as signer, but the certificate is %s",
				    cl.has_csp_id ? "a VLEK (it has a CSP id)"
						  : "not a VCEK (no hwID)");
	if (vlek && (cl.hwid_len != 0 || !cl.has_csp_id))
		return kagi_err_set(reterr, -EKEYREJECTED, "cert.kind", KAGI_ERR_NO_OFFSET,
				    "the report names a VLEK as signer, but the certificate is %s",
				    cl.hwid_len ? "a VCEK (it has a hwID)"
						: "not a VLEK (no CSP id)");

	r = find_chain(signer, vlek, host_certs, roots, &ask, &ark, reterr);
	if (r < 0)
		return r;
	if ((r = check_cert(ark, "ARK", at, reterr)) < 0 ||
	    (r = check_cert(ask, vlek ? "ASVK" : "ASK", at, reterr)) < 0 ||
	    (r = check_cert(signer, sname, at, reterr)) < 0)
		return r;

	/* Product generation: the caller, then the certificate, then the ARK, then the report. */
	cert_cn(ask, cn_ask, sizeof(cn_ask));
	cert_cn(ark, cn_ark, sizeof(cn_ark));
	p_report = snp_report_product(rep);
	p_cert = snp_product_from_name(cl.product_name);
	p_ark = snp_product_from_name(cn_ark);
	p = opts && opts->product ? opts->product : p_cert ? p_cert : p_ark ? p_ark : p_report;
	if (p == SNP_PRODUCT_UNKNOWN)
		return kagi_err_set(reterr, -EBADMSG, "report.product", KAGI_ERR_NO_OFFSET,
				    "cannot tell the processor generation from the report or the "
				    "certificates");
	if (rep->version >= 3 && p_report != SNP_PRODUCT_UNKNOWN && p_report != p)
		return kagi_err_set(reterr, -EKEYREJECTED, "report.cpuid", 0x188,
				    "the report's CPUID says %s but the %s chain is for %s",
				    snp_product_name(p_report), sname, snp_product_name(p));
	if (p_ark != SNP_PRODUCT_UNKNOWN && p_ark != p)
		return kagi_err_set(reterr, -EKEYREJECTED, "chain.product", KAGI_ERR_NO_OFFSET,
				    "the %s is for %s but the ARK '%s' is for %s", sname,
				    snp_product_name(p), cn_ark, snp_product_name(p_ark));

	r = verify_signature(rep, raw, signer, reterr);
	if (r < 0)
		return r;
	r = check_tcb(rep, &cl, p, sname, reterr);
	if (r < 0)
		return r;
	if (!vlek) {
		bool ok = cl.hwid_len == 64 ? !memcmp(cl.hwid, rep->chip_id, 64)
					    : !memcmp(cl.hwid, rep->chip_id, 8) &&
						      mem_is_zero(rep->chip_id + 8, 56);
		if (!ok) {
			char a[129], b[129];

			return kagi_err_set(reterr, -EKEYREJECTED, "report.chip_id", 0x1A0,
					    "CHIP_ID %s does not match the VCEK hwID %s",
					    hex_encode(rep->chip_id, cl.hwid_len, a),
					    hex_encode(cl.hwid, cl.hwid_len, b));
		}
	}
	res.product = p;
	snprintf(res.chain, sizeof(res.chain), "%s%s%s%s <- %s <- %s", sname,
		 cl.product_name[0] ? " (" : "", cl.product_name, cl.product_name[0] ? ")" : "",
		 cn_ask, cn_ark);
	if (ret)
		*ret = res;
	return 0;
}

int snp_verify_cert_chain(X509 *signer, STACK_OF(X509) * host_certs, const struct snp_roots *roots,
			  time_t at, struct snp_verify_result *ret, struct kagi_err *reterr)
{
	struct snp_cert_claims cl;
	X509 *ask = NULL, *ark = NULL;
	char cn_ask[128], cn_ark[128];
	bool vlek;
	int r;

	if (!roots || !roots->arks || sk_X509_num(roots->arks) == 0)
		return kagi_err_set(reterr, -ENOKEY, "chain.ark", KAGI_ERR_NO_OFFSET,
				    "no trusted ARK configured");
	r = snp_cert_claims_get(signer, &cl, reterr);
	if (r < 0)
		return r;
	vlek = cl.has_csp_id;
	r = find_chain(signer, vlek, host_certs, roots, &ask, &ark, reterr);
	if (r < 0)
		return r;
	if (!at)
		at = time(NULL);
	if ((r = check_cert(ark, "ARK", at, reterr)) < 0 ||
	    (r = check_cert(ask, vlek ? "ASVK" : "ASK", at, reterr)) < 0 ||
	    (r = check_cert(signer, vlek ? "VLEK" : "VCEK", at, reterr)) < 0)
		return r;
	if (ret) {
		cert_cn(ask, cn_ask, sizeof(cn_ask));
		cert_cn(ark, cn_ark, sizeof(cn_ark));
		ret->product = snp_product_from_name(cl.product_name[0] ? cl.product_name : cn_ark);
		snprintf(ret->chain, sizeof(ret->chain), "%s%s%s%s <- %s <- %s",
			 vlek ? "VLEK" : "VCEK", cl.product_name[0] ? " (" : "", cl.product_name,
			 cl.product_name[0] ? ")" : "", cn_ask, cn_ark);
	}
	return 0;
}
