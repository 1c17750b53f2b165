/*
 * souk_progress: a one-line progress bar on a terminal, for long command-line work.
 *
 *   [##########----------]  52%  520000/1000000 lines  181.2K/s  eta 3s
 *
 * Without a known total it shows the count and the rate. Drawn on stderr, and only when
 * stderr is a terminal, at most every 100 ms: souk_progress_update is cheap enough to
 * call per item (a clock read every 1024 calls). Not thread-safe: one owner.
 */
#ifndef SOUK_PROGRESS_H
#define SOUK_PROGRESS_H

#include <stdint.h>

struct souk_progress;

/* total: the amount at 100% (bytes, lines...), 0 when unknown; unit names the count
 * shown ("lines"). Returns NULL when stderr is not a terminal (every call then accepts
 * NULL and does nothing) or out of memory. */
struct souk_progress *souk_progress_new(uint64_t total, const char *unit);

/* done: the amount so far; count: the items so far, shown with their rate. */
void souk_progress_update(struct souk_progress *p, uint64_t done, uint64_t count);

/* Draws the final state and ends the line. Frees p. */
void souk_progress_finish(struct souk_progress *p, uint64_t done, uint64_t count);

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double souk_progress_now(void);

#endif
