/*
 * inv_decide: the decision order (duplicate, repeat, invalid, flag, gate), grouping by
 * SKU with per-user sums, PostgreSQL's re-decision by the gate's rule, and the
 * order_result an answer becomes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inv_decide.h"

#define N 8

struct batch {
	struct souk_pool_event src[N];
	struct inv_order orders[N];
	size_t n;
};

static void
add(struct batch *b, const char *order_id, const char *sku, const char *user, int64_t qty)
{
	struct souk_pool_event *e = &b->src[b->n];

	*e = (struct souk_pool_event){.topic = "orders", .offset = (int64_t)b->n};
	e->ev.type = SOUK_EVENT_TYPE_ORDER;
	snprintf(e->ev.event_id, sizeof(e->ev.event_id),
		 "00000000-0000-4000-8000-00000000000%zu", b->n);
	snprintf(e->ev.order.order_id, sizeof(e->ev.order.order_id), "%s", order_id);
	snprintf(e->ev.order.sku, sizeof(e->ev.order.sku), "%s", sku);
	snprintf(e->ev.order.user_id, sizeof(e->ev.order.user_id), "%s", user);
	e->ev.order.qty = qty;
	inv_decide_init(&b->orders[b->n], e);
	b->n++;
}

static struct inv_stock
stock(const char *sku, int64_t available, int64_t limit)
{
	struct inv_stock s = {.available = available, .version = 7, .limit = limit};

	snprintf(s.sku, sizeof(s.sku), "%s", sku);
	return s;
}

static void
test_answers_have_names_and_rows(void **state)
{
	enum inv_answer a;

	(void)state;
	assert_string_equal(inv_answer_name(INV_LIMIT_EXCEEDED), "limit_exceeded");
	assert_int_equal(inv_answer_parse("sold_out", 8, &a), 0);
	assert_int_equal(a, INV_SOLD_OUT);
	assert_int_equal(inv_answer_parse("sold", 4, &a), -1);
	assert_int_equal(inv_answer_from_row("accepted", "", &a), 0);
	assert_int_equal(a, INV_ACCEPTED);
	assert_int_equal(inv_answer_from_row("rejected", "invalid", &a), 0);
	assert_int_equal(a, INV_INVALID);
	assert_int_equal(inv_answer_from_row("rejected", "", &a), -1);
	assert_int_equal(inv_answer_from_row("rejected", "accepted", &a), -1);
	assert_int_equal(inv_answer_from_row("accepted", "sold_out", &a), -1);
	assert_string_equal(inv_answer_status(INV_SOLD_OUT), "rejected");
}

static void
test_route_follows_the_decision_order(void **state)
{
	struct batch b = {.n = 0};
	struct inv_stored stored[1] = {{.answer = INV_LIMIT_EXCEEDED}};
	struct inv_stock rows[] = {stock("B", 5, 0), stock("A", 0, 0)};
	struct inv_skuset *flags = inv_skuset_new();

	(void)state;
	add(&b, "o-new", "A", "u1", 1);	 /* 0: flagged SKU A */
	add(&b, "o-old", "A", "u2", 2);	 /* 1: PostgreSQL decided it: before the flag */
	add(&b, "o-new", "B", "u1", 1);	 /* 2: a duplicate of 0, whatever its SKU */
	add(&b, "o-x", "NOPE", "u3", 1); /* 3: unknown SKU */
	add(&b, "o-gate", "B", "u4", 1); /* 4: to the gate */
	add(&b, "o-bad", "B", "u5", 1);	 /* 5: broke a rule */
	b.src[5].status = SOUK_EVENT_EFIELD;
	add(&b, "o-old", "B", "u9", 9); /* 6: a duplicate of the repeat */
	snprintf(stored[0].o.order_id, sizeof(stored[0].o.order_id), "o-old");
	snprintf(stored[0].o.sku, sizeof(stored[0].o.sku), "A");
	snprintf(stored[0].o.user_id, sizeof(stored[0].o.user_id), "u2");
	stored[0].o.qty = 2;
	snprintf(stored[0].result_id, sizeof(stored[0].result_id),
		 "11111111-1111-5111-8111-111111111111");
	assert_int_equal(inv_skuset_add(flags, "A"), 0);

	assert_int_equal(inv_decide_route(b.orders, b.n, stored, 1, flags, rows, 2), 0);
	assert_int_equal(b.orders[0].route, INV_ROUTE_FLAG);
	assert_int_equal(b.orders[0].answer, INV_SOLD_OUT);
	assert_int_equal(b.orders[1].route, INV_ROUTE_REPEAT);
	assert_int_equal(b.orders[1].answer, INV_LIMIT_EXCEEDED);
	assert_string_equal(b.orders[1].result_id,
			    "11111111-1111-5111-8111-111111111111");
	assert_int_equal(b.orders[2].route, INV_ROUTE_DUPLICATE);
	assert_int_equal(b.orders[2].first, 0);
	assert_int_equal(b.orders[3].route, INV_ROUTE_INVALID);
	assert_int_equal(b.orders[3].answer, INV_INVALID);
	assert_int_equal(b.orders[4].route, INV_ROUTE_GATE);
	assert_int_equal(b.orders[5].route, INV_ROUTE_INVALID);
	assert_int_equal(b.orders[6].route, INV_ROUTE_DUPLICATE);
	assert_int_equal(b.orders[6].first, 1);

	inv_decide_copy_duplicates(b.orders, b.n);
	assert_int_equal(b.orders[2].answer, INV_SOLD_OUT);
	assert_string_equal(b.orders[2].o.sku, "A"); /* the first's order */
	assert_string_equal(b.orders[2].result_id, b.orders[0].result_id);
	assert_int_equal(b.orders[6].answer, INV_LIMIT_EXCEEDED);
	assert_int_equal(b.orders[6].o.qty, 2);
	inv_skuset_destroy(flags);
}

