"""Users, groups and tokens (seed 003 + the ADMIN and self-service extras): authorization and behaviour."""

import base64

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.resources.accounts.models import Account, ApiToken, Group

HAL_FORMS = {"Accept": "application/prs.hal-forms+json"}


def basic(login, password="correct horse battery"):
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


@pytest.fixture
def world(make_account, token_for):
    """An ADMIN, a RESEARCHER (``me``), another RESEARCHER, a deactivated one, a group and a token."""
    admin = make_account(type="ADMIN")
    me = make_account()
    other = make_account()
    gone = make_account()
    group = Group(name="Admins", members=[admin, me])
    db.session.add(group)
    db.session.commit()
    headers = {"admin": token_for(admin), "me": token_for(me), "gone": token_for(gone)}
    gone.deactivate()
    db.session.commit()
    my_token = db.session.scalar(select(ApiToken).where(ApiToken.account_id == me.id))
    return {
        "admin": admin,
        "me": me,
        "other": other,
        "gone": gone,
        "group": group,
        "headers": headers,
        "token": my_token,
    }


# (method, path template, who may: "user" = any active account, "admin" = ADMIN only)
PATHS = [
    ("GET", "/api/v1/user/", "user"),
    ("GET", "/api/v1/user/{me}/", "user"),
    ("PATCH", "/api/v1/user/{other}/", "admin"),
    ("POST", "/api/v1/user/{me}/password/", "user"),
    ("POST", "/api/v1/user/token/", "admin"),
    ("GET", "/accounts/me/", "user"),
    ("GET", "/api/v1/user/{me}/tokens/", "user"),
    ("POST", "/api/v1/user/{me}/tokens/", "user"),
    ("GET", "/api/v1/user/{me}/tokens/{tid}/", "user"),
    ("DELETE", "/api/v1/user/{me}/tokens/{tid}/", "user"),
    ("GET", "/api/v1/group/", "user"),
    ("POST", "/api/v1/group/", "admin"),
    ("GET", "/api/v1/group/{gid}/", "user"),
    ("PUT", "/api/v1/group/{gid}/", "admin"),
    ("DELETE", "/api/v1/group/{gid}/", "admin"),
    ("POST", "/api/v1/group/{gid}/members/", "admin"),
    ("DELETE", "/api/v1/group/{gid}/members/{me}/", "admin"),
]
BODIES = {"PATCH": {"type": "ADMIN"}, "PUT": {"name": "Renamed"}, "POST": {}}


def expand(path, world):
    return path.format(
        me=world["me"].id, other=world["other"].id, gid=world["group"].id, tid=world["token"].id
    )


def snapshot():
    """Everything the admin-only paths could change."""
    return (
        [
            (a.id, a.type, a.active, a.username)
            for a in db.session.scalars(select(Account).order_by(Account.id))
        ],
        [(g.id, g.name, sorted(m.id for m in g.members)) for g in db.session.scalars(select(Group))],
        db.session.scalar(select(func.count()).select_from(ApiToken)),
    )


@pytest.mark.parametrize("method, path, who", PATHS)
@pytest.mark.parametrize("slash", [True, False])
def test_anonymous_and_deactivated_get_401(client, world, method, path, who, slash):
    target = expand(path, world)
    target = target if slash else target.rstrip("/")
    for headers, event in [
        ({}, "COULD_NOT_FIND_AUTH_TOKEN"),
        (world["headers"]["gone"], "ACCOUNT_DEACTIVATED"),
        (basic(world["gone"].email), "ACCOUNT_DEACTIVATED"),
    ]:
        response = client.open(target, method=method, json=BODIES.get(method), headers=headers)
        assert response.status_code == 401, (target, response.json)
        assert response.json["@event"] == event
        assert response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("method, path", [(m, p) for m, p, who in PATHS if who == "admin"])
