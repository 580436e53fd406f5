"""Benchmark: one download request on the LOCAL (DuckDB) and SPARK executors, against the same query run
directly by DuckDB and by Spark in the same run (docs/executors.md).

    .venv/bin/python benchmarks/spark_download.py [--rows 2000000] [--runs 3] [--warmup 1]
        [--spark connect|local] [--engines local,spark] [--keep DIR]

1. DuckDB writes a Parquet data set of ``--rows`` rows (id, category, price, available, created, note)
   into storage (a folder store: Spark reads it by file://, as on NFS) and binds it to a data source;
   a LOCAL item and a DATABRICKS item (run by the SPARK executor) share it. ``--storage s3``: storage is
   a bucket of moto's S3 server started here (LOCAL only), the direct run reads the object where it
   lives too (a pyarrow S3 stream with positions, written out in this file), and the reference figure
   ``direct_copy_then_query_s`` fetches the object whole, then queries the copy.
2. ``--spark connect`` (default): one Spark Connect server (local[2], from the pyspark package) is
   started beforehand and serves both sides: the worker's jobs (HALYARD_SPARK_REMOTE) and the direct
   runs (a Connect client session in this process). ``--spark local``: every job's work horse starts
   its own local[2] driver (HALYARD_SPARK_MASTER), the direct runs use a local[2] session of this
   process.
3. End to end, per executor (with the time each progress message of the job was first seen): POST
   /downloader/requests/ (3 columns, one filter, randomize_ratio 0.1) → a real ``halyard worker``
   (started beforehand: its start-up is not counted) runs the job → the request is ``finished``.
4. Direct: the same query by DuckDB (``local.query``, the worker's thread and memory limits, COPY to
   CSV) or by Spark (``spark.frame`` written as CSV parts), right after each end-to-end run.
   ``--warmup`` untimed rounds of both sides come first, so both sides are warm (Spark's JIT, the
   server's caches; the page cache of the table).
5. Peak memory: the largest sum of RSS over the worker's process tree (worker, work horse and, with
   ``--spark local``, the driver JVM it starts), sampled every 50 ms while the requests run; with
   ``--spark connect`` the Connect server's peak RSS apart (the cluster's memory, not the worker's).

Prints medians and the ratios end-to-end / direct as one JSON object. The issue's 50-million-row run
(``--rows 50000000``) is by hand: about 25 times this default's time.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import duckdb
import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

COLUMNS = ["id", "price", "created"]
RATIO = 0.1
S3_CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}
SPARK_CONF = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}


def generate(path, rows, row_group_rows=None):
    """The benchmark's Parquet data set; ``row_group_rows`` rows per row group (None: DuckDB's default)."""
    con = duckdb.connect()
    groups = f", ROW_GROUP_SIZE {int(row_group_rows)}" if row_group_rows else ""
    con.execute(f"""COPY (SELECT range AS id, 'cat_' || (range % 10) AS category,
                          round((hash(range) % 100000) / 100.0, 2) AS price, range % 3 = 0 AS available,
                          TIMESTAMP '2024-01-01' + to_seconds(range) AS created,
                          CASE WHEN range % 10 = 0 THEN NULL ELSE 'note ' || range END AS note
                        FROM range({rows})) TO '{path}' (FORMAT parquet{groups})""")
    con.close()


class PeakMemory(threading.Thread):
    """The largest RSS sum of a process and its descendants, sampled until ``stop()``."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.process, self.peak, self.done = psutil.Process(pid), 0, threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                total = 0
                for proc in tree:
                    try:
                        total += proc.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
                self.peak = max(self.peak, total)
            except psutil.NoSuchProcess:
                return

    def stop(self):
        self.done.set()
        self.join()
        return round(self.peak / 2**20, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds of both sides first")
    parser.add_argument("--spark", choices=["connect", "local"], default="connect")
    parser.add_argument("--engines", default="local,spark")
    parser.add_argument("--keep", help="work directory to use (kept afterwards)")
    parser.add_argument(
        "--storage",
        choices=["file", "s3"],
        default="file",
        help="s3: the table in an S3 server (moto's, on 127.0.0.1) started here; LOCAL only",
    )
    parser.add_argument(
        "--row-group-rows",
        type=int,
        help="rows per Parquet row group (default: DuckDB's 122,880; with --storage s3 4,000,000, about the"
        " 128 MB row groups Spark writes: moto's server reads a whole object for every ranged GET)",
    )
    args = parser.parse_args()
    if args.row_group_rows is None and args.storage == "s3":
        args.row_group_rows = 4_000_000
    engines = args.engines.split(",")
    if args.storage == "s3" and engines != ["local"]:
        parser.error("--storage s3 runs --engines local only: Spark reads s3a://, which this package lacks")
    work = args.keep or tempfile.mkdtemp(prefix="halyard-spark-bench-")
    os.makedirs(work, exist_ok=True)
    os.environ.update(
        HALYARD_INSTANCE_PATH=os.path.join(work, "instance"),
        HALYARD_RATE_LIMIT_ENABLED="false",
    )
    os.environ.setdefault("HALYARD_QUEUE_PREFIX", f"bench{os.getpid()}")
    server = server_peak = moto = None
    if args.storage == "s3":
        moto = start_s3_server()
    if args.spark == "connect" and "spark" in engines:
        server, remote = start_connect_server(work)
        os.environ["HALYARD_SPARK_REMOTE"] = remote
        server_peak = PeakMemory(server.pid)
        server_peak.start()
    else:  # the driver's settings: on the server's command line with Connect, on the session here
        os.environ.update(HALYARD_SPARK_MASTER="local[2]", HALYARD_SPARK_CONF=json.dumps(SPARK_CONF))
    try:
        run_benchmark(args, engines, work, server_peak)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)
        if moto is not None:
            moto.terminate()
            moto.wait(60)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def start_s3_server():
    """moto's S3 server on a free 127.0.0.1 port, with a bucket; sets the HALYARD_* storage settings to it."""
    import boto3
    import requests

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(endpoint + "/moto-api/", timeout=5)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the S3 server did not start") from None
            time.sleep(0.2)
    boto3.client("s3", endpoint_url=endpoint, **S3_CREDENTIALS).create_bucket(Bucket="bench")
    os.environ.update(
        HALYARD_STORAGE_URL="s3://bench/files",
        HALYARD_S3_ENDPOINT_URL=endpoint,
        HALYARD_S3_REGION="us-east-1",
        HALYARD_S3_ADDRESSING_STYLE="path",
        HALYARD_S3_ACCESS_KEY_ID=S3_CREDENTIALS["aws_access_key_id"],
        HALYARD_S3_SECRET_ACCESS_KEY=S3_CREDENTIALS["aws_secret_access_key"],
    )
    return proc


