"""The SPARK executor: a download request run on a Spark cluster (docs/executors.md).

``execute(request, out_path, run)`` follows the executor contract (app/resources/downloader/executors.py).
DATABRICKS items run here when ``HALYARD_SPARK_REMOTE`` (Spark Connect: a Databricks workspace or any
Spark Connect server) or ``HALYARD_SPARK_MASTER`` (``local[*]``, ``spark://…``, ``yarn``…) is set.

1. Spark reads the item's Parquet table where storage keeps it (``request["table_url"]``: ``file://``
   on a folder shared with the cluster, or ``s3://`` read as ``s3a://``), selects the columns, applies
   the filters (the LOCAL vocabulary: ``= != > >= < <=`` and null, ``!=`` keeping nulls) and keeps the
   seeded sample: ``md5("<row index in the file>:<seed>") < ratio × 2^128`` as hex text, the same
   rows LOCAL keeps (``local.sample_condition``), with the row index from Parquet's ``_metadata``.
2. It writes the rows as partitioned Parquet files into the work folder (``HALYARD_SPARK_WORK_URL``,
   else the job's own work folder), reporting the finished share of its tasks through
   ``run.progress``; a watcher thread cancels the Spark job group (Connect: interrupts the tag) as
   soon as ``run.cancelled()``. A Connect server that does not answer within
   ``HALYARD_SPARK_CONNECT_TIMEOUT_SECONDS`` fails the job.
3. The parts become one object in the requested format, written by DuckDB straight into storage
   when storage is a folder (a remote result: ``run.new_result()``), else to ``out_path``; the row
   count comes from the parts' Parquet metadata.
"""

import glob
import json
import os
import re
import shutil
import threading
import time
import uuid
from urllib.parse import urlsplit

from flask import current_app

from app.extensions import db
from app.jobs import JobError
from app.resources.catalogue.spec import normalise_value
from app.resources.downloader import local
from app.resources.downloader.executors import Cancelled, Result
from app.resources.downloader.models import DownloadRequest

POLL = 0.25  # how often the watcher reads Spark's progress and the cancel flag
SPARK_SHARE = 0.85  # the executor's progress spent in Spark; the rest merges the parts
SETTLE_SECONDS = 30  # at most this long for a cancelled job's tasks to end before its parts go
ROW_INDEX = "_metadata.row_index"
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
CONNECT_READY = "Spark Connect server started at"  # the server's log line once it listens
_sessions = {}


def session():
    """The SparkSession for the configured cluster. Spark Connect (``HALYARD_SPARK_REMOTE``): a new thin
    client session for each job (no JVM here; ``release`` ends it on the server), never one inherited
    through a fork. Otherwise this process's classic session, created on first use (a JVM driver) and
    reused by later jobs of the same process."""
    config = current_app.config
    remote, master = config["HALYARD_SPARK_REMOTE"], config["HALYARD_SPARK_MASTER"]
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        **{k: str(v) for k, v in (config["HALYARD_SPARK_CONF"] or {}).items()},
    }
    wanted = (remote, master, json.dumps(conf, sort_keys=True), os.getpid())
    spark = None if remote else _sessions.get(wanted)
    if spark is None:
        try:
            from pyspark.sql import SparkSession  # imported on use: only workers running Spark need pyspark
        except ImportError:
            raise JobError("This worker has no Spark client: install Halyard's spark extra.") from None

        builder = SparkSession.builder.appName("halyard-downloader")
        builder = builder.remote(remote) if remote else builder.master(master or "local[*]")
        for key, value in conf.items():
            if not (remote and key.startswith("spark.ui")):
                builder = builder.config(key, value)
        if remote:
            try:
                _wait_until_ready(remote, config["HALYARD_SPARK_CONNECT_TIMEOUT_SECONDS"])
                return builder.create()  # not getOrCreate: a forked work horse must not reuse a channel
            except ImportError as exc:
                raise JobError(f"This worker has no Spark Connect client: {exc}") from None
            except Exception as exc:  # noqa: BLE001 — the URL may carry a token: only the error's type
                raise JobError(f"The Spark Connect server did not answer: {type(exc).__name__}.") from None
        # Halyard's settings choose the mode: a Connect session made earlier in this process (or its
        # parent's environment) leaves SPARK_CONNECT_MODE_ENABLED/SPARK_REMOTE set, which would turn this
        # classic builder into a Connect one
        for name in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE"):
            os.environ.pop(name, None)
        spark = _sessions[wanted] = builder.getOrCreate()
    return spark


