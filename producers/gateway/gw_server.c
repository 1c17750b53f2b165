#include "gw_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <yajl/yajl_gen.h>

#include "gw_ingest.h"
#include "souk_http.h"
#include "souk_log.h"
#include "souk_ndjson.h"
#include "souk_pg.h"
#include "souk_redis.h"
#include "souk_json.h"

enum gw_route {
	GW_ROUTE_ORDERS,
	GW_ROUTE_PAYMENTS,
	GW_ROUTE_LOCATIONS,
	GW_ROUTE_RIDE_REQUESTS,
	GW_ROUTE_RIDE_EVENTS,
	GW_ROUTE_EVENTS,
	GW_ROUTE_STOCK,
	GW_ROUTE_ORDER,
	GW_ROUTE_PAYMENT,
	GW_ROUTE_RIDE,
	GW_ROUTE_METRICS,
	GW_ROUTE_HEALTHZ,
	GW_ROUTE_READYZ,
	GW_ROUTE_OTHER,
	GW_ROUTE_COUNT
};

/* Path (a prefix when it ends in '/'), label in metrics, the event type it takes. */
static const struct {
	const char *path;
	souk_event_type_t type;
	bool post;
} gw_routes[GW_ROUTE_COUNT] = {
    [GW_ROUTE_ORDERS] = {"/v1/orders", SOUK_EVENT_TYPE_ORDER, true},
    [GW_ROUTE_PAYMENTS] = {"/v1/payments", SOUK_EVENT_TYPE_PAYMENT, true},
    [GW_ROUTE_LOCATIONS] = {"/v1/locations", SOUK_EVENT_TYPE_LOCATION, true},
    [GW_ROUTE_RIDE_REQUESTS] = {"/v1/ride-requests", SOUK_EVENT_TYPE_RIDE_REQUEST, true},
    [GW_ROUTE_RIDE_EVENTS] = {"/v1/ride-events", SOUK_EVENT_TYPE_RIDE_EVENT, true},
    [GW_ROUTE_EVENTS] = {"/v1/events", SOUK_EVENT_TYPE_NONE, true},
    [GW_ROUTE_STOCK] = {"/v1/stock/", SOUK_EVENT_TYPE_NONE, false},
    [GW_ROUTE_ORDER] = {"/v1/orders/", SOUK_EVENT_TYPE_NONE, false},
    [GW_ROUTE_PAYMENT] = {"/v1/payments/", SOUK_EVENT_TYPE_NONE, false},
    [GW_ROUTE_RIDE] = {"/v1/rides/", SOUK_EVENT_TYPE_NONE, false},
    [GW_ROUTE_METRICS] = {"/metrics", SOUK_EVENT_TYPE_NONE, false},
    [GW_ROUTE_HEALTHZ] = {"/healthz", SOUK_EVENT_TYPE_NONE, false},
    [GW_ROUTE_READYZ] = {"/readyz", SOUK_EVENT_TYPE_NONE, false},
    [GW_ROUTE_OTHER] = {"other", SOUK_EVENT_TYPE_NONE, false},
};

/* Statuses counted in metrics; anything else is counted as "other". */
static const int gw_statuses[] = {200, 202, 400, 401, 404, 405,
				  413, 415, 429, 500, 503, 504};
#define GW_NSTATUS (sizeof(gw_statuses) / sizeof(gw_statuses[0]))

struct gw_req;

/* One event of a request and, once known, its answer. */
struct gw_slot {
	struct gw_req *req;
	unsigned long line; /* NDJSON line number; 0 for a single event */
	int status;	    /* 0 while waiting for the broker */
	char event_id[SOUK_EVENT_UUID_SIZE];
	char key[SOUK_EVENT_IDENT_SIZE]; /* the partition key */
	const char *topic;
	int32_t partition;
	int64_t offset;
	souk_event_error_t err; /* for 4xx */
	char message[320];	/* for 429 / 5xx */
	long retry_after_s;
};

struct gw_req {
	struct gw_server *s;
	struct MHD_Connection *conn;
	enum gw_route route;
	struct timespec start;
	char *body;
	size_t len, cap;
	bool too_large; /* body over the limit: discarded, answered 413 */
	bool answered;	/* a response was queued */
	bool suspended; /* waiting for delivery reports */
	int status;	/* what was answered, for metrics */
	const char *client;
	char idempotency_key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE + 1];
	bool has_key;
	struct gw_slot *slots;
	size_t nslots;
	/* Delivery reports still to come, plus one held while producing, so the
	 * request resumes exactly once, after its last report. */
	atomic_int pending;
};

struct gw_server {
	struct gw_server_conf conf;
	struct MHD_Daemon *mhd;
	struct souk_kafka_producer *producer;
	pthread_t poll_thread, probe_thread;
	atomic_bool stop;
	atomic_bool broker_up;
	atomic_bool draining; /* set by gw_server_drain: publishing routes answer 503 */
	atomic_int in_flight;
	struct souk_metrics_family *requests, *latency, *in_flight_gauge, *queue_gauge,
	    *rate_unavailable;
	_Atomic(struct souk_metrics_series *) req_series[GW_ROUTE_COUNT][GW_NSTATUS + 1];
	struct souk_metrics_series *latency_series[GW_ROUTE_COUNT];
	struct souk_metrics_series *in_flight_series, *queue_series,
	    *rate_unavailable_series;
};

/* ---- responses ---------------------------------------------------------------- */

