#include "pay_ledger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay_fsm.h"
#include "souk_pgarray.h"

/*
 * One row per (payment, succeeded refund), or one row with NULL refund columns for a
 * payment without any; ordered by payment_id so that a payment's rows are adjacent.
 * $1, $2: the day's bounds [$1, $2) as RFC 3339 UTC; $3: the report's provider_refs.
 * Times are unix milliseconds rounded down, so 23:59:59.9999 stays in its day.
 */
static const char pay_ledger_sql[] =
    "WITH day AS ("
    " SELECT payment_id FROM payment_transitions"
    " WHERE command = 'capture' AND at >= $1::timestamptz AND at < $2::timestamptz"
    " UNION"
    " SELECT payment_id FROM payments WHERE provider_ref = ANY ($3::text[]))"
    " SELECT p.payment_id, NULLIF(p.provider_ref, ''), p.state, p.amount_captured,"
    " p.currency,"
    " (SELECT floor(extract(epoch FROM min(t.at)) * 1000)::bigint"
    " FROM payment_transitions t"
    " WHERE t.payment_id = p.payment_id AND t.command = 'capture'),"
    " r.amount, floor(extract(epoch FROM r.updated_at) * 1000)::bigint"
    " FROM day JOIN payments p USING (payment_id)"
    " LEFT JOIN payment_refunds r"
    " ON r.payment_id = p.payment_id AND r.state = 'succeeded'"
    " ORDER BY p.payment_id, r.refund_id";

enum {
	COL_PAYMENT_ID,
	COL_PROVIDER_REF,
	COL_STATE,
	COL_AMOUNT_CAPTURED,
	COL_CURRENCY,
	COL_CAPTURED_AT,
	COL_REFUND_AMOUNT,
	COL_REFUND_AT,
};

/* The second of unix milliseconds ms as "2026-11-27T00:00:00Z" into
 * out[PAY_LEDGER_TS_SIZE] (the day's bounds are whole seconds). */
