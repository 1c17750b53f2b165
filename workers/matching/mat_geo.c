/*
 * mat_geo: see mat_geo.h.
 */
#include "mat_geo.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

static LatLng
mat_geo_radians(struct mat_geo_point p)
{
	LatLng g = {degsToRads(p.lat), degsToRads(p.lng)};

	return g;
}

int
mat_geo_cell(struct mat_geo_point p, int res, H3Index *cell, char *errstr,
	     size_t errstr_size)
{
	LatLng g;
	H3Error err;
	int ret = -1;

	/* Written as "not inside" so that NaN fails too. */
	if (!(p.lat >= -90 && p.lat <= 90)) {
		snprintf(errstr, errstr_size, "lat %g out of range [-90, 90]", p.lat);
		goto out;
	}
	if (!(p.lng >= -180 && p.lng <= 180)) {
		snprintf(errstr, errstr_size, "lng %g out of range [-180, 180]", p.lng);
		goto out;
	}
	if (res < 0 || res > MAT_GEO_RES_MAX) {
		snprintf(errstr, errstr_size, "res %d out of range [0, %d]", res,
			 MAT_GEO_RES_MAX);
		goto out;
	}
	g = mat_geo_radians(p);
	err = latLngToCell(&g, res, cell);
	if (err != E_SUCCESS) {
		snprintf(errstr, errstr_size, "could not index %g,%g at res %d: %s",
			 p.lat, p.lng, res, describeH3Error(err));
		goto out;
	}
	ret = 0;
out:
	return ret;
}

size_t
mat_geo_ring_size(int k)
{
	return k == 0 ? 1 : 6 * (size_t)k;
}

int
mat_geo_ring(H3Index origin, int k, H3Index *out, size_t out_size, size_t *n,
	     char *errstr, size_t errstr_size)
{
	size_t size, kept = 0;
	H3Error err;
	int ret = -1;

	if (!isValidCell(origin)) {
		snprintf(errstr, errstr_size, "invalid cell %" PRIx64, (uint64_t)origin);
		goto out;
	}
	if (k < 0) {
		snprintf(errstr, errstr_size, "ring %d: k must not be negative", k);
		goto out;
	}
	size = mat_geo_ring_size(k);
	if (out_size < size) {
		snprintf(errstr, errstr_size, "ring %d needs room for %zu cells, got %zu",
			 k, size, out_size);
		goto out;
	}
	/* gridRing leaves a 0 in each slot it had no cell for (next to a pentagon). */
	err = gridRing(origin, k, out);
	if (err != E_SUCCESS) {
		snprintf(errstr, errstr_size,
			 "could not list ring %d around cell %" PRIx64 ": %s", k,
			 (uint64_t)origin, describeH3Error(err));
		goto out;
	}
	for (size_t i = 0; i < size; i++)
		if (out[i] != 0)
			out[kept++] = out[i];
	*n = kept;
	ret = 0;
out:
	return ret;
}

double
mat_geo_distance_m(struct mat_geo_point a, struct mat_geo_point b)
{
	LatLng ga = mat_geo_radians(a), gb = mat_geo_radians(b);

	return greatCircleDistanceM(&ga, &gb);
}

double
mat_geo_ring_min_distance_m(int res, int k)
{
	double edge_m;

	if (k <= 1 || getHexagonEdgeLengthAvgM(res, &edge_m) != E_SUCCESS)
		return 0;
	return (k - 1) * MAT_GEO_CROSSING * edge_m;
}
