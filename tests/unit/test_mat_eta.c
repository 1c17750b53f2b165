/*
 * mat_eta: the fit recovers known speeds per (area, hour) and a known detour from
 * noisy synthetic trips; sparse buckets fall back to the hour and then to all trips;
 * predictions with and without a traffic hint; the text form round-trips with its id
 * and refuses tampering; held-out error on a hand-made set.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mat_eta.h"

/* a within eps of b, or the test fails showing both and the caller's line. */
#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), __LINE__)
static void
assert_near_at(double a, double b, double eps, int line)
{
	if (!(fabs(a - b) <= eps))
		fail_msg("line %d: %.17g is not within %g of %.17g", line, a, eps, b);
}

#define AREAS 3
#define PER_BUCKET 200
#define DETOUR 1.4

/* H3-like area keys (resolution-7 cells) */
static const int64_t areas[AREAS] = {0x872830828ffffff, 0x87283082effffff,
				     0x872830876ffffff};

/* The true speed of area a (0..AREAS-1) at hour h: 4 to 11.75 m/s. */
static double
true_speed(int a, int h)
{
	return 4.0 + 0.25 * h + 2.0 * a;
}

/* splitmix64: a seeded generator, the same numbers on every platform. */
static uint64_t
next_random(uint64_t *seed)
{
	uint64_t z = (*seed += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static double
uniform(uint64_t *seed, double lo, double hi)
{
	return lo + (hi - lo) * (double)(next_random(seed) >> 11) / 9007199254740992.0;
}

/*
 * PER_BUCKET trips per (area, hour): straight 0.5 to 8 km, driven DETOUR times that
 * +-10%, at true_speed with the duration +-10%. Every other trip does not record its
 * road distance. Returns the trips (the caller frees them), *n their count.
 */
static mat_eta_trip_t *
synthetic_trips(uint64_t seed, size_t *n)
{
	mat_eta_trip_t *trips = calloc(AREAS * 24 * PER_BUCKET, sizeof(*trips));
	size_t k = 0;

	assert_non_null(trips);
	for (int a = 0; a < AREAS; a++)
		for (int h = 0; h < 24; h++)
			for (int i = 0; i < PER_BUCKET; i++, k++) {
				double straight = uniform(&seed, 500, 8000);
				double road =
				    straight * DETOUR * uniform(&seed, 0.9, 1.1);

				trips[k].area = areas[a];
				trips[k].hour = h;
				trips[k].straight_m = straight;
				trips[k].road_m = k % 2 ? 0 : road;
				trips[k].duration_s =
				    road / true_speed(a, h) * uniform(&seed, 0.9, 1.1);
			}
	*n = k;
	return trips;
}

/* A model fitted to trips[0..n), failing the test on error. */
static mat_eta_t *
fit(const mat_eta_trip_t *trips, size_t n, const mat_eta_params_t *p)
{
	mat_eta_t *m = NULL;
	char err[256];

	if (mat_eta_fit(trips, n, p, &m, err, sizeof(err)))
		fail_msg("fit failed: %s", err);
	return m;
}

static mat_eta_params_t
defaults(void)
{
	mat_eta_params_t p;

	mat_eta_params_default(&p);
	return p;
}

static void
test_fit_recovers_known_speeds_and_detour(void **state)
{
	mat_eta_params_t p = defaults();
	mat_eta_summary_t sum;
	mat_eta_level_t level;
	size_t n;
	mat_eta_trip_t *trips = synthetic_trips(42, &n);
	mat_eta_t *m = fit(trips, n, &p);
	double worst = 0;

	(void)state;
	for (int a = 0; a < AREAS; a++)
		for (int h = 0; h < 24; h++) {
			double got = mat_eta_speed(m, areas[a], h, &level);
			double rel = fabs(got - true_speed(a, h)) / true_speed(a, h);

			assert_int_equal(level, MAT_ETA_LEVEL_AREA);
			if (rel >= 0.05)
				fail_msg("area %d hour %d: %g m/s, truly %g", a, h, got,
					 true_speed(a, h));
			worst = fmax(worst, rel);
		}
	mat_eta_summarize(m, &sum);
	print_message("worst speed error %.2f%%, detour %g (truly %g)\n", 100 * worst,
		      sum.detour, DETOUR);
	assert_true(fabs(sum.detour - DETOUR) / DETOUR < 0.05);
	assert_int_equal(sum.trips, (int64_t)n);
	assert_int_equal(sum.skipped, 0);
	assert_int_equal(sum.detour_trips, (int64_t)n / 2);
	assert_int_equal(sum.hours, 24);
	assert_int_equal(sum.areas, AREAS * 24);
	/* an area never seen falls back to the hour, across all areas */
	mat_eta_speed(m, 12345, 8, &level);
	assert_int_equal(level, MAT_ETA_LEVEL_HOUR);
	assert_true(mat_eta_speed(m, 12345, 24, NULL) == -1);
	mat_eta_destroy(m);
	free(trips);
}

/* n exact trips in area at hour: 1 km straight, 1.5 km driven at speed. */
static size_t
add_trips(mat_eta_trip_t *t, size_t n, int64_t area, int hour, double speed)
{
	for (size_t i = 0; i < n; i++)
		t[i] = (mat_eta_trip_t){area, hour, 1000, 1500, 1500 / speed};
	return n;
}

static void
test_sparse_buckets_fall_back(void **state)
{
	mat_eta_params_t p = defaults(); /* min_trips 30 */
	mat_eta_trip_t trips[100];
	mat_eta_summary_t sum;
	mat_eta_level_t level;
	mat_eta_t *m;
	double eta_known, eta_unknown;
	size_t n = 0;

	(void)state;
	n += add_trips(trips + n, 40, 1, 7, 10); /* a bucket of its own */
	n += add_trips(trips + n, 25, 2, 7, 6);	 /* too few: hour 7, where 10 wins */
	n += add_trips(trips + n, 20, 3, 3, 5);	 /* hour 3 too: all trips, median 6 */
	/* unusable: bad hour, too short, no duration, NaN, 500 m/s */
	trips[n++] = (mat_eta_trip_t){1, 24, 1000, 0, 100};
	trips[n++] = (mat_eta_trip_t){1, 7, 50, 0, 10};
	trips[n++] = (mat_eta_trip_t){1, 7, 1000, 0, 0};
	trips[n++] = (mat_eta_trip_t){1, 7, NAN, 0, 100};
	trips[n++] = (mat_eta_trip_t){1, 7, 1000, 1000, 2};
	m = fit(trips, n, &p);
	mat_eta_summarize(m, &sum);
	assert_int_equal(sum.trips, 85);
	assert_int_equal(sum.skipped, 5);
	assert_true(sum.detour == 1.5);
	assert_int_equal(sum.detour_trips, 85);
	assert_int_equal(sum.hours, 1);
	assert_int_equal(sum.areas, 1);

	assert_true(mat_eta_speed(m, 1, 7, &level) == 10);
	assert_int_equal(level, MAT_ETA_LEVEL_AREA);
	assert_true(mat_eta_speed(m, 2, 7, &level) == 10);
	assert_int_equal(level, MAT_ETA_LEVEL_HOUR);
	assert_true(mat_eta_speed(m, 3, 3, &level) == 6);
	assert_int_equal(level, MAT_ETA_LEVEL_ALL);
	assert_true(mat_eta_speed(m, 1, 12, &level) == 6);
	assert_int_equal(level, MAT_ETA_LEVEL_ALL);
	assert_int_equal(mat_eta_predict(m, 3, 3, 1000, NULL, &eta_known), 0);
	mat_eta_destroy(m);

	/* without road distances the detour is the default, the speeds follow it and
	 * the predictions stay what they were */
	for (size_t i = 0; i < n; i++)
		trips[i].road_m = 0;
	m = fit(trips, n, &p);
	mat_eta_summarize(m, &sum);
	assert_true(sum.detour == p.default_detour);
	assert_int_equal(sum.detour_trips, 0);
	assert_int_equal(sum.skipped, 5);
	assert_int_equal(mat_eta_predict(m, 3, 3, 1000, NULL, &eta_unknown), 0);
	assert_near(eta_unknown, eta_known, eta_known * 1e-3);
	mat_eta_destroy(m);
}

static void
test_fit_refusals(void **state)
{
	mat_eta_params_t p = defaults();
	mat_eta_trip_t trips[30];
	mat_eta_t *m = NULL;
	char err[256];
	size_t n = add_trips(trips, 29, 1, 7, 10);

	(void)state;
	trips[n++] = (mat_eta_trip_t){1, 7, 1000, 0, -1};
	assert_int_equal(mat_eta_fit(trips, n, &p, &m, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "could not fit eta model: 29 usable trips of 30, need at "
			    "least min_trips (30)");
	assert_int_equal(mat_eta_fit(NULL, 0, &p, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "could not fit eta model: 0 usable trips of 0, need at "
				 "least min_trips (30)");
	p.min_trips = 0;
	assert_int_equal(mat_eta_fit(trips, n, &p, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "min_trips: must be 1 or more, got 0");
	p = defaults();
	p.default_detour = 0.8;
	assert_int_equal(mat_eta_fit(trips, n, &p, &m, err, sizeof(err)), -1);
	assert_string_equal(err, "default_detour: must be from 1 to 10, got 0.8");
}

/* One trip, area 1 at 8h: 1 km straight, 1.5 km at 10 m/s; hint_half 10. */
static mat_eta_t *
one_trip_model(void)
{
	mat_eta_params_t p = defaults();
	mat_eta_trip_t t = {1, 8, 1000, 1500, 150};

	p.min_trips = 1;
	return fit(&t, 1, &p);
}

static void
test_predict_with_and_without_hint(void **state)
{
	mat_eta_t *m = one_trip_model();
	double eta = -1;
	mat_eta_hint_t slow = {5, 10}, fast = {20, 30};

	(void)state;
	/* 2 km * 1.5 / 10 m/s */
	assert_int_equal(mat_eta_predict(m, 1, 8, 2000, NULL, &eta), 0);
	assert_near(eta, 300, 1e-9);
	/* other areas and hours fall back to the same single trip */
	assert_int_equal(mat_eta_predict(m, 2, 20, 2000, NULL, &eta), 0);
	assert_near(eta, 300, 1e-9);
	assert_int_equal(mat_eta_predict(m, 1, 8, 0, NULL, &eta), 0);
	assert_true(eta == 0);

	/* 10 drivers at 5 m/s: half the weight, 3000 m * (0.5 / 10 + 0.5 / 5) */
	assert_int_equal(mat_eta_predict(m, 1, 8, 2000, &slow, &eta), 0);
	assert_near(eta, 450, 1e-9);
	/* 30 drivers at 20 m/s: three quarters, 3000 m * (0.25 / 10 + 0.75 / 20) */
	assert_int_equal(mat_eta_predict(m, 1, 8, 2000, &fast, &eta), 0);
	assert_near(eta, 187.5, 1e-9);
	/* one driver barely moves it */
	slow.samples = 1;
	assert_int_equal(mat_eta_predict(m, 1, 8, 2000, &slow, &eta), 0);
	assert_near(eta, 3000 * (10.0 / 11 / 10 + 1.0 / 11 / 5), 1e-9);
	/* a jam at 0.01 m/s counts as MAT_ETA_MIN_MPS */
	slow = (mat_eta_hint_t){0.01, 10};
	assert_int_equal(mat_eta_predict(m, 1, 8, 2000, &slow, &eta), 0);
	assert_near(eta, 3000 * (0.5 / 10 + 0.5 / MAT_ETA_MIN_MPS), 1e-6);
	/* hints without drivers or without a speed are ignored */
	slow = (mat_eta_hint_t){5, 0};
	assert_int_equal(mat_eta_predict(m, 1, 8, 2000, &slow, &eta), 0);
	assert_near(eta, 300, 1e-9);
	slow = (mat_eta_hint_t){0, 10};
	assert_int_equal(mat_eta_predict(m, 1, 8, 2000, &slow, &eta), 0);
	assert_near(eta, 300, 1e-9);
	slow = (mat_eta_hint_t){NAN, 10};
	assert_int_equal(mat_eta_predict(m, 1, 8, 2000, &slow, &eta), 0);
	assert_near(eta, 300, 1e-9);

	/* out of range: refused, eta untouched */
	eta = -1;
	assert_int_equal(mat_eta_predict(m, 1, 24, 2000, NULL, &eta), -1);
	assert_int_equal(mat_eta_predict(m, 1, -1, 2000, NULL, &eta), -1);
	assert_int_equal(mat_eta_predict(m, 1, 8, -1, NULL, &eta), -1);
	assert_int_equal(mat_eta_predict(m, 1, 8, NAN, NULL, &eta), -1);
	assert_int_equal(mat_eta_predict(m, 1, 8, INFINITY, NULL, &eta), -1);
	assert_true(eta == -1);
	mat_eta_destroy(m);
}

/* text decoded, failing the test on error. */
static mat_eta_t *
decode(const char *text)
{
	mat_eta_t *m = NULL;
	char err[256];

	if (mat_eta_decode(text, strlen(text), &m, err, sizeof(err)))
		fail_msg("decode failed: %s", err);
	return m;
}

static void
test_text_round_trip(void **state)
{
	mat_eta_params_t p = defaults();
	mat_eta_summary_t a, b;
	size_t n, len, len2;
	mat_eta_trip_t *trips = synthetic_trips(7, &n);
	mat_eta_t *m = fit(trips, n, &p), *back;
	char *text, *again, prefix[64];
	double x, y;

	(void)state;
	assert_int_equal(mat_eta_encode(m, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	snprintf(prefix, sizeof(prefix), "{\"format\":1,\"id\":\"%s\",", mat_eta_id(m));
	assert_int_equal(strncmp(text, prefix, strlen(prefix)), 0);
	print_message("%zu buckets in %zu bytes\n", (size_t)AREAS * 24 + 24, len);

	back = decode(text);
	assert_string_equal(mat_eta_id(back), mat_eta_id(m));
	assert_int_equal(mat_eta_encode(back, &again, &len2), 0);
	assert_string_equal(again, text);
	mat_eta_summarize(m, &a);
	mat_eta_summarize(back, &b);
	assert_true(a.detour == b.detour && a.speed == b.speed);
	assert_int_equal(a.trips, b.trips);
	assert_int_equal(a.detour_trips, b.detour_trips);
	assert_int_equal(a.areas, b.areas);
	for (int i = 0; i < AREAS + 1; i++)
		for (int h = 0; h < 24; h++) {
			int64_t area = i < AREAS ? areas[i] : 99;

			mat_eta_predict(m, area, h, 1234.5, NULL, &x);
			mat_eta_predict(back, area, h, 1234.5, NULL, &y);
			assert_true(x == y);
		}
	/* another model, another id */
	mat_eta_destroy(back);
	trips[0].duration_s *= 100;
	back = fit(trips, n, &p);
	assert_string_not_equal(mat_eta_id(back), mat_eta_id(m));
	mat_eta_destroy(back);
	free(again);
	free(text);
	mat_eta_destroy(m);
	free(trips);
}

static void
test_decode_accepts_any_order_and_refuses_tampering(void **state)
{
	mat_eta_params_t p = defaults();
	mat_eta_trip_t trips[] = {{5, 7, 1000, 1500, 150}, {4, 7, 1000, 1500, 100}};
	mat_eta_t *m, *back = NULL;
	char *text, *swapped, *speed, err[256];
	size_t len;
	const char *first, *second;

	(void)state;
	p.min_trips = 1;
	m = fit(trips, 2, &p);
	assert_int_equal(mat_eta_encode(m, &text, &len), 0);
	/* "areas":[[4,7,15,1],[5,7,10,1]] listed the other way round */
	first = strstr(text, "\"areas\":[[4,7,15,1],[5,7,10,1]]");
	assert_non_null(first);
	swapped = strdup(text);
	second = "\"areas\":[[5,7,10,1],[4,7,15,1]]";
	memcpy(swapped + (first - text), second, strlen(second));
	back = decode(swapped);
	assert_string_equal(mat_eta_id(back), mat_eta_id(m));
	mat_eta_destroy(back);

	/* one speed changed: the id no longer matches */
	speed = strstr(swapped, "[5,7,10,1]");
	speed[5] = '9';
	assert_int_equal(mat_eta_decode(swapped, len, &back, err, sizeof(err)), -1);
	assert_null(back);
	assert_non_null(strstr(err, "id: \""));
	assert_non_null(
	    strstr(err, "\" does not match the model, whose numbers hash to \""));
	/* listed twice */
	memcpy(swapped + (first - text), "\"areas\":[[5,7,10,1],[5,7,10,1]]",
	       strlen(second));
	assert_int_equal(mat_eta_decode(swapped, len, &back, err, sizeof(err)), -1);
	assert_string_equal(err, "areas: area 5 hour 7 is listed twice");
	free(swapped);
	free(text);
	mat_eta_destroy(m);
}

/* The error decoding text. */
static const char *
decode_error(const char *text)
{
	static char err[256];
	mat_eta_t *m = NULL;

	err[0] = '\0';
	if (mat_eta_decode(text, strlen(text), &m, err, sizeof(err)) != -1)
		fail_msg("decoded %s", text);
	return err;
}

static void
test_decode_names_the_bad_field(void **state)
{
#define HEAD "{\"format\":1,\"id\":\"0000000000000000\","
#define GOOD                                                                             \
	"\"min_trips\":30,\"min_straight_m\":100,\"hint_half\":10,\"trips\":40,"         \
	"\"skipped\":0,\"detour\":1.4,\"detour_trips\":40,\"speed\":8,"
	(void)state;
	assert_non_null(strstr(decode_error("{"), "could not parse eta model: "));
	assert_string_equal(decode_error("[]"), "eta model: must be a json object");
	assert_string_equal(decode_error("{\"format\":2}"),
			    "format: 2 is not one this build reads (1)");
	assert_string_equal(decode_error(HEAD "\"min_trips\":0}"),
			    "min_trips: must be an integer of at least 1");
	assert_string_equal(decode_error(HEAD "\"min_trips\":30}"),
			    "min_straight_m: is missing");
	assert_string_equal(
	    decode_error(HEAD "\"min_trips\":30,\"min_straight_m\":\"100\"}"),
	    "min_straight_m: must be a number of at least 0");
	assert_string_equal(decode_error(HEAD GOOD "\"hours\":{}}"),
			    "hours: must be an array");
	assert_string_equal(decode_error(HEAD GOOD "\"hours\":[]}"),
			    "areas: must be an array");
	assert_string_equal(decode_error(HEAD GOOD "\"hours\":[[24,5,40]]}"),
			    "hours[0]: hour must be from 0 to 23, got 24");
	assert_string_equal(decode_error(HEAD GOOD "\"hours\":[[7,5,40],[7,6,40]]}"),
			    "hours[1]: hour 7 is listed twice");
	assert_string_equal(decode_error(HEAD GOOD "\"hours\":[[7,5]]}"),
			    "hours[0]: must be [hour, speed, trips]");
	assert_string_equal(
	    decode_error(HEAD GOOD "\"hours\":[],\"areas\":[[1,7,500,40]]}"),
	    "areas[0]: speed must be from 0.1 to 100, got 500");
	assert_string_equal(
	    decode_error(HEAD GOOD "\"hours\":[],\"areas\":[[1,7,5,29]]}"),
	    "areas[0]: trips must be at least min_trips (30), got 29");
	assert_string_equal(
	    decode_error(HEAD GOOD "\"hours\":[],\"areas\":[[1.5,7,5,40]]}"),
	    "areas[0]: must be [area, hour, speed, trips]");
	assert_non_null(strstr(decode_error(HEAD GOOD "\"hours\":[],\"areas\":[]}"),
			       "id: \"0000000000000000\" does not match the model"));
#undef HEAD
#undef GOOD
}

static void
test_evaluate_on_held_out_trips(void **state)
{
	mat_eta_t *m;
	mat_eta_eval_t ev;
	mat_eta_params_t p = defaults();
	/* the model: 10 m/s, no detour */
	mat_eta_trip_t train = {1, 8, 1000, 1000, 100};
	/* predicted 100 s each: errors 0, 25 and 50 s, or 0%, 20% and 100% */
	mat_eta_trip_t held_out[] = {
	    {1, 8, 1000, 0, 100},
	    {1, 9, 1000, 0, 125},
	    {2, 8, 1000, 0, 50},
	    {1, 8, 1000, 0, 0}, /* unusable */
	};
	char err[256];

	(void)state;
	p.min_trips = 1;
	m = fit(&train, 1, &p);
	assert_int_equal(mat_eta_evaluate(m, held_out, 4, &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.trips, 3);
	assert_int_equal(ev.skipped, 1);
	assert_near(ev.mae_s, 25, 1e-9);
	assert_near(ev.mape, 40, 1e-9);
	assert_int_equal(mat_eta_evaluate(m, held_out + 3, 1, &ev, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "could not evaluate eta model: none of 1 trips is usable");
	mat_eta_destroy(m);
}

static void
test_held_out_error_on_synthetic_trips(void **state)
{
	mat_eta_params_t p = defaults();
	mat_eta_eval_t ev;
	size_t n_train, n_test;
	mat_eta_trip_t *train = synthetic_trips(1, &n_train);
	mat_eta_trip_t *test = synthetic_trips(2, &n_test);
	mat_eta_t *m = fit(train, n_train, &p);
	char err[256];

	(void)state;
	assert_int_equal(mat_eta_evaluate(m, test, n_test, &ev, err, sizeof(err)), 0);
	print_message("held out: %lld trips, mae %.1f s, mape %.2f%%\n",
		      (long long)ev.trips, ev.mae_s, ev.mape);
	assert_int_equal(ev.trips, (int64_t)n_test);
	/* the noise is +-10% on distance and on time: the model cannot do much
	 * better than their spread, and must not do worse */
	assert_true(ev.mape > 3 && ev.mape < 10);
	mat_eta_destroy(m);
	free(train);
	free(test);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fit_recovers_known_speeds_and_detour),
	    cmocka_unit_test(test_sparse_buckets_fall_back),
	    cmocka_unit_test(test_fit_refusals),
	    cmocka_unit_test(test_predict_with_and_without_hint),
	    cmocka_unit_test(test_text_round_trip),
	    cmocka_unit_test(test_decode_accepts_any_order_and_refuses_tampering),
	    cmocka_unit_test(test_decode_names_the_bad_field),
	    cmocka_unit_test(test_evaluate_on_held_out_trips),
	    cmocka_unit_test(test_held_out_error_on_synthetic_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
