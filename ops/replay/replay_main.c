/*
 * souk-replay: replays a selection of a topic into a target topic, redrives a DLQ, and
 * resets a stopped consumer group's offsets (Kafka's and souk's PostgreSQL store).
 *
 *   souk-replay [selection] [filters] [pacing] --to TARGET SOURCE
 *   souk-replay SOURCE.dlq                        (redrive: into SOURCE)
 *   souk-replay --reset-group G --to-datetime T|--to-offset N|--to-earliest|--to-latest
 *               [--partition LIST] [--execute] TOPIC
 *
 * Exit status: 0 done (every selected message delivered; a reset applied or planned),
 * 1 failure or refusal (the dedup guard, a group with members, an interrupted run),
 * 2 usage error.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "replay_copy.h"
#include "replay_filter.h"
#include "replay_kafka.h"
#include "replay_pace.h"
#include "replay_reset.h"
#include "replay_select.h"
#include "souk_config.h"
#include "souk_json.h"
#include "souk_kafka.h"
#include "souk_pg.h"

#define REPLAY_EXIT_FAIL 1
#define REPLAY_EXIT_USAGE 2
#define REPLAY_DLQ_SUFFIX ".dlq"

static volatile sig_atomic_t replay_interrupted;

static void
replay_on_signal(int sig)
{
	(void)sig;
	replay_interrupted = 1;
}

static const struct souk_config_def replay_defs[] = {
    {.name = "replay.timeout",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "30s",
     .min = 1000,
     .max = 3600000,
     .help = "give up on a message the broker has not acknowledged after this long"},
    {.name = NULL},
};

/* Everything the command line says. */
struct replay_opts {
	const char *topic; /* the operand */
	const char *target;
	char redrive[256]; /* the target of a DLQ redrive */
	struct replay_selection sel;
	struct replay_filter *filter;
	double rate, speed;
	bool keep_timestamps, dry_run, force, json;
	int64_t dedup_window_ms; /* -1: the target's rule */
	/* reset-group */
	const char *group;
	int reset_to; /* an enum replay_reset_to, or -1 */
	int64_t reset_value;
	bool execute;
	const char *config_path;
	const char **sets;
	int nsets;
};

struct replay_props {
	struct souk_kafka_prop props[REPLAY_COPY_MAX_PROPS];
	size_t n;
};

