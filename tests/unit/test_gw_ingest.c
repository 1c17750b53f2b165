/*
 * Unit tests for producers/gateway/gw_ingest: what a client sends becomes a complete
 * souk event. The gateway owns the envelope (event_id, ts, client_id), the route or
 * the body names the type, clients may not send what souk publishes itself, and every
 * refusal names the field (or the byte offset of broken JSON) the 400 will show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_ingest.h"
#include "souk_event.h"
#include "souk_uuid.h"

#define TS "2026-11-27T12:00:00.123Z"
#define ORDER "\"order_id\":\"o-1\",\"user_id\":\"u-1\",\"sku\":\"SKU-1\",\"qty\":2"
#define PAYMENT                                                                          \
	"\"command\":\"create\",\"payment_id\":\"p-1\",\"amount\":1999,\"currency\":"    \
	"\"EUR\""

/* One build and everything it produced. */
struct built {
	int rc;
	souk_event_t ev;
	char out[SOUK_EVENT_MAX_BYTES + 1];
	size_t out_len;
	souk_event_error_t err;
};

/* Builds body as if it came to a route of route_type from client with the
 * Idempotency-Key header key (NULL: none). The result is static: one at a time. */
static struct built *
build_part(const char *body, souk_event_type_t route_type, const char *client,
	   const char *key, unsigned long part)
{
	static struct built b;
	const struct gw_ingest_request req = {
	    .route_type = route_type,
	    .client_id = client,
	    .idempotency_key = key,
	    .part = part,
	    .ts = TS,
	};

	memset(&b, 0, sizeof(b));
	b.rc = gw_ingest_build(body, strlen(body), &req, &b.ev, b.out, sizeof(b.out),
			       &b.out_len, &b.err);
	return &b;
}

static struct built *
build(const char *body, souk_event_type_t route_type, const char *key)
{
	return build_part(body, route_type, "shop-1", key, 0);
}

/* Fails the test with the gateway's message when the build was refused. */
static void
assert_built(const struct built *b)
{
	if (b->rc != 0)
		fail_msg("refused: %s (field \"%s\")", b->err.message, b->err.field);
	assert_int_equal(b->out_len, strlen(b->out));
}

static void
assert_refused(const struct built *b, const char *field)
{
	assert_int_equal(b->rc, -1);
	assert_string_equal(b->err.field, field);
	/* The message a client reads starts with the field it names. */
	assert_memory_equal(b->err.message, field, strlen(field));
}

/* ---- the envelope ------------------------------------------------------------------ */

static void
test_envelope_comes_from_the_request(void **state)
{
	struct built *b;
	char want_id[SOUK_UUID_STRLEN + 1];
	souk_event_t again;
	souk_event_error_t err;

	(void)state;
	b = build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, "key-42");
	assert_built(b);
	souk_uuid_derive("shop-1", "key-42", 0, want_id);
	assert_string_equal(b->ev.event_id, want_id);
	assert_int_equal(b->ev.type, SOUK_EVENT_TYPE_ORDER);
	assert_int_equal(b->ev.version, SOUK_EVENT_VERSION);
	assert_string_equal(b->ev.ts, TS);
	assert_string_equal(b->ev.client_id, "shop-1");
	assert_string_equal(b->ev.idempotency_key, "key-42");
	assert_string_equal(b->ev.order.order_id, "o-1");
	assert_string_equal(b->ev.order.sku, "SKU-1");
	assert_int_equal(b->ev.order.qty, 2);
	/* What is published decodes by the codec's rules to the same event. */
	assert_int_equal(souk_event_decode(b->out, b->out_len, &again, &err),
			 SOUK_EVENT_OK);
	assert_memory_equal(&again, &b->ev, sizeof(again));
}

