"""GET /api/health/ and POST /api/health/probe."""

import time

from flask import current_app, request
from marshmallow import Schema, fields, validate
from rq import Worker
from sqlalchemy import text

from app.auth import CHALLENGE, admin_required, current_account, optional_auth
from app.errors import Unauthorized
from app.extensions import db
from app.hal import Document, Template, properties_from_schema
from app.jobs import all_queues, enqueue, get_redis
from app.jobs.probe import probe as probe_job
from app.representation import accepted, load_body, respond, url
from app.resources.health import bp
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


def check_redis_and_workers():
    """(redis ok, live workers serving our queues, {queue: length})."""
    try:
        redis = get_redis()
        redis.ping()
        queues = all_queues()
        names = {queue.name for queue in queues}
        horizon = current_app.config["HALYARD_WORKER_HEARTBEAT_SECONDS"]
        alive = 0
        for worker in Worker.all(connection=redis):
            beat = worker.last_heartbeat
            if names & set(worker.queue_names()) and beat and time.time() - beat.timestamp() < horizon:
                alive += 1
        return True, alive, {queue.name: queue.count for queue in queues}
    except Exception:  # noqa: BLE001
        return False, 0, {}


@bp.get("/api/health/")
@optional_auth
def get():
    """Basic health: database, Redis, workers; 503 when one is down."""
    if current_account() is None and not current_app.config["HALYARD_HEALTH_PUBLIC"]:
        raise Unauthorized(headers={"WWW-Authenticate": CHALLENGE})  # DESIGN.md §6: every 401 challenges
    database = check_database()
    redis_ok, workers, queues = check_redis_and_workers()
    up = database and redis_ok and workers > 0
    doc = Document(
        {
            "up": up,
            "result": {
                "database": "Accessible" if database else "Inaccessible",
                "redis": "Accessible" if redis_ok else "Inaccessible",
                "workers": "Running" if workers else "Missing",
                "workers_alive": workers,
                "queues": queues,
                "version": VERSION,
            },
        },
        self_href=url("health.get"),
    )
    doc.link("up", url("root.index"))
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
