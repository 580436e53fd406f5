"""app/ctx.py's proxies give the objects Flask's own proxies give, for every operation Halyard uses,
and fail outside a context as Flask's do (a Flask release that moved its context variables fails here)."""

import flask
import pytest

from app import ctx
from app.extensions import db


def test_each_proxy_reads_and_writes_the_objects_flasks_proxies_do(app):
    with app.test_request_context("/path?x=1", headers={"X-Thing": "y"}):
        assert ctx.request_object() is flask.request._get_current_object()
        assert ctx.g_object() is flask.g._get_current_object()
        assert ctx.app_object() is flask.current_app._get_current_object() is app
        assert ctx.request.path == "/path" and ctx.request.args["x"] == "1"
        assert ctx.request.headers["X-Thing"] == "y"
        assert ctx.request.environ is flask.request.environ
        assert isinstance(ctx.request, flask.Request)
        ctx.request.marker = "set through app.ctx"
        assert flask.request.marker == "set through app.ctx"
        assert ctx.current_app.config is app.config

        ctx.g.value = 1
        assert flask.g.value == 1 and "value" in ctx.g and "value" in list(ctx.g)
        assert ctx.g.get("value") == 1 and ctx.g.get("missing") is None
        assert getattr(ctx.g, "missing", "default") == "default"
        assert ctx.g.setdefault("other", 2) == 2 and flask.g.other == 2
        assert ctx.g.pop("other") == 2 and "other" not in flask.g
        del ctx.g.value
        assert "value" not in flask.g


def test_the_session_scope_is_the_application_context_flask_sqlalchemy_would_use(app):
    with app.app_context() as first:
        assert ctx.app_context_id() == id(first)
        session = db.session()
        with app.app_context() as second:  # a nested context: a session of its own, as by default
            assert ctx.app_context_id() == id(second)
            assert db.session() is not session
        assert db.session() is session


def test_outside_a_context_they_raise_what_flasks_raise():
    for read in (
        lambda: ctx.request.path,
        lambda: ctx.g.value,
        lambda: ctx.current_app.config,
        ctx.request_object,
        ctx.g_object,
        ctx.app_object,
        ctx.app_context_id,
    ):
        with pytest.raises(RuntimeError, match="outside of"):
            read()
    with pytest.raises(RuntimeError, match="outside of"):
        flask.request.path  # noqa: B018 — Flask's own proxy, for comparison
    # as werkzeug's proxies: introspection (isinstance, repr) works unbound
    for proxy in (ctx.request, ctx.g, ctx.current_app):
        assert not isinstance(proxy, flask.Request) and "unbound" in repr(proxy)
    assert not isinstance(flask.request, flask.Request)
