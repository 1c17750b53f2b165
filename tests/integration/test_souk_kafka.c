/*
 * souk_kafka against the real broker at SOUK_KAFKA_BROKERS: a topic made for
 * this run (3 partitions, deleted at the end), 1000 messages with keys and
 * headers through the idempotent producer, read back by a fresh group,
 * committed, and read again by a reader that assigns and seeks itself.
 * The tests run in order: the later ones read what the round trip produced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "souk_kafka.h"

#define DEFAULT_BROKERS "127.0.0.1:19092"
#define PARTITIONS 3
#define N 1000
#define TIMEOUT_MS 20000

struct delivery {
	int reports; /* exactly 1 once delivered */
	rd_kafka_resp_err_t err;
	char errstr[128];
	int32_t partition;
	int64_t offset;
};

struct suite {
	const char *brokers;
	char topic[96];
	char group[128];
	struct souk_kafka_producer *producer; /* also runs the admin calls */
	struct delivery deliveries[N];
	int64_t high[PARTITIONS]; /* per partition, after the round trip */
};

struct rebalances {
	int assigned, revoked, lost;
	int partitions_assigned;
	char protocol[16];
	rd_kafka_t *rk;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_delivery(void *opaque, void *msg_opaque, const char *topic, int32_t partition,
	    int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	struct suite *s = opaque;
	struct delivery *d = msg_opaque;

	assert_string_equal(topic, s->topic);
	d->reports++;
	d->err = err;
	snprintf(d->errstr, sizeof(d->errstr), "%s", errstr ? errstr : "");
	d->partition = partition;
	d->offset = offset;
}

static void
on_rebalance(void *opaque, enum souk_kafka_rebalance event,
	     rd_kafka_topic_partition_list_t *partitions)
{
	struct rebalances *r = opaque;

	if (event == SOUK_KAFKA_ASSIGNED) {
		r->assigned++;
		r->partitions_assigned += partitions->cnt;
	} else if (event == SOUK_KAFKA_REVOKED) {
		r->revoked++;
	} else {
		r->lost++;
	}
	if (r->rk)
		snprintf(r->protocol, sizeof(r->protocol), "%s",
			 rd_kafka_rebalance_protocol(r->rk));
}

/* Waits for one admin result event on q and returns it (the caller destroys it). */
static rd_kafka_event_t *
admin_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);

	if (!ev)
		fail_msg("no admin result within %d ms", TIMEOUT_MS);
	assert_int_equal(rd_kafka_event_type(ev), type);
	if (rd_kafka_event_error(ev))
		fail_msg("admin request failed: %s", rd_kafka_event_error_string(ev));
	return ev;
}

static void
create_topic(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	const rd_kafka_topic_result_t **results;
	rd_kafka_NewTopic_t *nt;
	rd_kafka_event_t *ev;
	char err[256];
	size_t n;

	nt = rd_kafka_NewTopic_new(topic, PARTITIONS, 1, err, sizeof(err));
	if (!nt)
		fail_msg("%s", err);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = admin_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
	results = rd_kafka_CreateTopics_result_topics(
	    rd_kafka_event_CreateTopics_result(ev), &n);
	assert_int_equal(n, 1);
	if (rd_kafka_topic_result_error(results[0]))
		fail_msg("could not create \"%s\": %s", topic,
			 rd_kafka_topic_result_error_string(results[0]));
	rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
}

static void
delete_topic(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
	const rd_kafka_topic_result_t **results;
	rd_kafka_event_t *ev;
	size_t n;

	rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
	ev = admin_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
	results = rd_kafka_DeleteTopics_result_topics(
	    rd_kafka_event_DeleteTopics_result(ev), &n);
	assert_int_equal(n, 1);
	if (rd_kafka_topic_result_error(results[0]))
		fail_msg("could not delete \"%s\": %s", topic,
			 rd_kafka_topic_result_error_string(results[0]));
	rd_kafka_event_destroy(ev);
	rd_kafka_DeleteTopic_destroy(dt);
	rd_kafka_queue_destroy(q);
}

