"""SampleDB's schema language: the check of an action's schema when it is saved.

A pure module (no Flask, no database). ``check_schema(schema)`` returns every
``Violation`` it finds, each carrying its path inside the schema; ``str()`` of a
violation reads ``message (at schema -> properties -> mass)``. The data check
(``data_sampledb.check_data``) relies on a schema that passed this check.

The rules (docs/objects.md has the full table): every property has ``title``
and ``type``; the root is an ``object`` whose ``properties`` contain a required
``text`` property ``name``; unknown keywords are rejected; ``quantity`` units
are parsed by pint and must share one dimensionality.
"""

from __future__ import annotations

import re

from .data_sampledb import check_data
from .sampledb_values import LANGUAGE, Violation, is_count, is_id, is_number, parse_units

ACTION_TYPES = ("sample", "measurement", "simulation", "custom")
REFERENCE_TYPES = ("object_reference", "sample", "measurement")
TYPES = ("object", "array", "text", "bool", "datetime", "quantity", "tags") + REFERENCE_TYPES
PROPERTY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_DEPTH = 64  # path length; deeper schemas (and data) are refused rather than recursed into

_COMMON = {"type", "title", "note"}
KEYWORDS = {
    "object": _COMMON | {"properties", "required", "propertyOrder"},
    "array": _COMMON | {"items", "minItems", "maxItems", "default"},
    "text": _COMMON
    | {
        "minLength",
        "maxLength",
        "choices",
        "pattern",
        "multiline",
        "markdown",
        "placeholder",
        "default",
        "languages",
    },
    "bool": _COMMON | {"default"},
    "datetime": _COMMON | {"default"},
    "quantity": _COMMON | {"units", "min_magnitude", "max_magnitude", "placeholder", "default"},
    "tags": _COMMON | {"default"},
    "object_reference": _COMMON | {"action_type", "action_id"},
    "sample": set(_COMMON),
    "measurement": set(_COMMON),
}


def is_title(value):
    """A title is a non-empty string or a multilingual {language: string} dict with English."""
    if isinstance(value, str):
        return bool(value.strip())
    return (
        isinstance(value, dict)
        and "en" in value
        and all(LANGUAGE.match(k) and isinstance(v, str) for k, v in value.items())
    )


def check_schema(schema, path=("schema",)):
    """Every violation of the rules for an action's (root) schema."""
    out = []
    if not isinstance(schema, dict):
        return [Violation(path, "the schema must be an object")]
    if schema.get("type") != "object":
        out.append(Violation(path + ("type",), "the root schema must be of type 'object'"))
        _check_property(schema, path, out)
        return out
    _check_property(schema, path, out)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        name = properties.get("name")
        if not isinstance(name, dict):
            out.append(Violation(path + ("properties",), "the root object needs a property 'name'"))
        elif name.get("type") != "text":
            out.append(
                Violation(path + ("properties", "name", "type"), "the property 'name' must be of type 'text'")
            )
        # `name` is required at the root whether or not the schema says so (seed 001's own example
        # schema has no `required`; check_data refuses an object without a name all the same); a
        # `required` list that leaves it out is refused.
        required = schema.get("required")
        if (
            isinstance(name, dict)
            and required is not None
            and not (isinstance(required, list) and "name" in required)
        ):
            out.append(Violation(path + ("required",), "the property 'name' must be required"))
    return out


def _check_property(schema, path, out):
    """Check one property schema (recursively) and append violations to ``out``."""
    if not isinstance(schema, dict):
        out.append(Violation(path, "a property schema must be an object"))
        return
    if len(path) > MAX_DEPTH:
        out.append(Violation(path, "the schema is nested too deeply"))
        return
    kind = schema.get("type")
    if "type" not in schema:
        out.append(Violation(path, "missing keyword 'type'"))
    elif kind not in TYPES:
        out.append(Violation(path + ("type",), f"unknown type {kind!r} (one of: {', '.join(TYPES)})"))
        return
    if "title" not in schema:
        out.append(Violation(path, "missing keyword 'title'"))
    elif not is_title(schema["title"]):
        out.append(
            Violation(
                path + ("title",),
                "the title must be a non-empty text or an {language: text} object including 'en'",
            )
        )
    if "note" in schema and not is_title(schema["note"]):
        out.append(Violation(path + ("note",), "a note must be a text or an {language: text} object"))
    if kind is None:
        return
    for key in sorted(set(schema) - KEYWORDS[kind]):
        out.append(Violation(path + (key,), f"unknown keyword {key!r} for type {kind!r}"))
    before = len(out)
    CHECKS[kind](schema, path, out)
    if (
        "default" in schema
        and len(out) == before
        and kind in ("array", "text", "bool", "datetime", "quantity", "tags")
    ):
        out.extend(check_data(schema["default"], schema, path=path + ("default",), name_rules=False))


