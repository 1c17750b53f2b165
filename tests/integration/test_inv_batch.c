/*
 * inv_batch on the real PostgreSQL and Redis, the way the runtime drives it: BEGIN,
 * apply, COMMIT (or ROLLBACK), after. Covers the decision order (repeat, flag, gate),
 * the per-user limit, stock_set between orders, a batch rolled back and run again,
 * Redis losing its keys, over- and under-reporting, or forgetting a purchase (PostgreSQL
 * wins and nothing is oversold), events that go to the DLQ, and reconciliation with its
 * drift metric. Each test has its own SKUs and deletes its rows and keys.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "inv_batch.h"
#include "inv_redis.h"
#include "inv_sync.h"
#include "souk_metrics.h"
#include "souk_redis.h"
#include "souk_uuid.h"

#define DEFAULT_DSN "host=127.0.0.1 port=15432 dbname=souk user=souk"
#define DEFAULT_URL "redis://127.0.0.1:16379/0"
#define MAX_EVENTS 32
#define TTL_MS 300000

struct result {
	char key[80];
	char result_id[SOUK_UUID_STRLEN + 1];
	souk_event_t ev;
};

struct fixture {
	struct souk_pg *pg;
	struct souk_redis *admin;
	struct inv_redis *gate; /* a second gate client, as another thread would be */
	struct souk_metrics *reg;
	struct inv_metrics m;
	struct inv_batch *b;
	char prefix[48];
	char a[80], b2[80]; /* two SKUs */
	struct souk_pool_event ev[MAX_EVENTS];
	size_t nev;
	int64_t offset;
	struct result res[MAX_EVENTS];
	size_t nres;
	char err[1024];
};

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

static void
metrics_new(struct fixture *f)
{
	char err[256];
	struct souk_metrics_family *orders, *over, *rebuilt;

	f->reg = souk_metrics_new();
	orders = souk_metrics_register_counter(f->reg, "orders", NULL,
					       (const char *const[]){"answer", NULL}, err,
					       sizeof(err));
	over = souk_metrics_register_counter(f->reg, "overruled", NULL, NULL, err,
					     sizeof(err));
	rebuilt = souk_metrics_register_counter(f->reg, "rebuilds", NULL, NULL, err,
						sizeof(err));
	f->m.drift = souk_metrics_register_gauge(
	    f->reg, "drift", NULL, (const char *const[]){"sku", NULL}, err, sizeof(err));
	if (!orders || !over || !rebuilt || !f->m.drift)
		fail_msg("%s", err);
	for (int a = 0; a < INV_ANSWER_COUNT; a++)
		f->m.decided[a] = souk_metrics_series(
		    orders, (const char *const[]){inv_answer_name((enum inv_answer)a)});
	f->m.repeated = souk_metrics_series(orders, (const char *const[]){"repeated"});
	f->m.overruled = souk_metrics_series(over, NULL);
	f->m.rebuilds = souk_metrics_series(rebuilt, NULL);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *url = env_or("SOUK_REDIS_URL", DEFAULT_URL);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(f->prefix, sizeof(f->prefix), "t-batch-%ld-%ld", (long)getpid(),
		 (long)ts.tv_nsec);
	snprintf(f->a, sizeof(f->a), "%s-A", f->prefix);
	snprintf(f->b2, sizeof(f->b2), "%s-B", f->prefix);
	metrics_new(f);
	f->pg = souk_pg_connect(env_or("SOUK_PG_DSN", DEFAULT_DSN), 10000, f->err,
				sizeof(f->err));
	if (!f->pg ||
	    !(f->admin = souk_redis_connect(url, 5000, f->err, sizeof(f->err))) ||
	    !(f->gate = inv_redis_new(url, 5000, f->err, sizeof(f->err))) ||
	    !(f->b =
		  inv_batch_new(f->pg, url, 5000, TTL_MS, &f->m, f->err, sizeof(f->err))))
		fail_msg("%s", f->err);
	*state = f;
	return 0;
}

