/*
 * Unit tests for lib/souk_event.
 *
 * Every vector in tests/vectors/events.json becomes one test (test_schema_drift.py
 * checks the same vectors against schemas/events/): the event's bytes, cut from the
 * file as written, must decode to the vector's status and name its field; a valid one
 * must survive encode -> decode unchanged. The fixed tests cover what JSON Schema
 * cannot express (raw bytes, limits) and the rest of the API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "souk_event.h"
#include "souk_json.h"

#define VECTORS SOUK_SOURCE_DIR "/tests/vectors/events.json"
#define SCHEMAS SOUK_SOURCE_DIR "/schemas/events/"

/* ---- helpers ----------------------------------------------------------------------- */

/* The whole file as a malloc'd buffer (caller frees), NULL on error. */
static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)size, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static const souk_json_limits_t file_limits = {
    .max_bytes = 4 << 20, .max_depth = 16, .max_members = 100000};

/* A file parsed with souk_json; text must outlive the document's offsets. */
struct json_file {
	char *text;
	size_t len;
	souk_json_t *doc;
};

static void
json_file_load(struct json_file *f, const char *path)
{
	souk_json_error_t err;
	f->text = read_file(path, &f->len);
	if (f->text == NULL)
		fail_msg("could not read %s", path);
	f->doc = souk_json_parse(f->text, f->len, &file_limits, &err);
	if (f->doc == NULL)
		fail_msg("could not parse %s: %s", path, err.message);
}

static void
json_file_free(struct json_file *f)
{
	souk_json_destroy(f->doc);
	free(f->text);
}

/* An order event whose body ends with the members in tail (no leading comma). */
static size_t
order_with(char *buf, size_t size, const char *tail)
{
	return (size_t)snprintf(
	    buf, size,
	    "{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d\","
	    "\"type\":\"order\",\"version\":1,\"ts\":\"2024-05-01T12:00:00.000Z\","
	    "\"client_id\":\"shop-web\",\"order_id\":\"o-1\",\"user_id\":\"u-1\","
	    "\"sku\":\"SKU-1\",%s}",
	    tail);
}

static souk_event_status_t
decode_str(const char *text, souk_event_t *ev, souk_event_error_t *err)
{
	return souk_event_decode(text, strlen(text), ev, err);
}

