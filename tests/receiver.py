"""A real HTTP receiver on 127.0.0.1 for scheduled POSTs: it records every request and answers from a
per-schedule script; a POST can be held open (``holds``) or run a hook first (``on_post``), which is how
tests stage what happens while a delivery is on the wire."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers from a per-schedule script."""

    def __init__(self):
        self.received, self.scripts, self.lock = [], {}, threading.Lock()
        self.holds = {}  # schedule id -> Event: its POSTs get no answer until the event is set (bounded)
        self.on_post = {}  # schedule id -> callable run (in the server's thread) before the answer
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                schedule = self.headers.get("X-Halyard-Schedule")
                with receiver.lock:
                    receiver.received.append(
                        {"at": time.time(), "headers": dict(self.headers), "body": body, "schedule": schedule}
                    )
                    script = receiver.scripts.get(schedule) or []
                    status = script.pop(0) if script else 200
                    hold = receiver.holds.get(schedule)
                    hook = receiver.on_post.get(schedule)
                if hook is not None:
                    hook()
                if hold is not None:
                    hold.wait(30)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answered {status}".encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, schedule_id):
        with self.lock:
            return [r for r in self.received if r["schedule"] == schedule_id]
