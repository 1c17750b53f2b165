/*
 * pay_fsm: see pay_fsm.h.
 */
#include "pay_fsm.h"

#include <stddef.h>
#include <string.h>

#include "pay_money.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The amount rules (pay_fsm.h): each checks req against next, a copy of the payment
 * already moved to the rule's state, and applies it to next. */
typedef enum pay_fsm_error pay_fsm_amount_rule(const struct pay_fsm_request *req,
					       struct pay_fsm_payment *next);

/* An amount given only to be checked must be the one the payment holds. */
static enum pay_fsm_error
pay_fsm_repeat(const struct pay_fsm_request *req, int64_t held)
{
	return req->has_amount && req->amount != held ? PAY_FSM_EAMOUNT_MISMATCH
						      : PAY_FSM_OK;
}

/* An amount that must be given, 1..PAY_MONEY_MAX. */
static bool
pay_fsm_positive(const struct pay_fsm_request *req)
{
	return req->has_amount && req->amount > 0 && req->amount <= PAY_MONEY_MAX;
}

/* create: the amount to ask for, in a currency souk accepts. */
static enum pay_fsm_error
pay_fsm_ask(const struct pay_fsm_request *req, struct pay_fsm_payment *next)
{
	if (souk_event_currency_exponent(req->currency) < 0)
		return PAY_FSM_ECURRENCY;
	if (!pay_fsm_positive(req))
		return PAY_FSM_EAMOUNT;
	memcpy(next->currency, req->currency, sizeof(next->currency));
	next->amount = req->amount;
	return PAY_FSM_OK;
}

/* authorize: all of the created amount. */
static enum pay_fsm_error
pay_fsm_authorize(const struct pay_fsm_request *req, struct pay_fsm_payment *next)
{
	next->authorized = next->amount;
	return pay_fsm_repeat(req, next->amount);
}

/* capture: 1..authorized. */
static enum pay_fsm_error
pay_fsm_capture(const struct pay_fsm_request *req, struct pay_fsm_payment *next)
{
	if (!pay_fsm_positive(req))
		return PAY_FSM_EAMOUNT;
	if (req->amount > next->authorized)
		return PAY_FSM_EOVER_AUTHORIZED;
	next->captured = req->amount;
	return PAY_FSM_OK;
}

/* void: releases the authorized amount, which the payment keeps as it was. */
static enum pay_fsm_error
pay_fsm_void(const struct pay_fsm_request *req, struct pay_fsm_payment *next)
{
	return pay_fsm_repeat(req, next->authorized);
}

/* refund: 1..captured - refunded; the one that reaches captured makes it refunded. */
static enum pay_fsm_error
pay_fsm_refund(const struct pay_fsm_request *req, struct pay_fsm_payment *next)
{
	if (!pay_fsm_positive(req))
		return PAY_FSM_EAMOUNT;
	if (pay_money_refund(next->captured, next->refunded, req->amount,
			     &next->refunded))
		return PAY_FSM_EOVER_CAPTURED;
	if (next->refunded == next->captured)
		next->state = PAY_STATE_REFUNDED;
	return PAY_FSM_OK;
}

/* settle: the report confirms the captured amount. */
static enum pay_fsm_error
pay_fsm_settle(const struct pay_fsm_request *req, struct pay_fsm_payment *next)
{
	return pay_fsm_repeat(req, next->captured);
}

/*
 * The legal transitions: the one place that says which command applies in which
 * state. A pair that is not here is refused. to is the state once the command
 * applied (a refund that reaches the captured amount goes to refunded instead);
 * provider says whether the provider must accept it first, and refused is the state
 * when it does not (NONE for the commands it is not asked about).
 */
static const struct pay_fsm_rule {
	enum pay_state from;
	enum pay_command command;
	enum pay_state to;
	pay_fsm_amount_rule *amount;
	bool provider;
	enum pay_state refused;
} pay_fsm_rules[] = {
    {PAY_STATE_NONE, PAY_COMMAND_CREATE, PAY_STATE_CREATED, pay_fsm_ask, false,
     PAY_STATE_NONE},
    {PAY_STATE_CREATED, PAY_COMMAND_AUTHORIZE, PAY_STATE_AUTHORIZED, pay_fsm_authorize,
     true, PAY_STATE_DECLINED},
    {PAY_STATE_AUTHORIZED, PAY_COMMAND_CAPTURE, PAY_STATE_CAPTURED, pay_fsm_capture, true,
     PAY_STATE_AUTHORIZED},
    {PAY_STATE_AUTHORIZED, PAY_COMMAND_VOID, PAY_STATE_VOIDED, pay_fsm_void, true,
     PAY_STATE_AUTHORIZED},
    {PAY_STATE_CAPTURED, PAY_COMMAND_SETTLE, PAY_STATE_SETTLED, pay_fsm_settle, false,
     PAY_STATE_NONE},
    {PAY_STATE_CAPTURED, PAY_COMMAND_REFUND, PAY_STATE_CAPTURED, pay_fsm_refund, true,
     PAY_STATE_CAPTURED},
    {PAY_STATE_SETTLED, PAY_COMMAND_REFUND, PAY_STATE_SETTLED, pay_fsm_refund, true,
     PAY_STATE_SETTLED},
};

