/*
 * inv_batch: see inv_batch.h.
 */
#include "inv_batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inv_redis.h"
#include "inv_skuset.h"
#include "inv_sql.h"
#include "inv_sync.h"
#include "souk_log.h"
#include "souk_uuid.h"

/* The stock a SKU is left with by this transaction, if it commits. */
struct inv_pending {
	char sku[SOUK_EVENT_IDENT_SIZE];
	int64_t available;
};

struct inv_batch {
	struct inv_redis *redis;
	int64_t reservation_ttl_ms;
	const struct inv_metrics *metrics;
	struct inv_skuset *sold_out; /* flags: a committed transaction left 0 */
	struct inv_skuset *touched;  /* applied since the last reconciliation */
	struct inv_pending *pending; /* in order; the last one of a SKU counts */
	size_t npending, cap_pending;
	char *buf; /* one encoded result, SOUK_EVENT_MAX_BYTES + 1 */
};

static const struct inv_metrics inv_batch_no_metrics;

static void
inv_batch_count(struct souk_metrics_series *series, uint64_t n)
{
	if (series && n)
		souk_metrics_counter_add(series, n);
}

/*
 * What a failed statement means for the batch: a conflict or a connection problem
 * passes (retry), any other error the server reported stays (isolate the events).
 * Retried: no SQLSTATE (client side: lost session, reconnection failed, out of
 * memory), classes 08 connection, 40 transaction rollback (serialization, deadlock),
 * 53 insufficient resources, 57 operator intervention, 58 system error; 55P03
 * lock_not_available; 23505 unique_violation (an order recorded meanwhile: the next
 * run finds it decided).
 */
static enum souk_pool_status
inv_batch_pg_failed(const struct souk_pg *pg)
{
	static const char *const classes[] = {"08", "40", "53", "57", "58"};
	const char *state = souk_pg_sqlstate(pg);

	if (state[0] == '\0' || strcmp(state, SOUK_PG_UNIQUE_VIOLATION) == 0 ||
	    strcmp(state, "55P03") == 0)
		return SOUK_POOL_RETRY;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strncmp(state, classes[i], 2) == 0)
			return SOUK_POOL_RETRY;
	return SOUK_POOL_FAIL;
}

struct inv_batch *
inv_batch_new(struct souk_pg *pg, const char *redis_url, int redis_timeout_ms,
	      int64_t reservation_ttl_ms, const struct inv_metrics *metrics, char *errstr,
	      size_t errstr_size)
{
	struct inv_batch *b = calloc(1, sizeof(*b));

	if (!b || !(b->sold_out = inv_skuset_new()) || !(b->touched = inv_skuset_new()) ||
	    !(b->buf = malloc(SOUK_EVENT_MAX_BYTES + 1))) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	b->reservation_ttl_ms = reservation_ttl_ms;
	b->metrics = metrics ? metrics : &inv_batch_no_metrics;
	if (inv_sql_prepare(pg, errstr, errstr_size) != SOUK_PG_OK ||
	    !(b->redis = inv_redis_new(redis_url, redis_timeout_ms, errstr, errstr_size)))
		goto fail;
	return b;
fail:
	inv_batch_destroy(b);
	return NULL;
}

void
inv_batch_destroy(struct inv_batch *b)
{
	if (!b)
		return;
	inv_redis_destroy(b->redis);
	inv_skuset_destroy(b->sold_out);
	inv_skuset_destroy(b->touched);
	free(b->pending);
	free(b->buf);
	free(b);
}

/* Notes that this transaction leaves sku with available, for the flags and the next
 * reconciliation. Returns 0, or -1 when out of memory. */
static int
inv_batch_note(struct inv_batch *b, const char *sku, int64_t available)
{
	if (b->npending == b->cap_pending) {
		size_t cap = b->cap_pending ? 2 * b->cap_pending : 16;
		struct inv_pending *grown = realloc(b->pending, cap * sizeof(*grown));

		if (!grown)
			return -1;
		b->pending = grown;
		b->cap_pending = cap;
	}
	snprintf(b->pending[b->npending].sku, sizeof(b->pending[0].sku), "%s", sku);
	b->pending[b->npending++].available = available;
	return inv_skuset_add(b->touched, sku);
}

