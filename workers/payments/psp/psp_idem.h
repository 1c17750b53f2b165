/* psp_idem: the provider's idempotency keys, as Stripe keeps them.
 *
 * A key is claimed by the first request that uses it and holds, once that request
 * executed, its answer (status and body) and the request's fingerprint
 * (psp_request_fingerprint). A later request under the key then gets:
 *
 *   same fingerprint, answer stored      the stored answer again (a replay)
 *   same fingerprint, still executing    PSP_IDEM_IN_PROGRESS
 *   another fingerprint                  PSP_IDEM_REUSED, whatever the key's state
 *
 * A request abandoned before it had any effect (an injected 500, a client gone before
 * it ran) releases its claim:
 * the key is then free for any request, as if never used, except that the next claim
 * learns how many attempts came before (the fault draws depend on it, so a retry is
 * not doomed to the same fault).
 *
 * Keys are kept for the life of the process (and across restarts through the
 * journal, see psp_service). Thread-safe: one mutex, held for O(1) map work and the
 * copy of one answer. */
#ifndef PSP_IDEM_H
#define PSP_IDEM_H

#include <stddef.h>

#include "psp_request.h"

enum psp_idem_rc {
	PSP_IDEM_NEW,	      /* claimed: execute, then psp_idem_finish or _abandon */
	PSP_IDEM_REPLAY,      /* *answer is the stored one */
	PSP_IDEM_IN_PROGRESS, /* another request under the key is executing */
	PSP_IDEM_REUSED,      /* the key was used with other parameters */
	PSP_IDEM_UNKNOWN,     /* psp_idem_lookup: the key holds no answer */
	PSP_IDEM_ERROR,	      /* out of memory */
};

/* A stored answer; body is malloc'd JSON, NUL-terminated. */
struct psp_idem_answer {
	int status;
	char *body;
	size_t len;
};

struct psp_idem;

/* NULL when out of memory. */
struct psp_idem *psp_idem_new(void);
/* Frees every key and answer; NULL is fine. */
void psp_idem_destroy(struct psp_idem *idem);

/* Claims key for a request with fingerprint. PSP_IDEM_NEW sets *attempt to the number
 * of abandoned claims before this one; PSP_IDEM_REPLAY fills *answer with a copy that
 * the caller frees (answer->body). */
enum psp_idem_rc psp_idem_begin(struct psp_idem *idem, const char *key,
				const char *fingerprint, unsigned *attempt,
				struct psp_idem_answer *answer);

/* Stores the answer of the claimed key; ownership of answer->body moves to idem.
 * Cannot fail, so an applied effect always gets its answer stored. */
void psp_idem_finish(struct psp_idem *idem, const char *key,
		     struct psp_idem_answer *answer);

/* Releases the claim on key: the request had no effect. */
void psp_idem_abandon(struct psp_idem *idem, const char *key);

/* Stores key with its fingerprint and answer (copied) as a finished request: how a
 * journal is replayed at start. Returns 0, or -1 when out of memory or when key is
 * already stored (errstr says which). */
int psp_idem_restore(struct psp_idem *idem, const char *key, const char *fingerprint,
		     const struct psp_idem_answer *answer, char *errstr,
		     size_t errstr_size);

/* What key holds: PSP_IDEM_REPLAY with a copy in *answer (the caller frees
 * answer->body), PSP_IDEM_IN_PROGRESS, PSP_IDEM_UNKNOWN (never used, or only by
 * abandoned requests), or PSP_IDEM_ERROR. */
enum psp_idem_rc psp_idem_lookup(struct psp_idem *idem, const char *key,
				 struct psp_idem_answer *answer);

#endif
