/*
 * gw_ratelimit: token buckets in Redis, the flash sale's anti-fraud gate.
 *
 * One bucket per subject (a user on /v1/orders, a client elsewhere) holds up to `burst`
 * tokens and refills at `rate` tokens per second; a request takes one. The bucket lives
 * in one Redis hash updated by one Lua script, so every gateway process shares it and
 * the check-and-take is atomic. The script reads Redis's clock (TIME), so gateways
 * with skewed clocks agree. A bucket expires once it would be full again.
 *
 * When Redis cannot be reached the limiter fails open (GW_RATELIMIT_UNAVAILABLE): the
 * gate protects against abuse, and the pools' own checks (per-user limits in Redis and
 * PostgreSQL) still hold without it. The caller counts these in its metrics.
 *
 * Thread-safe: connections come from the gateway's pool.
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stddef.h>

#include "gw_pool.h"

enum gw_ratelimit_verdict {
	GW_RATELIMIT_ALLOW,
	GW_RATELIMIT_LIMITED,	  /* *retry_after_ms says when one token is back */
	GW_RATELIMIT_UNAVAILABLE, /* Redis did not answer: allowed (fail open) */
};

struct gw_ratelimit;

/* rate: tokens per second (> 0); burst: bucket size (>= 1). pool is borrowed. Loads the
 * script once to learn its SHA1. Returns NULL with errstr. */
struct gw_ratelimit *gw_ratelimit_new(struct gw_pool *pool, double rate, double burst,
				      char *errstr, size_t errstr_size);
void gw_ratelimit_destroy(struct gw_ratelimit *rl);

/* Takes one token from the bucket of subject ("user:<id>" or "client:<id>"). Cost: one
 * Redis round trip (EVALSHA; EVAL once more after Redis lost its script cache). */
enum gw_ratelimit_verdict gw_ratelimit_take(struct gw_ratelimit *rl, const char *subject,
					    long *retry_after_ms);

#endif
