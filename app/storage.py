"""File storage: the one interface to every file Halyard keeps (DESIGN.md §8, docs/storage.md).

Where files live is ``HALYARD_STORAGE_URL``: a local folder (``file://``, the default
``<instance>/files``, also settable as ``HALYARD_STORAGE_ROOT``) or an S3-compatible bucket
(``s3://bucket/prefix``), see ``app.storage_backends``. No other module opens a stored file by
its path: they ``save``/``save_path`` files in, read them with ``open_file`` (streaming) or
``local_copy`` (a local path, for DuckDB and libmagic), and work in ``scratch`` folders.

Files are named by a server-chosen random key (never the client's file name),
written by streaming through a temporary file and then moved (renamed, or uploaded in parts)
into place, so a failed upload leaves nothing behind. ``send()`` is the one door through which
every stored file leaves Halyard: its type, a strong ETag (the content's SHA-256), Range
support, a safely quoted Content-Disposition, and the headers that keep a user's file from
ever running in Halyard's origin (docs/security.md, "User files are never active").
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import unicodedata
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from flask import current_app, redirect, request, send_file
from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from app import metrics, storage_backends
from app.hal.conditional import PreconditionFailed

log = logging.getLogger("halyard.storage")

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


def store():
    """This app's store (built once per app and set of storage settings)."""
    config = current_app.config
    wanted = tuple(config.get(name) for name in storage_backends.SETTINGS_USED)
    cached = current_app.extensions.get("halyard_storage")
    if cached is None or cached[0] != wanted:
        cached = (wanted, storage_backends.build(config, current_app.instance_path))
        current_app.extensions["halyard_storage"] = cached
    return cached[1]


