/*
 * lg_rand: the loadgen's only source of randomness, so that one seed gives one byte
 * stream on every machine.
 *
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64 as its authors
 * recommend. The state is a plain value: copy it to fork a stream, keep one per
 * generator. Not cryptographic, not thread-safe (one state per thread). Every call is
 * O(1), a few nanoseconds.
 */
#ifndef LG_RAND_H
#define LG_RAND_H

#include <stdint.h>

struct lg_rand {
	uint64_t s[4];
};

/* Sets r to stream number stream of seed: the generators draw each concern (users,
 * timing, ids...) from its own stream, so changing one option does not reshuffle
 * what the others produce. Any seed and stream (0 included) give a valid state. */
void lg_rand_seed(struct lg_rand *r, uint64_t seed, uint64_t stream);

/* The next 64 random bits. */
uint64_t lg_rand_next(struct lg_rand *r);

/* Uniform in [0, 1), 53 bits of precision. */
double lg_rand_double(struct lg_rand *r);

/* Uniform in [lo, hi). */
double lg_rand_range(struct lg_rand *r, double lo, double hi);

/* Uniform integer in [0, n), without modulo bias; n must be > 0. */
uint64_t lg_rand_below(struct lg_rand *r, uint64_t n);

/* Uniform integer in [lo, hi], both inclusive; lo <= hi. */
long long lg_rand_between(struct lg_rand *r, long long lo, long long hi);

/* 1 with probability p (p <= 0: never, p >= 1: always), else 0. */
int lg_rand_chance(struct lg_rand *r, double p);

/* Standard normal deviate (Box-Muller, one of the pair used): two draws. */
double lg_rand_normal(struct lg_rand *r);

/* Writes 36 characters + NUL: a version 4 UUID made of 122 bits of r, in lower case. */
void lg_rand_uuid(struct lg_rand *r, char out[37]);

#endif
