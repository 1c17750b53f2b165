/*
 * souk_kafka: the idempotent producer and the manually committing consumer
 * every souk component uses, over librdkafka 2.0.2, plus metadata helpers.
 *
 * Extra properties are librdkafka's own names and values (the config's kafka.*
 * keys without the prefix); they are applied after souk's defaults, so they
 * override them, except the settings the delivery guarantees rest on and those
 * given as parameters (brokers, group, message timeout), which they may not
 * name at all (the call fails and says which).
 *
 * A producer may be shared by threads (librdkafka's is thread-safe); a
 * consumer is used by one thread.
 */
#ifndef SOUK_KAFKA_H
#define SOUK_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define SOUK_KAFKA_DEFAULT_MESSAGE_TIMEOUT_MS 30000

/* One librdkafka property, e.g. {"linger.ms", "20"}. */
struct souk_kafka_prop {
	const char *name;
	const char *value;
};

/* One message header; value may be NULL (a null header value). */
struct souk_kafka_header {
	const char *name;
	const void *value;
	size_t value_len;
};

enum souk_kafka_status {
	SOUK_KAFKA_OK = 0,
	SOUK_KAFKA_ERROR = -1,
	/* the producer queue is full: not produced, try later (the gateway answers 503)
	 */
	SOUK_KAFKA_QUEUE_FULL = -2,
	/* the handle hit a fatal error and can do nothing more: destroy it */
	SOUK_KAFKA_FATAL = -3,
};

/* ---- producer ---- */

/*
 * Called once per produced message, on the thread that calls
 * souk_kafka_poll or souk_kafka_flush. msg_opaque is the value given to
 * souk_kafka_produce. When err is set, partition and offset are -1 and
 * errstr describes err; otherwise errstr is NULL.
 */
typedef void souk_kafka_delivery_cb(void *opaque, void *msg_opaque, const char *topic,
				    int32_t partition, int64_t offset,
				    rd_kafka_resp_err_t err, const char *errstr);

struct souk_kafka_producer;

/*
 * Creates a producer for brokers with enable.idempotence=true and acks=all
 * (extra properties may not name them), message.timeout.ms =
 * message_timeout_ms (0: SOUK_KAFKA_DEFAULT_MESSAGE_TIMEOUT_MS; extra
 * properties may not name it, callers bound it by their own deadline) and
 * linger.ms=5 (extra properties may change it). on_delivery may be NULL.
 * Returns NULL with errstr on failure.
 */
struct souk_kafka_producer *souk_kafka_producer_new(const char *brokers,
						    const struct souk_kafka_prop *props,
						    size_t nprops, int message_timeout_ms,
						    souk_kafka_delivery_cb *on_delivery,
						    void *opaque, char *errstr,
						    size_t errstr_size);

/* Destroys without waiting: call souk_kafka_flush first to deliver what is queued. */
void souk_kafka_producer_destroy(struct souk_kafka_producer *p);

/*
 * Queues one message (key, value and headers are copied; key and value may be
 * NULL). Returns SOUK_KAFKA_OK (the delivery callback will tell the outcome),
 * SOUK_KAFKA_QUEUE_FULL, SOUK_KAFKA_FATAL or SOUK_KAFKA_ERROR.
 */
int souk_kafka_produce(struct souk_kafka_producer *p, const char *topic, const void *key,
		       size_t keylen, const void *value, size_t valuelen,
		       const struct souk_kafka_header *headers, size_t nheaders,
		       void *msg_opaque, char *errstr, size_t errstr_size);

/*
 * A handle on one topic of p, for souk_kafka_produce_ref. souk_kafka_produce looks the
 * topic up by name for every message, under a lock librdkafka's own threads take too;
 * a sender of many messages looks it up once. Destroy every handle before p. Returns
 * NULL with errstr on failure.
 */
struct souk_kafka_topic;
struct souk_kafka_topic *souk_kafka_topic_new(struct souk_kafka_producer *p,
					      const char *topic, char *errstr,
					      size_t errstr_size);