static void
sql(struct fixture *f, const char *fmt, ...)
{
	char q[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (souk_pg_exec(f->pg, q, NULL, f->err, sizeof(f->err)))
		fail_msg("%s: %s", q, f->err);
}

static long long
sql_int(struct fixture *f, const char *fmt, ...)
{
	char q[1024];
	PGresult *res = NULL;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (souk_pg_exec(f->pg, q, &res, f->err, sizeof(f->err)))
		fail_msg("%s: %s", q, f->err);
	assert_int_equal(PQntuples(res), 1);
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static void
del_keys(struct fixture *f, const char *sku)
{
	char keys[4][INV_REDIS_KEY_SIZE];

	for (int k = 0; k < 4; k++)
		inv_redis_key((enum inv_redis_key)k, sku, keys[k]);
	if (souk_redis_command(f->admin, NULL, f->err, sizeof(f->err), "DEL %s %s %s %s",
			       keys[0], keys[1], keys[2], keys[3]))
		fail_msg("%s", f->err);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sql(f, "DELETE FROM orders WHERE sku LIKE '%s%%'", f->prefix);
	sql(f, "DELETE FROM purchases WHERE sku LIKE '%s%%'", f->prefix);
	sql(f, "DELETE FROM stock WHERE sku LIKE '%s%%'", f->prefix);
	del_keys(f, f->a);
	del_keys(f, f->b2);
	inv_batch_destroy(f->b);
	inv_redis_destroy(f->gate);
	souk_redis_destroy(f->admin);
	souk_pg_destroy(f->pg);
	souk_metrics_destroy(f->reg);
	free(f);
	return 0;
}

/* ---- events and results -------------------------------------------------------- */

static struct souk_pool_event *
next_event(struct fixture *f)
{
	struct souk_pool_event *e;

	assert_true(f->nev < MAX_EVENTS);
	e = &f->ev[f->nev++];
	*e = (struct souk_pool_event){
	    .topic = "orders", .partition = 0, .offset = f->offset++};
	return e;
}

/* Decodes json (printf format) into the next event, as the runtime would. */
static struct souk_pool_event *
add_json(struct fixture *f, const char *fmt, ...)
{
	struct souk_pool_event *e = next_event(f);
	static char text[MAX_EVENTS][1024];
	char *buf = text[f->nev - 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(text[0]), fmt, ap);
	va_end(ap);
	e->value = buf;
	e->len = strlen(buf);
	e->status = souk_event_decode(buf, e->len, &e->ev, &e->err);
	return e;
}

static void
add_order(struct fixture *f, const char *order_id, const char *sku, const char *user,
	  int qty)
{
	char event_id[SOUK_UUID_STRLEN + 1];
	struct souk_pool_event *e;

	souk_uuid_random(event_id);
	e = add_json(f,
		     "{\"event_id\":\"%s\",\"type\":\"order\",\"version\":1,"
		     "\"ts\":\"2026-11-27T12:00:00.000Z\",\"client_id\":\"test\","
		     "\"order_id\":\"%s\",\"user_id\":\"%s\",\"sku\":\"%s\",\"qty\":%d}",
		     event_id, order_id, user, sku, qty);
	assert_int_equal(e->status, SOUK_EVENT_OK);
}

static void
add_stock_set(struct fixture *f, const char *sku, int stock, int limit)
{
	char event_id[SOUK_UUID_STRLEN + 1], lim[48] = "";
	struct souk_pool_event *e;

	souk_uuid_random(event_id);
	if (limit)
		snprintf(lim, sizeof(lim), ",\"limit_per_user\":%d", limit);
	e = add_json(f,
		     "{\"event_id\":\"%s\",\"type\":\"stock_set\",\"version\":1,"
		     "\"ts\":\"2026-11-27T12:00:00.000Z\",\"client_id\":\"admin\","
		     "\"sku\":\"%s\",\"stock\":%d%s}",
		     event_id, sku, stock, lim);
	assert_int_equal(e->status, SOUK_EVENT_OK);
}

static int
collect(void *ctx, const struct souk_pool_event *src, const char *topic, const char *key,
	const char *value, size_t len, const char *result_id)
{
	struct fixture *f = ctx;
	struct result *r;
	souk_event_error_t err;

	assert_true(f->nres < MAX_EVENTS);
	assert_string_equal(topic, "order-results");
	r = &f->res[f->nres++];
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->result_id, sizeof(r->result_id), "%s", result_id);
	if (souk_event_decode(value, len, &r->ev, &err) != SOUK_EVENT_OK)
		fail_msg("result does not decode: %s", err.message);
	assert_string_equal(r->ev.order_result.source_event_id, src->ev.event_id);
	assert_string_equal(r->ev.order_result.order_id, key);
	return 0;
}

/* Runs the events added since the last run in one transaction. Returns apply's status;
 * commits on SOUK_POOL_OK, rolls back otherwise (or when rollback is set). */
static enum souk_pool_status
run_batch(struct fixture *f, bool rollback)
{
	enum souk_pool_status st;
	char err[512];

	f->nres = 0;
	if (souk_pg_begin(f->pg, err, sizeof(err)))
		fail_msg("%s", err);
	st = inv_batch_apply(f->b, f->pg, f->ev, f->nev, collect, f, f->err,
			     sizeof(f->err));
	if (st == SOUK_POOL_OK && !rollback) {
		if (souk_pg_commit(f->pg, err, sizeof(err)))
			fail_msg("%s", err);
		inv_batch_after(f->b, 1);
	} else {
		if (souk_pg_rollback(f->pg, err, sizeof(err)))
			fail_msg("%s", err);
		inv_batch_after(f->b, 0);
	}
	f->nev = 0;
	return st;
}

static void
run_ok(struct fixture *f)
{
	enum souk_pool_status st = run_batch(f, false);

	if (st != SOUK_POOL_OK)
		fail_msg("apply returned %d: %s", st, f->err);
}

/* The i-th result's answer, as "accepted" or the reason. */
static const char *
answer(const struct fixture *f, size_t i)
{
	const souk_event_order_result_t *r = &f->res[i].ev.order_result;

	assert_true(i < f->nres);
	if (r->status == SOUK_EVENT_ORDER_ACCEPTED)
		return "accepted";
	return r->reason == SOUK_EVENT_REASON_SOLD_OUT	       ? "sold_out"
	       : r->reason == SOUK_EVENT_REASON_LIMIT_EXCEEDED ? "limit_exceeded"
							       : "invalid";
}

static long long
pg_available(struct fixture *f, const char *sku)
{
	return sql_int(f, "SELECT available FROM stock WHERE sku = '%s'", sku);
}

/* A Redis key of sku (or one of its hash's fields) as text, "" when missing. */
static const char *
redis_get(struct fixture *f, enum inv_redis_key k, const char *sku, const char *field)
{
	static char out[256];
	char key[INV_REDIS_KEY_SIZE];
	redisReply *reply = NULL;
	int rc;

	inv_redis_key(k, sku, key);
	rc = field ? souk_redis_command(f->admin, &reply, f->err, sizeof(f->err),
					"HGET %s %s", key, field)
		   : souk_redis_command(f->admin, &reply, f->err, sizeof(f->err),
					"GET %s", key);
	if (rc)
		fail_msg("%s", f->err);
	snprintf(out, sizeof(out), "%s",
		 reply->type == REDIS_REPLY_STRING ? reply->str : "");
	freeReplyObject(reply);
	return out;
}

static void
redis_set(struct fixture *f, enum inv_redis_key k, const char *sku, const char *value)
{
	char key[INV_REDIS_KEY_SIZE];

	inv_redis_key(k, sku, key);
	if (souk_redis_command(f->admin, NULL, f->err, sizeof(f->err), "SET %s %s", key,
			       value))
		fail_msg("%s", f->err);
}

/* An order id of this test. */
static const char *
oid(struct fixture *f, int i)
{
	static char ids[8][96];
	char *id = ids[i % 8];

	snprintf(id, sizeof(ids[0]), "%s-o%d", f->prefix, i);
	return id;
}

static void
start_sale(struct fixture *f, const char *sku, int stock, int limit)
{
	add_stock_set(f, sku, stock, limit);
	run_ok(f);
	assert_int_equal(f->nres, 0); /* a stock_set has no result */
}

static char *
render(struct fixture *f)
{
	char *text = NULL, err[256];
	size_t len;

	if (souk_metrics_render(f->reg, &text, &len, err, sizeof(err)))
		fail_msg("%s", err);
	return text;
}

/* ---- tests --------------------------------------------------------------------- */

static void
test_sells_out_exactly_then_the_flag_answers(void **state)
{
	struct fixture *f = *state;
	char *text;

	start_sale(f, f->a, 3, 0);
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "3"); /* warmed */
	add_order(f, oid(f, 1), f->a, "u1", 2);
	add_order(f, oid(f, 2), f->a, "u2", 1);
	add_order(f, oid(f, 3), f->a, "u3", 1);
	run_ok(f);
	assert_int_equal(f->nres, 3);
	assert_string_equal(f->res[0].key, oid(f, 1)); /* event order */
	assert_string_equal(answer(f, 0), "accepted");
	assert_string_equal(answer(f, 1), "accepted");
	assert_string_equal(answer(f, 2), "sold_out");
	assert_int_equal(pg_available(f, f->a), 0);
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "0");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM orders WHERE sku = '%s'", f->a),
			 3);
	assert_int_equal(
	    sql_int(f,
		    "SELECT count(*) FROM orders WHERE sku = '%s' AND status = "
		    "'rejected' AND reason = 'sold_out'",
		    f->a),
	    1);
	assert_true(inv_batch_flagged(f->b, f->a));

	/* Flagged: answered without asking Redis (nothing recorded there). */
	add_order(f, oid(f, 4), f->a, "u4", 1);
	run_ok(f);
	assert_string_equal(answer(f, 0), "sold_out");
	assert_string_equal(redis_get(f, INV_KEY_SEEN, f->a, oid(f, 4)), "");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM orders WHERE sku = '%s'", f->a),
			 4);
	text = render(f);
	assert_non_null(strstr(text, "orders{answer=\"accepted\"} 2"));
	assert_non_null(strstr(text, "orders{answer=\"sold_out\"} 2"));
	free(text);
}

