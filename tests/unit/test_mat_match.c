/*
 * mat_match: the search equals a brute force over every driver (the lowest ETA among
 * the offerable, not excluded drivers within k_max rings) on seeded random cities at
 * two resolutions, which is what shows the ring stop rule sound; a fast driver behind
 * fast traffic beats a nearer one, so the stop rule must count traffic hints; no
 * driver in range; excluded drivers and ties; drivers around an H3 pentagon and across
 * the antimeridian; bad requests; and a rough speed figure (printed, not asserted).
 */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mat_match.h"

#define STALE_MS 30000
/* Now, in the tests: some time in 2024, in ms. */
#define NOW INT64_C(1717200000000)
#define AREAS 4
#define DETOUR 1.3

static const struct mat_geo_point cairo = {30.0444, 31.2357};

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

/* The point about dn metres north and de metres east of p, across the antimeridian
 * if need be (p not near a pole). */
static struct mat_geo_point
offset_m(struct mat_geo_point p, double dn, double de)
{
	p.lat += dn / 111195.0;
	p.lng += de / (111195.0 * cos(p.lat * M_PI / 180));
	if (p.lng > 180)
		p.lng -= 360;
	else if (p.lng < -180)
		p.lng += 360;
	return p;
}

static H3Index
cell_of(struct mat_geo_point p, int res)
{
	char err[256];
	H3Index cell;

	if (mat_geo_cell(p, res, &cell, err, sizeof(err)))
		fail_msg("mat_geo_cell: %s", err);
	return cell;
}

static struct mat_geo_point
center_of(H3Index cell)
{
	LatLng g;

	assert_int_equal(cellToLatLng(cell, &g), E_SUCCESS);
	return (struct mat_geo_point){radsToDegs(g.lat), radsToDegs(g.lng)};
}

/* The speed of area a (1..AREAS) at hour h: 6.6 to 10.3 m/s. */
static double
true_speed(int a, int h)
{
	return 6 + 0.1 * h + 0.5 * a;
}

/* A model fitted to exact trips: every (area, hour) at true_speed, every road DETOUR
 * times the straight line; hint_half as given. */
static mat_eta_t *
fit_model(double hint_half)
{
	enum { PER_BUCKET = 40 };
	mat_eta_trip_t *trips = calloc(AREAS * 24 * PER_BUCKET, sizeof(*trips));
	mat_eta_params_t p;
	mat_eta_t *m;
	size_t n = 0;
	char err[256];

	assert_non_null(trips);
	for (int a = 1; a <= AREAS; a++)
		for (int h = 0; h < 24; h++)
			for (int i = 0; i < PER_BUCKET; i++, n++)
				trips[n] = (mat_eta_trip_t){
				    a, h, 1000 + 50 * i, (1000 + 50 * i) * DETOUR,
				    (1000 + 50 * i) * DETOUR / true_speed(a, h)};
	mat_eta_params_default(&p);
	p.hint_half = hint_half;
	if (mat_eta_fit(trips, n, &p, &m, err, sizeof(err)))
		fail_msg("mat_eta_fit: %s", err);
	free(trips);
	return m;
}

static mat_index_t *
new_index(int res)
{
	char err[256];
	mat_index_t *idx = mat_index_new(res, STALE_MS, err, sizeof(err));

	if (!idx)
		fail_msg("mat_index_new: %s", err);
	return idx;
}

static void
apply(mat_index_t *idx, const char *id, struct mat_geo_point p, double speed,
      mat_index_status_t status, int64_t ts)
{
	mat_index_update_t u = {id, p, speed, status, ts, 0, 0};
	char err[256];

	if (mat_index_apply(idx, &u, err, sizeof(err)) == MAT_INDEX_ERROR)
		fail_msg("apply %s: %s", id, err);
}

/* A request with no exclusions. */
static mat_match_request_t
request(struct mat_geo_point pickup, int area, int hour, int k_max)
{
	return (mat_match_request_t){pickup, area, hour, NOW, k_max, NULL, 0};
}

