"""RQ plumbing: the one Redis connection factory, queues, the app-context Job class, enqueue().

- ``get_redis()``: ``REDIS_URL`` when set, else the embedded Redis on its fixed
  socket in instance/ (app/jobs/embedded.py; ``halyard start`` supervises it).
- ``AppJob``: runs every job inside a Flask app context (the current app in the
  web process and tests, one app per worker process otherwise) and mirrors the
  job's state into its ``JobRecord`` row, so every job is also a resource; a job
  whose record was settled before it ran does nothing.
- ``enqueue(func, ...)``: commits a ``JobRecord`` (owner, subject) with the caller's
  rows, then enqueues; nothing is committed when Redis is down (``QueueUnavailable``).
- Job functions are importable and take ids, never live objects; they call
  ``report_progress()`` and ``produced()``, and raise ``JobError`` for a failure
  whose message is safe to show.
"""

import logging
import os
import time
import uuid

import redis.exceptions
from flask import current_app, has_app_context
from rq import Queue, get_current_job
from rq.job import Job
from rq.utils import import_attribute

from app import metrics
from app.errors import REDIS_RETRY_AFTER, ApiError
from app.extensions import db
from app.jobs import embedded
from app.jobs.models import JobRecord
from app.jobs.progress import save_meta, write
from app.observe import job_meta

QUEUE_NAMES = ("high", "default", "low")
# Job functions that moved (issue 14, docs/jobs.md "Moved job functions"): a job queued or scheduled
# before an upgrade names its function by the old dotted path, and still runs.
MOVED_FUNCTIONS = {
    "app.jobs.scheduler.tick": "app.resources.scheduler.jobs.tick",
    "app.jobs.scheduler.snapshot_metrics": "app.resources.scheduler.jobs.snapshot_metrics",
    "app.jobs.scheduler.deliver_batch": "app.resources.scheduler.delivery.deliver_batch",
    "app.jobs.downloads.run_download": "app.resources.downloader.jobs.run_download",
    "app.jobs.datasources.process_source": "app.resources.datasources.jobs.process_source",
    "app.jobs.datasources.run_steps": "app.resources.datasources.jobs.run_steps",
    "app.resources.datasources.processing.process_source": "app.resources.datasources.jobs.process_source",
    "app.resources.datasources.processing.run_steps": "app.resources.datasources.jobs.run_steps",
    "app.resources.catalogue.profile.compute_spec_job": "app.resources.catalogue.jobs.compute_spec_job",
}
log = logging.getLogger("halyard.jobs")
_worker_app = None


class JobError(Exception):
    """A job failure whose message is shown to clients (no secrets, no traceback)."""


class JobCancelled(JobError):
    """The job stopped itself because its work was cancelled: its record ends ``canceled``."""


def get_redis(app=None):
    """The app's Redis connection (created once per app and process)."""
    app = app or current_app
    key = ("halyard.redis", os.getpid())
    conn = app.extensions.get(key)
    if conn is None:
        conn = app.extensions[key] = connect(app.config.get("REDIS_URL"), app.instance_path)
    return conn


def connect(url, instance_path):
    """A Redis client for ``url``, or for the instance's embedded server when url is empty.

    The client reconnects by itself; a command that finds Redis down retries for under a second
    (a blip passes unnoticed), then raises ``redis.ConnectionError``: the web answers 503 at once
    instead of holding its workers, the worker waits for Redis (docs/security.md).
    """
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    options = {"retry": Retry(ExponentialBackoff(cap=0.4, base=0.05), 3), "socket_connect_timeout": 2}
    if url:
        import redis

        return redis.Redis.from_url(url, **options)
    return embedded.client(instance_path, **options)


def queue_name(name="default", app=None):
    return f"{(app or current_app).config['HALYARD_QUEUE_PREFIX']}-{name}"


def get_queue(name="default", app=None):
    app = app or current_app
    return Queue(
        queue_name(name, app),
        connection=get_redis(app),
        job_class=AppJob,
        default_timeout=app.config["HALYARD_JOB_TIMEOUT_SECONDS"],
    )


def all_queues(app=None):
    return [get_queue(name, app) for name in QUEUE_NAMES]


class QueueUnavailable(ApiError, redis.exceptions.ConnectionError):
    """503: Redis failed while work was being queued. ``committed`` False: nothing was committed (the
    session was rolled back); True: the work's rows were committed and are now failed.

    Also a Redis ``ConnectionError``, so code that handles a lost Redis handles this too.
    """

    code = 503
    event = "QUEUE_UNAVAILABLE"
    description = "The job queue is unavailable; nothing was changed. Try again shortly."

    def __init__(self, committed=False):
        super().__init__(
            "The job queue failed while the work was being queued; it is recorded as failed. "
            "Try again shortly."
            if committed
            else None,
            headers={"Retry-After": str(REDIS_RETRY_AFTER)},
        )
        self.committed = committed