static void
test_per_user_limit(void **state)
{
	struct fixture *f = *state;

	start_sale(f, f->a, 10, 2);
	add_order(f, oid(f, 1), f->a, "u1", 1);
	add_order(f, oid(f, 2), f->a, "u1", 1);
	add_order(f, oid(f, 3), f->a, "u1", 1);
	add_order(f, oid(f, 4), f->a, "u2", 2);
	run_ok(f);
	assert_string_equal(answer(f, 0), "accepted");
	assert_string_equal(answer(f, 1), "accepted");
	assert_string_equal(answer(f, 2), "limit_exceeded");
	assert_string_equal(answer(f, 3), "accepted");
	assert_int_equal(pg_available(f, f->a), 6);
	assert_int_equal(
	    sql_int(f, "SELECT qty FROM purchases WHERE sku = '%s' AND user_id = 'u1'",
		    f->a),
	    2);
	assert_string_equal(redis_get(f, INV_KEY_USERS, f->a, "u1"), "2");
}

static void
test_a_repeated_order_gets_its_first_answer(void **state)
{
	struct fixture *f = *state;
	char first_id[SOUK_UUID_STRLEN + 1];
	char *text;

	start_sale(f, f->a, 1, 0);
	add_order(f, oid(f, 1), f->a, "u1", 1);
	run_ok(f);
	assert_string_equal(answer(f, 0), "accepted");
	memcpy(first_id, f->res[0].result_id, sizeof(first_id));

	/* Sent again (another event id, even another qty), twice in one batch. */
	add_order(f, oid(f, 1), f->a, "u1", 5);
	add_order(f, oid(f, 2), f->a, "u2", 1);
	add_order(f, oid(f, 1), f->a, "u1", 1);
	run_ok(f);
	assert_int_equal(f->nres, 3);
	assert_string_equal(answer(f, 0), "accepted");
	assert_string_equal(f->res[0].result_id, first_id);
	assert_int_equal(f->res[0].ev.order_result.qty,
			 1); /* the answer as first given */
	assert_string_equal(answer(f, 1), "sold_out");
	assert_string_equal(answer(f, 2), "accepted");
	assert_string_equal(f->res[2].result_id, first_id);
	assert_int_equal(pg_available(f, f->a), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM orders WHERE sku = '%s'", f->a),
			 2);

	/* A new order repeated inside one batch is decided once. */
	add_order(f, oid(f, 3), f->b2, "u1", 1);
	add_order(f, oid(f, 3), f->b2, "u1", 1);
	run_ok(f); /* b2 is unknown: invalid, once */
	assert_string_equal(answer(f, 0), "invalid");
	assert_string_equal(answer(f, 1), "invalid");
	assert_string_equal(f->res[0].result_id, f->res[1].result_id);
	text = render(f);
	assert_non_null(strstr(text, "orders{answer=\"repeated\"} 3"));
	free(text);
}

