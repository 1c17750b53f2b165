/*
 * gw_ingest: turns what a client sent into a complete souk event.
 *
 * A client sends the body fields of one event (and optionally `type` and `version`);
 * the gateway owns the envelope: event_id (derived from the client and its
 * idempotency key when one is given, so a retry keeps its id; random otherwise), ts
 * (when the gateway received it), client_id (from the API key). Values a client sends
 * for those three are replaced. The idempotency key comes from the Idempotency-Key
 * header or the body's `idempotency_key`; when both are given they must be equal. On
 * /v1/events the header derives every line's event_id (with its line number) and each
 * line carries only its own key: one request's lines must not share a key.
 *
 * Clients may send order, payment, location, ride_request and ride_event events.
 * Results, surge and stock_set are published by souk itself, and a payment `settle`
 * only by the payments reconciliation.
 *
 * Pure: no I/O, safe on any thread. Cost: O(body bytes): one parse, one write of the
 * event, one decode of it (the codec's validation).
 */
#ifndef GW_INGEST_H
#define GW_INGEST_H

#include <stddef.h>

#include "souk_event.h"

struct gw_ingest_request {
	/* The type a route implies (/v1/orders: order); SOUK_EVENT_TYPE_NONE when the
	 * body names it (/v1/events). */
	souk_event_type_t route_type;
	const char *client_id;
	const char *idempotency_key; /* the header's value, or NULL */
	unsigned long part;	     /* NDJSON line number; 0 for a single event */
	const char *ts;		     /* receive time, RFC 3339 UTC with milliseconds */
};

#define GW_INGEST_TOO_LARGE (-2)

/*
 * Builds the event from body[0..len) into out (out_size >= SOUK_EVENT_MAX_BYTES + 1)
 * as *out_len bytes of JSON plus a NUL, and decodes it into *ev. Returns 0, or -1 with
 * *err naming the field (or the byte offset in body for malformed JSON): the gateway
 * answers 400 with it; or GW_INGEST_TOO_LARGE when the event with its envelope is over
 * SOUK_EVENT_MAX_BYTES (413).
 */
int gw_ingest_build(const char *body, size_t len, const struct gw_ingest_request *req,
		    souk_event_t *ev, char *out, size_t out_size, size_t *out_len,
		    souk_event_error_t *err);

#endif
