/*
 * verify_psp: souk-verify's payments check. The window's payment commands (the
 * `payments` topic) name the payments; their answers are read on `payment-results`,
 * their ledger in PostgreSQL (payments, payment_transitions, and what is still parked:
 * payment_waiting, in_progress keys, open payment_intents) and the provider's side
 * from souk-psp's operations listing (GET {url}/v1/operations, every page).
 *
 *   answered        every command decoded from `payments` has an answer on
 *                   payment-results (by payment_id and idempotency key), unless its
 *                   payment is parked; a missing one is lost
 *   charged twice   at the provider, per payment: more than one authorization that
 *                   was not declined, more than one capture, a refund_id refunded
 *                   twice, or an idempotency key that applied twice -> applied_twice
 *   legal states    each payments row is a legal state (pay_replay_legal) and its
 *                   payment_transitions replay through pay_fsm, every transition
 *                   legal, to exactly that row (pay_replay) -> illegal_states; a
 *                   client key that applied two transitions -> applied_twice
 *   ledger ==       per payment, what PostgreSQL says was authorized, captured,
 *   provider        refunded and voided equals what the provider applied (its
 *                   authorizations not declined, captures, refunds, voids). The
 *                   provider holding more (an effect the ledger does not have, a
 *                   payment the ledger never stored) counts as lost; the ledger
 *                   holding more (an effect the provider never applied) as
 *                   applied_twice. A figure already counted as charged twice is not
 *                   compared again.
 *   parked          payments whose provider outcome is still unknown (waiting rows or
 *                   an in_progress key): the comparison is premature for them, so the
 *                   check fails until the janitor resolved them
 *
 * The provider's operations are read from the window's start on: a payment whose
 * earlier commands came before the window has effects there that the listing leaves
 * out, so a window starts before its traffic (as the fault scenarios' do).
 *
 * Each problem is named on stderr (the first VERIFY_PSP_SHOWN of each kind), e.g.
 * `payment p-1: ledger captured 1999, provider 0 (lost)`.
 */
#ifndef VERIFY_PSP_H
#define VERIFY_PSP_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "souk_pg.h"

#define VERIFY_PSP_SHOWN 20

struct verify_psp_figures {
	int64_t events;	  /* messages read on `payments` in the window */
	int64_t commands; /* distinct (payment_id, idempotency key) among them */
	int64_t payments; /* distinct payment_ids */
	int64_t stored;	  /* of which with a payments row */
	int64_t provider_ops; /* the provider's operations on them */
	int64_t unanswered;   /* lost */
	int64_t charged_twice, ledger_over, keys_twice; /* applied_twice */
	int64_t ledger_short;				/* lost */
	int64_t illegal_states;
	int64_t parked;
	int64_t open_intents; /* payment_intents not done (informative) */
};

/*
 * Runs the check over the messages stamped [since_ms, until_ms) on `payments`
 * (until_ms 0: up to now) with the provider at url (souk-psp's base URL). Fills *f.
 * Returns 0, or -1 with errstr (Kafka, PostgreSQL or the provider unreachable, an
 * answer that does not parse, out of memory).
 */
int verify_psp_run(rd_kafka_t *rk, struct souk_pg *pg, const char *url, int64_t since_ms,
		   int64_t until_ms, struct verify_psp_figures *f, char *errstr,
		   size_t errstr_size);

#endif
