#include "lg_payments.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lg_heap.h"

#define LG_PAY_STARTS_PER_S 20.0

enum {
	LG_PAY_STREAM_TIME = 1, /* arrivals */
	LG_PAY_STREAM_SCRIPT,	/* scripts, amounts, delays */
	LG_PAY_STREAM_RETRY,	/* which commands are sent twice */
};

/* Amounts drawn uniformly in [lo, hi] minor units: about 5 to 500 euros' worth. */
static const struct {
	const char *code;
	int64_t lo, hi;
} lg_pay_currencies[] = {
    {"EUR", 500, 50000},
    {"USD", 500, 50000},
    {"JPY", 500, 50000},
    {"KWD", 1500, 150000},
};
#define LG_PAY_NCURRENCIES (sizeof(lg_pay_currencies) / sizeof(lg_pay_currencies[0]))

enum lg_pay_kind {
	LG_PAY_NORMAL,
	LG_PAY_RETRY,	 /* an identical re-send */
	LG_PAY_CONFLICT, /* a key reused with other parameters */
	LG_PAY_ILLEGAL,	 /* a transition the state machine refuses */
};

/* One command on the agenda. */
struct lg_pay_cmd {
	struct lg_heap_key key;
	long long payment; /* p-<tag>-<payment> */
	souk_event_command_t command;
	int64_t amount; /* minor units; -1: the command carries none */
	int currency;	/* index into lg_pay_currencies */
	int refund;	/* refund number from 1, 0 for other commands */
	enum lg_pay_kind kind;
	char step[16]; /* idempotency key suffix */
};

struct lg_payments {
	const struct lg_run *run;
	const struct lg_payments_opts *opts;
	struct lg_heap *agenda;
	struct lg_rand time, script, retry;
	int64_t t_ms; /* the script being built: time of its last command */
};

void
lg_payments_defaults(struct lg_payments_opts *opts)
{
	opts->payments = 1000;
	opts->retry_share = 0.05;
}

/* Schedules a command delay_ms after the previous one of the script, and maybe its
 * retry. Returns 0, or -1 when out of memory. */
static int
lg_pay_add(struct lg_payments *g, const struct lg_pay_cmd *proto, int64_t delay_ms,
	   enum lg_pay_kind kind)
{
	struct lg_pay_cmd cmd = *proto;

	/* Strictly later than the previous command: one payment's commands never
	 * share a millisecond, so their order survives any re-sorting by time. */
	g->t_ms += delay_ms > 0 ? delay_ms : 1;
	cmd.key.t_ms = g->t_ms;
	cmd.kind = kind;
	if (lg_heap_push(g->agenda, &cmd) != 0)
		return -1;
	if (!lg_rand_chance(&g->retry, g->opts->retry_share))
		return 0;
	g->t_ms += lg_rand_between(&g->retry, 500, 5000);
	cmd.key.t_ms = g->t_ms;
	cmd.kind = LG_PAY_RETRY;
	return lg_heap_push(g->agenda, &cmd);
}

static void
lg_pay_cmd_set(struct lg_pay_cmd *c, souk_event_command_t command, int64_t amount,
	       int refund, const char *step)
{
	c->command = command;
	c->amount = amount;
	c->refund = refund;
	snprintf(c->step, sizeof(c->step), "%s", step);
}

/* Draws the script of payment n starting at t_ms and puts all its commands on the
 * agenda (see the header for the shares). Returns 0, or -1 when out of memory. */
static int
lg_pay_script(struct lg_payments *g, long long n, int64_t t_ms)
{
	struct lg_rand *r = &g->script;
	struct lg_pay_cmd c = {.payment = n};
	double kind = lg_rand_double(r);
	int capture = kind < 0.60, voided = kind >= 0.60 && kind < 0.75;
	int authorize = kind < 0.90;
	int illegal = lg_rand_chance(r, 0.02), conflict = lg_rand_chance(r, 0.01);
	int64_t amount, captured;
	int rc;

	c.currency = (int)lg_rand_below(r, LG_PAY_NCURRENCIES);
	amount = lg_rand_between(r, lg_pay_currencies[c.currency].lo,
				 lg_pay_currencies[c.currency].hi);
	captured =
	    lg_rand_chance(r, 0.1) ? amount * lg_rand_between(r, 50, 99) / 100 : amount;
	g->t_ms = t_ms;

	lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_CREATE, amount, 0, "create");
	rc = lg_pay_add(g, &c, 0, LG_PAY_NORMAL);
	if (rc == 0 && conflict) {
		lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_CREATE, amount + 100, 0, "create");
		rc = lg_pay_add(g, &c, lg_rand_between(r, 500, 5000), LG_PAY_CONFLICT);
	}
	if (rc == 0 && illegal && !capture) {
		lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_CAPTURE, amount, 0,
			       "capture-early");
		rc = lg_pay_add(g, &c, lg_rand_between(r, 100, 1000), LG_PAY_ILLEGAL);
	}
	if (rc == 0 && authorize) {
		lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_AUTHORIZE, -1, 0, "authorize");
		rc = lg_pay_add(g, &c, lg_rand_between(r, 200, 2000), LG_PAY_NORMAL);
	}
	if (rc == 0 && voided) {
		lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_VOID, -1, 0, "void");
		rc = lg_pay_add(g, &c, lg_rand_between(r, 1000, 60000), LG_PAY_NORMAL);
	}
	if (rc == 0 && capture) {
		lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_CAPTURE, captured, 0, "capture");
		rc = lg_pay_add(g, &c, lg_rand_between(r, 1000, 60000), LG_PAY_NORMAL);
	}
	if (rc == 0 && capture && lg_rand_chance(r, 0.25)) {
		double how = lg_rand_double(r);
		/* 40 % one partial refund, 30 % one full, 30 % two parts adding up. */
		int64_t first =
		    how < 0.3 ? captured : captured * lg_rand_between(r, 10, 90) / 100;

		lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_REFUND, first, 1, "refund-1");
		rc = lg_pay_add(g, &c, lg_rand_between(r, 10000, 300000), LG_PAY_NORMAL);
		if (rc == 0 && how >= 0.7 && captured > first) {
			lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_REFUND, captured - first, 2,
				       "refund-2");
			rc = lg_pay_add(g, &c, lg_rand_between(r, 10000, 300000),
					LG_PAY_NORMAL);
		}
	}
	if (rc == 0 && illegal && capture) {
		if (lg_rand_chance(r, 0.5)) {
			/* More than was captured, whatever was refunded before. */
			lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_REFUND, captured + 1, 3,
				       "refund-over");
		} else {
			lg_pay_cmd_set(&c, SOUK_EVENT_COMMAND_VOID, -1, 0, "void-late");
		}
		rc = lg_pay_add(g, &c, lg_rand_between(r, 1000, 60000), LG_PAY_ILLEGAL);
	}
	return rc;
}

