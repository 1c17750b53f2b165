/* replay_select: see replay_select.h. */
#include "replay_select.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The pools and their source topics (DESIGN.md, "Guarantees" and "Retention"). The
 * matching pool's topics get their rule when that pool says how long it dedups. */
const struct replay_guard_rule replay_guard_rules[] = {
    {"orders", "inventory", 0, "order_id, in the orders table, never purged"},
    {"payments", "payments", 24LL * 3600 * 1000,
     "client + idempotency key, kept payments.key_ttl"},
    {NULL, NULL, 0, NULL},
};

/* Reads exactly n digits at *p into *out and moves *p past them. */
static int
replay_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/* Whether s is one or more decimal digits and nothing else. */
static bool
replay_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int
replay_duration_parse(const char *s, int64_t *out_ms, char *errstr, size_t errstr_size)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = {
	    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end != s && *s >= '0' && *s <= '9' && errno == 0) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strcmp(end, units[i].unit) != 0)
				continue;
			if (v > INT64_MAX / units[i].ms)
				break;
			*out_ms = v * units[i].ms;
			return 0;
		}
	}
	snprintf(
	    errstr, errstr_size,
	    "could not parse duration \"%s\": expected an integer and a unit (ms, s, "
	    "m, h or d)",
	    s);
	return -1;
}

int
replay_offset_parse(const char *s, int64_t *out, char *errstr, size_t errstr_size)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!replay_all_digits(s) || errno || *end) {
		snprintf(errstr, errstr_size,
			 "could not parse offset \"%s\": expected a non-negative integer",
			 s);
		return -1;
	}
	*out = v;
	return 0;
}

/* RFC 3339 or a bare date, as described in the header. */
static int
replay_time_parse_date(const char *s, int64_t *out_ms)
{
	const char *p = s;
	struct tm tm = {0}, back;
	int year, mon, day, hour = 0, min = 0, sec = 0, ms = 0, zone_min = 0;
	time_t secs;

	if (replay_digits(&p, 4, &year) || *p++ != '-' || replay_digits(&p, 2, &mon) ||
	    *p++ != '-' || replay_digits(&p, 2, &day))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (replay_digits(&p, 2, &hour) || *p++ != ':' ||
		    replay_digits(&p, 2, &min))
			return -1;
		if (*p == ':') {
			p++;
			if (replay_digits(&p, 2, &sec))
				return -1;
			if (*p == '.') {
				int scale = 100, d;

				p++;
				if (*p < '0' || *p > '9')
					return -1;
				/* milliseconds: digits past the third are dropped */
				for (; *p >= '0' && *p <= '9'; p++, scale /= 10) {
					d = *p - '0';
					ms += d * scale;
				}
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, zh, zm;

			if (replay_digits(&p, 2, &zh) || *p++ != ':' ||
			    replay_digits(&p, 2, &zm) || zh > 23 || zm > 59)
				return -1;
			zone_min = sign * (zh * 60 + zm);
		}
	}
	if (*p || year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 ||
	    hour > 23 || min > 59 || sec > 59)
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	secs = timegm(&tm);
	/* timegm normalizes 02-30 into March: the round trip refuses such dates */
	if (secs == (time_t)-1 || !gmtime_r(&secs, &back) || back.tm_mday != day ||
	    back.tm_mon != mon - 1)
		return -1;
	*out_ms = ((int64_t)secs - (int64_t)zone_min * 60) * 1000 + ms;
	return *out_ms < 0 ? -1 : 0;
}

int
replay_time_parse(const char *s, int64_t now_ms, int64_t *out_ms, char *errstr,
		  size_t errstr_size)
{
	char why[200];
	int64_t ms;

	if (s[0] == '-') {
		if (replay_duration_parse(s + 1, &ms, why, sizeof(why)) == 0 &&
		    ms <= now_ms) {
			*out_ms = now_ms - ms;
			return 0;
		}
	} else if (replay_all_digits(s)) {
		errno = 0;
		ms = strtoll(s, NULL, 10);
		if (errno == 0) {
			*out_ms = ms;
			return 0;
		}
	} else if (replay_time_parse_date(s, &ms) == 0) {
		*out_ms = ms;
		return 0;
	}
	snprintf(errstr, errstr_size,
		 "could not parse time \"%s\": expected RFC 3339 (2026-11-27T10:00:00Z), "
		 "a date, milliseconds since the epoch or a duration before now (-2h)",
		 s);
	return -1;
}

