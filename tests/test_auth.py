"""Authentication schemes, their 401 codes, 403, throttling and the Basic verification cache."""

import base64
import time
from datetime import timedelta

import pytest

from app.extensions import db
from app.timeutil import utcnow

PROTECTED = "/jobs/"


def basic(login, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def event_of(response):
    return response.get_json(force=True)["@event"]


@pytest.mark.parametrize("login_field", ["email", "username"])
def test_basic_with_email_or_username(client, make_account, login_field):
    account = make_account(password="s3cret-pass")
    response = client.get(PROTECTED, headers=basic(getattr(account, login_field), "s3cret-pass"))
    assert response.status_code == 200


def test_basic_email_is_case_insensitive(client, make_account):
    account = make_account(email="Mixed.Case@Example.org", password="s3cret-pass")
    assert account.email == "mixed.case@example.org"
    assert client.get(PROTECTED, headers=basic("MIXED.case@example.ORG", "s3cret-pass")).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "Token"])
def test_token_schemes(client, make_account, token_for, scheme):
    headers = token_for(make_account(), scheme=scheme)
    assert client.get(PROTECTED, headers=headers).status_code == 200


def test_the_scheme_picks_the_auth_as_flask_httpauth_would(client, make_account, token_for):
    """PrebuiltMultiAuth looks the header's scheme up (case-sensitive, as is_compatible_auth compares it);
    anything else goes to the first auth (Basic): a 401, never a 5xx. Basic decodes any scheme's
    credentials leniently (flask-httpauth's ``b64decode`` skips what is not base64, and bytes that are
    not UTF-8 are read as latin-1), so a random token reads as a ``login:password`` pair whenever its
    decoded bytes hold a colon (a few % of tokens): then the event is a wrong password, else no token."""
    secret = token_for(make_account())["Authorization"].split()[1]
    for header in (f"bearer {secret}", f"Negotiate {secret}", "Bearer", "", "   "):
        r = client.get(PROTECTED, headers={"Authorization": header})
        assert r.status_code == 401 and r.mimetype == "application/problem+json", header
        events = {"COULD_NOT_FIND_AUTH_TOKEN"}
        if secret in header:
            events.add("WRONG_CREDENTIALS_DETECTED")
        assert r.get_json()["@event"] in events, header


def test_an_auth_on_another_header_is_asked_in_turn():
    from flask import Flask
    from flask_httpauth import HTTPTokenAuth

    from app.extensions import PrebuiltMultiAuth, basic_auth

    keyed = HTTPTokenAuth(header="X-Api-Key")
    keyed.verify_token(lambda token: token == "k1" and "keyed-user")
    app = Flask(__name__)
    app.get("/p")(PrebuiltMultiAuth(basic_auth, keyed).login_required(lambda: "ok"))
    with app.test_client() as c:
        assert c.get("/p", headers={"X-Api-Key": "k1"}).data == b"ok"
        assert c.get("/p", headers={"X-Api-Key": "nope"}).status_code == 401


def test_tokens_are_stored_only_as_hashes(make_account, token_for):
    account = make_account()
    headers = token_for(account)
    secret = headers["Authorization"].split()[1]
    stored = account.tokens[0].token_hash
    assert secret not in stored and len(stored) == 64


@pytest.mark.parametrize(
    "headers, event",
    [
        ({}, "COULD_NOT_FIND_AUTH_TOKEN"),
        ({"Authorization": "Bearer hy_doesnotexist"}, "COULD_NOT_FIND_AUTH_TOKEN"),
        ({"Authorization": "Token hy_doesnotexist"}, "COULD_NOT_FIND_AUTH_TOKEN"),
        ({"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"}, "COULD_NOT_FIND_AUTH_TOKEN"),  # seed 000
        (basic("nobody@example.org", "whatever"), "WRONG_CREDENTIALS_DETECTED"),
    ],
)
def test_missing_or_unknown_credentials_are_401(client, headers, event):
    response = client.get(PROTECTED, headers=headers)
    assert response.status_code == 401
    assert event_of(response) == event
    assert "WWW-Authenticate" in response.headers


def test_wrong_password_is_401(client, make_account):
    account = make_account(password="right-password")
    response = client.get(PROTECTED, headers=basic(account.email, "wrong-password"))
    assert response.status_code == 401 and event_of(response) == "WRONG_CREDENTIALS_DETECTED"


def test_revoked_token_is_401(client, make_account, token_for):
    account = make_account()
    headers = token_for(account)
    account.tokens[0].revoke()
    db.session.commit()
    response = client.get(PROTECTED, headers=headers)
    assert response.status_code == 401 and event_of(response) == "AUTH_TOKEN_REVOKED"


def test_expired_token_is_401(client, make_account, token_for):
    account = make_account()
    headers = token_for(account, ttl_seconds=60)
    assert client.get(PROTECTED, headers=headers).status_code == 200
    account.tokens[0].expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get(PROTECTED, headers=headers)
    assert response.status_code == 401 and event_of(response) == "AUTH_TOKEN_EXPIRED"


def test_deactivated_account_stops_at_once(client, make_account, token_for):
    account = make_account(password="s3cret-pass")
    headers = token_for(account)
    assert client.get(PROTECTED, headers=basic(account.email, "s3cret-pass")).status_code == 200
    account.deactivate()
    db.session.commit()
    for attempt in (headers, basic(account.email, "s3cret-pass")):
        response = client.get(PROTECTED, headers=attempt)
        assert response.status_code == 401 and event_of(response) == "ACCOUNT_DEACTIVATED"


def test_non_admin_is_403(client, user_headers, admin_headers):
    response = client.post("/api/health/probe", headers=user_headers)
    assert response.status_code == 403 and event_of(response) == "ACCESS_DENIED"
    assert client.post("/api/health/probe", headers=admin_headers).status_code == 202


