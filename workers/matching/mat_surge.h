/*
 * mat_surge: the surge multiplier of one H3 cell, as pure functions (no server, no
 * clock: the caller passes the time).
 *
 * The target. demand is the number of ride requests in the cell over the caller's
 * sliding window (counted in PostgreSQL, so every process sees the same), supply the
 * number of drivers available in the cell now. With r = demand / supply:
 *
 *     demand == 0                  -> 1.0
 *     supply == 0                  -> cap         (riders and no driver at all)
 *     r <= threshold               -> 1.0         (the dead band)
 *     otherwise                    -> min(cap, 1.0 + slope * (r - threshold))
 *
 * so the target is 1.0 at the edge of the dead band (no jump), never below 1.0, never
 * above the cap, rises with demand and falls with supply. threshold and slope are in
 * requests per window per available driver: tune them with the window length.
 *
 * Smoothing. The multiplier a cell shows moves toward the target exponentially: after
 * elapsed milliseconds the gap to the target is multiplied by 2^(-elapsed/half_life),
 * so it halves every half-life whatever the update rate (two steps of 5 s equal one of
 * 10 s). A flood of requests raises the multiplier over a few half-lives; when demand
 * stops the target is 1.0 and the multiplier falls back. Once the gap is below
 * MAT_SURGE_SETTLE the multiplier snaps to the target, so a quiet cell returns to
 * exactly 1.0 (and can be forgotten) instead of approaching it forever.
 *
 * Quotes and display use the multiplier rounded to tenths (mat_surge_tenths): the
 * fare is computed from those tenths, so the rider pays what was shown.
 *
 * Cost: O(1) everything, no allocation. Thread-safe (no shared state).
 */
#ifndef MAT_SURGE_H
#define MAT_SURGE_H

#include <stddef.h>
#include <stdint.h>

/* The highest cap: the surge event carries a multiplier of 1 to 10. */
#define MAT_SURGE_MAX_CAP 10.0
/* The multiplier snaps to its target once closer than this (a fiftieth of the display
 * resolution of 0.1). */
#define MAT_SURGE_SETTLE 0.002

typedef struct mat_surge_params {
	double threshold; /* r at or below this gives 1.0; >= 0; default 1.0 */
	double slope;	  /* added per unit of r above threshold; > 0; default 0.5 */
	double cap;	  /* the highest multiplier, 1..MAT_SURGE_MAX_CAP; default 3.0 */
	/* time for the gap to the target to halve; 0 jumps to the target at once;
	 * default 10000 */
	int64_t half_life_ms;
} mat_surge_params_t;

/* One cell's smoothed multiplier and when it was last updated (the caller's clock). */
typedef struct mat_surge_state {
	double multiplier; /* 1.0..cap */
	int64_t at_ms;
} mat_surge_state_t;

/* Fills *p with the defaults above. */
void mat_surge_params_default(mat_surge_params_t *p);

/* Returns 0 when *p is usable, or -1 with errstr naming the first bad field
 * ("cap: must be from 1 to 10, got 12"). Every other function expects checked
 * parameters. */
int mat_surge_params_check(const mat_surge_params_t *p, char *errstr, size_t errstr_size);

/* The target multiplier for demand over supply (see above). Negative counts are read
 * as 0. */
double mat_surge_target(const mat_surge_params_t *p, int64_t demand, int64_t supply);

/* A cell seen for the first time at now_ms: multiplier 1.0. */
void mat_surge_state_init(mat_surge_state_t *s, int64_t now_ms);

/*
 * Moves s->multiplier toward mat_surge_target(p, demand, supply) over the time since
 * s->at_ms, and sets s->at_ms to now_ms. A now_ms at or before s->at_ms (the same
 * millisecond, or a clock that stepped back) changes nothing, so the state never
 * moves backwards in time.
 */
void mat_surge_update(const mat_surge_params_t *p, mat_surge_state_t *s, int64_t demand,
		      int64_t supply, int64_t now_ms);

/*
 * The multiplier in tenths, as shown and quoted: rounded to the nearest tenth, ties
 * up (1.25 -> 13, 1.249 -> 12). A tie is recognised within 1e-9, so 1.15, which is
 * stored as 1.149999..., rounds to 12 like the decimal it stands for. A multiplier in
 * 1..10 gives 10..100.
 */
int mat_surge_tenths(double multiplier);

#endif