static void
replay_usage(FILE *out, const struct souk_config_def *const *tables)
{
	fprintf(
	    out,
	    "usage: souk-replay [options] --to TARGET SOURCE   replay SOURCE into "
	    "TARGET\n"
	    "       souk-replay [options] SOURCE.dlq           redrive a DLQ into "
	    "SOURCE\n"
	    "       souk-replay --reset-group G --to-datetime T|--to-offset "
	    "N|--to-earliest|"
	    "--to-latest\n"
	    "                   [--partition LIST] [--execute] TOPIC\n"
	    "\n"
	    "Replays the selected messages of SOURCE into TARGET (another topic, or "
	    "SOURCE\n"
	    "itself) with their keys and headers, adding souk-replay-source "
	    "(topic/partition/offset);\n"
	    "each partition's messages in order, to the same partition number when both "
	    "topics\n"
	    "have as many partitions (else by key). It waits for every delivery report.\n"
	    "\n"
	    "selection (default: every partition, from the earliest kept offset to the "
	    "end when\n"
	    "the run starts; start bounds are inclusive, end bounds exclusive):\n"
	    "  -p, --partition LIST     only these partitions: 0,2,5-7\n"
	    "      --start-offset N     from offset N\n"
	    "      --end-offset N       up to, not including, offset N\n"
	    "      --start-time T       from the first message stamped T or later\n"
	    "      --end-time T         up to, not including, the first message stamped "
	    "T "
	    "or later\n"
	    "                           T: 2026-11-27T10:00:00Z (RFC 3339, no zone = "
	    "UTC), "
	    "2026-11-27,\n"
	    "                           milliseconds since the epoch, or -2h (before "
	    "now)\n"
	    "filters (a message must pass each kind given):\n"
	    "  -k, --key K              key K (repeat: any of them)\n"
	    "      --type T             events of type T (repeat: any of them)\n"
	    "      --field NAME=VALUE   events whose top-level NAME equals VALUE "
	    "(repeat: "
	    "all)\n"
	    "target:\n"
	    "  -t, --to TOPIC           the target topic (default for X.dlq: X)\n"
	    "      --keep-timestamps    keep each message's original timestamp (default: "
	    "now)\n"
	    "      --force              replay into a pool's source topic past its dedup "
	    "window\n"
	    "      --dedup-window D     the window to check instead of the target's rule "
	    "(24h, 90m)\n"
	    "pacing (default: as fast as the broker takes them):\n"
	    "      --rate N[/s]         at most N messages per second\n"
	    "      --speed F[x]         F times the original pace, from the timestamps "
	    "(10x)\n"
	    "output:\n"
	    "  -n, --dry-run            read and count what would be sent; send nothing\n"
	    "      --json               print the summary as one JSON object\n"
	    "reset a stopped consumer group (Kafka's committed offsets and souk's\n"
	    "consumer_offsets in PostgreSQL; refused while the group has members):\n"
	    "  -g, --reset-group G      the group\n"
	    "      --to-datetime T      to the first message stamped T or later\n"
	    "      --to-offset N        to offset N (within the kept offsets)\n"
	    "      --to-earliest        to the earliest kept offset\n"
	    "      --to-latest          to the end\n"
	    "      --execute            apply (default: print the plan only)\n"
	    "common:\n"
	    "  -b, --brokers LIST       bootstrap servers (kafka.brokers)\n"
	    "  -c, --config FILE        read \"key = value\" lines from FILE\n"
	    "  -X, --set KEY=VALUE      set one key (kafka.* keys go to librdkafka)\n"
	    "  -h, --help               this help\n"
	    "  -V, --version            print the version\n"
	    "\n"
	    "dedup guard: into a pool's source topic, a range holding messages older "
	    "than "
	    "the\n"
	    "pool's dedup window is refused without --force (only the pool's "
	    "business-key "
	    "dedup\n"
	    "keeps a replay from applying twice):\n");
	for (const struct replay_guard_rule *r = replay_guard_rules; r->topic; r++) {
		fprintf(out, "  %-10s the %s pool dedups by %s\n", r->topic, r->pool,
			r->dedup);
		if (r->window_ms)
			fprintf(out,
				"  %-10s -> a range with messages older than %" PRId64
				" h is refused\n",
				"", r->window_ms / 3600000);
		else
			fprintf(out, "  %-10s -> no range is refused\n", "");
	}
	fprintf(out,
		"  (any other topic: no guard; the matching pool's topics get a rule "
		"when that pool\n  says how long it dedups)\n"
		"Replaying `orders`: the inventory pool applies each stock_set once (by "
		"event_id).\n"
		"\n"
		"exit status: 0 done, 1 failure or refusal, 2 usage\n"
		"\nkeys:\n");
	souk_config_help(tables, out);
}

static int64_t
replay_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int
replay_collect_prop(const char *name, const char *value, void *opaque)
{
	struct replay_props *p = opaque;

	if (p->n == REPLAY_COPY_MAX_PROPS)
		return -1;
	p->props[p->n++] = (struct souk_kafka_prop){name, value};
	return 0;
}

/* Sets a selection bound once; a second one for the same edge is a usage error. */
static int
replay_set_bound(struct replay_bound *b, enum replay_bound_kind kind, int64_t value,
		 const char *edge)
{
	if (b->kind != REPLAY_BOUND_NONE) {
		fprintf(stderr, "error: give one %s bound: an offset or a time\n", edge);
		return -1;
	}
	b->kind = kind;
	b->value = value;
	return 0;
}

