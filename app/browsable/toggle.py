"""``?format=json|hal|hal-forms|html``: pick the representation from a link, not a header.

Browsers cannot set ``Accept`` on a link, so the raw-JSON toggle travels in the query.
It is handled here, before any view runs, and **only when the value names a representation**:
that ``format`` value is removed from ``request.args`` (so the strict §4 grammar never sees it)
and ``Accept`` is replaced by the chosen media type. Any other value (``format=csv``) is left
in the query only for a view whose grammar has a ``format`` of its own (the downloader's
``format`` filter, as its ``@api_doc`` collection declares); anywhere else it is a 400 naming
``format``, as the OpenAPI description says (an enum). Only GET and HEAD honour the toggle;
``format`` given twice is a 400, but for one representation and one value of a view's own
``format`` (``format=parquet&format=html``).
"""

from werkzeug.datastructures import ImmutableMultiDict

from app.ctx import current_app, request, request_object
from app.errors import QueryDidNotValidate
from app.hal import HAL_FORMS, HAL_JSON, HTML, JSON
from app.openapi.registry import metadata

FORMATS = {"json": JSON, "hal": HAL_JSON, "hal-forms": HAL_FORMS, "html": HTML}


def apply_format():
    """before_request: consume a representation ``format`` and set ``Accept`` accordingly."""
    req = request_object()
    query = req.environ.get("QUERY_STRING", "")
    if "format" not in query and "%" not in query:  # no ``format`` key can be in it: args not parsed
        return
    if req.method not in ("GET", "HEAD") or "format" not in req.args:
        return
    given = request.args.getlist("format")
    chosen = [v for v in given if v in FORMATS]
    own = request.url_rule is not None and _own_format()
    if len(chosen) > 1 or (len(given) > 1 and not (own and len(chosen) == 1 and len(given) == 2)):
        # twice: only a view with its own ``format`` takes one value of each (``format=csv&format=html``)
        raise QueryDidNotValidate(
            "Query parameter 'format': must not be repeated.", errors={"format": ["must not be repeated"]}
        )
    if not chosen:
        if request.url_rule is None or own:
            return  # no such resource (its 404 follows), or the view's own ``format`` parameter
        raise QueryDidNotValidate(
            f"Query parameter 'format': give one of: {', '.join(FORMATS)}.",
            errors={"format": [f"give one of: {', '.join(FORMATS)}"]},
        )
    chosen = chosen[0]
    request.args = ImmutableMultiDict(
        [(k, v) for k, v in request.args.items(multi=True) if not (k == "format" and v == chosen)]
    )
    request.environ["HTTP_ACCEPT"] = FORMATS[chosen]
    request.environ["halyard.format"] = chosen


def _own_format():
    """Whether the matched view reads a ``format`` of its own: its declared collection's grammar or its
    declared query parameters have one (app/openapi/registry.py)."""
    meta = metadata(current_app.view_functions.get(request.url_rule.endpoint), request.method)
    collection = meta.get("collection")
    if collection is not None and "format" in collection.variables():
        return True
    return any(p.get("name") == "format" and p.get("in") == "query" for p in meta.get("parameters") or ())
