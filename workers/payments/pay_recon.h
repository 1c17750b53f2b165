/*
 * pay_recon: the reconciliation of the payments ledger with the provider's daily
 * settlement report, as pure functions (no server, no clock).
 *
 * The report (souk-psp, GET /v1/reports/settlement?date=YYYY-MM-DD) is CSV:
 *
 *   settled_at,provider_ref,payment_id,type,amount,currency,key
 *   2026-11-27T10:00:00.000Z,psp_0f...,p-1,capture,1999,EUR,cap-p-1
 *
 * one line per capture and refund the provider settled on that UTC day. The ledger is
 * what the caller read from PostgreSQL (payments, payment_refunds and the capture's
 * payment_transitions row). Both sides are matched on provider_ref:
 *
 *   missing_at_provider  the ledger captured on the day, the report has no capture
 *   missing_in_ledger    the report has a capture or refund of a provider_ref the
 *                        ledger does not know, or refunds of a payment that has none
 *                        on the day in the ledger
 *   amount_mismatch      the reported capture is not the ledger's amount_captured
 *   currency_mismatch    a reported capture or refund is not in the payment's currency
 *   state_mismatch       the report settles a capture of a payment the ledger never
 *                        captured (created, authorized, declined, voided), reports it
 *                        more than once, or the day's refunds add up differently
 *
 * A capture the report confirms exactly (one row, same amount and currency) of a
 * payment still `captured` goes to the settle list: the reconciliation sends those
 * payments the settle command.
 *
 * A day is [00:00:00.000, 24:00:00.000) UTC: a capture at 23:59:59.999 belongs to it,
 * one at 00:00:00.000 to the next.
 */
#ifndef PAY_RECON_H
#define PAY_RECON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pay_fsm.h"
#include "souk_event.h"

/* A provider_ref of up to 64 characters and its NUL (souk-psp's are 36). */
#define PAY_RECON_REF_SIZE 65
#define PAY_RECON_DAY_MS INT64_C(86400000)

enum pay_recon_type {
	PAY_RECON_CAPTURE,
	PAY_RECON_REFUND,
};

/* One line of the report. */
struct pay_recon_row {
	int64_t settled_at_ms; /* unix milliseconds */
	char provider_ref[PAY_RECON_REF_SIZE];
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	enum pay_recon_type type;
	int64_t amount; /* minor units, 1..PAY_MONEY_MAX */
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	char key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE];
};

/*
 * Parses the report csv[0..len) strictly: the header line exactly as above, then
 * records of seven fields (RFC 4180 quoting allowed), each line ending in "\n";
 * settled_at is RFC 3339 UTC with milliseconds ("2026-11-27T10:00:00.000Z"),
 * provider_ref 1 to 64 printable characters, payment_id an identifier, type capture or
 * refund, amount an integer 1..PAY_MONEY_MAX in minor units, currency a code souk
 * accepts, key an idempotency key. *rows is malloc'd (NULL when *n is 0) and moves to
 * the caller. Returns 0, or -1 with errstr naming the line and column
 * (`line 3, column 5 (amount): ...`) and *rows NULL. Cost: O(len).
 */
int pay_recon_parse_report(const char *csv, size_t len, struct pay_recon_row **rows,
			   size_t *n, char *errstr, size_t errstr_size);

/* Parses a calendar date "YYYY-MM-DD" (a real one: 2026-02-30 is refused) into the
 * unix milliseconds of its first instant. Returns 0, or -1 with errstr filled. */
int pay_recon_parse_day(const char *date, int64_t *day_ms, char *errstr,
			size_t errstr_size);

/* A succeeded refund of a payment (payment_refunds). */
struct pay_recon_refund {
	int64_t amount;
	int64_t at_ms; /* when it succeeded, unix milliseconds */
};

/* A payment as the ledger holds it. The strings and refunds are the caller's
 * (borrowed for the call, e.g. from a PGresult). */
struct pay_recon_payment {
	const char *payment_id;
	const char *provider_ref; /* never NULL nor "": a payment the provider knows */
	enum pay_state state;
	int64_t amount_captured; /* 0 when never captured */
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	int64_t
	    captured_at_ms; /* its capture transition's time; unused if not captured */
	const struct pay_recon_refund *refunds;
	size_t n_refunds;
};

enum pay_recon_kind {
	PAY_RECON_MISSING_AT_PROVIDER,
	PAY_RECON_MISSING_IN_LEDGER,
	PAY_RECON_AMOUNT_MISMATCH,
	PAY_RECON_CURRENCY_MISMATCH,
	PAY_RECON_STATE_MISMATCH,
};

struct pay_recon_discrepancy {
	enum pay_recon_kind kind;
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	char provider_ref[PAY_RECON_REF_SIZE];
	/* When amounts: expected (the ledger's) and got (the report's) in minor units of
	 * currency. A currency mismatch, or a capture of a payment never captured, has
	 * none; detail says what differs. */
	bool amounts;
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	int64_t expected;
	int64_t got;
	char detail[192];
};

/* A capture the report confirmed: send settle to payment_id. */
struct pay_recon_settle {
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	char provider_ref[PAY_RECON_REF_SIZE];
	int64_t amount;
	char currency[SOUK_EVENT_CURRENCY_SIZE];
};

/* What a comparison found, in provider_ref order. Owns its arrays. */
struct pay_recon_result {
	int64_t day_ms;
	struct pay_recon_discrepancy *discrepancies;
	size_t n_discrepancies;
	struct pay_recon_settle *settle;
	size_t n_settle;
};

/* Frees what r holds and zeroes it; r may be zeroed already. */
void pay_recon_result_clear(struct pay_recon_result *r);

/* "missing_at_provider", ...; NULL out of range. */
const char *pay_recon_kind_name(enum pay_recon_kind kind);

/*
 * Compares the ledger with the report of the day starting at day_ms (rows settled that
 * day) into *out, zeroed first. The ledger holds at least every payment captured on
 * the day and every payment the report names; only captures in the day are expected
 * in the report, and only refunds that succeeded in the day are compared with its
 * refunds. Returns 0, or -1 with errstr filled and *out zeroed when the ledger names a
 * provider_ref twice or lacks one, or memory runs out. Cost: O(n log n) in
 * n_ledger + n_report (both sorted by provider_ref), plus the refunds.
 */
int pay_recon_compare(const struct pay_recon_payment *ledger, size_t n_ledger,
		      const struct pay_recon_row *report, size_t n_report, int64_t day_ms,
		      struct pay_recon_result *out, char *errstr, size_t errstr_size);

/* Writes r to f as two aligned tables (discrepancies, then captures to settle), the
 * amounts in major units (pay_money_format). Returns 0, or -1 when f fails. */
int pay_recon_print_table(FILE *f, const struct pay_recon_result *r);

/*
 * r as one JSON object:
 *   {"date": "2026-11-27",
 *    "discrepancies": [{"kind", "payment_id", "provider_ref", "currency",
 *                       "expected", "got" (minor units, only with amounts), "detail"}],
 *    "settle": [{"payment_id", "provider_ref", "amount", "currency"}]}
 * into *json (malloc'd, NUL-terminated, *len bytes; moves to the caller). Returns 0,
 * or -1 when out of memory.
 */
int pay_recon_json(const struct pay_recon_result *r, char **json, size_t *len);

#endif