static mat_match_status_t
find(const mat_index_t *idx, const mat_eta_t *model, const mat_match_request_t *req,
     mat_match_result_t *out)
{
	char err[256];
	mat_match_status_t st = mat_match_find(idx, model, req, out, err, sizeof(err));

	if (st == MAT_MATCH_ERROR)
		fail_msg("mat_match_find: %s", err);
	return st;
}

/* ---- fleets and the brute force ---------------------------------------------------- */

/* A driver as the test knows it: its newest update, and whether it is claimed. */
struct fleet_driver {
	char id[32];
	struct mat_geo_point pos;
	mat_index_status_t status;
	int64_t ts;
	bool claimed;
};

struct fleet {
	mat_index_t *idx;
	struct fleet_driver *d;
	size_t n;
};

struct fleet_update {
	size_t driver;
	mat_index_update_t u;
};

/* A random point within half_m metres north-south and east-west of c. */
static struct mat_geo_point
random_point(uint64_t *seed, struct mat_geo_point c, double half_m)
{
	double dn = uniform(seed, -half_m, half_m);

	return offset_m(c, dn, uniform(seed, -half_m, half_m));
}

/*
 * An index at res of n drivers around c (a box of half_m metres each way), each
 * with three updates at random places: 60% end available, 30% busy, 10% offline; the
 * last update is up to 45 s old, so that a third are stale; a tenth are claimed; and n
 * / 4 busy drivers make fast traffic (25 to 40 m/s) in a box of 750 m at 3 km north
 * east of c. The updates are applied in a random order, so that many arrive older
 * than their driver's last.
 */
