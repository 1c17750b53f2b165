/*
 * souk-loadgen: deterministic traffic for souk's topics.
 *
 *   souk-loadgen flash-sale|payments|city [options]
 *
 * Writes NDJSON events to stdout, or with --kafka produces them to their topics (key
 * and topic from souk_event_key / souk_event_topic) and waits for every delivery
 * report. The same seed and options give the same bytes: time is simulated from
 * --start, ids come from the seed. A summary goes to stderr.
 *
 * Exit status: 0 success, 1 failure (an output error, a failed delivery), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg_city.h"
#include "lg_flash.h"
#include "lg_geo.h"
#include "lg_out.h"
#include "lg_payments.h"
#include "lg_run.h"
#include "lg_time.h"
#include "souk_event.h"

#define LG_EXIT_FAIL 1
#define LG_EXIT_USAGE 2
#define LG_DEFAULT_BROKERS "127.0.0.1:19092"

enum lg_mode {
	LG_FLASH = 1 << 0,
	LG_PAYMENTS = 1 << 1,
	LG_CITY = 1 << 2,
	LG_ALL = LG_FLASH | LG_PAYMENTS | LG_CITY,
};

static const struct {
	const char *name;
	enum lg_mode mode;
} lg_modes[] = {
    {"flash-sale", LG_FLASH},
    {"payments", LG_PAYMENTS},
    {"city", LG_CITY},
};
#define LG_NMODES (sizeof(lg_modes) / sizeof(lg_modes[0]))

/* One table drives getopt_long, --help and the check that an option belongs to the
 * mode; an option's getopt value is its index here plus LG_OPT_BASE. */
enum {
	LG_OPT_BASE = 256,
};

enum lg_opt {
	LG_OPT_SEED,
	LG_OPT_COUNT,
	LG_OPT_START,
	LG_OPT_CLIENT_ID,
	LG_OPT_KAFKA,
	LG_OPT_BROKERS,
	LG_OPT_USERS,
	LG_OPT_SKUS,
	LG_OPT_STOCK,
	LG_OPT_LIMIT,
	LG_OPT_ORDERS,
	LG_OPT_ZIPF,
	LG_OPT_RETRY_SHARE,
	LG_OPT_GREEDY_SHARE,
	LG_OPT_INVALID_SHARE,
	LG_OPT_PAYMENTS,
	LG_OPT_DRIVERS,
	LG_OPT_REQUESTS,
	LG_OPT_BBOX,
	LG_OPT_DURATION,
	LG_OPT_TICK,
	LG_OPT_COUNT_OF_OPTIONS,
};