def enqueue(func, *args, kind=None, owner=None, subject=None, queue="default", tracker=None, **options):
    """Record and enqueue ``func(*args)``; return the committed JobRecord.

    ``owner`` is the Account that may read the job, ``subject`` the path of the resource it works on,
    ``tracker`` the domain row (a ``TracksJob``) whose state follows the job; ``options`` go to RQ
    (``job_timeout``, ...). The caller's pending changes, the record and the tracker's job id are
    committed together, after Redis answered: when it does not, the session is rolled back and
    ``QueueUnavailable`` raised, so nothing is half-created. When Redis fails between the commit and
    the push, the record and its tracker are failed (``reconcile.fail``) before the error is raised.
    """
    target = get_queue(queue)
    try:
        target.connection.ping()
    except redis.exceptions.RedisError:
        db.session.rollback()
        raise QueueUnavailable() from None
    job_id = str(uuid.uuid4())
    record = JobRecord(
        id=job_id, kind=kind or func.__name__, owner=owner, subject=subject, queue=queue, status="queued"
    )
    db.session.add(record)
    db.session.flush()  # the record before the tracker's foreign key to it
    if tracker is not None:
        tracker.attach_job(job_id)
    db.session.commit()
    options.setdefault("result_ttl", current_app.config["HALYARD_JOB_RESULT_TTL_SECONDS"])
    options.setdefault("failure_ttl", current_app.config["HALYARD_JOB_RESULT_TTL_SECONDS"])
    options["meta"] = {
        **job_meta(),
        "kind": record.kind,
        **(options.get("meta") or {}),
    }  # the request id, for its log lines
    try:
        target.enqueue(func, *args, job_id=job_id, **options)
    except Exception as exc:
        from app.jobs import reconcile  # deferred: app.jobs.reconcile imports this module

        reconcile.fail(job_id, "The job could not be queued.", cancel=False)
        if isinstance(exc, redis.exceptions.RedisError):
            raise QueueUnavailable(committed=True) from exc
        raise
    from app.jobs import reconcile  # deferred: app.jobs.reconcile imports this module

    reconcile.arm()  # the reconciler's timer comes back after a Redis that lost it (a no-op when armed)
    return record


def report_progress(fraction, message=None):
    """Store progress (0–1) and a message in the running job's meta (informational: never raises); True
    when Redis took it."""
    return write(get_current_job(), fraction, message)


def produced(path):
    """Record the path of the resource the running job produced (linked from /jobs/{id}); the record
    gets it from the job's own copy even when Redis did not take it."""
    job = get_current_job()
    if job is not None:
        job.meta["result_path"] = path
        save_meta(job)


def worker_app():
    """The Flask app of a worker process started without one (plain ``rq worker``)."""
    global _worker_app
    if _worker_app is None:
        from app import create_app  # deferred: the composition root (it imports every package)

        _worker_app = create_app()
    return _worker_app


class AppJob(Job):
    """A Job that runs in a fresh app context and keeps its JobRecord (and tracking row) in step."""

    @property
    def func(self):
        """RQ's function lookup, with ``MOVED_FUNCTIONS`` read for jobs stored under an old path."""
        moved = None if self.instance else MOVED_FUNCTIONS.get(self.func_name)
        return import_attribute(moved) if moved else super().func

    def perform(self):
        started, outcome = time.perf_counter(), "failed"
        try:
            result = self.perform_in_app()
            outcome = "skipped" if getattr(self, "skipped", False) else "finished"
            return result
        finally:
            job_ended(self, outcome, time.perf_counter() - started)

    def perform_in_app(self):
        app = current_app._get_current_object() if has_app_context() else worker_app()
        with app.app_context():
            from app.jobs import reconcile  # deferred: app.jobs.reconcile imports this module

            if app.extensions.get("halyard.pid") != os.getpid():
                db.engine.dispose(close=False)  # a forked work horse must not share pooled connections
                metrics.adopt_parent()
            recorded = _has_record(self.id)
            if recorded and not JobRecord.begin(self.id):
                self.skipped = True
                return None  # failed or cancelled before it ran (e.g. by the reconciler): nothing to do
            try:
                result = super().perform()
            except BaseException as exc:
                self.meta["error"] = safe_summary(exc)
                if recorded:  # first: the database is the record, Redis may be what failed
                    status = "canceled" if isinstance(exc, JobCancelled) else "failed"
                    reconcile.fail(self.id, self.meta["error"], status=status, cancel=False)
                save_meta(self)
                raise
            if recorded:
                JobRecord.settle(self.id, "finished", result=self.meta.get("result_path"))
                db.session.commit()
            return result


def job_kind(job):
    """The kind of a job: its record's (stored in its meta by ``enqueue``), else its function's name."""
    return job.meta.get("kind") or (job.func_name or "unknown").rsplit(".", 1)[-1]


def job_ended(job, outcome, seconds):
    """One log line per job run: kind, outcome, duration, job id and the id of the request that enqueued
    it (RQ's current job is gone by now, so they are given here)."""
    fields = {
        "job_id": job.id,
        "kind": job_kind(job),
        "outcome": outcome,
        "duration_ms": round(seconds * 1000, 3),
    }
    if job.meta.get("request_id"):
        fields["request_id"] = job.meta["request_id"]
    log.info("job_ended", extra=fields)
    metrics.observe_job(fields["kind"], outcome, seconds)


def _has_record(job_id):
    """Records have UUID ids (enqueue()); ids like the scheduler's "<prefix>-tick-<epoch>" have none."""
    try:
        uuid.UUID(job_id)
    except ValueError:
        return False
    return True


def safe_summary(exc):
    """The message a client may see for a failed job."""
    if isinstance(exc, JobError):
        return str(exc)
    from rq.timeouts import JobTimeoutException

    if isinstance(exc, JobTimeoutException):
        return "The job exceeded its time limit."
    return f"The job failed with an internal error ({type(exc).__name__})."
