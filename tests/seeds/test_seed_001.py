"""Seed 001 (iffSamples / SampleDB HTTP API) replayed as its document writes it, by a client that sends
its own ``Accept: application/json``.

Every ``.. http:`` directive of the document is replayed (``test_every_documented_endpoint_is_replayed``
checks the list), and every example request is sent verbatim: method, path, headers (its ``Basic
dXNlcm5hbWU6cGFzc3dvcmQ=`` is ``username:password``, so that account is made first) and body. The
document's ids are made to exist first: its action 0 (with the document's schema, inserted with id 0:
the API numbers from 1) and object 1 (the first object of the test's database).

Two examples cannot be sent exactly as printed, and the test says where: "Creating a new object" prints
the request line ``POST /api/v1/objects/1/versions/`` (copied from the next section) under ``.. http:post::
/api/v1/objects/``; its body is sent verbatim to the directive's path. The documented 403s need an
account without READ/WRITE, made for them.
"""

import re

import pytest

from app.extensions import db
from app.resources.objects.models import Action
from tests.seeds.seed_support import assert_printed, assert_shape, document, native, problem

DOC = document("001")
BASIC = {"Authorization": "Basic dXNlcm5hbWU6cGFzc3dvcmQ="}  # username:password, as printed
JSON_HEADERS = {"Accept": "application/json", **BASIC}
SCHEMA = {
    "title": "Object Information",
    "type": "object",
    "properties": {"name": {"title": "Object Name", "type": "text"}},
}
DATA = {"name": {"_type": "text", "text": "Example Object"}}
CREATE_BODY = {"action_id": 0, "schema": SCHEMA, "data": DATA}
VERSION_BODY = {"data": DATA}
OBJECT = {"object_id": 1, "version_id": 0, "action_id": 0, "schema": SCHEMA, "data": DATA}

REPLAYED = {
    ("get", "/api/v1/objects/"),
    ("get", "/api/v1/objects/(int:object_id)"),
    ("get", "/api/v1/objects/(int:object_id)/versions/(int:version_id)"),
    ("post", "/api/v1/objects/"),
    ("post", "/api/v1/objects/(int:object_id)/versions/"),
}


def test_every_documented_endpoint_is_replayed():
    assert set(re.findall(r"\.\. http:(\w+):: (\S+)", DOC)) == REPLAYED


def test_the_replayed_bodies_are_the_printed_ones():
    import json

    for body in (CREATE_BODY, VERSION_BODY, OBJECT):
        assert_printed(DOC, json.dumps(body))
    for header in ("Accept: application/json", "Authorization: Basic dXNlcm5hbWU6cGFzc3dvcmQ="):
        assert header in DOC


@pytest.fixture
def username(make_account):
    """The document's credentials: an account whose username is ``username`` and password ``password``."""
    return make_account(username="username", password="password")


@pytest.fixture
def action_0(app, username):
    """The document's action 0, with the document's schema (no ``required``: ``name`` is required anyway)."""
    db.session.add(Action(id=0, type="sample", name="Object Information", schema=SCHEMA, user_id=username.id))
    db.session.commit()
    return 0


def create(seed_client):
    # printed as "POST /api/v1/objects/1/versions/" under ".. http:post:: /api/v1/objects/": the directive
    return seed_client.post("/api/v1/objects/", json=CREATE_BODY, headers=JSON_HEADERS)


def test_creating_a_new_object(seed_client, action_0):
    response = create(seed_client)
    assert response.status_code == 201, response.get_json()
    assert response.mimetype == "application/json"
    assert response.headers["Location"].endswith("/api/v1/objects/1/versions/0")
    body = response.get_json()
    assert {k: body[k] for k in OBJECT} == OBJECT


def test_reading_a_list_of_all_objects_is_a_json_array(seed_client, action_0):
    create(seed_client)
    second = seed_client.post(
        "/api/v1/objects/",
        json={"action_id": 0, "data": {"name": {"_type": "text", "text": "Other Object"}}},
        headers=JSON_HEADERS,
    )
    assert second.status_code == 201
    for _ in range(3):  # the document's object 2 is at version 3
        assert (
            seed_client.post(
                "/api/v1/objects/2/versions/", json=VERSION_BODY, headers=JSON_HEADERS
            ).status_code
            == 201
        )
    response = seed_client.get("/api/v1/objects/", headers=JSON_HEADERS)
    body = native(response, 200)
    assert isinstance(body, list) and len(body) == 2  # "only the current version of each object"
    assert_shape(body, [OBJECT])
    assert [(o["object_id"], o["version_id"], o["action_id"]) for o in body] == [(1, 0, 0), (2, 3, 0)]
    assert body[0]["schema"] == SCHEMA and body[0]["data"] == DATA
    assert body[1]["data"] == DATA  # the versions wrote the document's data again


def test_getting_the_current_object_version_redirects(seed_client, action_0):
    create(seed_client)
    response = seed_client.get("/api/v1/objects/1", headers=JSON_HEADERS)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/api/v1/objects/1/versions/0")


