#include "lg_time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "souk_event.h"

int
lg_time_parse(const char *text, int64_t *ms, char *errstr, size_t errstr_size)
{
	struct tm tm = {0};
	int millis, ret = -1;
	time_t secs;
	char check[SOUK_EVENT_TS_SIZE];

	if (!souk_event_ts_valid(text) ||
	    sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
		snprintf(errstr, errstr_size,
			 "could not parse time \"%s\": expected YYYY-MM-DDTHH:MM:SS.mmmZ",
			 text);
		goto out;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	secs = timegm(&tm);
	if (secs < 0) {
		snprintf(errstr, errstr_size, "time \"%s\" is before 1970", text);
		goto out;
	}
	*ms = (int64_t)secs * 1000 + millis;
	/* timegm normalizes 02-30 into March: a round trip catches dates that do not
	 * exist. */
	lg_time_format(*ms, check);
	if (strcmp(check, text) != 0) {
		snprintf(errstr, errstr_size, "could not parse time \"%s\": no such date",
			 text);
		goto out;
	}
	ret = 0;
out:
	return ret;
}

/* Writes v as width decimal digits, zero-padded (v < 10^width). */
static void
lg_time_digits(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
lg_time_format(int64_t ms, char out[25])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	memcpy(out, "0000-00-00T00:00:00.000Z", 25);
	lg_time_digits(out, tm.tm_year + 1900, 4);
	lg_time_digits(out + 5, tm.tm_mon + 1, 2);
	lg_time_digits(out + 8, tm.tm_mday, 2);
	lg_time_digits(out + 11, tm.tm_hour, 2);
	lg_time_digits(out + 14, tm.tm_min, 2);
	lg_time_digits(out + 17, tm.tm_sec, 2);
	lg_time_digits(out + 20, (int)(ms % 1000), 3);
}
