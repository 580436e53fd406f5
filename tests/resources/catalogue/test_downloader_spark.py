"""The SPARK executor on a real Spark (pyspark, local[2], one session for the module): the same sample
as DuckDB, the same file as LOCAL through the real job, its progress and its cancellation, and the parts
in the work folder removed after success, failure and cancel."""

import logging
import os

import duckdb
import pytest

from app import storage
from app.extensions import db
from app.jobs import JobError
from app.resources.datasources.tables import parquet_rows
from app.resources.downloader import local, spark
from app.resources.downloader.jobs import run_download
from app.resources.downloader.models import DownloadRequest
from tests.resources.catalogue.test_downloader_spark_connect import (  # noqa: F401 — work_folder: a fixture
    SERVER_CONF,
    cancel_as_spark_starts,
    download_through_job,
    record_progress,
    work_folder,
)

pytestmark = pytest.mark.spark

SPARK_CONF = SERVER_CONF  # the Connect tests' server runs with the same settings


@pytest.fixture(scope="module")
def config_overrides():
    return {"HALYARD_SPARK_MASTER": "local[2]", "HALYARD_SPARK_CONF": SPARK_CONF}


@pytest.fixture(scope="module")
def spark_session():
    """One local[2] SparkSession for the module (``spark.session()`` finds it with getOrCreate)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("halyard-tests")
    for key, value in {
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        **SPARK_CONF,
    }.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    yield session
    session.stop()
    spark._sessions.clear()
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its connections close at exit, after pytest's logs


def databricks(item):
    """The item, turned into a DATABRICKS one (the SPARK executor runs those)."""
    item.executor_type = "DATABRICKS"
    db.session.commit()
    return item


@pytest.fixture
def people(make_account, token_for):
    me = make_account()
    return me, token_for(me)


FILTERS = [
    {"name": "price", "operator": ">=", "value": 25},
    {"name": "category", "operator": "!=", "value": "cat_3"},
    {"name": "created", "operator": "<", "value": "2024-03-10T12:00:00Z"},
    {"name": "note", "operator": "!=", "value": None},
    {"name": "available", "operator": "=", "value": False},
]


def test_duckdb_and_spark_keep_exactly_the_same_rows(app, spark_session, bound_item):
    """One table of several row groups (read by Spark in several tasks), one seed, the filters of every
    kind: DuckDB's query (LOCAL) and Spark's frame (SPARK) return the same ids, and another seed keeps
    other rows (the seed matters)."""
    item = bound_item(rows=200_000)
    spec = {"columns": ["id", "price"], "filters": FILTERS, "randomize_ratio": 0.1}
    types = {c["name"]: c["type"] for c in item.spec}
    url = storage.url(item.datasource.table_key)
    picked = {}
    for seed in (12345, 67890):
        with local.table_file(item.datasource) as path:
            con = duckdb.connect()
            by_duckdb = {
                row[0]
                for row in con.execute(local.query(item, spec, seed, parquet_rows(path, True))).fetchall()
            }
            total = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
            con.close()
        picked[seed] = by_duckdb
    request = {"spec": spec, "types": types, "seed": 12345, "table_url": url}
    by_spark = {row[0] for row in spark.frame(spark_session, request).collect()}
    assert by_spark == picked[12345]
    assert total == 200_000
    # not trivially equal: a real share of the filtered rows is kept, and each seed keeps its own
    assert all(1000 < len(ids) < 20_000 for ids in picked.values()), {k: len(v) for k, v in picked.items()}
    assert len(picked[12345] & picked[67890]) < 0.2 * len(picked[12345])
    assert spark_session.read.parquet(url).rdd.getNumPartitions() > 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_spark_download_is_the_same_file_as_local(
    app, client, spark_session, bound_item, people, run_jobs, work_folder, monkeypatch, fmt
):
    """Through the real job (RQ worker, Redis, database): a DATABRICKS item runs on Spark, the result is
    written into storage by the executor itself (a remote result) and is byte for byte the file LOCAL
    writes for the same request and seed; progress goes from Spark's share to the merge; the parts are
    gone afterwards (they were written into HALYARD_SPARK_WORK_URL, several of them)."""
    item = databricks(bound_item(rows=200_000))
    parts = []
    real_merge = spark._merge

    def merge(parts_url, *args):
        parts.extend(n for n in os.listdir(spark._local(parts_url)) if n.startswith("part-"))
        return real_merge(parts_url, *args)

    monkeypatch.setattr(spark, "_merge", merge)
    _, headers = people
    seen = record_progress(monkeypatch)
    spec = {"columns": ["id", "category", "price", "created"], "filters": FILTERS[:3], "randomize_ratio": 0.2}
    done, produced, expected, expected_rows, req = download_through_job(
        app, client, item, spec, headers, run_jobs, fmt
    )
    assert done["rows"] == len(expected_rows) > 1000
    if fmt == "csv":
        assert produced == expected
    else:  # Parquet files differ in their metadata (writer, row groups): compare their rows in order
        got_path = os.path.join(str(app.instance_path), f"got-{req.id}.parquet")
        with open(got_path, "wb") as fh:
            fh.write(produced)
        got = duckdb.connect().execute(f"SELECT * FROM read_parquet('{got_path}')").fetchall()
        os.unlink(got_path)
        assert got == expected_rows
    messages = [m for _, m in seen]
    assert (
        messages[0] == "starting Spark" and "running on Spark" in messages and "merging the parts" in messages
    )
    fractions = [f for f, _ in seen]
    assert all(0 <= f <= spark.SPARK_SHARE for f in fractions)
    job = client.get(done["_links"]["ec:download-request/job"]["href"], headers=headers).get_json()
    assert job["status"] == "finished" and job["progress"]["fraction"] == 1.0
    assert not [n for n in os.listdir(storage.scratch_root()) if n.startswith(f".download-{req.id}-")]
    assert len(parts) > 1 and os.listdir(work_folder) == []


def test_a_cancelled_request_stops_its_spark_job(
    app, client, spark_session, bound_item, people, work_folder, monkeypatch
):
    """In-process: the flag set as Spark starts is seen by the watcher, which cancels the Spark job group;
    the write ends with Spark's cancellation (not by finishing), the request stores nothing."""

    item = databricks(bound_item(rows=1_000_000))
    ended, req = cancel_as_spark_starts(client, item, people[1], monkeypatch)
    assert len(ended) == 1 and "cancel" in str(ended[0]).lower(), ended
    assert req.file_key is None and req.error is None
    assert not [n for n in os.listdir(storage.scratch_root()) if n.startswith(f".download-{req.id}-")]
    assert os.listdir(work_folder) == []  # what the cancelled tasks had written is gone too


