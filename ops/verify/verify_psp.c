/*
 * verify_psp: see verify_psp.h.
 *
 * Memory: O(commands + payments + the provider's distinct keys on them); the
 * provider's listing is read a page (VERIFY_PSP_PAGE operations) at a time.
 */
#include "verify_psp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "pay_fsm.h"
#include "pay_replay.h"
#include "souk_event.h"
#include "souk_json.h"
#include "souk_map.h"
#include "souk_pgarray.h"
#include "verify_topic.h"

#define VERIFY_PSP_CHUNK 5000 /* payment_ids per query */
#define VERIFY_PSP_PAGE 5000  /* operations per page of the provider's listing */
#define VERIFY_PSP_MAX_ANSWER (64 * 1024 * 1024)
#define VERIFY_PSP_TIMEOUT_MS 60000

/* A payment of the window: the ledger's and the provider's figures. */
struct vp_pay {
	char id[SOUK_EVENT_IDENT_SIZE];
	/* the ledger */
	bool stored;
	struct pay_fsm_payment row;
	int64_t version;
	struct pay_replay replay;
	bool illegal;	 /* already counted in illegal_states */
	int64_t waiting; /* payment_waiting rows and in_progress keys */
	int64_t open_intents;
	/* the provider */
	int64_t ops, auths, auth_amount, captures, captured, voids, refunded;
	bool refund_twice;
};

/* A command of the window, by payment_id "\n" idempotency key. */
struct vp_cmd {
	char id[SOUK_EVENT_IDENT_SIZE + SOUK_EVENT_IDEMPOTENCY_KEY_SIZE + 1];
	struct vp_pay *pay;
	bool answered;
};

/* Something counted once per name: a key, "payment\nrefund_id". */
struct vp_seen {
	int64_t n;
	char name[]; /* the map key */
};

struct vp {
	rd_kafka_t *rk;
	struct souk_pg *pg;
	struct verify_psp_figures *f;
	struct souk_map *pays, *cmds, *seen;
	struct vp_pay **pay_list;
	size_t npays, pays_cap;
	struct vp_cmd **cmd_list;
	size_t ncmds, cmds_cap;
	struct vp_seen **seen_list;
	size_t nseen, seen_cap;
	int64_t shown[4]; /* messages printed per kind, up to VERIFY_PSP_SHOWN */
	char *errstr;
	size_t errstr_size;
};

enum vp_kind { VP_LOST, VP_TWICE, VP_ILLEGAL, VP_PARKED };

static const char *const vp_kind_names[] = {"lost", "applied_twice", "illegal_state",
					     "parked"};

/* Names a problem of kind on stderr, the first VERIFY_PSP_SHOWN of each kind. */
static void
vp_say(struct vp *v, enum vp_kind kind, const char *payment_id, const char *fmt, ...)
{
	va_list ap;

	if (v->shown[kind]++ >= VERIFY_PSP_SHOWN)
		return;
	fprintf(stderr, "payment %s: ", payment_id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (%s)\n", vp_kind_names[kind]);
}

static int
vp_oom(struct vp *v)
{
	snprintf(v->errstr, v->errstr_size, "out of memory");
	return -1;
}

/* Appends p to the array *list of *n with room for *cap. Returns 0 or -1. */
static int
vp_push(void ***list, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 1024;
		void **grown = realloc(*list, c * sizeof(*grown));

		if (!grown)
			return -1;
		*list = grown, *cap = c;
	}
	(*list)[(*n)++] = p;
	return 0;
}

/* The payment named id, added when new; NULL when out of memory. */
static struct vp_pay *
vp_pay(struct vp *v, const char *id)
{
	struct vp_pay *p = souk_map_get(v->pays, id);

	if (p)
		return p;
	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	snprintf(p->id, sizeof(p->id), "%s", id);
	/* listed first: a payment in the map is always in the list, which frees it */
	if (vp_push((void ***)&v->pay_list, &v->npays, &v->pays_cap, p)) {
		free(p);
		return NULL;
	}
	return souk_map_put(v->pays, p->id, p) ? NULL : p;
}

