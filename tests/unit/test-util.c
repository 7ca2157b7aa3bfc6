// SPDX-License-Identifier: Apache-2.0
#include "testutil.h"

#include <errno.h>

#include "err.h"

static void test_hex_roundtrip(void **state)
{
	uint8_t in[3] = { 0x00, 0xab, 0xff }, out[3];
	char s[7];

	(void)state;
	assert_string_equal(hex_encode(in, 3, s), "00abff");
	assert_int_equal(hex_decode("00ABff", out, 3), 0);
	assert_memory_equal(in, out, 3);
}

static void test_hex_decode_bad_input(void **state)
{
	uint8_t out[2];
	uint8_t *p;
	size_t n;

	(void)state;
	assert_int_equal(hex_decode("0g00", out, 2), -EINVAL);
	assert_int_equal(hex_decode("000", out, 2), -EINVAL);
	assert_int_equal(hex_decode("000000", out, 2), -EINVAL);
	assert_int_equal(hex_decode_alloc("abc", 10, &p, &n), -EINVAL);
	assert_int_equal(hex_decode_alloc("abcd", 1, &p, &n), -EINVAL);
}

static void test_parse_u64_bad_input(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_u64("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u64("0x1f", &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(parse_u64("", &v), -EINVAL);
	assert_int_equal(parse_u64("-1", &v), -EINVAL);
	assert_int_equal(parse_u64("12a", &v), -EINVAL);
	assert_int_equal(parse_u64("0x", &v), -EINVAL);
	assert_int_equal(parse_u64("99999999999999999999999", &v), -EINVAL);
}

static void test_parse_time(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(parse_time("2022-09-24T00:55:28Z", &t), 0);
	assert_int_equal(t, 1663980928);
	assert_int_equal(parse_time("2022-09-24", &t), 0);
	assert_int_equal(parse_time("@1663980928", &t), 0);
	assert_int_equal(t, 1663980928);
	assert_int_equal(parse_time("2022-09-24T00:55:28+02:00", &t), -EINVAL);
	assert_int_equal(parse_time("2022-13-24T00:55:28Z", &t), -EINVAL);
	assert_int_equal(parse_time("yesterday", &t), -EINVAL);
}

static void test_read_file_cap(void **state)
{
	char path[] = "/tmp/kagi-test-XXXXXX";
	int fd = mkstemp(path);
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, "0123456789", 10), 0);
	close(fd);
	assert_int_equal(read_file(path, 9, &buf, &len), -EFBIG);
	assert_int_equal(read_file(path, 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	free(buf);
	unlink(path);
	assert_int_equal(read_file(path, 10, &buf, &len), -ENOENT);
}

static void test_err_format(void **state)
{
	struct kagi_err e;
	char buf[600];

	(void)state;
	assert_int_equal(kagi_err_set(&e, -EBADMSG, "x.y", 0x10, "bad %d", 7), -EBADMSG);
	assert_string_equal(kagi_err_str(&e, buf, sizeof(buf)), "x.y at offset 0x10: bad 7");
	kagi_err_prefix(&e, -EBADMSG, "in %s", "file");
	assert_string_equal(e.msg, "in file: bad 7");
	assert_int_equal(kagi_err_set(NULL, -EIO, "x", 0, "ignored"), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_roundtrip),
		cmocka_unit_test(test_hex_decode_bad_input),
		cmocka_unit_test(test_parse_u64_bad_input),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_read_file_cap),
		cmocka_unit_test(test_err_format),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
