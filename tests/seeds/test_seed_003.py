"""Seed 003 (Seed Scheduler API) replayed as its document writes it, by a client that sends no Accept.

Every ``.. http:`` directive of the document is replayed here (``test_every_documented_endpoint_is_replayed``
checks the list). The document's example requests are sent verbatim (method, path under its root URL,
``Authorization: Token …`` header, body); where its token or ids cannot work, the prerequisites are made
first: "john" is the first account (id 1, an ADMIN: he mints tokens) and "Admins" the first group (id 1).
The document's own token ``9944b0…`` is not one Halyard issued: it answers 401, as the document says for
an invalid token.
"""

import re
import time

import pytest

from app.extensions import db
from app.resources.accounts.models import Group
from tests.seeds.seed_support import assert_printed, assert_shape, document, native, problem

DOC = document("003")
CORE, HELPERS = "/api/v1", "/api"  # "The root URL for all of the core endpoints includes the version prefix"
DOC_TOKEN = {"Authorization": "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"}
HOST = "http://localhost"

# The example bodies as printed (hosts differ: the document's scheduler.example.org is the test's localhost).
PAGE = {"count": 50, "next": "", "previous": "", "results": []}
USER = {"email": "john@example.org", "groups": [], "url": "", "username": "john"}
USERS = {"count": 1, "next": None, "previous": None, "results": [USER]}
GROUP = {"name": "Admins", "url": ""}
GROUPS = {"count": 1, "next": None, "previous": None, "results": [GROUP]}
TOKEN = {"token": ""}

REPLAYED = {
    ("get", "/(any)/"),
    ("post", "/user/token/"),
    ("get", "/user/"),
    ("get", "/user/(int:user_id)/"),
    ("get", "/group/"),
    ("get", "/group/(int:group_id)/"),
    ("get", "/schedule/"),
    ("post", "/schedule/"),
    ("get", "/schedule/(uuid:schedule_id)/"),
    ("put", "/schedule/(uuid:schedule_id)/"),
    ("delete", "/schedule/(uuid:schedule_id)/"),
    ("get", "/metrics/"),
    ("post", "/metrics/"),
    ("get", "/health/"),
}


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


@pytest.fixture
def john(make_account, token_for):
    """The document's user: the first account (id 1), an ADMIN, with a ``Token`` credential."""
    account = make_account(email="john@example.org", username="john", type="ADMIN")
    assert account.id == 1
    return token_for(account, scheme="Token")


@pytest.fixture
def bob(seed_client, john):
    """A token minted for bob@example.org by the documented request (a RESEARCHER account)."""
    response = seed_client.post(f"{CORE}/user/token/", json={"email": "bob@example.org"}, headers=john)
    return {"Authorization": f"Token {native(response, 201)['token']}"}


def test_every_documented_endpoint_is_replayed():
    assert set(re.findall(r"\.\. http:(get|post|put|delete):: (\S+)", DOC)) == REPLAYED


# --- Pagination -------------------------------------------------------------------------------------------


def test_pagination_example(seed_client, john):
    """count is the total; next/previous are absolute limit/offset URLs; ``while next`` reaches the end."""
    assert_printed(DOC, '"next": "http://sbm.example.org/api/v1/enpoint/?limit=10&offset=30"')
    db.session.add_all(Group(name=f"group {n:02d}") for n in range(50))
    db.session.commit()
    body = native(seed_client.get(f"{CORE}/group/?limit=10&offset=20", headers=john), 200)
    assert_shape(body, PAGE)
    assert list(body)[:4] == ["count", "next", "previous", "results"]
    assert body["count"] == 50 and len(body["results"]) == 10
    assert body["next"] == f"{HOST}/api/v1/group/?limit=10&offset=30"
    assert body["previous"] == f"{HOST}/api/v1/group/?limit=10&offset=10"
    url, names = f"{CORE}/group/?limit=10", []
    while url:
        body = native(seed_client.get(url, headers=john), 200)
        names += [g["name"] for g in body["results"]]
        url = body["next"]
    assert len(names) == len(set(names)) == 50
    assert body["previous"] == f"{HOST}/api/v1/group/?limit=10&offset=30"


# --- Core: tokens -----------------------------------------------------------------------------------------


