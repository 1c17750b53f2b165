/*
 * pay_money: see pay_money.h.
 */
#include "pay_money.h"

#include <inttypes.h>
#include <stdio.h>

#include "souk_event.h"

int
pay_money_add(int64_t a, int64_t b, int64_t *sum)
{
	int64_t s;

	if (__builtin_add_overflow(a, b, &s))
		return -1;
	*sum = s;
	return 0;
}

int
pay_money_sum(const int64_t *v, size_t n, int64_t *sum)
{
	int64_t s = 0;

	for (size_t i = 0; i < n; i++)
		if (pay_money_add(s, v[i], &s))
			return -1;
	*sum = s;
	return 0;
}

int
pay_money_refund(int64_t captured, int64_t refunded, int64_t amount, int64_t *after)
{
	/* With 0 <= refunded <= captured, captured - refunded cannot overflow, and
	 * neither can refunded + amount once amount is at most that. */
	if (refunded < 0 || refunded > captured || amount <= 0 ||
	    amount > captured - refunded)
		return -1;
	*after = refunded + amount;
	return 0;
}

int
pay_money_format(int64_t amount, const char *currency, char *buf, size_t size)
{
	int exponent = souk_event_currency_exponent(currency);
	/* The magnitude as unsigned, so that INT64_MIN has one too. */
	uint64_t mag = amount < 0 ? -(uint64_t)amount : (uint64_t)amount;
	uint64_t unit = 1;
	int n;

	if (size > 0)
		buf[0] = '\0';
	if (exponent < 0)
		return -1;
	for (int i = 0; i < exponent; i++)
		unit *= 10;
	if (exponent == 0)
		n = snprintf(buf, size, "%s%" PRIu64, amount < 0 ? "-" : "", mag);
	else
		n = snprintf(buf, size, "%s%" PRIu64 ".%0*" PRIu64, amount < 0 ? "-" : "",
			     mag / unit, exponent, mag % unit);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return n;
}
