/*
 * psp_ledger: the rules an acquirer enforces. A capture is at most the authorized
 * amount and happens once; a void only on an authorized payment; refunds add up to the
 * captured amount at most; a declined payment takes nothing. apply re-checks the rules
 * (how a journal is verified) and the settlements honour the delay and the test hooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "psp_ledger.h"

#define T0 INT64_C(1795000000000)

static int
ledger_setup(void **state)
{
	*state = psp_ledger_new();
	return *state ? 0 : -1;
}

static int
ledger_teardown(void **state)
{
	psp_ledger_destroy(*state);
	return 0;
}

static struct psp_request
req(enum psp_op_type type, const char *ref, const char *key, int64_t amount)
{
	struct psp_request r = {.type = type, .amount = amount};

	snprintf(r.provider_ref, sizeof(r.provider_ref), "%s", ref ? ref : "");
	snprintf(r.key, sizeof(r.key), "%s", key);
	snprintf(r.payment_id, sizeof(r.payment_id), "pay-1");
	snprintf(r.currency, sizeof(r.currency), "EUR");
	snprintf(r.refund_id, sizeof(r.refund_id), "rf-%s", key);
	return r;
}

/* Checks and applies; returns the code and, when refused, the message in msg. */
static enum psp_ledger_rc
run(struct psp_ledger *l, const struct psp_request *r, bool decline, struct psp_op *op,
    char *msg, size_t msg_size)
{
	enum psp_ledger_rc rc = psp_ledger_check(l, r, decline, T0, op, msg, msg_size);
	char err[256];

	if (rc == PSP_LEDGER_OK)
		assert_int_equal(psp_ledger_apply(l, op, err, sizeof(err)), 0);
	return rc;
}

/* Authorizes amount under key; the payment's reference goes to ref. */
static void
authorize(struct psp_ledger *l, const char *key, int64_t amount, bool decline,
	  char ref[PSP_REF_SIZE])
{
	struct psp_request r = req(PSP_OP_AUTHORIZE, NULL, key, amount);
	struct psp_op op;
	char msg[256];

	assert_int_equal(run(l, &r, decline, &op, msg, sizeof(msg)), PSP_LEDGER_OK);
	assert_int_equal(op.state, decline ? PSP_STATE_DECLINED : PSP_STATE_AUTHORIZED);
	memcpy(ref, op.provider_ref, PSP_REF_SIZE);
}

/* Runs type on ref, expecting want; a refusal's message must contain text. */
static struct psp_op
expect(struct psp_ledger *l, enum psp_op_type type, const char *ref, const char *key,
       int64_t amount, enum psp_ledger_rc want, const char *text)
{
	struct psp_request r = req(type, ref, key, amount);
	struct psp_op op;
	char msg[256] = "";

	assert_int_equal(run(l, &r, false, &op, msg, sizeof(msg)), want);
	if (text && !strstr(msg, text))
		fail_msg("message \"%s\" lacks \"%s\"", msg, text);
	return op;
}

