/*
 * fuzz_config: souk_config_load on an arbitrary config file, then what a tool does with
 * the values (souk_redis_url_parse on redis.url, souk_http_parse_ipv4 on http.listen).
 *
 * souk_config reads files only, so the input is written to a memfd once per run and
 * loaded through /proc/self/fd/N: no file system traffic, nothing left behind. The
 * table holds the shared keys and one key of each type, with bounds and choices, so
 * every value parser is reached.
 *
 * Properties, beyond "no crash, no leak, no undefined behaviour":
 *   - a failed load has an error that names the file;
 *   - a loaded value respects its definition (bounds, choices, finite doubles), and
 *     no table key is handed on as a kafka.* pass-through;
 *   - a failed URL or address parse has an error.
 */
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "souk_config.h"
#include "souk_http.h"
#include "souk_redis.h"

static const struct souk_config_def fuzz_defs[] = {
    {.name = "tool.port", .type = SOUK_CONFIG_INT, .def = "8080", .min = 1, .max = 65535},
    {.name = "tool.batch", .type = SOUK_CONFIG_INT, .def = "-1"},
    {.name = "tool.dry_run", .type = SOUK_CONFIG_BOOL, .def = "false"},
    {.name = "tool.ratio", .type = SOUK_CONFIG_DOUBLE, .def = "0.5", .min = 0, .max = 1},
    {.name = "tool.scale", .type = SOUK_CONFIG_DOUBLE, .def = "1e3"},
    {.name = "tool.poll",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "100ms",
     .min = 1,
     .max = 3600000},
    {.name = "tool.mode",
     .type = SOUK_CONFIG_STRING,
     .def = "fast",
     .choices = "fast|safe"},
    {.name = "pg.password", .type = SOUK_CONFIG_STRING},
    {.name = NULL},
};
static const struct souk_config_def *const tables[] = {souk_config_common, fuzz_defs,
						       NULL};

static int file_fd = -1;
static char file_path[64];
static FILE *devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The environment layer is not under test: the file must be all that varies. */
	for (size_t i = 0; souk_config_common[i].name; i++)
		if (souk_config_common[i].env)
			unsetenv(souk_config_common[i].env);
	file_fd = memfd_create("fuzz_config", 0);
	devnull = fopen("/dev/null", "w");
	if (file_fd < 0 || !devnull) {
		perror("fuzz_config: could not set up");
		abort();
	}
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	return 0;
}

/* Pass-through keys come with the prefix stripped, and never a table key. */
static int
check_extra(const char *name, const char *value, void *opaque)
{
	(void)opaque;
	FUZZ_CHECK(strcmp(name, "brokers") != 0,
		   "the table key kafka.brokers passed through");
	FUZZ_CHECK(value != NULL, "kafka.%s passed through without a value", name);
	return 0;
}

static void
check_values(const struct souk_config *cfg)
{
	long long port = souk_config_get_int(cfg, "tool.port");
	double ratio = souk_config_get_double(cfg, "tool.ratio");
	long long poll = souk_config_get_duration_ms(cfg, "tool.poll");
	int dry = souk_config_get_bool(cfg, "tool.dry_run");
	const char *mode = souk_config_get_string(cfg, "tool.mode");
	const char *level = souk_config_get_string(cfg, "log.level");

	FUZZ_CHECK(port >= 1 && port <= 65535, "tool.port %lld", port);
	FUZZ_CHECK(ratio >= 0 && ratio <= 1, "tool.ratio %g", ratio);
	FUZZ_CHECK(isfinite(souk_config_get_double(cfg, "tool.scale")), "tool.scale %g",
		   souk_config_get_double(cfg, "tool.scale"));
	FUZZ_CHECK(poll >= 1 && poll <= 3600000, "tool.poll %lld ms", poll);
	FUZZ_CHECK(dry == 0 || dry == 1, "tool.dry_run %d", dry);
	FUZZ_CHECK(!strcmp(mode, "fast") || !strcmp(mode, "safe"), "tool.mode \"%s\"",
		   mode);
	FUZZ_CHECK(!strcmp(level, "debug") || !strcmp(level, "info") ||
		       !strcmp(level, "warn") || !strcmp(level, "error"),
		   "log.level \"%s\"", level);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct souk_config *cfg;
	struct souk_redis_url url;
	struct sockaddr_in sa;
	char err[1024] = "";

	if (ftruncate(file_fd, 0) || pwrite(file_fd, data, size, 0) != (ssize_t)size)
		abort();
	cfg = souk_config_new(tables, err, sizeof(err));
	FUZZ_CHECK(cfg, "the fuzz table is refused: %s", err);
	if (souk_config_load(cfg, file_path, 0, NULL, err, sizeof(err))) {
		FUZZ_CHECK(strstr(err, file_path) != NULL,
			   "the error does not name the file: %s", err);
		goto out;
	}
	check_values(cfg);
	souk_config_foreach_prefix(cfg, "kafka.", check_extra, NULL);
	souk_config_dump(cfg, devnull);

	err[0] = '\0';
	if (souk_redis_url_parse(souk_config_get_string(cfg, "redis.url"), &url, err,
				 sizeof(err)))
		FUZZ_CHECK(err[0], "redis.url refused without an error");
	err[0] = '\0';
	if (souk_http_parse_ipv4(souk_config_get_string(cfg, "http.listen"), &sa, err,
				 sizeof(err)))
		FUZZ_CHECK(err[0], "http.listen refused without an error");
out:
	souk_config_destroy(cfg);
	return 0;
}
