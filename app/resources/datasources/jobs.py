"""Making a source's table (``materialise``) and running a step job (``run_steps``).

Both run in RQ jobs (this module is the data sources' jobs); ``materialise`` also runs inside the request
for small uploads. Files are written first and the database switched to them after, so a
failure leaves the previous table in place and nothing half-written behind.
"""

import json
import os

from app import storage
from app.extensions import db
from app.jobs import JobError, produced, report_progress
from app.resources.datasources import connectors, sandbox, tables
from app.resources.datasources.models import DataSource, Script, StepRun, close_steps
from app.resources.datasources.tables import TableError

BUILTIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "builtin_scripts")
BUILTINS = tuple(sorted(name[:-3] for name in os.listdir(BUILTIN_DIR) if name.endswith(".py")))


def builtin_body(name):
    with open(os.path.join(BUILTIN_DIR, f"{name}.py"), "rb") as fh:
        return fh.read()


def script_body(source, key):
    """The bytes of a script key (``builtin:<name>`` or ``upload:<name>``), or None when unknown."""
    kind, _, name = key.partition(":")
    if kind == "builtin":
        return builtin_body(name) if name in BUILTINS else None
    script = db.session.scalar(
        db.select(Script).where(Script.datasource_id == source.id, Script.name == name)
    )
    if kind != "upload" or script is None:
        return None
    with storage.open_file(script.body_key) as fh:
        return fh.read()


READING = (0.1, 0.9, "reading the source")  # the job's progress while DuckDB reads the rows


def materialise(source):
    """Compute ``source``'s table, preview and metadata; set status ready or error. Returns success."""
    version, new_file = source.version, None
    try:
        with storage.scratch(".source-") as work:
            table, new_file, file_type = _fetch_and_read(source, work)
    except TableError as error:
        db.session.refresh(source)
        if source.version == version:
            source.status, source.error = "error", str(error)
            db.session.commit()
        return False
    db.session.refresh(source)
    if source.version != version:  # replaced (PUT) or being deleted meanwhile: our files are stale
        tables.discard(table.keys() + [new_file])
        return False
    old = [source.table_key, source.preview_key] + ([source.file_key] if new_file else [])
    if new_file:
        source.file_key, source.file_type = new_file, file_type
    source.table_key, source.preview_key = table.table_key, table.preview_key
    source.items, source.fields, source.columns = table.items, table.fields, table.columns
    source.problems, source.status, source.error = table.problems, "ready", None
    db.session.commit()
    tables.discard(k for k in old if k)
    return True


def _fetch_and_read(source, work):
    """``(Table, new stored file key or None, its content type)`` for any source type."""
    if source.type == "file":
        with storage.local_copy(source.file_key) as path:
            return tables.materialise_csv(path, progress=READING), None, None
    if source.type == "external":
        return tables.materialise_external(source.url, progress=READING), None, None
    rows = os.path.join(work, "rows.csv")
    if source.type == "database":
        truncated = connectors.run_query(connectors.resolve(source), source.query, rows)
        table = tables.materialise_csv(rows, known_dialect=True, progress=READING)
        table.problems["truncated"] = truncated
        return table, storage.save_path(rows).key, "text/csv"
    raw = os.path.join(work, "raw")
    content_type, known = connectors.fetch_api(source.url, raw, rows)
    table = tables.materialise_csv(rows, known_dialect=known, progress=READING)
    try:
        return table, storage.save_path(raw).key, content_type
    except BaseException:
        tables.discard(table.keys())
        raise


def process_source(source_id, version):
    """RQ job: materialise a source (skipped when it was replaced or deleted since it was queued)."""
    source = db.session.get(DataSource, source_id)
    if source is None or source.version != version:
        return {"skipped": True}
    report_progress(0.1, "reading the source")
    if not materialise(source):
        db.session.refresh(source)
        raise JobError(source.error or "The source was replaced while it was being read.")
    report_progress(1.0, "ready")
    produced(f"/api/v1/datasources/{source.id}")
    return {"items": source.items, "fields": source.fields}


