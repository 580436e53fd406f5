"""Sign-in with a real OpenID Connect provider: the authorization-code flow with PKCE, end to end.

The provider is tests/oidc_provider (Authlib's authorization server, its own RSA key, discovery, JWKS,
an authorize endpoint that approves the configured user at once, a token endpoint that checks PKCE) in
a process of its own on 127.0.0.1. Halyard is the test's app on a real HTTP server thread, and the
person's browser is ``requests`` following redirects: auth request → sign-in page → provider →
Halyard's callback → the client's poll of /accounts/auth_tokens/. Every refusal is checked against a
snapshot: no account made, none attached, no token issued.
"""

import base64
import hashlib
import logging
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import jwt
import pytest
import requests
from sqlalchemy import func, select

from app.extensions import db
from app.resources.accounts.models import Account, ApiToken, AuthRequest, OidcLogin
from tests.browsable.browsable_live import serve
from tests.oidc_provider import ProviderProcess
from tests.resources.accounts.conftest import parse_forms

CLIENT_ID = "halyard-test"
CLIENT_SECRET = "s3cret-of-the-halyard-test-client"
PERSON = {"sub": "person-1", "email": "person@example.org", "email_verified": True}
STRANGER = {"sub": "stranger-1", "email": "stranger@example.org", "email_verified": True}
CALLBACK = "/accounts/auth_requests/oidc/callback/"
HAL = {"Accept": "application/hal+json"}


@pytest.fixture(scope="module")
def provider():
    process = ProviderProcess(CLIENT_ID, CLIENT_SECRET)
    yield process
    process.stop()


@pytest.fixture
def config_overrides(provider):
    return {
        "HALYARD_SIGNIN_VERIFIER": "oidc",
        "HALYARD_OIDC_ISSUER": provider.issuer,
        "HALYARD_OIDC_CLIENT_ID": CLIENT_ID,
        "HALYARD_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "HALYARD_OIDC_PROVIDER_NAME": "Test Provider",
        "HALYARD_SELF_SIGNUP": True,
    }


@pytest.fixture
def base(app, provider):
    """Halyard on a real HTTP server; the provider knows its callback and approves PERSON."""
    with serve(app) as url:
        provider.configure(redirect_uris=[url + CALLBACK], user=PERSON, misbehave=None, clear_log=True)
        yield url


@pytest.fixture
def person(make_account):
    return make_account(email=PERSON["email"])


def new_auth_request(base):
    response = requests.post(base + "/accounts/auth_requests/", headers=HAL, timeout=10)
    assert response.status_code == 201
    return response.json()


def code_for(base, request_uuid):
    """Start a sign-in for the auth request and let the provider approve it, without going back to
    Halyard: (code, state, the callback URL the provider sends the browser to)."""
    start = requests.get(
        f"{base}/accounts/auth_requests/{request_uuid}/authenticate/oidc/", allow_redirects=False, timeout=10
    )
    assert start.status_code == 302, start.text
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert approved.status_code == 302, approved.text
    back = approved.headers["Location"]
    query = parse_qs(urlsplit(back).query)
    return query["code"][0], query["state"][0], back


def attach(base, request_uuid, code, email=PERSON["email"]):
    """Seed 000's request, verbatim in form: POST attach_account with a JSON body."""
    return requests.post(
        base + "/accounts/auth_requests/attach_account/",
        timeout=10,
        json={"code": code, "email": email, "request_uuid": request_uuid},
    )


def poll(base, request_uuid):
    return requests.post(base + "/accounts/auth_tokens/", json={"request_uuid": request_uuid}, timeout=10)


def snapshot():
    """What a refused sign-in must not change: accounts, tokens, and which auth requests are attached."""
    db.session.rollback()
    return {
        "accounts": db.session.execute(select(Account.id, Account.email).order_by(Account.id)).all(),
        "tokens": db.session.scalar(select(func.count()).select_from(ApiToken)),
        "attached": db.session.execute(
            select(AuthRequest.uuid, AuthRequest.account_id).order_by(AuthRequest.id)
        ).all(),
    }