/* Syncs sku's Redis keys (inv_sync) inside the transaction. */
static enum souk_pool_status
inv_batch_sync(struct inv_batch *b, struct souk_pg *pg, const char *sku,
	       struct inv_sync_report *rep, char *errstr, size_t errstr_size)
{
	switch (inv_sync_sku(pg, b->redis, sku, b->reservation_ttl_ms, rep, errstr,
			     errstr_size)) {
	case INV_SYNC_OK:
		return SOUK_POOL_OK;
	case INV_SYNC_EPG:
		return inv_batch_pg_failed(pg);
	case INV_SYNC_ENOSKU:
		return SOUK_POOL_FAIL;
	default:
		return SOUK_POOL_RETRY;
	}
}

/* A stock_set: the row, the Redis keys, the flag. */
static enum souk_pool_status
inv_batch_stock_set(struct inv_batch *b, struct souk_pg *pg,
		    const struct souk_pool_event *e, char *errstr, size_t errstr_size)
{
	const souk_event_stock_set_t *s = &e->ev.stock_set;
	struct inv_sync_report rep;
	enum souk_pool_status st;
	bool applied;

	if (inv_sql_stock_set(pg, e->ev.event_id, s, &applied, errstr, errstr_size) !=
	    SOUK_PG_OK)
		return inv_batch_pg_failed(pg);
	if (!applied) {
		/* A replay or a redelivery: setting it again would put sold units back.
		 */
		SOUK_LOG_INFO("inventory_stock_set_repeated", "sku=%s event_id=%s",
			      s->sku, e->ev.event_id);
		return SOUK_POOL_OK;
	}
	st = inv_batch_sync(b, pg, s->sku, &rep, errstr, errstr_size);
	if (st != SOUK_POOL_OK)
		return st;
	inv_skuset_remove(b->sold_out, s->sku);
	if (inv_batch_note(b, s->sku, s->stock)) {
		snprintf(errstr, errstr_size, "out of memory");
		return SOUK_POOL_RETRY;
	}
	SOUK_LOG_INFO("inventory_stock_set",
		      "sku=%s stock=%" PRId64 " limit_per_user=%" PRId64, s->sku,
		      s->stock, rep.limit);
	return SOUK_POOL_OK;
}

/* The gate for one SKU's orders; a SKU that is not warm is synced first. */
static enum souk_pool_status
inv_batch_gate(struct inv_batch *b, struct souk_pg *pg, const char *sku,
	       const struct inv_gate_order *asks, size_t n, enum inv_answer *answers,
	       int64_t *left, char *errstr, size_t errstr_size)
{
	int rc =
	    inv_redis_gate(b->redis, sku, asks, n, answers, left, errstr, errstr_size);
	struct inv_sync_report rep;
	enum souk_pool_status st;

	if (rc == INV_GATE_NOT_WARM) {
		st = inv_batch_sync(b, pg, sku, &rep, errstr, errstr_size);
		if (st != SOUK_POOL_OK)
			return st;
		inv_batch_count(b->metrics->rebuilds, 1);
		SOUK_LOG_INFO("inventory_sku_rebuilt",
			      "sku=%s available=%" PRId64 " reserved=%" PRId64, sku,
			      rep.truth, rep.reserved);
		rc = inv_redis_gate(b->redis, sku, asks, n, answers, left, errstr,
				    errstr_size);
		if (rc == INV_GATE_NOT_WARM)
			snprintf(
			    errstr, errstr_size,
			    "sku \"%s\" is not warm in redis right after its rebuild",
			    sku);
	}
	return rc == INV_GATE_OK ? SOUK_POOL_OK : SOUK_POOL_RETRY;
}

/*
 * PostgreSQL overrules the gate for one SKU's orders run[0..n): locks the stock row,
 * decides them again against its numbers and takes what they accepted. users has room
 * for n. *available gets what is left.
 */
