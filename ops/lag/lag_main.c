/*
 * souk-lag: the consumer-lag monitor. Samples the consumer groups' committed offsets
 * (Kafka's and souk's PostgreSQL store), the partitions' high watermarks and the age of
 * the oldest unconsumed message, and rates each partition by Burrow's rules over the
 * window of samples (lag_status.h).
 *
 *   souk-lag --once [--json] [--group REGEX]... [--samples N --interval D]
 *   souk-lag [--group REGEX]... [-X http.listen=HOST:PORT]
 *           (serves the live dashboard at /, /metrics, /lag, /lag/history and Burrow's
 *           v3 consumer and consumer-lag paths)
 *
 * Beside the lag it reports the business backlog (lag_backlog.h): orders undecided,
 * payments parked or stuck.
 *
 * Exit status: 0 printed (--once) or stopped by SIGTERM/SIGINT, 1 failure (Kafka or
 * PostgreSQL unreachable; in the long-running mode only at start), 2 usage error (a
 * bad option or group regex).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lag_backlog.h"
#include "lag_dashboard.h"
#include "lag_history.h"
#include "lag_report.h"
#include "lag_sample.h"
#include "lag_status.h"
#include "lag_window.h"
#include "souk_cli.h"
#include "souk_config.h"
#include "souk_http.h"
#include "souk_log.h"
#include "souk_metrics.h"

#define LAG_EXIT_FAIL 1
#define LAG_EXIT_USAGE 2
#define LAG_MAX_PROPS 64
#define LAG_MAX_SAMPLES 100
#define LAG_ORDERS_TOPIC "orders"

static const struct souk_config_def lag_defs[] = {
    {.name = "lag.window",
     .type = SOUK_CONFIG_INT,
     .def = "10",
     .min = 1,
     .max = LAG_MAX_SAMPLES,
     .help = "samples in the window the status rules look at (--once: 1 unless "
	     "--samples)"},
    {.name = "lag.interval",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "5s",
     .min = 100,
     .max = 3600000,
     .help = "time between two samples"},
    {.name = "lag.cluster",
     .type = SOUK_CONFIG_STRING,
     .def = "local",
     .help = "the cluster name in the Burrow v3 paths: /v3/kafka/{cluster}/consumer"},
    {.name = "lag.pg",
     .type = SOUK_CONFIG_BOOL,
     .def = "true",
     .help = "also read souk's offsets from PostgreSQL (consumer_offsets), and the "
	     "payments backlog"},
    {.name = "lag.orders_group",
     .type = SOUK_CONFIG_STRING,
     .def = "souk-inventory",
     .help = "the group deciding the orders topic, for the orders backlog"},
    {.name = "lag.stuck_after",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "15m",
     .min = 1000,
     .max = 7LL * 24 * 3600 * 1000,
     .help = "a payment left in created or authorized this long counts as stuck"},
    {.name = "lag.history",
     .type = SOUK_CONFIG_INT,
     .def = "720",
     .min = 2,
     .max = 100000,
     .help = "passes the dashboard's charts keep per group (720 x 5s: an hour)"},
    {.name = NULL},
};

struct lag_opts {
	bool once, json;
	const char **groups;
	size_t ngroups;
	const char *config_path;
	const char **sets;
	int nsets;
	const char *samples, *interval; /* as given, or NULL */
	bool no_pg;
};

struct lag_props {
	struct souk_kafka_prop props[LAG_MAX_PROPS];
	size_t n;
};

