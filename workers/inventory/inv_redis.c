/*
 * inv_redis: see inv_redis.h.
 */
#include "inv_redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_redis.h"

/* KEYS: stock, limit, users, seen of one SKU. ARGV: order_id, user_id, qty per order.
 * Returns {stock left, answer per order}, or {"not_warm"}. */
static const char inv_redis_gate_lua[] =
    "local available = tonumber(redis.call('GET', KEYS[1]))\n"
    "local limit = tonumber(redis.call('GET', KEYS[2]))\n"
    "if not available or not limit then\n"
    "	return {'not_warm'}\n"
    "end\n"
    "local now = redis.call('TIME')\n"
    "local ms = now[1] * 1000 + math.floor(now[2] / 1000)\n"
    "local out = {0}\n"
    "for i = 1, #ARGV, 3 do\n"
    "	local order_id, user, qty = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])\n"
    "	local answer = redis.call('HGET', KEYS[4], order_id)\n"
    "	if answer then\n"
    "		answer = string.match(answer, '^%S+')\n"
    "	else\n"
    "		local bought = tonumber(redis.call('HGET', KEYS[3], user)) or 0\n"
    "		if limit > 0 and bought + qty > limit then\n"
    "			answer = 'limit_exceeded'\n"
    "		elseif available < qty then\n"
    "			answer = 'sold_out'\n"
    "		else\n"
    "			answer = 'accepted'\n"
    "			available = available - qty\n"
    "			redis.call('HINCRBY', KEYS[3], user, qty)\n"
    "		end\n"
    "		redis.call('HSET', KEYS[4], order_id,\n"
    "			answer .. ' ' .. qty .. ' ' .. ms .. ' ' .. user)\n"
    "	end\n"
    "	out[#out + 1] = answer\n"
    "end\n"
    "redis.call('SET', KEYS[1], available)\n"
    "out[1] = available\n"
    "return out\n";

/* KEYS as above. Returns {stock or '', limit or '', seen length, time in ms, users
 * hash as field/value list, accepted seen entries as order_id/value list}. */
static const char inv_redis_snapshot_lua[] =
    "local now = redis.call('TIME')\n"
    "local seen = redis.call('HGETALL', KEYS[4])\n"
    "local reserved = {}\n"
    "for i = 1, #seen, 2 do\n"
    "	if string.sub(seen[i + 1], 1, 9) == 'accepted ' then\n"
    "		reserved[#reserved + 1] = seen[i]\n"
    "		reserved[#reserved + 1] = seen[i + 1]\n"
    "	end\n"
    "end\n"
    "return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '',\n"
    "	#seen / 2, now[1] * 1000 + math.floor(now[2] / 1000),\n"
    "	redis.call('HGETALL', KEYS[3]), reserved}\n";

/* KEYS as above. ARGV: the guard (stock, limit, seen length as read), the new stock
 * and limit, then user/qty pairs. Returns 1 when written, 0 when the guard failed. */
static const char inv_redis_fix_lua[] =
    "if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1]\n"
    "   or (redis.call('GET', KEYS[2]) or '') ~= ARGV[2]\n"
    "   or redis.call('HLEN', KEYS[4]) ~= tonumber(ARGV[3]) then\n"
    "	return 0\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[4])\n"
    "redis.call('SET', KEYS[2], ARGV[5])\n"
    "redis.call('DEL', KEYS[3])\n"
    "for i = 6, #ARGV, 2 do\n"
    "	redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])\n"
    "end\n"
    "return 1\n";

struct inv_redis {
	struct souk_redis *conn;
	struct souk_redis_script *gate, *snapshot, *fix;
};

void
inv_redis_key(enum inv_redis_key k, const char *sku, char out[INV_REDIS_KEY_SIZE])
{
	static const char *const names[] = {
	    [INV_KEY_LIMIT] = "limit",
	    [INV_KEY_USERS] = "users",
	    [INV_KEY_SEEN] = "seen",
	};

	if (k == INV_KEY_STOCK)
		snprintf(out, INV_REDIS_KEY_SIZE, "souk:stock:%s", sku);
	else
		snprintf(out, INV_REDIS_KEY_SIZE, "souk:%s:{souk:stock:%s}", names[k],
			 sku);
}

