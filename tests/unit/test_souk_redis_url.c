/* souk_redis_url_parse: good URLs give their parts, bad ones an error naming the part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "souk_redis.h"

static void
test_host_only_takes_defaults(void **state)
{
	struct souk_redis_url u;
	char err[256] = "";

	(void)state;
	assert_int_equal(
	    souk_redis_url_parse("redis://cache.local", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "cache.local");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	assert_string_equal(u.user, "");
	assert_string_equal(u.password, "");
}

static void
test_password_port_and_db(void **state)
{
	struct souk_redis_url u;
	char err[256] = "";

	(void)state;
	assert_int_equal(
	    souk_redis_url_parse("redis://:s3cret@10.0.0.7:7000/3", &u, err, sizeof(err)),
	    0);
	assert_string_equal(u.host, "10.0.0.7");
	assert_int_equal(u.port, 7000);
	assert_int_equal(u.db, 3);
	assert_string_equal(u.user, "");
	assert_string_equal(u.password, "s3cret");
}

static void
test_user_and_percent_encoded_password(void **state)
{
	struct souk_redis_url u;
	char err[256] = "";

	(void)state;
	assert_int_equal(souk_redis_url_parse("redis://worker:p%40ss%2Fw@cache:6380/15",
					      &u, err, sizeof(err)),
			 0);
	assert_string_equal(u.user, "worker");
	assert_string_equal(u.password, "p@ss/w");
	assert_string_equal(u.host, "cache");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 15);
}

static void
test_unencoded_at_in_password(void **state)
{
	struct souk_redis_url u;
	char err[256] = "";

	(void)state;
	assert_int_equal(souk_redis_url_parse("redis://:a@b@host", &u, err, sizeof(err)),
			 0);
	assert_string_equal(u.password, "a@b");
	assert_string_equal(u.host, "host");
}

static void
test_ipv6_host(void **state)
{
	struct souk_redis_url u;
	char err[256] = "";

	(void)state;
	assert_int_equal(
	    souk_redis_url_parse("redis://[::1]:16379/0", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 16379);
	assert_int_equal(souk_redis_url_parse("redis://[fe80::2]", &u, err, sizeof(err)),
			 0);
	assert_string_equal(u.host, "fe80::2");
	assert_int_equal(u.port, 6379);
}

static void
test_trailing_slash_means_db_0(void **state)
{
	struct souk_redis_url u;
	char err[256] = "";

	(void)state;
	assert_int_equal(souk_redis_url_parse("redis://h:1/", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "h");
	assert_int_equal(u.port, 1);
	assert_int_equal(u.db, 0);
}

/* Each bad URL fails, names what is wrong, never echoes the password, and clears out. */
static void
test_bad_urls(void **state)
{
	static const struct {
		const char *url;
		const char *expect; /* a substring of the error */
	} cases[] = {
	    {"http://localhost", "must start with \"redis://\""},
	    {"rediss://localhost", "must start with \"redis://\""},
	    {"", "must start with \"redis://\""},
	    {"redis://", "missing host"},
	    {"redis://:6379", "missing host"},
	    {"redis://:pw@/1", "missing host"},
	    {"redis://h:0", "port \"0\" is not a number from 1 to 65535"},
	    {"redis://h:65536", "port \"65536\""},
	    {"redis://h:", "port \"\""},
	    {"redis://h:63a9", "port \"63a9\""},
	    {"redis://h:-1", "port \"-1\""},
	    {"redis://h/x", "database \"x\" is not a number"},
	    {"redis://h/-1", "database \"-1\""},
	    {"redis://h/0?timeout=1", "database \"0?timeout=1\""},
	    {"redis://h/99999999999", "database \"99999999999\""},
	    {"redis://secretpw@h", "the part before '@' must be [user]:password"},
	    {"redis://:bad%4@h", "bad percent-encoding in the password"},
	    {"redis://:bad%zz@h", "bad percent-encoding in the password"},
	    {"redis://:nul%00@h", "bad percent-encoding in the password"},
	    {"redis://u%g1:pw@h", "bad percent-encoding in the user"},
	    {"redis://[::1:6379", "'[' in the host has no ']'"},
	    {"redis://[::1]x:1", "unexpected \"x:1\" after the host"},
	};
	struct souk_redis_url u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";

		memset(&u, 'x', sizeof(u));
		assert_int_equal(souk_redis_url_parse(cases[i].url, &u, err, sizeof(err)),
				 -1);
		if (!strstr(err, cases[i].expect))
			fail_msg("url \"%s\": error \"%s\" lacks \"%s\"", cases[i].url,
				 err, cases[i].expect);
		assert_non_null(strstr(err, "could not parse redis url: "));
		assert_null(strstr(err, "secretpw"));
		assert_string_equal(u.host, "");
		assert_string_equal(u.password, "");
	}
}

static void
test_too_long_parts(void **state)
{
	char url[1024], err[256] = "";
	struct souk_redis_url u;

	(void)state;
	snprintf(url, sizeof(url), "redis://%0300d", 1);
	assert_int_equal(souk_redis_url_parse(url, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the host is longer than 255 bytes"));

	snprintf(url, sizeof(url), "redis://:%0300d@h", 1);
	assert_int_equal(souk_redis_url_parse(url, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the password is longer than 255 bytes"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_only_takes_defaults),
	    cmocka_unit_test(test_password_port_and_db),
	    cmocka_unit_test(test_user_and_percent_encoded_password),
	    cmocka_unit_test(test_unencoded_at_in_password),
	    cmocka_unit_test(test_ipv6_host),
	    cmocka_unit_test(test_trailing_slash_means_db_0),
	    cmocka_unit_test(test_bad_urls),
	    cmocka_unit_test(test_too_long_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
