#include "souk_runtime.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "souk_http.h"
#include "souk_kafka.h"
#include "souk_log.h"
#include "souk_offsets.h"
#include "souk_outbox.h"
#include "souk_uuid.h"

#define RT_MAX_PARTITIONS 1024
#define RT_MAX_PROPS 64
#define RT_BACKOFF_MIN_MS 100

const struct souk_config_def souk_runtime_config[] = {
    {.name = "worker.threads",
     .type = SOUK_CONFIG_INT,
     .def = "2",
     .min = 1,
     .max = 64,
     .help = "consumer threads, each with its own PostgreSQL session"},
    {.name = "worker.batch_max",
     .type = SOUK_CONFIG_INT,
     .def = "1000",
     .min = 1,
     .max = 100000,
     .help = "messages per batch (one transaction) at most"},
    {.name = "worker.poll_timeout",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "100ms",
     .min = 1,
     .max = 10000,
     .help = "wait this long for a batch's first message"},
    {.name = "worker.commit_interval",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "1s",
     .min = 0,
     .max = 600000,
     .help = "commit offsets to Kafka this often (PostgreSQL holds the truth)"},
    {.name = "worker.outbox_retention",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "1h",
     .min = 0,
     .max = 30LL * 86400000,
     .help = "keep published outbox rows this long"},
    {.name = "worker.retry_backoff_max",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "5s",
     .min = 100,
     .max = 600000,
     .help = "longest wait between retries of a batch"},
    {.name = "worker.drain_timeout",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "10s",
     .min = 0,
     .max = 600000,
     .help = "on shutdown, publish committed results for this long at most"},
    {.name = NULL},
};

/* A partition this thread owns. */
struct rt_part {
	char *topic;
	int32_t partition;
	int64_t epoch; /* our claim */
	int64_t pos;   /* next offset to apply; equals the stored next_offset */
	bool fenced;   /* claimed by another consumer: drop its messages until revoked */
	struct souk_metrics_series *lag;
};

struct rt_thread;

struct souk_txn {
	struct rt_thread *t;
	struct souk_outbox_batch out;
	size_t ndlq; /* rows of out bound for a DLQ: counted once committed */
};

struct rt_thread {
	struct souk_runtime *rt;
	int index;
	pthread_t thread;
	struct souk_kafka_consumer *consumer;
	struct souk_pg *pg;
	void *state;
	struct rt_part parts[RT_MAX_PARTITIONS];
	size_t nparts;
	struct souk_txn txn;
	double last_tick, last_kafka_commit;
	bool uncommitted; /* offsets stored in Kafka's client but not committed yet */
	bool failed;
};

struct souk_runtime {
	const struct souk_pool *pool;
	const struct souk_config *config;
	char *group;
	struct souk_kafka_prop props[RT_MAX_PROPS];
	size_t nprops;
	/* The relay's: the pool's linger.ms first (when it names one), then props, so
	 * that a kafka.linger.ms still wins. */
	struct souk_kafka_prop relay_props[RT_MAX_PROPS + 1];
	char relay_linger[16];
	int batch_max, poll_ms;
	long long commit_ms, backoff_max_ms;
	struct souk_metrics *metrics;
	struct souk_http *http;
	struct souk_outbox_relay *relay;
	atomic_bool stop;
	atomic_int started;
	struct rt_thread *threads;
	int nthreads;
	struct souk_metrics_family *lag_family;
	struct souk_metrics_series *consumed, *applied, *dlq, *committed, *retried,
	    *fenced, *isolated, *batch_seconds;
	/* Where a committed batch's time went: the pool's apply, writing the outbox,
	 * advancing the offsets, COMMIT. */
	struct souk_metrics_series *phase_apply, *phase_outbox, *phase_offsets,
	    *phase_commit;
};

static double
rt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps ms unless the runtime is stopping; false when it is. */
static bool
rt_sleep(struct souk_runtime *rt, long long ms)
{
	for (long long slept = 0; slept < ms; slept += 50) {
		if (atomic_load(&rt->stop))
			return false;
		usleep(50 * 1000);
	}
	return !atomic_load(&rt->stop);
}

/* ---- the transaction lent to pools -------------------------------------------- */

struct souk_pg *
souk_txn_pg(struct souk_txn *t)
{
	return t->t->pg;
}

int
souk_txn_emit(struct souk_txn *t, const struct souk_pool_event *src, const char *topic,
	      const char *key, const char *value, size_t len, const char *result_id)
{
	return souk_outbox_batch_add(&t->out, result_id, src->topic, src->partition,
				     src->offset,
				     src->ev.event_id[0] ? src->ev.event_id : NULL, topic,
				     key, key ? strlen(key) : 0, value, len, NULL);
}

