/*
 * souk_pgarray: builds PostgreSQL array literals ('{"a","b",NULL}') so that a batch can
 * go to the server as one statement with array parameters (SELECT ... FROM
 * unnest($1::text[], $2::bigint[]) ...) instead of one statement per row.
 *
 * Every element is written double-quoted with '"' and '\' escaped, which is valid for
 * any element type; bytea elements are written in hex ("\\x0a1b"). Cost: O(bytes) per
 * element, amortized O(1) growth. Out of memory is sticky: souk_pgarray_text returns
 * NULL once any append failed.
 */
#ifndef SOUK_PGARRAY_H
#define SOUK_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

struct souk_pgarray {
	char *buf;
	size_t len, cap;
	size_t n; /* elements so far */
	int oom;
};

/* Starts an empty array; a zeroed struct is also a valid empty array. */
void souk_pgarray_init(struct souk_pgarray *a);
void souk_pgarray_free(struct souk_pgarray *a);
/* Empties a for reuse, keeping its memory. */
void souk_pgarray_reset(struct souk_pgarray *a);

void souk_pgarray_add_text(struct souk_pgarray *a, const char *s, size_t len);
void souk_pgarray_add_str(struct souk_pgarray *a, const char *s); /* NULL: SQL NULL */
void souk_pgarray_add_int(struct souk_pgarray *a, int64_t v);
void souk_pgarray_add_bytea(struct souk_pgarray *a, const void *p, size_t len);
void souk_pgarray_add_null(struct souk_pgarray *a);

/* The literal, NUL-terminated, owned by a; NULL if an append ran out of memory. */
const char *souk_pgarray_text(struct souk_pgarray *a);

/* Decodes bytea text output ("\x0a1b") into a malloc'd buffer of *len bytes (plus a
 * NUL, not counted). Returns NULL when s is not hex bytea or out of memory. */
char *souk_pgarray_unhex(const char *s, size_t *len);

#endif
