/*
 * inv_sql: the inventory pool's statements on the tables of
 * schemas/sql/002_inventory.sql.
 *
 * Each call is one statement (one round trip) over a whole batch or one SKU, with array
 * parameters (souk_pgarray) instead of one statement per order. They run in the
 * caller's transaction. Every call returns a souk_pg status (SOUK_PG_OK, SOUK_PG_ERROR
 * with souk_pg_sqlstate telling why, SOUK_PG_ELOST) with errstr filled on failure.
 */
#ifndef INV_SQL_H
#define INV_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inv_decide.h"
#include "inv_redis.h"
#include "souk_pg.h"
#include "souk_pgcopy.h"

/* Prepares every statement below on pg (once per session; souk_pg re-prepares them
 * after a reconnection). */
int inv_sql_prepare(struct souk_pg *pg, char *errstr, size_t errstr_size);

/* PostgreSQL's answers for the order ids of orders[0..n), into a malloc'd *out of *nout
 * entries (the caller frees it). */
int inv_sql_decided(struct souk_pg *pg, const struct inv_order *orders, size_t n,
		    struct inv_stored **out, size_t *nout, char *errstr,
		    size_t errstr_size);

/* The stock rows of the SKUs of orders[0..n), into a malloc'd *out of *nout entries. */
int inv_sql_stock(struct souk_pg *pg, const struct inv_order *orders, size_t n,
		  struct inv_stock **out, size_t *nout, char *errstr, size_t errstr_size);

/*
 * Takes total from sku's stock and adds users[0..n) (distinct, qty > 0, summing to
 * total) to their purchases, in one statement, if the row's version is still version,
 * at least total is left and no user goes over the limit; otherwise writes nothing.
 * *taken says which; when taken, *available is what is left.
 */
int inv_sql_take(struct souk_pg *pg, const char *sku, int64_t version, int64_t total,
		 const struct inv_tally *users, size_t n, bool *taken, int64_t *available,
		 char *errstr, size_t errstr_size);

/* Reads sku's stock row and locks it until the transaction ends (SELECT ... FOR
 * UPDATE). *found false when there is none. */
int inv_sql_lock(struct souk_pg *pg, const char *sku, struct inv_stock *out, bool *found,
		 char *errstr, size_t errstr_size);

/* Sets users[i].qty to what user i bought of sku so far (0 if nothing). */
int inv_sql_bought(struct souk_pg *pg, const char *sku, struct inv_tally *users, size_t n,
		   char *errstr, size_t errstr_size);

/* The columns of the orders insert, in order. */
enum {
	INV_COL_ORDER_ID,
	INV_COL_SKU,
	INV_COL_USER_ID,
	INV_COL_QTY,
	INV_COL_STATUS,
	INV_COL_REASON,
	INV_COL_RESULT_ID,
	INV_COL_SOURCE_EVENT_ID,
	INV_COL_SOURCE_TOPIC,
	INV_COL_SOURCE_PARTITION,
	INV_COL_SOURCE_OFFSET,
	INV_COLS
};

/*
 * The rows of the orders of orders[0..n) that are decided now (not DUPLICATE nor
 * REPEAT: those have their row already), as a COPY into orders whose columns are in
 * the order of enum inv_col. Initializes copy (the caller frees it). Returns how many
 * rows.
 */
size_t inv_sql_record_rows(const struct inv_order *orders, size_t n,
			   struct souk_pgcopy *copy);

/* Writes the rows of inv_sql_record_rows in one COPY (none: nothing is sent). A row
 * already there fails with SOUK_PG_UNIQUE_VIOLATION. */
int inv_sql_record(struct souk_pg *pg, const struct inv_order *orders, size_t n,
		   char *errstr, size_t errstr_size);

/* Applies the stock_set event event_id: creates the SKU or sets its available stock
 * (and its limit, when given; an absent limit keeps the current one), bumping its
 * version, unless that event was applied before (stock_sets): *applied says which. */
int inv_sql_stock_set(struct souk_pg *pg, const char *event_id,
		      const souk_event_stock_set_t *s, bool *applied, char *errstr,
		      size_t errstr_size);

/* PostgreSQL's side of one SKU, read at one instant (one statement). */
struct inv_truth {
	void *result; /* the PGresult every string points into */
	bool found;   /* the SKU has a stock row */
	int64_t available;
	int64_t limit;		  /* 0: none */
	struct inv_tally *bought; /* every user who bought some */
	size_t nbought;
	const char **decided; /* the order ids among those asked that PostgreSQL holds */
	size_t ndecided;
};

/* Reads sku's truth, asking which of reserved[0..n)'s order ids are decided. Free
 * *out with inv_sql_truth_free. Cost: O(users of the SKU + n). */
int inv_sql_truth(struct souk_pg *pg, const char *sku,
		  const struct inv_reservation *reserved, size_t n, struct inv_truth *out,
		  char *errstr, size_t errstr_size);
void inv_sql_truth_free(struct inv_truth *t);

/* Every SKU of the stock table, in byte order, into a malloc'd array of *n malloc'd
 * strings (free each, then the array). */
int inv_sql_skus(struct souk_pg *pg, char ***skus, size_t *n, char *errstr,
		 size_t errstr_size);

#endif
