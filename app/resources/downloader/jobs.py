"""Download jobs: ``run_download(request_id)`` executes one download request; ``sweep_downloads()``
deletes the files of cancelled requests past their retention.

The job resolves the item's executor (``executors.executor_for``) and its table, then calls the
executor through the contract of ``app.resources.downloader.executors`` (docs/executors.md): the
executor reports its progress into the job and polls the request's cancel flag; the job stores the
result — the local file it wrote (moved into storage), or the storage object it wrote itself — and
records ``real_size`` and ``rows``. Each stage ends with a cancellation check.
"""

import json
import logging
import os
import re
import shutil
import time
from datetime import timedelta

from flask import current_app
from rq import get_current_job
from sqlalchemy import select

from app import storage
from app.extensions import db
from app.jobs import JobCancelled, JobError, produced, report_progress
from app.resources.downloader import executors, local
from app.resources.downloader.executors import Cancelled, Result, Run
from app.resources.downloader.models import DownloadRequest
from app.timeutil import utcnow

log = logging.getLogger("halyard")


def run_download(request_id):
    """Execute download request ``request_id`` (idempotent: a finished or cancelled request is left alone)."""
    req = db.session.get(DownloadRequest, request_id)
    if req is None or req.is_cancelled or req.status in ("finished", "failed", "cancelled"):
        return req.status if req is not None else "missing"
    _stage(req, "running", 0.0, "starting")  # before the work directory exists: the sweep spares running ones
    try:
        with storage.scratch(f".download-{req.id}-") as workdir:
            key, rows = _execute(req, workdir)
        req.file_key, req.real_size, req.rows = key, storage.size(key), rows
        req.status, req.progress, req.finished = "finished", 1.0, utcnow()
        db.session.commit()
        report_progress(1.0, "finished")
        produced(f"/downloader/requests/{req.id}/file")
        return req.real_size
    except Cancelled:
        raise JobCancelled("The download request was cancelled.") from None
    except JobError as exc:
        _fail(req, str(exc))
        raise
    except Exception:
        _fail(req, "The download failed with an internal error.")
        raise


def _execute(req, workdir):
    """Run the item's executor; ``(storage key, rows)`` of the stored result."""
    item = req.catalogue_item
    target = executors.executor_for(item.executor_type)
    if not target:
        raise JobError(f"No executor adapter is configured for {item.executor_type} items.")
    source, table_url, estimate = None, None, None
    if executors.needs_table(target) or item.datasource is not None:
        try:
            source, duckdb_types, version = local.table_of(item, external=executors.reads_external(target))
            local.check_columns(req.spec, duckdb_types)
        except local.SourceUnavailable as exc:
            if executors.needs_table(target):
                raise JobError(str(exc)) from None
        else:
            req.data_version = version
            if source.table_key:
                table_url = storage.url(source.table_key)
            if local.estimated_by_metadata(source):  # from its row count and the spec: no second scan
                estimate = req.estimated_size = local.estimate_from_spec(
                    item, req.spec, total=source.items
                ).size
    request = {
        "id": req.id,
        "item": item.name,
        "spec": req.spec,
        "types": {c["name"]: c["type"] for c in item.spec or []},
        "format": req.format,
        "seed": req.seed,
        "table_url": table_url,
    }
    run = Run(
        req.id,
        get_current_job(),
        workdir,
        table=(lambda: local.table_file(source)) if source and source.table_key else None,
        relation=(lambda con, columns: local.rows(con, source, columns)) if source else None,
        recorded=lambda: _recorded_cancelled(req),
    )
    run.estimated_size = estimate  # when set, the executor does not estimate again
    out_path = os.path.join(workdir, f"result.{req.format}")
    _stage(req, "running", executors.LOW, f"running on {item.executor_type}")
    outcome = executors.load(target)(request, out_path, run)
    req.estimated_size = run.estimated_size if run.estimated_size is not None else req.estimated_size
    if run.cancelled():
        raise Cancelled()
    _check_cancelled(req)
    if isinstance(outcome, Result) and outcome.key:
        if not storage.exists(outcome.key):
            raise JobError("The executor did not write its result into storage.")
        return outcome.key, outcome.rows
    _stage(req, "running", 0.95, "storing")
    rows = outcome.rows if isinstance(outcome, Result) else outcome
    return storage.save_path(out_path).key, rows


def _stage(req, status, progress, message):
    req.status, req.progress = status, progress
    db.session.commit()
    report_progress(progress, message)
    now = time.monotonic()
    log.info(
        json.dumps(
            {
                "event": "download_stage",
                "download_request_id": req.id,
                "stage": message,
                "since_previous_s": round(now - _last.get(req.id, now), 3),
            }
        )
    )
    _last[req.id] = now


_last = {}


def _recorded_cancelled(req):
    db.session.commit()  # keep what the stage recorded, then read the flag the web process may have set
    db.session.refresh(req)
    return req.is_cancelled


def _check_cancelled(req):
    if _recorded_cancelled(req):
        raise Cancelled()


def _fail(req, message):
    db.session.rollback()
    db.session.refresh(req)
    if not req.is_cancelled:
        req.fail(message)
        db.session.commit()


def sweep_downloads():
    """Delete the files of requests cancelled longer than HALYARD_DOWNLOADER_RETENTION_SECONDS ago,
    and the work directories that killed work horses left behind (requests no longer running)."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["HALYARD_DOWNLOADER_RETENTION_SECONDS"])
    stale = db.session.scalars(
        select(DownloadRequest).where(
            DownloadRequest.is_cancelled.is_(True),
            DownloadRequest.file_key.is_not(None),
            DownloadRequest.updated <= cutoff,
        )
    ).all()
    for req in stale:
        storage.delete(req.file_key)
        req.file_key = None
    db.session.commit()
    scratch = storage.scratch_root()
    for name in os.listdir(scratch):
        match = re.fullmatch(r"\.download-(\d+)-\w+", name)
        if match:
            req = db.session.get(DownloadRequest, int(match.group(1)))
            if req is None or req.status != "running" or req.is_cancelled:
                shutil.rmtree(os.path.join(scratch, name), ignore_errors=True)
    return len(stale)
