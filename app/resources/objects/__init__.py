"""Objects (seed 001, SampleDB / iffSamples): actions with schemas, versioned objects, permissions.

Paths: /api/v1/actions/, /api/v1/objects/, /api/v1/objects/{id}/versions/{vid},
/api/v1/objects/{id}/permissions/... (docs/objects.md). The schema language lives in the
pure modules ``schemas_sampledb`` (schema check) and ``data_sampledb`` (data check).
"""

from flask import Blueprint

from app.resources.root import document_relations, register_entries

bp = Blueprint("objects", __name__)

RELATIONS = {
    "actions": (
        "Actions",
        ("GET", "POST"),
        "The actions (schemas objects follow) the caller may read, with the "
        "query grammar; POST creates one (its schema is checked).",
    ),
    "actions/options": (
        "Action list options",
        ("GET",),
        "Templated link showing the whole grammar of ec:actions.",
    ),
    "action": (
        "Action",
        ("GET", "PUT"),
        "One action: action_id, type, name, description, schema, is_hidden. "
        "PUT (ADMINs and its creator) replaces it.",
    ),
    "action/by-id": ("Action by id", ("GET",), "Templated link to one action."),
    "objects": (
        "Objects",
        ("GET", "POST"),
        "The current version of every object the caller may READ, with the "
        "query grammar (limit/offset too); POST {action_id, data} creates an object (201, version 0).",
    ),
    "objects/options": (
        "Object list options",
        ("GET",),
        "Templated link showing the whole grammar of ec:objects.",
    ),
    "object": ("Object", ("GET",), "An object: GET answers 302 to its current version."),
    "object/by-id": ("Object by id", ("GET",), "Templated link to an object (302 to its current version)."),
    "object/versions": (
        "Object versions",
        ("GET", "POST"),
        "Every version of an object; POST {data} writes "
        "version N+1 (WRITE needed; If-Match honoured; 409 when another writer won).",
    ),
    "object/versions/options": (
        "Version list options",
        ("GET",),
        "Templated link showing the grammar of ec:object/versions.",
    ),
    "object/version": (
        "Object version",
        ("GET",),
        "One immutable version: object_id, version_id, action_id, user_id, utc_datetime, schema, data.",
    ),
    "object/references": (
        "Referenced objects",
        ("GET",),
        "The objects this version's data refers to that the caller may read.",
    ),
    "object/permissions": (
        "Object permissions",
        ("GET",),
        "The permissions of an object: public flag, users, "
        "groups and the caller's effective level (none < read < write < grant).",
    ),
    "object/permissions/public": (
        "Public permission",
        ("GET", "PUT"),
        'Whether every signed-in user may READ; PUT a JSON bool (or {"public": bool}); GRANT needed.',
    ),
    "object/permissions/users": ("User permissions", ("GET",), "Users with a permission on the object."),
    "object/permissions/users/options": (
        "User permission options",
        ("GET",),
        "Grammar of the user permissions.",
    ),
    "object/permissions/user": (
        "User permission",
        ("GET", "PUT"),
        "One user's level; PUT a JSON string "
        '(none, read, write, grant) or {"permission": level}; GRANT needed.',
    ),
    "object/permissions/user/by-id": (
        "User permission by user id",
        ("GET", "PUT"),
        "Templated link to one user's permission on the object.",
    ),
    "object/permissions/groups": ("Group permissions", ("GET",), "Groups with a permission on the object."),
    "object/permissions/groups/options": (
        "Group permission options",
        ("GET",),
        "Grammar of the group permissions.",
    ),
    "object/permissions/group": (
        "Group permission",
        ("GET", "PUT"),
        "One group's level; PUT a JSON string "
        '(none, read, write, grant) or {"permission": level}; GRANT needed.',
    ),
    "object/permissions/group/by-id": (
        "Group permission by group id",
        ("GET", "PUT"),
        "Templated link to one group's permission on the object.",
    ),
}

# The links of GET /: rel -> (endpoint, title, path variables of a templated link).
ENTRIES = {
    "ec:actions": ("objects.actions_index", "Actions (the schemas objects follow)", None),
    "ec:action/by-id": ("objects.action_get", "An action by id", {"action_id": "action_id"}),
    "ec:objects": ("objects.objects_index", "Objects you may read (current versions)", None),
    "ec:object/by-id": (
        "objects.object_get",
        "An object by id (302 to its current version)",
        {"object_id": "object_id"},
    ),
}


def init_app(app):
    # deferred: route modules import bp from this package
    from app.resources.objects import (  # noqa: F401  (routes attach to bp)
        actions,
        objects,
        permissions,
        versions,
    )

    app.register_blueprint(bp)
    register_entries(app, ENTRIES)
    document_relations(RELATIONS)
