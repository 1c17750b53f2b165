#include "souk_config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Prefix of the keys passed to librdkafka unvalidated when no table defines them. */
#define PASS_THROUGH_PREFIX "kafka."

const struct souk_config_def souk_config_common[] = {
    {.name = "kafka.brokers",
     .type = SOUK_CONFIG_STRING,
     .def = "127.0.0.1:19092",
     .env = "SOUK_KAFKA_BROKERS",
     .help =
	 "Kafka brokers as host:port[,host:port...] (librdkafka's bootstrap.servers)"},
    {.name = "pg.dsn",
     .type = SOUK_CONFIG_STRING,
     .def = "host=127.0.0.1 port=15432 dbname=souk user=souk",
     .env = "SOUK_PG_DSN",
     .help = "PostgreSQL connection string (libpq keyword=value or URI)"},
    {.name = "redis.url",
     .type = SOUK_CONFIG_STRING,
     .def = "redis://127.0.0.1:16379/0",
     .env = "SOUK_REDIS_URL",
     .help = "Redis server as redis://host:port/db"},
    {.name = "log.level",
     .type = SOUK_CONFIG_STRING,
     .def = "info",
     .choices = "debug|info|warn|error",
     .env = "SOUK_LOG_LEVEL",
     .help = "lowest level of the log lines written to stderr"},
    {.name = "http.listen",
     .type = SOUK_CONFIG_STRING,
     .def = "127.0.0.1:0",
     .help = "status server address (/metrics, /healthz, /readyz) as host:port; port 0 "
	     "picks a free port"},
    {.name = NULL},
};

enum source { SOURCE_DEFAULT, SOURCE_ENV, SOURCE_FILE, SOURCE_CLI };

static const char *const source_names[] = {"default", "env", "file", "cli"};

static const char *const type_names[] = {"string", "int", "bool", "double", "duration"};

union value {
	long long i; /* int, and duration in ms */
	double d;
	int b;
};

/* A table key and its current value. */
struct entry {
	const struct souk_config_def *def;
	char *text; /* the value as given; NULL only for a string without value */
	union value value;
	enum source source;
};

/* A pass-through key, not in any table. */
struct extra {
	char *name;
	char *value;
	enum source source;
};

struct souk_config {
	struct entry *entries; /* every table key, in table order */
	size_t n_entries;
	struct extra *extras; /* in the order first set */
	size_t n_extras;
};

/* Parses "500ms", "5s", "2m", "1h" or "250" (ms) into *ms. Returns 0 or -1. */
static int
parse_duration(const char *text, long long *ms)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end;
	long long n;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (n > LLONG_MAX / units[i].ms)
				return -1;
			*ms = n * units[i].ms;
			return 0;
		}
	}
	return -1;
}

static int
parse_bool(const char *text, int *b)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
			*b = strcmp(text, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

/* Is text one of the '|'-separated choices? */
static int
is_choice(const char *choices, const char *text)
{
	size_t len = strlen(text);

	for (const char *p = choices;; p++) {
		if (strncmp(p, text, len) == 0 && (p[len] == '|' || p[len] == '\0'))
			return 1;
		p = strchr(p, '|');
		if (p == NULL)
			return 0;
	}
}

static int
bounded(const struct souk_config_def *def)
{
	return def->min < def->max;
}

/* Parses text as a value of def into *value. Returns 0, or -1 with errstr filled:
 * "\"key\": must be ..., got \"text\"". */
static int
parse_value(const struct souk_config_def *def, const char *text, union value *value,
	    char *errstr, size_t errstr_size)
{
	char *end;

	errno = 0;
	switch (def->type) {
	case SOUK_CONFIG_STRING:
		if (def->choices == NULL || is_choice(def->choices, text))
			return 0;
		snprintf(errstr, errstr_size, "\"%s\": must be one of %s, got \"%s\"",
			 def->name, def->choices, text);
		return -1;
	case SOUK_CONFIG_INT:
		value->i = strtoll(text, &end, 10);
		if (*text != '\0' && *end == '\0' && errno == 0 &&
		    (!bounded(def) || (value->i >= def->min && value->i <= def->max)))
			return 0;
		if (bounded(def))
			snprintf(errstr, errstr_size,
				 "\"%s\": must be an integer between %.0f and %.0f, got "
				 "\"%s\"",
				 def->name, def->min, def->max, text);
		else
			snprintf(errstr, errstr_size,
				 "\"%s\": must be an integer, got \"%s\"", def->name,
				 text);
		return -1;
	case SOUK_CONFIG_BOOL:
		if (parse_bool(text, &value->b) == 0)
			return 0;
		snprintf(
		    errstr, errstr_size,
		    "\"%s\": must be true, false, yes, no, on, off, 1 or 0, got \"%s\"",
		    def->name, text);
		return -1;
	case SOUK_CONFIG_DOUBLE:
		value->d = strtod(text, &end);
		if (*text != '\0' && *end == '\0' && isfinite(value->d) &&
		    (!bounded(def) || (value->d >= def->min && value->d <= def->max)))
			return 0;
		if (bounded(def))
			snprintf(errstr, errstr_size,
				 "\"%s\": must be a number between %g and %g, got \"%s\"",
				 def->name, def->min, def->max, text);
		else
			snprintf(errstr, errstr_size,
				 "\"%s\": must be a number, got \"%s\"", def->name, text);
		return -1;
	case SOUK_CONFIG_DURATION_MS:
		if (parse_duration(text, &value->i) == 0 &&
		    (!bounded(def) || (value->i >= def->min && value->i <= def->max)))
			return 0;
		if (bounded(def))
			snprintf(errstr, errstr_size,
				 "\"%s\": must be a duration (500ms, 5s, 2m, 1h) between "
				 "%.0fms and %.0fms, got \"%s\"",
				 def->name, def->min, def->max, text);
		else
			snprintf(
			    errstr, errstr_size,
			    "\"%s\": must be a duration (500ms, 5s, 2m, 1h), got \"%s\"",
			    def->name, text);
		return -1;
	}
	snprintf(errstr, errstr_size, "\"%s\": unknown type %d", def->name,
		 (int)def->type);
	return -1;
}

/* O(keys). */
static struct entry *
find_entry(const struct souk_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n_entries; i++) {
		if (strcmp(cfg->entries[i].def->name, key) == 0)
			return &cfg->entries[i];
	}
	return NULL;
}

