/*
 * inv_redis: the flash sale's gate in Redis, as three Lua scripts over four keys per
 * SKU:
 *
 *   souk:stock:<sku>                 string  stock left to reserve (the gateway's display
 *                                            stock, GET /v1/stock/<sku>)
 *   souk:limit:{souk:stock:<sku>}    string  per-user limit, 0 for none
 *   souk:users:{souk:stock:<sku>}    hash    user_id -> quantity bought or reserved
 *   souk:seen:{souk:stock:<sku>}     hash    order_id -> "<answer> <qty> <ms> <user_id>"
 *
 * The stock key keeps the name the gateway reads, so it has no hash tag and hashes as
 * a whole; the other three carry that whole name as their tag, so all four land in
 * one cluster slot and one script may touch them together.
 *
 * Redis is a cache in front of PostgreSQL: a missing stock or limit key means "not
 * warm", never 0 (the gate says so and the caller rebuilds the SKU, inv_sync). The
 * seen hash dedups the gate by order_id, so running a batch again (after a rollback
 * or a lost reply) answers the same and takes nothing twice; an accepted entry whose
 * order is not in PostgreSQL yet is a reservation in flight.
 *
 * Every call is one round trip (EVALSHA; the script is loaded again if Redis lost it).
 * One handle per thread.
 */
#ifndef INV_REDIS_H
#define INV_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inv_decide.h"

#define INV_REDIS_KEY_SIZE 96

enum inv_redis_key {
	INV_KEY_STOCK,
	INV_KEY_LIMIT,
	INV_KEY_USERS,
	INV_KEY_SEEN,
};

/* The name of sku's key k (sku an identifier). */
void inv_redis_key(enum inv_redis_key k, const char *sku, char out[INV_REDIS_KEY_SIZE]);

/* A parsed seen entry: "<answer> <qty> <ms> <user_id>". user_id points into the text. */
struct inv_seen {
	enum inv_answer answer;
	int64_t qty;
	int64_t ms; /* Redis's clock when the gate answered */
	const char *user_id;
};

/* Parses s. Returns 0, or -1 when it is not a seen entry. */
int inv_redis_seen_parse(const char *s, struct inv_seen *out);

struct inv_redis;

/* Connects to url (souk_redis_connect, timeout_ms for connecting and for every
 * command) and loads the scripts. Returns NULL with errstr. */
struct inv_redis *inv_redis_new(const char *url, int timeout_ms, char *errstr,
				size_t errstr_size);
void inv_redis_destroy(struct inv_redis *r);

/* One order as the gate sees it; the strings are borrowed for the call. */
struct inv_gate_order {
	const char *order_id;
	const char *user_id;
	int64_t qty;
};

enum inv_gate_status {
	INV_GATE_OK = 0,
	INV_GATE_ERROR = -1, /* no answer, or a wrong one: errstr says */
	INV_GATE_NOT_WARM =
	    -2, /* the SKU's stock or limit key is missing: nothing done */
};

/*
 * Runs the gate for orders[0..n) of one sku, atomically and in order: an order_id in
 * the seen hash gets its earlier answer and takes nothing; else over the user's limit
 * is limit_exceeded, else more than the stock is sold_out, else accepted and taken
 * (stock down, the user's count up); every fresh answer goes to the seen hash.
 * answers[i] gets order i's answer, *available the stock left after them. Cost:
 * O(n) in Redis.
 */
int inv_redis_gate(struct inv_redis *r, const char *sku,
		   const struct inv_gate_order *orders, size_t n,
		   enum inv_answer *answers, int64_t *available, char *errstr,
		   size_t errstr_size);

/* A reservation: an accepted seen entry. */
struct inv_reservation {
	const char *order_id;
	struct inv_seen seen;
};

/* A user's count in the users hash (user_id points into the reply). */
struct inv_redis_user {
	const char *user_id;
	int64_t qty;
};

/* What one SKU's keys held at one instant. */
struct inv_redis_snapshot {
	void *reply; /* the redisReply every string points into */
	/* The stock and limit keys as text, "" when missing (the fix's guard). */
	const char *stock;
	const char *limit;
	long long seen_len; /* entries in the seen hash (the fix's guard) */
	int64_t now_ms;	    /* Redis's clock */
	struct inv_redis_user *users;
	size_t nusers;
	struct inv_reservation *reserved;
	size_t nreserved;
};

/* Reads sku's keys atomically. Cost: O(users + seen entries) in Redis and here.
 * Returns 0 (free *out with inv_redis_snapshot_free), or -1 with errstr. */
int inv_redis_snapshot(struct inv_redis *r, const char *sku,
		       struct inv_redis_snapshot *out, char *errstr, size_t errstr_size);
void inv_redis_snapshot_free(struct inv_redis_snapshot *s);

/*
 * Writes sku's stock, limit and whole users hash (users[0..n), qty > 0), if the
 * stock, limit and seen length are still what guard read; the seen hash is left as
 * it is. Returns 1 when written, 0 when the keys changed since (nothing written: read
 * again), -1 with errstr on error. Cost: O(users) in Redis.
 */
int inv_redis_fix(struct inv_redis *r, const char *sku,
		  const struct inv_redis_snapshot *guard, int64_t stock, int64_t limit,
		  const struct inv_redis_user *users, size_t n, char *errstr,
		  size_t errstr_size);

#endif