static int
lg_pay_write(struct lg_payments *g, const struct lg_pay_cmd *c, struct lg_out *out,
	     struct lg_payments_stats *stats, char *errstr, size_t errstr_size)
{
	char payment_id[SOUK_EVENT_IDENT_SIZE], key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE];
	souk_event_t ev;
	int rc;

	snprintf(payment_id, sizeof(payment_id), "p-%s-%lld", g->run->tag, c->payment);
	snprintf(key, sizeof(key), "%s:%s", payment_id, c->step);
	lg_run_event(g->run, &ev, SOUK_EVENT_TYPE_PAYMENT, c->key.t_ms, key, NULL);
	ev.payment.command = c->command;
	memcpy(ev.payment.payment_id, payment_id, sizeof(payment_id));
	if (c->amount >= 0) {
		ev.payment.has_amount = true;
		ev.payment.amount = c->amount;
		snprintf(ev.payment.currency, sizeof(ev.payment.currency), "%s",
			 lg_pay_currencies[c->currency].code);
	}
	if (c->refund > 0)
		snprintf(ev.payment.refund_id, sizeof(ev.payment.refund_id),
			 "p-%s-%lld-r%d", g->run->tag, c->payment, c->refund);
	rc = lg_out_event(out, &ev, errstr, errstr_size);
	if (rc != LG_OUT_OK)
		return rc;
	stats->commands++;
	stats->payments +=
	    c->command == SOUK_EVENT_COMMAND_CREATE && c->kind == LG_PAY_NORMAL;
	stats->retries += c->kind == LG_PAY_RETRY;
	stats->conflicts += c->kind == LG_PAY_CONFLICT;
	stats->illegal += c->kind == LG_PAY_ILLEGAL;
	return LG_OUT_OK;
}

int
lg_payments_run(const struct lg_run *run, const struct lg_payments_opts *opts,
		struct lg_out *out, struct lg_payments_stats *stats, char *errstr,
		size_t errstr_size)
{
	struct lg_payments g = {.run = run, .opts = opts};
	double next_start = (double)run->start_ms;
	long long started = 0;
	struct lg_pay_cmd cmd;
	int ret = -1, rc = LG_OUT_OK;

	memset(stats, 0, sizeof(*stats));
	g.agenda = lg_heap_new(sizeof(struct lg_pay_cmd), errstr, errstr_size);
	if (g.agenda == NULL)
		goto out;
	lg_rand_seed(&g.time, run->seed, LG_PAY_STREAM_TIME);
	lg_rand_seed(&g.script, run->seed, LG_PAY_STREAM_SCRIPT);
	lg_rand_seed(&g.retry, run->seed, LG_PAY_STREAM_RETRY);
	while (rc == LG_OUT_OK) {
		const struct lg_pay_cmd *next = lg_heap_peek(g.agenda);

		/* Start every payment due before the earliest pending command, so
		 * commands come out in time order. */
		if (started < opts->payments &&
		    (next == NULL || (int64_t)next_start <= next->key.t_ms)) {
			if (lg_pay_script(&g, ++started, (int64_t)next_start) != 0) {
				snprintf(errstr, errstr_size,
					 "could not allocate the payments agenda");
				goto out;
			}
			next_start += -log(1.0 - lg_rand_double(&g.time)) * 1000.0 /
				      LG_PAY_STARTS_PER_S;
			continue;
		}
		if (!lg_heap_pop(g.agenda, &cmd))
			break;
		rc = lg_pay_write(&g, &cmd, out, stats, errstr, errstr_size);
	}
	if (rc == LG_OUT_ERROR)
		goto out;
	ret = 0;
out:
	lg_heap_destroy(g.agenda);
	return ret;
}