/* Asserts status and that the message holds want (NULL: no check). */
static void
expect(const char *text, size_t len, souk_event_status_t status, const char *want)
{
	souk_event_t ev;
	souk_event_error_t err;
	souk_event_status_t st = souk_event_decode(text, len, &ev, &err);
	if (st != status)
		fail_msg("status %s, want %s (%s)", souk_event_status_name(st),
			 souk_event_status_name(status), err.message);
	if (want != NULL && strstr(err.message, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.message, want);
}

/* Encodes ev, expecting success, into buf (SOUK_EVENT_MAX_BYTES + 1). */
static size_t
encode_ok(const souk_event_t *ev, char *buf)
{
	char errstr[256];
	size_t len = 0;
	if (souk_event_encode(ev, buf, SOUK_EVENT_MAX_BYTES + 1, &len, errstr,
			      sizeof(errstr)) != 0)
		fail_msg("%s", errstr);
	assert_int_equal(strlen(buf), len);
	return len;
}

/* ---- vectors ----------------------------------------------------------------------- */

struct vector {
	const char *name;
	const char *event; /* the event's text inside the vectors file */
	size_t event_len;
	bool valid;
	const char *status;
	const char *field; /* NULL when the vector names none */
};

static void
test_vector(void **state)
{
	const struct vector *v = *state;
	static char buf[SOUK_EVENT_MAX_BYTES + 1], again_buf[SOUK_EVENT_MAX_BYTES + 1];
	souk_event_t ev, again;
	souk_event_error_t err;

	souk_event_status_t st = souk_event_decode(v->event, v->event_len, &ev, &err);
	if (strcmp(souk_event_status_name(st), v->status) != 0)
		fail_msg("status %s, want %s (%s)", souk_event_status_name(st), v->status,
			 err.message);
	assert_int_equal(v->valid, st == SOUK_EVENT_OK);
	assert_string_equal(err.field, v->field != NULL ? v->field : "");
	if (v->field != NULL && strstr(err.message, v->field) == NULL)
		fail_msg("message \"%s\" does not name %s", err.message, v->field);
	assert_int_equal(err.offset, -1); /* the vectors are well-formed JSON */
	if (st == SOUK_EVENT_EFIELD) {
		/* the envelope decoded; the key did unless it is the field at fault */
		bool key_at_fault = strcmp(v->field, souk_event_key_name(ev.type)) == 0;
		assert_int_equal(ev.key_valid, !key_at_fault);
		assert_int_equal(souk_event_key(&ev) == NULL, key_at_fault);
		assert_true(souk_event_uuid_valid(ev.event_id));
	}
	if (st != SOUK_EVENT_OK)
		return;
	assert_true(ev.key_valid);
	assert_non_null(souk_event_key(&ev));
	size_t len = encode_ok(&ev, buf);
	st = souk_event_decode(buf, len, &again, &err);
	if (st != SOUK_EVENT_OK)
		fail_msg("encoded %s does not decode: %s", buf, err.message);
	assert_memory_equal(&ev, &again, sizeof(ev));
	/* the encoding is stable */
	assert_int_equal(encode_ok(&again, again_buf), len);
	assert_string_equal(again_buf, buf);
}

struct vectors {
	struct json_file file;
	struct vector *v;
	size_t n;
};

/* Reads the vectors file into vs; -1 after printing why when it is malformed. */
static int
vectors_load(struct vectors *vs)
{
	souk_json_error_t err;
	vs->file.text = read_file(VECTORS, &vs->file.len);
	vs->file.doc =
	    vs->file.text != NULL
		? souk_json_parse(vs->file.text, vs->file.len, &file_limits, &err)
		: NULL;
	if (vs->file.doc == NULL) {
		fprintf(stderr, "could not load %s: %s\n", VECTORS,
			vs->file.text != NULL ? err.message : "unreadable");
		return -1;
	}
	const souk_json_value_t *root = souk_json_root(vs->file.doc);
	vs->n = souk_json_array_size(root);
	vs->v = calloc(vs->n, sizeof(*vs->v));
	if (vs->n == 0 || vs->v == NULL) {
		fprintf(stderr, "could not load %s: no vectors\n", VECTORS);
		return -1;
	}
	for (size_t i = 0; i < vs->n; i++) {
		const souk_json_value_t *o = souk_json_array_get(root, i);
		const souk_json_value_t *name = souk_json_object_get(o, "name");
		const souk_json_value_t *valid = souk_json_object_get(o, "valid");
		const souk_json_value_t *status = souk_json_object_get(o, "status");
		const souk_json_value_t *field = souk_json_object_get(o, "field");
		const souk_json_value_t *event = souk_json_object_get(o, "event");
		if (name == NULL || souk_json_string(name, NULL) == NULL ||
		    valid == NULL || souk_json_type(valid) != SOUK_JSON_BOOL ||
		    status == NULL || souk_json_string(status, NULL) == NULL ||
		    field == NULL ||
		    (souk_json_type(field) != SOUK_JSON_NULL &&
		     souk_json_string(field, NULL) == NULL) ||
		    event == NULL) {
			fprintf(
			    stderr,
			    "could not load %s: vector %zu lacks name, valid, status, "
			    "field or event\n",
			    VECTORS, i);
			return -1;
		}
		vs->v[i] = (struct vector){
		    .name = souk_json_string(name, NULL),
		    .event = vs->file.text + souk_json_offset(event),
		    .event_len = souk_json_length(event),
		    .valid = souk_json_bool(valid),
		    .status = souk_json_string(status, NULL),
		    .field = souk_json_string(field, NULL),
		};
	}
	return 0;
}

static void
vectors_free(struct vectors *vs)
{
	free(vs->v);
	json_file_free(&vs->file);
}

/* The brief for the vectors: each type has valid cases and ten invalid ones, so the
 * round trip in test_vector covers every type. Vectors are named "<type>: ...". */
static void
test_vectors_cover_every_type(void **state)
{
	const struct vectors *vs = *state;
	for (int t = SOUK_EVENT_TYPE_NONE + 1; t < SOUK_EVENT_TYPE_COUNT; t++) {
		const char *name = souk_event_type_name(t);
		size_t valid = 0, invalid = 0, len = strlen(name);
		for (size_t i = 0; i < vs->n; i++) {
			if (strncmp(vs->v[i].name, name, len) != 0 ||
			    vs->v[i].name[len] != ':')
				continue;
			if (vs->v[i].valid)
				valid++;
			else
				invalid++;
		}
		if (valid < 1 || invalid < 10)
			fail_msg("%s: %zu valid and %zu invalid vectors", name, valid,
				 invalid);
	}
}

/* ---- raw bytes: what the vectors (JSON) cannot hold -------------------------------- */

static void
test_invalid_utf8_is_ejson(void **state)
{
	(void)state;
	char text[512];
	souk_event_t ev;
	souk_event_error_t err;
	order_with(text, sizeof(text), "\"qty\":2,\"note\":\"caf\xc3\"");
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EJSON);
	assert_non_null(strstr(err.message, "UTF8"));
	assert_true(err.offset > 0);
	assert_string_equal(err.field, "");

	/* overlong and surrogate forms pass yajl's check; ours names the string */
	order_with(text, sizeof(text), "\"qty\":2,\"note\":\"\xc0\xaf\"");
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EJSON);
	assert_int_equal(err.offset, strstr(text, "\"\xc0") - text);
	order_with(text, sizeof(text), "\"qty\":2,\"note\":\"\\udc00\"");
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EJSON);
	assert_non_null(strstr(err.message, "invalid utf-8 in string"));
}