/* Adds to out the row that sends a source message to <topic>.dlq with the reason. */
static int
rt_dlq_row(struct souk_outbox_batch *out, const char *topic, int32_t partition,
	   int64_t offset, const void *key, size_t key_len, const char *value, size_t len,
	   const char *source_event_id, const char *reason)
{
	char dlq_topic[300], coords[300], result_id[SOUK_UUID_STRLEN + 1];
	const unsigned char *headers;
	size_t hlen;
	yajl_gen g = yajl_gen_alloc(NULL);
	int rc;

	if (!g)
		return -1;
	snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", topic);
	snprintf(coords, sizeof(coords), "%s/%" PRId32, topic, partition);
	/* One entry per source message: a re-sent DLQ entry keeps its id. */
	souk_uuid_derive("souk-dlq", coords, (unsigned long)offset, result_id);
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"souk-error", 10);
	yajl_gen_string(g, (const unsigned char *)reason, strlen(reason));
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &headers, &hlen);
	rc = souk_outbox_batch_add(out, result_id, topic, partition, offset,
				   source_event_id, dlq_topic, key, key_len, value, len,
				   (const char *)headers);
	yajl_gen_free(g);
	return rc;
}

int
souk_txn_dlq(struct souk_txn *t, const struct souk_pool_event *src, const char *reason)
{
	if (rt_dlq_row(&t->out, src->topic, src->partition, src->offset, NULL, 0,
		       src->value, src->len,
		       src->ev.event_id[0] ? src->ev.event_id : NULL, reason))
		return -1;
	t->ndlq++;
	return 0;
}

/* ---- partitions ---------------------------------------------------------------- */

static struct rt_part *
rt_part_find(struct rt_thread *t, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < t->nparts; i++)
		if (t->parts[i].partition == partition &&
		    !strcmp(t->parts[i].topic, topic))
			return &t->parts[i];
	return NULL;
}

static void
rt_part_drop(struct rt_thread *t, struct rt_part *p)
{
	free(p->topic);
	*p = t->parts[--t->nparts];
}

/* Claims a newly assigned partition in PostgreSQL, retrying until it works or the
 * runtime stops; returns the offset to start from, or RD_KAFKA_OFFSET_INVALID. */
static int64_t
rt_claim(struct rt_thread *t, const char *topic, int32_t partition)
{
	struct souk_runtime *rt = t->rt;
	rd_kafka_t *rk = souk_kafka_consumer_handle(t->consumer);
	long long backoff = RT_BACKOFF_MIN_MS;
	char errstr[512];
	int64_t low, high, epoch, next;
	struct rt_part *p;
	char part[16];

	for (;;) {
		if (souk_kafka_watermarks(rk, topic, partition, &low, &high, 5000, errstr,
					  sizeof(errstr)) == 0 &&
		    souk_offsets_claim(t->pg, rt->group, topic, partition, low, &epoch,
				       &next, errstr, sizeof(errstr)) == 0)
			break;
		SOUK_LOG_WARN("claim_failed", "topic=%s partition=%d error=%s", topic,
			      (int)partition, errstr);
		if (!rt_sleep(rt, backoff))
			return RD_KAFKA_OFFSET_INVALID;
		backoff =
		    backoff * 2 > rt->backoff_max_ms ? rt->backoff_max_ms : backoff * 2;
	}
	if (t->nparts == RT_MAX_PARTITIONS) {
		SOUK_LOG_ERROR("too_many_partitions", "max=%d", RT_MAX_PARTITIONS);
		return RD_KAFKA_OFFSET_INVALID;
	}
	p = &t->parts[t->nparts++];
	memset(p, 0, sizeof(*p));
	p->topic = strdup(topic);
	p->partition = partition;
	p->epoch = epoch;
	p->pos = next;
	snprintf(part, sizeof(part), "%" PRId32, partition);
	p->lag = souk_metrics_series(rt->lag_family, (const char *const[]){topic, part});
	SOUK_LOG_INFO("partition_claimed",
		      "topic=%s partition=%d epoch=%" PRId64 " offset=%" PRId64, topic,
		      (int)partition, epoch, next);
	return next;
}

