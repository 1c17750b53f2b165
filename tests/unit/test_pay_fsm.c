/*
 * pay_fsm: every (state, command) pair, no payment yet included, against a table of
 * expected outcomes written here independently of pay_fsm.c; the amount rules; the
 * provider's refusals; every reachable payment keeping the CHECKs of
 * schemas/sql/003_payments.sql; names and the mapping to souk_event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pay_fsm.h"
#include "pay_money.h"
#include "souk_event.h"

/* A payment in each state, with amounts it could have reached: 1000 EUR asked, all
 * of it authorized, 600 captured. */
static struct pay_fsm_payment
payment(enum pay_state s)
{
	struct pay_fsm_payment p = {.state = s, .currency = "EUR", .amount = 1000};

	switch (s) {
	case PAY_STATE_NONE:
		return (struct pay_fsm_payment){.state = PAY_STATE_NONE};
	case PAY_STATE_CREATED:
	case PAY_STATE_DECLINED:
		break;
	case PAY_STATE_AUTHORIZED:
	case PAY_STATE_VOIDED:
		p.authorized = 1000;
		break;
	case PAY_STATE_CAPTURED:
	case PAY_STATE_SETTLED:
		p.authorized = 1000;
		p.captured = 600;
		break;
	case PAY_STATE_REFUNDED:
		p.authorized = 1000;
		p.captured = 600;
		p.refunded = 600;
		break;
	}
	return p;
}

static struct pay_fsm_request
request(enum pay_command c, int64_t amount, const char *currency)
{
	struct pay_fsm_request r = {
	    .command = c, .has_amount = amount >= 0, .amount = amount};

	snprintf(r.currency, sizeof(r.currency), "%s", currency);
	return r;
}

#define NO_AMOUNT (-1)

/* A request each command would accept somewhere: the amounts fit payment(). */
static struct pay_fsm_request
fitting(enum pay_command c)
{
	switch (c) {
	case PAY_COMMAND_CREATE:
		return request(c, 1000, "EUR");
	case PAY_COMMAND_CAPTURE:
		return request(c, 600, "EUR");
	case PAY_COMMAND_REFUND:
		return request(c, 200, "EUR");
	case PAY_COMMAND_AUTHORIZE:
	case PAY_COMMAND_VOID:
	case PAY_COMMAND_SETTLE:
		break;
	}
	return request(c, NO_AMOUNT, "");
}

struct expect {
	enum pay_fsm_error error; /* PAY_FSM_OK: legal, and then */
	enum pay_state next;
	bool provider;
	enum pay_state refused; /* when provider */
};

#define ERR(e)                                                                           \
	{                                                                                \
		.error = (e)                                                             \
	}
#define TO(s)                                                                            \
	{                                                                                \
		.next = (s)                                                              \
	}
#define ASK(s, r)                                                                        \
	{                                                                                \
		.next = (s), .provider = true, .refused = (r)                            \
	}
#define EXISTS ERR(PAY_FSM_EEXISTS)
#define UNKNOWN ERR(PAY_FSM_EUNKNOWN)
#define ILLEGAL ERR(PAY_FSM_EILLEGAL)

/* The machine, pair by pair: [state][command], commands in the order create,
 * authorize, capture, void, refund, settle. */
static const struct expect expected[PAY_STATE_COUNT][PAY_COMMAND_COUNT] = {
    [PAY_STATE_NONE] = {TO(PAY_STATE_CREATED), UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN,
			UNKNOWN},
    [PAY_STATE_CREATED] = {EXISTS, ASK(PAY_STATE_AUTHORIZED, PAY_STATE_DECLINED), ILLEGAL,
			   ILLEGAL, ILLEGAL, ILLEGAL},
    [PAY_STATE_AUTHORIZED] = {EXISTS, ILLEGAL,
			      ASK(PAY_STATE_CAPTURED, PAY_STATE_AUTHORIZED),
			      ASK(PAY_STATE_VOIDED, PAY_STATE_AUTHORIZED), ILLEGAL,
			      ILLEGAL},
    [PAY_STATE_CAPTURED] = {EXISTS, ILLEGAL, ILLEGAL, ILLEGAL,
			    ASK(PAY_STATE_CAPTURED, PAY_STATE_CAPTURED),
			    TO(PAY_STATE_SETTLED)},
    [PAY_STATE_SETTLED] = {EXISTS, ILLEGAL, ILLEGAL, ILLEGAL,
			   ASK(PAY_STATE_SETTLED, PAY_STATE_SETTLED), ILLEGAL},
    [PAY_STATE_DECLINED] = {EXISTS, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL},
    [PAY_STATE_VOIDED] = {EXISTS, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL},
    [PAY_STATE_REFUNDED] = {EXISTS, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL},
};

