"""The SPARK executor through Spark Connect: a real Spark Connect server (``spark-submit --class
…SparkConnectServer`` from the pyspark package, local[2], on 127.0.0.1) started once for the module, the
jobs connecting to it as thin gRPC clients (HALYARD_SPARK_REMOTE=sc://127.0.0.1:PORT) — no JVM in the
job's process. The same sample as DuckDB, the same file as LOCAL through the real job, a cancellation,
and nothing left in the work folder."""

import os
import socket
import threading
import time

import duckdb
import psutil
import pytest

from app import storage
from app.extensions import db
from app.jobs import JobError, get_redis
from app.resources.datasources.tables import parquet_rows
from app.resources.downloader import executors, local, spark
from app.resources.downloader.jobs import run_download
from app.resources.downloader.models import DownloadRequest
from tests.conftest import stop
from tests.resources.catalogue.test_downloader_spark_cluster import _stop, _wait_for, free_port

pytestmark = [pytest.mark.spark, pytest.mark.e2e]

SERVER_CONF = {
    "spark.sql.files.maxPartitionBytes": "262144",  # several tasks (and part files) even for small tables
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """``(sc://127.0.0.1:PORT, its process)``: a Spark Connect server started for the module (in a
    process group of its own), stopped at the end."""
    port = free_port()
    proc, log = spark.start_connect_server(
        port, str(tmp_path_factory.mktemp("spark-connect")), master="local[2]", conf=SERVER_CONF
    )
    before = {k: v for k, v in os.environ.items() if k.startswith(("SPARK_", "PYSPARK_"))}
    try:
        _wait_for(log, spark.CONNECT_READY, proc)
        yield f"sc://127.0.0.1:{port}", proc
    finally:
        _stop(proc)
        # pyspark marks this process as a Connect client (SPARK_CONNECT_MODE_ENABLED, SPARK_REMOTE): leave
        # the environment as it was for the next test file of this process and its subprocesses
        for name in [k for k in os.environ if k.startswith(("SPARK_", "PYSPARK_"))]:
            if name not in before:
                del os.environ[name]
        os.environ.update(before)


@pytest.fixture(scope="module")
def config_overrides(connect_server):
    return {"HALYARD_SPARK_REMOTE": connect_server[0]}


@pytest.fixture
def work_folder(app, tmp_path):
    """HALYARD_SPARK_WORK_URL: a folder of the test's own, where the server writes the parts."""
    folder = tmp_path / "spark-work"
    folder.mkdir()
    app.config["HALYARD_SPARK_WORK_URL"] = "file://" + str(folder)
    return folder


@pytest.fixture
def people(make_account, token_for):
    return token_for(make_account())


def databricks(item):
    item.executor_type = "DATABRICKS"
    db.session.commit()
    return item


def record_progress(monkeypatch):
    """The ``(fraction, message)`` of every ``run.progress`` call, in order (the real calls go on)."""
    seen, real_progress = [], executors.Run.progress

    def progress(run, fraction, message=None):
        seen.append((fraction, message or run.reporter.message))
        return real_progress(run, fraction, message)

    monkeypatch.setattr(executors.Run, "progress", progress)
    return seen


def download_through_job(app, client, item, spec, headers, run_jobs, fmt="csv"):
    """POST a request for ``item``, run the queued job (a real RQ worker), and return ``(the request's
    body once finished, its file, LOCAL's file for the same seed, LOCAL's rows in order, the row)``."""
    response = client.post(
        "/downloader/requests/",
        json={"catalogue_item_id": item.id, "spec": spec, "format": fmt},
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    run_jobs()
    done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
    assert done["status"] == "finished", done
    produced = client.get(done["uri"], headers=headers).get_data()
    req = db.session.get(DownloadRequest, body["id"])
    expected_path = os.path.join(str(app.instance_path), f"expected-{req.id}.{fmt}")
    with local.table_file(item.datasource) as path:
        con = duckdb.connect()
        local.export(con, item, spec, req.seed, parquet_rows(path, True), fmt, expected_path)
        expected_rows = con.execute(local.query(item, spec, req.seed, parquet_rows(path, True))).fetchall()
        con.close()
    with open(expected_path, "rb") as fh:
        expected = fh.read()
    os.unlink(expected_path)
    return done, produced, expected, expected_rows, req


def cancel_as_spark_starts(client, item, headers, monkeypatch):
    """Run a large request in-process whose cancel flag is set as Spark's write starts; it must end
    cancelled. ``(what the write raised, the request's row afterwards)``."""
    spec = {"columns": ["id", "category", "price", "created", "note"], "randomize_ratio": 0.9}
    body = client.post(
        "/downloader/requests/", json={"catalogue_item_id": item.id, "spec": spec}, headers=headers
    ).get_json()
    ended, real_write = [], spark._write

    def write(session, request, parts_url):
        get_redis().set(executors.cancel_key(request["id"]), 1, ex=600)  # cancelled as Spark starts
        try:
            return real_write(session, request, parts_url)
        except BaseException as exc:
            ended.append(exc)
            raise

    monkeypatch.setattr(spark, "_write", write)
    with pytest.raises(JobError, match="cancelled"):
        run_download(body["id"])
    db.session.expire_all()
    return ended, db.session.get(DownloadRequest, body["id"])


def jvms(server):
    """The JVMs among this process's children outside the server's own group (another test module's
    classic gateway may still run: what matters is that the Connect jobs start none)."""
    others = [p for p in psutil.Process().children(recursive=True) if os.getpgid(p.pid) != server.pid]
    return {p.pid for p in others if "java" in p.name()}


def no_classic_context():
    from pyspark import SparkContext

    return SparkContext._active_spark_context is None


def test_connect_keeps_exactly_the_rows_duckdb_keeps(app, connect_server, bound_item):
    """A Connect session from ``spark.session()``: its frame (filters, the md5 sample) returns the ids
    DuckDB's query returns for the same seed, computed on the server (several tasks)."""
    before = jvms(connect_server[1])
    item = bound_item(rows=200_000)
    spec = {
        "columns": ["id", "price"],
        "filters": [
            {"name": "price", "operator": ">=", "value": 25},
            {"name": "note", "operator": "!=", "value": None},
        ],
        "randomize_ratio": 0.1,
    }
    url = storage.url(item.datasource.table_key)
    with local.table_file(item.datasource) as path:
        con = duckdb.connect()
        by_duckdb = {
            row[0] for row in con.execute(local.query(item, spec, 4242, parquet_rows(path, True))).fetchall()
        }
        con.close()
    session = spark.session()
    try:
        assert spark._is_connect(session)
        request = {
            "spec": spec,
            "types": {c["name"]: c["type"] for c in item.spec},
            "seed": 4242,
            "table_url": url,
        }
        by_spark = {row[0] for row in spark.frame(session, request).collect()}
        partitions = session.read.parquet(url).selectExpr("spark_partition_id() AS p").distinct().count()
    finally:
        spark.release(session)
    assert by_spark == by_duckdb and 1000 < len(by_duckdb) < 20_000, len(by_duckdb)
    assert partitions > 1
    assert no_classic_context() and jvms(connect_server[1]) == before


def test_downloads_through_connect_are_the_files_local_writes(
    app, client, connect_server, bound_item, people, run_jobs, work_folder, monkeypatch
):
    """Two requests in a row through the real job (RQ worker, Redis, database), each a new thin client
    session on the long-lived server: each CSV is byte for byte LOCAL's for its seed, progress came from
    the server's progress handler, and no part is left in the work folder."""
    before = jvms(connect_server[1])
    item = databricks(bound_item(rows=200_000))
    seen = record_progress(monkeypatch)
    for ratio in (0.2, 0.05):
        seen.clear()
        spec = {
            "columns": ["id", "category", "price", "created"],
            "filters": [{"name": "category", "operator": "!=", "value": "cat_3"}],
            "randomize_ratio": ratio,
        }
        done, produced, expected, rows, _ = download_through_job(app, client, item, spec, people, run_jobs)
        assert produced == expected and done["rows"] == len(rows) > 1000
        messages = [m for _, m in seen]
        assert messages[0] == "starting Spark" and "merging the parts" in messages
        assert all(0 <= f <= spark.SPARK_SHARE for f, _ in seen)
        assert os.listdir(work_folder) == []
    assert no_classic_context() and jvms(connect_server[1]) == before


def test_a_cancelled_request_interrupts_its_connect_operation(
    app, client, bound_item, people, work_folder, monkeypatch
):
    """In-process: the flag set as the write starts is seen by the watcher, which interrupts the
    operation's tag on the server; the write ends by that interruption, nothing is stored and no part
    is left in the work folder."""

    item = databricks(bound_item(rows=1_000_000))
    ended, req = cancel_as_spark_starts(client, item, people, monkeypatch)
    assert len(ended) == 1 and any(w in str(ended[0]).lower() for w in ("interrupt", "cancel")), ended
    assert req.file_key is None and req.error is None
    assert os.listdir(work_folder) == []


def test_a_real_worker_runs_downloads_through_connect(
    app, client, connect_server, bound_item, people, worker_process, work_folder
):
    """``halyard worker`` (a forked work horse per job) with HALYARD_SPARK_REMOTE: the Connect client is
    imported once in the worker, each work horse opens its own session on the long-lived server; two
    downloads in a row finish with exactly LOCAL's rows, and no part is left."""
    item = databricks(bound_item(rows=200_000))
    item_id = item.id
    worker = worker_process()
    for ratio in (0.1, 0.3):
        spec = {"columns": ["id", "price"], "randomize_ratio": ratio}
        body = client.post(
            "/downloader/requests/", json={"catalogue_item_id": item_id, "spec": spec}, headers=people
        ).get_json()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = client.get(body["_links"]["self"]["href"], headers=people).get_json()
            if done["status"] in ("finished", "failed"):
                break
            time.sleep(0.3)
        assert done["status"] == "finished", done
        req = db.session.get(DownloadRequest, body["id"])
        with local.table_file(req.catalogue_item.datasource) as path:
            con = duckdb.connect()
            expected = con.execute(
                local.query(req.catalogue_item, spec, req.seed, parquet_rows(path, True))
            ).fetchall()
            con.close()
        lines = client.get(done["uri"], headers=people).get_data(as_text=True).splitlines()
        assert lines[0] == "id,price" and done["rows"] == len(expected) == len(lines) - 1 > 1000
        assert [line.split(",")[0] for line in lines[1:]] == [str(row[0]) for row in expected]
        assert os.listdir(work_folder) == []
    stop(worker)
    assert "the Spark Connect client is preloaded" in worker.stdout.read().decode(errors="replace")


def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never answers (no gRPC, no HTTP/2);
    ``(its port, stop)``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted, done = [], threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not done.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop():
        done.set()
        thread.join()
        for conn in accepted:
            conn.close()
        sock.close()
        return len(accepted)

    return sock.getsockname()[1], stop


def test_a_connect_server_that_does_not_answer_fails_the_job_within_the_bound(
    app, client, bound_item, people, run_jobs, work_folder
):
    """HALYARD_SPARK_REMOTE at a closed 127.0.0.1 port, then at one that accepts TCP and stays silent: each
    download fails with "The Spark Connect server did not answer" (no URL in it) after about
    HALYARD_SPARK_CONNECT_TIMEOUT_SECONDS, not after the client's minutes of retries."""
    bound = 3
    app.config["HALYARD_SPARK_CONNECT_TIMEOUT_SECONDS"] = bound
    item = databricks(bound_item(rows=1000))
    silent_port, stop_silent = silent_server()
    try:
        for port in (free_port(), silent_port):
            app.config["HALYARD_SPARK_REMOTE"] = f"sc://127.0.0.1:{port}/;token=secret-token"
            spec = {"columns": ["id"], "randomize_ratio": 0.5 if port == silent_port else 0.25}
            body = client.post(
                "/downloader/requests/", json={"catalogue_item_id": item.id, "spec": spec}, headers=people
            ).get_json()
            started = time.monotonic()
            run_jobs()
            took = time.monotonic() - started
            done = client.get(body["_links"]["self"]["href"], headers=people).get_json()
            print(f"port {port} ({'silent' if port == silent_port else 'closed'}): failed after {took:.1f} s")
            assert done["status"] == "failed", done
            assert done["error"].startswith("The Spark Connect server did not answer: "), done
            assert str(port) not in done["error"] and "secret-token" not in done["error"]
            assert took < bound + 30, took  # bounded: the client alone retries for minutes
    finally:
        accepted = stop_silent()
    assert accepted >= 1  # the silent server was really reached
    assert os.listdir(work_folder) == []


def test_delete_lets_a_real_worker_interrupt_its_connect_operation(
    app, client, connect_server, bound_item, people, worker_process, work_folder
):
    """``DELETE`` of a download running on a real ``halyard worker`` through Connect: within the stop grace
    the job's watcher interrupts its own operation on the server and the job ends by itself (RQ ``failed``,
    its record ``canceled``) instead of its work horse being killed with the operation left running; the
    parts are gone."""
    from rq.job import Job

    from app.jobs.models import JobRecord

    app.config["HALYARD_DOWNLOADER_STOP_GRACE_SECONDS"] = 60
    item = databricks(bound_item(rows=2_000_000))
    worker_process()
    spec = {"columns": ["id", "category", "price", "created", "note"], "randomize_ratio": 0.9}
    body = client.post(
        "/downloader/requests/", json={"catalogue_item_id": item.id, "spec": spec}, headers=people
    ).get_json()
    job_id = body["_links"]["ec:download-request/job"]["href"].rstrip("/").rsplit("/", 1)[1]
    job = Job.fetch(job_id, connection=get_redis())
    deadline = time.monotonic() + 300
    while job.get_meta(refresh=True).get("message") != "running on Spark":
        assert time.monotonic() < deadline, job.get_meta(refresh=True)
        time.sleep(0.05)
    started = time.monotonic()
    assert client.delete(f"/downloader/requests/{body['id']}", headers=people).status_code == 200
    took = time.monotonic() - started
    db.session.expire_all()
    status = str(getattr(job.get_status(refresh=True), "value", job.get_status(refresh=True)))
    assert status == "failed", status  # it stopped itself; "stopped" would be a killed work horse
    assert took < 60 and db.session.get(JobRecord, job_id).status == "canceled"
    assert db.session.get(DownloadRequest, body["id"]).file_key is None
    assert os.listdir(work_folder) == []
