/* The ride's transition table (workers/matching/mat_ride.h): every action in every
 * state, by the ride's driver and by another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mat_ride.h"

enum { MOVE = MAT_RIDE_MOVE, RE = MAT_RIDE_REOFFER, DUP = MAT_RIDE_DUPLICATE,
       BAD = MAT_RIDE_ILLEGAL };

/* verdict[state][action] for the ride's own driver; the state a move leads to. */
static const int own[6][5] = {
    /*              accept  decline start  complete cancel */
    [MAT_RIDE_OFFERED] = {MOVE, RE, BAD, BAD, MOVE},
    [MAT_RIDE_ACCEPTED] = {DUP, BAD, MOVE, BAD, MOVE},
    [MAT_RIDE_STARTED] = {DUP, BAD, DUP, MOVE, BAD},
    [MAT_RIDE_COMPLETED] = {DUP, BAD, DUP, DUP, BAD},
    [MAT_RIDE_CANCELLED] = {BAD, BAD, BAD, BAD, DUP},
    [MAT_RIDE_NO_DRIVER] = {BAD, BAD, BAD, BAD, DUP},
};
static const enum mat_ride_state to[5] = {MAT_RIDE_ACCEPTED, 0, MAT_RIDE_STARTED,
					  MAT_RIDE_COMPLETED, MAT_RIDE_CANCELLED};

static void
test_the_rides_driver(void **state)
{
	(void)state;
	for (int s = 0; s < 6; s++)
		for (int a = 0; a < 5; a++) {
			enum mat_ride_state next = MAT_RIDE_NO_DRIVER;
			char why[256] = "";
			const char *cur = s == MAT_RIDE_NO_DRIVER ? "" : "d1";
			int v = (int)mat_ride_judge((enum mat_ride_state)s, cur, false,
						    (souk_event_ride_action_t)a, "d1", &next,
						    why, sizeof(why));

			if (s == MAT_RIDE_NO_DRIVER && a != SOUK_EVENT_RIDE_CANCEL) {
				assert_int_equal(v, BAD); /* nobody's ride */
				continue;
			}
			assert_int_equal(v, own[s][a]);
			if (v == MOVE)
				assert_int_equal(next, to[a]);
			if (v == BAD)
				assert_non_null(strstr(why, mat_ride_state_name(
								(enum mat_ride_state)s)));
		}
}

/* Another driver may do nothing but repeat a decline they already made; the reason
 * names both drivers. */
static void
test_another_driver(void **state)
{
	(void)state;
	enum mat_ride_state next;
	char why[256];

	assert_int_equal(mat_ride_judge(MAT_RIDE_OFFERED, "d1", false, SOUK_EVENT_RIDE_ACCEPT,
					"d2", &next, why, sizeof(why)),
			 MAT_RIDE_ILLEGAL);
	assert_string_equal(why, "accept by d2: the ride is offered with d1");
	assert_int_equal(mat_ride_judge(MAT_RIDE_OFFERED, "d1", true, SOUK_EVENT_RIDE_DECLINE,
					"d2", &next, why, sizeof(why)),
			 MAT_RIDE_DUPLICATE);
	assert_int_equal(mat_ride_judge(MAT_RIDE_ACCEPTED, "d1", false,
					SOUK_EVENT_RIDE_COMPLETE, "d2", &next, why,
					sizeof(why)),
			 MAT_RIDE_ILLEGAL);
	assert_string_equal(why, "complete by d2: the ride is accepted with d1");
}

static void
test_names(void **state)
{
	(void)state;
	for (int s = 0; s < 6; s++) {
		enum mat_ride_state back;

		assert_int_equal(mat_ride_state_parse(
				     mat_ride_state_name((enum mat_ride_state)s), &back),
				 0);
		assert_int_equal(back, s);
		assert_int_equal(mat_ride_final((enum mat_ride_state)s),
				 s >= MAT_RIDE_COMPLETED);
	}
	assert_int_equal(mat_ride_state_parse("searching", &(enum mat_ride_state){0}), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_rides_driver),
	    cmocka_unit_test(test_another_driver),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