static struct fleet
make_fleet(int res, size_t n, struct mat_geo_point c, double half_m, uint64_t seed)
{
	struct fleet f = {new_index(res), calloc(n + n / 4, sizeof(*f.d)), n + n / 4};
	struct fleet_update *ups = calloc(3 * n + n / 4, sizeof(*ups));
	struct mat_geo_point jam = offset_m(c, 3000, 3000);
	size_t n_ups = 0;
	char err[256];

	assert_non_null(f.d);
	assert_non_null(ups);
	for (size_t i = 0; i < n; i++) {
		int64_t ts = NOW - (int64_t)uniform(&seed, 0, 45000);

		snprintf(f.d[i].id, sizeof(f.d[i].id), "driver-%zu", i);
		for (int k = 0; k < 3; k++, ts -= 1 + (int64_t)uniform(&seed, 0, 20000)) {
			uint64_t s = next_random(&seed) % 10;
			mat_index_status_t st = s < 6	? MAT_INDEX_AVAILABLE
						: s < 9 ? MAT_INDEX_BUSY
							: MAT_INDEX_OFFLINE;
			struct mat_geo_point p = random_point(&seed, c, half_m);
			double speed = uniform(&seed, 0, st == MAT_INDEX_BUSY ? 30 : 15);

			ups[n_ups++] =
			    (struct fleet_update){i, {f.d[i].id, p, speed, st, ts, 0, 0}};
		}
	}
	for (size_t i = n; i < f.n; i++) {
		struct mat_geo_point p = random_point(&seed, jam, 750);
		double speed = uniform(&seed, 25, 40);
		int64_t ts = NOW - (int64_t)uniform(&seed, 0, 20000);

		snprintf(f.d[i].id, sizeof(f.d[i].id), "traffic-%zu", i - n);
		ups[n_ups++] = (struct fleet_update){
		    i, {f.d[i].id, p, speed, MAT_INDEX_BUSY, ts, 0, 0}};
	}
	/* Fisher-Yates */
	for (size_t i = n_ups - 1; i > 0; i--) {
		size_t j = next_random(&seed) % (i + 1);
		struct fleet_update t = ups[i];

		ups[i] = ups[j];
		ups[j] = t;
	}
	for (size_t k = 0; k < n_ups; k++) {
		struct fleet_driver *d = &f.d[ups[k].driver];

		ups[k].u.offset = (int64_t)k;
		if (mat_index_apply(f.idx, &ups[k].u, err, sizeof(err)) ==
		    MAT_INDEX_ERROR)
			fail_msg("apply: %s", err);
		if (d->ts == 0 || ups[k].u.ts_ms > d->ts) {
			d->pos = ups[k].u.pos;
			d->status = ups[k].u.status;
			d->ts = ups[k].u.ts_ms;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (next_random(&seed) % 10)
			continue;
		f.d[i].claimed = true;
		assert_int_equal(mat_index_claim(f.idx, f.d[i].id, err, sizeof(err)), 0);
	}
	free(ups);
	return f;
}

static void
free_fleet(struct fleet *f)
{
	mat_index_destroy(f->idx);
	free(f->d);
}

/* The cells within k_max of an origin with their ring, sorted by cell, from H3's
 * gridDiskDistances (not mat_geo_ring, which the search uses). */
struct disk_cell {
	H3Index cell;
	int k;
};

static int
cmp_disk_cell(const void *a, const void *b)
{
	H3Index x = ((const struct disk_cell *)a)->cell,
		y = ((const struct disk_cell *)b)->cell;

	return (x > y) - (x < y);
}

static struct disk_cell *
make_disk(H3Index origin, int k_max, size_t *n)
{
	int64_t size;
	H3Index *cells;
	int *dist;
	struct disk_cell *disk;

	assert_int_equal(maxGridDiskSize(k_max, &size), E_SUCCESS);
	cells = calloc((size_t)size, sizeof(*cells));
	dist = calloc((size_t)size, sizeof(*dist));
	disk = calloc((size_t)size, sizeof(*disk));
	assert_true(cells && dist && disk);
	assert_int_equal(gridDiskDistances(origin, k_max, cells, dist), E_SUCCESS);
	*n = 0;
	for (int64_t i = 0; i < size; i++)
		if (cells[i])
			disk[(*n)++] = (struct disk_cell){cells[i], dist[i]};
	qsort(disk, *n, sizeof(*disk), cmp_disk_cell);
	free(cells);
	free(dist);
	return disk;
}

static bool
excluded(const mat_match_request_t *req, const char *id)
{
	for (size_t i = 0; i < req->n_exclude; i++)
		if (strcmp(req->exclude[i], id) == 0)
			return true;
	return false;
}

/*
 * The answer by brute force: every driver of f, offerable by the test's own record,
 * not excluded, its cell within k_max rings of the pickup's; the lowest (ETA, id).
 * Checks on the way that each such driver's ETA is at least its ring's floor, and
 * lowers *closest to the smallest ETA / floor seen (rings 2 and up).
 */
static mat_match_status_t
brute_force(const struct fleet *f, const mat_eta_t *model, const mat_match_request_t *req,
	    mat_match_result_t *want, double *closest)
{
	int res = mat_index_res(f->idx);
	size_t n_disk;
	struct disk_cell *disk =
	    make_disk(cell_of(req->pickup, res), req->k_max, &n_disk);
	const struct fleet_driver *best = NULL;

	memset(want, 0, sizeof(*want));
	for (size_t i = 0; i < f->n; i++) {
		const struct fleet_driver *d = &f->d[i];
		struct disk_cell key = {cell_of(d->pos, res), 0}, *in;
		mat_eta_hint_t hint;
		bool has_hint;
		double dist, eta, floor;

		if (d->status != MAT_INDEX_AVAILABLE || d->claimed ||
		    req->now_ms - d->ts > STALE_MS || excluded(req, d->id))
			continue;
		in = bsearch(&key, disk, n_disk, sizeof(*disk), cmp_disk_cell);
		if (!in)
			continue;
		has_hint = mat_index_hint(f->idx, key.cell, req->now_ms, &hint);
		dist = mat_geo_distance_m(d->pos, req->pickup);
		assert_int_equal(mat_eta_predict(model, req->area, req->hour, dist,
						 has_hint ? &hint : NULL, &eta),
				 0);
		floor =
		    mat_match_ring_floor_s(f->idx, model, req->area, req->hour, in->k);
		if (eta < floor)
			fail_msg("%s in ring %d: eta %.17g below the ring's floor %.17g",
				 d->id, in->k, eta, floor);
		if (in->k >= 2)
			*closest = fmin(*closest, eta / floor);
		if (best && (eta > want->eta_s ||
			     (eta == want->eta_s && strcmp(d->id, best->id) > 0)))
			continue;
		best = d;
		want->eta_s = eta;
		want->distance_m = dist;
	}
	free(disk);
	if (!best)
		return MAT_MATCH_NO_DRIVER;
	strcpy(want->driver_id, best->id);
	return MAT_MATCH_FOUND;
}

/* Tallies of a run of requests; closest starts at HUGE_VAL. */
struct tally {
	int found, no_driver, early;
	size_t examined, rings;
	double closest; /* the least ETA / floor of any driver the brute force saw */
};

/* Searches req and checks the answer against the brute force. */
static void
check_request(const struct fleet *f, const mat_eta_t *model,
	      const mat_match_request_t *req, struct tally *t)
{
	mat_match_result_t got, want;
	mat_match_status_t st = find(f->idx, model, req, &got);
	mat_match_status_t want_st = brute_force(f, model, req, &want, &t->closest);

	if (st != want_st || strcmp(got.driver_id, want.driver_id) != 0 ||
	    got.eta_s != want.eta_s || got.distance_m != want.distance_m)
		fail_msg("pickup %.6f,%.6f area %" PRId64 " hour %d k_max %d: search "
			 "gave %d %s eta %.17g (rings %d, early %d), brute force %d %s "
			 "eta %.17g",
			 req->pickup.lat, req->pickup.lng, req->area, req->hour,
			 req->k_max, st, got.driver_id, got.eta_s, got.rings,
			 got.stopped_early, want_st, want.driver_id, want.eta_s);
	/* an early stop skips the rings left; otherwise all k_max + 1 are searched */
	if (got.stopped_early)
		assert_true(st == MAT_MATCH_FOUND && got.rings <= req->k_max);
	else
		assert_int_equal(got.rings, req->k_max + 1);
	t->found += st == MAT_MATCH_FOUND;
	t->no_driver += st == MAT_MATCH_NO_DRIVER;
	t->early += got.stopped_early;
	t->examined += got.examined;
	t->rings += (size_t)got.rings;
}

/*
 * 2,000 drivers in a 20 km box, 200 requests at random pickups, areas, hours and
 * k_max 0..k_top; every other request excludes the driver it would get plus a random
 * one, and is searched again. The model's hint_half as given: the lower, the more
 * the fast traffic weighs.
 */
static void
random_city(int res, int k_top, double hint_half, uint64_t seed)
{
	enum { DRIVERS = 2000, REQUESTS = 200 };
	struct fleet f = make_fleet(res, DRIVERS, cairo, 10000, seed);
	mat_eta_t *model = fit_model(hint_half);
	struct tally t = {.closest = HUGE_VAL};

	for (int r = 0; r < REQUESTS; r++) {
		struct mat_geo_point pickup = random_point(&seed, cairo, 10000);
		int area = 1 + (int)(next_random(&seed) % AREAS);
		int hour = (int)(next_random(&seed) % 24);
		mat_match_request_t req =
		    request(pickup, area, hour,
			    (int)(next_random(&seed) % (uint64_t)(k_top + 1)));
		mat_match_result_t first;
		const char *exclude[2];

		check_request(&f, model, &req, &t);
		if (r % 2 || find(f.idx, model, &req, &first) != MAT_MATCH_FOUND)
			continue;
		exclude[0] = first.driver_id;
		exclude[1] = f.d[next_random(&seed) % f.n].id;
		req.exclude = exclude;
		req.n_exclude = 2;
		check_request(&f, model, &req, &t);
	}
	print_message(
	    "res %d, k_max 0..%d, hint_half %g: %d found (%d of them stopped early), %d "
	    "no_driver; %.1f rings and %.1f drivers examined per search; ETAs "
	    "%.2f times their ring's floor or more\n",
	    res, k_top, hint_half, t.found, t.early, t.no_driver,
	    (double)t.rings / (t.found + t.no_driver),
	    (double)t.examined / (t.found + t.no_driver), t.closest);
	/* the run covers both outcomes and the early stop */
	assert_true(t.no_driver > 0);
	assert_true(t.found > REQUESTS / 2);
	assert_true(t.early > 0);
	mat_eta_destroy(model);
	free_fleet(&f);
}

static void
test_random_city_res9(void **state)
{
	(void)state;
	random_city(9, 20, 10, 1);
	random_city(9, 20, 1, 2);
}

static void
test_random_city_res8(void **state)
{
	(void)state;
	random_city(8, 12, 1, 3);
}

/* n busy drivers "<tag>-<i>" at p reporting speed now: a cell of traffic. */
static void
traffic(mat_index_t *idx, const char *tag, struct mat_geo_point p, int n, double speed)
{
	char id[32];

	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s-%d", tag, i);
		apply(idx, id, p, speed, MAT_INDEX_BUSY, NOW);
	}
}

