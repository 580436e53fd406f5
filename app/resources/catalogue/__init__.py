"""Catalogue items (seed 000 "Catalogue Items Management"): /catalogue/items/ and /catalogue/items/{id}."""

from flask import Blueprint

from app.resources.root import document_relations, register_entry

bp = Blueprint("catalogue", __name__)


RELATIONS = {
    "catalogue-items": (
        "Catalogue items",
        ("GET", "POST"),
        "GET ?query=<words> (required; '' matches all; word = OR, & AND, | OR, ~ AND NOT, left to right) "
        "and has_samples, paging/sort/filters: CATALOGUEITEMS_BULK_READ with _embedded ec:catalogue-item."
        " POST (ADMIN) {name, executor_type, spec, sample, maintained_by_id, datasource_id}: 201 "
        "CATALOGUEITEM_CREATED.",
    ),
    "catalogue-items/options": (
        "Catalogue item query grammar",
        ("GET",),
        "Templated link listing every paging, sort and filter variable of the items list.",
    ),
    "catalogue-item": (
        "Catalogue item",
        ("GET", "PUT", "DELETE"),
        "@type catalogue_item: id, name, executor_type (DATABRICKS|ATHENA|LOCAL), spec, sample, "
        "has_samples, datasource_id, created_by/updated_by/maintained_by (accounts). PUT/DELETE: ADMIN. "
        "DELETE answers 400 NOT_CANCELLED_DOWNLOAD_REQEUSTS_DETECTED while a download request of the item"
        " is not cancelled.",
    ),
    "catalogue-item/by-id": (
        "Catalogue item by id",
        ("GET",),
        "Templated link {id} to one catalogue item.",
    ),
    "catalogue-item/created-by": (
        "Creator of the item",
        ("GET",),
        "The account that created it.",
    ),
    "catalogue-item/updated-by": (
        "Last editor of the item",
        ("GET",),
        "The account that last changed it.",
    ),
    "catalogue-item/maintained-by": (
        "Maintainer of the item",
        ("GET",),
        "The account that maintains the data set.",
    ),
    "catalogue-item/datasource": (
        "Bound data source",
        ("GET",),
        "The data source whose table this item describes (shown to callers who may read it).",
    ),
    "catalogue-item/compute-spec": (
        "Compute spec and sample from data",
        ("POST",),
        "ADMIN, bound items: recompute spec (types, sizes, nullability, distributions of low-cardinality "
        "columns) and sample (a few rows) from the data source's table; 200 CATALOGUEITEM_SPEC_COMPUTED "
        "with the item.",
    ),
}


def register_delete_check(app, check):
    """Let a domain that refers to catalogue items take part in an item's DELETE without the catalogue
    importing it: ``check(item)`` raises an ApiError to refuse the delete (nothing is deleted), else
    returns the storage keys to remove once the item is gone (its rows go with it: ON DELETE CASCADE).
    The downloader registers one (download requests that are not cancelled refuse it)."""
    app.extensions.setdefault("halyard.catalogue_delete_checks", []).append(check)


def delete_checks(app):
    return app.extensions.get("halyard.catalogue_delete_checks", [])


def init_app(app):
    # deferred: the route modules import bp from this package
    from app.resources.catalogue import (
        views,  # noqa: F401  (registers the routes on bp)
    )

    app.register_blueprint(bp)
    register_entry(
        app,
        "ec:catalogue-items",
        "catalogue.index",
        title="Catalogue items (query=words required)",
        query_vars=("query",),
    )
    register_entry(
        app,
        "ec:catalogue-item/by-id",
        "catalogue.get",
        title="A catalogue item by id",
        path_vars={"item_id": "id"},
        values={},
    )
    document_relations(RELATIONS)
