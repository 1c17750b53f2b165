/*
 * lg_run: what one generator run shares across its events: the seed, the simulated
 * start instant, the client id, and the run tag found in every generated id.
 *
 * The tag is 8 hex digits drawn from the seed, so two runs with different seeds never
 * share an order, SKU, user, payment, driver or request (a second run against the
 * same stack starts a fresh sale), while the same seed replays the same ids (the
 * pools then dedup it as a replay).
 */
#ifndef LG_RUN_H
#define LG_RUN_H

#include <stdint.h>

#include "lg_rand.h"
#include "souk_event.h"

struct lg_run {
	uint64_t seed;
	int64_t start_ms;      /* simulated ms since the epoch; events never go earlier */
	const char *client_id; /* borrowed: must outlive the run */
	char tag[9];
};

void lg_run_init(struct lg_run *run, uint64_t seed, int64_t start_ms,
		 const char *client_id);

/*
 * Zeroes *ev and fills its envelope: type, the current version, ts from ts_ms
 * (simulated ms since the epoch), client_id. With an idempotency key the event_id is
 * derived from (client_id, key) the way the gateway derives it, so a retry carries
 * the same id; without one it is a v4 UUID drawn from ids (which may be NULL when a key
 * is given). key_valid is set: the caller fills the body, partition key included. A key
 * longer than the field is cut.
 */
void lg_run_event(const struct lg_run *run, souk_event_t *ev, souk_event_type_t type,
		  int64_t ts_ms, const char *idempotency_key, struct lg_rand *ids);

#endif
