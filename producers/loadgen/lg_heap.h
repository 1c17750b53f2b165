/*
 * lg_heap: a min-heap of timed items, the agenda of a discrete-event simulation.
 *
 * Items are fixed-size records that begin with a struct lg_heap_key. They come out by
 * time, and items of the same millisecond in the order they were pushed (the heap
 * numbers them), so a simulation pops in one deterministic order. Push and pop are
 * O(log n); memory is one array of items, grown by doubling.
 */
#ifndef LG_HEAP_H
#define LG_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct lg_heap_key {
	int64_t t_ms; /* set by the caller */
	uint64_t seq; /* set by lg_heap_push */
};

struct lg_heap;

/* item_size: the size of the caller's record, which starts with a struct lg_heap_key.
 * Returns NULL with errstr filled when out of memory. */
struct lg_heap *lg_heap_new(size_t item_size, char *errstr, size_t errstr_size);
void lg_heap_destroy(struct lg_heap *h);

/* Copies item in. Returns 0, or -1 when out of memory (the heap is unchanged). */
int lg_heap_push(struct lg_heap *h, const void *item);

/* The earliest item, owned by the heap until the next push or pop; NULL when empty. */
const void *lg_heap_peek(const struct lg_heap *h);

/* Copies the earliest item into item and removes it. Returns 1, or 0 when empty. */
int lg_heap_pop(struct lg_heap *h, void *item);

#endif
