#include "psp_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_map.h"
#include "souk_uuid.h"

#define PSP_LEDGER_NONE ((size_t)-1)

struct psp_payment {
	char provider_ref[PSP_REF_SIZE]; /* the map key */
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	enum psp_state state;
	int64_t authorized, captured, refunded;
	size_t capture; /* index of its capture in ops, PSP_LEDGER_NONE before */
	bool dropped;	/* test hook: the capture is left out of the report */
	bool misreported;
	int64_t reported_amount; /* test hook: what the report says was captured */
};

/* The operations on one payment_id, chained through psp_ledger_entry.next. */
struct psp_chain {
	char payment_id[SOUK_EVENT_IDENT_SIZE]; /* the map key */
	size_t first, last;
};

struct psp_ledger_entry {
	struct psp_op op;
	size_t next; /* the next operation on the same payment_id */
};

struct psp_ledger {
	struct psp_ledger_entry *ops; /* in the order applied */
	size_t nops, cap;
	struct souk_map *payments; /* provider_ref -> struct psp_payment */
	struct souk_map *chains;	  /* payment_id -> struct psp_chain */
};

static const char *const psp_ledger_states[PSP_STATE_COUNT] = {
    [PSP_STATE_AUTHORIZED] = "authorized",
    [PSP_STATE_DECLINED] = "declined",
    [PSP_STATE_CAPTURED] = "captured",
    [PSP_STATE_VOIDED] = "voided",
    [PSP_STATE_PARTIALLY_REFUNDED] = "partially_refunded",
    [PSP_STATE_REFUNDED] = "refunded",
};

const char *
psp_ledger_state_name(enum psp_state state)
{
	return (unsigned)state < PSP_STATE_COUNT ? psp_ledger_states[state] : NULL;
}

int
psp_ledger_state_from_name(const char *name, enum psp_state *state)
{
	for (int i = 0; i < PSP_STATE_COUNT; i++) {
		if (!strcmp(name, psp_ledger_states[i])) {
			*state = (enum psp_state)i;
			return 0;
		}
	}
	return -1;
}

struct psp_ledger *
psp_ledger_new(void)
{
	struct psp_ledger *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->payments = souk_map_new();
	l->chains = souk_map_new();
	if (!l->payments || !l->chains) {
		psp_ledger_destroy(l);
		return NULL;
	}
	return l;
}

void
psp_ledger_destroy(struct psp_ledger *l)
{
	if (!l)
		return;
	souk_map_destroy(l->payments, free);
	souk_map_destroy(l->chains, free);
	free(l->ops);
	free(l);
}

void
psp_ledger_ref(const char *key, char out[PSP_REF_SIZE])
{
	char uuid[SOUK_UUID_STRLEN + 1];
	size_t n = 0;

	souk_uuid_derive("psp", key, 0, uuid);
	memcpy(out, "psp_", 4);
	for (const char *p = uuid; *p; p++)
		if (*p != '-')
			out[4 + n++] = *p;
	out[4 + n] = '\0';
}

/* The rule for a capture, void or refund (op->type and op->amount set) on p: fills
 * op's state, and amount for a void, refunded_total for a refund, and returns
 * PSP_LEDGER_OK, or PSP_LEDGER_ILLEGAL with msg. */
static enum psp_ledger_rc
psp_ledger_rule(const struct psp_payment *p, struct psp_op *op, char *msg,
		size_t msg_size)
{
	int64_t left = p->captured - p->refunded;

	switch (op->type) {
	case PSP_OP_CAPTURE:
		if (p->state != PSP_STATE_AUTHORIZED)
			goto state;
		if (op->amount > p->authorized) {
			snprintf(msg, msg_size,
				 "cannot capture %lld: only %lld authorized",
				 (long long)op->amount, (long long)p->authorized);
			return PSP_LEDGER_ILLEGAL;
		}
		op->state = PSP_STATE_CAPTURED;
		return PSP_LEDGER_OK;
	case PSP_OP_VOID:
		if (p->state != PSP_STATE_AUTHORIZED)
			goto state;
		op->amount = p->authorized;
		op->state = PSP_STATE_VOIDED;
		return PSP_LEDGER_OK;
	default: /* PSP_OP_REFUND */
		if (p->state != PSP_STATE_CAPTURED &&
		    p->state != PSP_STATE_PARTIALLY_REFUNDED)
			goto state;
		if (op->amount > left) {
			snprintf(msg, msg_size,
				 "cannot refund %lld: only %lld of %lld captured "
				 "left to refund",
				 (long long)op->amount, (long long)left,
				 (long long)p->captured);
			return PSP_LEDGER_ILLEGAL;
		}
		op->refunded_total = p->refunded + op->amount;
		op->state = op->amount == left ? PSP_STATE_REFUNDED
					       : PSP_STATE_PARTIALLY_REFUNDED;
		return PSP_LEDGER_OK;
	}
state:
	snprintf(msg, msg_size, "cannot %s a payment that is %s",
		 psp_request_type_name(op->type), psp_ledger_state_name(p->state));
	return PSP_LEDGER_ILLEGAL;
}

