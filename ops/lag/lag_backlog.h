/*
 * lag_backlog: the business backlog beside the technical lag, in the pools' own terms.
 *
 *   orders undecided   events on `orders` (orders, and the rare stock_set) after the
 *                      inventory group's offset. A decision and the offset past its
 *                      order commit in one transaction, so souk's PostgreSQL offset
 *                      counts them exactly (Kafka's committed offset, written after,
 *                      is the fallback).
 *   payments parked    payments waiting on a provider call with an unknown outcome
 *                      (rows in payment_waiting), and the age of the oldest.
 *   payments stuck     payments left in `created` or `authorized` (waiting for a
 *                      client's next command) longer than lag.stuck_after. `captured`
 *                      is not counted: it waits for the daily settlement.
 *   rides open         ride requests without a final outcome (offered, accepted or
 *                      started), and the age of the oldest.
 *
 * Unknown figures are -1: the group was not seen, or the pool's tables are absent.
 * A reader is used by one thread.
 */
#ifndef LAG_BACKLOG_H
#define LAG_BACKLOG_H

#include <stddef.h>
#include <stdint.h>

#include "lag_sample.h"

struct lag_backlog {
	int64_t orders_undecided;
	int64_t orders_oldest_ms; /* age of the oldest undecided order, 0 with none */
	int64_t payments_parked;
	int64_t payments_parked_oldest_ms; /* 0 with none */
	int64_t payments_stuck_created, payments_stuck_authorized;
	int64_t rides_open;
	int64_t rides_open_oldest_ms; /* 0 with none */
	int64_t stuck_after_ms; /* the threshold the stuck counts used */
};

/* Every figure -1 (unknown). */
void lag_backlog_init(struct lag_backlog *b);

/* The orders figures from a pass: the rows of group on topic; per partition
 * high - the PostgreSQL offset (else Kafka's), the oldest age the largest lag_seconds
 * among partitions with a backlog. Unknown (-1) when the group has no row on topic or
 * a partition's figures are unknown. O(rows). */
void lag_backlog_orders(struct lag_backlog *b, const struct lag_sample_pass *pass,
			const char *group, const char *topic);

struct lag_backlog_reader;

/* Connects to PostgreSQL at dsn and looks once whether the payments and rides tables
 * exist.
 * NULL with errstr when the connection fails. */
struct lag_backlog_reader *lag_backlog_reader_new(const char *dsn, char *errstr,
						  size_t errstr_size);
void lag_backlog_reader_destroy(struct lag_backlog_reader *r);

/* The payments and rides figures into *b (a statement each), payments left in a state
 * longer than stuck_after_ms counted as stuck. Returns 0, or -1 with errstr (the
 * figures stay -1). */
int lag_backlog_read(struct lag_backlog_reader *r, int64_t stuck_after_ms,
		     struct lag_backlog *b, char *errstr, size_t errstr_size);

#endif
