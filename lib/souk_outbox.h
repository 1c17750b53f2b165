/*
 * souk_outbox: results written in the batch's transaction (table outbox) and the relay
 * that publishes them afterwards.
 *
 * A worker never produces a result directly: the result is written in the transaction
 * of the effect it reports (the results of a batch framed in one row per source
 * partition), so a crash cannot publish a result whose effect rolled back, nor lose
 * one whose effect committed. The relay publishes each owned source partition's rows
 * in id order with the idempotent producer and, once the broker acknowledged every
 * result of a row, moves that partition's cursor (table outbox_relay) past it: one
 * row update per round. A crash between the two publishes the rows again: every
 * message carries its stable result id in the souk-result-id header, so a reader
 * dedups. Published rows are purged after a retention period.
 *
 * Headers on every message: souk-result-id, souk-source (topic/partition/offset),
 * souk-source-event-id (when the source had one), plus the row's own (a DLQ entry's
 * souk-error).
 */
#ifndef SOUK_OUTBOX_H
#define SOUK_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "souk_kafka.h"
#include "souk_metrics.h"
#include "souk_pg.h"

struct souk_outbox_row {
	char result_id[37];
	char *source_topic;
	int32_t source_partition;
	int64_t source_offset;
	char source_event_id[37]; /* "" when the source had none (undecodable) */
	char *topic;
	char *key; /* NULL: no key */
	size_t key_len;
	char *value;
	size_t len;
	char *headers; /* a JSON object of string values, or NULL */
};

/* Rows emitted by one batch, not yet written. A zeroed struct is an empty batch. */
struct souk_outbox_batch {
	struct souk_outbox_row *rows;
	size_t n, cap;
};

/* Copies every argument into a new row. headers may be NULL. Returns -1 out of memory. */
int souk_outbox_batch_add(struct souk_outbox_batch *b, const char *result_id,
			  const char *source_topic, int32_t source_partition,
			  int64_t source_offset, const char *source_event_id,
			  const char *topic, const char *key, size_t key_len,
			  const char *value, size_t len, const char *headers);
/* Drops rows from n on (a savepoint rolled back what they reported). */
void souk_outbox_batch_truncate(struct souk_outbox_batch *b, size_t n);
void souk_outbox_batch_free(struct souk_outbox_batch *b);

/*
 * Writes b inside the caller's transaction, in one COPY: one outbox row per source
 * partition, its results framed in the batch's order (schemas/sql/008). Cost: one
 * row per partition of the batch, not one per result.
 */
int souk_outbox_insert(struct souk_pg *pg, const struct souk_outbox_batch *b,
		       char *errstr, size_t errstr_size);

/* One result as framed in an outbox row's body; the pointers point into the body. */
struct souk_outbox_frame {
	char result_id[37];
	int64_t source_offset;
	char source_event_id[37]; /* "" when the source had none */
	const char *topic;	  /* not NUL-terminated */
	size_t topic_len;
	const char *key; /* NULL: no key */
	size_t key_len;
	const char *value;
	size_t len;
	const char *headers; /* a JSON object, not NUL-terminated */
	size_t headers_len;
};

/* Appends row's frame to *body (realloc'd as needed; *len bytes used of *cap). Returns
 * -1 when out of memory or when row cannot be framed (an id that is not a UUID, a
 * field over 2 GiB): *body then holds what it held. */
int souk_outbox_frame_put(char **body, size_t *len, size_t *cap,
			  const struct souk_outbox_row *row);

/* Reads the frame at body[*off..len) into f and moves *off past it. Returns -1 when
 * the frame is cut short or its lengths disagree. */
int souk_outbox_frame_get(const char *body, size_t len, size_t *off,
			  struct souk_outbox_frame *f);

struct souk_outbox_relay;

struct souk_outbox_relay_conf {
	const char *dsn;
	const char *brokers;
	const struct souk_kafka_prop *props;
	size_t nprops;
	long long retention_ms; /* published rows older than this are deleted */
	struct souk_metrics *metrics;
};

/* Starts the relay's thread with its own PostgreSQL session and producer. */
struct souk_outbox_relay *souk_outbox_relay_new(const struct souk_outbox_relay_conf *conf,
						char *errstr, size_t errstr_size);

/* Publishes what is left for the owned partitions (up to timeout_ms), stops the
 * thread and frees the relay. */
void souk_outbox_relay_destroy(struct souk_outbox_relay *r, int timeout_ms);

/* A thread of this process now owns / no longer owns a source partition: its rows are
 * published by this relay while any thread owns it (a revoke on one thread may come
 * after the assignment on another). Thread-safe. */
void souk_outbox_relay_own(struct souk_outbox_relay *r, const char *topic,
			   int32_t partition, int owned);

/* Rows were committed: publish without waiting for the next poll. Thread-safe. */
void souk_outbox_relay_kick(struct souk_outbox_relay *r);

#endif