def s3_stream(con, endpoint, object_path, columns):
    """The direct run's reader of an object in the S3 server, written by hand: a pyarrow dataset on its S3
    filesystem (DuckDB has no S3 reader here: httpfs is downloaded at run time), streamed in order with each
    row's position as ``file_row_number`` (the sample's key), registered in ``con`` as ``lake``."""
    import pyarrow
    from pyarrow import dataset, fs

    host = endpoint.split("://", 1)[1]
    filesystem = fs.S3FileSystem(
        access_key=S3_CREDENTIALS["aws_access_key_id"],
        secret_key=S3_CREDENTIALS["aws_secret_access_key"],
        endpoint_override=host,
        scheme="http",
        region="us-east-1",
        connect_timeout=10,
        request_timeout=60,  # as Halyard's reader (app/resources/datasources/lake.py)
    )
    data = dataset.dataset(object_path, filesystem=filesystem, format="parquet")
    fields = [data.schema.field(c) for c in columns] + [pyarrow.field("file_row_number", "int64")]
    schema = pyarrow.schema(fields)

    def batches():
        offset = 0
        for batch in data.to_batches(columns=columns):
            numbers = pyarrow.array(range(offset, offset + batch.num_rows), pyarrow.int64())
            yield pyarrow.RecordBatch.from_arrays([*batch.columns, numbers], schema=schema)
            offset += batch.num_rows

    con.register("lake", pyarrow.RecordBatchReader.from_batches(schema, batches()))
    return "lake"


