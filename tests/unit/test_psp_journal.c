/*
 * psp_journal: appended lines come back in order when the file is opened again; a
 * last line cut short by a crash is dropped and cut off the file, so later appends
 * start on a clean line; a failing reader stops the open with the file and line named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "psp_journal.h"

struct tmpdir {
	char dir[64];
	char path[96];
};

static int
dir_setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/souk-psp-journal-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/journal", t->dir);
	*state = t;
	return 0;
}

static int
dir_teardown(void **state)
{
	struct tmpdir *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Collects the lines read at open, joined by '|'. */
struct lines {
	char text[256];
	unsigned long last;
	unsigned long fail_at; /* 0: never fail */
};

static int
collect(const char *line, size_t len, unsigned long lineno, void *opaque, char *errstr,
	size_t errstr_size)
{
	struct lines *l = opaque;
	size_t used = strlen(l->text);

	assert_int_equal(strlen(line), len);
	if (lineno == l->fail_at) {
		snprintf(errstr, errstr_size, "bad line \"%s\"", line);
		return -1;
	}
	snprintf(l->text + used, sizeof(l->text) - used, "%s%s", used ? "|" : "", line);
	l->last = lineno;
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void
read_file(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void
test_lines_come_back_in_order(void **state)
{
	struct tmpdir *t = *state;
	struct lines l = {.text = ""};
	char err[256], text[256];
	struct psp_journal *j = psp_journal_open(t->path, collect, &l, err, sizeof(err));

	assert_non_null(j);
	assert_string_equal(l.text, ""); /* created empty */
	assert_int_equal(psp_journal_append(j, "{\"a\":1}", 7, err, sizeof(err)), 0);
	assert_int_equal(psp_journal_append(j, "{\"b\":2}", 7, err, sizeof(err)), 0);
	psp_journal_close(j);
	read_file(t->path, text, sizeof(text));
	assert_string_equal(text, "{\"a\":1}\n{\"b\":2}\n");

	j = psp_journal_open(t->path, collect, &l, err, sizeof(err));
	assert_non_null(j);
	assert_string_equal(l.text, "{\"a\":1}|{\"b\":2}");
	assert_int_equal(l.last, 2);
	psp_journal_close(j);
}

static void
test_a_torn_last_line_is_cut_off(void **state)
{
	struct tmpdir *t = *state;
	struct lines l = {.text = ""};
	char err[256], text[256];
	struct psp_journal *j;

	write_file(t->path, "one\ntwo\nthr");
	j = psp_journal_open(t->path, collect, &l, err, sizeof(err));
	assert_non_null(j);
	assert_string_equal(l.text, "one|two");
	assert_int_equal(psp_journal_append(j, "three", 5, err, sizeof(err)), 0);
	psp_journal_close(j);
	read_file(t->path, text, sizeof(text));
	assert_string_equal(text, "one\ntwo\nthree\n");
}

static void
test_a_refused_line_fails_the_open(void **state)
{
	struct tmpdir *t = *state;
	struct lines l = {.text = "", .fail_at = 2};
	char err[256], want[160];

	write_file(t->path, "one\ntwo\nthree\n");
	assert_null(psp_journal_open(t->path, collect, &l, err, sizeof(err)));
	snprintf(want, sizeof(want), "journal %s:2: bad line \"two\"", t->path);
	assert_string_equal(err, want);
}

static void
test_an_unreadable_path_is_named(void **state)
{
	struct tmpdir *t = *state;
	struct lines l = {.text = ""};
	char err[256], path[128];

	snprintf(path, sizeof(path), "%s/missing/journal", t->dir);
	assert_null(psp_journal_open(path, collect, &l, err, sizeof(err)));
	assert_non_null(strstr(err, "could not read journal"));
	assert_non_null(strstr(err, path));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lines_come_back_in_order, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_a_torn_last_line_is_cut_off, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_a_refused_line_fails_the_open, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_an_unreadable_path_is_named, dir_setup,
					    dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
