// SPDX-License-Identifier: Apache-2.0
/*
 * test-sev-guest.c: the /dev/sev-guest backend without a device: the MSG_REPORT_RSP decoder,
 * the error-word tables, the ioctl ABI layout and the input checks that must run before any
 * ioctl (a failed SNP request wipes the VMPCK).
 */
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "reader.h"
#include "sev-guest.h"

#define RESP_LEN (SEV_GUEST_RESP_HDR_SIZE + SEV_GUEST_REPORT_SIZE)

/* A MSG_REPORT_RSP: status, report_size, 24 reserved bytes, then a patterned "report". */
static void make_resp(uint8_t *buf, size_t len, uint32_t status, uint32_t size)
{
	memset(buf, 0, len);
	put_le32(buf, status);
	put_le32(buf + 4, size);
	for (size_t i = SEV_GUEST_RESP_HDR_SIZE; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
}

static void test_decode_report_resp_good(void **state)
{
	uint8_t resp[SEV_GUEST_RESP_SIZE];
	const uint8_t *rep = NULL;
	size_t len = 0;
	struct kagi_err e = { 0 };

	(void)state;
	make_resp(resp, sizeof(resp), 0, SEV_GUEST_REPORT_SIZE);
	assert_int_equal(sev_guest_decode_report_resp(resp, sizeof(resp), &rep, &len, &e), 0);
	assert_ptr_equal(rep, resp + 0x20);
	assert_int_equal(len, 1184);

	/* exactly header + report is enough */
	rep = NULL;
	assert_int_equal(sev_guest_decode_report_resp(resp, RESP_LEN, &rep, &len, &e), 0);
	assert_ptr_equal(rep, resp + 0x20);
}

static void test_decode_report_resp_bad_status(void **state)
{
	uint8_t resp[RESP_LEN];
	const uint8_t *rep = (const uint8_t *)"untouched";
	size_t len = 12345;
	struct kagi_err e = { 0 };

	(void)state;
	make_resp(resp, sizeof(resp), 0x16, SEV_GUEST_REPORT_SIZE);
	assert_int_equal(sev_guest_decode_report_resp(resp, sizeof(resp), &rep, &len, &e), -EIO);
	assert_string_equal(e.what, "report_resp.status");
	assert_non_null(strstr(e.msg, "0x16"));
	assert_non_null(strstr(e.msg, "INVALID_PARAM"));
	/* outputs untouched on failure */
	assert_string_equal((const char *)rep, "untouched");
	assert_int_equal(len, 12345);

	make_resp(resp, sizeof(resp), 0x27, SEV_GUEST_REPORT_SIZE);
	assert_int_equal(sev_guest_decode_report_resp(resp, sizeof(resp), &rep, &len, &e), -EIO);
	assert_non_null(strstr(e.msg, "INVALID_KEY"));
}

static void test_decode_report_resp_bad_report_size(void **state)
{
	static const uint32_t sizes[] = { 0, 0x4A0 - 1, 0x4A0 + 1, 0x2A0, 4000, 0xffffffff };
	uint8_t resp[SEV_GUEST_RESP_SIZE];
	const uint8_t *rep = NULL;
	size_t len = 0;
	struct kagi_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		make_resp(resp, sizeof(resp), 0, sizes[i]);
		assert_int_equal(sev_guest_decode_report_resp(resp, sizeof(resp), &rep, &len, &e),
				 -EBADMSG);
		assert_string_equal(e.what, "report_resp.report_size");
		assert_int_equal(e.off, 4);
		assert_null(rep);
	}
}

