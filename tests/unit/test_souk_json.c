/* Unit tests for lib/souk_json: the tree, number handling, offsets, every limit and
 * every rejection, with the byte offsets a caller would report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "souk_json.h"

static const souk_json_limits_t limits = {
    .max_bytes = 1024, .max_depth = 4, .max_members = 8};

static souk_json_t *
parse(const char *text, souk_json_error_t *err)
{
	return souk_json_parse(text, strlen(text), &limits, err);
}

/* Parses text expecting failure; checks the offset and that the message holds want. */
static void
expect_error(const char *text, size_t len, long offset, const char *want)
{
	souk_json_error_t err;
	souk_json_t *doc = souk_json_parse(text, len, &limits, &err);
	if (doc != NULL) {
		souk_json_destroy(doc);
		fail_msg("parsed %s", text);
	}
	if (strstr(err.message, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.message, want);
	assert_int_equal(err.offset, offset);
}

static void
test_tree_keeps_order_and_types(void **state)
{
	(void)state;
	souk_json_error_t err;
	souk_json_t *doc =
	    parse("{\"z\": 1, \"a\": [true, false, null, \"s\"], \"m\": {}}", &err);
	assert_non_null(doc);
	const souk_json_value_t *root = souk_json_root(doc);
	assert_int_equal(souk_json_type(root), SOUK_JSON_OBJECT);
	assert_int_equal(souk_json_object_size(root), 3);
	assert_string_equal(souk_json_object_key(root, 0, NULL), "z");
	assert_string_equal(souk_json_object_key(root, 1, NULL), "a");
	assert_string_equal(souk_json_object_key(root, 2, NULL), "m");
	assert_null(souk_json_object_key(root, 3, NULL));
	assert_null(souk_json_object_value(root, 3));

	const souk_json_value_t *a = souk_json_object_get(root, "a");
	assert_ptr_equal(a, souk_json_object_value(root, 1));
	assert_int_equal(souk_json_array_size(a), 4);
	assert_true(souk_json_bool(souk_json_array_get(a, 0)));
	assert_int_equal(souk_json_type(souk_json_array_get(a, 1)), SOUK_JSON_BOOL);
	assert_false(souk_json_bool(souk_json_array_get(a, 1)));
	assert_int_equal(souk_json_type(souk_json_array_get(a, 2)), SOUK_JSON_NULL);
	assert_string_equal(souk_json_string(souk_json_array_get(a, 3), NULL), "s");
	assert_null(souk_json_array_get(a, 4));

	const souk_json_value_t *m = souk_json_object_get(root, "m");
	assert_int_equal(souk_json_type(m), SOUK_JSON_OBJECT);
	assert_int_equal(souk_json_object_size(m), 0);
	assert_null(souk_json_object_get(root, "missing"));
	/* accessors of the wrong type answer "nothing" */
	assert_null(souk_json_string(m, NULL));
	assert_null(souk_json_number_text(m));
	assert_int_equal(souk_json_array_size(m), 0);
	assert_null(souk_json_object_get(a, "z"));
	souk_json_destroy(doc);
}

static void
test_string_escapes_and_embedded_nul(void **state)
{
	(void)state;
	souk_json_error_t err;
	souk_json_t *doc =
	    parse("{\"k\\u0000x\": \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\u0000\"}", &err);
	assert_non_null(doc);
	const souk_json_value_t *root = souk_json_root(doc);
	size_t len;
	const char *key = souk_json_object_key(root, 0, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(key, "k\0x", 3);
	/* a lookup by C string cannot reach a key holding a NUL */
	assert_null(souk_json_object_get(root, "k"));
	const char *s = souk_json_string(souk_json_object_value(root, 0), &len);
	assert_int_equal(len, 12);
	assert_memory_equal(s, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\0", 13);
	souk_json_destroy(doc);
}

static void
test_numbers_keep_text_int64_and_double(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		bool is_int;
		int64_t i;
		double d;
	} cases[] = {
	    {"7", true, 7, 7},
	    {"-0", true, 0, 0},
	    {"7.0", true, 7, 7}, /* integral: JSON Schema calls it an integer too */
	    {"7e0", true, 7, 7},
	    {"1.5e3", true, 1500, 1500},
	    {"7.5", false, 0, 7.5},
	    {"-2.25E-1", false, 0, -0.225},
	    {"9223372036854775807", true, INT64_MAX, 9223372036854775807.0},
	    {"-9223372036854775808", true, INT64_MIN, -9223372036854775808.0},
	    {"9223372036854775808", false, 0, 9223372036854775808.0},
	    {"1e19", false, 0, 1e19},
	    {"1e-400", true, 0, 0}, /* underflows to 0, an integral value */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64];
		souk_json_error_t err;
		snprintf(text, sizeof(text), "[%s]", cases[i].text);
		souk_json_t *doc = parse(text, &err);
		if (doc == NULL)
			fail_msg("%s: %s", cases[i].text, err.message);
		const souk_json_value_t *n = souk_json_array_get(souk_json_root(doc), 0);
		int64_t got = 0;
		assert_string_equal(souk_json_number_text(n), cases[i].text);
		if (souk_json_number_int64(n, &got) != cases[i].is_int ||
		    (cases[i].is_int && got != cases[i].i) ||
		    souk_json_number_double(n) != cases[i].d)
			fail_msg("%s: is_int %d, int64 %lld, double %.17g", cases[i].text,
				 !cases[i].is_int, (long long)got,
				 souk_json_number_double(n));
		souk_json_destroy(doc);
	}
}

static void
test_offsets_span_each_value(void **state)
{
	(void)state;
	static const char text[] =
	    " {\"a\": \"x\\\"y\", \"b\" : [12, true], \"c\":null} ";
	souk_json_error_t err;
	souk_json_t *doc = parse(text, &err);
	assert_non_null(doc);
	const souk_json_value_t *root = souk_json_root(doc);
	static const struct {
		const char *path;
		const char *span;
	} cases[] = {
	    {"", "{\"a\": \"x\\\"y\", \"b\" : [12, true], \"c\":null}"},
	    {"a", "\"x\\\"y\""},
	    {"b", "[12, true]"},
	    {"c", "null"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const souk_json_value_t *v =
		    cases[i].path[0] ? souk_json_object_get(root, cases[i].path) : root;
		assert_int_equal(souk_json_length(v), strlen(cases[i].span));
		assert_memory_equal(text + souk_json_offset(v), cases[i].span,
				    strlen(cases[i].span));
	}
	const souk_json_value_t *b = souk_json_object_get(root, "b");
	assert_int_equal(souk_json_offset(souk_json_array_get(b, 0)), 22);
	assert_int_equal(souk_json_length(souk_json_array_get(b, 0)), 2);
	assert_int_equal(souk_json_offset(souk_json_array_get(b, 1)), 26);
	assert_int_equal(souk_json_length(souk_json_array_get(b, 1)), 4);
	souk_json_destroy(doc);
}

static void
test_scalar_top_level(void **state)
{
	(void)state;
	souk_json_error_t err;
	souk_json_t *doc = parse("  42", &err);
	assert_non_null(doc);
	assert_int_equal(souk_json_type(souk_json_root(doc)), SOUK_JSON_NUMBER);
	assert_int_equal(souk_json_offset(souk_json_root(doc)), 2);
	assert_int_equal(souk_json_length(souk_json_root(doc)), 2);
	souk_json_destroy(doc);
	doc = parse("\"s\"\n", &err);
	assert_non_null(doc);
	assert_string_equal(souk_json_string(souk_json_root(doc), NULL), "s");
	souk_json_destroy(doc);
}

static void
test_size_limit_checked_before_parsing(void **state)
{
	(void)state;
	char big[1100];
	memset(big, ' ', sizeof(big));
	big[0] = '[';
	big[sizeof(big) - 1] = ']';
	expect_error(big, sizeof(big), -1,
		     "input of 1100 bytes exceeds the limit of 1024");
	/* the same text cut to the limit parses */
	big[1023] = ']';
	souk_json_error_t err;
	souk_json_t *doc = souk_json_parse(big, 1024, &limits, &err);
	assert_non_null(doc);
	souk_json_destroy(doc);
}

static void
test_depth_limit_names_depth_and_offset(void **state)
{
	(void)state;
	souk_json_error_t err;
	souk_json_t *doc = parse("[{\"a\": [[1]]}]", &err); /* depth 4: the limit */
	assert_non_null(doc);
	souk_json_destroy(doc);
	expect_error("[{\"a\": [[[1]]]}]", strlen("[{\"a\": [[[1]]]}]"), 9,
		     "depth 5 at byte 9 exceeds the limit of 4");
}

static void
test_member_limit(void **state)
{
	(void)state;
	const char *obj =
	    "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9}";
	expect_error(obj, strlen(obj), 49, "object at byte 0 has more than 8 members");
	const char *arr = "[0, [1, 2, 3, 4, 5, 6, 7, 8, 9]]";
	expect_error(arr, strlen(arr), 29, "array at byte 4 has more than 8 elements");
}

static void
test_duplicate_key_named(void **state)
{
	(void)state;
	const char *text = "{\"sku\":1,\"in\":{\"sku\":2},\"sku\":3}";
	expect_error(text, strlen(text), 24, "duplicate key \"sku\" at byte 24");
}

static void
test_trailing_garbage_offset(void **state)
{
	(void)state;
	expect_error("{\"a\":1}  x", 10, 9, "trailing garbage at byte 9");
	expect_error("{\"a\":1}{}", 9, 7, "trailing garbage at byte 7");
	expect_error("1 2", 3, 2, "trailing garbage at byte 2");
}

/* yajl refuses malformed byte sequences itself; souk_json adds what yajl lets
 * through (overlong forms, surrogates, code points past U+10FFFF, lone surrogate
 * escapes) and points at the string. */
static void
test_invalid_utf8_rejected(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		long offset;
		const char *want;
	} cases[] = {
	    {"[\"\xff\"]", 3, "invalid bytes in UTF8 string"},
	    {"[\"ab\xe2\x82\"]", 7, "invalid bytes in UTF8 string"}, /* cut sequence */
	    {"[1, \"\xc0\x80\"]", 4,
	     "invalid utf-8 in string at byte 4"}, /* overlong NUL */
	    {"[\"\xe0\x80\xaf\"]", 1,
	     "invalid utf-8 in string at byte 1"}, /* overlong '/' */
	    {"[\"\xed\xa0\x80\"]", 1,
	     "invalid utf-8 in string at byte 1"}, /* surrogate */
	    {"[\"\xf4\x90\x80\x80\"]", 1,
	     "invalid utf-8 in string at byte 1"},		       /* > U+10FFFF */
	    {"[\"\\ud800\"]", 1, "invalid utf-8 in string at byte 1"}, /* lone high */
	    {"[\"\\ud800\\u0041\"]", 1, "invalid utf-8 in string at byte 1"},
	    {"[\"\\udc00\"]", 1, "invalid utf-8 in string at byte 1"}, /* lone low */
	    {"{\"ok\": 1, \"\xc0\xaf\":2}", 10, "invalid utf-8 in string at byte 10"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].text, strlen(cases[i].text), cases[i].offset,
			     cases[i].want);
}

static void
test_empty_and_blank_input(void **state)
{
	(void)state;
	expect_error("", 0, -1, "empty input");
	expect_error(" \r\n\t", 4, -1, "empty input");
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"{\"a\":", "invalid json at byte 5"}, /* truncated */
	    {"{\"a\":1", "premature EOF"},
	    {"[NaN]", "invalid json"},
	    {"[Infinity]", "invalid json"},
	    {"[-Infinity]", "invalid json"},
	    {"[01]", "invalid json"},
	    {"[1.]", "invalid json"},
	    {"['a']", "invalid json"},
	    {"[1] // comment", "trailing garbage"},
	    {"{a:1}", "invalid json"},
	    {"[1,]", "invalid json"},
	    {"[\"tab\there\"]", "invalid json"}, /* raw control character */
	    {"[1e400]", "number at byte 1 does not fit a double: 1e400"},
	    {"[-1e400]", "does not fit a double"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		souk_json_error_t err;
		souk_json_t *doc = parse(cases[i].text, &err);
		if (doc != NULL) {
			souk_json_destroy(doc);
			fail_msg("parsed %s", cases[i].text);
		}
		if (strstr(err.message, cases[i].want) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].text,
				 err.message, cases[i].want);
		assert_true(err.offset >= 0);
		assert_true((size_t)err.offset <= strlen(cases[i].text));
	}
}

