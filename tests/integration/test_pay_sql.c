/*
 * schemas/sql/003_payments.sql against the real PostgreSQL at SOUK_PG_DSN (applied by
 * ops/stack up): the tables spell states, commands and key states as pay_fsm and
 * pay_idem do; the CHECKs refuse captured > authorized, refunded > captured and amounts
 * that do not match the state; a transition conditional on (state, version) changes
 * nothing once the version moved; refunds must add up at commit; a (client, key) is
 * stored once; the reaper's statement deletes only expired final keys. Every test
 * works on its own ids (a random prefix) and deletes its rows afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pay_fsm.h"
#include "pay_idem.h"
#include "souk_pg.h"

#define DEFAULT_DSN "host=127.0.0.1 port=15432 dbname=souk user=souk"

/* The conditional transition of 003_payments.sql's comment, as the pool runs it. */
#define AUTHORIZE_SQL                                                                    \
	"UPDATE payments SET state = 'authorized', amount_authorized = amount, "         \
	"version = version + 1, updated_at = now() "                                     \
	"WHERE payment_id = $1 AND state = $2 AND version = $3"

struct fixture {
	struct souk_pg *pg;
	char prefix[48];
	char id[80]; /* a payment id, also the test's client id */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *env = getenv("SOUK_PG_DSN");
	struct timespec ts;
	char err[512];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(f->prefix, sizeof(f->prefix), "t-pay-%ld-%ld", (long)getpid(),
		 (long)ts.tv_nsec);
	snprintf(f->id, sizeof(f->id), "%s-p", f->prefix);
	f->pg = souk_pg_connect(env && *env ? env : DEFAULT_DSN, 10000, err, sizeof(err));
	if (!f->pg ||
	    souk_pg_prepare(f->pg, "pay_authorize", AUTHORIZE_SQL, 3, err, sizeof(err)))
		fail_msg("%s", err);
	*state = f;
	return 0;
}

