"""OpenAPI description of projects and data sources (seed 002): request bodies, response bodies and
the statuses of every operation (docs/openapi.md). Imported by ``init_app``; views stay untouched."""

from marshmallow import INCLUDE, Schema, fields, validate

from app.openapi import describe
from app.openapi.helpers import HalSchema, page, stored_file
from app.resources.datasources.models import ROLES, STATUSES, TYPES
from app.resources.datasources.schemas import DataSourceSchema, ProjectSchema, StartJobSchema
from app.resources.datasources.views_projects import projects_collection
from app.resources.datasources.views_sources import PARQUET, sources_collection
from app.resources.datasources.views_steps import (
    RUN_STATUSES,
    _script_keys,
    runs_collection,
    scripts_collection,
)

TAGS = ["datasources"]
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

describe(
    "datasources.projects",
    tags=TAGS,
    collection=projects_collection,
    responses={200: page(ProjectViewSchema)},
    description="`id=<id>` answers that project itself instead of a page (404 when not visible).",
)
describe(
    "datasources.create_project",
    tags=TAGS,
    request=ProjectSchema,
    responses={201: ProjectViewSchema},
    description="Members replace the list; an unknown account or one listed twice is 400 `members`.",
)
describe("datasources.get_project", tags=TAGS, responses={200: ProjectViewSchema})
describe(
    "datasources.update_project",
    tags=TAGS,
    request=ProjectSchema,
    responses={200: ProjectViewSchema},
    description="Owner and ADMINs; members of the project get 403, everyone else 404.",
)
describe(
    "datasources.delete_project",
    tags=TAGS,
    responses={204: None},
    description="Owner and ADMINs; deletes its data sources, scripts, step jobs and stored files.",
)

SOURCE_BODY = (
    "Multipart fields: name, type, by type `file` (CSV) | `connection` + `query` | `url`. "
    "application/json and application/x-www-form-urlencoded are accepted as well when no file is sent. "
    "Unknown, repeated or misplaced fields are 400 naming them; nothing is stored then."
)
describe(
    "datasources.sources",
    tags=TAGS,
    collection=sources_collection,
    responses={200: page(DataSourceViewSchema)},
    description="`id=<id>` answers that data source itself instead of a page.",
)
describe(
    "datasources.project_sources",
    tags=TAGS,
    collection=sources_collection,
    responses={200: page(DataSourceViewSchema)},
)
describe(
    "datasources.create_source",
    tags=TAGS,
    request=DataSourceUploadSchema,
    content_type="multipart/form-data",
    responses={201: DataSourceViewSchema},
    description=SOURCE_BODY + " A small file is read at once (status ready); anything else is "
    "processed by a job (status processing, link ec:job). 403 for viewers of the project.",
)
describe("datasources.get_source", tags=TAGS, responses={200: DataSourceViewSchema})
describe(
    "datasources.update_source",
    tags=TAGS,
    request=DataSourceReplaceUploadSchema,
    content_type="multipart/form-data",
    responses={200: DataSourceViewSchema},
    description=SOURCE_BODY + " `file` and `connection` may be left out to keep them (same type).",
)
describe("datasources.delete_source", tags=TAGS, responses={204: None})

describe(
    "datasources.source_file",
    tags=TAGS,
    **stored_file("The upload, the fetched response or the query's rows.", "text/csv"),
    description="404 `COULD_NOT_FIND_FILE` while there is none.",
)
describe(
    "datasources.source_preview",
    tags=TAGS,
    **stored_file("Columns with statistics and the first rows.", "application/json", json_schema=PREVIEW),
    description="404 `COULD_NOT_FIND_PREVIEW` until the source is ready.",
)
describe(
    "datasources.source_table",
    tags=TAGS,
    **stored_file("The table as Parquet.", PARQUET),
    description="404 `COULD_NOT_FIND_TABLE` until the source is ready.",
)

describe(
    "datasources.scripts",
    tags=TAGS,
    collection=scripts_collection(_script_keys(0)),
    responses={200: page(StepScriptViewSchema)},
    description="`key=<key>` answers that script itself instead of a page.",
)
describe("datasources.get_script", tags=TAGS, responses={200: StepScriptViewSchema})
describe(
    "datasources.delete_script",
    tags=TAGS,
    responses={204: None},
    description="Uploaded scripts only (a built-in is 404); editors, the owner and ADMINs.",
)
describe(
    "datasources.script_upload",
    tags=TAGS,
    request=ScriptUploadSchema,
    content_type="multipart/form-data",
    responses={201: StepScriptViewSchema},
    description="The file is syntax-checked, never run here; an upload of the same name replaces it.",
)
describe(
    "datasources.start_run",
    tags=TAGS,
    request=StartJobSchema,
    responses={201: StepJobViewSchema},
    errors=(409,),
    description="400 naming `steps` for an unknown key or a duplicate exec_order; 409 "
    "`DATASOURCE_NOT_READY` while the source is not ready.",
)
describe(
    "datasources.runs",
    tags=TAGS,
    collection=runs_collection,
    responses={200: page(StepJobViewSchema)},
    description="`id=<id>` answers that step job itself instead of a page.",
)
describe("datasources.get_run", tags=TAGS, responses={200: StepJobViewSchema})
describe(
    "datasources.run_result",
    tags=TAGS,
    **stored_file("The final table as CSV.", "text/csv"),
    description="404 `COULD_NOT_FIND_RESULT` until the job has finished.",
)
describe(
    "datasources.run_preview",
    tags=TAGS,
    **stored_file("The preview of the result.", "application/json", json_schema=PREVIEW),
)
describe(
    "datasources.run_table",
    tags=TAGS,
    **stored_file("The final table as Parquet.", PARQUET),
)