/* Parses the command line into o. Returns -1 to go on, or the exit status. */
static int
replay_parse(int argc, char **argv, struct replay_opts *o,
	     const struct souk_config_def *const *tables, char *brokers_set,
	     size_t brokers_set_size)
{
	enum {
		OPT_START_OFFSET = 256,
		OPT_END_OFFSET,
		OPT_START_TIME,
		OPT_END_TIME,
		OPT_TYPE,
		OPT_FIELD,
		OPT_KEEP_TS,
		OPT_FORCE,
		OPT_WINDOW,
		OPT_RATE,
		OPT_SPEED,
		OPT_JSON,
		OPT_TO_DATETIME,
		OPT_TO_OFFSET,
		OPT_TO_EARLIEST,
		OPT_TO_LATEST,
		OPT_EXECUTE,
	};
	static const struct option longopts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"partition", required_argument, NULL, 'p'},
	    {"start-offset", required_argument, NULL, OPT_START_OFFSET},
	    {"end-offset", required_argument, NULL, OPT_END_OFFSET},
	    {"start-time", required_argument, NULL, OPT_START_TIME},
	    {"end-time", required_argument, NULL, OPT_END_TIME},
	    {"key", required_argument, NULL, 'k'},
	    {"type", required_argument, NULL, OPT_TYPE},
	    {"field", required_argument, NULL, OPT_FIELD},
	    {"keep-timestamps", no_argument, NULL, OPT_KEEP_TS},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"dedup-window", required_argument, NULL, OPT_WINDOW},
	    {"rate", required_argument, NULL, OPT_RATE},
	    {"speed", required_argument, NULL, OPT_SPEED},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"reset-group", required_argument, NULL, 'g'},
	    {"to-datetime", required_argument, NULL, OPT_TO_DATETIME},
	    {"to-offset", required_argument, NULL, OPT_TO_OFFSET},
	    {"to-earliest", no_argument, NULL, OPT_TO_EARLIEST},
	    {"to-latest", no_argument, NULL, OPT_TO_LATEST},
	    {"execute", no_argument, NULL, OPT_EXECUTE},
	    {"brokers", required_argument, NULL, 'b'},
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int64_t now = replay_now_ms(), v;
	bool replay_only = false;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "t:p:k:ng:b:c:X:hV", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 't':
			o->target = optarg;
			replay_only = true;
			break;
		case 'p':
			bad = replay_partitions_parse(&o->sel, optarg, err, sizeof(err));
			break;
		case OPT_START_OFFSET:
		case OPT_END_OFFSET:
			bad = replay_offset_parse(optarg, &v, err, sizeof(err));
			if (!bad &&
			    replay_set_bound(c == OPT_START_OFFSET ? &o->sel.start
								   : &o->sel.end,
					     REPLAY_BOUND_OFFSET, v,
					     c == OPT_START_OFFSET ? "start" : "end"))
				return REPLAY_EXIT_USAGE;
			replay_only = true;
			break;
		case OPT_START_TIME:
		case OPT_END_TIME:
			bad = replay_time_parse(optarg, now, &v, err, sizeof(err));
			if (!bad && replay_set_bound(
					c == OPT_START_TIME ? &o->sel.start : &o->sel.end,
					REPLAY_BOUND_TIME, v,
					c == OPT_START_TIME ? "start" : "end"))
				return REPLAY_EXIT_USAGE;
			replay_only = true;
			break;
		case 'k':
			bad = replay_filter_add_key(o->filter, optarg, err, sizeof(err));
			replay_only = true;
			break;
		case OPT_TYPE:
			bad = replay_filter_add_type(o->filter, optarg, err, sizeof(err));
			replay_only = true;
			break;
		case OPT_FIELD:
			bad =
			    replay_filter_add_field(o->filter, optarg, err, sizeof(err));
			replay_only = true;
			break;
		case OPT_KEEP_TS:
			o->keep_timestamps = replay_only = true;
			break;
		case OPT_FORCE:
			o->force = replay_only = true;
			break;
		case OPT_WINDOW:
			bad = replay_duration_parse(optarg, &o->dedup_window_ms, err,
						    sizeof(err));
			replay_only = true;
			break;
		case OPT_RATE:
			bad = replay_pace_parse_rate(optarg, &o->rate, err, sizeof(err));
			replay_only = true;
			break;
		case OPT_SPEED:
			bad =
			    replay_pace_parse_speed(optarg, &o->speed, err, sizeof(err));
			replay_only = true;
			break;
		case 'n':
			o->dry_run = replay_only = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'g':
			o->group = optarg;
			break;
		case OPT_TO_DATETIME:
			bad = replay_time_parse(optarg, now, &o->reset_value, err,
						sizeof(err));
			o->reset_to = REPLAY_RESET_DATETIME;
			break;
		case OPT_TO_OFFSET:
			bad = replay_offset_parse(optarg, &o->reset_value, err,
						  sizeof(err));
			o->reset_to = REPLAY_RESET_OFFSET;
			break;
		case OPT_TO_EARLIEST:
			o->reset_to = REPLAY_RESET_EARLIEST;
			break;
		case OPT_TO_LATEST:
			o->reset_to = REPLAY_RESET_LATEST;
			break;
		case OPT_EXECUTE:
			o->execute = true;
			break;
		case 'b':
			snprintf(brokers_set, brokers_set_size, "kafka.brokers=%s",
				 optarg);
			o->sets[o->nsets++] = brokers_set;
			break;
		case 'c':
			o->config_path = optarg;
			break;
		case 'X':
			o->sets[o->nsets++] = optarg;
			break;
		case 'h':
			replay_usage(stdout, tables);
			return 0;
		case 'V':
			printf("souk-replay %s\n", SOUK_VERSION);
			return 0;
		default:
			replay_usage(stderr, tables);
			return REPLAY_EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "error: %s\n", err);
			return REPLAY_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr,
			"error: expected one topic, got %d operands (see --help)\n",
			argc - optind);
		return REPLAY_EXIT_USAGE;
	}
	o->topic = argv[optind];
	if (o->group) {
		if (replay_only) {
			fprintf(stderr,
				"error: --reset-group takes --partition, a --to-* "
				"option and --execute; the other options are for a "
				"replay\n");
			return REPLAY_EXIT_USAGE;
		}
		if (o->reset_to < 0) {
			fprintf(stderr, "error: --reset-group needs --to-datetime, "
					"--to-offset, --to-earliest or --to-latest\n");
			return REPLAY_EXIT_USAGE;
		}
		return -1;
	}
	if (o->reset_to >= 0 || o->execute) {
		fprintf(stderr,
			"error: --to-* options and --execute need --reset-group\n");
		return REPLAY_EXIT_USAGE;
	}
	if (o->rate > 0 && o->speed > 0) {
		fprintf(stderr, "error: give --rate or --speed, not both\n");
		return REPLAY_EXIT_USAGE;
	}
	if (!o->target) {
		size_t len = strlen(o->topic), slen = strlen(REPLAY_DLQ_SUFFIX);

		if (len <= slen || len - slen >= sizeof(o->redrive) ||
		    strcmp(o->topic + len - slen, REPLAY_DLQ_SUFFIX) != 0) {
			fprintf(stderr,
				"error: --to is required: the topic to replay \"%s\" "
				"into (it may be \"%s\" itself)\n",
				o->topic, o->topic);
			return REPLAY_EXIT_USAGE;
		}
		memcpy(o->redrive, o->topic, len - slen);
		o->redrive[len - slen] = '\0';
		o->target = o->redrive;
	}
	return -1;
}

