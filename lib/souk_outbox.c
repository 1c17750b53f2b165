#include "souk_outbox.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "souk_json.h"
#include "souk_log.h"
#include "souk_pgarray.h"
#include "souk_pgcopy.h"

#define SOUK_OUTBOX_RELAY_ROWS 2000   /* rows per round per partition */
#define SOUK_OUTBOX_RELAY_IDLE_MS 200 /* poll interval without a kick */
#define SOUK_OUTBOX_PURGE_EVERY_S 30
#define SOUK_OUTBOX_MAX_OWNED 4096

/* ---- the batch --------------------------------------------------------------- */

static char *
souk_outbox_dup(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static void
souk_outbox_row_free(struct souk_outbox_row *row)
{
	free(row->source_topic);
	free(row->topic);
	free(row->key);
	free(row->value);
	free(row->headers);
}

int
souk_outbox_batch_add(struct souk_outbox_batch *b, const char *result_id,
		      const char *source_topic, int32_t source_partition,
		      int64_t source_offset, const char *source_event_id,
		      const char *topic, const char *key, size_t key_len,
		      const char *value, size_t len, const char *headers)
{
	struct souk_outbox_row *row;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct souk_outbox_row *grown = realloc(b->rows, cap * sizeof(*grown));

		if (!grown)
			return -1;
		b->rows = grown;
		b->cap = cap;
	}
	row = &b->rows[b->n];
	memset(row, 0, sizeof(*row));
	snprintf(row->result_id, sizeof(row->result_id), "%s", result_id);
	snprintf(row->source_event_id, sizeof(row->source_event_id), "%s",
		 source_event_id ? source_event_id : "");
	row->source_partition = source_partition;
	row->source_offset = source_offset;
	row->source_topic = strdup(source_topic);
	row->topic = strdup(topic);
	row->key = key ? souk_outbox_dup(key, key_len) : NULL;
	row->key_len = key_len;
	row->value = souk_outbox_dup(value, len);
	row->len = len;
	row->headers = headers ? strdup(headers) : NULL;
	if (!row->source_topic || !row->topic || (key && !row->key) || !row->value ||
	    (headers && !row->headers)) {
		souk_outbox_row_free(row);
		return -1;
	}
	b->n++;
	return 0;
}

void
souk_outbox_batch_truncate(struct souk_outbox_batch *b, size_t n)
{
	while (b->n > n)
		souk_outbox_row_free(&b->rows[--b->n]);
}

void
souk_outbox_batch_free(struct souk_outbox_batch *b)
{
	souk_outbox_batch_truncate(b, 0);
	free(b->rows);
	memset(b, 0, sizeof(*b));
}

/* ---- writing ----------------------------------------------------------------- */

static const char souk_outbox_copy_sql[] =
    "COPY outbox (result_id, source_topic, source_partition, source_offset, "
    "source_event_id, topic, key, value, headers) FROM STDIN (FORMAT binary)";

static const char souk_outbox_select_sql[] =
    "SELECT id, result_id, topic, key, value, headers, source_event_id, source_offset "
    "FROM outbox WHERE source_topic = $1 AND source_partition = $2 AND id > "
    "coalesce((SELECT published_id FROM outbox_relay WHERE source_topic = $1 "
    "AND source_partition = $2), 0) ORDER BY id LIMIT $3";

static const char souk_outbox_mark_sql[] =
    "INSERT INTO outbox_relay (source_topic, source_partition, published_id) "
    "VALUES ($1, $2, $3) ON CONFLICT (source_topic, source_partition) DO UPDATE "
    "SET published_id = GREATEST(outbox_relay.published_id, EXCLUDED.published_id), "
    "updated_at = now()";

static const char souk_outbox_purge_sql[] =
    "DELETE FROM outbox WHERE id IN (SELECT o.id FROM outbox o JOIN outbox_relay r "
    "USING (source_topic, source_partition) WHERE o.id <= r.published_id "
    "AND o.created_at < now() - $1::bigint * interval '1 millisecond' LIMIT 10000)";