static void
rt_on_rebalance(void *opaque, enum souk_kafka_rebalance event,
		rd_kafka_topic_partition_list_t *parts)
{
	struct rt_thread *t = opaque;
	struct souk_runtime *rt = t->rt;

	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct rt_part *p = rt_part_find(t, tp->topic, tp->partition);

		if (event == SOUK_KAFKA_ASSIGNED) {
			if (p)
				rt_part_drop(
				    t, p); /* a stale entry from before: claim anew */
			tp->offset = rt_claim(t, tp->topic, tp->partition);
			if (tp->offset == RD_KAFKA_OFFSET_INVALID)
				continue;
			if (rt->pool->assigned)
				rt->pool->assigned(t->state, tp->topic, tp->partition);
			souk_outbox_relay_own(rt->relay, tp->topic, tp->partition, 1);
			continue;
		}
		if (!p)
			continue;
		if (rt->pool->revoked)
			rt->pool->revoked(t->state, tp->topic, tp->partition);
		/* On shutdown the relay keeps the partition to publish what the last
		 * batches committed; the next owner publishes anything left. */
		if (!atomic_load(&rt->stop))
			souk_outbox_relay_own(rt->relay, tp->topic, tp->partition, 0);
		SOUK_LOG_INFO("partition_released", "topic=%s partition=%d lost=%d",
			      tp->topic, (int)tp->partition, event == SOUK_KAFKA_LOST);
		rt_part_drop(t, p);
	}
}

/* ---- one batch ----------------------------------------------------------------- */

/* The events of a batch with their partitions' ranges. */
struct rt_batch {
	struct souk_pool_event *events;
	size_t n;
	struct souk_offsets_range ranges[RT_MAX_PARTITIONS];
	size_t nranges;
	struct souk_outbox_batch dlq; /* undecodable messages, written with the batch */
};

static struct souk_offsets_range *
rt_range(struct rt_batch *b, struct rt_part *p)
{
	for (size_t i = 0; i < b->nranges; i++)
		if (b->ranges[i].partition == p->partition &&
		    !strcmp(b->ranges[i].topic, p->topic))
			return &b->ranges[i];
	b->ranges[b->nranges] =
	    (struct souk_offsets_range){p->topic, p->partition, p->epoch, p->pos, p->pos};
	return &b->ranges[b->nranges++];
}

/* Decodes msgs into b: owned, unfenced partitions only, from each one's position on;
 * undecodable ones become DLQ rows. Returns -1 when out of memory. */
static int
rt_batch_build(struct rt_thread *t, rd_kafka_message_t **msgs, int n, struct rt_batch *b)
{
	b->events = calloc((size_t)n, sizeof(*b->events));
	if (!b->events)
		return -1;
	for (int i = 0; i < n; i++) {
		rd_kafka_message_t *m = msgs[i];
		const char *topic = rd_kafka_topic_name(m->rkt);
		struct rt_part *p = rt_part_find(t, topic, m->partition);
		struct souk_pool_event *e = &b->events[b->n];
		struct souk_offsets_range *r;
		char reason[300];

		if (m->err || !p || p->fenced || m->offset < p->pos)
			continue; /* not ours (anymore), or already applied */
		r = rt_range(b, p);
		if (m->offset < r->next)
			continue;
		r->next = m->offset + 1;
		souk_metrics_counter_add(t->rt->consumed, 1);
		*e = (struct souk_pool_event){
		    .topic = topic,
		    .partition = m->partition,
		    .offset = m->offset,
		    .timestamp_ms = rd_kafka_message_timestamp(m, NULL),
		    .value = m->payload ? m->payload : "",
		    .len = m->len,
		};
		e->status = souk_event_decode(e->value, e->len, &e->ev, &e->err);
		if (e->status == SOUK_EVENT_OK || e->status == SOUK_EVENT_EFIELD) {
			b->n++;
			continue;
		}
		snprintf(reason, sizeof(reason), "%s: %s",
			 souk_event_status_name(e->status), e->err.message);
		if (rt_dlq_row(&b->dlq, topic, m->partition, m->offset, m->key,
			       m->key_len, e->value, e->len,
			       e->ev.event_id[0] ? e->ev.event_id : NULL, reason))
			return -1;
	}
	return 0;
}

/* Drops the events of fenced partitions and their ranges. */
static void
rt_batch_unfence(struct rt_thread *t, struct rt_batch *b)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct rt_part *p =
		    rt_part_find(t, b->events[i].topic, b->events[i].partition);

		if (p && !p->fenced)
			b->events[k++] = b->events[i];
	}
	b->n = k;
	k = 0;
	for (size_t i = 0; i < b->nranges; i++) {
		struct rt_part *p =
		    rt_part_find(t, b->ranges[i].topic, b->ranges[i].partition);

		if (p && !p->fenced)
			b->ranges[k++] = b->ranges[i];
	}
	b->nranges = k;
	/* DLQ rows of fenced partitions go too. */
	for (size_t i = 0; i < b->dlq.n;) {
		struct rt_part *p = rt_part_find(t, b->dlq.rows[i].source_topic,
						 b->dlq.rows[i].source_partition);

		if (p && !p->fenced) {
			i++;
			continue;
		}
		struct souk_outbox_row dead = b->dlq.rows[i];

		b->dlq.rows[i] = b->dlq.rows[b->dlq.n - 1];
		b->dlq.rows[b->dlq.n - 1] = dead;
		souk_outbox_batch_truncate(&b->dlq, b->dlq.n - 1);
	}
}

