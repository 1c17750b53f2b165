/*
 * mat_pool: the matching pool (souk-worker matching). Consumes `ride-requests` and
 * `ride-events` in group souk-matching (both keyed by request_id with the same
 * partition count, so with the range assignor one request's whole life is applied by
 * one consumer), reads every `locations` partition into the process's driver index
 * (mat_feed.h), and answers on `ride-matches` and `surge`.
 *
 * A request: its demand is counted (ride_demand), the best-ETA offerable driver
 * within matching.k_max rings is found (mat_match.h) and claimed in PostgreSQL
 * (driver_claims, inside the batch's fenced transaction; a driver another ride holds
 * is skipped and the search goes on), and the ride is written `offered` with the ETA,
 * the fare quote at the cell's surge multiplier, the ETA model's id and the index's
 * locations offsets; its ride_match goes out. No driver: `no_driver`, final.
 *
 * Ride events move the ride (mat_ride.h), each update conditional on the version
 * read. A decline, or an offer that expired (the runtime timer, on the partitions this
 * thread owns), passes the driver and offers the next; a ride offered
 * matching.max_offers times without an accept ends `no_driver`. Completion frees the
 * driver and writes the trip into `trips`; a cancel frees the driver. Repeats change
 * nothing; illegal events go to ride-events.dlq naming why.
 *
 * Surge: per surge cell (H3 at matching.surge_res), demand is the requests of the last
 * matching.surge_window (ride_demand, shared by every process) and supply the
 * offerable drivers of the index in the cell; the thread that owns ride-requests
 * partition fnv1a(cell) mod N moves the cell's multiplier toward its target
 * (mat_surge.h) every matching.surge_interval, stores it (surge_cells) and publishes
 * it to the compacted `surge` topic, keyed by cell, from its fenced timer.
 */
#ifndef MAT_POOL_H
#define MAT_POOL_H

#include "souk_pool.h"

extern const struct souk_config_def mat_pool_config[];
extern const struct souk_pool mat_pool;

#endif
