// SPDX-License-Identifier: Apache-2.0
/* Every check of snp_verify_report made to fail on its own, with an in-memory test PKI. */
#include "testutil.h"

#include <errno.h>

#include "snp-testpki.h"
#include "snp-verify.h"

struct pki {
	EVP_PKEY *ark_key, *ask_key, *vcek_key;
	X509 *ark, *ask, *vcek;
	struct snp_roots roots;
	struct snp_report rep;
	uint8_t raw[SNP_REPORT_SIZE];
	uint8_t hwid[64];
	struct testpki_vcek_opts vo;
};

static struct pki *P;

static int setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));

	(void)state;
	p->ark_key = testpki_rsa();
	p->ask_key = testpki_rsa();
	p->vcek_key = testpki_ec384();
	p->ark = testpki_cert("ARK-Milan", p->ark_key, NULL, p->ark_key, -1, 3650, true);
	p->ask = testpki_cert("SEV-Milan", p->ask_key, p->ark, p->ark_key, -1, 3650, true);
	for (int i = 0; i < 64; i++)
		p->hwid[i] = (uint8_t)(i * 7 + 1);
	p->vo = (struct testpki_vcek_opts){ .product_name = "Milan-B0",
					    .tcb = { 0, 3, 0, 8, 0, 0, 0, 0, 115 },
					    .hwid = p->hwid,
					    .hwid_len = 64,
					    .not_before_days = -1,
					    .not_after_days = 365 };
	p->vcek = testpki_vcek(p->vcek_key, p->ask, p->ask_key, &p->vo);
	p->roots.arks = sk_X509_new_null();
	p->roots.intermediates = sk_X509_new_null();
	X509_up_ref(p->ark);
	X509_up_ref(p->ask);
	sk_X509_push(p->roots.arks, p->ark);
	sk_X509_push(p->roots.intermediates, p->ask);
	P = p;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	snp_roots_done(&P->roots);
	X509_free(P->ark);
	X509_free(P->ask);
	X509_free(P->vcek);
	EVP_PKEY_free(P->ark_key);
	EVP_PKEY_free(P->ask_key);
	EVP_PKEY_free(P->vcek_key);
	free(P);
	return 0;
}

/* A fresh, validly signed Milan v3 report before each test. */
static int fresh_report(void **state)
{
	struct snp_report *r = &P->rep;
	struct snp_tcb t = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 };

	(void)state;
	memset(r, 0, sizeof(*r));
	r->version = 3;
	r->policy = 0x30000;
	r->sig_algo = 1;
	r->current_tcb = r->reported_tcb = r->committed_tcb = r->launch_tcb =
		snp_tcb_encode(&t, SNP_PRODUCT_MILAN);
	r->cpuid_fam_id = 0x19;
	r->cpuid_mod_id = 0x01;
	r->cpuid_step = 1;
	memcpy(r->chip_id, P->hwid, 64);
	memset(r->report_id_ma, 0xff, 32);
	testpki_sign_report(r, P->vcek_key, P->raw);
	return 0;
}

static int verify(const char *expect_what, time_t at)
{
	struct snp_verify_opts o = { .at = at };
	struct snp_verify_result res;
	struct snp_report rep;
	struct kagi_err e = { 0 };
	int r;

	assert_int_equal(snp_report_decode(P->raw, sizeof(P->raw), &rep, &e), 0);
	r = snp_verify_report(&rep, P->raw, P->vcek, NULL, &P->roots, &o, &res, &e);
	if (expect_what) {
		assert_true(r < 0);
		if (strcmp(e.what, expect_what))
			fail_msg("expected %s, got %s: %s", expect_what, e.what, e.msg);
	} else {
		if (r < 0)
			fail_msg("unexpected rejection %s: %s", e.what, e.msg);
		assert_int_equal(res.product, SNP_PRODUCT_MILAN);
	}
	return r;
}

static void resign(void)
{
	testpki_sign_report(&P->rep, P->vcek_key, P->raw);
}

static void test_verify_ok(void **state)
{
	(void)state;
	verify(NULL, 0);
}

static void test_verify_bad_tampered_byte(void **state)
{
	(void)state;
	P->raw[0x95] ^= 1; /* measurement */
	verify("report.signature", 0);
}

