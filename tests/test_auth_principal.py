"""The credential check's lightweight Principal and the on-demand ORM Account (app/auth.py).

Tokens are checked with one Core query on every request (there is no token cache), Basic
sign-ins through the verified-credential cache plus one query on the account's row; both read
the account's standing each time, so revocation, expiry, deactivation and password changes
apply to the very next request.
"""

import base64

import pytest
from sqlalchemy import event, inspect, select

from app.extensions import db
from app.resources.accounts.models import Account

PROTECTED = "/jobs/"


def basic(login, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


@pytest.fixture
def statements(app):
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("scheme", ["Bearer", "Basic"])
def test_current_account_is_built_without_another_query_and_is_writable(
    app, make_account, token_for, statements, scheme
):
    from app.auth import current_account, current_principal, verify_password, verify_token

    account = make_account(password="s3cret-pass", username="carol")
    secret = token_for(account)["Authorization"].split()[1]
    expected = (account.id, account.email, "carol", True, account.credentials_version)

    def check():
        return verify_token(secret) if scheme == "Bearer" else verify_password("carol", "s3cret-pass")

    with app.app_context(), app.test_request_context("/"):  # a fresh app context: its own session
        check()  # the first Basic sign-in verifies the hash and fills the cache
    with app.app_context(), app.test_request_context("/"):
        statements.clear()
        principal = check()
        assert principal is current_principal() and (principal.id, principal.type) == (
            account.id,
            "RESEARCHER",
        )
        assert len(statements) == 1, statements  # the cached Basic sign-in too: no password hash, one query
        me = current_account()
        assert len(statements) == 1 and current_account() is me
        assert inspect(me).persistent and me in db.session and not db.session.dirty
        assert (me.id, me.email, me.username, me.active, me.credentials_version) == expected
        me.username = "caroline"  # a view may change the caller's own row through it
        db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(Account.username).where(Account.id == account.id)) == "caroline"


def test_problem_bodies_name_the_authenticated_caller(client, make_account, token_for):
    account = make_account()
    response = client.get("/datamanager/00000000-0000-4000-8000-000000000000", headers=token_for(account))
    assert response.status_code == 404 and response.get_json()["user_id"] == account.id


def test_token_revocation_expiry_and_deactivation_apply_to_the_next_request(client, make_account, token_for):
    from datetime import timedelta

    from app.timeutil import utcnow

    account = make_account()
    headers = token_for(account)
    for _ in range(3):  # repeated successes leave nothing behind that outlives a change
        assert client.get(PROTECTED, headers=headers).status_code == 200
    token = account.tokens[0]
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get(PROTECTED, headers=headers).get_json()["@event"] == "AUTH_TOKEN_EXPIRED"
    token.expires_at = None
    db.session.commit()
    assert client.get(PROTECTED, headers=headers).status_code == 200
    account.deactivate()
    db.session.commit()
    assert client.get(PROTECTED, headers=headers).get_json()["@event"] == "ACCOUNT_DEACTIVATED"
    account.reactivate()
    db.session.commit()
    assert client.get(PROTECTED, headers=headers).status_code == 200
    db.session.delete(token)  # revoking through the API deletes the row
    db.session.commit()
    assert client.get(PROTECTED, headers=headers).get_json()["@event"] == "COULD_NOT_FIND_AUTH_TOKEN"


def test_cached_basic_sign_in_ends_when_the_account_is_deleted_or_promoted(client, make_account):
    account = make_account(password="s3cret-pass")
    assert client.get(PROTECTED, headers=basic(account.email, "s3cret-pass")).status_code == 200
    assert client.post("/api/health/probe", headers=basic(account.email, "s3cret-pass")).status_code == 403
    account.type = "ADMIN"  # the role comes from the row read on this request, not from the cache
    db.session.commit()
    assert client.post("/api/health/probe", headers=basic(account.email, "s3cret-pass")).status_code == 202
    db.session.delete(account)
    db.session.commit()
    response = client.get(PROTECTED, headers=basic(account.email, "s3cret-pass"))
    assert response.status_code == 401 and response.get_json()["@event"] == "WRONG_CREDENTIALS_DETECTED"


def test_the_principal_reads_other_account_attributes_from_the_account(
    app, make_account, token_for, statements
):
    from flask import g

    from app.auth import verify_token

    account = make_account(username="dora")
    secret = token_for(account)["Authorization"].split()[1]
    email = account.email
    with app.app_context(), app.test_request_context("/"):
        verify_token(secret)
        statements.clear()
        assert (g.account.email, g.account.username, g.account.is_admin) == (email, "dora", False)
        assert statements == []  # built from the row the token check read
        with pytest.raises(AttributeError):
            _ = g.account.no_such_attribute
