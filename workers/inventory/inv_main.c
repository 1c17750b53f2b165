/*
 * souk-inventory: the flash sale's operator tool.
 *
 *   prewarm [SKU...]       load stock, limits and per-user counts from PostgreSQL into
 *                          Redis (every SKU of the stock table when none is named)
 *   reconcile [SKU...]     the same, reporting each SKU's drift: Redis's stock minus the
 *                          truth (PostgreSQL's minus the reservations in flight)
 *   set SKU --stock N [--limit-per-user K]
 *                          publish a stock_set event (restock, new limit) to `orders`
 *                          keyed by the SKU, so that it reaches the SKU's worker in
 *                          order with its orders; waits for the broker's acknowledgement
 *
 * prewarm and reconcile are one operation (inv_sync), safe while workers run; they
 * differ in the exit status. Exit status: 0 done (reconcile: every SKU was in sync),
 * 1 an error, or drift that reconcile found (and fixed), 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "inv_config.h"
#include "inv_redis.h"
#include "inv_sql.h"
#include "inv_sync.h"
#include "souk_config.h"
#include "souk_event.h"
#include "souk_kafka.h"
#include "souk_pg.h"
#include "souk_uuid.h"
#include "souk_json.h"

#define INV_MAX_PROPS 64
#define INV_PG_TIMEOUT_MS 10000

enum { OPT_JSON = 256, OPT_STOCK, OPT_LIMIT };

static void
inv_usage(FILE *out, const struct souk_config_def *const *tables)
{
	fprintf(
	    out,
	    "usage: souk-inventory [options] prewarm [SKU...]\n"
	    "       souk-inventory [options] reconcile [SKU...]\n"
	    "       souk-inventory [options] set SKU --stock N [--limit-per-user K]\n"
	    "\n"
	    "  prewarm   load stock, limits and per-user counts from PostgreSQL into "
	    "Redis\n"
	    "            (every SKU of the stock table when none is named)\n"
	    "  reconcile the same, reporting each SKU's drift: Redis's stock minus the "
	    "truth\n"
	    "            (PostgreSQL's minus the reservations in flight)\n"
	    "  set       publish a stock_set event to orders, keyed by SKU, and wait for "
	    "the\n"
	    "            broker's acknowledgement\n"
	    "\n"
	    "      --json                prewarm, reconcile: one JSON object on stdout\n"
	    "      --stock N             set: the stock available from now on\n"
	    "      --limit-per-user K    set: the per-user limit (absent: kept as it "
	    "is)\n"
	    "  -c, --config FILE         read \"key = value\" lines from FILE\n"
	    "  -X, --set KEY=VALUE       set one key (kafka.* keys go to librdkafka)\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             print the version\n"
	    "\n"
	    "exit status: 0 done (reconcile: every SKU in sync), 1 an error or drift "
	    "found\n"
	    "(and fixed) by reconcile, 2 usage\n");
	if (tables) {
		fprintf(out, "\nkeys:\n");
		souk_config_help(tables, out);
	}
}

/* ---- prewarm, reconcile ------------------------------------------------------- */

struct inv_counts {
	size_t in_sync, fixed, failed;
};

static void
inv_gen_int(yajl_gen g, const char *key, int64_t v)
{
	souk_json_gen_str(g, key);
	yajl_gen_integer(g, v);
}

static void
inv_gen_report(yajl_gen g, const char *sku, const struct inv_sync_report *rep)
{
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "sku");
	souk_json_gen_str(g, sku);
	souk_json_gen_str(g, "warm");
	yajl_gen_bool(g, rep->warm);
	souk_json_gen_str(g, "redis_available");
	if (rep->warm)
		yajl_gen_integer(g, rep->redis_available);
	else
		yajl_gen_null(g);
	inv_gen_int(g, "pg_available", rep->pg_available);
	inv_gen_int(g, "reserved", rep->reserved);
	inv_gen_int(g, "truth", rep->truth);
	inv_gen_int(g, "drift", inv_sync_drift(rep));
	inv_gen_int(g, "limit_per_user", rep->limit);
	souk_json_gen_str(g, "limit_differs");
	yajl_gen_bool(g, rep->limit_differs);
	inv_gen_int(g, "users_differ", (int64_t)rep->users_differ);
	souk_json_gen_str(g, "fixed");
	yajl_gen_bool(g, rep->fixed);
	yajl_gen_map_close(g);
}

