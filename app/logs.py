"""One log stream: every process (web, gunicorn, ``halyard worker``, RQ, jobs) writes one line per record
to stderr in one format, ``HALYARD_LOG_FORMAT``: ``json`` (python-json-logger), ``logfmt`` or ``text``.

Each line carries ``time`` (RFC 3339, UTC), ``level``, ``logger`` and ``message``, then the context of
the record (``ContextFilter``): in a request ``request_id``, ``method``, ``path`` and ``account_id``; in a
job ``job_id`` and the ``request_id`` of the request that enqueued it. A message that is a JSON object
(``log.info(json.dumps({"event": ...}))``, the older style) is spread into fields, its ``event`` becoming
the message. Fields passed with ``extra=`` are fields too. Nothing else is added: callers never log
secrets, and the access line carries the path without its query string.
"""

import functools
import json
import logging
import sys
from datetime import UTC, datetime

from pythonjsonlogger.core import RESERVED_ATTRS, BaseJsonFormatter
from pythonjsonlogger.json import JsonFormatter

FORMATS = ("json", "logfmt", "text")
CONTEXT_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "account_id", "job_id")
HANDLER_NAME = "halyard"
_RESERVED = frozenset(RESERVED_ATTRS)  # python-json-logger's list, as a set: looked up per attribute


@functools.cache
def _flask():
    """flask's ``g``, ``has_request_context`` and ``request``, imported on the first record (this module
    configures logging before the app's modules are imported) and not again on every line."""
    from flask import g, has_request_context, request

    return g, has_request_context, request


@functools.cache
def _get_current_job():
    """rq's ``get_current_job``, or a function answering None where rq cannot be imported."""
    try:
        from rq import get_current_job
    except Exception:  # noqa: BLE001 — logging never fails the code that logs
        return lambda: None
    return get_current_job


def context():
    """The request's and the running job's fields (empty outside both)."""
    fields = {}
    try:
        g, has_request_context, request = _flask()
        if has_request_context():
            fields["request_id"] = getattr(g, "request_id", None)
            fields["method"] = request.method
            fields["path"] = request.path
            account = getattr(g, "account", None)
            if account is not None:
                fields["account_id"] = account.id
    except Exception:  # noqa: BLE001, S110 — logging never fails the code that logs
        pass
    try:
        job = _get_current_job()()
        if job is not None:
            fields["job_id"] = job.id
            fields.setdefault("request_id", job.meta.get("request_id"))
    except Exception:  # noqa: BLE001, S110 — no Redis, no job: no job fields
        pass
    return {key: value for key, value in fields.items() if value is not None}


class ContextFilter(logging.Filter):
    """Adds ``context()`` to every record (fields given with ``extra=`` win)."""

    def filter(self, record):
        for key, value in context().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _time(record):
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class Fields:
    """The ordered fields of a record: time, level, logger, message, context, extras, exception."""

    def fields(self, record):
        message = record.getMessage()
        data = {"time": _time(record), "level": record.levelname, "logger": record.name, "message": message}
        if message.startswith("{"):
            try:
                spread = json.loads(message)
            except ValueError:
                spread = None
            if isinstance(spread, dict):
                data["message"] = spread.pop("event", "")
                for key, value in spread.items():
                    data[key if key not in data else f"{key}_"] = value
        for key in CONTEXT_FIELDS:
            if key not in data and getattr(record, key, None) is not None:
                data[key] = getattr(record, key)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in data and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = logging.Formatter().formatException(record.exc_info)
        return data


class JsonLines(Fields, JsonFormatter):
    def __init__(self):
        JsonFormatter.__init__(self, json_ensure_ascii=False)

    def format(self, record):
        return self.jsonify_log_record(self.fields(record))


class Logfmt(Fields, BaseJsonFormatter):
    def format(self, record):
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in self.fields(record).items())


def _logfmt_value(value):
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if text and not any(c in text for c in ' ="\\\n') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


class Text(Fields, logging.Formatter):
    def format(self, record):
        data = self.fields(record)
        head = f"{data.pop('time')} {data.pop('level')} {data.pop('logger')} {data.pop('message')}"
        return " ".join([head, *(f"{key}={_logfmt_value(value)}" for key, value in data.items())])


FORMATTERS = {"json": JsonLines, "logfmt": Logfmt, "text": Text}


def formatter(fmt):
    if fmt not in FORMATTERS:
        raise ValueError(f"HALYARD_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return FORMATTERS[fmt]()


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self):
        super().__init__()
        self.name = HANDLER_NAME

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def handler(fmt):
    """A stderr handler with Halyard's formatter and context."""
    made = StderrHandler()
    made.setFormatter(formatter(fmt))
    made.addFilter(ContextFilter())
    return made


def configure(config):
    """Route every logger through one handler on the root logger (once per process; a later call with
    other settings replaces it). RQ adds no handler of its own when one is there."""
    root = logging.getLogger()
    for existing in [h for h in root.handlers if getattr(h, "name", None) == HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(handler(config["HALYARD_LOG_FORMAT"]))
    level = config["HALYARD_LOG_LEVEL"]
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin at import
    for name in ("halyard", "rq.worker", "rq.job", "rq.scheduler"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        for stray in [h for h in logger.handlers if not isinstance(h, StderrHandler)]:
            logger.removeHandler(stray)  # e.g. RQ's own colourising handlers
        logger.propagate = True
