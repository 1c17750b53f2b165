/*
 * souk-payments: the payments pool's operator tool.
 *
 *   reconcile --date YYYY-MM-DD
 *       compares the ledger (PostgreSQL) of that UTC day with the provider's settlement
 *       report (GET {payments.provider_url}/v1/reports/settlement?date=, or --report
 *       FILE), prints the discrepancies and the captures the report confirmed
 *       (pay_recon), and publishes one settle command per confirmed capture to
 *       `payments`, keyed by payment_id, waiting for every acknowledgement.
 *
 * The settle commands are deterministic: client souk-reconcile, idempotency key
 * "settle:<provider_ref>", event_id derived from both as the gateway derives one from
 * an Idempotency-Key. Running the same day twice sends the same keys, which the pool
 * answers with its stored result instead of settling again.
 *
 * Exit status: 0 no discrepancy, 1 discrepancies remain or something failed, 2 usage.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay_ledger.h"
#include "pay_recon.h"
#include "souk_config.h"
#include "souk_event.h"
#include "souk_kafka.h"
#include "souk_log.h"
#include "souk_pg.h"
#include "souk_uuid.h"

#define PAY_MAIN_CLIENT_ID "souk-reconcile"
#define PAY_MAIN_PG_TIMEOUT_MS 10000
#define PAY_MAIN_MAX_PROPS 64

static const struct souk_config_def pay_main_config[] = {
    {.name = "payments.provider_url",
     .type = SOUK_CONFIG_STRING,
     .def = "http://127.0.0.1:18200",
     .help = "base URL of the payment provider (souk-psp)"},
    {.name = "payments.provider_timeout",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "30s",
     .min = 1,
     .max = 600000,
     .help = "how long fetching the settlement report may take"},
    {.name = NULL},
};

enum { OPT_DATE = 256, OPT_REPORT, OPT_JSON, OPT_OUT, OPT_METRICS, OPT_DRY_RUN };

/* What the command line asked of reconcile. */
struct pay_main_opts {
	const char *date;
	const char *report; /* NULL: fetch it from the provider */
	const char *out;
	const char *metrics;
	bool json;
	bool dry_run;
};

static void
pay_main_usage(FILE *out, const struct souk_config_def *const *tables)
{
	fprintf(
	    out,
	    "usage: souk-payments [options] reconcile --date YYYY-MM-DD [--report FILE]\n"
	    "                     [--json] [--out FILE] [--metrics FILE] [--dry-run]\n"
	    "\n"
	    "  reconcile  compare the ledger of a UTC day with the provider's\n"
	    "             settlement report, print the discrepancies and the captures\n"
	    "             it confirmed, and publish a settle command for each of those\n"
	    "             to payments\n"
	    "\n"
	    "      --date YYYY-MM-DD     the UTC day to reconcile (required)\n"
	    "      --report FILE         read the report (CSV) from FILE instead of\n"
	    "                            GET {payments.provider_url}/v1/reports/"
	    "settlement\n"
	    "      --json                print the result as one JSON object, not a\n"
	    "                            table\n"
	    "      --out FILE            also write the JSON result to FILE\n"
	    "      --metrics FILE        write Prometheus text to FILE (node-exporter's\n"
	    "                            textfile collector)\n"
	    "      --dry-run             publish nothing\n"
	    "  -c, --config FILE         read \"key = value\" lines from FILE\n"
	    "  -X, --set KEY=VALUE       set one key (kafka.* keys go to librdkafka)\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             print the version\n"
	    "\n"
	    "exit status: 0 no discrepancy, 1 discrepancies remain or a failure,\n"
	    "2 usage\n");
	if (tables) {
		fprintf(out, "\nkeys:\n");
		souk_config_help(tables, out);
	}
}

/* ---- the report --------------------------------------------------------------- */

/* A growing buffer of what came in. */
struct pay_main_buf {
	char *data;
	size_t len, cap;
};

/* Appends n bytes (and keeps a NUL after them). Returns 0, or -1 out of memory. */
static int
pay_main_buf_add(struct pay_main_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(grown = realloc(b->data, cap)))
			return -1;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static size_t
