"""Errors: the problem+json builder and every error handler, registered once (DESIGN.md §5).

Every failure — our own ApiError subclasses, Werkzeug's HTTPExceptions (404, 405,
413, ...), marshmallow ValidationErrors and unhandled exceptions — leaves as
``application/problem+json`` that is also HAL: ``type``, ``title``, ``status``,
``detail``, ``@event``, ``@type: "error"``, ``errors`` where there are field
errors, ``user_id`` and ``_links.describedby``. A 500 never carries exception
text; it is logged with the request id that the response also carries. A lost
Redis is a 503 with ``Retry-After``, not a 500.
"""

import json
import logging
import re
import time
import traceback

import redis
from flask import url_for
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.ctx import current_app, g, request
from app.hal import HTML, PROBLEM_JSON, NotAcceptable, negotiate, render

log = logging.getLogger("halyard")

# Event codes for Werkzeug's own exceptions (ours carry their event themselves).
STATUS_EVENTS = {
    400: "BAD_REQUEST_DETECTED",
    401: "COULD_NOT_FIND_AUTH_TOKEN",
    403: "ACCESS_DENIED",
    404: "COULD_NOT_FIND_RESOURCE",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT_DETECTED",
    410: "RESOURCE_GONE",
    411: "LENGTH_REQUIRED",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    428: "PRECONDITION_REQUIRED",
    429: "TOO_MANY_REQUESTS",
    500: "GENERIC_ERROR_OCCURRED",
    501: "NOT_IMPLEMENTED",
    503: "SERVICE_UNAVAILABLE",
}

REDIS_RETRY_AFTER = 5  # seconds: the supervisor restarts a crashed Redis within about that (docs/security.md)
_redis_quiet_until = 0.0


class ApiError(HTTPException):
    """Base of the domain errors: a new error is ``code``, ``event`` and ``description``.

    ``errors`` holds field messages in marshmallow's shape ``{field: [message]}``;
    keyword arguments become extra members of the problem body (e.g. ``item_id``).
    """

    code = 400
    event = "BAD_REQUEST_DETECTED"
    description = "The request could not be processed."

    def __init__(self, description=None, *, errors=None, event=None, headers=None, **extra):
        super().__init__(description or self.description)
        self.errors = errors
        if event:
            self.event = event
        self.extra = extra
        self._headers = headers or {}

    def get_headers(self, environ=None, scope=None):
        return [("Content-Type", PROBLEM_JSON), *self._headers.items()]


class BodyDidNotValidate(ApiError):
    event = "BODY_DID_NOT_VALIDATE"
    description = "The request body did not validate."


class BodyJsonDidNotParse(ApiError):
    event = "BODY_JSON_DID_NOT_PARSE"
    description = "The request body is not valid JSON."


class QueryDidNotValidate(ApiError):
    event = "QUERY_DID_NOT_VALIDATE"
    description = "The query string did not validate."


class Unauthorized(ApiError):
    code = 401
    event = "COULD_NOT_FIND_AUTH_TOKEN"
    description = "Credentials are missing or invalid."


class Forbidden(ApiError):
    code = 403
    event = "ACCESS_DENIED"
    description = "You are not allowed to do this."


class NotFound(ApiError):
    """404 for a thing: ``NotFound("catalogueitem")`` has ``@event`` COULD_NOT_FIND_CATALOGUEITEM."""

    code = 404
    event = "COULD_NOT_FIND_RESOURCE"
    description = "The requested resource does not exist."

    def __init__(self, thing=None, description=None, **kwargs):
        if thing:
            kwargs.setdefault("event", "COULD_NOT_FIND_" + re.sub(r"\W", "", thing).upper())
            description = description or f"Could not find the {thing}."
        super().__init__(description, **kwargs)


class Conflict(ApiError):
    code = 409
    event = "CONFLICT_DETECTED"
    description = "The request conflicts with the current state of the resource."


class UnsupportedMediaType(ApiError):
    code = 415
    event = "UNSUPPORTED_MEDIA_TYPE"
    description = "The request body's Content-Type is not supported here."


class TooManyRequests(ApiError):
    code = 429
    event = "TOO_MANY_REQUESTS"
    description = "Too many requests; retry later."


class ServiceUnavailable(ApiError):
    code = 503
    event = "SERVICE_UNAVAILABLE"
    description = "A service this request needs is unavailable."


