"""Download jobs: ``run_download(request_id)`` executes one download request; ``sweep_downloads()``
deletes the files of cancelled requests past their retention.

Stages (each ends with a cancellation check): estimate (filtered COUNT and widths) → extract
(one DuckDB COPY to a private work directory, interrupted when the request's cancel flag appears,
progress from DuckDB's own query progress) → store (into storage, ``real_size``, ``rows``).
"""

import importlib
import json
import logging
import shutil
import time
from datetime import timedelta

from flask import current_app
from rq import get_current_job

from app import storage
from app.extensions import db
from app.jobs import JobError, get_redis, produced, report_progress
from app.jobs.progress import DuckDBWatcher, Reporter, enable
from app.timeutil import utcnow

log = logging.getLogger("halyard")


class Cancelled(Exception):
    pass


class Watcher(DuckDBWatcher):
    """While DuckDB runs a query: publish its progress (app/jobs/progress.py), and interrupt it once
    cancellation is flagged."""

    def __init__(self, con, redis, key, job, low, high):
        enable(con)
        super().__init__(con, Reporter(job, low, high, "extracting"), on_tick=self.check_cancel)
        self.redis, self.key, self.cancelled = redis, key, False

    def check_cancel(self):
        if self.cancelled or self.redis.exists(self.key):
            # Keep interrupting until the query ends: an interrupt that lands before DuckDB has
            # started the statement is lost.
            self.cancelled = True
            self.con.interrupt()
            return True
        return False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def run_download(request_id):
    """Execute download request ``request_id`` (idempotent: a finished or cancelled request is left alone)."""
    from app.resources.downloader.models import DownloadRequest

    req = db.session.get(DownloadRequest, request_id)
    if req is None or req.is_cancelled or req.status in ("finished", "failed", "cancelled"):
        return req.status if req is not None else "missing"
    _stage(req, "running", 0.0, "starting")  # before the work directory exists: the sweep spares running ones
    try:
        with storage.scratch(f".download-{req.id}-") as workdir:
            if req.catalogue_item.executor_type == "LOCAL":
                out_path, rows = _run_local(req, workdir)
            else:
                out_path, rows = _run_adapter(req, workdir)
            _check_cancelled(req)
            _stage(req, "running", 0.95, "storing")
            stored = storage.save_path(out_path)
        req.file_key, req.real_size, req.rows = stored.key, stored.size, rows
        req.status, req.progress, req.finished = "finished", 1.0, utcnow()
        db.session.commit()
        report_progress(1.0, "finished")
        produced(f"/downloader/requests/{req.id}/file")
        return req.real_size
    except Cancelled:
        raise JobError("The download request was cancelled.") from None
    except JobError as exc:
        _fail(req, str(exc))
        raise
    except Exception:
        _fail(req, "The download failed with an internal error.")
        raise


def _run_local(req, workdir):
    from app.resources.downloader import local

    item = req.catalogue_item
    try:
        source, types, version = local.table_of(item)
        local.check_columns(req.spec, types)
        with local.table_file(source) as path:
            req.data_version = version
            return _export_local(req, item, workdir, path)
    except local.SourceUnavailable as exc:
        raise JobError(str(exc)) from None


def _export_local(req, item, workdir, path):
    from app.resources.downloader import local
    from app.resources.downloader.execution import cancel_key

    con = local.connect(workdir)
    try:
        _stage(req, "running", 0.02, "estimating")
        estimate = local.estimate_from_data(con, item, req.spec, path, req.format)
        req.estimated_size = estimate.size
        _check_cancelled(req)
        _stage(req, "running", 0.1, "extracting")
        out_path = f"{workdir}/result.{req.format}"
        with Watcher(con, get_redis(), cancel_key(req.id), get_current_job(), 0.1, 0.9) as watcher:
            try:
                rows = local.export(con, item, req.spec, req.seed, path, req.format, out_path)
            except _duckdb().InterruptException:
                raise Cancelled() from None
            except _duckdb().Error as exc:
                raise JobError(f"DuckDB could not run the download: {type(exc).__name__}.") from None
        if watcher.cancelled:
            raise Cancelled()
        return out_path, rows
    finally:
        con.close()


def _run_adapter(req, workdir):
    """Run the configured adapter ``module:function(request_dict, out_path) -> rows``."""
    from app.resources.downloader.execution import adapter_for

    target = adapter_for(req.catalogue_item.executor_type)
    if not target:
        raise JobError(f"No executor adapter is configured for {req.catalogue_item.executor_type} items.")
    module, _, name = target.partition(":")
    adapter = getattr(importlib.import_module(module), name)
    out_path = f"{workdir}/result.{req.format}"
    _stage(req, "running", 0.1, "running on " + req.catalogue_item.executor_type)
    rows = adapter(
        {
            "id": req.id,
            "item": req.catalogue_item.name,
            "spec": req.spec,
            "format": req.format,
            "seed": req.seed,
        },
        out_path,
    )
    return out_path, rows


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


def _check_cancelled(req):
    db.session.commit()  # keep what the stage recorded, then read the flag the web process may have set
    db.session.refresh(req)
    if req.is_cancelled:
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
    import os
    import re

    from sqlalchemy import select

    from app.resources.downloader.models import DownloadRequest

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


def _duckdb():
    """The duckdb module, imported on first use (web workers never need it)."""
    import duckdb

    return duckdb
