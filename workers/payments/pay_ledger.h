/*
 * pay_ledger: reads from PostgreSQL the part of the payments ledger that the
 * reconciliation of one UTC day compares with the provider's report (pay_recon.h):
 * every payment captured that day (its 'capture' row of payment_transitions has `at`
 * in the day) and every payment the report names by provider_ref, each with its
 * succeeded refunds (payment_refunds.updated_at as the time a refund succeeded).
 *
 * One statement, so one snapshot: a refund committed while the job runs is either in
 * both payments.amount_refunded and the refund rows, or in neither.
 */
#ifndef PAY_LEDGER_H
#define PAY_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pay_recon.h"
#include "souk_pg.h"

/* What pay_ledger_read found. Owns its arrays and the result the strings point into. */
struct pay_ledger {
	/* By payment_id, ready for pay_recon_compare; payments[i].refunds point into
	 * refunds, the strings into res. */
	struct pay_recon_payment *payments;
	size_t n_payments;
	/* Payments captured on the day that have no provider_ref (NULL or ""): the
	 * report cannot name them, so pay_recon_compare cannot take them. The provider
	 * gives the reference at authorization, so a captured payment without one is a
	 * ledger the reconciliation must flag. Point into res. */
	const char **unreferenced;
	size_t n_unreferenced;
	struct pay_recon_refund *refunds;
	PGresult *res;
};

/*
 * Reads into *out (zeroed first) the ledger of the day starting at day_ms (unix
 * milliseconds of a UTC midnight) for the report rows report[0..n_report). Returns
 * SOUK_PG_OK, or SOUK_PG_ERROR / SOUK_PG_ELOST with errstr filled and *out zeroed
 * (also when a row holds a state or currency the ledger's CHECKs would refuse).
 * Cost: one statement; the server scans payment_transitions for the day's captures
 * (O(transitions): `at` has no index) and payments for the report's provider_refs
 * (O(payments)), then one indexed lookup per payment.
 */
int pay_ledger_read(struct souk_pg *pg, int64_t day_ms,
		    const struct pay_recon_row *report, size_t n_report,
		    struct pay_ledger *out, char *errstr, size_t errstr_size);

/* Frees what l holds and zeroes it; l may be zeroed already. */
void pay_ledger_clear(struct pay_ledger *l);

#endif
