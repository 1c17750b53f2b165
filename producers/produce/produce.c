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
 * Lines are validated in batches on a pool of threads and sent by the main thread in
 * file order, so one key's events keep their order.
 *
 * Cost: one parse per line when validating (O(line)), one copy into the batch and one
 * into librdkafka's queue.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
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
	const char *topic;   /* NULL: by type */
	const char *rejects; /* NULL: none */
	double rate;	     /* lines per second, 0: as fast as possible */
	bool validate;
	bool json;
};

struct pr_stats {
	uint64_t lines;	   /* non-blank lines read */
	uint64_t sent;	   /* handed to the producer */
	uint64_t rejected; /* invalid: not sent */
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
	static const souk_json_limits_t limits = {
	    SOUK_EVENT_MAX_BYTES, SOUK_EVENT_MAX_DEPTH, SOUK_EVENT_MAX_MEMBERS};
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
		snprintf(err, err_size,
			 "type: missing or unknown (needed for the topic)");
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

/* Sleeps as needed so that `sent` lines take sent/rate seconds since start. */
static void
pr_pace(double rate, double start, uint64_t sent)
{
	double due = start + (double)sent / rate, now = souk_progress_now();

	if (due > now) {
		struct timespec ts = {
		    .tv_sec = (time_t)(due - now),
		    .tv_nsec = (long)((due - now - (time_t)(due - now)) * 1e9)};

		nanosleep(&ts, NULL);
	}
}

/* One line of a batch and what validation made of it. */
struct pr_line {
	size_t off, len; /* in the batch's buffer */
	uint64_t lineno;
	const char *topic; /* NULL: rejected */
	char key[SOUK_EVENT_IDENT_SIZE];
	bool has_key;
	char *error; /* malloc'd reason when rejected */
};

/* Up to PR_BATCH_LINES lines of one file, validated by a worker, produced by main in
 * file order. */
struct pr_batch {
	const char *file;
	char *buf;
	size_t len, cap;
	struct pr_line *lines;
	size_t n;
	uint64_t bytes; /* bytes of input the batch covers, blank lines included */
	bool done;	/* validated: lines[] are final */
	struct pr_batch *next_work;
};

#define PR_BATCH_LINES 256
#define PR_BATCH_BYTES (256u << 10)

/* The validation pool: batches wait in a FIFO; workers take them, validate every line
 * and mark them done. Main produces batches in the order it queued them. */
struct pr_pool {
	const struct pr_opts *o;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct pr_batch *head, *tail; /* waiting for a worker */
	bool closing;
	pthread_t *threads;
	int nthreads;
};

/* Validates one line into l (the codec, or only the routing under --no-validate). */
static void
pr_validate_line(const struct pr_opts *o, const char *line, size_t len, struct pr_line *l)
{
	char err[300];
	souk_event_t ev;
	souk_event_error_t eerr;

	l->topic = o->topic;
	l->has_key = false;
	if (o->validate) {
		if (souk_event_decode(line, len, &ev, &eerr) != SOUK_EVENT_OK) {
			snprintf(err, sizeof(err), "%s", eerr.message);
			goto reject;
		}
		snprintf(l->key, sizeof(l->key), "%s", souk_event_key(&ev));
		l->has_key = true;
		if (!l->topic)
			l->topic = souk_event_topic(ev.type);
	} else if (!l->topic) {
		if (pr_route_unvalidated(line, len, &l->topic, l->key, sizeof(l->key),
					 err, sizeof(err)))
			goto reject;
		l->has_key = true;
	}
	return;
reject:
	l->topic = NULL;
	l->error = strdup(err);
}

static void *
pr_worker_main(void *arg)
{
	struct pr_pool *pool = arg;

	for (;;) {
		struct pr_batch *b;

		pthread_mutex_lock(&pool->lock);
		while (!pool->head && !pool->closing)
			pthread_cond_wait(&pool->work, &pool->lock);
		b = pool->head;
		if (b) {
			pool->head = b->next_work;
			if (!pool->head)
				pool->tail = NULL;
		}
		pthread_mutex_unlock(&pool->lock);
		if (!b)
			return NULL; /* closing and nothing left */
		for (size_t i = 0; i < b->n; i++)
			pr_validate_line(pool->o, b->buf + b->lines[i].off,
					 b->lines[i].len, &b->lines[i]);
		pthread_mutex_lock(&pool->lock);
		b->done = true;
		pthread_cond_broadcast(&pool->done);
		pthread_mutex_unlock(&pool->lock);
	}
}

static void
pr_pool_submit(struct pr_pool *pool, struct pr_batch *b)
{
	pthread_mutex_lock(&pool->lock);
	b->done = false;
	b->next_work = NULL;
	if (pool->tail)
		pool->tail->next_work = b;
	else
		pool->head = b;
	pool->tail = b;
	pthread_cond_signal(&pool->work);
	pthread_mutex_unlock(&pool->lock);
}

static void
pr_pool_wait(struct pr_pool *pool, struct pr_batch *b)
{
	pthread_mutex_lock(&pool->lock);
	while (!b->done)
		pthread_cond_wait(&pool->done, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
}

static int
pr_pool_start(struct pr_pool *pool, const struct pr_opts *o, int nthreads)
{
	pool->o = o;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->done, NULL);
	pool->threads = calloc((size_t)nthreads, sizeof(*pool->threads));
	if (!pool->threads)
		return -1;
	for (; pool->nthreads < nthreads; pool->nthreads++)
		if (pthread_create(&pool->threads[pool->nthreads], NULL, pr_worker_main,
				   pool))
			return -1;
	return 0;
}

static void
pr_pool_stop(struct pr_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->closing = true;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->work);
	pthread_mutex_destroy(&pool->lock);
}