static void
test_size_limit_64k(void **state)
{
	(void)state;
	static char text[SOUK_EVENT_MAX_BYTES + 2];
	char head[512];
	/* pad an otherwise valid order with an ignored member to exactly the limit */
	size_t head_len = order_with(head, sizeof(head), "\"qty\":2,\"pad\":\"");
	head_len -= 1; /* without order_with's closing brace */
	size_t pad = SOUK_EVENT_MAX_BYTES - head_len - 2;
	memcpy(text, head, head_len);
	memset(text + head_len, 'x', pad);
	memcpy(text + head_len + pad, "\"}", 3);
	assert_int_equal(strlen(text), SOUK_EVENT_MAX_BYTES);
	expect(text, SOUK_EVENT_MAX_BYTES, SOUK_EVENT_OK, NULL);

	memcpy(text + head_len + pad, "x\"}", 4);
	souk_event_t ev;
	souk_event_error_t err;
	assert_int_equal(souk_event_decode(text, SOUK_EVENT_MAX_BYTES + 1, &ev, &err),
			 SOUK_EVENT_EJSON);
	assert_string_equal(err.message,
			    "input of 65537 bytes exceeds the limit of 65536");
	assert_int_equal(err.offset, -1);
}

static void
test_depth_limit_8(void **state)
{
	(void)state;
	char text[512];
	/* the event is depth 1, so seven nested arrays inside it reach depth 8 */
	order_with(text, sizeof(text), "\"qty\":2,\"x\":[[[[[[[1]]]]]]]");
	expect(text, strlen(text), SOUK_EVENT_OK, NULL);
	order_with(text, sizeof(text), "\"qty\":2,\"x\":[[[[[[[[1]]]]]]]]");
	souk_event_t ev;
	souk_event_error_t err;
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EJSON);
	long ninth = strstr(text, "[[[[[[[[") - text + 7;
	char want[128];
	snprintf(want, sizeof(want), "depth 9 at byte %ld exceeds the limit of 8", ninth);
	assert_string_equal(err.message, want);
	assert_int_equal(err.offset, ninth);
}

