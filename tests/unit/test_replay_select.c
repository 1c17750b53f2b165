#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replay_select.h"

#define DAY_MS 1795737600000LL /* 2026-11-27T00:00:00Z */
#define TEN_MS 1795773600000LL /* 2026-11-27T10:00:00Z */

static void
test_time_forms(void **state)
{
	char err[256];
	int64_t ms;

	(void)state;
	assert_int_equal(
	    replay_time_parse("2026-11-27T10:00:00Z", 0, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, TEN_MS);
	assert_int_equal(
	    replay_time_parse("2026-11-27T10:00:00.250Z", 0, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, TEN_MS + 250);
	/* digits past the millisecond are dropped, not rounded */
	assert_int_equal(
	    replay_time_parse("2026-11-27T10:00:00.1239Z", 0, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, TEN_MS + 123);
	assert_int_equal(
	    replay_time_parse("2026-11-27T11:30:00+01:30", 0, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, TEN_MS);
	assert_int_equal(
	    replay_time_parse("2026-11-27T08:00:00-02:00", 0, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, TEN_MS);
	/* no zone is UTC; a space may stand for the T; seconds may be left out */
	assert_int_equal(replay_time_parse("2026-11-27 10:00", 0, &ms, err, sizeof(err)),
			 0);
	assert_int_equal(ms, TEN_MS);
	assert_int_equal(replay_time_parse("2026-11-27", 0, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, DAY_MS);
	assert_int_equal(replay_time_parse("1795773600000", 0, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, TEN_MS);
	/* relative to now */
	assert_int_equal(replay_time_parse("-2h", TEN_MS, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, TEN_MS - 2 * 3600 * 1000);
	assert_int_equal(replay_time_parse("-90s", TEN_MS, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, TEN_MS - 90000);
}

static void
test_time_refusals_name_the_text(void **state)
{
	const char *bad[] = {"2026-02-30",
			     "2026-13-01",
			     "2026-11-27T24:00:00Z",
			     "1969-12-31",
			     "2026-11-27T10:00:00.Z",
			     "yesterday",
			     "-2 hours",
			     "",
			     "2026-11-27T10:00:00+1"};
	char err[256];
	int64_t ms = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(replay_time_parse(bad[i], TEN_MS, &ms, err, sizeof(err)),
				 -1);
		assert_non_null(strstr(err, "could not parse time"));
		assert_non_null(strstr(err, bad[i]));
	}
	assert_int_equal(ms, 42);
}

static void
test_durations_offsets_partitions(void **state)
{
	struct replay_selection sel = {.all_partitions = true};
	char err[256];
	int64_t v;

	(void)state;
	assert_int_equal(replay_duration_parse("24h", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 86400000);
	assert_int_equal(replay_duration_parse("2d", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2 * 86400000LL);
	assert_int_equal(replay_duration_parse("250ms", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 250);
	assert_int_equal(replay_duration_parse("24", &v, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "could not parse duration \"24\": expected an integer and "
			    "a unit (ms, s, m, h or d)");
	assert_int_equal(replay_duration_parse("-1h", &v, err, sizeof(err)), -1);

	assert_int_equal(replay_offset_parse("1200", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1200);
	assert_int_equal(replay_offset_parse("-1", &v, err, sizeof(err)), -1);
	assert_string_equal(
	    err, "could not parse offset \"-1\": expected a non-negative integer");
	assert_int_equal(replay_offset_parse("12x", &v, err, sizeof(err)), -1);

	assert_true(replay_selection_has(&sel, 7));
	assert_int_equal(replay_partitions_parse(&sel, "0,2,5-7", err, sizeof(err)), 0);
	assert_false(sel.all_partitions);
	for (int32_t p = 0; p < 10; p++)
		assert_int_equal(replay_selection_has(&sel, p),
				 p == 0 || p == 2 || (p >= 5 && p <= 7));
	assert_int_equal(replay_partitions_parse(&sel, "3,", err, sizeof(err)), -1);
	assert_string_equal(err,
			    "could not parse partitions \"3,\": expected a list such "
			    "as 0,2,5-7");
	assert_int_equal(replay_partitions_parse(&sel, "7-5", err, sizeof(err)), -1);
	assert_int_equal(replay_partitions_parse(&sel, "2000", err, sizeof(err)), -1);
	assert_string_equal(err,
			    "partition 2000 is out of range: at most 1024 partitions");
}

static void
test_range_by_offsets_is_clamped_to_the_watermarks(void **state)
{
	struct replay_selection sel = {.all_partitions = true};
	struct replay_range r;

	(void)state;
	/* no bound: everything kept, up to the end when planned */
	r = replay_select_range(&sel, 100, 500, 0, 0);
	assert_int_equal(r.start, 100);
	assert_int_equal(r.end, 500);
	sel.start = (struct replay_bound){REPLAY_BOUND_OFFSET, 10};
	sel.end = (struct replay_bound){REPLAY_BOUND_OFFSET, 60};
	r = replay_select_range(&sel, 0, 500, 0, 0);
	assert_int_equal(r.start, 10);
	assert_int_equal(r.end, 60);
	/* a start already deleted moves up to the earliest kept */
	r = replay_select_range(&sel, 30, 500, 0, 0);
	assert_int_equal(r.start, 30);
	assert_int_equal(r.end, 60);
	/* an end past the end stops at the end */
	r = replay_select_range(&sel, 0, 40, 0, 0);
	assert_int_equal(r.end, 40);
	/* a range past the end, or inverted, is empty */
	r = replay_select_range(&sel, 0, 5, 0, 0);
	assert_true(r.start >= r.end);
	sel.start.value = 70;
	r = replay_select_range(&sel, 0, 500, 0, 0);
	assert_true(r.start >= r.end);
}

static void
test_range_by_time_uses_the_lookup(void **state)
{
	struct replay_selection sel = {.all_partitions = true};
	struct replay_range r;

	(void)state;
	sel.start = (struct replay_bound){REPLAY_BOUND_TIME, TEN_MS};
	sel.end = (struct replay_bound){REPLAY_BOUND_TIME, TEN_MS + 60000};
	/* the first message at or after each time */
	r = replay_select_range(&sel, 0, 500, 120, 300);
	assert_int_equal(r.start, 120);
	assert_int_equal(r.end, 300);
	/* no message that recent: the start is the end (empty), the end is the end */
	r = replay_select_range(&sel, 0, 500, -1, -1);
	assert_true(r.start >= r.end);
	r = replay_select_range(&sel, 0, 500, 120, -1);
	assert_int_equal(r.start, 120);
	assert_int_equal(r.end, 500);
	/* a time bound with an offset bound on the other edge */
	sel.end = (struct replay_bound){REPLAY_BOUND_OFFSET, 200};
	r = replay_select_range(&sel, 0, 500, 120, 999);
	assert_int_equal(r.end, 200);
}

static void
test_time_bounds_at_their_boundaries(void **state)
{
	struct replay_selection sel = {.all_partitions = true};

	(void)state;
	assert_true(replay_select_time_ok(&sel, 5));
	sel.start = (struct replay_bound){REPLAY_BOUND_TIME, 1000};
	sel.end = (struct replay_bound){REPLAY_BOUND_TIME, 2000};
	/* start inclusive, end exclusive */
	assert_false(replay_select_time_ok(&sel, 999));
	assert_true(replay_select_time_ok(&sel, 1000));
	assert_true(replay_select_time_ok(&sel, 1999));
	assert_false(replay_select_time_ok(&sel, 2000));
	/* a message without a timestamp is not judged by it */
	assert_true(replay_select_time_ok(&sel, -1));
	/* offset bounds do not filter by time */
	sel.start = (struct replay_bound){REPLAY_BOUND_OFFSET, 1000};
	sel.end = (struct replay_bound){REPLAY_BOUND_NONE, 0};
	assert_true(replay_select_time_ok(&sel, 1));
}

static void
test_guard_rules_and_decision(void **state)
{
	const struct replay_guard_rule *r;

	(void)state;
	r = replay_guard_rule("payments");
	assert_non_null(r);
	assert_string_equal(r->pool, "payments");
	assert_int_equal(r->window_ms, 24LL * 3600 * 1000);
	r = replay_guard_rule("orders");
	assert_non_null(r);
	assert_int_equal(r->window_ms, 0);
	assert_null(replay_guard_rule("orders.replay"));
	assert_null(replay_guard_rule("payments.dlq"));

	/* the pool remembers from offset 100 on */
	assert_false(replay_guard_breaks((struct replay_range){100, 200}, 100));
	assert_true(replay_guard_breaks((struct replay_range){99, 200}, 100));
	/* an empty range sends nothing, so breaks nothing */
	assert_false(replay_guard_breaks((struct replay_range){50, 50}, 100));
	/* every message is older than the window */
	assert_true(replay_guard_breaks((struct replay_range){150, 200}, -1));
}

static void
test_reset_targets(void **state)
{
	(void)state;
	assert_int_equal(replay_reset_target(REPLAY_RESET_OFFSET, 42, 10, 100, 0), 42);
	assert_int_equal(replay_reset_target(REPLAY_RESET_OFFSET, 5, 10, 100, 0), 10);
	assert_int_equal(replay_reset_target(REPLAY_RESET_OFFSET, 500, 10, 100, 0), 100);
	assert_int_equal(replay_reset_target(REPLAY_RESET_DATETIME, TEN_MS, 10, 100, 64),
			 64);
	assert_int_equal(replay_reset_target(REPLAY_RESET_DATETIME, TEN_MS, 10, 100, -1),
			 100);
	assert_int_equal(replay_reset_target(REPLAY_RESET_EARLIEST, 0, 10, 100, 0), 10);
	assert_int_equal(replay_reset_target(REPLAY_RESET_LATEST, 0, 10, 100, 0), 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_time_forms),
	    cmocka_unit_test(test_time_refusals_name_the_text),
	    cmocka_unit_test(test_durations_offsets_partitions),
	    cmocka_unit_test(test_range_by_offsets_is_clamped_to_the_watermarks),
	    cmocka_unit_test(test_range_by_time_uses_the_lookup),
	    cmocka_unit_test(test_time_bounds_at_their_boundaries),
	    cmocka_unit_test(test_guard_rules_and_decision),
	    cmocka_unit_test(test_reset_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
