#include "souk_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SOUK_PROGRESS_WIDTH 24
#define SOUK_PROGRESS_INTERVAL 0.1 /* seconds between redraws */

struct souk_progress {
	uint64_t total;
	char unit[16];
	double start, last;
	unsigned calls;
};

double
souk_progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct souk_progress *
souk_progress_new(uint64_t total, const char *unit)
{
	struct souk_progress *p;

	if (!isatty(STDERR_FILENO))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->total = total;
	snprintf(p->unit, sizeof(p->unit), "%s", unit);
	p->start = p->last = souk_progress_now();
	return p;
}

/* 181234.5 -> "181.2K" */
static void
souk_progress_human(double v, char *out, size_t size)
{
	if (v >= 1e6)
		snprintf(out, size, "%.1fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(out, size, "%.1fK", v / 1e3);
	else
		snprintf(out, size, "%.0f", v);
}

static void
souk_progress_draw(struct souk_progress *p, uint64_t done, uint64_t count, double now)
{
	double elapsed = now - p->start, rate = elapsed > 0 ? (double)count / elapsed : 0;
	char rate_s[16], line[160];
	int n;

	souk_progress_human(rate, rate_s, sizeof(rate_s));
	if (p->total) {
		double frac = done >= p->total ? 1.0 : (double)done / (double)p->total;
		int filled = (int)(frac * SOUK_PROGRESS_WIDTH);
		char bar[SOUK_PROGRESS_WIDTH + 1];
		double eta = frac > 0 ? elapsed / frac - elapsed : 0;

		memset(bar, '#', (size_t)filled);
		memset(bar + filled, '-', (size_t)(SOUK_PROGRESS_WIDTH - filled));
		bar[SOUK_PROGRESS_WIDTH] = '\0';
		n = snprintf(
		    line, sizeof(line), "\r[%s] %3d%%  %llu %s  %s/s  eta %.0fs ", bar,
		    (int)(frac * 100), (unsigned long long)count, p->unit, rate_s, eta);
	} else {
		n = snprintf(line, sizeof(line), "\r%llu %s  %s/s ",
			     (unsigned long long)count, p->unit, rate_s);
	}
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
		return; /* a progress bar that cannot be drawn is not an error */
}

void
souk_progress_update(struct souk_progress *p, uint64_t done, uint64_t count)
{
	double now;

	if (!p || (++p->calls & 1023) != 0)
		return;
	now = souk_progress_now();
	if (now - p->last < SOUK_PROGRESS_INTERVAL)
		return;
	p->last = now;
	souk_progress_draw(p, done, count, now);
}

void
souk_progress_finish(struct souk_progress *p, uint64_t done, uint64_t count)
{
	if (!p)
		return;
	souk_progress_draw(p, done, count, souk_progress_now());
	if (write(STDERR_FILENO, "\n", 1) < 0) {
		/* nothing to do: see souk_progress_draw */
	}
	free(p);
}