static enum souk_pool_status
inv_batch_overrule(struct souk_pg *pg, struct inv_order *const *run, size_t n,
		   struct inv_tally *users, int64_t *available, char *errstr,
		   size_t errstr_size)
{
	const char *sku = run[0]->o.sku;
	struct inv_stock row;
	size_t nusers;
	int64_t total;
	bool found, taken = true;

	if (inv_sql_lock(pg, sku, &row, &found, errstr, errstr_size) != SOUK_PG_OK)
		return inv_batch_pg_failed(pg);
	if (!found) {
		snprintf(errstr, errstr_size, "could not lock sku \"%s\": no stock row",
			 sku);
		return SOUK_POOL_FAIL;
	}
	nusers = inv_decide_users(run, n, users);
	if (inv_sql_bought(pg, sku, users, nusers, errstr, errstr_size) != SOUK_PG_OK)
		return inv_batch_pg_failed(pg);
	*available = row.available;
	inv_decide_sku(run, n, available, row.limit, users, nusers);
	nusers = inv_decide_tally(run, n, users, &total);
	if (total > 0 && inv_sql_take(pg, sku, row.version, total, users, nusers, &taken,
				      available, errstr, errstr_size) != SOUK_PG_OK)
		return inv_batch_pg_failed(pg);
	if (!taken) {
		snprintf(errstr, errstr_size,
			 "could not take stock of sku \"%s\": refused under its row lock",
			 sku);
		return SOUK_POOL_RETRY;
	}
	return SOUK_POOL_OK;
}

/*
 * Decides one SKU's GATE orders run[0..n) (event order) whose stock row is row: the
 * gate, then PostgreSQL's check. *overruled is set when PostgreSQL decided instead,
 * so that the SKU's Redis keys are synced once the orders are recorded.
 */
static enum souk_pool_status
inv_batch_sku(struct inv_batch *b, struct souk_pg *pg, struct inv_order *const *run,
	      size_t n, const struct inv_stock *row, bool *overruled, char *errstr,
	      size_t errstr_size)
{
	const char *sku = run[0]->o.sku;
	struct inv_gate_order *asks = calloc(n, sizeof(*asks));
	enum inv_answer *answers = calloc(n, sizeof(*answers));
	struct inv_tally *users = calloc(n, sizeof(*users));
	enum souk_pool_status st = SOUK_POOL_RETRY;
	int64_t left = 0, total = 0, available = row->available;
	bool taken;
	size_t nusers;

	if (!asks || !answers || !users) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		asks[i] = (struct inv_gate_order){run[i]->o.order_id, run[i]->o.user_id,
						  run[i]->o.qty};
	st = inv_batch_gate(b, pg, sku, asks, n, answers, &left, errstr, errstr_size);
	if (st != SOUK_POOL_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		run[i]->answer = answers[i];
	nusers = inv_decide_tally(run, n, users, &total);
	/* Agreed: the gate left exactly PostgreSQL's stock minus what it accepted. */
	*overruled = left != row->available - total;
	if (!*overruled && total > 0) {
		if (inv_sql_take(pg, sku, row->version, total, users, nusers, &taken,
				 &available, errstr, errstr_size) != SOUK_PG_OK) {
			st = inv_batch_pg_failed(pg);
			goto out;
		}
		*overruled = !taken;
	}
	if (*overruled) {
		SOUK_LOG_WARN("inventory_redis_overruled",
			      "sku=%s redis_left=%" PRId64 " pg_available=%" PRId64
			      " gate_accepted=%" PRId64,
			      sku, left, row->available, total);
		inv_batch_count(b->metrics->overruled, 1);
		st = inv_batch_overrule(pg, run, n, users, &available, errstr,
					errstr_size);
		if (st != SOUK_POOL_OK)
			goto out;
	}
	if (inv_batch_note(b, sku, available)) {
		snprintf(errstr, errstr_size, "out of memory");
		st = SOUK_POOL_RETRY;
	}
out:
	free(asks);
	free(answers);
	free(users);
	return st;
}

/* Encodes ord's order_result into b->buf. */
static int
inv_batch_result(struct inv_batch *b, const struct inv_order *ord, size_t *len,
		 char *errstr, size_t errstr_size)
{
	char event_id[SOUK_UUID_STRLEN + 1], ts[SOUK_EVENT_TS_SIZE];

	souk_uuid_random(event_id);
	souk_event_ts_now(ts);
	return inv_decide_result(ord, event_id, ts, b->buf, SOUK_EVENT_MAX_BYTES + 1, len,
				 errstr, errstr_size);
}

/* Emits every order's result, in event order, and counts them. */
static enum souk_pool_status
inv_batch_emit(struct inv_batch *b, const struct inv_order *orders, size_t n,
	       inv_batch_emit_fn *emit, void *ctx, char *errstr, size_t errstr_size)
{
	const char *topic = souk_event_topic(SOUK_EVENT_TYPE_ORDER_RESULT);
	uint64_t decided[INV_ANSWER_COUNT] = {0}, repeated = 0;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		const struct inv_order *ord = &orders[i];

		if (inv_batch_result(b, ord, &len, errstr, errstr_size))
			return SOUK_POOL_FAIL;
		if (emit(ctx, ord->src, topic, ord->o.order_id, b->buf, len,
			 ord->result_id)) {
			snprintf(errstr, errstr_size, "out of memory");
			return SOUK_POOL_RETRY;
		}
		if (ord->route == INV_ROUTE_REPEAT || ord->route == INV_ROUTE_DUPLICATE)
			repeated++;
		else
			decided[ord->answer]++;
	}
	for (int a = 0; a < INV_ANSWER_COUNT; a++)
		inv_batch_count(b->metrics->decided[a], decided[a]);
	inv_batch_count(b->metrics->repeated, repeated);
	return SOUK_POOL_OK;
}

