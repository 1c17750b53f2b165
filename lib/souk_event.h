/*
 * souk_event: decode, validate and encode every souk event (JSON over Kafka).
 *
 * The rules here are the ones in schemas/events/<type>.json; tests/vectors/events.json
 * is checked against both (tests/unit/test_souk_event.c and test_schema_drift.py), so
 * change the three together.
 *
 * Every event is one JSON object holding the envelope and, next to it, the body fields
 * of its type:
 *   event_id         lower-case UUID, 8-4-4-4-12 hex digits            required
 *   type             one of the type names below                        required
 *   version          integer; 1 is the only version known for any type  required
 *   ts               UTC with milliseconds, YYYY-MM-DDTHH:MM:SS.mmmZ     required
 *   client_id        identifier                                         required
 *   idempotency_key  1..255 printable ASCII bytes (0x20-0x7e)           optional
 *                    (required on payment and payment_result)
 * An identifier matches ^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$.
 *
 * Tolerant reader: members not named by the rules are ignored, so an additive change
 * keeps the version; a breaking change is a new version, and an unknown version is
 * refused (SOUK_EVENT_EVERSION) for the DLQ. A member given as null is present with
 * the wrong type, not absent. Integer fields accept any integral number (1, 1.0, 1e0),
 * as JSON Schema does.
 */
#ifndef SOUK_EVENT_H
#define SOUK_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOUK_EVENT_MAX_BYTES 65536 /* a longer event is refused unparsed */
#define SOUK_EVENT_MAX_DEPTH 8	   /* nesting of objects and arrays, top level is 1 */
#define SOUK_EVENT_MAX_MEMBERS 256 /* per object or array, known or not */
#define SOUK_EVENT_VERSION 1	   /* the version encoders write for every type */

#define SOUK_EVENT_IDENT_MAX 64
#define SOUK_EVENT_IDEMPOTENCY_KEY_MAX 255
/* Buffer sizes, terminating NUL included. */
#define SOUK_EVENT_IDENT_SIZE (SOUK_EVENT_IDENT_MAX + 1)
#define SOUK_EVENT_UUID_SIZE 37 /* 36 characters */
#define SOUK_EVENT_TS_SIZE 25	/* 24 characters */
#define SOUK_EVENT_IDEMPOTENCY_KEY_SIZE (SOUK_EVENT_IDEMPOTENCY_KEY_MAX + 1)
#define SOUK_EVENT_CURRENCY_SIZE 4 /* ISO 4217 alphabetic code */
#define SOUK_EVENT_CELL_SIZE 16	   /* H3 index, 15 lower-case hex digits */

typedef enum souk_event_type {
	SOUK_EVENT_TYPE_NONE, /* what a zeroed event holds; never decoded */
	SOUK_EVENT_TYPE_ORDER,
	SOUK_EVENT_TYPE_STOCK_SET,
	SOUK_EVENT_TYPE_ORDER_RESULT,
	SOUK_EVENT_TYPE_PAYMENT,
	SOUK_EVENT_TYPE_PAYMENT_RESULT,
	SOUK_EVENT_TYPE_LOCATION,
	SOUK_EVENT_TYPE_RIDE_REQUEST,
	SOUK_EVENT_TYPE_RIDE_MATCH,
	SOUK_EVENT_TYPE_RIDE_EVENT,
	SOUK_EVENT_TYPE_SURGE,
	SOUK_EVENT_TYPE_COUNT
} souk_event_type_t;

/* The enumerations below list their JSON spellings; "NONE" members stand for an
 * absent optional field and are never written. */
typedef enum souk_event_order_status {
	SOUK_EVENT_ORDER_ACCEPTED, /* "accepted" */
	SOUK_EVENT_ORDER_REJECTED, /* "rejected" */
} souk_event_order_status_t;

typedef enum souk_event_reason {
	SOUK_EVENT_REASON_NONE,
	SOUK_EVENT_REASON_SOLD_OUT,	  /* "sold_out" */
	SOUK_EVENT_REASON_LIMIT_EXCEEDED, /* "limit_exceeded" */
	SOUK_EVENT_REASON_INVALID,	  /* "invalid" */
} souk_event_reason_t;