static void
test_describe_for_messages(void **state)
{
	(void)state;
	souk_json_error_t err;
	souk_json_t *doc = parse("[12.50, \"a\\nb\", true, null, {}, [], "
				 "\"0123456789012345678901234567890123456789XYZ\"]",
				 &err);
	assert_non_null(doc);
	const souk_json_value_t *root = souk_json_root(doc);
	static const char *const want[] = {
	    "12.50",
	    "\"a?b\"",
	    "true",
	    "null",
	    "an object",
	    "an array",
	    "\"0123456789012345678901234567890123456789...\"",
	};
	char out[64];
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(
		    souk_json_describe(souk_json_array_get(root, i), out, sizeof(out)),
		    want[i]);
	/* cut to the buffer */
	assert_string_equal(souk_json_describe(souk_json_array_get(root, 6), out, 6),
			    "\"0123");
	souk_json_destroy(doc);
}

static void
test_destroy_null(void **state)
{
	(void)state;
	souk_json_destroy(NULL);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tree_keeps_order_and_types),
	    cmocka_unit_test(test_string_escapes_and_embedded_nul),
	    cmocka_unit_test(test_numbers_keep_text_int64_and_double),
	    cmocka_unit_test(test_offsets_span_each_value),
	    cmocka_unit_test(test_scalar_top_level),
	    cmocka_unit_test(test_size_limit_checked_before_parsing),
	    cmocka_unit_test(test_depth_limit_names_depth_and_offset),
	    cmocka_unit_test(test_member_limit),
	    cmocka_unit_test(test_duplicate_key_named),
	    cmocka_unit_test(test_trailing_garbage_offset),
	    cmocka_unit_test(test_invalid_utf8_rejected),
	    cmocka_unit_test(test_empty_and_blank_input),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_describe_for_messages),
	    cmocka_unit_test(test_destroy_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
