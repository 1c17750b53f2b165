/*
 * pay_sql: see pay_sql.h.
 */
#include "pay_sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Each statement once, with its parameter count. */
static const struct {
	const char *name;
	const char *sql;
	int nparams;
} pay_sql_statements[] = {
    {"pay_load_payments",
     "SELECT p.payment_id, p.client_id, p.state, p.currency, p.amount, "
     "p.amount_authorized, p.amount_captured, p.amount_refunded, "
     "coalesce(p.provider_ref, ''), p.version, "
     "EXISTS (SELECT 1 FROM payment_waiting w WHERE w.payment_id = p.payment_id) "
     "FROM payments p WHERE p.payment_id = ANY ($1::text[])",
     1},
    {"pay_load_refunds",
     "SELECT payment_id, refund_id FROM payment_refunds "
     "WHERE payment_id = ANY ($1::text[])",
     1},
    {"pay_load_keys",
     "SELECT k.client_id, k.key, k.params_hash, k.state, k.payment_id, k.result_id, "
     "coalesce(k.response, ''), coalesce(k.provider_key::text, '') "
     "FROM idempotency_keys k JOIN unnest($1::text[], $2::text[]) AS u (c, k) "
     "ON k.client_id = u.c AND k.key = u.k",
     2},
    /* Whole payments only: a payment's commands are resolved together, in order. */
    {"pay_load_waiting",
     "SELECT payment_id, source_topic, source_partition, source_offset, event, "
     "coalesce(provider_key::text, '') FROM payment_waiting "
     "WHERE payment_id IN (SELECT DISTINCT payment_id FROM payment_waiting "
     "  WHERE source_topic = $1 AND source_partition = ANY ($2::int[]) LIMIT $3) "
     "ORDER BY payment_id, seq",
     3},
    {"pay_insert_payments",
     "INSERT INTO payments (payment_id, client_id, state, currency, amount, "
     "amount_authorized, amount_captured, amount_refunded, provider_ref, version) "
     "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
     "$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], "
     "$10::bigint[])",
     10},
    /* Conditional on the version read: the caller compares the rows it changed. */
    {"pay_update_payments",
     "UPDATE payments p SET state = u.state, amount_authorized = u.authorized, "
     "amount_captured = u.captured, amount_refunded = u.refunded, "
     "provider_ref = u.ref, version = u.version, updated_at = now() "
     "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], "
     "$6::text[], $7::bigint[], $8::bigint[]) "
     "AS u (id, state, authorized, captured, refunded, ref, version, old_version) "
     "WHERE p.payment_id = u.id AND p.version = u.old_version",
     8},
    {"pay_insert_transitions",
     "INSERT INTO payment_transitions (payment_id, version, from_state, to_state, "
     "command, amount, refund_id, client_id, idempotency_key) "
     "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], "
     "$5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[])",
     9},
    {"pay_upsert_refunds",
     "INSERT INTO payment_refunds (payment_id, refund_id, amount, state) "
     "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) "
     "ON CONFLICT (payment_id, refund_id) DO UPDATE "
     "SET state = EXCLUDED.state, updated_at = now()",
     4},
    {"pay_upsert_keys",
     "INSERT INTO idempotency_keys AS k (client_id, key, params_hash, state, "
     "payment_id, command, result_id, response, provider_key, expires_at) "
     "SELECT c, key, h, s, id, cmd, rid, resp, pk, "
     "CASE WHEN s = 'final' THEN now() + make_interval(secs => $10) END "
     "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
     "$6::text[], $7::uuid[], $8::text[], $9::uuid[]) "
     "AS u (c, key, h, s, id, cmd, rid, resp, pk) "
     "ON CONFLICT (client_id, key) DO UPDATE SET state = EXCLUDED.state, "
     "response = EXCLUDED.response, expires_at = EXCLUDED.expires_at",
     10},
    {"pay_answer_intents",
     "UPDATE payment_intents i SET state = u.state, updated_at = now() "
     "FROM unnest($1::uuid[], $2::text[]) AS u (key, state) "
     "WHERE i.provider_key = u.key",
     2},
    {"pay_unpark", "DELETE FROM payment_waiting WHERE payment_id = ANY ($1::text[])", 1},
    {"pay_insert_waiting",
     "INSERT INTO payment_waiting (payment_id, source_topic, source_partition, "
     "source_offset, event, provider_key) "
     "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], "
     "$5::text[], $6::uuid[])",
     6},
    /* Returns the keys whose call an earlier attempt may have sent: an intent there
     * before, not answered (pending: a batch cut short; unknown: parked), or one
     * another session inserted meanwhile (old does not see it, ins skipped it). */
    {"pay_insert_intents",
     "WITH u (k, id, cmd, amount, currency, refund_id) AS (SELECT * FROM "
     "unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])), "
     "old AS (SELECT provider_key, state FROM payment_intents "
     "WHERE provider_key IN (SELECT k FROM u)), "
     "ins AS (INSERT INTO payment_intents (provider_key, payment_id, command, amount, "
     "currency, refund_id) SELECT * FROM u ON CONFLICT (provider_key) DO NOTHING "
     "RETURNING provider_key) "
     "SELECT u.k FROM u LEFT JOIN old ON old.provider_key = u.k "
     "WHERE CASE WHEN old.state IS NOT NULL THEN old.state <> 'done' "
     "ELSE u.k NOT IN (SELECT provider_key FROM ins) END",
     6},
    {"pay_reap",
     "DELETE FROM idempotency_keys WHERE (client_id, key) IN (SELECT client_id, key "
     "FROM idempotency_keys WHERE expires_at < now() LIMIT $1)",
     1},
};

