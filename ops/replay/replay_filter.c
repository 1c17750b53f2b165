/* replay_filter: see replay_filter.h. */
#include "replay_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_event.h"
#include "souk_json.h"

/* A growable list of owned strings. */
struct replay_strings {
	char **items;
	size_t n, cap;
};

struct replay_field {
	char *name;
	char *value;
};

struct replay_filter {
	struct replay_strings keys;
	struct replay_strings types;
	struct replay_field *fields;
	size_t nfields, fields_cap;
};

static const souk_json_limits_t replay_filter_limits = {
    SOUK_EVENT_MAX_BYTES, SOUK_EVENT_MAX_DEPTH, SOUK_EVENT_MAX_MEMBERS};

struct replay_filter *
replay_filter_new(void)
{
	return calloc(1, sizeof(struct replay_filter));
}

static void
replay_strings_free(struct replay_strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i]);
	free(s->items);
}

void
replay_filter_destroy(struct replay_filter *f)
{
	if (!f)
		return;
	replay_strings_free(&f->keys);
	replay_strings_free(&f->types);
	for (size_t i = 0; i < f->nfields; i++) {
		free(f->fields[i].name);
		free(f->fields[i].value);
	}
	free(f->fields);
	free(f);
}

/* Grows *items (of elem bytes each) to hold one more. Returns 0, or -1. */
static int
replay_grow(void **items, size_t elem, size_t n, size_t *cap)
{
	void *grown;
	size_t want;

	if (n < *cap)
		return 0;
	want = *cap ? *cap * 2 : 4;
	grown = realloc(*items, want * elem);
	if (!grown)
		return -1;
	*items = grown;
	*cap = want;
	return 0;
}

static int
replay_strings_add(struct replay_strings *s, const char *v, char *errstr,
		   size_t errstr_size)
{
	char *copy = NULL;

	if (replay_grow((void **)&s->items, sizeof(*s->items), s->n, &s->cap) ||
	    !(copy = strdup(v))) {
		snprintf(errstr, errstr_size,
			 "could not add filter \"%s\": out of memory", v);
		return -1;
	}
	s->items[s->n++] = copy; /* owned by s */
	return 0;
}

int
replay_filter_add_key(struct replay_filter *f, const char *key, char *errstr,
		      size_t errstr_size)
{
	return replay_strings_add(&f->keys, key, errstr, errstr_size);
}

int
replay_filter_add_type(struct replay_filter *f, const char *type, char *errstr,
		       size_t errstr_size)
{
	if (souk_event_type_from_name(type) == SOUK_EVENT_TYPE_NONE) {
		snprintf(errstr, errstr_size,
			 "could not filter by type \"%s\": no such "
			 "event type",
			 type);
		return -1;
	}
	return replay_strings_add(&f->types, type, errstr, errstr_size);
}

int
replay_filter_add_field(struct replay_filter *f, const char *name_value, char *errstr,
			size_t errstr_size)
{
	const char *eq = strchr(name_value, '=');
	struct replay_field field = {NULL, NULL};

	if (!eq || eq == name_value) {
		snprintf(errstr, errstr_size,
			 "could not filter by field \"%s\": expected NAME=VALUE",
			 name_value);
		return -1;
	}
	field.name = strndup(name_value, (size_t)(eq - name_value));
	field.value = strdup(eq + 1);
	if (!field.name || !field.value ||
	    replay_grow((void **)&f->fields, sizeof(*f->fields), f->nfields,
			&f->fields_cap)) {
		free(field.name);
		free(field.value);
		snprintf(errstr, errstr_size,
			 "could not filter by field \"%s\": out of memory", name_value);
		return -1;
	}
	f->fields[f->nfields++] = field; /* owned by f */
	return 0;
}

bool
replay_filter_active(const struct replay_filter *f)
{
	return f->keys.n || f->types.n || f->nfields;
}

/* Whether the JSON value v equals the text want, by the rules in the header. */
static bool
replay_field_equals(const souk_json_value_t *v, const char *want)
{
	const char *s;
	size_t len;
	char *end;
	double d;

	switch (souk_json_type(v)) {
	case SOUK_JSON_STRING:
		s = souk_json_string(v, &len);
		return len == strlen(want) && memcmp(s, want, len) == 0;
	case SOUK_JSON_NUMBER:
		d = strtod(want, &end);
		return *want && !*end && d == souk_json_number_double(v);
	case SOUK_JSON_BOOL:
		return strcmp(want, souk_json_bool(v) ? "true" : "false") == 0;
	case SOUK_JSON_NULL:
		return strcmp(want, "null") == 0;
	case SOUK_JSON_ARRAY:
	case SOUK_JSON_OBJECT:
		break;
	}
	return false;
}

/* The type and field filters, on a parsed value. */
static bool
replay_filter_match_value(const struct replay_filter *f, const void *value,
			  size_t value_len)
{
	souk_json_space_t space;
	souk_json_error_t err;
	souk_json_t *doc;
	const souk_json_value_t *root, *v;
	bool ok = false;

	if (!value)
		return false;
	doc = souk_json_parse_in(&space, value, value_len, &replay_filter_limits, &err);
	if (!doc)
		return false;
	root = souk_json_root(doc);
	if (souk_json_type(root) != SOUK_JSON_OBJECT)
		goto out;
	if (f->types.n) {
		const char *type;

		v = souk_json_object_get(root, "type");
		type = v ? souk_json_string(v, NULL) : NULL;
		if (!type)
			goto out;
		for (size_t i = 0; i < f->types.n && !ok; i++)
			ok = strcmp(type, f->types.items[i]) == 0;
		if (!ok)
			goto out;
	}
	ok = true;
	for (size_t i = 0; i < f->nfields && ok; i++) {
		v = souk_json_object_get(root, f->fields[i].name);
		ok = v && replay_field_equals(v, f->fields[i].value);
	}
out:
	souk_json_destroy(doc);
	return ok;
}

bool
replay_filter_match(const struct replay_filter *f, const void *key, size_t key_len,
		    const void *value, size_t value_len)
{
	if (f->keys.n) {
		bool found = false;

		for (size_t i = 0; i < f->keys.n && !found; i++)
			found = key && strlen(f->keys.items[i]) == key_len &&
				memcmp(key, f->keys.items[i], key_len) == 0;
		if (!found)
			return false;
	}
	if (!f->types.n && !f->nfields)
		return true;
	return replay_filter_match_value(f, value, value_len);
}