static void
inv_print_report(const char *sku, const struct inv_sync_report *rep)
{
	if (!rep->warm)
		printf("%s: warmed: available %" PRId64, sku, rep->truth);
	else if (rep->fixed)
		printf("%s: fixed: drift %+" PRId64 ", redis %" PRId64 " -> %" PRId64,
		       sku, inv_sync_drift(rep), rep->redis_available, rep->truth);
	else
		printf("%s: in sync: available %" PRId64, sku, rep->truth);
	printf(" (postgresql %" PRId64 ", reserved %" PRId64 ", limit %" PRId64
	       ", %zu users differed)\n",
	       rep->pg_available, rep->reserved, rep->limit, rep->users_differ);
}

/* Syncs skus[0..n) (inv_sync), printing each. */
static void
inv_sync_skus(struct souk_pg *pg, struct inv_redis *r, char *const *skus, size_t n,
	      int64_t ttl_ms, yajl_gen g, struct inv_counts *c)
{
	for (size_t i = 0; i < n; i++) {
		struct inv_sync_report rep;
		char errstr[1024];

		if (inv_sync_sku(pg, r, skus[i], ttl_ms, &rep, errstr, sizeof(errstr))) {
			c->failed++;
			fprintf(stderr, "error: %s\n", errstr);
			if (g) {
				yajl_gen_map_open(g);
				souk_json_gen_str(g, "sku");
				souk_json_gen_str(g, skus[i]);
				souk_json_gen_str(g, "error");
				souk_json_gen_str(g, errstr);
				yajl_gen_map_close(g);
			}
			continue;
		}
		if (rep.fixed)
			c->fixed++;
		else
			c->in_sync++;
		if (g)
			inv_gen_report(g, skus[i], &rep);
		else
			inv_print_report(skus[i], &rep);
	}
}

