/*
 * souk_pg: see souk_pg.h.
 *
 * Invariant: when pg->conn is CONNECTION_OK, every statement in pg->stmts is
 * prepared on it. pg->in_tx says whether a transaction was open after the last
 * exchange with the server; it decides whether a broken connection may be
 * replaced silently (no) or must be reported as SOUK_PG_ELOST (yes).
 */
#include "souk_pg.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

struct souk_pg_stmt {
	char *name;
	char *sql;
	int nparams;
};

struct souk_pg {
	char *dsn;
	int timeout_ms;
	PGconn *conn; /* NULL when the last reconnection failed */
	bool in_tx;
	struct souk_pg_stmt *stmts;
	size_t nstmts;
	char sqlstate[6];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Copies libpq's multi-line message to dst on one line, without trailing space. */
static void
copy_message(char *dst, size_t dst_size, const char *msg)
{
	size_t o = 0;
	bool space = false;

	for (; *msg && o + 1 < dst_size; msg++) {
		if (*msg == '\n' || *msg == '\t' || *msg == ' ') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < dst_size)
			dst[o++] = ' ';
		space = false;
		dst[o++] = *msg;
	}
	if (dst_size > 0)
		dst[o] = '\0';
}

/* One connection attempt, polled so that it ends by deadline. */
static PGconn *
connect_once(const char *dsn, int64_t deadline, char *errstr, size_t errstr_size)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *conn = PQconnectStart(dsn);

	if (!conn) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		struct pollfd pfd = {.fd = PQsocket(conn),
				     .events =
					 st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
		int64_t left = deadline - now_ms();
		/* past the deadline, still take an answer that is already there */
		int n = poll(&pfd, 1, left > 0 ? (int)left : 0);

		if (n < 0 && errno != EINTR) {
			snprintf(errstr, errstr_size, "poll failed: %s", strerror(errno));
			goto fail;
		}
		if (n == 0) {
			snprintf(errstr, errstr_size, "timed out");
			goto fail;
		}
		if (n > 0)
			st = PQconnectPoll(conn);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		copy_message(errstr, errstr_size, PQerrorMessage(conn));
		goto fail;
	}
	return conn;
fail:
	PQfinish(conn);
	return NULL;
}

/*
 * Replaces pg->conn with a new connection, retrying with backoff for
 * pg->timeout_ms, and prepares every remembered statement on it.
 */
static int
reconnect(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	int64_t deadline = now_ms() + pg->timeout_ms, backoff = BACKOFF_FIRST_MS, left;
	char last[512];
	size_t i;

	PQfinish(pg->conn);
	pg->conn = NULL;
	pg->in_tx = false;
	for (;;) {
		pg->conn = connect_once(pg->dsn, deadline, last, sizeof(last));
		if (pg->conn)
			break;
		left = deadline - now_ms();
		if (left <= 0) {
			snprintf(errstr, errstr_size,
				 "could not connect to postgresql within %d ms: %s",
				 pg->timeout_ms, last);
			return SOUK_PG_ERROR;
		}
		sleep_ms(backoff < left ? backoff : left);
		backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
	}
	for (i = 0; i < pg->nstmts; i++) {
		const struct souk_pg_stmt *s = &pg->stmts[i];
		PGresult *res = PQprepare(pg->conn, s->name, s->sql, s->nparams, NULL);
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok) {
			copy_message(last, sizeof(last),
				     res ? PQresultErrorMessage(res)
					 : PQerrorMessage(pg->conn));
			snprintf(errstr, errstr_size,
				 "could not prepare \"%s\" again after reconnecting: %s",
				 s->name, last);
		}
		PQclear(res);
		if (!ok) {
			PQfinish(pg->conn);
			pg->conn = NULL;
			return SOUK_PG_ERROR;
		}
	}
	return SOUK_PG_OK;
}

/*
 * Makes pg->conn usable before a call. Costs one poll(2) when the connection
 * is fine: a socket readable while idle means the server sent something
 * (typically its last words before closing), which PQconsumeInput reads until
 * it finds the end of the connection or nothing more is pending.
 */
static int
ensure_connected(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	char msg[512];

	pg->sqlstate[0] = '\0';
	if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK) {
		struct pollfd pfd = {.fd = PQsocket(pg->conn), .events = POLLIN};

		while (PQstatus(pg->conn) == CONNECTION_OK && poll(&pfd, 1, 0) > 0 &&
		       PQconsumeInput(pg->conn))
			;
		if (PQstatus(pg->conn) == CONNECTION_OK)
			return SOUK_PG_OK;
	}
	if (pg->in_tx) {
		pg->in_tx = false;
		copy_message(msg, sizeof(msg), PQerrorMessage(pg->conn));
		snprintf(
		    errstr, errstr_size,
		    "postgresql connection lost inside a transaction, which the server "
		    "rolled back: %s",
		    msg);
		return SOUK_PG_ELOST;
	}
	return reconnect(pg, errstr, errstr_size);
}

/*
 * Judges res, the answer to what (e.g. "prepared statement \"x\""), and takes
 * it: res is handed to *out on success, freed otherwise.
 */
