#include "souk_metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

struct souk_metrics_series {
	struct souk_metrics_family *family;
	char **label_values; /* family->n_labels copies */
	/* counter: the count; gauge: the bits of a double */
	_Atomic uint64_t value;
	/* histogram: family->n_bounds + 1 per-bucket counts, not cumulative (the last
	 * one is the +Inf bucket), and the bits of the double sum */
	_Atomic uint64_t *buckets;
	_Atomic uint64_t sum_bits;
	struct souk_metrics_series *next;
};

struct souk_metrics_family {
	struct souk_metrics *reg;
	enum metric_type type;
	char *name;
	char *help;
	char **label_names;
	size_t n_labels;
	double *bounds; /* histogram only: n_bounds finite, increasing upper bounds */
	size_t n_bounds;
	/* Append-only list in creation order, under reg->mutex. */
	struct souk_metrics_series *series;
	struct souk_metrics_series **series_tail;
	struct souk_metrics_family *next;
};

struct souk_metrics {
	/* Guards the family list and every family's series list (not the values,
	 * which are atomics). */
	pthread_mutex_t mutex;
	struct souk_metrics_family *families;
	struct souk_metrics_family **families_tail;
};

static uint64_t
double_bits(double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return bits;
}

static double
bits_double(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* Adds delta to the double stored as bits in *cell. Lock-free; retries while other
 * threads win the race. */
static void
atomic_add_double(_Atomic uint64_t *cell, double delta)
{
	uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
	    cell, &old, double_bits(bits_double(old) + delta), memory_order_relaxed,
	    memory_order_relaxed))
		;
}

struct souk_metrics *
souk_metrics_new(void)
{
	struct souk_metrics *reg = calloc(1, sizeof(*reg));

	if (reg == NULL)
		return NULL;
	pthread_mutex_init(&reg->mutex, NULL);
	reg->families_tail = &reg->families;
	return reg;
}

