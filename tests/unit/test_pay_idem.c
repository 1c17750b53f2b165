/*
 * pay_idem: the key rules (new, replay, reused, in_progress), the parameter hash (pinned
 * to its documented canonical form, blind to JSON member order, moved by every field,
 * absent apart from empty), the provider-side key, and the keep-time check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pay_idem.h"
#include "souk_uuid.h"

static const char H1[] =
    "a1c6d98d25b7083e362b03438a16057421b100fe1d71787d5d29fb93fa424905";
static const char H2[] =
    "bfa0c7cc8ffb38a49fd480ccfeb4628e242106143313ab406ff0740091a1628b";

static void
hash(const struct pay_idem_params *p, char out[PAY_IDEM_HASH_SIZE])
{
	char err[256];

	if (pay_idem_hash(p, out, err, sizeof(err)))
		fail_msg("%s", err);
}

static void
test_check_follows_the_key_rules(void **state)
{
	(void)state;
	assert_int_equal(pay_idem_check(PAY_IDEM_KEY_ABSENT, NULL, H1), PAY_IDEM_NEW);
	assert_int_equal(pay_idem_check(PAY_IDEM_KEY_FINAL, H1, H1), PAY_IDEM_REPLAY);
	assert_int_equal(pay_idem_check(PAY_IDEM_KEY_FINAL, H1, H2), PAY_IDEM_REUSED);
	assert_int_equal(pay_idem_check(PAY_IDEM_KEY_IN_PROGRESS, H1, H1),
			 PAY_IDEM_IN_PROGRESS);
	assert_int_equal(pay_idem_check(PAY_IDEM_KEY_IN_PROGRESS, H1, H2),
			 PAY_IDEM_REUSED);
	assert_string_equal(PAY_IDEM_REUSED_ERROR, "idempotency_key_reused");
	assert_string_equal(pay_idem_verdict_name(PAY_IDEM_IN_PROGRESS), "in_progress");
	assert_string_equal(pay_idem_verdict_name(PAY_IDEM_REUSED), "reused");
}

static void
test_key_states_have_their_column_names(void **state)
{
	enum pay_idem_state s;

	(void)state;
	assert_null(pay_idem_state_name(PAY_IDEM_KEY_ABSENT));
	assert_string_equal(pay_idem_state_name(PAY_IDEM_KEY_IN_PROGRESS), "in_progress");
	assert_string_equal(pay_idem_state_name(PAY_IDEM_KEY_FINAL), "final");
	assert_int_equal(pay_idem_state_parse("final", &s), 0);
	assert_int_equal(s, PAY_IDEM_KEY_FINAL);
	assert_int_equal(pay_idem_state_parse("in_progress", &s), 0);
	assert_int_equal(s, PAY_IDEM_KEY_IN_PROGRESS);
	assert_int_equal(pay_idem_state_parse("done", &s), -1);
}

/* The digests were computed outside souk from the canonical form pay_idem.h spells
 * out (printf '...' | sha256sum): a change to the form breaks every stored key. */
static void
test_hash_is_sha256_of_the_documented_form(void **state)
{
	struct pay_idem_params capture = {.command = PAY_COMMAND_CAPTURE,
					  .payment_id = "p-42",
					  .has_amount = true,
					  .amount = 1999,
					  .currency = "EUR"};
	struct pay_idem_params refund = {.command = PAY_COMMAND_REFUND,
					 .payment_id = "p-42",
					 .has_amount = true,
					 .amount = 500,
					 .currency = "JPY",
					 .refund_id = "r1"};
	char h[PAY_IDEM_HASH_SIZE];

	(void)state;
	hash(&capture, h);
	assert_string_equal(h, H1);
	hash(&refund, h);
	assert_string_equal(h, H2);
}

/* The hash of a payment event as JSON text. */
static void
hash_json(const char *json, char out[PAY_IDEM_HASH_SIZE])
{
	souk_event_t ev;
	souk_event_error_t err;
	struct pay_idem_params p;

	if (souk_event_decode(json, strlen(json), &ev, &err) != SOUK_EVENT_OK)
		fail_msg("%s: %s", json, err.message);
	p = pay_idem_params_from_event(&ev.payment);
	hash(&p, out);
}