static int
inv_cmd_sync(const struct souk_config *cfg, const char *cmd, char **skus, size_t nskus,
	     bool json)
{
	struct souk_pg *pg = NULL;
	struct inv_redis *r = NULL;
	char **all = NULL, errstr[1024];
	size_t nall = 0;
	struct inv_counts c = {0};
	yajl_gen g = NULL;
	int rc = 1;

	pg = souk_pg_connect(souk_config_get_string(cfg, "pg.dsn"), INV_PG_TIMEOUT_MS,
			     errstr, sizeof(errstr));
	if (!pg || inv_sql_prepare(pg, errstr, sizeof(errstr)) != SOUK_PG_OK ||
	    !(r = inv_redis_new(
		  souk_config_get_string(cfg, "redis.url"),
		  (int)souk_config_get_duration_ms(cfg, "inventory.redis_timeout"),
		  errstr, sizeof(errstr)))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	if (nskus == 0) {
		if (inv_sql_skus(pg, &all, &nall, errstr, sizeof(errstr)) != SOUK_PG_OK) {
			fprintf(stderr, "error: could not list the skus: %s\n", errstr);
			goto out;
		}
		skus = all;
		nskus = nall;
	}
	if (json) {
		g = yajl_gen_alloc(NULL);
		if (!g) {
			fprintf(stderr, "error: out of memory\n");
			goto out;
		}
		yajl_gen_map_open(g);
		souk_json_gen_str(g, "command");
		souk_json_gen_str(g, cmd);
		souk_json_gen_str(g, "skus");
		yajl_gen_array_open(g);
	}
	inv_sync_skus(pg, r, skus, nskus,
		      souk_config_get_duration_ms(cfg, "inventory.reservation_ttl"), g,
		      &c);
	if (g) {
		const unsigned char *buf;
		size_t len;

		yajl_gen_array_close(g);
		inv_gen_int(g, "in_sync", (int64_t)c.in_sync);
		inv_gen_int(g, "fixed", (int64_t)c.fixed);
		inv_gen_int(g, "failed", (int64_t)c.failed);
		yajl_gen_map_close(g);
		yajl_gen_get_buf(g, &buf, &len);
		printf("%.*s\n", (int)len, (const char *)buf);
	}
	fprintf(stderr, "%zu skus: %zu in sync, %zu %s, %zu failed\n", nskus, c.in_sync,
		c.fixed, strcmp(cmd, "prewarm") == 0 ? "warmed or fixed" : "fixed",
		c.failed);
	rc = c.failed || (strcmp(cmd, "reconcile") == 0 && c.fixed) ? 1 : 0;
out:
	if (g)
		yajl_gen_free(g);
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	inv_redis_destroy(r);
	souk_pg_destroy(pg);
	return rc;
}

/* ---- set ---------------------------------------------------------------------- */

struct inv_delivery {
	bool done;
	int32_t partition;
	int64_t offset;
	char error[512]; /* "" when delivered */
};

static void
inv_on_delivery(void *opaque, void *msg_opaque, const char *topic, int32_t partition,
		int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	struct inv_delivery *d = opaque;

	(void)msg_opaque;
	(void)topic;
	d->done = true;
	d->partition = partition;
	d->offset = offset;
	if (err)
		snprintf(d->error, sizeof(d->error), "%s", errstr);
}

struct inv_props {
	struct souk_kafka_prop props[INV_MAX_PROPS];
	size_t n;
};

static int
inv_collect_prop(const char *name, const char *value, void *opaque)
{
	struct inv_props *p = opaque;

	if (p->n == INV_MAX_PROPS)
		return -1;
	p->props[p->n++] = (struct souk_kafka_prop){name, value};
	return 0;
}

/* A whole decimal integer, or -1 with a message naming the option. */
static int
inv_parse_int(const char *opt, const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "error: %s: must be an integer, got \"%s\"\n", opt, s);
		return -1;
	}
	return 0;
}

/* The stock_set event for sku, encoded into buf. Returns 0, or -1 after printing why. */
static int
inv_stock_set_event(const char *sku, const char *stock, const char *limit, char *buf,
		    size_t size, size_t *len)
{
	souk_event_t ev = {.type = SOUK_EVENT_TYPE_STOCK_SET,
			   .version = SOUK_EVENT_VERSION};
	souk_event_stock_set_t *s = &ev.stock_set;
	struct timespec now;
	struct tm tm;
	char secs[32], errstr[512];

	if (inv_parse_int("--stock", stock, &s->stock) ||
	    (limit && inv_parse_int("--limit-per-user", limit, &s->limit_per_user)))
		return -1;
	s->has_limit_per_user = limit != NULL;
	snprintf(s->sku, sizeof(s->sku), "%s", sku);
	souk_uuid_random(ev.event_id);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ev.ts, sizeof(ev.ts), "%.19s.%03dZ", secs, (int)(now.tv_nsec / 1000000));
	snprintf(ev.client_id, sizeof(ev.client_id), "souk-inventory");
	if (souk_event_encode(&ev, buf, size, len, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", errstr);
		return -1;
	}
	return 0;
}