def _check_object(schema, path, out):
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        out.append(Violation(path + ("properties",), "'properties' must be an object of property schemas"))
        properties = {}
    for name, sub in properties.items():
        if not PROPERTY_NAME.match(name):
            out.append(
                Violation(
                    path + ("properties", name),
                    "a property name must start with a letter and contain only letters, digits and '_'",
                )
            )
        _check_property(sub, path + ("properties", name), out)
    for key in ("required", "propertyOrder"):
        if key not in schema:
            continue
        value = schema[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            out.append(Violation(path + (key,), f"'{key}' must be a list of property names"))
            continue
        if len(set(value)) != len(value):
            out.append(Violation(path + (key,), f"'{key}' lists a property twice"))
        for i, name in enumerate(value):
            if name not in properties:
                out.append(Violation(path + (key, i), f"{name!r} is not a property of this object"))


def _check_array(schema, path, out):
    if "items" not in schema:
        out.append(Violation(path, "missing keyword 'items'"))
    else:
        _check_property(schema["items"], path + ("items",), out)
    _check_bounds(schema, path, out, "minItems", "maxItems", is_count, "a non-negative integer")


def _check_bounds(schema, path, out, low, high, valid, description):
    for key in (low, high):
        if key in schema and not valid(schema[key]):
            out.append(Violation(path + (key,), f"'{key}' must be {description}"))
    if valid(schema.get(low)) and valid(schema.get(high)) and schema[low] > schema[high]:
        out.append(Violation(path + (low,), f"'{low}' must not be greater than '{high}'"))


def _check_text(schema, path, out):
    _check_bounds(schema, path, out, "minLength", "maxLength", is_count, "a non-negative integer")
    for key in ("multiline", "markdown"):
        if key in schema and not isinstance(schema[key], bool):
            out.append(Violation(path + (key,), f"'{key}' must be true or false"))
    if "placeholder" in schema and not is_title(schema["placeholder"]):
        out.append(Violation(path + ("placeholder",), "'placeholder' must be a text"))
    if "choices" in schema:
        choices = schema["choices"]
        if not isinstance(choices, list) or not choices or not all(is_title(c) for c in choices):
            out.append(Violation(path + ("choices",), "'choices' must be a non-empty list of texts"))
        if "multiline" in schema or "markdown" in schema or "pattern" in schema:
            out.append(
                Violation(
                    path + ("choices",), "'choices' cannot be combined with multiline, markdown or pattern"
                )
            )
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"]) if isinstance(schema["pattern"], str) else None
        except re.error as exc:
            out.append(Violation(path + ("pattern",), f"'pattern' is not a valid regular expression: {exc}"))
        if not isinstance(schema["pattern"], str):
            out.append(Violation(path + ("pattern",), "'pattern' must be a regular expression (a text)"))
    if "languages" in schema:
        langs = schema["languages"]
        if langs != "all" and not (
            isinstance(langs, list)
            and langs
            and "en" in langs
            and all(isinstance(x, str) and LANGUAGE.match(x) for x in langs)
        ):
            out.append(
                Violation(
                    path + ("languages",),
                    "'languages' must be \"all\" or a list of language codes including 'en'",
                )
            )


def _check_quantity(schema, path, out):
    units = schema.get("units")
    if "units" not in schema:
        out.append(Violation(path, "missing keyword 'units'"))
    else:
        names = units if isinstance(units, list) else [units]
        parsed = []
        if not names or not all(isinstance(n, str) for n in names):
            out.append(Violation(path + ("units",), "'units' must be a unit or a non-empty list of units"))
            names = []
        for i, name in enumerate(names):
            unit = parse_units(name)
            where = path + ("units",) + ((i,) if isinstance(units, list) else ())
            if unit is None:
                out.append(Violation(where, f"unknown units {name!r}"))
            else:
                parsed.append((where, name, unit))
        for where, name, unit in parsed[1:]:
            if unit.dimensionality != parsed[0][2].dimensionality:
                out.append(Violation(where, f"units {name!r} are not compatible with {parsed[0][1]!r}"))
    _check_bounds(schema, path, out, "min_magnitude", "max_magnitude", is_number, "a number")
    if "placeholder" in schema and not is_title(schema["placeholder"]):
        out.append(Violation(path + ("placeholder",), "'placeholder' must be a text"))


def _check_reference(schema, path, out):
    if "action_type" in schema:
        value = schema["action_type"]
        values = value if isinstance(value, list) else [value]
        if not values or not all(v in ACTION_TYPES for v in values):
            out.append(
                Violation(
                    path + ("action_type",),
                    f"'action_type' must be one or a list of: {', '.join(ACTION_TYPES)}",
                )
            )
    if "action_id" in schema:
        value = schema["action_id"]
        values = value if isinstance(value, list) else [value]
        if not values or not all(is_id(v) for v in values):
            out.append(Violation(path + ("action_id",), "'action_id' must be an action id or a list of them"))


CHECKS = {
    "object": _check_object,
    "array": _check_array,
    "text": _check_text,
    "bool": lambda schema, path, out: None,
    "datetime": lambda schema, path, out: None,
    "quantity": _check_quantity,
    "tags": lambda schema, path, out: None,
    "object_reference": _check_reference,
    "sample": lambda schema, path, out: None,
    "measurement": lambda schema, path, out: None,
}
