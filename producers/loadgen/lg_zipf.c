#include "lg_zipf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct lg_zipf {
	size_t n;
	double *cdf; /* cdf[k] = P(rank <= k); cdf[n - 1] == 1 exactly */
};

struct lg_zipf *
lg_zipf_new(size_t n, double s, char *errstr, size_t errstr_size)
{
	struct lg_zipf *z = NULL;
	double sum = 0;

	if (n < 1) {
		snprintf(errstr, errstr_size, "zipf needs at least one rank");
		goto out;
	}
	if (!isfinite(s) || s < 0) {
		snprintf(errstr, errstr_size,
			 "zipf exponent must be finite and >= 0, got %g", s);
		goto out;
	}
	z = calloc(1, sizeof(*z));
	if (z == NULL || (z->cdf = malloc(n * sizeof(*z->cdf))) == NULL) {
		snprintf(errstr, errstr_size,
			 "could not allocate a zipf table of %zu ranks", n);
		free(z);
		z = NULL;
		goto out;
	}
	z->n = n;
	for (size_t k = 0; k < n; k++) {
		sum += pow((double)(k + 1), -s);
		z->cdf[k] = sum;
	}
	for (size_t k = 0; k < n; k++)
		z->cdf[k] /= sum;
	/* Rounding may leave the last entry a hair below 1; a draw of u must always
	 * land inside the table. */
	z->cdf[n - 1] = 1.0;
out:
	return z;
}

void
lg_zipf_destroy(struct lg_zipf *z)
{
	if (z == NULL)
		return;
	free(z->cdf);
	free(z);
}

size_t
lg_zipf_sample(const struct lg_zipf *z, struct lg_rand *r)
{
	double u = lg_rand_double(r);
	size_t lo = 0, hi = z->n - 1;

	/* The first k with u < cdf[k]; cdf[n - 1] = 1 > u bounds the search. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u < z->cdf[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

double
lg_zipf_prob(const struct lg_zipf *z, size_t k)
{
	return k == 0 ? z->cdf[0] : z->cdf[k] - z->cdf[k - 1];
}