static const struct {
	const char *name;
	const char *arg; /* NULL: takes no argument */
	unsigned modes;
	const char *help;
} lg_opts[LG_OPT_COUNT_OF_OPTIONS] = {
    [LG_OPT_SEED] = {"seed", "N", LG_ALL, "random seed, 0..2^64-1 (default 1)"},
    [LG_OPT_COUNT] = {"count", "N", LG_ALL,
		      "stop after the first N events (default: the whole run)"},
    [LG_OPT_START] = {"start", "TS", LG_ALL,
		      "simulated start, UTC (default " LG_TIME_DEFAULT_START ")"},
    [LG_OPT_CLIENT_ID] =
	{"client-id", "ID", LG_ALL,
	 "client_id of the events and Kafka client.id (default loadgen)"},
    [LG_OPT_KAFKA] = {"kafka", NULL, LG_ALL,
		      "produce to the topics instead of writing to stdout"},
    [LG_OPT_BROKERS] =
	{"brokers", "LIST", LG_ALL,
	 "bootstrap servers (env SOUK_KAFKA_BROKERS, default " LG_DEFAULT_BROKERS ")"},
    [LG_OPT_USERS] = {"users", "N", LG_FLASH, "users (default 100000)"},
    [LG_OPT_SKUS] = {"skus", "M", LG_FLASH, "SKUs on sale (default 10)"},
    [LG_OPT_STOCK] = {"stock", "S", LG_FLASH, "stock per SKU (default 100)"},
    [LG_OPT_LIMIT] = {"limit", "K", LG_FLASH, "units per user and SKU (default 2)"},
    [LG_OPT_ORDERS] = {"orders", "N", LG_FLASH, "orders (default: --users)"},
    [LG_OPT_ZIPF] = {"zipf", "S", LG_FLASH,
		     "Zipf exponent of SKU popularity, 0 = uniform (default 1.1)"},
    [LG_OPT_RETRY_SHARE] = {"retry-share", "F", LG_FLASH | LG_PAYMENTS,
			    "share re-sent as client retries: accepted orders, payment "
			    "commands (default 0.05)"},
    [LG_OPT_GREEDY_SHARE] = {"greedy-share", "F", LG_FLASH,
			     "share of users who order past the limit (default 0.01)"},
    [LG_OPT_INVALID_SHARE] = {"invalid-share", "F", LG_FLASH,
			      "share of orders with qty 0 (default 0)"},
    [LG_OPT_PAYMENTS] = {"payments", "N", LG_PAYMENTS, "payments (default 1000)"},
    [LG_OPT_DRIVERS] = {"drivers", "N", LG_CITY, "drivers (default 1000)"},
    [LG_OPT_REQUESTS] = {"requests", "M", LG_CITY, "ride requests (default 200)"},
    [LG_OPT_BBOX] = {"bbox", "LAT1,LNG1,LAT2,LNG2", LG_CITY,
		     "the city (default 25.05,55.10,25.35,55.45, Dubai)"},
    [LG_OPT_DURATION] = {"duration", "S", LG_CITY, "simulated seconds (default 600)"},
    [LG_OPT_TICK] = {"tick", "S", LG_CITY,
		     "seconds between a driver's locations (default 5)"},
};

struct lg_args {
	enum lg_mode mode;
	uint64_t seed;
	long long count;
	int64_t start_ms;
	const char *client_id;
	int kafka;
	const char *brokers;
	struct lg_flash_opts flash;
	struct lg_payments_opts payments;
	struct lg_city_opts city;
	int orders_given; /* --orders set; otherwise it follows --users */
};

static void
lg_usage_options(FILE *out, const char *title, unsigned mode)
{
	fprintf(out, "\n%s options:\n", title);
	for (int i = 0; i < LG_OPT_COUNT_OF_OPTIONS; i++) {
		char left[64];

		/* Common options once, under "common"; the others under each mode. */
		if (mode == LG_ALL
			? lg_opts[i].modes != LG_ALL
			: lg_opts[i].modes == LG_ALL || !(lg_opts[i].modes & mode))
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", lg_opts[i].name,
			 lg_opts[i].arg ? " " : "", lg_opts[i].arg ? lg_opts[i].arg : "");
		fprintf(out, "  %-26s %s\n", left, lg_opts[i].help);
	}
}

static void
lg_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: souk-loadgen flash-sale|payments|city [options]\n"
	    "\n"
	    "Writes deterministic NDJSON events to stdout, or to Kafka with --kafka.\n"
	    "The same seed and options give the same bytes; a summary goes to stderr.\n");
	lg_usage_options(out, "common", LG_ALL);
	fprintf(out, "  %-26s %s\n  %-26s %s\n", "-h, --help", "this help",
		"-V, --version", "print the version");
	for (size_t m = 0; m < LG_NMODES; m++)
		lg_usage_options(out, lg_modes[m].name, lg_modes[m].mode);
	fprintf(out, "\nexit status: 0 success, 1 failure, 2 usage error\n");
}

static int
lg_parse_int(int opt, const char *text, long long min, long long max, long long *out,
	     char *errstr, size_t errstr_size)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || *end != '\0' || errno != 0 || v < min || v > max) {
		snprintf(errstr, errstr_size,
			 "--%s: must be an integer between %lld and %lld, "
			 "got \"%s\"",
			 lg_opts[opt].name, min, max, text);
		return -1;
	}
	*out = v;
	return 0;
}

