/*
 * lag_sample: one sampling pass over consumer groups: per partition, the committed
 * offset (Kafka's, and souk's PostgreSQL store), the watermarks, who holds it, and the
 * timestamp of the oldest unconsumed message.
 *
 * Kafka: ListConsumerGroups, DescribeConsumerGroups (members and their assignments)
 * and ListConsumerGroupOffsets (one request per group: librdkafka 2.0.2 takes one)
 * through admin calls; the watermarks through rd_kafka_query_watermark_offsets (one
 * round trip per partition: 2.0.2 has no ListOffsets admin call). The oldest unconsumed
 * message is read with the sampler's own consumer handle (assign at the committed
 * offset, take the first message, unassign; it never joins a group nor commits); its
 * timestamp is cached per (topic, partition, offset), so a stuck partition is read once.
 *
 * PostgreSQL: the rows of consumer_offsets (group_id, topic, partition, next_offset).
 *
 * A sampler is used by one thread.
 */
#ifndef LAG_SAMPLE_H
#define LAG_SAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include <regex.h>

#include "souk_kafka.h"

#define LAG_SAMPLE_NAME_MAX 256

/* One partition of one group, as one pass saw it. Offsets are -1 when unknown. */
struct lag_sample_row {
	char group[LAG_SAMPLE_NAME_MAX];
	char topic[LAG_SAMPLE_NAME_MAX];
	int32_t partition;
	int64_t committed;    /* Kafka's committed offset (the next to read), -1: none */
	int64_t pg_committed; /* consumer_offsets.next_offset, -1: no row */
	int64_t low, high;    /* the watermarks, -1: could not be read */
	/* The timestamp of the first message at or after the offset lag_sample_offset
	 * gives (and the low watermark), -1 when there is no lag or it could not be
	 * read. */
	int64_t oldest_ts_ms;
	int64_t t_ms; /* when the watermarks were read, ms since the epoch */
	/* The member assigned the partition; consumer_id is empty when none is. */
	char consumer_id[LAG_SAMPLE_NAME_MAX];
	char host[LAG_SAMPLE_NAME_MAX];
	char client_id[LAG_SAMPLE_NAME_MAX];
};

/* Every row of a pass, sorted by group, topic, partition. Owned by the caller: free
 * with lag_sample_pass_clear. */
struct lag_sample_pass {
	struct lag_sample_row *rows;
	size_t n;
};

/* The offset the lag is measured from: Kafka's committed offset, or else the
 * PostgreSQL one, or -1. */
int64_t lag_sample_offset(const struct lag_sample_row *row);

/* high - offset (0 when negative), or -1 when either is unknown. */
int64_t lag_sample_lag(const struct lag_sample_row *row);

/* Milliseconds from the oldest unconsumed message's timestamp to the sample, 0 when
 * there is no lag, -1 when unknown. */
int64_t lag_sample_lag_ms(const struct lag_sample_row *row);

/* Compiles group, a POSIX extended regular expression, into *re matching whole group
 * names (regfree it). Returns 0, or -1 with errstr naming the regex. */
int lag_sample_regex(regex_t *re, const char *group, char *errstr, size_t errstr_size);

struct lag_sampler;

/*
 * brokers and props (librdkafka properties, the config's kafka.* keys) for the
 * sampler's handle; pg_dsn NULL to leave PostgreSQL out; groups: POSIX extended
 * regular expressions a group name must match whole (any of them), none for every
 * group. Everything is copied. Returns NULL with errstr on failure (a bad regex, no
 * connection to PostgreSQL).
 */
struct lag_sampler *lag_sampler_new(const char *brokers,
				    const struct souk_kafka_prop *props, size_t nprops,
				    const char *pg_dsn, const char *const *groups,
				    size_t ngroups, char *errstr, size_t errstr_size);
void lag_sampler_destroy(struct lag_sampler *s);

/* One pass into *out (cleared first). Fails (-1 with errstr) when a group list or
 * offsets could not be read; a partition whose watermarks could not be read is kept
 * with low and high -1. */
int lag_sampler_pass(struct lag_sampler *s, struct lag_sample_pass *out, char *errstr,
		     size_t errstr_size);

void lag_sample_pass_clear(struct lag_sample_pass *pass);

#endif
