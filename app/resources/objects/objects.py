"""GET/POST /api/v1/objects/ and GET /api/v1/objects/{object_id} (302 to the current version)."""

from sqlalchemy import and_, select
from sqlalchemy.orm import contains_eager

from app.auth import current_account, login_required
from app.errors import BodyDidNotValidate
from app.extensions import db
from app.hal import Collection, Document, Field, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import created, load_body, paginate, respond, url, wants_templates
from app.resources import choices
from app.resources.objects import bp, schemas
from app.resources.objects.access import can_read_action, get_object
from app.resources.objects.data_sampledb import object_name
from app.resources.objects.documents import represent_version, version_href, writable
from app.resources.objects.models import (
    GRANT,
    READ,
    WRITE,
    Action,
    ObjectRecord,
    ObjectVersion,
    UserPermission,
    has_level,
)
from app.resources.objects.openapi import REDIRECT, ObjectVersionSchema
from app.resources.objects.schemas import object_create_schema
from app.resources.objects.schemas_sampledb import ACTION_TYPES
from app.resources.objects.writes import add_version, check_version_data
from app.timeutil import utcnow

objects_collection = Collection(
    rel="ec:objects",
    item_rel="ec:object",
    fields=[
        Field("object_id", ObjectRecord.id, type="int", sortable=True),
        Field("action_id", ObjectRecord.action_id, type="int"),
        Field("action_type", Action.type, type="enum", choices=ACTION_TYPES),
        Field("user_id", ObjectVersion.user_id, type="int"),
        Field("created", ObjectRecord.created, type="datetime", sortable=True),
        Field("name", ObjectRecord.name, sortable=True),
    ],
    id_field="object_id",
    default_sort=("object_id",),
    tiebreak=ObjectRecord.id,
)


def current_versions(account):
    """SQL: the current version of every object the account may READ, with its object and action."""
    return (
        select(ObjectVersion)
        .join(
            ObjectRecord,
            and_(
                ObjectRecord.id == ObjectVersion.object_id,
                ObjectRecord.current_version == ObjectVersion.version_id,
            ),
        )
        .join(Action, Action.id == ObjectRecord.action_id)
        .where(has_level(account, READ))
        .options(contains_eager(ObjectVersion.object).contains_eager(ObjectRecord.action))
    )


@bp.get("/api/v1/objects/")
@login_required
@api_doc(
    collection=objects_collection,
    responses={200: page(ObjectVersionSchema, "The current version of every object the caller may READ")},
)
def objects_index():
    """The current version of every object the caller may READ."""
    account = current_account()
    return paginate(
        objects_collection,
        current_versions(account),
        url("objects.objects_index"),
        lambda versions: _items(versions, account),
        single=lambda version: represent_version(version, version.object, account),
        links={"up": url("root.index")},
        templates={
            "default": Template(
                method="POST",
                title="Create an object",
                properties=properties_from_schema(
                    object_create_schema, options={"action_id": choices.actions()}
                ),
            )
        },
    )


def _items(versions, account):
    """The page's versions; with their ``new-version`` templates where the caller may WRITE, when the
    response shows templates (one query for the page)."""
    may_write = writable(account, [v.object_id for v in versions]) if wants_templates() else set()
    return [
        represent_version(
            v, v.object, account, embedded=True, level=WRITE if v.object_id in may_write else READ
        )
        for v in versions
    ]


@bp.post("/api/v1/objects/")
@login_required
@api_doc(
    request=schemas.object_create_schema,
    responses={201: ObjectVersionSchema},
    description="Writes version 0; the creator gets GRANT. 400 names every data violation.",
)
def objects_create():
    """Create an object (version 0); the creator gets GRANT."""
    account = current_account()
    body = load_body(object_create_schema)
    action = db.session.get(Action, body["action_id"])
    if action is None or not can_read_action(account, action):
        raise BodyDidNotValidate(errors={"action_id": [f"There is no action {body['action_id']}."]})
    errors = {}
    if "schema" in body and body["schema"] != action.schema:
        errors["schema"] = ["The schema must equal the action's current schema (or be left out)."]
    if body.get("version_id", 0) != 0:
        errors["version_id"] = ["The first version of an object is version 0."]
    check_version_data(body["data"], action.schema, account, errors)
    obj = ObjectRecord(
        action_id=action.id,
        user_id=account.id,
        created=utcnow(),
        current_version=0,
        name=(object_name(body["data"]) or "")[:500],
    )
    db.session.add(obj)
    db.session.flush()
    version = add_version(obj, 0, action.schema, body["data"], account)
    db.session.add(UserPermission(object_id=obj.id, user_id=account.id, level=GRANT))
    db.session.commit()
    return created(represent_version(version, obj, account, level=GRANT))


@bp.get("/api/v1/objects/<int:object_id>")
@login_required
@api_doc(
    responses={302: REDIRECT},
    description="Always 302 to the current version (READ needed; 403 when the caller only knows of it "
    "through a reference).",
)
def object_get(object_id):
    """302 to the object's current version."""
    obj, _ = get_object(object_id, READ)
    location = version_href(obj.id, obj.current_version)
    doc = Document(
        {"object_id": obj.id, "version_id": obj.current_version},
        self_href=url("objects.object_get", object_id=obj.id),
    )
    doc.link("latest-version", location)
    return respond(doc, 302, {"Location": location}, etag=False)
