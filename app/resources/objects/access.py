"""Who may see what: action visibility, object lookups with the 403/404 rule, reference resolution.

Seed 001's rule: an object that exists but on which the signed-in caller lacks the level a request
needs (READ to see it and its versions, WRITE for a new version, GRANT to change permissions) is a 403;
an id that does not exist is a 404. Every list is restricted in SQL through ``models.has_level``;
nothing here filters a loaded list, and no list or count shows what the caller may not READ.
"""

from sqlalchemy import or_, select

from app.auth import current_account
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.representation import url
from app.resources.objects.models import (
    READ,
    Action,
    ObjectRecord,
    effective_level,
    has_level,
    level_name,
)


def visible_actions(account):
    """Actions the account may read: every visible one, plus its own hidden ones (ADMINs: all)."""
    stmt = select(Action)
    if account.is_admin:
        return stmt
    return stmt.where(or_(Action.is_hidden.is_(False), Action.user_id == account.id))


def can_read_action(account, action):
    return not action.is_hidden or action.writable_by(account)


def get_action_or_404(action_id):
    action = db.session.get(Action, action_id)
    if action is None or not can_read_action(current_account(), action):
        raise NotFound("action")
    return action


def get_object(object_id, level):
    """(object, caller's effective level) when the caller holds ``level``; 403 when the object exists
    and the caller lacks ``level`` (seed 001), 404 when it does not exist."""
    account = current_account()
    obj = db.session.get(ObjectRecord, object_id)
    if obj is None:
        raise NotFound("object")
    have = effective_level(account, obj)
    if have >= level:
        return obj, have
    raise Forbidden(
        f"You need {level_name(level).upper()} permission on object {obj.id}; "
        f"you have {level_name(have).upper()}.",
        object_id=obj.id,
    )


def reference_resolver(account):
    """``resolve(object_id) -> (action_id, action_type) | None`` over objects the account may READ."""

    def resolve(object_id):
        row = db.session.execute(
            select(ObjectRecord.action_id, Action.type)
            .join(Action, Action.id == ObjectRecord.action_id)
            .where(ObjectRecord.id == object_id, has_level(account, READ))
        ).first()
        return tuple(row) if row else None

    return resolve


def user_href(user_id):
    """The accounts domain's user resource."""
    return url("accounts.get_user", user_id=user_id)


def group_href(group_id):
    """The accounts domain's group resource."""
    return url("accounts.get_group", group_id=group_id)
