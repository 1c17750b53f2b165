/*
 * inv_decide: see inv_decide.h.
 */
#include "inv_decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_uuid.h"

static const char *const inv_answer_names[INV_ANSWER_COUNT] = {
    [INV_ACCEPTED] = "accepted",
    [INV_SOLD_OUT] = "sold_out",
    [INV_LIMIT_EXCEEDED] = "limit_exceeded",
    [INV_INVALID] = "invalid",
};

const char *
inv_answer_name(enum inv_answer a)
{
	return inv_answer_names[a];
}

int
inv_answer_parse(const char *s, size_t len, enum inv_answer *out)
{
	for (int i = 0; i < INV_ANSWER_COUNT; i++) {
		if (strlen(inv_answer_names[i]) == len &&
		    memcmp(s, inv_answer_names[i], len) == 0) {
			*out = (enum inv_answer)i;
			return 0;
		}
	}
	return -1;
}

int
inv_answer_from_row(const char *status, const char *reason, enum inv_answer *out)
{
	if (strcmp(status, "accepted") == 0 && reason[0] == '\0') {
		*out = INV_ACCEPTED;
		return 0;
	}
	if (strcmp(status, "rejected") != 0 ||
	    inv_answer_parse(reason, strlen(reason), out))
		return -1;
	return *out == INV_ACCEPTED ? -1 : 0;
}

const char *
inv_answer_status(enum inv_answer a)
{
	return a == INV_ACCEPTED ? "accepted" : "rejected";
}

void
inv_decide_init(struct inv_order *ord, const struct souk_pool_event *src)
{
	*ord =
	    (struct inv_order){.src = src, .o = src->ev.order, .route = INV_ROUTE_GATE};
	souk_uuid_derive("inventory", ord->o.order_id, 0, ord->result_id);
}

/* Orders by order_id, then by position in the batch. */
static int
inv_cmp_order_id(const void *a, const void *b)
{
	const struct inv_order *x = *(struct inv_order *const *)a;
	const struct inv_order *y = *(struct inv_order *const *)b;
	int c = strcmp(x->o.order_id, y->o.order_id);

	return c ? c : (x > y) - (x < y);
}

static int
inv_cmp_stored(const void *a, const void *b)
{
	return strcmp(((const struct inv_stored *)a)->o.order_id,
		      ((const struct inv_stored *)b)->o.order_id);
}

static int
inv_cmp_stock(const void *a, const void *b)
{
	return strcmp(((const struct inv_stock *)a)->sku,
		      ((const struct inv_stock *)b)->sku);
}

const struct inv_stock *
inv_decide_stock(const struct inv_stock *stock, size_t n, const char *sku)
{
	struct inv_stock key;

	snprintf(key.sku, sizeof(key.sku), "%s", sku);
	return n ? bsearch(&key, stock, n, sizeof(*stock), inv_cmp_stock) : NULL;
}

int
inv_decide_route(struct inv_order *orders, size_t n, struct inv_stored *stored,
		 size_t nstored, const struct inv_skuset *sold_out,
		 struct inv_stock *stock, size_t nstock)
{
	struct inv_order **byid = n ? malloc(n * sizeof(*byid)) : NULL;

	if (n && !byid)
		return -1;
	/* 1. A later order with an earlier one's order_id repeats it. */
	for (size_t i = 0; i < n; i++)
		byid[i] = &orders[i];
	if (n)
		qsort(byid, n, sizeof(*byid), inv_cmp_order_id);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(byid[i]->o.order_id, byid[i - 1]->o.order_id) != 0)
			continue;
		byid[i]->route = INV_ROUTE_DUPLICATE;
		byid[i]->first = byid[i - 1]->route == INV_ROUTE_DUPLICATE
				     ? byid[i - 1]->first
				     : (size_t)(byid[i - 1] - orders);
	}
	free(byid);

	if (nstored)
		qsort(stored, nstored, sizeof(*stored), inv_cmp_stored);
	if (nstock)
		qsort(stock, nstock, sizeof(*stock), inv_cmp_stock);
	for (size_t i = 0; i < n; i++) {
		struct inv_order *ord = &orders[i];
		struct inv_stored key, *hit = NULL;

		if (ord->route != INV_ROUTE_GATE)
			continue;
		/* 2. PostgreSQL's answer, as it was given. */
		memcpy(key.o.order_id, ord->o.order_id, sizeof(key.o.order_id));
		if (nstored)
			hit = bsearch(&key, stored, nstored, sizeof(*stored),
				      inv_cmp_stored);
		if (hit) {
			ord->route = INV_ROUTE_REPEAT;
			ord->o = hit->o;
			ord->answer = hit->answer;
			memcpy(ord->result_id, hit->result_id, sizeof(ord->result_id));
		} else if (ord->src->status != SOUK_EVENT_OK ||
			   !inv_decide_stock(stock, nstock, ord->o.sku)) {
			/* 3. Broke a rule, or no such SKU. */
			ord->route = INV_ROUTE_INVALID;
			ord->answer = INV_INVALID;
		} else if (inv_skuset_has(sold_out, ord->o.sku)) {
			/* 4. Flagged: the last commit left nothing. */
			ord->route = INV_ROUTE_FLAG;
			ord->answer = INV_SOLD_OUT;
		}
	}
	return 0;
}

void
inv_decide_copy_duplicates(struct inv_order *orders, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct inv_order *ord = &orders[i];
		const struct inv_order *first = &orders[ord->first];

		if (ord->route != INV_ROUTE_DUPLICATE)
			continue;
		ord->o = first->o;
		ord->answer = first->answer;
		memcpy(ord->result_id, first->result_id, sizeof(ord->result_id));
	}
}

