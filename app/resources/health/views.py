"""GET /api/health/ (full report), /api/health/live, /api/health/ready and POST /api/health/probe."""

import time

from flask import current_app, request
from marshmallow import Schema, fields, validate
from sqlalchemy import text

from app.auth import CHALLENGE, admin_required, current_account, optional_auth
from app.errors import REDIS_RETRY_AFTER, ServiceUnavailable, Unauthorized
from app.extensions import db
from app.hal import Document, Template, properties_from_schema
from app.jobs import all_queues, enqueue, get_redis
from app.jobs.probe import probe as probe_job
from app.jobs.status import oldest_age, tick_age, worker_states
from app.openapi import api_doc
from app.representation import accepted, load_body, respond, url
from app.resources.health import bp
from app.resources.health.schemas import HealthSchema
from app.resources.jobs.schemas import JobSchema
from app.resources.jobs.views import represent as represent_job
from app.resources.root import VERSION


class ProbeSchema(Schema):
    steps = fields.Integer(load_default=3, validate=validate.Range(min=1, max=20))
    delay = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=5))
    fail = fields.Boolean(load_default=False)


probe_schema = ProbeSchema()


def check_database():
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 — any failure means "not accessible"
        db.session.rollback()
        return False


def check_redis():
    try:
        get_redis().ping()
        return True
    except Exception:  # noqa: BLE001
        return False


def queues_report(queues, now):
    return {
        queue.name: {"length": queue.count, "oldest_age_seconds": oldest_age(queue, now)} for queue in queues
    }


def full_report():
    """(up, result): up needs the database and Redis only; workers are reported, not required."""
    database = check_database()
    result = {"database": "Accessible" if database else "Inaccessible"}
    try:
        connection, queues, now = get_redis(), all_queues(), time.time()
        connection.ping()
        states = worker_states(connection, queues)
        result.update(
            redis="Accessible",
            workers="Running" if states else "Missing",
            workers_alive=sum(states.values()),
            worker_states=states,
            queues=queues_report(queues, now),
            scheduler_tick_age_seconds=tick_age(connection, now),
        )
        redis_ok = True
    except Exception:  # noqa: BLE001 — Redis failed somewhere in the report: it is not accessible
        redis_ok = False
        result.update(redis="Inaccessible", workers="Unknown", workers_alive=0, worker_states={}, queues={})
        result["scheduler_tick_age_seconds"] = None
    result["version"] = VERSION
    return database and redis_ok, result


@bp.get("/api/health/live")
@api_doc(auth="none", responses={200: HealthSchema}, description="Liveness: the process answers.")
def live():
    """Liveness: the process answers (touches neither the database nor Redis)."""
    body = {"up": True, "result": {"process": "Answering"}}  # seed 003's health shape, as /ready and /
    return respond(Document(body, self_href=url("health.live")), etag=False)


@bp.get("/api/health/ready")
@api_doc(
    auth="none",
    responses={200: HealthSchema},
    errors=(503,),
    description="Readiness: the database and Redis answer; 503 problem+json otherwise.",
)
def ready():
    """Readiness: 200 when the database and Redis answer, else 503 problem+json."""
    database, redis_ok = check_database(), check_redis()
    if not (database and redis_ok):
        down = [name for name, ok in (("database", database), ("Redis", redis_ok)) if not ok]
        raise ServiceUnavailable(
            f"Not ready: {' and '.join(down)} unreachable.", headers={"Retry-After": str(REDIS_RETRY_AFTER)}
        )
    result = {"database": "Accessible", "redis": "Accessible"}
    return respond(Document({"up": True, "result": result}, self_href=url("health.ready")), etag=False)


@bp.get("/api/health/")
@optional_auth
@api_doc(
    auth="optional",
    responses={200: HealthSchema, 503: HealthSchema},
    description="Needs credentials unless HALYARD_HEALTH_PUBLIC; 503 (same body) when the database or Redis "
    "is down; workers are reported, not required.",
)
def get():
    """The full report: database, Redis, workers, queues, scheduler; 503 only when database or Redis is
    down (a web node is healthy without workers)."""
    if current_account() is None and not current_app.config["HALYARD_HEALTH_PUBLIC"]:
        raise Unauthorized(headers={"WWW-Authenticate": CHALLENGE})  # DESIGN.md §6: every 401 challenges
    up, result = full_report()
    doc = Document({"up": up, "result": result}, self_href=url("health.get"))
    doc.link("up", url("root.index"))
    doc.link("ec:health/live", url("health.live"))
    doc.link("ec:health/ready", url("health.ready"))
    account = current_account()
    if account is not None and account.is_admin:
        doc.link("ec:health/probe", url("health.probe"))
        doc.template(
            "probe",
            Template(
                method="POST",
                title="Run a probe job",
                target=url("health.probe"),
                properties=properties_from_schema(probe_schema),
            ),
        )
    return respond(doc, 200 if up else 503, etag=False)


@bp.post("/api/health/probe")
@admin_required
@api_doc(auth="admin", request=probe_schema, body_required=False, responses={202: JobSchema})
def probe():
    """Enqueue a probe job; 202 with the job's Location."""
    options = load_body(probe_schema, data=None if request.content_length else {})
    record = enqueue(
        probe_job,
        options["steps"],
        options["delay"],
        options["fail"],
        kind="probe",
        owner=current_account(),
        subject="/api/health/",
    )
    return accepted(url("jobs.get", job_id=record.id), represent_job(record))
