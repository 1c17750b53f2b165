/*
 * inv_skuset: a set of SKUs (identifiers of at most SOUK_EVENT_IDENT_MAX bytes), for
 * the inventory pool's sold-out flags and the SKUs due for reconciliation.
 *
 * Open addressing with linear probing over a power-of-two table kept at most half
 * full: add, has and remove are O(1) on average; clear is O(capacity). One thread.
 */
#ifndef INV_SKUSET_H
#define INV_SKUSET_H

#include <stdbool.h>
#include <stddef.h>

struct inv_skuset;

/* NULL when out of memory. */
struct inv_skuset *inv_skuset_new(void);
void inv_skuset_destroy(struct inv_skuset *s);

/* Adds sku (copied). Returns 0, or -1 when out of memory (the set is unchanged). */
int inv_skuset_add(struct inv_skuset *s, const char *sku);
bool inv_skuset_has(const struct inv_skuset *s, const char *sku);
void inv_skuset_remove(struct inv_skuset *s, const char *sku);
void inv_skuset_clear(struct inv_skuset *s);
size_t inv_skuset_count(const struct inv_skuset *s);

/* The i-th member for 0 <= i < capacity, or NULL for an empty slot: iterate with
 * for (i = 0; i < inv_skuset_capacity(s); i++). Valid until the set changes. */
size_t inv_skuset_capacity(const struct inv_skuset *s);
const char *inv_skuset_slot(const struct inv_skuset *s, size_t i);

#endif