static void
test_fast_traffic_counts_in_the_stop_rule(void **state)
{
	/* hint_half 1: a cell's 32 readings weigh 32/33 against the fitted speed */
	mat_eta_t *model = fit_model(1);
	mat_index_t *idx = new_index(9);
	H3Index origin = cell_of(cairo, 9), ring2[12], ring10[60];
	struct mat_geo_point pickup = center_of(origin), slow, fast;
	mat_match_request_t req = request(pickup, 2, 10, 20); /* 8 m/s */
	mat_match_result_t got;
	mat_eta_hint_t hint;
	double eta_slow, eta_fast, pace;
	size_t n;
	char err[256];

	(void)state;
	assert_int_equal(mat_geo_ring(origin, 2, ring2, 12, &n, err, sizeof(err)), 0);
	assert_int_equal(mat_geo_ring(origin, 10, ring10, 60, &n, err, sizeof(err)), 0);
	slow = center_of(ring2[0]);
	fast = center_of(ring10[0]);
	apply(idx, "slow", slow, 0, MAT_INDEX_AVAILABLE, NOW);
	apply(idx, "fast", fast, 0, MAT_INDEX_AVAILABLE, NOW);
	traffic(idx, "busy", fast, MAT_INDEX_HINT_WINDOW, 60);
	assert_true(mat_index_hint(idx, ring10[0], NOW, &hint));
	assert_int_equal(mat_eta_predict(model, 2, 10, mat_geo_distance_m(slow, pickup),
					 NULL, &eta_slow),
			 0);
	assert_int_equal(mat_eta_predict(model, 2, 10, mat_geo_distance_m(fast, pickup),
					 &hint, &eta_fast),
			 0);
	assert_int_equal(mat_eta_predict(model, 2, 10, 1.0, NULL, &pace), 0);
	/* the far driver is sooner, and a floor blind to traffic would have stopped
	 * before its ring */
	assert_true(eta_fast < eta_slow);
	assert_true(mat_geo_ring_min_distance_m(9, 10) * pace > eta_slow);

	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_FOUND);
	assert_string_equal(got.driver_id, "fast");
	assert_true(got.eta_s == eta_fast);
	assert_true(got.rings >= 11);
	mat_index_destroy(idx);
	mat_eta_destroy(model);
}

