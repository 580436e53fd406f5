"""Uploads: stream multipart files into storage, sniff their MIME type, read image resolution.

The type of an asset comes from the stored bytes (libmagic through ``python-magic``),
never from the client's Content-Type. Werkzeug spools each multipart part to a
temporary file past 500 KB, and ``storage.save`` copies it in 1 MB chunks, so no upload
is held whole in memory. Whatever fails, ``discard`` removes what was already stored.
"""

import re
from dataclasses import dataclass

import magic
from flask import request
from PIL import Image

from app import storage
from app.errors import BodyDidNotValidate, UnsupportedMediaType

SPREADSHEETS = {
    "text/csv",
    "text/tab-separated-values",
    "application/csv",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.spreadsheet",
}
DOCUMENTS = {
    "application/pdf",
    "application/msword",
    "application/rtf",
    "text/rtf",
    "text/plain",
    "text/markdown",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.ms-powerpoint",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
}
LOCALE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"


@dataclass
class Upload:
    stored: storage.StoredFile
    name: str
    mimetype: str
    type: str
    width: int | None = None
    height: int | None = None


def asset_type(mimetype):
    """One of the six asset types for a sniffed MIME type."""
    major = mimetype.split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return major
    if mimetype in SPREADSHEETS:
        return "spreadsheet"
    if mimetype in DOCUMENTS:
        return "document"
    return "generic"


def original_name(filename):
    """The client's file name without any path and control characters (only for title and download)."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "untitled"


def _resolution(path):
    try:
        with Image.open(path) as image:  # reads the header only
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, None


def receive(field="file", *, allowed=("file",), single=False):
    """Store every ``field`` part of the multipart request; return ``(uploads, form)``."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Send the files as multipart/form-data in the field 'file'.")
    unknown = sorted(set(request.files) - {field} | set(request.form) - set(allowed))
    if unknown:
        raise BodyDidNotValidate(errors={name: ["Unknown field."] for name in unknown})
    parts = request.files.getlist(field)
    if not parts:
        raise BodyDidNotValidate(errors={field: ["Send at least one file."]})
    if single and len(parts) > 1:
        raise BodyDidNotValidate(errors={field: ["Send exactly one file."]})
    uploads = []
    try:
        for part in parts:
            stored = storage.save(part.stream)
            with storage.local_copy(stored.key) as path:
                mimetype = magic.from_file(path, mime=True) if stored.size else ""
                uploads.append(Upload(stored, original_name(part.filename), mimetype, asset_type(mimetype)))
                if not stored.size:
                    raise BodyDidNotValidate(errors={field: [f"{uploads[-1].name} is empty."]})
                if uploads[-1].type == "image":
                    uploads[-1].width, uploads[-1].height = _resolution(path)
    except BaseException:
        discard(uploads)
        raise
    return uploads, request.form


def discard(uploads):
    """Remove stored files of uploads that will not become (or stay) asset files."""
    for upload in uploads:
        storage.delete(upload.stored.key)


def remove_keys(keys):
    for key in keys:
        storage.delete(key)
