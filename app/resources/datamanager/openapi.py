"""Shared OpenAPI schemas of the data manager domain (docs/openapi.md), named by its views' ``@api_doc``.

JSON request bodies are the domain's own validating schemas (schemas.py). The two multipart uploads
have no marshmallow schema in the domain (uploads.receive reads the parts), so they are described
here with binary ``file`` parts. The response schemas describe what ``spaces.represent``,
``members.represent`` and ``assets.represent`` really send (``_links`` come from ``HalResource``).
"""

from marshmallow import Schema, fields, validate

from app.openapi.helpers import BINARY
from app.resources.datamanager.models import ASSET_TYPES, RIGHTS
from app.resources.datamanager.uploads import LOCALE


class AssetUploadSchema(Schema):
    """POST …/assets/: one asset per ``file`` part."""

    file = fields.List(
        fields.Raw(metadata=BINARY),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "One or more file parts; the type is sniffed from the bytes."},
    )


class AssetFileUploadSchema(Schema):
    """POST …/assets/{assetID}: another representation of the asset (same asset type)."""

    file = fields.Raw(required=True, metadata=BINARY)
    locale = fields.String(
        validate=validate.Regexp(LOCALE), metadata={"description": "RFC 5646 tag, e.g. en-US."}
    )


class DataManagerSpaceSchema(Schema):
    dataManagerID = fields.UUID(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    rights = fields.List(
        fields.String(validate=validate.OneOf(RIGHTS)),
        required=True,
        metadata={"description": "The caller's rights in this space."},
    )
    created = fields.DateTime(required=True)


class DataManagerMemberSchema(Schema):
    accountID = fields.Integer(required=True)
    rights = fields.List(fields.String(validate=validate.OneOf(RIGHTS)), required=True)
    created = fields.DateTime(required=True)


class AssetResolutionSchema(Schema):
    """Width and height of an image; empty for other files."""

    width = fields.Integer()
    height = fields.Integer()


class AssetFileSchema(Schema):
    """One ``ec:asset/file``: a stored representation of the asset."""

    mimetype = fields.String(required=True)
    url = fields.Url(required=True, metadata={"description": "The bytes (GET, Range)."})
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    resolution = fields.Nested(AssetResolutionSchema, required=True)
    locale = fields.String(required=True, allow_none=True)
    created = fields.DateTime(required=True)
    modified = fields.DateTime(required=True)


class DataManagerAssetSchema(Schema):
    assetID = fields.UUID(required=True)
    title = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ASSET_TYPES))
    created = fields.DateTime(required=True)
    tags = fields.List(fields.String(), required=True)
    files = fields.List(fields.Nested(AssetFileSchema), required=True)


class DataManagerDeletedAssetSchema(DataManagerAssetSchema):
    deleted = fields.DateTime(required=True)
    file = fields.List(
        fields.Nested(AssetFileSchema),
        required=True,
        metadata={"description": "The files, under the name seed 004 gives them here (same as files)."},
    )


class AssetsUploadedSchema(Schema):
    """The 201 of an upload: how many assets were made; ``_links.ec:asset`` lists them all."""

    count = fields.Integer(required=True, validate=validate.Range(min=1))


SPACE = {200: DataManagerSpaceSchema}
ASSET = {200: DataManagerAssetSchema}
MEMBER = {200: DataManagerMemberSchema}

# --- spaces ---------------------------------------------------------------------------------------

# --- members --------------------------------------------------------------------------------------

# --- assets ---------------------------------------------------------------------------------------
