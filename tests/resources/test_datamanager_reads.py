"""The Core read paths (app/resources/datamanager/reads.py): same documents and ETags as the ORM
representation the writes use, URLs equal to url_for, and a fixed number of queries per read."""

import uuid

import pytest
from datamanager_support import HAL_FORMS, config_overrides, create_space, make_asset, png, upload  # noqa: F401
from flask import url_for
from sqlalchemy import event

from app.extensions import db
from app.resources.datamanager.models import Asset


@pytest.fixture
def space(client, user_headers):
    return create_space(client, user_headers)


@pytest.fixture
def statements(app):
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def rich_asset(client, space, headers):
    """An asset with two tags and two files."""
    asset = make_asset(client, space, headers)
    href = asset["_links"]["self"]["href"]
    upload(client, href, headers, (png(3, 2), "small.png"), status=200, locale="de-DE")
    r = client.put(href, json={"title": "Tagged", "tags": ["zeta", "alpha"]}, headers=headers)
    assert r.status_code == 200
    return r.get_json()


def test_core_read_equals_orm_representation_live_and_deleted(app, client, user_headers, space):
    from app.representation import canonical_etag, to_dict
    from app.resources.datamanager.assets import represent

    written = rich_asset(client, space, user_headers)  # the PUT answer: represent() over the ORM Asset
    href = written["_links"]["self"]["href"]
    read = client.get(href, headers=user_headers)
    assert read.get_json() == written and len(written["files"]) == 2 and written["tags"] == ["alpha", "zeta"]
    listed = client.get(space["_links"]["ec:assets"]["href"], headers=user_headers).get_json()
    item = listed["_embedded"]["ec:asset"][0]
    assert item == {**written, "_links": {k: v for k, v in written["_links"].items() if k != "curies"}}
    with app.test_request_context("/"):
        orm = db.session.get(Asset, uuid.UUID(written["assetID"]))
        rights = ["editAssets"]
        assert read.headers["ETag"].strip('"') == canonical_etag(represent(orm, rights))
        assert to_dict(represent(orm, rights)) == read.get_json()

    assert client.delete(href, headers=user_headers).status_code == 204
    deleted_href = space["_links"]["ec:assets/deleted"]["href"] + written["assetID"]
    gone = client.get(deleted_href, headers={**user_headers, **HAL_FORMS})
    assert gone.status_code == 200 and gone.get_json()["deleted"].endswith("Z")
    assert gone.get_json()["tags"] == ["alpha", "zeta"] and len(gone.get_json()["files"]) == 2
    # A restore is conditional on the ETag the Core read gave.
    restored = client.delete(deleted_href, headers={**user_headers, "If-Match": gone.headers["ETag"]})
    assert restored.status_code == 200 and restored.get_json()["files"] == written["files"]


def test_asset_urls_equal_url_for(app, client, user_headers, space):
    from app.resources.datamanager.reads import AssetUrls

    dm_id, asset_id, file_id = uuid.UUID(space["dataManagerID"]), uuid.uuid4(), uuid.uuid4()
    # The prefix is cached per scheme, host and script root: each of them changes the URLs.
    for base_url in (
        "https://example.org:8443",
        "http://example.org:8443",
        "https://other.example",
        "https://example.org:8443/mounted/here",
        "https://example.org:8443",
    ):
        with app.test_request_context("/", base_url=base_url):
            assert AssetUrls(dm_id).datamanager.startswith(base_url + "/")
            check_asset_urls(AssetUrls, dm_id, asset_id, file_id)


def check_asset_urls(AssetUrls, dm_id, asset_id, file_id):
    from app.resources.root import url_template

    urls = AssetUrls(dm_id)
    # The by-id templates of the two asset lists
    for endpoint, deleted in (("datamanager.asset", False), ("datamanager.deleted_asset", True)):
        template = url_template(endpoint, {"asset_id": "assetID"}, dm_id=dm_id)
        assert urls.asset("{assetID}", deleted=deleted) == template
    assert urls.assets == url_for("datamanager.assets", dm_id=dm_id, _external=True)
    assert urls.deleted == url_for("datamanager.deleted_assets", dm_id=dm_id, _external=True)
    assert urls.datamanager == url_for("datamanager.get", dm_id=dm_id, _external=True)
    assert urls.asset(asset_id) == url_for(
        "datamanager.asset", dm_id=dm_id, asset_id=asset_id, _external=True
    )
    assert urls.asset(asset_id, deleted=True) == url_for(
        "datamanager.deleted_asset", dm_id=dm_id, asset_id=asset_id, _external=True
    )
    assert urls.file(asset_id, file_id) == url_for(
        "datamanager.file", dm_id=dm_id, asset_id=asset_id, file_id=file_id, _external=True
    )


def test_reads_use_a_fixed_number_of_queries(client, user_headers, space, statements):
    for _ in range(3):
        asset = rich_asset(client, space, user_headers)
    statements.clear()
    assert client.get(asset["_links"]["self"]["href"], headers=user_headers).status_code == 200
    # token, the asset joined with its tags, its files and the caller's membership
    assert len(statements) == 2, statements
    statements.clear()
    r = client.get(space["_links"]["ec:assets"]["href"], headers=user_headers)
    assert r.status_code == 200 and r.get_json()["count"] == 3
    # token, rights, COUNT, the page, the page's tags, the page's files (each in its index's order)
    assert len(statements) == 6, statements
    assert sum("count(" in s.lower() for s in statements) == 1