static enum MHD_Result
gw_respond(struct gw_req *r, int status, const char *content_type, const char *body,
	   size_t len, long retry_after_s, const char *allow)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	char ra[32];

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (retry_after_s > 0) {
		snprintf(ra, sizeof(ra), "%ld", retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(r->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	r->status = status;
	return ret;
}

/* Writes the JSON body of one slot's answer into g. */
static void
gw_gen_slot(yajl_gen g, const struct gw_slot *slot)
{
	yajl_gen_map_open(g);
	if (slot->status == 202) {
		souk_json_gen_str(g, "event_id");
		souk_json_gen_str(g, slot->event_id);
		souk_json_gen_str(g, "topic");
		souk_json_gen_str(g, slot->topic);
		souk_json_gen_str(g, "partition");
		yajl_gen_integer(g, slot->partition);
		souk_json_gen_str(g, "offset");
		yajl_gen_integer(g, slot->offset);
	} else if (slot->status == 400) {
		souk_json_gen_str(g, "error");
		souk_json_gen_str(g, slot->err.message);
		if (slot->err.field[0]) {
			souk_json_gen_str(g, "field");
			souk_json_gen_str(g, slot->err.field);
		} else if (slot->err.offset >= 0) {
			souk_json_gen_str(g, "offset");
			yajl_gen_integer(g, slot->err.offset);
		}
	} else {
		souk_json_gen_str(g, "error");
		souk_json_gen_str(g, slot->message);
		if (slot->status == 504) {
			/* the id to look for, and to keep on the retry */
			souk_json_gen_str(g, "event_id");
			souk_json_gen_str(g, slot->event_id);
		}
	}
	yajl_gen_map_close(g);
}

static enum MHD_Result
gw_respond_gen(struct gw_req *r, int status, const char *content_type, yajl_gen g,
	       long retry_after_s, const char *allow)
{
	const unsigned char *buf;
	size_t len;

	yajl_gen_get_buf(g, &buf, &len);
	return gw_respond(r, status, content_type, (const char *)buf, len, retry_after_s,
			  allow);
}

/* {"error": message} with status. */
static enum MHD_Result
gw_respond_error(struct gw_req *r, int status, const char *message, long retry_after_s,
		 const char *allow)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	enum MHD_Result ret;

	if (!g)
		return MHD_NO;
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "error");
	souk_json_gen_str(g, message);
	yajl_gen_map_close(g);
	ret = gw_respond_gen(r, status, "application/json", g, retry_after_s, allow);
	yajl_gen_free(g);
	return ret;
}

/* 400 {"error": message, "offset": offset}: the body as a whole is unusable. */
static enum MHD_Result
gw_respond_400(struct gw_req *r, const char *message, long offset)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	enum MHD_Result ret;

	if (!g)
		return MHD_NO;
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "error");
	souk_json_gen_str(g, message);
	souk_json_gen_str(g, "offset");
	yajl_gen_integer(g, offset);
	yajl_gen_map_close(g);
	ret = gw_respond_gen(r, 400, "application/json", g, 0, NULL);
	yajl_gen_free(g);
	return ret;
}

/* The answer to a request whose events all have their slot status. */
static enum MHD_Result
gw_respond_slots(struct gw_req *r)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	enum MHD_Result ret;

	if (!g)
		return MHD_NO;
	if (r->route != GW_ROUTE_EVENTS) {
		struct gw_slot *slot = &r->slots[0];

		gw_gen_slot(g, slot);
		ret = gw_respond_gen(r, slot->status, "application/json", g,
				     slot->retry_after_s, NULL);
	} else {
		/* One line per event, in body order. */
		for (size_t i = 0; i < r->nslots; i++) {
			struct gw_slot *slot = &r->slots[i];

			yajl_gen_map_open(g);
			souk_json_gen_str(g, "line");
			yajl_gen_integer(g, (long long)slot->line);
			souk_json_gen_str(g, "status");
			yajl_gen_integer(g, slot->status);
			souk_json_gen_str(g, "body");
			gw_gen_slot(g, slot);
			yajl_gen_map_close(g);
			yajl_gen_reset(g, "\n");
		}
		ret = gw_respond_gen(r, 200, "application/x-ndjson", g, 0, NULL);
	}
	yajl_gen_free(g);
	return ret;
}

/* ---- metrics ------------------------------------------------------------------ */

static struct souk_metrics_series *
gw_req_series(struct gw_server *s, enum gw_route route, int status)
{
	size_t i = 0;
	struct souk_metrics_series *series;
	char code[16];

	while (i < GW_NSTATUS && gw_statuses[i] != status)
		i++;
	series = atomic_load_explicit(&s->req_series[route][i], memory_order_acquire);
	if (series)
		return series;
	if (i < GW_NSTATUS)
		snprintf(code, sizeof(code), "%d", status);
	else
		snprintf(code, sizeof(code), "other");
	/* Two threads may race here; both get the registry's one series. */
	series = souk_metrics_series(s->requests,
				     (const char *const[]){gw_routes[route].path, code});
	atomic_store_explicit(&s->req_series[route][i], series, memory_order_release);
	return series;
}

static int
gw_metrics_new(struct gw_server *s, char *errstr, size_t errstr_size)
{
	static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					0.1,   0.25,   0.5,   1,    2.5,   5};
	struct souk_metrics *m = s->conf.metrics;

	s->requests = souk_metrics_register_counter(
	    m, "souk_gateway_requests_total",
	    "HTTP requests answered, by route and status.",
	    (const char *const[]){"route", "status", NULL}, errstr, errstr_size);
	s->latency = souk_metrics_register_histogram(
	    m, "souk_gateway_request_seconds",
	    "Time from a request's headers to its answer, by route.",
	    (const char *const[]){"route", NULL}, bounds,
	    sizeof(bounds) / sizeof(*bounds), errstr, errstr_size);
	s->in_flight_gauge = souk_metrics_register_gauge(
	    m, "souk_gateway_in_flight", "Requests received and not yet answered.", NULL,
	    errstr, errstr_size);
	s->queue_gauge = souk_metrics_register_gauge(
	    m, "souk_gateway_producer_queue",
	    "Messages in the producer queue not yet acknowledged by the broker.", NULL,
	    errstr, errstr_size);
	s->rate_unavailable = souk_metrics_register_counter(
	    m, "souk_gateway_ratelimit_unavailable_total",
	    "Requests let through because Redis did not answer the rate limiter.", NULL,
	    errstr, errstr_size);
	if (!s->requests || !s->latency || !s->in_flight_gauge || !s->queue_gauge ||
	    !s->rate_unavailable)
		return -1;
	for (int r = 0; r < GW_ROUTE_COUNT; r++)
		s->latency_series[r] = souk_metrics_series(
		    s->latency, (const char *const[]){gw_routes[r].path});
	s->in_flight_series = souk_metrics_series(s->in_flight_gauge, NULL);
	s->queue_series = souk_metrics_series(s->queue_gauge, NULL);
	s->rate_unavailable_series = souk_metrics_series(s->rate_unavailable, NULL);
	return 0;
}

