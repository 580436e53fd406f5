"""The hot read paths of the data manager in SQLAlchemy Core: the caller's rights in a space,
assets with their tags and files, and their URLs, without ORM object loading. The per-request
constant statements (a space's rights, one asset) run through ``FastRead`` (app/fastread.py).

Reads (GET of an asset or a page of assets) are most of the traffic; the ORM's identity map,
instrumentation and ``selectinload`` machinery cost more than the queries themselves there. The
rows become ``AssetRow``/``FileRow`` objects with the same attribute names as ``Asset`` and
``AssetFile``, so ``represent()`` renders both alike (writes keep using the ORM objects), and the
ETag of a read equals the ETag a write compares against.
"""

import functools
import uuid

from sqlalchemy import String, and_, bindparam, select, type_coerce

from app.auth import current_principal
from app.ctx import current_app
from app.errors import NotFound
from app.extensions import core_connection
from app.fastread import FastRead
from app.hal import TotalsCache
from app.representation import base_url, url
from app.resources.datamanager.access import RIGHT_COLUMNS, get_access_or_404, rights_or_404
from app.resources.datamanager.models import Asset, AssetFile, AssetTag, Member

assets_table, tags_table, files_table = Asset.__table__, AssetTag.__table__, AssetFile.__table__
_members = Member.__table__

_FILE_VALUES = (
    files_table.c.id,
    files_table.c.mimetype,
    files_table.c.size,
    files_table.c.width,
    files_table.c.height,
    files_table.c.locale,
    files_table.c.created,
    files_table.c.modified,
)
# The columns of an asset as rendered (its space is the one in the URL, so it is not read).
ASSET_COLUMNS = (
    assets_table.c.id,
    assets_table.c.title,
    assets_table.c.type,
    assets_table.c.created,
    assets_table.c.deleted,
)
_FILE_COLUMNS = [column.label(f"file_{column.name}") for column in _FILE_VALUES]
# One asset with its tags, its files and the caller's membership row in its space (NULLs when not a
# member), live or deleted, in one statement: a row per (tag, file) pair, or one row with NULLs for an
# asset without tags or files. Assets carry a few tags and files, so the product stays small, and it
# saves a statement on the most frequent request (docs/datamanager.md, "Profiles").
_ONE_ASSET = {
    deleted: FastRead(
        select(
            *ASSET_COLUMNS,
            tags_table.c.tag,
            _members.c.account_id.label("member_id"),
            *RIGHT_COLUMNS,
            *_FILE_COLUMNS,
        )
        .select_from(assets_table)
        .outerjoin(tags_table, tags_table.c.asset_id == assets_table.c.id)
        .outerjoin(files_table, files_table.c.asset_id == assets_table.c.id)
        .outerjoin(
            _members,
            and_(
                _members.c.datamanager_id == assets_table.c.datamanager_id,
                _members.c.account_id == bindparam("account_id"),
            ),
        )
        .where(
            assets_table.c.datamanager_id == bindparam("dm_id"),
            assets_table.c.id == bindparam("asset_id"),
            assets_table.c.deleted.is_not(None) if deleted else assets_table.c.deleted.is_(None),
        )
        .order_by(tags_table.c.tag, files_table.c.created, files_table.c.id),
        # Rendered as text only: ids (``_text``), timestamps (``rfc3339`` reads SQLite's text as is).
        stored=("id", "created", "deleted", "file_id", "file_created", "file_modified"),
    )
    for deleted in (False, True)
}
_FIRST_RIGHT_COLUMN = len(ASSET_COLUMNS) + 2
_FIRST_FILE_COLUMN = _FIRST_RIGHT_COLUMN + len(RIGHT_COLUMNS)


def totals_scope(dm_id, deleted, generation):
    """The app's cache of asset-collection totals for one space, live or deleted, at ``generation``
    (docs/decisions.md 18), or None when HALYARD_TOTALS_CACHE_ENTRIES is 0."""
    cache = current_app.extensions.get("halyard.asset_totals")
    if cache is None:
        cache = current_app.extensions.setdefault(
            "halyard.asset_totals", TotalsCache(current_app.config["HALYARD_TOTALS_CACHE_ENTRIES"])
        )
    return cache.scope(dm_id, deleted, generation) if cache.max_entries else None


def _hex(stored):
    """An id's 32 hex digits, from the value the driver holds (SQLite: those digits, as SQLAlchemy's
    ``Uuid`` type stores them) or a ``uuid.UUID`` (PostgreSQL's driver, or SQLAlchemy's typed rows)."""
    return stored if stored.__class__ is str else stored.hex


def _text(stored):
    """An id as rendered (``str()`` of its ``uuid.UUID``), from the value the driver holds or a
    ``uuid.UUID``: a page echoes its ids and never needs them typed (docs/datamanager.md)."""
    if stored.__class__ is str:
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    return str(stored)


class FileRow:
    """An asset file as read for rendering (the attributes ``file_properties`` uses; ``id`` as text)."""

    __slots__ = ("id", "mimetype", "size", "width", "height", "locale", "created", "modified")

    def __init__(self, values):
        (
            file_id,
            self.mimetype,
            self.size,
            self.width,
            self.height,
            self.locale,
            self.created,
            self.modified,
        ) = values
        self.id = _text(file_id)

    @property
    def resolution(self):
        return {"width": self.width, "height": self.height} if self.width is not None else {}