int
replay_partitions_parse(struct replay_selection *sel, const char *list, char *errstr,
			size_t errstr_size)
{
	const char *p = list;

	for (;;) {
		char *end;
		long first, last;

		errno = 0;
		first = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
		if (first < 0 || errno)
			goto bad;
		last = first;
		if (*end == '-') {
			p = end + 1;
			last = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
			if (last < first || errno)
				goto bad;
		}
		if (last >= REPLAY_MAX_PARTITIONS) {
			snprintf(errstr, errstr_size,
				 "partition %ld is out of range: at most %d partitions",
				 last, REPLAY_MAX_PARTITIONS);
			return -1;
		}
		for (long i = first; i <= last; i++)
			sel->partitions[i] = true;
		sel->all_partitions = false;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
bad:
	snprintf(errstr, errstr_size,
		 "could not parse partitions \"%s\": expected a list such as 0,2,5-7",
		 list);
	return -1;
}

bool
replay_selection_has(const struct replay_selection *sel, int32_t p)
{
	if (p < 0 || p >= REPLAY_MAX_PARTITIONS)
		return false;
	return sel->all_partitions || sel->partitions[p];
}

/* Where a bound puts the range's edge, dflt when absent; lookup -1 means high. */
static int64_t
replay_bound_offset(const struct replay_bound *b, int64_t dflt, int64_t high,
		    int64_t lookup)
{
	switch (b->kind) {
	case REPLAY_BOUND_OFFSET:
		return b->value;
	case REPLAY_BOUND_TIME:
		return lookup < 0 ? high : lookup;
	case REPLAY_BOUND_NONE:
		break;
	}
	return dflt;
}

struct replay_range
replay_select_range(const struct replay_selection *sel, int64_t low, int64_t high,
		    int64_t start_lookup, int64_t end_lookup)
{
	struct replay_range r;

	r.start = replay_bound_offset(&sel->start, low, high, start_lookup);
	r.end = replay_bound_offset(&sel->end, high, high, end_lookup);
	if (r.start < low)
		r.start = low;
	if (r.end > high)
		r.end = high;
	if (r.end < r.start)
		r.end = r.start;
	return r;
}

bool
replay_select_time_ok(const struct replay_selection *sel, int64_t ts_ms)
{
	if (ts_ms < 0)
		return true;
	if (sel->start.kind == REPLAY_BOUND_TIME && ts_ms < sel->start.value)
		return false;
	if (sel->end.kind == REPLAY_BOUND_TIME && ts_ms >= sel->end.value)
		return false;
	return true;
}

const struct replay_guard_rule *
replay_guard_rule(const char *topic)
{
	for (const struct replay_guard_rule *r = replay_guard_rules; r->topic; r++)
		if (strcmp(r->topic, topic) == 0)
			return r;
	return NULL;
}

bool
replay_guard_breaks(struct replay_range r, int64_t cutoff_lookup)
{
	return r.start < r.end && (cutoff_lookup < 0 || r.start < cutoff_lookup);
}

int64_t
replay_reset_target(enum replay_reset_to to, int64_t value, int64_t low, int64_t high,
		    int64_t lookup)
{
	int64_t target = high;

	switch (to) {
	case REPLAY_RESET_OFFSET:
		target = value;
		break;
	case REPLAY_RESET_DATETIME:
		target = lookup < 0 ? high : lookup;
		break;
	case REPLAY_RESET_EARLIEST:
		target = low;
		break;
	case REPLAY_RESET_LATEST:
		target = high;
		break;
	}
	if (target < low)
		target = low;
	if (target > high)
		target = high;
	return target;
}
