"""``?format=json|hal|hal-forms|html``: pick the representation from a link, not a header.

Browsers cannot set ``Accept`` on a link, so the raw-JSON toggle travels in the query.
It is handled here, before any view runs: the parameter is removed from
``request.args`` (so the strict §4 grammar never sees it) and ``Accept`` is replaced
by the chosen media type. Only GET and HEAD honour it; an unknown value is a 400
naming ``format``. ``format`` is therefore a reserved query parameter on every path.
"""

from flask import request
from werkzeug.datastructures import ImmutableMultiDict

from app.errors import QueryDidNotValidate
from app.hal import HAL_FORMS, HAL_JSON, HTML, JSON

FORMATS = {"json": JSON, "hal": HAL_JSON, "hal-forms": HAL_FORMS, "html": HTML}


def apply_format():
    """before_request: consume ``format`` and set ``Accept`` accordingly."""
    if request.method not in ("GET", "HEAD") or "format" not in request.args:
        return
    values = request.args.getlist("format")
    if len(values) > 1 or values[0] not in FORMATS:
        raise QueryDidNotValidate(
            "Unknown format.", errors={"format": [f"must be one of: {', '.join(FORMATS)}"]}
        )
    request.args = ImmutableMultiDict([(k, v) for k, v in request.args.items(multi=True) if k != "format"])
    request.environ["HTTP_ACCEPT"] = FORMATS[values[0]]
    request.environ["halyard.format"] = values[0]
