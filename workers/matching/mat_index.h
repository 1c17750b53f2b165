/*
 * mat_index: one matching process's index of drivers, fed by every partition of the
 * `locations` topic (each process reads them all into its own index, rebuilt at start
 * by replaying the recent window). Pure: no server, no clock -- updates carry the
 * event's time and queries take the caller's now_ms.
 *
 * What it holds, per driver (an identifier of 1..SOUK_EVENT_IDENT_MAX characters):
 * the last position, speed, status and event time, and the H3 cell at the index's
 * resolution that holds the position. Available and busy drivers are listed in their
 * cell; an offline driver leaves its cell but stays known (its last time orders the
 * updates that follow). Drivers are never forgotten: a rebuild from the recent window
 * drops the ones that stopped reporting.
 *
 * Ordering. One driver's updates share a partition (keyed by driver_id) but a rebuild
 * may replay, so the newest wins: an update older than the driver's last one (ts_ms
 * less than it) changes nothing; an equal ts_ms applies (a replay of the same event
 * is harmless). Either way the update's offset counts as applied: per partition the
 * index keeps the next offset to read (Kafka's convention: last applied + 1), which a
 * match records so that a checker can rebuild the same index and recompute it.
 *
 * Offering. A driver may be offered (mat_index_offerable) when available, not claimed
 * and not stale: now_ms - ts_ms <= stale_ms (an update from the future counts as
 * fresh). Claims are the overlay of PostgreSQL's: the batch claims a driver inside its
 * fenced transaction (the database is what keeps one driver from two riders) and
 * marks the claim here, so that this process does not offer the driver again before
 * the claim is released. A claim may name a driver the index has not seen yet.
 *
 * Traffic. Each cell keeps the mean speed of its recent readings from busy drivers:
 * a busy driver is on a trip, whose speed is of the kind the ETA model is fitted on
 * (distance over time, stops included), while an available driver is often parked,
 * which mat_eta.h says a hint must leave out. The mean is a running mean of the cell's
 * readings up to MAT_INDEX_HINT_WINDOW of them, then an exponentially weighted one
 * (each new reading weighs 1 / MAT_INDEX_HINT_WINDOW); it restarts when the cell had
 * no reading for stale_ms, and it is offered as a hint (mat_index_hint) only while
 * its newest reading is at most stale_ms old. mat_index_hint_max bounds every cell's
 * hint from above, so a search can bound the ETA of drivers it has not looked at.
 *
 * Cost. apply is O(1) on average: one H3 latLngToCell (about half a microsecond) and
 * two hash look-ups, driver id -> driver and cell -> cell. Each cell keeps its
 * drivers' records in an array of its own, so that a search reads a cell in one sweep
 * of memory instead of chasing a pointer per driver; a driver changing cells moves its
 * record, and the last record of the old cell fills the hole (O(1), the order of a
 * cell's drivers is arbitrary). Memory: a driver takes a record of
 * sizeof(mat_index_driver_t) + 8 (128 bytes on x86-64), 16 bytes of entry and 8 to 16
 * of hash table (kept at most half full): about 160 bytes. Arrays grow by doubling and
 * a cell's keeps the room of its busiest moment, so count on twice that (test_mat_index
 * measures about 320 bytes a driver for 100,000 drivers moving at random). A cell
 * takes 48 bytes plus 8 to 16 of hash table. mat_index_stats counts it all.
 *
 * One thread: the index is not locked. Pointers it returns are valid until the next
 * call that changes it (apply, claim).
 */
#ifndef MAT_INDEX_H
#define MAT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mat_eta.h"
#include "mat_geo.h"
#include "souk_event.h"

#define MAT_INDEX_RES_DEFAULT 9
#define MAT_INDEX_STALE_MS_DEFAULT 30000
/* Partitions 0..MAT_INDEX_PARTITIONS_MAX - 1 of the locations topic. */
#define MAT_INDEX_PARTITIONS_MAX 4096
/* The readings a cell's speed mean is over at most, and so the most samples a hint
 * reports. */
#define MAT_INDEX_HINT_WINDOW 32
/* ts_ms of a driver known only by a claim. */
#define MAT_INDEX_NEVER INT64_MIN

typedef struct mat_index mat_index_t;

typedef enum mat_index_status {
	MAT_INDEX_AVAILABLE,
	MAT_INDEX_BUSY,
	MAT_INDEX_OFFLINE,
} mat_index_status_t;

/* One location event; driver_id is borrowed for the call. */
typedef struct mat_index_update {
	const char *driver_id;	  /* an identifier (souk_event_identifier_valid) */
	struct mat_geo_point pos; /* in range (mat_geo.h), even when offline */
	double speed_mps;	  /* 0..MAT_ETA_MAX_MPS, as the location schema says */
	mat_index_status_t status;
	int64_t ts_ms;	   /* the event's time, ms since the epoch, >= 0 */
	int32_t partition; /* 0..MAT_INDEX_PARTITIONS_MAX - 1 */
	int64_t offset;	   /* 0..INT64_MAX - 1 */
} mat_index_update_t;

