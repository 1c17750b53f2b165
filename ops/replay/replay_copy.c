/* replay_copy: see replay_copy.h. */
#include "replay_copy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay_kafka.h"
#include "souk_log.h"
#include "souk_progress.h"

#define REPLAY_COPY_BATCH 1024	    /* messages taken from the consumer per call */
#define REPLAY_COPY_POLL_MS 100	    /* longest wait for messages */
#define REPLAY_COPY_TAG_SHIFT 48    /* delivery tag: part index << 48 | offset */
#define REPLAY_COPY_SOURCE_SIZE 330 /* a queue's source prefix and an offset */
#define REPLAY_COPY_TAG_OFFSET_MASK ((UINT64_C(1) << REPLAY_COPY_TAG_SHIFT) - 1)

/* A partition's selected messages waiting to be sent, oldest first (a ring). */
struct replay_copy_queue {
	rd_kafka_message_t **items;
	size_t head, n, cap;
	/* "topic/partition/", the souk-replay-source prefix (a topic name has at most
	 * 249 characters, so it always fits) */
	char source[300];
	size_t source_len;
	bool done;   /* the whole range was read */
	bool paused; /* fetching paused: the queue is full, or the range is read */
};

struct replay_copy {
	struct replay_copy_conf conf;
	struct souk_kafka_consumer *consumer;
	struct souk_kafka_producer *producer;
	rd_kafka_topic_t *target_rkt;
	struct replay_copy_part *parts;
	struct replay_copy_queue *queues; /* one per part */
	size_t nparts;
	int32_t *index_of; /* source partition -> index in parts, -1 if not selected */
	int source_count;
	bool same_partitioning; /* target has as many partitions: keep the number */
	const struct replay_guard_rule *rule;
	int64_t window_ms;
	struct replay_pace pace;
	bool pace_started;
	uint64_t sent, reports;
	char error[512]; /* the first failure, "" while none */
	struct replay_copy_totals totals;
	bool ran;
};

/* Runs in replay_copy_run's thread (souk_kafka forwards reports from rd_kafka_poll). */
static void
replay_copy_on_delivery(void *opaque, void *msg_opaque, const char *topic,
			int32_t partition, int64_t offset, rd_kafka_resp_err_t err,
			const char *errstr)
{
	struct replay_copy *c = opaque;
	uint64_t tag = (uint64_t)(uintptr_t)msg_opaque;
	struct replay_copy_part *p = &c->parts[tag >> REPLAY_COPY_TAG_SHIFT];

	(void)partition;
	(void)offset;
	c->reports++;
	if (!err) {
		p->delivered++;
		return;
	}
	p->failed++;
	if (!c->error[0])
		snprintf(c->error, sizeof(c->error),
			 "could not deliver \"%s\" [%d] offset %" PRIu64 " to \"%s\": %s",
			 c->conf.source, (int)p->partition,
			 tag & REPLAY_COPY_TAG_OFFSET_MASK, topic, errstr);
}

/*
 * The consumer's properties: a default of ours, the caller's, then the two a replay
 * needs, which win: EOF events (each partition's end) and an error instead of a silent
 * jump when the start was deleted meanwhile.
 *
 * queued.min.messages: librdkafka stops fetching a partition once that many of its
 * messages wait in the local queue. At the default (100000) the queue filled faster
 * than the producer emptied it, and each time fetching resumed only after idle gaps
 * of half a second or more, which halved a replay's rate (ops/bench/replay). The
 * prefetch stays bounded by queued.max.messages.kbytes (64 MB).
 */
static size_t
replay_copy_consumer_props(const struct replay_copy_conf *conf,
			   struct souk_kafka_prop out[REPLAY_COPY_MAX_PROPS + 3])
{
	size_t n = 0;

	out[n++] = (struct souk_kafka_prop){"queued.min.messages", "1000000"};
	for (size_t i = 0; i < conf->nprops; i++)
		out[n++] = conf->props[i];
	out[n++] = (struct souk_kafka_prop){"enable.partition.eof", "true"};
	out[n++] = (struct souk_kafka_prop){"auto.offset.reset", "error"};
	return n;
}