static void
test_member_limit(void **state)
{
	(void)state;
	static char text[8192];
	char tail[6000] = "\"qty\":2";
	/* 8 members from order_with + qty + 247 = 256: the limit */
	for (int i = 0; i < 247; i++)
		snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), ",\"m%d\":0",
			 i);
	order_with(text, sizeof(text), tail);
	expect(text, strlen(text), SOUK_EVENT_OK, NULL);
	strcat(tail, ",\"one_more\":0");
	order_with(text, sizeof(text), tail);
	expect(text, strlen(text), SOUK_EVENT_EJSON, "has more than 256 members");
}

static void
test_trailing_garbage_offset(void **state)
{
	(void)state;
	char text[512];
	size_t len = order_with(text, sizeof(text), "\"qty\":2");
	strcat(text, " x");
	souk_event_t ev;
	souk_event_error_t err;
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EJSON);
	assert_int_equal(err.offset, len + 1);
	char want[64];
	snprintf(want, sizeof(want), "trailing garbage at byte %zu", len + 1);
	assert_string_equal(err.message, want);
	/* a second event glued on is garbage too */
	order_with(text + len, sizeof(text) - len, "\"qty\":2");
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EJSON);
}

static void
test_duplicate_key_names_it(void **state)
{
	(void)state;
	char text[512];
	order_with(text, sizeof(text), "\"qty\":2,\"qty\":1000");
	souk_event_t ev;
	souk_event_error_t err;
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EJSON);
	assert_non_null(strstr(err.message, "duplicate key \"qty\""));
	assert_int_equal(err.offset, strstr(text, "\"qty\":1000") - text);
}

static void
test_empty_truncated_and_not_json(void **state)
{
	(void)state;
	char text[512];
	expect("", 0, SOUK_EVENT_EJSON, "empty input");
	expect("\n", 1, SOUK_EVENT_EJSON, "empty input");
	size_t len = order_with(text, sizeof(text), "\"qty\":2");
	expect(text, len - 1, SOUK_EVENT_EJSON, "invalid json");
	expect(text, len / 2, SOUK_EVENT_EJSON, "invalid json");
	expect("order please", 12, SOUK_EVENT_EJSON, "invalid json at byte");
	/* JSON, but not an object */
	expect("[]", 2, SOUK_EVENT_EENVELOPE, "event must be an object, got an array");
	expect("42", 2, SOUK_EVENT_EENVELOPE, "event must be an object, got a number");
	expect("null", 4, SOUK_EVENT_EENVELOPE, "got null");
}

static void
test_nan_and_infinity_tokens(void **state)
{
	(void)state;
	static const char *const tokens[] = {
	    "NaN", "nan", "Infinity", "-Infinity", "inf", "0x10", "+1", ".5", "1e400"};
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		char tail[64], text[512];
		snprintf(tail, sizeof(tail), "\"qty\":%s", tokens[i]);
		order_with(text, sizeof(text), tail);
		expect(text, strlen(text), SOUK_EVENT_EJSON, NULL);
	}
}

static void
test_numbers_beyond_int64(void **state)
{
	(void)state;
	char text[512];
	souk_event_t ev;
	souk_event_error_t err;
	order_with(text, sizeof(text), "\"qty\":9223372036854775808");
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EFIELD);
	assert_string_equal(
	    err.message,
	    "qty: must be an integer between 1 and 1000, got 9223372036854775808");
	order_with(text, sizeof(text), "\"qty\":-99999999999999999999999");
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EFIELD);
	/* integral however written */
	order_with(text, sizeof(text), "\"qty\":2.5e2");
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_OK);
	assert_int_equal(ev.order.qty, 250);
}