def test_reading_an_object_version(seed_client, action_0):
    create(seed_client)
    response = seed_client.get("/api/v1/objects/1/versions/0", headers=JSON_HEADERS)
    body = native(response, 200)
    assert "_links" not in body and {k: body[k] for k in OBJECT} == OBJECT
    assert response.headers["Content-Type"] == "application/json"


def test_creating_a_new_object_version(seed_client, action_0):
    create(seed_client)
    response = seed_client.post("/api/v1/objects/1/versions/", json=VERSION_BODY, headers=JSON_HEADERS)
    assert response.status_code == 201 and response.mimetype == "application/json"
    assert response.headers["Location"].endswith("/api/v1/objects/1/versions/1")
    assert (
        native(seed_client.get("/api/v1/objects/1/versions/1", headers=JSON_HEADERS), 200)["version_id"] == 1
    )


def test_invalid_data_is_400(seed_client, action_0, unchanged):
    create(seed_client)
    with unchanged():
        bad = seed_client.post("/api/v1/objects/1/versions/", json={"data": {}}, headers=JSON_HEADERS)
        nameless = seed_client.post(
            "/api/v1/objects/", json={"action_id": 0, "data": {}}, headers=JSON_HEADERS
        )
        wrong_version = seed_client.post(
            "/api/v1/objects/", json={**CREATE_BODY, "version_id": 1}, headers=JSON_HEADERS
        )
    for response in (bad, nameless, wrong_version):
        problem(response, 400, "BODY_DID_NOT_VALIDATE")


def test_documented_403_and_404(seed_client, action_0, make_account, unchanged):
    """403: the user does not have READ (object, version) or WRITE (new version) permissions for this
    object; 404: the object (or the object/version combination) does not exist."""
    create(seed_client)
    make_account(username="other", password="other password")
    other = {"Accept": "application/json", "Authorization": "Basic b3RoZXI6b3RoZXIgcGFzc3dvcmQ="}  # other:…
    for path in ("/api/v1/objects/1", "/api/v1/objects/1/versions/0"):
        assert problem(seed_client.get(path, headers=other), 403, "ACCESS_DENIED")["object_id"] == 1
    with unchanged():
        problem(seed_client.post("/api/v1/objects/1/versions/", json=VERSION_BODY, headers=other), 403)
    assert native(seed_client.get("/api/v1/objects/", headers=other), 200) == []  # lists hide it
    # READ without WRITE is still 403 on a new version
    seed_client.put("/api/v1/objects/1/permissions/public", json=True, headers=JSON_HEADERS)
    assert native(seed_client.get("/api/v1/objects/1/versions/0", headers=other), 200)["object_id"] == 1
    with unchanged():
        refused = seed_client.post("/api/v1/objects/1/versions/", json=VERSION_BODY, headers=other)
    assert "WRITE" in problem(refused, 403)["detail"]
    for path in ("/api/v1/objects/7", "/api/v1/objects/7/versions/0"):
        problem(seed_client.get(path, headers=JSON_HEADERS), 404, "COULD_NOT_FIND_OBJECT")
    problem(seed_client.get("/api/v1/objects/1/versions/5", headers=JSON_HEADERS), 404)
    with unchanged():
        problem(seed_client.post("/api/v1/objects/7/versions/", json=VERSION_BODY, headers=JSON_HEADERS), 404)


def test_hal_clients_keep_the_hal_graph(seed_client, action_0):
    create(seed_client)
    hal = seed_client.get("/api/v1/objects/", headers={**BASIC, "Accept": "application/hal+json"})
    assert hal.mimetype == "application/hal+json"
    assert [o["object_id"] for o in hal.get_json()["_embedded"]["ec:object"]] == [1]


def test_the_list_of_all_objects_is_whole(app, seed_client, action_0):
    """The document shows "a list of all objects", unpaged: a native request without paging parameters
    gets every object (up to HALYARD_PAGE_MAX_SIZE); asking for a page still pages."""
    for n in range(12):  # more than a default page (10)
        body = {"action_id": 0, "data": {"name": {"_type": "text", "text": f"Object {n}"}}}
        assert seed_client.post("/api/v1/objects/", json=body, headers=JSON_HEADERS).status_code == 201
    whole = seed_client.get("/api/v1/objects/", headers=JSON_HEADERS)
    assert [o["object_id"] for o in native(whole, 200)] == list(range(1, 13)) and "Link" not in whole.headers
    paged = seed_client.get("/api/v1/objects/?limit=5", headers=JSON_HEADERS)
    assert len(native(paged, 200)) == 5 and 'rel="next"' in paged.headers["Link"]
    hal = seed_client.get("/api/v1/objects/", headers={**BASIC, "Accept": "application/hal+json"}).get_json()
    assert hal["count"] == 10 and hal["total"] == 12  # HAL keeps its pages
    app.config["HALYARD_PAGE_MAX_SIZE"] = 7
    capped = seed_client.get("/api/v1/objects/", headers=JSON_HEADERS)
    assert len(native(capped, 200)) == 7 and capped.headers["Link"].endswith('>; rel="next"')
    rest = seed_client.get(capped.headers["Link"][1:].split(">;")[0], headers=JSON_HEADERS)
    assert [o["object_id"] for o in native(rest, 200)] == list(range(8, 13))  # the next page: the rest
