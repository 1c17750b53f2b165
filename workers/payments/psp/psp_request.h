/* psp_request: the body and headers of one payment operation, validated.
 *
 *   authorize  POST /v1/payments/authorize       {"payment_id", "amount", "currency"}
 *   capture    POST /v1/payments/{ref}/capture   {"amount"}
 *   void       POST /v1/payments/{ref}/void      empty body or {}
 *   refund     POST /v1/payments/{ref}/refund    {"amount", "refund_id"}
 *
 * each with the header Idempotency-Key (1 to 255 printable ASCII characters). Every
 * field is required; any other field is refused, so a typo is not silently ignored.
 * payment_id and refund_id are identifiers (^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$),
 * amount an integer in minor units from 1 to 10^12, currency an ISO 4217 code souk
 * accepts. Whether the operation is legal for the payment is psp_ledger's question.
 *
 * Pure functions: no state, safe from any thread. */
#ifndef PSP_REQUEST_H
#define PSP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "souk_event.h"

enum psp_op_type {
	PSP_OP_AUTHORIZE,
	PSP_OP_CAPTURE,
	PSP_OP_VOID,
	PSP_OP_REFUND,
	PSP_OP_COUNT
};

/* "psp_" and 32 hex digits, NUL included. */
#define PSP_REF_SIZE 37
/* Room for any fingerprint psp_request_fingerprint writes. */
#define PSP_FINGERPRINT_SIZE 256
#define PSP_AMOUNT_MAX INT64_C(1000000000000)

struct psp_request {
	enum psp_op_type type;
	char key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE];
	char provider_ref[PSP_REF_SIZE];	 /* "" for authorize */
	char payment_id[SOUK_EVENT_IDENT_SIZE];	 /* authorize only */
	char currency[SOUK_EVENT_CURRENCY_SIZE]; /* authorize only */
	int64_t amount;				 /* 0 for void */
	char refund_id[SOUK_EVENT_IDENT_SIZE];	 /* refund only */
};

struct psp_request_error {
	char
	    field[64]; /* "amount", "Idempotency-Key", ...; "" when the body as a whole */
	char message[256]; /* starts with the field when there is one */
};

/* "authorize", "capture", "void", "refund"; NULL out of range. */
const char *psp_request_type_name(enum psp_op_type type);
/* Returns 0 with *type set, or -1 for any other name. */
int psp_request_type_from_name(const char *name, enum psp_op_type *type);

/* True when ref has the form of a provider reference; a path naming anything else
 * cannot match a payment. */
bool psp_request_ref_valid(const char *ref);

/* Validates an operation of type on provider_ref (NULL for authorize) with the
 * Idempotency-Key header key (NULL when absent) and the body buf[0..len) into *req,
 * zeroed first. Returns 0, or -1 with *err naming the field. Cost: O(len). */
int psp_request_parse(enum psp_op_type type, const char *provider_ref, const char *key,
		      const char *buf, size_t len, struct psp_request *req,
		      struct psp_request_error *err);

/* What makes two requests under one key "the same": the operation, the payment and
 * every parameter, whatever the body's spacing or member order. Written to out
 * (PSP_FINGERPRINT_SIZE bytes), e.g. "refund psp_... amount=500 refund_id=r1". */
void psp_request_fingerprint(const struct psp_request *req,
			     char out[PSP_FINGERPRINT_SIZE]);

#endif