static void
test_every_state_and_command_pair(void **state)
{
	int legal = 0;

	(void)state;
	for (int s = 0; s < PAY_STATE_COUNT; s++) {
		for (int c = 0; c < PAY_COMMAND_COUNT; c++) {
			struct pay_fsm_payment cur = payment((enum pay_state)s);
			struct pay_fsm_request req = fitting((enum pay_command)c);
			const struct expect *want = &expected[s][c];
			struct pay_fsm_step step, untouched;
			enum pay_fsm_error e;

			memset(&step, 0xa5, sizeof(step));
			untouched = step;
			e = pay_fsm_next(&cur, &req, &step);
			if (e != want->error)
				fail_msg(
				    "%s on %s: got %s, want %s", pay_fsm_command_name(c),
				    s ? pay_fsm_state_name(s) : "no payment",
				    e ? pay_fsm_error_name(e) : "ok",
				    want->error ? pay_fsm_error_name(want->error) : "ok");
			if (e != PAY_FSM_OK) {
				assert_memory_equal(&step, &untouched, sizeof(step));
				continue;
			}
			legal++;
			assert_int_equal(step.next.state, want->next);
			assert_int_equal(step.provider, want->provider);
			if (want->provider) {
				assert_int_equal(step.refused.state, want->refused);
				assert_int_equal(step.refused_error,
						 want->refused == PAY_STATE_DECLINED
						     ? PAY_FSM_EDECLINED
						     : PAY_FSM_EPROVIDER);
			}
		}
	}
	assert_int_equal(legal, 7);
}

/* Decides req on cur and expects it legal. */
static struct pay_fsm_step
step_ok(struct pay_fsm_payment cur, struct pay_fsm_request req)
{
	struct pay_fsm_step step;
	enum pay_fsm_error e = pay_fsm_next(&cur, &req, &step);

	if (e != PAY_FSM_OK)
		fail_msg("%s refused: %s", pay_fsm_command_name(req.command),
			 pay_fsm_error_name(e));
	return step;
}

static enum pay_fsm_error
step_error(struct pay_fsm_payment cur, struct pay_fsm_request req)
{
	struct pay_fsm_step step;

	return pay_fsm_next(&cur, &req, &step);
}

static void
test_create_asks_an_amount_in_a_known_currency(void **state)
{
	struct pay_fsm_payment none = payment(PAY_STATE_NONE);
	struct pay_fsm_step st;

	(void)state;
	st = step_ok(none, request(PAY_COMMAND_CREATE, 1999, "KWD"));
	assert_int_equal(st.next.state, PAY_STATE_CREATED);
	assert_string_equal(st.next.currency, "KWD");
	assert_int_equal(st.next.amount, 1999);
	assert_int_equal(st.next.authorized, 0);
	assert_false(st.provider);
	st = step_ok(none, request(PAY_COMMAND_CREATE, PAY_MONEY_MAX, "JPY"));
	assert_int_equal(st.next.amount, PAY_MONEY_MAX);

	assert_int_equal(step_error(none, request(PAY_COMMAND_CREATE, 0, "EUR")),
			 PAY_FSM_EAMOUNT);
	assert_int_equal(step_error(none, request(PAY_COMMAND_CREATE, -5, "EUR")),
			 PAY_FSM_EAMOUNT);
	assert_int_equal(
	    step_error(none, request(PAY_COMMAND_CREATE, PAY_MONEY_MAX + 1, "EUR")),
	    PAY_FSM_EAMOUNT);
	assert_int_equal(step_error(none, request(PAY_COMMAND_CREATE, NO_AMOUNT, "EUR")),
			 PAY_FSM_EAMOUNT);
	assert_int_equal(step_error(none, request(PAY_COMMAND_CREATE, 100, "XYZ")),
			 PAY_FSM_ECURRENCY);
	assert_int_equal(step_error(none, request(PAY_COMMAND_CREATE, 100, "")),
			 PAY_FSM_ECURRENCY);
}