static int
finish(struct souk_pg *pg, PGresult *res, PGresult **out, const char *what, char *errstr,
       size_t errstr_size)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state, *primary, *detail;
	char msg[512];
	int rc = SOUK_PG_ERROR;

	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state);
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
		copy_message(msg, sizeof(msg), PQerrorMessage(pg->conn));
		snprintf(errstr, errstr_size,
			 "postgresql connection lost during %s, %s: %s", what,
			 pg->in_tx ? "the open transaction was rolled back"
				   : "which may or may not have been applied",
			 msg);
		pg->in_tx = false;
		rc = SOUK_PG_ELOST;
		goto out;
	}
	pg->in_tx = PQtransactionStatus(pg->conn) != PQTRANS_IDLE;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		if (primary)
			snprintf(msg, sizeof(msg), "%s%s%s%s", primary,
				 detail ? " (" : "", detail ? detail : "",
				 detail ? ")" : "");
		else
			copy_message(msg, sizeof(msg),
				     res ? PQresultErrorMessage(res)
					 : PQerrorMessage(pg->conn));
		snprintf(errstr, errstr_size, "could not execute %s: %s", what, msg);
		goto out;
	}
	if (out) {
		*out = res; /* owned by the caller */
		res = NULL;
	}
	rc = SOUK_PG_OK;
out:
	PQclear(res);
	return rc;
}

struct souk_pg *
souk_pg_connect(const char *dsn, int timeout_ms, char *errstr, size_t errstr_size)
{
	PQconninfoOption *opts = NULL;
	struct souk_pg *pg = NULL;
	char *parse_err = NULL;

	opts = PQconninfoParse(dsn, &parse_err);
	if (!opts) {
		char msg[256];

		copy_message(msg, sizeof(msg), parse_err ? parse_err : "out of memory");
		snprintf(errstr, errstr_size, "could not parse postgresql dsn: %s", msg);
		goto fail;
	}
	pg = calloc(1, sizeof(*pg));
	if (!pg || !(pg->dsn = strdup(dsn))) {
		snprintf(errstr, errstr_size, "could not allocate a postgresql handle");
		goto fail;
	}
	pg->timeout_ms = timeout_ms;
	if (reconnect(pg, errstr, errstr_size) != SOUK_PG_OK)
		goto fail;
	PQconninfoFree(opts);
	return pg;
fail:
	PQfreemem(parse_err);
	PQconninfoFree(opts);
	souk_pg_destroy(pg);
	return NULL;
}

void
souk_pg_destroy(struct souk_pg *pg)
{
	size_t i;

	if (!pg)
		return;
	PQfinish(pg->conn);
	for (i = 0; i < pg->nstmts; i++) {
		free(pg->stmts[i].name);
		free(pg->stmts[i].sql);
	}
	free(pg->stmts);
	free(pg->dsn);
	free(pg);
}

int
souk_pg_prepare(struct souk_pg *pg, const char *name, const char *sql, int nparams,
		char *errstr, size_t errstr_size)
{
	struct souk_pg_stmt *grown, s = {0};
	char what[128];
	int rc;

	/* Already prepared on this session (and re-prepared on every new one). */
	for (size_t i = 0; i < pg->nstmts; i++) {
		if (strcmp(pg->stmts[i].name, name))
			continue;
		if (!strcmp(pg->stmts[i].sql, sql))
			return SOUK_PG_OK;
		snprintf(
		    errstr, errstr_size,
		    "could not prepare \"%s\": the name is taken by another statement",
		    name);
		return SOUK_PG_ERROR;
	}
	rc = ensure_connected(pg, errstr, errstr_size);
	if (rc != SOUK_PG_OK)
		return rc;
	snprintf(what, sizeof(what), "PREPARE \"%s\"", name);
	rc = finish(pg, PQprepare(pg->conn, name, sql, nparams, NULL), NULL, what, errstr,
		    errstr_size);
	if (rc != SOUK_PG_OK)
		return rc;

	s.name = strdup(name);
	s.sql = strdup(sql);
	s.nparams = nparams;
	grown = realloc(pg->stmts, (pg->nstmts + 1) * sizeof(*grown));
	if (!s.name || !s.sql || !grown) {
		if (grown)
			pg->stmts = grown;
		free(s.name);
		free(s.sql);
		snprintf(errstr, errstr_size,
			 "could not remember prepared statement \"%s\"", name);
		return SOUK_PG_ERROR;
	}
	pg->stmts = grown;
	pg->stmts[pg->nstmts++] = s; /* strings owned by pg */
	return SOUK_PG_OK;
}

/* Runs a prepared statement; result_format 0: text, 1: binary. */
static int
exec_prepared(struct souk_pg *pg, const char *name, int nparams,
	      const char *const *values, int result_format, PGresult **out, char *errstr,
	      size_t errstr_size)
{
	char what[128];
	int rc;

	if (out)
		*out = NULL;
	rc = ensure_connected(pg, errstr, errstr_size);
	if (rc != SOUK_PG_OK)
		return rc;
	snprintf(what, sizeof(what), "prepared statement \"%s\"", name);
	return finish(pg,
		      PQexecPrepared(pg->conn, name, nparams, values, NULL, NULL,
				     result_format),
		      out, what, errstr, errstr_size);
}