void souk_kafka_topic_destroy(struct souk_kafka_topic *t);

/*
 * Like souk_kafka_produce without headers, for bulk senders: the value is not copied but
 * referenced until its delivery callback has run, so the caller must keep it alive and
 * unchanged until then (the key is copied). Saves a copy of the value and a larger
 * malloc per message.
 */
int souk_kafka_produce_ref(struct souk_kafka_topic *t, const void *key, size_t keylen,
			   const void *value, size_t valuelen, void *msg_opaque,
			   char *errstr, size_t errstr_size);

/* Serves delivery callbacks, waiting up to timeout_ms; returns how many events it served.
 */
int souk_kafka_poll(struct souk_kafka_producer *p, int timeout_ms);

/*
 * Waits up to timeout_ms for every queued message to be delivered or to fail,
 * serving delivery callbacks. Returns how many messages and requests are still
 * outstanding (0: all done).
 */
int souk_kafka_flush(struct souk_kafka_producer *p, int timeout_ms);

/*
 * Messages and requests not yet acknowledged, plus events (delivery reports,
 * errors) not yet served.
 */
int souk_kafka_outq_len(struct souk_kafka_producer *p);

/*
 * True when the producer runs with enable.idempotence=true (read back from the
 * instance's configuration) and has not hit a fatal error. librdkafka sends no
 * message before the broker gave it a producer id, and fails them all fatally
 * when no broker supports idempotence, so a delivered message plus true here
 * means the broker accepted it as idempotent.
 */
bool souk_kafka_producer_idempotent(struct souk_kafka_producer *p);

/* The librdkafka handle, still owned by p (for admin calls and metadata helpers). */
rd_kafka_t *souk_kafka_producer_handle(struct souk_kafka_producer *p);

/* ---- consumer ---- */

enum souk_kafka_rebalance {
	SOUK_KAFKA_ASSIGNED, /* partitions about to be assigned */
	SOUK_KAFKA_REVOKED,  /* partitions about to be revoked; pending work may finish */
	SOUK_KAFKA_LOST, /* partitions already taken by another member: do not commit */
};

/*
 * Called from souk_kafka_consumer_poll and souk_kafka_consumer_close before
 * souk_kafka applies the change. partitions are the whole assignment under the
 * eager protocol (range), only those added or removed under the cooperative
 * one (cooperative-sticky). On SOUK_KAFKA_ASSIGNED the callback may set
 * each partition's offset (e.g. to one stored in Postgres) to start from;
 * RD_KAFKA_OFFSET_INVALID means the group's committed offset, or
 * auto.offset.reset when there is none.
 */
typedef void souk_kafka_rebalance_cb(void *opaque, enum souk_kafka_rebalance event,
				     rd_kafka_topic_partition_list_t *partitions);

struct souk_kafka_consumer;

/*
 * Creates a consumer in group with enable.auto.commit=false and
 * enable.auto.offset.store=false (extra properties may not name them),
 * auto.offset.reset=earliest and partition.assignment.strategy=range (both
 * may be changed).
 *
 * Range rather than cooperative-sticky: range gives partition i of every
 * subscribed topic to the same member, which pools that read co-partitioned
 * topics (ride-requests and ride-events) rely on, and the eager protocol
 * revokes everything before a new assignment, which suits workers that fence
 * their Postgres-stored offsets by an assignment epoch. The rebalance handling
 * follows whichever protocol the strategy implies.
 *
 * A reader that assigns partitions itself still needs a group (librdkafka's
 * consumer requires one); it simply never subscribes.
 * on_rebalance may be NULL. Returns NULL with errstr on failure.
 */
struct souk_kafka_consumer *
souk_kafka_consumer_new(const char *brokers, const char *group,
			const struct souk_kafka_prop *props, size_t nprops,
			souk_kafka_rebalance_cb *on_rebalance, void *opaque, char *errstr,
			size_t errstr_size);

/* Closes (if not closed yet) and frees. */
void souk_kafka_consumer_destroy(struct souk_kafka_consumer *c);

