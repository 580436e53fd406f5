"""The ``external`` source type: a Parquet data set read where it lives (docs/storage.md, "External
data sets").

The location is a URL the client chooses: ``s3://bucket/key`` (the object store of HALYARD_S3_*, the same
endpoint and credentials as Halyard's own storage) or ``file:///folder`` (a local or shared folder). It names
one Parquet file, a folder (every file under it, Hive ``key=value`` folders becoming columns) or a key
prefix (``s3://bucket/sales/part-`` reads every object whose name starts with it). It is checked by
``check_location`` when it is sent and again whenever a job reads it:

- only a location under one of HALYARD_DATASOURCE_EXTERNAL_LOCATIONS (the operator's list; empty: the type
  is off), compared segment by segment after refusing ``.``/``..`` segments, empty segments, backslashes
  and control characters; a ``file://`` location and every file found under it must stay under the
  allowed folder once symbolic links are resolved;
- the S3 endpoint passes the outbound policy (app/outbound.py: no private or loopback address unless
  HALYARD_OUTBOUND_ALLOWLIST names it), like every other connection a client can steer.

Schema and row count come from the Parquet footers (``describe``: one ranged read per file, never the
rows); the preview is computed by the source's job (app/resources/datasources/jobs.py) with DuckDB over a
pyarrow dataset (``register``), which reads only the columns and row groups a query needs.
"""

import contextlib
import os
import queue
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

from app import outbound

SCHEMES = ("s3", "file")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")


class LocationRefused(Exception):
    """The location may not be read; the message is safe to show (it names no setting's value)."""


@dataclass(frozen=True)
class Location:
    scheme: str  # "s3" | "file"
    path: str  # s3: "bucket/key"; file: an absolute local path (symbolic links resolved)
    root: str  # the allowed location it lies under, in the same form
    folder: bool  # written with a trailing "/": a folder, never a name prefix
    own: bool = False  # an object of Halyard's own storage (``stored``), not a client's location


def _segments(path):
    """The segments of a ``/``-separated path; LocationRefused for ``.``, ``..`` or empty ones."""
    parts = path.split("/")
    if any(part in (".", "..") for part in parts):
        raise LocationRefused("The location may not contain '.' or '..' segments.")
    if any(not part for part in parts):
        raise LocationRefused("The location may not contain empty segments ('//').")
    return parts