/* The floor per metre of ring k (2 and up): the pace it assumes. */
static double
floor_pace(const mat_index_t *idx, const mat_eta_t *model, int k)
{
	return mat_match_ring_floor_s(idx, model, 2, 10, k) /
	       mat_geo_ring_min_distance_m(mat_index_res(idx), k);
}

static void
test_ring_floor(void **state)
{
	mat_eta_t *model = fit_model(10);
	mat_index_t *idx = new_index(9);
	struct mat_geo_point fast = offset_m(cairo, 2000, 0);
	mat_eta_hint_t hint;
	double plain, driver_pace;

	(void)state;
	/* no traffic: the model's pace (area 2 at 10:00, 8 m/s), a billionth less */
	assert_int_equal(mat_eta_predict(model, 2, 10, 1.0, NULL, &plain), 0);
	assert_true(mat_match_ring_floor_s(idx, model, 2, 10, 0) == 0);
	assert_true(mat_match_ring_floor_s(idx, model, 2, 10, 1) == 0);
	for (int k = 2; k <= 10; k++)
		assert_true(floor_pace(idx, model, k) < plain &&
			    floor_pace(idx, model, k) > plain * (1 - 1e-8));
	/* traffic slower than the model leaves it */
	traffic(idx, "slow", cairo, MAT_INDEX_HINT_WINDOW, 3);
	assert_true(floor_pace(idx, model, 5) > plain * (1 - 1e-8));
	/* fast traffic lowers it to the pace of a driver in a full cell of it, nearly */
	traffic(idx, "fast", fast, MAT_INDEX_HINT_WINDOW, 30.5);
	assert_true(mat_index_hint(idx, cell_of(fast, 9), NOW, &hint));
	assert_int_equal(mat_eta_predict(model, 2, 10, 1.0, &hint, &driver_pace), 0);
	assert_true(floor_pace(idx, model, 5) <= driver_pace);
	assert_true(floor_pace(idx, model, 5) > 0.97 * driver_pace);
	/* no hour, no floor */
	assert_true(mat_match_ring_floor_s(idx, model, 2, 24, 5) == 0);
	mat_index_destroy(idx);
	mat_eta_destroy(model);
}

