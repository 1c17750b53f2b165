/* souk-lag's window of passes: which samples a partition's status is rated over, and
 * the report built from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lag_report.h"
#include "lag_window.h"
#include "souk_json.h"

static struct lag_sample_row
row(const char *group, int32_t partition, int64_t committed, int64_t high,
    const char *member)
{
	struct lag_sample_row r = {.partition = partition,
				   .committed = committed,
				   .pg_committed = -1,
				   .low = 0,
				   .high = high,
				   .oldest_ts_ms = -1,
				   .t_ms = 1700000000000};

	snprintf(r.group, sizeof(r.group), "%s", group);
	snprintf(r.topic, sizeof(r.topic), "orders");
	snprintf(r.consumer_id, sizeof(r.consumer_id), "%s", member);
	return r;
}

/* Pushes a pass of the n rows given (sorted by the caller). */
static void
push(struct lag_window *w, const struct lag_sample_row *rows, size_t n)
{
	struct lag_sample_pass pass = {.rows = malloc(n * sizeof(*rows)), .n = n};

	assert_non_null(pass.rows);
	memcpy(pass.rows, rows, n * sizeof(*rows));
	lag_window_push(w, &pass);
	assert_null(pass.rows);
}

static void
test_stall_needs_the_whole_window(void **state)
{
	(void)state;
	struct lag_window *w = lag_window_new(3);
	struct lag_sample_row a[] = {row("g", 0, 10, 50, "m1"),
				     row("g", 1, 10, 50, "m1")};
	struct lag_sample_row b[] = {row("g", 0, 10, 60, "m1"),
				     row("g", 1, 20, 60, "m1")};
	struct lag_sample_row c[] = {row("g", 0, 10, 70, "m1"),
				     row("g", 1, 20, 70, "m1")};
	enum lag_status statuses[2];
	enum lag_rule rules[2];

	assert_non_null(w);
	assert_null(lag_window_last(w));
	push(w, a, 2);
	push(w, b, 2);
	push(w, c, 2);
	assert_int_equal(lag_window_count(w), 3);
	lag_window_rate(w, statuses, rules);
	/* partition 0 never moved: STALL; partition 1 moved once, lag grew: WARN */
	assert_string_equal(lag_status_name(statuses[0]), "STALL");
	assert_string_equal(lag_status_name(statuses[1]), "WARN");
	/* a fourth pass drops a: partition 1's offset no longer changes in the window */
	push(w, c, 2);
	assert_int_equal(lag_window_count(w), 3);
	lag_window_rate(w, statuses, rules);
	assert_string_equal(lag_status_name(statuses[1]), "STALL");
	lag_window_destroy(w);
}

static void
test_partitions_are_matched_by_key(void **state)
{
	(void)state;
	struct lag_window *w = lag_window_new(2);
	/* the first pass has no row for g2 and a row of g at 30 for partition 0 */
	struct lag_sample_row a[] = {row("g", 0, 30, 50, "m1")};
	/* then g went back to 20 while g2 shows up; g2's offset is only in PostgreSQL */
	struct lag_sample_row b[] = {row("g", 0, 20, 50, "m1"), row("g2", 0, -1, 50, "")};
	enum lag_status statuses[2];
	enum lag_rule rules[2];

	b[1].pg_committed = 40;
	assert_non_null(w);
	push(w, a, 1);
	push(w, b, 2);
	lag_window_rate(w, statuses, rules);
	assert_string_equal(lag_status_name(statuses[0]), "REWIND");
	assert_string_equal(lag_status_name(statuses[1]), "STOP");
	assert_string_equal(lag_status_rule_name(rules[1]),
			    "no member holds the partition");
	lag_window_destroy(w);
}

static void
test_unknown_figures(void **state)
{
	(void)state;
	/* no committed offset anywhere: no samples, lag unknown; watermarks unread */
	struct lag_sample_row r = row("g", 0, -1, 50, "m1");
	struct lag_sample_row unread = row("g", 1, 5, -1, "m1");

	assert_int_equal(lag_sample_lag(&r), -1);
	assert_int_equal(lag_sample_lag_ms(&r), -1);
	assert_int_equal(lag_sample_lag(&unread), -1);
	r.committed = 50;
	assert_int_equal(lag_sample_lag(&r), 0);
	assert_int_equal(lag_sample_lag_ms(&r), 0);
	r.committed = 45;
	assert_int_equal(lag_sample_lag_ms(&r), -1); /* lag, but no timestamp read */
	r.oldest_ts_ms = r.t_ms - 2500;
	assert_int_equal(lag_sample_lag_ms(&r), 2500);
}

static void
test_report_json(void **state)
{
	(void)state;
	struct lag_window *w = lag_window_new(1);
	struct lag_sample_row rows[] = {row("g", 0, 45, 50, "m1"),
					row("g", 1, -1, 50, ""), row("h", 0, 50, 50, "")};
	enum lag_status statuses[3];
	enum lag_rule rules[3];
	const souk_json_limits_t limits = {
	    .max_bytes = 1 << 20, .max_depth = 8, .max_members = 100};
	souk_json_error_t err;
	char *text;
	souk_json_t *doc;
	const souk_json_value_t *groups, *g, *p;
	int64_t v;

	rows[0].oldest_ts_ms = rows[0].t_ms - 1500;
	rows[0].pg_committed = 40;
	assert_non_null(w);
	push(w, rows, 3);
	lag_window_rate(w, statuses, rules);
	text = lag_report_json(lag_window_last(w), 1, statuses, rules, NULL, 1);
	assert_non_null(text);
	doc = souk_json_parse(text, strlen(text), &limits, &err);
	assert_non_null(doc);
	groups = souk_json_object_get(souk_json_root(doc), "groups");
	assert_int_equal(souk_json_array_size(groups), 2);
	g = souk_json_array_get(groups, 0);
	assert_string_equal(souk_json_string(souk_json_object_get(g, "group"), NULL),
			    "g");
	assert_string_equal(souk_json_string(souk_json_object_get(g, "status"), NULL),
			    "OK");
	assert_true(souk_json_number_int64(souk_json_object_get(g, "total_lag"), &v));
	assert_int_equal(v, 5);
	p = souk_json_array_get(souk_json_object_get(g, "partitions"), 0);
	assert_string_equal(souk_json_number_text(souk_json_object_get(p, "lag_seconds")),
			    "1.500");
	assert_true(souk_json_number_int64(souk_json_object_get(p, "pg_offset"), &v));
	assert_int_equal(v, 40);
	assert_true(souk_json_bool(souk_json_object_get(p, "offsets_differ")));
	p = souk_json_array_get(souk_json_object_get(g, "partitions"), 1);
	assert_int_equal(souk_json_type(souk_json_object_get(p, "current_offset")),
			 SOUK_JSON_NULL);
	assert_int_equal(souk_json_type(souk_json_object_get(p, "lag")), SOUK_JSON_NULL);
	assert_int_equal(souk_json_type(souk_json_object_get(p, "consumer_id")),
			 SOUK_JSON_NULL);
	assert_string_equal(souk_json_string(souk_json_object_get(p, "rule"), NULL),
			    "no samples");
	souk_json_destroy(doc);
	free(text);
	lag_window_destroy(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stall_needs_the_whole_window),
	    cmocka_unit_test(test_partitions_are_matched_by_key),
	    cmocka_unit_test(test_unknown_figures),
	    cmocka_unit_test(test_report_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
