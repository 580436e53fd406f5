"""/api/v1/datasources (the caller's), /api/v1/projects/{id}/datasources and /api/v1/datasources/{id}
with its stored files: /file, /preview, /table."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import storage
from app.auth import current_account, login_required
from app.errors import BodyDidNotValidate, NotFound
from app.extensions import db
from app.hal import Collection, Document, Field, Property, Template, properties_from_schema
from app.jobs import QueueUnavailable, enqueue
from app.openapi import api_doc
from app.openapi.helpers import page, stored_file
from app.representation import check_preconditions, created, no_content, paginate, respond, url
from app.resources import choices
from app.resources.datasources import bp, forms
from app.resources.datasources.access import (
    get_project_or_404,
    get_source_or_404,
    require_editor,
    visible_sources,
)
from app.resources.datasources.jobs import BUILTINS, process_source
from app.resources.datasources.models import STATUSES, TYPES, DataSource, Project
from app.resources.datasources.openapi import (
    PREVIEW,
    SOURCE_BODY,
    DataSourceReplaceUploadSchema,
    DataSourceUploadSchema,
    DataSourceViewSchema,
)
from app.resources.datasources.schemas import datasource_schema, datasource_update_schema
from app.resources.datasources.tables import TableError, discard, materialise_csv
from app.timeutil import rfc3339

PARQUET = "application/vnd.apache.parquet"

sources_collection = Collection(
    rel="ec:datasources",
    item_rel="ec:datasource",
    fields=[
        Field("id", DataSource.id, type="int", sortable=True),
        Field("name", DataSource.name, sortable=True),
        Field("type", DataSource.type, type="enum", choices=TYPES, sortable=True),
        Field("project", DataSource.project_id, type="int", sortable=True),
        Field("status", DataSource.status, type="enum", choices=STATUSES, sortable=True),
        Field("created", DataSource.created, type="datetime", sortable=True),
    ],
    id_field="id",
    default_sort=("-created",),
    tiebreak=DataSource.id,
)


def represent(source):
    ready = source.status == "ready"
    sid = source.id
    doc = Document(
        {
            "id": sid,
            "name": source.name,
            "project": source.project_id,
            "type": source.type,
            "status": source.status,
            "error": source.error,
            "file": url("datasources.source_file", source_id=sid) if source.file_key else None,
            "meta_data": {
                "items": source.items,
                "fields": source.fields,
                "preview": url("datasources.source_preview", source_id=sid) if ready else None,
            },
            "columns": source.columns or [],
            "problems": source.problems or {},
            "connection": source.connection_ref if source.type == "database" else None,
            "connection_stored": "reference"
            if source.connection_ref
            else ("encrypted" if source.connection_secret else None),
            "query": source.query,
            "url": source.url,
            "created": rfc3339(source.created),
            "updated": rfc3339(source.updated),
        },
        self_href=url("datasources.get_source", source_id=sid),
    )
    doc.link("collection", url("datasources.sources"))
    doc.link("up", url("datasources.get_project", project_id=source.project_id))
    doc.link("ec:project", url("datasources.get_project", project_id=source.project_id))
    if source.file_key:
        doc.link("ec:datasource/file", url("datasources.source_file", source_id=sid))
    if ready:
        doc.link("ec:datasource/preview", url("datasources.source_preview", source_id=sid))
        if source.table_key:  # an external source's rows stay where they live
            doc.link("ec:datasource/table", url("datasources.source_table", source_id=sid), type=PARQUET)
    doc.link("ec:datasource/scripts", url("datasources.scripts", source_id=sid))
    doc.link("ec:datasource/jobs", url("datasources.runs", source_id=sid))
    if source.job_id:
        doc.link("ec:job", url("jobs.get", job_id=source.job_id))
    if source.project.can_edit_sources(current_account()):
        _templates(doc, source)
    # seed-native JSON (docs/seed-native.md): meta_data also under the document's spelling "preeview"
    return doc.with_native(lambda: _native(doc.properties))


def _native(properties):
    meta = properties["meta_data"]
    return {**properties, "meta_data": {**meta, "preeview": meta["preview"]}}


def _templates(doc, source):
    props = properties_from_schema(datasource_update_schema) + [Property(name="file", type="file")]
    doc.template("default", Template(method="PUT", contentType="multipart/form-data", properties=props))
    doc.template("delete", Template(method="DELETE", properties=[]))
    doc.template(
        "script-upload",
        Template(
            method="POST",
            contentType="multipart/form-data",
            target=url("datasources.script_upload", source_id=source.id),
            properties=[Property(name="script", type="file", required=True)],
        ),
    )
    keys = [f"builtin:{name}" for name in BUILTINS] + [s.key for s in source.scripts]
    doc.template(
        "job",
        Template(
            method="POST",
            target=url("datasources.start_run", source_id=source.id),
            properties=[
                Property(
                    name="steps",
                    required=True,
                    type="textarea",
                    multiple=True,
                    prompt="[{key, exec_order, params}] with key one of: " + ", ".join(keys),
                )
            ],
        ),
    )


def _page(stmt, self_url, project=None):
    templates = None
    if project is None or project.can_edit_sources(current_account()):
        props = properties_from_schema(
            datasource_schema,
            options={"project": choices.projects()},
            values={"project": project.id} if project is not None else None,
        ) + [Property(name="file", type="file")]
        templates = {
            "default": Template(
                method="POST",
                target=url("datasources.sources"),
                contentType="multipart/form-data",
                properties=props,
            )
        }
    return paginate(
        sources_collection,
        stmt,
        self_url,
        lambda sources: [represent(s) for s in sources],
        single=represent,
        templates=templates,
    )


@bp.get("/api/v1/datasources")
@login_required
@api_doc(
    collection=sources_collection,
    responses={200: page(DataSourceViewSchema)},
    description="`id=<id>` answers that data source itself instead of a page.",
)
def sources():
    """Every data source of every project the caller may read."""
    return _page(visible_sources(current_account()), url("datasources.sources"))


@bp.get("/api/v1/projects/<int:project_id>/datasources")
@login_required
@api_doc(collection=sources_collection, responses={200: page(DataSourceViewSchema)})
def project_sources(project_id):
    """The data sources of one project."""
    project = get_project_or_404(project_id)
    stmt = select(DataSource).where(DataSource.project_id == project.id)
    return _page(stmt, url("datasources.project_sources", project_id=project.id), project)


def _check_name(project_id, name, exclude_id=None):
    stmt = select(DataSource.id).where(DataSource.project_id == project_id, DataSource.name == name)
    if exclude_id is not None:
        stmt = stmt.where(DataSource.id != exclude_id)
    if db.session.scalar(stmt) is not None:
        raise BodyDidNotValidate(errors={"name": ["A data source with this name exists in the project."]})


def _store_upload(upload):
    """Store the upload; small ones are read at once (400 naming ``file`` when they are no CSV table)."""
    stored = storage.save(upload.stream)
    if stored.size > forms.inline_limit():
        return stored, None
    try:
        with storage.local_copy(stored.key) as path:
            return stored, materialise_csv(path)
    except TableError as error:
        storage.delete(stored.key)
        raise BodyDidNotValidate(errors={"file": [str(error)]}) from None


def _apply(source, data, stored, table):
    source.name, source.type = data["name"], data["type"]
    source.query = data.get("query") if source.type == "database" else None
    source.url = data.get("url") if source.type in ("api", "external") else None
    if source.type == "database":
        forms.set_connection(source, data)
    else:
        source.connection_ref = source.connection_secret = None
    if stored is not None:
        source.file_key, source.file_type = stored.key, "text/csv"
    elif source.type != "file":
        source.file_key = source.file_type = None
    source.table_key = source.preview_key = source.items = source.fields = source.columns = None
    source.problems, source.error, source.status, source.job_id = None, None, "processing", None
    if table is not None:
        source.table_key, source.preview_key = table.table_key, table.preview_key
        source.items, source.fields, source.columns = table.items, table.fields, table.columns
        source.problems, source.status = table.problems, "ready"


def _commit(source, new_keys):
    """Commit the source, with its processing job when it needs one: nothing is committed when the
    name is taken (400) or the queue is down (503), and the files stored for it are discarded then."""
    try:
        db.session.flush()
        if source.status == "processing":
            enqueue(
                process_source,
                source.id,
                source.version,
                kind="datasource-process",
                tracker=source,
                owner=current_account(),
                subject=f"/api/v1/datasources/{source.id}",
            )
        else:
            db.session.commit()
    except IntegrityError:
        db.session.rollback()
        discard(new_keys)
        raise BodyDidNotValidate(
            errors={"name": ["A data source with this name exists in the project."]}
        ) from None
    except QueueUnavailable as exc:
        if not exc.committed:  # else the failed source still points at them
            discard(new_keys)
        raise


@bp.post("/api/v1/datasources")
@login_required
@api_doc(
    request=DataSourceUploadSchema,
    content_type="multipart/form-data",
    responses={201: DataSourceViewSchema},
    description=SOURCE_BODY + " A small file is read at once (status ready); anything else is "
    "processed by a job (status processing, link ec:job). 403 for viewers of the project.",
)
def create_source():
    """Create a data source (multipart: name, project, type, file | connection+query | url)."""
    data, upload = forms.read_body(datasource_schema)
    project = db.session.get(Project, data["project"])
    if project is None or project.role_of(current_account()) is None:
        raise BodyDidNotValidate(errors={"project": ["No such project."]})
    require_editor(project)
    _check_name(project.id, data["name"])
    forms.check_type_fields(data, upload)
    stored, table = _store_upload(upload) if upload is not None else (None, None)
    source = DataSource(project_id=project.id, creator_id=current_account().id, version=1)
    _apply(source, data, stored, table)
    db.session.add(source)
    _commit(source, [stored and stored.key] + (table.keys() if table else []))
    return created(represent(source))


@bp.get("/api/v1/datasources/<int:source_id>")
@login_required
@api_doc(responses={200: DataSourceViewSchema})
def get_source(source_id):
    """One data source."""
    return respond(represent(get_source_or_404(source_id)))


@bp.put("/api/v1/datasources/<int:source_id>")
@login_required
@api_doc(
    request=DataSourceReplaceUploadSchema,
    content_type="multipart/form-data",
    responses={200: DataSourceViewSchema},
    description=SOURCE_BODY + " `file` and `connection` may be left out to keep them (same type).",
)
def update_source(source_id):
    """Replace name, type and file (or connection/query, url); the metadata is recomputed."""
    source = get_source_or_404(source_id)
    require_editor(source.project)
    data, upload = forms.read_body(datasource_update_schema)
    _check_name(source.project_id, data["name"], exclude_id=source.id)
    forms.check_type_fields(data, upload, existing=source)
    check_preconditions(represent(source))
    old = [source.table_key, source.preview_key]
    if upload is not None or data["type"] != "file":
        old.append(source.file_key)
    stored, table = _store_upload(upload) if upload is not None else (None, None)
    if stored is None and data["type"] == "file":
        size = storage.size(source.file_key)
        table = _table_of_kept_file(source) if size <= forms.inline_limit() else None
    source.version += 1
    _apply(source, data, stored, table)
    _commit(source, [stored and stored.key] + (table.keys() if table else []))
    discard(k for k in old if k)
    return respond(represent(source))


def _table_of_kept_file(source):
    try:
        with storage.local_copy(source.file_key) as path:
            return materialise_csv(path)
    except TableError as error:
        raise BodyDidNotValidate(errors={"file": [str(error)]}) from None


@bp.delete("/api/v1/datasources/<int:source_id>")
@login_required
@api_doc(responses={204: None})
def delete_source(source_id):
    """Delete the data source, its scripts, its jobs' results and every stored file."""
    source = get_source_or_404(source_id)
    require_editor(source.project)
    check_preconditions(represent(source))
    keys = (
        source.stored_keys()
        + [s.body_key for s in source.scripts]
        + [k for r in source.runs for k in r.stored_keys()]
    )
    db.session.delete(source)
    db.session.commit()
    discard(keys)
    return no_content()