static void
test_no_driver(void **state)
{
	mat_eta_t *model = fit_model(10);
	mat_index_t *idx = new_index(9);
	H3Index ring3[18];
	mat_match_request_t req = request(cairo, 1, 8, 5);
	mat_match_result_t got;
	size_t n;
	char err[256];

	(void)state;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_NO_DRIVER);
	assert_string_equal(got.driver_id, "");
	assert_true(got.eta_s == 0);
	assert_int_equal(got.rings, 6);
	assert_int_equal(got.examined, 0);
	assert_false(got.stopped_early);

	/* busy, stale and claimed drivers at the pickup are looked at, not offered */
	apply(idx, "busy", cairo, 5, MAT_INDEX_BUSY, NOW);
	apply(idx, "stale", cairo, 0, MAT_INDEX_AVAILABLE, NOW - STALE_MS - 1);
	apply(idx, "claimed", cairo, 0, MAT_INDEX_AVAILABLE, NOW);
	assert_int_equal(mat_index_claim(idx, "claimed", err, sizeof(err)), 0);
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_NO_DRIVER);
	assert_int_equal(got.examined, 3);

	/* one driver in ring 3: out of reach of k_max 2, found with 3 */
	assert_int_equal(
	    mat_geo_ring(cell_of(cairo, 9), 3, ring3, 18, &n, err, sizeof(err)), 0);
	apply(idx, "ring3", center_of(ring3[0]), 0, MAT_INDEX_AVAILABLE, NOW);
	req.k_max = 2;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_NO_DRIVER);
	assert_int_equal(got.rings, 3);
	req.k_max = 3;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_FOUND);
	assert_string_equal(got.driver_id, "ring3");
	assert_int_equal(got.rings, 4);
	/* nor once it is stale by the request's clock */
	req.now_ms = NOW + STALE_MS + 1;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_NO_DRIVER);
	mat_index_destroy(idx);
	mat_eta_destroy(model);
}

