/*
 * souk_redis against the real server at SOUK_REDIS_URL: commands, scripts
 * surviving SCRIPT FLUSH, and a connection killed from a second client.
 * Every key lives under a random prefix and is deleted afterwards.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "souk_redis.h"

#define DEFAULT_URL "redis://127.0.0.1:16379/0"
#define TIMEOUT_MS 5000

struct fixture {
	struct souk_redis *r;	  /* the client under test */
	struct souk_redis *admin; /* a second client that flushes and kills */
	char prefix[64];
};

static const char *
url(void)
{
	const char *env = getenv("SOUK_REDIS_URL");

	return env && *env ? env : DEFAULT_URL;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct timespec ts;
	char err[512];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(f->prefix, sizeof(f->prefix), "souk-test:%ld-%ld:", (long)getpid(),
		 (long)ts.tv_nsec);
	f->r = souk_redis_connect(url(), TIMEOUT_MS, err, sizeof(err));
	if (!f->r)
		fail_msg("%s", err);
	f->admin = souk_redis_connect(url(), TIMEOUT_MS, err, sizeof(err));
	if (!f->admin)
		fail_msg("%s", err);
	*state = f;
	return 0;
}

/* Deletes every key under the prefix (KEYS is fine for a test's handful). */
static int
teardown(void **state)
{
	struct fixture *f = *state;
	redisReply *keys = NULL;
	char err[512];
	size_t i;

	if (souk_redis_command(f->admin, &keys, err, sizeof(err), "KEYS %s*", f->prefix))
		fail_msg("%s", err);
	for (i = 0; i < keys->elements; i++)
		if (souk_redis_command(f->admin, NULL, err, sizeof(err), "DEL %s",
				       keys->element[i]->str))
			fail_msg("%s", err);
	freeReplyObject(keys);
	souk_redis_destroy(f->r);
	souk_redis_destroy(f->admin);
	free(f);
	return 0;
}

static void
key(const struct fixture *f, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", f->prefix, name);
}

static long long
client_id(struct souk_redis *r)
{
	redisReply *reply = NULL;
	char err[512];
	long long id;

	if (souk_redis_command(r, &reply, err, sizeof(err), "CLIENT ID"))
		fail_msg("%s", err);
	assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
	id = reply->integer;
	freeReplyObject(reply);
	return id;
}

static void
test_set_get_round_trip(void **state)
{
	struct fixture *f = *state;
	static const char value[] = "binary\0safe \xff value";
	redisReply *reply = NULL;
	char err[512], k[128];
	const char *argv[] = {"GET", k};

	key(f, "plain", k, sizeof(k));
	assert_int_equal(souk_redis_command(f->r, &reply, err, sizeof(err), "SET %s %b",
					    k, value, sizeof(value) - 1),
			 SOUK_REDIS_OK);
	assert_int_equal(reply->type, REDIS_REPLY_STATUS);
	assert_string_equal(reply->str, "OK");
	freeReplyObject(reply);

	assert_int_equal(
	    souk_redis_command_argv(f->r, &reply, err, sizeof(err), 2, argv, NULL),
	    SOUK_REDIS_OK);
	assert_int_equal(reply->type, REDIS_REPLY_STRING);
	assert_int_equal(reply->len, sizeof(value) - 1);
	assert_memory_equal(reply->str, value, sizeof(value) - 1);
	freeReplyObject(reply);
}

static void
test_error_reply_is_ereply(void **state)
{
	struct fixture *f = *state;
	redisReply *reply = (redisReply *)1;
	char err[512], k[128];

	key(f, "text", k, sizeof(k));
	assert_int_equal(
	    souk_redis_command(f->r, NULL, err, sizeof(err), "SET %s abc", k),
	    SOUK_REDIS_OK);
	assert_int_equal(souk_redis_command(f->r, &reply, err, sizeof(err), "INCR %s", k),
			 SOUK_REDIS_EREPLY);
	assert_null(reply);
	assert_non_null(strstr(err, "not an integer"));
	/* the connection is still fine */
	assert_int_equal(souk_redis_command(f->r, NULL, err, sizeof(err), "PING"),
			 SOUK_REDIS_OK);
}

static const char incr_script[] = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

