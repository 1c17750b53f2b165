/*
 * pay_pool: see pay_pool.h. A thin adapter from souk_pool.h to pay_batch.
 */
#include "pay_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay_batch.h"
#include "pay_idem.h"
#include "pay_provider.h"
#include "souk_kafka.h"
#include "souk_log.h"

#define PAY_POOL_TOPIC "payments"
#define PAY_POOL_TICK_MS 1000
#define PAY_POOL_REAP_LIMIT 1000
#define PAY_POOL_MAX_PARTITIONS 256

const struct souk_config_def pay_pool_config[] = {
    {.name = "payments.provider_url",
     .type = SOUK_CONFIG_STRING,
     .def = "http://127.0.0.1:18200",
     .help = "the payment provider's base URL (souk-psp)"},
    {.name = "payments.provider_timeout",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "5s",
     .min = 10,
     .max = 600000,
     .help = "a provider call not answered by then has an unknown outcome: its payment "
	     "is parked until the janitor learns the outcome"},
    {.name = "payments.key_ttl",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "24h",
     .min = 1000,
     .max = 31536000000,
     .help =
	 "how long an idempotency key is kept once its outcome is final; never "
	 "less than the payments topic's retention.ms (asked of the broker at start)"},
    {.name = "payments.settle_client",
     .type = SOUK_CONFIG_STRING,
     .def = "souk-reconcile",
     .help = "the only client whose settle commands run (souk-payments reconcile); "
	     "settle from any other is answered settle_not_allowed"},
    {.name = "payments.janitor_interval",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "1s",
     .min = 1000,
     .max = 3600000,
     .help = "how often each thread asks the provider about its parked payments"},
    {.name = "payments.janitor_limit",
     .type = SOUK_CONFIG_INT,
     .def = "200",
     .min = 1,
     .max = 100000,
     .help = "parked payments resolved per janitor pass and thread"},
    {.name = NULL},
};

/* One per thread. */
struct pay_pool_state {
	struct pay_batch *batch;
	struct pay_batch_metrics metrics;
	int64_t janitor_ms, last_janitor_ms;
	int32_t partitions[PAY_POOL_MAX_PARTITIONS]; /* owned, of PAY_POOL_TOPIC */
	size_t npartitions;
};

/* Registers the pool's families in reg (each thread registers the same definitions
 * and gets the same families and series) and resolves m's series. */
static int
pay_pool_metrics_register(struct souk_metrics *reg, struct pay_batch_metrics *m,
			  char *errstr, size_t errstr_size)
{
	struct souk_metrics_family *commands, *transitions, *provider, *parked, *resolved,
	    *reaped;

	commands = souk_metrics_register_counter(
	    reg, "souk_payments_commands_total",
	    "Payment commands answered, by verdict: new (decided now), replay (the "
	    "stored outcome again), reused (key reused with other parameters), waiting "
	    "(behind a parked command), invalid.",
	    (const char *const[]){"verdict", NULL}, errstr, errstr_size);
	transitions = souk_metrics_register_counter(
	    reg, "souk_payments_transitions_total",
	    "State transitions applied (committed).", NULL, errstr, errstr_size);
	provider = souk_metrics_register_counter(
	    reg, "souk_payments_provider_calls_total",
	    "Provider calls answered, by outcome (unknown: timed out).",
	    (const char *const[]){"outcome", NULL}, errstr, errstr_size);
	parked = souk_metrics_register_counter(
	    reg, "souk_payments_parked_total",
	    "Commands whose provider outcome was unknown: their payment was parked.",
	    NULL, errstr, errstr_size);
	resolved = souk_metrics_register_counter(reg, "souk_payments_resolved_total",
						 "Parked commands the janitor completed.",
						 NULL, errstr, errstr_size);
	reaped = souk_metrics_register_counter(reg, "souk_payments_keys_reaped_total",
					       "Expired idempotency keys deleted.", NULL,
					       errstr, errstr_size);
	if (!commands || !transitions || !provider || !parked || !resolved || !reaped)
		return -1;
	for (int v = 0; v < PAY_BATCH_VERDICTS; v++)
		m->commands[v] = souk_metrics_series(
		    commands, (const char *const[]){
				  pay_batch_verdict_name((enum pay_batch_verdict)v)});
	for (int o = 0; o < 5; o++)
		m->provider[o] = souk_metrics_series(
		    provider, (const char *const[]){pay_provider_outcome_name(
				  (enum pay_provider_outcome)o)});
	m->transitions = souk_metrics_series(transitions, NULL);
	m->parked = souk_metrics_series(parked, NULL);
	m->resolved = souk_metrics_series(resolved, NULL);
	m->reaped = souk_metrics_series(reaped, NULL);
	return 0;
}

static int64_t
pay_pool_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Refuses to keep keys for less than the payments topic keeps its commands (the broker
 * is asked for retention.ms): a command redelivered after its key was reaped would run
 * again. When the broker cannot be asked, says so and goes on: the runtime retries
 * Kafka on its own, and the check is only a guard against a misconfiguration.
 */