def test_researcher_gets_403_on_admin_paths_and_nothing_changes(client, world, method, path):
    before = snapshot()
    response = client.open(
        expand(path, world),
        method=method,
        json=BODIES.get(method) or {"email": "a@b.org"},
        headers=world["headers"]["me"],
    )
    assert response.status_code == 403 and response.json["@event"] == "ACCESS_DENIED"
    db.session.expire_all()
    assert snapshot() == before


@pytest.mark.parametrize(
    "method, suffix",
    [
        ("GET", "tokens/"),
        ("POST", "tokens/"),
        ("GET", "tokens/{tid}/"),
        ("DELETE", "tokens/{tid}/"),
        ("POST", "password/"),
    ],
)
def test_other_peoples_tokens_and_password_are_hidden(client, world, unchanged, method, suffix):
    target = f"/api/v1/user/{world['admin'].id}/" + suffix.format(tid=world["token"].id)
    with unchanged():
        response = client.open(
            target, method=method, json={"new_password": "something long"}, headers=world["headers"]["me"]
        )
    assert response.status_code in (403, 404)
    if "tokens" in suffix:
        assert response.status_code == 404  # not even told the tokens exist
    own_token_as_other_user = client.get(
        f"/api/v1/user/{world['other'].id}/tokens/{world['token'].id}/", headers=world["headers"]["admin"]
    )
    assert own_token_as_other_user.status_code == 404  # a token is found only under its owner


def test_users_collection_paging_and_grammar(client, world, make_account):
    for _ in range(8):
        make_account()
    headers = world["headers"]["me"]
    first = client.get("/api/v1/user/?limit=5&offset=0", headers=headers).json
    assert first["count"] == 5 and first["total"] == 12
    assert first["_links"]["next"]["href"] == "http://localhost/api/v1/user/?limit=5&offset=5"
    last = client.get(first["_links"]["last"]["href"], headers=headers).json
    assert last["count"] == 2 and "next" not in last["_links"]
    paged = client.get("/api/v1/user/?page=2&size=5", headers=headers).json
    assert [u["id"] for u in paged["_embedded"]["ec:user"]] == [
        u["id"]
        for u in client.get("/api/v1/user/?limit=5&offset=5", headers=headers).json["_embedded"]["ec:user"]
    ]
    assert "ec:users/options" in first["_links"] and first["_links"]["ec:users/options"]["templated"]
    admins = client.get("/api/v1/user/?type=ADMIN", headers=headers).json
    assert [u["id"] for u in admins["_embedded"]["ec:user"]] == [world["admin"].id]
    in_group = client.get(f"/api/v1/user/?group={world['group'].id}&sort=-id", headers=headers).json
    assert [u["id"] for u in in_group["_embedded"]["ec:user"]] == sorted(
        [world["admin"].id, world["me"].id], reverse=True
    )
    search = client.get(f"/api/v1/user/?email~={world['other'].email[:6]}", headers=headers).json
    assert world["other"].id in [u["id"] for u in search["_embedded"]["ec:user"]]
    single = client.get(f"/api/v1/user/?id={world['other'].id}", headers=headers).json
    assert single["id"] == world["other"].id and single["_links"]["self"]["href"].endswith(
        f"/user/{world['other'].id}/"
    )
    for bad in ("colour=red", "limit=0", "type=GOD", "sort=password_hash", "page=1&limit=2"):
        response = client.get(f"/api/v1/user/?{bad}", headers=headers)
        assert response.status_code == 400 and response.json["@event"] == "QUERY_DID_NOT_VALIDATE", bad
        assert set(response.json["errors"]) <= {"colour", "limit", "type", "sort", "page"}


