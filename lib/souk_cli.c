#include "souk_cli.h"

#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "souk_log.h"

int
souk_cli_config(const struct souk_cli *cli, int argc, char **argv,
		struct souk_config **cfg)
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
	enum souk_log_level level;
	char errstr[768];
	int n_sets = 0, c, rc = 2;

	*cfg = NULL;
	if (!sets) {
		fprintf(stderr, "error: out of memory\n");
		return 1;
	}
	while ((c = getopt_long(argc, argv, "c:X:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			sets[n_sets++] = optarg;
			break;
		case 'h':
			cli->usage(stdout);
			rc = 0;
			goto out;
		case 'V':
			printf("%s %s\n", cli->name, SOUK_VERSION);
			rc = 0;
			goto out;
		default:
			cli->usage(stderr);
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "error: unexpected argument \"%s\"\n", argv[optind]);
		goto out;
	}
	*cfg = souk_config_new(cli->tables, errstr, sizeof(errstr));
	if (!*cfg)
		goto fail;
	for (const char *const *d = cli->defaults; d && *d; d++) {
		const char *eq = strchr(*d, '=');
		char key[128];

		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - *d) : 0, *d);
		if (!eq || souk_config_set(*cfg, key, eq + 1, errstr, sizeof(errstr)))
			goto fail;
	}
	if (souk_config_load(*cfg, config_path, n_sets, sets, errstr, sizeof(errstr)))
		goto fail;
	if (souk_log_level_from_name(souk_config_get_string(*cfg, "log.level"), &level) ==
	    0)
		souk_log_set_level(level);
	rc = -1;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", errstr);
	souk_config_destroy(*cfg);
	*cfg = NULL;
out:
	free(sets);
	return rc;
}

void
souk_cli_signals(sigset_t *sigs)
{
	struct rlimit rl;

	sigemptyset(sigs);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
souk_cli_wait(const sigset_t *sigs)
{
	int sig;

	while (sigwait(sigs, &sig) != 0)
		;
	return sig;
}