/* How many times name was counted before, then counts it; -1 when out of memory. */
static int64_t
vp_count(struct vp *v, const char *name)
{
	struct vp_seen *s = souk_map_get(v->seen, name);
	size_t len = strlen(name);

	if (s)
		return s->n++;
	if (!(s = malloc(sizeof(*s) + len + 1)))
		return -1;
	memcpy(s->name, name, len + 1);
	s->n = 1;
	if (vp_push((void ***)&v->seen_list, &v->nseen, &v->seen_cap, s)) {
		free(s);
		return -1;
	}
	return souk_map_put(v->seen, s->name, s) ? -1 : 0;
}

/* ---- the topics ---------------------------------------------------------------- */

/* A command on `payments`: its payment and (payment, key) join the window. */
static int
vp_on_command(const rd_kafka_message_t *m, const char *result_id, void *opaque)
{
	struct vp *v = opaque;
	souk_event_t ev;
	souk_event_error_t err;
	char id[sizeof(((struct vp_cmd *)0)->id)];
	struct vp_cmd *c;
	struct vp_pay *p;

	(void)result_id;
	v->f->events++;
	/* an undecodable one is answered invalid_command or goes to payments.dlq */
	if (souk_event_decode(m->payload, m->len, &ev, &err) != SOUK_EVENT_OK ||
	    ev.type != SOUK_EVENT_TYPE_PAYMENT)
		return 0;
	snprintf(id, sizeof(id), "%s\n%s", ev.payment.payment_id, ev.idempotency_key);
	if (souk_map_get(v->cmds, id))
		return 0; /* a retry */
	if (!(p = vp_pay(v, ev.payment.payment_id)) || !(c = calloc(1, sizeof(*c))))
		return -1;
	memcpy(c->id, id, sizeof(c->id));
	c->pay = p;
	if (vp_push((void ***)&v->cmd_list, &v->ncmds, &v->cmds_cap, c)) {
		free(c);
		return -1;
	}
	return souk_map_put(v->cmds, c->id, c) ? -1 : 0;
}

/* An answer on `payment-results`. */
static int
vp_on_result(const rd_kafka_message_t *m, const char *result_id, void *opaque)
{
	struct vp *v = opaque;
	souk_event_t ev;
	souk_event_error_t err;
	char id[sizeof(((struct vp_cmd *)0)->id)];
	struct vp_cmd *c;

	(void)result_id;
	if (souk_event_decode(m->payload, m->len, &ev, &err) != SOUK_EVENT_OK ||
	    ev.type != SOUK_EVENT_TYPE_PAYMENT_RESULT)
		return 0;
	snprintf(id, sizeof(id), "%s\n%s", ev.payment_result.payment_id,
		 ev.idempotency_key);
	if ((c = souk_map_get(v->cmds, id)))
		c->answered = true;
	return 0;
}

/* ---- the ledger ---------------------------------------------------------------- */

static const struct {
	const char *name, *sql;
} vp_sql[] = {
    {"psp_payments",
     "SELECT payment_id, state, currency, amount, amount_authorized, amount_captured, "
     "amount_refunded, version FROM payments WHERE payment_id = ANY ($1::text[])"},
    {"psp_history",
     "SELECT payment_id, version, coalesce(from_state, ''), to_state, command, "
     "amount IS NOT NULL, coalesce(amount, 0), client_id || E'\\n' || idempotency_key "
     "FROM payment_transitions WHERE payment_id = ANY ($1::text[]) "
     "ORDER BY payment_id, version"},
    /* what is still parked; the intents by the partial index of the open ones */
    {"psp_open",
     "SELECT id, (SELECT count(*) FROM payment_waiting w WHERE w.payment_id = id) + "
     "(SELECT count(*) FROM idempotency_keys k WHERE k.payment_id = id AND "
     "k.state = 'in_progress'), coalesce(i.n, 0) "
     "FROM unnest($1::text[]) AS u (id) LEFT JOIN (SELECT payment_id, count(*) AS n "
     "FROM payment_intents WHERE state <> 'done' AND payment_id = ANY ($1::text[]) "
     "GROUP BY payment_id) i ON i.payment_id = u.id"},
};

static int64_t
vp_int(const PGresult *res, int r, int c)
{
	return strtoll(PQgetvalue(res, r, c), NULL, 10);
}

