#include "lg_city.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg_heap.h"

#define LG_CITY_MIN_SIDE_M 2000.0 /* so that 1 km rides fit with room to spare */
#define LG_CITY_RIDE_MIN_M 1000.0
#define LG_CITY_RIDE_MAX_M 15000.0
#define LG_CITY_RIDE_TRIES 100000 /* draws before a box is declared too odd */

enum {
	LG_CITY_STREAM_IDS = 1,	 /* event ids */
	LG_CITY_STREAM_DRIVERS,	 /* starting places and states */
	LG_CITY_STREAM_MOVES,	 /* driving and going offline */
	LG_CITY_STREAM_REQUESTS, /* request times and places */
	LG_CITY_STREAM_RIDES,	 /* who answers, declines and cancels, and when */
};

enum lg_city_kind {
	LG_CITY_TICK,	 /* a driver moves and reports */
	LG_CITY_REQUEST, /* a rider asks */
	LG_CITY_RESPOND, /* the nearest driver answers */
	LG_CITY_CANCEL,	 /* the rider gives up */
};

struct lg_city_item {
	struct lg_heap_key key;
	enum lg_city_kind kind;
	size_t index; /* a driver for TICK, a request otherwise */
};

struct lg_city_driver {
	struct lg_geo_walker w;
	souk_event_driver_status_t status;
	size_t ride;	/* the request it serves when busy */
	int to_dropoff; /* busy: 0 on the way to the pickup, 1 on the trip */
};

enum lg_city_ride_state {
	LG_CITY_WAITING,  /* no driver yet */
	LG_CITY_ASSIGNED, /* a driver is on the way */
	LG_CITY_ON_TRIP,
	LG_CITY_DONE, /* completed or cancelled */
};

struct lg_city_request {
	struct lg_geo_point pickup, dropoff;
	enum lg_city_ride_state state;
	size_t driver;	    /* when assigned or on the trip */
	long long declined; /* the driver who declined, -1 for none */
};

struct lg_city {
	const struct lg_run *run;
	const struct lg_city_opts *opts;
	struct lg_out *out;
	struct lg_city_stats *stats;
	struct lg_heap *agenda;
	struct lg_rand ids, moves, rides;
	struct lg_city_driver *drivers;
	struct lg_city_request *requests;
};

void
lg_city_defaults(struct lg_city_opts *opts)
{
	opts->drivers = 1000;
	opts->requests = 200;
	opts->box = (struct lg_geo_box){25.05, 55.10, 25.35, 55.45};
	opts->duration_s = 600;
	opts->tick_s = 5;
}

/* x rounded to 1/scale (scale a power of ten): dividing by the exact scale gives
 * the double nearest the decimal, which the encoder prints in its short form. */
static double
lg_city_round(double x, double scale)
{
	return round(x * scale) / scale;
}

/* Returns LG_OUT_OK, or LG_OUT_ERROR with errstr filled when out of memory. */
static int
lg_city_schedule(struct lg_city *c, int64_t t_ms, enum lg_city_kind kind, size_t index,
		 char *errstr, size_t errstr_size)
{
	struct lg_city_item item = {.key.t_ms = t_ms, .kind = kind, .index = index};

	if (lg_heap_push(c->agenda, &item) != 0) {
		snprintf(errstr, errstr_size, "could not allocate the city agenda");
		return LG_OUT_ERROR;
	}
	return LG_OUT_OK;
}

static int
lg_city_location(struct lg_city *c, size_t d, int64_t t_ms, char *errstr,
		 size_t errstr_size)
{
	const struct lg_city_driver *drv = &c->drivers[d];
	souk_event_t ev;
	int rc;

	lg_run_event(c->run, &ev, SOUK_EVENT_TYPE_LOCATION, t_ms, NULL, &c->ids);
	snprintf(ev.location.driver_id, sizeof(ev.location.driver_id), "d-%s-%zu",
		 c->run->tag, d + 1);
	/* 1e-6 degrees is about 10 cm: plenty, and short lines. */
	ev.location.lat = lg_city_round(drv->w.pos.lat, 1e6);
	ev.location.lng = lg_city_round(drv->w.pos.lng, 1e6);
	ev.location.speed_mps = drv->status == SOUK_EVENT_DRIVER_OFFLINE
				    ? 0
				    : lg_city_round(drv->w.speed, 10);
	ev.location.has_heading = true;
	ev.location.heading = lg_city_round(drv->w.heading, 10);
	ev.location.status = drv->status;
	rc = lg_out_event(c->out, &ev, errstr, errstr_size);
	c->stats->locations += rc == LG_OUT_OK;
	return rc;
}