static const char *const pay_state_names[PAY_STATE_COUNT] = {
    [PAY_STATE_NONE] = NULL,
    [PAY_STATE_CREATED] = "created",
    [PAY_STATE_AUTHORIZED] = "authorized",
    [PAY_STATE_CAPTURED] = "captured",
    [PAY_STATE_SETTLED] = "settled",
    [PAY_STATE_DECLINED] = "declined",
    [PAY_STATE_VOIDED] = "voided",
    [PAY_STATE_REFUNDED] = "refunded",
};

static const char *const pay_command_names[PAY_COMMAND_COUNT] = {
    [PAY_COMMAND_CREATE] = "create",   [PAY_COMMAND_AUTHORIZE] = "authorize",
    [PAY_COMMAND_CAPTURE] = "capture", [PAY_COMMAND_VOID] = "void",
    [PAY_COMMAND_REFUND] = "refund",   [PAY_COMMAND_SETTLE] = "settle",
};

static const char *const pay_error_names[PAY_FSM_ERROR_COUNT] = {
    [PAY_FSM_OK] = NULL,
    [PAY_FSM_EEXISTS] = "payment_exists",
    [PAY_FSM_EUNKNOWN] = "unknown_payment",
    [PAY_FSM_EILLEGAL] = "illegal_transition",
    [PAY_FSM_ECURRENCY] = "invalid_currency",
    [PAY_FSM_ECURRENCY_MISMATCH] = "currency_mismatch",
    [PAY_FSM_EAMOUNT] = "invalid_amount",
    [PAY_FSM_EAMOUNT_MISMATCH] = "amount_mismatch",
    [PAY_FSM_EOVER_AUTHORIZED] = "amount_exceeds_authorized",
    [PAY_FSM_EOVER_CAPTURED] = "refund_exceeds_captured",
    [PAY_FSM_EDECLINED] = "declined",
    [PAY_FSM_EPROVIDER] = "provider_refused",
};

static const souk_event_payment_state_t pay_state_events[PAY_STATE_COUNT] = {
    [PAY_STATE_NONE] = SOUK_EVENT_STATE_NONE,
    [PAY_STATE_CREATED] = SOUK_EVENT_STATE_CREATED,
    [PAY_STATE_AUTHORIZED] = SOUK_EVENT_STATE_AUTHORIZED,
    [PAY_STATE_CAPTURED] = SOUK_EVENT_STATE_CAPTURED,
    [PAY_STATE_SETTLED] = SOUK_EVENT_STATE_SETTLED,
    [PAY_STATE_DECLINED] = SOUK_EVENT_STATE_DECLINED,
    [PAY_STATE_VOIDED] = SOUK_EVENT_STATE_VOIDED,
    [PAY_STATE_REFUNDED] = SOUK_EVENT_STATE_REFUNDED,
};

static const souk_event_command_t pay_command_events[PAY_COMMAND_COUNT] = {
    [PAY_COMMAND_CREATE] = SOUK_EVENT_COMMAND_CREATE,
    [PAY_COMMAND_AUTHORIZE] = SOUK_EVENT_COMMAND_AUTHORIZE,
    [PAY_COMMAND_CAPTURE] = SOUK_EVENT_COMMAND_CAPTURE,
    [PAY_COMMAND_VOID] = SOUK_EVENT_COMMAND_VOID,
    [PAY_COMMAND_REFUND] = SOUK_EVENT_COMMAND_REFUND,
    [PAY_COMMAND_SETTLE] = SOUK_EVENT_COMMAND_SETTLE,
};

/* The way back, indexed by souk_event's members. */
static const enum pay_state pay_state_from_events[] = {
    [SOUK_EVENT_STATE_NONE] = PAY_STATE_NONE,
    [SOUK_EVENT_STATE_CREATED] = PAY_STATE_CREATED,
    [SOUK_EVENT_STATE_AUTHORIZED] = PAY_STATE_AUTHORIZED,
    [SOUK_EVENT_STATE_CAPTURED] = PAY_STATE_CAPTURED,
    [SOUK_EVENT_STATE_SETTLED] = PAY_STATE_SETTLED,
    [SOUK_EVENT_STATE_DECLINED] = PAY_STATE_DECLINED,
    [SOUK_EVENT_STATE_VOIDED] = PAY_STATE_VOIDED,
    [SOUK_EVENT_STATE_REFUNDED] = PAY_STATE_REFUNDED,
};

