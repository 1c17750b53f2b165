/*
 * gw_server: souk-gateway's HTTP front, on libmicrohttpd.
 *
 *   POST /v1/orders, /v1/payments, /v1/locations, /v1/ride-requests, /v1/ride-events
 *        one JSON event (application/json) -> 202 {event_id, topic, partition, offset}
 *        once the broker acknowledged it (acks=all, idempotent producer)
 *   POST /v1/events   NDJSON (application/x-ndjson), events of any client type ->
 *        200 with one line per event: {"line": n, "status": s, "body": {...}}
 *   GET  /v1/stock/{sku}  display stock from Redis (eventually consistent)
 *   GET  /v1/orders/{order_id}  the order's decision from PostgreSQL, or "pending"
 *   GET  /v1/payments/{payment_id}  the payment's ledger from PostgreSQL: state,
 *        amounts, commands in progress, refunds, transitions; 404 when absent
 *   GET  /v1/rides/{request_id}  the ride from PostgreSQL: state, driver, the current
 *        offer's figures (ETA, distance, fare, surge, model, index offsets); 404 when
 *        absent. With API keys on, both read only the client's own rows.
 *   GET  /metrics, /healthz, /readyz
 *
 * Errors: 400 {"error", "field"} or {"error", "offset"}; 401 (keys configured, key
 * missing or wrong); 404; 405; 413 (body over the limit); 415 (content type); 429 with
 * Retry-After (rate limit); 503 with Retry-After (broker unreachable or producer queue
 * full: nothing was published); 504 (no broker answer within the deadline: the outcome
 * is unknown, retry with the same Idempotency-Key).
 *
 * A request that produces is suspended, not a blocked thread: the producer's delivery
 * reports, served on the server's own poll thread, resume it. libmicrohttpd runs a pool
 * of epoll threads; suspended connections count against its connection limit.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <stddef.h>

#include "gw_auth.h"
#include "gw_ratelimit.h"
#include "gw_pool.h"
#include "souk_kafka.h"
#include "souk_metrics.h"

struct gw_server_conf {
	const char *listen; /* "host:port" */
	int threads;	    /* libmicrohttpd's epoll threads */
	unsigned connection_limit;
	size_t body_limit;  /* bytes, one event */
	size_t batch_limit; /* bytes, one /v1/events body */
	size_t batch_lines; /* events, one /v1/events body */
	int deadline_ms;    /* broker acknowledgement deadline -> 504 */
	int retry_after_s;  /* Retry-After on 503 */
	const char *brokers;
	const struct souk_kafka_prop *props; /* extra librdkafka properties */
	size_t nprops;
	/* Borrowed, must outlive the server. auth and ratelimit may be NULL (open
	 * gateway, no rate limit); redis may be NULL (no /v1/stock), pg too (no
	 * /v1/orders/{id}, /v1/payments/{id} nor /v1/rides/{id}). */
	const struct gw_auth *auth;
	struct gw_ratelimit *ratelimit;
	struct gw_pool *redis;
	struct gw_pool *pg;
	struct souk_metrics *metrics;
};

struct gw_server;

/* Creates the producer, waits up to the deadline for the broker (not fatal: requests get
 * 503 until it answers), starts serving. Returns NULL with errstr. */
struct gw_server *gw_server_new(const struct gw_server_conf *conf, char *errstr,
				size_t errstr_size);

/* The bound port (conf->listen may ask for port 0). */
unsigned gw_server_port(const struct gw_server *s);

/* Stops taking events (a POST is answered 503 before its body is read, /readyz turns
 * 503), waits up to timeout_ms for requests in flight to get
 * their answers and for the producer to deliver what it holds. Returns the number of
 * requests still unanswered (0: drained). */
int gw_server_drain(struct gw_server *s, int timeout_ms);

/* Stops serving and frees everything; call gw_server_drain first for a clean exit. */
void gw_server_destroy(struct gw_server *s);

#endif
