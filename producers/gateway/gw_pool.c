#include "gw_redis.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A free connection. */
struct gw_redis_idle {
	struct souk_redis *r;
	struct gw_redis_idle *next;
};

struct gw_redis {
	char *url;
	int timeout_ms;
	pthread_mutex_t lock; /* guards idle */
	struct gw_redis_idle *idle;
};

struct gw_redis *
gw_redis_new(const char *url, int timeout_ms, char *errstr, size_t errstr_size)
{
	struct gw_redis *pool = calloc(1, sizeof(*pool));
	struct souk_redis *r;

	if (!pool || !(pool->url = strdup(url))) {
		free(pool);
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	pool->timeout_ms = timeout_ms;
	pthread_mutex_init(&pool->lock, NULL);
	r = souk_redis_connect(url, timeout_ms, errstr, errstr_size);
	if (!r) {
		gw_redis_destroy(pool);
		return NULL;
	}
	gw_redis_release(pool, r);
	return pool;
}

void
gw_redis_destroy(struct gw_redis *pool)
{
	if (!pool)
		return;
	while (pool->idle) {
		struct gw_redis_idle *i = pool->idle;

		pool->idle = i->next;
		souk_redis_destroy(i->r);
		free(i);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool->url);
	free(pool);
}

struct souk_redis *
gw_redis_acquire(struct gw_redis *pool, char *errstr, size_t errstr_size)
{
	struct gw_redis_idle *i;
	struct souk_redis *r = NULL;

	pthread_mutex_lock(&pool->lock);
	i = pool->idle;
	if (i)
		pool->idle = i->next;
	pthread_mutex_unlock(&pool->lock);
	if (i) {
		r = i->r;
		free(i);
		return r;
	}
	return souk_redis_connect(pool->url, pool->timeout_ms, errstr, errstr_size);
}

void
gw_redis_release(struct gw_redis *pool, struct souk_redis *r)
{
	struct gw_redis_idle *i;

	if (!r)
		return;
	i = malloc(sizeof(*i));
	if (!i) {
		souk_redis_destroy(r); /* cannot keep it: the next caller reconnects */
		return;
	}
	i->r = r;
	pthread_mutex_lock(&pool->lock);
	i->next = pool->idle;
	pool->idle = i;
	pthread_mutex_unlock(&pool->lock);
}
