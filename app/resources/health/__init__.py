"""Health: GET /api/health/ (seed 003's shape) and POST /api/health/probe (a job through a worker)."""

from flask import Blueprint

bp = Blueprint("health", __name__)


def init_app(app):
    from app.extensions import curies
    from app.resources.health import views  # noqa: F401
    from app.resources.root import register_entry

    app.register_blueprint(bp)
    register_entry(app, "ec:health", "health.get", title="Health of the server, database, Redis and workers")
    curies.document(
        "health",
        title="Health",
        methods=("GET",),
        description="{up, result: {database, redis, workers, queues, version}}; 503 when a dependency "
        "is down. Carries the ec:health/probe template for ADMINs.",
    )
    curies.document(
        "health/probe",
        title="Health probe",
        methods=("POST",),
        description="ADMIN: enqueue a probe job {steps, delay, fail}; 202 with Location of the job.",
    )