static int
inv_cmd_set(const struct souk_config *cfg, const char *sku, const char *stock,
	    const char *limit)
{
	const char *topic = souk_event_topic(SOUK_EVENT_TYPE_STOCK_SET);
	struct inv_delivery d = {0};
	struct inv_props props = {.n = 0};
	struct souk_kafka_producer *p = NULL;
	char *buf = malloc(SOUK_EVENT_MAX_BYTES + 1), errstr[512];
	size_t len;
	int rc = 2;

	if (!buf) {
		fprintf(stderr, "error: out of memory\n");
		return 1;
	}
	if (!souk_event_identifier_valid(sku)) {
		fprintf(stderr, "error: sku \"%s\" is not an identifier\n", sku);
		goto out;
	}
	if (inv_stock_set_event(sku, stock, limit, buf, SOUK_EVENT_MAX_BYTES + 1, &len))
		goto out;
	rc = 1;
	if (souk_config_foreach_prefix(cfg, "kafka.", inv_collect_prop, &props)) {
		fprintf(stderr, "error: more than %d kafka.* keys\n", INV_MAX_PROPS);
		goto out;
	}
	p = souk_kafka_producer_new(souk_config_get_string(cfg, "kafka.brokers"),
				    props.props, props.n, 0, inv_on_delivery, &d, errstr,
				    sizeof(errstr));
	if (!p || souk_kafka_produce(p, topic, sku, strlen(sku), buf, len, NULL, 0, NULL,
				     errstr, sizeof(errstr)) != SOUK_KAFKA_OK) {
		fprintf(stderr, "error: could not publish stock_set for sku \"%s\": %s\n",
			sku, errstr);
		goto out;
	}
	/* The delivery report comes within the message timeout, delivered or not. */
	while (!d.done)
		souk_kafka_poll(p, 100);
	if (d.error[0]) {
		fprintf(stderr, "error: stock_set for sku \"%s\" not delivered: %s\n",
			sku, d.error);
		goto out;
	}
	printf("stock_set for sku %s published to %s partition %" PRId32
	       " offset %" PRId64 "\n",
	       sku, topic, d.partition, d.offset);
	rc = 0;
out:
	souk_kafka_producer_destroy(p);
	free(buf);
	return rc;
}

/* ---- main --------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"stock", required_argument, NULL, OPT_STOCK},
	    {"limit-per-user", required_argument, NULL, OPT_LIMIT},
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const struct souk_config_def *const tables[] = {souk_config_common, inv_config,
							NULL};
	const char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	const char *config_path = NULL, *stock = NULL, *limit = NULL, *cmd;
	struct souk_config *cfg = NULL;
	char errstr[512];
	bool json = false;
	int n_sets = 0, c, rc = 2;

	if (!sets)
		return 1;
	while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_STOCK:
			stock = optarg;
			break;
		case OPT_LIMIT:
			limit = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			sets[n_sets++] = optarg;
			break;
		case 'h':
			inv_usage(stdout, tables);
			rc = 0;
			goto out;
		case 'V':
			printf("souk-inventory %s\n", SOUK_VERSION);
			rc = 0;
			goto out;
		default:
			inv_usage(stderr, NULL);
			goto out;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "error: name a command: prewarm, reconcile or set\n");
		inv_usage(stderr, NULL);
		goto out;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "set") == 0 && (json || !stock || optind + 1 != argc)) {
		fprintf(stderr, "error: set takes one SKU, --stock N and optionally "
				"--limit-per-user K\n");
		goto out;
	}
	if (strcmp(cmd, "prewarm") == 0 || strcmp(cmd, "reconcile") == 0) {
		if (stock || limit) {
			fprintf(stderr,
				"error: --stock and --limit-per-user go with set\n");
			goto out;
		}
		for (int i = optind; i < argc; i++) {
			if (!souk_event_identifier_valid(argv[i])) {
				fprintf(stderr,
					"error: sku \"%s\" is not an identifier\n",
					argv[i]);
				goto out;
			}
		}
	} else if (strcmp(cmd, "set") != 0) {
		fprintf(stderr, "error: unknown command \"%s\"\n", cmd);
		inv_usage(stderr, NULL);
		goto out;
	}
	cfg = souk_config_new(tables, errstr, sizeof(errstr));
	if (!cfg ||
	    souk_config_load(cfg, config_path, n_sets, sets, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", cfg ? errstr : "out of memory");
		goto out;
	}
	/* hiredis writes with write(2): a closed connection must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "set") == 0)
		rc = inv_cmd_set(cfg, argv[optind], stock, limit);
	else
		rc = inv_cmd_sync(cfg, cmd, argv + optind, (size_t)(argc - optind), json);
out:
	souk_config_destroy(cfg);
	free(sets);
	return rc;
}