/* driver is ignored for a cancel without one (pass SIZE_MAX). */
static int
lg_city_ride_event(struct lg_city *c, size_t r, souk_event_ride_action_t action,
		   size_t driver, int64_t t_ms, char *errstr, size_t errstr_size)
{
	souk_event_t ev;
	int rc;

	lg_run_event(c->run, &ev, SOUK_EVENT_TYPE_RIDE_EVENT, t_ms, NULL, &c->ids);
	snprintf(ev.ride_event.request_id, sizeof(ev.ride_event.request_id), "r-%s-%zu",
		 c->run->tag, r + 1);
	ev.ride_event.action = action;
	if (driver != SIZE_MAX)
		snprintf(ev.ride_event.driver_id, sizeof(ev.ride_event.driver_id),
			 "d-%s-%zu", c->run->tag, driver + 1);
	rc = lg_out_event(c->out, &ev, errstr, errstr_size);
	if (rc != LG_OUT_OK)
		return rc;
	switch (action) {
	case SOUK_EVENT_RIDE_ACCEPT:
		c->stats->accepts++;
		break;
	case SOUK_EVENT_RIDE_DECLINE:
		c->stats->declines++;
		break;
	case SOUK_EVENT_RIDE_START:
		c->stats->starts++;
		break;
	case SOUK_EVENT_RIDE_COMPLETE:
		c->stats->completes++;
		break;
	case SOUK_EVENT_RIDE_CANCEL:
		c->stats->cancels++;
		break;
	}
	return LG_OUT_OK;
}

static int
lg_city_tick(struct lg_city *c, size_t d, int64_t t_ms, char *errstr, size_t errstr_size)
{
	struct lg_city_driver *drv = &c->drivers[d];
	struct lg_city_request *req =
	    drv->status == SOUK_EVENT_DRIVER_BUSY ? &c->requests[drv->ride] : NULL;
	const struct lg_geo_point *target = req == NULL	      ? NULL
					    : drv->to_dropoff ? &req->dropoff
							      : &req->pickup;
	int64_t next = t_ms + c->opts->tick_s * 1000;
	int rc;

	if (drv->status == SOUK_EVENT_DRIVER_OFFLINE) {
		drv->status = SOUK_EVENT_DRIVER_AVAILABLE; /* back from a break */
	} else {
		lg_geo_walk(&drv->w, &c->opts->box, (double)c->opts->tick_s, target,
			    &c->moves);
		if (drv->status == SOUK_EVENT_DRIVER_AVAILABLE &&
		    lg_rand_chance(&c->moves, 1.0 / 500)) {
			drv->status = SOUK_EVENT_DRIVER_OFFLINE;
			next = t_ms + lg_rand_between(&c->moves, 60, 300) * 1000;
		}
	}
	rc = lg_city_location(c, d, t_ms, errstr, errstr_size);
	if (rc == LG_OUT_OK && target != NULL && drv->w.pos.lat == target->lat &&
	    drv->w.pos.lng == target->lng) {
		if (!drv->to_dropoff) {
			drv->to_dropoff = 1;
			req->state = LG_CITY_ON_TRIP;
			rc = lg_city_ride_event(c, drv->ride, SOUK_EVENT_RIDE_START, d,
						t_ms, errstr, errstr_size);
		} else {
			drv->status = SOUK_EVENT_DRIVER_AVAILABLE;
			req->state = LG_CITY_DONE;
			rc = lg_city_ride_event(c, drv->ride, SOUK_EVENT_RIDE_COMPLETE, d,
						t_ms, errstr, errstr_size);
		}
	}
	if (rc == LG_OUT_OK)
		rc = lg_city_schedule(c, next, LG_CITY_TICK, d, errstr, errstr_size);
	return rc;
}

