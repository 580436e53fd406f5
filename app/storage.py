"""File storage under ``HALYARD_STORAGE_ROOT`` (DESIGN.md §8).

Files are named by a server-chosen random key (never the client's file name),
written by streaming through a temporary file in the same root and renamed into
place, so a failed upload leaves nothing behind. ``send()`` is the one door through which
every stored file leaves Halyard: its type, a strong ETag (the content's SHA-256), Range
support, a safely quoted Content-Disposition, and the headers that keep a user's file from
ever running in Halyard's origin (docs/security.md, "User files are never active").
"""

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass

from flask import current_app, request, send_file
from werkzeug.http import parse_options_header

from app.hal.conditional import PreconditionFailed

CHUNK = 1024 * 1024
MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
# Types a browser may show in place: none of them can carry script into a page (no SVG, HTML or XML of any
# kind). Every other type is an attachment, so a browser saves it instead of rendering it.
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/json",
    }
)
# Whatever a browser makes of a file, the document is sandboxed: an opaque origin (no access to Halyard's
# storage or cookies), no script, nothing loaded; inline style only for the browser's own image/text viewer.
FILE_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass
class StoredFile:
    key: str
    size: int
    sha256: str


def root():
    path = current_app.config["HALYARD_STORAGE_ROOT"]
    os.makedirs(path, exist_ok=True)
    return path


def path_of(key):
    """The absolute path of a stored key (keys are hex; anything else is refused)."""
    if not key or not all(c in "0123456789abcdef" for c in key):
        raise ValueError("not a storage key")
    return os.path.join(root(), key[:2], key)


def save(stream, max_bytes=None):
    """Stream ``stream`` (a file-like object) into storage; return the StoredFile.

    Raises ValueError when more than ``max_bytes`` arrive (nothing is kept then).
    """
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=root(), prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise ValueError("file too large")
                digest.update(chunk)
                out.write(chunk)
        key = uuid.uuid4().hex
        os.makedirs(os.path.dirname(path_of(key)), exist_ok=True)
        os.replace(tmp, path_of(key))
    except BaseException:
        _unlink(tmp)
        raise
    return StoredFile(key=key, size=size, sha256=digest.hexdigest())


def save_path(source_path):
    """Move a file that a job produced (on the same filesystem or not) into storage."""
    with open(source_path, "rb") as fh:
        stored = save(fh)
    _unlink(source_path)
    return stored


def open_file(key, mode="rb"):
    return open(path_of(key), mode)


def delete(key):
    """Remove a stored file; a missing file is not an error (deletes are idempotent)."""
    _unlink(path_of(key))


def exists(key):
    return os.path.exists(path_of(key))


def serving_type(mimetype):
    """``(Content-Type, inline)`` for a stored file declared as ``mimetype`` (any case, any parameters).

    Only the bare type of the safe list is inline; text says its charset, so nothing guesses one.
    """
    essence = parse_options_header(mimetype or "")[0].lower()
    if not MEDIA_TYPE.fullmatch(essence):  # not a type/subtype of RFC 9110 tokens: say only "bytes"
        essence = "application/octet-stream"
    inline = essence in INLINE_TYPES
    charset = "; charset=utf-8" if inline and essence.startswith("text/") else ""
    return essence + charset, inline


def send(key, *, mimetype, download_name=None, etag=None):
    """The response serving a stored file: the only way a stored file reaches a client.

    Content-Type (see ``serving_type``), ETag, Range/If-Range, If-Match, Content-Disposition
    (``attachment`` unless the type is on the inline list) and ``FILE_HEADERS``.
    """
    tag = etag or key
    if "If-Match" in request.headers:  # strong comparison; ``*`` matches (the file exists)
        if not (request.if_match.star_tag or request.if_match.is_strong(tag)):
            raise PreconditionFailed("The file has changed: If-Match does not match its ETag.")
    content_type, inline = serving_type(mimetype)
    response = send_file(
        path_of(key),
        mimetype=content_type,
        download_name=download_name,
        as_attachment=not inline,
        conditional=True,
        etag=tag,
    )
    if response.status_code == 412:  # werkzeug's own If-Match reading refuses ``*``; the check above passed
        response.status_code = 200
    if download_name is None:  # werkzeug named it after the storage key: say only how to treat it
        response.headers.pop("Content-Disposition", None)
        if not inline:
            response.headers["Content-Disposition"] = "attachment"
    response.headers["Content-Type"] = content_type  # exactly this: werkzeug would add a charset of its own
    response.headers.update(FILE_HEADERS)
    if request.method != "HEAD" and response.status_code in (200, 206) and response.content_length:
        from app import metrics

        metrics.file_sent(
            request.url_rule.rule if request.url_rule else "<unmatched>", response.content_length
        )
    return response


def copy_to(key, destination):
    """Copy a stored file to ``destination`` (e.g. into a job's sandbox directory)."""
    shutil.copyfile(path_of(key), destination)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
