/*
 * C11 <threads.h> on top of the pthread calls ThreadSanitizer intercepts; built only in
 * the TSan build (SOUK_TSAN) and linked into every target before librdkafka, so the
 * dynamic linker binds librdkafka's thrd_*, mtx_*, cnd_* and call_once to these.
 *
 * Why: librdkafka (Debian's 2.0.2) makes its threads, locks and condition variables with
 * the C11 calls, and glibc (>= 2.34) implements those by calling its internal
 * __pthread_* aliases, which TSan's interceptors (GCC 12's libtsan) never see. Without
 * this file a librdkafka thread is unknown to TSan and the process dies in TSan's
 * allocator on that thread's first malloc (SEGV in __tsan::user_alloc_internal under
 * rd_kafka's getaddrinfo), and librdkafka's mutexes order nothing in TSan's eyes, so
 * every buffer handed across its queues would be reported as a race.
 *
 * These are the calls librdkafka.so.1 imports (nm -D), but thrd_current, which orders
 * nothing and stays glibc's. Each does what glibc's own does (nptl/thrd_create.c,
 * mtx_*.c, cnd_*.c: the C11 objects have the pthread objects' layout, the error codes
 * map the same way), through the public, intercepted entry points. Compiled without
 * -fsanitize=thread, so TSan treats the locks' own memory as it treats librdkafka's
 * (ignore_noninstrumented_modules, tests/tsan/suppressions.txt) and keeps their ordering.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

/* glibc's mapping of a pthread error code to a C11 result (thrd_err_map in nptl). */
static int
c11_status(int err)
{
	switch (err) {
	case 0:
		return thrd_success;
	case ENOMEM:
		return thrd_nomem;
	case EBUSY:
		return thrd_busy;
	case ETIMEDOUT:
		return thrd_timedout;
	default:
		return thrd_error;
	}
}

/* ---- threads ------------------------------------------------------------------- */

/* What the new thread runs; it owns and frees the start (allocated by thrd_create). */
struct c11_start {
	thrd_start_t func;
	void *arg;
};

static void *
c11_thread_main(void *opaque)
{
	struct c11_start start = *(struct c11_start *)opaque;

	free(opaque);
	return (void *)(intptr_t)start.func(start.arg);
}

int
thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
	struct c11_start *start = malloc(sizeof(*start));

	if (!start)
		return thrd_nomem;
	start->func = func;
	start->arg = arg;
	int err = pthread_create(thr, NULL, c11_thread_main, start);
	if (err)
		free(start);
	return c11_status(err);
}

int
thrd_join(thrd_t thr, int *res)
{
	void *ret;
	int err = pthread_join(thr, &ret);

	if (!err && res)
		*res = (int)(intptr_t)ret;
	return c11_status(err);
}

/* ---- mutexes ------------------------------------------------------------------- */

int
mtx_init(mtx_t *mtx, int type)
{
	pthread_mutexattr_t attr;
	int err = pthread_mutexattr_init(&attr);

	if (err)
		return c11_status(err);
	if (type & mtx_recursive)
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	err = pthread_mutex_init((pthread_mutex_t *)mtx, &attr);
	pthread_mutexattr_destroy(&attr);
	return c11_status(err);
}

int
mtx_lock(mtx_t *mtx)
{
	return c11_status(pthread_mutex_lock((pthread_mutex_t *)mtx));
}

int
mtx_unlock(mtx_t *mtx)
{
	return c11_status(pthread_mutex_unlock((pthread_mutex_t *)mtx));
}

void
mtx_destroy(mtx_t *mtx)
{
	pthread_mutex_destroy((pthread_mutex_t *)mtx);
}

/* ---- condition variables, once --------------------------------------------------- */

int
cnd_init(cnd_t *cond)
{
	return c11_status(pthread_cond_init((pthread_cond_t *)cond, NULL));
}

int
cnd_signal(cnd_t *cond)
{
	return c11_status(pthread_cond_signal((pthread_cond_t *)cond));
}

int
cnd_broadcast(cnd_t *cond)
{
	return c11_status(pthread_cond_broadcast((pthread_cond_t *)cond));
}

int
cnd_wait(cnd_t *cond, mtx_t *mtx)
{
	return c11_status(
	    pthread_cond_wait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx));
}

int
cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mtx,
	      const struct timespec *restrict ts)
{
	return c11_status(
	    pthread_cond_timedwait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx, ts));
}

void
cnd_destroy(cnd_t *cond)
{
	pthread_cond_destroy((pthread_cond_t *)cond);
}

void
call_once(once_flag *flag, void (*func)(void))
{
	pthread_once((pthread_once_t *)flag, func);
}