static void
test_a_rolled_back_batch_runs_again_the_same(void **state)
{
	struct fixture *f = *state;

	start_sale(f, f->a, 2, 0);
	for (int round = 0; round < 2; round++) {
		add_order(f, oid(f, 1), f->a, "u1", 1);
		add_order(f, oid(f, 2), f->a, "u2", 1);
		add_order(f, oid(f, 3), f->a, "u3", 1);
		assert_int_equal(run_batch(f, round == 0), SOUK_POOL_OK);
		assert_string_equal(answer(f, 0), "accepted");
		assert_string_equal(answer(f, 1), "accepted");
		assert_string_equal(answer(f, 2), "sold_out");
		/* Redis kept the reservations of the rolled-back run; PostgreSQL did not.
		 */
		assert_int_equal(pg_available(f, f->a), round == 0 ? 2 : 0);
		assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "0");
		assert_int_equal(inv_batch_flagged(f->b, f->a), round == 1);
	}
	assert_int_equal(sql_int(f, "SELECT count(*) FROM orders WHERE sku = '%s'", f->a),
			 3);
}

static void
test_lost_redis_keys_are_rebuilt_from_postgresql(void **state)
{
	struct fixture *f = *state;
	char *text;

	start_sale(f, f->a, 5, 3);
	add_order(f, oid(f, 1), f->a, "u1", 2);
	run_ok(f);
	del_keys(f, f->a); /* a restart without persistence, FLUSHALL, eviction */
	add_order(f, oid(f, 2), f->a, "u1", 2); /* over the limit of 3 with the first 2 */
	add_order(f, oid(f, 3), f->a, "u2", 3);
	add_order(f, oid(f, 4), f->a, "u3", 1);
	run_ok(f);
	assert_string_equal(answer(f, 0), "limit_exceeded");
	assert_string_equal(answer(f, 1), "accepted");
	assert_string_equal(answer(f, 2), "sold_out");
	assert_int_equal(pg_available(f, f->a), 0);
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "0");
	assert_string_equal(redis_get(f, INV_KEY_LIMIT, f->a, NULL), "3");
	assert_string_equal(redis_get(f, INV_KEY_USERS, f->a, "u1"), "2");
	text = render(f);
	assert_non_null(strstr(text, "rebuilds 1"));
	free(text);
}

