"""Tables: a CSV (upload, API response, query result or step output) becomes a Parquet table.

Every data source that is ``ready`` has one Parquet file in storage (``table_key``) — except an
``external`` one, whose rows stay where they live (lake.py) —, its column list with DuckDB types
(``columns``) and a JSON preview (``preview_key``). The rest of the server reads a source's rows only
through ``relation(con, source)`` (any source), ``table_file(source)`` (a stored table) and
``table_columns(source)`` (docs/datasources.md, "Reading a source's table").

CSV handling streams: the encoding is detected on a sample (BOM, UTF-8, else
charset-normalizer) and non-UTF-8 input is transcoded chunk by chunk; the delimiter and
quote character come from ``csv.Sniffer`` on the sample; DuckDB reads the file with a
memory limit, writes Parquet and keeps the rows it rejects (with their line numbers).
"""

import codecs
import contextlib
import csv
import datetime
import decimal
import io
import json
import math
import os
import re
from contextlib import nullcontext
from dataclasses import dataclass, field

from flask import current_app

from app import storage
from app.jobs.progress import duckdb_progress
from app.resources.datasources import lake

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
MAX_REPORTED_ROWS = 100
WESTERN = ("cp1252", "latin_1", "iso8859_15")
_NUMBER = re.compile(r"^\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?\s*$")


class TableError(Exception):
    """The input cannot become a table; the message is safe to show to clients."""


@dataclass
class Table:
    """A materialised table: stored Parquet + preview, and its shape."""

    table_key: str
    preview_key: str
    items: int
    fields: int
    columns: list
    problems: dict = field(default_factory=dict)

    def keys(self):
        return [self.table_key, self.preview_key]


def table_file(source):
    """Context manager: a local path of ``source``'s Parquet table (a DataSource or StepRun that is ready).

    Read it with DuckDB (``read_parquet(path)``) or any Parquet reader inside the ``with``; never write
    to it. LookupError when the source has no table, FileNotFoundError when storage lost it.
    """
    if not getattr(source, "table_key", None):
        raise LookupError("this source has no table (it is not ready)")
    return storage.local_copy(source.table_key)


class Rows(str):
    """What ``relation`` yields: a SQL table expression; ``path``: the local Parquet file of a stored
    table on local storage (None otherwise); ``footers``: the Parquet metadata of each of its files
    (``pyarrow.parquet.FileMetaData``: row counts, column chunk sizes), read on first use."""

    path = None
    once = False  # a stream DuckDB can read only once (``positions`` on a table read where it lives)
    dataset = None  # the pyarrow dataset of a table read where it lives

    def footers(self):
        import pyarrow.parquet

        if self.dataset is not None:
            return [fragment.metadata for fragment in self.dataset.get_fragments()]
        return [pyarrow.parquet.read_metadata(self.path)]


POSITION = "file_row_number"  # the row's position, carried by ``relation(..., positions=True)``


@contextlib.contextmanager
def relation(con, source, *, positions=False, columns=None):
    """The rows of any ready source (or step run) as a DuckDB relation in ``con`` (a :class:`Rows`): its
    stored Parquet table, or an ``external`` data set read where it lives (app/resources/datasources/
    lake.py). LookupError when it has none, FileNotFoundError when storage lost it, TableError when the
    external location is refused or unreadable now.

    A stored table is read from the local store's file, or where it lives in object storage (through
    lake.py's pyarrow reader, like an external data set: no copy on the worker's disk).

    ``positions``: the relation also carries ``file_row_number`` (BIGINT), the row's 0-based position in
    the source — in a stored table its row number in the Parquet file; in an external data set its
    position across the data set's files in name order, counted as they are read, which is the number the
    same rows stored as one table would have (the key of the download sample, docs/executors.md). Such an
    external relation is a stream DuckDB reads once; ``columns`` (the ones the reader needs) then limits
    what is read from the files."""
    if getattr(source, "type", None) == "external":
        url, location = source.url, None
    elif storage.is_object_storage():  # a stored table in object storage: read where it lives, no copy
        if not getattr(source, "table_key", None):
            raise LookupError("this source has no table (it is not ready)")
        if not storage.exists(source.table_key):
            raise FileNotFoundError(source.table_key)
        url = storage.url(source.table_key)
        location = lake.stored(url)
    else:
        url = None
    if url is not None:
        try:
            if positions:
                registered = lake.register_positions(con, url, "lake", columns, POSITION, location)
            else:
                registered = lake.register(con, url, "lake", location)
            with registered as described:
                rows = Rows("lake")
                rows.once, rows.dataset = positions, described.dataset
                yield rows
        except lake.LocationRefused as error:
            raise TableError(str(error)) from None
        return
    with table_file(source) as path:
        rows = Rows(parquet_rows(path, positions))
        rows.path = path
        yield rows


def parquet_rows(path, positions=False):
    """The relation of a local Parquet file (with ``file_row_number`` when ``positions``)."""
    return f"read_parquet({_literal(path)}{', file_row_number = true' if positions else ''})"