static void
test_authorize_takes_the_created_amount(void **state)
{
	struct pay_fsm_payment created = payment(PAY_STATE_CREATED);
	struct pay_fsm_step st;

	(void)state;
	st = step_ok(created, request(PAY_COMMAND_AUTHORIZE, NO_AMOUNT, ""));
	assert_int_equal(st.next.authorized, 1000);
	st = step_ok(created, request(PAY_COMMAND_AUTHORIZE, 1000, "EUR"));
	assert_int_equal(st.next.authorized, 1000);
	assert_int_equal(step_error(created, request(PAY_COMMAND_AUTHORIZE, 999, "EUR")),
			 PAY_FSM_EAMOUNT_MISMATCH);
	assert_int_equal(step_error(created, request(PAY_COMMAND_AUTHORIZE, 1000, "USD")),
			 PAY_FSM_ECURRENCY_MISMATCH);
}

static void
test_capture_is_at_most_the_authorized_amount_and_once(void **state)
{
	struct pay_fsm_payment auth = payment(PAY_STATE_AUTHORIZED);
	struct pay_fsm_step st;

	(void)state;
	st = step_ok(auth, request(PAY_COMMAND_CAPTURE, 1000, "EUR"));
	assert_int_equal(st.next.captured, 1000);
	st = step_ok(auth, request(PAY_COMMAND_CAPTURE, 1, "EUR"));
	assert_int_equal(st.next.state, PAY_STATE_CAPTURED);
	assert_int_equal(st.next.captured, 1);
	assert_int_equal(st.next.authorized, 1000); /* the rest is released */
	assert_int_equal(step_error(auth, request(PAY_COMMAND_CAPTURE, 1001, "EUR")),
			 PAY_FSM_EOVER_AUTHORIZED);
	assert_int_equal(step_error(auth, request(PAY_COMMAND_CAPTURE, 0, "EUR")),
			 PAY_FSM_EAMOUNT);
	assert_int_equal(step_error(auth, request(PAY_COMMAND_CAPTURE, NO_AMOUNT, "")),
			 PAY_FSM_EAMOUNT);
	assert_int_equal(step_error(auth, request(PAY_COMMAND_CAPTURE, 500, "GBP")),
			 PAY_FSM_ECURRENCY_MISMATCH);
	/* Once captured, a second capture is not a transition at all. */
	assert_int_equal(step_error(st.next, request(PAY_COMMAND_CAPTURE, 1, "EUR")),
			 PAY_FSM_EILLEGAL);
}

static void
test_void_and_settle_repeat_the_amount_they_act_on(void **state)
{
	struct pay_fsm_payment auth = payment(PAY_STATE_AUTHORIZED);
	struct pay_fsm_payment capt = payment(PAY_STATE_CAPTURED);
	struct pay_fsm_step st;

	(void)state;
	st = step_ok(auth, request(PAY_COMMAND_VOID, 1000, "EUR"));
	assert_int_equal(st.next.state, PAY_STATE_VOIDED);
	assert_int_equal(step_error(auth, request(PAY_COMMAND_VOID, 5, "EUR")),
			 PAY_FSM_EAMOUNT_MISMATCH);
	st = step_ok(capt, request(PAY_COMMAND_SETTLE, 600, "EUR"));
	assert_int_equal(st.next.state, PAY_STATE_SETTLED);
	assert_int_equal(st.next.captured, 600);
	assert_false(st.provider);
	assert_int_equal(step_error(capt, request(PAY_COMMAND_SETTLE, 599, "EUR")),
			 PAY_FSM_EAMOUNT_MISMATCH);
	assert_int_equal(step_error(capt, request(PAY_COMMAND_SETTLE, 600, "JPY")),
			 PAY_FSM_ECURRENCY_MISMATCH);
}

