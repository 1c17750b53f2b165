/* souk_metrics: exact exposition text, escaping, histogram buckets, registration
 * errors and exact sums under concurrent updates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "souk_metrics.h"

static char err[256];

static int
setup(void **state)
{
	*state = souk_metrics_new();
	return *state != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	souk_metrics_destroy(*state);
	return 0;
}

/* Renders reg and compares with expected; the caller frees nothing. */
static void
assert_render(struct souk_metrics *reg, const char *expected)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(souk_metrics_render(reg, &text, &len, err, sizeof(err)), 0);
	assert_string_equal(text, expected);
	assert_int_equal(len, strlen(expected));
	free(text);
}

static void
test_render_counter_and_gauge(void **state)
{
	struct souk_metrics *reg = *state;
	struct souk_metrics_family *events;
	struct souk_metrics_family *lag;
	struct souk_metrics_family *up;

	events = souk_metrics_register_counter(
	    reg, "souk_events_total", "Events consumed.",
	    (const char *[]){"topic", "result", NULL}, err, sizeof(err));
	assert_non_null(events);
	lag = souk_metrics_register_gauge(reg, "souk_consumer_lag", "Messages behind.",
					  (const char *[]){"partition", NULL}, err,
					  sizeof(err));
	assert_non_null(lag);
	up = souk_metrics_register_gauge(reg, "souk_up", "1 while running.", NULL, err,
					 sizeof(err));
	assert_non_null(up);

	souk_metrics_counter_add(
	    souk_metrics_series(events, (const char *[]){"orders", "ok"}), 3);
	souk_metrics_counter_add(
	    souk_metrics_series(events, (const char *[]){"orders", "rejected"}), 1);
	souk_metrics_counter_add(
	    souk_metrics_series(events, (const char *[]){"orders", "ok"}), 2);
	souk_metrics_gauge_set(souk_metrics_series(lag, (const char *[]){"0"}), 120);
	souk_metrics_gauge_add(souk_metrics_series(lag, (const char *[]){"0"}), -20.5);
	souk_metrics_gauge_set(souk_metrics_series(lag, (const char *[]){"1"}), 0.1);

	assert_render(reg, "# HELP souk_events_total Events consumed.\n"
			   "# TYPE souk_events_total counter\n"
			   "souk_events_total{topic=\"orders\",result=\"ok\"} 5\n"
			   "souk_events_total{topic=\"orders\",result=\"rejected\"} 1\n"
			   "# HELP souk_consumer_lag Messages behind.\n"
			   "# TYPE souk_consumer_lag gauge\n"
			   "souk_consumer_lag{partition=\"0\"} 99.5\n"
			   "souk_consumer_lag{partition=\"1\"} 0.1\n"
			   "# HELP souk_up 1 while running.\n"
			   "# TYPE souk_up gauge\n"
			   "souk_up 0\n");
}

static void
test_same_labels_same_series(void **state)
{
	struct souk_metrics_family *f;

	f = souk_metrics_register_counter(*state, "c_total", "c",
					  (const char *[]){"k", NULL}, err, sizeof(err));
	assert_non_null(f);
	assert_ptr_equal(souk_metrics_series(f, (const char *[]){"a"}),
			 souk_metrics_series(f, (const char *[]){"a"}));
	assert_ptr_not_equal(souk_metrics_series(f, (const char *[]){"a"}),
			     souk_metrics_series(f, (const char *[]){"b"}));
}

static void
test_escaping(void **state)
{
	struct souk_metrics_family *f;

	f = souk_metrics_register_counter(
	    *state, "souk_dlq_total",
	    "Events sent to the DLQ.\nReason is a \"label\" \\ text.",
	    (const char *[]){"reason", NULL}, err, sizeof(err));
	assert_non_null(f);
	souk_metrics_counter_add(
	    souk_metrics_series(f, (const char *[]){"bad \"json\"\nat C:\\x"}), 1);

	assert_render(
	    *state,
	    "# HELP souk_dlq_total Events sent to the DLQ.\\nReason is a \"label\" "
	    "\\\\ text.\n"
	    "# TYPE souk_dlq_total counter\n"
	    "souk_dlq_total{reason=\"bad \\\"json\\\"\\nat C:\\\\x\"} 1\n");
}

