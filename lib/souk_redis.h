/*
 * souk_redis: a blocking Redis client over hiredis 0.14.1, with URL parsing,
 * reconnection and Lua scripts loaded by SHA1.
 *
 * A handle is used by one thread at a time. hiredis writes with write(2), so a
 * program using this module must ignore SIGPIPE (a write to a connection the
 * server closed would otherwise kill it).
 */
#ifndef SOUK_REDIS_H
#define SOUK_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#define SOUK_REDIS_DEFAULT_PORT 6379

/* Return values of the calls that talk to Redis. */
enum souk_redis_status {
	SOUK_REDIS_OK = 0,
	/* no answer: could not connect, or the connection broke twice */
	SOUK_REDIS_ERROR = -1,
	/* Redis answered with an error reply; errstr holds its text */
	SOUK_REDIS_EREPLY = -2,
};

/* The parts of "redis://[[user]:password@]host[:port][/db]". */
struct souk_redis_url {
	char host[256];	    /* a name, an IPv4 address or an IPv6 address without [] */
	int port;	    /* SOUK_REDIS_DEFAULT_PORT when the URL has none */
	char user[128];	    /* "" when absent: AUTH takes the password alone */
	char password[256]; /* "" when absent: no AUTH */
	int db;		    /* 0 when the URL has none */
};

/*
 * Parses url into *out. user and password are percent-decoded. Pure: no I/O.
 * Returns 0, or -1 with errstr naming the part that is wrong (never the password).
 */
int souk_redis_url_parse(const char *url, struct souk_redis_url *out, char *errstr,
			 size_t errstr_size);

struct souk_redis;

/*
 * Connects to url, retrying with backoff (100 ms doubling to 2 s) for up to
 * timeout_ms, then sends AUTH and SELECT when the URL asks for them. timeout_ms
 * also bounds the socket I/O of every later command and each reconnection.
 * A URL that does not parse and a refused AUTH or SELECT fail at once.
 * Returns a handle to free with souk_redis_destroy, or NULL with errstr.
 */
struct souk_redis *souk_redis_connect(const char *url, int timeout_ms, char *errstr,
				      size_t errstr_size);

void souk_redis_destroy(struct souk_redis *r);

/*
 * Sends one command built by hiredis's format (%s, %b with pointer and length)
 * and waits for its reply. When the connection is broken the handle reconnects
 * (as souk_redis_connect does) and sends the command once more, so the command
 * must be safe to apply twice (every Redis effect in souk is idempotent by its
 * business key).
 * On SOUK_REDIS_OK, *reply (when reply is not NULL) is the reply, owned by the
 * caller (freeReplyObject); on failure *reply is NULL.
 */
int souk_redis_command(struct souk_redis *r, redisReply **reply, char *errstr,
		       size_t errstr_size, const char *fmt, ...);

/* As souk_redis_command, with argc binary-safe arguments; argvlen NULL means strlen. */
int souk_redis_command_argv(struct souk_redis *r, redisReply **reply, char *errstr,
			    size_t errstr_size, int argc, const char **argv,
			    const size_t *argvlen);

struct souk_redis_script;

/*
 * Loads lua with SCRIPT LOAD and keeps the source and its SHA1. The script
 * borrows r, which must outlive it. Returns NULL with errstr on failure.
 */
struct souk_redis_script *souk_redis_script_new(struct souk_redis *r, const char *lua,
						char *errstr, size_t errstr_size);

void souk_redis_script_destroy(struct souk_redis_script *s);

/* The 40 hex digits Redis knows the script by. */
const char *souk_redis_script_sha(const struct souk_redis_script *s);

/*
 * Runs the script with EVALSHA: args holds nkeys keys then the other arguments
 * (nargs in all; arglen NULL means strlen). When Redis no longer knows the
 * script (NOSCRIPT: restarted empty, SCRIPT FLUSH) it is loaded again and run
 * once more. Reply ownership as in souk_redis_command.
 */
int souk_redis_evalsha(struct souk_redis_script *s, int nkeys, int nargs,
		       const char **args, const size_t *arglen, redisReply **reply,
		       char *errstr, size_t errstr_size);

#endif
