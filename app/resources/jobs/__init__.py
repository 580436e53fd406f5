"""Jobs: every RQ job as a HAL resource at /jobs/ and /jobs/{id} (DESIGN.md §7)."""

from flask import Blueprint

from app.extensions import curies
from app.resources.root import register_entry

bp = Blueprint("jobs", __name__)


def init_app(app):
    # deferred: route modules import bp from this package
    from app.resources.jobs import views  # noqa: F401  (registers the routes on bp)

    app.register_blueprint(bp)
    register_entry(app, "ec:jobs", "jobs.index", title="Background jobs you started")
    register_entry(app, "ec:job/by-id", "jobs.get", title="A job by id", path_vars={"job_id": "id"})
    curies.document(
        "jobs",
        title="Jobs",
        methods=("GET",),
        description="The background jobs the caller started (ADMINs: all), with the query grammar.",
    )
    curies.document(
        "job",
        title="Job",
        methods=("GET",),
        description="One RQ job: status, progress, timestamps, error summary, subject and result links.",
    )
    curies.document(
        "job/by-id", title="Job by id", methods=("GET",), description="Templated link to one job."
    )
    curies.document("job/subject", title="Job subject", description="The resource a job works on.")
    curies.document("job/result", title="Job result", description="The resource a job produced.")
