"""Cursor (keyset) paging: walks by next/prev in every order, stable under inserts, signed cursors."""

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.wrappers import Request

from app.hal import CursorCodec, Document, Field, QueryError

BASE = "http://api.test/assets"
CODEC = CursorCodec("test-secret")


def args(query):
    return Request.from_values(query_string=query).args


def qs(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def nullable_sort(models):
    fields = list(models.make_collection().fields.values())
    fields = [f for f in fields if f.name != "note"] + [Field("note", models.Asset.note, sortable=True)]
    return models.make_collection(fields=fields)


def walk(coll, session, models, query, rel="next", start=None):
    """Follow ``rel`` links from the page of ``query`` (or ``start``): every page's ids, in order."""
    pages, page = [], coll.page(session, select(models.Asset), args(start or query), cursors=CODEC)
    while True:
        pages.append([a.id for a in page.items])
        doc = page.document(BASE, [Document({}, f"{BASE}/{a.id}") for a in page.items]).to_dict()
        if rel not in doc["_links"]:
            return pages, doc
        assert len(pages) < 40
        target = qs(doc["_links"][rel]["href"])
        assert "page" not in target and "total" not in doc or len(pages) == 1
        page = coll.page(
            session, select(models.Asset), args(urlsplit(doc["_links"][rel]["href"]).query), cursors=CODEC
        )


_engines = []


@pytest.fixture
def real_engine(fresh_database, tmp_path_factory, models):
    """The test collection's rows in the configured database (PostgreSQL sorts NULLs last, SQLite
    first), made once for this module."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    if not _engines:
        engine = create_engine(fresh_database(str(tmp_path_factory.mktemp("cursor")), "cursor"))
        models.Asset.metadata.create_all(engine)
        with Session(engine) as session:
            session.add_all(models.make_asset(i) for i in range(1, 26))
            session.commit()
        _engines.append(engine)
    return _engines[0]


@pytest.fixture(params=["memory", "configured"])
def any_session(request, session):
    """The in-memory SQLite session, then one on the configured database."""
    if request.param == "memory":
        yield session
        return
    from sqlalchemy.orm import Session

    with Session(request.getfixturevalue("real_engine")) as real:
        yield real


@pytest.mark.parametrize(
    "sort",
    [
        "",
        "sort=title",
        "sort=-bytes",
        "sort=bytes,-title",
        "sort=kind,-created",
        "sort=-note",
        "sort=note,-bytes",
    ],
)
def test_following_next_and_prev_visits_every_item_once_in_order(any_session, models, sort):
    session = any_session
    coll = nullable_sort(models)
    everything = [a.id for a in coll.page(session, select(models.Asset), args(f"size=20&{sort}")).items]
    everything += [
        a.id for a in coll.page(session, select(models.Asset), args(f"size=20&page=2&{sort}")).items
    ]
    assert len(everything) == 25
    pages, last_doc = walk(coll, session, models, f"size=4&{sort}")
    assert [i for p in pages for i in p] == everything and len(pages) == 7
    assert "total" not in last_doc and last_doc["count"] == 1 and "last" not in last_doc["_links"]
    assert qs(last_doc["_links"]["first"]["href"])["page"] == "1"
    # back from the last page by prev: the same pages in reverse
    back, first_doc = walk(
        coll, session, models, "", rel="prev", start=urlsplit(last_doc["_links"]["self"]["href"]).query
    )
    assert back == pages[::-1]
    assert "prev" not in first_doc["_links"]


def test_numbered_pages_link_prev_and_next_by_cursor(session, models, coll):
    page = coll.page(session, select(models.Asset), args("page=3&size=5&kind=video,audio"), cursors=CODEC)
    doc = page.document(BASE, []).to_dict()
    assert doc["total"] == 17
    nxt, prev = qs(doc["_links"]["next"]["href"]), qs(doc["_links"]["prev"]["href"])
    assert set(nxt) == {"cursor", "size", "kind"} and set(prev) == {"cursor", "size", "kind"}
    assert (
        qs(doc["_links"]["last"]["href"])["page"] == "4" and qs(doc["_links"]["first"]["href"])["page"] == "1"
    )
    numbered = {
        n: [
            a.id
            for a in coll.page(session, select(models.Asset), args(f"page={n}&size=5&kind=video,audio")).items
        ]
        for n in (2, 4)
    }
    for rel, n in (("next", 4), ("prev", 2)):
        target = coll.page(
            session, select(models.Asset), args(urlsplit(doc["_links"][rel]["href"]).query), cursors=CODEC
        )
        assert [a.id for a in target.items] == numbered[n]
    # without a codec (a library user without cursor paging) the links stay numbered
    plain = coll.page(session, select(models.Asset), args("page=3&size=5")).document(BASE, []).to_dict()
    assert qs(plain["_links"]["next"]["href"])["page"] == "4"
    assert "cursor" not in coll.variables("offset") and "cursor" in coll.variables()


@pytest.mark.parametrize(
    "query, message",
    [
        ("cursor=garbage", "is not a cursor"),
        ("cursor=&size=2", "is not a cursor"),
        ("cursor=CURSOR&page=2", "cannot be combined"),
        ("cursor=CURSOR&offset=2", "cannot be combined"),
        ("cursor=CURSOR&sort=title", "is not a cursor"),  # a cursor of the default order
        ("cursor=FORGED", "is not a cursor"),
        ("cursor=OTHER", "is not a cursor"),  # another secret
    ],
)
def test_bad_cursors_name_the_parameter(session, models, coll, query, message):
    page = coll.page(session, select(models.Asset), args("size=3"), cursors=CODEC)
    cursor = qs(page.document(BASE, []).to_dict()["_links"]["next"]["href"])["cursor"]
    other = CursorCodec("another-secret").dumps(coll.cursor_scope(page.query), "n", page.keys[-1])
    query = query.replace("FORGED", cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB"))
    query = query.replace("CURSOR", cursor).replace("OTHER", other)
    with pytest.raises(QueryError) as err:
        coll.page(session, select(models.Asset), args(query), cursors=CODEC)
    assert list(err.value.errors) == ["cursor"] and message in err.value.errors["cursor"][0]


def test_a_collection_without_cursor_paging_refuses_the_parameter(session, models, coll):
    with pytest.raises(QueryError) as err:
        coll.page(session, select(models.Asset), args("cursor=x"))
    assert "no cursor paging" in err.value.errors["cursor"][0]


def _get(client, href, headers):
    response = client.get(href, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _ids(body):
    return [user["id"] for user in body["_embedded"]["ec:user"]]


def test_a_client_following_next_is_stable_under_inserts_and_deletes(client, make_account, token_for):
    admin = make_account(type="ADMIN")
    headers = token_for(admin)
    users = [admin] + [make_account() for _ in range(5)]
    newest_first = sorted((u.id for u in users), reverse=True)
    first = _get(client, "/api/v1/user/?size=2&sort=-id", headers)
    assert _ids(first) == newest_first[:2] and first["total"] == 6
    make_account(), make_account()  # two newer users arrive on top of the order
    from app.extensions import db

    db.session.delete(db.session.get(type(admin), newest_first[2]))  # and the next page's first item goes
    db.session.commit()
    shifted = _get(client, "/api/v1/user/?size=2&sort=-id&page=2", headers)
    assert _ids(shifted) == newest_first[:2]  # numbered paging shows page 1 again
    seen, body = [], first
    while "next" in body["_links"]:
        body = _get(client, body["_links"]["next"]["href"], headers)
        assert "total" not in body and "cursor" in qs(body["_links"]["self"]["href"])
        seen += _ids(body)
    assert seen == newest_first[3:]  # no item twice, none skipped, the deleted one gone
    options = body["_links"]["ec:users/options"]["href"]
    assert options.startswith("http://localhost/api/v1/user/{?page,size,cursor,sort,")


@pytest.mark.parametrize("mangle", ["replace", "forge", "resort", "with_page"])
def test_a_bad_or_forged_cursor_is_a_400_problem_naming_it(client, make_account, token_for, mangle):
    headers = token_for(make_account(type="ADMIN"))
    for _ in range(3):
        make_account()
    nxt = _get(client, "/api/v1/user/?size=2", headers)["_links"]["next"]["href"]
    cursor = qs(nxt)["cursor"]
    href = {
        "replace": "/api/v1/user/?cursor=not-a-cursor",
        "forge": f"/api/v1/user/?cursor={cursor[:-2]}{'xy' if not cursor.endswith('xy') else 'zz'}",
        "resort": f"/api/v1/user/?cursor={cursor}&sort=email",
        "with_page": f"/api/v1/user/?cursor={cursor}&page=2",
    }[mangle]
    response = client.get(href, headers=headers)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["@event"] == "QUERY_DID_NOT_VALIDATE" and list(problem["errors"]) == ["cursor"]


def test_openapi_documents_the_cursor_variable(client):
    spec = client.get("/openapi.json").get_json()
    from app.openapi.generate import query_parameters

    params = query_parameters(spec["paths"]["/api/v1/user/"]["get"])
    assert "cursor" in params and "next" in params["cursor"]["description"]


def test_cursors_are_signed_as_itsdangerous_signs_them():
    """The fast signer (key derived once, OpenSSL's one-shot HMAC) writes the stock Signer's signature,
    so cursors issued before it still read and a stock serializer reads its cursors."""
    from datetime import datetime
    from uuid import UUID

    from itsdangerous import URLSafeSerializer

    values = (datetime(2024, 1, 2, 3, 4, 5, 600000), UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8"))
    stock = URLSafeSerializer("test-secret", salt="halyard.hal.cursor")
    for scope in ("ec:assets -created", "ec:assets title"):
        raw = CODEC.dumps(scope, "n", values)
        payload, signature = raw.rsplit(".", 1)
        assert stock.make_signer(scope).get_signature(payload).decode() == signature
        assert stock.loads(raw, salt=scope) == ["n", [{"t": values[0].isoformat()}, {"u": values[1].hex}]]
        assert (
            CODEC.loads(
                stock.dumps(["n", [{"t": values[0].isoformat()}, {"u": values[1].hex}]], salt=scope), scope, 2
            ).values
            == values
        )
        assert CODEC.loads(raw, scope, 2).values == values
    # Floats and text beyond ASCII read back the same through the stock serializer (the payload is JSON).
    odd = (1e-7, 2.5, "ça — 値", None, -3)
    raw = CODEC.dumps("ec:things x", "p", odd)
    assert stock.loads(raw, salt="ec:things x") == ["p", list(odd)]
    assert CODEC.loads(raw, "ec:things x", 5).values == odd