static void
test_refs_come_from_the_key(void **state)
{
	char a[PSP_REF_SIZE], b[PSP_REF_SIZE], c[PSP_REF_SIZE];

	(void)state;
	psp_ledger_ref("key-1", a);
	psp_ledger_ref("key-1", b);
	psp_ledger_ref("key-2", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_true(psp_request_ref_valid(a));
}

static void
test_capture_at_most_the_authorized_amount_once(void **state)
{
	struct psp_ledger *l = *state;
	char ref[PSP_REF_SIZE];
	struct psp_op op;

	authorize(l, "a1", 1999, false, ref);
	expect(l, PSP_OP_CAPTURE, ref, "c1", 2000, PSP_LEDGER_ILLEGAL,
	       "cannot capture 2000: only 1999 authorized");
	op = expect(l, PSP_OP_CAPTURE, ref, "c2", 1500, PSP_LEDGER_OK, NULL);
	assert_int_equal(op.state, PSP_STATE_CAPTURED);
	assert_string_equal(op.payment_id, "pay-1");
	assert_string_equal(op.currency, "EUR");
	expect(l, PSP_OP_CAPTURE, ref, "c3", 1, PSP_LEDGER_ILLEGAL,
	       "cannot capture a payment that is captured");
	expect(l, PSP_OP_CAPTURE, "psp_00000000000000000000000000000000", "c4", 1,
	       PSP_LEDGER_NOT_FOUND, "no payment with provider_ref");
}

static void
test_void_only_an_authorized_payment(void **state)
{
	struct psp_ledger *l = *state;
	char ref[PSP_REF_SIZE], captured[PSP_REF_SIZE], declined[PSP_REF_SIZE];
	struct psp_op op;

	authorize(l, "a1", 700, false, ref);
	op = expect(l, PSP_OP_VOID, ref, "v1", 0, PSP_LEDGER_OK, NULL);
	assert_int_equal(op.state, PSP_STATE_VOIDED);
	assert_int_equal(op.amount, 700); /* the amount released */
	expect(l, PSP_OP_VOID, ref, "v2", 0, PSP_LEDGER_ILLEGAL,
	       "cannot void a payment that is voided");
	expect(l, PSP_OP_CAPTURE, ref, "c1", 700, PSP_LEDGER_ILLEGAL,
	       "cannot capture a payment that is voided");

	authorize(l, "a2", 700, false, captured);
	expect(l, PSP_OP_CAPTURE, captured, "c2", 700, PSP_LEDGER_OK, NULL);
	expect(l, PSP_OP_VOID, captured, "v3", 0, PSP_LEDGER_ILLEGAL,
	       "cannot void a payment that is captured");

	authorize(l, "a3", 700, true, declined);
	expect(l, PSP_OP_VOID, declined, "v4", 0, PSP_LEDGER_ILLEGAL,
	       "cannot void a payment that is declined");
	expect(l, PSP_OP_CAPTURE, declined, "c3", 1, PSP_LEDGER_ILLEGAL,
	       "cannot capture a payment that is declined");
}

static void
test_refunds_add_up_to_the_captured_amount(void **state)
{
	struct psp_ledger *l = *state;
	char ref[PSP_REF_SIZE];
	struct psp_op op;

	authorize(l, "a1", 1000, false, ref);
	expect(l, PSP_OP_REFUND, ref, "r0", 1, PSP_LEDGER_ILLEGAL,
	       "cannot refund a payment that is authorized");
	expect(l, PSP_OP_CAPTURE, ref, "c1", 800, PSP_LEDGER_OK, NULL);
	op = expect(l, PSP_OP_REFUND, ref, "r1", 300, PSP_LEDGER_OK, NULL);
	assert_int_equal(op.state, PSP_STATE_PARTIALLY_REFUNDED);
	assert_int_equal(op.refunded_total, 300);
	assert_string_equal(op.refund_id, "rf-r1");
	expect(l, PSP_OP_REFUND, ref, "r2", 501, PSP_LEDGER_ILLEGAL,
	       "cannot refund 501: only 500 of 800 captured left to refund");
	op = expect(l, PSP_OP_REFUND, ref, "r3", 500, PSP_LEDGER_OK, NULL);
	assert_int_equal(op.state, PSP_STATE_REFUNDED);
	assert_int_equal(op.refunded_total, 800);
	expect(l, PSP_OP_REFUND, ref, "r4", 1, PSP_LEDGER_ILLEGAL,
	       "cannot refund a payment that is refunded");
}

static void
test_apply_refuses_what_breaks_the_rules(void **state)
{
	struct psp_ledger *l = *state;
	char ref[PSP_REF_SIZE], err[256];
	struct psp_request r;
	struct psp_op op, bad;

	authorize(l, "a1", 1000, false, ref);
	r = req(PSP_OP_CAPTURE, ref, "c1", 1000);
	assert_int_equal(psp_ledger_check(l, &r, false, T0, &op, err, sizeof(err)),
			 PSP_LEDGER_OK);
	bad = op;
	bad.amount = 1001;
	assert_int_equal(psp_ledger_apply(l, &bad, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot capture 1001: only 1000 authorized");
	bad = op;
	snprintf(bad.currency, sizeof(bad.currency), "USD");
	assert_int_equal(psp_ledger_apply(l, &bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not match the payment"));
	assert_int_equal(psp_ledger_apply(l, &op, err, sizeof(err)), 0);
	/* the same capture twice, as a journal with a line repeated would hold */
	assert_int_equal(psp_ledger_apply(l, &op, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot capture a payment that is captured");
	r = req(PSP_OP_AUTHORIZE, NULL, "a1", 5);
	assert_int_equal(psp_ledger_check(l, &r, false, T0, &op, err, sizeof(err)),
			 PSP_LEDGER_OK);
	assert_int_equal(psp_ledger_apply(l, &op, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is already authorized"));
}

struct seen {
	enum psp_op_type types[8];
	size_t n;
};

static void
see_op(const struct psp_op *op, void *opaque)
{
	struct seen *seen = opaque;

	assert_true(seen->n < 8);
	seen->types[seen->n++] = op->type;
}

static void
test_operations_and_settlements(void **state)
{
	struct psp_ledger *l = *state;
	char a[PSP_REF_SIZE], b[PSP_REF_SIZE], msg[256];
	struct seen seen = {.n = 0};
	struct psp_settlement *rows;
	size_t n;

	authorize(l, "a1", 1000, false, a);
	expect(l, PSP_OP_CAPTURE, a, "c1", 1000, PSP_LEDGER_OK, NULL);
	expect(l, PSP_OP_REFUND, a, "r1", 100, PSP_LEDGER_OK, NULL);
	authorize(l, "a2", 500, false, b);
	assert_int_equal(psp_ledger_reportable(l, b, msg, sizeof(msg)),
			 PSP_LEDGER_ILLEGAL);
	assert_non_null(strstr(msg, "has no capture to report"));
	expect(l, PSP_OP_CAPTURE, b, "c2", 500, PSP_LEDGER_OK, NULL);

	/* both authorizations of pay-1, in the order applied */
	assert_int_equal(psp_ledger_ops(l, "pay-1", see_op, &seen), 5);
	assert_int_equal(seen.n, 5);
	assert_int_equal(seen.types[0], PSP_OP_AUTHORIZE);
	assert_int_equal(seen.types[1], PSP_OP_CAPTURE);
	assert_int_equal(seen.types[2], PSP_OP_REFUND);
	assert_int_equal(seen.types[3], PSP_OP_AUTHORIZE);
	assert_int_equal(seen.types[4], PSP_OP_CAPTURE);
	assert_int_equal(psp_ledger_ops(l, "pay-2", see_op, &seen), 0);

	assert_int_equal(psp_ledger_reportable(l, a, msg, sizeof(msg)), PSP_LEDGER_OK);
	psp_ledger_drop(l, a);
	psp_ledger_misreport(l, b, 499);
	assert_int_equal(psp_ledger_settlements(l, 86400000, &rows, &n), 0);
	assert_int_equal(n, 2); /* a's capture left out, its refund kept */
	assert_int_equal(rows[0].type, PSP_OP_REFUND);
	assert_string_equal(rows[0].provider_ref, a);
	assert_int_equal(rows[0].amount, 100);
	assert_int_equal(rows[0].settled_at_ms, T0 + 86400000);
	assert_int_equal(rows[1].type, PSP_OP_CAPTURE);
	assert_int_equal(rows[1].amount, 499);
	assert_string_equal(rows[1].key, "c2");
	free(rows);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refs_come_from_the_key),
	    cmocka_unit_test_setup_teardown(
		test_capture_at_most_the_authorized_amount_once, ledger_setup,
		ledger_teardown),
	    cmocka_unit_test_setup_teardown(test_void_only_an_authorized_payment,
					    ledger_setup, ledger_teardown),
	    cmocka_unit_test_setup_teardown(test_refunds_add_up_to_the_captured_amount,
					    ledger_setup, ledger_teardown),
	    cmocka_unit_test_setup_teardown(test_apply_refuses_what_breaks_the_rules,
					    ledger_setup, ledger_teardown),
	    cmocka_unit_test_setup_teardown(test_operations_and_settlements, ledger_setup,
					    ledger_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
