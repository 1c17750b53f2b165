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
 * The input is read in blocks; a pool of threads validates the lines of a block where
 * they lie, and the main thread sends them in file order, so one key's events keep
 * their order.
 *
 * Cost: one parse per line when validating (O(line)); no copy of a line on our side or
 * into librdkafka's queue (librdkafka copies it once into its request), a block being
 * kept until the last of its lines is reported delivered. The machine is often shared
 * with the broker, so CPU per line is the figure to keep low.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
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

/* Kept by main: delivery reports are served on the thread that polls. */
struct pr_stats {
	uint64_t lines;	   /* non-blank lines read */
	uint64_t sent;	   /* handed to the producer */
	uint64_t rejected; /* invalid: not sent */
	uint64_t delivered;
	uint64_t failed; /* sent, and the broker did not take it */
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
	souk_json_space_t space; /* a line of usual size costs no malloc */
	souk_json_error_t jerr;
	souk_json_t *doc = souk_json_parse_in(&space, line, len, &limits, &jerr);
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

struct pr_block;

/* One line of a block and what validation made of it. */
struct pr_line {
	struct pr_block *block;
	size_t off, len; /* in the block's buffer, line end left out */
	uint64_t lineno;
	const char *topic; /* NULL: rejected */
	char *error;	   /* malloc'd reason when rejected */
	bool has_key;
	size_t key_len;
	char key[SOUK_EVENT_IDENT_SIZE];
};

/*
 * A block of input read with one read(2) (more for a line longer than the block), cut
 * after its last complete line: the rest starts the next block. Its lines are validated
 * and sent where they lie, without a copy, so the block lives on until the delivery
 * report of its last message, and is then reused. Blocks alive at once are bounded by
 * librdkafka's queue (queue.buffering.max.messages) plus the validation ring.
 */
struct pr_block {
	const char *file;
	char *buf;
	size_t len, cap;
	struct pr_line *lines;
	size_t n, lines_cap;
	uint64_t bytes; /* input bytes of its lines, blank lines and line ends included */
	size_t unreported; /* sent lines whose delivery report has not come yet */
	bool done;	   /* validated: lines[] are final */
	bool sent;	   /* every line handed to the producer or rejected */
	struct pr_block *next_work; /* in the pool's queue */
	struct pr_block *next;	    /* in the run's queue or its free list */
};

#define PR_BLOCK_BYTES (256u << 10)

/* The validation pool: blocks wait in a FIFO; workers take them, validate every line
 * and mark them done. Main sends blocks in the order it queued them. One hand-over per
 * block (about a thousand lines). */
struct pr_pool {
	const struct pr_opts *o;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct pr_block *head, *tail; /* waiting for a worker */
	bool closing;
	pthread_t *threads;
	int nthreads;
};

/* Validates one line into l (the codec, or only the routing under --no-validate). */
static void
pr_validate_line(const struct pr_opts *o, const char *line, struct pr_line *l)
{
	char err[300];
	souk_event_t ev;
	souk_event_error_t eerr;

	l->topic = o->topic;
	l->has_key = false;
	if (o->validate) {
		const char *key;

		if (souk_event_decode(line, l->len, &ev, &eerr) != SOUK_EVENT_OK) {
			snprintf(err, sizeof(err), "%s", eerr.message);
			goto reject;
		}
		key = souk_event_key(&ev);
		l->key_len = strlen(key); /* < SOUK_EVENT_IDENT_SIZE: the codec's bound */
		memcpy(l->key, key, l->key_len + 1);
		l->has_key = true;
		if (!l->topic)
			l->topic = souk_event_topic(ev.type);
	} else if (!l->topic) {
		if (pr_route_unvalidated(line, l->len, &l->topic, l->key, sizeof(l->key),
					 err, sizeof(err)))
			goto reject;
		l->key_len = strlen(l->key);
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
		struct pr_block *b;

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
			pr_validate_line(pool->o, b->buf + b->lines[i].off, &b->lines[i]);
		pthread_mutex_lock(&pool->lock);
		b->done = true;
		pthread_cond_broadcast(&pool->done);
		pthread_mutex_unlock(&pool->lock);
	}
}

static void
pr_pool_submit(struct pr_pool *pool, struct pr_block *b)
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
pr_pool_wait(struct pr_pool *pool, struct pr_block *b)
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

/* A topic handle per topic sent to: at most one per event type, or --topic. */
struct pr_topic {
	const char *name;
	struct souk_kafka_topic *t;
};

/* Blocks queued for validation, sent in queue order: up to PR_INFLIGHT at once, so
 * that the workers validate while main sends. */
#define PR_INFLIGHT 3

struct pr_run {
	struct souk_kafka_producer *p;
	const struct pr_opts *o;
	struct pr_stats *st;
	FILE *rejects;
	struct pr_pool pool;
	struct pr_block *first, *last; /* queued, oldest first (linked by next) */
	size_t count;
	struct pr_block *free; /* reported in full, ready for reuse */
	struct pr_topic topics[SOUK_EVENT_TYPE_COUNT + 1];
	struct souk_progress *bar;
	double start;
};

/* An empty block for file, reused or new; NULL when out of memory. */
static struct pr_block *
pr_block_get(struct pr_run *run, const char *file)
{
	struct pr_block *b = run->free;

	if (b) {
		run->free = b->next;
	} else {
		if (!(b = calloc(1, sizeof(*b))) || !(b->buf = malloc(PR_BLOCK_BYTES))) {
			free(b);
			return NULL;
		}
		b->cap = PR_BLOCK_BYTES;
	}
	b->file = file;
	b->len = b->n = b->unreported = 0;
	b->bytes = 0;
	b->done = b->sent = false;
	b->next = NULL;
	return b;
}

static void
pr_block_put(struct pr_run *run, struct pr_block *b)
{
	b->next = run->free;
	run->free = b;
}

/* Adds the line buf[off..off + len) to b. Returns -1 when out of memory. */
static int
pr_block_add(struct pr_block *b, size_t off, size_t len, uint64_t lineno)
{
	if (b->n == b->lines_cap) {
		size_t cap = b->lines_cap ? b->lines_cap * 2 : 1024;
		struct pr_line *grown = realloc(b->lines, cap * sizeof(*grown));

		if (!grown)
			return -1;
		b->lines = grown;
		b->lines_cap = cap;
	}
	b->lines[b->n++] =
	    (struct pr_line){.block = b, .off = off, .len = len, .lineno = lineno};
	return 0;
}

/* The handle of the topic named name, made on first use; NULL with errstr on failure.
 * O(topics), by pointer first: names come from souk_event_topic() or --topic. */
static struct souk_kafka_topic *
pr_topic(struct pr_run *run, const char *name, char *errstr, size_t errstr_size)
{
	size_t i = 0;

	for (; i < sizeof(run->topics) / sizeof(run->topics[0]) && run->topics[i].name;
	     i++)
		if (run->topics[i].name == name || !strcmp(run->topics[i].name, name))
			return run->topics[i].t;
	if (i == sizeof(run->topics) / sizeof(run->topics[0])) {
		snprintf(errstr, errstr_size, "too many topics");
		return NULL;
	}
	run->topics[i].t = souk_kafka_topic_new(run->p, name, errstr, errstr_size);
	if (run->topics[i].t)
		run->topics[i].name = name;
	return run->topics[i].t;
}

/* Runs on main (the thread that polls) for every message sent: counts it and gives its
 * block back for reuse after the report of the block's last message. */
static void
pr_on_delivery(void *opaque, void *msg_opaque, const char *topic, int32_t partition,
	       int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	struct pr_run *run = opaque;
	struct pr_line *l = msg_opaque;
	struct pr_block *b = l->block;

	(void)partition;
	(void)offset;
	if (!err) {
		run->st->delivered++;
	} else {
		run->st->failed++;
		fprintf(stderr, "error: line %" PRIu64 " to %s: not delivered: %s\n",
			l->lineno, topic, errstr);
	}
	if (--b->unreported == 0 && b->sent)
		pr_block_put(run, b);
}

/* Sends a validated block in line order, reporting and writing out its rejects; blocks
 * (serving delivery reports) while the producer queue is full. Serves the reports that
 * came once per block, not per message: each poll takes librdkafka's locks. Returns -1
 * on a producer failure. */
static int
pr_block_send(struct pr_run *run, struct pr_block *b)
{
	struct pr_stats *st = run->st;
	int rc = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct pr_line *l = &b->lines[i];
		const char *line = b->buf + l->off;
		struct souk_kafka_topic *t;
		char errstr[256];
		int prc;

		if (rc || pr_interrupted)
			goto next; /* after a failure or ^C: send nothing more */
		if (!l->topic) {
			st->rejected++;
			fprintf(stderr, "rejected: %s:%" PRIu64 ": %s\n", b->file,
				l->lineno, l->error ? l->error : "out of memory");
			if (run->rejects) {
				fwrite(line, 1, l->len, run->rejects);
				fputc('\n', run->rejects);
			}
			goto next;
		}
		if (!(t = pr_topic(run, l->topic, errstr, sizeof(errstr)))) {
			prc = SOUK_KAFKA_ERROR;
			goto failed;
		}
		while ((prc = souk_kafka_produce_ref(
			    t, l->has_key ? l->key : NULL, l->has_key ? l->key_len : 0,
			    line, l->len, l, errstr, sizeof(errstr))) ==
		       SOUK_KAFKA_QUEUE_FULL)
			souk_kafka_poll(run->p,
					1); /* back-pressure: wait for acknowledgements */
	failed:
		if (prc != SOUK_KAFKA_OK) {
			fprintf(stderr, "error: %s:%" PRIu64 ": could not produce: %s\n",
				b->file, l->lineno, errstr);
			rc = -1;
			goto next;
		}
		st->sent++;
		b->unreported++;
		if (run->o->rate > 0) {
			souk_kafka_poll(run->p, 0);
			pr_pace(run->o->rate, run->start, st->sent);
		}
	next:
		free(l->error);
		l->error = NULL;
	}
	b->sent = true;
	st->bytes_read += b->bytes;
	if (b->unreported == 0)
		pr_block_put(run, b);
	souk_kafka_poll(run->p, 0);
	return rc;
}