def _wait_until_ready(remote, timeout):
    """Wait at most ``timeout`` seconds for a gRPC channel to the Connect server (the client's own channel
    builder: TLS and token as the session's) to become ready (``grpc.channel_ready_future``), so that a
    server that is down or never answers fails the job at once instead of the client's retries (minutes)."""
    import grpc
    from pyspark.sql.connect.client import DefaultChannelBuilder

    channel = DefaultChannelBuilder(remote).toChannel()
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    finally:
        channel.close()


def release(spark):
    """End a Spark Connect session on the server (its state, cached plans); a classic one is kept."""
    if _is_connect(spark):
        try:
            spark.stop()
        except Exception:  # noqa: BLE001 — the server may be gone; its session then ends by its timeout
            pass


def connect_server_command(port, master="local[*]", host="127.0.0.1", conf=None):
    """The command that runs a Spark Connect server from the installed pyspark package in the foreground
    (``spark-submit --class …SparkConnectServer``: what ``sbin/start-connect-server.sh`` daemonises),
    listening on ``host:port``; ``SPARK_HOME`` must be :func:`spark_home` (docs/executors.md)."""
    settings = {
        "spark.connect.grpc.binding.address": host,
        "spark.connect.grpc.binding.port": str(port),
        "spark.ui.enabled": "false",
        **(conf or {}),
    }
    command = [os.path.join(spark_home(), "bin", "spark-submit"), "--master", master]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    return [*command, "--class", CONNECT_SERVER, "--name", "halyard-spark-connect"]


def start_connect_server(port, folder, master="local[*]", conf=None):
    """Start :func:`connect_server_command` on 127.0.0.1:``port`` in a process group of its own, its output
    in ``folder``/connect-server.log; ``(process, log path)`` (the log says :data:`CONNECT_READY` once it
    listens). What the tests and the benchmark run; operators use ``sbin/start-connect-server.sh``."""
    import subprocess

    log = os.path.join(folder, "connect-server.log")
    env = {**os.environ, "SPARK_HOME": spark_home(), "SPARK_LOCAL_IP": "127.0.0.1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            connect_server_command(port, master=master, conf=conf),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,
        )
    return proc, log


def spark_home():
    """The Spark installation that the pyspark package carries (its jars include spark-connect)."""
    import pyspark

    return os.path.dirname(pyspark.__file__)


def spark_url(url):
    """The URL Spark reads ``url`` of storage by (``s3://`` through Hadoop's s3a filesystem)."""
    return "s3a://" + url[len("s3://") :] if url.startswith("s3://") else url


def column(name):
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def condition(df, kind, flt):
    """The Spark condition of one filter, as ``local.where`` writes it for DuckDB."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    col, operator, value = column(flt["name"]), flt["operator"], flt["value"]
    if value is None:
        return col.isNotNull() if operator == "!=" else col.isNull()
    value = normalise_value(kind, value)
    if kind == "DATETIME":
        field = df.schema[flt["name"]].dataType
        target = field if isinstance(field, (TimestampType, TimestampNTZType)) else TimestampNTZType()
        if isinstance(field, DateType):
            col = col.cast(target)
        literal = F.lit(value.replace("T", " ").rstrip("Z")).cast(target)
    elif kind == "INTEGER":
        literal = F.lit(int(value))
    elif kind == "FLOAT":
        literal = F.lit(float(value))
    elif kind == "BOOLEAN":
        literal = F.lit(bool(value))
    else:
        literal = F.lit(str(value))
    if operator == "!=":
        return col.isNull() | (col != literal)  # a missing value is "not equal" too, as in LOCAL
    return {
        "=": col == literal,
        ">": col > literal,
        ">=": col >= literal,
        "<": col < literal,
        "<=": col <= literal,
    }[operator]


def sample_column(ratio, seed):
    """The sample condition (None when every row is kept): the same text, md5 and threshold as LOCAL."""
    from pyspark.sql import functions as F

    threshold = local.sample_threshold(ratio)
    if threshold is None:
        return None
    key = F.concat(F.col(ROW_INDEX).cast("string"), F.lit(local.sample_key_suffix(seed)))
    return F.md5(key) < F.lit(threshold)


def frame(spark, request):
    """The DataFrame of a request's rows: the table, its filters and sample, the columns."""
    spec, types = request["spec"], request["types"]
    df = spark.read.parquet(spark_url(request["table_url"]))
    for flt in spec.get("filters") or []:
        df = df.where(condition(df, types[flt["name"]], flt))
    sample = sample_column(spec.get("randomize_ratio", 1), request["seed"])
    if sample is not None:
        df = df.where(sample)
    return df.select(*[column(c) for c in spec["columns"]])


