"""The fault-injection matrix (issue 13): kill -9 of {the worker's main process, the job's work horse, the RQ
scheduler, Redis} during each kind of job {data source processing, step job, download request, scheduled
run}, against a real ``halyard start`` (docs/security.md "The fault-injection matrix").

Each job is held mid-way by something on 127.0.0.1 the test controls (a CSV that does not end, a step
that waits for a file in its work folder, a download adapter that waits for a file, a receiver that does
not answer), then the process is killed and the job let go. After each kill:

- the service answers: ``GET /`` is 200, and while Redis is down a call that needs it is a 503
  problem+json with Retry-After;
- every row that tracks work (job records, data sources, step runs, download requests, scheduled runs)
  reaches a final state within a bounded time: failed when its job died with the kill (worker, work
  horse), finished when the job survived it (the RQ scheduler is not in a job's way, and a job rides out
  a Redis outage);
- nothing is done twice: the receiver got the scheduled POST once, the CSV was fetched once, the adapter
  ran once, the step ran in one run;
- storage holds no file that no row references, and no temporary folder (``.download-*`` ...);
- the worker serves again: a new job finishes, and the RQ scheduler moves scheduled jobs again.

One instance per kill serves its four cells in turn (``shared_halyard``; a failed cell discards it), so
each cell also starts from an instance that has recovered from the cell before. The instance's
reconciler runs every second and sweeps what has been idle for 3 s. In the PostgreSQL +
Redis server suite (REDIS_URL), the Redis cells give the instance a redis-server of the test's own (a
shared server is never killed), which comes back empty, as a restarted server without persistence does.
"""

import io
import json
import os
import threading
import uuid
from datetime import timedelta

import pytest
from faultkit import (
    RedisServer,
    SlowCsv,
    answers_without_redis,
    gone,
    held_work_environment,
    poll,
    redis_outage,
)
from rq import Queue
from rq.job import Job
from sqlalchemy import select

from tests.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout_sensitive]  # real processes, killed mid-way

BOUND = 150  # seconds for a row to settle: a loaded shared machine restarts a worker in ~20 s
SPEC = [{"name": "id", "type": "INTEGER", "is_nullable": False, "size": 10, "distribution": None}]
HELD_STEP = (
    b"import os\nimport time\n\n\ndef transform(rows, params):\n"
    b"    deadline = time.monotonic() + 100\n"
    b"    while not os.path.exists('release') and time.monotonic() < deadline:\n"
    b"        time.sleep(0.1)\n"
    b"    return rows\n"
)


class Work:
    """One kind of job on an instance: ``start()``, ``midway()``, ``release()``, ``outcome()`` (the
    tracking row's status), ``runs()`` (how many times the work was done or sent), ``close()``."""

    final = {}  # "ok"/"failed" -> the tracking row's status

    def __init__(self, instance):
        self.instance = instance

    def post(self, path, expected=201, **kwargs):
        response = self.instance.request("POST", path, **kwargs)
        assert response.status_code == expected, response.text
        return response.json()

    def project(self):
        return self.post("/api/v1/projects/", json={"title": "faults", "members": []})["id"]

    def job_status(self, job_id):
        rows = self.instance.query("SELECT status FROM jobs WHERE id = :id", id=job_id)
        return rows[0][0] if rows else None

    def close(self):
        pass


class Source(Work):
    """An ``api`` data source whose CSV never ends until released."""

    final = {"ok": "ready", "failed": "error"}

    def start(self):
        self.csv = SlowCsv()
        data = {"project": str(self.project()), "name": "slow", "type": "api", "url": self.csv.url}
        self.id = self.post("/api/v1/datasources", data=data)["id"]

    def row(self):
        return self.instance.query("SELECT status, job_id FROM datasources WHERE id = :id", id=self.id)[0]

    def midway(self):
        return self.csv.requests and self.job_status(self.row()[1]) == "started"

    def release(self):
        self.csv.release()

    def outcome(self):
        return self.row()[0]

    def runs(self):
        return self.csv.requests

    def close(self):
        self.csv.close()


class Steps(Work):
    """A step job whose script waits for a file named ``release`` in its own work folder."""

    final = {"ok": "finished", "failed": "failed"}

    def start(self):
        files = {"file": ("people.csv", io.BytesIO(b"name,age\nAnn,31\nBob,40\n"))}
        source = self.post(
            "/api/v1/datasources",
            data={"project": str(self.project()), "name": "people", "type": "file"},
            files=files,
        )
        assert source["status"] == "ready", source
        script = {"script": ("held.py", io.BytesIO(HELD_STEP))}
        self.post(f"/api/v1/datasources/{source['id']}/script-upload", files=script)
        steps = {"steps": [{"key": "upload:held", "exec_order": 1}]}
        self.source = source["id"]
        self.id = self.post(f"/api/v1/datasources/{self.source}/job", expected=201, json=steps)["id"]

    def folders(self):
        tmp = self.instance.env["TMPDIR"]
        return [os.path.join(tmp, n, "work") for n in os.listdir(tmp) if n.startswith("halyard-step-")]

    def midway(self):
        status, steps = self.instance.query(
            "SELECT status, steps FROM datasource_jobs WHERE id = :id", id=self.id
        )[0]
        steps = json.loads(steps) if isinstance(steps, str) else steps
        return status == "running" and steps[0]["status"] == "running" and self.folders()

    def release(self):
        for work in self.folders():
            try:
                open(os.path.join(work, "release"), "w").close()
            except FileNotFoundError:  # the step is over and its folder removed
                pass

    def outcome(self):
        return self.instance.query("SELECT status FROM datasource_jobs WHERE id = :id", id=self.id)[0][0]

    def runs(self):
        return len(
            self.instance.query("SELECT id FROM datasource_jobs WHERE datasource_id = :id", id=self.source)
        )


