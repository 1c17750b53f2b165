#include "souk_pgarray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
souk_pgarray_init(struct souk_pgarray *a)
{
	memset(a, 0, sizeof(*a));
}

void
souk_pgarray_free(struct souk_pgarray *a)
{
	free(a->buf);
	souk_pgarray_init(a);
}

void
souk_pgarray_reset(struct souk_pgarray *a)
{
	a->len = 0;
	a->n = 0;
	a->oom = 0;
}

/* Makes room for need more bytes plus the closing "}" and NUL. */
static int
souk_pgarray_reserve(struct souk_pgarray *a, size_t need)
{
	size_t cap;
	char *grown;

	if (a->oom)
		return -1;
	if (a->len + need + 2 <= a->cap)
		return 0;
	cap = a->cap ? a->cap : 256;
	while (cap < a->len + need + 2)
		cap *= 2;
	grown = realloc(a->buf, cap);
	if (!grown) {
		a->oom = 1;
		return -1;
	}
	a->buf = grown;
	a->cap = cap;
	return 0;
}

/* The '{' or ',' before the next element. */
static void
souk_pgarray_sep(struct souk_pgarray *a)
{
	a->buf[a->len++] = a->n++ ? ',' : '{';
}

void
souk_pgarray_add_text(struct souk_pgarray *a, const char *s, size_t len)
{
	/* Worst case every byte escaped, plus separator and quotes. */
	if (souk_pgarray_reserve(a, 2 * len + 3))
		return;
	souk_pgarray_sep(a);
	a->buf[a->len++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			a->buf[a->len++] = '\\';
		a->buf[a->len++] = s[i];
	}
	a->buf[a->len++] = '"';
}

void
souk_pgarray_add_str(struct souk_pgarray *a, const char *s)
{
	if (s)
		souk_pgarray_add_text(a, s, strlen(s));
	else
		souk_pgarray_add_null(a);
}

void
souk_pgarray_add_int(struct souk_pgarray *a, int64_t v)
{
	if (souk_pgarray_reserve(a, 24))
		return;
	souk_pgarray_sep(a);
	a->len += (size_t)snprintf(a->buf + a->len, 24, "%" PRId64, v);
}

void
souk_pgarray_add_bytea(struct souk_pgarray *a, const void *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = p;

	/* "\\x" + two hex digits per byte, quoted. */
	if (souk_pgarray_reserve(a, 2 * len + 6))
		return;
	souk_pgarray_sep(a);
	memcpy(a->buf + a->len, "\"\\\\x", 4);
	a->len += 4;
	for (size_t i = 0; i < len; i++) {
		a->buf[a->len++] = hex[b[i] >> 4];
		a->buf[a->len++] = hex[b[i] & 15];
	}
	a->buf[a->len++] = '"';
}

void
souk_pgarray_add_null(struct souk_pgarray *a)
{
	if (souk_pgarray_reserve(a, 5))
		return;
	souk_pgarray_sep(a);
	memcpy(a->buf + a->len, "NULL", 4);
	a->len += 4;
}

const char *
souk_pgarray_text(struct souk_pgarray *a)
{
	if (souk_pgarray_reserve(a, 1))
		return NULL;
	if (a->n == 0)
		a->buf[a->len] = '{';
	a->buf[a->len + (a->n == 0)] = '}';
	a->buf[a->len + (a->n == 0) + 1] = '\0';
	return a->buf;
}

static int
souk_pgarray_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
souk_pgarray_unhex(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *out;

	if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2)
		return NULL;
	out = malloc((n - 2) / 2 + 1);
	if (!out)
		return NULL;
	for (size_t i = 2, j = 0; i < n; i += 2, j++) {
		int hi = souk_pgarray_nibble(s[i]), lo = souk_pgarray_nibble(s[i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[j] = (char)(hi << 4 | lo);
	}
	*len = (n - 2) / 2;
	out[*len] = '\0';
	return out;
}
