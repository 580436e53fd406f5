"""API-wide rate limits: Flask-Limiter on Redis, shared by every web worker and host (docs/operations.md
"Rate limits").

- A request that carries credentials is counted per credential (a token, or a Basic login) against
  ``HALYARD_RATE_LIMIT_DEFAULT``; one without, per client address against ``HALYARD_RATE_LIMIT_ANON``.
  The key is read from the request before authentication (a hash of the token or the login), so a flood
  costs no credential check; the sign-in throttle (app/throttle.py) still guards password guessing.
- ``HALYARD_RATE_LIMIT_ROUTES`` (JSON: endpoint -> limit) adds a limit of its own to single routes
  (counted per route and key, on top of the API-wide count).
- Past a limit: 429 problem+json ``TOO_MANY_REQUESTS`` with ``Retry-After``; every limited answer
  carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds).
- Redis down: requests are let through (the limiter's errors are swallowed and logged), since the API
  itself answers 503 for what needs Redis anyway.
"""

import hashlib
import math
import time

from flask_limiter import Limiter

from app.ctx import current_app, request
from app.jobs import embedded


def credential():
    """A stable, non-secret name of the request's credential, or None without one."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not value.strip():
        return None
    if scheme.lower() == "basic":
        login = request.authorization.username if request.authorization else value
        value = (login or "").lower()
    return hashlib.sha256(f"{scheme.lower()}:{value.strip()}".encode()).hexdigest()[:32]


def rate_key():
    """The counter's key: the deployment's prefix, then the credential or the client address."""
    name, prefix = credential(), current_app.config["HALYARD_QUEUE_PREFIX"]
    return f"{prefix}:cred:{name}" if name else f"{prefix}:addr:{request.remote_addr}"


def default_limit():
    config = current_app.config
    return config["HALYARD_RATE_LIMIT_DEFAULT"] if credential() else config["HALYARD_RATE_LIMIT_ANON"]


def storage_uri(app):
    """Limits' URI of the app's Redis (a unix socket is ``redis+unix://``)."""
    url = app.config["REDIS_URL"]
    if not url:
        return "redis+unix://" + embedded.socket_path(app.instance_path)
    return "redis+" + url if url.startswith("unix://") else url


def rate_headers(response):
    """RateLimit-* on every limited answer, Retry-After on a 429 (the reset as seconds from now)."""
    limiter = current_app.extensions.get("halyard.limiter")
    current = limiter.current_limit if limiter is not None else None
    if current is None:
        return response
    reset = min(max(0, math.ceil(current.reset_at - time.time())), current.limit.get_expiry())
    response.headers["RateLimit-Limit"] = str(current.limit.amount)
    response.headers["RateLimit-Remaining"] = str(current.remaining)
    response.headers["RateLimit-Reset"] = str(reset)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(reset, 1))
    return response


def init_app(app):
    """After every blueprint: the per-route overrides wrap the registered views."""
    config = app.config
    config["RATELIMIT_ENABLED"] = bool(config["HALYARD_RATE_LIMIT_ENABLED"])
    if not config["RATELIMIT_ENABLED"]:
        return
    limiter = Limiter(
        key_func=rate_key,
        application_limits=[default_limit],  # one count per key across every route
        storage_uri=storage_uri(app),
        storage_options={"key_prefix": "halyard-limits", "socket_connect_timeout": 2, "socket_timeout": 2},
        strategy="moving-window",
        swallow_errors=True,
        headers_enabled=False,  # rate_headers writes the standard names
    )
    limiter.init_app(app)
    app.extensions["halyard.limiter"] = limiter
    for endpoint, limit in (config["HALYARD_RATE_LIMIT_ROUTES"] or {}).items():
        if endpoint not in app.view_functions:
            raise ValueError(f"HALYARD_RATE_LIMIT_ROUTES: no endpoint {endpoint!r} (see `halyard routes`)")
        app.view_functions[endpoint] = limiter.limit(limit, key_func=rate_key)(app.view_functions[endpoint])
    app.after_request(rate_headers)
