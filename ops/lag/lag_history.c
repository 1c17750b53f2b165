#include "lag_history.h"

#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "lag_report.h"
#include "souk_json.h"

struct lag_history_point {
	int64_t t_ms, lag, lag_ms;
	enum lag_status status;
};

/* One group's points: a ring of cap, points[(first + i) % cap] the i-th oldest. */
struct lag_history_group {
	char name[LAG_SAMPLE_NAME_MAX];
	struct lag_history_point *points;
	size_t first, count;
	uint64_t last_push; /* the push that gave it its newest point */
};

/* Groups sorted by name. */
struct lag_history {
	size_t cap;
	struct lag_history_group *groups;
	size_t ngroups;
	uint64_t pushes;
};

struct lag_history *
lag_history_new(size_t cap)
{
	struct lag_history *h = calloc(1, sizeof(*h));

	if (h)
		h->cap = cap;
	return h;
}

void
lag_history_destroy(struct lag_history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->ngroups; i++)
		free(h->groups[i].points);
	free(h->groups);
	free(h);
}

/* The group named name, added in its sorted place if absent; NULL when out of
 * memory. O(groups). */
static struct lag_history_group *
lag_history_group(struct lag_history *h, const char *name)
{
	struct lag_history_group *groups, *g;
	size_t at = 0;
	int cmp = 1;

	while (at < h->ngroups && (cmp = strcmp(h->groups[at].name, name)) < 0)
		at++;
	if (at < h->ngroups && cmp == 0)
		return &h->groups[at];
	groups = realloc(h->groups, (h->ngroups + 1) * sizeof(*groups));
	if (!groups)
		return NULL;
	h->groups = groups;
	g = &groups[at];
	memmove(g + 1, g, (h->ngroups - at) * sizeof(*g));
	*g = (struct lag_history_group){.points = calloc(h->cap, sizeof(*g->points))};
	if (!g->points) {
		memmove(g, g + 1, (h->ngroups - at) * sizeof(*g));
		return NULL;
	}
	snprintf(g->name, sizeof(g->name), "%s", name);
	h->ngroups++;
	return g;
}

/* Drops the groups no push has seen for cap pushes. */
static void
lag_history_expire(struct lag_history *h)
{
	size_t kept = 0;

	for (size_t i = 0; i < h->ngroups; i++) {
		if (h->pushes - h->groups[i].last_push >= h->cap) {
			free(h->groups[i].points);
			continue;
		}
		h->groups[kept++] = h->groups[i];
	}
	h->ngroups = kept;
}

int
lag_history_push(struct lag_history *h, const struct lag_sample_pass *pass,
		 const enum lag_status *statuses)
{
	int64_t t_ms = 0;

	for (size_t i = 0; i < pass->n; i++)
		if (pass->rows[i].t_ms > t_ms)
			t_ms = pass->rows[i].t_ms;
	h->pushes++;
	for (size_t first = 0, end; first < pass->n; first = end) {
		struct lag_history_point p = {.t_ms = t_ms, .lag = -1, .lag_ms = -1};
		struct lag_history_group *g;

		end = lag_report_group_end(pass, first);
		p.status = lag_status_group(statuses + first, end - first);
		for (size_t i = first; i < end; i++) {
			int64_t lag = lag_sample_lag(&pass->rows[i]);
			int64_t lag_ms = lag_sample_lag_ms(&pass->rows[i]);

			if (lag >= 0)
				p.lag = (p.lag < 0 ? 0 : p.lag) + lag;
			if (lag_ms > p.lag_ms)
				p.lag_ms = lag_ms;
		}
		if (!(g = lag_history_group(h, pass->rows[first].group)))
			return -1;
		if (g->count < h->cap)
			g->points[(g->first + g->count++) % h->cap] = p;
		else
			g->points[g->first] = p, g->first = (g->first + 1) % h->cap;
		g->last_push = h->pushes;
	}
	lag_history_expire(h);
	return 0;
}

char *
lag_history_json(const struct lag_history *h)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	char *text = NULL;
	size_t len;

	if (!g)
		return NULL;
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "groups");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < h->ngroups; i++) {
		const struct lag_history_group *gr = &h->groups[i];
		static const char *const keys[] = {"t_ms", "lag", "lag_seconds", "status"};

		yajl_gen_map_open(g);
		souk_json_gen_str(g, "group");
		souk_json_gen_str(g, gr->name);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			souk_json_gen_str(g, keys[k]);
			yajl_gen_array_open(g);
			for (size_t j = 0; j < gr->count; j++) {
				const struct lag_history_point *p =
				    &gr->points[(gr->first + j) % h->cap];

				if (k == 0)
					yajl_gen_integer(g, p->t_ms);
				else if (k == 1)
					lag_report_gen_int_or_null(g, NULL, p->lag);
				else if (k == 2)
					lag_report_gen_seconds_or_null(g, NULL, p->lag_ms);
				else
					souk_json_gen_str(g, lag_status_name(p->status));
			}
			yajl_gen_array_close(g);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		text = strndup((const char *)buf, len);
	yajl_gen_free(g);
	return text;
}
