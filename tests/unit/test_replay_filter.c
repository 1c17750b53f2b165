#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replay_filter.h"

static const char order[] = "{\"type\":\"order\",\"order_id\":\"o-1\",\"sku\":\"A1\","
			    "\"qty\":2,\"vip\":true,\"note\":null,\"tags\":[\"x\"]}";
static const char stock[] = "{\"type\":\"stock_set\",\"sku\":\"A1\",\"stock\":100}";

static bool
match(const struct replay_filter *f, const char *key, const char *value)
{
	return replay_filter_match(f, key, key ? strlen(key) : 0, value,
				   value ? strlen(value) : 0);
}

static int
setup(void **state)
{
	*state = replay_filter_new();
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	replay_filter_destroy(*state);
	return 0;
}

static void
test_empty_filter_passes_everything(void **state)
{
	struct replay_filter *f = *state;

	assert_false(replay_filter_active(f));
	assert_true(match(f, "A1", order));
	assert_true(match(f, NULL, NULL));
	assert_true(match(f, "A1", "not json"));
}

static void
test_keys_any_of_them_exactly(void **state)
{
	struct replay_filter *f = *state;
	char err[128];

	assert_int_equal(replay_filter_add_key(f, "A1", err, sizeof(err)), 0);
	assert_int_equal(replay_filter_add_key(f, "B2", err, sizeof(err)), 0);
	assert_true(replay_filter_active(f));
	assert_true(match(f, "A1", order));
	assert_true(match(f, "B2", stock));
	assert_false(match(f, "A", order));
	assert_false(match(f, "A1x", order));
	assert_false(match(f, NULL, order));
	/* a key with a NUL byte in it is not "A1" */
	assert_false(replay_filter_match(f, "A1\0z", 4, order, strlen(order)));
}

static void
test_types_any_of_them(void **state)
{
	struct replay_filter *f = *state;
	char err[128];

	assert_int_equal(replay_filter_add_type(f, "order", err, sizeof(err)), 0);
	assert_true(match(f, "A1", order));
	assert_false(match(f, "A1", stock));
	assert_int_equal(replay_filter_add_type(f, "stock_set", err, sizeof(err)), 0);
	assert_true(match(f, "A1", stock));
	/* not JSON, not an object, no type, a tombstone: no match */
	assert_false(match(f, "A1", "{\"type\":"));
	assert_false(match(f, "A1", "[\"order\"]"));
	assert_false(match(f, "A1", "{\"sku\":\"A1\"}"));
	assert_false(match(f, "A1", NULL));
	assert_int_equal(replay_filter_add_type(f, "ordr", err, sizeof(err)), -1);
	assert_string_equal(err, "could not filter by type \"ordr\": no such event type");
}

static void
test_fields_all_of_them_by_json_type(void **state)
{
	struct replay_filter *f = *state;
	char err[128];

	assert_int_equal(replay_filter_add_field(f, "sku=A1", err, sizeof(err)), 0);
	assert_true(match(f, NULL, order));
	assert_true(match(f, NULL, stock));
	/* numbers compare as numbers */
	assert_int_equal(replay_filter_add_field(f, "qty=2.0", err, sizeof(err)), 0);
	assert_true(match(f, NULL, order));
	assert_false(match(f, NULL, stock)); /* no qty */
	assert_int_equal(replay_filter_add_field(f, "vip=true", err, sizeof(err)), 0);
	assert_int_equal(replay_filter_add_field(f, "note=null", err, sizeof(err)), 0);
	assert_true(match(f, NULL, order));
	assert_false(
	    match(f, NULL, "{\"sku\":\"A1\",\"qty\":3,\"vip\":true,\"note\":null}"));
	assert_false(
	    match(f, NULL, "{\"sku\":\"A1\",\"qty\":2,\"vip\":false,\"note\":null}"));
	/* a string "2" is not the number 2 */
	assert_false(
	    match(f, NULL, "{\"sku\":\"A1\",\"qty\":\"2\",\"vip\":true,\"note\":null}"));
}

static void
test_field_values_never_match_containers_and_need_a_name(void **state)
{
	struct replay_filter *f = *state;
	char err[128];

	assert_int_equal(replay_filter_add_field(f, "tags=x", err, sizeof(err)), 0);
	assert_false(match(f, NULL, order));
	assert_int_equal(replay_filter_add_field(f, "sku", err, sizeof(err)), -1);
	assert_string_equal(err,
			    "could not filter by field \"sku\": expected NAME=VALUE");
	assert_int_equal(replay_filter_add_field(f, "=A1", err, sizeof(err)), -1);
}

static void
test_empty_value_and_equals_in_value(void **state)
{
	struct replay_filter *f = *state;
	char err[128];

	assert_int_equal(replay_filter_add_field(f, "note=a=b", err, sizeof(err)), 0);
	assert_true(match(f, NULL, "{\"note\":\"a=b\"}"));
	assert_false(match(f, NULL, "{\"note\":\"a\"}"));
}

static void
test_kinds_combine(void **state)
{
	struct replay_filter *f = *state;
	char err[128];

	assert_int_equal(replay_filter_add_key(f, "A1", err, sizeof(err)), 0);
	assert_int_equal(replay_filter_add_type(f, "order", err, sizeof(err)), 0);
	assert_int_equal(replay_filter_add_field(f, "order_id=o-1", err, sizeof(err)), 0);
	assert_true(match(f, "A1", order));
	assert_false(match(f, "B2", order));
	assert_false(match(f, "A1", stock));
	assert_false(match(f, "A1", "{\"type\":\"order\",\"order_id\":\"o-2\"}"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_empty_filter_passes_everything, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_keys_any_of_them_exactly, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_types_any_of_them, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fields_all_of_them_by_json_type, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_field_values_never_match_containers_and_need_a_name, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_empty_value_and_equals_in_value, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_kinds_combine, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
