/*
 * souk-produce: NDJSON events from files or stdin to Kafka.
 *
 * Each line is one event. It is validated with the same codec as the gateway and the
 * workers (unless --no-validate), sent to its type's topic (or --topic) keyed by the
 * type's key (DESIGN.md), byte for byte as read. An invalid line is reported with its
 * file and line number and written to --rejects; nothing is silently dropped. The tool
 * waits for every delivery report before it prints its summary and exits: 0 when every
 * line was delivered, 1 when any was rejected or failed, 2 on a usage error.
 *
 * Cost: one parse per line when validating (O(line)), one copy into librdkafka's queue.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "souk_config.h"
#include "souk_event.h"
#include "souk_json.h"
#include "souk_kafka.h"
#include "souk_progress.h"

#define PR_MAX_PROPS 64

struct pr_opts {
	const char *topic;	/* NULL: by type */
	const char *rejects;	/* NULL: none */
	double rate;		/* lines per second, 0: as fast as possible */
	bool validate;
	bool json;
};

struct pr_stats {
	uint64_t lines;	    /* non-blank lines read */
	uint64_t sent;	    /* handed to the producer */
	uint64_t rejected;  /* invalid: not sent */
	atomic_uint_fast64_t delivered;
	atomic_uint_fast64_t failed; /* sent, and the broker did not take it */
	uint64_t bytes_read;
};

struct pr_props {
	struct souk_kafka_prop props[PR_MAX_PROPS];
	size_t n;
};

static volatile sig_atomic_t pr_interrupted;

static void
pr_on_signal(int sig)
{
	(void)sig;
	pr_interrupted = 1;
}

static void
pr_on_delivery(void *opaque, void *msg_opaque, const char *topic, int32_t partition,
	       int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	struct pr_stats *st = opaque;

	(void)partition;
	(void)offset;
	if (!err) {
		atomic_fetch_add(&st->delivered, 1);
		return;
	}
	atomic_fetch_add(&st->failed, 1);
	fprintf(stderr, "error: line %" PRIuPTR " to %s: not delivered: %s\n",
		(uintptr_t)msg_opaque, topic, errstr);
}

static int
pr_collect_prop(const char *name, const char *value, void *opaque)
{
	struct pr_props *p = opaque;

	if (p->n == PR_MAX_PROPS)
		return -1;
	p->props[p->n++] = (struct souk_kafka_prop){name, value};
	return 0;
}

/* Finds the topic and key of a line without validating it (--no-validate): the line
 * must still be a JSON object naming a known type and holding its key as a string. */
static int
pr_route_unvalidated(const char *line, size_t len, const char **topic, char *key,
		     size_t key_size, char *err, size_t err_size)
{
	static const souk_json_limits_t limits = {SOUK_EVENT_MAX_BYTES, SOUK_EVENT_MAX_DEPTH,
						  SOUK_EVENT_MAX_MEMBERS};
	souk_json_error_t jerr;
	souk_json_t *doc = souk_json_parse(line, len, &limits, &jerr);
	const souk_json_value_t *root, *v;
	const char *name, *k;
	souk_event_type_t t;
	int rc = -1;

	if (!doc) {
		snprintf(err, err_size, "%s", jerr.message);
		return -1;
	}
	root = souk_json_root(doc);
	v = souk_json_object_get(root, "type");
	name = v ? souk_json_string(v, NULL) : NULL;
	t = name ? souk_event_type_from_name(name) : SOUK_EVENT_TYPE_NONE;
	if (t == SOUK_EVENT_TYPE_NONE) {
		snprintf(err, err_size, "type: missing or unknown (needed for the topic)");
		goto out;
	}
	v = souk_json_object_get(root, souk_event_key_name(t));
	k = v ? souk_json_string(v, NULL) : NULL;
	if (!k) {
		snprintf(err, err_size, "%s: missing (needed for the partition key)",
			 souk_event_key_name(t));
		goto out;
	}
	*topic = souk_event_topic(t);
	snprintf(key, key_size, "%s", k);
	rc = 0;
out:
	souk_json_destroy(doc);
	return rc;
}

/* Sends one line; blocks (serving delivery reports) while the producer queue is full.
 * Returns 0 when sent, 1 when rejected, -1 on a producer failure. */
