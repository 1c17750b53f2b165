/*
 * souk-worker: runs one worker pool on the shared runtime (lib/souk_runtime.h).
 *
 * usage: souk-worker <pool> [--threads N] [--group G] [-c FILE] [-X key=value ...]
 * Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on failure, 2 on a usage
 * error.
 */
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_pool.h"
#include "mat_pool.h"
#include "pay_pool.h"
#include "souk_cli.h"
#include "souk_config.h"
#include "souk_log.h"
#include "souk_runtime.h"

static const struct souk_pool *const worker_pools[] = {&inv_pool, &pay_pool, &mat_pool,
							 NULL};

static const struct souk_pool *
worker_pool(const char *name)
{
	for (size_t i = 0; worker_pools[i]; i++)
		if (!strcmp(worker_pools[i]->name, name))
			return worker_pools[i];
	return NULL;
}

static void
worker_usage(FILE *out, const struct souk_config_def *const *tables)
{
	fprintf(out, "usage: souk-worker <pool> [options]\n\npools:");
	for (size_t i = 0; worker_pools[i]; i++)
		fprintf(out, " %s", worker_pools[i]->name);
	fprintf(out,
		"\n\n"
		"  -t, --threads N      consumer threads (worker.threads)\n"
		"  -g, --group G        consumer group (default: the pool's)\n"
		"  -c, --config FILE    read \"key = value\" lines from FILE\n"
		"  -X, --set KEY=VALUE  set one key (kafka.* keys go to librdkafka)\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version\n");
	if (tables) {
		fprintf(out, "\nkeys:\n");
		souk_config_help(tables, out);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"threads", required_argument, NULL, 't'},
	    {"group", required_argument, NULL, 'g'},
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char **sets = calloc((size_t)argc + 2, sizeof(*sets));
	const char *config_path = NULL, *group = NULL;
	const struct souk_pool *pool = NULL;
	const struct souk_config_def *tables[4] = {souk_config_common,
						   souk_runtime_config};
	struct souk_config *cfg = NULL;
	struct souk_runtime *rt = NULL;
	enum souk_log_level level;
	char errstr[512], threads_set[64];
	sigset_t sigs;
	int n_sets = 0, c, sig, rc = 1;
	bool help = false;

	if (!sets)
		return 1;
	while ((c = getopt_long(argc, argv, "t:g:c:X:hV", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			snprintf(threads_set, sizeof(threads_set), "worker.threads=%s",
				 optarg);
			sets[n_sets++] = threads_set;
			break;
		case 'g':
			group = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			sets[n_sets++] = optarg;
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			printf("souk-worker %s\n", SOUK_VERSION);
			rc = 0;
			goto out;
		default:
			worker_usage(stderr, NULL);
			rc = 2;
			goto out;
		}
	}
	if (optind < argc && !(pool = worker_pool(argv[optind]))) {
		fprintf(stderr, "error: unknown pool \"%s\"\n", argv[optind]);
		worker_usage(stderr, NULL);
		rc = 2;
		goto out;
	}
	if (pool)
		tables[2] = pool->config;
	if (help) {
		worker_usage(stdout, tables);
		rc = 0;
		goto out;
	}
	if (!pool || optind + 1 != argc) {
		fprintf(stderr, "error: name one pool\n");
		worker_usage(stderr, NULL);
		rc = 2;
		goto out;
	}
	cfg = souk_config_new(tables, errstr, sizeof(errstr));
	if (!cfg ||
	    souk_config_load(cfg, config_path, n_sets, sets, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", cfg ? errstr : "out of memory");
		rc = 2;
		goto out;
	}
	if (souk_log_level_from_name(souk_config_get_string(cfg, "log.level"), &level) ==
	    0)
		souk_log_set_level(level);

	/* Before the runtime's threads start: they inherit the signal mask. */
	souk_cli_signals(&sigs);

	rt = souk_runtime_new(pool, cfg, group, errstr, sizeof(errstr));
	if (!rt) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	sig = souk_cli_wait(&sigs);
	SOUK_LOG_INFO("worker_stopping", "signal=%d", sig);
	rc = souk_runtime_stop(rt) ? 1 : 0;
	SOUK_LOG_INFO("worker_stopped", "clean=%d", rc == 0);
out:
	souk_config_destroy(cfg);
	free(sets);
	return rc;
}
