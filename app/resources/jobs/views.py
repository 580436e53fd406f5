"""GET /jobs/ and GET /jobs/{id}: RQ jobs as HAL resources, live state read from Redis."""

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import select

from app.auth import current_account, login_required
from app.errors import NotFound
from app.extensions import db
from app.hal import Collection, Document, Field
from app.jobs import AppJob, get_redis, reconcile
from app.jobs.models import STATUSES, TERMINAL, JobRecord
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import base_url, paginate, respond, url
from app.resources.jobs import bp
from app.resources.jobs.schemas import JobSchema
from app.timeutil import rfc3339

jobs_collection = Collection(
    rel="ec:jobs",
    item_rel="ec:job",
    fields=[
        Field("id", JobRecord.id),
        Field("kind", JobRecord.kind, sortable=True),
        Field("status", JobRecord.status, type="enum", choices=STATUSES, sortable=True),
        Field("created", JobRecord.created, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("-created",),
    tiebreak=JobRecord.id,
)

# RQ's states, in the contract's words (DESIGN.md §7).
RQ_STATUS = {"deferred": "queued", "stopped": "canceled", "canceled": "canceled"}


def live_state(record):
    """Merge the job's live state from Redis into a dict; repair the row when RQ knows better."""
    return live_states([record])[0]


def live_states(records):
    """``live_state`` of each record, with one Redis round trip for all of them (a page of /jobs/)."""
    jobs = AppJob.fetch_many([record.id for record in records], connection=get_redis())
    return [_merge(record, job) for record, job in zip(records, jobs, strict=True)]


def listed_states(records):
    """The items of a page of /jobs/: ``live_states``, or while Redis is unreachable what the rows hold
    (the list is a database read and keeps answering; one job's own resource answers 503 then)."""
    try:
        return live_states(records)
    except (RedisConnectionError, RedisTimeoutError):
        return [dict(NO_STATE, status=record.status) for record in records]


def _merge(record, job):
    state = dict(NO_STATE, status=record.status)
    if job is None:
        return state  # expired from Redis: the row is all we have
    status = job.get_status(refresh=False)
    status = getattr(status, "value", status) or record.status
    status = RQ_STATUS.get(status, status)
    meta = job.meta
    if status in ("failed", "canceled") and record.status not in TERMINAL:
        # e.g. a work horse killed mid-job: RQ moved it to failed, the row still says started
        reconcile.fail(record.id, meta.get("error") or reconcile.DEAD, status=status, cancel=False)
    if record.status in TERMINAL:
        status = record.status  # the row is final: e.g. settled by the reconciler while RQ still held it
    state.update(
        status=status,
        progress=meta.get("progress"),
        message=meta.get("message"),
        updated=meta.get("progress_at"),
        enqueued=job.enqueued_at,
        request_id=meta.get("request_id"),
    )
    if status == "finished":
        state["progress"] = 1.0
    return state


NO_STATE = {"progress": None, "message": None, "updated": None, "enqueued": None, "request_id": None}


def represent(record, state=None):
    state = state or dict(NO_STATE, status=record.status)
    doc = Document(
        {
            "id": record.id,
            "kind": record.kind,
            "status": state["status"],
            "progress": {
                "fraction": state["progress"],
                "message": state["message"],
                "updated": state["updated"],
            },
            "created": rfc3339(record.created),
            "enqueued": rfc3339(state["enqueued"]),
            "started": rfc3339(record.started),
            "ended": rfc3339(record.ended),
            "error": record.error if state["status"] == "failed" else None,
            "request_id": state["request_id"],
        },
        self_href=url("jobs.get", job_id=record.id),
    )
    doc.link("collection", url("jobs.index"))
    if record.subject:
        doc.link("ec:job/subject", base_url() + record.subject)
    if record.result and state["status"] == "finished":
        doc.link("ec:job/result", base_url() + record.result)
    return doc


def visible_jobs(account):
    stmt = select(JobRecord)
    return stmt if account.is_admin else stmt.where(JobRecord.owner_id == account.id)


def get_job_or_404(job_id):
    account = current_account()
    record = db.session.get(JobRecord, job_id)
    if record is None or not (account.is_admin or record.owner_id == account.id):
        raise NotFound("job")
    return record


@bp.get("/jobs/")
@login_required
@api_doc(
    collection=jobs_collection,
    responses={200: page(JobSchema, "The caller's jobs (ADMINs: all)")},
    description="`id=<id>` returns that single job, not a page.",
)
def index():
    """The jobs the caller started (ADMINs see all)."""
    return paginate(
        jobs_collection,
        visible_jobs(current_account()),
        url("jobs.index"),
        # each item carries the live fields /jobs/{id} shows
        lambda records: [represent(r, s) for r, s in zip(records, listed_states(records), strict=True)],
        single=lambda record: represent(record, live_state(record)),
    )


@bp.get("/jobs/<job_id>")
@login_required
@api_doc(responses={200: JobSchema})
def get(job_id):
    """One job: status, progress, timestamps, error summary and links."""
    record = get_job_or_404(job_id)
    return respond(represent(record, live_state(record)))
