/*
 * mat_fare: known quotes at 1.0x and 2.5x, half-up rounding done once at the end, the
 * minimum fare, refusal of bad fields and of overflow, tariffs read in major units.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mat_fare.h"

/* 2.50 EUR + 1.20 per km + 0.30 per minute, at least 5.00 */
static const mat_fare_tariff_t eur = {"EUR", 250, 120, 30, 500};

/* The quote, failing the test when refused. */
static int64_t
quote(const mat_fare_tariff_t *t, int64_t distance_m, int64_t duration_s, int tenths)
{
	char err[256];
	int64_t amount = -1;

	if (mat_fare_quote(t, distance_m, duration_s, tenths, &amount, err, sizeof(err)))
		fail_msg("quote refused: %s", err);
	return amount;
}

/* The error of a refused quote. */
static const char *
refusal(const mat_fare_tariff_t *t, int64_t distance_m, int64_t duration_s, int tenths)
{
	static char err[256];
	int64_t amount = 42;

	err[0] = '\0';
	if (mat_fare_quote(t, distance_m, duration_s, tenths, &amount, err,
			   sizeof(err)) != -1)
		fail_msg("quote accepted: %lld", (long long)amount);
	assert_int_equal(amount, 42); /* untouched */
	return err;
}

static void
test_known_quotes(void **state)
{
	const mat_fare_tariff_t jpy = {"JPY", 410, 80, 40, 730};

	(void)state;
	/* 8.4 km, 17 min: 250 + 1008 + 510 */
	assert_int_equal(quote(&eur, 8400, 1020, 10), 1768);
	assert_int_equal(quote(&eur, 8400, 1020, 25), 4420);
	/* 12.345 km, 23.5 min: 250 + 1481.4 + 705 = 2436.4 */
	assert_int_equal(quote(&eur, 12345, 1410, 10), 2436);
	assert_int_equal(quote(&eur, 12345, 1410, 25), 6091); /* 6091.0 */
	/* yen have no minor unit: 410 + 80 * 5.2 + 40 * 11 = 1266 */
	assert_int_equal(quote(&jpy, 5200, 660, 10), 1266);
	assert_int_equal(quote(&jpy, 5200, 660, 15), 1899);
}

static void
test_rounds_half_up_once(void **state)
{
	const mat_fare_tariff_t per_m = {"EUR", 0, 1, 0, 0};
	const mat_fare_tariff_t per_s = {"EUR", 0, 0, 1, 0};
	const mat_fare_tariff_t both = {"EUR", 0, 1, 1, 0};
	const mat_fare_tariff_t base = {"EUR", 5, 0, 0, 0};

	(void)state;
	assert_int_equal(quote(&per_m, 499, 0, 10), 0);	 /* 0.499 */
	assert_int_equal(quote(&per_m, 500, 0, 10), 1);	 /* 0.5 */
	assert_int_equal(quote(&per_m, 2499, 0, 10), 2); /* 2.499 */
	assert_int_equal(quote(&per_m, 2500, 0, 10), 3); /* 2.5: up, not to even */
	assert_int_equal(quote(&per_s, 29, 10, 10), 0);	 /* 0.1667 */
	assert_int_equal(quote(&per_s, 0, 29, 10), 0);	 /* 0.4833 */
	assert_int_equal(quote(&per_s, 0, 30, 10), 1);	 /* 0.5 */
	/* 0.4 + 0.1: rounding each part first would give 0 */
	assert_int_equal(quote(&both, 400, 6, 10), 1);
	/* the multiplier applies before rounding */
	assert_int_equal(quote(&per_m, 199, 0, 25), 0); /* 0.4975 */
	assert_int_equal(quote(&per_m, 200, 0, 25), 1); /* 0.5 */
	assert_int_equal(quote(&base, 0, 0, 11), 6);	/* 5.5 */
	assert_int_equal(quote(&base, 0, 0, 19), 10);	/* 9.5 */
	assert_int_equal(quote(&base, 0, 0, 18), 9);	/* 9.0 */
}

static void
test_minimum_fare(void **state)
{
	(void)state;
	/* 1 km, 3 min: 460, below the minimum */
	assert_int_equal(quote(&eur, 1000, 180, 10), 500);
	/* surge lifts it above: 1150 */
	assert_int_equal(quote(&eur, 1000, 180, 25), 1150);
	/* the minimum itself is not multiplied: 2 x 250 = 500 for a ride of nothing */
	assert_int_equal(quote(&eur, 0, 0, 10), 500);
	assert_int_equal(quote(&eur, 0, 0, 20), 500);
	assert_int_equal(quote(&eur, 0, 0, 21), 525);
}

