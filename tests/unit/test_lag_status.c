/* souk-lag's Burrow rules: each rule alone, then the precedence between them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lag_status.h"

/* A window of samples 5 s apart; committed[i], high[i], member[i]. */
struct window {
	struct lag_sample s[8];
	size_t n;
};

static struct window
window(size_t n, const int64_t *committed, const int64_t *high, const bool *member)
{
	struct window w = {.n = n};

	for (size_t i = 0; i < n; i++)
		w.s[i] = (struct lag_sample){.committed = committed[i],
					     .high = high[i],
					     .has_member = member[i],
					     .t_ms = 1700000000000 + (int64_t)i * 5000};
	return w;
}

static void
check(const struct window *w, enum lag_status want, enum lag_rule want_rule)
{
	enum lag_rule rule = LAG_RULE_NO_SAMPLES;
	enum lag_status got = lag_status_eval(w->s, w->n, &rule);

	assert_string_equal(lag_status_name(got), lag_status_name(want));
	assert_string_equal(lag_status_rule_name(rule), lag_status_rule_name(want_rule));
}

static const bool all_members[8] = {true, true, true, true, true, true, true, true};
static const bool no_members[8] = {false, false, false, false,
				   false, false, false, false};

static void
test_no_samples_is_ok(void **state)
{
	(void)state;
	struct window w = {.n = 0};

	check(&w, LAG_STATUS_OK, LAG_RULE_NO_SAMPLES);
}

static void
test_lag_is_never_negative(void **state)
{
	(void)state;
	/* a committed offset past the watermark (a sample taken between the two reads) */
	struct lag_sample s = {.committed = 12, .high = 10};

	assert_int_equal(lag_status_lag(&s), 0);
	s.high = 15;
	assert_int_equal(lag_status_lag(&s), 3);
}

static void
test_zero_lag_anywhere_is_ok(void **state)
{
	(void)state;
	/* otherwise STOP (no member), REWIND and growing lag: one zero lag wins */
	int64_t committed[] = {50, 40, 40, 40};
	int64_t high[] = {50, 60, 70, 80};
	struct window w = window(4, committed, high, no_members);

	check(&w, LAG_STATUS_OK, LAG_RULE_ZERO_LAG);
}

static void
test_rewind(void **state)
{
	(void)state;
	int64_t committed[] = {10, 20, 15, 30};
	int64_t high[] = {100, 100, 100, 100};
	struct window w = window(4, committed, high, all_members);

	check(&w, LAG_STATUS_REWIND, LAG_RULE_REWIND);
}

static void
test_rewind_beats_stop(void **state)
{
	(void)state;
	int64_t committed[] = {30, 20};
	int64_t high[] = {100, 100};
	struct window w = window(2, committed, high, no_members);

	check(&w, LAG_STATUS_REWIND, LAG_RULE_REWIND);
}

static void
test_stop_without_member(void **state)
{
	(void)state;
	/* a stopped group: nobody holds it, offset frozen, lag > 0; even one sample */
	int64_t committed[] = {40, 40, 40};
	int64_t high[] = {100, 100, 100};
	struct window w = window(3, committed, high, no_members);

	check(&w, LAG_STATUS_STOP, LAG_RULE_NO_MEMBER);
	w.n = 1;
	check(&w, LAG_STATUS_STOP, LAG_RULE_NO_MEMBER);
}

static void
test_stop_looks_at_the_last_sample(void **state)
{
	(void)state;
	/* the member left during the window, and the consumer was moving before that */
	int64_t committed[] = {10, 20, 30};
	int64_t high[] = {100, 100, 100};
	bool member[] = {true, true, false};
	struct window w = window(3, committed, high, member);

	check(&w, LAG_STATUS_STOP, LAG_RULE_NO_MEMBER);
	member[1] = false, member[2] = true;
	w = window(3, committed, high, member);
	check(&w, LAG_STATUS_OK, LAG_RULE_MOVING);
}

static void
test_stall_with_member_and_frozen_offset(void **state)
{
	(void)state;
	/* a member holds it, the offset is frozen and the lag grows: STALL beats WARN */
	int64_t committed[] = {40, 40, 40};
	int64_t high[] = {100, 120, 150};
	struct window w = window(3, committed, high, all_members);

	check(&w, LAG_STATUS_STALL, LAG_RULE_STALLED);
}

static void
test_one_sample_with_member_is_ok(void **state)
{
	(void)state;
	int64_t committed[] = {40};
	int64_t high[] = {100};
	struct window w = window(1, committed, high, all_members);

	check(&w, LAG_STATUS_OK, LAG_RULE_MOVING);
}

static void
test_warn_when_lag_never_decreases(void **state)
{
	(void)state;
	/* moving, but slower than the producers: lag 60, 60, 70, 90 */
	int64_t committed[] = {40, 50, 60, 70};
	int64_t high[] = {100, 110, 130, 160};
	struct window w = window(4, committed, high, all_members);

	check(&w, LAG_STATUS_WARN, LAG_RULE_GROWING);
}

static void
test_ok_when_lag_decreases_once(void **state)
{
	(void)state;
	/* lag 60, 70, 65, 80: one decrease is enough */
	int64_t committed[] = {40, 50, 65, 70};
	int64_t high[] = {100, 120, 130, 150};
	struct window w = window(4, committed, high, all_members);

	check(&w, LAG_STATUS_OK, LAG_RULE_MOVING);
}

static void
test_group_status(void **state)
{
	(void)state;
	enum lag_status ok_warn[] = {LAG_STATUS_OK, LAG_STATUS_WARN, LAG_STATUS_OK};
	enum lag_status with_stall[] = {LAG_STATUS_WARN, LAG_STATUS_STALL};
	enum lag_status with_stop[] = {LAG_STATUS_OK, LAG_STATUS_STOP};
	enum lag_status with_rewind[] = {LAG_STATUS_REWIND};

	assert_int_equal(lag_status_group(NULL, 0), LAG_STATUS_OK);
	assert_int_equal(lag_status_group(ok_warn, 3), LAG_STATUS_WARN);
	assert_int_equal(lag_status_group(ok_warn, 1), LAG_STATUS_OK);
	assert_int_equal(lag_status_group(with_stall, 2), LAG_STATUS_ERR);
	assert_int_equal(lag_status_group(with_stop, 2), LAG_STATUS_ERR);
	assert_int_equal(lag_status_group(with_rewind, 1), LAG_STATUS_ERR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_samples_is_ok),
	    cmocka_unit_test(test_lag_is_never_negative),
	    cmocka_unit_test(test_zero_lag_anywhere_is_ok),
	    cmocka_unit_test(test_rewind),
	    cmocka_unit_test(test_rewind_beats_stop),
	    cmocka_unit_test(test_stop_without_member),
	    cmocka_unit_test(test_stop_looks_at_the_last_sample),
	    cmocka_unit_test(test_stall_with_member_and_frozen_offset),
	    cmocka_unit_test(test_one_sample_with_member_is_ok),
	    cmocka_unit_test(test_warn_when_lag_never_decreases),
	    cmocka_unit_test(test_ok_when_lag_decreases_once),
	    cmocka_unit_test(test_group_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
