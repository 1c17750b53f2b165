/*
 * lg_payments: the commands of many payments at once, as clients send them.
 *
 * Payments p-<tag>-1, p-<tag>-2, ... start as a Poisson stream (20 a second); each
 * follows a script, its commands a few simulated seconds to minutes apart, so the
 * stream interleaves payments but keeps each payment's commands in order. Amounts are
 * minor units in EUR, USD, JPY or KWD (0, 2 and 3 decimals). Scripts:
 *   60 %  create, authorize, capture (one in ten captures part of the amount); a
 *         quarter of these are refunded: once in part, once in full, or in two parts
 *         that add up to the capture
 *   15 %  create, authorize, void
 *   15 %  create, authorize (left authorized)
 *   10 %  create only
 * On top of that:
 *   - every command is sent again (same idempotency key, same parameters, same
 *     event_id) with probability retry_share, 0.5-5 s later, before the next one;
 *   - 2 % of payments carry an illegal command: a capture before the authorization
 *     (scripts without a capture), else a refund above the captured amount or a void
 *     after the capture;
 *   - 1 % reuse the create's idempotency key with another amount (a client bug the
 *     payments pool must answer with an error).
 * Never settle: that command comes only from the reconciliation.
 *
 * Idempotency keys are <payment_id>:<step>, e.g. p-1a2b3c4d-7:refund-2; refund ids
 * <payment_id>-r<n>.
 */
#ifndef LG_PAYMENTS_H
#define LG_PAYMENTS_H

#include <stddef.h>

#include "lg_out.h"
#include "lg_run.h"

struct lg_payments_opts {
	long long payments; /* >= 0 */
	double retry_share; /* [0, 1] */
};

/* What was written; stops with the output when it fills up. */
struct lg_payments_stats {
	long long payments;  /* payments whose create was written */
	long long commands;  /* every payment line, the ones below included */
	long long retries;   /* identical re-sends */
	long long conflicts; /* key reused with other parameters */
	long long illegal;   /* commands the state machine must refuse */
};

/* 1000 payments, 5 % retries. */
void lg_payments_defaults(struct lg_payments_opts *opts);

/* Writes the commands to out until done or out is full. O(commands log(payments in
 * flight)) time, memory O(payments in flight). Returns 0, or -1 with errstr filled. */
int lg_payments_run(const struct lg_run *run, const struct lg_payments_opts *opts,
		    struct lg_out *out, struct lg_payments_stats *stats, char *errstr,
		    size_t errstr_size);

#endif