/* ---- producing ---------------------------------------------------------------- */

/* Delivery report, on the poll thread. */
static void
gw_on_delivery(void *opaque, void *msg_opaque, const char *topic, int32_t partition,
	       int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	struct gw_server *s = opaque;
	struct gw_slot *slot = msg_opaque;
	struct gw_req *r = slot->req;

	(void)topic;
	if (!err) {
		slot->status = 202;
		slot->partition = partition;
		slot->offset = offset;
		atomic_store(&s->broker_up, true);
	} else if (err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
		   err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
		   err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
		/* Refused before it was sent: not published. */
		slot->status = 503;
		slot->retry_after_s = s->conf.retry_after_s;
		snprintf(slot->message, sizeof(slot->message), "not published: %s",
			 errstr);
	} else {
		/* Timed out or failed after it may have reached the broker. */
		slot->status = 504;
		snprintf(slot->message, sizeof(slot->message),
			 "no acknowledgement from the broker in time (%s): the event may "
			 "or may "
			 "not be published; retry with the same Idempotency-Key",
			 errstr);
	}
	if (atomic_fetch_sub(&r->pending, 1) == 1)
		MHD_resume_connection(r->conn);
}

static void *
gw_poll_main(void *arg)
{
	struct gw_server *s = arg;

	while (!atomic_load(&s->stop))
		souk_kafka_poll(s->producer, 100);
	return NULL;
}

/* Asks the cluster for metadata once a second: the answer decides whether new requests
 * are produced or get 503 at once. Also samples the producer queue. */
static void *
gw_probe_main(void *arg)
{
	struct gw_server *s = arg;
	rd_kafka_t *rk = souk_kafka_producer_handle(s->producer);

	while (!atomic_load(&s->stop)) {
		const struct rd_kafka_metadata *md = NULL;
		bool up = rd_kafka_metadata(rk, 0, NULL, &md, 1000) ==
			      RD_KAFKA_RESP_ERR_NO_ERROR &&
			  md->broker_cnt > 0;

		if (md)
			rd_kafka_metadata_destroy(md);
		if (up != atomic_exchange(&s->broker_up, up))
			SOUK_LOG_WARN("broker_state", "up=%d brokers=%s", up,
				      s->conf.brokers);
		souk_metrics_gauge_set(s->queue_series, souk_kafka_outq_len(s->producer));
		for (int i = 0; i < 10 && !atomic_load(&s->stop); i++)
			usleep(100 * 1000);
	}
	return NULL;
}

/* Validates every event of the request into its slot and builds what to produce.
 * Returns the number of slots, or -1 when the body as a whole is unusable (400/413
 * already answered). */
static int
gw_build_slots(struct gw_req *r, char ***values, size_t **lens)
{
	struct gw_server *s = r->s;
	struct gw_ingest_request ireq = {
	    .route_type = gw_routes[r->route].type,
	    .client_id = r->client,
	    .idempotency_key = r->has_key ? r->idempotency_key : NULL,
	};
	char ts[SOUK_EVENT_TS_SIZE];
	char *out = malloc(SOUK_EVENT_MAX_BYTES + 1);
	struct souk_ndjson it;
	const char *line;
	size_t line_len, n = 0;
	int rc;

	souk_event_ts_now(ts);
	ireq.ts = ts;
	if (r->route == GW_ROUTE_EVENTS) {
		souk_ndjson_init(&it, r->body, r->len);
		while (souk_ndjson_next(&it, &line, &line_len))
			n++;
		if (n == 0 || n > s->conf.batch_lines) {
			char msg[128];

			free(out);
			if (n) {
				snprintf(msg, sizeof(msg),
					 "too many events: %zu lines, limit %zu", n,
					 s->conf.batch_lines);
				gw_respond_error(r, 413, msg, 0, NULL);
			} else {
				gw_respond_400(
				    r, "no events: the body holds no non-blank line", 0);
			}
			return -1;
		}
	} else {
		n = 1;
	}
	r->slots = calloc(n, sizeof(*r->slots));
	*values = calloc(n, sizeof(**values));
	*lens = calloc(n, sizeof(**lens));
	if (!out || !r->slots || !*values || !*lens) {
		free(out);
		gw_respond_error(r, 500, "out of memory", 0, NULL);
		return -1;
	}
	r->nslots = n;
	if (r->route == GW_ROUTE_EVENTS)
		souk_ndjson_init(&it, r->body, r->len);
	for (size_t i = 0; i < n; i++) {
		struct gw_slot *slot = &r->slots[i];
		souk_event_t ev;
		size_t out_len;

		slot->req = r;
		if (r->route == GW_ROUTE_EVENTS) {
			souk_ndjson_next(&it, &line, &line_len);
			slot->line = it.lineno;
		} else {
			line = r->body ? r->body : "";
			line_len = r->len;
		}
		ireq.part = slot->line;
		rc = gw_ingest_build(line, line_len, &ireq, &ev, out,
				     SOUK_EVENT_MAX_BYTES + 1, &out_len, &slot->err);
		if (rc == GW_INGEST_TOO_LARGE) {
			slot->status = 413;
			snprintf(slot->message, sizeof(slot->message), "%s",
				 slot->err.message);
			continue;
		}
		if (rc) {
			slot->status = 400;
			continue;
		}
		memcpy(slot->event_id, ev.event_id, sizeof(slot->event_id));
		snprintf(slot->key, sizeof(slot->key), "%s", souk_event_key(&ev));
		slot->topic = souk_event_topic(ev.type);
		if (s->conf.ratelimit) {
			char subject[96];
			long retry_ms;
			enum gw_ratelimit_verdict v;

			if (ev.type == SOUK_EVENT_TYPE_ORDER)
				snprintf(subject, sizeof(subject), "user:%s",
					 ev.order.user_id);
			else
				snprintf(subject, sizeof(subject), "client:%s",
					 r->client);
			v = gw_ratelimit_take(s->conf.ratelimit, subject, &retry_ms);
			if (v == GW_RATELIMIT_UNAVAILABLE)
				souk_metrics_counter_add(s->rate_unavailable_series, 1);
			if (v == GW_RATELIMIT_LIMITED) {
				slot->status = 429;
				slot->retry_after_s = (retry_ms + 999) / 1000;
				snprintf(slot->message, sizeof(slot->message),
					 "rate limit exceeded for %s", subject);
				continue;
			}
		}
		(*values)[i] = malloc(out_len + 1);
		if (!(*values)[i]) {
			slot->status = 500;
			snprintf(slot->message, sizeof(slot->message), "out of memory");
			continue;
		}
		memcpy((*values)[i], out, out_len + 1);
		(*lens)[i] = out_len;
	}
	free(out);
	return (int)n;
}

