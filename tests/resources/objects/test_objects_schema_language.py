"""SampleDB's schema language: the schema check and the data check (pure unit tests, no app)."""

import copy

import pytest

from app.resources.objects.data_sampledb import check_data, object_name, references
from app.resources.objects.schemas_sampledb import Violation, check_schema


def root(**properties):
    return {
        "title": "Object Information",
        "type": "object",
        "properties": {"name": {"title": "Name", "type": "text"}, **properties},
        "required": ["name"],
    }


def messages(violations):
    return [str(v) for v in violations]


def text(value):
    return {"_type": "text", "text": value}


def quantity(units, dimensionality, base, **extra):
    return {
        "_type": "quantity",
        "units": units,
        "dimensionality": dimensionality,
        "magnitude_in_base_units": base,
        **extra,
    }


FULL = root(
    note={"title": "Note", "type": "text", "multiline": True, "maxLength": 50},
    kind={"title": "Kind", "type": "text", "choices": ["a", "b"]},
    code={"title": "Code", "type": "text", "pattern": "^[A-Z]{3}$"},
    ok={"title": "OK", "type": "bool"},
    when={"title": "When", "type": "datetime"},
    mass={"title": "Mass", "type": "quantity", "units": ["g", "kg"], "min_magnitude": 0, "max_magnitude": 10},
    ratio={"title": "Ratio", "type": "quantity", "units": "1"},
    tags={"title": "Tags", "type": "tags"},
    ref={"title": "Ref", "type": "object_reference", "action_type": ["sample", "custom"]},
    sample={"title": "Sample", "type": "sample"},
    meas={"title": "Measurement", "type": "measurement"},
    steps={
        "title": "Steps",
        "type": "array",
        "minItems": 1,
        "maxItems": 2,
        "items": {
            "title": "Step",
            "type": "object",
            "properties": {"label": {"title": "Label", "type": "text", "minLength": 2}},
            "required": ["label"],
        },
    },
)

GOOD = {
    "name": text("Sample 1"),
    "note": text({"en": "hello", "de": "hallo"}),
    "kind": text("a"),
    "code": text("ABC"),
    "ok": {"_type": "bool", "value": True},
    "when": {"_type": "datetime", "utc_datetime": "2026-01-02 03:04:05"},
    "mass": quantity("g", "[mass]", 0.005, magnitude=5),
    "ratio": quantity("1", "dimensionless", 0.5),
    "tags": {"_type": "tags", "tags": ["x", "y"]},
    "ref": {"_type": "object_reference", "object_id": 1},
    "sample": {"_type": "sample", "object_id": 1},
    "meas": {"_type": "measurement", "object_id": 2},
    "steps": [{"label": text("go")}],
}

OBJECTS = {1: (10, "sample"), 2: (11, "measurement"), 3: (12, "simulation")}


def resolve(object_id):
    return OBJECTS.get(object_id)


def test_full_schema_and_data_are_valid():
    assert check_schema(FULL) == []
    assert check_data(GOOD, FULL, resolve=resolve) == []
    assert object_name(GOOD) == "Sample 1"
    assert sorted(references(GOOD, FULL)) == [1, 1, 2]


def test_violation_str_names_the_path():
    assert str(Violation(("data", "a", 0), "bad")) == "bad (at data -> a -> 0)"