class Download(Work):
    """A download request whose adapter writes rows until a file exists."""

    final = {"ok": "finished", "failed": "failed"}

    def start(self):
        item = self.post(
            "/catalogue/items/", json={"name": "held", "executor_type": "DATABRICKS", "spec": SPEC}
        )
        spec = {"columns": ["id"], "filters": [], "randomize_ratio": 1.0}
        self.id = self.post("/downloader/requests/", json={"catalogue_item_id": item["id"], "spec": spec})[
            "id"
        ]

    def midway(self):  # the adapter runs, in the request's work folder
        root = os.path.join(self.instance.instance, "files")
        running = self.outcome() == "running" and self.runs() == 1
        return running and any(n.startswith(f".download-{self.id}-") for n in os.listdir(root))

    def release(self):
        open(os.path.join(self.instance.env["FAULTS_RELEASE"], str(self.id)), "w").close()

    def outcome(self):
        return self.instance.query("SELECT status FROM download_requests WHERE id = :id", id=self.id)[0][0]

    def runs(self):
        try:
            with open(os.path.join(self.instance.env["FAULTS_RELEASE"], "calls")) as fh:
                return fh.read().split().count(str(self.id))
        except FileNotFoundError:  # no adapter has run yet
            return 0


class HoldAll(dict):
    """The receiver's ``holds`` for every schedule: one event."""

    def __init__(self, event):
        super().__init__()
        self.event = event

    def get(self, key, default=None):
        return self.event


class Delivery(Work):
    """A scheduled run (one send) whose POST the receiver holds unanswered until released."""

    final = {"ok": "sent", "failed": "failed"}

    def start(self):
        self.receiver, self.hold = Receiver(), threading.Event()
        self.receiver.holds = HoldAll(self.hold)  # before the schedule exists: its first POST may be quick
        body = {"endpoint": self.receiver.url, "interval_definition": "1 seconds", "frequency": 1}
        self.schedule = self.post("/api/v1/schedule/", json=body)["id"]

    def midway(self):
        return self.runs() == 1

    def release(self):
        self.hold.set()

    def outcome(self):
        from app.resources.scheduler.models import ScheduleRun

        statement = select(ScheduleRun.status).where(ScheduleRun.schedule_id == uuid.UUID(self.schedule))
        rows = self.instance.query(statement)
        return rows[0][0] if rows else None

    def runs(self):
        return len(self.receiver.of(self.schedule))

    def close(self):
        self.hold.set()
        self.receiver.server.shutdown()
        self.receiver.server.server_close()


KINDS = {"source": Source, "steps": Steps, "download": Download, "delivery": Delivery}
KILLS = ["worker", "horse", "scheduler", "redis"]
SURVIVES = {"scheduler", "redis"}  # kills that leave the job running: it finishes once released


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    """A redis-server of the module's own, for the Redis cells of the REDIS_URL suite (started lazily)."""
    servers = []

    def get():
        if not servers:
            servers.append(RedisServer(tmp_path_factory.mktemp("redis")))
            servers[0].start()
        return servers[0]

    yield get
    for server in servers:
        if server.proc.poll() is None:
            server.kill()


CELLS = [(kill, kind) for kill in KILLS for kind in KINDS]  # in order of kills: one instance per kill


@pytest.mark.parametrize("kill,kind", CELLS, ids=[f"{kill}-{kind}" for kill, kind in CELLS])
def test_kill_9_during_a_job(request, shared_halyard, own_redis, kill, kind):
    server = own_redis() if kill == "redis" and os.environ.get("REDIS_URL") else None
    instance = shared_halyard(
        kill, lambda folder: {"redis_url": server and server.url, "env": held_work_environment(folder)}
    )
    work = KINDS[kind](instance)
    try:
        work.start()
        poll(work.midway, timeout=BOUND)
        if kill == "redis":
            with redis_outage(instance, server):
                answers_without_redis(instance)
        else:
            target = instance.worker() if kill == "worker" else instance.forked()[kill]
            target.kill()
            poll(lambda: gone(target), timeout=30)
        work.release()

        poll(lambda: instance.request("GET", "/").status_code == 200, timeout=BOUND)
        assert poll(lambda: instance.unfinished() == [] and [True], timeout=BOUND)
        outcome = work.outcome()
        assert outcome == work.final["ok" if kill in SURVIVES else "failed"], outcome
        assert work.runs() == 1  # nothing done or sent twice
        poll(lambda: instance.leftovers() == [] and [True], timeout=60)

        # the worker serves again (after a Redis kill, once Redis is back: a 503 until then)
        body = {"steps": 1, "delay": 0}
        probe = poll(
            lambda: (
                (r := instance.request("POST", "/api/health/probe", json=body)).status_code == 202
                and r.headers["Location"]
            ),
            timeout=BOUND,
        )
        poll(lambda: instance.job(probe)["status"] == "finished", timeout=BOUND)
        scheduled = Queue(f"{instance.prefix}-default", connection=instance.redis()).enqueue_in(
            timedelta(seconds=1), "app.jobs.probe.probe", 1, 0.0, job_id=str(uuid.uuid4())
        )  # and an RQ scheduler moves scheduled jobs again
        poll(
            lambda: Job.fetch(scheduled.id, connection=instance.redis()).get_status() == "finished",
            timeout=BOUND,
        )
    except BaseException:
        shared_halyard.discard()  # the next cell starts on a fresh instance
        raise
    finally:
        work.close()
