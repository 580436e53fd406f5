"""Permissions: the endpoints, the matrix (owner, reader, writer, granter, member, public, stranger,
admin), 401s."""

import pytest

from app.extensions import db
from app.resources.accounts.models import account_groups
from app.resources.objects.models import GroupPermission, ObjectRecord, UserPermission
from tests.resources.objects.conftest import data

FORMS = {"Accept": "application/prs.hal-forms+json"}
READERS = ("owner", "reader", "writer", "granter", "member", "admin")
WRITERS = ("owner", "writer", "granter", "admin")
GRANTERS = ("owner", "granter", "admin")


@pytest.fixture
def config_overrides():
    # the 401 checks send one wrong Basic credential per path; keep the sign-in throttle out of their way
    return {"HALYARD_LOGIN_MAX_FAILURES": 1000}


def endpoints(r):
    """(method, path, body, expected status for a role that may do it, level needed) for every path of the
    domain."""
    o = f"/api/v1/objects/{r.object_id}"
    stranger = r.accounts["stranger"].id
    return [
        ("GET", o, None, 302, "read"),
        ("GET", f"{o}/", None, 302, "read"),
        ("GET", f"{o}/versions/", None, 200, "read"),
        ("GET", f"{o}/versions/0", None, 200, "read"),
        ("POST", f"{o}/versions/", {"data": data("Next")}, 201, "write"),
        ("GET", f"{o}/permissions/", None, 200, "read"),
        ("GET", f"{o}/permissions/public", None, 200, "read"),
        ("PUT", f"{o}/permissions/public", False, 200, "grant"),
        ("GET", f"{o}/permissions/users/", None, 200, "read"),
        ("GET", f"{o}/permissions/users/{stranger}", None, 200, "read"),
        ("PUT", f"{o}/permissions/users/{stranger}", "none", 200, "grant"),
        ("GET", f"{o}/permissions/groups/", None, 200, "read"),
        ("GET", f"{o}/permissions/groups/{r.group_id}", None, 200, "read"),
        ("PUT", f"{o}/permissions/groups/{r.group_id}", "read", 200, "grant"),
    ]


def call(client, method, path, body, headers):
    kwargs = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.open(path, method=method, **kwargs)


@pytest.mark.parametrize(
    "role", ["owner", "reader", "writer", "granter", "member", "public", "stranger", "admin"]
)
def test_permission_matrix(client, roles, unchanged, role):
    headers = roles.headers[role]
    readers = READERS
    if role == "public":  # the object is readable by every signed-in user; this account has nothing else
        db.session.get(ObjectRecord, roles.object_id).public_level = 1
        db.session.commit()
        readers = READERS + ("public",)
    allowed = {"read": readers, "write": WRITERS, "grant": GRANTERS}
    for method, path, body, ok, needed in endpoints(roles):
        if role in allowed[needed]:
            expected = ok
            response = call(client, method, path, body, headers)  # a real write for the allowed roles
        else:
            expected = 403  # seed 001: the object exists, the caller lacks the level
            with unchanged():
                response = call(client, method, path, body, headers)
        assert response.status_code == expected, (role, method, path, response.json)
        if expected == 403:
            assert response.json["@event"] == "ACCESS_DENIED"
            assert response.json["object_id"] == roles.object_id
    listing = client.get("/api/v1/objects/", headers=headers).json
    ids = {o["object_id"] for o in listing["_embedded"]["ec:object"]}
    assert (roles.object_id in ids) == (role in readers)
    assert listing["total"] == len(ids) == (2 if role in readers else 1)  # the public object is always there
    single = client.get(f"/api/v1/objects/?object_id={roles.object_id}", headers=headers)
    assert single.status_code == (200 if role in readers else 404)
    # everybody signed in reads the public object, but writing it needs more than the public flag
    public = roles.public_version["object_id"]
    assert client.get(f"/api/v1/objects/{public}/versions/0", headers=headers).status_code == 200
    if role in ("owner", "admin"):
        write = client.post(f"/api/v1/objects/{public}/versions/", json={"data": data("x")}, headers=headers)
        assert write.status_code == 201
    else:
        with unchanged():
            write = client.post(
                f"/api/v1/objects/{public}/versions/", json={"data": data("x")}, headers=headers
            )
        assert write.status_code == 403


@pytest.mark.parametrize("role", ["reader", "writer", "granter", "owner"])
def test_templates_only_for_what_the_caller_may_do(client, roles, role):
    headers = {**roles.headers[role], **FORMS}
    o = f"/api/v1/objects/{roles.object_id}"
    version = client.get(f"{o}/versions/0", headers=headers).json
    assert ("new-version" in version.get("_templates", {})) == (role in WRITERS)
    history = client.get(f"{o}/versions/", headers=headers).json
    assert ("default" in history.get("_templates", {})) == (role in WRITERS)
    for path in (
        "/permissions/public",
        f"/permissions/groups/{roles.group_id}",
        f"/permissions/users/{roles.accounts['reader'].id}",
    ):
        doc = client.get(o + path, headers=headers).json
        assert ("default" in doc.get("_templates", {})) == (role in GRANTERS), path


