"""File storage under ``HALYARD_STORAGE_ROOT`` (DESIGN.md §8).

Files are named by a server-chosen random key (never the client's file name),
written by streaming through a temporary file in the same root and renamed into
place, so a failed upload leaves nothing behind. ``send()`` serves a file with its
stored MIME type, a strong ETag (the content's SHA-256), Range support and a safely
quoted Content-Disposition.
"""
import hashlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass

from flask import current_app, request, send_file

from app.hal.conditional import PreconditionFailed

CHUNK = 1024 * 1024


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


def send(key, *, mimetype, download_name=None, etag=None, as_attachment=False):
    """A response serving the file: Content-Type, ETag, Range/If-Range, If-Match, Content-Disposition."""
    tag = etag or key
    if "If-Match" in request.headers:  # strong comparison; ``*`` matches (the file exists)
        if not (request.if_match.star_tag or request.if_match.is_strong(tag)):
            raise PreconditionFailed("The file has changed: If-Match does not match its ETag.")
    response = send_file(path_of(key), mimetype=mimetype, download_name=download_name,
                         as_attachment=as_attachment, conditional=True, etag=tag)
    if response.status_code == 412:  # werkzeug's own If-Match reading refuses ``*``; the check above passed
        response.status_code = 200
    if download_name is None:
        response.headers.pop("Content-Disposition", None)
    return response


def copy_to(key, destination):
    """Copy a stored file to ``destination`` (e.g. into a job's sandbox directory)."""
    shutil.copyfile(path_of(key), destination)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
