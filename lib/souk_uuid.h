/*
 * souk_uuid: event ids.
 *
 * A fresh event gets a random (version 4) UUID. An event whose client gave an
 * Idempotency-Key gets a name-based (version 5, SHA-1) UUID derived from the client and
 * the key, so a retried request carries the same event_id and the pools can dedup it.
 * Random ones come from getrandom(2), derived ones from util-linux's libuuid. Text form: 36 lower-case characters + NUL.
 */
#ifndef SOUK_UUID_H
#define SOUK_UUID_H

#include <stddef.h>

#define SOUK_UUID_STRLEN 36

/* Writes a random (version 4) UUID into out (SOUK_UUID_STRLEN + 1 bytes). Cost: a
 * getrandom(2) call every 32 ids per thread. */
void souk_uuid_random(char out[SOUK_UUID_STRLEN + 1]);

/* The 16 bytes of a UUID in text form (lower case). */
void souk_uuid_format(const unsigned char in[16], char out[SOUK_UUID_STRLEN + 1]);

/* The 16 bytes of text, a UUID in its 36-character form (either case). Returns 0, or
 * -1 when text is anything else. */
int souk_uuid_parse(const char *text, unsigned char out[16]);

/*
 * Writes the UUID derived from (client_id, idempotency_key, part) into out: the same
 * three inputs always give the same id, different inputs practically never collide.
 * part numbers the events of one request (an NDJSON line number; 0 for a single
 * event). The inputs are joined with a NUL between them, so ("ab", "c") and
 * ("a", "bc") differ. Cost: one SHA-1 over the inputs.
 */
void souk_uuid_derive(const char *client_id, const char *idempotency_key,
		      unsigned long part, char out[SOUK_UUID_STRLEN + 1]);

#endif
