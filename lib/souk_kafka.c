/* souk_kafka: see souk_kafka.h. */
#include "souk_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Properties the producer's guarantees rest on, or that a parameter sets. */
static const char *const producer_fixed[] = {
    "bootstrap.servers",     "metadata.broker.list", "enable.idempotence",  "acks",
    "request.required.acks", "message.timeout.ms",   "delivery.timeout.ms", NULL,
};

static const char *const consumer_fixed[] = {
    "bootstrap.servers",  "metadata.broker.list",     "group.id",
    "enable.auto.commit", "enable.auto.offset.store", NULL,
};

struct souk_kafka_producer {
	rd_kafka_t *rk;
	souk_kafka_delivery_cb *on_delivery;
	void *opaque;
};

struct souk_kafka_consumer {
	rd_kafka_t *rk;
	souk_kafka_rebalance_cb *on_rebalance;
	void *opaque;
	bool closed;
	/* errors met outside a caller's view, returned by the next poll */
	char rebalance_err[256];	 /* "" or why a rebalance could not be applied */
	rd_kafka_message_t *pending_err; /* an error event that came after messages */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
	 size_t errstr_size)
{
	char why[256];

	if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		snprintf(errstr, errstr_size, "could not set kafka property \"%s\": %s",
			 name, why);
		return -1;
	}
	return 0;
}

/* Applies the caller's properties, refusing any named in fixed (NULL-terminated). */
static int
apply_props(rd_kafka_conf_t *conf, const struct souk_kafka_prop *props, size_t nprops,
	    const char *const *fixed, char *errstr, size_t errstr_size)
{
	const char *const *f;
	size_t i;

	for (i = 0; i < nprops; i++) {
		for (f = fixed; *f; f++) {
			if (strcmp(props[i].name, *f) == 0) {
				snprintf(
				    errstr, errstr_size,
				    "kafka property \"%s\" is set by souk and cannot be "
				    "changed",
				    *f);
				return -1;
			}
		}
		if (conf_set(conf, props[i].name, props[i].value, errstr, errstr_size))
			return -1;
	}
	return 0;
}

/* ---- producer ---- */

/*
 * Runs on the thread that polls; forwards one delivery report. (Not
 * rd_kafka_message_errstr: on a producer's message it returns the payload.)
 */
static void
on_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct souk_kafka_producer *p = opaque;

	(void)rk;
	if (p->on_delivery)
		p->on_delivery(p->opaque, m->_private, rd_kafka_topic_name(m->rkt),
			       m->err ? -1 : m->partition, m->err ? -1 : m->offset,
			       m->err, m->err ? rd_kafka_err2str(m->err) : NULL);
}

struct souk_kafka_producer *
souk_kafka_producer_new(const char *brokers, const struct souk_kafka_prop *props,
			size_t nprops, int message_timeout_ms,
			souk_kafka_delivery_cb *on_delivery, void *opaque, char *errstr,
			size_t errstr_size)
{
	struct souk_kafka_producer *p = calloc(1, sizeof(*p));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char timeout[16], why[512];

	if (!p) {
		snprintf(errstr, errstr_size, "could not allocate a kafka producer");
		goto fail;
	}
	p->on_delivery = on_delivery;
	p->opaque = opaque;
	snprintf(timeout, sizeof(timeout), "%d",
		 message_timeout_ms > 0 ? message_timeout_ms
					: SOUK_KAFKA_DEFAULT_MESSAGE_TIMEOUT_MS);
	if (conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) ||
	    conf_set(conf, "linger.ms", "5", errstr, errstr_size) ||
	    apply_props(conf, props, nprops, producer_fixed, errstr, errstr_size) ||
	    conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) ||
	    conf_set(conf, "acks", "all", errstr, errstr_size) ||
	    conf_set(conf, "message.timeout.ms", timeout, errstr, errstr_size))
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery_report);
	rd_kafka_conf_set_opaque(conf, p);
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (!p->rk) {
		snprintf(errstr, errstr_size, "could not create kafka producer: %s", why);
		goto fail;
	}
	return p; /* conf is owned by p->rk */
fail:
	rd_kafka_conf_destroy(conf);
	souk_kafka_producer_destroy(p);
	return NULL;
}

void
souk_kafka_producer_destroy(struct souk_kafka_producer *p)
{
	if (!p)
		return;
	if (p->rk)
		rd_kafka_destroy(p->rk);
	free(p);
}

