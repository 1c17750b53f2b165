/*
 * souk_json: a tree held in one arena, built through the add_ functions by one of two
 * paths:
 *   - the simple path, a small parser of our own for input whose strings are all
 *     plain ASCII without escapes, as souk events are: no yajl, no UTF-8 to check;
 *   - the yajl path, yajl's callback parser, for everything else: escapes, UTF-8 and
 *     every error, so that what is accepted and each message stay yajl's and ours.
 * The simple path gives up at the first thing it does not handle; the document is
 * then emptied and the yajl path starts over. That costs a second pass only for input
 * that is not simple, mostly input that is refused anyway.
 *
 * Invariants while parsing: stack[0..depth) are the open containers, innermost last;
 * a value arriving while the innermost container is an object belongs to the key
 * stored in parser.key (both paths deliver key, value, key, value).
 */
#include "souk_json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

enum { ARENA_CHUNK = 16384, ARENA_ALIGN = 8, ECHO_MAX = 40 };

/* A block from malloc once the space the document started in is full. */
struct arena_chunk {
	struct arena_chunk *next;
	max_align_t data[];
};

struct member {
	const char *key;
	size_t key_len;
	uint64_t key_head; /* see key_head() */
	souk_json_value_t *value;
};

struct souk_json_value {
	souk_json_type_t type;
	size_t offset;
	size_t length;
	union {
		bool boolean;
		struct {
			const char *text;
			size_t len;
		} string;
		struct {
			const char *text;
			double d;
			int64_t i;
			bool is_int;
		} number;
		struct {
			struct member *members;
			size_t count;
			size_t cap;
		} object;
		struct {
			souk_json_value_t **items;
			size_t count;
			size_t cap;
		} array;
	} u;
};

/* The document sits at the start of a souk_json_space_t and allocates from the rest of
 * it, then from chunks. */
struct souk_json {
	/* the unused part of the newest block */
	char *free, *end;
	struct arena_chunk *chunks; /* newest first */
	souk_json_value_t *root;
	bool owned; /* the space came from malloc in souk_json_parse */
};

_Static_assert(alignof(souk_json_value_t) <= ARENA_ALIGN &&
		   alignof(struct souk_json) <= ARENA_ALIGN,
	       "arena alignment too small");

struct parser {
	souk_json_t *doc;
	const souk_json_limits_t *limits;
	souk_json_error_t *err;
	yajl_handle yajl;
	const char *buf;
	size_t len;
	size_t
	    base; /* added to yajl's byte count: 0 in yajl_parse, len when completing */
	souk_json_value_t **stack;
	size_t depth;
	size_t stack_cap;
	const char *key; /* the member key waiting for its value */
	size_t key_len;
	uint64_t key_head;
	size_t key_offset;
	bool failed; /* a callback filled err and cancelled the parse */
};

/* Starts a new block of at least size bytes; what was left of the old one is not used
 * again. Returns -1 when out of memory. */
static int
arena_grow(souk_json_t *doc, size_t size)
{
	size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
	struct arena_chunk *c = malloc(sizeof(*c) + cap);
	if (c == NULL)
		return -1;
	c->next = doc->chunks;
	doc->chunks = c;
	doc->free = (char *)c->data;
	doc->end = doc->free + cap;
	return 0;
}

/* Uninitialised memory from the document's arena, aligned for any of its structs;
 * NULL when out of memory. O(1), a malloc only when the block is full. */
