"""Step scripts and step jobs of a data source:
/api/v1/datasources/{id}/script[/{key}], /script-upload, /job, /jobs[/{run}[/result|/preview|/table]]."""

import ast
import io
import re

from flask import current_app, request
from sqlalchemy import literal, select, union_all
from werkzeug.utils import secure_filename

from app import storage
from app.auth import current_account, login_required
from app.errors import BodyDidNotValidate, Conflict, NotFound, UnsupportedMediaType
from app.extensions import db
from app.hal import Collection, Document, Field, Template
from app.jobs import enqueue
from app.openapi import api_doc
from app.openapi.helpers import page, stored_file
from app.representation import (
    check_preconditions,
    created,
    load_body,
    no_content,
    paginate,
    respond,
    url,
)
from app.resources.datasources import bp
from app.resources.datasources.access import get_run_or_404, get_source_or_404, require_editor
from app.resources.datasources.jobs import BUILTINS, run_steps, script_body
from app.resources.datasources.models import RUN_STATUSES, Script, StepRun
from app.resources.datasources.openapi import (
    PREVIEW,
    ScriptUploadSchema,
    StepJobViewSchema,
    StepScriptViewSchema,
)
from app.resources.datasources.schemas import StartJobSchema, start_job_schema
from app.resources.datasources.tables import discard
from app.resources.datasources.views_sources import PARQUET
from app.resources.jobs.views import live_state
from app.timeutil import rfc3339

SCRIPT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _script_keys(source_id):
    """A SELECT of every script key of a source: the built-ins (as literal rows) and the uploads."""
    builtins = [
        select(literal(f"builtin:{n}").label("key"), literal("builtin").label("kind")) for n in BUILTINS
    ]
    uploads = select((literal("upload:") + Script.name).label("key"), literal("upload").label("kind")).where(
        Script.datasource_id == source_id
    )
    return union_all(*builtins, uploads).subquery("script_keys")


def scripts_collection(keys):
    return Collection(
        rel="ec:datasource/scripts",
        item_rel="ec:datasource/script",
        fields=[
            Field("key", keys.c.key, sortable=True),
            Field("kind", keys.c.kind, type="enum", choices=("builtin", "upload"), sortable=True),
        ],
        id_field="key",
        default_sort=("kind", "key"),
        tiebreak=keys.c.key,
        not_found=lambda: NotFound("script"),
    )


def represent_script(source, key, body):
    doc = Document(
        {"key": key, "kind": key.partition(":")[0], "body": body.decode("utf-8", errors="replace")},
        self_href=url("datasources.get_script", source_id=source.id, key=key),
    )
    doc.link("collection", url("datasources.scripts", source_id=source.id))
    doc.link("up", url("datasources.get_source", source_id=source.id))
    if key.startswith("upload:") and source.project.can_edit_sources(current_account()):
        doc.template("delete", Template(method="DELETE", properties=[]))
    return doc


@bp.get("/api/v1/datasources/<int:source_id>/script")
@login_required
@api_doc(
    collection=scripts_collection(_script_keys(0)),
    responses={200: page(StepScriptViewSchema)},
    description="`key=<key>` answers that script itself instead of a page.",
)
def scripts(source_id):
    """The built-in scripts and the ones uploaded to this source, each with its key and body."""
    source = get_source_or_404(source_id)
    keys = _script_keys(source.id)
    return paginate(
        scripts_collection(keys),
        select(keys.c.key),
        url("datasources.scripts", source_id=source.id),
        lambda keys: [represent_script(source, key, script_body(source, key)) for key in keys],
        single=lambda key: represent_script(source, key, script_body(source, key)),
        links={"up": url("datasources.get_source", source_id=source.id)},
    )


@bp.get("/api/v1/datasources/<int:source_id>/script/<key>")
@login_required
@api_doc(responses={200: StepScriptViewSchema})
def get_script(source_id, key):
    """One script by key."""
    source = get_source_or_404(source_id)
    body = script_body(source, key)
    if body is None:
        raise NotFound("script")
    return respond(represent_script(source, key, body))


@bp.delete("/api/v1/datasources/<int:source_id>/script/<key>")
@login_required
@api_doc(
    responses={204: None},
    description="Uploaded scripts only (a built-in is 404); editors, the owner and ADMINs.",
)
def delete_script(source_id, key):
    """Delete an uploaded script (built-ins cannot be deleted)."""
    source = get_source_or_404(source_id)
    kind, _, name = key.partition(":")
    script = db.session.scalar(select(Script).where(Script.datasource_id == source.id, Script.name == name))
    if kind != "upload" or script is None:
        raise NotFound("script")
    require_editor(source.project)
    check_preconditions(represent_script(source, key, script_body(source, key)))
    db.session.delete(script)
    db.session.commit()
    discard([script.body_key])
    return no_content()


