/*
 * fuzz_gw_keys: the gateway's API key file (gw_auth_load) on arbitrary bytes, then
 * gw_auth_client on every key the file holds.
 *
 * gw_auth reads files only, so the input goes to a memfd loaded through
 * /proc/self/fd/N. When the file loads, the target parses it again by the rules of
 * gw_auth.h (a line ends at '\n' and its text at the first '\r' or NUL, tokens are
 * separated by white space, '#' starts a comment) and checks, for each "<key> <client>"
 * line, that "Bearer <key>" names that client (also as "bearer   <key>"), and that the
 * key with one byte more names nobody unless the file holds that key too.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "check.h"
#include "gw_auth.h"

static int file_fd = -1;
static char file_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	file_fd = memfd_create("fuzz_gw_keys", 0);
	if (file_fd < 0) {
		perror("fuzz_gw_keys: could not create the memfd");
		abort();
	}
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	return 0;
}

struct pair {
	const char *key, *client;
};

/* Splits text (NUL-terminated, modified in place) into up to max pairs; comment lines
 * and blank ones are skipped. Returns the number of pairs. */
static size_t
parse(char *text, size_t len, struct pair *pairs, size_t max)
{
	size_t n = 0;

	for (char *line = text; line < text + len && n < max;) {
		char *next = memchr(line, '\n', (size_t)(text + len - line));
		char *tok[3] = {NULL, NULL, NULL};
		size_t ntok = 0;

		if (next)
			*next = '\0';
		line[strcspn(line, "\r")] = '\0';
		for (char *p = line; *p;) {
			while (*p && isspace((unsigned char)*p))
				p++;
			if (!*p)
				break;
			if (ntok < 3)
				tok[ntok++] = p;
			while (*p && !isspace((unsigned char)*p))
				p++;
			if (*p)
				*p++ = '\0';
		}
		if (ntok > 0 && tok[0][0] != '#') {
			FUZZ_CHECK(ntok == 2, "a loaded file has a line of %zu words",
				   ntok);
			pairs[n++] = (struct pair){tok[0], tok[1]};
		}
		line = next ? next + 1 : text + len;
	}
	return n;
}

static const struct pair *
find(const struct pair *pairs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(pairs[i].key, key))
			return &pairs[i];
	return NULL;
}

static void
check_lookups(const struct gw_auth *auth, const struct pair *pairs, size_t n)
{
	char header[300];
	const char *client;

	for (size_t i = 0; i < n; i++) {
		const struct pair *longer;

		snprintf(header, sizeof(header), "Bearer %s", pairs[i].key);
		client = gw_auth_client(auth, header);
		FUZZ_CHECK(client && !strcmp(client, pairs[i].client),
			   "key %zu names \"%s\", not \"%s\"", i,
			   client ? client : "(none)", pairs[i].client);
		snprintf(header, sizeof(header), "bearer   %s", pairs[i].key);
		client = gw_auth_client(auth, header);
		FUZZ_CHECK(client && !strcmp(client, pairs[i].client),
			   "key %zu not found after \"bearer   \"", i);
		snprintf(header, sizeof(header), "Bearer %s!", pairs[i].key);
		longer = find(pairs, n, header + 7);
		client = gw_auth_client(auth, header);
		FUZZ_CHECK(longer || !client, "key %zu with \"!\" appended names \"%s\"",
			   i, client);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pair pairs[512];
	struct gw_auth *auth;
	char err[512] = "", *text;
	size_t n;

	if (ftruncate(file_fd, 0) || pwrite(file_fd, data, size, 0) != (ssize_t)size)
		abort();
	auth = gw_auth_load(file_path, err, sizeof(err));
	if (!auth) {
		FUZZ_CHECK(strstr(err, file_path) != NULL,
			   "the error does not name the file: %s", err);
		return 0;
	}
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	n = parse(text, size, pairs, sizeof(pairs) / sizeof(pairs[0]));
	FUZZ_CHECK(n > 0, "a file without keys loaded");
	check_lookups(auth, pairs, n);
	free(text);
	gw_auth_destroy(auth);
	return 0;
}
