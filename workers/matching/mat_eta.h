/*
 * mat_eta: the ETA model -- how long a car takes to drive a straight-line distance,
 * learnt from historical trips and adjusted by current traffic. Pure: no server, no
 * clock (the caller passes the hour), no global state.
 *
 * The model. A drive of straight-line (great-circle) distance s metres takes
 *
 *     eta = s * detour / speed            seconds
 *
 * detour (1..MAT_ETA_MAX_DETOUR) is how much longer the road route is than the straight
 * line, one figure for the model; speed (m/s along the road, stops included) is
 * looked up by (area, hour), falling back to the hour alone and then to all trips
 * when the finer bucket had fewer than min_trips trips.
 *
 *   - hour is the hour of day, 0..23, in UTC: the trips table and event timestamps are
 *     UTC, and an (area, hour) bucket learns an area's local rush hour whatever the
 *     basis. Only the per-hour fallback mixes areas, which would mix local hours if
 *     one model served several time zones: train one model per time zone then.
 *   - area is an opaque int64 key: the caller passes an H3 parent cell of the pickup
 *     (one resolution for training and prediction alike).
 *
 * The fit (mat_eta_fit) uses medians, never means or least squares:
 *   - detour = the median of road / straight over the trips that know their road
 *     distance (when at least min_trips do; default_detour otherwise). A least-squares
 *     slope through the origin (sum(road * straight) / sum(straight^2)) weighs each
 *     trip by its length squared, so a few long highway trips (detour ~1.2) would set
 *     the factor for the short urban drives that matching predicts, and one bad
 *     odometer reading moves it; the median counts every trip once and stays put
 *     while fewer than half of them are wrong.
 *   - speed of a bucket = the median of its trips' speeds, road / duration (road
 *     estimated as straight * detour when unknown, so the model stays consistent).
 *     The median minimises the absolute error of the typical trip and ignores the
 *     trips where the meter ran on (a rider who kept the car waiting).
 * Fitted speeds are rounded to 0.001 m/s and the detour to 0.0001, far below the noise,
 * so the stored model reads well and survives a text round trip exactly.
 *
 * Usable trips: 0 <= hour <= 23, straight_m > 0 and >= min_straight_m (short hops are
 * dominated by stops, not driving), duration_s > 0, and an implied speed within
 * MAT_ETA_MIN_MPS..MAT_ETA_MAX_MPS (GPS glitches, trips left open). A road distance is
 * used when straight_m <= road_m <= MAT_ETA_MAX_DETOUR * straight_m (a road cannot be
 * shorter than the straight line); otherwise it counts as unknown. The rest is skipped
 * and counted.
 *
 * Current traffic. mat_eta_predict may get a hint: the average speed of drivers moving
 * in the cell lately, from the locations stream, over `samples` drivers. It is blended
 * with the fitted speed in pace (seconds per metre), i.e. the ETA is the weighted mean
 * of the two ETAs:
 *
 *     w   = samples / (samples + hint_half)
 *     eta = s * detour * ((1 - w) / fitted + w / hint)
 *
 * so a lone driver moves the ETA a little and many drivers decide it (hint_half
 * drivers give it half the weight). The hint's speed is clamped to MAT_ETA_MIN_MPS..
 * MAT_ETA_MAX_MPS; a hint without samples or without a positive speed is ignored. It
 * must be a speed of the same kind as the fitted one (distance over time, stops
 * included) and must leave out parked drivers: this module cannot tell them from a
 * jam.
 *
 * Identity. mat_eta_id is a 64-bit FNV-1a hash of every number in the model, as 16 hex
 * digits: equal models have equal ids, a stored id survives encode/decode, and a match
 * can record which model decided it.
 *
 * Text form (mat_eta_encode), one JSON object:
 *
 *   {"format":1,"id":"<16 hex>","min_trips":30,"min_straight_m":100,"hint_half":10,
 *    "trips":7200,"skipped":3,"detour":1.4,"detour_trips":3600,"speed":8.25,
 *    "hours":[[hour,speed,trips],...],"areas":[[area,hour,speed,trips],...]}
 *
 * trips and skipped count the fit's trips; detour_trips is 0 when the detour is
 * default_detour. hours and areas list only the buckets that had min_trips trips,
 * sorted; area is a JSON integer (exact in souk_json and in PostgreSQL's jsonb).
 *
 * A model is immutable once built: any number of threads may use one at once.
 */
#ifndef MAT_ETA_H
#define MAT_ETA_H

#include <stddef.h>
#include <stdint.h>

/* Implied speeds outside this range make a trip unusable (0.36 to 360 km/h). */
#define MAT_ETA_MIN_MPS 0.1
#define MAT_ETA_MAX_MPS 100.0
/* The largest detour factor a model holds; longer road distances are not believed. */
#define MAT_ETA_MAX_DETOUR 10.0
/* Room for mat_eta_id's text, NUL included. */
#define MAT_ETA_ID_SIZE 17

typedef struct mat_eta mat_eta_t;

/* One historical trip. */
typedef struct mat_eta_trip {
	int64_t area;	   /* opaque: the H3 parent cell of the pickup */
	int hour;	   /* hour of day of the start, UTC, 0..23 */
	double straight_m; /* great-circle distance pickup -> drop-off, metres */
	double road_m;	   /* distance driven, metres; 0 when unknown */
	double duration_s; /* start to end, seconds */
} mat_eta_trip_t;

