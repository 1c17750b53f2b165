/* souk_log: line format, quoting, level filtering, whole lines from threads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "souk_log.h"

/* The log goes to an unlinked temporary file opened with O_APPEND, read back and
 * emptied by take_output(). */
static int log_file = -1;
static char output[1 << 20];

static int
setup(void **state)
{
	char path[] = "/tmp/test_souk_log.XXXXXX";

	(void)state;
	log_file = mkstemp(path);
	if (log_file < 0)
		return -1;
	unlink(path);
	fcntl(log_file, F_SETFL, O_APPEND);
	souk_log_set_fd(log_file);
	souk_log_set_level(SOUK_LOG_LEVEL_INFO);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	souk_log_set_fd(STDERR_FILENO);
	souk_log_set_level(SOUK_LOG_LEVEL_INFO);
	close(log_file);
	return 0;
}

/* Everything logged since the last call, NUL-terminated. */
static const char *
take_output(void)
{
	ssize_t n = pread(log_file, output, sizeof(output) - 1, 0);

	assert_true(n >= 0);
	output[n] = '\0';
	assert_int_equal(ftruncate(log_file, 0), 0);
	return output;
}

/* Checks "ts=YYYY-MM-DDTHH:MM:SS.mmmZ " and returns what follows it. */
static const char *
skip_timestamp(const char *line)
{
	const char *pattern = "ts=dddd-dd-ddTdd:dd:dd.dddZ ";

	for (size_t i = 0; pattern[i] != '\0'; i++) {
		if (pattern[i] == 'd')
			assert_true(line[i] >= '0' && line[i] <= '9');
		else
			assert_int_equal(line[i], pattern[i]);
	}
	return line + strlen(pattern);
}

static void
test_line_format(void **state)
{
	(void)state;
	SOUK_LOG_INFO("order_accepted", "order_id=%s qty=%d", "o-1", 2);
	assert_string_equal(skip_timestamp(take_output()),
			    "level=info event=order_accepted order_id=o-1 qty=2\n");
}

static void
test_event_without_pairs(void **state)
{
	(void)state;
	SOUK_LOG_WARN("shutting_down", NULL);
	assert_string_equal(skip_timestamp(take_output()),
			    "level=warn event=shutting_down\n");
}

static void
test_values_quoted_when_needed(void **state)
{
	(void)state;
	SOUK_LOG_ERROR("bad event", "reason=%s quote=%s empty=%s eq=%s path=%s",
		       "two words", "say \"hi\"", "", "a=b", "C:\\tmp");
	assert_string_equal(
	    skip_timestamp(take_output()),
	    "level=error event=\"bad event\" reason=\"two words\" "
	    "quote=\"say \\\"hi\\\"\" empty=\"\" eq=\"a=b\" path=\"C:\\\\tmp\"\n");
}

static void
test_control_bytes_keep_one_line(void **state)
{
	(void)state;
	SOUK_LOG_INFO("decode_failed", "input=%s", "{\"a\":\n1}\r\t\x01");
	assert_string_equal(skip_timestamp(take_output()),
			    "level=info event=decode_failed "
			    "input=\"{\\\"a\\\":\\n1}\\r\\t\\x01\"\n");
}

static void
test_conversions_with_spaces_and_percent(void **state)
{
	(void)state;
	/* "% d" holds a space inside the conversion; "%%" is a literal percent. */
	SOUK_LOG_INFO("progress", "done=%d%% pad=% d ratio=%.2f", 50, 7, 0.5);
	assert_string_equal(skip_timestamp(take_output()),
			    "level=info event=progress done=50% pad=\" 7\" ratio=0.50\n");
}

static void
test_level_filtering(void **state)
{
	(void)state;
	souk_log_set_level(SOUK_LOG_LEVEL_WARN);
	SOUK_LOG_DEBUG("dropped_debug", "n=%d", 1);
	SOUK_LOG_INFO("dropped_info", "n=%d", 2);
	assert_string_equal(take_output(), "");
	SOUK_LOG_WARN("kept_warn", "n=%d", 3);
	assert_string_equal(skip_timestamp(take_output()),
			    "level=warn event=kept_warn n=3\n");
	SOUK_LOG_ERROR("kept_error", "n=%d", 4);
	assert_string_equal(skip_timestamp(take_output()),
			    "level=error event=kept_error n=4\n");

	souk_log_set_level(SOUK_LOG_LEVEL_DEBUG);
	SOUK_LOG_DEBUG("now_kept", "n=%d", 5);
	assert_string_equal(skip_timestamp(take_output()),
			    "level=debug event=now_kept n=5\n");
}

static void
test_level_names(void **state)
{
	enum souk_log_level level = SOUK_LOG_LEVEL_ERROR;

	(void)state;
	assert_int_equal(souk_log_level_from_name("debug", &level), 0);
	assert_int_equal(level, SOUK_LOG_LEVEL_DEBUG);
	assert_int_equal(souk_log_level_from_name("warn", &level), 0);
	assert_int_equal(level, SOUK_LOG_LEVEL_WARN);
	assert_int_equal(souk_log_level_from_name("verbose", &level), -1);
	assert_int_equal(level, SOUK_LOG_LEVEL_WARN);
	assert_string_equal(souk_log_level_name(SOUK_LOG_LEVEL_INFO), "info");
	assert_string_equal(souk_log_level_name(SOUK_LOG_LEVEL_ERROR), "error");
}

#define THREADS 4
#define LINES_PER_THREAD 500

static void *
log_lines(void *arg)
{
	int thread = (int)(size_t)arg;

	for (int i = 0; i < LINES_PER_THREAD; i++)
		SOUK_LOG_INFO("tick", "thread=%d i=%d pad=%s", thread, i,
			      "................................................");
	return NULL;
}

static void
test_threads_write_whole_lines(void **state)
{
	pthread_t threads[THREADS];
	int per_thread[THREADS] = {0};
	int lines = 0;
	char *save = NULL;

	(void)state;
	for (size_t t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, log_lines, (void *)t),
				 0);
	for (size_t t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);

	for (char *line = strtok_r((char *)take_output(), "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		int thread;
		int i;
		char pad[64];

		assert_int_equal(sscanf(skip_timestamp(line),
					"level=info event=tick thread=%d i=%d pad=%63s",
					&thread, &i, pad),
				 3);
		assert_in_range(thread, 0, THREADS - 1);
		assert_int_equal(i, per_thread[thread]++);
		assert_int_equal(strlen(pad), 48);
		lines++;
	}
	assert_int_equal(lines, THREADS * LINES_PER_THREAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_without_pairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_values_quoted_when_needed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_control_bytes_keep_one_line, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_conversions_with_spaces_and_percent,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_level_filtering, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_write_whole_lines, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