enum psp_ledger_rc
psp_ledger_check(const struct psp_ledger *l, const struct psp_request *req, bool decline,
		 int64_t now_ms, struct psp_op *op, char *msg, size_t msg_size)
{
	const struct psp_payment *p;

	memset(op, 0, sizeof(*op));
	op->type = req->type;
	op->amount = req->amount;
	op->at_ms = now_ms;
	memcpy(op->key, req->key, sizeof(op->key));
	if (req->type == PSP_OP_AUTHORIZE) {
		psp_ledger_ref(req->key, op->provider_ref);
		memcpy(op->payment_id, req->payment_id, sizeof(op->payment_id));
		memcpy(op->currency, req->currency, sizeof(op->currency));
		op->state = decline ? PSP_STATE_DECLINED : PSP_STATE_AUTHORIZED;
		/* A key authorizes once (psp_idem), so its reference is new. */
		return PSP_LEDGER_OK;
	}
	p = souk_map_get(l->payments, req->provider_ref);
	if (!p) {
		snprintf(msg, msg_size, "no payment with provider_ref \"%s\"",
			 req->provider_ref);
		return PSP_LEDGER_NOT_FOUND;
	}
	memcpy(op->provider_ref, p->provider_ref, sizeof(op->provider_ref));
	memcpy(op->payment_id, p->payment_id, sizeof(op->payment_id));
	memcpy(op->currency, p->currency, sizeof(op->currency));
	memcpy(op->refund_id, req->refund_id, sizeof(op->refund_id));
	return psp_ledger_rule(p, op, msg, msg_size);
}

/* Makes room for one more operation. */
static int
psp_ledger_reserve(struct psp_ledger *l)
{
	size_t cap = l->cap ? l->cap * 2 : 256;
	struct psp_ledger_entry *ops;

	if (l->nops < l->cap)
		return 0;
	ops = realloc(l->ops, cap * sizeof(*ops));
	if (!ops)
		return -1;
	l->ops = ops;
	l->cap = cap;
	return 0;
}

/* The chain of payment_id, created empty when new; NULL when out of memory. */
static struct psp_chain *
psp_ledger_chain(struct psp_ledger *l, const char *payment_id)
{
	struct psp_chain *c = souk_map_get(l->chains, payment_id);

	if (c)
		return c;
	c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->payment_id, sizeof(c->payment_id), "%s", payment_id);
	c->first = c->last = PSP_LEDGER_NONE;
	if (souk_map_put(l->chains, c->payment_id, c)) {
		free(c);
		return NULL;
	}
	return c;
}

int
psp_ledger_apply(struct psp_ledger *l, const struct psp_op *op, char *errstr,
		 size_t errstr_size)
{
	struct psp_payment *p = souk_map_get(l->payments, op->provider_ref), *fresh = NULL;
	struct psp_op expect = *op;
	struct psp_chain *chain;
	char msg[192];
	size_t i = l->nops;

	if (op->type == PSP_OP_AUTHORIZE) {
		if (p) {
			snprintf(errstr, errstr_size, "payment %s is already authorized",
				 op->provider_ref);
			return -1;
		}
		if (op->state != PSP_STATE_AUTHORIZED &&
		    op->state != PSP_STATE_DECLINED) {
			snprintf(errstr, errstr_size,
				 "an authorization cannot leave a payment %s",
				 psp_ledger_state_name(op->state));
			return -1;
		}
	} else if (!p) {
		snprintf(errstr, errstr_size,
			 "cannot %s: no payment with provider_ref \"%s\"",
			 psp_request_type_name(op->type), op->provider_ref);
		return -1;
	} else if (psp_ledger_rule(p, &expect, msg, sizeof(msg)) != PSP_LEDGER_OK) {
		snprintf(errstr, errstr_size, "%s", msg);
		return -1;
	} else if (expect.state != op->state || expect.amount != op->amount ||
		   expect.refunded_total != op->refunded_total ||
		   strcmp(p->payment_id, op->payment_id) ||
		   strcmp(p->currency, op->currency)) {
		snprintf(errstr, errstr_size,
			 "%s of %s: does not match the payment (%s %lld %s, %s)",
			 psp_request_type_name(op->type), op->provider_ref, p->payment_id,
			 (long long)p->authorized, p->currency,
			 psp_ledger_state_name(p->state));
		return -1;
	}
	if (psp_ledger_reserve(l) || !(chain = psp_ledger_chain(l, op->payment_id)))
		goto oom;
	if (op->type == PSP_OP_AUTHORIZE) {
		fresh = calloc(1, sizeof(*fresh));
		if (!fresh)
			goto oom;
		memcpy(fresh->provider_ref, op->provider_ref,
		       sizeof(fresh->provider_ref));
		memcpy(fresh->payment_id, op->payment_id, sizeof(fresh->payment_id));
		memcpy(fresh->currency, op->currency, sizeof(fresh->currency));
		fresh->authorized = op->amount;
		fresh->capture = PSP_LEDGER_NONE;
		if (souk_map_put(l->payments, fresh->provider_ref, fresh)) {
			free(fresh);
			goto oom;
		}
		p = fresh;
	}
	/* nothing fails from here on */
	p->state = op->state;
	if (op->type == PSP_OP_CAPTURE) {
		p->captured = op->amount;
		p->capture = i;
	} else if (op->type == PSP_OP_REFUND) {
		p->refunded += op->amount;
	}
	l->ops[i].op = *op;
	l->ops[i].next = PSP_LEDGER_NONE;
	if (chain->last == PSP_LEDGER_NONE)
		chain->first = i;
	else
		l->ops[chain->last].next = i;
	chain->last = i;
	l->nops++;
	return 0;
oom:
	snprintf(errstr, errstr_size, "out of memory");
	return -1;
}

