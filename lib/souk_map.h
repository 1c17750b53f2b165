/* souk_map: a string-keyed hash table of pointers (the payment simulator's indexes,
 * the payments pool's per-batch lookups).
 *
 * Entries are only added, never removed (drop the table to forget them).
 * The key is borrowed, not copied: point it into the value, so it lives as long as the
 * entry. Cost: a get or put is O(1) on average (FNV-1a hash, chains, the bucket array
 * doubles when entries outnumber buckets). Not thread-safe: the owner locks. */
#ifndef SOUK_MAP_H
#define SOUK_MAP_H

#include <stddef.h>

struct souk_map;

/* NULL when out of memory. */
struct souk_map *souk_map_new(void);

/* Frees the table, calling free_value (when not NULL) on every value; NULL is fine. */
void souk_map_destroy(struct souk_map *map, void (*free_value)(void *value));

/* The value stored under key, or NULL. */
void *souk_map_get(const struct souk_map *map, const char *key);

/* Adds key -> value; key must not be in the table yet (the callers look it up first)
 * and is borrowed. Returns 0, or -1 when out of memory (the table is unchanged). */
int souk_map_put(struct souk_map *map, const char *key, void *value);

#endif
