/*
 * souk_offsets: consumed offsets kept in PostgreSQL (table consumer_offsets), fenced by
 * an assignment epoch.
 *
 * A consumer that is assigned a partition claims it: the partition's epoch goes up by
 * one and the consumer starts reading at the stored next_offset. Every batch then
 * advances the offsets in the same transaction as its effects, and only where the row
 * still holds the claimant's epoch and the position the batch started from; a consumer
 * that lost the partition (a paused zombie that woke up) advances nothing, learns it
 * from the row count, and rolls its batch back. So the effects of one offset range are
 * committed at most once per group, whoever held the partition.
 */
#ifndef SOUK_OFFSETS_H
#define SOUK_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "souk_pg.h"

/* One partition's position within a batch. */
struct souk_offsets_range {
	const char *topic;
	int32_t partition;
	int64_t epoch; /* the claim this consumer holds */
	int64_t start; /* next_offset when the batch began */
	int64_t next;  /* next_offset once the batch commits */
};

/* Prepares the module's statements on pg (once per session). */
int souk_offsets_prepare(struct souk_pg *pg, char *errstr, size_t errstr_size);

/*
 * Claims topic/partition for group in its own transaction (pg must not be inside one):
 * bumps the epoch and returns it with the offset to read from, *next. A partition seen
 * for the first time starts at low (the earliest offset the broker still holds); a
 * stored offset below low (messages already deleted by retention) moves up to low.
 */
int souk_offsets_claim(struct souk_pg *pg, const char *group, const char *topic,
		       int32_t partition, int64_t low, int64_t *epoch, int64_t *next,
		       char *errstr, size_t errstr_size);

/*
 * Inside the batch's transaction: advances every range from start to next where the
 * epoch is still ours. *advanced is the number of ranges advanced: fewer than n means
 * another consumer claimed one of them, and the transaction must roll back.
 * One statement, O(n).
 */
int souk_offsets_advance(struct souk_pg *pg, const char *group,
			 const struct souk_offsets_range *ranges, size_t n,
			 size_t *advanced, char *errstr, size_t errstr_size);

/*
 * Inside a transaction that moves no offsets (a timer's): checks that every range's
 * epoch (start and next ignored) is still ours. *held as in souk_offsets_advance.
 */
int souk_offsets_hold(struct souk_pg *pg, const char *group,
		      const struct souk_offsets_range *ranges, size_t n, size_t *held,
		      char *errstr, size_t errstr_size);

/* The current epoch of topic/partition (to tell which range was fenced); -1 if none. */
int souk_offsets_epoch(struct souk_pg *pg, const char *group, const char *topic,
		       int32_t partition, int64_t *epoch, char *errstr,
		       size_t errstr_size);

#endif