static void test_decode_report_resp_bad_truncated(void **state)
{
	static const struct {
		size_t len;
		const char *what;
	} cases[] = {
		{ 0, "report_resp.status" },      { 3, "report_resp.status" },
		{ 4, "report_resp.report_size" }, { 7, "report_resp.report_size" },
		{ 8, "report_resp.reserved" },    { 0x1f, "report_resp.reserved" },
		{ 0x20, "report_resp.report" },   { RESP_LEN - 1, "report_resp.report" },
	};
	uint8_t resp[RESP_LEN];
	const uint8_t *rep = NULL;
	size_t len = 0;
	struct kagi_err e = { 0 };

	(void)state;
	make_resp(resp, sizeof(resp), 0, SEV_GUEST_REPORT_SIZE);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(sev_guest_decode_report_resp(resp, cases[i].len, &rep, &len, &e),
				 -EBADMSG);
		assert_string_equal(e.what, cases[i].what);
		assert_null(rep);
	}
	assert_int_equal(sev_guest_decode_report_resp(NULL, 0, &rep, &len, &e), -EBADMSG);
}

static void test_fw_error_str(void **state)
{
	/* every code in shared/spec 2.6, with its explicit value */
	static const struct {
		uint32_t code;
		const char *name;
	} codes[] = {
		{ 0x00, "SUCCESS" },
		{ 0x01, "INVALID_PLATFORM_STATE" },
		{ 0x02, "INVALID_GUEST_STATE" },
		{ 0x04, "INVALID_LENGTH" },
		{ 0x07, "POLICY_FAILURE" },
		{ 0x08, "INACTIVE" },
		{ 0x09, "INVALID_ADDRESS" },
		{ 0x11, "INVALID_COMMAND" },
		{ 0x13, "HWERROR_PLATFORM" },
		{ 0x14, "HWERROR_UNSAFE" },
		{ 0x15, "UNSUPPORTED" },
		{ 0x16, "INVALID_PARAM" },
		{ 0x17, "RESOURCE_LIMIT" },
		{ 0x18, "SECURE_DATA_INVALID" },
		{ 0x19, "INVALID_PAGE_SIZE" },
		{ 0x1A, "INVALID_PAGE_STATE" },
		{ 0x1B, "INVALID_MDATA_ENTRY" },
		{ 0x1C, "INVALID_PAGE_OWNER" },
		{ 0x1D, "AEAD_OFLOW" },
		{ 0x1F, "EXIT_RING_BUFFER" },
		{ 0x20, "RMP_INIT_REQUIRED" },
		{ 0x21, "BAD_SVN" },
		{ 0x22, "BAD_VERSION" },
		{ 0x23, "SHUTDOWN_REQUIRED" },
		{ 0x24, "UPDATE_FAILED" },
		{ 0x25, "RESTORE_REQUIRED" },
		{ 0x26, "RMP_INITIALIZATION_FAILED" },
		{ 0x27, "INVALID_KEY" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		const char *s = sev_guest_fw_error_str(codes[i].code);

		if (strncmp(s, codes[i].name, strlen(codes[i].name)) != 0)
			fail_msg("fw_error 0x%x: got '%s', expected '%s'", codes[i].code, s,
				 codes[i].name);
	}
	assert_non_null(strstr(sev_guest_fw_error_str(0xff), "never reached"));
	assert_string_equal(sev_guest_fw_error_str(0x03), "unknown code");
	assert_string_equal(sev_guest_fw_error_str(0x28), "unknown code");
	assert_string_equal(sev_guest_fw_error_str(0xffffffff), "unknown code");
}

static void test_vmm_error_str(void **state)
{
	(void)state;
	assert_string_equal(sev_guest_vmm_error_str(0), "none");
	assert_non_null(strstr(sev_guest_vmm_error_str(1), "INVALID_LEN"));
	assert_non_null(strstr(sev_guest_vmm_error_str(1), "too small"));
	assert_non_null(strstr(sev_guest_vmm_error_str(2), "BUSY"));
	assert_string_equal(sev_guest_vmm_error_str(3), "unknown code");
}

static void test_ioctl_abi(void **state)
{
	struct sev_guest_request_ioctl g = { 0 };

	(void)state;
	assert_int_equal(sizeof(struct sev_guest_request_ioctl), 32);
	assert_int_equal(offsetof(struct sev_guest_request_ioctl, msg_version), 0);
	assert_int_equal(offsetof(struct sev_guest_request_ioctl, req_data), 8);
	assert_int_equal(offsetof(struct sev_guest_request_ioctl, resp_data), 16);
	assert_int_equal(offsetof(struct sev_guest_request_ioctl, exitinfo2), 24);
	assert_int_equal(offsetof(struct sev_guest_request_ioctl, fw_error), 24);
	assert_int_equal(offsetof(struct sev_guest_request_ioctl, vmm_error), 28);
	assert_int_equal(sizeof(struct sev_guest_report_req), 96);
	assert_int_equal(offsetof(struct sev_guest_report_req, vmpl), 64);
	assert_int_equal(offsetof(struct sev_guest_report_req, rsvd), 68);
	assert_int_equal(sizeof(struct sev_guest_report_resp), 4000);
	assert_int_equal(sizeof(struct sev_guest_ext_report_req), 112);
	assert_int_equal(offsetof(struct sev_guest_ext_report_req, certs_address), 96);
	assert_int_equal(offsetof(struct sev_guest_ext_report_req, certs_len), 104);
	/* exitinfo2 = fw_error (bits 31:0) | vmm_error (bits 63:32) on little-endian x86 */
	g.exitinfo2 = 0x0000000100000016ull;
	assert_int_equal(g.fw_error, 0x16);
	assert_int_equal(g.vmm_error, 1);
#if defined(__x86_64__) || defined(__aarch64__)
	assert_int_equal(SEV_GUEST_GET_REPORT, 0xC0205300u);
	assert_int_equal(SEV_GUEST_GET_DERIVED_KEY, 0xC0205301u);
	assert_int_equal(SEV_GUEST_GET_EXT_REPORT, 0xC0205302u);
#endif
	assert_int_equal(SEV_GUEST_CERTS_MAX, 16384);
}

static void test_validate_request_good(void **state)
{
	uint8_t ud[64] = { 1 };
	struct kagi_err e = { 0 };

	(void)state;
	for (unsigned v = 0; v <= 3; v++)
		assert_int_equal(sev_guest_validate_request(ud, 64, v, &e), 0);
}

static void test_validate_request_bad_user_data(void **state)
{
	uint8_t ud[65] = { 0 };
	static const size_t lens[] = { 0, 1, 32, 63, 65 };
	struct kagi_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		assert_int_equal(sev_guest_validate_request(ud, lens[i], 0, &e), -EINVAL);
		assert_string_equal(e.what, "sev_guest.user_data");
	}
	assert_int_equal(sev_guest_validate_request(NULL, 64, 0, &e), -EINVAL);
	assert_string_equal(e.what, "sev_guest.user_data");
}

