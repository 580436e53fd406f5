"""app/fastread.py: the hot reads on the DB-API cursor return what Connection.execute returns (on
SQLite here, and on PostgreSQL when TEST_DATABASE_URL is set), errors arrive as SQLAlchemy's."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, event, select

from app.extensions import db
from app.fastread import FastRead
from app.resources.accounts.models import Account, ApiToken, hash_token
from app.timeutil import utcnow
from tests.resources.datamanager_support import create_space, make_asset, png, upload


def same_rows(read, params):
    """FastRead's rows next to SQLAlchemy's for the same statement and parameters, on one connection
    (the ``stored`` columns once ``typed()``: as the driver holds them, they are not SQLAlchemy's)."""
    with db.engine.connect() as connection:
        fast = read.rows(connection, params)
        reference = connection.execute(read.stmt, params).all()
        stored = [i for i, name in enumerate(read.row._fields) if name in read.stored]
        typed = [
            tuple(read.typed(connection.dialect, i, v) if i in stored else v for i, v in enumerate(row))
            for row in fast
        ]
    assert typed == [tuple(row) for row in reference]
    fast = [read.row._make(row) for row in typed]
    assert all(
        type(a) is type(b) for f, r in zip(fast, reference, strict=False) for a, b in zip(f, r, strict=False)
    )  # uuid.UUID, datetime, bool
    return fast


def test_every_hot_read_equals_connection_execute(app, client, make_account, token_for):
    from app.auth import _ACCOUNT_BY_ID, _TOKEN_CHECK
    from app.resources.datamanager.access import _SPACE_RIGHTS
    from app.resources.datamanager.reads import _ONE_ASSET

    owner = make_account()
    headers = token_for(owner)
    space = create_space(client, headers)
    asset = make_asset(client, space, headers)
    href = asset["_links"]["self"]["href"]
    upload(client, href, headers, (png(3, 2), "small.png"), status=200, locale="de-DE")
    assert (
        client.put(href, json={"title": "T", "tags": ["zeta", "alpha"]}, headers=headers).status_code == 200
    )
    token = db.session.scalars(select(ApiToken).where(ApiToken.account_id == owner.id)).one()
    token.expires_at = utcnow() + timedelta(days=1)  # a datetime value in the token row, not only NULLs
    db.session.commit()
    secret = headers["Authorization"].split()[1]
    dm_id, asset_id = uuid.UUID(space["dataManagerID"]), uuid.UUID(asset["assetID"])

    (token_row,) = same_rows(_TOKEN_CHECK, {"token_hash": hash_token(secret)})
    assert token_row.id == owner.id and token_row.expires_at is not None and token_row.active is True
    assert same_rows(_TOKEN_CHECK, {"token_hash": "no such token"}) == []
    assert same_rows(_ACCOUNT_BY_ID, {"account_id": owner.id})[0].email == owner.email
    rows = same_rows(_ONE_ASSET[False], {"dm_id": dm_id, "asset_id": asset_id, "account_id": owner.id})
    assert len(rows) == 4 and rows[0].id == asset_id  # two tags x two files
    assert same_rows(_ONE_ASSET[True], {"dm_id": dm_id, "asset_id": asset_id, "account_id": owner.id}) == []
    stranger = make_account()
    rows = same_rows(_ONE_ASSET[False], {"dm_id": dm_id, "asset_id": asset_id, "account_id": stranger.id})
    assert rows[0].member_id is None  # the asset, without a membership row
    assert same_rows(_SPACE_RIGHTS, {"dm_id": dm_id, "account_id": owner.id})[0].account_id == owner.id


def test_a_literal_in_the_statement_is_bound_and_in_lists_are_refused(app, make_account):
    admin = make_account(type="ADMIN")
    make_account()
    admins = FastRead(select(Account.id).where(Account.type == "ADMIN", Account.active.is_(True)))
    assert [row.id for row in same_rows(admins, {})] == [admin.id]
    with pytest.raises(ValueError, match="IN lists"), db.engine.connect() as connection:
        FastRead(select(Account.id).where(Account.id.in_(bindparam("ids", expanding=True)))).rows(
            connection, {"ids": [1]}
        )


def test_listeners_see_the_statement_and_errors_are_sqlalchemys(app):
    seen = []
    record = lambda conn, cursor, statement, *args: seen.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        missing = sa.Table("no_such_table", sa.MetaData(), sa.Column("id", sa.Integer))
        with db.engine.connect() as connection, pytest.raises(sa.exc.DBAPIError) as caught:
            FastRead(select(missing.c.id).where(missing.c.id == bindparam("id"))).rows(connection, {"id": 1})
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert "no_such_table" in seen[0] and "no_such_table" in str(caught.value)
    assert caught.value.connection_invalidated is False  # a missing table is not a disconnect


def test_a_write_then_a_read_in_one_request_sees_its_own_rows(app, make_account):
    """Inside an ORM transaction the fast reads use the Session's connection (decision 20)."""
    from app.auth import _ACCOUNT_BY_ID
    from app.extensions import core_connection

    with app.test_request_context("/"):
        account = Account(email="pending@example.org", username="pending", type="RESEARCHER", active=True)
        db.session.add(account)
        db.session.flush()  # written, not committed
        rows = _ACCOUNT_BY_ID.rows(core_connection(), {"account_id": account.id})
        assert [row.email for row in rows] == ["pending@example.org"]
        db.session.rollback()


def test_stored_columns_and_parameters_pass_as_the_driver_holds_them(app, client, make_account, token_for):
    """``stored``: an id read as stored (SQLite: SQLAlchemy's 32 hex digits; PostgreSQL: its driver's
    ``uuid.UUID``) and bound as 32 hex digits on either database; ``typed()`` gives SQLAlchemy's value."""
    from app.resources.datamanager.models import Asset

    owner = make_account()
    headers = token_for(owner)
    asset_id = uuid.UUID(make_asset(client, create_space(client, headers), headers)["assetID"])
    read = FastRead(
        select(Asset.id, Asset.title).where(Asset.id == bindparam("asset_id")), stored=("id", "asset_id")
    )
    with db.engine.connect() as connection:
        (row,) = read.rows(connection, {"asset_id": asset_id.hex})
        sqlite = connection.dialect.name == "sqlite"
        assert row.id == (asset_id.hex if sqlite else asset_id) and type(row.id) is (
            str if sqlite else uuid.UUID
        )
        assert (
            read.typed(connection.dialect, 0, row.id) == asset_id
            and read.typed(connection.dialect, 1, "x") == "x"
        )
        assert read.rows(connection, {"asset_id": uuid.uuid4().hex}) == []
