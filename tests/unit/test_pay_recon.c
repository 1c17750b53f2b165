/*
 * pay_recon: the settlement report's CSV parsed strictly, and the comparison with the
 * ledger: a clean day settles its captures, each kind of discrepancy injected alone
 * is found alone, and the day ends at 23:59:59.999 UTC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pay_recon.h"

#define HEADER "settled_at,provider_ref,payment_id,type,amount,currency,key\n"
#define DAY "2026-11-27"

/* A clean day: p1 captured 19.99 EUR, p2 captured 5000 JPY then refunded 1000 of it,
 * p3 captured and already settled, p4 voided (never in the report). */
#define CLEAN_REPORT                                                                     \
	HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,EUR,cap-p1\n"            \
	       "2026-11-27T11:00:00.000Z,psp_b2,p2,capture,5000,JPY,cap-p2\n"            \
	       "2026-11-27T12:00:00.000Z,psp_b2,p2,refund,1000,JPY,ref-p2\n"             \
	       "2026-11-27T09:00:00.000Z,psp_c3,p3,capture,700,USD,cap-p3\n"

static int64_t day_ms;

/* The unix milliseconds of "hh:mm:ss.mmm" on DAY plus days. */
static int64_t
at(int days, int h, int m, int s, int ms)
{
	return day_ms + days * PAY_RECON_DAY_MS + ((h * 60 + m) * 60 + s) * 1000 + ms;
}

struct fixture {
	struct pay_recon_refund p2_refunds[1];
	struct pay_recon_payment ledger[4];
	struct pay_recon_result result;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256];

	if (!fx || pay_recon_parse_day(DAY, &day_ms, err, sizeof(err)))
		return -1;
	fx->p2_refunds[0] = (struct pay_recon_refund){1000, at(0, 11, 30, 0, 0)};
	fx->ledger[0] = (struct pay_recon_payment){
	    "p1", "psp_a1", PAY_STATE_CAPTURED, 1999, "EUR", at(0, 9, 59, 0, 0), NULL, 0};
	fx->ledger[1] =
	    (struct pay_recon_payment){"p2",	       "psp_b2", PAY_STATE_CAPTURED,
				       5000,	       "JPY",	 at(0, 10, 59, 0, 0),
				       fx->p2_refunds, 1};
	fx->ledger[2] = (struct pay_recon_payment){
	    "p3", "psp_c3", PAY_STATE_SETTLED, 700, "USD", at(0, 8, 59, 0, 0), NULL, 0};
	fx->ledger[3] = (struct pay_recon_payment){
	    "p4", "psp_d4", PAY_STATE_VOIDED, 0, "EUR", 0, NULL, 0};
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	pay_recon_result_clear(&fx->result);
	free(fx);
	return 0;
}

/* Parses csv and compares it with the fixture's ledger into fx->result. */
static void
reconcile(struct fixture *fx, const char *csv)
{
	struct pay_recon_row *rows;
	size_t n;
	char err[256];

	if (pay_recon_parse_report(csv, strlen(csv), &rows, &n, err, sizeof(err)))
		fail_msg("could not parse the report: %s", err);
	if (pay_recon_compare(fx->ledger, 4, rows, n, day_ms, &fx->result, err,
			      sizeof(err)))
		fail_msg("could not compare: %s", err);
	free(rows);
}

/* Asserts the result holds exactly one discrepancy, of kind about payment_id. */
static const struct pay_recon_discrepancy *
only(const struct fixture *fx, enum pay_recon_kind kind, const char *payment_id)
{
	const struct pay_recon_discrepancy *d = fx->result.discrepancies;

	for (size_t i = 0;
	     fx->result.n_discrepancies != 1 && i < fx->result.n_discrepancies; i++)
		print_message("found %s %s: %s\n", pay_recon_kind_name(d[i].kind),
			      d[i].payment_id, d[i].detail);
	assert_int_equal(fx->result.n_discrepancies, 1);
	assert_string_equal(pay_recon_kind_name(d->kind), pay_recon_kind_name(kind));
	assert_string_equal(d->payment_id, payment_id);
	return d;
}

static void
test_clean_day_settles_the_captured_payments(void **state)
{
	struct fixture *fx = *state;

	reconcile(fx, CLEAN_REPORT);
	assert_int_equal(fx->result.n_discrepancies, 0);
	/* p3 is settled already, p4 was never captured */
	assert_int_equal(fx->result.n_settle, 2);
	assert_string_equal(fx->result.settle[0].payment_id, "p1");
	assert_string_equal(fx->result.settle[0].provider_ref, "psp_a1");
	assert_int_equal(fx->result.settle[0].amount, 1999);
	assert_string_equal(fx->result.settle[0].currency, "EUR");
	assert_string_equal(fx->result.settle[1].payment_id, "p2");
}