/* Produces the request's valid events and suspends it until their reports arrive. */
static enum MHD_Result
gw_produce(struct gw_req *r)
{
	struct gw_server *s = r->s;
	char **values = NULL;
	size_t *lens = NULL;
	int n = gw_build_slots(r, &values, &lens);
	bool up = atomic_load(&s->broker_up);

	if (n < 0)
		goto out;
	atomic_store(&r->pending, 1);
	MHD_suspend_connection(r->conn);
	r->suspended = true;
	for (int i = 0; i < n; i++) {
		struct gw_slot *slot = &r->slots[i];
		char errstr[256];
		int rc;

		if (!values[i])
			continue;
		if (!up) {
			slot->status = 503;
			slot->retry_after_s = s->conf.retry_after_s;
			slot->event_id[0] = '\0';
			snprintf(slot->message, sizeof(slot->message),
				 "not published: the broker is unreachable");
			continue;
		}
		atomic_fetch_add(&r->pending, 1);
		rc = souk_kafka_produce(s->producer, slot->topic, slot->key,
					strlen(slot->key), values[i], lens[i], NULL, 0,
					slot, errstr, sizeof(errstr));
		if (rc == SOUK_KAFKA_OK)
			continue;
		atomic_fetch_sub(&r->pending, 1);
		slot->status = 503;
		slot->retry_after_s = s->conf.retry_after_s;
		slot->event_id[0] = '\0';
		snprintf(slot->message, sizeof(slot->message), "not published: %s",
			 rc == SOUK_KAFKA_QUEUE_FULL ? "the producer queue is full"
						     : errstr);
	}
	if (atomic_fetch_sub(&r->pending, 1) == 1)
		MHD_resume_connection(r->conn);
out:
	for (int i = 0; i < n; i++)
		free(values[i]);
	free(values);
	free(lens);
	return MHD_YES;
}

/* ---- GET routes --------------------------------------------------------------- */

/* An optional '-' then 1 to 18 digits: a number JSON and int64 both hold. */
static bool
gw_is_integer(const char *s, size_t len)
{
	size_t i = len && s[0] == '-';

	if (len == i || len - i > 18)
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static enum MHD_Result
gw_get_stock(struct gw_req *r, const char *url)
{
	const char *sku = url + strlen(gw_routes[GW_ROUTE_STOCK].path);
	struct gw_server *s = r->s;
	struct souk_redis *redis = NULL;
	redisReply *reply = NULL;
	char errstr[256], msg[320];
	enum MHD_Result ret;
	yajl_gen g;

	if (!souk_event_identifier_valid(sku)) {
		snprintf(msg, sizeof(msg), "sku \"%.64s\" is not an identifier", sku);
		return gw_respond_error(r, 400, msg, 0, NULL);
	}
	if (!s->conf.redis)
		return gw_respond_error(r, 503,
					"display stock is off: no redis configured",
					s->conf.retry_after_s, NULL);
	redis = gw_pool_acquire(s->conf.redis, errstr, sizeof(errstr));
	if (!redis || souk_redis_command(redis, &reply, errstr, sizeof(errstr),
					 "GET souk:stock:%s", sku)) {
		gw_pool_release(s->conf.redis, redis);
		snprintf(msg, sizeof(msg), "could not read display stock: %s", errstr);
		return gw_respond_error(r, 503, msg, s->conf.retry_after_s, NULL);
	}
	gw_pool_release(s->conf.redis, redis);
	if (reply->type != REDIS_REPLY_STRING) {
		freeReplyObject(reply);
		snprintf(
		    msg, sizeof(msg),
		    "no display stock for sku \"%s\": not on sale, or not warmed yet",
		    sku);
		return gw_respond_error(r, 404, msg, 0, NULL);
	}
	if (!gw_is_integer(reply->str, reply->len)) {
		freeReplyObject(reply);
		snprintf(msg, sizeof(msg),
			 "display stock for sku \"%s\" is not an integer in redis", sku);
		return gw_respond_error(r, 500, msg, 0, NULL);
	}
	g = yajl_gen_alloc(NULL);
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "sku");
	souk_json_gen_str(g, sku);
	souk_json_gen_str(g, "available");
	yajl_gen_number(g, reply->str, reply->len);
	souk_json_gen_str(g, "consistency");
	souk_json_gen_str(g, "eventual");
	souk_json_gen_str(g, "note");
	souk_json_gen_str(
	    g, "display stock from the Redis gate; it may lag the truth in PostgreSQL "
	       "by seconds, and a purchase is decided by the inventory pool");
	yajl_gen_map_close(g);
	freeReplyObject(reply);
	ret = gw_respond_gen(r, 200, "application/json", g, 0, NULL);
	yajl_gen_free(g);
	return ret;
}

