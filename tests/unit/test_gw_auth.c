/*
 * Unit tests for producers/gateway/gw_auth: the key file ("<key> <client_id>" lines)
 * and the lookup of an Authorization header. A bad file is refused with an error that
 * names the file and the line; a lookup answers the key's client or NULL (401).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_auth.h"

#define KEY_SHOP "sk_test_0123456789abcdef"
#define KEY_FLEET "fk_test_fedcba9876543210"

/* A key file in a temporary directory, removed by the teardown. */
struct keyfile {
	char path[64];
};

static int
keyfile_setup(void **state)
{
	struct keyfile *kf = calloc(1, sizeof(*kf));
	int fd;

	if (!kf)
		return -1;
	snprintf(kf->path, sizeof(kf->path), "/tmp/souk-gw-keys-XXXXXX");
	fd = mkstemp(kf->path);
	if (fd < 0) {
		free(kf);
		return -1;
	}
	close(fd);
	*state = kf;
	return 0;
}

static int
keyfile_teardown(void **state)
{
	struct keyfile *kf = *state;

	unlink(kf->path);
	free(kf);
	return 0;
}

static void
keyfile_write(const struct keyfile *kf, const char *text)
{
	FILE *f = fopen(kf->path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text, which must be refused with an error naming the file, the line (0: no
 * line) and containing want. */
static void
assert_load_fails(const struct keyfile *kf, const char *text, unsigned line,
		  const char *want)
{
	char errstr[512], where[128];

	keyfile_write(kf, text);
	errstr[0] = '\0';
	assert_null(gw_auth_load(kf->path, errstr, sizeof(errstr)));
	if (line)
		snprintf(where, sizeof(where), "%s:%u: ", kf->path, line);
	else
		snprintf(where, sizeof(where), "%s", kf->path);
	if (!strstr(errstr, where) || !strstr(errstr, want))
		fail_msg("error \"%s\" does not name \"%s\" with \"%s\"", errstr, where,
			 want);
}

static void
test_load_skips_comments_and_blank_lines(void **state)
{
	struct keyfile *kf = *state;
	struct gw_auth *auth;
	char errstr[512];

	keyfile_write(kf, "# souk-gateway keys\n"
			  "\n"
			  "   \n" KEY_SHOP " shop-1\n"
			  "  # indented comment\n"
			  "\t" KEY_FLEET "\tfleet.eu:2 \r\n");
	auth = gw_auth_load(kf->path, errstr, sizeof(errstr));
	if (!auth)
		fail_msg("load failed: %s", errstr);
	assert_string_equal(gw_auth_client(auth, "Bearer " KEY_SHOP), "shop-1");
	assert_string_equal(gw_auth_client(auth, "Bearer " KEY_FLEET), "fleet.eu:2");
	gw_auth_destroy(auth);
}

static void
test_lookup(void **state)
{
	struct keyfile *kf = *state;
	struct gw_auth *auth;
	char errstr[512];

	keyfile_write(kf, KEY_SHOP " shop-1\n" KEY_FLEET " fleet-2\n");
	auth = gw_auth_load(kf->path, errstr, sizeof(errstr));
	if (!auth)
		fail_msg("load failed: %s", errstr);
	/* The scheme is case-insensitive (RFC 9110). */
	assert_string_equal(gw_auth_client(auth, "bearer " KEY_FLEET), "fleet-2");
	assert_string_equal(gw_auth_client(auth, "BEARER " KEY_SHOP), "shop-1");
	/* Wrong key of the same length, a prefix of a key, a key with more after it. */
	assert_null(gw_auth_client(auth, "Bearer sk_test_0123456789abcdeX"));
	assert_null(gw_auth_client(auth, "Bearer sk_test_0123456789abcde"));
	assert_null(gw_auth_client(auth, "Bearer " KEY_SHOP "0"));
	/* No header, another scheme, no scheme, no key. */
	assert_null(gw_auth_client(auth, NULL));
	assert_null(gw_auth_client(auth, "Basic " KEY_SHOP));
	assert_null(gw_auth_client(auth, KEY_SHOP));
	assert_null(gw_auth_client(auth, "Bearer "));
	assert_null(gw_auth_client(auth, ""));
	gw_auth_destroy(auth);
}

static void
test_longest_key(void **state)
{
	struct keyfile *kf = *state;
	struct gw_auth *auth;
	char text[300], header[300], errstr[512];

	memset(text, 'k', 256);
	strcpy(text + 256, " long-1\n");
	keyfile_write(kf, text);
	auth = gw_auth_load(kf->path, errstr, sizeof(errstr));
	if (!auth)
		fail_msg("load failed: %s", errstr);
	snprintf(header, sizeof(header), "Bearer %.256s", text);
	assert_string_equal(gw_auth_client(auth, header), "long-1");
	gw_auth_destroy(auth);

	/* 257 characters is one too many. */
	memset(text, 'k', 257);
	strcpy(text + 257, " long-1\n");
	assert_load_fails(kf, text, 1, "key must be 16 to 256");
}

static void
test_load_errors_name_file_and_line(void **state)
{
	struct keyfile *kf = *state;

	assert_load_fails(kf, "# keys\n" KEY_SHOP " -shop\n", 2, "client id \"-shop\"");
	assert_load_fails(kf, KEY_SHOP " shop-1\n\nshort-key-15chr shop-2\n", 3,
			  "key must be 16 to 256");
	assert_load_fails(
	    kf, KEY_SHOP " shop-1\n" KEY_FLEET " fleet-2\n" KEY_SHOP " shop-3\n", 3,
	    "key repeated (first for \"shop-1\")");
	assert_load_fails(kf, KEY_SHOP "\n", 1, "expected \"<key> <client_id>\"");
	assert_load_fails(kf, KEY_SHOP " shop 1\n", 1, "expected \"<key> <client_id>\"");
	/* A client id is an identifier: at most 64 characters. */
	assert_load_fails(
	    kf,
	    KEY_SHOP " c123456789012345678901234567890123456789012345678901234567890123"
		     "4\n",
	    1, "is not an identifier");
}

static void
test_load_refuses_a_file_without_keys(void **state)
{
	struct keyfile *kf = *state;

	char errstr[512], want[128];

	assert_load_fails(kf, "# nobody yet\n\n", 0, "no keys");
	unlink(kf->path);
	assert_null(gw_auth_load(kf->path, errstr, sizeof(errstr)));
	snprintf(want, sizeof(want), "could not open key file \"%s\"", kf->path);
	assert_non_null(strstr(errstr, want));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_load_skips_comments_and_blank_lines,
					    keyfile_setup, keyfile_teardown),
	    cmocka_unit_test_setup_teardown(test_lookup, keyfile_setup, keyfile_teardown),
	    cmocka_unit_test_setup_teardown(test_longest_key, keyfile_setup,
					    keyfile_teardown),
	    cmocka_unit_test_setup_teardown(test_load_errors_name_file_and_line,
					    keyfile_setup, keyfile_teardown),
	    cmocka_unit_test_setup_teardown(test_load_refuses_a_file_without_keys,
					    keyfile_setup, keyfile_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
