/*
 * mat_index: drivers apply, move between cells, go offline and come back; stale
 * drivers, claims and out-of-order updates are not offered; offsets are kept per
 * partition; bad updates change nothing; supply counts and traffic hints; a long
 * random stream agrees with a plain model of it; and a rough speed figure (printed,
 * not asserted).
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

#include "mat_index.h"

#define RES 9
#define STALE_MS 30000
/* Some time in 2024, in ms. */
#define T0 INT64_C(1717200000000)

/* Cairo, and points about dn metres north and de metres east of it. */
static const struct mat_geo_point cairo = {30.0444, 31.2357};

static struct mat_geo_point
offset_m(struct mat_geo_point p, double dn, double de)
{
	p.lat += dn / 111195.0;
	p.lng += de / (111195.0 * cos(p.lat * M_PI / 180));
	return p;
}

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

static mat_index_t *
new_index(int res)
{
	char err[256];
	mat_index_t *idx = mat_index_new(res, STALE_MS, err, sizeof(err));

	if (!idx)
		fail_msg("mat_index_new: %s", err);
	return idx;
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

/* Applies an update in partition 0 at offset `offset`, expecting `want`. */
#define apply(idx, id, p, speed, status, ts, offset, want)                               \
	apply_at(idx, id, p, speed, status, ts, 0, offset, want, __LINE__)
static void
apply_at(mat_index_t *idx, const char *id, struct mat_geo_point p, double speed,
	 mat_index_status_t status, int64_t ts, int32_t partition, int64_t offset,
	 mat_index_outcome_t want, int line)
{
	mat_index_update_t u = {id, p, speed, status, ts, partition, offset};
	char err[256] = "";
	mat_index_outcome_t got = mat_index_apply(idx, &u, err, sizeof(err));

	if (got != want)
		fail_msg("line %d: apply %s gave %d, not %d: %s", line, id, got, want,
			 err);
}

/* The ids a cell lists, sorted and comma-separated. */
struct listing {
	char ids[16][SOUK_EVENT_IDENT_SIZE];
	size_t calls;
	char text[1024];
};

static void
list_one(const mat_index_driver_t *d, void *opaque)
{
	struct listing *l = opaque;

	assert_true(l->calls < 16);
	strcpy(l->ids[l->calls++], d->id);
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static const char *
listed(const mat_index_t *idx, H3Index cell, struct listing *l)
{
	size_t n, len = 0;

	l->calls = 0;
	n = mat_index_cell_drivers(idx, cell, list_one, l);
	assert_int_equal(n, l->calls);
	qsort(l->ids, n, sizeof(l->ids[0]), cmp_id);
	l->text[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(l->text + len, sizeof(l->text) - len, "%s%s",
					i ? "," : "", l->ids[i]);
	return l->text;
}

static void
test_new_checks_arguments(void **state)
{
	char err[256];

	(void)state;
	assert_null(mat_index_new(16, STALE_MS, err, sizeof(err)));
	assert_string_equal(err, "res: must be from 0 to 15, got 16");
	assert_null(mat_index_new(-1, STALE_MS, err, sizeof(err)));
	assert_string_equal(err, "res: must be from 0 to 15, got -1");
	assert_null(mat_index_new(RES, -1, err, sizeof(err)));
	assert_string_equal(err, "stale_ms: must be 0 or more, got -1");
	mat_index_destroy(NULL);
}

static void
test_apply_move_and_offline(void **state)
{
	mat_index_t *idx = new_index(RES);
	struct mat_geo_point here = cairo, there = offset_m(cairo, 3000, 0);
	struct mat_geo_point nudged = offset_m(there, 3, 3);
	H3Index a = cell_of(here, RES), b = cell_of(there, RES);
	const mat_index_driver_t *d;
	mat_index_stats_t st;
	struct listing l;

	(void)state;
	assert_true(a != b);
	assert_true(cell_of(nudged, RES) == b);
	apply(idx, "d1", here, 5, MAT_INDEX_AVAILABLE, T0, 0, MAT_INDEX_APPLIED);
	apply(idx, "d2", here, 0, MAT_INDEX_AVAILABLE, T0, 1, MAT_INDEX_APPLIED);
	apply(idx, "d3", here, 0, MAT_INDEX_AVAILABLE, T0, 2, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, a, &l), "d1,d2,d3");
	d = mat_index_get(idx, "d1");
	assert_non_null(d);
	assert_string_equal(d->id, "d1");
	assert_true(d->pos.lat == here.lat && d->pos.lng == here.lng);
	assert_true(d->speed_mps == 5);
	assert_true(d->ts_ms == T0);
	assert_true(d->cell == a);
	assert_int_equal(d->status, MAT_INDEX_AVAILABLE);
	assert_false(d->claimed);
	assert_null(mat_index_get(idx, "d4"));

	/* the middle of a's array moves to b (the last fills its place), then the
	 * others */
	apply(idx, "d2", there, 7, MAT_INDEX_BUSY, T0 + 1000, 3, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, a, &l), "d1,d3");
	assert_string_equal(listed(idx, b, &l), "d2");
	d = mat_index_get(idx, "d2");
	assert_true(d->cell == b);
	assert_int_equal(d->status, MAT_INDEX_BUSY);
	apply(idx, "d3", there, 7, MAT_INDEX_AVAILABLE, T0 + 1000, 4, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, a, &l), "d1");
	apply(idx, "d1", there, 7, MAT_INDEX_AVAILABLE, T0 + 1000, 5, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, a, &l), "");
	assert_string_equal(listed(idx, b, &l), "d1,d2,d3");

	/* a move within the cell leaves the driver listed there, once */
	apply(idx, "d3", nudged, 7, MAT_INDEX_AVAILABLE, T0 + 2000, 6, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, b, &l), "d1,d2,d3");
	assert_true(mat_index_get(idx, "d3")->pos.lat == nudged.lat);

	/* offline leaves the cell, the driver stays known; back online re-enters */
	apply(idx, "d3", here, 0, MAT_INDEX_OFFLINE, T0 + 3000, 7, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, b, &l), "d1,d2");
	d = mat_index_get(idx, "d3");
	assert_int_equal(d->status, MAT_INDEX_OFFLINE);
	assert_true(d->cell == 0);
	assert_true(d->pos.lat == here.lat);
	apply(idx, "d3", here, 0, MAT_INDEX_AVAILABLE, T0 + 4000, 8, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, a, &l), "d3");
	assert_true(mat_index_get(idx, "d3")->cell == a);

	mat_index_stats(idx, &st);
	assert_int_equal(st.drivers, 3);
	assert_int_equal(st.cells, 2);
	assert_int_equal(st.applied, 9);
	assert_int_equal(st.older, 0);
	assert_int_equal(st.claimed, 0);
	/* a cell at another resolution lists nothing */
	assert_string_equal(listed(idx, cell_of(here, RES - 1), &l), "");
	mat_index_destroy(idx);
}