pay_main_curl_write(char *p, size_t size, size_t n, void *opaque)
{
	/* fewer bytes than given makes curl fail with CURLE_WRITE_ERROR */
	return pay_main_buf_add(opaque, p, size * n) ? 0 : size * n;
}

/* GETs url into *b. Returns 0, or -1 with errstr filled (what curl said, or the
 * HTTP status and the start of the answer). */
static int
pay_main_fetch(const char *url, long timeout_ms, struct pay_main_buf *b, char *errstr,
	       size_t errstr_size)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	CURL *easy = curl_easy_init();
	CURLcode rc;
	long status = 0;
	int ret = -1;

	if (!easy) {
		snprintf(errstr, errstr_size, "could not start libcurl");
		goto out;
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, pay_main_curl_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, b);
	rc = curl_easy_perform(easy);
	if (rc != CURLE_OK) {
		snprintf(errstr, errstr_size, "%s",
			 curl_err[0] ? curl_err : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(errstr, errstr_size, "HTTP %ld: %.300s", status,
			 b->data ? b->data : "");
		goto out;
	}
	ret = 0;
out:
	curl_easy_cleanup(easy);
	return ret;
}

/* Reads the file at path into *b. Returns 0, or -1 with errstr filled. */
static int
pay_main_read_file(const char *path, struct pay_main_buf *b, char *errstr,
		   size_t errstr_size)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int ret = -1;

	if (!f) {
		snprintf(errstr, errstr_size, "%m");
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (pay_main_buf_add(b, chunk, n)) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(errstr, errstr_size, "%m");
		goto out;
	}
	ret = 0;
out:
	fclose(f);
	return ret;
}

/* The report of the day, from opts->report or the provider, parsed into *rows.
 * Returns 0, or -1 after printing why. */
static int
pay_main_report(const struct souk_config *cfg, const struct pay_main_opts *opts,
		struct pay_recon_row **rows, size_t *n)
{
	struct pay_main_buf b = {0};
	char source[1024], errstr[1024];
	int ret = -1;

	if (opts->report) {
		snprintf(source, sizeof(source), "%s", opts->report);
		if (pay_main_read_file(opts->report, &b, errstr, sizeof(errstr))) {
			fprintf(stderr,
				"error: could not read the settlement report %s: %s\n",
				source, errstr);
			goto out;
		}
	} else {
		const char *base = souk_config_get_string(cfg, "payments.provider_url");
		size_t len = strlen(base);

		/* a trailing slash in the key would double the path's */
		while (len > 0 && base[len - 1] == '/')
			len--;
		snprintf(source, sizeof(source), "%.*s/v1/reports/settlement?date=%s",
			 (int)len, base, opts->date);
		if (pay_main_fetch(source,
				   (long)souk_config_get_duration_ms(
				       cfg, "payments.provider_timeout"),
				   &b, errstr, sizeof(errstr))) {
			fprintf(
			    stderr,
			    "error: could not fetch the settlement report from %s: %s\n",
			    source, errstr);
			goto out;
		}
	}
	if (pay_recon_parse_report(b.data ? b.data : "", b.len, rows, n, errstr,
				   sizeof(errstr))) {
		fprintf(stderr,
			"error: could not parse the settlement report from %s: %s\n",
			source, errstr);
		goto out;
	}
	ret = 0;
out:
	free(b.data);
	return ret;
}

/* ---- settle ------------------------------------------------------------------- */

/* The delivery reports of one run; each message's opaque is its pay_recon_settle. */
struct pay_main_delivery {
	size_t done, failed;
};

static void
pay_main_on_delivery(void *opaque, void *msg_opaque, const char *topic, int32_t partition,
		     int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	struct pay_main_delivery *d = opaque;
	const struct pay_recon_settle *s = msg_opaque;

	(void)partition;
	(void)offset;
	d->done++;
	if (err) {
		d->failed++;
		fprintf(stderr,
			"error: could not publish settle for payment \"%s\" to %s: %s\n",
			s->payment_id, topic, errstr);
	}
}

struct pay_main_props {
	struct souk_kafka_prop props[PAY_MAIN_MAX_PROPS];
	size_t n;
};

