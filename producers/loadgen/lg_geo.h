/*
 * lg_geo: points, a bounding box and the walk of a vehicle inside it.
 *
 * Distances are in metres on a sphere of radius 6,371,008.8 m (the mean Earth
 * radius); headings are degrees clockwise from north in [0, 360). Steps are short
 * (tens of metres), so moving uses the local flat approximation; distances between
 * arbitrary points use haversine. A box may not cross the antimeridian or a pole.
 */
#ifndef LG_GEO_H
#define LG_GEO_H

#include <stddef.h>

#include "lg_rand.h"

struct lg_geo_point {
	double lat;
	double lng;
};

struct lg_geo_box {
	double lat_min, lng_min, lat_max, lng_max;
};

/* A vehicle: where it is, where it points and how fast it goes (0..20 m/s). */
struct lg_geo_walker {
	struct lg_geo_point pos;
	double heading;
	double speed;
};

#define LG_GEO_MAX_SPEED 20.0

/* Parses "lat1,lng1,lat2,lng2" (two opposite corners, in any order) into box.
 * Returns 0, or -1 with errstr naming what is wrong. */
int lg_geo_box_parse(const char *text, struct lg_geo_box *box, char *errstr,
		     size_t errstr_size);

int lg_geo_box_contains(const struct lg_geo_box *box, struct lg_geo_point p);

/* The box's height (north-south) and width (east-west, at its middle latitude). */
double lg_geo_box_height_m(const struct lg_geo_box *box);
double lg_geo_box_width_m(const struct lg_geo_box *box);

/* A point uniform in latitude and longitude inside the box; two draws of r. */
struct lg_geo_point lg_geo_random_point(const struct lg_geo_box *box, struct lg_rand *r);

/* Great-circle distance between a and b (haversine). */
double lg_geo_distance_m(struct lg_geo_point a, struct lg_geo_point b);

/* Initial bearing from a to b, in [0, 360). */
double lg_geo_bearing(struct lg_geo_point a, struct lg_geo_point b);

/* The point dist_m away from p along heading (flat approximation: metres). */
struct lg_geo_point lg_geo_move(struct lg_geo_point p, double heading, double dist_m);

/*
 * Advances w by dt_s seconds. Without a target it wanders: heading and speed drift
 * by small normal steps (a car does not turn 180 degrees in five seconds). With a
 * target it turns towards it (at most 60 degrees per step), cruises at about 12 m/s
 * and stops on the target rather than overshooting. At an edge of the box the heading
 * is mirrored, like a car turning back into town. Invariant: w->pos stays inside the
 * box and w->speed inside [0, LG_GEO_MAX_SPEED] when they start there.
 */
void lg_geo_walk(struct lg_geo_walker *w, const struct lg_geo_box *box, double dt_s,
		 const struct lg_geo_point *target, struct lg_rand *r);

#endif
