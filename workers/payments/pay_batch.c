/*
 * pay_batch: see pay_batch.h.
 *
 * One call (apply or janitor) builds, per payment it touches, the payment as read and
 * the list of its commands; per idempotency key, the key as read (or absent). Commands
 * run in memory, the provider calls of distinct payments overlapping; what they change
 * is collected in a pay_sql_rows and written at the end in one statement per table.
 * Memory: O(commands) per call, freed at its end.
 */
#include "pay_batch.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay_fsm.h"
#include "pay_idem.h"
#include "pay_provider.h"
#include "pay_recon.h"
#include "pay_sql.h"
#include "souk_log.h"
#include "souk_map.h"
#include "souk_uuid.h"

#define PAY_BATCH_RESULTS "payment-results"

enum pay_cmd_state {
	PAY_CMD_TODO,
	PAY_CMD_CALLING, /* its provider call is out (or about to go) */
	PAY_CMD_DONE,	 /* answered */
	PAY_CMD_WAITING, /* stored in payment_waiting */
};

/* An idempotency key the call touches. state ABSENT: no row (yet). */
struct pay_key {
	char id[SOUK_EVENT_IDENT_SIZE + SOUK_EVENT_IDEMPOTENCY_KEY_SIZE + 1]; /* c\nk */
	enum pay_idem_state state;
	char hash[PAY_IDEM_HASH_SIZE];
	char result_id[SOUK_UUID_STRLEN + 1];
	char *response; /* final: the payment_result as published */
};

struct pay_pay;

struct pay_cmd {
	struct pay_batch *b;
	struct souk_pool_event *src;
	struct pay_pay *pay;
	struct pay_cmd *next; /* the payment's next command */
	enum pay_cmd_state state;
	struct pay_fsm_request req;
	struct pay_fsm_step step; /* while calling */
	struct pay_key *key;
	char hash[PAY_IDEM_HASH_SIZE];
	char provider_key[SOUK_UUID_STRLEN + 1]; /* "" until it calls */
	bool lookup; /* parked: ask the provider by key before anything */
	/* Its intent was there before this call wrote it: an earlier attempt (a batch
	 * cut short by a crash) may have sent the call, so a call that fails now without
	 * sending anything is no proof that nothing was applied. */
	bool sent_before;
};

struct pay_pay {
	char payment_id[SOUK_EVENT_IDENT_SIZE];
	char client_id[SOUK_EVENT_IDENT_SIZE]; /* who created it */
	struct pay_fsm_payment cur;
	char provider_ref[PAY_RECON_REF_SIZE]; /* "" none */
	bool stored;			       /* it has a payments row */
	int64_t version_read, version;
	bool parked;
	struct pay_cmd *head, *tail, *cursor;
};

struct pay_batch {
	struct pay_batch_conf conf;
	struct pay_batch_metrics *m;
	struct souk_pg *intent_pg;
	struct pay_provider *provider;

	/* The current call's state, reset at its start. */
	struct souk_txn *txn;
	struct souk_map *pays, *keys, *refunds;
	struct pay_pay **pay_list;
	size_t npays, pays_cap;
	struct pay_key **key_list;
	size_t nkeys, keys_cap;
	char **refund_list;
	size_t nrefunds, refunds_cap;
	struct pay_cmd *cmds;
	size_t ncmds;
	struct pay_cmd **submit; /* calls whose intents are not written yet */
	size_t nsubmit, submit_cap;
	struct pay_sql_rows rows;
	struct souk_pgarray intents[PAY_SQL_I_COLS];
	char scratch[SOUK_EVENT_MAX_BYTES + 1]; /* where results are encoded */
	bool resolving; /* the janitor's call: its payments start unparked */
	bool failed;	/* a step failed: drain the calls in flight, then retry */
	char err[512];
	/* Counted once the transaction commits (pay_batch_after). */
	uint64_t counts[PAY_BATCH_VERDICTS], transitions, parked, resolved;
};

static const char *const pay_batch_verdict_names[PAY_BATCH_VERDICTS] = {
    "new", "replay", "reused", "waiting", "invalid"};

const char *
pay_batch_verdict_name(enum pay_batch_verdict v)
{
	return v < PAY_BATCH_VERDICTS ? pay_batch_verdict_names[v] : NULL;
}

struct pay_batch *
pay_batch_new(const struct pay_batch_conf *conf, struct pay_batch_metrics *metrics,
	      struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	struct pay_batch *b = calloc(1, sizeof(*b));

	if (!b) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	b->conf = *conf;
	b->m = metrics;
	b->intent_pg = souk_pg_connect(conf->dsn, 30000, errstr, errstr_size);
	if (!b->intent_pg || pay_sql_prepare(b->intent_pg, errstr, errstr_size) ||
	    pay_sql_prepare(pg, errstr, errstr_size))
		goto fail;
	b->provider = pay_provider_new(conf->provider_url, conf->provider_timeout_ms,
				       errstr, errstr_size);
	if (!b->provider)
		goto fail;
	return b;
fail:
	pay_batch_destroy(b);
	return NULL;
}

/* Forgets the call's state, keeping the arrays' memory. */
static void
pay_batch_clear(struct pay_batch *b)
{
	for (size_t i = 0; i < b->npays; i++)
		free(b->pay_list[i]);
	for (size_t i = 0; i < b->nkeys; i++) {
		free(b->key_list[i]->response);
		free(b->key_list[i]);
	}
	for (size_t i = 0; i < b->nrefunds; i++)
		free(b->refund_list[i]);
	souk_map_destroy(b->pays, NULL);
	souk_map_destroy(b->keys, NULL);
	souk_map_destroy(b->refunds, NULL);
	b->pays = b->keys = b->refunds = NULL;
	b->npays = b->nkeys = b->nrefunds = b->nsubmit = 0;
	free(b->cmds);
	b->cmds = NULL;
	b->ncmds = 0;
	pay_sql_rows_reset(&b->rows);
	for (int i = 0; i < PAY_SQL_I_COLS; i++)
		souk_pgarray_reset(&b->intents[i]);
	b->failed = b->resolving = false;
	b->err[0] = '\0';
}

