/*
 * lg_zipf: ranks 0..n-1 drawn with Zipf's law, P(k) = (k + 1)^-s / H(n, s), where H is
 * the generalized harmonic number. s = 0 is uniform; s around 1 gives the "few best
 * sellers" shape of a flash sale.
 *
 * The table holds the cumulative distribution: O(n) memory and set-up, O(log n) per
 * draw (a binary search), exact for any n and s.
 */
#ifndef LG_ZIPF_H
#define LG_ZIPF_H

#include <stddef.h>

#include "lg_rand.h"

struct lg_zipf;

/* n >= 1 ranks, exponent s >= 0 and finite. Returns NULL with errstr filled on a bad
 * argument or out of memory. */
struct lg_zipf *lg_zipf_new(size_t n, double s, char *errstr, size_t errstr_size);
void lg_zipf_destroy(struct lg_zipf *z);

/* A rank in [0, n); one draw of r. */
size_t lg_zipf_sample(const struct lg_zipf *z, struct lg_rand *r);

/* The probability of rank k (k < n), from the same table the draws use. */
double lg_zipf_prob(const struct lg_zipf *z, size_t k);

#endif
