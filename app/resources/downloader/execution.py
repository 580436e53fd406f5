"""Starting, joining, leaving and stopping download requests; estimates; live progress.

- ``create_or_join``: an equal live request (same normalised item/spec/format, not cancelled, not
  failed) gains the caller as a waiter; otherwise a new request starts. The unique ``live_key``
  makes two concurrent equal POSTs end up in one request. A request is committed only with its job
  record, and a failed one (its job failed, was killed, lost or never queued) leaves ``live_key``, so
  an equal request never joins dead work.
- ``start``: every request runs ``app.resources.downloader.jobs.run_download`` on RQ, which calls the
  item's executor (``executors.executor_for``: LOCAL → DuckDB, DATABRICKS → Spark when configured,
  or the adapter HALYARD_DOWNLOADER_ADAPTERS names); with none (or an unbound item where the
  executor reads the table) the request and its job record fail at once with the reason.
- ``leave``: the caller stops waiting; without waiters the request is cancelled and its RQ job
  cancelled (queued) or stopped (running) — the job also checks a cancel flag between stages and
  interrupts DuckDB when it is set.
"""

import logging
import secrets
import time
import uuid

from flask import current_app
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs import AppJob, enqueue, get_redis, reconcile
from app.jobs.models import JobRecord
from app.resources.datasources import tables
from app.resources.downloader import executors, local
from app.resources.downloader.executors import cancel_key
from app.resources.downloader.jobs import run_download
from app.resources.downloader.models import DownloadRequest
from app.resources.downloader.schemas import dedupe_key
from app.timeutil import utcnow

log = logging.getLogger("halyard")


def create_or_join(item, spec, fmt, account):
    """``(request, is_new)``: join an equal live request, or create and start a new one."""
    key = dedupe_key(item, spec, fmt)
    for _ in range(3):
        existing = db.session.scalar(select(DownloadRequest).where(DownloadRequest.live_key == key))
        if existing is not None and not _alive(existing):
            continue  # its job failed or was lost: it no longer holds the key, start afresh
        if existing is not None:
            if account not in existing.waiting:
                existing.waiting.append(account)
                db.session.commit()
            return existing, False
        req = DownloadRequest(
            catalogue_item=item,
            created_by=account,
            spec=spec,
            format=fmt,
            dedupe_key=key,
            live_key=key,
            seed=secrets.randbelow(2**31),
            status="queued",
        )
        req.waiting.append(account)
        db.session.add(req)
        try:
            db.session.flush()  # committed with its job record by start(): nothing when Redis is down
        except IntegrityError:  # an equal request was created concurrently: join it
            db.session.rollback()
            continue
        start(req, account)
        return req, True
    raise RuntimeError("could not create or join a download request")


def _alive(req):
    """Whether an equal request's job can still finish; a dead one is failed (and leaves the key) here."""
    if req.executor_job_id is not None and not reconcile.confirm_alive(req.executor_job_id):
        db.session.refresh(req)
    return req.live_key is not None


def start(req, account):
    """Enqueue the request's job, or fail request and job at once when nothing can run it."""
    item = req.catalogue_item
    reason = None
    target = executors.executor_for(item.executor_type)
    if not target:
        reason = (
            f"No executor adapter is configured for {item.executor_type} items "
            "(HALYARD_DOWNLOADER_ADAPTERS, or HALYARD_SPARK_MASTER / HALYARD_SPARK_REMOTE for DATABRICKS);"
            " nothing can run this download."
        )
    elif executors.needs_table(target):
        try:
            local.table_of(item, external=executors.reads_external(target))
        except local.SourceUnavailable as exc:
            reason = str(exc)
    subject = f"/downloader/requests/{req.id}"
    if reason:
        record = JobRecord(
            id=str(uuid.uuid4()),
            kind="download",
            owner=account,
            subject=subject,
            status="failed",
            error=reason,
            ended=utcnow(),
        )
        db.session.add(record)
        db.session.flush()
        req.executor_job_id = record.id
        req.fail(reason)
        db.session.commit()
        return
    enqueue(
        run_download,
        req.id,
        kind="download",
        owner=account,
        subject=subject,
        tracker=req,
        job_timeout=current_app.config["HALYARD_DOWNLOADER_JOB_TIMEOUT_SECONDS"],
    )