def test_password_change_drops_cached_basic_sign_in(client, make_account):
    account = make_account(password="old-password")
    assert client.get(PROTECTED, headers=basic(account.email, "old-password")).status_code == 200
    account.set_password("new-password")
    db.session.commit()
    assert client.get(PROTECTED, headers=basic(account.email, "old-password")).status_code == 401
    assert client.get(PROTECTED, headers=basic(account.email, "new-password")).status_code == 200


def test_basic_cache_skips_the_password_hash(client, make_account, monkeypatch):
    from app.resources.accounts.models import Account

    account = make_account(password="s3cret-pass")
    calls = []
    original = Account.check_password
    monkeypatch.setattr(Account, "check_password", lambda self, pw: calls.append(1) or original(self, pw))
    for _ in range(5):
        assert client.get(PROTECTED, headers=basic(account.email, "s3cret-pass")).status_code == 200
    assert len(calls) == 1


# A window far longer than any test takes, so the failures always land inside it however loaded the
# machine is; the window's end is brought forward by shortening the counters' TTL in Redis (its clock).
@pytest.mark.parametrize(
    "config_overrides", [{"HALYARD_LOGIN_MAX_FAILURES": 3, "HALYARD_LOGIN_WINDOW_SECONDS": 600}]
)
class TestThrottling:
    def test_per_account_lock_and_release(self, app, client, make_account):
        from app.jobs import get_redis

        account = make_account(password="right-password")
        for _ in range(3):
            assert client.get(PROTECTED, headers=basic(account.email, "nope")).status_code == 401
        locked = client.get(PROTECTED, headers=basic(account.email, "right-password"))
        assert locked.status_code == 429 and event_of(locked) == "TOO_MANY_FAILED_SIGN_INS"
        assert 590 <= int(locked.headers["Retry-After"]) <= 600
        redis = get_redis()
        counters = list(redis.scan_iter(f"{app.config['HALYARD_QUEUE_PREFIX']}:signin-fail:*"))
        assert len(counters) == 2  # per account and per address
        for key in counters:
            assert 590 <= redis.ttl(key) <= 600
            redis.pexpire(key, 1)  # the window ends now
        deadline = time.monotonic() + 30
        while redis.exists(*counters):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert client.get(PROTECTED, headers=basic(account.email, "right-password")).status_code == 200

    def test_per_address_lock_across_accounts(self, client, make_account):
        victims = [make_account(password="right-password") for _ in range(3)]
        for victim in victims:
            client.get(PROTECTED, headers=basic(victim.email, "guess"))
        fresh = make_account(password="right-password")
        response = client.get(PROTECTED, headers=basic(fresh.email, "right-password"))
        assert response.status_code == 429
        other_address = client.get(
            PROTECTED, headers=basic(fresh.email, "right-password"), environ_base={"REMOTE_ADDR": "127.0.0.2"}
        )
        assert other_address.status_code == 200

    def test_success_resets_the_account_counter(self, client, make_account):
        account = make_account(password="right-password")
        for _ in range(2):
            client.get(
                PROTECTED, headers=basic(account.email, "nope"), environ_base={"REMOTE_ADDR": "10.9.9.9"}
            )
        assert client.get(PROTECTED, headers=basic(account.email, "right-password")).status_code == 200
        client.get(PROTECTED, headers=basic(account.email, "nope"), environ_base={"REMOTE_ADDR": "10.9.9.8"})
        assert (
            client.get(
                PROTECTED,
                headers=basic(account.email, "right-password"),
                environ_base={"REMOTE_ADDR": "10.9.9.7"},
            ).status_code
            == 200
        )


def test_verified_cache_expires_entries_and_evicts_the_least_recently_used():
    from app.auth import _VerifiedCache

    cache = _VerifiedCache(size=2)
    cache.put("a", 1, 0, ttl=60)
    cache.put("b", 2, 0, ttl=60)
    assert cache.get("a")[:2] == (1, 0)  # "a" is now the most recently used
    cache.put("c", 3, 0, ttl=60)
    assert cache.get("b") is None and cache.get("a")[:2] == (1, 0) and cache.get("c")[:2] == (3, 0)
    cache.put("short", 4, 0, ttl=0.5)
    assert cache.get("short")[:2] == (4, 0)  # alive for its half second
    cache.put("gone", 5, 0, ttl=-1)
    assert cache.get("gone") is None and "gone" not in cache.items


class TestThrottleCounters:
    """The sign-in counters in Redis, read directly: which key a failure or a success touches."""

    @pytest.fixture
    def guard(self, app):
        from app.auth import throttle

        with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
            yield throttle()

    def test_a_failure_does_not_extend_the_window(self, guard):
        account_key, address_key = guard.keys("someone@example.org")
        guard.record_failure("someone@example.org")
        assert int(guard.redis.get(account_key)) == 1 and 0 < guard.redis.ttl(account_key) <= guard.window
        guard.redis.expire(account_key, 100)  # the window has run on
        guard.redis.expire(address_key, 100)
        guard.record_failure("someone@example.org")
        assert int(guard.redis.get(account_key)) == 2
        assert guard.redis.ttl(account_key) <= 100 and guard.redis.ttl(address_key) <= 100

    def test_a_success_resets_the_account_counter_only(self, guard):
        account_key, address_key = guard.keys("Someone@Example.org")
        assert guard.keys("someone@example.org")[0] == account_key  # one counter per login, any case
        for _ in range(2):
            guard.record_failure("someone@example.org")
        guard.reset_account("someone@example.org")
        assert guard.redis.get(account_key) is None and int(guard.redis.get(address_key)) == 2
        assert guard.retry_after("someone@example.org") == 0