/* Sends the oldest queued block once validated. */
static int
pr_run_retire(struct pr_run *run)
{
	struct pr_block *b = run->first;
	int rc;

	pr_pool_wait(&run->pool, b);
	run->first = b->next;
	if (!run->first)
		run->last = NULL;
	run->count--;
	rc = pr_block_send(run, b);
	souk_progress_update(run->bar, run->st->bytes_read, run->st->sent);
	return rc;
}

/* Queues b for validation, then sends the oldest block while more than PR_INFLIGHT
 * are queued. */
static int
pr_run_submit(struct pr_run *run, struct pr_block *b)
{
	b->next = NULL;
	if (run->last)
		run->last->next = b;
	else
		run->first = b;
	run->last = b;
	run->count++;
	pr_pool_submit(&run->pool, b);
	return run->count > PR_INFLIGHT ? pr_run_retire(run) : 0;
}

static bool
pr_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* Adds the lines of b->buf[*scan..b->len) to b: every one a newline ends and, at the end
 * of the input (eof), the last one too; *scan moves past them. Line ends ("\n", "\r\n")
 * are left out, blank lines only counted. Returns -1 when out of memory. */
static int
pr_block_split(struct pr_run *run, struct pr_block *b, size_t *scan, uint64_t *lineno,
	       bool eof)
{
	while (*scan < b->len) {
		const char *line = b->buf + *scan;
		const char *nl = memchr(line, '\n', b->len - *scan);
		size_t len = nl ? (size_t)(nl - line) : b->len - *scan;
		size_t end = *scan + len + (nl != NULL);

		if (!nl && !eof)
			break; /* the rest of the line is still to be read */
		++*lineno;
		b->bytes += end - *scan;
		while (len && line[len - 1] == '\r')
			len--;
		if (!pr_blank(line, len)) {
			run->st->lines++;
			if (pr_block_add(b, *scan, len, *lineno))
				return -1;
		}
		*scan = end;
	}
	return 0;
}