static void
lag_usage(FILE *out, const struct souk_config_def *const *tables)
{
	fprintf(
	    out,
	    "usage: souk-lag [options]          serve /metrics and /lag, sampling every\n"
	    "                                   interval\n"
	    "       souk-lag --once [options]   sample, print the table and exit\n"
	    "\n"
	    "Prints, per partition of each consumer group, the committed offset, the "
	    "log\n"
	    "end offset (high watermark), the lag in messages and in seconds (the age "
	    "of\n"
	    "the message at the committed offset), and its status by Burrow's rules "
	    "over\n"
	    "a window of samples. Offsets souk keeps in PostgreSQL (consumer_offsets)\n"
	    "are shown next to Kafka's; the lag is measured from Kafka's when there is\n"
	    "one, else from PostgreSQL's.\n"
	    "\n"
	    "      --once             sample, print and exit\n"
	    "  -g, --group REGEX      only groups whose whole name matches REGEX (POSIX\n"
	    "                         extended; repeat: any of them; default: every "
	    "group)\n"
	    "  -n, --samples N        the status window: N samples (sets lag.window;\n"
	    "                         --once takes N samples, 1 by default)\n"
	    "  -i, --interval D       D apart: 500ms, 5s (sets lag.interval)\n"
	    "      --no-pg            leave PostgreSQL out (sets lag.pg=false)\n"
	    "      --json             print one JSON object instead of the table\n"
	    "  -c, --config FILE      read the configuration from FILE\n"
	    "  -X, --set KEY=VALUE    set a configuration key (repeatable)\n"
	    "  -h, --help             print this help\n"
	    "  -V, --version          print the version\n"
	    "\n"
	    "Under the table, the business backlog: orders on the orders topic the\n"
	    "inventory group (lag.orders_group) has not decided, payments parked on a\n"
	    "provider call with an unknown outcome, payments left in created or\n"
	    "authorized longer than lag.stuck_after, ride requests without a final\n"
	    "outcome.\n"
	    "\n"
	    "Without --once it serves on http.listen: the live dashboard at / (status\n"
	    "per group, partition tables, lag-over-time charts, the backlog), GET\n"
	    "/metrics (souk_consumer_lag, souk_consumer_lag_seconds,\n"
	    "souk_consumer_status by group, topic and partition;\n"
	    "souk_consumer_group_status; souk_backlog_*), GET /lag (the --json\n"
	    "document), GET /lag/history (the charts' points),\n"
	    "/healthz and /readyz (ready once a pass succeeded, until one fails), and\n"
	    "Burrow's v3 GET /v3/kafka/{lag.cluster}/consumer and\n"
	    "/v3/kafka/{lag.cluster}/consumer/{group}/lag.\n"
	    "\n"
	    "Exit status: 0 printed (--once) or stopped by SIGTERM/SIGINT, 1 failure,\n"
	    "2 usage error.\n"
	    "\n"
	    "configuration keys:\n");
	souk_config_help(tables, out);
}

/* Returns -1 to go on, or the exit status. */
static int
lag_parse(int argc, char **argv, struct lag_opts *o,
	  const struct souk_config_def *const *tables)
{
	enum { OPT_ONCE = 256, OPT_JSON, OPT_NO_PG };
	static const struct option longopts[] = {
	    {"once", no_argument, NULL, OPT_ONCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"no-pg", no_argument, NULL, OPT_NO_PG},
	    {"group", required_argument, NULL, 'g'},
	    {"samples", required_argument, NULL, 'n'},
	    {"interval", required_argument, NULL, 'i'},
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "g:n:i:c:X:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ONCE:
			o->once = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_NO_PG:
			o->no_pg = true;
			break;
		case 'g':
			o->groups[o->ngroups++] = optarg;
			break;
		case 'n':
			o->samples = optarg;
			break;
		case 'i':
			o->interval = optarg;
			break;
		case 'c':
			o->config_path = optarg;
			break;
		case 'X':
			o->sets[o->nsets++] = optarg;
			break;
		case 'h':
			lag_usage(stdout, tables);
			return 0;
		case 'V':
			printf("souk-lag %s\n", SOUK_VERSION);
			return 0;
		default:
			lag_usage(stderr, tables);
			return LAG_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument \"%s\"\n", argv[optind]);
		return LAG_EXIT_USAGE;
	}
	for (size_t i = 0; i < o->ngroups; i++) {
		regex_t re;
		char errstr[512];

		if (lag_sample_regex(&re, o->groups[i], errstr, sizeof(errstr))) {
			fprintf(stderr, "error: %s\n", errstr);
			return LAG_EXIT_USAGE;
		}
		regfree(&re);
	}
	if (o->json && !o->once) {
		fprintf(stderr,
			"error: --json goes with --once (the server has GET /lag)\n");
		return LAG_EXIT_USAGE;
	}
	if (o->once && !o->samples)
		o->samples = "1";
	return -1;
}

static int
lag_collect_prop(const char *name, const char *value, void *opaque)
{
	struct lag_props *p = opaque;

	if (p->n == LAG_MAX_PROPS)
		return 1;
	p->props[p->n++] = (struct souk_kafka_prop){name, value};
	return 0;
}