/* The status of a rd_kafka_producev() call that returned err, with errstr filled. */
static int
produce_status(rd_kafka_t *rk, const char *topic, rd_kafka_resp_err_t err, char *errstr,
	       size_t errstr_size)
{
	char reason[256];

	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return SOUK_KAFKA_OK;
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		snprintf(errstr, errstr_size, "could not produce to \"%s\": queue full",
			 topic);
		return SOUK_KAFKA_QUEUE_FULL;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, reason, sizeof(reason));
		snprintf(errstr, errstr_size,
			 "could not produce to \"%s\": fatal error: %s", topic, reason);
		return SOUK_KAFKA_FATAL;
	}
	snprintf(errstr, errstr_size, "could not produce to \"%s\": %s", topic,
		 rd_kafka_err2str(err));
	return SOUK_KAFKA_ERROR;
}

int
souk_kafka_produce(struct souk_kafka_producer *p, const char *topic, const void *key,
		   size_t keylen, const void *value, size_t valuelen,
		   const struct souk_kafka_header *headers, size_t nheaders,
		   void *msg_opaque, char *errstr, size_t errstr_size)
{
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_resp_err_t err;
	size_t i;

	if (nheaders > 0) {
		hdrs = rd_kafka_headers_new(nheaders);
		for (i = 0; i < nheaders; i++)
			rd_kafka_header_add(
			    hdrs, headers[i].name, -1, headers[i].value,
			    headers[i].value ? (ssize_t)headers[i].value_len : 0);
	}
	err = rd_kafka_producev(
	    p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_KEY((void *)key, keylen),
	    RD_KAFKA_V_VALUE((void *)value, valuelen), RD_KAFKA_V_HEADERS(hdrs),
	    RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		hdrs = NULL; /* owned by the message */
	if (hdrs)
		rd_kafka_headers_destroy(hdrs);
	return produce_status(p->rk, topic, err, errstr, errstr_size);
}

struct souk_kafka_topic {
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
};

struct souk_kafka_topic *
souk_kafka_topic_new(struct souk_kafka_producer *p, const char *topic, char *errstr,
		     size_t errstr_size)
{
	struct souk_kafka_topic *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(errstr, errstr_size, "could not allocate topic \"%s\"", topic);
		return NULL;
	}
	t->rk = p->rk;
	t->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
	if (!t->rkt) {
		snprintf(errstr, errstr_size, "could not create topic handle \"%s\": %s",
			 topic, rd_kafka_err2str(rd_kafka_last_error()));
		free(t);
		return NULL;
	}
	return t;
}

void
souk_kafka_topic_destroy(struct souk_kafka_topic *t)
{
	if (!t)
		return;
	rd_kafka_topic_destroy(t->rkt);
	free(t);
}

int
souk_kafka_produce_ref(struct souk_kafka_topic *t, const void *key, size_t keylen,
		       const void *value, size_t valuelen, void *msg_opaque, char *errstr,
		       size_t errstr_size)
{
	/* No RD_KAFKA_MSG_F_COPY: librdkafka keeps the value pointer (the key it copies
	 * anyway). */
	rd_kafka_resp_err_t err =
	    rd_kafka_producev(t->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_MSGFLAGS(0),
			      RD_KAFKA_V_KEY((void *)key, keylen),
			      RD_KAFKA_V_VALUE((void *)value, valuelen),
			      RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);

	return produce_status(t->rk, rd_kafka_topic_name(t->rkt), err, errstr,
			      errstr_size);
}

int
souk_kafka_poll(struct souk_kafka_producer *p, int timeout_ms)
{
	return rd_kafka_poll(p->rk, timeout_ms);
}

int
souk_kafka_flush(struct souk_kafka_producer *p, int timeout_ms)
{
	rd_kafka_flush(p->rk, timeout_ms);
	return rd_kafka_outq_len(p->rk);
}

int
souk_kafka_outq_len(struct souk_kafka_producer *p)
{
	return rd_kafka_outq_len(p->rk);
}