enum psp_ledger_rc
psp_ledger_reportable(const struct psp_ledger *l, const char *provider_ref, char *msg,
		      size_t msg_size)
{
	const struct psp_payment *p = souk_map_get(l->payments, provider_ref);

	if (!p) {
		snprintf(msg, msg_size, "no payment with provider_ref \"%s\"",
			 provider_ref);
		return PSP_LEDGER_NOT_FOUND;
	}
	if (p->capture == PSP_LEDGER_NONE) {
		snprintf(msg, msg_size, "payment %s has no capture to report: it is %s",
			 provider_ref, psp_ledger_state_name(p->state));
		return PSP_LEDGER_ILLEGAL;
	}
	return PSP_LEDGER_OK;
}

void
psp_ledger_drop(struct psp_ledger *l, const char *provider_ref)
{
	struct psp_payment *p = souk_map_get(l->payments, provider_ref);

	p->dropped = true;
}

void
psp_ledger_misreport(struct psp_ledger *l, const char *provider_ref, int64_t amount)
{
	struct psp_payment *p = souk_map_get(l->payments, provider_ref);

	p->misreported = true;
	p->reported_amount = amount;
}

size_t
psp_ledger_ops(const struct psp_ledger *l, const char *payment_id, psp_ledger_op_cb *cb,
	       void *opaque)
{
	const struct psp_chain *c = souk_map_get(l->chains, payment_id);
	size_t n = 0;

	for (size_t i = c ? c->first : PSP_LEDGER_NONE; i != PSP_LEDGER_NONE;
	     i = l->ops[i].next, n++)
		cb(&l->ops[i].op, opaque);
	return n;
}

size_t
psp_ledger_list(const struct psp_ledger *l, uint64_t after, int64_t since_ms,
		size_t limit, psp_ledger_list_cb *cb, void *opaque, uint64_t *last,
		bool *more)
{
	size_t i = after < l->nops ? (size_t)after : l->nops, n = 0;

	/* operation number seq is l->ops[seq - 1] */
	for (; i < l->nops && n < limit; i++) {
		if (l->ops[i].op.at_ms < since_ms)
			continue;
		cb((uint64_t)i + 1, &l->ops[i].op, opaque);
		n++;
	}
	*last = after > l->nops ? after : (uint64_t)i;
	*more = i < l->nops;
	return n;
}

int
psp_ledger_settlements(const struct psp_ledger *l, int64_t settle_delay_ms,
		       struct psp_settlement **rows, size_t *n)
{
	*rows = NULL;
	*n = 0;
	for (size_t i = 0; i < l->nops; i++) {
		const struct psp_op *op = &l->ops[i].op;
		const struct psp_payment *p;
		struct psp_settlement *r;

		if (op->type != PSP_OP_CAPTURE && op->type != PSP_OP_REFUND)
			continue;
		p = souk_map_get(l->payments, op->provider_ref);
		if (op->type == PSP_OP_CAPTURE && p->dropped)
			continue;
		if (!*rows) {
			/* sized for the worst case once: every operation settles */
			*rows = malloc(l->nops * sizeof(**rows));
			if (!*rows)
				return -1;
		}
		r = &(*rows)[(*n)++];
		r->settled_at_ms = op->at_ms + settle_delay_ms;
		memcpy(r->provider_ref, op->provider_ref, sizeof(r->provider_ref));
		memcpy(r->payment_id, op->payment_id, sizeof(r->payment_id));
		r->type = op->type;
		r->amount = op->type == PSP_OP_CAPTURE && p->misreported
				? p->reported_amount
				: op->amount;
		memcpy(r->currency, op->currency, sizeof(r->currency));
		memcpy(r->key, op->key, sizeof(r->key));
	}
	return 0;
}