static int
pr_send(struct souk_kafka_producer *p, const struct pr_opts *o, struct pr_stats *st,
	FILE *rejects, const char *file, uint64_t lineno, const char *line, size_t len)
{
	const char *topic = o->topic, *key = NULL;
	char keybuf[SOUK_EVENT_IDENT_SIZE], err[300], errstr[256];
	souk_event_t ev;
	souk_event_error_t eerr;
	int rc;

	if (o->validate) {
		souk_event_status_t s = souk_event_decode(line, len, &ev, &eerr);

		if (s != SOUK_EVENT_OK) {
			snprintf(err, sizeof(err), "%s", eerr.message);
			goto reject;
		}
		key = souk_event_key(&ev);
		if (!topic)
			topic = souk_event_topic(ev.type);
	} else if (!topic) {
		if (pr_route_unvalidated(line, len, &topic, keybuf, sizeof(keybuf), err,
					 sizeof(err)))
			goto reject;
		key = keybuf;
	}
	for (;;) {
		rc = souk_kafka_produce(p, topic, key, key ? strlen(key) : 0, line, len, NULL, 0,
					(void *)(uintptr_t)lineno, errstr, sizeof(errstr));
		if (rc != SOUK_KAFKA_QUEUE_FULL)
			break;
		souk_kafka_poll(p, 10); /* back-pressure: wait for acknowledgements */
	}
	if (rc != SOUK_KAFKA_OK) {
		fprintf(stderr, "error: %s:%" PRIu64 ": could not produce: %s\n", file, lineno,
			errstr);
		return -1;
	}
	st->sent++;
	souk_kafka_poll(p, 0);
	return 0;
reject:
	st->rejected++;
	fprintf(stderr, "rejected: %s:%" PRIu64 ": %s\n", file, lineno, err);
	if (rejects) {
		fwrite(line, 1, len, rejects);
		fputc('\n', rejects);
	}
	return 1;
}

/* Sleeps as needed so that `sent` lines take sent/rate seconds since start. */
static void
pr_pace(double rate, double start, uint64_t sent)
{
	double due = start + (double)sent / rate, now = souk_progress_now();

	if (due > now) {
		struct timespec ts = {.tv_sec = (time_t)(due - now),
				      .tv_nsec = (long)((due - now - (time_t)(due - now)) * 1e9)};

		nanosleep(&ts, NULL);
	}
}

