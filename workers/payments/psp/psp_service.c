#include "psp_service.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "psp_idem.h"
#include "psp_journal.h"
#include "psp_ledger.h"
#include "psp_record.h"
#include "psp_report.h"
#include "souk_json.h"
#include "souk_log.h"

#define PSP_JSON "application/json"

struct psp_service {
	struct psp_service_conf conf; /* journal not kept: only read at start */
	struct psp_idem *idem;
	pthread_mutex_t mutex; /* guards ledger and journal, in that order of use */
	struct psp_ledger *ledger;
	struct psp_journal *journal; /* NULL without psp.journal */
};

static const char *const psp_outcomes[PSP_OUTCOME_COUNT] = {
    [PSP_OUTCOME_APPLIED] = "applied",
    [PSP_OUTCOME_DECLINED] = "declined",
    [PSP_OUTCOME_REPLAYED] = "replayed",
    [PSP_OUTCOME_ILLEGAL_STATE] = "illegal_state",
    [PSP_OUTCOME_NOT_FOUND] = "not_found",
    [PSP_OUTCOME_KEY_REUSED] = "idempotency_key_reused",
    [PSP_OUTCOME_IN_PROGRESS] = "in_progress",
    [PSP_OUTCOME_INVALID] = "invalid_request",
    [PSP_OUTCOME_PROVIDER_ERROR] = "provider_error",
    [PSP_OUTCOME_INTERNAL_ERROR] = "internal_error",
};

const char *
psp_service_outcome_name(enum psp_outcome outcome)
{
	return (unsigned)outcome < PSP_OUTCOME_COUNT ? psp_outcomes[outcome] : NULL;
}

/* ---- answers ------------------------------------------------------------------ */

void
psp_service_answer_clear(struct psp_answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/* Moves g's buffer into *a as its body (NULL when out of memory) and frees g. */
static void
psp_service_take(struct psp_answer *a, int status, yajl_gen g)
{
	const unsigned char *buf;
	size_t len;

	a->status = status;
	a->content_type = PSP_JSON;
	a->body = NULL;
	a->len = 0;
	if (g && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok &&
	    (a->body = strndup((const char *)buf, len)))
		a->len = len;
	if (g)
		yajl_gen_free(g);
}

/* {"error", "code"[, "field"]} */
static void
psp_service_error_field(struct psp_answer *a, int status, const char *code,
			const char *message, const char *field)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g) {
		yajl_gen_map_open(g);
		souk_json_gen_str(g, "error");
		souk_json_gen_str(g, message);
		souk_json_gen_str(g, "code");
		souk_json_gen_str(g, code);
		if (field && field[0]) {
			souk_json_gen_str(g, "field");
			souk_json_gen_str(g, field);
		}
		yajl_gen_map_close(g);
	}
	psp_service_take(a, status, g);
}

void
psp_service_error(struct psp_answer *a, int status, const char *code, const char *message)
{
	psp_service_error_field(a, status, code, message, NULL);
}

void
psp_service_invalid(struct psp_answer *a, const struct psp_request_error *err)
{
	psp_service_error_field(a, 400, "invalid_request", err->message, err->field);
	a->outcome = PSP_OUTCOME_INVALID;
}

/* The answer to an applied operation. */
static void
psp_service_op_answer(struct psp_answer *a, const struct psp_op *op)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g) {
		yajl_gen_map_open(g);
		souk_json_gen_str(g, "provider_ref");
		souk_json_gen_str(g, op->provider_ref);
		souk_json_gen_str(g, "payment_id");
		souk_json_gen_str(g, op->payment_id);
		souk_json_gen_str(g, "type");
		souk_json_gen_str(g, psp_request_type_name(op->type));
		souk_json_gen_str(g, "status");
		souk_json_gen_str(g, psp_ledger_state_name(op->state));
		souk_json_gen_str(g, "amount");
		yajl_gen_integer(g, op->amount);
		souk_json_gen_str(g, "currency");
		souk_json_gen_str(g, op->currency);
		if (op->type == PSP_OP_REFUND) {
			souk_json_gen_str(g, "refund_id");
			souk_json_gen_str(g, op->refund_id);
			souk_json_gen_str(g, "refunded_total");
			yajl_gen_integer(g, op->refunded_total);
		}
		souk_json_gen_str(g, "key");
		souk_json_gen_str(g, op->key);
		yajl_gen_map_close(g);
	}
	psp_service_take(a, 200, g);
}

