#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lg_heap.h"
#include "lg_rand.h"

struct item {
	struct lg_heap_key key;
	int id;
};

/* Thousands of items in random times, many sharing a millisecond: they come out
 * by time, and those of one millisecond in the order they went in. */
static void
test_pops_by_time_then_push_order(void **state)
{
	char err[128];
	struct lg_heap *h = lg_heap_new(sizeof(struct item), err, sizeof(err));
	struct lg_rand r;
	struct item it, prev = {{-1, 0}, -1};
	int last_id_at[100];
	int n = 0;

	(void)state;
	assert_non_null(h);
	assert_null(lg_heap_peek(h));
	lg_rand_seed(&r, 1, 0);
	for (int i = 0; i < 5000; i++) {
		it.key.t_ms = (int64_t)lg_rand_below(&r, 100);
		it.id = i;
		assert_int_equal(lg_heap_push(h, &it), 0);
	}
	memset(last_id_at, -1, sizeof(last_id_at));
	while (lg_heap_pop(h, &it)) {
		assert_true(it.key.t_ms >= prev.key.t_ms);
		assert_true(it.id > last_id_at[it.key.t_ms]);
		last_id_at[it.key.t_ms] = it.id;
		prev = it;
		n++;
	}
	assert_int_equal(n, 5000);
	assert_int_equal(lg_heap_pop(h, &it), 0);
	lg_heap_destroy(h);
	lg_heap_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pops_by_time_then_push_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
