#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lg_time.h"

static void
test_parse_and_format_round_trip(void **state)
{
	const char *texts[] = {"1970-01-01T00:00:00.000Z", LG_TIME_DEFAULT_START,
			       "2028-02-29T23:59:59.999Z", "2026-11-27T12:00:00.100Z"};
	char err[128], out[25];
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(lg_time_parse(texts[i], &ms, err, sizeof(err)), 0);
		lg_time_format(ms, out);
		assert_string_equal(out, texts[i]);
	}
	assert_int_equal(lg_time_parse(LG_TIME_DEFAULT_START, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, LG_TIME_DEFAULT_START_MS);
	lg_time_format(ms + 86400000LL + 1, out);
	assert_string_equal(out, "2026-01-02T00:00:00.001Z");
}

static void
test_parse_refuses_other_shapes_and_dates(void **state)
{
	char err[128];
	int64_t ms;

	(void)state;
	assert_int_equal(lg_time_parse("2026-01-01T00:00:00Z", &ms, err, sizeof(err)),
			 -1);
	assert_string_equal(err,
			    "could not parse time \"2026-01-01T00:00:00Z\": expected "
			    "YYYY-MM-DDTHH:MM:SS.mmmZ");
	assert_int_equal(lg_time_parse("2026-02-30T00:00:00.000Z", &ms, err, sizeof(err)),
			 -1);
	assert_string_equal(err,
			    "could not parse time \"2026-02-30T00:00:00.000Z\": no such "
			    "date");
	assert_int_equal(lg_time_parse("1969-12-31T23:59:59.999Z", &ms, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "time \"1969-12-31T23:59:59.999Z\" is before 1970");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_and_format_round_trip),
	    cmocka_unit_test(test_parse_refuses_other_shapes_and_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
