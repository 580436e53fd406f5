"""OpenAPI description of the download requests (seed 000): bodies with seed 000's ``@event``/``@type``
members and the statuses of every operation (docs/openapi.md). Imported by ``init_app``."""

from marshmallow import Schema, fields, validate

from app.openapi import describe
from app.openapi.helpers import HalSchema, event, page, stored_file, type_const, with_event
from app.resources.catalogue.openapi import CatalogueAccountSchema, CatalogueItemViewSchema, empty_response
from app.resources.catalogue.spec import COLUMN_TYPES
from app.resources.downloader.models import FORMATS, STATUSES
from app.resources.downloader.schemas import ALL_OPERATORS, DownloadRequestSchema, RenderUiDataSchema
from app.resources.downloader.views import MIMETYPES, requests_collection

TAGS = ["downloader"]
NOT_FOUND_ITEM = "404 COULD_NOT_FIND_CATALOGUEITEM for an unknown catalogue_item_id."
BODY_ERRORS = (
    "400 BODY_DID_NOT_VALIDATE names every field that does not fit the shape or the item's spec "
    "(unknown column, operator not allowed for the column's type, value of the wrong type); "
    "400 BODY_JSON_DID_NOT_PARSE without a body."
)


class DownloadRequestViewSchema(HalSchema):
    """``@type: download_request``; the item is also under _embedded ec:catalogue-item."""

    type_ = type_const("download_request")
    id = fields.Integer(required=True)
    catalogue_item = fields.Nested(CatalogueItemViewSchema, required=True)
    created_by = fields.Nested(CatalogueAccountSchema, required=True, allow_none=True)
    spec = fields.Dict(
        required=True,
        metadata={
            "description": "{columns, filters: [{name, operator, value}], "
            "randomize_ratio} as sent (defaults filled in)."
        },
    )
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    progress = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    error = fields.String(required=True, allow_none=True)
    is_cancelled = fields.Boolean(required=True)
    estimated_size = fields.Integer(required=True, allow_none=True, metadata={"description": "Bytes."})
    real_size = fields.Integer(required=True, allow_none=True, metadata={"description": "Bytes of the file."})
    rows = fields.Integer(required=True, allow_none=True)
    uri = fields.String(required=True, allow_none=True, metadata={"description": "The file, once finished."})
    seed = fields.Integer(required=True, metadata={"description": "Seed of the randomize_ratio sampling."})
    data_version = fields.String(required=True, allow_none=True)
    executor_job_id = fields.String(required=True, allow_none=True)


DownloadRequestRead = with_event(
    DownloadRequestViewSchema, "DownloadRequestReadSchema", "DOWNLOADREQUEST_READ"
)
DownloadRequestCreated = with_event(
    DownloadRequestViewSchema, "DownloadRequestCreatedSchema", "DOWNLOADREQUEST_CREATED"
)
# the page's own seed 000 members (its items have none)
PAGE_MEMBERS = {"event": event("DOWNLOADREQUESTS_BULK_READ"), "type_": type_const("download_requests_list")}


class DownloadEstimateSchema(HalSchema):
    event = event("SIZE_OF_DOWNLOAD_REQUEST_ESTIMATED")
    type_ = type_const("download_request_estimated_size")
    estimated_size = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Bytes (null: unknown)."}
    )
    estimated_rows = fields.Integer(required=True, allow_none=True)
    basis = fields.String(required=True, validate=validate.OneOf(("data", "metadata", "spec", "unknown")))


class ColumnOperatorsSchema(Schema):
    type_ = type_const("column_operators")
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(COLUMN_TYPES))
    is_nullable = fields.Boolean(required=True)
    operators = fields.List(fields.String(validate=validate.OneOf(ALL_OPERATORS)), required=True)


class DownloadUiDataSchema(HalSchema):
    event = event("DOWNLOAD_REQUEST_UI_DATA_RENDERED")
    type_ = type_const("download_request_render")
    columns_operators = fields.List(fields.Nested(ColumnOperatorsSchema), required=True)


describe(
    "downloader.index",
    tags=TAGS,
    collection=requests_collection,
    responses={200: page(DownloadRequestViewSchema, single=DownloadRequestRead, **PAGE_MEMBERS)},
    description="DOWNLOADREQUESTS_BULK_READ: the requests the caller waits for; `id=<id>` answers that "
    "request itself (DOWNLOADREQUEST_READ). `format=csv|parquet` filters by file format; "
    "`format=json|hal|hal-forms|html` is the representation toggle (docs/browsable.md).",
)
describe(
    "downloader.create",
    tags=TAGS,
    request=DownloadRequestSchema,
    responses={201: DownloadRequestCreated, 200: DownloadRequestRead},
    description="201 DOWNLOADREQUEST_CREATED and a job; 200 DOWNLOADREQUEST_READ (Content-Location names it) "
    "when an equal live request exists: the caller joins its waiters. " + NOT_FOUND_ITEM + " " + BODY_ERRORS,
)
describe(
    "downloader.get",
    tags=TAGS,
    responses={200: DownloadRequestRead},
    description="Waiters only; everyone else (ADMINs included) 404 COULD_NOT_FIND_DOWNLOADREQUEST.",
)
describe(
    "downloader.delete",
    tags=TAGS,
    responses={
        200: empty_response(
            "DOWNLOADREQUEST_DELETED",
            "The caller no longer waits; the last waiter cancels the request and stops its job.",
        )
    },
)
describe(
    "downloader.file",
    tags=TAGS,
    **stored_file("The produced file.", *MIMETYPES.values(), filename=True),
    description="Waiters only; 404 COULD_NOT_FIND_DOWNLOADFILE until the request has finished.",
)
describe(
    "downloader.estimate",
    tags=TAGS,
    request=DownloadRequestSchema,
    responses={200: DownloadEstimateSchema},
    description="Nothing is stored. " + NOT_FOUND_ITEM + " " + BODY_ERRORS,
)
describe(
    "downloader.render_ui_data",
    tags=TAGS,
    request=RenderUiDataSchema,
    responses={200: DownloadUiDataSchema},
    description=NOT_FOUND_ITEM,
)
