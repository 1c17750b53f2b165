/*
 * lg_city: a ride-hailing city inside a bounding box, simulated for a fixed span.
 *
 * Drivers d-<tag>-<n> start at random places; every tick each online driver moves
 * (lg_geo_walk: smooth turns, 0-20 m/s, never out of the box) and sends a location
 * with its status. An available driver goes offline now and then (one chance in 500
 * a tick) for 1-5 minutes; one in twenty starts offline and logs on at a random
 * moment. Location updates are staggered over the tick, not all on the same instant.
 *
 * Ride requests r-<tag>-<n> (rider rider-<tag>-<n>) arrive uniformly over the span,
 * pickup and drop-off inside the box and 1-15 km apart. For 85 % of them, 2-15 s
 * later, the nearest available driver (if any) answers: once in seven it declines
 * and the next nearest answers 3-10 s later; the driver who accepts turns busy,
 * drives to the pickup (the trip starts when it gets there), then to the drop-off
 * (the trip completes) and is available again. One rider in ten cancels 20-120 s
 * after the accept if the trip has not started; half of the requests nobody
 * answers are cancelled 1-3 minutes later. The span ends whatever is under way.
 *
 * Events come out in timestamp order: location, ride_request, ride_event.
 */
#ifndef LG_CITY_H
#define LG_CITY_H

#include <stddef.h>

#include "lg_geo.h"
#include "lg_out.h"
#include "lg_run.h"

struct lg_city_opts {
	long long drivers;     /* >= 0 */
	long long requests;    /* >= 0 */
	struct lg_geo_box box; /* at least 2 km each way */
	long long duration_s;  /* >= 1 */
	long long tick_s;      /* >= 1, seconds between a driver's locations */
};

/* What was written; stops with the output when it fills up. */
struct lg_city_stats {
	long long locations;
	long long requests;
	long long accepts, declines, starts, completes, cancels;
};

/* 1000 drivers, 200 requests over 600 s, a tick of 5 s, a box around Dubai. */
void lg_city_defaults(struct lg_city_opts *opts);

/* Writes the simulation to out until the span ends or out is full. Time O(events +
 * answered requests * drivers) (the nearest driver is found by brute force); memory
 * O(drivers + requests). Returns 0, or -1 with errstr filled. */
int lg_city_run(const struct lg_run *run, const struct lg_city_opts *opts,
		struct lg_out *out, struct lg_city_stats *stats, char *errstr,
		size_t errstr_size);

#endif
