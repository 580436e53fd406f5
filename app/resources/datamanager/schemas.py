"""Request bodies of the data manager domain (marshmallow; unknown fields are rejected)."""

from marshmallow import Schema, fields, validate

from app.inputs import int32
from app.resources.datamanager.models import RIGHTS
from app.resources.datamanager.uploads import LOCALE

RIGHT = fields.String(validate=validate.OneOf(RIGHTS))
TAG = fields.String(validate=validate.Length(min=1, max=100))


class DataManagerCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(load_default="", validate=validate.Length(max=10000))


class DataManagerUpdateSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=255))
    description = fields.String(validate=validate.Length(max=10000))
    rights = fields.List(RIGHT, metadata={"prompt": "Your own rights in this space"})


class FileRefSchema(Schema):
    url = fields.Url(required=True, require_tld=False)
    locale = fields.String(allow_none=True, validate=validate.Regexp(LOCALE))


class LinkSchema(Schema):
    href = fields.Url(required=True, require_tld=False)


class MergeLinksSchema(Schema):
    asset = fields.Raw(data_key="ec:asset", required=True)


class AssetUpdateSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=255))
    tags = fields.List(TAG, validate=validate.Length(max=100))
    files = fields.List(fields.Nested(FileRefSchema), validate=validate.Length(min=1))
    links = fields.Nested(
        MergeLinksSchema,
        data_key="_links",
        metadata={"prompt": "ec:asset link(s) of assets to merge into this one"},
    )


class MemberCreateSchema(Schema):
    accountID = fields.Integer(required=True, strict=True, validate=int32(1))
    rights = fields.List(RIGHT, load_default=list)


class MemberUpdateSchema(Schema):
    rights = fields.List(RIGHT, required=True)


datamanager_create_schema = DataManagerCreateSchema()
datamanager_update_schema = DataManagerUpdateSchema()
asset_update_schema = AssetUpdateSchema()
link_schema = LinkSchema()
member_create_schema = MemberCreateSchema()
member_update_schema = MemberUpdateSchema()