/*
 * Runs the statement name (sql, prepared once per pooled session) with values[0..n) for
 * a lookup of a `what` ("order", "payment", "ride"). Returns its result (the caller
 * clears it), or NULL after answering 503 with Retry-After into *ret: no PostgreSQL
 * configured, or it failed.
 */
static PGresult *
gw_pg_lookup(struct gw_req *r, const char *what, const char *name, const char *sql, int n,
	     const char *const *values, enum MHD_Result *ret)
{
	struct gw_server *s = r->s;
	struct souk_pg *pg;
	PGresult *res = NULL;
	char errstr[256], msg[320];

	if (!s->conf.pg) {
		snprintf(msg, sizeof(msg), "%s lookups are off: no postgresql configured",
			 what);
		*ret = gw_respond_error(r, 503, msg, s->conf.retry_after_s, NULL);
		return NULL;
	}
	pg = gw_pool_acquire(s->conf.pg, errstr, sizeof(errstr));
	if (!pg || souk_pg_prepare(pg, name, sql, n, errstr, sizeof(errstr)) ||
	    souk_pg_exec_prepared(pg, name, n, values, &res, errstr, sizeof(errstr))) {
		gw_pool_release(s->conf.pg, pg);
		snprintf(msg, sizeof(msg), "could not read %s: %s", what, errstr);
		*ret = gw_respond_error(r, 503, msg, s->conf.retry_after_s, NULL);
		return NULL;
	}
	gw_pool_release(s->conf.pg, pg);
	return res;
}

/* The decision of an order from PostgreSQL, the truth: {order_id, status, reason?, sku,
 * user_id, qty, decided_at}, or status "pending" while the inventory pool has not
 * decided it (or never received it: a client that got 202 will see it decided). */
static enum MHD_Result
gw_get_order(struct gw_req *r, const char *url)
{
	static const char sql[] = "SELECT status, reason, sku, user_id, qty, "
				  "to_char(decided_at AT TIME ZONE 'UTC', "
				  "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
				  "FROM orders WHERE order_id = $1";
	const char *id = url + strlen(gw_routes[GW_ROUTE_ORDER].path);
	PGresult *res;
	char msg[320];
	enum MHD_Result ret;
	yajl_gen g;

	if (!souk_event_identifier_valid(id)) {
		snprintf(msg, sizeof(msg), "order_id \"%.64s\" is not an identifier", id);
		return gw_respond_error(r, 400, msg, 0, NULL);
	}
	if (!(res = gw_pg_lookup(r, "order", "gw_order", sql, 1, &id, &ret)))
		return ret;
	g = yajl_gen_alloc(NULL);
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "order_id");
	souk_json_gen_str(g, id);
	souk_json_gen_str(g, "status");
	if (PQntuples(res) == 0) {
		souk_json_gen_str(g, "pending");
	} else {
		souk_json_gen_str(g, PQgetvalue(res, 0, 0));
		if (!PQgetisnull(res, 0, 1)) {
			souk_json_gen_str(g, "reason");
			souk_json_gen_str(g, PQgetvalue(res, 0, 1));
		}
		souk_json_gen_str(g, "sku");
		souk_json_gen_str(g, PQgetvalue(res, 0, 2));
		souk_json_gen_str(g, "user_id");
		souk_json_gen_str(g, PQgetvalue(res, 0, 3));
		souk_json_gen_str(g, "qty");
		yajl_gen_number(g, PQgetvalue(res, 0, 4), strlen(PQgetvalue(res, 0, 4)));
		souk_json_gen_str(g, "decided_at");
		souk_json_gen_str(g, PQgetvalue(res, 0, 5));
	}
	yajl_gen_map_close(g);
	PQclear(res);
	ret = gw_respond_gen(r, 200, "application/json", g, 0, NULL);
	yajl_gen_free(g);
	return ret;
}

/*
 * The GET of one row that belongs to a client, whose JSON answer PostgreSQL builds in
 * the statement name (sql): $1 the id, $2 the reading client (NULL with API keys off:
 * any client's row). sql answers one row whose one column is the object, or NULL when
 * there is no such row for that client (an aggregate without GROUP BY). Answers 200
 * with it; 400 when id is not an identifier; 401 when keys are on and the request has
 * none; 404 {"error": "<what> not found", "<id_name>": id}, also for another client's
 * row, as if it did not exist; 503 as gw_pg_lookup.
 */