def _read_script():
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Send the script as multipart/form-data.")
    unknown = [k for k in list(request.form) + list(request.files) if k != "script"]
    if unknown:
        raise BodyDidNotValidate(errors={unknown[0]: ["Unknown field."]})
    upload = request.files.get("script")
    if upload is None or not upload.filename:
        raise BodyDidNotValidate(errors={"script": ["A .py file is required."]})
    name = secure_filename(upload.filename)
    if not name.endswith(".py") or not SCRIPT_NAME.match(name[:-3]):
        raise BodyDidNotValidate(
            errors={"script": ["The file name must end in .py (letters, digits, _ . -)."]}
        )
    limit = current_app.config["HALYARD_DATASOURCE_SCRIPT_MAX_BYTES"]
    body = upload.stream.read(limit + 1)
    if len(body) > limit:
        raise BodyDidNotValidate(errors={"script": [f"The script is larger than {limit} bytes."]})
    try:
        ast.parse(body.decode("utf-8"), filename=name)  # parsed only; never executed here
    except UnicodeDecodeError:
        raise BodyDidNotValidate(errors={"script": ["The script is not UTF-8 text."]}) from None
    except SyntaxError as error:
        raise BodyDidNotValidate(
            errors={"script": [f"Syntax error on line {error.lineno}: {error.msg}"]}
        ) from None
    return name[:-3], body


@bp.post("/api/v1/datasources/<int:source_id>/script-upload")
@login_required
@api_doc(
    request=ScriptUploadSchema,
    content_type="multipart/form-data",
    responses={201: StepScriptViewSchema},
    description="The file is syntax-checked, never run here; an upload of the same name replaces it.",
)
def script_upload(source_id):
    """Upload a step script (multipart ``script``, a .py file, syntax-checked); same name replaces."""
    source = get_source_or_404(source_id)
    require_editor(source.project)
    name, body = _read_script()
    stored = storage.save(io.BytesIO(body))
    script = db.session.scalar(select(Script).where(Script.datasource_id == source.id, Script.name == name))
    old = None
    if script is None:
        script = Script(datasource_id=source.id, name=name, creator_id=current_account().id)
        db.session.add(script)
    else:
        old = script.body_key
    script.body_key, script.size = stored.key, stored.size
    db.session.commit()
    discard([old])
    return created(represent_script(source, script.key, body))


def represent_run(run, state=None):
    source = run.datasource
    base = {"source_id": source.id, "run_id": run.id}
    done = run.status == "finished"
    status = run.status
    if state and state["status"] in ("failed", "canceled") and status in ("queued", "running"):
        status = "failed"  # e.g. the worker died mid-job
    doc = Document(
        {
            "id": run.id,
            "datasource": source.id,
            "status": status,
            "error": run.error or (state.get("error") if state and status == "failed" else None),
            "progress": {
                "fraction": 1.0 if done else (state or {}).get("progress"),
                "message": (state or {}).get("message"),
            },
            "steps": run.steps,
            "created": rfc3339(run.created),
            "result": url("datasources.run_result", **base) if done else None,
            "meta_data": {
                "items": run.items,
                "fields": run.fields,
                "preview": url("datasources.run_preview", **base) if done else None,
            },
            "columns": run.columns or [],
        },
        self_href=url("datasources.get_run", **base),
    )
    doc.link("collection", url("datasources.runs", source_id=source.id))
    doc.link("up", url("datasources.get_source", source_id=source.id))
    if run.job_id:
        doc.link("ec:job", url("jobs.get", job_id=run.job_id))
    if done:
        doc.link("ec:datasource-job/result", url("datasources.run_result", **base), type="text/csv")
        doc.link("ec:datasource-job/preview", url("datasources.run_preview", **base))
        doc.link("ec:datasource-job/table", url("datasources.run_table", **base))
    return doc


