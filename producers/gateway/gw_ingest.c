#include "gw_ingest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "souk_json.h"
#include "souk_uuid.h"

/* Envelope members the gateway writes itself; the body's copies are not passed on. */
static const char *const gw_ingest_envelope[] = {
    "event_id", "type", "version", "ts", "client_id", "idempotency_key"};

static int
gw_ingest_fail(souk_event_error_t *err, const char *field, long offset, const char *fmt,
	       ...)
{
	va_list ap;

	snprintf(err->field, sizeof(err->field), "%s", field);
	err->offset = offset;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int
gw_ingest_is_envelope(const char *key)
{
	for (size_t i = 0; i < sizeof(gw_ingest_envelope) / sizeof(*gw_ingest_envelope);
	     i++)
		if (!strcmp(key, gw_ingest_envelope[i]))
			return 1;
	return 0;
}

/* Copies v into g as it was written (numbers keep their text). Depth is bounded by the
 * parse limits, so the recursion is too. */
static void
gw_ingest_copy(yajl_gen g, const souk_json_value_t *v)
{
	size_t n, len;
	const char *s;

	switch (souk_json_type(v)) {
	case SOUK_JSON_NULL:
		yajl_gen_null(g);
		break;
	case SOUK_JSON_BOOL:
		yajl_gen_bool(g, souk_json_bool(v));
		break;
	case SOUK_JSON_NUMBER:
		s = souk_json_number_text(v);
		yajl_gen_number(g, s, strlen(s));
		break;
	case SOUK_JSON_STRING:
		s = souk_json_string(v, &len);
		yajl_gen_string(g, (const unsigned char *)s, len);
		break;
	case SOUK_JSON_ARRAY:
		yajl_gen_array_open(g);
		n = souk_json_array_size(v);
		for (size_t i = 0; i < n; i++)
			gw_ingest_copy(g, souk_json_array_get(v, i));
		yajl_gen_array_close(g);
		break;
	case SOUK_JSON_OBJECT:
		yajl_gen_map_open(g);
		n = souk_json_object_size(v);
		for (size_t i = 0; i < n; i++) {
			s = souk_json_object_key(v, i, &len);
			yajl_gen_string(g, (const unsigned char *)s, len);
			gw_ingest_copy(g, souk_json_object_value(v, i));
		}
		yajl_gen_map_close(g);
		break;
	}
}

/* Checks what the body says about its type and returns it, or NONE with *err. */
static souk_event_type_t
gw_ingest_type(const souk_json_value_t *root, const struct gw_ingest_request *req,
	       souk_event_error_t *err)
{
	const souk_json_value_t *tv = souk_json_object_get(root, "type");
	souk_event_type_t t = req->route_type;
	const char *name;

	if (!tv) {
		if (t == SOUK_EVENT_TYPE_NONE)
			gw_ingest_fail(err, "type", -1, "type: required");
		return t;
	}
	name = souk_json_string(tv, NULL);
	if (!name) {
		gw_ingest_fail(err, "type", -1, "type: must be a string, got %s",
			       souk_json_type_desc(souk_json_type(tv)));
		return SOUK_EVENT_TYPE_NONE;
	}
	if (t != SOUK_EVENT_TYPE_NONE) {
		if (strcmp(name, souk_event_type_name(t))) {
			gw_ingest_fail(
			    err, "type", -1,
			    "type: this route takes \"%s\" events, got \"%.64s\"",
			    souk_event_type_name(t), name);
			return SOUK_EVENT_TYPE_NONE;
		}
		return t;
	}
	t = souk_event_type_from_name(name);
	switch (t) {
	case SOUK_EVENT_TYPE_ORDER:
	case SOUK_EVENT_TYPE_PAYMENT:
	case SOUK_EVENT_TYPE_LOCATION:
	case SOUK_EVENT_TYPE_RIDE_REQUEST:
	case SOUK_EVENT_TYPE_RIDE_EVENT:
		return t;
	case SOUK_EVENT_TYPE_NONE:
		gw_ingest_fail(err, "type", -1, "type: unknown event type \"%.64s\"",
			       name);
		return SOUK_EVENT_TYPE_NONE;
	default:
		gw_ingest_fail(
		    err, "type", -1,
		    "type: \"%s\" events are published by souk, not by clients", name);
		return SOUK_EVENT_TYPE_NONE;
	}
}

/*
 * The idempotency keys of one event: *event_key is carried in the event (the body's
 * idempotency_key, or for a single event the Idempotency-Key header), *id_key and
 * *id_part derive its event_id. For a single event the header and the body must agree.
 * On /v1/events the header names the whole request: it derives each line's id with
 * the line number but is not carried, since two lines must not share one key (the
 * payments pool dedups by client and key); a line carries its own key, if any.
 */
static int
gw_ingest_keys(const souk_json_value_t *root, const struct gw_ingest_request *req,
	       const char **event_key, const char **id_key, unsigned long *id_part,
	       souk_event_error_t *err)
{
	const souk_json_value_t *kv = souk_json_object_get(root, "idempotency_key");
	const char *header = req->idempotency_key, *body_key = NULL;

	if (header && !souk_event_idempotency_key_valid(header))
		return gw_ingest_fail(
		    err, "Idempotency-Key", -1,
		    "Idempotency-Key: must be 1 to 255 printable ASCII characters");
	if (kv) {
		body_key = souk_json_string(kv, NULL);
		if (!body_key || !souk_event_idempotency_key_valid(body_key))
			return gw_ingest_fail(err, "idempotency_key", -1,
					      "idempotency_key: must be 1 to 255 "
					      "printable ASCII characters");
	}
	if (req->part == 0 && header && body_key && strcmp(header, body_key))
		return gw_ingest_fail(
		    err, "idempotency_key", -1,
		    "idempotency_key: differs from the Idempotency-Key header");
	*event_key = req->part == 0 && header ? header : body_key;
	if (header) {
		*id_key = header;
		*id_part = req->part;
	} else {
		*id_key = body_key;
		*id_part = 0;
	}
	return 0;
}

int
gw_ingest_build(const char *body, size_t len, const struct gw_ingest_request *req,
		souk_event_t *ev, char *out, size_t out_size, size_t *out_len,
		souk_event_error_t *err)
{
	static const souk_json_limits_t limits = {
	    .max_bytes = SOUK_EVENT_MAX_BYTES,
	    .max_depth = SOUK_EVENT_MAX_DEPTH,
	    .max_members = SOUK_EVENT_MAX_MEMBERS,
	};
	souk_json_error_t jerr;
	souk_json_t *doc = NULL;
	const souk_json_value_t *root, *v;
	const char *key = NULL, *id_key = NULL, *cmd;
	unsigned long id_part = 0;
	char event_id[SOUK_UUID_STRLEN + 1];
	yajl_gen g = NULL;
	const unsigned char *gen_buf;
	size_t gen_len, n;
	souk_event_type_t type;
	souk_event_status_t st;
	int rc = -1;

	memset(err, 0, sizeof(*err));
	err->offset = -1;
	doc = souk_json_parse(body, len, &limits, &jerr);
	if (!doc) {
		/* A 400 names a field or an offset: an empty body fails at byte 0. */
		gw_ingest_fail(err, "", jerr.offset < 0 ? 0 : jerr.offset, "%s",
			       jerr.message);
		goto out;
	}
	root = souk_json_root(doc);
	if (souk_json_type(root) != SOUK_JSON_OBJECT) {
		gw_ingest_fail(err, "", 0, "an event must be a JSON object, got %s",
			       souk_json_type_desc(souk_json_type(root)));
		goto out;
	}
	type = gw_ingest_type(root, req, err);
	if (type == SOUK_EVENT_TYPE_NONE)
		goto out;
	if (type == SOUK_EVENT_TYPE_PAYMENT &&
	    (v = souk_json_object_get(root, "command")) &&
	    (cmd = souk_json_string(v, NULL)) && !strcmp(cmd, "settle")) {
		gw_ingest_fail(
		    err, "command", -1,
		    "command: settle is published only by the payments reconciliation");
		goto out;
	}
	if (gw_ingest_keys(root, req, &key, &id_key, &id_part, err))
		goto out;

	if (id_key)
		souk_uuid_derive(req->client_id, id_key, id_part, event_id);
	else
		souk_uuid_random(event_id);

	g = yajl_gen_alloc(NULL);
	if (!g) {
		gw_ingest_fail(err, "", -1, "out of memory");
		goto out;
	}
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "event_id");
	souk_json_gen_str(g, event_id);
	souk_json_gen_str(g, "type");
	souk_json_gen_str(g, souk_event_type_name(type));
	souk_json_gen_str(g, "version");
	v = souk_json_object_get(root, "version");
	if (v)
		gw_ingest_copy(g, v); /* the decode below checks it */
	else
		yajl_gen_integer(g, SOUK_EVENT_VERSION);
	souk_json_gen_str(g, "ts");
	souk_json_gen_str(g, req->ts);
	souk_json_gen_str(g, "client_id");
	souk_json_gen_str(g, req->client_id);
	if (key) {
		souk_json_gen_str(g, "idempotency_key");
		souk_json_gen_str(g, key);
	}
	n = souk_json_object_size(root);
	for (size_t i = 0; i < n; i++) {
		size_t klen;
		const char *k = souk_json_object_key(root, i, &klen);

		if (gw_ingest_is_envelope(k))
			continue;
		yajl_gen_string(g, (const unsigned char *)k, klen);
		gw_ingest_copy(g, souk_json_object_value(root, i));
	}
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &gen_buf, &gen_len);
	if (gen_len >= out_size || gen_len > SOUK_EVENT_MAX_BYTES) {
		gw_ingest_fail(err, "", -1,
			       "event too large: %zu bytes with its envelope, limit %d",
			       gen_len, SOUK_EVENT_MAX_BYTES);
		rc = GW_INGEST_TOO_LARGE;
		goto out;
	}
	memcpy(out, gen_buf, gen_len);
	out[gen_len] = '\0';
	*out_len = gen_len;

	st = souk_event_decode(out, gen_len, ev, err);
	if (st != SOUK_EVENT_OK) {
		err->offset =
		    -1; /* an offset into our rewrite would mislead the client */
		goto out;
	}
	rc = 0;
out:
	if (g)
		yajl_gen_free(g);
	souk_json_destroy(doc);
	return rc;
}
