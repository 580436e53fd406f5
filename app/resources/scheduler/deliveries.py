"""/api/v1/schedule/{uuid}/deliveries/ (every attempt) and /api/v1/failed-tasks/ (runs out of tries)."""

from flask import request
from sqlalchemy import select

from app.auth import current_account, login_required
from app.errors import NotFound
from app.extensions import db
from app.hal import Collection, Document, Field, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import json_body, load_body, paginate, respond, url
from app.resources.scheduler import bp
from app.resources.scheduler.delivery import requeue as requeue_task
from app.resources.scheduler.models import OUTCOMES, DeliveryAttempt, FailedTask, Schedule
from app.resources.scheduler.openapi import DeliveryViewSchema, FailedTaskViewSchema, RequeuedSchema
from app.resources.scheduler.schemas import RequeueSchema, requeue_schema
from app.resources.scheduler.views import get_schedule_or_404
from app.timeutil import rfc3339

deliveries_collection = Collection(
    rel="ec:schedule/deliveries",
    item_rel="ec:delivery",
    fields=[
        Field("id", DeliveryAttempt.id, type="int"),
        Field("attempt", DeliveryAttempt.attempt, type="int", sortable=True),
        Field("outcome", DeliveryAttempt.outcome, type="enum", choices=OUTCOMES, sortable=True),
        Field("status_code", DeliveryAttempt.status_code, type="int", sortable=True),
        Field("run_id", DeliveryAttempt.run_id, type="uuid"),
        Field("sent_at", DeliveryAttempt.sent_at, type="datetime", sortable=True),
        Field("due_at", DeliveryAttempt.due_at, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("-sent_at",),
    tiebreak=DeliveryAttempt.id,
    not_found=lambda: NotFound("delivery"),
)

failed_tasks_collection = Collection(
    rel="ec:failed-tasks",
    item_rel="ec:failed-task",
    fields=[
        Field("id", FailedTask.id, type="uuid"),
        Field("schedule", FailedTask.schedule_id, type="uuid"),
        Field("created_at", FailedTask.created_at, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("-created_at",),
    tiebreak=FailedTask.id,
    not_found=lambda: NotFound("failedtask"),
)


def represent_delivery(attempt):
    doc = Document(
        {
            "id": attempt.id,
            "run_id": str(attempt.run_id),
            "attempt": attempt.attempt,
            "due_at": rfc3339(attempt.due_at),
            "sent_at": rfc3339(attempt.sent_at),
            "status_code": attempt.status_code,
            "duration_ms": attempt.duration_ms,
            "response_excerpt": attempt.response_excerpt,
            "error": attempt.error,
            "outcome": attempt.outcome,
        },
        self_href=url("scheduler.delivery", schedule_id=attempt.schedule_id, delivery_id=attempt.id),
    )
    doc.link("collection", url("scheduler.deliveries", schedule_id=attempt.schedule_id))
    doc.link("up", url("scheduler.get", schedule_id=attempt.schedule_id))
    return doc


def represent_failed_task(task):
    doc = Document(
        {
            "id": str(task.id),
            "schedule": str(task.schedule_id),
            "run_id": str(task.run_id),
            "task_name": task.task_name,
            "attempts": task.attempts,
            "reason": task.reason,
            "created_at": rfc3339(task.created_at),
        },
        self_href=url("scheduler.failed_task", task_id=task.id),
    )
    doc.link("collection", url("scheduler.failed_tasks"))
    doc.link("ec:schedule", url("scheduler.get", schedule_id=task.schedule_id))
    doc.link("ec:schedule/deliveries", url("scheduler.deliveries", schedule_id=task.schedule_id))
    return doc


def visible_failed_tasks(account):
    stmt = select(FailedTask)
    if not account.is_admin:
        stmt = stmt.join(Schedule, Schedule.id == FailedTask.schedule_id).where(
            Schedule.created_by_id == account.id
        )
    return stmt


@bp.get("/api/v1/schedule/<uuid:schedule_id>/deliveries/")
@login_required
@api_doc(
    collection=deliveries_collection,
    responses={200: page(DeliveryViewSchema)},
    description="Every delivery attempt of the schedule, newest first; `id=<id>` answers that attempt.",
)
def deliveries(schedule_id):
    """Every delivery attempt of one schedule, newest first."""
    schedule = get_schedule_or_404(schedule_id)
    stmt = select(DeliveryAttempt).where(DeliveryAttempt.schedule_id == schedule.id)
    return paginate(
        deliveries_collection,
        stmt,
        url("scheduler.deliveries", schedule_id=schedule.id),
        lambda attempts: [represent_delivery(a) for a in attempts],
        single=represent_delivery,
        links={"up": url("scheduler.get", schedule_id=schedule.id)},
    )


@bp.get("/api/v1/schedule/<uuid:schedule_id>/deliveries/<int:delivery_id>")
@login_required
@api_doc(responses={200: DeliveryViewSchema})
def delivery(schedule_id, delivery_id):
    """One delivery attempt."""
    schedule = get_schedule_or_404(schedule_id)
    attempt = db.session.get(DeliveryAttempt, delivery_id)
    if attempt is None or attempt.schedule_id != schedule.id:
        raise NotFound("delivery")
    return respond(represent_delivery(attempt))


@bp.get("/api/v1/failed-tasks/")
@login_required
@api_doc(
    collection=failed_tasks_collection,
    responses={200: page(FailedTaskViewSchema)},
    description="Runs whose last try failed (the caller's schedules; ADMINs: all); `id=<uuid>` answers one.",
)
def failed_tasks():
    """Runs whose last try failed, for the caller's schedules (ADMINs: all)."""
    return paginate(
        failed_tasks_collection,
        visible_failed_tasks(current_account()),
        url("scheduler.failed_tasks"),
        lambda tasks: [represent_failed_task(t) for t in tasks],
        single=represent_failed_task,
        templates={
            "default": Template(
                method="POST", title="Requeue failed tasks", properties=properties_from_schema(requeue_schema)
            )
        },
    )


@bp.get("/api/v1/failed-tasks/<uuid:task_id>")
@login_required
@api_doc(responses={200: FailedTaskViewSchema})
def failed_task(task_id):
    """One failed task."""
    task = db.session.scalar(visible_failed_tasks(current_account()).where(FailedTask.id == task_id))
    if task is None:
        raise NotFound("failedtask")
    return respond(represent_failed_task(task))


@bp.post("/api/v1/failed-tasks/")
@login_required
@api_doc(
    request=RequeueSchema,
    body_required=False,
    responses={201: RequeuedSchema},
    description="The body may also be left out (no Content-Length): every failed task the caller may see "
    "is requeued. `ids` and `schedule` narrow the choice; ids the caller may not see are skipped.",
)
def requeue():
    """Requeue failed tasks (all the caller may see, or the given ``ids``/``schedule``); 201."""
    options = load_body(requeue_schema, data=json_body() if request.content_length else {})
    stmt = visible_failed_tasks(current_account())
    if "ids" in options:
        stmt = stmt.where(FailedTask.id.in_(options["ids"]))
    if "schedule" in options:
        stmt = stmt.where(FailedTask.schedule_id == options["schedule"])
    tasks = list(db.session.scalars(stmt.order_by(FailedTask.created_at, FailedTask.id)))
    for task in tasks:
        requeue_task(task)
    doc = Document(
        {"requeued_failed_tasks": True, "count": len(tasks)}, self_href=url("scheduler.failed_tasks")
    )
    doc.link("collection", url("scheduler.failed_tasks"))
    return respond(doc, 201, {"Location": url("scheduler.failed_tasks")}, etag=False)
