#include "gw_pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_pg.h"
#include "souk_redis.h"

/* A free connection. */
struct gw_pool_idle {
	void *conn;
	struct gw_pool_idle *next;
};

struct gw_pool {
	char *target;
	int timeout_ms;
	gw_pool_connect_fn *connect;
	gw_pool_close_fn *close;
	pthread_mutex_t lock; /* guards idle */
	struct gw_pool_idle *idle;
};

struct gw_pool *
gw_pool_new(const char *target, int timeout_ms, gw_pool_connect_fn *connect,
	    gw_pool_close_fn *close, char *errstr, size_t errstr_size)
{
	struct gw_pool *pool = calloc(1, sizeof(*pool));
	void *conn;

	if (!pool || !(pool->target = strdup(target))) {
		free(pool);
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	pool->timeout_ms = timeout_ms;
	pool->connect = connect;
	pool->close = close;
	pthread_mutex_init(&pool->lock, NULL);
	conn = connect(target, timeout_ms, errstr, errstr_size);
	if (!conn) {
		gw_pool_destroy(pool);
		return NULL;
	}
	gw_pool_release(pool, conn);
	return pool;
}

void
gw_pool_destroy(struct gw_pool *pool)
{
	if (!pool)
		return;
	while (pool->idle) {
		struct gw_pool_idle *i = pool->idle;

		pool->idle = i->next;
		pool->close(i->conn);
		free(i);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool->target);
	free(pool);
}

void *
gw_pool_acquire(struct gw_pool *pool, char *errstr, size_t errstr_size)
{
	struct gw_pool_idle *i;
	void *conn;

	pthread_mutex_lock(&pool->lock);
	i = pool->idle;
	if (i)
		pool->idle = i->next;
	pthread_mutex_unlock(&pool->lock);
	if (i) {
		conn = i->conn;
		free(i);
		return conn;
	}
	return pool->connect(pool->target, pool->timeout_ms, errstr, errstr_size);
}

void
gw_pool_release(struct gw_pool *pool, void *conn)
{
	struct gw_pool_idle *i;

	if (!conn)
		return;
	i = malloc(sizeof(*i));
	if (!i) {
		pool->close(conn); /* cannot keep it: the next caller reconnects */
		return;
	}
	i->conn = conn;
	pthread_mutex_lock(&pool->lock);
	i->next = pool->idle;
	pool->idle = i;
	pthread_mutex_unlock(&pool->lock);
}

static void *
gw_pool_redis_connect(const char *url, int timeout_ms, char *errstr, size_t errstr_size)
{
	return souk_redis_connect(url, timeout_ms, errstr, errstr_size);
}

static void
gw_pool_redis_close(void *conn)
{
	souk_redis_destroy(conn);
}

struct gw_pool *
gw_pool_redis(const char *url, int timeout_ms, char *errstr, size_t errstr_size)
{
	return gw_pool_new(url, timeout_ms, gw_pool_redis_connect, gw_pool_redis_close,
			   errstr, errstr_size);
}

static void *
gw_pool_pg_connect(const char *dsn, int timeout_ms, char *errstr, size_t errstr_size)
{
	return souk_pg_connect(dsn, timeout_ms, errstr, errstr_size);
}

static void
gw_pool_pg_close(void *conn)
{
	souk_pg_destroy(conn);
}

struct gw_pool *
gw_pool_pg(const char *dsn, int timeout_ms, char *errstr, size_t errstr_size)
{
	return gw_pool_new(dsn, timeout_ms, gw_pool_pg_connect, gw_pool_pg_close, errstr,
			   errstr_size);
}
