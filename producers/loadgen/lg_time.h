/*
 * lg_time: simulated time. The generators count milliseconds since the Unix epoch
 * from the --start instant and never read the clock, so a seed replays exactly.
 */
#ifndef LG_TIME_H
#define LG_TIME_H

#include <stddef.h>
#include <stdint.h>

#define LG_TIME_DEFAULT_START "2026-01-01T00:00:00.000Z"
#define LG_TIME_DEFAULT_START_MS 1767225600000LL /* the same instant */

/* Parses an event timestamp, YYYY-MM-DDTHH:MM:SS.mmmZ (UTC, milliseconds), into
 * milliseconds since the epoch; years 1970..9999. Returns 0, or -1 with errstr filled. */
int lg_time_parse(const char *text, int64_t *ms, char *errstr, size_t errstr_size);

/* Writes ms as YYYY-MM-DDTHH:MM:SS.mmmZ + NUL (25 bytes) into out. ms must lie in
 * years 1970..9999. Cost: one gmtime_r. */
void lg_time_format(int64_t ms, char out[25]);

#endif
