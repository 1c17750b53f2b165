/*
 * souk-bench-pay-naive: the baseline of ops/bench/payments, the naive design of a
 * payments worker: one PostgreSQL transaction per command, in file order, on one
 * connection, with a blocking provider call inside it.
 *
 *   souk-bench-pay-naive [--provider URL] [--limit N] [--dsn DSN] FILE
 *
 * FILE holds NDJSON events as souk-loadgen payments writes them; lines of other types,
 * and lines that do not decode as a valid payment, are skipped. Each payment command
 * runs the pool's rules (workers/payments/pay_batch.h) on the pool's tables
 * (schemas/sql/003_payments.sql) in its own transaction:
 *
 *   BEGIN
 *   look up the idempotency key (client_id, key)         -- pay_idem_check
 *     replay or reuse: nothing else (a reuse is not stored)
 *   SELECT the payment FOR UPDATE                        -- pay_fsm_next
 *   a provider step: INSERT its payment_intents row, call the provider and wait
 *   INSERT or conditional UPDATE of payments, INSERT payment_transitions, a refund's
 *   payment_refunds row, INSERT the idempotency key, final
 *   COMMIT                                               -- one WAL flush per command
 *
 * What it leaves out of the pool: the consumer and its offsets, the outbox (no result
 * is published), and parking: a provider answer of failed or unknown rolls the command
 * back and counts it failed (the pool must not, for an unknown one). A declined
 * authorization (the provider answers 200 with status "declined") moves the payment to
 * declined, as pay_fsm.h says.
 *
 * Prints one line on stdout:
 *   naive: <commands> commands, <transitions> transitions in <ms> ms (<N>
 *   transitions/s), <failed> failed
 * Exit status: 0 done, 1 a failure (PostgreSQL, the provider's client, the file), 2
 * usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay_fsm.h"
#include "pay_idem.h"
#include "pay_provider.h"
#include "pay_recon.h"
#include "souk_event.h"
#include "souk_pg.h"
#include "souk_progress.h"
#include "souk_uuid.h"

#define NAIVE_NAME "souk-bench-pay-naive"
#define NAIVE_DEFAULT_DSN "host=127.0.0.1 port=15432 dbname=souk user=souk"
#define NAIVE_DEFAULT_PROVIDER "http://127.0.0.1:18200"
#define NAIVE_PROVIDER_TIMEOUT_MS 5000	     /* the pool's payments.provider_timeout */
#define NAIVE_SETTLE_CLIENT "souk-reconcile" /* the pool's payments.settle_client */
#define NAIVE_CONNECT_TIMEOUT_MS 10000
#define NAIVE_EXIT_FAIL 1
#define NAIVE_EXIT_USAGE 2

/* Every statement, prepared once on the connection. */
static const struct {
	const char *name;
	const char *sql;
	int nparams;
} naive_statements[] = {
    {"naive_key",
     "SELECT state, params_hash FROM idempotency_keys WHERE client_id = $1 AND key = $2",
     2},
    {"naive_payment",
     "SELECT state, currency, amount, amount_authorized, amount_captured, "
     "amount_refunded, coalesce(provider_ref, ''), version "
     "FROM payments WHERE payment_id = $1 FOR UPDATE",
     1},
    {"naive_refund_taken",
     "SELECT 1 FROM payment_refunds WHERE payment_id = $1 AND refund_id = $2", 2},
    {"naive_intent",
     "INSERT INTO payment_intents (provider_key, payment_id, command, amount, currency, "
     "refund_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider_key) DO NOTHING",
     6},
    {"naive_intent_done",
     "UPDATE payment_intents SET state = 'done', updated_at = now() "
     "WHERE provider_key = $1",
     1},
    {"naive_insert_payment",
     "INSERT INTO payments (payment_id, client_id, state, currency, amount, "
     "amount_authorized, amount_captured, amount_refunded, provider_ref, version) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)",
     9},
    /* Conditional on the state and version read: 0 rows means it moved under us. */
    {"naive_update_payment",
     "UPDATE payments SET state = $2, amount_authorized = $3, amount_captured = $4, "
     "amount_refunded = $5, provider_ref = $6, version = version + 1, "
     "updated_at = now() WHERE payment_id = $1 AND state = $7 AND version = $8",
     8},
    {"naive_transition",
     "INSERT INTO payment_transitions (payment_id, version, from_state, to_state, "
     "command, amount, refund_id, client_id, idempotency_key) "
     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
     9},
    {"naive_refund",
     "INSERT INTO payment_refunds (payment_id, refund_id, amount, state) "
     "VALUES ($1, $2, $3, $4)",
     4},
    {"naive_key_final",
     "INSERT INTO idempotency_keys (client_id, key, params_hash, state, payment_id, "
     "command, result_id, response, provider_key, expires_at) "
     "VALUES ($1, $2, $3, 'final', $4, $5, $6, $7, $8, "
     "now() + make_interval(secs => $9))",
     9},
};
#define NAIVE_NSTATEMENTS (sizeof(naive_statements) / sizeof(naive_statements[0]))