typedef enum souk_event_command {
	SOUK_EVENT_COMMAND_CREATE,    /* "create" */
	SOUK_EVENT_COMMAND_AUTHORIZE, /* "authorize" */
	SOUK_EVENT_COMMAND_CAPTURE,   /* "capture" */
	SOUK_EVENT_COMMAND_VOID,      /* "void" */
	SOUK_EVENT_COMMAND_REFUND,    /* "refund" */
	SOUK_EVENT_COMMAND_SETTLE,    /* "settle" */
} souk_event_command_t;

typedef enum souk_event_payment_status {
	SOUK_EVENT_PAYMENT_OK,	  /* "ok" */
	SOUK_EVENT_PAYMENT_ERROR, /* "error" */
} souk_event_payment_status_t;

typedef enum souk_event_payment_state {
	SOUK_EVENT_STATE_NONE,
	SOUK_EVENT_STATE_CREATED,    /* "created" */
	SOUK_EVENT_STATE_AUTHORIZED, /* "authorized" */
	SOUK_EVENT_STATE_CAPTURED,   /* "captured" */
	SOUK_EVENT_STATE_SETTLED,    /* "settled" */
	SOUK_EVENT_STATE_DECLINED,   /* "declined" */
	SOUK_EVENT_STATE_VOIDED,     /* "voided" */
	SOUK_EVENT_STATE_REFUNDED,   /* "refunded" */
} souk_event_payment_state_t;

typedef enum souk_event_driver_status {
	SOUK_EVENT_DRIVER_AVAILABLE, /* "available" */
	SOUK_EVENT_DRIVER_BUSY,	     /* "busy" */
	SOUK_EVENT_DRIVER_OFFLINE,   /* "offline" */
} souk_event_driver_status_t;

typedef enum souk_event_match_status {
	SOUK_EVENT_MATCH_MATCHED,   /* "matched" */
	SOUK_EVENT_MATCH_NO_DRIVER, /* "no_driver" */
} souk_event_match_status_t;

typedef enum souk_event_ride_action {
	SOUK_EVENT_RIDE_ACCEPT,	  /* "accept" */
	SOUK_EVENT_RIDE_DECLINE,  /* "decline" */
	SOUK_EVENT_RIDE_START,	  /* "start" */
	SOUK_EVENT_RIDE_COMPLETE, /* "complete" */
	SOUK_EVENT_RIDE_CANCEL,	  /* "cancel" */
} souk_event_ride_action_t;

/* In the structs below an optional string is "" when absent (none may be empty when
 * present) and an optional number has a has_ flag. */

/* order -> topic orders, key sku. All required. */
typedef struct souk_event_order {
	char order_id[SOUK_EVENT_IDENT_SIZE];
	char user_id[SOUK_EVENT_IDENT_SIZE];
	char sku[SOUK_EVENT_IDENT_SIZE];
	int64_t qty; /* 1..1000 */
} souk_event_order_t;

/* stock_set (admin restock or limit change) -> topic orders, key sku. */
typedef struct souk_event_stock_set {
	char sku[SOUK_EVENT_IDENT_SIZE];
	int64_t stock; /* 0..100000000 */
	bool has_limit_per_user;
	int64_t limit_per_user; /* 1..1000000, optional */
} souk_event_stock_set_t;

/* order_result -> topic order-results, key order_id. sku, user_id and qty are required,
 * except on "rejected: invalid", which carries those of the order that were valid. */
typedef struct souk_event_order_result {
	char order_id[SOUK_EVENT_IDENT_SIZE];
	char sku[SOUK_EVENT_IDENT_SIZE];
	char user_id[SOUK_EVENT_IDENT_SIZE];
	bool has_qty;
	int64_t qty; /* 1..1000 */
	souk_event_order_status_t status;
	souk_event_reason_t reason; /* required when rejected, absent when accepted */
	char source_event_id[SOUK_EVENT_UUID_SIZE];
} souk_event_order_result_t;

/* payment (a command) -> topic payments, key payment_id; the envelope's
 * idempotency_key is required. */
typedef struct souk_event_payment {
	souk_event_command_t command;
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	/* amount (minor units, 0..1000000000000) and currency come together; both are
	 * required for create, capture and refund, optional otherwise. */
	bool has_amount;
	int64_t amount;
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	char refund_id[SOUK_EVENT_IDENT_SIZE]; /* required for refund, optional otherwise
						*/
} souk_event_payment_t;