int
souk_outbox_insert(struct souk_pg *pg, const struct souk_outbox_batch *b, char *errstr,
		   size_t errstr_size)
{
	struct souk_pgcopy copy;
	int rc = -1;

	if (b->n == 0)
		return 0;
	souk_pgcopy_init(&copy);
	for (size_t i = 0; i < b->n; i++) {
		const struct souk_outbox_row *row = &b->rows[i];

		souk_pgcopy_row(&copy, 9);
		souk_pgcopy_uuid(&copy, row->result_id);
		souk_pgcopy_str(&copy, row->source_topic);
		souk_pgcopy_int4(&copy, row->source_partition);
		souk_pgcopy_int8(&copy, row->source_offset);
		souk_pgcopy_uuid(&copy, row->source_event_id);
		souk_pgcopy_str(&copy, row->topic);
		if (row->key)
			souk_pgcopy_bytes(&copy, row->key, row->key_len);
		else
			souk_pgcopy_null(&copy);
		souk_pgcopy_bytes(&copy, row->value, row->len);
		souk_pgcopy_jsonb(&copy, row->headers ? row->headers : "{}");
	}
	if (souk_pgcopy_finish(&copy, errstr, errstr_size) == 0)
		rc = souk_pg_copy_in(pg, souk_outbox_copy_sql, copy.buf, copy.len, errstr,
				     errstr_size);
	souk_pgcopy_free(&copy);
	return rc;
}

/* ---- the relay --------------------------------------------------------------- */

struct souk_outbox_owned {
	char *topic;
	int32_t partition;
	int owners; /* threads of this process holding it (one, but for a moment two) */
};

struct souk_outbox_relay {
	struct souk_outbox_relay_conf conf;
	char *dsn;
	struct souk_pg *pg;
	struct souk_kafka_producer *producer;
	pthread_t thread;
	pthread_mutex_t lock; /* guards owned, kicked, stopping */
	pthread_cond_t cond;
	struct souk_outbox_owned owned[SOUK_OUTBOX_MAX_OWNED];
	size_t nowned;
	bool kicked, stopping;
	int drain_ms;
	/* Delivery reports of the round in flight (relay thread only). */
	size_t reports, failures;
	bool *delivered;
	struct souk_metrics_series *published, *failed;
};

static void
souk_outbox_on_delivery(void *opaque, void *msg_opaque, const char *topic,
			int32_t partition, int64_t offset, rd_kafka_resp_err_t err,
			const char *errstr)
{
	struct souk_outbox_relay *r = opaque;
	size_t i = (size_t)(uintptr_t)msg_opaque;

	(void)partition;
	(void)offset;
	r->reports++;
	if (err) {
		r->failures++;
		SOUK_LOG_WARN("outbox_publish_failed", "topic=%s error=%s", topic,
			      errstr);
		return;
	}
	r->delivered[i] = true;
}

/* The row's extra headers (a JSON object of strings) appended to h from index n. */
static size_t
souk_outbox_extra_headers(const char *json, souk_json_t **doc,
			  struct souk_kafka_header *h, size_t n, size_t max)
{
	static const souk_json_limits_t limits = {65536, 2, 64};
	souk_json_error_t err;
	const souk_json_value_t *root;

	*doc = souk_json_parse(json, strlen(json), &limits, &err);
	if (!*doc)
		return n;
	root = souk_json_root(*doc);
	for (size_t i = 0; i < souk_json_object_size(root) && n < max; i++) {
		size_t len;
		const char *v = souk_json_string(souk_json_object_value(root, i), &len);

		if (!v)
			continue;
		h[n++] = (struct souk_kafka_header){souk_json_object_key(root, i, NULL),
						    v, len};
	}
	return n;
}

/* Publishes up to one round of rows of topic/partition after its cursor and moves the
 * cursor. Returns the rows published, or -1 on error. */
