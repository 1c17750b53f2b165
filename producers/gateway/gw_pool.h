/*
 * gw_pool: a pool of connections (Redis or PostgreSQL) shared by the gateway's request
 * threads.
 *
 * A souk_redis or souk_pg handle serves one thread at a time; the pool hands each
 * caller its own and takes it back. Connections are made on demand (none is closed
 * before gw_pool_destroy), so the pool grows to the number of threads that used it at
 * the same time. Acquire and release are O(1) under one mutex.
 */
#ifndef GW_POOL_H
#define GW_POOL_H

#include <stddef.h>

/* Makes one connection to target; NULL with errstr. */
typedef void *gw_pool_connect_fn(const char *target, int timeout_ms, char *errstr,
				 size_t errstr_size);
typedef void gw_pool_close_fn(void *conn);

struct gw_pool;

/* Connects once to check target. timeout_ms bounds each connect (and, for the
 * clients that use it so, each command). */
struct gw_pool *gw_pool_new(const char *target, int timeout_ms,
			    gw_pool_connect_fn *connect, gw_pool_close_fn *close,
			    char *errstr, size_t errstr_size);
void gw_pool_destroy(struct gw_pool *pool);

/* A connection for the calling thread, or NULL with errstr when none can be made. */
void *gw_pool_acquire(struct gw_pool *pool, char *errstr, size_t errstr_size);
/* Gives conn back; conn may be NULL. */
void gw_pool_release(struct gw_pool *pool, void *conn);

/* The two kinds the gateway uses. */
struct gw_pool *gw_pool_redis(const char *url, int timeout_ms, char *errstr,
			      size_t errstr_size);
struct gw_pool *gw_pool_pg(const char *dsn, int timeout_ms, char *errstr,
			   size_t errstr_size);

#endif
