#include "souk_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set once by main() before threads start; relaxed loads are enough because nothing
 * else is published through them. */
static _Atomic int log_level = SOUK_LOG_LEVEL_INFO;
static _Atomic int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Bytes wrapped around every value in the rewritten format, so that values can be
 * found again in the formatted text and quoted. 0xfe and 0xff never occur in UTF-8;
 * a value that holds them anyway is split at them, and since every control byte is
 * escaped the line still stays one line. */
#define VALUE_START '\xfe'
#define VALUE_END '\xff'

void
souk_log_set_level(enum souk_log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum souk_log_level
souk_log_get_level(void)
{
	return (enum souk_log_level)atomic_load_explicit(&log_level,
							 memory_order_relaxed);
}

int
souk_log_level_from_name(const char *name, enum souk_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum souk_log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
souk_log_level_name(enum souk_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[level];
}

void
souk_log_set_fd(int fd)
{
	atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

/* Returns a malloc'd copy of fmt with VALUE_START after the first '=' of each
 * space-separated pair and VALUE_END where the pair ends. Conversion specifications
 * are copied whole, so the space flag ("% d") does not end a pair. NULL when out of
 * memory. Cost: O(strlen(fmt)). */
static char *
mark_values(const char *fmt)
{
	/* Each byte becomes at most two (itself and a mark), plus a final mark and NUL.
	 */
	char *marked = malloc(2 * strlen(fmt) + 2);
	char *w = marked;
	int in_value = 0;

	if (marked == NULL)
		return NULL;
	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p == '%') {
			*w++ = *p++;
			while (*p != '\0' && strchr("diouxXeEfFgGaAcspnm%", *p) == NULL)
				*w++ = *p++;
			if (*p == '\0')
				break;
			*w++ = *p;
		} else if (*p == ' ') {
			if (in_value)
				*w++ = VALUE_END;
			in_value = 0;
			*w++ = ' ';
		} else if (*p == '=' && !in_value) {
			*w++ = '=';
			*w++ = VALUE_START;
			in_value = 1;
		} else {
			*w++ = *p;
		}
	}
	if (in_value)
		*w++ = VALUE_END;
	*w = '\0';
	return marked;
}

static int
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static void
put_escaped(FILE *out, unsigned char c)
{
	switch (c) {
	case '"':
		fputs("\\\"", out);
		break;
	case '\\':
		fputs("\\\\", out);
		break;
	case '\n':
		fputs("\\n", out);
		break;
	case '\r':
		fputs("\\r", out);
		break;
	case '\t':
		fputs("\\t", out);
		break;
	default:
		if (is_control(c))
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

/* Writes a value bare, or quoted and escaped when it is empty or holds a byte that
 * would make the line ambiguous. */
static void
put_value(FILE *out, const char *value, size_t len)
{
	int quote = len == 0;

	for (size_t i = 0; i < len && !quote; i++)
		quote = strchr(" \"=\\", value[i]) != NULL ||
			is_control((unsigned char)value[i]);
	if (!quote) {
		fwrite(value, 1, len, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < len; i++)
		put_escaped(out, (unsigned char)value[i]);
	fputc('"', out);
}

/* Copies formatted pairs to out, quoting each marked value. Text outside the marks
 * (keys, spaces) comes from the format; control bytes there are escaped too. */
static void
put_pairs(FILE *out, const char *text, size_t len)
{
	const char *end = text + len;

	for (const char *p = text; p < end; p++) {
		if (*p == VALUE_START) {
			const char *stop =
			    memchr(p + 1, VALUE_END, (size_t)(end - p - 1));

			if (stop == NULL)
				stop = end;
			put_value(out, p + 1, (size_t)(stop - p - 1));
			p = stop < end ? stop : end - 1;
		} else if (*p != VALUE_END) {
			unsigned char c = (unsigned char)*p;

			if (is_control(c))
				fprintf(out, "\\x%02x", c);
			else
				fputc(c, out);
		}
	}
}

static void
put_timestamp(FILE *out)
{
	struct timespec now;
	struct tm tm;
	char date[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(out, "ts=%s.%03ldZ", date, now.tv_nsec / 1000000);
}

/* One write(2) per line: whole lines on regular files opened with O_APPEND and on
 * pipes up to PIPE_BUF (4096) bytes; longer lines on a pipe may be split by the
 * kernel. */
static void
write_line(const char *line, size_t len)
{
	int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);

	while (len > 0) {
		ssize_t n = write(fd, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

void
souk_log(enum souk_log_level level, const char *event, const char *fmt, ...)
{
	char *marked = NULL;
	char *pairs = NULL;
	int pairs_len = 0;
	char *line = NULL;
	size_t line_len = 0;
	FILE *out = NULL;
	va_list ap;

	if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	if (fmt != NULL) {
		marked = mark_values(fmt);
		if (marked == NULL)
			goto out;
		va_start(ap, fmt);
		pairs_len = vasprintf(&pairs, marked, ap);
		va_end(ap);
		if (pairs_len < 0) {
			pairs = NULL;
			goto out;
		}
	}
	out = open_memstream(&line, &line_len);
	if (out == NULL)
		goto out;
	put_timestamp(out);
	fprintf(out, " level=%s event=", souk_log_level_name(level));
	put_value(out, event, strlen(event));
	if (pairs_len > 0) {
		fputc(' ', out);
		put_pairs(out, pairs, (size_t)pairs_len);
	}
	fputc('\n', out);
	if (fclose(out) == 0)
		write_line(line, line_len);
	out = NULL;
out:
	if (out != NULL)
		fclose(out);
	free(line);
	free(pairs);
	free(marked);
}