/* A payments row as read. cur.state PAY_STATE_NONE: there is none. */
struct naive_payment {
	struct pay_fsm_payment cur;
	char provider_ref[PAY_RECON_REF_SIZE]; /* "" when none */
	int64_t version;
};

/* The provider's answer, copied out of its callback. */
struct naive_answer {
	bool done;
	enum pay_provider_outcome outcome;
	char provider_ref[PAY_RECON_REF_SIZE]; /* "" when none */
	char status[32];		       /* OK: "authorized", "declined", ... */
	char error[256];
};

struct naive {
	struct souk_pg *pg;
	struct pay_provider *provider;
	uint64_t commands, transitions, failed;
};

/* Decimal text of v in buf (at least 21 bytes), for a text parameter. */
static const char *
naive_int(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%" PRId64, v);
	return buf;
}

static int64_t
naive_value_int(const PGresult *res, int col)
{
	return strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

/* Runs the statement name; *out as in souk_pg_exec_prepared (may be NULL). */
static int
naive_exec(struct naive *n, const char *name, int nparams, const char *const *values,
	   PGresult **out, char *errstr, size_t errstr_size)
{
	return souk_pg_exec_prepared(n->pg, name, nparams, values, out, errstr,
				     errstr_size) == SOUK_PG_OK
		   ? 0
		   : -1;
}

/* The key (client_id, key) of ev as stored: *state, and its hash into hash. */
static int
naive_load_key(struct naive *n, const souk_event_t *ev, enum pay_idem_state *state,
	       char hash[PAY_IDEM_HASH_SIZE], char *errstr, size_t errstr_size)
{
	const char *values[] = {ev->client_id, ev->idempotency_key};
	PGresult *res = NULL;
	int rc = -1;

	*state = PAY_IDEM_KEY_ABSENT;
	hash[0] = '\0';
	if (naive_exec(n, "naive_key", 2, values, &res, errstr, errstr_size))
		goto out;
	if (PQntuples(res) == 1) {
		if (pay_idem_state_parse(PQgetvalue(res, 0, 0), state)) {
			snprintf(errstr, errstr_size,
				 "could not read key \"%s\": state \"%s\"",
				 ev->idempotency_key, PQgetvalue(res, 0, 0));
			goto out;
		}
		snprintf(hash, PAY_IDEM_HASH_SIZE, "%s", PQgetvalue(res, 0, 1));
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* The payment payment_id, locked until the transaction ends; zeroed when absent. */
static int
naive_load_payment(struct naive *n, const char *payment_id, struct naive_payment *pay,
		   char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	int rc = -1;

	memset(pay, 0, sizeof(*pay));
	if (naive_exec(n, "naive_payment", 1, &payment_id, &res, errstr, errstr_size))
		goto out;
	if (PQntuples(res) == 1) {
		if (pay_fsm_state_parse(PQgetvalue(res, 0, 0), &pay->cur.state)) {
			snprintf(errstr, errstr_size,
				 "could not read payment \"%s\": state \"%s\"",
				 payment_id, PQgetvalue(res, 0, 0));
			goto out;
		}
		snprintf(pay->cur.currency, sizeof(pay->cur.currency), "%s",
			 PQgetvalue(res, 0, 1));
		pay->cur.amount = naive_value_int(res, 2);
		pay->cur.authorized = naive_value_int(res, 3);
		pay->cur.captured = naive_value_int(res, 4);
		pay->cur.refunded = naive_value_int(res, 5);
		snprintf(pay->provider_ref, sizeof(pay->provider_ref), "%s",
			 PQgetvalue(res, 0, 6));
		pay->version = naive_value_int(res, 7);
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Whether the payment already has a refund refund_id (succeeded or failed). */
static int
naive_refund_taken(struct naive *n, const souk_event_payment_t *p, bool *taken,
		   char *errstr, size_t errstr_size)
{
	const char *values[] = {p->payment_id, p->refund_id};
	PGresult *res = NULL;

	if (naive_exec(n, "naive_refund_taken", 2, values, &res, errstr, errstr_size))
		return -1;
	*taken = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

static void
naive_answered(const struct pay_provider_result *r, void *opaque)
{
	struct naive_answer *a = opaque;

	a->done = true;
	a->outcome = r->outcome;
	snprintf(a->provider_ref, sizeof(a->provider_ref), "%s",
		 r->provider_ref ? r->provider_ref : "");
	snprintf(a->status, sizeof(a->status), "%s", r->status ? r->status : "");
	snprintf(a->error, sizeof(a->error), "%s", r->error ? r->error : "");
}

/* Asks the provider for ev's command on pay under provider_key and waits for the
 * answer (at most the provider timeout). */
static int
naive_call(struct naive *n, const souk_event_payment_t *p,
	   const struct naive_payment *pay, const char *provider_key,
	   struct naive_answer *a, char *errstr, size_t errstr_size)
{
	struct pay_provider_request req = {
	    .idempotency_key = provider_key,
	    .provider_ref = pay->provider_ref,
	    .payment_id = p->payment_id,
	    .amount = p->has_amount ? p->amount : 0,
	    .currency = pay->cur.currency,
	    .refund_id = p->refund_id,
	};

	switch (pay_fsm_command_from_event(p->command)) {
	case PAY_COMMAND_AUTHORIZE:
		req.op = PAY_PROVIDER_AUTHORIZE;
		req.amount = pay->cur.amount; /* all of it (pay_fsm.h) */
		break;
	case PAY_COMMAND_CAPTURE:
		req.op = PAY_PROVIDER_CAPTURE;
		break;
	case PAY_COMMAND_VOID:
		req.op = PAY_PROVIDER_VOID;
		break;
	case PAY_COMMAND_REFUND:
		req.op = PAY_PROVIDER_REFUND;
		break;
	default:
		snprintf(errstr, errstr_size,
			 "could not call the provider: %s needs no call",
			 pay_fsm_command_name(pay_fsm_command_from_event(p->command)));
		return -1;
	}
	memset(a, 0, sizeof(*a));
	if (pay_provider_submit(n->provider, &req, naive_answered, a, errstr,
				errstr_size))
		return -1;
	while (!a->done)
		if (pay_provider_run(n->provider, NAIVE_PROVIDER_TIMEOUT_MS, errstr,
				     errstr_size) < 0)
			return -1;
	return 0;
}

/* Inserts the intent of the call under provider_key (state pending). */
static int
naive_write_intent(struct naive *n, const souk_event_payment_t *p,
		   const struct naive_payment *pay, const char *provider_key,
		   char *errstr, size_t errstr_size)
{
	char amount[24];
	const char *values[] = {
	    provider_key,
	    p->payment_id,
	    pay_fsm_command_name(pay_fsm_command_from_event(p->command)),
	    p->has_amount ? naive_int(amount, sizeof(amount), p->amount) : NULL,
	    pay->cur.currency,
	    p->command == SOUK_EVENT_COMMAND_REFUND ? p->refund_id : NULL,
	};

	return naive_exec(n, "naive_intent", 6, values, NULL, errstr, errstr_size);
}

/* Moves pay to next by ev's command: its payments row and its history row. */
static int
naive_move(struct naive *n, const souk_event_t *ev, const struct naive_payment *pay,
	   const struct pay_fsm_payment *next, char *errstr, size_t errstr_size)
{
	const souk_event_payment_t *p = &ev->payment;
	const char *ref = pay->provider_ref[0] ? pay->provider_ref : NULL;
	char amount[24], authorized[24], captured[24], refunded[24], version[24],
	    cmd_amount[24];
	PGresult *res = NULL;
	int rc = -1;

	naive_int(authorized, sizeof(authorized), next->authorized);
	naive_int(captured, sizeof(captured), next->captured);
	naive_int(refunded, sizeof(refunded), next->refunded);
	naive_int(version, sizeof(version), pay->version);
	if (pay->cur.state == PAY_STATE_NONE) {
		const char *values[] = {p->payment_id,
					ev->client_id,
					pay_fsm_state_name(next->state),
					next->currency,
					naive_int(amount, sizeof(amount), next->amount),
					authorized,
					captured,
					refunded,
					ref};

		if (naive_exec(n, "naive_insert_payment", 9, values, NULL, errstr,
			       errstr_size))
			goto out;
	} else {
		const char *values[] = {p->payment_id,
					pay_fsm_state_name(next->state),
					authorized,
					captured,
					refunded,
					ref,
					pay_fsm_state_name(pay->cur.state),
					version};

		if (naive_exec(n, "naive_update_payment", 8, values, &res, errstr,
			       errstr_size))
			goto out;
		if (strcmp(PQcmdTuples(res), "1")) {
			snprintf(errstr, errstr_size,
				 "could not move payment \"%s\": it moved on under this "
				 "transaction",
				 p->payment_id);
			goto out;
		}
	}
	{
		const char *values[] = {
		    p->payment_id,
		    naive_int(version, sizeof(version), pay->version + 1),
		    pay_fsm_state_name(pay->cur.state),
		    pay_fsm_state_name(next->state),
		    pay_fsm_command_name(pay_fsm_command_from_event(p->command)),
		    p->has_amount ? naive_int(cmd_amount, sizeof(cmd_amount), p->amount)
				  : NULL,
		    p->refund_id[0] ? p->refund_id : NULL,
		    ev->client_id,
		    ev->idempotency_key};

		if (naive_exec(n, "naive_transition", 9, values, NULL, errstr,
			       errstr_size))
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Stores ev's key final with its answer: ok (error NULL) or error, the payment in
 * state (PAY_STATE_NONE: there is none). provider_key "" when no call was made. */
static int
naive_store_key(struct naive *n, const souk_event_t *ev, const char *hash,
		const char *error, enum pay_state state, const char *provider_key,
		char *errstr, size_t errstr_size)
{
	const char *state_name = pay_fsm_state_name(state);
	char response[256], result_id[SOUK_UUID_STRLEN + 1], keep[24];
	const char *values[] = {
	    ev->client_id,
	    ev->idempotency_key,
	    hash,
	    ev->payment.payment_id,
	    pay_fsm_command_name(pay_fsm_command_from_event(ev->payment.command)),
	    result_id,
	    response,
	    provider_key[0] ? provider_key : NULL,
	    naive_int(keep, sizeof(keep), PAY_IDEM_KEEP_S_DEFAULT)};

	/* The baseline publishes nothing: a short answer stands for the result. */
	if (error && state_name)
		snprintf(response, sizeof(response),
			 "{\"status\":\"error\",\"error\":\"%s\",\"state\":\"%s\"}",
			 error, state_name);
	else if (error)
		snprintf(response, sizeof(response),
			 "{\"status\":\"error\",\"error\":\"%s\"}", error);
	else
		snprintf(response, sizeof(response),
			 "{\"status\":\"ok\",\"state\":\"%s\"}", state_name);
	souk_uuid_random(result_id);
	return naive_exec(n, "naive_key_final", 9, values, NULL, errstr, errstr_size);
}

/*
 * Applies the payment command ev in a transaction of its own (the top of this file),
 * counting its transition or its failure in n. Returns 0 once it committed, or rolled
 * back after the provider failed (counted failed); -1 with errstr on any other failure.
 */
static int
naive_apply(struct naive *n, const souk_event_t *ev, char *errstr, size_t errstr_size)
{
	const souk_event_payment_t *p = &ev->payment;
	struct pay_idem_params params = pay_idem_params_from_event(p);
	struct pay_fsm_request req = pay_fsm_request_from_event(p);
	char hash[PAY_IDEM_HASH_SIZE], stored_hash[PAY_IDEM_HASH_SIZE];
	char provider_key[SOUK_UUID_STRLEN + 1] = "";
	const char *key_value = provider_key;
	const struct pay_fsm_payment *next = NULL;
	struct naive_payment pay = {0};
	struct naive_answer answer = {0};
	enum pay_idem_state stored;
	struct pay_fsm_step step;
	const char *error = NULL;
	enum pay_fsm_error e;
	bool taken, rollback = false;
	int rc = -1;

	if (pay_idem_hash(&params, hash, errstr, errstr_size) ||
	    souk_pg_begin(n->pg, errstr, errstr_size) != SOUK_PG_OK)
		return -1;
	rollback = true;
	if (naive_load_key(n, ev, &stored, stored_hash, errstr, errstr_size))
		goto out;
	/* A replay answers the stored outcome, a reuse (or a key in progress) an error
	 * that is not stored: either way nothing is written. */
	if (pay_idem_check(stored, stored_hash, hash) != PAY_IDEM_NEW)
		goto commit;
	/* settle_not_allowed, not stored. */
	if (req.command == PAY_COMMAND_SETTLE &&
	    strcmp(ev->client_id, NAIVE_SETTLE_CLIENT))
		goto commit;
	if (naive_load_payment(n, p->payment_id, &pay, errstr, errstr_size))
		goto out;
	if (req.command == PAY_COMMAND_REFUND) {
		if (naive_refund_taken(n, p, &taken, errstr, errstr_size))
			goto out;
		if (taken) {
			error = "refund_id_exists";
			goto store;
		}
	}
	if ((e = pay_fsm_next(&pay.cur, &req, &step)) != PAY_FSM_OK) {
		error = pay_fsm_error_name(e);
		goto store;
	}
	next = &step.next;
	if (step.provider) {
		pay_idem_provider_key(ev->client_id, p->payment_id, ev->idempotency_key,
				      provider_key);
		if (naive_write_intent(n, p, &pay, provider_key, errstr, errstr_size) ||
		    naive_call(n, p, &pay, provider_key, &answer, errstr, errstr_size))
			goto out;
		if (answer.outcome != PAY_PROVIDER_OK &&
		    answer.outcome != PAY_PROVIDER_REFUSED) {
			/* Failed or unknown: rolled back, not parked. */
			n->failed++;
			fprintf(stderr, NAIVE_NAME ": %s of payment \"%s\" %s: %s\n",
				pay_fsm_command_name(req.command), p->payment_id,
				pay_provider_outcome_name(answer.outcome), answer.error);
			rc = 0;
			goto out;
		}
		/* The provider answers a declined authorization 200 "declined". */
		if (answer.outcome == PAY_PROVIDER_REFUSED ||
		    !strcmp(answer.status, "declined")) {
			/* A declined authorization moves; any other refusal does not. */
			next = step.refused.state != pay.cur.state ? &step.refused : NULL;
			error = pay_fsm_error_name(step.refused_error);
		} else if (req.command == PAY_COMMAND_AUTHORIZE) {
			memcpy(pay.provider_ref, answer.provider_ref,
			       sizeof(pay.provider_ref));
		}
		if (naive_exec(n, "naive_intent_done", 1, &key_value, NULL, errstr,
			       errstr_size))
			goto out;
		if (req.command == PAY_COMMAND_REFUND) {
			char amount[24];
			const char *values[] = {
			    p->payment_id, p->refund_id,
			    naive_int(amount, sizeof(amount), p->amount),
			    error ? "failed" : "succeeded"};

			if (naive_exec(n, "naive_refund", 4, values, NULL, errstr,
				       errstr_size))
				goto out;
		}
	}
	if (next && naive_move(n, ev, &pay, next, errstr, errstr_size))
		goto out;
store:
	if (naive_store_key(n, ev, hash, error, next ? next->state : pay.cur.state,
			    provider_key, errstr, errstr_size))
		goto out;
commit:
	rollback = false;
	if (souk_pg_commit(n->pg, errstr, errstr_size) != SOUK_PG_OK)
		goto out;
	if (next)
		n->transitions++;
	rc = 0;
out:
	if (rollback) {
		char ignored[256];

		/* What failed is already said (or counted); this only ends it. */
		souk_pg_rollback(n->pg, ignored, sizeof(ignored));
	}
	return rc;
}

/* Prepares the statements on n's connection and starts the provider's client. */
static int
naive_open(struct naive *n, const char *dsn, const char *provider_url, char *errstr,
	   size_t errstr_size)
{
	if (!(n->pg =
		  souk_pg_connect(dsn, NAIVE_CONNECT_TIMEOUT_MS, errstr, errstr_size)))
		return -1;
	for (size_t i = 0; i < NAIVE_NSTATEMENTS; i++)
		if (souk_pg_prepare(n->pg, naive_statements[i].name,
				    naive_statements[i].sql, naive_statements[i].nparams,
				    errstr, errstr_size) != SOUK_PG_OK)
			return -1;
	n->provider = pay_provider_new(provider_url, NAIVE_PROVIDER_TIMEOUT_MS, errstr,
				       errstr_size);
	return n->provider ? 0 : -1;
}

/* Applies the payment commands of f in order, at most limit of them (0: all). */
static int
naive_run(struct naive *n, FILE *f, const char *path, uint64_t limit, char *errstr,
	  size_t errstr_size)
{
	struct souk_progress *bar = souk_progress_new(limit, "commands");
	unsigned long lineno = 0;
	char *line = NULL, why[512];
	size_t cap = 0;
	ssize_t len;
	int rc = -1;

	while ((limit == 0 || n->commands < limit) &&
	       (len = getline(&line, &cap, f)) > 0) {
		souk_event_error_t err;
		souk_event_t ev;

		lineno++;
		if (line[len - 1] == '\n')
			len--;
		if (souk_event_decode(line, (size_t)len, &ev, &err) != SOUK_EVENT_OK ||
		    ev.type != SOUK_EVENT_TYPE_PAYMENT)
			continue;
		n->commands++;
		if (naive_apply(n, &ev, why, sizeof(why))) {
			snprintf(errstr, errstr_size, "%s:%lu: %s", path, lineno, why);
			goto out;
		}
		souk_progress_update(bar, n->commands, n->commands);
	}
	if (ferror(f)) {
		snprintf(errstr, errstr_size, "could not read \"%s\": %s", path,
			 strerror(errno));
		goto out;
	}
	rc = 0;
out:
	souk_progress_finish(bar, n->commands, n->commands);
	free(line);
	return rc;
}

static void
naive_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: " NAIVE_NAME " [--provider URL] [--limit N] [--dsn DSN] FILE\n"
	    "\n"
	    "Applies the payment commands of FILE (NDJSON, as souk-loadgen payments\n"
	    "writes it) in order, one PostgreSQL transaction per command with a\n"
	    "blocking provider call: the baseline of ops/bench/payments.\n"
	    "\n"
	    "  --provider URL   the provider (souk-psp), default " NAIVE_DEFAULT_PROVIDER
	    "\n"
	    "  --limit N        stop after N commands (default: all)\n"
	    "  --dsn DSN        PostgreSQL (env SOUK_PG_DSN, default\n"
	    "                   \"" NAIVE_DEFAULT_DSN "\")\n"
	    "  -h, --help       this help\n"
	    "  -V, --version    print the version\n"
	    "\n"
	    "exit status: 0 success, 1 failure, 2 usage error\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"provider", required_argument, NULL, 'p'},
	    {"limit", required_argument, NULL, 'n'},
	    {"dsn", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *provider_url = NAIVE_DEFAULT_PROVIDER, *dsn = getenv("SOUK_PG_DSN");
	struct naive n = {0};
	unsigned long long limit = 0;
	char errstr[1024], *end;
	double t0, ms;
	FILE *f = NULL;
	int c, rc = NAIVE_EXIT_FAIL;

	if (!dsn || !dsn[0])
		dsn = NAIVE_DEFAULT_DSN;
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			provider_url = optarg;
			break;
		case 'n':
			errno = 0;
			limit = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || limit == 0 ||
			    optarg[0] == '-') {
				fprintf(stderr,
					NAIVE_NAME
					": could not parse --limit \"%s\": not a "
					"positive integer\n",
					optarg);
				return NAIVE_EXIT_USAGE;
			}
			break;
		case 'd':
			dsn = optarg;
			break;
		case 'h':
			naive_usage(stdout);
			return 0;
		case 'V':
			printf(NAIVE_NAME " " SOUK_VERSION "\n");
			return 0;
		default:
			naive_usage(stderr);
			return NAIVE_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		naive_usage(stderr);
		return NAIVE_EXIT_USAGE;
	}

	if (!(f = fopen(argv[optind], "r"))) {
		fprintf(stderr, NAIVE_NAME ": could not open \"%s\": %s\n", argv[optind],
			strerror(errno));
		goto out;
	}
	if (naive_open(&n, dsn, provider_url, errstr, sizeof(errstr))) {
		fprintf(stderr, NAIVE_NAME ": %s\n", errstr);
		goto out;
	}
	t0 = souk_progress_now();
	if (naive_run(&n, f, argv[optind], limit, errstr, sizeof(errstr))) {
		fprintf(stderr, NAIVE_NAME ": %s\n", errstr);
		goto out;
	}
	ms = (souk_progress_now() - t0) * 1000;
	printf("naive: %" PRIu64 " commands, %" PRIu64 " transitions in %.0f ms (%.0f "
	       "transitions/s), %" PRIu64 " failed\n",
	       n.commands, n.transitions, ms, ms > 0 ? n.transitions * 1000 / ms : 0,
	       n.failed);
	rc = 0;
out:
	if (f)
		fclose(f);
	pay_provider_destroy(n.provider);
	souk_pg_destroy(n.pg);
	return rc;
}
