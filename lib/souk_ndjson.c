#include "souk_ndjson.h"

#include <string.h>

void
souk_ndjson_init(struct souk_ndjson *it, const char *buf, size_t len)
{
	it->buf = buf;
	it->len = len;
	it->pos = 0;
	it->lineno = 0;
}

static int
souk_ndjson_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int
souk_ndjson_next(struct souk_ndjson *it, const char **line, size_t *line_len)
{
	while (it->pos < it->len) {
		const char *start = it->buf + it->pos;
		size_t rest = it->len - it->pos;
		const char *nl = memchr(start, '\n', rest);
		size_t len = nl ? (size_t)(nl - start) : rest;

		it->pos += nl ? len + 1 : len;
		it->lineno++;
		if (len > 0 && start[len - 1] == '\r')
			len--;
		if (souk_ndjson_blank(start, len))
			continue;
		*line = start;
		*line_len = len;
		return 1;
	}
	return 0;
}
