/*
 * replay_copy: reads the selected range of a topic and produces it to the target.
 *
 * Planning (replay_copy_new) asks the broker for each selected partition's range (see
 * replay_select.h) and, when the target is a pool's source topic, for the dedup guard:
 * which partitions start before the first message the pool still remembers. It sends
 * nothing.
 *
 * The run (replay_copy_run) assigns the partitions at their starts (no group is
 * joined, nothing is committed) and stops each at its end, so it takes exactly the
 * planned range even when it appends to the topic it reads. Each message that passes
 * the filters is produced with its key, value and headers, plus the header
 * souk-replay-source ("topic/partition/offset", replacing one from an earlier replay),
 * and with its original timestamp when asked. It goes to the same partition number
 * when source and target have as many partitions, else to the partition its key hashes
 * to. The producer is souk's (idempotent, acks=all), so each target partition gets its
 * messages once and in source order; the run waits for every delivery report.
 *
 * In a dry run nothing is produced: the same reading counts what would be sent.
 *
 * A message is read by the thread that calls replay_copy_run, and delivery reports
 * are served on it too. Memory: librdkafka's fetch queue plus, per partition, the
 * messages waiting for their due time (a partition is paused past
 * REPLAY_COPY_QUEUE_MAX of them).
 */
#ifndef REPLAY_COPY_H
#define REPLAY_COPY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay_filter.h"
#include "replay_pace.h"
#include "replay_select.h"
#include "souk_kafka.h"

#define REPLAY_COPY_QUEUE_MAX 4096
#define REPLAY_COPY_MAX_PROPS 60 /* kafka properties a caller may give */
#define REPLAY_COPY_HEADER "souk-replay-source"

struct replay_copy_conf {
	const char *brokers;
	/* librdkafka's names, for both clients; at most REPLAY_COPY_MAX_PROPS */
	const struct souk_kafka_prop *props;
	size_t nprops;
	const char *source;
	const char *target;
	const struct replay_selection *sel;
	const struct replay_filter *filter;
	double rate;  /* see replay_pace.h; 0: unpaced */
	double speed; /* idem */
	bool keep_timestamps;
	bool dry_run;
	/* The guard's window: -1 for the target's rule (replay_guard_rule), 0 for none.
	 */
	int64_t dedup_window_ms;
	int message_timeout_ms; /* 0: souk_kafka's default */
	int64_t now_ms;		/* wall clock at the start, for the guard */
	bool progress;		/* draw a progress bar (on a terminal) */
	/* Set by a signal handler: stop reading, deliver what was sent, report. */
	volatile sig_atomic_t *interrupted;
};

/* One source partition: its plan, then what the run did with it. */
struct replay_copy_part {
	int32_t partition;
	int64_t low, high;	   /* watermarks when planned */
	struct replay_range range; /* planned */
	/* The first offset the target's pool remembers (-1: none of the partition);
	 * guard_broken when the range starts before it. */
	int64_t guard_offset;
	bool guard_broken;
	uint64_t read;	   /* messages of the range read */
	uint64_t selected; /* passed the selection and the filters (sent, or counted) */
	uint64_t skipped;  /* read and not selected */
	int64_t first;	   /* offset of the first selected message, -1 if none */
	int64_t last;	   /* of the last, -1 if none */
	uint64_t delivered;
	uint64_t failed;
};

struct replay_copy_totals {
	uint64_t read, selected, skipped, delivered, failed;
	double seconds;
	bool interrupted;
};

struct replay_copy;

/* Plans the replay (see above). Returns NULL with errstr when the topics cannot be
 * read (missing, no answer) or out of memory. conf's strings, selection and filter
 * are borrowed for the handle's life. */
struct replay_copy *replay_copy_new(const struct replay_copy_conf *conf, char *errstr,
				    size_t errstr_size);
void replay_copy_destroy(struct replay_copy *c);

/* The planned partitions (and, after the run, their counts). */
const struct replay_copy_part *replay_copy_parts(const struct replay_copy *c, size_t *n);

/* The guard's window applied (0: none) and the rule it came from (NULL: none or
 * given on the command line). */
int64_t replay_copy_guard_window(const struct replay_copy *c);
const struct replay_guard_rule *replay_copy_guard_rule(const struct replay_copy *c);

/* Whether any partition breaks the guard. */
bool replay_copy_guard_broken(const struct replay_copy *c);

/*
 * Reads the planned ranges and produces (or, in a dry run, counts) the selected
 * messages, then waits for every delivery report. Returns 0 when every sent message
 * was delivered and nothing was interrupted, else -1 with errstr (the first failure;
 * the counts say how far each partition got). Runs once per handle.
 */
int replay_copy_run(struct replay_copy *c, char *errstr, size_t errstr_size);

struct replay_copy_totals replay_copy_totals(const struct replay_copy *c);

#endif
