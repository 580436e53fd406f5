"""Request inputs: the size cap (chunked bodies too), JSON parsing with its limits, text no column stores,
integer ranges. docs/security.md "Input limits" lists every limit and its tests.

- ``check_request`` runs before every view (one hook: ``limit_size``, then ``check_text``): a body
  past ``MAX_CONTENT_LENGTH`` (HALYARD_MAX_UPLOAD_BYTES) is a 413 on every route, before
  authentication. A chunked body (no Content-Length) is read into a spooled temporary file first, so it
  is refused past the cap instead of being cut at it, and the view then sees an ordinary body of known
  length.
- ``parse_json`` is the one JSON parser of request bodies (``app.representation.json_body`` calls it):
  400 BODY_JSON_DID_NOT_PARSE for broken JSON, nesting past ``MAX_JSON_DEPTH``, NaN/Infinity and numbers
  past a 64-bit float; 400 BODY_DID_NOT_VALIDATE naming the field for text no database column stores.
- The same text is refused in the path (404), the query (``check_text``, before every view) and form
  fields (``Request``, when a view first reads the form): PostgreSQL text cannot hold U+0000.
- ``INT32``/``int32()``: the marshmallow range of an integer body field stored in an SQL INTEGER column.
"""

import json
import math
import re
import tempfile

import flask
from marshmallow import validate
from werkzeug.exceptions import RequestEntityTooLarge

from app.ctx import current_app, g, request, request_object
from app.errors import BodyDidNotValidate, BodyJsonDidNotParse, NotFound, QueryDidNotValidate
from app.hal.grammar import INT32_MAX

MAX_QUERY_VALUE = 2000  # characters of one query parameter's value (a cursor is ~100-300; ids lists fit)
MAX_JSON_DEPTH = 64  # arrays and objects inside each other; Halyard's deepest real bodies (schemas) use ~10
SPOOL_IN_MEMORY = 1024 * 1024  # a chunked body moves from memory to an unlinked temporary file past this
_READ = 64 * 1024
# PostgreSQL text and jsonb cannot store U+0000, and no UTF-8 column stores a lone surrogate ("\ud800").
# Werkzeug decodes paths, queries and forms with errors="replace", so only JSON strings can hold surrogates.
_UNSTORABLE = re.compile("[\0\ud800-\udfff]")
UNSTORABLE = "The NUL character (\\u0000) and unpaired surrogates (\\ud800-\\udfff) are not accepted."


def int32(low=-INT32_MAX - 1):
    """The range of an SQL INTEGER column, from ``low``: a bigger value is a 400 naming the field."""
    return validate.Range(min=low, max=INT32_MAX)


INT32 = int32()


def too_large(cap):
    return RequestEntityTooLarge(f"The request body is larger than {cap} bytes (HALYARD_MAX_UPLOAD_BYTES).")


def check_request():
    """``before_request``, before authentication: the body's size, then the text of the path and query."""
    req = request_object()
    limit_size(req)
    check_text(req)


