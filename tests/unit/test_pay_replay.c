/*
 * pay_replay: legal histories (the loadgen's scripts: full flow with partial and full
 * refunds, void, decline, settle) replay to their payment; each kind of illegal row is
 * refused with a message naming its version, and leaves the replay where it was; a
 * payments row that differs from its history is named; pay_replay_legal refuses each
 * broken rule and accepts every state a legal path reaches.
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
#include "pay_replay.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A row; amount < 0: none. */
static struct pay_replay_row
row(int64_t version, enum pay_state from, enum pay_command c, enum pay_state to,
    int64_t amount)
{
	return (struct pay_replay_row){.version = version,
				       .from = from,
				       .to = to,
				       .command = c,
				       .has_amount = amount >= 0,
				       .amount = amount < 0 ? 0 : amount};
}

/* Replays rows[0..n) in EUR, each of which must be legal. */
static struct pay_replay
replay(const struct pay_replay_row *rows, size_t n)
{
	struct pay_replay r;
	char err[256];

	pay_replay_init(&r, "EUR");
	for (size_t i = 0; i < n; i++)
		if (pay_replay_step(&r, &rows[i], err, sizeof(err)))
			fail_msg("row %zu: %s", i, err);
	return r;
}

static struct pay_fsm_payment
stored(enum pay_state s, int64_t amount, int64_t authorized, int64_t captured,
       int64_t refunded)
{
	return (struct pay_fsm_payment){.state = s,
					.currency = "EUR",
					.amount = amount,
					.authorized = authorized,
					.captured = captured,
					.refunded = refunded};
}

static void
expect_finish(const struct pay_replay *r, struct pay_fsm_payment p, int64_t version)
{
	char err[256];

	if (pay_replay_finish(r, &p, version, err, sizeof(err)))
		fail_msg("%s", err);
	if (pay_replay_legal(&p, err, sizeof(err)))
		fail_msg("legal: %s", err);
}

static void
test_legal_histories_replay_to_their_payment(void **state)
{
	const struct pay_replay_row full[] = {
	    row(1, PAY_STATE_NONE, PAY_COMMAND_CREATE, PAY_STATE_CREATED, 1000),
	    row(2, PAY_STATE_CREATED, PAY_COMMAND_AUTHORIZE, PAY_STATE_AUTHORIZED, -1),
	    row(3, PAY_STATE_AUTHORIZED, PAY_COMMAND_CAPTURE, PAY_STATE_CAPTURED, 800),
	    row(4, PAY_STATE_CAPTURED, PAY_COMMAND_SETTLE, PAY_STATE_SETTLED, 800),
	    row(5, PAY_STATE_SETTLED, PAY_COMMAND_REFUND, PAY_STATE_SETTLED, 300),
	    row(6, PAY_STATE_SETTLED, PAY_COMMAND_REFUND, PAY_STATE_REFUNDED, 500),
	};
	const struct pay_replay_row voided[] = {
	    row(1, PAY_STATE_NONE, PAY_COMMAND_CREATE, PAY_STATE_CREATED, 250),
	    row(2, PAY_STATE_CREATED, PAY_COMMAND_AUTHORIZE, PAY_STATE_AUTHORIZED, 250),
	    row(3, PAY_STATE_AUTHORIZED, PAY_COMMAND_VOID, PAY_STATE_VOIDED, -1),
	};
	const struct pay_replay_row declined[] = {
	    row(1, PAY_STATE_NONE, PAY_COMMAND_CREATE, PAY_STATE_CREATED, 99),
	    row(2, PAY_STATE_CREATED, PAY_COMMAND_AUTHORIZE, PAY_STATE_DECLINED, -1),
	};
	struct pay_replay r;

	(void)state;
	r = replay(full, N(full));
	expect_finish(&r, stored(PAY_STATE_REFUNDED, 1000, 1000, 800, 800), 6);
	r = replay(full, 5);
	expect_finish(&r, stored(PAY_STATE_SETTLED, 1000, 1000, 800, 300), 5);
	r = replay(full, 3);
	expect_finish(&r, stored(PAY_STATE_CAPTURED, 1000, 1000, 800, 0), 3);
	r = replay(voided, N(voided));
	expect_finish(&r, stored(PAY_STATE_VOIDED, 250, 250, 0, 0), 3);
	r = replay(declined, N(declined));
	expect_finish(&r, stored(PAY_STATE_DECLINED, 99, 0, 0, 0), 2);
	r = replay(declined, 1);
	expect_finish(&r, stored(PAY_STATE_CREATED, 99, 0, 0, 0), 1);
}

