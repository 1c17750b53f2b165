/* souk_http: real requests over loopback sockets to a server on an ephemeral port. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "souk_http.h"
#include "souk_metrics.h"

struct fixture {
	struct souk_metrics *metrics;
	struct souk_http *http;
};

struct response {
	int status;
	char headers[4096]; /* status line and headers, up to the blank line */
	char body[65536];
};

static char err[512];

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct souk_metrics_family *requests;

	if (f == NULL)
		return -1;
	*state = f;
	f->metrics = souk_metrics_new();
	requests = souk_metrics_register_counter(f->metrics, "souk_test_total",
						 "Test count.", NULL, err, sizeof(err));
	if (requests == NULL)
		return -1;
	souk_metrics_counter_add(souk_metrics_series(requests, NULL), 7);
	f->http = souk_http_new("127.0.0.1:0", f->metrics, err, sizeof(err));
	return f->http != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	souk_http_destroy(f->http);
	souk_metrics_destroy(f->metrics);
	free(f);
	return 0;
}

/* Sends "METHOD target HTTP/1.1" with Connection: close to 127.0.0.1:port and reads
 * the whole answer. */
static void
request(unsigned port, const char *method, const char *target, struct response *resp)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port)};
	struct timeval timeout = {.tv_sec = 10};
	char raw[sizeof(resp->headers) + sizeof(resp->body)];
	char req[512];
	size_t len = 0;
	ssize_t n;
	char *blank;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method,
		 target);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((n = read(fd, raw + len, sizeof(raw) - 1 - len)) > 0)
		len += (size_t)n;
	assert_true(n == 0);
	close(fd);
	raw[len] = '\0';

	blank = strstr(raw, "\r\n\r\n");
	assert_non_null(blank);
	/* Keep the CRLF ending the last header, for assert_header. */
	assert_true((size_t)(blank - raw) + 2 < sizeof(resp->headers));
	memcpy(resp->headers, raw, (size_t)(blank - raw) + 2);
	resp->headers[blank - raw + 2] = '\0';
	snprintf(resp->body, sizeof(resp->body), "%s", blank + 4);
	assert_int_equal(sscanf(raw, "HTTP/1.1 %d ", &resp->status), 1);
}

static void
assert_header(const struct response *resp, const char *header)
{
	char line[256];

	snprintf(line, sizeof(line), "\r\n%s\r\n", header);
	if (strcasestr(resp->headers, line) == NULL)
		fail_msg("no header \"%s\" in:\n%s", header, resp->headers);
}

static void
test_port_is_ephemeral(void **state)
{
	struct fixture *f = *state;

	assert_in_range(souk_http_port(f->http), 1, 65535);
}

static void
test_healthz(void **state)
{
	struct fixture *f = *state;
	struct response resp;

	request(souk_http_port(f->http), "GET", "/healthz", &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "ok\n");
}

static void
test_metrics(void **state)
{
	struct fixture *f = *state;
	struct response resp;

	request(souk_http_port(f->http), "GET", "/metrics", &resp);
	assert_int_equal(resp.status, 200);
	assert_header(&resp, "Content-Type: text/plain; version=0.0.4");
	assert_string_equal(resp.body, "# HELP souk_test_total Test count.\n"
				       "# TYPE souk_test_total counter\n"
				       "souk_test_total 7\n");
}

static void
test_readyz_follows_owner(void **state)
{
	struct fixture *f = *state;
	struct response resp;
	unsigned port = souk_http_port(f->http);

	request(port, "GET", "/readyz", &resp);
	assert_int_equal(resp.status, 503);
	assert_string_equal(resp.body, "not ready: starting\n");

	souk_http_set_ready(f->http, 1, NULL);
	request(port, "GET", "/readyz", &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "ready\n");

	souk_http_set_ready(f->http, 0, "kafka unreachable");
	request(port, "GET", "/readyz", &resp);
	assert_int_equal(resp.status, 503);
	assert_string_equal(resp.body, "not ready: kafka unreachable\n");
	/* Liveness does not follow readiness. */
	request(port, "GET", "/healthz", &resp);
	assert_int_equal(resp.status, 200);
}

