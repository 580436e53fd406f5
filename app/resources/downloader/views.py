"""/downloader/requests/ (GET, POST), /downloader/requests/{id} (GET, DELETE) and .../file,
/downloader/requests/estimate/ and /downloader/requests/render_ui_data/ (POST)."""

from sqlalchemy import func, select

from app import storage
from app.auth import current_account, login_required
from app.errors import ApiError, BodyDidNotValidate, NotFound
from app.extensions import db
from app.hal import Collection, Document, Field, Template, properties_from_schema
from app.openapi import api_doc
from app.openapi.helpers import page, stored_file
from app.representation import check_preconditions, created, paginate, respond, url
from app.resources import choices
from app.resources.catalogue.accounts import account_embed
from app.resources.catalogue.models import CatalogueItem
from app.resources.catalogue.openapi import empty_response
from app.resources.catalogue.schemas import load_seed_body
from app.resources.catalogue.spec import OPERATORS
from app.resources.catalogue.views import represent as represent_item
from app.resources.downloader import bp, execution
from app.resources.downloader.models import FORMATS, STATUSES, DownloadRequest, waiters
from app.resources.downloader.openapi import (
    BODY_ERRORS,
    NOT_FOUND_ITEM,
    PAGE_MEMBERS,
    DownloadEstimateSchema,
    DownloadRequestCreated,
    DownloadRequestRead,
    DownloadRequestViewSchema,
    DownloadUiDataSchema,
)
from app.resources.downloader.schemas import (
    DownloadRequestSchema,
    RenderUiDataSchema,
    check_against_item,
    download_request_schema,
    render_ui_data_schema,
)

