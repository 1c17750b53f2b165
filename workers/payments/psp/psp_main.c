/*
 * souk-psp: a payment provider simulator. Behaves like a card acquirer reached over
 * HTTP (authorize, capture, void, refund with provider-side idempotency keys, a daily
 * settlement report) and injects the faults a real one has: latency, errors, declines
 * and timeouts whose effect was applied. See psp_server.h for the routes, psp_service.h
 * for the idempotency and the faults.
 *
 * usage: souk-psp [--config FILE] [--set key=value ...] [--help] [--version]
 * Exit status: 0 after SIGTERM or SIGINT, 1 on failure, 2 on a usage error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psp_server.h"
#include "psp_service.h"
#include "souk_cli.h"
#include "souk_config.h"
#include "souk_log.h"
#include "souk_metrics.h"

static const struct souk_config_def psp_config_defs[] = {
    {.name = "psp.journal",
     .type = SOUK_CONFIG_STRING,
     .def = NULL,
     .help = "file every applied operation is appended to (fsync'd before the answer) "
	     "and replayed from at start; unset: memory only"},
    {.name = "psp.seed",
     .type = SOUK_CONFIG_INT,
     .def = "1",
     .min = 0,
     .max = 9e18,
     .help = "seed of the fault draws: same seed and keys, same faults"},
    {.name = "psp.decline_rate",
     .type = SOUK_CONFIG_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1,
     .help = "share of authorizations declined"},
    {.name = "psp.error_rate",
     .type = SOUK_CONFIG_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1,
     .help = "share of operations answered 500 with nothing applied"},
    {.name = "psp.timeout_rate",
     .type = SOUK_CONFIG_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1,
     .help = "share of operations applied but answered psp.timeout_delay late"},
    {.name = "psp.timeout_delay",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "30s",
     .min = 0,
     .max = 3600000,
     .help = "how late a timed-out operation is answered"},
    {.name = "psp.latency",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "0",
     .min = 0,
     .max = 600000,
     .help = "added to every /v1/ answer (the server thread is not held)"},
    {.name = "psp.settle_delay",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "0",
     .min = 0,
     .max = 2592000000.0,
     .help = "a capture or refund settles this long after it applied"},
    {.name = "psp.test_hooks",
     .type = SOUK_CONFIG_BOOL,
     .def = "false",
     .help =
	 "serve /v1/test/drop/{ref} and /v1/test/amount/{ref} (reconciliation tests)"},
    {.name = "psp.threads",
     .type = SOUK_CONFIG_INT,
     .def = "2",
     .min = 1,
     .max = 64,
     .help = "HTTP threads (libmicrohttpd epoll threads)"},
    {.name = "psp.connection_limit",
     .type = SOUK_CONFIG_INT,
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .help = "open connections at most, waiting ones included"},
    {.name = NULL},
};

static const struct souk_config_def *const psp_tables[] = {souk_config_common,
							   psp_config_defs, NULL};

static void
psp_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: souk-psp [--config FILE] [--set key=value ...]\n"
	    "\n"
	    "  -c, --config FILE    read \"key = value\" lines from FILE\n"
	    "  -X, --set KEY=VALUE  set one key (repeatable; wins over file and env)\n"
	    "  -h, --help           this help and every key\n"
	    "  -V, --version        print the version\n"
	    "\n"
	    "keys (only http.listen, default 127.0.0.1:18200 here, log.level and\n"
	    "psp.* are used):\n");
	souk_config_help(psp_tables, out);
}

int
main(int argc, char **argv)
{
	static const char *const defaults[] = {"http.listen=127.0.0.1:18200", NULL};
	static const struct souk_cli cli = {"souk-psp", psp_tables, defaults, psp_usage};
	struct souk_config *cfg = NULL;
	struct souk_metrics *metrics = NULL;
	struct psp_service *service = NULL;
	struct psp_server *server = NULL;
	struct psp_service_conf sconf;
	struct psp_server_conf conf;
	char errstr[768];
	sigset_t sigs;
	int sig, rc;

	rc = souk_cli_config(&cli, argc, argv, &cfg);
	if (rc >= 0)
		return rc;
	rc = 1;
	/* Before any thread starts: they inherit the signal mask. */
	souk_cli_signals(&sigs);

	sconf = (struct psp_service_conf){
	    .journal = souk_config_get_string(cfg, "psp.journal"),
	    .seed = (uint64_t)souk_config_get_int(cfg, "psp.seed"),
	    .decline_rate = souk_config_get_double(cfg, "psp.decline_rate"),
	    .error_rate = souk_config_get_double(cfg, "psp.error_rate"),
	    .timeout_rate = souk_config_get_double(cfg, "psp.timeout_rate"),
	    .settle_delay_ms = souk_config_get_duration_ms(cfg, "psp.settle_delay"),
	};
	metrics = souk_metrics_new();
	if (!metrics) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	service = psp_service_new(&sconf, errstr, sizeof(errstr));
	if (!service) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	conf = (struct psp_server_conf){
	    .listen = souk_config_get_string(cfg, "http.listen"),
	    .threads = (int)souk_config_get_int(cfg, "psp.threads"),
	    .connection_limit =
		(unsigned)souk_config_get_int(cfg, "psp.connection_limit"),
	    .latency_ms = souk_config_get_duration_ms(cfg, "psp.latency"),
	    .timeout_delay_ms = souk_config_get_duration_ms(cfg, "psp.timeout_delay"),
	    .test_hooks = souk_config_get_bool(cfg, "psp.test_hooks"),
	    .service = service,
	    .metrics = metrics,
	};
	server = psp_server_new(&conf, errstr, sizeof(errstr));
	if (!server) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	SOUK_LOG_INFO("listening",
		      "port=%u journal=%s latency_ms=%lld error_rate=%g "
		      "timeout_rate=%g decline_rate=%g test_hooks=%d",
		      psp_server_port(server), sconf.journal ? sconf.journal : "",
		      (long long)conf.latency_ms, sconf.error_rate, sconf.timeout_rate,
		      sconf.decline_rate, conf.test_hooks);

	sig = souk_cli_wait(&sigs);
	SOUK_LOG_INFO("stopping", "signal=%d", sig);
	rc = 0;
out:
	psp_server_destroy(server);
	psp_service_destroy(service);
	souk_metrics_destroy(metrics);
	souk_config_destroy(cfg);
	return rc;
}
