/* souk_http: the status server every souk process runs, on libmicrohttpd.
 *
 *   GET /metrics   the metrics registry in Prometheus text format 0.0.4
 *   GET /healthz   200 "ok" while the process lives
 *   GET /readyz    200 "ready" once the owner said so, else 503 "not ready: <reason>"
 *
 * plus the GET routes an owner adds (souk_http_route). Other paths get 404; other
 * methods than GET and HEAD on a served path get 405.
 *
 * Requests are served by one internal libmicrohttpd thread (epoll where available),
 * so a route callback runs on that thread, one at a time, and a slow one delays every
 * other request. All functions here may be called from any thread. */
#ifndef SOUK_HTTP_H
#define SOUK_HTTP_H

#include <stddef.h>

#include <netinet/in.h>

#include "souk_metrics.h"

struct souk_http;
struct souk_http_request;

struct souk_http_response {
	int status;		  /* preset to 200 */
	const char *content_type; /* preset to "application/json"; copied on return */
	char *body;		  /* malloc'd, or NULL for none; freed by souk_http */
	size_t body_len;
};

/* Fills resp for req. Runs on the server thread. */
typedef void souk_http_route_cb(const struct souk_http_request *req,
				struct souk_http_response *resp, void *opaque);

/* Starts serving on listen, "host:port" or "[v6addr]:port", on that address only;
 * port 0 picks a free port (see souk_http_port). metrics is borrowed and must outlive
 * the server. The server starts not ready, with the reason "starting". Returns NULL
 * with errstr filled when listen is malformed or the server cannot start. */
struct souk_http *souk_http_new(const char *listen, struct souk_metrics *metrics,
				char *errstr, size_t errstr_size);

/* Stops the server and waits for its thread; a request in flight completes first. */
void souk_http_destroy(struct souk_http *http);

/* The port the server listens on. */
unsigned souk_http_port(const struct souk_http *http);

/* What /readyz answers from now on; reason (copied, at most 255 bytes kept) is shown
 * when not ready, e.g. "kafka unreachable". */
void souk_http_set_ready(struct souk_http *http, int ready, const char *reason);

/* Serves GET path (exact match, no query string) with cb. Returns 0, or -1 with
 * errstr filled when path does not begin with '/' or is already served. */
int souk_http_route(struct souk_http *http, const char *path, souk_http_route_cb *cb,
		    void *opaque, char *errstr, size_t errstr_size);

/* Parses listen as "a.b.c.d:port" (an IPv4 address, no name: the form the request
 * servers built on libmicrohttpd take) into *sa. Returns 0, or -1 with errstr
 * `listen address "x": expected IPv4:port`. */
int souk_http_parse_ipv4(const char *listen, struct sockaddr_in *sa, char *errstr,
			 size_t errstr_size);

/* The value of query argument name ("/lag?group=g" -> "g"), or NULL when absent;
 * valid during the callback only. */
const char *souk_http_request_arg(const struct souk_http_request *req, const char *name);

#endif
