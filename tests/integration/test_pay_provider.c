/*
 * pay_provider against a real souk-psp (the build's bin/souk-psp, next to this test's
 * folder), started by each test on a free port with its faults and killed at the end:
 * 200 authorizations in flight at once finish in about one latency; the same key three
 * times is one operation in the provider's ledger; an illegal capture and a reused key
 * are REFUSED; an injected 500 and a refused connection are FAILED; a timeout is
 * UNKNOWN, and a LOOKUP then finds the operation applied; so is a request whose
 * provider died after applying it (a connection lost after sending, even when
 * libcurl's retry then finds nothing listening); a never-used key is NOT_FOUND.
 */
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "pay_provider.h"
#include "souk_json.h"

#define TIMEOUT_MS 5000

struct psp {
	pid_t pid;
	int port; /* 0: the next psp_start picks a free one */
	char url[64];
	char run[32]; /* a prefix that keeps keys and payment ids apart between runs */
};

/* A port nothing listens on right now. */
static int
free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What a callback saw, copied out of the result. */
struct seen {
	int calls;
	enum pay_provider_outcome outcome;
	long http_status;
	char provider_ref[64], status[32], code[64], error[256];
	int64_t amount;
};

static void
remember(const struct pay_provider_result *r, void *opaque)
{
	struct seen *s = opaque;

	s->calls++;
	s->outcome = r->outcome;
	s->http_status = r->http_status;
	s->amount = r->amount;
	snprintf(s->provider_ref, sizeof(s->provider_ref), "%s",
		 r->provider_ref ? r->provider_ref : "");
	snprintf(s->status, sizeof(s->status), "%s", r->status ? r->status : "");
	snprintf(s->code, sizeof(s->code), "%s", r->code ? r->code : "");
	snprintf(s->error, sizeof(s->error), "%s", r->error ? r->error : "");
}

static void
submit(struct pay_provider *p, const struct pay_provider_request *req, struct seen *s)
{
	char err[256];

	if (pay_provider_submit(p, req, remember, s, err, sizeof(err)))
		fail_msg("%s", err);
}

static void
run_all(struct pay_provider *p)
{
	char err[256];

	while (pay_provider_pending(p))
		if (pay_provider_run(p, 1000, err, sizeof(err)) < 0)
			fail_msg("%s", err);
}

/* One request, run to its answer. */
static struct seen
ask(struct pay_provider *p, struct pay_provider_request req)
{
	struct seen s = {0};

	submit(p, &req, &s);
	run_all(p);
	assert_int_equal(s.calls, 1);
	return s;
}

static struct pay_provider *
client(const char *url, long timeout_ms)
{
	char err[256];
	struct pay_provider *p = pay_provider_new(url, timeout_ms, err, sizeof(err));

	if (!p)
		fail_msg("%s", err);
	return p;
}

/* Starts bin/souk-psp with the settings (NULL-terminated) and waits until it answers
 * (a LOOKUP answered NOT_FOUND). */
static void
psp_start(struct psp *psp, ...)
{
	char self[PATH_MAX], bin[PATH_MAX + 32], listen[64], *argv[32];
	struct pay_provider *p;
	struct seen s;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int argc = 0, port = psp->port ? psp->port : (psp->port = free_port());
	const char *setting;
	double deadline;
	va_list ap;

	assert_true(n > 0);
	self[n] = '\0';
	snprintf(bin, sizeof(bin), "%s/../bin/souk-psp", dirname(self));
	snprintf(listen, sizeof(listen), "http.listen=127.0.0.1:%d", port);
	snprintf(psp->url, sizeof(psp->url), "http://127.0.0.1:%d", port);
	snprintf(psp->run, sizeof(psp->run), "t%ld-%d", (long)getpid(), port);
	argv[argc++] = bin;
	argv[argc++] = "-X";
	argv[argc++] = listen;
	va_start(ap, psp);
	while ((setting = va_arg(ap, const char *)) && argc < 28) {
		argv[argc++] = "-X";
		argv[argc++] = (char *)setting;
	}
	va_end(ap);
	argv[argc] = NULL;
	psp->pid = fork();
	assert_true(psp->pid >= 0);
	if (psp->pid == 0) {
		if (!freopen("/dev/null", "w", stdout) ||
		    !freopen("/dev/null", "w", stderr))
			_exit(127);
		execv(bin, argv);
		_exit(127);
	}
	p = client(psp->url, 1000);
	for (deadline = now_s() + 10;; usleep(20000)) {
		s = ask(p, (struct pay_provider_request){.op = PAY_PROVIDER_LOOKUP,
							 .idempotency_key = "ping"});
		if (s.outcome == PAY_PROVIDER_NOT_FOUND)
			break;
		if (waitpid(psp->pid, NULL, WNOHANG) == psp->pid)
			fail_msg("%s exited at start", bin);
		if (now_s() > deadline)
			fail_msg("%s not up in 10 s: %s", bin, s.error);
	}
	pay_provider_destroy(p);
}