/* ---- replay ---- */

static void
replay_print_guard(const struct replay_copy *c, const struct replay_opts *o)
{
	const struct replay_guard_rule *rule = replay_copy_guard_rule(c);
	int64_t window = replay_copy_guard_window(c);
	const struct replay_copy_part *parts;
	size_t n;
	char why[300];

	if (rule)
		snprintf(why, sizeof(why), "the %s pool dedups by %s", rule->pool,
			 rule->dedup);
	else
		snprintf(why, sizeof(why), "the dedup window given is %" PRId64 " s",
			 window / 1000);
	parts = replay_copy_parts(c, &n);
	for (size_t i = 0; i < n; i++) {
		const struct replay_copy_part *p = &parts[i];

		if (!p->guard_broken)
			continue;
		if (p->guard_offset < 0)
			fprintf(stderr,
				"%s: \"%s\" [%d]: every message of offsets %" PRId64
				"..%" PRId64 " is older than %" PRId64 " s (%s)\n",
				o->force ? "warning" : "error", o->topic,
				(int)p->partition, p->range.start, p->range.end - 1,
				window / 1000, why);
		else
			fprintf(stderr,
				"%s: \"%s\" [%d]: offsets %" PRId64 "..%" PRId64
				" are older than %" PRId64 " s (%s)\n",
				o->force ? "warning" : "error", o->topic,
				(int)p->partition, p->range.start, p->guard_offset - 1,
				window / 1000, why);
	}
	if (o->force)
		fprintf(stderr, "warning: replaying them into \"%s\" anyway (--force)\n",
			o->target);
	else
		fprintf(
		    stderr,
		    "error: refusing to replay into \"%s\" messages older than its dedup "
		    "window: they could be applied twice; narrow the range "
		    "(--start-time) or give --force\n",
		    o->target);
}

