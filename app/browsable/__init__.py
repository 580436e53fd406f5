"""The browsable API: every HAL document and problem rendered as an HTML page for browsers.

``init_app`` installs the page renderer through ``app.hal.set_html_renderer``, serves
the CSS/JS under ``/_browsable/static/``, honours ``?format=`` (the raw-representation
toggle) before any view parses the query, and fills each page's status/headers panel
once the response is final; ``docs.py`` serves the documentation viewer (Swagger UI).
Nothing here knows any domain: pages are built from the document alone (docs/browsable.md).
"""

from flask import Blueprint

from app.browsable.docs import bp as docs_bp
from app.browsable.page import render_page
from app.browsable.response import fill_response_panel
from app.browsable.toggle import FORMATS, apply_format
from app.hal import set_html_renderer
from app.resources.root import register_entry

bp = Blueprint(
    "browsable",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/_browsable/static",
)

__all__ = ["FORMATS", "bp", "init_app"]


def init_app(app):

    set_html_renderer(render_page)
    app.register_blueprint(bp)
    app.register_blueprint(docs_bp)
    register_entry(app, "service-doc", "apidocs.viewer", title="API documentation (Swagger UI)")
    app.before_request(apply_format)
    # First in the list runs last (Flask runs after_request functions in reverse), so the
    # panel shows the final headers, X-Request-ID and CORS included.
    app.after_request_funcs.setdefault(None, []).insert(0, fill_response_panel)
