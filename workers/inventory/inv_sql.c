/*
 * inv_sql: see inv_sql.h.
 */
#include "inv_sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_pgarray.h"

static const struct {
	const char *name;
	int nparams;
	const char *sql;
} inv_sql_statements[] = {
    {"inv_decided", 1,
     "SELECT order_id, sku, user_id, qty, status, coalesce(reason, ''), result_id "
     "FROM orders WHERE order_id = ANY($1::text[])"},
    {"inv_stock", 1,
     "SELECT sku, available, version, coalesce(limit_per_user, 0) "
     /* IN over the distinct SKUs: "= ANY" would compare every row with every one
      * of the batch's (repeated) SKUs. */
     "FROM stock WHERE sku IN (SELECT DISTINCT unnest($1::text[]))"},
    /* The optimistic take: stock and purchases change together or not at all. */
    {"inv_take", 5,
     "WITH want AS ("
     "  SELECT w.user_id, w.qty FROM unnest($4::text[], $5::bigint[]) AS w (user_id, qty)"
     "), fits AS ("
     "  SELECT coalesce(bool_and(s.limit_per_user IS NULL"
     "                           OR coalesce(p.qty, 0) + w.qty <= s.limit_per_user),"
     "                  true) AS ok"
     "  FROM want w JOIN stock s ON s.sku = $1::text"
     "  LEFT JOIN purchases p ON p.sku = $1::text AND p.user_id = w.user_id"
     "), took AS ("
     "  UPDATE stock SET available = available - $3::bigint, version = version + 1,"
     "                   updated_at = now()"
     "  WHERE sku = $1::text AND version = $2::bigint AND available >= $3::bigint"
     "    AND (SELECT ok FROM fits)"
     "  RETURNING available"
     "), bought AS ("
     "  INSERT INTO purchases AS p (sku, user_id, qty)"
     "  SELECT $1::text, w.user_id, w.qty FROM want w WHERE EXISTS (SELECT 1 FROM took)"
     "  ON CONFLICT (sku, user_id)"
     "  DO UPDATE SET qty = p.qty + EXCLUDED.qty, updated_at = now()"
     ") SELECT available FROM took"},
    {"inv_lock", 1,
     "SELECT sku, available, version, coalesce(limit_per_user, 0) "
     "FROM stock WHERE sku = $1::text FOR UPDATE"},
    {"inv_bought", 2,
     "SELECT user_id, qty FROM purchases "
     "WHERE sku = $1::text AND user_id = ANY($2::text[])"},
    /* Applied only when its event_id is new (stock_sets): 1 row changed, else 0. */
    {"inv_stock_set", 4,
     "WITH fresh AS (INSERT INTO stock_sets (event_id, sku, stock, limit_per_user) "
     "  VALUES ($4::uuid, $1::text, $2::bigint, $3::bigint) "
     "  ON CONFLICT (event_id) DO NOTHING RETURNING 1) "
     "INSERT INTO stock AS s (sku, available, limit_per_user) "
     "SELECT $1::text, $2::bigint, $3::bigint WHERE EXISTS (SELECT FROM fresh) "
     "ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available,"
     "  limit_per_user = coalesce(EXCLUDED.limit_per_user, s.limit_per_user),"
     "  version = s.version + 1, updated_at = now()"},
    /* One statement, so one snapshot: stock, purchases and decided orders agree. */
    {"inv_truth", 2,
     "SELECT 's', available::text, coalesce(limit_per_user, 0)::text "
     "FROM stock WHERE sku = $1::text "
     "UNION ALL SELECT 'u', user_id, qty::text FROM purchases WHERE sku = $1::text "
     "UNION ALL SELECT 'd', order_id, NULL FROM orders WHERE order_id = ANY($2::text[])"},
    {"inv_skus", 0, "SELECT sku FROM stock ORDER BY sku COLLATE \"C\""},
};

int
inv_sql_prepare(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < sizeof(inv_sql_statements) / sizeof(inv_sql_statements[0]);
	     i++)
		if (souk_pg_prepare(pg, inv_sql_statements[i].name,
				    inv_sql_statements[i].sql,
				    inv_sql_statements[i].nparams, errstr, errstr_size))
			return SOUK_PG_ERROR;
	return SOUK_PG_OK;
}

