"""/datamanager/{id}/assets/ (list, upload), /assets/{assetID} (read) and its files' bytes."""

from sqlalchemy import exists, select

from app import storage
from app.auth import login_required
from app.errors import NotFound
from app.extensions import core_connection, db
from app.hal import Collection, Document, Field, Link, Property, Template, properties_from_schema
from app.hal.grammar import escape_like
from app.openapi import api_doc
from app.openapi.helpers import page, stored_file
from app.representation import paginate, respond, wants_templates
from app.resources.datamanager import bp
from app.resources.datamanager.access import get_access_or_404, get_space_or_404, require
from app.resources.datamanager.models import ASSET_TYPES, Asset, AssetFile
from app.resources.datamanager.openapi import (
    ASSET,
    AssetsUploadedSchema,
    AssetUploadSchema,
    DataManagerAssetSchema,
)
from app.resources.datamanager.reads import (
    AssetUrls,
    asset_rows,
    assets_select,
    assets_table,
    get_asset_or_404,
    tags_table,
    totals_scope,
)
from app.resources.datamanager.schemas import asset_update_schema
from app.resources.datamanager.uploads import LOCALE, discard, receive
from app.timeutil import rfc3339, utcnow


def tags_clause(op, values):
    """Filter on tags, which live in asset_tags: any-of, none-of, or a tag containing the text."""
    has = select(tags_table.c.asset_id).where(tags_table.c.asset_id == assets_table.c.id)
    if op in ("eq", "any"):
        return exists(has.where(tags_table.c.tag.in_(values)))
    if op == "ne":
        return ~exists(has.where(tags_table.c.tag.in_(values)))
    return exists(has.where(tags_table.c.tag.ilike(f"%{escape_like(values[0])}%", escape="\\")))


# Table columns (not ORM attributes), so the same grammar serves the Core list query.
_plain_title = Field("title", assets_table.c.title)


def title_clause(op, values):
    """``title~=`` as SQLite's own LIKE, which already ignores ASCII case: its ``lower()`` folds ASCII only,
    so ``ilike``'s ``lower(title) LIKE lower(?)`` matches the same rows at twice the cost (see the
    benchmark)."""
    if op == "contains" and db.engine.dialect.name == "sqlite":
        return assets_table.c.title.like(f"%{escape_like(values[0])}%", escape="\\")
    return _plain_title.clause(op, values)


def asset_fields():
    return [
        Field("assetID", assets_table.c.id, type="uuid"),
        Field("title", assets_table.c.title, sortable=True, filter=title_clause),
        Field("type", assets_table.c.type, type="enum", choices=ASSET_TYPES, sortable=True),
        Field("tags", filter=tags_clause, range=False),
        Field("created", assets_table.c.created, type="datetime", sortable=True),
    ]


assets_collection = Collection(
    rel="ec:assets",
    item_rel="ec:asset",
    fields=asset_fields(),
    id_field="assetID",
    default_sort=("-created",),
    tiebreak=assets_table.c.id,
    not_found=lambda: NotFound("asset"),
)
deleted_collection = Collection(
    rel="ec:assets/deleted",
    item_rel="ec:asset/deleted",
    id_field="assetID",
    tiebreak=assets_table.c.id,
    fields=asset_fields() + [Field("deleted", assets_table.c.deleted, type="datetime", sortable=True)],
    default_sort=("-deleted",),
    not_found=lambda: NotFound("asset"),
)

FILE_TEMPLATE_PROPERTIES = [Property("file", required=True, type="file"), Property("locale", regex=LOCALE)]
EDIT_TEMPLATE_PROPERTIES = properties_from_schema(asset_update_schema)  # derived once, not per asset
UPLOAD_TEMPLATE_PROPERTIES = [Property("file", required=True, type="file", multiple=True)]


def file_properties(f, href):
    """One ``ec:asset/file`` sub-resource."""
    return {
        "mimetype": f.mimetype,
        "url": href,
        "size": f.size,
        "resolution": f.resolution,
        "locale": f.locale,
        "created": rfc3339(f.created),
        "modified": rfc3339(f.modified),
    }


def represent(asset, rights, urls=None, *, templates=True):
    """An ``ec:asset`` (or, once deleted, an ``ec:asset/deleted``) with the templates ``rights`` allow.

    ``asset`` is an ``Asset`` or an ``AssetRow``; ``urls`` (``AssetUrls`` of its space) may be shared
    by every asset of a page, whose embedded items carry templates only when the response renders
    them (``templates=wants_templates()``: HAL-FORMS and HTML)."""
    urls = urls or AssetUrls(asset.datamanager_id)
    deleted = asset.deleted is not None
    asset_id = str(asset.id)
    props = {
        "assetID": asset_id,
        "title": asset.title,
        "type": asset.type,
        "created": rfc3339(asset.created),
    }
    if deleted:
        props["deleted"] = rfc3339(asset.deleted)
    props["tags"] = list(asset.tag_names)
    props["files"], file_links = [], []  # one loop (most assets of a page have none or one file)
    for f in asset.files:
        href = urls.file(asset_id, f.id)
        props["files"].append(file_properties(f, href))
        file_links.append(Link(href, type=f.mimetype))
    if deleted:  # seed 004 names a deleted asset's files `file`; `files` too, as on a live asset
        props["file"] = props["files"]
    doc = Document(props, self_href=urls.asset(asset_id, deleted=deleted))
    doc.link("collection", urls.deleted if deleted else urls.assets)
    doc.link("ec:datamanager", urls.datamanager)
    doc.links("ec:asset/file", file_links)
    if not templates or "editAssets" not in rights:
        return doc
    if deleted:
        doc.template("restore", Template(method="DELETE", title="Restore this asset"))
        doc.template(
            "destroy",
            Template(
                method="DELETE",
                title="Destroy this asset and its files for good",
                target=doc.self_href + "?destroy=destroy",
            ),
        )
    else:
        doc.template(
            "default",
            Template(method="PUT", title="Edit or merge this asset", properties=EDIT_TEMPLATE_PROPERTIES),
        )
        doc.template(
            "addFile",
            Template(
                method="POST",
                title="Add a file (another resolution or locale)",
                contentType="multipart/form-data",
                properties=FILE_TEMPLATE_PROPERTIES,
            ),
        )
        doc.template("delete", Template(method="DELETE", title="Move this asset to the deleted assets"))
    return doc


