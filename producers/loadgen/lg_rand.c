#include "lg_rand.h"

#include <math.h>
#include <stdio.h>

static uint64_t
lg_rand_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
lg_rand_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
lg_rand_seed(struct lg_rand *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = stream;

	/* The stream number goes through splitmix first, so neighbouring (seed, stream)
	 * pairs start far apart; splitmix64 never yields four zero words in a row,
	 * the one state xoshiro cannot leave. */
	x = seed ^ lg_rand_splitmix(&x);
	for (int i = 0; i < 4; i++)
		r->s[i] = lg_rand_splitmix(&x);
}

uint64_t
lg_rand_next(struct lg_rand *r)
{
	uint64_t *s = r->s;
	uint64_t result = lg_rand_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = lg_rand_rotl(s[3], 45);
	return result;
}

double
lg_rand_double(struct lg_rand *r)
{
	return (double)(lg_rand_next(r) >> 11) * 0x1.0p-53;
}

double
lg_rand_range(struct lg_rand *r, double lo, double hi)
{
	return lo + (hi - lo) * lg_rand_double(r);
}

uint64_t
lg_rand_below(struct lg_rand *r, uint64_t n)
{
	/* Lemire's multiply-and-reject: the high half of x * n is uniform once the
	 * few low halves below 2^64 mod n are rejected. */
	unsigned __int128 m = (unsigned __int128)lg_rand_next(r) * n;
	uint64_t low = (uint64_t)m;

	if (low < n) {
		uint64_t threshold = -n % n;

		while (low < threshold) {
			m = (unsigned __int128)lg_rand_next(r) * n;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

long long
lg_rand_between(struct lg_rand *r, long long lo, long long hi)
{
	return lo + (long long)lg_rand_below(r, (uint64_t)(hi - lo) + 1);
}

int
lg_rand_chance(struct lg_rand *r, double p)
{
	return lg_rand_double(r) < p;
}

double
lg_rand_normal(struct lg_rand *r)
{
	/* 1 - u lies in (0, 1], so the logarithm is finite. */
	double u = 1.0 - lg_rand_double(r), v = lg_rand_double(r);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

void
lg_rand_uuid(struct lg_rand *r, char out[37])
{
	uint64_t hi = lg_rand_next(r), lo = lg_rand_next(r);

	/* Version nibble 4, variant bits 10 (RFC 4122 section 4.4). */
	hi = (hi & ~0xf000ULL) | 0x4000ULL;
	lo = (lo & ~(3ULL << 62)) | (2ULL << 62);
	snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
		 (unsigned)((hi >> 16) & 0xffff), (unsigned)(hi & 0xffff),
		 (unsigned)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffULL));
}