static int
set_extra(struct souk_config *cfg, const char *key, const char *value, enum source source,
	  char *errstr, size_t errstr_size)
{
	struct extra *extra = NULL;
	struct extra *grown;
	char *copy = strdup(value);

	if (copy == NULL)
		goto oom;
	for (size_t i = 0; i < cfg->n_extras; i++) {
		if (strcmp(cfg->extras[i].name, key) == 0)
			extra = &cfg->extras[i];
	}
	if (extra == NULL) {
		grown = realloc(cfg->extras, (cfg->n_extras + 1) * sizeof(*grown));
		if (grown == NULL)
			goto oom;
		cfg->extras = grown;
		extra = &cfg->extras[cfg->n_extras];
		extra->name = strdup(key);
		if (extra->name == NULL)
			goto oom;
		extra->value = NULL;
		cfg->n_extras++;
	}
	free(extra->value);
	extra->value = copy;
	extra->source = source;
	return 0;
oom:
	free(copy);
	snprintf(errstr, errstr_size, "could not set \"%s\": out of memory", key);
	return -1;
}

static int
set_value(struct souk_config *cfg, const char *key, const char *value, enum source source,
	  char *errstr, size_t errstr_size)
{
	struct entry *entry = find_entry(cfg, key);
	union value parsed;
	char *copy;

	if (entry == NULL) {
		if (strncmp(key, PASS_THROUGH_PREFIX, strlen(PASS_THROUGH_PREFIX)) == 0 &&
		    key[strlen(PASS_THROUGH_PREFIX)] != '\0')
			return set_extra(cfg, key, value, source, errstr, errstr_size);
		snprintf(errstr, errstr_size, "unknown key \"%s\"", key);
		return -1;
	}
	if (parse_value(entry->def, value, &parsed, errstr, errstr_size) != 0)
		return -1;
	copy = strdup(value);
	if (copy == NULL) {
		snprintf(errstr, errstr_size, "could not set \"%s\": out of memory", key);
		return -1;
	}
	free(entry->text);
	entry->text = copy;
	entry->value = parsed;
	entry->source = source;
	return 0;
}

int
souk_config_set(struct souk_config *cfg, const char *key, const char *value, char *errstr,
		size_t errstr_size)
{
	return set_value(cfg, key, value, SOURCE_CLI, errstr, errstr_size);
}

/* Checks one definition against those before it (O(keys) each, so O(keys^2) for the
 * tables: run once at start) and applies its default. */