static void
test_event_id_is_derived_from_the_key_and_stable(void **state)
{
	char first[SOUK_EVENT_UUID_SIZE];
	struct built *b;

	(void)state;
	b = build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, "retry-me");
	assert_built(b);
	assert_int_equal(b->ev.event_id[14], '5'); /* name-based UUID */
	strcpy(first, b->ev.event_id);

	/* A retry, even with a changed body, keeps its id: the key names the request. */
	b = build("{" ORDER ",\"note\":\"second try\"}", SOUK_EVENT_TYPE_ORDER,
		  "retry-me");
	assert_built(b);
	assert_string_equal(b->ev.event_id, first);

	/* Another key, another client or another NDJSON line is another event. */
	b = build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, "retry-me-2");
	assert_built(b);
	assert_string_not_equal(b->ev.event_id, first);
	b = build_part("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, "shop-2", "retry-me", 0);
	assert_built(b);
	assert_string_not_equal(b->ev.event_id, first);
	b = build_part("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, "shop-1", "retry-me", 3);
	assert_built(b);
	assert_string_not_equal(b->ev.event_id, first);
}

static void
test_event_id_is_random_without_a_key(void **state)
{
	char first[SOUK_EVENT_UUID_SIZE];
	struct built *b;

	(void)state;
	b = build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL);
	assert_built(b);
	assert_int_equal(b->ev.event_id[14], '4'); /* random UUID */
	assert_string_equal(b->ev.idempotency_key, "");
	assert_null(strstr(b->out, "idempotency_key"));
	strcpy(first, b->ev.event_id);
	b = build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL);
	assert_built(b);
	assert_string_not_equal(b->ev.event_id, first);
}

static void
test_client_sent_envelope_is_replaced(void **state)
{
	struct built *b;

	(void)state;
	b = build(
	    "{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d\","
	    "\"ts\":\"2001-01-01T00:00:00.000Z\",\"client_id\":\"someone-else\"," ORDER
	    "}",
	    SOUK_EVENT_TYPE_ORDER, NULL);
	assert_built(b);
	assert_string_not_equal(b->ev.event_id, "0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d");
	assert_string_equal(b->ev.ts, TS);
	assert_string_equal(b->ev.client_id, "shop-1");
	/* Replaced, not repeated: the client's values are nowhere in what is published.
	 */
	assert_null(strstr(b->out, "0b7c2a4e"));
	assert_null(strstr(b->out, "2001-01-01"));
	assert_null(strstr(b->out, "someone-else"));
}

static void
test_unknown_members_are_kept_as_written(void **state)
{
	struct built *b;

	(void)state;
	b = build("{" ORDER
		  ",\"gift\":{\"note\":\"hi\",\"tags\":[1,2.50,null,true]},\"x\":1e2}",
		  SOUK_EVENT_TYPE_ORDER, NULL);
	assert_built(b);
	assert_non_null(
	    strstr(b->out, "\"gift\":{\"note\":\"hi\",\"tags\":[1,2.50,null,true]}"));
	assert_non_null(strstr(b->out, "\"x\":1e2"));
}

static void
test_version_defaults_to_1_and_is_checked(void **state)
{
	struct built *b;

	(void)state;
	b = build("{\"version\":1," ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL);
	assert_built(b);
	assert_int_equal(b->ev.version, 1);
	assert_refused(build("{\"version\":2," ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL),
		       "version");
	assert_refused(
	    build("{\"version\":\"1\"," ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL),
	    "version");
}

/* ---- the type ---------------------------------------------------------------------- */

static void
test_type_from_the_route_or_the_body(void **state)
{
	struct built *b;

	(void)state;
	/* The route's type may be repeated in the body. */
	b = build("{\"type\":\"order\"," ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL);
	assert_built(b);
	assert_int_equal(b->ev.type, SOUK_EVENT_TYPE_ORDER);
	/* /v1/events: the body names it. */
	b = build(
	    "{\"type\":\"ride_event\",\"request_id\":\"r-1\",\"action\":\"cancel\"}",
	    SOUK_EVENT_TYPE_NONE, NULL);
	assert_built(b);
	assert_int_equal(b->ev.type, SOUK_EVENT_TYPE_RIDE_EVENT);
	assert_string_equal(b->ev.ride_event.request_id, "r-1");

	/* Another type than the route's, none where the route names none, not a name. */
	assert_refused(
	    build("{\"type\":\"payment\"," ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL),
	    "type");
	assert_refused(build("{" ORDER "}", SOUK_EVENT_TYPE_NONE, NULL), "type");
	assert_refused(build("{\"type\":7," ORDER "}", SOUK_EVENT_TYPE_NONE, NULL),
		       "type");
	assert_refused(
	    build("{\"type\":\"parcel\"," ORDER "}", SOUK_EVENT_TYPE_NONE, NULL), "type");
}

