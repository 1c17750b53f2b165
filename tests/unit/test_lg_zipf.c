#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>

/* cmocka 1.1.5 compares floats only in single precision. */
#define assert_near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

#include "lg_zipf.h"

#define DRAWS 100000

/* Pearson's chi-square of DRAWS draws against the table's own probabilities,
 * which are checked against the closed form first. */
static double
chi_square(size_t n, double s, unsigned long long seed)
{
	char err[128];
	struct lg_zipf *z = lg_zipf_new(n, s, err, sizeof(err));
	struct lg_rand r;
	long counts[64] = {0};
	double h = 0, chi = 0;

	assert_non_null(z);
	assert_true(n <= 64);
	for (size_t k = 1; k <= n; k++)
		h += pow((double)k, -s);
	for (size_t k = 0; k < n; k++)
		assert_near(lg_zipf_prob(z, k), pow((double)(k + 1), -s) / h, 1e-12);
	lg_rand_seed(&r, seed, 0);
	for (int i = 0; i < DRAWS; i++) {
		size_t k = lg_zipf_sample(z, &r);

		assert_true(k < n);
		counts[k]++;
	}
	for (size_t k = 0; k < n; k++) {
		double expected = DRAWS * lg_zipf_prob(z, k);

		chi += (counts[k] - expected) * (counts[k] - expected) / expected;
	}
	lg_zipf_destroy(z);
	return chi;
}

/* Critical values at p = 0.001: 9 degrees of freedom 27.88, 49 degrees 85.35. A
 * sampler off by a rank (or a biased search) lands in the thousands. */
static void
test_frequencies_follow_zipf(void **state)
{
	(void)state;
	assert_true(chi_square(10, 1.1, 1) < 27.88);
	assert_true(chi_square(10, 1.1, 2) < 27.88);
	assert_true(chi_square(50, 2.0, 3) < 85.35);
	assert_true(chi_square(10, 0.0, 4) < 27.88); /* uniform */
}

/* The best seller outsells the second by 2^s: with s = 1.1, about 2.14 times.
 */
static void
test_first_ranks_ratio(void **state)
{
	char err[128];
	struct lg_zipf *z = lg_zipf_new(10, 1.1, err, sizeof(err));
	struct lg_rand r;
	long first = 0, second = 0;

	(void)state;
	assert_non_null(z);
	lg_rand_seed(&r, 9, 0);
	for (int i = 0; i < DRAWS; i++) {
		size_t k = lg_zipf_sample(z, &r);

		first += k == 0;
		second += k == 1;
	}
	assert_near((double)first / (double)second, pow(2, 1.1), 0.1);
	lg_zipf_destroy(z);
}

static void
test_single_rank_and_bad_arguments(void **state)
{
	char err[128];
	struct lg_zipf *z = lg_zipf_new(1, 1.1, err, sizeof(err));
	struct lg_rand r;

	(void)state;
	assert_non_null(z);
	lg_rand_seed(&r, 1, 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(lg_zipf_sample(z, &r), 0);
	lg_zipf_destroy(z);

	assert_null(lg_zipf_new(0, 1.1, err, sizeof(err)));
	assert_string_equal(err, "zipf needs at least one rank");
	assert_null(lg_zipf_new(10, -1, err, sizeof(err)));
	assert_string_equal(err, "zipf exponent must be finite and >= 0, got -1");
	lg_zipf_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frequencies_follow_zipf),
	    cmocka_unit_test(test_first_ranks_ratio),
	    cmocka_unit_test(test_single_rank_and_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