static enum MHD_Result
gw_get_owned(struct gw_req *r, const char *id, const char *what, const char *id_name,
	     const char *name, const char *sql)
{
	struct gw_server *s = r->s;
	const char *values[2] = {id, NULL};
	PGresult *res;
	char msg[320];
	enum MHD_Result ret;
	yajl_gen g;

	if (!souk_event_identifier_valid(id)) {
		snprintf(msg, sizeof(msg), "%s \"%.64s\" is not an identifier", id_name,
			 id);
		return gw_respond_error(r, 400, msg, 0, NULL);
	}
	if (s->conf.auth && !(values[1] = gw_auth_client(
				  s->conf.auth, MHD_lookup_connection_value(
						    r->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION))))
		return gw_respond_error(
		    r, 401, "missing or unknown API key (Authorization: Bearer <key>)", 0,
		    NULL);
	if (!(res = gw_pg_lookup(r, what, name, sql, 2, values, &ret)))
		return ret;
	if (!PQgetisnull(res, 0, 0)) {
		ret = gw_respond(r, 200, "application/json", PQgetvalue(res, 0, 0),
				 (size_t)PQgetlength(res, 0, 0), 0, NULL);
		goto out;
	}
	g = yajl_gen_alloc(NULL);
	if (!g) {
		ret = MHD_NO;
		goto out;
	}
	snprintf(msg, sizeof(msg), "%s not found", what);
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "error");
	souk_json_gen_str(g, msg);
	souk_json_gen_str(g, id_name);
	souk_json_gen_str(g, id);
	yajl_gen_map_close(g);
	ret = gw_respond_gen(r, 404, "application/json", g, 0, NULL);
	yajl_gen_free(g);
out:
	PQclear(res);
	return ret;
}

/* A payment from the ledger in PostgreSQL: its row, the commands parked on it (their
 * idempotency key in_progress: outcome unknown), its refunds and its last 100
 * transitions, or 404. With API keys on, only the client that created it may read it.
 * PostgreSQL builds the whole answer in one statement, so one round trip and one
 * snapshot: the lists agree with the row. Cost: index scans on each table's payment_id
 * (idempotency_keys_in_progress for the parked commands). */
