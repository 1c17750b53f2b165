/*
 * mat_index: see mat_index.h.
 */
#include "mat_index.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "No cell": the pool of a driver listed in no cell. */
#define NONE UINT32_MAX
/* The histogram of cell means has one bucket per m/s: bucket b holds means in
 * [b, b + 1), the last one MAT_ETA_MAX_MPS itself. */
#define HINT_BUCKETS ((int)MAT_ETA_MAX_MPS + 1)

/* A driver's record, kept in the pool of the cell that lists it, so that a search
 * reads a cell's drivers in one sweep of memory. */
struct mat_index_record {
	mat_index_driver_t d;
	uint32_t entry; /* its number in idx->entries */
};

/* The records of one cell's drivers (or of the drivers in no cell), in no order: a
 * record leaving fills its hole with the last one, so that leaving is O(1). */
struct mat_index_pool {
	struct mat_index_record *records;
	uint32_t n, cap;
};

/* Where driver number i's record is: records[slot] of its pool. Entries do not move
 * (records do), so the id table points at them. */
struct mat_index_entry {
	uint64_t hash; /* of the id */
	uint32_t pool; /* a number in idx->cells, or NONE for idx->offline */
	uint32_t slot;
};

/* A cell that listed a driver once. Cells are never dropped: a city has a bounded
 * number of them. */
struct mat_index_cell {
	H3Index cell;
	struct mat_index_pool pool; /* available and busy drivers */
	/* Traffic: the mean over speed_samples (0..MAT_INDEX_HINT_WINDOW) busy
	 * readings, the newest at speed_ts_ms. */
	int32_t speed_samples;
	double speed_mean;
	int64_t speed_ts_ms;
};

/* Open addressing with linear probing: a slot holds 1 + a number in the array the
 * table indexes, 0 when empty. Kept at most half full; nothing is ever removed. */
struct mat_index_table {
	uint32_t *slots;
	size_t mask; /* slots - 1, slots a power of two */
};

/*
 * Invariants: entries[i] and the record at its pool and slot name each other (the
 * record's entry is i); a driver is in the pool of cells[p] iff its d.cell is
 * cells[p].cell and its status is available or busy, else in *offline with d.cell 0;
 * by_id holds every entry, by_cell every cell; hint_hist[b] counts the cells with
 * speed_samples > 0 whose mean is in bucket b, and no bucket above hint_top is
 * counted.
 */
struct mat_index {
	int res;
	int64_t stale_ms;
	struct mat_index_entry *entries;
	uint32_t n_entries, cap_entries;
	struct mat_index_table by_id;
	struct mat_index_cell *cells;
	uint32_t n_cells, cap_cells;
	struct mat_index_table by_cell;
	struct mat_index_pool *offline;
	size_t pool_bytes; /* the capacity of every pool */
	int64_t *offsets;  /* next offset to read, per partition */
	size_t n_offsets;
	int64_t hint_hist[HINT_BUCKETS];
	int hint_top;
	size_t claimed;
	int64_t applied, older;
};

/* ---- hashing and growing ----------------------------------------------------------- */

/* splitmix64's finaliser: every input bit moves the low bits the tables use. */
static uint64_t
mat_index_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* FNV-1a over s, mixed. */
static uint64_t
mat_index_hash_id(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return mat_index_mix(h);
}

static uint64_t
mat_index_entry_hash(const mat_index_t *idx, uint32_t i)
{
	return idx->entries[i].hash;
}

static uint64_t
mat_index_cell_hash(const mat_index_t *idx, uint32_t i)
{
	return mat_index_mix(idx->cells[i].cell);
}

/*
 * Makes room in t for n + 1 members, n being the members it holds now (numbers
 * 0..n-1, each hashed by hash_of): doubles the slots when n + 1 would fill more than
 * half, rebuilding from the array. Returns 0, or -1 when out of memory (t unchanged).
 */