def test_reads_are_404_for_non_members_and_other_spaces(client, user_headers, make_account, token_for, space):
    asset = make_asset(client, space, user_headers)
    stranger = token_for(make_account())
    for href in (
        asset["_links"]["self"]["href"],
        space["_links"]["ec:assets"]["href"],
        space["_links"]["ec:assets/deleted"]["href"],
    ):
        r = client.get(href, headers=stranger)
        assert r.status_code == 404 and r.get_json()["@event"] == "COULD_NOT_FIND_DATAMANAGER"
    other = create_space(client, user_headers, title="Other")
    wrong = other["_links"]["ec:assets"]["href"] + asset["assetID"]
    r = client.get(wrong, headers=user_headers)
    assert r.status_code == 404 and r.get_json()["@event"] == "COULD_NOT_FIND_ASSET"


def test_admin_reads_every_space_without_membership(client, user_headers, admin_headers, space):
    asset = make_asset(client, space, user_headers)
    r = client.get(asset["_links"]["self"]["href"], headers={**admin_headers, **HAL_FORMS})
    assert r.status_code == 200 and "default" in r.get_json()["_templates"]


def _fast_reads(collection, dm_id):
    """The page and COUNT SELECTs of a space's assets that run on the DB-API cursor (FastRead)."""
    from app.fastread import FastRead
    from app.resources.datamanager.reads import assets_select

    base = assets_select(uuid.UUID(dm_id), deleted=False)  # as list_assets() calls it
    built = collection._statements._built.items()
    return [made for (over, *_), made in built if over is base and isinstance(made, FastRead)]


@pytest.mark.parametrize("config_overrides", [{"HALYARD_TOTALS_CACHE_ENTRIES": 0}], indirect=True)
def test_a_page_answers_the_same_on_sqlalchemy_and_on_the_cursor(client, user_headers, space):
    """A page's first request runs on SQLAlchemy, later ones on the DB-API cursor with the ids as stored
    (FastRead): same bytes and ETag, the cursors of ``next``/``prev`` work (their key values typed
    again), a filter FastRead refuses (an IN list) stays on SQLAlchemy, and a COUNT is never stale."""
    from app.resources.datamanager.assets import assets_collection

    for i in range(5):
        rich_asset(client, space, user_headers) if i == 2 else make_asset(client, space, user_headers)
    base = space["_links"]["ec:assets"]["href"]
    queries = [
        "",
        "?size=2",
        "?page=2&size=2",
        "?sort=-created&size=2",
        "?title~=a&size=2",
        "?type=image,video",
    ]
    answers = {}
    for query in queries:
        first = client.get(base + query, headers=user_headers)
        for _ in range(2):  # the second use compiles for the cursor, the third reuses it
            again = client.get(base + query, headers=user_headers)
            assert again.status_code == 200 and again.data == first.data, query
            assert again.headers["ETag"] == first.headers["ETag"]
        answers[query] = first.get_json()
    # LIMIT and OFFSET are parameters: a COUNT and a page per filter and sort, and the late row lookup
    # of page 2 (7); the IN list of ?type=image,video stays on SQLAlchemy.
    assert len(_fast_reads(assets_collection, space["dataManagerID"])) == 7
    # Following next by cursor from the cursor-read page 2 reaches every asset once, in order.
    seen, page = [], answers["?page=2&size=2"]
    seen += [a["assetID"] for a in answers["?size=2"]["_embedded"]["ec:asset"]]
    while True:
        seen += [a["assetID"] for a in page["_embedded"]["ec:asset"]]
        if "next" not in page["_links"]:
            break
        assert "cursor=" in page["_links"]["next"]["href"]
        page = client.get(page["_links"]["next"]["href"], headers=user_headers).get_json()
    listed = client.get(base + "?size=50", headers=user_headers).get_json()
    assert seen == [a["assetID"] for a in listed["_embedded"]["ec:asset"]] and len(seen) == 5
    prev = client.get(answers["?page=2&size=2"]["_links"]["prev"]["href"], headers=user_headers).get_json()
    assert [a["assetID"] for a in prev["_embedded"]["ec:asset"]] == seen[:2]
    # The ids and file URLs as SQLAlchemy renders them: the rich asset's, on both paths.
    rich = next(a for a in listed["_embedded"]["ec:asset"] if a["files"])
    assert str(uuid.UUID(rich["assetID"])) == rich["assetID"]
    assert rich["_links"]["ec:asset/file"][0]["href"].endswith(
        rich["assetID"]
        + "/files/"
        + str(uuid.UUID(rich["_links"]["ec:asset/file"][0]["href"].rsplit("/", 1)[1]))
    )
    # The totals cache is off: every COUNT runs, and sees a new asset at once.
    make_asset(client, space, user_headers)
    assert client.get(base + "?size=2", headers=user_headers).get_json()["total"] == 6
    assert client.get(base + "?sort=-created&size=2", headers=user_headers).get_json()["total"] == 6