bool
souk_kafka_producer_idempotent(struct souk_kafka_producer *p)
{
	char value[16];
	size_t size = sizeof(value);

	if (rd_kafka_conf_get(rd_kafka_conf(p->rk), "enable.idempotence", value, &size) !=
	    RD_KAFKA_CONF_OK)
		return false;
	return strcmp(value, "true") == 0 &&
	       rd_kafka_fatal_error(p->rk, NULL, 0) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_t *
souk_kafka_producer_handle(struct souk_kafka_producer *p)
{
	return p->rk;
}

/* ---- consumer ---- */

/*
 * librdkafka's rebalance callback: tells the caller, then applies the change
 * the way the group's protocol wants it (incrementally for COOPERATIVE, the
 * whole assignment for EAGER). A failure is kept for the next poll.
 */
static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
	     rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
	struct souk_kafka_consumer *c = opaque;
	const char *protocol = rd_kafka_rebalance_protocol(rk);
	bool cooperative = protocol && strcmp(protocol, "COOPERATIVE") == 0;
	bool assigning = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (c->on_rebalance)
		c->on_rebalance(c->opaque,
				assigning		       ? SOUK_KAFKA_ASSIGNED
				: rd_kafka_assignment_lost(rk) ? SOUK_KAFKA_LOST
							       : SOUK_KAFKA_REVOKED,
				partitions);
	if (assigning && cooperative)
		error = rd_kafka_incremental_assign(rk, partitions);
	else if (assigning)
		assign_err = rd_kafka_assign(rk, partitions);
	else if (cooperative)
		error = rd_kafka_incremental_unassign(rk, partitions);
	else
		assign_err = rd_kafka_assign(rk, NULL);

	if (error || assign_err)
		snprintf(c->rebalance_err, sizeof(c->rebalance_err),
			 "could not apply the %s partitions: %s",
			 assigning ? "assigned" : "revoked",
			 error ? rd_kafka_error_string(error)
			       : rd_kafka_err2str(assign_err));
	if (error)
		rd_kafka_error_destroy(error);
}

struct souk_kafka_consumer *
souk_kafka_consumer_new(const char *brokers, const char *group,
			const struct souk_kafka_prop *props, size_t nprops,
			souk_kafka_rebalance_cb *on_rebalance_cb, void *opaque,
			char *errstr, size_t errstr_size)
{
	struct souk_kafka_consumer *c = calloc(1, sizeof(*c));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[512];

	if (!c) {
		snprintf(errstr, errstr_size, "could not allocate a kafka consumer");
		goto fail;
	}
	c->on_rebalance = on_rebalance_cb;
	c->opaque = opaque;
	if (conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) ||
	    conf_set(conf, "group.id", group, errstr, errstr_size) ||
	    conf_set(conf, "auto.offset.reset", "earliest", errstr, errstr_size) ||
	    conf_set(conf, "partition.assignment.strategy", "range", errstr,
		     errstr_size) ||
	    apply_props(conf, props, nprops, consumer_fixed, errstr, errstr_size) ||
	    conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
	    conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size))
		goto fail;
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_opaque(conf, c);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (!c->rk) {
		snprintf(errstr, errstr_size, "could not create kafka consumer: %s", why);
		goto fail;
	}
	conf = NULL; /* owned by c->rk */
	/* errors and other events come out of consumer_poll too */
	rd_kafka_poll_set_consumer(c->rk);
	return c;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	souk_kafka_consumer_destroy(c);
	return NULL;
}

void
souk_kafka_consumer_destroy(struct souk_kafka_consumer *c)
{
	if (!c)
		return;
	if (c->rk) {
		if (!c->closed)
			rd_kafka_consumer_close(c->rk);
		if (c->pending_err)
			rd_kafka_message_destroy(c->pending_err);
		rd_kafka_destroy(c->rk);
	}
	free(c);
}

int
souk_kafka_consumer_subscribe(struct souk_kafka_consumer *c, const char *const *topics,
			      size_t ntopics, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list =
	    rd_kafka_topic_partition_list_new((int)ntopics);
	rd_kafka_resp_err_t err;
	size_t i;

	for (i = 0; i < ntopics; i++)
		rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(c->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err) {
		snprintf(errstr, errstr_size,
			 "could not subscribe to %zu kafka topics: %s", ntopics,
			 rd_kafka_err2str(err));
		return SOUK_KAFKA_ERROR;
	}
	return SOUK_KAFKA_OK;
}

/* Turns an error event into a status and errstr; takes m. */
static int
error_event(struct souk_kafka_consumer *c, rd_kafka_message_t *m, char *errstr,
	    size_t errstr_size)
{
	char reason[256];
	int rc = SOUK_KAFKA_ERROR;

	if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(c->rk, reason, sizeof(reason));
		snprintf(errstr, errstr_size, "kafka consumer failed: fatal error: %s",
			 reason);
		rc = SOUK_KAFKA_FATAL;
	} else if (m->rkt) {
		snprintf(errstr, errstr_size, "kafka consumer error on \"%s\" [%d]: %s",
			 rd_kafka_topic_name(m->rkt), (int)m->partition,
			 rd_kafka_message_errstr(m));
	} else {
		snprintf(errstr, errstr_size, "kafka consumer error: %s",
			 rd_kafka_message_errstr(m));
	}
	rd_kafka_message_destroy(m);
	return rc;
}

