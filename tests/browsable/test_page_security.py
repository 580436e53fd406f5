"""Browsable pages carry a strict CSP and the page mark; nothing else does (docs/security.md).

Every page (every parameterless GET of every domain, problems, a page showing hostile values) sends
``PAGE_HEADERS`` and has no inline script, style or event handler for that CSP to block; JSON and
stored files never carry ``X-Halyard-Page``, the only mark browsable.js accepts before it swaps a
response into the document. A stored HTML file that holds the page's panel marker comes back byte
for byte. The script itself never parses markup it was handed (no innerHTML and the like).
"""

import os
import re

import pytest
from browsable_fixtures import widgets  # noqa: F401  (no conftest here: it would shadow tests/conftest)
from bs4 import BeautifulSoup

from app.browsable.response import PAGE_HEADER, PANEL_MARKER
from tests.hostile_files import html
from tests.resources.datamanager_support import create_space, upload

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}
SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "app", "browsable", "static", "browsable.js")


def assert_strict_page(response, what):
    assert response.mimetype == "text/html", what
    assert {d.strip() for d in response.headers["Content-Security-Policy"].split(";")} == CSP, what
    assert response.headers["X-Frame-Options"] == "DENY", what
    assert response.headers["Referrer-Policy"] == "same-origin", what
    assert response.headers["X-Content-Type-Options"] == "nosniff", what
    assert response.headers[PAGE_HEADER] == "1", what
    soup = BeautifulSoup(response.data, "html.parser")
    scripts = soup.find_all("script")
    assert [s["src"] for s in scripts] == ["/_browsable/static/browsable.js"], what  # no inline script
    assert not soup.find_all("style") and not soup.find_all(style=True), what  # no inline style
    handlers = [(tag.name, a) for tag in soup.find_all(True) for a in tag.attrs if a.lower().startswith("on")]
    assert not handlers and not soup.find("base"), (what, handlers)
    return soup


@pytest.mark.fresh_app
def test_every_page_carries_the_strict_policy(app, widgets, client, admin_headers):
    paths = sorted(
        r.rule
        for r in app.url_map.iter_rules()
        if "GET" in r.methods
        and not r.arguments
        and not r.endpoint.endswith("static")
        and r.endpoint not in ("openapi.spec", "apidocs.viewer")  # Swagger UI's page: its own test below
    )
    pages = 0
    for path in paths:
        response = client.get(path, headers={**BROWSER, **admin_headers})
        if response.mimetype == "text/html":
            assert_strict_page(response, path)
            pages += 1
    assert pages > 15
    assert_strict_page(client.get("/no/such/path", headers=BROWSER), "404 problem")
    assert_strict_page(client.get("/jobs/", headers=BROWSER), "401 problem")
    assert_strict_page(client.get("/jobs/?colour=red", headers={**BROWSER, **admin_headers}), "400 problem")


@pytest.mark.fresh_app
def test_hostile_values_on_a_page_stay_text(widgets, client, user_headers):
    evil = '<img src=x onerror="pwned()"><script>pwned()</script><style>*{}</style>'  # label: <= 80
    etag = client.get("/test-widgets/box", headers=user_headers).headers["ETag"]
    put = client.put("/test-widgets/box", json={"label": evil}, headers={**user_headers, "If-Match": etag})
    assert put.status_code == 200
    soup = assert_strict_page(client.get("/test-widgets/box", headers={**BROWSER, **user_headers}), "box")
    assert evil in soup.select_one("section.resource table.props").get_text()


def test_json_and_stored_files_never_carry_the_page_mark(client, user_headers):
    assert PAGE_HEADER not in client.get("/", headers={"Accept": "application/hal+json"}).headers
    assert PAGE_HEADER not in client.get("/", headers={"Accept": "application/json"}).headers
    space = create_space(client, user_headers)
    body = html("http://127.0.0.1:9").replace(b"<body>", b"<body>" + PANEL_MARKER.encode())
    r = upload(client, space["_links"]["ec:assets"]["href"], user_headers, (body, "report.html", "text/html"))
    asset = client.get(r.headers["Location"], headers=user_headers).get_json()
    for fmt in ("", "?format=html"):  # a browser's Accept, and the toggle that asks for a page
        served = client.get(asset["files"][0]["url"] + fmt, headers={**BROWSER, **user_headers})
        assert served.status_code == 200 and served.data == body  # not a page: the marker is left alone
        assert PAGE_HEADER not in served.headers and "Vary" not in served.headers
        assert served.headers["Content-Security-Policy"].startswith("sandbox;")
        assert served.headers["Content-Disposition"].startswith("attachment")


def test_the_script_never_parses_markup_it_was_handed():
    with open(SCRIPT, encoding="utf-8") as fh:
        script = fh.read()
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "createContextualFragment",
        "srcdoc",
    ):
        assert sink not in script, sink
    # DOMParser is used once, in swap(), and swap() runs only for a response marked as a Halyard page
    assert script.count("DOMParser") == 1 and re.search(r"if \(page\) swap\(text\)", script)
    assert f"'{PAGE_HEADER}'" in script and "isHalyardPage(resp)" in script


def test_the_documentation_viewer_keeps_the_policy_with_data_images_for_its_icons(client):
    response = client.get("/_browsable/api-docs", headers=BROWSER)
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = {d.strip() for d in response.headers["Content-Security-Policy"].split(";")}
    assert csp == (CSP - {"img-src 'self' blob:"}) | {"img-src 'self' blob: data:"}
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert PAGE_HEADER not in response.headers  # never swapped into a page by browsable.js
    soup = BeautifulSoup(response.data, "html.parser")
    assert all(s.get("src", "").startswith("/_browsable/") for s in soup.find_all("script"))
    assert not soup.find_all("style") and not soup.find_all(style=True)