/* Messages are what the gateway answers with; pin a few word for word. */
static void
test_messages(void **state)
{
	(void)state;
	static const struct {
		const char *tail;
		const char *message;
	} cases[] = {
	    {"\"qty\":0", "qty: must be an integer between 1 and 1000, got 0"},
	    {"\"qty\":\"2\"", "qty: must be an integer between 1 and 1000, got \"2\""},
	    {"\"qty\":[2]", "qty: must be an integer between 1 and 1000, got an array"},
	    {"\"quantity\":2", "qty: is required"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		souk_event_t ev;
		souk_event_error_t err;
		order_with(text, sizeof(text), cases[i].tail);
		assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_EFIELD);
		assert_string_equal(err.message, cases[i].message);
		assert_string_equal(err.field, "qty");
	}
	static const struct {
		const char *text;
		const char *message;
	} raw[] = {
	    {"{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d\",\"type\":\"refund\","
	     "\"version\":1,\"ts\":\"2024-05-01T12:00:00.000Z\",\"client_id\":\"c\"}",
	     "type: unknown event type \"refund\""},
	    {"{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d\",\"type\":\"surge\","
	     "\"version\":3,\"ts\":\"2024-05-01T12:00:00.000Z\",\"client_id\":\"c\"}",
	     "version: unknown version 3 for type surge"},
	    {"{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d\",\"type\":\"ride_"
	     "request\","
	     "\"version\":1,\"ts\":\"2024-05-01T12:00:00.000Z\",\"client_id\":\"c\","
	     "\"request_id\":\"r\",\"rider_id\":\"x\",\"pickup\":{\"lng\":1},\"dropoff\":"
	     "{}}",
	     "pickup.lat: is required"},
	    {"{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d\",\"type\":\"order_"
	     "result\","
	     "\"version\":1,\"ts\":\"2024-05-01T12:00:00.000Z\",\"client_id\":\"c\","
	     "\"order_id\":\"o\",\"sku\":\"s\",\"user_id\":\"u\",\"qty\":1,\"status\":"
	     "\"nope\"}",
	     "status: must be one of accepted, rejected, got \"nope\""},
	};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		souk_event_t ev;
		souk_event_error_t err;
		decode_str(raw[i].text, &ev, &err);
		assert_string_equal(err.message, raw[i].message);
	}
}

/* ---- encoding ---------------------------------------------------------------------- */

static souk_event_t
sample_order(void)
{
	souk_event_t ev = {.type = SOUK_EVENT_TYPE_ORDER, .version = SOUK_EVENT_VERSION};
	strcpy(ev.event_id, "0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d");
	strcpy(ev.ts, "2024-05-01T12:00:00.000Z");
	strcpy(ev.client_id, "shop-web");
	strcpy(ev.order.order_id, "o-1");
	strcpy(ev.order.user_id, "u-1");
	strcpy(ev.order.sku, "SKU-1");
	ev.order.qty = 3;
	return ev;
}

static void
test_encode_wire_format(void **state)
{
	(void)state;
	static char buf[SOUK_EVENT_MAX_BYTES + 1];
	souk_event_t ev = sample_order();
	encode_ok(&ev, buf);
	assert_string_equal(
	    buf, "{\"event_id\":\"0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d\","
		 "\"type\":\"order\",\"version\":1,"
		 "\"ts\":\"2024-05-01T12:00:00.000Z\",\"client_id\":\"shop-web\","
		 "\"order_id\":\"o-1\",\"user_id\":\"u-1\",\"sku\":\"SKU-1\",\"qty\":3}");

	/* doubles take the shortest text that reads back the same */
	souk_event_t loc = {.type = SOUK_EVENT_TYPE_LOCATION, .version = 1};
	strcpy(loc.event_id, ev.event_id);
	strcpy(loc.ts, ev.ts);
	strcpy(loc.client_id, "fleet");
	strcpy(loc.location.driver_id, "d-7");
	loc.location.lat = 30.0444;
	loc.location.lng = -0.1;
	loc.location.speed_mps = 0.1 + 0.2; /* needs all 17 digits */
	loc.location.status = SOUK_EVENT_DRIVER_BUSY;
	encode_ok(&loc, buf);
	assert_non_null(strstr(buf,
			       "\"lat\":30.0444,\"lng\":-0.1,"
			       "\"speed_mps\":0.30000000000000004,\"status\":\"busy\"}"));
	assert_null(strstr(buf, "heading"));
}

