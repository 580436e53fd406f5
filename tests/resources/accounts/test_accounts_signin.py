"""Device-style sign-in with the password verifier and the built-in page (seed 000)."""

import uuid
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.extensions import db
from app.resources.accounts.models import AuthRequest
from tests.resources.accounts.conftest import parse_forms

PASSWORD = "correct horse battery"


def start(client):
    response = client.post("/accounts/auth_requests/")
    assert response.status_code == 201, response.json
    return response


def poll(client, request_uuid):
    return client.post("/accounts/auth_tokens/", json={"request_uuid": request_uuid})


def attach(client, request_uuid, email, code=PASSWORD):
    return client.post(
        "/accounts/auth_requests/attach_account/",
        json={"code": code, "email": email, "request_uuid": request_uuid},
    )


def sign_in_with_page(client, ui_uri, email, password):
    """Fetch the page, parse its form and submit what it says."""
    page = client.get(ui_uri)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    forms = parse_forms(page.get_data(as_text=True)).forms
    assert len(forms) == 1
    form = forms[0]
    assert form["method"] == "post"
    data = {name: spec["value"] for name, spec in form["fields"].items()}
    email_field = next(n for n, s in form["fields"].items() if s["type"] == "email")
    secret_field = next(n for n, s in form["fields"].items() if s["type"] == "password")
    data[email_field], data[secret_field] = email, password
    return client.post(urlsplit(form["action"]).path, data=data)


def test_whole_flow_through_the_page(client, make_account):
    account = make_account()
    created = start(client)
    body = created.json
    assert body["@event"] == "AUTH_REQUEST_CREATED" and body["@type"] == "auth_request"
    request_uuid = body["request_uuid"]
    assert uuid.UUID(request_uuid).version == 4
    assert created.headers["Location"] == body["_links"]["self"]["href"]
    # seed 000: the property is the path; the link is absolute
    assert body["authenticate_ui_uri"] == f"/accounts/auth_requests/{request_uuid}/authenticate/ui/"
    assert body["_links"]["ec:auth-request/ui"]["href"] == "http://localhost" + body["authenticate_ui_uri"]
    assert body["_links"]["ec:auth-tokens"]["href"] == "http://localhost/accounts/auth_tokens/"
    assert body["status"] == "pending"

    waiting = poll(client, request_uuid)
    assert waiting.status_code == 400 and waiting.json["@event"] == "AUTH_REQUEST_NOT_YET_ATTACHED"

    done = sign_in_with_page(client, body["authenticate_ui_uri"], account.email, PASSWORD)
    assert done.status_code == 200 and done.mimetype == "text/html"
    assert "You are signed in" in done.get_data(as_text=True)
    assert client.get(created.headers["Location"]).json["status"] == "attached"

    issued = poll(client, request_uuid)
    assert issued.status_code == 201, issued.json
    assert issued.json["@event"] == "AUTH_TOKEN_CREATED" and issued.json["@type"] == "auth_token"
    assert issued.headers["Cache-Control"] == "no-store"
    assert issued.json["_embedded"]["ec:account"] == {
        "@type": "account",
        "id": account.id,
        "email": account.email,
        "type": "RESEARCHER",
        "_links": {"self": {"href": f"http://localhost/api/v1/user/{account.id}/"}},
    }
    token = issued.json["token"]
    for scheme in ("Bearer", "Token"):
        me = client.get("/accounts/me/", headers={"Authorization": f"{scheme} {token}"})
        assert me.status_code == 200 and me.json["id"] == account.id

    again = poll(client, request_uuid)
    assert again.status_code == 404 and again.json["@event"] == "COULD_NOT_FIND_AUTHREQUEST"
    assert db.session.scalar(select(func.count()).select_from(AuthRequest)) == 0
    # The token is an ApiToken of the account, visible (without secret) in its token list.
    listed = client.get(
        f"/api/v1/user/{account.id}/tokens/", headers={"Authorization": f"Bearer {token}"}
    ).json
    assert [t["name"] for t in listed["_embedded"]["ec:api-token"]] == ["sign-in"]
    assert token not in str(listed)


