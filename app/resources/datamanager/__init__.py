"""Data Manager (seed 004): spaces, members and their rights, assets and asset files under /datamanager/."""

from flask import Blueprint

from app.resources.root import document_relations, register_entry

bp = Blueprint("datamanager", __name__)

RELATIONS = {
    "datamanagers": (
        "Data Manager spaces",
        ("GET", "POST"),
        "The spaces the caller is a member of (ADMINs: all), with the query grammar; POST creates one.",
    ),
    "datamanagers/options": (
        "Space list grammar",
        ("GET",),
        "Templated link showing every page, sort and filter variable of ec:datamanagers.",
    ),
    "datamanager": (
        "Data Manager space",
        ("GET", "PUT"),
        "One space: dataManagerID, title, description, the caller's rights, created.",
    ),
    "datamanager/by-id": (
        "Space by id",
        ("GET",),
        "Templated link to one space; requires the dataManagerID.",
    ),
    "datamanager/members": (
        "Space members",
        ("GET", "POST"),
        "The accounts holding rights in a space; POST grants rights to another account (needs manageRights).",
    ),
    "datamanager/members/options": (
        "Member list grammar",
        ("GET",),
        "Templated link with the grammar of members.",
    ),
    "datamanager/member": (
        "Space member",
        ("GET", "PUT", "DELETE"),
        "One account's rights in a space; PUT replaces them, DELETE revokes membership (needs manageRights).",
    ),
    "datamanager/member/account": ("Member's account", ("GET",), "The account a membership belongs to."),
    "customer": ("Customer", ("GET",), "The account that owns (created) a space."),
    "assets": (
        "Assets",
        ("GET", "POST"),
        "The assets of a space with the query grammar; POST multipart 'file' fields creates one asset per "
        "file (needs editAssets).",
    ),
    "assets/options": ("Asset list grammar", ("GET",), "Templated link with the grammar of ec:assets."),
    "assets/by-id": ("Asset by id", ("GET",), "Templated link to one asset; requires the assetID."),
    "asset": (
        "Asset",
        ("GET", "PUT", "POST", "DELETE"),
        "One asset: assetID, title, type, created, tags, files. PUT edits (and merges ec:asset links), POST "
        "adds a file, DELETE moves it to ec:assets/deleted.",
    ),
    "asset/file": ("Asset file", ("GET",), "The bytes of one representation of an asset (Range, ETag)."),
    "assets/deleted": (
        "Deleted assets",
        ("GET",),
        "The soft-deleted assets of a space, with the query grammar.",
    ),
    "assets/deleted/options": (
        "Deleted asset list grammar",
        ("GET",),
        "Templated link with the grammar of ec:assets/deleted.",
    ),
    "assets/deleted/by-id": ("Deleted asset by id", ("GET",), "Templated link to one deleted asset."),
    "asset/deleted": (
        "Deleted asset",
        ("GET", "DELETE"),
        "A soft-deleted asset; DELETE restores it, DELETE ?destroy=destroy purges it and its files.",
    ),
}


def init_app(app):
    # deferred: route modules import bp from this package
    from app.resources.datamanager import (  # noqa: F401  (routes attach to bp)
        asset_writes,
        assets,
        members,
        spaces,
    )

    app.register_blueprint(bp)
    register_entry(app, "ec:datamanagers", "datamanager.index", title="Data Manager spaces")
    register_entry(
        app,
        "ec:datamanager/by-id",
        "datamanager.get",
        title="A Data Manager space by id",
        path_vars={"dm_id": "dataManagerID"},
    )
    document_relations(RELATIONS)