static void
test_encode_refuses_what_decode_refuses(void **state)
{
	(void)state;
	char buf[1024] = "untouched", errstr[256];
	size_t len = 0;

	souk_event_t ev = sample_order();
	ev.order.qty = 0;
	assert_int_equal(
	    souk_event_encode(&ev, buf, sizeof(buf), &len, errstr, sizeof(errstr)), -1);
	assert_string_equal(errstr,
			    "could not encode order event: qty: must be an integer "
			    "between 1 and 1000, got 0");
	assert_string_equal(buf, "untouched");

	ev = sample_order();
	memset(ev.order.sku, 'A', sizeof(ev.order.sku));
	assert_int_equal(
	    souk_event_encode(&ev, buf, sizeof(buf), &len, errstr, sizeof(errstr)), -1);
	assert_string_equal(errstr,
			    "could not encode order event: sku: is not NUL-terminated");

	ev = sample_order();
	strcpy(ev.client_id, "caf\xc3");
	assert_int_equal(
	    souk_event_encode(&ev, buf, sizeof(buf), &len, errstr, sizeof(errstr)), -1);
	assert_string_equal(
	    errstr, "could not encode order event: client_id: is not valid utf-8");

	souk_event_t res = {.type = SOUK_EVENT_TYPE_ORDER_RESULT, .version = 1};
	res.order_result.status = 7;
	assert_int_equal(
	    souk_event_encode(&res, buf, sizeof(buf), &len, errstr, sizeof(errstr)), -1);
	assert_non_null(strstr(errstr, "status: holds a value with no spelling"));

	souk_event_t none = {0};
	assert_int_equal(
	    souk_event_encode(&none, buf, sizeof(buf), &len, errstr, sizeof(errstr)), -1);
	assert_string_equal(errstr, "could not encode event: unknown type 0");

	ev = sample_order();
	assert_int_equal(souk_event_encode(&ev, buf, 20, &len, errstr, sizeof(errstr)),
			 -1);
	assert_non_null(strstr(errstr, "do not fit a buffer of 20"));
	assert_string_equal(buf, "untouched");
}

/* ---- tables and string rules ------------------------------------------------------- */

static void
test_type_table(void **state)
{
	(void)state;
	static const struct {
		souk_event_type_t type;
		const char *name, *topic, *key;
	} want[] = {
	    {SOUK_EVENT_TYPE_ORDER, "order", "orders", "sku"},
	    {SOUK_EVENT_TYPE_STOCK_SET, "stock_set", "orders", "sku"},
	    {SOUK_EVENT_TYPE_ORDER_RESULT, "order_result", "order-results", "order_id"},
	    {SOUK_EVENT_TYPE_PAYMENT, "payment", "payments", "payment_id"},
	    {SOUK_EVENT_TYPE_PAYMENT_RESULT, "payment_result", "payment-results",
	     "payment_id"},
	    {SOUK_EVENT_TYPE_LOCATION, "location", "locations", "driver_id"},
	    {SOUK_EVENT_TYPE_RIDE_REQUEST, "ride_request", "ride-requests", "request_id"},
	    {SOUK_EVENT_TYPE_RIDE_MATCH, "ride_match", "ride-matches", "request_id"},
	    {SOUK_EVENT_TYPE_RIDE_EVENT, "ride_event", "ride-events", "request_id"},
	    {SOUK_EVENT_TYPE_SURGE, "surge", "surge", "cell"},
	};
	assert_int_equal(sizeof(want) / sizeof(want[0]), SOUK_EVENT_TYPE_COUNT - 1);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(souk_event_type_name(want[i].type), want[i].name);
		assert_int_equal(souk_event_type_from_name(want[i].name), want[i].type);
		assert_string_equal(souk_event_topic(want[i].type), want[i].topic);
		assert_string_equal(souk_event_key_name(want[i].type), want[i].key);
	}
	assert_null(souk_event_type_name(SOUK_EVENT_TYPE_NONE));
	assert_null(souk_event_topic(SOUK_EVENT_TYPE_COUNT));
	assert_int_equal(souk_event_type_from_name("Order"), SOUK_EVENT_TYPE_NONE);

	char text[512];
	souk_event_t ev;
	souk_event_error_t err;
	order_with(text, sizeof(text), "\"qty\":2");
	assert_int_equal(decode_str(text, &ev, &err), SOUK_EVENT_OK);
	assert_string_equal(souk_event_key(&ev), "SKU-1");
	assert_ptr_equal(souk_event_key(&ev), ev.order.sku);
}

