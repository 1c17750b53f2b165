/*
 * mat_geo: the matching pool's geometry on Uber's H3 grid. Drivers are indexed by
 * the cell they are in; a request searches the rings of cells around the pickup's
 * cell, nearest first, and stops once the next ring cannot hold anyone closer than
 * the best driver found (mat_geo_ring_min_distance_m).
 *
 * Points are in degrees (lat in [-90, 90], lng in [-180, 180]); distances are metres
 * on H3's sphere (radius 6,371,007.2 m), along the great circle. A cell is an H3
 * index (H3Index, a uint64_t) at a resolution from 0 (cells of about 4.4 million
 * km^2) to 15 (about 1 m^2); at 9 a cell is about 0.1 km^2, its edge about 200 m.
 * Ring k around a cell is the set of cells exactly k steps away on the grid (ring 0
 * is the cell itself); rings 0..k make up H3's disk of radius k.
 *
 * Pure functions: no allocation of ours, no global state, safe from any thread.
 */
#ifndef MAT_GEO_H
#define MAT_GEO_H

#include <stddef.h>

#include "h3api.h"

/* The finest H3 resolution (the coarsest is 0). */
#define MAT_GEO_RES_MAX 15

struct mat_geo_point {
	double lat;
	double lng;
};

/*
 * *cell = the cell at resolution res (0..MAT_GEO_RES_MAX) that holds p. Returns 0, or
 * -1 with errstr naming the field out of range (`lat 91 out of range [-90, 90]`; NaN is
 * out of range too), *cell untouched. About half a microsecond (H3's latLngToCell).
 */
int mat_geo_cell(struct mat_geo_point p, int res, H3Index *cell, char *errstr,
		 size_t errstr_size);

/* Room mat_geo_ring needs for ring k >= 0: 1 cell for k = 0, 6k otherwise. */
size_t mat_geo_ring_size(int k);

/*
 * Writes the cells of ring k (k >= 0) around origin to out[0..*n), in no particular
 * order; out has room for out_size cells, at least mat_geo_ring_size(k). *n is 6k for
 * k >= 1 away from pentagons and less when a pentagon (one of the 12 cells per
 * resolution with five neighbours) is within k of origin. Returns 0, or -1 with errstr
 * (origin not a valid cell, k negative, out too small, H3's own error), out and *n
 * then undefined. Cost: O(k) through H3's walk around the ring; when a pentagon is in
 * the way the walk fails and H3 filters its whole disk instead, O(k^2) with a malloc
 * (unlike H3's gridRingUnsafe, which just fails there).
 */
int mat_geo_ring(H3Index origin, int k, H3Index *out, size_t out_size, size_t *n,
		 char *errstr, size_t errstr_size);

/* The great-circle distance between a and b in metres (haversine, H3's
 * greatCircleDistanceM); both must be in range as above. */
double mat_geo_distance_m(struct mat_geo_point a, struct mat_geo_point b);

/*
 * MAT_GEO_CROSSING times H3's average hexagon edge at a resolution is at most what a
 * path travels to cross a ring of cells (see mat_geo_ring_min_distance_m).
 */
#define MAT_GEO_CROSSING 0.5

/*
 * A lower bound of the distance, in metres, from a point p to any point of any cell
 * in ring k around the cell at resolution res that holds p: 0 when k <= 1 (p may lie
 * on its cell's edge, touching ring 1) or res is not 0..MAT_GEO_RES_MAX, else
 * (k - 1) * MAT_GEO_CROSSING * the average edge at res. O(1).
 *
 * Why it is a lower bound. Let D(j) be the cells within j steps of p's cell. A path
 * from p to ring k leaves D(j) and enters a cell j + 2 or more steps away, for each j
 * = 0..k-2, and these crossings come one after the other, each within ring j + 1.
 * Each crossing joins two cells that are not neighbours; on a grid where three cells
 * meet at every corner, such cells do not touch, and the nearest they come is when
 * they share two neighbours, whose common edge separates them: one edge length. So
 * any path, the great circle included, is at least k - 1 edges long. H3's edges are
 * not all equal: over every cell at resolutions 0..6, pentagons included, the shortest
 * edge is 0.70 of the average or more (0.93 at resolution 0, 0.70 at 5), so the factor
 * 0.5 leaves slack for the rest of H3's distortion. test_mat_geo measures it on random
 * points at several resolutions and next to pentagons: the nearest point of ring k
 * seen so far was 0.72 average edges per crossing (k = 2 next to a pentagon), 0.78
 * elsewhere; a factor of 0.75 fails that test.
 */
double mat_geo_ring_min_distance_m(int res, int k);

#endif
