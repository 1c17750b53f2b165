/*
 * souk_outbox frames: what souk_outbox_frame_put writes souk_outbox_frame_get reads
 * back field for field (no key, an empty value, the nil source event id); a body cut
 * anywhere, or whose lengths disagree, is refused rather than read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "souk_outbox.h"

static struct souk_outbox_row
row(const char *result_id, int64_t offset, const char *event_id, char *topic, char *key,
    char *value, char *headers)
{
	struct souk_outbox_row r = {.source_topic = "orders",
				    .source_partition = 3,
				    .source_offset = offset,
				    .topic = topic,
				    .key = key,
				    .key_len = key ? strlen(key) : 0,
				    .value = value,
				    .len = strlen(value),
				    .headers = headers};

	snprintf(r.result_id, sizeof(r.result_id), "%s", result_id);
	snprintf(r.source_event_id, sizeof(r.source_event_id), "%s", event_id);
	return r;
}

static void
assert_frame(const struct souk_outbox_frame *f, const struct souk_outbox_row *r)
{
	assert_string_equal(f->result_id, r->result_id);
	assert_int_equal(f->source_offset, r->source_offset);
	assert_string_equal(f->source_event_id, r->source_event_id);
	assert_int_equal(f->topic_len, strlen(r->topic));
	assert_memory_equal(f->topic, r->topic, f->topic_len);
	if (r->key) {
		assert_non_null(f->key);
		assert_int_equal(f->key_len, r->key_len);
		assert_memory_equal(f->key, r->key, f->key_len);
	} else {
		assert_null(f->key);
	}
	assert_int_equal(f->len, r->len);
	assert_memory_equal(f->value, r->value, f->len);
	assert_int_equal(f->headers_len, strlen(r->headers ? r->headers : "{}"));
}

static void
test_frames_round_trip_in_order(void **state)
{
	struct souk_outbox_row rows[3] = {
	    row("5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f", 7,
		"11111111-2222-4333-8444-555555555555", "order-results", "SKU-1",
		"{\"status\":\"accepted\"}", NULL),
	    row("6f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f", INT64_MAX, "", "orders.dlq", NULL,
		"", "{\"souk-error\":\"bad\"}"),
	    row("7f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f", 0,
		"ffffffff-ffff-4fff-bfff-ffffffffffff", "t", "", "x", "{}")};
	struct souk_outbox_frame f;
	char *body = NULL;
	size_t len = 0, cap = 0, off = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(souk_outbox_frame_put(&body, &len, &cap, &rows[i]), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(souk_outbox_frame_get(body, len, &off, &f), 0);
		assert_frame(&f, &rows[i]);
	}
	assert_int_equal(off, len);
	assert_int_equal(souk_outbox_frame_get(body, len, &off, &f), -1);
	free(body);
}

static void
test_a_cut_or_inconsistent_body_is_refused(void **state)
{
	struct souk_outbox_row r =
	    row("5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f", 7, "", "order-results", "k",
		"value", NULL);
	struct souk_outbox_frame f;
	char *body = NULL;
	size_t len = 0, cap = 0, off;

	(void)state;
	assert_int_equal(souk_outbox_frame_put(&body, &len, &cap, &r), 0);
	for (size_t cut = 0; cut < len; cut++) {
		off = 0;
		assert_int_equal(souk_outbox_frame_get(body, cut, &off, &f), -1);
		assert_int_equal(off, 0);
	}
	/* The frame says one byte more than its fields use, then one byte less. */
	body[3]++;
	off = 0;
	assert_int_equal(souk_outbox_frame_get(body, len, &off, &f), -1);
	body[3] -= 2;
	off = 0;
	assert_int_equal(souk_outbox_frame_get(body, len, &off, &f), -1);
	free(body);
}

static void
test_a_row_that_cannot_be_framed_is_refused(void **state)
{
	struct souk_outbox_row bad_id =
	    row("not-a-uuid", 1, "", "order-results", NULL, "v", NULL);
	struct souk_outbox_row bad_event =
	    row("5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f", 1, "order-1", "order-results",
		NULL, "v", NULL);
	char *body = NULL;
	size_t len = 0, cap = 0;

	(void)state;
	assert_int_equal(souk_outbox_frame_put(&body, &len, &cap, &bad_id), -1);
	assert_int_equal(souk_outbox_frame_put(&body, &len, &cap, &bad_event), -1);
	assert_int_equal(len, 0);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frames_round_trip_in_order),
	    cmocka_unit_test(test_a_cut_or_inconsistent_body_is_refused),
	    cmocka_unit_test(test_a_row_that_cannot_be_framed_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