def test_attach_json_and_seed_validation_messages(client, make_account):
    account = make_account()
    request_uuid = start(client).json["request_uuid"]
    bad = client.post(
        "/accounts/auth_requests/attach_account/", json={"email": account.email, "request_uuid": "some-uuid"}
    )
    assert bad.status_code == 400
    assert bad.json["@event"] == "BODY_DID_NOT_VALIDATE" and bad.json["user_id"] == "anonymous"
    assert bad.json["errors"] == {
        "code": ["This field is required."],
        "request_uuid": ['"some-uuid" is not a valid UUID.'],
    }
    unknown = attach(client, str(uuid.uuid4()), account.email)
    assert unknown.status_code == 404 and unknown.json["@event"] == "COULD_NOT_FIND_AUTHREQUEST"
    ok = attach(client, request_uuid, account.email)
    assert ok.status_code == 200
    assert ok.json["@event"] == "ACCOUNT_TO_AUTH_REQUEST_ATTACHED" and ok.json["@type"] == "empty"
    twice = attach(client, request_uuid, account.email)
    assert twice.status_code == 409 and twice.json["@event"] == "AUTH_REQUEST_ALREADY_ATTACHED"


def test_attach_needs_json_or_the_form(client):
    plain = client.post("/accounts/auth_requests/attach_account/", data="code=x", content_type="text/plain")
    assert plain.status_code == 415
    broken = client.post("/accounts/auth_requests/attach_account/", data="{", content_type="application/json")
    assert broken.status_code == 400 and broken.json["@event"] == "BODY_JSON_DID_NOT_PARSE"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"request_uuid": "nope"}, "request_uuid"),
        ({}, "request_uuid"),
        ({"request_uuid": str(uuid.uuid4()), "extra": 1}, "extra"),
    ],
)
def test_auth_token_body_validation(client, body, field):
    response = client.post("/accounts/auth_tokens/", json=body)
    assert response.status_code == 400 and field in response.json["errors"]


def test_wrong_password_writes_nothing_and_is_throttled(client, make_account, app):
    account = make_account()
    request_uuid = start(client).json["request_uuid"]
    nobody = attach(client, request_uuid, "nobody@example.org", code="x")
    assert nobody.status_code == 401  # unknown email: same answer as a wrong password
    assert nobody.json["@event"] == "WRONG_CREDENTIALS_DETECTED"
    for _ in range(app.config["HALYARD_LOGIN_MAX_FAILURES"] - 1):
        wrong = attach(client, request_uuid, account.email, code="not the password")
        assert wrong.status_code == 401 and wrong.json["@event"] == "WRONG_CREDENTIALS_DETECTED"
        assert "WWW-Authenticate" in wrong.headers
    row = db.session.scalar(select(AuthRequest).where(AuthRequest.uuid == request_uuid))
    assert row.account_id is None
    locked = attach(client, request_uuid, account.email)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert poll(client, request_uuid).json["@event"] == "AUTH_REQUEST_NOT_YET_ATTACHED"


def test_page_form_errors_are_html(client, make_account):
    account = make_account()
    ui = start(client).json["authenticate_ui_uri"]
    wrong = sign_in_with_page(client, ui, account.email, "wrong password")
    assert wrong.status_code == 401 and wrong.mimetype == "text/html"
    text = wrong.get_data(as_text=True)
    assert "The email or password is wrong." in text
    assert parse_forms(text).forms[0]["fields"]["email"]["value"] == account.email  # re-rendered, email kept
    assert "wrong password" not in text  # the password is never echoed
    broken = client.post("/accounts/auth_requests/attach_account/", data={"request_uuid": "x", "email": "y"})
    assert broken.status_code == 400 and broken.mimetype == "text/html"
    assert "This field is required." in broken.get_data(as_text=True)


def test_page_is_self_contained(client):
    ui = start(client).json["authenticate_ui_uri"]
    page = client.get(ui)
    parser = parse_forms(page.get_data(as_text=True))
    assert not [t for t, a in parser.tags if t in ("script", "link", "img", "iframe")]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path, says",
    [
        ("/accounts/auth_requests/some-uuid/authenticate/ui/", "Not a sign-in link"),  # seed 000's example
        ("/accounts/auth_requests/0b5e4f6e-0000-4000-8000-00000000abcd/authenticate/ui/", "not found"),
    ],
)
def test_page_for_bad_or_unknown_uuid(client, path, says):
    page = client.get(path)  # seed 000: 200 for any uuid; the page says why nobody can sign in with it
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "<h1>" in text and says in text and "<form" not in text