static void
test_special_values(void **state)
{
	struct souk_metrics_family *f;

	f = souk_metrics_register_gauge(*state, "g", "", (const char *[]){"v", NULL}, err,
					sizeof(err));
	assert_non_null(f);
	souk_metrics_gauge_set(souk_metrics_series(f, (const char *[]){"inf"}), INFINITY);
	souk_metrics_gauge_set(souk_metrics_series(f, (const char *[]){"-inf"}),
			       -INFINITY);
	souk_metrics_gauge_set(souk_metrics_series(f, (const char *[]){"nan"}), NAN);
	souk_metrics_gauge_set(souk_metrics_series(f, (const char *[]){"big"}), 1e21);
	souk_metrics_gauge_set(souk_metrics_series(f, (const char *[]){"third"}),
			       1.0 / 3);

	assert_render(*state, "# HELP g \n"
			      "# TYPE g gauge\n"
			      "g{v=\"inf\"} +Inf\n"
			      "g{v=\"-inf\"} -Inf\n"
			      "g{v=\"nan\"} NaN\n"
			      "g{v=\"big\"} 1e+21\n"
			      "g{v=\"third\"} 0.33333333333333331\n");
}

static void
test_histogram_buckets(void **state)
{
	static const double bounds[] = {0.1, 1, 2.5};
	struct souk_metrics_family *f;
	struct souk_metrics_series *orders;

	f = souk_metrics_register_histogram(
	    *state, "souk_handle_seconds", "Handling time.",
	    (const char *[]){"pool", NULL}, bounds, 3, err, sizeof(err));
	assert_non_null(f);
	orders = souk_metrics_series(f, (const char *[]){"inventory"});
	/* 0.1 lands in le="0.1": bounds are inclusive. */
	souk_metrics_histogram_observe(orders, 0.05);
	souk_metrics_histogram_observe(orders, 0.1);
	souk_metrics_histogram_observe(orders, 0.5);
	souk_metrics_histogram_observe(orders, 7);

	assert_render(*state,
		      "# HELP souk_handle_seconds Handling time.\n"
		      "# TYPE souk_handle_seconds histogram\n"
		      "souk_handle_seconds_bucket{pool=\"inventory\",le=\"0.1\"} 2\n"
		      "souk_handle_seconds_bucket{pool=\"inventory\",le=\"1\"} 3\n"
		      "souk_handle_seconds_bucket{pool=\"inventory\",le=\"2.5\"} 3\n"
		      "souk_handle_seconds_bucket{pool=\"inventory\",le=\"+Inf\"} 4\n"
		      "souk_handle_seconds_sum{pool=\"inventory\"} 7.65\n"
		      "souk_handle_seconds_count{pool=\"inventory\"} 4\n");
}

static void
test_histogram_without_labels_renders_zero(void **state)
{
	static const double bounds[] = {0.005};

	assert_non_null(souk_metrics_register_histogram(*state, "h", "h.", NULL, bounds,
							1, err, sizeof(err)));
	assert_render(*state, "# HELP h h.\n"
			      "# TYPE h histogram\n"
			      "h_bucket{le=\"0.005\"} 0\n"
			      "h_bucket{le=\"+Inf\"} 0\n"
			      "h_sum 0\n"
			      "h_count 0\n");
}