static void
test_excluded_drivers_and_ties(void **state)
{
	mat_eta_t *model = fit_model(10);
	mat_index_t *idx = new_index(9);
	mat_match_request_t req = request(cairo, 3, 17, 10);
	mat_match_result_t got;
	const char *exclude[3] = {"mid", "near", "ghost"};

	(void)state;
	apply(idx, "near", offset_m(cairo, 100, 0), 0, MAT_INDEX_AVAILABLE, NOW);
	apply(idx, "mid", offset_m(cairo, 0, 500), 0, MAT_INDEX_AVAILABLE, NOW);
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_FOUND);
	assert_string_equal(got.driver_id, "near");
	assert_true(fabs(got.distance_m - 100) < 1);

	req.exclude = exclude + 1; /* near */
	req.n_exclude = 1;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_FOUND);
	assert_string_equal(got.driver_id, "mid");
	req.exclude = exclude;
	req.n_exclude = 3;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_NO_DRIVER);

	/* two drivers at one spot: the smaller id, whichever came first */
	apply(idx, "tie-b", offset_m(cairo, -50, 0), 0, MAT_INDEX_AVAILABLE, NOW);
	apply(idx, "tie-a", offset_m(cairo, -50, 0), 0, MAT_INDEX_AVAILABLE, NOW);
	apply(idx, "tie-c", offset_m(cairo, -50, 0), 0, MAT_INDEX_AVAILABLE, NOW);
	req.n_exclude = 0;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_FOUND);
	assert_string_equal(got.driver_id, "tie-a");
	exclude[0] = "tie-a";
	req.exclude = exclude;
	req.n_exclude = 1;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_FOUND);
	assert_string_equal(got.driver_id, "tie-b");
	mat_index_destroy(idx);
	mat_eta_destroy(model);
}

/* Requests at random pickups within 1.5 km of c, checked against the brute force,
 * plus one at c itself, which must find a driver. */
static void
requests_around(const struct fleet *f, struct mat_geo_point c, uint64_t seed,
		const char *where)
{
	mat_eta_t *model = fit_model(10);
	mat_match_request_t req = request(c, 1, 12, 8);
	mat_match_result_t got;
	struct tally t = {.closest = HUGE_VAL};

	assert_int_equal(find(f->idx, model, &req, &got), MAT_MATCH_FOUND);
	check_request(f, model, &req, &t);
	for (int r = 0; r < 50; r++) {
		struct mat_geo_point pickup = random_point(&seed, c, 1500);

		req = request(pickup, 1 + (int)(next_random(&seed) % AREAS),
			      (int)(next_random(&seed) % 24),
			      (int)(next_random(&seed) % 9));
		check_request(f, model, &req, &t);
	}
	print_message("%s: %d found (%d stopped early), %d no_driver\n", where, t.found,
		      t.early, t.no_driver);
	assert_true(t.found > 25);
	mat_eta_destroy(model);
}

static void
test_around_a_pentagon(void **state)
{
	H3Index pentagons[12];
	struct mat_geo_point c;
	struct fleet f;
	H3Index ring1[6];
	size_t n;
	char err[256];

	(void)state;
	assert_int_equal(getPentagons(9, pentagons), E_SUCCESS);
	c = center_of(pentagons[0]);
	/* a pentagon: five neighbours */
	assert_int_equal(mat_geo_ring(pentagons[0], 1, ring1, 6, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 5);
	f = make_fleet(9, 400, c, 2000, 5);
	requests_around(&f, c, 50, "pentagon");
	free_fleet(&f);
}

static void
test_across_the_antimeridian(void **state)
{
	struct mat_geo_point line = {0.5, 180}, pickup = {0.5, 179.999};
	mat_eta_t *model = fit_model(10);
	mat_index_t *idx = new_index(9);
	mat_match_request_t req = request(pickup, 1, 12, 10);
	mat_match_result_t got;
	struct fleet f = make_fleet(9, 400, line, 2000, 6);

	(void)state;
	requests_around(&f, line, 60, "antimeridian");
	free_fleet(&f);

	/* east of the line is 330 m away, west 1 km */
	apply(idx, "east", (struct mat_geo_point){0.5, -179.998}, 0, MAT_INDEX_AVAILABLE,
	      NOW);
	apply(idx, "west", (struct mat_geo_point){0.5, 179.99}, 0, MAT_INDEX_AVAILABLE,
	      NOW);
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_FOUND);
	assert_string_equal(got.driver_id, "east");
	assert_true(got.distance_m > 320 && got.distance_m < 345);
	mat_index_destroy(idx);
	mat_eta_destroy(model);
}

