"""Per-request observation: the access log line, the HTTP metrics (by route template), and the request id
handed to jobs.

The request id itself is assigned in app/errors.py (``X-Request-ID`` when valid, else a random one) and
echoed on every response. Each request ends with one ``halyard.access`` line (``HALYARD_ACCESS_LOG``)
carrying method, path (no query string), status, duration_ms, request_id and account_id, and is counted
in the request metrics by its route template (app/metrics.py). ``job_meta()`` is what ``enqueue()``
stores in a job's meta, so the job's log lines and its ``/jobs/{id}`` carry the request id.
"""

import logging
import time

from flask import has_request_context

from app import metrics
from app.ctx import current_app, g, request

access_log = logging.getLogger("halyard.access")


def job_meta():
    """The meta a job enqueued now starts with: the id of the request that enqueued it (if any)."""
    if has_request_context() and getattr(g, "request_id", None):
        return {"request_id": g.request_id}
    return {}


def start_timer():
    g.observe_started = time.perf_counter()


def finish(response):
    started = getattr(g, "observe_started", None)
    if started is None:
        return response
    duration = time.perf_counter() - started
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    metrics.observe_request(request.method, rule, response.status_code, duration)
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
    app.before_request(start_timer)
    app.after_request(finish)
