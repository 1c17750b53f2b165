/*
 * souk_redis: see souk_redis.h. Blocking I/O over one hiredis context; a
 * broken context is freed and rebuilt, never reused.
 */
#include "souk_redis.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

struct souk_redis {
	struct souk_redis_url url;
	int timeout_ms;
	redisContext *ctx; /* NULL after a failure: the next command reconnects */
};

struct souk_redis_script {
	struct souk_redis *r; /* borrowed */
	char *lua;
	char sha[41];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static struct timeval
ms_to_timeval(int64_t ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes the n bytes at s into dst (NUL-terminated); what names the part. */
static int
url_decode(const char *s, size_t n, char *dst, size_t dst_size, const char *what,
	   char *errstr, size_t errstr_size)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;

			if (lo < 0 || hi * 16 + lo == 0) {
				snprintf(
				    errstr, errstr_size,
				    "could not parse redis url: bad percent-encoding in "
				    "the %s",
				    what);
				return -1;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= dst_size) {
			snprintf(
			    errstr, errstr_size,
			    "could not parse redis url: the %s is longer than %zu bytes",
			    what, dst_size - 1);
			return -1;
		}
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

/* Parses the n decimal digits at s into *out, which must lie in [min, max]. */
static int
parse_number(const char *s, size_t n, long min, long max, int *out)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

int
souk_redis_url_parse(const char *url, struct souk_redis_url *out, char *errstr,
		     size_t errstr_size)
{
	static const char scheme[] = "redis://";
	const char *p, *auth_end, *slash, *at, *host, *host_end, *after_host;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->port = SOUK_REDIS_DEFAULT_PORT;
	if (strncmp(url, scheme, strlen(scheme)) != 0) {
		snprintf(errstr, errstr_size,
			 "could not parse redis url: it must start with \"%s\"", scheme);
		goto out;
	}
	p = url + strlen(scheme);
	slash = strchr(p, '/');
	auth_end = slash ? slash : p + strlen(p);

	/* userinfo ends at the last '@', so an unencoded '@' in a password still works */
	at = memrchr(p, '@', (size_t)(auth_end - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (!colon) {
			snprintf(errstr, errstr_size,
				 "could not parse redis url: the part before '@' must be "
				 "[user]:password");
			goto out;
		}
		if (url_decode(p, (size_t)(colon - p), out->user, sizeof(out->user),
			       "user", errstr, errstr_size) ||
		    url_decode(colon + 1, (size_t)(at - colon - 1), out->password,
			       sizeof(out->password), "password", errstr, errstr_size))
			goto out;
		p = at + 1;
	}

	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(auth_end - p));

		if (!close) {
			snprintf(errstr, errstr_size,
				 "could not parse redis url: '[' in the host has no ']'");
			goto out;
		}
		host = p + 1;
		host_end = close;
		after_host = close + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(auth_end - p));

		host = p;
		host_end = colon ? colon : auth_end;
		after_host = host_end;
	}
	if (host_end == host) {
		snprintf(errstr, errstr_size, "could not parse redis url: missing host");
		goto out;
	}
	if ((size_t)(host_end - host) >= sizeof(out->host)) {
		snprintf(errstr, errstr_size,
			 "could not parse redis url: the host is longer than %zu bytes",
			 sizeof(out->host) - 1);
		goto out;
	}
	memcpy(out->host, host, (size_t)(host_end - host));

	if (after_host < auth_end) {
		if (*after_host != ':') {
			snprintf(
			    errstr, errstr_size,
			    "could not parse redis url: unexpected \"%.*s\" after the "
			    "host",
			    (int)(auth_end - after_host), after_host);
			goto out;
		}
		if (parse_number(after_host + 1, (size_t)(auth_end - after_host - 1), 1,
				 65535, &out->port)) {
			snprintf(
			    errstr, errstr_size,
			    "could not parse redis url: port \"%.*s\" is not a number "
			    "from 1 to 65535",
			    (int)(auth_end - after_host - 1), after_host + 1);
			goto out;
		}
	}