static void
test_hash_ignores_member_order_and_the_envelope(void **state)
{
	char a[PAY_IDEM_HASH_SIZE], b[PAY_IDEM_HASH_SIZE], c[PAY_IDEM_HASH_SIZE];

	(void)state;
	hash_json(
	    "{\"event_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\","
	    "\"type\":\"payment\",\"version\":1,\"ts\":\"2024-05-01T12:00:00.000Z\","
	    "\"client_id\":\"shop\",\"idempotency_key\":\"k1\","
	    "\"command\":\"capture\",\"payment_id\":\"p-42\",\"amount\":1999,"
	    "\"currency\":\"EUR\"}",
	    a);
	/* Members reordered, the amount spelt otherwise, another event id and time
	 * (a retry), and a member the reader ignores. */
	hash_json("{\"currency\":\"EUR\",\"amount\":1.999e3,\"payment_id\":\"p-42\","
		  "\"note\":\"retry\",\"command\":\"capture\",\"idempotency_key\":\"k1\","
		  "\"client_id\":\"shop\",\"ts\":\"2024-05-01T12:00:09.500Z\","
		  "\"version\":1,\"type\":\"payment\","
		  "\"event_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae9\"}",
		  b);
	assert_string_equal(a, b);
	/* The decoded "" of the absent refund_id hashed as absent ("refund_id=-"). */
	assert_string_equal(a, H1);
	hash_json(
	    "{\"event_id\":\"7c9e6679-7425-40de-944b-e07fc1f90ae7\","
	    "\"type\":\"payment\",\"version\":1,\"ts\":\"2024-05-01T12:00:00.000Z\","
	    "\"client_id\":\"shop\",\"idempotency_key\":\"k1\","
	    "\"command\":\"refund\",\"payment_id\":\"p-42\",\"amount\":500,"
	    "\"currency\":\"JPY\",\"refund_id\":\"r1\"}",
	    c);
	assert_string_equal(c, H2);
}

static void
test_every_field_moves_the_hash(void **state)
{
	const struct pay_idem_params base = {.command = PAY_COMMAND_CAPTURE,
					     .payment_id = "p-42",
					     .has_amount = true,
					     .amount = 1999,
					     .currency = "EUR"};
	struct pay_idem_params v[9];
	char h[10][PAY_IDEM_HASH_SIZE];

	(void)state;
	for (int i = 0; i < 9; i++)
		v[i] = base;
	v[0].command = PAY_COMMAND_REFUND;
	v[1].payment_id = "p-43";
	v[2].amount = 2000;
	v[3].has_amount = false; /* absent ... */
	v[4].amount = 0;	 /* ... is not 0 */
	v[5].currency = "USD";
	v[6].currency = NULL; /* absent ... */
	v[7].currency = "";   /* ... is not "" */
	v[8].refund_id = "r1";
	hash(&base, h[9]);
	for (int i = 0; i < 9; i++)
		hash(&v[i], h[i]);
	for (int i = 0; i < 10; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(h[i], h[j]) == 0)
				fail_msg("variants %d and %d hash alike", j, i);
}

static void
test_provider_key_is_derived_and_apart_from_event_ids(void **state)
{
	char k[SOUK_UUID_STRLEN + 1], other[SOUK_UUID_STRLEN + 1];

	(void)state;
	/* uuid5(souk's namespace, "shop/p-42\0k1\0" "0"), computed with Python's uuid. */
	pay_idem_provider_key("shop", "p-42", "k1", k);
	assert_string_equal(k, "6d2ef6d5-dc39-5e33-9025-54d8498a32f4");
	pay_idem_provider_key("shop", "p-42", "k1", other);
	assert_string_equal(k, other);
	souk_uuid_derive("shop", "k1", 0, other); /* the command's own event id */
	assert_string_not_equal(k, other);
	pay_idem_provider_key("shop", "p-43", "k1", other);
	assert_string_not_equal(k, other);
	pay_idem_provider_key("shop2", "p-42", "k1", other);
	assert_string_not_equal(k, other);
	pay_idem_provider_key("shop", "p-42", "k2", other);
	assert_string_not_equal(k, other);
}

static void
test_keys_are_kept_at_least_the_topic_retention(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(
	    pay_idem_keep_check(PAY_IDEM_KEEP_S_DEFAULT, 86400000, err, sizeof(err)), 0);
	assert_int_equal(pay_idem_keep_check(172800, 86400000, err, sizeof(err)), 0);
	assert_int_equal(pay_idem_keep_check(86399, 86400000, err, sizeof(err)), -1);
	assert_string_equal(err, "could not keep idempotency keys 86399 s: less than "
				 "the payments topic's retention of 86400000 ms");
	assert_int_equal(pay_idem_keep_check(86400, 86400001, err, sizeof(err)), -1);
	assert_int_equal(pay_idem_keep_check(86400, -1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "forever"));
	/* Rounded up to whole seconds, without overflow at the edge. */
	assert_int_equal(
	    pay_idem_keep_check(INT64_MAX / 1000, INT64_MAX, err, sizeof(err)), -1);
	assert_int_equal(
	    pay_idem_keep_check(INT64_MAX / 1000, INT64_MAX - 807, err, sizeof(err)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_follows_the_key_rules),
	    cmocka_unit_test(test_key_states_have_their_column_names),
	    cmocka_unit_test(test_hash_is_sha256_of_the_documented_form),
	    cmocka_unit_test(test_hash_ignores_member_order_and_the_envelope),
	    cmocka_unit_test(test_every_field_moves_the_hash),
	    cmocka_unit_test(test_provider_key_is_derived_and_apart_from_event_ids),
	    cmocka_unit_test(test_keys_are_kept_at_least_the_topic_retention),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
