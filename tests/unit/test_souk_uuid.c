#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "souk_uuid.h"

/* 8-4-4-4-12 lower-case hex with the given version nibble and the RFC 4122 variant. */
static void
assert_uuid_shape(const char *s, char version)
{
	assert_int_equal(strlen(s), SOUK_UUID_STRLEN);
	for (int i = 0; i < SOUK_UUID_STRLEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(s[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", s[i]));
	}
	assert_int_equal(s[14], version);
	assert_non_null(strchr("89ab", s[19]));
}

static void
test_random_ids_are_v4_and_distinct(void **state)
{
	char a[SOUK_UUID_STRLEN + 1], b[SOUK_UUID_STRLEN + 1];

	(void)state;
	souk_uuid_random(a);
	souk_uuid_random(b);
	assert_uuid_shape(a, '4');
	assert_uuid_shape(b, '4');
	assert_string_not_equal(a, b);
}

/* Many ids in a row (several pools of random bytes), in a forked child too: all v4,
 * none repeated, and the child does not replay the parent's pool. */
static void
test_random_ids_never_repeat_across_pools_and_fork(void **state)
{
	enum { N = 200 };
	static char ids[2 * N][SOUK_UUID_STRLEN + 1];
	int fds[2];
	pid_t child;

	(void)state;
	souk_uuid_random(ids[0]); /* a pool is now partly used */
	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char id[SOUK_UUID_STRLEN + 1];

		souk_uuid_random(id);
		_exit(write(fds[1], id, sizeof(id)) == (ssize_t)sizeof(id) ? 0 : 1);
	}
	assert_int_equal(read(fds[0], ids[1], sizeof(ids[1])), (ssize_t)sizeof(ids[1]));
	close(fds[0]);
	close(fds[1]);
	waitpid(child, NULL, 0);
	for (int i = 2; i < 2 * N; i++)
		souk_uuid_random(ids[i]);
	for (int i = 0; i < 2 * N; i++) {
		assert_uuid_shape(ids[i], '4');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
}

static void
test_parse_and_format_round_trip(void **state)
{
	static const char *const bad[] = {
	    "", "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1", "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f0",
	    "5f0e8d3c+2b1a-4e9f-8d7c-6b5a4c3d2e1f", "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1g",
	    "5f0e8d3c2b1a4e9f8d7c6b5a4c3d2e1f0000"};
	unsigned char raw[16];
	char text[SOUK_UUID_STRLEN + 1];

	(void)state;
	assert_int_equal(souk_uuid_parse("5F0E8D3C-2b1a-4e9f-8d7c-6b5a4c3d2e1f", raw), 0);
	assert_int_equal(raw[0], 0x5f);
	assert_int_equal(raw[15], 0x1f);
	souk_uuid_format(raw, text);
	assert_string_equal(text, "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(souk_uuid_parse(bad[i], raw), -1);
}

static void
test_derived_ids_are_stable_v5(void **state)
{
	char a[SOUK_UUID_STRLEN + 1], b[SOUK_UUID_STRLEN + 1];

	(void)state;
	souk_uuid_derive("shop-1", "key-42", 0, a);
	souk_uuid_derive("shop-1", "key-42", 0, b);
	assert_uuid_shape(a, '5');
	assert_string_equal(a, b);
	/* Frozen: a change of namespace or join would give retried events new ids. */
	assert_string_equal(a, "b8d49904-a6d0-5fd0-b6ea-fead3ee7f330");
}

static void
test_derived_ids_differ_by_every_input(void **state)
{
	char base[SOUK_UUID_STRLEN + 1], other[SOUK_UUID_STRLEN + 1];

	(void)state;
	souk_uuid_derive("shop-1", "key-42", 0, base);
	souk_uuid_derive("shop-2", "key-42", 0, other);
	assert_string_not_equal(base, other);
	souk_uuid_derive("shop-1", "key-43", 0, other);
	assert_string_not_equal(base, other);
	souk_uuid_derive("shop-1", "key-42", 1, other);
	assert_string_not_equal(base, other);
	/* The join is unambiguous: moving a character between the parts changes the id.
	 */
	souk_uuid_derive("shop-1k", "ey-42", 0, other);
	assert_string_not_equal(base, other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_ids_are_v4_and_distinct),
	    cmocka_unit_test(test_random_ids_never_repeat_across_pools_and_fork),
	    cmocka_unit_test(test_parse_and_format_round_trip),
	    cmocka_unit_test(test_derived_ids_are_stable_v5),
	    cmocka_unit_test(test_derived_ids_differ_by_every_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