/* Marks p illegal, naming why. */
static void
vp_illegal(struct vp *v, struct vp_pay *p, const char *why)
{
	if (p->illegal)
		return;
	p->illegal = true;
	v->f->illegal_states++;
	vp_say(v, VP_ILLEGAL, p->id, "%s", why);
}

static void
vp_payment_row(struct vp *v, const PGresult *res, int r)
{
	struct vp_pay *p = souk_map_get(v->pays, PQgetvalue(res, r, 0));
	char why[256];

	if (!p)
		return;
	p->stored = true;
	v->f->stored++;
	snprintf(p->row.currency, sizeof(p->row.currency), "%s", PQgetvalue(res, r, 2));
	p->row.amount = vp_int(res, r, 3);
	p->row.authorized = vp_int(res, r, 4);
	p->row.captured = vp_int(res, r, 5);
	p->row.refunded = vp_int(res, r, 6);
	p->version = vp_int(res, r, 7);
	pay_replay_init(&p->replay, p->row.currency);
	if (pay_fsm_state_parse(PQgetvalue(res, r, 1), &p->row.state)) {
		snprintf(why, sizeof(why), "state \"%.40s\" is none souk knows",
			 PQgetvalue(res, r, 1));
		vp_illegal(v, p, why);
	} else if (pay_replay_legal(&p->row, why, sizeof(why))) {
		vp_illegal(v, p, why);
	}
}

static void
vp_history_row(struct vp *v, const PGresult *res, int r)
{
	struct vp_pay *p = souk_map_get(v->pays, PQgetvalue(res, r, 0));
	struct pay_replay_row row = {.version = vp_int(res, r, 1),
				     .has_amount = PQgetvalue(res, r, 5)[0] == 't',
				     .amount = vp_int(res, r, 6)};
	const char *from = PQgetvalue(res, r, 2);
	char key[SOUK_EVENT_IDENT_SIZE * 2 + SOUK_EVENT_IDEMPOTENCY_KEY_SIZE + 2];
	char why[300];
	int64_t before;

	if (!p || !p->stored || p->illegal)
		return;
	row.from = PAY_STATE_NONE;
	if ((from[0] && pay_fsm_state_parse(from, &row.from)) ||
	    pay_fsm_state_parse(PQgetvalue(res, r, 3), &row.to) ||
	    pay_fsm_command_parse(PQgetvalue(res, r, 4), &row.command)) {
		snprintf(why, sizeof(why), "version %" PRId64 ": %s from \"%s\" to \"%s\" "
			 "is none souk knows", row.version, PQgetvalue(res, r, 4), from,
			 PQgetvalue(res, r, 3));
		vp_illegal(v, p, why);
		return;
	}
	if (pay_replay_step(&p->replay, &row, why, sizeof(why))) {
		vp_illegal(v, p, why);
		return;
	}
	/* one client key, one transition */
	snprintf(key, sizeof(key), "t\n%s\n%s", p->id, PQgetvalue(res, r, 7));
	if ((before = vp_count(v, key)) > 0) {
		v->f->keys_twice++;
		vp_say(v, VP_TWICE, p->id, "idempotency key \"%s\" applied %" PRId64
		       " transitions", strchr(PQgetvalue(res, r, 7), '\n') + 1, before + 1);
	}
}

/* Runs statement name over the payment_ids [first, first + VERIFY_PSP_CHUNK). */
static int
vp_exec(struct vp *v, const char *name, size_t first, PGresult **res)
{
	struct souk_pgarray ids;
	const char *p[1];
	int rc = -1;

	souk_pgarray_init(&ids);
	for (size_t i = first; i < v->npays && i < first + VERIFY_PSP_CHUNK; i++)
		souk_pgarray_add_str(&ids, v->pay_list[i]->id);
	if (!(p[0] = souk_pgarray_text(&ids)))
		vp_oom(v);
	else
		rc = souk_pg_exec_prepared(v->pg, name, 1, p, res, v->errstr,
					   v->errstr_size)
			 ? -1
			 : 0;
	souk_pgarray_free(&ids);
	return rc;
}

