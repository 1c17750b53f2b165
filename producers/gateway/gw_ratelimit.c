#include "gw_ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_log.h"
#include "souk_redis.h"

/* KEYS[1] the bucket; ARGV rate (tokens/s), burst, cost. Returns {allowed, retry_ms}. */
static const char gw_ratelimit_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens, ts = tonumber(b[1]), tonumber(b[2])\n"
    "if tokens == nil or ts == nil then tokens, ts = burst, now end\n"
    "tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)\n"
    "local allowed, retry = 0, 0\n"
    "if tokens >= cost then\n"
    "  tokens = tokens - cost\n"
    "  allowed = 1\n"
    "else\n"
    "  retry = math.ceil((cost - tokens) * 1000 / rate)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)\n"
    "return {allowed, retry}\n";

struct gw_ratelimit {
	struct gw_pool *pool; /* borrowed */
	char sha[41];
	char rate[32], burst[32];
};

struct gw_ratelimit *
gw_ratelimit_new(struct gw_pool *pool, double rate, double burst, char *errstr,
		 size_t errstr_size)
{
	struct gw_ratelimit *rl = NULL;
	struct souk_redis *r = NULL;
	redisReply *reply = NULL;

	if (!(rate > 0) || !(burst >= 1)) {
		snprintf(errstr, errstr_size,
			 "rate limit: rate must be > 0 and burst >= 1, got %g and %g",
			 rate, burst);
		goto out;
	}
	r = gw_pool_acquire(pool, errstr, errstr_size);
	if (!r || souk_redis_command(r, &reply, errstr, errstr_size, "SCRIPT LOAD %s",
				     gw_ratelimit_lua))
		goto out;
	if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
		snprintf(errstr, errstr_size, "rate limit: unexpected SCRIPT LOAD reply");
		goto out;
	}
	rl = calloc(1, sizeof(*rl));
	if (!rl) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	rl->pool = pool;
	memcpy(rl->sha, reply->str, 40);
	snprintf(rl->rate, sizeof(rl->rate), "%.17g", rate);
	snprintf(rl->burst, sizeof(rl->burst), "%.17g", burst);
out:
	if (reply)
		freeReplyObject(reply);
	gw_pool_release(pool, r);
	return rl;
}

void
gw_ratelimit_destroy(struct gw_ratelimit *rl)
{
	free(rl);
}

enum gw_ratelimit_verdict
gw_ratelimit_take(struct gw_ratelimit *rl, const char *subject, long *retry_after_ms)
{
	char key[160], errstr[256];
	struct souk_redis *r;
	redisReply *reply = NULL;
	enum gw_ratelimit_verdict v = GW_RATELIMIT_UNAVAILABLE;
	int rc;

	*retry_after_ms = 0;
	r = gw_pool_acquire(rl->pool, errstr, sizeof(errstr));
	if (!r) {
		SOUK_LOG_WARN("ratelimit_unavailable", "error=%s", errstr);
		return v;
	}
	snprintf(key, sizeof(key), "souk:rate:%s", subject);
	rc = souk_redis_command(r, &reply, errstr, sizeof(errstr),
				"EVALSHA %s 1 %s %s %s 1", rl->sha, key, rl->rate,
				rl->burst);
	if (rc == SOUK_REDIS_EREPLY && !strncmp(errstr, "NOSCRIPT", 8))
		/* Redis restarted empty or its script cache was flushed; EVAL caches it.
		 */
		rc = souk_redis_command(r, &reply, errstr, sizeof(errstr),
					"EVAL %s 1 %s %s %s 1", gw_ratelimit_lua, key,
					rl->rate, rl->burst);
	if (rc) {
		SOUK_LOG_WARN("ratelimit_unavailable", "error=%s", errstr);
		goto out;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER) {
		SOUK_LOG_WARN("ratelimit_unavailable", "error=%s",
			      "unexpected script reply");
		goto out;
	}
	if (reply->element[0]->integer == 1) {
		v = GW_RATELIMIT_ALLOW;
	} else {
		v = GW_RATELIMIT_LIMITED;
		*retry_after_ms = (long)reply->element[1]->integer;
	}
out:
	if (reply)
		freeReplyObject(reply);
	gw_pool_release(rl->pool, r);
	return v;
}
