/*
 * replay_kafka: the metadata both halves of souk-replay ask the broker for: which
 * partitions a selection names, with their watermarks, and where a time falls in each
 * (Kafka's time index, one ListOffsets request for all of them).
 */
#ifndef REPLAY_KAFKA_H
#define REPLAY_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "replay_select.h"

/* How long one metadata request may take. */
#define REPLAY_KAFKA_TIMEOUT_MS 10000

struct replay_kafka_part {
	int32_t partition;
	int64_t low;  /* the earliest offset kept */
	int64_t high; /* the next offset to be written */
};

/*
 * The partitions of topic that sel takes, in partition order, with their watermarks,
 * into *out (the caller frees it) and *n, and the topic's partition count into *count
 * (if not NULL). Fails when the topic does not exist or sel names a partition it does
 * not have. One metadata request, then one watermark request per partition.
 */
int replay_kafka_partitions(rd_kafka_t *rk, const char *topic,
			    const struct replay_selection *sel,
			    struct replay_kafka_part **out, size_t *n, int *count,
			    char *errstr, size_t errstr_size);

/*
 * For each of the n partitions, the offset of the first message whose timestamp is
 * >= ts_ms, or -1 when there is none (every message is older), into offsets[i].
 */
int replay_kafka_lookup(rd_kafka_t *rk, const char *topic,
			const struct replay_kafka_part *parts, size_t n, int64_t ts_ms,
			int64_t *offsets, char *errstr, size_t errstr_size);

#endif
