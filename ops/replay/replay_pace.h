/*
 * replay_pace: when a replay sends each message.
 *
 *   rate N     the k-th message sent (from 0) is due k / N seconds after the start
 *   speed F    a message stamped ts is due (ts - ts0) / F after the start, ts0 being
 *              the timestamp of the first message sent: 10x replays an hour of
 *              traffic in six minutes, 0.5x in two hours
 *   neither    every message is due at once
 *
 * A message is sent at its due time or, when the replay is behind, at once: pacing
 * never drops or reorders. Times are seconds on a monotonic clock (souk_progress_now).
 */
#ifndef REPLAY_PACE_H
#define REPLAY_PACE_H

#include <stddef.h>
#include <stdint.h>

struct replay_pace {
	double rate;  /* messages per second, 0: none */
	double speed; /* times the original pace, 0: none */
	double start; /* when the first message was sent */
	int64_t ts0;  /* its timestamp, ms (speed only) */
};

/* "500", "500/s" -> 500. Returns 0, or -1 with errstr. */
int replay_pace_parse_rate(const char *s, double *rate, char *errstr, size_t errstr_size);

/* "10x", "0.5x", "10" -> the factor. Returns 0, or -1 with errstr. */
int replay_pace_parse_speed(const char *s, double *speed, char *errstr,
			    size_t errstr_size);

/* When the message is due: sent is how many were sent before it, ts_ms its timestamp
 * (-1 when it has none: due at once under speed). */
double replay_pace_due(const struct replay_pace *p, uint64_t sent, int64_t ts_ms);

#endif
