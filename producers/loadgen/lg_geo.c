#include "lg_geo.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LG_GEO_EARTH_RADIUS_M 6371008.8
#define LG_GEO_DEG (M_PI / 180.0)
#define LG_GEO_CRUISE_MPS 12.0

int
lg_geo_box_parse(const char *text, struct lg_geo_box *box, char *errstr,
		 size_t errstr_size)
{
	double v[4];
	const char *p = text;
	char *end;
	int ret = -1;

	for (int i = 0; i < 4; i++) {
		errno = 0;
		v[i] = strtod(p, &end);
		if (end == p || errno != 0 || !isfinite(v[i]) ||
		    *end != (i < 3 ? ',' : '\0')) {
			snprintf(
			    errstr, errstr_size,
			    "could not parse bbox \"%s\": expected lat1,lng1,lat2,lng2",
			    text);
			goto out;
		}
		p = end + 1;
	}
	box->lat_min = fmin(v[0], v[2]);
	box->lat_max = fmax(v[0], v[2]);
	box->lng_min = fmin(v[1], v[3]);
	box->lng_max = fmax(v[1], v[3]);
	if (box->lat_min < -85 || box->lat_max > 85 || box->lng_min < -180 ||
	    box->lng_max > 180) {
		snprintf(errstr, errstr_size,
			 "bbox \"%s\": latitudes must lie in [-85, 85], longitudes in "
			 "[-180, 180]",
			 text);
		goto out;
	}
	if (box->lat_min == box->lat_max || box->lng_min == box->lng_max) {
		snprintf(errstr, errstr_size, "bbox \"%s\" is empty", text);
		goto out;
	}
	ret = 0;
out:
	return ret;
}

int
lg_geo_box_contains(const struct lg_geo_box *box, struct lg_geo_point p)
{
	return p.lat >= box->lat_min && p.lat <= box->lat_max && p.lng >= box->lng_min &&
	       p.lng <= box->lng_max;
}

double
lg_geo_box_height_m(const struct lg_geo_box *box)
{
	return (box->lat_max - box->lat_min) * LG_GEO_DEG * LG_GEO_EARTH_RADIUS_M;
}

double
lg_geo_box_width_m(const struct lg_geo_box *box)
{
	double mid = (box->lat_min + box->lat_max) / 2;

	return (box->lng_max - box->lng_min) * LG_GEO_DEG * LG_GEO_EARTH_RADIUS_M *
	       cos(mid * LG_GEO_DEG);
}

struct lg_geo_point
lg_geo_random_point(const struct lg_geo_box *box, struct lg_rand *r)
{
	struct lg_geo_point p;

	p.lat = lg_rand_range(r, box->lat_min, box->lat_max);
	p.lng = lg_rand_range(r, box->lng_min, box->lng_max);
	return p;
}

double
lg_geo_distance_m(struct lg_geo_point a, struct lg_geo_point b)
{
	double dlat = (b.lat - a.lat) * LG_GEO_DEG, dlng = (b.lng - a.lng) * LG_GEO_DEG;
	double h = sin(dlat / 2) * sin(dlat / 2) + cos(a.lat * LG_GEO_DEG) *
						       cos(b.lat * LG_GEO_DEG) *
						       sin(dlng / 2) * sin(dlng / 2);

	return 2 * LG_GEO_EARTH_RADIUS_M * asin(fmin(1.0, sqrt(h)));
}

static double
lg_geo_norm_heading(double h)
{
	h = fmod(h, 360.0);
	if (h < 0)
		h += 360.0;
	/* fmod of a tiny negative number plus 360 rounds to 360 itself. */
	return h >= 360.0 ? 0.0 : h;
}

double
lg_geo_bearing(struct lg_geo_point a, struct lg_geo_point b)
{
	double la = a.lat * LG_GEO_DEG, lb = b.lat * LG_GEO_DEG;
	double dlng = (b.lng - a.lng) * LG_GEO_DEG;
	double y = sin(dlng) * cos(lb);
	double x = cos(la) * sin(lb) - sin(la) * cos(lb) * cos(dlng);

	return lg_geo_norm_heading(atan2(y, x) / LG_GEO_DEG);
}

struct lg_geo_point
lg_geo_move(struct lg_geo_point p, double heading, double dist_m)
{
	double north = dist_m * cos(heading * LG_GEO_DEG);
	double east = dist_m * sin(heading * LG_GEO_DEG);
	struct lg_geo_point q;

	q.lat = p.lat + north / LG_GEO_EARTH_RADIUS_M / LG_GEO_DEG;
	q.lng =
	    p.lng + east / (LG_GEO_EARTH_RADIUS_M * cos(p.lat * LG_GEO_DEG)) / LG_GEO_DEG;
	return q;
}

static double
lg_geo_clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

void
lg_geo_walk(struct lg_geo_walker *w, const struct lg_geo_box *box, double dt_s,
	    const struct lg_geo_point *target, struct lg_rand *r)
{
	double step, turn;
	struct lg_geo_point next;

	if (target != NULL) {
		double left = lg_geo_distance_m(w->pos, *target);

		/* The shortest signed turn towards the target, in (-180, 180]. */
		turn = lg_geo_bearing(w->pos, *target) - w->heading;
		turn = turn - 360.0 * floor((turn + 180.0) / 360.0);
		w->heading =
		    lg_geo_norm_heading(w->heading + lg_geo_clamp(turn, -60, 60));
		w->speed += 0.5 * (LG_GEO_CRUISE_MPS - w->speed) + lg_rand_normal(r);
		w->speed = lg_geo_clamp(w->speed, 0, LG_GEO_MAX_SPEED);
		step = w->speed * dt_s;
		if (left <= step) {
			w->pos = *target;
			return;
		}
	} else {
		w->heading = lg_geo_norm_heading(w->heading + 10.0 * lg_rand_normal(r));
		/* Mean-reverting around the cruise speed, with the odd stop at a light.
		 */
		w->speed +=
		    0.2 * (LG_GEO_CRUISE_MPS - w->speed) + 2.0 * lg_rand_normal(r);
		w->speed = lg_geo_clamp(w->speed, 0, LG_GEO_MAX_SPEED);
		step = w->speed * dt_s;
	}
	next = lg_geo_move(w->pos, w->heading, step);
	if (next.lat < box->lat_min || next.lat > box->lat_max)
		w->heading = lg_geo_norm_heading(180.0 - w->heading);
	if (next.lng < box->lng_min || next.lng > box->lng_max)
		w->heading = lg_geo_norm_heading(-w->heading);
	if (!lg_geo_box_contains(box, next))
		next = lg_geo_move(w->pos, w->heading, step);
	/* A step longer than the box is wide could still leave it: clamp, the
	 * invariant wins over the physics. */
	w->pos.lat = lg_geo_clamp(next.lat, box->lat_min, box->lat_max);
	w->pos.lng = lg_geo_clamp(next.lng, box->lng_min, box->lng_max);
}
