"""Asset writes (PUT edit/merge, POST another file, DELETE) and /assets/deleted/ (list, restore, destroy).

Each write is one transaction. Stored bytes are removed only after the commit that drops
their rows, and new bytes are removed when the transaction fails, so a failed request
changes nothing on disk or in the database.
"""

import re
from urllib.parse import urlsplit

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from app.auth import login_required
from app.errors import BodyDidNotValidate, NotFound, QueryDidNotValidate
from app.extensions import db
from app.openapi import api_doc
from app.openapi.helpers import page
from app.representation import check_preconditions, load_body, no_content, respond
from app.resources.datamanager import bp, schemas
from app.resources.datamanager.access import get_access_or_404, get_space_or_404, require
from app.resources.datamanager.assets import deleted_collection, list_assets, new_file, represent
from app.resources.datamanager.models import Asset
from app.resources.datamanager.openapi import (
    ASSET,
    AssetFileUploadSchema,
    DataManagerAssetSchema,
    DataManagerDeletedAssetSchema,
)
from app.resources.datamanager.reads import AssetUrls, get_asset_or_404
from app.resources.datamanager.schemas import asset_update_schema, link_schema
from app.resources.datamanager.uploads import LOCALE, discard, receive, remove_keys
from app.timeutil import utcnow


def editable_asset(dm_id, asset_id, *, deleted=False):
    """The space, the asset (the ORM object to change) and the caller's rights, after the editAssets
    and If-Match checks."""
    dm, rights = get_space_or_404(dm_id)
    stmt = select(Asset).where(Asset.datamanager_id == dm.id, Asset.id == asset_id)
    stmt = stmt.where(Asset.deleted.is_not(None) if deleted else Asset.deleted.is_(None))
    asset = db.session.scalars(stmt.options(selectinload(Asset.tags), selectinload(Asset.files))).first()
    if asset is None:
        raise NotFound("asset")
    require(rights, "editAssets")
    check_preconditions(represent(asset, rights))
    return dm, asset, rights


def _files_plan(asset, refs):
    """[(file, locale-or-missing)] for the sent files, and the files to drop; 400 on unknown urls."""
    urls = AssetUrls(asset.datamanager_id)
    by_url = {urls.file(asset.id, f.id): f for f in asset.files}
    keep, errors = [], {}
    for i, ref in enumerate(refs):
        f = by_url.get(ref["url"])
        if f is None:
            errors[i] = {"url": ["Not a file of this asset."]}
        elif any(f is k for k, _ in keep):
            errors[i] = {"url": ["Listed twice."]}
        else:
            keep.append((f, ref.get("locale", ...)))
    if errors:
        raise BodyDidNotValidate(errors={"files": errors})
    return keep, [f for f in asset.files if all(f is not k for k, _ in keep)]


def _merge_targets(dm, asset, links):
    """The assets an ``ec:asset`` link list names: same space, not deleted, same type, not itself."""
    raw = links["asset"]
    items = raw if isinstance(raw, list) else [raw]
    adapter = current_app.url_map.bind(request.host)
    targets, errors = [], {}
    for i, item in enumerate(items):
        problems = link_schema.validate(item) if isinstance(item, dict) else {"href": ["Send a link object."]}
        target = None
        if not problems:
            try:
                path, root = urlsplit(item["href"]).path, request.script_root  # root: a proxy's prefix
                path = path[len(root) :] if root and path.startswith(root + "/") else path
                endpoint, args = adapter.match(path, method="GET")
            except HTTPException:
                endpoint, args = None, {}
            if endpoint == "datamanager.asset" and args["dm_id"] == dm.id and args["asset_id"] != asset.id:
                target = db.session.get(Asset, args["asset_id"])
            if target is None or target.deleted is not None or target.datamanager_id != dm.id:
                problems = {"href": ["Not another asset of this space."]}
            elif target.type != asset.type:
                problems = {"href": [f"A {target.type} asset cannot be merged into a {asset.type} asset."]}
        if problems:
            errors[i] = problems
        elif target not in targets:
            targets.append(target)
    if errors:
        raise BodyDidNotValidate(errors={"_links": {"ec:asset": errors}})
    return targets