/* payment_result -> topic payment-results, key payment_id; the envelope's
 * idempotency_key is required. */
typedef struct souk_event_payment_result {
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	souk_event_command_t command;
	souk_event_payment_status_t status;
	souk_event_payment_state_t state; /* required when ok, optional on error */
	/* required when error, absent when ok: a code matching ^[a-z][a-z0-9_]{0,63}$,
	 * e.g. illegal_transition, idempotency_key_reused */
	char error[SOUK_EVENT_IDENT_SIZE];
	bool has_amount;
	int64_t amount; /* 0..1000000000000, optional */
	char source_event_id[SOUK_EVENT_UUID_SIZE];
} souk_event_payment_result_t;

/* location -> topic locations, key driver_id. */
typedef struct souk_event_location {
	char driver_id[SOUK_EVENT_IDENT_SIZE];
	double lat;	  /* -90..90 */
	double lng;	  /* -180..180 */
	double speed_mps; /* 0..100 */
	bool has_heading;
	double heading; /* 0..360, optional */
	souk_event_driver_status_t status;
} souk_event_location_t;

typedef struct souk_event_point {
	double lat; /* -90..90 */
	double lng; /* -180..180 */
} souk_event_point_t;

/* ride_request -> topic ride-requests, key request_id. */
typedef struct souk_event_ride_request {
	char request_id[SOUK_EVENT_IDENT_SIZE];
	char rider_id[SOUK_EVENT_IDENT_SIZE];
	souk_event_point_t pickup;
	souk_event_point_t dropoff;
} souk_event_ride_request_t;

/* ride_match -> topic ride-matches, key request_id. driver_id, eta_s, fare and surge
 * are required when matched and absent when no_driver. */
typedef struct souk_event_ride_match {
	char request_id[SOUK_EVENT_IDENT_SIZE];
	souk_event_match_status_t status;
	char driver_id[SOUK_EVENT_IDENT_SIZE];
	int64_t eta_s; /* 0..86400 */
	struct {
		int64_t amount; /* minor units, 0..1000000000000 */
		char currency[SOUK_EVENT_CURRENCY_SIZE];
	} fare;
	double surge; /* 1..10 */
	char source_event_id[SOUK_EVENT_UUID_SIZE];
} souk_event_ride_match_t;

/* ride_event -> topic ride-events, key request_id. */
typedef struct souk_event_ride_event {
	char request_id[SOUK_EVENT_IDENT_SIZE];
	souk_event_ride_action_t action;
	char driver_id[SOUK_EVENT_IDENT_SIZE]; /* required unless action is cancel */
} souk_event_ride_event_t;

/* surge -> topic surge, key cell. */
typedef struct souk_event_surge {
	char cell[SOUK_EVENT_CELL_SIZE]; /* H3 index, ^[0-9a-f]{15}$ */
	double multiplier;		 /* 1..10 */
	int64_t demand;			 /* 0..1000000000 */
	int64_t supply;			 /* 0..1000000000 */
	int64_t window_s;		 /* 1..3600 */
} souk_event_surge_t;

/*
 * A decoded event: plain data, no pointers, so it can live on the stack and be
 * copied. Decoding zeroes it first, so two events decoded from equal content compare
 * equal with memcmp.
 */
typedef struct souk_event {
	char event_id[SOUK_EVENT_UUID_SIZE];
	souk_event_type_t type;
	int64_t version;
	char ts[SOUK_EVENT_TS_SIZE];
	char client_id[SOUK_EVENT_IDENT_SIZE];
	char idempotency_key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE]; /* "" when absent */
	/* Whether the partition key (souk_event_key_name) decoded: true on success;
	 * on SOUK_EVENT_EFIELD it says whether a result can still be addressed. */
	bool key_valid;
	union {
		souk_event_order_t order;
		souk_event_stock_set_t stock_set;
		souk_event_order_result_t order_result;
		souk_event_payment_t payment;
		souk_event_payment_result_t payment_result;
		souk_event_location_t location;
		souk_event_ride_request_t ride_request;
		souk_event_ride_match_t ride_match;
		souk_event_ride_event_t ride_event;
		souk_event_surge_t surge;
	};
} souk_event_t;

