/*
 * souk_pgcopy: see souk_pgcopy.h. The format is PostgreSQL's "binary format" of COPY:
 * integers in network byte order, a field length of -1 for NULL.
 */
#include "souk_pgcopy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_uuid.h"

static const char souk_pgcopy_header[] = "PGCOPY\n\377\r\n"; /* and a NUL: 11 bytes */

static char *
souk_pgcopy_reserve(struct souk_pgcopy *c, size_t n)
{
	if (c->error)
		return NULL;
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		char *grown;

		while (cap < c->len + n)
			cap *= 2;
		if (!(grown = realloc(c->buf, cap))) {
			c->error = "out of memory";
			return NULL;
		}
		c->buf = grown;
		c->cap = cap;
	}
	c->len += n;
	return c->buf + c->len - n;
}

/* Writes the n low bytes of v, most significant first. */
static void
souk_pgcopy_be(struct souk_pgcopy *c, uint64_t v, size_t n)
{
	char *p = souk_pgcopy_reserve(c, n);

	for (size_t i = 0; p && i < n; i++)
		p[i] = (char)(v >> (8 * (n - 1 - i)));
}

void
souk_pgcopy_init(struct souk_pgcopy *c)
{
	char *p;

	memset(c, 0, sizeof(*c));
	if ((p = souk_pgcopy_reserve(c, sizeof(souk_pgcopy_header))))
		memcpy(p, souk_pgcopy_header, sizeof(souk_pgcopy_header));
	souk_pgcopy_be(c, 0, 4); /* flags: no OIDs */
	souk_pgcopy_be(c, 0, 4); /* no header extension */
}

void
souk_pgcopy_free(struct souk_pgcopy *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

void
souk_pgcopy_row(struct souk_pgcopy *c, int ncols)
{
	souk_pgcopy_be(c, (uint64_t)ncols, 2);
	c->rows++;
}

void
souk_pgcopy_null(struct souk_pgcopy *c)
{
	souk_pgcopy_be(c, UINT32_MAX, 4); /* -1 */
}

void
souk_pgcopy_int4(struct souk_pgcopy *c, int32_t v)
{
	souk_pgcopy_be(c, 4, 4);
	souk_pgcopy_be(c, (uint32_t)v, 4);
}

void
souk_pgcopy_int8(struct souk_pgcopy *c, int64_t v)
{
	souk_pgcopy_be(c, 8, 4);
	souk_pgcopy_be(c, (uint64_t)v, 8);
}

void
souk_pgcopy_bytes(struct souk_pgcopy *c, const void *p, size_t len)
{
	char *dst;

	if (len > INT32_MAX) {
		c->error = "a field longer than 2 GiB";
		return;
	}
	souk_pgcopy_be(c, len, 4);
	if ((dst = souk_pgcopy_reserve(c, len)) && len)
		memcpy(dst, p, len);
}

void
souk_pgcopy_str(struct souk_pgcopy *c, const char *s)
{
	if (s)
		souk_pgcopy_bytes(c, s, strlen(s));
	else
		souk_pgcopy_null(c);
}

void
souk_pgcopy_uuid(struct souk_pgcopy *c, const char *text)
{
	unsigned char raw[16];

	if (!text || !*text)
		souk_pgcopy_null(c);
	else if (souk_uuid_parse(text, raw) == 0)
		souk_pgcopy_bytes(c, raw, sizeof(raw));
	else if (!c->error)
		c->error = "a uuid field that is not a UUID";
}

void
souk_pgcopy_jsonb(struct souk_pgcopy *c, const char *json)
{
	size_t len = strlen(json);
	char *p;

	if (len >= INT32_MAX) {
		c->error = "a field longer than 2 GiB";
		return;
	}
	souk_pgcopy_be(c, len + 1, 4);
	if ((p = souk_pgcopy_reserve(c, len + 1))) {
		p[0] = 1; /* jsonb's binary input: version 1, then the text */
		memcpy(p + 1, json, len);
	}
}

int
souk_pgcopy_finish(struct souk_pgcopy *c, char *errstr, size_t errstr_size)
{
	souk_pgcopy_be(c, UINT16_MAX, 2); /* trailer: a field count of -1 */
	if (c->error) {
		snprintf(errstr, errstr_size, "could not build a COPY: %s", c->error);
		return -1;
	}
	return 0;
}
