/*
 * mat_surge: the target's floor, cap and dead band, monotonic in demand; smoothing
 * that halves the gap every half-life whatever the update rate, rises under a flood
 * and settles back at exactly 1.0 when demand stops; rounding to tenths.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mat_surge.h"

/* a within eps of b, or the test fails showing both and the caller's line. */
#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), __LINE__)
static void
assert_near_at(double a, double b, double eps, int line)
{
	if (!(fabs(a - b) <= eps))
		fail_msg("line %d: %.17g is not within %g of %.17g", line, a, eps, b);
}

/* threshold 1, slope 0.5, cap 3, half-life 10 s */
static mat_surge_params_t
defaults(void)
{
	mat_surge_params_t p;

	mat_surge_params_default(&p);
	return p;
}

static void
test_params_check_names_the_field(void **state)
{
	mat_surge_params_t p = defaults();
	char err[128];

	(void)state;
	assert_int_equal(mat_surge_params_check(&p, err, sizeof(err)), 0);
	p.cap = 12;
	assert_int_equal(mat_surge_params_check(&p, err, sizeof(err)), -1);
	assert_string_equal(err, "cap: must be from 1 to 10, got 12");
	p.cap = 0.5;
	assert_int_equal(mat_surge_params_check(&p, err, sizeof(err)), -1);
	assert_string_equal(err, "cap: must be from 1 to 10, got 0.5");
	p = defaults();
	p.slope = 0;
	assert_int_equal(mat_surge_params_check(&p, err, sizeof(err)), -1);
	assert_string_equal(err, "slope: must be more than 0, got 0");
	p = defaults();
	p.threshold = -1;
	assert_int_equal(mat_surge_params_check(&p, err, sizeof(err)), -1);
	assert_string_equal(err, "threshold: must be 0 or more, got -1");
	p = defaults();
	p.half_life_ms = -5;
	assert_int_equal(mat_surge_params_check(&p, err, sizeof(err)), -1);
	assert_string_equal(err, "half_life_ms: must be 0 or more, got -5");
}

static void
test_target_floor_dead_band_and_cap(void **state)
{
	mat_surge_params_t p = defaults();

	(void)state;
	/* floor: no demand, whatever the supply */
	assert_true(mat_surge_target(&p, 0, 10) == 1.0);
	assert_true(mat_surge_target(&p, 0, 0) == 1.0);
	assert_true(mat_surge_target(&p, -3, 10) == 1.0);
	/* dead band: up to one request per driver */
	assert_true(mat_surge_target(&p, 5, 10) == 1.0);
	assert_true(mat_surge_target(&p, 10, 10) == 1.0);
	/* above it, 1 + 0.5 * (r - 1), starting from 1.0 without a jump */
	assert_near(mat_surge_target(&p, 11, 10), 1.05, 1e-12);
	assert_near(mat_surge_target(&p, 20, 10), 1.5, 1e-12);
	assert_near(mat_surge_target(&p, 30, 10), 2.0, 1e-12);
	/* cap: reached at r = 5, held above */
	assert_true(mat_surge_target(&p, 50, 10) == 3.0);
	assert_true(mat_surge_target(&p, 1000, 1) == 3.0);
	/* riders and no driver at all */
	assert_true(mat_surge_target(&p, 1, 0) == 3.0);
	p.cap = 2.2;
	assert_true(mat_surge_target(&p, 1, 0) == 2.2);
	assert_true(mat_surge_target(&p, 1000, 1) == 2.2);
}

static void
test_target_is_monotonic_in_demand_and_bounded(void **state)
{
	mat_surge_params_t p = defaults();
	const int64_t supplies[] = {1, 7, 50, 1000};

	(void)state;
	for (size_t i = 0; i < sizeof(supplies) / sizeof(supplies[0]); i++) {
		double prev = 1.0;

		for (int64_t demand = 0; demand <= 6 * supplies[i]; demand++) {
			double t = mat_surge_target(&p, demand, supplies[i]);

			if (t < prev || t < 1.0 || t > p.cap)
				fail_msg("supply %lld demand %lld: %g after %g",
					 (long long)supplies[i], (long long)demand, t,
					 prev);
			prev = t;
		}
		assert_true(prev == p.cap);
	}
	/* and falls as supply grows */
	assert_true(mat_surge_target(&p, 40, 10) > mat_surge_target(&p, 40, 20));
}

