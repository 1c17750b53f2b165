/*
 * psp_timer: callbacks fire after their delay, in deadline order whatever the order
 * added; draining fires the pending ones at once, and later ones too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "psp_timer.h"

/* What fired, in order, and when. */
struct fired {
	pthread_mutex_t mutex;
	char order[16];
	size_t n;
	struct timespec at[16];
};

static struct fired fired = {.mutex = PTHREAD_MUTEX_INITIALIZER};

struct mark {
	char name;
};

static void
on_fire(void *arg)
{
	const struct mark *m = arg;

	pthread_mutex_lock(&fired.mutex);
	clock_gettime(CLOCK_MONOTONIC, &fired.at[fired.n]);
	fired.order[fired.n++] = m->name;
	pthread_mutex_unlock(&fired.mutex);
}

static size_t
fired_count(void)
{
	size_t n;

	pthread_mutex_lock(&fired.mutex);
	n = fired.n;
	pthread_mutex_unlock(&fired.mutex);
	return n;
}

/* Waits up to 2 s for n callbacks. */
static void
wait_fired(size_t n)
{
	for (int i = 0; i < 200 && fired_count() < n; i++)
		usleep(10 * 1000);
	assert_int_equal(fired_count(), n);
}

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int
reset(void **state)
{
	(void)state;
	memset(fired.order, 0, sizeof(fired.order));
	fired.n = 0;
	return 0;
}

static void
test_fires_in_deadline_order_after_the_delay(void **state)
{
	static struct mark a = {'a'}, b = {'b'}, c = {'c'}, d = {'d'};
	char err[128];
	struct psp_timer *t = psp_timer_new(err, sizeof(err));
	struct timespec start;

	(void)state;
	assert_non_null(t);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(psp_timer_add(t, 120, on_fire, &c), 0);
	assert_int_equal(psp_timer_add(t, 40, on_fire, &a), 0);
	assert_int_equal(psp_timer_add(t, 80, on_fire, &b), 0);
	assert_int_equal(psp_timer_add(t, 80, on_fire, &d), 0); /* a tie: after b */
	usleep(20 * 1000);
	assert_int_equal(fired_count(), 0);
	wait_fired(4);
	assert_string_equal(fired.order, "abdc");
	assert_true(ms_between(&start, &fired.at[0]) >= 40);
	assert_true(ms_between(&start, &fired.at[3]) >= 120);
	psp_timer_destroy(t);
}

static void
test_drain_fires_everything_at_once(void **state)
{
	static struct mark a = {'a'}, b = {'b'}, c = {'c'};
	char err[128];
	struct psp_timer *t = psp_timer_new(err, sizeof(err));
	struct timespec start;

	(void)state;
	assert_non_null(t);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(psp_timer_add(t, 60000, on_fire, &a), 0);
	assert_int_equal(psp_timer_add(t, 30000, on_fire, &b), 0);
	psp_timer_drain(t);
	wait_fired(2);
	assert_string_equal(fired.order, "ba");
	assert_int_equal(psp_timer_add(t, 60000, on_fire, &c), 0);
	wait_fired(3);
	assert_true(ms_between(&start, &fired.at[2]) < 1000);
	psp_timer_destroy(t);
}

static void
test_destroy_fires_what_is_pending(void **state)
{
	static struct mark a = {'a'};
	char err[128];
	struct psp_timer *t = psp_timer_new(err, sizeof(err));

	(void)state;
	assert_non_null(t);
	assert_int_equal(psp_timer_add(t, 60000, on_fire, &a), 0);
	psp_timer_destroy(t);
	assert_int_equal(fired_count(), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_fires_in_deadline_order_after_the_delay, reset),
	    cmocka_unit_test_setup(test_drain_fires_everything_at_once, reset),
	    cmocka_unit_test_setup(test_destroy_fires_what_is_pending, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
