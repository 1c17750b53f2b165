/*
 * mat_feed: see mat_feed.h.
 */
#include "mat_feed.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <librdkafka/rdkafka.h>

#include "souk_event.h"
#include "souk_log.h"
#include "souk_pg.h"

#define MAT_FEED_BATCH 512	  /* messages taken from Kafka and applied per lock */
#define MAT_FEED_TIMEOUT_MS 10000 /* one metadata or offsets request */
#define MAT_FEED_PG_CONNECT_MS 5000

typedef char mat_feed_id[SOUK_EVENT_IDENT_SIZE];

/* A sorted set of driver ids (the overlay's claims), or a plain list (pending). */
struct mat_feed_ids {
	mat_feed_id *v;
	size_t n, cap;
};

struct mat_feed {
	int refs; /* under mat_feed_mu */
	char *brokers, *pg_dsn;
	struct souk_kafka_prop *props;
	size_t nprops;
	struct mat_feed_conf conf;

	pthread_rwlock_t lock; /* over idx, overlay, pending */
	mat_index_t *idx;
	struct mat_feed_ids overlay; /* sorted: the drivers the index has claimed */
	struct mat_feed_ids pending; /* claims of batches still open (a multiset) */

	rd_kafka_t *rk;
	struct souk_pg *pg;
	pthread_t thread;
	bool started;
	atomic_bool stop;

	/* Readiness: the thread sets ready (or failed, with err) under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool ready, failed;
	char err[256];
	int64_t *target; /* per partition: the high watermark when the thread started */
	int32_t nparts;

	atomic_llong applied, older, invalid, refreshes;
};

static pthread_mutex_t mat_feed_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mat_feed *mat_feed_the; /* the process's feed, under mat_feed_mu */

static int64_t
mat_feed_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- id sets ---------------------------------------------------------------------- */

static int
mat_feed_ids_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Appends id (unsorted). Returns 0, or -1 when out of memory. */
static int
mat_feed_ids_push(struct mat_feed_ids *s, const char *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		mat_feed_id *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v, s->cap = cap;
	}
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", id);
	return 0;
}

/* Removes one copy of id, if any (order not kept). */
static void
mat_feed_ids_drop(struct mat_feed_ids *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], id)) {
			memcpy(s->v[i], s->v[--s->n], sizeof(s->v[0]));
			return;
		}
}

static bool
mat_feed_ids_has(const struct mat_feed_ids *sorted, const char *id)
{
	return sorted->n &&
	       bsearch(id, sorted->v, sorted->n, sizeof(sorted->v[0]), mat_feed_ids_cmp);
}

static void
mat_feed_ids_sort(struct mat_feed_ids *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(s->v[0]), mat_feed_ids_cmp);
}

/* ---- claims ----------------------------------------------------------------------- */

