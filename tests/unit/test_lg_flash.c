#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

#include "lg_flash.h"
#include "lg_time.h"
#include "souk_event.h"

#define MAX_LINES 4096

/* A generated sale: its bytes, split into lines, and the run's own numbers. */
struct sale {
	char *buf;
	size_t len;
	char *lines[MAX_LINES];
	size_t nlines;
	struct lg_flash_stats stats;
	long long counts[SOUK_EVENT_TYPE_COUNT];
	struct lg_run run;
};

static const struct lg_flash_opts small = {
    .users = 200,
    .skus = 5,
    .stock = 20,
    .limit = 2,
    .orders = 500,
    .zipf_s = 1.1,
    .retry_share = 0.2,
    .greedy_share = 0.05,
    .invalid_share = 0.02,
};

static void
generate(struct sale *s, const struct lg_flash_opts *o, uint64_t seed, long long max)
{
	FILE *f = open_memstream(&s->buf, &s->len);
	char err[256];
	struct lg_out *out;
	int64_t start;
	char *line, *save = NULL;

	memset(s, 0, sizeof(*s));
	assert_non_null(f);
	assert_int_equal(lg_time_parse(LG_TIME_DEFAULT_START, &start, err, sizeof(err)),
			 0);
	lg_run_init(&s->run, seed, start, "loadgen-test");
	out = lg_out_new_stream(f, max, err, sizeof(err));
	assert_non_null(out);
	assert_int_equal(lg_flash_run(&s->run, o, out, &s->stats, err, sizeof(err)), 0);
	assert_int_equal(lg_out_finish(out, err, sizeof(err)), 0);
	for (int t = 0; t < SOUK_EVENT_TYPE_COUNT; t++)
		s->counts[t] = lg_out_count(out, t);
	lg_out_destroy(out);
	assert_int_equal(fclose(f), 0);
	/* The split copy: buf keeps the bytes for comparisons. */
	line = strdup(s->buf);
	assert_non_null(line);
	for (char *l = strtok_r(line, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		assert_true(s->nlines < MAX_LINES);
		s->lines[s->nlines++] = l;
	}
}

static void
sale_free(struct sale *s)
{
	if (s->nlines > 0)
		free(s->lines[0]);
	free(s->buf);
}

/* The number after the last '-' of an id such as u-1a2b3c4d-17. */
static long
id_number(const char *id)
{
	return strtol(strrchr(id, '-') + 1, NULL, 10);
}

/* Every line decodes, except the invalid share, which fails on qty alone and
 * keeps its envelope and key: what the pool needs to answer "rejected:
 * invalid". */
static void
test_every_line_decodes(void **state)
{
	struct sale s;
	long invalid = 0;

	(void)state;
	generate(&s, &small, 1, 0);
	for (size_t i = 0; i < s.nlines; i++) {
		souk_event_t ev;
		souk_event_error_t err;
		souk_event_status_t st =
		    souk_event_decode(s.lines[i], strlen(s.lines[i]), &ev, &err);

		if (st == SOUK_EVENT_EFIELD) {
			assert_int_equal(ev.type, SOUK_EVENT_TYPE_ORDER);
			assert_string_equal(err.field, "qty");
			assert_true(ev.key_valid);
			invalid++;
			continue;
		}
		if (st != SOUK_EVENT_OK)
			fail_msg("line %zu: %s: %s", i + 1, souk_event_status_name(st),
				 err.message);
		assert_string_equal(ev.client_id, "loadgen-test");
	}
	assert_int_equal(invalid, 10); /* floor(500 * 0.02) */
	assert_int_equal(s.stats.invalid, 10);
	sale_free(&s);
}

/* One stock_set per SKU first, then exactly --orders orders, then the retries.
 */
static void
test_counts_match_the_options(void **state)
{
	struct sale s;

	(void)state;
	generate(&s, &small, 1, 0);
	for (size_t i = 0; i < 5; i++) {
		souk_event_t ev;
		souk_event_error_t err;
		char sku[32];

		assert_int_equal(
		    souk_event_decode(s.lines[i], strlen(s.lines[i]), &ev, &err),
		    SOUK_EVENT_OK);
		assert_int_equal(ev.type, SOUK_EVENT_TYPE_STOCK_SET);
		snprintf(sku, sizeof(sku), "SKU-%s-%zu", s.run.tag, i + 1);
		assert_string_equal(ev.stock_set.sku, sku);
		assert_int_equal(ev.stock_set.stock, 20);
		assert_int_equal(ev.stock_set.limit_per_user, 2);
	}
	assert_int_equal(s.counts[SOUK_EVENT_TYPE_STOCK_SET], 5);
	assert_int_equal(s.stats.orders, 500);
	assert_int_equal(s.stats.retries, llround(0.2 * (double)s.stats.accepted));
	assert_true(s.stats.retries > 0);
	assert_int_equal(s.counts[SOUK_EVENT_TYPE_ORDER], 500 + s.stats.retries);
	assert_int_equal(s.nlines, 5 + 500 + s.stats.retries);
	sale_free(&s);
}

/*
 * Replays the sale the way the inventory pool must decide it (per SKU in stream
 * order: accept while stock lasts and the user stays within the limit; a
 * repeated order_id gets no second decision) and checks the generator's
 * forecast and its retries: each retry repeats an accepted order byte for byte
 * but for ts, and every retry comes after the last new order.
 */
static void
test_retries_repeat_accepted_orders_after_the_rest(void **state)
{
	static souk_event_t first[501]; /* by order number */
	static char accepted[501];
	static int bought[201][6]; /* [user][sku] units accepted */
	long stock[6] = {0, 20, 20, 20, 20, 20};
	long n_accepted = 0, units = 0, retries = 0;
	size_t last_new = 0, first_retry = 0;
	struct sale s;

	(void)state;
	generate(&s, &small, 1, 0);
	for (size_t i = 5; i < s.nlines; i++) {
		souk_event_t ev;
		souk_event_error_t err;
		long n, u, k;

		if (souk_event_decode(s.lines[i], strlen(s.lines[i]), &ev, &err) !=
		    SOUK_EVENT_OK)
			continue; /* an invalid order */
		n = id_number(ev.order.order_id);
		u = id_number(ev.order.user_id);
		k = id_number(ev.order.sku);
		assert_string_equal(ev.idempotency_key, ev.order.order_id);
		if (first[n].type == SOUK_EVENT_TYPE_NONE) {
			first[n] = ev;
			last_new = i;
			if (stock[k] >= ev.order.qty &&
			    bought[u][k] + ev.order.qty <= 2) {
				stock[k] -= ev.order.qty;
				bought[u][k] += ev.order.qty;
				accepted[n] = 1;
				n_accepted++;
				units += ev.order.qty;
			}
			continue;
		}
		assert_true(accepted[n]);
		assert_true(strcmp(ev.ts, first[n].ts) > 0);
		memcpy(ev.ts, first[n].ts, sizeof(ev.ts));
		assert_memory_equal(&ev, &first[n], sizeof(ev));
		if (retries++ == 0)
			first_retry = i;
	}
	assert_int_equal(n_accepted, s.stats.accepted);
	assert_int_equal(units, s.stats.units_sold);
	assert_int_equal(retries, s.stats.retries);
	assert_true(first_retry > last_new);
	sale_free(&s);
}

/* Greedy users (u-<tag>-1 .. u-<tag>-10 here) order past the limit; nobody else
 * does. */
static void
test_only_greedy_users_exceed_the_limit(void **state)
{
	static int ordered[201][6];
	static char seen[501];
	long greedy_over = 0;
	struct sale s;

	(void)state;
	generate(&s, &small, 1, 0);
	for (size_t i = 5; i < s.nlines; i++) {
		souk_event_t ev;
		souk_event_error_t err;
		long n;

		if (souk_event_decode(s.lines[i], strlen(s.lines[i]), &ev, &err) !=
		    SOUK_EVENT_OK)
			continue;
		n = id_number(ev.order.order_id);
		if (seen[n]++)
			continue; /* a retry is not a new order */
		ordered[id_number(ev.order.user_id)][id_number(ev.order.sku)] +=
		    ev.order.qty;
	}
	for (int u = 1; u <= 200; u++) {
		for (int k = 1; k <= 5; k++) {
			if (u > 10)
				assert_in_range(ordered[u][k], 0, 2);
			else
				greedy_over += ordered[u][k] > 2;
		}
	}
	assert_true(greedy_over > 0);
	sale_free(&s);
}

/* Same seed: same bytes; another seed: other bytes and other ids; a cap: a
 * prefix. */
static void
test_seed_replays_and_count_cuts(void **state)
{
	struct sale a, b, c, d;

	(void)state;
	generate(&a, &small, 7, 0);
	generate(&b, &small, 7, 0);
	generate(&c, &small, 8, 0);
	generate(&d, &small, 7, 100);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	assert_string_not_equal(a.run.tag, c.run.tag);
	assert_null(strstr(c.buf, a.run.tag));
	assert_int_equal(d.nlines, 100);
	assert_true(d.len < a.len);
	assert_memory_equal(a.buf, d.buf, d.len);
	assert_int_equal(d.stats.orders, 95);
	sale_free(&a);
	sale_free(&b);
	sale_free(&c);
	sale_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_line_decodes),
	    cmocka_unit_test(test_counts_match_the_options),
	    cmocka_unit_test(test_retries_repeat_accepted_orders_after_the_rest),
	    cmocka_unit_test(test_only_greedy_users_exceed_the_limit),
	    cmocka_unit_test(test_seed_replays_and_count_cuts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
