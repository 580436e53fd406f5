"""The documentation viewer: Swagger UI over ``/openapi.json``, served by the app itself (no CDN).

Swagger UI's built files come from the ``flask-swagger-ui`` package (its ``dist/`` folder; the package's
own blueprint is not used: its page has an inline script, which the pages' CSP forbids). They are served
under ``/_browsable/swagger-ui/``; the page ``/_browsable/api-docs`` loads them plus ``api-docs.js``
(which starts Swagger UI on the description) and carries the pages' security headers, with ``data:``
images added for the icons inside Swagger UI's stylesheet. ``GET /`` links the page as ``service-doc``
(RFC 8631). Asked for anything but HTML, the page is a small HAL document linking the description.
"""

import os

import flask_swagger_ui
from flask import Blueprint, make_response, render_template, request

from app.browsable.response import PAGE_HEADER, PAGE_HEADERS
from app.hal import HTML, Document, negotiate
from app.representation import respond, url

DIST = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")
bp = Blueprint("apidocs", __name__, static_folder=DIST, static_url_path="/_browsable/swagger-ui")
# The pages' policy; Swagger UI's stylesheet draws its icons as data: SVG images (images only: an <img>
# or CSS background never runs script).
# Not marked as a page (PAGE_HEADER): browsable.js never swaps it in, it is always a full navigation.
DOCS_HEADERS = {
    **{k: v for k, v in PAGE_HEADERS.items() if k != PAGE_HEADER},
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self' blob:", "img-src 'self' blob: data:"
    ),
}


@bp.get("/_browsable/api-docs")
def viewer():
    """The API's documentation, rendered by Swagger UI from ``/openapi.json`` (``service-doc``)."""

    if negotiate(request.headers.get("Accept")) != HTML:
        doc = Document({"title": "Halyard API documentation"}, self_href=url("apidocs.viewer"))
        return respond(doc.link("service-desc", url("openapi.spec")))
    response = make_response(render_template("browsable/api_docs.html", spec=url("openapi.spec")))
    response.headers.update(DOCS_HEADERS)
    response.vary.add("Accept")
    return response