/* The available driver nearest to p, skipping one; SIZE_MAX if none. O(drivers). */
static size_t
lg_city_nearest(const struct lg_city *c, struct lg_geo_point p, long long skip)
{
	size_t best = SIZE_MAX;
	double best_m = INFINITY;

	for (size_t d = 0; d < (size_t)c->opts->drivers; d++) {
		double m;

		if (c->drivers[d].status != SOUK_EVENT_DRIVER_AVAILABLE ||
		    (long long)d == skip)
			continue;
		m = lg_geo_distance_m(c->drivers[d].w.pos, p);
		if (m < best_m) {
			best_m = m;
			best = d;
		}
	}
	return best;
}

static int
lg_city_request(struct lg_city *c, size_t r, int64_t t_ms, char *errstr,
		size_t errstr_size)
{
	const struct lg_city_request *req = &c->requests[r];
	souk_event_t ev;
	int rc;

	lg_run_event(c->run, &ev, SOUK_EVENT_TYPE_RIDE_REQUEST, t_ms, NULL, &c->ids);
	snprintf(ev.ride_request.request_id, sizeof(ev.ride_request.request_id),
		 "r-%s-%zu", c->run->tag, r + 1);
	snprintf(ev.ride_request.rider_id, sizeof(ev.ride_request.rider_id),
		 "rider-%s-%zu", c->run->tag, r + 1);
	ev.ride_request.pickup.lat = req->pickup.lat;
	ev.ride_request.pickup.lng = req->pickup.lng;
	ev.ride_request.dropoff.lat = req->dropoff.lat;
	ev.ride_request.dropoff.lng = req->dropoff.lng;
	rc = lg_out_event(c->out, &ev, errstr, errstr_size);
	if (rc != LG_OUT_OK)
		return rc;
	c->stats->requests++;
	if (lg_rand_chance(&c->rides, 0.85))
		rc = lg_city_schedule(c, t_ms + lg_rand_between(&c->rides, 2000, 15000),
				      LG_CITY_RESPOND, r, errstr, errstr_size);
	else if (lg_rand_chance(&c->rides, 0.5))
		rc = lg_city_schedule(c, t_ms + lg_rand_between(&c->rides, 60000, 180000),
				      LG_CITY_CANCEL, r, errstr, errstr_size);
	return rc;
}

static int
lg_city_respond(struct lg_city *c, size_t r, int64_t t_ms, char *errstr,
		size_t errstr_size)
{
	struct lg_city_request *req = &c->requests[r];
	size_t d;
	int rc;

	if (req->state != LG_CITY_WAITING)
		return LG_OUT_OK; /* cancelled meanwhile */
	d = lg_city_nearest(c, req->pickup, req->declined);
	if (d == SIZE_MAX)
		return LG_OUT_OK; /* nobody free: the request waits in vain */
	if (req->declined < 0 && lg_rand_chance(&c->rides, 1.0 / 7)) {
		req->declined = (long long)d;
		rc = lg_city_ride_event(c, r, SOUK_EVENT_RIDE_DECLINE, d, t_ms, errstr,
					errstr_size);
		if (rc == LG_OUT_OK)
			rc = lg_city_schedule(
			    c, t_ms + lg_rand_between(&c->rides, 3000, 10000),
			    LG_CITY_RESPOND, r, errstr, errstr_size);
		return rc;
	}
	rc = lg_city_ride_event(c, r, SOUK_EVENT_RIDE_ACCEPT, d, t_ms, errstr,
				errstr_size);
	if (rc != LG_OUT_OK)
		return rc;
	req->state = LG_CITY_ASSIGNED;
	req->driver = d;
	c->drivers[d].status = SOUK_EVENT_DRIVER_BUSY;
	c->drivers[d].ride = r;
	c->drivers[d].to_dropoff = 0;
	if (lg_rand_chance(&c->rides, 0.1))
		rc = lg_city_schedule(c, t_ms + lg_rand_between(&c->rides, 20000, 120000),
				      LG_CITY_CANCEL, r, errstr, errstr_size);
	return rc;
}

