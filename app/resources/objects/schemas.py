"""Request bodies of the objects domain (marshmallow); the schema language itself is checked elsewhere."""

from marshmallow import Schema, fields, validate

from app.inputs import int32
from app.resources.objects.models import LEVELS
from app.resources.objects.schemas_sampledb import ACTION_TYPES


class StrictBoolean(fields.Boolean):
    """JSON true/false only (marshmallow's Boolean also takes 1, "yes", ...)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


ID_RANGE = int32(0)


class ActionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(ACTION_TYPES))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=10000))
    schema = fields.Dict(required=True, metadata={"prompt": "SampleDB schema (JSON)"})
    is_hidden = StrictBoolean(load_default=False)


class ObjectCreateSchema(Schema):
    action_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    data = fields.Dict(required=True, metadata={"prompt": "Data (JSON, typed values)"})
    schema = fields.Dict(metadata={"prompt": "Schema (must equal the action's)"})
    version_id = fields.Integer(strict=True, validate=ID_RANGE, metadata={"prompt": "Version id (must be 0)"})


class VersionCreateSchema(Schema):
    data = fields.Dict(required=True, metadata={"prompt": "Data (JSON, typed values)"})
    object_id = fields.Integer(strict=True, validate=ID_RANGE)
    version_id = fields.Integer(strict=True, validate=ID_RANGE)
    action_id = fields.Integer(strict=True, validate=ID_RANGE)
    schema = fields.Dict()


class PermissionSchema(Schema):
    permission = fields.String(required=True, validate=validate.OneOf(LEVELS))


class PublicSchema(Schema):
    public = StrictBoolean(required=True)


action_schema = ActionSchema()
object_create_schema = ObjectCreateSchema()
version_create_schema = VersionCreateSchema()
permission_schema = PermissionSchema()
public_schema = PublicSchema()