def test_user_token(seed_client, john):
    assert_printed(
        DOC, "POST /user/token/ HTTP/1.1 Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    )
    assert_printed(DOC, '{ "email": "bob@example.org" }')
    response = seed_client.post(f"{CORE}/user/token/", json={"email": "bob@example.org"}, headers=john)
    body = native(response, 201)
    assert_shape(body, TOKEN)
    assert body["token"]
    bob = {"Authorization": f"Token {body['token']}"}
    assert native(seed_client.get(f"{HELPERS}/metrics/", headers=bob), 200)["metrics_available"]
    again = native(
        seed_client.post(f"{CORE}/user/token/", json={"email": "bob@example.org"}, headers=john), 201
    )
    assert again["token"] != body["token"]  # the existing account, a new token
    assert seed_client.get(f"{HELPERS}/metrics/", headers=bob).status_code == 200  # the first still works


@pytest.mark.parametrize("body", [{}, {"email": "not an address"}, {"email": ""}])
def test_user_token_400_without_a_valid_email(seed_client, john, unchanged, body):
    with unchanged():
        response = seed_client.post(f"{CORE}/user/token/", json=body, headers=john)
    assert "email" in problem(response, 400, "BODY_DID_NOT_VALIDATE")["errors"]


@pytest.mark.parametrize("headers", [{}, DOC_TOKEN])
def test_user_token_401_when_the_token_is_invalid_or_missing(seed_client, john, unchanged, headers):
    with unchanged():
        response = seed_client.post(f"{CORE}/user/token/", json={"email": "bob@example.org"}, headers=headers)
    problem(response, 401)  # the document names no code (seed 000's apply: docs/errors.md)


def test_user_token_is_admin_only(seed_client, bob, unchanged):
    """The one deviation of seed 003 (docs/seed-fidelity.md): minting a token for any email is an account
    takeover, so only an ADMIN may; the document's statuses do not cover a non-ADMIN caller."""
    with unchanged():
        response = seed_client.post(f"{CORE}/user/token/", json={"email": "john@example.org"}, headers=bob)
    problem(response, 403)


# --- Core: users and groups -------------------------------------------------------------------------------


def test_user_list(seed_client, john):
    assert_printed(DOC, "GET /user/ HTTP/1.1 Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")
    body = native(seed_client.get(f"{CORE}/user/", headers=john), 200)
    assert_shape(body, USERS)
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    user = body["results"][0]
    assert (user["email"], user["groups"], user["username"]) == ("john@example.org", [], "john")
    assert user["url"] == f"{HOST}/api/v1/user/1/"


def test_user_detail(seed_client, john):
    assert_printed(DOC, "GET /user/1/ HTTP/1.1")
    body = native(seed_client.get(f"{CORE}/user/1/", headers=john), 200)
    assert_shape(body, USER)
    assert body["email"] == "john@example.org" and body["url"] == f"{HOST}/api/v1/user/1/"
    assert "_embedded" not in body


@pytest.mark.parametrize("path", ["/user/", "/user/1/", "/group/", "/group/1/"])
@pytest.mark.parametrize("headers", [{}, DOC_TOKEN])
def test_users_and_groups_401(seed_client, john, path, headers):
    problem(seed_client.get(CORE + path, headers=headers), 401)


@pytest.fixture
def admins(seed_client, john):
    """The document's group "Admins", the first group (id 1), made through the API."""
    created = native(seed_client.post(f"{CORE}/group/", json={"name": "Admins"}, headers=john), 201)
    assert created["url"] == f"{HOST}/api/v1/group/1/"
    return created


def test_group_list(seed_client, john, admins):
    assert_printed(DOC, "GET /group/ HTTP/1.1")
    body = native(seed_client.get(f"{CORE}/group/", headers=john), 200)
    assert_shape(body, GROUPS)
    assert body["count"] == 1 and body["results"][0]["name"] == "Admins"
    assert body["results"][0]["url"] == f"{HOST}/api/v1/group/1/"


def test_group_detail(seed_client, john, admins):
    assert_printed(DOC, "GET /group/1/ HTTP/1.1")
    body = native(seed_client.get(f"{CORE}/group/1/", headers=john), 200)
    assert_shape(body, GROUP)
    assert (body["name"], body["url"]) == ("Admins", f"{HOST}/api/v1/group/1/")


# --- Core: schedules --------------------------------------------------------------------------------------

SCHEDULE = {
    "frequency": 3,
    "endpoint": "http://127.0.0.1:9/hook",
    "inteval_definition": "2 minutes",  # the document's spelling
    "auth_token": "their-token",
    "payload": {"to": "+27123", "msg": "hi"},
    "enabled": True,
}


def _create(seed_client, headers, **body):
    return seed_client.post(f"{CORE}/schedule/", json={**SCHEDULE, **body}, headers=headers)


def test_schedule_create_read_list_update_delete(seed_client, bob):
    for name in SCHEDULE:  # every field the document lists for POST /schedule/, with its spelling
        assert re.search(rf":<json \w+ {name}:", DOC), name
    response = _create(seed_client, bob)
    body = native(response, 201)
    assert response.headers["Location"] == f"{HOST}/api/v1/schedule/{body['id']}/"
    path = f"{CORE}/schedule/{body['id']}/"
    read = native(seed_client.get(path, headers=bob), 200)
    for name in ("frequency", "endpoint", "inteval_definition", "payload", "enabled"):
        assert read[name] == SCHEDULE[name], name
    assert read["cron_definition"] is None and "auth_token" not in read and read["has_auth_token"] is True

    listing = native(seed_client.get(f"{CORE}/schedule/", headers=bob), 200)
    assert_shape(listing, {"count": 1, "next": None, "previous": None, "results": [{"id": ""}]})
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]

    update = {"cron_definition": "*/5 * * * *", "inteval_definition": None, "enabled": False}
    updated = native(seed_client.put(path, json=update, headers=bob), 200)
    assert (updated["cron_definition"], updated["inteval_definition"], updated["enabled"]) == (
        "*/5 * * * *",
        None,
        False,
    )

    assert native(seed_client.delete(path, headers=bob), 204) is None
    problem(seed_client.get(path, headers=bob), 404, "COULD_NOT_FIND_SCHEDULE")