static void
test_older_updates_are_ignored(void **state)
{
	mat_index_t *idx = new_index(RES);
	struct mat_geo_point here = cairo, there = offset_m(cairo, 3000, 0);
	H3Index a = cell_of(here, RES), b = cell_of(there, RES);
	const int64_t *offsets;
	mat_index_stats_t st;
	struct listing l;
	size_t n;

	(void)state;
	apply(idx, "d1", here, 5, MAT_INDEX_AVAILABLE, T0 + 2000, 0, MAT_INDEX_APPLIED);
	/* a replay of older events: neither the move nor going offline happens */
	apply(idx, "d1", there, 9, MAT_INDEX_AVAILABLE, T0 + 1000, 1, MAT_INDEX_OLDER);
	apply(idx, "d1", there, 9, MAT_INDEX_OFFLINE, T0 + 1999, 2, MAT_INDEX_OLDER);
	assert_string_equal(listed(idx, a, &l), "d1");
	assert_string_equal(listed(idx, b, &l), "");
	assert_true(mat_index_get(idx, "d1")->speed_mps == 5);
	assert_true(mat_index_get(idx, "d1")->ts_ms == T0 + 2000);
	/* their offsets count as applied */
	offsets = mat_index_offsets(idx, &n);
	assert_int_equal(n, 1);
	assert_int_equal(offsets[0], 3);
	/* the same time applies */
	apply(idx, "d1", there, 9, MAT_INDEX_AVAILABLE, T0 + 2000, 3, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, b, &l), "d1");
	mat_index_stats(idx, &st);
	assert_int_equal(st.applied, 2);
	assert_int_equal(st.older, 2);
	mat_index_destroy(idx);
}