/* What a worker does with an event follows from the status. */
typedef enum souk_event_status {
	SOUK_EVENT_OK,
	SOUK_EVENT_EJSON,     /* not JSON, over a limit, bad UTF-8, trailing bytes: DLQ */
	SOUK_EVENT_EENVELOPE, /* not an object, or an envelope field missing or wrong: DLQ
			       */
	SOUK_EVENT_ETYPE,     /* type names no known event: DLQ */
	SOUK_EVENT_EVERSION,  /* version unknown for the type: DLQ */
	SOUK_EVENT_EFIELD,    /* a body field breaks a rule: answer "rejected: invalid";
			       * the envelope is decoded and key_valid is meaningful */
} souk_event_status_t;

typedef struct souk_event_error {
	char field[64]; /* path of the offending field, like "pickup.lat"; "" if none */
	/* byte offset of the problem for SOUK_EVENT_EJSON, -1 when it has none (input
	 * too large or empty) and for every other status */
	long offset;
	/* e.g. "qty: must be an integer between 1 and 1000, got 0"; starts with the
	 * field when there is one */
	char message[256];
} souk_event_error_t;

/*
 * Decodes and validates buf[0..len) (no NUL needed) into *ev, which is zeroed first.
 * On error *err says why and *ev holds whatever decoded before the failure: the whole
 * envelope for SOUK_EVENT_EFIELD. Cost: O(len), one parse into a souk_json tree built
 * in SOUK_JSON_SPACE_SIZE (4 KB) of stack, so an event of usual size costs no malloc;
 * fields are looked up by name, O(members) each. Keeps no state: safe to call from
 * several threads at once.
 */
souk_event_status_t souk_event_decode(const char *buf, size_t len, souk_event_t *ev,
				      souk_event_error_t *err);

/* The status as a short lower-case word ("ok", "ejson", "eenvelope", "etype",
 * "eversion", "efield"), for logs and DLQ headers. */
const char *souk_event_status_name(souk_event_status_t status);

/*
 * Writes *ev as compact JSON (envelope first, then body fields, absent optional
 * fields left out) into buf: *len bytes followed by a NUL, so size must exceed the
 * encoded length; SOUK_EVENT_MAX_BYTES + 1 is always enough. The output is decoded
 * again before returning, so an event that breaks a rule is refused with the same
 * message decode would give and nothing is written. Decoding the output yields an
 * event equal (memcmp) to a decoded *ev. Returns 0, or -1 with errstr filled.
 * Cost: O(output), twice.
 */
int souk_event_encode(const souk_event_t *ev, char *buf, size_t size, size_t *len,
		      char *errstr, size_t errstr_size);

/* "order", "stock_set", ... or NULL for a type out of range. */
const char *souk_event_type_name(souk_event_type_t type);
/* SOUK_EVENT_TYPE_NONE for an unknown name. O(types). */
souk_event_type_t souk_event_type_from_name(const char *name);
/* The topic the type is published to ("orders", "order-results", ...), NULL if out of
 * range. */
const char *souk_event_topic(souk_event_type_t type);
/* The name of the body field whose value is the partition key ("sku", ...). */
const char *souk_event_key_name(souk_event_type_t type);
/* The partition key of a decoded event, pointing into *ev; NULL unless key_valid. */
const char *souk_event_key(const souk_event_t *ev);

/* Minor-unit exponent of an ISO 4217 code souk accepts (USD 2, JPY 0, KWD 3, ...),
 * -1 for any other string. O(codes). */
int souk_event_currency_exponent(const char *code);
/* The i-th accepted currency code, NULL past the end: for listing them. */
const char *souk_event_currency_code(size_t i);

/* Now, as an envelope's ts: UTC with milliseconds. */
void souk_event_ts_now(char ts[SOUK_EVENT_TS_SIZE]);
/* *ms = the milliseconds since the epoch that ts (a valid envelope ts) stands for.
 * Returns 0, or -1 when ts is not valid (*ms untouched). */
int souk_event_ts_ms(const char *ts, int64_t *ms);

/* The envelope's string rules, for the gateway. s is NUL-terminated. */
bool souk_event_uuid_valid(const char *s);
bool souk_event_ts_valid(const char *s);
bool souk_event_identifier_valid(const char *s);
bool souk_event_idempotency_key_valid(const char *s);

#endif
