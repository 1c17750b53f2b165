/*
 * mat_match: the search for the driver to offer a ride request. Pure: it reads the
 * driver index (mat_index.h) and the ETA model (mat_eta.h) and takes the time and the
 * hour from the caller.
 *
 * The answer. Among the drivers listed in the cells within k_max rings of the pickup's
 * cell (at the index's resolution) that are offerable now (available, not claimed,
 * not stale) and not excluded, the one with the lowest predicted ETA to the pickup,
 * ties going to the smaller driver_id (strcmp), so that the answer is a function of
 * the index, the model and the request alone. A driver's ETA is
 *
 *     mat_eta_predict(model, area, hour, great-circle distance driver -> pickup,
 *                     the traffic hint of the driver's cell, mat_index_hint)
 *
 * where area is the model's key for the pickup's area (the drive is short, so the
 * pickup's area stands for the whole of it).
 *
 * The search. Rings k = 0, 1, 2, ... around the pickup's cell, nearest first. Before
 * ring k, once some driver has been found, the search stops when the ring's floor
 * (mat_match_ring_floor_s) exceeds the best ETA so far: the floor grows with k, so no
 * driver in ring k or beyond could beat (or tie) the best. Otherwise it goes on to
 * ring k_max; nobody found by then is MAT_MATCH_NO_DRIVER.
 *
 * The floor of ring k is a lower bound of the predicted ETA of any driver in ring k:
 *
 *     mat_geo_ring_min_distance_m(res, k) * min(pace(no hint), pace(fastest hint))
 *
 * pace(h) being mat_eta_predict's seconds for one metre, and the fastest hint
 * {mat_index_hint_max, MAT_INDEX_HINT_WINDOW samples}. A driver is at least the ring's
 * distance away; the ETA is that distance times a pace, linear in it; and a hint
 * blends the fitted pace with the hint's own, so it lowers the pace only when faster
 * than the fitted speed, and then the most when it is the fastest and the most
 * heavily weighted there can be -- which bounds every cell's hint. The floor is then
 * taken a billionth lower so that rounding inside mat_eta_predict cannot put a
 * driver's ETA under it. (The model alone allows hints up to MAT_ETA_MAX_MPS, 360
 * km/h: a floor from that speed grows by about a second a ring at resolution 9, so a
 * search for a one-minute ETA could stop only some 50 rings out; the index knows the
 * hints it actually holds.)
 *
 * Cost: O(k^2) cells looked up for the k rings searched, plus a distance and an ETA
 * for each offerable driver in them (O(k^2) when a pentagon is within k; see
 * mat_geo_ring). No allocation but at pentagons.
 */
#ifndef MAT_MATCH_H
#define MAT_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mat_eta.h"
#include "mat_geo.h"
#include "mat_index.h"
#include "souk_event.h"

/* The farthest ring a search may reach (about 22 km at resolution 9). */
#define MAT_MATCH_K_MAX 64

typedef struct mat_match_request {
	struct mat_geo_point pickup;
	int64_t area;	/* the ETA model's area key for the pickup (mat_eta.h) */
	int hour;	/* hour of day, UTC, 0..23 */
	int64_t now_ms; /* drivers' staleness is judged at this time */
	int k_max;	/* the last ring searched, 0..MAT_MATCH_K_MAX */
	/* Drivers not to offer (those who declined this request or let its offer
	 * expire), borrowed; checked one by one, for a handful of ids. */
	const char *const *exclude;
	size_t n_exclude;
} mat_match_request_t;

typedef enum mat_match_status {
	MAT_MATCH_ERROR = -1,
	MAT_MATCH_FOUND = 0,
	MAT_MATCH_NO_DRIVER = 1, /* nobody offerable within k_max rings */
} mat_match_status_t;

typedef struct mat_match_result {
	char driver_id[SOUK_EVENT_IDENT_SIZE]; /* "" when no driver */
	double eta_s;			       /* its predicted ETA; 0 when no driver */
	double distance_m;		       /* great-circle, driver -> pickup */
	int rings;			       /* rings searched: 0..rings - 1 */
	size_t examined;		       /* drivers listed in those rings' cells */
	bool stopped_early; /* before k_max: ring `rings` could not beat the best */
} mat_match_result_t;

/*
 * Searches for req (see above) and fills *out. Returns MAT_MATCH_FOUND,
 * MAT_MATCH_NO_DRIVER, or MAT_MATCH_ERROR with errstr naming the bad field of req
 * (`hour: must be from 0 to 23, got 24`, `lat 91 out of range [-90, 90]`) or H3's
 * failure; *out is then undefined.
 */
mat_match_status_t mat_match_find(const mat_index_t *idx, const mat_eta_t *model,
				  const mat_match_request_t *req, mat_match_result_t *out,
				  char *errstr, size_t errstr_size);

/* The floor of ring k >= 0 in seconds (see above) for a pickup in area at hour: 0
 * when k <= 1 or hour is not 0..23. O(log buckets). */
double mat_match_ring_floor_s(const mat_index_t *idx, const mat_eta_t *model,
			      int64_t area, int hour, int k);

#endif