/* Claims id in the index and the overlay (write lock held). */
static int
mat_feed_mark(struct mat_feed *f, const char *id, char *errstr, size_t errstr_size)
{
	if (mat_index_claimed(f->idx, id))
		return 0;
	if (mat_index_claim(f->idx, id, errstr, errstr_size))
		return -1;
	if (mat_feed_ids_push(&f->overlay, id)) {
		mat_index_release(f->idx, id);
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	mat_feed_ids_sort(&f->overlay);
	return 0;
}

/* Clears id's claim unless a batch still open holds it (write lock held). */
static void
mat_feed_unmark(struct mat_feed *f, const char *id)
{
	for (size_t i = 0; i < f->pending.n; i++)
		if (!strcmp(f->pending.v[i], id))
			return;
	mat_index_release(f->idx, id);
	mat_feed_ids_drop(&f->overlay, id);
	mat_feed_ids_sort(&f->overlay);
}

int
mat_feed_claim(struct mat_feed *f, const char *driver_id, char *errstr,
	       size_t errstr_size)
{
	int rc;

	pthread_rwlock_wrlock(&f->lock);
	rc = mat_feed_ids_push(&f->pending, driver_id);
	if (rc)
		snprintf(errstr, errstr_size, "out of memory");
	else if ((rc = mat_feed_mark(f, driver_id, errstr, errstr_size)))
		mat_feed_ids_drop(&f->pending, driver_id);
	pthread_rwlock_unlock(&f->lock);
	return rc;
}

void
mat_feed_settle(struct mat_feed *f, const char *const *ids, size_t n,
		const char *const *rel, size_t nrel, int committed)
{
	pthread_rwlock_wrlock(&f->lock);
	for (size_t i = 0; i < n; i++)
		mat_feed_ids_drop(&f->pending, ids[i]);
	for (size_t i = 0; i < n && !committed; i++)
		mat_feed_unmark(f, ids[i]);
	for (size_t i = 0; i < nrel && committed; i++)
		mat_feed_unmark(f, rel[i]);
	pthread_rwlock_unlock(&f->lock);
}

/* Makes the overlay equal to driver_claims plus the pending claims: one query, then
 * O(claims log claims) under the write lock. */
static int
mat_feed_refresh(struct mat_feed *f, char *errstr, size_t errstr_size)
{
	struct mat_feed_ids want = {0}, drop = {0};
	PGresult *res = NULL;
	int rc = -1;

	if (souk_pg_exec(f->pg, "SELECT driver_id FROM driver_claims", &res, errstr,
			 errstr_size))
		goto out;
	for (int i = 0; i < PQntuples(res); i++)
		if (mat_feed_ids_push(&want, PQgetvalue(res, i, 0)))
			goto oom;
	mat_feed_ids_sort(&want);
	pthread_rwlock_wrlock(&f->lock);
	for (size_t i = 0; i < f->overlay.n; i++)
		if (!mat_feed_ids_has(&want, f->overlay.v[i]) &&
		    mat_feed_ids_push(&drop, f->overlay.v[i])) {
			pthread_rwlock_unlock(&f->lock);
			goto oom;
		}
	for (size_t i = 0; i < drop.n; i++)
		mat_feed_unmark(f, drop.v[i]);
	rc = 0;
	for (size_t i = 0; i < want.n && rc == 0; i++)
		rc = mat_feed_mark(f, want.v[i], errstr, errstr_size);
	pthread_rwlock_unlock(&f->lock);
	atomic_fetch_add(&f->refreshes, 1);
	goto out;
oom:
	snprintf(errstr, errstr_size, "out of memory");
out:
	PQclear(res);
	free(want.v);
	free(drop.v);
	return rc;
}

/* ---- feeding ---------------------------------------------------------------------- */

/* Assigns every partition of the topic at the first offset not older than the stale
 * window, and records the high watermarks the index must reach to be ready. */
static int
mat_feed_assign(struct mat_feed *f, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	int64_t since = mat_feed_now_ms() - f->conf.stale_ms;
	rd_kafka_resp_err_t err;
	int n, rc = -1;

	if ((n = souk_kafka_partition_count(f->rk, MAT_FEED_TOPIC, MAT_FEED_TIMEOUT_MS,
					    errstr, errstr_size)) < 0)
		return -1;
	if (n > MAT_INDEX_PARTITIONS_MAX) {
		snprintf(errstr, errstr_size, "%s has %d partitions, at most %d are read",
			 MAT_FEED_TOPIC, n, MAT_INDEX_PARTITIONS_MAX);
		return -1;
	}
	if (!(f->target = calloc((size_t)n, sizeof(*f->target))) ||
	    !(list = rd_kafka_topic_partition_list_new(n))) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	f->nparts = n;
	for (int32_t p = 0; p < n; p++) {
		int64_t low;

		if (souk_kafka_watermarks(f->rk, MAT_FEED_TOPIC, p, &low, &f->target[p],
					  MAT_FEED_TIMEOUT_MS, errstr, errstr_size))
			goto out;
		rd_kafka_topic_partition_list_add(list, MAT_FEED_TOPIC, p)->offset =
		    since;
	}
	err = rd_kafka_offsets_for_times(f->rk, list, MAT_FEED_TIMEOUT_MS);
	if (err) {
		snprintf(errstr, errstr_size,
			 "could not find the offsets of %s at %lld: %s", MAT_FEED_TOPIC,
			 (long long)since, rd_kafka_err2str(err));
		goto out;
	}
	/* Nothing that recent: from the high watermark read above, an offset and not
	 * OFFSET_END, which librdkafka resolves later and would skip what is written
	 * in between. A partition with nothing to read has nothing to wait for. */
	for (int i = 0; i < list->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &list->elems[i];

		if (tp->offset < 0 || tp->offset > f->target[tp->partition])
			tp->offset = f->target[tp->partition];
		if (tp->offset == f->target[tp->partition])
			f->target[tp->partition] = 0;
	}
	if ((err = rd_kafka_assign(f->rk, list))) {
		snprintf(errstr, errstr_size, "could not assign %s: %s", MAT_FEED_TOPIC,
			 rd_kafka_err2str(err));
		goto out;
	}
	rc = 0;
out:
	if (list)
		rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

int
mat_feed_decode(const rd_kafka_message_t *m, souk_event_t *ev, mat_index_update_t *u)
{
	souk_event_error_t err;
	int64_t ts_ms;

	if (souk_event_decode(m->payload, m->len, ev, &err) != SOUK_EVENT_OK ||
	    ev->type != SOUK_EVENT_TYPE_LOCATION || souk_event_ts_ms(ev->ts, &ts_ms))
		return -1;
	*u = (mat_index_update_t){
	    .driver_id = ev->location.driver_id,
	    .pos = {ev->location.lat, ev->location.lng},
	    .speed_mps = ev->location.speed_mps,
	    .status = ev->location.status == SOUK_EVENT_DRIVER_AVAILABLE
			  ? MAT_INDEX_AVAILABLE
		      : ev->location.status == SOUK_EVENT_DRIVER_BUSY ? MAT_INDEX_BUSY
								      : MAT_INDEX_OFFLINE,
	    .ts_ms = ts_ms,
	    .partition = m->partition,
	    .offset = m->offset,
	};
	return 0;
}

/* Applies msgs[0..n) under one write lock. */
static void
mat_feed_apply(struct mat_feed *f, rd_kafka_message_t **msgs, size_t n)
{
	pthread_rwlock_wrlock(&f->lock);
	for (size_t i = 0; i < n; i++) {
		rd_kafka_message_t *m = msgs[i];
		souk_event_t ev;
		mat_index_update_t u;
		char why[256];

		if (m->err)
			continue;
		if (mat_feed_decode(m, &ev, &u)) {
			atomic_fetch_add(&f->invalid, 1);
			continue;
		}
		switch (mat_index_apply(f->idx, &u, why, sizeof(why))) {
		case MAT_INDEX_APPLIED:
			atomic_fetch_add(&f->applied, 1);
			break;
		case MAT_INDEX_OLDER:
			atomic_fetch_add(&f->older, 1);
			break;
		case MAT_INDEX_ERROR:
			atomic_fetch_add(&f->invalid, 1);
			break;
		}
	}
	pthread_rwlock_unlock(&f->lock);
}

/* Whether the index has reached every partition's target (under the read lock). */
static bool
mat_feed_caught_up(struct mat_feed *f)
{
	const int64_t *next;
	size_t n;
	bool ok = true;

	pthread_rwlock_rdlock(&f->lock);
	next = mat_index_offsets(f->idx, &n);
	for (int32_t p = 0; p < f->nparts && ok; p++)
		ok = f->target[p] == 0 || ((size_t)p < n && next[p] >= f->target[p]);
	pthread_rwlock_unlock(&f->lock);
	return ok;
}

static void
mat_feed_set_ready(struct mat_feed *f, const char *failure)
{
	pthread_mutex_lock(&f->mu);
	if (failure) {
		f->failed = true;
		snprintf(f->err, sizeof(f->err), "%s", failure);
	} else {
		f->ready = true;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
}

static void *
mat_feed_main(void *arg)
{
	struct mat_feed *f = arg;
	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(f->rk);
	rd_kafka_message_t *msgs[MAT_FEED_BATCH];
	int64_t last_refresh = 0;
	char errstr[256];
	bool ready = false;

	if (!q || mat_feed_assign(f, errstr, sizeof(errstr))) {
		mat_feed_set_ready(f, q ? errstr : "no consumer queue");
		goto out;
	}
	while (!atomic_load(&f->stop)) {
		ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, MAT_FEED_BATCH);
		int64_t now = mat_feed_now_ms();

		if (n > 0) {
			mat_feed_apply(f, msgs, (size_t)n);
			for (ssize_t i = 0; i < n; i++)
				rd_kafka_message_destroy(msgs[i]);
		}
		if (now - last_refresh >= f->conf.claims_refresh_ms) {
			if (mat_feed_refresh(f, errstr, sizeof(errstr)))
				SOUK_LOG_WARN("matching_claims_refresh_failed",
					      "error=\"%s\"", errstr);
			else
				last_refresh = now;
		}
		if (!ready && mat_feed_caught_up(f) && last_refresh) {
			ready = true;
			mat_feed_set_ready(f, NULL);
			SOUK_LOG_INFO("matching_index_ready", "drivers_applied=%lld",
				      (long long)atomic_load(&f->applied));
		}
	}
out:
	if (q)
		rd_kafka_queue_destroy(q);
	return NULL;
}

/* ---- life ------------------------------------------------------------------------- */

static void
mat_feed_free(struct mat_feed *f)
{
	if (f->started) {
		atomic_store(&f->stop, true);
		pthread_join(f->thread, NULL);
	}
	if (f->rk) {
		rd_kafka_consumer_close(f->rk);
		rd_kafka_destroy(f->rk);
	}
	souk_pg_destroy(f->pg);
	mat_index_destroy(f->idx);
	for (size_t i = 0; i < f->nprops; i++) {
		free((char *)f->props[i].name);
		free((char *)f->props[i].value);
	}
	free(f->props);
	free(f->brokers);
	free(f->pg_dsn);
	free(f->overlay.v);
	free(f->pending.v);
	free(f->target);
	pthread_rwlock_destroy(&f->lock);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cond);
	free(f);
}

static int
mat_feed_kafka(struct mat_feed *f, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct {
		const char *name, *value;
	} fixed[] = {
	    {"bootstrap.servers", f->brokers},
	    /* librdkafka's consumer wants one; the handle only assigns, never joins
	     * nor commits */
	    {"group.id", "souk-matching-feed"},
	    {"enable.auto.commit", "false"},
	    {"enable.partition.eof", "false"},
	};
	char err[512];

	/* Prefetch deep: an index reads every update of the city, and with librdkafka's
	 * default (100,000 messages queued) the thread waits on fetches; a kafka.* key
	 * may still set it. */
	rd_kafka_conf_set(conf, "queued.min.messages", "1000000", NULL, 0);
	for (size_t i = 0; i < f->nprops; i++)
		if (rd_kafka_conf_set(conf, f->props[i].name, f->props[i].value, err,
				      sizeof(err)) != RD_KAFKA_CONF_OK)
			SOUK_LOG_WARN("matching_feed_conf", "error=\"%s\"", err);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (rd_kafka_conf_set(conf, fixed[i].name, fixed[i].value, err,
				      sizeof(err)) != RD_KAFKA_CONF_OK) {
			snprintf(errstr, errstr_size, "%s", err);
			rd_kafka_conf_destroy(conf);
			return -1;
		}
	if (!(f->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
		snprintf(errstr, errstr_size,
			 "could not create the locations consumer: %s", err);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rd_kafka_poll_set_consumer(f->rk);
	return 0;
}

/* A new feed, its thread started and the index ready; NULL with errstr. */
static struct mat_feed *
mat_feed_new(const struct mat_feed_conf *conf, char *errstr, size_t errstr_size)
{
	struct mat_feed *f = calloc(1, sizeof(*f));
	struct timespec deadline;

	if (!f) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	pthread_rwlock_init(&f->lock, NULL);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->conf = *conf;
	f->brokers = strdup(conf->brokers);
	f->pg_dsn = strdup(conf->pg_dsn);
	f->props = calloc(conf->nprops + 1, sizeof(*f->props));
	if (!f->brokers || !f->pg_dsn || !f->props)
		goto oom;
	for (; f->nprops < conf->nprops; f->nprops++) {
		struct souk_kafka_prop *p = &f->props[f->nprops];

		p->name = strdup(conf->props[f->nprops].name);
		p->value = strdup(conf->props[f->nprops].value);
		if (!p->name || !p->value) {
			f->nprops++;
			goto oom;
		}
	}
	if (!(f->idx = mat_index_new(conf->res, conf->stale_ms, errstr, errstr_size)))
		goto fail;
	if (!(f->pg = souk_pg_connect(f->pg_dsn, MAT_FEED_PG_CONNECT_MS, errstr,
				      errstr_size)) ||
	    mat_feed_kafka(f, errstr, errstr_size))
		goto fail;
	if (pthread_create(&f->thread, NULL, mat_feed_main, f)) {
		snprintf(errstr, errstr_size, "could not start the locations thread");
		goto fail;
	}
	f->started = true;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += conf->ready_timeout_ms / 1000;
	pthread_mutex_lock(&f->mu);
	while (!f->ready && !f->failed &&
	       pthread_cond_timedwait(&f->cond, &f->mu, &deadline) == 0)
		;
	if (!f->ready)
		snprintf(errstr, errstr_size, "the driver index is not ready: %s",
			 f->failed ? f->err : "timed out reading locations");
	pthread_mutex_unlock(&f->mu);
	if (!f->ready)
		goto fail;
	return f;
oom:
	snprintf(errstr, errstr_size, "out of memory");
fail:
	mat_feed_free(f);
	return NULL;
}

struct mat_feed *
mat_feed_acquire(const struct mat_feed_conf *conf, char *errstr, size_t errstr_size)
{
	struct mat_feed *f;

	pthread_mutex_lock(&mat_feed_mu);
	if (!mat_feed_the)
		mat_feed_the = mat_feed_new(conf, errstr, errstr_size);
	if ((f = mat_feed_the))
		f->refs++;
	pthread_mutex_unlock(&mat_feed_mu);
	return f;
}

void
mat_feed_release(struct mat_feed *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&mat_feed_mu);
	if (--f->refs == 0) {
		mat_feed_the = NULL;
		mat_feed_free(f);
	}
	pthread_mutex_unlock(&mat_feed_mu);
}

const mat_index_t *
mat_feed_read(struct mat_feed *f)
{
	pthread_rwlock_rdlock(&f->lock);
	return f->idx;
}

void
mat_feed_unlock(struct mat_feed *f)
{
	pthread_rwlock_unlock(&f->lock);
}

void
mat_feed_offsets(struct mat_feed *f, int64_t *offsets, size_t cap, size_t *n)
{
	const int64_t *next;
	size_t have;

	pthread_rwlock_rdlock(&f->lock);
	next = mat_index_offsets(f->idx, &have);
	*n = have < cap ? have : cap;
	memcpy(offsets, next, *n * sizeof(*offsets));
	pthread_rwlock_unlock(&f->lock);
}

void
mat_feed_stats(struct mat_feed *f, struct mat_feed_stats *out)
{
	out->applied = atomic_load(&f->applied);
	out->older = atomic_load(&f->older);
	out->invalid = atomic_load(&f->invalid);
	out->claims_refreshes = atomic_load(&f->refreshes);
}
