/* psp_map: a string-keyed hash table of pointers, for the simulator's indexes
 * (provider_ref -> payment, payment_id -> operations, key -> idempotency entry).
 *
 * Entries are only added, never removed: the simulator forgets nothing while it runs.
 * The key is borrowed, not copied: point it into the value, so it lives as long as the
 * entry. Cost: a get or put is O(1) on average (FNV-1a hash, chains, the bucket array
 * doubles when entries outnumber buckets). Not thread-safe: the owner locks. */
#ifndef PSP_MAP_H
#define PSP_MAP_H

#include <stddef.h>

struct psp_map;

/* NULL when out of memory. */
struct psp_map *psp_map_new(void);

/* Frees the table, calling free_value (when not NULL) on every value; NULL is fine. */
void psp_map_destroy(struct psp_map *map, void (*free_value)(void *value));

/* The value stored under key, or NULL. */
void *psp_map_get(const struct psp_map *map, const char *key);

/* Adds key -> value; key must not be in the table yet (the callers look it up first)
 * and is borrowed. Returns 0, or -1 when out of memory (the table is unchanged). */
int psp_map_put(struct psp_map *map, const char *key, void *value);

#endif
