/*
 * mat_match: see mat_match.h.
 */
#include "mat_match.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* How far below the exact bound the floor is taken, relatively (mat_match.h). */
#define ROUNDING 1e-9

/* One search's state, shared with the callback that visits a cell's drivers. */
struct mat_match_search {
	const mat_index_t *idx;
	const mat_eta_t *model;
	const mat_match_request_t *req;
	H3Index cell;	  /* the cell being visited */
	bool hint_looked; /* whether hint below is that cell's yet */
	bool has_hint;	  /* whether the cell has a hint */
	mat_eta_hint_t hint;
	size_t examined;
	/* The best driver so far (best_id points into the index, which the search does
	 * not change), or none while best_id is NULL. */
	const char *best_id;
	double best_eta_s, best_distance_m;
};

double
mat_match_ring_floor_s(const mat_index_t *idx, const mat_eta_t *model, int64_t area,
		       int hour, int k)
{
	mat_eta_hint_t fastest = {mat_index_hint_max(idx), MAT_INDEX_HINT_WINDOW};
	double plain, hinted;

	if (mat_eta_predict(model, area, hour, 1.0, NULL, &plain) ||
	    mat_eta_predict(model, area, hour, 1.0, &fastest, &hinted))
		return 0;
	return mat_geo_ring_min_distance_m(mat_index_res(idx), k) * fmin(plain, hinted) *
	       (1 - ROUNDING);
}

static bool
mat_match_excluded(const mat_match_request_t *req, const char *id)
{
	for (size_t i = 0; i < req->n_exclude; i++)
		if (strcmp(req->exclude[i], id) == 0)
			return true;
	return false;
}

/* Weighs driver d of cell s->cell against the best so far. */
static void
mat_match_visit(const mat_index_driver_t *d, void *opaque)
{
	struct mat_match_search *s = opaque;
	const mat_match_request_t *req = s->req;
	double distance_m, eta_s;

	s->examined++;
	if (!mat_index_offerable(s->idx, d, req->now_ms))
		return;
	if (!s->hint_looked) {
		s->has_hint = mat_index_hint(s->idx, s->cell, req->now_ms, &s->hint);
		s->hint_looked = true;
	}
	distance_m = mat_geo_distance_m(d->pos, req->pickup);
	/* cannot fail: the hour was checked and the distance is finite */
	mat_eta_predict(s->model, req->area, req->hour, distance_m,
			s->has_hint ? &s->hint : NULL, &eta_s);
	if (s->best_id && (eta_s > s->best_eta_s ||
			   (eta_s == s->best_eta_s && strcmp(d->id, s->best_id) >= 0)))
		return;
	/* Only a would-be best is looked up among the excluded. */
	if (mat_match_excluded(req, d->id))
		return;
	s->best_id = d->id;
	s->best_eta_s = eta_s;
	s->best_distance_m = distance_m;
}

static int
mat_match_request_check(const mat_match_request_t *req, char *errstr, size_t errstr_size)
{
	if (req->hour < 0 || req->hour > 23) {
		snprintf(errstr, errstr_size, "hour: must be from 0 to 23, got %d",
			 req->hour);
		return -1;
	}
	if (req->k_max < 0 || req->k_max > MAT_MATCH_K_MAX) {
		snprintf(errstr, errstr_size, "k_max: must be from 0 to %d, got %d",
			 MAT_MATCH_K_MAX, req->k_max);
		return -1;
	}
	if (req->n_exclude > 0 && !req->exclude) {
		snprintf(errstr, errstr_size, "exclude: NULL with n_exclude %zu",
			 req->n_exclude);
		return -1;
	}
	return 0;
}

mat_match_status_t
mat_match_find(const mat_index_t *idx, const mat_eta_t *model,
	       const mat_match_request_t *req, mat_match_result_t *out, char *errstr,
	       size_t errstr_size)
{
	struct mat_match_search s = {.idx = idx, .model = model, .req = req};
	H3Index ring[6 * MAT_MATCH_K_MAX], origin;
	size_t n;

	if (mat_match_request_check(req, errstr, errstr_size) ||
	    mat_geo_cell(req->pickup, mat_index_res(idx), &origin, errstr, errstr_size))
		return MAT_MATCH_ERROR;
	memset(out, 0, sizeof(*out));
	for (int k = 0; k <= req->k_max; k++) {
		if (s.best_id && mat_match_ring_floor_s(idx, model, req->area, req->hour,
							k) > s.best_eta_s) {
			out->stopped_early = true;
			break;
		}
		if (mat_geo_ring(origin, k, ring, sizeof(ring) / sizeof(ring[0]), &n,
				 errstr, errstr_size))
			return MAT_MATCH_ERROR;
		for (size_t i = 0; i < n; i++) {
			s.cell = ring[i];
			s.hint_looked = false;
			mat_index_cell_drivers(idx, ring[i], mat_match_visit, &s);
		}
		out->rings = k + 1;
	}
	out->examined = s.examined;
	if (!s.best_id)
		return MAT_MATCH_NO_DRIVER;
	strcpy(out->driver_id, s.best_id); /* an identifier fits */
	out->eta_s = s.best_eta_s;
	out->distance_m = s.best_distance_m;
	return MAT_MATCH_FOUND;
}
