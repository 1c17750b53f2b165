/* psp_report: the settlement report, the file an acquirer sends a merchant each day.
 *
 *   GET /v1/reports/settlement?date=2026-11-27   ->   text/csv
 *
 *   settled_at,provider_ref,payment_id,type,amount,currency,key
 *   2026-11-27T10:00:00.000Z,psp_0f...,p-1,capture,1999,EUR,cap-p-1
 *
 * One line per capture and refund settled on that UTC day, [00:00:00.000,
 * 24:00:00.000), sorted by settled_at then provider_ref (then type and key, so the
 * order is total). A field holding a comma, a quote or a line break is quoted as RFC
 * 4180 says (only keys can). Lines end with "\n".
 *
 * Pure functions: no state, safe from any thread. */
#ifndef PSP_REPORT_H
#define PSP_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "psp_request.h"

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" and its NUL. */
#define PSP_REPORT_TS_SIZE 25

/* One settled capture or refund as the report shows it. */
struct psp_settlement {
	int64_t settled_at_ms; /* unix time in milliseconds */
	char provider_ref[PSP_REF_SIZE];
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	enum psp_op_type type; /* PSP_OP_CAPTURE or PSP_OP_REFUND */
	int64_t amount;
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	char key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE];
};

/* Unix milliseconds (from 1970 to 9999) as UTC with milliseconds. Returns out. */
char *psp_report_ts(int64_t ms, char out[PSP_REPORT_TS_SIZE]);

/* Parses a calendar date "YYYY-MM-DD" (a real one: 2026-02-30 is refused) into the
 * unix milliseconds of its first instant and of the next day's. Returns 0, or -1 with
 * errstr filled. */
int psp_report_day(const char *date, int64_t *start_ms, int64_t *end_ms, char *errstr,
		   size_t errstr_size);

/* The report of rows settled in [start_ms, end_ms): sorts rows[0..n) in place and
 * writes the CSV (header line included) to *csv, malloc'd, NUL-terminated, *len bytes;
 * ownership of *csv moves to the caller. Returns 0, or -1 when out of memory.
 * Cost: O(n log n). */
int psp_report_csv(struct psp_settlement *rows, size_t n, int64_t start_ms,
		   int64_t end_ms, char **csv, size_t *len);

#endif
