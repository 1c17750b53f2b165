/*
 * pay_idem: the payments pool's idempotency keys, Stripe-like, as pure functions (no
 * server, no clock). The rows live in idempotency_keys (schemas/sql/003_payments.sql).
 *
 * A key is the envelope's idempotency_key, scoped by the client that sent it: the same
 * text from two clients is two keys. The first command under a key owns it; the key
 * stores a hash of that command's parameters (pay_idem_hash) and, once known, its final
 * outcome: success, or a definite error. A later command under the same key
 * (pay_idem_check):
 *   - same parameters, outcome final: gets the stored outcome again, with the same
 *     result id, and nothing is done again (REPLAY);
 *   - same parameters, outcome not known yet (the provider call timed out, the key is
 *     in_progress): waits behind the first until it is resolved, then gets its final
 *     outcome and result id (IN_PROGRESS);
 *   - other parameters, whatever the state: refused with the error
 *     PAY_IDEM_REUSED_ERROR, which is not stored: the key keeps its first outcome
 *     (REUSED);
 *   - no such key: the command runs and the key is stored with it (NEW).
 * Keys are kept PAY_IDEM_KEEP_S_DEFAULT (configurable, never less than the payments
 * topic's retention, pay_idem_keep_check) after their outcome is final, then a reaper
 * deletes them; an in_progress key is never reaped.
 */
#ifndef PAY_IDEM_H
#define PAY_IDEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pay_fsm.h"
#include "souk_event.h"
#include "souk_uuid.h"

/* The payment_result error for a key reused with other parameters. */
#define PAY_IDEM_REUSED_ERROR "idempotency_key_reused"

/* How long a key is kept once final, by default: the payments topic's 24 h. */
#define PAY_IDEM_KEEP_S_DEFAULT 86400

/* A parameter hash as text: 64 lower-case hex digits and a NUL. */
#define PAY_IDEM_HASH_SIZE 65

/* What idempotency_keys holds for a (client, key). */
enum pay_idem_state {
	PAY_IDEM_KEY_ABSENT,	  /* no row */
	PAY_IDEM_KEY_IN_PROGRESS, /* "in_progress": the outcome is not known yet */
	PAY_IDEM_KEY_FINAL,	  /* "final": success or a definite error, stored */
};

/* What a command under a key does (the rules at the top of this file). */
enum pay_idem_verdict {
	PAY_IDEM_NEW,
	PAY_IDEM_REPLAY,
	PAY_IDEM_REUSED,
	PAY_IDEM_IN_PROGRESS, /* wait behind the command that holds the key */
};

/*
 * The parameters a key is bound to. An absent optional field is NULL (no amount:
 * has_amount false), which hashes apart from any value, "" and 0 included.
 */
struct pay_idem_params {
	enum pay_command command;
	const char *payment_id;
	bool has_amount;
	int64_t amount;
	const char *currency;  /* NULL when absent */
	const char *refund_id; /* NULL when absent */
};

/* The parameters of a payment event, pointing into *p (a decoded event never holds an
 * empty string, so its "" is absent: NULL). */
struct pay_idem_params pay_idem_params_from_event(const souk_event_payment_t *p);

/*
 * The SHA-256 of the canonical form of *p, as hex into out. The canonical form is
 * fixed forever (changing it would turn every retry across the change into
 * idempotency_key_reused): the line "souk-payment-params/1", then one line per field
 * in the order command, payment_id, amount, currency, refund_id:
 *     <name>=-                 when absent
 *     <name>=+<n>:<value>      when present, n the byte length of value
 * each ending in '\n'; command is its name ("capture"), amount its decimal digits.
 * Since each value carries its length, no two parameter sets share a form; how the
 * event's JSON ordered its members never enters it. A collision of SHA-256 is not a
 * practical concern. Returns 0, or -1 with errstr when libcrypto fails (out of
 * memory). Cost: one SHA-256 over about 100 bytes.
 */
int pay_idem_hash(const struct pay_idem_params *p, char out[PAY_IDEM_HASH_SIZE],
		  char *errstr, size_t errstr_size);

/* The verdict for a command whose parameters hash to hash, under a key stored as
 * (stored, stored_hash); stored_hash is ignored when stored is PAY_IDEM_KEY_ABSENT. */
enum pay_idem_verdict pay_idem_check(enum pay_idem_state stored, const char *stored_hash,
				     const char *hash);

/* "in_progress" or "final", as in idempotency_keys.state; NULL for PAY_IDEM_KEY_ABSENT.
 */
const char *pay_idem_state_name(enum pay_idem_state s);
/* The state named s. Returns 0, or -1 for any other text. */
int pay_idem_state_parse(const char *s, enum pay_idem_state *out);
/* "new", "replay", "reused", "in_progress", for logs and metrics. */
const char *pay_idem_verdict_name(enum pay_idem_verdict v);

/*
 * The idempotency key souk gives the provider for the command a client sent on
 * payment_id under idempotency_key: a UUID derived from the three (souk_uuid_derive),
 * so a retry of the command, by the client or after a crash, asks the provider with
 * the same key and the provider applies it at most once. It never equals an event id
 * (those are derived from a client id alone; this from "<client_id>/<payment_id>",
 * and no identifier holds a '/').
 *
 * The pool writes it (payment_intents, idempotency_keys.provider_key) BEFORE it calls
 * the provider, so that a call whose answer never came can be found and asked about
 * again with the same key. client_id and payment_id are identifiers
 * (souk_event_identifier_valid). Cost: one SHA-1.
 */
void pay_idem_provider_key(const char *client_id, const char *payment_id,
			   const char *idempotency_key, char out[SOUK_UUID_STRLEN + 1]);

/*
 * Whether keys may be kept keep_s seconds once final, given the payments topic's
 * retention.ms (-1: forever): never less than the topic keeps a command it could
 * redeliver, or a replay after the key's removal would run the command again.
 * Returns 0, or -1 with errstr saying both durations.
 */
int pay_idem_keep_check(int64_t keep_s, int64_t topic_retention_ms, char *errstr,
			size_t errstr_size);

#endif