/* Asks the broker for the ranges and the guard. */
static int
replay_copy_plan(struct replay_copy *c, char *errstr, size_t errstr_size)
{
	const struct replay_copy_conf *conf = &c->conf;
	rd_kafka_t *rk = souk_kafka_consumer_handle(c->consumer);
	struct replay_kafka_part *kp = NULL;
	int64_t *start_lookup = NULL, *end_lookup = NULL, *cutoff = NULL;
	int target_count, rc = -1;
	size_t n = 0;

	target_count = souk_kafka_partition_count(
	    rk, conf->target, REPLAY_KAFKA_TIMEOUT_MS, errstr, errstr_size);
	if (target_count < 0 ||
	    replay_kafka_partitions(rk, conf->source, conf->sel, &kp, &n,
				    &c->source_count, errstr, errstr_size))
		goto out;
	c->same_partitioning = target_count == c->source_count;
	c->parts = calloc(n ? n : 1, sizeof(*c->parts));
	c->queues = calloc(n ? n : 1, sizeof(*c->queues));
	c->index_of = calloc((size_t)c->source_count + 1, sizeof(*c->index_of));
	start_lookup = calloc(n ? n : 1, sizeof(int64_t));
	end_lookup = calloc(n ? n : 1, sizeof(int64_t));
	cutoff = calloc(n ? n : 1, sizeof(int64_t));
	if (!c->parts || !c->queues || !c->index_of || !start_lookup || !end_lookup ||
	    !cutoff) {
		snprintf(errstr, errstr_size, "could not plan the replay: out of memory");
		goto out;
	}
	c->nparts = n;
	if (conf->sel->start.kind == REPLAY_BOUND_TIME &&
	    replay_kafka_lookup(rk, conf->source, kp, n, conf->sel->start.value,
				start_lookup, errstr, errstr_size))
		goto out;
	if (conf->sel->end.kind == REPLAY_BOUND_TIME &&
	    replay_kafka_lookup(rk, conf->source, kp, n, conf->sel->end.value, end_lookup,
				errstr, errstr_size))
		goto out;
	c->rule = replay_guard_rule(conf->target);
	if (conf->dedup_window_ms >= 0)
		c->window_ms = conf->dedup_window_ms;
	else
		c->window_ms = c->rule ? c->rule->window_ms : 0;
	if (c->window_ms > 0 &&
	    replay_kafka_lookup(rk, conf->source, kp, n, conf->now_ms - c->window_ms,
				cutoff, errstr, errstr_size))
		goto out;
	for (int i = 0; i < c->source_count; i++)
		c->index_of[i] = -1;
	for (size_t i = 0; i < n; i++) {
		struct replay_copy_part *p = &c->parts[i];

		p->partition = kp[i].partition;
		p->low = kp[i].low;
		p->high = kp[i].high;
		p->range = replay_select_range(conf->sel, p->low, p->high,
					       start_lookup[i], end_lookup[i]);
		p->guard_offset = c->window_ms > 0 ? cutoff[i] : p->low;
		p->guard_broken =
		    c->window_ms > 0 && replay_guard_breaks(p->range, cutoff[i]);
		p->first = p->last = -1;
		c->index_of[p->partition] = (int32_t)i;
		c->queues[i].source_len =
		    (size_t)snprintf(c->queues[i].source, sizeof(c->queues[i].source),
				     "%s/%" PRId32 "/", conf->source, p->partition);
	}
	rc = 0;
out:
	free(kp);
	free(start_lookup);
	free(end_lookup);
	free(cutoff);
	return rc;
}

struct replay_copy *
replay_copy_new(const struct replay_copy_conf *conf, char *errstr, size_t errstr_size)
{
	struct souk_kafka_prop props[REPLAY_COPY_MAX_PROPS + 3];
	struct replay_copy *c = calloc(1, sizeof(*c));
	char group[64];

	if (!c) {
		snprintf(errstr, errstr_size, "could not plan the replay: out of memory");
		return NULL;
	}
	c->conf = *conf;
	/* a group is required by librdkafka's consumer; this one never joins */
	snprintf(group, sizeof(group), "souk-replay-%ld", (long)getpid());
	c->consumer = souk_kafka_consumer_new(conf->brokers, group, props,
					      replay_copy_consumer_props(conf, props),
					      NULL, NULL, errstr, errstr_size);
	if (!c->consumer || replay_copy_plan(c, errstr, errstr_size)) {
		replay_copy_destroy(c);
		return NULL;
	}
	return c;
}

