"""Sign-in with the OIDC verifier: ID tokens signed in the test, JWKS served from 127.0.0.1."""

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from app.extensions import db
from app.resources.accounts.models import Account, AuthRequest

ISSUER = "https://issuer.example.org"
AUDIENCE = "halyard-test-client"
KID = "test-key-1"


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key(jwks_server):
    key = new_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks_server.jwks = {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}
    return key


@pytest.fixture
def config_overrides(jwks_server, signing_key):
    return {
        "HALYARD_SIGNIN_VERIFIER": "oidc",
        "HALYARD_OIDC_ISSUER": ISSUER,
        "HALYARD_OIDC_AUDIENCE": AUDIENCE,
        "HALYARD_OIDC_JWKS_URL": jwks_server.url,
        "HALYARD_SELF_SIGNUP": True,
    }


def id_token(key, email, **overrides):
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "subject-1",
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def new_request(client):
    return client.post("/accounts/auth_requests/").json["request_uuid"]


def attach(client, request_uuid, email, code):
    return client.post(
        "/accounts/auth_requests/attach_account/",
        json={"code": code, "email": email, "request_uuid": request_uuid},
    )


def count_accounts():
    return db.session.scalar(select(func.count()).select_from(Account))


def test_good_token_signs_in_existing_account(client, make_account, signing_key):
    account = make_account()
    request_uuid = new_request(client)
    response = attach(client, request_uuid, account.email, id_token(signing_key, account.email.upper()))
    assert response.status_code == 200, response.json
    assert response.json["@event"] == "ACCOUNT_TO_AUTH_REQUEST_ATTACHED"
    issued = client.post("/accounts/auth_tokens/", json={"request_uuid": request_uuid})
    assert issued.status_code == 201
    me = client.get("/accounts/me/", headers={"Authorization": f"Token {issued.json['token']}"})
    assert me.json["id"] == account.id


def test_self_sign_up_creates_a_researcher(client, signing_key):
    request_uuid = new_request(client)
    response = attach(
        client, request_uuid, "New.Person@example.org", id_token(signing_key, "new.person@example.org")
    )
    assert response.status_code == 200, response.json
    account = db.session.scalar(select(Account).where(Account.email == "new.person@example.org"))
    assert account.type == "RESEARCHER" and account.active and account.password_hash is None
    token = client.post("/accounts/auth_tokens/", json={"request_uuid": request_uuid}).json["token"]
    assert (
        client.get("/accounts/me/", headers={"Authorization": f"Bearer {token}"}).json["type"] == "RESEARCHER"
    )


def test_self_sign_up_disabled(client, app, signing_key):
    app.config["HALYARD_SELF_SIGNUP"] = False
    before = count_accounts()
    response = attach(
        client, new_request(client), "stranger@example.org", id_token(signing_key, "stranger@example.org")
    )
    assert response.status_code == 403 and response.json["@event"] == "SELF_SIGNUP_DISABLED"
    assert count_accounts() == before


def tampered(token):
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["email"] = "someone.else@example.org"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{forged}.{signature}"


BAD_TOKENS = {
    "expired": (
        lambda key, email: id_token(key, email, iat=int(time.time()) - 3600, exp=int(time.time()) - 600),
        401,
        "The ID token has expired.",
    ),
    "wrong audience": (
        lambda key, email: id_token(key, email, aud="someone-else"),
        401,
        "The ID token was issued for another audience.",
    ),
    "wrong issuer": (
        lambda key, email: id_token(key, email, iss="https://evil.example.org"),
        401,
        "The ID token was issued by another issuer.",
    ),
    "tampered": (
        lambda key, email: tampered(id_token(key, "someone.else@example.org")),
        401,
        "The ID token's signature does not verify.",
    ),
    "other key": (
        lambda key, email: id_token(new_key(), email),
        401,
        "The ID token's signature does not verify.",
    ),
    "not a jwt": (lambda key, email: "definitely-not-a-jwt", 401, "The ID token is invalid."),
    "no email": (lambda key, email: id_token(key, None), 401, "The ID token has no email claim."),
    "unverified email": (
        lambda key, email: id_token(key, email, email_verified=False),
        401,
        "The identity provider has not verified this email.",
    ),
    "email mismatch": (lambda key, email: id_token(key, "someone.else@example.org"), 400, None),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_tokens_are_refused_and_write_nothing(client, signing_key, case):
    make_code, status, detail = BAD_TOKENS[case]
    request_uuid = new_request(client)
    before = count_accounts()
    response = attach(
        client, request_uuid, "claimant@example.org", make_code(signing_key, "claimant@example.org")
    )
    assert response.status_code == status, response.json
    if status == 401:
        assert response.json["@event"] == "AUTH_CODE_DID_NOT_VERIFY"
        assert response.json["detail"] == detail
        assert "WWW-Authenticate" in response.headers
    else:
        assert response.json["@event"] == "EMAIL_MISMATCH_DETECTED"
        assert list(response.json["errors"]) == ["email"]
    assert count_accounts() == before  # no self sign-up happened
    row = db.session.scalar(select(AuthRequest).where(AuthRequest.uuid == request_uuid))
    assert row.account_id is None
    waiting = client.post("/accounts/auth_tokens/", json={"request_uuid": request_uuid})
    assert waiting.json["@event"] == "AUTH_REQUEST_NOT_YET_ATTACHED"


def test_unreachable_jwks_is_503(client, app, signing_key, jwks_server):
    app.config["HALYARD_OIDC_JWKS_URL"] = jwks_server.url.replace("/jwks.json", "/missing.json")
    response = attach(client, new_request(client), "x@example.org", id_token(signing_key, "x@example.org"))
    assert response.status_code == 503 and response.json["@event"] == "IDENTITY_PROVIDER_UNAVAILABLE"


def test_page_asks_for_an_id_token(client):
    page = client.get(f"/accounts/auth_requests/{new_request(client)}/authenticate/ui/")
    assert page.status_code == 200 and '<textarea id="code" name="code"' in page.get_data(as_text=True)


def test_oidc_needs_its_settings(database_url, redis_url, run_dir):
    from app import create_app

    with pytest.raises(ValueError, match="HALYARD_OIDC_ISSUER"):
        create_app(
            {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "HALYARD_SIGNIN_VERIFIER": "oidc"},
            instance_path=str(run_dir / "instance"),
        )
    with pytest.raises(ValueError, match="HALYARD_SIGNIN_VERIFIER"):
        create_app(
            {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "HALYARD_SIGNIN_VERIFIER": "magic"},
            instance_path=str(run_dir / "instance"),
        )


def test_request_uuid_is_random(client):
    uuids = {new_request(client) for _ in range(5)}
    assert len(uuids) == 5 and all(uuid.UUID(u).version == 4 for u in uuids)
