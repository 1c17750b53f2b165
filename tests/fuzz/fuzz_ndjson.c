/*
 * fuzz_ndjson: the NDJSON splitter against a byte-by-byte reference.
 *
 * The reference walks the buffer one byte at a time and applies the rules of
 * souk_ndjson.h literally: a line ends at '\n' or at the end of the buffer, one '\r'
 * before the '\n' is dropped, lines are numbered from 1 counting blank ones, and lines
 * of only ' ', '\t' and '\r' are skipped. The splitter must return exactly the
 * reference's lines (same pointer, length and number), then 0, and 0 again.
 */
#include <stdint.h>

#include "check.h"
#include "souk_ndjson.h"

static int
blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *line;
	struct souk_ndjson it;
	size_t start = 0, line_len;
	unsigned long lineno = 0;

	souk_ndjson_init(&it, buf, size);
	for (size_t i = 0; i <= size; i++) {
		size_t end = i;

		if (i == size && start == size)
			break; /* a final '\n' does not open an empty last line */
		if (i < size && buf[i] != '\n')
			continue;
		lineno++;
		if (end > start && buf[end - 1] == '\r')
			end--;
		if (!blank(buf + start, end - start)) {
			FUZZ_CHECK(souk_ndjson_next(&it, &line, &line_len) == 1,
				   "line %lu (bytes %zu..%zu) missed", lineno, start,
				   end);
			FUZZ_CHECK(line == buf + start && line_len == end - start,
				   "line %lu: got bytes %td..%td, want %zu..%zu", lineno,
				   line - buf, line - buf + (ptrdiff_t)line_len, start,
				   end);
			FUZZ_CHECK(it.lineno == lineno, "line %lu numbered %lu", lineno,
				   it.lineno);
		}
		start = i + 1;
	}
	FUZZ_CHECK(souk_ndjson_next(&it, &line, &line_len) == 0,
		   "a line past the last one, at byte %td", line - buf);
	FUZZ_CHECK(souk_ndjson_next(&it, &line, &line_len) == 0,
		   "a line after the end was reported");
	return 0;
}