void
replay_copy_destroy(struct replay_copy *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->queues && i < c->nparts; i++) {
		struct replay_copy_queue *q = &c->queues[i];

		for (size_t k = 0; k < q->n; k++)
			rd_kafka_message_destroy(q->items[(q->head + k) % q->cap]);
		free(q->items);
	}
	if (c->target_rkt)
		rd_kafka_topic_destroy(c->target_rkt);
	souk_kafka_producer_destroy(c->producer);
	souk_kafka_consumer_destroy(c->consumer);
	free(c->queues);
	free(c->parts);
	free(c->index_of);
	free(c);
}

const struct replay_copy_part *
replay_copy_parts(const struct replay_copy *c, size_t *n)
{
	*n = c->nparts;
	return c->parts;
}

int64_t
replay_copy_guard_window(const struct replay_copy *c)
{
	return c->window_ms;
}

const struct replay_guard_rule *
replay_copy_guard_rule(const struct replay_copy *c)
{
	return c->conf.dedup_window_ms >= 0 ? NULL : c->rule;
}

bool
replay_copy_guard_broken(const struct replay_copy *c)
{
	for (size_t i = 0; i < c->nparts; i++)
		if (c->parts[i].guard_broken)
			return true;
	return false;
}

struct replay_copy_totals
replay_copy_totals(const struct replay_copy *c)
{
	return c->totals;
}

/* ---- the run ---- */

static void
replay_copy_pause(struct replay_copy *c, size_t i, bool pause)
{
	rd_kafka_t *rk = souk_kafka_consumer_handle(c->consumer);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(list, c->conf.source, c->parts[i].partition);
	if (pause)
		rd_kafka_pause_partitions(rk, list);
	else
		rd_kafka_resume_partitions(rk, list);
	c->queues[i].paused = pause;
	rd_kafka_topic_partition_list_destroy(list);
}

/* The whole range of part i was read: stop fetching it. */
static void
replay_copy_part_done(struct replay_copy *c, size_t i)
{
	c->queues[i].done = true;
	if (!c->queues[i].paused)
		replay_copy_pause(c, i, true);
}

/* Appends m to part i's queue (taking it), pausing the partition when full. Out of
 * memory, frees m and sets c->error. */
static void
replay_copy_enqueue(struct replay_copy *c, size_t i, rd_kafka_message_t *m)
{
	struct replay_copy_queue *q = &c->queues[i];

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		rd_kafka_message_t **items = malloc(cap * sizeof(*items));

		if (!items) {
			snprintf(c->error, sizeof(c->error),
				 "could not queue a message: out of memory");
			rd_kafka_message_destroy(m);
			return;
		}
		for (size_t k = 0; k < q->n; k++)
			items[k] = q->items[(q->head + k) % q->cap];
		free(q->items);
		q->items = items;
		q->cap = cap;
		q->head = 0;
	}
	q->items[(q->head + q->n) % q->cap] = m;
	q->n++;
	if (q->n >= REPLAY_COPY_QUEUE_MAX && !q->paused && !q->done)
		replay_copy_pause(c, i, true);
}

