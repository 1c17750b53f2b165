/*
 * psp_report: the settlement report. A day is [00:00:00.000, 24:00:00.000) UTC, so
 * 23:59:59.999 belongs to the day and 00:00:00.000 to the next; lines are sorted by
 * settled_at then provider_ref; a key with a comma or quote is quoted; dates must be
 * real.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "psp_report.h"

#define HEADER "settled_at,provider_ref,payment_id,type,amount,currency,key\n"
#define REF_A "psp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define REF_B "psp_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* 2026-11-27T00:00:00.000Z */
#define DAY INT64_C(1795737600000)

static struct psp_settlement
row(int64_t at, const char *ref, enum psp_op_type type, int64_t amount, const char *key)
{
	struct psp_settlement r = {.settled_at_ms = at, .type = type, .amount = amount};

	snprintf(r.provider_ref, sizeof(r.provider_ref), "%s", ref);
	snprintf(r.payment_id, sizeof(r.payment_id), "pay-%c", ref[4]);
	snprintf(r.currency, sizeof(r.currency), "EUR");
	snprintf(r.key, sizeof(r.key), "%s", key);
	return r;
}

static void
test_timestamps_are_utc_with_milliseconds(void **state)
{
	char ts[PSP_REPORT_TS_SIZE];

	(void)state;
	assert_string_equal(psp_report_ts(DAY - 1, ts), "2026-11-26T23:59:59.999Z");
	assert_string_equal(psp_report_ts(DAY, ts), "2026-11-27T00:00:00.000Z");
	assert_string_equal(psp_report_ts(0, ts), "1970-01-01T00:00:00.000Z");
}

static void
test_days_are_real_calendar_dates(void **state)
{
	int64_t start, end;
	char err[128];

	(void)state;
	assert_int_equal(psp_report_day("2026-11-27", &start, &end, err, sizeof(err)), 0);
	assert_int_equal(start, DAY);
	assert_int_equal(end, DAY + 86400000);
	assert_int_equal(psp_report_day("2024-02-29", &start, &end, err, sizeof(err)), 0);
	assert_int_equal(psp_report_day("2026-02-29", &start, &end, err, sizeof(err)),
			 -1);
	assert_string_equal(
	    err, "date: must be a calendar date like 2026-11-27, got \"2026-02-29\"");
	assert_int_equal(psp_report_day("2026-1-27", &start, &end, err, sizeof(err)), -1);
	assert_int_equal(psp_report_day("2026-11-27x", &start, &end, err, sizeof(err)),
			 -1);
	assert_int_equal(psp_report_day("2026/11/27", &start, &end, err, sizeof(err)),
			 -1);
	assert_int_equal(psp_report_day("", &start, &end, err, sizeof(err)), -1);
}

static void
test_the_day_boundary(void **state)
{
	struct psp_settlement rows[] = {
	    row(DAY + 86400000, REF_A, PSP_OP_REFUND, 5, "r-next-day"),
	    row(DAY + 86400000 - 1, REF_A, PSP_OP_CAPTURE, 100, "c-last-ms"),
	    row(DAY, REF_B, PSP_OP_CAPTURE, 200, "c-first-ms"),
	    row(DAY - 1, REF_B, PSP_OP_REFUND, 7, "r-day-before"),
	};
	char *csv;
	size_t len;
	int64_t start, end;
	char err[128];

	(void)state;
	assert_int_equal(psp_report_day("2026-11-27", &start, &end, err, sizeof(err)), 0);
	assert_int_equal(psp_report_csv(rows, 4, start, end, &csv, &len), 0);
	assert_string_equal(csv, HEADER "2026-11-27T00:00:00.000Z," REF_B
					",pay-b,capture,200,EUR,c-first-ms\n"
					"2026-11-27T23:59:59.999Z," REF_A
					",pay-a,capture,100,EUR,c-last-ms\n");
	assert_int_equal(len, strlen(csv));
	free(csv);

	assert_int_equal(psp_report_day("2026-11-28", &start, &end, err, sizeof(err)), 0);
	assert_int_equal(psp_report_csv(rows, 4, start, end, &csv, &len), 0);
	assert_string_equal(csv, HEADER "2026-11-28T00:00:00.000Z," REF_A
					",pay-a,refund,5,EUR,r-next-day\n");
	free(csv);
}

static void
test_sorted_by_time_then_ref_and_quoted(void **state)
{
	struct psp_settlement rows[] = {
	    row(DAY + 5, REF_B, PSP_OP_CAPTURE, 1, "k,1"),
	    row(DAY + 5, REF_A, PSP_OP_REFUND, 2, "k\"2"),
	    row(DAY + 1, REF_B, PSP_OP_REFUND, 3, "k3"),
	};
	char *csv;
	size_t len;

	(void)state;
	assert_int_equal(psp_report_csv(rows, 3, DAY, DAY + 86400000, &csv, &len), 0);
	assert_string_equal(
	    csv,
	    HEADER "2026-11-27T00:00:00.001Z," REF_B ",pay-b,refund,3,EUR,k3\n"
		   "2026-11-27T00:00:00.005Z," REF_A ",pay-a,refund,2,EUR,\"k\"\"2\"\n"
		   "2026-11-27T00:00:00.005Z," REF_B ",pay-b,capture,1,EUR,\"k,1\"\n");
	free(csv);

	assert_int_equal(psp_report_csv(NULL, 0, DAY, DAY + 86400000, &csv, &len), 0);
	assert_string_equal(csv, HEADER);
	free(csv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timestamps_are_utc_with_milliseconds),
	    cmocka_unit_test(test_days_are_real_calendar_dates),
	    cmocka_unit_test(test_the_day_boundary),
	    cmocka_unit_test(test_sorted_by_time_then_ref_and_quoted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
