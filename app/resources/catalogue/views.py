"""/catalogue/items/ (GET, POST), /catalogue/items/{id} (GET, PUT, DELETE), .../compute_spec/ (POST)."""

from flask import current_app, request
from sqlalchemy import select

from app import storage
from app.auth import admin_required, current_account, login_required
from app.errors import ApiError, BodyDidNotValidate, NotFound
from app.extensions import db
from app.hal import Collection, Document, Field, Template, properties_from_schema
from app.jobs import enqueue
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import accepted, check_preconditions, created, paginate, respond, url, wants_templates
from app.resources import choices
from app.resources.accounts.models import Account
from app.resources.catalogue import bp, delete_checks, words
from app.resources.catalogue.accounts import account_embed
from app.resources.catalogue.jobs import compute_spec_job
from app.resources.catalogue.models import EXECUTOR_TYPES, CatalogueItem
from app.resources.catalogue.openapi import (
    PAGE_MEMBERS,
    QUERY,
    CatalogueItemBodySchema,
    CatalogueItemCreated,
    CatalogueItemRead,
    CatalogueItemSpecComputed,
    CatalogueItemUpdated,
    CatalogueItemViewSchema,
    empty_response,
)
from app.resources.catalogue.profile import inline, profile_item
from app.resources.catalogue.schemas import catalogue_item_schema, load_seed_body
from app.resources.datasources.models import DataSource
from app.resources.jobs.schemas import JobSchema
from app.resources.jobs.views import represent as represent_job

