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


def test_flask_httpauth_reads_the_context_through_halyards_proxies(app, client):
    import flask_httpauth

    from app.extensions import basic_auth

    assert flask_httpauth.request is ctx.request
    assert flask_httpauth.g is ctx.g
    assert flask_httpauth.current_app is ctx.current_app
    with app.test_request_context("/", headers={"Authorization": "Basic dTpw"}):  # u:p
        auth = basic_auth.get_auth()
        assert (auth.username, auth.password) == ("u", "p")
        assert basic_auth.current_user() is None  # nothing signed in: no attribute on g yet
        flask.g.flask_httpauth_user = "someone"
        assert basic_auth.current_user() == "someone"
    # end to end: a wrong token is a 401 with the challenge, a missing one too (flask-httpauth's decorator)
    for headers in ({"Authorization": "Bearer hy_nosuchtoken"}, {}):
        response = client.get("/datamanager/", headers=headers)
        assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def _recording_app(cls):
    """The same hooks on ``cls`` (Flask or Halyard): app and blueprint before/after/teardown hooks, URL value
    preprocessors, one hook that answers early, a per-request after-this-request callback. Each records
    its call into ``app.calls``."""
    app = cls(__name__)
    app.calls = []
    bp = flask.Blueprint("bp", __name__, url_prefix="/bp")
    nested = flask.Blueprint("nested", __name__, url_prefix="/nested")

    def hook(name, answer=None):
        def f(*args):
            app.calls.append((name, flask.request.path))
            if answer is not None and flask.request.args.get("early") == name:
                return answer
            return args[0] if args and isinstance(args[0], flask.Response) else None

        f.__name__ = name
        return f

    for owner, prefix in ((app, "app"), (bp, "bp"), (nested, "nested")):
        owner.before_request(hook(f"{prefix}-before-1", answer=f"{prefix} answered early"))
        owner.before_request(hook(f"{prefix}-before-2"))
        owner.after_request(hook(f"{prefix}-after-1"))
        owner.after_request(hook(f"{prefix}-after-2"))
        owner.teardown_request(hook(f"{prefix}-teardown"))
        owner.url_value_preprocessor(
            lambda endpoint, values, p=prefix: app.calls.append((f"{p}-urlvalues", endpoint))
        )

    @nested.route("/thing/<int:n>", methods=["GET", "POST"])
    def thing(n):
        @flask.after_this_request
        def callback(response):
            app.calls.append(("after-this-request", n))
            response.headers["X-Callback"] = str(n)
            return response

        return f"thing {n}"

    @app.route("/plain")
    def plain():
        return "plain"

    bp.register_blueprint(nested)
    app.register_blueprint(bp)
    return app


def test_halyards_request_cycle_steps_do_what_flasks_do():
    from app import Halyard

    requests = [
        ("GET", "/bp/nested/thing/3"),
        ("POST", "/bp/nested/thing/4"),
        ("OPTIONS", "/bp/nested/thing/5"),  # automatic OPTIONS
        ("DELETE", "/bp/nested/thing/6"),  # 405: a routing error
        ("GET", "/bp/nested/nothing"),  # 404
        ("GET", "/plain"),
        ("GET", "/bp/nested/thing/7?early=bp-before-1"),  # a blueprint hook answers early
        ("GET", "/bp/nested/thing/8?early=app-before-1"),
    ]
    answers = {}
    for cls in (flask.Flask, Halyard):
        app = _recording_app(cls)
        client = app.test_client()
        answers[cls] = []
        for method, path in requests:
            app.calls.clear()
            response = client.open(path, method=method)
            answers[cls].append(
                (method, path, response.status_code, response.get_data(as_text=True),
                 sorted(response.headers.items()), list(app.calls))
            )  # fmt: skip
    assert answers[Halyard] == answers[flask.Flask]
    first = answers[Halyard][0]
    assert first[2] == 200 and ("X-Callback", "3") in first[4]
    assert [name for name, _ in first[5]][:3] == ["app-urlvalues", "bp-urlvalues", "nested-urlvalues"]
    assert answers[Halyard][6][3] == "bp answered early" and answers[Halyard][3][2] == 405