static int
setup(void **state)
{
	*state = calloc(1, sizeof(struct psp));
	return *state ? 0 : -1;
}

/* Stops the test's souk-psp, if it started one, even when the test failed. */
static int
teardown(void **state)
{
	struct psp *psp = *state;
	int ret = 0;

	if (psp->pid > 0) {
		kill(psp->pid, SIGTERM);
		ret = waitpid(psp->pid, NULL, 0) == psp->pid ? 0 : -1;
	}
	free(psp);
	return ret;
}

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	FILE *f = arg;

	return fwrite(data, size, nmemb, f);
}

/* How many operations GET /v1/ledger/{payment_id} lists under key. */
static size_t
ledger_count(const struct psp *psp, const char *payment_id, const char *key)
{
	static const souk_json_limits_t limits = {1 << 20, 8, 1000};
	const souk_json_value_t *ops;
	souk_json_error_t jerr;
	souk_json_t *doc;
	char url[256], *buf = NULL;
	size_t len = 0, count = 0;
	FILE *f = open_memstream(&buf, &len);
	CURL *easy = curl_easy_init();
	long status = 0;

	snprintf(url, sizeof(url), "%s/v1/ledger/%s", psp->url, payment_id);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, f);
	assert_int_equal(curl_easy_perform(easy), CURLE_OK);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(easy);
	fclose(f);
	assert_int_equal(status, 200);
	if (!(doc = souk_json_parse(buf, len, &limits, &jerr)))
		fail_msg("ledger %s: %s", buf, jerr.message);
	ops = souk_json_object_get(souk_json_root(doc), "operations");
	assert_non_null(ops);
	for (size_t i = 0; i < souk_json_array_size(ops); i++) {
		const souk_json_value_t *k =
		    souk_json_object_get(souk_json_array_get(ops, i), "key");

		assert_non_null(k);
		count += !strcmp(souk_json_string(k, NULL), key);
	}
	souk_json_destroy(doc);
	free(buf);
	return count;
}

static void
test_200_in_flight_take_about_one_latency(void **state)
{
	enum { N = 200 };
	struct psp *psp = *state;
	struct pay_provider *p;
	static struct seen seen[N];
	char keys[N][64], ids[N][64];
	double start, took;
	int ok = 0;

	psp_start(psp, "psp.latency=100ms", NULL);
	p = client(psp->url, TIMEOUT_MS);
	memset(seen, 0, sizeof(seen));
	start = now_s();
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%s-auth-%d", psp->run, i);
		snprintf(ids[i], sizeof(ids[i]), "%s-p-%d", psp->run, i);
		submit(p,
		       &(struct pay_provider_request){.op = PAY_PROVIDER_AUTHORIZE,
						      .idempotency_key = keys[i],
						      .payment_id = ids[i],
						      .amount = 1000 + i,
						      .currency = "EUR"},
		       &seen[i]);
	}
	assert_int_equal(pay_provider_pending(p), N);
	run_all(p);
	took = now_s() - start;
	for (int i = 0; i < N; i++) {
		assert_int_equal(seen[i].calls, 1);
		if (seen[i].outcome != PAY_PROVIDER_OK)
			fail_msg("request %d: %s %s", i,
				 pay_provider_outcome_name(seen[i].outcome),
				 seen[i].error);
		assert_string_equal(seen[i].status, "authorized");
		assert_int_equal(seen[i].amount, 1000 + i);
		ok += !strncmp(seen[i].provider_ref, "psp_", 4);
	}
	assert_int_equal(ok, N);
	print_message("%d authorizations at 100 ms latency: %.2f s\n", N, took);
	assert_true(took >= 0.1);
	assert_true(took < 2.0);
	pay_provider_destroy(p);
}

