/*
 * souk_pg against the real server at SOUK_PG_DSN: prepared statements,
 * transactions, savepoints, SQLSTATEs, and a backend killed from a second
 * connection, inside and outside a transaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "souk_pg.h"

#define DEFAULT_DSN "host=127.0.0.1 port=15432 dbname=souk user=souk"
#define TIMEOUT_MS 10000

static const char *
dsn(void)
{
	const char *env = getenv("SOUK_PG_DSN");

	return env && *env ? env : DEFAULT_DSN;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each test gets a session with a temporary table and two prepared statements. */
static int
setup(void **state)
{
	char err[512];
	struct souk_pg *pg = souk_pg_connect(dsn(), TIMEOUT_MS, err, sizeof(err));

	if (!pg)
		fail_msg("%s", err);
	if (souk_pg_exec(pg,
			 "CREATE TEMP TABLE items (id int PRIMARY KEY, v text NOT NULL)",
			 NULL, err, sizeof(err)) ||
	    souk_pg_prepare(pg, "ins", "INSERT INTO items (id, v) VALUES ($1, $2)", 2,
			    err, sizeof(err)) ||
	    souk_pg_prepare(pg, "ids",
			    "SELECT string_agg(id::text, ',' ORDER BY id) FROM items", 0,
			    err, sizeof(err)))
		fail_msg("%s", err);
	*state = pg;
	return 0;
}

/* A session with "pid" prepared and no temporary table, for the kill tests. */
static int
setup_session(void **state)
{
	char err[512];
	struct souk_pg *pg = souk_pg_connect(dsn(), TIMEOUT_MS, err, sizeof(err));

	if (!pg)
		fail_msg("%s", err);
	if (souk_pg_prepare(pg, "pid", "SELECT pg_backend_pid()", 0, err, sizeof(err)))
		fail_msg("%s", err);
	*state = pg;
	return 0;
}

static int
teardown(void **state)
{
	souk_pg_destroy(*state);
	return 0;
}

static void
insert(struct souk_pg *pg, const char *id, const char *v)
{
	const char *values[] = {id, v};
	char err[512];

	if (souk_pg_exec_prepared(pg, "ins", 2, values, NULL, err, sizeof(err)) !=
	    SOUK_PG_OK)
		fail_msg("%s", err);
}

/* The ids in the table, "1,3", or "" when it is empty. */
static void
assert_ids(struct souk_pg *pg, const char *expect)
{
	PGresult *res = NULL;
	char err[512];

	if (souk_pg_exec_prepared(pg, "ids", 0, NULL, &res, err, sizeof(err)) !=
	    SOUK_PG_OK)
		fail_msg("%s", err);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), expect);
	PQclear(res);
}

static int
backend_pid(struct souk_pg *pg)
{
	PGresult *res = NULL;
	char err[512];
	int pid;

	if (souk_pg_exec_prepared(pg, "pid", 0, NULL, &res, err, sizeof(err)) !=
	    SOUK_PG_OK)
		fail_msg("%s", err);
	pid = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return pid;
}

/* Terminates backend pid from a second connection and waits until it has exited. */
static void
kill_backend(int pid)
{
	char err[512], sql[128];
	struct souk_pg *admin = souk_pg_connect(dsn(), TIMEOUT_MS, err, sizeof(err));
	PGresult *res = NULL;
	const struct timespec socket_close = {.tv_nsec = 200 * 1000000};

	if (!admin)
		fail_msg("%s", err);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d, 5000)", pid);
	if (souk_pg_exec(admin, sql, &res, err, sizeof(err)) != SOUK_PG_OK)
		fail_msg("%s", err);
	assert_string_equal(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	souk_pg_destroy(admin);
	/* the backend leaves the process list just before its socket closes */
	nanosleep(&socket_close, NULL);
}

static void
test_prepared_round_trip(void **state)
{
	struct souk_pg *pg = *state;
	const char *id[] = {"2"};
	PGresult *res = NULL;
	char err[512];

	assert_int_equal(souk_pg_prepare(pg, "get", "SELECT v FROM items WHERE id = $1",
					 1, err, sizeof(err)),
			 SOUK_PG_OK);
	insert(pg, "1", "one");
	insert(pg, "2", "two, with 'quotes' and ünïcode");
	assert_int_equal(souk_pg_exec_prepared(pg, "get", 1, id, &res, err, sizeof(err)),
			 SOUK_PG_OK);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), "two, with 'quotes' and ünïcode");
	PQclear(res);
	assert_string_equal(souk_pg_sqlstate(pg), "");
}