static void
test_missing_at_provider(void **state)
{
	struct fixture *fx = *state;
	const struct pay_recon_discrepancy *d;

	reconcile(fx,
		  HEADER "2026-11-27T11:00:00.000Z,psp_b2,p2,capture,5000,JPY,cap-p2\n"
			 "2026-11-27T12:00:00.000Z,psp_b2,p2,refund,1000,JPY,ref-p2\n"
			 "2026-11-27T09:00:00.000Z,psp_c3,p3,capture,700,USD,cap-p3\n");
	d = only(fx, PAY_RECON_MISSING_AT_PROVIDER, "p1");
	assert_true(d->amounts);
	assert_int_equal(d->expected, 1999);
	assert_int_equal(d->got, 0);
	assert_int_equal(fx->result.n_settle, 1); /* p2 */
}

static void
test_missing_in_ledger_capture(void **state)
{
	struct fixture *fx = *state;
	const struct pay_recon_discrepancy *d;

	reconcile(fx, CLEAN_REPORT
		  "2026-11-27T13:00:00.000Z,psp_zz,p9,capture,4200,EUR,cap-p9\n");
	d = only(fx, PAY_RECON_MISSING_IN_LEDGER, "p9");
	assert_string_equal(d->provider_ref, "psp_zz");
	assert_int_equal(d->got, 4200);
	assert_int_equal(fx->result.n_settle, 2);
}

static void
test_missing_in_ledger_refund(void **state)
{
	struct fixture *fx = *state;
	const struct pay_recon_discrepancy *d;

	reconcile(fx, CLEAN_REPORT
		  "2026-11-27T14:00:00.000Z,psp_a1,p1,refund,500,EUR,ref-p1\n");
	d = only(fx, PAY_RECON_MISSING_IN_LEDGER, "p1");
	assert_int_equal(d->got, 500);
	assert_non_null(strstr(d->detail, "refund"));
}

static void
test_amount_mismatch(void **state)
{
	struct fixture *fx = *state;
	const struct pay_recon_discrepancy *d;

	reconcile(fx,
		  HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1990,EUR,cap-p1\n"
			 "2026-11-27T11:00:00.000Z,psp_b2,p2,capture,5000,JPY,cap-p2\n"
			 "2026-11-27T12:00:00.000Z,psp_b2,p2,refund,1000,JPY,ref-p2\n"
			 "2026-11-27T09:00:00.000Z,psp_c3,p3,capture,700,USD,cap-p3\n");
	d = only(fx, PAY_RECON_AMOUNT_MISMATCH, "p1");
	assert_int_equal(d->expected, 1999);
	assert_int_equal(d->got, 1990);
	assert_string_equal(d->currency, "EUR");
	/* a mismatched capture is not settled */
	assert_int_equal(fx->result.n_settle, 1);
	assert_string_equal(fx->result.settle[0].payment_id, "p2");
}

static void
test_currency_mismatch(void **state)
{
	struct fixture *fx = *state;
	const struct pay_recon_discrepancy *d;

	reconcile(fx,
		  HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,USD,cap-p1\n"
			 "2026-11-27T11:00:00.000Z,psp_b2,p2,capture,5000,JPY,cap-p2\n"
			 "2026-11-27T12:00:00.000Z,psp_b2,p2,refund,1000,JPY,ref-p2\n"
			 "2026-11-27T09:00:00.000Z,psp_c3,p3,capture,700,USD,cap-p3\n");
	d = only(fx, PAY_RECON_CURRENCY_MISMATCH, "p1");
	assert_non_null(strstr(d->detail, "EUR"));
	assert_non_null(strstr(d->detail, "USD"));
	assert_int_equal(fx->result.n_settle, 1);
}

static void
test_state_mismatch_capture_of_a_voided_payment(void **state)
{
	struct fixture *fx = *state;
	const struct pay_recon_discrepancy *d;

	reconcile(fx, CLEAN_REPORT
		  "2026-11-27T15:00:00.000Z,psp_d4,p4,capture,300,EUR,cap-p4\n");
	d = only(fx, PAY_RECON_STATE_MISMATCH, "p4");
	assert_false(d->amounts);
	assert_non_null(strstr(d->detail, "voided"));
	assert_int_equal(fx->result.n_settle, 2);
}

