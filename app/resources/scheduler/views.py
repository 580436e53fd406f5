"""/api/v1/schedule/ and /api/v1/schedule/{uuid}/: schedules that POST a payload on cron or interval."""

import secrets

from flask import request
from sqlalchemy import select

from app.auth import current_account, login_required
from app.errors import BodyDidNotValidate, NotFound
from app.extensions import db
from app.hal import Collection, Document, Field, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, created, load_body, no_content, paginate, respond, url
from app.resources.scheduler import bp, counters
from app.resources.scheduler.jobs import arm
from app.resources.scheduler.models import Schedule
from app.resources.scheduler.openapi import (
    DEFINITIONS_TEXT,
    ScheduleChangeSchema,
    ScheduleCreatedSchema,
    ScheduleCreateSchema,
    ScheduleViewSchema,
)
from app.resources.scheduler.schemas import schedule_schema
from app.resources.scheduler.timing import ceil_second, next_slot
from app.timeutil import rfc3339, utcnow

DEFINITIONS = ("cron_definition", "interval_definition")
TIMING = ("cron_definition", "interval_definition", "enabled")

schedules_collection = Collection(
    rel="ec:schedules",
    item_rel="ec:schedule",
    fields=[
        Field("id", Schedule.id, type="uuid"),
        Field("endpoint", Schedule.endpoint, sortable=True),
        Field("enabled", Schedule.enabled, type="bool"),
        Field("frequency", Schedule.frequency, type="int", sortable=True),
        Field("triggered", Schedule.triggered, type="int", sortable=True),
        Field("next_send_at", Schedule.next_send_at, type="datetime", sortable=True),
        Field("last_run", Schedule.last_run, type="datetime", sortable=True),
        Field("created_at", Schedule.created_at, type="datetime", sortable=True),
        Field("updated_at", Schedule.updated_at, type="datetime", sortable=True),
        Field("created_by", Schedule.created_by_id, type="int"),
    ],
    id_field="id",
    default_sort=("-created_at",),
    tiebreak=Schedule.id,
    not_found=lambda: NotFound("schedule"),
)


def represent(schedule):
    doc = Document(
        {
            "id": str(schedule.id),
            "frequency": schedule.frequency,
            "endpoint": schedule.endpoint,
            "cron_definition": schedule.cron_definition,
            "interval_definition": schedule.interval_definition,
            "has_auth_token": schedule.auth_token_encrypted is not None,
            "payload": schedule.payload,
            "enabled": schedule.enabled,
            "next_send_at": rfc3339(schedule.next_send_at),
            "last_run": rfc3339(schedule.last_run),
            "triggered": schedule.triggered,
            "created_at": rfc3339(schedule.created_at),
            "updated_at": rfc3339(schedule.updated_at),
            "created_by": schedule.created_by_id,
            "updated_by": schedule.updated_by_id,
        },
        self_href=url("scheduler.get", schedule_id=schedule.id),
    )
    doc.link("collection", url("scheduler.index"))
    doc.link("ec:schedule/deliveries", url("scheduler.deliveries", schedule_id=schedule.id))
    doc.link("ec:failed-tasks", url("scheduler.failed_tasks", schedule=str(schedule.id)))
    doc.template(
        "default",
        Template(
            method="PUT",
            title="Edit the schedule",
            properties=properties_from_schema(schedule_schema, partial=True),  # PUT loads it partial
        ),
    )
    doc.template("delete", Template(method="DELETE", title="Delete the schedule"))
    # seed-native JSON (docs/seed-native.md): the document's spelling beside the corrected one
    return doc.with_native(lambda: {**doc.properties, "inteval_definition": schedule.interval_definition})


def visible_schedules(account):
    stmt = select(Schedule)
    return stmt if account.is_admin else stmt.where(Schedule.created_by_id == account.id)


def get_schedule_or_404(schedule_id):
    account = current_account()
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or not (account.is_admin or schedule.created_by_id == account.id):
        raise NotFound("schedule")
    return schedule


