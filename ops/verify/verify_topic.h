/*
 * verify_topic: reads one topic's messages from a time on, up to the high watermarks
 * of when the read began, every partition, with a handle that never joins a group nor
 * commits.
 */
#ifndef VERIFY_TOPIC_H
#define VERIFY_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Called for each message, partition by partition in offset order. result_id is the
 * souk-result-id header ("" when none). Returns 0 to go on, -1 to stop (out of
 * memory). */
typedef int verify_topic_cb(const rd_kafka_message_t *m, const char *result_id,
			    void *opaque);

/* A consumer handle on brokers for verify_topic_read; NULL with errstr. */
rd_kafka_t *verify_topic_handle(const char *brokers, char *errstr, size_t errstr_size);

/*
 * Calls cb for every message of topic whose timestamp is since_ms or later (the
 * first such offset of each partition onwards), up to the first stamped until_ms or
 * later (until_ms 0: the high watermarks read at the start). *count gets the messages
 * read. A topic that does not exist reads as empty.
 * Returns 0, or -1 with errstr (Kafka unreachable, a partition not read in 30 s, cb
 * stopped).
 */
int verify_topic_read(rd_kafka_t *rk, const char *topic, int64_t since_ms,
		      int64_t until_ms, verify_topic_cb *cb, void *opaque, int64_t *count,
		      char *errstr, size_t errstr_size);

#endif