static void
test_state_mismatch_refund_totals(void **state)
{
	struct fixture *fx = *state;
	const struct pay_recon_discrepancy *d;

	reconcile(fx,
		  HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,EUR,cap-p1\n"
			 "2026-11-27T11:00:00.000Z,psp_b2,p2,capture,5000,JPY,cap-p2\n"
			 "2026-11-27T12:00:00.000Z,psp_b2,p2,refund,1000,JPY,ref-p2\n"
			 "2026-11-27T12:30:00.000Z,psp_b2,p2,refund,200,JPY,ref-p2b\n"
			 "2026-11-27T09:00:00.000Z,psp_c3,p3,capture,700,USD,cap-p3\n");
	d = only(fx, PAY_RECON_STATE_MISMATCH, "p2");
	assert_true(d->amounts);
	assert_int_equal(d->expected, 1000);
	assert_int_equal(d->got, 1200);
}

static void
test_day_boundary(void **state)
{
	struct fixture *fx = *state;

	/* p1 captured at the day's last millisecond: expected in this day's report */
	fx->ledger[0].captured_at_ms = at(0, 23, 59, 59, 999);
	reconcile(fx,
		  HEADER "2026-11-27T11:00:00.000Z,psp_b2,p2,capture,5000,JPY,cap-p2\n"
			 "2026-11-27T12:00:00.000Z,psp_b2,p2,refund,1000,JPY,ref-p2\n"
			 "2026-11-27T09:00:00.000Z,psp_c3,p3,capture,700,USD,cap-p3\n");
	only(fx, PAY_RECON_MISSING_AT_PROVIDER, "p1");
	pay_recon_result_clear(&fx->result);

	/* at the next day's first millisecond: tomorrow's report's business */
	fx->ledger[0].captured_at_ms = at(1, 0, 0, 0, 0);
	reconcile(fx,
		  HEADER "2026-11-27T11:00:00.000Z,psp_b2,p2,capture,5000,JPY,cap-p2\n"
			 "2026-11-27T12:00:00.000Z,psp_b2,p2,refund,1000,JPY,ref-p2\n"
			 "2026-11-27T09:00:00.000Z,psp_c3,p3,capture,700,USD,cap-p3\n");
	assert_int_equal(fx->result.n_discrepancies, 0);

	/* a refund at the next day's first millisecond is not compared with this day's */
	fx->ledger[0].captured_at_ms = at(0, 9, 59, 0, 0);
	fx->p2_refunds[0].at_ms = at(1, 0, 0, 0, 0);
	pay_recon_result_clear(&fx->result);
	reconcile(fx, CLEAN_REPORT);
	only(fx, PAY_RECON_MISSING_IN_LEDGER, "p2");
}

static void
test_parse_reads_every_field(void **state)
{
	const char csv[] = HEADER "2026-11-27T23:59:59.999Z,psp_a1,p1,refund,25,KWD,"
				  "\"key, with \"\"quotes\"\"\"\n";
	struct pay_recon_row *rows;
	size_t n;
	char err[256];

	(void)state;
	assert_int_equal(pay_recon_parse_day(DAY, &day_ms, err, sizeof(err)), 0);
	assert_int_equal(
	    pay_recon_parse_report(csv, strlen(csv), &rows, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].settled_at_ms, at(0, 23, 59, 59, 999));
	assert_string_equal(rows[0].provider_ref, "psp_a1");
	assert_string_equal(rows[0].payment_id, "p1");
	assert_int_equal(rows[0].type, PAY_RECON_REFUND);
	assert_int_equal(rows[0].amount, 25);
	assert_string_equal(rows[0].currency, "KWD");
	assert_string_equal(rows[0].key, "key, with \"quotes\"");
	free(rows);

	assert_int_equal(
	    pay_recon_parse_report(HEADER, strlen(HEADER), &rows, &n, err, sizeof(err)),
	    0);
	assert_int_equal(n, 0);
	assert_null(rows);
}

/* Asserts csv is refused with an error starting with want. */
static void
refused(const char *csv, const char *want)
{
	struct pay_recon_row *rows = (void *)1;
	size_t n;
	char err[256];

	assert_int_equal(
	    pay_recon_parse_report(csv, strlen(csv), &rows, &n, err, sizeof(err)), -1);
	assert_null(rows);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
}