/* Makes b->buf hold at least cap bytes. Returns -1 when out of memory. */
static int
pr_block_reserve(struct pr_block *b, size_t cap)
{
	char *grown;

	if (cap <= b->cap)
		return 0;
	if (!(grown = realloc(b->buf, cap)))
		return -1;
	b->buf = grown;
	b->cap = cap;
	return 0;
}

/* Reads path ("-": stdin) a block at a time and queues the blocks' lines. */
static int
pr_file(struct pr_run *run, const char *path)
{
	bool is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "stdin" : path;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	struct pr_block *b = NULL, *next;
	uint64_t lineno = 0;
	size_t scan = 0; /* b->buf[0..scan) is split into lines */
	bool eof = false;
	int rc = 0;

	if (fd < 0) {
		fprintf(stderr, "error: could not open \"%s\": %s\n", path,
			strerror(errno));
		return -1;
	}
	if (!(b = pr_block_get(run, name)))
		goto oom;
	while (!eof && !pr_interrupted && rc == 0) {
		ssize_t n = read(fd, b->buf + b->len, b->cap - b->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "error: could not read \"%s\": %s\n", path,
				strerror(errno));
			rc = -1;
			break;
		}
		eof = n == 0;
		b->len += (size_t)n;
		if (pr_block_split(run, b, &scan, &lineno, eof))
			goto oom;
		if (b->n == 0) {
			/* blank lines at most: drop them, keep the start of the next
			 * line, and make room when that fills the block */
			run->st->bytes_read += b->bytes;
			b->bytes = 0;
			memmove(b->buf, b->buf + scan, b->len - scan);
			b->len -= scan;
			scan = 0;
			if (b->len == b->cap && pr_block_reserve(b, b->cap * 2))
				goto oom;
			continue;
		}
		/* b ends at its last complete line: the rest starts the next block */
		if (!(next = pr_block_get(run, name)) ||
		    pr_block_reserve(next, b->len - scan)) {
			if (next)
				pr_block_put(run, next);
			goto oom;
		}
		memcpy(next->buf, b->buf + scan, b->len - scan);
		next->len = b->len - scan;
		rc = pr_run_submit(run, b);
		b = next;
		scan = 0;
	}
	goto out;
