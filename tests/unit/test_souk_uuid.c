#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "souk_uuid.h"

/* 8-4-4-4-12 lower-case hex with the given version nibble and the RFC 4122 variant. */
static void
assert_uuid_shape(const char *s, char version)
{
	assert_int_equal(strlen(s), SOUK_UUID_STRLEN);
	for (int i = 0; i < SOUK_UUID_STRLEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(s[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", s[i]));
	}
	assert_int_equal(s[14], version);
	assert_non_null(strchr("89ab", s[19]));
}

static void
test_random_ids_are_v4_and_distinct(void **state)
{
	char a[SOUK_UUID_STRLEN + 1], b[SOUK_UUID_STRLEN + 1];

	(void)state;
	souk_uuid_random(a);
	souk_uuid_random(b);
	assert_uuid_shape(a, '4');
	assert_uuid_shape(b, '4');
	assert_string_not_equal(a, b);
}

static void
test_derived_ids_are_stable_v5(void **state)
{
	char a[SOUK_UUID_STRLEN + 1], b[SOUK_UUID_STRLEN + 1];

	(void)state;
	souk_uuid_derive("shop-1", "key-42", 0, a);
	souk_uuid_derive("shop-1", "key-42", 0, b);
	assert_uuid_shape(a, '5');
	assert_string_equal(a, b);
	/* Frozen: a change of namespace or join would give retried events new ids. */
	assert_string_equal(a, "b8d49904-a6d0-5fd0-b6ea-fead3ee7f330");
}

static void
test_derived_ids_differ_by_every_input(void **state)
{
	char base[SOUK_UUID_STRLEN + 1], other[SOUK_UUID_STRLEN + 1];

	(void)state;
	souk_uuid_derive("shop-1", "key-42", 0, base);
	souk_uuid_derive("shop-2", "key-42", 0, other);
	assert_string_not_equal(base, other);
	souk_uuid_derive("shop-1", "key-43", 0, other);
	assert_string_not_equal(base, other);
	souk_uuid_derive("shop-1", "key-42", 1, other);
	assert_string_not_equal(base, other);
	/* The join is unambiguous: moving a character between the parts changes the id.
	 */
	souk_uuid_derive("shop-1k", "ey-42", 0, other);
	assert_string_not_equal(base, other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_ids_are_v4_and_distinct),
	    cmocka_unit_test(test_derived_ids_are_stable_v5),
	    cmocka_unit_test(test_derived_ids_differ_by_every_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