static void
test_parse_errors_name_line_and_column(void **state)
{
	(void)state;
	refused("settled_at,provider_ref,payment_id,type,amount,currency\n", "line 1:");
	refused("", "line 1:");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,EUR,k1\n"
		       "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,19.99,EUR,k1\n",
		"line 3, column 5 (amount): must be an integer");
	refused(HEADER "2026-11-27 10:00:00Z,psp_a1,p1,capture,1999,EUR,k1\n",
		"line 2, column 1 (settled_at): must be RFC 3339");
	refused(HEADER "2026-11-27T24:00:00.000Z,psp_a1,p1,capture,1999,EUR,k1\n",
		"line 2, column 1 (settled_at)");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,settle,1999,EUR,k1\n",
		"line 2, column 4 (type): must be capture or refund");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,0,EUR,k1\n",
		"line 2, column 5 (amount)");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,XXX,k1\n",
		"line 2, column 6 (currency): must be a currency");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,EUR\n",
		"line 2, column 7 (key): is missing");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,EUR,k1,x\n",
		"line 2, column 7 (key): is followed by more fields");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,EUR,k1",
		"line 2, column 7 (key): the line has no line break");
	refused(HEADER "2026-11-27T10:00:00.000Z,,p1,capture,1999,EUR,k1\n",
		"line 2, column 2 (provider_ref)");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p 1,capture,1999,EUR,k1\n",
		"line 2, column 3 (payment_id)");
	refused(HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1999,EUR,\"k1\n",
		"line 2, column 7 (key): has no closing quote");
}

static void
test_parse_day(void **state)
{
	int64_t ms;
	char err[256];

	(void)state;
	assert_int_equal(pay_recon_parse_day("1970-01-02", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, PAY_RECON_DAY_MS);
	assert_int_equal(pay_recon_parse_day("2026-02-30", &ms, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2026-02-30"));
}

static void
test_ledger_with_a_provider_ref_twice_is_refused(void **state)
{
	struct fixture *fx = *state;
	char err[256];

	fx->ledger[1].provider_ref = "psp_a1";
	assert_int_equal(pay_recon_compare(fx->ledger, 4, NULL, 0, day_ms, &fx->result,
					   err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "\"psp_a1\""));
	assert_int_equal(fx->result.n_discrepancies, 0);
}

static void
test_table_and_json(void **state)
{
	struct fixture *fx = *state;
	char *text = NULL, *json;
	size_t size, len;
	FILE *f;

	reconcile(fx,
		  HEADER "2026-11-27T10:00:00.000Z,psp_a1,p1,capture,1990,EUR,cap-p1\n"
			 "2026-11-27T11:00:00.000Z,psp_b2,p2,capture,5000,JPY,cap-p2\n"
			 "2026-11-27T12:00:00.000Z,psp_b2,p2,refund,1000,JPY,ref-p2\n"
			 "2026-11-27T09:00:00.000Z,psp_c3,p3,capture,700,USD,cap-p3\n");
	f = open_memstream(&text, &size);
	assert_non_null(f);
	assert_int_equal(pay_recon_print_table(f, &fx->result), 0);
	fclose(f);
	assert_non_null(
	    strstr(text, "2026-11-27: 1 discrepancies, 1 captures to settle"));
	assert_non_null(strstr(text, "amount_mismatch"));
	assert_non_null(strstr(text, "19.99 EUR"));
	assert_non_null(strstr(text, "19.90 EUR"));
	assert_non_null(strstr(text, "5000 JPY"));
	/* the header's "detail" starts where the row's detail does */
	{
		const char *head = strstr(text, "kind"),
			   *row = strstr(text, "amount_mismatch");
		const char *hd = strstr(head, "detail"),
			   *rd = strstr(row, "the provider");

		assert_int_equal(hd - head, rd - row);
	}
	free(text);

	assert_int_equal(pay_recon_json(&fx->result, &json, &len), 0);
	assert_int_equal(len, strlen(json));
	assert_non_null(strstr(json, "\"date\":\"2026-11-27\""));
	assert_non_null(
	    strstr(json, "\"kind\":\"amount_mismatch\",\"payment_id\":\"p1\""));
	assert_non_null(strstr(json, "\"expected\":1999,\"got\":1990"));
	assert_non_null(strstr(json, "\"settle\":[{\"payment_id\":\"p2\""));
	free(json);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_clean_day_settles_the_captured_payments,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_at_provider, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_in_ledger_capture, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_missing_in_ledger_refund, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_amount_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_currency_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_state_mismatch_capture_of_a_voided_payment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_mismatch_refund_totals, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_day_boundary, setup, teardown),
	    cmocka_unit_test(test_parse_reads_every_field),
	    cmocka_unit_test(test_parse_errors_name_line_and_column),
	    cmocka_unit_test(test_parse_day),
	    cmocka_unit_test_setup_teardown(
		test_ledger_with_a_provider_ref_twice_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_and_json, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
