/*
 * The worker runtime against the real stack, with a small pool defined here: it
 * records every order it applies in a table whose primary key is the order_id (so an
 * order applied twice cannot commit) and emits one result per order.
 *
 * Checked, in order (each test builds on the state the earlier ones left):
 *   - every decodable order applied exactly once, one result each with its
 *     souk-result-id, undecodable lines and invalid keys on <topic>.dlq with
 *     souk-error, the stored offsets at the end of every partition;
 *   - a pool failure (SOUK_POOL_FAIL) isolates the batch: the poison event goes to the
 *     DLQ, the rest of its batch applies;
 *   - a restart applies only what is new;
 *   - a zombie: another consumer claims a partition while the runtime holds it, the
 *     runtime's next batch for it rolls back (nothing applied), and the new owner
 *     applies those events exactly once.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "souk_config.h"
#include "souk_kafka.h"
#include "souk_log.h"
#include "souk_offsets.h"
#include "souk_pg.h"
#include "souk_runtime.h"
#include "souk_uuid.h"

#define PARTITIONS 3
#define WAIT_MS 30000

static char topic[64], dlq_topic[80], results_topic[80], group[64], table[64];
static const char *brokers, *dsn;
static struct souk_pg *pg;
static struct souk_kafka_producer *producer;
static int delivered;

/* ---- the pool under test ------------------------------------------------------ */

struct test_pool_state {
	struct souk_pg *pg;
};

static int
test_pool_open(void **state, const struct souk_pool_env *env, struct souk_pg *tpg,
	       char *errstr, size_t errstr_size)
{
	struct test_pool_state *s = calloc(1, sizeof(*s));
	char sql[256];

	(void)env;
	s->pg = tpg;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (order_id, valid, topic_partition, off) VALUES ($1, $2, "
		 "$3, $4)",
		 table);
	*state = s;
	return souk_pg_prepare(tpg, "test_apply", sql, 4, errstr, errstr_size);
}

static void
test_pool_close(void *state)
{
	free(state);
}

static enum souk_pool_status
test_pool_apply(void *state, struct souk_txn *t, struct souk_pool_event *events, size_t n,
		char *errstr, size_t errstr_size)
{
	struct test_pool_state *s = state;

	for (size_t i = 0; i < n; i++) {
		struct souk_pool_event *e = &events[i];
		char part[16], off[24], result_id[SOUK_UUID_STRLEN + 1], value[256];
		const char *v[4] = {e->ev.order.order_id,
				    e->status == SOUK_EVENT_OK ? "t" : "f", part, off};
		int len;

		if (e->status == SOUK_EVENT_EFIELD && !e->ev.order.order_id[0]) {
			/* No order_id to answer: the DLQ is its decision. */
			char reason[300];

			snprintf(reason, sizeof(reason), "efield: %s", e->err.message);
			if (souk_txn_dlq(t, e, reason))
				return SOUK_POOL_RETRY;
			continue;
		}
		if (!strncmp(e->ev.order.order_id, "poison", 6)) {
			snprintf(errstr, errstr_size, "order %s is poison",
				 e->ev.order.order_id);
			return SOUK_POOL_FAIL;
		}
		snprintf(part, sizeof(part), "%d", (int)e->partition);
		snprintf(off, sizeof(off), "%" PRId64, e->offset);
		if (souk_pg_exec_prepared(souk_txn_pg(t), "test_apply", 4, v, NULL,
					  errstr, errstr_size))
			return SOUK_POOL_FAIL;
		souk_uuid_derive("test", e->ev.order.order_id, 0, result_id);
		len = snprintf(value, sizeof(value), "{\"order_id\":\"%s\"}",
			       e->ev.order.order_id);
		if (souk_txn_emit(t, e, results_topic, e->ev.order.order_id, value,
				  (size_t)len, result_id))
			return SOUK_POOL_RETRY;
	}
	(void)s;
	return SOUK_POOL_OK;
}

static const char *const test_topics[] = {topic, NULL};

