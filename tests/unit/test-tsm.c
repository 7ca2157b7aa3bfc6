// SPDX-License-Identifier: Apache-2.0
/*
 * test-tsm.c: the configfs-tsm backend without a kernel: request checks that must happen before
 * any file access, behaviour on a root that is missing or is not configfs (and that the
 * backend cleans up after itself there), the generation parser and the errno words.
 * The full sequence runs against the FUSE stand-in in tests/integration/collect-snp.sh.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "tsm.h"

static const uint8_t nonce64[64] = { 0x11, 0x22, 0x33 };

struct tmp {
	char dir[64];
};

/* A fresh empty directory: a "root" that is a plain file system, not configfs. */
static int setup_tmp(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/kagi-test-tsm-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown_tmp(void **state)
{
	struct tmp *t = *state;

	rmdir(t->dir);
	free(t);
	return 0;
}

static size_t dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* --- request validation -------------------------------------------------------------------- */

static void test_request_validate_good(void **state)
{
	struct tsm_request plain = { .inblob = nonce64, .inblob_len = 64 };
	struct tsm_request svsm = {
		.inblob = nonce64,
		.inblob_len = 64,
		.service_provider = TSM_SERVICE_PROVIDER_SVSM,
		.service_guid = TSM_SVSM_VTPM_GUID,
		.set_manifest_version = true,
	};
	struct tsm_request pl = {
		.inblob = nonce64, .inblob_len = 64, .set_privlevel = true, .privlevel = 3
	};
	struct kagi_err e = { 0 };

	(void)state;
	assert_int_equal(tsm_request_validate(&plain, &e), 0);
	assert_int_equal(tsm_request_validate(&svsm, &e), 0);
	assert_int_equal(tsm_request_validate(&pl, &e), 0);
}

static void test_request_validate_bad_inblob(void **state)
{
	static const size_t lens[] = { 0, 1, 32, 63, 65, 128 };
	uint8_t big[128] = { 0 };
	struct kagi_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		struct tsm_request req = { .inblob = big, .inblob_len = lens[i] };

		assert_int_equal(tsm_request_validate(&req, &e), -EINVAL);
		assert_string_equal(e.what, "tsm.request.inblob");
	}
	{
		struct tsm_request req = { .inblob = NULL, .inblob_len = 64 };

		assert_int_equal(tsm_request_validate(&req, &e), -EINVAL);
		assert_string_equal(e.what, "tsm.request.inblob");
	}
	assert_int_equal(tsm_request_validate(NULL, &e), -EINVAL);
}

static void test_request_validate_bad_privlevel(void **state)
{
	struct tsm_request req = {
		.inblob = nonce64, .inblob_len = 64, .set_privlevel = true, .privlevel = 4
	};
	struct kagi_err e = { 0 };

	(void)state;
	assert_int_equal(tsm_request_validate(&req, &e), -EINVAL);
	assert_string_equal(e.what, "tsm.request.privlevel");
	/* not checked when not requested */
	req.set_privlevel = false;
	assert_int_equal(tsm_request_validate(&req, &e), 0);
}

static void test_request_validate_bad_service_guid(void **state)
{
	static const char *const bad[] = {
		"",
		"c476f1eb-0123-45a5-9641-b4e7dde5bfe",    /* 35 chars */
		"c476f1eb-0123-45a5-9641-b4e7dde5bfe3a",  /* 37 chars */
		"c476f1eb-0123-45a5-9641-b4e7dde5bfe3\n", /* newline */
		"c476f1eb0123-45a5-9641-b4e7dde5bfe3a",   /* hyphen moved */
		"c476f1eb-0123-45a5-9641_b4e7dde5bfe3",   /* wrong separator */
		"g476f1eb-0123-45a5-9641-b4e7dde5bfe3",   /* not hex */
		"{476f1eb-0123-45a5-9641-b4e7dde5bfe}",   /* braces */
		"c476f1eb-0123-45a5-9641-b4e7dde5bf 3",   /* space */
		"c476f1eb 0123 45a5 9641 b4e7dde5bfe3",
	};
	struct kagi_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct tsm_request req = {
			.inblob = nonce64,
			.inblob_len = 64,
			.service_provider = TSM_SERVICE_PROVIDER_SVSM,
			.service_guid = bad[i],
		};

		assert_false(tsm_guid_valid(bad[i]));
		memset(&e, 0, sizeof(e));
		assert_int_equal(tsm_request_validate(&req, &e), -EINVAL);
		assert_string_equal(e.what, "tsm.request.service_guid");
	}
	assert_false(tsm_guid_valid(NULL));
	assert_true(tsm_guid_valid(TSM_SVSM_VTPM_GUID));
	assert_true(tsm_guid_valid("C476F1EB-0123-45A5-9641-B4E7DDE5BFE3"));
	assert_true(tsm_guid_valid("00000000-0000-0000-0000-000000000000"));
}

