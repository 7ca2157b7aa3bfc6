// SPDX-License-Identifier: Apache-2.0
#include "testutil.h"

#include <errno.h>

#include "reader.h"

static const uint8_t buf[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09 };

static void test_reader_ints(void **state)
{
	struct reader r = reader_init(buf, sizeof(buf));
	uint8_t b;
	uint16_t w;
	uint32_t d;

	(void)state;
	assert_int_equal(reader_u8(&r, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(reader_le16(&r, &w), 0);
	assert_int_equal(w, 0x0302);
	assert_int_equal(reader_be32(&r, &d), 0);
	assert_int_equal(d, 0x04050607);
	assert_int_equal(r.off, 7);
	assert_int_equal(r.left, 2);
}

static void test_reader_bad_short_does_not_move(void **state)
{
	struct reader r = reader_init(buf, 3);
	uint32_t d;
	uint64_t q;

	(void)state;
	assert_int_equal(reader_le32(&r, &d), -EBADMSG);
	assert_int_equal(r.off, 0);
	assert_int_equal(r.left, 3);
	assert_int_equal(reader_be64(&r, &q), -EBADMSG);
	assert_int_equal(reader_skip(&r, 4), -EBADMSG);
	assert_int_equal(reader_skip(&r, 3), 0);
	assert_true(reader_empty(&r));
}

static void test_reader_sub_bounds(void **state)
{
	struct reader r = reader_init(buf, sizeof(buf)), s;
	const uint8_t *p;
	uint32_t d;

	(void)state;
	assert_int_equal(reader_skip(&r, 2), 0);
	assert_int_equal(reader_sub(&r, 4, &s), 0);
	assert_int_equal(s.off, 2);
	assert_int_equal(r.off, 6);
	assert_int_equal(reader_le32(&s, &d), 0);
	assert_int_equal(reader_u8(&s, (uint8_t *)&d), -EBADMSG); /* child is bounded */
	assert_int_equal(reader_sub(&r, 4, &s), -EBADMSG);
	assert_int_equal(reader_take(&r, SIZE_MAX, &p), -EBADMSG); /* no overflow */
	assert_int_equal(reader_take(&r, 3, &p), 0);
	assert_int_equal(p[0], 7);
}

static void test_reader_null_buffer(void **state)
{
	struct reader r = reader_init(NULL, 10);
	uint8_t b;

	(void)state;
	assert_int_equal(reader_u8(&r, &b), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_ints),
		cmocka_unit_test(test_reader_bad_short_does_not_move),
		cmocka_unit_test(test_reader_sub_bounds),
		cmocka_unit_test(test_reader_null_buffer),
	};
	return cmocka_run_group_tests_name("reader", tests, NULL, NULL);
}
