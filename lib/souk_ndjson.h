/*
 * souk_ndjson: splits a buffer of newline-delimited JSON into lines.
 *
 * A line ends at '\n' (a '\r' before it is dropped) or at the end of the buffer.
 * Lines are numbered from 1 in the order they appear, counting blank ones, so a
 * number always points at the line a user sees in their file; blank and
 * whitespace-only lines are skipped (they carry no event). Nothing is copied: each
 * line points into the buffer. Cost: O(bytes), one memchr pass.
 */
#ifndef SOUK_NDJSON_H
#define SOUK_NDJSON_H

#include <stddef.h>

struct souk_ndjson {
	const char *buf;
	size_t len;
	size_t pos;	      /* where the next line starts */
	unsigned long lineno; /* number of the line returned last */
};

void souk_ndjson_init(struct souk_ndjson *it, const char *buf, size_t len);

/* Sets *line and *line_len to the next non-blank line and returns 1, or returns 0 at
 * the end of the buffer. it->lineno is then that line's number. */
int souk_ndjson_next(struct souk_ndjson *it, const char **line, size_t *line_len);

#endif