oom:
	fprintf(stderr, "error: out of memory\n");
	rc = -1;
out:
	if (b && b->n) {
		int src = pr_run_submit(run, b);

		rc = rc ? rc : src;
	} else if (b) {
		run->st->bytes_read += b->bytes; /* trailing blank lines */
		pr_block_put(run, b);
	}
	if (!is_stdin)
		close(fd);
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
		"  -X, --set KEY=VALUE  set one key (kafka.* keys go to librdkafka;\n"
		"                       kafka.compression.type is lz4 unless set)\n"
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
	struct pr_stats st = {0};
	struct pr_run run = {.o = &o, .st = &st};
	int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct pr_props props = {.n = 0};
	struct souk_config *cfg = NULL;
	struct souk_kafka_producer *p = NULL;
	const char **sets = calloc((size_t)argc + 2, sizeof(*sets));
	const char *config_path = NULL;
	char errstr[512], brokers_set[512];
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
	/* A bulk loader's default: lz4 batches. The broker stores and replicates a
	 * quarter of the bytes and spends half the CPU on them, which is what bounds the
	 * rate when it shares the machine; -X kafka.compression.type=none undoes it. */
	props.props[props.n++] = (struct souk_kafka_prop){"compression.type", "lz4"};
	cfg = souk_config_new(tables, errstr, sizeof(errstr));
	if (!cfg ||
	    souk_config_load(cfg, config_path, n_sets, sets, errstr, sizeof(errstr)) ||
	    souk_config_foreach_prefix(cfg, "kafka.", pr_collect_prop, &props)) {
		fprintf(stderr, "error: %s\n", cfg ? errstr : "out of memory");
		rc = 2;
		goto out;
	}
	if (o.rejects && !(run.rejects = fopen(o.rejects, "w"))) {
		fprintf(stderr, "error: could not open \"%s\": %s\n", o.rejects,
			strerror(errno));
		goto out;
	}
	p = souk_kafka_producer_new(
	    souk_config_get_string(cfg, "kafka.brokers"), props.props, props.n,
	    (int)souk_config_get_duration_ms(cfg, "produce.timeout"), pr_on_delivery,
	    &run, errstr, sizeof(errstr));
	if (!p) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	signal(SIGINT, pr_on_signal);
	signal(SIGTERM, pr_on_signal);

	run.p = p;
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
	souk_progress_finish(run.bar, st.bytes_read, st.sent);
	/* Every delivery report, however long the broker takes (bounded by
	 * produce.timeout per message). Counting reports rather than waiting for an
	 * empty queue: librdkafka's queue also holds its own requests. */
	while (st.delivered + st.failed < st.sent)
		souk_kafka_poll(p, 100);
	secs = souk_progress_now() - start;
	failed = st.failed;
	if (o.json)
		printf("{\"lines\":%" PRIu64 ",\"sent\":%" PRIu64
		       ",\"delivered\":%" PRIu64 ",\"rejected\":%" PRIu64
		       ",\"failed\":%" PRIu64
		       ",\"seconds\":%.3f,\"events_per_s\":%.0f,\"interrupted\":%s}\n",
		       st.lines, st.sent, st.delivered, st.rejected, failed, secs,
		       secs > 0 ? (double)st.sent / secs : 0.0,
		       pr_interrupted ? "true" : "false");
	else
		fprintf(stderr,
			"%" PRIu64 " lines: %" PRIu64 " sent, %" PRIu64
			" delivered, %" PRIu64 " rejected, %" PRIu64
			" failed in %.2f s (%.0f events/s)%s\n",
			st.lines, st.sent, st.delivered, st.rejected, failed, secs,
			secs > 0 ? (double)st.sent / secs : 0.0,
			pr_interrupted ? ", interrupted" : "");
	rc = rc || st.rejected || failed || pr_interrupted ? 1 : 0;
out:
	for (size_t i = 0; i < sizeof(run.topics) / sizeof(run.topics[0]); i++)
		souk_kafka_topic_destroy(run.topics[i].t);
	souk_kafka_producer_destroy(p);
	/* every block is back on the free list: each sent line has been reported */
	while (run.free) {
		struct pr_block *b = run.free;

		run.free = b->next;
		free(b->buf);
		free(b->lines);
		free(b);
	}
	if (run.rejects && fclose(run.rejects)) {
		fprintf(stderr, "error: could not write \"%s\": %s\n", o.rejects,
			strerror(errno));
		rc = 1;
	}
	souk_config_destroy(cfg);
	free(sets);
	return rc;
}