static int
lg_parse_double(int opt, const char *text, double min, double max, double *out,
		char *errstr, size_t errstr_size)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end != '\0' || errno != 0 || !isfinite(v) || v < min ||
	    v > max) {
		snprintf(errstr, errstr_size,
			 "--%s: must be a number between %g and %g, got "
			 "\"%s\"",
			 lg_opts[opt].name, min, max, text);
		return -1;
	}
	*out = v;
	return 0;
}

static int
lg_parse_seed(const char *text, uint64_t *seed, char *errstr, size_t errstr_size)
{
	char *end;

	errno = 0;
	*seed = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0) {
		snprintf(errstr, errstr_size,
			 "--seed: must be an integer between 0 and %" PRIu64
			 ", got \"%s\"",
			 UINT64_MAX, text);
		return -1;
	}
	return 0;
}

/* Applies one option's argument. Returns 0, or -1 with errstr filled. */
static int
lg_apply(struct lg_args *a, int opt, const char *arg, char *errstr, size_t errstr_size)
{
	struct lg_flash_opts *f = &a->flash;
	struct lg_city_opts *c = &a->city;
	size_t used;
	int rc = 0;

	switch (opt) {
	case LG_OPT_SEED:
		rc = lg_parse_seed(arg, &a->seed, errstr, errstr_size);
		break;
	case LG_OPT_COUNT:
		rc = lg_parse_int(opt, arg, 1, LLONG_MAX, &a->count, errstr, errstr_size);
		break;
	case LG_OPT_START:
		rc = lg_time_parse(arg, &a->start_ms, errstr, errstr_size);
		used = strlen(errstr);
		if (rc != 0)
			snprintf(errstr + used, errstr_size - used, " (--start)");
		break;
	case LG_OPT_CLIENT_ID:
		a->client_id = arg;
		if (!souk_event_identifier_valid(arg)) {
			snprintf(errstr, errstr_size,
				 "--client-id: \"%s\" is not an identifier (1-64 of "
				 "A-Za-z0-9._:-, starting with a letter or digit)",
				 arg);
			rc = -1;
		}
		break;
	case LG_OPT_KAFKA:
		a->kafka = 1;
		break;
	case LG_OPT_BROKERS:
		a->brokers = arg;
		break;
	case LG_OPT_USERS:
		rc =
		    lg_parse_int(opt, arg, 1, UINT32_MAX, &f->users, errstr, errstr_size);
		break;
	case LG_OPT_SKUS:
		rc = lg_parse_int(opt, arg, 1, 10000000, &f->skus, errstr, errstr_size);
		break;
	case LG_OPT_STOCK:
		rc = lg_parse_int(opt, arg, 0, 100000000, &f->stock, errstr, errstr_size);
		break;
	case LG_OPT_LIMIT:
		rc = lg_parse_int(opt, arg, 1, 1000000, &f->limit, errstr, errstr_size);
		break;
	case LG_OPT_ORDERS:
		a->orders_given = 1;
		rc = lg_parse_int(opt, arg, 0, 1000000000, &f->orders, errstr,
				  errstr_size);
		break;
	case LG_OPT_ZIPF:
		rc = lg_parse_double(opt, arg, 0, 10, &f->zipf_s, errstr, errstr_size);
		break;
	case LG_OPT_RETRY_SHARE:
		rc =
		    lg_parse_double(opt, arg, 0, 1, &f->retry_share, errstr, errstr_size);
		a->payments.retry_share = f->retry_share;
		break;
	case LG_OPT_GREEDY_SHARE:
		rc = lg_parse_double(opt, arg, 0, 1, &f->greedy_share, errstr,
				     errstr_size);
		break;
	case LG_OPT_INVALID_SHARE:
		rc = lg_parse_double(opt, arg, 0, 1, &f->invalid_share, errstr,
				     errstr_size);
		break;
	case LG_OPT_PAYMENTS:
		rc = lg_parse_int(opt, arg, 0, 1000000000, &a->payments.payments, errstr,
				  errstr_size);
		break;
	case LG_OPT_DRIVERS:
		rc =
		    lg_parse_int(opt, arg, 0, 10000000, &c->drivers, errstr, errstr_size);
		break;
	case LG_OPT_REQUESTS:
		rc = lg_parse_int(opt, arg, 0, 100000000, &c->requests, errstr,
				  errstr_size);
		break;
	case LG_OPT_BBOX:
		rc = lg_geo_box_parse(arg, &c->box, errstr, errstr_size);
		break;
	case LG_OPT_DURATION:
		rc = lg_parse_int(opt, arg, 1, 7 * 86400, &c->duration_s, errstr,
				  errstr_size);
		break;
	case LG_OPT_TICK:
		rc = lg_parse_int(opt, arg, 1, 3600, &c->tick_s, errstr, errstr_size);
		break;
	}
	return rc;
}