static void
test_rollback_leaves_nothing(void **state)
{
	struct souk_pg *pg = *state;
	char err[512];

	assert_int_equal(souk_pg_begin(pg, err, sizeof(err)), SOUK_PG_OK);
	insert(pg, "1", "a");
	insert(pg, "2", "b");
	assert_int_equal(souk_pg_rollback(pg, err, sizeof(err)), SOUK_PG_OK);
	assert_ids(pg, "");
}

static void
test_savepoint_rollback_keeps_the_rest(void **state)
{
	struct souk_pg *pg = *state;
	char err[512];

	assert_int_equal(souk_pg_begin(pg, err, sizeof(err)), SOUK_PG_OK);
	insert(pg, "1", "kept");
	assert_int_equal(souk_pg_savepoint(pg, "event \"2\"", err, sizeof(err)),
			 SOUK_PG_OK);
	insert(pg, "2", "undone");
	assert_int_equal(souk_pg_rollback_to(pg, "event \"2\"", err, sizeof(err)),
			 SOUK_PG_OK);
	assert_int_equal(souk_pg_release(pg, "event \"2\"", err, sizeof(err)),
			 SOUK_PG_OK);
	assert_int_equal(souk_pg_savepoint(pg, "event 3", err, sizeof(err)), SOUK_PG_OK);
	insert(pg, "3", "kept");
	assert_int_equal(souk_pg_release(pg, "event 3", err, sizeof(err)), SOUK_PG_OK);
	assert_int_equal(souk_pg_commit(pg, err, sizeof(err)), SOUK_PG_OK);
	assert_ids(pg, "1,3");
}

/* A failed statement inside a savepoint is undone by rolling back to it. */
static void
test_savepoint_recovers_a_failed_statement(void **state)
{
	struct souk_pg *pg = *state;
	const char *dup[] = {"1", "again"};
	char err[512];

	assert_int_equal(souk_pg_begin(pg, err, sizeof(err)), SOUK_PG_OK);
	insert(pg, "1", "first");
	assert_int_equal(souk_pg_savepoint(pg, "ev", err, sizeof(err)), SOUK_PG_OK);
	assert_int_equal(souk_pg_exec_prepared(pg, "ins", 2, dup, NULL, err, sizeof(err)),
			 SOUK_PG_ERROR);
	assert_int_equal(souk_pg_rollback_to(pg, "ev", err, sizeof(err)), SOUK_PG_OK);
	insert(pg, "2", "second");
	assert_int_equal(souk_pg_commit(pg, err, sizeof(err)), SOUK_PG_OK);
	assert_ids(pg, "1,2");
}

static void
test_unique_violation_sqlstate(void **state)
{
	struct souk_pg *pg = *state;
	const char *dup[] = {"7", "again"};
	char err[512];

	insert(pg, "7", "first");
	assert_int_equal(souk_pg_exec_prepared(pg, "ins", 2, dup, NULL, err, sizeof(err)),
			 SOUK_PG_ERROR);
	assert_string_equal(souk_pg_sqlstate(pg), SOUK_PG_UNIQUE_VIOLATION);
	assert_non_null(strstr(err, "could not execute prepared statement \"ins\""));
	assert_non_null(strstr(err, "items_pkey"));
	assert_non_null(strstr(err, "Key (id)=(7) already exists"));
	/* the next successful call clears it */
	assert_ids(pg, "7");
	assert_string_equal(souk_pg_sqlstate(pg), "");
}

/* COMMIT after a failed statement is a rollback on the server, and must say so. */
static void
test_commit_of_failed_transaction_is_an_error(void **state)
{
	struct souk_pg *pg = *state;
	const char *dup[] = {"1", "again"};
	char err[512];

	assert_int_equal(souk_pg_begin(pg, err, sizeof(err)), SOUK_PG_OK);
	insert(pg, "1", "first");
	assert_int_equal(souk_pg_exec_prepared(pg, "ins", 2, dup, NULL, err, sizeof(err)),
			 SOUK_PG_ERROR);
	assert_int_equal(souk_pg_commit(pg, err, sizeof(err)), SOUK_PG_ERROR);
	assert_non_null(strstr(err, "rolled it back"));
	assert_ids(pg, "");
}

static void
test_syntax_error_names_the_statement(void **state)
{
	struct souk_pg *pg = *state;
	char err[512];

	assert_int_equal(souk_pg_exec(pg, "SELEC 1", NULL, err, sizeof(err)),
			 SOUK_PG_ERROR);
	assert_string_equal(souk_pg_sqlstate(pg), "42601");
	assert_non_null(strstr(err, "could not execute \"SELEC 1\": syntax error"));
}

/* Killed while idle: the next call reconnects, prepares "pid" again and succeeds. */
static void
test_killed_idle_backend_is_replaced(void **state)
{
	struct souk_pg *pg = *state;
	int before, after;

	before = backend_pid(pg);
	kill_backend(before);
	after = backend_pid(pg);
	assert_int_not_equal(after, before);
	assert_string_equal(souk_pg_sqlstate(pg), "");
}