@pytest.mark.parametrize(
    "schema, expected",
    [
        ([], "the schema must be an object (at schema)"),
        (
            {"title": "x", "type": "array", "items": {"title": "i", "type": "text"}},
            "the root schema must be of type 'object' (at schema -> type)",
        ),
        (root(x={"type": "text"}), "missing keyword 'title' (at schema -> properties -> x)"),
        (root(x={"title": "x"}), "missing keyword 'type' (at schema -> properties -> x)"),
        (root(x={"title": "x", "type": "float"}), "unknown type 'float'"),
        (root(x={"title": "", "type": "text"}), "(at schema -> properties -> x -> title)"),
        (
            root(x={"title": "x", "type": "text", "colour": "red"}),
            "unknown keyword 'colour' for type 'text' (at schema -> properties -> x -> colour)",
        ),
        (
            {"title": "x", "type": "object", "properties": {}},
            "the root object needs a property 'name' (at schema -> properties)",
        ),
        (
            {
                "title": "x",
                "type": "object",
                "properties": {"name": {"title": "n", "type": "bool"}},
                "required": ["name"],
            },
            "the property 'name' must be of type 'text' (at schema -> properties -> name -> type)",
        ),
        (
            {
                "title": "x",
                "type": "object",
                "properties": {"name": {"title": "n", "type": "text"}, "b": {"title": "b", "type": "text"}},
                "required": ["b"],
            },
            "the property 'name' must be required (at schema -> required)",
        ),
        (
            {**root(), "required": ["name", "ghost"]},
            "'ghost' is not a property of this object (at schema -> required -> 1)",
        ),
        (
            {**root(), "propertyOrder": ["name", "name"]},
            "'propertyOrder' lists a property twice (at schema -> propertyOrder)",
        ),
        (root(**{"bad-name": {"title": "x", "type": "bool"}}), "a property name must start with a letter"),
        (root(a={"title": "a", "type": "array"}), "missing keyword 'items' (at schema -> properties -> a)"),
        (
            root(
                a={
                    "title": "a",
                    "type": "array",
                    "items": {"title": "i", "type": "text"},
                    "minItems": 3,
                    "maxItems": 1,
                }
            ),
            "'minItems' must not be greater than 'maxItems' (at schema -> properties -> a -> minItems)",
        ),
        (
            root(a={"title": "a", "type": "array", "items": {"title": "i", "type": "text"}, "minItems": -1}),
            "'minItems' must be a non-negative integer",
        ),
        (
            root(t={"title": "t", "type": "text", "minLength": "2"}),
            "'minLength' must be a non-negative integer",
        ),
        (
            root(t={"title": "t", "type": "text", "choices": []}),
            "'choices' must be a non-empty list of texts",
        ),
        (
            root(t={"title": "t", "type": "text", "pattern": "("}),
            "'pattern' is not a valid regular expression",
        ),
        (
            root(t={"title": "t", "type": "text", "default": {"_type": "text", "text": 5}}),
            "(at schema -> properties -> t -> default -> text)",
        ),
        (
            root(q={"title": "q", "type": "quantity"}),
            "missing keyword 'units' (at schema -> properties -> q)",
        ),
        (
            root(q={"title": "q", "type": "quantity", "units": "furlongs per blorp"}),
            "unknown units 'furlongs per blorp' (at schema -> properties -> q -> units)",
        ),
        (
            root(q={"title": "q", "type": "quantity", "units": ["m", "s"]}),
            "units 's' are not compatible with 'm' (at schema -> properties -> q -> units -> 1)",
        ),
        (
            root(q={"title": "q", "type": "quantity", "units": "m", "min_magnitude": 5, "max_magnitude": 1}),
            "'min_magnitude' must not be greater than 'max_magnitude'",
        ),
        (
            root(q={"title": "q", "type": "quantity", "units": "m", "max_magnitude": "big"}),
            "'max_magnitude' must be a number",
        ),
        (
            root(r={"title": "r", "type": "object_reference", "action_type": "gadget"}),
            "'action_type' must be one or a list",
        ),
        (
            root(r={"title": "r", "type": "object_reference", "action_id": "1"}),
            "'action_id' must be an action id",
        ),
        (root(b={"title": "b", "type": "bool", "default": "yes"}), "expected a bool value"),
        (
            root(o={"title": "o", "type": "object", "properties": {"x": {"title": "x", "type": "nope"}}}),
            "unknown type 'nope' (one of: object, array, text, bool, datetime, quantity, tags,"
            " object_reference, sample, "
            "measurement) (at schema -> properties -> o -> properties -> x -> type)",
        ),
    ],
)
def test_bad_schemas_are_reported_with_their_path(schema, expected):
    found = messages(check_schema(schema))
    assert any(expected in m for m in found), found


