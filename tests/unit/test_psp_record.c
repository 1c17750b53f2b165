/*
 * psp_record: the journal's lines. An answer with its operation, an answer without
 * one and the test hooks survive encode and decode; the stored body comes back byte for
 * byte; a line missing a field is refused with the field named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "psp_record.h"

#define REF "psp_0123456789abcdef0123456789abcdef"

static void
test_an_answer_with_its_operation(void **state)
{
	static const char body[] =
	    "{\"status\":\"partially_refunded\",\"amount\":300,  \"x\":[1]}";
	struct psp_record r = {.kind = PSP_RECORD_ANSWER, .status = 200, .has_op = true},
			  back;
	char *line, err[256];
	size_t len;

	(void)state;
	snprintf(r.key, sizeof(r.key), "key \"with\" quotes, commas");
	snprintf(r.fingerprint, sizeof(r.fingerprint),
		 "refund %s amount=300 refund_id=rf", REF);
	r.body = body;
	r.body_len = strlen(body);
	r.op = (struct psp_op){.type = PSP_OP_REFUND,
			       .state = PSP_STATE_PARTIALLY_REFUNDED,
			       .amount = 300,
			       .refunded_total = 300,
			       .at_ms = 1795000000123};
	snprintf(r.op.provider_ref, sizeof(r.op.provider_ref), REF);
	snprintf(r.op.payment_id, sizeof(r.op.payment_id), "pay-1");
	snprintf(r.op.currency, sizeof(r.op.currency), "JPY");
	snprintf(r.op.key, sizeof(r.op.key), "%s", r.key);
	snprintf(r.op.refund_id, sizeof(r.op.refund_id), "rf");

	assert_int_equal(psp_record_encode(&r, &line, &len), 0);
	assert_int_equal(strlen(line), len);
	assert_null(strchr(line, '\n'));
	assert_int_equal(psp_record_decode(line, len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.kind, PSP_RECORD_ANSWER);
	assert_string_equal(back.key, r.key);
	assert_string_equal(back.fingerprint, r.fingerprint);
	assert_int_equal(back.status, 200);
	assert_int_equal(back.body_len, r.body_len);
	assert_memory_equal(back.body, body, r.body_len);
	assert_true(back.has_op);
	assert_memory_equal(&back.op, &r.op, sizeof(r.op));
	free(line);
}

static void
test_an_answer_without_operation_and_the_hooks(void **state)
{
	struct psp_record r = {.kind = PSP_RECORD_ANSWER,
			       .status = 409,
			       .body = "{}",
			       .body_len = 2},
			  back;
	char *line, err[256];
	size_t len;

	(void)state;
	snprintf(r.key, sizeof(r.key), "k");
	snprintf(r.fingerprint, sizeof(r.fingerprint), "void %s", REF);
	assert_int_equal(psp_record_encode(&r, &line, &len), 0);
	assert_int_equal(psp_record_decode(line, len, &back, err, sizeof(err)), 0);
	assert_false(back.has_op);
	assert_int_equal(back.status, 409);
	free(line);

	r = (struct psp_record){.kind = PSP_RECORD_MISREPORT};
	snprintf(r.op.provider_ref, sizeof(r.op.provider_ref), REF);
	r.op.amount = 42;
	assert_int_equal(psp_record_encode(&r, &line, &len), 0);
	assert_string_equal(line, "{\"hook\":\"misreport\",\"provider_ref\":\"" REF
				  "\",\"amount\":42}");
	assert_int_equal(psp_record_decode(line, len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.kind, PSP_RECORD_MISREPORT);
	assert_string_equal(back.op.provider_ref, REF);
	assert_int_equal(back.op.amount, 42);
	free(line);

	r.kind = PSP_RECORD_DROP;
	assert_int_equal(psp_record_encode(&r, &line, &len), 0);
	assert_int_equal(psp_record_decode(line, len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.kind, PSP_RECORD_DROP);
	free(line);
}

static void
assert_refused(const char *line, const char *want)
{
	struct psp_record r;
	char err[256];

	assert_int_equal(psp_record_decode(line, strlen(line), &r, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void
test_broken_lines_name_the_field(void **state)
{
	(void)state;
	assert_refused("{\"key\":\"k\",\"request\":\"r\",\"status\":200}",
		       "body: must be an object");
	assert_refused("{\"key\":\"k\",\"request\":\"r\",\"status\":99,\"body\":{}}",
		       "status: must be an http status");
	assert_refused("{\"request\":\"r\",\"status\":200,\"body\":{}}",
		       "key: is missing");
	assert_refused("{\"key\":\"k\",\"request\":\"r\",\"status\":200,\"body\":{},"
		       "\"op\":{\"type\":\"settle\"}}",
		       "op.state: is missing");
	assert_refused("{\"hook\":\"erase\",\"provider_ref\":\"x\"}",
		       "hook: must be drop or misreport");
	assert_refused("{\"hook\":\"misreport\",\"provider_ref\":\"x\"}",
		       "amount: is missing");
	assert_refused("{\"key\":", "not json");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_an_answer_with_its_operation),
	    cmocka_unit_test(test_an_answer_without_operation_and_the_hooks),
	    cmocka_unit_test(test_broken_lines_name_the_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
