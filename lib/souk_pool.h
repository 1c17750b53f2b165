/*
 * souk_pool: what a worker pool gives the runtime (souk_runtime), and what the runtime
 * lends it while it applies a batch.
 *
 * A pool is a handler over a batch plus its SQL. The runtime owns everything else:
 * consuming, decoding, the PostgreSQL transaction, the fenced offsets, the outbox and
 * its relay, the DLQ, retries, rebalances and shutdown. For each batch it
 *
 *   1. decodes every message; undecodable ones (bad JSON, envelope, type, version) go
 *      to <topic>.dlq through the outbox and the pool never sees them;
 *   2. BEGINs, calls pool->apply with the batch's events (status OK, or EFIELD for an
 *      event that decodes but breaks a rule: the pool answers it "rejected: invalid",
 *      or, when its business key did not decode so that no answer can be addressed,
 *      sends it to the DLQ with souk_txn_dlq);
 *   3. inserts the results the pool emitted into the outbox, advances every partition's
 *      offset WHERE epoch = mine AND next_offset = start (0 rows: a zombie; roll back),
 *      COMMITs, calls pool->after, then commits the offsets to Kafka too.
 *
 * apply may fail two ways. SOUK_POOL_RETRY (a transient failure: Redis unreachable, a
 * serialization failure) rolls the batch back and runs it again after a backoff.
 * SOUK_POOL_FAIL (this batch cannot be applied, e.g. a constraint a bad event broke)
 * rolls back and runs the events again one at a time, each under a SAVEPOINT, so the
 * events that still fail go to the DLQ with the error and the rest apply.
 *
 * Effects outside PostgreSQL (Redis, a provider, a claim) must be idempotent by the
 * event's business key: a rolled-back batch is applied again, and a fenced batch
 * cannot undo them.
 *
 * Threads: the runtime runs one consumer per thread; each thread opens its own pool
 * state, and all calls for one state come from that thread. A partition belongs to one
 * thread at a time, so one key's events are never applied concurrently.
 */
#ifndef SOUK_POOL_H
#define SOUK_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "souk_config.h"
#include "souk_event.h"
#include "souk_metrics.h"
#include "souk_pg.h"

enum souk_pool_status {
	SOUK_POOL_OK = 0,
	SOUK_POOL_RETRY = -1, /* transient: roll back, back off, run the batch again */
	SOUK_POOL_FAIL = -2,  /* roll back, run the events one by one under savepoints */
};

/* One decoded event of a batch. Valid during the call it is passed to. */
struct souk_pool_event {
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp_ms; /* the message's timestamp */
	const char *value;    /* the message as consumed */
	size_t len;
	souk_event_status_t status; /* SOUK_EVENT_OK or SOUK_EVENT_EFIELD */
	souk_event_t ev;
	souk_event_error_t err; /* why, when status is SOUK_EVENT_EFIELD */
};

/* What a pool's open() gets: the configuration (the pool's keys among the rest) and
 * the process's metrics registry for its own series. Borrowed for the pool's life. */
struct souk_pool_env {
	const struct souk_config *config;
	struct souk_metrics *metrics;
	int thread; /* 0..threads-1 */
};

/* The batch's transaction, lent to apply and tick. */
struct souk_txn;

/* The session the transaction runs on: run the pool's SQL here. Statements prepared
 * with souk_pg_prepare in open() stay prepared across reconnects. */
struct souk_pg *souk_txn_pg(struct souk_txn *t);

/*
 * Emits one result for src: the JSON value for topic with key, under result_id (a UUID
 * derived from the decision, so that re-sending the same decision reuses it: it goes
 * in the souk-result-id header). It is written to the outbox with the transaction, and
 * published by the relay after the commit. Copies everything. Returns 0, or -1 when
 * out of memory.
 */
int souk_txn_emit(struct souk_txn *t, const struct souk_pool_event *src,
		  const char *topic, const char *key, const char *value, size_t len,
		  const char *result_id);

/*
 * Sends src to <topic>.dlq with reason (in the souk-error header), with the batch: for
 * an event the pool cannot answer at all. Its DLQ entry counts as its decision.
 * Returns 0, or -1 when out of memory.
 */
int souk_txn_dlq(struct souk_txn *t, const struct souk_pool_event *src,
		 const char *reason);

/* The pool's hooks. Every one but apply may be NULL. */
struct souk_pool {
	const char *name;	   /* "inventory": souk-worker inventory */
	const char *const *topics; /* subscribed, NULL-terminated */
	const char *default_group; /* consumer group when --group is not given */
	/* The pool's configuration keys (NULL-terminated table), or NULL. */
	const struct souk_config_def *config;

	/* Per thread, at start: *state for the other calls. pg is the thread's
	 * session (prepare statements here). */
	int (*open)(void **state, const struct souk_pool_env *env, struct souk_pg *pg,
		    char *errstr, size_t errstr_size);
	void (*close)(void *state);

	/* Applies events[0..n) inside t (see the top of this file). Emits exactly one
	 * result per event it decides. */
	enum souk_pool_status (*apply)(void *state, struct souk_txn *t,
				       struct souk_pool_event *events, size_t n,
				       char *errstr, size_t errstr_size);

	/* After the batch's transaction: committed or rolled back. State kept in memory
	 * while applying (flags, caches) must follow the outcome. */
	void (*after)(void *state, int committed);

	/* This thread now owns / no longer owns a partition. */
	void (*assigned)(void *state, const char *topic, int32_t partition);
	void (*revoked)(void *state, const char *topic, int32_t partition);

	/* A timer: every tick_ms, inside a transaction that commits only if every
	 * partition this thread owns is still its own (the same epoch fence). For
	 * offers that expire, parked payments, janitors. */
	enum souk_pool_status (*tick)(void *state, struct souk_txn *t, char *errstr,
				      size_t errstr_size);
	int tick_ms;
	/* The outbox relay's producer linger.ms, 0 for the producer's default (5 ms,
	 * for throughput). A pool whose answers someone waits on (a rider) sets it
	 * lower: the relay publishes a batch and waits for its delivery before the
	 * next, so each linger adds to the answers' latency. kafka.linger.ms wins. */
	int relay_linger_ms;
};

#endif