def _save_steps(run, steps):
    run.steps = [dict(step) for step in steps]  # a new list, so the JSON column is written
    db.session.commit()


def run_steps(run_id):
    """RQ job: run a StepRun's steps in ascending exec_order, each in the sandbox; store the result."""
    run = db.session.get(StepRun, run_id)
    if run is None or run.status != "queued":  # deleted, or failed by the reconciler before it ran
        return {"skipped": True}
    source, steps = run.datasource, sorted(run.steps, key=lambda s: s["exec_order"])
    run.status = "running"
    _save_steps(run, steps)
    try:
        sandbox.check()
        if source.status != "ready":
            raise JobError("The data source is not ready.")
        with storage.scratch(".steps-") as work:
            current = os.path.join(work, "input.csv")
            tables.export_csv(source, current)
            for number, step in enumerate(steps):
                report_progress(
                    number / (len(steps) + 1), f"step {number + 1} of {len(steps)}: {step['key']}"
                )
                current = _run_step(run, steps, step, current, os.path.join(work, f"step{number + 1}.csv"))
            report_progress(len(steps) / (len(steps) + 1), "storing the result")
            _store_result(run, current)
    except (JobError, sandbox.SandboxUnavailable, TableError) as error:
        _fail(run, steps, str(error))
        raise JobError(str(error)) from None
    except BaseException:
        _fail(run, steps, "The job failed with an internal error.")
        raise
    report_progress(1.0, "done")
    produced(f"/api/v1/datasources/{source.id}/jobs/{run.id}")
    return {"items": run.items, "fields": run.fields}


def _run_step(run, steps, step, current, destination):
    body = script_body(run.datasource, step["key"])
    if body is None:
        raise JobError(f"Step {step['key']} (exec_order {step['exec_order']}): the script no longer exists.")
    step["status"] = "running"
    _save_steps(run, steps)
    outcome = sandbox.run(body, current, json.dumps(step.get("params") or {}), destination)
    step.update(
        status="finished" if outcome.ok else "failed",
        exit_status=outcome.exit_status,
        reason=outcome.reason,
        duration=outcome.duration,
        stdout_tail=outcome.stdout_tail,
        stderr_tail=outcome.stderr_tail,
    )
    _save_steps(run, steps)
    if not outcome.ok:
        raise JobError(_failure_message(step, outcome))
    return destination


REASONS = {
    "time": "killed at its wall-clock limit",
    "cpu": "killed at its CPU limit",
    "memory": "ran out of its memory limit",
    "output": "exceeded the output size limit",
    "killed": "was killed",
    "sandbox": "the sandbox could not be set up",
    "output-file": "output.csv is not a regular file the step wrote (a link, a folder or missing)",
}


def _failure_message(step, outcome):
    why = REASONS.get(outcome.reason)
    status = f"exit status {outcome.exit_status}"
    tail = outcome.stderr_tail.strip().splitlines()[-1:] if outcome.stderr_tail.strip() else []
    message = f"Step {step['key']} (exec_order {step['exec_order']}) failed: {status}"
    message += f", {why}" if why else ""
    return message + (f": {tail[0][:300]}" if tail else ".")


def _store_result(run, csv_path):
    table = tables.materialise_csv(csv_path, known_dialect=True)
    try:
        result = storage.save_path(csv_path)
    except BaseException:
        tables.discard(table.keys())
        raise
    run.result_key, run.table_key, run.preview_key = result.key, table.table_key, table.preview_key
    run.items, run.fields, run.columns = table.items, table.fields, table.columns
    run.status, run.error = "finished", None
    db.session.commit()


def _fail(run, steps, message):
    db.session.rollback()
    run.status, run.error = "failed", message
    _save_steps(run, close_steps(steps))
