// SPDX-License-Identifier: Apache-2.0
#include "testutil.h"

#include <sys/mman.h>

#include "secret.h"

static void test_secret_alloc_locked_zeroed(void **state)
{
	struct secret *s = secret_new(32);
	unsigned char vec[1];

	(void)state;
	assert_non_null(s);
	assert_int_equal(s->len, 32);
	assert_true(mem_is_zero(s->data, 32));
	/* the page is resident (mlocked) */
	assert_int_equal(mincore(s->data, 4096, vec), 0);
	assert_true(vec[0] & 1);
	memset(s->data, 0xaa, 32);
	secret_free(s);
}

static void test_secret_bad_size(void **state)
{
	(void)state;
	assert_null(secret_new(0));
	assert_null(secret_new(SIZE_MAX));
	secret_free(NULL);
}

static void test_secret_memcmp(void **state)
{
	(void)state;
	assert_int_equal(secret_memcmp("abc", "abc", 3), 0);
	assert_int_not_equal(secret_memcmp("abc", "abd", 3), 0);
}

static void test_secret_cleanup_attribute(void **state)
{
	(void)state;
	{
		_cleanup_secret_ struct secret *s = secret_new(64);
		assert_non_null(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_alloc_locked_zeroed),
		cmocka_unit_test(test_secret_bad_size),
		cmocka_unit_test(test_secret_memcmp),
		cmocka_unit_test(test_secret_cleanup_attribute),
	};
	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
