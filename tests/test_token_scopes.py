"""Token scopes (docs/operations.md "Token scopes"): shown on the token resource, set at creation (default:
every scope of the credential used), and checked on every route of the URL map: a token without the scope
a route needs gets 403 ``INSUFFICIENT_SCOPE`` and changes nothing; with only that scope it passes."""

from base64 import b64encode

import pytest
from sqlalchemy import select

from app.extensions import db
from app.resources.accounts.models import SCOPES, Account
from tests.authz_expected import ADMIN, EXPECTED, OWNER, SIGNED_IN
from tests.test_authorization_map import send, world  # noqa: F401 (the same world of resources)


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


def needed(endpoint, method, kind):
    """The scope each route needs, written out independently of app/auth.py."""
    if endpoint == "scheduler.prometheus":
        return "metrics"
    if kind == ADMIN:
        return "admin"
    return "read" if method in ("GET", "HEAD") else "write"


def guarded_cases():
    return [
        pytest.param(e, m, kind, id=f"{m} {e}")
        for (e, m), (kind, _) in sorted(EXPECTED.items())
        if kind in (SIGNED_IN, OWNER, ADMIN)
    ]


@pytest.mark.parametrize("endpoint, method, kind", guarded_cases())
def test_every_route_checks_the_token_scope(client, world, unchanged, token_for, endpoint, method, kind):
    scope = needed(endpoint, method, kind)
    caller = world.owner_account if kind == OWNER else world.outsider_account
    if kind == ADMIN:
        caller = db.session.scalar(select(Account).where(Account.type == "ADMIN"))
    without = token_for(caller, scopes=[s for s in SCOPES if s != scope])
    with unchanged():
        refused = send(client, endpoint, method, world.ids, without)
    assert refused.status_code == 403, refused.get_json()
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["@event"] == "INSUFFICIENT_SCOPE"
    assert repr(scope) in refused.get_json()["detail"]

    only = token_for(caller, scopes=[scope])
    allowed = send(client, endpoint, method, world.ids, only)
    assert (allowed.get_json(silent=True) or {}).get("@event") != "INSUFFICIENT_SCOPE"
    assert allowed.status_code not in (401, 403), allowed.get_json(silent=True)


def test_tokens_show_their_scopes_and_default_to_all(client, make_account, token_for):
    account = make_account()
    basic = {
        "Authorization": "Basic " + b64encode(f"{account.email}:correct horse battery".encode()).decode()
    }
    made = client.post(f"/api/v1/user/{account.id}/tokens/", json={"name": "all"}, headers=basic)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["scopes"] == list(SCOPES)
    reader = client.post(
        f"/api/v1/user/{account.id}/tokens/", json={"name": "r", "scopes": ["read"]}, headers=basic
    )
    assert reader.get_json()["scopes"] == ["read"]
    shown = client.get(reader.headers["Location"], headers=basic).get_json()
    assert shown["scopes"] == ["read"] and shown["current"] is False

    headers = {"Authorization": f"Bearer {reader.get_json()['token']}"}
    assert client.get(f"/api/v1/user/{account.id}/", headers=headers).status_code == 200
    body = {"current_password": "correct horse battery", "new_password": "another long one"}
    refused = client.post(f"/api/v1/user/{account.id}/password/", json=body, headers=headers)
    assert refused.status_code == 403 and refused.get_json()["@event"] == "INSUFFICIENT_SCOPE"


def test_a_token_cannot_issue_a_token_with_more_scopes(client, make_account, token_for, unchanged):
    account = make_account()
    headers = token_for(account, scopes=["read", "write"])
    with unchanged():
        refused = client.post(
            f"/api/v1/user/{account.id}/tokens/", json={"name": "x", "scopes": ["admin"]}, headers=headers
        )
    assert refused.status_code == 403 and refused.get_json()["@event"] == "INSUFFICIENT_SCOPE"
    made = client.post(f"/api/v1/user/{account.id}/tokens/", json={"name": "x"}, headers=headers)
    assert made.status_code == 201 and made.get_json()["scopes"] == ["read", "write"]


@pytest.mark.parametrize("scopes", [["nope"], [], "read", [1]])
def test_bad_scopes_are_400_and_change_nothing(client, make_account, token_for, unchanged, scopes):
    account = make_account()
    headers = token_for(account)
    with unchanged():
        r = client.post(
            f"/api/v1/user/{account.id}/tokens/", json={"name": "x", "scopes": scopes}, headers=headers
        )
    assert r.status_code == 400 and r.mimetype == "application/problem+json"


def test_an_admin_token_without_the_admin_scope_loses_admin_rights_elsewhere(client, make_account, token_for):
    admin, other = make_account(type="ADMIN"), make_account()
    full, limited = token_for(admin), token_for(admin, scopes=["read", "write"])
    other_tokens = f"/api/v1/user/{other.id}/tokens/"
    assert client.get(other_tokens, headers=full).status_code == 200  # an ADMIN manages others' tokens
    assert client.get(other_tokens, headers=limited).status_code == 404  # not without the admin scope
    assert client.get(f"/api/v1/user/{admin.id}/tokens/", headers=limited).status_code == 200  # its own
