"""The response side of a browsable page: its status/headers panel and its security headers.

``fill_response_panel`` (an after_request hook that runs last) replaces the page's marker with the
final status and headers, and gives every page ``render_page`` made (``g.halyard_page``) a strict CSP
and the ``X-Halyard-Page`` header: the only mark browsable.js accepts before it puts a response into
the document as HTML (docs/security.md, "User files are never active in Halyard's origin").
"""

import html

from app.ctx import g, request

PANEL_MARKER = "<!--halyard:response-panel-->"
PAGE_HEADER = "X-Halyard-Page"
# Only Halyard's own static script and stylesheet run on a page (no inline script or style, so injected
# markup could not run even if it got in); nothing frames it; no <base> or form can point it elsewhere.
# Images: Halyard's own, or blob: URLs browsable.js made of a raster thumbnail it fetched with credentials.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    PAGE_HEADER: "1",
}
# Headers worth showing; the rest (Date, Server, ...) are noise in a page.
HIDDEN_HEADERS = {"content-length", "date", "server"}


def _panel(response):
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in response.headers.items()
        if name.lower() not in HIDDEN_HEADERS
    )
    etag = response.headers.get("ETag", "")
    return (
        f'<p class="status status-{response.status_code // 100}xx" data-status="{response.status_code}">'
        f"{html.escape(request.method)} → <strong>{html.escape(response.status)}</strong></p>"
        f'<details class="headers"><summary>Response headers</summary><table>{rows}</table></details>'
        f'<meta name="halyard-etag" content="{html.escape(etag)}">'
    )


def fill_response_panel(response):
    """after_request (runs last): put the final status and headers into the page; mark it as a page.

    A page names who is signed in (and shows only their templates), so it varies on Authorization
    too: a browser must not answer a signed-in navigation from an anonymous page in its cache.
    Only a response ``render_page`` made gets ``PAGE_HEADERS``; a stored file (sent by
    ``app.storage.send``, a passthrough response) never does.
    """
    if response.status_code == 304 and request.accept_mimetypes.best == "text/html":
        response.vary.add("Authorization")
    if response.mimetype != "text/html" or response.direct_passthrough or response.status_code == 304:
        return response
    response.vary.add("Authorization")
    if g.get("halyard_page"):
        response.headers.update(PAGE_HEADERS)
    body = response.get_data(as_text=True)
    if PANEL_MARKER in body:
        response.set_data(body.replace(PANEL_MARKER, _panel(response), 1))
    return response