static int
vp_ledger(struct vp *v)
{
	PGresult *res = NULL;

	for (size_t i = 0; i < sizeof(vp_sql) / sizeof(vp_sql[0]); i++)
		if (souk_pg_prepare(v->pg, vp_sql[i].name, vp_sql[i].sql, 1, v->errstr,
				    v->errstr_size))
			return -1;
	for (size_t first = 0; first < v->npays; first += VERIFY_PSP_CHUNK) {
		if (vp_exec(v, "psp_payments", first, &res))
			return -1;
		for (int r = 0; r < PQntuples(res); r++)
			vp_payment_row(v, res, r);
		PQclear(res);
		if (vp_exec(v, "psp_history", first, &res))
			return -1;
		for (int r = 0; r < PQntuples(res); r++)
			vp_history_row(v, res, r);
		PQclear(res);
		if (vp_exec(v, "psp_open", first, &res))
			return -1;
		for (int r = 0; r < PQntuples(res); r++) {
			struct vp_pay *p = souk_map_get(v->pays, PQgetvalue(res, r, 0));

			if (p) {
				p->waiting = vp_int(res, r, 1);
				p->open_intents = vp_int(res, r, 2);
			}
		}
		PQclear(res);
		res = NULL;
	}
	return 0;
}

/* ---- the provider -------------------------------------------------------------- */

struct vp_buf {
	char *data;
	size_t len, cap;
	bool too_large;
};

static size_t
vp_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct vp_buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > VERIFY_PSP_MAX_ANSWER) {
		b->too_large = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(grown = realloc(b->data, cap)))
			return 0;
		b->data = grown, b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static const char *
vp_str(const souk_json_value_t *o, const char *name)
{
	const souk_json_value_t *m = souk_json_object_get(o, name);

	return m && souk_json_type(m) == SOUK_JSON_STRING ? souk_json_string(m, NULL)
							  : NULL;
}

/* One operation of the listing: counted on its payment, if of the window. */
static int
vp_operation(struct vp *v, const souk_json_value_t *op, uint64_t seq)
{
	const char *type = vp_str(op, "type"), *status = vp_str(op, "status");
	const char *pid = vp_str(op, "payment_id"), *key = vp_str(op, "key");
	const char *refund_id = vp_str(op, "refund_id");
	const souk_json_value_t *a = souk_json_object_get(op, "amount");
	char name[SOUK_EVENT_IDENT_SIZE * 2 + SOUK_EVENT_IDEMPOTENCY_KEY_SIZE + 4];
	struct vp_pay *p;
	int64_t amount, before;

	if (!type || !status || !pid || !key || !a || !souk_json_number_int64(a, &amount)) {
		snprintf(v->errstr, v->errstr_size,
			 "could not read the provider's operation %" PRIu64
			 ": type, status, payment_id, key or amount missing",
			 seq);
		return -1;
	}
	if (!(p = souk_map_get(v->pays, pid)))
		return 0; /* not a payment of the window */
	p->ops++;
	v->f->provider_ops++;
	snprintf(name, sizeof(name), "k\n%s", key);
	if ((before = vp_count(v, name)) < 0)
		return vp_oom(v);
	if (before > 0) {
		v->f->charged_twice++;
		vp_say(v, VP_TWICE, pid, "the provider applied key \"%s\" %" PRId64 " times",
		       key, before + 1);
	}
	if (!strcmp(type, "authorize")) {
		if (strcmp(status, "declined")) {
			p->auths++;
			p->auth_amount += amount;
		}
	} else if (!strcmp(type, "capture")) {
		p->captures++;
		p->captured += amount;
	} else if (!strcmp(type, "void")) {
		p->voids++;
	} else if (!strcmp(type, "refund")) {
		p->refunded += amount;
		snprintf(name, sizeof(name), "r\n%s\n%s", pid, refund_id ? refund_id : "");
		if ((before = vp_count(v, name)) < 0)
			return vp_oom(v);
		if (before > 0 && !p->refund_twice) {
			p->refund_twice = true;
			v->f->charged_twice++;
			vp_say(v, VP_TWICE, pid, "the provider refunded refund_id \"%s\" "
			       "twice", refund_id ? refund_id : "");
		}
	}
	return 0;
}

