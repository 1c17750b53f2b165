/*
 * psp_server: souk-psp's HTTP/1.1 front, on libmicrohttpd.
 *
 *   POST /v1/payments/authorize             {"payment_id", "amount", "currency"}
 *   POST /v1/payments/{provider_ref}/capture  {"amount"}
 *   POST /v1/payments/{provider_ref}/void     (no body, or {})
 *   POST /v1/payments/{provider_ref}/refund   {"amount", "refund_id"}
 *        each with Idempotency-Key -> 200 {"provider_ref", "payment_id", "type",
 *        "status", "amount", "currency", "key"} (refunds add "refund_id" and
 *        "refunded_total"); 400 invalid_request (with "field"), 404 not_found, 409
 *        illegal_state or in_progress, 422 idempotency_key_reused, 500 provider_error
 *        (injected, nothing applied). A replay carries Idempotent-Replayed: true.
 *   GET  /v1/operations/{key}               the stored answer under a key
 *   GET  /v1/ledger/{payment_id}            the payment's operations
 *   GET  /v1/reports/settlement?date=YYYY-MM-DD   text/csv
 *   POST /v1/test/drop/{provider_ref}, /v1/test/amount/{provider_ref}   (test hooks,
 *        only when enabled; else 404)
 *   GET  /metrics, /healthz
 *
 * Every /v1/ answer waits latency_ms; an operation whose timeout fault hit waits
 * timeout_delay_ms more after its effect is recorded. A waiting request is a
 * suspended connection resumed by a psp_timer, never a blocked thread, so thousands
 * can wait at once (each holds a socket: the connection limit counts them).
 */
#ifndef PSP_SERVER_H
#define PSP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psp_service.h"
#include "souk_metrics.h"

struct psp_server_conf {
	const char *listen; /* "IPv4:port"; port 0 picks a free one */
	int threads;	    /* libmicrohttpd's epoll threads */
	unsigned connection_limit;
	int64_t latency_ms;
	int64_t timeout_delay_ms;
	bool test_hooks;
	struct psp_service *service;  /* borrowed, must outlive the server */
	struct souk_metrics *metrics; /* borrowed, must outlive the server */
};

struct psp_server;

/* Starts serving. Returns NULL with errstr filled when listen is malformed or the
 * address cannot be bound. */
struct psp_server *psp_server_new(const struct psp_server_conf *conf, char *errstr,
				  size_t errstr_size);

/* The bound port. */
unsigned psp_server_port(const struct psp_server *s);

/* Stops accepting connections, ends every pending delay at once so that each request
 * in flight gets its answer (waiting up to 5 s for them), then stops and frees
 * everything. NULL is fine. */
void psp_server_destroy(struct psp_server *s);

#endif
