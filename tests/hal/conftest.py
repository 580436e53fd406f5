"""Fixtures for the app/hal unit tests: a tiny Flask app and an in-memory SQLite collection."""

import uuid
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import ForeignKey, String, Uuid, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from app.hal import Collection, Field

BASE = "http://api.test/assets"
KINDS = ("image", "video", "audio")
START = datetime(2026, 1, 1, 0, 0, 0)


class Base(DeclarativeBase):
    pass


class Asset(Base):
    __tablename__ = "asset"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    size: Mapped[int]
    score: Mapped[float]
    public: Mapped[bool]
    created: Mapped[datetime]
    uid: Mapped[uuid.UUID] = mapped_column(Uuid)
    note: Mapped[str | None] = mapped_column(String(50), nullable=True)


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"))
    name: Mapped[str] = mapped_column(String(20))


SPECIAL_TITLES = {1: "100% cat", 2: "cat_video", 3: "Catalog", 4: "100 cats", 5: "catXvideo"}


def make_asset(i: int) -> Asset:
    """Asset number ``i`` (1..25): deterministic values, some sharing sizes to test tiebreaks."""
    return Asset(
        id=i,
        title=SPECIAL_TITLES.get(i, f"asset {i:02d}"),
        kind=KINDS[i % 3],
        size=(i % 5) * 10,
        score=i / 2,
        public=i % 2 == 0,
        created=START + timedelta(days=i - 1, hours=12),
        uid=uuid.UUID(int=i),
        note=None if i % 4 == 0 else f"n{i % 4}",
    )


def tag_filter(op, values):
    """Custom hook: tags live in another table."""
    tagged = select(Tag.asset_id).where(Tag.name.in_(values))
    if op in ("eq", "any"):
        return Asset.id.in_(tagged)
    if op == "ne":
        return Asset.id.not_in(tagged)
    raise AssertionError(op)


def make_collection(**overrides) -> Collection:
    """The asset collection as a resource would declare it."""
    options = {
        "rel": "ec:assets",
        "item_rel": "ec:asset",
        "fields": [
            Field("id", Asset.id, "int", sortable=True),
            Field("title", Asset.title, sortable=True),
            Field("kind", Asset.kind, "enum", choices=KINDS, sortable=True),
            Field("bytes", Asset.size, "int", sortable=True),
            Field("score", Asset.score, "float"),
            Field("public", Asset.public, "bool"),
            Field("created", Asset.created, "datetime", sortable=True),
            Field("uid", Asset.uid, "uuid"),
            Field("note", Asset.note, search=False),
            Field("tag", None, filter=tag_filter, search=False),
            Field("secret", Asset.note, filterable=False),
        ],
        "id_field": "id",
        "default_sort": ("-created",),
        "tiebreak": Asset.id,
        "max_size": 20,
        "default_size": 10,
        "extra_params": ("query",),
    }
    options.update(overrides)
    return Collection(**options)


@pytest.fixture(scope="session")
def engine():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(make_asset(i) for i in range(1, 26))
        session.add_all(
            [Tag(asset_id=1, name="red"), Tag(asset_id=2, name="red"), Tag(asset_id=3, name="blue")]
        )
        session.commit()
    return engine


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


@pytest.fixture
def empty_session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session


@pytest.fixture
def coll():
    return make_collection()


@pytest.fixture
def flask_app():
    return Flask(__name__)


@pytest.fixture
def models():
    """The test model and helpers, for tests that build their own statements or collections."""
    from types import SimpleNamespace

    return SimpleNamespace(
        Asset=Asset, Tag=Tag, make_collection=make_collection, make_asset=make_asset, BASE=BASE, START=START
    )