static int
suite_setup(void **state)
{
	struct suite *s = calloc(1, sizeof(*s));
	const char *env = getenv("SOUK_KAFKA_BROKERS");
	struct timespec ts;
	int64_t deadline;
	char err[512];
	int count;

	s->brokers = env && *env ? env : DEFAULT_BROKERS;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(s->topic, sizeof(s->topic), "souk-test-kafka-%ld-%ld", (long)getpid(),
		 (long)ts.tv_nsec);
	snprintf(s->group, sizeof(s->group), "%s-group", s->topic);
	if (souk_kafka_wait_ready(s->brokers, NULL, 0, TIMEOUT_MS, err, sizeof(err)))
		fail_msg("%s", err);
	s->producer = souk_kafka_producer_new(s->brokers, NULL, 0, 0, on_delivery, s, err,
					      sizeof(err));
	if (!s->producer)
		fail_msg("%s", err);
	create_topic(souk_kafka_producer_handle(s->producer), s->topic);

	/* the creation reaches every broker's metadata a little later */
	deadline = now_ms() + TIMEOUT_MS;
	while ((count = souk_kafka_partition_count(
		    souk_kafka_producer_handle(s->producer), s->topic, 5000, err,
		    sizeof(err))) != PARTITIONS &&
	       now_ms() < deadline)
		usleep(100 * 1000);
	if (count != PARTITIONS)
		fail_msg("topic \"%s\" has %d partitions: %s", s->topic, count, err);
	*state = s;
	return 0;
}

static int
suite_teardown(void **state)
{
	struct suite *s = *state;

	delete_topic(souk_kafka_producer_handle(s->producer), s->topic);
	souk_kafka_producer_destroy(s->producer);
	free(s);
	return 0;
}

static void
produce_all(struct suite *s)
{
	char key[32], value[64], idx[16], err[512];
	int i, rc;

	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		snprintf(value, sizeof(value), "{\"n\":%d,\"pad\":\"%0*d\"}", i, i % 20,
			 0);
		snprintf(idx, sizeof(idx), "%d", i);

		const struct souk_kafka_header h[] = {
		    {"idx", idx, strlen(idx)},
		    {"souk-null", NULL, 0},
		};

		rc = souk_kafka_produce(s->producer, s->topic, key, strlen(key), value,
					strlen(value), h, 2, &s->deliveries[i], err,
					sizeof(err));
		if (rc != SOUK_KAFKA_OK)
			fail_msg("message %d: %s", i, err);
		if (i % 100 == 0)
			souk_kafka_poll(s->producer, 0);
	}
	assert_int_equal(souk_kafka_flush(s->producer, TIMEOUT_MS), 0);
	assert_int_equal(souk_kafka_outq_len(s->producer), 0);
}

