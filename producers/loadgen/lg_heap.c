#include "lg_heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lg_heap {
	size_t item_size;
	size_t len, cap;
	uint64_t next_seq;
	unsigned char *items; /* len records in heap order, then one spare for swaps */
};

static struct lg_heap_key *
lg_heap_at(const struct lg_heap *h, size_t i)
{
	return (struct lg_heap_key *)(h->items + i * h->item_size);
}

static int
lg_heap_less(const struct lg_heap_key *a, const struct lg_heap_key *b)
{
	return a->t_ms < b->t_ms || (a->t_ms == b->t_ms && a->seq < b->seq);
}

/* Swaps items i and j through the spare slot at index cap. */
static void
lg_heap_swap(struct lg_heap *h, size_t i, size_t j)
{
	void *spare = lg_heap_at(h, h->cap);

	memcpy(spare, lg_heap_at(h, i), h->item_size);
	memcpy(lg_heap_at(h, i), lg_heap_at(h, j), h->item_size);
	memcpy(lg_heap_at(h, j), spare, h->item_size);
}

struct lg_heap *
lg_heap_new(size_t item_size, char *errstr, size_t errstr_size)
{
	struct lg_heap *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->items = malloc(65 * item_size)) == NULL) {
		snprintf(errstr, errstr_size, "could not allocate the event agenda");
		free(h);
		return NULL;
	}
	h->item_size = item_size;
	h->cap = 64;
	return h;
}

void
lg_heap_destroy(struct lg_heap *h)
{
	if (h == NULL)
		return;
	free(h->items);
	free(h);
}

int
lg_heap_push(struct lg_heap *h, const void *item)
{
	size_t i;

	if (h->len == h->cap) {
		unsigned char *items = realloc(h->items, (2 * h->cap + 1) * h->item_size);

		if (items == NULL)
			return -1;
		h->items = items;
		h->cap *= 2;
	}
	i = h->len++;
	memcpy(lg_heap_at(h, i), item, h->item_size);
	lg_heap_at(h, i)->seq = h->next_seq++;
	while (i > 0 && lg_heap_less(lg_heap_at(h, i), lg_heap_at(h, (i - 1) / 2))) {
		lg_heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

const void *
lg_heap_peek(const struct lg_heap *h)
{
	return h->len > 0 ? lg_heap_at(h, 0) : NULL;
}

int
lg_heap_pop(struct lg_heap *h, void *item)
{
	size_t i = 0;

	if (h->len == 0)
		return 0;
	memcpy(item, lg_heap_at(h, 0), h->item_size);
	if (--h->len == 0)
		return 1;
	memcpy(lg_heap_at(h, 0), lg_heap_at(h, h->len), h->item_size);
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < h->len && lg_heap_less(lg_heap_at(h, l), lg_heap_at(h, min)))
			min = l;
		if (r < h->len && lg_heap_less(lg_heap_at(h, r), lg_heap_at(h, min)))
			min = r;
		if (min == i)
			break;
		lg_heap_swap(h, i, min);
		i = min;
	}
	return 1;
}
