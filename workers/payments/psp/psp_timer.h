/* psp_timer: callbacks run after a delay, on one thread of their own.
 *
 * The simulator's latency and timeouts are suspended HTTP requests, not sleeping
 * threads: each delayed answer is one timer whose callback resumes its connection, so
 * a thousand slow requests cost a thousand heap entries and no thread.
 *
 * Callbacks run one at a time on the timer thread, in deadline order (ties in the
 * order added); they must be quick and must not call back into the timer. Cost: adding
 * is O(log n) under a mutex, n the timers pending. Thread-safe. */
#ifndef PSP_TIMER_H
#define PSP_TIMER_H

#include <stddef.h>
#include <stdint.h>

typedef void psp_timer_cb(void *arg);

struct psp_timer;

/* Starts the thread. NULL with errstr filled when it cannot start. */
struct psp_timer *psp_timer_new(char *errstr, size_t errstr_size);

/* Fires what is pending at once, stops the thread and frees everything; NULL is fine. */
void psp_timer_destroy(struct psp_timer *t);

/* Runs cb(arg) on the timer thread delay_ms from now. Returns 0, or -1 when out of
 * memory (cb will then never run). */
int psp_timer_add(struct psp_timer *t, int64_t delay_ms, psp_timer_cb *cb, void *arg);

/* From now on every timer fires at once, those pending and those added later: for a
 * server that stops and wants every suspended request answered. */
void psp_timer_drain(struct psp_timer *t);

#endif