static int
pay_main_collect_prop(const char *name, const char *value, void *opaque)
{
	struct pay_main_props *p = opaque;

	if (p->n == PAY_MAIN_MAX_PROPS)
		return -1;
	p->props[p->n++] = (struct souk_kafka_prop){name, value};
	return 0;
}

/* The settle command for s, encoded into buf[SOUK_EVENT_MAX_BYTES + 1]. */
static int
pay_main_settle_event(const struct pay_recon_settle *s, char *buf, size_t *len,
		      char *errstr, size_t errstr_size)
{
	souk_event_t ev = {.type = SOUK_EVENT_TYPE_PAYMENT,
			   .version = SOUK_EVENT_VERSION};

	snprintf(ev.client_id, sizeof(ev.client_id), "%s", PAY_MAIN_CLIENT_ID);
	snprintf(ev.idempotency_key, sizeof(ev.idempotency_key), "settle:%s",
		 s->provider_ref);
	souk_uuid_derive(ev.client_id, ev.idempotency_key, 0, ev.event_id);
	souk_event_ts_now(ev.ts);
	ev.payment.command = SOUK_EVENT_COMMAND_SETTLE;
	snprintf(ev.payment.payment_id, sizeof(ev.payment.payment_id), "%s",
		 s->payment_id);
	ev.payment.has_amount = true;
	ev.payment.amount = s->amount;
	memcpy(ev.payment.currency, s->currency, sizeof(ev.payment.currency));
	return souk_event_encode(&ev, buf, SOUK_EVENT_MAX_BYTES + 1, len, errstr,
				 errstr_size);
}

/*
 * Publishes a settle command for each of r's settle entries and waits for every
 * delivery report (within the producer's message timeout). *published counts those
 * the broker acknowledged. Returns 0 when all were, or -1 after printing what failed.
 */
static int
pay_main_publish(const struct souk_config *cfg, const struct pay_recon_result *r,
		 size_t *published)
{
	const char *topic = souk_event_topic(SOUK_EVENT_TYPE_PAYMENT);
	struct pay_main_delivery d = {0};
	struct pay_main_props props = {.n = 0};
	struct souk_kafka_producer *p = NULL;
	char *buf = malloc(SOUK_EVENT_MAX_BYTES + 1), errstr[512];
	size_t sent = 0, len;
	int ret = -1;

	*published = 0;
	if (r->n_settle == 0) {
		ret = 0;
		goto out;
	}
	if (!buf) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	if (souk_config_foreach_prefix(cfg, "kafka.", pay_main_collect_prop, &props)) {
		fprintf(stderr, "error: more than %d kafka.* keys\n", PAY_MAIN_MAX_PROPS);
		goto out;
	}
	p = souk_kafka_producer_new(souk_config_get_string(cfg, "kafka.brokers"),
				    props.props, props.n, 0, pay_main_on_delivery, &d,
				    errstr, sizeof(errstr));
	if (!p) {
		fprintf(stderr, "error: could not create the kafka producer: %s\n",
			errstr);
		goto out;
	}
	for (; sent < r->n_settle; sent++) {
		const struct pay_recon_settle *s = &r->settle[sent];
		int rc;

		if (pay_main_settle_event(s, buf, &len, errstr, sizeof(errstr))) {
			fprintf(stderr,
				"error: could not encode settle for payment \"%s\": %s\n",
				s->payment_id, errstr);
			break;
		}
		/* a full queue empties as the broker acknowledges: wait, then again */
		while ((rc = souk_kafka_produce(p, topic, s->payment_id,
						strlen(s->payment_id), buf, len, NULL, 0,
						(void *)s, errstr, sizeof(errstr))) ==
		       SOUK_KAFKA_QUEUE_FULL)
			souk_kafka_poll(p, 100);
		if (rc != SOUK_KAFKA_OK) {
			fprintf(stderr,
				"error: could not publish settle for payment \"%s\" to "
				"%s: %s\n",
				s->payment_id, topic, errstr);
			break;
		}
	}
	/* Every queued message gets its report within the message timeout. */
	while (d.done < sent)
		souk_kafka_poll(p, 100);
	*published = sent - d.failed;
	ret = *published == r->n_settle ? 0 : -1;
out:
	souk_kafka_producer_destroy(p);
	free(buf);
	return ret;
}