/* Reads every operation the provider applied since since_ms, page by page. */
static int
vp_provider(struct vp *v, const char *url, int64_t since_ms)
{
	static const souk_json_limits_t limits = {.max_bytes = VERIFY_PSP_MAX_ANSWER,
						  .max_depth = 4,
						  .max_members = VERIFY_PSP_PAGE + 16};
	CURL *easy = curl_easy_init();
	struct vp_buf b = {0};
	souk_json_t *doc = NULL;
	char *u = NULL, cerr[CURL_ERROR_SIZE] = "";
	uint64_t after = 0;
	bool more = true;
	int rc = -1;

	if (!easy) {
		vp_oom(v);
		goto out;
	}
	while (more) {
		const souk_json_value_t *root, *ops, *next, *m;
		souk_json_error_t jerr;
		CURLcode cc;
		long status = 0;
		int64_t n;

		free(u);
		b.len = 0;
		if (asprintf(&u, "%s/v1/operations?since=%" PRId64 "&after=%" PRIu64
			     "&limit=%d", url, since_ms, after, VERIFY_PSP_PAGE) < 0) {
			u = NULL;
			vp_oom(v);
			goto out;
		}
		curl_easy_setopt(easy, CURLOPT_URL, u);
		curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)VERIFY_PSP_TIMEOUT_MS);
		curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, vp_write);
		curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
		if ((cc = curl_easy_perform(easy)) != CURLE_OK) {
			snprintf(v->errstr, v->errstr_size,
				 "could not read the provider's operations at %s: %s", u,
				 b.too_large ? "answer too large"
				 : cerr[0]   ? cerr
					     : curl_easy_strerror(cc));
			goto out;
		}
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200) {
			snprintf(v->errstr, v->errstr_size,
				 "could not read the provider's operations at %s: answer %ld "
				 "(%.200s): is it a souk-psp with /v1/operations?",
				 u, status, b.data ? b.data : "");
			goto out;
		}
		souk_json_destroy(doc);
		if (!(doc = souk_json_parse(b.data ? b.data : "", b.len, &limits, &jerr)) ||
		    souk_json_type(root = souk_json_root(doc)) != SOUK_JSON_OBJECT ||
		    !(ops = souk_json_object_get(root, "operations")) ||
		    souk_json_type(ops) != SOUK_JSON_ARRAY ||
		    !(next = souk_json_object_get(root, "next_after")) ||
		    !souk_json_number_int64(next, &n) || n < 0 ||
		    !(m = souk_json_object_get(root, "more")) ||
		    souk_json_type(m) != SOUK_JSON_BOOL) {
			snprintf(v->errstr, v->errstr_size,
				 "could not read the provider's operations at %s: %s", u,
				 doc ? "operations, next_after or more missing"
				     : jerr.message);
			goto out;
		}
		for (size_t i = 0; i < souk_json_array_size(ops); i++)
			if (vp_operation(v, souk_json_array_get(ops, i), after + i + 1))
				goto out;
		more = souk_json_bool(m);
		if (more && (uint64_t)n <= after) {
			snprintf(v->errstr, v->errstr_size,
				 "could not read the provider's operations at %s: the cursor "
				 "did not move past %" PRIu64,
				 u, after);
			goto out;
		}
		after = (uint64_t)n;
	}
	rc = 0;
out:
	souk_json_destroy(doc);
	free(b.data);
	free(u);
	if (easy)
		curl_easy_cleanup(easy);
	return rc;
}

/* ---- the comparison ------------------------------------------------------------ */

/* One figure of p, ledger against provider. */
static void
vp_compare(struct vp *v, const struct vp_pay *p, const char *what, int64_t ledger,
	   int64_t provider)
{
	if (ledger == provider)
		return;
	if (ledger < provider) {
		v->f->ledger_short++;
		vp_say(v, VP_LOST, p->id, "ledger %s %" PRId64 ", provider %" PRId64, what,
		       ledger, provider);
	} else {
		v->f->ledger_over++;
		vp_say(v, VP_TWICE, p->id, "ledger %s %" PRId64 ", provider %" PRId64, what,
		       ledger, provider);
	}
}