static long
souk_outbox_relay_round(struct souk_outbox_relay *r, const char *topic, int32_t partition)
{
	char part[16], limit[16], errstr[512];
	const char *params[3] = {topic, part, limit};
	PGresult *res = NULL;
	long n, marked = 0;
	int rc;

	snprintf(part, sizeof(part), "%" PRId32, partition);
	snprintf(limit, sizeof(limit), "%d", SOUK_OUTBOX_RELAY_ROWS);
	if (souk_pg_exec_prepared(r->pg, "souk_outbox_select", 3, params, &res, errstr,
				  sizeof(errstr))) {
		SOUK_LOG_WARN("outbox_read_failed", "error=%s", errstr);
		return -1;
	}
	n = PQntuples(res);
	if (n == 0)
		goto out;
	r->reports = r->failures = 0;
	r->delivered = calloc((size_t)n, sizeof(*r->delivered));
	if (!r->delivered) {
		marked = -1;
		goto out;
	}
	for (long i = 0; i < n; i++) {
		struct souk_kafka_header h[16];
		char source[300];
		size_t nh = 0, key_len = 0, len = 0;
		char *key = NULL, *value;
		souk_json_t *extra = NULL;

		value = souk_pgarray_unhex(PQgetvalue(res, (int)i, 4), &len);
		if (!PQgetisnull(res, (int)i, 3))
			key = souk_pgarray_unhex(PQgetvalue(res, (int)i, 3), &key_len);
		snprintf(source, sizeof(source), "%s/%" PRId32 "/%s", topic, partition,
			 PQgetvalue(res, (int)i, 7));
		h[nh++] = (struct souk_kafka_header){"souk-result-id",
						     PQgetvalue(res, (int)i, 1),
						     strlen(PQgetvalue(res, (int)i, 1))};
		h[nh++] =
		    (struct souk_kafka_header){"souk-source", source, strlen(source)};
		if (!PQgetisnull(res, (int)i, 6))
			h[nh++] = (struct souk_kafka_header){
			    "souk-source-event-id", PQgetvalue(res, (int)i, 6),
			    strlen(PQgetvalue(res, (int)i, 6))};
		nh = souk_outbox_extra_headers(PQgetvalue(res, (int)i, 5), &extra, h, nh,
					       16);
		if (!value) {
			r->reports++;
			r->failures++;
			SOUK_LOG_ERROR("outbox_bad_row", "id=%s",
				       PQgetvalue(res, (int)i, 0));
		} else {
			while ((rc = souk_kafka_produce(
				    r->producer, PQgetvalue(res, (int)i, 2), key, key_len,
				    value, len, h, nh, (void *)(uintptr_t)i, errstr,
				    sizeof(errstr))) == SOUK_KAFKA_QUEUE_FULL)
				souk_kafka_poll(r->producer, 10);
			if (rc) {
				r->reports++;
				r->failures++;
				SOUK_LOG_WARN("outbox_produce_failed", "error=%s",
					      errstr);
			}
		}
		souk_json_destroy(extra);
		free(key);
		free(value);
	}
	/* Every report comes within message.timeout.ms. */
	while (r->reports < (size_t)n)
		souk_kafka_poll(r->producer, 100);
	/* The cursor moves over the acknowledged prefix: a row after a failed one is
	 * published again next round (same result id), so their order holds. */
	while (marked < n && r->delivered[marked])
		marked++;
	if (marked) {
		const char *v[3] = {topic, part, PQgetvalue(res, (int)marked - 1, 0)};

		if (souk_pg_exec_prepared(r->pg, "souk_outbox_mark", 3, v, NULL, errstr,
					  sizeof(errstr))) {
			/* Published but not marked: published again next round, same ids.
			 */
			SOUK_LOG_WARN("outbox_mark_failed", "error=%s", errstr);
			marked = -1;
			goto out;
		}
		souk_metrics_counter_add(r->published, (uint64_t)marked);
	}
	if (r->failures)
		souk_metrics_counter_add(r->failed, r->failures);
out:
	free(r->delivered);
	r->delivered = NULL;
	PQclear(res);
	return marked;
}

static void
souk_outbox_purge(struct souk_outbox_relay *r)
{
	char ms[24], errstr[512];
	const char *v = ms;
	PGresult *res = NULL;
	long deleted;

	snprintf(ms, sizeof(ms), "%lld", r->conf.retention_ms);
	do {
		if (souk_pg_exec_prepared(r->pg, "souk_outbox_purge", 1, &v, &res, errstr,
					  sizeof(errstr))) {
			SOUK_LOG_WARN("outbox_purge_failed", "error=%s", errstr);
			return;
		}
		deleted = strtol(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	} while (deleted > 0);
}

/* One pass over the owned partitions, each until it has nothing left. Returns true
 * when every owned partition was emptied without error. */
static bool
souk_outbox_relay_pass(struct souk_outbox_relay *r)
{
	struct souk_outbox_owned snap[SOUK_OUTBOX_MAX_OWNED];
	size_t n;
	bool clean = true;

	pthread_mutex_lock(&r->lock);
	n = r->nowned;
	for (size_t i = 0; i < n; i++) {
		snap[i].topic = strdup(r->owned[i].topic);
		snap[i].partition = r->owned[i].partition;
	}
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < n; i++) {
		long published;

		while (snap[i].topic && (published = souk_outbox_relay_round(
					     r, snap[i].topic, snap[i].partition)) ==
					    SOUK_OUTBOX_RELAY_ROWS)
			;
		if (!snap[i].topic || published < 0)
			clean = false;
		free(snap[i].topic);
	}
	return clean;
}

