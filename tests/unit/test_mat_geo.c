#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "mat_geo.h"

/* cmocka 1.1.5 compares floats only in single precision. */
#define assert_near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

/* The deepest ring the tests walk, and room for any ring up to it. */
#define MAX_K 6
#define RING_ROOM (6 * MAX_K)

/* splitmix64: a seeded, portable stream, so that a failure replays. */
static uint64_t
next_u64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double
next_unit(uint64_t *s)
{
	return (next_u64(s) >> 11) * 0x1.0p-53;
}

/* Uniform over the sphere (not over the lat/lng rectangle). */
static struct mat_geo_point
random_point(uint64_t *s)
{
	struct mat_geo_point p;

	p.lat = radsToDegs(asin(2 * next_unit(s) - 1));
	p.lng = 360 * next_unit(s) - 180;
	return p;
}

/* Within deg degrees of c north-south and about as far east-west (c not at a pole). */
static struct mat_geo_point
random_point_near(struct mat_geo_point c, double deg, uint64_t *s)
{
	struct mat_geo_point p;

	p.lat = fmax(-90, fmin(90, c.lat + deg * (2 * next_unit(s) - 1)));
	p.lng = c.lng + deg * (2 * next_unit(s) - 1) / cos(degsToRads(c.lat));
	if (p.lng > 180)
		p.lng -= 360;
	else if (p.lng < -180)
		p.lng += 360;
	return p;
}

static struct mat_geo_point
cell_center(H3Index cell)
{
	LatLng g;
	struct mat_geo_point p;

	assert_int_equal(cellToLatLng(cell, &g), E_SUCCESS);
	p.lat = radsToDegs(g.lat);
	p.lng = radsToDegs(g.lng);
	return p;
}

/* The point at fraction t along the great-circle arc from a to b (an H3 cell's edges
 * are such arcs): their unit vectors mixed, then put back on the sphere. */
static struct mat_geo_point
along_arc(LatLng a, LatLng b, double t)
{
	double ax = cos(a.lat) * cos(a.lng), ay = cos(a.lat) * sin(a.lng),
	       az = sin(a.lat);
	double bx = cos(b.lat) * cos(b.lng), by = cos(b.lat) * sin(b.lng),
	       bz = sin(b.lat);
	double x = ax + t * (bx - ax), y = ay + t * (by - ay), z = az + t * (bz - az);
	struct mat_geo_point p;

	p.lat = radsToDegs(atan2(z, sqrt(x * x + y * y)));
	p.lng = radsToDegs(atan2(y, x));
	return p;
}

/* The distance from p, outside cell, to the cell: the nearest of 16 points along each
 * edge. Over by at most 1/32 of an edge. */
static double
distance_to_cell_m(struct mat_geo_point p, H3Index cell)
{
	CellBoundary b;
	double best = INFINITY;

	assert_int_equal(cellToBoundary(cell, &b), E_SUCCESS);
	for (int i = 0; i < b.numVerts; i++)
		for (int s = 0; s < 16; s++) {
			struct mat_geo_point q = along_arc(
			    b.verts[i], b.verts[(i + 1) % b.numVerts], s / 16.0);

			best = fmin(best, mat_geo_distance_m(p, q));
		}
	return best;
}

static int
cmp_cell(const void *a, const void *b)
{
	H3Index x = *(const H3Index *)a, y = *(const H3Index *)b;

	return (x > y) - (x < y);
}

static H3Index
cell_of(double lat, double lng, int res)
{
	struct mat_geo_point p = {lat, lng};
	H3Index cell = 0;
	char err[128];

	assert_int_equal(mat_geo_cell(p, res, &cell, err, sizeof(err)), 0);
	return cell;
}