static const struct souk_pool test_pool = {
    .name = "test",
    .topics = test_topics,
    .default_group = group,
    .open = test_pool_open,
    .close = test_pool_close,
    .apply = test_pool_apply,
};

/* ---- helpers ------------------------------------------------------------------ */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_delivery(void *opaque, void *msg_opaque, const char *t, int32_t partition,
	    int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	(void)opaque, (void)msg_opaque, (void)t, (void)partition, (void)offset;
	assert_int_equal(err, 0);
	(void)errstr;
	delivered++;
}

/* Produces one line to partition (-1: by key). */
static void
produce(const char *key, const char *line, int32_t partition)
{
	char errstr[256];
	rd_kafka_t *rk = souk_kafka_producer_handle(producer);
	rd_kafka_resp_err_t err;

	if (partition < 0) {
		assert_int_equal(souk_kafka_produce(producer, topic, key, strlen(key),
						    line, strlen(line), NULL, 0, NULL,
						    errstr, sizeof(errstr)),
				 0);
		return;
	}
	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
				RD_KAFKA_V_PARTITION(partition),
				RD_KAFKA_V_KEY(key, strlen(key)),
				RD_KAFKA_V_VALUE((void *)line, strlen(line)),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	assert_int_equal(err, 0);
}

static void
produce_order(const char *order_id, int qty, int32_t partition)
{
	char line[512], event_id[SOUK_UUID_STRLEN + 1];

	souk_uuid_random(event_id);
	snprintf(line, sizeof(line),
		 "{\"event_id\":\"%s\",\"type\":\"order\",\"version\":1,"
		 "\"ts\":\"2026-11-27T12:00:00.000Z\",\"client_id\":\"test\","
		 "\"order_id\":\"%s\",\"user_id\":\"u\",\"sku\":\"S\",\"qty\":%d}",
		 event_id, order_id, qty);
	produce(order_id, line, partition);
}

static void
flush_all(int expect)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (delivered < expect && now_ms() < deadline)
		souk_kafka_poll(producer, 100);
	assert_int_equal(delivered, expect);
}

static long
query_long(const char *sql)
{
	char errstr[256];
	PGresult *res = NULL;
	long v;

	assert_int_equal(souk_pg_exec(pg, sql, &res, errstr, sizeof(errstr)), 0);
	v = PQgetisnull(res, 0, 0) ? -1 : strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static long
applied(void)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return query_long(sql);
}

/* Waits until sql returns want; returns what it last returned. */
static long
wait_for(const char *sql, long want)
{
	int64_t deadline = now_ms() + WAIT_MS;
	long v;

	while ((v = query_long(sql)) != want && now_ms() < deadline)
		usleep(100 * 1000);
	return v;
}

static long
wait_applied(long want)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	return wait_for(sql, want);
}

/* Every message of t: count, and how many carry header name (with "souk-error" and
 * want_prefix, how many errors start with it). */
static int
read_topic(const char *t, const char *header, const char *want_prefix, int *with_header,
	   int *prefixed)
{
	char errstr[256], g[96];
	struct souk_kafka_consumer *c;
	const char *const topics[] = {t, NULL};
	int n = 0;
	int64_t idle_until = now_ms() + 5000;

	snprintf(g, sizeof(g), "%s-reader-%" PRId64, group, now_ms());
	c = souk_kafka_consumer_new(brokers, g, NULL, 0, NULL, NULL, errstr,
				    sizeof(errstr));
	assert_non_null(c);
	assert_int_equal(
	    souk_kafka_consumer_subscribe(c, topics, 1, errstr, sizeof(errstr)), 0);
	*with_header = *prefixed = 0;
	while (now_ms() < idle_until) {
		rd_kafka_message_t *msgs[64];
		int got =
		    souk_kafka_consumer_poll(c, msgs, 64, 200, errstr, sizeof(errstr));

		for (int i = 0; i < got; i++) {
			rd_kafka_headers_t *h = NULL;
			const void *v;
			size_t len;

			n++;
			if (rd_kafka_message_headers(msgs[i], &h) == 0 &&
			    rd_kafka_header_get_last(h, header, &v, &len) == 0) {
				(*with_header)++;
				if (want_prefix && len >= strlen(want_prefix) &&
				    !memcmp(v, want_prefix, strlen(want_prefix)))
					(*prefixed)++;
			}
			rd_kafka_message_destroy(msgs[i]);
			idle_until = now_ms() + 2000;
		}
	}
	souk_kafka_consumer_destroy(c);
	return n;
}