/* Reports an error kept from earlier; returns SOUK_KAFKA_OK when there was none. */
static int
take_kept_error(struct souk_kafka_consumer *c, char *errstr, size_t errstr_size)
{
	rd_kafka_message_t *m = c->pending_err;

	if (c->rebalance_err[0]) {
		snprintf(errstr, errstr_size, "%s", c->rebalance_err);
		c->rebalance_err[0] = '\0';
		return SOUK_KAFKA_ERROR;
	}
	if (m) {
		c->pending_err = NULL;
		return error_event(c, m, errstr, errstr_size);
	}
	return SOUK_KAFKA_OK;
}

int
souk_kafka_consumer_poll(struct souk_kafka_consumer *c, rd_kafka_message_t **msgs,
			 size_t max, int timeout_ms, char *errstr, size_t errstr_size)
{
	int64_t deadline = now_ms() + timeout_ms, left;
	size_t n = 0;
	int rc;

	if (c->closed) {
		snprintf(errstr, errstr_size,
			 "could not poll: the kafka consumer is closed");
		return SOUK_KAFKA_ERROR;
	}
	rc = take_kept_error(c, errstr, errstr_size);
	if (rc != SOUK_KAFKA_OK)
		return rc;
	while (n < max) {
		rd_kafka_message_t *m;

		left = deadline - now_ms();
		m = rd_kafka_consumer_poll(c->rk, n == 0 && left > 0 ? (int)left : 0);
		if (!m) {
			if (n > 0 || left <= 0 || c->rebalance_err[0])
				break;
			continue;
		}
		if (m->err) {
			if (n == 0)
				return error_event(c, m, errstr, errstr_size);
			c->pending_err = m; /* kept for the next call */
			break;
		}
		msgs[n++] = m; /* owned by the caller */
	}
	if (n == 0)
		return take_kept_error(c, errstr, errstr_size);
	return (int)n;
}

int
souk_kafka_consumer_store_offset(struct souk_kafka_consumer *c, const char *topic,
				 int32_t partition, int64_t next_offset, char *errstr,
				 size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;

	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = next_offset;
	err = rd_kafka_offsets_store(c->rk, list);
	if (!err)
		err = list->elems[0].err;
	rd_kafka_topic_partition_list_destroy(list);
	if (err) {
		snprintf(errstr, errstr_size,
			 "could not store offset %lld for \"%s\" [%d]: %s",
			 (long long)next_offset, topic, (int)partition,
			 rd_kafka_err2str(err));
		return SOUK_KAFKA_ERROR;
	}
	return SOUK_KAFKA_OK;
}

int
souk_kafka_consumer_commit(struct souk_kafka_consumer *c,
			   const rd_kafka_topic_partition_list_t *offsets, char *errstr,
			   size_t errstr_size)
{
	rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, offsets, 0 /* synchronous */);

	/* nothing stored since the last commit: nothing to do */
	if (err == RD_KAFKA_RESP_ERR__NO_OFFSET && !offsets)
		err = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (err) {
		snprintf(errstr, errstr_size, "could not commit kafka offsets: %s",
			 rd_kafka_err2str(err));
		return SOUK_KAFKA_ERROR;
	}
	return SOUK_KAFKA_OK;
}

int
souk_kafka_consumer_assign(struct souk_kafka_consumer *c,
			   const rd_kafka_topic_partition_list_t *partitions,
			   char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err = rd_kafka_assign(c->rk, partitions);

	if (err) {
		snprintf(errstr, errstr_size, "could not assign %d kafka partitions: %s",
			 partitions ? partitions->cnt : 0, rd_kafka_err2str(err));
		return SOUK_KAFKA_ERROR;
	}
	return SOUK_KAFKA_OK;
}