#define PAY_LEDGER_TS_SIZE 21
static void
pay_ledger_ts(int64_t ms, char *out)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, PAY_LEDGER_TS_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The bigint in column col of row, 0 when NULL. Returns 0, or -1 when it is not one. */
static int
pay_ledger_int(const PGresult *res, int row, int col, int64_t *v)
{
	const char *s = PQgetvalue(res, row, col);
	char *end;

	*v = 0;
	if (PQgetisnull(res, row, col))
		return 0;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

/* Fills p from row (everything but the refunds). Returns 0, or -1 with errstr filled. */
static int
pay_ledger_payment(const PGresult *res, int row, struct pay_recon_payment *p,
		   char *errstr, size_t errstr_size)
{
	const char *currency = PQgetvalue(res, row, COL_CURRENCY);

	memset(p, 0, sizeof(*p));
	p->payment_id = PQgetvalue(res, row, COL_PAYMENT_ID);
	p->provider_ref = PQgetvalue(res, row, COL_PROVIDER_REF);
	if (pay_fsm_state_parse(PQgetvalue(res, row, COL_STATE), &p->state) ||
	    strlen(currency) != SOUK_EVENT_CURRENCY_SIZE - 1 ||
	    pay_ledger_int(res, row, COL_AMOUNT_CAPTURED, &p->amount_captured) ||
	    pay_ledger_int(res, row, COL_CAPTURED_AT, &p->captured_at_ms)) {
		snprintf(
		    errstr, errstr_size,
		    "could not read payment \"%s\" from the ledger: unexpected state "
		    "\"%s\", currency \"%s\" or amount \"%s\"",
		    p->payment_id, PQgetvalue(res, row, COL_STATE), currency,
		    PQgetvalue(res, row, COL_AMOUNT_CAPTURED));
		return -1;
	}
	memcpy(p->currency, currency, sizeof(p->currency));
	return 0;
}

int
pay_ledger_read(struct souk_pg *pg, int64_t day_ms, const struct pay_recon_row *report,
		size_t n_report, struct pay_ledger *out, char *errstr, size_t errstr_size)
{
	struct souk_pgarray refs;
	char from[PAY_LEDGER_TS_SIZE], to[PAY_LEDGER_TS_SIZE];
	const char *values[3];
	PGresult *res = NULL;
	size_t cap, n_refunds = 0;
	int rows, rc = SOUK_PG_ERROR;

	memset(out, 0, sizeof(*out));
	souk_pgarray_init(&refs);
	for (size_t i = 0; i < n_report; i++)
		souk_pgarray_add_str(&refs, report[i].provider_ref);
	pay_ledger_ts(day_ms, from);
	pay_ledger_ts(day_ms + PAY_RECON_DAY_MS, to);
	values[0] = from;
	values[1] = to;
	values[2] = souk_pgarray_text(&refs);
	if (!values[2]) {
		snprintf(errstr, errstr_size, "could not read the ledger: out of memory");
		goto out;
	}
	rc = souk_pg_prepare(pg, "pay_ledger_read", pay_ledger_sql, 3, errstr,
			     errstr_size);
	if (rc == SOUK_PG_OK)
		rc = souk_pg_exec_prepared(pg, "pay_ledger_read", 3, values, &res, errstr,
					   errstr_size);
	if (rc != SOUK_PG_OK)
		goto out;
	rc = SOUK_PG_ERROR;
	rows = PQntuples(res);
	/* Every array holds at most one entry per row. */
	cap = rows > 0 ? (size_t)rows : 1;
	out->payments = malloc(cap * sizeof(*out->payments));
	out->refunds = malloc(cap * sizeof(*out->refunds));
	out->unreferenced = malloc(cap * sizeof(*out->unreferenced));
	if (!out->payments || !out->refunds || !out->unreferenced) {
		snprintf(errstr, errstr_size, "could not read the ledger: out of memory");
		goto out;
	}
	for (int row = 0; row < rows; row++) {
		const char *id = PQgetvalue(res, row, COL_PAYMENT_ID);
		struct pay_recon_payment *p;
		struct pay_recon_refund *r;

		if (PQgetisnull(res, row, COL_PROVIDER_REF)) {
			/* its refunds do not matter: it is reported as it is */
			if (out->n_unreferenced == 0 ||
			    strcmp(id, out->unreferenced[out->n_unreferenced - 1]) != 0)
				out->unreferenced[out->n_unreferenced++] = id;
			continue;
		}
		if (out->n_payments == 0 ||
		    strcmp(id, out->payments[out->n_payments - 1].payment_id) != 0) {
			p = &out->payments[out->n_payments++];
			if (pay_ledger_payment(res, row, p, errstr, errstr_size))
				goto out;
			p->refunds = out->refunds + n_refunds;
		}
		if (PQgetisnull(res, row, COL_REFUND_AMOUNT))
			continue;
		p = &out->payments[out->n_payments - 1];
		r = &out->refunds[n_refunds++];
		if (pay_ledger_int(res, row, COL_REFUND_AMOUNT, &r->amount) ||
		    pay_ledger_int(res, row, COL_REFUND_AT, &r->at_ms)) {
			snprintf(errstr, errstr_size,
				 "could not read a refund of payment \"%s\" from the "
				 "ledger: unexpected amount \"%s\"",
				 id, PQgetvalue(res, row, COL_REFUND_AMOUNT));
			goto out;
		}
		p->n_refunds++;
	}
	out->res = res;
	res = NULL;
	rc = SOUK_PG_OK;
out:
	if (rc != SOUK_PG_OK)
		pay_ledger_clear(out);
	PQclear(res);
	souk_pgarray_free(&refs);
	return rc;
}

void
pay_ledger_clear(struct pay_ledger *l)
{
	free(l->payments);
	free(l->unreferenced);
	free(l->refunds);
	PQclear(l->res);
	memset(l, 0, sizeof(*l));
}