/* Killed inside a transaction: the caller learns it was lost, then work resumes. */
static void
test_killed_backend_in_transaction_is_lost(void **state)
{
	struct souk_pg *pg = *state;
	char err[512];
	int before, after;

	assert_int_equal(souk_pg_begin(pg, err, sizeof(err)), SOUK_PG_OK);
	before = backend_pid(pg);
	kill_backend(before);
	assert_int_equal(souk_pg_commit(pg, err, sizeof(err)), SOUK_PG_ELOST);
	assert_non_null(strstr(err, "connection lost inside a transaction"));
	after = backend_pid(pg);
	assert_int_not_equal(after, before);
	/* the new session is outside any transaction and usable for one */
	assert_int_equal(souk_pg_begin(pg, err, sizeof(err)), SOUK_PG_OK);
	assert_int_equal(backend_pid(pg), after);
	assert_int_equal(souk_pg_commit(pg, err, sizeof(err)), SOUK_PG_OK);
}

/* Killed while a statement runs: its outcome is unknown, so it is reported lost. */
static void
test_killed_during_statement_is_lost(void **state)
{
	struct souk_pg *pg = *state;
	PGresult *res = NULL;
	char err[512];
	int before;

	before = backend_pid(pg);
	assert_int_equal(souk_pg_begin(pg, err, sizeof(err)), SOUK_PG_OK);
	assert_int_equal(souk_pg_exec(pg, "SELECT pg_terminate_backend(pg_backend_pid())",
				      &res, err, sizeof(err)),
			 SOUK_PG_ELOST);
	assert_null(res);
	assert_non_null(strstr(err, "the open transaction was rolled back"));
	assert_non_null(
	    strstr(err, "terminating connection due to administrator command"));
	assert_int_not_equal(backend_pid(pg), before);
}

/*
 * A statement that cannot be prepared on the new session (its temporary table
 * died with the old one) makes the reconnection fail and say which.
 */
static void
test_reprepare_failure_is_reported(void **state)
{
	struct souk_pg *pg = *state;
	char err[512];

	assert_int_equal(souk_pg_exec(pg, "CREATE TEMP TABLE scratch (id int)", NULL, err,
				      sizeof(err)),
			 SOUK_PG_OK);
	assert_int_equal(souk_pg_prepare(pg, "scratch_count",
					 "SELECT count(*) FROM scratch", 0, err,
					 sizeof(err)),
			 SOUK_PG_OK);
	kill_backend(backend_pid(pg));
	assert_int_equal(souk_pg_exec(pg, "SELECT 1", NULL, err, sizeof(err)),
			 SOUK_PG_ERROR);
	assert_non_null(strstr(err, "could not prepare \"scratch_count\" again after "
				    "reconnecting"));
	assert_non_null(strstr(err, "\"scratch\" does not exist"));
}

static void
test_unreachable_server_fails_by_the_deadline(void **state)
{
	int64_t start = now_ms(), elapsed;
	char err[512];

	(void)state;
	assert_null(souk_pg_connect("host=127.0.0.1 port=1 dbname=souk user=souk "
				    "connect_timeout=10",
				    600, err, sizeof(err)));
	elapsed = now_ms() - start;
	assert_true(elapsed >= 600 && elapsed < 3000);
	assert_non_null(strstr(err, "could not connect to postgresql within 600 ms"));
	assert_non_null(strstr(err, "port 1 failed"));
}

static void
test_bad_dsn_fails_at_once(void **state)
{
	int64_t start = now_ms();
	char err[512];

	(void)state;
	assert_null(
	    souk_pg_connect("host=127.0.0.1 no_such_option=1", 5000, err, sizeof(err)));
	assert_true(now_ms() - start < 1000);
	assert_non_null(strstr(err, "could not parse postgresql dsn"));
	assert_non_null(strstr(err, "no_such_option"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prepared_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_savepoint_rollback_keeps_the_rest, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_savepoint_recovers_a_failed_statement,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unique_violation_sqlstate, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_commit_of_failed_transaction_is_an_error,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syntax_error_names_the_statement, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_killed_idle_backend_is_replaced,
					    setup_session, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_backend_in_transaction_is_lost,
					    setup_session, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_during_statement_is_lost,
					    setup_session, teardown),
	    cmocka_unit_test_setup_teardown(test_reprepare_failure_is_reported,
					    setup_session, teardown),
	    cmocka_unit_test(test_unreachable_server_fails_by_the_deadline),
	    cmocka_unit_test(test_bad_dsn_fails_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
