#include "psp_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "psp_timer.h"
#include "souk_log.h"
#include "souk_http.h"

#define PSP_BODY_LIMIT 65536
#define PSP_DRAIN_MS 5000

enum psp_route {
	PSP_ROUTE_AUTHORIZE,   /* POST /v1/payments/authorize */
	PSP_ROUTE_OPERATION,   /* POST /v1/payments/{ref}/{capture|void|refund} */
	PSP_ROUTE_LOOKUP,      /* GET /v1/operations/{key} */
	PSP_ROUTE_OPERATIONS,  /* GET /v1/operations?since=&after=&limit= */
	PSP_ROUTE_LEDGER,      /* GET /v1/ledger/{payment_id} */
	PSP_ROUTE_REPORT,      /* GET /v1/reports/settlement */
	PSP_ROUTE_TEST_DROP,   /* POST /v1/test/drop/{ref} */
	PSP_ROUTE_TEST_AMOUNT, /* POST /v1/test/amount/{ref} */
	PSP_ROUTE_METRICS,
	PSP_ROUTE_HEALTHZ,
	PSP_ROUTE_NONE,
};

/* Where a request is: it waits for its body, then for psp.latency, then (timeout fault)
 * for psp.timeout_delay. */
enum psp_phase {
	PSP_PHASE_BODY,
	PSP_PHASE_LATENCY,
	PSP_PHASE_TIMEOUT,
};

struct psp_server {
	struct psp_server_conf conf;
	struct MHD_Daemon *mhd;
	struct psp_timer *timer;
	atomic_int in_flight; /* requests begun and not completed */
	struct souk_metrics_series *ops[PSP_OP_COUNT][PSP_OUTCOME_COUNT];
	struct souk_metrics_series *faults_error, *faults_timeout, *delayed;
};

/* One request. */
struct psp_conn {
	struct psp_server *s;
	struct MHD_Connection *conn;
	enum psp_route route;
	enum psp_phase phase;
	enum psp_op_type type; /* of PSP_ROUTE_AUTHORIZE and _OPERATION */
	char *param;	       /* the path's last part: ref, key or payment_id */
	char *body;
	size_t len, cap;
	bool too_large;
	bool claimed; /* the operation holds its key: execute it after the latency */
	bool executed; /* psp_service_execute ran: the claim is finished or released */
	struct psp_request req;
	struct psp_ticket ticket;
	bool answered; /* answer is final: send it once the delays are over */
	struct psp_answer answer;
};

/* ---- routing ------------------------------------------------------------------ */

/* The part of url after prefix, or NULL when url does not start with it or nothing
 * follows. */
static const char *
psp_server_after(const char *url, const char *prefix)
{
	size_t n = strlen(prefix);

	return !strncmp(url, prefix, n) && url[n] ? url + n : NULL;
}

/* Sets c->route, c->type and c->param from the path; the method is checked later.
 * Returns 0, or -1 when out of memory. */
static int
psp_server_route(struct psp_conn *c, const char *url)
{
	static const struct {
		const char *path;
		enum psp_route route;
	} exact[] = {
	    {"/v1/payments/authorize", PSP_ROUTE_AUTHORIZE},
	    {"/v1/reports/settlement", PSP_ROUTE_REPORT},
	    {"/v1/operations", PSP_ROUTE_OPERATIONS},
	    {"/metrics", PSP_ROUTE_METRICS},
	    {"/healthz", PSP_ROUTE_HEALTHZ},
	};
	static const struct {
		const char *prefix; /* then the parameter */
		enum psp_route route;
		bool hook; /* served only with psp.test_hooks */
	} prefixed[] = {
	    {"/v1/operations/", PSP_ROUTE_LOOKUP, false},
	    {"/v1/ledger/", PSP_ROUTE_LEDGER, false},
	    {"/v1/test/drop/", PSP_ROUTE_TEST_DROP, true},
	    {"/v1/test/amount/", PSP_ROUTE_TEST_AMOUNT, true},
	};
	const char *rest, *slash;

	c->route = PSP_ROUTE_NONE;
	c->type = PSP_OP_AUTHORIZE;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		if (!strcmp(url, exact[i].path)) {
			c->route = exact[i].route;
			return 0;
		}
	}
	/* /v1/payments/{provider_ref}/{capture|void|refund} */
	if ((rest = psp_server_after(url, "/v1/payments/")) &&
	    (slash = strchr(rest, '/')) &&
	    !psp_request_type_from_name(slash + 1, &c->type) &&
	    c->type != PSP_OP_AUTHORIZE) {
		c->route = PSP_ROUTE_OPERATION;
		c->param = strndup(rest, (size_t)(slash - rest));
		return c->param ? 0 : -1;
	}
	for (size_t i = 0; i < sizeof(prefixed) / sizeof(prefixed[0]); i++) {
		if ((!prefixed[i].hook || c->s->conf.test_hooks) &&
		    (rest = psp_server_after(url, prefixed[i].prefix))) {
			c->route = prefixed[i].route;
			c->param = strdup(rest);
			return c->param ? 0 : -1;
		}
	}
	return 0;
}