static void
exec_ok(struct fixture *f, const char *fmt, ...)
{
	char sql[2048], err[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (souk_pg_exec(f->pg, sql, NULL, err, sizeof(err)))
		fail_msg("%s: %s", sql, err);
}

/* Runs the statement and expects it refused with sqlstate and an error naming what. */
static void
exec_refused(struct fixture *f, const char *sqlstate, const char *what, const char *fmt,
	     ...)
{
	char sql[2048], err[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (souk_pg_exec(f->pg, sql, NULL, err, sizeof(err)) != SOUK_PG_ERROR)
		fail_msg("not refused: %s", sql);
	if (strcmp(souk_pg_sqlstate(f->pg), sqlstate) != 0 || !strstr(err, what))
		fail_msg("%s: got %s \"%s\", want %s naming %s", sql,
			 souk_pg_sqlstate(f->pg), err, sqlstate, what);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	/* One implicit transaction, so the refunds' check at commit sees both gone. */
	exec_ok(f,
		"DELETE FROM payment_transitions WHERE payment_id LIKE '%1$s%%';"
		"DELETE FROM payment_refunds WHERE payment_id LIKE '%1$s%%';"
		"DELETE FROM payments WHERE payment_id LIKE '%1$s%%';"
		"DELETE FROM idempotency_keys WHERE client_id LIKE '%1$s%%';"
		"DELETE FROM payment_intents WHERE payment_id LIKE '%1$s%%'",
		f->prefix);
	souk_pg_destroy(f->pg);
	free(f);
	return 0;
}

/* One value of a one-row query, as an integer. */
static long long
query_int(struct fixture *f, const char *fmt, ...)
{
	char sql[1024], err[512];
	PGresult *res = NULL;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (souk_pg_exec(f->pg, sql, &res, err, sizeof(err)))
		fail_msg("%s: %s", sql, err);
	assert_int_equal(PQntuples(res), 1);
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/* Inserts payment id in state s with amounts that state can have: 1000 asked, all of
 * it authorized, 600 captured; a refunded one has a succeeded refund of 600. */
static void
insert_payment(struct fixture *f, const char *id, enum pay_state s)
{
	long long authorized = 0, captured = 0, refunded = 0;

	if (s != PAY_STATE_CREATED && s != PAY_STATE_DECLINED)
		authorized = 1000;
	if (s == PAY_STATE_CAPTURED || s == PAY_STATE_SETTLED || s == PAY_STATE_REFUNDED)
		captured = 600;
	if (s == PAY_STATE_REFUNDED)
		refunded = 600;
	exec_ok(f,
		"INSERT INTO payments (payment_id, client_id, state, currency, amount, "
		"amount_authorized, amount_captured, amount_refunded) "
		"VALUES ('%s', '%s', '%s', 'EUR', 1000, %lld, %lld, %lld);%s%s%s",
		id, f->prefix, pay_fsm_state_name(s), authorized, captured, refunded,
		refunded ? "INSERT INTO payment_refunds VALUES ('" : "",
		refunded ? id : "", refunded ? "', 'r1', 600, 'succeeded')" : "");
}

static void
test_schema_spells_states_and_commands_as_the_code(void **state)
{
	struct fixture *f = *state;
	/* The commands the provider is asked about (pay_fsm_step.provider). */
	static const bool provider[PAY_COMMAND_COUNT] = {[PAY_COMMAND_AUTHORIZE] = true,
							 [PAY_COMMAND_CAPTURE] = true,
							 [PAY_COMMAND_VOID] = true,
							 [PAY_COMMAND_REFUND] = true};
	char id[128], sql[512], hash[PAY_IDEM_HASH_SIZE], err[256];
	struct pay_idem_params params = {.command = PAY_COMMAND_CREATE,
					 .payment_id = f->id};

	for (int s = 1; s < PAY_STATE_COUNT; s++) {
		snprintf(id, sizeof(id), "%s-%s", f->prefix, pay_fsm_state_name(s));
		insert_payment(f, id, (enum pay_state)s);
		exec_ok(
		    f,
		    "INSERT INTO payment_transitions (payment_id, version, from_state, "
		    "to_state, command, client_id, idempotency_key) "
		    "VALUES ('%s', 1, 'created', '%s', 'authorize', 'c', 'k')",
		    id, pay_fsm_state_name(s));
	}
	exec_refused(
	    f, "23514", "payments_state_check",
	    "INSERT INTO payments (payment_id, client_id, state, currency, amount, "
	    "amount_authorized) VALUES ('%s-x', 'c', 'pending', 'EUR', 1, 1)",
	    f->prefix);

	if (pay_idem_hash(&params, hash, err, sizeof(err)))
		fail_msg("%s", err);
	for (int c = 0; c < PAY_COMMAND_COUNT; c++) {
		const char *name = pay_fsm_command_name((enum pay_command)c);

		exec_ok(
		    f,
		    "INSERT INTO idempotency_keys (client_id, key, params_hash, state, "
		    "payment_id, command, result_id) VALUES ('%s', '%s', '%s', '%s', "
		    "'%s', '%s', gen_random_uuid())",
		    f->prefix, name, hash, pay_idem_state_name(PAY_IDEM_KEY_IN_PROGRESS),
		    f->id, name);
		snprintf(
		    sql, sizeof(sql),
		    "INSERT INTO payment_intents (provider_key, payment_id, command, "
		    "refund_id) VALUES (gen_random_uuid(), '%s', '%s', %s)",
		    f->id, name, c == PAY_COMMAND_REFUND ? "'r1'" : "NULL");
		if (provider[c])
			exec_ok(f, "%s", sql);
		else
			exec_refused(f, "23514", "payment_intents_command_check", "%s",
				     sql);
	}
	exec_refused(f, "23514", "idempotency_keys_command_check",
		     "INSERT INTO idempotency_keys (client_id, key, params_hash, state, "
		     "payment_id, command, result_id) VALUES ('%s', 'x', '%s', "
		     "'in_progress', '%s', 'cancel', gen_random_uuid())",
		     f->prefix, hash, f->id);
	exec_refused(f, "23514", "idempotency_keys_params_hash_check",
		     "INSERT INTO idempotency_keys (client_id, key, params_hash, state, "
		     "payment_id, command, result_id) VALUES ('%s', 'y', 'ABC', "
		     "'in_progress', '%s', 'create', gen_random_uuid())",
		     f->prefix, f->id);
}

static void
test_checks_refuse_amounts_no_transition_reaches(void **state)
{
	struct fixture *f = *state;

	insert_payment(f, f->id, PAY_STATE_AUTHORIZED);
	exec_refused(f, "23514", "payments_captured_le_authorized",
		     "UPDATE payments SET state = 'captured', amount_captured = 1001 "
		     "WHERE payment_id = '%s'",
		     f->id);
	exec_ok(f,
		"UPDATE payments SET state = 'captured', amount_captured = 1000 "
		"WHERE payment_id = '%s'",
		f->id);
	exec_refused(f, "23514", "payments_refunded_le_captured",
		     "UPDATE payments SET amount_refunded = 1001 WHERE payment_id = '%s'",
		     f->id);
	exec_refused(
	    f, "23514", "payments_authorized_le_amount",
	    "UPDATE payments SET amount_authorized = 1001, amount_captured = 1001 "
	    "WHERE payment_id = '%s'",
	    f->id);
	/* The state must agree with the amounts. */
	exec_refused(f, "23514", "payments_refunded_by_state",
		     "UPDATE payments SET state = 'refunded' WHERE payment_id = '%s'",
		     f->id);
	exec_refused(f, "23514", "payments_captured_by_state",
		     "UPDATE payments SET state = 'authorized' WHERE payment_id = '%s'",
		     f->id);
	exec_refused(
	    f, "23514", "payments_authorized_by_state",
	    "INSERT INTO payments (payment_id, client_id, state, currency, amount, "
	    "amount_authorized) VALUES ('%s-2', 'c', 'created', 'EUR', 5, 5)",
	    f->prefix);
	assert_int_equal(
	    query_int(f, "SELECT amount_captured FROM payments WHERE payment_id = '%s'",
		      f->id),
	    1000);
}

/* The statement's row count, from the prepared transition. */
static long
authorize(struct fixture *f, const char *from, const char *version)
{
	const char *values[3] = {f->id, from, version};
	PGresult *res = NULL;
	char err[512];
	long n;

	if (souk_pg_exec_prepared(f->pg, "pay_authorize", 3, values, &res, err,
				  sizeof(err)))
		fail_msg("%s", err);
	n = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

static void
test_transition_applies_only_on_the_version_read(void **state)
{
	struct fixture *f = *state;

	insert_payment(f, f->id, PAY_STATE_CREATED);
	assert_int_equal(authorize(f, "created", "1"), 0); /* no such version yet */
	assert_int_equal(authorize(f, "created", "0"), 1);
	assert_int_equal(
	    query_int(f, "SELECT version FROM payments WHERE payment_id = '%s'", f->id),
	    1);
	/* A second writer that read version 0 applies nothing: the version moved. */
	assert_int_equal(authorize(f, "created", "0"), 0);
	/* Nor does one that read the right version in another state. */
	assert_int_equal(authorize(f, "created", "1"), 0);
	assert_int_equal(
	    query_int(f, "SELECT version FROM payments WHERE payment_id = '%s'", f->id),
	    1);

	/* The history keeps one transition per version. */
	exec_ok(
	    f,
	    "INSERT INTO payment_transitions (payment_id, version, from_state, to_state, "
	    "command, client_id, idempotency_key) "
	    "VALUES ('%s', 1, 'created', 'authorized', 'authorize', 'c', 'k1')",
	    f->id);
	exec_refused(f, SOUK_PG_UNIQUE_VIOLATION,
		     "payment_transitions_payment_id_version",
		     "INSERT INTO payment_transitions (payment_id, version, from_state, "
		     "to_state, command, client_id, idempotency_key) "
		     "VALUES ('%s', 1, 'created', 'authorized', 'authorize', 'c', 'k2')",
		     f->id);
	exec_refused(f, "23514", "payment_transitions_check",
		     "INSERT INTO payment_transitions (payment_id, version, to_state, "
		     "command, client_id, idempotency_key) "
		     "VALUES ('%s', 2, 'captured', 'capture', 'c', 'k3')",
		     f->id);
}

static void
test_refunds_must_add_up_at_commit(void **state)
{
	struct fixture *f = *state;
	char err[512];

	insert_payment(f, f->id, PAY_STATE_CAPTURED);
	/* A refund and its total, in either order, in one transaction. */
	exec_ok(f,
		"BEGIN;"
		"UPDATE payments SET amount_refunded = 200 WHERE payment_id = '%1$s';"
		"INSERT INTO payment_refunds VALUES ('%1$s', 'r1', 200, 'succeeded');"
		"INSERT INTO payment_refunds VALUES ('%1$s', 'r2', 50, 'pending');"
		"COMMIT",
		f->id);
	/* A succeeded refund the total does not count is refused at commit. */
	assert_int_equal(souk_pg_begin(f->pg, err, sizeof(err)), SOUK_PG_OK);
	exec_ok(f,
		"UPDATE payment_refunds SET state = 'succeeded' "
		"WHERE payment_id = '%s' AND refund_id = 'r2'",
		f->id);
	assert_int_equal(souk_pg_commit(f->pg, err, sizeof(err)), SOUK_PG_ERROR);
	assert_non_null(strstr(err,
			       "amount_refunded is 200 but its succeeded refunds add "
			       "up to 250"));
	/* The same refund id twice, or a refund of no payment, is refused at once. */
	exec_refused(f, SOUK_PG_UNIQUE_VIOLATION, "payment_refunds_pkey",
		     "INSERT INTO payment_refunds VALUES ('%s', 'r1', 1, 'failed')",
		     f->id);
	exec_refused(f, "23503", "payment_refunds_payment_id_fkey",
		     "INSERT INTO payment_refunds VALUES ('%s-none', 'r1', 1, 'failed')",
		     f->prefix);
	assert_int_equal(
	    query_int(f,
		      "SELECT sum(amount) FROM payment_refunds WHERE payment_id = '%s' "
		      "AND state = 'succeeded'",
		      f->id),
	    200);
}

static void
test_a_client_key_is_stored_once(void **state)
{
	struct fixture *f = *state;
	static const char insert[] =
	    "INSERT INTO idempotency_keys (client_id, key, params_hash, state, "
	    "payment_id, "
	    "command, result_id) VALUES ('%s%s', 'k1', repeat('a', 64), 'in_progress', "
	    "'p', 'create', gen_random_uuid())";

	exec_ok(f, insert, f->prefix, "-a");
	exec_refused(f, SOUK_PG_UNIQUE_VIOLATION, "idempotency_keys_pkey", insert,
		     f->prefix, "-a");
	exec_ok(f, insert, f->prefix, "-b"); /* another client's key of the same text */
	/* Final means an answer and an expiry; in_progress has neither. */
	exec_refused(f, "23514", "idempotency_keys_final_has_response",
		     "UPDATE idempotency_keys SET state = 'final', "
		     "expires_at = now() + interval '1 day' WHERE client_id = '%s-a'",
		     f->prefix);
	exec_refused(f, "23514", "idempotency_keys_final_expires",
		     "UPDATE idempotency_keys SET state = 'final', response = '{}' "
		     "WHERE client_id = '%s-a'",
		     f->prefix);
	exec_ok(f,
		"UPDATE idempotency_keys SET state = 'final', response = '{}', "
		"expires_at = now() + interval '1 day' WHERE client_id = '%s-a'",
		f->prefix);
}

static void
test_reaper_deletes_only_expired_final_keys(void **state)
{
	struct fixture *f = *state;
	static const char insert[] = "INSERT INTO idempotency_keys (client_id, key, "
				     "params_hash, state, payment_id, "
				     "command, result_id, response, expires_at) VALUES "
				     "('%s', '%s', repeat('a', 64), "
				     "'%s', 'p', 'capture', gen_random_uuid(), %s, %s)";

	const char *final = pay_idem_state_name(PAY_IDEM_KEY_FINAL);

	exec_ok(f, insert, f->prefix, "expired", final, "'{}'",
		"now() - interval '1 second'");
	exec_ok(f, insert, f->prefix, "kept", final, "'{}'", "now() + interval '1 hour'");
	exec_ok(f, insert, f->prefix, "parked",
		pay_idem_state_name(PAY_IDEM_KEY_IN_PROGRESS), "NULL", "NULL");
	/* The reaper's statement from 003_payments.sql, kept to this test's client. */
	exec_ok(
	    f,
	    "DELETE FROM idempotency_keys WHERE (client_id, key) IN (SELECT client_id, "
	    "key FROM idempotency_keys WHERE expires_at < now() AND client_id = '%s' "
	    "LIMIT 1000)",
	    f->prefix);
	assert_int_equal(
	    query_int(f, "SELECT count(*) FROM idempotency_keys WHERE client_id = '%s'",
		      f->prefix),
	    2);
	assert_int_equal(
	    query_int(f,
		      "SELECT count(*) FROM idempotency_keys WHERE client_id = "
		      "'%s' AND key IN ('kept', 'parked')",
		      f->prefix),
	    2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_schema_spells_states_and_commands_as_the_code, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_checks_refuse_amounts_no_transition_reaches, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_transition_applies_only_on_the_version_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refunds_must_add_up_at_commit, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_a_client_key_is_stored_once, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reaper_deletes_only_expired_final_keys,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