static void
test_unknown_path_and_method(void **state)
{
	struct fixture *f = *state;
	struct response resp;
	unsigned port = souk_http_port(f->http);

	request(port, "GET", "/nope", &resp);
	assert_int_equal(resp.status, 404);
	request(port, "POST", "/nope", &resp);
	assert_int_equal(resp.status, 404);

	request(port, "POST", "/metrics", &resp);
	assert_int_equal(resp.status, 405);
	assert_header(&resp, "Allow: GET, HEAD");
	request(port, "DELETE", "/readyz", &resp);
	assert_int_equal(resp.status, 405);

	request(port, "HEAD", "/healthz", &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "");
}

static void
echo_group(const struct souk_http_request *req, struct souk_http_response *resp,
	   void *opaque)
{
	const char *group = souk_http_request_arg(req, "group");

	if (group == NULL) {
		resp->status = 400;
		resp->content_type = "text/plain";
		resp->body = strdup("missing group\n");
	} else {
		if (asprintf(&resp->body, "{\"group\":\"%s\",\"calls\":%d}", group,
			     ++*(int *)opaque) < 0)
			resp->body = NULL;
	}
	resp->body_len = resp->body != NULL ? strlen(resp->body) : 0;
}

static void
test_extra_route(void **state)
{
	struct fixture *f = *state;
	struct response resp;
	unsigned port = souk_http_port(f->http);
	int calls = 0;

	assert_int_equal(
	    souk_http_route(f->http, "/lag", echo_group, &calls, err, sizeof(err)), 0);
	request(port, "GET", "/lag?group=inventory", &resp);
	assert_int_equal(resp.status, 200);
	assert_header(&resp, "Content-Type: application/json");
	assert_string_equal(resp.body, "{\"group\":\"inventory\",\"calls\":1}");

	request(port, "GET", "/lag", &resp);
	assert_int_equal(resp.status, 400);
	assert_string_equal(resp.body, "missing group\n");

	request(port, "PUT", "/lag", &resp);
	assert_int_equal(resp.status, 405);
	assert_int_equal(calls, 1);
}

static void
test_route_errors(void **state)
{
	struct fixture *f = *state;
	int calls = 0;

	assert_int_equal(
	    souk_http_route(f->http, "/metrics", echo_group, &calls, err, sizeof(err)),
	    -1);
	assert_string_equal(err,
			    "could not add route \"/metrics\": path is already served");
	assert_int_equal(
	    souk_http_route(f->http, "/lag", echo_group, &calls, err, sizeof(err)), 0);
	assert_int_equal(
	    souk_http_route(f->http, "/lag", echo_group, &calls, err, sizeof(err)), -1);
	assert_string_equal(err, "could not add route \"/lag\": path is already served");
	assert_int_equal(
	    souk_http_route(f->http, "lag", echo_group, &calls, err, sizeof(err)), -1);
	assert_string_equal(err, "could not add route \"lag\": path must begin with /");
}

static void
test_bad_listen_addresses(void **state)
{
	struct fixture *f = *state;
	char in_use[64];

	assert_null(souk_http_new("127.0.0.1:99999", f->metrics, err, sizeof(err)));
	assert_string_equal(err,
			    "could not start http server on \"127.0.0.1:99999\": port "
			    "must be a number from 0 to 65535");
	assert_null(souk_http_new("8080", f->metrics, err, sizeof(err)));
	assert_string_equal(
	    err, "could not start http server on \"8080\": expected host:port");
	assert_null(
	    souk_http_new("no.such.host.invalid:80", f->metrics, err, sizeof(err)));
	assert_non_null(strstr(err, "could not start http server on "
				    "\"no.such.host.invalid:80\": could not resolve "
				    "\"no.such.host.invalid\": "));

	snprintf(in_use, sizeof(in_use), "127.0.0.1:%u", souk_http_port(f->http));
	assert_null(souk_http_new(in_use, f->metrics, err, sizeof(err)));
	if (strstr(err, "in use") == NULL)
		fail_msg("no \"in use\" in: %s", err);
}

static void
test_ipv6_loopback(void **state)
{
	struct fixture *f = *state;
	struct souk_http *http = souk_http_new("[::1]:0", f->metrics, err, sizeof(err));

	/* Hosts without IPv6 cannot bind ::1; the error must then say so. */
	if (http == NULL) {
		assert_non_null(
		    strstr(err, "could not start http server on \"[::1]:0\": "));
		skip();
	}
	assert_in_range(souk_http_port(http), 1, 65535);
	souk_http_destroy(http);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_port_is_ephemeral, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readyz_follows_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_path_and_method, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_extra_route, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_route_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_listen_addresses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_loopback, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