static void
free_strings(char **strings, size_t n)
{
	if (strings == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(strings[i]);
	free(strings);
}

static void
series_free(struct souk_metrics_series *series, size_t n_labels)
{
	free_strings(series->label_values, n_labels);
	free(series->buckets);
	free(series);
}

static void
family_free(struct souk_metrics_family *family)
{
	struct souk_metrics_series *next;

	for (struct souk_metrics_series *s = family->series; s != NULL; s = next) {
		next = s->next;
		series_free(s, family->n_labels);
	}
	free(family->name);
	free(family->help);
	free_strings(family->label_names, family->n_labels);
	free(family->bounds);
	free(family);
}

void
souk_metrics_destroy(struct souk_metrics *reg)
{
	struct souk_metrics_family *next;

	if (reg == NULL)
		return;
	for (struct souk_metrics_family *f = reg->families; f != NULL; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&reg->mutex);
	free(reg);
}

/* Prometheus: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
 * where those beginning with "__" are reserved. */
static int
valid_name(const char *name, int is_label)
{
	const char *punctuation = is_label ? "_" : "_:";

	if (*name == '\0' || (*name >= '0' && *name <= '9'))
		return 0;
	if (is_label && strncmp(name, "__", 2) == 0)
		return 0;
	for (const char *p = name; *p != '\0'; p++) {
		if ((*p < 'a' || *p > 'z') && (*p < 'A' || *p > 'Z') &&
		    (*p < '0' || *p > '9') && strchr(punctuation, *p) == NULL)
			return 0;
	}
	return 1;
}

/* Returns a new series of family with copies of label_values, not yet linked. */
static struct souk_metrics_series *
series_new(struct souk_metrics_family *family, const char *const *label_values)
{
	struct souk_metrics_series *series = calloc(1, sizeof(*series));

	if (series == NULL)
		return NULL;
	series->family = family;
	if (family->n_labels > 0) {
		series->label_values = calloc(family->n_labels, sizeof(char *));
		if (series->label_values == NULL)
			goto fail;
		for (size_t i = 0; i < family->n_labels; i++) {
			series->label_values[i] = strdup(label_values[i]);
			if (series->label_values[i] == NULL)
				goto fail;
		}
	}
	if (family->type == METRIC_HISTOGRAM) {
		series->buckets = calloc(family->n_bounds + 1, sizeof(*series->buckets));
		if (series->buckets == NULL)
			goto fail;
	}
	return series;
fail:
	series_free(series, family->n_labels);
	return NULL;
}

/* Whether a and b define the same family: type, label names, buckets. */
static int
family_same(const struct souk_metrics_family *a, const struct souk_metrics_family *b)
{
	if (a->type != b->type || a->n_labels != b->n_labels ||
	    a->n_bounds != b->n_bounds)
		return 0;
	for (size_t i = 0; i < a->n_labels; i++)
		if (strcmp(a->label_names[i], b->label_names[i]) != 0)
			return 0;
	for (size_t i = 0; i < a->n_bounds; i++)
		if (a->bounds[i] != b->bounds[i])
			return 0;
	return 1;
}

static struct souk_metrics_family *
register_family(struct souk_metrics *reg, enum metric_type type, const char *name,
		const char *help, const char *const *label_names, const double *bounds,
		size_t n_bounds, char *errstr, size_t errstr_size)
{
	struct souk_metrics_family *family = NULL;
	int locked = 0;

	if (!valid_name(name, 0)) {
		snprintf(errstr, errstr_size, "invalid metric name \"%s\"", name);
		goto fail;
	}
	for (size_t i = 0; label_names != NULL && label_names[i] != NULL; i++) {
		if (!valid_name(label_names[i], 1) ||
		    (type == METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0)) {
			snprintf(errstr, errstr_size,
				 "metric \"%s\": invalid label name \"%s\"", name,
				 label_names[i]);
			goto fail;
		}
	}
	for (size_t i = 0; i < n_bounds; i++) {
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
			snprintf(
			    errstr, errstr_size,
			    "histogram \"%s\": bucket bounds must be finite and strictly "
			    "increasing",
			    name);
			goto fail;
		}
	}

	family = calloc(1, sizeof(*family));
	if (family == NULL)
		goto oom;
	family->reg = reg;
	family->type = type;
	family->series_tail = &family->series;
	family->name = strdup(name);
	family->help = strdup(help != NULL ? help : "");
	if (family->name == NULL || family->help == NULL)
		goto oom;
	while (label_names != NULL && label_names[family->n_labels] != NULL)
		family->n_labels++;
	if (family->n_labels > 0) {
		family->label_names = calloc(family->n_labels, sizeof(char *));
		if (family->label_names == NULL)
			goto oom;
		for (size_t i = 0; i < family->n_labels; i++) {
			family->label_names[i] = strdup(label_names[i]);
			if (family->label_names[i] == NULL)
				goto oom;
		}
	}
	if (n_bounds > 0) {
		family->bounds = malloc(n_bounds * sizeof(double));
		if (family->bounds == NULL)
			goto oom;
		memcpy(family->bounds, bounds, n_bounds * sizeof(double));
		family->n_bounds = n_bounds;
	}
	if (family->n_labels == 0) {
		family->series = series_new(family, NULL);
		if (family->series == NULL)
			goto oom;
		family->series_tail = &family->series->next;
	}

	pthread_mutex_lock(&reg->mutex);
	locked = 1;
	for (struct souk_metrics_family *f = reg->families; f != NULL; f = f->next) {
		if (strcmp(f->name, name) != 0)
			continue;
		/* The same definition again (each thread of a pool registers its
		 * families): the family that exists. */
		if (family_same(f, family)) {
			pthread_mutex_unlock(&reg->mutex);
			family_free(family);
			return f;
		}
		snprintf(
		    errstr, errstr_size,
		    "metric \"%s\" is already registered with another type, labels or "
		    "buckets",
		    name);
		goto fail;
	}
	*reg->families_tail = family;
	reg->families_tail = &family->next;
	pthread_mutex_unlock(&reg->mutex);
	return family;
oom:
	snprintf(errstr, errstr_size, "could not register metric \"%s\": out of memory",
		 name);
fail:
	if (locked)
		pthread_mutex_unlock(&reg->mutex);
	if (family != NULL)
		family_free(family);
	return NULL;
}

