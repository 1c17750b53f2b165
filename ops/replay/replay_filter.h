/*
 * replay_filter: which messages of the selected range a replay sends.
 *
 *   key K            the message key is K (given several times: any of them)
 *   type T           the event's "type" is T, a souk event type (any of them)
 *   field NAME=VALUE the event's top-level member NAME equals VALUE (all of them): a
 *                    string equal to VALUE, a number equal to VALUE read as a number,
 *                    true, false or null spelled so; objects and arrays never match
 *
 * A message passes when it passes every kind of filter given. The value is parsed
 * (souk_json, on the stack for an event-sized message) only when a type or field
 * filter is set, and at most once per message; a value that is not a JSON object
 * passes no such filter. Cost: O(keys) per message for keys, O(bytes) for the parse.
 *
 * A filter is built before the run and then only read, from one thread.
 */
#ifndef REPLAY_FILTER_H
#define REPLAY_FILTER_H

#include <stdbool.h>
#include <stddef.h>

struct replay_filter;

/* An empty filter (every message passes), or NULL when out of memory. */
struct replay_filter *replay_filter_new(void);
void replay_filter_destroy(struct replay_filter *f);

/* Each returns 0, or -1 with errstr (out of memory, an unknown event type, a field
 * without "="). The strings are copied. */
int replay_filter_add_key(struct replay_filter *f, const char *key, char *errstr,
			  size_t errstr_size);
int replay_filter_add_type(struct replay_filter *f, const char *type, char *errstr,
			   size_t errstr_size);
int replay_filter_add_field(struct replay_filter *f, const char *name_value, char *errstr,
			    size_t errstr_size);

/* Whether any filter is set. */
bool replay_filter_active(const struct replay_filter *f);

/* Whether the message passes; key and value may be NULL (no key, a tombstone). */
bool replay_filter_match(const struct replay_filter *f, const void *key, size_t key_len,
			 const void *value, size_t value_len);

#endif
