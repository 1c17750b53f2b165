#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "souk_ndjson.h"

/* Collects up to 8 lines as "lineno:text" strings. */
static int
split(const char *buf, size_t len, char out[8][64])
{
	struct souk_ndjson it;
	const char *line;
	size_t line_len;
	int n = 0;

	souk_ndjson_init(&it, buf, len);
	while (n < 8 && souk_ndjson_next(&it, &line, &line_len)) {
		snprintf(out[n], 64, "%lu:%.*s", it.lineno, (int)line_len, line);
		n++;
	}
	return n;
}

static void
test_lines_and_numbers(void **state)
{
	const char buf[] = "{\"a\":1}\n{\"b\":2}\n";
	char out[8][64];

	(void)state;
	assert_int_equal(split(buf, strlen(buf), out), 2);
	assert_string_equal(out[0], "1:{\"a\":1}");
	assert_string_equal(out[1], "2:{\"b\":2}");
}

static void
test_blank_lines_skipped_but_counted(void **state)
{
	const char buf[] = "\n  \n{\"a\":1}\r\n\t\r\n{\"b\":2}";
	char out[8][64];

	(void)state;
	assert_int_equal(split(buf, strlen(buf), out), 2);
	assert_string_equal(out[0], "3:{\"a\":1}");
	/* The last line has no newline; the CR of line 3 is dropped. */
	assert_string_equal(out[1], "5:{\"b\":2}");
}

static void
test_empty_and_only_newlines(void **state)
{
	char out[8][64];

	(void)state;
	assert_int_equal(split("", 0, out), 0);
	assert_int_equal(split("\n\n\r\n", 4, out), 0);
}

static void
test_embedded_nul_stays_in_line(void **state)
{
	const char buf[] = {'a', '\0', 'b', '\n', 'c'};
	struct souk_ndjson it;
	const char *line;
	size_t len;

	(void)state;
	souk_ndjson_init(&it, buf, sizeof(buf));
	assert_int_equal(souk_ndjson_next(&it, &line, &len), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(line, buf, 3);
	assert_int_equal(souk_ndjson_next(&it, &line, &len), 1);
	assert_int_equal(len, 1);
	assert_int_equal(it.lineno, 2);
	assert_int_equal(souk_ndjson_next(&it, &line, &len), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_and_numbers),
	    cmocka_unit_test(test_blank_lines_skipped_but_counted),
	    cmocka_unit_test(test_empty_and_only_newlines),
	    cmocka_unit_test(test_embedded_nul_stays_in_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