void
pay_batch_destroy(struct pay_batch *b)
{
	if (!b)
		return;
	pay_batch_clear(b);
	pay_provider_destroy(b->provider);
	souk_pg_destroy(b->intent_pg);
	pay_sql_rows_free(&b->rows);
	for (int i = 0; i < PAY_SQL_I_COLS; i++)
		souk_pgarray_free(&b->intents[i]);
	free(b->pay_list);
	free(b->key_list);
	free(b->refund_list);
	free(b->submit);
	free(b);
}

/* Marks the call failed with a message (the first one wins). Returns -1. */
static int
pay_batch_fail(struct pay_batch *b, const char *fmt, const char *what)
{
	if (!b->failed)
		snprintf(b->err, sizeof(b->err), fmt, what);
	b->failed = true;
	return -1;
}

/* Appends p to the pointer array *arr of *n entries and *cap room. */
static int
pay_batch_push(void ***arr, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		void **a = realloc(*arr, ncap * sizeof(*a));

		if (!a)
			return -1;
		*arr = a;
		*cap = ncap;
	}
	(*arr)[(*n)++] = p;
	return 0;
}

static int
pay_batch_start(struct pay_batch *b, struct souk_txn *t, size_t ncmds)
{
	pay_batch_clear(b);
	b->txn = t;
	b->pays = souk_map_new();
	b->keys = souk_map_new();
	b->refunds = souk_map_new();
	b->cmds = calloc(ncmds + 1, sizeof(*b->cmds));
	if (!b->pays || !b->keys || !b->refunds || !b->cmds)
		return pay_batch_fail(b, "%s", "out of memory");
	memset(b->counts, 0, sizeof(b->counts));
	b->transitions = b->parked = b->resolved = 0;
	return 0;
}

/* The payment payment_id of this call, added when new. NULL when out of memory. */
static struct pay_pay *
pay_batch_pay(struct pay_batch *b, const char *payment_id)
{
	struct pay_pay *pay = souk_map_get(b->pays, payment_id);

	if (pay)
		return pay;
	if (!(pay = calloc(1, sizeof(*pay))))
		return NULL;
	snprintf(pay->payment_id, sizeof(pay->payment_id), "%s", payment_id);
	if (pay_batch_push((void ***)&b->pay_list, &b->npays, &b->pays_cap, pay)) {
		free(pay);
		return NULL;
	}
	if (souk_map_put(b->pays, pay->payment_id, pay)) {
		b->npays--;
		free(pay);
		return NULL;
	}
	return pay;
}

/* The key (client_id, key) of this call, added ABSENT when new. */
static struct pay_key *
pay_batch_key(struct pay_batch *b, const char *client_id, const char *key)
{
	char id[sizeof(((struct pay_key *)0)->id)];
	struct pay_key *k;

	snprintf(id, sizeof(id), "%s\n%s", client_id, key);
	if ((k = souk_map_get(b->keys, id)))
		return k;
	if (!(k = calloc(1, sizeof(*k))))
		return NULL;
	memcpy(k->id, id, sizeof(id));
	if (pay_batch_push((void ***)&b->key_list, &b->nkeys, &b->keys_cap, k)) {
		free(k);
		return NULL;
	}
	if (souk_map_put(b->keys, k->id, k)) {
		b->nkeys--;
		free(k);
		return NULL;
	}
	return k;
}

/* Whether refund_id is taken on payment_id; take it when take is true. */
static int
pay_batch_refund_taken(struct pay_batch *b, const char *payment_id, const char *refund_id,
		       bool take, bool *taken)
{
	char id[2 * SOUK_EVENT_IDENT_SIZE + 1], *copy;

	snprintf(id, sizeof(id), "%s/%s", payment_id, refund_id);
	*taken = souk_map_get(b->refunds, id) != NULL;
	if (*taken || !take)
		return 0;
	if (!(copy = strdup(id)) || pay_batch_push((void ***)&b->refund_list,
						   &b->nrefunds, &b->refunds_cap, copy)) {
		free(copy);
		return -1;
	}
	return souk_map_put(b->refunds, copy, copy);
}

/* Adds cmd for src to its payment's list. */
static int
pay_batch_add(struct pay_batch *b, struct souk_pool_event *src)
{
	struct pay_cmd *c = &b->cmds[b->ncmds];
	struct pay_pay *pay = pay_batch_pay(b, src->ev.payment.payment_id);

	if (!pay)
		return pay_batch_fail(b, "%s", "out of memory");
	b->ncmds++;
	c->b = b;
	c->src = src;
	c->pay = pay;
	c->req = pay_fsm_request_from_event(&src->ev.payment);
	if (pay->tail)
		pay->tail->next = c;
	else
		pay->head = pay->cursor = c;
	pay->tail = c;
	return 0;
}

/* ---- loading what the call's commands need ---------------------------------------- */

static int64_t
pay_batch_int(const PGresult *res, int r, int c)
{
	return strtoll(PQgetvalue(res, r, c), NULL, 10);
}