def table_columns(source):
    """``[{"name": ..., "type": <DuckDB type>}]`` of ``source``'s table, in table order."""
    return [{"name": c["name"], "type": c["type"]} for c in (source.columns or [])]


def connect(workdir=None, *, limits="HALYARD_DATASOURCE_DUCKDB"):
    """A DuckDB connection within the memory and thread limits ``<limits>_MEMORY`` / ``<limits>_THREADS``
    (the data sources' by default; the downloader and the catalogue's profiler pass
    ``"HALYARD_DOWNLOADER_DUCKDB"``), spilling to ``workdir`` when one is given."""
    import duckdb  # imported on use: web workers never need it

    config = current_app.config
    settings = {"memory_limit": config[f"{limits}_MEMORY"], "threads": config[f"{limits}_THREADS"]}
    if workdir:
        settings["temp_directory"] = os.path.join(workdir, "spill")
    return duckdb.connect(config=settings)


def ident(name):
    """A DuckDB identifier (double-quoted, quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def to_json(value):
    """A DuckDB value as JSON (datetimes ISO-8601, decimals as floats, non-finite floats as null)."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.loads(json.dumps(value, default=str))


def _literal(text):
    return "'" + str(text).replace("'", "''") + "'"


def detect_encoding(sample):
    """The encoding of a byte sample: BOMs, then strict UTF-8, then charset-normalizer's best guess."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and len(sample) >= SAMPLE_BYTES:
            return "utf-8"  # a multi-byte character cut by the sample's end
    from charset_normalizer import from_bytes

    results = from_bytes(sample)
    candidates = [match.encoding for match in results]
    # Short samples are ambiguous between single-byte code pages; Western ones are the likely case.
    for preferred in WESTERN:
        if preferred in candidates:
            return preferred
    best = results.best()
    if best is None:
        raise TableError("The file's text encoding could not be detected.")
    return best.encoding


def _transcode(path, encoding, workdir):
    """A UTF-8 copy of ``path`` (streamed), or ``path`` itself when it already is plain UTF-8."""
    if encoding == "utf-8":
        return path
    out = os.path.join(workdir, "utf8.csv")
    try:
        with (
            open(path, encoding=encoding, newline="") as src,
            open(out, "w", encoding="utf-8", newline="") as dst,
        ):
            while chunk := src.read(1024 * 1024):
                dst.write(chunk)
    except (UnicodeDecodeError, LookupError):
        raise TableError(f"The file is not valid {encoding} text.") from None
    return out


def sniff(text):
    """``(delimiter, quotechar)`` of a CSV sample; ``,`` and ``"`` when the sniffer cannot tell."""
    lines = text[: text.rfind("\n")] if text.count("\n") > 1 else text
    try:
        dialect = csv.Sniffer().sniff(lines, delimiters=DELIMITERS)
        return dialect.delimiter, dialect.quotechar or '"'
    except csv.Error:
        return ",", '"'


def check_header(text, delimiter, quotechar):
    """Raise TableError unless the first row is a usable header; return the column names."""
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar))
    except StopIteration:
        raise TableError("The file is empty.") from None
    if not any(name.strip() for name in header):
        raise TableError("The file is empty.")
    blank = [i + 1 for i, name in enumerate(header) if not name.strip()]
    if blank:
        raise TableError(f"A header row is required: column {blank[0]} has no name.")
    if all(_NUMBER.match(name) for name in header):
        raise TableError("A header row is required: the first row looks like data (all numbers).")
    return header


def materialise_csv(path, *, known_dialect=False, progress=None):
    """Turn the CSV at ``path`` into a stored Parquet table and preview; return a Table.

    ``progress``: ``(low, high, message)``: the running job's progress follows DuckDB's while it reads
    (app/jobs/progress.py; nothing outside a job).

    ``known_dialect``: the file was written by the server (UTF-8, ``,``, ``"``), so nothing is sniffed.
    """
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if not sample.strip():
        raise TableError("The file is empty.")
    encoding = "utf-8" if known_dialect else detect_encoding(sample)
    text = sample.decode(encoding, errors="ignore").lstrip("\ufeff")
    delimiter, quotechar = (",", '"') if known_dialect else sniff(text)
    check_header(text, delimiter, quotechar)
    with storage.scratch(".table-") as workdir:
        utf8 = _transcode(path, encoding, workdir)
        con = connect(workdir)
        try:
            with duckdb_progress(con, *progress) if progress else nullcontext():
                return _to_parquet(con, utf8, delimiter, quotechar, workdir, encoding)
        except _duckdb_error() as exc:
            raise TableError("The file could not be read as CSV: " + _first_line(exc)) from None
        finally:
            con.close()