/* Appends one line to b. Returns -1 when out of memory. */
static int
pr_batch_add(struct pr_batch *b, const char *line, size_t len, uint64_t lineno)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : PR_BATCH_BYTES;
		char *grown;

		while (cap < b->len + len)
			cap *= 2;
		if (!(grown = realloc(b->buf, cap)))
			return -1;
		b->buf = grown;
		b->cap = cap;
	}
	if (!b->lines && !(b->lines = calloc(PR_BATCH_LINES, sizeof(*b->lines))))
		return -1;
	memcpy(b->buf + b->len, line, len);
	b->lines[b->n] = (struct pr_line){.off = b->len, .len = len, .lineno = lineno};
	b->len += len;
	b->n++;
	return 0;
}

static bool
pr_batch_full(const struct pr_batch *b)
{
	return b->n == PR_BATCH_LINES || b->len >= PR_BATCH_BYTES;
}

/* Sends a validated batch in line order, reporting and writing out its rejects; blocks
 * (serving delivery reports) while the producer queue is full. Empties the batch for
 * reuse. Returns -1 on a producer failure. */
static int
pr_batch_send(struct souk_kafka_producer *p, const struct pr_opts *o, struct pr_stats *st,
	      FILE *rejects, struct pr_batch *b, double start)
{
	int rc = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct pr_line *l = &b->lines[i];
		const char *line = b->buf + l->off;
		char errstr[256];
		int prc;

		if (rc)
			goto next; /* after a failure: free the rest, send nothing more */
		if (!l->topic) {
			st->rejected++;
			fprintf(stderr, "rejected: %s:%" PRIu64 ": %s\n", b->file,
				l->lineno, l->error ? l->error : "out of memory");
			if (rejects) {
				fwrite(line, 1, l->len, rejects);
				fputc('\n', rejects);
			}
			goto next;
		}
		while ((prc = souk_kafka_produce(
			    p, l->topic, l->has_key ? l->key : NULL,
			    l->has_key ? strlen(l->key) : 0, line, l->len, NULL, 0,
			    (void *)(uintptr_t)l->lineno, errstr, sizeof(errstr))) ==
		       SOUK_KAFKA_QUEUE_FULL)
			souk_kafka_poll(p,
					1); /* back-pressure: wait for acknowledgements */
		if (prc != SOUK_KAFKA_OK) {
			fprintf(stderr, "error: %s:%" PRIu64 ": could not produce: %s\n",
				b->file, l->lineno, errstr);
			rc = -1;
			goto next;
		}
		st->sent++;
		souk_kafka_poll(p, 0); /* serve delivery reports as they come */
		if (o->rate > 0)
			pr_pace(o->rate, start, st->sent);
	next:
		free(l->error);
		l->error = NULL;
	}
	st->bytes_read += b->bytes;
	b->n = 0;
	b->len = 0;
	b->bytes = 0;
	return rc;
}

/* The batches of one run: a ring of PR_INFLIGHT, produced in order. Small batches and
 * a short ring measured best here: bigger bursts filled the producer queue and left the
 * main thread waiting for acknowledgements (ops/bench/produce). */
#define PR_INFLIGHT 2

struct pr_run {
	struct souk_kafka_producer *p;
	const struct pr_opts *o;
	struct pr_stats *st;
	FILE *rejects;
	struct pr_pool pool;
	struct pr_batch ring[PR_INFLIGHT];
	size_t first, count; /* ring[first] is the oldest batch in flight */
	struct souk_progress *bar;
	double start;
};

