/*
 * lg_out: where generated events go. Either NDJSON lines to a stream (stdout, or a
 * memory stream in the tests) or straight to Kafka, each event to the topic of its
 * type with its partition key (souk_event_topic / souk_event_key).
 *
 * An output may be capped at max_events: the generators stop when it is full, so
 * --count N gives the first N events of the stream the options describe, whatever the
 * mode. Not thread-safe: one generator writes to one output.
 */
#ifndef LG_OUT_H
#define LG_OUT_H

#include <stdio.h>

#include "souk_event.h"

enum lg_out_status {
	LG_OUT_OK = 0,
	LG_OUT_ERROR = -1,
	LG_OUT_FULL = 1, /* max_events already written: nothing was written */
};

struct lg_out;

/* Lines go to f, which stays the caller's (it must outlive the output). max_events
 * 0: no cap. Returns NULL with errstr filled when out of memory. */
struct lg_out *lg_out_new_stream(FILE *f, long long max_events, char *errstr,
				 size_t errstr_size);

/* An idempotent producer (acks=all) for brokers with client.id client_id. Connects
 * lazily: an unreachable broker shows up as failed deliveries in lg_out_finish. */
struct lg_out *lg_out_new_kafka(const char *brokers, const char *client_id,
				long long max_events, char *errstr, size_t errstr_size);

/* Stops a producer without waiting for what is queued (call lg_out_finish first);
 * NULL is fine. */
void lg_out_destroy(struct lg_out *o);

/* Encodes ev (souk_event_encode: an event that breaks a rule is an error) and writes
 * it. Returns LG_OUT_OK, LG_OUT_FULL, or LG_OUT_ERROR with errstr filled. */
int lg_out_event(struct lg_out *o, const souk_event_t *ev, char *errstr,
		 size_t errstr_size);

/* Writes one line that is not a valid event (for the deliberately invalid share) as
 * if it were an event of type to key: len bytes, without the newline. Same returns as
 * lg_out_event. */
int lg_out_line(struct lg_out *o, souk_event_type_t type, const char *key,
		const char *line, size_t len, char *errstr, size_t errstr_size);

/* Flushes the stream, or waits until Kafka acknowledged or failed every message.
 * Returns 0, or -1 with errstr filled when a write or a delivery failed. */
int lg_out_finish(struct lg_out *o, char *errstr, size_t errstr_size);

/* Events written (accepted by the stream, or queued to Kafka), per type. */
long long lg_out_count(const struct lg_out *o, souk_event_type_t type);
long long lg_out_total(const struct lg_out *o);

/* Ends the progress bar (drawn on stderr when it is a terminal) so that other lines
 * can follow; lg_out_finish does it too. */
void lg_out_progress_end(struct lg_out *o);

/* One line for stderr, after lg_out_finish: the count per type, and for Kafka the
 * delivered and failed counts. */
void lg_out_summary(const struct lg_out *o, FILE *f);

#endif
