/*
 * souk_event: the event rules in C. Keep in step with schemas/events/<type>.json.
 *
 * Decoding parses into a souk_json tree, checks the envelope, then hands the root
 * object to the type's decoder, which reads the partition key first (so a result can
 * be addressed even when another field is wrong) and the other fields by name.
 * Encoding writes with yajl_gen and decodes its own output, so there is one rule set.
 */
#include "souk_event.h"

#include "souk_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

enum { DESC_SIZE = 64 };

/* ---- string rules ---------------------------------------------------------------- */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_lower_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool
is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The rules take the string as s[0..n), which may hold a NUL byte (an escaped one from
 * JSON): none of them lets a NUL through. */

static bool
identifier_ok(const char *s, size_t n)
{
	if (n < 1 || n > SOUK_EVENT_IDENT_MAX || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != ':' &&
		    s[i] != '-')
			return false;
	return true;
}

/* Whether s[0..n) are all lower-case hex digits. No branch per byte: whether a byte of
 * a uuid is a digit or a letter is random, and a mispredicted branch costs more than the
 * two compares. */
static bool
lower_hex_run(const char *s, size_t n)
{
	unsigned ok = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		ok &= ((unsigned char)(c - '0') < 10) | ((unsigned char)(c - 'a') < 6);
	}
	return ok;
}

/* 8-4-4-4-12 lower-case hex digits, with the dashes at 8, 13, 18 and 23. */
static bool
uuid_ok(const char *s, size_t n)
{
	return n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' &&
	       lower_hex_run(s, 8) && lower_hex_run(s + 9, 4) &&
	       lower_hex_run(s + 14, 4) && lower_hex_run(s + 19, 4) &&
	       lower_hex_run(s + 24, 12);
}

