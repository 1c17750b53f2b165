/*
 * inv_skuset: members come and go through growth and removals inside probe clusters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "inv_skuset.h"

static void
test_add_has_remove_through_growth(void **state)
{
	struct inv_skuset *s = inv_skuset_new();
	char sku[32];
	size_t seen = 0;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < 1000; i++) {
		snprintf(sku, sizeof(sku), "SKU-%d", i);
		assert_int_equal(inv_skuset_add(s, sku), 0);
	}
	assert_int_equal(inv_skuset_add(s, "SKU-7"), 0); /* already there */
	assert_int_equal(inv_skuset_count(s), 1000);
	for (int i = 0; i < 1000; i += 2) {
		snprintf(sku, sizeof(sku), "SKU-%d", i);
		inv_skuset_remove(s, sku);
	}
	inv_skuset_remove(s, "SKU-absent");
	assert_int_equal(inv_skuset_count(s), 500);
	for (int i = 0; i < 1000; i++) {
		snprintf(sku, sizeof(sku), "SKU-%d", i);
		assert_int_equal(inv_skuset_has(s, sku), i % 2 == 1);
	}
	for (size_t i = 0; i < inv_skuset_capacity(s); i++)
		seen += inv_skuset_slot(s, i) != NULL;
	assert_int_equal(seen, 500);
	inv_skuset_clear(s);
	assert_int_equal(inv_skuset_count(s), 0);
	assert_false(inv_skuset_has(s, "SKU-1"));
	inv_skuset_destroy(s);
	inv_skuset_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_has_remove_through_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
