/*
 * inv_sql against the real PostgreSQL at SOUK_PG_DSN (schemas/sql/002_inventory.sql
 * applied by ops/stack up): the optimistic take refuses an oversell, a stale version
 * and an over-limit purchase; the schema itself refuses them from any writer; decided
 * orders come back with their answers. Every test works on its own SKUs (a random
 * prefix) and deletes its rows afterwards.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "inv_sql.h"
#include "souk_pg.h"
#include "souk_uuid.h"

#define DEFAULT_DSN "host=127.0.0.1 port=15432 dbname=souk user=souk"

struct fixture {
	struct souk_pg *pg;
	char prefix[48];
	char sku[80];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *env = getenv("SOUK_PG_DSN");
	struct timespec ts;
	char err[512];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(f->prefix, sizeof(f->prefix), "t-sql-%ld-%ld", (long)getpid(),
		 (long)ts.tv_nsec);
	snprintf(f->sku, sizeof(f->sku), "%s-A", f->prefix);
	f->pg = souk_pg_connect(env && *env ? env : DEFAULT_DSN, 10000, err, sizeof(err));
	if (!f->pg || inv_sql_prepare(f->pg, err, sizeof(err)))
		fail_msg("%s", err);
	*state = f;
	return 0;
}

static void
exec_ok(struct fixture *f, const char *fmt, ...)
{
	char sql[1024], err[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (souk_pg_exec(f->pg, sql, NULL, err, sizeof(err)))
		fail_msg("%s: %s", sql, err);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	exec_ok(f, "DELETE FROM orders WHERE sku LIKE '%s%%'", f->prefix);
	exec_ok(f, "DELETE FROM purchases WHERE sku LIKE '%s%%'", f->prefix);
	exec_ok(f, "DELETE FROM stock WHERE sku LIKE '%s%%'", f->prefix);
	exec_ok(f, "DELETE FROM stock_sets WHERE sku LIKE '%s%%'", f->prefix);
	souk_pg_destroy(f->pg);
	free(f);
	return 0;
}

/* One value of a one-row query, as an integer. */
static long long
query_int(struct fixture *f, const char *fmt, ...)
{
	char sql[1024], err[512];
	PGresult *res = NULL;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (souk_pg_exec(f->pg, sql, &res, err, sizeof(err)))
		fail_msg("%s: %s", sql, err);
	assert_int_equal(PQntuples(res), 1);
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/* Applies the stock_set event event_id; returns whether it was applied (not a repeat). */
static bool
stock_set_event(struct fixture *f, const char *event_id, const char *sku, int64_t stock,
		int64_t limit)
{
	souk_event_stock_set_t s = {
	    .stock = stock, .has_limit_per_user = limit > 0, .limit_per_user = limit};
	char err[512];
	bool applied;

	snprintf(s.sku, sizeof(s.sku), "%s", sku);
	if (inv_sql_stock_set(f->pg, event_id, &s, &applied, err, sizeof(err)))
		fail_msg("%s", err);
	return applied;
}

/* A new stock_set event. */
static void
stock_set(struct fixture *f, const char *sku, int64_t stock, int64_t limit)
{
	char event_id[SOUK_UUID_STRLEN + 1];

	souk_uuid_random(event_id);
	assert_true(stock_set_event(f, event_id, sku, stock, limit));
}

static struct inv_stock
read_stock(struct fixture *f, const char *sku)
{
	struct inv_stock row;
	char err[512];
	bool found;

	if (inv_sql_lock(f->pg, sku, &row, &found, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(found);
	return row;
}

static void
test_take_refuses_an_oversell_and_a_stale_version(void **state)
{
	struct fixture *f = *state;
	struct inv_tally u1 = {"u1", 6}, u2 = {"u2", 5};
	struct inv_stock row;
	int64_t available = -1;
	bool taken = true;
	char err[512];

	stock_set(f, f->sku, 5, 0);
	row = read_stock(f, f->sku);
	assert_int_equal(row.available, 5);
	assert_int_equal(inv_sql_take(f->pg, f->sku, row.version, 6, &u1, 1, &taken,
				      &available, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_false(taken);
	assert_int_equal(
	    query_int(f, "SELECT count(*) FROM purchases WHERE sku = '%s'", f->sku), 0);

	assert_int_equal(inv_sql_take(f->pg, f->sku, row.version + 1, 5, &u2, 1, &taken,
				      &available, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_false(taken); /* someone else moved the version */

	assert_int_equal(inv_sql_take(f->pg, f->sku, row.version, 5, &u2, 1, &taken,
				      &available, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_true(taken);
	assert_int_equal(available, 0);
	row = read_stock(f, f->sku);
	assert_int_equal(row.available, 0);
	assert_int_equal(
	    query_int(f, "SELECT qty FROM purchases WHERE sku = '%s' AND user_id = 'u2'",
		      f->sku),
	    5);
	/* The same version again: it moved on, nothing is taken twice. */
	assert_int_equal(inv_sql_take(f->pg, f->sku, row.version - 1, 5, &u2, 1, &taken,
				      &available, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_false(taken);
}

static void
test_take_refuses_going_over_the_limit(void **state)
{
	struct fixture *f = *state;
	struct inv_tally over[] = {{"u1", 1}, {"u2", 3}}, fits[] = {{"u1", 2}, {"u2", 1}};
	struct inv_stock row;
	int64_t available = -1;
	bool taken = true;
	char err[512];

	stock_set(f, f->sku, 100, 2);
	row = read_stock(f, f->sku);
	assert_int_equal(row.limit, 2);
	assert_int_equal(inv_sql_take(f->pg, f->sku, row.version, 4, over, 2, &taken,
				      &available, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_false(taken); /* u2 alone is over: nothing of the batch is taken */
	assert_int_equal(read_stock(f, f->sku).available, 100);

	assert_int_equal(inv_sql_take(f->pg, f->sku, row.version, 3, fits, 2, &taken,
				      &available, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_true(taken);
	assert_int_equal(available, 97);
	row = read_stock(f, f->sku);
	/* u1 has 2 of 2: one more is refused, by the same statement */
	over[0].qty = 1;
	assert_int_equal(inv_sql_take(f->pg, f->sku, row.version, 1, over, 1, &taken,
				      &available, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_false(taken);
}

/* Whatever the pool does, the tables refuse: a CHECK and a trigger. */
static void
test_schema_refuses_oversell_and_over_limit_from_any_writer(void **state)
{
	struct fixture *f = *state;
	char sql[512], err[512];

	stock_set(f, f->sku, 1, 2);
	snprintf(sql, sizeof(sql),
		 "UPDATE stock SET available = available - 2 WHERE sku = '%s'", f->sku);
	assert_int_equal(souk_pg_exec(f->pg, sql, NULL, err, sizeof(err)), SOUK_PG_ERROR);
	assert_string_equal(souk_pg_sqlstate(f->pg), "23514");

	snprintf(sql, sizeof(sql),
		 "INSERT INTO purchases (sku, user_id, qty) VALUES ('%s', 'greedy', 3)",
		 f->sku);
	assert_int_equal(souk_pg_exec(f->pg, sql, NULL, err, sizeof(err)), SOUK_PG_ERROR);
	assert_string_equal(souk_pg_sqlstate(f->pg), "23514");
	assert_non_null(strstr(err, "user \"greedy\""));
	assert_non_null(strstr(err, "limit of 2"));

	exec_ok(f, "INSERT INTO purchases (sku, user_id, qty) VALUES ('%s', 'greedy', 2)",
		f->sku);
	snprintf(
	    sql, sizeof(sql),
	    "UPDATE purchases SET qty = qty + 1 WHERE sku = '%s' AND user_id = 'greedy'",
	    f->sku);
	assert_int_equal(souk_pg_exec(f->pg, sql, NULL, err, sizeof(err)), SOUK_PG_ERROR);
	assert_string_equal(souk_pg_sqlstate(f->pg), "23514");

	/* A lower limit refuses the next purchase, not the past one. */
	stock_set(f, f->sku, 1, 1);
	exec_ok(f, "UPDATE purchases SET updated_at = now() WHERE sku = '%s'", f->sku);
}

static void
test_stock_set_creates_updates_and_keeps_the_limit(void **state)
{
	struct fixture *f = *state;
	struct inv_stock row;

	stock_set(f, f->sku, 10, 0);
	row = read_stock(f, f->sku);
	assert_int_equal(row.available, 10);
	assert_int_equal(row.limit, 0);
	stock_set(f, f->sku, 7, 3);
	row = read_stock(f, f->sku);
	assert_int_equal(row.available, 7);
	assert_int_equal(row.limit, 3);
	assert_int_equal(row.version, 1);
	stock_set(f, f->sku, 20, 0); /* no limit given: kept */
	row = read_stock(f, f->sku);
	assert_int_equal(row.available, 20);
	assert_int_equal(row.limit, 3);
	assert_int_equal(row.version, 2);
}

static void
test_stock_set_applies_once_per_event(void **state)
{
	struct fixture *f = *state;
	char event_id[SOUK_UUID_STRLEN + 1];

	souk_uuid_random(event_id);
	assert_true(stock_set_event(f, event_id, f->sku, 10, 2));
	exec_ok(f, "UPDATE stock SET available = 4 WHERE sku = '%s'",
		f->sku); /* sold 6 */
	/* The same event again (a replay, an offset reset): the 6 sold stay sold. */
	assert_false(stock_set_event(f, event_id, f->sku, 10, 2));
	assert_int_equal(read_stock(f, f->sku).available, 4);
	stock_set(f, f->sku, 10, 0); /* a new restock applies */
	assert_int_equal(read_stock(f, f->sku).available, 10);
}

/* Orders as inv_decide leaves them, for the insert. */
static void
make_order(struct inv_order *ord, struct souk_pool_event *src, const char *order_id,
	   const char *sku, const char *user, int64_t qty, enum inv_answer answer)
{
	*src = (struct souk_pool_event){.topic = "orders", .partition = 3, .offset = 42};
	src->ev.type = SOUK_EVENT_TYPE_ORDER;
	snprintf(src->ev.event_id, sizeof(src->ev.event_id),
		 "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f");
	snprintf(src->ev.order.order_id, sizeof(src->ev.order.order_id), "%s", order_id);
	snprintf(src->ev.order.sku, sizeof(src->ev.order.sku), "%s", sku);
	snprintf(src->ev.order.user_id, sizeof(src->ev.order.user_id), "%s", user);
	src->ev.order.qty = qty;
	inv_decide_init(ord, src);
	ord->answer = answer;
}

static void
test_recorded_orders_come_back_decided(void **state)
{
	struct fixture *f = *state;
	struct souk_pool_event src[4];
	struct inv_order orders[4];
	struct inv_stored *stored = NULL;
	size_t nstored = 0;
	char ids[3][80], err[512];

	for (int i = 0; i < 3; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s-o%d", f->prefix, i);
	make_order(&orders[0], &src[0], ids[0], f->sku, "u1", 2, INV_ACCEPTED);
	make_order(&orders[1], &src[1], ids[1], f->sku, "u2", 1, INV_LIMIT_EXCEEDED);
	make_order(&orders[2], &src[2], ids[0], f->sku, "u1", 2, INV_ACCEPTED);
	orders[2].route = INV_ROUTE_DUPLICATE; /* has no row of its own */
	assert_int_equal(inv_sql_record(f->pg, orders, 3, err, sizeof(err)), SOUK_PG_OK);
	assert_int_equal(
	    query_int(f, "SELECT count(*) FROM orders WHERE sku = '%s'", f->sku), 2);
	assert_int_equal(
	    query_int(f,
		      "SELECT source_offset FROM orders WHERE order_id = '%s' "
		      "AND source_topic = 'orders' AND source_partition = 3",
		      ids[0]),
	    42);

	make_order(&orders[3], &src[3], ids[2], f->sku, "u3", 1, INV_SOLD_OUT);
	orders[2] = orders[3];
	orders[0].route = orders[1].route = INV_ROUTE_GATE;
	assert_int_equal(
	    inv_sql_decided(f->pg, orders, 3, &stored, &nstored, err, sizeof(err)),
	    SOUK_PG_OK);
	assert_int_equal(nstored, 2);
	for (size_t i = 0; i < nstored; i++) {
		bool first = strcmp(stored[i].o.order_id, ids[0]) == 0;

		assert_int_equal(stored[i].answer,
				 first ? INV_ACCEPTED : INV_LIMIT_EXCEEDED);
		assert_string_equal(stored[i].result_id, orders[first ? 0 : 1].result_id);
		assert_string_equal(stored[i].o.user_id, first ? "u1" : "u2");
		assert_int_equal(stored[i].o.qty, first ? 2 : 1);
	}
	free(stored);

	/* The same order again is a unique violation: the batch is run again. */
	assert_int_equal(inv_sql_record(f->pg, orders, 1, err, sizeof(err)),
			 SOUK_PG_ERROR);
	assert_string_equal(souk_pg_sqlstate(f->pg), SOUK_PG_UNIQUE_VIOLATION);
}

static void
test_truth_reads_stock_purchases_and_decided_orders(void **state)
{
	struct fixture *f = *state;
	struct souk_pool_event src;
	struct inv_order ord;
	struct inv_reservation res[2] = {{.order_id = NULL},
					 {.order_id = "never-recorded"}};
	struct inv_tally u = {"u9", 2};
	struct inv_truth t;
	int64_t available;
	bool taken;
	char id[80], err[512];

	snprintf(id, sizeof(id), "%s-o1", f->prefix);
	res[0].order_id = id;
	stock_set(f, f->sku, 9, 4);
	assert_int_equal(inv_sql_take(f->pg, f->sku, 0, 2, &u, 1, &taken, &available, err,
				      sizeof(err)),
			 SOUK_PG_OK);
	assert_true(taken);
	make_order(&ord, &src, id, f->sku, "u9", 2, INV_ACCEPTED);
	assert_int_equal(inv_sql_record(f->pg, &ord, 1, err, sizeof(err)), SOUK_PG_OK);

	assert_int_equal(inv_sql_truth(f->pg, f->sku, res, 2, &t, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_true(t.found);
	assert_int_equal(t.available, 7);
	assert_int_equal(t.limit, 4);
	assert_int_equal(t.nbought, 1);
	assert_string_equal(t.bought[0].user_id, "u9");
	assert_int_equal(t.bought[0].qty, 2);
	assert_int_equal(t.ndecided, 1);
	assert_string_equal(t.decided[0], id);
	inv_sql_truth_free(&t);

	assert_int_equal(
	    inv_sql_truth(f->pg, "no-such-sku-here", res, 0, &t, err, sizeof(err)),
	    SOUK_PG_OK);
	assert_false(t.found);
	inv_sql_truth_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_take_refuses_an_oversell_and_a_stale_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_take_refuses_going_over_the_limit, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_schema_refuses_oversell_and_over_limit_from_any_writer, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_stock_set_creates_updates_and_keeps_the_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stock_set_applies_once_per_event, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_recorded_orders_come_back_decided, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_truth_reads_stock_purchases_and_decided_orders, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