/* ---- faults ------------------------------------------------------------------- */

static uint64_t
psp_service_mix(uint64_t x)
{
	/* splitmix64's finalizer: every input bit moves every output bit */
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* True with probability rate, drawn from (seed, what, key, attempt). */
static bool
psp_service_hit(const struct psp_service *svc, const char *what, const char *key,
		unsigned attempt, double rate)
{
	uint64_t h = psp_service_mix(svc->conf.seed) ^ UINT64_C(14695981039346656037);
	const char *parts[2] = {what, key};

	for (int i = 0; i < 2; i++) {
		for (const char *p = parts[i];; p++) { /* FNV-1a, the NUL included */
			h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
			if (!*p)
				break;
		}
	}
	h = psp_service_mix(h ^ attempt);
	return (double)(h >> 11) * 0x1.0p-53 < rate;
}

/* ---- the journal ------------------------------------------------------------- */

/* Replays one journal line into the ledger and the keys. */
static int
psp_service_replay(const char *line, size_t len, unsigned long lineno, void *opaque,
		   char *errstr, size_t errstr_size)
{
	struct psp_service *svc = opaque;
	struct psp_record r;
	struct psp_idem_answer answer;
	char msg[192];

	(void)lineno;
	if (psp_record_decode(line, len, &r, errstr, errstr_size))
		return -1;
	if (r.kind == PSP_RECORD_ANSWER) {
		if (r.has_op && psp_ledger_apply(svc->ledger, &r.op, errstr, errstr_size))
			return -1;
		answer = (struct psp_idem_answer){r.status, (char *)r.body, r.body_len};
		return psp_idem_restore(svc->idem, r.key, r.fingerprint, &answer, errstr,
					errstr_size);
	}
	if (psp_ledger_reportable(svc->ledger, r.op.provider_ref, msg, sizeof(msg))) {
		snprintf(errstr, errstr_size, "test hook: %s", msg);
		return -1;
	}
	if (r.kind == PSP_RECORD_DROP)
		psp_ledger_drop(svc->ledger, r.op.provider_ref);
	else
		psp_ledger_misreport(svc->ledger, r.op.provider_ref, r.op.amount);
	return 0;
}

/* Appends r to the journal, if there is one. Called with the mutex held. */
static int
psp_service_journal(struct psp_service *svc, const struct psp_record *r, char *errstr,
		    size_t errstr_size)
{
	char *line;
	size_t len;
	int rc;

	if (!svc->journal)
		return 0;
	if (psp_record_encode(r, &line, &len)) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	rc = psp_journal_append(svc->journal, line, len, errstr, errstr_size);
	free(line);
	return rc;
}

/* ---- lifecycle ---------------------------------------------------------------- */

struct psp_service *
psp_service_new(const struct psp_service_conf *conf, char *errstr, size_t errstr_size)
{
	struct psp_service *svc = calloc(1, sizeof(*svc));

	if (!svc) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	svc->conf = *conf;
	svc->conf.journal = NULL;
	pthread_mutex_init(&svc->mutex, NULL);
	svc->idem = psp_idem_new();
	svc->ledger = psp_ledger_new();
	if (!svc->idem || !svc->ledger) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	if (conf->journal &&
	    !(svc->journal = psp_journal_open(conf->journal, psp_service_replay, svc,
					      errstr, errstr_size)))
		goto fail;
	return svc;
fail:
	psp_service_destroy(svc);
	return NULL;
}

void
psp_service_destroy(struct psp_service *svc)
{
	if (!svc)
		return;
	psp_journal_close(svc->journal);
	psp_ledger_destroy(svc->ledger);
	psp_idem_destroy(svc->idem);
	pthread_mutex_destroy(&svc->mutex);
	free(svc);
}

/* ---- operations --------------------------------------------------------------- */

static int64_t
psp_service_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
psp_service_begin(struct psp_service *svc, const struct psp_request *req,
		  struct psp_ticket *ticket, struct psp_answer *a)
{
	char fingerprint[PSP_FINGERPRINT_SIZE], msg[400];
	struct psp_idem_answer stored;

	memset(ticket, 0, sizeof(*ticket));
	psp_request_fingerprint(req, fingerprint);
	switch (
	    psp_idem_begin(svc->idem, req->key, fingerprint, &ticket->attempt, &stored)) {
	case PSP_IDEM_NEW:
		ticket->error = psp_service_hit(svc, "error", req->key, ticket->attempt,
						svc->conf.error_rate);
		ticket->timeout = psp_service_hit(
		    svc, "timeout", req->key, ticket->attempt, svc->conf.timeout_rate);
		ticket->decline = psp_service_hit(
		    svc, "decline", req->key, ticket->attempt, svc->conf.decline_rate);
		return true;
	case PSP_IDEM_REPLAY:
		*a = (struct psp_answer){.status = stored.status,
					 .content_type = PSP_JSON,
					 .body = stored.body,
					 .len = stored.len,
					 .replayed = true,
					 .outcome = PSP_OUTCOME_REPLAYED};
		return false;
	case PSP_IDEM_IN_PROGRESS:
		snprintf(msg, sizeof(msg),
			 "a request under Idempotency-Key \"%.255s\" is still "
			 "executing: retry later",
			 req->key);
		psp_service_error(a, 409, "in_progress", msg);
		a->outcome = PSP_OUTCOME_IN_PROGRESS;
		return false;
	case PSP_IDEM_REUSED:
		snprintf(msg, sizeof(msg),
			 "Idempotency-Key \"%.255s\" was used with other "
			 "parameters: use a new key",
			 req->key);
		psp_service_error(a, 422, "idempotency_key_reused", msg);
		a->outcome = PSP_OUTCOME_KEY_REUSED;
		return false;
	default:
		psp_service_error(a, 500, "internal_error", "out of memory");
		a->outcome = PSP_OUTCOME_INTERNAL_ERROR;
		return false;
	}
}

void
psp_service_execute(struct psp_service *svc, const struct psp_request *req,
		    const struct psp_ticket *ticket, struct psp_answer *a)
{
	struct psp_record r = {.kind = PSP_RECORD_ANSWER};
	struct psp_idem_answer stored = {0};
	enum psp_ledger_rc rc;
	char msg[256], errstr[512];

	if (ticket->error) {
		psp_idem_abandon(svc->idem, req->key);
		psp_service_error(a, 500, "provider_error",
				  "injected error (psp.error_rate): nothing was applied");
		a->outcome = PSP_OUTCOME_PROVIDER_ERROR;
		return;
	}
	memcpy(r.key, req->key, sizeof(r.key));
	psp_request_fingerprint(req, r.fingerprint);
	pthread_mutex_lock(&svc->mutex);
	rc = psp_ledger_check(svc->ledger, req, ticket->decline, psp_service_now_ms(),
			      &r.op, msg, sizeof(msg));
	if (rc == PSP_LEDGER_OK) {
		psp_service_op_answer(a, &r.op);
		a->outcome = r.op.state == PSP_STATE_DECLINED ? PSP_OUTCOME_DECLINED
							      : PSP_OUTCOME_APPLIED;
	} else if (rc == PSP_LEDGER_NOT_FOUND) {
		psp_service_error(a, 404, "not_found", msg);
		a->outcome = PSP_OUTCOME_NOT_FOUND;
	} else {
		psp_service_error(a, 409, "illegal_state", msg);
		a->outcome = PSP_OUTCOME_ILLEGAL_STATE;
	}
	r.status = a->status;
	r.body = a->body;
	r.body_len = a->len;
	r.has_op = rc == PSP_LEDGER_OK;
	stored = (struct psp_idem_answer){
	    a->status, a->body ? strndup(a->body, a->len) : NULL, a->len};
	if (!stored.body) {
		snprintf(errstr, sizeof(errstr), "out of memory");
		goto fail;
	}
	/* The answer is durable before it takes effect. apply can only run out of memory
	 * here (check just passed); the journal then holds an operation this process
	 * lacks until it restarts. */
	if (psp_service_journal(svc, &r, errstr, sizeof(errstr)) ||
	    (r.has_op && psp_ledger_apply(svc->ledger, &r.op, errstr, sizeof(errstr))))
		goto fail;
	pthread_mutex_unlock(&svc->mutex);
	psp_idem_finish(svc->idem, req->key, &stored); /* stored.body moves */
	return;
fail:
	pthread_mutex_unlock(&svc->mutex);
	SOUK_LOG_ERROR("operation_failed", "type=%s key=%s error=%s",
		       psp_request_type_name(req->type), req->key, errstr);
	free(stored.body);
	psp_idem_abandon(svc->idem, req->key);
	psp_service_answer_clear(a);
	psp_service_error(a, 500, "internal_error", errstr);
	a->outcome = PSP_OUTCOME_INTERNAL_ERROR;
}

void
psp_service_abandon(struct psp_service *svc, const struct psp_request *req)
{
	psp_idem_abandon(svc->idem, req->key);
}

/* ---- reading ------------------------------------------------------------------ */

void
psp_service_lookup(struct psp_service *svc, const char *key, struct psp_answer *a)
{
	struct psp_idem_answer stored;
	char msg[400];
	yajl_gen g;

	switch (psp_idem_lookup(svc->idem, key, &stored)) {
	case PSP_IDEM_REPLAY:
		break;
	case PSP_IDEM_IN_PROGRESS:
		snprintf(msg, sizeof(msg),
			 "the request under key \"%.255s\" is still executing", key);
		psp_service_error(a, 409, "in_progress", msg);
		return;
	case PSP_IDEM_UNKNOWN:
		snprintf(msg, sizeof(msg), "nothing was applied under key \"%.255s\"",
			 key);
		psp_service_error(a, 404, "unknown_key", msg);
		return;
	default:
		psp_service_error(a, 500, "internal_error", "out of memory");
		return;
	}
	/* {"key": ..., "status": ..., "body": <the stored body, byte for byte>} */
	g = yajl_gen_alloc(NULL);
	if (g) {
		yajl_gen_map_open(g);
		souk_json_gen_str(g, "key");
		souk_json_gen_str(g, key);
		souk_json_gen_str(g, "status");
		yajl_gen_integer(g, stored.status);
		yajl_gen_map_close(g);
	}
	psp_service_take(a, 200, g);
	if (a->body) { /* a->len - 1 drops the closing brace */
		char *wrapped = NULL;
		int n = asprintf(&wrapped, "%.*s,\"body\":%s}", (int)a->len - 1, a->body,
				 stored.body);

		free(a->body);
		a->body = n < 0 ? NULL : wrapped;
		a->len = n < 0 ? 0 : (size_t)n;
	}
	free(stored.body);
}

struct psp_service_gen {
	yajl_gen g;
	int64_t settle_delay_ms;
};

/* op's members, in a map the caller opened and closes. */
static void
psp_service_gen_op_members(const struct psp_op *op, const struct psp_service_gen *sg)
{
	yajl_gen g = sg->g;
	char ts[PSP_REPORT_TS_SIZE];

	souk_json_gen_str(g, "type");
	souk_json_gen_str(g, psp_request_type_name(op->type));
	souk_json_gen_str(g, "provider_ref");
	souk_json_gen_str(g, op->provider_ref);
	souk_json_gen_str(g, "status");
	souk_json_gen_str(g, psp_ledger_state_name(op->state));
	souk_json_gen_str(g, "amount");
	yajl_gen_integer(g, op->amount);
	souk_json_gen_str(g, "currency");
	souk_json_gen_str(g, op->currency);
	if (op->type == PSP_OP_REFUND) {
		souk_json_gen_str(g, "refund_id");
		souk_json_gen_str(g, op->refund_id);
	}
	souk_json_gen_str(g, "key");
	souk_json_gen_str(g, op->key);
	souk_json_gen_str(g, "at");
	souk_json_gen_str(g, psp_report_ts(op->at_ms, ts));
	if (op->type == PSP_OP_CAPTURE || op->type == PSP_OP_REFUND) {
		souk_json_gen_str(g, "settled_at");
		souk_json_gen_str(g, psp_report_ts(op->at_ms + sg->settle_delay_ms, ts));
	}
}

static void
psp_service_gen_op(const struct psp_op *op, void *opaque)
{
	struct psp_service_gen *sg = opaque;

	yajl_gen_map_open(sg->g);
	psp_service_gen_op_members(op, sg);
	yajl_gen_map_close(sg->g);
}

/* An operation of the listing: its number, then what the ledger view shows. */
static void
psp_service_gen_listed(uint64_t seq, const struct psp_op *op, void *opaque)
{
	struct psp_service_gen *sg = opaque;

	yajl_gen_map_open(sg->g);
	souk_json_gen_str(sg->g, "seq");
	yajl_gen_integer(sg->g, (long long)seq);
	souk_json_gen_str(sg->g, "payment_id");
	souk_json_gen_str(sg->g, op->payment_id);
	psp_service_gen_op_members(op, sg);
	yajl_gen_map_close(sg->g);
}

void
psp_service_ledger(struct psp_service *svc, const char *payment_id, struct psp_answer *a)
{
	struct psp_service_gen sg = {yajl_gen_alloc(NULL), svc->conf.settle_delay_ms};

	if (sg.g) {
		yajl_gen_map_open(sg.g);
		souk_json_gen_str(sg.g, "payment_id");
		souk_json_gen_str(sg.g, payment_id);
		souk_json_gen_str(sg.g, "operations");
		yajl_gen_array_open(sg.g);
		pthread_mutex_lock(&svc->mutex);
		psp_ledger_ops(svc->ledger, payment_id, psp_service_gen_op, &sg);
		pthread_mutex_unlock(&svc->mutex);
		yajl_gen_array_close(sg.g);
		yajl_gen_map_close(sg.g);
	}
	psp_service_take(a, 200, sg.g);
}

/* A query parameter that must be an integer in [min, max] (def when absent) into
 * *out. Returns 0, or -1 with *err filled. */
static int
psp_service_int_arg(const char *name, const char *text, int64_t def, int64_t min,
		    int64_t max, int64_t *out, struct psp_request_error *err)
{
	char *end;
	long long v;

	*out = def;
	if (!text)
		return 0;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (end != text && !*end && errno == 0 && v >= min && v <= max) {
		*out = v;
		return 0;
	}
	snprintf(err->field, sizeof(err->field), "%s", name);
	snprintf(err->message, sizeof(err->message),
		 "%s: \"%.40s\" is not an integer from %lld to %lld", name, text,
		 (long long)min, (long long)max);
	return -1;
}

void
psp_service_operations(struct psp_service *svc, const char *since, const char *after,
		       const char *limit, struct psp_answer *a)
{
	struct psp_service_gen sg = {NULL, svc->conf.settle_delay_ms};
	struct psp_request_error err;
	int64_t since_ms = 0, after_n, limit_n;
	uint64_t last;
	bool more;

	memset(&err, 0, sizeof(err));
	if (since && souk_event_ts_ms(since, &since_ms) &&
	    psp_service_int_arg("since", since, 0, 0, INT64_MAX, &since_ms, &err)) {
		snprintf(err.message, sizeof(err.message),
			 "since: \"%.40s\" is neither a time like "
			 "2026-11-27T10:00:00.000Z nor unix milliseconds",
			 since);
		psp_service_invalid(a, &err);
		return;
	}
	if (psp_service_int_arg("after", after, 0, 0, INT64_MAX, &after_n, &err) ||
	    psp_service_int_arg("limit", limit, PSP_SERVICE_LIST_DEFAULT, 1,
				PSP_SERVICE_LIST_MAX, &limit_n, &err)) {
		psp_service_invalid(a, &err);
		return;
	}
	if ((sg.g = yajl_gen_alloc(NULL))) {
		yajl_gen_map_open(sg.g);
		souk_json_gen_str(sg.g, "operations");
		yajl_gen_array_open(sg.g);
		pthread_mutex_lock(&svc->mutex);
		psp_ledger_list(svc->ledger, (uint64_t)after_n, since_ms, (size_t)limit_n,
				psp_service_gen_listed, &sg, &last, &more);
		pthread_mutex_unlock(&svc->mutex);
		yajl_gen_array_close(sg.g);
		souk_json_gen_str(sg.g, "next_after");
		yajl_gen_integer(sg.g, (long long)last);
		souk_json_gen_str(sg.g, "more");
		yajl_gen_bool(sg.g, more);
		yajl_gen_map_close(sg.g);
	}
	psp_service_take(a, 200, sg.g);
}

void
psp_service_report(struct psp_service *svc, const char *date, struct psp_answer *a)
{
	struct psp_request_error err = {.field = "date"};
	struct psp_settlement *rows;
	int64_t start, end;
	size_t n;
	int rc;

	if (!date) {
		snprintf(err.message, sizeof(err.message),
			 "date: is required (?date=YYYY-MM-DD)");
		psp_service_invalid(a, &err);
		return;
	}
	if (psp_report_day(date, &start, &end, err.message, sizeof(err.message))) {
		psp_service_invalid(a, &err);
		return;
	}
	pthread_mutex_lock(&svc->mutex);
	rc = psp_ledger_settlements(svc->ledger, svc->conf.settle_delay_ms, &rows, &n);
	pthread_mutex_unlock(&svc->mutex);
	if (rc == 0)
		rc = psp_report_csv(rows, n, start, end, &a->body, &a->len);
	free(rows);
	if (rc) {
		psp_service_error(a, 500, "internal_error", "out of memory");
		return;
	}
	a->status = 200;
	a->content_type = "text/csv; charset=utf-8";
}

/* Journals and applies a test hook; r->op.provider_ref (and amount) set. */
static void
psp_service_hook(struct psp_service *svc, struct psp_record *r, struct psp_answer *a)
{
	enum psp_ledger_rc rc;
	char msg[256], errstr[512];
	yajl_gen g;

	pthread_mutex_lock(&svc->mutex);
	rc = psp_ledger_reportable(svc->ledger, r->op.provider_ref, msg, sizeof(msg));
	if (rc == PSP_LEDGER_OK && psp_service_journal(svc, r, errstr, sizeof(errstr))) {
		pthread_mutex_unlock(&svc->mutex);
		psp_service_error(a, 500, "internal_error", errstr);
		return;
	}
	if (rc == PSP_LEDGER_OK && r->kind == PSP_RECORD_DROP)
		psp_ledger_drop(svc->ledger, r->op.provider_ref);
	else if (rc == PSP_LEDGER_OK)
		psp_ledger_misreport(svc->ledger, r->op.provider_ref, r->op.amount);
	pthread_mutex_unlock(&svc->mutex);
	if (rc == PSP_LEDGER_NOT_FOUND) {
		psp_service_error(a, 404, "not_found", msg);
		return;
	}
	if (rc == PSP_LEDGER_ILLEGAL) {
		psp_service_error(a, 409, "illegal_state", msg);
		return;
	}
	g = yajl_gen_alloc(NULL);
	if (g) {
		yajl_gen_map_open(g);
		souk_json_gen_str(g, "provider_ref");
		souk_json_gen_str(g, r->op.provider_ref);
		souk_json_gen_str(g, "hook");
		souk_json_gen_str(g, r->kind == PSP_RECORD_DROP ? "drop" : "amount");
		if (r->kind == PSP_RECORD_MISREPORT) {
			souk_json_gen_str(g, "amount");
			yajl_gen_integer(g, r->op.amount);
		}
		yajl_gen_map_close(g);
	}
	psp_service_take(a, 200, g);
}

void
psp_service_drop(struct psp_service *svc, const char *provider_ref, struct psp_answer *a)
{
	struct psp_record r = {.kind = PSP_RECORD_DROP};

	snprintf(r.op.provider_ref, sizeof(r.op.provider_ref), "%s", provider_ref);
	psp_service_hook(svc, &r, a);
}

void
psp_service_misreport(struct psp_service *svc, const char *provider_ref, const char *body,
		      size_t len, struct psp_answer *a)
{
	static const souk_json_limits_t limits = {
	    .max_bytes = 4096, .max_depth = 1, .max_members = 4};
	struct psp_record r = {.kind = PSP_RECORD_MISREPORT};
	struct psp_request_error err = {.field = "amount"};
	souk_json_space_t space;
	souk_json_error_t jerr;
	souk_json_t *doc = souk_json_parse_in(&space, body, len, &limits, &jerr);
	const souk_json_value_t *root = doc ? souk_json_root(doc) : NULL;
	const souk_json_value_t *amount =
	    root ? souk_json_object_get(root, "amount") : NULL;

	if (!amount || souk_json_object_size(root) != 1 ||
	    !souk_json_number_int64(amount, &r.op.amount) || r.op.amount < 0 ||
	    r.op.amount > PSP_AMOUNT_MAX) {
		snprintf(err.message, sizeof(err.message),
			 "amount: the body must be {\"amount\": n} with n from 0 to %lld",
			 (long long)PSP_AMOUNT_MAX);
		psp_service_invalid(a, &err);
	} else {
		snprintf(r.op.provider_ref, sizeof(r.op.provider_ref), "%s",
			 provider_ref);
		psp_service_hook(svc, &r, a);
	}
	souk_json_destroy(doc);
}
