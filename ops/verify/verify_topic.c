/*
 * verify_topic: see verify_topic.h.
 */
#include "verify_topic.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_kafka.h"

#define VERIFY_TOPIC_TIMEOUT_MS 30000

rd_kafka_t *
verify_topic_handle(const char *brokers, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;

	/* librdkafka's consumer wants a group id; this handle only assigns */
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) ||
	    rd_kafka_conf_set(conf, "group.id", "souk-verify", errstr, errstr_size) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "false", errstr,
			      errstr_size)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* The souk-result-id header of m into id ("" when none). */
static void
verify_topic_result_id(const rd_kafka_message_t *m, char *id, size_t size)
{
	rd_kafka_headers_t *hdrs = NULL;
	const void *v;
	size_t len;

	id[0] = '\0';
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(hdrs, "souk-result-id", &v, &len) ==
		RD_KAFKA_RESP_ERR_NO_ERROR &&
	    len < size) {
		memcpy(id, v, len);
		id[len] = '\0';
	}
}

int
verify_topic_read(rd_kafka_t *rk, const char *topic, int64_t since_ms, int64_t until_ms,
		  verify_topic_cb *cb, void *opaque, int64_t *count, char *errstr,
		  size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	int64_t *high = NULL, *next = NULL;
	int n, rc = -1;

	*count = 0;
	n = souk_kafka_partition_count(rk, topic, VERIFY_TOPIC_TIMEOUT_MS, errstr,
				       errstr_size);
	if (n <= 0)
		return n == 0 || strstr(errstr, "does not exist") ||
			       strstr(errstr, "Unknown topic")
			   ? 0
			   : -1;
	high = calloc((size_t)n, sizeof(*high));
	next = calloc((size_t)n, sizeof(*next));
	list = rd_kafka_topic_partition_list_new(n);
	if (!high || !next || !list) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	for (int32_t p = 0; p < n; p++) {
		int64_t low;

		if (souk_kafka_watermarks(rk, topic, p, &low, &high[p],
					  VERIFY_TOPIC_TIMEOUT_MS, errstr, errstr_size))
			goto out;
		rd_kafka_topic_partition_list_add(list, topic, p)->offset = since_ms;
	}
	if (until_ms > 0) { /* the end: the first offset stamped until_ms or later */
		rd_kafka_topic_partition_list_t *end =
		    rd_kafka_topic_partition_list_copy(list);

		for (int i = 0; i < end->cnt; i++)
			end->elems[i].offset = until_ms;
		if (rd_kafka_offsets_for_times(rk, end, VERIFY_TOPIC_TIMEOUT_MS)) {
			rd_kafka_topic_partition_list_destroy(end);
			snprintf(errstr, errstr_size,
				 "could not find the offsets of %s at %lld", topic,
				 (long long)until_ms);
			goto out;
		}
		for (int i = 0; i < end->cnt; i++)
			if (end->elems[i].offset >= 0 &&
			    end->elems[i].offset < high[end->elems[i].partition])
				high[end->elems[i].partition] = end->elems[i].offset;
		rd_kafka_topic_partition_list_destroy(end);
	}
	if (rd_kafka_offsets_for_times(rk, list, VERIFY_TOPIC_TIMEOUT_MS)) {
		snprintf(errstr, errstr_size, "could not find the offsets of %s at %lld",
			 topic, (long long)since_ms);
		goto out;
	}
	for (int i = 0; i < list->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &list->elems[i];

		if (tp->offset < 0 || tp->offset > high[tp->partition])
			tp->offset = high[tp->partition]; /* nothing that recent */
		next[tp->partition] = tp->offset;
	}
	if (rd_kafka_assign(rk, list)) {
		snprintf(errstr, errstr_size, "could not assign %s", topic);
		goto out;
	}
	for (;;) {
		rd_kafka_message_t *m;
		char result_id[64];
		bool done = true;

		for (int32_t p = 0; p < n && done; p++)
			done = next[p] >= high[p];
		if (done)
			break;
		if (!(m = rd_kafka_consumer_poll(rk, VERIFY_TOPIC_TIMEOUT_MS))) {
			snprintf(errstr, errstr_size, "no message from %s in %d s", topic,
				 VERIFY_TOPIC_TIMEOUT_MS / 1000);
			goto unassign;
		}
		if (!m->err && m->partition < n && m->offset < high[m->partition]) {
			next[m->partition] = m->offset + 1;
			verify_topic_result_id(m, result_id, sizeof(result_id));
			(*count)++;
			if (cb(m, result_id, opaque)) {
				rd_kafka_message_destroy(m);
				snprintf(errstr, errstr_size, "out of memory");
				goto unassign;
			}
		}
		rd_kafka_message_destroy(m);
	}
	rc = 0;
unassign:
	rd_kafka_assign(rk, NULL);
out:
	if (list)
		rd_kafka_topic_partition_list_destroy(list);
	free(high);
	free(next);
	return rc;
}
