#include "souk_uuid.h"

#include <stdio.h>
#include <string.h>

#include <uuid/uuid.h>

/* souk's namespace for name-based ids; fixed forever, or retried events change id. */
static const uuid_t souk_uuid_namespace = {0x4f, 0x1d, 0x8a, 0x52, 0x3c, 0x7e,
					   0x4b, 0x90, 0xa1, 0x6d, 0x2e, 0x95,
					   0xc0, 0x37, 0x5b, 0x18};

void
souk_uuid_random(char out[SOUK_UUID_STRLEN + 1])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

void
souk_uuid_derive(const char *client_id, const char *idempotency_key, unsigned long part,
		 char out[SOUK_UUID_STRLEN + 1])
{
	char name[1024];
	size_t clen = strnlen(client_id, 256), klen = strnlen(idempotency_key, 512);
	size_t len = 0;
	uuid_t u;

	/* client \0 key \0 part: unambiguous since neither string holds a NUL. */
	memcpy(name, client_id, clen);
	len += clen;
	name[len++] = '\0';
	memcpy(name + len, idempotency_key, klen);
	len += klen;
	name[len++] = '\0';
	len += (size_t)snprintf(name + len, sizeof(name) - len, "%lu", part);

	uuid_generate_sha1(u, souk_uuid_namespace, name, len);
	uuid_unparse_lower(u, out);
}