static void
test_redis_over_reporting_cannot_oversell(void **state)
{
	struct fixture *f = *state;
	char *text;

	start_sale(f, f->a, 2, 0);
	redis_set(f, INV_KEY_STOCK, f->a, "100");
	for (int i = 1; i <= 4; i++)
		add_order(f, oid(f, i), f->a, i % 2 ? "u1" : "u2", 1);
	run_ok(f);
	assert_string_equal(answer(f, 0), "accepted");
	assert_string_equal(answer(f, 1), "accepted");
	assert_string_equal(answer(f, 2), "sold_out");
	assert_string_equal(answer(f, 3), "sold_out");
	assert_int_equal(pg_available(f, f->a), 0);
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "0"); /* fixed */
	assert_true(inv_batch_flagged(f->b, f->a));
	text = render(f);
	assert_non_null(strstr(text, "overruled 1"));
	free(text);
}

static void
test_redis_under_reporting_is_overruled(void **state)
{
	struct fixture *f = *state;

	start_sale(f, f->a, 5, 0);
	redis_set(f, INV_KEY_STOCK, f->a, "0");
	add_order(f, oid(f, 1), f->a, "u1", 2);
	run_ok(f);
	assert_string_equal(answer(f, 0), "accepted");
	assert_int_equal(pg_available(f, f->a), 3);
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "3");
	assert_false(inv_batch_flagged(f->b, f->a));
}