def execute(request, out_path, run):
    """The SPARK executor (contract: app/resources/downloader/executors.py)."""
    if not request.get("table_url"):
        raise JobError("The catalogue item is not bound to a data source with a table.")
    if run.cancelled():
        raise Cancelled()
    run.progress(0.0, "starting Spark")
    configured = current_app.config["HALYARD_SPARK_WORK_URL"]
    work = configured or "file://" + os.path.abspath(run.workdir)
    if configured:
        sweep(configured)
    spark = session()
    parts_url = f"{work.rstrip('/')}/spark-{request['id']}-{uuid.uuid4().hex[:8]}"
    tag = f"halyard-download-{request['id']}-{uuid.uuid4().hex[:8]}"
    watcher = Watcher(spark, tag, run)
    try:
        run.progress(0.0, "running on Spark")
        watcher.start()
        try:
            watcher.tagged(lambda: _write(spark, request, parts_url))
        except Exception as exc:
            if watcher.cancelled or run.cancelled():
                raise Cancelled() from None
            raise JobError(f"Spark could not run the download: {type(exc).__name__}.") from None
        finally:
            watcher.stop()
        if watcher.cancelled or run.cancelled():
            raise Cancelled()
        run.progress(SPARK_SHARE, "merging the parts")
        return _merge(parts_url, request, out_path, run)
    finally:  # success, failure or cancel: the parts go (after Spark's tasks of the request ended)
        watcher.settle()
        _remove_parts(parts_url)
        release(spark)


def _write(spark, request, parts_url):
    frame(spark, request).write.mode("overwrite").option("compression", "zstd").parquet(parts_url)


def _local(url):
    """The local path of a ``file://`` URL (the parts must be readable here to become one object)."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "file"):
        raise JobError("HALYARD_SPARK_WORK_URL must be a file:// folder shared with the workers.")
    return parts.path


def _merge(parts_url, request, out_path, run):
    """One object from the parts (in their order): a remote result straight into a storage folder,
    else ``out_path``. The row count is the parts' Parquet metadata."""
    folder = _local(parts_url)
    files = sorted(glob.glob(os.path.join(folder, "part-*.parquet")))
    con = local.connect(run.workdir)
    try:
        if not files:  # no rows: an empty result with the requested columns
            select = "SELECT " + ", ".join(f"NULL AS {local.ident(c)}" for c in request["spec"]["columns"])
            select += " WHERE false"
            rows = 0
        else:
            listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
            (rows,) = con.execute(
                f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata({listing})"
            ).fetchone()
            select = f"SELECT * FROM read_parquet({listing})"
        key, url = run.new_result()
        remote = url.startswith("file://")
        target = urlsplit(url).path if remote else out_path
        if remote:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        options = (
            "FORMAT parquet, COMPRESSION zstd"
            if request["format"] == "parquet"
            else "FORMAT csv, HEADER true"
        )
        tmp = os.path.join(run.workdir, "merged") if remote else target  # same filesystem as storage
        con.execute(f"COPY ({select}) TO '{tmp.replace(chr(39), chr(39) * 2)}' ({options})")
        if remote:
            os.replace(tmp, target)  # appears whole, or not at all
            return Result(rows=int(rows), key=key)
        return int(rows)
    finally:
        con.close()


def _remove_parts(parts_url):
    try:
        shutil.rmtree(_local(parts_url), ignore_errors=True)
    except JobError:
        pass


