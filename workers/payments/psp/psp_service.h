/* psp_service: what the payment provider does, without HTTP: it owns the ledger, the
 * idempotency keys and the journal, draws the faults, and writes every answer.
 *
 * An operation runs in two steps, so that the server can put its delays between and
 * after them without holding a thread:
 *
 *   psp_service_begin     claims the Idempotency-Key, or answers at once (a replay,
 *                         422 idempotency_key_reused, 409 in_progress)
 *   (psp.latency)
 *   psp_service_execute   an injected error (500, no effect, claim released), or:
 *                         check against the ledger, journal the answer with its effect
 *                         (fsync), apply it, store the answer under the key
 *   (psp.timeout_delay when the timeout fault hit: the effect is already recorded)
 *
 * Faults are drawn from a hash of psp.seed, the fault's name, the key and how many
 * attempts under that key were abandoned before: the same requests get the same faults
 * in any interleaving, and a retry after an injected 500 draws again.
 *
 * Answers are JSON (the report excepted), {"error": "...", "code": "..."} for errors
 * (plus "field" for invalid_request). Thread-safe: one mutex serializes the ledger and
 * the journal (an operation holds it through its fsync); psp_idem has its own. */
#ifndef PSP_SERVICE_H
#define PSP_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psp_request.h"

struct psp_service_conf {
	const char *journal; /* file path; NULL keeps nothing across restarts */
	uint64_t seed;
	double decline_rate, error_rate, timeout_rate; /* each 0..1 */
	int64_t settle_delay_ms; /* capture or refund -> settlement */
};

/* How an operation ended, for the metrics. */
enum psp_outcome {
	PSP_OUTCOME_APPLIED,
	PSP_OUTCOME_DECLINED,
	PSP_OUTCOME_REPLAYED,
	PSP_OUTCOME_ILLEGAL_STATE,
	PSP_OUTCOME_NOT_FOUND,
	PSP_OUTCOME_KEY_REUSED,
	PSP_OUTCOME_IN_PROGRESS,
	PSP_OUTCOME_INVALID,
	PSP_OUTCOME_PROVIDER_ERROR, /* the injected 500 */
	PSP_OUTCOME_INTERNAL_ERROR, /* the journal could not be written, out of memory */
	PSP_OUTCOME_COUNT
};

/* An HTTP answer. */
struct psp_answer {
	int status;
	const char *content_type; /* a static string */
	char *body; /* malloc'd; NULL only when out of memory (then a 500) */
	size_t len;
	bool replayed;		  /* send Idempotent-Replayed: true */
	enum psp_outcome outcome; /* operations only */
};

/* What begin drew for a request that claimed its key. */
struct psp_ticket {
	unsigned attempt; /* abandoned attempts under the key before this one */
	bool error;	  /* answer 500 and apply nothing */
	bool timeout;	  /* apply, then answer psp.timeout_delay late */
	bool decline;	  /* an authorization is declined */
};

struct psp_service;

/* Opens (creates) the journal and replays it. NULL with errstr filled when it cannot
 * be read or holds a line that does not fit the ledger (errstr names the line). */
struct psp_service *psp_service_new(const struct psp_service_conf *conf, char *errstr,
				    size_t errstr_size);
void psp_service_destroy(struct psp_service *svc);

/* "applied", "declined", ...; NULL out of range. */
const char *psp_service_outcome_name(enum psp_outcome outcome);

/* Frees a->body; the answer may be filled again. */
void psp_service_answer_clear(struct psp_answer *a);

/* Fills *a with status and {"error": message, "code": code}. */
void psp_service_error(struct psp_answer *a, int status, const char *code,
		       const char *message);
/* 400 invalid_request naming err's field. */
void psp_service_invalid(struct psp_answer *a, const struct psp_request_error *err);

/* Step one of an operation. Returns true when req claimed its key (*ticket filled;
 * psp_service_execute must follow), false with *a filled. */
bool psp_service_begin(struct psp_service *svc, const struct psp_request *req,
		       struct psp_ticket *ticket, struct psp_answer *a);
/* Step two, for a claimed key: fills *a. */
void psp_service_execute(struct psp_service *svc, const struct psp_request *req,
			 const struct psp_ticket *ticket, struct psp_answer *a);

/* Instead of step two, for a claimed key whose request will not execute (its client
 * went away first): releases the claim, as an injected error does (nothing applied;
 * the key is free again). */
void psp_service_abandon(struct psp_service *svc, const struct psp_request *req);

/* GET /v1/operations/{key}: 200 {"key", "status", "body"} with the stored answer, 409
 * in_progress while it executes, 404 unknown_key when nothing was applied under it. */
void psp_service_lookup(struct psp_service *svc, const char *key, struct psp_answer *a);
/* GET /v1/ledger/{payment_id}: 200 {"payment_id", "operations": [...]} in the order
 * applied (empty when none). */
void psp_service_ledger(struct psp_service *svc, const char *payment_id,
			struct psp_answer *a);
/* GET /v1/operations?since=&after=&limit=: every operation applied, in the order
 * applied, a page at a time (psp_ledger_list): 200 {"operations": [{"seq",
 * "payment_id", "type", "provider_ref", "status", "amount", "currency", ("refund_id",) "key",
 * "at"(, "settled_at")}], "next_after": n, "more": bool}. seq numbers the operations
 * 1, 2, ... for good (a journal replays them in order); pass next_after as after for
 * the next page while more is true. since (a time like 2026-11-27T10:00:00.000Z or unix
 * milliseconds) leaves out operations applied before it; limit is 1 to
 * PSP_SERVICE_LIST_MAX (default PSP_SERVICE_LIST_DEFAULT). Each argument may be NULL
 * (absent); a malformed one is answered 400 naming it. */
#define PSP_SERVICE_LIST_DEFAULT 1000
#define PSP_SERVICE_LIST_MAX 10000
void psp_service_operations(struct psp_service *svc, const char *since, const char *after,
			    const char *limit, struct psp_answer *a);
/* GET /v1/reports/settlement?date=: 200 text/csv (see psp_report.h), 400 when date
 * (NULL when absent) is not a calendar date. */
void psp_service_report(struct psp_service *svc, const char *date, struct psp_answer *a);
/* The test hooks, journaled like operations: POST /v1/test/drop/{ref} (no body) and
 * /v1/test/amount/{ref} {"amount": n}. 200, 400, 404 or 409. */
void psp_service_drop(struct psp_service *svc, const char *provider_ref,
		      struct psp_answer *a);
void psp_service_misreport(struct psp_service *svc, const char *provider_ref,
			   const char *body, size_t len, struct psp_answer *a);

#endif
