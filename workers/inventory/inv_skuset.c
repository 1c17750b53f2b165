/*
 * inv_skuset: see inv_skuset.h. Removal shifts the following cluster back (no
 * tombstones), so a probe always stops at the first empty slot.
 */
#include "inv_skuset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INV_SKUSET_MIN_CAP 16

struct inv_skuset {
	char **slots; /* NULL: empty; else a malloc'd SKU */
	size_t cap;   /* a power of two */
	size_t n;
};

/* FNV-1a, 64 bits. */
static size_t
inv_skuset_hash(const char *sku)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (const unsigned char *p = (const unsigned char *)sku; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	return (size_t)h;
}

/* The slot holding sku, or the empty slot where it would go. */
static size_t
inv_skuset_find(char *const *slots, size_t cap, const char *sku)
{
	size_t i = inv_skuset_hash(sku) & (cap - 1);

	while (slots[i] && strcmp(slots[i], sku) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

struct inv_skuset *
inv_skuset_new(void)
{
	struct inv_skuset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->slots = calloc(INV_SKUSET_MIN_CAP, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	s->cap = INV_SKUSET_MIN_CAP;
	return s;
}

void
inv_skuset_destroy(struct inv_skuset *s)
{
	if (!s)
		return;
	inv_skuset_clear(s);
	free(s->slots);
	free(s);
}

/* Doubles the table. Returns 0, or -1 when out of memory (nothing changed). */
static int
inv_skuset_grow(struct inv_skuset *s)
{
	size_t cap = s->cap * 2;
	char **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			slots[inv_skuset_find(slots, cap, s->slots[i])] = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

int
inv_skuset_add(struct inv_skuset *s, const char *sku)
{
	size_t i;
	char *copy;

	if (inv_skuset_has(s, sku))
		return 0;
	if (2 * (s->n + 1) > s->cap && inv_skuset_grow(s))
		return -1;
	copy = strdup(sku);
	if (!copy)
		return -1;
	i = inv_skuset_find(s->slots, s->cap, sku);
	s->slots[i] = copy;
	s->n++;
	return 0;
}

bool
inv_skuset_has(const struct inv_skuset *s, const char *sku)
{
	return s->slots[inv_skuset_find(s->slots, s->cap, sku)] != NULL;
}

void
inv_skuset_remove(struct inv_skuset *s, const char *sku)
{
	size_t mask = s->cap - 1, i = inv_skuset_find(s->slots, s->cap, sku), j;

	if (!s->slots[i])
		return;
	free(s->slots[i]);
	s->slots[i] = NULL;
	s->n--;
	/* Moves back every later member of the cluster that may not stay past the hole.
	 */
	for (j = (i + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
		size_t home = inv_skuset_hash(s->slots[j]) & mask;

		/* j may stay when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->slots[i] = s->slots[j];
		s->slots[j] = NULL;
		i = j;
	}
}

void
inv_skuset_clear(struct inv_skuset *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		free(s->slots[i]);
		s->slots[i] = NULL;
	}
	s->n = 0;
}

size_t
inv_skuset_count(const struct inv_skuset *s)
{
	return s->n;
}

size_t
inv_skuset_capacity(const struct inv_skuset *s)
{
	return s->cap;
}

const char *
inv_skuset_slot(const struct inv_skuset *s, size_t i)
{
	return s->slots[i];
}
