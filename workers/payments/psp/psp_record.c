#include "psp_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "souk_json.h"

static void
psp_record_gen_op(yajl_gen g, const struct psp_op *op)
{
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "type");
	souk_json_gen_str(g, psp_request_type_name(op->type));
	souk_json_gen_str(g, "state");
	souk_json_gen_str(g, psp_ledger_state_name(op->state));
	souk_json_gen_str(g, "provider_ref");
	souk_json_gen_str(g, op->provider_ref);
	souk_json_gen_str(g, "payment_id");
	souk_json_gen_str(g, op->payment_id);
	souk_json_gen_str(g, "currency");
	souk_json_gen_str(g, op->currency);
	souk_json_gen_str(g, "amount");
	yajl_gen_integer(g, op->amount);
	souk_json_gen_str(g, "refunded_total");
	yajl_gen_integer(g, op->refunded_total);
	souk_json_gen_str(g, "key");
	souk_json_gen_str(g, op->key);
	souk_json_gen_str(g, "refund_id");
	souk_json_gen_str(g, op->refund_id);
	souk_json_gen_str(g, "at");
	yajl_gen_integer(g, op->at_ms);
	yajl_gen_map_close(g);
}

int
psp_record_encode(const struct psp_record *r, char **line, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t n;
	int rc = -1;

	*line = NULL;
	if (!g)
		goto out;
	yajl_gen_map_open(g);
	if (r->kind == PSP_RECORD_ANSWER) {
		souk_json_gen_str(g, "key");
		souk_json_gen_str(g, r->key);
		souk_json_gen_str(g, "request");
		souk_json_gen_str(g, r->fingerprint);
		souk_json_gen_str(g, "status");
		yajl_gen_integer(g, r->status);
		if (r->has_op) {
			souk_json_gen_str(g, "op");
			psp_record_gen_op(g, &r->op);
		}
	} else {
		souk_json_gen_str(g, "hook");
		souk_json_gen_str(g, r->kind == PSP_RECORD_DROP ? "drop" : "misreport");
		souk_json_gen_str(g, "provider_ref");
		souk_json_gen_str(g, r->op.provider_ref);
		if (r->kind == PSP_RECORD_MISREPORT) {
			souk_json_gen_str(g, "amount");
			yajl_gen_integer(g, r->op.amount);
		}
	}
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok)
		goto out;
	/* the body goes in as it is, byte for byte: n - 1 drops the closing brace */
	if (r->kind == PSP_RECORD_ANSWER) {
		*line = malloc(n + r->body_len + 16);
		if (!*line)
			goto out;
		*len = (size_t)sprintf(*line, "%.*s,\"body\":%.*s}", (int)(n - 1),
				       (const char *)buf, (int)r->body_len, r->body);
	} else {
		*line = strndup((const char *)buf, n);
		if (!*line)
			goto out;
		*len = n;
	}
	rc = 0;
out:
	if (g)
		yajl_gen_free(g);
	return rc;
}

/* Decoding: every field required, of the right type and size. */
struct psp_record_dec {
	const souk_json_value_t *obj;
	const char *where; /* "" or "op." */
	char *errstr;
	size_t errstr_size;
};

static int
psp_record_bad(const struct psp_record_dec *d, const char *name, const char *what)
{
	snprintf(d->errstr, d->errstr_size, "%s%s: %s", d->where, name, what);
	return -1;
}

static int
psp_record_get_str(const struct psp_record_dec *d, const char *name, char *out,
		   size_t size)
{
	const souk_json_value_t *v = souk_json_object_get(d->obj, name);
	size_t len;
	const char *s = v ? souk_json_string(v, &len) : NULL;

	if (!v)
		return psp_record_bad(d, name, "is missing");
	if (!s || len >= size || strlen(s) != len)
		return psp_record_bad(d, name, "must be a short string");
	memcpy(out, s, len + 1);
	return 0;
}

static int
psp_record_get_int(const struct psp_record_dec *d, const char *name, int64_t *out)
{
	const souk_json_value_t *v = souk_json_object_get(d->obj, name);

	if (!v)
		return psp_record_bad(d, name, "is missing");
	if (!souk_json_number_int64(v, out))
		return psp_record_bad(d, name, "must be an integer");
	return 0;
}