int
pay_sql_prepare(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	size_t n = sizeof(pay_sql_statements) / sizeof(pay_sql_statements[0]);

	for (size_t i = 0; i < n; i++)
		if (souk_pg_prepare(pg, pay_sql_statements[i].name,
				    pay_sql_statements[i].sql,
				    pay_sql_statements[i].nparams, errstr, errstr_size))
			return SOUK_PG_ERROR;
	return SOUK_PG_OK;
}

/* Runs name with the arrays cols[0..n); no rows (an empty first array): nothing runs.
 * *changed (when not NULL) is the number of rows the statement changed. */
static int
pay_sql_exec_cols(struct souk_pg *pg, const char *name, struct souk_pgarray *cols, int n,
		  const char *extra, long *changed, char *errstr, size_t errstr_size)
{
	const char *values[16];
	PGresult *res = NULL;
	int rc;

	if (changed)
		*changed = 0;
	if (cols[0].n == 0)
		return SOUK_PG_OK;
	for (int i = 0; i < n; i++)
		if (!(values[i] = souk_pgarray_text(&cols[i]))) {
			snprintf(errstr, errstr_size, "out of memory");
			return SOUK_PG_ERROR;
		}
	if (extra)
		values[n++] = extra;
	rc = souk_pg_exec_prepared(pg, name, n, values, changed ? &res : NULL, errstr,
				   errstr_size);
	if (rc == SOUK_PG_OK && changed)
		*changed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

int
pay_sql_load_payments(struct souk_pg *pg, const char *ids, PGresult **out, char *errstr,
		      size_t errstr_size)
{
	return souk_pg_exec_prepared(pg, "pay_load_payments", 1, &ids, out, errstr,
				     errstr_size);
}

int
pay_sql_load_refunds(struct souk_pg *pg, const char *ids, PGresult **out, char *errstr,
		     size_t errstr_size)
{
	return souk_pg_exec_prepared(pg, "pay_load_refunds", 1, &ids, out, errstr,
				     errstr_size);
}

int
pay_sql_load_keys(struct souk_pg *pg, const char *clients, const char *keys,
		  PGresult **out, char *errstr, size_t errstr_size)
{
	const char *values[] = {clients, keys};

	return souk_pg_exec_prepared(pg, "pay_load_keys", 2, values, out, errstr,
				     errstr_size);
}

int
pay_sql_load_waiting(struct souk_pg *pg, const char *topic, const char *partitions,
		     int limit, PGresult **out, char *errstr, size_t errstr_size)
{
	char lim[16];
	const char *values[] = {topic, partitions, lim};

	snprintf(lim, sizeof(lim), "%d", limit);
	return souk_pg_exec_prepared(pg, "pay_load_waiting", 3, values, out, errstr,
				     errstr_size);
}

static void
pay_sql_reset_cols(struct souk_pgarray *cols, int n)
{
	for (int i = 0; i < n; i++)
		souk_pgarray_reset(&cols[i]);
}

static void
pay_sql_free_cols(struct souk_pgarray *cols, int n)
{
	for (int i = 0; i < n; i++)
		souk_pgarray_free(&cols[i]);
}

void
pay_sql_rows_reset(struct pay_sql_rows *r)
{
	pay_sql_reset_cols(r->created, PAY_SQL_P_COLS);
	pay_sql_reset_cols(r->updated, PAY_SQL_U_COLS);
	pay_sql_reset_cols(r->transitions, PAY_SQL_T_COLS);
	pay_sql_reset_cols(r->refunds, PAY_SQL_R_COLS);
	pay_sql_reset_cols(r->keys, PAY_SQL_K_COLS);
	pay_sql_reset_cols(r->answered, 2);
	pay_sql_reset_cols(r->waiting, PAY_SQL_W_COLS);
	souk_pgarray_reset(&r->unparked);
}

void
pay_sql_rows_free(struct pay_sql_rows *r)
{
	pay_sql_free_cols(r->created, PAY_SQL_P_COLS);
	pay_sql_free_cols(r->updated, PAY_SQL_U_COLS);
	pay_sql_free_cols(r->transitions, PAY_SQL_T_COLS);
	pay_sql_free_cols(r->refunds, PAY_SQL_R_COLS);
	pay_sql_free_cols(r->keys, PAY_SQL_K_COLS);
	pay_sql_free_cols(r->answered, 2);
	pay_sql_free_cols(r->waiting, PAY_SQL_W_COLS);
	souk_pgarray_free(&r->unparked);
}

int
pay_sql_write(struct souk_pg *pg, struct pay_sql_rows *r, int64_t keep_s, char *errstr,
	      size_t errstr_size)
{
	char keep[32];
	long changed;
	int rc;

	snprintf(keep, sizeof(keep), "%" PRId64, keep_s);
	/* The new payments first: their transitions and refunds refer to them. */
	if ((rc = pay_sql_exec_cols(pg, "pay_insert_payments", r->created, PAY_SQL_P_COLS,
				    NULL, NULL, errstr, errstr_size)) ||
	    (rc = pay_sql_exec_cols(pg, "pay_update_payments", r->updated, PAY_SQL_U_COLS,
				    NULL, &changed, errstr, errstr_size)))
		return rc;
	if ((size_t)changed != r->updated[0].n) {
		snprintf(errstr, errstr_size,
			 "could not apply the transitions of %zu payments: %zu of them "
			 "moved on under this batch",
			 r->updated[0].n, r->updated[0].n - (size_t)changed);
		return SOUK_PG_ERROR;
	}
	if ((rc = pay_sql_exec_cols(pg, "pay_insert_transitions", r->transitions,
				    PAY_SQL_T_COLS, NULL, NULL, errstr, errstr_size)) ||
	    (rc = pay_sql_exec_cols(pg, "pay_upsert_refunds", r->refunds, PAY_SQL_R_COLS,
				    NULL, NULL, errstr, errstr_size)) ||
	    (rc = pay_sql_exec_cols(pg, "pay_upsert_keys", r->keys, PAY_SQL_K_COLS, keep,
				    NULL, errstr, errstr_size)) ||
	    (rc = pay_sql_exec_cols(pg, "pay_answer_intents", r->answered, 2, NULL, NULL,
				    errstr, errstr_size)) ||
	    (rc = pay_sql_exec_cols(pg, "pay_unpark", &r->unparked, 1, NULL, NULL, errstr,
				    errstr_size)))
		return rc;
	return pay_sql_exec_cols(pg, "pay_insert_waiting", r->waiting, PAY_SQL_W_COLS,
				 NULL, NULL, errstr, errstr_size);
}

int
pay_sql_write_intents(struct souk_pg *pg, struct souk_pgarray cols[PAY_SQL_I_COLS],
		      PGresult **sent, char *errstr, size_t errstr_size)
{
	const char *values[PAY_SQL_I_COLS];

	*sent = NULL;
	if (cols[0].n == 0)
		return SOUK_PG_OK;
	for (int i = 0; i < PAY_SQL_I_COLS; i++)
		if (!(values[i] = souk_pgarray_text(&cols[i]))) {
			snprintf(errstr, errstr_size, "out of memory");
			return SOUK_PG_ERROR;
		}
	return souk_pg_exec_prepared(pg, "pay_insert_intents", PAY_SQL_I_COLS, values, sent,
				     errstr, errstr_size);
}

int
pay_sql_reap(struct souk_pg *pg, int limit, long *n, char *errstr, size_t errstr_size)
{
	char buf[16];
	const char *values[1] = {buf};
	PGresult *res = NULL;
	int rc;

	snprintf(buf, sizeof(buf), "%d", limit);
	rc = souk_pg_exec_prepared(pg, "pay_reap", 1, values, &res, errstr, errstr_size);
	*n = rc == SOUK_PG_OK ? strtol(PQcmdTuples(res), NULL, 10) : 0;
	PQclear(res);
	return rc;
}