def logins():
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OidcLogin))


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_full_flow_through_the_sign_in_page(base, provider, person):
    created = new_auth_request(base)
    assert created["_links"]["ec:auth-request/oidc"]["href"].endswith(
        f"/accounts/auth_requests/{created['request_uuid']}/authenticate/oidc/"
    )
    browser = requests.Session()
    page = browser.get(created["_links"]["ec:auth-request/ui"]["href"], timeout=10)
    assert page.status_code == 200 and "Sign in with Test Provider" in page.text
    parsed = parse_forms(page.text)
    assert parsed.forms == []  # no password or ID token to type: the provider proves who you are
    start = next(a["href"] for tag, a in parsed.tags if tag == "a" and a.get("id") == "oidc-start")

    signed_in = browser.get(start, timeout=10)  # → provider → Halyard's callback, following redirects
    assert signed_in.status_code == 200 and "You are signed in" in signed_in.text, signed_in.text
    assert [urlsplit(r.url).path for r in signed_in.history] == [urlsplit(start).path, "/authorize"]
    assert urlsplit(signed_in.url).path == CALLBACK

    sent = provider.log()
    (authorize,) = sent["authorize"]
    assert authorize["client_id"] == CLIENT_ID and authorize["response_type"] == "code"
    assert authorize["redirect_uri"] == base + CALLBACK and authorize["prompt"] == "consent"
    assert {"openid", "email"} <= set(authorize["scope"].split())
    assert authorize["nonce"] and authorize["state"]
    (exchange,) = sent["token"]
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["code_challenge"] == s256(exchange["code_verifier"])  # the verifier only Halyard kept
    assert logins() == 0  # the state, nonce and verifier are gone with their use

    issued = poll(base, created["request_uuid"])
    assert issued.status_code == 201, issued.text
    bearer = {**HAL, "Authorization": f"Bearer {issued.json()['token']}"}
    me = requests.get(base + "/accounts/me/", headers=bearer, timeout=10)
    assert me.status_code == 200 and me.json()["id"] == person.id


def test_attach_account_with_a_code_as_the_seed_shows(base, person):
    created = new_auth_request(base)
    code, _, _ = code_for(base, created["request_uuid"])
    response = attach(base, created["request_uuid"], code)
    assert response.status_code == 200, response.text
    assert response.json()["@event"] == "ACCOUNT_TO_AUTH_REQUEST_ATTACHED"
    assert response.json()["@type"] == "empty"
    token = poll(base, created["request_uuid"]).json()["token"]
    me = requests.get(base + "/accounts/me/", headers={**HAL, "Authorization": f"Token {token}"}, timeout=10)
    assert me.json()["email"] == PERSON["email"]


def test_self_sign_up_makes_a_researcher_through_the_callback(base, provider):
    provider.configure(user=STRANGER)
    created = new_auth_request(base)
    start = created["_links"]["ec:auth-request/oidc"]["href"]
    assert requests.get(start, timeout=10).status_code == 200
    db.session.rollback()
    account = db.session.scalar(select(Account).where(Account.email == STRANGER["email"]))
    assert account.type == "RESEARCHER" and account.password_hash is None
    assert poll(base, created["request_uuid"]).status_code == 201


# --- refusals: each leaves no account made or attached and no token issued ---------------------------

MISBEHAVIOURS = {
    "nonce": "The ID token's nonce is not the one this sign-in sent.",
    "expired": "The ID token has expired.",
    "audience": "The ID token was issued for another audience.",
    "issuer": "The ID token was issued by another issuer.",
    "foreign_key": "The ID token's signature does not verify.",
}


