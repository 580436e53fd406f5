"""Jobs: every RQ job as a HAL resource at /jobs/ and /jobs/{id} (DESIGN.md §7)."""

from flask import Blueprint

from app.resources.root import document_relations, register_entries

bp = Blueprint("jobs", __name__)

RELATIONS = {
    "jobs": (
        "Jobs",
        ("GET",),
        "The background jobs the caller started (ADMINs: all), with the query grammar.",
    ),
    "job": (
        "Job",
        ("GET",),
        "One RQ job: status, progress, timestamps, error summary, subject and result links.",
    ),
    "job/by-id": ("Job by id", ("GET",), "Templated link to one job."),
    "job/subject": ("Job subject", ("GET",), "The resource a job works on."),
    "job/result": ("Job result", ("GET",), "The resource a job produced."),
}
# The links of GET /: rel -> (endpoint, title, path variables of a templated link).
ENTRIES = {
    "ec:jobs": ("jobs.index", "Background jobs you started", None),
    "ec:job/by-id": ("jobs.get", "A job by id", {"job_id": "id"}),
}


def init_app(app):
    # deferred: route modules import bp from this package
    from app.resources.jobs import views  # noqa: F401  (registers the routes on bp)

    app.register_blueprint(bp)
    register_entries(app, ENTRIES)
    document_relations(RELATIONS)