requests_collection = Collection(
    rel="ec:download-requests",
    item_rel="ec:download-request",
    fields=[
        Field("id", DownloadRequest.id, type="int", sortable=True),
        Field("catalogue_item_id", DownloadRequest.catalogue_item_id, type="int"),
        Field("status", DownloadRequest.status, type="enum", choices=STATUSES, sortable=True),
        Field("is_cancelled", DownloadRequest.is_cancelled, type="bool"),
        Field("format", DownloadRequest.format, type="enum", choices=FORMATS),
        Field("created", DownloadRequest.created, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("-created",),
    tiebreak=DownloadRequest.id,
    not_found=lambda: NotFound("downloadrequest"),
)
MIMETYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


class NotCancelledDownloadRequests(ApiError):
    event = "NOT_CANCELLED_DOWNLOAD_REQEUSTS_DETECTED"
    description = "The item has download requests that are not cancelled."


def item_delete_check(item):
    """The catalogue's delete check (registered by init_app): an item with a download request that is not
    cancelled stays (400); else the storage keys of its requests' files, removed once it is gone."""
    live = db.session.scalar(
        select(func.count())
        .select_from(DownloadRequest)
        .where(DownloadRequest.catalogue_item_id == item.id, DownloadRequest.is_cancelled.is_(False))
    )
    if live:
        raise NotCancelledDownloadRequests(item_id=item.id, not_cancelled_count=live)
    return db.session.scalars(
        select(DownloadRequest.file_key).where(
            DownloadRequest.catalogue_item_id == item.id, DownloadRequest.file_key.is_not(None)
        )
    ).all()


def represent(req, event=None):
    """The request as seed 000 shows it, with its item and creator linked and embedded."""
    progress = execution.live_progress(req)  # first: it may repair the state of a dead job
    item_doc = represent_item(req.catalogue_item, embedded=True)
    # Equal requests share one row; each waiter asked for it, so each sees itself as its creator and
    # never another user's identity (only waiters reach a request).
    creator = account_embed(current_account())
    finished = req.status == "finished" and req.file_key
    properties = {
        "@type": "download_request",
        "id": req.id,
        "catalogue_item": item_doc.to_dict(),
        "created_by": creator,
        "spec": req.spec,
        "format": req.format,
        "status": req.status,
        "progress": progress,
        "error": req.error,
        "is_cancelled": req.is_cancelled,
        "estimated_size": req.estimated_size,
        "real_size": req.real_size,
        "rows": req.rows,
        "uri": url("downloader.file", request_id=req.id) if finished else None,
        "seed": req.seed,
        "data_version": req.data_version,
        "executor_job_id": req.executor_job_id,
    }
    if event:
        properties = {"@event": event, **properties}
    doc = Document(properties, self_href=url("downloader.get", request_id=req.id))
    doc.link("collection", url("downloader.index"))
    doc.link("ec:catalogue-item", item_doc.self_href)
    doc.embed("ec:catalogue-item", item_doc)
    if creator:
        doc.link("ec:download-request/creator", creator["_links"]["self"]["href"])
    if req.executor_job_id and (current_account().is_admin or req.created_by_id == current_account().id):
        doc.link("ec:download-request/job", url("jobs.get", job_id=req.executor_job_id))
    if finished:
        doc.link("ec:download-request/file", properties["uri"], type=MIMETYPES[req.format])
    doc.template("delete", Template(method="DELETE", title="Stop waiting for this download", properties=[]))
    return doc


def waited_by(account):
    """The requests ``account`` waits for."""
    mine = select(waiters.c.request_id).where(waiters.c.account_id == account.id)
    return select(DownloadRequest).where(DownloadRequest.id.in_(mine))


def get_request_or_404(request_id):
    req = db.session.scalar(waited_by(current_account()).where(DownloadRequest.id == request_id))
    if req is None:
        raise NotFound("downloadrequest")
    return req


def load_request_body():
    """The validated body and its catalogue item (404 COULD_NOT_FIND_CATALOGUEITEM)."""
    data = load_seed_body(download_request_schema)
    item = db.session.get(CatalogueItem, data["catalogue_item_id"])
    if item is None:
        raise NotFound("catalogueitem")
    errors = check_against_item(data["spec"], item)
    if errors:
        raise BodyDidNotValidate(errors=errors)
    return data, item


@bp.get("/downloader/requests/")
@login_required
@api_doc(
    collection=requests_collection,
    responses={200: page(DownloadRequestViewSchema, single=DownloadRequestRead, **PAGE_MEMBERS)},
    description="DOWNLOADREQUESTS_BULK_READ: the requests the caller waits for; `id=<id>` answers that "
    "request itself (DOWNLOADREQUEST_READ). `format=csv|parquet` filters by file format; "
    "`format=json|hal|hal-forms|html` is the representation toggle (docs/browsable.md).",
)
def index():
    """DOWNLOADREQUESTS_BULK_READ: the requests the caller waits for."""
    return paginate(
        requests_collection,
        waited_by(current_account()),
        url("downloader.index"),
        lambda reqs: [represent(req) for req in reqs],
        single=lambda req: represent(req, "DOWNLOADREQUEST_READ"),
        properties={"@event": "DOWNLOADREQUESTS_BULK_READ", "@type": "download_requests_list"},
        templates={
            "default": Template(
                method="POST",
                title="Request a download",
                properties=properties_from_schema(
                    download_request_schema, options={"catalogue_item_id": choices.catalogue_items()}
                ),
            )
        },
    )


@bp.post("/downloader/requests/")
@login_required
@api_doc(
    request=DownloadRequestSchema,
    responses={201: DownloadRequestCreated, 200: DownloadRequestRead},
    description="201 DOWNLOADREQUEST_CREATED and a job; 200 DOWNLOADREQUEST_READ (Content-Location names it) "
    "when an equal live request exists: the caller joins its waiters. " + NOT_FOUND_ITEM + " " + BODY_ERRORS,
)
def create():
    """DOWNLOADREQUEST_CREATED and a job, or DOWNLOADREQUEST_READ after joining an equal live request."""
    data, item = load_request_body()
    req, is_new = execution.create_or_join(item, data["spec"], data["format"], current_account())
    if not is_new:
        return respond(
            represent(req, "DOWNLOADREQUEST_READ"),
            headers={"Content-Location": url("downloader.get", request_id=req.id)},
        )
    return created(represent(req, "DOWNLOADREQUEST_CREATED"))


@bp.get("/downloader/requests/<int:request_id>")
@login_required
@api_doc(
    responses={200: DownloadRequestRead},
    description="Waiters only; everyone else (ADMINs included) 404 COULD_NOT_FIND_DOWNLOADREQUEST.",
)
def get(request_id):
    """DOWNLOADREQUEST_READ (waiters only)."""
    return respond(represent(get_request_or_404(request_id), "DOWNLOADREQUEST_READ"))


@bp.delete("/downloader/requests/<int:request_id>")
@login_required
@api_doc(
    responses={
        200: empty_response(
            "DOWNLOADREQUEST_DELETED",
            "The caller no longer waits; the last waiter cancels the request and stops its job.",
        )
    }
)
def delete(request_id):
    """DOWNLOADREQUEST_DELETED: leave the waiters; the last one cancels the request and stops its job."""
    req = get_request_or_404(request_id)
    check_preconditions(represent(req, "DOWNLOADREQUEST_READ"))
    execution.leave(req, current_account())
    doc = Document({"@event": "DOWNLOADREQUEST_DELETED", "@type": "empty"})
    doc.link("collection", url("downloader.index"))
    return respond(doc, etag=False)


@bp.get("/downloader/requests/<int:request_id>/file")
@login_required
@api_doc(
    **stored_file("The produced file.", *MIMETYPES.values(), filename=True),
    description="Waiters only; 404 COULD_NOT_FIND_DOWNLOADFILE until the request has finished.",
)
def file(request_id):
    """The produced file (waiters only)."""
    req = get_request_or_404(request_id)
    if req.status != "finished" or not req.file_key or not storage.exists(req.file_key):
        raise NotFound("downloadfile", "The download has no file (yet).")
    return storage.send(
        req.file_key,
        mimetype=MIMETYPES[req.format],
        download_name=f"{req.catalogue_item.name}-{req.id}.{req.format}",
    )


@bp.post("/downloader/requests/estimate/")
@login_required
@api_doc(
    request=DownloadRequestSchema,
    responses={200: DownloadEstimateSchema},
    description="Nothing is stored. " + NOT_FOUND_ITEM + " " + BODY_ERRORS,
)
def estimate():
    """SIZE_OF_DOWNLOAD_REQUEST_ESTIMATED: bytes of the file, from the data when bound, else the spec."""
    data, item = load_request_body()
    result = execution.estimate(item, data["spec"], data["format"])
    doc = Document(
        {
            "@event": "SIZE_OF_DOWNLOAD_REQUEST_ESTIMATED",
            "@type": "download_request_estimated_size",
            "estimated_size": result.size,
            "estimated_rows": None if result.rows is None else round(result.rows),
            "basis": result.basis,
        },
        self_href=url("downloader.estimate"),
    )
    doc.link("ec:catalogue-item", url("catalogue.get", item_id=item.id))
    return respond(doc, etag=False)


@bp.post("/downloader/requests/render_ui_data/")
@login_required
@api_doc(request=RenderUiDataSchema, responses={200: DownloadUiDataSchema}, description=NOT_FOUND_ITEM)
def render_ui_data():
    """DOWNLOAD_REQUEST_UI_DATA_RENDERED: the operators each column of the item allows."""
    data = load_seed_body(render_ui_data_schema)
    item = db.session.get(CatalogueItem, data["catalogue_item_id"])
    if item is None:
        raise NotFound("catalogueitem")
    columns = [
        {
            "@type": "column_operators",
            "name": c["name"],
            "type": c["type"],
            "is_nullable": c.get("is_nullable", False),
            "operators": list(OPERATORS[c["type"]]),
        }
        for c in item.spec or []
    ]
    doc = Document(
        {
            "@event": "DOWNLOAD_REQUEST_UI_DATA_RENDERED",
            "@type": "download_request_render",
            "columns_operators": columns,
        },
        self_href=url("downloader.render_ui_data"),
    )
    doc.link("ec:catalogue-item", url("catalogue.get", item_id=item.id))
    doc.link("ec:download-requests", url("downloader.index"))
    return respond(doc, etag=False)