static void
test_registration_errors(void **state)
{
	struct souk_metrics *reg = *state;
	static const double unordered[] = {1, 0.5};

	struct souk_metrics_family *ok =
	    souk_metrics_register_counter(reg, "ok_total", "", NULL, err, sizeof(err));

	assert_non_null(ok);
	/* The same definition again is the same family; another one is refused. */
	assert_ptr_equal(souk_metrics_register_counter(reg, "ok_total", "again", NULL,
						       err, sizeof(err)),
			 ok);
	assert_null(
	    souk_metrics_register_gauge(reg, "ok_total", "", NULL, err, sizeof(err)));
	assert_string_equal(err, "metric \"ok_total\" is already registered with another "
				 "type, labels or buckets");
	assert_null(souk_metrics_register_counter(
	    reg, "ok_total", "", (const char *const[]){"x", NULL}, err, sizeof(err)));

	assert_null(
	    souk_metrics_register_counter(reg, "1bad", "", NULL, err, sizeof(err)));
	assert_string_equal(err, "invalid metric name \"1bad\"");
	assert_null(
	    souk_metrics_register_counter(reg, "has-dash", "", NULL, err, sizeof(err)));
	assert_string_equal(err, "invalid metric name \"has-dash\"");

	assert_null(souk_metrics_register_counter(
	    reg, "x_total", "", (const char *[]){"__reserved", NULL}, err, sizeof(err)));
	assert_string_equal(err, "metric \"x_total\": invalid label name \"__reserved\"");
	assert_null(souk_metrics_register_counter(
	    reg, "x_total", "", (const char *[]){"a:b", NULL}, err, sizeof(err)));
	assert_string_equal(err, "metric \"x_total\": invalid label name \"a:b\"");
	assert_null(souk_metrics_register_histogram(
	    reg, "h", "", (const char *[]){"le", NULL}, unordered, 0, err, sizeof(err)));
	assert_string_equal(err, "metric \"h\": invalid label name \"le\"");
	assert_null(souk_metrics_register_histogram(reg, "h", "", NULL, unordered, 2, err,
						    sizeof(err)));
	assert_string_equal(
	    err, "histogram \"h\": bucket bounds must be finite and strictly increasing");

	/* Failed registrations leave nothing behind. */
	assert_render(reg, "# HELP ok_total \n# TYPE ok_total counter\nok_total 0\n");
}

#define THREADS 4
#define ROUNDS 100000

struct shared {
	struct souk_metrics_family *counter;
	struct souk_metrics_series *total; /* resolved once, as a hot path would */
	struct souk_metrics_series *gauge;
	struct souk_metrics_series *histogram;
};

static void *
hammer(void *arg)
{
	struct shared *shared = arg;

	for (int i = 0; i < ROUNDS; i++) {
		souk_metrics_counter_add(shared->total, 1);
		/* Looked up every time, created by whichever thread comes first. */
		souk_metrics_counter_add(
		    souk_metrics_series(shared->counter,
					(const char *[]){i % 2 == 0 ? "even" : "odd"}),
		    2);
		souk_metrics_gauge_add(shared->gauge, 1);
		souk_metrics_histogram_observe(shared->histogram, i % 2 == 0 ? 0.5 : 2);
	}
	return NULL;
}

static void
test_concurrent_updates_sum_exactly(void **state)
{
	struct souk_metrics *reg = *state;
	static const double bounds[] = {1};
	struct shared shared;
	pthread_t threads[THREADS];

	shared.counter = souk_metrics_register_counter(
	    reg, "hits_total", "", (const char *[]){"kind", NULL}, err, sizeof(err));
	assert_non_null(shared.counter);
	shared.total = souk_metrics_series(shared.counter, (const char *[]){"all"});
	shared.gauge = souk_metrics_series(
	    souk_metrics_register_gauge(reg, "inflight", "", NULL, err, sizeof(err)),
	    NULL);
	shared.histogram =
	    souk_metrics_series(souk_metrics_register_histogram(
				    reg, "size", "", NULL, bounds, 1, err, sizeof(err)),
				NULL);
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, hammer, &shared), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);

	/* 4 threads x 100000 rounds: even and odd rounds are 200000 each. */
	assert_render(reg, "# HELP hits_total \n"
			   "# TYPE hits_total counter\n"
			   "hits_total{kind=\"all\"} 400000\n"
			   "hits_total{kind=\"even\"} 400000\n"
			   "hits_total{kind=\"odd\"} 400000\n"
			   "# HELP inflight \n"
			   "# TYPE inflight gauge\n"
			   "inflight 400000\n"
			   "# HELP size \n"
			   "# TYPE size histogram\n"
			   "size_bucket{le=\"1\"} 200000\n"
			   "size_bucket{le=\"+Inf\"} 400000\n"
			   "size_sum 500000\n"
			   "size_count 400000\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_render_counter_and_gauge, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_same_labels_same_series, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_special_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_histogram_buckets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_histogram_without_labels_renders_zero,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_registration_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_updates_sum_exactly, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
