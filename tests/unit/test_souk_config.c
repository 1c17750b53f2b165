/* souk_config: defaults, layering (cli > file > env > default), file syntax and its
 * errors, typed values and bounds, kafka.* pass-through, help and dump. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "souk_config.h"

static const struct souk_config_def tool_defs[] = {
    {.name = "http.port",
     .type = SOUK_CONFIG_INT,
     .def = "8080",
     .min = 1,
     .max = 65535,
     .help = "port"},
    {.name = "worker.batch", .type = SOUK_CONFIG_INT, .def = "-1", .help = "unbounded"},
    {.name = "worker.dry_run", .type = SOUK_CONFIG_BOOL, .def = "false", .help = "dry"},
    {.name = "worker.ratio",
     .type = SOUK_CONFIG_DOUBLE,
     .def = "0.5",
     .min = 0,
     .max = 1,
     .help = "ratio"},
    {.name = "worker.poll",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "100ms",
     .min = 1,
     .max = 60000,
     .env = "SOUK_TEST_POLL",
     .help = "poll interval"},
    {.name = "pg.password", .type = SOUK_CONFIG_STRING, .help = "no default"},
    {.name = NULL},
};

static const struct souk_config_def *const tables[] = {souk_config_common, tool_defs,
						       NULL};

static const char *const env_vars[] = {"SOUK_KAFKA_BROKERS", "SOUK_PG_DSN",
				       "SOUK_REDIS_URL", "SOUK_LOG_LEVEL",
				       "SOUK_TEST_POLL"};

static char err[512];
static char conf_path[64];

static int
setup(void **state)
{
	for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		unsetenv(env_vars[i]);
	err[0] = '\0';
	*state = souk_config_new(tables, err, sizeof(err));
	return *state != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	souk_config_destroy(*state);
	if (conf_path[0] != '\0')
		unlink(conf_path);
	conf_path[0] = '\0';
	return 0;
}

/* Writes text to a new temporary file, returns its path. */
static const char *
write_conf(const char *text)
{
	int fd;

	snprintf(conf_path, sizeof(conf_path), "/tmp/test_souk_config.XXXXXX");
	fd = mkstemp(conf_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return conf_path;
}

static void
test_defaults(void **state)
{
	struct souk_config *cfg = *state;

	assert_string_equal(souk_config_get_string(cfg, "kafka.brokers"),
			    "127.0.0.1:19092");
	assert_string_equal(souk_config_get_string(cfg, "pg.dsn"),
			    "host=127.0.0.1 port=15432 dbname=souk user=souk");
	assert_string_equal(souk_config_get_string(cfg, "redis.url"),
			    "redis://127.0.0.1:16379/0");
	assert_string_equal(souk_config_get_string(cfg, "log.level"), "info");
	assert_string_equal(souk_config_get_string(cfg, "http.listen"), "127.0.0.1:0");
	assert_int_equal(souk_config_get_int(cfg, "http.port"), 8080);
	assert_int_equal(souk_config_get_int(cfg, "worker.batch"), -1);
	assert_false(souk_config_get_bool(cfg, "worker.dry_run"));
	assert_true(souk_config_get_double(cfg, "worker.ratio") == 0.5);
	assert_int_equal(souk_config_get_duration_ms(cfg, "worker.poll"), 100);
	assert_null(souk_config_get_string(cfg, "pg.password"));
}

static void
test_layers_cli_over_file_over_env(void **state)
{
	struct souk_config *cfg = *state;
	const char *sets[] = {"kafka.brokers=cli:1"};
	const char *path = write_conf("kafka.brokers = file:1\n"
				      "pg.dsn = host=file port=1\n");

	setenv("SOUK_KAFKA_BROKERS", "env:1", 1);
	setenv("SOUK_PG_DSN", "host=env", 1);
	setenv("SOUK_REDIS_URL", "redis://env:1/0", 1);
	setenv("SOUK_LOG_LEVEL", "", 1); /* empty: unset */

	assert_int_equal(souk_config_load(cfg, path, 1, sets, err, sizeof(err)), 0);
	assert_string_equal(souk_config_get_string(cfg, "kafka.brokers"), "cli:1");
	assert_string_equal(souk_config_get_string(cfg, "pg.dsn"), "host=file port=1");
	assert_string_equal(souk_config_get_string(cfg, "redis.url"), "redis://env:1/0");
	assert_string_equal(souk_config_get_string(cfg, "log.level"), "info");
}

static void
test_file_syntax(void **state)
{
	struct souk_config *cfg = *state;
	const char *path = write_conf("# a comment\n"
				      "\n"
				      "   # indented comment\n"
				      "http.port=9000\n"
				      "  worker.dry_run   =  yes  \r\n"
				      "worker.poll = 1m\n"
				      "http.port = 9001");

	assert_int_equal(souk_config_load(cfg, path, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(souk_config_get_int(cfg, "http.port"), 9001);
	assert_true(souk_config_get_bool(cfg, "worker.dry_run"));
	assert_int_equal(souk_config_get_duration_ms(cfg, "worker.poll"), 60000);
}

static void
test_file_unknown_key_names_file_and_line(void **state)
{
	char expected[256];
	const char *path = write_conf("# brokers\n\nkafka_brokers = 127.0.0.1:9092\n");

	assert_int_equal(souk_config_load(*state, path, 0, NULL, err, sizeof(err)), -1);
	snprintf(expected, sizeof(expected), "%s:3: unknown key \"kafka_brokers\"", path);
	assert_string_equal(err, expected);
}

static void
test_file_bad_value_names_key_and_bounds(void **state)
{
	char expected[256];
	const char *path = write_conf("http.port = x\n");

	assert_int_equal(souk_config_load(*state, path, 0, NULL, err, sizeof(err)), -1);
	snprintf(expected, sizeof(expected),
		 "%s:1: \"http.port\": must be an integer between 1 and 65535, got \"x\"",
		 path);
	assert_string_equal(err, expected);
	/* The failed set kept the old value. */
	assert_int_equal(souk_config_get_int(*state, "http.port"), 8080);
}

static void
test_file_line_without_equals(void **state)
{
	char expected[256];
	const char *path = write_conf("http.port 80\n");

	assert_int_equal(souk_config_load(*state, path, 0, NULL, err, sizeof(err)), -1);
	snprintf(expected, sizeof(expected),
		 "%s:1: expected \"key = value\", got \"http.port 80\"", path);
	assert_string_equal(err, expected);
}

static void
test_missing_file(void **state)
{
	assert_int_equal(
	    souk_config_load(*state, "/nonexistent/souk.conf", 0, NULL, err, sizeof(err)),
	    -1);
	assert_string_equal(err,
			    "could not open config file \"/nonexistent/souk.conf\": No "
			    "such file or directory");
}

static void
test_env_error_names_variable(void **state)
{
	setenv("SOUK_LOG_LEVEL", "verbose", 1);
	assert_int_equal(souk_config_load(*state, NULL, 0, NULL, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "environment SOUK_LOG_LEVEL: \"log.level\": must be one of "
			    "debug|info|warn|error, got \"verbose\"");
}

static void
test_env_of_tool_key(void **state)
{
	setenv("SOUK_TEST_POLL", "5s", 1);
	assert_int_equal(souk_config_load(*state, NULL, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(souk_config_get_duration_ms(*state, "worker.poll"), 5000);
}

static void
test_cli_errors(void **state)
{
	const char *unknown[] = {"pg.host=x"};
	const char *no_equals[] = {"pg.dsn"};

	assert_int_equal(souk_config_load(*state, NULL, 1, unknown, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "command line: unknown key \"pg.host\"");
	assert_int_equal(souk_config_load(*state, NULL, 1, no_equals, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "command line: expected key=value, got \"pg.dsn\"");
}

static void
test_typed_values_and_bounds(void **state)
{
	struct souk_config *cfg = *state;
	static const struct {
		const char *key;
		const char *value;
		const char *error; /* NULL: accepted */
	} cases[] = {
	    {"http.port", "65535", NULL},
	    {"http.port", "0",
	     "\"http.port\": must be an integer between 1 and 65535, got \"0\""},
	    {"http.port", "80x",
	     "\"http.port\": must be an integer between 1 and 65535, got "
	     "\"80x\""},
	    {"worker.batch", "99999999999999999999",
	     "\"worker.batch\": must be an integer, got \"99999999999999999999\""},
	    {"worker.dry_run", "off", NULL},
	    {"worker.dry_run", "maybe",
	     "\"worker.dry_run\": must be true, false, yes, no, on, off, 1 or 0, got "
	     "\"maybe\""},
	    {"worker.ratio", "1", NULL},
	    {"worker.ratio", "1.5",
	     "\"worker.ratio\": must be a number between 0 and 1, got \"1.5\""},
	    {"worker.ratio", "nan",
	     "\"worker.ratio\": must be a number between 0 and 1, got "
	     "\"nan\""},
	    {"worker.poll", "1h",
	     "\"worker.poll\": must be a duration (500ms, 5s, 2m, 1h) "
	     "between 1ms and 60000ms, got \"1h\""},
	    {"worker.poll", "5 s",
	     "\"worker.poll\": must be a duration (500ms, 5s, 2m, 1h) "
	     "between 1ms and 60000ms, got \"5 s\""},
	    {"worker.poll", "250", NULL},
	    {"log.level", "debug", NULL},
	    {"log.level", "DEBUG",
	     "\"log.level\": must be one of debug|info|warn|error, got "
	     "\"DEBUG\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc =
		    souk_config_set(cfg, cases[i].key, cases[i].value, err, sizeof(err));

		if (cases[i].error == NULL) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(err, cases[i].error);
		}
	}
	assert_int_equal(souk_config_get_int(cfg, "http.port"), 65535);
	assert_false(souk_config_get_bool(cfg, "worker.dry_run"));
	assert_true(souk_config_get_double(cfg, "worker.ratio") == 1);
	assert_int_equal(souk_config_get_duration_ms(cfg, "worker.poll"), 250);
	assert_string_equal(souk_config_get_string(cfg, "log.level"), "debug");
}

struct collected {
	char text[256];
	int calls;
	int stop_after;
};

static int
collect(const char *name, const char *value, void *opaque)
{
	struct collected *c = opaque;
	size_t used = strlen(c->text);

	snprintf(c->text + used, sizeof(c->text) - used, "%s=%s;", name, value);
	return ++c->calls == c->stop_after ? 42 : 0;
}

static void
test_kafka_pass_through(void **state)
{
	struct souk_config *cfg = *state;
	const char *sets[] = {"kafka.linger.ms=5", "kafka.brokers=b:1",
			      "kafka.security.protocol=SSL"};
	const char *path = write_conf("kafka.security.protocol = plaintext\n"
				      "kafka.compression.type = zstd\n");
	struct collected all = {.stop_after = -1};
	struct collected first = {.stop_after = 1};

	assert_int_equal(souk_config_load(cfg, path, 3, sets, err, sizeof(err)), 0);
	/* Prefix stripped, in the order first set, the later layer's value; kafka.brokers
	 * is a table key and never yielded. */
	assert_int_equal(souk_config_foreach_prefix(cfg, "kafka.", collect, &all), 0);
	assert_string_equal(all.text,
			    "security.protocol=SSL;compression.type=zstd;linger.ms=5;");
	assert_string_equal(souk_config_get_string(cfg, "kafka.brokers"), "b:1");

	assert_int_equal(souk_config_foreach_prefix(cfg, "kafka.", collect, &first), 42);
	assert_string_equal(first.text, "security.protocol=SSL;");

	assert_int_equal(souk_config_set(cfg, "kafka.", "x", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown key \"kafka.\"");
}

static void
test_bad_tables(void **state)
{
	static const struct souk_config_def duplicate[] = {
	    {.name = "log.level", .type = SOUK_CONFIG_STRING, .def = "x"},
	    {.name = NULL},
	};
	static const struct souk_config_def bad_default[] = {
	    {.name = "q.size",
	     .type = SOUK_CONFIG_INT,
	     .def = "10",
	     .min = 20,
	     .max = 30},
	    {.name = NULL},
	};
	static const struct souk_config_def no_default[] = {
	    {.name = "q.size", .type = SOUK_CONFIG_INT},
	    {.name = NULL},
	};

	(void)state;
	assert_null(souk_config_new(
	    (const struct souk_config_def *[]){souk_config_common, duplicate, NULL}, err,
	    sizeof(err)));
	assert_string_equal(err, "config table: duplicate key \"log.level\"");
	assert_null(souk_config_new((const struct souk_config_def *[]){bad_default, NULL},
				    err, sizeof(err)));
	assert_string_equal(err,
			    "config table: default of \"q.size\": must be an integer "
			    "between 20 and 30, got \"10\"");
	assert_null(souk_config_new((const struct souk_config_def *[]){no_default, NULL},
				    err, sizeof(err)));
	assert_string_equal(err, "config table: \"q.size\" has no default");
}

/* Runs print into a memory stream and returns the text (static buffer). */
static const char *
capture(void (*print)(void *arg, FILE *out), void *arg)
{
	static char text[4096];
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	print(arg, out);
	fclose(out);
	snprintf(text, sizeof(text), "%s", buf);
	free(buf);
	return text;
}

static void
print_help(void *arg, FILE *out)
{
	souk_config_help(arg, out);
}

static void
print_dump(void *arg, FILE *out)
{
	souk_config_dump(arg, out);
}

static void
test_help(void **state)
{
	const char *help = capture(print_help, (void *)tables);

	(void)state;
	assert_non_null(
	    strstr(help, "  kafka.brokers (string, default \"127.0.0.1:19092\", env "
			 "SOUK_KAFKA_BROKERS)\n      Kafka brokers as "));
	assert_non_null(strstr(help, "  log.level (string, default \"info\", one of "
				     "debug|info|warn|error, env SOUK_LOG_LEVEL)\n"));
	assert_non_null(
	    strstr(help, "  http.port (int, default \"8080\", 1..65535)\n      port\n"));
	assert_non_null(strstr(help, "  worker.ratio (double, default \"0.5\", 0..1)\n"));
	assert_non_null(
	    strstr(help, "  worker.poll (duration, default \"100ms\", 1ms..60000ms, "
			 "env SOUK_TEST_POLL)\n"));
	assert_non_null(strstr(help, "  pg.password (string)\n      no default\n"));
}

static void
test_dump_shows_source_and_masks_passwords(void **state)
{
	struct souk_config *cfg = *state;
	const char *sets[] = {"pg.password=hunter2", "kafka.sasl.password=swordfish",
			      "http.port=81"};
	const char *dump;

	setenv("SOUK_LOG_LEVEL", "warn", 1);
	assert_int_equal(souk_config_load(cfg, write_conf("worker.ratio = 0.25\n"), 3,
					  sets, err, sizeof(err)),
			 0);
	dump = capture(print_dump, cfg);
	assert_non_null(strstr(dump, "kafka.brokers = 127.0.0.1:19092  (default)\n"));
	assert_non_null(strstr(dump, "log.level = warn  (env)\n"));
	assert_non_null(strstr(dump, "worker.ratio = 0.25  (file)\n"));
	assert_non_null(strstr(dump, "http.port = 81  (cli)\n"));
	assert_non_null(strstr(dump, "pg.password = ****  (cli)\n"));
	assert_non_null(strstr(dump, "kafka.sasl.password = ****  (cli)\n"));
	assert_null(strstr(dump, "hunter2"));
	assert_null(strstr(dump, "swordfish"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_layers_cli_over_file_over_env, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_file_syntax, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_unknown_key_names_file_and_line,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_bad_value_names_key_and_bounds,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_line_without_equals, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_error_names_variable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_env_of_tool_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_typed_values_and_bounds, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_kafka_pass_through, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_help, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dump_shows_source_and_masks_passwords,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
