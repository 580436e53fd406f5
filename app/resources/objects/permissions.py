"""/api/v1/objects/{object_id}/permissions/: the index, ``public``, ``users/{user_id}`` and
``groups/{group_id}``.

Reading needs READ on the object, changing needs GRANT. The seed's bodies are accepted as
sent (a bare JSON bool for ``public``, a bare JSON string level for users and groups) as well
as the HAL-FORMS shapes ``{"public": bool}`` and ``{"permission": level}``.
"""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth import login_required
from app.errors import Conflict, NotFound
from app.extensions import db
from app.hal import Collection, Document, Field, Link, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, json_body, load_body, paginate, respond, url
from app.resources.accounts.models import Account, Group
from app.resources.objects import bp, schemas
from app.resources.objects.access import get_object, group_href, user_href
from app.resources.objects.models import (
    GRANT,
    LEVELS,
    NONE,
    READ,
    GroupPermission,
    UserPermission,
    effective_level,
    level_name,
)
from app.resources.objects.openapi import (
    GROUP_PERMISSION,
    USER_PERMISSION,
    ObjectGroupPermissionSchema,
    ObjectPermissionsSchema,
    ObjectPublicSchema,
    ObjectUserPermissionSchema,
)
from app.resources.objects.schemas import permission_schema, public_schema
from app.resources.root import url_template


def level_filter(column):
    """A grammar filter hook: ``permission=read,write`` compares the stored integer levels."""

    def clause(op, values):
        levels = [LEVELS.index(v) for v in values]
        return {"eq": column == levels[0], "any": column.in_(levels), "ne": column.not_in(levels)}[op]

    return clause


def permission_collection(kind, model, id_column):
    return Collection(
        rel=f"ec:object/permissions/{kind}s",
        item_rel=f"ec:object/permissions/{kind}",
        fields=[
            Field(f"{kind}_id", id_column, type="int", sortable=True),
            Field(
                "permission",
                model.level,
                type="enum",
                choices=LEVELS,
                sortable=True,
                filter=level_filter(model.level),
            ),
        ],
        id_field=f"{kind}_id",
        default_sort=(f"{kind}_id",),
        tiebreak=id_column,
    )


users_collection = permission_collection("user", UserPermission, UserPermission.user_id)
groups_collection = permission_collection("group", GroupPermission, GroupPermission.group_id)
KINDS = {
    "user": (UserPermission, Account, user_href, users_collection),
    "group": (GroupPermission, Group, group_href, groups_collection),
}


def represent_index(obj, level):
    doc = Document(
        {"object_id": obj.id, "public": obj.public_level >= READ, "permission": level_name(level)},
        self_href=url("objects.permissions_get", object_id=obj.id),
    )
    doc.link("up", url("objects.object_get", object_id=obj.id))
    doc.link("ec:object/permissions/public", url("objects.public_get", object_id=obj.id))
    for kind in KINDS:
        doc.link(f"ec:object/permissions/{kind}s", url(f"objects.{kind}s_index", object_id=obj.id))
        doc.link(
            f"ec:object/permissions/{kind}/by-id",
            Link(
                url_template(f"objects.{kind}_get", {f"{kind}_id": f"{kind}_id"}, object_id=obj.id),
                templated=True,
            ),
        )
    return doc


def represent_public(obj, level):
    doc = Document(
        {"object_id": obj.id, "public": obj.public_level >= READ},
        self_href=url("objects.public_get", object_id=obj.id),
    )
    doc.link("up", url("objects.permissions_get", object_id=obj.id))
    if level >= GRANT:
        doc.template(
            "default",
            Template(
                method="PUT",
                title="Let every signed-in user read (or not)",
                properties=properties_from_schema(public_schema),
            ),
        )
    return doc


def represent_entry(kind, obj, subject_id, stored, level, effective=None):
    """One user's or group's permission on ``obj``; ``stored`` is the level set directly."""
    props = {"object_id": obj.id, f"{kind}_id": subject_id, "permission": level_name(stored)}
    if effective is not None:
        props["effective_permission"] = level_name(effective)
    doc = Document(
        props, self_href=url(f"objects.{kind}_get", object_id=obj.id, **{f"{kind}_id": subject_id})
    )
    doc.link("collection", url(f"objects.{kind}s_index", object_id=obj.id))
    doc.link(f"ec:{kind}", KINDS[kind][2](subject_id))
    if level >= GRANT:
        doc.template(
            "default",
            Template(
                method="PUT",
                title=f"Set this {kind}'s permission",
                properties=properties_from_schema(permission_schema),
            ),
        )
    return doc


def seed_body(schema, key):
    """The body as the seed sends it (a bare JSON value) or as HAL-FORMS sends it ({key: value})."""
    payload = json_body()
    return load_body(schema, data=payload if isinstance(payload, dict) else {key: payload})[key]