/* Produces the oldest batch in flight once validated. */
static int
pr_run_retire(struct pr_run *run)
{
	struct pr_batch *b = &run->ring[run->first];
	int rc;

	pr_pool_wait(&run->pool, b);
	rc = pr_batch_send(run->p, run->o, run->st, run->rejects, b, run->start);
	run->first = (run->first + 1) % PR_INFLIGHT;
	run->count--;
	souk_progress_update(run->bar, run->st->bytes_read, run->st->sent);
	return rc;
}

/* The batch to fill next, retiring the oldest when the ring is full. */
static struct pr_batch *
pr_run_next(struct pr_run *run, int *rc)
{
	if (run->count == PR_INFLIGHT && (*rc = pr_run_retire(run)))
		return NULL;
	return &run->ring[(run->first + run->count) % PR_INFLIGHT];
}

static void
pr_run_submit(struct pr_run *run, struct pr_batch *b)
{
	pr_pool_submit(&run->pool, b);
	run->count++;
}

static int
pr_file(struct pr_run *run, const char *path)
{
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	const char *name = strcmp(path, "-") ? path : "stdin";
	struct pr_batch *b;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0;
	int rc = 0;

	if (!in) {
		fprintf(stderr, "error: could not open \"%s\": %s\n", path,
			strerror(errno));
		return -1;
	}
	b = pr_run_next(run, &rc);
	while (b && !pr_interrupted && (n = getline(&line, &cap, in)) != -1) {
		size_t len = (size_t)n;

		lineno++;
		b->file = name;
		b->bytes += len;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (strspn(line, " \t") == len)
			continue; /* blank */
		run->st->lines++;
		if (pr_batch_add(b, line, len, lineno)) {
			fprintf(stderr, "error: out of memory\n");
			rc = -1;
			break;
		}
		if (pr_batch_full(b)) {
			pr_run_submit(run, b);
			b = pr_run_next(run, &rc);
		}
	}
	if (ferror(in)) {
		fprintf(stderr, "error: could not read \"%s\": %s\n", path,
			strerror(errno));
		rc = -1;
	}
	if (b && b->n) {
		b->file = name;
		pr_run_submit(run, b);
	} else if (b) {
		run->st->bytes_read += b->bytes; /* trailing blank lines */
		b->bytes = 0;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	return rc;
}

/* The bytes of all files when every one is a regular file (for the progress bar's
 * percentage), else 0. */
static uint64_t
pr_total_bytes(int n, char **paths)
{
	uint64_t total = 0;
	struct stat sb;

	if (n == 0)
		return 0;
	for (int i = 0; i < n; i++) {
		if (!strcmp(paths[i], "-") || stat(paths[i], &sb) || !S_ISREG(sb.st_mode))
			return 0;
		total += (uint64_t)sb.st_size;
	}
	return total;
}

static void
pr_usage(FILE *out, const struct souk_config_def *const *tables)
{
	fprintf(out,
		"usage: souk-produce [options] [FILE...]   (no FILE or \"-\": stdin)\n"
		"\n"
		"  -b, --brokers LIST   bootstrap servers (kafka.brokers)\n"
		"  -t, --topic TOPIC    send every line to TOPIC instead of its type's "
		"topic\n"
		"      --no-validate    skip the schema checks (a line still needs its "
		"type and\n"
		"                       key unless --topic is given; then it is sent "
		"unkeyed)\n"
		"  -r, --rate N         send at most N lines per second\n"
		"      --rejects FILE   write invalid lines to FILE\n"
		"  -j, --threads N      validate on N threads (default: the number of "
		"cores);\n"
		"                       lines are still sent in file order\n"
		"      --json           print the summary as JSON\n"
		"  -c, --config FILE    read \"key = value\" lines from FILE\n"
		"  -X, --set KEY=VALUE  set one key (kafka.* keys go to librdkafka)\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version\n"
		"\n"
		"exit status: 0 all delivered, 1 something rejected or not delivered, 2 "
		"usage\n"
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
	    {"threads", required_argument, NULL, 'j'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static const struct souk_config_def produce_defs[] = {
	    {.name = "produce.timeout",
	     .type = SOUK_CONFIG_DURATION_MS,
	     .def = "30s",
	     .min = 1000,
	     .max = 3600000,
	     .help =
		 "give up on a message the broker has not acknowledged after this long"},
	    {.name = NULL},
	};
	const struct souk_config_def *const tables[] = {souk_config_common, produce_defs,
							NULL};
	struct pr_opts o = {.validate = true};
	struct pr_run run;
	int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct pr_stats st = {0};
	struct pr_props props = {.n = 0};
	struct souk_config *cfg = NULL;
	struct souk_kafka_producer *p = NULL;
	const char **sets = calloc((size_t)argc + 2, sizeof(*sets));
	const char *config_path = NULL;
	char errstr[512], brokers_set[512];
	FILE *rejects = NULL;
	double start, secs;
	int n_sets = 0, c, rc = 1;
	uint64_t failed;

	if (!sets)
		return 1;
	if (threads < 1)
		threads = 1;
	while ((c = getopt_long(argc, argv, "b:t:r:j:c:X:hV", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'b':
			snprintf(brokers_set, sizeof(brokers_set), "kafka.brokers=%s",
				 optarg);
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
				fprintf(stderr,
					"error: --rate: must be a positive number, got "
					"\"%s\"\n",
					optarg);
				rc = 2;
				goto out;
			}
			break;
		case 'j':
			threads = (int)strtol(optarg, &end, 10);
			if (*end || threads < 1 || threads > 64) {
				fprintf(stderr,
					"error: --threads: must be an integer between 1 "
					"and 64, "
					"got \"%s\"\n",
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
	if (!cfg ||
	    souk_config_load(cfg, config_path, n_sets, sets, errstr, sizeof(errstr)) ||
	    souk_config_foreach_prefix(cfg, "kafka.", pr_collect_prop, &props)) {
		fprintf(stderr, "error: %s\n", cfg ? errstr : "out of memory");
		rc = 2;
		goto out;
	}
	if (o.rejects && !(rejects = fopen(o.rejects, "w"))) {
		fprintf(stderr, "error: could not open \"%s\": %s\n", o.rejects,
			strerror(errno));
		goto out;
	}
	p = souk_kafka_producer_new(
	    souk_config_get_string(cfg, "kafka.brokers"), props.props, props.n,
	    (int)souk_config_get_duration_ms(cfg, "produce.timeout"), pr_on_delivery, &st,
	    errstr, sizeof(errstr));
	if (!p) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	signal(SIGINT, pr_on_signal);
	signal(SIGTERM, pr_on_signal);

	run = (struct pr_run){.p = p, .o = &o, .st = &st, .rejects = rejects};
	if (pr_pool_start(&run.pool, &o, threads)) {
		fprintf(stderr, "error: could not start %d validation threads\n",
			threads);
		pr_pool_stop(&run.pool);
		goto out;
	}
	run.bar =
	    souk_progress_new(pr_total_bytes(argc - optind, argv + optind), "events");
	run.start = start = souk_progress_now();
	rc = 0;
	if (optind == argc)
		rc = pr_file(&run, "-");
	for (int i = optind; i < argc && rc == 0 && !pr_interrupted; i++)
		rc = pr_file(&run, argv[i]);
	while (run.count > 0) {
		int rrc = pr_run_retire(&run);

		rc = rc ? rc : rrc;
	}
	pr_pool_stop(&run.pool);
	for (size_t i = 0; i < PR_INFLIGHT; i++) {
		free(run.ring[i].buf);
		free(run.ring[i].lines);
	}
	souk_progress_finish(run.bar, st.bytes_read, st.sent);
	/* Every delivery report, however long the broker takes (bounded by
	 * produce.timeout per message). Counting reports rather than waiting for an
	 * empty queue: librdkafka's queue also holds its own requests. */
	while (atomic_load(&st.delivered) + atomic_load(&st.failed) < st.sent)
		souk_kafka_poll(p, 100);
	secs = souk_progress_now() - start;
	failed = atomic_load(&st.failed);
	if (o.json)
		printf("{\"lines\":%" PRIu64 ",\"sent\":%" PRIu64
		       ",\"delivered\":%" PRIu64 ",\"rejected\":%" PRIu64
		       ",\"failed\":%" PRIu64
		       ",\"seconds\":%.3f,\"events_per_s\":%.0f,\"interrupted\":%s}\n",
		       st.lines, st.sent, (uint64_t)atomic_load(&st.delivered),
		       st.rejected, failed, secs, secs > 0 ? (double)st.sent / secs : 0.0,
		       pr_interrupted ? "true" : "false");
	else
		fprintf(
		    stderr,
		    "%" PRIu64 " lines: %" PRIu64 " sent, %" PRIu64 " delivered, %" PRIu64
		    " rejected, %" PRIu64 " failed in %.2f s (%.0f events/s)%s\n",
		    st.lines, st.sent, (uint64_t)atomic_load(&st.delivered), st.rejected,
		    failed, secs, secs > 0 ? (double)st.sent / secs : 0.0,
		    pr_interrupted ? ", interrupted" : "");
	rc = rc || st.rejected || failed || pr_interrupted ? 1 : 0;
out:
	souk_kafka_producer_destroy(p);
	if (rejects && fclose(rejects)) {
		fprintf(stderr, "error: could not write \"%s\": %s\n", o.rejects,
			strerror(errno));
		rc = 1;
	}
	souk_config_destroy(cfg);
	free(sets);
	return rc;
}