static void test_request_validate_bad_service_provider(void **state)
{
	static const char *const bad[] = { "", "sv sm", "svsm\n", "../svsm" };
	struct kagi_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct tsm_request req = { .inblob = nonce64,
					   .inblob_len = 64,
					   .service_provider = bad[i],
					   .service_guid = TSM_SVSM_VTPM_GUID };

		assert_int_equal(tsm_request_validate(&req, &e), -EINVAL);
		assert_string_equal(e.what, "tsm.request.service_provider");
	}
	{
		/* a GUID or a manifest version without a provider */
		struct tsm_request req = { .inblob = nonce64,
					   .inblob_len = 64,
					   .service_guid = TSM_SVSM_VTPM_GUID };

		assert_int_equal(tsm_request_validate(&req, &e), -EINVAL);
		assert_string_equal(e.what, "tsm.request.service_provider");
		req.service_guid = NULL;
		req.set_manifest_version = true;
		assert_int_equal(tsm_request_validate(&req, &e), -EINVAL);
	}
	{
		struct tsm_request req = { .inblob = nonce64,
					   .inblob_len = 64,
					   .service_provider = TSM_SERVICE_PROVIDER_SVSM };

		assert_int_equal(tsm_request_validate(&req, &e), -EINVAL);
		assert_string_equal(e.what, "tsm.request.service_guid");
	}
}

/*
 * The checks run before the root is looked at: a bad request against a missing root fails with
 * EINVAL naming the field, and against an existing directory creates nothing in it.
 */
static void test_report_get_validates_before_io(void **state)
{
	struct tmp *t = *state;
	struct tsm_result res = { 0 };
	struct kagi_err e = { 0 };
	struct tsm_request short_blob = { .inblob = nonce64, .inblob_len = 63 };
	struct tsm_request bad_guid = { .inblob = nonce64,
					.inblob_len = 64,
					.service_provider = TSM_SERVICE_PROVIDER_SVSM,
					.service_guid = "not-a-guid" };

	assert_int_equal(tsm_report_get("/nonexistent/tsm/report", &short_blob, &res, &e), -EINVAL);
	assert_string_equal(e.what, "tsm.request.inblob");
	assert_int_equal(tsm_report_get(t->dir, &short_blob, &res, &e), -EINVAL);
	assert_string_equal(e.what, "tsm.request.inblob");
	assert_int_equal(tsm_report_get(t->dir, &bad_guid, &res, &e), -EINVAL);
	assert_string_equal(e.what, "tsm.request.service_guid");
	assert_int_equal(dir_entries(t->dir), 0);
	assert_null(res.outblob);
}

/* --- roots that are not configfs-tsm ------------------------------------------------------- */

static void test_probe_bad_root_missing(void **state)
{
	struct tsm_info info = { .provider = "untouched" };
	struct tsm_request req = { .inblob = nonce64, .inblob_len = 64 };
	struct tsm_result res = { 0 };
	struct kagi_err e = { 0 };

	(void)state;
	assert_int_equal(tsm_probe("/nonexistent/tsm/report", &info, &e), -ENOENT);
	assert_string_equal(e.what, "tsm.root");
	assert_non_null(strstr(e.msg, "does not exist"));
	assert_non_null(strstr(e.msg, "configfs"));
	assert_string_equal(info.provider, "untouched");

	assert_int_equal(tsm_report_get("/nonexistent/tsm/report", &req, &res, &e), -ENOENT);
	assert_string_equal(e.what, "tsm.root");
	assert_int_equal(tsm_probe("", &info, &e), -EINVAL);
	assert_int_equal(tsm_probe(NULL, &info, &e), -EINVAL);
}

static void test_probe_bad_root_not_directory(void **state)
{
	struct tmp *t = *state;
	struct tsm_info info;
	struct kagi_err e = { 0 };
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/file", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(tsm_probe(path, &info, &e), -ENOTDIR);
	assert_string_equal(e.what, "tsm.root");
	unlink(path);
}