@bp.put("/datamanager/<uuid:dm_id>/assets/<uuid:asset_id>")
@login_required
@api_doc(
    request=schemas.asset_update_schema,
    responses=ASSET,
    description="Needs editAssets. Edits title and tags; `files` keeps (and re-localises) the listed files "
    "and drops the others; `_links.ec:asset` merges those assets (same space and type) into "
    "this one.",
)
def update_asset(dm_id, asset_id):
    """Edit title, tags and files' locales; drop omitted files; merge linked assets into this one."""
    dm, asset, rights = editable_asset(dm_id, asset_id)
    data = load_body(asset_update_schema)
    keep, drop = _files_plan(asset, data["files"]) if "files" in data else ([], [])
    targets = _merge_targets(dm, asset, data["links"]) if "links" in data else []
    now = utcnow()
    if "title" in data:
        asset.title = data["title"]
    for f, locale in keep:
        if locale is not ... and locale != f.locale:
            f.locale, f.modified = locale, now
    for f in drop:
        asset.files.remove(f)
    tags = data.get("tags", asset.tag_names)
    for target in targets:
        tags = tags + target.tag_names
        for f in list(target.files):
            f.asset = asset
        db.session.delete(target)
    asset.set_tags(tags)
    db.session.commit()
    remove_keys([f.storage_key for f in drop])
    return respond(represent(asset, rights))


@bp.post("/datamanager/<uuid:dm_id>/assets/<uuid:asset_id>")
@login_required
@api_doc(
    request=AssetFileUploadSchema,
    content_type="multipart/form-data",
    responses=ASSET,
    errors=(412, 428),
    description="Needs editAssets; the file must have the asset's type. If-Match is honoured.",
)
def add_file(dm_id, asset_id):
    """Add another representation (a ``file`` part, optional ``locale``) to an asset → 200."""
    dm, asset, rights = editable_asset(dm_id, asset_id)
    uploads, form = receive(allowed=("file", "locale"), single=True)
    try:
        locale = form.get("locale") or None
        if locale is not None and not re.match(LOCALE, locale):
            raise BodyDidNotValidate(errors={"locale": ["Not an RFC 5646 language tag (e.g. en-US)."]})
        if uploads[0].type != asset.type:
            raise BodyDidNotValidate(
                errors={"file": [f"This {asset.type} asset cannot take a {uploads[0].type} file."]}
            )
        asset.files.append(new_file(uploads[0], utcnow(), locale))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        discard(uploads)
        raise
    return respond(represent(asset, rights))


@bp.delete("/datamanager/<uuid:dm_id>/assets/<uuid:asset_id>")
@login_required
@api_doc(responses={204: None}, description="Needs editAssets; moves the asset to ec:assets/deleted.")
def delete_asset(dm_id, asset_id):
    """Move an asset to the deleted assets → 204."""
    _, asset, _ = editable_asset(dm_id, asset_id)
    asset.deleted = utcnow()
    db.session.commit()
    return no_content()


@bp.get("/datamanager/<uuid:dm_id>/assets/deleted/")
@login_required
@api_doc(
    collection=deleted_collection,
    responses={200: page(DataManagerDeletedAssetSchema, "The soft-deleted assets of the space")},
)
def deleted_assets(dm_id):
    """The soft-deleted assets of a space, with the query grammar."""
    return list_assets(dm_id, get_access_or_404(dm_id), deleted_collection, deleted=True)


@bp.get("/datamanager/<uuid:dm_id>/assets/deleted/<uuid:asset_id>")
@login_required
@api_doc(responses={200: DataManagerDeletedAssetSchema})
def deleted_asset(dm_id, asset_id):
    """One soft-deleted asset."""
    return respond(represent(*get_asset_or_404(dm_id, asset_id, deleted=True)))


@bp.delete("/datamanager/<uuid:dm_id>/assets/deleted/<uuid:asset_id>")
@login_required
@api_doc(
    responses={200: DataManagerAssetSchema, 204: None},
    errors=(400,),
    description="Needs editAssets. Without a query: restores the asset (200, the ec:asset). With "
    "`?destroy=destroy`: purges it and its files (204). Any other query parameter is a 400.",
)
def restore_or_destroy(dm_id, asset_id):
    """Restore a deleted asset (200 with the ``ec:asset``), or with ``?destroy=destroy`` purge it (204)."""
    for key, value in request.args.items(multi=True):
        if key != "destroy" or value != "destroy":
            raise QueryDidNotValidate(
                f"Only ?destroy=destroy is understood here, not {key}={value}.",
                errors={key: ["Use destroy=destroy to purge, or no parameter to restore."]},
            )
    _, asset, rights = editable_asset(dm_id, asset_id, deleted=True)
    if "destroy" in request.args:
        keys = [f.storage_key for f in asset.files]
        db.session.delete(asset)
        db.session.commit()
        remove_keys(keys)
        return no_content()
    asset.deleted = None
    db.session.commit()
    return respond(represent(asset, rights))
