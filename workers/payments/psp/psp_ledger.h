/* psp_ledger: the simulator's book: every payment it authorized and every operation
 * applied to it, with the rules an acquirer enforces.
 *
 *   authorize  -> authorized, or declined (the caller draws the decline)
 *   capture    authorized -> captured, once, 1 <= amount <= authorized (a partial
 *              capture releases the rest)
 *   void       authorized -> voided
 *   refund     captured or partially_refunded -> partially_refunded, or refunded once
 *              the refunds add up to the captured amount; never more
 *
 * Checking and applying are separate steps so that the caller can journal an
 * operation between them: psp_ledger_check decides, psp_ledger_apply records (and
 * checks the same rules again, which is how a replayed journal is verified).
 *
 * Not thread-safe: psp_service holds one mutex around it. Memory: about 700 bytes per
 * operation, kept for the life of the process. */
#ifndef PSP_LEDGER_H
#define PSP_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psp_report.h"
#include "psp_request.h"

enum psp_state {
	PSP_STATE_AUTHORIZED,
	PSP_STATE_DECLINED,
	PSP_STATE_CAPTURED,
	PSP_STATE_VOIDED,
	PSP_STATE_PARTIALLY_REFUNDED,
	PSP_STATE_REFUNDED,
	PSP_STATE_COUNT
};

/* One applied operation. */
struct psp_op {
	enum psp_op_type type;
	enum psp_state state; /* the payment's state once the operation applied */
	char provider_ref[PSP_REF_SIZE];
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	int64_t amount; /* void: the authorized amount released */
	int64_t
	    refunded_total; /* refund: the payment's refunds so far, this one included */
	char key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE];
	char refund_id[SOUK_EVENT_IDENT_SIZE]; /* refund only */
	int64_t at_ms;			       /* unix milliseconds */
};

enum psp_ledger_rc {
	PSP_LEDGER_OK,
	PSP_LEDGER_NOT_FOUND, /* no payment has that provider_ref */
	PSP_LEDGER_ILLEGAL,   /* the payment's state or amounts forbid it */
};

struct psp_ledger;

/* NULL when out of memory. */
struct psp_ledger *psp_ledger_new(void);
void psp_ledger_destroy(struct psp_ledger *l);

/* "authorized", "declined", "captured", "voided", "partially_refunded", "refunded";
 * NULL out of range. */
const char *psp_ledger_state_name(enum psp_state state);
/* Returns 0 with *state set, or -1 for any other name. */
int psp_ledger_state_from_name(const char *name, enum psp_state *state);

/* The provider_ref an authorization under key gets: "psp_" and 32 hex digits derived
 * from the key, so the same key names the same payment before and after a restart. */
void psp_ledger_ref(const char *key, char out[PSP_REF_SIZE]);

/* Decides *req at now_ms; decline says whether an authorization is declined. Returns
 * PSP_LEDGER_OK with *op filled (nothing changes until psp_ledger_apply), or another
 * code with msg saying why, e.g. "cannot capture 2500: only 1999 authorized". */
enum psp_ledger_rc psp_ledger_check(const struct psp_ledger *l,
				    const struct psp_request *req, bool decline,
				    int64_t now_ms, struct psp_op *op, char *msg,
				    size_t msg_size);

/* Records *op (copied). Returns 0, or -1 with errstr filled when op breaks the rules
 * (an inconsistent journal) or memory runs out; the ledger is then unchanged. */
int psp_ledger_apply(struct psp_ledger *l, const struct psp_op *op, char *errstr,
		     size_t errstr_size);

/* Test hooks for the reconciliation: leave the payment's capture out of the report,
 * or report it with amount instead of what was captured. PSP_LEDGER_OK when
 * provider_ref names a payment with a capture, which the hooks require. */
enum psp_ledger_rc psp_ledger_reportable(const struct psp_ledger *l,
					 const char *provider_ref, char *msg,
					 size_t msg_size);
void psp_ledger_drop(struct psp_ledger *l, const char *provider_ref);
void psp_ledger_misreport(struct psp_ledger *l, const char *provider_ref, int64_t amount);

/* Calls cb with each operation on payment_id in the order applied (all its
 * authorizations). Returns how many. Cost: O(its operations). */
typedef void psp_ledger_op_cb(const struct psp_op *op, void *opaque);
size_t psp_ledger_ops(const struct psp_ledger *l, const char *payment_id,
		      psp_ledger_op_cb *cb, void *opaque);

/* Calls cb with the operations applied after the one numbered after (0: from the
 * first; operations are numbered 1, 2, ... in the order applied, which a journal
 * replays, so a number names the same operation after a restart) and at since_ms or
 * later, at most limit of them, in that order. *last gets the number of the last
 * operation looked at (after itself when none was), the cursor of the next page, and
 * *more whether operations remain past it. Returns how many cb got. Cost: O(operations
 * looked at), at most the ledger's operations after `after`; *more may be true when
 * all that remain are before since_ms (the next page is then empty). */
typedef void psp_ledger_list_cb(uint64_t seq, const struct psp_op *op, void *opaque);
size_t psp_ledger_list(const struct psp_ledger *l, uint64_t after, int64_t since_ms,
		       size_t limit, psp_ledger_list_cb *cb, void *opaque, uint64_t *last,
		       bool *more);

/* Every capture and refund as the report shows it: settled settle_delay_ms after it
 * applied, test hooks honoured. *rows is malloc'd (NULL when *n is 0) and the
 * caller's. Returns 0, or -1 when out of memory. Cost: O(operations). */
int psp_ledger_settlements(const struct psp_ledger *l, int64_t settle_delay_ms,
			   struct psp_settlement **rows, size_t *n);

#endif
