"""Per-request observation: the request id, the access log line, the HTTP metrics (by route template).

The request id is assigned when a request starts (its ``X-Request-ID`` when valid, else a random one)
and echoed on every response; problem responses (app/errors.py) carry it too. Each request ends with one
``halyard.access`` line (``HALYARD_ACCESS_LOG``) carrying method, path (no query string), status,
duration_ms, request_id and account_id, and is counted in the request metrics by its route template
(app/metrics.py). One ``before_request`` hook (``start``, the first) and one ``after_request`` hook
(``finish``) do all of it. ``job_meta()`` is what ``enqueue()`` stores in a job's meta, so the job's log
lines and its ``/jobs/{id}`` carry the request id.
"""

import logging
import re
import secrets
import time

from flask import has_request_context

from app import metrics
from app.ctx import current_app, g, g_object, request_object

access_log = logging.getLogger("halyard.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def job_meta():
    """The meta a job enqueued now starts with: the id of the request that enqueued it (if any)."""
    if has_request_context() and getattr(g, "request_id", None):
        return {"request_id": g.request_id}
    return {}


def start():
    """``before_request``, the first hook of every request: its timer and its request id."""
    context = g_object()
    context.observe_started = time.perf_counter()
    incoming = request_object().environ.get("HTTP_X_REQUEST_ID", "")
    context.request_id = incoming if incoming and REQUEST_ID.match(incoming) else secrets.token_hex(16)


def finish(response):
    """``after_request``: ``X-Request-ID`` on the response, the request's metrics and its access line."""
    context = g_object()
    response.headers["X-Request-ID"] = getattr(context, "request_id", None) or secrets.token_hex(16)
    started = getattr(context, "observe_started", None)
    if started is None:
        return response
    duration = time.perf_counter() - started
    req = request_object()
    rule = req.url_rule.rule if req.url_rule is not None else "<unmatched>"
    metrics.observe_request(req.method, rule, response.status_code, duration)
    if access_log.isEnabledFor(logging.INFO) and current_app.config["HALYARD_ACCESS_LOG"]:
        # What access_log.info("request", extra=...) does, without Logger.findCaller's walk up the stack
        # (a third of the line's cost): no format writes the caller's file and line.
        extra = {"status": response.status_code, "duration_ms": round(duration * 1000, 3)}
        access_log.handle(
            access_log.makeRecord(
                access_log.name, logging.INFO, __file__, 0, "request", (), None, extra=extra
            )
        )
    return response


def init_app(app):
    app.before_request(start)
    app.after_request(finish)