static int
pay_pool_keep_check(const struct souk_config *c, int64_t keep_s, char *errstr,
		    size_t errstr_size)
{
	struct souk_kafka_producer *p;
	char value[32], why[256];
	int rc = 0;

	p = souk_kafka_producer_new(souk_config_get_string(c, "kafka.brokers"), NULL, 0,
				    0, NULL, NULL, why, sizeof(why));
	if (!p || souk_kafka_topic_config(souk_kafka_producer_handle(p), PAY_POOL_TOPIC,
					  "retention.ms", value, sizeof(value), 5000, why,
					  sizeof(why)))
		SOUK_LOG_WARN("payments_retention_unchecked", "error=\"%s\"", why);
	else
		rc = pay_idem_keep_check(keep_s, strtoll(value, NULL, 10), errstr,
					 errstr_size);
	souk_kafka_producer_destroy(p);
	return rc;
}

static void pay_pool_close(void *state);

static int
pay_pool_open(void **state, const struct souk_pool_env *env, struct souk_pg *pg,
	      char *errstr, size_t errstr_size)
{
	const struct souk_config *c = env->config;
	struct pay_pool_state *s = calloc(1, sizeof(*s));
	struct pay_batch_conf conf = {
	    .dsn = souk_config_get_string(c, "pg.dsn"),
	    .provider_url = souk_config_get_string(c, "payments.provider_url"),
	    .provider_timeout_ms =
		(long)souk_config_get_duration_ms(c, "payments.provider_timeout"),
	    .key_keep_s = souk_config_get_duration_ms(c, "payments.key_ttl") / 1000,
	    .settle_client = souk_config_get_string(c, "payments.settle_client"),
	    .janitor_limit = (int)souk_config_get_int(c, "payments.janitor_limit"),
	};

	if (!s) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	if (env->thread == 0 &&
	    pay_pool_keep_check(c, conf.key_keep_s, errstr, errstr_size)) {
		free(s);
		return -1;
	}
	if (pay_pool_metrics_register(env->metrics, &s->metrics, errstr, errstr_size)) {
		free(s);
		return -1;
	}
	s->janitor_ms = souk_config_get_duration_ms(c, "payments.janitor_interval");
	s->last_janitor_ms = pay_pool_now_ms();
	s->batch = pay_batch_new(&conf, &s->metrics, pg, errstr, errstr_size);
	if (!s->batch) {
		pay_pool_close(s);
		return -1;
	}
	*state = s;
	return 0;
}

static void
pay_pool_close(void *state)
{
	struct pay_pool_state *s = state;

	pay_batch_destroy(s->batch);
	free(s);
}

static enum souk_pool_status
pay_pool_apply(void *state, struct souk_txn *t, struct souk_pool_event *events, size_t n,
	       char *errstr, size_t errstr_size)
{
	struct pay_pool_state *s = state;

	return pay_batch_apply(s->batch, t, events, n, errstr, errstr_size);
}

static void
pay_pool_after(void *state, int committed)
{
	struct pay_pool_state *s = state;

	pay_batch_after(s->batch, committed);
}

static void
pay_pool_assigned(void *state, const char *topic, int32_t partition)
{
	struct pay_pool_state *s = state;

	if (strcmp(topic, PAY_POOL_TOPIC) || s->npartitions == PAY_POOL_MAX_PARTITIONS)
		return;
	for (size_t i = 0; i < s->npartitions; i++)
		if (s->partitions[i] == partition)
			return;
	s->partitions[s->npartitions++] = partition;
}

static void
pay_pool_revoked(void *state, const char *topic, int32_t partition)
{
	struct pay_pool_state *s = state;

	if (strcmp(topic, PAY_POOL_TOPIC))
		return;
	for (size_t i = 0; i < s->npartitions; i++)
		if (s->partitions[i] == partition) {
			s->partitions[i] = s->partitions[--s->npartitions];
			return;
		}
}

/* Every second: reaps expired keys; every payments.janitor_interval, resolves parked
 * payments of the partitions this thread owns (the runtime fences the transaction on
 * them). */
static enum souk_pool_status
pay_pool_tick(void *state, struct souk_txn *t, char *errstr, size_t errstr_size)
{
	struct pay_pool_state *s = state;
	int64_t now = pay_pool_now_ms();
	enum souk_pool_status st;

	st = pay_batch_reap(s->batch, t, PAY_POOL_REAP_LIMIT, errstr, errstr_size);
	if (st != SOUK_POOL_OK || now - s->last_janitor_ms < s->janitor_ms)
		return st;
	st = pay_batch_janitor(s->batch, t, PAY_POOL_TOPIC, s->partitions, s->npartitions,
			       errstr, errstr_size);
	if (st == SOUK_POOL_OK)
		s->last_janitor_ms = now;
	return st;
}

static const char *const pay_pool_topics[] = {PAY_POOL_TOPIC, NULL};

const struct souk_pool pay_pool = {
    .name = "payments",
    .topics = pay_pool_topics,
    .default_group = "souk-payments",
    .config = pay_pool_config,
    .open = pay_pool_open,
    .close = pay_pool_close,
    .apply = pay_pool_apply,
    .after = pay_pool_after,
    .assigned = pay_pool_assigned,
    .revoked = pay_pool_revoked,
    .tick = pay_pool_tick,
    .tick_ms = PAY_POOL_TICK_MS,
};
