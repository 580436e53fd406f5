"""``?format=json|hal|hal-forms|html``: pick the representation from a link, not a header.

Browsers cannot set ``Accept`` on a link, so the raw-JSON toggle travels in the query.
It is handled here, before any view runs, and **only when the value names a representation**:
that ``format`` value is removed from ``request.args`` (so the strict §4 grammar never sees it)
and ``Accept`` is replaced by the chosen media type. Any other value (``format=csv``) is left
in the query for the view: a resource with a ``format`` parameter of its own (the downloader's
``format`` filter) reads it, and a collection without one rejects it like any unknown parameter
(400 naming ``format``). Only GET and HEAD honour the toggle; two representation values are a 400.
"""

from flask import request
from werkzeug.datastructures import ImmutableMultiDict

from app.errors import QueryDidNotValidate
from app.hal import HAL_FORMS, HAL_JSON, HTML, JSON

FORMATS = {"json": JSON, "hal": HAL_JSON, "hal-forms": HAL_FORMS, "html": HTML}


def apply_format():
    """before_request: consume a representation ``format`` and set ``Accept`` accordingly."""
    if request.method not in ("GET", "HEAD") or "format" not in request.args:
        return
    chosen = [v for v in request.args.getlist("format") if v in FORMATS]
    if not chosen:
        return  # not the toggle: the view's own ``format`` parameter (or its grammar's 400)
    if len(chosen) > 1:
        raise QueryDidNotValidate(
            "More than one representation.", errors={"format": [f"give one of: {', '.join(FORMATS)}"]}
        )
    request.args = ImmutableMultiDict(
        [(k, v) for k, v in request.args.items(multi=True) if not (k == "format" and v in FORMATS)]
    )
    request.environ["HTTP_ACCEPT"] = FORMATS[chosen[0]]
    request.environ["halyard.format"] = chosen[0]
