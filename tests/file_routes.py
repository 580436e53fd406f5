"""Find every route that serves a stored file (from the URL map and the views' bytecode); check its headers.

A view serves a stored file when its code, or a function of this project it calls (followed through
globals and attributes of imported modules), reaches ``app.storage.send``. Reaching Flask's or
Werkzeug's ``send_file``/``send_from_directory`` any other way is refused: every stored file leaves
through ``storage.send`` (docs/security.md). Flask's own ``static`` endpoints (Halyard's CSS/JS) are
not stored files and are skipped. ``assert_inert(headers)`` is what every stored-file answer carries.
"""

import dis
import inspect
import os
import types

import flask
import werkzeug.utils
from werkzeug.http import parse_options_header

from app import storage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(storage.__file__))) + os.sep
# The policy, restated so that widening app.storage.INLINE_TYPES fails a test.
INLINE = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
}
RAW_SENDERS = (
    flask.send_file,
    flask.send_from_directory,
    werkzeug.utils.send_file,
    werkzeug.utils.send_from_directory,
)


def _referenced(fn):
    """What ``fn``'s code (nested code too) loads as a global, or as an attribute of a global module."""
    codes, found = [fn.__code__], []
    while codes:
        code = codes.pop()
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        module = None
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                value = fn.__globals__.get(ins.argval)
                module = value if isinstance(value, types.ModuleType) else None
                found.append(value)
            elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and module is not None:
                found.append(getattr(module, ins.argval, None))
                module = None
    return found


def _ours(fn):
    path = fn.__code__.co_filename
    return path.startswith(ROOT) and "site-packages" not in path


def _reached(fn, seen):
    """Which senders ``fn`` can call through this project's functions: {"storage.send", "raw"} or fewer."""
    fn = inspect.unwrap(fn)
    if not isinstance(fn, types.FunctionType) or fn in seen:
        return set()
    seen.add(fn)
    found = set()
    for candidate in _referenced(fn):
        if candidate is storage.send:
            found.add("storage.send")
        elif any(candidate is sender for sender in RAW_SENDERS):
            found.add("raw")
        elif isinstance(candidate, types.FunctionType) and _ours(candidate):
            found |= _reached(candidate, seen)
    return found


def file_routes(app):
    """{endpoint: rule} of every view that serves a stored file; raw senders anywhere are an error."""
    routes, raw = {}, []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue  # Flask's own static files: Halyard's CSS/JS, never a user's
        reached = _reached(app.view_functions[rule.endpoint], set())
        if "raw" in reached:
            raw.append(rule.endpoint)
        if "storage.send" in reached:
            routes[rule.endpoint] = rule.rule
    assert not raw, f"views sending files around app.storage.send: {raw}"
    return routes


def assert_inert(headers, what):
    """The file is sandboxed, never sniffed, and an attachment unless inline-safe; returns the disposition."""
    csp = [d.strip() for d in headers.get("Content-Security-Policy", "").split(";")]
    assert "sandbox" in csp and "default-src 'none'" in csp, (what, csp)
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    disposition = headers.get("Content-Disposition", "inline").split(";")[0].strip().lower()
    assert disposition in ("inline", "attachment"), (what, disposition)
    mimetype, params = parse_options_header(headers.get("Content-Type", ""))
    if disposition == "inline":
        assert mimetype in INLINE, (what, headers.get("Content-Type"))
        if mimetype.startswith("text/"):
            assert params.get("charset") == "utf-8", (what, headers.get("Content-Type"))
    return disposition
