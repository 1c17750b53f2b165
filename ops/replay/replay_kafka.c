/* replay_kafka: see replay_kafka.h. */
#include "replay_kafka.h"

#include <stdio.h>
#include <stdlib.h>

#include "souk_kafka.h"

int
replay_kafka_partitions(rd_kafka_t *rk, const char *topic,
			const struct replay_selection *sel,
			struct replay_kafka_part **out, size_t *n, int *count_out,
			char *errstr, size_t errstr_size)
{
	struct replay_kafka_part *parts = NULL;
	int count, rc = -1;
	size_t k = 0;

	count = souk_kafka_partition_count(rk, topic, REPLAY_KAFKA_TIMEOUT_MS, errstr,
					   errstr_size);
	if (count < 0)
		goto out;
	for (int32_t p = count; !sel->all_partitions && p < REPLAY_MAX_PARTITIONS; p++) {
		if (sel->partitions[p]) {
			snprintf(errstr, errstr_size,
				 "kafka topic \"%s\" has no partition %d (it has %d)",
				 topic, (int)p, count);
			goto out;
		}
	}
	parts = calloc((size_t)count, sizeof(*parts));
	if (!parts && count > 0) {
		snprintf(errstr, errstr_size, "could not allocate %d partitions", count);
		goto out;
	}
	for (int32_t p = 0; p < count; p++) {
		if (!replay_selection_has(sel, p))
			continue;
		parts[k].partition = p;
		if (souk_kafka_watermarks(rk, topic, p, &parts[k].low, &parts[k].high,
					  REPLAY_KAFKA_TIMEOUT_MS, errstr, errstr_size))
			goto out;
		k++;
	}
	*out = parts;
	parts = NULL; /* the caller's */
	*n = k;
	if (count_out)
		*count_out = count;
	rc = 0;
out:
	free(parts);
	return rc;
}

int
replay_kafka_lookup(rd_kafka_t *rk, const char *topic,
		    const struct replay_kafka_part *parts, size_t n, int64_t ts_ms,
		    int64_t *offsets, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list =
	    rd_kafka_topic_partition_list_new((int)(n ? n : 1));
	rd_kafka_resp_err_t err;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(list, topic, parts[i].partition)
		    ->offset = ts_ms;
	err = n ? rd_kafka_offsets_for_times(rk, list, REPLAY_KAFKA_TIMEOUT_MS)
		: RD_KAFKA_RESP_ERR_NO_ERROR;
	for (size_t i = 0; i < n && !err; i++) {
		rd_kafka_topic_partition_t *tp =
		    rd_kafka_topic_partition_list_find(list, topic, parts[i].partition);

		if (!tp || tp->err) {
			err = tp ? tp->err : RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
			break;
		}
		/* librdkafka answers RD_KAFKA_OFFSET_END (-1) when no message is that
		 * recent */
		offsets[i] = tp->offset < 0 ? -1 : tp->offset;
	}
	if (err) {
		snprintf(errstr, errstr_size,
			 "could not look up time %lld in kafka topic \"%s\": %s",
			 (long long)ts_ms, topic, rd_kafka_err2str(err));
		goto out;
	}
	rc = 0;
out:
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}