def _first_line(exc):
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _to_parquet(con, csv_path, delimiter, quotechar, workdir, encoding):
    out = os.path.join(workdir, "table.parquet")
    source = (
        f"read_csv({_literal(csv_path)}, delim={_literal(delimiter)}, quote={_literal(quotechar)}, "
        f"escape={_literal(quotechar)}, header=true, store_rejects=true, sample_size=-1)"
    )
    con.execute(f"COPY (SELECT * FROM {source}) TO {_literal(out)} (FORMAT parquet)")
    rejected = con.execute("SELECT count(*) FROM reject_errors").fetchone()[0]
    rows = con.execute(
        f"SELECT line, error_type, error_message FROM reject_errors ORDER BY line LIMIT {MAX_REPORTED_ROWS}"
    ).fetchall()
    problems = {
        "encoding": encoding.replace("-sig", ""),
        "delimiter": delimiter,
        "malformed_rows": rejected,
        "malformed": [{"line": line, "error": f"{kind.lower()}: {message}"} for line, kind, message in rows],
    }
    return finish(con, out, problems)


def finish(con, parquet, problems=None):
    """Store ``parquet`` and its preview; return the Table."""
    rows = f"read_parquet({_literal(parquet)})"
    columns = describe(con, rows)
    items = con.execute(f"SELECT count(*) FROM {rows}").fetchone()[0]
    preview = build_preview(con, rows, columns, items)
    with open(parquet, "rb") as fh:
        table = storage.save(fh)
    try:
        preview_file = _store_preview(preview)
    except BaseException:
        storage.delete(table.key)
        raise
    return Table(table.key, preview_file.key, items, len(columns), columns, problems or {})


def describe(con, rows):
    """``[{"name", "type"}]`` of a relation, from its schema (DuckDB reads no row for it)."""
    described = con.execute(f"DESCRIBE SELECT * FROM {rows}").fetchall()
    return [{"name": name, "type": kind} for name, kind, *_ in described]


def _store_preview(preview):
    return storage.save(io.BytesIO(json.dumps(preview, default=str).encode()))


def materialise_external(url, *, progress=None):
    """The Table of an ``external`` source: schema and row count from the Parquet footers, the preview
    computed from the data where it lives; nothing is copied (``table_key`` is None)."""

    with storage.scratch(".table-") as workdir:
        con = connect(workdir)
        try:
            with lake.register(con, url, "lake") as found:
                columns = describe(con, "lake")
                with duckdb_progress(con, *progress) if progress else nullcontext():
                    preview = build_preview(con, "lake", columns, found.items)
        except lake.LocationRefused as error:
            raise TableError(str(error)) from None
        except _duckdb_error() as exc:
            raise TableError("The data set could not be read: " + _first_line(exc)) from None
        finally:
            con.close()
    preview_file = _store_preview(preview)
    return Table(None, preview_file.key, found.items, len(columns), columns, {"files": found.files})


def build_preview(con, relation, columns, items):
    """Column names and types, per-column null/min/max/distinct counts and the first rows."""
    limit = current_app.config["HALYARD_DATASOURCE_PREVIEW_ROWS"]
    exact = items <= current_app.config["HALYARD_DATASOURCE_EXACT_DISTINCT_ROWS"]
    stats = []
    if columns:
        parts = []
        for col in columns:
            q = ident(col["name"])
            distinct = f"count(DISTINCT {q})" if exact else f"approx_count_distinct({q})"
            parts += [f"count(*) - count({q})", f"min({q})::VARCHAR", f"max({q})::VARCHAR", distinct]
        values = con.execute(f"SELECT {', '.join(parts)} FROM {relation}").fetchone()
        for i, col in enumerate(columns):
            nulls, low, high, distinct = values[4 * i : 4 * i + 4]
            stats.append({**col, "nulls": nulls, "min": low, "max": high, "distinct": distinct})
    cursor = con.execute(f"SELECT * FROM {relation} LIMIT {int(limit)}")
    rows = [dict(zip([c["name"] for c in columns], row, strict=False)) for row in cursor.fetchall()]
    return {
        "items": items,
        "fields": len(columns),
        "distinct": "exact" if exact else "approximate",
        "columns": stats,
        "rows": rows,
    }


def export_csv(source, destination):
    """Write a ready source's/run's rows to ``destination`` as UTF-8 CSV with header."""
    with storage.scratch(".export-") as workdir:
        con = connect(workdir)
        try:
            with relation(con, source) as rows:
                options = "FORMAT csv, HEADER true, DELIMITER ','"
                con.execute(f"COPY (SELECT * FROM {rows}) TO {_literal(destination)} ({options})")
        finally:
            con.close()


def rows_to_csv(header, rows, destination):
    """Write Python rows (from a query or a JSON array) as a CSV file; values None become empty."""
    with open(destination, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])


def discard(keys):
    """Delete stored files (after the database no longer points at them)."""
    for key in keys:
        if key:
            storage.delete(key)


def _duckdb_error():
    """duckdb.Error, imported on use like connect() does."""
    import duckdb

    return duckdb.Error