/* ---- output ------------------------------------------------------------------- */

/* Writes data[0..len) to path through path.tmp and a rename, so that a reader (the
 * textfile collector, a job picking up the report) never sees half a file. Returns 0,
 * or -1 after printing why. */
static int
pay_main_write_file(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	FILE *f = NULL;
	int ret = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "error: could not write %s: the path is too long\n",
			path);
		return -1;
	}
	if (!(f = fopen(tmp, "w")) || fwrite(data, 1, len, f) != len) {
		fprintf(stderr, "error: could not write %s: %m\n", tmp);
		goto out;
	}
	if (fclose(f)) {
		f = NULL;
		fprintf(stderr, "error: could not write %s: %m\n", tmp);
		goto out;
	}
	f = NULL;
	if (rename(tmp, path)) {
		fprintf(stderr, "error: could not rename %s to %s: %m\n", tmp, path);
		goto out;
	}
	ret = 0;
out:
	if (f)
		fclose(f);
	if (ret)
		remove(tmp);
	return ret;
}

/* Writes the run's Prometheus text to path: the discrepancies by kind (every kind,
 * 0 included), the settle commands published and when the run ended. */
static int
pay_main_write_metrics(const char *path, const struct pay_recon_result *r,
		       size_t published)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ret;

	if (!f) {
		fprintf(stderr, "error: could not write %s: out of memory\n", path);
		return -1;
	}
	fprintf(f, "# HELP souk_payments_recon_discrepancies Discrepancies the last "
		   "reconciliation found, by kind.\n"
		   "# TYPE souk_payments_recon_discrepancies gauge\n");
	for (int k = 0; pay_recon_kind_name(k); k++) {
		size_t n = 0;

		for (size_t i = 0; i < r->n_discrepancies; i++)
			n += r->discrepancies[i].kind == (enum pay_recon_kind)k;
		fprintf(f, "souk_payments_recon_discrepancies{kind=\"%s\"} %zu\n",
			pay_recon_kind_name(k), n);
	}
	fprintf(f,
		"# HELP souk_payments_recon_settle_total Settle commands the last "
		"reconciliation published.\n"
		"# TYPE souk_payments_recon_settle_total gauge\n"
		"souk_payments_recon_settle_total %zu\n"
		"# HELP souk_payments_recon_last_run_timestamp_seconds When the last "
		"reconciliation ended, unix seconds.\n"
		"# TYPE souk_payments_recon_last_run_timestamp_seconds gauge\n"
		"souk_payments_recon_last_run_timestamp_seconds %lld\n",
		published, (long long)time(NULL));
	if (fclose(f)) {
		fprintf(stderr, "error: could not write %s: out of memory\n", path);
		free(text);
		return -1;
	}
	ret = pay_main_write_file(path, text, len);
	free(text);
	return ret;
}

/* ---- reconcile ---------------------------------------------------------------- */

