/*
 * replay_select: which messages of a topic a replay takes, where a group reset puts
 * its offsets, and the dedup guard that refuses a replay into a pool's source topic
 * older than what that pool still remembers. Pure functions: no Kafka, no clock (the
 * caller passes "now" and what Kafka answered).
 *
 * A selection is a set of partitions and, in each, the half-open offset range
 * [start, end). Each bound is an offset, a time or absent:
 *   start offset N   the range starts at N (at the earliest offset kept, if later)
 *   start time T     at the first message whose timestamp is >= T (Kafka's time index,
 *                    as `kcat -o s@T` and `kafka-consumer-groups --to-datetime` use)
 *   end offset N     the range stops before N (at the end, if earlier)
 *   end time T       stops before the first message whose timestamp is >= T
 *   absent           the earliest offset kept / the end of the partition when the run
 *                    starts (a replay into its own source topic therefore terminates)
 * Inside the range, a message whose own timestamp lies outside a time bound (producer
 * timestamps out of order) is skipped too, so a time selection never sends a message
 * stamped outside [start time, end time).
 */
#ifndef REPLAY_SELECT_H
#define REPLAY_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Partitions a selection can name: 0 .. REPLAY_MAX_PARTITIONS - 1. */
#define REPLAY_MAX_PARTITIONS 1024

enum replay_bound_kind {
	REPLAY_BOUND_NONE,
	REPLAY_BOUND_OFFSET,
	REPLAY_BOUND_TIME, /* milliseconds since the epoch */
};

struct replay_bound {
	enum replay_bound_kind kind;
	int64_t value;
};

struct replay_selection {
	bool all_partitions;
	bool partitions[REPLAY_MAX_PARTITIONS]; /* when !all_partitions */
	struct replay_bound start, end;
};

/* One partition's planned range: [start, end), empty when start >= end. */
struct replay_range {
	int64_t start;
	int64_t end;
};

/*
 * Parses a time: milliseconds since the epoch ("1764201600000"), RFC 3339
 * ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00.250+01:00"; a space may stand for the
 * T; seconds, fraction and zone may be left out, no zone meaning UTC), a date
 * ("2026-11-27", midnight UTC), or a duration before now_ms ("-2h", "-90m").
 * Returns 0, or -1 with errstr naming the text.
 */
int replay_time_parse(const char *s, int64_t now_ms, int64_t *out_ms, char *errstr,
		      size_t errstr_size);

/* Parses a duration: an integer and a unit, ms, s, m, h or d ("24h"). Returns 0, or -1
 * with errstr. */
int replay_duration_parse(const char *s, int64_t *out_ms, char *errstr,
			  size_t errstr_size);

/* Parses a non-negative offset. Returns 0, or -1 with errstr. */
int replay_offset_parse(const char *s, int64_t *out, char *errstr, size_t errstr_size);

/* Adds the partitions of a list such as "0,2,5-7" to sel (and clears all_partitions).
 * Returns 0, or -1 with errstr naming the bad item. */
int replay_partitions_parse(struct replay_selection *sel, const char *list, char *errstr,
			    size_t errstr_size);

/* Whether sel takes partition p. */
bool replay_selection_has(const struct replay_selection *sel, int32_t p);

/*
 * One partition's range from its watermarks (low: the earliest offset kept, high: the
 * next offset to be written) and, for a time bound, the offset Kafka's time index gave
 * for it (start_lookup, end_lookup: -1 when no message is at or after that time;
 * ignored for other bounds). The range always lies within [low, high].
 */
struct replay_range replay_select_range(const struct replay_selection *sel, int64_t low,
					int64_t high, int64_t start_lookup,
					int64_t end_lookup);

/* Whether a message of the range stamped ts_ms is taken (inside every time bound; a
 * message without a timestamp, ts_ms < 0, always is). */
bool replay_select_time_ok(const struct replay_selection *sel, int64_t ts_ms);

/* ---- the dedup guard ---- */

/* What a pool that consumes a topic remembers of it, to answer a replay as the first
 * time rather than apply it again. */
struct replay_guard_rule {
	const char *topic;
	const char *pool;
	int64_t window_ms; /* 0: forever, no replay is refused */
	const char *dedup; /* what it dedups by, for the help */
};

/* The rules, ended by an entry whose topic is NULL (for --help). */
extern const struct replay_guard_rule replay_guard_rules[];

/* The rule of topic, or NULL when no pool consumes it. */
const struct replay_guard_rule *replay_guard_rule(const char *topic);

/*
 * Whether replaying range r breaks the guard: the range is not empty and starts
 * before cutoff_lookup, the offset Kafka's time index gave for now - window (the first
 * message the pool still remembers; -1 when there is none, which puts every message of
 * the partition before it).
 */
bool replay_guard_breaks(struct replay_range r, int64_t cutoff_lookup);

/* ---- group reset ---- */

enum replay_reset_to {
	REPLAY_RESET_OFFSET,   /* value: the offset */
	REPLAY_RESET_DATETIME, /* value: milliseconds; lookup: Kafka's answer for it */
	REPLAY_RESET_EARLIEST,
	REPLAY_RESET_LATEST,
};

/* The offset a reset puts one partition at, within [low, high]; lookup as for
 * replay_select_range (-1: no message at or after the time, so high). */
int64_t replay_reset_target(enum replay_reset_to to, int64_t value, int64_t low,
			    int64_t high, int64_t lookup);

#endif
