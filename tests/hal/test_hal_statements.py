"""A page's SELECTs reused across requests (``Collection.page(reuse=True)``) answer exactly what freshly
built ones answer, per filter, sort, page and cursor; and cursors read whether or not they are compressed."""

import json
import uuid
import zlib

import pytest
from itsdangerous.encoding import base64_encode
from sqlalchemy import select
from werkzeug.wrappers import Request

from app.fastread import FastRead
from app.hal import CursorCodec, QueryError
from app.hal.collection import _Statements

CODEC = CursorCodec("test-secret")
STMT = None  # one long-lived base statement, as a resource keeps it (e.g. a space's assets)


def args(query):
    return Request.from_values(query_string=query).args


def base(models):
    global STMT
    if STMT is None:
        STMT = select(models.Asset)
    return STMT


QUERIES = [
    "",
    "size=5",
    "page=2&size=5",
    "page=3&size=5&sort=title",
    "kind=video&size=3",
    "kind=audio&size=3",
    "kind=video,audio&sort=-bytes&page=2&size=4",
    "tag=red",
    "tag=blue",
    "title~=cat&size=2&page=2",
    "id=7",
    "limit=4&offset=8",
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_reused_page_answers_what_a_fresh_one_answers(session, models, query):
    fresh = models.make_collection()
    reusing = models.make_collection()
    for _ in range(3):  # the first request builds, the next ones reuse
        want = fresh.page(session, base(models), args(query), cursors=CODEC)
        got = reusing.page(session, base(models), args(query), cursors=CODEC, reuse=True)
        assert [a.id for a in got.items] == [a.id for a in want.items]
        assert (got.total, got.keys, got.single is None) == (want.total, want.keys, want.single is None)
    assert reusing._statements._built  # kept for the next request
    assert not fresh._statements._built  # nothing kept without reuse


def test_filter_values_never_share_a_statement(session, models):
    """Two filter values, one after the other, on one collection: each gets its own rows."""
    coll = models.make_collection()
    pages = {}
    for kind in ("image", "video", "audio", "image"):
        page = coll.page(session, base(models), args(f"kind={kind}&size=20"), reuse=True)
        assert {a.kind for a in page.items} == {kind}
        pages.setdefault(kind, [a.id for a in page.items])
        assert pages[kind] == [a.id for a in page.items]
    assert len(set(map(tuple, pages.values()))) == 3


def test_cursor_walks_with_reuse_match_fresh_walks(session, models):
    fresh, reusing = models.make_collection(), models.make_collection()
    query, seen_fresh, seen_reused = "size=4&sort=bytes", [], []
    for coll, seen, reuse in ((fresh, seen_fresh, False), (reusing, seen_reused, True), (reusing, [], True)):
        page = coll.page(session, base(models), args(query), cursors=CODEC, reuse=reuse)
        while True:
            seen += [a.id for a in page.items]
            if not page.items or "next" not in page.navigation():
                break
            cursor = page.navigation()["next"]["cursor"]
            page = coll.page(
                session, base(models), args(f"{query}&cursor={cursor}"), cursors=CODEC, reuse=reuse
            )
    assert seen_reused == seen_fresh
    assert sorted(seen_fresh) == list(range(1, 26))


def test_the_kept_statements_are_bounded():
    kept = _Statements()
    for i in range(kept.SIZE + 10):
        assert kept.get("base", i, lambda i=i: ("built", i), reuse=True) == ("built", i)
    assert len(kept._built) == kept.SIZE
    assert ("base", 0) not in kept._built and ("base", kept.SIZE + 9) in kept._built
    calls = []
    assert kept.get("base", "x", lambda: calls.append(1) or "y", reuse=False) == "y"
    assert kept.get("base", "x", lambda: calls.append(1) or "y", reuse=False) == "y"
    assert calls == [1, 1] and ("base", "x") not in kept._built


def test_a_compressed_cursor_still_reads():
    """Cursors are no longer zlib-compressed; one signed in the compressed form (as before) still reads."""
    serializer = CODEC._serializer
    payload = [NEXT := "n", [3, {"u": "00" * 16}]]
    compressed = b"." + base64_encode(zlib.compress(json.dumps(payload, separators=(",", ":")).encode()))
    raw = serializer.make_signer("scope").sign(compressed).decode()
    cursor = CODEC.loads(raw, "scope", 2)
    assert cursor.direction == NEXT and cursor.values[0] == 3 and cursor.values[1].int == 0
    plain = CODEC.dumps("scope", NEXT, (3,))
    assert not plain.startswith(".")
    assert CODEC.loads(plain, "scope", 1).values == (3,)
    with pytest.raises(QueryError):
        CODEC.loads(plain, "another scope", 1)


CORE = None  # a long-lived Core SELECT of every column, as reads.assets_select keeps one per space
# IN lists (the kinds; the tag filter's subquery): FastRead refuses them.
REFUSED = ("kind=video,audio&sort=-bytes&page=2&size=4", "tag=red", "tag=blue")


def core_base(models):
    global CORE
    if CORE is None:
        CORE = select(*models.Asset.__table__.c)
    return CORE


def typed_uid(row):
    """A row with its ``uid`` as a ``uuid.UUID`` whether it came stored (32 hex digits) or typed."""
    values = list(row)
    values[-2] = uuid.UUID(str(values[-2]))
    return tuple(values)


@pytest.mark.parametrize("tiebreak", ["id", "uid"])
@pytest.mark.parametrize("query", [q for q in QUERIES if q != "id=7"])
def test_a_core_page_on_the_cursor_answers_what_sqlalchemy_answers(engine, models, query, tiebreak):
    """A reused Core page runs on the DB-API cursor from its second request on (FastRead, ``uid`` read
    as stored): the same rows, totals and keys (typed again for a cursor), the same paging links and
    cursors as SQLAlchemy's execution of the same SELECT; IN lists stay on SQLAlchemy."""
    column = getattr(models.Asset, tiebreak)
    fresh, reusing = models.make_collection(tiebreak=column), models.make_collection(tiebreak=column)
    with engine.connect() as connection:
        for _ in range(3):
            options = {"scalars": False, "cursors": CODEC}
            want = fresh.page(connection, core_base(models), args(query), **options)
            got = reusing.page(
                connection, core_base(models), args(query), reuse=True, stored=("uid",), **options
            )
            assert [typed_uid(row) for row in got.items] == [tuple(row) for row in want.items]
            assert got.total == want.total
            assert [got.retype(k) if got.retype else k for k in got.keys] == want.keys
            assert got.navigation() == want.navigation()
    fast = [made for made in reusing._statements._built.values() if isinstance(made, FastRead)]
    assert (len(fast) == 0) == (query in REFUSED)
    if fast and tiebreak == "uid":
        stored = fast[-1].rows(engine.connect(), {"halyard_limit": 1, "halyard_offset": 0})[0].uid
        assert isinstance(stored, str) and len(stored) == 32  # as SQLite holds it


def test_a_page_built_once_is_never_compiled_for_the_cursor(engine, models):
    """A SELECT used once (a filter value a client typed) stays on SQLAlchemy: compiling it for the
    cursor costs more than SQLAlchemy's cached execution, and it may never come back."""
    coll = models.make_collection()
    with engine.connect() as connection:
        for n in range(5):
            coll.page(connection, core_base(models), args(f"title~=asset {n}"), scalars=False, reuse=True)
    assert not [made for made in coll._statements._built.values() if isinstance(made, FastRead)]
