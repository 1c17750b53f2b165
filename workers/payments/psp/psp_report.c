#include "psp_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PSP_REPORT_HEADER "settled_at,provider_ref,payment_id,type,amount,currency,key\n"

char *
psp_report_ts(int64_t ms, char out[PSP_REPORT_TS_SIZE])
{
	time_t secs = (time_t)(ms / 1000);
	unsigned milli = (unsigned)(ms % 1000) % 1000u;
	char text[32];
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, PSP_REPORT_TS_SIZE, "%.19s.%03uZ", text, milli);
	return out;
}

int
psp_report_day(const char *date, int64_t *start_ms, int64_t *end_ms, char *errstr,
	       size_t errstr_size)
{
	static const char shape[] = "dddd-dd-dd";
	struct tm tm = {0};
	int y, m, d;
	time_t secs;

	if (strlen(date) != sizeof(shape) - 1)
		goto bad;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? date[i] < '0' || date[i] > '9'
				    : date[i] != shape[i])
			goto bad;
	y = atoi(date);
	m = atoi(date + 5);
	d = atoi(date + 8);
	if (y < 1970)
		goto bad;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	secs = timegm(&tm);
	/* timegm normalizes 02-30 into March: a date that moved was not real */
	if (secs == (time_t)-1 || tm.tm_year != y - 1900 || tm.tm_mon != m - 1 ||
	    tm.tm_mday != d)
		goto bad;
	*start_ms = (int64_t)secs * 1000;
	*end_ms = *start_ms + INT64_C(86400000);
	return 0;
bad:
	snprintf(errstr, errstr_size,
		 "date: must be a calendar date like 2026-11-27, got \"%.32s\"", date);
	return -1;
}

static int
psp_report_cmp(const void *a, const void *b)
{
	const struct psp_settlement *x = a, *y = b;
	int c;

	if (x->settled_at_ms != y->settled_at_ms)
		return x->settled_at_ms < y->settled_at_ms ? -1 : 1;
	if ((c = strcmp(x->provider_ref, y->provider_ref)))
		return c;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Appends s to f, quoted when it holds a comma, a quote or a line break. */
static void
psp_report_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int
psp_report_csv(struct psp_settlement *rows, size_t n, int64_t start_ms, int64_t end_ms,
	       char **csv, size_t *len)
{
	char ts[PSP_REPORT_TS_SIZE];
	FILE *f;
	int bad;

	*csv = NULL;
	f = open_memstream(csv, len);
	if (!f)
		return -1;
	if (n > 1)
		qsort(rows, n, sizeof(*rows), psp_report_cmp);
	fputs(PSP_REPORT_HEADER, f);
	for (size_t i = 0; i < n; i++) {
		const struct psp_settlement *r = &rows[i];

		if (r->settled_at_ms < start_ms || r->settled_at_ms >= end_ms)
			continue;
		fprintf(f, "%s,%s,%s,%s,%lld,%s,", psp_report_ts(r->settled_at_ms, ts),
			r->provider_ref, r->payment_id, psp_request_type_name(r->type),
			(long long)r->amount, r->currency);
		psp_report_field(f, r->key);
		fputc('\n', f);
	}
	bad = ferror(f);
	if (fclose(f) || bad || !*csv) {
		free(*csv);
		*csv = NULL;
		return -1;
	}
	return 0;
}