static const enum pay_command pay_command_from_events[] = {
    [SOUK_EVENT_COMMAND_CREATE] = PAY_COMMAND_CREATE,
    [SOUK_EVENT_COMMAND_AUTHORIZE] = PAY_COMMAND_AUTHORIZE,
    [SOUK_EVENT_COMMAND_CAPTURE] = PAY_COMMAND_CAPTURE,
    [SOUK_EVENT_COMMAND_VOID] = PAY_COMMAND_VOID,
    [SOUK_EVENT_COMMAND_REFUND] = PAY_COMMAND_REFUND,
    [SOUK_EVENT_COMMAND_SETTLE] = PAY_COMMAND_SETTLE,
};

/* The rule for (from, command), NULL when the pair is not legal. */
static const struct pay_fsm_rule *
pay_fsm_rule(enum pay_state from, enum pay_command command)
{
	for (size_t i = 0; i < N(pay_fsm_rules); i++)
		if (pay_fsm_rules[i].from == from && pay_fsm_rules[i].command == command)
			return &pay_fsm_rules[i];
	return NULL;
}

enum pay_fsm_error
pay_fsm_next(const struct pay_fsm_payment *cur, const struct pay_fsm_request *req,
	     struct pay_fsm_step *step)
{
	const struct pay_fsm_rule *rule = pay_fsm_rule(cur->state, req->command);
	struct pay_fsm_payment next = *cur;
	enum pay_fsm_error e;

	if (!rule) {
		if (cur->state == PAY_STATE_NONE)
			return PAY_FSM_EUNKNOWN;
		return req->command == PAY_COMMAND_CREATE ? PAY_FSM_EEXISTS
							  : PAY_FSM_EILLEGAL;
	}
	/* Only create has no payment yet: it sets the currency the others repeat. */
	if (cur->state != PAY_STATE_NONE && req->currency[0] != '\0' &&
	    strcmp(req->currency, cur->currency) != 0)
		return PAY_FSM_ECURRENCY_MISMATCH;
	next.state = rule->to;
	e = rule->amount(req, &next);
	if (e != PAY_FSM_OK)
		return e;

	*step = (struct pay_fsm_step){.next = next, .provider = rule->provider};
	if (rule->provider) {
		step->refused = *cur;
		step->refused.state = rule->refused;
		step->refused_error = rule->refused == PAY_STATE_DECLINED
					  ? PAY_FSM_EDECLINED
					  : PAY_FSM_EPROVIDER;
	}
	return PAY_FSM_OK;
}

struct pay_fsm_request
pay_fsm_request_from_event(const souk_event_payment_t *p)
{
	struct pay_fsm_request r = {.command = pay_fsm_command_from_event(p->command),
				    .has_amount = p->has_amount,
				    .amount = p->amount};

	memcpy(r.currency, p->currency, sizeof(r.currency));
	return r;
}

const char *
pay_fsm_state_name(enum pay_state s)
{
	return pay_state_names[s];
}

int
pay_fsm_state_parse(const char *s, enum pay_state *out)
{
	for (int i = 0; i < PAY_STATE_COUNT; i++) {
		if (pay_state_names[i] && strcmp(s, pay_state_names[i]) == 0) {
			*out = (enum pay_state)i;
			return 0;
		}
	}
	return -1;
}

const char *
pay_fsm_command_name(enum pay_command c)
{
	return pay_command_names[c];
}

int
pay_fsm_command_parse(const char *s, enum pay_command *out)
{
	for (int i = 0; i < PAY_COMMAND_COUNT; i++) {
		if (strcmp(s, pay_command_names[i]) == 0) {
			*out = (enum pay_command)i;
			return 0;
		}
	}
	return -1;
}

const char *
pay_fsm_error_name(enum pay_fsm_error e)
{
	return pay_error_names[e];
}

souk_event_payment_state_t
pay_fsm_state_to_event(enum pay_state s)
{
	return pay_state_events[s];
}

enum pay_state
pay_fsm_state_from_event(souk_event_payment_state_t s)
{
	return pay_state_from_events[s];
}

souk_event_command_t
pay_fsm_command_to_event(enum pay_command c)
{
	return pay_command_events[c];
}

enum pay_command
pay_fsm_command_from_event(souk_event_command_t c)
{
	return pay_command_from_events[c];
}