/* The value of one metric line ("name{labels}") on the runtime's /metrics, -1 if absent.
 */
static long
metric(struct souk_runtime *rt, const char *series)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)souk_runtime_http_port(rt))};
	char buf[65536], req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	const char *at;

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	at = strstr(buf, series);
	return at ? strtol(at + strlen(series), NULL, 10) : -1;
}

static struct souk_config *
config_new(void)
{
	static const struct souk_config_def *const tables[] = {souk_config_common,
							       souk_runtime_config, NULL};
	const char *sets[] = {"worker.threads=2",
			      "worker.batch_max=50",
			      "worker.poll_timeout=50ms",
			      "kafka.session.timeout.ms=6000",
			      "kafka.heartbeat.interval.ms=500",
			      "worker.drain_timeout=5s"};
	char errstr[256];
	struct souk_config *cfg = souk_config_new(tables, errstr, sizeof(errstr));

	assert_non_null(cfg);
	assert_int_equal(souk_config_load(cfg, NULL, 6, sets, errstr, sizeof(errstr)), 0);
	return cfg;
}

static void
create_topics(void)
{
	rd_kafka_t *rk = souk_kafka_producer_handle(producer);
	const char *names[] = {topic, dlq_topic, results_topic};
	rd_kafka_NewTopic_t *nt[3];
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;
	char errstr[256];

	for (int i = 0; i < 3; i++)
		nt[i] = rd_kafka_NewTopic_new(names[i], PARTITIONS, 1, errstr,
					      sizeof(errstr));
	rd_kafka_CreateTopics(rk, nt, 3, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	assert_non_null(ev);
	assert_int_equal(rd_kafka_event_error(ev), 0);
	rd_kafka_event_destroy(ev);
	for (int i = 0; i < 3; i++)
		rd_kafka_NewTopic_destroy(nt[i]);
	rd_kafka_queue_destroy(q);
	sleep(1); /* metadata propagation to the consumer side */
}

static void
delete_topics(void)
{
	rd_kafka_t *rk = souk_kafka_producer_handle(producer);
	const char *names[] = {topic, dlq_topic, results_topic};
	rd_kafka_DeleteTopic_t *dt[3];
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;

	for (int i = 0; i < 3; i++)
		dt[i] = rd_kafka_DeleteTopic_new(names[i]);
	rd_kafka_DeleteTopics(rk, dt, 3, NULL, q);
	ev = rd_kafka_queue_poll(q, 30000);
	if (ev)
		rd_kafka_event_destroy(ev);
	for (int i = 0; i < 3; i++)
		rd_kafka_DeleteTopic_destroy(dt[i]);
	rd_kafka_queue_destroy(q);
}

/* ---- tests --------------------------------------------------------------------- */

static int
setup(void **state)
{
	char errstr[256], sql[512];
	unsigned run = (unsigned)getpid();

	(void)state;
	souk_log_set_level(SOUK_LOG_LEVEL_WARN);
	brokers = getenv("SOUK_KAFKA_BROKERS") ? getenv("SOUK_KAFKA_BROKERS")
					       : "127.0.0.1:19092";
	dsn = getenv("SOUK_PG_DSN") ? getenv("SOUK_PG_DSN")
				    : "host=127.0.0.1 port=15432 dbname=souk user=souk";
	snprintf(topic, sizeof(topic), "runtime-test-%u", run);
	snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", topic);
	snprintf(results_topic, sizeof(results_topic), "%s.results", topic);
	snprintf(group, sizeof(group), "runtime-test-%u", run);
	snprintf(table, sizeof(table), "runtime_test_%u", run);
	pg = souk_pg_connect(dsn, 10000, errstr, sizeof(errstr));
	assert_non_null(pg);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE %s (order_id text PRIMARY KEY, valid boolean NOT NULL, "
		 "topic_partition int NOT NULL, off bigint NOT NULL)",
		 table);
	assert_int_equal(souk_pg_exec(pg, sql, NULL, errstr, sizeof(errstr)), 0);
	producer = souk_kafka_producer_new(brokers, NULL, 0, 10000, on_delivery, NULL,
					   errstr, sizeof(errstr));
	assert_non_null(producer);
	create_topics();
	return 0;
}

static int
teardown(void **state)
{
	char errstr[256], sql[512];

	(void)state;
	snprintf(sql, sizeof(sql),
		 "DROP TABLE %s; DELETE FROM consumer_offsets WHERE group_id = '%s'; "
		 "DELETE FROM outbox WHERE source_topic = '%s'; "
		 "DELETE FROM outbox_relay WHERE source_topic = '%s'",
		 table, group, topic, topic);
	souk_pg_exec(pg, sql, NULL, errstr, sizeof(errstr));
	souk_pg_destroy(pg);
	delete_topics();
	souk_kafka_producer_destroy(producer);
	return 0;
}

/* 150 orders, 4 undecodable lines, 3 invalid orders with a valid key, 2 with an
 * invalid key: 153 applied, 6 to the DLQ. */
static void
test_applies_once_with_results_and_dlq(void **state)
{
	struct souk_config *cfg = config_new();
	struct souk_runtime *rt;
	char errstr[256], sql[256], id[32];
	int with, prefixed, sent = 0;

	(void)state;
	for (int i = 0; i < 150; i++, sent++) {
		snprintf(id, sizeof(id), "o-%d", i);
		produce_order(id, 1, -1);
	}
	produce("k", "not json", -1), sent++;
	produce("k", "{\"type\":\"order\"}", -1), sent++;
	produce(
	    "k",
	    "{\"event_id\":\"6f1c2a70-0b7e-4c55-9a53-1f0d2c9e8a01\",\"type\":\"nope\","
	    "\"version\":1,\"ts\":\"2026-11-27T12:00:00.000Z\",\"client_id\":\"t\"}",
	    -1),
	    sent++;
	produce(
	    "k",
	    "{\"event_id\":\"6f1c2a70-0b7e-4c55-9a53-1f0d2c9e8a01\",\"type\":\"order\","
	    "\"version\":9,\"ts\":\"2026-11-27T12:00:00.000Z\",\"client_id\":\"t\"}",
	    -1),
	    sent++;
	for (int i = 0; i < 3; i++, sent++) {
		snprintf(id, sizeof(id), "bad-qty-%d", i);
		produce_order(id, 0, -1); /* decodes, breaks a rule, key valid */
	}
	produce_order("has space", 1, -1), sent++; /* invalid key */
	produce_order("", 1, -1), sent++;
	flush_all(sent);

	rt = souk_runtime_new(&test_pool, cfg, NULL, errstr, sizeof(errstr));
	assert_non_null(rt);
	assert_int_equal(wait_applied(153), 153);
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE "
		 "group_id = '%s'",
		 group);
	assert_int_equal(wait_for(sql, sent), sent);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE NOT valid", table);
	assert_int_equal(query_long(sql), 3);
	/* Every result published and marked. */
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM outbox_pending WHERE source_topic = '%s'", topic);
	assert_int_equal(wait_for(sql, 0), 0);
	/* Each DLQ entry counted once, when its batch committed. */
	assert_int_equal(
	    metric(rt, "souk_worker_events_total{pool=\"test\",outcome=\"dlq\"} "), 6);
	assert_int_equal(souk_runtime_stop(rt), 0);
	souk_config_destroy(cfg);

	assert_int_equal(
	    read_topic(results_topic, "souk-result-id", NULL, &with, &prefixed), 153);
	assert_int_equal(with, 153);
	assert_int_equal(read_topic(dlq_topic, "souk-error", "e", &with, &prefixed), 6);
	assert_int_equal(with, 6);
	assert_int_equal(prefixed, 6); /* ejson, eenvelope, etype, eversion, 2 efield */
}