static int
lg_city_cancel(struct lg_city *c, size_t r, int64_t t_ms, char *errstr,
	       size_t errstr_size)
{
	struct lg_city_request *req = &c->requests[r];
	size_t d = req->state == LG_CITY_ASSIGNED ? req->driver : SIZE_MAX;
	int rc;

	if (req->state != LG_CITY_WAITING && req->state != LG_CITY_ASSIGNED)
		return LG_OUT_OK; /* too late: the trip has started */
	rc = lg_city_ride_event(c, r, SOUK_EVENT_RIDE_CANCEL, d, t_ms, errstr,
				errstr_size);
	if (rc != LG_OUT_OK)
		return rc;
	req->state = LG_CITY_DONE;
	if (d != SIZE_MAX)
		c->drivers[d].status = SOUK_EVENT_DRIVER_AVAILABLE;
	return LG_OUT_OK;
}

static int
lg_city_cmp_ms(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Places the drivers and puts their first ticks on the agenda. Returns LG_OUT_OK,
 * or LG_OUT_ERROR with errstr filled. */
static int
lg_city_place_drivers(struct lg_city *c, char *errstr, size_t errstr_size)
{
	const struct lg_city_opts *o = c->opts;
	struct lg_rand r;

	lg_rand_seed(&r, c->run->seed, LG_CITY_STREAM_DRIVERS);
	for (size_t d = 0; d < (size_t)o->drivers; d++) {
		struct lg_city_driver *drv = &c->drivers[d];
		int64_t first;

		drv->w.pos = lg_geo_random_point(&o->box, &r);
		drv->w.heading = lg_rand_range(&r, 0, 360);
		drv->w.speed = lg_rand_range(&r, 0, 15);
		if (lg_rand_chance(&r, 0.05)) {
			drv->status = SOUK_EVENT_DRIVER_OFFLINE;
			first =
			    (int64_t)lg_rand_below(&r, (uint64_t)o->duration_s * 1000);
		} else {
			drv->status = SOUK_EVENT_DRIVER_AVAILABLE;
			first = (int64_t)lg_rand_below(&r, (uint64_t)o->tick_s * 1000);
		}
		if (lg_city_schedule(c, c->run->start_ms + first, LG_CITY_TICK, d, errstr,
				     errstr_size) != LG_OUT_OK)
			return LG_OUT_ERROR;
	}
	return LG_OUT_OK;
}

/* Draws the requests (times sorted, so numbers follow time) and puts them on the
 * agenda. Returns 0, or -1 with errstr filled. */
static int
lg_city_place_requests(struct lg_city *c, char *errstr, size_t errstr_size)
{
	const struct lg_city_opts *o = c->opts;
	size_t n = (size_t)o->requests;
	double diagonal =
	    hypot(lg_geo_box_height_m(&o->box), lg_geo_box_width_m(&o->box));
	double longest = fmin(LG_CITY_RIDE_MAX_M, diagonal);
	int64_t *times = malloc((n ? n : 1) * sizeof(*times));
	struct lg_rand r;
	int ret = -1;

	if (times == NULL) {
		snprintf(errstr, errstr_size, "could not allocate %zu requests", n);
		goto out;
	}
	lg_rand_seed(&r, c->run->seed, LG_CITY_STREAM_REQUESTS);
	for (size_t i = 0; i < n; i++)
		times[i] = (int64_t)lg_rand_below(&r, (uint64_t)o->duration_s * 1000);
	qsort(times, n, sizeof(*times), lg_city_cmp_ms);
	for (size_t i = 0; i < n; i++) {
		struct lg_city_request *req = &c->requests[i];
		int tries = 0;

		/* Rejection: a ride of uniform length and direction that ends inside
		 * the box. In a box of 2 km a side about one draw in ten fits. */
		do {
			if (++tries > LG_CITY_RIDE_TRIES) {
				snprintf(errstr, errstr_size,
					 "could not fit a ride of 1-15 km in the bbox");
				goto out;
			}
			req->pickup = lg_geo_random_point(&o->box, &r);
			req->dropoff =
			    lg_geo_move(req->pickup, lg_rand_range(&r, 0, 360),
					lg_rand_range(&r, LG_CITY_RIDE_MIN_M, longest));
		} while (!lg_geo_box_contains(&o->box, req->dropoff));
		req->pickup.lat = lg_city_round(req->pickup.lat, 1e6);
		req->pickup.lng = lg_city_round(req->pickup.lng, 1e6);
		req->dropoff.lat = lg_city_round(req->dropoff.lat, 1e6);
		req->dropoff.lng = lg_city_round(req->dropoff.lng, 1e6);
		req->state = LG_CITY_WAITING;
		req->declined = -1;
		if (lg_city_schedule(c, c->run->start_ms + times[i], LG_CITY_REQUEST, i,
				     errstr, errstr_size) != LG_OUT_OK)
			goto out;
	}
	ret = 0;
out:
	free(times);
	return ret;
}

int
lg_city_run(const struct lg_run *run, const struct lg_city_opts *opts, struct lg_out *out,
	    struct lg_city_stats *stats, char *errstr, size_t errstr_size)
{
	struct lg_city c = {.run = run, .opts = opts, .out = out, .stats = stats};
	int64_t end_ms = run->start_ms + opts->duration_s * 1000;
	struct lg_city_item item;
	int ret = -1, rc = LG_OUT_OK;

	memset(stats, 0, sizeof(*stats));
	if (lg_geo_box_height_m(&opts->box) < LG_CITY_MIN_SIDE_M ||
	    lg_geo_box_width_m(&opts->box) < LG_CITY_MIN_SIDE_M) {
		snprintf(errstr, errstr_size, "bbox must span at least %.0f km each way",
			 LG_CITY_MIN_SIDE_M / 1000);
		goto out;
	}
	c.agenda = lg_heap_new(sizeof(struct lg_city_item), errstr, errstr_size);
	if (c.agenda == NULL)
		goto out;
	c.drivers = calloc((size_t)opts->drivers + 1, sizeof(*c.drivers));
	c.requests = calloc((size_t)opts->requests + 1, sizeof(*c.requests));
	if (c.drivers == NULL || c.requests == NULL) {
		snprintf(errstr, errstr_size,
			 "could not allocate %lld drivers and %lld requests",
			 opts->drivers, opts->requests);
		goto out;
	}
	if (lg_city_place_drivers(&c, errstr, errstr_size) != LG_OUT_OK ||
	    lg_city_place_requests(&c, errstr, errstr_size) != 0)
		goto out;
	lg_rand_seed(&c.ids, run->seed, LG_CITY_STREAM_IDS);
	lg_rand_seed(&c.moves, run->seed, LG_CITY_STREAM_MOVES);
	lg_rand_seed(&c.rides, run->seed, LG_CITY_STREAM_RIDES);
	while (rc == LG_OUT_OK && lg_heap_pop(c.agenda, &item) &&
	       item.key.t_ms < end_ms) {
		switch (item.kind) {
		case LG_CITY_TICK:
			rc = lg_city_tick(&c, item.index, item.key.t_ms, errstr,
					  errstr_size);
			break;
		case LG_CITY_REQUEST:
			rc = lg_city_request(&c, item.index, item.key.t_ms, errstr,
					     errstr_size);
			break;
		case LG_CITY_RESPOND:
			rc = lg_city_respond(&c, item.index, item.key.t_ms, errstr,
					     errstr_size);
			break;
		case LG_CITY_CANCEL:
			rc = lg_city_cancel(&c, item.index, item.key.t_ms, errstr,
					    errstr_size);
			break;
		}
	}
	if (rc == LG_OUT_ERROR)
		goto out;
	ret = 0;
out:
	lg_heap_destroy(c.agenda);
	free(c.drivers);
	free(c.requests);
	return ret;
}