/* Orders by SKU, then by position in the batch. */
static int
inv_cmp_sku(const void *a, const void *b)
{
	const struct inv_order *x = *(struct inv_order *const *)a;
	const struct inv_order *y = *(struct inv_order *const *)b;
	int c = strcmp(x->o.sku, y->o.sku);

	return c ? c : (x > y) - (x < y);
}

struct inv_order **
inv_decide_group(struct inv_order *orders, size_t n, size_t *ngate)
{
	struct inv_order **group;
	size_t k = 0;

	*ngate = 0;
	for (size_t i = 0; i < n; i++)
		k += orders[i].route == INV_ROUTE_GATE;
	if (k == 0)
		return NULL;
	group = malloc(k * sizeof(*group));
	if (!group) {
		*ngate = k;
		return NULL;
	}
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (orders[i].route == INV_ROUTE_GATE)
			group[k++] = &orders[i];
	qsort(group, k, sizeof(*group), inv_cmp_sku);
	*ngate = k;
	return group;
}

size_t
inv_decide_run(struct inv_order *const *group, size_t n)
{
	size_t k = 1;

	while (k < n && strcmp(group[k]->o.sku, group[0]->o.sku) == 0)
		k++;
	return n ? k : 0;
}

/* The entry of user in users[0..*n), appended with qty 0 when absent. */
static struct inv_tally *
inv_tally_find(struct inv_tally *users, size_t *n, const char *user_id)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(users[i].user_id, user_id) == 0)
			return &users[i];
	users[*n] = (struct inv_tally){user_id, 0};
	return &users[(*n)++];
}

size_t
inv_decide_users(struct inv_order *const *group, size_t n, struct inv_tally *users)
{
	size_t nusers = 0;

	for (size_t i = 0; i < n; i++)
		inv_tally_find(users, &nusers, group[i]->o.user_id);
	return nusers;
}

size_t
inv_decide_tally(struct inv_order *const *group, size_t n, struct inv_tally *users,
		 int64_t *total)
{
	size_t nusers = 0;

	*total = 0;
	for (size_t i = 0; i < n; i++) {
		if (group[i]->answer != INV_ACCEPTED)
			continue;
		inv_tally_find(users, &nusers, group[i]->o.user_id)->qty +=
		    group[i]->o.qty;
		*total += group[i]->o.qty;
	}
	return nusers;
}

void
inv_decide_sku(struct inv_order *const *group, size_t n, int64_t *available,
	       int64_t limit, struct inv_tally *bought, size_t nbought)
{
	for (size_t i = 0; i < n; i++) {
		struct inv_order *ord = group[i];
		struct inv_tally *user = inv_tally_find(bought, &nbought, ord->o.user_id);

		if (limit > 0 && user->qty + ord->o.qty > limit) {
			ord->answer = INV_LIMIT_EXCEEDED;
		} else if (*available < ord->o.qty) {
			ord->answer = INV_SOLD_OUT;
		} else {
			ord->answer = INV_ACCEPTED;
			*available -= ord->o.qty;
			user->qty += ord->o.qty;
		}
	}
}

int
inv_decide_result(const struct inv_order *ord, const char *event_id, const char *ts,
		  char *buf, size_t size, size_t *len, char *errstr, size_t errstr_size)
{
	souk_event_t ev = {.type = SOUK_EVENT_TYPE_ORDER_RESULT,
			   .version = SOUK_EVENT_VERSION};
	souk_event_order_result_t *r = &ev.order_result;
	char why[512];

	snprintf(ev.event_id, sizeof(ev.event_id), "%s", event_id);
	snprintf(ev.ts, sizeof(ev.ts), "%s", ts);
	snprintf(ev.client_id, sizeof(ev.client_id), "inventory");
	memcpy(r->order_id, ord->o.order_id, sizeof(r->order_id));
	/* An invalid order is answered with those of its fields that are valid. */
	if (souk_event_identifier_valid(ord->o.sku))
		memcpy(r->sku, ord->o.sku, sizeof(r->sku));
	if (souk_event_identifier_valid(ord->o.user_id))
		memcpy(r->user_id, ord->o.user_id, sizeof(r->user_id));
	r->has_qty = ord->o.qty >= 1 && ord->o.qty <= 1000;
	r->qty = r->has_qty ? ord->o.qty : 0;
	r->status = ord->answer == INV_ACCEPTED ? SOUK_EVENT_ORDER_ACCEPTED
						: SOUK_EVENT_ORDER_REJECTED;
	r->reason = ord->answer == INV_SOLD_OUT		? SOUK_EVENT_REASON_SOLD_OUT
		    : ord->answer == INV_LIMIT_EXCEEDED ? SOUK_EVENT_REASON_LIMIT_EXCEEDED
		    : ord->answer == INV_INVALID	? SOUK_EVENT_REASON_INVALID
							: SOUK_EVENT_REASON_NONE;
	memcpy(r->source_event_id, ord->src->ev.event_id, sizeof(r->source_event_id));
	if (souk_event_encode(&ev, buf, size, len, why, sizeof(why)) == 0)
		return 0;
	snprintf(errstr, errstr_size,
		 "could not answer order \"%s\" of sku \"%s\" (%s): %s", ord->o.order_id,
		 ord->o.sku, inv_answer_name(ord->answer), why);
	return -1;
}
