"""``represent_version``: the only place links of an object version are built."""

from sqlalchemy import select

from app.extensions import db
from app.hal import Document, Link, Template, properties_from_schema
from app.representation import url
from app.resources import choices
from app.resources.objects.access import can_read_action, user_href
from app.resources.objects.models import READ, WRITE, ObjectRecord, ObjectReference, has_level
from app.resources.objects.schemas import version_create_schema

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def version_href(object_id, version_id):
    return url("objects.version_get", object_id=object_id, version_id=version_id)


def represent_version(version, obj, account, *, level=READ, embedded=False):
    """One version; ``embedded`` (in lists) leaves out the per-item lookups; its ``new-version`` template
    only when the list passes the caller's ``level`` (HAL-FORMS and HTML, ``wants_templates()``)."""
    doc = Document(
        {
            "object_id": version.object_id,
            "version_id": version.version_id,
            "action_id": version.action_id,
            "user_id": version.user_id,
            "utc_datetime": version.utc_datetime.strftime(DATETIME_FORMAT),
            "schema": version.schema,
            "data": version.data,
        },
        self_href=version_href(version.object_id, version.version_id),
    )
    doc.link("collection", url("objects.objects_index"))
    doc.link("version-history", url("objects.versions_index", object_id=obj.id))
    doc.link("latest-version", version_href(obj.id, obj.current_version))
    if version.version_id > 0:
        doc.link("predecessor-version", version_href(obj.id, version.version_id - 1))
    if version.version_id < obj.current_version:
        doc.link("successor-version", version_href(obj.id, version.version_id + 1))
    doc.link("ec:object", url("objects.object_get", object_id=obj.id))
    doc.link("ec:object/permissions", url("objects.permissions_get", object_id=obj.id))
    if version.user_id is not None:
        doc.link("ec:user", user_href(version.user_id))
    if embedded:
        _new_version_template(doc, version, obj, level)  # level is READ unless the list asked (templates)
        return doc
    if can_read_action(account, obj.action):
        doc.link("ec:action", url("objects.action_get", action_id=obj.action_id))
    doc.links(
        "ec:object/references",
        [Link(url("objects.object_get", object_id=oid)) for oid in readable_references(version, account)],
    )
    _new_version_template(doc, version, obj, level)
    return doc


def _new_version_template(doc, version, obj, level):
    """The ``new-version`` template of the current version, for a caller holding WRITE."""
    if level >= WRITE and version.version_id == obj.current_version:
        doc.template(
            "new-version",
            Template(
                method="POST",
                title="Write the next version",
                target=url("objects.versions_index", object_id=obj.id),
                properties=next_version_properties(obj),
            ),
        )


def writable(account, object_ids):
    """The ids among ``object_ids`` on which ``account`` holds WRITE (one query)."""
    if not object_ids:
        return set()
    stmt = select(ObjectRecord.id).where(ObjectRecord.id.in_(object_ids), has_level(account, WRITE))
    return set(db.session.scalars(stmt))


def next_version_properties(obj):
    """The fields of ``obj``'s next version: the ids it must carry (its own, the next version's, its
    action's) prefilled, ``action_id`` also offered from ``ec:actions``."""
    values = {"object_id": obj.id, "version_id": obj.current_version + 1, "action_id": obj.action_id}
    return properties_from_schema(
        version_create_schema, options={"action_id": choices.actions()}, values=values
    )


def readable_references(version, account):
    """Ids of the objects this version refers to that the account may READ (one query)."""
    stmt = (
        select(ObjectReference.referenced_id)
        .join(ObjectRecord, ObjectRecord.id == ObjectReference.referenced_id)
        .where(
            ObjectReference.object_id == version.object_id,
            ObjectReference.version_id == version.version_id,
            has_level(account, READ),
        )
        .order_by(ObjectReference.referenced_id)
    )
    return list(db.session.scalars(stmt))
