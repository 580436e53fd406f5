"""SampleDB's schema language: the check of an object version's data against its schema.

A pure module. ``check_data(data, schema, resolve=...)`` returns every ``Violation``
with its path inside the data (``text is too short (at data -> name)``). Values are
typed as SampleDB types them: ``{"_type": "text", "text": ...}``, ``{"_type": "bool",
"value": ...}``, ``{"_type": "quantity", "units", "dimensionality",
"magnitude_in_base_units"}`` and so on; objects are plain JSON objects and arrays
plain JSON arrays. References are checked through ``resolve(object_id)``, which
answers ``(action_id, action_type)`` for an object the writer may read and None
otherwise (so a reference never tells a writer that an unreadable object exists).
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from .sampledb_values import (
    DATETIME_FORMAT,
    LANGUAGE,
    Violation,
    is_id,
    is_number,
    parse_units,
    unit_registry,
)

VALUE_KEYS = {
    "text": {"_type", "text", "is_markdown"},
    "bool": {"_type", "value"},
    "datetime": {"_type", "utc_datetime"},
    "quantity": {"_type", "units", "dimensionality", "magnitude_in_base_units", "magnitude"},
    "tags": {"_type", "tags"},
    "object_reference": {"_type", "object_id"},
    "sample": {"_type", "object_id"},
    "measurement": {"_type", "object_id"},
}
TAG = re.compile(r"^\S+$")


def check_data(data, schema, *, path=("data",), resolve=None, name_rules=True):
    """Every violation of ``schema`` (already checked) by ``data``.

    ``name_rules`` adds the root rule that the object's ``name`` is not empty;
    ``resolve`` checks references (None skips them, e.g. for schema defaults).
    """
    out = []
    _check(data, schema, path, out, resolve)
    if name_rules and isinstance(data, dict) and not out:
        name = object_name(data)
        if not name or not name.strip():
            out.append(Violation(path + ("name",), "the object's name must not be empty"))
    return out


def object_name(data):
    """The object's name text (English for multilingual names), or None."""
    value = data.get("name") if isinstance(data, dict) else None
    text = value.get("text") if isinstance(value, dict) else None
    if isinstance(text, dict):
        text = text.get("en") or next(iter(text.values()), None)
    return text if isinstance(text, str) else None


def _check(data, schema, path, out, resolve):
    kind = schema["type"]
    if kind == "object":
        return _check_object(data, schema, path, out, resolve)
    if kind == "array":
        return _check_array(data, schema, path, out, resolve)
    if not isinstance(data, dict):
        out.append(Violation(path, f'expected a {kind} value, an object with "_type": "{kind}"'))
        return
    if data.get("_type") != kind:
        out.append(Violation(path + ("_type",), f'"_type" must be {kind!r}'))
        return
    unknown = sorted(set(data) - VALUE_KEYS[kind])
    for key in unknown:
        out.append(Violation(path + (key,), f"unknown key {key!r} in a {kind} value"))
    VALUE_CHECKS[kind](data, schema, path, out, resolve)


def _check_object(data, schema, path, out, resolve):
    if not isinstance(data, dict):
        out.append(Violation(path, "expected an object"))
        return
    properties = schema["properties"]
    for key in data:
        if key not in properties:
            out.append(Violation(path + (key,), f"unknown property {key!r}"))
    for key in schema.get("required", []):
        if key not in data:
            out.append(Violation(path + (key,), f"missing required property {key!r}"))
    for key, value in data.items():
        if key in properties:
            _check(value, properties[key], path + (key,), out, resolve)


def _check_array(data, schema, path, out, resolve):
    if not isinstance(data, list):
        out.append(Violation(path, "expected an array"))
        return
    if "minItems" in schema and len(data) < schema["minItems"]:
        out.append(Violation(path, f"expected at least {schema['minItems']} items, got {len(data)}"))
    if "maxItems" in schema and len(data) > schema["maxItems"]:
        out.append(Violation(path, f"expected at most {schema['maxItems']} items, got {len(data)}"))
    for i, item in enumerate(data):
        _check(item, schema["items"], path + (i,), out, resolve)