static void
test_redis_forgetting_a_purchase_cannot_break_the_limit(void **state)
{
	struct fixture *f = *state;
	char key[INV_REDIS_KEY_SIZE];

	start_sale(f, f->a, 10, 1);
	add_order(f, oid(f, 1), f->a, "u1", 1);
	run_ok(f);
	inv_redis_key(INV_KEY_USERS, f->a, key);
	if (souk_redis_command(f->admin, NULL, f->err, sizeof(f->err), "DEL %s", key))
		fail_msg("%s", f->err);
	add_order(f, oid(f, 2), f->a, "u1", 1);
	add_order(f, oid(f, 3), f->a, "u2", 1);
	run_ok(f);
	assert_string_equal(answer(f, 0), "limit_exceeded");
	assert_string_equal(answer(f, 1), "accepted");
	assert_int_equal(pg_available(f, f->a), 8);
	assert_int_equal(
	    sql_int(f, "SELECT qty FROM purchases WHERE sku = '%s' AND user_id = 'u1'",
		    f->a),
	    1);
	assert_string_equal(redis_get(f, INV_KEY_USERS, f->a, "u1"), "1"); /* synced */
}

static void
test_stock_set_applies_between_orders_in_order(void **state)
{
	struct fixture *f = *state;

	start_sale(f, f->a, 1, 0);
	add_order(f, oid(f, 1), f->a, "u1", 1);
	run_ok(f);
	assert_true(inv_batch_flagged(f->b, f->a));

	add_order(f, oid(f, 2), f->a, "u2", 1); /* before the restock: flagged */
	add_stock_set(f, f->b2, 1, 0);		/* another SKU's sale starts */
	add_stock_set(f, f->a, 3, 1);		/* restock with a limit of 1 */
	add_order(f, oid(f, 3), f->a, "u3", 1);
	add_order(f, oid(f, 4), f->a, "u3", 1);
	add_order(f, oid(f, 5), f->b2, "u3", 1);
	add_order(f, oid(f, 6), f->a, "u4", 1);
	add_order(f, oid(f, 7), f->a, "u5", 1);
	add_order(f, oid(f, 8), f->a, "u6", 1);
	run_ok(f);
	assert_int_equal(f->nres, 7);
	assert_string_equal(answer(f, 0), "sold_out");
	assert_string_equal(answer(f, 1), "accepted");
	assert_string_equal(answer(f, 2), "limit_exceeded");
	assert_string_equal(answer(f, 3), "accepted"); /* b2 */
	assert_string_equal(answer(f, 4), "accepted");
	assert_string_equal(answer(f, 5), "accepted");
	assert_string_equal(answer(f, 6), "sold_out");
	assert_int_equal(pg_available(f, f->a), 0);
	assert_int_equal(pg_available(f, f->b2), 0);
	assert_true(inv_batch_flagged(f->b, f->a));
	assert_true(inv_batch_flagged(f->b, f->b2));

	add_stock_set(f, f->a, 2, 0);
	add_order(f, oid(f, 9), f->a, "u7", 1);
	run_ok(f);
	assert_string_equal(answer(f, 0), "accepted");
	assert_false(inv_batch_flagged(f->b, f->a));
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "1");
	assert_string_equal(redis_get(f, INV_KEY_LIMIT, f->a, NULL), "1"); /* kept */
}