def limit_size(req):
    """413 for any body past the cap; a chunked body is read (up to the cap) first."""
    cap = current_app.config.get("MAX_CONTENT_LENGTH")
    environ = req.environ
    if not cap:
        return
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Only a server that ends the stream itself (gunicorn, werkzeug's) gives a readable chunked body;
        # without wsgi.input_terminated werkzeug reads it as empty.
        if environ.get("wsgi.input_terminated"):
            _spool(environ, cap)
        return
    if environ.get("CONTENT_LENGTH") and req.content_length is not None and req.content_length > cap:
        raise too_large(cap)  # (no Content-Length, as on most reads: no length to parse)


def _spool(environ, cap):
    """Replace the chunked input by a spooled copy of at most ``cap`` bytes, or raise 413."""
    spool = g.body_spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    size, source = 0, environ["wsgi.input"]
    while chunk := source.read(_READ):
        size += len(chunk)
        if size > cap:
            raise too_large(cap)
        spool.write(chunk)
    spool.seek(0)
    environ.update({"wsgi.input": spool, "CONTENT_LENGTH": str(size)})
    del environ["HTTP_TRANSFER_ENCODING"]
    request.__dict__.pop("content_length", None)  # a cached_property: read again from the new environ


def check_text(req):
    """No NUL in the path (no resource has one: 404); in a query parameter no NUL and at most
    MAX_QUERY_VALUE characters (400 naming it; the OpenAPI description says both)."""
    environ = req.environ
    if "\0" in environ.get("PATH_INFO", ""):  # request.path, before werkzeug decodes it to str
        raise NotFound(description="No resource has a NUL character (%00) in its path.")
    query = environ.get("QUERY_STRING", "")
    if len(query) <= MAX_QUERY_VALUE and "%00" not in query and "\0" not in query:
        return  # no value in request.args can hold a NUL or be longer (decoding never lengthens)
    for key, value in req.args.items(multi=True):
        if "\0" in key or "\0" in value:
            raise QueryDidNotValidate(
                f"Query parameter {key!r}: the NUL character (%00) is not accepted.",
                errors={key: ["The NUL character (%00) is not accepted."]},
            )
        if len(value) > MAX_QUERY_VALUE:
            raise QueryDidNotValidate(
                f"Query parameter {key[:100]!r}: longer than {MAX_QUERY_VALUE} characters.",
                errors={key[:100]: [f"longer than {MAX_QUERY_VALUE} characters"]},
            )


class Request(flask.Request):
    """Flask's request whose form, when a view first reads it, refuses a field holding NUL (400 naming it)."""

    def _load_form_data(self):
        super()._load_form_data()
        for key, value in self.form.items(multi=True):
            if "\0" in key or "\0" in value:
                raise BodyDidNotValidate(errors={key: [UNSTORABLE]})


def close_spool(exc=None):
    spool = g.pop("body_spool", None)
    if spool is not None:
        spool.close()


class _Refused(ValueError):
    """A JSON value Halyard does not accept (raised from inside ``json.loads``)."""


def _finite(text):
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"the number {text[:40]} is too large (numbers are 64-bit floats)")
    return value


def _no_constant(name):
    raise _Refused(f"{name} is not a JSON number")


def parse_json(data):
    """The JSON value of the body bytes ``data``, checked for depth and storable text (see the docstring)."""
    try:
        text = data.decode(json.detect_encoding(data))
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except _Refused as exc:
        raise BodyJsonDidNotParse(f"The request body is not accepted JSON: {exc}.") from None
    except RecursionError:  # the C parser stops near the interpreter's recursion limit, before the stack
        raise _too_deep() from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        detail = str(exc) if isinstance(exc, json.JSONDecodeError) else "it is not UTF-8, UTF-16 or UTF-32"
        raise BodyJsonDidNotParse(f"The request body is not valid JSON: {detail}.") from None
    _check_tree(value)
    return value


def _too_deep():
    return BodyJsonDidNotParse(f"The JSON body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels.")


def _check_tree(value):
    """Depth and storable text of every key and string, walked without recursion.

    Paths are kept as (parent, key) chains and only joined ("spec.filters.0.value") for the error.
    """
    stack = [(value, None, 1)]
    while stack:
        item, chain, depth = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise _unstorable(chain)
            continue
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        for key, child in children:
            if isinstance(key, str) and _UNSTORABLE.search(key):
                raise _unstorable((chain, key))
            stack.append((child, (chain, key), depth + 1))


def _unstorable(chain):
    keys = []
    while chain is not None:
        chain, key = chain
        keys.append(str(key))
    return BodyDidNotValidate(errors={".".join(reversed(keys)) or "_schema": [UNSTORABLE]})


def init_app(app):
    app.request_class = Request
    app.before_request(check_request)
    app.teardown_request(close_spool)
