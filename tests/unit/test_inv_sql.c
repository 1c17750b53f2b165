/*
 * inv_sql_record_rows: the COPY into orders holds one row per order decided now (not
 * the repeats and duplicates), its fields in the order of the INV_COL_ columns, a NULL
 * reason for an accepted order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "inv_sql.h"

static void
make(struct inv_order *ord, struct souk_pool_event *src, const char *order_id,
     enum inv_route route, enum inv_answer answer, int64_t offset)
{
	*src =
	    (struct souk_pool_event){.topic = "orders", .partition = 2, .offset = offset};
	snprintf(src->ev.event_id, sizeof(src->ev.event_id),
		 "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f");
	snprintf(src->ev.order.order_id, sizeof(src->ev.order.order_id), "%s", order_id);
	snprintf(src->ev.order.sku, sizeof(src->ev.order.sku), "SKU-1");
	snprintf(src->ev.order.user_id, sizeof(src->ev.order.user_id), "u:1");
	src->ev.order.qty = 2;
	inv_decide_init(ord, src);
	ord->route = route;
	ord->answer = answer;
}

/* The fields of row `row` of a binary COPY, as (length, bytes); -1: NULL. Returns the
 * field count, 0 when there is no such row. */
static int
fields_of(const struct souk_pgcopy *c, size_t row, int32_t *len, const char **at)
{
	const unsigned char *p = (const unsigned char *)c->buf + 19; /* the header */

	for (size_t r = 0;; r++) {
		int n = p[0] << 8 | p[1];

		if (n == 0xffff)
			return 0;
		p += 2;
		for (int f = 0; f < n; f++) {
			int32_t l = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
					      (uint32_t)p[2] << 8 | p[3]);

			p += 4;
			if (r == row) {
				len[f] = l;
				at[f] = (const char *)p;
			}
			p += l > 0 ? l : 0;
		}
		if (r == row)
			return n;
	}
}

static void
assert_text(int32_t len, const char *at, const char *want)
{
	assert_int_equal(len, (int32_t)strlen(want));
	assert_memory_equal(at, want, strlen(want));
}

static void
test_rows_hold_the_orders_decided_now(void **state)
{
	struct souk_pool_event src[4];
	struct inv_order orders[4];
	struct souk_pgcopy copy;
	int32_t len[INV_COLS];
	const char *at[INV_COLS];
	char errstr[128];

	(void)state;
	make(&orders[0], &src[0], "o-1", INV_ROUTE_GATE, INV_ACCEPTED, 10);
	make(&orders[1], &src[1], "o-2", INV_ROUTE_REPEAT, INV_SOLD_OUT, 11);
	make(&orders[2], &src[2], "o-1", INV_ROUTE_DUPLICATE, INV_ACCEPTED, 12);
	make(&orders[3], &src[3], "o-\"3\"", INV_ROUTE_FLAG, INV_SOLD_OUT, 13);
	assert_int_equal(inv_sql_record_rows(orders, 4, &copy), 2);
	assert_int_equal(souk_pgcopy_finish(&copy, errstr, sizeof(errstr)), 0);
	assert_int_equal(copy.rows, 2);

	assert_int_equal(fields_of(&copy, 0, len, at), INV_COLS);
	assert_text(len[INV_COL_ORDER_ID], at[INV_COL_ORDER_ID], "o-1");
	assert_text(len[INV_COL_STATUS], at[INV_COL_STATUS], "accepted");
	assert_int_equal(len[INV_COL_REASON], -1);
	assert_text(len[INV_COL_USER_ID], at[INV_COL_USER_ID], "u:1");
	assert_text(len[INV_COL_SOURCE_TOPIC], at[INV_COL_SOURCE_TOPIC], "orders");
	assert_int_equal(len[INV_COL_QTY], 8);
	assert_memory_equal(at[INV_COL_QTY], "\0\0\0\0\0\0\0\2", 8);
	assert_int_equal(len[INV_COL_SOURCE_PARTITION], 4);
	assert_memory_equal(at[INV_COL_SOURCE_PARTITION], "\0\0\0\2", 4);
	assert_memory_equal(at[INV_COL_SOURCE_OFFSET], "\0\0\0\0\0\0\0\x0a", 8);
	assert_int_equal(len[INV_COL_RESULT_ID], 16);
	assert_int_equal(len[INV_COL_SOURCE_EVENT_ID], 16);
	assert_memory_equal(at[INV_COL_SOURCE_EVENT_ID],
			    "\x5f\x0e\x8d\x3c\x2b\x1a\x4e\x9f\x8d\x7c\x6b\x5a\x4c\x3d\x2e\x1f",
			    16);

	assert_int_equal(fields_of(&copy, 1, len, at), INV_COLS);
	assert_text(len[INV_COL_ORDER_ID], at[INV_COL_ORDER_ID], "o-\"3\"");
	assert_text(len[INV_COL_STATUS], at[INV_COL_STATUS], "rejected");
	assert_text(len[INV_COL_REASON], at[INV_COL_REASON], "sold_out");
	assert_memory_equal(at[INV_COL_SOURCE_OFFSET], "\0\0\0\0\0\0\0\x0d", 8);
	assert_int_equal(fields_of(&copy, 2, len, at), 0);
	souk_pgcopy_free(&copy);

	assert_int_equal(inv_sql_record_rows(orders + 1, 2, &copy), 0);
	assert_int_equal(souk_pgcopy_finish(&copy, errstr, sizeof(errstr)), 0);
	assert_int_equal(copy.rows, 0);
	souk_pgcopy_free(&copy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows_hold_the_orders_decided_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
