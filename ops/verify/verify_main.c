/*
 * souk-verify: checks souk's promises over a window of traffic, from PostgreSQL and
 * the topics: nothing lost, nothing applied twice, never oversold, one driver per ride.
 *
 *   souk-verify [--since TS|DURATION] [--until TS] [--acked FILE] [--psp URL]
 *               [--faults N] [CHECK...]
 *
 * CHECK is orders, rides, payments (which needs --psp), or by default orders and rides,
 * and payments too with --psp. The window is every message stamped
 * --since or later (default 10m ago) and before --until (default: up to now) on the
 * source topics; their answers are looked for up to now.
 *
 *   orders  every order_id on `orders` is decided (a row in `orders`) or, undecodable,
 *           in orders.dlq; its answers on `order-results` all carry one result id,
 *           the row's; per SKU of the window's orders, units sold since its last
 *           stock_set <= that stock and sold + available == stock; per (SKU, user),
 *           the purchases row equals the accepted orders.
 *   rides   every request_id on `ride-requests` has its ride; no driver holds two open
 *           rides (offered, accepted, started), nor has two claims; each decision's
 *           ride_match messages (per request, driver and status) share one result id.
 *   payments every command answered, nothing charged twice at the provider, every
 *           payment in a legal state reached by legal transitions, the ledger's
 *           amounts equal to the provider's (verify_psp.h); the provider's side is
 *           souk-psp's operations listing at --psp URL.
 *   --acked FILE: one event_id per line, those a client got a 202 (or a delivery
 *           report) for: each must be on its topic in the window.
 *
 * Prints a line per check with its figures, then
 *   events N faults F lost L applied_twice A oversold O double_booked D split_ids S
 *   illegal_states I
 * Exit 0 when every figure after faults is 0 and no payment is still parked, 1 when
 * not, 2 on a usage error or a failure to read.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "souk_cli.h"
#include "souk_config.h"
#include "souk_event.h"
#include "souk_map.h"
#include "souk_pg.h"
#include "souk_pgarray.h"
#include "verify_psp.h"
#include "verify_topic.h"

#define VERIFY_CHUNK 5000 /* business keys per query */

/* A business key seen in the window. */
struct verify_key {
	char id[SOUK_EVENT_IDENT_SIZE];
	char result_id[40]; /* the first answer's; "" when none yet */
	bool split;	    /* an answer with another result id */
	bool decided;
};

struct verify {
	rd_kafka_t *rk;
	struct souk_pg *pg;
	int64_t since_ms, until_ms; /* the window; until_ms 0: up to now */
	struct souk_map *event_ids; /* every event_id read on the source topics */
	struct verify_key **keys;   /* the current check's keys */
	size_t nkeys, cap;
	struct souk_map *by_id;
	struct souk_map *skus; /* the SKUs of the window's orders */
	struct souk_pgarray sku_list;
	int64_t events, lost, twice, oversold, double_booked, split, illegal, parked;
	char errstr[512];
};

static int64_t
verify_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
verify_free_key(void *v)
{
	free(v);
}

/* Forgets the previous check's keys. */
static int
verify_reset(struct verify *v)
{
	souk_map_destroy(v->by_id, verify_free_key);
	free(v->keys);
	v->keys = NULL;
	v->nkeys = v->cap = 0;
	return (v->by_id = souk_map_new()) ? 0 : -1;
}

/* The key named id, added if new; NULL when out of memory. */
static struct verify_key *
verify_key(struct verify *v, const char *id)
{
	struct verify_key *k = souk_map_get(v->by_id, id);

	if (k)
		return k;
	if (v->nkeys == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 1024;
		struct verify_key **keys = realloc(v->keys, cap * sizeof(*keys));

		if (!keys)
			return NULL;
		v->keys = keys, v->cap = cap;
	}
	if (!(k = calloc(1, sizeof(*k))))
		return NULL;
	snprintf(k->id, sizeof(k->id), "%s", id);
	if (souk_map_put(v->by_id, k->id, k)) {
		free(k);
		return NULL;
	}
	v->keys[v->nkeys++] = k;
	return k;
}