static void
test_stale_and_claimed_drivers_are_not_offered(void **state)
{
	mat_index_t *idx = new_index(RES);
	H3Index a = cell_of(cairo, RES);
	const mat_index_driver_t *d;
	mat_index_stats_t st;
	struct listing l;
	char err[256];

	(void)state;
	apply(idx, "d1", cairo, 5, MAT_INDEX_AVAILABLE, T0, 0, MAT_INDEX_APPLIED);
	apply(idx, "d2", cairo, 5, MAT_INDEX_BUSY, T0, 1, MAT_INDEX_APPLIED);
	d = mat_index_get(idx, "d1");
	assert_true(mat_index_offerable(idx, d, T0 + STALE_MS));
	assert_false(mat_index_offerable(idx, d, T0 + STALE_MS + 1));
	/* an update from the caller's future is fresh */
	assert_true(mat_index_offerable(idx, d, T0 - 5000));
	assert_false(mat_index_offerable(idx, mat_index_get(idx, "d2"), T0));
	assert_int_equal(mat_index_supply(idx, a, T0 + STALE_MS), 1);
	assert_int_equal(mat_index_supply(idx, a, T0 + STALE_MS + 1), 0);

	/* claimed: not offered until released; claims are a set */
	assert_int_equal(mat_index_claim(idx, "d1", err, sizeof(err)), 0);
	assert_int_equal(mat_index_claim(idx, "d1", err, sizeof(err)), 0);
	assert_true(mat_index_claimed(idx, "d1"));
	assert_false(mat_index_offerable(idx, mat_index_get(idx, "d1"), T0));
	assert_int_equal(mat_index_supply(idx, a, T0), 0);
	mat_index_stats(idx, &st);
	assert_int_equal(st.claimed, 1);
	mat_index_release(idx, "d1");
	mat_index_release(idx, "d1");
	mat_index_release(idx, "nobody");
	assert_false(mat_index_claimed(idx, "d1"));
	assert_false(mat_index_claimed(idx, "nobody"));
	assert_int_equal(mat_index_supply(idx, a, T0), 1);
	mat_index_stats(idx, &st);
	assert_int_equal(st.claimed, 0);

	/* a claim may come before the driver's first location; it outlives updates */
	assert_int_equal(mat_index_claim(idx, "d3", err, sizeof(err)), 0);
	d = mat_index_get(idx, "d3");
	assert_non_null(d);
	assert_true(d->claimed);
	assert_true(d->ts_ms == MAT_INDEX_NEVER);
	assert_int_equal(d->status, MAT_INDEX_OFFLINE);
	assert_true(d->cell == 0);
	apply(idx, "d3", cairo, 5, MAT_INDEX_AVAILABLE, T0, 2, MAT_INDEX_APPLIED);
	assert_string_equal(listed(idx, a, &l), "d1,d2,d3");
	assert_true(mat_index_claimed(idx, "d3"));
	assert_int_equal(mat_index_supply(idx, a, T0), 1);

	assert_int_equal(mat_index_claim(idx, "", err, sizeof(err)), -1);
	assert_string_equal(err, "driver_id: \"\" is not an identifier");
	assert_int_equal(mat_index_claim(idx, "no spaces", err, sizeof(err)), -1);
	assert_string_equal(err, "driver_id: \"no spaces\" is not an identifier");
	mat_index_destroy(idx);
}

