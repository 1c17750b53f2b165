/* psp_record: the journal's lines, one JSON object each.
 *
 * An answer stored under an idempotency key, with the operation it applied if any
 * (a 404 or 409 answer applied none):
 *
 *   {"key":"k1","request":"capture psp_... amount=1999","status":200,
 *    "op":{"type":"capture","state":"captured","provider_ref":"psp_...",
 *          "payment_id":"p1","currency":"EUR","amount":1999,"refunded_total":0,
 *          "refund_id":"","at":1795000000000},
 *    "body":{...the answer, byte for byte...}}
 *
 * A test hook: {"hook":"drop","provider_ref":"psp_..."} or
 * {"hook":"misreport","provider_ref":"psp_...","amount":1}.
 *
 * Pure functions: no state, safe from any thread. */
#ifndef PSP_RECORD_H
#define PSP_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "psp_ledger.h"

enum psp_record_kind {
	PSP_RECORD_ANSWER,
	PSP_RECORD_DROP,
	PSP_RECORD_MISREPORT,
};

struct psp_record {
	enum psp_record_kind kind;
	/* PSP_RECORD_ANSWER */
	char key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE];
	char fingerprint[PSP_FINGERPRINT_SIZE];
	int status;
	const char
	    *body; /* a JSON object without newlines; decoded: points into the line */
	size_t body_len;
	bool has_op;
	/* the operation applied; for the hooks only provider_ref (and the misreported
	 * amount) */
	struct psp_op op;
};

/* Writes *r as one line without its newline into *line (malloc'd, NUL-terminated, the
 * caller's). Returns 0, or -1 when out of memory. */
int psp_record_encode(const struct psp_record *r, char **line, size_t *len);

/* Reads line[0..len) into *r (zeroed first; r->body points into line). Returns 0, or
 * -1 with errstr naming what is wrong. */
int psp_record_decode(const char *line, size_t len, struct psp_record *r, char *errstr,
		      size_t errstr_size);

#endif
