"""Halyard: five HTTP APIs served as one HAL hypermedia graph, with RQ workers for slow work."""

import os
import sys

from flask import Flask
from flask.globals import _cv_request
from flask.sessions import SessionInterface
from flask.signals import request_tearing_down
from werkzeug.routing import IntegerConverter

from app.config import defaults, finalize, from_environment
from app.hal.grammar import INT32_MAX


def create_app(config=None, instance_path=None, *, migrations=True):
    """The application factory: config → logging → database → errors, inputs → domains → pages → cli.

    ``migrations=False`` (the web entry point, wsgi.py) leaves out Flask-Migrate, and with it Alembic:
    a web worker never migrates (``halyard start``/``halyard db upgrade`` do, before it starts), and
    10 MB less per worker keeps it inside the benchmark's memory budget."""
    app = Halyard(
        __name__,
        instance_relative_config=True,
        instance_path=instance_path or os.environ.get("HALYARD_INSTANCE_PATH") or None,
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(from_environment())
    if config:
        app.config.from_mapping(config)
    finalize(app.config, app.instance_path)
    app.url_map.strict_slashes = False  # every path answers with and without "/" (DESIGN.md §2)
    app.url_map.converters["int"] = Int32Converter  # before any route is added
    _init_logging(app)
    _init_http(app)

    # deferred: the composition root loads the units only when an app is built
    from app import auth, browsable, cli, errors, inputs, observe, openapi, resources  # noqa: F401  (auth)

    # deferred: the composition root loads the units only when an app is built
    from app.extensions import close_core_connection, db

    db.init_app(app)
    app.teardown_appcontext(close_core_connection)
    _init_sqlite(app)
    if migrations:
        from flask_migrate import Migrate

        Migrate(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    observe.init_app(app)  # first: its timer starts before any other hook runs
    errors.init_app(app)
    inputs.init_app(app)  # the size cap and the text checks run before authentication
    resources.init_app(app)
    browsable.init_app(app)
    openapi.init_app(app)
    resources.root.register_entry(
        app, "service-desc", "openapi.spec", title="OpenAPI 3.1 description of this API"
    )  # here: app.openapi sits below app.resources.root, which declares its views with app.openapi
    cli.init_app(app)
    from app import ratelimit  # deferred: the composition root loads the units only when an app is built

    ratelimit.init_app(app)  # last: its per-route overrides wrap the registered views
    app.extensions["halyard.pid"] = os.getpid()
    return app


class NoCookieSessions(SessionInterface):
    """Halyard keeps no server-side or cookie session state (DESIGN.md §7: every request carries its
    credentials), so Flask's signed-cookie session is never opened: ``flask.session`` is a
    ``NullSession`` that refuses writes. Saves building an itsdangerous serializer per request."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


_UNSET = object()  # do_teardown_request called without ``exc``: the exception being handled, as Flask's


class Halyard(Flask):
    """Flask with per-request costs removed: the cookie session (``NoCookieSessions``), the
    ``inspect.iscoroutinefunction`` check Flask repeats on every view and hook of every request
    (Halyard has no async views; the answer per function never changes, so it is cached), and the
    werkzeug ``LocalProxy`` lookups of the request in the four request-cycle steps below.

    ``preprocess_request``, ``dispatch_request``, ``process_response`` and ``do_teardown_request`` do
    what Flask 3.1's do (same hooks, same order, same signals), reading the request context once from
    Flask's own context variable instead of through ``flask.request``/``request_ctx`` (≈ 2 µs per read,
    docs/datamanager.md "Tenth round"). tests/test_ctx.py runs each against Flask's own on blueprint
    hooks, URL value preprocessors, a hook that answers early, automatic OPTIONS, a routing error and
    the request's own after-request callbacks."""

    session_interface = NoCookieSessions()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync = {}

    def ensure_sync(self, func):
        try:
            return self._sync[func]
        except KeyError:
            wrapped = self._sync[func] = super().ensure_sync(func)
            return wrapped
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)

    def preprocess_request(self):
        req = _cv_request.get().request
        names = (None, *reversed(req.blueprints))
        for name in names:
            for url_func in self.url_value_preprocessors.get(name, ()):
                url_func(req.endpoint, req.view_args)
        for name in names:
            for before_func in self.before_request_funcs.get(name, ()):
                rv = self.ensure_sync(before_func)()
                if rv is not None:
                    return rv
        return None

    def dispatch_request(self):
        req = _cv_request.get().request
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        if getattr(rule, "provide_automatic_options", False) and req.method == "OPTIONS":
            return self.make_default_options_response()
        return self.ensure_sync(self.view_functions[rule.endpoint])(**req.view_args)

    def process_response(self, response):
        ctx = _cv_request.get()
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        for name in (*ctx.request.blueprints, None):
            for func in reversed(self.after_request_funcs.get(name, ())):
                response = self.ensure_sync(func)(response)
        if not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)
        return response

    def do_teardown_request(self, exc=_UNSET):
        if exc is _UNSET:
            exc = sys.exc_info()[1]
        for name in (*_cv_request.get().request.blueprints, None):
            for func in reversed(self.teardown_request_funcs.get(name, ())):
                self.ensure_sync(func)(exc)
        request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)


class Int32Converter(IntegerConverter):
    """``<int:id>`` limited to what an Integer column holds on PostgreSQL (int4): a larger id is a 404,
    not a 500; a route over a BigInteger column sets its own ``<int(max=...):id>``."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


def _init_sqlite(app):
    """SQLite: enforce foreign keys, and let web and worker processes write concurrently (WAL)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    from app.extensions import db  # deferred: the composition root loads the units only when an app is built

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=10000")  # first, so the statements below wait for locks too
        cursor.execute("PRAGMA foreign_keys=ON")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def _init_logging(app):
    from app import logs  # deferred: the composition root loads the units only when an app is built

    logs.configure(app.config)


def _init_http(app):
    hops = int(app.config["HALYARD_PROXY_FIX"])  # the number of trusted proxies (True counts as 1)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    origins = [o.strip() for o in app.config["HALYARD_CORS_ORIGINS"].split(",") if o.strip()]
    if origins:
        from flask_cors import CORS

        CORS(
            app,
            origins=origins,
            expose_headers=["Location", "ETag", "Link", "X-Request-ID"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"],
        )
