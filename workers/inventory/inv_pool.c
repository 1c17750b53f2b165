/*
 * inv_pool: see inv_pool.h. A thin adapter from souk_pool.h to inv_batch.
 */
#include "inv_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "inv_batch.h"
#include "inv_config.h"

#define INV_POOL_TICK_MS 1000

/* One per thread. */
struct inv_pool_state {
	struct inv_batch *batch;
	struct inv_metrics metrics;
	long long reconcile_ms; /* 0: never */
	int64_t last_reconcile_ms;
};

/* Registers the pool's families in reg (each thread registers the same definitions
 * and gets the same families and series) and resolves m's series. */
static int
inv_pool_metrics_register(struct souk_metrics *reg, struct inv_metrics *m, char *errstr,
			  size_t errstr_size)
{
	struct souk_metrics_family *orders, *overruled, *rebuilt;

	orders = souk_metrics_register_counter(reg, "souk_inventory_orders_total",
					       "Orders answered: decided now, by answer, "
					       "or repeated (an earlier answer sent "
					       "again).",
					       (const char *const[]){"answer", NULL},
					       errstr, errstr_size);
	overruled = souk_metrics_register_counter(
	    reg, "souk_inventory_redis_overruled_total",
	    "Times PostgreSQL overruled the Redis gate for a SKU's orders of a batch.",
	    NULL, errstr, errstr_size);
	rebuilt = souk_metrics_register_counter(
	    reg, "souk_inventory_redis_rebuilds_total",
	    "SKUs found not warm in Redis and rebuilt from PostgreSQL.", NULL, errstr,
	    errstr_size);
	m->drift = souk_metrics_register_gauge(
	    reg, "souk_inventory_redis_drift",
	    "Redis stock minus the truth (PostgreSQL minus reservations in flight) found "
	    "by "
	    "the last reconciliation, by SKU; it was fixed then.",
	    (const char *const[]){"sku", NULL}, errstr, errstr_size);
	if (!orders || !overruled || !rebuilt || !m->drift)
		return -1;
	for (int a = 0; a < INV_ANSWER_COUNT; a++)
		m->decided[a] = souk_metrics_series(
		    orders, (const char *const[]){inv_answer_name((enum inv_answer)a)});
	m->repeated = souk_metrics_series(orders, (const char *const[]){"repeated"});
	m->overruled = souk_metrics_series(overruled, NULL);
	m->rebuilds = souk_metrics_series(rebuilt, NULL);
	return 0;
}

static int64_t
inv_pool_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void inv_pool_close(void *state);

static int
inv_pool_open(void **state, const struct souk_pool_env *env, struct souk_pg *pg,
	      char *errstr, size_t errstr_size)
{
	const struct souk_config *c = env->config;
	struct inv_pool_state *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	if (inv_pool_metrics_register(env->metrics, &s->metrics, errstr, errstr_size)) {
		free(s);
		return -1;
	}
	s->reconcile_ms = souk_config_get_duration_ms(c, "inventory.reconcile_interval");
	s->last_reconcile_ms = inv_pool_now_ms();
	s->batch =
	    inv_batch_new(pg, souk_config_get_string(c, "redis.url"),
			  (int)souk_config_get_duration_ms(c, "inventory.redis_timeout"),
			  souk_config_get_duration_ms(c, "inventory.reservation_ttl"),
			  &s->metrics, errstr, errstr_size);
	if (!s->batch) {
		inv_pool_close(s);
		return -1;
	}
	*state = s;
	return 0;
}

static void
inv_pool_close(void *state)
{
	struct inv_pool_state *s = state;

	inv_batch_destroy(s->batch);
	free(s);
}

static int
inv_pool_emit(void *ctx, const struct souk_pool_event *src, const char *topic,
	      const char *key, const char *value, size_t len, const char *result_id)
{
	return souk_txn_emit(ctx, src, topic, key, value, len, result_id);
}

static enum souk_pool_status
inv_pool_apply(void *state, struct souk_txn *t, struct souk_pool_event *events, size_t n,
	       char *errstr, size_t errstr_size)
{
	struct inv_pool_state *s = state;

	return inv_batch_apply(s->batch, souk_txn_pg(t), events, n, inv_pool_emit, t,
			       errstr, errstr_size);
}

static void
inv_pool_after(void *state, int committed)
{
	struct inv_pool_state *s = state;

	inv_batch_after(s->batch, committed);
}

/* A partition came or went: its SKUs' flags may be stale (simplest: drop them all). */
static void
inv_pool_rebalanced(void *state, const char *topic, int32_t partition)
{
	struct inv_pool_state *s = state;

	(void)topic;
	(void)partition;
	inv_batch_forget(s->batch);
}

/* Runs every second; reconciles every inventory.reconcile_interval (souk_pool's
 * tick_ms is fixed, the interval is configuration). */
static enum souk_pool_status
inv_pool_tick(void *state, struct souk_txn *t, char *errstr, size_t errstr_size)
{
	struct inv_pool_state *s = state;
	int64_t now = inv_pool_now_ms();
	enum souk_pool_status st;

	if (s->reconcile_ms == 0 || now - s->last_reconcile_ms < s->reconcile_ms)
		return SOUK_POOL_OK;
	st = inv_batch_reconcile(s->batch, souk_txn_pg(t), errstr, errstr_size);
	if (st == SOUK_POOL_OK)
		s->last_reconcile_ms = now;
	return st;
}

static const char *const inv_pool_topics[] = {"orders", NULL};

const struct souk_pool inv_pool = {
    .name = "inventory",
    .topics = inv_pool_topics,
    .default_group = "souk-inventory",
    .config = inv_config,
    .open = inv_pool_open,
    .close = inv_pool_close,
    .apply = inv_pool_apply,
    .after = inv_pool_after,
    .assigned = inv_pool_rebalanced,
    .revoked = inv_pool_rebalanced,
    .tick = inv_pool_tick,
    .tick_ms = INV_POOL_TICK_MS,
};
