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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "psp_server.h"
#include "psp_service.h"
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

/* Waiting requests keep their sockets open: allow as many as the hard limit. */
static void
psp_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	const char *config_path = NULL;
	struct souk_config *cfg = NULL;
	struct souk_metrics *metrics = NULL;
	struct psp_service *service = NULL;
	struct psp_server *server = NULL;
	struct psp_service_conf sconf;
	struct psp_server_conf conf;
	enum souk_log_level level;
	char errstr[768];
	sigset_t sigs;
	int n_sets = 0, c, sig, rc = 1;

	if (!sets)
		return 1;
	while ((c = getopt_long(argc, argv, "c:X:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			sets[n_sets++] = optarg;
			break;
		case 'h':
			psp_usage(stdout);
			free(sets);
			return 0;
		case 'V':
			printf("souk-psp %s\n", SOUK_VERSION);
			free(sets);
			return 0;
		default:
			psp_usage(stderr);
			free(sets);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "error: unexpected argument \"%s\"\n", argv[optind]);
		free(sets);
		return 2;
	}
	cfg = souk_config_new(psp_tables, errstr, sizeof(errstr));
	if (!cfg ||
	    souk_config_set(cfg, "http.listen", "127.0.0.1:18200", errstr,
			    sizeof(errstr)) ||
	    souk_config_load(cfg, config_path, n_sets, sets, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", errstr);
		rc = 2;
		goto out;
	}
	if (souk_log_level_from_name(souk_config_get_string(cfg, "log.level"), &level) ==
	    0)
		souk_log_set_level(level);

	/* Signals are taken by sigwait below; every thread started from here on
	 * inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	psp_raise_nofile();

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

	while (sigwait(&sigs, &sig) != 0)
		;
	SOUK_LOG_INFO("stopping", "signal=%d", sig);
	rc = 0;
out:
	psp_server_destroy(server);
	psp_service_destroy(service);
	souk_metrics_destroy(metrics);
	souk_config_destroy(cfg);
	free(sets);
	return rc;
}