items_collection = Collection(
    rel="ec:catalogue-items",
    item_rel="ec:catalogue-item",
    fields=[
        Field("id", CatalogueItem.id, type="int", sortable=True),
        Field("name", CatalogueItem.name, sortable=True),
        Field(
            "executor_type", CatalogueItem.executor_type, type="enum", choices=EXECUTOR_TYPES, sortable=True
        ),
        Field("has_samples", CatalogueItem.has_samples, type="bool"),
        Field("maintained_by_id", CatalogueItem.maintained_by_id, type="int"),
        Field("datasource_id", CatalogueItem.datasource_id, type="int"),
        Field("created", CatalogueItem.created, type="datetime", sortable=True),
        Field("updated", CatalogueItem.updated, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("name",),
    tiebreak=CatalogueItem.id,
    extra_params=("query",),
    not_found=lambda: NotFound("catalogueitem"),
)


def item_properties(item):
    """Seed 000's catalogue_item properties (embedded as-is in download requests)."""
    return {
        "@type": "catalogue_item",
        "id": item.id,
        "name": item.name,
        "executor_type": item.executor_type,
        "spec": item.spec,
        "sample": item.sample,
        "has_samples": item.has_samples,
        "datasource_id": item.datasource_id,
        "created_by": account_embed(item.created_by),
        "updated_by": account_embed(item.updated_by),
        "maintained_by": account_embed(item.maintained_by),
    }


def represent(item, event=None, *, embedded=False):
    """The item as a HAL document; ``embedded`` leaves out the caller-specific links (and the templates
    unless the response renders them)."""
    properties = item_properties(item)
    if event:
        properties = {"@event": event, **properties}
    doc = Document(properties, self_href=url("catalogue.get", item_id=item.id))
    doc.link("collection", url("catalogue.index", query=""))
    for rel in ("created_by", "updated_by", "maintained_by"):
        account = properties[rel]
        if account:
            doc.link("ec:catalogue-item/" + rel.replace("_", "-"), account["_links"]["self"]["href"])
    account = current_account()
    if not embedded:
        if item.datasource is not None and (account.is_admin or item.datasource.project.role_of(account)):
            doc.link(
                "ec:catalogue-item/datasource", url("datasources.get_source", source_id=item.datasource_id)
            )
        doc.link("ec:download-requests", url("downloader.index"))
    if account.is_admin and (not embedded or wants_templates()):
        doc.template(
            "default",
            Template(method="PUT", title="Replace the item", properties=item_form_properties(item)),
        )
        doc.template("delete", Template(method="DELETE", title="Delete the item", properties=[]))
        if item.datasource_id:
            target = url("catalogue.compute_spec", item_id=item.id)
            doc.link("ec:catalogue-item/compute-spec", target)
            doc.template(
                "compute-spec",
                Template(
                    method="POST", target=target, properties=[], title="Compute spec and sample from the data"
                ),
            )
    return doc


def item_form_properties(item=None):
    """The fields of a catalogue item's POST and (full) PUT, the ids picked from their collections.
    The PUT replaces the whole item, so its form starts from every current value (``item``)."""
    options = {"maintained_by_id": choices.users(), "datasource_id": choices.datasources()}
    values = None
    if item is not None:
        values = {"spec": item.spec, "sample": item.sample, "maintained_by_id": item.maintained_by_id}
        values = {name: value for name, value in values.items() if value is not None}
    return properties_from_schema(catalogue_item_schema, options=options, values=values)


def get_item_or_404(item_id):
    item = db.session.get(CatalogueItem, item_id)
    if item is None:
        raise NotFound("catalogueitem")
    return item


def apply_body(item, data):
    """Copy a validated body onto ``item``; 400 for unknown accounts, data sources or a taken name."""
    maintainer_id = data["maintained_by_id"]
    if maintainer_id is not None and db.session.get(Account, maintainer_id) is None:
        # seed 000 answers this case with BODY_JSON_DID_NOT_PARSE and this message
        raise ApiError(
            "The maintainer does not exist.",
            event="BODY_JSON_DID_NOT_PARSE",
            errors={"maintained_by": [f"account instance with id {maintainer_id} does not exist."]},
        )
    source_id = data["datasource_id"]
    if source_id is not None and db.session.get(DataSource, source_id) is None:
        raise BodyDidNotValidate(
            errors={"datasource_id": [f"data source with id {source_id} does not exist."]}
        )
    taken = select(CatalogueItem.id).where(CatalogueItem.name == data["name"], CatalogueItem.id != item.id)
    if db.session.scalar(taken) is not None:
        raise BodyDidNotValidate(errors={"name": ["catalogue item with this name already exists."]})
    item.name, item.executor_type, item.spec = data["name"], data["executor_type"], data["spec"]
    item.set_sample(data["sample"])
    item.maintained_by_id, item.datasource_id = maintainer_id, source_id
    item.updated_by_id = current_account().id


@bp.get("/catalogue/items/")
@login_required
@api_doc(
    collection=items_collection,
    parameters=[QUERY],
    responses={200: page(CatalogueItemViewSchema, single=CatalogueItemRead, **PAGE_MEMBERS)},
    description="CATALOGUEITEMS_BULK_READ: a page of items (embedded without @event); `id=<id>` answers "
    "that item itself (CATALOGUEITEM_READ; 404 COULD_NOT_FIND_CATALOGUEITEM).",
)
def index():
    """CATALOGUEITEMS_BULK_READ: the items whose names match ``query``."""
    queries = request.args.getlist("query")
    if len(queries) != 1:
        message = "This field is required." if not queries else "must not be repeated"
        raise words.QueryDidNotValidate(errors={"query": [message]})
    stmt = select(CatalogueItem).where(words.clause(CatalogueItem.name, queries[0]))
    create = Template(method="POST", title="Create a catalogue item", properties=item_form_properties())
    return paginate(
        items_collection,
        stmt,
        request.url,
        lambda items: [represent(item, embedded=True) for item in items],
        single=lambda item: represent(item, "CATALOGUEITEM_READ"),
        properties={"@event": "CATALOGUEITEMS_BULK_READ", "@type": "catalogue_items_list"},
        templates={"default": create} if current_account().is_admin else None,
    )


@bp.post("/catalogue/items/")
@admin_required
@api_doc(
    auth="admin",
    request=CatalogueItemBodySchema,
    responses={201: CatalogueItemCreated},
    description="ADMIN. 400 BODY_JSON_DID_NOT_PARSE without a body or for an unknown maintained_by_id; "
    "400 BODY_DID_NOT_VALIDATE naming the field (spec, sample, a taken name, an unknown "
    "datasource_id).",
)
def create():
    """CATALOGUEITEM_CREATED (ADMIN)."""
    data = load_seed_body(catalogue_item_schema)
    item = CatalogueItem(created_by_id=current_account().id)
    apply_body(item, data)
    db.session.add(item)
    db.session.commit()
    return created(represent(item, "CATALOGUEITEM_CREATED"))


@bp.get("/catalogue/items/<int:item_id>")
@login_required
@api_doc(responses={200: CatalogueItemRead}, description="404 COULD_NOT_FIND_CATALOGUEITEM.")
def get(item_id):
    """CATALOGUEITEM_READ."""
    return respond(represent(get_item_or_404(item_id), "CATALOGUEITEM_READ"))


@bp.put("/catalogue/items/<int:item_id>")
@admin_required
@api_doc(
    auth="admin",
    request=CatalogueItemBodySchema,
    responses={200: CatalogueItemUpdated},
    description="ADMIN; replaces every field (as on create).",
)
def update(item_id):
    """CATALOGUEITEM_UPDATED (ADMIN): replace the item's fields."""
    item = get_item_or_404(item_id)
    check_preconditions(represent(item, "CATALOGUEITEM_READ"))
    apply_body(item, load_seed_body(catalogue_item_schema))
    db.session.commit()
    return respond(represent(item, "CATALOGUEITEM_UPDATED"))


@bp.delete("/catalogue/items/<int:item_id>")
@admin_required
@api_doc(
    auth="admin",
    errors=(400,),
    responses={
        200: empty_response("CATALOGUEITEM_DELETED", "Deleted, with its cancelled download requests.")
    },
    description="ADMIN. 400 NOT_CANCELLED_DOWNLOAD_REQEUSTS_DETECTED (with item_id and not_cancelled_count) "
    "while a download request of the item is not cancelled.",
)
def delete(item_id):
    """CATALOGUEITEM_DELETED (ADMIN), unless a download request of the item is not cancelled."""
    item = get_item_or_404(item_id)
    check_preconditions(represent(item, "CATALOGUEITEM_READ"))
    files = [key for check in delete_checks(current_app) for key in check(item)]  # a check may refuse
    db.session.delete(item)  # rows that refer to it go with it (ON DELETE CASCADE)
    db.session.commit()
    for key in files:
        storage.delete(key)
    doc = Document({"@event": "CATALOGUEITEM_DELETED", "@type": "empty"})
    doc.link("collection", url("catalogue.index", query=""))
    return respond(doc, etag=False)


@bp.post("/catalogue/items/<int:item_id>/compute_spec/")
@admin_required
@api_doc(
    auth="admin",
    request=None,
    errors=(409, 412, 428),
    responses={200: CatalogueItemSpecComputed, 202: JobSchema},
    description="ADMIN; no body. Recomputes spec and sample from the bound data source's table (202 with"
    " Location of a job for a table of more than HALYARD_CATALOGUE_PROFILE_INLINE_ROWS rows; the"
    " finished job links the item); 409 "
    "CATALOGUEITEM_HAS_NO_DATA when the item is unbound or its table is not readable. If-Match "
    "is honoured.",
)
def compute_spec(item_id):
    """CATALOGUEITEM_SPEC_COMPUTED (ADMIN): spec and sample from the bound data source's table.

    A table of more than HALYARD_CATALOGUE_PROFILE_INLINE_ROWS rows, or an external data set, is profiled
    by a job: 202 + the job (profile.inline).
    """
    item = get_item_or_404(item_id)
    check_preconditions(represent(item, "CATALOGUEITEM_READ"))
    if not inline(item):
        record = enqueue(
            compute_spec_job,
            item.id,
            current_account().id,
            kind="catalogue-compute-spec",
            owner=current_account(),
            subject=f"/catalogue/items/{item.id}",
            job_timeout=current_app.config["HALYARD_DOWNLOADER_JOB_TIMEOUT_SECONDS"],
        )
        return accepted(url("jobs.get", job_id=record.id), represent_job(record))
    spec, sample = profile_item(item)
    item.spec = spec
    item.set_sample(sample)
    item.updated_by_id = current_account().id
    db.session.commit()
    return respond(represent(item, "CATALOGUEITEM_SPEC_COMPUTED"))