def _send(key, mimetype, what):
    if not key or not storage.exists(key):
        raise NotFound(what)
    return storage.send(key, mimetype=mimetype)


@bp.get("/api/v1/datasources/<int:source_id>/file")
@login_required
@api_doc(
    **stored_file("The upload, the fetched response or the query's rows.", "text/csv"),
    description="404 `COULD_NOT_FIND_FILE` while there is none.",
)
def source_file(source_id):
    """The source's data as a file: the upload, the fetched response or the query's rows (CSV)."""
    source = get_source_or_404(source_id)
    return _send(source.file_key, source.file_type or "text/csv", "file")


@bp.get("/api/v1/datasources/<int:source_id>/preview")
@login_required
@api_doc(
    **stored_file("Columns with statistics and the first rows.", "application/json", json_schema=PREVIEW),
    description="404 `COULD_NOT_FIND_PREVIEW` until the source is ready.",
)
def source_preview(source_id):
    """The JSON preview: columns with types and statistics, and the first rows."""
    source = get_source_or_404(source_id)
    return _send(source.preview_key if source.status == "ready" else None, "application/json", "preview")


@bp.get("/api/v1/datasources/<int:source_id>/table")
@login_required
@api_doc(
    **stored_file("The table as Parquet.", PARQUET),
    description="404 `COULD_NOT_FIND_TABLE` until the source is ready.",
)
def source_table(source_id):
    """The materialised table as Parquet."""
    source = get_source_or_404(source_id)
    return _send(source.table_key if source.status == "ready" else None, PARQUET, "table")
