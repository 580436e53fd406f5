"""Download requests (seed 000 "Download Requests Management"): /downloader/requests/..."""

from flask import Blueprint

from app.hal import Template, properties_from_schema
from app.jobs.reconcile import add_pass
from app.resources import choices
from app.resources.catalogue import register_delete_check
from app.resources.downloader.schemas import download_request_schema, render_ui_data_schema
from app.resources.root import document_relations, register_entry

bp = Blueprint("downloader", __name__)


RELATIONS = {
    "download-requests": (
        "Download requests",
        ("GET", "POST"),
        "GET: the requests the caller waits for (DOWNLOADREQUESTS_BULK_READ, _embedded ec:download-"
        "request, query grammar). POST {catalogue_item_id, spec: {columns, filters: [{name, operator, "
        "value}], randomize_ratio}, format: csv|parquet}: 201 DOWNLOADREQUEST_CREATED and an RQ job, or "
        "200 DOWNLOADREQUEST_READ when an equal live request exists (the caller joins its waiters).",
    ),
    "download-requests/options": (
        "Download request query grammar",
        ("GET",),
        "Templated link listing every paging, sort and filter variable of the list.",
    ),
    "download-request": (
        "Download request",
        ("GET", "DELETE"),
        "@type download_request: spec, format, status (queued|running|finished|failed|cancelled), "
        "progress, is_cancelled, estimated_size, real_size (bytes), rows, uri (the file, when finished), "
        "seed, executor_job_id, catalogue_item, created_by. DELETE: the caller leaves the waiters; the "
        "last one cancels it and stops its job.",
    ),
    "download-request/by-id": (
        "Download request by id",
        ("GET",),
        "Templated link {id} to one download request the caller waits for.",
    ),
    "download-request/file": (
        "Download result",
        ("GET",),
        "The produced file (text/csv or application/vnd.apache.parquet), waiters only; ETag and Range "
        "supported.",
    ),
    "download-request/creator": (
        "Creator of the request",
        ("GET",),
        "The caller: every waiter sees itself as the creator (equal requests share one row; another "
        "user's identity is never shown).",
    ),
    "download-request/job": (
        "Job of the request",
        ("GET",),
        "The RQ job (/jobs/{id}) executing the download: live status and progress.",
    ),
    "download-requests/estimate": (
        "Estimate a download",
        ("POST",),
        "POST the body of a download request: SIZE_OF_DOWNLOAD_REQUEST_ESTIMATED with estimated_size "
        "(bytes), estimated_rows and basis (data|metadata|spec|unknown).",
    ),
    "download-requests/render-ui-data": (
        "Download form data",
        ("POST",),
        "POST {catalogue_item_id}: DOWNLOAD_REQUEST_UI_DATA_RENDERED with columns_operators (every "
        "column, its type and the operators its filters allow).",
    ),
}


def init_app(app):
    # deferred: route modules import bp from this package
    from app.resources.downloader import (
        views,  # noqa: F401  (registers the routes on bp)
    )

    def item_choice():
        return {"catalogue_item_id": choices.catalogue_items()}

    app.register_blueprint(bp)
    register_delete_check(app, views.item_delete_check)  # an item with live download requests stays
    add_pass(
        app, "app.resources.downloader.jobs:sweep_downloads"
    )  # retention and dead work folders, every reconcile
    register_entry(app, "ec:download-requests", "downloader.index", title="Download requests you wait for")
    register_entry(
        app,
        "ec:download-request/by-id",
        "downloader.get",
        title="A download request by id",
        path_vars={"request_id": "id"},
    )
    register_entry(
        app,
        "ec:download-requests/estimate",
        "downloader.estimate",
        title="Estimate the size of a download request",
        template=lambda: Template(
            method="POST",
            title="Estimate the size of a download request",
            properties=properties_from_schema(download_request_schema, options=item_choice()),
        ),
    )
    register_entry(
        app,
        "ec:download-requests/render-ui-data",
        "downloader.render_ui_data",
        title="Operators per column of a catalogue item, for a download form",
        template=lambda: Template(
            method="POST",
            title="Operators per column of a catalogue item",
            properties=properties_from_schema(render_ui_data_schema, options=item_choice()),
        ),
    )
    document_relations(RELATIONS)
