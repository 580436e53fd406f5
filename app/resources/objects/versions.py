"""GET/POST /api/v1/objects/{object_id}/versions/ and GET …/versions/{version_id} (immutable)."""

from sqlalchemy import select

from app.auth import current_account, login_required
from app.errors import Conflict, NotFound
from app.extensions import db
from app.hal import Collection, Field, Template
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, created, load_body, paginate, respond, url
from app.resources.objects import bp, schemas
from app.resources.objects.access import get_object
from app.resources.objects.documents import next_version_properties, represent_version
from app.resources.objects.models import READ, WRITE, ObjectVersion
from app.resources.objects.openapi import VERSION, ObjectVersionSchema
from app.resources.objects.schemas import version_create_schema
from app.resources.objects.writes import check_version_data, commit_next_version

versions_collection = Collection(
    rel="ec:object/versions",
    item_rel="ec:object/version",
    fields=[
        Field("version_id", ObjectVersion.version_id, type="int", sortable=True),
        Field("user_id", ObjectVersion.user_id, type="int"),
        Field("utc_datetime", ObjectVersion.utc_datetime, type="datetime", sortable=True),
    ],
    id_field="version_id",
    default_sort=("version_id",),
    tiebreak=ObjectVersion.version_id,
)


def get_version_or_404(obj, version_id):
    version = db.session.get(ObjectVersion, (obj.id, version_id))
    if version is None:
        raise NotFound("object version", f"Object {obj.id} has no version {version_id}.")
    return version


@bp.get("/api/v1/objects/<int:object_id>/versions/")
@login_required
@api_doc(
    collection=versions_collection, responses={200: page(ObjectVersionSchema, "Every version of the object")}
)
def versions_index(object_id):
    """Every version of an object (READ needed)."""
    account = current_account()
    obj, level = get_object(object_id, READ)
    stmt = select(ObjectVersion).where(ObjectVersion.object_id == obj.id)
    write = Template(
        method="POST",
        title="Write the next version",
        properties=next_version_properties(obj),
    )
    return paginate(
        versions_collection,
        stmt,
        url("objects.versions_index", object_id=obj.id),
        lambda versions: [represent_version(v, obj, account, embedded=True) for v in versions],
        single=lambda version: represent_version(version, obj, account, level=level),
        links={"up": url("objects.object_get", object_id=obj.id)},
        templates={"default": write} if level >= WRITE else None,
    )


@bp.post("/api/v1/objects/<int:object_id>/versions/")
@login_required
@api_doc(
    request=schemas.version_create_schema,
    responses={201: ObjectVersionSchema},
    errors=(409, 412, 428),
    description="Version N+1 (WRITE needed). If-Match with the current version's ETag is honoured (412 "
    "stale, 428 when HALYARD_REQUIRE_IF_MATCH); 409 OBJECT_VERSION_CONFLICT when that version "
    "exists or another writer won.",
)
def versions_create(object_id):
    """Write version N+1 (WRITE needed); If-Match with the current version's ETag is honoured."""
    account = current_account()
    obj, level = get_object(object_id, WRITE)
    current = get_version_or_404(obj, obj.current_version)
    check_preconditions(represent_version(current, obj, account, level=level))
    body = load_body(version_create_schema)
    errors = {}
    if body.get("object_id", obj.id) != obj.id:
        errors["object_id"] = [f"Must equal the object id in the URL ({obj.id})."]
    wanted = body.get("version_id", current.version_id + 1)
    if wanted <= current.version_id and wanted >= 0:
        raise Conflict(
            f"Version {wanted} already exists; the next version is {current.version_id + 1}.",
            event="OBJECT_VERSION_CONFLICT",
        )
    if wanted != current.version_id + 1:
        errors["version_id"] = [f"Must equal the new version's id ({current.version_id + 1})."]
    if body.get("action_id", current.action_id) != current.action_id:
        errors["action_id"] = [f"Must equal the object's action id ({current.action_id})."]
    schema = body.get("schema", current.schema)
    if schema != current.schema and schema != obj.action.schema:
        errors["schema"] = ["Must equal the previous version's schema or the action's current schema."]
        schema = current.schema
    check_version_data(body["data"], schema, account, errors)
    version = commit_next_version(obj, current.version_id, schema, body["data"], account)
    return created(represent_version(version, obj, account, level=level))


@bp.get("/api/v1/objects/<int:object_id>/versions/<int:version_id>")
@login_required
@api_doc(responses=VERSION)
def version_get(object_id, version_id):
    """One immutable version (READ needed)."""
    obj, level = get_object(object_id, READ)
    return respond(
        represent_version(get_version_or_404(obj, version_id), obj, current_account(), level=level)
    )