def _check_text(data, schema, path, out, resolve):
    text = data.get("text")
    where = path + ("text",)
    if isinstance(text, dict):
        allowed = schema.get("languages")
        if "choices" in schema:
            out.append(Violation(where, "a text with choices cannot be multilingual"))
            return
        if "en" not in text:
            out.append(Violation(where, "a multilingual text needs an English ('en') translation"))
        texts = []
        for lang, value in text.items():
            if not LANGUAGE.match(lang) or (isinstance(allowed, list) and lang not in allowed):
                out.append(Violation(where + (lang,), f"language {lang!r} is not allowed here"))
            elif not isinstance(value, str):
                out.append(Violation(where + (lang,), "a translation must be a text"))
            else:
                texts.append((where + (lang,), value))
    elif isinstance(text, str):
        texts = [(where, text)]
    else:
        out.append(Violation(where, "'text' must be a text or an {language: text} object"))
        return
    if "is_markdown" in data and not isinstance(data["is_markdown"], bool):
        out.append(Violation(path + ("is_markdown",), "'is_markdown' must be true or false"))
    for at, value in texts:
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(Violation(at, f"text is shorter than {schema['minLength']} characters"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(Violation(at, f"text is longer than {schema['maxLength']} characters"))
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            out.append(Violation(at, f"text does not match the pattern {schema['pattern']!r}"))
        if "choices" in schema and value not in _choice_texts(schema["choices"]):
            out.append(Violation(at, "text is not one of the choices"))


def _choice_texts(choices):
    return [c if isinstance(c, str) else c.get("en") for c in choices]


def _check_bool(data, schema, path, out, resolve):
    if not isinstance(data.get("value"), bool):
        out.append(Violation(path + ("value",), "'value' must be true or false"))


def _check_datetime(data, schema, path, out, resolve):
    value = data.get("utc_datetime")
    try:
        datetime.strptime(value, DATETIME_FORMAT)
    except (TypeError, ValueError):
        out.append(
            Violation(
                path + ("utc_datetime",),
                "'utc_datetime' must be a UTC date-time formatted as 'YYYY-MM-DD hh:mm:ss'",
            )
        )


def _check_quantity(data, schema, path, out, resolve):
    allowed = schema["units"] if isinstance(schema["units"], list) else [schema["units"]]
    expected = parse_units(allowed[0])
    unit = parse_units(data.get("units"))
    if unit is None:
        out.append(Violation(path + ("units",), f"unknown units {data.get('units')!r}"))
    elif unit.dimensionality != expected.dimensionality:
        out.append(
            Violation(
                path + ("units",),
                f"units {data['units']!r} are not compatible with {allowed[0]!r} ({expected.dimensionality})",
            )
        )
    elif data.get("dimensionality") != str(unit.dimensionality):
        out.append(
            Violation(
                path + ("dimensionality",),
                f"'dimensionality' must be {str(unit.dimensionality)!r} for units {data['units']!r}",
            )
        )
    base = data.get("magnitude_in_base_units")
    if not is_number(base):
        out.append(
            Violation(path + ("magnitude_in_base_units",), "'magnitude_in_base_units' must be a number")
        )
        return
    if "magnitude" in data:
        magnitude = data["magnitude"]
        if not is_number(magnitude):
            out.append(Violation(path + ("magnitude",), "'magnitude' must be a number"))
        elif unit is not None and unit.dimensionality == expected.dimensionality:
            converted = _to_base(magnitude, unit)
            if not math.isclose(converted, base, rel_tol=1e-9, abs_tol=1e-12):
                out.append(
                    Violation(
                        path + ("magnitude",),
                        f"{magnitude} {data['units']} is {converted} in base units, not {base}",
                    )
                )
    if "min_magnitude" in schema and base < schema["min_magnitude"]:
        out.append(
            Violation(
                path + ("magnitude_in_base_units",),
                f"the magnitude is below the minimum {schema['min_magnitude']} (in base units)",
            )
        )
    if "max_magnitude" in schema and base > schema["max_magnitude"]:
        out.append(
            Violation(
                path + ("magnitude_in_base_units",),
                f"the magnitude is above the maximum {schema['max_magnitude']} (in base units)",
            )
        )


def _to_base(magnitude, unit):
    return float(unit_registry().Quantity(magnitude, unit).to_base_units().magnitude)


def _check_tags(data, schema, path, out, resolve):
    tags = data.get("tags")
    if not isinstance(tags, list):
        out.append(Violation(path + ("tags",), "'tags' must be a list of tags"))
        return
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not TAG.match(tag):
            out.append(Violation(path + ("tags", i), "a tag must be a non-empty text without spaces"))
        elif tags.index(tag) != i:
            out.append(Violation(path + ("tags", i), f"tag {tag!r} appears twice"))


def _check_reference(data, schema, path, out, resolve):
    object_id = data.get("object_id")
    where = path + ("object_id",)
    if not is_id(object_id):
        out.append(Violation(where, "'object_id' must be an object id"))
        return
    if resolve is None:
        return
    found = resolve(object_id)
    if found is None:
        out.append(Violation(where, f"object {object_id} does not exist or you may not read it"))
        return
    action_id, action_type = found
    kind = schema["type"]
    wanted_types = [kind] if kind in ("sample", "measurement") else schema.get("action_type")
    if wanted_types is not None:
        wanted_types = wanted_types if isinstance(wanted_types, list) else [wanted_types]
        if action_type not in wanted_types:
            out.append(
                Violation(
                    where, f"object {object_id} is a {action_type}, expected: {', '.join(wanted_types)}"
                )
            )
    wanted_ids = schema.get("action_id")
    if wanted_ids is not None:
        wanted_ids = wanted_ids if isinstance(wanted_ids, list) else [wanted_ids]
        if action_id not in wanted_ids:
            out.append(
                Violation(
                    where,
                    f"object {object_id} was made by action {action_id}, expected: "
                    f"{', '.join(map(str, wanted_ids))}",
                )
            )


VALUE_CHECKS = {
    "text": _check_text,
    "bool": _check_bool,
    "datetime": _check_datetime,
    "quantity": _check_quantity,
    "tags": _check_tags,
    "object_reference": _check_reference,
    "sample": _check_reference,
    "measurement": _check_reference,
}


def references(data, schema):
    """Every object id the data refers to (for the reference index)."""
    found = []
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "object" and isinstance(data, dict):
        for key, value in data.items():
            if key in schema.get("properties", {}):
                found += references(value, schema["properties"][key])
    elif kind == "array" and isinstance(data, list):
        for item in data:
            found += references(item, schema["items"])
    elif kind in ("object_reference", "sample", "measurement") and isinstance(data, dict):
        if isinstance(data.get("object_id"), int):
            found.append(data["object_id"])
    return found
