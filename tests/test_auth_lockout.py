"""The sign-in lockout comes before every shortcut: a locked account or address is 429 whatever the password.

The finding: after 5 failures a cached Basic credential still got 200 (the cache was consulted before the
throttle). Every scheme that takes a password is covered: Basic (cached or not), the password verifier of
``attach_account`` and a password change. Releases are awaited by polling with a generous bound.
"""

import base64
import time

import pytest

from app.extensions import db
from app.jobs import get_redis
from app.resources.accounts.models import Account

MAX_FAILURES, WINDOW = 5, 10  # the window only has to outlast ~60 quick requests; the release is polled
PROTECTED = "/jobs/"
PASSWORD = "right-password"

pytestmark = pytest.mark.parametrize(
    "config_overrides", [{"HALYARD_LOGIN_MAX_FAILURES": MAX_FAILURES, "HALYARD_LOGIN_WINDOW_SECONDS": WINDOW}]
)


def basic(login, password=PASSWORD):
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def get(client, login, password=PASSWORD, address="127.0.0.1"):
    return client.get(PROTECTED, headers=basic(login, password), environ_base={"REMOTE_ADDR": address})


def assert_locked(response):
    assert response.status_code == 429, (response.status_code, response.get_json(force=True))
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.get_json()["@event"] == "TOO_MANY_FAILED_SIGN_INS"
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW


def wait_until_released(attempt, bound=90):
    """Poll ``attempt()`` until it is no longer 429 (every answer until then must be 429); return it."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        response = attempt()
        if response.status_code != 429:
            return response
        assert_locked(response)
        time.sleep(0.25)
    pytest.fail(f"still locked after {bound} s (window {WINDOW} s)")


@pytest.fixture
def hash_checks(monkeypatch):
    """How many times a password hash was checked (a locked attempt must not reach one)."""
    calls = []
    original = Account.check_password
    monkeypatch.setattr(Account, "check_password", lambda self, pw: calls.append(1) or original(self, pw))
    return calls


def test_a_cached_basic_credential_is_locked_out_too(client, make_account, hash_checks):
    account = make_account(password=PASSWORD)
    assert get(client, account.email).status_code == 200  # now in the verified-credential cache
    for _ in range(MAX_FAILURES):
        assert get(client, account.email, "wrong").status_code == 401
    checks = len(hash_checks)
    answers = [get(client, account.email) for _ in range(50)]
    for response in answers:
        assert_locked(response)
    assert_locked(get(client, account.email, "wrong"))  # a wrong password is 429 too, and counts nothing
    assert len(hash_checks) == checks, "a locked attempt reached the password hash"
    assert wait_until_released(lambda: get(client, account.email)).status_code == 200


def test_a_locked_address_refuses_every_account_even_cached(client, make_account):
    cached, strangers = make_account(password=PASSWORD), [make_account() for _ in range(MAX_FAILURES)]
    assert get(client, cached.email, address="10.0.0.7").status_code == 200
    for stranger in strangers:
        assert get(client, stranger.email, "guess", address="10.0.0.7").status_code == 401
    for _ in range(20):
        assert_locked(get(client, cached.email, address="10.0.0.7"))
    assert (
        get(client, cached.email, address="10.0.0.8").status_code == 200
    )  # the account itself is not locked
    assert wait_until_released(lambda: get(client, cached.email, address="10.0.0.7")).status_code == 200


def test_the_account_lock_covers_every_login_spelling(client, make_account):
    account = make_account(password=PASSWORD)
    spellings = [account.username, account.email.upper(), account.email]
    for n in range(MAX_FAILURES):  # a fresh address each time: only the account counter can lock
        assert get(client, spellings[n % 3], "wrong", address=f"10.1.0.{n}").status_code == 401
    for n, login in enumerate(spellings):
        assert_locked(get(client, login, address=f"10.2.0.{n}"))


def test_an_unknown_login_locks_like_a_known_one(client):
    for n in range(MAX_FAILURES):
        assert get(client, "nobody@example.org", "guess", address=f"10.3.0.{n}").status_code == 401
    assert_locked(get(client, "nobody@example.org", "guess", address="10.3.1.1"))


def test_the_password_verifier_and_a_password_change_are_locked_too(client, make_account, token_for):
    account = make_account(password=PASSWORD)
    headers = token_for(account)
    for _ in range(MAX_FAILURES):
        assert get(client, account.email, "wrong").status_code == 401
    request_uuid = client.post("/accounts/auth_requests/", environ_base={"REMOTE_ADDR": "10.4.0.1"}).json[
        "request_uuid"
    ]
    attach = client.post(
        "/accounts/auth_requests/attach_account/",
        environ_base={"REMOTE_ADDR": "10.4.0.1"},
        json={"code": PASSWORD, "email": account.email, "request_uuid": request_uuid},
    )
    assert_locked(attach)
    change = client.post(
        f"/api/v1/user/{account.id}/password/",
        headers=headers,
        environ_base={"REMOTE_ADDR": "10.4.0.2"},
        json={"current_password": PASSWORD, "new_password": "another long password"},
    )
    assert_locked(change)
    db.session.expire_all()
    assert db.session.get(Account, account.id).check_password(PASSWORD)  # the change did not happen
    assert client.get(PROTECTED, headers=headers).status_code == 200  # tokens are not throttled


def test_failures_through_the_verifier_lock_basic(client, make_account):
    account = make_account(password=PASSWORD)
    assert get(client, account.email, address="10.5.0.1").status_code == 200  # cached
    request_uuid = client.post("/accounts/auth_requests/").json["request_uuid"]
    for n in range(MAX_FAILURES):
        attach = client.post(
            "/accounts/auth_requests/attach_account/",
            environ_base={"REMOTE_ADDR": f"10.5.1.{n}"},
            json={"code": "wrong", "email": account.email, "request_uuid": request_uuid},
        )
        assert attach.status_code == 401
    assert_locked(get(client, account.email, address="10.5.0.1"))


def test_a_counter_never_exists_without_its_window(app, client, make_account):
    account = make_account(password=PASSWORD)
    get(client, account.email, "wrong", address="10.6.0.1")
    redis, prefix = get_redis(), app.config["HALYARD_QUEUE_PREFIX"]
    keys = [key.decode() for key in redis.scan_iter(f"{prefix}:signin-fail:*")]
    assert sorted(keys) == sorted(
        [f"{prefix}:signin-fail:account:id-{account.id}", f"{prefix}:signin-fail:addr:10.6.0.1"]
    )
    assert all(0 < redis.ttl(key) <= WINDOW for key in keys)
