"""The reconciler: rows that track work and RQ's registries agree, and what dead jobs left is swept.

``fail(job_id, message)`` is the one door for a job that will not finish: its JobRecord is settled
(a compare-and-set), the domain row that tracks it (``TracksJob``) is failed in the same transaction,
and RQ is told never to run it. ``enqueue()`` uses it when Redis fails after the commit, ``AppJob``
when a job raises, the job and download views when they see a dead job, and ``reconcile()``:

1. started jobs whose worker is dead on this host (pid gone) or gone from Redis are handed to RQ's
   own abandoned-job handling (``StartedJobRegistry.cleanup``), which moves them to failed;
2. every live JobRecord is compared with its RQ job: failed, stopped, cancelled, or its hash gone
   for longer than ``LOST_AFTER`` → ``fail``;
3. tracking rows still waiting while their record is final, or with no job at all past
   ``LOST_AFTER``, are failed;
4. the domains' own passes run (``add_pass``: the scheduler's lost deliveries, the download sweep);
5. storage is swept (app/jobs/sweep.py).

Each step is a compare-and-set or idempotent, so any number of workers may run it at once. It runs as
an RQ job: queued by every worker at its start (``at_worker_start``) and every HALYARD_RECONCILE_SECONDS one
scheduled job per period (``arm``: a unique job id per period, re-armed by every pass and every
``enqueue``). Both go to the low queue: waiting work runs first.
"""

import importlib
import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.executions import Execution
from rq.registry import StartedJobRegistry
from rq.worker import Worker
from sqlalchemy import select

from app.extensions import db
from app.jobs import AppJob, all_queues, get_queue, get_redis, sweep
from app.jobs.models import LIVE, JobRecord, trackers
from app.timeutil import utcnow

log = logging.getLogger("halyard")

LOST_AFTER = timedelta(seconds=60)  # a record committed just before its push is not lost yet
CHUNK = 500
DEAD = "The worker running this job stopped before it finished."
LOST = "The job was lost from the queue (Redis restarted or lost its data) before it finished."
CANCELED = "The job was cancelled before it finished."
NEVER_QUEUED = "The work was never queued (the server stopped before its job was recorded)."


def fail(job_id, message, *, status="failed", cancel=True):
    """Settle job ``job_id`` as ``status`` and fail the row that tracks it; commits. With ``cancel``, a
    job RQ still holds queued is cancelled. Returns whether this call settled the record."""
    db.session.rollback()
    moved = JobRecord.settle(job_id, status, message)
    record = db.session.get(JobRecord, job_id)
    if record is not None and record.status in ("failed", "canceled"):
        for model in trackers(record.kind):
            model.fail_tracking(job_id, record.error or message)
    db.session.commit()
    if cancel and moved:
        _cancel(job_id)
    return moved


def _cancel(job_id):
    try:
        job = AppJob.fetch(job_id, connection=get_redis())
        if _status(job) in ("queued", "scheduled", "deferred"):
            job.cancel()
    except (NoSuchJobError, InvalidJobOperation):
        pass
    except Exception:  # Redis down: the job finds its record settled and does nothing (AppJob.perform)
        log.warning("could not cancel job %s in RQ", job_id)


def _status(job):
    status = job.get_status(refresh=False)
    return str(getattr(status, "value", status))


def grace_cutoff(now=None):
    return (now or utcnow()) - LOST_AFTER


def confirm_alive(job_id):
    """True unless RQ shows job ``job_id`` failed, stopped, cancelled or lost; a dead one is failed here."""
    record = db.session.get(JobRecord, job_id)
    if record is None:
        return False
    if record.status in LIVE:
        jobs = AppJob.fetch_many([job_id], get_redis())
        _settle_from_rq([(record.id, record.created)], jobs, grace_cutoff())
    if record.status in ("failed", "canceled"):
        fail(job_id, record.error or DEAD)  # idempotent: fails a tracking row still waiting, too
    return record.status not in ("failed", "canceled")


def _settle_from_rq(records, jobs, cutoff):
    """Fail each live (id, created) record whose RQ job is over or gone; the number failed."""
    failed = 0
    for (job_id, created), job in zip(records, jobs, strict=False):
        if job is None:
            failed += created < cutoff and fail(job_id, LOST, cancel=False)
            continue
        status = _status(job)
        if status in ("failed", "stopped"):
            failed += fail(job_id, job.meta.get("error") or DEAD, cancel=False)
        elif status == "canceled":
            failed += fail(job_id, CANCELED, status="canceled", cancel=False)
    return failed


def abandon_dead_workers(queues, connection):
    """Hand started jobs whose worker is dead to RQ's abandoned-job handling; the number handed over."""
    handed = 0
    for queue in queues:
        registry = StartedJobRegistry(queue.name, connection=connection, job_class=AppJob)
        for entry in connection.zrange(registry.key, 0, -1):
            execution = Execution.from_composite_key(entry.decode(), connection)
            worker = connection.hget(execution.key, "worker_name")  # gone with its heartbeat: dead too
            if worker is not None and not worker_dead(connection, worker.decode()):
                continue
            handed += connection.zadd(registry.key, {entry: 0}, xx=True, ch=True)
        registry.cleanup()  # RQ's own handling: retried or moved to failed (AbandonedJobError)
    return handed


