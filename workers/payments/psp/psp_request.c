#include "psp_request.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "souk_json.h"

static const char *const psp_request_types[PSP_OP_COUNT] = {
    [PSP_OP_AUTHORIZE] = "authorize",
    [PSP_OP_CAPTURE] = "capture",
    [PSP_OP_VOID] = "void",
    [PSP_OP_REFUND] = "refund",
};

/* The fields each type takes, NULL-terminated. */
static const char *const psp_request_fields[PSP_OP_COUNT][4] = {
    [PSP_OP_AUTHORIZE] = {"payment_id", "amount", "currency", NULL},
    [PSP_OP_CAPTURE] = {"amount", NULL},
    [PSP_OP_VOID] = {NULL},
    [PSP_OP_REFUND] = {"amount", "refund_id", NULL},
};

const char *
psp_request_type_name(enum psp_op_type type)
{
	return (unsigned)type < PSP_OP_COUNT ? psp_request_types[type] : NULL;
}

int
psp_request_type_from_name(const char *name, enum psp_op_type *type)
{
	for (int i = 0; i < PSP_OP_COUNT; i++) {
		if (!strcmp(name, psp_request_types[i])) {
			*type = (enum psp_op_type)i;
			return 0;
		}
	}
	return -1;
}

bool
psp_request_ref_valid(const char *ref)
{
	if (strlen(ref) != PSP_REF_SIZE - 1 || strncmp(ref, "psp_", 4))
		return false;
	for (const char *p = ref + 4; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int psp_request_bad(struct psp_request_error *err, const char *field,
			   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
psp_request_bad(struct psp_request_error *err, const char *field, const char *fmt, ...)
{
	char what[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err->field, sizeof(err->field), "%s", field);
	if (field[0])
		snprintf(err->message, sizeof(err->message), "%s: %s", field, what);
	else
		snprintf(err->message, sizeof(err->message), "%s", what);
	return -1;
}

static bool
psp_request_takes(enum psp_op_type type, const char *field)
{
	for (const char *const *f = psp_request_fields[type]; *f; f++)
		if (!strcmp(*f, field))
			return true;
	return false;
}

/* Copies the string member name of obj, which must pass valid, into out[size]. */
static int
psp_request_string(const souk_json_value_t *obj, const char *name,
		   bool (*valid)(const char *s), const char *rule, char *out, size_t size,
		   struct psp_request_error *err)
{
	const souk_json_value_t *v = souk_json_object_get(obj, name);
	const char *s;
	size_t len;
	char desc[64];

	if (!v)
		return psp_request_bad(err, name, "is required");
	s = souk_json_string(v, &len);
	if (!s || len >= size || strlen(s) != len || !valid(s))
		return psp_request_bad(err, name, "must be %s, got %s", rule,
				       souk_json_describe(v, desc, sizeof(desc)));
	memcpy(out, s, len + 1);
	return 0;
}

static bool
psp_request_currency_valid(const char *s)
{
	return souk_event_currency_exponent(s) >= 0;
}

int
psp_request_parse(enum psp_op_type type, const char *provider_ref, const char *key,
		  const char *buf, size_t len, struct psp_request *req,
		  struct psp_request_error *err)
{
	static const souk_json_limits_t limits = {
	    .max_bytes = 65536, .max_depth = 2, .max_members = 16};
	static const char ident_rule[] =
	    "an identifier matching ^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$";
	souk_json_space_t space;
	souk_json_error_t jerr;
	souk_json_t *doc = NULL;
	const souk_json_value_t *root, *amount;
	char desc[64];
	int rc = -1;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	req->type = type;
	if (!key) {
		psp_request_bad(err, "Idempotency-Key", "is required (a request header)");
		goto out;
	}
	if (!souk_event_idempotency_key_valid(key)) {
		psp_request_bad(err, "Idempotency-Key",
				"must be 1 to 255 printable ASCII characters");
		goto out;
	}
	snprintf(req->key, sizeof(req->key), "%s", key);
	if (provider_ref)
		snprintf(req->provider_ref, sizeof(req->provider_ref), "%s",
			 provider_ref);
	if (type == PSP_OP_VOID && len == 0) {
		rc = 0;
		goto out;
	}
	doc = souk_json_parse_in(&space, buf, len, &limits, &jerr);
	if (!doc) {
		psp_request_bad(err, "", "body is not valid json: %s", jerr.message);
		goto out;
	}
	root = souk_json_root(doc);
	if (souk_json_type(root) != SOUK_JSON_OBJECT) {
		psp_request_bad(err, "", "body must be a json object, got %s",
				souk_json_type_desc(souk_json_type(root)));
		goto out;
	}
	for (size_t i = 0; i < souk_json_object_size(root); i++) {
		const char *name = souk_json_object_key(root, i, NULL);

		if (!psp_request_takes(type, name)) {
			psp_request_bad(err, name, "unknown field for %s",
					psp_request_type_name(type));
			goto out;
		}
	}
	if (type == PSP_OP_AUTHORIZE &&
	    psp_request_string(root, "payment_id", souk_event_identifier_valid,
			       ident_rule, req->payment_id, sizeof(req->payment_id), err))
		goto out;
	if (type != PSP_OP_VOID) {
		amount = souk_json_object_get(root, "amount");
		if (!amount) {
			psp_request_bad(err, "amount", "is required");
			goto out;
		}
		if (!souk_json_number_int64(amount, &req->amount) || req->amount < 1 ||
		    req->amount > PSP_AMOUNT_MAX) {
			psp_request_bad(err, "amount",
					"must be an integer between 1 and %lld, got %s",
					(long long)PSP_AMOUNT_MAX,
					souk_json_describe(amount, desc, sizeof(desc)));
			goto out;
		}
	}
	if (type == PSP_OP_AUTHORIZE &&
	    psp_request_string(root, "currency", psp_request_currency_valid,
			       "an ISO 4217 code souk accepts (EUR, USD, JPY, ...)",
			       req->currency, sizeof(req->currency), err))
		goto out;
	if (type == PSP_OP_REFUND &&
	    psp_request_string(root, "refund_id", souk_event_identifier_valid, ident_rule,
			       req->refund_id, sizeof(req->refund_id), err))
		goto out;
	rc = 0;
out:
	souk_json_destroy(doc);
	return rc;
}

void
psp_request_fingerprint(const struct psp_request *req, char out[PSP_FINGERPRINT_SIZE])
{
	switch (req->type) {
	case PSP_OP_AUTHORIZE:
		snprintf(out, PSP_FINGERPRINT_SIZE,
			 "authorize payment_id=%s amount=%lld currency=%s",
			 req->payment_id, (long long)req->amount, req->currency);
		break;
	case PSP_OP_CAPTURE:
		snprintf(out, PSP_FINGERPRINT_SIZE, "capture %s amount=%lld",
			 req->provider_ref, (long long)req->amount);
		break;
	case PSP_OP_VOID:
		snprintf(out, PSP_FINGERPRINT_SIZE, "void %s", req->provider_ref);
		break;
	default:
		snprintf(out, PSP_FINGERPRINT_SIZE, "refund %s amount=%lld refund_id=%s",
			 req->provider_ref, (long long)req->amount, req->refund_id);
		break;
	}
}