/* Checks one consumed message against what was produced and delivered. */
static void
check_message(struct suite *s, const rd_kafka_message_t *m, char *seen)
{
	rd_kafka_headers_t *hdrs = NULL;
	char key[32], value[64], idx[16];
	const void *hval;
	size_t hsize;
	int i;

	assert_non_null(m->key);
	assert_true(m->key_len < sizeof(key));
	memcpy(key, m->key, m->key_len);
	key[m->key_len] = '\0';
	assert_int_equal(sscanf(key, "key-%d", &i), 1);
	assert_true(i >= 0 && i < N);
	if (seen[i])
		fail_msg("message %d read twice", i);
	seen[i] = 1;

	snprintf(value, sizeof(value), "{\"n\":%d,\"pad\":\"%0*d\"}", i, i % 20, 0);
	assert_int_equal(m->len, strlen(value));
	assert_memory_equal(m->payload, value, m->len);

	assert_int_equal(rd_kafka_message_headers(m, &hdrs), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_header_cnt(hdrs), 2);
	assert_int_equal(rd_kafka_header_get_last(hdrs, "idx", &hval, &hsize),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	snprintf(idx, sizeof(idx), "%d", i);
	assert_int_equal(hsize, strlen(idx));
	assert_memory_equal(hval, idx, hsize);
	assert_int_equal(rd_kafka_header_get_last(hdrs, "souk-null", &hval, &hsize),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_null(hval);

	assert_int_equal(m->partition, s->deliveries[i].partition);
	assert_int_equal(m->offset, s->deliveries[i].offset);
}

static void
test_round_trip(void **state)
{
	struct suite *s = *state;
	struct rebalances reb = {0};
	struct souk_kafka_consumer *c;
	rd_kafka_topic_partition_list_t *committed;
	rd_kafka_message_t *batch[64];
	const char *topics[] = {s->topic};
	static char seen[N];
	int64_t deadline, low, total = 0;
	int i, got, received = 0, batches = 0;
	char err[512];

	produce_all(s);
	for (i = 0; i < N; i++) {
		struct delivery *d = &s->deliveries[i];

		if (d->reports != 1 || d->err)
			fail_msg("message %d: %d reports, error %s", i, d->reports,
				 d->errstr);
		assert_true(d->partition >= 0 && d->partition < PARTITIONS);
		assert_true(d->offset >= 0);
	}
	/* every delivered message was sent under a producer id from the broker */
	assert_true(souk_kafka_producer_idempotent(s->producer));

	c = souk_kafka_consumer_new(s->brokers, s->group, NULL, 0, on_rebalance, &reb,
				    err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	reb.rk = souk_kafka_consumer_handle(c);
	assert_int_equal(souk_kafka_consumer_subscribe(c, topics, 1, err, sizeof(err)),
			 SOUK_KAFKA_OK);
	deadline = now_ms() + TIMEOUT_MS;
	while (received < N && now_ms() < deadline) {
		got = souk_kafka_consumer_poll(c, batch, 64, 500, err, sizeof(err));
		if (got < 0)
			fail_msg("%s", err);
		batches += got > 0;
		for (i = 0; i < got; i++) {
			check_message(s, batch[i], seen);
			assert_int_equal(souk_kafka_consumer_store_offset(
					     c, s->topic, batch[i]->partition,
					     batch[i]->offset + 1, err, sizeof(err)),
					 SOUK_KAFKA_OK);
			rd_kafka_message_destroy(batch[i]);
		}
		received += got;
	}
	assert_int_equal(received, N);
	assert_true(batches < N); /* messages came in batches, not one by one */
	/* nothing more: every message was read once */
	assert_int_equal(souk_kafka_consumer_poll(c, batch, 64, 300, err, sizeof(err)),
			 0);
	assert_int_equal(reb.assigned, 1);
	assert_int_equal(reb.partitions_assigned, PARTITIONS);
	assert_string_equal(reb.protocol, "EAGER");

	assert_int_equal(souk_kafka_consumer_commit(c, NULL, err, sizeof(err)),
			 SOUK_KAFKA_OK);
	committed = rd_kafka_topic_partition_list_new(PARTITIONS);
	for (i = 0; i < PARTITIONS; i++)
		rd_kafka_topic_partition_list_add(committed, s->topic, i);
	assert_int_equal(
	    rd_kafka_committed(souk_kafka_consumer_handle(c), committed, TIMEOUT_MS),
	    RD_KAFKA_RESP_ERR_NO_ERROR);
	for (i = 0; i < PARTITIONS; i++) {
		if (souk_kafka_watermarks(souk_kafka_consumer_handle(c), s->topic, i,
					  &low, &s->high[i], TIMEOUT_MS, err,
					  sizeof(err)))
			fail_msg("%s", err);
		assert_int_equal(committed->elems[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
		assert_int_equal(committed->elems[i].offset, s->high[i]);
		total += s->high[i] - low;
	}
	assert_int_equal(total, N);
	rd_kafka_topic_partition_list_destroy(committed);

	assert_int_equal(souk_kafka_consumer_close(c, err, sizeof(err)), SOUK_KAFKA_OK);
	assert_int_equal(reb.revoked, 1);
	assert_int_equal(souk_kafka_consumer_poll(c, batch, 64, 0, err, sizeof(err)),
			 SOUK_KAFKA_ERROR);
	assert_non_null(strstr(err, "closed"));
	souk_kafka_consumer_destroy(c);
}

/* Reads partition p until a message comes; returns its offset. */
static int64_t
next_offset_of(struct souk_kafka_consumer *c, int32_t p)
{
	rd_kafka_message_t *batch[16];
	int64_t deadline = now_ms() + TIMEOUT_MS, offset = -1;
	char err[512];
	int i, got;

	while (offset < 0 && now_ms() < deadline) {
		got = souk_kafka_consumer_poll(c, batch, 16, 500, err, sizeof(err));
		if (got < 0)
			fail_msg("%s", err);
		for (i = 0; i < got; i++) {
			if (offset < 0 && batch[i]->partition == p)
				offset = batch[i]->offset;
			rd_kafka_message_destroy(batch[i]);
		}
	}
	return offset;
}

/* A reader that assigns partitions itself (as the matching pool will) and seeks. */
static void
test_assign_and_seek(void **state)
{
	struct suite *s = *state;
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	struct souk_kafka_consumer *c;
	char err[512], group[128];
	int32_t p = 0;

	assert_true(s->high[p] >= 2);
	snprintf(group, sizeof(group), "%s-reader", s->topic);
	c = souk_kafka_consumer_new(s->brokers, group, NULL, 0, NULL, NULL, err,
				    sizeof(err));
	if (!c)
		fail_msg("%s", err);
	rd_kafka_topic_partition_list_add(parts, s->topic, p)->offset = s->high[p] - 1;
	assert_int_equal(souk_kafka_consumer_assign(c, parts, err, sizeof(err)),
			 SOUK_KAFKA_OK);
	assert_int_equal(next_offset_of(c, p), s->high[p] - 1);
	assert_int_equal(
	    souk_kafka_consumer_seek(c, s->topic, p, 0, TIMEOUT_MS, err, sizeof(err)),
	    SOUK_KAFKA_OK);
	assert_int_equal(next_offset_of(c, p), 0);
	/* offsets of a partition not assigned cannot be stored */
	assert_int_equal(
	    souk_kafka_consumer_store_offset(c, s->topic, 1, 1, err, sizeof(err)),
	    SOUK_KAFKA_ERROR);
	assert_non_null(strstr(err, "could not store offset 1"));
	rd_kafka_topic_partition_list_destroy(parts);
	souk_kafka_consumer_destroy(c);
}

static void
test_metadata_of_missing_topic(void **state)
{
	struct suite *s = *state;
	char err[512], topic[128];

	snprintf(topic, sizeof(topic), "%s-missing", s->topic);
	assert_int_equal(
	    souk_kafka_partition_count(souk_kafka_producer_handle(s->producer), topic,
				       TIMEOUT_MS, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "does not exist"));
	assert_non_null(strstr(err, topic));
}

/* A full local queue is told apart from other errors (the gateway answers 503). */
static void
test_queue_full(void **state)
{
	const struct souk_kafka_prop props[] = {{"queue.buffering.max.messages", "1"}};
	struct souk_kafka_producer *p;
	char err[512];

	(void)state;
	/* nothing listens on port 1: the first message stays queued */
	p = souk_kafka_producer_new("127.0.0.1:1", props, 1, 1000, NULL, NULL, err,
				    sizeof(err));
	if (!p)
		fail_msg("%s", err);
	assert_int_equal(
	    souk_kafka_produce(p, "t", "k", 1, "v", 1, NULL, 0, NULL, err, sizeof(err)),
	    SOUK_KAFKA_OK);
	assert_int_equal(
	    souk_kafka_produce(p, "t", "k", 1, "v", 1, NULL, 0, NULL, err, sizeof(err)),
	    SOUK_KAFKA_QUEUE_FULL);
	assert_string_equal(err, "could not produce to \"t\": queue full");
	/* the queued message, and perhaps an error event not yet served */
	assert_true(souk_kafka_outq_len(p) >= 1);
	souk_kafka_producer_destroy(p);
}

/* Messages that cannot be delivered in message_timeout_ms fail in their report. */
static void
test_message_timeout_is_reported(void **state)
{
	struct suite s = {0};
	struct souk_kafka_producer *p;
	char err[512];

	(void)state;
	snprintf(s.topic, sizeof(s.topic), "t");
	p = souk_kafka_producer_new("127.0.0.1:1", NULL, 0, 300, on_delivery, &s, err,
				    sizeof(err));
	if (!p)
		fail_msg("%s", err);
	assert_int_equal(souk_kafka_produce(p, "t", NULL, 0, "v", 1, NULL, 0,
					    &s.deliveries[0], err, sizeof(err)),
			 SOUK_KAFKA_OK);
	assert_int_equal(souk_kafka_flush(p, 5000), 0);
	assert_int_equal(s.deliveries[0].reports, 1);
	assert_int_equal(s.deliveries[0].err, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
	assert_int_equal(s.deliveries[0].partition, -1);
	souk_kafka_producer_destroy(p);
}

static void
conf_value(rd_kafka_t *rk, const char *name, char *buf, size_t size)
{
	assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(rk), name, buf, &size),
			 RD_KAFKA_CONF_OK);
}

static void
test_properties(void **state)
{
	const struct souk_kafka_prop linger[] = {{"linger.ms", "20"}};
	const struct souk_kafka_prop acks[] = {{"linger.ms", "20"}, {"acks", "1"}};
	const struct souk_kafka_prop timeout[] = {{"message.timeout.ms", "1000"}};
	const struct souk_kafka_prop autocommit[] = {{"enable.auto.commit", "true"}};
	const struct souk_kafka_prop unknown[] = {{"no.such.property", "1"}};
	const struct souk_kafka_prop strategy[] = {
	    {"partition.assignment.strategy", "cooperative-sticky"}};
	struct souk_kafka_producer *p;
	struct souk_kafka_consumer *c;
	char err[512], v[64];

	(void)state;
	p = souk_kafka_producer_new("127.0.0.1:1", linger, 1, 12345, NULL, NULL, err,
				    sizeof(err));
	if (!p)
		fail_msg("%s", err);
	conf_value(souk_kafka_producer_handle(p), "linger.ms", v, sizeof(v));
	assert_string_equal(v, "20");
	conf_value(souk_kafka_producer_handle(p), "message.timeout.ms", v, sizeof(v));
	assert_string_equal(v, "12345");
	conf_value(souk_kafka_producer_handle(p), "acks", v, sizeof(v));
	assert_string_equal(v, "-1");
	assert_true(souk_kafka_producer_idempotent(p));
	souk_kafka_producer_destroy(p);

	assert_null(souk_kafka_producer_new("127.0.0.1:1", acks, 2, 0, NULL, NULL, err,
					    sizeof(err)));
	assert_string_equal(
	    err, "kafka property \"acks\" is set by souk and cannot be changed");
	assert_null(souk_kafka_producer_new("127.0.0.1:1", timeout, 1, 0, NULL, NULL, err,
					    sizeof(err)));
	assert_non_null(strstr(err, "\"message.timeout.ms\" is set by souk"));
	assert_null(souk_kafka_producer_new("127.0.0.1:1", unknown, 1, 0, NULL, NULL, err,
					    sizeof(err)));
	assert_non_null(strstr(err, "could not set kafka property \"no.such.property\""));

	assert_null(souk_kafka_consumer_new("127.0.0.1:1", "g", autocommit, 1, NULL, NULL,
					    err, sizeof(err)));
	assert_non_null(strstr(err, "\"enable.auto.commit\" is set by souk"));
	c = souk_kafka_consumer_new("127.0.0.1:1", "g", strategy, 1, NULL, NULL, err,
				    sizeof(err));
	if (!c)
		fail_msg("%s", err);
	conf_value(souk_kafka_consumer_handle(c), "partition.assignment.strategy", v,
		   sizeof(v));
	assert_string_equal(v, "cooperative-sticky");
	conf_value(souk_kafka_consumer_handle(c), "enable.auto.offset.store", v,
		   sizeof(v));
	assert_string_equal(v, "false");
	conf_value(souk_kafka_consumer_handle(c), "auto.offset.reset", v, sizeof(v));
	assert_string_equal(v, "smallest");
	souk_kafka_consumer_destroy(c);
}

static void
test_wait_ready_gives_up_by_the_deadline(void **state)
{
	int64_t start = now_ms(), elapsed;
	char err[512];

	(void)state;
	assert_int_equal(
	    souk_kafka_wait_ready("127.0.0.1:1", NULL, 0, 700, err, sizeof(err)),
	    SOUK_KAFKA_ERROR);
	elapsed = now_ms() - start;
	assert_true(elapsed >= 700 && elapsed < 3000);
	assert_non_null(
	    strstr(err, "kafka brokers 127.0.0.1:1 did not answer within 700 ms"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_assign_and_seek),
	    cmocka_unit_test(test_metadata_of_missing_topic),
	    cmocka_unit_test(test_queue_full),
	    cmocka_unit_test(test_message_timeout_is_reported),
	    cmocka_unit_test(test_properties),
	    cmocka_unit_test(test_wait_ready_gives_up_by_the_deadline),
	};

	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