	if (slash && slash[1] != '\0' &&
	    parse_number(slash + 1, strlen(slash + 1), 0, INT_MAX, &out->db)) {
		snprintf(
		    errstr, errstr_size,
		    "could not parse redis url: database \"%s\" is not a number from 0 "
		    "to %d",
		    slash + 1, INT_MAX);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/*
 * Sends argv on a fresh context as part of connecting. Returns SOUK_REDIS_OK,
 * SOUK_REDIS_ERROR on I/O failure or SOUK_REDIS_EREPLY when Redis refuses.
 */
static int
handshake_command(redisContext *ctx, int argc, const char **argv, char *errstr,
		  size_t errstr_size)
{
	redisReply *reply = redisCommandArgv(ctx, argc, argv, NULL);
	int rc = SOUK_REDIS_OK;

	if (!reply) {
		snprintf(errstr, errstr_size, "could not send %s to redis: %s", argv[0],
			 ctx->errstr);
		rc = SOUK_REDIS_ERROR;
	} else if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(errstr, errstr_size, "redis refused %s: %s", argv[0],
			 reply->str);
		rc = SOUK_REDIS_EREPLY;
	}
	freeReplyObject(reply);
	return rc;
}

/* One connection attempt, AUTH and SELECT included. Return values as handshake_command.
 */
static int
connect_once(struct souk_redis *r, int64_t deadline, char *errstr, size_t errstr_size)
{
	const struct souk_redis_url *u = &r->url;
	int64_t left = deadline - now_ms();
	redisContext *ctx;
	int rc = SOUK_REDIS_ERROR;

	ctx =
	    redisConnectWithTimeout(u->host, u->port, ms_to_timeval(left > 1 ? left : 1));
	if (!ctx) {
		snprintf(errstr, errstr_size, "could not allocate a redis context");
		goto out;
	}
	if (ctx->err) {
		snprintf(errstr, errstr_size, "%s", ctx->errstr);
		goto out;
	}
	if (redisSetTimeout(ctx, ms_to_timeval(r->timeout_ms)) != REDIS_OK) {
		snprintf(errstr, errstr_size, "could not set the socket timeout: %s",
			 ctx->errstr);
		goto out;
	}
	if (u->password[0]) {
		const char *auth_user[] = {"AUTH", u->user, u->password};
		const char *auth[] = {"AUTH", u->password};

		rc = u->user[0]
			 ? handshake_command(ctx, 3, auth_user, errstr, errstr_size)
			 : handshake_command(ctx, 2, auth, errstr, errstr_size);
		if (rc != SOUK_REDIS_OK)
			goto out;
	}
	if (u->db != 0) {
		char db[16];
		const char *select[] = {"SELECT", db};

		snprintf(db, sizeof(db), "%d", u->db);
		rc = handshake_command(ctx, 2, select, errstr, errstr_size);
		if (rc != SOUK_REDIS_OK)
			goto out;
	}
	r->ctx = ctx;
	ctx = NULL; /* owned by r */
	rc = SOUK_REDIS_OK;
out:
	redisFree(ctx);
	return rc;
}

/* Connects r->ctx, retrying I/O failures with backoff until r->timeout_ms has passed. */
static int
connect_retrying(struct souk_redis *r, char *errstr, size_t errstr_size)
{
	int64_t start = now_ms(), deadline = start + r->timeout_ms, left;
	int64_t backoff = BACKOFF_FIRST_MS;
	char last[256];
	int rc;

	for (;;) {
		rc = connect_once(r, deadline, last, sizeof(last));
		if (rc != SOUK_REDIS_ERROR)
			break;
		left = deadline - now_ms();
		if (left <= 0)
			break;
		sleep_ms(backoff < left ? backoff : left);
		backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
	}
	if (rc == SOUK_REDIS_ERROR)
		snprintf(errstr, errstr_size,
			 "could not connect to redis at %s:%d within %d ms: %s",
			 r->url.host, r->url.port, r->timeout_ms, last);
	else if (rc == SOUK_REDIS_EREPLY)
		snprintf(errstr, errstr_size, "could not connect to redis at %s:%d: %s",
			 r->url.host, r->url.port, last);
	return rc;
}

struct souk_redis *
souk_redis_connect(const char *url, int timeout_ms, char *errstr, size_t errstr_size)
{
	struct souk_redis *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(errstr, errstr_size, "could not allocate a redis handle");
		goto fail;
	}
	r->timeout_ms = timeout_ms;
	if (souk_redis_url_parse(url, &r->url, errstr, errstr_size) != 0)
		goto fail;
	if (connect_retrying(r, errstr, errstr_size) != SOUK_REDIS_OK)
		goto fail;
	return r;
fail:
	souk_redis_destroy(r);
	return NULL;
}