static void
test_types_souk_publishes_are_refused(void **state)
{
	static const char *const types[] = {"order_result", "payment_result",
					    "ride_match", "surge", "stock_set"};
	char body[256];
	struct built *b;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
		snprintf(body, sizeof(body),
			 "{\"type\":\"%s\",\"sku\":\"SKU-1\",\"stock\":5}", types[i]);
		b = build(body, SOUK_EVENT_TYPE_NONE, NULL);
		assert_refused(b, "type");
		assert_non_null(strstr(b->err.message, "published by souk"));
	}
	/* stock_set goes to the orders topic, but not through /v1/orders. */
	assert_refused(build("{\"type\":\"stock_set\",\"sku\":\"SKU-1\",\"stock\":5}",
			     SOUK_EVENT_TYPE_ORDER, NULL),
		       "type");
}

static void
test_settle_is_refused(void **state)
{
	struct built *b;

	(void)state;
	b = build("{\"command\":\"settle\",\"payment_id\":\"p-1\"}",
		  SOUK_EVENT_TYPE_PAYMENT, "k-1");
	assert_refused(b, "command");
	assert_non_null(strstr(b->err.message, "reconciliation"));
	assert_refused(
	    build("{\"type\":\"payment\",\"command\":\"settle\",\"payment_id\":\"p-1\"}",
		  SOUK_EVENT_TYPE_NONE, "k-1"),
	    "command");
	/* The other commands pass. */
	assert_built(build("{\"command\":\"capture\",\"payment_id\":\"p-1\",\"amount\":5,"
			   "\"currency\":\"EUR\"}",
			   SOUK_EVENT_TYPE_PAYMENT, "k-1"));
}

/* ---- the idempotency key ----------------------------------------------------------- */

static void
test_key_from_the_header_or_the_body(void **state)
{
	char from_header[SOUK_EVENT_UUID_SIZE];
	struct built *b;

	(void)state;
	b = build("{" PAYMENT "}", SOUK_EVENT_TYPE_PAYMENT, "pay-1");
	assert_built(b);
	assert_string_equal(b->ev.idempotency_key, "pay-1");
	strcpy(from_header, b->ev.event_id);

	/* The body's key alone counts as the header's would. */
	b = build("{\"idempotency_key\":\"pay-1\"," PAYMENT "}", SOUK_EVENT_TYPE_PAYMENT,
		  NULL);
	assert_built(b);
	assert_string_equal(b->ev.idempotency_key, "pay-1");
	assert_string_equal(b->ev.event_id, from_header);

	/* Both, equal. */
	b = build("{\"idempotency_key\":\"pay-1\"," PAYMENT "}", SOUK_EVENT_TYPE_PAYMENT,
		  "pay-1");
	assert_built(b);
	assert_string_equal(b->ev.event_id, from_header);

	/* Both, different. */
	b = build("{\"idempotency_key\":\"pay-2\"," PAYMENT "}", SOUK_EVENT_TYPE_PAYMENT,
		  "pay-1");
	assert_refused(b, "idempotency_key");
	assert_non_null(strstr(b->err.message, "Idempotency-Key header"));

	/* A payment needs one. */
	assert_refused(build("{" PAYMENT "}", SOUK_EVENT_TYPE_PAYMENT, NULL),
		       "idempotency_key");
}

static void
test_bad_keys_are_refused(void **state)
{
	char long_key[257];

	(void)state;
	memset(long_key, 'k', 256);
	long_key[256] = '\0';
	assert_refused(build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, "a\001b"),
		       "Idempotency-Key");
	assert_refused(build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, ""),
		       "Idempotency-Key");
	assert_refused(build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, long_key),
		       "Idempotency-Key");
	long_key[255] = '\0'; /* 255 is the longest key */
	assert_built(build("{" ORDER "}", SOUK_EVENT_TYPE_ORDER, long_key));
	assert_refused(
	    build("{\"idempotency_key\":42," ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL),
	    "idempotency_key");
	assert_refused(
	    build("{\"idempotency_key\":\"\"," ORDER "}", SOUK_EVENT_TYPE_ORDER, NULL),
	    "idempotency_key");
}

/* ---- what a 400 names -------------------------------------------------------------- */