/* Finds the ranges another consumer claimed, marks their partitions fenced and pauses
 * them. */
static void
rt_find_fenced(struct rt_thread *t, struct rt_batch *b)
{
	char errstr[512];

	for (size_t i = 0; i < b->nranges; i++) {
		struct rt_part *p =
		    rt_part_find(t, b->ranges[i].topic, b->ranges[i].partition);
		int64_t epoch;

		if (!p || souk_offsets_epoch(t->pg, t->rt->group, p->topic, p->partition,
					     &epoch, errstr, sizeof(errstr)))
			continue;
		if (epoch == p->epoch)
			continue;
		p->fenced = true;
		souk_metrics_counter_add(t->rt->fenced, 1);
		SOUK_LOG_WARN("partition_fenced",
			      "topic=%s partition=%d epoch=%" PRId64 " now=%" PRId64
			      " action=rolled_back",
			      p->topic, (int)p->partition, p->epoch, epoch);
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
		rd_kafka_pause_partitions(souk_kafka_consumer_handle(t->consumer), l);
		rd_kafka_topic_partition_list_destroy(l);
	}
}

/* ROLLBACK; a failure means the session is gone, which rolled back too. */
static void
rt_rollback(struct rt_thread *t)
{
	char errstr[256];

	souk_pg_rollback(t->pg, errstr, sizeof(errstr));
}

/* Copies the batch's DLQ rows (its undecodable messages) into the transaction's outbox.
 */
static int
rt_txn_add_dlq(struct souk_txn *txn, const struct rt_batch *b)
{
	txn->ndlq += b->dlq.n;
	for (size_t i = 0; i < b->dlq.n; i++) {
		const struct souk_outbox_row *r = &b->dlq.rows[i];

		if (souk_outbox_batch_add(
			&txn->out, r->result_id, r->source_topic, r->source_partition,
			r->source_offset,
			r->source_event_id[0] ? r->source_event_id : NULL, r->topic,
			r->key, r->key_len, r->value, r->len, r->headers))
			return -1;
	}
	return 0;
}

/*
 * Applies the batch once: the pool's apply (or, isolated, one event at a time under a
 * savepoint), the outbox, the fenced offsets, COMMIT. Returns SOUK_POOL_OK when
 * committed, SOUK_POOL_RETRY to run it again, SOUK_POOL_FAIL to run it isolated.
 * *fenced is set when some partition turned out claimed by another consumer.
 */
