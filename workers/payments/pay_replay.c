/*
 * pay_replay: see pay_replay.h.
 */
#include "pay_replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pay_money.h"

/* A state's name for messages: "none" where pay_fsm has no name. */
static const char *
pay_replay_state(enum pay_state s)
{
	const char *name = (unsigned)s < PAY_STATE_COUNT ? pay_fsm_state_name(s) : NULL;

	return name ? name : "none";
}

void
pay_replay_init(struct pay_replay *r, const char *currency)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->currency, sizeof(r->currency), "%s", currency);
}

int
pay_replay_step(struct pay_replay *r, const struct pay_replay_row *row, char *errstr,
		size_t errstr_size)
{
	struct pay_fsm_request req = {.command = row->command,
				      .has_amount = row->has_amount,
				      .amount = row->amount};
	const char *command = (unsigned)row->command < PAY_COMMAND_COUNT
				  ? pay_fsm_command_name(row->command)
				  : "unknown";
	struct pay_fsm_step step;
	enum pay_fsm_error e;

	if (row->version != r->version + 1) {
		snprintf(errstr, errstr_size,
			 "version %" PRId64 ": %s follows version %" PRId64, row->version,
			 command, r->version);
		return -1;
	}
	if ((unsigned)row->command >= PAY_COMMAND_COUNT ||
	    (unsigned)row->from >= PAY_STATE_COUNT || (unsigned)row->to >= PAY_STATE_COUNT) {
		snprintf(errstr, errstr_size, "version %" PRId64 ": not a state or command",
			 row->version);
		return -1;
	}
	if (row->from != r->cur.state) {
		snprintf(errstr, errstr_size,
			 "version %" PRId64 ": %s from %s, but the payment was %s",
			 row->version, command, pay_replay_state(row->from),
			 pay_replay_state(r->cur.state));
		return -1;
	}
	/* create names the currency the payment keeps; the others are checked against
	 * it by pay_fsm when they name one, and a history row names none */
	if (row->command == PAY_COMMAND_CREATE)
		memcpy(req.currency, r->currency, sizeof(req.currency));
	if ((e = pay_fsm_next(&r->cur, &req, &step)) != PAY_FSM_OK) {
		snprintf(errstr, errstr_size, "version %" PRId64 ": %s from %s: %s",
			 row->version, command, pay_replay_state(row->from),
			 pay_fsm_error_name(e));
		return -1;
	}
	if (row->to == step.next.state) {
		r->cur = step.next;
	} else if (step.provider && step.refused.state != r->cur.state &&
		   row->to == step.refused.state) {
		r->cur = step.refused; /* declined */
	} else {
		snprintf(errstr, errstr_size,
			 "version %" PRId64 ": %s from %s leads to %s, not %s", row->version,
			 command, pay_replay_state(row->from),
			 pay_replay_state(step.next.state), pay_replay_state(row->to));
		return -1;
	}
	r->version = row->version;
	return 0;
}

int
pay_replay_finish(const struct pay_replay *r, const struct pay_fsm_payment *p,
		  int64_t version, char *errstr, size_t errstr_size)
{
	static const char *const names[] = {"amount", "amount_authorized",
					    "amount_captured", "amount_refunded"};
	const int64_t want[] = {r->cur.amount, r->cur.authorized, r->cur.captured,
				r->cur.refunded};
	const int64_t have[] = {p->amount, p->authorized, p->captured, p->refunded};

	if (p->state != r->cur.state) {
		snprintf(errstr, errstr_size, "state %s, its history ends %s",
			 pay_replay_state(p->state), pay_replay_state(r->cur.state));
		return -1;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (have[i] != want[i]) {
			snprintf(errstr, errstr_size,
				 "%s %" PRId64 ", its history makes it %" PRId64, names[i],
				 have[i], want[i]);
			return -1;
		}
	}
	if (version != r->version) {
		snprintf(errstr, errstr_size,
			 "version %" PRId64 ", its history has %" PRId64 " transitions",
			 version, r->version);
		return -1;
	}
	return 0;
}

int
pay_replay_legal(const struct pay_fsm_payment *p, char *errstr, size_t errstr_size)
{
	bool unauthorized = p->state == PAY_STATE_CREATED || p->state == PAY_STATE_DECLINED;
	bool captured = p->state == PAY_STATE_CAPTURED || p->state == PAY_STATE_SETTLED ||
			p->state == PAY_STATE_REFUNDED;
	bool refunded = p->captured > 0 && p->refunded == p->captured;
	const char *state = pay_replay_state(p->state);

	if (p->state == PAY_STATE_NONE || (unsigned)p->state >= PAY_STATE_COUNT)
		snprintf(errstr, errstr_size, "no state");
	else if (souk_event_currency_exponent(p->currency) < 0)
		snprintf(errstr, errstr_size, "%s: currency \"%s\" is not one souk accepts",
			 state, p->currency);
	else if (p->amount < 1 || p->amount > PAY_MONEY_MAX)
		snprintf(errstr, errstr_size, "%s: amount %" PRId64 " out of 1..%" PRId64,
			 state, p->amount, PAY_MONEY_MAX);
	else if (p->refunded < 0 || p->refunded > p->captured ||
		 p->captured > p->authorized || p->authorized > p->amount)
		snprintf(errstr, errstr_size,
			 "%s: amounts break 0 <= refunded %" PRId64 " <= captured %" PRId64
			 " <= authorized %" PRId64 " <= amount %" PRId64,
			 state, p->refunded, p->captured, p->authorized, p->amount);
	else if (unauthorized != (p->authorized == 0))
		snprintf(errstr, errstr_size, "%s with %" PRId64 " authorized", state,
			 p->authorized);
	else if (captured != (p->captured > 0))
		snprintf(errstr, errstr_size, "%s with %" PRId64 " captured", state,
			 p->captured);
	else if ((p->state == PAY_STATE_REFUNDED) != refunded)
		snprintf(errstr, errstr_size,
			 "%s with %" PRId64 " of %" PRId64 " captured refunded", state,
			 p->refunded, p->captured);
	else
		return 0;
	return -1;
}
