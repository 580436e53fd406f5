"""Progress of the running job, as ``/jobs/{id}`` shows it: ``progress.fraction``, ``message``, ``updated``.

Progress is informational: ``write`` never raises (a Redis hiccup while saving it is logged once per
outage, "meta not saved", and the job goes on). ``duckdb_progress(con, low, high, message)`` turns on
DuckDB's query progress for a connection (``enable_progress_bar``, printing off) and, while the block
runs its statements, a helper thread publishes it into the job, mapped onto ``low``..``high``: when it
moves, and at least every ``HEARTBEAT`` seconds (the ``updated`` time moves even while DuckDB is in a
phase it cannot measure).
"""

import logging
import threading
import time
from contextlib import contextmanager

from rq import get_current_job

from app.timeutil import rfc3339, utcnow

log = logging.getLogger("halyard.jobs")
POLL = 0.25  # how often the helper reads DuckDB's progress
HEARTBEAT = 1.0  # longest time between two writes while a statement runs (the issue asks for <= 2 s)
MIN_GAP = 0.25  # shortest time between two writes


def write(job, fraction, message=None):
    """Store ``fraction`` (0–1) and ``message`` in ``job``'s meta; True when it was saved."""
    if job is None:
        return False
    job.meta["progress"] = max(0.0, min(1.0, float(fraction)))
    job.meta["message"] = message
    job.meta["progress_at"] = rfc3339(utcnow())
    return save_meta(job)


_dropping = False  # this process's last meta write failed: the next failures log at DEBUG only


def save_meta(job):
    """Save ``job``'s meta; True when Redis took it. Never raises: a failure is logged once per outage
    ("meta not saved", WARNING), then at DEBUG until a write succeeds again."""
    global _dropping
    try:
        job.save_meta()
    except Exception as exc:  # noqa: BLE001 — meta is informational: its failure never fails the job
        level = logging.DEBUG if _dropping else logging.WARNING
        log.log(level, "job %s: meta not saved (%s)", getattr(job, "id", None), type(exc).__name__)
        _dropping = True
        return False
    _dropping = False
    return True


def enable(con):
    """Make DuckDB measure query progress on ``con`` without printing a bar."""
    try:
        con.execute("SET enable_progress_bar = true")
        con.execute("SET enable_progress_bar_print = false")
    except Exception:  # noqa: BLE001 — an older DuckDB: no progress, the work still runs
        log.debug("DuckDB query progress is unavailable", exc_info=True)


class Reporter:
    """Writes a stage's progress (0–1 of the stage, mapped onto ``low``..``high``) at a bounded rate."""

    def __init__(self, job, low, high, message):
        self.job, self.low, self.high, self.message = job, low, high, message
        self.last_value, self.last_at = None, 0.0

    def __call__(self, fraction):
        value = self.low + (self.high - self.low) * max(0.0, min(1.0, fraction))
        now = time.monotonic()
        moved = self.last_value is None or value > self.last_value
        if now - self.last_at < (MIN_GAP if moved else HEARTBEAT):
            return
        if write(self.job, max(value, self.last_value or 0.0), self.message):
            self.last_value, self.last_at = max(value, self.last_value or 0.0), now


class DuckDBWatcher(threading.Thread):
    """Publishes ``con.query_progress()`` through a Reporter until ``stop()``; ``on_tick`` (optional) runs
    on every poll (the downloader checks its cancel flag there)."""

    def __init__(self, con, reporter, on_tick=None):
        super().__init__(daemon=True)
        self.con, self.reporter, self.on_tick = con, reporter, on_tick
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(POLL):
            if self.on_tick is not None and self.on_tick():
                continue
            try:
                percent = self.con.query_progress()
            except Exception:  # noqa: BLE001 — progress only
                percent = -1
            self.reporter(percent / 100 if percent is not None and percent >= 0 else 0.0)

    def stop(self):
        self.done.set()
        self.join()


@contextmanager
def duckdb_progress(con, low, high, message, job=None):
    """While the block runs DuckDB statements on ``con``: publish their progress into the running job.
    Outside a job (a small upload read in the request) nothing is started."""
    job = job or get_current_job()
    if job is None:
        yield None
        return
    enable(con)
    watcher = DuckDBWatcher(con, Reporter(job, low, high, message))
    watcher.start()
    try:
        yield watcher
    finally:
        watcher.stop()