/* A decimal int64 filling the whole of s[0..len). */
static int
inv_redis_int(const char *s, size_t len, int64_t *out)
{
	char buf[24], *end;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtoll(buf, &end, 10);
	return errno || *end ? -1 : 0;
}

int
inv_redis_seen_parse(const char *s, struct inv_seen *out)
{
	const char *qty = strchr(s, ' '), *ms = qty ? strchr(qty + 1, ' ') : NULL;
	const char *user = ms ? strchr(ms + 1, ' ') : NULL;

	if (!user || user[1] == '\0' ||
	    inv_answer_parse(s, (size_t)(qty - s), &out->answer) ||
	    inv_redis_int(qty + 1, (size_t)(ms - qty - 1), &out->qty) ||
	    inv_redis_int(ms + 1, (size_t)(user - ms - 1), &out->ms))
		return -1;
	out->user_id = user + 1;
	return 0;
}

struct inv_redis *
inv_redis_new(const char *url, int timeout_ms, char *errstr, size_t errstr_size)
{
	struct inv_redis *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	r->conn = souk_redis_connect(url, timeout_ms, errstr, errstr_size);
	if (!r->conn ||
	    !(r->gate = souk_redis_script_new(r->conn, inv_redis_gate_lua, errstr,
					      errstr_size)) ||
	    !(r->snapshot = souk_redis_script_new(r->conn, inv_redis_snapshot_lua, errstr,
						  errstr_size)) ||
	    !(r->fix = souk_redis_script_new(r->conn, inv_redis_fix_lua, errstr,
					     errstr_size))) {
		inv_redis_destroy(r);
		return NULL;
	}
	return r;
}

void
inv_redis_destroy(struct inv_redis *r)
{
	if (!r)
		return;
	souk_redis_script_destroy(r->gate);
	souk_redis_script_destroy(r->snapshot);
	souk_redis_script_destroy(r->fix);
	souk_redis_destroy(r->conn);
	free(r);
}

/* The four keys of sku into keys[4] (storage for them in buf[4]). */
static void
inv_redis_keys(const char *sku, char buf[4][INV_REDIS_KEY_SIZE], const char **keys)
{
	for (int k = 0; k < 4; k++) {
		inv_redis_key((enum inv_redis_key)k, sku, buf[k]);
		keys[k] = buf[k];
	}
}

int
inv_redis_gate(struct inv_redis *r, const char *sku, const struct inv_gate_order *orders,
	       size_t n, enum inv_answer *answers, int64_t *available, char *errstr,
	       size_t errstr_size)
{
	size_t nargs = 4 + 3 * n;
	const char **args = malloc(nargs * sizeof(*args));
	char(*qty)[24] = malloc(n * sizeof(*qty));
	char keys[4][INV_REDIS_KEY_SIZE];
	redisReply *reply = NULL;
	int rc = INV_GATE_ERROR;

	if (!args || !qty) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	inv_redis_keys(sku, keys, args);
	for (size_t i = 0; i < n; i++) {
		snprintf(qty[i], sizeof(qty[i]), "%" PRId64, orders[i].qty);
		args[4 + 3 * i] = orders[i].order_id;
		args[5 + 3 * i] = orders[i].user_id;
		args[6 + 3 * i] = qty[i];
	}
	if (souk_redis_evalsha(r->gate, 4, (int)nargs, args, NULL, &reply, errstr,
			       errstr_size) != SOUK_REDIS_OK)
		goto out;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(reply->element[0]->str, "not_warm") == 0) {
		rc = INV_GATE_NOT_WARM;
		goto out;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n + 1 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		const redisReply *a = reply->element[i + 1];

		if (a->type != REDIS_REPLY_STRING ||
		    inv_answer_parse(a->str, a->len, &answers[i]))
			goto bad;
	}
	*available = reply->element[0]->integer;
	rc = INV_GATE_OK;
	goto out;
bad:
	snprintf(errstr, errstr_size,
		 "could not read the redis gate's answer for sku \"%s\"", sku);
out:
	freeReplyObject(reply);
	free(args);
	free(qty);
	return rc;
}