@pytest.mark.parametrize("where", ["spark", "merge"])
def test_a_failed_download_leaves_no_part_behind(
    app, client, spark_session, bound_item, people, work_folder, monkeypatch, where
):
    """The request fails after Spark wrote its parts (the write raising once done, or the merge
    failing): the request is failed with the reason, nothing stored, and the work folder is empty."""
    item = databricks(bound_item(rows=200_000))
    spec = {"columns": ["id", "price"], "randomize_ratio": 0.5}
    body = client.post(
        "/downloader/requests/", json={"catalogue_item_id": item.id, "spec": spec}, headers=people[1]
    ).get_json()
    written, real_write = [], spark._write

    def write(session, request, parts_url):
        real_write(session, request, parts_url)
        written.extend(n for n in os.listdir(spark._local(parts_url)) if n.startswith("part-"))
        if where == "spark":
            raise RuntimeError("the cluster went away")

    def merge(parts_url, *args):
        raise JobError("The merge could not write the result.")

    monkeypatch.setattr(spark, "_write", write)
    if where == "merge":
        monkeypatch.setattr(spark, "_merge", merge)
    keys = set(storage.all_keys())
    with pytest.raises(JobError):
        run_download(body["id"])
    db.session.expire_all()
    req = db.session.get(DownloadRequest, body["id"])
    reason = "Spark could not run the download: RuntimeError." if where == "spark" else "The merge could not"
    assert req.status == "failed" and req.error.startswith(reason) and req.file_key is None, req.error
    assert len(written) > 1 and os.listdir(work_folder) == []
    assert set(storage.all_keys()) == keys


def test_parts_of_killed_jobs_are_swept(app, client, spark_session, bound_item, people, work_folder):
    """A work horse killed mid-job (DELETE stops a running job so) cannot remove its parts: the next
    Spark download removes those of requests no longer running, and leaves a running one's alone."""
    item = databricks(bound_item(rows=20_000))
    ids = [
        client.post(
            "/downloader/requests/",
            json={"catalogue_item_id": item.id, "spec": {"columns": ["id"], "randomize_ratio": ratio}},
            headers=people[1],
        ).get_json()["id"]
        for ratio in (0.3, 0.4, 0.5)
    ]
    killed, running, current = (db.session.get(DownloadRequest, i) for i in ids)
    killed.cancel()
    running.status = "running"
    db.session.commit()
    for req in (killed, running):
        folder = work_folder / f"spark-{req.id}-0123abcd"
        folder.mkdir()
        (folder / "part-00000-x.parquet").write_bytes(b"PAR1")
    run_download(current.id)  # in-process: only this request's job runs
    db.session.expire_all()
    assert db.session.get(DownloadRequest, current.id).status == "finished"
    assert os.listdir(work_folder) == [f"spark-{running.id}-0123abcd"]