int souk_kafka_consumer_subscribe(struct souk_kafka_consumer *c,
				  const char *const *topics, size_t ntopics, char *errstr,
				  size_t errstr_size);

/*
 * Waits up to timeout_ms for a first message, then takes the messages already
 * fetched without waiting, up to max. Returns how many it put in msgs (0 on
 * timeout; each is the caller's, rd_kafka_message_destroy), or
 * SOUK_KAFKA_ERROR for a consumer error event (transient: log it and call
 * again), or SOUK_KAFKA_FATAL. An error that arrives after some messages is
 * returned by the next call. Rebalance callbacks run inside this call.
 */
int souk_kafka_consumer_poll(struct souk_kafka_consumer *c, rd_kafka_message_t **msgs,
			     size_t max, int timeout_ms, char *errstr,
			     size_t errstr_size);

/*
 * Stores next_offset (the offset of the last message processed plus one) as
 * the position to commit for topic/partition, which must be assigned.
 */
int souk_kafka_consumer_store_offset(struct souk_kafka_consumer *c, const char *topic,
				     int32_t partition, int64_t next_offset, char *errstr,
				     size_t errstr_size);

/*
 * Commits offsets (each partition's offset is the next one to read)
 * synchronously, or the stored offsets when offsets is NULL.
 */
int souk_kafka_consumer_commit(struct souk_kafka_consumer *c,
			       const rd_kafka_topic_partition_list_t *offsets,
			       char *errstr, size_t errstr_size);

/* Replaces the assignment with partitions (start offsets as in the rebalance callback).
 */
int souk_kafka_consumer_assign(struct souk_kafka_consumer *c,
			       const rd_kafka_topic_partition_list_t *partitions,
			       char *errstr, size_t errstr_size);

/* Moves the position of an assigned partition to offset. */
int souk_kafka_consumer_seek(struct souk_kafka_consumer *c, const char *topic,
			     int32_t partition, int64_t offset, int timeout_ms,
			     char *errstr, size_t errstr_size);

/*
 * Leaves the group: revokes the assignment (the rebalance callback runs) and
 * commits nothing. Later calls other than destroy are errors.
 */
int souk_kafka_consumer_close(struct souk_kafka_consumer *c, char *errstr,
			      size_t errstr_size);

/* The librdkafka handle, still owned by c. */
rd_kafka_t *souk_kafka_consumer_handle(struct souk_kafka_consumer *c);

/* ---- metadata ---- */

/*
 * The partition count of topic, or -1 with errstr (the topic does not exist,
 * or no broker answered within timeout_ms). Asks for every topic's metadata so
 * as never to create the topic: O(topics in the cluster).
 */
int souk_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
			       char *errstr, size_t errstr_size);

/*
 * Low and high watermark (the next offset to be written) of topic/partition, asked of
 * its leader (two ListOffsets requests). When that broker does not lead it (a leader
 * change the client has not heard of, or a leader not ready yet), the metadata is
 * refreshed and the query repeated, with a pause growing to 0.5 s, until timeout_ms;
 * no call outlasts timeout_ms, not even when the leader is down.
 */
int souk_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition,
			  int64_t *low, int64_t *high, int timeout_ms, char *errstr,
			  size_t errstr_size);

/*
 * The value of topic's configuration entry name (e.g. "retention.ms") as the broker
 * reports it (its default included), into out[out_size]. Returns 0, or -1 with errstr
 * (no such topic or entry, no answer within timeout_ms). One DescribeConfigs request.
 */
int souk_kafka_topic_config(rd_kafka_t *rk, const char *topic, const char *name,
			    char *out, size_t out_size, int timeout_ms, char *errstr,
			    size_t errstr_size);

/*
 * Sends metadata requests to brokers until one answers or timeout_ms has
 * passed. props as for the producer (e.g. security settings). Logs nothing.
 */
int souk_kafka_wait_ready(const char *brokers, const struct souk_kafka_prop *props,
			  size_t nprops, int timeout_ms, char *errstr,
			  size_t errstr_size);

#endif
