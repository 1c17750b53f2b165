/*
 * replay_reset: moves a stopped consumer group's offsets on one topic, in both places
 * souk keeps them: Kafka's committed offsets (what `kafka-consumer-groups` and lag
 * monitors read) and souk's offset store, PostgreSQL's consumer_offsets (what the
 * worker runtime starts from).
 *
 * The plan reads, per partition, the watermarks, the committed offset, the stored
 * next_offset with its epoch, and where the reset puts it (replay_reset_target). The
 * group must have no member: a running consumer would keep its own position.
 *
 * Applying writes Kafka first, through AlterConsumerGroupOffsets, which the broker
 * refuses while the group has members, then PostgreSQL in one transaction that sets
 * next_offset only where the epoch is still the one the plan read (a row the plan did
 * not see is inserted with epoch 0). The epoch is not bumped: a worker that starts
 * claims each partition by bumping it and reads from next_offset, and a zombie that
 * still holds the old epoch advances nothing, because its batch starts at its own
 * position, not at the new next_offset. A worker that claimed a partition since the
 * plan was read makes the transaction roll back (the call fails and says which).
 *
 * Every pool dedups by its business key, so the messages a reset makes the group read
 * again are answered as the first time, not applied twice.
 */
#ifndef REPLAY_RESET_H
#define REPLAY_RESET_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "replay_select.h"
#include "souk_pg.h"

struct replay_reset_row {
	int32_t partition;
	int64_t low, high;
	int64_t committed; /* Kafka's committed offset, -1 when none */
	int64_t stored;	   /* consumer_offsets.next_offset, -1 when no row */
	int64_t epoch;	   /* consumer_offsets.epoch, -1 when no row */
	int64_t target;	   /* where the reset puts both */
};

struct replay_reset_plan {
	char *group;
	char *topic;
	struct replay_reset_row *rows;
	size_t n;
	const char *state; /* the group's state as Kafka names it ("Empty", "Stable") */
	size_t members;
	char member_names[256]; /* "client-id@host, ..." of the first members */
};

/*
 * Reads the plan for group on topic (the partitions sel takes) and the reset to
 * (value: the offset, or milliseconds for REPLAY_RESET_DATETIME). rk is any client of
 * the cluster; nothing is written. Returns a plan to free with
 * replay_reset_plan_destroy, or NULL with errstr.
 */
struct replay_reset_plan *replay_reset_plan_new(rd_kafka_t *rk, struct souk_pg *pg,
						const char *group, const char *topic,
						const struct replay_selection *sel,
						enum replay_reset_to to, int64_t value,
						char *errstr, size_t errstr_size);
void replay_reset_plan_destroy(struct replay_reset_plan *plan);

/* Applies the plan (see above). Returns 0, or -1 with errstr naming what was not
 * changed; Kafka may have been changed when PostgreSQL was not (running it again
 * applies the same offsets). */
int replay_reset_apply(rd_kafka_t *rk, struct souk_pg *pg,
		       const struct replay_reset_plan *plan, char *errstr,
		       size_t errstr_size);

#endif