/*
 * Fills *a from the command line. Returns 0 to run, 1 when --help or --version was
 * answered, or -1 with errstr filled on a usage error.
 */
static int
lg_parse_args(int argc, char **argv, struct lg_args *a, char *errstr, size_t errstr_size)
{
	struct option longopts[LG_OPT_COUNT_OF_OPTIONS + 3];
	int given[LG_OPT_COUNT_OF_OPTIONS] = {0};
	const char *env = getenv("SOUK_KAFKA_BROKERS");
	int opt;

	memset(a, 0, sizeof(*a));
	a->seed = 1;
	a->client_id = "loadgen";
	a->brokers = env != NULL && env[0] != '\0' ? env : LG_DEFAULT_BROKERS;
	a->start_ms = LG_TIME_DEFAULT_START_MS;
	lg_flash_defaults(&a->flash);
	lg_payments_defaults(&a->payments);
	lg_city_defaults(&a->city);
	for (int i = 0; i < LG_OPT_COUNT_OF_OPTIONS; i++)
		longopts[i] = (struct option){
		    lg_opts[i].name, lg_opts[i].arg ? required_argument : no_argument,
		    NULL, LG_OPT_BASE + i};
	longopts[LG_OPT_COUNT_OF_OPTIONS] =
	    (struct option){"help", no_argument, NULL, 'h'};
	longopts[LG_OPT_COUNT_OF_OPTIONS + 1] =
	    (struct option){"version", no_argument, NULL, 'V'};
	longopts[LG_OPT_COUNT_OF_OPTIONS + 2] = (struct option){NULL, 0, NULL, 0};

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		if (opt == 'h') {
			lg_usage(stdout);
			return 1;
		}
		if (opt == 'V') {
			printf("souk-loadgen %s\n", SOUK_VERSION);
			return 1;
		}
		if (opt < LG_OPT_BASE) {
			snprintf(errstr, errstr_size,
				 "unknown option or missing argument: %s",
				 argv[optind - 1]);
			return -1;
		}
		given[opt - LG_OPT_BASE] = 1;
		if (lg_apply(a, opt - LG_OPT_BASE, optarg, errstr, errstr_size) != 0)
			return -1;
	}
	if (optind == argc) {
		snprintf(errstr, errstr_size, "missing the mode");
		return -1;
	}
	if (optind < argc - 1) {
		snprintf(errstr, errstr_size, "one mode expected, got \"%s\" too",
			 argv[optind + 1]);
		return -1;
	}
	for (size_t m = 0; m < LG_NMODES; m++)
		if (strcmp(argv[optind], lg_modes[m].name) == 0)
			a->mode = lg_modes[m].mode;
	if (a->mode == 0) {
		snprintf(errstr, errstr_size,
			 "unknown mode \"%s\": expected flash-sale, payments or city",
			 argv[optind]);
		return -1;
	}
	for (int i = 0; i < LG_OPT_COUNT_OF_OPTIONS; i++) {
		if (given[i] && !(lg_opts[i].modes & a->mode)) {
			snprintf(errstr, errstr_size, "--%s is not an option of %s",
				 lg_opts[i].name, argv[optind]);
			return -1;
		}
	}
	if (!a->orders_given)
		a->flash.orders = a->flash.users;
	return 0;
}

