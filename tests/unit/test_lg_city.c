#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "lg_city.h"
#include "lg_time.h"
#include "souk_event.h"

#define DRIVERS 60
#define REQUESTS 80

struct driver {
	int seen;
	souk_event_location_t last;
	int64_t last_ms;
	long ride; /* the request it accepted and has not finished, or 0 */
};

struct ride {
	int requested, started, done;
	long driver; /* the accepting driver, or 0 */
};

static struct driver drivers[DRIVERS + 1];
static struct ride rides[REQUESTS + 1];

static char *
generate(const struct lg_city_opts *o, uint64_t seed, struct lg_city_stats *stats)
{
	char *buf = NULL, err[256];
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	struct lg_out *out;
	struct lg_run run;
	int64_t start;

	assert_non_null(f);
	assert_int_equal(lg_time_parse(LG_TIME_DEFAULT_START, &start, err, sizeof(err)),
			 0);
	lg_run_init(&run, seed, start, "loadgen-test");
	out = lg_out_new_stream(f, 0, err, sizeof(err));
	assert_non_null(out);
	assert_int_equal(lg_city_run(&run, o, out, stats, err, sizeof(err)), 0);
	assert_int_equal(lg_out_finish(out, err, sizeof(err)), 0);
	lg_out_destroy(out);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static long
id_number(const char *id)
{
	return strtol(strrchr(id, '-') + 1, NULL, 10);
}

static int64_t
ts_ms(const char *ts)
{
	char err[128];
	int64_t ms;

	assert_int_equal(lg_time_parse(ts, &ms, err, sizeof(err)), 0);
	return ms;
}

/* A smaller city than the default so that drivers are scarce and rides finish.
 */
static void
small_city(struct lg_city_opts *o)
{
	lg_city_defaults(o);
	o->drivers = DRIVERS;
	o->requests = REQUESTS;
	o->box = (struct lg_geo_box){25.15, 55.20, 25.20, 55.26};
	o->duration_s = 1800;
}

/*
 * Reads the whole city in stream order: every line decodes, time never goes
 * back, drivers stay in the box and move no faster than 20 m/s between two
 * locations, a ride's events come after its request in the order accept, start,
 * complete (or a cancel before the start), no driver serves two rides at once,
 * and a driver shows busy while it serves one.
 */
static void
test_city_is_plausible(void **state)
{
	struct lg_city_opts o;
	struct lg_city_stats st;
	char *buf, *save = NULL;
	int64_t prev = 0;
	long counts[SOUK_EVENT_TYPE_COUNT] = {0}, actions[5] = {0};

	(void)state;
	small_city(&o);
	buf = generate(&o, 3, &st);
	memset(drivers, 0, sizeof(drivers));
	memset(rides, 0, sizeof(rides));
	for (char *l = strtok_r(buf, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		souk_event_t ev;
		souk_event_error_t err;
		int64_t t;

		if (souk_event_decode(l, strlen(l), &ev, &err) != SOUK_EVENT_OK)
			fail_msg("%s: %s", l, err.message);
		t = ts_ms(ev.ts);
		assert_true(t >= prev);
		prev = t;
		counts[ev.type]++;
		if (ev.type == SOUK_EVENT_TYPE_LOCATION) {
			const souk_event_location_t *loc = &ev.location;
			struct driver *d = &drivers[id_number(loc->driver_id)];
			struct lg_geo_point p = {loc->lat, loc->lng};

			assert_true(lg_geo_box_contains(&o.box, p));
			assert_true(loc->speed_mps >= 0 && loc->speed_mps <= 20);
			if (d->seen) {
				struct lg_geo_point q = {d->last.lat, d->last.lng};
				double dt = (double)(t - d->last_ms) / 1000;

				assert_true(lg_geo_distance_m(p, q) <= 20 * dt + 1);
			}
			assert_int_equal(loc->status == SOUK_EVENT_DRIVER_BUSY,
					 d->ride != 0);
			d->seen = 1;
			d->last = *loc;
			d->last_ms = t;
		} else if (ev.type == SOUK_EVENT_TYPE_RIDE_REQUEST) {
			const souk_event_ride_request_t *rq = &ev.ride_request;
			struct lg_geo_point a = {rq->pickup.lat, rq->pickup.lng};
			struct lg_geo_point b = {rq->dropoff.lat, rq->dropoff.lng};
			double m = lg_geo_distance_m(a, b);

			assert_true(lg_geo_box_contains(&o.box, a));
			assert_true(lg_geo_box_contains(&o.box, b));
			assert_true(m >= 999 && m <= 15001);
			rides[id_number(rq->request_id)].requested = 1;
		} else {
			const souk_event_ride_event_t *re = &ev.ride_event;
			long r = id_number(re->request_id);
			long d = re->driver_id[0] ? id_number(re->driver_id) : 0;
			struct ride *ride = &rides[r];

			assert_int_equal(ev.type, SOUK_EVENT_TYPE_RIDE_EVENT);
			assert_true(ride->requested && !ride->done);
			actions[re->action]++;
			switch (re->action) {
			case SOUK_EVENT_RIDE_ACCEPT:
				assert_int_equal(ride->driver, 0);
				assert_int_equal(drivers[d].ride, 0);
				ride->driver = d;
				drivers[d].ride = r;
				break;
			case SOUK_EVENT_RIDE_DECLINE:
				assert_int_equal(ride->driver, 0);
				break;
			case SOUK_EVENT_RIDE_START:
				assert_true(ride->driver == d && !ride->started);
				ride->started = 1;
				break;
			case SOUK_EVENT_RIDE_COMPLETE:
				assert_true(ride->driver == d && ride->started);
				ride->done = 1;
				drivers[d].ride = 0;
				break;
			case SOUK_EVENT_RIDE_CANCEL:
				assert_false(ride->started);
				assert_int_equal(ride->driver, d);
				ride->done = 1;
				if (d != 0)
					drivers[d].ride = 0;
				break;
			}
		}
	}
	assert_int_equal(counts[SOUK_EVENT_TYPE_RIDE_REQUEST], REQUESTS);
	assert_int_equal(st.requests, REQUESTS);
	assert_int_equal(counts[SOUK_EVENT_TYPE_LOCATION], st.locations);
	assert_int_equal(actions[SOUK_EVENT_RIDE_ACCEPT], st.accepts);
	assert_int_equal(actions[SOUK_EVENT_RIDE_DECLINE], st.declines);
	assert_int_equal(actions[SOUK_EVENT_RIDE_START], st.starts);
	assert_int_equal(actions[SOUK_EVENT_RIDE_COMPLETE], st.completes);
	assert_int_equal(actions[SOUK_EVENT_RIDE_CANCEL], st.cancels);
	/* Half an hour in a 5 km town: some of every kind. */
	for (int a = 0; a < 5; a++)
		assert_true(actions[a] > 0);
	/* Every driver online at some point reported about every 5 s. */
	assert_in_range(st.locations, DRIVERS * 1800 / 5 * 8 / 10, DRIVERS * 1800 / 5);
	free(buf);
}

/* The accepting driver is the nearest available one, by its last location. */
static void
test_accepting_driver_is_the_nearest_available(void **state)
{
	struct lg_city_opts o;
	struct lg_city_stats st;
	char *buf, *save = NULL;
	struct lg_geo_point pickup[REQUESTS + 1];
	long declined[REQUESTS + 1] = {0}, checked = 0;

	(void)state;
	small_city(&o);
	buf = generate(&o, 4, &st);
	memset(drivers, 0, sizeof(drivers));
	for (char *l = strtok_r(buf, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		souk_event_t ev;
		souk_event_error_t err;
		long r, d;

		assert_int_equal(souk_event_decode(l, strlen(l), &ev, &err),
				 SOUK_EVENT_OK);
		if (ev.type == SOUK_EVENT_TYPE_LOCATION) {
			drivers[id_number(ev.location.driver_id)].last = ev.location;
			drivers[id_number(ev.location.driver_id)].seen = 1;
			continue;
		}
		if (ev.type == SOUK_EVENT_TYPE_RIDE_REQUEST) {
			r = id_number(ev.ride_request.request_id);
			pickup[r] = (struct lg_geo_point){ev.ride_request.pickup.lat,
							  ev.ride_request.pickup.lng};
			continue;
		}
		r = id_number(ev.ride_event.request_id);
		d = ev.ride_event.driver_id[0] ? id_number(ev.ride_event.driver_id) : 0;
		if (ev.ride_event.action == SOUK_EVENT_RIDE_DECLINE)
			declined[r] = d;
		if (ev.ride_event.action == SOUK_EVENT_RIDE_ACCEPT ||
		    ev.ride_event.action == SOUK_EVENT_RIDE_DECLINE) {
			struct lg_geo_point me = {drivers[d].last.lat,
						  drivers[d].last.lng};
			double mine = lg_geo_distance_m(me, pickup[r]);

			for (long k = 1; k <= DRIVERS; k++) {
				struct lg_geo_point p = {drivers[k].last.lat,
							 drivers[k].last.lng};

				if (k == d || k == declined[r] || !drivers[k].seen ||
				    drivers[k].ride != 0 ||
				    drivers[k].last.status != SOUK_EVENT_DRIVER_AVAILABLE)
					continue;
				/* Locations are rounded to 1e-6 degrees: 10 cm of slack.
				 */
				assert_true(mine <=
					    lg_geo_distance_m(p, pickup[r]) + 0.5);
			}
			checked++;
		}
		if (ev.ride_event.action == SOUK_EVENT_RIDE_ACCEPT)
			drivers[d].ride = r;
		if (ev.ride_event.action == SOUK_EVENT_RIDE_COMPLETE ||
		    ev.ride_event.action == SOUK_EVENT_RIDE_CANCEL)
			drivers[d].ride = 0;
	}
	assert_true(checked > 10);
	free(buf);
}

static void
test_bad_box_is_refused(void **state)
{
	struct lg_city_opts o;
	struct lg_city_stats st;
	struct lg_run run;
	char err[256];
	struct lg_out *out = lg_out_new_stream(stdout, 0, err, sizeof(err));

	(void)state;
	small_city(&o);
	o.box = (struct lg_geo_box){25.15, 55.20, 25.16, 55.26}; /* 1.1 km north-south */
	lg_run_init(&run, 1, 0, "loadgen-test");
	assert_int_equal(lg_city_run(&run, &o, out, &st, err, sizeof(err)), -1);
	assert_string_equal(err, "bbox must span at least 2 km each way");
	lg_out_destroy(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_city_is_plausible),
	    cmocka_unit_test(test_accepting_driver_is_the_nearest_available),
	    cmocka_unit_test(test_bad_box_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