static int
pay_main_reconcile(const struct souk_config *cfg, const struct pay_main_opts *opts,
		   int64_t day_ms)
{
	struct pay_recon_row *rows = NULL;
	struct pay_recon_result result = {0};
	struct pay_ledger ledger = {0};
	struct souk_pg *pg = NULL;
	char *json = NULL, errstr[1024];
	size_t n_rows = 0, json_len = 0, published = 0;
	bool failed = false;
	int rc = 1;

	if (pay_main_report(cfg, opts, &rows, &n_rows))
		goto out;
	pg = souk_pg_connect(souk_config_get_string(cfg, "pg.dsn"),
			     PAY_MAIN_PG_TIMEOUT_MS, errstr, sizeof(errstr));
	if (!pg || pay_ledger_read(pg, day_ms, rows, n_rows, &ledger, errstr,
				   sizeof(errstr)) != SOUK_PG_OK) {
		fprintf(stderr, "error: could not read the ledger from PostgreSQL: %s\n",
			errstr);
		goto out;
	}
	if (pay_recon_compare(ledger.payments, ledger.n_payments, rows, n_rows, day_ms,
			      &result, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	if (pay_recon_json(&result, &json, &json_len)) {
		fprintf(stderr,
			"error: could not write the result as JSON: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < ledger.n_unreferenced; i++)
		fprintf(stderr,
			"warning: payment \"%s\" was captured on %s but has no "
			"provider_ref: it cannot be reconciled\n",
			ledger.unreferenced[i], opts->date);
	if (opts->json)
		printf("%s\n", json);
	else
		pay_recon_print_table(stdout, &result);
	if (fflush(stdout)) {
		fprintf(stderr, "error: could not write to stdout: %m\n");
		failed = true;
	}
	if (opts->out && pay_main_write_file(opts->out, json, json_len))
		failed = true;
	if (opts->dry_run) {
		fprintf(stderr, "dry run: published none of %zu settle commands\n",
			result.n_settle);
	} else {
		if (pay_main_publish(cfg, &result, &published))
			failed = true;
		fprintf(stderr, "published %zu of %zu settle commands to %s\n", published,
			result.n_settle, souk_event_topic(SOUK_EVENT_TYPE_PAYMENT));
	}
	if (opts->metrics && pay_main_write_metrics(opts->metrics, &result, published))
		failed = true;
	rc = failed || result.n_discrepancies || ledger.n_unreferenced ? 1 : 0;
out:
	free(json);
	pay_recon_result_clear(&result);
	pay_ledger_clear(&ledger);
	souk_pg_destroy(pg);
	free(rows);
	return rc;
}

/* ---- main --------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"date", required_argument, NULL, OPT_DATE},
	    {"report", required_argument, NULL, OPT_REPORT},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"metrics", required_argument, NULL, OPT_METRICS},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const struct souk_config_def *const tables[] = {souk_config_common,
							pay_main_config, NULL};
	const char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	const char *config_path = NULL;
	struct pay_main_opts opts = {0};
	struct souk_config *cfg = NULL;
	enum souk_log_level level;
	char errstr[512];
	int64_t day_ms;
	int n_sets = 0, c, rc = 2;

	if (!sets) {
		fprintf(stderr, "error: out of memory\n");
		return 1;
	}
	/* before any thread starts: curl_global_init is not thread-safe */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "error: could not initialize libcurl\n");
		free(sets);
		return 1;
	}
	while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DATE:
			opts.date = optarg;
			break;
		case OPT_REPORT:
			opts.report = optarg;
			break;
		case OPT_JSON:
			opts.json = true;
			break;
		case OPT_OUT:
			opts.out = optarg;
			break;
		case OPT_METRICS:
			opts.metrics = optarg;
			break;
		case OPT_DRY_RUN:
			opts.dry_run = true;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			sets[n_sets++] = optarg;
			break;
		case 'h':
			pay_main_usage(stdout, tables);
			rc = 0;
			goto out;
		case 'V':
			printf("souk-payments %s\n", SOUK_VERSION);
			rc = 0;
			goto out;
		default:
			pay_main_usage(stderr, NULL);
			goto out;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "error: name a command: reconcile\n");
		pay_main_usage(stderr, NULL);
		goto out;
	}
	if (strcmp(argv[optind], "reconcile") != 0) {
		fprintf(stderr, "error: unknown command \"%s\"\n", argv[optind]);
		pay_main_usage(stderr, NULL);
		goto out;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "error: unexpected argument \"%s\"\n", argv[optind + 1]);
		goto out;
	}
	if (!opts.date) {
		fprintf(stderr, "error: reconcile needs --date YYYY-MM-DD\n");
		goto out;
	}
	if (pay_recon_parse_day(opts.date, &day_ms, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: --%s\n", errstr);
		goto out;
	}
	cfg = souk_config_new(tables, errstr, sizeof(errstr));
	if (!cfg ||
	    souk_config_load(cfg, config_path, n_sets, sets, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	if (souk_log_level_from_name(souk_config_get_string(cfg, "log.level"), &level) ==
	    0)
		souk_log_set_level(level);
	rc = pay_main_reconcile(cfg, &opts, day_ms);
out:
	souk_config_destroy(cfg);
	free(sets);
	curl_global_cleanup();
	return rc;
}