/* A driver as the index knows it (read-only for callers). */
typedef struct mat_index_driver {
	char id[SOUK_EVENT_IDENT_SIZE];
	struct mat_geo_point pos; /* the last position; 0, 0 until one is known */
	double speed_mps;
	int64_t ts_ms; /* the last update's time; MAT_INDEX_NEVER if none yet */
	H3Index cell;  /* the cell listing it; 0 when offline or never seen */
	mat_index_status_t status;
	bool claimed;
} mat_index_driver_t;

/* What mat_index_apply did. */
typedef enum mat_index_outcome {
	MAT_INDEX_ERROR = -1, /* a bad update or out of memory: nothing changed */
	MAT_INDEX_APPLIED = 0,
	MAT_INDEX_OLDER = 1, /* older than the driver's last update: only its offset
				counts */
} mat_index_outcome_t;

typedef struct mat_index_stats {
	size_t drivers;	 /* known, offline ones and claim-only ones included */
	size_t cells;	 /* cells that ever held a driver */
	size_t claimed;	 /* drivers claimed now */
	int64_t applied; /* updates applied */
	int64_t older;	 /* updates ignored as older */
	size_t bytes;	 /* memory held, arrays and tables at their capacity */
} mat_index_stats_t;

/*
 * A new, empty index at resolution res (0..MAT_GEO_RES_MAX) whose drivers go stale
 * after stale_ms (>= 0) without an update. Returns it (the caller's, for
 * mat_index_destroy), or NULL with errstr naming the bad argument or out of memory.
 */
mat_index_t *mat_index_new(int res, int64_t stale_ms, char *errstr, size_t errstr_size);

/* Frees idx; NULL is fine. */
void mat_index_destroy(mat_index_t *idx);

/* The resolution of the index's cells. */
int mat_index_res(const mat_index_t *idx);

/*
 * Applies one location event (see Ordering above). Returns MAT_INDEX_APPLIED,
 * MAT_INDEX_OLDER, or MAT_INDEX_ERROR with errstr naming the first bad field
 * (`driver_id: "" is not an identifier`, `lat 91 out of range [-90, 90]`) or out of
 * memory; then nothing changed but, when out of memory, that the driver may be known
 * with no update. O(1) on average.
 */
mat_index_outcome_t mat_index_apply(mat_index_t *idx, const mat_index_update_t *u,
				    char *errstr, size_t errstr_size);

/* The driver known as id, or NULL. O(1) on average. */
const mat_index_driver_t *mat_index_get(const mat_index_t *idx, const char *id);

/*
 * The next offset to read of partitions 0..*n - 1, *n being 1 + the highest partition
 * an update came from (0 before any): 0 for a partition with nothing applied. Valid
 * until the next apply.
 */
const int64_t *mat_index_offsets(const mat_index_t *idx, size_t *n);

/*
 * Marks driver id claimed, adding it to the index (never seen, MAT_INDEX_NEVER) when
 * unknown; claiming a claimed driver changes nothing. Returns 0, or -1 with errstr
 * when id is not an identifier or out of memory.
 */
int mat_index_claim(mat_index_t *idx, const char *id, char *errstr, size_t errstr_size);

/* Clears id's claim; an unknown or unclaimed driver is fine. */
void mat_index_release(mat_index_t *idx, const char *id);

bool mat_index_claimed(const mat_index_t *idx, const char *id);

/* Whether d may be offered at now_ms: available, not claimed, not stale. */
bool mat_index_offerable(const mat_index_t *idx, const mat_index_driver_t *d,
			 int64_t now_ms);

/*
 * Calls cb(driver, opaque) for every driver listed in cell (available and busy ones,
 * stale or not; none for a cell at another resolution), in no particular order. cb
 * must not change the index. Returns the number of calls. O(drivers in the cell).
 */
size_t mat_index_cell_drivers(const mat_index_t *idx, H3Index cell,
			      void (*cb)(const mat_index_driver_t *d, void *opaque),
			      void *opaque);

/* The supply for surge: the drivers in cell (at the index's resolution) that are
 * offerable at now_ms. O(drivers in the cell). */
int64_t mat_index_supply(const mat_index_t *idx, H3Index cell, int64_t now_ms);

/*
 * Fills *hint with cell's traffic (see Traffic above) and returns true, or returns
 * false (*hint untouched) when the cell has no reading at most stale_ms old at now_ms.
 * A mean of 0 (a standstill) is reported as MAT_ETA_MIN_MPS, the slowest speed the
 * model takes. O(1) on average.
 */
bool mat_index_hint(const mat_index_t *idx, H3Index cell, int64_t now_ms,
		    mat_eta_hint_t *hint);

/* A speed no cell's hint exceeds (0 when no cell has one): within 1 m/s above the
 * fastest cell's mean. O(1). */
double mat_index_hint_max(const mat_index_t *idx);

void mat_index_stats(const mat_index_t *idx, mat_index_stats_t *out);

#endif
