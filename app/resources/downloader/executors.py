"""The executor contract: how a download request is handed to an engine (docs/executors.md).

An executor is a function ``execute(request, out_path, run) -> int | Result``:

- ``request``: a JSON-able dict — ``id``, ``item`` (the catalogue item's name), ``spec`` (columns,
  filters, randomize_ratio), ``types`` ({column: catalogue type} of the item's spec, for the filters'
  literals), ``format`` (csv|parquet), ``seed``, and ``table_url`` (where the item's Parquet table is
  stored: ``file:///…`` or ``s3://…``; None when the item is not bound to a data source).
- ``out_path``: a local path in the job's private work folder where the executor may write the result.
- ``run``: a :class:`Run`: ``run.progress(fraction, message)`` reports 0–1 of the work into the job
  (``/jobs/{id}``), ``run.cancelled()`` tells whether the request was cancelled (the last waiter left;
  poll it, at most every fraction of a second, and stop: a cancelled job's work horse is killed
  after HALYARD_DOWNLOADER_STOP_GRACE_SECONDS), ``run.table()`` is a context manager giving a
  local path of a stored table, ``run.relation(con, columns)`` one giving the rows of any ready source
  (an external data set included) as a DuckDB relation in ``con`` (LOCAL reads them so),
  ``run.new_result()`` gives ``(key, url)`` of a fresh storage object the executor may write the result
  into itself (a *remote result*), and
  ``run.workdir`` is the private work folder; the executor may set ``run.estimated_size`` (bytes) when
  the job has not (it sets it from the metadata for an external data set or a table past
  HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS, so no executor scans a large table only to estimate it).

It returns the row count (the result is ``out_path``, which the job moves into storage) or a
``Result(rows, key)`` naming the storage object it wrote itself; raising :class:`Cancelled` (or
returning while ``run.cancelled()`` is true) ends the request as cancelled, ``JobError`` fails it with
the message shown to the client.

The built-in executors: LOCAL items run ``app.resources.downloader.local:execute`` (DuckDB in the
worker); DATABRICKS items run ``app.resources.downloader.spark:execute`` when a Spark master or a
Spark Connect remote is configured (HALYARD_SPARK_MASTER / HALYARD_SPARK_REMOTE). An entry of
HALYARD_DOWNLOADER_ADAPTERS (executor type → ``module:function``) wins over both.
"""

import contextlib
import importlib
import threading
from dataclasses import dataclass

import redis.exceptions
from flask import current_app

from app import storage
from app.jobs import JobError, get_redis
from app.jobs.progress import Reporter

LOCAL = "app.resources.downloader.local:execute"
SPARK = "app.resources.downloader.spark:execute"
# The share of the job's progress an executor's own 0–1 maps onto (the rest: starting and storing).
LOW, HIGH = 0.1, 0.9


class Cancelled(Exception):
    """The request was cancelled while the executor ran."""


@dataclass
class Result:
    """What an executor returns when it wrote the result into storage itself (``run.new_result()``)."""

    rows: int | None
    key: str | None = None


def cancel_key(request_id):
    """The Redis flag that ``leave`` sets when the last waiter leaves (``Run.cancelled`` reads it)."""
    return f"{current_app.config['HALYARD_QUEUE_PREFIX']}:download-cancel:{request_id}"


def executor_for(executor_type):
    """``module:function`` of the executor that runs items of ``executor_type``, or None."""
    config = current_app.config
    configured = (config["HALYARD_DOWNLOADER_ADAPTERS"] or {}).get(executor_type)
    if configured:
        return configured
    if executor_type == "LOCAL":
        return LOCAL
    if executor_type == "DATABRICKS" and (config["HALYARD_SPARK_REMOTE"] or config["HALYARD_SPARK_MASTER"]):
        return SPARK
    return None


def needs_table(target):
    """Whether the executor reads the item's bound table (the built-in ones do)."""
    return target in (LOCAL, SPARK)


def reads_external(target):
    """Whether the executor reads any ready source through ``run.relation``, an ``external`` data set
    included (LOCAL does; SPARK reads stored tables at ``table_url``)."""
    return target == LOCAL


def load(target):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class Run:
    """The job's side of the contract, handed to the executor (see the module docstring)."""

    def __init__(self, request_id, job, workdir, table=None, recorded=None, relation=None):
        self.request_id, self.workdir, self._table, self._recorded = request_id, workdir, table, recorded
        self._relation = relation
        self._owner = threading.current_thread()
        self.reporter = Reporter(job, LOW, HIGH, "running")
        self._redis, self._key, self._cancelled = get_redis(), cancel_key(request_id), False
        self.estimated_size = None  # the executor may set its estimate of the result's bytes

    def progress(self, fraction, message=None):
        """Report ``fraction`` (0–1) of the executor's work (rate-limited; never raises)."""
        if message:
            self.reporter.message = message
        self.reporter(fraction)

    def cancelled(self):
        """True once the request is cancelled (sticky): its Redis flag (one EXISTS per call, any thread;
        a Redis outage reads as not flagged), and, called from the job's own thread, the request's row too."""
        if not self._cancelled:
            try:
                self._cancelled = bool(self._redis.exists(self._key))
            except redis.exceptions.RedisError:  # Redis away: the row (below) still says it; the work goes on
                pass
        if not self._cancelled and self._recorded is not None and threading.current_thread() is self._owner:
            self._cancelled = self._recorded()
        return self._cancelled

    def table(self):
        """Context manager: a local path of the item's table (a local copy from object storage)."""
        return self._table() if self._table is not None else contextlib.nullcontext(None)

    def relation(self, con, columns=None):
        """Context manager: the item's rows as a relation of the DuckDB connection ``con``, any ready source
        (a stored table, or an external data set streamed from where it lives), each row with its position
        ``file_row_number``; only ``columns`` are needed (LOCAL reads so)."""
        if self._relation is None:
            raise JobError("The catalogue item is not bound to a data source.")
        return self._relation(con, columns)

    def new_result(self):
        """``(key, url)``: a fresh storage object the executor may write its result to itself."""
        key = storage.new_key()
        return key, storage.url(key)