def worker_dead(connection, name):
    """A worker is dead when its Redis key is gone, or it ran on this host and its process is gone."""
    key = Worker.redis_worker_namespace_prefix + name
    pid, host = connection.hmget(key, "pid", "hostname")
    if pid is None:
        return not connection.exists(key)
    if host is None or host.decode() != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        worker = Worker.find_by_key(key, connection=connection)
        if worker is not None:
            worker.register_death()  # its registration would still count it as a live worker
        return True
    except PermissionError:
        pass
    return False


def check_records(now):
    """Step 2 over every live JobRecord, in chunks; the number failed."""
    failed, after = 0, ""
    while True:
        rows = db.session.execute(
            select(JobRecord.id, JobRecord.created)
            .where(JobRecord.status.in_(LIVE), JobRecord.id > after)
            .order_by(JobRecord.id)
            .limit(CHUNK)
        ).all()
        db.session.rollback()
        if not rows:
            return failed
        jobs = AppJob.fetch_many([r.id for r in rows], get_redis())
        failed += _settle_from_rq(rows, jobs, grace_cutoff(now))
        after = rows[-1].id


def check_trackers(now):
    """Step 3: rows still waiting for a job that is over, or that never had one; the number failed."""
    failed = 0
    for model in trackers():
        column = getattr(model, model.job_attr)
        over = db.session.execute(
            select(column, JobRecord.error)
            .join(JobRecord, column == JobRecord.id)
            .where(model.unfinished(), JobRecord.status.in_(("failed", "canceled")))
        ).all()
        for job_id, error in over:
            failed += len(model.fail_tracking(job_id, error or DEAD))
        failed += len(model.fail_tracking(None, NEVER_QUEUED, before=grace_cutoff(now)))
        db.session.commit()
    return failed


def add_pass(app, target, *, at_scheduler_start=False):
    """Register a domain's pass, ``"module:function"`` called with no argument in every reconcile.

    ``at_scheduler_start``: ``target`` is instead called when a worker that runs RQ's scheduler starts
    (``halyard worker`` without ``--burst``; app/jobs/worker.py). Passes are named by string so that
    the jobs plumbing never imports a domain (docs/development.md "Which package may import which").
    """
    key = "halyard.scheduler_start_passes" if at_scheduler_start else "halyard.reconcile_passes"
    app.extensions.setdefault(key, []).append(target)


def call_pass(target):
    """Call a registered pass (``"module:function"``); its result."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)()


def reconcile(now=None, sweep_files=False):
    """One pass of steps 1-5 (see the module docstring); what it did, as counts."""
    now = now or utcnow()
    connection = get_redis()
    report = {
        "abandoned": abandon_dead_workers(all_queues(), connection),
        "records": check_records(now),
        "rows": check_trackers(now),
    }
    for target in current_app.extensions.get("halyard.reconcile_passes", []):
        try:
            report[target.partition(":")[2]] = call_pass(target)
        except Exception:  # one domain's failure must not stop the others
            db.session.rollback()
            log.exception("reconcile pass %s failed", target)
    age = current_app.config["HALYARD_RECONCILE_FILE_AGE_SECONDS"]
    report["temporary"] = sweep.temporary(age)
    if sweep_files or report["abandoned"] or report["records"] or sweep.files_due(connection, age):
        report["unreferenced"] = sweep.unreferenced(age)
    if any(report.values()):
        log.info("reconcile %s", report)
    return report


def reconcile_job(sweep_files=False):
    """The periodic RQ job: arm the next period first (a failing pass must not stop the timer), then run."""
    arm()
    return reconcile(sweep_files=sweep_files)


def arm(connection=None):
    """Ensure the reconcile job of the next period exists (one per period, whoever arms it)."""
    period = current_app.config["HALYARD_RECONCILE_SECONDS"]
    if not period or period <= 0:
        return None
    due = (int(time.time()) // period + 1) * period
    job_id = f"{current_app.config['HALYARD_QUEUE_PREFIX']}-reconcile-{due}"
    if _armed.get(os.getpid()) == job_id:
        return job_id
    try:
        get_queue("low").enqueue_at(
            datetime.fromtimestamp(due, UTC),
            reconcile_job,
            job_id=job_id,
            unique=True,
            result_ttl=period,
            failure_ttl=24 * 3600,
            job_timeout=600,
        )
    except DuplicateJobError:
        pass
    _armed[os.getpid()] = job_id
    return job_id


_armed = {}  # per process: the reconcile job this process knows exists


def at_worker_start(app):
    """Queue a full pass (stored files included) on the low queue, and arm the timer: the worker starts at
    once and serves waiting work first (the pass runs as a job), even when Redis is not there yet."""
    try:
        job_id = f"{current_app.config['HALYARD_QUEUE_PREFIX']}-reconcile-start-{os.getpid()}"
        get_queue("low").enqueue(
            reconcile_job, True, job_id=job_id, result_ttl=600, failure_ttl=24 * 3600, job_timeout=600
        )
        arm()
    except Exception:
        app.logger.warning("could not queue the reconciler at worker start", exc_info=True)