/* Takes one message or event from the consumer (and frees it, or queues it). */
static void
replay_copy_take(struct replay_copy *c, rd_kafka_message_t *m)
{
	int32_t idx = m->rkt && m->partition >= 0 && m->partition < c->source_count
			  ? c->index_of[m->partition]
			  : -1;
	struct replay_copy_part *p = idx >= 0 ? &c->parts[idx] : NULL;
	int64_t ts;

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		if (p && m->offset >= p->range.end && !c->queues[idx].done)
			replay_copy_part_done(c, (size_t)idx);
		goto out;
	}
	if (m->err) {
		/* a partition's error (its start no longer kept, the topic gone) ends
		 * the run; others (a broker down for a while) are retried by
		 * librdkafka */
		if (m->rkt || m->err == RD_KAFKA_RESP_ERR__FATAL) {
			if (!c->error[0])
				snprintf(c->error, sizeof(c->error),
					 "could not read \"%s\" [%d]: %s", c->conf.source,
					 (int)m->partition, rd_kafka_message_errstr(m));
		} else {
			SOUK_LOG_WARN("kafka_consumer_error", "error=%s",
				      rd_kafka_message_errstr(m));
		}
		goto out;
	}
	if (!p || c->queues[idx].done)
		goto out; /* fetched before the partition was paused */
	if (m->offset >= p->range.end) {
		replay_copy_part_done(c, (size_t)idx);
		goto out;
	}
	p->read++;
	if (m->offset >= p->range.end - 1)
		replay_copy_part_done(c, (size_t)idx); /* the range's last message */
	ts = rd_kafka_message_timestamp(m, NULL);
	if (!replay_select_time_ok(c->conf.sel, ts) ||
	    !replay_filter_match(c->conf.filter, m->key, m->key_len, m->payload,
				 m->len)) {
		p->skipped++;
	} else if (c->conf.dry_run) {
		p->selected++;
		if (p->first < 0)
			p->first = m->offset;
		p->last = m->offset;
	} else {
		replay_copy_enqueue(c, (size_t)idx, m);
		return; /* m is the queue's */
	}
out:
	rd_kafka_message_destroy(m);
}

/* The souk-replay-source value of offset in part i, "topic/partition/offset", into
 * out[REPLAY_COPY_SOURCE_SIZE]; returns its length. Not snprintf: this runs once per
 * message, and the prefix is made once per partition. */
static size_t
replay_copy_source(const struct replay_copy_queue *q, int64_t offset, char *out)
{
	char digits[24];
	size_t n = 0, len = q->source_len;

	do {
		digits[n++] = (char)('0' + offset % 10);
		offset /= 10;
	} while (offset > 0);
	memcpy(out, q->source, len);
	while (n > 0)
		out[len++] = digits[--n];
	return len;
}

/* Produces m, read from part i (m stays the caller's: its bytes are copied). Waits
 * while the producer's queue is full. Returns 0, or -1 with c->error. */
static int
replay_copy_send(struct replay_copy *c, size_t i, rd_kafka_message_t *m)
{
	struct replay_copy_part *p = &c->parts[i];
	rd_kafka_t *prk = souk_kafka_producer_handle(c->producer);
	rd_kafka_headers_t *orig = NULL, *headers;
	rd_kafka_resp_err_t err;
	char source[REPLAY_COPY_SOURCE_SIZE];
	int64_t ts = 0;
	uint64_t tag = ((uint64_t)i << REPLAY_COPY_TAG_SHIFT) | (uint64_t)m->offset;

	headers = rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR
		      ? rd_kafka_headers_copy(orig)
		      : rd_kafka_headers_new(1);
	rd_kafka_header_remove(headers, REPLAY_COPY_HEADER);
	rd_kafka_header_add(
	    headers, REPLAY_COPY_HEADER, -1, source,
	    (ssize_t)replay_copy_source(&c->queues[i], m->offset, source));
	if (c->conf.keep_timestamps && (ts = rd_kafka_message_timestamp(m, NULL)) < 0)
		ts = 0; /* none: the time it is sent */
	for (;;) {
		err = rd_kafka_producev(
		    prk, RD_KAFKA_V_RKT(c->target_rkt),
		    RD_KAFKA_V_PARTITION(c->same_partitioning ? m->partition
							      : RD_KAFKA_PARTITION_UA),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_KEY(m->key, m->key_len),
		    RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_HEADERS(headers),
		    RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)tag),
		    RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		souk_kafka_poll(c->producer, 10); /* back-pressure: wait for reports */
	}
	if (err) {
		rd_kafka_headers_destroy(headers);
		snprintf(c->error, sizeof(c->error),
			 "could not produce \"%s\" [%d] offset %" PRId64 " to \"%s\": %s",
			 c->conf.source, (int)m->partition, m->offset, c->conf.target,
			 rd_kafka_err2str(err));
		return -1;
	}
	/* headers are the message's now */
	c->sent++;
	p->selected++;
	if (p->first < 0)
		p->first = m->offset;
	p->last = m->offset;
	return 0;
}