static int
add_entry(struct souk_config *cfg, const struct souk_config_def *def, char *errstr,
	  size_t errstr_size)
{
	struct entry *entry = &cfg->entries[cfg->n_entries];

	if (def->name[0] == '\0') {
		snprintf(errstr, errstr_size, "config table: empty key");
		return -1;
	}
	if (find_entry(cfg, def->name) != NULL) {
		snprintf(errstr, errstr_size, "config table: duplicate key \"%s\"",
			 def->name);
		return -1;
	}
	if (def->def == NULL && def->type != SOUK_CONFIG_STRING) {
		snprintf(errstr, errstr_size, "config table: \"%s\" has no default",
			 def->name);
		return -1;
	}
	entry->def = def;
	entry->source = SOURCE_DEFAULT;
	cfg->n_entries++;
	if (def->def == NULL)
		return 0;
	if (set_value(cfg, def->name, def->def, SOURCE_DEFAULT, errstr, errstr_size) !=
	    0) {
		/* Keep the message, say where it comes from. */
		char why[256];

		snprintf(why, sizeof(why), "%s", errstr);
		snprintf(errstr, errstr_size, "config table: default of %s", why);
		return -1;
	}
	return 0;
}

struct souk_config *
souk_config_new(const struct souk_config_def *const *tables, char *errstr,
		size_t errstr_size)
{
	struct souk_config *cfg = calloc(1, sizeof(*cfg));
	size_t n = 0;

	if (cfg == NULL)
		goto oom;
	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const struct souk_config_def *def = tables[t]; def->name != NULL;
		     def++)
			n++;
	}
	cfg->entries = calloc(n > 0 ? n : 1, sizeof(*cfg->entries));
	if (cfg->entries == NULL)
		goto oom;
	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const struct souk_config_def *def = tables[t]; def->name != NULL;
		     def++) {
			if (add_entry(cfg, def, errstr, errstr_size) != 0)
				goto fail;
		}
	}
	return cfg;
oom:
	snprintf(errstr, errstr_size, "could not create config: out of memory");
fail:
	souk_config_destroy(cfg);
	return NULL;
}

void
souk_config_destroy(struct souk_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_entries; i++)
		free(cfg->entries[i].text);
	free(cfg->entries);
	for (size_t i = 0; i < cfg->n_extras; i++) {
		free(cfg->extras[i].name);
		free(cfg->extras[i].value);
	}
	free(cfg->extras);
	free(cfg);
}

/* Applies the environment variables of the table keys; an empty variable counts as
 * unset. */
static int
load_env(struct souk_config *cfg, char *errstr, size_t errstr_size)
{
	char why[512];

	for (size_t i = 0; i < cfg->n_entries; i++) {
		const struct souk_config_def *def = cfg->entries[i].def;
		const char *value = def->env != NULL ? getenv(def->env) : NULL;

		if (value == NULL || value[0] == '\0')
			continue;
		if (set_value(cfg, def->name, value, SOURCE_ENV, why, sizeof(why)) != 0) {
			snprintf(errstr, errstr_size, "environment %s: %s", def->env,
				 why);
			return -1;
		}
	}
	return 0;
}

/* Strips leading and trailing blanks in place; returns the start. */
static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && strchr(" \t\r\n", end[-1]) != NULL)
		end--;
	*end = '\0';
	return s;
}

