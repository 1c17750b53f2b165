#include "souk_offsets.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "souk_pgarray.h"

static const char souk_offsets_claim_sql[] =
    "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset, epoch) "
    "VALUES ($1, $2, $3, $4, 1) "
    "ON CONFLICT (group_id, topic, partition) DO UPDATE SET "
    "epoch = consumer_offsets.epoch + 1, "
    "next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset), "
    "updated_at = now() "
    "RETURNING epoch, next_offset";

/* $1 group, then per range: topic, partition, epoch, start, next. */
static const char souk_offsets_advance_sql[] =
    "UPDATE consumer_offsets o SET next_offset = r.next, updated_at = now() "
    "FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint[]) "
    "AS r(topic, partition, epoch, start, next) "
    "WHERE o.group_id = $1 AND o.topic = r.topic AND o.partition = r.partition "
    "AND o.epoch = r.epoch AND o.next_offset = r.start";

/* FOR SHARE: a claim by another consumer waits until this transaction ends, so what
 * it commits is committed while the epochs were still ours. */
static const char souk_offsets_hold_sql[] =
    "SELECT count(*) FROM (SELECT 1 FROM consumer_offsets o "
    "JOIN unnest($2::text[], $3::int[], $4::bigint[]) AS r(topic, partition, epoch) "
    "ON o.topic = r.topic AND o.partition = r.partition AND o.epoch = r.epoch "
    "WHERE o.group_id = $1 FOR SHARE OF o) held";

static const char souk_offsets_epoch_sql[] =
    "SELECT epoch FROM consumer_offsets WHERE group_id = $1 AND topic = $2 AND partition "
    "= $3";

int
souk_offsets_prepare(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	if (souk_pg_prepare(pg, "souk_offsets_claim", souk_offsets_claim_sql, 4, errstr,
			    errstr_size) ||
	    souk_pg_prepare(pg, "souk_offsets_advance", souk_offsets_advance_sql, 6,
			    errstr, errstr_size) ||
	    souk_pg_prepare(pg, "souk_offsets_hold", souk_offsets_hold_sql, 4, errstr,
			    errstr_size) ||
	    souk_pg_prepare(pg, "souk_offsets_epoch", souk_offsets_epoch_sql, 3, errstr,
			    errstr_size))
		return -1;
	return 0;
}

int
souk_offsets_claim(struct souk_pg *pg, const char *group, const char *topic,
		   int32_t partition, int64_t low, int64_t *epoch, int64_t *next,
		   char *errstr, size_t errstr_size)
{
	char part[16], lows[24];
	const char *values[4] = {group, topic, part, lows};
	PGresult *res = NULL;
	int rc;

	snprintf(part, sizeof(part), "%" PRId32, partition);
	snprintf(lows, sizeof(lows), "%" PRId64, low < 0 ? 0 : low);
	rc = souk_pg_exec_prepared(pg, "souk_offsets_claim", 4, values, &res, errstr,
				   errstr_size);
	if (rc)
		return rc;
	*epoch = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*next = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

/* Runs name with group and the ranges as arrays (ncols: 3 = topic, partition, epoch;
 * 5 = also start, next); *count from the affected rows or the first column. */
static int
souk_offsets_run(struct souk_pg *pg, const char *name, int ncols, const char *group,
		 const struct souk_offsets_range *ranges, size_t n, size_t *count,
		 char *errstr, size_t errstr_size)
{
	struct souk_pgarray cols[5];
	const char *values[6] = {group};
	PGresult *res = NULL;
	int rc = -1;

	for (int c = 0; c < 5; c++)
		souk_pgarray_init(&cols[c]);
	for (size_t i = 0; i < n; i++) {
		souk_pgarray_add_str(&cols[0], ranges[i].topic);
		souk_pgarray_add_int(&cols[1], ranges[i].partition);
		souk_pgarray_add_int(&cols[2], ranges[i].epoch);
		souk_pgarray_add_int(&cols[3], ranges[i].start);
		souk_pgarray_add_int(&cols[4], ranges[i].next);
	}
	for (int c = 0; c < ncols; c++) {
		values[c + 1] = souk_pgarray_text(&cols[c]);
		if (!values[c + 1]) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
	}
	rc =
	    souk_pg_exec_prepared(pg, name, ncols + 1, values, &res, errstr, errstr_size);
	if (rc)
		goto out;
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*count = (size_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	else
		*count = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
out:
	for (int c = 0; c < 5; c++)
		souk_pgarray_free(&cols[c]);
	return rc;
}

int
souk_offsets_advance(struct souk_pg *pg, const char *group,
		     const struct souk_offsets_range *ranges, size_t n, size_t *advanced,
		     char *errstr, size_t errstr_size)
{
	return souk_offsets_run(pg, "souk_offsets_advance", 5, group, ranges, n, advanced,
				errstr, errstr_size);
}

int
souk_offsets_hold(struct souk_pg *pg, const char *group,
		  const struct souk_offsets_range *ranges, size_t n, size_t *held,
		  char *errstr, size_t errstr_size)
{
	return souk_offsets_run(pg, "souk_offsets_hold", 3, group, ranges, n, held,
				errstr, errstr_size);
}

int
souk_offsets_epoch(struct souk_pg *pg, const char *group, const char *topic,
		   int32_t partition, int64_t *epoch, char *errstr, size_t errstr_size)
{
	char part[16];
	const char *values[3] = {group, topic, part};
	PGresult *res = NULL;
	int rc;

	snprintf(part, sizeof(part), "%" PRId32, partition);
	rc = souk_pg_exec_prepared(pg, "souk_offsets_epoch", 3, values, &res, errstr,
				   errstr_size);
	if (rc)
		return rc;
	*epoch = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
	PQclear(res);
	return 0;
}
