/*
 * psp_request: a payment operation's body and Idempotency-Key, validated. Every error
 * names its field; unknown fields are refused; the fingerprint ignores the body's
 * member order and spacing but not a parameter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "psp_request.h"

#define REF "psp_0123456789abcdef0123456789abcdef"

/* Parses body as type, which must fail on field with a message containing text. */
static void
assert_refused(enum psp_op_type type, const char *key, const char *body,
	       const char *field, const char *text)
{
	struct psp_request req;
	struct psp_request_error err;

	assert_int_equal(psp_request_parse(type, type == PSP_OP_AUTHORIZE ? NULL : REF,
					   key, body, strlen(body), &req, &err),
			 -1);
	assert_string_equal(err.field, field);
	if (!strstr(err.message, text))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, text);
}

static void
test_authorize_fields(void **state)
{
	static const char ok[] =
	    "{\"payment_id\":\"p-1\",\"amount\":1999,\"currency\":\"EUR\"}";
	struct psp_request req;
	struct psp_request_error err;

	(void)state;
	assert_int_equal(
	    psp_request_parse(PSP_OP_AUTHORIZE, NULL, "k1", ok, strlen(ok), &req, &err),
	    0);
	assert_string_equal(req.payment_id, "p-1");
	assert_int_equal(req.amount, 1999);
	assert_string_equal(req.currency, "EUR");
	assert_string_equal(req.key, "k1");

	assert_refused(PSP_OP_AUTHORIZE, "k1", "{\"amount\":1,\"currency\":\"EUR\"}",
		       "payment_id", "payment_id: is required");
	assert_refused(PSP_OP_AUTHORIZE, "k1",
		       "{\"payment_id\":\"p 1\",\"amount\":1,\"currency\":\"EUR\"}",
		       "payment_id", "must be an identifier");
	assert_refused(PSP_OP_AUTHORIZE, "k1",
		       "{\"payment_id\":\"p\",\"amount\":0,\"currency\":\"EUR\"}",
		       "amount",
		       "amount: must be an integer between 1 and 1000000000000, got 0");
	assert_refused(PSP_OP_AUTHORIZE, "k1",
		       "{\"payment_id\":\"p\",\"amount\":1.5,\"currency\":\"EUR\"}",
		       "amount", "got 1.5");
	assert_refused(PSP_OP_AUTHORIZE, "k1",
		       "{\"payment_id\":\"p\",\"amount\":\"5\",\"currency\":\"EUR\"}",
		       "amount", "got \"5\"");
	assert_refused(PSP_OP_AUTHORIZE, "k1",
		       "{\"payment_id\":\"p\",\"amount\":5,\"currency\":\"eur\"}",
		       "currency", "currency: must be an ISO 4217 code");
	assert_refused(
	    PSP_OP_AUTHORIZE, "k1",
	    "{\"payment_id\":\"p\",\"amount\":5,\"currency\":\"EUR\",\"tip\":1}", "tip",
	    "tip: unknown field for authorize");
	assert_refused(PSP_OP_AUTHORIZE, "k1", "[1]", "", "body must be a json object");
	assert_refused(PSP_OP_AUTHORIZE, "k1", "{\"payment_id\":", "",
		       "body is not valid json");
}

static void
test_the_key_is_required_and_printable(void **state)
{
	(void)state;
	assert_refused(PSP_OP_CAPTURE, NULL, "{\"amount\":1}", "Idempotency-Key",
		       "Idempotency-Key: is required");
	assert_refused(PSP_OP_CAPTURE, "", "{\"amount\":1}", "Idempotency-Key",
		       "1 to 255 printable ASCII");
	assert_refused(PSP_OP_CAPTURE, "k\x01", "{\"amount\":1}", "Idempotency-Key",
		       "1 to 255 printable ASCII");
}

