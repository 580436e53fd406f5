"""OpenAPI metadata of every objects operation (docs/openapi.md), declared without touching the views.

Request bodies are the domain's own validating schemas (schemas.py); the response schemas below
describe what ``actions.represent``, ``documents.represent_version`` and ``permissions.represent_*``
really send (``_links``/``_embedded`` come from ``HalResource``).
"""

from marshmallow import Schema, fields, validate

from app.openapi import describe
from app.openapi.helpers import page
from app.openapi.schemas import hal_content, ref
from app.resources.objects import schemas
from app.resources.objects.actions import actions_collection
from app.resources.objects.models import LEVELS
from app.resources.objects.objects import objects_collection
from app.resources.objects.permissions import groups_collection, users_collection
from app.resources.objects.schemas_sampledb import ACTION_TYPES
from app.resources.objects.versions import versions_collection

TAGS = ["objects"]
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
describe(
    "objects.actions_index",
    tags=TAGS,
    collection=actions_collection,
    responses={200: page(ObjectActionSchema, "The actions the caller may read")},
)
describe(
    "objects.actions_create",
    tags=TAGS,
    request=schemas.action_schema,
    responses={201: ObjectActionSchema},
    description="400 names every violation of the SampleDB schema with its path.",
)
describe(
    "objects.action_get",
    tags=TAGS,
    responses=ACTION,
    description="Hidden actions are visible to their creator and ADMINs only (404 for others).",
)
describe(
    "objects.action_put",
    tags=TAGS,
    request=schemas.action_schema,
    responses=ACTION,
    description="ADMINs and the action's creator (403 for other readers).",
)

# --- objects and versions -----------------------------------------------------------------------
describe(
    "objects.objects_index",
    tags=TAGS,
    collection=objects_collection,
    responses={200: page(ObjectVersionSchema, "The current version of every object the caller may READ")},
)
describe(
    "objects.objects_create",
    tags=TAGS,
    request=schemas.object_create_schema,
    responses={201: ObjectVersionSchema},
    description="Writes version 0; the creator gets GRANT. 400 names every data violation.",
)
describe(
    "objects.object_get",
    tags=TAGS,
    responses={302: REDIRECT},
    description="Always 302 to the current version (READ needed; 403 when the caller only knows of it "
    "through a reference).",
)
describe(
    "objects.versions_index",
    tags=TAGS,
    collection=versions_collection,
    responses={200: page(ObjectVersionSchema, "Every version of the object")},
)
describe(
    "objects.versions_create",
    tags=TAGS,
    request=schemas.version_create_schema,
    responses={201: ObjectVersionSchema},
    errors=(409, 412, 428),
    description="Version N+1 (WRITE needed). If-Match with the current version's ETag is honoured (412 "
    "stale, 428 when HALYARD_REQUIRE_IF_MATCH); 409 OBJECT_VERSION_CONFLICT when that version "
    "exists or another writer won.",
)
describe("objects.version_get", tags=TAGS, responses=VERSION)

# --- permissions ----------------------------------------------------------------------------------
describe("objects.permissions_get", tags=TAGS, responses={200: ObjectPermissionsSchema})
describe("objects.public_get", tags=TAGS, responses={200: ObjectPublicSchema})
describe(
    "objects.public_put",
    tags=TAGS,
    request=schemas.public_schema,
    responses={200: ObjectPublicSchema},
    description="GRANT needed. The seed's bare JSON `true`/`false` body is accepted too.",
)
describe(
    "objects.users_index",
    tags=TAGS,
    collection=users_collection,
    responses={200: page(ObjectUserPermissionSchema, "Users holding a permission on the object")},
)
describe("objects.user_get", tags=TAGS, responses=USER_PERMISSION, description="404 for an unknown user.")
describe(
    "objects.user_put",
    tags=TAGS,
    request=schemas.permission_schema,
    responses=USER_PERMISSION,
    errors=(409,),
    description="GRANT needed; `none` removes the permission. The seed's bare JSON string "
    "level is accepted too. 409 when a concurrent change won.",
)
describe(
    "objects.groups_index",
    tags=TAGS,
    collection=groups_collection,
    responses={200: page(ObjectGroupPermissionSchema, "Groups holding a permission on the object")},
)
describe("objects.group_get", tags=TAGS, responses=GROUP_PERMISSION, description="404 for an unknown group.")
describe(
    "objects.group_put",
    tags=TAGS,
    request=schemas.permission_schema,
    responses=GROUP_PERMISSION,
    errors=(409,),
    description="GRANT needed; `none` removes the permission. The seed's bare JSON string "
    "level is accepted too. 409 when a concurrent change won.",
)