static void
vp_settle(struct vp *v, struct vp_pay *p)
{
	char why[256];

	if (p->waiting > 0) {
		v->f->parked++;
		vp_say(v, VP_PARKED, p->id,
		       "still parked (%" PRId64 " waiting rows and in_progress keys): its "
		       "provider outcome is unknown until the janitor asks",
		       p->waiting);
	}
	v->f->open_intents += p->open_intents;
	if (p->auths > 1) {
		v->f->charged_twice += p->auths - 1;
		vp_say(v, VP_TWICE, p->id, "the provider authorized it %" PRId64 " times",
		       p->auths);
	}
	if (p->captures > 1) {
		v->f->charged_twice += p->captures - 1;
		vp_say(v, VP_TWICE, p->id, "the provider captured it %" PRId64 " times",
		       p->captures);
	}
	if (!p->stored) {
		if (p->ops > 0) {
			v->f->ledger_short++;
			vp_say(v, VP_LOST, p->id,
			       "no payments row, the provider applied %" PRId64
			       " operations",
			       p->ops);
		}
		return;
	}
	if (!p->illegal &&
	    pay_replay_finish(&p->replay, &p->row, p->version, why, sizeof(why)))
		vp_illegal(v, p, why);
	if (p->waiting > 0)
		return; /* its outcome is not known yet */
	if (p->auths <= 1)
		vp_compare(v, p, "authorized", p->row.authorized, p->auth_amount);
	if (p->captures <= 1)
		vp_compare(v, p, "captured", p->row.captured, p->captured);
	if (!p->refund_twice)
		vp_compare(v, p, "refunded", p->row.refunded, p->refunded);
	vp_compare(v, p, "voids", p->row.state == PAY_STATE_VOIDED, p->voids);
}

static void
vp_free(struct vp *v)
{
	for (size_t i = 0; i < v->npays; i++)
		free(v->pay_list[i]);
	for (size_t i = 0; i < v->ncmds; i++)
		free(v->cmd_list[i]);
	for (size_t i = 0; i < v->nseen; i++)
		free(v->seen_list[i]);
	free(v->pay_list);
	free(v->cmd_list);
	free(v->seen_list);
	souk_map_destroy(v->pays, NULL);
	souk_map_destroy(v->cmds, NULL);
	souk_map_destroy(v->seen, NULL);
}

int
verify_psp_run(rd_kafka_t *rk, struct souk_pg *pg, const char *url, int64_t since_ms,
	       int64_t until_ms, struct verify_psp_figures *f, char *errstr,
	       size_t errstr_size)
{
	struct vp v = {.rk = rk, .pg = pg, .f = f, .errstr = errstr,
		       .errstr_size = errstr_size};
	int64_t n, answers;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(errstr, errstr_size, "could not initialize libcurl");
		return -1;
	}
	if (!(v.pays = souk_map_new()) || !(v.cmds = souk_map_new()) ||
	    !(v.seen = souk_map_new())) {
		vp_oom(&v);
		goto out;
	}
	if (verify_topic_read(rk, "payments", since_ms, until_ms, vp_on_command, &v, &n,
			      errstr, errstr_size) ||
	    verify_topic_read(rk, "payment-results", since_ms, 0, vp_on_result, &v,
			      &answers, errstr, errstr_size))
		goto out;
	f->commands = (int64_t)v.ncmds;
	f->payments = (int64_t)v.npays;
	/* The ledger first: every effect it holds was applied at the provider before it
	 * committed, so the provider read after it has them all (more only while calls
	 * are in flight: the check wants a quiet system). */
	if (vp_ledger(&v) || vp_provider(&v, url, since_ms))
		goto out;
	for (size_t i = 0; i < v.npays; i++)
		vp_settle(&v, v.pay_list[i]);
	for (size_t i = 0; i < v.ncmds; i++) {
		const struct vp_cmd *c = v.cmd_list[i];

		if (c->answered || c->pay->waiting > 0)
			continue;
		f->unanswered++;
		vp_say(&v, VP_LOST, c->pay->id, "no answer to the command under key \"%s\"",
		       strchr(c->id, '\n') + 1);
	}
	rc = 0;
out:
	vp_free(&v);
	curl_global_cleanup();
	return rc;
}