def _split(url):
    """``(scheme, path, folder)`` of a location URL; LocationRefused when it is not one."""
    if not isinstance(url, str) or not url or len(url) > 2000 or _UNSAFE.search(url):
        raise LocationRefused("The location is not a valid URL.")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" in the host part
        raise LocationRefused("The location is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise LocationRefused("The location must be an s3:// or file:// URL.")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise LocationRefused("The location may not have a query or a fragment.")
    folder, path = parts.path.endswith("/"), parts.path.rstrip("/")
    if scheme == "s3":
        if not _BUCKET.match(parts.netloc or ""):
            raise LocationRefused("The location must name a bucket: s3://bucket/key.")
        key = path.lstrip("/")
        if path and not path.startswith("/"):
            raise LocationRefused("The location is not a valid URL.")
        return scheme, "/".join([parts.netloc] + (_segments(key) if key else [])), folder
    if parts.netloc not in ("", "localhost"):
        raise LocationRefused("A file:// location names a local folder: file:///path.")
    if not path.startswith("/"):
        raise LocationRefused("A file:// location needs an absolute path below the root folder.")
    return scheme, "/" + "/".join(_segments(path[1:])), folder


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def allowed_roots():
    """The operator's allowed locations as ``(scheme, path)``; file:// ones with links resolved."""
    roots = []
    for entry in current_app.config["HALYARD_DATASOURCE_EXTERNAL_LOCATIONS"] or []:
        scheme, path, _ = _split(entry)
        roots.append((scheme, os.path.realpath(path) if scheme == "file" else path))
    return roots


def check_location(url):
    """The checked Location of ``url``, or LocationRefused with the reason (nothing is read)."""
    scheme, path, folder = _split(url)
    if scheme == "file":
        path = os.path.realpath(path)
    root = next((r for s, r in allowed_roots() if s == scheme and _under(path, r)), None)
    if root is None:
        raise LocationRefused("The location is not under a location this server allows (ask an admin).")
    if scheme == "s3":
        _check_endpoint()
    return Location(scheme, path, root, folder)


def stored(url):
    """The Location of an object of Halyard's own storage (``storage.url(key)``, ``s3://…``), read with
    this module's reader: not checked against HALYARD_DATASOURCE_EXTERNAL_LOCATIONS or the outbound policy,
    because no client chose it — the operator configured the store (HALYARD_STORAGE_URL)."""
    scheme, path, _ = _split(url)
    return Location(scheme, path, path, False, own=True)


def _endpoint():
    config = current_app.config
    endpoint = config["HALYARD_S3_ENDPOINT_URL"]
    if endpoint:
        return endpoint
    region = config["HALYARD_S3_REGION"] or "us-east-1"
    return f"https://s3.{region}.amazonaws.com"


def _check_endpoint():
    parts = urlsplit(_endpoint())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        outbound.checked_addresses(parts.hostname or "", port)
    except outbound.OutboundRefused:
        raise LocationRefused("The object store is not allowed by the outbound policy.") from None
    except outbound.OutboundError:
        raise LocationRefused("The object store's host name does not resolve.") from None


def filesystem(location):
    """The pyarrow filesystem that reads ``location``."""
    from pyarrow import fs  # here: only the worker reads data sets

    if location.scheme == "file":
        return fs.LocalFileSystem()
    config, endpoint = current_app.config, urlsplit(_endpoint())
    options = {
        "region": config["HALYARD_S3_REGION"] or "us-east-1",
        "connect_timeout": 10,
        "request_timeout": 60,
        "force_virtual_addressing": config["HALYARD_S3_ADDRESSING_STYLE"] == "virtual",
    }
    if config["HALYARD_S3_ENDPOINT_URL"]:
        options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
    if config["HALYARD_S3_ACCESS_KEY_ID"]:
        options.update(
            access_key=config["HALYARD_S3_ACCESS_KEY_ID"], secret_key=config["HALYARD_S3_SECRET_ACCESS_KEY"]
        )
    return fs.S3FileSystem(**options)


def _hidden(relative):
    """Files Spark, Hive and Hadoop leave beside the data (``_SUCCESS``, ``.crc``, ``_metadata``)."""
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def files(location, filesystem):
    """``(base folder, [Parquet file paths])`` of a location, sorted; LocationRefused when there are none,
    more than HALYARD_DATASOURCE_EXTERNAL_MAX_FILES, or a ``file://`` one leaves the allowed folder."""
    from pyarrow import fs

    info = filesystem.get_file_info(location.path)
    if info.type == fs.FileType.File and not location.folder:
        found, base = [location.path], None
    elif info.type == fs.FileType.Directory:
        base = location.path
        listed = filesystem.get_file_info(fs.FileSelector(base, recursive=True))
        found = [
            i.path for i in listed if i.type == fs.FileType.File and not _hidden(i.path[len(base) + 1 :])
        ]
    elif location.folder or "/" not in location.path:
        raise LocationRefused("Nothing was found at the location.")
    else:  # a name prefix: every file of the parent folder whose name starts with it
        base, _, stem = location.path.rpartition("/")
        listed = filesystem.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
        found = [
            i.path
            for i in listed
            if i.type == fs.FileType.File
            and i.path[len(base) + 1 :].startswith(stem)
            and not _hidden(i.path[len(base) + 1 :])
        ]
    if location.scheme == "file" and any(not _under(os.path.realpath(path), location.root) for path in found):
        raise LocationRefused("A file under the location links outside the allowed folder.")
    if not found:
        raise LocationRefused("No Parquet file was found at the location.")
    limit = current_app.config["HALYARD_DATASOURCE_EXTERNAL_MAX_FILES"]
    if len(found) > limit:
        raise LocationRefused(f"The location holds more than {limit} files.")
    return base, sorted(found)


@dataclass
class Described:
    dataset: object  # pyarrow.dataset.Dataset
    items: int | None  # None for a stored table (``stored``)
    files: int


def describe(url, location=None):
    """The data set at ``url`` (checked again now, unless ``location`` is given: ``stored(url)``) with its
    row count from the Parquet footers only (not counted for a ``stored`` table: its source knows it, and
    each footer is one more ranged read; ``items`` is then None).

    LocationRefused for a refused location or data that is not Parquet (the message is safe to show).
    """
    import pyarrow
    from pyarrow import dataset

    location = location or check_location(url)
    try:
        filesystem_ = filesystem(location)
        base, paths = files(location, filesystem_)
        options = {"partitioning": "hive", "partition_base_dir": base} if base else {}
        data = dataset.dataset(paths, filesystem=filesystem_, format="parquet", **options)
        items = None if location.own else sum(fragment.metadata.num_rows for fragment in data.get_fragments())
    except (OSError, pyarrow.ArrowException) as exc:
        raise LocationRefused("The data set could not be read as Parquet: " + _first_line(exc)) from None
    return Described(data, items, len(paths))


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


@contextlib.contextmanager
def register(con, url, name="lake", location=None):
    """Register the data set at ``url`` in the DuckDB connection ``con`` as the view ``name``; yields the
    Described data set. DuckDB scans it through pyarrow: only the columns and row groups a query needs.
    ``location``: as for ``describe``."""
    described = describe(url, location)
    con.register(name, described.dataset)
    try:
        yield described
    finally:
        con.unregister(name)


PART_BYTES = 32 * 1024 * 1024  # compressed bytes of the needed columns one scan reads (and holds) at most


def _parts(data, names):
    """The data set's files in order, each cut into runs of whole row groups whose needed columns hold at
    most PART_BYTES compressed (a larger row group alone). pyarrow pre-buffers every byte range a scan
    will read, coalesced into few requests (what object storage wants), and holds them until the scan
    ends: one scan of a whole file held all its needed columns (1.3 GB of RSS for a 840 MB file); a scan
    per run holds one run, and still reads each run in few requests."""
    wanted = set(names)
    for fragment in data.get_fragments():
        footer, run, size = fragment.metadata, [], 0
        for index in range(footer.num_row_groups):
            group = footer.row_group(index)
            needed = sum(
                group.column(c).total_compressed_size
                for c in range(group.num_columns)
                if group.column(c).path_in_schema in wanted
            )
            if run and size + needed > PART_BYTES:
                yield fragment.subset(row_group_ids=run)
                run, size = [], 0
            run.append(index)
            size += needed
        if run:
            yield fragment.subset(row_group_ids=run)


AHEAD_BATCHES = 8  # batches the reading thread may be ahead of DuckDB


def _ahead(batches, depth=AHEAD_BATCHES):
    """Iterate ``batches`` in a thread of its own, at most ``depth`` batches ahead of the consumer, in
    order: the next run of row groups is requested while DuckDB still works on the current one (one scan
    per run would otherwise wait for each run's first read). An error of the reading thread is raised
    to the consumer; a consumer that stops early stops the thread (after the batch it is reading)."""
    pipe, stop, end = queue.Queue(depth), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            try:
                pipe.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for batch in batches:
                if not put(batch):
                    return
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer, which raises it
            put(exc)
            return
        put(end)

    thread = threading.Thread(target=produce, name="lake-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = pipe.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def register_positions(con, url, name, columns, position, location=None):
    """Register the data set at ``url`` in ``con`` as the view ``name`` with each row's 0-based position in
    the data set as the column ``position`` (files in name order, rows in file order: the numbers the same
    rows would have stored as one table). The rows stream through pyarrow in order, only ``columns`` (all
    when None) read, a bounded run of row groups at a time (``_parts``), the positions counted batch by
    batch; DuckDB reads the stream once. Yields the
    Described data set. ``location``: as for ``describe``."""
    import pyarrow
    import pyarrow.compute

    described = describe(url, location)
    data = described.dataset
    names = list(data.schema.names if columns is None else columns)
    fields = [data.schema.field(n) for n in names] + [pyarrow.field(position, pyarrow.int64())]
    schema = pyarrow.schema(fields)
    counting = [pyarrow.array([], pyarrow.int64())]  # 0, 1, 2, … reused for every batch

    def scan():  # files in name order, each file's row groups in order
        for part in _parts(data, names):
            yield from part.to_batches(schema=data.schema, columns=names)

    def batches():
        offset = 0
        for batch in _ahead(scan()):
            size = batch.num_rows
            if size > len(counting[0]):
                counting[0] = pyarrow.array(range(size), pyarrow.int64())
            numbers = pyarrow.compute.add(counting[0].slice(0, size), offset)
            yield pyarrow.RecordBatch.from_arrays([*batch.columns, numbers], schema=schema)
            offset += size

    con.register(name, pyarrow.RecordBatchReader.from_batches(schema, batches()))
    try:
        yield described
    finally:
        con.unregister(name)