static void
test_offsets_per_partition(void **state)
{
	mat_index_t *idx = new_index(RES);
	const int64_t *offsets;
	size_t n;
	char err[256];
	mat_index_update_t bad = {"d9", {91, 0}, 0, MAT_INDEX_AVAILABLE, T0, 1, 100};

	(void)state;
	offsets = mat_index_offsets(idx, &n);
	assert_int_equal(n, 0);
	apply_at(idx, "d1", cairo, 0, MAT_INDEX_AVAILABLE, T0, 3, 10, MAT_INDEX_APPLIED,
		 __LINE__);
	apply_at(idx, "d2", cairo, 0, MAT_INDEX_AVAILABLE, T0, 0, 5, MAT_INDEX_APPLIED,
		 __LINE__);
	offsets = mat_index_offsets(idx, &n);
	assert_int_equal(n, 4);
	assert_int_equal(offsets[0], 6);
	assert_int_equal(offsets[1], 0);
	assert_int_equal(offsets[2], 0);
	assert_int_equal(offsets[3], 11);
	/* a replay from an earlier offset does not move the offset back */
	apply_at(idx, "d3", cairo, 0, MAT_INDEX_AVAILABLE, T0, 3, 7, MAT_INDEX_APPLIED,
		 __LINE__);
	offsets = mat_index_offsets(idx, &n);
	assert_int_equal(offsets[3], 11);
	/* an older update's offset counts */
	apply_at(idx, "d1", cairo, 0, MAT_INDEX_AVAILABLE, T0 - 1, 3, 11, MAT_INDEX_OLDER,
		 __LINE__);
	offsets = mat_index_offsets(idx, &n);
	assert_int_equal(offsets[3], 12);
	/* a bad update's does not */
	assert_int_equal(mat_index_apply(idx, &bad, err, sizeof(err)), MAT_INDEX_ERROR);
	offsets = mat_index_offsets(idx, &n);
	assert_int_equal(n, 4);
	assert_int_equal(offsets[1], 0);
	mat_index_destroy(idx);
}

