/*
 * mat_surge: see mat_surge.h.
 */
#include "mat_surge.h"

#include <math.h>
#include <stdio.h>

void
mat_surge_params_default(mat_surge_params_t *p)
{
	p->threshold = 1.0;
	p->slope = 0.5;
	p->cap = 3.0;
	p->half_life_ms = 10000;
}

int
mat_surge_params_check(const mat_surge_params_t *p, char *errstr, size_t errstr_size)
{
	/* Written so that NaN fails every test. */
	if (!(p->threshold >= 0 && isfinite(p->threshold))) {
		snprintf(errstr, errstr_size, "threshold: must be 0 or more, got %g",
			 p->threshold);
		return -1;
	}
	if (!(p->slope > 0 && isfinite(p->slope))) {
		snprintf(errstr, errstr_size, "slope: must be more than 0, got %g",
			 p->slope);
		return -1;
	}
	if (!(p->cap >= 1.0 && p->cap <= MAT_SURGE_MAX_CAP)) {
		snprintf(errstr, errstr_size, "cap: must be from 1 to %g, got %g",
			 MAT_SURGE_MAX_CAP, p->cap);
		return -1;
	}
	if (p->half_life_ms < 0) {
		snprintf(errstr, errstr_size, "half_life_ms: must be 0 or more, got %lld",
			 (long long)p->half_life_ms);
		return -1;
	}
	return 0;
}

double
mat_surge_target(const mat_surge_params_t *p, int64_t demand, int64_t supply)
{
	double r;

	if (demand <= 0)
		return 1.0;
	if (supply <= 0)
		return p->cap;
	r = (double)demand / (double)supply;
	if (r <= p->threshold)
		return 1.0;
	return fmin(p->cap, 1.0 + p->slope * (r - p->threshold));
}

void
mat_surge_state_init(mat_surge_state_t *s, int64_t now_ms)
{
	s->multiplier = 1.0;
	s->at_ms = now_ms;
}

void
mat_surge_update(const mat_surge_params_t *p, mat_surge_state_t *s, int64_t demand,
		 int64_t supply, int64_t now_ms)
{
	double target = mat_surge_target(p, demand, supply);
	double keep; /* the share of the gap left after the elapsed time */

	if (now_ms <= s->at_ms)
		return;
	/* The subtraction cannot overflow as long as both times are real clock readings
	 * (within a few centuries of each other). */
	keep = p->half_life_ms == 0
		   ? 0.0
		   : exp2(-(double)(now_ms - s->at_ms) / (double)p->half_life_ms);
	/* A weighted mean of two values in 1..cap stays in 1..cap. */
	s->multiplier = target + (s->multiplier - target) * keep;
	if (fabs(s->multiplier - target) < MAT_SURGE_SETTLE)
		s->multiplier = target;
	s->at_ms = now_ms;
}

int
mat_surge_tenths(double multiplier)
{
	return (int)floor(multiplier * 10.0 + 0.5 + 1e-9);
}
