/*
 * psp_idem: the provider's idempotency keys. Same key and parameters replay the stored
 * answer; other parameters are refused; a key still executing is in progress; an
 * abandoned claim frees the key and counts the attempt; a restored key replays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "psp_idem.h"

static int
idem_setup(void **state)
{
	*state = psp_idem_new();
	return *state ? 0 : -1;
}

static int
idem_teardown(void **state)
{
	psp_idem_destroy(*state);
	return 0;
}

/* Stores status and body as the answer of the claimed key. */
static void
finish(struct psp_idem *idem, const char *key, int status, const char *body)
{
	struct psp_idem_answer a = {status, strdup(body), strlen(body)};

	assert_non_null(a.body);
	psp_idem_finish(idem, key, &a);
	assert_null(a.body); /* ownership moved */
}

static void
test_same_key_and_parameters_replay(void **state)
{
	struct psp_idem *idem = *state;
	struct psp_idem_answer a = {0};
	unsigned attempt = 99;

	assert_int_equal(
	    psp_idem_begin(idem, "k1", "capture psp_1 amount=5", &attempt, &a),
	    PSP_IDEM_NEW);
	assert_int_equal(attempt, 0);
	finish(idem, "k1", 200, "{\"status\":\"captured\"}");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    psp_idem_begin(idem, "k1", "capture psp_1 amount=5", &attempt, &a),
		    PSP_IDEM_REPLAY);
		assert_int_equal(a.status, 200);
		assert_string_equal(a.body, "{\"status\":\"captured\"}");
		assert_int_equal(a.len, strlen(a.body));
		free(a.body);
	}
}

static void
test_other_parameters_are_refused(void **state)
{
	struct psp_idem *idem = *state;
	struct psp_idem_answer a = {0};
	unsigned attempt;

	assert_int_equal(
	    psp_idem_begin(idem, "k1", "capture psp_1 amount=5", &attempt, &a),
	    PSP_IDEM_NEW);
	/* refused while executing, and after */
	assert_int_equal(
	    psp_idem_begin(idem, "k1", "capture psp_1 amount=6", &attempt, &a),
	    PSP_IDEM_REUSED);
	finish(idem, "k1", 409, "{\"code\":\"illegal_state\"}");
	assert_int_equal(
	    psp_idem_begin(idem, "k1", "capture psp_1 amount=6", &attempt, &a),
	    PSP_IDEM_REUSED);
	assert_int_equal(psp_idem_begin(idem, "k1", "void psp_1", &attempt, &a),
			 PSP_IDEM_REUSED);
	/* another key is free */
	assert_int_equal(
	    psp_idem_begin(idem, "k2", "capture psp_1 amount=6", &attempt, &a),
	    PSP_IDEM_NEW);
}

static void
test_a_key_executing_is_in_progress(void **state)
{
	struct psp_idem *idem = *state;
	struct psp_idem_answer a = {0};
	unsigned attempt;

	assert_int_equal(psp_idem_begin(idem, "k1", "void psp_1", &attempt, &a),
			 PSP_IDEM_NEW);
	assert_int_equal(psp_idem_begin(idem, "k1", "void psp_1", &attempt, &a),
			 PSP_IDEM_IN_PROGRESS);
	assert_int_equal(psp_idem_lookup(idem, "k1", &a), PSP_IDEM_IN_PROGRESS);
	finish(idem, "k1", 200, "{}");
	assert_int_equal(psp_idem_lookup(idem, "k1", &a), PSP_IDEM_REPLAY);
	assert_string_equal(a.body, "{}");
	free(a.body);
}

static void
test_an_abandoned_claim_frees_the_key(void **state)
{
	struct psp_idem *idem = *state;
	struct psp_idem_answer a = {0};
	unsigned attempt;

	assert_int_equal(psp_idem_begin(idem, "k1", "void psp_1", &attempt, &a),
			 PSP_IDEM_NEW);
	psp_idem_abandon(idem, "k1");
	assert_int_equal(psp_idem_lookup(idem, "k1", &a), PSP_IDEM_UNKNOWN);
	assert_int_equal(psp_idem_begin(idem, "k1", "void psp_1", &attempt, &a),
			 PSP_IDEM_NEW);
	assert_int_equal(attempt, 1);
	psp_idem_abandon(idem, "k1");
	/* nothing was applied: other parameters are welcome */
	assert_int_equal(psp_idem_begin(idem, "k1", "void psp_2", &attempt, &a),
			 PSP_IDEM_NEW);
	assert_int_equal(attempt, 2);
	assert_int_equal(psp_idem_lookup(idem, "never", &a), PSP_IDEM_UNKNOWN);
}

static void
test_restored_keys_replay(void **state)
{
	struct psp_idem *idem = *state;
	struct psp_idem_answer stored = {200, "{\"a\":1}", 7}, a = {0};
	char err[128];
	unsigned attempt;

	assert_int_equal(
	    psp_idem_restore(idem, "k1", "void psp_1", &stored, err, sizeof(err)), 0);
	assert_int_equal(psp_idem_begin(idem, "k1", "void psp_1", &attempt, &a),
			 PSP_IDEM_REPLAY);
	assert_string_equal(a.body, "{\"a\":1}");
	free(a.body);
	assert_int_equal(psp_idem_begin(idem, "k1", "void psp_2", &attempt, &a),
			 PSP_IDEM_REUSED);
	assert_int_equal(
	    psp_idem_restore(idem, "k1", "void psp_1", &stored, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"k1\" is stored twice"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_same_key_and_parameters_replay,
					    idem_setup, idem_teardown),
	    cmocka_unit_test_setup_teardown(test_other_parameters_are_refused, idem_setup,
					    idem_teardown),
	    cmocka_unit_test_setup_teardown(test_a_key_executing_is_in_progress,
					    idem_setup, idem_teardown),
	    cmocka_unit_test_setup_teardown(test_an_abandoned_claim_frees_the_key,
					    idem_setup, idem_teardown),
	    cmocka_unit_test_setup_teardown(test_restored_keys_replay, idem_setup,
					    idem_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