def test_user_representation_and_templates(client, world):
    me, admin = world["me"], world["admin"]
    own = client.get(f"/api/v1/user/{me.id}/", headers={**world["headers"]["me"], **HAL_FORMS}).json
    assert own["email"] == me.email and own["username"] == me.username and own["type"] == "RESEARCHER"
    assert own["url"] == own["_links"]["self"]["href"] == f"http://localhost/api/v1/user/{me.id}/"
    assert own["groups"] == [f"http://localhost/api/v1/group/{world['group'].id}/"]
    assert [link["href"] for link in own["_links"]["ec:user/groups"]] == own["groups"]
    assert set(own["_templates"]) == {"change-password", "issue-token"}  # no ADMIN PATCH for a researcher
    seen_by_other = client.get(
        f"/api/v1/user/{admin.id}/", headers={**world["headers"]["me"], **HAL_FORMS}
    ).json
    assert "_templates" not in seen_by_other and "ec:user/tokens" not in seen_by_other["_links"]
    as_admin = client.get(f"/api/v1/user/{me.id}/", headers={**world["headers"]["admin"], **HAL_FORMS}).json
    assert as_admin["_templates"]["default"]["method"] == "PATCH"
    props = {p["name"]: p for p in as_admin["_templates"]["default"]["properties"]}
    assert props["type"]["options"] == {"inline": ["ADMIN", "RESEARCHER"]}
    me_doc = client.get("/accounts/me/", headers=world["headers"]["me"])
    assert me_doc.json["id"] == me.id and me_doc.headers["Content-Location"].endswith(
        f"/api/v1/user/{me.id}/"
    )
    assert (
        client.get("/api/v1/user/999999/", headers=world["headers"]["me"]).json["@event"]
        == "COULD_NOT_FIND_ACCOUNT"
    )


def test_private_directory_shows_only_yourself(client, world, app):
    app.config["HALYARD_USER_DIRECTORY_PUBLIC"] = False
    headers = world["headers"]["me"]
    users = client.get("/api/v1/user/", headers=headers).json
    assert users["total"] == 1 and users["_embedded"]["ec:user"][0]["id"] == world["me"].id
    assert client.get(f"/api/v1/user/{world['other'].id}/", headers=headers).status_code == 404
    assert client.get(f"/api/v1/user/?id={world['other'].id}", headers=headers).status_code == 404
    other_headers = client.post(f"/api/v1/user/{world['me'].id}/tokens/", json={}, headers=headers)
    assert other_headers.status_code == 201
    groups = client.get("/api/v1/group/", headers=headers).json
    assert groups["total"] == 1
    lonely = Group(name="Lonely")
    db.session.add(lonely)
    db.session.commit()
    assert client.get(f"/api/v1/group/{lonely.id}/", headers=headers).status_code == 404
    assert client.get("/api/v1/group/", headers=headers).json["total"] == 1
    assert client.get("/api/v1/user/", headers=world["headers"]["admin"]).json["total"] == 4


def test_admin_changes_type_and_deactivates(client, world, token_for):
    admin_h, other = world["headers"]["admin"], world["other"]
    other_token = token_for(other)
    assert client.get("/accounts/me/", headers=basic(other.email)).status_code == 200  # cached Basic sign-in
    promoted = client.patch(
        f"/api/v1/user/{other.id}/", json={"type": "ADMIN", "username": "renamed"}, headers=admin_h
    )
    assert (
        promoted.status_code == 200
        and promoted.json["type"] == "ADMIN"
        and promoted.json["username"] == "renamed"
    )
    off = client.patch(f"/api/v1/user/{other.id}/", json={"active": False}, headers=admin_h)
    assert off.status_code == 200 and off.json["active"] is False
    for headers in (other_token, basic(other.email)):
        response = client.get("/accounts/me/", headers=headers)
        assert response.status_code == 401 and response.json["@event"] == "ACCOUNT_DEACTIVATED"
    on = client.patch(f"/api/v1/user/{other.id}/", json={"active": True}, headers=admin_h)
    assert on.json["active"] is True and client.get("/accounts/me/", headers=other_token).status_code == 200