typedef struct mat_eta_params {
	/* fewest trips for a bucket of its own (and for a fitted detour); >= 1;
	 * default 30 */
	int64_t min_trips;
	double min_straight_m; /* shorter trips are not used; >= 0; default 100 */
	/* detour when fewer than min_trips trips know their road distance;
	 * 1..MAT_ETA_MAX_DETOUR; default 1.3 */
	double default_detour;
	double hint_half; /* hint samples that get half the weight; >= 0; default 10 */
} mat_eta_params_t;

/* Where a speed came from. */
typedef enum mat_eta_level {
	MAT_ETA_LEVEL_AREA, /* the (area, hour) bucket */
	MAT_ETA_LEVEL_HOUR, /* the hour, all areas */
	MAT_ETA_LEVEL_ALL,  /* every trip */
} mat_eta_level_t;

/* Current traffic in a cell, for mat_eta_predict. */
typedef struct mat_eta_hint {
	double speed_mps; /* > 0; the hint is ignored otherwise */
	int64_t samples;  /* drivers (or readings) averaged; > 0, ignored otherwise */
} mat_eta_hint_t;

/* What a model was fitted from, for reports. */
typedef struct mat_eta_summary {
	int64_t trips;	      /* trips used */
	int64_t skipped;      /* trips not usable */
	double detour;	      /* the detour factor */
	int64_t detour_trips; /* trips it was fitted from; 0: default_detour */
	double speed;	      /* m/s over all trips */
	size_t hours;	      /* hours with a speed of their own */
	size_t areas;	      /* (area, hour) buckets with a speed of their own */
} mat_eta_summary_t;

/* Held-out error, from mat_eta_evaluate. */
typedef struct mat_eta_eval {
	int64_t trips;	 /* trips evaluated */
	int64_t skipped; /* trips not usable (the fit's rules) */
	double mae_s;	 /* mean absolute error, seconds */
	double mape;	 /* mean absolute error over the actual duration, in percent */
} mat_eta_eval_t;

/* Fills *p with the defaults above. */
void mat_eta_params_default(mat_eta_params_t *p);

/*
 * Fits a model to trips[0..n) under *params. Returns 0 with *model (the caller's, for
 * mat_eta_destroy), or -1 with errstr saying why: a bad parameter (`min_trips: must be
 * 1 or more, got 0`), fewer than min_trips usable trips, out of memory. Cost: O(n log n)
 * time (three sorts) and O(n) memory while fitting; the model keeps O(buckets).
 */
int mat_eta_fit(const mat_eta_trip_t *trips, size_t n, const mat_eta_params_t *params,
		mat_eta_t **model, char *errstr, size_t errstr_size);

/*
 * The model a matching pool uses before any was trained: one speed for every area and
 * hour (speed_mps, MAT_ETA_MIN_MPS..MAT_ETA_MAX_MPS) and a detour (1..MAT_ETA_MAX_DETOUR),
 * fitted from 30 identical trips of 1 km so that it carries an id like any fitted
 * model. Returns 0 with *model, or -1 with errstr naming the bad argument.
 */
int mat_eta_flat(double speed_mps, double detour, mat_eta_t **model, char *errstr,
		 size_t errstr_size);

/* Frees a model; NULL is fine. */
void mat_eta_destroy(mat_eta_t *model);

/* The model's identity (MAT_ETA_ID_SIZE - 1 hex digits); lives as long as the model. */
const char *mat_eta_id(const mat_eta_t *model);

void mat_eta_summarize(const mat_eta_t *model, mat_eta_summary_t *out);

/*
 * The fitted speed (m/s) for area at hour (0..23; any other hour gives -1), with the
 * bucket it came from in *level (when level is not NULL). O(log buckets).
 */
double mat_eta_speed(const mat_eta_t *model, int64_t area, int hour,
		     mat_eta_level_t *level);

/*
 * *eta_s = the seconds to drive straight_m (>= 0) metres in area at hour (0..23),
 * blending in *hint when hint is not NULL and valid (see above). Returns 0, or -1 when
 * hour or straight_m is out of range (*eta_s untouched). O(log buckets).
 */
int mat_eta_predict(const mat_eta_t *model, int64_t area, int hour, double straight_m,
		    const mat_eta_hint_t *hint, double *eta_s);

/*
 * The model's error on held-out trips[0..n), predicted without hints: the trips the
 * fit would use are evaluated, the others counted in out->skipped. Returns 0, or -1
 * with errstr when no trip is usable. O(n log buckets).
 */
int mat_eta_evaluate(const mat_eta_t *model, const mat_eta_trip_t *trips, size_t n,
		     mat_eta_eval_t *out, char *errstr, size_t errstr_size);

/*
 * The model as one line of JSON (see above) in *text, malloc'd and NUL-terminated,
 * the caller's to free; *len counts the bytes before the NUL. Equal models give equal
 * text. Returns 0, or -1 when out of memory. O(buckets).
 */
int mat_eta_encode(const mat_eta_t *model, char **text, size_t *len);

/*
 * Reads text[0..len) as written by mat_eta_encode into *model (the caller's). Returns
 * 0, or -1 with errstr naming the first bad field (`areas[3]: speed must be from 0.1
 * to 100`, `id: "..." does not match the model, whose numbers hash to "..."`). Buckets
 * may come in any order; a bucket listed twice is an error. O(buckets log buckets).
 */
int mat_eta_decode(const char *text, size_t len, mat_eta_t **model, char *errstr,
		   size_t errstr_size);

#endif