void
souk_redis_destroy(struct souk_redis *r)
{
	if (!r)
		return;
	redisFree(r->ctx);
	free(r);
}

/*
 * Sends one formatted command and reads its reply, reconnecting and sending
 * it again once if the connection is broken. *reply may be an error reply.
 */
static int
send_formatted(struct souk_redis *r, const char *cmd, size_t len, redisReply **reply,
	       char *errstr, size_t errstr_size)
{
	int attempt, rc;
	void *raw = NULL;

	for (attempt = 0; attempt < 2; attempt++) {
		if (!r->ctx) {
			rc = connect_retrying(r, errstr, errstr_size);
			if (rc != SOUK_REDIS_OK)
				return rc;
		}
		if (redisAppendFormattedCommand(r->ctx, cmd, len) == REDIS_OK &&
		    redisGetReply(r->ctx, &raw) == REDIS_OK) {
			*reply = raw;
			return SOUK_REDIS_OK;
		}
		snprintf(errstr, errstr_size, "redis connection to %s:%d broke: %s",
			 r->url.host, r->url.port, r->ctx->errstr);
		redisFree(r->ctx);
		r->ctx = NULL;
	}
	return SOUK_REDIS_ERROR;
}

/* Hands reply to the caller, or turns an error reply into SOUK_REDIS_EREPLY. */
static int
deliver_reply(redisReply *reply, redisReply **out, char *errstr, size_t errstr_size)
{
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(errstr, errstr_size, "redis replied with an error: %s",
			 reply->str);
		freeReplyObject(reply);
		return SOUK_REDIS_EREPLY;
	}
	if (out)
		*out = reply; /* owned by the caller */
	else
		freeReplyObject(reply);
	return SOUK_REDIS_OK;
}

int
souk_redis_command(struct souk_redis *r, redisReply **reply, char *errstr,
		   size_t errstr_size, const char *fmt, ...)
{
	redisReply *raw = NULL;
	char *cmd = NULL;
	va_list ap;
	int len, rc = SOUK_REDIS_ERROR;

	if (reply)
		*reply = NULL;
	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0) {
		snprintf(errstr, errstr_size, "could not format redis command \"%s\"",
			 fmt);
		goto out;
	}
	rc = send_formatted(r, cmd, (size_t)len, &raw, errstr, errstr_size);
	if (rc == SOUK_REDIS_OK)
		rc = deliver_reply(raw, reply, errstr, errstr_size);
out:
	redisFreeCommand(cmd);
	return rc;
}

/* As souk_redis_command_argv, but an error reply is returned as a reply. */
static int
command_argv_raw(struct souk_redis *r, redisReply **reply, char *errstr,
		 size_t errstr_size, int argc, const char **argv, const size_t *argvlen)
{
	char *cmd = NULL;
	int len, rc = SOUK_REDIS_ERROR;

	len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
	if (len < 0) {
		snprintf(errstr, errstr_size, "could not format redis command %s",
			 argc > 0 ? argv[0] : "(empty)");
		goto out;
	}
	rc = send_formatted(r, cmd, (size_t)len, reply, errstr, errstr_size);
out:
	redisFreeCommand(cmd);
	return rc;
}

int
souk_redis_command_argv(struct souk_redis *r, redisReply **reply, char *errstr,
			size_t errstr_size, int argc, const char **argv,
			const size_t *argvlen)
{
	redisReply *raw = NULL;
	int rc;

	if (reply)
		*reply = NULL;
	rc = command_argv_raw(r, &raw, errstr, errstr_size, argc, argv, argvlen);
	if (rc == SOUK_REDIS_OK)
		rc = deliver_reply(raw, reply, errstr, errstr_size);
	return rc;
}

