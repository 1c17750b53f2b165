#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg_payments.h"
#include "lg_time.h"
#include "souk_event.h"

#define PAYMENTS 2000

/* What the test saw of one payment. */
struct seen {
	int created, authorized, captured, voided; /* legal commands seen, in order */
	int64_t amount, captured_amount, refunded;
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	souk_event_t keys[8]; /* the latest event of each idempotency key */
	size_t nkeys;
};

static struct seen seen[PAYMENTS + 1];

static char *
generate(const struct lg_payments_opts *o, uint64_t seed, size_t *len,
	 struct lg_payments_stats *stats)
{
	char *buf = NULL, err[256];
	FILE *f = open_memstream(&buf, len);
	struct lg_out *out;
	struct lg_run run;
	int64_t start;

	assert_non_null(f);
	assert_int_equal(lg_time_parse(LG_TIME_DEFAULT_START, &start, err, sizeof(err)),
			 0);
	lg_run_init(&run, seed, start, "loadgen-test");
	out = lg_out_new_stream(f, 0, err, sizeof(err));
	assert_non_null(out);
	assert_int_equal(lg_payments_run(&run, o, out, stats, err, sizeof(err)), 0);
	assert_int_equal(lg_out_finish(out, err, sizeof(err)), 0);
	assert_int_equal(lg_out_total(out), stats->commands);
	lg_out_destroy(out);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static souk_event_t *
find_key(struct seen *p, const char *key)
{
	for (size_t i = 0; i < p->nkeys; i++)
		if (strcmp(p->keys[i].idempotency_key, key) == 0)
			return &p->keys[i];
	return NULL;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Reads every command in stream order and checks what the payments pool relies
 * on: each decodes; time never goes back; a payment starts with create; never
 * settle; a repeated key is either an exact retry of the key's latest command
 * (same event_id and parameters, later ts) or, for the conflicts, the create's
 * key with another amount; legal commands follow Created -> Authorized ->
 * Captured | Voided, refunds within the captured amount; illegal ones are
 * exactly those the stats count, and each breaks a rule.
 */
static void
test_commands_follow_the_payment_rules(void **state)
{
	struct lg_payments_opts o = {.payments = PAYMENTS, .retry_share = 0.05};
	struct lg_payments_stats st;
	size_t len;
	char *buf = generate(&o, 1, &len, &st), *save = NULL, prev_ts[25] = "";
	long retries = 0, conflicts = 0, illegal = 0, payments = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (char *l = strtok_r(buf, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		souk_event_t ev, copy;
		souk_event_error_t err;
		souk_event_t *before;
		struct seen *p;
		const souk_event_payment_t *c = &ev.payment;

		if (souk_event_decode(l, strlen(l), &ev, &err) != SOUK_EVENT_OK)
			fail_msg("%s: %s", l, err.message);
		assert_int_equal(ev.type, SOUK_EVENT_TYPE_PAYMENT);
		assert_int_not_equal(c->command, SOUK_EVENT_COMMAND_SETTLE);
		assert_true(strcmp(ev.ts, prev_ts) >= 0);
		memcpy(prev_ts, ev.ts, sizeof(prev_ts));
		p = &seen[strtol(strrchr(c->payment_id, '-') + 1, NULL, 10)];

		before = find_key(p, ev.idempotency_key);
		if (before != NULL) {
			copy = ev;
			memcpy(copy.ts, before->ts, sizeof(copy.ts));
			if (memcmp(&copy, before, sizeof(copy)) == 0) {
				assert_string_equal(ev.event_id, before->event_id);
				retries++;
			} else {
				assert_true(ends_with(ev.idempotency_key, ":create"));
				assert_int_not_equal(c->amount, before->payment.amount);
				conflicts++;
			}
			*before = ev; /* a retry of a conflict repeats the conflict */
			continue;
		}
		assert_true(p->nkeys < sizeof(p->keys) / sizeof(p->keys[0]));
		p->keys[p->nkeys++] = ev;

		if (ends_with(ev.idempotency_key, ":capture-early")) {
			assert_false(p->authorized);
			illegal++;
			continue;
		}
		if (ends_with(ev.idempotency_key, ":refund-over")) {
			assert_true(p->refunded + c->amount > p->captured_amount);
			illegal++;
			continue;
		}
		if (ends_with(ev.idempotency_key, ":void-late")) {
			assert_true(p->captured);
			illegal++;
			continue;
		}
		switch (c->command) {
		case SOUK_EVENT_COMMAND_CREATE:
			assert_false(p->created);
			p->created = 1;
			p->amount = c->amount;
			memcpy(p->currency, c->currency, sizeof(p->currency));
			assert_true(souk_event_currency_exponent(c->currency) >= 0);
			payments++;
			break;
		case SOUK_EVENT_COMMAND_AUTHORIZE:
			assert_true(p->created && !p->authorized);
			p->authorized = 1;
			break;
		case SOUK_EVENT_COMMAND_CAPTURE:
			assert_true(p->authorized && !p->captured && !p->voided);
			assert_in_range(c->amount, 1, p->amount);
			assert_string_equal(c->currency, p->currency);
			p->captured = 1;
			p->captured_amount = c->amount;
			break;
		case SOUK_EVENT_COMMAND_VOID:
			assert_true(p->authorized && !p->captured && !p->voided);
			p->voided = 1;
			break;
		case SOUK_EVENT_COMMAND_REFUND:
			assert_true(p->captured);
			assert_true(c->refund_id[0] != '\0');
			p->refunded += c->amount;
			assert_true(p->refunded <= p->captured_amount);
			break;
		case SOUK_EVENT_COMMAND_SETTLE:
			break;
		}
	}
	assert_int_equal(payments, PAYMENTS);
	assert_int_equal(st.payments, PAYMENTS);
	assert_int_equal(retries, st.retries);
	assert_int_equal(conflicts, st.conflicts);
	assert_int_equal(illegal, st.illegal);
	/* About 5 % of ~7000 commands, 1 % and 2 % of 2000 payments. */
	assert_in_range(retries, 200, 500);
	assert_in_range(conflicts, 5, 50);
	assert_in_range(illegal, 15, 70);
	free(buf);
}

static void
test_seed_replays(void **state)
{
	struct lg_payments_opts o = {.payments = 300, .retry_share = 0.05};
	struct lg_payments_stats st;
	size_t la, lb, lc;
	char *a = generate(&o, 5, &la, &st), *b = generate(&o, 5, &lb, &st);
	char *c = generate(&o, 6, &lc, &st);

	(void)state;
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_true(la != lc || memcmp(a, c, la) != 0);
	free(a);
	free(b);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commands_follow_the_payment_rules),
	    cmocka_unit_test(test_seed_replays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
