#include "souk_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4"

struct route {
	char *path;
	souk_http_route_cb *cb;
	void *opaque;
	struct route *next;
};

struct souk_http {
	struct MHD_Daemon *daemon;
	struct souk_metrics *metrics; /* borrowed */
	unsigned port;
	/* Guards everything below: written by the owner, read by the server thread. */
	pthread_mutex_t mutex;
	int ready;
	char reason[256];
	struct route *routes;
	/* The last message libmicrohttpd logged; says why the start failed. */
	char mhd_error[256];
};

struct souk_http_request {
	struct MHD_Connection *connection;
};

static const char *const builtin_paths[] = {"/metrics", "/healthz", "/readyz"};

/* Queues one response. mode says who owns body: MHD_RESPMEM_MUST_FREE hands a
 * malloc'd body to libmicrohttpd, MUST_COPY copies it, PERSISTENT borrows it. */
static enum MHD_Result
reply(struct MHD_Connection *connection, unsigned status, const char *content_type,
      const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *response;
	enum MHD_Result rc;

	response = MHD_create_response_from_buffer(len, (void *)body, mode);
	if (response == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return rc;
}

static enum MHD_Result
serve_metrics(struct souk_http *http, struct MHD_Connection *connection)
{
	char error[128];
	char body[160];
	char *text;
	size_t len;

	if (souk_metrics_render(http->metrics, &text, &len, error, sizeof(error)) != 0) {
		snprintf(body, sizeof(body), "%s\n", error);
		return reply(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, TEXT_PLAIN, body,
			     strlen(body), MHD_RESPMEM_MUST_COPY);
	}
	return reply(connection, MHD_HTTP_OK, PROMETHEUS_TEXT, text, len,
		     MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result
serve_readyz(struct souk_http *http, struct MHD_Connection *connection)
{
	char body[300];
	int ready;

	pthread_mutex_lock(&http->mutex);
	ready = http->ready;
	snprintf(body, sizeof(body), "not ready: %s\n", http->reason);
	pthread_mutex_unlock(&http->mutex);
	if (ready)
		return reply(connection, MHD_HTTP_OK, TEXT_PLAIN, "ready\n", 6,
			     MHD_RESPMEM_PERSISTENT);
	return reply(connection, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT_PLAIN, body,
		     strlen(body), MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result
serve_route(souk_http_route_cb *cb, void *opaque, struct MHD_Connection *connection)
{
	struct souk_http_request req = {.connection = connection};
	struct souk_http_response resp = {.status = MHD_HTTP_OK,
					  .content_type = "application/json"};

	cb(&req, &resp, opaque);
	return reply(connection, (unsigned)resp.status, resp.content_type, resp.body,
		     resp.body_len, MHD_RESPMEM_MUST_FREE);
}

/* libmicrohttpd's access handler: called once per request here, since no route
 * reads a request body. */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size,
       void **con_cls)
{
	struct souk_http *http = cls;
	souk_http_route_cb *cb = NULL;
	void *opaque = NULL;
	int builtin = 0;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	for (size_t i = 0; i < sizeof(builtin_paths) / sizeof(builtin_paths[0]); i++)
		builtin |= strcmp(url, builtin_paths[i]) == 0;
	pthread_mutex_lock(&http->mutex);
	for (const struct route *r = http->routes; r != NULL && !builtin; r = r->next) {
		if (strcmp(url, r->path) == 0) {
			cb = r->cb;
			opaque = r->opaque;
		}
	}
	pthread_mutex_unlock(&http->mutex);

	if (!builtin && cb == NULL)
		return reply(connection, MHD_HTTP_NOT_FOUND, TEXT_PLAIN, "not found\n",
			     10, MHD_RESPMEM_PERSISTENT);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT_PLAIN,
			     "method not allowed\n", 19, MHD_RESPMEM_PERSISTENT);
	if (cb != NULL)
		return serve_route(cb, opaque, connection);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(http, connection);
	if (strcmp(url, "/readyz") == 0)
		return serve_readyz(http, connection);
	return reply(connection, MHD_HTTP_OK, TEXT_PLAIN, "ok\n", 3,
		     MHD_RESPMEM_PERSISTENT);
}

static void
log_mhd(void *cls, const char *fmt, va_list ap)
{
	struct souk_http *http = cls;
	size_t len;

	pthread_mutex_lock(&http->mutex);
	vsnprintf(http->mhd_error, sizeof(http->mhd_error), fmt, ap);
	len = strlen(http->mhd_error);
	while (len > 0 && http->mhd_error[len - 1] == '\n')
		http->mhd_error[--len] = '\0';
	pthread_mutex_unlock(&http->mutex);
}

/* Resolves "host:port" or "[v6addr]:port" to *addr. Returns 0, or -1 with errstr
 * filled with the reason only (the caller says what failed). */
static int
parse_listen(const char *listen, struct sockaddr_storage *addr, uint16_t *port_number,
	     char *errstr, size_t errstr_size)
{
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *found = NULL;
	char host[256];
	const char *port;
	size_t host_len;
	char *end;
	long n;
	int rc = -1;
	int gai;

	if (colon == NULL || colon == listen) {
		snprintf(errstr, errstr_size, "expected host:port");
		goto out;
	}
	port = colon + 1;
	n = strtol(port, &end, 10);
	if (*port < '0' || *port > '9' || *end != '\0' || n > 65535) {
		snprintf(errstr, errstr_size, "port must be a number from 0 to 65535");
		goto out;
	}
	host_len = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {
		listen++;
		host_len -= 2;
	}
	if (host_len == 0 || host_len >= sizeof(host)) {
		snprintf(errstr, errstr_size, "expected host:port");
		goto out;
	}
	memcpy(host, listen, host_len);
	host[host_len] = '\0';
	gai = getaddrinfo(host, port, &hints, &found);
	if (gai != 0) {
		snprintf(errstr, errstr_size, "could not resolve \"%s\": %s", host,
			 gai_strerror(gai));
		goto out;
	}
	memcpy(addr, found->ai_addr, found->ai_addrlen);
	*port_number = (uint16_t)n;
	rc = 0;
out:
	if (found != NULL)
		freeaddrinfo(found);
	return rc;
}

struct souk_http *
souk_http_new(const char *listen, struct souk_metrics *metrics, char *errstr,
	      size_t errstr_size)
{
	struct souk_http *http = calloc(1, sizeof(*http));
	struct sockaddr_storage addr = {0};
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	uint16_t port = 0;
	char why[512];
	const union MHD_DaemonInfo *info;

	if (http == NULL) {
		snprintf(errstr, errstr_size,
			 "could not start http server: out of memory");
		return NULL;
	}
	pthread_mutex_init(&http->mutex, NULL);
	http->metrics = metrics;
	snprintf(http->reason, sizeof(http->reason), "starting");
	if (parse_listen(listen, &addr, &port, why, sizeof(why)) != 0) {
		snprintf(errstr, errstr_size, "could not start http server on \"%s\": %s",
			 listen, why);
		goto fail;
	}
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The address comes from MHD_OPTION_SOCK_ADDR; the port argument only shows in
	 * libmicrohttpd's error messages. */
	http->daemon = MHD_start_daemon(
	    flags, port, NULL, NULL, handle, http, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&addr, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, http,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (http->daemon == NULL) {
		snprintf(errstr, errstr_size, "could not start http server on \"%s\": %s",
			 listen,
			 http->mhd_error[0] != '\0' ? http->mhd_error : "unknown error");
		goto fail;
	}
	info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
	http->port = info != NULL ? info->port : 0;
	return http;
fail:
	souk_http_destroy(http);
	return NULL;
}

void
souk_http_destroy(struct souk_http *http)
{
	struct route *next;

	if (http == NULL)
		return;
	if (http->daemon != NULL)
		MHD_stop_daemon(http->daemon);
	for (struct route *r = http->routes; r != NULL; r = next) {
		next = r->next;
		free(r->path);
		free(r);
	}
	pthread_mutex_destroy(&http->mutex);
	free(http);
}

unsigned
souk_http_port(const struct souk_http *http)
{
	return http->port;
}

void
souk_http_set_ready(struct souk_http *http, int ready, const char *reason)
{
	pthread_mutex_lock(&http->mutex);
	http->ready = ready;
	snprintf(http->reason, sizeof(http->reason), "%s", reason != NULL ? reason : "");
	pthread_mutex_unlock(&http->mutex);
}

/* Is path built in or routed already? Called with http->mutex held. */
static int
is_served(const struct souk_http *http, const char *path)
{
	for (size_t i = 0; i < sizeof(builtin_paths) / sizeof(builtin_paths[0]); i++) {
		if (strcmp(path, builtin_paths[i]) == 0)
			return 1;
	}
	for (const struct route *r = http->routes; r != NULL; r = r->next) {
		if (strcmp(path, r->path) == 0)
			return 1;
	}
	return 0;
}

int
souk_http_route(struct souk_http *http, const char *path, souk_http_route_cb *cb,
		void *opaque, char *errstr, size_t errstr_size)
{
	struct route *route = NULL;
	int rc = -1;

	pthread_mutex_lock(&http->mutex);
	if (path[0] != '/') {
		snprintf(errstr, errstr_size,
			 "could not add route \"%s\": path must begin with /", path);
		goto out;
	}
	if (is_served(http, path)) {
		snprintf(errstr, errstr_size,
			 "could not add route \"%s\": path is already served", path);
		goto out;
	}
	route = calloc(1, sizeof(*route));
	if (route == NULL || (route->path = strdup(path)) == NULL) {
		snprintf(errstr, errstr_size, "could not add route \"%s\": out of memory",
			 path);
		free(route);
		goto out;
	}
	route->cb = cb;
	route->opaque = opaque;
	route->next = http->routes;
	http->routes = route;
	rc = 0;
out:
	pthread_mutex_unlock(&http->mutex);
	return rc;
}

const char *
souk_http_request_arg(const struct souk_http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}

int
souk_http_parse_ipv4(const char *listen, struct sockaddr_in *sa, char *errstr,
		     size_t errstr_size)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - listen) >= sizeof(host))
		goto bad;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		goto bad;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		goto bad;
	return 0;
bad:
	snprintf(errstr, errstr_size, "listen address \"%s\": expected IPv4:port",
		 listen);
	return -1;
}