/* Remembers the event_id of a source message (for --acked). */
static int
verify_event_id(struct verify *v, const souk_event_t *ev)
{
	char *id;

	if (souk_map_get(v->event_ids, ev->event_id))
		return 0;
	if (!(id = strdup(ev->event_id)) || souk_map_put(v->event_ids, id, id)) {
		free(id);
		return -1;
	}
	return 0;
}

/* ---- reading the topics ------------------------------------------------------------ */

/* A source message: its business key joins the check's keys. */
static int
verify_on_source(const rd_kafka_message_t *m, const char *result_id, void *opaque)
{
	struct verify *v = opaque;
	souk_event_t ev;
	souk_event_error_t err;
	const char *key;

	(void)result_id;
	v->events++;
	if (souk_event_decode(m->payload, m->len, &ev, &err) != SOUK_EVENT_OK)
		return 0; /* its decision is a DLQ entry, counted apart */
	if (verify_event_id(v, &ev))
		return -1;
	if (ev.type != SOUK_EVENT_TYPE_ORDER && ev.type != SOUK_EVENT_TYPE_RIDE_REQUEST)
		return 0; /* stock_set */
	key = ev.type == SOUK_EVENT_TYPE_ORDER ? ev.order.order_id
					       : ev.ride_request.request_id;
	if (ev.type == SOUK_EVENT_TYPE_ORDER && !souk_map_get(v->skus, ev.order.sku)) {
		char *sku = strdup(ev.order.sku);

		if (!sku || souk_map_put(v->skus, sku, sku)) {
			free(sku);
			return -1;
		}
		souk_pgarray_add_str(&v->sku_list, sku);
	}
	return verify_key(v, key) ? 0 : -1;
}

/* An answer to k under result_id: every answer must carry the first one's id. */
static void
verify_answer(struct verify_key *k, const char *result_id)
{
	if (!k->result_id[0])
		snprintf(k->result_id, sizeof(k->result_id), "%s", result_id);
	else if (strcmp(k->result_id, result_id))
		k->split = true;
}

/* Runs statement name over the keys [first, first + VERIFY_CHUNK) as a text array
 * ($1) into *res. Returns 0, or -1 with v->errstr. */
static int
verify_exec_keys(struct verify *v, const char *name, size_t first, size_t end,
		 PGresult **res)
{
	struct souk_pgarray ids;
	const char *p[1];
	int rc = -1;

	souk_pgarray_init(&ids);
	for (size_t i = first; i < end && i < first + VERIFY_CHUNK; i++)
		souk_pgarray_add_str(&ids, v->keys[i]->id);
	if (!(p[0] = souk_pgarray_text(&ids)))
		snprintf(v->errstr, sizeof(v->errstr), "out of memory");
	else
		rc = souk_pg_exec_prepared(v->pg, name, 1, p, res, v->errstr,
					   sizeof(v->errstr))
			 ? -1
			 : 0;
	souk_pgarray_free(&ids);
	return rc;
}

/* An answer keyed by the business key: its result id must be the key's one. */
static int
verify_on_answer(const rd_kafka_message_t *m, const char *result_id, void *opaque)
{
	struct verify *v = opaque;
	char id[SOUK_EVENT_IDENT_SIZE];
	struct verify_key *k;

	if (!m->key || m->key_len >= sizeof(id))
		return 0;
	memcpy(id, m->key, m->key_len);
	id[m->key_len] = '\0';
	if (!(k = souk_map_get(v->by_id, id)))
		return 0; /* an answer to a message before the window */
	verify_answer(k, result_id);
	return 0;
}

/* ---- orders ------------------------------------------------------------------------ */

