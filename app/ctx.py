"""``request``, ``g`` and ``current_app`` for the code every request runs, at a tenth of the cost of
Flask's proxies.

Flask's ``request``/``g``/``current_app`` are werkzeug ``LocalProxy`` objects: each attribute read goes
through three Python calls (the lookup descriptor, its bound function, ``_get_current_object``) before
the context variable is read — about 2 µs here, and a one-asset read made 35 of them (docs/datamanager.md
"Eighth round"). These proxies read the same context variables Flask's do (``flask.globals._cv_request``
and ``_cv_app``) in one ``__getattribute__``, and give the same objects: tests/test_ctx.py checks every
operation Halyard uses against Flask's own proxies, so a Flask release that moved them fails there.

Used like Flask's: ``from app.ctx import current_app, g, request``. Outside a context they raise the
``RuntimeError`` Flask's raise. Code that needs the real object (to hand it to another thread, or
many reads in a row) calls ``request_object()``/``g_object()``/``app_object()``.
"""

from flask.globals import _cv_app, _cv_request

_NO_REQUEST = "Working outside of request context."
_NO_APP = "Working outside of application context."


def request_object():
    """The current ``flask.Request``."""
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(_NO_REQUEST)
    return ctx.request


def g_object():
    """The current application context's ``g``."""
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(_NO_APP)
    return ctx.g


def app_object():
    """The current Flask application."""
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(_NO_APP)
    return ctx.app


def app_context_id():
    """The id of the current application context: the scope of Flask-SQLAlchemy's session
    (``session_options={"scopefunc": ...}``), what its default scope function computes through a proxy."""
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(_NO_APP)
    return id(ctx)


def _unbound(proxy, name, message):
    """Outside a context: what werkzeug's proxies answer there for ``__class__`` (the proxy's own
    class, so ``isinstance`` and introspection work), else the RuntimeError."""
    if name == "__class__":
        return type(proxy)
    raise RuntimeError(message)


class _RequestProxy:
    __slots__ = ()

    def __getattribute__(self, name):
        ctx = _cv_request.get(None)
        if ctx is None:
            return _unbound(self, name, _NO_REQUEST)
        return getattr(ctx.request, name)

    def __setattr__(self, name, value):
        setattr(request_object(), name, value)

    def __repr__(self):
        ctx = _cv_request.get(None)
        return f"<fast proxy of {ctx.request!r}>" if ctx is not None else "<fast proxy of request, unbound>"


class _GProxy:
    __slots__ = ()

    def __getattribute__(self, name):
        ctx = _cv_app.get(None)
        if ctx is None:
            return _unbound(self, name, _NO_APP)
        return getattr(ctx.g, name)

    def __setattr__(self, name, value):
        setattr(g_object(), name, value)

    def __delattr__(self, name):
        delattr(g_object(), name)

    def __contains__(self, name):
        return name in g_object()

    def __iter__(self):
        return iter(g_object())

    def __repr__(self):
        ctx = _cv_app.get(None)
        return f"<fast proxy of {ctx.g!r}>" if ctx is not None else "<fast proxy of g, unbound>"


class _AppProxy:
    __slots__ = ()

    def __getattribute__(self, name):
        ctx = _cv_app.get(None)
        if ctx is None:
            return _unbound(self, name, _NO_APP)
        return getattr(ctx.app, name)

    def __repr__(self):
        ctx = _cv_app.get(None)
        return f"<fast proxy of {ctx.app!r}>" if ctx is not None else "<fast proxy of current_app, unbound>"


request = _RequestProxy()
g = _GProxy()
current_app = _AppProxy()
