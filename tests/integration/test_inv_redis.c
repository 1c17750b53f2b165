/*
 * inv_redis against the real Redis at SOUK_REDIS_URL: the gate script's answers (not
 * warm, accepted and taken, a seen order's earlier answer, limit_exceeded, sold_out),
 * the snapshot and the guarded fix. Each test uses its own SKU and deletes its keys.
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

#include "inv_redis.h"
#include "souk_redis.h"

#define DEFAULT_URL "redis://127.0.0.1:16379/0"

struct fixture {
	struct inv_redis *r;
	struct souk_redis *admin; /* reads and writes the keys behind the gate's back */
	char sku[64];
	char keys[4][INV_REDIS_KEY_SIZE];
};

static const char *
url(void)
{
	const char *env = getenv("SOUK_REDIS_URL");

	return env && *env ? env : DEFAULT_URL;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct timespec ts;
	char err[512];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(f->sku, sizeof(f->sku), "t-redis-%ld-%ld", (long)getpid(),
		 (long)ts.tv_nsec);
	for (int k = 0; k < 4; k++)
		inv_redis_key((enum inv_redis_key)k, f->sku, f->keys[k]);
	f->r = inv_redis_new(url(), 5000, err, sizeof(err));
	f->admin = souk_redis_connect(url(), 5000, err, sizeof(err));
	if (!f->r || !f->admin)
		fail_msg("%s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char err[512];

	if (souk_redis_command(f->admin, NULL, err, sizeof(err), "DEL %s %s %s %s",
			       f->keys[0], f->keys[1], f->keys[2], f->keys[3]))
		fail_msg("%s", err);
	inv_redis_destroy(f->r);
	souk_redis_destroy(f->admin);
	free(f);
	return 0;
}

static void
admin(struct fixture *f, const char *fmt, const char *key, const char *a, const char *b)
{
	char err[512];

	if (souk_redis_command(f->admin, NULL, err, sizeof(err), fmt, key, a, b))
		fail_msg("%s", err);
}

/* A key's string value, or a hash field's ("" when missing). */
static void
get(struct fixture *f, const char *key, const char *field, char *out, size_t size)
{
	redisReply *reply = NULL;
	char err[512];
	int rc =
	    field ? souk_redis_command(f->admin, &reply, err, sizeof(err), "HGET %s %s",
				       key, field)
		  : souk_redis_command(f->admin, &reply, err, sizeof(err), "GET %s", key);

	if (rc)
		fail_msg("%s", err);
	snprintf(out, size, "%s", reply->type == REDIS_REPLY_STRING ? reply->str : "");
	freeReplyObject(reply);
}

static void
warm(struct fixture *f, const char *stock, const char *limit)
{
	admin(f, "SET %s %s", f->keys[INV_KEY_STOCK], stock, NULL);
	admin(f, "SET %s %s", f->keys[INV_KEY_LIMIT], limit, NULL);
}

static int
gate(struct fixture *f, const struct inv_gate_order *orders, size_t n,
     enum inv_answer *answers, int64_t *left)
{
	char err[512];
	int rc = inv_redis_gate(f->r, f->sku, orders, n, answers, left, err, sizeof(err));

	if (rc == INV_GATE_ERROR)
		fail_msg("%s", err);
	return rc;
}

static void
test_missing_keys_are_not_warm_never_zero(void **state)
{
	struct fixture *f = *state;
	struct inv_gate_order o = {"o1", "u1", 1};
	enum inv_answer a;
	int64_t left = -1;
	char v[64];

	assert_int_equal(gate(f, &o, 1, &a, &left), INV_GATE_NOT_WARM);
	admin(f, "SET %s %s", f->keys[INV_KEY_STOCK], "5", NULL);
	assert_int_equal(gate(f, &o, 1, &a, &left), INV_GATE_NOT_WARM); /* no limit key */
	get(f, f->keys[INV_KEY_SEEN], "o1", v, sizeof(v));
	assert_string_equal(v, ""); /* nothing decided, nothing recorded */
	get(f, f->keys[INV_KEY_STOCK], NULL, v, sizeof(v));
	assert_string_equal(v, "5");
}

static void
test_accepted_orders_take_stock_and_are_recorded(void **state)
{
	struct fixture *f = *state;
	struct inv_gate_order o[] = {{"o1", "u1", 2}, {"o2", "u2", 3}};
	enum inv_answer a[2];
	int64_t left = -1;
	char v[128];

	warm(f, "10", "0");
	assert_int_equal(gate(f, o, 2, a, &left), INV_GATE_OK);
	assert_int_equal(a[0], INV_ACCEPTED);
	assert_int_equal(a[1], INV_ACCEPTED);
	assert_int_equal(left, 5);
	get(f, f->keys[INV_KEY_STOCK], NULL, v, sizeof(v));
	assert_string_equal(v, "5"); /* the gateway's display stock */
	get(f, f->keys[INV_KEY_USERS], "u2", v, sizeof(v));
	assert_string_equal(v, "3");
	get(f, f->keys[INV_KEY_SEEN], "o1", v, sizeof(v));
	struct inv_seen seen;
	assert_int_equal(inv_redis_seen_parse(v, &seen), 0);
	assert_int_equal(seen.answer, INV_ACCEPTED);
	assert_int_equal(seen.qty, 2);
	assert_string_equal(seen.user_id, "u1");
	assert_true(seen.ms > 1600000000000); /* Redis's clock, in ms */
}

static void
test_a_seen_order_gets_its_earlier_answer_and_takes_nothing(void **state)
{
	struct fixture *f = *state;
	struct inv_gate_order o[] = {{"o1", "u1", 4}, {"o1", "u1", 4}, {"o2", "u2", 4}};
	enum inv_answer a[3];
	int64_t left = -1;

	warm(f, "5", "0");
	assert_int_equal(gate(f, o, 3, a, &left), INV_GATE_OK);
	assert_int_equal(a[0], INV_ACCEPTED);
	assert_int_equal(a[1], INV_ACCEPTED); /* the same order in the same call */
	assert_int_equal(a[2], INV_SOLD_OUT);
	assert_int_equal(left, 1);
	/* The batch again (a rollback, a lost reply): the same answers, nothing taken. */
	o[0].qty = o[1].qty = 1; /* even with other fields: the order_id decides */
	assert_int_equal(gate(f, o, 3, a, &left), INV_GATE_OK);
	assert_int_equal(a[0], INV_ACCEPTED);
	assert_int_equal(a[2], INV_SOLD_OUT);
	assert_int_equal(left, 1);
}

static void
test_over_the_limit_is_limit_exceeded(void **state)
{
	struct fixture *f = *state;
	struct inv_gate_order o[] = {
	    {"o1", "u1", 2}, {"o2", "u1", 1}, {"o3", "u2", 3}, {"o4", "u2", 2}};
	enum inv_answer a[4];
	int64_t left = -1;
	char v[64];

	warm(f, "100", "2");
	assert_int_equal(gate(f, o, 4, a, &left), INV_GATE_OK);
	assert_int_equal(a[0], INV_ACCEPTED);
	assert_int_equal(a[1], INV_LIMIT_EXCEEDED); /* 2 + 1 > 2 */
	assert_int_equal(a[2], INV_LIMIT_EXCEEDED); /* 3 > 2 alone */
	assert_int_equal(a[3], INV_ACCEPTED);
	assert_int_equal(left, 96);
	get(f, f->keys[INV_KEY_USERS], "u1", v, sizeof(v));
	assert_string_equal(v, "2");
	get(f, f->keys[INV_KEY_SEEN], "o2", v, sizeof(v));
	assert_non_null(strstr(v, "limit_exceeded 1 "));
}

static void
test_the_limit_comes_before_the_stock(void **state)
{
	struct fixture *f = *state;
	struct inv_gate_order o[] = {{"o1", "u1", 3}, {"o2", "u2", 1}};
	enum inv_answer a[2];
	int64_t left = -1;

	warm(f, "0", "2");
	assert_int_equal(gate(f, o, 2, a, &left), INV_GATE_OK);
	assert_int_equal(a[0], INV_LIMIT_EXCEEDED);
	assert_int_equal(a[1], INV_SOLD_OUT);
	assert_int_equal(left, 0);
}

static void
test_snapshot_and_guarded_fix(void **state)
{
	struct fixture *f = *state;
	struct inv_gate_order o[] = {{"o1", "u1", 2}, {"o2", "u2", 9}};
	struct inv_redis_user users[] = {{"u1", 2}, {"u7", 5}};
	struct inv_redis_snapshot snap;
	enum inv_answer a[2];
	int64_t left;
	char err[512], v[64];

	warm(f, "10", "3");
	assert_int_equal(gate(f, o, 2, a, &left), INV_GATE_OK);
	admin(f, "HSET %s %s %s", f->keys[INV_KEY_USERS], "u-stale", "4");
	assert_int_equal(inv_redis_snapshot(f->r, f->sku, &snap, err, sizeof(err)), 0);
	assert_string_equal(snap.stock, "8");
	assert_string_equal(snap.limit, "3");
	assert_int_equal(snap.seen_len, 2);
	assert_int_equal(snap.nusers, 2);
	assert_int_equal(snap.nreserved, 1); /* o2 was sold_out: no reservation */
	assert_string_equal(snap.reserved[0].order_id, "o1");
	assert_int_equal(snap.reserved[0].seen.qty, 2);

	/* An order decided since the snapshot: the fix writes nothing. */
	o[0] = (struct inv_gate_order){"o3", "u3", 2};
	assert_int_equal(gate(f, o, 1, a, &left), INV_GATE_OK);
	assert_int_equal(
	    inv_redis_fix(f->r, f->sku, &snap, 50, 4, users, 2, err, sizeof(err)), 0);
	get(f, f->keys[INV_KEY_STOCK], NULL, v, sizeof(v));
	assert_string_equal(v, "6");
	inv_redis_snapshot_free(&snap);

	assert_int_equal(inv_redis_snapshot(f->r, f->sku, &snap, err, sizeof(err)), 0);
	assert_int_equal(
	    inv_redis_fix(f->r, f->sku, &snap, 50, 4, users, 2, err, sizeof(err)), 1);
	inv_redis_snapshot_free(&snap);
	get(f, f->keys[INV_KEY_STOCK], NULL, v, sizeof(v));
	assert_string_equal(v, "50");
	get(f, f->keys[INV_KEY_LIMIT], NULL, v, sizeof(v));
	assert_string_equal(v, "4");
	get(f, f->keys[INV_KEY_USERS], "u7", v, sizeof(v));
	assert_string_equal(v, "5");
	get(f, f->keys[INV_KEY_USERS], "u-stale", v, sizeof(v));
	assert_string_equal(v, ""); /* the whole hash is rewritten */
	get(f, f->keys[INV_KEY_SEEN], "o1", v, sizeof(v));
	assert_non_null(strstr(v, "accepted 2 ")); /* seen is left alone */

	/* Missing keys snapshot as "", and a fix warms them. */
	admin(f, "DEL %s %s", f->keys[INV_KEY_STOCK], f->keys[INV_KEY_LIMIT], NULL);
	assert_int_equal(inv_redis_snapshot(f->r, f->sku, &snap, err, sizeof(err)), 0);
	assert_string_equal(snap.stock, "");
	assert_string_equal(snap.limit, "");
	assert_int_equal(
	    inv_redis_fix(f->r, f->sku, &snap, 7, 0, users, 0, err, sizeof(err)), 1);
	inv_redis_snapshot_free(&snap);
	assert_int_equal(gate(f, o, 1, a, &left), INV_GATE_OK); /* o3 again: seen */
	assert_int_equal(left, 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_missing_keys_are_not_warm_never_zero,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_accepted_orders_take_stock_and_are_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_seen_order_gets_its_earlier_answer_and_takes_nothing, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_over_the_limit_is_limit_exceeded, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_the_limit_comes_before_the_stock, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_and_guarded_fix, setup,
					    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
