/*
 * mat_fare: the fare quote a ride match carries, as pure functions (no server, no
 * clock).
 *
 *     fare = max(minimum, round((base + per_km * km + per_minute * minutes)
 *                               * multiplier))
 *
 * in minor units of the tariff's currency (cents for EUR, yen for JPY, fils for KWD),
 * where km is the trip's distance and minutes its predicted duration (the ETA model's
 * answer from pickup to drop-off), both exact fractions (1,234 m is 1.234 km), and
 * multiplier is the surge multiplier as quoted, in tenths (mat_surge_tenths). The
 * minimum is a floor on the final quote and is not multiplied.
 *
 * Arithmetic: integers only. The sum is taken in 1/3,000ths of a minor unit (3,000 is
 * the least common multiple of 1,000 m per km and 60 s per minute, so both fractions
 * are exact), multiplied by the tenths, and divided once at the end, rounding half up
 * to the minor unit: nothing is rounded twice.
 * Every step checks for int64 overflow and a quote above MAT_FARE_MAX is refused, so a
 * wrong tariff fails loudly instead of quoting garbage. Cost: O(1).
 *
 * The currency's exponent (souk_event_currency_exponent) turns tariffs written in
 * major units ("2.50" EUR) into minor units (mat_fare_parse); the quote itself only
 * needs the currency to be one souk accepts.
 */
#ifndef MAT_FARE_H
#define MAT_FARE_H

#include <stddef.h>
#include <stdint.h>

#include "souk_event.h"

/* The largest amount an event carries ($defs.amount in schemas/events/defs.json). */
#define MAT_FARE_MAX INT64_C(1000000000000)

/* Multipliers a quote accepts, in tenths: 1.0 to 10.0, as the ride_match event. */
#define MAT_FARE_MIN_TENTHS 10
#define MAT_FARE_MAX_TENTHS 100

typedef struct mat_fare_tariff {
	char currency[SOUK_EVENT_CURRENCY_SIZE]; /* an ISO 4217 code souk accepts */
	/* minor units, each 0..MAT_FARE_MAX */
	int64_t base;	    /* per ride */
	int64_t per_km;	    /* per kilometre of distance */
	int64_t per_minute; /* per minute of duration */
	int64_t minimum;    /* the least a quote can be */
} mat_fare_tariff_t;

/*
 * *amount = the fare (above) for a trip of distance_m metres and duration_s seconds
 * (both >= 0) at multiplier_tenths (MAT_FARE_MIN_TENTHS..MAT_FARE_MAX_TENTHS).
 * Returns 0, or -1 with errstr naming the bad field (`per_km: must be from 0 to
 * 1000000000000, got -5`) or saying that the quote overflows or exceeds MAT_FARE_MAX;
 * *amount is then untouched.
 */
int mat_fare_quote(const mat_fare_tariff_t *t, int64_t distance_m, int64_t duration_s,
		   int multiplier_tenths, int64_t *amount, char *errstr,
		   size_t errstr_size);

/*
 * *minor = text, an amount in major units of currency written as digits with an
 * optional '.' and at most the currency's exponent of decimals, in minor units:
 * "2.50" and "2.5" EUR -> 250, "410" JPY -> 410, "0.125" KWD -> 125. No sign, no
 * exponent, no grouping; at most MAT_FARE_MAX. Returns 0, or -1 with errstr saying
 * why (`could not parse "2.505" EUR: at most 2 decimals`), *minor untouched.
 */
int mat_fare_parse(const char *text, const char *currency, int64_t *minor, char *errstr,
		   size_t errstr_size);

#endif