static void
test_illegal_rows_are_named_and_change_nothing(void **state)
{
	const struct pay_replay_row start[] = {
	    row(1, PAY_STATE_NONE, PAY_COMMAND_CREATE, PAY_STATE_CREATED, 1000),
	    row(2, PAY_STATE_CREATED, PAY_COMMAND_AUTHORIZE, PAY_STATE_AUTHORIZED, -1),
	    row(3, PAY_STATE_AUTHORIZED, PAY_COMMAND_CAPTURE, PAY_STATE_CAPTURED, 600),
	};
	static const struct {
		struct pay_replay_row row;
		const char *says;
	} bad[] = {
	    /* a version skipped, or the same one twice */
	    {{5, PAY_STATE_CAPTURED, PAY_STATE_SETTLED, PAY_COMMAND_SETTLE, false, 0},
	     "version 5: settle follows version 3"},
	    {{3, PAY_STATE_CAPTURED, PAY_STATE_SETTLED, PAY_COMMAND_SETTLE, false, 0},
	     "version 3: settle follows version 3"},
	    /* from a state the payment was not in */
	    {{4, PAY_STATE_AUTHORIZED, PAY_STATE_VOIDED, PAY_COMMAND_VOID, false, 0},
	     "version 4: void from authorized, but the payment was captured"},
	    /* no such transition */
	    {{4, PAY_STATE_CAPTURED, PAY_STATE_VOIDED, PAY_COMMAND_VOID, false, 0},
	     "version 4: void from captured: illegal_transition"},
	    {{4, PAY_STATE_CAPTURED, PAY_STATE_CAPTURED, PAY_COMMAND_CAPTURE, true, 1},
	     "version 4: capture from captured: illegal_transition"},
	    {{4, PAY_STATE_CAPTURED, PAY_STATE_CREATED, PAY_COMMAND_CREATE, true, 5},
	     "version 4: create from captured: payment_exists"},
	    /* an amount the rules refuse */
	    {{4, PAY_STATE_CAPTURED, PAY_STATE_CAPTURED, PAY_COMMAND_REFUND, true, 601},
	     "version 4: refund from captured: refund_exceeds_captured"},
	    {{4, PAY_STATE_CAPTURED, PAY_STATE_SETTLED, PAY_COMMAND_SETTLE, true, 500},
	     "version 4: settle from captured: amount_mismatch"},
	    /* a legal command that leads elsewhere: a partial refund is no full one, a
	     * settle never declines */
	    {{4, PAY_STATE_CAPTURED, PAY_STATE_REFUNDED, PAY_COMMAND_REFUND, true, 100},
	     "version 4: refund from captured leads to captured, not refunded"},
	    {{4, PAY_STATE_CAPTURED, PAY_STATE_DECLINED, PAY_COMMAND_SETTLE, false, 0},
	     "version 4: settle from captured leads to settled, not declined"},
	    {{4, PAY_STATE_CAPTURED, PAY_STATE_CAPTURED, PAY_COMMAND_REFUND, true, 600},
	     "version 4: refund from captured leads to refunded, not captured"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < N(bad); i++) {
		struct pay_replay r = replay(start, N(start)), before = r;

		assert_int_equal(pay_replay_step(&r, &bad[i].row, err, sizeof(err)), -1);
		assert_string_equal(err, bad[i].says);
		assert_memory_equal(&r, &before, sizeof(r));
	}
	{
		/* a history that does not start with a create */
		struct pay_replay r;
		struct pay_replay_row first =
		    row(1, PAY_STATE_CREATED, PAY_COMMAND_AUTHORIZE, PAY_STATE_AUTHORIZED, -1);

		pay_replay_init(&r, "EUR");
		assert_int_equal(pay_replay_step(&r, &first, err, sizeof(err)), -1);
		assert_string_equal(err, "version 1: authorize from created, but the "
					 "payment was none");
		first = row(1, PAY_STATE_NONE, PAY_COMMAND_AUTHORIZE, PAY_STATE_AUTHORIZED,
			    -1);
		assert_int_equal(pay_replay_step(&r, &first, err, sizeof(err)), -1);
		assert_string_equal(err, "version 1: authorize from none: unknown_payment");
		/* a create in a currency souk does not accept */
		pay_replay_init(&r, "XXX");
		first = row(1, PAY_STATE_NONE, PAY_COMMAND_CREATE, PAY_STATE_CREATED, 10);
		assert_int_equal(pay_replay_step(&r, &first, err, sizeof(err)), -1);
		assert_string_equal(err, "version 1: create from none: invalid_currency");
	}
}

static void
test_a_row_that_differs_from_its_history_is_named(void **state)
{
	const struct pay_replay_row rows[] = {
	    row(1, PAY_STATE_NONE, PAY_COMMAND_CREATE, PAY_STATE_CREATED, 1000),
	    row(2, PAY_STATE_CREATED, PAY_COMMAND_AUTHORIZE, PAY_STATE_AUTHORIZED, -1),
	    row(3, PAY_STATE_AUTHORIZED, PAY_COMMAND_CAPTURE, PAY_STATE_CAPTURED, 600),
	    row(4, PAY_STATE_CAPTURED, PAY_COMMAND_REFUND, PAY_STATE_CAPTURED, 100),
	};
	struct pay_replay r = replay(rows, N(rows));
	struct pay_fsm_payment p = stored(PAY_STATE_CAPTURED, 1000, 1000, 600, 100);
	char err[256];

	(void)state;
	assert_int_equal(pay_replay_finish(&r, &p, 4, err, sizeof(err)), 0);
	p.state = PAY_STATE_SETTLED;
	assert_int_equal(pay_replay_finish(&r, &p, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "state settled, its history ends captured");
	p = stored(PAY_STATE_CAPTURED, 1000, 1000, 600, 200); /* a refund counted twice */
	assert_int_equal(pay_replay_finish(&r, &p, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "amount_refunded 200, its history makes it 100");
	p = stored(PAY_STATE_CAPTURED, 1000, 1000, 600, 100);
	assert_int_equal(pay_replay_finish(&r, &p, 5, err, sizeof(err)), -1);
	assert_string_equal(err, "version 5, its history has 4 transitions");
}

static void
test_legal_states(void **state)
{
	static const struct {
		struct pay_fsm_payment p;
		const char *says; /* NULL: legal */
	} cases[] = {
	    {{PAY_STATE_CREATED, "EUR", 10, 0, 0, 0}, NULL},
	    {{PAY_STATE_DECLINED, "JPY", 10, 0, 0, 0}, NULL},
	    {{PAY_STATE_AUTHORIZED, "EUR", 10, 10, 0, 0}, NULL},
	    {{PAY_STATE_VOIDED, "EUR", 10, 10, 0, 0}, NULL},
	    {{PAY_STATE_CAPTURED, "KWD", 10, 10, 4, 3}, NULL},
	    {{PAY_STATE_SETTLED, "EUR", 10, 10, 4, 0}, NULL},
	    {{PAY_STATE_REFUNDED, "EUR", 10, 10, 4, 4}, NULL},
	    {{PAY_STATE_NONE, "EUR", 10, 0, 0, 0}, "no state"},
	    {{PAY_STATE_CREATED, "ABC", 10, 0, 0, 0},
	     "created: currency \"ABC\" is not one souk accepts"},
	    {{PAY_STATE_CREATED, "EUR", 0, 0, 0, 0},
	     "created: amount 0 out of 1..1000000000000"},
	    {{PAY_STATE_CAPTURED, "EUR", 10, 10, 11, 0},
	     "captured: amounts break 0 <= refunded 0 <= captured 11 <= authorized 10 "
	     "<= amount 10"},
	    {{PAY_STATE_CAPTURED, "EUR", 10, 10, 4, 5},
	     "captured: amounts break 0 <= refunded 5 <= captured 4 <= authorized 10 <= "
	     "amount 10"},
	    {{PAY_STATE_CREATED, "EUR", 10, 10, 0, 0}, "created with 10 authorized"},
	    {{PAY_STATE_AUTHORIZED, "EUR", 10, 0, 0, 0}, "authorized with 0 authorized"},
	    {{PAY_STATE_VOIDED, "EUR", 10, 10, 5, 0}, "voided with 5 captured"},
	    {{PAY_STATE_SETTLED, "EUR", 10, 10, 0, 0}, "settled with 0 captured"},
	    {{PAY_STATE_CAPTURED, "EUR", 10, 10, 4, 4},
	     "captured with 4 of 4 captured refunded"},
	    {{PAY_STATE_REFUNDED, "EUR", 10, 10, 4, 3},
	     "refunded with 3 of 4 captured refunded"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		int rc = pay_replay_legal(&cases[i].p, err, sizeof(err));

		if (!cases[i].says) {
			if (rc)
				fail_msg("case %zu: %s", i, err);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_string_equal(err, cases[i].says);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_legal_histories_replay_to_their_payment),
	    cmocka_unit_test(test_illegal_rows_are_named_and_change_nothing),
	    cmocka_unit_test(test_a_row_that_differs_from_its_history_is_named),
	    cmocka_unit_test(test_legal_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