static bool
psp_server_route_is_post(enum psp_route route)
{
	return route == PSP_ROUTE_AUTHORIZE || route == PSP_ROUTE_OPERATION ||
	       route == PSP_ROUTE_TEST_DROP || route == PSP_ROUTE_TEST_AMOUNT;
}

/* An operation: its answer is counted by type and outcome. */
static bool
psp_server_is_op(const struct psp_conn *c)
{
	return c->route == PSP_ROUTE_AUTHORIZE || c->route == PSP_ROUTE_OPERATION;
}

/* ---- answering ---------------------------------------------------------------- */

static enum MHD_Result
psp_server_send(struct psp_conn *c)
{
	static const char oom[] =
	    "{\"error\":\"out of memory\",\"code\":\"internal_error\"}";
	const struct psp_answer *a = &c->answer;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = a->body ? (unsigned)a->status : 500;

	if (a->body)
		resp = MHD_create_response_from_buffer(a->len, a->body,
						       MHD_RESPMEM_MUST_COPY);
	else
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
						       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				a->body ? a->content_type : "application/json");
	if (a->replayed)
		MHD_add_response_header(resp, "Idempotent-Replayed", "true");
	if (a->status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					psp_server_route_is_post(c->route) ? "POST"
									   : "GET");
	ret = MHD_queue_response(c->conn, status, resp);
	MHD_destroy_response(resp);
	if (psp_server_is_op(c) && a->status != 405)
		souk_metrics_counter_add(c->s->ops[c->type][a->outcome], 1);
	return ret;
}

/* Text answers of /metrics and /healthz. */
static void
psp_server_text(struct psp_conn *c)
{
	struct psp_answer *a = &c->answer;
	char errstr[256];

	a->status = 200;
	a->content_type = "text/plain; charset=utf-8";
	if (c->route == PSP_ROUTE_HEALTHZ) {
		a->body = strdup("ok\n");
		a->len = 3;
		return;
	}
	a->content_type = "text/plain; version=0.0.4";
	if (souk_metrics_render(c->s->conf.metrics, &a->body, &a->len, errstr,
				sizeof(errstr)))
		psp_service_error(a, 500, "internal_error", errstr);
}

/* ---- the phases --------------------------------------------------------------- */

/* Once the body is in: answers what can be answered before the latency (bad requests,
 * replays, a key in use) and claims the key of a new operation. */
static void
psp_server_start(struct psp_conn *c, const char *method)
{
	struct psp_service *svc = c->s->conf.service;
	struct psp_request_error err;
	const char *key;
	char msg[128];

	c->answered = true;
	if (c->route == PSP_ROUTE_NONE) {
		psp_service_error(&c->answer, 404, "not_found", "no such route");
		return;
	}
	if (strcmp(method, psp_server_route_is_post(c->route) ? "POST" : "GET")) {
		snprintf(msg, sizeof(msg), "method %.16s not allowed: use %s", method,
			 psp_server_route_is_post(c->route) ? "POST" : "GET");
		psp_service_error(&c->answer, 405, "method_not_allowed", msg);
		return;
	}
	if (c->too_large) {
		snprintf(msg, sizeof(msg), "body too large: the limit is %d bytes",
			 PSP_BODY_LIMIT);
		psp_service_error(&c->answer, 413, "invalid_request", msg);
		c->answer.outcome = PSP_OUTCOME_INVALID;
		return;
	}
	if (!psp_server_is_op(c)) {
		c->answered = false; /* read at the end of the latency */
		return;
	}
	if (c->route == PSP_ROUTE_OPERATION && !psp_request_ref_valid(c->param)) {
		snprintf(msg, sizeof(msg), "no payment with provider_ref \"%.40s\"",
			 c->param);
		psp_service_error(&c->answer, 404, "not_found", msg);
		c->answer.outcome = PSP_OUTCOME_NOT_FOUND;
		return;
	}
	key = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Idempotency-Key");
	if (psp_request_parse(c->type, c->param, key, c->body, c->len, &c->req, &err)) {
		psp_service_invalid(&c->answer, &err);
		return;
	}
	c->claimed = psp_service_begin(svc, &c->req, &c->ticket, &c->answer);
	c->answered = !c->claimed;
}