def test_effective_level_is_the_highest_of_user_group_and_public(client, roles):
    o = f"/api/v1/objects/{roles.object_id}"
    member = roles.accounts["member"]
    granter = roles.headers["granter"]
    assert client.get(f"{o}/permissions/", headers=roles.headers["member"]).json["permission"] == "read"
    got = client.get(f"{o}/permissions/users/{member.id}", headers=granter).json
    assert got["permission"] == "none" and got["effective_permission"] == "read"
    assert (
        client.put(f"{o}/permissions/groups/{roles.group_id}", json="write", headers=granter).status_code
        == 200
    )
    assert (
        client.get(f"{o}/permissions/users/{member.id}", headers=granter).json["effective_permission"]
        == "write"
    )
    assert (
        client.post(
            f"{o}/versions/", json={"data": data("by member")}, headers=roles.headers["member"]
        ).status_code
        == 201
    )
    # leaving the group takes the access away at once
    db.session.execute(account_groups.delete().where(account_groups.c.account_id == member.id))
    db.session.commit()
    assert client.get(o, headers=roles.headers["member"]).status_code == 403
    # public read plus a user write: the user's write wins
    client.put(f"{o}/permissions/public", json=True, headers=granter)
    client.put(f"{o}/permissions/users/{member.id}", json={"permission": "write"}, headers=granter)
    assert client.get(f"{o}/permissions/", headers=roles.headers["member"]).json["permission"] == "write"
    assert client.get(f"{o}/permissions/", headers=roles.headers["stranger"]).json["permission"] == "read"


def test_permission_endpoints_shapes_and_writes(client, roles):
    o = f"/api/v1/objects/{roles.object_id}"
    h = roles.headers["owner"]
    stranger = roles.accounts["stranger"]
    assert client.get(f"{o}/permissions/public", headers=h).json["public"] is False
    assert client.put(f"{o}/permissions/public", json=True, headers=h).json["public"] is True
    assert client.put(f"{o}/permissions/public", json={"public": False}, headers=h).json["public"] is False
    assert (
        client.put(f"{o}/permissions/users/{stranger.id}", json="write", headers=h).json["permission"]
        == "write"
    )
    users = client.get(f"{o}/permissions/users/?sort=user_id", headers=h).json
    listed = {u["user_id"]: u["permission"] for u in users["_embedded"]["ec:object/permissions/user"]}
    assert listed == {
        roles.accounts["owner"].id: "grant",
        roles.accounts["reader"].id: "read",
        roles.accounts["writer"].id: "write",
        roles.accounts["granter"].id: "grant",
        stranger.id: "write",
    }
    assert client.get(f"{o}/permissions/users/?permission=grant", headers=h).json["total"] == 2
    assert client.get(f"{o}/permissions/users/?permission!=grant", headers=h).json["total"] == 3
    one = client.get(f"{o}/permissions/users/{stranger.id}", headers=h).json
    assert one["_links"]["ec:user"]["href"] == f"http://localhost/api/v1/user/{stranger.id}/"
    assert (
        client.put(f"{o}/permissions/users/{stranger.id}", json="none", headers=h).json["permission"]
        == "none"
    )
    assert db.session.get(UserPermission, (roles.object_id, stranger.id)) is None
    groups = client.get(f"{o}/permissions/groups/", headers=h).json
    group = groups["_embedded"]["ec:object/permissions/group"][0]
    assert group["group_id"] == roles.group_id and group["permission"] == "read"
    assert group["_links"]["ec:group"]["href"] == f"http://localhost/api/v1/group/{roles.group_id}/"


def test_bad_permission_bodies_are_400_and_change_nothing(client, roles):
    o = f"/api/v1/objects/{roles.object_id}"
    h = roles.headers["owner"]
    reader = roles.accounts["reader"].id
    for path, body, field in [
        (f"{o}/permissions/public", "yes", "public"),
        (f"{o}/permissions/public", 1, "public"),
        (f"{o}/permissions/users/{reader}", "admin", "permission"),
        (f"{o}/permissions/users/{reader}", {"permission": "read", "x": 1}, "x"),
        (f"{o}/permissions/groups/{roles.group_id}", 3, "permission"),
    ]:
        response = client.put(path, json=body, headers=h)
        assert response.status_code == 400 and field in response.json["errors"], (path, response.json)
    assert db.session.get(ObjectRecord, roles.object_id).public_level == 0
    assert db.session.get(UserPermission, (roles.object_id, reader)).level == 1
    assert db.session.get(GroupPermission, (roles.object_id, roles.group_id)).level == 1
    assert client.get(f"{o}/permissions/users/99999", headers=h).json["@event"] == "COULD_NOT_FIND_USER"
    assert (
        client.put(f"{o}/permissions/groups/99999", json="read", headers=h).json["@event"]
        == "COULD_NOT_FIND_GROUP"
    )