int
souk_pg_exec_prepared(struct souk_pg *pg, const char *name, int nparams,
		      const char *const *values, PGresult **out, char *errstr,
		      size_t errstr_size)
{
	return exec_prepared(pg, name, nparams, values, 0, out, errstr, errstr_size);
}

int
souk_pg_exec_prepared_binary(struct souk_pg *pg, const char *name, int nparams,
			     const char *const *values, PGresult **out, char *errstr,
			     size_t errstr_size)
{
	return exec_prepared(pg, name, nparams, values, 1, out, errstr, errstr_size);
}

int
souk_pg_exec(struct souk_pg *pg, const char *sql, PGresult **out, char *errstr,
	     size_t errstr_size)
{
	char what[96];
	int rc;

	if (out)
		*out = NULL;
	rc = ensure_connected(pg, errstr, errstr_size);
	if (rc != SOUK_PG_OK)
		return rc;
	snprintf(what, sizeof(what), "\"%.64s%s\"", sql, strlen(sql) > 64 ? "..." : "");
	return finish(pg, PQexec(pg->conn, sql), out, what, errstr, errstr_size);
}

int
souk_pg_copy_in(struct souk_pg *pg, const char *sql, const char *data, size_t len,
		char *errstr, size_t errstr_size)
{
	char what[96];
	PGresult *res, *extra;
	int rc;

	rc = ensure_connected(pg, errstr, errstr_size);
	if (rc != SOUK_PG_OK)
		return rc;
	snprintf(what, sizeof(what), "\"%.64s%s\"", sql, strlen(sql) > 64 ? "..." : "");
	res = PQexec(pg->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = finish(pg, res, NULL, what, errstr, errstr_size);
		if (rc == SOUK_PG_OK) {
			snprintf(errstr, errstr_size, "%s is not a COPY FROM STDIN", what);
			rc = SOUK_PG_ERROR;
		}
		return rc;
	}
	PQclear(res);
	/* A failed send aborts the COPY; the result that follows says why. */
	if (len > INT_MAX || PQputCopyData(pg->conn, data, (int)len) != 1)
		PQputCopyEnd(pg->conn, "the client could not send the COPY data");
	else
		PQputCopyEnd(pg->conn, NULL);
	rc = finish(pg, PQgetResult(pg->conn), NULL, what, errstr, errstr_size);
	while ((extra = PQgetResult(pg->conn)))
		PQclear(extra);
	return rc;
}

int
souk_pg_begin(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	return souk_pg_exec(pg, "BEGIN", NULL, errstr, errstr_size);
}

int
souk_pg_commit(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	int rc;

	rc = souk_pg_exec(pg, "COMMIT", &res, errstr, errstr_size);
	if (rc == SOUK_PG_OK && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		snprintf(
		    errstr, errstr_size,
		    "could not commit: a statement in the transaction failed, so the "
		    "server rolled it back");
		rc = SOUK_PG_ERROR;
	}
	PQclear(res);
	return rc;
}

int
souk_pg_rollback(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	return souk_pg_exec(pg, "ROLLBACK", NULL, errstr, errstr_size);
}

/* Runs "<verb> <name as a quoted identifier>". */
static int
savepoint_command(struct souk_pg *pg, const char *verb, const char *name, char *errstr,
		  size_t errstr_size)
{
	size_t len = strlen(verb) + 2 * strlen(name) + 4, o;
	char *sql = malloc(len);
	int rc;

	if (!sql) {
		snprintf(errstr, errstr_size, "could not allocate %s \"%s\"", verb, name);
		return SOUK_PG_ERROR;
	}
	o = (size_t)sprintf(sql, "%s \"", verb);
	for (; *name; name++) {
		if (*name == '"')
			sql[o++] = '"';
		sql[o++] = *name;
	}
	sql[o++] = '"';
	sql[o] = '\0';
	rc = souk_pg_exec(pg, sql, NULL, errstr, errstr_size);
	free(sql);
	return rc;
}

int
souk_pg_savepoint(struct souk_pg *pg, const char *name, char *errstr, size_t errstr_size)
{
	return savepoint_command(pg, "SAVEPOINT", name, errstr, errstr_size);
}

int
souk_pg_rollback_to(struct souk_pg *pg, const char *name, char *errstr,
		    size_t errstr_size)
{
	return savepoint_command(pg, "ROLLBACK TO SAVEPOINT", name, errstr, errstr_size);
}

int
souk_pg_release(struct souk_pg *pg, const char *name, char *errstr, size_t errstr_size)
{
	return savepoint_command(pg, "RELEASE SAVEPOINT", name, errstr, errstr_size);
}

const char *
souk_pg_sqlstate(const struct souk_pg *pg)
{
	return pg->sqlstate;
}
