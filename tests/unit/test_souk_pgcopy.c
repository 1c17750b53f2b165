/*
 * souk_pgcopy: the bytes of PostgreSQL's binary COPY format (header, field count, field
 * lengths, network byte order, -1 for NULL, jsonb's version byte, trailer) and the
 * failures it reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "souk_pgcopy.h"

static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

static void
test_an_empty_copy_is_header_and_trailer(void **state)
{
	struct souk_pgcopy c;
	char errstr[128];

	(void)state;
	souk_pgcopy_init(&c);
	assert_int_equal(souk_pgcopy_finish(&c, errstr, sizeof(errstr)), 0);
	assert_int_equal(c.len, sizeof(header) + 2);
	assert_memory_equal(c.buf, header, sizeof(header));
	assert_memory_equal(c.buf + sizeof(header), "\xff\xff", 2);
	assert_int_equal(c.rows, 0);
	souk_pgcopy_free(&c);
}

static void
test_a_row_of_every_kind(void **state)
{
	static const char want[] =
	    "\x00\x07"				       /* 7 fields */
	    "\x00\x00\x00\x04\x80\x00\x00\x01"	       /* int4 -2147483647 */
	    "\x00\x00\x00\x08\xff\xff\xff\xff\xff\xff\xff\xfe" /* int8 -2 */
	    "\xff\xff\xff\xff"			       /* NULL */
	    "\x00\x00\x00\x02hi"		       /* text */
	    "\x00\x00\x00\x03\x00\x01\x02"	       /* bytea with a NUL */
	    "\x00\x00\x00\x10\x5f\x0e\x8d\x3c\x2b\x1a\x4e\x9f\x8d\x7c\x6b\x5a\x4c\x3d"
	    "\x2e\x1f"				       /* uuid */
	    "\x00\x00\x00\x03\x01{}";		       /* jsonb: version 1, text */
	struct souk_pgcopy c;
	char errstr[128];

	(void)state;
	souk_pgcopy_init(&c);
	souk_pgcopy_row(&c, 7);
	souk_pgcopy_int4(&c, -2147483647);
	souk_pgcopy_int8(&c, -2);
	souk_pgcopy_str(&c, NULL);
	souk_pgcopy_str(&c, "hi");
	souk_pgcopy_bytes(&c, "\x00\x01\x02", 3);
	souk_pgcopy_uuid(&c, "5F0E8D3C-2b1a-4e9f-8d7c-6b5a4c3d2e1f");
	souk_pgcopy_jsonb(&c, "{}");
	assert_int_equal(souk_pgcopy_finish(&c, errstr, sizeof(errstr)), 0);
	assert_int_equal(c.rows, 1);
	assert_int_equal(c.len, sizeof(header) + sizeof(want) - 1 + 2);
	assert_memory_equal(c.buf + sizeof(header), want, sizeof(want) - 1);
	souk_pgcopy_free(&c);
}

static void
test_an_empty_uuid_is_null(void **state)
{
	struct souk_pgcopy c;
	char errstr[128];

	(void)state;
	souk_pgcopy_init(&c);
	souk_pgcopy_row(&c, 2);
	souk_pgcopy_uuid(&c, "");
	souk_pgcopy_uuid(&c, NULL);
	assert_int_equal(souk_pgcopy_finish(&c, errstr, sizeof(errstr)), 0);
	assert_memory_equal(c.buf + sizeof(header), "\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff",
			    10);
	souk_pgcopy_free(&c);
}

static void
test_a_bad_uuid_fails_the_copy(void **state)
{
	static const char *const bad[] = {
	    "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1",   /* short */
	    "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1f0", /* long */
	    "5f0e8d3c+2b1a-4e9f-8d7c-6b5a4c3d2e1f",  /* no hyphen */
	    "5f0e8d3c-2b1a-4e9f-8d7c-6b5a4c3d2e1g",  /* not hex */
	    "order-1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct souk_pgcopy c;
		char errstr[128] = "";

		souk_pgcopy_init(&c);
		souk_pgcopy_row(&c, 1);
		souk_pgcopy_uuid(&c, bad[i]);
		assert_int_equal(souk_pgcopy_finish(&c, errstr, sizeof(errstr)), -1);
		assert_non_null(strstr(errstr, "not a UUID"));
		souk_pgcopy_free(&c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_an_empty_copy_is_header_and_trailer),
	    cmocka_unit_test(test_a_row_of_every_kind),
	    cmocka_unit_test(test_an_empty_uuid_is_null),
	    cmocka_unit_test(test_a_bad_uuid_fails_the_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
