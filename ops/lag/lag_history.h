/*
 * lag_history: per consumer group, its last passes' totals — what the dashboard's
 * lag-over-time charts draw. Memory: cap points of 32 bytes per group seen in the last
 * cap passes; a group that no pass has seen for cap passes is dropped. Used by one
 * thread.
 */
#ifndef LAG_HISTORY_H
#define LAG_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "lag_sample.h"
#include "lag_status.h"

struct lag_history;

/* A history of at most cap (>= 1) points per group. NULL when out of memory. */
struct lag_history *lag_history_new(size_t cap);
void lag_history_destroy(struct lag_history *h);

/*
 * Appends a point to each group of pass (sorted by group, as lag_sampler_pass gives
 * it): the pass's sample time (its newest row's), the group's total lag, its largest
 * lag in seconds (-1 when no partition's is known) and its status over statuses
 * (statuses[i] is row i's). Returns 0, or -1 when out of memory (the history is left
 * as it was, minus any group dropped). O(rows + groups x log).
 */
int lag_history_push(struct lag_history *h, const struct lag_sample_pass *pass,
		     const enum lag_status *statuses);

/* {"groups": [{"group", "t_ms": [...], "lag": [...], "lag_seconds": [...],
 * "status": [...]}]}, oldest point first, groups by name, unknown figures null.
 * Returns a malloc'd NUL-terminated string (the caller's), or NULL when out of
 * memory. */
char *lag_history_json(const struct lag_history *h);

#endif