static enum souk_pool_status
rt_attempt(struct rt_thread *t, struct rt_batch *b, bool isolated, bool *fenced)
{
	struct souk_runtime *rt = t->rt;
	struct souk_txn *txn = &t->txn;
	enum souk_pool_status st = SOUK_POOL_RETRY;
	char errstr[512] = "";
	size_t advanced = 0, applied = 0;
	double t_apply = rt_now(), t_outbox, t_offsets, t_commit;

	*fenced = false;
	souk_outbox_batch_truncate(&txn->out, 0);
	txn->ndlq = 0;
	if (souk_pg_begin(t->pg, errstr, sizeof(errstr)))
		goto rollback;
	if (rt_txn_add_dlq(txn, b))
		goto oom;
	if (!isolated) {
		st = b->n ? rt->pool->apply(t->state, txn, b->events, b->n, errstr,
					    sizeof(errstr))
			  : SOUK_POOL_OK;
		if (st != SOUK_POOL_OK)
			goto rollback;
		applied = b->n;
	} else {
		for (size_t i = 0; i < b->n; i++) {
			struct souk_pool_event *e = &b->events[i];
			size_t mark = txn->out.n;
			char reason[600];

			if (souk_pg_savepoint(t->pg, "souk_event", errstr,
					      sizeof(errstr)))
				goto rollback;
			st = rt->pool->apply(t->state, txn, e, 1, errstr, sizeof(errstr));
			if (st == SOUK_POOL_RETRY)
				goto rollback;
			if (st == SOUK_POOL_OK) {
				applied++;
				if (souk_pg_release(t->pg, "souk_event", errstr,
						    sizeof(errstr)))
					goto rollback;
				continue;
			}
			/* This event cannot be applied: undo its part, DLQ it, go on. */
			SOUK_LOG_WARN("event_failed",
				      "topic=%s partition=%d offset=%" PRId64 " error=%s",
				      e->topic, (int)e->partition, e->offset, errstr);
			snprintf(reason, sizeof(reason), "apply: %s", errstr);
			souk_outbox_batch_truncate(&txn->out, mark);
			if (souk_pg_rollback_to(t->pg, "souk_event", errstr,
						sizeof(errstr)) ||
			    souk_pg_release(t->pg, "souk_event", errstr,
					    sizeof(errstr))) {
				st = SOUK_POOL_RETRY;
				goto rollback;
			}
			if (souk_txn_dlq(txn, e, reason))
				goto oom;
		}
	}
	st = SOUK_POOL_RETRY;
	t_outbox = rt_now();
	if (souk_outbox_insert(t->pg, &txn->out, errstr, sizeof(errstr)))
		goto rollback;
	t_offsets = rt_now();
	if (souk_offsets_advance(t->pg, rt->group, b->ranges, b->nranges, &advanced,
				 errstr, sizeof(errstr)))
		goto rollback;
	if (advanced < b->nranges) {
		*fenced = true;
		snprintf(errstr, sizeof(errstr),
			 "a partition was claimed by another consumer");
		goto rollback;
	}
	t_commit = rt_now();
	if (souk_pg_commit(t->pg, errstr, sizeof(errstr)))
		goto after;
	souk_metrics_histogram_observe(rt->phase_apply, t_outbox - t_apply);
	souk_metrics_histogram_observe(rt->phase_outbox, t_offsets - t_outbox);
	souk_metrics_histogram_observe(rt->phase_offsets, t_commit - t_offsets);
	souk_metrics_histogram_observe(rt->phase_commit, rt_now() - t_commit);
	if (rt->pool->after)
		rt->pool->after(t->state, 1);
	souk_metrics_counter_add(rt->applied, applied);
	souk_metrics_counter_add(rt->dlq, txn->ndlq);
	return SOUK_POOL_OK;
oom:
	snprintf(errstr, sizeof(errstr), "out of memory");
	st = SOUK_POOL_RETRY;
rollback:
	rt_rollback(t);
after:
	if (rt->pool->after)
		rt->pool->after(t->state, 0);
	if (!*fenced)
		SOUK_LOG_WARN("batch_rolled_back",
			      "events=%zu isolated=%d next=%s error=%s", b->n, isolated,
			      st == SOUK_POOL_FAIL ? "isolate" : "retry", errstr);
	return st;
}