static int
pay_batch_load(struct pay_batch *b, struct souk_pg *pg)
{
	struct souk_pgarray ids = {0}, clients = {0}, keys = {0};
	PGresult *res = NULL;
	bool refunds = false;
	int rc = -1;

	for (size_t i = 0; i < b->npays; i++)
		souk_pgarray_add_str(&ids, b->pay_list[i]->payment_id);
	for (size_t i = 0; i < b->ncmds; i++) {
		const souk_event_t *ev = &b->cmds[i].src->ev;
		struct pay_key *k = pay_batch_key(b, ev->client_id, ev->idempotency_key);

		if (!k)
			goto oom;
		b->cmds[i].key = k;
		refunds |= b->cmds[i].req.command == PAY_COMMAND_REFUND;
	}
	for (size_t i = 0; i < b->nkeys; i++) {
		char *nl = strchr(b->key_list[i]->id, '\n');

		souk_pgarray_add_text(&clients, b->key_list[i]->id,
				      (size_t)(nl - b->key_list[i]->id));
		souk_pgarray_add_str(&keys, nl + 1);
	}
	if (!souk_pgarray_text(&ids) || !souk_pgarray_text(&clients) ||
	    !souk_pgarray_text(&keys))
		goto oom;

	if (pay_sql_load_payments(pg, souk_pgarray_text(&ids), &res, b->err,
				  sizeof(b->err)))
		goto fail;
	for (int r = 0; r < PQntuples(res); r++) {
		struct pay_pay *pay =
		    souk_map_get(b->pays, PQgetvalue(res, r, PAY_SQL_PAYMENT_ID));
		struct pay_fsm_payment *p;

		if (!pay)
			continue;
		p = &pay->cur;
		if (pay_fsm_state_parse(PQgetvalue(res, r, PAY_SQL_PAYMENT_STATE),
					&p->state)) {
			snprintf(b->err, sizeof(b->err),
				 "could not read payment \"%s\": state \"%s\"",
				 pay->payment_id,
				 PQgetvalue(res, r, PAY_SQL_PAYMENT_STATE));
			goto fail;
		}
		snprintf(pay->client_id, sizeof(pay->client_id), "%s",
			 PQgetvalue(res, r, PAY_SQL_PAYMENT_CLIENT));
		snprintf(p->currency, sizeof(p->currency), "%s",
			 PQgetvalue(res, r, PAY_SQL_PAYMENT_CURRENCY));
		p->amount = pay_batch_int(res, r, PAY_SQL_PAYMENT_AMOUNT);
		p->authorized = pay_batch_int(res, r, PAY_SQL_PAYMENT_AUTHORIZED);
		p->captured = pay_batch_int(res, r, PAY_SQL_PAYMENT_CAPTURED);
		p->refunded = pay_batch_int(res, r, PAY_SQL_PAYMENT_REFUNDED);
		snprintf(pay->provider_ref, sizeof(pay->provider_ref), "%s",
			 PQgetvalue(res, r, PAY_SQL_PAYMENT_REF));
		pay->version = pay->version_read =
		    pay_batch_int(res, r, PAY_SQL_PAYMENT_VERSION);
		pay->stored = true;
		/* The janitor resolves the payments it loaded: they start unparked. */
		pay->parked =
		    !b->resolving && PQgetvalue(res, r, PAY_SQL_PAYMENT_PARKED)[0] == 't';
	}
	PQclear(res);
	res = NULL;

	if (refunds) {
		if (pay_sql_load_refunds(pg, souk_pgarray_text(&ids), &res, b->err,
					 sizeof(b->err)))
			goto fail;
		for (int r = 0; r < PQntuples(res); r++) {
			bool taken;

			if (pay_batch_refund_taken(b, PQgetvalue(res, r, 0),
						   PQgetvalue(res, r, 1), true, &taken))
				goto oom;
		}
		PQclear(res);
		res = NULL;
	}

	if (pay_sql_load_keys(pg, souk_pgarray_text(&clients), souk_pgarray_text(&keys),
			      &res, b->err, sizeof(b->err)))
		goto fail;
	for (int r = 0; r < PQntuples(res); r++) {
		char id[sizeof(((struct pay_key *)0)->id)];
		struct pay_key *k;

		snprintf(id, sizeof(id), "%s\n%s", PQgetvalue(res, r, PAY_SQL_KEY_CLIENT),
			 PQgetvalue(res, r, PAY_SQL_KEY_KEY));
		if (!(k = souk_map_get(b->keys, id)))
			continue;
		if (pay_idem_state_parse(PQgetvalue(res, r, PAY_SQL_KEY_STATE),
					 &k->state)) {
			snprintf(b->err, sizeof(b->err),
				 "could not read key state \"%s\"",
				 PQgetvalue(res, r, PAY_SQL_KEY_STATE));
			goto fail;
		}
		snprintf(k->hash, sizeof(k->hash), "%s",
			 PQgetvalue(res, r, PAY_SQL_KEY_HASH));
		snprintf(k->result_id, sizeof(k->result_id), "%s",
			 PQgetvalue(res, r, PAY_SQL_KEY_RESULT_ID));
		if (k->state == PAY_IDEM_KEY_FINAL &&
		    !(k->response = strdup(PQgetvalue(res, r, PAY_SQL_KEY_RESPONSE))))
			goto oom;
	}
	rc = 0;
	goto out;
oom:
	snprintf(b->err, sizeof(b->err), "out of memory");
fail:
	b->failed = true;
out:
	PQclear(res);
	souk_pgarray_free(&ids);
	souk_pgarray_free(&clients);
	souk_pgarray_free(&keys);
	return rc;
}

/* ---- answers ---------------------------------------------------------------------- */

/* A result id of ev's (client, key): part 0 is the final outcome stored under the key
 * (every replay of it has the same id); part offset + 1 an answer that is not stored,
 * one per consumed message (a redelivery re-sends the same answer). */
static void
pay_batch_result_id(const souk_event_t *ev, unsigned long part,
		    char out[SOUK_UUID_STRLEN + 1])
{
	char ns[SOUK_EVENT_IDENT_SIZE + 16];

	/* No identifier holds a '/', so this never equals an event id of the client. */
	snprintf(ns, sizeof(ns), "payments/%s", ev->client_id);
	souk_uuid_derive(ns, ev->idempotency_key, part, out);
}

/*
 * Encodes the payment_result answering c: ok with the state reached, or the error code
 * error (with the payment's state when it exists), under result_id. *json is malloc'd.
 * Returns 0, or -1 with b->err filled.
 */