@pytest.mark.parametrize("route", ["callback", "attach_account"])
@pytest.mark.parametrize("misbehaviour", list(MISBEHAVIOURS))
def test_a_bad_id_token_is_refused(base, provider, misbehaviour, route):
    provider.configure(user=STRANGER, misbehave=misbehaviour)  # self sign-up is on: a pass makes an account
    created = new_auth_request(base)
    before = snapshot()
    code, _, callback = code_for(base, created["request_uuid"])
    if route == "callback":
        response = requests.get(callback, timeout=10)
        assert response.status_code == 401 and response.headers["Content-Type"].startswith("text/html")
        assert MISBEHAVIOURS[misbehaviour].replace("'", "&#39;") in response.text
    else:
        response = attach(base, created["request_uuid"], code, email=STRANGER["email"])
        assert response.status_code == 401, response.text
        assert response.json()["@event"] == "AUTH_CODE_DID_NOT_VERIFY"
        assert response.json()["detail"] == MISBEHAVIOURS[misbehaviour]
    assert snapshot() == before and logins() == 0
    assert poll(base, created["request_uuid"]).json()["@event"] == "AUTH_REQUEST_NOT_YET_ATTACHED"


def test_a_replayed_state_is_refused(base, person):
    first = new_auth_request(base)
    _, _, callback = code_for(base, first["request_uuid"])
    assert requests.get(callback, timeout=10).status_code == 200
    before = snapshot()
    again = requests.get(callback, timeout=10)
    assert again.status_code == 400 and "already used" in again.text
    assert snapshot() == before


def test_a_replayed_code_is_refused(base, person, provider):
    first = new_auth_request(base)
    code, _, _ = code_for(base, first["request_uuid"])
    assert attach(base, first["request_uuid"], code).status_code == 200
    second = new_auth_request(base)
    code_for(base, second["request_uuid"])  # a login of its own is pending: the old code meets its verifier
    before = snapshot()
    replay = attach(base, second["request_uuid"], code)
    assert replay.status_code == 401 and replay.json()["detail"] == (
        "The identity provider refused the code (invalid_grant)."
    )
    assert snapshot() == before and logins() == 0
    assert attach(base, second["request_uuid"], code).json()["@event"] == "OIDC_LOGIN_NOT_FOUND"  # used up


def test_a_code_without_pkce_is_refused(base, provider, person):
    created = new_auth_request(base)
    code_for(base, created["request_uuid"])
    unbound = provider.code_without_pkce(base + CALLBACK)  # as from an authorization that sent no challenge
    before = snapshot()
    response = attach(base, created["request_uuid"], unbound)
    assert response.status_code == 401 and response.json()["detail"] == (
        "The identity provider refused the code (invalid_request)."
    )
    assert snapshot() == before


def test_a_code_without_a_started_sign_in_is_refused_without_asking_the_provider(base, provider, person):
    created = new_auth_request(base)
    before = snapshot()
    response = attach(base, created["request_uuid"], provider.code_without_pkce(base + CALLBACK))
    assert response.status_code == 401 and response.json()["@event"] == "OIDC_LOGIN_NOT_FOUND"
    assert provider.log()["token"] == [] and snapshot() == before


def test_an_authorization_request_without_pkce_comes_back_refused(base, provider, person):
    created = new_auth_request(base)
    start = requests.get(
        f"{base}/accounts/auth_requests/{created['request_uuid']}/authenticate/oidc/",
        allow_redirects=False,
        timeout=10,
    ).headers["Location"]
    parts = urlsplit(start)
    query = {k: v for k, v in parse_qs(parts.query).items() if not k.startswith("code_challenge")}
    before = snapshot()
    response = requests.get(urlunsplit(parts._replace(query=urlencode(query, doseq=True))), timeout=10)
    assert urlsplit(response.url).path == CALLBACK and response.status_code == 400
    assert "did not sign you in (invalid_request)" in response.text
    assert snapshot() == before and logins() == 0