static void *
arena_alloc(souk_json_t *doc, size_t size)
{
	size = (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	if ((size_t)(doc->end - doc->free) < size && arena_grow(doc, size) < 0)
		return NULL;
	void *p = doc->free;
	doc->free += size;
	return p;
}

/* Makes room for one more element in *arr (count used of *cap), doubling it in the
 * arena; the old block stays in the arena until destroy, so the total waste is at most
 * the final size. Returns -1 when out of memory. */
static int
arena_reserve(souk_json_t *doc, void **arr, size_t count, size_t *cap, size_t elem)
{
	if (count < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 4;
	void *n = arena_alloc(doc, ncap * elem);
	if (n == NULL)
		return -1;
	if (count > 0)
		memcpy(n, *arr, count * elem);
	*arr = n;
	*cap = ncap;
	return 0;
}

static char *
arena_strdup(souk_json_t *doc, const char *s, size_t len)
{
	char *d = arena_alloc(doc, len + 1);
	if (d != NULL) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/* A word made of the bytes of key s[0..len), or of its first 8 when it is longer, so
 * that two keys of equal length up to 8 bytes have equal words only when they are
 * equal: most key comparisons are then two word compares. O(1), a few loads. */
static uint64_t
key_head(const char *s, size_t len)
{
	uint64_t all;
	uint32_t lo, hi;
	if (len >= 8) {
		memcpy(&all, s, 8);
		return all;
	}
	if (len >= 4) { /* two words, overlapping when len < 8 */
		memcpy(&lo, s, 4);
		memcpy(&hi, s + len - 4, 4);
		return (uint64_t)hi << 32 | lo;
	}
	if (len > 0) /* the bytes at 0, len / 2 and len - 1 cover them all */
		return (uint64_t)(unsigned char)s[0] << 16 |
		       (uint64_t)(unsigned char)s[len / 2] << 8 |
		       (unsigned char)s[len - 1];
	return 0;
}

/* Whether m's key is s[0..len), whose key_head() is head. */
static bool
key_equal(const struct member *m, const char *s, size_t len, uint64_t head)
{
	return m->key_len == len && m->key_head == head &&
	       (len <= 8 || memcmp(m->key + 8, s + 8, len - 8) == 0);
}

/* Copies at most ECHO_MAX bytes of s into out for an error message, printable ASCII
 * kept and anything else shown as '?', "..." marking a cut. */
static void
echo(char *out, size_t out_size, const char *s, size_t len)
{
	size_t n = len > ECHO_MAX ? ECHO_MAX : len;
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < out_size; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
	if (n < len && o + 4 <= out_size)
		strcpy(out + o, "...");
}

__attribute__((format(printf, 3, 4))) static int
fail(struct parser *p, long offset, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	p->err->offset = offset;
	p->failed = true;
	return 0;
}

/* ---- building the tree: the add_ functions return 1, or 0 after fail() ---------- */

static souk_json_value_t *
new_value(struct parser *p, souk_json_type_t type, size_t offset, size_t length)
{
	souk_json_value_t *v = arena_alloc(p->doc, sizeof(*v));
	if (v == NULL)
		return NULL;
	memset(v, 0, sizeof(*v));
	v->type = type;
	v->offset = offset;
	v->length = length;
	return v;
}

/* Hangs v under the innermost open container (or makes it the root). */
static int
attach(struct parser *p, souk_json_value_t *v)
{
	if (v == NULL)
		return fail(p, -1, "out of memory");
	if (p->depth == 0) {
		p->doc->root = v;
		return 1;
	}
	souk_json_value_t *parent = p->stack[p->depth - 1];
	if (parent->type == SOUK_JSON_OBJECT) {
		if (parent->u.object.count == p->limits->max_members)
			return fail(p, (long)p->key_offset,
				    "object at byte %zu has more than %zu members",
				    parent->offset, p->limits->max_members);
		if (arena_reserve(p->doc, (void **)&parent->u.object.members,
				  parent->u.object.count, &parent->u.object.cap,
				  sizeof(struct member)) < 0)
			return fail(p, -1, "out of memory");
		parent->u.object.members[parent->u.object.count++] =
		    (struct member){p->key, p->key_len, p->key_head, v};
		return 1;
	}
	if (parent->u.array.count == p->limits->max_members)
		return fail(p, (long)v->offset,
			    "array at byte %zu has more than %zu elements",
			    parent->offset, p->limits->max_members);
	if (arena_reserve(p->doc, (void **)&parent->u.array.items, parent->u.array.count,
			  &parent->u.array.cap, sizeof(souk_json_value_t *)) < 0)
		return fail(p, -1, "out of memory");
	parent->u.array.items[parent->u.array.count++] = v;
	return 1;
}

static int
add_null(struct parser *p, size_t offset)
{
	return attach(p, new_value(p, SOUK_JSON_NULL, offset, 4));
}

static int
add_bool(struct parser *p, bool b, size_t offset)
{
	souk_json_value_t *v = new_value(p, SOUK_JSON_BOOL, offset, b ? 4 : 5);
	if (v != NULL)
		v->u.boolean = b;
	return attach(p, v);
}

/* Whether d is integral and fits an int64, JSON Schema's notion of an integer. */
static bool
double_is_int64(double d)
{
	return d == trunc(d) && d >= -0x1p63 && d < 0x1p63;
}

/*
 * Reads the number text t[0..len) (the JSON grammar, already checked) into v without
 * strtod when the result is sure to be the same: an integer of at most 18 digits is
 * exact as an int64 and rounds once to a double; a decimal m * 10^e with m <= 2^53 and
 * |e| <= 22 is one correctly rounded multiplication or division of two exact doubles
 * (Clinger's fast path; it needs doubles evaluated as doubles, FLT_EVAL_METHOD 0).
 * Returns false, v untouched, for anything else. O(len).
 */
static bool
read_number_fast(const char *t, size_t len, souk_json_value_t *v)
{
	static const double pow10[] = {1e0,  1e1,  1e2,	 1e3,  1e4,  1e5,  1e6,	 1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	size_t k = 0;
	bool neg = t[0] == '-';
	uint64_t m = 0;
	int digits = 0, exp10 = 0;

	k += neg;
	for (; k < len && t[k] >= '0' && t[k] <= '9'; k++, digits++)
		m = m * 10 + (uint64_t)(t[k] - '0');
	if (k == len) {
		if (digits > 18)
			return false;
		v->u.number.i = neg ? -(int64_t)m : (int64_t)m;
		v->u.number.d = neg ? -(double)m : (double)m; /* -0 stays -0 */
		v->u.number.is_int = true;
		return true;
	}
	if (t[k] == '.')
		for (k++; k < len && t[k] >= '0' && t[k] <= '9'; k++, digits++, exp10--)
			m = m * 10 + (uint64_t)(t[k] - '0');
	if (k < len) { /* the exponent */
		int sign = t[++k] == '-' ? -1 : 1, e = 0;
		k += t[k] == '-' || t[k] == '+';
		for (; k < len && e < 1000; k++)
			e = e * 10 + (t[k] - '0');
		exp10 += sign * e;
	}
	if (FLT_EVAL_METHOD != 0 || digits > 19 || m > (UINT64_C(1) << 53) ||
	    exp10 < -22 || exp10 > 22)
		return false;
	double d = exp10 < 0 ? (double)m / pow10[-exp10] : (double)m * pow10[exp10];
	v->u.number.d = neg ? -d : d;
	v->u.number.is_int = double_is_int64(v->u.number.d);
	v->u.number.i = v->u.number.is_int ? (int64_t)v->u.number.d : 0;
	return true;
}

/* The number token text[0..len) at offset. */
static int
add_number(struct parser *p, const char *text, size_t len, size_t offset)
{
	souk_json_value_t *v = new_value(p, SOUK_JSON_NUMBER, offset, len);
	char *t = v != NULL ? arena_strdup(p->doc, text, len) : NULL;
	if (t == NULL)
		return fail(p, -1, "out of memory");
	v->u.number.text = t;
	if (read_number_fast(t, len, v))
		return attach(p, v);
	v->u.number.d = strtod(t, NULL);
	if (!isfinite(v->u.number.d)) {
		char shown[ECHO_MAX + 4];
		echo(shown, sizeof(shown), t, len);
		return fail(p, (long)v->offset,
			    "number at byte %zu does not fit a double: %s", v->offset,
			    shown);
	}
	if (strpbrk(t, ".eE") == NULL) {
		errno = 0;
		long long i = strtoll(t, NULL, 10);
		v->u.number.is_int = errno == 0;
		v->u.number.i = i;
	} else {
		v->u.number.is_int = double_is_int64(v->u.number.d);
		v->u.number.i = v->u.number.is_int ? (int64_t)v->u.number.d : 0;
	}
	return attach(p, v);
}

/* The string token buf[offset..offset + length), whose decoded text is s[0..len). */
static int
add_string(struct parser *p, const char *s, size_t len, size_t offset, size_t length)
{
	souk_json_value_t *v = new_value(p, SOUK_JSON_STRING, offset, length);
	char *t = v != NULL ? arena_strdup(p->doc, s, len) : NULL;
	if (t == NULL)
		return fail(p, -1, "out of memory");
	v->u.string.text = t;
	v->u.string.len = len;
	return attach(p, v);
}

/* Records the key (decoded text s[0..len), token at offset) for the value that follows;
 * a key already in the object is an error. O(members so far). */
static int
add_key(struct parser *p, const char *s, size_t len, size_t offset)
{
	const souk_json_value_t *obj = p->stack[p->depth - 1];
	uint64_t head = key_head(s, len);
	for (size_t i = 0; i < obj->u.object.count; i++) {
		if (key_equal(&obj->u.object.members[i], s, len, head)) {
			char shown[ECHO_MAX + 4];
			echo(shown, sizeof(shown), s, len);
			return fail(p, (long)offset, "duplicate key \"%s\" at byte %zu",
				    shown, offset);
		}
	}
	p->key = arena_strdup(p->doc, s, len);
	if (p->key == NULL)
		return fail(p, -1, "out of memory");
	p->key_len = len;
	p->key_head = head;
	p->key_offset = offset;
	return 1;
}

/* The '{' or '[' at offset. */
static int
open_container(struct parser *p, souk_json_type_t type, size_t offset)
{
	if (p->depth == p->limits->max_depth)
		return fail(p, (long)offset,
			    "depth %zu at byte %zu exceeds the limit of %zu",
			    p->depth + 1, offset, p->limits->max_depth);
	souk_json_value_t *v = new_value(p, type, offset, 0);
	if (!attach(p, v))
		return 0;
	if (arena_reserve(p->doc, (void **)&p->stack, p->depth, &p->stack_cap,
			  sizeof(*p->stack)) < 0)
		return fail(p, -1, "out of memory");
	p->stack[p->depth++] = v;
	return 1;
}

/* The innermost container ends before end. */
static void
close_container(struct parser *p, size_t end)
{
	souk_json_value_t *v = p->stack[--p->depth];
	v->length = end - v->offset;
}

/* ---- the yajl path: its callbacks, which check strings further ----------------- */

/* Where the token yajl just delivered ends (exclusive). */
static size_t
token_end(const struct parser *p)
{
	return p->base + yajl_get_bytes_consumed(p->yajl);
}

/* The offset of the opening quote of the string token that ends at end (buf[end - 1]
 * is its closing quote). A quote inside a string is always escaped, so the opening
 * quote is the nearest quote before end - 1 preceded by an even number of
 * backslashes. O(token length). */
static size_t
string_start(const char *buf, size_t end)
{
	size_t i = end - 1;
	while (i-- > 0) {
		if (buf[i] != '"')
			continue;
		size_t k = i;
		while (k > 0 && buf[k - 1] == '\\')
			k--;
		if ((i - k) % 2 == 0)
			return i;
	}
	return 0;
}

static int
hex4(const unsigned char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Whether the string token s[0..n) (quotes included, escapes already checked by yajl)
 * holds only Unicode scalar values: raw bytes must be shortest-form UTF-8 without
 * surrogates or code points past U+10FFFF, and a \uD800-\uDBFF escape must be followed
 * by a \uDC00-\uDFFF one. yajl alone lets overlong forms through and turns a lone
 * surrogate escape into "?" or invalid bytes. O(n).
 */
static bool
string_token_valid(const unsigned char *s, size_t n)
{
	size_t i = 1, end = n - 1; /* skip the quotes */
	while (i < end) {
		if (s[i] == '\\') {
			if (s[i + 1] != 'u') {
				i += 2;
				continue;
			}
			int cp = end - i >= 6 ? hex4(s + i + 2) : -1;
			if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
				return false;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				int lo =
				    end - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u'
					? hex4(s + i + 8)
					: -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return false;
				i += 12;
			} else {
				i += 6;
			}
			continue;
		}
		unsigned c = s[i];
		size_t need;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (end - i - 1 < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* For the scans that take the input eight bytes, one word w, at a time. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS (ONES << 7)

/* Non-zero when a byte of w is below c (c <= 0x80): the high bits of those bytes and
 * maybe of bytes after them. */
static uint64_t
bytes_below(uint64_t w, unsigned c)
{
	return (w - ONES * c) & ~w & HIGHS;
}

/* Non-zero when a byte of w is c. */
static uint64_t
bytes_equal(uint64_t w, unsigned char c)
{
	return bytes_below(w ^ (ONES * c), 1);
}

/* Whether s[0..n) holds only ASCII and no backslash: such text is the same escaped
 * and decoded, and always valid. O(n), eight bytes at a time. */
static bool
plain_ascii(const char *s, size_t n)
{
	uint64_t seen = 0; /* high bits: a byte >= 0x80 or a backslash */
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		seen |= w | bytes_equal(w, '\\');
	}
	for (; i < n; i++)
		seen |= s[i] == '\\' ? HIGHS : (unsigned char)s[i];
	return (seen & HIGHS) == 0;
}

/*
 * Checks the string token ending at end, whose decoded text is len bytes long, and
 * returns its start, or -1 after fail(). The common case costs one pass over the text:
 * when buf[end - len - 2] is a quote and the len bytes after it are plain ASCII, that
 * quote opens the token. (Escapes only shrink text, so the token starts there or
 * before; were it before, the quote would sit inside the token, escaped, and the
 * decoded text would be longer than len.) Otherwise we scan back for the opening
 * quote and check the UTF-8 and escapes. O(token length).
 */
static long
checked_string_start(struct parser *p, size_t end, size_t len)
{
	if (end >= len + 2 && p->buf[end - len - 2] == '"' &&
	    plain_ascii(p->buf + end - len - 1, len))
		return (long)(end - len - 2);
	size_t start = string_start(p->buf, end);
	if (!string_token_valid((const unsigned char *)p->buf + start, end - start)) {
		fail(p, (long)start, "invalid utf-8 in string at byte %zu", start);
		return -1;
	}
	return (long)start;
}

static int
on_null(void *ctx)
{
	struct parser *p = ctx;
	return add_null(p, token_end(p) - 4);
}

static int
on_bool(void *ctx, int b)
{
	struct parser *p = ctx;
	return add_bool(p, b != 0, token_end(p) - (b ? 4 : 5));
}

static int
on_number(void *ctx, const char *text, size_t len)
{
	struct parser *p = ctx;
	return add_number(p, text, len, token_end(p) - len);
}

static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
	struct parser *p = ctx;
	size_t end = token_end(p);
	long start = checked_string_start(p, end, len);
	return start >= 0 &&
	       add_string(p, (const char *)s, len, (size_t)start, end - (size_t)start);
}

static int
on_key(void *ctx, const unsigned char *s, size_t len)
{
	struct parser *p = ctx;
	long start = checked_string_start(p, token_end(p), len);
	return start >= 0 && add_key(p, (const char *)s, len, (size_t)start);
}

static int
on_start_map(void *ctx)
{
	struct parser *p = ctx;
	return open_container(p, SOUK_JSON_OBJECT, token_end(p) - 1);
}

static int
on_start_array(void *ctx)
{
	struct parser *p = ctx;
	return open_container(p, SOUK_JSON_ARRAY, token_end(p) - 1);
}

static int
on_end(void *ctx)
{
	struct parser *p = ctx;
	close_container(p, token_end(p));
	return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number, /* with it set, yajl hands every number over as text */
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* JSON's whitespace. */
static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_blank(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_ws(buf[i]))
			return false;
	return true;
}

/* ---- the simple path: no yajl --------------------------------------------------- */

static size_t
skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && is_ws(s[i]))
		i++;
	return i;
}

/* One past the closing quote of the string token at s[i], or 0 unless the token is
 * plain: bytes 0x20-0x7f (as yajl, we take DEL as it is) and no backslash. O(token),
 * eight bytes at a time up to the word that holds the quote. */
static size_t
plain_string_end(const char *s, size_t i, size_t n)
{
	size_t k = i + 1;
	for (; k + 8 <= n; k += 8) {
		uint64_t w;
		memcpy(&w, s + k, 8);
		if (((w & HIGHS) | bytes_below(w, 0x20) | bytes_equal(w, '"') |
		     bytes_equal(w, '\\')) != 0)
			break; /* to look at this word byte by byte */
	}
	for (; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		if (c == '"')
			return k + 1;
		if (c < 0x20 || c >= 0x80 || c == '\\')
			return 0;
	}
	return 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One past the digits from s[i] on, or 0 if there is none. */
static size_t
digits_end(const char *s, size_t i, size_t n)
{
	size_t k = i;
	while (k < n && is_digit(s[k]))
		k++;
	return k > i ? k : 0;
}

/* One past the number token at s[i], or 0 if there is none: RFC 8259's grammar,
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, the same as yajl's. */
static size_t
number_end(const char *s, size_t i, size_t n)
{
	size_t k = i + (i < n && s[i] == '-');
	if (k < n && s[k] == '0')
		k++;
	else if (k == n || (k = digits_end(s, k, n)) == 0)
		return 0;
	if (k < n && s[k] == '.' && (k = digits_end(s, k + 1, n)) == 0)
		return 0;
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		k++;
		k += k < n && (s[k] == '-' || s[k] == '+');
		k = digits_end(s, k, n);
	}
	return k;
}

/* Adds the scalar at s[i]; returns one past it, or 0 to leave the input to yajl. */
static size_t
simple_scalar(struct parser *p, size_t i)
{
	const char *s = p->buf;
	size_t n = p->len, k;
	bool ok;
	switch (s[i]) {
	case '"':
		k = plain_string_end(s, i, n);
		ok = k != 0 && add_string(p, s + i + 1, k - i - 2, i, k - i);
		break;
	case 't':
		k = i + 4;
		ok = k <= n && memcmp(s + i, "true", 4) == 0 && add_bool(p, true, i);
		break;
	case 'f':
		k = i + 5;
		ok = k <= n && memcmp(s + i, "false", 5) == 0 && add_bool(p, false, i);
		break;
	case 'n':
		k = i + 4;
		ok = k <= n && memcmp(s + i, "null", 4) == 0 && add_null(p, i);
		break;
	default:
		k = number_end(s, i, n);
		ok = k != 0 && add_number(p, s + i, k - i, i);
		break;
	}
	return ok ? k : 0;
}

/* Adds the key at s[i] and passes the colon after it; returns where the value may
 * start, or 0 to leave the input to yajl. */
static size_t
simple_key(struct parser *p, size_t i)
{
	const char *s = p->buf;
	size_t n = p->len, k;
	if (i == n || s[i] != '"' || (k = plain_string_end(s, i, n)) == 0 ||
	    !add_key(p, s + i + 1, k - i - 2, i))
		return 0;
	k = skip_ws(s, k, n);
	return k < n && s[k] == ':' ? k + 1 : 0;
}

/*
 * Parses the input without yajl when it is simple: every string plain (see
 * plain_string_end), whitespace only of the four kinds JSON names, nothing the add_
 * functions refuse. Then it builds the very tree the yajl path builds, and returns
 * true. Anything else, an error or merely an escape or a UTF-8 byte, returns false,
 * leaving the input to yajl, whose answer, and error, is the one of record; so what
 * this accepts must stay a subset of what yajl accepts. O(len).
 */
static bool
parse_simple(struct parser *p)
{
	const char *s = p->buf;
	size_t n = p->len, i = 0;

	for (;;) {
		/* a value starts here */
		i = skip_ws(s, i, n);
		if (i == n)
			return false;
		if (s[i] == '{' || s[i] == '[') {
			bool obj = s[i] == '{';
			souk_json_type_t type = obj ? SOUK_JSON_OBJECT : SOUK_JSON_ARRAY;
			if (!open_container(p, type, i))
				return false;
			i = skip_ws(s, i + 1, n);
			if (i == n || s[i] != (obj ? '}' : ']')) {
				if (obj && (i = simple_key(p, i)) == 0)
					return false;
				continue;
			}
			/* empty: the closing loop below takes the bracket */
		} else if ((i = simple_scalar(p, i)) == 0) {
			return false;
		}
		/* close the containers that end here; then a comma, or the end */
		for (;;) {
			i = skip_ws(s, i, n);
			if (p->depth == 0)
				return i == n;
			bool obj = p->stack[p->depth - 1]->type == SOUK_JSON_OBJECT;
			if (i == n || s[i] != (obj ? '}' : ']'))
				break;
			close_container(p, ++i);
		}
		if (i == n || s[i] != ',')
			return false;
		i = skip_ws(s, i + 1, n);
		if (p->stack[p->depth - 1]->type == SOUK_JSON_OBJECT &&
		    (i = simple_key(p, i)) == 0)
			return false;
	}
}

/* Fills err from a yajl syntax error: past a complete top-level value it can only be
 * trailing garbage, whose first byte we point at; otherwise yajl's own text. */
static void
syntax_error(struct parser *p)
{
	if (p->doc->root != NULL && p->depth == 0) {
		size_t i = p->doc->root->offset + p->doc->root->length;
		while (i < p->len && is_ws(p->buf[i]))
			i++;
		fail(p, (long)i, "trailing garbage at byte %zu", i);
		return;
	}
	/* yajl_complete_parse feeds yajl one extra space: clamp to the input */
	size_t offset = p->base + yajl_get_bytes_consumed(p->yajl);
	if (offset > p->len)
		offset = p->len;
	unsigned char *msg =
	    yajl_get_error(p->yajl, 0, (const unsigned char *)p->buf, p->len);
	size_t n = msg != NULL ? strlen((char *)msg) : 0;
	while (n > 0 && strchr(". \n", msg[n - 1]) != NULL)
		n--;
	fail(p, (long)offset, "invalid json at byte %zu: %.*s", offset, (int)n,
	     msg != NULL ? (char *)msg : "unknown error");
	if (msg != NULL)
		yajl_free_error(p->yajl, msg);
}

/* Lays an empty document out at the start of space. */
static souk_json_t *
doc_init(souk_json_space_t *space, bool owned)
{
	souk_json_t *doc = (souk_json_t *)space->bytes;
	size_t head = (sizeof(*doc) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	*doc = (souk_json_t){.free = (char *)space->bytes + head,
			     .end = (char *)space->bytes + sizeof(space->bytes),
			     .owned = owned};
	return doc;
}

/* Frees what doc took beyond its space and empties it. */
static void
doc_clear(souk_json_t *doc)
{
	struct arena_chunk *c = doc->chunks;
	while (c != NULL) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	doc_init((souk_json_space_t *)doc, doc->owned);
}

/* Parses buf into the empty document doc; false with err filled on failure. */
static bool
parse(souk_json_t *doc, const char *buf, size_t len, const souk_json_limits_t *limits,
      souk_json_error_t *err)
{
	struct parser p = {
	    .doc = doc, .limits = limits, .err = err, .buf = buf, .len = len};

	err->offset = -1;
	err->message[0] = '\0';
	if (len > limits->max_bytes) {
		fail(&p, -1, "input of %zu bytes exceeds the limit of %zu", len,
		     limits->max_bytes);
		goto out;
	}
	if (is_blank(buf, len)) {
		fail(&p, -1, "empty input");
		goto out;
	}
	if (parse_simple(&p))
		goto out;
	/* over again with yajl, from an empty document */
	doc_clear(doc);
	p = (struct parser){
	    .doc = doc, .limits = limits, .err = err, .buf = buf, .len = len};
	err->offset = -1;
	err->message[0] = '\0';
	/* yajl's defaults are what we want: strings validated as UTF-8, no comments,
	 * one value only, trailing garbage an error. */
	p.yajl = yajl_alloc(&callbacks, NULL, &p);
	if (p.yajl == NULL) {
		fail(&p, -1, "out of memory");
		goto out;
	}
	yajl_status st = yajl_parse(p.yajl, (const unsigned char *)buf, len);
	if (st == yajl_status_ok) {
		p.base = len;
		st = yajl_complete_parse(p.yajl);
	}
	if (st != yajl_status_ok && !p.failed)
		syntax_error(&p);
out:
	if (p.yajl != NULL)
		yajl_free(p.yajl);
	return !p.failed;
}

souk_json_t *
souk_json_parse_in(souk_json_space_t *space, const char *buf, size_t len,
		   const souk_json_limits_t *limits, souk_json_error_t *err)
{
	souk_json_t *doc = doc_init(space, false);
	if (!parse(doc, buf, len, limits, err)) {
		souk_json_destroy(doc);
		doc = NULL;
	}
	return doc;
}

souk_json_t *
souk_json_parse(const char *buf, size_t len, const souk_json_limits_t *limits,
		souk_json_error_t *err)
{
	souk_json_space_t *space = malloc(sizeof(*space));
	if (space == NULL) {
		err->offset = -1;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return NULL;
	}
	souk_json_t *doc = doc_init(space, true); /* space is the document's now */
	if (!parse(doc, buf, len, limits, err)) {
		souk_json_destroy(doc);
		doc = NULL;
	}
	return doc;
}

void
souk_json_destroy(souk_json_t *doc)
{
	if (doc == NULL)
		return;
	doc_clear(doc);
	if (doc->owned)
		free(doc);
}

const souk_json_value_t *
souk_json_root(const souk_json_t *doc)
{
	return doc->root;
}

souk_json_type_t
souk_json_type(const souk_json_value_t *v)
{
	return v->type;
}

const char *
souk_json_type_desc(souk_json_type_t type)
{
	switch (type) {
	case SOUK_JSON_NULL:
		return "null";
	case SOUK_JSON_BOOL:
		return "a boolean";
	case SOUK_JSON_NUMBER:
		return "a number";
	case SOUK_JSON_STRING:
		return "a string";
	case SOUK_JSON_ARRAY:
		return "an array";
	case SOUK_JSON_OBJECT:
		return "an object";
	}
	return "an unknown value";
}

char *
souk_json_describe(const souk_json_value_t *v, char *out, size_t size)
{
	char shown[ECHO_MAX + 4];
	switch (v->type) {
	case SOUK_JSON_NUMBER:
		echo(out, size, v->u.number.text, strlen(v->u.number.text));
		break;
	case SOUK_JSON_STRING:
		echo(shown, sizeof(shown), v->u.string.text, v->u.string.len);
		snprintf(out, size, "\"%s\"", shown);
		break;
	case SOUK_JSON_BOOL:
		snprintf(out, size, "%s", v->u.boolean ? "true" : "false");
		break;
	default:
		snprintf(out, size, "%s", souk_json_type_desc(v->type));
		break;
	}
	return out;
}

size_t
souk_json_offset(const souk_json_value_t *v)
{
	return v->offset;
}

size_t
souk_json_length(const souk_json_value_t *v)
{
	return v->length;
}

size_t
souk_json_object_size(const souk_json_value_t *v)
{
	return v->type == SOUK_JSON_OBJECT ? v->u.object.count : 0;
}

const souk_json_value_t *
souk_json_object_get(const souk_json_value_t *v, const char *key)
{
	size_t len = strlen(key);
	uint64_t head = key_head(key, len);
	for (size_t i = 0; i < souk_json_object_size(v); i++)
		if (key_equal(&v->u.object.members[i], key, len, head))
			return v->u.object.members[i].value;
	return NULL;
}

const char *
souk_json_object_key(const souk_json_value_t *v, size_t i, size_t *len)
{
	if (i >= souk_json_object_size(v))
		return NULL;
	if (len != NULL)
		*len = v->u.object.members[i].key_len;
	return v->u.object.members[i].key;
}

const souk_json_value_t *
souk_json_object_value(const souk_json_value_t *v, size_t i)
{
	return i < souk_json_object_size(v) ? v->u.object.members[i].value : NULL;
}

size_t
souk_json_array_size(const souk_json_value_t *v)
{
	return v->type == SOUK_JSON_ARRAY ? v->u.array.count : 0;
}

const souk_json_value_t *
souk_json_array_get(const souk_json_value_t *v, size_t i)
{
	return i < souk_json_array_size(v) ? v->u.array.items[i] : NULL;
}

const char *
souk_json_string(const souk_json_value_t *v, size_t *len)
{
	if (v->type != SOUK_JSON_STRING)
		return NULL;
	if (len != NULL)
		*len = v->u.string.len;
	return v->u.string.text;
}

bool
souk_json_bool(const souk_json_value_t *v)
{
	return v->type == SOUK_JSON_BOOL && v->u.boolean;
}

const char *
souk_json_number_text(const souk_json_value_t *v)
{
	return v->type == SOUK_JSON_NUMBER ? v->u.number.text : NULL;
}

double
souk_json_number_double(const souk_json_value_t *v)
{
	return v->type == SOUK_JSON_NUMBER ? v->u.number.d : 0;
}

bool
souk_json_number_int64(const souk_json_value_t *v, int64_t *out)
{
	if (v->type != SOUK_JSON_NUMBER || !v->u.number.is_int)
		return false;
	*out = v->u.number.i;
	return true;
}

void
souk_json_gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}
