/*
 * inv_sql_record_rows: the multi-row insert's array parameters hold one row per order
 * decided now (not the repeats and duplicates), NULL reasons for accepted orders, and
 * elements quoted for PostgreSQL.
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

static void
test_rows_hold_the_orders_decided_now(void **state)
{
	struct souk_pool_event src[4];
	struct inv_order orders[4];
	struct souk_pgarray cols[INV_COLS];
	char want[256];

	(void)state;
	make(&orders[0], &src[0], "o-1", INV_ROUTE_GATE, INV_ACCEPTED, 10);
	make(&orders[1], &src[1], "o-2", INV_ROUTE_REPEAT, INV_SOLD_OUT, 11);
	make(&orders[2], &src[2], "o-1", INV_ROUTE_DUPLICATE, INV_ACCEPTED, 12);
	make(&orders[3], &src[3], "o-\"3\"", INV_ROUTE_FLAG, INV_SOLD_OUT, 13);
	assert_int_equal(inv_sql_record_rows(orders, 4, cols), 2);
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_ORDER_ID]),
			    "{\"o-1\",\"o-\\\"3\\\"\"}");
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_STATUS]),
			    "{\"accepted\",\"rejected\"}");
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_REASON]),
			    "{NULL,\"sold_out\"}");
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_QTY]), "{2,2}");
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_SOURCE_OFFSET]), "{10,13}");
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_SOURCE_PARTITION]), "{2,2}");
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_USER_ID]),
			    "{\"u:1\",\"u:1\"}");
	snprintf(want, sizeof(want), "{\"%s\",\"%s\"}", orders[0].result_id,
		 orders[3].result_id);
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_RESULT_ID]), want);
	for (int c = 0; c < INV_COLS; c++)
		souk_pgarray_free(&cols[c]);

	assert_int_equal(inv_sql_record_rows(orders + 1, 2, cols), 0);
	assert_string_equal(souk_pgarray_text(&cols[INV_COL_ORDER_ID]), "{}");
	for (int c = 0; c < INV_COLS; c++)
		souk_pgarray_free(&cols[c]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows_hold_the_orders_decided_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