static void
test_capture_void_refund_fields(void **state)
{
	static const char refund[] = "{\"amount\":3,\"refund_id\":\"rf-1\"}";
	struct psp_request req;
	struct psp_request_error err;

	(void)state;
	assert_int_equal(psp_request_parse(PSP_OP_VOID, REF, "k", "", 0, &req, &err), 0);
	assert_string_equal(req.provider_ref, REF);
	assert_int_equal(psp_request_parse(PSP_OP_VOID, REF, "k", "{}", 2, &req, &err),
			 0);
	assert_refused(PSP_OP_VOID, "k", "{\"amount\":1}", "amount",
		       "unknown field for void");
	assert_refused(PSP_OP_CAPTURE, "k", "{}", "amount", "amount: is required");
	assert_refused(PSP_OP_CAPTURE, "k", "", "", "body is not valid json");
	assert_refused(PSP_OP_CAPTURE, "k", "{\"amount\":1,\"currency\":\"EUR\"}",
		       "currency", "unknown field for capture");
	assert_refused(PSP_OP_REFUND, "k", "{\"amount\":1}", "refund_id",
		       "refund_id: is required");
	assert_int_equal(psp_request_parse(PSP_OP_REFUND, REF, "k", refund,
					   strlen(refund), &req, &err),
			 0);
	assert_int_equal(req.amount, 3);
	assert_string_equal(req.refund_id, "rf-1");
}

static void
test_fingerprints(void **state)
{
	static const char a[] =
	    "{\"payment_id\":\"p\",\"amount\":5,\"currency\":\"EUR\"}";
	static const char b[] =
	    " { \"currency\" : \"EUR\", \"amount\": 5.0, \"payment_id\":\"p\" }";
	static const char c[] =
	    "{\"payment_id\":\"p\",\"amount\":6,\"currency\":\"EUR\"}";
	char fa[PSP_FINGERPRINT_SIZE], fb[PSP_FINGERPRINT_SIZE], fc[PSP_FINGERPRINT_SIZE];
	struct psp_request req;
	struct psp_request_error err;

	(void)state;
	assert_int_equal(
	    psp_request_parse(PSP_OP_AUTHORIZE, NULL, "k", a, strlen(a), &req, &err), 0);
	psp_request_fingerprint(&req, fa);
	assert_int_equal(
	    psp_request_parse(PSP_OP_AUTHORIZE, NULL, "k", b, strlen(b), &req, &err), 0);
	psp_request_fingerprint(&req, fb);
	assert_int_equal(
	    psp_request_parse(PSP_OP_AUTHORIZE, NULL, "k", c, strlen(c), &req, &err), 0);
	psp_request_fingerprint(&req, fc);
	assert_string_equal(fa, fb);
	assert_string_not_equal(fa, fc);
	assert_string_equal(fa, "authorize payment_id=p amount=5 currency=EUR");

	assert_int_equal(psp_request_parse(PSP_OP_VOID, REF, "k", "", 0, &req, &err), 0);
	psp_request_fingerprint(&req, fa);
	assert_string_equal(fa, "void " REF);
}

static void
test_refs_and_type_names(void **state)
{
	enum psp_op_type t;

	(void)state;
	assert_true(psp_request_ref_valid(REF));
	assert_false(psp_request_ref_valid("psp_0123"));
	assert_false(psp_request_ref_valid("psp_0123456789ABCDEF0123456789abcdef"));
	assert_false(psp_request_ref_valid("authorize"));
	assert_int_equal(psp_request_type_from_name("refund", &t), 0);
	assert_int_equal(t, PSP_OP_REFUND);
	assert_int_equal(psp_request_type_from_name("settle", &t), -1);
	assert_string_equal(psp_request_type_name(PSP_OP_VOID), "void");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_authorize_fields),
	    cmocka_unit_test(test_the_key_is_required_and_printable),
	    cmocka_unit_test(test_capture_void_refund_fields),
	    cmocka_unit_test(test_fingerprints),
	    cmocka_unit_test(test_refs_and_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