/* The C type list and the schema files name the same types. */
static void
test_schema_file_per_type(void **state)
{
	(void)state;
	for (int t = SOUK_EVENT_TYPE_NONE + 1; t < SOUK_EVENT_TYPE_COUNT; t++) {
		const char *name = souk_event_type_name(t);
		char path[256], id[256];
		struct json_file f;
		snprintf(path, sizeof(path), "%s%s.json", SCHEMAS, name);
		json_file_load(&f, path);
		const souk_json_value_t *root = souk_json_root(f.doc);
		const souk_json_value_t *props = souk_json_object_get(root, "properties");
		const souk_json_value_t *type =
		    props ? souk_json_object_get(props, "type") : NULL;
		const souk_json_value_t *cnst =
		    type ? souk_json_object_get(type, "const") : NULL;
		const souk_json_value_t *ver =
		    props ? souk_json_object_get(props, "version") : NULL;
		const souk_json_value_t *vc =
		    ver ? souk_json_object_get(ver, "const") : NULL;
		int64_t version = 0;
		snprintf(id, sizeof(id), "https://souk.dev/schemas/events/%s.json", name);
		assert_string_equal(
		    souk_json_string(souk_json_object_get(root, "$id"), NULL), id);
		assert_non_null(cnst);
		assert_string_equal(souk_json_string(cnst, NULL), name);
		assert_non_null(vc);
		assert_true(souk_json_number_int64(vc, &version));
		assert_int_equal(version, SOUK_EVENT_VERSION);
		json_file_free(&f);
	}
}

