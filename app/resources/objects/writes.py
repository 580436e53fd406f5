"""Writing versions: data check, the reference index, and the one-winner rule for version N+1."""

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.errors import BodyDidNotValidate, Conflict
from app.extensions import db
from app.resources.objects.access import reference_resolver
from app.resources.objects.data_sampledb import check_data, object_name, references
from app.resources.objects.models import ObjectRecord, ObjectReference, ObjectVersion
from app.timeutil import utcnow


def check_version_data(data, schema, account, errors):
    """Append every data violation (with its path) to ``errors``; 400 when there are any."""
    violations = check_data(data, schema, resolve=reference_resolver(account))
    if violations:
        errors.setdefault("data", []).extend(str(v) for v in violations)
    if errors:
        raise BodyDidNotValidate("The object data did not validate.", errors=errors)


def add_version(obj, version_id, schema, data, account):
    """Stage version ``version_id`` of ``obj`` and its references in the session (no commit)."""
    version = ObjectVersion(
        object_id=obj.id,
        version_id=version_id,
        action_id=obj.action_id,
        user_id=account.id,
        utc_datetime=utcnow(),
        schema=schema,
        data=data,
    )
    db.session.add(version)
    for referenced in sorted(set(references(data, schema))):
        db.session.add(ObjectReference(object_id=obj.id, version_id=version_id, referenced_id=referenced))
    return version


def commit_next_version(obj, previous, schema, data, account):
    """Write version previous+1 in one transaction; 409 when another writer got there first.

    The primary key (object_id, version_id) lets only one INSERT of N+1 succeed; the guarded
    UPDATE of the object's current version catches the same race on databases that would let
    the INSERT wait.
    """
    object_id = obj.id
    version = add_version(obj, previous + 1, schema, data, account)
    try:
        db.session.flush()
        moved = db.session.execute(
            update(ObjectRecord)
            .where(ObjectRecord.id == object_id, ObjectRecord.current_version == previous)
            .values(current_version=previous + 1, name=(object_name(data) or "")[:500])
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            raise Conflict()
        db.session.commit()
    except (IntegrityError, Conflict):
        db.session.rollback()
        raise Conflict(
            f"Version {previous + 1} of object {object_id} was written by another request; "
            "read the current version and try again.",
            event="OBJECT_VERSION_CONFLICT",
        ) from None
    db.session.refresh(obj)
    return version