def list_assets(dm_id, access, collection, *, deleted, templates=None):
    """A page of a space's (live or deleted) assets in Core: COUNT (unless cached for this generation
    of the space's assets), the page, its tags, its files. ``access``: ``get_access_or_404(dm_id)``."""
    rights, generation = access
    urls = AssetUrls(dm_id)
    by_id = urls.asset("{assetID}", deleted=deleted)  # the RFC 6570 template of an asset's URL

    def items(rows):
        with_templates = wants_templates()  # asked once per page, not per item
        return [represent(a, rights, urls, templates=with_templates) for a in asset_rows(rows, dm_id)]

    return paginate(
        collection,
        assets_select(dm_id, deleted=deleted),
        urls.deleted if deleted else urls.assets,
        items,
        single=lambda row: represent(asset_rows([row], dm_id)[0], rights, urls),
        links={"ec:datamanager": urls.datamanager, f"{collection.rel}/by-id": Link(by_id, templated=True)},
        templates=templates,
        scalars=False,
        session=core_connection(),
        totals=totals_scope(dm_id, deleted, generation),
        key=assets_table.c.id,
        reuse=True,  # assets_select() is cached per space: its page SELECTs are built once
        # Echoed as text (reads.AssetRow, rfc3339) and matched again; typed only for a cursor.
        stored=("id", "created", "deleted"),
    )


@bp.get("/datamanager/<uuid:dm_id>/assets/")
@login_required
@api_doc(
    collection=assets_collection, responses={200: page(DataManagerAssetSchema, "The assets of the space")}
)
def assets(dm_id):
    """The assets of a space, with the query grammar."""
    access = get_access_or_404(dm_id)
    upload = Template(
        method="POST",
        title="Upload files, one asset per file",
        contentType="multipart/form-data",
        properties=UPLOAD_TEMPLATE_PROPERTIES,
    )
    templates = {"default": upload} if "editAssets" in access[0] else None
    return list_assets(dm_id, access, assets_collection, deleted=False, templates=templates)


@bp.post("/datamanager/<uuid:dm_id>/assets/")
@login_required
@api_doc(
    request=AssetUploadSchema,
    content_type="multipart/form-data",
    responses={201: AssetsUploadedSchema},
    description="Needs editAssets. One asset per `file` part (Location: the first); 400 for an empty or "
    "missing file or an unknown field, 413 past HALYARD_MAX_UPLOAD_BYTES, 415 when not "
    "multipart/form-data.",
)
def upload(dm_id):
    """One asset per uploaded ``file`` part; 201 linking every new asset, Location of the first."""
    dm, rights = get_space_or_404(dm_id)
    require(rights, "editAssets")
    uploads, _ = receive()
    try:
        now = utcnow()
        new = [
            Asset(datamanager_id=dm.id, title=u.name, type=u.type, created=now, files=[new_file(u, now)])
            for u in uploads
        ]
        db.session.add_all(new)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        discard(uploads)
        raise
    urls = AssetUrls(dm.id)
    links = [urls.asset(a.id) for a in new]
    doc = Document({"count": len(new)}, self_href=urls.assets)
    doc.link("ec:datamanager", urls.datamanager)
    doc.links("ec:asset", links)
    return respond(doc, 201, {"Location": links[0]}, etag=False)


def new_file(upload, now, locale=None):
    return AssetFile(
        storage_key=upload.stored.key,
        sha256=upload.stored.sha256,
        original_name=upload.name,
        mimetype=upload.mimetype or "application/octet-stream",
        size=upload.stored.size,
        width=upload.width,
        height=upload.height,
        locale=locale,
        created=now,
        modified=now,
    )


@bp.get("/datamanager/<uuid:dm_id>/assets/<uuid:asset_id>")
@login_required
@api_doc(responses=ASSET)
def asset(dm_id, asset_id):
    """One asset with its tags and files."""
    return respond(represent(*get_asset_or_404(dm_id, asset_id)))


@bp.get("/datamanager/<uuid:dm_id>/assets/<uuid:asset_id>/files/<uuid:file_id>")
@login_required
@api_doc(
    **stored_file("The bytes, in the stored (sniffed) media type.", filename=True),
    description="Conditional (ETag: 304 for If-None-Match, 412 when If-Match does not match; If-Range) and "
    "ranged; 416 for an unsatisfiable Range.",
)
def file(dm_id, asset_id, file_id):
    """The bytes of one asset file: stored MIME type, ETag, Range, Content-Disposition."""
    dm, _ = get_space_or_404(dm_id)
    f = db.session.scalars(
        select(AssetFile)
        .join(Asset)
        .where(AssetFile.id == file_id, Asset.id == asset_id, Asset.datamanager_id == dm.id)
    ).first()
    if f is None:
        raise NotFound("assetfile")
    return storage.send(f.storage_key, mimetype=f.mimetype, download_name=f.original_name, etag=f.sha256)