static void
test_refunds_add_up_to_the_capture_then_refunded(void **state)
{
	struct pay_fsm_payment p = payment(PAY_STATE_CAPTURED);
	struct pay_fsm_step st;

	(void)state;
	st = step_ok(p, request(PAY_COMMAND_REFUND, 200, "EUR"));
	assert_int_equal(st.next.state, PAY_STATE_CAPTURED);
	assert_int_equal(st.next.refunded, 200);
	p = st.next;
	assert_int_equal(step_error(p, request(PAY_COMMAND_REFUND, 401, "EUR")),
			 PAY_FSM_EOVER_CAPTURED);
	assert_int_equal(step_error(p, request(PAY_COMMAND_REFUND, 0, "EUR")),
			 PAY_FSM_EAMOUNT);
	assert_int_equal(step_error(p, request(PAY_COMMAND_REFUND, 100, "USD")),
			 PAY_FSM_ECURRENCY_MISMATCH);
	st = step_ok(p, request(PAY_COMMAND_REFUND, 399, "EUR"));
	assert_int_equal(st.next.state, PAY_STATE_CAPTURED);
	p = st.next;
	st = step_ok(p, request(PAY_COMMAND_REFUND, 1, "EUR"));
	assert_int_equal(st.next.state, PAY_STATE_REFUNDED);
	assert_int_equal(st.next.refunded, 600);
	assert_int_equal(step_error(st.next, request(PAY_COMMAND_REFUND, 1, "EUR")),
			 PAY_FSM_EILLEGAL);

	/* After settlement too, and in one go. */
	p = payment(PAY_STATE_SETTLED);
	st = step_ok(p, request(PAY_COMMAND_REFUND, 100, "EUR"));
	assert_int_equal(st.next.state, PAY_STATE_SETTLED);
	st = step_ok(p, request(PAY_COMMAND_REFUND, 600, "EUR"));
	assert_int_equal(st.next.state, PAY_STATE_REFUNDED);
	assert_int_equal(step_error(p, request(PAY_COMMAND_REFUND, 601, "EUR")),
			 PAY_FSM_EOVER_CAPTURED);
}

static void
test_provider_refusal_declines_only_an_authorization(void **state)
{
	struct pay_fsm_step st;

	(void)state;
	st = step_ok(payment(PAY_STATE_CREATED), fitting(PAY_COMMAND_AUTHORIZE));
	assert_true(st.provider);
	assert_int_equal(st.refused.state, PAY_STATE_DECLINED);
	assert_int_equal(st.refused.authorized, 0);
	assert_string_equal(pay_fsm_error_name(st.refused_error), "declined");

	st = step_ok(payment(PAY_STATE_AUTHORIZED), fitting(PAY_COMMAND_CAPTURE));
	assert_true(st.provider);
	assert_int_equal(st.refused.state, PAY_STATE_AUTHORIZED);
	assert_int_equal(st.refused.captured, 0);
	assert_string_equal(pay_fsm_error_name(st.refused_error), "provider_refused");

	st = step_ok(payment(PAY_STATE_CAPTURED), fitting(PAY_COMMAND_REFUND));
	assert_int_equal(st.refused.state, PAY_STATE_CAPTURED);
	assert_int_equal(st.refused.refunded, 0);
}

/* ---- every reachable payment keeps the schema's CHECKs ---------------------------- */

struct walk {
	long steps;
	bool seen[PAY_STATE_COUNT][PAY_COMMAND_COUNT]; /* legal pairs reached */
};

/* The CHECKs of the payments table (schemas/sql/003_payments.sql), restated, and
 * authorize taking all of the amount. */
static void
assert_row_ok(const struct pay_fsm_payment *p, const char *currency)
{
	bool refunded = p->state == PAY_STATE_REFUNDED;
	bool before_capture =
	    p->state == PAY_STATE_CREATED || p->state == PAY_STATE_AUTHORIZED ||
	    p->state == PAY_STATE_DECLINED || p->state == PAY_STATE_VOIDED;

	assert_string_equal(p->currency, currency);
	assert_true(p->amount >= 1 && p->amount <= PAY_MONEY_MAX);
	assert_true(0 <= p->refunded && p->refunded <= p->captured);
	assert_true(p->captured <= p->authorized && p->authorized <= p->amount);
	assert_int_equal(refunded, p->captured > 0 && p->refunded == p->captured);
	if (p->state == PAY_STATE_CREATED || p->state == PAY_STATE_DECLINED)
		assert_int_equal(p->authorized, 0);
	else
		assert_int_equal(p->authorized, p->amount);
	assert_int_equal(before_capture, p->captured == 0);
}

static const int64_t walk_amounts[] = {NO_AMOUNT, 0, 1, 399, 400, 1000, 1001};
static const char *const walk_currencies[] = {"", "EUR", "USD"};

