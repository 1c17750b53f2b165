/*
 * pay_batch: the payments pool's work on one batch of commands (pay_batch_apply) and
 * on the payments parked by unknown provider outcomes (pay_batch_janitor), each inside
 * the runtime's fenced transaction (souk_pool.h).
 *
 * For each command, in the order of its payment (one payment's commands always come
 * from one partition, so from one thread):
 *   1. a payment that is parked takes no command: it waits (payment_waiting) behind
 *      the one whose outcome is unknown;
 *   2. the idempotency key (client, key) decides (pay_idem.h): a replay answers the
 *      stored outcome with its result id again, a reuse with other parameters answers
 *      idempotency_key_reused (not stored), a new key runs the command;
 *   3. the state machine decides (pay_fsm.h): a refusal is a final error, stored under
 *      the key; create and settle apply at once; authorize, capture, void and refund
 *      call the provider first.
 * Provider calls of distinct payments run concurrently (pay_provider, libcurl multi),
 * one call per payment at a time, so a payment's commands stay in order. Before a call
 * its intent (payment_intents, the provider-side key derived from client, payment and
 * key) is committed on a session of its own, so a crash between the call and the
 * batch's commit leaves a record, and the batch run again asks the provider with the
 * same key: the provider applies it at most once. The answer:
 *   ok        the transition applies (one conditional UPDATE per payment per batch,
 *             its history row, a refund's row); the outcome is final
 *   refused   a declined authorization moves to declined, any other refusal changes
 *             nothing; final
 *   failed    nothing was applied: answered provider_unavailable, not stored, so the
 *             client's retry under the same key runs it again; unless its intent was
 *             there before this call wrote it (an earlier attempt, cut short by a
 *             crash, may have sent the call): then it is unknown, as below
 *   unknown   (a timeout) the payment is parked: its key stays in_progress, its later
 *             commands wait. The janitor asks the provider by key (a command the
 *             provider never saw is sent again under the same key), completes the
 *             command exactly once with the result id reserved for it, then runs the
 *             waiting commands in order; a retry of the parked command is then a
 *             replay of its outcome.
 * Every command gets exactly one answer on payment-results, except the ones that
 * wait (answered when they run) and the undecodable ones (the DLQ).
 */
#ifndef PAY_BATCH_H
#define PAY_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "souk_metrics.h"
#include "souk_pg.h"
#include "souk_pool.h"

struct pay_batch_conf {
	const char *dsn;	   /* for the intents' own session */
	const char *provider_url;  /* souk-psp's base URL */
	long provider_timeout_ms;  /* a call not answered by then is unknown */
	int64_t key_keep_s;	   /* how long a final key is kept */
	const char *settle_client; /* the only client whose settle commands run */
	int janitor_limit;	   /* parked payments per janitor pass */
};

/* The pool's series, shared by its threads (updates are atomic). */
enum pay_batch_verdict {
	PAY_BATCH_NEW,	   /* decided now */
	PAY_BATCH_REPLAY,  /* the stored outcome again */
	PAY_BATCH_REUSED,  /* key reused with other parameters */
	PAY_BATCH_WAITING, /* behind a parked command */
	PAY_BATCH_INVALID, /* decodes but breaks a rule */
	PAY_BATCH_VERDICTS
};
struct pay_batch_metrics {
	struct souk_metrics_series *commands[PAY_BATCH_VERDICTS];
	struct souk_metrics_series *transitions;
	struct souk_metrics_series *provider[5]; /* by pay_provider_outcome */
	struct souk_metrics_series *parked;	 /* commands parked */
	struct souk_metrics_series *resolved;	 /* parked commands completed */
	struct souk_metrics_series *reaped;	 /* expired keys deleted */
};
const char *pay_batch_verdict_name(enum pay_batch_verdict v);

struct pay_batch;

/* Strings of conf are borrowed for the handle's life; pg is the thread's session,
 * where the statements are prepared. NULL with errstr filled. */
struct pay_batch *pay_batch_new(const struct pay_batch_conf *conf,
				struct pay_batch_metrics *metrics, struct souk_pg *pg,
				char *errstr, size_t errstr_size);
void pay_batch_destroy(struct pay_batch *b);

/* Decides events[0..n) in t (the top of this file). SOUK_POOL_RETRY when PostgreSQL
 * or the provider's client failed, or a payment moved under the batch. */
enum souk_pool_status pay_batch_apply(struct pay_batch *b, struct souk_txn *t,
				      struct souk_pool_event *events, size_t n,
				      char *errstr, size_t errstr_size);

/* Resolves up to conf.janitor_limit parked payments of topic's partitions[0..n) (the
 * ones this thread owns) in t. */
enum souk_pool_status pay_batch_janitor(struct pay_batch *b, struct souk_txn *t,
					const char *topic, const int32_t *partitions,
					size_t n, char *errstr, size_t errstr_size);

/* Deletes up to limit expired keys in t. */
enum souk_pool_status pay_batch_reap(struct pay_batch *b, struct souk_txn *t, int limit,
				     char *errstr, size_t errstr_size);

/* After the transaction: counts what committed. */
void pay_batch_after(struct pay_batch *b, int committed);

#endif