def test_every_schema_violation_is_reported():
    schema = root(
        a={"type": "text"},
        b={"title": "b", "type": "quantity", "units": "zorks"},
        c={"title": "c", "type": "array", "items": {"title": "i"}},
    )
    found = messages(check_schema(schema))
    assert "missing keyword 'title' (at schema -> properties -> a)" in found
    assert "unknown units 'zorks' (at schema -> properties -> b -> units)" in found
    assert "missing keyword 'type' (at schema -> properties -> c -> items)" in found
    assert len(found) == 3


def with_value(key, value):
    data = copy.deepcopy(GOOD)
    data[key] = value
    return data


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("name", "Sample", "expected a text value"),
        ("name", text(""), "the object's name must not be empty (at data -> name)"),
        ("name", {"_type": "bool", "value": True}, "\"_type\" must be 'text' (at data -> name -> _type)"),
        ("name", {"_type": "text", "text": "x", "colour": "red"}, "unknown key 'colour' in a text value"),
        ("note", text("x" * 51), "text is longer than 50 characters (at data -> note -> text)"),
        (
            "note",
            text({"de": "nur deutsch"}),
            "needs an English ('en') translation (at data -> note -> text)",
        ),
        ("note", text({"en": "x", "english": "y"}), "language 'english' is not allowed here"),
        ("note", text(42), "'text' must be a text or an {language: text} object"),
        ("kind", text("c"), "text is not one of the choices (at data -> kind -> text)"),
        ("code", text("abcd"), "does not match the pattern"),
        ("ok", {"_type": "bool", "value": "true"}, "'value' must be true or false (at data -> ok -> value)"),
        (
            "when",
            {"_type": "datetime", "utc_datetime": "2026-01-02T03:04:05Z"},
            "'utc_datetime' must be a UTC date-time",
        ),
        (
            "when",
            {"_type": "datetime", "utc_datetime": "2026-02-30 00:00:00"},
            "(at data -> when -> utc_datetime)",
        ),
        (
            "mass",
            quantity("m", "[length]", 1),
            "units 'm' are not compatible with 'g' ([mass]) (at data -> mass -> units)",
        ),
        ("mass", quantity("kg", "[length]", 1), "'dimensionality' must be '[mass]' for units 'kg'"),
        ("mass", quantity("kg", "[mass]", "1"), "'magnitude_in_base_units' must be a number"),
        ("mass", quantity("kg", "[mass]", True), "'magnitude_in_base_units' must be a number"),
        ("mass", quantity("kg", "[mass]", 11), "above the maximum 10 (in base units)"),
        ("mass", quantity("kg", "[mass]", -1), "below the minimum 0 (in base units)"),
        (
            "mass",
            quantity("g", "[mass]", 5, magnitude=5),
            "5 g is 0.005 in base units, not 5 (at data -> mass -> magnitude)",
        ),
        ("mass", quantity("blorps", "[mass]", 5), "unknown units 'blorps'"),
        ("ratio", quantity("m", "[length]", 1), "not compatible with '1'"),
        (
            "tags",
            {"_type": "tags", "tags": ["a", "a"]},
            "tag 'a' appears twice (at data -> tags -> tags -> 1)",
        ),
        ("tags", {"_type": "tags", "tags": ["two words"]}, "a tag must be a non-empty text without spaces"),
        ("tags", {"_type": "tags", "tags": "a"}, "'tags' must be a list of tags"),
        (
            "ref",
            {"_type": "object_reference", "object_id": 99},
            "object 99 does not exist or you may not read it",
        ),
        (
            "ref",
            {"_type": "object_reference", "object_id": 2},
            "object 2 is a measurement, expected: sample, custom",
        ),
        ("ref", {"_type": "object_reference", "object_id": "1"}, "'object_id' must be an object id"),
        ("ref", {"_type": "object_reference", "object_id": 2**40}, "'object_id' must be an object id"),
        (
            "sample",
            {"_type": "sample", "object_id": 2},
            "object 2 is a measurement, expected: sample (at data -> sample -> object_id)",
        ),
        ("meas", {"_type": "measurement", "object_id": 3}, "object 3 is a simulation, expected: measurement"),
        ("steps", [], "expected at least 1 items, got 0 (at data -> steps)"),
        ("steps", [{"label": text("ab")}] * 3, "expected at most 2 items, got 3 (at data -> steps)"),
        (
            "steps",
            [{"label": text("a")}],
            "text is shorter than 2 characters (at data -> steps -> 0 -> label -> text)",
        ),
        ("steps", [{}], "missing required property 'label' (at data -> steps -> 0 -> label)"),
        ("steps", {"label": text("ab")}, "expected an array (at data -> steps)"),
        ("ghost", text("boo"), "unknown property 'ghost' (at data -> ghost)"),
    ],
)
def test_bad_values_are_reported_with_their_path(key, value, expected):
    found = messages(check_data(with_value(key, value), FULL, resolve=resolve))
    assert any(expected in m for m in found), found