/* Runs the mode into out and prints its own summary line. Returns 0 or -1. */
static int
lg_generate(const struct lg_args *a, const struct lg_run *run, struct lg_out *out,
	    char *errstr, size_t errstr_size)
{
	struct lg_flash_stats fs;
	struct lg_payments_stats ps;
	struct lg_city_stats cs;

	if (a->mode == LG_FLASH) {
		if (lg_flash_run(run, &a->flash, out, &fs, errstr, errstr_size) != 0)
			return -1;
		lg_out_progress_end(out);
		fprintf(
		    stderr,
		    "souk-loadgen: flash-sale run %s: %lld orders (%lld invalid), %lld "
		    "retries; forecast %lld accepted, %lld of %lld units sold\n",
		    run->tag, fs.orders, fs.invalid, fs.retries, fs.accepted,
		    fs.units_sold, a->flash.skus * a->flash.stock);
	} else if (a->mode == LG_PAYMENTS) {
		if (lg_payments_run(run, &a->payments, out, &ps, errstr, errstr_size) !=
		    0)
			return -1;
		lg_out_progress_end(out);
		fprintf(
		    stderr,
		    "souk-loadgen: payments run %s: %lld payments, %lld commands (%lld "
		    "retries, %lld key conflicts, %lld illegal)\n",
		    run->tag, ps.payments, ps.commands, ps.retries, ps.conflicts,
		    ps.illegal);
	} else {
		if (lg_city_run(run, &a->city, out, &cs, errstr, errstr_size) != 0)
			return -1;
		lg_out_progress_end(out);
		fprintf(
		    stderr,
		    "souk-loadgen: city run %s: %lld locations, %lld requests; ride "
		    "events: %lld accept, %lld decline, %lld start, %lld complete, %lld "
		    "cancel\n",
		    run->tag, cs.locations, cs.requests, cs.accepts, cs.declines,
		    cs.starts, cs.completes, cs.cancels);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static char stdout_buf[1 << 20];
	struct lg_args args;
	struct lg_run run;
	struct lg_out *out = NULL;
	char errstr[512] = "", finish_err[512] = "";
	int status = LG_EXIT_FAIL, rc, finish_rc;

	rc = lg_parse_args(argc, argv, &args, errstr, sizeof(errstr));
	if (rc != 0) {
		if (rc > 0)
			return 0;
		fprintf(stderr, "souk-loadgen: %s\ntry 'souk-loadgen --help'\n", errstr);
		return LG_EXIT_USAGE;
	}
	lg_run_init(&run, args.seed, args.start_ms, args.client_id);
	if (args.kafka) {
		out = lg_out_new_kafka(args.brokers, args.client_id, args.count, errstr,
				       sizeof(errstr));
	} else {
		setvbuf(stdout, stdout_buf, _IOFBF, sizeof(stdout_buf));
		out = lg_out_new_stream(stdout, args.count, errstr, sizeof(errstr));
	}
	if (out == NULL) {
		fprintf(stderr, "souk-loadgen: %s\n", errstr);
		goto out;
	}
	rc = lg_generate(&args, &run, out, errstr, sizeof(errstr));
	/* Even after a failure, wait for what was queued: it is on its way already. */
	finish_rc = lg_out_finish(out, finish_err, sizeof(finish_err));
	lg_out_summary(out, stderr);
	if (rc != 0)
		fprintf(stderr, "souk-loadgen: %s\n", errstr);
	if (finish_rc != 0)
		fprintf(stderr, "souk-loadgen: %s\n", finish_err);
	if (rc == 0 && finish_rc == 0)
		status = 0;
out:
	lg_out_destroy(out);
	return status;
}