class AssetRow:
    """An asset as read for rendering: ``Asset``'s columns (``id`` as text, ``key`` its 32 hex digits)
    plus ``tag_names`` and ``files``. ``row`` holds the id stored or typed (``uuid.UUID``)."""

    __slots__ = ("id", "key", "datamanager_id", "title", "type", "created", "deleted", "tag_names", "files")

    def __init__(self, row, datamanager_id):
        stored, self.title, self.type, self.created, self.deleted = row
        self.id, self.key = _text(stored), _hex(stored)
        self.datamanager_id = datamanager_id
        self.tag_names, self.files = [], []


@functools.lru_cache(maxsize=256)  # one per page size (at most HALYARD_PAGE_MAX_SIZE of them)
def _tags_and_files(n):
    """The tags and the files of ``n`` assets (parameters ``id0``…): two statements, tags by (asset,
    name) and files by (asset, created, id), each in the order of its index on ``asset_id``, so SQLite
    sorts nothing (one UNION of both, ordered as a whole, cost it a temporary B-tree: 40 % more per
    page, docs/datamanager.md "Eighth round"). Ids are bound and read as stored (no ``uuid.UUID`` per
    row): the parameters are 32 hex digits (``AssetRow.key``), what SQLite holds and what PostgreSQL
    casts to its ``uuid`` (the SQL carries ``::UUID``)."""
    ids = [bindparam(f"id{i}", type_=assets_table.c.id.type) for i in range(n)]
    stored_id = type_coerce(tags_table.c.asset_id, String).label("asset_id")
    tags = select(stored_id, tags_table.c.tag).where(tags_table.c.asset_id.in_(ids))
    files = select(type_coerce(files_table.c.asset_id, String).label("asset_id"), *_FILE_VALUES)
    files = files.where(files_table.c.asset_id.in_(ids))
    stored = [f"id{i}" for i in range(n)]
    return (
        FastRead(tags.order_by(tags_table.c.asset_id, tags_table.c.tag), stored=stored),
        FastRead(
            files.order_by(files_table.c.asset_id, files_table.c.created, files_table.c.id),
            stored=[*stored, "id", "created", "modified"],
        ),
    )


def asset_rows(rows, datamanager_id):
    """``AssetRow``s for asset rows (``ASSET_COLUMNS``, the id stored or typed) of one space, with
    their tags and files in two more round trips."""
    assets = [AssetRow(row, datamanager_id) for row in rows]
    if not assets:
        return assets
    by_key = {a.key: a for a in assets}
    params = {f"id{i}": a.key for i, a in enumerate(assets)}
    tags, files = _tags_and_files(len(assets))
    connection = core_connection()
    for asset_id, tag in tags.rows(connection, params):
        by_key[_hex(asset_id)].tag_names.append(tag)
    for row in files.rows(connection, params):
        by_key[_hex(row[0])].files.append(FileRow(row[1:]))
    return assets


@functools.lru_cache(maxsize=64)  # statements are immutable: the grammar adds to a copy
def assets_select(dm_id, *, deleted=False):
    """SELECT of a space's assets (live or deleted) as plain rows."""
    where = assets_table.c.deleted.is_not(None) if deleted else assets_table.c.deleted.is_(None)
    return select(*ASSET_COLUMNS).where(assets_table.c.datamanager_id == dm_id, where)


def get_asset_or_404(dm_id, asset_id, *, deleted=False):
    """One ``AssetRow`` and the caller's rights in its space, in one query (the asset joined with its
    tags, its files and the caller's membership). 404 ``datamanager`` for a space the caller may
    not read, else 404 ``asset`` — the same answers, in the same order, as ``get_access_or_404`` first."""
    principal = current_principal()
    rows = _ONE_ASSET[deleted].rows(
        core_connection(), {"dm_id": dm_id, "asset_id": asset_id, "account_id": principal.id}
    )
    if not rows:
        get_access_or_404(dm_id)  # which 404: no such (readable) space, or no such asset in it
        raise NotFound("asset")
    first = rows[0]
    rights = rights_or_404(first.member_id, first[_FIRST_RIGHT_COLUMN:_FIRST_FILE_COLUMN], principal)
    asset = AssetRow(first[: len(ASSET_COLUMNS)], dm_id)
    # Rows come ordered by (tag, file created, file id): distinct tags in order, and each tag's rows
    # list every file in order.
    asset.tag_names = list(dict.fromkeys(row.tag for row in rows if row.tag is not None))
    files = {}
    for row in rows:
        values = row[_FIRST_FILE_COLUMN:]
        if values[0] is not None and values[0] not in files:
            files[values[0]] = FileRow(values)
    asset.files = list(files.values())
    return asset, rights


_ANY_SPACE = uuid.UUID(int=0)


@functools.lru_cache(maxsize=32)  # bounded: the Host header is the client's
def _spaces_prefix(base):
    """``{base}/datamanager/``: what ``url_for`` writes before a space's id, for the request's base URL
    (``base_url()``: scheme, host and script root, everything url_for(_external=True) reads here)."""
    return url("datamanager.get", dm_id=_ANY_SPACE).removesuffix(str(_ANY_SPACE))


class AssetUrls:
    """The URLs of a space and of its assets (the one builder of them: spaces, members and assets link
    a space through it), built by string joins on a prefix ``url_for`` wrote once per host
    instead of several ``url_for`` calls per asset. tests/resources/datamanager checks every one
    against ``url_for``."""

    __slots__ = ("assets", "deleted", "datamanager")

    def __init__(self, dm_id):
        self.datamanager = _spaces_prefix(base_url()) + str(dm_id)
        self.assets = self.datamanager + "/assets/"
        self.deleted = self.assets + "deleted/"

    def asset(self, asset_id, *, deleted=False):
        return f"{self.deleted if deleted else self.assets}{asset_id}"

    def file(self, asset_id, file_id):
        return f"{self.assets}{asset_id}/files/{file_id}"