def test_every_data_violation_is_reported_at_once():
    data = copy.deepcopy(GOOD)
    del data["name"]
    data["ok"] = {"_type": "bool", "value": 1}
    data["steps"] = [{"label": text("a")}, {"label": text("b"), "extra": 1}]
    found = messages(check_data(data, FULL, resolve=resolve))
    assert "missing required property 'name' (at data -> name)" in found
    assert "'value' must be true or false (at data -> ok -> value)" in found
    assert "text is shorter than 2 characters (at data -> steps -> 0 -> label -> text)" in found
    assert "text is shorter than 2 characters (at data -> steps -> 1 -> label -> text)" in found
    assert "unknown property 'extra' (at data -> steps -> 1 -> extra)" in found
    assert len(found) == 5


def test_data_must_be_an_object():
    assert messages(check_data([], FULL)) == ["expected an object (at data)"]


def test_compatible_units_and_offsets_use_pint():
    schema = root(t={"title": "T", "type": "quantity", "units": "degC"})
    assert (
        check_data({"name": text("x"), "t": quantity("degC", "[temperature]", 274.15, magnitude=1)}, schema)
        == []
    )
    assert check_data({"name": text("x"), "t": quantity("K", "[temperature]", 3)}, schema) == []
    speed = root(v={"title": "v", "type": "quantity", "units": "km/h"})
    assert check_data({"name": text("x"), "v": quantity("m/s", "[length] / [time]", 2)}, speed) == []


def test_reference_with_action_id_constraint():
    schema = root(r={"title": "r", "type": "object_reference", "action_id": [11]})
    bad = {"name": text("x"), "r": {"_type": "object_reference", "object_id": 1}}
    assert messages(check_data(bad, schema, resolve=resolve)) == [
        "object 1 was made by action 10, expected: 11 (at data -> r -> object_id)"
    ]


def test_valid_defaults_are_accepted():
    schema = root(
        q={"title": "q", "type": "quantity", "units": "m", "default": quantity("m", "[length]", 1)},
        b={"title": "b", "type": "bool", "default": {"_type": "bool", "value": False}},
    )
    assert check_schema(schema) == []


def test_deep_nesting_is_a_violation_not_a_crash():
    inner = {"title": "leaf", "type": "text"}
    for _ in range(200):
        inner = {"title": "level", "type": "array", "items": inner}
    found = messages(check_schema(root(deep=inner)))
    assert len(found) == 1 and found[0].startswith(
        "the schema is nested too deeply (at schema -> properties -> deep"
    )
