"""A test-only blueprint with what the foundation lacks: a multipart upload, PUT with If-Match, DELETE.

GET/PUT/DELETE /test-widgets/box, POST /test-widgets/box/files (multipart ``file`` + ``note``),
GET /test-widgets/box/files/<n>. State lives in ``app.extensions`` (no table: this is not a domain).
The upload and PUT are annotated with ``@api_doc``; GET/DELETE of the box stay undeclared on purpose,
so tests see both the declared and the generic OpenAPI operation.
"""

import hashlib

from flask import Blueprint, current_app, request
from marshmallow import Schema, fields, validate

from app.auth import login_required
from app.errors import BodyDidNotValidate, NotFound
from app.hal import Document, Property, Template, properties_from_schema
from app.openapi import api_doc
from app.representation import check_preconditions, created, load_body, no_content, respond, url

bp = Blueprint("testwidgets", __name__)


class BoxSchema(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=80))


class UploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    note = fields.String(validate=validate.Length(max=200))


class StoredFileSchema(Schema):
    name = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    note = fields.String(allow_none=True)


box_schema = BoxSchema()


def state():
    return current_app.extensions.setdefault("testwidgets", {"label": "empty box", "files": []})


def represent_file(n, item):
    doc = Document(dict(item), self_href=url("testwidgets.get_file", n=n))
    return doc.link("up", url("testwidgets.get_box"))


def represent_box():
    box = state()
    doc = Document({"label": box["label"], "files": len(box["files"])}, self_href=url("testwidgets.get_box"))
    doc.link("up", url("root.index"))
    doc.embed_many("ec:widget-file", [represent_file(n, f) for n, f in enumerate(box["files"])])
    doc.template(
        "default",
        Template(method="PUT", title="Rename the box", properties=properties_from_schema(box_schema)),
    )
    doc.template(
        "upload",
        Template(
            method="POST",
            title="Upload a file",
            target=url("testwidgets.upload"),
            contentType="multipart/form-data",
            properties=[Property("file", required=True, type="file"), Property("note", maxLength=200)],
        ),
    )
    doc.template("delete", Template(method="DELETE", title="Empty the box"))
    return doc


@bp.get("/test-widgets/box")
@login_required
def get_box():
    """The box: its label, files embedded, and its templates."""
    return respond(represent_box())


@bp.put("/test-widgets/box")
@api_doc(request=BoxSchema, responses={200: BoxSchema}, errors=(412,))
@login_required
def update_box():
    """Rename the box."""
    check_preconditions(represent_box())
    state()["label"] = load_body(box_schema)["label"]
    return respond(represent_box())


@bp.delete("/test-widgets/box")
@login_required
def empty_box():
    """Empty the box."""
    check_preconditions(represent_box())
    state().update(label="empty box", files=[])
    return no_content()


@bp.post("/test-widgets/box/files")
@api_doc(request=UploadSchema, content_type="multipart/form-data", responses={201: StoredFileSchema})
@login_required
def upload():
    """Upload one file (multipart ``file``, optional ``note``)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BodyDidNotValidate(errors={"file": ["A file is required."]})
    note = request.form.get("note") or None
    if note is not None and len(note) > 200:
        raise BodyDidNotValidate(errors={"note": ["Longer than 200 characters."]})
    data = upload.read()
    files = state()["files"]
    files.append(
        {"name": upload.filename, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "note": note}
    )
    return created(represent_file(len(files) - 1, files[-1]))


@bp.get("/test-widgets/box/files/<int:n>")
@login_required
def get_file(n):
    """One uploaded file's metadata."""
    files = state()["files"]
    if n >= len(files):
        raise NotFound("widgetfile")
    return respond(represent_file(n, files[n]))


def install(app):
    """Register the blueprint on ``app`` and link the box from ``GET /``."""
    from app.extensions import curies
    from app.resources.root import register_entry

    app.register_blueprint(bp)
    register_entry(app, "ec:widget-box", "testwidgets.get_box", title="Test-only upload box")
    curies.document("widget-box", title="Upload box (tests only)", description="A test-only box of uploads.")
    curies.document("widget-file", title="Uploaded file (tests only)", description="One upload's metadata.")
    return app
