"""Shared OpenAPI schemas of the download requests (seed 000): the request and response bodies its views'
``@api_doc`` declarations name (docs/openapi.md)."""

from marshmallow import Schema, fields, validate

from app.openapi.helpers import HalSchema, event, type_const, with_event
from app.resources.catalogue.openapi import CatalogueAccountSchema, CatalogueItemViewSchema
from app.resources.catalogue.spec import COLUMN_TYPES
from app.resources.downloader.models import FORMATS, STATUSES
from app.resources.downloader.schemas import ALL_OPERATORS

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