runs_collection = Collection(
    rel="ec:datasource/jobs",
    item_rel="ec:datasource-job",
    fields=[
        Field("id", StepRun.id, type="int", sortable=True),
        Field("status", StepRun.status, type="enum", choices=RUN_STATUSES, sortable=True),
        Field("created", StepRun.created, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("-created",),
    tiebreak=StepRun.id,
    not_found=lambda: NotFound("datasourcejob"),
)


@bp.post("/api/v1/datasources/<int:source_id>/job")
@login_required
@api_doc(
    request=StartJobSchema,
    responses={201: StepJobViewSchema},
    errors=(409,),
    description="400 naming `steps` for an unknown key or a duplicate exec_order; 409 "
    "`DATASOURCE_NOT_READY` while the source is not ready.",
)
def start_run(source_id):
    """Start a step job: ``{steps: [{key, exec_order, params?}]}`` → 201 + Location of the job (seed 002's
    status; the job runs on and is followed at that Location)."""
    source = get_source_or_404(source_id)
    require_editor(source.project)
    data = load_body(start_job_schema)
    unknown = {
        str(i): {"key": ["No script with this key; GET this source's script list for its keys."]}
        for i, step in enumerate(data["steps"])
        if script_body(source, step["key"]) is None
    }
    if unknown:
        raise BodyDidNotValidate(errors={"steps": unknown})
    if source.status != "ready":
        raise Conflict(
            "The data source is not ready; wait until its status is ready.", event="DATASOURCE_NOT_READY"
        )
    steps = [dict(step, status="pending") for step in sorted(data["steps"], key=lambda s: s["exec_order"])]
    run = StepRun(datasource_id=source.id, creator_id=current_account().id, steps=steps, status="queued")
    db.session.add(run)
    db.session.flush()  # its id; committed with its job record by enqueue (nothing when Redis is down)
    enqueue(
        run_steps,
        run.id,
        kind="datasource-steps",
        owner=current_account(),
        tracker=run,
        subject=f"/api/v1/datasources/{source.id}/jobs/{run.id}",
        job_timeout=_job_timeout(len(steps)),
    )
    return created(represent_run(run))


def _job_timeout(steps):
    return (
        current_app.config["HALYARD_SANDBOX_WALL_SECONDS"] * steps
        + current_app.config["HALYARD_JOB_TIMEOUT_SECONDS"]
    )


@bp.get("/api/v1/datasources/<int:source_id>/jobs")
@login_required
@api_doc(
    collection=runs_collection,
    responses={200: page(StepJobViewSchema)},
    description="`id=<id>` answers that step job itself instead of a page.",
)
def runs(source_id):
    """The step jobs of a data source."""
    source = get_source_or_404(source_id)
    stmt = select(StepRun).where(StepRun.datasource_id == source.id)
    return paginate(
        runs_collection,
        stmt,
        url("datasources.runs", source_id=source.id),
        lambda runs: [represent_run(r) for r in runs],
        single=lambda run: represent_run(run, _state(run)),
        links={"up": url("datasources.get_source", source_id=source.id)},
    )


def _state(run):
    """The live RQ state of the run's job (progress, failure of a dead worker), or None."""
    if run.job is None:
        return None

    state = live_state(run.job)
    state["error"] = run.job.error
    return state


@bp.get("/api/v1/datasources/<int:source_id>/jobs/<int:run_id>")
@login_required
@api_doc(responses={200: StepJobViewSchema})
def get_run(source_id, run_id):
    """One step job: per-step status, durations, exit statuses and log tails; links to the result."""
    source = get_source_or_404(source_id)
    run = get_run_or_404(source, run_id)
    return respond(represent_run(run, _state(run)))


def _finished_file(source_id, run_id, attr, mimetype, what):
    run = get_run_or_404(get_source_or_404(source_id), run_id)
    key = getattr(run, attr) if run.status == "finished" else None
    if not key or not storage.exists(key):
        raise NotFound(what)
    return storage.send(key, mimetype=mimetype)


@bp.get("/api/v1/datasources/<int:source_id>/jobs/<int:run_id>/result")
@login_required
@api_doc(
    **stored_file("The final table as CSV.", "text/csv"),
    description="404 `COULD_NOT_FIND_RESULT` until the job has finished.",
)
def run_result(source_id, run_id):
    """The job's final table as CSV."""
    return _finished_file(source_id, run_id, "result_key", "text/csv", "result")


@bp.get("/api/v1/datasources/<int:source_id>/jobs/<int:run_id>/preview")
@login_required
@api_doc(**stored_file("The preview of the result.", "application/json", json_schema=PREVIEW))
def run_preview(source_id, run_id):
    """The JSON preview of the job's result."""
    return _finished_file(source_id, run_id, "preview_key", "application/json", "preview")


@bp.get("/api/v1/datasources/<int:source_id>/jobs/<int:run_id>/table")
@login_required
@api_doc(**stored_file("The final table as Parquet.", PARQUET))
def run_table(source_id, run_id):
    """The job's result as Parquet."""
    return _finished_file(source_id, run_id, "table_key", "application/vnd.apache.parquet", "table")