static void
test_result_id_is_derived_from_the_order_id(void **state)
{
	struct batch b = {.n = 0};

	(void)state;
	add(&b, "o-1", "A", "u1", 1);
	add(&b, "o-1", "B", "u2", 3);
	add(&b, "o-2", "A", "u1", 1);
	assert_string_equal(b.orders[0].result_id, b.orders[1].result_id);
	assert_string_not_equal(b.orders[0].result_id, b.orders[2].result_id);
	assert_true(souk_event_uuid_valid(b.orders[0].result_id));
}

static void
test_group_by_sku_keeps_event_order_and_sums_per_user(void **state)
{
	struct batch b = {.n = 0};
	struct inv_order **g;
	struct inv_tally users[N];
	size_t n, run, nusers;
	int64_t total;

	(void)state;
	add(&b, "o1", "B", "u1", 2);
	add(&b, "o2", "A", "u1", 1);
	add(&b, "o3", "B", "u2", 3);
	add(&b, "o4", "B", "u1", 4);
	add(&b, "o5", "A", "u3", 1);
	b.orders[4].route = INV_ROUTE_FLAG; /* not the gate's */
	g = inv_decide_group(b.orders, b.n, &n);
	assert_non_null(g);
	assert_int_equal(n, 4);
	run = inv_decide_run(g, n);
	assert_int_equal(run, 1);
	assert_string_equal(g[0]->o.order_id, "o2");
	assert_int_equal(inv_decide_run(g + 1, n - 1), 3);
	assert_string_equal(g[1]->o.order_id, "o1");
	assert_string_equal(g[2]->o.order_id, "o3");
	assert_string_equal(g[3]->o.order_id, "o4");

	g[1]->answer = INV_ACCEPTED;
	g[2]->answer = INV_SOLD_OUT;
	g[3]->answer = INV_ACCEPTED;
	nusers = inv_decide_tally(g + 1, 3, users, &total);
	assert_int_equal(total, 6);
	assert_int_equal(nusers, 1);
	assert_string_equal(users[0].user_id, "u1");
	assert_int_equal(users[0].qty, 6);
	assert_int_equal(inv_decide_users(g + 1, 3, users), 2);
	free(g);

	b.orders[0].route = b.orders[1].route = b.orders[2].route = b.orders[3].route =
	    INV_ROUTE_REPEAT;
	assert_null(inv_decide_group(b.orders, b.n, &n));
	assert_int_equal(n, 0);
}