struct souk_metrics_family *
souk_metrics_register_counter(struct souk_metrics *reg, const char *name,
			      const char *help, const char *const *label_names,
			      char *errstr, size_t errstr_size)
{
	return register_family(reg, METRIC_COUNTER, name, help, label_names, NULL, 0,
			       errstr, errstr_size);
}

struct souk_metrics_family *
souk_metrics_register_gauge(struct souk_metrics *reg, const char *name, const char *help,
			    const char *const *label_names, char *errstr,
			    size_t errstr_size)
{
	return register_family(reg, METRIC_GAUGE, name, help, label_names, NULL, 0,
			       errstr, errstr_size);
}

struct souk_metrics_family *
souk_metrics_register_histogram(struct souk_metrics *reg, const char *name,
				const char *help, const char *const *label_names,
				const double *bounds, size_t n_bounds, char *errstr,
				size_t errstr_size)
{
	return register_family(reg, METRIC_HISTOGRAM, name, help, label_names, bounds,
			       n_bounds, errstr, errstr_size);
}

static int
labels_equal(const struct souk_metrics_series *series, const char *const *label_values,
	     size_t n_labels)
{
	for (size_t i = 0; i < n_labels; i++) {
		if (strcmp(series->label_values[i], label_values[i]) != 0)
			return 0;
	}
	return 1;
}

struct souk_metrics_series *
souk_metrics_series(struct souk_metrics_family *family, const char *const *label_values)
{
	struct souk_metrics_series *series;

	assert(family->n_labels == 0 || label_values != NULL);
	pthread_mutex_lock(&family->reg->mutex);
	for (series = family->series; series != NULL; series = series->next) {
		if (labels_equal(series, label_values, family->n_labels))
			goto out;
	}
	series = series_new(family, label_values);
	if (series == NULL)
		goto out;
	*family->series_tail = series;
	family->series_tail = &series->next;
out:
	pthread_mutex_unlock(&family->reg->mutex);
	return series;
}

void
souk_metrics_counter_add(struct souk_metrics_series *series, uint64_t n)
{
	assert(series->family->type == METRIC_COUNTER);
	atomic_fetch_add_explicit(&series->value, n, memory_order_relaxed);
}

void
souk_metrics_gauge_set(struct souk_metrics_series *series, double value)
{
	assert(series->family->type == METRIC_GAUGE);
	atomic_store_explicit(&series->value, double_bits(value), memory_order_relaxed);
}

void
souk_metrics_gauge_add(struct souk_metrics_series *series, double delta)
{
	assert(series->family->type == METRIC_GAUGE);
	atomic_add_double(&series->value, delta);
}

/* O(buckets): a linear scan, cheaper than a binary search for the dozen bounds a
 * histogram usually has. NaN lands in the +Inf bucket. */
void
souk_metrics_histogram_observe(struct souk_metrics_series *series, double value)
{
	const struct souk_metrics_family *family = series->family;
	size_t i = 0;

	assert(family->type == METRIC_HISTOGRAM);
	while (i < family->n_bounds && !(value <= family->bounds[i]))
		i++;
	atomic_fetch_add_explicit(&series->buckets[i], 1, memory_order_relaxed);
	atomic_add_double(&series->sum_bits, value);
}

/* The shortest of %.15g and %.17g that reads back as the same double, so 0.1 renders
 * as "0.1"; Prometheus spells the specials +Inf, -Inf and NaN. */
static void
format_double(double value, char *buf, size_t size)
{
	if (isnan(value))
		snprintf(buf, size, "NaN");
	else if (isinf(value))
		snprintf(buf, size, "%s", value > 0 ? "+Inf" : "-Inf");
	else {
		snprintf(buf, size, "%.15g", value);
		if (strtod(buf, NULL) != value)
			snprintf(buf, size, "%.17g", value);
	}
}

