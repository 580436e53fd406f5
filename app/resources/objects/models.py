"""Actions, objects with immutable versions, permissions and the reference index (seed 001).

Permission levels are integers (none 0 < read 1 < write 2 < grant 3) so an effective
level is a MAX and "at least READ" is a comparison that runs in SQL.
"""

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    exists,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import IDS_NEVER_REUSED, db
from app.resources.accounts.models import account_groups
from app.timeutil import utcnow

LEVELS = ("none", "read", "write", "grant")
NONE, READ, WRITE, GRANT = range(4)


class Action(db.Model):
    __tablename__ = "actions"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    schema: Mapped[dict] = mapped_column(JSON)
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def writable_by(self, account):
        return account.is_admin or account.id == self.user_id


class ObjectRecord(db.Model):
    """An object: its identity, its current version, public level and denormalised list columns."""

    __tablename__ = "objects"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(500), default="", index=True)
    public_level: Mapped[int] = mapped_column(SmallInteger, default=NONE)

    action: Mapped[Action] = relationship()


class ObjectVersion(db.Model):
    """One immutable version; the primary key (object_id, version_id) makes concurrent writers of N+1
    collide."""

    __tablename__ = "object_versions"

    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    utc_datetime: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    schema: Mapped[dict] = mapped_column(JSON)
    data: Mapped[dict] = mapped_column(JSON)

    object: Mapped[ObjectRecord] = relationship()


class UserPermission(db.Model):
    __tablename__ = "object_user_permissions"

    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[int] = mapped_column(SmallInteger)


class GroupPermission(db.Model):
    __tablename__ = "object_group_permissions"

    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[int] = mapped_column(SmallInteger)


class ObjectReference(db.Model):
    """Which objects a version's data refers to (the version's reference links, filtered by READ)."""

    __tablename__ = "object_references"

    object_id: Mapped[int] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    referenced_id: Mapped[int] = mapped_column(
        ForeignKey("objects.id", ondelete="CASCADE"), primary_key=True, index=True
    )


def has_level(account, level, object_id=ObjectRecord.id, public_level=ObjectRecord.public_level):
    """SQL: ``account`` holds at least ``level`` on the object ``object_id`` (a column or a value).

    Effective level = max(own, any of the account's groups', public); ADMINs hold GRANT everywhere.
    """
    if account.is_admin:
        return literal(True)
    own = exists().where(
        UserPermission.object_id == object_id,
        UserPermission.user_id == account.id,
        UserPermission.level >= level,
    )
    via_group = exists().where(
        GroupPermission.object_id == object_id,
        GroupPermission.level >= level,
        GroupPermission.group_id == account_groups.c.group_id,
        account_groups.c.account_id == account.id,
    )
    return or_(public_level >= level, own, via_group)


def effective_level(account, obj):
    """The account's effective level on ``obj`` (one query)."""
    if account.is_admin:
        return GRANT
    own = select(UserPermission.level).where(
        UserPermission.object_id == obj.id, UserPermission.user_id == account.id
    )
    groups = (
        select(GroupPermission.level)
        .join(account_groups, account_groups.c.group_id == GroupPermission.group_id)
        .where(GroupPermission.object_id == obj.id, account_groups.c.account_id == account.id)
    )
    levels = db.session.scalars(own.union_all(groups)).all()
    return max([obj.public_level, *levels])


def level_name(level):
    return LEVELS[level]