def scratch_root():
    """The local folder of temporary work files (the sweep clears what dead jobs leave there)."""
    path = store().scratch_root
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def scratch(prefix):
    """A temporary local work folder (``prefix`` is one of ``app.jobs.sweep.TEMPORARY``), removed after."""
    path = tempfile.mkdtemp(dir=scratch_root(), prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _checked(key):
    if not key or not all(c in "0123456789abcdef" for c in key):
        raise ValueError("not a storage key")
    return key


def new_key():
    """A fresh random storage key (for a file a remote engine writes itself, see ``url``)."""
    return uuid.uuid4().hex


def is_object_storage():
    """Whether files are kept in an S3-compatible object store (else a local folder)."""
    return store().kind == "s3"


def url(key):
    """Where ``key`` lives, for an engine that reads or writes storage itself (Spark):
    ``file:///folder/ab/key`` or ``s3://bucket/prefix/ab/key``."""
    return store().url(_checked(key))


def save(stream, max_bytes=None):
    """Stream ``stream`` (a file-like object) into storage; return the StoredFile.

    Raises ValueError when more than ``max_bytes`` arrive (nothing is kept then).
    """
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=scratch_root(), prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise ValueError("file too large")
                digest.update(chunk)
                out.write(chunk)
        key = new_key()
        store().adopt(tmp, key)
    except BaseException:
        _unlink(tmp)
        raise
    return StoredFile(key=key, size=size, sha256=digest.hexdigest())


def save_path(source_path):
    """Move a local file that a job produced into storage (the file is gone afterwards)."""
    digest, size = hashlib.sha256(), 0
    with open(source_path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    key = new_key()
    try:
        store().adopt(source_path, key)
    finally:
        _unlink(source_path)
    return StoredFile(key=key, size=size, sha256=digest.hexdigest())


def open_file(key):
    """A binary, seekable reader of a stored file that streams (never loads it whole)."""
    return store().open(_checked(key))


def local_copy(key):
    """Context manager: a local path holding the stored file, for readers that need one (DuckDB).

    Read only. Local storage gives the stored file itself; object storage a temporary copy, removed after.
    """
    return store().local_copy(_checked(key))


def delete(key):
    """Remove a stored file; a missing file is not an error (deletes are idempotent)."""
    store().delete(_checked(key))


def exists(key):
    return store().exists(_checked(key))


def size(key):
    return store().size(_checked(key))


def all_keys():
    """{key: modification time} of every stored file (for the sweep)."""
    return store().keys()


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


def disposition(download_name, inline):
    """The Content-Disposition of a stored file: ``attachment`` unless inline-safe, with a quoted name."""
    how = "inline" if inline else "attachment"
    if download_name is None:
        return None if inline else "attachment"
    try:
        download_name.encode("ascii")
        names = {"filename": download_name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", download_name).encode("ascii", "ignore").decode("ascii")
        names = {"filename": simple, "filename*": "UTF-8''" + quote(download_name, safe="!#$&+-.^_`|~")}
    headers = Headers()
    headers.set("Content-Disposition", how, **names)
    return headers["Content-Disposition"]


def send(key, *, mimetype, download_name=None, etag=None):
    """The response serving a stored file: the only way a stored file reaches a client.

    Content-Type (see ``serving_type``), ETag, Range/If-Range, If-Match, If-None-Match,
    Content-Disposition (``attachment`` unless the type is on the inline list) and ``FILE_HEADERS``.
    How the bytes go out (docs/storage.md): object storage answers 302 to a short-lived presigned URL
    (HALYARD_STORAGE_DOWNLOADS=redirect) or streams; local storage streams from this process or hands
    the file to nginx/Apache (HALYARD_STORAGE_SENDFILE). Streamed files stop after
    HALYARD_DOWNLOAD_TIMEOUT_SECONDS.
    """
    key, tag, config = _checked(key), etag or key, current_app.config
    if "If-Match" in request.headers:  # strong comparison; ``*`` matches (the file exists)
        if not (request.if_match.star_tag or request.if_match.is_strong(tag)):
            raise PreconditionFailed("The file has changed: If-Match does not match its ETag.")
    content_type, inline = serving_type(mimetype)
    how = disposition(download_name, inline)
    backend = store()
    if is_object_storage():
        if config["HALYARD_STORAGE_DOWNLOADS"] == "stream":
            return _stream(backend, key, content_type, how, tag)
        return _elsewhere(tag, lambda: _presigned(backend, key, content_type, how))
    mode = config["HALYARD_STORAGE_SENDFILE"]
    if mode in ("nginx", "apache"):
        return _elsewhere(tag, lambda: _sendfile(mode, backend, key, content_type, how, tag))
    response = send_file(
        backend.location(key),
        mimetype=content_type,
        download_name=download_name,
        as_attachment=not inline,
        conditional=True,
        etag=tag,
    )
    if response.status_code == 412:  # werkzeug's own If-Match reading refuses ``*``; the check above passed
        response.status_code = 200
    return _finish(response, content_type, how)


def _finish(response, content_type, how):
    response.headers.pop("Content-Disposition", None)
    if how:
        response.headers["Content-Disposition"] = how
    response.headers["Content-Type"] = content_type  # exactly this: werkzeug would add a charset of its own
    response.headers.update(FILE_HEADERS)
    if request.method != "HEAD" and response.status_code in (200, 206) and response.content_length:
        metrics.file_sent(
            request.url_rule.rule if request.url_rule else "<unmatched>", response.content_length
        )
    if response.direct_passthrough and request.method != "HEAD":
        response.response = _Deadline(
            response.response, current_app.config["HALYARD_DOWNLOAD_TIMEOUT_SECONDS"], request.path
        )
    return response


def _stream(backend, key, content_type, how, tag):
    """Stream an object through this process, with Range and conditional requests."""
    fh = backend.open(key)
    response = Response(wrap_file(request.environ, fh, CHUNK), mimetype=content_type, direct_passthrough=True)
    response.content_length = fh.raw.length
    response.set_etag(tag)
    response = response.make_conditional(request.environ, accept_ranges=True, complete_length=fh.raw.length)
    return _finish(response, content_type, how)


def _elsewhere(tag, answer):
    """A file another server sends: 304 here when the client has it, else ``answer()``."""
    if request.if_none_match.contains(tag) or request.if_none_match.star_tag:
        response = Response(status=304)
    else:
        response = answer()
    response.set_etag(tag)
    response.headers["Cache-Control"] = "no-store" if response.status_code == 302 else "no-cache"
    response.headers.update(FILE_HEADERS)
    return response


def _presigned(backend, key, content_type, how):
    seconds = current_app.config["HALYARD_STORAGE_PRESIGN_SECONDS"]
    return redirect(backend.presigned_url(key, seconds, content_type, how), 302)


def _sendfile(mode, backend, key, content_type, how, tag):
    """An empty answer that tells nginx (X-Accel-Redirect) or Apache (X-Sendfile) which file to send."""
    response = Response(mimetype=content_type)
    if mode == "nginx":
        prefix = current_app.config["HALYARD_STORAGE_SENDFILE_PREFIX"].rstrip("/")
        response.headers["X-Accel-Redirect"] = f"{prefix}/{key[:2]}/{key}"
    else:
        response.headers["X-Sendfile"] = os.path.abspath(backend.location(key))
    response.headers["Content-Type"] = content_type
    if how:
        response.headers["Content-Disposition"] = how
    return response


class _Deadline:
    """The body of a streamed file, cut (the connection closes) once it has run for ``seconds``.

    A slow client holds one web thread, never a worker process; this bounds for how long.
    """

    def __init__(self, body, seconds, path):
        self.body, self.seconds, self.path = body, seconds, path

    def __iter__(self):
        deadline = time.monotonic() + self.seconds
        for chunk in self._chunks():
            if time.monotonic() >= deadline:
                log.warning(
                    json.dumps({"event": "download_timeout", "path": self.path, "seconds": self.seconds})
                )
                raise TimeoutError("download timeout")
            yield chunk

    def _chunks(self):
        """The body; a whole file (WSGI file wrappers iterate 8 KiB at a time) in 1 MiB reads."""
        fh = getattr(self.body, "filelike", None) or getattr(self.body, "file", None)  # gunicorn, werkzeug
        if fh is None or not hasattr(fh, "read"):
            yield from self.body
            return
        while chunk := fh.read(CHUNK):
            yield chunk

    def close(self):
        close = getattr(self.body, "close", None)
        if close is not None:
            close()


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