def test_admin_update_validation_writes_nothing(client, world):
    admin_h, other = world["headers"]["admin"], world["other"]
    before = snapshot()
    for body, field, status in [
        ({"type": "GOD"}, "type", 400),
        ({"active": "maybe"}, "active", 400),
        ({"password_hash": "x"}, "password_hash", 400),
        ({"username": world["me"].username}, "username", 409),
    ]:
        response = client.patch(f"/api/v1/user/{other.id}/", json=body, headers=admin_h)
        assert response.status_code == status and field in response.json["errors"], body
    last = client.patch(f"/api/v1/user/{world['admin'].id}/", json={"type": "RESEARCHER"}, headers=admin_h)
    assert last.status_code == 409 and last.json["@event"] == "LAST_ADMIN_DETECTED"
    stale = client.patch(
        f"/api/v1/user/{other.id}/", json={"type": "ADMIN"}, headers={**admin_h, "If-Match": '"x"'}
    )
    assert stale.status_code == 412
    db.session.expire_all()
    assert snapshot() == before


def test_groups_crud_and_members(client, world):
    admin_h, me_h = world["headers"]["admin"], world["headers"]["me"]
    listing = client.get("/api/v1/group/", headers={**admin_h, **HAL_FORMS}).json
    assert listing["_templates"]["default"]["method"] == "POST"
    assert "_templates" not in client.get("/api/v1/group/", headers={**me_h, **HAL_FORMS}).json
    made = client.post("/api/v1/group/", json={"name": "Researchers"}, headers=admin_h)
    assert made.status_code == 201 and made.headers["Location"] == made.json["url"]
    gid = made.json["id"]
    dup = client.post("/api/v1/group/", json={"name": "Researchers"}, headers=admin_h)
    assert dup.status_code == 409 and "name" in dup.json["errors"]
    assert client.post("/api/v1/group/", json={"name": " padded "}, headers=admin_h).status_code == 400
    assert client.post("/api/v1/group/", json={}, headers=admin_h).json["errors"] == {
        "name": ["This field is required."]
    }
    added = client.post(f"/api/v1/group/{gid}/members/", json={"user_id": world["other"].id}, headers=admin_h)
    assert added.status_code == 200 and added.json["member_count"] == 1
    assert [link["href"] for link in added.json["_links"]["ec:user"]] == [
        f"http://localhost/api/v1/user/{world['other'].id}/"
    ]
    members = client.get(added.json["_links"]["ec:group/members"]["href"], headers=me_h).json
    assert [u["id"] for u in members["_embedded"]["ec:user"]] == [world["other"].id]
    missing = client.post(f"/api/v1/group/{gid}/members/", json={"user_id": 999999}, headers=admin_h)
    assert missing.status_code == 404
    assert (
        client.post(f"/api/v1/group/{gid}/members/", json={"user_id": "1"}, headers=admin_h).status_code
        == 400
    )
    group_doc = client.get(f"/api/v1/group/{gid}/", headers={**admin_h, **HAL_FORMS}).json
    assert set(group_doc["_templates"]) == {"default", "delete", "add-member"}
    assert group_doc["_links"]["ec:group/member"]["templated"] is True
    assert "_templates" not in client.get(f"/api/v1/group/{gid}/", headers={**me_h, **HAL_FORMS}).json
    by_member = client.get(f"/api/v1/group/?member={world['other'].id}", headers=me_h).json
    assert [g["id"] for g in by_member["_embedded"]["ec:group"]] == [gid]
    renamed = client.put(f"/api/v1/group/{gid}/", json={"name": "Scientists"}, headers=admin_h)
    assert renamed.json["name"] == "Scientists"
    removal = group_doc["_links"]["ec:group/member"]["href"].replace("{user_id}", str(world["other"].id))
    assert client.delete(removal, headers=admin_h).status_code == 204
    assert client.delete(removal, headers=admin_h).status_code == 404
    assert client.delete(f"/api/v1/group/{gid}/", headers=admin_h).status_code == 204
    assert client.get(f"/api/v1/group/{gid}/", headers=admin_h).json["@event"] == "COULD_NOT_FIND_GROUP"