static void
walk(struct walk *w, const struct pay_fsm_payment *cur, int depth)
{
	if (depth == 0)
		return;
	for (int c = 0; c < PAY_COMMAND_COUNT; c++) {
		for (size_t a = 0; a < sizeof(walk_amounts) / sizeof(walk_amounts[0]);
		     a++) {
			for (size_t k = 0; k < 3; k++) {
				struct pay_fsm_request req =
				    request((enum pay_command)c, walk_amounts[a],
					    walk_currencies[k]);
				struct pay_fsm_step st;

				if (pay_fsm_next(cur, &req, &st) != PAY_FSM_OK)
					continue;
				w->steps++;
				w->seen[cur->state][c] = true;
				assert_row_ok(&st.next,
					      cur->state ? cur->currency : req.currency);
				walk(w, &st.next, depth - 1);
				if (!st.provider || cur->state == PAY_STATE_NONE)
					continue;
				assert_int_equal(st.refused.state,
						 st.refused_error == PAY_FSM_EDECLINED
						     ? PAY_STATE_DECLINED
						     : cur->state);
				assert_row_ok(&st.refused, cur->currency);
				walk(w, &st.refused, depth - 1);
			}
		}
	}
}

static void
test_every_reachable_payment_keeps_the_schema_checks(void **state)
{
	struct pay_fsm_payment none = {.state = PAY_STATE_NONE};
	struct walk *w = calloc(1, sizeof(*w));
	int pairs = 0;

	(void)state;
	walk(w, &none, 6);
	for (int s = 0; s < PAY_STATE_COUNT; s++)
		for (int c = 0; c < PAY_COMMAND_COUNT; c++)
			pairs += w->seen[s][c];
	assert_int_equal(pairs, 7); /* every legal transition was taken */
	assert_true(w->steps > 1000);
	free(w);
}

/* ---- names, codes and souk_event ----------------------------------------------------
 */

static void
test_error_names_are_distinct_result_codes(void **state)
{
	(void)state;
	assert_null(pay_fsm_error_name(PAY_FSM_OK));
	for (int i = 1; i < PAY_FSM_ERROR_COUNT; i++) {
		const char *name = pay_fsm_error_name((enum pay_fsm_error)i);
		char json[512];
		souk_event_t ev;
		souk_event_error_t err;

		assert_non_null(name);
		for (int j = 1; j < i; j++)
			assert_string_not_equal(
			    name, pay_fsm_error_name((enum pay_fsm_error)j));
		/* The codec takes it as a payment_result's error. */
		snprintf(json, sizeof(json),
			 "{\"event_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\","
			 "\"type\":\"payment_result\",\"version\":1,"
			 "\"ts\":\"2024-05-01T12:00:00.000Z\",\"client_id\":\"payments\","
			 "\"idempotency_key\":\"k1\",\"payment_id\":\"p1\","
			 "\"command\":\"capture\",\"status\":\"error\",\"error\":\"%s\","
			 "\"source_event_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae8\"}",
			 name);
		if (souk_event_decode(json, strlen(json), &ev, &err) != SOUK_EVENT_OK)
			fail_msg("%s: %s", name, err.message);
		assert_string_equal(ev.payment_result.error, name);
	}
	assert_string_equal(pay_fsm_error_name(PAY_FSM_EOVER_AUTHORIZED),
			    "amount_exceeds_authorized");
	assert_string_equal(pay_fsm_error_name(PAY_FSM_EOVER_CAPTURED),
			    "refund_exceeds_captured");
	assert_string_equal(pay_fsm_error_name(PAY_FSM_EILLEGAL), "illegal_transition");
}

