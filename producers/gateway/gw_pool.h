/*
 * gw_redis: a pool of Redis connections shared by the gateway's request threads.
 *
 * A souk_redis handle serves one thread at a time; the pool hands each caller its own
 * and takes it back. Connections are made on demand (none is ever closed before
 * gw_redis_destroy), so the pool grows to the number of threads that used Redis at the
 * same time. Acquire and release are O(1) under one mutex.
 */
#ifndef GW_REDIS_H
#define GW_REDIS_H

#include <stddef.h>

#include "souk_redis.h"

struct gw_redis;

/* Connects once to check the URL. timeout_ms bounds each connect and command. */
struct gw_redis *gw_redis_new(const char *url, int timeout_ms, char *errstr,
			      size_t errstr_size);
void gw_redis_destroy(struct gw_redis *pool);

/* A connection for the calling thread, or NULL with errstr when none can be made. */
struct souk_redis *gw_redis_acquire(struct gw_redis *pool, char *errstr, size_t errstr_size);
/* Gives r back; r may be NULL. */
void gw_redis_release(struct gw_redis *pool, struct souk_redis *r);

#endif