static void
test_bad_updates_change_nothing(void **state)
{
	static const char long_id[] =
	    "a1234567890123456789012345678901234567890123456789012345678901234";
	static const struct {
		const char *id;
		double lat, lng, speed;
		int status;
		int64_t ts;
		int32_t partition;
		int64_t offset;
		const char *err;
	} cases[] = {
	    {"", 30, 31, 0, MAT_INDEX_AVAILABLE, T0, 0, 0,
	     "driver_id: \"\" is not an identifier"},
	    {NULL, 30, 31, 0, MAT_INDEX_AVAILABLE, T0, 0, 0,
	     "driver_id: \"\" is not an identifier"},
	    {long_id, 30, 31, 0, MAT_INDEX_AVAILABLE, T0, 0, 0,
	     "driver_id: \"a123456789012345678901234567890123456789012345678901234567890"
	     "1234\" is not an identifier"},
	    {"-d1", 30, 31, 0, MAT_INDEX_AVAILABLE, T0, 0, 0,
	     "driver_id: \"-d1\" is not an identifier"},
	    {"d1", 91, 31, 0, MAT_INDEX_AVAILABLE, T0, 0, 0,
	     "lat 91 out of range [-90, 90]"},
	    {"d1", 30, NAN, 0, MAT_INDEX_OFFLINE, T0, 0, 0,
	     "lng nan out of range [-180, 180]"},
	    {"d1", 30, 31, -1, MAT_INDEX_AVAILABLE, T0, 0, 0,
	     "speed_mps: must be from 0 to 100, got -1"},
	    {"d1", 30, 31, 100.5, MAT_INDEX_BUSY, T0, 0, 0,
	     "speed_mps: must be from 0 to 100, got 100.5"},
	    {"d1", 30, 31, 0, 7, T0, 0, 0, "status: unknown value 7"},
	    {"d1", 30, 31, 0, MAT_INDEX_AVAILABLE, -1, 0, 0,
	     "ts_ms: must be 0 or more, got -1"},
	    {"d1", 30, 31, 0, MAT_INDEX_AVAILABLE, T0, -1, 0,
	     "partition: must be from 0 to 4095, got -1"},
	    {"d1", 30, 31, 0, MAT_INDEX_AVAILABLE, T0, 4096, 0,
	     "partition: must be from 0 to 4095, got 4096"},
	    {"d1", 30, 31, 0, MAT_INDEX_AVAILABLE, T0, 0, -1,
	     "offset: must be from 0 to 9223372036854775806, got -1"},
	    {"d1", 30, 31, 0, MAT_INDEX_AVAILABLE, T0, 0, INT64_MAX,
	     "offset: must be from 0 to 9223372036854775806, got 9223372036854775807"},
	};
	mat_index_t *idx = new_index(RES);
	mat_index_stats_t st;
	size_t n;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mat_index_update_t u = {
		    cases[i].id,    {cases[i].lat, cases[i].lng},
		    cases[i].speed, (mat_index_status_t)cases[i].status,
		    cases[i].ts,    cases[i].partition,
		    cases[i].offset};

		err[0] = '\0';
		assert_int_equal(mat_index_apply(idx, &u, err, sizeof(err)),
				 MAT_INDEX_ERROR);
		assert_string_equal(err, cases[i].err);
	}
	mat_index_stats(idx, &st);
	assert_int_equal(st.drivers, 0);
	assert_int_equal(st.cells, 0);
	assert_int_equal(st.applied, 0);
	mat_index_offsets(idx, &n);
	assert_int_equal(n, 0);
	/* 64 characters are fine, and 100 m/s */
	apply(idx, long_id + 1, cairo, 100, MAT_INDEX_BUSY, T0, 0, MAT_INDEX_APPLIED);
	mat_index_destroy(idx);
}

static void
test_supply_counts_offerable_drivers(void **state)
{
	mat_index_t *idx = new_index(RES);
	struct mat_geo_point far = offset_m(cairo, 0, 4000);
	H3Index a = cell_of(cairo, RES), b = cell_of(far, RES);
	char err[256];

	(void)state;
	apply(idx, "s1", cairo, 0, MAT_INDEX_AVAILABLE, T0, 0, MAT_INDEX_APPLIED);
	apply(idx, "s2", cairo, 0, MAT_INDEX_AVAILABLE, T0 - 1000, 1, MAT_INDEX_APPLIED);
	apply(idx, "s3", cairo, 0, MAT_INDEX_BUSY, T0, 2, MAT_INDEX_APPLIED);
	apply(idx, "s4", cairo, 0, MAT_INDEX_OFFLINE, T0, 3, MAT_INDEX_APPLIED);
	apply(idx, "s5", cairo, 0, MAT_INDEX_AVAILABLE, T0 - STALE_MS - 1, 4,
	      MAT_INDEX_APPLIED);
	apply(idx, "s6", cairo, 0, MAT_INDEX_AVAILABLE, T0, 5, MAT_INDEX_APPLIED);
	apply(idx, "s7", far, 0, MAT_INDEX_AVAILABLE, T0, 6, MAT_INDEX_APPLIED);
	assert_int_equal(mat_index_claim(idx, "s6", err, sizeof(err)), 0);
	assert_int_equal(mat_index_supply(idx, a, T0), 2);
	assert_int_equal(mat_index_supply(idx, b, T0), 1);
	/* s2 goes stale a second before s1 */
	assert_int_equal(mat_index_supply(idx, a, T0 + STALE_MS - 999), 1);
	assert_int_equal(
	    mat_index_supply(idx, cell_of(offset_m(cairo, 8000, 0), RES), T0), 0);
	assert_int_equal(mat_index_supply(idx, cell_of(cairo, RES - 1), T0), 0);
	mat_index_destroy(idx);
}

