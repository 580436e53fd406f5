"""Extension objects, created unbound and bound to the app in create_app()."""

import functools

from flask import g, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.hal import CurieRegistry


class Base(DeclarativeBase):
    # Named constraints, so migrations (SQLite batch mode included) can alter them later.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)

# ``__table_args__`` of every table with an integer surrogate key: an id, once handed out, is never handed
# out again, even after its row (the newest one included) is deleted, so a client holding an old id never
# reads a different resource. SQLite needs AUTOINCREMENT for that (its plain rowid reuses the largest id);
# PostgreSQL sequences never go back anyway. tests/test_ids_never_reused.py checks every such table.
IDS_NEVER_REUSED = {"sqlite_autoincrement": True}

basic_auth = HTTPBasicAuth(realm="Halyard")
bearer_auth = HTTPTokenAuth(scheme="Bearer", realm="Halyard")
token_auth = HTTPTokenAuth(scheme="Token", realm="Halyard")


class PrebuiltMultiAuth(MultiAuth):
    """flask-httpauth's ``MultiAuth`` with the same choice of scheme (the first auth whose scheme the
    ``Authorization`` header names, else the first auth), but each scheme's wrapper of a view is built
    once, when the view is decorated: ``MultiAuth`` builds it (two ``functools.wraps``) on every request."""

    def login_required(self, f=None, role=None, optional=None):
        def login_required_internal(f):
            auths = (self.main_auth, *self.additional_auths)
            views = [(a, a.login_required(role=role, optional=optional)(f)) for a in auths]

            @functools.wraps(f)
            def decorated(*args, **kwargs):
                headers = request.headers
                for a, view in views:
                    if a.is_compatible_auth(headers):
                        return view(*args, **kwargs)
                return views[0][1](*args, **kwargs)

            return decorated

        return login_required_internal(f) if f else login_required_internal


auth = PrebuiltMultiAuth(basic_auth, bearer_auth, token_auth)

# The one CURIE ("ec") and the documentation of every relation served under /rels/{rel}.
curies = CurieRegistry("ec")


def core_connection():
    """A connection for the Core reads on the hot paths (credential checks, asset reads).

    Inside an ORM transaction that already holds a connection this is that connection, so a Core read
    sees the request's own uncommitted writes. Otherwise it is one plain engine connection per
    application context (``flask.g``), closed by ``close_core_connection`` at teardown: a read-only
    request then never builds an ORM Session, whose transaction bookkeeping, connection lookup and
    teardown cost more than the short indexed SELECTs themselves (docs/decisions.md 20). A request that
    reads here first and writes through the Session afterwards uses two pooled connections; reads here
    hold no locks that a write waits for (SQLite runs a SELECT outside a transaction; PostgreSQL's
    READ COMMITTED SELECT takes no row locks), and a Core read after the first ORM statement goes to the
    Session's connection again."""
    registry = db.session.registry
    if registry.has():
        session = registry()
        cached = session.info.get("halyard.connection")
        if cached is not None and cached[0] is session._transaction:
            return cached[
                1
            ]  # Session.connection() walks its state machine on every call: once per transaction
        root = session.get_transaction()
        if root is not None and root.connections:
            connection = session.connection()
            session.info["halyard.connection"] = (session._transaction, connection)
            return connection
    connection = g.get("_halyard_core_connection")
    if connection is None:
        connection = g._halyard_core_connection = db.engine.connect()
    return connection


def close_core_connection(exc=None):
    """teardown_appcontext: return the context's Core connection (if one was opened) to the pool."""
    connection = g.pop("_halyard_core_connection", None)
    if connection is not None:
        connection.close()