/* After the commit: positions, Kafka's stored offsets, lag, the relay. */
static void
rt_committed(struct rt_thread *t, struct rt_batch *b)
{
	rd_kafka_t *rk = souk_kafka_consumer_handle(t->consumer);
	char errstr[256];

	for (size_t i = 0; i < b->nranges; i++) {
		struct rt_part *p =
		    rt_part_find(t, b->ranges[i].topic, b->ranges[i].partition);
		int64_t low, high;

		if (!p)
			continue;
		p->pos = b->ranges[i].next;
		if (souk_kafka_consumer_store_offset(t->consumer, p->topic, p->partition,
						     p->pos, errstr, sizeof(errstr)) == 0)
			t->uncommitted = true;
		if (rd_kafka_get_watermark_offsets(rk, p->topic, p->partition, &low,
						   &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    high >= p->pos)
			souk_metrics_gauge_set(p->lag, (double)(high - p->pos));
	}
	if (t->txn.out.n)
		souk_outbox_relay_kick(t->rt->relay);
	souk_metrics_counter_add(t->rt->committed, 1);
}

/* Applies one polled batch until it commits, or the runtime stops (then nothing of it
 * is committed: the next owner reads it again from the stored offsets). */
static void
rt_process(struct rt_thread *t, rd_kafka_message_t **msgs, int n)
{
	struct souk_runtime *rt = t->rt;
	struct rt_batch b = {0};
	long long backoff = RT_BACKOFF_MIN_MS;
	bool isolated = false, fenced;
	double start = rt_now();

	if (rt_batch_build(t, msgs, n, &b)) {
		SOUK_LOG_ERROR("batch_failed", "error=%s", "out of memory");
		goto out;
	}
	while (b.nranges > 0) {
		enum souk_pool_status st = rt_attempt(t, &b, isolated, &fenced);

		if (st == SOUK_POOL_OK) {
			rt_committed(t, &b);
			souk_metrics_histogram_observe(rt->batch_seconds,
						       rt_now() - start);
			break;
		}
		if (fenced) {
			rt_find_fenced(t, &b);
			rt_batch_unfence(t, &b);
			continue;
		}
		if (st == SOUK_POOL_FAIL && !isolated) {
			souk_metrics_counter_add(rt->isolated, 1);
			isolated = true;
			continue;
		}
		souk_metrics_counter_add(rt->retried, 1);
		if (!rt_sleep(rt, backoff))
			break;
		backoff =
		    backoff * 2 > rt->backoff_max_ms ? rt->backoff_max_ms : backoff * 2;
	}
out:
	free(b.events);
	souk_outbox_batch_free(&b.dlq);
}

/* The pool's timer, fenced like a batch but moving no offsets. */
static void
rt_tick(struct rt_thread *t)
{
	struct souk_runtime *rt = t->rt;
	struct souk_offsets_range ranges[RT_MAX_PARTITIONS];
	size_t n = 0, held = 0;
	char errstr[512] = "";
	enum souk_pool_status st;

	for (size_t i = 0; i < t->nparts; i++)
		if (!t->parts[i].fenced)
			ranges[n++] = (struct souk_offsets_range){
			    t->parts[i].topic, t->parts[i].partition, t->parts[i].epoch,
			    0, 0};
	if (n == 0)
		return;
	souk_outbox_batch_truncate(&t->txn.out, 0);
	t->txn.ndlq = 0;
	if (souk_pg_begin(t->pg, errstr, sizeof(errstr)))
		goto rollback;
	st = rt->pool->tick(t->state, &t->txn, errstr, sizeof(errstr));
	if (st != SOUK_POOL_OK ||
	    souk_offsets_hold(t->pg, rt->group, ranges, n, &held, errstr,
			      sizeof(errstr)) ||
	    souk_outbox_insert(t->pg, &t->txn.out, errstr, sizeof(errstr)))
		goto rollback;
	if (held < n) {
		snprintf(errstr, sizeof(errstr),
			 "a partition was claimed by another consumer");
		goto rollback;
	}
	if (souk_pg_commit(t->pg, errstr, sizeof(errstr)))
		goto after;
	if (rt->pool->after)
		rt->pool->after(t->state, 1);
	souk_metrics_counter_add(rt->dlq, t->txn.ndlq);
	if (t->txn.out.n)
		souk_outbox_relay_kick(rt->relay);
	return;
rollback:
	rt_rollback(t);
after:
	if (rt->pool->after)
		rt->pool->after(t->state, 0);
	SOUK_LOG_WARN("tick_rolled_back", "error=%s", errstr);
}

/* ---- threads ------------------------------------------------------------------- */

static int
rt_thread_open(struct rt_thread *t, char *errstr, size_t errstr_size)
{
	struct souk_runtime *rt = t->rt;
	const struct souk_pool_env env = {rt->config, rt->metrics, t->index};
	const char *const *topics = rt->pool->topics;
	size_t ntopics = 0;

	while (topics[ntopics])
		ntopics++;
	t->pg = souk_pg_connect(souk_config_get_string(rt->config, "pg.dsn"), 30000,
				errstr, errstr_size);
	if (!t->pg || souk_offsets_prepare(t->pg, errstr, errstr_size))
		return -1;
	if (rt->pool->open && rt->pool->open(&t->state, &env, t->pg, errstr, errstr_size))
		return -1;
	t->consumer = souk_kafka_consumer_new(
	    souk_config_get_string(rt->config, "kafka.brokers"), rt->group, rt->props,
	    rt->nprops, rt_on_rebalance, t, errstr, errstr_size);
	if (!t->consumer || souk_kafka_consumer_subscribe(t->consumer, topics, ntopics,
							  errstr, errstr_size))
		return -1;
	return 0;
}

static void
rt_thread_close(struct rt_thread *t)
{
	char errstr[512];

	if (t->consumer) {
		if (t->uncommitted &&
		    souk_kafka_consumer_commit(t->consumer, NULL, errstr, sizeof(errstr)))
			SOUK_LOG_WARN("kafka_commit_failed", "error=%s", errstr);
		souk_kafka_consumer_close(t->consumer, errstr, sizeof(errstr));
		souk_kafka_consumer_destroy(t->consumer);
	}
	if (t->state && t->rt->pool->close)
		t->rt->pool->close(t->state);
	souk_pg_destroy(t->pg);
	while (t->nparts)
		rt_part_drop(t, &t->parts[0]);
	souk_outbox_batch_free(&t->txn.out);
}

static void *
rt_thread_main(void *arg)
{
	struct rt_thread *t = arg;
	struct souk_runtime *rt = t->rt;
	rd_kafka_message_t **msgs = calloc((size_t)rt->batch_max, sizeof(*msgs));
	char errstr[512];

	t->txn.t = t;
	if (!msgs || rt_thread_open(t, errstr, sizeof(errstr))) {
		SOUK_LOG_ERROR("worker_thread_failed", "thread=%d error=%s", t->index,
			       msgs ? errstr : "out of memory");
		t->failed = true;
		/* A pool that cannot start every thread (bad configuration, a server
		 * that refuses) stops the process rather than run short-handed: the
		 * program waiting for signals stops the runtime, which reports it. */
		kill(getpid(), SIGTERM);
		goto out;
	}
	atomic_fetch_add(&rt->started, 1);
	if (atomic_load(&rt->started) == rt->nthreads)
		souk_http_set_ready(rt->http, 1, NULL);
	t->last_tick = t->last_kafka_commit = rt_now();
	while (!atomic_load(&rt->stop)) {
		int n = souk_kafka_consumer_poll(t->consumer, msgs, (size_t)rt->batch_max,
						 rt->poll_ms, errstr, sizeof(errstr));
		double now;

		if (n == SOUK_KAFKA_FATAL) {
			SOUK_LOG_ERROR("consumer_fatal", "thread=%d error=%s", t->index,
				       errstr);
			t->failed = true;
			break;
		}
		if (n == SOUK_KAFKA_ERROR)
			SOUK_LOG_WARN("consumer_error", "thread=%d error=%s", t->index,
				      errstr);
		if (n > 0) {
			rt_process(t, msgs, n);
			for (int i = 0; i < n; i++)
				rd_kafka_message_destroy(msgs[i]);
		}
		now = rt_now();
		if (rt->pool->tick && (now - t->last_tick) * 1000 >= rt->pool->tick_ms) {
			rt_tick(t);
			t->last_tick = now;
		}
		if (t->uncommitted &&
		    (now - t->last_kafka_commit) * 1000 >= rt->commit_ms) {
			/* PostgreSQL holds the truth; this is for Kafka's own lag tools.
			 */
			if (souk_kafka_consumer_commit(t->consumer, NULL, errstr,
						       sizeof(errstr)))
				SOUK_LOG_DEBUG("kafka_commit_failed", "error=%s", errstr);
			t->uncommitted = false;
			t->last_kafka_commit = now;
		}
	}
out:
	rt_thread_close(t);
	free(msgs);
	return NULL;
}

/* ---- the runtime --------------------------------------------------------------- */

static int
rt_collect_prop(const char *name, const char *value, void *opaque)
{
	struct souk_runtime *rt = opaque;

	if (rt->nprops == RT_MAX_PROPS)
		return -1;
	rt->props[rt->nprops++] = (struct souk_kafka_prop){name, value};
	return 0;
}

static int
rt_metrics_new(struct souk_runtime *rt, char *errstr, size_t errstr_size)
{
	static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					0.1,   0.25,   0.5,   1,    2.5,   5};
	struct souk_metrics *m = rt->metrics;
	const char *pool = rt->pool->name;
	struct souk_metrics_family *events, *batches, *seconds, *phases;

	events = souk_metrics_register_counter(
	    m, "souk_worker_events_total", "Events by outcome: consumed, applied, dlq.",
	    (const char *const[]){"pool", "outcome", NULL}, errstr, errstr_size);
	batches = souk_metrics_register_counter(
	    m, "souk_worker_batches_total",
	    "Batch attempts: committed, retried, fenced (a zombie's), isolated.",
	    (const char *const[]){"pool", "result", NULL}, errstr, errstr_size);
	seconds = souk_metrics_register_histogram(
	    m, "souk_worker_batch_seconds", "Time from a batch polled to its commit.",
	    (const char *const[]){"pool", NULL}, bounds, sizeof(bounds) / sizeof(*bounds),
	    errstr, errstr_size);
	phases = souk_metrics_register_histogram(
	    m, "souk_worker_phase_seconds",
	    "A committed batch's time by phase: apply (the pool), outbox, offsets, "
	    "commit.",
	    (const char *const[]){"pool", "phase", NULL}, bounds,
	    sizeof(bounds) / sizeof(*bounds), errstr, errstr_size);
	rt->lag_family = souk_metrics_register_gauge(
	    m, "souk_worker_lag",
	    "Messages behind the high watermark, per owned partition.",
	    (const char *const[]){"topic", "partition", NULL}, errstr, errstr_size);
	if (!events || !batches || !seconds || !phases || !rt->lag_family)
		return -1;
	rt->phase_apply =
	    souk_metrics_series(phases, (const char *const[]){pool, "apply"});
	rt->phase_outbox =
	    souk_metrics_series(phases, (const char *const[]){pool, "outbox"});
	rt->phase_offsets =
	    souk_metrics_series(phases, (const char *const[]){pool, "offsets"});
	rt->phase_commit =
	    souk_metrics_series(phases, (const char *const[]){pool, "commit"});
	rt->consumed =
	    souk_metrics_series(events, (const char *const[]){pool, "consumed"});
	rt->applied = souk_metrics_series(events, (const char *const[]){pool, "applied"});
	rt->dlq = souk_metrics_series(events, (const char *const[]){pool, "dlq"});
	rt->committed =
	    souk_metrics_series(batches, (const char *const[]){pool, "committed"});
	rt->retried =
	    souk_metrics_series(batches, (const char *const[]){pool, "retried"});
	rt->fenced = souk_metrics_series(batches, (const char *const[]){pool, "fenced"});
	rt->isolated =
	    souk_metrics_series(batches, (const char *const[]){pool, "isolated"});
	rt->batch_seconds = souk_metrics_series(seconds, (const char *const[]){pool});
	return 0;
}