static int
pay_batch_result(struct pay_cmd *c, const char *error, const char *result_id, char **json,
		 size_t *len)
{
	const souk_event_t *src = &c->src->ev;
	souk_event_t ev = {.type = SOUK_EVENT_TYPE_PAYMENT_RESULT,
			   .version = SOUK_EVENT_VERSION};
	souk_event_payment_result_t *r = &ev.payment_result;
	char why[256];

	snprintf(ev.event_id, sizeof(ev.event_id), "%s", result_id);
	souk_event_ts_now(ev.ts);
	snprintf(ev.client_id, sizeof(ev.client_id), "payments");
	memcpy(ev.idempotency_key, src->idempotency_key, sizeof(ev.idempotency_key));
	memcpy(r->payment_id, src->payment.payment_id, sizeof(r->payment_id));
	r->command = src->payment.command;
	r->status = error ? SOUK_EVENT_PAYMENT_ERROR : SOUK_EVENT_PAYMENT_OK;
	r->state = pay_fsm_state_to_event(c->pay->cur.state);
	if (error)
		snprintf(r->error, sizeof(r->error), "%s", error);
	r->has_amount = src->payment.has_amount;
	r->amount = src->payment.amount;
	memcpy(r->source_event_id, src->event_id, sizeof(r->source_event_id));
	*json = NULL;
	if (souk_event_encode(&ev, c->b->scratch, sizeof(c->b->scratch), len, why,
			      sizeof(why))) {
		snprintf(c->b->err, sizeof(c->b->err),
			 "could not encode the result of payment \"%s\": %s",
			 r->payment_id, why);
		return -1;
	}
	if (!(*json = strdup(c->b->scratch))) {
		snprintf(c->b->err, sizeof(c->b->err), "out of memory");
		return -1;
	}
	return 0;
}

static int
pay_batch_emit(struct pay_cmd *c, const char *json, size_t len, const char *result_id)
{
	if (souk_txn_emit(c->b->txn, c->src, PAY_BATCH_RESULTS,
			  c->src->ev.payment.payment_id, json, len, result_id))
		return pay_batch_fail(c->b, "%s", "out of memory");
	return 0;
}

/* Answers c with error, not stored under its key (the key stays as it is). Returns 0,
 * or -1 when the answer could not be encoded (b->err says why, b->failed is not set:
 * the caller decides). */
static int
pay_batch_answer_once(struct pay_cmd *c, const char *error, enum pay_batch_verdict v)
{
	char result_id[SOUK_UUID_STRLEN + 1], *json;
	size_t len;

	pay_batch_result_id(&c->src->ev, (unsigned long)c->src->offset + 1, result_id);
	if (pay_batch_result(c, error, result_id, &json, &len))
		return -1;
	c->state = PAY_CMD_DONE;
	c->b->counts[v]++;
	pay_batch_emit(c, json, len, result_id);
	free(json);
	return 0;
}

/* Adds the key row for c's key in state st (response: final only). */
static void
pay_batch_key_row(struct pay_cmd *c, enum pay_idem_state st)
{
	struct souk_pgarray *k = c->b->rows.keys;
	const souk_event_t *ev = &c->src->ev;

	souk_pgarray_add_str(&k[PAY_SQL_K_CLIENT], ev->client_id);
	souk_pgarray_add_str(&k[PAY_SQL_K_KEY], ev->idempotency_key);
	souk_pgarray_add_str(&k[PAY_SQL_K_HASH], c->hash);
	souk_pgarray_add_str(&k[PAY_SQL_K_STATE], pay_idem_state_name(st));
	souk_pgarray_add_str(&k[PAY_SQL_K_ID], ev->payment.payment_id);
	souk_pgarray_add_str(&k[PAY_SQL_K_COMMAND], pay_fsm_command_name(c->req.command));
	souk_pgarray_add_str(&k[PAY_SQL_K_RESULT_ID], c->key->result_id);
	souk_pgarray_add_str(&k[PAY_SQL_K_RESPONSE],
			     st == PAY_IDEM_KEY_FINAL ? c->key->response : NULL);
	souk_pgarray_add_str(&k[PAY_SQL_K_PROVIDER_KEY],
			     c->provider_key[0] ? c->provider_key : NULL);
}

/* Answers c with its final outcome (error NULL: ok) and stores it under its key. */
static void
pay_batch_answer_final(struct pay_cmd *c, const char *error)
{
	struct pay_key *k = c->key;
	size_t len;

	c->state = PAY_CMD_DONE;
	c->b->counts[PAY_BATCH_NEW]++;
	pay_batch_result_id(&c->src->ev, 0, k->result_id);
	free(k->response);
	k->response = NULL;
	if (pay_batch_result(c, error, k->result_id, &k->response, &len)) {
		c->b->failed = true;
		return;
	}
	k->state = PAY_IDEM_KEY_FINAL;
	memcpy(k->hash, c->hash, sizeof(k->hash));
	pay_batch_key_row(c, PAY_IDEM_KEY_FINAL);
	pay_batch_emit(c, k->response, len, k->result_id);
}

/* ---- applying --------------------------------------------------------------------- */

/* Moves c's payment to next: its history row, its version. */
static void
pay_batch_transition(struct pay_cmd *c, const struct pay_fsm_payment *next)
{
	struct souk_pgarray *t = c->b->rows.transitions;
	struct pay_pay *pay = c->pay;
	const souk_event_t *ev = &c->src->ev;

	souk_pgarray_add_str(&t[PAY_SQL_T_ID], pay->payment_id);
	souk_pgarray_add_int(&t[PAY_SQL_T_VERSION], pay->version + 1);
	souk_pgarray_add_str(&t[PAY_SQL_T_FROM], pay_fsm_state_name(pay->cur.state));
	souk_pgarray_add_str(&t[PAY_SQL_T_TO], pay_fsm_state_name(next->state));
	souk_pgarray_add_str(&t[PAY_SQL_T_COMMAND], pay_fsm_command_name(c->req.command));
	if (ev->payment.has_amount)
		souk_pgarray_add_int(&t[PAY_SQL_T_AMOUNT], ev->payment.amount);
	else
		souk_pgarray_add_null(&t[PAY_SQL_T_AMOUNT]);
	souk_pgarray_add_str(&t[PAY_SQL_T_REFUND_ID],
			     ev->payment.refund_id[0] ? ev->payment.refund_id : NULL);
	souk_pgarray_add_str(&t[PAY_SQL_T_CLIENT], ev->client_id);
	souk_pgarray_add_str(&t[PAY_SQL_T_KEY], ev->idempotency_key);
	if (c->req.command == PAY_COMMAND_CREATE)
		snprintf(pay->client_id, sizeof(pay->client_id), "%s", ev->client_id);
	pay->cur = *next;
	pay->version++;
	c->b->transitions++;
}