/* A poison order in a batch: it goes to the DLQ, its neighbours apply. */
static void
test_poison_is_isolated(void **state)
{
	struct souk_config *cfg = config_new();
	struct souk_runtime *rt;
	char errstr[256], id[32];
	int with, prefixed, base = delivered;

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), i == 4 ? "poison-%d" : "p-%d", i);
		produce_order(id, 1, 0);
	}
	flush_all(base + 10);
	rt = souk_runtime_new(&test_pool, cfg, NULL, errstr, sizeof(errstr));
	assert_non_null(rt);
	assert_int_equal(wait_applied(153 + 9), 153 + 9);
	assert_int_equal(souk_runtime_stop(rt), 0);
	souk_config_destroy(cfg);
	assert_int_equal(read_topic(dlq_topic, "souk-error", "apply: order poison-4",
				    &with, &prefixed),
			 7);
	assert_int_equal(prefixed, 1);
}

/* A paused zombie: another consumer claims partition 1 behind the runtime's back. */
static void
test_zombie_applies_nothing(void **state)
{
	struct souk_config *cfg = config_new();
	struct souk_runtime *rt;
	char errstr[256], id[32], sql[256];
	int64_t epoch, next;
	int base = delivered;
	long before = applied(), epochs;
	int64_t deadline = now_ms() + WAIT_MS;

	(void)state;
	snprintf(sql, sizeof(sql),
		 "SELECT sum(epoch) FROM consumer_offsets WHERE group_id = '%s'", group);
	epochs = query_long(sql);
	rt = souk_runtime_new(&test_pool, cfg, NULL, errstr, sizeof(errstr));
	assert_non_null(rt);
	/* Let it claim every partition (each claim bumps an epoch), and the group settle:
	 * no claim for two seconds. */
	while (query_long(sql) < epochs + PARTITIONS && now_ms() < deadline)
		usleep(100 * 1000);
	for (long last = -1, settled = 0; settled < 20 && now_ms() < deadline;
	     usleep(100 * 1000)) {
		long now = query_long(sql);

		settled = now == last ? settled + 1 : 0;
		last = now;
	}
	assert_true(query_long(sql) >= epochs + PARTITIONS);

	/* The new owner claims partition 1 (as a rebalance elsewhere would). */
	assert_int_equal(souk_offsets_prepare(pg, errstr, sizeof(errstr)), 0);
	assert_int_equal(souk_offsets_claim(pg, group, topic, 1, 0, &epoch, &next, errstr,
					    sizeof(errstr)),
			 0);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "z1-%d", i);
		produce_order(id, 1, 1);
		snprintf(id, sizeof(id), "z2-%d", i);
		produce_order(id, 1, 2);
	}
	flush_all(base + 10);
	/* Partition 2 is still the runtime's: applied. Partition 1's batch is fenced. */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE order_id LIKE 'z2-%%'",
		 table);
	assert_int_equal(wait_for(sql, 5), 5);
	sleep(2);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE order_id LIKE 'z1-%%'",
		 table);
	assert_int_equal(query_long(sql), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT next_offset FROM consumer_offsets WHERE group_id = '%s' AND "
		 "topic = '%s' "
		 "AND partition = 1",
		 group, topic);
	assert_int_equal(query_long(sql), next); /* the zombie moved nothing */
	assert_int_equal(souk_runtime_stop(rt), 0);
	souk_config_destroy(cfg);

	/* The next owner applies them, once. */
	cfg = config_new();
	rt = souk_runtime_new(&test_pool, cfg, NULL, errstr, sizeof(errstr));
	assert_non_null(rt);
	assert_int_equal(wait_applied(before + 10), before + 10);
	sleep(1);
	assert_int_equal(applied(), before + 10);
	assert_int_equal(souk_runtime_stop(rt), 0);
	souk_config_destroy(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_applies_once_with_results_and_dlq),
	    cmocka_unit_test(test_poison_is_isolated),
	    cmocka_unit_test(test_zombie_applies_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