static int
pr_file(struct souk_kafka_producer *p, const struct pr_opts *o, struct pr_stats *st,
	FILE *rejects, const char *path, double start)
{
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	const char *name = strcmp(path, "-") ? path : "stdin";
	struct souk_progress *bar = NULL;
	struct stat sb;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0;
	int rc = 0;

	if (!in) {
		fprintf(stderr, "error: could not open \"%s\": %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode))
		bar = souk_progress_new((uint64_t)sb.st_size, "lines");
	else
		bar = souk_progress_new(0, "lines");
	while (!pr_interrupted && (n = getline(&line, &cap, in)) != -1) {
		size_t len = (size_t)n;

		lineno++;
		st->bytes_read += len;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (strspn(line, " \t") == len)
			continue; /* blank */
		st->lines++;
		if (pr_send(p, o, st, rejects, name, lineno, line, len) < 0) {
			rc = -1;
			break;
		}
		if (o->rate > 0)
			pr_pace(o->rate, start, st->sent);
		souk_progress_update(bar, st->bytes_read, st->lines);
	}
	if (ferror(in)) {
		fprintf(stderr, "error: could not read \"%s\": %s\n", path, strerror(errno));
		rc = -1;
	}
	souk_progress_finish(bar, st->bytes_read, st->lines);
	free(line);
	if (in != stdin)
		fclose(in);
	return rc;
}

static void
pr_usage(FILE *out, const struct souk_config_def *const *tables)
{
	fprintf(out,
		"usage: souk-produce [options] [FILE...]   (no FILE or \"-\": stdin)\n"
		"\n"
		"  -b, --brokers LIST   bootstrap servers (kafka.brokers)\n"
		"  -t, --topic TOPIC    send every line to TOPIC instead of its type's topic\n"
		"      --no-validate    skip the schema checks (a line still needs its type and\n"
		"                       key unless --topic is given; then it is sent unkeyed)\n"
		"  -r, --rate N         send at most N lines per second\n"
		"      --rejects FILE   write invalid lines to FILE\n"
		"      --json           print the summary as JSON\n"
		"  -c, --config FILE    read \"key = value\" lines from FILE\n"
		"  -X, --set KEY=VALUE  set one key (kafka.* keys go to librdkafka)\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version\n"
		"\n"
		"exit status: 0 all delivered, 1 something rejected or not delivered, 2 usage\n"
		"\nkeys:\n");
	souk_config_help(tables, out);
}

int
main(int argc, char **argv)
{
	enum { OPT_NO_VALIDATE = 256, OPT_REJECTS, OPT_JSON };
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"no-validate", no_argument, NULL, OPT_NO_VALIDATE},
		{"rate", required_argument, NULL, 'r'},
		{"rejects", required_argument, NULL, OPT_REJECTS},
		{"json", no_argument, NULL, OPT_JSON},
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 'X'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static const struct souk_config_def produce_defs[] = {
		{.name = "produce.timeout", .type = SOUK_CONFIG_DURATION_MS, .def = "30s",
		 .min = 1000, .max = 3600000,
		 .help = "give up on a message the broker has not acknowledged after this long"},
		{.name = NULL},
	};
	const struct souk_config_def *const tables[] = {souk_config_common, produce_defs, NULL};
	struct pr_opts o = {.validate = true};
	struct pr_stats st = {0};
	struct pr_props props = {.n = 0};
	struct souk_config *cfg = NULL;
	struct souk_kafka_producer *p = NULL;
	const char **sets = calloc((size_t)argc + 2, sizeof(*sets));
	const char *config_path = NULL;
	char errstr[512], brokers_set[512];
	FILE *rejects = NULL;
	double start, secs;
	int n_sets = 0, c, rc = 1, left;
	uint64_t failed;

	if (!sets)
		return 1;
	while ((c = getopt_long(argc, argv, "b:t:r:c:X:hV", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'b':
			snprintf(brokers_set, sizeof(brokers_set), "kafka.brokers=%s", optarg);
			sets[n_sets++] = brokers_set;
			break;
		case 't':
			o.topic = optarg;
			break;
		case OPT_NO_VALIDATE:
			o.validate = false;
			break;
		case 'r':
			o.rate = strtod(optarg, &end);
			if (*end || !(o.rate > 0)) {
				fprintf(stderr, "error: --rate: must be a positive number, got \"%s\"\n",
					optarg);
				rc = 2;
				goto out;
			}
			break;
		case OPT_REJECTS:
			o.rejects = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			sets[n_sets++] = optarg;
			break;
		case 'h':
			pr_usage(stdout, tables);
			rc = 0;
			goto out;
		case 'V':
			printf("souk-produce %s\n", SOUK_VERSION);
			rc = 0;
			goto out;
		default:
			pr_usage(stderr, tables);
			rc = 2;
			goto out;
		}
	}
	cfg = souk_config_new(tables, errstr, sizeof(errstr));
	if (!cfg || souk_config_load(cfg, config_path, n_sets, sets, errstr, sizeof(errstr)) ||
	    souk_config_foreach_prefix(cfg, "kafka.", pr_collect_prop, &props)) {
		fprintf(stderr, "error: %s\n", cfg ? errstr : "out of memory");
		rc = 2;
		goto out;
	}
	if (o.rejects && !(rejects = fopen(o.rejects, "w"))) {
		fprintf(stderr, "error: could not open \"%s\": %s\n", o.rejects, strerror(errno));
		goto out;
	}
	p = souk_kafka_producer_new(souk_config_get_string(cfg, "kafka.brokers"), props.props,
				    props.n,
				    (int)souk_config_get_duration_ms(cfg, "produce.timeout"),
				    pr_on_delivery, &st, errstr, sizeof(errstr));
	if (!p) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	signal(SIGINT, pr_on_signal);
	signal(SIGTERM, pr_on_signal);

	start = souk_progress_now();
	rc = 0;
	if (optind == argc)
		rc = pr_file(p, &o, &st, rejects, "-", start);
	for (int i = optind; i < argc && rc == 0 && !pr_interrupted; i++)
		rc = pr_file(p, &o, &st, rejects, argv[i], start);
	/* Every delivery report, however long the broker takes (bounded by
	 * produce.timeout per message). */
	while ((left = souk_kafka_flush(p, 1000)) > 0)
		;
	secs = souk_progress_now() - start;
	failed = atomic_load(&st.failed);
	if (o.json)
		printf("{\"lines\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64
		       ",\"rejected\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"seconds\":%.3f,\"events_per_s\":%.0f,\"interrupted\":%s}\n",
		       st.lines, st.sent, (uint64_t)atomic_load(&st.delivered), st.rejected, failed,
		       secs, secs > 0 ? (double)st.sent / secs : 0.0,
		       pr_interrupted ? "true" : "false");
	else
		fprintf(stderr,
			"%" PRIu64 " lines: %" PRIu64 " sent, %" PRIu64 " delivered, %" PRIu64
			" rejected, %" PRIu64 " failed in %.2f s (%.0f events/s)%s\n",
			st.lines, st.sent, (uint64_t)atomic_load(&st.delivered), st.rejected,
			failed, secs, secs > 0 ? (double)st.sent / secs : 0.0,
			pr_interrupted ? ", interrupted" : "");
	rc = rc || st.rejected || failed || pr_interrupted ? 1 : 0;
out:
	souk_kafka_producer_destroy(p);
	if (rejects && fclose(rejects)) {
		fprintf(stderr, "error: could not write \"%s\": %s\n", o.rejects, strerror(errno));
		rc = 1;
	}
	souk_config_destroy(cfg);
	free(sets);
	return rc;
}