def test_expiry_by_configuration(client, make_account, app):
    account = make_account()
    request_uuid = start(client).json["request_uuid"]
    attached_uuid = start(client).json["request_uuid"]
    assert attach(client, attached_uuid, account.email).status_code == 200
    app.config["HALYARD_AUTH_REQUEST_TTL_SECONDS"] = 0  # every existing request is now past its lifetime
    expired = poll(client, attached_uuid)
    assert expired.status_code == 400 and expired.json["@event"] == "EXPIRED_AUTH_REQUEST_DETECTED"
    late = attach(client, request_uuid, account.email)
    assert late.status_code == 400 and late.json["@event"] == "EXPIRED_AUTH_REQUEST_DETECTED"
    page = client.get(f"/accounts/auth_requests/{request_uuid}/authenticate/ui/")
    assert page.status_code == 200 and "expired" in page.get_data(as_text=True)
    assert client.get(f"/accounts/auth_requests/{request_uuid}/").json["status"] == "expired"


def test_sweep_on_create_and_by_cli(client, app):
    first = start(client).json["request_uuid"]
    app.config["HALYARD_AUTH_REQUEST_TTL_SECONDS"] = 0
    start(client)  # creating a request sweeps the expired ones
    assert poll(client, first).status_code == 404
    app.config["HALYARD_AUTH_REQUEST_TTL_SECONDS"] = 600
    db.session.add(AuthRequest(uuid=str(uuid.uuid4())))
    db.session.commit()
    app.config["HALYARD_AUTH_REQUEST_TTL_SECONDS"] = 0
    result = CliRunner().invoke(app.cli, ["accounts", "sweep-auth-requests"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 expired auth request(s)." in result.output
    assert db.session.scalar(select(func.count()).select_from(AuthRequest)) == 0


def test_deactivated_account_cannot_sign_in(client, make_account):
    account = make_account(active=False)
    request_uuid = start(client).json["request_uuid"]
    response = attach(client, request_uuid, account.email)
    assert response.status_code == 401 and response.json["@event"] == "ACCOUNT_DEACTIVATED"


def test_deactivated_after_attach_gets_no_token(client, make_account):
    account = make_account()
    request_uuid = start(client).json["request_uuid"]
    assert attach(client, request_uuid, account.email).status_code == 200
    account.deactivate()
    db.session.commit()
    response = poll(client, request_uuid)
    assert response.status_code == 401 and response.json["@event"] == "ACCOUNT_DEACTIVATED"
    assert poll(client, request_uuid).status_code == 404  # consumed all the same


def test_entry_point_links(client):
    links = client.get("/").json["_links"]
    for rel, href in [
        ("ec:auth-requests", "http://localhost/accounts/auth_requests/"),
        ("ec:auth-tokens", "http://localhost/accounts/auth_tokens/"),
        ("ec:users", "http://localhost/api/v1/user/"),
        ("ec:groups", "http://localhost/api/v1/group/"),
        ("ec:me", "http://localhost/accounts/me/"),
        ("ec:user/token", "http://localhost/api/v1/user/token/"),
        ("ec:user/by-id", "http://localhost/api/v1/user/{id}/"),
        ("ec:group/by-id", "http://localhost/api/v1/group/{id}/"),
    ]:
        assert links[rel]["href"] == href
    assert links["ec:user/by-id"]["templated"] is True
    assert client.get("/rels/auth-requests").json["methods"] == ["POST"]


def test_single_use_under_concurrent_polls(client, make_account, app):
    """Eight clients poll the same attached request at once: exactly one gets a token."""
    from concurrent.futures import ThreadPoolExecutor

    account = make_account()
    request_uuid = start(client).json["request_uuid"]
    assert attach(client, request_uuid, account.email).status_code == 200
    db.session.remove()  # let the request threads use the database freely

    def one_poll(_):
        with app.app_context():
            return poll(app.test_client(), request_uuid).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(one_poll, range(8)))
    assert statuses.count(201) == 1 and set(statuses) <= {201, 404, 500} and 500 not in statuses
    assert db.session.scalar(select(func.count()).select_from(AuthRequest)) == 0


def test_creation_is_rate_limited_per_address(client, app):
    app.config["HALYARD_AUTH_REQUESTS_PER_MINUTE"] = 3
    for _ in range(3):
        start(client)
    limited = client.post("/accounts/auth_requests/")
    assert limited.status_code == 429 and limited.json["@event"] == "TOO_MANY_AUTH_REQUESTS"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert db.session.scalar(select(func.count()).select_from(AuthRequest)) == 3
    other = client.post("/accounts/auth_requests/", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 201