static void test_verify_bad_reported_tcb(void **state)
{
	struct snp_tcb t = { .bl = 4, .snp = 8, .ucode = 115 };

	(void)state;
	P->rep.reported_tcb = snp_tcb_encode(&t, SNP_PRODUCT_MILAN);
	resign();
	verify("report.reported_tcb", 0);
}

static void test_verify_bad_chip_id(void **state)
{
	(void)state;
	P->rep.chip_id[63] ^= 1;
	resign();
	verify("report.chip_id", 0);
}

static void test_verify_bad_sig_algo(void **state)
{
	(void)state;
	P->rep.sig_algo = 2;
	resign();
	verify("report.sig_algo", 0);
}

static void test_verify_bad_signing_key_none(void **state)
{
	(void)state;
	P->rep.key_info = 7 << 2;
	resign();
	verify("report.key_info", 0);
}

static void test_verify_bad_mask_chip_key(void **state)
{
	(void)state;
	P->rep.key_info = SNP_KEY_INFO_MASK_CHIP_KEY;
	resign();
	verify("report.key_info", 0);
}

static void test_verify_bad_vlek_named_vcek_given(void **state)
{
	(void)state;
	P->rep.key_info = SNP_SIGNING_KEY_VLEK << 2;
	resign();
	verify("cert.kind", 0);
}

static void test_verify_bad_cpuid_product(void **state)
{
	(void)state;
	P->rep.cpuid_mod_id = 0x11; /* Genoa */
	resign();
	verify("report.cpuid", 0);
}

static void test_verify_bad_unsigned(void **state)
{
	(void)state;
	memset(P->raw + 0x2A0, 0, 512);
	verify("report.signature", 0);
}

static void test_verify_bad_signature_reserved(void **state)
{
	(void)state;
	P->raw[0x2A0 + 0x100] = 1;
	verify("report.signature", 0);
}

static void test_verify_bad_expired(void **state)
{
	(void)state;
	verify("chain.expired", time(NULL) + 400 * 86400L);
}

static void test_verify_bad_not_yet_valid(void **state)
{
	(void)state;
	verify("chain.not_yet_valid", time(NULL) - 10 * 86400L);
}

static void test_verify_bad_untrusted_ark(void **state)
{
	struct snp_roots other = { sk_X509_new_null(), sk_X509_new_null() };
	EVP_PKEY *k = testpki_rsa();
	X509 *ark2 = testpki_cert("ARK-Milan", k, NULL, k, -1, 3650, true);
	struct snp_report rep;
	struct kagi_err e;
	STACK_OF(X509) *host = sk_X509_new_null();

	(void)state;
	sk_X509_push(other.arks, ark2);
	assert_int_equal(snp_report_decode(P->raw, sizeof(P->raw), &rep, NULL), 0);
	/* The host supplies the real ASK and ARK: the ARK is not trusted, so this must fail. */
	sk_X509_push(host, P->ask);
	sk_X509_push(host, P->ark);
	assert_true(snp_verify_report(&rep, P->raw, P->vcek, host, &other, NULL, NULL, &e) < 0);
	assert_string_equal(e.what, "chain.ark");
	sk_X509_free(host);
	snp_roots_done(&other);
	EVP_PKEY_free(k);
}

static void test_verify_host_supplied_ask(void **state)
{
	struct snp_roots only_ark = { sk_X509_new_null(), sk_X509_new_null() };
	STACK_OF(X509) *host = sk_X509_new_null();
	struct snp_report rep;
	struct kagi_err e;

	(void)state;
	X509_up_ref(P->ark);
	sk_X509_push(only_ark.arks, P->ark);
	assert_int_equal(snp_report_decode(P->raw, sizeof(P->raw), &rep, NULL), 0);
	assert_true(snp_verify_report(&rep, P->raw, P->vcek, NULL, &only_ark, NULL, NULL, &e) < 0);
	assert_string_equal(e.what, "chain.ask");
	sk_X509_push(host, P->ask);
	assert_int_equal(snp_verify_report(&rep, P->raw, P->vcek, host, &only_ark, NULL, NULL, &e),
			 0);
	sk_X509_free(host);
	snp_roots_done(&only_ark);
}