/* The sampler the configuration describes, or NULL with errstr. */
static struct lag_sampler *
lag_sampler_from(const struct lag_opts *o, const struct souk_config *cfg,
		 const struct lag_props *props, char *errstr, size_t errstr_size)
{
	return lag_sampler_new(
	    souk_config_get_string(cfg, "kafka.brokers"), props->props, props->n,
	    souk_config_get_bool(cfg, "lag.pg") ? souk_config_get_string(cfg, "pg.dsn")
						: NULL,
	    o->groups, o->ngroups, errstr, errstr_size);
}

/* The newest pass's statuses and rules over the window, into arrays the caller frees
 * (NULL, NULL when out of memory). */
static int
lag_rate(const struct lag_window *w, enum lag_status **statuses, enum lag_rule **rules)
{
	size_t n = lag_window_last(w)->n;

	*statuses = calloc(n ? n : 1, sizeof(**statuses));
	*rules = calloc(n ? n : 1, sizeof(**rules));
	if (!*statuses || !*rules) {
		free(*statuses);
		free(*rules);
		*statuses = NULL, *rules = NULL;
		return -1;
	}
	lag_window_rate(w, *statuses, *rules);
	return 0;
}

/* The reader of the payments backlog into *r: NULL when lag.pg is off. Returns 0, or
 * -1 with errstr. */
static int
lag_backlog_reader_from(const struct souk_config *cfg, struct lag_backlog_reader **r,
			char *errstr, size_t errstr_size)
{
	*r = NULL;
	if (!souk_config_get_bool(cfg, "lag.pg"))
		return 0;
	*r = lag_backlog_reader_new(souk_config_get_string(cfg, "pg.dsn"), errstr,
				    errstr_size);
	return *r ? 0 : -1;
}

/* The business backlog at the newest pass: the orders from its rows, the payments
 * from r (unknown without one). Returns 0, or -1 with errstr. */
static int
lag_backlog_at(const struct souk_config *cfg, struct lag_backlog_reader *r,
	       const struct lag_sample_pass *pass, struct lag_backlog *b, char *errstr,
	       size_t errstr_size)
{
	lag_backlog_init(b);
	lag_backlog_orders(b, pass, souk_config_get_string(cfg, "lag.orders_group"),
			   LAG_ORDERS_TOPIC);
	return r ? lag_backlog_read(r, souk_config_get_duration_ms(cfg, "lag.stuck_after"),
				    b, errstr, errstr_size)
		 : 0;
}

/* Takes lag.window samples lag.interval apart and prints the last pass rated over
 * them, with the business backlog. */