struct souk_runtime *
souk_runtime_new(const struct souk_pool *pool, const struct souk_config *config,
		 const char *group, char *errstr, size_t errstr_size)
{
	struct souk_runtime *rt = calloc(1, sizeof(*rt));
	struct souk_outbox_relay_conf relay;

	if (!rt) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	rt->pool = pool;
	rt->config = config;
	rt->group = strdup(group ? group : pool->default_group);
	rt->nthreads = (int)souk_config_get_int(config, "worker.threads");
	rt->batch_max = (int)souk_config_get_int(config, "worker.batch_max");
	rt->poll_ms = (int)souk_config_get_duration_ms(config, "worker.poll_timeout");
	rt->commit_ms = souk_config_get_duration_ms(config, "worker.commit_interval");
	rt->backoff_max_ms =
	    souk_config_get_duration_ms(config, "worker.retry_backoff_max");
	rt->metrics = souk_metrics_new();
	if (!rt->group || !rt->metrics) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	if (souk_config_foreach_prefix(config, "kafka.", rt_collect_prop, rt)) {
		snprintf(errstr, errstr_size, "more than %d kafka.* keys", RT_MAX_PROPS);
		goto fail;
	}
	if (rt_metrics_new(rt, errstr, errstr_size))
		goto fail;
	rt->http = souk_http_new(souk_config_get_string(config, "http.listen"),
				 rt->metrics, errstr, errstr_size);
	if (!rt->http)
		goto fail;
	relay = (struct souk_outbox_relay_conf){
	    .dsn = souk_config_get_string(config, "pg.dsn"),
	    .brokers = souk_config_get_string(config, "kafka.brokers"),
	    .props = rt->relay_props,
	    .nprops = 0,
	    .retention_ms =
		souk_config_get_duration_ms(config, "worker.outbox_retention"),
	    .metrics = rt->metrics,
	};
	if (pool->relay_linger_ms > 0) {
		snprintf(rt->relay_linger, sizeof(rt->relay_linger), "%d",
			 pool->relay_linger_ms);
		rt->relay_props[relay.nprops++] =
		    (struct souk_kafka_prop){"linger.ms", rt->relay_linger};
	}
	for (size_t i = 0; i < rt->nprops; i++)
		rt->relay_props[relay.nprops++] = rt->props[i];
	rt->relay = souk_outbox_relay_new(&relay, errstr, errstr_size);
	if (!rt->relay)
		goto fail;
	rt->threads = calloc((size_t)rt->nthreads, sizeof(*rt->threads));
	if (!rt->threads) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	for (int i = 0; i < rt->nthreads; i++) {
		rt->threads[i].rt = rt;
		rt->threads[i].index = i;
		if (pthread_create(&rt->threads[i].thread, NULL, rt_thread_main,
				   &rt->threads[i])) {
			snprintf(errstr, errstr_size, "could not start worker thread %d",
				 i);
			rt->nthreads = i;
			souk_runtime_stop(rt);
			return NULL;
		}
	}
	SOUK_LOG_INFO("worker_started", "pool=%s group=%s threads=%d http_port=%u",
		      pool->name, rt->group, rt->nthreads, souk_http_port(rt->http));
	return rt;
fail:
	souk_outbox_relay_destroy(rt->relay, 0);
	souk_http_destroy(rt->http);
	souk_metrics_destroy(rt->metrics);
	free(rt->group);
	free(rt);
	return NULL;
}

unsigned
souk_runtime_http_port(const struct souk_runtime *rt)
{
	return souk_http_port(rt->http);
}

int
souk_runtime_stop(struct souk_runtime *rt)
{
	int failed = 0;

	if (!rt)
		return 0;
	atomic_store(&rt->stop, true);
	for (int i = 0; i < rt->nthreads; i++) {
		pthread_join(rt->threads[i].thread, NULL);
		failed += rt->threads[i].failed;
	}
	souk_outbox_relay_destroy(rt->relay, (int)souk_config_get_duration_ms(
						 rt->config, "worker.drain_timeout"));
	souk_http_destroy(rt->http);
	souk_metrics_destroy(rt->metrics);
	free(rt->threads);
	free(rt->group);
	free(rt);
	return failed;
}
