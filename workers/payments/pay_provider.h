/*
 * pay_provider: the payments pool's client of the payment provider (souk-psp's HTTP
 * API, workers/payments/psp/psp_service.h), on libcurl's multi interface: any number of
 * requests in flight on the one thread that owns the handle, each answered through its
 * callback with an outcome the pool can act on:
 *
 *   OK         2xx: applied (or replayed); provider_ref, status and amount filled
 *   REFUSED    4xx with the provider's code (declined-like, illegal_state, not_found,
 *              invalid_request, idempotency_key_reused): a definite answer, do not
 *              retry
 *   FAILED     500 provider_error, or no connection could be made and no byte of the
 *              request went out (CURLINFO_REQUEST_SIZE 0, every attempt counted):
 *              definitely not applied, safe to retry with the same key
 *   UNKNOWN    a timeout, a connection lost after the request went out (also when
 *              libcurl's retry of it on a fresh connection then fails to connect), 409
 *              in_progress, any other 5xx or an answer that does not parse: it may have
 *              been applied; keep the key in_progress and ask LOOKUP later
 *   NOT_FOUND  LOOKUP only, 404 unknown_key: nothing was ever applied under the key
 *
 * A LOOKUP answered 200 {key, status, body} is unwrapped: the stored body is classified
 * as if it had been the operation's own answer with the stored HTTP status (a stored
 * 200 gives OK with its provider_ref, a stored 409 gives REFUSED with its code).
 *
 * Connections: one curl multi handle; keep-alive connections are reused, at most
 * PAY_PROVIDER_MAX_CONNECTIONS to the provider at once (more requests wait in the
 * handle for a free connection, and their wait counts against their timeout). Every
 * transfer is bounded by the timeout given to pay_provider_new, from submission to the
 * last byte. No signals are used (CURLOPT_NOSIGNAL).
 *
 * libcurl's global state is initialized once per process by the first pay_provider_new
 * (pthread_once; it is reference-counted by libcurl, so a program that also calls
 * curl_global_init is fine) and never cleaned up: it lives as long as the process.
 *
 * Threads: a handle belongs to one thread at a time; distinct handles are independent.
 * Memory: about 1 KB per request in flight plus its answer (answers over
 * PAY_PROVIDER_MAX_ANSWER bytes are cut off and reported UNKNOWN).
 */
#ifndef PAY_PROVIDER_H
#define PAY_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A call in flight holds a connection (HTTP/1.1, no pipelining): at 50 ms of provider
 * latency, 1024 connections carry about 20,000 calls a second per handle. Each costs a
 * socket (a file descriptor) and ~50 KB of libcurl buffers while it is open. */
#define PAY_PROVIDER_MAX_CONNECTIONS 1024
#define PAY_PROVIDER_MAX_ANSWER (64 * 1024)

enum pay_provider_op {
	PAY_PROVIDER_AUTHORIZE, /* POST /v1/payments/authorize */
	PAY_PROVIDER_CAPTURE,	/* POST /v1/payments/{ref}/capture */
	PAY_PROVIDER_VOID,	/* POST /v1/payments/{ref}/void */
	PAY_PROVIDER_REFUND,	/* POST /v1/payments/{ref}/refund */
	PAY_PROVIDER_LOOKUP,	/* GET /v1/operations/{key} */
};

enum pay_provider_outcome {
	PAY_PROVIDER_OK,
	PAY_PROVIDER_REFUSED,
	PAY_PROVIDER_FAILED,
	PAY_PROVIDER_UNKNOWN,
	PAY_PROVIDER_NOT_FOUND,
};

/* What to ask. Strings are copied by pay_provider_submit; unused ones may be NULL:
 *   AUTHORIZE  payment_id, amount, currency
 *   CAPTURE    provider_ref, amount
 *   VOID       provider_ref
 *   REFUND     provider_ref, amount, refund_id
 *   LOOKUP     idempotency_key only
 * idempotency_key is always required (sent as the Idempotency-Key header). */
struct pay_provider_request {
	enum pay_provider_op op;
	const char *idempotency_key;
	const char *provider_ref;
	const char *payment_id;
	int64_t amount; /* minor units */
	const char *currency;
	const char *refund_id;
};

/* What came back. Strings are NULL when absent and valid only during the callback. */
struct pay_provider_result {
	enum pay_provider_outcome outcome;
	enum pay_provider_op op;
	const char *idempotency_key;
	long http_status; /* of the operation (for LOOKUP: the stored one); 0: none */
	const char *provider_ref; /* OK */
	const char *status;	  /* OK: "authorized", "declined", "captured", ... */
	int64_t amount;		  /* OK; 0 when absent */
	const char *code;	  /* REFUSED, FAILED from a 500: the provider's code */
	const char *error;	  /* not OK: the provider's message or what failed */
};

typedef void pay_provider_cb(const struct pay_provider_result *result, void *opaque);

struct pay_provider;

/* A client of the provider at base_url ("http://127.0.0.1:18200", no trailing slash
 * needed), each request bounded by timeout_ms (> 0). NULL with errstr filled. */
struct pay_provider *pay_provider_new(const char *base_url, long timeout_ms, char *errstr,
				      size_t errstr_size);
/* Abandons the requests still in flight without calling their callbacks (their
 * outcome is unknown to the caller, as after a crash). NULL is fine. */
void pay_provider_destroy(struct pay_provider *p);

/* Starts req (copied; the body is built here). cb(result, opaque) runs later, from
 * pay_provider_run, exactly once. Returns 0, or -1 with errstr filled (a required
 * field missing, out of memory): then cb is never called. May be called from a
 * callback. */
int pay_provider_submit(struct pay_provider *p, const struct pay_provider_request *req,
			pay_provider_cb *cb, void *opaque, char *errstr,
			size_t errstr_size);

/* Drives the transfers, calling each callback as its transfer completes. Returns once
 * a round of polling completed at least one request, nothing is in flight, or
 * timeout_ms went by: the number of callbacks called (0 or more), or -1 with errstr
 * filled when curl's multi handle failed. Neither run nor destroy may be called from a
 * callback. */
int pay_provider_run(struct pay_provider *p, long timeout_ms, char *errstr,
		     size_t errstr_size);

/* Requests submitted whose callback has not run yet. O(1). */
size_t pay_provider_pending(const struct pay_provider *p);

/* "ok", "refused", "failed", "unknown", "not_found"; NULL out of range. */
const char *pay_provider_outcome_name(enum pay_provider_outcome outcome);

#endif