def test_an_unverified_email_or_an_unknown_one_without_self_sign_up_is_refused(base, provider, app):
    provider.configure(user={**STRANGER, "email_verified": False})
    created = new_auth_request(base)
    before = snapshot()
    _, _, callback = code_for(base, created["request_uuid"])
    refused = requests.get(callback, timeout=10)
    assert refused.status_code == 401 and "has not verified this email" in refused.text
    app.config["HALYARD_SELF_SIGNUP"] = False
    provider.configure(user=STRANGER)
    code, _, _ = code_for(base, created["request_uuid"])
    forbidden = attach(base, created["request_uuid"], code, email=STRANGER["email"])
    assert forbidden.status_code == 403 and forbidden.json()["@event"] == "SELF_SIGNUP_DISABLED"
    assert snapshot() == before


def test_a_deactivated_account_is_refused(base, person):
    person.deactivate()
    db.session.commit()
    created = new_auth_request(base)
    before = snapshot()
    _, _, callback = code_for(base, created["request_uuid"])
    refused = requests.get(callback, timeout=10)
    assert refused.status_code == 401 and "The account is deactivated." in refused.text
    assert snapshot() == before


def test_an_unreachable_provider_is_503_and_starts_nothing(base, app):
    app.config["HALYARD_OIDC_ISSUER"] = "http://127.0.0.1:9"  # discard port: nothing listens
    created = new_auth_request(base)
    response = requests.get(
        f"{base}/accounts/auth_requests/{created['request_uuid']}/authenticate/oidc/",
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 503 and "discovery document could not be read" in response.text
    assert logins() == 0


def test_id_tokens_can_be_turned_off(base, app, person):
    app.config["HALYARD_OIDC_ACCEPT_ID_TOKENS"] = False
    created = new_auth_request(base)
    before = snapshot()
    response = attach(base, created["request_uuid"], jwt.encode({"email": PERSON["email"]}, "k" * 32))
    assert response.status_code == 401 and "ID tokens are not accepted" in response.json()["detail"]
    assert snapshot() == before


def test_the_callback_without_state_is_a_problem(base):
    response = requests.get(base + CALLBACK, headers=HAL, timeout=10)
    assert response.status_code == 400 and response.json()["errors"].keys() == {"state"}


def test_no_secret_is_logged(base, provider, person, caplog):
    caplog.set_level(logging.DEBUG)
    created = new_auth_request(base)
    start = f"{base}/accounts/auth_requests/{created['request_uuid']}/authenticate/oidc/"
    assert requests.get(start, timeout=10).status_code == 200
    token = poll(base, created["request_uuid"]).json()["token"]
    verifier = provider.log()["token"][0]["code_verifier"]
    assert caplog.records  # the flow did log (requests, urllib3, werkzeug)
    for secret in (CLIENT_SECRET, verifier, token):
        assert secret not in caplog.text


def test_settings_the_code_flow_cannot_work_with_are_refused_at_start(database_url, redis_url, run_dir):
    from app import create_app

    good = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HALYARD_SIGNIN_VERIFIER": "oidc",
        "HALYARD_OIDC_ISSUER": "https://id.example.org",
        "HALYARD_OIDC_CLIENT_ID": CLIENT_ID,
    }
    for bad, message in (
        ({"HALYARD_OIDC_ISSUER": "http://id.example.org"}, "https"),
        ({"HALYARD_OIDC_SCOPES": "openid profile"}, "openid and email"),
        (
            {
                "HALYARD_OIDC_CLIENT_ID": "",
                "HALYARD_OIDC_AUDIENCE": "x",
                "HALYARD_OIDC_ACCEPT_ID_TOKENS": False,
            },
            "HALYARD_OIDC_CLIENT_ID",
        ),
    ):
        with pytest.raises(ValueError, match=message):
            create_app({**good, **bad}, instance_path=str(run_dir / "instance"))
