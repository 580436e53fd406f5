"""Authorization of every rule × method of the app's URL map, generated from ``app.url_map``.

``EXPECTED`` (tests/authz_expected.py) says who may call each endpoint and method; a route missing
from it fails ``test_every_route_has_an_expectation``, so a new door cannot ship without its test.
For each entry (tests/authz_world.py builds one of every resource, owned by one account):

- public: an anonymous request gets the listed status;
- signed-in: an anonymous request gets 401 (with the challenge) and changes nothing;
- owner: also, another account's request gets the status ``REFUSED_WITH`` lists (404, or 403 where a
  seed documents it) and changes nothing, and the owner's own
  request with the same body succeeds (so the refusal is about who asks, not about the ids or the body);
- admin: also, a non-admin account gets 403 and changes nothing, and an ADMIN's request passes.
"""

import re

import pytest

from tests.authz_expected import (
    ADMIN,
    EXPECTED,
    FIXED,
    OWNER,
    PUBLIC,
    REFUSED_WITH,
    SIGNED_IN,
    VARIABLES,
    Form,
)
from tests.authz_world import build_world


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


def routes(app):
    return sorted(
        (rule.endpoint, method, rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def test_every_route_has_an_expectation(app):
    found = {(endpoint, method) for endpoint, method, _ in routes(app)}
    assert len(found) > 100
    assert sorted(found - set(EXPECTED)) == [], (
        "routes without an authorization expectation: add them to EXPECTED"
    )
    assert sorted(set(EXPECTED) - found) == [], "expectations of routes that no longer exist"


def _rules_by_endpoint():
    from app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})
    return {(endpoint, method): rule.rule for endpoint, method, rule in routes(app)}


RULES = _rules_by_endpoint()


def target(endpoint, method, ids):
    def fill(match):
        name = match.group(1)
        key = VARIABLES.get((endpoint, name), name)
        return str(FIXED.get(key, ids.get(key)))

    return re.sub(r"<(?:[^>:]+:)?([^>]+)>", fill, RULES[(endpoint, method)])


def send(client, endpoint, method, ids, headers):
    kind, body = EXPECTED[(endpoint, method)]
    if kind == PUBLIC:  # the second value is the status; a public POST gets an empty JSON object
        body = {} if method == "POST" else None
    if isinstance(body, Form):
        return client.open(
            target(endpoint, method, ids),
            method=method,
            headers=headers,
            data=body.make(ids),
            content_type="multipart/form-data",
        )
    body = body(ids) if callable(body) else body
    kwargs = {} if body is None else {"json": body}
    return client.open(target(endpoint, method, ids), method=method, headers=headers, **kwargs)


@pytest.fixture
def world(client, make_account, token_for):
    w = build_world(client, make_account, token_for)
    w.ids["outsider_id"] = w.outsider_account.id
    member = make_account()
    r = client.post(
        f"/datamanager/{w.ids['dm_id']}/members/",
        json={"accountID": member.id, "rights": []},
        headers=w.owner,
    )
    assert r.status_code == 201, r.get_json()
    w.ids["member_id"] = member.id
    return w


def cases(*kinds):
    return [
        pytest.param(e, m, id=f"{m} {e}") for (e, m), (kind, _) in sorted(EXPECTED.items()) if kind in kinds
    ]


@pytest.mark.parametrize("endpoint, method", cases(PUBLIC))
def test_public_routes_answer_anonymous_requests(client, world, endpoint, method):
    response = send(client, endpoint, method, world.ids, {})
    assert response.status_code == EXPECTED[(endpoint, method)][1]


def assert_anonymous_refused(client, world, unchanged, endpoint, method):
    with unchanged():
        response = send(client, endpoint, method, world.ids, {})
    assert response.status_code == 401, response.get_json()
    assert (
        response.get_json()["@event"] == "COULD_NOT_FIND_AUTH_TOKEN"
        and "WWW-Authenticate" in response.headers
    )


@pytest.mark.parametrize("endpoint, method", cases(SIGNED_IN))
def test_signed_in_routes_refuse_anonymous_requests(client, world, unchanged, endpoint, method):
    assert_anonymous_refused(client, world, unchanged, endpoint, method)
    signed_in = send(client, endpoint, method, world.ids, world.outsider)
    assert signed_in.status_code not in (401, 403) and signed_in.status_code < 500, signed_in.get_json()
    if (endpoint, method) == ("health.get", "GET"):  # no worker runs in this test: reported, still 200
        assert signed_in.get_json()["result"]["workers"] == "Missing"


@pytest.mark.parametrize("endpoint, method", cases(OWNER))
def test_owner_routes_refuse_anonymous_and_other_accounts(client, world, unchanged, endpoint, method):
    assert_anonymous_refused(client, world, unchanged, endpoint, method)
    with unchanged():
        response = send(client, endpoint, method, world.ids, world.outsider)
    assert response.status_code == REFUSED_WITH[(endpoint, method)], response.get_json()
    assert response.mimetype == "application/problem+json"
    allowed = send(client, endpoint, method, world.ids, world.owner)
    assert allowed.status_code < 400, (allowed.status_code, allowed.get_json(silent=True))


@pytest.mark.parametrize("endpoint, method", cases(ADMIN))
def test_admin_routes_refuse_anonymous_and_other_accounts(client, world, unchanged, endpoint, method):
    assert_anonymous_refused(client, world, unchanged, endpoint, method)
    with unchanged():
        response = send(client, endpoint, method, world.ids, world.owner)
    assert response.status_code == 403, response.get_json()
    allowed = send(client, endpoint, method, world.ids, world.admin)
    assert allowed.status_code not in (401, 403, 404) and allowed.status_code < 500, allowed.get_json(
        silent=True
    )
