"""OpenAPI metadata of every data manager operation (docs/openapi.md), declared without touching the views.

JSON request bodies are the domain's own validating schemas (schemas.py). The two multipart uploads
have no marshmallow schema in the domain (uploads.receive reads the parts), so they are described
here with binary ``file`` parts. The response schemas describe what ``spaces.represent``,
``members.represent`` and ``assets.represent`` really send (``_links`` come from ``HalResource``).
"""

from marshmallow import Schema, fields, validate

from app.openapi import describe
from app.openapi.helpers import BINARY, page, stored_file
from app.resources.datamanager import schemas
from app.resources.datamanager.asset_writes import deleted_collection
from app.resources.datamanager.assets import assets_collection
from app.resources.datamanager.members import members_collection
from app.resources.datamanager.models import ASSET_TYPES, RIGHTS
from app.resources.datamanager.spaces import spaces_collection
from app.resources.datamanager.uploads import LOCALE

TAGS = ["datamanager"]


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
describe(
    "datamanager.index",
    tags=TAGS,
    collection=spaces_collection,
    responses={200: page(DataManagerSpaceSchema, "The spaces the caller is a member of (ADMINs: all)")},
)
describe(
    "datamanager.create",
    tags=TAGS,
    request=schemas.datamanager_create_schema,
    responses={201: DataManagerSpaceSchema},
    description="The creator owns the space and holds every right.",
)
describe(
    "datamanager.get",
    tags=TAGS,
    responses=SPACE,
    description="404 COULD_NOT_FIND_DATAMANAGER for a space the caller is not a member of.",
)
describe(
    "datamanager.update",
    tags=TAGS,
    request=schemas.datamanager_update_schema,
    responses=SPACE,
    errors=(409,),
    description="Needs manageRights (403 DATAMANAGER_RIGHT_MISSING); 409 LAST_RIGHTS_MANAGER "
    "when giving up manageRights would leave nobody holding it.",
)

# --- members --------------------------------------------------------------------------------------
describe(
    "datamanager.members",
    tags=TAGS,
    collection=members_collection,
    responses={200: page(DataManagerMemberSchema, "The members of the space and their rights")},
)
describe(
    "datamanager.add_member",
    tags=TAGS,
    request=schemas.member_create_schema,
    responses={201: DataManagerMemberSchema},
    errors=(409,),
    description="Needs manageRights; 400 for an unknown account; 409 MEMBER_ALREADY_EXISTS.",
)
describe("datamanager.member", tags=TAGS, responses=MEMBER)
describe(
    "datamanager.update_member",
    tags=TAGS,
    request=schemas.member_update_schema,
    responses=MEMBER,
    errors=(409,),
    description="Needs manageRights; 409 LAST_RIGHTS_MANAGER.",
)
describe(
    "datamanager.delete_member",
    tags=TAGS,
    responses={204: None},
    errors=(409,),
    description="Needs manageRights; 409 LAST_RIGHTS_MANAGER.",
)

# --- assets ---------------------------------------------------------------------------------------
describe(
    "datamanager.assets",
    tags=TAGS,
    collection=assets_collection,
    responses={200: page(DataManagerAssetSchema, "The assets of the space")},
)
describe(
    "datamanager.upload",
    tags=TAGS,
    request=AssetUploadSchema,
    content_type="multipart/form-data",
    responses={201: AssetsUploadedSchema},
    description="Needs editAssets. One asset per `file` part (Location: the first); 400 for an empty or "
    "missing file or an unknown field, 413 past HALYARD_MAX_UPLOAD_BYTES, 415 when not "
    "multipart/form-data.",
)
describe("datamanager.asset", tags=TAGS, responses=ASSET)
describe(
    "datamanager.update_asset",
    tags=TAGS,
    request=schemas.asset_update_schema,
    responses=ASSET,
    description="Needs editAssets. Edits title and tags; `files` keeps (and re-localises) the listed files "
    "and drops the others; `_links.ec:asset` merges those assets (same space and type) into "
    "this one.",
)
describe(
    "datamanager.add_file",
    tags=TAGS,
    request=AssetFileUploadSchema,
    content_type="multipart/form-data",
    responses=ASSET,
    errors=(412, 428),
    description="Needs editAssets; the file must have the asset's type. If-Match is honoured.",
)
describe(
    "datamanager.delete_asset",
    tags=TAGS,
    responses={204: None},
    description="Needs editAssets; moves the asset to ec:assets/deleted.",
)
describe(
    "datamanager.file",
    tags=TAGS,
    **stored_file("The bytes, in the stored (sniffed) media type.", filename=True),
    description="Conditional (ETag: 304 for If-None-Match, 412 when If-Match does not match; If-Range) and "
    "ranged; 416 for an unsatisfiable Range.",
)
describe(
    "datamanager.deleted_assets",
    tags=TAGS,
    collection=deleted_collection,
    responses={200: page(DataManagerDeletedAssetSchema, "The soft-deleted assets of the space")},
)
describe("datamanager.deleted_asset", tags=TAGS, responses={200: DataManagerDeletedAssetSchema})
describe(
    "datamanager.restore_or_destroy",
    tags=TAGS,
    responses={200: DataManagerAssetSchema, 204: None},
    errors=(400,),
    description="Needs editAssets. Without a query: restores the asset (200, the ec:asset). With "
    "`?destroy=destroy`: purges it and its files (204). Any other query parameter is a 400.",
)
