#include "lag_backlog.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_pg.h"

#define LAG_BACKLOG_PG_CONNECT_MS 5000

/* Parked: payment_waiting's payments and its oldest row. Stuck: through the partial
 * index payments_open (migration 006), so the cost follows the open payments, not the
 * whole ledger. */
static const char lag_backlog_sql[] =
    "SELECT (SELECT count(DISTINCT payment_id) FROM payment_waiting), "
    "(SELECT coalesce(floor(extract(epoch FROM now() - min(created_at)) * 1000), 0)"
    "::bigint FROM payment_waiting), "
    "count(*) FILTER (WHERE state = 'created'), "
    "count(*) FILTER (WHERE state = 'authorized') "
    "FROM payments WHERE state IN ('created', 'authorized') "
    "AND updated_at < now() - $1::bigint * interval '1 millisecond'";

/* Through the partial index rides_open (migration 007). */
static const char lag_backlog_rides_sql[] =
    "SELECT count(*), coalesce(floor(extract(epoch FROM now() - min(created_at)) * "
    "1000), 0)::bigint FROM rides WHERE state IN ('offered', 'accepted', 'started')";

struct lag_backlog_reader {
	struct souk_pg *pg;
	bool payments, rides; /* their tables exist */
};

void
lag_backlog_init(struct lag_backlog *b)
{
	*b = (struct lag_backlog){.orders_undecided = -1,
				  .orders_oldest_ms = -1,
				  .payments_parked = -1,
				  .payments_parked_oldest_ms = -1,
				  .payments_stuck_created = -1,
				  .payments_stuck_authorized = -1,
				  .rides_open = -1,
				  .rides_open_oldest_ms = -1,
				  .stuck_after_ms = -1};
}

void
lag_backlog_orders(struct lag_backlog *b, const struct lag_sample_pass *pass,
		   const char *group, const char *topic)
{
	int64_t undecided = 0, oldest_ms = 0;
	bool seen = false;

	b->orders_undecided = b->orders_oldest_ms = -1;
	for (size_t i = 0; i < pass->n; i++) {
		const struct lag_sample_row *r = &pass->rows[i];
		int64_t offset = r->pg_committed >= 0 ? r->pg_committed : r->committed;
		int64_t lag_ms;

		if (strcmp(r->group, group) || strcmp(r->topic, topic))
			continue;
		if (offset < 0 || r->high < 0)
			return;
		seen = true;
		if (r->high <= offset)
			continue;
		undecided += r->high - offset;
		if ((lag_ms = lag_sample_lag_ms(r)) > oldest_ms)
			oldest_ms = lag_ms;
	}
	if (seen)
		b->orders_undecided = undecided, b->orders_oldest_ms = oldest_ms;
}

struct lag_backlog_reader *
lag_backlog_reader_new(const char *dsn, char *errstr, size_t errstr_size)
{
	struct lag_backlog_reader *r = calloc(1, sizeof(*r));
	PGresult *res = NULL;

	if (!r) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	if (!(r->pg = souk_pg_connect(dsn, LAG_BACKLOG_PG_CONNECT_MS, errstr,
				      errstr_size)) ||
	    souk_pg_exec(r->pg,
			 "SELECT to_regclass('payments') IS NOT NULL "
			 "AND to_regclass('payment_waiting') IS NOT NULL, "
			 "to_regclass('rides') IS NOT NULL",
			 &res, errstr, errstr_size))
		goto fail;
	r->payments = !strcmp(PQgetvalue(res, 0, 0), "t");
	r->rides = !strcmp(PQgetvalue(res, 0, 1), "t");
	if ((r->payments && souk_pg_prepare(r->pg, "lag_backlog", lag_backlog_sql, 1,
					    errstr, errstr_size)) ||
	    (r->rides && souk_pg_prepare(r->pg, "lag_backlog_rides",
					 lag_backlog_rides_sql, 0, errstr, errstr_size)))
		goto fail;
	PQclear(res);
	return r;
fail:
	PQclear(res);
	lag_backlog_reader_destroy(r);
	return NULL;
}

void
lag_backlog_reader_destroy(struct lag_backlog_reader *r)
{
	if (!r)
		return;
	souk_pg_destroy(r->pg);
	free(r);
}

int
lag_backlog_read(struct lag_backlog_reader *r, int64_t stuck_after_ms,
		 struct lag_backlog *b, char *errstr, size_t errstr_size)
{
	char after[24];
	const char *params[] = {after};
	PGresult *res = NULL;

	b->stuck_after_ms = stuck_after_ms;
	snprintf(after, sizeof(after), "%lld", (long long)stuck_after_ms);
	if (r->payments) {
		if (souk_pg_exec_prepared(r->pg, "lag_backlog", 1, params, &res, errstr,
					  errstr_size))
			return -1;
		b->payments_parked = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		b->payments_parked_oldest_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		b->payments_stuck_created = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		b->payments_stuck_authorized = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
		PQclear(res);
	}
	if (r->rides) {
		if (souk_pg_exec_prepared(r->pg, "lag_backlog_rides", 0, NULL, &res, errstr,
					  errstr_size))
			return -1;
		b->rides_open = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		b->rides_open_oldest_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
	}
	return 0;
}