def test_own_tokens_list_issue_revoke(client, world):
    me, me_h = world["me"], world["headers"]["me"]
    issued = client.post(
        f"/api/v1/user/{me.id}/tokens/", json={"name": "laptop", "ttl_seconds": 3600}, headers=me_h
    )
    assert issued.status_code == 201 and issued.json["name"] == "laptop" and issued.json["expires"]
    secret = issued.json["token"]
    assert client.get("/accounts/me/", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = client.get(f"/api/v1/user/{me.id}/tokens/?sort=name", headers={**me_h, **HAL_FORMS}).json
    assert listing["total"] == 2 and secret not in str(listing)
    names = [(t["name"], t["current"]) for t in listing["_embedded"]["ec:api-token"]]
    assert names == [("api", True), ("laptop", False)]
    assert listing["_templates"]["default"]["method"] == "POST"
    bad = client.post(f"/api/v1/user/{me.id}/tokens/", json={"ttl_seconds": 5}, headers=me_h)
    assert bad.status_code == 400 and list(bad.json["errors"]) == ["ttl_seconds"]
    assert client.delete(issued.headers["Location"], headers=me_h).status_code == 204
    gone = client.get("/accounts/me/", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401 and gone.json["@event"] == "COULD_NOT_FIND_AUTH_TOKEN"
    # signing out: revoking the token in use
    own = client.delete(f"/api/v1/user/{me.id}/tokens/{world['token'].id}/", headers=me_h)
    assert own.status_code == 204 and client.get("/accounts/me/", headers=me_h).status_code == 401
    # ADMINs may see anyone's tokens
    assert client.get(f"/api/v1/user/{me.id}/tokens/", headers=world["headers"]["admin"]).json["total"] == 0


def test_change_own_password(client, world):
    me = world["me"]
    wrong = client.post(
        f"/api/v1/user/{me.id}/password/",
        json={"current_password": "nope", "new_password": "a new long password"},
        headers=world["headers"]["me"],
    )
    assert wrong.status_code == 400 and list(wrong.json["errors"]) == ["current_password"]
    short = client.post(
        f"/api/v1/user/{me.id}/password/",
        json={"current_password": "correct horse battery", "new_password": "short"},
        headers=world["headers"]["me"],
    )
    assert short.status_code == 400 and list(short.json["errors"]) == ["new_password"]
    assert client.get("/accounts/me/", headers=basic(me.email)).status_code == 200
    ok = client.post(
        f"/api/v1/user/{me.id}/password/",
        json={"current_password": "correct horse battery", "new_password": "a new long password"},
        headers=world["headers"]["me"],
    )
    assert ok.status_code == 204
    assert client.get("/accounts/me/", headers=basic(me.email)).status_code == 401  # cached sign-in dropped
    assert client.get("/accounts/me/", headers=basic(me.email, "a new long password")).status_code == 200
    by_admin = client.post(
        f"/api/v1/user/{me.id}/password/",
        json={"new_password": "set by the admin"},
        headers=world["headers"]["admin"],
    )
    assert by_admin.status_code == 204
    assert client.get("/accounts/me/", headers=basic(me.email, "set by the admin")).status_code == 200


def test_seed_003_user_token(client, world):
    admin_h = world["headers"]["admin"]
    before = db.session.scalar(select(func.count()).select_from(Account))
    for body, field in [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b.org", "x": 1}, "x"),
    ]:
        response = client.post("/api/v1/user/token/", json=body, headers=admin_h)
        assert response.status_code == 400 and field in response.json["errors"]
    assert db.session.scalar(select(func.count()).select_from(Account)) == before
    new = client.post("/api/v1/user/token/", json={"email": "Bob@Example.org"}, headers=admin_h)
    assert new.status_code == 201 and new.json["token"].startswith("hy_")
    assert new.json["_embedded"]["ec:account"]["email"] == "bob@example.org"
    assert new.headers["Location"] == new.json["_links"]["self"]["href"]
    again = client.post("/api/v1/user/token/", json={"email": "bob@example.org"}, headers=admin_h)
    assert again.status_code == 201 and again.json["token"] != new.json["token"]
    assert again.json["_embedded"]["ec:account"]["id"] == new.json["_embedded"]["ec:account"]["id"]
    assert db.session.scalar(select(func.count()).select_from(Account)) == before + 1
    bob = client.get("/accounts/me/", headers={"Authorization": f"Token {again.json['token']}"}).json
    assert bob["email"] == "bob@example.org" and bob["type"] == "RESEARCHER"


def test_embed_account_shape(app, make_account, client):
    from app.resources.accounts.represent import embed_account

    account = make_account(type="ADMIN")
    with app.test_request_context("/"):
        assert embed_account(account).to_dict() == {
            "@type": "account",
            "id": account.id,
            "email": account.email,
            "type": "ADMIN",
            "_links": {"self": {"href": f"http://localhost/api/v1/user/{account.id}/"}},
        }


def test_list_pages_use_a_fixed_number_of_queries(client, world, make_account):
    from sqlalchemy import event

    new = [make_account() for _ in range(15)]
    world["group"].members.extend(new)
    db.session.commit()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for path in ("/api/v1/user/?size=50", "/api/v1/group/"):
            statements.clear()
            assert client.get(path, headers=world["headers"]["admin"]).status_code == 200
            # token lookup, COUNT, the page, the related rows in one selectin query
            assert len(statements) <= 4, statements
            assert sum("count(" in s.lower() for s in statements) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_every_emitted_relation_is_documented(client, world):
    from app.extensions import curies

    def rels(doc):
        found = {r for r in doc.get("_links", {}) if r.startswith("ec:")} | set(doc.get("_embedded", {}))
        for value in doc.get("_embedded", {}).values():
            for child in value if isinstance(value, list) else [value]:
                found |= rels(child)
        return found

    headers = {**world["headers"]["admin"], **HAL_FORMS}
    token = client.post(f"/api/v1/user/{world['admin'].id}/tokens/", json={}, headers=headers).json
    docs = [
        client.get(p, headers=headers).json
        for p in (
            "/",
            "/api/v1/user/",
            f"/api/v1/user/{world['me'].id}/",
            "/api/v1/group/",
            f"/api/v1/group/{world['group'].id}/",
            f"/api/v1/user/{world['admin'].id}/tokens/",
            "/accounts/me/",
        )
    ]
    docs += [token, client.post("/accounts/auth_requests/").json]
    used = set().union(*(rels(d) for d in docs))
    assert {r for r in used if r.startswith("ec:") and r not in curies} == set()
    assert "ec:user/tokens" in used and "ec:api-token" in used and "ec:account" in used
    assert client.get("/rels/auth-request/attach").json["properties"][0]["name"] == "code"


def test_issued_tokens_default_to_the_configured_lifetime(client, world, app):
    app.config["HALYARD_TOKEN_DEFAULT_TTL_SECONDS"] = 3600
    issued = client.post(
        f"/api/v1/user/{world['me'].id}/tokens/", json={}, headers=world["headers"]["me"]
    ).json
    assert issued["expires"] is not None
    app.config["HALYARD_SIGNIN_TOKEN_TTL_SECONDS"] = 120
    by_admin = client.post(
        "/api/v1/user/token/", json={"email": "t@example.org"}, headers=world["headers"]["admin"]
    )
    token = db.session.get(ApiToken, by_admin.json["id"])
    assert 100 < (token.expires_at - token.created).total_seconds() <= 121