static void
replay_print_summary(const struct replay_copy *c, const struct replay_opts *o)
{
	struct replay_copy_totals t = replay_copy_totals(c);
	const struct replay_copy_part *parts;
	size_t n;

	parts = replay_copy_parts(c, &n);
	printf("%s %s -> %s%s\n", o->dry_run ? "dry run:" : "replay:", o->topic,
	       o->target, o->dry_run ? " (nothing sent)" : "");
	printf("%9s  %-23s %10s %9s %10s %10s", "partition", "range",
	       o->dry_run ? "would send" : "sent", "skipped", "first", "last");
	if (!o->dry_run)
		printf(" %10s %7s", "delivered", "failed");
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		const struct replay_copy_part *p = &parts[i];
		char range[48], first[24] = "-", last[24] = "-";

		snprintf(range, sizeof(range), "%" PRId64 "..%" PRId64 " (%" PRId64 ")",
			 p->range.start, p->range.end - 1, p->range.end - p->range.start);
		if (p->first >= 0) {
			snprintf(first, sizeof(first), "%" PRId64, p->first);
			snprintf(last, sizeof(last), "%" PRId64, p->last);
		}
		printf("%9d  %-23s %10" PRIu64 " %9" PRIu64 " %10s %10s",
		       (int)p->partition, p->range.end > p->range.start ? range : "empty",
		       p->selected, p->skipped, first, last);
		if (!o->dry_run)
			printf(" %10" PRIu64 " %7" PRIu64, p->delivered, p->failed);
		printf("\n");
	}
	printf("total: %" PRIu64 " read, %" PRIu64 " %s, %" PRIu64 " skipped", t.read,
	       t.selected, o->dry_run ? "would be sent" : "sent", t.skipped);
	if (!o->dry_run)
		printf(", %" PRIu64 " delivered, %" PRIu64 " failed", t.delivered,
		       t.failed);
	printf(" in %.2f s (%.0f messages/s)%s\n", t.seconds,
	       t.seconds > 0 ? (double)t.read / t.seconds : 0.0,
	       t.interrupted ? ", interrupted" : "");
}

static void
replay_json_int(yajl_gen g, const char *key, int64_t v)
{
	souk_json_gen_str(g, key);
	yajl_gen_integer(g, v);
}

/* v < 0 as null. */
static void
replay_json_offset(yajl_gen g, const char *key, int64_t v)
{
	souk_json_gen_str(g, key);
	if (v < 0)
		yajl_gen_null(g);
	else
		yajl_gen_integer(g, v);
}

static void
replay_json_print(yajl_gen g)
{
	const unsigned char *buf;
	size_t len;

	yajl_gen_get_buf(g, &buf, &len);
	printf("%.*s\n", (int)len, (const char *)buf);
}

static void
replay_print_json(const struct replay_copy *c, const struct replay_opts *o,
		  const char *error)
{
	struct replay_copy_totals t = replay_copy_totals(c);
	const struct replay_copy_part *parts;
	yajl_gen g = yajl_gen_alloc(NULL);
	char seconds[32];
	size_t n;

	if (!g)
		return;
	parts = replay_copy_parts(c, &n);
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "source");
	souk_json_gen_str(g, o->topic);
	souk_json_gen_str(g, "target");
	souk_json_gen_str(g, o->target);
	souk_json_gen_str(g, "dry_run");
	yajl_gen_bool(g, o->dry_run);
	souk_json_gen_str(g, "guard");
	yajl_gen_map_open(g);
	replay_json_int(g, "window_ms", replay_copy_guard_window(c));
	souk_json_gen_str(g, "broken");
	yajl_gen_bool(g, replay_copy_guard_broken(c));
	souk_json_gen_str(g, "forced");
	yajl_gen_bool(g, o->force);
	yajl_gen_map_close(g);
	souk_json_gen_str(g, "partitions");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++) {
		const struct replay_copy_part *p = &parts[i];

		yajl_gen_map_open(g);
		replay_json_int(g, "partition", p->partition);
		replay_json_int(g, "start", p->range.start);
		replay_json_int(g, "end", p->range.end);
		replay_json_int(g, "read", (int64_t)p->read);
		replay_json_int(g, "selected", (int64_t)p->selected);
		replay_json_int(g, "skipped", (int64_t)p->skipped);
		replay_json_offset(g, "first", p->first);
		replay_json_offset(g, "last", p->last);
		replay_json_int(g, "delivered", (int64_t)p->delivered);
		replay_json_int(g, "failed", (int64_t)p->failed);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	replay_json_int(g, "read", (int64_t)t.read);
	replay_json_int(g, "selected", (int64_t)t.selected);
	replay_json_int(g, "skipped", (int64_t)t.skipped);
	replay_json_int(g, "delivered", (int64_t)t.delivered);
	replay_json_int(g, "failed", (int64_t)t.failed);
	souk_json_gen_str(g, "seconds");
	snprintf(seconds, sizeof(seconds), "%.3f", t.seconds);
	yajl_gen_number(g, seconds, strlen(seconds));
	souk_json_gen_str(g, "interrupted");
	yajl_gen_bool(g, t.interrupted);
	souk_json_gen_str(g, "error");
	if (error)
		souk_json_gen_str(g, error);
	else
		yajl_gen_null(g);
	yajl_gen_map_close(g);
	replay_json_print(g);
	yajl_gen_free(g);
}