static void
test_same_key_is_one_operation_and_refusals_are_definite(void **state)
{
	struct psp *psp = *state;
	struct pay_provider *p;
	struct seen first, s;
	char pid[64], key[80], cap[80];

	psp_start(psp, NULL);
	p = client(psp->url, TIMEOUT_MS);
	snprintf(pid, sizeof(pid), "%s-p", psp->run);
	snprintf(key, sizeof(key), "%s-auth", psp->run);
	struct pay_provider_request auth = {.op = PAY_PROVIDER_AUTHORIZE,
					    .idempotency_key = key,
					    .payment_id = pid,
					    .amount = 1000,
					    .currency = "EUR"};
	first = ask(p, auth);
	assert_int_equal(first.outcome, PAY_PROVIDER_OK);
	for (int i = 0; i < 2; i++) {
		s = ask(p, auth);
		assert_int_equal(s.outcome, PAY_PROVIDER_OK);
		assert_string_equal(s.provider_ref, first.provider_ref);
	}
	assert_int_equal(ledger_count(psp, pid, key), 1);

	/* same key, other amount */
	auth.amount = 2000;
	s = ask(p, auth);
	assert_int_equal(s.outcome, PAY_PROVIDER_REFUSED);
	assert_string_equal(s.code, "idempotency_key_reused");

	/* capture over the authorization */
	snprintf(cap, sizeof(cap), "%s-cap", psp->run);
	s = ask(p, (struct pay_provider_request){.op = PAY_PROVIDER_CAPTURE,
						 .idempotency_key = cap,
						 .provider_ref = first.provider_ref,
						 .amount = 1001});
	assert_int_equal(s.outcome, PAY_PROVIDER_REFUSED);
	assert_int_equal(s.http_status, 409);
	assert_string_equal(s.code, "illegal_state");
	assert_non_null(strstr(s.error, "only 1000 authorized"));
	assert_int_equal(ledger_count(psp, pid, key), 1);
	assert_int_equal(ledger_count(psp, pid, cap), 0);

	/* a LOOKUP of the refused key gives the stored refusal */
	s = ask(p, (struct pay_provider_request){.op = PAY_PROVIDER_LOOKUP,
						 .idempotency_key = cap});
	assert_int_equal(s.outcome, PAY_PROVIDER_REFUSED);
	assert_string_equal(s.code, "illegal_state");

	s = ask(p,
		(struct pay_provider_request){.op = PAY_PROVIDER_LOOKUP,
					      .idempotency_key = "never used / at all"});
	assert_int_equal(s.outcome, PAY_PROVIDER_NOT_FOUND);
	assert_int_equal(s.http_status, 404);
	pay_provider_destroy(p);
}

static void
test_provider_error_and_refused_connection_fail(void **state)
{
	struct psp *psp = *state;
	struct pay_provider *p;
	struct seen s;
	char url[64], pid[64], key[80];

	psp_start(psp, "psp.error_rate=1", NULL);
	p = client(psp->url, TIMEOUT_MS);
	snprintf(pid, sizeof(pid), "%s-p", psp->run);
	snprintf(key, sizeof(key), "%s-auth", psp->run);
	struct pay_provider_request auth = {.op = PAY_PROVIDER_AUTHORIZE,
					    .idempotency_key = key,
					    .payment_id = pid,
					    .amount = 500,
					    .currency = "EUR"};
	s = ask(p, auth);
	assert_int_equal(s.outcome, PAY_PROVIDER_FAILED);
	assert_int_equal(s.http_status, 500);
	assert_string_equal(s.code, "provider_error");
	assert_int_equal(ledger_count(psp, pid, key), 0);
	s = ask(p, (struct pay_provider_request){.op = PAY_PROVIDER_LOOKUP,
						 .idempotency_key = key});
	assert_int_equal(s.outcome, PAY_PROVIDER_NOT_FOUND);
	pay_provider_destroy(p);
	kill(psp->pid, SIGTERM);
	assert_int_equal(waitpid(psp->pid, NULL, 0), psp->pid);
	psp->pid = 0;

	/* nothing listens any more */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", free_port());
	p = client(url, TIMEOUT_MS);
	s = ask(p, auth);
	assert_int_equal(s.outcome, PAY_PROVIDER_FAILED);
	assert_int_equal(s.http_status, 0);
	assert_true(s.error[0] != '\0');
	pay_provider_destroy(p);
}

static void
test_timeout_is_unknown_then_lookup_finds_it_applied(void **state)
{
	struct psp *psp = *state;
	struct pay_provider *p;
	struct seen s, found;
	char pid[64], key[80];
	double start;

	psp_start(psp, "psp.timeout_rate=1", "psp.timeout_delay=2s", NULL);
	p = client(psp->url, 300);
	snprintf(pid, sizeof(pid), "%s-p", psp->run);
	snprintf(key, sizeof(key), "%s-auth", psp->run);
	start = now_s();
	s = ask(p, (struct pay_provider_request){.op = PAY_PROVIDER_AUTHORIZE,
						 .idempotency_key = key,
						 .payment_id = pid,
						 .amount = 700,
						 .currency = "EUR"});
	assert_int_equal(s.outcome, PAY_PROVIDER_UNKNOWN);
	assert_int_equal(s.http_status, 0);
	assert_true(now_s() - start < 1.0);
	found = ask(p, (struct pay_provider_request){.op = PAY_PROVIDER_LOOKUP,
						     .idempotency_key = key});
	if (found.outcome != PAY_PROVIDER_OK)
		fail_msg("lookup: %s %s", pay_provider_outcome_name(found.outcome),
			 found.error);
	assert_int_equal(found.http_status, 200);
	assert_string_equal(found.status, "authorized");
	assert_int_equal(found.amount, 700);
	assert_int_equal(strncmp(found.provider_ref, "psp_", 4), 0);
	assert_int_equal(ledger_count(psp, pid, key), 1);
	pay_provider_destroy(p);
}