/* A run of order events between stock_sets (see the top of inv_batch.h). */
static enum souk_pool_status
inv_batch_orders(struct inv_batch *b, struct souk_pg *pg,
		 const struct souk_pool_event *events, size_t n, inv_batch_emit_fn *emit,
		 void *ctx, char *errstr, size_t errstr_size)
{
	struct inv_order *orders = calloc(n, sizeof(*orders)), **gate = NULL;
	struct inv_stored *stored = NULL;
	struct inv_stock *stock = NULL;
	const char **synced = NULL;
	size_t nstored = 0, nstock = 0, ngate = 0, nsynced = 0;
	enum souk_pool_status st = SOUK_POOL_RETRY;
	struct inv_sync_report rep;

	if (!orders)
		goto oom;
	for (size_t i = 0; i < n; i++)
		inv_decide_init(&orders[i], &events[i]);
	if (inv_sql_decided(pg, orders, n, &stored, &nstored, errstr, errstr_size) !=
		SOUK_PG_OK ||
	    inv_sql_stock(pg, orders, n, &stock, &nstock, errstr, errstr_size) !=
		SOUK_PG_OK) {
		st = inv_batch_pg_failed(pg);
		goto out;
	}
	if (inv_decide_route(orders, n, stored, nstored, b->sold_out, stock, nstock))
		goto oom;
	gate = inv_decide_group(orders, n, &ngate);
	synced = calloc(ngate + 1, sizeof(*synced));
	if ((!gate && ngate) || !synced)
		goto oom;
	for (size_t i = 0, k; i < ngate; i += k) {
		bool overruled = false;

		k = inv_decide_run(gate + i, ngate - i);
		st = inv_batch_sku(b, pg, gate + i, k,
				   inv_decide_stock(stock, nstock, gate[i]->o.sku),
				   &overruled, errstr, errstr_size);
		if (st != SOUK_POOL_OK)
			goto out;
		if (overruled)
			synced[nsynced++] = gate[i]->o.sku;
	}
	inv_decide_copy_duplicates(orders, n);
	if (inv_sql_record(pg, orders, n, errstr, errstr_size) != SOUK_PG_OK) {
		st = inv_batch_pg_failed(pg);
		goto out;
	}
	/* Redis after PostgreSQL overruled it: the truth now includes this run. */
	for (size_t i = 0; i < nsynced; i++) {
		st = inv_batch_sync(b, pg, synced[i], &rep, errstr, errstr_size);
		if (st != SOUK_POOL_OK)
			goto out;
	}
	st = inv_batch_emit(b, orders, n, emit, ctx, errstr, errstr_size);
	goto out;
oom:
	snprintf(errstr, errstr_size, "out of memory");
	st = SOUK_POOL_RETRY;
out:
	free(orders);
	free(gate);
	free(stored);
	free(stock);
	free(synced);
	return st;
}

/*
 * Whether the pool can take e; errstr says why not. An order that broke a rule is
 * answered "invalid" with those of its fields that are valid (its answer is encoded
 * here as a check); an event the pool cannot answer (another type, a stock_set that
 * broke a rule) fails the batch here, before any effect, so that the runtime isolates
 * it for the DLQ.
 */