/* Applies n busy readings of speed in partition 0 (driver "h<tag>-<i>"), at ts. */
static void
busy_readings(mat_index_t *idx, const char *tag, struct mat_geo_point p, int n,
	      double speed, int64_t ts)
{
	char id[32];

	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "h%s-%d", tag, i);
		apply(idx, id, p, speed, MAT_INDEX_BUSY, ts, 0, MAT_INDEX_APPLIED);
	}
}

static void
test_traffic_hints(void **state)
{
	mat_index_t *idx = new_index(RES);
	struct mat_geo_point p = cairo, q = offset_m(cairo, 3000, 0),
			     r = offset_m(cairo, -3000, 0);
	H3Index a = cell_of(p, RES), c = cell_of(q, RES), z = cell_of(r, RES);
	mat_eta_hint_t hint;

	(void)state;
	assert_true(mat_index_hint_max(idx) == 0);
	assert_false(mat_index_hint(idx, a, T0, &hint));
	/* busy readings make the hint; available drivers do not count */
	apply(idx, "x1", p, 10, MAT_INDEX_BUSY, T0, 0, MAT_INDEX_APPLIED);
	apply(idx, "x2", p, 20, MAT_INDEX_BUSY, T0 + 1000, 0, MAT_INDEX_APPLIED);
	apply(idx, "x3", p, 50, MAT_INDEX_AVAILABLE, T0 + 1000, 0, MAT_INDEX_APPLIED);
	assert_true(mat_index_hint(idx, a, T0 + 1000, &hint));
	assert_true(hint.speed_mps == 15);
	assert_int_equal(hint.samples, 2);
	assert_true(mat_index_hint_max(idx) == 16);
	/* only while the newest reading is recent */
	assert_true(mat_index_hint(idx, a, T0 + 1000 + STALE_MS, &hint));
	assert_false(mat_index_hint(idx, a, T0 + 1001 + STALE_MS, &hint));

	/* a full window, then an exponentially weighted mean */
	busy_readings(idx, "c", q, MAT_INDEX_HINT_WINDOW, 8, T0);
	assert_true(mat_index_hint(idx, c, T0, &hint));
	assert_true(hint.speed_mps == 8);
	assert_int_equal(hint.samples, MAT_INDEX_HINT_WINDOW);
	apply(idx, "hc-0", q, 8 + MAT_INDEX_HINT_WINDOW, MAT_INDEX_BUSY, T0, 0,
	      MAT_INDEX_APPLIED);
	assert_true(mat_index_hint(idx, c, T0, &hint));
	assert_true(hint.speed_mps == 9);
	assert_int_equal(hint.samples, MAT_INDEX_HINT_WINDOW);
	/* a reading after a quiet spell starts afresh */
	apply(idx, "hc-1", q, 30, MAT_INDEX_BUSY, T0 + STALE_MS + 1, 0,
	      MAT_INDEX_APPLIED);
	assert_true(mat_index_hint(idx, c, T0 + STALE_MS + 1, &hint));
	assert_true(hint.speed_mps == 30);
	assert_int_equal(hint.samples, 1);
	assert_true(mat_index_hint_max(idx) == 31);
	/* the bound comes down with the fastest mean */
	apply(idx, "hc-2", q, 2, MAT_INDEX_BUSY, T0 + STALE_MS + 1, 0, MAT_INDEX_APPLIED);
	assert_true(mat_index_hint(idx, c, T0 + STALE_MS + 1, &hint));
	assert_true(hint.speed_mps == 16);
	assert_true(mat_index_hint_max(idx) == 17);
	apply(idx, "hc-3", q, 0, MAT_INDEX_BUSY, T0 + STALE_MS + 1, 0, MAT_INDEX_APPLIED);
	assert_true(mat_index_hint_max(idx) == 16); /* cell a's 15 */

	/* a standstill is the slowest speed the model takes */
	busy_readings(idx, "z", r, 3, 0, T0);
	assert_true(mat_index_hint(idx, z, T0, &hint));
	assert_true(hint.speed_mps == MAT_ETA_MIN_MPS);
	assert_int_equal(hint.samples, 3);
	mat_index_destroy(idx);
}

