"""Collection pages as HAL documents: count/total, paging links in both styles, the options template."""

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.wrappers import Request

from app.hal import Document, expand

BASE = "http://api.test/assets"


def args(query: str):
    return Request.from_values(query_string=query).args


def ids(page):
    return [a.id for a in page.items]


@pytest.fixture
def run(coll, session, models):
    def run(query: str, collection=None):
        return (collection or coll).page(session, select(models.Asset), args(query))

    return run


def docs(page):
    return [Document({"id": a.id}, f"{BASE}/{a.id}") for a in page.items]


def links(page, query_url=BASE):
    return page.document(query_url, docs(page)).to_dict()["_links"]


def qs(url):
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(urlsplit(url).query).items()}


def test_document_shape_first_page(run):
    page = run("kind=video&sort=title")
    out = page.document(BASE, docs(page)).to_dict()
    assert (out["count"], out["total"]) == (9, 9)
    assert len(out["_embedded"]["ec:asset"]) == 9
    assert list(out["_links"]) == ["self", "last", "ec:assets/options"]
    assert qs(out["_links"]["self"]["href"]) == {"page": "1", "size": "10", "sort": "title", "kind": "video"}


def test_middle_page_links_keep_filters_and_sort(run):
    page = run("title~=asset&sort=-bytes&size=5&page=2&query=x")
    out = links(page, BASE + "?ignored=1")
    assert list(out) == ["self", "first", "prev", "next", "last", "ec:assets/options"]
    common = {"size": "5", "sort": "-bytes", "title~": "asset", "query": "x"}
    assert qs(out["self"]["href"]) == {**common, "page": "2"}
    assert qs(out["first"]["href"]) == {**common, "page": "1"}
    assert qs(out["prev"]["href"]) == {**common, "page": "1"}
    assert qs(out["next"]["href"]) == {**common, "page": "3"}
    assert qs(out["last"]["href"]) == {**common, "page": "4"}  # 20 matching
    assert out["self"]["href"].startswith(BASE + "?page=2&size=5&sort=-bytes&title~=asset")
    for rel in ("self", "first", "prev", "next", "last"):  # every link is the collection's URL, not another
        assert out[rel]["href"].split("?", 1)[0] == BASE, rel


def test_exact_boundary_last_page_has_no_next(run):
    page = run("size=5&page=5")
    out = links(page)
    assert page.count == 5 and "next" not in out
    assert qs(out["last"]["href"])["page"] == "5" and qs(out["prev"]["href"])["page"] == "4"


def test_page_past_the_end(run):
    page = run("size=10&page=9")
    out = links(page)
    assert (page.count, page.total, page.items) == (0, 25, [])
    assert "next" not in out
    assert qs(out["prev"]["href"])["page"] == "3" and qs(out["last"]["href"])["page"] == "3"
    assert qs(out["first"]["href"])["page"] == "1"


def test_empty_collection(coll, empty_session, models):
    page = coll.page(empty_session, select(models.Asset), args(""))
    out = page.document(BASE, []).to_dict()
    assert (out["count"], out["total"], out["_embedded"]) == (0, 0, {"ec:asset": []})
    assert "next" not in out["_links"] and "prev" not in out["_links"] and "first" not in out["_links"]
    assert qs(out["_links"]["last"]["href"])["page"] == "1"


def test_size_cap_is_enforced_and_max_works(run):
    assert run("size=20").count == 20


def test_filterable_field_may_not_shadow_paging_params(models):
    from app.hal import Field

    with pytest.raises(ValueError):
        models.make_collection(fields=[Field("size", models.Asset.size, "int")])
    models.make_collection(
        fields=[Field("size", models.Asset.size, "int", filterable=False, sortable=True)],
        id_field=None,
        default_sort=(),
    )


def test_limit_offset_links_keep_that_style(run):
    page = run("limit=10&offset=5&kind!=image")
    out = links(page)
    assert ids(page) == [a for a in range(25, 0, -1) if a % 3 != 0][5:15]
    common = {"limit": "10", "kind!": "image"}
    assert qs(out["self"]["href"]) == {**common, "offset": "5"}
    assert qs(out["first"]["href"]) == {**common, "offset": "0"}
    assert qs(out["prev"]["href"]) == {**common, "offset": "0"}
    assert qs(out["next"]["href"]) == {**common, "offset": "15"}
    assert qs(out["last"]["href"]) == {**common, "offset": "10"}  # 17 matching
    assert "kind!=image" in out["self"]["href"]
    assert not any("page" in qs(link["href"]) for rel, link in out.items() if rel != "ec:assets/options")


def test_limit_offset_last_window_has_no_next(run):
    out = links(run("limit=10&offset=15"))
    assert "next" not in out and qs(out["last"]["href"])["offset"] == "20"


