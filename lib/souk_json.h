/*
 * souk_json: a bounded, read-only JSON document tree built with yajl's callback parser.
 *
 * Why not yajl_tree: we need limits checked while parsing (size, depth, members), byte
 * offsets in errors, duplicate keys rejected and numbers kept as text + int64 + double.
 *
 * Rules (RFC 8259 plus what an untrusted producer must not get away with):
 *   - input larger than limits->max_bytes is rejected before parsing;
 *   - containers nested deeper than limits->max_depth are rejected (the top level is
 *     depth 1), so is an object or array with more than limits->max_members entries;
 *   - strings must be valid UTF-8 (yajl checks the bytes; we also reject overlong
 *     forms, surrogates and code points above U+10FFFF, escaped or not);
 *   - duplicate keys in one object, trailing non-whitespace, empty (or blank) input,
 *     comments, NaN/Infinity and numbers that overflow a double are rejected.
 * Numbers are read with strtod when not exact by simpler means, so the process must
 * run in the "C" numeric locale (the default: nothing in souk calls setlocale).
 *
 * Cost: parsing is O(bytes), one pass when every string is ASCII without escapes and
 * two otherwise, plus O(k) per key for the duplicate check, so O(k^2) per object of k
 * members (k <= max_members). Memory is one arena owned by the document, about 64
 * bytes per value plus the string bytes, in a souk_json_space_t and then in 16 KB
 * blocks from malloc; freed in one go. Parsing keeps no state between calls: any
 * number of threads may parse at once.
 */
#ifndef SOUK_JSON_H
#define SOUK_JSON_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

typedef struct souk_json souk_json_t;
typedef struct souk_json_value souk_json_value_t;

typedef enum souk_json_type {
	SOUK_JSON_NULL,
	SOUK_JSON_BOOL,
	SOUK_JSON_NUMBER,
	SOUK_JSON_STRING,
	SOUK_JSON_ARRAY,
	SOUK_JSON_OBJECT,
} souk_json_type_t;

typedef struct souk_json_limits {
	size_t max_bytes;   /* longer input is rejected unparsed */
	size_t max_depth;   /* deepest container nesting; the top level is depth 1 */
	size_t max_members; /* most members per object and elements per array */
} souk_json_limits_t;

typedef struct souk_json_error {
	/* Byte offset in the input where the problem was found, -1 when it concerns
	 * the input as a whole (too large, empty). For syntax errors it is where yajl
	 * stopped: at or just past the offending byte. */
	long offset;
	char message[256];
} souk_json_error_t;

/*
 * Parses buf[0..len) (need not be NUL-terminated) under *limits. Returns a document
 * the caller owns and frees with souk_json_destroy, or NULL with *err filled.
 */
souk_json_t *souk_json_parse(const char *buf, size_t len,
			     const souk_json_limits_t *limits, souk_json_error_t *err);
/*
 * Room for one document, for souk_json_parse_in. The document is laid out in it and
 * takes memory from malloc only once it is full: 4 KB hold the tree of an object of a
 * few dozen short members, such as any souk event.
 */
#define SOUK_JSON_SPACE_SIZE 4096
typedef struct souk_json_space {
	alignas(max_align_t) unsigned char bytes[SOUK_JSON_SPACE_SIZE];
} souk_json_space_t;

/*
 * Like souk_json_parse, with the document built in *space (the caller's stack, say),
 * so that a small document costs no malloc. The document is the caller's to free with
 * souk_json_destroy before space goes away or is used again; that frees only what
 * did not fit in space.
 */
souk_json_t *souk_json_parse_in(souk_json_space_t *space, const char *buf, size_t len,
				const souk_json_limits_t *limits, souk_json_error_t *err);
/* Frees the document and every value and string in it; NULL is fine. */
void souk_json_destroy(souk_json_t *doc);

/* The top-level value; it lives as long as the document, like every value below. */
const souk_json_value_t *souk_json_root(const souk_json_t *doc);

souk_json_type_t souk_json_type(const souk_json_value_t *v);
/* "null", "a boolean", "a number", "a string", "an array", "an object": for messages
 * such as `must be a string, got a number`. */
const char *souk_json_type_desc(souk_json_type_t type);

/* A short printable rendering of v for error messages, written to out (NUL-terminated,
 * cut to fit): numbers as written, strings in quotes, true, false and null, "an array"
 * or "an object". At most 40 bytes of the text are shown, bytes outside printable ASCII
 * as '?', a cut marked "...". Returns out. */
char *souk_json_describe(const souk_json_value_t *v, char *out, size_t size);

/* Where the value's text starts in the input and how many bytes it spans
 * (for strings, quotes included). */
size_t souk_json_offset(const souk_json_value_t *v);
size_t souk_json_length(const souk_json_value_t *v);

/* Objects keep their members in input order. 0 / NULL when v is not an object. */
size_t souk_json_object_size(const souk_json_value_t *v);
/* The member named key (a NUL-terminated string), NULL when absent. O(members). */
const souk_json_value_t *souk_json_object_get(const souk_json_value_t *v,
					      const char *key);
/* The i-th key (NUL-terminated; *len, if not NULL, counts bytes without the NUL, as a
 * key may hold an escaped NUL) and value; NULL when i is out of range. */
const char *souk_json_object_key(const souk_json_value_t *v, size_t i, size_t *len);
const souk_json_value_t *souk_json_object_value(const souk_json_value_t *v, size_t i);

/* Arrays. 0 / NULL when v is not an array or i is out of range. O(1). */
size_t souk_json_array_size(const souk_json_value_t *v);
const souk_json_value_t *souk_json_array_get(const souk_json_value_t *v, size_t i);

/* The decoded string, NUL-terminated, NULL when v is not a string; *len (if not NULL)
 * counts bytes without the NUL, which matters when the text holds "\u0000". */
const char *souk_json_string(const souk_json_value_t *v, size_t *len);
/* false when v is not a boolean. */
bool souk_json_bool(const souk_json_value_t *v);
/* A number's text as written, NULL when v is not a number. */
const char *souk_json_number_text(const souk_json_value_t *v);
/* The value as a double (finite); 0 when v is not a number. */
double souk_json_number_double(const souk_json_value_t *v);
/* True, with *out set, when v is a number with an integral value that fits an int64:
 * 7, -0, 7.0 and 7e0 do, 7.5 and 9223372036854775808 do not (JSON Schema's notion of
 * an integer, bounded by int64). */
bool souk_json_number_int64(const souk_json_value_t *v, int64_t *out);

/* Writing: the NUL-terminated string s as a JSON string (a key or a value) into g. */
void souk_json_gen_str(yajl_gen g, const char *s);

#endif