def test_schedule_400_speaks_the_clients_field_names(seed_client, bob, unchanged):
    with unchanged():
        response = _create(seed_client, bob, inteval_definition="every minute")
    errors = problem(response, 400, "BODY_DID_NOT_VALIDATE")["errors"]
    assert list(errors) == ["inteval_definition"]
    assert '"<n> <days|hours|minutes|seconds>"' in errors["inteval_definition"][0]
    with unchanged():
        response = _create(seed_client, bob, cron_definition="*/5 * * * *")  # both definitions
    assert "inteval_definition" in problem(response, 400)["errors"]
    created = native(_create(seed_client, bob), 201)
    with unchanged():
        response = seed_client.put(
            f"{CORE}/schedule/{created['id']}/", json={"inteval_definition": "5 fortnights"}, headers=bob
        )
    assert list(problem(response, 400)["errors"]) == ["inteval_definition"]


def test_schedule_interval_definition_also_accepted(seed_client, bob):
    body = dict(SCHEDULE)
    body["interval_definition"] = body.pop("inteval_definition")
    created = native(seed_client.post(f"{CORE}/schedule/", json=body, headers=bob), 201)
    assert created["interval_definition"] == created["inteval_definition"] == "2 minutes"


@pytest.mark.parametrize("headers", [{}, DOC_TOKEN])
def test_schedule_401(seed_client, bob, unchanged, headers):
    sid = native(_create(seed_client, bob), 201)["id"]
    with unchanged():
        for method, path in [
            ("GET", "/schedule/"),
            ("POST", "/schedule/"),
            ("GET", f"/schedule/{sid}/"),
            ("PUT", f"/schedule/{sid}/"),
            ("DELETE", f"/schedule/{sid}/"),
        ]:
            response = seed_client.open(CORE + path, method=method, json=SCHEDULE, headers=headers)
            problem(response, 401)


# --- Helpers ----------------------------------------------------------------------------------------------


def test_metrics(seed_client, bob):
    keys = native(seed_client.get(f"{HELPERS}/metrics/", headers=bob), 200)
    assert "schedules.created.sum" in keys["metrics_available"]
    started = native(seed_client.post(f"{HELPERS}/metrics/", headers=bob), 200)
    assert started == {"scheduled_metrics_initiated": True}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("headers", [{}, DOC_TOKEN])
def test_metrics_401(seed_client, unchanged, method, headers):
    with unchanged():
        problem(seed_client.open(f"{HELPERS}/metrics/", method=method, headers=headers), 401)


def test_health(seed_client, bob, worker_process):
    worker_process()
    deadline = time.monotonic() + 90
    while (response := seed_client.get(f"{HELPERS}/health/", headers=bob)).status_code != 200:
        assert time.monotonic() < deadline, response.get_json()
        time.sleep(0.2)
    assert native(response, 200)["up"] is True
    problem(seed_client.get(f"{HELPERS}/health/", headers=DOC_TOKEN), 401)