static void
test_smoothing_halves_the_gap_every_half_life(void **state)
{
	mat_surge_params_t p = defaults();
	mat_surge_state_t s, fine;
	const int64_t t0 = 1700000000000, hl = p.half_life_ms;

	(void)state;
	/* a flood with no driver: target 3.0, gap 2.0 */
	mat_surge_state_init(&s, t0);
	assert_true(s.multiplier == 1.0);
	mat_surge_update(&p, &s, 100, 0, t0 + hl);
	assert_near(s.multiplier, 2.0, 1e-12);
	assert_int_equal(s.at_ms, t0 + hl);
	mat_surge_update(&p, &s, 100, 0, t0 + 2 * hl);
	assert_near(s.multiplier, 2.5, 1e-12);
	mat_surge_update(&p, &s, 100, 0, t0 + 3 * hl);
	assert_near(s.multiplier, 2.75, 1e-12);

	/* the update rate does not matter: ten steps of a tenth equal one step */
	mat_surge_state_init(&fine, t0);
	for (int i = 1; i <= 10; i++)
		mat_surge_update(&p, &fine, 100, 0, t0 + i * hl / 10);
	assert_near(fine.multiplier, 2.0, 1e-12);

	/* the same millisecond, or a clock that stepped back, changes nothing */
	mat_surge_update(&p, &s, 0, 10, t0 + 3 * hl);
	mat_surge_update(&p, &s, 0, 10, t0);
	assert_near(s.multiplier, 2.75, 1e-12);
	assert_int_equal(s.at_ms, t0 + 3 * hl);

	/* half-life 0: straight to the target */
	p.half_life_ms = 0;
	mat_surge_state_init(&s, t0);
	mat_surge_update(&p, &s, 20, 10, t0 + 1);
	assert_near(s.multiplier, 1.5, 1e-12);
}

static void
test_rises_over_seconds_and_falls_back_to_one(void **state)
{
	mat_surge_params_t p = defaults();
	mat_surge_state_t s;
	int64_t now = 0;
	int seconds = 0;
	double before;

	(void)state;
	mat_surge_state_init(&s, now);
	/* a flood: 80 requests for 10 drivers, target 3.0; shown every second */
	while (mat_surge_tenths(s.multiplier) < 30) {
		now += 1000;
		seconds++;
		mat_surge_update(&p, &s, 80, 10, now);
		if (seconds == 1)
			assert_int_equal(mat_surge_tenths(s.multiplier), 11);
	}
	/* 3 - 2 * 2^(-t / 10 s) reaches 2.95 after 10 * log2(40) = 53.2 s */
	assert_int_equal(seconds, 54);

	/* demand stops: one half-life later the gap to 1.0 has halved */
	before = s.multiplier;
	now += p.half_life_ms;
	mat_surge_update(&p, &s, 0, 10, now);
	assert_near(s.multiplier, 1.0 + (before - 1.0) / 2, 1e-12);
	/* five more: shown as 1.0 already, not yet settled */
	now += 5 * p.half_life_ms;
	mat_surge_update(&p, &s, 0, 10, now);
	assert_int_equal(mat_surge_tenths(s.multiplier), 10);
	assert_true(s.multiplier > 1.0);
	/* a few more and it is exactly 1.0: the cell can be forgotten */
	now += 5 * p.half_life_ms;
	mat_surge_update(&p, &s, 0, 10, now);
	assert_true(s.multiplier == 1.0);
}

static void
test_tenths_round_half_up(void **state)
{
	(void)state;
	assert_int_equal(mat_surge_tenths(1.0), 10);
	assert_int_equal(mat_surge_tenths(1.04), 10);
	assert_int_equal(mat_surge_tenths(1.05), 11);
	assert_int_equal(mat_surge_tenths(1.15), 12); /* stored as 1.1499999... */
	assert_int_equal(mat_surge_tenths(1.249), 12);
	assert_int_equal(mat_surge_tenths(1.25), 13);
	assert_int_equal(mat_surge_tenths(2.94), 29);
	assert_int_equal(mat_surge_tenths(2.95), 30);
	assert_int_equal(mat_surge_tenths(3.0), 30);
	assert_int_equal(mat_surge_tenths(10.0), 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_params_check_names_the_field),
	    cmocka_unit_test(test_target_floor_dead_band_and_cap),
	    cmocka_unit_test(test_target_is_monotonic_in_demand_and_bounded),
	    cmocka_unit_test(test_smoothing_halves_the_gap_every_half_life),
	    cmocka_unit_test(test_rises_over_seconds_and_falls_back_to_one),
	    cmocka_unit_test(test_tenths_round_half_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