def test_options_link_holds_the_whole_grammar_and_expands(run):
    out = links(run(""))
    options = out["ec:assets/options"]
    assert options["templated"] is True
    href = options["href"]
    # extra parameters (the search ``query``) follow sort: a client expanding the template can send them
    assert href.startswith(
        BASE + "{?page,size,cursor,sort,query,id,id%21,idFrom,idTo,title,title%21,title%7E,"
    )
    for var in (
        "kind",
        "kind%21",
        "bytesFrom",
        "bytesTo",
        "created",
        "createdFrom",
        "createdTo",
        "uid",
        "uid%21",
        "public",
        "score",
        "scoreFrom",
        "note",
        "note%21",
        "tag",
        "tag%21",
    ):
        assert f",{var}," in href or f",{var}}}" in href
    assert "secret" not in href and "note%7E" not in href and "kindFrom" not in href
    url = expand(href, **{"page": 2, "title~": "cat", "kind!": "video", "createdFrom": "2026-01-01"})
    assert qs(url) == {"page": "2", "title~": "cat", "kind!": "video", "createdFrom": "2026-01-01"}


def test_options_link_offset_style_and_options_url(run):
    page = run("limit=5")
    href = page.document(BASE, docs(page), options_url="http://api.test/other").to_dict()["_links"][
        "ec:assets/options"
    ]["href"]
    assert href.startswith("http://api.test/other{?limit,offset,sort,query,")


def test_expanded_options_url_round_trips_through_parse(run, coll):
    href = links(run(""))["ec:assets/options"]["href"]
    url = expand(href, **{"title~": "cat", "bytesFrom": 10, "sort": "-created,title", "size": 5})
    query = coll.parse(args(urlsplit(url).query))
    assert [f.param for f in query.filters] == ["title~", "bytesFrom"]
    assert query.sort == [("created", True), ("title", False)]


def test_apply_adds_where_and_order(coll, models):
    query = coll.parse(args("kind=video&sort=title"))
    sql = str(coll.apply(select(models.Asset), query))
    assert "WHERE asset.kind = " in sql and "ORDER BY asset.title ASC, asset.id ASC" in sql


def test_document_requires_collection(run):
    from app.hal import Page

    with pytest.raises(ValueError):
        Page([], 0, run("").query).document(BASE, [])


def test_limits_prefer_the_collection_then_the_caller():
    from sqlalchemy import column

    from app.hal import Collection, Field

    free = Collection(rel="ec:xs", item_rel="ec:x", fields=[Field("n", column("n"), type="int")])
    assert free.limits() == (10, 200)
    assert free.limits(default_size=20, max_size=50) == (20, 50)
    capped = Collection(
        rel="ec:xs", item_rel="ec:x", fields=[Field("n", column("n"), type="int")], max_size=30
    )
    assert capped.limits(default_size=40, max_size=500) == (30, 30)


@pytest.mark.parametrize(
    "query",
    [
        "size=7",
        "sort=-bytes&size=4",
        "title~=asset&sort=title&size=3",
        "limit=5&offset=3",
        "kind=video,image&sort=-title&size=6",
    ],
)
def test_late_row_lookup_pages_equal_plain_offset_pages(coll, session, models, query):
    """``page(key=...)`` (OFFSET over keys, then rows by key) gives every page exactly as plain OFFSET."""
    stmt = select(models.Asset)
    first = coll.page(session, stmt, args(query))
    pages = -(-first.total // first.query.size)
    assert pages >= 2
    for n in range(1, pages + 2):  # one past the last: empty on both
        q = f"{query}&page={n}" if "offset" not in query else query.replace("offset=3", f"offset={3 + 5 * n}")
        plain = coll.page(session, stmt, args(q))
        late = coll.page(session, stmt, args(q), key=models.Asset.id)
        assert ids(late) == ids(plain) and late.total == plain.total


@pytest.mark.parametrize(
    ("query", "late"),
    [("page=2&size=5", True), ("sort=-bytes&page=3&size=4", True), ("page=1&size=5", False)]
    + [("title~=asset&page=2&size=3", False), ("kind=video&page=2&size=2", False)],
)
def test_only_an_unfiltered_page_past_the_first_is_a_late_row_lookup(
    coll, session, engine, models, query, late
):
    """A filter is checked on the row, so a filtered page reads rows while it skips: it selects them
    directly (one read), where an unfiltered page skips over keys and then reads its rows by key."""
    from sqlalchemy import event

    statements = []
    listener = lambda conn, cursor, sql, *rest: statements.append(sql)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        page = coll.page(session, select(models.Asset), args(query), key=models.Asset.id)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert page.items and len(page.items) <= page.query.size
    selects = [sql for sql in statements if "count(" not in sql.lower()]
    assert len(selects) == 1
    assert (" IN (SELECT" in selects[0]) is late, selects[0]
    assert ids(page) == ids(coll.page(session, select(models.Asset), args(query)))


@pytest.mark.parametrize(
    "pairs",
    [
        [],
        [("page", "2"), ("size", 20)],
        [("sort", "-created,title"), ("title~", "a b"), ("cursor", "eyJ.abc_-~")],
        [("q", "100% ça & co=1?#/+"), ("é", "€"), ("tag!", "a:b,c"), ("x", ""), ("", "y")],
        [("title", "\x00\n\t\"'<>[]{}|\\^`")],
    ],
)
def test_paging_links_quote_as_urlencode_does(pairs):
    """``_url`` skips ``quote`` for what needs no quoting: the query strings are urlencode's bytes."""
    from urllib.parse import quote, urlencode

    from app.hal.collection import _url

    query = urlencode(pairs, quote_via=quote, safe=",!:")
    assert _url("http://h/x/", pairs) == (f"http://h/x/?{query}" if query else "http://h/x/")