/* SCRIPT LOAD: Redis computes the SHA1 and we keep it. */
static int
script_load(struct souk_redis_script *s, char *errstr, size_t errstr_size)
{
	redisReply *reply = NULL;
	int rc;

	rc = souk_redis_command(s->r, &reply, errstr, errstr_size, "SCRIPT LOAD %s",
				s->lua);
	if (rc != SOUK_REDIS_OK)
		goto out;
	if (reply->type != REDIS_REPLY_STRING || reply->len != sizeof(s->sha) - 1) {
		snprintf(
		    errstr, errstr_size,
		    "could not load redis script: SCRIPT LOAD did not answer a SHA1");
		rc = SOUK_REDIS_ERROR;
		goto out;
	}
	memcpy(s->sha, reply->str, sizeof(s->sha) - 1);
	s->sha[sizeof(s->sha) - 1] = '\0';
out:
	freeReplyObject(reply);
	return rc;
}

struct souk_redis_script *
souk_redis_script_new(struct souk_redis *r, const char *lua, char *errstr,
		      size_t errstr_size)
{
	struct souk_redis_script *s = calloc(1, sizeof(*s));

	if (!s || !(s->lua = strdup(lua))) {
		snprintf(errstr, errstr_size, "could not allocate a redis script");
		goto fail;
	}
	s->r = r;
	if (script_load(s, errstr, errstr_size) != SOUK_REDIS_OK)
		goto fail;
	return s;
fail:
	souk_redis_script_destroy(s);
	return NULL;
}

void
souk_redis_script_destroy(struct souk_redis_script *s)
{
	if (!s)
		return;
	free(s->lua);
	free(s);
}

const char *
souk_redis_script_sha(const struct souk_redis_script *s)
{
	return s->sha;
}

int
souk_redis_evalsha(struct souk_redis_script *s, int nkeys, int nargs, const char **args,
		   const size_t *arglen, redisReply **reply, char *errstr,
		   size_t errstr_size)
{
	int argc = nargs + 3, i, rc = SOUK_REDIS_ERROR;
	const char **argv = NULL;
	size_t *argvlen = NULL;
	redisReply *raw = NULL;
	char nkeys_str[16];

	if (reply)
		*reply = NULL;
	if (nkeys < 0 || nargs < nkeys) {
		snprintf(errstr, errstr_size,
			 "could not run redis script: %d keys among %d arguments", nkeys,
			 nargs);
		goto out;
	}
	argv = calloc((size_t)argc, sizeof(*argv));
	argvlen = calloc((size_t)argc, sizeof(*argvlen));
	if (!argv || !argvlen) {
		snprintf(errstr, errstr_size,
			 "could not allocate redis script arguments");
		goto out;
	}
	snprintf(nkeys_str, sizeof(nkeys_str), "%d", nkeys);
	argv[0] = "EVALSHA";
	argv[1] = s->sha;
	argv[2] = nkeys_str;
	for (i = 0; i < 3; i++)
		argvlen[i] = strlen(argv[i]);
	for (i = 0; i < nargs; i++) {
		argv[i + 3] = args[i];
		argvlen[i + 3] = arglen ? arglen[i] : strlen(args[i]);
	}

	rc = command_argv_raw(s->r, &raw, errstr, errstr_size, argc, argv, argvlen);
	if (rc == SOUK_REDIS_OK && raw->type == REDIS_REPLY_ERROR &&
	    strncmp(raw->str, "NOSCRIPT", strlen("NOSCRIPT")) == 0) {
		freeReplyObject(raw);
		raw = NULL;
		rc = script_load(s, errstr, errstr_size);
		if (rc == SOUK_REDIS_OK)
			rc = command_argv_raw(s->r, &raw, errstr, errstr_size, argc, argv,
					      argvlen);
	}
	if (rc == SOUK_REDIS_OK) {
		rc = deliver_reply(raw, reply, errstr, errstr_size);
		raw = NULL; /* deliver_reply took it */
	}
out:
	freeReplyObject(raw);
	free(argv);
	free(argvlen);
	return rc;
}
