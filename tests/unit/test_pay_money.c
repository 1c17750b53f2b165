/*
 * pay_money: formatting by the currency's exponent (0, 2 and 3), sums that refuse to
 * overflow, and the refund arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pay_money.h"

/* amount in currency as pay_money_format writes it, checking the returned length. */
static const char *
fmt(int64_t amount, const char *currency)
{
	static char buf[PAY_MONEY_FORMAT_SIZE];
	int n = pay_money_format(amount, currency, buf, sizeof(buf));

	if (n < 0)
		fail_msg("could not format %lld %s", (long long)amount, currency);
	assert_int_equal((size_t)n, strlen(buf));
	return buf;
}

static void
test_format_follows_the_exponent(void **state)
{
	(void)state;
	assert_string_equal(fmt(1999, "EUR"), "19.99");
	assert_string_equal(fmt(1999, "JPY"), "1999");
	assert_string_equal(fmt(1999, "KWD"), "1.999");
	assert_string_equal(fmt(5, "EUR"), "0.05");
	assert_string_equal(fmt(5, "KWD"), "0.005");
	assert_string_equal(fmt(0, "USD"), "0.00");
	assert_string_equal(fmt(0, "KRW"), "0");
	assert_string_equal(fmt(-150, "EUR"), "-1.50");
	assert_string_equal(fmt(-7, "BHD"), "-0.007");
	assert_string_equal(fmt(1000000000000, "EUR"), "10000000000.00");
	assert_string_equal(fmt(INT64_MAX, "KWD"), "9223372036854775.807");
	assert_string_equal(fmt(INT64_MIN, "KWD"), "-9223372036854775.808");
	assert_string_equal(fmt(INT64_MIN, "JPY"), "-9223372036854775808");
}

static void
test_format_refuses_unknown_currencies_and_short_buffers(void **state)
{
	char buf[PAY_MONEY_FORMAT_SIZE] = "x";
	char small[5] = "x";

	(void)state;
	assert_int_equal(pay_money_format(1999, "XYZ", buf, sizeof(buf)), -1);
	assert_string_equal(buf, "");
	assert_int_equal(pay_money_format(1999, "eur", buf, sizeof(buf)), -1);
	assert_int_equal(pay_money_format(1999, "", buf, sizeof(buf)), -1);
	assert_int_equal(pay_money_format(1999, "EUR", small, sizeof(small)), -1);
	assert_string_equal(small, "");
	assert_int_equal(pay_money_format(199, "EUR", small, sizeof(small)), 4);
	assert_string_equal(small, "1.99");
}

static void
test_sums_refuse_to_overflow(void **state)
{
	const int64_t many[] = {INT64_MAX - 10, 5, 5};
	const int64_t over[] = {INT64_MAX - 10, 5, 6};
	const int64_t under[] = {INT64_MIN + 1, -1, -1};
	const int64_t swing[] = {INT64_MAX, 1, -2}; /* over midway, back after */
	int64_t s = 42;

	(void)state;
	assert_int_equal(pay_money_add(1999, 1, &s), 0);
	assert_int_equal(s, 2000);
	assert_int_equal(pay_money_add(INT64_MAX, 1, &s), -1);
	assert_int_equal(s, 2000); /* untouched */
	assert_int_equal(pay_money_add(INT64_MIN, -1, &s), -1);
	assert_int_equal(pay_money_sum(many, 3, &s), 0);
	assert_int_equal(s, INT64_MAX);
	assert_int_equal(pay_money_sum(over, 3, &s), -1);
	assert_int_equal(s, INT64_MAX);
	assert_int_equal(pay_money_sum(under, 3, &s), -1);
	assert_int_equal(pay_money_sum(swing, 3, &s), -1);
	assert_int_equal(pay_money_sum(NULL, 0, &s), 0);
	assert_int_equal(s, 0);
}

static void
test_refunds_stay_within_the_capture(void **state)
{
	int64_t after = -1;

	(void)state;
	assert_int_equal(pay_money_refund(600, 0, 200, &after), 0);
	assert_int_equal(after, 200);
	assert_int_equal(pay_money_refund(600, 200, 400, &after), 0);
	assert_int_equal(after, 600); /* fully refunded */
	after = -1;
	assert_int_equal(pay_money_refund(600, 200, 401, &after), -1);
	assert_int_equal(after, -1);
	assert_int_equal(pay_money_refund(600, 600, 1, &after), -1);
	assert_int_equal(pay_money_refund(600, 0, 0, &after), -1);
	assert_int_equal(pay_money_refund(600, 0, -5, &after), -1);
	/* Inputs that break 0 <= refunded <= captured are refused, not computed. */
	assert_int_equal(pay_money_refund(600, 700, 1, &after), -1);
	assert_int_equal(pay_money_refund(600, -1, 1, &after), -1);
	/* No overflow at the edges. */
	assert_int_equal(pay_money_refund(INT64_MAX, INT64_MAX - 1, INT64_MAX, &after),
			 -1);
	assert_int_equal(pay_money_refund(INT64_MAX, 1, INT64_MAX - 1, &after), 0);
	assert_int_equal(after, INT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_follows_the_exponent),
	    cmocka_unit_test(test_format_refuses_unknown_currencies_and_short_buffers),
	    cmocka_unit_test(test_sums_refuse_to_overflow),
	    cmocka_unit_test(test_refunds_stay_within_the_capture),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