static void
pay_batch_refund_row(struct pay_cmd *c, const char *state)
{
	struct souk_pgarray *r = c->b->rows.refunds;

	souk_pgarray_add_str(&r[PAY_SQL_R_ID], c->pay->payment_id);
	souk_pgarray_add_str(&r[PAY_SQL_R_REFUND_ID], c->src->ev.payment.refund_id);
	souk_pgarray_add_int(&r[PAY_SQL_R_AMOUNT], c->src->ev.payment.amount);
	souk_pgarray_add_str(&r[PAY_SQL_R_STATE], state);
}

/* c goes to payment_waiting (its payment is parked). */
static void
pay_batch_wait(struct pay_cmd *c)
{
	struct souk_pgarray *w = c->b->rows.waiting;

	souk_pgarray_add_str(&w[PAY_SQL_W_ID], c->pay->payment_id);
	souk_pgarray_add_str(&w[PAY_SQL_W_TOPIC], c->src->topic);
	souk_pgarray_add_int(&w[PAY_SQL_W_PARTITION], c->src->partition);
	souk_pgarray_add_int(&w[PAY_SQL_W_OFFSET], c->src->offset);
	souk_pgarray_add_text(&w[PAY_SQL_W_EVENT], c->src->value, c->src->len);
	souk_pgarray_add_str(&w[PAY_SQL_W_PROVIDER_KEY],
			     c->provider_key[0] ? c->provider_key : NULL);
	if (c->state != PAY_CMD_CALLING)
		c->b->counts[PAY_BATCH_WAITING]++;
	c->state = PAY_CMD_WAITING;
}

static void
pay_batch_answered_row(struct pay_cmd *c, const char *state)
{
	souk_pgarray_add_str(&c->b->rows.answered[0], c->provider_key);
	souk_pgarray_add_str(&c->b->rows.answered[1], state);
}

/* ---- provider calls --------------------------------------------------------------- */

static void pay_batch_advance(struct pay_batch *b, struct pay_pay *pay);

/* Queues c's provider call (its intent is written before it goes out). */
static void
pay_batch_call(struct pay_cmd *c)
{
	struct pay_batch *b = c->b;
	struct souk_pgarray *in = b->intents;
	const souk_event_payment_t *p = &c->src->ev.payment;
	const char *currency = c->pay->cur.currency;

	c->state = PAY_CMD_CALLING;
	if (pay_batch_push((void ***)&b->submit, &b->nsubmit, &b->submit_cap, c)) {
		pay_batch_fail(b, "%s", "out of memory");
		return;
	}
	souk_pgarray_add_str(&in[PAY_SQL_I_KEY], c->provider_key);
	souk_pgarray_add_str(&in[PAY_SQL_I_ID], p->payment_id);
	souk_pgarray_add_str(&in[PAY_SQL_I_COMMAND],
			     pay_fsm_command_name(c->req.command));
	if (p->has_amount)
		souk_pgarray_add_int(&in[PAY_SQL_I_AMOUNT], p->amount);
	else
		souk_pgarray_add_null(&in[PAY_SQL_I_AMOUNT]);
	souk_pgarray_add_str(&in[PAY_SQL_I_CURRENCY], currency[0] ? currency : NULL);
	souk_pgarray_add_str(&in[PAY_SQL_I_REFUND_ID],
			     c->req.command == PAY_COMMAND_REFUND ? p->refund_id : NULL);
}

/* The command decided: its payment goes on with the next one. */
static void
pay_batch_next(struct pay_cmd *c)
{
	c->pay->cursor = c->next;
	pay_batch_advance(c->b, c->pay);
}

/* Parks c: outcome unknown, its key in_progress, its payment's later commands wait. */
static void
pay_batch_park(struct pay_cmd *c)
{
	struct pay_key *k = c->key;

	k->state = PAY_IDEM_KEY_IN_PROGRESS;
	memcpy(k->hash, c->hash, sizeof(k->hash));
	pay_batch_key_row(c, PAY_IDEM_KEY_IN_PROGRESS);
	pay_batch_answered_row(c, "unknown");
	if (c->req.command == PAY_COMMAND_REFUND)
		pay_batch_refund_row(c, "pending");
	c->pay->parked = true;
	if (!c->lookup)
		c->b->parked++;
	pay_batch_wait(c);
}