def apply_timing(schedule, now):
    """Check exactly one definition is set; restart the grid and compute next_send_at."""
    if bool(schedule.cron_definition) == bool(schedule.interval_definition):
        message = "Set exactly one of cron_definition and interval_definition."
        seed_spelling = "inteval_definition" in (request.get_json(silent=True) or {})  # reported as sent
        names = ("cron_definition", "inteval_definition") if seed_spelling else DEFINITIONS
        raise BodyDidNotValidate(errors={name: [message] for name in names})
    schedule.anchor_at = ceil_second(now)
    schedule.next_send_at = (
        next_slot(schedule.cron_definition, schedule.interval_definition, schedule.anchor_at, after=now)
        if schedule.enabled
        else None
    )


@bp.get("/api/v1/schedule/")
@login_required
@api_doc(
    collection=schedules_collection,
    responses={200: page(ScheduleViewSchema)},
    description="The caller's schedules (ADMINs: all); `id=<uuid>` answers that schedule itself.",
)
def index():
    """The schedules the caller owns (ADMINs: all), with the query grammar and limit/offset."""
    return paginate(
        schedules_collection,
        visible_schedules(current_account()),
        url("scheduler.index"),
        lambda schedules: [represent(s) for s in schedules],
        single=represent,
        templates={
            "default": Template(
                method="POST", title="Create a schedule", properties=properties_from_schema(schedule_schema)
            )
        },
    )


@bp.post("/api/v1/schedule/")
@login_required
@api_doc(request=ScheduleCreateSchema, responses={201: ScheduleCreatedSchema}, description=DEFINITIONS_TEXT)
def create():
    """Create a schedule; 201 with Location and its signing secret (shown this once)."""
    data = load_body(schedule_schema)
    account, now = current_account(), utcnow()
    secret = "whsec_" + secrets.token_urlsafe(32)
    schedule = Schedule(
        created_by_id=account.id,
        updated_by_id=account.id,
        created_at=now,
        updated_at=now,
        enabled=data.pop("enabled", True),
        secret=secret,
        triggered=0,
        generation=0,
    )
    for name, value in data.items():
        setattr(schedule, name, value)
    apply_timing(schedule, now)
    db.session.add(schedule)
    db.session.commit()
    arm(schedule)
    counters.incr("schedules.created.sum")
    doc = represent(schedule)
    doc.properties["signing_secret"] = secret
    return created(doc)


@bp.get("/api/v1/schedule/<uuid:schedule_id>/")
@login_required
@api_doc(
    responses={200: ScheduleViewSchema},
    description="Owner and ADMINs; 404 COULD_NOT_FIND_SCHEDULE for anyone else.",
)
def get(schedule_id):
    """One schedule (auth_token is never returned, only has_auth_token)."""
    return respond(represent(get_schedule_or_404(schedule_id)))


@bp.put("/api/v1/schedule/<uuid:schedule_id>/")
@login_required
@api_doc(
    request=ScheduleChangeSchema,
    responses={200: ScheduleViewSchema},
    description="Any subset of the fields; one definition replaces the other kind. " + DEFINITIONS_TEXT,
)
def update(schedule_id):
    """Change a schedule; a new definition or enabled flag reschedules at once."""
    schedule = get_schedule_or_404(schedule_id)
    check_preconditions(represent(schedule))
    data = load_body(schedule_schema, partial=True)
    sent = [name for name in DEFINITIONS if data.get(name)]
    if len(sent) == 1:  # one definition replaces the other kind
        data.setdefault(DEFINITIONS[1 - DEFINITIONS.index(sent[0])], None)
    timing_changed = any(name in data and data[name] != getattr(schedule, name) for name in TIMING)
    for name, value in data.items():
        setattr(schedule, name, value)
    now = utcnow()
    schedule.updated_at, schedule.updated_by_id = now, current_account().id
    if timing_changed:
        apply_timing(schedule, now)
        schedule.generation += 1
    db.session.commit()
    if timing_changed:  # the new generation makes a claimed-but-unsent run of the old one cancel itself
        arm(schedule)
    return respond(represent(schedule))


@bp.delete("/api/v1/schedule/<uuid:schedule_id>/")
@login_required
@api_doc(responses={204: None}, description="The pending run is cancelled at once.")
def delete(schedule_id):
    """Delete a schedule: its pending run is cancelled at once."""
    schedule = get_schedule_or_404(schedule_id)
    check_preconditions(represent(schedule))
    db.session.delete(schedule)  # its runs go with it: a queued batch finds nothing to send for it
    db.session.commit()
    counters.incr("schedules.deleted.sum")
    return no_content()