static int
load_file(struct souk_config *cfg, const char *path, char *errstr, size_t errstr_size)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t line_size = 0;
	unsigned lineno = 0;
	char why[512];
	int rc = -1;

	if (f == NULL) {
		snprintf(errstr, errstr_size, "could not open config file \"%s\": %s",
			 path, strerror(errno));
		goto out;
	}
	while (getline(&line, &line_size, f) >= 0) {
		char *text = trim(line);
		char *eq = strchr(text, '=');

		lineno++;
		if (text[0] == '\0' || text[0] == '#')
			continue;
		if (eq == NULL || eq == text) {
			snprintf(errstr, errstr_size,
				 "%s:%u: expected \"key = value\", got \"%s\"", path,
				 lineno, text);
			goto out;
		}
		*eq = '\0';
		if (set_value(cfg, trim(text), trim(eq + 1), SOURCE_FILE, why,
			      sizeof(why)) != 0) {
			snprintf(errstr, errstr_size, "%s:%u: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(errstr, errstr_size, "could not read config file \"%s\": %s",
			 path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	if (f != NULL)
		fclose(f);
	return rc;
}

static int
load_sets(struct souk_config *cfg, int n_sets, const char *const *sets, char *errstr,
	  size_t errstr_size)
{
	char why[512];

	for (int i = 0; i < n_sets; i++) {
		const char *eq = strchr(sets[i], '=');
		char *key;
		int rc;

		if (eq == NULL || eq == sets[i]) {
			snprintf(errstr, errstr_size,
				 "command line: expected key=value, got \"%s\"", sets[i]);
			return -1;
		}
		key = strndup(sets[i], (size_t)(eq - sets[i]));
		if (key == NULL) {
			snprintf(errstr, errstr_size, "command line: out of memory");
			return -1;
		}
		rc = set_value(cfg, key, eq + 1, SOURCE_CLI, why, sizeof(why));
		free(key);
		if (rc != 0) {
			snprintf(errstr, errstr_size, "command line: %s", why);
			return -1;
		}
	}
	return 0;
}

int
souk_config_load(struct souk_config *cfg, const char *path, int n_sets,
		 const char *const *sets, char *errstr, size_t errstr_size)
{
	if (load_env(cfg, errstr, errstr_size) != 0)
		return -1;
	if (path != NULL && load_file(cfg, path, errstr, errstr_size) != 0)
		return -1;
	return load_sets(cfg, n_sets, sets, errstr, errstr_size);
}

/* The entry of key, which must be a table key of type. */
static const struct entry *
typed_entry(const struct souk_config *cfg, const char *key, enum souk_config_type type)
{
	const struct entry *entry = find_entry(cfg, key);

	assert(entry != NULL && entry->def->type == type);
	return entry != NULL && entry->def->type == type ? entry : NULL;
}

const char *
souk_config_get_string(const struct souk_config *cfg, const char *key)
{
	const struct entry *entry = typed_entry(cfg, key, SOUK_CONFIG_STRING);

	return entry != NULL ? entry->text : NULL;
}

long long
souk_config_get_int(const struct souk_config *cfg, const char *key)
{
	const struct entry *entry = typed_entry(cfg, key, SOUK_CONFIG_INT);

	return entry != NULL ? entry->value.i : 0;
}

int
souk_config_get_bool(const struct souk_config *cfg, const char *key)
{
	const struct entry *entry = typed_entry(cfg, key, SOUK_CONFIG_BOOL);

	return entry != NULL ? entry->value.b : 0;
}

double
souk_config_get_double(const struct souk_config *cfg, const char *key)
{
	const struct entry *entry = typed_entry(cfg, key, SOUK_CONFIG_DOUBLE);

	return entry != NULL ? entry->value.d : 0;
}

long long
souk_config_get_duration_ms(const struct souk_config *cfg, const char *key)
{
	const struct entry *entry = typed_entry(cfg, key, SOUK_CONFIG_DURATION_MS);

	return entry != NULL ? entry->value.i : 0;
}

int
souk_config_foreach_prefix(const struct souk_config *cfg, const char *prefix,
			   souk_config_foreach_cb *cb, void *opaque)
{
	size_t len = strlen(prefix);

	for (size_t i = 0; i < cfg->n_extras; i++) {
		const struct extra *extra = &cfg->extras[i];
		int rc;

		if (strncmp(extra->name, prefix, len) != 0)
			continue;
		rc = cb(extra->name + len, extra->value, opaque);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void
souk_config_help(const struct souk_config_def *const *tables, FILE *out)
{
	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const struct souk_config_def *def = tables[t]; def->name != NULL;
		     def++) {
			fprintf(out, "  %s (%s", def->name, type_names[def->type]);
			if (def->def != NULL)
				fprintf(out, ", default \"%s\"", def->def);
			if (def->choices != NULL)
				fprintf(out, ", one of %s", def->choices);
			if (bounded(def) && def->type == SOUK_CONFIG_DOUBLE)
				fprintf(out, ", %g..%g", def->min, def->max);
			else if (bounded(def) && def->type == SOUK_CONFIG_DURATION_MS)
				fprintf(out, ", %.0fms..%.0fms", def->min, def->max);
			else if (bounded(def))
				fprintf(out, ", %.0f..%.0f", def->min, def->max);
			if (def->env != NULL)
				fprintf(out, ", env %s", def->env);
			fprintf(out, ")\n      %s\n", def->help != NULL ? def->help : "");
		}
	}
}

static const char *
shown(const char *key, const char *value)
{
	return strstr(key, "password") != NULL ? "****" : value;
}

void
souk_config_dump(const struct souk_config *cfg, FILE *out)
{
	for (size_t i = 0; i < cfg->n_entries; i++) {
		const struct entry *entry = &cfg->entries[i];

		if (entry->text == NULL)
			fprintf(out, "%s unset\n", entry->def->name);
		else
			fprintf(out, "%s = %s  (%s)\n", entry->def->name,
				shown(entry->def->name, entry->text),
				source_names[entry->source]);
	}
	for (size_t i = 0; i < cfg->n_extras; i++) {
		const struct extra *extra = &cfg->extras[i];

		fprintf(out, "%s = %s  (%s)\n", extra->name,
			shown(extra->name, extra->value), source_names[extra->source]);
	}
}
