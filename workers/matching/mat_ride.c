/*
 * mat_ride: see mat_ride.h.
 */
#include "mat_ride.h"

#include <stdio.h>
#include <string.h>

static const char *const mat_ride_names[] = {
    [MAT_RIDE_OFFERED] = "offered",	[MAT_RIDE_ACCEPTED] = "accepted",
    [MAT_RIDE_STARTED] = "started",	[MAT_RIDE_COMPLETED] = "completed",
    [MAT_RIDE_CANCELLED] = "cancelled", [MAT_RIDE_NO_DRIVER] = "no_driver",
};

const char *
mat_ride_state_name(enum mat_ride_state s)
{
	return mat_ride_names[s];
}

int
mat_ride_state_parse(const char *name, enum mat_ride_state *s)
{
	for (size_t i = 0; i < sizeof(mat_ride_names) / sizeof(mat_ride_names[0]); i++)
		if (!strcmp(mat_ride_names[i], name)) {
			*s = (enum mat_ride_state)i;
			return 0;
		}
	return -1;
}

bool
mat_ride_final(enum mat_ride_state s)
{
	return s == MAT_RIDE_COMPLETED || s == MAT_RIDE_CANCELLED || s == MAT_RIDE_NO_DRIVER;
}

enum mat_ride_verdict
mat_ride_judge(enum mat_ride_state s, const char *cur, bool passed,
	       souk_event_ride_action_t action, const char *driver,
	       enum mat_ride_state *next, char *why, size_t size)
{
	bool same = cur[0] && !strcmp(cur, driver);
	/* The state an action leads to, and the one it must find. */
	enum mat_ride_state to = MAT_RIDE_ACCEPTED, from = MAT_RIDE_OFFERED;
	const char *name = "accept";

	switch (action) {
	case SOUK_EVENT_RIDE_CANCEL:
		if (s == MAT_RIDE_OFFERED || s == MAT_RIDE_ACCEPTED) {
			*next = MAT_RIDE_CANCELLED;
			return MAT_RIDE_MOVE;
		}
		if (s == MAT_RIDE_CANCELLED || s == MAT_RIDE_NO_DRIVER)
			return MAT_RIDE_DUPLICATE;
		snprintf(why, size, "cancel: the ride is %s", mat_ride_state_name(s));
		return MAT_RIDE_ILLEGAL;
	case SOUK_EVENT_RIDE_DECLINE:
		if (s == MAT_RIDE_OFFERED && same)
			return MAT_RIDE_REOFFER;
		if (passed)
			return MAT_RIDE_DUPLICATE;
		snprintf(why, size, "decline by %s: the ride is %s%s%s", driver,
			 mat_ride_state_name(s), cur[0] ? " with " : "", cur);
		return MAT_RIDE_ILLEGAL;
	case SOUK_EVENT_RIDE_ACCEPT:
		break;
	case SOUK_EVENT_RIDE_START:
		to = MAT_RIDE_STARTED, from = MAT_RIDE_ACCEPTED, name = "start";
		break;
	case SOUK_EVENT_RIDE_COMPLETE:
		to = MAT_RIDE_COMPLETED, from = MAT_RIDE_STARTED, name = "complete";
		break;
	}
	if (same && s == from) {
		*next = to;
		return MAT_RIDE_MOVE;
	}
	/* The same driver again once the ride went past this step. */
	if (same && s != MAT_RIDE_CANCELLED && s != MAT_RIDE_NO_DRIVER && s >= to)
		return MAT_RIDE_DUPLICATE;
	snprintf(why, size, "%s by %s: the ride is %s%s%s", name, driver,
		 mat_ride_state_name(s), cur[0] ? " with " : "", cur);
	return MAT_RIDE_ILLEGAL;
}
