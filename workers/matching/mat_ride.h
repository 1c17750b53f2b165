/*
 * mat_ride: a ride's life as a pure transition table (no server): what a ride event
 * does to a ride in a given state.
 *
 *   offered   --accept (the offered driver)--> accepted --start--> started
 *   started   --complete--> completed
 *   offered   --decline (the offered driver)--> the next driver's offer (or no_driver)
 *   offered, accepted --cancel--> cancelled
 *
 * An event that repeats one already applied (the same driver accepting an accepted
 * ride, a decline by a driver who already passed, a cancel of a cancelled ride or of
 * one that found no driver) is a duplicate: it changes nothing and is not an error,
 * since a client may send twice and a replay redelivers. Anything else is illegal
 * (another driver accepting, a start before the accept, a cancel once the trip has
 * started) and names why.
 */
#ifndef MAT_RIDE_H
#define MAT_RIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "souk_event.h"

enum mat_ride_state {
	MAT_RIDE_OFFERED,
	MAT_RIDE_ACCEPTED,
	MAT_RIDE_STARTED,
	MAT_RIDE_COMPLETED,
	MAT_RIDE_CANCELLED,
	MAT_RIDE_NO_DRIVER,
};

enum mat_ride_verdict {
	MAT_RIDE_MOVE,	    /* to *next */
	MAT_RIDE_REOFFER,   /* declined: pass the driver, offer the next one */
	MAT_RIDE_DUPLICATE, /* already applied: nothing to do */
	MAT_RIDE_ILLEGAL,   /* refused: why says so */
};

/* "offered", "accepted", ... as in the rides table. */
const char *mat_ride_state_name(enum mat_ride_state s);

/* The state named name; -1 for an unknown name. */
int mat_ride_state_parse(const char *name, enum mat_ride_state *s);

/* completed, cancelled and no_driver: nothing moves the ride any more. */
bool mat_ride_final(enum mat_ride_state s);

/*
 * What action by driver (ignored for cancel) does to a ride in state s offered to or
 * driven by cur ("" when none); passed says whether driver is among those who
 * declined or let an offer expire. On MAT_RIDE_MOVE *next is the new state; on
 * MAT_RIDE_ILLEGAL why (size bytes) says what is wrong. O(1).
 */
enum mat_ride_verdict mat_ride_judge(enum mat_ride_state s, const char *cur, bool passed,
				     souk_event_ride_action_t action, const char *driver,
				     enum mat_ride_state *next, char *why, size_t size);

#endif
