"""Extension objects, created unbound and bound to the app in create_app()."""

import functools
import os
import threading

import flask
import flask_httpauth
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.ctx import app_context_id, current_app, g, request, request_object
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


# The session's scope is the application context, as by default, read without a werkzeug proxy (app/ctx.py).
db = SQLAlchemy(model_class=Base, session_options={"scopefunc": app_context_id})

# ``__table_args__`` of every table with an integer surrogate key: an id, once handed out, is never handed
# out again, even after its row (the newest one included) is deleted, so a client holding an old id never
# reads a different resource. SQLite needs AUTOINCREMENT for that (its plain rowid reuses the largest id);
# PostgreSQL sequences never go back anyway. tests/test_ids_never_reused.py checks every such table.
IDS_NEVER_REUSED = {"sqlite_autoincrement": True}

# flask-httpauth reads the request, ``g`` and the app through Flask's werkzeug proxies, held as its
# module's globals (``request.authorization``, ``request.method``, ``g.flask_httpauth_user``,
# ``current_app.ensure_sync``: five lookups per authenticated request at ≈ 2 µs each). It gets
# Halyard's context proxies instead, which read the same context variables and give the same objects
# (app/ctx.py; tests/test_ctx.py checks both the swap and every operation made through them). Checked
# first: a release that stopped using Flask's proxies this way fails here, at import, not at run time.
for _name, _fast in (("request", request), ("g", g), ("current_app", current_app)):
    if getattr(flask_httpauth, _name) is not getattr(flask, _name):
        raise ImportError(f"flask_httpauth.{_name} is not flask.{_name}: review app/extensions.py")
    setattr(flask_httpauth, _name, _fast)

basic_auth = HTTPBasicAuth(realm="Halyard")
bearer_auth = HTTPTokenAuth(scheme="Bearer", realm="Halyard")
token_auth = HTTPTokenAuth(scheme="Token", realm="Halyard")


class PrebuiltMultiAuth(MultiAuth):
    """flask-httpauth's ``MultiAuth`` with the same choice of scheme (the first auth whose scheme the
    ``Authorization`` header names, else the first auth), but each scheme's wrapper of a view is built
    once, when the view is decorated: ``MultiAuth`` builds it (two ``functools.wraps``) on every request.
    The header's scheme is read once and looked up, where ``MultiAuth`` asks each auth to parse it."""

    def login_required(self, f=None, role=None, optional=None):
        def login_required_internal(f):
            auths = (self.main_auth, *self.additional_auths)
            views = [(a, a.login_required(role=role, optional=optional)(f)) for a in auths]
            by_scheme = {}  # is_compatible_auth of an Authorization-header auth: scheme == its scheme
            for a, view in reversed(views):  # the first auth of a scheme wins, as in the loop
                by_scheme[a.scheme] = view
            if any(a.header not in (None, "Authorization") for a in auths):
                by_scheme = None  # an auth reads another header: ask each in turn

            @functools.wraps(f)
            def decorated(*args, **kwargs):
                if by_scheme is None:
                    headers = request.headers
                    for a, view in views:
                        if a.is_compatible_auth(headers):
                            return view(*args, **kwargs)
                    return views[0][1](*args, **kwargs)
                parts = request_object().environ.get("HTTP_AUTHORIZATION", "").split(None, 1)
                view = by_scheme.get(parts[0]) if len(parts) == 2 else None
                return (view or views[0][1])(*args, **kwargs)

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
    if registry.registry and registry.has():  # (no session in any context yet: nothing to look up)
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
        connection = g._halyard_core_connection = _engine_connection()
    return connection


_kept = threading.local()  # SQLite: ``(pid, engine, connection)`` of this thread, kept between contexts


def _engine_connection():
    """A plain engine connection for one application context. On SQLite it is this thread's, kept from
    one context to the next: a file connection cannot go stale (pre-ping is off there for that reason),
    so the pool's checkout and checkin around every request were pure cost (6 % of the instructions of
    a one-asset read, docs/datamanager.md "Seventh round"). A network database's connection is checked
    out of the pool, pre-pinged, each time."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return engine.connect()
    kept = getattr(_kept, "entry", None)
    if kept is not None:
        pid, owner, connection = kept
        if pid == os.getpid() and owner is engine and not connection.closed and not connection.invalidated:
            return connection
        if pid == os.getpid():
            connection.close()  # another app's engine (tests), or invalidated: back to its pool
    connection = engine.connect()
    _kept.entry = (os.getpid(), engine, connection)
    return connection


def close_core_connection(exc=None):
    """teardown_appcontext: end the context's Core connection (if one was opened): what its request began
    is rolled back, as the pool does on checkin; a kept SQLite connection stays with its thread, any
    other goes back to the pool."""
    connection = g.pop("_halyard_core_connection", None)
    if connection is None:
        return
    kept = getattr(_kept, "entry", None)
    if kept is None or kept[2] is not connection or connection.invalidated:
        connection.close()
        return
    if connection.in_transaction():
        connection.rollback()
    driver = connection.connection.driver_connection
    if driver.in_transaction:  # a DML the request ran on the raw cursor and did not commit
        driver.rollback()
