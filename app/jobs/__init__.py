"""RQ plumbing: the one Redis connection factory, queues, the app-context Job class, enqueue().

- ``get_redis()``: ``REDIS_URL`` when set, else the embedded Redis on its fixed
  socket in instance/ (app/jobs/embedded.py; ``halyard start`` supervises it).
- ``AppJob``: runs every job inside a Flask app context (the current app in the
  web process and tests, one app per worker process otherwise) and mirrors the
  job's state into its ``JobRecord`` row, so every job is also a resource.
- ``enqueue(func, ...)``: records a ``JobRecord`` (owner, subject) and enqueues.
- Job functions are importable and take ids, never live objects; they call
  ``report_progress()`` and ``produced()``, and raise ``JobError`` for a failure
  whose message is safe to show.
"""
import os
import uuid

from flask import current_app, has_app_context
from rq import Queue, get_current_job
from rq.job import Job

QUEUE_NAMES = ("high", "default", "low")
_worker_app = None


class JobError(Exception):
    """A job failure whose message is shown to clients (no secrets, no traceback)."""


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
    from app.jobs import embedded

    return embedded.client(instance_path, **options)


def queue_name(name="default", app=None):
    return f"{(app or current_app).config['HALYARD_QUEUE_PREFIX']}-{name}"


def get_queue(name="default", app=None):
    app = app or current_app
    return Queue(queue_name(name, app), connection=get_redis(app), job_class=AppJob,
                 default_timeout=app.config["HALYARD_JOB_TIMEOUT_SECONDS"])


def all_queues(app=None):
    return [get_queue(name, app) for name in QUEUE_NAMES]


def enqueue(func, *args, kind=None, owner=None, subject=None, queue="default", **options):
    """Record and enqueue ``func(*args)``; return the committed JobRecord.

    ``owner`` is the Account that may read the job, ``subject`` the path of the
    resource it works on; ``options`` go to RQ (``retry``, ``job_timeout``, ...).
    """
    from app.extensions import db
    from app.resources.jobs.models import JobRecord

    job_id = str(uuid.uuid4())
    record = JobRecord(id=job_id, kind=kind or func.__name__, owner=owner, subject=subject,
                       queue=queue, status="queued")
    db.session.add(record)
    db.session.commit()
    options.setdefault("result_ttl", current_app.config["HALYARD_JOB_RESULT_TTL_SECONDS"])
    options.setdefault("failure_ttl", current_app.config["HALYARD_JOB_RESULT_TTL_SECONDS"])
    try:
        get_queue(queue).enqueue(func, *args, job_id=job_id, **options)
    except Exception:
        record.status, record.error = "failed", "The job could not be queued."
        db.session.commit()
        raise
    return record


def report_progress(fraction, message=None):
    """Store progress (0–1) and a message in the running job's meta."""
    job = get_current_job()
    if job is not None:
        job.meta["progress"] = max(0.0, min(1.0, float(fraction)))
        job.meta["message"] = message
        job.save_meta()


def produced(path):
    """Record the path of the resource the running job produced (linked from /jobs/{id})."""
    job = get_current_job()
    if job is not None:
        job.meta["result_path"] = path
        job.save_meta()


def worker_app():
    """The Flask app of a worker process started without one (plain ``rq worker``)."""
    global _worker_app
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    return _worker_app


class AppJob(Job):
    """A Job that runs in a fresh app context and keeps its JobRecord in step."""

    def perform(self):
        app = current_app._get_current_object() if has_app_context() else worker_app()
        with app.app_context():
            from app.extensions import db

            if app.extensions.get("halyard.pid") != os.getpid():
                db.engine.dispose(close=False)  # a forked work horse must not share pooled connections
            self._mirror(status="started")
            try:
                result = super().perform()
            except BaseException as exc:
                self.meta["error"] = safe_summary(exc)
                self.save_meta()
                self._mirror(status="failed", error=self.meta["error"])
                raise
            self._mirror(status="finished")
            return result

    def _mirror(self, **values):
        from app.resources.jobs.models import JobRecord

        try:  # records have UUID ids (enqueue()); ids like the scheduler's "<prefix>-tick-<epoch>" have none
            uuid.UUID(self.id)
        except ValueError:
            return
        JobRecord.mirror(self, **values)


def safe_summary(exc):
    """The message a client may see for a failed job."""
    if isinstance(exc, JobError):
        return str(exc)
    from rq.timeouts import JobTimeoutException

    if isinstance(exc, JobTimeoutException):
        return "The job exceeded its time limit."
    return f"The job failed with an internal error ({type(exc).__name__})."