int
souk_kafka_consumer_seek(struct souk_kafka_consumer *c, const char *topic,
			 int32_t partition, int64_t offset, int timeout_ms, char *errstr,
			 size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_error_t *error;
	int rc = SOUK_KAFKA_OK;

	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
	error = rd_kafka_seek_partitions(c->rk, list, timeout_ms);
	if (error) {
		snprintf(errstr, errstr_size, "could not seek \"%s\" [%d] to %lld: %s",
			 topic, (int)partition, (long long)offset,
			 rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		rc = SOUK_KAFKA_ERROR;
	} else if (list->elems[0].err) {
		snprintf(errstr, errstr_size, "could not seek \"%s\" [%d] to %lld: %s",
			 topic, (int)partition, (long long)offset,
			 rd_kafka_err2str(list->elems[0].err));
		rc = SOUK_KAFKA_ERROR;
	}
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

int
souk_kafka_consumer_close(struct souk_kafka_consumer *c, char *errstr, size_t errstr_size)
{
	rd_kafka_resp_err_t err;

	if (c->closed)
		return SOUK_KAFKA_OK;
	c->closed = true;
	err = rd_kafka_consumer_close(c->rk);
	if (err) {
		snprintf(errstr, errstr_size, "could not close kafka consumer: %s",
			 rd_kafka_err2str(err));
		return SOUK_KAFKA_ERROR;
	}
	return SOUK_KAFKA_OK;
}

rd_kafka_t *
souk_kafka_consumer_handle(struct souk_kafka_consumer *c)
{
	return c->rk;
}

/* ---- metadata ---- */

int
souk_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
			   char *errstr, size_t errstr_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	int i, count = -1;

	err = rd_kafka_metadata(rk, 1 /* all topics */, NULL, &md, timeout_ms);
	if (err) {
		snprintf(errstr, errstr_size, "could not fetch kafka metadata: %s",
			 rd_kafka_err2str(err));
		goto out;
	}
	for (i = 0; i < md->topic_cnt; i++) {
		const rd_kafka_metadata_topic_t *t = &md->topics[i];

		if (strcmp(t->topic, topic) != 0)
			continue;
		if (t->err)
			snprintf(errstr, errstr_size, "kafka topic \"%s\": %s", topic,
				 rd_kafka_err2str(t->err));
		else
			count = t->partition_cnt;
		goto out;
	}
	snprintf(errstr, errstr_size, "kafka topic \"%s\" does not exist", topic);
out:
	if (md)
		rd_kafka_metadata_destroy(md);
	return count;
}

int
souk_kafka_topic_config(rd_kafka_t *rk, const char *topic, const char *name, char *out,
			size_t out_size, int timeout_ms, char *errstr, size_t errstr_size)
{
	rd_kafka_ConfigResource_t *res =
	    rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts =
	    rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_DescribeConfigs_result_t *result;
	const rd_kafka_ConfigResource_t **resources;
	const rd_kafka_ConfigEntry_t **entries;
	size_t nres = 0, nentries = 0;
	int rc = -1;

	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, NULL, 0);
	rd_kafka_DescribeConfigs(rk, &res, 1, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
	if (!ev || rd_kafka_event_error(ev)) {
		snprintf(errstr, errstr_size, "could not describe kafka topic \"%s\": %s",
			 topic, ev ? rd_kafka_event_error_string(ev) : "no answer");
		goto out;
	}
	result = rd_kafka_event_DescribeConfigs_result(ev);
	resources = rd_kafka_DescribeConfigs_result_resources(result, &nres);
	if (nres != 1 || rd_kafka_ConfigResource_error(resources[0])) {
		snprintf(errstr, errstr_size, "could not describe kafka topic \"%s\": %s",
			 topic,
			 nres == 1 ? rd_kafka_ConfigResource_error_string(resources[0])
				   : "no answer for it");
		goto out;
	}
	entries = rd_kafka_ConfigResource_configs(resources[0], &nentries);
	for (size_t i = 0; i < nentries; i++) {
		const char *value = rd_kafka_ConfigEntry_value(entries[i]);

		if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), name))
			continue;
		snprintf(out, out_size, "%s", value ? value : "");
		rc = 0;
		goto out;
	}
	snprintf(errstr, errstr_size,
		 "kafka topic \"%s\" has no configuration entry \"%s\"", topic, name);
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy(res);
	return rc;
}

/* The errors a ListOffsets request gets from a broker that no longer leads the
 * partition, or before the client has heard of its new leader. */
static bool
stale_leader(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
	       err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	       err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
}

/* The offset of topic/partition at ts (RD_KAFKA_OFFSET_BEGINNING: the low watermark,
 * RD_KAFKA_OFFSET_END: the high one), from its leader, within timeout_ms. Not
 * rd_kafka_query_watermark_offsets: in librdkafka 2.0.2 its request retries for as
 * long as the leader it picked refuses connections, past any timeout (a SIGKILLed
 * broker); rd_kafka_offsets_for_times stops waiting at its timeout, leaving the list
 * as given (a negative offset) and no error. */
