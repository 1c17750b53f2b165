#include "lag_window.h"

#include <stdlib.h>
#include <string.h>

struct lag_window {
	size_t cap, n;
	struct lag_sample *samples; /* cap of them: lag_window_rate's scratch space */
	struct lag_sample_pass passes[]; /* [0, n), oldest first */
};

struct lag_window *
lag_window_new(size_t cap)
{
	struct lag_window *w = calloc(1, sizeof(*w) + cap * sizeof(w->passes[0]));

	if (!w)
		return NULL;
	w->cap = cap;
	w->samples = calloc(cap, sizeof(*w->samples));
	if (!w->samples) {
		free(w);
		return NULL;
	}
	return w;
}

void
lag_window_destroy(struct lag_window *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		lag_sample_pass_clear(&w->passes[i]);
	free(w->samples);
	free(w);
}

void
lag_window_push(struct lag_window *w, struct lag_sample_pass *pass)
{
	if (w->n == w->cap) {
		lag_sample_pass_clear(&w->passes[0]);
		memmove(&w->passes[0], &w->passes[1], (w->n - 1) * sizeof(w->passes[0]));
		w->n--;
	}
	w->passes[w->n++] = *pass;
	*pass = (struct lag_sample_pass){.rows = NULL, .n = 0};
}

size_t
lag_window_count(const struct lag_window *w)
{
	return w->n;
}

const struct lag_sample_pass *
lag_window_last(const struct lag_window *w)
{
	return w->n ? &w->passes[w->n - 1] : NULL;
}

/* The row of pass with the key of row, or NULL. O(log rows): passes are sorted by
 * group, topic, partition. */
static const struct lag_sample_row *
lag_window_find(const struct lag_sample_pass *pass, const struct lag_sample_row *row)
{
	size_t lo = 0, hi = pass->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct lag_sample_row *r = &pass->rows[mid];
		int c = strcmp(r->group, row->group);

		if (!c)
			c = strcmp(r->topic, row->topic);
		if (!c)
			c = (r->partition > row->partition) -
			    (r->partition < row->partition);
		if (!c)
			return r;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t
lag_window_cap(const struct lag_window *w)
{
	return w->cap;
}

const struct lag_sample_row *
lag_window_oldest(const struct lag_window *w, const struct lag_sample_row *row)
{
	for (size_t p = 0; p < w->n; p++) {
		const struct lag_sample_row *r = lag_window_find(&w->passes[p], row);

		if (r && lag_sample_offset(r) >= 0)
			return r;
	}
	return NULL;
}

void
lag_window_rate(const struct lag_window *w, enum lag_status *statuses,
		enum lag_rule *rules)
{
	const struct lag_sample_pass *last = lag_window_last(w);

	for (size_t i = 0; last && i < last->n; i++) {
		size_t n = 0;

		for (size_t p = 0; p < w->n; p++) {
			const struct lag_sample_row *r =
			    lag_window_find(&w->passes[p], &last->rows[i]);

			if (r && lag_sample_offset(r) >= 0 && r->high >= 0)
				w->samples[n++] = (struct lag_sample){
				    .committed = lag_sample_offset(r),
				    .high = r->high,
				    .has_member = r->consumer_id[0] != 0,
				    .t_ms = r->t_ms};
		}
		statuses[i] = lag_status_eval(w->samples, n, &rules[i]);
	}
}
