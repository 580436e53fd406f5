"""Marshmallow schemas: what clients may send for projects, data sources and step jobs."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.inputs import INT32
from app.resources.datasources.models import ROLES, TYPES

name_field = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ProjectMemberSchema(Schema):
    account = fields.Integer(required=True, strict=True, validate=INT32)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class ProjectSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    members = fields.List(fields.Nested(ProjectMemberSchema), load_default=list)

    @validates_schema
    def _unique_members(self, data, **kwargs):
        ids = [m["account"] for m in data.get("members", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("An account is listed more than once.", "members")


class DataSourceSchema(Schema):
    """The non-file fields of POST/PUT /api/v1/datasources (multipart form or JSON)."""

    name = name_field
    project = fields.Integer(required=True, validate=INT32)
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    connection = fields.String(
        validate=validate.Length(min=1, max=2000),
        metadata={"prompt": "database: SQLAlchemy URL or configured connection name"},
    )
    query = fields.String(
        validate=validate.Length(min=1, max=100_000), metadata={"prompt": "database: one SELECT"}
    )
    url = fields.String(  # checked by type (forms.check_type_fields): http(s) for api, s3/file for external
        validate=validate.Length(min=1, max=2000),
        metadata={
            "prompt": "api: URL returning CSV or a JSON array of objects; external: s3:// or file:// URL of"
            " Parquet (a file, a folder or a prefix)"
        },
    )


class StepSchema(Schema):
    key = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^(builtin|upload):[A-Za-z0-9_.-]{1,100}$",
            error="A step key is builtin:<name> (a built-in script) or upload:<name> (a script uploaded "
            "to this data source as <name>.py), not a path; GET the source's script list for its keys.",
        ),
    )
    exec_order = fields.Integer(required=True, strict=True, validate=INT32)
    params = fields.Dict(keys=fields.String(), load_default=dict)


class StartJobSchema(Schema):
    steps = fields.List(
        fields.Nested(StepSchema),
        required=True,
        validate=validate.Length(min=1, error="At least one step is required."),
    )

    @validates_schema
    def _unique_orders(self, data, **kwargs):
        orders = [step["exec_order"] for step in data.get("steps", [])]
        duplicates = sorted({o for o in orders if orders.count(o) > 1})
        if duplicates:
            raise ValidationError(f"exec_order {duplicates[0]} is used by more than one step.", "steps")


project_schema = ProjectSchema()
datasource_schema = DataSourceSchema()
datasource_update_schema = DataSourceSchema(exclude=("project",))
start_job_schema = StartJobSchema()