/* The newest update of one driver, as the random stream test keeps it. */
struct model_driver {
	char id[24];
	int32_t partition;
	bool seen;
	struct mat_geo_point pos;
	mat_index_status_t status;
	int64_t ts;
};

/* Counts the drivers a cell lists and checks that each says it is in that cell. */
struct cell_check {
	H3Index cell;
	size_t n;
};

static void
check_listed(const mat_index_driver_t *d, void *opaque)
{
	struct cell_check *c = opaque;

	assert_true(d->cell == c->cell);
	assert_int_not_equal(d->status, MAT_INDEX_OFFLINE);
	c->n++;
}

static int
cmp_cell(const void *a, const void *b)
{
	H3Index x = *(const H3Index *)a, y = *(const H3Index *)b;

	return (x > y) - (x < y);
}

static void
test_random_stream_matches_model(void **state)
{
	enum { DRIVERS = 3000, UPDATES = 100000, PARTITIONS = 8, MODEL_RES = 7 };
	struct model_driver *m = calloc(DRIVERS, sizeof(*m));
	H3Index *cells = calloc(DRIVERS, sizeof(*cells));
	int64_t next[PARTITIONS] = {0};
	mat_index_t *idx = new_index(MODEL_RES);
	const int64_t *offsets;
	mat_index_stats_t st;
	uint64_t seed = 7;
	size_t n, n_cells = 0, listed_total = 0, online = 0;
	char err[256];

	(void)state;
	assert_non_null(m);
	assert_non_null(cells);
	for (int i = 0; i < DRIVERS; i++) {
		snprintf(m[i].id, sizeof(m[i].id), "drv-%d", i);
		m[i].partition = (int32_t)(next_random(&seed) % PARTITIONS);
	}
	for (int k = 0; k < UPDATES; k++) {
		int i = (int)(next_random(&seed) % DRIVERS);
		uint64_t s = next_random(&seed) % 10;
		double dn = uniform(&seed, -5000, 5000), de = uniform(&seed, -5000, 5000);
		double speed = uniform(&seed, 0, 30);
		/* later on the whole, but jumbled: a driver's updates come about 30 s
		 * apart, give or take a minute */
		int64_t ts = T0 + 10 * k + (int64_t)(next_random(&seed) % 60000);
		mat_index_update_t u = {m[i].id,
					offset_m(cairo, dn, de),
					speed,
					s < 5	? MAT_INDEX_AVAILABLE
					: s < 8 ? MAT_INDEX_BUSY
						: MAT_INDEX_OFFLINE,
					ts,
					m[i].partition,
					next[m[i].partition]++};
		mat_index_outcome_t got = mat_index_apply(idx, &u, err, sizeof(err));

		if (got == MAT_INDEX_ERROR)
			fail_msg("apply: %s", err);
		assert_int_equal(got, m[i].seen && u.ts_ms < m[i].ts ? MAT_INDEX_OLDER
								     : MAT_INDEX_APPLIED);
		if (got == MAT_INDEX_APPLIED) {
			m[i].seen = true;
			m[i].pos = u.pos;
			m[i].status = u.status;
			m[i].ts = u.ts_ms;
		}
	}

	for (int i = 0; i < DRIVERS; i++) {
		const mat_index_driver_t *d = mat_index_get(idx, m[i].id);

		if (!m[i].seen) {
			assert_null(d);
			continue;
		}
		assert_non_null(d);
		assert_true(d->pos.lat == m[i].pos.lat && d->pos.lng == m[i].pos.lng);
		assert_int_equal(d->status, m[i].status);
		assert_true(d->ts_ms == m[i].ts);
		if (m[i].status == MAT_INDEX_OFFLINE) {
			assert_true(d->cell == 0);
			continue;
		}
		assert_true(d->cell == cell_of(m[i].pos, MODEL_RES));
		cells[n_cells++] = d->cell;
		online++;
	}
	/* every cell lists exactly the online drivers in it */
	qsort(cells, n_cells, sizeof(*cells), cmp_cell);
	for (size_t i = 0, j; i < n_cells; i = j) {
		struct cell_check c = {cells[i], 0};

		for (j = i; j < n_cells && cells[j] == cells[i]; j++)
			;
		assert_int_equal(mat_index_cell_drivers(idx, cells[i], check_listed, &c),
				 j - i);
		listed_total += c.n;
	}
	assert_int_equal(listed_total, online);
	offsets = mat_index_offsets(idx, &n);
	assert_int_equal(n, PARTITIONS);
	for (int p = 0; p < PARTITIONS; p++)
		assert_int_equal(offsets[p], next[p]);
	mat_index_stats(idx, &st);
	assert_int_equal(st.applied + st.older, UPDATES);
	assert_true(st.older > 0);
	print_message("random stream: %d drivers, %zu online in %zu cells, %" PRId64
		      " updates older than their driver's last\n",
		      DRIVERS, online, st.cells, st.older);
	mat_index_destroy(idx);
	free(cells);
	free(m);
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
	enum { DRIVERS = 100000, UPDATES = 1000000 };
	char(*ids)[24] = calloc(DRIVERS, sizeof(*ids));
	mat_index_update_t *u = calloc(UPDATES, sizeof(*u));
	mat_index_t *idx = new_index(MAT_INDEX_RES_DEFAULT);
	mat_index_stats_t st;
	struct timespec t0;
	uint64_t seed = 11;
	double secs;
	char err[256];

	(void)state;
	assert_non_null(ids);
	assert_non_null(u);
	for (int i = 0; i < DRIVERS; i++)
		snprintf(ids[i], sizeof(ids[i]), "driver-%d", i);
	/* a 20 km box; every driver in turn, then random ones, time moving on */
	for (int k = 0; k < UPDATES; k++) {
		uint64_t s = next_random(&seed) % 10;
		int i = k < DRIVERS ? k : (int)(next_random(&seed) % DRIVERS);
		double dn = uniform(&seed, -10000, 10000),
		       de = uniform(&seed, -10000, 10000);
		double speed = uniform(&seed, 0, 25);

		u[k] = (mat_index_update_t){
		    ids[i],
		    offset_m(cairo, dn, de),
		    speed,
		    s < 6 ? MAT_INDEX_AVAILABLE : s < 9 ? MAT_INDEX_BUSY : MAT_INDEX_OFFLINE,
		    T0 + k / 10,
		    k % 16,
		    k / 16};
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < UPDATES; k++)
		if (mat_index_apply(idx, &u[k], err, sizeof(err)) != MAT_INDEX_APPLIED)
			fail_msg("update %d: %s", k, err);
	secs = seconds_since(&t0);
	mat_index_stats(idx, &st);
	assert_int_equal(st.drivers, DRIVERS);
	print_message("speed: %d updates of %d drivers in %.3f s: %.0f updates/s; "
		      "%zu cells, %.0f bytes per driver\n",
		      UPDATES, DRIVERS, secs, UPDATES / secs, st.cells,
		      (double)st.bytes / DRIVERS);
	mat_index_destroy(idx);
	free(u);
	free(ids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_checks_arguments),
	    cmocka_unit_test(test_apply_move_and_offline),
	    cmocka_unit_test(test_older_updates_are_ignored),
	    cmocka_unit_test(test_stale_and_claimed_drivers_are_not_offered),
	    cmocka_unit_test(test_offsets_per_partition),
	    cmocka_unit_test(test_bad_updates_change_nothing),
	    cmocka_unit_test(test_supply_counts_offerable_drivers),
	    cmocka_unit_test(test_traffic_hints),
	    cmocka_unit_test(test_random_stream_matches_model),
	    cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
