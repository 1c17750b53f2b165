#include "souk_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct souk_map_entry {
	const char *key;
	void *value;
	uint64_t hash;
	struct souk_map_entry *next;
};

struct souk_map {
	struct souk_map_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t size;
};

static uint64_t
souk_map_hash(const char *key)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

struct souk_map *
souk_map_new(void)
{
	struct souk_map *map = calloc(1, sizeof(*map));

	if (!map)
		return NULL;
	map->nbuckets = 64;
	map->buckets = calloc(map->nbuckets, sizeof(*map->buckets));
	if (!map->buckets) {
		free(map);
		return NULL;
	}
	return map;
}

void
souk_map_destroy(struct souk_map *map, void (*free_value)(void *value))
{
	if (!map)
		return;
	for (size_t i = 0; i < map->nbuckets; i++) {
		struct souk_map_entry *e = map->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
		}
	}
	free(map->buckets);
	free(map);
}

void *
souk_map_get(const struct souk_map *map, const char *key)
{
	uint64_t h = souk_map_hash(key);
	struct souk_map_entry *e = map->buckets[h & (map->nbuckets - 1)];

	for (; e; e = e->next)
		if (e->hash == h && !strcmp(e->key, key))
			return e->value;
	return NULL;
}

/* Doubles the bucket array; on failure the table keeps its size (only slower). */
static void
souk_map_grow(struct souk_map *map)
{
	size_t n = map->nbuckets * 2;
	struct souk_map_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < map->nbuckets; i++) {
		struct souk_map_entry *e = map->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(map->buckets);
	map->buckets = b;
	map->nbuckets = n;
}

int
souk_map_put(struct souk_map *map, const char *key, void *value)
{
	struct souk_map_entry *e = malloc(sizeof(*e));
	size_t i;

	if (!e)
		return -1;
	if (map->size >= map->nbuckets)
		souk_map_grow(map);
	e->key = key;
	e->value = value;
	e->hash = souk_map_hash(key);
	i = e->hash & (map->nbuckets - 1);
	e->next = map->buckets[i];
	map->buckets[i] = e;
	map->size++;
	return 0;
}