@bp.get("/api/v1/objects/<int:object_id>/permissions/")
@login_required
@api_doc(responses={200: ObjectPermissionsSchema})
def permissions_get(object_id):
    """The permissions of an object and the caller's effective level."""
    return respond(represent_index(*get_object(object_id, READ)))


@bp.get("/api/v1/objects/<int:object_id>/permissions/public")
@login_required
@api_doc(responses={200: ObjectPublicSchema})
def public_get(object_id):
    """Whether every signed-in user may READ the object."""
    return respond(represent_public(*get_object(object_id, READ)))


@bp.put("/api/v1/objects/<int:object_id>/permissions/public")
@login_required
@api_doc(
    request=schemas.public_schema,
    responses={200: ObjectPublicSchema},
    description="GRANT needed. The seed's bare JSON `true`/`false` body is accepted too.",
)
def public_put(object_id):
    """Set the public flag (GRANT needed)."""
    obj, level = get_object(object_id, GRANT)
    check_preconditions(represent_public(obj, level))
    obj.public_level = READ if seed_body(public_schema, "public") else NONE
    db.session.commit()
    return respond(represent_public(obj, level))


def _index(kind, object_id):
    obj, level = get_object(object_id, READ)
    model, _, _, collection = KINDS[kind]
    stmt = select(model).where(model.object_id == obj.id, model.level > NONE)
    return paginate(
        collection,
        stmt,
        url(f"objects.{kind}s_index", object_id=obj.id),
        lambda rows: [
            represent_entry(kind, obj, getattr(row, f"{kind}_id"), row.level, NONE) for row in rows
        ],
        single=lambda row: represent_entry(kind, obj, getattr(row, f"{kind}_id"), row.level, level),
        links={"up": url("objects.permissions_get", object_id=obj.id)},
    )


def _lookup(kind, object_id, subject_id, needed):
    obj, level = get_object(object_id, needed)
    model, subject_model, _, _ = KINDS[kind]
    subject = db.session.get(subject_model, subject_id)
    if subject is None:
        raise NotFound(kind)
    row = db.session.get(model, (obj.id, subject_id))
    return obj, level, subject, row


def _get(kind, object_id, subject_id):
    obj, level, subject, row = _lookup(kind, object_id, subject_id, READ)
    effective = effective_level(subject, obj) if kind == "user" else None
    return respond(represent_entry(kind, obj, subject_id, row.level if row else NONE, level, effective))


def _put(kind, object_id, subject_id):
    obj, level, subject, row = _lookup(kind, object_id, subject_id, GRANT)
    check_preconditions(
        represent_entry(
            kind,
            obj,
            subject_id,
            row.level if row else NONE,
            level,
            effective_level(subject, obj) if kind == "user" else None,
        )
    )
    new = LEVELS.index(seed_body(permission_schema, "permission"))
    model = KINDS[kind][0]
    if row is not None and new == NONE:
        db.session.delete(row)
    elif row is not None:
        row.level = new
    elif new != NONE:
        db.session.add(model(object_id=obj.id, level=new, **{f"{kind}_id": subject_id}))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("The permission was changed by another request; try again.") from None
    return _get(kind, object_id, subject_id)


def register_routes(kind, item_schema, item_responses, get_summary):
    """The index, GET and PUT of one kind's permissions (``users/`` or ``groups/``): one piece of code
    serves both; the endpoints are ``objects.{kind}s_index``, ``objects.{kind}_get`` and
    ``objects.{kind}_put``."""
    base = f"/api/v1/objects/<int:object_id>/permissions/{kind}s/"
    one = f"{base}<int:{kind}_id>"

    @login_required
    @api_doc(
        summary=f"{kind.capitalize()}s with a permission on the object.",
        collection=KINDS[kind][3],
        responses={200: page(item_schema, f"{kind.capitalize()}s holding a permission on the object")},
    )
    def index(object_id):
        return _index(kind, object_id)

    @login_required
    @api_doc(summary=get_summary, responses=item_responses, description=f"404 for an unknown {kind}.")
    def get(object_id, **subject):
        return _get(kind, object_id, subject[f"{kind}_id"])

    @login_required
    @api_doc(
        summary=f'Set one {kind}\'s permission (GRANT needed); "none" removes it.',
        request=schemas.permission_schema,
        responses=item_responses,
        errors=(409,),
        description="GRANT needed; `none` removes the permission. The seed's bare JSON string "
        "level is accepted too. 409 when a concurrent change won.",
    )
    def put(object_id, **subject):
        return _put(kind, object_id, subject[f"{kind}_id"])

    bp.add_url_rule(base, f"{kind}s_index", index, methods=["GET"])
    bp.add_url_rule(one, f"{kind}_get", get, methods=["GET"])
    bp.add_url_rule(one, f"{kind}_put", put, methods=["PUT"])


register_routes(
    "user",
    ObjectUserPermissionSchema,
    USER_PERMISSION,
    "One user's permission (and effective permission) on the object.",
)
register_routes(
    "group", ObjectGroupPermissionSchema, GROUP_PERMISSION, "One group's permission on the object."
)