static void test_validate_request_bad_vmpl(void **state)
{
	uint8_t ud[64] = { 0 };
	struct kagi_err e = { 0 };

	(void)state;
	assert_int_equal(sev_guest_validate_request(ud, 64, 4, &e), -EINVAL);
	assert_string_equal(e.what, "sev_guest.vmpl");
	assert_non_null(strstr(e.msg, "4"));
	assert_int_equal(sev_guest_validate_request(ud, 64, 0xffffffffu, &e), -EINVAL);
}

/*
 * The request checks happen before the device is opened: with a device path that does not
 * exist, a bad request still fails with EINVAL naming the field (not ENOENT from open), and
 * with a device that is a regular file it never gets as far as an ioctl (which would be ENOTTY).
 */
static void test_get_report_bad_vmpl_before_ioctl(void **state)
{
	char dir[] = "/tmp/kagi-test-sev-XXXXXX", path[64];
	uint8_t ud[64] = { 0 };
	struct sev_guest_result res = { 0 };
	struct kagi_err e = { 0 };
	FILE *f;

	(void)state;
	assert_int_equal(sev_guest_get_report("/nonexistent/sev-guest", ud, 64, 4, true, &res, &e),
			 -EINVAL);
	assert_string_equal(e.what, "sev_guest.vmpl");
	assert_null(res.report);

	assert_int_equal(sev_guest_get_report("/nonexistent/sev-guest", ud, 63, 0, false, &res, &e),
			 -EINVAL);
	assert_string_equal(e.what, "sev_guest.user_data");

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sev-guest", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(sev_guest_get_report(path, ud, 64, 4, true, &res, &e), -EINVAL);
	assert_string_equal(e.what, "sev_guest.vmpl");
	/* a valid request does reach the "device", which refuses the ioctl */
	assert_int_equal(sev_guest_get_report(path, ud, 64, 0, true, &res, &e), -ENOTTY);
	assert_string_equal(e.what, "sev_guest.ioctl");
	assert_non_null(strstr(e.msg, "fw_error 0x0"));
	assert_non_null(strstr(e.msg, "VMPCK"));
	unlink(path);
	rmdir(dir);
}