/* A plain directory accepts mkdir but the entry has no attributes: say so, and clean up. */
static void test_probe_bad_root_not_configfs(void **state)
{
	struct tmp *t = *state;
	struct tsm_info info = { .provider = "untouched" };
	struct tsm_request req = { .inblob = nonce64, .inblob_len = 64 };
	struct tsm_result res = { 0 };
	struct kagi_err e = { 0 };

	assert_int_equal(tsm_probe(t->dir, &info, &e), -ENODEV);
	assert_string_equal(e.what, "tsm.provider");
	assert_non_null(strstr(e.msg, "does not behave like configfs-tsm"));
	assert_string_equal(info.provider, "untouched");
	assert_int_equal(dir_entries(t->dir), 0);

	assert_int_equal(tsm_report_get(t->dir, &req, &res, &e), -ENODEV);
	assert_string_equal(e.what, "tsm.provider");
	assert_int_equal(dir_entries(t->dir), 0);
	assert_null(res.outblob);
}

/* --- generation ---------------------------------------------------------------------------- */

static void test_parse_generation(void **state)
{
	static const struct {
		const char *text;
		uint64_t v;
	} good[] = {
		{ "0\n", 0 },
		{ "0", 0 },
		{ "1\n", 1 },
		{ "4294967296\n", 4294967296ull },
		{ "18446744073709551615\n", UINT64_MAX },
		{ "007\n", 7 },
	};
	struct kagi_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		uint64_t v = 12345;

		assert_int_equal(tsm_parse_generation(good[i].text, strlen(good[i].text), &v, &e),
				 0);
		assert_true(v == good[i].v);
	}
}

static void test_parse_generation_bad_text(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"1\n\n",
		" 1\n",
		"+1\n",
		"-1\n",
		"1a\n",
		"0x10\n",
		"1 \n",
		"1\r\n",
		"18446744073709551616\n",
		"99999999999999999999\n",
		"123456789012345678901\n",
	};
	struct kagi_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t v = 12345;

		memset(&e, 0, sizeof(e));
		if (tsm_parse_generation(bad[i], strlen(bad[i]), &v, &e) != -EBADMSG)
			fail_msg("generation '%s' was accepted", bad[i]);
		assert_string_equal(e.what, "tsm.generation");
		assert_true(v == 12345);
	}
	/* the offset of the first bad byte */
	assert_int_equal(tsm_parse_generation("12a\n", 4, &(uint64_t){ 0 }, &e), -EBADMSG);
	assert_int_equal(e.off, 2);
	/* a length that stops before the NUL is honoured */
	assert_int_equal(tsm_parse_generation("12\n", 2, &(uint64_t){ 0 }, &e), 0);
}

static void test_errno_hint(void **state)
{
	(void)state;
	assert_non_null(strstr(tsm_errno_hint(-ENXIO, "mkdir"),
			       "no attestation provider registered (is sev-guest loaded?)"));
	assert_non_null(strstr(tsm_errno_hint(-EINVAL, "outblob"),
			       "the provider refused the request (inblob size, privlevel, service "
			       "GUID or SVSM call)"));
	assert_non_null(strstr(tsm_errno_hint(-ENOTTY, "outblob"), "VMPCK wiped"));
	assert_non_null(strstr(tsm_errno_hint(-ENOTTY, "outblob"), "reboot needed"));
	assert_non_null(strstr(tsm_errno_hint(EBUSY, "inblob"), "generation"));
	assert_non_null(strstr(tsm_errno_hint(-EFBIG, "outblob"), "larger"));
	assert_string_equal(tsm_errno_hint(-EXDEV, "outblob"), "unexpected error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_validate_good),
		cmocka_unit_test(test_request_validate_bad_inblob),
		cmocka_unit_test(test_request_validate_bad_privlevel),
		cmocka_unit_test(test_request_validate_bad_service_guid),
		cmocka_unit_test(test_request_validate_bad_service_provider),
		cmocka_unit_test_setup_teardown(test_report_get_validates_before_io, setup_tmp,
						teardown_tmp),
		cmocka_unit_test(test_probe_bad_root_missing),
		cmocka_unit_test_setup_teardown(test_probe_bad_root_not_directory, setup_tmp,
						teardown_tmp),
		cmocka_unit_test_setup_teardown(test_probe_bad_root_not_configfs, setup_tmp,
						teardown_tmp),
		cmocka_unit_test(test_parse_generation),
		cmocka_unit_test(test_parse_generation_bad_text),
		cmocka_unit_test(test_errno_hint),
	};

	return cmocka_run_group_tests_name("tsm", tests, NULL, NULL);
}
