/*
 * inv_batch: applies a batch of the orders topic (order and stock_set events) inside the
 * caller's PostgreSQL transaction: the inventory pool without the runtime, so that the
 * integration tests run it on the real servers. inv_pool adapts it to souk_pool.h.
 *
 * A batch is cut at each stock_set, so that a restock or a new limit applies between
 * the orders before it and those after it, as the topic ordered them (one SKU is one
 * key, one partition). A stock_set writes the stock row, syncs the SKU's Redis keys
 * (inv_sync) and clears its sold-out flag. A run of orders between them goes:
 *
 *   1. one SELECT of the run's order ids in orders, one of its SKUs in stock;
 *   2. inv_decide_route: duplicates, repeats (the stored answer and result_id), invalid
 *      orders and unknown SKUs, flagged SKUs;
 *   3. per SKU, one gate script for its orders (inv_redis_gate; a SKU that is not warm
 *      is synced from PostgreSQL first), then one conditional UPDATE of its stock and
 *      purchases (inv_sql_take) with the version read in 1;
 *   4. Redis and PostgreSQL disagree when the stock the gate left is not PostgreSQL's
 *      minus what it accepted, or when the UPDATE refuses. PostgreSQL wins: its row is
 *      locked (FOR UPDATE), the SKU's orders are decided again against its numbers
 *      (inv_decide_sku), taken, and the SKU's Redis keys synced after the insert;
 *   5. one INSERT of every order decided now into orders;
 *   6. one order_result per order, in event order, through emit.
 *
 * Round trips per run: 3, plus 2 per SKU (4 more and a sync when Redis disagrees).
 *
 * Sold-out flags: a SKU whose stock this transaction leaves at 0 is flagged once it
 * commits (inv_batch_after), and its orders are then answered sold_out without Redis;
 * a stock_set clears the flag at once; a rollback sets none. The flags are this
 * thread's and hold only while it owns the SKU's partition (inv_batch_forget).
 */
#ifndef INV_BATCH_H
#define INV_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "inv_decide.h"
#include "souk_metrics.h"
#include "souk_pg.h"
#include "souk_pool.h"

/* The pool's metric series; every member may be NULL. */
struct inv_metrics {
	/* decisions made now, by answer (inv_answer) */
	struct souk_metrics_series *decided[INV_ANSWER_COUNT];
	struct souk_metrics_series *repeated;  /* answers sent again */
	struct souk_metrics_series *overruled; /* SKUs where PostgreSQL overruled Redis */
	struct souk_metrics_series *rebuilds;  /* SKUs found not warm and rebuilt */
	struct souk_metrics_family *drift;     /* gauge by sku: Redis minus the truth */
};

/* Where results go: souk_txn_emit's contract without the transaction. */
typedef int inv_batch_emit_fn(void *ctx, const struct souk_pool_event *src,
			      const char *topic, const char *key, const char *value,
			      size_t len, const char *result_id);

struct inv_batch;

/*
 * Prepares the statements on pg, connects to Redis at redis_url and loads the
 * scripts. metrics is borrowed (NULL: none). Returns NULL with errstr.
 */
struct inv_batch *inv_batch_new(struct souk_pg *pg, const char *redis_url,
				int redis_timeout_ms, int64_t reservation_ttl_ms,
				const struct inv_metrics *metrics, char *errstr,
				size_t errstr_size);
void inv_batch_destroy(struct inv_batch *b);

/*
 * Applies events[0..n) (see the top) in the transaction open on pg, emitting one
 * order_result per order. Returns SOUK_POOL_OK; SOUK_POOL_RETRY when Redis failed, the
 * session was lost or PostgreSQL reported a conflict (serialization, deadlock, an
 * order recorded meanwhile); SOUK_POOL_FAIL for any other error and for an event the
 * pool cannot answer (another type, a stock_set that breaks a rule, an invalid order
 * whose fields the order_result cannot carry: all checked before any effect), so that
 * the runtime isolates it for the DLQ. On failure nothing of this call is kept for
 * inv_batch_after.
 */
enum souk_pool_status inv_batch_apply(struct inv_batch *b, struct souk_pg *pg,
				      const struct souk_pool_event *events, size_t n,
				      inv_batch_emit_fn *emit, void *ctx, char *errstr,
				      size_t errstr_size);

/* The transaction of the calls since the last one committed (1) or rolled back (0). */
void inv_batch_after(struct inv_batch *b, int committed);

/* Drops every sold-out flag (a partition came or went). */
void inv_batch_forget(struct inv_batch *b);

/* Whether sku is flagged sold out. */
bool inv_batch_flagged(const struct inv_batch *b, const char *sku);

/*
 * Syncs the Redis keys of every SKU applied since the last reconciliation that
 * succeeded (inv_sync) and sets the drift gauge of each. Returns as inv_batch_apply.
 */
enum souk_pool_status inv_batch_reconcile(struct inv_batch *b, struct souk_pg *pg,
					  char *errstr, size_t errstr_size);

#endif