static void
test_a_rollback_sets_no_flag(void **state)
{
	struct fixture *f = *state;

	start_sale(f, f->a, 1, 0);
	add_order(f, oid(f, 1), f->a, "u1", 1);
	assert_int_equal(run_batch(f, true), SOUK_POOL_OK);
	assert_false(inv_batch_flagged(f->b, f->a));
	add_stock_set(f, f->a, 0, 0);
	assert_int_equal(run_batch(f, true), SOUK_POOL_OK);
	assert_false(inv_batch_flagged(f->b, f->a));
	add_stock_set(f, f->a, 0, 0);
	run_ok(f);
	assert_true(inv_batch_flagged(f->b, f->a)); /* a committed stock of 0 */
	inv_batch_forget(f->b);			    /* a rebalance */
	assert_false(inv_batch_flagged(f->b, f->a));
}

static void
test_unknown_sku_is_invalid_and_recorded(void **state)
{
	struct fixture *f = *state;

	add_order(f, oid(f, 1), f->a, "u1", 1);
	run_ok(f);
	assert_string_equal(answer(f, 0), "invalid");
	assert_int_equal(
	    sql_int(f,
		    "SELECT count(*) FROM orders WHERE sku = '%s' AND reason = "
		    "'invalid' AND status = 'rejected'",
		    f->a),
	    1);
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "");
}

/* An order whose qty broke the rule is answered "invalid" with its valid fields; an
 * event the pool cannot answer at all (a payment on orders, a stock_set breaking a
 * rule) fails the batch before any effect, and the runtime isolates it for the DLQ. */
static void
test_invalid_is_answered_and_the_unanswerable_fail_the_batch(void **state)
{
	struct fixture *f = *state;

	start_sale(f, f->a, 5, 0);
	add_order(f, oid(f, 1), f->a, "u1", 1);
	add_stock_set(f, f->b2, 1, 0); /* the invalid order is in the next run */
	struct souk_pool_event *e = add_json(
	    f,
	    "{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d\",\"type\":\"order\","
	    "\"version\":1,\"ts\":\"2026-11-27T12:00:00.000Z\",\"client_id\":\"test\","
	    "\"order_id\":\"%s\",\"user_id\":\"u2\",\"sku\":\"%s\",\"qty\":0}",
	    oid(f, 2), f->a);
	assert_int_equal(e->status, SOUK_EVENT_EFIELD);
	/* The order that broke a rule is answered "invalid", without the qty it broke. */
	run_ok(f);
	assert_int_equal(f->nres, 2);
	assert_string_equal(answer(f, 0), "accepted");
	assert_string_equal(answer(f, 1), "invalid");
	assert_false(f->res[1].ev.order_result.has_qty);
	assert_string_equal(f->res[1].ev.order_result.user_id, "u2");
	assert_int_equal(pg_available(f, f->a), 4);

	/* A payment on the orders topic, a stock_set breaking a rule: the DLQ too. */
	add_json(f,
		 "{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6e\","
		 "\"type\":\"payment\",\"version\":1,\"ts\":\"2026-11-27T12:00:00.000Z\","
		 "\"client_id\":\"test\",\"idempotency_key\":\"k\",\"command\":\"void\","
		 "\"payment_id\":\"p1\"}");
	assert_int_equal(run_batch(f, false), SOUK_POOL_FAIL);
	assert_non_null(strstr(f->err, "payment"));
	e = add_json(
	    f,
	    "{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6f\","
	    "\"type\":\"stock_set\",\"version\":1,\"ts\":\"2026-11-27T12:00:00.000Z\","
	    "\"client_id\":\"test\",\"sku\":\"%s\",\"stock\":-1}",
	    f->a);
	assert_int_equal(e->status, SOUK_EVENT_EFIELD);
	assert_int_equal(run_batch(f, false), SOUK_POOL_FAIL);
	assert_non_null(strstr(f->err, "stock"));
	assert_int_equal(pg_available(f, f->a), 4);
}

