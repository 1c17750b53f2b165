/* replay_pace: see replay_pace.h. */
#include "replay_pace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a positive finite number at the start of s, followed exactly by one of the
 * suffixes (NULL-terminated, "" allowed). Returns 0, or -1. */
static int
replay_pace_number(const char *s, const char *const *suffixes, double *out)
{
	char *end;
	double v;

	if (!(*s >= '0' && *s <= '9') && *s != '.')
		return -1;
	v = strtod(s, &end);
	if (!(v > 0) || !isfinite(v))
		return -1;
	for (const char *const *suf = suffixes; *suf; suf++) {
		if (strcmp(end, *suf) == 0) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

int
replay_pace_parse_rate(const char *s, double *rate, char *errstr, size_t errstr_size)
{
	static const char *const suffixes[] = {"", "/s", NULL};

	if (replay_pace_number(s, suffixes, rate) == 0)
		return 0;
	snprintf(
	    errstr, errstr_size,
	    "could not parse rate \"%s\": expected a positive number of messages per "
	    "second (500 or 500/s)",
	    s);
	return -1;
}

int
replay_pace_parse_speed(const char *s, double *speed, char *errstr, size_t errstr_size)
{
	static const char *const suffixes[] = {"", "x", NULL};

	if (replay_pace_number(s, suffixes, speed) == 0)
		return 0;
	snprintf(errstr, errstr_size,
		 "could not parse speed \"%s\": expected a positive factor (10x, 0.5x)",
		 s);
	return -1;
}

double
replay_pace_due(const struct replay_pace *p, uint64_t sent, int64_t ts_ms)
{
	if (p->rate > 0)
		return p->start + (double)sent / p->rate;
	if (p->speed > 0 && ts_ms > p->ts0)
		return p->start + (double)(ts_ms - p->ts0) / 1000.0 / p->speed;
	return p->start;
}
