/*
 * mat_eta: see mat_eta.h.
 */
#include "mat_eta.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "souk_json.h"

#define HOURS 24
/* The text form's version, "format" in the JSON. */
#define FORMAT 1

/* An (area, hour) bucket with a speed of its own. */
struct mat_eta_bucket {
	int64_t area;
	int hour;
	double speed;  /* MAT_ETA_MIN_MPS..MAT_ETA_MAX_MPS */
	int64_t trips; /* >= min_trips */
};

/*
 * Invariants: every speed is within MAT_ETA_MIN_MPS..MAT_ETA_MAX_MPS, detour within
 * 1..MAT_ETA_MAX_DETOUR; hour_trips[h] is 0 (no bucket: fall back) or >= min_trips;
 * areas is sorted by (area, hour) without duplicates; id hashes all the rest.
 */
struct mat_eta {
	char id[MAT_ETA_ID_SIZE];
	int64_t min_trips;
	double min_straight_m;
	double hint_half;
	int64_t trips;
	int64_t skipped;
	double detour;
	int64_t detour_trips;
	double speed;
	double hour_speed[HOURS];
	int64_t hour_trips[HOURS];
	struct mat_eta_bucket *areas;
	size_t n_areas;
};

/* A usable trip's bucket keys and road speed, while fitting. */
struct mat_eta_sample {
	int64_t area;
	int hour;
	double speed;
};

void
mat_eta_params_default(mat_eta_params_t *p)
{
	p->min_trips = 30;
	p->min_straight_m = 100;
	p->default_detour = 1.3;
	p->hint_half = 10;
}

/* ---- trips ------------------------------------------------------------------------ */

/* Whether t's road distance is believable: from the straight line to MAX_DETOUR times
 * it (false for 0, "unknown", and for NaN). */
static bool
mat_eta_road_known(const mat_eta_trip_t *t)
{
	return t->road_m >= t->straight_m &&
	       t->road_m <= MAT_ETA_MAX_DETOUR * t->straight_m;
}

/* Whether t is usable (mat_eta.h) when trips without a road distance drive
 * straight_m * detour; *speed = its road speed. Comparisons are written so that NaN
 * fails them. */
static bool
mat_eta_usable(const mat_eta_trip_t *t, double min_straight_m, double detour,
	       double *speed)
{
	double road;

	if (t->hour < 0 || t->hour >= HOURS || !(t->straight_m > 0) ||
	    !(t->straight_m >= min_straight_m) || !isfinite(t->straight_m) ||
	    !(t->duration_s > 0) || !isfinite(t->duration_s))
		return false;
	road = mat_eta_road_known(t) ? t->road_m : t->straight_m * detour;
	*speed = road / t->duration_s;
	return *speed >= MAT_ETA_MIN_MPS && *speed <= MAT_ETA_MAX_MPS;
}

/* ---- fitting ---------------------------------------------------------------------- */

static int
mat_eta_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
mat_eta_cmp_speed(const void *a, const void *b)
{
	const struct mat_eta_sample *x = a, *y = b;

	return (x->speed > y->speed) - (x->speed < y->speed);
}

static int
mat_eta_cmp_hour_speed(const void *a, const void *b)
{
	const struct mat_eta_sample *x = a, *y = b;

	if (x->hour != y->hour)
		return x->hour < y->hour ? -1 : 1;
	return mat_eta_cmp_speed(a, b);
}

static int
mat_eta_cmp_area_hour_speed(const void *a, const void *b)
{
	const struct mat_eta_sample *x = a, *y = b;

	if (x->area != y->area)
		return x->area < y->area ? -1 : 1;
	return mat_eta_cmp_hour_speed(a, b);
}

