/*
 * souk-gateway: HTTP ingest. Validates JSON events and publishes them to Kafka,
 * answering 202 only once the broker acknowledged them. See gw_server.h for the routes
 * and answers, README.md for the guarantees.
 *
 * usage: souk-gateway [--config FILE] [--set key=value ...] [--help] [--version]
 * Exit status: 0 after a clean drain, 1 on failure, 2 on a usage error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_ratelimit.h"
#include "gw_pool.h"
#include "gw_server.h"
#include "souk_cli.h"
#include "souk_config.h"
#include "souk_log.h"
#include "souk_metrics.h"

#define GW_MAX_PROPS 64

static const struct souk_config_def gw_config_defs[] = {
    {.name = "gateway.threads",
     .type = SOUK_CONFIG_INT,
     .def = "2",
     .min = 1,
     .max = 64,
     .help = "HTTP threads (libmicrohttpd epoll threads)"},
    {.name = "gateway.connection_limit",
     .type = SOUK_CONFIG_INT,
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .help = "open connections at most, suspended ones included"},
    {.name = "gateway.body_limit",
     .type = SOUK_CONFIG_INT,
     .def = "65536",
     .min = 1024,
     .max = 65536,
     .help = "bytes in one event's body (413 above)"},
    {.name = "gateway.batch_limit",
     .type = SOUK_CONFIG_INT,
     .def = "8388608",
     .min = 1024,
     .max = 268435456,
     .help = "bytes in one /v1/events body (413 above)"},
    {.name = "gateway.batch_lines",
     .type = SOUK_CONFIG_INT,
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .help = "events in one /v1/events body (413 above)"},
    {.name = "gateway.deadline",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "5s",
     .min = 100,
     .max = 300000,
     .help = "wait this long for the broker's acknowledgement, then answer 504 (bounds "
	     "message.timeout.ms)"},
    {.name = "gateway.retry_after",
     .type = SOUK_CONFIG_INT,
     .def = "1",
     .min = 1,
     .max = 3600,
     .help = "seconds in Retry-After on 503"},
    {.name = "gateway.api_keys",
     .type = SOUK_CONFIG_STRING,
     .def = NULL,
     .env = "SOUK_API_KEYS",
     .help = "file of \"<key> <client_id>\" lines; unset: open, client \"anonymous\""},
    {.name = "gateway.rate",
     .type = SOUK_CONFIG_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e9,
     .help = "requests per second per user (orders) or client (others); 0: no limit"},
    {.name = "gateway.burst",
     .type = SOUK_CONFIG_DOUBLE,
     .def = "20",
     .min = 1,
     .max = 1e9,
     .help = "requests a user or client may send at once before the rate applies"},
    {.name = "gateway.drain_timeout",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "15s",
     .min = 0,
     .max = 600000,
     .help = "on SIGTERM, wait this long for requests in flight"},
    {.name = NULL},
};

static const struct souk_config_def *const gw_tables[] = {souk_config_common,
							  gw_config_defs, NULL};

struct gw_props {
	struct souk_kafka_prop props[GW_MAX_PROPS];
	size_t n;
};

static int
gw_collect_prop(const char *name, const char *value, void *opaque)
{
	struct gw_props *p = opaque;

	if (p->n == GW_MAX_PROPS)
		return -1;
	p->props[p->n].name = name;
	p->props[p->n].value = value;
	p->n++;
	return 0;
}

static void
gw_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: souk-gateway [--config FILE] [--set key=value ...]\n"
	    "\n"
	    "  -c, --config FILE    read \"key = value\" lines from FILE\n"
	    "  -X, --set KEY=VALUE  set one key (repeatable; wins over file and env)\n"
	    "  -h, --help           this help and every key\n"
	    "  -V, --version        print the version\n"
	    "\n"
	    "keys (kafka.* keys are passed to librdkafka):\n");
	souk_config_help(gw_tables, out);
}

int
main(int argc, char **argv)
{
	static const char *const defaults[] = {"http.listen=127.0.0.1:8080", NULL};
	static const struct souk_cli cli = {"souk-gateway", gw_tables, defaults,
					    gw_usage};
	const char *keys_path;
	struct souk_config *cfg = NULL;
	struct souk_metrics *metrics = NULL;
	struct gw_auth *auth = NULL;
	struct gw_pool *redis = NULL, *pg = NULL;
	struct gw_ratelimit *ratelimit = NULL;
	struct gw_server *server = NULL;
	struct gw_props props = {.n = 0};
	struct gw_server_conf conf;
	char errstr[512];
	sigset_t sigs;
	int c, sig, rc;

	rc = souk_cli_config(&cli, argc, argv, &cfg);
	if (rc >= 0)
		return rc;
	rc = 1;
	if (souk_config_foreach_prefix(cfg, "kafka.", gw_collect_prop, &props)) {
		fprintf(stderr, "error: more than %d kafka.* keys\n", GW_MAX_PROPS);
		rc = 2;
		goto out;
	}
	/* Before any thread starts: they inherit the signal mask. */
	souk_cli_signals(&sigs);

	keys_path = souk_config_get_string(cfg, "gateway.api_keys");
	if (keys_path && !(auth = gw_auth_load(keys_path, errstr, sizeof(errstr)))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	metrics = souk_metrics_new();
	if (!metrics) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	redis = gw_pool_redis(souk_config_get_string(cfg, "redis.url"), 200, errstr,
			      sizeof(errstr));
	if (!redis)
		/* /v1/stock answers 503 and the rate limit is off until a restart. */
		SOUK_LOG_WARN("redis_unavailable", "error=%s", errstr);
	pg = gw_pool_pg(souk_config_get_string(cfg, "pg.dsn"), 2000, errstr,
			sizeof(errstr));
	if (!pg)
		/* /v1/orders/{id}, /v1/payments/{id} and /v1/rides/{id} answer 503
		 * until a restart. */
		SOUK_LOG_WARN("postgres_unavailable", "error=%s", errstr);
	if (redis && souk_config_get_double(cfg, "gateway.rate") > 0) {
		ratelimit = gw_ratelimit_new(
		    redis, souk_config_get_double(cfg, "gateway.rate"),
		    souk_config_get_double(cfg, "gateway.burst"), errstr, sizeof(errstr));
		if (!ratelimit) {
			fprintf(stderr, "error: %s\n", errstr);
			goto out;
		}
	}
	conf = (struct gw_server_conf){
	    .listen = souk_config_get_string(cfg, "http.listen"),
	    .threads = (int)souk_config_get_int(cfg, "gateway.threads"),
	    .connection_limit =
		(unsigned)souk_config_get_int(cfg, "gateway.connection_limit"),
	    .body_limit = (size_t)souk_config_get_int(cfg, "gateway.body_limit"),
	    .batch_limit = (size_t)souk_config_get_int(cfg, "gateway.batch_limit"),
	    .batch_lines = (size_t)souk_config_get_int(cfg, "gateway.batch_lines"),
	    .deadline_ms = (int)souk_config_get_duration_ms(cfg, "gateway.deadline"),
	    .retry_after_s = (int)souk_config_get_int(cfg, "gateway.retry_after"),
	    .brokers = souk_config_get_string(cfg, "kafka.brokers"),
	    .props = props.props,
	    .nprops = props.n,
	    .auth = auth,
	    .ratelimit = ratelimit,
	    .redis = redis,
	    .pg = pg,
	    .metrics = metrics,
	};
	server = gw_server_new(&conf, errstr, sizeof(errstr));
	if (!server) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	SOUK_LOG_INFO("listening", "port=%u client_keys=%s rate=%g",
		      gw_server_port(server), auth ? "on" : "off",
		      souk_config_get_double(cfg, "gateway.rate"));

	sig = souk_cli_wait(&sigs);
	SOUK_LOG_INFO("draining", "signal=%d", sig);
	c = gw_server_drain(
	    server, (int)souk_config_get_duration_ms(cfg, "gateway.drain_timeout"));
	SOUK_LOG_INFO("stopped", "unanswered=%d", c);
	rc = c ? 1 : 0;
out:
	gw_server_destroy(server);
	gw_ratelimit_destroy(ratelimit);
	gw_pool_destroy(redis);
	gw_pool_destroy(pg);
	gw_auth_destroy(auth);
	souk_metrics_destroy(metrics);
	souk_config_destroy(cfg);
	return rc;
}