/* Published H3 indexes (H3's and h3-py's own test vectors). */
static void
test_cell_known_points(void **state)
{
	(void)state;
	assert_true(cell_of(37.7752702151959, -122.418307270836, 9) ==
		    UINT64_C(0x8928308280fffff));
	assert_true(cell_of(37.3615593, -122.0553238, 5) == UINT64_C(0x85283473fffffff));
	assert_true(cell_of(0, 0, 0) == UINT64_C(0x8075fffffffffff));
	/* The edges of the ranges are points too, at every resolution. */
	for (int res = 0; res <= MAT_GEO_RES_MAX; res++) {
		H3Index cells[4] = {cell_of(90, 0, res), cell_of(-90, 0, res),
				    cell_of(10, 180, res), cell_of(10, -180, res)};

		for (int i = 0; i < 4; i++) {
			assert_true(isValidCell(cells[i]));
			assert_int_equal(getResolution(cells[i]), res);
		}
		/* 180 and -180 are one meridian. */
		assert_true(cells[2] == cells[3]);
	}
}

static void
test_cell_rejects_out_of_range(void **state)
{
	H3Index cell = 42;
	char err[128];

	(void)state;
	assert_int_equal(
	    mat_geo_cell((struct mat_geo_point){90.5, 0}, 9, &cell, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "lat 90.5 out of range [-90, 90]");
	assert_int_equal(
	    mat_geo_cell((struct mat_geo_point){0, -180.5}, 9, &cell, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "lng -180.5 out of range [-180, 180]");
	assert_int_equal(
	    mat_geo_cell((struct mat_geo_point){NAN, 0}, 9, &cell, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, "lat ", 4), 0);
	assert_int_equal(
	    mat_geo_cell((struct mat_geo_point){0, NAN}, 9, &cell, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, "lng ", 4), 0);
	assert_int_equal(
	    mat_geo_cell((struct mat_geo_point){0, 0}, 16, &cell, err, sizeof(err)), -1);
	assert_string_equal(err, "res 16 out of range [0, 15]");
	assert_int_equal(
	    mat_geo_cell((struct mat_geo_point){0, 0}, -1, &cell, err, sizeof(err)), -1);
	assert_string_equal(err, "res -1 out of range [0, 15]");
	assert_true(cell == 42);
}

/* Cells within MAX_K steps of a cell with no pentagon in the way. */
#define HEX_DISK (1 + 3 * MAX_K * (MAX_K + 1))

/*
 * Walks rings 0..MAX_K around origin and checks, at each k, that no cell is in two
 * rings and that rings 0..k together are exactly H3's disk of radius k (gridDisk), so
 * that ring k is the disk of radius k less the one of radius k - 1: the cells exactly
 * k steps away. (H3's gridDistance cannot check that itself: it fails next to
 * pentagons.) With sizes, ring k must hold sizes * k cells (6 around a hexagon, 5
 * around a pentagon). Returns the cells of rings 0..MAX_K.
 */
static size_t
check_rings(H3Index origin, size_t sizes)
{
	H3Index seen[HEX_DISK], disk[HEX_DISK];
	size_t nseen = 0;
	char err[128];

	for (int k = 0; k <= MAX_K; k++) {
		H3Index ring[RING_ROOM];
		size_t n, ndisk = 0;
		int64_t disk_size;

		assert_int_equal(
		    mat_geo_ring(origin, k, ring, RING_ROOM, &n, err, sizeof(err)), 0);
		if (k == 0) {
			assert_int_equal(n, 1);
			assert_true(ring[0] == origin);
		} else if (sizes) {
			assert_int_equal(n, sizes * k);
		}
		for (size_t i = 0; i < n; i++)
			seen[nseen++] = ring[i];
		qsort(seen, nseen, sizeof(seen[0]), cmp_cell);
		for (size_t i = 1; i < nseen; i++)
			assert_true(seen[i - 1] != seen[i]);

		assert_int_equal(maxGridDiskSize(k, &disk_size), E_SUCCESS);
		assert_true((size_t)disk_size <= sizeof(disk) / sizeof(disk[0]));
		assert_int_equal(gridDisk(origin, k, disk), E_SUCCESS);
		for (int64_t i = 0; i < disk_size; i++)
			if (disk[i] != 0)
				disk[ndisk++] = disk[i];
		qsort(disk, ndisk, sizeof(disk[0]), cmp_cell);
		assert_int_equal(ndisk, nseen);
		assert_memory_equal(disk, seen, nseen * sizeof(seen[0]));
	}
	return nseen;
}

static void
test_rings_partition_the_disk(void **state)
{
	(void)state;
	assert_int_equal(check_rings(UINT64_C(0x8928308280fffff), 6), HEX_DISK);
	assert_int_equal(check_rings(cell_of(-33.8688, 151.2093, 12), 6), HEX_DISK);
	assert_int_equal(check_rings(cell_of(64.1466, -21.9426, 4), 6), HEX_DISK);
}

/* Around each of the 12 pentagons, from its centre: H3's fast walk fails there (its
 * gridRingUnsafe), mat_geo_ring does not. Then from a neighbour, whose disk holds the
 * pentagon and so fewer cells than a hexagon's. */
static void
test_rings_around_pentagons(void **state)
{
	static const int resolutions[] = {3, 9};
	H3Index pentagons[12];

	(void)state;
	assert_int_equal(pentagonCount(), 12);
	for (size_t r = 0; r < sizeof(resolutions) / sizeof(resolutions[0]); r++) {
		int res = resolutions[r];

		assert_int_equal(getPentagons(res, pentagons), E_SUCCESS);
		for (int i = 0; i < 12; i++) {
			struct mat_geo_point centre = cell_center(pentagons[i]);
			H3Index origin = cell_of(centre.lat, centre.lng, res),
				ring[RING_ROOM];
			size_t n;
			char err[128];

			assert_true(origin == pentagons[i]);
			assert_true(isPentagon(origin));
			assert_int_not_equal(gridRingUnsafe(origin, 1, ring), E_SUCCESS);
			/* 1 + 5 + 10 + ... + 5 * MAX_K */
			assert_int_equal(check_rings(origin, 5),
					 1 + 5 * MAX_K * (MAX_K + 1) / 2);

			assert_int_equal(mat_geo_ring(origin, 1, ring, RING_ROOM, &n, err,
						      sizeof(err)),
					 0);
			assert_true(check_rings(ring[0], 0) < HEX_DISK);
		}
	}
}

static void
test_ring_rejects_bad_arguments(void **state)
{
	H3Index ring[RING_ROOM];
	H3Index origin = UINT64_C(0x8928308280fffff);
	size_t n;
	char err[128];

	(void)state;
	assert_int_equal(mat_geo_ring_size(0), 1);
	assert_int_equal(mat_geo_ring_size(3), 18);
	assert_int_equal(mat_geo_ring(0, 1, ring, RING_ROOM, &n, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid cell 0");
	assert_int_equal(mat_geo_ring(origin, -1, ring, RING_ROOM, &n, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "ring -1: k must not be negative");
	assert_int_equal(mat_geo_ring(origin, 2, ring, 11, &n, err, sizeof(err)), -1);
	assert_string_equal(err, "ring 2 needs room for 12 cells, got 11");
}

/* H3's own test vector (same sphere); metres, not kilometres. */
static void
test_distance(void **state)
{
	struct mat_geo_point lyon = {45.7597, 4.8422}, paris = {48.8567, 2.3508};

	(void)state;
	assert_near(mat_geo_distance_m(lyon, paris), 392217.1598841777, 0.001);
	assert_near(mat_geo_distance_m(paris, lyon), 392217.1598841777, 0.001);
	assert_true(mat_geo_distance_m(paris, paris) == 0);
}

/*
 * The bound against the nearest point of every cell of rings 1..4 around random
 * points (seeded), over the sphere and next to every pentagon, at resolutions from
 * continents to metres. It must never be above what is seen, nor uselessly low: the
 * nearest cell seen at each k is closer than 3 times the bound.
 */
static void
test_ring_min_distance_is_a_lower_bound(void **state)
{
	static const int resolutions[] = {2, 5, 8, 9, 12, 15};
	uint64_t seed = 20240601;

	(void)state;
	assert_true(mat_geo_ring_min_distance_m(9, 0) == 0);
	assert_true(mat_geo_ring_min_distance_m(9, 1) == 0);
	assert_true(mat_geo_ring_min_distance_m(16, 3) == 0);
	for (size_t r = 0; r < sizeof(resolutions) / sizeof(resolutions[0]); r++) {
		int res = resolutions[r];
		double nearest[5] = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
		double edge_m;
		H3Index pentagons[12];

		assert_int_equal(getHexagonEdgeLengthAvgM(res, &edge_m), E_SUCCESS);
		assert_int_equal(getPentagons(res, pentagons), E_SUCCESS);
		for (int t = 0; t < 240; t++) {
			struct mat_geo_point p;
			H3Index origin;

			/* Half anywhere, half within about an edge of a pentagon's
			 * centre. */
			if (t < 120)
				p = random_point(&seed);
			else
				p = random_point_near(cell_center(pentagons[t % 12]),
						      radsToDegs(edge_m / 6371007.2),
						      &seed);
			origin = cell_of(p.lat, p.lng, res);
			for (int k = 1; k <= 4; k++) {
				H3Index ring[RING_ROOM];
				size_t n;
				char err[128];
				double bound = mat_geo_ring_min_distance_m(res, k);

				assert_int_equal(mat_geo_ring(origin, k, ring, RING_ROOM,
							      &n, err, sizeof(err)),
						 0);
				for (size_t i = 0; i < n; i++) {
					double d = distance_to_cell_m(p, ring[i]);

					if (d < bound)
						fail_msg(
						    "res %d ring %d: a cell %.1f m away, "
						    "bound %.1f m",
						    res, k, d, bound);
					nearest[k] = fmin(nearest[k], d);
				}
			}
		}
		for (int k = 2; k <= 4; k++) {
			assert_near(mat_geo_ring_min_distance_m(res, k),
				    (k - 1) * MAT_GEO_CROSSING * edge_m, 1e-6 * edge_m);
			assert_true(nearest[k] < 3 * mat_geo_ring_min_distance_m(res, k));
		}
	}
}

/* Two points 0.02 degrees apart across the antimeridian are neighbours, not the
 * width of the world apart: each is in a small ring around the other's cell. */
static void
test_antimeridian(void **state)
{
	struct mat_geo_point east = {0, 179.99}, west = {0, -179.99};
	double d = mat_geo_distance_m(east, west);

	(void)state;
	/* 0.02 degrees of the equator. */
	assert_near(d, 2223.9, 0.1);
	for (int res = 7; res <= 8; res++) {
		H3Index a = cell_of(east.lat, east.lng, res),
			b = cell_of(west.lat, west.lng, res);
		int found[2] = {-1, -1};

		assert_true(a != b);
		for (int k = 0; k <= 4; k++) {
			H3Index ring[RING_ROOM];
			size_t n;
			char err[128];

			for (int side = 0; side < 2; side++) {
				assert_int_equal(mat_geo_ring(side ? b : a, k, ring,
							      RING_ROOM, &n, err,
							      sizeof(err)),
						 0);
				for (size_t i = 0; i < n; i++)
					if (ring[i] == (side ? a : b))
						found[side] = k;
			}
		}
		assert_true(found[0] >= 1 && found[0] <= 4);
		assert_int_equal(found[0], found[1]);
		assert_true(mat_geo_ring_min_distance_m(res, found[0]) <= d);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cell_known_points),
	    cmocka_unit_test(test_cell_rejects_out_of_range),
	    cmocka_unit_test(test_rings_partition_the_disk),
	    cmocka_unit_test(test_rings_around_pentagons),
	    cmocka_unit_test(test_ring_rejects_bad_arguments),
	    cmocka_unit_test(test_distance),
	    cmocka_unit_test(test_ring_min_distance_is_a_lower_bound),
	    cmocka_unit_test(test_antimeridian),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