static int
verify_orders(struct verify *v)
{
	int64_t n, answers, undecodable = 0, decided = 0, unanswered = 0;
	int64_t events_before = v->events;
	PGresult *res = NULL;

	if (verify_reset(v) ||
	    verify_topic_read(v->rk, "orders", v->since_ms, v->until_ms, verify_on_source,
			      v, &n, v->errstr, sizeof(v->errstr)) ||
	    verify_topic_read(v->rk, "order-results", v->since_ms, 0, verify_on_answer, v,
			      &answers, v->errstr, sizeof(v->errstr)) ||
	    verify_topic_read(v->rk, "orders.dlq", v->since_ms, 0, verify_on_answer, v,
			      &undecodable, v->errstr, sizeof(v->errstr)))
		return -1;
	/* the rows of the keys, a chunk at a time */
	for (size_t first = 0; first < v->nkeys; first += VERIFY_CHUNK) {
		if (verify_exec_keys(v, "orders", first, v->nkeys, &res))
			return -1;
		for (int r = 0; r < PQntuples(res); r++) {
			struct verify_key *k =
			    souk_map_get(v->by_id, PQgetvalue(res, r, 0));

			if (!k)
				continue;
			k->decided = true;
			decided++;
			if (k->result_id[0] &&
			    strcmp(k->result_id, PQgetvalue(res, r, 1)))
				k->split = true;
		}
		PQclear(res);
		res = NULL;
	}
	for (size_t i = 0; i < v->nkeys; i++) {
		const struct verify_key *k = v->keys[i];

		v->lost += !k->decided;
		v->split += k->split;
		unanswered += k->decided && !k->result_id[0];
	}
	{
		const char *p[] = {souk_pgarray_text(&v->sku_list)};

		if (!p[0]) {
			snprintf(v->errstr, sizeof(v->errstr), "out of memory");
			return -1;
		}
		if (souk_pg_exec_prepared(v->pg, "stock", 1, p, &res, v->errstr,
					  sizeof(v->errstr)))
			return -1;
	}
	{
		int64_t oversold = 0, mismatched = 0, purchases = 0;

		for (int r = 0; r < PQntuples(res); r++) {
			oversold += strcmp(PQgetvalue(res, r, 1), "t") != 0;
			mismatched += strcmp(PQgetvalue(res, r, 2), "t") != 0;
			purchases += strtoll(PQgetvalue(res, r, 3), NULL, 10);
		}
		printf("orders    events %" PRId64 " orders %zu decided %" PRId64
		       " lost %" PRId64 " unanswered %" PRId64 " dlq %" PRId64
		       " skus %d oversold %" PRId64 " stock_mismatch %" PRId64
		       " purchase_mismatch %" PRId64 "\n",
		       v->events - events_before, v->nkeys, decided, v->lost, unanswered,
		       undecodable, PQntuples(res), oversold, mismatched, purchases);
		v->oversold += oversold;
		v->twice += mismatched + purchases;
	}
	PQclear(res);
	return 0;
}

/* ---- rides ------------------------------------------------------------------------- */

/* A ride_match: one result id per (request, driver, status) decision. */
static int
verify_on_match(const rd_kafka_message_t *m, const char *result_id, void *opaque)
{
	struct verify *v = opaque;
	souk_event_t ev;
	souk_event_error_t err;
	char decision[3 * SOUK_EVENT_IDENT_SIZE];
	struct verify_key *k;

	if (souk_event_decode(m->payload, m->len, &ev, &err) != SOUK_EVENT_OK ||
	    ev.type != SOUK_EVENT_TYPE_RIDE_MATCH ||
	    !souk_map_get(v->by_id, ev.ride_match.request_id))
		return 0;
	snprintf(decision, sizeof(decision), "%s/%s/%d", ev.ride_match.request_id,
		 ev.ride_match.driver_id, (int)ev.ride_match.status);
	if (!(k = verify_key(v, decision)))
		return -1;
	((struct verify_key *)souk_map_get(v->by_id, ev.ride_match.request_id))->decided =
	    true;
	verify_answer(k, result_id);
	return 0;
}

