#!/usr/bin/python3
"""Keeps schemas/events/*.json and lib/souk_event.c from drifting apart.

Both are checked against tests/vectors/events.json: test_souk_event.c feeds every
vector to the C decoder, this script validates every vector's event with its JSON
Schema and expects the same verdict:
  - a valid vector passes its type's schema;
  - an invalid one fails, and when the vector names a field, every error jsonschema
    reports is about that field (its path, or a missing member named in it);
  - an etype vector's type has no schema file;
  - an event without a string type (or not an object) is judged by envelope.json.
Standard library and jsonschema only; all $refs resolve from the files, no network.
Exits 1 listing every mismatch.
"""
import importlib.metadata
import json
import os
import re
import sys

from jsonschema import Draft202012Validator, RefResolver, ValidationError, validators

ROOT = os.environ.get("SOUK_SOURCE_DIR",
                      os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCHEMA_DIR = os.path.join(ROOT, "schemas", "events")
VECTORS = os.path.join(ROOT, "tests", "vectors", "events.json")
SHARED = ("defs", "envelope")  # schema files that describe no event type


def no_duplicates(pairs):
    """json.load keeps the last of duplicate keys; a vector file must not have any."""
    keys = [k for k, _ in pairs]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    if dups:
        raise ValueError(f"duplicate keys {dups}")
    return dict(pairs)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=no_duplicates)


def ecma_pattern(validator, pattern, instance, schema):
    """`pattern` with ECMA-262's `$`, as JSON Schema specifies: the end of the string.

    Python's `$` also matches before a final newline, which would let "shop-web\\n"
    pass an identifier pattern the C code (rightly) refuses.
    """
    if not validator.is_type(instance, "string"):
        return
    translated = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
    if not re.search(translated, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# Naming a version registers the class for the 2020-12 meta-schema URI, so subschemas
# reached through $ref (which carry their own "$schema") keep using this `pattern`.
Validator = validators.extend(Draft202012Validator, {"pattern": ecma_pattern},
                              version="draft2020-12 with ECMA-262 patterns")


def load_schemas():
    schemas = {}
    for name in sorted(os.listdir(SCHEMA_DIR)):
        if name.endswith(".json"):
            schema = load(os.path.join(SCHEMA_DIR, name))
            Draft202012Validator.check_schema(schema)
            schemas[name[:-len(".json")]] = schema
    return schemas


def mentions(error, field):
    """Whether a jsonschema error is about field ("pickup.lat")."""
    path = ".".join(str(p) for p in error.absolute_path)
    if path == field:
        return True
    # a missing member is reported on its parent, naming the member in the message
    parent, _, name = field.rpartition(".")
    return (error.validator in ("required", "dependentRequired") and path == parent
            and repr(name) in error.message)


def check(vector, schemas, validator_for):
    """The list of problems with one vector, empty when schema and vector agree."""
    event, field = vector["event"], vector["field"]
    type_name = event.get("type") if isinstance(event, dict) else None
    if vector["status"] == "etype":
        if type_name in schemas and type_name not in SHARED:
            return [f"type {type_name!r} is unknown to the C codec but has a schema"]
        return []
    if isinstance(type_name, str):
        if type_name not in schemas or type_name in SHARED:
            return [f"no schema for type {type_name!r}"]
        schema_name = type_name
    else:
        schema_name = "envelope"
    errors = list(validator_for[schema_name].iter_errors(event))
    if vector["valid"]:
        return [f"{schema_name}.json rejects it: {e.message} at {list(e.absolute_path)}"
                for e in errors]
    if not errors:
        return [f"{schema_name}.json accepts it"]
    if field is not None:
        return [f"{schema_name}.json reports an error not about {field}: {e.message} at "
                f"{list(e.absolute_path)}" for e in errors if not mentions(e, field)]
    return []


def main():
    schemas = load_schemas()
    store = {s["$id"]: s for s in schemas.values()}
    validator_for = {
        name: Validator(s, resolver=RefResolver(s["$id"], s, store=store))
        for name, s in schemas.items()
    }
    vectors = load(VECTORS)
    problems = []
    names = set()
    for v in vectors:
        if v["name"] in names:
            problems.append(f"{v['name']}: name used twice")
        names.add(v["name"])
        problems += [f"{v['name']}: {p}" for p in check(v, schemas, validator_for)]
    typed = {v["event"]["type"] for v in vectors if v["valid"]}
    for name in sorted(set(schemas) - set(SHARED) - typed):
        problems.append(f"schemas/events/{name}.json: no valid vector exercises it")
    for p in problems:
        print(f"mismatch: {p}")
    print(f"{len(vectors)} vectors against {len(schemas)} schemas "
          f"(jsonschema {importlib.metadata.version('jsonschema')}): {len(problems)} mismatches")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
