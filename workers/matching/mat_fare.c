/*
 * mat_fare: see mat_fare.h.
 */
#include "mat_fare.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The sum's unit: 1/FINE of a minor unit, with km = m / 1000 = 3 m / FINE and
 * minutes = s / 60 = 50 s / FINE. */
#define FINE 3000
#define FINE_PER_M 3
#define FINE_PER_S 50

static int
mat_fare_check(const char *name, int64_t v, int64_t max, char *errstr, size_t errstr_size)
{
	if (v >= 0 && v <= max)
		return 0;
	snprintf(errstr, errstr_size, "%s: must be from 0 to %" PRId64 ", got %" PRId64,
		 name, max, v);
	return -1;
}

int
mat_fare_quote(const mat_fare_tariff_t *t, int64_t distance_m, int64_t duration_s,
	       int multiplier_tenths, int64_t *amount, char *errstr, size_t errstr_size)
{
	int64_t sum, term, fare;
	bool overflow;

	if (souk_event_currency_exponent(t->currency) < 0) {
		snprintf(errstr, errstr_size, "currency: \"%s\" is not one souk accepts",
			 t->currency);
		return -1;
	}
	if (mat_fare_check("base", t->base, MAT_FARE_MAX, errstr, errstr_size) ||
	    mat_fare_check("per_km", t->per_km, MAT_FARE_MAX, errstr, errstr_size) ||
	    mat_fare_check("per_minute", t->per_minute, MAT_FARE_MAX, errstr,
			   errstr_size) ||
	    mat_fare_check("minimum", t->minimum, MAT_FARE_MAX, errstr, errstr_size) ||
	    mat_fare_check("distance_m", distance_m, INT64_MAX, errstr, errstr_size) ||
	    mat_fare_check("duration_s", duration_s, INT64_MAX, errstr, errstr_size))
		return -1;
	if (multiplier_tenths < MAT_FARE_MIN_TENTHS ||
	    multiplier_tenths > MAT_FARE_MAX_TENTHS) {
		snprintf(errstr, errstr_size,
			 "multiplier_tenths: must be from %d to %d, got %d",
			 MAT_FARE_MIN_TENTHS, MAT_FARE_MAX_TENTHS, multiplier_tenths);
		return -1;
	}
	/* Everything is >= 0 from here, so the sum only grows and adding half the divisor
	 * before the division rounds half up. */
	overflow = __builtin_mul_overflow(t->base, FINE, &sum) ||
		   __builtin_mul_overflow(t->per_km, distance_m, &term) ||
		   __builtin_mul_overflow(term, FINE_PER_M, &term) ||
		   __builtin_add_overflow(sum, term, &sum) ||
		   __builtin_mul_overflow(t->per_minute, duration_s, &term) ||
		   __builtin_mul_overflow(term, FINE_PER_S, &term) ||
		   __builtin_add_overflow(sum, term, &sum) ||
		   __builtin_mul_overflow(sum, multiplier_tenths, &sum) ||
		   __builtin_add_overflow(sum, FINE * 10 / 2, &sum);
	if (overflow) {
		snprintf(errstr, errstr_size,
			 "could not quote fare: %" PRId64 " m and %" PRId64
			 " s overflow 64-bit arithmetic at this tariff",
			 distance_m, duration_s);
		return -1;
	}
	fare = sum / (FINE * 10);
	if (fare < t->minimum)
		fare = t->minimum;
	if (fare > MAT_FARE_MAX) {
		snprintf(errstr, errstr_size,
			 "could not quote fare: %" PRId64
			 " is more than the largest amount, %" PRId64,
			 fare, MAT_FARE_MAX);
		return -1;
	}
	*amount = fare;
	return 0;
}

int
mat_fare_parse(const char *text, const char *currency, int64_t *minor, char *errstr,
	       size_t errstr_size)
{
	static const char digits[] = "0123456789";
	int exponent = souk_event_currency_exponent(currency);
	size_t int_len = strspn(text, digits), frac_len = 0;
	bool point = text[int_len] == '.';
	const char *frac = "";
	int64_t v = 0;

	if (exponent < 0) {
		snprintf(errstr, errstr_size,
			 "could not parse \"%s\" %s: not a currency souk accepts", text,
			 currency);
		return -1;
	}
	if (point) {
		frac = text + int_len + 1;
		frac_len = strspn(frac, digits);
	}
	if (int_len == 0 || (point && frac_len == 0) ||
	    (point ? frac[frac_len] : text[int_len]) != '\0') {
		snprintf(
		    errstr, errstr_size,
		    "could not parse \"%s\" %s: must be digits, then optionally a '.' "
		    "and more digits",
		    text, currency);
		return -1;
	}
	if (frac_len > (size_t)exponent) {
		snprintf(errstr, errstr_size,
			 "could not parse \"%s\" %s: at most %d decimals", text, currency,
			 exponent);
		return -1;
	}
	/* The integer digits and then exactly exponent decimals (padded with zeros).
	 * Invariant: v <= MAT_FARE_MAX before each step, so v * 10 + 9 cannot overflow;
	 * v only grows, so the first step above MAT_FARE_MAX settles it. */
	for (size_t i = 0; i < int_len + (size_t)exponent; i++) {
		int d = 0; /* a decimal past those written */

		if (i < int_len)
			d = text[i] - '0';
		else if (i - int_len < frac_len)
			d = frac[i - int_len] - '0';
		v = v * 10 + d;
		if (v > MAT_FARE_MAX) {
			snprintf(errstr, errstr_size,
				 "could not parse \"%s\" %s: more than %" PRId64
				 " minor units",
				 text, currency, MAT_FARE_MAX);
			return -1;
		}
	}
	*minor = v;
	return 0;
}
