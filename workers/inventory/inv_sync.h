/*
 * inv_sync: brings one SKU's Redis keys back to PostgreSQL's truth. One function serves
 * souk-inventory prewarm and reconcile, the pool's rebuild of a SKU that is not warm,
 * its repair after Redis and PostgreSQL disagreed, a stock_set, and the periodic
 * reconciliation.
 *
 * The truth Redis should hold is PostgreSQL's minus the reservations in flight: orders
 * the gate accepted (an "accepted" seen entry) that PostgreSQL has not recorded yet,
 * because their batch has not committed. So:
 *   stock        = available - reserved qty (at least 0)
 *   users[u]     = bought[u] + u's reserved qty
 *   limit        = limit_per_user (0: none)
 * A reservation older than reservation_ttl_ms is dropped from the count: its batch
 * cannot still be running (it went to the DLQ, or its worker died and the order will
 * be decided again, by PostgreSQL). The seen hash is left alone; PostgreSQL answers
 * repeated orders before the gate does.
 *
 * Reading Redis (one script), then PostgreSQL (one statement), then writing Redis only
 * if its keys did not change in between (stock, limit and the seen hash's length as
 * read), retried a few times: safe while a worker decides orders of the same SKU. A
 * sync that races a batch not yet committed writes the truth as it was before that
 * batch; the worker's next batch for the SKU sees Redis and PostgreSQL disagree and
 * puts it right (inv_batch.h).
 */
#ifndef INV_SYNC_H
#define INV_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inv_redis.h"
#include "inv_sql.h"

/* What one sync found and did. */
struct inv_sync_report {
	bool warm;		 /* Redis had the stock and limit keys */
	int64_t redis_available; /* the stock key before, when warm */
	int64_t pg_available;
	int64_t reserved; /* in flight: accepted by the gate, not yet in PostgreSQL */
	int64_t truth;	  /* what the stock key must hold */
	int64_t limit;
	size_t users_differ; /* users whose count was wrong (or missing, or extra) */
	bool limit_differs;
	bool fixed; /* Redis was written */
};

/* Drift: the stock key minus the truth (0 when in sync; when not warm, the truth is
 * what was missing). */
int64_t inv_sync_drift(const struct inv_sync_report *rep);

/* Redis's new content for a SKU, computed by inv_sync_plan. */
struct inv_sync_plan {
	int64_t stock;
	int64_t limit;
	struct inv_redis_user *users; /* malloc'd, sorted by user_id, qty > 0 */
	size_t nusers;
};

/*
 * Computes the plan and the report from what PostgreSQL (truth, found) and Redis
 * (snap) hold, at Redis's clock snap->now_ms. Pure. Returns 0 (free plan->users), or
 * -1 when out of memory. O((users + reservations) log).
 */
int inv_sync_plan(const struct inv_truth *truth, const struct inv_redis_snapshot *snap,
		  int64_t reservation_ttl_ms, struct inv_sync_plan *plan,
		  struct inv_sync_report *rep);

enum inv_sync_status {
	INV_SYNC_OK = 0,
	INV_SYNC_EPG = -1,    /* a statement failed: souk_pg_sqlstate(pg) says why */
	INV_SYNC_EREDIS = -2, /* Redis did not answer, or answered wrong */
	INV_SYNC_ENOSKU = -3, /* sku has no stock row */
	INV_SYNC_EBUSY = -4,  /* its keys kept changing while this read them */
	INV_SYNC_ENOMEM = -5,
};

/* Syncs sku (see the top). pg runs in the caller's transaction, or autocommit. */
enum inv_sync_status inv_sync_sku(struct souk_pg *pg, struct inv_redis *r,
				  const char *sku, int64_t reservation_ttl_ms,
				  struct inv_sync_report *rep, char *errstr,
				  size_t errstr_size);

#endif
