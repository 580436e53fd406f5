"""The totals cache of the asset collections (app/hal TotalsCache, scoped by the space's
``assets_generation``): a repeated filter costs no COUNT, and every write path that can change a
total makes the next page count again, with the right number."""

import uuid

import pytest
from datamanager_support import config_overrides, create_space, make_asset, png, upload  # noqa: F401
from test_datamanager_reads import statements  # noqa: F401


@pytest.fixture
def space(client, user_headers):
    return create_space(client, user_headers)


def totals(client, space, headers):
    """(live total, live total of tag t1, deleted total, deleted total of title~=b) from four list GETs."""
    live, deleted = space["_links"]["ec:assets"]["href"], space["_links"]["ec:assets/deleted"]["href"]
    out = []
    for href in (live, live + "?tags=t1", deleted, deleted + "?title~=b"):
        r = client.get(href, headers=headers)
        assert r.status_code == 200, r.get_json()
        out.append(r.get_json()["total"])
    return tuple(out)


def test_a_repeated_filter_costs_no_count(client, user_headers, space, statements):
    for _ in range(3):
        make_asset(client, space, user_headers)
    href = space["_links"]["ec:assets"]["href"] + "?type=image&size=2"
    first = client.get(href, headers=user_headers).get_json()
    statements.clear()
    second = client.get(href + "&page=2", headers=user_headers).get_json()
    assert (first["total"], second["total"], second["count"]) == (3, 3, 1)
    assert not any("count(" in s.lower() for s in statements), statements
    # Another filter is another entry: it counts once.
    statements.clear()
    assert client.get(href + "&title~=pic", headers=user_headers).get_json()["total"] == 3
    assert sum("count(" in s.lower() for s in statements) == 1


def test_every_write_path_moves_the_totals(client, user_headers, space):
    """Warm every cached total, write, read again: the totals follow each write path."""
    a = make_asset(client, space, user_headers, name="a.png")
    b = make_asset(client, space, user_headers, name="b.png")
    assert totals(client, space, user_headers) == (2, 0, 0, 0)

    upload(client, space["_links"]["ec:assets"]["href"], user_headers, (png(), "c.png"))  # POST
    assert totals(client, space, user_headers) == (3, 0, 0, 0)

    r = client.put(a["_links"]["self"]["href"], json={"title": "a", "tags": ["t1"]}, headers=user_headers)
    assert r.status_code == 200  # PUT: tags
    assert totals(client, space, user_headers) == (3, 1, 0, 0)

    r = client.put(a["_links"]["self"]["href"], json={"title": "a", "tags": []}, headers=user_headers)
    assert r.status_code == 200  # PUT: a tag removed
    assert totals(client, space, user_headers) == (3, 0, 0, 0)

    assert client.delete(b["_links"]["self"]["href"], headers=user_headers).status_code == 204  # soft delete
    assert totals(client, space, user_headers) == (2, 0, 1, 1)

    deleted_b = space["_links"]["ec:assets/deleted"]["href"] + b["assetID"]
    assert client.delete(deleted_b, headers=user_headers).status_code == 200  # restore
    assert totals(client, space, user_headers) == (3, 0, 0, 0)

    merge = {"title": "a", "tags": ["t1"], "_links": {"ec:asset": [{"href": b["_links"]["self"]["href"]}]}}
    r = client.put(a["_links"]["self"]["href"], json=merge, headers=user_headers)
    assert r.status_code == 200, r.get_json()  # merge: b goes away
    assert totals(client, space, user_headers) == (2, 1, 0, 0)

    assert client.delete(a["_links"]["self"]["href"], headers=user_headers).status_code == 204
    assert totals(client, space, user_headers) == (1, 0, 1, 0)
    deleted_a = space["_links"]["ec:assets/deleted"]["href"] + a["assetID"]
    assert client.delete(deleted_a + "?destroy=destroy", headers=user_headers).status_code == 204  # destroy
    assert totals(client, space, user_headers) == (1, 0, 0, 0)


def test_a_failed_write_leaves_the_generation_and_totals(client, user_headers, space):
    from app.extensions import db
    from app.resources.datamanager.models import DataManager

    a = make_asset(client, space, user_headers)
    assert totals(client, space, user_headers) == (1, 0, 0, 0)
    before = db.session.get(DataManager, uuid.UUID(space["dataManagerID"])).assets_generation
    db.session.rollback()
    r = client.put(a["_links"]["self"]["href"], json={"title": "", "tags": ["t1"]}, headers=user_headers)
    assert r.status_code == 400
    after = db.session.get(DataManager, uuid.UUID(space["dataManagerID"])).assets_generation
    assert after == before and totals(client, space, user_headers) == (1, 0, 0, 0)


@pytest.mark.parametrize("config_overrides", [{"HALYARD_TOTALS_CACHE_ENTRIES": 0}], indirect=True)
def test_the_cache_can_be_switched_off(client, user_headers, space, statements):
    make_asset(client, space, user_headers)
    href = space["_links"]["ec:assets"]["href"]
    for _ in range(2):
        statements.clear()
        assert client.get(href, headers=user_headers).get_json()["total"] == 1
        assert sum("count(" in s.lower() for s in statements) == 1


def test_the_cache_holds_at_most_its_entries():
    from app.hal import TotalsCache

    cache = TotalsCache(max_entries=2)
    scope = cache.scope("space", 1)
    for n in range(3):
        scope.put((("title~", str(n)),), n)
    assert len(cache) == 2 and scope.get((("title~", "0"),)) is None and scope.get((("title~", "2"),)) == 2
    assert cache.scope("space", 2).get((("title~", "2"),)) is None  # another generation sees nothing