/*
 * The queue whose head goes next, or -1. Under --speed, the oldest head of all, and
 * only once every partition still being read has a head (an unread message could be
 * older); otherwise any non-empty queue.
 */
static ssize_t
replay_copy_next(const struct replay_copy *c)
{
	ssize_t best = -1;
	int64_t best_ts = 0;

	for (size_t i = 0; i < c->nparts; i++) {
		const struct replay_copy_queue *q = &c->queues[i];
		int64_t ts;

		if (q->n == 0) {
			if (c->conf.speed > 0 && !q->done)
				return -1;
			continue;
		}
		if (c->conf.speed <= 0)
			return (ssize_t)i;
		ts = rd_kafka_message_timestamp(q->items[q->head], NULL);
		if (best < 0 || ts < best_ts) {
			best = (ssize_t)i;
			best_ts = ts;
		}
	}
	return best;
}

/* Sends every queued message that is due. Returns the seconds until the next one is
 * due, or 0 when the next one waits for messages to be read (or there is none). */
static double
replay_copy_drain(struct replay_copy *c)
{
	bool paced = c->conf.rate > 0 || c->conf.speed > 0;
	ssize_t i;

	while (!c->error[0] && (i = replay_copy_next(c)) >= 0) {
		struct replay_copy_queue *q = &c->queues[i];
		rd_kafka_message_t *m = q->items[q->head];

		if (paced) {
			int64_t ts = rd_kafka_message_timestamp(m, NULL);
			double now = souk_progress_now(), due;

			if (!c->pace_started) {
				c->pace.start = now;
				c->pace.ts0 = ts;
				c->pace_started = true;
			}
			due = replay_pace_due(&c->pace, c->sent, ts);
			if (due > now)
				return due - now;
		}
		if (replay_copy_send(c, (size_t)i, m))
			return 0;
		rd_kafka_message_destroy(m);
		q->head = (q->head + 1) % q->cap;
		q->n--;
		if (q->paused && !q->done && q->n < REPLAY_COPY_QUEUE_MAX / 2)
			replay_copy_pause(c, (size_t)i, false);
	}
	return 0;
}

/* Whether every range was read and every selected message sent. */
static bool
replay_copy_finished(const struct replay_copy *c)
{
	for (size_t i = 0; i < c->nparts; i++)
		if (!c->queues[i].done || c->queues[i].n)
			return false;
	return true;
}

/* Assigns every partition with a non-empty range at its start; marks the others done.
 * Returns the messages the ranges hold at most (for the progress bar), or -1. */
static int64_t
replay_copy_assign(struct replay_copy *c, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list =
	    rd_kafka_topic_partition_list_new((int)(c->nparts ? c->nparts : 1));
	int64_t total = 0;
	int rc;

	for (size_t i = 0; i < c->nparts; i++) {
		struct replay_copy_part *p = &c->parts[i];

		if (p->range.start >= p->range.end) {
			c->queues[i].done = true;
			continue;
		}
		rd_kafka_topic_partition_list_add(list, c->conf.source, p->partition)
		    ->offset = p->range.start;
		total += p->range.end - p->range.start;
	}
	rc = souk_kafka_consumer_assign(c->consumer, list, errstr, errstr_size);
	rd_kafka_topic_partition_list_destroy(list);
	return rc ? -1 : total;
}

/* Drops the messages still queued (an interrupted or failed run). */
static void
replay_copy_drop_queued(struct replay_copy *c)
{
	for (size_t i = 0; i < c->nparts; i++) {
		struct replay_copy_queue *q = &c->queues[i];

		for (; q->n; q->n--, q->head = (q->head + 1) % q->cap)
			rd_kafka_message_destroy(q->items[q->head]);
	}
}