/* Label values escape backslash, double quote and newline; help text escapes
 * backslash and newline (exposition format 0.0.4). */
static void
put_escaped(FILE *out, const char *text, int escape_quote)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", out);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '"' && escape_quote)
			fputs("\\\"", out);
		else
			fputc(*p, out);
	}
}

/* Writes name, then {labels} when there are any; le (may be NULL) is appended as the
 * last label of a histogram bucket. */
static void
put_sample_name(FILE *out, const struct souk_metrics_series *series, const char *suffix,
		const char *le)
{
	const struct souk_metrics_family *family = series->family;

	fprintf(out, "%s%s", family->name, suffix);
	if (family->n_labels == 0 && le == NULL)
		return;
	fputc('{', out);
	for (size_t i = 0; i < family->n_labels; i++) {
		fprintf(out, "%s%s=\"", i > 0 ? "," : "", family->label_names[i]);
		put_escaped(out, series->label_values[i], 1);
		fputc('"', out);
	}
	if (le != NULL)
		fprintf(out, "%sle=\"%s\"", family->n_labels > 0 ? "," : "", le);
	fputc('}', out);
}

static void
put_histogram(FILE *out, const struct souk_metrics_series *series)
{
	const struct souk_metrics_family *family = series->family;
	uint64_t cumulative = 0;
	char number[32];

	for (size_t i = 0; i <= family->n_bounds; i++) {
		cumulative +=
		    atomic_load_explicit(&series->buckets[i], memory_order_relaxed);
		if (i < family->n_bounds)
			format_double(family->bounds[i], number, sizeof(number));
		else
			snprintf(number, sizeof(number), "+Inf");
		put_sample_name(out, series, "_bucket", number);
		fprintf(out, " %" PRIu64 "\n", cumulative);
	}
	format_double(
	    bits_double(atomic_load_explicit(&series->sum_bits, memory_order_relaxed)),
	    number, sizeof(number));
	put_sample_name(out, series, "_sum", NULL);
	fprintf(out, " %s\n", number);
	put_sample_name(out, series, "_count", NULL);
	fprintf(out, " %" PRIu64 "\n", cumulative);
}

static void
put_family(FILE *out, const struct souk_metrics_family *family)
{
	char number[32];

	fprintf(out, "# HELP %s ", family->name);
	put_escaped(out, family->help, 0);
	fprintf(out, "\n# TYPE %s %s\n", family->name, type_names[family->type]);
	for (const struct souk_metrics_series *s = family->series; s != NULL;
	     s = s->next) {
		uint64_t value = atomic_load_explicit(&s->value, memory_order_relaxed);

		switch (family->type) {
		case METRIC_COUNTER:
			put_sample_name(out, s, "", NULL);
			fprintf(out, " %" PRIu64 "\n", value);
			break;
		case METRIC_GAUGE:
			format_double(bits_double(value), number, sizeof(number));
			put_sample_name(out, s, "", NULL);
			fprintf(out, " %s\n", number);
			break;
		case METRIC_HISTOGRAM:
			put_histogram(out, s);
			break;
		}
	}
}

int
souk_metrics_render(struct souk_metrics *reg, char **text, size_t *len, char *errstr,
		    size_t errstr_size)
{
	FILE *out;
	int rc = -1;

	*text = NULL;
	out = open_memstream(text, len);
	if (out == NULL)
		goto out;
	pthread_mutex_lock(&reg->mutex);
	for (const struct souk_metrics_family *f = reg->families; f != NULL; f = f->next)
		put_family(out, f);
	pthread_mutex_unlock(&reg->mutex);
	rc = fclose(out) == 0 ? 0 : -1;
	if (rc != 0) {
		free(*text);
		*text = NULL;
	}
out:
	if (rc != 0)
		snprintf(errstr, errstr_size, "could not render metrics: out of memory");
	return rc;
}