static int
psp_record_get_op(const struct psp_record_dec *d, struct psp_op *op)
{
	char type[16], state[32];

	if (psp_record_get_str(d, "type", type, sizeof(type)) ||
	    psp_record_get_str(d, "state", state, sizeof(state)) ||
	    psp_record_get_str(d, "provider_ref", op->provider_ref,
			       sizeof(op->provider_ref)) ||
	    psp_record_get_str(d, "payment_id", op->payment_id, sizeof(op->payment_id)) ||
	    psp_record_get_str(d, "currency", op->currency, sizeof(op->currency)) ||
	    psp_record_get_int(d, "amount", &op->amount) ||
	    psp_record_get_int(d, "refunded_total", &op->refunded_total) ||
	    psp_record_get_str(d, "key", op->key, sizeof(op->key)) ||
	    psp_record_get_str(d, "refund_id", op->refund_id, sizeof(op->refund_id)) ||
	    psp_record_get_int(d, "at", &op->at_ms))
		return -1;
	if (psp_request_type_from_name(type, &op->type))
		return psp_record_bad(d, "type", "is not an operation");
	if (psp_ledger_state_from_name(state, &op->state))
		return psp_record_bad(d, "state", "is not a payment state");
	return 0;
}

int
psp_record_decode(const char *line, size_t len, struct psp_record *r, char *errstr,
		  size_t errstr_size)
{
	static const souk_json_limits_t limits = {
	    .max_bytes = 1 << 20, .max_depth = 4, .max_members = 64};
	struct psp_record_dec d = {
	    .where = "", .errstr = errstr, .errstr_size = errstr_size};
	souk_json_error_t jerr;
	souk_json_t *doc;
	const souk_json_value_t *v;
	char hook[16];
	int64_t status;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	doc = souk_json_parse(line, len, &limits, &jerr);
	if (!doc) {
		snprintf(errstr, errstr_size, "not json: %s", jerr.message);
		return -1;
	}
	d.obj = souk_json_root(doc);
	if (souk_json_type(d.obj) != SOUK_JSON_OBJECT) {
		snprintf(errstr, errstr_size, "not a json object");
		goto out;
	}
	if (souk_json_object_get(d.obj, "hook")) {
		if (psp_record_get_str(&d, "hook", hook, sizeof(hook)) ||
		    psp_record_get_str(&d, "provider_ref", r->op.provider_ref,
				       sizeof(r->op.provider_ref)))
			goto out;
		if (!strcmp(hook, "drop")) {
			r->kind = PSP_RECORD_DROP;
		} else if (!strcmp(hook, "misreport")) {
			r->kind = PSP_RECORD_MISREPORT;
			if (psp_record_get_int(&d, "amount", &r->op.amount))
				goto out;
		} else {
			psp_record_bad(&d, "hook", "must be drop or misreport");
			goto out;
		}
		rc = 0;
		goto out;
	}
	r->kind = PSP_RECORD_ANSWER;
	if (psp_record_get_str(&d, "key", r->key, sizeof(r->key)) ||
	    psp_record_get_str(&d, "request", r->fingerprint, sizeof(r->fingerprint)) ||
	    psp_record_get_int(&d, "status", &status))
		goto out;
	if (status < 100 || status > 599) {
		psp_record_bad(&d, "status", "must be an http status");
		goto out;
	}
	r->status = (int)status;
	v = souk_json_object_get(d.obj, "body");
	if (!v || souk_json_type(v) != SOUK_JSON_OBJECT) {
		psp_record_bad(&d, "body", "must be an object");
		goto out;
	}
	r->body = line + souk_json_offset(v);
	r->body_len = souk_json_length(v);
	v = souk_json_object_get(d.obj, "op");
	if (v) {
		struct psp_record_dec od = {.obj = v,
					    .where = "op.",
					    .errstr = errstr,
					    .errstr_size = errstr_size};

		if (souk_json_type(v) != SOUK_JSON_OBJECT) {
			psp_record_bad(&d, "op", "must be an object");
			goto out;
		}
		if (psp_record_get_op(&od, &r->op))
			goto out;
		r->has_op = true;
	}
	rc = 0;
out:
	souk_json_destroy(doc);
	return rc;
}
