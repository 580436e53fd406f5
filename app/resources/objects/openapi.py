"""Shared OpenAPI schemas of the objects domain (docs/openapi.md), named by its views' ``@api_doc``.

Request bodies are the domain's own validating schemas (schemas.py); the response schemas below
describe what ``actions.represent``, ``documents.represent_version`` and ``permissions.represent_*``
really send (``_links``/``_embedded`` come from ``HalResource``).
"""

from marshmallow import Schema, fields, validate

from app.openapi.schemas import hal_content, ref
from app.resources.objects.models import LEVELS
from app.resources.objects.schemas_sampledb import ACTION_TYPES

LEVEL = validate.OneOf(LEVELS)


class ObjectActionSchema(Schema):
    """An action: the SampleDB schema objects of its type follow."""

    action_id = fields.Integer(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ACTION_TYPES))
    name = fields.String(required=True)
    description = fields.String(required=True)
    schema = fields.Dict(required=True)
    is_hidden = fields.Boolean(required=True)
    user_id = fields.Integer(required=True, allow_none=True, metadata={"description": "The creator."})


class ObjectVersionSchema(Schema):
    """One immutable version of an object (seed 001)."""

    object_id = fields.Integer(required=True)
    version_id = fields.Integer(required=True, validate=validate.Range(min=0))
    action_id = fields.Integer(required=True)
    user_id = fields.Integer(required=True, allow_none=True)
    utc_datetime = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"),
        metadata={"description": "`YYYY-MM-DD HH:MM:SS` in UTC (seed 001)."},
    )
    schema = fields.Dict(required=True)
    data = fields.Dict(required=True)


class ObjectPermissionsSchema(Schema):
    object_id = fields.Integer(required=True)
    public = fields.Boolean(required=True)
    permission = fields.String(
        required=True, validate=LEVEL, metadata={"description": "The caller's effective permission."}
    )


class ObjectPublicSchema(Schema):
    object_id = fields.Integer(required=True)
    public = fields.Boolean(required=True)


class ObjectUserPermissionSchema(Schema):
    object_id = fields.Integer(required=True)
    user_id = fields.Integer(required=True)
    permission = fields.String(
        required=True, validate=LEVEL, metadata={"description": "The level set directly."}
    )
    effective_permission = fields.String(
        validate=LEVEL,
        metadata={
            "description": "With groups and the public flag; only on the user's own permission resource."
        },
    )


class ObjectGroupPermissionSchema(Schema):
    object_id = fields.Integer(required=True)
    group_id = fields.Integer(required=True)
    permission = fields.String(required=True, validate=LEVEL)


VERSION = {200: ObjectVersionSchema}
ACTION = {200: ObjectActionSchema}
USER_PERMISSION = {200: ObjectUserPermissionSchema}
GROUP_PERMISSION = {200: ObjectGroupPermissionSchema}
REDIRECT = {
    "description": "Found: Location is the current version; the body points at it too.",
    "headers": {"Location": {"schema": {"type": "string"}, "description": "The current version."}},
    "content": hal_content(
        {
            "allOf": [
                ref("HalResource"),
                {
                    "type": "object",
                    "required": ["object_id", "version_id"],
                    "properties": {
                        "object_id": {"type": "integer"},
                        "version_id": {"type": "integer", "description": "The current version."},
                    },
                },
            ]
        }
    ),
}

# --- actions --------------------------------------------------------------------------------------

# --- objects and versions -----------------------------------------------------------------------

# --- permissions ----------------------------------------------------------------------------------
