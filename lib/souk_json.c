/*
 * souk_json: yajl's callback parser feeding a tree held in one arena.
 *
 * Invariants while parsing: stack[0..depth) are the open containers, innermost last;
 * a value arriving while the innermost container is an object belongs to the key
 * stored in parser.key (yajl guarantees key, value, key, value ordering).
 */
#include "souk_json.h"

#include <errno.h>
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
	char *free, *end; /* the unused part of the newest block */
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

/* Where the token yajl just delivered ends (exclusive). */
static size_t
token_end(const struct parser *p)
{
	return p->base + yajl_get_bytes_consumed(p->yajl);
}

static souk_json_value_t *
new_value(struct parser *p, souk_json_type_t type, size_t offset, size_t length)
{
	souk_json_value_t *v = arena_alloc(p->doc, sizeof(*v));
	if (v != NULL)
		*v = (souk_json_value_t){.type = type, .offset = offset, .length = length};
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
		    (struct member){p->key, p->key_len, v};
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

/* Checks the string token ending at end and returns its start, or -1 after fail(). */
static long
checked_string_start(struct parser *p, size_t end)
{
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
	size_t end = token_end(p);
	return attach(p, new_value(p, SOUK_JSON_NULL, end - 4, 4));
}

static int
on_bool(void *ctx, int b)
{
	struct parser *p = ctx;
	size_t end = token_end(p), n = b ? 4 : 5;
	souk_json_value_t *v = new_value(p, SOUK_JSON_BOOL, end - n, n);
	if (v != NULL)
		v->u.boolean = b != 0;
	return attach(p, v);
}

static int
on_number(void *ctx, const char *text, size_t len)
{
	struct parser *p = ctx;
	size_t end = token_end(p);
	souk_json_value_t *v = new_value(p, SOUK_JSON_NUMBER, end - len, len);
	char *t = v != NULL ? arena_strdup(p->doc, text, len) : NULL;
	if (t == NULL)
		return fail(p, -1, "out of memory");
	v->u.number.text = t;
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
		double d = v->u.number.d;
		v->u.number.is_int = d == trunc(d) && d >= -0x1p63 && d < 0x1p63;
		v->u.number.i = v->u.number.is_int ? (int64_t)d : 0;
	}
	return attach(p, v);
}

static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
	struct parser *p = ctx;
	size_t end = token_end(p);
	long start = checked_string_start(p, end);
	if (start < 0)
		return 0;
	souk_json_value_t *v =
	    new_value(p, SOUK_JSON_STRING, (size_t)start, end - (size_t)start);
	char *t = v != NULL ? arena_strdup(p->doc, (const char *)s, len) : NULL;
	if (t == NULL)
		return fail(p, -1, "out of memory");
	v->u.string.text = t;
	v->u.string.len = len;
	return attach(p, v);
}

/* Records the key for the value that follows; a key already in the object is an
 * error. O(members so far). */
static int
on_key(void *ctx, const unsigned char *s, size_t len)
{
	struct parser *p = ctx;
	size_t end = token_end(p);
	long start = checked_string_start(p, end);
	if (start < 0)
		return 0;
	const souk_json_value_t *obj = p->stack[p->depth - 1];
	for (size_t i = 0; i < obj->u.object.count; i++) {
		const struct member *m = &obj->u.object.members[i];
		if (m->key_len == len && memcmp(m->key, s, len) == 0) {
			char shown[ECHO_MAX + 4];
			echo(shown, sizeof(shown), (const char *)s, len);
			return fail(p, start, "duplicate key \"%s\" at byte %ld", shown,
				    start);
		}
	}
	p->key = arena_strdup(p->doc, (const char *)s, len);
	if (p->key == NULL)
		return fail(p, -1, "out of memory");
	p->key_len = len;
	p->key_offset = (size_t)start;
	return 1;
}

static int
open_container(struct parser *p, souk_json_type_t type)
{
	size_t offset = token_end(p) - 1;
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

static int
close_container(struct parser *p)
{
	souk_json_value_t *v = p->stack[--p->depth];
	v->length = token_end(p) - v->offset;
	return 1;
}

static int
on_start_map(void *ctx)
{
	return open_container(ctx, SOUK_JSON_OBJECT);
}

static int
on_start_array(void *ctx)
{
	return open_container(ctx, SOUK_JSON_ARRAY);
}

static int
on_end(void *ctx)
{
	return close_container(ctx);
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

souk_json_t *
souk_json_parse(const char *buf, size_t len, const souk_json_limits_t *limits,
		souk_json_error_t *err)
{
	struct parser p = {.limits = limits, .err = err, .buf = buf, .len = len};
	souk_json_t *doc = NULL;

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
	p.doc = doc = calloc(1, sizeof(*doc));
	/* yajl's defaults are what we want: strings validated as UTF-8, no comments,
	 * one value only, trailing garbage an error. */
	p.yajl = doc != NULL ? yajl_alloc(&callbacks, NULL, &p) : NULL;
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
	if (p.failed) {
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
	struct arena_chunk *c = doc->chunks;
	while (c != NULL) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
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
	for (size_t i = 0; i < souk_json_object_size(v); i++) {
		const struct member *m = &v->u.object.members[i];
		if (m->key_len == len && memcmp(m->key, key, len) == 0)
			return m->value;
	}
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
