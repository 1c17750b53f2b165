#include "lg_out.h"

#include "souk_progress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "souk_kafka.h"

/* How long lg_out_finish waits for delivery reports beyond the message timeout,
 * after which librdkafka has reported every message one way or the other. */
#define LG_OUT_FINISH_SLACK_MS 10000

struct lg_out {
	FILE *stream;			      /* stream output, or NULL */
	struct souk_kafka_producer *producer; /* Kafka output, or NULL */
	long long max_events;		      /* 0: no cap */
	long long counts[SOUK_EVENT_TYPE_COUNT];
	long long total;
	long long delivered, failed;	    /* Kafka only, from delivery reports */
	char first_failure[256];	    /* "" or the first delivery error */
	char buf[SOUK_EVENT_MAX_BYTES + 1]; /* the line being encoded */
	struct souk_progress *bar;	    /* on a terminal only, else NULL */
};

static void
lg_out_on_delivery(void *opaque, void *msg_opaque, const char *topic, int32_t partition,
		   int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	struct lg_out *o = opaque;

	(void)msg_opaque;
	(void)partition;
	(void)offset;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		o->delivered++;
		return;
	}
	if (o->failed++ == 0)
		snprintf(o->first_failure, sizeof(o->first_failure),
			 "could not deliver to \"%s\": %s", topic, errstr);
}

struct lg_out *
lg_out_new_stream(FILE *f, long long max_events, char *errstr, size_t errstr_size)
{
	struct lg_out *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		snprintf(errstr, errstr_size, "could not allocate the output");
		goto out;
	}
	o->stream = f;
	o->max_events = max_events;
	o->bar = souk_progress_new(max_events > 0 ? (uint64_t)max_events : 0, "events");
out:
	return o;
}

struct lg_out *
lg_out_new_kafka(const char *brokers, const char *client_id, long long max_events,
		 char *errstr, size_t errstr_size)
{
	const struct souk_kafka_prop props[] = {{"client.id", client_id}};
	struct lg_out *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		snprintf(errstr, errstr_size, "could not allocate the output");
		goto out;
	}
	o->max_events = max_events;
	o->bar = souk_progress_new(max_events > 0 ? (uint64_t)max_events : 0, "events");
	o->producer = souk_kafka_producer_new(brokers, props, 1, 0, lg_out_on_delivery, o,
					      errstr, errstr_size);
	if (o->producer == NULL) {
		lg_out_destroy(o);
		o = NULL;
	}
out:
	return o;
}

void
lg_out_destroy(struct lg_out *o)
{
	if (o == NULL)
		return;
	souk_kafka_producer_destroy(o->producer);
	lg_out_progress_end(o);
	free(o);
}

/* Queues one message, waiting for room while librdkafka's queue is full. */
static int
lg_out_produce(struct lg_out *o, const char *topic, const char *key, const char *line,
	       size_t len, char *errstr, size_t errstr_size)
{
	int rc;

	while ((rc = souk_kafka_produce(o->producer, topic, key, strlen(key), line, len,
					NULL, 0, NULL, errstr, errstr_size)) ==
	       SOUK_KAFKA_QUEUE_FULL)
		souk_kafka_poll(o->producer, 100);
	if (rc != SOUK_KAFKA_OK)
		return LG_OUT_ERROR;
	/* Serve the delivery reports as they come, so they do not pile up. */
	souk_kafka_poll(o->producer, 0);
	return LG_OUT_OK;
}

int
lg_out_line(struct lg_out *o, souk_event_type_t type, const char *key, const char *line,
	    size_t len, char *errstr, size_t errstr_size)
{
	int ret = LG_OUT_ERROR;

	if (o->max_events > 0 && o->total >= o->max_events) {
		ret = LG_OUT_FULL;
		goto out;
	}
	if (o->producer != NULL) {
		if (lg_out_produce(o, souk_event_topic(type), key, line, len, errstr,
				   errstr_size) != LG_OUT_OK)
			goto out;
	} else if (fwrite(line, 1, len, o->stream) != len ||
		   putc('\n', o->stream) == EOF) {
		snprintf(errstr, errstr_size, "could not write the output: %s",
			 strerror(errno));
		goto out;
	}
	o->counts[type]++;
	o->total++;
	souk_progress_update(o->bar, (uint64_t)o->total, (uint64_t)o->total);
	ret = LG_OUT_OK;
out:
	return ret;
}

int
lg_out_event(struct lg_out *o, const souk_event_t *ev, char *errstr, size_t errstr_size)
{
	const char *key = souk_event_key(ev);
	char why[256];
	size_t len;

	if (o->max_events > 0 && o->total >= o->max_events)
		return LG_OUT_FULL;
	if (key == NULL ||
	    souk_event_encode(ev, o->buf, sizeof(o->buf), &len, why, sizeof(why)) != 0) {
		snprintf(errstr, errstr_size, "could not encode %s %s: %s",
			 souk_event_type_name(ev->type), ev->event_id,
			 key == NULL ? "no partition key" : why);
		return LG_OUT_ERROR;
	}
	return lg_out_line(o, ev->type, key, o->buf, len, errstr, errstr_size);
}

void
lg_out_progress_end(struct lg_out *o)
{
	souk_progress_finish(o->bar, (uint64_t)o->total, (uint64_t)o->total);
	o->bar = NULL;
}

int
lg_out_finish(struct lg_out *o, char *errstr, size_t errstr_size)
{
	int waited = 0;

	lg_out_progress_end(o);
	if (o->producer == NULL) {
		if (fflush(o->stream) != 0) {
			snprintf(errstr, errstr_size, "could not write the output: %s",
				 strerror(errno));
			return -1;
		}
		return 0;
	}
	while (souk_kafka_flush(o->producer, 1000) > 0) {
		waited += 1000;
		if (waited >
		    SOUK_KAFKA_DEFAULT_MESSAGE_TIMEOUT_MS + LG_OUT_FINISH_SLACK_MS) {
			snprintf(
			    errstr, errstr_size,
			    "could not deliver: %d messages still unacknowledged after "
			    "%d s",
			    souk_kafka_outq_len(o->producer), waited / 1000);
			return -1;
		}
	}
	if (o->failed > 0) {
		snprintf(errstr, errstr_size, "%lld of %lld messages failed, first: %s",
			 o->failed, o->total, o->first_failure);
		return -1;
	}
	return 0;
}

long long
lg_out_count(const struct lg_out *o, souk_event_type_t type)
{
	return o->counts[type];
}

long long
lg_out_total(const struct lg_out *o)
{
	return o->total;
}

void
lg_out_summary(const struct lg_out *o, FILE *f)
{
	fprintf(f, "souk-loadgen: %lld events", o->total);
	for (int t = 0; t < SOUK_EVENT_TYPE_COUNT; t++)
		if (o->counts[t] > 0)
			fprintf(f, ", %s %lld", souk_event_type_name(t), o->counts[t]);
	if (o->producer != NULL)
		fprintf(f, "; %lld delivered, %lld failed", o->delivered, o->failed);
	fputc('\n', f);
}
