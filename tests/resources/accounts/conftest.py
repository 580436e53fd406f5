"""Helpers for the accounts tests: an HTML form parser and a real JWKS server on 127.0.0.1."""

import http.server
import json
import threading
from html.parser import HTMLParser

import pytest


class FormParser(HTMLParser):
    """Collect every <form>: action, method and its named inputs/textareas (type and value)."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self.tags = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action"),
                    "method": (attrs.get("method") or "get").lower(),
                    "fields": {},
                }
            )
        elif tag in ("input", "textarea") and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = {
                "type": attrs.get("type", tag),
                "value": attrs.get("value", ""),
            }


def parse_forms(html_text):
    parser = FormParser()
    parser.feed(html_text)
    return parser


class JwksServer:
    """Serves ``self.jwks`` as JSON at /jwks.json from a real http.server thread."""

    def __init__(self):
        self.jwks = {"keys": []}
        self.hits = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.hits += 1
                body = json.dumps(owner.jwks).encode()
                self.send_response(200 if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def jwks_server():
    server = JwksServer()
    yield server
    server.close()