def sweep(work_url):
    """Remove the parts folders in ``HALYARD_SPARK_WORK_URL`` of requests no longer running: those of
    work horses killed mid-job (``DELETE`` stops a running job so), which could not clean up."""
    try:
        folder = _local(work_url)
        names = os.listdir(folder)
    except (JobError, OSError):
        return
    for name in names:
        match = re.fullmatch(r"spark-(\d+)-[0-9a-f]{8}", name)
        if match:
            req = db.session.get(DownloadRequest, int(match.group(1)))
            if req is None or req.status != "running" or req.is_cancelled:
                shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


class Watcher(threading.Thread):
    """While Spark runs the request's jobs: publish the finished share of their tasks through
    ``run.progress`` and cancel them once ``run.cancelled()``."""

    def __init__(self, spark, tag, run):
        super().__init__(daemon=True)
        self.spark, self.tag, self.run_ = spark, tag, run
        self.remote = not hasattr(spark, "sparkContext") or _is_connect(spark)
        self.done, self.cancelled = threading.Event(), False
        self.tasks = (0, 0)  # (finished, total) seen by a Spark Connect progress handler

    def tagged(self, work):
        """Run ``work`` with its Spark jobs in this watcher's group (or tag, on Spark Connect)."""
        if self.remote:
            self.spark.addTag(self.tag)
            handler = self._connect_progress
            if hasattr(self.spark, "registerProgressHandler"):
                self.spark.registerProgressHandler(handler)
            try:
                return work()
            finally:
                self.spark.removeTag(self.tag)
                if hasattr(self.spark, "removeProgressHandler"):
                    self.spark.removeProgressHandler(handler)
        context = self.spark.sparkContext
        context.setJobGroup(self.tag, "Halyard download", interruptOnCancel=True)
        try:
            return work()
        finally:
            context.setLocalProperty("spark.jobGroup.id", None)

    def _connect_progress(self, stages, inflight_tasks, operation_id, done):
        finished = sum(getattr(s, "num_completed_tasks", 0) for s in stages or [])
        total = sum(getattr(s, "num_tasks", 0) for s in stages or [])
        self.tasks = (finished, total)

    def run(self):
        while not self.done.wait(POLL):
            if self.run_.cancelled():
                self.cancel()
                continue
            finished, total = self.tasks if self.remote else self._classic_tasks()
            self.run_.progress(SPARK_SHARE * (finished / total if total else 0.0))

    def _classic_tasks(self):
        tracker = self.spark.sparkContext.statusTracker()
        finished = total = 0
        for job_id in tracker.getJobIdsForGroup(self.tag):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job else ():
                stage = tracker.getStageInfo(stage_id)
                if stage:
                    finished, total = finished + stage.numCompletedTasks, total + stage.numTasks
        return finished, total

    def cancel(self):
        """Cancel the request's Spark jobs (repeated while they run: a job may start after a cancel)."""
        self.cancelled = True
        try:
            if self.remote:
                self.spark.interruptTag(self.tag)
            else:
                self.spark.sparkContext.cancelJobGroup(self.tag)
        except Exception:  # noqa: BLE001 — the session may be closing; the job ends either way
            pass

    def stop(self):
        self.done.set()
        if self.is_alive():
            self.join()

    def settle(self, timeout=SETTLE_SECONDS):
        """Wait until no task of the request's jobs runs any more (a cancelled or failed job's tasks are
        killed asynchronously and could still write a part after the folder is removed). Spark Connect
        shows no tasks of other operations: there the interrupt has been answered, nothing to wait for."""
        if self.remote:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                tracker = self.spark.sparkContext.statusTracker()
                running = 0
                for job_id in tracker.getJobIdsForGroup(self.tag):
                    job = tracker.getJobInfo(job_id)
                    for stage_id in job.stageIds if job else ():
                        stage = tracker.getStageInfo(stage_id)
                        running += stage.numActiveTasks if stage else 0
            except Exception:  # noqa: BLE001 — the session is closing: its tasks end with it
                return
            if not running:
                return
            time.sleep(POLL)


def _is_connect(spark):
    return type(spark).__module__.startswith("pyspark.sql.connect")