static void test_get_report_missing_device(void **state)
{
	uint8_t ud[64] = { 0 };
	struct sev_guest_result res = { 0 };
	struct kagi_err e = { 0 };

	(void)state;
	assert_int_equal(sev_guest_get_report("/nonexistent/sev-guest", ud, 64, 0, true, &res, &e),
			 -ENOENT);
	assert_string_equal(e.what, "sev_guest.open");
	assert_non_null(strstr(e.msg, "does not exist"));
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_read_vmpl(void **state)
{
	char dir[] = "/tmp/kagi-test-vmpl-XXXXXX", path[64];
	struct kagi_err e = { 0 };
	unsigned v = 99;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmpl", dir);
	write_text(path, "2\n");
	assert_int_equal(sev_guest_read_vmpl(path, &v, &e), 0);
	assert_int_equal(v, 2);
	write_text(path, "0");
	assert_int_equal(sev_guest_read_vmpl(path, &v, &e), 0);
	assert_int_equal(v, 0);
	unlink(path);
	v = 99;
	assert_int_equal(sev_guest_read_vmpl(path, &v, &e), -ENOENT);
	assert_int_equal(v, 99);
	rmdir(dir);
}

static void test_read_vmpl_bad_value(void **state)
{
	static const char *const bad[] = { "4\n", "x\n", "", "\n", "-1\n", "1 \n", "0x\n" };
	char dir[] = "/tmp/kagi-test-vmpl-XXXXXX", path[64];
	struct kagi_err e = { 0 };
	unsigned v = 99;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmpl", dir);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		write_text(path, bad[i]);
		assert_int_equal(sev_guest_read_vmpl(path, &v, &e), -EBADMSG);
		assert_string_equal(e.what, "sev_guest.vmpl");
		assert_int_equal(v, 99);
	}
	write_text(path, "0000000000000000000000000000000000001\n");
	assert_true(sev_guest_read_vmpl(path, &v, &e) < 0);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_report_resp_good),
		cmocka_unit_test(test_decode_report_resp_bad_status),
		cmocka_unit_test(test_decode_report_resp_bad_report_size),
		cmocka_unit_test(test_decode_report_resp_bad_truncated),
		cmocka_unit_test(test_fw_error_str),
		cmocka_unit_test(test_vmm_error_str),
		cmocka_unit_test(test_ioctl_abi),
		cmocka_unit_test(test_validate_request_good),
		cmocka_unit_test(test_validate_request_bad_user_data),
		cmocka_unit_test(test_validate_request_bad_vmpl),
		cmocka_unit_test(test_get_report_bad_vmpl_before_ioctl),
		cmocka_unit_test(test_get_report_missing_device),
		cmocka_unit_test(test_read_vmpl),
		cmocka_unit_test(test_read_vmpl_bad_value),
	};

	return cmocka_run_group_tests_name("sev-guest", tests, NULL, NULL);
}
