"""Health: GET /api/health/ (seed 003's shape), /api/health/live and /api/health/ready (for load
balancers) and POST /api/health/probe (a job through a worker)."""

from flask import Blueprint

from app.resources.root import document_relations, register_entry

bp = Blueprint("health", __name__)

RELATIONS = {
    "health": (
        "Health",
        ("GET",),
        "{up, result: {database, redis, workers, workers_alive, worker_states, queues: {name: "
        "{length, oldest_age_seconds}}, scheduler_tick_age_seconds, version}}; 503 only when the database or "
        "Redis is down (no worker: 200, workers Missing). Carries the ec:health/probe template for ADMINs.",
    ),
    "health/live": (
        "Liveness",
        ("GET",),
        "Public: 200 {up: true} while the process answers; touches neither database nor Redis.",
    ),
    "health/ready": (
        "Readiness",
        ("GET",),
        "Public: 200 when the database and Redis answer, else 503 problem+json.",
    ),
    "health/probe": (
        "Health probe",
        ("POST",),
        "ADMIN: enqueue a probe job {steps, delay, fail}; 202 with Location of the job.",
    ),
}


def init_app(app):
    # deferred: route modules import bp from this package
    from app.resources.health import views  # noqa: F401

    app.register_blueprint(bp)
    register_entry(app, "ec:health", "health.get", title="Health of the server, database, Redis and workers")
    document_relations(RELATIONS)