static int
replay_run(const struct replay_opts *o, const struct souk_config *cfg,
	   const struct replay_props *props)
{
	struct replay_copy_conf conf = {
	    .brokers = souk_config_get_string(cfg, "kafka.brokers"),
	    .props = props->props,
	    .nprops = props->n,
	    .source = o->topic,
	    .target = o->target,
	    .sel = &o->sel,
	    .filter = o->filter,
	    .rate = o->rate,
	    .speed = o->speed,
	    .keep_timestamps = o->keep_timestamps,
	    .dry_run = o->dry_run,
	    .dedup_window_ms = o->dedup_window_ms,
	    .message_timeout_ms = (int)souk_config_get_duration_ms(cfg, "replay.timeout"),
	    .now_ms = replay_now_ms(),
	    .progress = !o->json,
	    .interrupted = &replay_interrupted,
	};
	struct replay_copy *c;
	char errstr[512];
	bool refused;
	int rc = REPLAY_EXIT_FAIL, run;

	c = replay_copy_new(&conf, errstr, sizeof(errstr));
	if (!c) {
		fprintf(stderr, "error: %s\n", errstr);
		return REPLAY_EXIT_FAIL;
	}
	refused = replay_copy_guard_broken(c) && !o->force;
	if (replay_copy_guard_broken(c))
		replay_print_guard(c, o);
	if (refused && !o->dry_run) {
		if (o->json)
			replay_print_json(c, o, "refused by the dedup guard");
		goto out;
	}
	run = replay_copy_run(c, errstr, sizeof(errstr));
	if (run)
		fprintf(stderr, "error: %s\n", errstr);
	if (o->json)
		replay_print_json(c, o, run ? errstr : NULL);
	else
		replay_print_summary(c, o);
	rc = run || refused ? REPLAY_EXIT_FAIL : 0;
out:
	replay_copy_destroy(c);
	return rc;
}

/* ---- reset-group ---- */

static void
replay_print_plan(const struct replay_reset_plan *plan, const struct replay_opts *o)
{
	if (o->json) {
		yajl_gen g = yajl_gen_alloc(NULL);

		if (!g)
			return;
		yajl_gen_map_open(g);
		souk_json_gen_str(g, "group");
		souk_json_gen_str(g, plan->group);
		souk_json_gen_str(g, "topic");
		souk_json_gen_str(g, plan->topic);
		souk_json_gen_str(g, "state");
		souk_json_gen_str(g, plan->state);
		replay_json_int(g, "members", (int64_t)plan->members);
		souk_json_gen_str(g, "executed");
		yajl_gen_bool(g, o->execute && plan->members == 0);
		souk_json_gen_str(g, "partitions");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < plan->n; i++) {
			const struct replay_reset_row *r = &plan->rows[i];

			yajl_gen_map_open(g);
			replay_json_int(g, "partition", r->partition);
			replay_json_int(g, "low", r->low);
			replay_json_int(g, "high", r->high);
			replay_json_offset(g, "committed", r->committed);
			replay_json_offset(g, "stored", r->stored);
			replay_json_offset(g, "epoch", r->epoch);
			replay_json_int(g, "target", r->target);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		replay_json_print(g);
		yajl_gen_free(g);
		return;
	}
	printf("reset group %s on %s (state %s, members %zu)%s\n", plan->group,
	       plan->topic, plan->state, plan->members,
	       o->execute ? "" : ": dry run, --execute to apply");
	printf("%9s %10s %10s %10s %10s %6s %10s\n", "partition", "low", "high", "kafka",
	       "souk (pg)", "epoch", "new");
	for (size_t i = 0; i < plan->n; i++) {
		const struct replay_reset_row *r = &plan->rows[i];
		char committed[24] = "-", stored[24] = "-", epoch[24] = "-";

		if (r->committed >= 0)
			snprintf(committed, sizeof(committed), "%" PRId64, r->committed);
		if (r->stored >= 0) {
			snprintf(stored, sizeof(stored), "%" PRId64, r->stored);
			snprintf(epoch, sizeof(epoch), "%" PRId64, r->epoch);
		}
		printf("%9d %10" PRId64 " %10" PRId64 " %10s %10s %6s %10" PRId64 "\n",
		       (int)r->partition, r->low, r->high, committed, stored, epoch,
		       r->target);
	}
}