static enum MHD_Result
gw_get_payment(struct gw_req *r, const char *url)
{
	/* The object is built with every key, then its top-level nulls dropped (only
	 * provider_ref can be one); json_strip_nulls would also drop the nulls inside
	 * the lists, such as the "from" of the create. */
	static const char sql[] =
	    "SELECT json_object_agg(kv.key, kv.value ORDER BY kv.n) "
	    "FROM payments p, LATERAL json_each(json_build_object("
	    " 'payment_id', p.payment_id, 'state', p.state, 'currency', p.currency,"
	    " 'amount', p.amount, 'amount_authorized', p.amount_authorized,"
	    " 'amount_captured', p.amount_captured,"
	    " 'amount_refunded', p.amount_refunded, 'version', p.version,"
	    " 'provider_ref', p.provider_ref,"
	    " 'created_at', to_char(p.created_at AT TIME ZONE 'UTC',"
	    "   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " 'updated_at', to_char(p.updated_at AT TIME ZONE 'UTC',"
	    "   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " 'in_progress', (SELECT coalesce(json_agg(json_build_object("
	    "   'command', k.command, 'idempotency_key', k.key)"
	    "   ORDER BY k.created_at, k.client_id, k.key), '[]')"
	    "  FROM idempotency_keys k"
	    "  WHERE k.payment_id = p.payment_id AND k.state = 'in_progress'),"
	    " 'refunds', (SELECT coalesce(json_agg(json_build_object("
	    "   'refund_id', rf.refund_id, 'amount', rf.amount, 'state', rf.state)"
	    "   ORDER BY rf.created_at, rf.refund_id), '[]')"
	    "  FROM payment_refunds rf WHERE rf.payment_id = p.payment_id),"
	    " 'transitions', (SELECT coalesce(json_agg(json_build_object("
	    "   'version', t.version, 'from', t.from_state, 'to', t.to_state,"
	    "   'command', t.command, 'amount', t.amount,"
	    "   'at', to_char(t.at AT TIME ZONE 'UTC',"
	    "     'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) ORDER BY t.version), '[]')"
	    "  FROM (SELECT * FROM payment_transitions"
	    "        WHERE payment_id = p.payment_id"
	    "        ORDER BY version DESC LIMIT 100) t)"
	    ")) WITH ORDINALITY AS kv(key, value, n) "
	    "WHERE p.payment_id = $1 AND ($2::text IS NULL OR p.client_id = $2) "
	    "AND json_typeof(kv.value) <> 'null'";

	return gw_get_owned(r, url + strlen(gw_routes[GW_ROUTE_PAYMENT].path), "payment",
			    "payment_id", "gw_payment", sql);
}

/* A ride request from the matching pool's rides table: its state, its driver and offer
 * (the figures the offer was made with, and what decided it), or 404. With API keys on,
 * only the client that requested it may read it. One statement, built like the
 * payment's: every key, then the top-level nulls dropped (the offer's figures before
 * there is one, driver_id and offer_expires_at when unset). Cost: one primary-key
 * lookup. */
static enum MHD_Result
gw_get_ride(struct gw_req *r, const char *url)
{
	static const char sql[] =
	    "SELECT json_object_agg(kv.key, kv.value ORDER BY kv.n) "
	    "FROM rides d, LATERAL json_each(json_build_object("
	    " 'request_id', d.request_id, 'rider_id', d.rider_id, 'state', d.state,"
	    " 'final', d.state IN ('completed', 'cancelled', 'no_driver'),"
	    " 'driver_id', d.driver_id, 'offers', d.offers, 'passed', d.passed,"
	    " 'offer_expires_at', to_char(d.offer_expires_at AT TIME ZONE 'UTC',"
	    "   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " 'pickup', json_build_object('lat', d.pickup_lat, 'lng', d.pickup_lng),"
	    " 'dropoff', json_build_object('lat', d.dropoff_lat, 'lng', d.dropoff_lng),"
	    " 'surge_cell', d.surge_cell, 'eta_s', d.eta_s, 'distance_m', d.distance_m,"
	    " 'fare', CASE WHEN d.fare_amount IS NOT NULL THEN json_build_object("
	    "   'amount', d.fare_amount, 'currency', d.fare_currency) END,"
	    " 'surge', d.surge, 'model_id', d.model_id, 'index_offsets', d.index_offsets,"
	    " 'version', d.version,"
	    " 'created_at', to_char(d.created_at AT TIME ZONE 'UTC',"
	    "   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	    " 'updated_at', to_char(d.updated_at AT TIME ZONE 'UTC',"
	    "   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
	    ")) WITH ORDINALITY AS kv(key, value, n) "
	    "WHERE d.request_id = $1 AND ($2::text IS NULL OR d.client_id = $2) "
	    "AND json_typeof(kv.value) <> 'null'";

	return gw_get_owned(r, url + strlen(gw_routes[GW_ROUTE_RIDE].path), "ride",
			    "request_id", "gw_ride", sql);
}

static enum MHD_Result
gw_get(struct gw_req *r, const char *url)
{
	struct gw_server *s = r->s;
	char *text = NULL, errstr[256];
	size_t len;
	enum MHD_Result ret;

	switch (r->route) {
	case GW_ROUTE_STOCK:
		return gw_get_stock(r, url);
	case GW_ROUTE_ORDER:
		return gw_get_order(r, url);
	case GW_ROUTE_PAYMENT:
		return gw_get_payment(r, url);
	case GW_ROUTE_RIDE:
		return gw_get_ride(r, url);
	case GW_ROUTE_HEALTHZ:
		return gw_respond(r, 200, "text/plain", "ok\n", 3, 0, NULL);
	case GW_ROUTE_READYZ:
		if (atomic_load(&s->draining))
			return gw_respond(r, 503, "text/plain", "not ready: draining\n", 20,
					  0, NULL);
		if (atomic_load(&s->broker_up))
			return gw_respond(r, 200, "text/plain", "ready\n", 6, 0, NULL);
		return gw_respond(r, 503, "text/plain", "not ready: kafka unreachable\n",
				  29, 0, NULL);
	case GW_ROUTE_METRICS:
		if (souk_metrics_render(s->conf.metrics, &text, &len, errstr,
					sizeof(errstr)))
			return gw_respond_error(r, 500, errstr, 0, NULL);
		ret = gw_respond(r, 200, "text/plain; version=0.0.4", text, len, 0, NULL);
		free(text);
		return ret;
	default:
		return gw_respond_error(r, 404, "not found", 0, NULL);
	}
}

/* ---- the request handler ------------------------------------------------------ */

static enum gw_route
gw_route_of(const char *url)
{
	for (int i = 0; i < GW_ROUTE_OTHER; i++) {
		size_t len = strlen(gw_routes[i].path);
		bool prefix = gw_routes[i].path[len - 1] == '/';

		if (prefix ? !strncmp(url, gw_routes[i].path, len) && url[len]
			   : !strcmp(url, gw_routes[i].path))
			return (enum gw_route)i;
	}
	return GW_ROUTE_OTHER;
}

/* Does the Content-Type header (parameters such as charset allowed) name one of the
 * media types in the NULL-terminated list? */
static bool
gw_content_type_ok(const char *ct, const char *const *types)
{
	if (!ct)
		return false;
	for (; *types; types++) {
		size_t len = strlen(*types);

		if (!strncasecmp(ct, *types, len) &&
		    (ct[len] == '\0' || ct[len] == ';' || ct[len] == ' '))
			return true;
	}
	return false;
}

/* The checks a request passes before its body is read. Returns true when it was
 * answered. */
static bool
gw_precheck(struct gw_req *r, const char *method)
{
	static const char *const json_types[] = {"application/json", NULL};
	static const char *const ndjson_types[] = {"application/x-ndjson",
						   "application/ndjson", NULL};
	struct gw_server *s = r->s;
	struct MHD_Connection *c = r->conn;
	const char *ct, *key, *cl;
	bool is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");

	if (r->route == GW_ROUTE_OTHER) {
		gw_respond_error(r, 404, "not found", 0, NULL);
		return true;
	}
	if (!gw_routes[r->route].post) {
		if (!is_get)
			gw_respond_error(r, 405, "method not allowed: use GET", 0,
					 "GET, HEAD");
		return !is_get;
	}
	if (strcmp(method, "POST")) {
		gw_respond_error(r, 405, "method not allowed: use POST", 0, "POST");
		return true;
	}
	if (atomic_load(&s->draining)) {
		gw_respond_error(r, 503,
				 "the gateway is shutting down: nothing was published, "
				 "retry (the same Idempotency-Key is safe)",
				 s->conf.retry_after_s, NULL);
		return true;
	}
	r->client = GW_AUTH_ANONYMOUS;
	if (s->conf.auth) {
		r->client = gw_auth_client(
		    s->conf.auth, MHD_lookup_connection_value(
				      c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
		if (!r->client) {
			gw_respond_error(
			    r, 401,
			    "missing or unknown API key (Authorization: Bearer <key>)", 0,
			    NULL);
			return true;
		}
	}
	ct =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!gw_content_type_ok(ct, r->route == GW_ROUTE_EVENTS ? ndjson_types
								: json_types)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "unsupported content type \"%.64s\": use %s",
			 ct ? ct : "",
			 r->route == GW_ROUTE_EVENTS ? "application/x-ndjson"
						     : "application/json");
		gw_respond_error(r, 415, msg, 0, NULL);
		return true;
	}
	key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
	if (key) {
		snprintf(r->idempotency_key, sizeof(r->idempotency_key), "%s", key);
		r->has_key = true;
	}
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl &&
	    strtoull(cl, NULL, 10) >
		(r->route == GW_ROUTE_EVENTS ? s->conf.batch_limit : s->conf.body_limit))
		r->too_large = true; /* answered once the body is drained */
	return false;
}

static bool
gw_append(struct gw_req *r, const char *data, size_t len)
{
	size_t limit =
	    r->route == GW_ROUTE_EVENTS ? r->s->conf.batch_limit : r->s->conf.body_limit;

	if (r->too_large || r->len + len > limit) {
		r->too_large = true;
		return true;
	}
	if (r->len + len > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *grown;

		while (cap < r->len + len)
			cap *= 2;
		grown = realloc(r->body, cap);
		if (!grown)
			return false;
		r->body = grown;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	return true;
}

static enum MHD_Result
gw_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	  const char *version, const char *upload_data, size_t *upload_data_size,
	  void **con_cls)
{
	struct gw_server *s = cls;
	struct gw_req *r = *con_cls;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->s = s;
		r->conn = conn;
		r->route = gw_route_of(url);
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		*con_cls = r;
		atomic_fetch_add(&s->in_flight, 1);
		souk_metrics_gauge_add(s->in_flight_series, 1);
		if (gw_precheck(r, method) || gw_routes[r->route].post)
			return MHD_YES;
		return gw_get(r, url);
	}
	if (*upload_data_size) {
		size_t len = *upload_data_size;

		*upload_data_size = 0;
		if (r->answered)
			return MHD_YES; /* answered early: drain what the client still
					   sends */
		return gw_append(r, upload_data, len) ? MHD_YES : MHD_NO;
	}
	if (r->answered)
		return MHD_YES;
	if (r->suspended)
		return gw_respond_slots(r); /* resumed: every event has its answer */
	if (r->too_large) {
		char msg[128];

		snprintf(msg, sizeof(msg), "body too large: the limit is %zu bytes",
			 r->route == GW_ROUTE_EVENTS ? s->conf.batch_limit
						     : s->conf.body_limit);
		return gw_respond_error(r, 413, msg, 0, NULL);
	}
	return gw_produce(r);
}

static void
gw_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct gw_server *s = cls;
	struct gw_req *r = *con_cls;
	struct timespec now;
	double secs;

	(void)conn;
	(void)toe;
	if (!r)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - r->start.tv_sec) +
	       (now.tv_nsec - r->start.tv_nsec) / 1e9;
	souk_metrics_histogram_observe(s->latency_series[r->route], secs);
	souk_metrics_counter_add(gw_req_series(s, r->route, r->status), 1);
	souk_metrics_gauge_add(s->in_flight_series, -1);
	atomic_fetch_sub(&s->in_flight, 1);
	free(r->body);
	free(r->slots);
	free(r);
	*con_cls = NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

struct gw_server *
gw_server_new(const struct gw_server_conf *conf, char *errstr, size_t errstr_size)
{
	struct gw_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;
	char werr[256];

	if (!s) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	s->conf = *conf;
	if (souk_http_parse_ipv4(conf->listen, &sa, errstr, errstr_size) ||
	    gw_metrics_new(s, errstr, errstr_size))
		goto fail;
	s->producer = souk_kafka_producer_new(conf->brokers, conf->props, conf->nprops,
					      conf->deadline_ms, gw_on_delivery, s,
					      errstr, errstr_size);
	if (!s->producer)
		goto fail;
	if (souk_kafka_wait_ready(conf->brokers, conf->props, conf->nprops,
				  conf->deadline_ms, werr, sizeof(werr)) == 0)
		atomic_store(&s->broker_up, true);
	else
		SOUK_LOG_WARN("broker_unreachable", "brokers=%s error=%s", conf->brokers,
			      werr);
	if (pthread_create(&s->poll_thread, NULL, gw_poll_main, s)) {
		snprintf(errstr, errstr_size, "could not start the poll thread");
		goto fail_producer;
	}
	if (pthread_create(&s->probe_thread, NULL, gw_probe_main, s)) {
		snprintf(errstr, errstr_size, "could not start the probe thread");
		atomic_store(&s->stop, true);
		pthread_join(s->poll_thread, NULL);
		goto fail_producer;
	}
	s->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, gw_handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)conf->threads,
	    MHD_OPTION_CONNECTION_LIMIT, conf->connection_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_NOTIFY_COMPLETED,
	    gw_completed, s, MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(errstr, errstr_size, "could not listen on %s: %s", conf->listen,
			 errno ? strerror(errno) : "libmicrohttpd refused to start");
		atomic_store(&s->stop, true);
		pthread_join(s->poll_thread, NULL);
		pthread_join(s->probe_thread, NULL);
		goto fail_producer;
	}
	return s;
fail_producer:
	souk_kafka_producer_destroy(s->producer);
fail:
	free(s);
	return NULL;
}

unsigned
gw_server_port(const struct gw_server *s)
{
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

int
gw_server_drain(struct gw_server *s, int timeout_ms)
{
	int waited = 0, left;

	/* Requests that arrive from now on are refused with 503 before their body is
	 * read; the listening socket stays open until gw_server_destroy.
	 * MHD_quiesce_daemon is not used: in libmicrohttpd 0.9.75 it races the epoll
	 * worker threads over removing the listening socket from their epoll sets and
	 * aborts the process ("Failed to remove listen FD from epoll set"). */
	atomic_store(&s->draining, true);
	while ((left = atomic_load(&s->in_flight)) > 0 && waited < timeout_ms) {
		usleep(10 * 1000);
		waited += 10;
	}
	souk_kafka_flush(s->producer, timeout_ms > waited ? timeout_ms - waited : 0);
	return atomic_load(&s->in_flight);
}

void
gw_server_destroy(struct gw_server *s)
{
	if (!s)
		return;
	/* Delivery reports resume suspended requests: keep serving them until the
	 * producer is empty, so no suspended connection outlives the daemon. */
	souk_kafka_flush(s->producer, s->conf.deadline_ms + 1000);
	atomic_store(&s->stop, true);
	pthread_join(s->poll_thread, NULL);
	pthread_join(s->probe_thread, NULL);
	MHD_stop_daemon(s->mhd);
	souk_kafka_producer_destroy(s->producer);
	free(s);
}
