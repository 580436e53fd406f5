"""A real HTTP server on 127.0.0.1 answering fixed routes, for tests that need something to fetch.

``with serve_routes({"/path": (status, content type, body)}) as base:`` serves until the block ends;
other paths are 404. The mapping is read per request, so a test may add routes once it knows ``base``;
``on_request(path)`` (optional) sees every request first, e.g. to record what a browser asked for.
``serving(server)`` runs any ``socketserver``-style server on a thread for a block (the live app too).
"""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve_routes(routes, on_request=None):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if on_request is not None:
                on_request(self.path)
            status, ctype, body = routes.get(self.path, (404, "text/plain", b"missing"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as base:
        yield base


@contextmanager
def serving(server):
    """Serve ``server`` (bound to 127.0.0.1) on a thread until the block ends; yields its base URL."""
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