static int
replay_reset(const struct replay_opts *o, const struct souk_config *cfg,
	     const struct replay_props *props)
{
	struct souk_kafka_consumer *consumer = NULL;
	struct replay_reset_plan *plan = NULL;
	struct souk_pg *pg = NULL;
	char errstr[512], group[64];
	rd_kafka_t *rk;
	int rc = REPLAY_EXIT_FAIL;

	/* an admin client: a consumer in a group of its own that never joins */
	snprintf(group, sizeof(group), "souk-replay-%ld", (long)getpid());
	consumer = souk_kafka_consumer_new(souk_config_get_string(cfg, "kafka.brokers"),
					   group, props->props, props->n, NULL, NULL,
					   errstr, sizeof(errstr));
	if (!consumer)
		goto fail;
	rk = souk_kafka_consumer_handle(consumer);
	pg = souk_pg_connect(souk_config_get_string(cfg, "pg.dsn"), 10000, errstr,
			     sizeof(errstr));
	if (!pg)
		goto fail;
	plan = replay_reset_plan_new(rk, pg, o->group, o->topic, &o->sel,
				     (enum replay_reset_to)o->reset_to, o->reset_value,
				     errstr, sizeof(errstr));
	if (!plan)
		goto fail;
	replay_print_plan(plan, o);
	if (plan->members > 0) {
		fprintf(stderr,
			"error: consumer group \"%s\" has members (%zu: %s): stop them "
			"before a reset\n",
			plan->group, plan->members, plan->member_names);
		goto out;
	}
	if (!o->execute) {
		rc = 0;
		goto out;
	}
	if (replay_reset_apply(rk, pg, plan, errstr, sizeof(errstr)))
		goto fail;
	if (!o->json)
		printf("applied: %zu partitions of %s in Kafka and in consumer_offsets\n",
		       plan->n, plan->topic);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", errstr);
out:
	replay_reset_plan_destroy(plan);
	souk_pg_destroy(pg);
	souk_kafka_consumer_destroy(consumer);
	return rc;
}

int
main(int argc, char **argv)
{
	const struct souk_config_def *const tables[] = {souk_config_common, replay_defs,
							NULL};
	struct replay_opts o = {
	    .sel = {.all_partitions = true}, .dedup_window_ms = -1, .reset_to = -1};
	struct replay_props props = {.n = 0};
	struct souk_config *cfg = NULL;
	struct sigaction sa;
	char errstr[512], brokers_set[512];
	int rc;

	o.sets = calloc((size_t)argc + 1, sizeof(*o.sets));
	o.filter = replay_filter_new();
	if (!o.sets || !o.filter) {
		fprintf(stderr, "error: out of memory\n");
		rc = REPLAY_EXIT_FAIL;
		goto out;
	}
	rc = replay_parse(argc, argv, &o, tables, brokers_set, sizeof(brokers_set));
	if (rc >= 0)
		goto out;
	cfg = souk_config_new(tables, errstr, sizeof(errstr));
	if (!cfg ||
	    souk_config_load(cfg, o.config_path, o.nsets, o.sets, errstr,
			     sizeof(errstr)) ||
	    souk_config_foreach_prefix(cfg, "kafka.", replay_collect_prop, &props)) {
		fprintf(stderr, "error: %s\n",
			!cfg || props.n < REPLAY_COPY_MAX_PROPS
			    ? errstr
			    : "too many kafka.* keys");
		rc = REPLAY_EXIT_USAGE;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = replay_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = o.group ? replay_reset(&o, cfg, &props) : replay_run(&o, cfg, &props);
out:
	souk_config_destroy(cfg);
	replay_filter_destroy(o.filter);
	free(o.sets);
	return rc;
}