static rd_kafka_resp_err_t
list_offset(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t ts,
	    int64_t *out, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_t *tp =
	    rd_kafka_topic_partition_list_add(list, topic, partition);
	rd_kafka_resp_err_t err;

	tp->offset = ts;
	err = timeout_ms > 0 ? rd_kafka_offsets_for_times(rk, list, timeout_ms)
			     : RD_KAFKA_RESP_ERR__TIMED_OUT;
	if (!err)
		err = tp->err;
	if (!err && tp->offset < 0)
		err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	*out = tp->offset;
	rd_kafka_topic_partition_list_destroy(list);
	return err;
}

static rd_kafka_resp_err_t
watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low,
	   int64_t *high, int64_t deadline)
{
	rd_kafka_resp_err_t err =
	    list_offset(rk, topic, partition, RD_KAFKA_OFFSET_BEGINNING, low,
			(int)(deadline - now_ms()));

	if (!err)
		err = list_offset(rk, topic, partition, RD_KAFKA_OFFSET_END, high,
				  (int)(deadline - now_ms()));
	return err;
}

int
souk_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *low,
		      int64_t *high, int timeout_ms, char *errstr, size_t errstr_size)
{
	int64_t deadline = now_ms() + timeout_ms;
	long pause_ms = 50;
	rd_kafka_resp_err_t err = watermarks(rk, topic, partition, low, high, deadline);

	/* librdkafka 2.0.2 keeps asking the leader it has cached: after a leader
	 * change the query fails until the next periodic metadata refresh (5 min).
	 * A metadata request (every topic's, so that it never creates one) puts the
	 * new leader in the cache, and the query runs again. A leader may also refuse
	 * for a while after the cluster named it (a new topic's, while it creates its
	 * logs): the refresh and the query are repeated, 50 ms apart and doubling to
	 * 0.5 s, within the same timeout. */
	while (stale_leader(err) && now_ms() < deadline) {
		const struct rd_kafka_metadata *md = NULL;
		int64_t left = deadline - now_ms();
		struct timespec pause = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};

		if (left > 0 &&
		    !rd_kafka_metadata(rk, 1 /* all topics */, NULL, &md, (int)left))
			rd_kafka_metadata_destroy(md);
		err = watermarks(rk, topic, partition, low, high, deadline);
		if (!stale_leader(err) || now_ms() + pause_ms >= deadline)
			break;
		nanosleep(&pause, NULL);
		pause_ms = pause_ms * 2 > 500 ? 500 : pause_ms * 2;
	}
	if (err) {
		snprintf(errstr, errstr_size,
			 "could not query watermarks of \"%s\" [%d]: %s", topic,
			 (int)partition, rd_kafka_err2str(err));
		return SOUK_KAFKA_ERROR;
	}
	return SOUK_KAFKA_OK;
}

int
souk_kafka_wait_ready(const char *brokers, const struct souk_kafka_prop *props,
		      size_t nprops, int timeout_ms, char *errstr, size_t errstr_size)
{
	static const char *const fixed[] = {"bootstrap.servers", "metadata.broker.list",
					    NULL};
	int64_t deadline = now_ms() + timeout_ms, left;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk = NULL;
	char why[512];
	int rc = SOUK_KAFKA_ERROR;

	/* reconnect at least every second, so a broker that comes up is seen soon */
	if (conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) ||
	    conf_set(conf, "reconnect.backoff.max.ms", "1000", errstr, errstr_size) ||
	    apply_props(conf, props, nprops, fixed, errstr, errstr_size))
		goto out;
	rd_kafka_conf_set_log_cb(conf, NULL); /* refused connections are expected here */
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (!rk) {
		snprintf(errstr, errstr_size, "could not create kafka client: %s", why);
		goto out;
	}
	conf = NULL; /* owned by rk */
	do {
		left = deadline - now_ms();
		/* a request for no topic: any broker's answer will do */
		err = rd_kafka_metadata(rk, 0, NULL, &md,
					left > 1000 ? 1000
					: left > 0  ? (int)left
						    : 1);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_metadata_destroy(md);
			rc = SOUK_KAFKA_OK;
			goto out;
		}
	} while (now_ms() < deadline);
	snprintf(errstr, errstr_size, "kafka brokers %s did not answer within %d ms: %s",
		 brokers, timeout_ms, rd_kafka_err2str(err));
out:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (rk)
		rd_kafka_destroy(rk);
	return rc;
}
