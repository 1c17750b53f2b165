#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replay_pace.h"

static void
test_parse_rate_and_speed(void **state)
{
	char err[160];
	double v;

	(void)state;
	assert_int_equal(replay_pace_parse_rate("500", &v, err, sizeof(err)), 0);
	assert_true(v == 500);
	assert_int_equal(replay_pace_parse_rate("2.5/s", &v, err, sizeof(err)), 0);
	assert_true(v == 2.5);
	assert_int_equal(replay_pace_parse_rate("0", &v, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "could not parse rate \"0\": expected a positive number of "
			    "messages per second (500 or 500/s)");
	assert_int_equal(replay_pace_parse_rate("500/m", &v, err, sizeof(err)), -1);
	assert_int_equal(replay_pace_parse_rate("-5", &v, err, sizeof(err)), -1);
	assert_int_equal(replay_pace_parse_rate("inf", &v, err, sizeof(err)), -1);

	assert_int_equal(replay_pace_parse_speed("10x", &v, err, sizeof(err)), 0);
	assert_true(v == 10);
	assert_int_equal(replay_pace_parse_speed("0.5x", &v, err, sizeof(err)), 0);
	assert_true(v == 0.5);
	assert_int_equal(replay_pace_parse_speed("3", &v, err, sizeof(err)), 0);
	assert_true(v == 3);
	assert_int_equal(replay_pace_parse_speed("x", &v, err, sizeof(err)), -1);
	assert_string_equal(
	    err, "could not parse speed \"x\": expected a positive factor (10x, 0.5x)");
	assert_int_equal(replay_pace_parse_speed("10xx", &v, err, sizeof(err)), -1);
}

static void
test_rate_spaces_messages_evenly(void **state)
{
	struct replay_pace p = {.rate = 4, .start = 100.0};

	(void)state;
	/* the timestamps do not matter under a rate */
	assert_true(replay_pace_due(&p, 0, 999999) == 100.0);
	assert_true(replay_pace_due(&p, 1, 0) == 100.25);
	assert_true(replay_pace_due(&p, 8, 0) == 102.0);
}

static void
test_speed_follows_the_timestamps(void **state)
{
	struct replay_pace p = {.speed = 10, .start = 50.0, .ts0 = 1000000};

	(void)state;
	assert_true(replay_pace_due(&p, 0, 1000000) == 50.0);
	/* an hour of traffic in six minutes */
	assert_true(replay_pace_due(&p, 1, 1000000 + 3600000) == 50.0 + 360.0);
	p.speed = 0.5;
	assert_true(replay_pace_due(&p, 1, 1000000 + 1000) == 52.0);
	/* older than the first, or no timestamp: at once, never before the start */
	assert_true(replay_pace_due(&p, 5, 999000) == 50.0);
	assert_true(replay_pace_due(&p, 5, -1) == 50.0);
}

static void
test_unpaced_is_due_at_once(void **state)
{
	struct replay_pace p = {.start = 7.0};

	(void)state;
	assert_true(replay_pace_due(&p, 1000000, 123456789) == 7.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_rate_and_speed),
	    cmocka_unit_test(test_rate_spaces_messages_evenly),
	    cmocka_unit_test(test_speed_follows_the_timestamps),
	    cmocka_unit_test(test_unpaced_is_due_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
