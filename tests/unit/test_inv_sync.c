/*
 * inv_sync_plan: what Redis must hold for a SKU, from PostgreSQL's truth minus the
 * reservations in flight, and how far Redis drifted from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inv_sync.h"

#define NOW 1800000000000LL

static struct inv_reservation
reservation(const char *order_id, const char *user, int64_t qty, int64_t age_ms)
{
	return (struct inv_reservation){
	    order_id,
	    {.answer = INV_ACCEPTED, .qty = qty, .ms = NOW - age_ms, .user_id = user}};
}

static void
test_in_sync_counts_reservations_not_yet_recorded(void **state)
{
	struct inv_tally bought[] = {{"u1", 2}, {"u2", 1}};
	const char *decided[] = {"o-done"};
	struct inv_truth truth = {.found = true,
				  .available = 10,
				  .limit = 3,
				  .bought = bought,
				  .nbought = 2,
				  .decided = decided,
				  .ndecided = 1};
	struct inv_reservation res[] = {reservation("o-done", "u1", 2, 10),
					reservation("o-flight", "u2", 2, 10),
					reservation("o-flight2", "u3", 1, 10)};
	/* Redis: 10 - 3 in flight; u2 = 1 + 2, u3 = 1 in flight. */
	struct inv_redis_user redis[] = {{"u3", 1}, {"u1", 2}, {"u2", 3}};
	struct inv_redis_snapshot snap = {.stock = "7",
					  .limit = "3",
					  .now_ms = NOW,
					  .users = redis,
					  .nusers = 3,
					  .reserved = res,
					  .nreserved = 3};
	struct inv_sync_plan plan;
	struct inv_sync_report rep;

	(void)state;
	assert_int_equal(inv_sync_plan(&truth, &snap, 60000, &plan, &rep), 0);
	assert_true(rep.warm);
	assert_int_equal(rep.reserved, 3);
	assert_int_equal(rep.truth, 7);
	assert_int_equal(inv_sync_drift(&rep), 0);
	assert_int_equal(rep.users_differ, 0);
	assert_false(rep.limit_differs);
	assert_int_equal(plan.stock, 7);
	assert_int_equal(plan.nusers, 3);
	assert_string_equal(plan.users[1].user_id, "u2");
	assert_int_equal(plan.users[1].qty, 3);
	free(plan.users);
}

static void
test_drift_stale_reservations_and_missing_keys(void **state)
{
	struct inv_tally bought[] = {{"u1", 2}};
	struct inv_truth truth = {
	    .found = true, .available = 4, .limit = 0, .bought = bought, .nbought = 1};
	struct inv_reservation res[] = {reservation("o-old", "u2", 5, 120000)};
	struct inv_redis_user redis[] = {{"u1", 1}, {"u-extra", 2}};
	struct inv_redis_snapshot snap = {.stock = "9",
					  .limit = "2",
					  .now_ms = NOW,
					  .users = redis,
					  .nusers = 2,
					  .reserved = res,
					  .nreserved = 1};
	struct inv_sync_plan plan;
	struct inv_sync_report rep;

	(void)state;
	assert_int_equal(inv_sync_plan(&truth, &snap, 60000, &plan, &rep), 0);
	assert_int_equal(rep.reserved, 0); /* older than the TTL: not in flight */
	assert_int_equal(rep.truth, 4);
	assert_int_equal(inv_sync_drift(&rep), 5);
	assert_int_equal(rep.users_differ, 2); /* u1 wrong, u-extra extra */
	assert_true(rep.limit_differs);
	assert_int_equal(plan.nusers, 1);
	free(plan.users);

	/* Missing keys: not warm; the drift is the whole truth. */
	snap.stock = "";
	snap.limit = "";
	assert_int_equal(inv_sync_plan(&truth, &snap, 60000, &plan, &rep), 0);
	assert_false(rep.warm);
	assert_int_equal(inv_sync_drift(&rep), -4);
	free(plan.users);

	/* More in flight than PostgreSQL has: Redis may hold no less than 0. */
	res[0].seen.ms = NOW;
	assert_int_equal(inv_sync_plan(&truth, &snap, 60000, &plan, &rep), 0);
	assert_int_equal(rep.reserved, 5);
	assert_int_equal(rep.truth, 0);
	free(plan.users);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_sync_counts_reservations_not_yet_recorded),
	    cmocka_unit_test(test_drift_stale_reservations_and_missing_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
