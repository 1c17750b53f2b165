/*
 * lag_status: Burrow's consumer-lag rules, as a pure function over a window of samples
 * of one partition (oldest first). No I/O, no clock: the samples carry their times.
 *
 * Precedence (Burrow's evaluator order; the first rule that holds wins):
 *   1. no samples                                     -> OK     (LAG_RULE_NO_SAMPLES)
 *   2. any sample in the window has zero lag          -> OK     (LAG_RULE_ZERO_LAG)
 *   3. the committed offset went backwards            -> REWIND (LAG_RULE_REWIND)
 *   4. no member holds the partition (last sample)    -> STOP   (LAG_RULE_NO_MEMBER)
 *   5. a member holds it and the committed offset is
 *      the same in every sample (needs 2 samples)     -> STALL  (LAG_RULE_STALLED)
 *   6. the lag never decreases from one sample to the
 *      next (needs 2 samples)                         -> WARN   (LAG_RULE_GROWING)
 *   7. otherwise                                      -> OK     (LAG_RULE_MOVING)
 * From rule 3 on, every sample has lag > 0 (rule 2 did not hold). Rules 5 and 6 speak
 * of change, so a window of one sample never triggers them.
 */
#ifndef LAG_STATUS_H
#define LAG_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Partition statuses, in Burrow's order of severity (its StatusConstant values). */
enum lag_status {
	LAG_STATUS_OK = 1,
	LAG_STATUS_WARN = 2,
	LAG_STATUS_ERR = 3, /* a group only: some partition is STOP, STALL or REWIND */
	LAG_STATUS_STOP = 4,
	LAG_STATUS_STALL = 5,
	LAG_STATUS_REWIND = 6,
};

enum lag_rule {
	LAG_RULE_NO_SAMPLES,
	LAG_RULE_ZERO_LAG,
	LAG_RULE_REWIND,
	LAG_RULE_NO_MEMBER,
	LAG_RULE_STALLED,
	LAG_RULE_GROWING,
	LAG_RULE_MOVING,
};

/* One observation of a partition. committed >= 0 (a partition without a committed
 * offset has no samples); lag is max(0, high - committed). */
struct lag_sample {
	int64_t committed; /* the group's committed offset: the next one it will read */
	int64_t high;	   /* the partition's high watermark */
	bool has_member;   /* some member of the group is assigned the partition */
	int64_t t_ms;	   /* when it was taken, ms since the epoch */
};

/* max(0, high - committed). */
int64_t lag_status_lag(const struct lag_sample *s);

/* The status of a partition over samples[0..n) (oldest first); *rule (if not NULL)
 * gets the rule that decided it. O(n). */
enum lag_status lag_status_eval(const struct lag_sample *samples, size_t n,
				enum lag_rule *rule);

/* A group's status from its partitions' as Burrow sums it up: ERR if any is STOP,
 * STALL or REWIND, else WARN if any is WARN, else OK (also for n == 0). */
enum lag_status lag_status_group(const enum lag_status *partitions, size_t n);

/* "OK", "WARN", "ERR", "STOP", "STALL", "REWIND". */
const char *lag_status_name(enum lag_status status);

/* "zero lag in window", "offset rewound", ... : what lag_status_eval saw. */
const char *lag_status_rule_name(enum lag_rule rule);

#endif