static void
pay_batch_answered(const struct pay_provider_result *r, void *opaque)
{
	struct pay_cmd *c = opaque;
	struct pay_batch *b = c->b;
	bool was_parked = c->lookup;

	if (b->failed)
		return; /* draining: the batch runs again */
	souk_metrics_counter_add(b->m->provider[r->outcome], 1);
	switch (r->outcome) {
	case PAY_PROVIDER_OK:
		/* The provider answers a declined authorization 200 "declined": a
		 * refusal. */
		if (r->status && !strcmp(r->status, "declined"))
			goto refused;
		if (c->req.command == PAY_COMMAND_AUTHORIZE && r->provider_ref)
			snprintf(c->pay->provider_ref, sizeof(c->pay->provider_ref), "%s",
				 r->provider_ref);
		pay_batch_transition(c, &c->step.next);
		if (c->req.command == PAY_COMMAND_REFUND)
			pay_batch_refund_row(c, "succeeded");
		pay_batch_answered_row(c, "done");
		pay_batch_answer_final(c, NULL);
		break;
	case PAY_PROVIDER_REFUSED:
	refused:
		if (c->step.refused.state != c->pay->cur.state)
			pay_batch_transition(c, &c->step.refused);
		if (c->req.command == PAY_COMMAND_REFUND)
			pay_batch_refund_row(c, "failed");
		pay_batch_answered_row(c, "done");
		pay_batch_answer_final(c, pay_fsm_error_name(c->step.refused_error));
		break;
	case PAY_PROVIDER_FAILED:
		if (c->lookup) { /* the provider could not say: ask again later */
			pay_batch_park(c);
			break;
		}
		if (c->sent_before) {
			/* This attempt sent nothing, an earlier one may have: unknown. */
			SOUK_LOG_WARN("payment_parked",
				      "payment_id=%s command=%s key=%s error=\"%s\" "
				      "reason=\"an earlier attempt may have been sent\"",
				      c->pay->payment_id,
				      pay_fsm_command_name(c->req.command), c->provider_key,
				      r->error ? r->error : "");
			pay_batch_park(c);
			break;
		}
		pay_batch_answered_row(c, "done");
		c->key->state = PAY_IDEM_KEY_ABSENT; /* not stored: a retry runs again */
		pay_batch_answer_once(c, "provider_unavailable", PAY_BATCH_NEW);
		break;
	case PAY_PROVIDER_UNKNOWN:
		SOUK_LOG_WARN("payment_parked",
			      "payment_id=%s command=%s key=%s error=\"%s\"",
			      c->pay->payment_id, pay_fsm_command_name(c->req.command),
			      c->provider_key, r->error ? r->error : "");
		pay_batch_park(c);
		break;
	case PAY_PROVIDER_NOT_FOUND:
		/* The provider never saw it: send the command itself, same key. */
		c->lookup = false;
		pay_batch_call(c);
		return;
	}
	if (was_parked && c->state == PAY_CMD_DONE)
		b->resolved++;
	pay_batch_next(c);
}

/* Writes the queued intents (committed), then submits their calls. */
static int
pay_batch_submit(struct pay_batch *b)
{
	PGresult *sent = NULL;

	for (int i = 0; i < PAY_SQL_I_COLS; i++)
		if (!souk_pgarray_text(&b->intents[i]))
			return pay_batch_fail(b, "%s", "out of memory");
	if (pay_sql_write_intents(b->intent_pg, b->intents, &sent, b->err,
				  sizeof(b->err))) {
		b->failed = true;
		return -1;
	}
	for (int i = 0; i < PAY_SQL_I_COLS; i++)
		souk_pgarray_reset(&b->intents[i]);
	/* the calls an earlier attempt may have sent (rare: after a crash, or parked) */
	for (int r = 0; sent && r < PQntuples(sent); r++)
		for (size_t i = 0; i < b->nsubmit; i++)
			if (!strcmp(b->submit[i]->provider_key, PQgetvalue(sent, r, 0)))
				b->submit[i]->sent_before = true;
	PQclear(sent);
	for (size_t i = 0; i < b->nsubmit; i++) {
		struct pay_cmd *c = b->submit[i];
		const souk_event_payment_t *p = &c->src->ev.payment;
		struct pay_provider_request req = {
		    .idempotency_key = c->provider_key,
		    .provider_ref = c->pay->provider_ref,
		    .payment_id = p->payment_id,
		    .amount = p->has_amount ? p->amount : 0,
		    .currency = c->pay->cur.currency,
		    .refund_id = p->refund_id,
		};

		switch (c->lookup ? -1 : (int)c->req.command) {
		case PAY_COMMAND_AUTHORIZE:
			req.op = PAY_PROVIDER_AUTHORIZE;
			req.amount = c->pay->cur.amount;
			break;
		case PAY_COMMAND_CAPTURE:
			req.op = PAY_PROVIDER_CAPTURE;
			break;
		case PAY_COMMAND_VOID:
			req.op = PAY_PROVIDER_VOID;
			break;
		case PAY_COMMAND_REFUND:
			req.op = PAY_PROVIDER_REFUND;
			break;
		default:
			req.op = PAY_PROVIDER_LOOKUP;
			break;
		}
		if (pay_provider_submit(b->provider, &req, pay_batch_answered, c, b->err,
					sizeof(b->err))) {
			b->nsubmit = 0;
			b->failed = true;
			return -1;
		}
	}
	b->nsubmit = 0;
	return 0;
}

/* ---- deciding --------------------------------------------------------------------- */

/* Decides c: answers it, or starts its provider call (state CALLING). */
static void
pay_batch_decide(struct pay_cmd *c)
{
	struct pay_batch *b = c->b;
	const souk_event_t *ev = &c->src->ev;
	struct pay_idem_params params = pay_idem_params_from_event(&ev->payment);
	enum pay_fsm_error e;
	bool taken = false;

	if (pay_idem_hash(&params, c->hash, b->err, sizeof(b->err))) {
		b->failed = true;
		return;
	}
	if (!c->lookup) {
		switch (pay_idem_check(c->key->state, c->key->hash, c->hash)) {
		case PAY_IDEM_REPLAY:
			c->state = PAY_CMD_DONE;
			b->counts[PAY_BATCH_REPLAY]++;
			pay_batch_emit(c, c->key->response, strlen(c->key->response),
				       c->key->result_id);
			return;
		case PAY_IDEM_REUSED:
			pay_batch_answer_once(c, PAY_IDEM_REUSED_ERROR, PAY_BATCH_REUSED);
			return;
		case PAY_IDEM_IN_PROGRESS:
			/* Its payment would be parked behind it; an in_progress key of a
			 * payment that is not parked has no command to wait for. */
			pay_batch_answer_once(c, "idempotency_key_in_progress",
					      PAY_BATCH_REUSED);
			return;
		case PAY_IDEM_NEW:
			break;
		}
	}
	if (c->req.command == PAY_COMMAND_SETTLE &&
	    strcmp(ev->client_id, b->conf.settle_client)) {
		pay_batch_answer_once(c, "settle_not_allowed", PAY_BATCH_NEW);
		return;
	}
	if (c->req.command == PAY_COMMAND_REFUND && !c->lookup &&
	    pay_batch_refund_taken(b, c->pay->payment_id, ev->payment.refund_id, false,
				   &taken) == 0 &&
	    taken) {
		pay_batch_answer_final(c, "refund_id_exists");
		return;
	}
	e = pay_fsm_next(&c->pay->cur, &c->req, &c->step);
	if (e != PAY_FSM_OK) {
		pay_batch_answer_final(c, pay_fsm_error_name(e));
		return;
	}
	if (!c->step.provider) {
		pay_batch_transition(c, &c->step.next);
		pay_batch_answer_final(c, NULL);
		return;
	}
	/* It holds its key while the provider answers: another command under the same
	 * key in this call sees it in progress. */
	c->key->state = PAY_IDEM_KEY_IN_PROGRESS;
	memcpy(c->key->hash, c->hash, sizeof(c->key->hash));
	pay_batch_result_id(ev, 0, c->key->result_id);
	if (!c->lookup)
		pay_idem_provider_key(ev->client_id, ev->payment.payment_id,
				      ev->idempotency_key, c->provider_key);
	if (c->req.command == PAY_COMMAND_REFUND &&
	    pay_batch_refund_taken(b, c->pay->payment_id, ev->payment.refund_id, true,
				   &taken)) {
		pay_batch_fail(b, "%s", "out of memory");
		return;
	}
	pay_batch_call(c);
}

