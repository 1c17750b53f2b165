#include "gw_auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_AUTH_KEY_MIN 16
#define GW_AUTH_KEY_MAX 256
#define GW_AUTH_CLIENT_MAX 64

struct gw_auth_entry {
	char key[GW_AUTH_KEY_MAX + 1];
	size_t key_len;
	char client[GW_AUTH_CLIENT_MAX + 1];
};

struct gw_auth {
	struct gw_auth_entry *entries;
	size_t n;
};

static int
gw_auth_client_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > GW_AUTH_CLIENT_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._:-", s[i]))
			return 0;
	return 1;
}

static int
gw_auth_key_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < GW_AUTH_KEY_MIN || len > GW_AUTH_KEY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

struct gw_auth *
gw_auth_load(const char *path, char *errstr, size_t errstr_size)
{
	FILE *f = fopen(path, "r");
	struct gw_auth *auth = NULL, *ret = NULL;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;

	if (!f) {
		snprintf(errstr, errstr_size, "could not open key file \"%s\": %s", path,
			 strerror(errno));
		goto out;
	}
	auth = calloc(1, sizeof(*auth));
	if (!auth)
		goto oom;
	while (getline(&line, &cap, f) != -1) {
		char key[GW_AUTH_KEY_MAX + 2], client[GW_AUTH_CLIENT_MAX + 2], extra[2];
		struct gw_auth_entry *grown;
		int n;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		n = sscanf(line, " %257s %65s %1s", key, client, extra);
		if (n <= 0 || key[0] == '#')
			continue;
		if (n != 2) {
			snprintf(errstr, errstr_size,
				 "%s:%u: expected \"<key> <client_id>\"", path, lineno);
			goto out;
		}
		if (!gw_auth_key_valid(key)) {
			snprintf(errstr, errstr_size,
				 "%s:%u: key must be %d to %d printable characters "
				 "without spaces",
				 path, lineno, GW_AUTH_KEY_MIN, GW_AUTH_KEY_MAX);
			goto out;
		}
		if (!gw_auth_client_valid(client)) {
			snprintf(errstr, errstr_size,
				 "%s:%u: client id \"%s\" is not an identifier", path,
				 lineno, client);
			goto out;
		}
		for (size_t i = 0; i < auth->n; i++) {
			if (!strcmp(auth->entries[i].key, key)) {
				snprintf(errstr, errstr_size,
					 "%s:%u: key repeated (first for \"%s\")", path,
					 lineno, auth->entries[i].client);
				goto out;
			}
		}
		grown = realloc(auth->entries, (auth->n + 1) * sizeof(*grown));
		if (!grown)
			goto oom;
		auth->entries = grown;
		strcpy(grown[auth->n].key, key);
		grown[auth->n].key_len = strlen(key);
		strcpy(grown[auth->n].client, client);
		auth->n++;
	}
	if (ferror(f)) {
		snprintf(errstr, errstr_size, "could not read key file \"%s\": %s", path,
			 strerror(errno));
		goto out;
	}
	if (auth->n == 0) {
		snprintf(errstr, errstr_size,
			 "%s: no keys (an empty file would lock everyone out)", path);
		goto out;
	}
	ret = auth;
	auth = NULL; /* owned by the caller */
	goto out;
oom:
	snprintf(errstr, errstr_size, "could not load key file \"%s\": out of memory",
		 path);
out:
	free(line);
	if (f)
		fclose(f);
	gw_auth_destroy(auth);
	return ret;
}

void
gw_auth_destroy(struct gw_auth *auth)
{
	if (!auth)
		return;
	/* Keys are secrets: do not leave them in freed memory. */
	if (auth->entries)
		explicit_bzero(auth->entries, auth->n * sizeof(*auth->entries));
	free(auth->entries);
	free(auth);
}

const char *
gw_auth_client(const struct gw_auth *auth, const char *authorization)
{
	const char *given, *found = NULL;
	size_t len;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7))
		return NULL;
	given = authorization + 7;
	while (*given == ' ')
		given++;
	len = strlen(given);
	if (len < GW_AUTH_KEY_MIN || len > GW_AUTH_KEY_MAX)
		return NULL;
	for (size_t i = 0; i < auth->n; i++) {
		const struct gw_auth_entry *e = &auth->entries[i];
		unsigned char diff = (unsigned char)(e->key_len != len);

		for (size_t j = 0; j < len; j++)
			diff |=
			    (unsigned char)(given[j] ^ e->key[j < e->key_len ? j : 0]);
		if (!diff)
			found = e->client;
	}
	return found;
}