/* After the latency: executes the claimed operation or reads what was asked. */
static void
psp_server_finish(struct psp_conn *c)
{
	struct psp_service *svc = c->s->conf.service;
	struct psp_answer *a = &c->answer;

	switch (c->route) {
	case PSP_ROUTE_AUTHORIZE:
	case PSP_ROUTE_OPERATION:
		c->executed = true;
		psp_service_execute(svc, &c->req, &c->ticket, a);
		if (a->outcome == PSP_OUTCOME_PROVIDER_ERROR)
			souk_metrics_counter_add(c->s->faults_error, 1);
		break;
	case PSP_ROUTE_LOOKUP:
		psp_service_lookup(svc, c->param, a);
		break;
	case PSP_ROUTE_LEDGER:
		psp_service_ledger(svc, c->param, a);
		break;
	case PSP_ROUTE_OPERATIONS:
		psp_service_operations(
		    svc,
		    MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "since"),
		    MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "after"),
		    MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit"),
		    a);
		break;
	case PSP_ROUTE_REPORT:
		psp_service_report(
		    svc,
		    MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "date"),
		    a);
		break;
	case PSP_ROUTE_TEST_DROP:
		psp_service_drop(svc, c->param, a);
		break;
	case PSP_ROUTE_TEST_AMOUNT:
		psp_service_misreport(svc, c->param, c->body, c->len, a);
		break;
	default:
		psp_server_text(c);
		break;
	}
	c->answered = true;
}

static void
psp_server_wake(void *arg)
{
	struct psp_conn *c = arg;

	MHD_resume_connection(c->conn);
}

/* Suspends c for delay_ms, entering phase; the handler runs again when it is over.
 * Returns false, doing nothing, when delay_ms is 0. */
static bool
psp_server_wait(struct psp_conn *c, int64_t delay_ms, enum psp_phase phase)
{
	if (delay_ms <= 0)
		return false;
	c->phase = phase;
	souk_metrics_gauge_add(c->s->delayed, 1);
	MHD_suspend_connection(c->conn);
	if (psp_timer_add(c->s->timer, delay_ms, psp_server_wake, c)) {
		/* no memory for the timer: the answer goes out without the delay */
		SOUK_LOG_WARN("delay_skipped", "reason=\"out of memory\"");
		MHD_resume_connection(c->conn);
	}
	return true;
}

/* The request's next step once nothing more is to be read: called once the body is
 * in, and again each time a delay ends. */
static enum MHD_Result
psp_server_step(struct psp_conn *c, const char *method)
{
	struct psp_server *s = c->s;
	bool v1 = c->route != PSP_ROUTE_METRICS && c->route != PSP_ROUTE_HEALTHZ;

	if (c->phase == PSP_PHASE_TIMEOUT) {
		souk_metrics_gauge_add(s->delayed, -1);
		return psp_server_send(c);
	}
	if (c->phase == PSP_PHASE_BODY) {
		psp_server_start(c, method);
		if (v1 && psp_server_wait(c, s->conf.latency_ms, PSP_PHASE_LATENCY))
			return MHD_YES;
	} else {
		souk_metrics_gauge_add(s->delayed, -1); /* the latency is over */
	}
	if (!c->answered)
		psp_server_finish(c);
	/* the timeout fault: the effect is recorded, the answer comes too late */
	if (c->claimed && c->ticket.timeout &&
	    c->answer.outcome != PSP_OUTCOME_PROVIDER_ERROR &&
	    c->answer.outcome != PSP_OUTCOME_INTERNAL_ERROR) {
		souk_metrics_counter_add(s->faults_timeout, 1);
		if (psp_server_wait(c, s->conf.timeout_delay_ms, PSP_PHASE_TIMEOUT))
			return MHD_YES;
	}
	return psp_server_send(c);
}

static bool
psp_server_append(struct psp_conn *c, const char *data, size_t len)
{
	if (c->too_large || c->len + len > PSP_BODY_LIMIT) {
		c->too_large = true;
		return true;
	}
	if (c->len + len + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 1024;
		char *grown;

		while (cap < c->len + len + 1)
			cap *= 2;
		grown = realloc(c->body, cap);
		if (!grown)
			return false;
		c->body = grown;
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, len);
	c->len += len;
	c->body[c->len] = '\0';
	return true;
}

static enum MHD_Result
psp_server_handle(void *cls, struct MHD_Connection *conn, const char *url,
		  const char *method, const char *version, const char *upload_data,
		  size_t *upload_data_size, void **con_cls)
{
	struct psp_server *s = cls;
	struct psp_conn *c = *con_cls;

	(void)version;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		c->s = s;
		c->conn = conn;
		*con_cls = c;
		atomic_fetch_add(&s->in_flight, 1);
		/* the body, if any, comes in the next calls */
		return psp_server_route(c, url) ? MHD_NO : MHD_YES;
	}
	if (*upload_data_size) {
		size_t len = *upload_data_size;

		*upload_data_size = 0;
		return psp_server_append(c, upload_data, len) ? MHD_YES : MHD_NO;
	}
	return psp_server_step(c, method);
}