static int
two_digits(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* YYYY-MM-DDTHH:MM:SS.mmmZ with month 01-12, day 01-31 (any month), hour 00-23,
 * minute and second 00-59: the pattern in defs.json, no calendar check. */
static bool
ts_ok(const char *s, size_t n)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	if (n != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			return false;
	int month = two_digits(s + 5), day = two_digits(s + 8);
	return month >= 1 && month <= 12 && day >= 1 && day <= 31 &&
	       two_digits(s + 11) <= 23 && two_digits(s + 14) <= 59 &&
	       two_digits(s + 17) <= 59;
}

static bool
idempotency_key_ok(const char *s, size_t n)
{
	if (n < 1 || n > SOUK_EVENT_IDEMPOTENCY_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* payment_result.error: ^[a-z][a-z0-9_]{0,63}$ */
static bool
error_code_ok(const char *s, size_t n)
{
	if (n < 1 || n > SOUK_EVENT_IDENT_MAX || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !is_digit(s[i]) && s[i] != '_')
			return false;
	return true;
}

/* surge.cell: ^[0-9a-f]{15}$ */
static bool
cell_ok(const char *s, size_t n)
{
	if (n != SOUK_EVENT_CELL_SIZE - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

bool
souk_event_identifier_valid(const char *s)
{
	return identifier_ok(s, strlen(s));
}

bool
souk_event_uuid_valid(const char *s)
{
	return uuid_ok(s, strlen(s));
}

bool
souk_event_ts_valid(const char *s)
{
	return ts_ok(s, strlen(s));
}

bool
souk_event_idempotency_key_valid(const char *s)
{
	return idempotency_key_ok(s, strlen(s));
}

/* Keep in step with $defs.currency in schemas/events/defs.json (a test compares). */
static const struct {
	char code[SOUK_EVENT_CURRENCY_SIZE];
	int exponent;
} currencies[] = {
    {"AED", 2}, {"AUD", 2}, {"BHD", 3}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2}, {"CNY", 2},
    {"DKK", 2}, {"EGP", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"INR", 2}, {"JOD", 3},
    {"JPY", 0}, {"KES", 2}, {"KRW", 0}, {"KWD", 3}, {"MAD", 2}, {"MXN", 2}, {"NGN", 2},
    {"NOK", 2}, {"OMR", 3}, {"PLN", 2}, {"QAR", 2}, {"SAR", 2}, {"SEK", 2}, {"SGD", 2},
    {"TND", 3}, {"TRY", 2}, {"USD", 2}, {"ZAR", 2},
};

/* The exponent of the code s[0..n), -1 if souk does not accept it. O(codes). */
static int
currency_exponent(const char *s, size_t n)
{
	if (n != SOUK_EVENT_CURRENCY_SIZE - 1)
		return -1;
	for (size_t i = 0; i < N(currencies); i++)
		if (memcmp(s, currencies[i].code, n) == 0)
			return currencies[i].exponent;
	return -1;
}

int
souk_event_currency_exponent(const char *code)
{
	return currency_exponent(code, strlen(code));
}

const char *
souk_event_currency_code(size_t i)
{
	return i < N(currencies) ? currencies[i].code : NULL;
}

static bool
currency_ok(const char *s, size_t n)
{
	return currency_exponent(s, n) >= 0;
}

/* A string rule and how messages describe it: "<field>: must be <text>, got ...". */
struct rule {
	bool (*valid)(const char *s, size_t n);
	const char *text;
};

static const struct rule IDENT = {
    identifier_ok, "an identifier matching ^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"};
static const struct rule UUID = {uuid_ok, "a lower-case uuid (8-4-4-4-12 hex digits)"};
static const struct rule TS = {ts_ok, "a utc timestamp like 2024-05-01T12:00:00.000Z"};
static const struct rule IDEMPOTENCY_KEY = {idempotency_key_ok,
					    "1 to 255 printable ascii characters"};
static const struct rule ERROR_CODE = {error_code_ok,
				       "an error code matching ^[a-z][a-z0-9_]{0,63}$"};
static const struct rule CELL = {cell_ok, "an h3 index of 15 lower-case hex digits"};
static const struct rule CURRENCY = {currency_ok,
				     "an iso 4217 code souk accepts, like USD"};

/* ---- enumerations: JSON spellings indexed by the C value, NULL for "absent" ----- */

struct enum_def {
	const char *const *names;
	size_t n;
};

static const char *const order_status_names[] = {
    [SOUK_EVENT_ORDER_ACCEPTED] = "accepted",
    [SOUK_EVENT_ORDER_REJECTED] = "rejected",
};
static const char *const reason_names[] = {
    [SOUK_EVENT_REASON_NONE] = NULL,
    [SOUK_EVENT_REASON_SOLD_OUT] = "sold_out",
    [SOUK_EVENT_REASON_LIMIT_EXCEEDED] = "limit_exceeded",
    [SOUK_EVENT_REASON_INVALID] = "invalid",
};
static const char *const command_names[] = {
    [SOUK_EVENT_COMMAND_CREATE] = "create",
    [SOUK_EVENT_COMMAND_AUTHORIZE] = "authorize",
    [SOUK_EVENT_COMMAND_CAPTURE] = "capture",
    [SOUK_EVENT_COMMAND_VOID] = "void",
    [SOUK_EVENT_COMMAND_REFUND] = "refund",
    [SOUK_EVENT_COMMAND_SETTLE] = "settle",
};
static const char *const payment_status_names[] = {
    [SOUK_EVENT_PAYMENT_OK] = "ok",
    [SOUK_EVENT_PAYMENT_ERROR] = "error",
};
static const char *const state_names[] = {
    [SOUK_EVENT_STATE_NONE] = NULL,
    [SOUK_EVENT_STATE_CREATED] = "created",
    [SOUK_EVENT_STATE_AUTHORIZED] = "authorized",
    [SOUK_EVENT_STATE_CAPTURED] = "captured",
    [SOUK_EVENT_STATE_SETTLED] = "settled",
    [SOUK_EVENT_STATE_DECLINED] = "declined",
    [SOUK_EVENT_STATE_VOIDED] = "voided",
    [SOUK_EVENT_STATE_REFUNDED] = "refunded",
};
static const char *const driver_status_names[] = {
    [SOUK_EVENT_DRIVER_AVAILABLE] = "available",
    [SOUK_EVENT_DRIVER_BUSY] = "busy",
    [SOUK_EVENT_DRIVER_OFFLINE] = "offline",
};
static const char *const match_status_names[] = {
    [SOUK_EVENT_MATCH_MATCHED] = "matched",
    [SOUK_EVENT_MATCH_NO_DRIVER] = "no_driver",
};
static const char *const ride_action_names[] = {
    [SOUK_EVENT_RIDE_ACCEPT] = "accept",     /* the driver takes the ride */
    [SOUK_EVENT_RIDE_DECLINE] = "decline",   /* the driver turns it down */
    [SOUK_EVENT_RIDE_START] = "start",	     /* the rider is on board */
    [SOUK_EVENT_RIDE_COMPLETE] = "complete", /* the rider is dropped off */
    [SOUK_EVENT_RIDE_CANCEL] = "cancel",     /* the rider calls it off */
};

static const struct enum_def ORDER_STATUS = {order_status_names, N(order_status_names)};
static const struct enum_def REASON = {reason_names, N(reason_names)};
static const struct enum_def COMMAND = {command_names, N(command_names)};
static const struct enum_def PAYMENT_STATUS = {payment_status_names,
					       N(payment_status_names)};
static const struct enum_def STATE = {state_names, N(state_names)};
static const struct enum_def DRIVER_STATUS = {driver_status_names,
					      N(driver_status_names)};
static const struct enum_def MATCH_STATUS = {match_status_names, N(match_status_names)};
static const struct enum_def RIDE_ACTION = {ride_action_names, N(ride_action_names)};

/* Numeric bounds shared by several types. */
#define QTY_MIN 1
#define QTY_MAX 1000
#define AMOUNT_MAX INT64_C(1000000000000)

/* ---- decoding helpers ------------------------------------------------------------- */

/* Reads members of obj; path is the JSON path of obj ("" for the event itself). */
struct dec {
	const souk_json_value_t *obj;
	const char *path;
	souk_event_error_t *err;
};

/* Names the field (path.name) in err and writes "<field>: <what>". Returns -1. */
__attribute__((format(printf, 3, 4))) static int
bad(const struct dec *d, const char *name, const char *fmt, ...)
{
	char what[190]; /* with "<field>: " it fits err->message */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(d->err->field, sizeof(d->err->field), "%s%s%s", d->path,
		 d->path[0] != '\0' ? "." : "", name);
	snprintf(d->err->message, sizeof(d->err->message), "%s: %s", d->err->field, what);
	return -1;
}

/* 1 with *out set when the member is there, 0 when it is absent and optional, -1
 * (error filled) when it is absent and required. */
static int
member(const struct dec *d, const char *name, bool required,
       const souk_json_value_t **out)
{
	*out = souk_json_object_get(d->obj, name);
	if (*out == NULL && required)
		return bad(d, name, "is required");
	return *out != NULL;
}

static int
get_int(const struct dec *d, const char *name, bool required, int64_t min, int64_t max,
	int64_t *out)
{
	const souk_json_value_t *v;
	char desc[DESC_SIZE];
	int r = member(d, name, required, &v);
	if (r <= 0)
		return r;
	if (!souk_json_number_int64(v, out) || *out < min || *out > max)
		return bad(d, name, "must be an integer between %lld and %lld, got %s",
			   (long long)min, (long long)max,
			   souk_json_describe(v, desc, sizeof(desc)));
	return 1;
}

static int
get_num(const struct dec *d, const char *name, bool required, double min, double max,
	double *out)
{
	const souk_json_value_t *v;
	char desc[DESC_SIZE];
	int r = member(d, name, required, &v);
	if (r <= 0)
		return r;
	*out = souk_json_number_double(v);
	if (souk_json_type(v) != SOUK_JSON_NUMBER || *out < min || *out > max)
		return bad(d, name, "must be a number between %g and %g, got %s", min,
			   max, souk_json_describe(v, desc, sizeof(desc)));
	return 1;
}

/* A string obeying rule, copied to out[out_size]. Rules bound the length below
 * out_size and refuse NUL bytes, so out holds a C string. */
static int
get_str(const struct dec *d, const char *name, bool required, const struct rule *rule,
	char *out, size_t out_size)
{
	const souk_json_value_t *v;
	char desc[DESC_SIZE];
	size_t len = 0;
	int r = member(d, name, required, &v);
	if (r <= 0)
		return r;
	const char *s = souk_json_string(v, &len);
	if (s == NULL || len >= out_size || !rule->valid(s, len))
		return bad(d, name, "must be %s, got %s", rule->text,
			   souk_json_describe(v, desc, sizeof(desc)));
	memcpy(out, s, len + 1);
	return 1;
}

static int
get_enum(const struct dec *d, const char *name, bool required, const struct enum_def *e,
	 int *out)
{
	const souk_json_value_t *v;
	char desc[DESC_SIZE];
	size_t len = 0;
	int r = member(d, name, required, &v);
	if (r <= 0)
		return r;
	const char *s = souk_json_string(v, &len);
	for (size_t i = 0; s != NULL && i < e->n; i++) {
		if (e->names[i] != NULL && strlen(e->names[i]) == len &&
		    memcmp(s, e->names[i], len) == 0) {
			*out = (int)i;
			return 1;
		}
	}
	char list[160] = "";
	for (size_t i = 0; i < e->n; i++) {
		if (e->names[i] == NULL)
			continue;
		size_t used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
			 e->names[i]);
	}
	return bad(d, name, "must be one of %s, got %s", list,
		   souk_json_describe(v, desc, sizeof(desc)));
}

/* Opens the object member `name` for reading through *sub, whose path is this one's
 * extended by name: name itself at the top level, else written to path[path_size]. */
static int
get_obj(const struct dec *d, const char *name, bool required, struct dec *sub, char *path,
	size_t path_size)
{
	const souk_json_value_t *v;
	int r = member(d, name, required, &v);
	if (r <= 0)
		return r;
	if (souk_json_type(v) != SOUK_JSON_OBJECT)
		return bad(d, name, "must be an object, got %s",
			   souk_json_type_desc(souk_json_type(v)));
	if (d->path[0] != '\0') {
		snprintf(path, path_size, "%s.%s", d->path, name);
		name = path;
	}
	*sub = (struct dec){v, name, d->err};
	return 1;
}

/* A member that must not be there in the situation `when` describes. */
static int
forbid(const struct dec *d, const char *name, const char *when)
{
	if (souk_json_object_get(d->obj, name) != NULL)
		return bad(d, name, "must be absent %s", when);
	return 0;
}

/* ---- decoders, one per type: key first, then the rest in schema order ------------ */

static int
decode_order(const struct dec *d, souk_event_t *ev)
{
	souk_event_order_t *o = &ev->order;
	if (get_str(d, "sku", true, &IDENT, o->sku, sizeof(o->sku)) < 0)
		return -1;
	ev->key_valid = true;
	if (get_str(d, "order_id", true, &IDENT, o->order_id, sizeof(o->order_id)) < 0 ||
	    get_str(d, "user_id", true, &IDENT, o->user_id, sizeof(o->user_id)) < 0 ||
	    get_int(d, "qty", true, QTY_MIN, QTY_MAX, &o->qty) < 0)
		return -1;
	return 0;
}

static int
decode_stock_set(const struct dec *d, souk_event_t *ev)
{
	souk_event_stock_set_t *s = &ev->stock_set;
	if (get_str(d, "sku", true, &IDENT, s->sku, sizeof(s->sku)) < 0)
		return -1;
	ev->key_valid = true;
	if (get_int(d, "stock", true, 0, 100000000, &s->stock) < 0)
		return -1;
	int r = get_int(d, "limit_per_user", false, 1, 1000000, &s->limit_per_user);
	s->has_limit_per_user = r == 1;
	return r < 0 ? -1 : 0;
}

static int
decode_order_result(const struct dec *d, souk_event_t *ev)
{
	souk_event_order_result_t *o = &ev->order_result;
	int status = 0, reason = SOUK_EVENT_REASON_NONE;
	bool full;
	int r;
	if (get_str(d, "order_id", true, &IDENT, o->order_id, sizeof(o->order_id)) < 0)
		return -1;
	ev->key_valid = true;
	if (get_enum(d, "status", true, &ORDER_STATUS, &status) < 0 ||
	    get_enum(d, "reason", false, &REASON, &reason) < 0)
		return -1;
	o->status = status;
	o->reason = reason;
	if (o->status == SOUK_EVENT_ORDER_REJECTED && o->reason == SOUK_EVENT_REASON_NONE)
		return bad(d, "reason", "is required when status is rejected");
	if (o->status == SOUK_EVENT_ORDER_ACCEPTED &&
	    forbid(d, "reason", "when status is accepted") < 0)
		return -1;
	/* An order rejected as invalid is answered with what of it was valid. */
	full = o->reason != SOUK_EVENT_REASON_INVALID;
	if (get_str(d, "sku", full, &IDENT, o->sku, sizeof(o->sku)) < 0 ||
	    get_str(d, "user_id", full, &IDENT, o->user_id, sizeof(o->user_id)) < 0)
		return -1;
	r = get_int(d, "qty", full, QTY_MIN, QTY_MAX, &o->qty);
	if (r < 0)
		return -1;
	o->has_qty = r == 1;
	if (get_str(d, "source_event_id", true, &UUID, o->source_event_id,
		    sizeof(o->source_event_id)) < 0)
		return -1;
	return 0;
}

static int
decode_payment(const struct dec *d, souk_event_t *ev)
{
	souk_event_payment_t *p = &ev->payment;
	int command = 0;
	if (get_str(d, "payment_id", true, &IDENT, p->payment_id, sizeof(p->payment_id)) <
	    0)
		return -1;
	ev->key_valid = true;
	if (ev->idempotency_key[0] == '\0')
		return bad(d, "idempotency_key", "is required for payment events");
	if (get_enum(d, "command", true, &COMMAND, &command) < 0)
		return -1;
	p->command = command;
	int r = get_int(d, "amount", false, 0, AMOUNT_MAX, &p->amount);
	if (r < 0 ||
	    get_str(d, "currency", false, &CURRENCY, p->currency, sizeof(p->currency)) <
		0 ||
	    get_str(d, "refund_id", false, &IDENT, p->refund_id, sizeof(p->refund_id)) <
		0)
		return -1;
	p->has_amount = r == 1;
	bool needs_amount = p->command == SOUK_EVENT_COMMAND_CREATE ||
			    p->command == SOUK_EVENT_COMMAND_CAPTURE ||
			    p->command == SOUK_EVENT_COMMAND_REFUND;
	const char *cmd = command_names[p->command];
	if (needs_amount && !p->has_amount)
		return bad(d, "amount", "is required for command %s", cmd);
	if (needs_amount && p->currency[0] == '\0')
		return bad(d, "currency", "is required for command %s", cmd);
	if (p->has_amount && p->currency[0] == '\0')
		return bad(d, "currency", "is required when amount is given");
	if (!p->has_amount && p->currency[0] != '\0')
		return bad(d, "amount", "is required when currency is given");
	if (p->command == SOUK_EVENT_COMMAND_REFUND && p->refund_id[0] == '\0')
		return bad(d, "refund_id", "is required for command refund");
	return 0;
}

static int
decode_payment_result(const struct dec *d, souk_event_t *ev)
{
	souk_event_payment_result_t *p = &ev->payment_result;
	int command = 0, status = 0, state = SOUK_EVENT_STATE_NONE;
	if (get_str(d, "payment_id", true, &IDENT, p->payment_id, sizeof(p->payment_id)) <
	    0)
		return -1;
	ev->key_valid = true;
	if (ev->idempotency_key[0] == '\0')
		return bad(d, "idempotency_key", "is required for payment_result events");
	if (get_enum(d, "command", true, &COMMAND, &command) < 0 ||
	    get_enum(d, "status", true, &PAYMENT_STATUS, &status) < 0 ||
	    get_enum(d, "state", false, &STATE, &state) < 0 ||
	    get_str(d, "error", false, &ERROR_CODE, p->error, sizeof(p->error)) < 0)
		return -1;
	p->command = command;
	p->status = status;
	p->state = state;
	if (p->status == SOUK_EVENT_PAYMENT_OK && p->state == SOUK_EVENT_STATE_NONE)
		return bad(d, "state", "is required when status is ok");
	if (p->status == SOUK_EVENT_PAYMENT_OK &&
	    forbid(d, "error", "when status is ok") < 0)
		return -1;
	if (p->status == SOUK_EVENT_PAYMENT_ERROR && p->error[0] == '\0')
		return bad(d, "error", "is required when status is error");
	int r = get_int(d, "amount", false, 0, AMOUNT_MAX, &p->amount);
	if (r < 0)
		return -1;
	p->has_amount = r == 1;
	if (get_str(d, "source_event_id", true, &UUID, p->source_event_id,
		    sizeof(p->source_event_id)) < 0)
		return -1;
	return 0;
}

static int
decode_location(const struct dec *d, souk_event_t *ev)
{
	souk_event_location_t *l = &ev->location;
	int status = 0;
	if (get_str(d, "driver_id", true, &IDENT, l->driver_id, sizeof(l->driver_id)) < 0)
		return -1;
	ev->key_valid = true;
	if (get_num(d, "lat", true, -90, 90, &l->lat) < 0 ||
	    get_num(d, "lng", true, -180, 180, &l->lng) < 0 ||
	    get_num(d, "speed_mps", true, 0, 100, &l->speed_mps) < 0)
		return -1;
	int r = get_num(d, "heading", false, 0, 360, &l->heading);
	if (r < 0 || get_enum(d, "status", true, &DRIVER_STATUS, &status) < 0)
		return -1;
	l->has_heading = r == 1;
	l->status = status;
	return 0;
}

static int
decode_point(const struct dec *d, const char *name, souk_event_point_t *pt)
{
	struct dec sub;
	char path[32];
	if (get_obj(d, name, true, &sub, path, sizeof(path)) < 0 ||
	    get_num(&sub, "lat", true, -90, 90, &pt->lat) < 0 ||
	    get_num(&sub, "lng", true, -180, 180, &pt->lng) < 0)
		return -1;
	return 0;
}

static int
decode_ride_request(const struct dec *d, souk_event_t *ev)
{
	souk_event_ride_request_t *r = &ev->ride_request;
	if (get_str(d, "request_id", true, &IDENT, r->request_id, sizeof(r->request_id)) <
	    0)
		return -1;
	ev->key_valid = true;
	if (get_str(d, "rider_id", true, &IDENT, r->rider_id, sizeof(r->rider_id)) < 0 ||
	    decode_point(d, "pickup", &r->pickup) < 0 ||
	    decode_point(d, "dropoff", &r->dropoff) < 0)
		return -1;
	return 0;
}

static int
decode_ride_match(const struct dec *d, souk_event_t *ev)
{
	static const char *const when_matched[] = {"driver_id", "eta_s", "fare", "surge"};
	souk_event_ride_match_t *m = &ev->ride_match;
	struct dec fare;
	char path[32];
	int status = 0;
	if (get_str(d, "request_id", true, &IDENT, m->request_id, sizeof(m->request_id)) <
	    0)
		return -1;
	ev->key_valid = true;
	if (get_enum(d, "status", true, &MATCH_STATUS, &status) < 0)
		return -1;
	m->status = status;
	if (m->status == SOUK_EVENT_MATCH_NO_DRIVER) {
		for (size_t i = 0; i < N(when_matched); i++)
			if (forbid(d, when_matched[i], "when status is no_driver") < 0)
				return -1;
	} else {
		for (size_t i = 0; i < N(when_matched); i++)
			if (souk_json_object_get(d->obj, when_matched[i]) == NULL)
				return bad(d, when_matched[i],
					   "is required when status is matched");
		if (get_str(d, "driver_id", true, &IDENT, m->driver_id,
			    sizeof(m->driver_id)) < 0 ||
		    get_int(d, "eta_s", true, 0, 86400, &m->eta_s) < 0 ||
		    get_obj(d, "fare", true, &fare, path, sizeof(path)) < 0 ||
		    get_int(&fare, "amount", true, 0, AMOUNT_MAX, &m->fare.amount) < 0 ||
		    get_str(&fare, "currency", true, &CURRENCY, m->fare.currency,
			    sizeof(m->fare.currency)) < 0 ||
		    get_num(d, "surge", true, 1, 10, &m->surge) < 0)
			return -1;
	}
	if (get_str(d, "source_event_id", true, &UUID, m->source_event_id,
		    sizeof(m->source_event_id)) < 0)
		return -1;
	return 0;
}

static int
decode_ride_event(const struct dec *d, souk_event_t *ev)
{
	souk_event_ride_event_t *r = &ev->ride_event;
	int action = 0;
	if (get_str(d, "request_id", true, &IDENT, r->request_id, sizeof(r->request_id)) <
	    0)
		return -1;
	ev->key_valid = true;
	if (get_enum(d, "action", true, &RIDE_ACTION, &action) < 0)
		return -1;
	r->action = action;
	int present =
	    get_str(d, "driver_id", false, &IDENT, r->driver_id, sizeof(r->driver_id));
	if (present < 0)
		return -1;
	if (!present && r->action != SOUK_EVENT_RIDE_CANCEL)
		return bad(d, "driver_id", "is required unless action is cancel");
	return 0;
}

static int
decode_surge(const struct dec *d, souk_event_t *ev)
{
	souk_event_surge_t *s = &ev->surge;
	if (get_str(d, "cell", true, &CELL, s->cell, sizeof(s->cell)) < 0)
		return -1;
	ev->key_valid = true;
	if (get_num(d, "multiplier", true, 1, 10, &s->multiplier) < 0 ||
	    get_int(d, "demand", true, 0, 1000000000, &s->demand) < 0 ||
	    get_int(d, "supply", true, 0, 1000000000, &s->supply) < 0 ||
	    get_int(d, "window_s", true, 1, 3600, &s->window_s) < 0)
		return -1;
	return 0;
}

/* ---- encoding helpers ------------------------------------------------------------- */

/* Writes members into g; the first failure is kept in field/why and later calls do
 * nothing, so encoders need not check each call. */
struct enc {
	yajl_gen g;
	const char *path; /* "" at the top level, the object's name inside one */
	char field[64];
	const char *why; /* NULL while all is well */
};

static bool
enc_fail(struct enc *e, const char *name, yajl_gen_status st, const char *why)
{
	if (e->why == NULL && st != yajl_gen_status_ok) {
		snprintf(e->field, sizeof(e->field), "%s%s%s", e->path,
			 e->path[0] != '\0' ? "." : "", name);
		e->why = why != NULL			 ? why
			 : st == yajl_gen_invalid_string ? "is not valid utf-8"
							 : "could not be written";
	}
	return e->why != NULL;
}

static void
enc_key(struct enc *e, const char *name)
{
	if (e->why == NULL)
		enc_fail(e, name,
			 yajl_gen_string(e->g, (const unsigned char *)name, strlen(name)),
			 NULL);
}

/* value is a char array of size bytes that must hold a NUL. */
static void
enc_str(struct enc *e, const char *name, const char *value, size_t size)
{
	size_t n = strnlen(value, size);
	enc_key(e, name);
	if (n == size)
		enc_fail(e, name, yajl_gen_invalid_string, "is not NUL-terminated");
	else if (e->why == NULL)
		enc_fail(e, name, yajl_gen_string(e->g, (const unsigned char *)value, n),
			 NULL);
}

/* An optional string, left out when "". */
static void
enc_opt_str(struct enc *e, const char *name, const char *value, size_t size)
{
	if (value[0] != '\0')
		enc_str(e, name, value, size);
}

static void
enc_int(struct enc *e, const char *name, int64_t value)
{
	enc_key(e, name);
	if (e->why == NULL)
		enc_fail(e, name, yajl_gen_integer(e->g, value), NULL);
}

/* The shortest of %.15g..%.17g that reads back as the same double. */
static void
enc_num(struct enc *e, const char *name, double value)
{
	char text[32];
	enc_key(e, name);
	if (!isfinite(value)) {
		enc_fail(e, name, yajl_gen_invalid_number, "is not a finite number");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(text, sizeof(text), "%.*g", prec, value);
		if (strtod(text, NULL) == value)
			break;
	}
	if (e->why == NULL)
		enc_fail(e, name, yajl_gen_number(e->g, text, strlen(text)), NULL);
}

/* value must have a spelling in def; absent values are the encoder's to skip. */
static void
enc_enum(struct enc *e, const char *name, const struct enum_def *def, int value)
{
	if (value < 0 || (size_t)value >= def->n || def->names[value] == NULL) {
		enc_key(e, name);
		enc_fail(e, name, yajl_gen_invalid_string,
			 "holds a value with no spelling");
		return;
	}
	enc_str(e, name, def->names[value], strlen(def->names[value]) + 1);
}

static void
enc_open(struct enc *e, const char *name)
{
	enc_key(e, name);
	if (e->why == NULL)
		enc_fail(e, name, yajl_gen_map_open(e->g), NULL);
	e->path = name;
}

static void
enc_close(struct enc *e)
{
	if (e->why == NULL)
		enc_fail(e, e->path, yajl_gen_map_close(e->g), NULL);
	e->path = "";
}

static void
encode_order(struct enc *e, const souk_event_t *ev)
{
	const souk_event_order_t *o = &ev->order;
	enc_str(e, "order_id", o->order_id, sizeof(o->order_id));
	enc_str(e, "user_id", o->user_id, sizeof(o->user_id));
	enc_str(e, "sku", o->sku, sizeof(o->sku));
	enc_int(e, "qty", o->qty);
}

static void
encode_stock_set(struct enc *e, const souk_event_t *ev)
{
	const souk_event_stock_set_t *s = &ev->stock_set;
	enc_str(e, "sku", s->sku, sizeof(s->sku));
	enc_int(e, "stock", s->stock);
	if (s->has_limit_per_user)
		enc_int(e, "limit_per_user", s->limit_per_user);
}

static void
encode_order_result(struct enc *e, const souk_event_t *ev)
{
	const souk_event_order_result_t *o = &ev->order_result;
	enc_str(e, "order_id", o->order_id, sizeof(o->order_id));
	enc_opt_str(e, "sku", o->sku, sizeof(o->sku));
	enc_opt_str(e, "user_id", o->user_id, sizeof(o->user_id));
	if (o->has_qty)
		enc_int(e, "qty", o->qty);
	enc_enum(e, "status", &ORDER_STATUS, o->status);
	if (o->reason != SOUK_EVENT_REASON_NONE)
		enc_enum(e, "reason", &REASON, o->reason);
	enc_str(e, "source_event_id", o->source_event_id, sizeof(o->source_event_id));
}

static void
encode_payment(struct enc *e, const souk_event_t *ev)
{
	const souk_event_payment_t *p = &ev->payment;
	enc_enum(e, "command", &COMMAND, p->command);
	enc_str(e, "payment_id", p->payment_id, sizeof(p->payment_id));
	if (p->has_amount)
		enc_int(e, "amount", p->amount);
	enc_opt_str(e, "currency", p->currency, sizeof(p->currency));
	enc_opt_str(e, "refund_id", p->refund_id, sizeof(p->refund_id));
}

static void
encode_payment_result(struct enc *e, const souk_event_t *ev)
{
	const souk_event_payment_result_t *p = &ev->payment_result;
	enc_str(e, "payment_id", p->payment_id, sizeof(p->payment_id));
	enc_enum(e, "command", &COMMAND, p->command);
	enc_enum(e, "status", &PAYMENT_STATUS, p->status);
	if (p->state != SOUK_EVENT_STATE_NONE)
		enc_enum(e, "state", &STATE, p->state);
	enc_opt_str(e, "error", p->error, sizeof(p->error));
	if (p->has_amount)
		enc_int(e, "amount", p->amount);
	enc_str(e, "source_event_id", p->source_event_id, sizeof(p->source_event_id));
}

static void
encode_location(struct enc *e, const souk_event_t *ev)
{
	const souk_event_location_t *l = &ev->location;
	enc_str(e, "driver_id", l->driver_id, sizeof(l->driver_id));
	enc_num(e, "lat", l->lat);
	enc_num(e, "lng", l->lng);
	enc_num(e, "speed_mps", l->speed_mps);
	if (l->has_heading)
		enc_num(e, "heading", l->heading);
	enc_enum(e, "status", &DRIVER_STATUS, l->status);
}

static void
encode_point(struct enc *e, const char *name, const souk_event_point_t *pt)
{
	enc_open(e, name);
	enc_num(e, "lat", pt->lat);
	enc_num(e, "lng", pt->lng);
	enc_close(e);
}

static void
encode_ride_request(struct enc *e, const souk_event_t *ev)
{
	const souk_event_ride_request_t *r = &ev->ride_request;
	enc_str(e, "request_id", r->request_id, sizeof(r->request_id));
	enc_str(e, "rider_id", r->rider_id, sizeof(r->rider_id));
	encode_point(e, "pickup", &r->pickup);
	encode_point(e, "dropoff", &r->dropoff);
}

static void
encode_ride_match(struct enc *e, const souk_event_t *ev)
{
	const souk_event_ride_match_t *m = &ev->ride_match;
	enc_str(e, "request_id", m->request_id, sizeof(m->request_id));
	enc_enum(e, "status", &MATCH_STATUS, m->status);
	if (m->status == SOUK_EVENT_MATCH_MATCHED) {
		enc_str(e, "driver_id", m->driver_id, sizeof(m->driver_id));
		enc_int(e, "eta_s", m->eta_s);
		enc_open(e, "fare");
		enc_int(e, "amount", m->fare.amount);
		enc_str(e, "currency", m->fare.currency, sizeof(m->fare.currency));
		enc_close(e);
		enc_num(e, "surge", m->surge);
	}
	enc_str(e, "source_event_id", m->source_event_id, sizeof(m->source_event_id));
}

static void
encode_ride_event(struct enc *e, const souk_event_t *ev)
{
	const souk_event_ride_event_t *r = &ev->ride_event;
	enc_str(e, "request_id", r->request_id, sizeof(r->request_id));
	enc_enum(e, "action", &RIDE_ACTION, r->action);
	enc_opt_str(e, "driver_id", r->driver_id, sizeof(r->driver_id));
}

static void
encode_surge(struct enc *e, const souk_event_t *ev)
{
	const souk_event_surge_t *s = &ev->surge;
	enc_str(e, "cell", s->cell, sizeof(s->cell));
	enc_num(e, "multiplier", s->multiplier);
	enc_int(e, "demand", s->demand);
	enc_int(e, "supply", s->supply);
	enc_int(e, "window_s", s->window_s);
}

/* ---- the type table --------------------------------------------------------------- */

static const struct type_info {
	const char *name;
	const char *topic;
	const char *key_name;
	size_t key_offset; /* of the key's char array in souk_event_t */
	int (*decode)(const struct dec *d, souk_event_t *ev);
	void (*encode)(struct enc *e, const souk_event_t *ev);
} types[SOUK_EVENT_TYPE_COUNT] = {
    [SOUK_EVENT_TYPE_ORDER] = {"order", "orders", "sku",
			       offsetof(souk_event_t, order.sku), decode_order,
			       encode_order},
    [SOUK_EVENT_TYPE_STOCK_SET] = {"stock_set", "orders", "sku",
				   offsetof(souk_event_t, stock_set.sku),
				   decode_stock_set, encode_stock_set},
    [SOUK_EVENT_TYPE_ORDER_RESULT] = {"order_result", "order-results", "order_id",
				      offsetof(souk_event_t, order_result.order_id),
				      decode_order_result, encode_order_result},
    [SOUK_EVENT_TYPE_PAYMENT] = {"payment", "payments", "payment_id",
				 offsetof(souk_event_t, payment.payment_id),
				 decode_payment, encode_payment},
    [SOUK_EVENT_TYPE_PAYMENT_RESULT] = {"payment_result", "payment-results", "payment_id",
					offsetof(souk_event_t, payment_result.payment_id),
					decode_payment_result, encode_payment_result},
    [SOUK_EVENT_TYPE_LOCATION] = {"location", "locations", "driver_id",
				  offsetof(souk_event_t, location.driver_id),
				  decode_location, encode_location},
    [SOUK_EVENT_TYPE_RIDE_REQUEST] = {"ride_request", "ride-requests", "request_id",
				      offsetof(souk_event_t, ride_request.request_id),
				      decode_ride_request, encode_ride_request},
    [SOUK_EVENT_TYPE_RIDE_MATCH] = {"ride_match", "ride-matches", "request_id",
				    offsetof(souk_event_t, ride_match.request_id),
				    decode_ride_match, encode_ride_match},
    [SOUK_EVENT_TYPE_RIDE_EVENT] = {"ride_event", "ride-events", "request_id",
				    offsetof(souk_event_t, ride_event.request_id),
				    decode_ride_event, encode_ride_event},
    [SOUK_EVENT_TYPE_SURGE] = {"surge", "surge", "cell",
			       offsetof(souk_event_t, surge.cell), decode_surge,
			       encode_surge},
};

static const struct type_info *
type_info(souk_event_type_t type)
{
	return type > SOUK_EVENT_TYPE_NONE && type < SOUK_EVENT_TYPE_COUNT ? &types[type]
									   : NULL;
}

const char *
souk_event_type_name(souk_event_type_t type)
{
	return type_info(type) != NULL ? type_info(type)->name : NULL;
}

souk_event_type_t
souk_event_type_from_name(const char *name)
{
	for (int t = SOUK_EVENT_TYPE_NONE + 1; t < SOUK_EVENT_TYPE_COUNT; t++)
		if (strcmp(name, types[t].name) == 0)
			return (souk_event_type_t)t;
	return SOUK_EVENT_TYPE_NONE;
}

const char *
souk_event_topic(souk_event_type_t type)
{
	return type_info(type) != NULL ? type_info(type)->topic : NULL;
}

const char *
souk_event_key_name(souk_event_type_t type)
{
	return type_info(type) != NULL ? type_info(type)->key_name : NULL;
}

const char *
souk_event_key(const souk_event_t *ev)
{
	if (!ev->key_valid || type_info(ev->type) == NULL)
		return NULL;
	return (const char *)ev + type_info(ev->type)->key_offset;
}

const char *
souk_event_status_name(souk_event_status_t status)
{
	switch (status) {
	case SOUK_EVENT_OK:
		return "ok";
	case SOUK_EVENT_EJSON:
		return "ejson";
	case SOUK_EVENT_EENVELOPE:
		return "eenvelope";
	case SOUK_EVENT_ETYPE:
		return "etype";
	case SOUK_EVENT_EVERSION:
		return "eversion";
	case SOUK_EVENT_EFIELD:
		return "efield";
	}
	return "unknown";
}

/* ---- decode and encode ------------------------------------------------------------ */

/* Checks the envelope of root into ev: its shape first (the same for every type and
 * version), then whether the type and then the version are known. */
static souk_event_status_t
decode_envelope(const souk_json_value_t *root, souk_event_t *ev, souk_event_error_t *err)
{
	struct dec d = {root, "", err};
	const souk_json_value_t *type;
	char desc[DESC_SIZE];

	if (souk_json_type(root) != SOUK_JSON_OBJECT) {
		snprintf(err->message, sizeof(err->message),
			 "event must be an object, got %s",
			 souk_json_type_desc(souk_json_type(root)));
		return SOUK_EVENT_EENVELOPE;
	}
	if (get_str(&d, "event_id", true, &UUID, ev->event_id, sizeof(ev->event_id)) <
		0 ||
	    member(&d, "type", true, &type) < 0)
		return SOUK_EVENT_EENVELOPE;
	const char *name = souk_json_string(type, NULL);
	if (name == NULL) {
		bad(&d, "type", "must be a string, got %s",
		    souk_json_describe(type, desc, sizeof(desc)));
		return SOUK_EVENT_EENVELOPE;
	}
	if (get_int(&d, "version", true, 1, INT32_MAX, &ev->version) < 0 ||
	    get_str(&d, "ts", true, &TS, ev->ts, sizeof(ev->ts)) < 0 ||
	    get_str(&d, "client_id", true, &IDENT, ev->client_id, sizeof(ev->client_id)) <
		0 ||
	    get_str(&d, "idempotency_key", false, &IDEMPOTENCY_KEY, ev->idempotency_key,
		    sizeof(ev->idempotency_key)) < 0)
		return SOUK_EVENT_EENVELOPE;
	ev->type = souk_event_type_from_name(name);
	if (ev->type == SOUK_EVENT_TYPE_NONE) {
		bad(&d, "type", "unknown event type %s",
		    souk_json_describe(type, desc, sizeof(desc)));
		return SOUK_EVENT_ETYPE;
	}
	if (ev->version != SOUK_EVENT_VERSION) {
		bad(&d, "version", "unknown version %lld for type %s",
		    (long long)ev->version, name);
		return SOUK_EVENT_EVERSION;
	}
	return SOUK_EVENT_OK;
}

souk_event_status_t
souk_event_decode(const char *buf, size_t len, souk_event_t *ev, souk_event_error_t *err)
{
	static const souk_json_limits_t limits = {
	    .max_bytes = SOUK_EVENT_MAX_BYTES,
	    .max_depth = SOUK_EVENT_MAX_DEPTH,
	    .max_members = SOUK_EVENT_MAX_MEMBERS,
	};
	souk_json_space_t space; /* holds the tree of any event of usual size */
	souk_json_error_t jerr;
	souk_event_status_t st;

	memset(ev, 0, sizeof(*ev));
	memset(err, 0, sizeof(*err));
	err->offset = -1;
	souk_json_t *doc = souk_json_parse_in(&space, buf, len, &limits, &jerr);
	if (doc == NULL) {
		err->offset = jerr.offset;
		snprintf(err->message, sizeof(err->message), "%s", jerr.message);
		st = SOUK_EVENT_EJSON;
		goto out;
	}
	const souk_json_value_t *root = souk_json_root(doc);
	st = decode_envelope(root, ev, err);
	if (st != SOUK_EVENT_OK)
		goto out;
	struct dec d = {root, "", err};
	if (types[ev->type].decode(&d, ev) < 0)
		st = SOUK_EVENT_EFIELD;
out:
	souk_json_destroy(doc);
	return st;
}

int
souk_event_encode(const souk_event_t *ev, char *buf, size_t size, size_t *len,
		  char *errstr, size_t errstr_size)
{
	const struct type_info *t = type_info(ev->type);
	struct enc e = {.path = ""};
	const unsigned char *out;
	size_t out_len;
	souk_event_t check;
	souk_event_error_t err;
	int rc = -1;

	if (t == NULL) {
		snprintf(errstr, errstr_size, "could not encode event: unknown type %d",
			 ev->type);
		goto out;
	}
	e.g = yajl_gen_alloc(NULL);
	if (e.g == NULL) {
		snprintf(errstr, errstr_size, "could not encode %s event: out of memory",
			 t->name);
		goto out;
	}
	yajl_gen_config(e.g, yajl_gen_validate_utf8, 1);
	enc_fail(&e, "event", yajl_gen_map_open(e.g), NULL);
	enc_str(&e, "event_id", ev->event_id, sizeof(ev->event_id));
	enc_str(&e, "type", t->name, strlen(t->name) + 1);
	enc_int(&e, "version", ev->version);
	enc_str(&e, "ts", ev->ts, sizeof(ev->ts));
	enc_str(&e, "client_id", ev->client_id, sizeof(ev->client_id));
	enc_opt_str(&e, "idempotency_key", ev->idempotency_key,
		    sizeof(ev->idempotency_key));
	t->encode(&e, ev);
	if (e.why == NULL)
		enc_fail(&e, "event", yajl_gen_map_close(e.g), NULL);
	if (e.why != NULL) {
		snprintf(errstr, errstr_size, "could not encode %s event: %s: %s",
			 t->name, e.field, e.why);
		goto out;
	}
	yajl_gen_get_buf(e.g, &out, &out_len);
	if (souk_event_decode((const char *)out, out_len, &check, &err) !=
	    SOUK_EVENT_OK) {
		snprintf(errstr, errstr_size, "could not encode %s event: %s", t->name,
			 err.message);
		goto out;
	}
	if (out_len >= size) {
		snprintf(
		    errstr, errstr_size,
		    "could not encode %s event: %zu bytes do not fit a buffer of %zu",
		    t->name, out_len + 1, size);
		goto out;
	}
	memcpy(buf, out, out_len);
	buf[out_len] = '\0';
	*len = out_len;
	rc = 0;
out:
	if (e.g != NULL)
		yajl_gen_free(e.g);
	return rc;
}

void
souk_event_ts_now(char ts[SOUK_EVENT_TS_SIZE])
{
	struct timespec now;
	struct tm tm;
	char secs[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, SOUK_EVENT_TS_SIZE, "%.19s.%03dZ", secs,
		 (int)(now.tv_nsec / 1000000));
}

int
souk_event_ts_ms(const char *ts, int64_t *ms)
{
	struct tm tm = {0};
	int milli;

	if (!ts_ok(ts, strlen(ts)) ||
	    sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &milli) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ms = (int64_t)timegm(&tm) * 1000 + milli;
	return 0;
}
