/*
 * pay_money: amounts for the payments pool, as pure functions (no server, no clock).
 *
 * An amount is an int64_t count of minor units of its currency (cents for EUR, yen for
 * JPY, fils for KWD); events carry 0..PAY_MONEY_MAX. A currency is an ISO 4217 code
 * that souk accepts, and its exponent (digits after the decimal point) comes from
 * souk_event_currency_exponent. Nothing here converts between currencies or rounds.
 *
 * Every sum checks for overflow instead of wrapping, so a report over many payments
 * fails loudly rather than printing a wrong total.
 */
#ifndef PAY_MONEY_H
#define PAY_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* The largest amount an event carries ($defs.amount in schemas/events/defs.json). */
#define PAY_MONEY_MAX INT64_C(1000000000000)

/* Room for any formatted int64_t amount at any exponent souk accepts, NUL included:
 * a sign, 19 digits, a point and a leading zero. */
#define PAY_MONEY_FORMAT_SIZE 32

/* *sum = a + b. Returns 0, or -1 when that overflows int64_t (*sum untouched). */
int pay_money_add(int64_t a, int64_t b, int64_t *sum);

/* *sum = v[0] + ... + v[n-1] (0 when n is 0). Returns 0, or -1 when a partial sum
 * overflows int64_t (*sum untouched). O(n). */
int pay_money_sum(const int64_t *v, size_t n, int64_t *sum);

/*
 * A refund of amount against a payment that captured captured and has refunded
 * refunded so far: *after = refunded + amount when 0 < amount <= captured - refunded
 * (the refunded total never exceeds the capture). Returns 0, or -1 when the refund is
 * refused (amount not positive, over what is left, or inputs that break
 * 0 <= refunded <= captured), *after untouched. The payment is fully refunded when
 * *after == captured. Never overflows.
 */
int pay_money_refund(int64_t captured, int64_t refunded, int64_t amount, int64_t *after);

/*
 * Writes amount in currency's major units into buf[size] with the currency's number
 * of decimals and a '.' point, no grouping and no code: 1999 EUR "19.99", 1999 JPY
 * "1999", 1999 KWD "1.999", 5 EUR "0.05", -150 EUR "-1.50". Returns the length
 * written (before the NUL), or -1 when the currency is not one souk accepts or buf is
 * too small (PAY_MONEY_FORMAT_SIZE is always enough); buf is then "" if size > 0.
 */
int pay_money_format(int64_t amount, const char *currency, char *buf, size_t size);

#endif
