/*
 * souk_pgcopy: builds the rows of a COPY ... FROM STDIN (FORMAT binary) in memory, so
 * that a batch reaches a table as one COPY (souk_pg_copy_in) rather than as array
 * parameters the server must parse: a thousand outbox rows are written in about a
 * third of the time of INSERT ... SELECT FROM unnest(...).
 *
 * The buffer holds the format's header, then each row (a field count, then per field
 * its length and bytes in the type's binary form), and souk_pgcopy_finish adds the
 * trailer. Cost: O(bytes) per field, amortized O(1) growth. Out of memory and a bad
 * value are sticky: souk_pgcopy_finish reports the first.
 */
#ifndef SOUK_PGCOPY_H
#define SOUK_PGCOPY_H

#include <stddef.h>
#include <stdint.h>

struct souk_pgcopy {
	char *buf;
	size_t len, cap;
	size_t rows;
	const char *error; /* the first failure, a static string; NULL: none */
};

/* Starts an empty COPY (the header only). */
void souk_pgcopy_init(struct souk_pgcopy *c);
void souk_pgcopy_free(struct souk_pgcopy *c);

/* Starts a row of ncols fields; exactly ncols field calls must follow. */
void souk_pgcopy_row(struct souk_pgcopy *c, int ncols);

void souk_pgcopy_null(struct souk_pgcopy *c);
void souk_pgcopy_int4(struct souk_pgcopy *c, int32_t v);
void souk_pgcopy_int8(struct souk_pgcopy *c, int64_t v);
/* text and bytea: the bytes as they are. */
void souk_pgcopy_bytes(struct souk_pgcopy *c, const void *p, size_t len);
/* text from a C string; NULL: SQL NULL. */
void souk_pgcopy_str(struct souk_pgcopy *c, const char *s);
/* uuid from its text form (36 characters, hyphens where RFC 4122 puts them, either
 * case); NULL or "": SQL NULL. Anything else marks the COPY failed. */
void souk_pgcopy_uuid(struct souk_pgcopy *c, const char *text);
/* jsonb from JSON text (the server checks it). */
void souk_pgcopy_jsonb(struct souk_pgcopy *c, const char *json);

/* Ends the COPY. Returns 0, or -1 with errstr naming the first failure. */
int souk_pgcopy_finish(struct souk_pgcopy *c, char *errstr, size_t errstr_size);

#endif
