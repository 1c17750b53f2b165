/*
 * souk_pg: a PostgreSQL session over libpq that reconnects by itself between
 * transactions and re-prepares its statements, but never hides a lost
 * transaction.
 *
 * A handle is used by one thread at a time. Parameters and results are in
 * text format, unless a call says binary.
 */
#ifndef SOUK_PG_H
#define SOUK_PG_H

#include <stddef.h>

#include <libpq-fe.h>

/* SQLSTATEs callers branch on (see souk_pg_sqlstate). */
#define SOUK_PG_UNIQUE_VIOLATION "23505"
#define SOUK_PG_SERIALIZATION_FAILURE "40001"
#define SOUK_PG_DEADLOCK_DETECTED "40P01"

/* Return values of the calls that run SQL. */
enum souk_pg_status {
	SOUK_PG_OK = 0,
	/* the statement failed (see souk_pg_sqlstate), or reconnecting failed */
	SOUK_PG_ERROR = -1,
	/*
	 * The connection broke while this call used it. An open transaction is
	 * gone (the server rolled it back) and a statement outside one may or may
	 * not have been applied. The next call reconnects.
	 */
	SOUK_PG_ELOST = -2,
};

struct souk_pg;

/*
 * Connects to dsn (a libpq connection string), retrying with backoff (100 ms
 * doubling to 2 s) until timeout_ms has passed; each attempt is bounded by
 * what is left. timeout_ms also bounds every later reconnection. A dsn that
 * does not parse fails at once.
 * Returns a handle to free with souk_pg_destroy, or NULL with errstr.
 */
struct souk_pg *souk_pg_connect(const char *dsn, int timeout_ms, char *errstr,
				size_t errstr_size);

void souk_pg_destroy(struct souk_pg *pg);

/*
 * Prepares sql under name with nparams text parameters ($1..$n, types
 * inferred by the server) and remembers it, so that it is prepared again on
 * every new connection. A statement that fails to prepare is not remembered.
 * Preparing the same name and sql again is a no-op (O(statements)); the same name
 * with other sql is an error.
 */
int souk_pg_prepare(struct souk_pg *pg, const char *name, const char *sql, int nparams,
		    char *errstr, size_t errstr_size);

/*
 * Runs the prepared statement name with nparams text values (a NULL value is
 * SQL NULL). On SOUK_PG_OK and out not NULL, *out is the result, owned by the
 * caller (PQclear); otherwise *out is NULL.
 *
 * Every call that runs SQL first checks the idle connection (one non-blocking
 * read). If the server closed it and no transaction was open, the handle
 * reconnects before sending anything; if a transaction was open, the call
 * returns SOUK_PG_ELOST.
 */
int souk_pg_exec_prepared(struct souk_pg *pg, const char *name, int nparams,
			  const char *const *values, PGresult **out, char *errstr,
			  size_t errstr_size);

/* As souk_pg_exec_prepared, with the result in binary format: each value in its
 * type's binary form (bytea as the bytes, integers big-endian), no text to decode. */
int souk_pg_exec_prepared_binary(struct souk_pg *pg, const char *name, int nparams,
				 const char *const *values, PGresult **out, char *errstr,
				 size_t errstr_size);

/* Runs sql (one or more statements, no parameters). *out as in souk_pg_exec_prepared. */
int souk_pg_exec(struct souk_pg *pg, const char *sql, PGresult **out, char *errstr,
		 size_t errstr_size);

/*
 * Runs sql, a COPY ... FROM STDIN, and sends it data (the whole input, e.g. a
 * souk_pgcopy buffer). Fails, sending nothing, when sql is not a COPY FROM STDIN.
 */
int souk_pg_copy_in(struct souk_pg *pg, const char *sql, const char *data, size_t len,
		    char *errstr, size_t errstr_size);

/* BEGIN. */
int souk_pg_begin(struct souk_pg *pg, char *errstr, size_t errstr_size);

/*
 * COMMIT. A transaction in which a statement failed cannot commit: the server
 * rolls it back, and this returns SOUK_PG_ERROR saying so.
 */
int souk_pg_commit(struct souk_pg *pg, char *errstr, size_t errstr_size);

/* ROLLBACK. */
int souk_pg_rollback(struct souk_pg *pg, char *errstr, size_t errstr_size);

/* SAVEPOINT name, ROLLBACK TO SAVEPOINT name, RELEASE SAVEPOINT name (name is quoted). */
int souk_pg_savepoint(struct souk_pg *pg, const char *name, char *errstr,
		      size_t errstr_size);
int souk_pg_rollback_to(struct souk_pg *pg, const char *name, char *errstr,
			size_t errstr_size);
int souk_pg_release(struct souk_pg *pg, const char *name, char *errstr,
		    size_t errstr_size);

/*
 * The SQLSTATE of the last failed call, "" when the last call succeeded or its
 * error had none (a client-side failure). Valid until the next call.
 */
const char *souk_pg_sqlstate(const struct souk_pg *pg);

#endif
