/*
 * pay_replay: a payment's stored history (its payment_transitions rows, by version)
 * replayed through pay_fsm, to check after the fact that every step it took was a
 * legal one and that it ends where its payments row says. Pure functions (no server,
 * no clock); souk-verify's payments check is the caller.
 *
 * A row is legal when its version is the one after the previous row's (1 for the
 * first), its from_state is where the replay stands, pay_fsm_next accepts its command
 * and amount there, and its to_state is where that command leads (the state once it
 * applied, or declined for an authorization the provider refused). The replay then
 * stands at that state with the amounts the command set. A payment is legal when it
 * is (pay_replay_legal) and its history replays to exactly its state, amounts and
 * version (pay_replay_finish).
 *
 * What a history row cannot tell: an authorization's amount when the command gave
 * none (pay_fsm authorizes the created amount), which is what the replay assumes.
 */
#ifndef PAY_REPLAY_H
#define PAY_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pay_fsm.h"

/* One payment_transitions row. from is PAY_STATE_NONE for a create (SQL's NULL). */
struct pay_replay_row {
	int64_t version;
	enum pay_state from, to;
	enum pay_command command;
	bool has_amount;
	int64_t amount;
};

/* Where the replay of one payment stands. */
struct pay_replay {
	struct pay_fsm_payment cur; /* PAY_STATE_NONE before the first row */
	int64_t version;	    /* of the last row replayed, 0 before */
	char currency[SOUK_EVENT_CURRENCY_SIZE]; /* the payment's, given to create */
};

/* Starts the replay of a payment in currency (its payments row's). */
void pay_replay_init(struct pay_replay *r, const char *currency);

/* Replays row. Returns 0, or -1 with errstr saying what is illegal, e.g. `version 3:
 * capture from created: illegal_transition`; r is then unchanged. O(1). */
int pay_replay_step(struct pay_replay *r, const struct pay_replay_row *row, char *errstr,
		    size_t errstr_size);

/* Whether the replay ended on the stored payment p at version: the same state and
 * amounts, and as many rows as versions. Returns 0, or -1 with errstr naming the
 * first difference (`state settled, its history ends captured`). */
int pay_replay_finish(const struct pay_replay *r, const struct pay_fsm_payment *p,
		      int64_t version, char *errstr, size_t errstr_size);

/* Whether p is a state some legal path reaches: a state other than none, a currency
 * souk accepts, 1 <= amount <= PAY_MONEY_MAX, 0 <= refunded <= captured <= authorized
 * <= amount, nothing authorized exactly when created or declined, a capture exactly
 * when captured, settled or refunded, refunded exactly when the refunds reached the
 * capture. Returns 0, or -1 with errstr naming the first rule broken. */
int pay_replay_legal(const struct pay_fsm_payment *p, char *errstr, size_t errstr_size);

#endif
