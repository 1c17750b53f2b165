/*
 * pay_idem: see pay_idem.h.
 */
#include "pay_idem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

static const char *const pay_idem_state_names[] = {
    [PAY_IDEM_KEY_ABSENT] = NULL,
    [PAY_IDEM_KEY_IN_PROGRESS] = "in_progress",
    [PAY_IDEM_KEY_FINAL] = "final",
};

static const char *const pay_idem_verdict_names[] = {
    [PAY_IDEM_NEW] = "new",
    [PAY_IDEM_REPLAY] = "replay",
    [PAY_IDEM_REUSED] = "reused",
    [PAY_IDEM_IN_PROGRESS] = "in_progress",
};

struct pay_idem_params
pay_idem_params_from_event(const souk_event_payment_t *p)
{
	return (struct pay_idem_params){
	    .command = pay_fsm_command_from_event(p->command),
	    .payment_id = p->payment_id,
	    .has_amount = p->has_amount,
	    .amount = p->amount,
	    .currency = p->currency[0] ? p->currency : NULL,
	    .refund_id = p->refund_id[0] ? p->refund_id : NULL,
	};
}

/* Feeds one field's line of the canonical form to ctx. Returns 1, or 0 on failure. */
static int
pay_idem_field(EVP_MD_CTX *ctx, const char *name, const char *value)
{
	char head[96];
	int n;

	if (!value)
		n = snprintf(head, sizeof(head), "%s=-\n", name);
	else
		n = snprintf(head, sizeof(head), "%s=+%zu:", name, strlen(value));
	return EVP_DigestUpdate(ctx, head, (size_t)n) &&
	       (!value || (EVP_DigestUpdate(ctx, value, strlen(value)) &&
			   EVP_DigestUpdate(ctx, "\n", 1)));
}

int
pay_idem_hash(const struct pay_idem_params *p, char out[PAY_IDEM_HASH_SIZE], char *errstr,
	      size_t errstr_size)
{
	static const char version[] = "souk-payment-params/1\n";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char amount[24];
	int rc = -1;

	snprintf(amount, sizeof(amount), "%" PRId64, p->amount);
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, version, sizeof(version) - 1) ||
	    !pay_idem_field(ctx, "command", pay_fsm_command_name(p->command)) ||
	    !pay_idem_field(ctx, "payment_id", p->payment_id) ||
	    !pay_idem_field(ctx, "amount", p->has_amount ? amount : NULL) ||
	    !pay_idem_field(ctx, "currency", p->currency) ||
	    !pay_idem_field(ctx, "refund_id", p->refund_id) ||
	    !EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		char why[256];

		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		snprintf(errstr, errstr_size, "could not hash the payment parameters: %s",
			 why);
		goto out;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

enum pay_idem_verdict
pay_idem_check(enum pay_idem_state stored, const char *stored_hash, const char *hash)
{
	if (stored == PAY_IDEM_KEY_ABSENT)
		return PAY_IDEM_NEW;
	/* Other parameters are refused whatever the key's state: the key is the first
	 * command's, finished or not. */
	if (strcmp(stored_hash, hash) != 0)
		return PAY_IDEM_REUSED;
	return stored == PAY_IDEM_KEY_FINAL ? PAY_IDEM_REPLAY : PAY_IDEM_IN_PROGRESS;
}

const char *
pay_idem_state_name(enum pay_idem_state s)
{
	return pay_idem_state_names[s];
}

int
pay_idem_state_parse(const char *s, enum pay_idem_state *out)
{
	if (strcmp(s, "in_progress") == 0)
		*out = PAY_IDEM_KEY_IN_PROGRESS;
	else if (strcmp(s, "final") == 0)
		*out = PAY_IDEM_KEY_FINAL;
	else
		return -1;
	return 0;
}

const char *
pay_idem_verdict_name(enum pay_idem_verdict v)
{
	return pay_idem_verdict_names[v];
}

void
pay_idem_provider_key(const char *client_id, const char *payment_id,
		      const char *idempotency_key, char out[SOUK_UUID_STRLEN + 1])
{
	char scope[2 * SOUK_EVENT_IDENT_SIZE];

	snprintf(scope, sizeof(scope), "%s/%s", client_id, payment_id);
	souk_uuid_derive(scope, idempotency_key, 0, out);
}

int
pay_idem_keep_check(int64_t keep_s, int64_t topic_retention_ms, char *errstr,
		    size_t errstr_size)
{
	if (topic_retention_ms < 0) {
		snprintf(errstr, errstr_size,
			 "could not keep idempotency keys %" PRId64
			 " s: the payments topic keeps its commands forever",
			 keep_s);
		return -1;
	}
	/* The retention in whole seconds, rounded up (keep_s * 1000 could overflow). */
	if (keep_s < topic_retention_ms / 1000 + (topic_retention_ms % 1000 != 0)) {
		snprintf(errstr, errstr_size,
			 "could not keep idempotency keys %" PRId64
			 " s: less than the payments topic's retention of %" PRId64 " ms",
			 keep_s, topic_retention_ms);
		return -1;
	}
	return 0;
}