static void
psp_server_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		     enum MHD_RequestTerminationCode toe)
{
	struct psp_server *s = cls;
	struct psp_conn *c = *con_cls;

	(void)conn;
	(void)toe;
	if (!c)
		return;
	/* The client went away before the operation ran (libmicrohttpd closes a
	 * connection it finds closed when it resumes it, without calling the handler
	 * again): nothing was applied, so the key is released, as after an injected
	 * error. Kept claimed, it would answer in_progress to every retry and lookup for
	 * the life of the process. An operation that ran keeps its stored answer. */
	if (c->claimed && !c->executed)
		psp_service_abandon(s->conf.service, &c->req);
	psp_service_answer_clear(&c->answer);
	free(c->param);
	free(c->body);
	free(c);
	*con_cls = NULL;
	atomic_fetch_sub(&s->in_flight, 1);
}

/* ---- lifecycle ---------------------------------------------------------------- */

static int
psp_server_metrics(struct psp_server *s, char *errstr, size_t errstr_size)
{
	struct souk_metrics *m = s->conf.metrics;
	struct souk_metrics_family *ops, *faults, *delayed;

	ops = souk_metrics_register_counter(
	    m, "souk_psp_operations_total",
	    "Payment operations answered, by type and outcome.",
	    (const char *const[]){"type", "outcome", NULL}, errstr, errstr_size);
	faults = souk_metrics_register_counter(
	    m, "souk_psp_faults_total",
	    "Injected faults: error (500, nothing applied), "
	    "timeout (applied, answered late).",
	    (const char *const[]){"fault", NULL}, errstr, errstr_size);
	delayed = souk_metrics_register_gauge(
	    m, "souk_psp_delayed_requests",
	    "Requests waiting for psp.latency or psp.timeout_delay to pass.", NULL,
	    errstr, errstr_size);
	if (!ops || !faults || !delayed)
		return -1;
	for (int t = 0; t < PSP_OP_COUNT; t++)
		for (int o = 0; o < PSP_OUTCOME_COUNT; o++)
			s->ops[t][o] = souk_metrics_series(
			    ops, (const char *const[]){psp_request_type_name(t),
						       psp_service_outcome_name(o)});
	s->faults_error = souk_metrics_series(faults, (const char *const[]){"error"});
	s->faults_timeout = souk_metrics_series(faults, (const char *const[]){"timeout"});
	s->delayed = souk_metrics_series(delayed, NULL);
	for (int t = 0; t < PSP_OP_COUNT; t++)
		for (int o = 0; o < PSP_OUTCOME_COUNT; o++)
			if (!s->ops[t][o])
				goto oom;
	if (!s->faults_error || !s->faults_timeout || !s->delayed)
		goto oom;
	return 0;
oom:
	snprintf(errstr, errstr_size, "out of memory");
	return -1;
}

struct psp_server *
psp_server_new(const struct psp_server_conf *conf, char *errstr, size_t errstr_size)
{
	struct psp_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;

	if (!s) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	s->conf = *conf;
	if (souk_http_parse_ipv4(conf->listen, &sa, errstr, errstr_size) ||
	    psp_server_metrics(s, errstr, errstr_size) ||
	    !(s->timer = psp_timer_new(errstr, errstr_size)))
		goto fail;
	s->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, psp_server_handle, s, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)conf->threads,
	    MHD_OPTION_CONNECTION_LIMIT, conf->connection_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED,
	    psp_server_completed, s, MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(errstr, errstr_size, "could not listen on %s: %s", conf->listen,
			 errno ? strerror(errno) : "libmicrohttpd refused to start");
		goto fail;
	}
	return s;
fail:
	psp_timer_destroy(s->timer);
	free(s);
	return NULL;
}

unsigned
psp_server_port(const struct psp_server *s)
{
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

void
psp_server_destroy(struct psp_server *s)
{
	int waited = 0;

	if (!s)
		return;
	MHD_quiesce_daemon(s->mhd); /* no new connections; open ones are still served */
	psp_timer_drain(s->timer);  /* suspended requests resume and get their answers */
	while (atomic_load(&s->in_flight) > 0 && waited < PSP_DRAIN_MS) {
		usleep(10 * 1000);
		waited += 10;
	}
	if (atomic_load(&s->in_flight) > 0)
		SOUK_LOG_WARN("drain_incomplete", "in_flight=%d",
			      atomic_load(&s->in_flight));
	MHD_stop_daemon(s->mhd);
	psp_timer_destroy(s->timer);
	free(s);
}
