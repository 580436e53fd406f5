"""Data Manager spaces, their members' rights, assets, asset tags and asset files (seed 004)."""

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    event,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.extensions import db
from app.timeutil import utcnow

RIGHTS = ("manageRights", "editModel", "editEntries", "editAssets", "manageAPIs")
ASSET_TYPES = ("image", "video", "audio", "generic", "document", "spreadsheet")


class DataManager(db.Model):
    __tablename__ = "datamanagers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # Bumped in the same transaction as any change to the space's assets or their tags (see
    # bump_assets_generation below), so cached collection totals of an older generation are never used.
    assets_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    members: Mapped[list["Member"]] = relationship(
        back_populates="datamanager", cascade="all, delete-orphan", passive_deletes=True
    )


class Member(db.Model):
    """An account's rights in one space; holding a row at all means it may read the space."""

    __tablename__ = "datamanager_members"

    datamanager_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("datamanagers.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # One column per right: rights checks and "who may manage" counts stay plain SQL.
    manage_rights: Mapped[bool] = mapped_column(Boolean, default=False)
    edit_model: Mapped[bool] = mapped_column(Boolean, default=False)
    edit_entries: Mapped[bool] = mapped_column(Boolean, default=False)
    edit_assets: Mapped[bool] = mapped_column(Boolean, default=False)
    manage_apis: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    datamanager: Mapped[DataManager] = relationship(back_populates="members")

    COLUMNS = dict(
        zip(
            RIGHTS,
            ("manage_rights", "edit_model", "edit_entries", "edit_assets", "manage_apis"),
            strict=False,
        )
    )

    @property
    def rights(self):
        return [right for right, column in self.COLUMNS.items() if getattr(self, column)]

    @rights.setter
    def rights(self, rights):
        for right, column in self.COLUMNS.items():
            setattr(self, column, right in rights)


class Asset(db.Model):
    __tablename__ = "assets"
    __table_args__ = (
        # Listing order in both directions with the id tiebreak (always ascending), so SQLite and
        # PostgreSQL walk an index instead of sorting: created is the default sort.
        Index("ix_assets_dm_deleted_created_id", "datamanager_id", "deleted", "created", "id"),
        Index("ix_assets_dm_deleted_title", "datamanager_id", "deleted", "title"),
        Index("ix_assets_dm_deleted_type", "datamanager_id", "deleted", "type"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    datamanager_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datamanagers.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deleted: Mapped[datetime | None] = mapped_column(DateTime)

    tags: Mapped[list["AssetTag"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="AssetTag.tag"
    )
    files: Mapped[list["AssetFile"]] = relationship(
        back_populates="asset",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(AssetFile.created, AssetFile.id)",
    )

    @property
    def tag_names(self):
        return [t.tag for t in self.tags]

    def set_tags(self, names):
        wanted = list(dict.fromkeys(names))
        keep = {t.tag: t for t in self.tags if t.tag in wanted}
        self.tags = [keep.get(name) or AssetTag(tag=name) for name in sorted(wanted)]


Index(
    "ix_assets_dm_deleted_created_desc_id",
    Asset.datamanager_id,
    Asset.deleted,
    Asset.created.desc(),
    Asset.id,
)


class AssetTag(db.Model):
    __tablename__ = "asset_tags"

    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)

    __table_args__ = (Index("ix_asset_tags_tag_asset", "tag", "asset_id"),)


class AssetFile(db.Model):
    """One stored representation of an asset (a resolution, a locale)."""

    __tablename__ = "asset_files"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(255))
    mimetype: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    locale: Mapped[str | None] = mapped_column(String(35))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="files")

    @property
    def resolution(self):
        return {"width": self.width, "height": self.height} if self.width is not None else {}


def member_of(datamanager_id, account_id):
    return db.session.scalar(
        select(Member).where(Member.datamanager_id == datamanager_id, Member.account_id == account_id)
    )


@event.listens_for(Session, "before_flush")
def bump_assets_generation(session, flush_context, instances):
    """Advance ``assets_generation`` of every space whose assets or asset tags this flush changes.

    Every write to assets goes through the ORM (tests/resources/datamanager/test_totals_cache.py
    checks each write path), so this one hook keeps the totals cache of the asset collections
    (reads.py) exact across processes: the UPDATE commits or rolls back with the change itself."""
    spaces, tagged = set(), set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Asset) and obj.datamanager_id is not None:
            spaces.add(obj.datamanager_id)
        elif isinstance(obj, AssetTag) and obj.asset_id is not None:
            tagged.add(obj.asset_id)
    if not spaces and not tagged:
        return
    table = DataManager.__table__
    where = table.c.id.in_(spaces)
    if tagged:
        where = where | table.c.id.in_(
            select(Asset.__table__.c.datamanager_id).where(Asset.__table__.c.id.in_(tagged))
        )
    session.execute(update(table).where(where).values(assets_generation=table.c.assets_generation + 1))