def leave(req, account):
    """Remove ``account`` from the waiters; the last one out cancels the request and stops its job."""
    req.waiting.remove(account)
    if req.waiting:
        db.session.commit()
        return
    was_live = req.status in ("queued", "running")
    req.cancel()
    db.session.commit()
    if was_live and req.executor_job_id:
        stop_job(req)


def stop_job(req):
    """Stop the request's job (``stop_download_job``), then settle its record as canceled."""
    stop_download_job(req.id, req.executor_job_id)
    record = db.session.get(JobRecord, req.executor_job_id)
    if record is not None and record.status in ("queued", "started"):
        record.status, record.error, record.ended = (
            "canceled",
            "The download request was cancelled.",
            utcnow(),
        )
        db.session.commit()


def stop_download_job(request_id, job_id):
    """Flag the cancellation of download ``request_id`` for its job ``job_id``, then cancel the RQ job
    (queued) or stop it (running). Every way a download is stopped comes here: its last waiter leaving
    (``leave``) and an operator's ``halyard jobs cancel``.

    A running job gets HALYARD_DOWNLOADER_STOP_GRACE_SECONDS to stop itself: its executor polls the flag
    (``run.cancelled()``) and interrupts its engine — DuckDB's query, or the request's Spark jobs, which on
    a cluster or a Spark Connect server would go on running if only the work horse were killed. A job
    still running after the grace (an adapter that never polls the flag) has its work horse killed."""
    redis = get_redis()
    redis.set(cancel_key(request_id), 1, ex=24 * 3600)
    try:
        job = AppJob.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return
    status = _status(job)
    if status == "started":
        status = _stopped_within(job, current_app.config["HALYARD_DOWNLOADER_STOP_GRACE_SECONDS"])
    try:
        if status == "started":
            send_stop_job_command(redis, job.id)
        elif status in ("queued", "deferred", "scheduled"):
            job.cancel()
    except InvalidJobOperation:
        pass  # it ended meanwhile


def _status(job):
    status = job.get_status()
    return str(getattr(status, "value", status))


def _stopped_within(job, seconds):
    """The job's status once it is no longer ``started``, or ``started`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    status = "started"
    while status == "started" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = _status(job)
    return status


def estimate(item, spec, fmt):
    """An Estimate for the web request, which never scans a large table: a stored table of at most
    HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS rows is counted exactly (``data``); a larger one, or an external
    data set, from its row count (the source's, read from the Parquet metadata when it was made) and the
    item's spec (``metadata``, no row read); an unreadable one from the spec alone."""
    source = item.datasource
    if source is not None and source.status == "ready" and source.items is not None:
        if local.estimated_by_metadata(source):
            return local.estimate_from_spec(item, spec, total=source.items)
    try:
        source, types, _ = local.table_of(item)
        local.check_columns(spec, types)
    except local.SourceUnavailable:
        return local.estimate_from_spec(item, spec)
    con = local.connect()
    try:
        with tables.relation(con, source) as rows:
            return local.estimate_from_data(con, item, spec, rows, fmt)
    except (LookupError, FileNotFoundError):  # storage lost the table meanwhile
        return local.estimate_from_spec(item, spec)
    finally:
        con.close()


def live_progress(req):
    """The request's progress (0–1): the job's live meta while running, else the stored value.

    A request still ``queued``/``running`` whose RQ job ended without saying so (a work horse killed
    by the OOM killer, a worker that died) is repaired here: it becomes ``failed`` with the reason.
    """
    if req.status not in ("queued", "running") or not req.executor_job_id:
        return 1.0 if req.status == "finished" else req.progress
    try:
        job = AppJob.fetch(req.executor_job_id, connection=get_redis())
    except NoSuchJobError:
        return req.progress
    status = str(getattr(job.get_status(refresh=False), "value", job.get_status(refresh=False)))
    if status in ("failed", "stopped", "canceled") and not req.is_cancelled:
        reconcile.fail(
            req.executor_job_id,
            job.meta.get("error") or "The worker running this download stopped before it finished.",
        )
        db.session.refresh(req)
        return req.progress
    meta = job.get_meta(refresh=False) if hasattr(job, "get_meta") else job.meta
    return max(req.progress or 0.0, float(meta.get("progress") or 0.0))