/* Each state, as souk_event writes it in a payment_result, has pay_fsm's name. */
static void
test_states_map_to_the_event_spelling(void **state)
{
	enum pay_state back;

	(void)state;
	assert_null(pay_fsm_state_name(PAY_STATE_NONE));
	assert_int_equal(pay_fsm_state_to_event(PAY_STATE_NONE), SOUK_EVENT_STATE_NONE);
	assert_int_equal(pay_fsm_state_from_event(SOUK_EVENT_STATE_NONE), PAY_STATE_NONE);
	for (int s = 1; s < PAY_STATE_COUNT; s++) {
		souk_event_t ev = {.type = SOUK_EVENT_TYPE_PAYMENT_RESULT,
				   .version = SOUK_EVENT_VERSION};
		char buf[SOUK_EVENT_MAX_BYTES + 1], want[64], err[256];
		size_t len;

		snprintf(ev.event_id, sizeof(ev.event_id),
			 "7c9e6679-7425-40de-944b-e07fc1f90ae7");
		snprintf(ev.ts, sizeof(ev.ts), "2024-05-01T12:00:00.000Z");
		snprintf(ev.client_id, sizeof(ev.client_id), "payments");
		snprintf(ev.idempotency_key, sizeof(ev.idempotency_key), "k1");
		snprintf(ev.payment_result.payment_id,
			 sizeof(ev.payment_result.payment_id), "p1");
		snprintf(ev.payment_result.source_event_id,
			 sizeof(ev.payment_result.source_event_id),
			 "7c9e6679-7425-40de-944b-e07fc1f90ae8");
		ev.payment_result.status = SOUK_EVENT_PAYMENT_OK;
		ev.payment_result.state = pay_fsm_state_to_event((enum pay_state)s);
		if (souk_event_encode(&ev, buf, sizeof(buf), &len, err, sizeof(err)))
			fail_msg("%s", err);
		snprintf(want, sizeof(want), "\"state\":\"%s\"", pay_fsm_state_name(s));
		assert_non_null(strstr(buf, want));
		assert_int_equal(pay_fsm_state_from_event(ev.payment_result.state), s);
		assert_int_equal(pay_fsm_state_parse(pay_fsm_state_name(s), &back), 0);
		assert_int_equal(back, s);
	}
	assert_int_equal(pay_fsm_state_parse("none", &back), -1);
	assert_int_equal(pay_fsm_state_parse("Captured", &back), -1);
}

/* A decoded payment event becomes the request pay_fsm decides. */
static void
test_commands_map_to_the_event_spelling(void **state)
{
	static const char *const names[PAY_COMMAND_COUNT] = {
	    "create", "authorize", "capture", "void", "refund", "settle"};
	enum pay_command back;

	(void)state;
	for (int c = 0; c < PAY_COMMAND_COUNT; c++) {
		char json[512];
		souk_event_t ev;
		souk_event_error_t err;
		struct pay_fsm_request req;

		snprintf(json, sizeof(json),
			 "{\"event_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\","
			 "\"type\":\"payment\",\"version\":1,"
			 "\"ts\":\"2024-05-01T12:00:00.000Z\",\"client_id\":\"shop\","
			 "\"idempotency_key\":\"k1\",\"payment_id\":\"p1\","
			 "\"command\":\"%s\",\"amount\":1999,\"currency\":\"KWD\","
			 "\"refund_id\":\"r1\"}",
			 names[c]);
		if (souk_event_decode(json, strlen(json), &ev, &err) != SOUK_EVENT_OK)
			fail_msg("%s: %s", names[c], err.message);
		req = pay_fsm_request_from_event(&ev.payment);
		assert_int_equal(req.command, c);
		assert_string_equal(pay_fsm_command_name(req.command), names[c]);
		assert_true(req.has_amount);
		assert_int_equal(req.amount, 1999);
		assert_string_equal(req.currency, "KWD");
		assert_int_equal(pay_fsm_command_to_event(req.command),
				 ev.payment.command);
		assert_int_equal(pay_fsm_command_parse(names[c], &back), 0);
		assert_int_equal(back, c);
	}
	assert_int_equal(pay_fsm_command_parse("cancel", &back), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_state_and_command_pair),
	    cmocka_unit_test(test_create_asks_an_amount_in_a_known_currency),
	    cmocka_unit_test(test_authorize_takes_the_created_amount),
	    cmocka_unit_test(test_capture_is_at_most_the_authorized_amount_and_once),
	    cmocka_unit_test(test_void_and_settle_repeat_the_amount_they_act_on),
	    cmocka_unit_test(test_refunds_add_up_to_the_capture_then_refunded),
	    cmocka_unit_test(test_provider_refusal_declines_only_an_authorization),
	    cmocka_unit_test(test_every_reachable_payment_keeps_the_schema_checks),
	    cmocka_unit_test(test_error_names_are_distinct_result_codes),
	    cmocka_unit_test(test_states_map_to_the_event_spelling),
	    cmocka_unit_test(test_commands_map_to_the_event_spelling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