/*
 * The provider dies after it applied a request whose answer was still to come. The
 * request went out on a connection an earlier answer left open, so libcurl, finding
 * that connection closed without a byte of answer, retries it on a fresh one, which
 * is refused: CURLE_COULDNT_CONNECT although the request was sent. The outcome must be
 * UNKNOWN (the pool parks the payment and asks later), not FAILED ("nothing was
 * sent", which the pool answers provider_unavailable without storing anything); the
 * provider, back from its journal, shows the authorization applied.
 */
static void
test_connection_lost_after_sending_is_unknown(void **state)
{
	struct psp *psp = *state;
	struct pay_provider *p;
	struct seen s = {0}, found;
	char journal[128], setting[160], pid[64], key[80], err[256];
	double until;

	snprintf(journal, sizeof(journal), "/tmp/souk-test-pay-provider-%ld.journal",
		 (long)getpid());
	unlink(journal);
	snprintf(setting, sizeof(setting), "psp.journal=%s", journal);
	psp_start(psp, setting, "psp.timeout_rate=1", "psp.timeout_delay=30s", NULL);
	p = client(psp->url, TIMEOUT_MS);
	snprintf(pid, sizeof(pid), "%s-p", psp->run);
	snprintf(key, sizeof(key), "%s-auth", psp->run);
	/* an answer first, so that the authorization reuses its connection */
	assert_int_equal(ask(p, (struct pay_provider_request){.op = PAY_PROVIDER_LOOKUP,
							      .idempotency_key = key})
			     .outcome,
			 PAY_PROVIDER_NOT_FOUND);
	submit(p,
	       &(struct pay_provider_request){.op = PAY_PROVIDER_AUTHORIZE,
					      .idempotency_key = key,
					      .payment_id = pid,
					      .amount = 900,
					      .currency = "EUR"},
	       &s);
	/* applied at once (no latency), its answer held back 30 s */
	for (until = now_s() + 0.5; now_s() < until;)
		if (pay_provider_run(p, 100, err, sizeof(err)) < 0)
			fail_msg("%s", err);
	assert_int_equal(s.calls, 0);
	kill(psp->pid, SIGKILL);
	assert_int_equal(waitpid(psp->pid, NULL, 0), psp->pid);
	psp->pid = 0;
	run_all(p);
	assert_int_equal(s.calls, 1);
	if (s.outcome != PAY_PROVIDER_UNKNOWN)
		fail_msg("connection lost after sending: %s (%s), want unknown",
			 pay_provider_outcome_name(s.outcome), s.error);
	pay_provider_destroy(p);

	psp_start(psp, setting, NULL); /* same port, same journal */
	p = client(psp->url, TIMEOUT_MS);
	found = ask(p, (struct pay_provider_request){.op = PAY_PROVIDER_LOOKUP,
						     .idempotency_key = key});
	if (found.outcome != PAY_PROVIDER_OK)
		fail_msg("lookup: %s %s", pay_provider_outcome_name(found.outcome),
			 found.error);
	assert_string_equal(found.status, "authorized");
	assert_int_equal(found.amount, 900);
	pay_provider_destroy(p);
	unlink(journal);
}

static void
test_submit_names_the_missing_field(void **state)
{
	struct pay_provider *p = client("http://127.0.0.1:1", TIMEOUT_MS);
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(
	    pay_provider_submit(p,
				&(struct pay_provider_request){.op = PAY_PROVIDER_CAPTURE,
							       .idempotency_key = "k",
							       .amount = 1},
				remember, &s, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "provider_ref"));
	assert_int_equal(pay_provider_submit(p,
					     &(struct pay_provider_request){
						 .op = PAY_PROVIDER_VOID,
						 .idempotency_key = "k\r\nX: y",
						 .provider_ref = "psp_x"},
					     remember, &s, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "idempotency_key"));
	assert_int_equal(pay_provider_pending(p), 0);
	assert_int_equal(s.calls, 0);
	pay_provider_destroy(p);
	assert_null(pay_provider_new("ftp://x", TIMEOUT_MS, err, sizeof(err)));
	assert_non_null(strstr(err, "ftp://x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_submit_names_the_missing_field),
	    cmocka_unit_test_setup_teardown(test_200_in_flight_take_about_one_latency,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_same_key_is_one_operation_and_refusals_are_definite, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_provider_error_and_refused_connection_fail, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_timeout_is_unknown_then_lookup_finds_it_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_lost_after_sending_is_unknown,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