int
inv_redis_snapshot(struct inv_redis *r, const char *sku, struct inv_redis_snapshot *out,
		   char *errstr, size_t errstr_size)
{
	char keys[4][INV_REDIS_KEY_SIZE];
	const char *args[4];
	redisReply *reply = NULL, *const * e, *users, *reserved;

	*out = (struct inv_redis_snapshot){.stock = ""};
	inv_redis_keys(sku, keys, args);
	if (souk_redis_evalsha(r->snapshot, 4, 4, args, NULL, &reply, errstr,
			       errstr_size) != SOUK_REDIS_OK)
		return -1;
	out->reply = reply;
	e = reply->element;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 6 ||
	    e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING ||
	    e[2]->type != REDIS_REPLY_INTEGER || e[3]->type != REDIS_REPLY_INTEGER ||
	    e[4]->type != REDIS_REPLY_ARRAY || e[5]->type != REDIS_REPLY_ARRAY)
		goto bad;
	out->stock = e[0]->str;
	out->limit = e[1]->str;
	out->seen_len = e[2]->integer;
	out->now_ms = e[3]->integer;
	users = e[4];
	reserved = e[5];
	out->users = calloc(users->elements / 2 + 1, sizeof(*out->users));
	out->reserved = calloc(reserved->elements / 2 + 1, sizeof(*out->reserved));
	if (!out->users || !out->reserved) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i + 1 < users->elements; i += 2) {
		struct inv_redis_user *u = &out->users[out->nusers++];

		u->user_id = users->element[i]->str;
		if (inv_redis_int(users->element[i + 1]->str, users->element[i + 1]->len,
				  &u->qty))
			goto bad;
	}
	for (size_t i = 0; i + 1 < reserved->elements; i += 2) {
		struct inv_reservation *res = &out->reserved[out->nreserved++];

		res->order_id = reserved->element[i]->str;
		if (inv_redis_seen_parse(reserved->element[i + 1]->str, &res->seen))
			goto bad;
	}
	return 0;
bad:
	snprintf(errstr, errstr_size, "could not read the redis keys of sku \"%s\"", sku);
fail:
	inv_redis_snapshot_free(out);
	return -1;
}

void
inv_redis_snapshot_free(struct inv_redis_snapshot *s)
{
	freeReplyObject(s->reply);
	free(s->users);
	free(s->reserved);
	*s = (struct inv_redis_snapshot){.stock = ""};
}

int
inv_redis_fix(struct inv_redis *r, const char *sku,
	      const struct inv_redis_snapshot *guard, int64_t stock, int64_t limit,
	      const struct inv_redis_user *users, size_t n, char *errstr,
	      size_t errstr_size)
{
	size_t nargs = 9 + 2 * n;
	const char **args = malloc(nargs * sizeof(*args));
	char(*qty)[24] = malloc((n + 1) * sizeof(*qty));
	char keys[4][INV_REDIS_KEY_SIZE], seen_len[24], stock_s[24], limit_s[24];
	redisReply *reply = NULL;
	int rc = -1;

	if (!args || !qty) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	inv_redis_keys(sku, keys, args);
	snprintf(seen_len, sizeof(seen_len), "%lld", guard->seen_len);
	snprintf(stock_s, sizeof(stock_s), "%" PRId64, stock);
	snprintf(limit_s, sizeof(limit_s), "%" PRId64, limit);
	args[4] = guard->stock;
	args[5] = guard->limit;
	args[6] = seen_len;
	args[7] = stock_s;
	args[8] = limit_s;
	for (size_t i = 0; i < n; i++) {
		snprintf(qty[i], sizeof(qty[i]), "%" PRId64, users[i].qty);
		args[9 + 2 * i] = users[i].user_id;
		args[10 + 2 * i] = qty[i];
	}
	if (souk_redis_evalsha(r->fix, 4, (int)nargs, args, NULL, &reply, errstr,
			       errstr_size) != SOUK_REDIS_OK)
		goto out;
	if (reply->type != REDIS_REPLY_INTEGER ||
	    (reply->integer != 0 && reply->integer != 1)) {
		snprintf(errstr, errstr_size,
			 "could not read the redis fix's answer for sku \"%s\"", sku);
		goto out;
	}
	rc = (int)reply->integer;
out:
	freeReplyObject(reply);
	free(args);
	free(qty);
	return rc;
}
