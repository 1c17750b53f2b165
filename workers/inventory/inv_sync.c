/*
 * inv_sync: see inv_sync.h.
 */
#include "inv_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INV_SYNC_ATTEMPTS 5

int64_t
inv_sync_drift(const struct inv_sync_report *rep)
{
	return rep->warm ? rep->redis_available - rep->truth : -rep->truth;
}

static int
inv_cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct inv_redis_user *)a)->user_id,
		      ((const struct inv_redis_user *)b)->user_id);
}

static int
inv_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts users[0..*n) and merges the entries of one user, summing them. */
static void
inv_sync_merge(struct inv_redis_user *users, size_t *n)
{
	size_t k = 0;

	if (*n)
		qsort(users, *n, sizeof(*users), inv_cmp_user);
	for (size_t i = 0; i < *n; i++) {
		if (k && strcmp(users[k - 1].user_id, users[i].user_id) == 0)
			users[k - 1].qty += users[i].qty;
		else
			users[k++] = users[i];
	}
	*n = k;
}

/* How many users differ between a and b (both sorted, merged). */
static size_t
inv_sync_users_differ(const struct inv_redis_user *a, size_t na,
		      const struct inv_redis_user *b, size_t nb)
{
	size_t i = 0, j = 0, differ = 0;

	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i].user_id, b[j].user_id);

		if (c == 0) {
			differ += a[i].qty != b[j].qty;
			i++;
			j++;
		} else if (c < 0) {
			differ += a[i++].qty != 0;
		} else {
			differ += b[j++].qty != 0;
		}
	}
	return differ;
}

int
inv_sync_plan(const struct inv_truth *truth, const struct inv_redis_snapshot *snap,
	      int64_t reservation_ttl_ms, struct inv_sync_plan *plan,
	      struct inv_sync_report *rep)
{
	size_t nusers = 0, nredis = snap->nusers;
	const char **decided = NULL;
	struct inv_redis_user *users = NULL, *redis = NULL;
	int64_t limit_was = 0;
	int rc = -1;

	*plan = (struct inv_sync_plan){0};
	*rep = (struct inv_sync_report){.pg_available = truth->available,
					.limit = truth->limit};
	users = calloc(truth->nbought + snap->nreserved + 1, sizeof(*users));
	redis = calloc(nredis + 1, sizeof(*redis));
	decided = calloc(truth->ndecided + 1, sizeof(*decided));
	if (!users || !redis || !decided)
		goto out;

	for (size_t i = 0; i < truth->nbought; i++)
		users[nusers++] = (struct inv_redis_user){truth->bought[i].user_id,
							  truth->bought[i].qty};
	if (truth->ndecided) {
		memcpy(decided, truth->decided, truth->ndecided * sizeof(*decided));
		qsort(decided, truth->ndecided, sizeof(*decided), inv_cmp_str);
	}
	for (size_t i = 0; i < snap->nreserved; i++) {
		const struct inv_reservation *res = &snap->reserved[i];

		if (snap->now_ms - res->seen.ms > reservation_ttl_ms ||
		    (truth->ndecided && bsearch(&res->order_id, decided, truth->ndecided,
						sizeof(*decided), inv_cmp_str)))
			continue;
		rep->reserved += res->seen.qty;
		users[nusers++] =
		    (struct inv_redis_user){res->seen.user_id, res->seen.qty};
	}
	inv_sync_merge(users, &nusers);
	if (nredis)
		memcpy(redis, snap->users, nredis * sizeof(*redis));
	inv_sync_merge(redis, &nredis);

	rep->truth =
	    truth->available > rep->reserved ? truth->available - rep->reserved : 0;
	rep->warm = snap->stock[0] != '\0' && snap->limit[0] != '\0';
	if (rep->warm) {
		rep->redis_available = strtoll(snap->stock, NULL, 10);
		limit_was = strtoll(snap->limit, NULL, 10);
	}
	rep->limit_differs = !rep->warm || limit_was != truth->limit;
	rep->users_differ = inv_sync_users_differ(users, nusers, redis, nredis);
	plan->stock = rep->truth;
	plan->limit = truth->limit;
	plan->users = users;
	plan->nusers = nusers;
	users = NULL;
	rc = 0;
out:
	free(users);
	free(redis);
	free(decided);
	return rc;
}

enum inv_sync_status
inv_sync_sku(struct souk_pg *pg, struct inv_redis *r, const char *sku,
	     int64_t reservation_ttl_ms, struct inv_sync_report *rep, char *errstr,
	     size_t errstr_size)
{
	struct inv_redis_snapshot snap = {.stock = ""};
	struct inv_truth truth = {0};
	struct inv_sync_plan plan = {0};
	enum inv_sync_status st = INV_SYNC_EBUSY;
	char why[512];

	for (int attempt = 0; attempt < INV_SYNC_ATTEMPTS; attempt++) {
		int written;

		inv_redis_snapshot_free(&snap);
		inv_sql_truth_free(&truth);
		free(plan.users);
		plan.users = NULL;
		if (inv_redis_snapshot(r, sku, &snap, why, sizeof(why))) {
			st = INV_SYNC_EREDIS;
			goto fail;
		}
		if (inv_sql_truth(pg, sku, snap.reserved, snap.nreserved, &truth, why,
				  sizeof(why)) != SOUK_PG_OK) {
			st = INV_SYNC_EPG;
			goto fail;
		}
		if (!truth.found) {
			snprintf(why, sizeof(why), "no such sku in the stock table");
			st = INV_SYNC_ENOSKU;
			goto fail;
		}
		if (inv_sync_plan(&truth, &snap, reservation_ttl_ms, &plan, rep)) {
			snprintf(why, sizeof(why), "out of memory");
			st = INV_SYNC_ENOMEM;
			goto fail;
		}
		if (rep->warm && inv_sync_drift(rep) == 0 && !rep->limit_differs &&
		    rep->users_differ == 0) {
			st = INV_SYNC_OK;
			goto out;
		}
		written = inv_redis_fix(r, sku, &snap, plan.stock, plan.limit, plan.users,
					plan.nusers, why, sizeof(why));
		if (written < 0) {
			st = INV_SYNC_EREDIS;
			goto fail;
		}
		if (written) {
			rep->fixed = true;
			st = INV_SYNC_OK;
			goto out;
		}
	}
	snprintf(why, sizeof(why), "its redis keys kept changing (%d attempts)",
		 INV_SYNC_ATTEMPTS);
fail:
	snprintf(errstr, errstr_size, "could not sync sku \"%s\": %s", sku, why);
out:
	inv_redis_snapshot_free(&snap);
	inv_sql_truth_free(&truth);
	free(plan.users);
	return st;
}