/* The median of v[0..n), sorted, n >= 1: the middle value or the mean of the two. */
static double
mat_eta_median(const double *v, size_t n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median speed of run[0..n), sorted by speed, n >= 1. */
static double
mat_eta_run_median(const struct mat_eta_sample *run, size_t n)
{
	return n % 2 ? run[n / 2].speed : (run[n / 2 - 1].speed + run[n / 2].speed) / 2;
}

/* x rounded to a multiple of 1/scale. Rounding keeps the model's ranges: their
 * bounds are such multiples. */
static double
mat_eta_round(double x, double scale)
{
	return round(x * scale) / scale;
}

/* The end of the run that starts at s[i]: the first j > i with other keys. */
static size_t
mat_eta_run_end(const struct mat_eta_sample *s, size_t n, size_t i, bool by_area)
{
	size_t j = i + 1;

	while (j < n && s[j].hour == s[i].hour && (!by_area || s[j].area == s[i].area))
		j++;
	return j;
}

/* FNV-1a, 64 bits, over v as 8 little-endian bytes. */
static uint64_t
mat_eta_hash_u64(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* A double by its bits; + 0.0 makes -0.0 hash like 0.0. */
static uint64_t
mat_eta_hash_double(uint64_t h, double v)
{
	uint64_t bits;

	v += 0.0;
	memcpy(&bits, &v, sizeof(bits));
	return mat_eta_hash_u64(h, bits);
}

/* Sets m->id from every other field. O(buckets). */
static void
mat_eta_set_id(struct mat_eta *m)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	h = mat_eta_hash_u64(h, FORMAT);
	h = mat_eta_hash_u64(h, (uint64_t)m->min_trips);
	h = mat_eta_hash_double(h, m->min_straight_m);
	h = mat_eta_hash_double(h, m->hint_half);
	h = mat_eta_hash_u64(h, (uint64_t)m->trips);
	h = mat_eta_hash_u64(h, (uint64_t)m->skipped);
	h = mat_eta_hash_double(h, m->detour);
	h = mat_eta_hash_u64(h, (uint64_t)m->detour_trips);
	h = mat_eta_hash_double(h, m->speed);
	for (int hour = 0; hour < HOURS; hour++) {
		h = mat_eta_hash_u64(h, (uint64_t)m->hour_trips[hour]);
		if (m->hour_trips[hour])
			h = mat_eta_hash_double(h, m->hour_speed[hour]);
	}
	h = mat_eta_hash_u64(h, m->n_areas);
	for (size_t i = 0; i < m->n_areas; i++) {
		h = mat_eta_hash_u64(h, (uint64_t)m->areas[i].area);
		h = mat_eta_hash_u64(h, (uint64_t)m->areas[i].hour);
		h = mat_eta_hash_double(h, m->areas[i].speed);
		h = mat_eta_hash_u64(h, (uint64_t)m->areas[i].trips);
	}
	snprintf(m->id, sizeof(m->id), "%016" PRIx64, h);
}

static int
mat_eta_params_check(const mat_eta_params_t *p, char *errstr, size_t errstr_size)
{
	if (p->min_trips < 1) {
		snprintf(errstr, errstr_size,
			 "min_trips: must be 1 or more, got %" PRId64, p->min_trips);
		return -1;
	}
	if (!(p->min_straight_m >= 0) || !isfinite(p->min_straight_m)) {
		snprintf(errstr, errstr_size, "min_straight_m: must be 0 or more, got %g",
			 p->min_straight_m);
		return -1;
	}
	if (!(p->default_detour >= 1 && p->default_detour <= MAT_ETA_MAX_DETOUR)) {
		snprintf(errstr, errstr_size,
			 "default_detour: must be from 1 to %g, got %g",
			 MAT_ETA_MAX_DETOUR, p->default_detour);
		return -1;
	}
	if (!(p->hint_half >= 0) || !isfinite(p->hint_half)) {
		snprintf(errstr, errstr_size, "hint_half: must be 0 or more, got %g",
			 p->hint_half);
		return -1;
	}
	return 0;
}

int
mat_eta_fit(const mat_eta_trip_t *trips, size_t n, const mat_eta_params_t *params,
	    mat_eta_t **model, char *errstr, size_t errstr_size)
{
	struct mat_eta *m = NULL;
	double *ratios = NULL;
	struct mat_eta_sample *s = NULL;
	size_t n_ratios = 0, n_s = 0, i, j;
	double speed;
	int rc = -1;

	*model = NULL;
	if (mat_eta_params_check(params, errstr, errstr_size))
		goto out;
	m = calloc(1, sizeof(*m));
	ratios = malloc((n ? n : 1) * sizeof(*ratios));
	s = malloc((n ? n : 1) * sizeof(*s));
	if (!m || !ratios || !s) {
		snprintf(errstr, errstr_size, "could not fit eta model: out of memory");
		goto out;
	}
	m->min_trips = params->min_trips;
	m->min_straight_m = params->min_straight_m;
	m->hint_half = params->hint_half;

	/* The detour, from the usable trips that know their road distance (their speed
	 * does not depend on the detour, so 1.0 stands in). */
	for (i = 0; i < n; i++)
		if (mat_eta_road_known(&trips[i]) &&
		    mat_eta_usable(&trips[i], m->min_straight_m, 1.0, &speed))
			ratios[n_ratios++] = trips[i].road_m / trips[i].straight_m;
	if (n_ratios >= (size_t)m->min_trips) {
		qsort(ratios, n_ratios, sizeof(*ratios), mat_eta_cmp_double);
		m->detour = mat_eta_round(mat_eta_median(ratios, n_ratios), 1e4);
		m->detour_trips = (int64_t)n_ratios;
	} else {
		m->detour = params->default_detour;
	}

	for (i = 0; i < n; i++) {
		if (!mat_eta_usable(&trips[i], m->min_straight_m, m->detour, &speed)) {
			m->skipped++;
			continue;
		}
		s[n_s++] = (struct mat_eta_sample){trips[i].area, trips[i].hour, speed};
	}
	m->trips = (int64_t)n_s;
	if (n_s < (size_t)m->min_trips) {
		snprintf(
		    errstr, errstr_size,
		    "could not fit eta model: %zu usable trips of %zu, need at least "
		    "min_trips (%" PRId64 ")",
		    n_s, n, m->min_trips);
		goto out;
	}

	/* (area, hour) buckets: runs of the samples sorted by area, hour and speed. There
	 * are at most n_s / min_trips of them. */
	m->areas = malloc((n_s / (size_t)m->min_trips) * sizeof(*m->areas));
	if (!m->areas) {
		snprintf(errstr, errstr_size, "could not fit eta model: out of memory");
		goto out;
	}
	qsort(s, n_s, sizeof(*s), mat_eta_cmp_area_hour_speed);
	for (i = 0; i < n_s; i = j) {
		j = mat_eta_run_end(s, n_s, i, true);
		if (j - i >= (size_t)m->min_trips)
			m->areas[m->n_areas++] = (struct mat_eta_bucket){
			    s[i].area, s[i].hour,
			    mat_eta_round(mat_eta_run_median(&s[i], j - i), 1e3),
			    (int64_t)(j - i)};
	}
	/* Hour buckets, the same way. */
	qsort(s, n_s, sizeof(*s), mat_eta_cmp_hour_speed);
	for (i = 0; i < n_s; i = j) {
		j = mat_eta_run_end(s, n_s, i, false);
		if (j - i >= (size_t)m->min_trips) {
			m->hour_speed[s[i].hour] =
			    mat_eta_round(mat_eta_run_median(&s[i], j - i), 1e3);
			m->hour_trips[s[i].hour] = (int64_t)(j - i);
		}
	}
	qsort(s, n_s, sizeof(*s), mat_eta_cmp_speed);
	m->speed = mat_eta_round(mat_eta_run_median(s, n_s), 1e3);
	mat_eta_set_id(m);
	*model = m;
	m = NULL; /* the caller's now */
	rc = 0;
out:
	mat_eta_destroy(m);
	free(ratios);
	free(s);
	return rc;
}

void
mat_eta_destroy(mat_eta_t *model)
{
	if (!model)
		return;
	free(model->areas);
	free(model);
}

const char *
mat_eta_id(const mat_eta_t *model)
{
	return model->id;
}

void
mat_eta_summarize(const mat_eta_t *model, mat_eta_summary_t *out)
{
	memset(out, 0, sizeof(*out));
	out->trips = model->trips;
	out->skipped = model->skipped;
	out->detour = model->detour;
	out->detour_trips = model->detour_trips;
	out->speed = model->speed;
	for (int h = 0; h < HOURS; h++)
		out->hours += model->hour_trips[h] != 0;
	out->areas = model->n_areas;
}

/* ---- prediction ------------------------------------------------------------------- */

double
mat_eta_speed(const mat_eta_t *model, int64_t area, int hour, mat_eta_level_t *level)
{
	mat_eta_level_t found = MAT_ETA_LEVEL_ALL;
	double speed = model->speed;
	size_t lo = 0, hi = model->n_areas;

	if (hour < 0 || hour >= HOURS)
		return -1;
	/* Binary search for (area, hour) in [lo, hi). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mat_eta_bucket *b = &model->areas[mid];

		if (b->area < area || (b->area == area && b->hour < hour)) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo < model->n_areas && model->areas[lo].area == area &&
	    model->areas[lo].hour == hour) {
		found = MAT_ETA_LEVEL_AREA;
		speed = model->areas[lo].speed;
	} else if (model->hour_trips[hour]) {
		found = MAT_ETA_LEVEL_HOUR;
		speed = model->hour_speed[hour];
	}
	if (level)
		*level = found;
	return speed;
}

int
mat_eta_predict(const mat_eta_t *model, int64_t area, int hour, double straight_m,
		const mat_eta_hint_t *hint, double *eta_s)
{
	double pace, w;

	if (hour < 0 || hour >= HOURS || !(straight_m >= 0) || !isfinite(straight_m))
		return -1;
	pace = 1.0 / mat_eta_speed(model, area, hour, NULL);
	if (hint && hint->samples > 0 && hint->speed_mps > 0) {
		w = (double)hint->samples / ((double)hint->samples + model->hint_half);
		pace = (1 - w) * pace +
		       w / fmin(fmax(hint->speed_mps, MAT_ETA_MIN_MPS), MAT_ETA_MAX_MPS);
	}
	*eta_s = straight_m * model->detour * pace;
	return 0;
}

int
mat_eta_evaluate(const mat_eta_t *model, const mat_eta_trip_t *trips, size_t n,
		 mat_eta_eval_t *out, char *errstr, size_t errstr_size)
{
	double sum_abs = 0, sum_rel = 0, speed, eta, err;
	int64_t used = 0;

	for (size_t i = 0; i < n; i++) {
		const mat_eta_trip_t *t = &trips[i];

		/* predict accepts every usable trip (valid hour and distance) */
		if (!mat_eta_usable(t, model->min_straight_m, model->detour, &speed) ||
		    mat_eta_predict(model, t->area, t->hour, t->straight_m, NULL, &eta))
			continue;
		err = fabs(eta - t->duration_s);
		sum_abs += err;
		sum_rel += err / t->duration_s;
		used++;
	}
	if (used == 0) {
		snprintf(errstr, errstr_size,
			 "could not evaluate eta model: none of %zu trips is usable", n);
		return -1;
	}
	out->trips = used;
	out->skipped = (int64_t)n - used;
	out->mae_s = sum_abs / (double)used;
	out->mape = 100 * sum_rel / (double)used;
	return 0;
}