/* A bigint column as text. */
static int64_t
inv_sql_int(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Copies a text column into out[size]. */
static void
inv_sql_str(const PGresult *res, int row, int col, char *out, size_t size)
{
	snprintf(out, size, "%s", PQgetvalue(res, row, col));
}

/* Runs name with one text[] parameter: the order ids (by_sku false) or the SKUs of
 * orders[0..n). */
static int
inv_sql_by_orders(struct souk_pg *pg, const char *name, const struct inv_order *orders,
		  size_t n, bool by_sku, PGresult **res, char *errstr, size_t errstr_size)
{
	struct souk_pgarray a;
	const char *values[1];
	int rc;

	souk_pgarray_init(&a);
	for (size_t i = 0; i < n; i++)
		souk_pgarray_add_str(&a, by_sku ? orders[i].o.sku : orders[i].o.order_id);
	values[0] = souk_pgarray_text(&a);
	if (!values[0]) {
		snprintf(errstr, errstr_size, "out of memory");
		rc = SOUK_PG_ERROR;
	} else {
		rc = souk_pg_exec_prepared(pg, name, 1, values, res, errstr, errstr_size);
	}
	souk_pgarray_free(&a);
	return rc;
}

int
inv_sql_decided(struct souk_pg *pg, const struct inv_order *orders, size_t n,
		struct inv_stored **out, size_t *nout, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	int rc, rows;

	*out = NULL;
	*nout = 0;
	rc = inv_sql_by_orders(pg, "inv_decided", orders, n, false, &res, errstr,
			       errstr_size);
	if (rc != SOUK_PG_OK)
		return rc;
	rows = PQntuples(res);
	*out = calloc((size_t)rows + 1, sizeof(**out));
	if (!*out) {
		snprintf(errstr, errstr_size, "out of memory");
		rc = SOUK_PG_ERROR;
		goto out;
	}
	for (int r = 0; r < rows; r++) {
		struct inv_stored *s = &(*out)[r];

		inv_sql_str(res, r, 0, s->o.order_id, sizeof(s->o.order_id));
		inv_sql_str(res, r, 1, s->o.sku, sizeof(s->o.sku));
		inv_sql_str(res, r, 2, s->o.user_id, sizeof(s->o.user_id));
		s->o.qty = inv_sql_int(res, r, 3);
		inv_sql_str(res, r, 6, s->result_id, sizeof(s->result_id));
		if (inv_answer_from_row(PQgetvalue(res, r, 4), PQgetvalue(res, r, 5),
					&s->answer)) {
			snprintf(errstr, errstr_size,
				 "could not read order \"%s\": status \"%s\" with reason "
				 "\"%s\"",
				 s->o.order_id, PQgetvalue(res, r, 4),
				 PQgetvalue(res, r, 5));
			free(*out);
			*out = NULL;
			rc = SOUK_PG_ERROR;
			goto out;
		}
	}
	*nout = (size_t)rows;
out:
	PQclear(res);
	return rc;
}

/* A stock row as selected by inv_stock and inv_lock. */
static void
inv_sql_stock_row(const PGresult *res, int r, struct inv_stock *s)
{
	inv_sql_str(res, r, 0, s->sku, sizeof(s->sku));
	s->available = inv_sql_int(res, r, 1);
	s->version = inv_sql_int(res, r, 2);
	s->limit = inv_sql_int(res, r, 3);
}

int
inv_sql_stock(struct souk_pg *pg, const struct inv_order *orders, size_t n,
	      struct inv_stock **out, size_t *nout, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	int rc, rows;

	*out = NULL;
	*nout = 0;
	rc = inv_sql_by_orders(pg, "inv_stock", orders, n, true, &res, errstr,
			       errstr_size);
	if (rc != SOUK_PG_OK)
		return rc;
	rows = PQntuples(res);
	*out = calloc((size_t)rows + 1, sizeof(**out));
	if (!*out) {
		snprintf(errstr, errstr_size, "out of memory");
		PQclear(res);
		return SOUK_PG_ERROR;
	}
	for (int r = 0; r < rows; r++)
		inv_sql_stock_row(res, r, &(*out)[r]);
	*nout = (size_t)rows;
	PQclear(res);
	return SOUK_PG_OK;
}

int
inv_sql_take(struct souk_pg *pg, const char *sku, int64_t version, int64_t total,
	     const struct inv_tally *users, size_t n, bool *taken, int64_t *available,
	     char *errstr, size_t errstr_size)
{
	struct souk_pgarray ids, qtys;
	char version_s[24], total_s[24];
	const char *values[5] = {sku, version_s, total_s};
	PGresult *res = NULL;
	int rc = SOUK_PG_ERROR;

	*taken = false;
	souk_pgarray_init(&ids);
	souk_pgarray_init(&qtys);
	for (size_t i = 0; i < n; i++) {
		souk_pgarray_add_str(&ids, users[i].user_id);
		souk_pgarray_add_int(&qtys, users[i].qty);
	}
	snprintf(version_s, sizeof(version_s), "%" PRId64, version);
	snprintf(total_s, sizeof(total_s), "%" PRId64, total);
	values[3] = souk_pgarray_text(&ids);
	values[4] = souk_pgarray_text(&qtys);
	if (!values[3] || !values[4]) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	rc = souk_pg_exec_prepared(pg, "inv_take", 5, values, &res, errstr, errstr_size);
	if (rc == SOUK_PG_OK && PQntuples(res) == 1) {
		*taken = true;
		*available = inv_sql_int(res, 0, 0);
	}
out:
	PQclear(res);
	souk_pgarray_free(&ids);
	souk_pgarray_free(&qtys);
	return rc;
}

int
inv_sql_lock(struct souk_pg *pg, const char *sku, struct inv_stock *out, bool *found,
	     char *errstr, size_t errstr_size)
{
	const char *values[1] = {sku};
	PGresult *res = NULL;
	int rc =
	    souk_pg_exec_prepared(pg, "inv_lock", 1, values, &res, errstr, errstr_size);

	*found = rc == SOUK_PG_OK && PQntuples(res) == 1;
	if (*found)
		inv_sql_stock_row(res, 0, out);
	PQclear(res);
	return rc;
}

int
inv_sql_bought(struct souk_pg *pg, const char *sku, struct inv_tally *users, size_t n,
	       char *errstr, size_t errstr_size)
{
	struct souk_pgarray ids;
	const char *values[2] = {sku};
	PGresult *res = NULL;
	int rc = SOUK_PG_ERROR;

	souk_pgarray_init(&ids);
	for (size_t i = 0; i < n; i++)
		souk_pgarray_add_str(&ids, users[i].user_id);
	values[1] = souk_pgarray_text(&ids);
	if (!values[1]) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	rc =
	    souk_pg_exec_prepared(pg, "inv_bought", 2, values, &res, errstr, errstr_size);
	if (rc != SOUK_PG_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		users[i].qty = 0;
		for (int r = 0; r < PQntuples(res); r++)
			if (strcmp(PQgetvalue(res, r, 0), users[i].user_id) == 0)
				users[i].qty = inv_sql_int(res, r, 1);
	}
out:
	PQclear(res);
	souk_pgarray_free(&ids);
	return rc;
}

size_t
inv_sql_record_rows(const struct inv_order *orders, size_t n, struct souk_pgcopy *copy)
{
	size_t rows = 0;

	souk_pgcopy_init(copy);
	for (size_t i = 0; i < n; i++) {
		const struct inv_order *ord = &orders[i];
		const struct souk_pool_event *src = ord->src;

		if (ord->route == INV_ROUTE_DUPLICATE || ord->route == INV_ROUTE_REPEAT)
			continue;
		souk_pgcopy_row(copy, INV_COLS);
		souk_pgcopy_str(copy, ord->o.order_id);
		souk_pgcopy_str(copy, ord->o.sku);
		souk_pgcopy_str(copy, ord->o.user_id);
		souk_pgcopy_int8(copy, ord->o.qty);
		souk_pgcopy_str(copy, inv_answer_status(ord->answer));
		souk_pgcopy_str(copy, ord->answer == INV_ACCEPTED
					  ? NULL
					  : inv_answer_name(ord->answer));
		souk_pgcopy_uuid(copy, ord->result_id);
		souk_pgcopy_uuid(copy, src->ev.event_id);
		souk_pgcopy_str(copy, src->topic);
		souk_pgcopy_int4(copy, src->partition);
		souk_pgcopy_int8(copy, src->offset);
		rows++;
	}
	return rows;
}

int
inv_sql_record(struct souk_pg *pg, const struct inv_order *orders, size_t n, char *errstr,
	       size_t errstr_size)
{
	static const char sql[] =
	    "COPY orders (order_id, sku, user_id, qty, status, reason, result_id, "
	    "source_event_id, source_topic, source_partition, source_offset) "
	    "FROM STDIN (FORMAT binary)";
	struct souk_pgcopy copy;
	size_t rows = inv_sql_record_rows(orders, n, &copy);
	int rc = SOUK_PG_OK;

	if (souk_pgcopy_finish(&copy, errstr, errstr_size))
		rc = SOUK_PG_ERROR;
	else if (rows)
		rc = souk_pg_copy_in(pg, sql, copy.buf, copy.len, errstr, errstr_size);
	souk_pgcopy_free(&copy);
	return rc;
}

int
inv_sql_stock_set(struct souk_pg *pg, const char *event_id,
		  const souk_event_stock_set_t *s, bool *applied, char *errstr,
		  size_t errstr_size)
{
	char stock[24], limit[24];
	const char *values[4] = {s->sku, stock, s->has_limit_per_user ? limit : NULL,
				 event_id};
	PGresult *res = NULL;
	int rc;

	snprintf(stock, sizeof(stock), "%" PRId64, s->stock);
	snprintf(limit, sizeof(limit), "%" PRId64, s->limit_per_user);
	rc = souk_pg_exec_prepared(pg, "inv_stock_set", 4, values, &res, errstr,
				   errstr_size);
	*applied = rc == SOUK_PG_OK && strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return rc;
}

int
inv_sql_truth(struct souk_pg *pg, const char *sku, const struct inv_reservation *reserved,
	      size_t n, struct inv_truth *out, char *errstr, size_t errstr_size)
{
	struct souk_pgarray ids;
	const char *values[2] = {sku};
	PGresult *res = NULL;
	int rc = SOUK_PG_ERROR, rows;

	*out = (struct inv_truth){0};
	souk_pgarray_init(&ids);
	for (size_t i = 0; i < n; i++)
		souk_pgarray_add_str(&ids, reserved[i].order_id);
	values[1] = souk_pgarray_text(&ids);
	if (!values[1]) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	rc = souk_pg_exec_prepared(pg, "inv_truth", 2, values, &res, errstr, errstr_size);
	if (rc != SOUK_PG_OK)
		goto out;
	rows = PQntuples(res);
	out->result = res;
	out->bought = calloc((size_t)rows + 1, sizeof(*out->bought));
	out->decided = calloc((size_t)rows + 1, sizeof(*out->decided));
	if (!out->bought || !out->decided) {
		snprintf(errstr, errstr_size, "out of memory");
		inv_sql_truth_free(out);
		rc = SOUK_PG_ERROR;
		goto out;
	}
	for (int r = 0; r < rows; r++) {
		const char *kind = PQgetvalue(res, r, 0), *v = PQgetvalue(res, r, 1);

		if (kind[0] == 's') {
			out->found = true;
			out->available = strtoll(v, NULL, 10);
			out->limit = inv_sql_int(res, r, 2);
		} else if (kind[0] == 'u') {
			out->bought[out->nbought++] =
			    (struct inv_tally){v, inv_sql_int(res, r, 2)};
		} else {
			out->decided[out->ndecided++] = v;
		}
	}
out:
	souk_pgarray_free(&ids);
	return rc;
}

void
inv_sql_truth_free(struct inv_truth *t)
{
	PQclear(t->result);
	free(t->bought);
	free(t->decided);
	*t = (struct inv_truth){0};
}

int
inv_sql_skus(struct souk_pg *pg, char ***skus, size_t *n, char *errstr,
	     size_t errstr_size)
{
	PGresult *res = NULL;
	int rc =
	    souk_pg_exec_prepared(pg, "inv_skus", 0, NULL, &res, errstr, errstr_size);
	int rows;

	*skus = NULL;
	*n = 0;
	if (rc != SOUK_PG_OK)
		return rc;
	rows = PQntuples(res);
	*skus = calloc((size_t)rows + 1, sizeof(**skus));
	for (int r = 0; *skus && r < rows; r++, (*n)++)
		if (!((*skus)[r] = strdup(PQgetvalue(res, r, 0))))
			break;
	PQclear(res);
	if (*skus && *n == (size_t)rows)
		return SOUK_PG_OK;
	while (*n)
		free((*skus)[--*n]);
	free(*skus);
	*skus = NULL;
	snprintf(errstr, errstr_size, "out of memory");
	return SOUK_PG_ERROR;
}