static int
mat_index_table_reserve(const mat_index_t *idx, struct mat_index_table *t, uint32_t n,
			uint64_t (*hash_of)(const mat_index_t *, uint32_t))
{
	size_t size = t->mask + 1, i;
	uint32_t *slots;

	if (2 * ((size_t)n + 1) <= size)
		return 0;
	slots = calloc(2 * size, sizeof(*slots));
	if (!slots)
		return -1;
	for (uint32_t j = 0; j < n; j++) {
		for (i = hash_of(idx, j) & (2 * size - 1); slots[i];
		     i = (i + 1) & (2 * size - 1))
			;
		slots[i] = j + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = 2 * size - 1;
	return 0;
}

/* Grows *array (of *cap elements of size bytes; 4 at first, then doubling) to hold
 * at least n + 1. Returns 0, or -1 when out of memory or past NONE / 2 elements (the
 * array unchanged). */
static int
mat_index_array_reserve(void **array, uint32_t *cap, uint32_t n, size_t size)
{
	uint32_t new_cap = *cap ? 2 * *cap : 4;
	void *p;

	if (n < *cap)
		return 0;
	if (*cap >= NONE / 2)
		return -1;
	p = realloc(*array, (size_t)new_cap * size);
	if (!p)
		return -1;
	*array = p;
	*cap = new_cap;
	return 0;
}

/* ---- pools ------------------------------------------------------------------------- */

/* Pool p: cells[p]'s, or the offline pool for NONE. */
static struct mat_index_pool *
mat_index_pool(const mat_index_t *idx, uint32_t p)
{
	return p == NONE ? idx->offline : &idx->cells[p].pool;
}

/* Room for one more record in pool. Returns 0, or -1 when out of memory (unchanged). */
static int
mat_index_pool_reserve(mat_index_t *idx, struct mat_index_pool *pool)
{
	uint32_t cap = pool->cap;

	if (mat_index_array_reserve((void **)&pool->records, &pool->cap, pool->n,
				    sizeof(*pool->records)))
		return -1;
	idx->pool_bytes += (pool->cap - cap) * sizeof(*pool->records);
	return 0;
}

static struct mat_index_record *
mat_index_record(const mat_index_t *idx, uint32_t i)
{
	const struct mat_index_entry *e = &idx->entries[i];

	return &mat_index_pool(idx, e->pool)->records[e->slot];
}

/*
 * Moves driver i's record to pool `to` (a cell number, or NONE), another than its
 * own and with room for it (mat_index_pool_reserve), setting d.cell. O(1): the last
 * record of the old pool fills the hole.
 */
static void
mat_index_move(mat_index_t *idx, uint32_t i, uint32_t to)
{
	struct mat_index_entry *e = &idx->entries[i];
	struct mat_index_pool *from = mat_index_pool(idx, e->pool),
			      *dst = mat_index_pool(idx, to);
	uint32_t hole = e->slot;

	dst->records[dst->n] = from->records[hole];
	dst->records[dst->n].d.cell = to == NONE ? 0 : idx->cells[to].cell;
	from->n--;
	if (hole != from->n) {
		from->records[hole] = from->records[from->n];
		idx->entries[from->records[hole].entry].slot = hole;
	}
	e->pool = to;
	e->slot = dst->n++;
}

/* ---- drivers and cells ------------------------------------------------------------- */

/* The number of the driver id (hashed h), or NONE; *slot = where it is or would go. */
static uint32_t
mat_index_find_driver(const mat_index_t *idx, const char *id, uint64_t h, size_t *slot)
{
	size_t i;

	for (i = h & idx->by_id.mask; idx->by_id.slots[i];
	     i = (i + 1) & idx->by_id.mask) {
		uint32_t j = idx->by_id.slots[i] - 1;

		if (idx->entries[j].hash == h &&
		    strcmp(mat_index_record(idx, j)->d.id, id) == 0)
			break;
	}
	*slot = i;
	return idx->by_id.slots[i] ? idx->by_id.slots[i] - 1 : NONE;
}

/* The number of driver id (an identifier), added as never seen (offline, in no cell)
 * when unknown; NONE when out of memory. */
static uint32_t
mat_index_driver_add(mat_index_t *idx, const char *id)
{
	uint64_t h = mat_index_hash_id(id);
	struct mat_index_record *r;
	size_t slot;
	uint32_t i = mat_index_find_driver(idx, id, h, &slot);

	if (i != NONE)
		return i;
	if (mat_index_array_reserve((void **)&idx->entries, &idx->cap_entries,
				    idx->n_entries, sizeof(*idx->entries)) ||
	    mat_index_table_reserve(idx, &idx->by_id, idx->n_entries,
				    mat_index_entry_hash) ||
	    mat_index_pool_reserve(idx, idx->offline))
		return NONE;
	/* The table may have been rebuilt: find the free slot again. */
	mat_index_find_driver(idx, id, h, &slot);
	i = idx->n_entries++;
	idx->by_id.slots[slot] = i + 1;
	idx->entries[i] = (struct mat_index_entry){h, NONE, idx->offline->n};
	r = &idx->offline->records[idx->offline->n++];
	memset(r, 0, sizeof(*r));
	strcpy(r->d.id, id); /* an identifier fits */
	r->d.ts_ms = MAT_INDEX_NEVER;
	r->d.status = MAT_INDEX_OFFLINE;
	r->entry = i;
	return i;
}

/* Driver id's record, or NULL. */
static struct mat_index_record *
mat_index_lookup(const mat_index_t *idx, const char *id)
{
	size_t slot;
	uint32_t i = mat_index_find_driver(idx, id, mat_index_hash_id(id), &slot);

	return i == NONE ? NULL : mat_index_record(idx, i);
}

/* The number of cell, or NONE; *slot = where it is or would go. */
static uint32_t
mat_index_find_cell(const mat_index_t *idx, H3Index cell, size_t *slot)
{
	size_t i;

	for (i = mat_index_mix(cell) & idx->by_cell.mask; idx->by_cell.slots[i];
	     i = (i + 1) & idx->by_cell.mask)
		if (idx->cells[idx->by_cell.slots[i] - 1].cell == cell)
			break;
	*slot = i;
	return idx->by_cell.slots[i] ? idx->by_cell.slots[i] - 1 : NONE;
}

static const struct mat_index_cell *
mat_index_cell_get(const mat_index_t *idx, H3Index cell)
{
	size_t slot;
	uint32_t i = mat_index_find_cell(idx, cell, &slot);

	return i == NONE ? NULL : &idx->cells[i];
}

/* The number of cell, added empty when new; NONE when out of memory. */
static uint32_t
mat_index_cell_add(mat_index_t *idx, H3Index cell)
{
	size_t slot;
	uint32_t i = mat_index_find_cell(idx, cell, &slot);

	if (i != NONE)
		return i;
	if (mat_index_array_reserve((void **)&idx->cells, &idx->cap_cells, idx->n_cells,
				    sizeof(*idx->cells)) ||
	    mat_index_table_reserve(idx, &idx->by_cell, idx->n_cells,
				    mat_index_cell_hash))
		return NONE;
	mat_index_find_cell(idx, cell, &slot);
	i = idx->n_cells++;
	idx->by_cell.slots[slot] = i + 1;
	idx->cells[i] = (struct mat_index_cell){.cell = cell};
	return i;
}

/* ---- traffic ----------------------------------------------------------------------- */

static int
mat_index_hint_bucket(double mean)
{
	return (int)mean; /* mean is within 0..MAT_ETA_MAX_MPS */
}

/* Counts a cell's mean in the histogram (delta 1) or takes it out (delta -1). */
static void
mat_index_hint_count(mat_index_t *idx, double mean, int delta)
{
	int b = mat_index_hint_bucket(mean);

	idx->hint_hist[b] += delta;
	if (b > idx->hint_top)
		idx->hint_top = b;
	/* at most HINT_BUCKETS steps down, usually none */
	while (idx->hint_top > 0 && idx->hint_hist[idx->hint_top] == 0)
		idx->hint_top--;
}

/* Adds a busy driver's reading of speed (0..MAT_ETA_MAX_MPS) at ts_ms to cell ci. */
static void
mat_index_hint_add(mat_index_t *idx, uint32_t ci, double speed, int64_t ts_ms)
{
	struct mat_index_cell *c = &idx->cells[ci];

	if (c->speed_samples > 0) {
		mat_index_hint_count(idx, c->speed_mean, -1);
		if (ts_ms - c->speed_ts_ms > idx->stale_ms)
			c->speed_samples = 0; /* the old readings say nothing now */
	}
	if (c->speed_samples < MAT_INDEX_HINT_WINDOW)
		c->speed_samples++;
	if (c->speed_samples == 1) {
		c->speed_mean = speed;
		c->speed_ts_ms = ts_ms;
	} else {
		c->speed_mean += (speed - c->speed_mean) / c->speed_samples;
		/* rounding must not leave the range the histogram covers */
		c->speed_mean = fmin(fmax(c->speed_mean, 0), MAT_ETA_MAX_MPS);
		if (ts_ms > c->speed_ts_ms)
			c->speed_ts_ms = ts_ms;
	}
	mat_index_hint_count(idx, c->speed_mean, 1);
}

/* ---- the public functions ---------------------------------------------------------- */

mat_index_t *
mat_index_new(int res, int64_t stale_ms, char *errstr, size_t errstr_size)
{
	/* The hash tables start small and double. */
	enum { START = 128 };
	mat_index_t *idx = NULL, *ret = NULL;

	if (res < 0 || res > MAT_GEO_RES_MAX) {
		snprintf(errstr, errstr_size, "res: must be from 0 to %d, got %d",
			 MAT_GEO_RES_MAX, res);
		goto out;
	}
	if (stale_ms < 0) {
		snprintf(errstr, errstr_size, "stale_ms: must be 0 or more, got %" PRId64,
			 stale_ms);
		goto out;
	}
	idx = calloc(1, sizeof(*idx));
	if (idx) {
		idx->by_id.slots = calloc(START, sizeof(uint32_t));
		idx->by_cell.slots = calloc(START, sizeof(uint32_t));
		idx->offline = calloc(1, sizeof(*idx->offline));
	}
	if (!idx || !idx->by_id.slots || !idx->by_cell.slots || !idx->offline) {
		snprintf(errstr, errstr_size,
			 "could not create driver index: out of memory");
		goto out;
	}
	idx->res = res;
	idx->stale_ms = stale_ms;
	idx->by_id.mask = idx->by_cell.mask = START - 1;
	ret = idx;
	idx = NULL; /* the caller's now */
out:
	mat_index_destroy(idx);
	return ret;
}

void
mat_index_destroy(mat_index_t *idx)
{
	if (!idx)
		return;
	for (uint32_t i = 0; i < idx->n_cells; i++)
		free(idx->cells[i].pool.records);
	if (idx->offline)
		free(idx->offline->records);
	free(idx->offline);
	free(idx->entries);
	free(idx->cells);
	free(idx->by_id.slots);
	free(idx->by_cell.slots);
	free(idx->offsets);
	free(idx);
}

int
mat_index_res(const mat_index_t *idx)
{
	return idx->res;
}

/* Returns 0 when every field of u is in range, or -1 with errstr naming the first
 * that is not; *cell = the cell of u->pos. */
static int
mat_index_update_check(const mat_index_t *idx, const mat_index_update_t *u, H3Index *cell,
		       char *errstr, size_t errstr_size)
{
	if (!u->driver_id || !souk_event_identifier_valid(u->driver_id)) {
		snprintf(errstr, errstr_size, "driver_id: \"%.80s\" is not an identifier",
			 u->driver_id ? u->driver_id : "");
		return -1;
	}
	if (mat_geo_cell(u->pos, idx->res, cell, errstr, errstr_size))
		return -1;
	if (!(u->speed_mps >= 0 && u->speed_mps <= MAT_ETA_MAX_MPS)) {
		snprintf(errstr, errstr_size, "speed_mps: must be from 0 to %g, got %g",
			 MAT_ETA_MAX_MPS, u->speed_mps);
		return -1;
	}
	if (u->status != MAT_INDEX_AVAILABLE && u->status != MAT_INDEX_BUSY &&
	    u->status != MAT_INDEX_OFFLINE) {
		snprintf(errstr, errstr_size, "status: unknown value %d", (int)u->status);
		return -1;
	}
	if (u->ts_ms < 0) {
		snprintf(errstr, errstr_size, "ts_ms: must be 0 or more, got %" PRId64,
			 u->ts_ms);
		return -1;
	}
	if (u->partition < 0 || u->partition >= MAT_INDEX_PARTITIONS_MAX) {
		snprintf(errstr, errstr_size,
			 "partition: must be from 0 to %d, got %" PRId32,
			 MAT_INDEX_PARTITIONS_MAX - 1, u->partition);
		return -1;
	}
	/* below INT64_MAX, so that the next offset, offset + 1, is one too */
	if (u->offset < 0 || u->offset == INT64_MAX) {
		snprintf(errstr, errstr_size,
			 "offset: must be from 0 to %" PRId64 ", got %" PRId64,
			 INT64_MAX - 1, u->offset);
		return -1;
	}
	return 0;
}

/* Makes room for partition p (0..MAT_INDEX_PARTITIONS_MAX - 1) in idx->offsets, new
 * partitions at 0. Returns 0, or -1 when out of memory (nothing changed). */
static int
mat_index_partition_reserve(mat_index_t *idx, int32_t p)
{
	size_t n = (size_t)p + 1;
	int64_t *offsets;

	if (n <= idx->n_offsets)
		return 0;
	offsets = realloc(idx->offsets, n * sizeof(*offsets));
	if (!offsets)
		return -1;
	memset(offsets + idx->n_offsets, 0, (n - idx->n_offsets) * sizeof(*offsets));
	idx->offsets = offsets;
	idx->n_offsets = n;
	return 0;
}

/* Records u's offset as applied: a replay of older offsets does not move it back. */
static void
mat_index_offset_done(mat_index_t *idx, const mat_index_update_t *u)
{
	if (u->offset + 1 > idx->offsets[u->partition])
		idx->offsets[u->partition] = u->offset + 1;
}

/* Says that the update of driver_id could not be applied for want of memory. */
static mat_index_outcome_t
mat_index_oom(const char *driver_id, char *errstr, size_t errstr_size)
{
	snprintf(errstr, errstr_size,
		 "could not apply the update of driver %s: out of memory", driver_id);
	return MAT_INDEX_ERROR;
}

mat_index_outcome_t
mat_index_apply(mat_index_t *idx, const mat_index_update_t *u, char *errstr,
		size_t errstr_size)
{
	struct mat_index_record *r;
	H3Index cell;
	uint32_t i, to = NONE;

	if (mat_index_update_check(idx, u, &cell, errstr, errstr_size))
		return MAT_INDEX_ERROR;
	/* Everything that allocates comes first, so that a failure changes nothing
	 * but, at worst, adds the driver as never seen or an empty cell. */
	if (mat_index_partition_reserve(idx, u->partition))
		return mat_index_oom(u->driver_id, errstr, errstr_size);
	i = mat_index_driver_add(idx, u->driver_id);
	if (i == NONE)
		return mat_index_oom(u->driver_id, errstr, errstr_size);
	if (u->ts_ms < mat_index_record(idx, i)->d.ts_ms) {
		mat_index_offset_done(idx, u);
		idx->older++;
		return MAT_INDEX_OLDER;
	}
	if (u->status != MAT_INDEX_OFFLINE) {
		to = mat_index_cell_add(idx, cell);
		if (to == NONE)
			return mat_index_oom(u->driver_id, errstr, errstr_size);
	}
	if (to != idx->entries[i].pool) {
		if (mat_index_pool_reserve(idx, mat_index_pool(idx, to)))
			return mat_index_oom(u->driver_id, errstr, errstr_size);
		mat_index_move(idx, i, to);
	}

	r = mat_index_record(idx, i);
	r->d.pos = u->pos;
	r->d.speed_mps = u->speed_mps;
	r->d.ts_ms = u->ts_ms;
	r->d.status = u->status;
	if (u->status == MAT_INDEX_BUSY)
		mat_index_hint_add(idx, to, u->speed_mps, u->ts_ms);
	mat_index_offset_done(idx, u);
	idx->applied++;
	return MAT_INDEX_APPLIED;
}

const mat_index_driver_t *
mat_index_get(const mat_index_t *idx, const char *id)
{
	const struct mat_index_record *r = mat_index_lookup(idx, id);

	return r ? &r->d : NULL;
}

const int64_t *
mat_index_offsets(const mat_index_t *idx, size_t *n)
{
	*n = idx->n_offsets;
	return idx->offsets;
}

int
mat_index_claim(mat_index_t *idx, const char *id, char *errstr, size_t errstr_size)
{
	struct mat_index_record *r;
	uint32_t i;

	if (!souk_event_identifier_valid(id)) {
		snprintf(errstr, errstr_size, "driver_id: \"%.80s\" is not an identifier",
			 id);
		return -1;
	}
	i = mat_index_driver_add(idx, id);
	if (i == NONE) {
		snprintf(errstr, errstr_size, "could not claim driver %s: out of memory",
			 id);
		return -1;
	}
	r = mat_index_record(idx, i);
	if (!r->d.claimed) {
		r->d.claimed = true;
		idx->claimed++;
	}
	return 0;
}

void
mat_index_release(mat_index_t *idx, const char *id)
{
	struct mat_index_record *r = mat_index_lookup(idx, id);

	if (r && r->d.claimed) {
		r->d.claimed = false;
		idx->claimed--;
	}
}

bool
mat_index_claimed(const mat_index_t *idx, const char *id)
{
	const struct mat_index_record *r = mat_index_lookup(idx, id);

	return r && r->d.claimed;
}

bool
mat_index_offerable(const mat_index_t *idx, const mat_index_driver_t *d, int64_t now_ms)
{
	/* ts_ms >= now_ms - stale_ms, written so that it cannot overflow */
	return d->status == MAT_INDEX_AVAILABLE && !d->claimed &&
	       (d->ts_ms >= now_ms || now_ms - d->ts_ms <= idx->stale_ms);
}

size_t
mat_index_cell_drivers(const mat_index_t *idx, H3Index cell,
		       void (*cb)(const mat_index_driver_t *d, void *opaque),
		       void *opaque)
{
	const struct mat_index_cell *c = mat_index_cell_get(idx, cell);
	uint32_t n = c ? c->pool.n : 0;

	for (uint32_t j = 0; j < n; j++)
		cb(&c->pool.records[j].d, opaque);
	return n;
}

int64_t
mat_index_supply(const mat_index_t *idx, H3Index cell, int64_t now_ms)
{
	const struct mat_index_cell *c = mat_index_cell_get(idx, cell);
	uint32_t n = c ? c->pool.n : 0;
	int64_t supply = 0;

	for (uint32_t j = 0; j < n; j++)
		supply += mat_index_offerable(idx, &c->pool.records[j].d, now_ms);
	return supply;
}

bool
mat_index_hint(const mat_index_t *idx, H3Index cell, int64_t now_ms, mat_eta_hint_t *hint)
{
	const struct mat_index_cell *c = mat_index_cell_get(idx, cell);

	if (!c || c->speed_samples == 0 ||
	    (c->speed_ts_ms < now_ms && now_ms - c->speed_ts_ms > idx->stale_ms))
		return false;
	hint->speed_mps = fmax(c->speed_mean, MAT_ETA_MIN_MPS);
	hint->samples = c->speed_samples;
	return true;
}

double
mat_index_hint_max(const mat_index_t *idx)
{
	if (idx->hint_hist[idx->hint_top] == 0)
		return 0;
	return fmin(idx->hint_top + 1, MAT_ETA_MAX_MPS);
}

void
mat_index_stats(const mat_index_t *idx, mat_index_stats_t *out)
{
	out->drivers = idx->n_entries;
	out->cells = idx->n_cells;
	out->claimed = idx->claimed;
	out->applied = idx->applied;
	out->older = idx->older;
	out->bytes = sizeof(*idx) + sizeof(*idx->offline) + idx->pool_bytes +
		     (size_t)idx->cap_entries * sizeof(*idx->entries) +
		     (size_t)idx->cap_cells * sizeof(*idx->cells) +
		     (idx->by_id.mask + 1 + idx->by_cell.mask + 1) * sizeof(uint32_t) +
		     idx->n_offsets * sizeof(*idx->offsets);
}