/* Runs pay's commands from its cursor until one waits for the provider or none is
 * left. */
static void
pay_batch_advance(struct pay_batch *b, struct pay_pay *pay)
{
	struct pay_cmd *c;

	while (!b->failed && (c = pay->cursor)) {
		if (c->state == PAY_CMD_CALLING)
			return;
		if (pay->parked)
			pay_batch_wait(c);
		else
			pay_batch_decide(c);
		if (c->state == PAY_CMD_CALLING)
			return;
		pay->cursor = c->next;
	}
}

/* Adds the payments rows: every payment that moved. */
static void
pay_batch_payment_rows(struct pay_batch *b)
{
	for (size_t i = 0; i < b->npays; i++) {
		struct pay_pay *pay = b->pay_list[i];
		const struct pay_fsm_payment *p = &pay->cur;
		const char *ref = pay->provider_ref[0] ? pay->provider_ref : NULL;
		struct souk_pgarray *a;

		if (pay->version == pay->version_read)
			continue;
		if (!pay->stored) {
			a = b->rows.created;
			souk_pgarray_add_str(&a[PAY_SQL_P_ID], pay->payment_id);
			souk_pgarray_add_str(&a[PAY_SQL_P_CLIENT], pay->client_id);
			souk_pgarray_add_str(&a[PAY_SQL_P_STATE],
					     pay_fsm_state_name(p->state));
			souk_pgarray_add_str(&a[PAY_SQL_P_CURRENCY], p->currency);
			souk_pgarray_add_int(&a[PAY_SQL_P_AMOUNT], p->amount);
			souk_pgarray_add_int(&a[PAY_SQL_P_AUTHORIZED], p->authorized);
			souk_pgarray_add_int(&a[PAY_SQL_P_CAPTURED], p->captured);
			souk_pgarray_add_int(&a[PAY_SQL_P_REFUNDED], p->refunded);
			souk_pgarray_add_str(&a[PAY_SQL_P_REF], ref);
			souk_pgarray_add_int(&a[PAY_SQL_P_VERSION], pay->version);
			continue;
		}
		a = b->rows.updated;
		souk_pgarray_add_str(&a[PAY_SQL_U_ID], pay->payment_id);
		souk_pgarray_add_str(&a[PAY_SQL_U_STATE], pay_fsm_state_name(p->state));
		souk_pgarray_add_int(&a[PAY_SQL_U_AUTHORIZED], p->authorized);
		souk_pgarray_add_int(&a[PAY_SQL_U_CAPTURED], p->captured);
		souk_pgarray_add_int(&a[PAY_SQL_U_REFUNDED], p->refunded);
		souk_pgarray_add_str(&a[PAY_SQL_U_REF], ref);
		souk_pgarray_add_int(&a[PAY_SQL_U_VERSION], pay->version);
		souk_pgarray_add_int(&a[PAY_SQL_U_OLD_VERSION], pay->version_read);
	}
}

/* Loads, decides every command of the call, writes. */
static enum souk_pool_status
pay_batch_run(struct pay_batch *b, struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	int64_t keep_s = b->conf.key_keep_s;
	enum souk_pool_status st = SOUK_POOL_RETRY;

	if (b->failed || pay_batch_load(b, pg))
		goto out;
	for (size_t i = 0; i < b->npays && !b->failed; i++)
		pay_batch_advance(b, b->pay_list[i]);
	/* Calls go out in waves: each wave's intents in one commit. A callback may queue
	 * the next call of its payment; the loop ends once nothing is in flight. */
	while (b->nsubmit > 0 || pay_provider_pending(b->provider) > 0) {
		if (b->nsubmit > 0 && !b->failed)
			pay_batch_submit(b);
		if (pay_provider_pending(b->provider) == 0)
			break;
		if (pay_provider_run(b->provider, 1000, errstr, errstr_size) < 0) {
			/* The multi handle is broken: what it held is unknown, as after a
			 * crash; the batch runs again with the same provider keys. */
			pay_provider_destroy(b->provider);
			b->provider = pay_provider_new(b->conf.provider_url,
						       b->conf.provider_timeout_ms,
						       b->err, sizeof(b->err));
			pay_batch_fail(b, "%s", errstr);
			if (!b->provider)
				return SOUK_POOL_FAIL;
			break;
		}
	}
	/* Every command is answered or waits: none may be dropped with its offset. */
	for (size_t i = 0; i < b->ncmds && !b->failed; i++)
		if (b->cmds[i].state != PAY_CMD_DONE &&
		    b->cmds[i].state != PAY_CMD_WAITING)
			pay_batch_fail(
			    b,
			    "could not decide payment \"%s\": a command was left "
			    "undecided",
			    b->cmds[i].pay->payment_id);
	if (b->failed)
		goto out;
	pay_batch_payment_rows(b);
	if (pay_sql_write(pg, &b->rows, keep_s, b->err, sizeof(b->err))) {
		/* A unique key stored by another consumer meanwhile: decide one by one.
		 */
		st = !strcmp(souk_pg_sqlstate(pg), "23505") ? SOUK_POOL_FAIL
							    : SOUK_POOL_RETRY;
		b->failed = true;
		goto out;
	}
	st = SOUK_POOL_OK;
out:
	if (b->failed)
		snprintf(errstr, errstr_size, "%s", b->err);
	return b->failed ? st : SOUK_POOL_OK;
}