static void test_verify_bad_pkcs1_chain(void **state)
{
	X509 *ask2 = testpki_cert("SEV-Milan", P->ask_key, P->ark, P->ark_key, -1, 3650, false);
	struct snp_roots roots = { sk_X509_new_null(), sk_X509_new_null() };
	struct snp_report rep;
	struct kagi_err e;

	(void)state;
	X509_up_ref(P->ark);
	sk_X509_push(roots.arks, P->ark);
	sk_X509_push(roots.intermediates, ask2);
	assert_int_equal(snp_report_decode(P->raw, sizeof(P->raw), &rep, NULL), 0);
	assert_true(snp_verify_report(&rep, P->raw, P->vcek, NULL, &roots, NULL, NULL, &e) < 0);
	assert_string_equal(e.what, "chain.signature_algorithm");
	snp_roots_done(&roots);
}

static void test_verify_bad_no_roots(void **state)
{
	struct snp_roots none = { 0 };
	struct snp_report rep;
	struct kagi_err e;

	(void)state;
	assert_int_equal(snp_report_decode(P->raw, sizeof(P->raw), &rep, NULL), 0);
	assert_int_equal(snp_verify_report(&rep, P->raw, P->vcek, NULL, &none, NULL, NULL, &e),
			 -ENOKEY);
}

static void test_verify_turin_layout(void **state)
{
	struct testpki_vcek_opts vo = { .product_name = "Turin-B0",
					.tcb = { 1, 2, 3, 4, 0, 0, 0, 0, 0x47 },
					.turin = true,
					.hwid = P->hwid,
					.hwid_len = 8,
					.not_before_days = -1,
					.not_after_days = 30 };
	X509 *vcek = testpki_vcek(P->vcek_key, P->ask, P->ask_key, &vo);
	struct snp_tcb t = { .fmc = 1, .bl = 2, .tee = 3, .snp = 4, .ucode = 0x47 };
	struct snp_report rep;
	struct kagi_err e;
	struct snp_verify_result res;
	struct snp_verify_opts o = { .product = SNP_PRODUCT_UNKNOWN };

	(void)state;
	assert_int_equal(snp_tcb_encode(&t, SNP_PRODUCT_TURIN), 0x4700000004030201ULL);
	P->rep.cpuid_fam_id = 0x1a;
	P->rep.cpuid_mod_id = 0x02;
	P->rep.reported_tcb = snp_tcb_encode(&t, SNP_PRODUCT_TURIN);
	memset(P->rep.chip_id + 8, 0, 56);
	resign();
	assert_int_equal(snp_report_decode(P->raw, sizeof(P->raw), &rep, NULL), 0);
	/* the ARK says Milan: product mismatch is reported */
	assert_true(snp_verify_report(&rep, P->raw, vcek, NULL, &P->roots, &o, &res, &e) < 0);
	assert_string_equal(e.what, "chain.product");
	X509_free(vcek);
}

static void test_cert_claims_legacy_raw_hwid(void **state)
{
	X509 *x = X509_dup(P->vcek);
	uint8_t raw[64];
	struct snp_cert_claims cl;

	(void)state;
	{
		/* replace the wrapped hwID with the legacy raw 64-byte form */
		ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.3704.1.4", 1);

		X509_EXTENSION_free(X509_delete_ext(x, X509_get_ext_by_OBJ(x, obj, -1)));
		ASN1_OBJECT_free(obj);
		memset(raw, 0x5a, 64);
		testpki_add_ext(x, "1.3.6.1.4.1.3704.1.4", raw, 64);
		assert_int_equal(snp_cert_claims_get(x, &cl, NULL), 0);
		assert_int_equal(cl.hwid_len, 64);
		assert_memory_equal(cl.hwid, raw, 64);
	}
	X509_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_verify_ok, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_tampered_byte, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_reported_tcb, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_chip_id, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_sig_algo, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_signing_key_none, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_mask_chip_key, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_vlek_named_vcek_given, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_cpuid_product, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_unsigned, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_signature_reserved, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_expired, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_not_yet_valid, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_untrusted_ark, fresh_report),
		cmocka_unit_test_setup(test_verify_host_supplied_ask, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_pkcs1_chain, fresh_report),
		cmocka_unit_test_setup(test_verify_bad_no_roots, fresh_report),
		cmocka_unit_test_setup(test_verify_turin_layout, fresh_report),
		cmocka_unit_test(test_cert_claims_legacy_raw_hwid),
	};
	return cmocka_run_group_tests_name("snp-verify", tests, setup, teardown);
}
