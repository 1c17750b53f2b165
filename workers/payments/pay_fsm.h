/*
 * pay_fsm: the payment state machine as pure functions (no server, no clock), driven by
 * one table of legal transitions (pay_fsm.c, pay_fsm_rules).
 *
 *   (none)     --create-->    created
 *   created    --authorize--> authorized   (the provider refuses: declined)
 *   authorized --capture-->   captured     (amount <= authorized, once)
 *   authorized --void-->      voided
 *   captured   --settle-->    settled      (the provider's settlement report confirmed
 *                                           the capture; sent by the reconciliation)
 *   captured   --refund-->    captured, or refunded once the refunds reach the capture
 *   settled    --refund-->    settled,  or refunded once the refunds reach the capture
 *
 * Every other (state, command) pair is refused and changes nothing: a command on a
 * payment that does not exist is unknown_payment, create on one that does is
 * payment_exists, anything else illegal_transition. declined, voided and refunded are
 * final. Refunds are child rows (payment_refunds); the payment keeps their total.
 *
 * The amount rules, checked once the pair is legal (pay_fsm_next):
 *   create     amount 1..PAY_MONEY_MAX and a currency souk accepts, which the payment
 *              keeps; every later command that names a currency must name the same
 *   authorize  amount, if given, equal to the created one; authorizes all of it
 *   capture    amount 1..authorized (a partial capture releases the rest)
 *   void       amount, if given, equal to the authorized one
 *   refund     amount 1..(captured - refunded)
 *   settle     amount, if given, equal to the captured one
 * so that always 0 <= refunded <= captured <= authorized <= amount, the CHECKs of
 * schemas/sql/003_payments.sql.
 *
 * authorize, capture, void and refund need the provider's answer before they apply
 * (pay_fsm_step.provider); create and settle do not.
 */
#ifndef PAY_FSM_H
#define PAY_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "souk_event.h"

enum pay_state {
	PAY_STATE_NONE, /* no payment yet */
	PAY_STATE_CREATED,
	PAY_STATE_AUTHORIZED,
	PAY_STATE_CAPTURED,
	PAY_STATE_SETTLED,
	PAY_STATE_DECLINED,
	PAY_STATE_VOIDED,
	PAY_STATE_REFUNDED,
};
#define PAY_STATE_COUNT 8

enum pay_command {
	PAY_COMMAND_CREATE,
	PAY_COMMAND_AUTHORIZE,
	PAY_COMMAND_CAPTURE,
	PAY_COMMAND_VOID,
	PAY_COMMAND_REFUND,
	PAY_COMMAND_SETTLE,
};
#define PAY_COMMAND_COUNT 6

/* Why a command is refused. Each name (pay_fsm_error_name) is a payment_result
 * `error` code. */
enum pay_fsm_error {
	PAY_FSM_OK,
	PAY_FSM_EEXISTS,   /* payment_exists: create on an existing payment */
	PAY_FSM_EUNKNOWN,  /* unknown_payment: any other command before create */
	PAY_FSM_EILLEGAL,  /* illegal_transition: no such transition from here */
	PAY_FSM_ECURRENCY, /* invalid_currency: create without a code souk accepts */
	PAY_FSM_ECURRENCY_MISMATCH, /* currency_mismatch: not the payment's currency */
	PAY_FSM_EAMOUNT,	  /* invalid_amount: missing or out of 1..PAY_MONEY_MAX */
	PAY_FSM_EAMOUNT_MISMATCH, /* amount_mismatch: not the amount it must repeat */
	PAY_FSM_EOVER_AUTHORIZED, /* amount_exceeds_authorized: capture > authorized */
	PAY_FSM_EOVER_CAPTURED,	  /* refund_exceeds_captured: refunds > captured */
	PAY_FSM_EDECLINED,	  /* declined: the provider refused the authorization */
	PAY_FSM_EPROVIDER, /* provider_refused: it refused a capture, void, refund */
};
#define PAY_FSM_ERROR_COUNT 12

/* A payment as stored (a payments row). PAY_STATE_NONE: there is none, and the other
 * fields are zero. The amounts keep 0 <= refunded <= captured <= authorized <=
 * amount. */
struct pay_fsm_payment {
	enum pay_state state;
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	int64_t amount;	    /* asked for by create */
	int64_t authorized; /* 0 until authorized */
	int64_t captured;   /* 0 until captured */
	int64_t refunded;   /* the total of the succeeded refunds */
};

/* A command as the event gives it. */
struct pay_fsm_request {
	enum pay_command command;
	bool has_amount;
	int64_t amount;
	char currency[SOUK_EVENT_CURRENCY_SIZE]; /* "" when absent */
};

/* What a legal command leads to. */
struct pay_fsm_step {
	struct pay_fsm_payment next; /* the payment once the command applied */
	/* The provider must accept the command before it applies: authorize, capture,
	 * void and refund. */
	bool provider;
	/* Only when provider: the payment if the provider refuses (declined after an
	 * authorize, unchanged otherwise) and the error to answer then
	 * (PAY_FSM_EDECLINED or PAY_FSM_EPROVIDER). */
	struct pay_fsm_payment refused;
	enum pay_fsm_error refused_error;
};

/*
 * Decides req on cur by the table and the amount rules at the top of this file.
 * Returns PAY_FSM_OK with *step filled, or the reason req is refused (*step then
 * untouched; nothing may change). cur must hold the amount invariant above, as any
 * payments row does. O(transitions).
 */
enum pay_fsm_error pay_fsm_next(const struct pay_fsm_payment *cur,
				const struct pay_fsm_request *req,
				struct pay_fsm_step *step);

/* The request a payment event makes. */
struct pay_fsm_request pay_fsm_request_from_event(const souk_event_payment_t *p);

/* "created", "authorized", ... as in events and in payments.state; NULL for
 * PAY_STATE_NONE (SQL's NULL, as payment_transitions.from_state of a create). */
const char *pay_fsm_state_name(enum pay_state s);
/* The state named s, one of the seven above. Returns 0, or -1 for any other text. */
int pay_fsm_state_parse(const char *s, enum pay_state *out);
/* "create", "authorize", ... as in events. */
const char *pay_fsm_command_name(enum pay_command c);
/* The command named s. Returns 0, or -1 for any other text. */
int pay_fsm_command_parse(const char *s, enum pay_command *out);
/* "payment_exists", ...; NULL for PAY_FSM_OK. */
const char *pay_fsm_error_name(enum pay_fsm_error e);

/* The same states and commands in souk_event's enumerations, both ways; every member
 * of souk_event's has its counterpart (SOUK_EVENT_STATE_NONE is PAY_STATE_NONE). */
souk_event_payment_state_t pay_fsm_state_to_event(enum pay_state s);
enum pay_state pay_fsm_state_from_event(souk_event_payment_state_t s);
souk_event_command_t pay_fsm_command_to_event(enum pay_command c);
enum pay_command pay_fsm_command_from_event(souk_event_command_t c);

#endif