static void
test_refuses_bad_fields(void **state)
{
	mat_fare_tariff_t t = eur;

	(void)state;
	t.per_km = -5;
	assert_string_equal(refusal(&t, 1000, 60, 10),
			    "per_km: must be from 0 to 1000000000000, got -5");
	t = eur;
	t.minimum = MAT_FARE_MAX + 1;
	assert_string_equal(
	    refusal(&t, 1000, 60, 10),
	    "minimum: must be from 0 to 1000000000000, got 1000000000001");
	t = eur;
	memcpy(t.currency, "XYZ", 4);
	assert_string_equal(refusal(&t, 1000, 60, 10),
			    "currency: \"XYZ\" is not one souk accepts");
	assert_string_equal(refusal(&eur, -1, 60, 10),
			    "distance_m: must be from 0 to 9223372036854775807, got -1");
	assert_string_equal(refusal(&eur, 1000, -60, 10),
			    "duration_s: must be from 0 to 9223372036854775807, got -60");
	assert_string_equal(refusal(&eur, 1000, 60, 9),
			    "multiplier_tenths: must be from 10 to 100, got 9");
	assert_string_equal(refusal(&eur, 1000, 60, 101),
			    "multiplier_tenths: must be from 10 to 100, got 101");
}

static void
test_refuses_overflow(void **state)
{
	const mat_fare_tariff_t dear = {"EUR", 0, MAT_FARE_MAX, MAT_FARE_MAX, 0};
	const mat_fare_tariff_t top = {"EUR", MAT_FARE_MAX, 0, 0, 0};

	(void)state;
	/* each step would wrap int64 */
	assert_string_equal(
	    refusal(&dear, INT64_MAX / 2, 0, 10),
	    "could not quote fare: 4611686018427387903 m and 0 s overflow "
	    "64-bit arithmetic at this tariff");
	assert_non_null(strstr(refusal(&dear, 0, 3000000000, 10), "overflow"));
	assert_non_null(strstr(refusal(&eur, 0, INT64_MAX, 10), "overflow"));
	assert_non_null(strstr(refusal(&top, 0, 0, 11), "is more than the largest"));
	/* fits int64 but is more than an event carries */
	assert_string_equal(
	    refusal(&dear, 2000, 0, 10),
	    "could not quote fare: 2000000000000 is more than the largest "
	    "amount, 1000000000000");
	/* the largest amount itself is fine */
	assert_int_equal(quote(&top, 0, 0, 10), MAT_FARE_MAX);
}

/* text in currency as mat_fare_parse reads it, failing the test when refused. */
static int64_t
parse(const char *text, const char *currency)
{
	char err[256];
	int64_t minor = -1;

	if (mat_fare_parse(text, currency, &minor, err, sizeof(err)))
		fail_msg("%s", err);
	return minor;
}

static const char *
parse_error(const char *text, const char *currency)
{
	static char err[256];
	int64_t minor = 42;

	err[0] = '\0';
	if (mat_fare_parse(text, currency, &minor, err, sizeof(err)) != -1)
		fail_msg("\"%s\" %s read as %lld", text, currency, (long long)minor);
	assert_int_equal(minor, 42);
	return err;
}

static void
test_parse_major_units_by_exponent(void **state)
{
	const char *malformed[] = {"", ".", "2.", ".5", "1e3", " 2", "2 ", "2.5.0", "+2"};

	(void)state;
	assert_int_equal(parse("2.50", "EUR"), 250);
	assert_int_equal(parse("2.5", "EUR"), 250);
	assert_int_equal(parse("2", "EUR"), 200);
	assert_int_equal(parse("0.05", "EUR"), 5);
	assert_int_equal(parse("0", "EUR"), 0);
	assert_int_equal(parse("410", "JPY"), 410);
	assert_int_equal(parse("0.125", "KWD"), 125);
	assert_int_equal(parse("1.5", "KWD"), 1500);
	assert_int_equal(parse("10000000000.00", "EUR"), MAT_FARE_MAX);
	assert_string_equal(parse_error("2.505", "EUR"),
			    "could not parse \"2.505\" EUR: at most 2 decimals");
	assert_string_equal(parse_error("1.5", "JPY"),
			    "could not parse \"1.5\" JPY: at most 0 decimals");
	assert_string_equal(
	    parse_error("10000000000.01", "EUR"),
	    "could not parse \"10000000000.01\" EUR: more than 1000000000000 "
	    "minor units");
	assert_non_null(
	    strstr(parse_error("99999999999999999999999999", "JPY"), "more than"));
	assert_string_equal(parse_error("2.50", "XYZ"),
			    "could not parse \"2.50\" XYZ: not a currency souk accepts");
	assert_string_equal(
	    parse_error("-1", "EUR"),
	    "could not parse \"-1\" EUR: must be digits, then optionally a '.' "
	    "and more digits");
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		assert_non_null(
		    strstr(parse_error(malformed[i], "EUR"), "must be digits"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_quotes),
	    cmocka_unit_test(test_rounds_half_up_once),
	    cmocka_unit_test(test_minimum_fare),
	    cmocka_unit_test(test_refuses_bad_fields),
	    cmocka_unit_test(test_refuses_overflow),
	    cmocka_unit_test(test_parse_major_units_by_exponent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