enum souk_pool_status
pay_batch_apply(struct pay_batch *b, struct souk_txn *t, struct souk_pool_event *events,
		size_t n, char *errstr, size_t errstr_size)
{
	pay_batch_start(b, t, n);
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct souk_pool_event *e = &events[i];

		if (e->status == SOUK_EVENT_OK) {
			pay_batch_add(b, e);
			continue;
		}
		/* Decodes but breaks a rule: answered when it can be addressed. */
		if (e->ev.key_valid && e->ev.idempotency_key[0]) {
			struct pay_cmd c = {.b = b, .src = e};
			struct pay_pay pay = {0};

			c.pay = &pay;
			SOUK_LOG_INFO("payment_invalid", "payment_id=%s error=\"%s\"",
				      e->ev.payment.payment_id, e->err.message);
			if (pay_batch_answer_once(&c, "invalid_command",
						  PAY_BATCH_INVALID) == 0)
				continue;
		}
		/* No answer can be addressed to it. */
		if (souk_txn_dlq(t, e, e->err.message))
			pay_batch_fail(b, "%s", "out of memory");
	}
	return pay_batch_run(b, souk_txn_pg(t), errstr, errstr_size);
}

enum souk_pool_status
pay_batch_janitor(struct pay_batch *b, struct souk_txn *t, const char *topic,
		  const int32_t *partitions, size_t n, char *errstr, size_t errstr_size)
{
	struct souk_pg *pg = souk_txn_pg(t);
	struct souk_pgarray parts = {0};
	struct souk_pool_event *events = NULL;
	enum souk_pool_status st = SOUK_POOL_RETRY;
	PGresult *res = NULL;
	int rows;

	for (size_t i = 0; i < n; i++)
		souk_pgarray_add_int(&parts, partitions[i]);
	if (n == 0 || !souk_pgarray_text(&parts)) {
		st = n == 0 ? SOUK_POOL_OK : SOUK_POOL_RETRY;
		goto out;
	}
	if (pay_sql_load_waiting(pg, topic, souk_pgarray_text(&parts),
				 b->conf.janitor_limit, &res, errstr, errstr_size))
		goto out;
	if ((rows = PQntuples(res)) == 0) {
		st = SOUK_POOL_OK;
		goto out;
	}
	if (!(events = calloc((size_t)rows, sizeof(*events))) ||
	    pay_batch_start(b, t, (size_t)rows)) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	b->resolving = true;
	for (int r = 0; r < rows && !b->failed; r++) {
		struct souk_pool_event *e = &events[r];
		const char *pk = PQgetvalue(res, r, PAY_SQL_WAIT_PROVIDER_KEY);
		struct pay_pay *pay;

		e->topic = PQgetvalue(res, r, PAY_SQL_WAIT_TOPIC);
		e->partition = (int32_t)pay_batch_int(res, r, PAY_SQL_WAIT_PARTITION);
		e->offset = pay_batch_int(res, r, PAY_SQL_WAIT_OFFSET);
		e->value = PQgetvalue(res, r, PAY_SQL_WAIT_EVENT);
		e->len = (size_t)PQgetlength(res, r, PAY_SQL_WAIT_EVENT);
		/* Its rows are all read: delete them, re-insert what still waits. */
		souk_pgarray_add_str(&b->rows.unparked,
				     PQgetvalue(res, r, PAY_SQL_WAIT_PAYMENT_ID));
		e->status = souk_event_decode(e->value, e->len, &e->ev, &e->err);
		if (e->status != SOUK_EVENT_OK) {
			/* It decoded when it was consumed: a codec that changed since. */
			if (souk_txn_dlq(t, e, e->err.message))
				pay_batch_fail(b, "%s", "out of memory");
			continue;
		}
		if (pay_batch_add(b, e))
			break;
		pay = b->cmds[b->ncmds - 1].pay;
		if (pay->head == &b->cmds[b->ncmds - 1] && pk[0]) {
			pay->head->lookup = true;
			snprintf(pay->head->provider_key, sizeof(pay->head->provider_key),
				 "%s", pk);
		}
	}
	st = pay_batch_run(b, pg, errstr, errstr_size);
out:
	PQclear(res);
	free(events);
	souk_pgarray_free(&parts);
	return st;
}

enum souk_pool_status
pay_batch_reap(struct pay_batch *b, struct souk_txn *t, int limit, char *errstr,
	       size_t errstr_size)
{
	long n;

	pay_batch_clear(b);
	if (pay_sql_reap(souk_txn_pg(t), limit, &n, errstr, errstr_size))
		return SOUK_POOL_RETRY;
	if (n > 0)
		souk_metrics_counter_add(b->m->reaped, (uint64_t)n);
	return SOUK_POOL_OK;
}

void
pay_batch_after(struct pay_batch *b, int committed)
{
	if (committed) {
		for (int v = 0; v < PAY_BATCH_VERDICTS; v++)
			souk_metrics_counter_add(b->m->commands[v], b->counts[v]);
		souk_metrics_counter_add(b->m->transitions, b->transitions);
		souk_metrics_counter_add(b->m->parked, b->parked);
		souk_metrics_counter_add(b->m->resolved, b->resolved);
	}
	memset(b->counts, 0, sizeof(b->counts));
	b->transitions = b->parked = b->resolved = 0;
}