static int
lag_once(const struct lag_opts *o, const struct souk_config *cfg,
	 const struct lag_props *props)
{
	size_t nsamples = (size_t)souk_config_get_int(cfg, "lag.window");
	long long interval = souk_config_get_duration_ms(cfg, "lag.interval");
	struct lag_window *w = lag_window_new(nsamples);
	struct lag_sample_pass pass = {.rows = NULL, .n = 0};
	struct lag_sampler *s = NULL;
	struct lag_backlog_reader *reader = NULL;
	struct lag_backlog backlog;
	enum lag_status *statuses = NULL;
	enum lag_rule *rules = NULL;
	char errstr[512], *json = NULL;
	int rc = LAG_EXIT_FAIL;

	if (!w) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	if (!(s = lag_sampler_from(o, cfg, props, errstr, sizeof(errstr))) ||
	    lag_backlog_reader_from(cfg, &reader, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	for (size_t i = 0; i < nsamples; i++) {
		struct timespec ts = {.tv_sec = interval / 1000,
				      .tv_nsec = (interval % 1000) * 1000000};

		while (i && nanosleep(&ts, &ts) != 0)
			;
		if (lag_sampler_pass(s, &pass, errstr, sizeof(errstr))) {
			fprintf(stderr, "error: %s\n", errstr);
			goto out;
		}
		lag_window_push(w, &pass);
	}
	if (lag_backlog_at(cfg, reader, lag_window_last(w), &backlog, errstr,
			   sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	if (lag_rate(w, &statuses, &rules) ||
	    (o->json ? !(json = lag_report_json(lag_window_last(w), nsamples, statuses,
						rules, &backlog, nsamples))
		     : lag_report_table(stdout, lag_window_last(w), statuses) != 0)) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	if (json)
		printf("%s\n", json);
	else
		lag_report_backlog_table(stdout, &backlog);
	rc = 0;
out:
	lag_backlog_reader_destroy(reader);
	free(json);
	free(statuses);
	free(rules);
	lag_window_destroy(w);
	lag_sampler_destroy(s);
	return rc;
}

/* A group with a Burrow route: GET /v3/kafka/{cluster}/consumer/{group}/lag. */
struct lag_serve_group {
	struct lag_serve *sv;
	char name[LAG_SAMPLE_NAME_MAX];
	char url[2 * LAG_SAMPLE_NAME_MAX + 32];
	char *json; /* its document, NULL when the last pass did not see the group */
};

/* The long-running mode's state. The sampling loop (main thread) writes; the HTTP
 * thread reads the documents under mu. */
struct lag_serve {
	pthread_mutex_t mu;
	char *json;	 /* the last report, NULL until the first pass */
	char *consumers; /* Burrow's consumer list, NULL until the first pass */
	const char *cluster;
	char consumers_url[LAG_SAMPLE_NAME_MAX + 32];
	char host[256];
	/* Every group a route was made for (routes are never removed, so a group that
	 * went away stays here, answered 404); the array is the main thread's only. */
	struct lag_serve_group **groups;
	size_t ngroups;
	char *history_json; /* the charts' points, NULL until the first pass */
	struct lag_history *history;
	struct lag_backlog_reader *backlog; /* NULL: lag.pg off */
	uint64_t npasses;		    /* passes that succeeded */
	struct souk_metrics *metrics;
	struct souk_metrics_family *lag, *lag_seconds, *status, *group_status;
	struct souk_metrics_series *passes, *failures;
	/* The backlog's gauges (lag_backlog.h), left at their last value while unknown. */
	struct souk_metrics_series *orders_undecided, *orders_oldest, *payments_parked,
	    *payments_parked_oldest, *stuck_created, *stuck_authorized, *rides_open,
	    *rides_open_oldest;
};

/* Answers a copy of *doc (read under mu), or 404 with Burrow's not-found document
 * when it is NULL. */
static void
lag_serve_answer(struct lag_serve *sv, char *const *doc, const char *url,
		 struct souk_http_response *resp)
{
	pthread_mutex_lock(&sv->mu);
	resp->body = *doc ? strdup(*doc) : NULL;
	pthread_mutex_unlock(&sv->mu);
	if (!resp->body) {
		resp->status = 404;
		resp->body = lag_report_burrow_not_found(url, sv->host);
	}
	resp->body_len = resp->body ? strlen(resp->body) : 0;
}

static void
lag_serve_consumers(const struct souk_http_request *req, struct souk_http_response *resp,
		    void *opaque)
{
	struct lag_serve *sv = opaque;

	(void)req;
	lag_serve_answer(sv, &sv->consumers, sv->consumers_url, resp);
}

static void
lag_serve_group_lag(const struct souk_http_request *req, struct souk_http_response *resp,
		    void *opaque)
{
	struct lag_serve_group *sg = opaque;

	(void)req;
	lag_serve_answer(sg->sv, &sg->json, sg->url, resp);
}

/* The group named name, with a route made for it if it had none; NULL with errstr. */
static struct lag_serve_group *
lag_serve_group(struct lag_serve *sv, struct souk_http *http, const char *name,
		char *errstr, size_t errstr_size)
{
	struct lag_serve_group **groups, *sg;

	for (size_t i = 0; i < sv->ngroups; i++)
		if (!strcmp(sv->groups[i]->name, name))
			return sv->groups[i];
	groups = realloc(sv->groups, (sv->ngroups + 1) * sizeof(*groups));
	if (!groups || !(sg = calloc(1, sizeof(*sg)))) {
		if (groups)
			sv->groups = groups;
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	sv->groups = groups;
	sg->sv = sv;
	snprintf(sg->name, sizeof(sg->name), "%s", name);
	snprintf(sg->url, sizeof(sg->url), "/v3/kafka/%s/consumer/%s/lag", sv->cluster,
		 name);
	if (souk_http_route(http, sg->url, lag_serve_group_lag, sg, errstr,
			    errstr_size)) {
		free(sg);
		return NULL;
	}
	sv->groups[sv->ngroups++] = sg;
	return sg;
}

/* The Burrow documents of the newest pass, swapped in under mu. */
static int
lag_serve_burrow(struct lag_serve *sv, struct souk_http *http, const struct lag_window *w,
		 const enum lag_status *statuses, char *errstr, size_t errstr_size)
{
	const struct lag_sample_pass *pass = lag_window_last(w);
	char **docs = calloc(sv->ngroups + pass->n + 1, sizeof(*docs));
	char *consumers = lag_report_burrow_consumers(pass, sv->consumers_url, sv->host);
	int rc = -1;

	if (!docs || !consumers) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	/* docs[i]: the new document of sv->groups[i] (the array grows as groups appear)
	 */
	for (size_t first = 0, end; first < pass->n; first = end) {
		struct lag_serve_group *sg = lag_serve_group(
		    sv, http, pass->rows[first].group, errstr, errstr_size);
		size_t i = 0;

		end = lag_report_group_end(pass, first);
		if (!sg)
			goto out;
		while (sv->groups[i] != sg)
			i++;
		if (!(docs[i] = lag_report_burrow_lag(w, first, end, statuses,
						      sv->cluster, sg->url, sv->host))) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
	}
	pthread_mutex_lock(&sv->mu);
	for (size_t i = 0; i < sv->ngroups; i++) {
		char *old = sv->groups[i]->json;

		sv->groups[i]->json = docs[i];
		docs[i] = old; /* freed below */
	}
	free(sv->consumers);
	sv->consumers = consumers;
	consumers = NULL;
	pthread_mutex_unlock(&sv->mu);
	rc = 0;
out:
	for (size_t i = 0; docs && i < sv->ngroups; i++)
		free(docs[i]);
	free(docs);
	free(consumers);
	return rc;
}

/* A copy of *doc (read under mu), or 503 before the first pass. */
static void
lag_serve_doc(struct lag_serve *sv, char *const *doc, struct souk_http_response *resp)
{
	pthread_mutex_lock(&sv->mu);
	resp->body = *doc ? strdup(*doc) : NULL;
	pthread_mutex_unlock(&sv->mu);
	if (!resp->body) {
		resp->status = 503;
		resp->body = strdup("{\"error\":\"no sample yet\"}");
	}
	resp->body_len = resp->body ? strlen(resp->body) : 0;
}

/* GET /lag: the last report. */
static void
lag_serve_lag(const struct souk_http_request *req, struct souk_http_response *resp,
	      void *opaque)
{
	(void)req;
	lag_serve_doc(opaque, &((struct lag_serve *)opaque)->json, resp);
}

/* GET /lag/history: the charts' points. */
static void
lag_serve_history(const struct souk_http_request *req, struct souk_http_response *resp,
		  void *opaque)
{
	(void)req;
	lag_serve_doc(opaque, &((struct lag_serve *)opaque)->history_json, resp);
}

/* GET / and /dashboard: the page, which reads /lag and /lag/history. */
static void
lag_serve_dashboard(const struct souk_http_request *req,
		    struct souk_http_response *resp, void *opaque)
{
	(void)req, (void)opaque;
	resp->content_type = "text/html; charset=utf-8";
	resp->body = malloc(lag_dashboard_html_len);
	if (!resp->body) {
		resp->status = 503;
		return;
	}
	memcpy(resp->body, lag_dashboard_html, lag_dashboard_html_len);
	resp->body_len = lag_dashboard_html_len;
}

static int
lag_serve_metrics(struct lag_serve *sv, char *errstr, size_t errstr_size)
{
	const char *const partition[] = {"group", "topic", "partition", NULL};
	const char *const group[] = {"group", NULL};

	sv->lag = souk_metrics_register_gauge(
	    sv->metrics, "souk_consumer_lag",
	    "Messages between the group's committed offset and the high watermark.",
	    partition, errstr, errstr_size);
	sv->lag_seconds = souk_metrics_register_gauge(
	    sv->metrics, "souk_consumer_lag_seconds",
	    "Age of the oldest unconsumed message (0 with no lag).", partition, errstr,
	    errstr_size);
	sv->status = souk_metrics_register_gauge(
	    sv->metrics, "souk_consumer_status",
	    "Partition status: 1 OK, 2 WARN, 4 STOP, 5 STALL, 6 REWIND (Burrow's codes).",
	    partition, errstr, errstr_size);
	sv->group_status = souk_metrics_register_gauge(
	    sv->metrics, "souk_consumer_group_status",
	    "Group status: 1 OK, 2 WARN, 3 ERR (Burrow's codes).", group, errstr,
	    errstr_size);
	struct souk_metrics_family *outcomes = souk_metrics_register_counter(
	    sv->metrics, "souk_lag_passes_total", "Sampling passes, by outcome.",
	    (const char *const[]){"outcome", NULL}, errstr, errstr_size);

	struct souk_metrics_family *stuck = souk_metrics_register_gauge(
	    sv->metrics, "souk_backlog_payments_stuck",
	    "Payments left in a state longer than lag.stuck_after, by state.",
	    (const char *const[]){"state", NULL}, errstr, errstr_size);
	struct {
		struct souk_metrics_series **series;
		const char *name, *help;
	} gauges[] = {
	    {&sv->orders_undecided, "souk_backlog_orders_undecided",
	     "Events on orders past the inventory group's offset."},
	    {&sv->orders_oldest, "souk_backlog_orders_oldest_seconds",
	     "Age of the oldest undecided order (0 with none)."},
	    {&sv->payments_parked, "souk_backlog_payments_parked",
	     "Payments waiting on a provider call with an unknown outcome."},
	    {&sv->payments_parked_oldest, "souk_backlog_payments_parked_oldest_seconds",
	     "Age of the oldest parked payment's wait (0 with none)."},
	    {&sv->rides_open, "souk_backlog_rides_open",
	     "Ride requests without a final outcome (offered, accepted, started)."},
	    {&sv->rides_open_oldest, "souk_backlog_rides_open_oldest_seconds",
	     "Age of the oldest ride request without a final outcome (0 with none)."},
	};

	if (!sv->lag || !sv->lag_seconds || !sv->status || !sv->group_status ||
	    !outcomes || !stuck)
		return -1;
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		struct souk_metrics_family *f = souk_metrics_register_gauge(
		    sv->metrics, gauges[i].name, gauges[i].help, NULL, errstr,
		    errstr_size);

		if (!f)
			return -1;
		*gauges[i].series = souk_metrics_series(f, NULL);
	}
	sv->passes = souk_metrics_series(outcomes, (const char *const[]){"ok"});
	sv->failures = souk_metrics_series(outcomes, (const char *const[]){"failed"});
	sv->stuck_created = souk_metrics_series(stuck, (const char *const[]){"created"});
	sv->stuck_authorized =
	    souk_metrics_series(stuck, (const char *const[]){"authorized"});
	if (!sv->passes || !sv->failures || !sv->stuck_created || !sv->stuck_authorized ||
	    !sv->orders_undecided || !sv->orders_oldest || !sv->payments_parked ||
	    !sv->payments_parked_oldest || !sv->rides_open || !sv->rides_open_oldest) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	return 0;
}

/* Sets the gauges of the newest pass. A partition no longer seen keeps its last
 * values (souk_metrics has no way to drop a series). O(rows x series). */
static void
lag_serve_update(struct lag_serve *sv, const struct lag_sample_pass *pass,
		 const enum lag_status *statuses)
{
	for (size_t i = 0; i < pass->n; i++) {
		const struct lag_sample_row *r = &pass->rows[i];
		char partition[16];
		const char *labels[] = {r->group, r->topic, partition};
		struct souk_metrics_series *series;
		int64_t lag = lag_sample_lag(r), lag_ms = lag_sample_lag_ms(r);

		snprintf(partition, sizeof(partition), "%d", (int)r->partition);
		if (lag >= 0 && (series = souk_metrics_series(sv->lag, labels)))
			souk_metrics_gauge_set(series, (double)lag);
		if (lag_ms >= 0 &&
		    (series = souk_metrics_series(sv->lag_seconds, labels)))
			souk_metrics_gauge_set(series, (double)lag_ms / 1000.0);
		if ((series = souk_metrics_series(sv->status, labels)))
			souk_metrics_gauge_set(series, statuses[i]);
	}
	for (size_t first = 0; first < pass->n;) {
		size_t end = lag_report_group_end(pass, first);
		struct souk_metrics_series *series = souk_metrics_series(
		    sv->group_status, (const char *const[]){pass->rows[first].group});

		if (series)
			souk_metrics_gauge_set(
			    series, lag_status_group(statuses + first, end - first));
		first = end;
	}
}

/* Sets the backlog's gauges that are known. */
static void
lag_serve_update_backlog(struct lag_serve *sv, const struct lag_backlog *b)
{
	const struct {
		struct souk_metrics_series *series;
		int64_t v;
		double scale;
	} set[] = {
	    {sv->orders_undecided, b->orders_undecided, 1},
	    {sv->orders_oldest, b->orders_oldest_ms, 1e-3},
	    {sv->payments_parked, b->payments_parked, 1},
	    {sv->payments_parked_oldest, b->payments_parked_oldest_ms, 1e-3},
	    {sv->stuck_created, b->payments_stuck_created, 1},
	    {sv->stuck_authorized, b->payments_stuck_authorized, 1},
	    {sv->rides_open, b->rides_open, 1},
	    {sv->rides_open_oldest, b->rides_open_oldest_ms, 1e-3},
	};

	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		if (set[i].v >= 0)
			souk_metrics_gauge_set(set[i].series, (double)set[i].v * set[i].scale);
}

/* One pass into the window, the gauges and the /lag report. Returns 0, or -1 with
 * errstr. */
static int
lag_serve_pass(struct lag_serve *sv, struct souk_http *http, struct lag_sampler *s,
	       struct lag_window *w, const struct souk_config *cfg, char *errstr,
	       size_t errstr_size)
{
	struct lag_sample_pass pass = {.rows = NULL, .n = 0};
	struct lag_backlog backlog;
	enum lag_status *statuses = NULL;
	enum lag_rule *rules = NULL;
	char *json = NULL, *history = NULL;
	int rc = -1;

	if (lag_sampler_pass(s, &pass, errstr, errstr_size))
		goto out;
	lag_window_push(w, &pass);
	if (lag_backlog_at(cfg, sv->backlog, lag_window_last(w), &backlog, errstr,
			   errstr_size))
		goto out;
	if (lag_rate(w, &statuses, &rules) ||
	    !(json = lag_report_json(lag_window_last(w), lag_window_count(w), statuses,
				     rules, &backlog, sv->npasses + 1)) ||
	    lag_history_push(sv->history, lag_window_last(w), statuses) ||
	    !(history = lag_history_json(sv->history))) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	lag_serve_update(sv, lag_window_last(w), statuses);
	lag_serve_update_backlog(sv, &backlog);
	if (lag_serve_burrow(sv, http, w, statuses, errstr, errstr_size))
		goto out;
	pthread_mutex_lock(&sv->mu);
	free(sv->json);
	sv->json = json; /* owned by sv now */
	json = NULL;
	free(sv->history_json);
	sv->history_json = history;
	history = NULL;
	pthread_mutex_unlock(&sv->mu);
	sv->npasses++;
	rc = 0;
out:
	free(json);
	free(history);
	free(statuses);
	free(rules);
	return rc;
}

/* Samples every lag.interval until SIGTERM or SIGINT, serving the results. */
static int
lag_run(const struct lag_opts *o, const struct souk_config *cfg,
	const struct lag_props *props)
{
	long long interval = souk_config_get_duration_ms(cfg, "lag.interval");
	struct lag_serve sv = {.cluster = souk_config_get_string(cfg, "lag.cluster")};
	struct lag_window *w =
	    lag_window_new((size_t)souk_config_get_int(cfg, "lag.window"));
	struct lag_sampler *s = NULL;
	struct souk_http *http = NULL;
	sigset_t sigs;
	char errstr[512];
	int rc = LAG_EXIT_FAIL;

	pthread_mutex_init(&sv.mu, NULL);
	snprintf(sv.consumers_url, sizeof(sv.consumers_url), "/v3/kafka/%s/consumer",
		 sv.cluster);
	if (gethostname(sv.host, sizeof(sv.host)) != 0)
		snprintf(sv.host, sizeof(sv.host), "localhost");
	souk_cli_signals(&sigs);
	if (!w || !(sv.metrics = souk_metrics_new()) ||
	    !(sv.history = lag_history_new(
		  (size_t)souk_config_get_int(cfg, "lag.history")))) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	if (lag_serve_metrics(&sv, errstr, sizeof(errstr)) ||
	    !(s = lag_sampler_from(o, cfg, props, errstr, sizeof(errstr))) ||
	    lag_backlog_reader_from(cfg, &sv.backlog, errstr, sizeof(errstr)) ||
	    !(http = souk_http_new(souk_config_get_string(cfg, "http.listen"), sv.metrics,
				   errstr, sizeof(errstr))) ||
	    souk_http_route(http, "/lag", lag_serve_lag, &sv, errstr, sizeof(errstr)) ||
	    souk_http_route(http, "/lag/history", lag_serve_history, &sv, errstr,
			    sizeof(errstr)) ||
	    souk_http_route(http, "/", lag_serve_dashboard, &sv, errstr,
			    sizeof(errstr)) ||
	    souk_http_route(http, "/dashboard", lag_serve_dashboard, &sv, errstr,
			    sizeof(errstr)) ||
	    souk_http_route(http, sv.consumers_url, lag_serve_consumers, &sv, errstr,
			    sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	SOUK_LOG_INFO("lag_serving", "port=%u window=%lld interval_ms=%lld",
		      souk_http_port(http), souk_config_get_int(cfg, "lag.window"),
		      interval);
	for (;;) {
		struct timespec ts = {.tv_sec = interval / 1000,
				      .tv_nsec = (interval % 1000) * 1000000};
		int sig;

		if (lag_serve_pass(&sv, http, s, w, cfg, errstr, sizeof(errstr)) == 0) {
			souk_metrics_counter_add(sv.passes, 1);
			souk_http_set_ready(http, 1, NULL);
		} else {
			souk_metrics_counter_add(sv.failures, 1);
			souk_http_set_ready(http, 0, errstr);
			SOUK_LOG_WARN("lag_pass_failed", "error=\"%s\"", errstr);
		}
		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	SOUK_LOG_INFO("lag_stopped", NULL);
	rc = 0;
out:
	souk_http_destroy(http); /* first: its thread reads sv */
	lag_sampler_destroy(s);
	lag_backlog_reader_destroy(sv.backlog);
	lag_window_destroy(w);
	lag_history_destroy(sv.history);
	souk_metrics_destroy(sv.metrics);
	free(sv.json);
	free(sv.history_json);
	free(sv.consumers);
	for (size_t i = 0; i < sv.ngroups; i++) {
		free(sv.groups[i]->json);
		free(sv.groups[i]);
	}
	free(sv.groups);
	pthread_mutex_destroy(&sv.mu);
	return rc;
}
int
main(int argc, char **argv)
{
	const struct souk_config_def *const tables[] = {souk_config_common, lag_defs,
							NULL};
	struct lag_opts o = {0};
	struct lag_props props = {.n = 0};
	struct souk_config *cfg = NULL;
	char errstr[512];
	int rc;

	o.sets = calloc((size_t)argc + 1, sizeof(*o.sets));
	o.groups = calloc((size_t)argc + 1, sizeof(*o.groups));
	if (!o.sets || !o.groups) {
		fprintf(stderr, "error: out of memory\n");
		rc = LAG_EXIT_FAIL;
		goto out;
	}
	rc = lag_parse(argc, argv, &o, tables);
	if (rc >= 0)
		goto out;
	rc = LAG_EXIT_USAGE;
	cfg = souk_config_new(tables, errstr, sizeof(errstr));
	if (!cfg ||
	    souk_config_load(cfg, o.config_path, o.nsets, o.sets, errstr,
			     sizeof(errstr)) ||
	    (o.samples &&
	     souk_config_set(cfg, "lag.window", o.samples, errstr, sizeof(errstr))) ||
	    (o.interval &&
	     souk_config_set(cfg, "lag.interval", o.interval, errstr, sizeof(errstr))) ||
	    (o.no_pg &&
	     souk_config_set(cfg, "lag.pg", "false", errstr, sizeof(errstr)))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	if (souk_config_foreach_prefix(cfg, "kafka.", lag_collect_prop, &props)) {
		fprintf(stderr, "error: more than %d kafka.* keys\n", LAG_MAX_PROPS);
		goto out;
	}
	rc = o.once ? lag_once(&o, cfg, &props) : lag_run(&o, cfg, &props);
out:
	souk_config_destroy(cfg);
	free(o.sets);
	free(o.groups);
	return rc;
}
