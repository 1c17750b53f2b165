/* souk_metrics: counters, gauges and histograms, rendered in the Prometheus text
 * exposition format 0.0.4.
 *
 * A registry holds families (one metric name with its type, help and label names);
 * a family holds series (one set of label values), and a series is what the hot path
 * updates:
 *
 *   fam = souk_metrics_register_counter(reg, "souk_events_total", "Events consumed.",
 *                                       (const char *[]){"topic", NULL}, err,
 * sizeof(err)); orders = souk_metrics_series(fam, (const char *[]){"orders"});   // once,
 * at start souk_metrics_counter_add(orders, 1);                            // per event
 *
 * Cost: an update is one relaxed atomic operation on the series (a compare-and-swap
 * loop for double gauges and histogram sums), with no lock. Looking a series up takes
 * the registry mutex and is O(series in the family x labels), so resolve series once
 * and keep the handle where the label values are known in advance.
 *
 * Thread-safety: everything may be called from any thread. Families and series live
 * until souk_metrics_destroy(); their handles stay valid until then. A render reads
 * each value atomically but not all of them at one instant: a histogram's _sum may
 * trail its buckets by an observation in flight (its _count is always the +Inf
 * bucket). */
#ifndef SOUK_METRICS_H
#define SOUK_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct souk_metrics;
struct souk_metrics_family;
struct souk_metrics_series;

/* NULL when out of memory. */
struct souk_metrics *souk_metrics_new(void);
void souk_metrics_destroy(struct souk_metrics *reg);

/* Register a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]*; registering a name
 * again with the same type, label names and buckets returns the family registered
 * first (its help stays), with another definition it is an error. label_names is a NULL-terminated array (NULL for no labels) of names
 * matching [a-zA-Z_][a-zA-Z0-9_]* that do not begin with "__". help may be NULL.
 * Strings are copied. A family without labels gets its one series at once, so it
 * renders 0 before its first update. Returns the family, owned by the registry, or
 * NULL with errstr filled. */
struct souk_metrics_family *
souk_metrics_register_counter(struct souk_metrics *reg, const char *name,
			      const char *help, const char *const *label_names,
			      char *errstr, size_t errstr_size);
struct souk_metrics_family *souk_metrics_register_gauge(struct souk_metrics *reg,
							const char *name,
							const char *help,
							const char *const *label_names,
							char *errstr, size_t errstr_size);
/* bounds: the upper bounds of the buckets, finite and strictly increasing; the +Inf
 * bucket is implicit. The label name "le" is reserved. */
struct souk_metrics_family *
souk_metrics_register_histogram(struct souk_metrics *reg, const char *name,
				const char *help, const char *const *label_names,
				const double *bounds, size_t n_bounds, char *errstr,
				size_t errstr_size);

/* The series of family with these label values (one per label name, in the order of
 * the names; NULL for a family without labels), created on first use. Values are
 * copied. NULL only when out of memory. The series is owned by the registry. */
struct souk_metrics_series *souk_metrics_series(struct souk_metrics_family *family,
						const char *const *label_values);

/* Updates. The series must belong to a family of the matching type. */
void souk_metrics_counter_add(struct souk_metrics_series *series, uint64_t n);
void souk_metrics_gauge_set(struct souk_metrics_series *series, double value);
void souk_metrics_gauge_add(struct souk_metrics_series *series, double delta);
void souk_metrics_histogram_observe(struct souk_metrics_series *series, double value);

/* Renders every family, in registration order, each series in creation order, into
 * a NUL-terminated malloc'd *text of *len bytes; ownership of *text moves to the
 * caller (free()). Returns 0, or -1 with errstr filled when out of memory. Cost:
 * O(series x buckets), under the registry mutex (series creation waits). */
int souk_metrics_render(struct souk_metrics *reg, char **text, size_t *len, char *errstr,
			size_t errstr_size);

#endif
