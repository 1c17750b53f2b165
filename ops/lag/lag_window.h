/*
 * lag_window: the last few sampling passes, oldest first, and each partition's status
 * over them by lag_status's rules. A window is used by one thread.
 */
#ifndef LAG_WINDOW_H
#define LAG_WINDOW_H

#include <stddef.h>

#include "lag_sample.h"
#include "lag_status.h"

struct lag_window;

/* A window of at most cap passes (cap >= 1). NULL when out of memory. */
struct lag_window *lag_window_new(size_t cap);
void lag_window_destroy(struct lag_window *w);

/* Appends *pass, dropping the oldest pass when full. The rows move into the window:
 * *pass is left empty. */
void lag_window_push(struct lag_window *w, struct lag_sample_pass *pass);

/* How many passes the window holds. */
size_t lag_window_count(const struct lag_window *w);

/* The newest pass, or NULL when there is none. */
const struct lag_sample_pass *lag_window_last(const struct lag_window *w);

/* The most passes the window holds. */
size_t lag_window_cap(const struct lag_window *w);

/* The oldest row in the window with row's key that has an offset (lag_sample_offset),
 * or NULL. O(passes x log rows). */
const struct lag_sample_row *lag_window_oldest(const struct lag_window *w,
					       const struct lag_sample_row *row);

/* The status (and rule) of each row of the newest pass over the window: statuses[i]
 * and rules[i] for row i. A partition's samples are its rows in each pass that had an
 * offset (lag_sample_offset) and a high watermark. O(rows x passes x log rows). */
void lag_window_rate(const struct lag_window *w, enum lag_status *statuses,
		     enum lag_rule *rules);

#endif
