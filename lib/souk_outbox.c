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
#include "souk_pgcopy.h"
#include "souk_uuid.h"

#define SOUK_OUTBOX_RELAY_ROWS 8      /* outbox rows (batches of results) per round */
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

/* ---- statements ---------------------------------------------------------------- */

static const char souk_outbox_copy_sql[] =
    "COPY outbox (source_topic, source_partition, messages, body) "
    "FROM STDIN (FORMAT binary)";

static const char souk_outbox_select_sql[] =
    "SELECT id, messages, body FROM outbox WHERE source_topic = $1 AND "
    "source_partition = $2 AND id > "
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

/* ---- frames ------------------------------------------------------------------ */

static void
souk_outbox_put_be(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static uint64_t
souk_outbox_get_be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int
souk_outbox_frame_put(char **body, size_t *len, size_t *cap,
		      const struct souk_outbox_row *row)
{
	const char *headers = row->headers ? row->headers : "{}";
	size_t topic_len = strlen(row->topic), headers_len = strlen(headers);
	size_t key_len = row->key ? row->key_len : 0;
	size_t need = 4 + 16 + 8 + 16 + 2 + topic_len + 4 + key_len + 4 + row->len + 4 +
		      headers_len;
	unsigned char *p;

	if (topic_len > UINT16_MAX || key_len > INT32_MAX || row->len > INT32_MAX ||
	    headers_len > INT32_MAX || need - 4 > INT32_MAX)
		return -1;
	if (*len + need > *cap) {
		size_t grown_cap = *cap ? *cap : 65536;
		char *grown;

		while (grown_cap < *len + need)
			grown_cap *= 2;
		if (!(grown = realloc(*body, grown_cap)))
			return -1;
		*body = grown;
		*cap = grown_cap;
	}
	p = (unsigned char *)*body + *len;
	souk_outbox_put_be(p, need - 4, 4);
	if (souk_uuid_parse(row->result_id, p + 4))
		return -1;
	souk_outbox_put_be(p + 20, (uint64_t)row->source_offset, 8);
	if (!row->source_event_id[0])
		memset(p + 28, 0, 16);
	else if (souk_uuid_parse(row->source_event_id, p + 28))
		return -1;
	p += 44;
	souk_outbox_put_be(p, topic_len, 2);
	memcpy(p + 2, row->topic, topic_len);
	p += 2 + topic_len;
	souk_outbox_put_be(p, row->key ? key_len : UINT32_MAX, 4);
	if (key_len)
		memcpy(p + 4, row->key, key_len);
	p += 4 + key_len;
	souk_outbox_put_be(p, row->len, 4);
	memcpy(p + 4, row->value, row->len);
	p += 4 + row->len;
	souk_outbox_put_be(p, headers_len, 4);
	memcpy(p + 4, headers, headers_len);
	*len += need;
	return 0;
}

/* Takes n bytes at *p if they are within end. */
static const unsigned char *
souk_outbox_take(const unsigned char **p, const unsigned char *end, size_t n)
{
	const unsigned char *at = *p;

	if ((size_t)(end - at) < n)
		return NULL;
	*p += n;
	return at;
}

int
souk_outbox_frame_get(const char *body, size_t len, size_t *off,
		      struct souk_outbox_frame *f)
{
	static const unsigned char nil[16];
	const unsigned char *p = (const unsigned char *)body + *off, *end, *at;
	size_t flen, n;
	uint32_t k;

	if (*off > len || len - *off < 4)
		return -1;
	flen = souk_outbox_get_be(p, 4);
	p += 4;
	if (flen > len - *off - 4)
		return -1;
	end = p + flen;
	if (!(at = souk_outbox_take(&p, end, 40)))
		return -1;
	souk_uuid_format(at, f->result_id);
	f->source_offset = (int64_t)souk_outbox_get_be(at + 16, 8);
	if (memcmp(at + 24, nil, 16) == 0)
		f->source_event_id[0] = '\0';
	else
		souk_uuid_format(at + 24, f->source_event_id);
	if (!(at = souk_outbox_take(&p, end, 2)))
		return -1;
	n = souk_outbox_get_be(at, 2);
	if (!(at = souk_outbox_take(&p, end, n)))
		return -1;
	f->topic = (const char *)at;
	f->topic_len = n;
	if (!(at = souk_outbox_take(&p, end, 4)))
		return -1;
	k = (uint32_t)souk_outbox_get_be(at, 4);
	f->key = NULL;
	f->key_len = 0;
	if (k != UINT32_MAX) {
		if (!(at = souk_outbox_take(&p, end, k)))
			return -1;
		f->key = (const char *)at;
		f->key_len = k;
	}
	if (!(at = souk_outbox_take(&p, end, 4)))
		return -1;
	n = souk_outbox_get_be(at, 4);
	if (!(at = souk_outbox_take(&p, end, n)))
		return -1;
	f->value = (const char *)at;
	f->len = n;
	if (!(at = souk_outbox_take(&p, end, 4)))
		return -1;
	n = souk_outbox_get_be(at, 4);
	if (!(at = souk_outbox_take(&p, end, n)) || p != end)
		return -1;
	f->headers = (const char *)at;
	f->headers_len = n;
	*off += 4 + flen;
	return 0;
}

/* ---- writing ----------------------------------------------------------------- */

int
souk_outbox_insert(struct souk_pg *pg, const struct souk_outbox_batch *b, char *errstr,
		   size_t errstr_size)
{
	struct souk_pgcopy copy;
	char *body = NULL;
	size_t len, cap = 0;
	bool *framed = NULL;
	int rc = -1;

	if (b->n == 0)
		return 0;
	souk_pgcopy_init(&copy);
	if (!(framed = calloc(b->n, sizeof(*framed)))) {
		snprintf(errstr, errstr_size, "could not write the outbox: out of memory");
		goto out;
	}
	/* One outbox row per source partition, its results in the batch's order. A
	 * batch holds one partition or a few: O(rows x partitions). */
	for (size_t i = 0; i < b->n; i++) {
		const struct souk_outbox_row *first = &b->rows[i];
		int32_t messages = 0;

		if (framed[i])
			continue;
		len = 0;
		for (size_t j = i; j < b->n; j++) {
			const struct souk_outbox_row *row = &b->rows[j];

			if (framed[j] || row->source_partition != first->source_partition ||
			    strcmp(row->source_topic, first->source_topic))
				continue;
			if (souk_outbox_frame_put(&body, &len, &cap, row)) {
				snprintf(errstr, errstr_size,
					 "could not write the outbox: result %s of %s/%d@%" PRId64
					 " (a result id that is not a UUID, or out of memory)",
					 row->result_id, row->source_topic,
					 (int)row->source_partition, row->source_offset);
				goto out;
			}
			framed[j] = true;
			messages++;
		}
		souk_pgcopy_row(&copy, 4);
		souk_pgcopy_str(&copy, first->source_topic);
		souk_pgcopy_int4(&copy, first->source_partition);
		souk_pgcopy_int4(&copy, messages);
		souk_pgcopy_bytes(&copy, body, len);
	}
	if (souk_pgcopy_finish(&copy, errstr, errstr_size) == 0)
		rc = souk_pg_copy_in(pg, souk_outbox_copy_sql, copy.buf, copy.len, errstr,
				     errstr_size);
out:
	souk_pgcopy_free(&copy);
	free(body);
	free(framed);
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

/* A result's extra headers (a JSON object of strings) appended to h from index n. */
static size_t
souk_outbox_extra_headers(const char *json, size_t len, souk_json_t **doc,
			  struct souk_kafka_header *h, size_t n, size_t max)
{
	static const souk_json_limits_t limits = {65536, 2, 64};
	souk_json_error_t err;
	const souk_json_value_t *root;

	*doc = souk_json_parse(json, len, &limits, &err);
	if (!*doc)
		return n;
	root = souk_json_root(*doc);
	for (size_t i = 0; i < souk_json_object_size(root) && n < max; i++) {
		size_t vlen;
		const char *v = souk_json_string(souk_json_object_value(root, i), &vlen);

		if (!v)
			continue;
		h[n++] = (struct souk_kafka_header){souk_json_object_key(root, i, NULL),
						    v, vlen};
	}
	return n;
}

/* Hands one framed result of topic/partition to the producer; the report comes to
 * souk_outbox_on_delivery with index k. Returns -1 (counted as reported and failed)
 * when it could not be sent. */
static int
souk_outbox_relay_send(struct souk_outbox_relay *r, const char *topic, int32_t partition,
		       const struct souk_outbox_frame *f, size_t k)
{
	struct souk_kafka_header h[16];
	char source[300], to[256], errstr[512];
	souk_json_t *extra = NULL;
	size_t nh = 0;
	int rc;

	if (f->topic_len >= sizeof(to))
		return -1;
	memcpy(to, f->topic, f->topic_len);
	to[f->topic_len] = '\0';
	snprintf(source, sizeof(source), "%s/%" PRId32 "/%" PRId64, topic, partition,
		 f->source_offset);
	h[nh++] = (struct souk_kafka_header){"souk-result-id", f->result_id,
					     strlen(f->result_id)};
	h[nh++] = (struct souk_kafka_header){"souk-source", source, strlen(source)};
	if (f->source_event_id[0])
		h[nh++] = (struct souk_kafka_header){"souk-source-event-id",
						     f->source_event_id,
						     strlen(f->source_event_id)};
	nh = souk_outbox_extra_headers(f->headers, f->headers_len, &extra, h, nh, 16);
	while ((rc = souk_kafka_produce(r->producer, to, f->key, f->key_len, f->value,
					f->len, h, nh, (void *)(uintptr_t)k, errstr,
					sizeof(errstr))) == SOUK_KAFKA_QUEUE_FULL)
		souk_kafka_poll(r->producer, 10);
	souk_json_destroy(extra);
	if (rc)
		SOUK_LOG_WARN("outbox_produce_failed", "error=%s", errstr);
	return rc ? -1 : 0;
}

/* Publishes up to one round of outbox rows of topic/partition after its cursor and
 * moves the cursor past those whose every result the broker acknowledged. Returns the
 * rows marked, or -1 on error. */
static long
souk_outbox_relay_round(struct souk_outbox_relay *r, const char *topic, int32_t partition)
{
	char part[16], limit[16], id[24], errstr[512];
	const char *params[3] = {topic, part, limit};
	PGresult *res = NULL;
	long rows, marked = 0;
	size_t total = 0, k = 0, published = 0;

	snprintf(part, sizeof(part), "%" PRId32, partition);
	snprintf(limit, sizeof(limit), "%d", SOUK_OUTBOX_RELAY_ROWS);
	if (souk_pg_exec_prepared_binary(r->pg, "souk_outbox_select", 3, params, &res,
					 errstr, sizeof(errstr))) {
		SOUK_LOG_WARN("outbox_read_failed", "error=%s", errstr);
		return -1;
	}
	rows = PQntuples(res);
	for (long i = 0; i < rows; i++)
		total += (uint32_t)souk_outbox_get_be(
		    (const unsigned char *)PQgetvalue(res, (int)i, 1), 4);
	if (total == 0)
		goto out;
	r->reports = r->failures = 0;
	r->delivered = calloc(total, sizeof(*r->delivered));
	if (!r->delivered) {
		marked = -1;
		goto out;
	}
	for (long i = 0; i < rows; i++) {
		const char *body = PQgetvalue(res, (int)i, 2);
		size_t len = (size_t)PQgetlength(res, (int)i, 2), off = 0;
		size_t messages = (uint32_t)souk_outbox_get_be(
		    (const unsigned char *)PQgetvalue(res, (int)i, 1), 4);

		for (size_t m = 0; m < messages; m++, k++) {
			struct souk_outbox_frame f;

			if (souk_outbox_frame_get(body, len, &off, &f)) {
				SOUK_LOG_ERROR("outbox_bad_row",
					       "id=%" PRId64 " result=%zu of %zu",
					       (int64_t)souk_outbox_get_be(
						   (const unsigned char *)PQgetvalue(
						       res, (int)i, 0),
						   8),
					       m, messages);
				r->reports += messages - m; /* none of the rest is sent */
				r->failures += messages - m;
				k += messages - m;
				break;
			}
			if (souk_outbox_relay_send(r, topic, partition, &f, k)) {
				r->reports++;
				r->failures++;
			}
		}
	}
	/* Every report comes within message.timeout.ms. */
	while (r->reports < total)
		souk_kafka_poll(r->producer, 100);
	/* The cursor moves over the rows acknowledged in full: a row after a failure is
	 * published again next round (same result ids), so their order holds. */
	k = 0;
	for (long i = 0; i < rows; i++) {
		size_t messages = (uint32_t)souk_outbox_get_be(
		    (const unsigned char *)PQgetvalue(res, (int)i, 1), 4);
		size_t ok = 0;

		while (ok < messages && r->delivered[k + ok])
			ok++;
		if (ok < messages)
			break;
		k += messages;
		marked++;
	}
	published = k;
	if (marked) {
		const char *v[3] = {topic, part, id};

		snprintf(id, sizeof(id), "%" PRId64,
			 (int64_t)souk_outbox_get_be(
			     (const unsigned char *)PQgetvalue(res, (int)marked - 1, 0), 8));
		if (souk_pg_exec_prepared(r->pg, "souk_outbox_mark", 3, v, NULL, errstr,
					  sizeof(errstr))) {
			/* Published but not marked: published again next round, same ids.
			 */
			SOUK_LOG_WARN("outbox_mark_failed", "error=%s", errstr);
			marked = -1;
			goto out;
		}
		souk_metrics_counter_add(r->published, (uint64_t)published);
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
