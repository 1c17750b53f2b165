#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

/* cmocka 1.1.5 compares floats only in single precision. */
#define assert_near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

#include "lg_geo.h"

static const struct lg_geo_box dubai = {25.05, 55.10, 25.35, 55.45};

static void
test_box_parse(void **state)
{
	struct lg_geo_box b;
	char err[160];

	(void)state;
	/* Corners in any order. */
	assert_int_equal(
	    lg_geo_box_parse("25.35,55.45,25.05,55.10", &b, err, sizeof(err)), 0);
	assert_true(b.lat_min == 25.05 && b.lat_max == 25.35);
	assert_true(b.lng_min == 55.10 && b.lng_max == 55.45);
	assert_int_equal(lg_geo_box_parse("25.05,55.10,25.35", &b, err, sizeof(err)), -1);
	assert_string_equal(err, "could not parse bbox \"25.05,55.10,25.35\": expected "
				 "lat1,lng1,lat2,lng2");
	assert_int_equal(lg_geo_box_parse("1,2,3,x", &b, err, sizeof(err)), -1);
	assert_int_equal(lg_geo_box_parse("95,2,3,4", &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "latitudes must lie in [-85, 85]"));
	assert_int_equal(lg_geo_box_parse("1,2,1,4", &b, err, sizeof(err)), -1);
	assert_string_equal(err, "bbox \"1,2,1,4\" is empty");
}

/* Known distance: one degree of latitude is about 111.19 km on the mean sphere.
 */
static void
test_distance_and_move(void **state)
{
	struct lg_geo_point a = {25.0, 55.0}, b = {26.0, 55.0}, c;

	(void)state;
	assert_near(lg_geo_distance_m(a, b), 111195, 5);
	assert_near(lg_geo_bearing(a, b), 0, 1e-9);
	assert_near(lg_geo_bearing(b, a), 180, 1e-9);
	c = lg_geo_move(a, 90, 1000);
	assert_near(lg_geo_distance_m(a, c), 1000, 1);
	assert_near(lg_geo_bearing(a, c), 90, 0.01);
}

/* Hundreds of drivers wandering for hours, some at full speed with a 60 s tick
 * in a box of 2 km: not one step outside the box, the speed always within 0..20
 * m/s. */
static void
test_walk_never_leaves_the_box(void **state)
{
	const struct lg_geo_box small = {25.20, 55.20, 25.22, 55.22};
	struct lg_rand r;

	(void)state;
	lg_rand_seed(&r, 5, 0);
	for (int d = 0; d < 300; d++) {
		const struct lg_geo_box *box = d % 2 ? &small : &dubai;
		double dt = d % 3 == 0 ? 60 : 5;
		struct lg_geo_walker w = {lg_geo_random_point(box, &r),
					  lg_rand_range(&r, 0, 360), LG_GEO_MAX_SPEED};

		for (int i = 0; i < 2000; i++) {
			lg_geo_walk(&w, box, dt, NULL, &r);
			assert_true(lg_geo_box_contains(box, w.pos));
			assert_true(w.speed >= 0 && w.speed <= LG_GEO_MAX_SPEED);
			assert_true(w.heading >= 0 && w.heading < 360);
		}
	}
}

/* Within 0.002 degrees (about 200 m) of an edge of b. */
static int
near_edge(const struct lg_geo_box *b, struct lg_geo_point p)
{
	return p.lat - b->lat_min < 0.002 || b->lat_max - p.lat < 0.002 ||
	       p.lng - b->lng_min < 0.002 || b->lng_max - p.lng < 0.002;
}

/* In a city-sized box with a 5 s tick a car turns gently: a turn of more than
 * 60 degrees happens only where it bounces off an edge. */
static void
test_walk_turns_smoothly(void **state)
{
	struct lg_rand r;
	long bounces = 0;

	(void)state;
	lg_rand_seed(&r, 7, 0);
	for (int d = 0; d < 100; d++) {
		struct lg_geo_walker w = {lg_geo_random_point(&dubai, &r),
					  lg_rand_range(&r, 0, 360), 10};

		for (int i = 0; i < 1000; i++) {
			struct lg_geo_walker before = w;

			lg_geo_walk(&w, &dubai, 5, NULL, &r);
			if (fabs(fmod(w.heading - before.heading + 540, 360) - 180) >
			    60) {
				assert_true(near_edge(&dubai, before.pos));
				bounces++;
			}
		}
	}
	/* 100 cars driving some 60 km each in a box of about 33 km: they do meet
	 * the edges, and turn back. */
	assert_true(bounces > 0);
}

static void
test_walk_reaches_its_target(void **state)
{
	struct lg_geo_point target = {25.30, 55.40};
	struct lg_geo_walker w = {{25.10, 55.15}, 0, 10};
	struct lg_rand r;
	int steps = 0;

	(void)state;
	lg_rand_seed(&r, 6, 0);
	/* About 36 km at about 12 m/s and 5 s a step: some 600 steps. */
	while ((w.pos.lat != target.lat || w.pos.lng != target.lng) && steps < 2000) {
		lg_geo_walk(&w, &dubai, 5, &target, &r);
		assert_true(lg_geo_box_contains(&dubai, w.pos));
		steps++;
	}
	assert_true(steps < 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_box_parse),
	    cmocka_unit_test(test_distance_and_move),
	    cmocka_unit_test(test_walk_never_leaves_the_box),
	    cmocka_unit_test(test_walk_turns_smoothly),
	    cmocka_unit_test(test_walk_reaches_its_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