static void
test_refusals_name_the_field(void **state)
{
	static const struct {
		souk_event_type_t route;
		const char *body;
		const char *field;
	} cases[] = {
	    {SOUK_EVENT_TYPE_ORDER,
	     "{\"order_id\":\"o-1\",\"user_id\":\"u-1\",\"qty\":2}", "sku"},
	    {SOUK_EVENT_TYPE_ORDER,
	     "{\"order_id\":\"o-1\",\"user_id\":\"u-1\",\"sku\":\"S\",\"qty\":0}", "qty"},
	    {SOUK_EVENT_TYPE_ORDER,
	     "{\"order_id\":\"o 1\",\"user_id\":\"u-1\",\"sku\":\"S\",\"qty\":1}",
	     "order_id"},
	    {SOUK_EVENT_TYPE_LOCATION,
	     "{\"driver_id\":\"d-1\",\"lat\":91,\"lng\":0,\"speed_mps\":1,\"status\":"
	     "\"busy\"}",
	     "lat"},
	    {SOUK_EVENT_TYPE_LOCATION,
	     "{\"driver_id\":\"d-1\",\"lat\":0,\"lng\":0,\"speed_mps\":1,\"status\":"
	     "\"flying\"}",
	     "status"},
	    {SOUK_EVENT_TYPE_RIDE_REQUEST,
	     "{\"request_id\":\"r-1\",\"rider_id\":\"x\",\"pickup\":{\"lng\":1},"
	     "\"dropoff\":{\"lat\":1,\"lng\":1}}",
	     "pickup.lat"},
	    {SOUK_EVENT_TYPE_RIDE_EVENT, "{\"request_id\":\"r-1\",\"action\":\"accept\"}",
	     "driver_id"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct built *b = build(cases[i].body, cases[i].route, NULL);

		assert_refused(b, cases[i].field);
		assert_int_equal(b->err.offset, -1);
	}
}

static void
test_broken_json_names_the_offset(void **state)
{
	static const struct {
		const char *body;
		long offset;
	} cases[] = {
	    {"{\"order_id\":\"o-1\",\"qty\":}", 24},
	    {"{\"order_id\":\"a\",\"order_id\":\"b\"}", 16}, /* the second key */
	    {"[1,2]", 0},
	    {"\"order\"", 0},
	    {"", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct built *b = build(cases[i].body, SOUK_EVENT_TYPE_ORDER, NULL);

		assert_int_equal(b->rc, -1);
		assert_string_equal(b->err.field, "");
		/* yajl stops at or just past the offending byte; an empty body is
		 * broken at its first byte. */
		if (b->err.offset < cases[i].offset ||
		    b->err.offset > cases[i].offset + 1)
			fail_msg("body '%s': offset %ld, want %ld (error \"%s\")",
				 cases[i].body, b->err.offset, cases[i].offset,
				 b->err.message);
	}
}

static void
test_event_too_large_with_its_envelope(void **state)
{
	/* A body just under the codec's limit grows past it with the envelope. */
	size_t pad = SOUK_EVENT_MAX_BYTES - 100;
	char *body = malloc(pad + 128);
	struct built *b;
	int n;

	(void)state;
	assert_non_null(body);
	n = snprintf(body, 128, "{" ORDER ",\"pad\":\"");
	memset(body + n, 'x', pad);
	strcpy(body + n + pad, "\"}");
	b = build(body, SOUK_EVENT_TYPE_ORDER, NULL);
	assert_int_equal(b->rc, GW_INGEST_TOO_LARGE);
	assert_non_null(strstr(b->err.message, "too large"));
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_envelope_comes_from_the_request),
	    cmocka_unit_test(test_event_id_is_derived_from_the_key_and_stable),
	    cmocka_unit_test(test_event_id_is_random_without_a_key),
	    cmocka_unit_test(test_client_sent_envelope_is_replaced),
	    cmocka_unit_test(test_unknown_members_are_kept_as_written),
	    cmocka_unit_test(test_version_defaults_to_1_and_is_checked),
	    cmocka_unit_test(test_type_from_the_route_or_the_body),
	    cmocka_unit_test(test_types_souk_publishes_are_refused),
	    cmocka_unit_test(test_settle_is_refused),
	    cmocka_unit_test(test_key_from_the_header_or_the_body),
	    cmocka_unit_test(test_bad_keys_are_refused),
	    cmocka_unit_test(test_refusals_name_the_field),
	    cmocka_unit_test(test_broken_json_names_the_offset),
	    cmocka_unit_test(test_event_too_large_with_its_envelope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