static int
inv_batch_check(struct inv_batch *b, const struct souk_pool_event *e, char *errstr,
		size_t errstr_size)
{
	struct inv_order ord;
	size_t len;

	if (e->ev.type == SOUK_EVENT_TYPE_ORDER && e->status != SOUK_EVENT_OK) {
		inv_decide_init(&ord, e);
		ord.answer = INV_INVALID;
		return inv_batch_result(b, &ord, &len, errstr, errstr_size);
	}
	if (e->ev.type == SOUK_EVENT_TYPE_ORDER ||
	    (e->ev.type == SOUK_EVENT_TYPE_STOCK_SET && e->status == SOUK_EVENT_OK))
		return 0;
	if (e->ev.type == SOUK_EVENT_TYPE_STOCK_SET)
		snprintf(errstr, errstr_size,
			 "could not apply stock_set of %s/%d@%" PRId64 ": %s", e->topic,
			 (int)e->partition, e->offset, e->err.message);
	else
		snprintf(errstr, errstr_size,
			 "could not apply %s event of %s/%d@%" PRId64
			 ": the inventory pool takes order and stock_set",
			 souk_event_type_name(e->ev.type), e->topic, (int)e->partition,
			 e->offset);
	return -1;
}

enum souk_pool_status
inv_batch_apply(struct inv_batch *b, struct souk_pg *pg,
		const struct souk_pool_event *events, size_t n, inv_batch_emit_fn *emit,
		void *ctx, char *errstr, size_t errstr_size)
{
	enum souk_pool_status st = SOUK_POOL_OK;
	size_t mark = b->npending, i = 0, k;

	for (size_t j = 0; j < n; j++)
		if (inv_batch_check(b, &events[j], errstr, errstr_size))
			return SOUK_POOL_FAIL;
	while (i < n && st == SOUK_POOL_OK) {
		if (events[i].ev.type == SOUK_EVENT_TYPE_STOCK_SET) {
			st = inv_batch_stock_set(b, pg, &events[i], errstr, errstr_size);
			i++;
			continue;
		}
		for (k = 1; i + k < n && events[i + k].ev.type == SOUK_EVENT_TYPE_ORDER;
		     k++)
			;
		st = inv_batch_orders(b, pg, events + i, k, emit, ctx, errstr,
				      errstr_size);
		i += k;
	}
	if (st != SOUK_POOL_OK)
		b->npending = mark;
	return st;
}

void
inv_batch_after(struct inv_batch *b, int committed)
{
	for (size_t i = 0; committed && i < b->npending; i++) {
		/* A flag missing for lack of memory only costs a trip to Redis. */
		if (b->pending[i].available == 0)
			(void)inv_skuset_add(b->sold_out, b->pending[i].sku);
		else
			inv_skuset_remove(b->sold_out, b->pending[i].sku);
	}
	b->npending = 0;
}

void
inv_batch_forget(struct inv_batch *b)
{
	inv_skuset_clear(b->sold_out);
}

bool
inv_batch_flagged(const struct inv_batch *b, const char *sku)
{
	return inv_skuset_has(b->sold_out, sku);
}

enum souk_pool_status
inv_batch_reconcile(struct inv_batch *b, struct souk_pg *pg, char *errstr,
		    size_t errstr_size)
{
	struct inv_sync_report rep;

	for (size_t i = 0; i < inv_skuset_capacity(b->touched); i++) {
		const char *sku = inv_skuset_slot(b->touched, i);
		enum souk_pool_status st;

		if (!sku)
			continue;
		st = inv_batch_sync(b, pg, sku, &rep, errstr, errstr_size);
		if (st != SOUK_POOL_OK)
			return st;
		if (b->metrics->drift)
			souk_metrics_gauge_set(
			    souk_metrics_series(b->metrics->drift,
						(const char *const[]){sku}),
			    (double)inv_sync_drift(&rep));
		if (rep.fixed)
			SOUK_LOG_WARN("inventory_drift_fixed",
				      "sku=%s redis=%" PRId64 " truth=%" PRId64
				      " reserved=%" PRId64 " users_differ=%zu warm=%d",
				      sku, rep.redis_available, rep.truth, rep.reserved,
				      rep.users_differ, rep.warm);
	}
	inv_skuset_clear(b->touched);
	return SOUK_POOL_OK;
}