int
replay_copy_run(struct replay_copy *c, char *errstr, size_t errstr_size)
{
	rd_kafka_message_t *msgs[REPLAY_COPY_BATCH];
	rd_kafka_queue_t *queue = NULL;
	struct souk_progress *bar = NULL;
	double start = souk_progress_now();
	int64_t total;
	int rc = -1;

	if (c->ran) {
		snprintf(errstr, errstr_size, "could not replay: the replay already ran");
		return -1;
	}
	c->ran = true;
	if (!c->conf.dry_run) {
		c->producer = souk_kafka_producer_new(
		    c->conf.brokers, c->conf.props, c->conf.nprops,
		    c->conf.message_timeout_ms, replay_copy_on_delivery, c, errstr,
		    errstr_size);
		if (!c->producer)
			goto out;
		c->target_rkt = rd_kafka_topic_new(
		    souk_kafka_producer_handle(c->producer), c->conf.target, NULL);
		if (!c->target_rkt) {
			snprintf(errstr, errstr_size, "could not use topic \"%s\": %s",
				 c->conf.target, rd_kafka_err2str(rd_kafka_last_error()));
			goto out;
		}
	}
	c->pace.rate = c->conf.rate;
	c->pace.speed = c->conf.speed;
	total = replay_copy_assign(c, errstr, errstr_size);
	if (total < 0)
		goto out;
	queue = rd_kafka_queue_get_consumer(souk_kafka_consumer_handle(c->consumer));
	if (c->conf.progress)
		bar = souk_progress_new((uint64_t)total, "messages");
	while (!c->error[0] && !*c->conf.interrupted && !replay_copy_finished(c)) {
		double wait = replay_copy_drain(c);
		int timeout = wait > 0 ? (int)(wait * 1000) + 1 : REPLAY_COPY_POLL_MS;
		ssize_t n;
		uint64_t read = 0;

		if (timeout > REPLAY_COPY_POLL_MS)
			timeout = REPLAY_COPY_POLL_MS;
		/* what is there, else wait for one: the batch call would wait for a
		 * full batch, holding back what was read */
		n = rd_kafka_consume_batch_queue(queue, 0, msgs, REPLAY_COPY_BATCH);
		if (n == 0 && (msgs[0] = rd_kafka_consume_queue(queue, timeout)))
			n = 1;
		if (n < 0) {
			snprintf(c->error, sizeof(c->error), "could not read \"%s\": %s",
				 c->conf.source, rd_kafka_err2str(rd_kafka_last_error()));
			break;
		}
		for (ssize_t k = 0; k < n; k++)
			replay_copy_take(c, msgs[k]);
		if (c->producer)
			souk_kafka_poll(c->producer, 0);
		for (size_t i = 0; i < c->nparts; i++)
			read += c->parts[i].read;
		souk_progress_update(bar, read, c->conf.dry_run ? read : c->sent);
	}
	c->totals.interrupted = *c->conf.interrupted != 0;
	replay_copy_drop_queued(c);
	/* every report comes within the producer's message timeout */
	while (c->producer && c->reports < c->sent)
		souk_kafka_poll(c->producer, 100);
	for (size_t i = 0; i < c->nparts; i++) {
		const struct replay_copy_part *p = &c->parts[i];

		c->totals.read += p->read;
		c->totals.selected += p->selected;
		c->totals.skipped += p->skipped;
		c->totals.delivered += p->delivered;
		c->totals.failed += p->failed;
	}
	souk_progress_finish(bar, c->totals.read,
			     c->conf.dry_run ? c->totals.selected : c->totals.delivered);
	bar = NULL;
	if (c->error[0]) {
		snprintf(errstr, errstr_size, "%s", c->error);
		goto out;
	}
	if (c->totals.interrupted) {
		snprintf(errstr, errstr_size, "interrupted");
		goto out;
	}
	rc = 0;
out:
	c->totals.seconds = souk_progress_now() - start;
	if (queue)
		rd_kafka_queue_destroy(queue);
	return rc;
}