def problem(exc):
    """The problem+json body (a dict) for an HTTPException."""
    code = exc.code or 500
    event = getattr(exc, "event", None) or STATUS_EVENTS.get(code, "GENERIC_ERROR_OCCURRED")
    title = exc.name if code != 500 else "Internal Server Error"
    detail = (
        exc.description
        if code != 500
        else (
            "The server met an unexpected condition. Quote the request id "
            f"{getattr(g, 'request_id', '-')} when reporting it."
        )
    )
    body = {
        "type": _url("root.problem", event=event),
        "title": title,
        "status": code,
        "detail": detail,
        "@event": event,
        "@type": "error",
    }
    errors = getattr(exc, "errors", None)
    if errors:
        body["errors"] = errors
    body.update(getattr(exc, "extra", None) or {})
    account = getattr(g, "account", None)
    body["user_id"] = account.id if account is not None else "anonymous"
    links = {"describedby": {"href": body["type"]}}
    up = getattr(exc, "up", None)
    if up:
        links["up"] = {"href": up}
    body["_links"] = links
    return body


def wants_html():
    """True when the request prefers text/html (a browser): problems then render as a readable page."""
    try:
        return negotiate(request.headers.get("Accept")) == HTML
    except NotAcceptable:
        return False


def problem_response(exc):
    """A Flask response carrying ``problem(exc)`` with the exception's own headers (Allow, Retry-After, ...).

    A browser (Accept prefers text/html) gets the same problem as an HTML page.
    """
    code = exc.code or 500
    html = wants_html()
    response = None
    if html:
        try:
            response = render(problem(exc), HTML, status=code)
        except Exception as page_error:  # noqa: BLE001 — a broken page must not hide the error itself
            log.error(json.dumps({"event": "problem_page_failed", "exception": type(page_error).__name__}))
            html = False
        if response is not None and request.method == "HEAD":
            response.set_data(b"")
    if response is None:
        body = json.dumps(problem(exc), ensure_ascii=False, separators=(",", ":"))
        response = current_app.response_class("" if request.method == "HEAD" else body, status=code)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if not html:
        response.headers["Content-Type"] = PROBLEM_JSON
    return response


def _url(endpoint, **values):
    try:
        return url_for(endpoint, _external=True, **values)
    except Exception:  # noqa: BLE001 — the error page must render even when routing is the problem
        return "about:blank"


def handle_http_exception(exc):
    return problem_response(exc)


def handle_validation_error(exc):
    """A marshmallow ValidationError that escaped a view: the body did not validate."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return problem_response(BodyDidNotValidate(errors=messages))


def handle_redis_unavailable(exc):
    """Redis is down or restarting: 503 with Retry-After for the calls that need it, never a 500.

    Logged at most once per Retry-After period per process, so an outage does not flood the log.
    """
    global _redis_quiet_until
    if time.monotonic() >= _redis_quiet_until:
        _redis_quiet_until = time.monotonic() + REDIS_RETRY_AFTER
        log.warning(
            json.dumps(
                {
                    "event": "redis_unavailable",
                    "request_id": getattr(g, "request_id", None),
                    "method": request.method,
                    "path": request.path,
                    "exception": type(exc).__name__,
                }
            )
        )
    return problem_response(
        ServiceUnavailable(
            "The job queue (Redis) is unavailable; retry shortly.",
            headers={"Retry-After": str(REDIS_RETRY_AFTER)},
        )
    )


def handle_unexpected(exc):
    """Log an unhandled exception without its message or locals; answer a bare 500."""
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__)]
    log.error(
        json.dumps(
            {
                "event": "unhandled_exception",
                "request_id": getattr(g, "request_id", None),
                "method": request.method,
                "path": request.path,
                "exception": type(exc).__name__,
                "frames": frames[-15:],
            }
        )
    )
    return problem_response(InternalServerError())


def no_content_type_without_content(response):
    """A 204 or 304 has no body, so it names no media type (Flask would default to text/html)."""
    if response.status_code in (204, 304):
        response.headers.pop("Content-Type", None)
    return response


def init_app(app):
    app.after_request(no_content_type_without_content)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ValidationError, handle_validation_error)
    for lost in (redis.ConnectionError, redis.TimeoutError):  # BusyLoadingError (a restart) is one too
        app.register_error_handler(lost, handle_redis_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