/* The C currency table and $defs.currency in defs.json list the same codes. */
static void
test_currencies_match_schema(void **state)
{
	(void)state;
	static const struct {
		const char *code;
		int exponent;
	} required[] = {
	    {"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"JPY", 0}, {"KWD", 3}, {"BHD", 3},
	    {"CHF", 2}, {"SEK", 2}, {"INR", 2}, {"BRL", 2}, {"AED", 2}, {"SAR", 2},
	    {"EGP", 2}, {"MAD", 2}, {"NGN", 2}, {"KES", 2},
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		assert_int_equal(souk_event_currency_exponent(required[i].code),
				 required[i].exponent);
	assert_int_equal(souk_event_currency_exponent("XXX"), -1);
	assert_int_equal(souk_event_currency_exponent("usd"), -1);
	assert_int_equal(souk_event_currency_exponent(""), -1);

	struct json_file f;
	json_file_load(&f, SCHEMAS "defs.json");
	const souk_json_value_t *defs =
	    souk_json_object_get(souk_json_root(f.doc), "$defs");
	const souk_json_value_t *cur =
	    defs ? souk_json_object_get(defs, "currency") : NULL;
	const souk_json_value_t *list = cur ? souk_json_object_get(cur, "enum") : NULL;
	assert_non_null(list);
	size_t n = 0;
	while (souk_event_currency_code(n) != NULL)
		n++;
	assert_int_equal(souk_json_array_size(list), n);
	for (size_t i = 0; i < n; i++) {
		const char *code = souk_json_string(souk_json_array_get(list, i), NULL);
		assert_non_null(code);
		if (souk_event_currency_exponent(code) < 0)
			fail_msg("defs.json lists %s, the C table does not", code);
	}
	json_file_free(&f);
}

static void
test_string_rules(void **state)
{
	(void)state;
	assert_true(souk_event_uuid_valid("0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6d"));
	assert_false(souk_event_uuid_valid("0B7C2A4E-3F5D-4C1A-9E8B-1D2F3A4B5C6D"));
	assert_false(souk_event_uuid_valid("0b7c2a4e3f5d4c1a9e8b1d2f3a4b5c6d"));
	assert_false(souk_event_uuid_valid("0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6"));
	assert_false(souk_event_uuid_valid("{0b7c2a4e-3f5d-4c1a-9e8b-1d2f3a4b5c6}"));

	assert_true(souk_event_ts_valid("2024-05-01T12:00:00.000Z"));
	assert_true(souk_event_ts_valid("1999-12-31T23:59:59.999Z"));
	/* no calendar check, as in the schema pattern */
	assert_true(souk_event_ts_valid("2023-02-31T00:00:00.000Z"));
	assert_false(souk_event_ts_valid("2016-12-31T23:59:60.000Z")); /* leap second */
	assert_false(souk_event_ts_valid("2024-05-01T12:00:00.000+00:00"));
	assert_false(souk_event_ts_valid("2024-05-01T12:00:00.00Z"));
	assert_false(souk_event_ts_valid("2024-00-01T12:00:00.000Z"));
	assert_false(souk_event_ts_valid(""));

	assert_true(souk_event_identifier_valid("a"));
	assert_true(souk_event_identifier_valid("9.a_b:c-d"));
	assert_false(souk_event_identifier_valid(""));
	assert_false(souk_event_identifier_valid(".a"));
	assert_false(souk_event_identifier_valid("a b"));
	char ident[66];
	memset(ident, 'a', 64);
	ident[64] = '\0';
	assert_true(souk_event_identifier_valid(ident));
	strcat(ident, "a");
	assert_false(souk_event_identifier_valid(ident));

	assert_true(souk_event_idempotency_key_valid(" ~"));
	assert_false(souk_event_idempotency_key_valid(""));
	assert_false(souk_event_idempotency_key_valid("a\x7f"));
	assert_false(souk_event_idempotency_key_valid("caf\xc3\xa9"));
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(souk_event_status_name(SOUK_EVENT_OK), "ok");
	assert_string_equal(souk_event_status_name(SOUK_EVENT_EJSON), "ejson");
	assert_string_equal(souk_event_status_name(SOUK_EVENT_EENVELOPE), "eenvelope");
	assert_string_equal(souk_event_status_name(SOUK_EVENT_ETYPE), "etype");
	assert_string_equal(souk_event_status_name(SOUK_EVENT_EVERSION), "eversion");
	assert_string_equal(souk_event_status_name(SOUK_EVENT_EFIELD), "efield");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_invalid_utf8_is_ejson),
	    cmocka_unit_test(test_size_limit_64k),
	    cmocka_unit_test(test_depth_limit_8),
	    cmocka_unit_test(test_member_limit),
	    cmocka_unit_test(test_trailing_garbage_offset),
	    cmocka_unit_test(test_duplicate_key_names_it),
	    cmocka_unit_test(test_empty_truncated_and_not_json),
	    cmocka_unit_test(test_nan_and_infinity_tokens),
	    cmocka_unit_test(test_numbers_beyond_int64),
	    cmocka_unit_test(test_messages),
	    cmocka_unit_test(test_encode_wire_format),
	    cmocka_unit_test(test_encode_refuses_what_decode_refuses),
	    cmocka_unit_test(test_type_table),
	    cmocka_unit_test(test_schema_file_per_type),
	    cmocka_unit_test(test_currencies_match_schema),
	    cmocka_unit_test(test_string_rules),
	    cmocka_unit_test(test_status_names),
	};
	struct vectors vs = {0};
	struct CMUnitTest *vector_tests = NULL;
	int failed = cmocka_run_group_tests_name("souk_event", tests, NULL, NULL);

	if (vectors_load(&vs) < 0) {
		failed++;
		goto out;
	}
	/* one test per vector, named after it, plus the coverage check */
	vector_tests = calloc(vs.n + 1, sizeof(*vector_tests));
	if (vector_tests == NULL) {
		failed++;
		goto out;
	}
	vector_tests[0] = (struct CMUnitTest){
	    "vectors cover every type", test_vectors_cover_every_type, NULL, NULL, &vs};
	for (size_t i = 0; i < vs.n; i++)
		vector_tests[i + 1] =
		    (struct CMUnitTest){vs.v[i].name, test_vector, NULL, NULL, &vs.v[i]};
	failed += _cmocka_run_group_tests("vectors", vector_tests, vs.n + 1, NULL, NULL);
out:
	free(vector_tests);
	vectors_free(&vs);
	return failed;
}
