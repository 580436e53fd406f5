"""End to end on a real Spark cluster: a standalone master and worker started from the pyspark package
on 127.0.0.1, a real ``halyard worker`` whose work horse drives them (HALYARD_SPARK_MASTER), downloads
asked over HTTP: the result and its progress on /jobs/{id}, and a cancellation that ends the Spark
application."""

import os
import signal
import socket
import subprocess
import time

import duckdb
import pytest
import requests

from app import storage
from app.extensions import db
from app.resources.datasources.tables import parquet_rows
from app.resources.downloader import local
from app.resources.downloader.models import DownloadRequest

pytestmark = [pytest.mark.spark, pytest.mark.e2e]
BOOT_SECONDS = 120  # a JVM start on a loaded 2-core machine


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(path, text, proc, timeout=BOOT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, errors="replace") as fh:
            if text in fh.read():
                return
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    with open(path, errors="replace") as fh:
        raise AssertionError(f"{text!r} not seen in {path}:\n{fh.read()[-3000:]}")


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this test started (spark-class and its java)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    """``(master URL, master UI URL)`` of a standalone master + one 2-core worker, stopped at the end."""
    import pyspark

    home = os.path.dirname(pyspark.__file__)
    folder = tmp_path_factory.mktemp("spark")
    env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    port, ui = free_port(), free_port()
    started = []

    def launch(name, *args):
        log = folder / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [os.path.join(home, "bin", "spark-class"), *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
                start_new_session=True,
            )
        started.append(proc)
        return proc, log

    try:
        master, master_log = launch(
            "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
            "--webui-port", str(ui),
        )  # fmt: skip
        _wait_for(master_log, "I have been elected leader", master)
        worker, worker_log = launch(
            "worker", "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
            "--host", "127.0.0.1", "--cores", "2", "--memory", "1g", "--webui-port", str(free_port()),
            "--work-dir", str(folder / "work"),
        )  # fmt: skip
        _wait_for(worker_log, "Successfully registered with master", worker)
        yield f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui}"
    finally:
        for proc in reversed(started):
            _stop(proc)


@pytest.fixture(scope="module")
def config_overrides(spark_cluster):
    return {
        "HALYARD_SPARK_MASTER": spark_cluster[0],
        "HALYARD_SPARK_CONF": {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.executor.memory": "512m",
            "spark.cores.max": "2",
        },
    }


def applications(ui):
    state = requests.get(f"{ui}/json/", timeout=5).json()
    return state["activeapps"], state["completedapps"]


def poll(condition, timeout=BOOT_SECONDS * 2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.remove()
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_a_download_runs_on_the_cluster_reports_progress_and_is_cancelled(
    app, client, spark_cluster, bound_item, make_account, token_for, worker_process
):
    ui = spark_cluster[1]
    headers = token_for(make_account())
    item = bound_item(rows=200_000)
    item.executor_type = "DATABRICKS"
    db.session.commit()
    item_id = item.id
    worker_process()
    spec = {
        "columns": ["id", "category", "price"],
        "filters": [{"name": "price", "operator": ">=", "value": 25}],
        "randomize_ratio": 0.1,
    }
    body = client.post(
        "/downloader/requests/", json={"catalogue_item_id": item_id, "spec": spec}, headers=headers
    ).get_json()
    job_href = body["_links"]["ec:download-request/job"]["href"]
    seen = []

    def finished():
        job = client.get(job_href, headers=headers).get_json()
        seen.append((job["progress"]["fraction"], job["progress"]["message"]))
        return job["status"] in ("finished", "failed") and job

    job = poll(finished)
    done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
    assert job["status"] == "finished" and done["status"] == "finished", (job.get("error"), done.get("error"))
    # the rows: exactly LOCAL's query for the request's seed
    req = db.session.get(DownloadRequest, body["id"])
    with local.table_file(req.catalogue_item.datasource) as path:
        select = local.query(req.catalogue_item, spec, req.seed, parquet_rows(path, True))
        expected = duckdb.connect().execute(select).fetchall()
    lines = client.get(done["uri"], headers=headers).get_data(as_text=True).splitlines()
    assert lines[0] == "id,category,price" and done["rows"] == len(expected) == len(lines) - 1
    assert [line.split(",")[0] for line in lines[1:]] == [str(row[0]) for row in expected]
    # it ran on the cluster (the master saw the application), and said so on /jobs/{id}
    active, completed = applications(ui)
    assert "halyard-downloader" in [a["name"] for a in active + completed]
    messages = {m for _, m in seen}
    assert messages & {"starting Spark", "running on Spark", "merging the parts"}, seen
    assert seen[-1][0] == 1.0 and all(f is None or 0 <= f <= 1 for f, _ in seen)

    # cancellation: the last waiter leaves while Spark runs; the request is cancelled, the job stopped,
    # the Spark application ends, nothing is stored
    before = {a["id"] for a in completed}
    big = bound_item(rows=1_000_000)
    big.executor_type = "DATABRICKS"
    db.session.commit()
    big_id = big.id
    spec = {"columns": ["id", "category", "price", "created", "note"], "randomize_ratio": 0.9}
    body = client.post(
        "/downloader/requests/", json={"catalogue_item_id": big_id, "spec": spec}, headers=headers
    ).get_json()
    job_href = body["_links"]["ec:download-request/job"]["href"]
    poll(
        lambda: applications(ui)[0] and applications(ui)[0][0]["id"] not in before and applications(ui)[0][0]
    )
    keys = set(storage.all_keys())
    assert client.delete(body["_links"]["self"]["href"], headers=headers).status_code == 200
    job = poll(lambda: (j := client.get(job_href, headers=headers).get_json())["status"] != "started" and j)
    assert job["status"] == "canceled", job
    poll(lambda: not applications(ui)[0], timeout=60)  # the driver died with its work horse
    req = db.session.get(DownloadRequest, body["id"])
    assert req.is_cancelled and req.status == "cancelled" and req.file_key is None
    assert set(storage.all_keys()) == keys