static long long
run_incr(struct souk_redis_script *s, const char *k, const char *by)
{
	const char *args[] = {k, by};
	redisReply *reply = NULL;
	char err[512];
	long long v;

	if (souk_redis_evalsha(s, 1, 2, args, NULL, &reply, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
	v = reply->integer;
	freeReplyObject(reply);
	return v;
}

static long long
script_exists(struct souk_redis *r, const char *sha)
{
	redisReply *reply = NULL;
	char err[512];
	long long v;

	if (souk_redis_command(r, &reply, err, sizeof(err), "SCRIPT EXISTS %s", sha))
		fail_msg("%s", err);
	assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
	v = reply->element[0]->integer;
	freeReplyObject(reply);
	return v;
}

static void
test_script_survives_script_flush(void **state)
{
	struct fixture *f = *state;
	struct souk_redis_script *s;
	char err[512], k[128];

	key(f, "counter", k, sizeof(k));
	s = souk_redis_script_new(f->r, incr_script, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(strlen(souk_redis_script_sha(s)), 40);
	assert_int_equal(run_incr(s, k, "5"), 5);

	assert_int_equal(
	    souk_redis_command(f->admin, NULL, err, sizeof(err), "SCRIPT FLUSH"),
	    SOUK_REDIS_OK);
	assert_int_equal(script_exists(f->admin, souk_redis_script_sha(s)), 0);
	assert_int_equal(run_incr(s, k, "5"), 10);
	assert_int_equal(script_exists(f->admin, souk_redis_script_sha(s)), 1);
	souk_redis_script_destroy(s);
}

static void
test_script_error_is_ereply(void **state)
{
	struct fixture *f = *state;
	struct souk_redis_script *s;
	const char *args[] = {"x"};
	redisReply *reply = NULL;
	char err[512];

	s = souk_redis_script_new(f->r, "return redis.error_reply('sold out')", err,
				  sizeof(err));
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(
	    souk_redis_evalsha(s, 0, 1, args, NULL, &reply, err, sizeof(err)),
	    SOUK_REDIS_EREPLY);
	assert_null(reply);
	assert_non_null(strstr(err, "sold out"));
	assert_int_equal(
	    souk_redis_evalsha(s, 2, 1, args, NULL, &reply, err, sizeof(err)),
	    SOUK_REDIS_ERROR);
	assert_non_null(strstr(err, "2 keys among 1 arguments"));
	souk_redis_script_destroy(s);
}

static void
test_bad_script_is_refused(void **state)
{
	struct fixture *f = *state;
	char err[512];

	assert_null(souk_redis_script_new(f->r, "return (", err, sizeof(err)));
	assert_non_null(strstr(err, "redis replied with an error"));
}

/* CLIENT KILL from the second client: the next command reconnects and succeeds. */
static void
test_killed_connection_is_recovered(void **state)
{
	struct fixture *f = *state;
	redisReply *reply = NULL;
	long long before, after;
	char err[512], k[128], id[32];

	key(f, "survivor", k, sizeof(k));
	assert_int_equal(
	    souk_redis_command(f->r, NULL, err, sizeof(err), "SET %s alive", k),
	    SOUK_REDIS_OK);
	before = client_id(f->r);
	snprintf(id, sizeof(id), "%lld", before);
	assert_int_equal(souk_redis_command(f->admin, &reply, err, sizeof(err),
					    "CLIENT KILL ID %s", id),
			 SOUK_REDIS_OK);
	assert_int_equal(reply->integer, 1);
	freeReplyObject(reply);

	assert_int_equal(souk_redis_command(f->r, &reply, err, sizeof(err), "GET %s", k),
			 SOUK_REDIS_OK);
	assert_string_equal(reply->str, "alive");
	freeReplyObject(reply);
	after = client_id(f->r);
	assert_true(after != before);
}

/* The database from the URL is selected again after a reconnection. */
static void
test_reconnection_keeps_the_database(void **state)
{
	struct fixture *f = *state;
	struct souk_redis *r1, *admin1;
	redisReply *reply = NULL;
	char err[512], k[128], u[600], id[32];

	/* db 1 of the same server: the URL without its "/db", if any, then "/1" */
	const char *base = url(), *slash = strrchr(base, '/');
	int len =
	    slash > strstr(base, "//") + 1 ? (int)(slash - base) : (int)strlen(base);

	snprintf(u, sizeof(u), "%.*s/1", len, base);
	r1 = souk_redis_connect(u, TIMEOUT_MS, err, sizeof(err));
	admin1 = souk_redis_connect(u, TIMEOUT_MS, err, sizeof(err));
	if (!r1 || !admin1)
		fail_msg("%s", err);
	key(f, "in-db-1", k, sizeof(k));
	assert_int_equal(souk_redis_command(r1, NULL, err, sizeof(err), "SET %s one", k),
			 SOUK_REDIS_OK);
	snprintf(id, sizeof(id), "%lld", client_id(r1));
	assert_int_equal(
	    souk_redis_command(admin1, NULL, err, sizeof(err), "CLIENT KILL ID %s", id),
	    SOUK_REDIS_OK);
	assert_int_equal(souk_redis_command(r1, &reply, err, sizeof(err), "GET %s", k),
			 SOUK_REDIS_OK);
	assert_string_equal(reply->str, "one");
	freeReplyObject(reply);
	/* and it is not in db 0 */
	assert_int_equal(
	    souk_redis_command(f->r, &reply, err, sizeof(err), "EXISTS %s", k),
	    SOUK_REDIS_OK);
	assert_int_equal(reply->integer, 0);
	freeReplyObject(reply);
	assert_int_equal(souk_redis_command(admin1, NULL, err, sizeof(err), "DEL %s", k),
			 SOUK_REDIS_OK);
	souk_redis_destroy(r1);
	souk_redis_destroy(admin1);
}

static void
test_unreachable_server_fails_by_the_deadline(void **state)
{
	int64_t start = now_ms(), elapsed;
	char err[512];

	(void)state;
	assert_null(souk_redis_connect("redis://127.0.0.1:1/0", 600, err, sizeof(err)));
	elapsed = now_ms() - start;
	assert_true(elapsed >= 600 && elapsed < 3000);
	assert_non_null(
	    strstr(err, "could not connect to redis at 127.0.0.1:1 within 600 ms"));
}

static void
test_bad_url_fails_at_once(void **state)
{
	int64_t start = now_ms();
	char err[512];

	(void)state;
	assert_null(souk_redis_connect("redis://127.0.0.1:port", 5000, err, sizeof(err)));
	assert_true(now_ms() - start < 1000);
	assert_non_null(strstr(err, "port \"port\""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_set_get_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_reply_is_ereply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_script_survives_script_flush, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_script_error_is_ereply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_script_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_killed_connection_is_recovered, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reconnection_keeps_the_database, setup,
					    teardown),
	    cmocka_unit_test(test_unreachable_server_fails_by_the_deadline),
	    cmocka_unit_test(test_bad_url_fails_at_once),
	};

	/* as any program using souk_redis must (see souk_redis.h) */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
