"""An item's ``spec`` (its columns) and ``sample`` (example rows), validated with JSON Schema.

Messages read like seed 000's: ``JSON did not validate. PATH: '0' REASON: 'type' is a required
property``; PATH is the dotted path inside the validated value. Rules JSON Schema cannot say
(unique column names, unique distribution values) are checked after it, in the same words.
"""

from datetime import UTC, datetime

from jsonschema import Draft202012Validator, FormatChecker

COLUMN_TYPES = ("INTEGER", "FLOAT", "STRING", "BOOLEAN", "DATETIME")
OPERATORS = {
    "INTEGER": (">", ">=", "<", "<=", "=", "!="),
    "FLOAT": (">", ">=", "<", "<=", "=", "!="),
    "DATETIME": (">", ">=", "<", "<=", "=", "!="),
    "STRING": ("=", "!="),
    "BOOLEAN": ("=", "!="),
}
# The JSON Schema of one value of each column type (DATETIME: an ISO-8601 string).
VALUE_SCHEMAS = {
    "INTEGER": {"type": "integer"},
    "FLOAT": {"type": "number"},
    "STRING": {"type": "string"},
    "BOOLEAN": {"type": "boolean"},
    "DATETIME": {"type": "string", "format": "date-time"},
}

format_checker = FormatChecker(formats=())


@format_checker.checks("date-time", raises=ValueError)
def _is_datetime(value):
    if not isinstance(value, str):
        return True
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _distribution_for(kind):
    return {
        "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
        "then": {
            "properties": {
                "distribution": {
                    "anyOf": [
                        {"type": "null"},
                        {"type": "array", "items": {"properties": {"value": VALUE_SCHEMAS[kind]}}},
                    ]
                }
            }
        },
    }


SPEC_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "array",
    "maxItems": 500,
    "items": {
        "type": "object",
        "required": ["name", "type", "is_nullable"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "type": {"enum": list(COLUMN_TYPES)},
            "is_nullable": {"type": "boolean"},
            "is_enum": {"type": "boolean"},
            "size": {"type": ["integer", "null"], "minimum": 0},
            "description": {"type": ["string", "null"], "maxLength": 2000},
            "distribution": {
                "type": ["array", "null"],
                "maxItems": 1000,
                "items": {
                    "type": "object",
                    "required": ["value", "count"],
                    "additionalProperties": False,
                    "properties": {"value": {}, "count": {"type": "integer", "minimum": 0}},
                },
            },
        },
        "allOf": [_distribution_for(kind) for kind in COLUMN_TYPES],
    },
}
spec_validator = Draft202012Validator(SPEC_SCHEMA, format_checker=format_checker)


def message(path, reason):
    return f"JSON did not validate. PATH: '{'.'.join(str(p) for p in path)}' REASON: {reason}"


def _schema_messages(validator, value):
    errors = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    out = []
    for error in errors:
        # if/then and anyOf failures: report the innermost cause, which names the bad value
        leaf = error
        while leaf.context:
            leaf = sorted(leaf.context, key=lambda e: (-len(e.absolute_path), "'null'" in e.message))[0]
        out.append(message(leaf.absolute_path, leaf.message))
    return out


def validate_spec(spec):
    """Messages for everything wrong with ``spec`` ([] when valid)."""
    problems = _schema_messages(spec_validator, spec)
    if problems:
        return problems
    seen = set()
    for i, column in enumerate(spec):
        if column["name"] in seen:
            problems.append(message([i, "name"], f"{column['name']!r} is not unique"))
        seen.add(column["name"])
        values = [_key(d["value"]) for d in column.get("distribution") or []]
        if len(values) != len(set(values)):
            problems.append(message([i, "distribution"], "distribution values are not unique"))
    return problems


def _key(value):
    return (type(value) is bool, value)


def sample_schema(spec):
    """The JSON Schema of ``sample``: rows with exactly the spec's columns, typed by them."""
    properties = {}
    for column in spec:
        value = dict(VALUE_SCHEMAS[column["type"]])
        if column.get("is_nullable"):
            value = {"anyOf": [{"type": "null"}, value]}
        properties[column["name"]] = value
    return {
        "type": "array",
        "maxItems": 100,
        "items": {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        },
    }


def validate_sample(sample, spec):
    """Messages for everything wrong with ``sample`` given a valid ``spec``."""
    validator = Draft202012Validator(sample_schema(spec), format_checker=format_checker)
    return _schema_messages(validator, sample)


def value_matches(kind, value):
    """True when ``value`` (decoded JSON) is a valid value of a column of type ``kind``.

    Booleans are not numbers here (JSON ``true`` is not the INTEGER 1), and a float with a
    fraction is not an INTEGER; falsy values (0, "", false) are values like any other.
    """
    if kind == "BOOLEAN":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "INTEGER":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "FLOAT":
        return (
            isinstance(value, (int, float)) and value == value and value not in (float("inf"), float("-inf"))
        )
    if kind == "STRING":
        return isinstance(value, str)
    if kind == "DATETIME":
        return isinstance(value, str) and parse_datetime(value) is not None
    return False


def parse_datetime(value):
    """An ISO-8601 string as a naive UTC datetime, or None."""

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, AttributeError, OverflowError):  # OverflowError: past year 9999 or before 1 in UTC
        return None
    return parsed


def normalise_value(kind, value):
    """The canonical form of a validated value (for deduplication and SQL literals)."""
    if kind == "INTEGER":
        return int(value)
    if kind == "FLOAT":
        return float(value)
    if kind == "DATETIME":
        return parse_datetime(value).isoformat()
    return value
