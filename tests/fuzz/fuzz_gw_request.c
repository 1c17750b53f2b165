/*
 * fuzz_gw_request: what the gateway does with a POST once its headers are in, up to
 * the broker: the Authorization header (gw_auth_client), the Idempotency-Key header,
 * the body split into events (souk_ndjson on /v1/events) and each event built and
 * validated (gw_ingest_build). These are the parts of the request handling that are
 * pure; routing and the content-type check are static in gw_server.c and not reached.
 *
 * The input is a request written like HTTP/1.1 without the method:
 *
 *   /v1/orders
 *   Authorization: Bearer fuzz-key-shop-0000000001
 *   Idempotency-Key: k-1
 *
 *   {"order_id": "o-1", ...}
 *
 * A path the gateway does not POST to is ignored (it would be 404 or 405). With an
 * Authorization header the gateway runs with the key file below and an unknown key
 * ends the request (401); without one it runs open, as client "anonymous". The
 * Idempotency-Key value is cut to the gateway's buffer as gw_server.c does.
 *
 * Properties of every event built, beyond "no crash, no leak, no undefined
 * behaviour":
 *   - a refusal has a message, and a 400 names a field or a byte offset;
 *   - an accepted event is NUL-terminated JSON that decodes to the same event, of the
 *     route's type (or a type clients may send, on /v1/events), with the gateway's ts
 *     and the authenticated client, and a partition key;
 *   - with an Idempotency-Key the event_id is the one derived from client, key and
 *     line (a retry keeps its id), and a single event carries the header's key.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "gw_auth.h"
#include "gw_ingest.h"
#include "souk_ndjson.h"
#include "souk_uuid.h"

#define FUZZ_TS "2024-05-01T12:00:00.000Z"
#define FUZZ_BATCH_LINES 10000 /* gateway.batch_lines' default */

/* The POST routes of gw_server.c and the type each implies. */
static const struct {
	const char *path;
	souk_event_type_t type;
} routes[] = {
    {"/v1/orders", SOUK_EVENT_TYPE_ORDER},
    {"/v1/payments", SOUK_EVENT_TYPE_PAYMENT},
    {"/v1/locations", SOUK_EVENT_TYPE_LOCATION},
    {"/v1/ride-requests", SOUK_EVENT_TYPE_RIDE_REQUEST},
    {"/v1/ride-events", SOUK_EVENT_TYPE_RIDE_EVENT},
    {"/v1/events", SOUK_EVENT_TYPE_NONE},
};

static const char keys[] = "# fuzz keys\n"
			   "fuzz-key-shop-0000000001 shop-1\n"
			   "fuzz-key-fleet-000000002 fleet.eu:2\n";

static struct gw_auth *auth;
static char out[SOUK_EVENT_MAX_BYTES + 1];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd = memfd_create("fuzz_gw_request_keys", 0);
	char path[64], err[512];

	(void)argc;
	(void)argv;
	if (fd < 0 || write(fd, keys, sizeof(keys) - 1) != (ssize_t)(sizeof(keys) - 1)) {
		perror("fuzz_gw_request: could not write the key file");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	auth = gw_auth_load(path, err, sizeof(err));
	if (!auth) {
		fprintf(stderr, "fuzz_gw_request: %s\n", err);
		abort();
	}
	close(fd);
	return 0;
}