static void *
souk_outbox_relay_main(void *arg)
{
	struct souk_outbox_relay *r = arg;
	time_t last_purge = 0;

	for (;;) {
		struct timespec deadline;
		bool stopping;

		pthread_mutex_lock(&r->lock);
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += SOUK_OUTBOX_RELAY_IDLE_MS * 1000000L;
		deadline.tv_sec += deadline.tv_nsec / 1000000000L;
		deadline.tv_nsec %= 1000000000L;
		while (!r->kicked && !r->stopping &&
		       pthread_cond_timedwait(&r->cond, &r->lock, &deadline) == 0)
			;
		r->kicked = false;
		stopping = r->stopping;
		pthread_mutex_unlock(&r->lock);

		if (stopping) {
			/* What the last batches committed, within the drain time. */
			struct timespec t0, t1;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			do {
				if (souk_outbox_relay_pass(r))
					break;
				clock_gettime(CLOCK_MONOTONIC, &t1);
			} while ((t1.tv_sec - t0.tv_sec) * 1000 < r->drain_ms);
			return NULL;
		}
		souk_outbox_relay_pass(r);
		if (time(NULL) - last_purge >= SOUK_OUTBOX_PURGE_EVERY_S) {
			souk_outbox_purge(r);
			last_purge = time(NULL);
		}
	}
}

struct souk_outbox_relay *
souk_outbox_relay_new(const struct souk_outbox_relay_conf *conf, char *errstr,
		      size_t errstr_size)
{
	struct souk_outbox_relay *r = calloc(1, sizeof(*r));
	struct souk_metrics_family *fam;

	if (!r) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	r->conf = *conf;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	fam = souk_metrics_register_counter(conf->metrics, "souk_outbox_published_total",
					    "Results published by the outbox relay.",
					    NULL, errstr, errstr_size);
	r->published = fam ? souk_metrics_series(fam, NULL) : NULL;
	fam = souk_metrics_register_counter(conf->metrics, "souk_outbox_failed_total",
					    "Results the broker did not take; retried.",
					    NULL, errstr, errstr_size);
	r->failed = fam ? souk_metrics_series(fam, NULL) : NULL;
	if (!r->published || !r->failed)
		goto fail;
	r->pg = souk_pg_connect(conf->dsn, 30000, errstr, errstr_size);
	if (!r->pg ||
	    souk_pg_prepare(r->pg, "souk_outbox_select", souk_outbox_select_sql, 3,
			    errstr, errstr_size) ||
	    souk_pg_prepare(r->pg, "souk_outbox_mark", souk_outbox_mark_sql, 3, errstr,
			    errstr_size) ||
	    souk_pg_prepare(r->pg, "souk_outbox_purge", souk_outbox_purge_sql, 1, errstr,
			    errstr_size))
		goto fail;
	r->producer =
	    souk_kafka_producer_new(conf->brokers, conf->props, conf->nprops, 0,
				    souk_outbox_on_delivery, r, errstr, errstr_size);
	if (!r->producer)
		goto fail;
	if (pthread_create(&r->thread, NULL, souk_outbox_relay_main, r)) {
		snprintf(errstr, errstr_size, "could not start the outbox relay thread");
		goto fail;
	}
	return r;
fail:
	souk_kafka_producer_destroy(r->producer);
	souk_pg_destroy(r->pg);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

void
souk_outbox_relay_destroy(struct souk_outbox_relay *r, int timeout_ms)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	r->drain_ms = timeout_ms;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	souk_kafka_flush(r->producer, 1000);
	souk_kafka_producer_destroy(r->producer);
	souk_pg_destroy(r->pg);
	for (size_t i = 0; i < r->nowned; i++)
		free(r->owned[i].topic);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void
souk_outbox_relay_own(struct souk_outbox_relay *r, const char *topic, int32_t partition,
		      int owned)
{
	size_t i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nowned; i++)
		if (r->owned[i].partition == partition &&
		    !strcmp(r->owned[i].topic, topic))
			break;
	if (owned && i == r->nowned && r->nowned < SOUK_OUTBOX_MAX_OWNED) {
		r->owned[i].topic = strdup(topic);
		r->owned[i].partition = partition;
		r->owned[i].owners = 0;
		if (r->owned[i].topic)
			r->nowned++;
	}
	if (owned && i < r->nowned) {
		r->owned[i].owners++;
		r->kicked = true; /* rows a previous owner left: publish them first */
		pthread_cond_signal(&r->cond);
	} else if (!owned && i < r->nowned && --r->owned[i].owners == 0) {
		free(r->owned[i].topic);
		r->owned[i] = r->owned[--r->nowned];
	}
	pthread_mutex_unlock(&r->lock);
}

void
souk_outbox_relay_kick(struct souk_outbox_relay *r)
{
	pthread_mutex_lock(&r->lock);
	r->kicked = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}