def test_if_match_on_permission_writes(client, roles):
    url = f"/api/v1/objects/{roles.object_id}/permissions/public"
    h = roles.headers["owner"]
    etag = client.get(url, headers=h).headers["ETag"]
    assert client.put(url, json=True, headers={**h, "If-Match": etag}).status_code == 200
    assert client.put(url, json=False, headers={**h, "If-Match": etag}).status_code == 412
    assert db.session.get(ObjectRecord, roles.object_id).public_level == 1


def test_403_for_an_existing_object_404_for_an_id_that_does_not_exist(client, roles, unchanged):
    """Seed 001: no READ on an existing object (or its versions, permissions) is 403, no WRITE on a new
    version is 403; an id that does not exist is 404 for everybody. Lists still hide the object."""
    stranger, reader = roles.headers["stranger"], roles.headers["reader"]
    o = f"/api/v1/objects/{roles.object_id}"
    for path in (o, f"{o}/", f"{o}/versions/", f"{o}/versions/0", f"{o}/versions/99", f"{o}/permissions/"):
        response = client.get(path, headers=stranger)
        assert response.status_code == 403, path
        assert response.json["@event"] == "ACCESS_DENIED" and response.json["object_id"] == roles.object_id
    with unchanged():
        refused = client.post(f"{o}/versions/", json={"data": data("No")}, headers=reader)
    assert refused.status_code == 403 and "WRITE" in refused.json["detail"]
    assert client.get(f"{o}/versions/99", headers=reader).status_code == 404  # may read: no such version
    missing = "/api/v1/objects/2147483647"
    for headers in (stranger, reader, roles.headers["admin"]):
        for path in (missing, f"{missing}/versions/0", f"{missing}/permissions/"):
            response = client.get(path, headers=headers)
            assert response.status_code == 404 and response.json["@event"] == "COULD_NOT_FIND_OBJECT"
        with unchanged():
            absent = client.post(f"{missing}/versions/", json={"data": data("No")}, headers=headers)
        assert absent.status_code == 404
    listing = client.get("/api/v1/objects/", headers=stranger).json
    assert roles.object_id not in {o["object_id"] for o in listing["_embedded"]["ec:object"]}
    assert client.get(f"/api/v1/objects/?object_id={roles.object_id}", headers=stranger).status_code == 404


def all_paths(r):
    return [
        ("GET", "/api/v1/actions/"),
        ("POST", "/api/v1/actions/"),
        ("GET", f"/api/v1/actions/{r.action['action_id']}"),
        ("PUT", f"/api/v1/actions/{r.action['action_id']}"),
        ("GET", "/api/v1/objects/"),
        ("POST", "/api/v1/objects/"),
    ] + [(m, p) for m, p, *_ in endpoints(r)]


@pytest.mark.parametrize("auth", [None, "Bearer hy_not-a-token", "Basic Zm9vOmJhcg=="])
def test_every_path_needs_credentials(client, roles, auth):
    headers = {"Authorization": auth} if auth else {}
    for method, path in all_paths(roles):
        response = client.open(path, method=method, json={}, headers=headers)
        assert response.status_code == 401, (method, path)
        assert "WWW-Authenticate" in response.headers and response.json["user_id"] == "anonymous"
    assert db.session.query(ObjectRecord).count() == 2


@pytest.mark.parametrize(
    ("role", "writable"),
    [
        ("owner", True),
        ("writer", True),
        ("granter", True),
        ("admin", True),
        ("reader", False),
        ("member", False),
    ],
)
def test_listed_objects_offer_the_next_version_form_only_to_writers(client, roles, role, writable):
    """HAL-FORMS list items carry ``new-version`` exactly where the caller holds WRITE (one query per page);
    plain HAL lists carry no templates at all."""
    forms = {**roles.headers[role], "Accept": "application/prs.hal-forms+json"}
    items = client.get("/api/v1/objects/", headers=forms).json["_embedded"]["ec:object"]
    mine = [i for i in items if i["object_id"] == roles.object_id]
    assert len(mine) == 1, items
    template = mine[0].get("_templates", {}).get("new-version")
    if writable:
        assert template["method"] == "POST" and template["target"].endswith(
            f"/api/v1/objects/{roles.object_id}/versions/"
        )
        values = {p["name"]: p.get("value") for p in template["properties"]}
        assert values["object_id"] == roles.object_id and values["version_id"] == 1
    else:
        assert template is None
    public = [i for i in items if i["object_id"] == roles.public_version["object_id"]]
    if role in ("reader", "member", "writer", "granter"):  # public READ only: no form on that one
        assert public and "_templates" not in public[0]
    plain = client.get("/api/v1/objects/", headers={**roles.headers[role], "Accept": "application/hal+json"})
    assert all("_templates" not in i for i in plain.json["_embedded"]["ec:object"])