static void
check_event(const struct gw_ingest_request *req, int rc, const souk_event_t *ev,
	    size_t out_len, const souk_event_error_t *err)
{
	souk_event_t again;
	souk_event_error_t again_err;
	char id[SOUK_UUID_STRLEN + 1];

	FUZZ_CHECK(rc == 0 || rc == -1 || rc == GW_INGEST_TOO_LARGE, "rc %d", rc);
	if (rc) {
		FUZZ_CHECK(err->message[0], "refused (%d) without a message", rc);
		FUZZ_CHECK(rc != -1 || err->field[0] || err->offset >= 0,
			   "400 names neither a field nor an offset: %s", err->message);
		return;
	}
	FUZZ_CHECK(out_len <= SOUK_EVENT_MAX_BYTES && out[out_len] == '\0' &&
		       strlen(out) == out_len,
		   "the event is not %zu bytes and a NUL", out_len);
	FUZZ_CHECK(souk_event_decode(out, out_len, &again, &again_err) == SOUK_EVENT_OK &&
		       !memcmp(ev, &again, sizeof(again)),
		   "the event written does not decode to the event returned: %s", out);
	if (req->route_type != SOUK_EVENT_TYPE_NONE)
		FUZZ_CHECK(ev->type == req->route_type, "%s event on the %s route",
			   souk_event_type_name(ev->type),
			   souk_event_type_name(req->route_type));
	else
		FUZZ_CHECK(ev->type == SOUK_EVENT_TYPE_ORDER ||
			       ev->type == SOUK_EVENT_TYPE_PAYMENT ||
			       ev->type == SOUK_EVENT_TYPE_LOCATION ||
			       ev->type == SOUK_EVENT_TYPE_RIDE_REQUEST ||
			       ev->type == SOUK_EVENT_TYPE_RIDE_EVENT,
			   "a client published a %s event",
			   souk_event_type_name(ev->type));
	FUZZ_CHECK(ev->type != SOUK_EVENT_TYPE_PAYMENT ||
		       ev->payment.command != SOUK_EVENT_COMMAND_SETTLE,
		   "a client published a settle");
	FUZZ_CHECK(!strcmp(ev->ts, req->ts), "ts \"%s\", not the gateway's", ev->ts);
	FUZZ_CHECK(!strcmp(ev->client_id, req->client_id), "client_id \"%s\", not \"%s\"",
		   ev->client_id, req->client_id);
	FUZZ_CHECK(souk_event_key(ev) && souk_event_topic(ev->type),
		   "no partition key or topic");
	if (req->idempotency_key) {
		souk_uuid_derive(req->client_id, req->idempotency_key, req->part, id);
		FUZZ_CHECK(!strcmp(ev->event_id, id), "event_id %s, derived %s",
			   ev->event_id, id);
		if (req->part == 0)
			FUZZ_CHECK(!strcmp(ev->idempotency_key, req->idempotency_key),
				   "idempotency_key \"%s\", header \"%s\"",
				   ev->idempotency_key, req->idempotency_key);
	}
}

static void
build(const struct gw_ingest_request *req, const char *body, size_t len)
{
	souk_event_t ev;
	souk_event_error_t err;
	size_t out_len = 0;
	int rc = gw_ingest_build(body, len, req, &ev, out, sizeof(out), &out_len, &err);

	check_event(req, rc, &ev, out_len, &err);
}

/* The value of header line [p, end) when its name is name, as a NUL-terminated copy
 * without surrounding blanks (libmicrohttpd's view), or NULL. */
static char *
header_value(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(end - p) <= n || strncasecmp(p, name, n) || p[n] != ':')
		return NULL;
	p += n + 1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return strndup(p, (size_t)(end - p));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	char *authorization = NULL, *key = NULL;
	char key_buf[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE + 1]; /* gw_req's */
	struct gw_ingest_request req = {.ts = FUZZ_TS, .client_id = GW_AUTH_ANONYMOUS};
	size_t route = 0, nroutes = sizeof(routes) / sizeof(routes[0]);

	nl = memchr(p, '\n', size);
	if (!nl)
		return 0;
	while (route < nroutes && ((size_t)(nl - p) != strlen(routes[route].path) ||
				   memcmp(p, routes[route].path, (size_t)(nl - p))))
		route++;
	if (route == nroutes)
		return 0;
	req.route_type = routes[route].type;
	/* Headers up to the blank line; the body is what follows it. */
	for (p = nl + 1; (nl = memchr(p, '\n', (size_t)(end - p))) && nl > p &&
			 !(nl == p + 1 && *p == '\r');
	     p = nl + 1) {
		char *v;

		if ((v = header_value(p, nl, "Authorization"))) {
			free(authorization);
			authorization = v;
		} else if ((v = header_value(p, nl, "Idempotency-Key"))) {
			free(key);
			key = v;
		}
	}
	if (!nl)
		goto out; /* the headers never end */
	p = nl + 1;
	if (authorization && !(req.client_id = gw_auth_client(auth, authorization)))
		goto out; /* 401 */
	if (key) {
		snprintf(key_buf, sizeof(key_buf), "%s", key);
		req.idempotency_key = key_buf;
	}
	if (req.route_type == SOUK_EVENT_TYPE_NONE) {
		struct souk_ndjson it;
		const char *line;
		size_t line_len, n = 0;

		souk_ndjson_init(&it, p, (size_t)(end - p));
		while (souk_ndjson_next(&it, &line, &line_len))
			n++;
		if (n == 0 || n > FUZZ_BATCH_LINES)
			goto out; /* 400, 413 */
		souk_ndjson_init(&it, p, (size_t)(end - p));
		while (souk_ndjson_next(&it, &line, &line_len)) {
			req.part = it.lineno;
			build(&req, line, line_len);
		}
	} else {
		build(&req, p, (size_t)(end - p));
	}
out:
	free(authorization);
	free(key);
	return 0;
}
