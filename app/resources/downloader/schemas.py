"""Download request bodies: their shape (marshmallow), then their meaning against the item's spec.

``spec`` is seed 000's ``{columns, filters: [{name, operator, value}], randomize_ratio}``; ``format``
(``csv`` by default, or ``parquet``) is Halyard's addition next to it. ``check_against_item`` names
every problem in marshmallow's shape, e.g. ``{"spec": {"filters": {"0": {"value": [...]}}}}``.
"""

import hashlib
import json

from marshmallow import Schema, fields, validate

from app.inputs import INT32
from app.resources.catalogue.spec import OPERATORS, normalise_value, value_matches
from app.resources.downloader.models import FORMATS

ALL_OPERATORS = (">", ">=", "<", "<=", "=", "!=")
ITEM_ID_ERRORS = {"invalid": "A valid integer is required.", "required": "This field is required."}


class FilterSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    operator = fields.String(required=True, validate=validate.OneOf(ALL_OPERATORS))
    value = fields.Raw(required=True, allow_none=True)


class SpecSchema(Schema):
    columns = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1, max=500, error="At least one column is required."),
    )
    filters = fields.List(fields.Nested(FilterSchema), load_default=list, validate=validate.Length(max=100))
    randomize_ratio = fields.Float(
        load_default=1,
        validate=validate.Range(
            min=0, max=1, min_inclusive=False, error="Must be greater than 0 and at most 1."
        ),
    )


class DownloadRequestSchema(Schema):
    catalogue_item_id = fields.Integer(required=True, error_messages=ITEM_ID_ERRORS, validate=INT32)
    spec = fields.Nested(SpecSchema, required=True)
    format = fields.String(load_default="csv", validate=validate.OneOf(FORMATS))


class RenderUiDataSchema(Schema):
    catalogue_item_id = fields.Integer(required=True, error_messages=ITEM_ID_ERRORS, validate=INT32)


download_request_schema = DownloadRequestSchema()
render_ui_data_schema = RenderUiDataSchema()


def check_against_item(spec, item):
    """Errors (marshmallow's shape, under ``spec``) of ``spec`` given the item's columns; {} when valid."""
    columns = {c["name"]: c for c in item.spec or []}
    errors = {}
    seen, column_errors = set(), []
    for name in spec["columns"]:
        if name in seen:
            column_errors.append(f"Column {name!r} is requested twice.")
        elif name not in columns:
            column_errors.append(f"Unknown column {name!r}.")
        seen.add(name)
    if column_errors:
        errors["columns"] = column_errors
    filter_errors = {}
    for i, flt in enumerate(spec["filters"]):
        problem = _filter_problem(flt, columns.get(flt["name"]))
        if problem:
            filter_errors[str(i)] = problem
    if filter_errors:
        errors["filters"] = filter_errors
    return {"spec": errors} if errors else {}


def _filter_problem(flt, column):
    if column is None:
        return {"name": [f"Unknown column {flt['name']!r}."]}
    kind, operator, value = column["type"], flt["operator"], flt["value"]
    if operator not in OPERATORS[kind]:
        return {
            "operator": [
                f"{operator!r} is not allowed for {kind} columns; use one of {', '.join(OPERATORS[kind])}."
            ]
        }
    if value is None:
        if not column.get("is_nullable"):
            return {"value": [f"Column {flt['name']!r} is not nullable; null is not a value of it."]}
        if operator not in ("=", "!="):
            return {"value": ["null can only be compared with = and !=."]}
        return None
    if not value_matches(kind, value):
        return {"value": [f"{json.dumps(value)} is not a valid {kind} value."]}
    return None


def normalised(item, spec, fmt):
    """The canonical (item, spec, format): column and filter order removed, values typed by column."""
    types = {c["name"]: c["type"] for c in item.spec or []}
    filters = sorted(
        (
            f["name"],
            f["operator"],
            json.dumps(None if f["value"] is None else normalise_value(types[f["name"]], f["value"])),
        )
        for f in spec["filters"]
    )
    return {
        "item": item.id,
        "columns": sorted(spec["columns"]),
        "filters": filters,
        "randomize_ratio": float(spec["randomize_ratio"]),
        "format": fmt,
    }


def dedupe_key(item, spec, fmt):
    """sha256 of the normalised request: equal requests have equal keys."""
    text = json.dumps(normalised(item, spec, fmt), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
