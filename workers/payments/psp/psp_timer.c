#include "psp_timer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct psp_timer_entry {
	struct timespec deadline; /* CLOCK_MONOTONIC */
	uint64_t seq;		  /* the order added, for ties */
	psp_timer_cb *cb;
	void *arg;
};

struct psp_timer {
	pthread_t thread;
	pthread_mutex_t mutex;
	pthread_cond_t
	    cond; /* on CLOCK_MONOTONIC; signalled on an earlier head, drain, stop */
	struct psp_timer_entry *heap; /* a binary min-heap on (deadline, seq) */
	size_t n, cap;
	uint64_t seq;
	bool draining, stopping;
};

static bool
psp_timer_before(const struct psp_timer_entry *a, const struct psp_timer_entry *b)
{
	if (a->deadline.tv_sec != b->deadline.tv_sec)
		return a->deadline.tv_sec < b->deadline.tv_sec;
	if (a->deadline.tv_nsec != b->deadline.tv_nsec)
		return a->deadline.tv_nsec < b->deadline.tv_nsec;
	return a->seq < b->seq;
}

static void
psp_timer_swap(struct psp_timer *t, size_t i, size_t j)
{
	struct psp_timer_entry e = t->heap[i];

	t->heap[i] = t->heap[j];
	t->heap[j] = e;
}

/* Removes the head into *out. */
static void
psp_timer_pop(struct psp_timer *t, struct psp_timer_entry *out)
{
	size_t i = 0;

	*out = t->heap[0];
	t->heap[0] = t->heap[--t->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < t->n && psp_timer_before(&t->heap[l], &t->heap[m]))
			m = l;
		if (r < t->n && psp_timer_before(&t->heap[r], &t->heap[m]))
			m = r;
		if (m == i)
			return;
		psp_timer_swap(t, i, m);
		i = m;
	}
}

static bool
psp_timer_due(const struct psp_timer *t, const struct timespec *now)
{
	const struct timespec *d = &t->heap[0].deadline;

	return t->draining || d->tv_sec < now->tv_sec ||
	       (d->tv_sec == now->tv_sec && d->tv_nsec <= now->tv_nsec);
}

static void *
psp_timer_main(void *arg)
{
	struct psp_timer *t = arg;
	struct psp_timer_entry e;
	struct timespec now;

	pthread_mutex_lock(&t->mutex);
	for (;;) {
		if (t->n == 0) {
			if (t->stopping)
				break;
			pthread_cond_wait(&t->cond, &t->mutex);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!psp_timer_due(t, &now)) {
			pthread_cond_timedwait(&t->cond, &t->mutex, &t->heap[0].deadline);
			continue;
		}
		psp_timer_pop(t, &e);
		pthread_mutex_unlock(&t->mutex);
		e.cb(e.arg);
		pthread_mutex_lock(&t->mutex);
	}
	pthread_mutex_unlock(&t->mutex);
	return NULL;
}

struct psp_timer *
psp_timer_new(char *errstr, size_t errstr_size)
{
	struct psp_timer *t = calloc(1, sizeof(*t));
	pthread_condattr_t attr;

	if (!t) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->mutex, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&t->thread, NULL, psp_timer_main, t)) {
		snprintf(errstr, errstr_size, "could not start the timer thread");
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->mutex);
		free(t);
		return NULL;
	}
	return t;
}

void
psp_timer_destroy(struct psp_timer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mutex);
	t->draining = t->stopping = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->mutex);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->mutex);
	free(t->heap);
	free(t);
}

int
psp_timer_add(struct psp_timer *t, int64_t delay_ms, psp_timer_cb *cb, void *arg)
{
	struct psp_timer_entry e = {.cb = cb, .arg = arg};
	size_t i;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &e.deadline);
	e.deadline.tv_sec += delay_ms / 1000;
	e.deadline.tv_nsec += (delay_ms % 1000) * 1000000;
	if (e.deadline.tv_nsec >= 1000000000) {
		e.deadline.tv_sec++;
		e.deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&t->mutex);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct psp_timer_entry *heap = realloc(t->heap, cap * sizeof(*heap));

		if (!heap)
			goto out;
		t->heap = heap;
		t->cap = cap;
	}
	e.seq = t->seq++;
	i = t->n++;
	t->heap[i] = e;
	for (; i > 0 && psp_timer_before(&t->heap[i], &t->heap[(i - 1) / 2]);
	     i = (i - 1) / 2)
		psp_timer_swap(t, i, (i - 1) / 2);
	if (i == 0) /* a new head: the thread may be waiting for a later one */
		pthread_cond_signal(&t->cond);
	rc = 0;
out:
	pthread_mutex_unlock(&t->mutex);
	return rc;
}

void
psp_timer_drain(struct psp_timer *t)
{
	pthread_mutex_lock(&t->mutex);
	t->draining = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->mutex);
}