static void
test_sync_counts_reservations_in_flight(void **state)
{
	struct fixture *f = *state;
	struct inv_gate_order o = {"in-flight", "u9", 2};
	struct inv_sync_report rep;
	enum inv_answer a;
	int64_t left;

	start_sale(f, f->a, 5, 0);
	/* Another worker's batch took 2 in Redis and has not committed yet. */
	assert_int_equal(
	    inv_redis_gate(f->gate, f->a, &o, 1, &a, &left, f->err, sizeof(f->err)),
	    INV_GATE_OK);
	assert_int_equal(
	    inv_sync_sku(f->pg, f->gate, f->a, TTL_MS, &rep, f->err, sizeof(f->err)),
	    INV_SYNC_OK);
	assert_int_equal(rep.reserved, 2);
	assert_int_equal(rep.truth, 3);
	assert_int_equal(inv_sync_drift(&rep), 0);
	assert_false(rep.fixed);

	/* Older than the TTL: that batch is gone, the stock comes back. */
	usleep(5000);
	assert_int_equal(
	    inv_sync_sku(f->pg, f->gate, f->a, 1, &rep, f->err, sizeof(f->err)),
	    INV_SYNC_OK);
	assert_int_equal(rep.reserved, 0);
	assert_true(rep.fixed);
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "5");
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->b2, NULL), "");
	assert_string_equal(redis_get(f, INV_KEY_USERS, f->a, "u9"), "");

	assert_int_equal(inv_sync_sku(f->pg, f->gate, "no-such-sku-anywhere", TTL_MS,
				      &rep, f->err, sizeof(f->err)),
			 INV_SYNC_ENOSKU);
	assert_non_null(strstr(f->err, "\"no-such-sku-anywhere\""));
}

static void
test_reconcile_fixes_drift_and_reports_it(void **state)
{
	struct fixture *f = *state;
	char *text, line[256];

	start_sale(f, f->a, 5, 0);
	add_order(f, oid(f, 1), f->a, "u1", 1);
	run_ok(f);
	redis_set(f, INV_KEY_STOCK, f->a, "9");
	if (souk_pg_begin(f->pg, f->err, sizeof(f->err)))
		fail_msg("%s", f->err);
	assert_int_equal(inv_batch_reconcile(f->b, f->pg, f->err, sizeof(f->err)),
			 SOUK_POOL_OK);
	if (souk_pg_commit(f->pg, f->err, sizeof(f->err)))
		fail_msg("%s", f->err);
	assert_string_equal(redis_get(f, INV_KEY_STOCK, f->a, NULL), "4");
	text = render(f);
	snprintf(line, sizeof(line), "drift{sku=\"%s\"} 5", f->a);
	assert_non_null(strstr(text, line));
	free(text);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_sells_out_exactly_then_the_flag_answers),
	    T(test_per_user_limit),
	    T(test_a_repeated_order_gets_its_first_answer),
	    T(test_a_rolled_back_batch_runs_again_the_same),
	    T(test_lost_redis_keys_are_rebuilt_from_postgresql),
	    T(test_redis_over_reporting_cannot_oversell),
	    T(test_redis_under_reporting_is_overruled),
	    T(test_redis_forgetting_a_purchase_cannot_break_the_limit),
	    T(test_stock_set_applies_between_orders_in_order),
	    T(test_a_rollback_sets_no_flag),
	    T(test_unknown_sku_is_invalid_and_recorded),
	    T(test_invalid_is_answered_and_the_unanswerable_fail_the_batch),
	    T(test_sync_counts_reservations_in_flight),
	    T(test_reconcile_fixes_drift_and_reports_it),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
