#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "souk_pgarray.h"

static void
test_empty_array(void **state)
{
	struct souk_pgarray a;

	(void)state;
	souk_pgarray_init(&a);
	assert_string_equal(souk_pgarray_text(&a), "{}");
	souk_pgarray_free(&a);
}

static void
test_text_is_quoted_and_escaped(void **state)
{
	struct souk_pgarray a;

	(void)state;
	souk_pgarray_init(&a);
	souk_pgarray_add_str(&a, "plain");
	souk_pgarray_add_str(&a, "with \"quote\" and \\back");
	souk_pgarray_add_str(&a, NULL);
	souk_pgarray_add_str(&a, "{,}");
	souk_pgarray_add_int(&a, -42);
	assert_string_equal(
	    souk_pgarray_text(&a),
	    "{\"plain\",\"with \\\"quote\\\" and \\\\back\",NULL,\"{,}\",-42}");
	/* Reuse after reset. */
	souk_pgarray_reset(&a);
	souk_pgarray_add_int(&a, 7);
	assert_string_equal(souk_pgarray_text(&a), "{7}");
	souk_pgarray_free(&a);
}

static void
test_bytea_round_trip(void **state)
{
	const char bytes[] = {0, '\n', (char)0xff, 'a'};
	struct souk_pgarray a;
	size_t len;
	char *back;

	(void)state;
	souk_pgarray_init(&a);
	souk_pgarray_add_bytea(&a, bytes, sizeof(bytes));
	/* Inside an array literal the backslash of \x is escaped. */
	assert_string_equal(souk_pgarray_text(&a), "{\"\\\\x000aff61\"}");
	souk_pgarray_free(&a);
	back = souk_pgarray_unhex("\\x000aff61", &len);
	assert_non_null(back);
	assert_int_equal(len, sizeof(bytes));
	assert_memory_equal(back, bytes, sizeof(bytes));
	free(back);
	assert_null(souk_pgarray_unhex("\\x0g", &len));
	assert_null(souk_pgarray_unhex("\\x0", &len));
	assert_null(souk_pgarray_unhex("0a", &len));
}

static void
test_grows_past_the_first_block(void **state)
{
	struct souk_pgarray a;
	const char *t;

	(void)state;
	souk_pgarray_init(&a);
	for (int i = 0; i < 10000; i++)
		souk_pgarray_add_int(&a, i);
	t = souk_pgarray_text(&a);
	assert_non_null(t);
	assert_memory_equal(t, "{0,1,2,", 7);
	assert_string_equal(t + strlen(t) - 6, ",9999}");
	assert_int_equal(a.n, 10000);
	souk_pgarray_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_array),
	    cmocka_unit_test(test_text_is_quoted_and_escaped),
	    cmocka_unit_test(test_bytea_round_trip),
	    cmocka_unit_test(test_grows_past_the_first_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
