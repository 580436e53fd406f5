"""Shared OpenAPI schemas of projects and data sources (seed 002): the request and response bodies its views'
``@api_doc`` declarations name (docs/openapi.md)."""

from marshmallow import INCLUDE, Schema, fields, validate

from app.openapi.helpers import HalSchema
from app.resources.datasources.models import ROLES, RUN_STATUSES, STATUSES, TYPES
from app.resources.datasources.schemas import DataSourceSchema

Uri = fields.String  # absolute http(s) URLs
STEP_STATUSES = ("pending", "running", "finished", "failed", "skipped")


# --- request bodies -------------------------------------------------------------------------------


class DataSourceUploadSchema(DataSourceSchema):
    """POST /api/v1/datasources as multipart/form-data: the fields and the CSV ``file`` (type file)."""

    file = fields.Raw(
        metadata={
            "type": "string",
            "format": "binary",
            "description": "The CSV table (type file only; required on create).",
        }
    )


class DataSourceReplaceUploadSchema(DataSourceUploadSchema):
    """PUT /api/v1/datasources/{id}: as on create without ``project``; ``file``/``connection`` may be kept."""

    class Meta:
        exclude = ("project",)


class ScriptUploadSchema(Schema):
    script = fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": "A UTF-8 Python file named <name>.py.",
        },
    )


# --- response bodies ------------------------------------------------------------------------------


class ProjectMemberViewSchema(Schema):
    account = fields.Integer(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class ProjectViewSchema(HalSchema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    owner = fields.Integer(required=True)
    members = fields.List(fields.Nested(ProjectMemberViewSchema), required=True)
    role = fields.String(
        required=True,
        validate=validate.OneOf(("owner",) + ROLES),
        metadata={"description": "The caller's role (ADMINs: owner)."},
    )
    created = fields.DateTime(required=True)
    updated = fields.DateTime(required=True)


class TableMetaSchema(Schema):
    items = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Rows (null until ready)."}
    )
    fields_ = fields.Integer(
        data_key="fields",
        required=True,
        allow_none=True,
        metadata={"description": "Columns (null until ready)."},
    )
    preview = Uri(required=True, allow_none=True, metadata={"description": "The JSON preview (when ready)."})
    preeview = Uri(
        allow_none=True,
        metadata={"description": "Seed-native JSON only: the same URL under seed 002's spelling."},
    )


class ColumnSchema(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "DuckDB type, e.g. BIGINT, VARCHAR."})


class DataSourceViewSchema(HalSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    project = fields.Integer(required=True)
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    error = fields.String(required=True, allow_none=True)
    file = Uri(
        required=True, allow_none=True, metadata={"description": "The data as a file, when there is one."}
    )
    meta_data = fields.Nested(TableMetaSchema, required=True)
    columns = fields.List(fields.Nested(ColumnSchema), required=True)
    problems = fields.Dict(required=True, metadata={"description": "Rows or values the CSV reader repaired."})
    connection = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The configured connection name (never a URL)."},
    )
    connection_stored = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(("reference", "encrypted"))
    )
    query = fields.String(required=True, allow_none=True)
    url = fields.String(required=True, allow_none=True)
    created = fields.DateTime(required=True)
    updated = fields.DateTime(required=True)


class StepScriptViewSchema(HalSchema):
    key = fields.String(required=True, metadata={"description": "builtin:<name> or upload:<name>."})
    kind = fields.String(required=True, validate=validate.OneOf(("builtin", "upload")))
    body = fields.String(required=True, metadata={"description": "The script's source."})


class StepStateSchema(Schema):
    class Meta:
        unknown = INCLUDE

    key = fields.String(required=True)
    exec_order = fields.Integer(required=True)
    params = fields.Dict(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STEP_STATUSES))
    exit_status = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    duration = fields.Float(allow_none=True, metadata={"description": "Seconds."})
    stdout_tail = fields.String(allow_none=True)
    stderr_tail = fields.String(allow_none=True)


class RunProgressSchema(Schema):
    fraction = fields.Float(required=True, allow_none=True)
    message = fields.String(required=True, allow_none=True)


class StepJobViewSchema(HalSchema):
    id = fields.Integer(required=True)
    datasource = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(RUN_STATUSES))
    error = fields.String(required=True, allow_none=True)
    progress = fields.Nested(RunProgressSchema, required=True)
    steps = fields.List(fields.Nested(StepStateSchema), required=True)
    created = fields.DateTime(required=True)
    result = Uri(
        required=True, allow_none=True, metadata={"description": "The result as CSV (when finished)."}
    )
    meta_data = fields.Nested(TableMetaSchema, required=True)
    columns = fields.List(fields.Nested(ColumnSchema), required=True)


PREVIEW = {
    "type": "object",
    "required": ["items", "fields", "distinct", "columns", "rows"],
    "properties": {
        "items": {"type": "integer", "minimum": 0},
        "fields": {"type": "integer", "minimum": 0},
        "distinct": {"enum": ["exact", "approximate"]},
        "columns": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "type", "nulls", "min", "max", "distinct"],
                "properties": {
                    "name": {"type": "string"},
                    "type": {"type": "string"},
                    "nulls": {"type": "integer"},
                    "min": {"type": ["string", "null"]},
                    "max": {"type": ["string", "null"]},
                    "distinct": {"type": "integer"},
                },
            },
        },
        "rows": {"type": "array", "items": {"type": "object"}},
    },
}

# --- operations -----------------------------------------------------------------------------------


SOURCE_BODY = (
    "Multipart fields: name, type, by type `file` (CSV) | `connection` + `query` | `url`. "
    "application/json and application/x-www-form-urlencoded are accepted as well when no file is sent. "
    "Unknown, repeated or misplaced fields are 400 naming them; nothing is stored then."
)