static void
test_postgresql_decides_by_the_gates_rule(void **state)
{
	struct batch b = {.n = 0};
	struct inv_order *g[N];
	struct inv_tally bought[N];
	size_t nbought;
	int64_t available = 4;

	(void)state;
	add(&b, "o1", "A", "u1", 2); /* u1 has 1 of 3: fits */
	add(&b, "o2", "A", "u1", 1); /* 1 + 2 + 1 > 3 */
	add(&b, "o3", "A", "u2", 3); /* 3 > 2 left */
	add(&b, "o4", "A", "u3", 2); /* the last 2 */
	add(&b, "o5", "A", "u4", 4); /* over the limit before the stock */
	for (size_t i = 0; i < b.n; i++)
		g[i] = &b.orders[i];
	nbought = inv_decide_users(g, b.n, bought);
	assert_int_equal(nbought, 4);
	bought[0].qty = 1;
	inv_decide_sku(g, b.n, &available, 3, bought, nbought);
	assert_int_equal(b.orders[0].answer, INV_ACCEPTED);
	assert_int_equal(b.orders[1].answer, INV_LIMIT_EXCEEDED);
	assert_int_equal(b.orders[2].answer, INV_SOLD_OUT);
	assert_int_equal(b.orders[3].answer, INV_ACCEPTED);
	assert_int_equal(b.orders[4].answer, INV_LIMIT_EXCEEDED);
	assert_int_equal(available, 0);
	assert_int_equal(bought[0].qty, 3);

	available = 10; /* limit 0: none */
	bought[0].qty = 100;
	inv_decide_sku(g, 2, &available, 0, bought, nbought);
	assert_int_equal(b.orders[1].answer, INV_ACCEPTED);
	assert_int_equal(available, 7);
}

static void
test_result_encodes_the_answer(void **state)
{
	struct batch b = {.n = 0};
	char buf[SOUK_EVENT_MAX_BYTES + 1], err[512];
	souk_event_error_t derr;
	souk_event_t ev;
	size_t len;

	(void)state;
	add(&b, "o-1", "SKU-1", "u-42", 2);
	b.orders[0].answer = INV_LIMIT_EXCEEDED;
	assert_int_equal(inv_decide_result(&b.orders[0],
					   "0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d",
					   "2026-11-27T12:00:00.000Z", buf, sizeof(buf),
					   &len, err, sizeof(err)),
			 0);
	assert_int_equal(souk_event_decode(buf, len, &ev, &derr), SOUK_EVENT_OK);
	assert_int_equal(ev.type, SOUK_EVENT_TYPE_ORDER_RESULT);
	assert_string_equal(ev.client_id, "inventory");
	assert_string_equal(ev.order_result.order_id, "o-1");
	assert_string_equal(ev.order_result.user_id, "u-42");
	assert_int_equal(ev.order_result.qty, 2);
	assert_int_equal(ev.order_result.status, SOUK_EVENT_ORDER_REJECTED);
	assert_int_equal(ev.order_result.reason, SOUK_EVENT_REASON_LIMIT_EXCEEDED);
	assert_string_equal(ev.order_result.source_event_id, b.src[0].ev.event_id);

	b.orders[0].answer = INV_ACCEPTED;
	assert_int_equal(inv_decide_result(&b.orders[0],
					   "0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d",
					   "2026-11-27T12:00:00.000Z", buf, sizeof(buf),
					   &len, err, sizeof(err)),
			 0);
	assert_null(strstr(buf, "reason"));

	/* An order whose qty broke the rule is answered invalid without its qty. */
	b.orders[0].o.qty = 0;
	b.orders[0].answer = INV_INVALID;
	assert_int_equal(inv_decide_result(&b.orders[0],
					   "0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d",
					   "2026-11-27T12:00:00.000Z", buf, sizeof(buf),
					   &len, err, sizeof(err)),
			 0);
	assert_int_equal(souk_event_decode(buf, len, &ev, &derr), SOUK_EVENT_OK);
	assert_int_equal(ev.order_result.reason, SOUK_EVENT_REASON_INVALID);
	assert_false(ev.order_result.has_qty);
	assert_null(strstr(buf, "\"qty\""));
	assert_string_equal(ev.order_result.user_id, "u-42");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answers_have_names_and_rows),
	    cmocka_unit_test(test_route_follows_the_decision_order),
	    cmocka_unit_test(test_result_id_is_derived_from_the_order_id),
	    cmocka_unit_test(test_group_by_sku_keeps_event_order_and_sums_per_user),
	    cmocka_unit_test(test_postgresql_decides_by_the_gates_rule),
	    cmocka_unit_test(test_result_encodes_the_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
