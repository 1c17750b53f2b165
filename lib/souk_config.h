/* souk_config: one definition table drives defaults, parsing, validation, --help and
 * the debug dump.
 *
 * A tool lists its tables, the shared souk_config_common first:
 *
 *   static const struct souk_config_def worker_defs[] = {
 *           {.name = "worker.threads", .type = SOUK_CONFIG_INT, .def = "4",
 *            .min = 1, .max = 256, .help = "worker threads"},
 *           {.name = NULL},
 *   };
 *   const struct souk_config_def *tables[] = {souk_config_common, worker_defs, NULL};
 *   cfg = souk_config_new(tables, err, sizeof(err));
 *   souk_config_load(cfg, config_path, n_sets, sets, err, sizeof(err));
 *
 * Layers, later ones win: defaults < environment (def->env; an empty variable counts
 * as unset) < config file < command line (--set key=value items).
 *
 * The config file holds "key = value" lines; blank lines and lines whose first
 * non-blank character is '#' are skipped. The key and value are trimmed; the value is
 * everything after the first '=' (so pg.dsn = host=a port=1 works), with no inline
 * comments and no quoting.
 *
 * Keys beginning with "kafka." that are not in a table are kept unvalidated for
 * librdkafka (see souk_config_foreach_prefix); any other unknown key is an error.
 *
 * Thread-safety: load and set at start, from one thread; after that the handle is
 * read-only and the getters may be called from any thread. */
#ifndef SOUK_CONFIG_H
#define SOUK_CONFIG_H

#include <stdio.h>

enum souk_config_type {
	SOUK_CONFIG_STRING,
	SOUK_CONFIG_INT,	 /* long long, decimal */
	SOUK_CONFIG_BOOL,	 /* true|false|yes|no|on|off|1|0 */
	SOUK_CONFIG_DOUBLE,	 /* strtod syntax, finite */
	SOUK_CONFIG_DURATION_MS, /* integer with unit ms, s, m or h; no unit means ms */
};

/* One key. A table is an array ended by an entry whose name is NULL. */
struct souk_config_def {
	const char *name; /* dotted: "kafka.brokers" */
	enum souk_config_type type;
	/* The default, parsed like any other value; NULL means no value, which only a
	 * string may have (its getter then returns NULL). */
	const char *def;
	/* Inclusive bounds for int, double and duration (in ms) keys, checked when
	 * min < max; leave both 0 for no bounds. */
	double min;
	double max;
	/* String keys: the allowed values separated by '|' ("debug|info"), or NULL
	 * for any value. */
	const char *choices;
	const char *env; /* environment variable that sets the key, or NULL */
	const char *help;
};

/* kafka.brokers, pg.dsn, redis.url, log.level, http.listen. */
extern const struct souk_config_def souk_config_common[];

struct souk_config;

/* tables: NULL-terminated list of tables, borrowed: they must outlive the handle.
 * Checks the tables (unique names, valid defaults) and applies the defaults. Returns
 * NULL with errstr filled on a bad table or out of memory. */
struct souk_config *souk_config_new(const struct souk_config_def *const *tables,
				    char *errstr, size_t errstr_size);
void souk_config_destroy(struct souk_config *cfg);

/* Sets one key from text, validated against its definition. For a tool's own options
 * (--brokers): call it after souk_config_load, so that no layer overwrites it; the
 * dump shows it as coming from the command line. Errors read "unknown key \"x\"" or
 * "\"http.port\": must be an integer between 1 and 65535, got \"x\"". Returns 0, or
 * -1 with errstr filled and the old value kept. */
int souk_config_set(struct souk_config *cfg, const char *key, const char *value,
		    char *errstr, size_t errstr_size);

/* Applies the layers above the defaults in order: the environment variables of the
 * tables, then the file at path (NULL for none), then the n_sets "key=value" items of
 * sets (from --set / -X). Errors name where the value came from:
 * "config.conf:3: unknown key \"kafka_brokers\"", "environment SOUK_LOG_LEVEL: ...",
 * "command line: ...". Returns 0, or -1 with errstr filled (the handle then holds
 * the layers applied so far). */
int souk_config_load(struct souk_config *cfg, const char *path, int n_sets,
		     const char *const *sets, char *errstr, size_t errstr_size);

/* Typed getters. key must be a table key of that type (checked by assert): asking
 * for anything else is a bug in the caller. Cost: O(keys), a scan of the table. The
 * string stays owned by cfg, valid until that key is set again or cfg is destroyed. */
const char *souk_config_get_string(const struct souk_config *cfg, const char *key);
long long souk_config_get_int(const struct souk_config *cfg, const char *key);
int souk_config_get_bool(const struct souk_config *cfg, const char *key);
double souk_config_get_double(const struct souk_config *cfg, const char *key);
long long souk_config_get_duration_ms(const struct souk_config *cfg, const char *key);

/* Return 0 to go on, anything else to stop: souk_config_foreach_prefix returns it. */
typedef int souk_config_foreach_cb(const char *name, const char *value, void *opaque);

/* Calls cb for each pass-through key (one not in the tables) beginning with prefix,
 * in the order first set, with the prefix stripped: "kafka.linger.ms=5" gives
 * ("linger.ms", "5"), ready for rd_kafka_conf_set(). Table keys are never yielded:
 * in particular kafka.brokers is souk's name, which the caller maps to librdkafka's
 * bootstrap.servers itself. Returns 0 or the first non-zero value of cb. */
int souk_config_foreach_prefix(const struct souk_config *cfg, const char *prefix,
			       souk_config_foreach_cb *cb, void *opaque);

/* For --help: each key with its type, default, bounds or choices, environment
 * variable and help text. */
void souk_config_help(const struct souk_config_def *const *tables, FILE *out);

/* For debugging: "key = value  (source)" for every key, the source being default,
 * env, file or cli. Values of keys whose name contains "password" print as ****. */
void souk_config_dump(const struct souk_config *cfg, FILE *out);

#endif
