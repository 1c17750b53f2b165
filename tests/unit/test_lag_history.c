/* souk-lag's dashboard data: the per-group history the charts draw, and the orders
 * backlog read from a pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lag_backlog.h"
#include "lag_history.h"

static struct lag_sample_row
row(const char *group, const char *topic, int32_t partition, int64_t committed,
    int64_t pg_committed, int64_t high, int64_t oldest_ts_ms, int64_t t_ms)
{
	struct lag_sample_row r = {.partition = partition,
				   .committed = committed,
				   .pg_committed = pg_committed,
				   .low = 0,
				   .high = high,
				   .oldest_ts_ms = oldest_ts_ms,
				   .t_ms = t_ms};

	snprintf(r.group, sizeof(r.group), "%s", group);
	snprintf(r.topic, sizeof(r.topic), "%s", topic);
	return r;
}

static char *
push_json(struct lag_history *h, struct lag_sample_row *rows, size_t n,
	  const enum lag_status *statuses)
{
	struct lag_sample_pass pass = {.rows = rows, .n = n};

	assert_int_equal(lag_history_push(h, &pass, statuses), 0);
	return lag_history_json(h);
}

static void
test_points_per_group_oldest_first(void **state)
{
	(void)state;
	struct lag_history *h = lag_history_new(3);
	/* a: 2 partitions, lag 5 + 7, the older message 4 s old; b: lag unknown */
	struct lag_sample_row p1[] = {row("a", "t", 0, 10, -1, 15, 1000, 5000),
				      row("a", "t", 1, 10, -1, 17, 2000, 5000),
				      row("b", "t", 0, -1, -1, 9, -1, 5000)};
	enum lag_status s1[] = {LAG_STATUS_OK, LAG_STATUS_STOP, LAG_STATUS_OK};
	char *json;

	assert_non_null(h);
	json = push_json(h, p1, 3, s1);
	assert_string_equal(json, "{\"groups\":["
				  "{\"group\":\"a\",\"t_ms\":[5000],\"lag\":[12],"
				  "\"lag_seconds\":[4.000],\"status\":[\"ERR\"]},"
				  "{\"group\":\"b\",\"t_ms\":[5000],\"lag\":[null],"
				  "\"lag_seconds\":[null],\"status\":[\"OK\"]}]}");
	free(json);
	lag_history_destroy(h);
}

/* Past cap points a group keeps its newest cap; a group no pass saw for cap passes
 * goes; one that reappears sooner keeps its points. */
static void
test_ring_and_expiry(void **state)
{
	(void)state;
	struct lag_history *h = lag_history_new(2);
	enum lag_status ok[] = {LAG_STATUS_OK, LAG_STATUS_OK};
	char *json = NULL;

	assert_non_null(h);
	for (int64_t t = 1; t <= 3; t++) {
		struct lag_sample_row rows[] = {row("a", "t", 0, 0, -1, t, -1, t),
						row("b", "t", 0, 0, -1, 0, -1, t)};

		free(json);
		json = push_json(h, rows, t == 1 ? 2 : 1, ok);
	}
	/* b was seen at push 1 only: gone at push 3 (2 pushes without it) */
	assert_string_equal(json, "{\"groups\":[{\"group\":\"a\",\"t_ms\":[2,3],"
				  "\"lag\":[2,3],\"lag_seconds\":[null,null],"
				  "\"status\":[\"OK\",\"OK\"]}]}");
	free(json);
	lag_history_destroy(h);
}

/* Orders: per partition high - the PostgreSQL offset (else Kafka's); the oldest is the
 * largest lag_seconds; unknown when the group has no row on the topic or a partition's
 * figures are unknown. */
static void
test_orders_backlog(void **state)
{
	(void)state;
	struct lag_sample_row rows[] = {
	    row("inv", "orders", 0, 90, 100, 130, 1000, 8000), /* 30, PG ahead */
	    row("inv", "orders", 1, 50, -1, 55, 5000, 8000),   /* 5, Kafka only */
	    row("inv", "orders", 2, 40, 40, 40, -1, 8000),     /* 0 */
	    row("inv", "payments", 0, 0, 0, 99, 0, 8000),      /* another topic */
	    row("other", "orders", 0, 0, 0, 99, 0, 8000),      /* another group */
	};
	struct lag_sample_pass pass = {.rows = rows, .n = 5};
	struct lag_backlog b;

	lag_backlog_init(&b);
	lag_backlog_orders(&b, &pass, "inv", "orders");
	assert_int_equal(b.orders_undecided, 35);
	assert_int_equal(b.orders_oldest_ms, 7000);
	assert_int_equal(b.payments_parked, -1);

	lag_backlog_orders(&b, &pass, "absent", "orders");
	assert_int_equal(b.orders_undecided, -1);
	assert_int_equal(b.orders_oldest_ms, -1);

	rows[1].high = -1; /* a partition's watermark could not be read */
	lag_backlog_orders(&b, &pass, "inv", "orders");
	assert_int_equal(b.orders_undecided, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_points_per_group_oldest_first),
	    cmocka_unit_test(test_ring_and_expiry),
	    cmocka_unit_test(test_orders_backlog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