/* ---- text form -------------------------------------------------------------------- */

/* v as the shortest decimal that reads back as exactly v (%.17g always does). */
static void
mat_eta_gen_double(yajl_gen g, double v)
{
	char buf[32];

	for (int digits = 15; digits <= 17; digits++) {
		snprintf(buf, sizeof(buf), "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	yajl_gen_number(g, buf, strlen(buf));
}

static void
mat_eta_gen_int(yajl_gen g, const char *key, int64_t v)
{
	souk_json_gen_str(g, key);
	yajl_gen_integer(g, v);
}

int
mat_eta_encode(const mat_eta_t *m, char **text, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t n;
	int rc = -1;

	*text = NULL;
	if (!g)
		goto out;
	yajl_gen_map_open(g);
	mat_eta_gen_int(g, "format", FORMAT);
	souk_json_gen_str(g, "id");
	souk_json_gen_str(g, m->id);
	mat_eta_gen_int(g, "min_trips", m->min_trips);
	souk_json_gen_str(g, "min_straight_m");
	mat_eta_gen_double(g, m->min_straight_m);
	souk_json_gen_str(g, "hint_half");
	mat_eta_gen_double(g, m->hint_half);
	mat_eta_gen_int(g, "trips", m->trips);
	mat_eta_gen_int(g, "skipped", m->skipped);
	souk_json_gen_str(g, "detour");
	mat_eta_gen_double(g, m->detour);
	mat_eta_gen_int(g, "detour_trips", m->detour_trips);
	souk_json_gen_str(g, "speed");
	mat_eta_gen_double(g, m->speed);
	souk_json_gen_str(g, "hours");
	yajl_gen_array_open(g);
	for (int h = 0; h < HOURS; h++) {
		if (!m->hour_trips[h])
			continue;
		yajl_gen_array_open(g);
		yajl_gen_integer(g, h);
		mat_eta_gen_double(g, m->hour_speed[h]);
		yajl_gen_integer(g, m->hour_trips[h]);
		yajl_gen_array_close(g);
	}
	yajl_gen_array_close(g);
	souk_json_gen_str(g, "areas");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < m->n_areas; i++) {
		yajl_gen_array_open(g);
		yajl_gen_integer(g, m->areas[i].area);
		yajl_gen_integer(g, m->areas[i].hour);
		mat_eta_gen_double(g, m->areas[i].speed);
		yajl_gen_integer(g, m->areas[i].trips);
		yajl_gen_array_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok)
		goto out;
	*text = strndup((const char *)buf, n);
	if (!*text)
		goto out;
	*len = n;
	rc = 0;
out:
	if (g)
		yajl_gen_free(g);
	return rc;
}

/* Decoding: every field required, of the right type and range. */

static int
mat_eta_get_int(const souk_json_value_t *obj, const char *name, int64_t min, int64_t *out,
		char *errstr, size_t errstr_size)
{
	const souk_json_value_t *v = souk_json_object_get(obj, name);

	if (!v) {
		snprintf(errstr, errstr_size, "%s: is missing", name);
		return -1;
	}
	if (!souk_json_number_int64(v, out) || *out < min) {
		snprintf(errstr, errstr_size,
			 "%s: must be an integer of at least %" PRId64, name, min);
		return -1;
	}
	return 0;
}

static int
mat_eta_get_double(const souk_json_value_t *obj, const char *name, double min, double max,
		   double *out, char *errstr, size_t errstr_size)
{
	const souk_json_value_t *v = souk_json_object_get(obj, name);

	if (!v) {
		snprintf(errstr, errstr_size, "%s: is missing", name);
		return -1;
	}
	*out = souk_json_number_double(v);
	if (souk_json_type(v) != SOUK_JSON_NUMBER || *out < min || *out > max) {
		if (isinf(max))
			snprintf(errstr, errstr_size,
				 "%s: must be a number of at least %g", name, min);
		else
			snprintf(errstr, errstr_size,
				 "%s: must be a number from %g to %g", name, min, max);
		return -1;
	}
	return 0;
}

/* The bucket list[i], v: [area,] hour, speed, trips. */
static int
mat_eta_get_bucket(const souk_json_value_t *v, const char *list, size_t i, bool with_area,
		   int64_t min_trips, struct mat_eta_bucket *b, char *errstr,
		   size_t errstr_size)
{
	size_t k = with_area ? 1 : 0;
	int64_t hour;

	b->area = 0;
	if (souk_json_array_size(v) != k + 3 ||
	    (with_area && !souk_json_number_int64(souk_json_array_get(v, 0), &b->area)) ||
	    !souk_json_number_int64(souk_json_array_get(v, k), &hour) ||
	    souk_json_type(souk_json_array_get(v, k + 1)) != SOUK_JSON_NUMBER ||
	    !souk_json_number_int64(souk_json_array_get(v, k + 2), &b->trips)) {
		snprintf(errstr, errstr_size, "%s[%zu]: must be [%shour, speed, trips]",
			 list, i, with_area ? "area, " : "");
		return -1;
	}
	b->speed = souk_json_number_double(souk_json_array_get(v, k + 1));
	if (hour < 0 || hour >= HOURS) {
		snprintf(errstr, errstr_size,
			 "%s[%zu]: hour must be from 0 to 23, got %" PRId64, list, i,
			 hour);
		return -1;
	}
	b->hour = (int)hour;
	if (b->speed < MAT_ETA_MIN_MPS || b->speed > MAT_ETA_MAX_MPS) {
		snprintf(errstr, errstr_size,
			 "%s[%zu]: speed must be from %g to %g, got %g", list, i,
			 MAT_ETA_MIN_MPS, MAT_ETA_MAX_MPS, b->speed);
		return -1;
	}
	if (b->trips < min_trips) {
		snprintf(errstr, errstr_size,
			 "%s[%zu]: trips must be at least min_trips (%" PRId64
			 "), got %" PRId64,
			 list, i, min_trips, b->trips);
		return -1;
	}
	return 0;
}

static int
mat_eta_cmp_bucket(const void *a, const void *b)
{
	const struct mat_eta_bucket *x = a, *y = b;

	if (x->area != y->area)
		return x->area < y->area ? -1 : 1;
	return (x->hour > y->hour) - (x->hour < y->hour);
}

int
mat_eta_decode(const char *text, size_t len, mat_eta_t **model, char *errstr,
	       size_t errstr_size)
{
	/* A city's model holds thousands of buckets, each [area, hour, speed, trips]. */
	static const souk_json_limits_t limits = {
	    .max_bytes = 64 << 20, .max_depth = 3, .max_members = 1 << 21};
	souk_json_error_t jerr;
	souk_json_t *doc;
	const souk_json_value_t *root, *hours, *areas, *id;
	struct mat_eta *m = NULL;
	struct mat_eta_bucket b;
	int64_t format;
	int rc = -1;

	*model = NULL;
	doc = souk_json_parse(text, len, &limits, &jerr);
	if (!doc) {
		snprintf(errstr, errstr_size, "could not parse eta model: %s",
			 jerr.message);
		return -1;
	}
	root = souk_json_root(doc);
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(errstr, errstr_size,
			 "could not decode eta model: out of memory");
		goto out;
	}
	if (souk_json_type(root) != SOUK_JSON_OBJECT) {
		snprintf(errstr, errstr_size, "eta model: must be a json object");
		goto out;
	}
	if (mat_eta_get_int(root, "format", 0, &format, errstr, errstr_size))
		goto out;
	if (format != FORMAT) {
		snprintf(errstr, errstr_size,
			 "format: %" PRId64 " is not one this build reads (%d)", format,
			 FORMAT);
		goto out;
	}
	if (mat_eta_get_int(root, "min_trips", 1, &m->min_trips, errstr, errstr_size) ||
	    mat_eta_get_double(root, "min_straight_m", 0, HUGE_VAL, &m->min_straight_m,
			       errstr, errstr_size) ||
	    mat_eta_get_double(root, "hint_half", 0, HUGE_VAL, &m->hint_half, errstr,
			       errstr_size) ||
	    mat_eta_get_int(root, "trips", m->min_trips, &m->trips, errstr,
			    errstr_size) ||
	    mat_eta_get_int(root, "skipped", 0, &m->skipped, errstr, errstr_size) ||
	    mat_eta_get_double(root, "detour", 1, MAT_ETA_MAX_DETOUR, &m->detour, errstr,
			       errstr_size) ||
	    mat_eta_get_int(root, "detour_trips", 0, &m->detour_trips, errstr,
			    errstr_size) ||
	    mat_eta_get_double(root, "speed", MAT_ETA_MIN_MPS, MAT_ETA_MAX_MPS, &m->speed,
			       errstr, errstr_size))
		goto out;

	hours = souk_json_object_get(root, "hours");
	if (!hours || souk_json_type(hours) != SOUK_JSON_ARRAY) {
		snprintf(errstr, errstr_size, "hours: must be an array");
		goto out;
	}
	for (size_t i = 0; i < souk_json_array_size(hours); i++) {
		if (mat_eta_get_bucket(souk_json_array_get(hours, i), "hours", i, false,
				       m->min_trips, &b, errstr, errstr_size))
			goto out;
		if (m->hour_trips[b.hour]) {
			snprintf(errstr, errstr_size,
				 "hours[%zu]: hour %d is listed twice", i, b.hour);
			goto out;
		}
		m->hour_speed[b.hour] = b.speed;
		m->hour_trips[b.hour] = b.trips;
	}

	areas = souk_json_object_get(root, "areas");
	if (!areas || souk_json_type(areas) != SOUK_JSON_ARRAY) {
		snprintf(errstr, errstr_size, "areas: must be an array");
		goto out;
	}
	m->areas = malloc((souk_json_array_size(areas) + 1) * sizeof(*m->areas));
	if (!m->areas) {
		snprintf(errstr, errstr_size,
			 "could not decode eta model: out of memory");
		goto out;
	}
	for (; m->n_areas < souk_json_array_size(areas); m->n_areas++)
		if (mat_eta_get_bucket(souk_json_array_get(areas, m->n_areas), "areas",
				       m->n_areas, true, m->min_trips,
				       &m->areas[m->n_areas], errstr, errstr_size))
			goto out;
	qsort(m->areas, m->n_areas, sizeof(*m->areas), mat_eta_cmp_bucket);
	for (size_t i = 1; i < m->n_areas; i++) {
		if (mat_eta_cmp_bucket(&m->areas[i - 1], &m->areas[i]) == 0) {
			snprintf(errstr, errstr_size,
				 "areas: area %" PRId64 " hour %d is listed twice",
				 m->areas[i].area, m->areas[i].hour);
			goto out;
		}
	}

	mat_eta_set_id(m);
	id = souk_json_object_get(root, "id");
	if (!id || !souk_json_string(id, NULL)) {
		snprintf(errstr, errstr_size, "id: must be a string");
		goto out;
	}
	if (strcmp(souk_json_string(id, NULL), m->id) != 0) {
		snprintf(errstr, errstr_size,
			 "id: \"%.32s\" does not match the model, whose numbers hash to "
			 "\"%s\"",
			 souk_json_string(id, NULL), m->id);
		goto out;
	}
	*model = m;
	m = NULL; /* the caller's now */
	rc = 0;
out:
	mat_eta_destroy(m);
	souk_json_destroy(doc);
	return rc;
}

int
mat_eta_flat(double speed_mps, double detour, mat_eta_t **model, char *errstr,
	     size_t errstr_size)
{
	mat_eta_trip_t trips[30];
	mat_eta_params_t params;

	if (!(speed_mps >= MAT_ETA_MIN_MPS && speed_mps <= MAT_ETA_MAX_MPS) ||
	    !(detour >= 1 && detour <= MAT_ETA_MAX_DETOUR)) {
		snprintf(errstr, errstr_size,
			 "flat model: speed %g m/s must be from %g to %g, detour %g from 1 "
			 "to %g",
			 speed_mps, MAT_ETA_MIN_MPS, MAT_ETA_MAX_MPS, detour,
			 MAT_ETA_MAX_DETOUR);
		return -1;
	}
	mat_eta_params_default(&params);
	params.min_trips = 30;
	for (int i = 0; i < 30; i++)
		trips[i] = (mat_eta_trip_t){.area = 0,
					    .hour = i % 24,
					    .straight_m = 1000,
					    .road_m = 1000 * detour,
					    .duration_s = 1000 * detour / speed_mps};
	return mat_eta_fit(trips, 30, &params, model, errstr, errstr_size);
}