static void
test_bad_requests(void **state)
{
	mat_eta_t *model = fit_model(10);
	mat_index_t *idx = new_index(9);
	mat_match_request_t req = request(cairo, 1, 8, 5);
	mat_match_result_t got;
	char err[256];

	(void)state;
	req.hour = 24;
	assert_int_equal(mat_match_find(idx, model, &req, &got, err, sizeof(err)),
			 MAT_MATCH_ERROR);
	assert_string_equal(err, "hour: must be from 0 to 23, got 24");
	req.hour = 8;
	req.k_max = MAT_MATCH_K_MAX + 1;
	assert_int_equal(mat_match_find(idx, model, &req, &got, err, sizeof(err)),
			 MAT_MATCH_ERROR);
	assert_string_equal(err, "k_max: must be from 0 to 64, got 65");
	req.k_max = -1;
	assert_int_equal(mat_match_find(idx, model, &req, &got, err, sizeof(err)),
			 MAT_MATCH_ERROR);
	assert_string_equal(err, "k_max: must be from 0 to 64, got -1");
	req.k_max = 5;
	req.n_exclude = 1;
	assert_int_equal(mat_match_find(idx, model, &req, &got, err, sizeof(err)),
			 MAT_MATCH_ERROR);
	assert_string_equal(err, "exclude: NULL with n_exclude 1");
	req.n_exclude = 0;
	req.pickup.lat = 91;
	assert_int_equal(mat_match_find(idx, model, &req, &got, err, sizeof(err)),
			 MAT_MATCH_ERROR);
	assert_string_equal(err, "lat 91 out of range [-90, 90]");

	/* the deepest search there may be */
	req.pickup = cairo;
	req.k_max = MAT_MATCH_K_MAX;
	assert_int_equal(find(idx, model, &req, &got), MAT_MATCH_NO_DRIVER);
	assert_int_equal(got.rings, MAT_MATCH_K_MAX + 1);
	mat_index_destroy(idx);
	mat_eta_destroy(model);
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Not a benchmark (ops/bench is): a rough figure for this machine, printed. */
static void
test_speed(void **state)
{
	enum { DRIVERS = 50000, SEARCHES = 10000, K_MAX = 20 };
	struct fleet f = make_fleet(9, DRIVERS, cairo, 10000, 8);
	mat_eta_t *model = fit_model(10);
	mat_match_request_t *reqs = calloc(SEARCHES, sizeof(*reqs));
	mat_match_result_t got;
	struct tally t = {.closest = HUGE_VAL};
	struct timespec t0;
	uint64_t seed = 9;
	double secs;

	(void)state;
	assert_non_null(reqs);
	for (int r = 0; r < SEARCHES; r++) {
		struct mat_geo_point pickup = random_point(&seed, cairo, 9000);

		reqs[r] = request(pickup, 1 + (int)(next_random(&seed) % AREAS),
				  (int)(next_random(&seed) % 24), K_MAX);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int r = 0; r < SEARCHES; r++) {
		mat_match_status_t st = find(f.idx, model, &reqs[r], &got);

		t.found += st == MAT_MATCH_FOUND;
		t.early += got.stopped_early;
		t.examined += got.examined;
		t.rings += (size_t)got.rings;
	}
	secs = seconds_since(&t0);
	assert_true(t.found > 0);
	print_message(
	    "speed: %d drivers (%zu with traffic) in a 20 km box at res 9, "
	    "k_max %d: %.1f us per search; %.1f rings and %.0f drivers examined "
	    "per search, %.0f%% stopped early\n",
	    DRIVERS, f.n, K_MAX, 1e6 * secs / SEARCHES, (double)t.rings / SEARCHES,
	    (double)t.examined / SEARCHES, 100.0 * t.early / SEARCHES);
	free(reqs);
	mat_eta_destroy(model);
	free_fleet(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_city_res9),
	    cmocka_unit_test(test_random_city_res8),
	    cmocka_unit_test(test_fast_traffic_counts_in_the_stop_rule),
	    cmocka_unit_test(test_ring_floor),
	    cmocka_unit_test(test_no_driver),
	    cmocka_unit_test(test_excluded_drivers_and_ties),
	    cmocka_unit_test(test_around_a_pentagon),
	    cmocka_unit_test(test_across_the_antimeridian),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