static int
verify_rides(struct verify *v)
{
	int64_t n, matches, rides = 0, open = 0, requests;
	int64_t events_before = v->events;
	size_t nrequests;
	PGresult *res = NULL;

	if (verify_reset(v) ||
	    verify_topic_read(v->rk, "ride-requests", v->since_ms, v->until_ms,
			      verify_on_source, v, &n, v->errstr, sizeof(v->errstr)))
		return -1;
	nrequests = v->nkeys;
	if (verify_topic_read(v->rk, "ride-matches", v->since_ms, 0, verify_on_match, v,
			      &matches, v->errstr, sizeof(v->errstr)))
		return -1;
	for (size_t first = 0; first < nrequests; first += VERIFY_CHUNK) {
		if (verify_exec_keys(v, "rides", first, nrequests, &res))
			return -1;
		rides += strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		open += strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
		res = NULL;
	}
	requests = (int64_t)nrequests;
	v->lost += requests - rides;
	for (size_t i = nrequests; i < v->nkeys; i++)
		v->split += v->keys[i]->split;
	if (souk_pg_exec_prepared(v->pg, "double_booked", 0, NULL, &res, v->errstr,
				  sizeof(v->errstr)))
		return -1;
	v->double_booked += strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	printf("rides     events %" PRId64 " requests %" PRId64 " rides %" PRId64
	       " open %" PRId64 " matches %" PRId64 " decisions %zu double_booked %s\n",
	       v->events - events_before, requests, rides, open, matches,
	       v->nkeys - nrequests, PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* ---- payments ---------------------------------------------------------------------- */

static int
verify_payments(struct verify *v, const char *url)
{
	struct verify_psp_figures f;

	if (verify_psp_run(v->rk, v->pg, url, v->since_ms, v->until_ms, &f, v->errstr,
			   sizeof(v->errstr)))
		return -1;
	printf("payments  events %" PRId64 " commands %" PRId64 " payments %" PRId64
	       " stored %" PRId64 " provider_ops %" PRId64 " unanswered %" PRId64
	       " charged_twice %" PRId64 " ledger_short %" PRId64 " ledger_over %" PRId64
	       " keys_twice %" PRId64 " illegal_states %" PRId64 " parked %" PRId64
	       " open_intents %" PRId64 "\n",
	       f.events, f.commands, f.payments, f.stored, f.provider_ops, f.unanswered,
	       f.charged_twice, f.ledger_short, f.ledger_over, f.keys_twice,
	       f.illegal_states, f.parked, f.open_intents);
	if (f.parked)
		fprintf(stderr,
			"payments: %" PRId64 " payments still parked: run again once the "
			"janitor resolved them\n",
			f.parked);
	v->events += f.events;
	v->lost += f.unanswered + f.ledger_short;
	v->twice += f.charged_twice + f.ledger_over + f.keys_twice;
	v->illegal += f.illegal_states;
	v->parked += f.parked;
	return 0;
}

/* ---- main -------------------------------------------------------------------------- */

static const struct {
	const char *name, *sql;
	int nparams;
} verify_sql[] = {
    {"orders", "SELECT order_id, result_id FROM orders WHERE order_id = ANY ($1::text[])",
     1},
    /* per SKU since its last stock_set: sold <= stock, sold + available == stock; and
     * the (sku, user) purchases that differ from the accepted orders (each table read
     * once: orders has no index on sku, and a lookup per purchase scanned it each time) */
    {"stock",
     "WITH last AS (SELECT DISTINCT ON (sku) sku, stock, applied_at FROM stock_sets "
     "WHERE sku = ANY ($1::text[]) ORDER BY sku, applied_at DESC), "
     "accepted AS (SELECT sku, user_id, sum(qty) AS qty, "
     "sum(qty) FILTER (WHERE o.decided_at >= l.applied_at) AS recent "
     "FROM orders o JOIN last l USING (sku) WHERE o.status = 'accepted' "
     "GROUP BY sku, user_id), "
     "sold AS (SELECT l.sku, l.stock, coalesce(sum(a.recent), 0) AS sold "
     "FROM last l LEFT JOIN accepted a USING (sku) GROUP BY l.sku, l.stock), "
     "mismatched AS (SELECT sku, count(*) AS n FROM accepted a "
     "FULL JOIN (SELECT sku, user_id, qty FROM purchases WHERE sku = ANY ($1::text[])) p "
     "USING (sku, user_id) WHERE coalesce(a.qty, 0) <> coalesce(p.qty, 0) GROUP BY sku) "
     "SELECT s.sku, s.sold <= s.stock, s.sold + st.available = s.stock, "
     "coalesce(m.n, 0) "
     "FROM sold s JOIN stock st USING (sku) LEFT JOIN mismatched m USING (sku)",
     1},
    {"rides",
     "SELECT count(*), count(*) FILTER (WHERE state IN ('offered', 'accepted', "
     "'started')) FROM rides WHERE request_id = ANY ($1::text[])",
     1},
    {"double_booked",
     "SELECT count(*) FROM (SELECT driver_id FROM rides WHERE state IN ('offered', "
     "'accepted', 'started') GROUP BY driver_id HAVING count(*) > 1) x",
     0},
};

/* Each event_id of file must have been read; returns the missing ones, -1 on error. */
static int64_t
verify_acked(struct verify *v, const char *path, int64_t *acked)
{
	FILE *f = fopen(path, "r");
	char line[128];
	int64_t missing = 0;

	*acked = 0;
	if (!f) {
		snprintf(v->errstr, sizeof(v->errstr), "could not open %s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		(*acked)++;
		missing += souk_map_get(v->event_ids, line) == NULL;
	}
	fclose(f);
	return missing;
}

static void
verify_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: souk-verify [--since TS|DURATION] [--until TS] [--acked FILE] "
	    "[--psp URL]\n"
	    "                   [--faults N] [orders] [rides] [payments]\n"
	    "\n"
	    "Checks the window's orders (decided once, answered with one result id, no\n"
	    "SKU oversold, purchases equal to the accepted orders) and rides (every\n"
	    "request has its ride, no driver in two open rides, one result id per\n"
	    "decision); with --acked, that every event_id in FILE is on its topic; with\n"
	    "--psp, payments (every command answered, nothing charged twice at the\n"
	    "provider, legal states and transitions, ledger amounts equal to the\n"
	    "provider's).\n"
	    "\n"
	    "      --since T      the window: messages stamped T (2026-01-01T00:00:00Z) "
	    "or\n"
	    "                     within the last T (90s, 10m, 2h); default 10m\n"
	    "      --until T      and stamped before T (default: up to now)\n"
	    "      --acked FILE   event_ids a client got an acknowledgement for\n"
	    "      --psp URL      the payment provider (souk-psp, e.g. "
	    "http://127.0.0.1:18200)\n"
	    "      --faults N     printed in the summary line (the faults injected)\n"
	    "  -c, --config FILE, -X KEY=VALUE, -h, -V as the other souk tools\n"
	    "\n"
	    "Exit status: 0 every check passed, 1 a check failed, 2 usage or read "
	    "error.\n");
}

/* --since: an RFC 3339 time or a duration back from now, into *ms. */
static int
verify_since(const char *s, int64_t *ms)
{
	char *end;
	double n = strtod(s, &end);
	int64_t unit = !strcmp(end, "s")   ? 1000
		       : !strcmp(end, "m") ? 60000
		       : !strcmp(end, "h") ? 3600000
					   : 0;
	char ts[SOUK_EVENT_TS_SIZE];

	if (end != s && unit && n >= 0) {
		*ms = verify_now_ms() - (int64_t)(n * (double)unit);
		return 0;
	}
	/* 2026-01-01T00:00:00Z or with milliseconds */
	if (strlen(s) == 20 && s[19] == 'Z') {
		snprintf(ts, sizeof(ts), "%.19s.000Z", s);
		s = ts;
	}
	return souk_event_ts_ms(s, ms);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"acked", required_argument, NULL, 'a'},
	    {"psp", required_argument, NULL, 'p'},
	    {"faults", required_argument, NULL, 'f'},
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const struct souk_config_def *const tables[] = {souk_config_common, NULL};
	const char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	const char *since = "10m", *until = NULL, *acked = NULL, *faults = "0",
		   *config_path = NULL, *psp = NULL;
	struct verify v = {0};
	struct souk_config *cfg = NULL;
	bool orders = false, rides = false, payments = false;
	int nsets = 0, c, rc = 2;

	if (!sets)
		return 2;
	while ((c = getopt_long(argc, argv, "c:X:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			since = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'a':
			acked = optarg;
			break;
		case 'p':
			psp = optarg;
			break;
		case 'f':
			faults = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			sets[nsets++] = optarg;
			break;
		case 'h':
			verify_usage(stdout);
			rc = 0;
			goto out;
		case 'V':
			printf("souk-verify %s\n", SOUK_VERSION);
			rc = 0;
			goto out;
		default:
			verify_usage(stderr);
			goto out;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "orders"))
			orders = true;
		else if (!strcmp(argv[i], "rides"))
			rides = true;
		else if (!strcmp(argv[i], "payments"))
			payments = true;
		else {
			fprintf(stderr,
				"error: unknown check \"%s\" (orders, rides, payments)\n",
				argv[i]);
			goto out;
		}
	}
	if (payments && !psp) {
		fprintf(stderr, "error: the payments check needs --psp URL, the payment "
				"provider to compare the ledger with\n");
		goto out;
	}
	if (!orders && !rides && !payments) {
		orders = rides = true;
		payments = psp != NULL;
	}
	if (verify_since(since, &v.since_ms)) {
		fprintf(stderr,
			"error: --since \"%s\": expected a time like "
			"2026-01-01T00:00:00Z or a duration like 10m\n",
			since);
		goto out;
	}
	if (until && verify_since(until, &v.until_ms)) {
		fprintf(stderr,
			"error: --until \"%s\": expected a time like "
			"2026-01-01T00:00:00Z or a duration like 10m\n",
			until);
		goto out;
	}
	if (!(cfg = souk_config_new(tables, v.errstr, sizeof(v.errstr))) ||
	    souk_config_load(cfg, config_path, nsets, sets, v.errstr, sizeof(v.errstr))) {
		fprintf(stderr, "error: %s\n", v.errstr);
		goto out;
	}
	souk_pgarray_init(&v.sku_list);
	if (!(v.event_ids = souk_map_new()) || !(v.skus = souk_map_new()) ||
	    !(v.rk = verify_topic_handle(souk_config_get_string(cfg, "kafka.brokers"),
					 v.errstr, sizeof(v.errstr))) ||
	    !(v.pg = souk_pg_connect(souk_config_get_string(cfg, "pg.dsn"), 5000,
				     v.errstr, sizeof(v.errstr))))
		goto fail;
	for (size_t i = 0; i < sizeof(verify_sql) / sizeof(verify_sql[0]); i++)
		if (souk_pg_prepare(v.pg, verify_sql[i].name, verify_sql[i].sql,
				    verify_sql[i].nparams, v.errstr, sizeof(v.errstr)))
			goto fail;
	if ((orders && verify_orders(&v)) || (rides && verify_rides(&v)) ||
	    (payments && verify_payments(&v, psp)))
		goto fail;
	if (acked) {
		int64_t n, missing = verify_acked(&v, acked, &n);

		if (missing < 0)
			goto fail;
		printf("acked     event_ids %" PRId64 " missing_on_topic %" PRId64 "\n",
		       n, missing);
		v.lost += missing;
	}
	printf("events %" PRId64 " faults %s lost %" PRId64 " applied_twice %" PRId64
	       " oversold %" PRId64 " double_booked %" PRId64 " split_ids %" PRId64
	       " illegal_states %" PRId64 "\n",
	       v.events, faults, v.lost, v.twice, v.oversold, v.double_booked, v.split,
	       v.illegal);
	rc = v.lost || v.twice || v.oversold || v.double_booked || v.split || v.illegal ||
		     v.parked
		 ? 1
		 : 0;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", v.errstr);
out:
	if (v.rk) {
		rd_kafka_consumer_close(v.rk);
		rd_kafka_destroy(v.rk);
	}
	souk_pg_destroy(v.pg);
	souk_map_destroy(v.by_id, verify_free_key);
	souk_map_destroy(v.event_ids, free);
	souk_map_destroy(v.skus, free);
	souk_pgarray_free(&v.sku_list);
	free(v.keys);
	souk_config_destroy(cfg);
	free(sets);
	return rc;
}
