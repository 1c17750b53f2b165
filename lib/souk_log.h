/* souk_log: one line per event, logfmt style, to stderr.
 *
 *   SOUK_LOG_INFO("order_accepted", "order_id=%s qty=%d", id, qty);
 *
 * writes, in one write(2) so that lines from threads never interleave:
 *
 *   ts=2026-11-27T20:46:36.123Z level=info event=order_accepted order_id=o-1 qty=2
 *
 * The format is a space-separated list of key=value pairs; each value (the text after
 * the first '=' of a pair, up to the next space of the format) is formatted with
 * printf rules and then quoted when it is empty or holds a space, '"', '=', '\' or a
 * control character: "a \"b\"\n" (backslash escapes inside the quotes). So a value
 * never breaks the line apart, whatever bytes it holds. Pairs in the format hold no
 * space of their own outside conversions ("k=%s" is fine, "k=two words" is not).
 *
 * The level threshold and the output fd are process-wide atomics, set once at start
 * by main() (they are not configuration that changes at run time); every other
 * function here is thread-safe. */
#ifndef SOUK_LOG_H
#define SOUK_LOG_H

enum souk_log_level {
	SOUK_LOG_LEVEL_DEBUG,
	SOUK_LOG_LEVEL_INFO,
	SOUK_LOG_LEVEL_WARN,
	SOUK_LOG_LEVEL_ERROR,
};

/* Lines below level are dropped before any formatting. The default is info. */
void souk_log_set_level(enum souk_log_level level);
enum souk_log_level souk_log_get_level(void);

/* "debug", "info", "warn" or "error" -> *level. Returns 0, or -1 for any other name
 * (*level untouched). */
int souk_log_level_from_name(const char *name, enum souk_log_level *level);
const char *souk_log_level_name(enum souk_log_level level);

/* Lines go to fd (default 2, stderr); the fd stays owned by the caller. Tests point
 * it at a pipe. */
void souk_log_set_fd(int fd);

/* Formats and writes one line if level passes the threshold; fmt NULL for an event
 * without pairs (an empty format string trips -Wformat-zero-length). Cost: a few small
 * allocations and one write(2) per line written; one atomic load when dropped. A line
 * that cannot be built (out of memory) is dropped. */
void souk_log(enum souk_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SOUK_LOG_DEBUG(event, ...) souk_log(SOUK_LOG_LEVEL_DEBUG, event, __VA_ARGS__)
#define SOUK_LOG_INFO(event, ...) souk_log(SOUK_LOG_LEVEL_INFO, event, __VA_ARGS__)
#define SOUK_LOG_WARN(event, ...) souk_log(SOUK_LOG_LEVEL_WARN, event, __VA_ARGS__)
#define SOUK_LOG_ERROR(event, ...) souk_log(SOUK_LOG_LEVEL_ERROR, event, __VA_ARGS__)

#endif
