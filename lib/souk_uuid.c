#include "souk_uuid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <uuid/uuid.h>

/* souk's namespace for name-based ids; fixed forever, or retried events change id. */
static const uuid_t souk_uuid_namespace = {0x4f, 0x1d, 0x8a, 0x52, 0x3c, 0x7e,
					   0x4b, 0x90, 0xa1, 0x6d, 0x2e, 0x95,
					   0xc0, 0x37, 0x5b, 0x18};

/*
 * Random bytes come from getrandom(2) a pool at a time per thread: libuuid's
 * uuid_generate_random also reseeds and cranks random(3) on every call, which cost a
 * worker deciding a thousand orders a batch more than the rest of the result. The
 * pool remembers the process it was filled in, so a forked child never reuses its
 * parent's bytes.
 */
#define SOUK_UUID_POOL 512

static _Thread_local struct {
	unsigned char bytes[SOUK_UUID_POOL];
	size_t used;
	pid_t pid;
} souk_uuid_pool = {.used = SOUK_UUID_POOL};

static void
souk_uuid_random_bytes(unsigned char out[16])
{
	pid_t pid = getpid();

	if (souk_uuid_pool.used + 16 > SOUK_UUID_POOL || souk_uuid_pool.pid != pid) {
		size_t got = 0;

		while (got < SOUK_UUID_POOL) {
			ssize_t n = getrandom(souk_uuid_pool.bytes + got,
					      SOUK_UUID_POOL - got, 0);

			if (n > 0)
				got += (size_t)n;
			else if (errno != EINTR)
				break;
		}
		if (got < SOUK_UUID_POOL) { /* no getrandom: libuuid finds a source */
			uuid_generate_random(out);
			return;
		}
		souk_uuid_pool.used = 0;
		souk_uuid_pool.pid = pid;
	}
	memcpy(out, souk_uuid_pool.bytes + souk_uuid_pool.used, 16);
	souk_uuid_pool.used += 16;
}

void
souk_uuid_random(char out[SOUK_UUID_STRLEN + 1])
{
	unsigned char u[16];

	souk_uuid_random_bytes(u);
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	souk_uuid_format(u, out);
}

void
souk_uuid_format(const unsigned char in[16], char out[SOUK_UUID_STRLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[in[i] >> 4];
		out[k++] = hex[in[i] & 15];
	}
	out[k] = '\0';
}

static int
souk_uuid_hex(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20; /* lower case */
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int
souk_uuid_parse(const char *text, unsigned char out[16])
{
	size_t k = 0;

	for (size_t i = 0; i < SOUK_UUID_STRLEN; i += 2) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i] != '-')
				return -1;
			i--; /* the pair starts after the hyphen */
			continue;
		}
		if ((hi = souk_uuid_hex((unsigned char)text[i])) < 0 ||
		    (lo = souk_uuid_hex((unsigned char)text[i + 1])) < 0)
			return -1;
		out[k++] = (unsigned char)(hi << 4 | lo);
	}
	return text[SOUK_UUID_STRLEN] == '\0' ? 0 : -1;
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
