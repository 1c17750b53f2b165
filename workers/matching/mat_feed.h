/*
 * mat_feed: a matching process's driver index (mat_index.h), fed from every partition
 * of `locations` by a thread of its own, and the claims overlay kept in step with
 * PostgreSQL. One feed per process, shared by the pool's threads (mat_feed_acquire
 * counts them).
 *
 * Feeding. The thread assigns every partition of `locations` (no consumer group, no
 * commit: each process reads them all) at the offset of the first message not older
 * than the stale window (offsets for now - stale_ms), so a restart rebuilds the index
 * from the recent window only; drivers silent for longer are absent, which is what
 * stale means anyway. mat_feed_acquire returns once the thread has applied every
 * message that was in the partitions when it started (the high watermarks then), so a
 * pool that opened serves from a complete index. Updates are applied under the write
 * lock a few hundred at a time, so a search waits at most one such run.
 *
 * Claims. PostgreSQL's driver_claims is the truth (a batch claims inside its fenced
 * transaction); the index's claimed flags are an overlay so that a search skips
 * claimed drivers. A batch marks its claims at once (mat_feed_claim, so the next
 * request of the same batch does not pick the same driver) and settles them after its
 * transaction (mat_feed_settle: kept if committed, cleared if not); releases apply
 * after the commit. Every claims_refresh_ms the thread reads driver_claims and makes
 * the overlay equal to it plus the claims of batches still open, which brings in the
 * claims and releases of other processes.
 *
 * Locking: a read-write lock over the index; searches hold the read lock, updates and
 * claims the write lock.
 */
#ifndef MAT_FEED_H
#define MAT_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "mat_index.h"
#include "souk_kafka.h"

#define MAT_FEED_TOPIC "locations"

struct mat_feed_conf {
	const char *brokers;
	const struct souk_kafka_prop *props; /* kafka.* keys */
	size_t nprops;
	const char *pg_dsn;
	int res;	  /* the index's resolution */
	int64_t stale_ms; /* a driver silent this long is not offered */
	int64_t claims_refresh_ms;
	int64_t ready_timeout_ms; /* how long mat_feed_acquire waits for the index */
};

struct mat_feed_stats {
	int64_t applied, older, invalid; /* location messages, by what they did */
	int64_t claims_refreshes;
};

struct mat_feed;

/*
 * The process's feed: started by the first call (copying *conf), shared by the next
 * ones (whose conf is ignored). Blocks until the index holds the recent window.
 * Returns NULL with errstr (Kafka or PostgreSQL unreachable, not ready in time).
 */
struct mat_feed *mat_feed_acquire(const struct mat_feed_conf *conf, char *errstr,
				  size_t errstr_size);

/* Drops a reference; the last one stops the thread and frees everything. */
void mat_feed_release(struct mat_feed *f);

/* Decodes a locations message into *u, the driver id pointing into *ev (valid as long
 * as *ev). Returns 0, or -1 when the message is not a valid location event. The one
 * reading of a location the feed, its benchmark and its checker share. */
int mat_feed_decode(const rd_kafka_message_t *m, souk_event_t *ev,
		    mat_index_update_t *u);

/* The index, read-locked until mat_feed_unlock. */
const mat_index_t *mat_feed_read(struct mat_feed *f);
void mat_feed_unlock(struct mat_feed *f);

/* The next offset of each locations partition the index has applied, into
 * offsets[0..*n) (at most cap). Takes the read lock: call it outside one. */
void mat_feed_offsets(struct mat_feed *f, int64_t *offsets, size_t cap, size_t *n);

/* Marks driver_id claimed by a batch still open. Returns 0, or -1 with errstr. */
int mat_feed_claim(struct mat_feed *f, const char *driver_id, char *errstr,
		   size_t errstr_size);

/* After a batch: its claims ids[0..n) stay marked if committed, are cleared if not;
 * its releases rel[0..nrel) are cleared if committed. */
void mat_feed_settle(struct mat_feed *f, const char *const *ids, size_t n,
		     const char *const *rel, size_t nrel, int committed);

void mat_feed_stats(struct mat_feed *f, struct mat_feed_stats *out);

#endif