def start_connect_server(work):
    """A Spark Connect server (local[2]) from the pyspark package on a free 127.0.0.1 port."""
    from app.resources.downloader import spark  # deferred: app modules after the HALYARD_* environment

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc, log = spark.start_connect_server(port, work, master="local[2]", conf=SPARK_CONF)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with open(log, errors="replace") as fh:
            if spark.CONNECT_READY in fh.read():
                return proc, f"sc://127.0.0.1:{port}"
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit(f"the Spark Connect server did not start: see {log}")


def run_benchmark(args, engines, work, server_peak):
    import flask_migrate

    # deferred: the app's modules are imported once the HALYARD_* environment above is set
    from app import create_app, storage
    from app.extensions import db
    from app.jobs import AppJob, get_redis
    from app.resources.accounts.models import Account
    from app.resources.catalogue.models import CatalogueItem
    from app.resources.catalogue.profile import spec_type
    from app.resources.datasources.models import DataSource, Project
    from app.resources.datasources.tables import parquet_rows
    from app.resources.downloader import local, spark
    from app.resources.downloader.models import DownloadRequest

    figures = {"rows": args.rows, "runs": args.runs}
    parquet = os.path.join(work, "products.parquet")
    generate(parquet, args.rows, args.row_group_rows)
    figures["parquet_bytes"], figures["row_group_rows"] = os.path.getsize(parquet), args.row_group_rows
    app = create_app()
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        admin = Account(email=f"bench{os.getpid()}@example.org", type="ADMIN")
        db.session.add(admin)
        with open(parquet, "rb") as fh:
            stored = storage.save(fh)
        con = duckdb.connect()
        columns = [
            {"name": n, "type": t}
            for n, t, *_ in con.execute(f"DESCRIBE FROM read_parquet('{parquet}')").fetchall()
        ]
        con.close()
        project = Project(title="bench", owner=admin)
        source = DataSource(
            project=project,
            name="products",
            type="file",
            status="ready",
            table_key=stored.key,
            columns=columns,
            items=args.rows,
            fields=len(columns),
        )
        spec = [{"name": c["name"], "type": spec_type(c["type"]), "is_nullable": True} for c in columns]
        items = {
            engine: CatalogueItem(
                name=f"products-{engine}-{os.getpid()}", executor_type=kind, spec=spec, datasource=source
            )
            for engine, kind in (("local", "LOCAL"), ("spark", "DATABRICKS"))
        }
        db.session.add_all([project, source, *items.values()])
        db.session.commit()
        _, secret = admin.issue_token()
        db.session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        client = app.test_client()
        threads = app.config["HALYARD_DOWNLOADER_DUCKDB_THREADS"]
        memory = app.config["HALYARD_DOWNLOADER_DUCKDB_MEMORY"]

        def job_message(job_id):
            try:
                return AppJob.fetch(job_id, connection=get_redis()).get_meta().get("message")
            except Exception:  # noqa: BLE001 — not queued yet, or ended
                return None

        # the direct Spark runs: a Connect client of the same server, or this process's local[2] session
        session = spark.session() if "spark" in engines else None
        rounds = {engine: [] for engine in engines}
        values = [f"cat_{i}" for i in range(10)]
        for engine in engines:
            worker = subprocess.Popen(
                [sys.executable, "-m", "app", "worker", "--no-scheduler"],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": ROOT},
                stdout=open(os.path.join(work, f"worker-{engine}.log"), "w"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
            time.sleep(3)  # the worker's start-up (imports, Redis) is not part of a download
            peak = PeakMemory(worker.pid)
            peak.start()
            for run in range(args.warmup + args.runs):
                value = values[run % len(values)]
                body = {
                    "columns": COLUMNS,
                    "filters": [{"name": "category", "operator": "!=", "value": value}],
                    "randomize_ratio": RATIO,
                }
                started = time.perf_counter()
                response = client.post(
                    "/downloader/requests/",
                    json={"catalogue_item_id": items[engine].id, "spec": body},
                    headers=headers,
                )
                assert response.status_code == 201, response.get_data(as_text=True)
                request_id = response.get_json()["id"]
                phases = {}  # the job's progress message -> when it was first seen
                while True:
                    db.session.expire_all()
                    req = db.session.get(DownloadRequest, request_id)
                    if req.status in ("finished", "failed"):
                        break
                    message = job_message(req.executor_job_id)
                    if message and message not in phases:
                        phases[message] = round(time.perf_counter() - started, 2)
                    time.sleep(0.05)
                end_to_end = time.perf_counter() - started
                assert req.status == "finished", req.error
                figure = {"end_to_end_s": round(end_to_end, 3), "rows": req.rows, "seed": req.seed}
                figure["phases_s"] = phases
                # the same query, directly
                request = {
                    "spec": body,
                    "types": {c["name"]: c["type"] for c in spec},
                    "seed": req.seed,
                    "table_url": storage.url(stored.key),
                }
                if engine == "local":
                    out = os.path.join(work, "direct.csv")
                    con = duckdb.connect(config={"threads": threads, "memory_limit": memory})
                    started = time.perf_counter()
                    if args.storage == "s3":  # read where it lives, as Halyard must (no local copy)
                        endpoint, url = os.environ["HALYARD_S3_ENDPOINT_URL"], storage.url(stored.key)
                        rows_sql = s3_stream(con, endpoint, url[len("s3://") :], local.needed(body))
                    else:
                        rows_sql = parquet_rows(parquet, True)
                    sql = local.query(items[engine], body, req.seed, rows_sql)
                    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT csv, HEADER false)")
                    figure["direct_s"] = round(time.perf_counter() - started, 3)
                    con.close()
                    if args.storage == "s3":  # for reference: fetch the object whole, then DuckDB on the copy
                        con = duckdb.connect(config={"threads": threads, "memory_limit": memory})
                        copy = os.path.join(work, "copy.parquet")
                        started = time.perf_counter()
                        with storage.open_file(stored.key) as src, open(copy, "wb") as dst:
                            shutil.copyfileobj(src, dst, 8 << 20)
                        sql = local.query(items[engine], body, req.seed, parquet_rows(copy, True))
                        con.execute(f"COPY ({sql}) TO '{out}' (FORMAT csv, HEADER false)")
                        figure["direct_copy_then_query_s"] = round(time.perf_counter() - started, 3)
                        con.close()
                        os.unlink(copy)
                    direct_rows = len(open(out).readlines())  # noqa: SIM115
                else:
                    folder = os.path.join(work, "direct-spark")
                    started = time.perf_counter()
                    spark.frame(session, request).write.mode("overwrite").option("header", True).csv(folder)
                    figure["direct_s"] = round(time.perf_counter() - started, 3)
                    direct_rows = sum(
                        len(open(os.path.join(folder, n)).readlines()) - 1  # noqa: SIM115
                        for n in os.listdir(folder)
                        if n.startswith("part-")
                    )
                    shutil.rmtree(folder, ignore_errors=True)
                assert figure["rows"] == direct_rows, (figure, direct_rows)
                figure["warmup"] = run < args.warmup
                rounds[engine].append(figure)
            figures[f"{engine}_worker_peak_rss_mb"] = peak.stop()
            worker.terminate()
            worker.wait(60)
        if session is not None:
            spark.release(session)
            if args.spark == "local":
                session.stop()
        if server_peak is not None:
            figures["spark_connect_server_peak_rss_mb"] = server_peak.stop()
        figures["rounds"] = rounds
        for engine in engines:
            timed = [r for r in rounds[engine] if not r["warmup"]]
            for key in ("end_to_end_s", "direct_s"):
                figures[f"{engine}_median_{key}"] = statistics.median(r[key] for r in timed)
            figures[f"{engine}_ratio_end_to_end_vs_direct"] = round(
                figures[f"{engine}_median_end_to_end_s"] / figures[f"{engine}_median_direct_s"], 2
            )
        if args.storage == "s3":
            timed = [r for r in rounds["local"] if not r["warmup"]]
            figures["local_median_direct_copy_then_query_s"] = statistics.median(
                r["direct_copy_then_query_s"] for r in timed
            )
        figures["storage"] = args.storage
        figures["spark_mode"], figures["warmup_rounds"] = args.spark, args.warmup
        figures["duckdb_threads"], figures["duckdb_memory_limit"] = threads, memory
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
