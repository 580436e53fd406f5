"""The LOCAL executor: a download request as one DuckDB query over the item's data-source rows.

``execute(request, out_path, run)`` follows the executor contract (app/resources/downloader/executors.py,
docs/executors.md): it estimates, then runs one DuckDB ``COPY``, publishing DuckDB's query progress
through ``run.progress`` and interrupting the query once ``run.cancelled()``.

The rows are read through the data sources' one reader only (``tables.relation``, here ``rows``): a
stored table, or an ``external`` data set streamed from where it lives (no local copy).
The query selects the requested columns, applies the filters as SQL literals built from
validated, typed values, and keeps a Bernoulli sample of ``randomize_ratio`` of the rows:

    md5(CAST(file_row_number AS VARCHAR) || ':' || seed) < threshold

The row's key is its position in the table (0-based: its row number in the stored Parquet file, or
its position across an external data set's files in name order, the same number); ``threshold`` is
``ratio × 2^128`` written as 32 lowercase hex digits, so comparing the md5's hex text with it is
comparing the 128-bit numbers. Each row is kept independently with probability ``ratio``, and the decision
depends only on (row, seed) — not on threads, scan order or vector boundaries, nor on the engine:
Spark computes the same text and the same md5 (``sample_column`` in app/resources/downloader/spark.py),
so LOCAL and SPARK keep exactly the same rows for one table and seed (tests/resources/catalogue/
test_downloader_spark.py proves it). DuckDB's own ``hash()`` (used before; samples changed once when
this replaced it) has no equal in Spark, and ``USING SAMPLE … REPEATABLE`` is only repeatable
single-threaded.
"""

import contextlib
from dataclasses import dataclass

from flask import current_app

from app import storage
from app.jobs import JobError
from app.jobs.progress import DuckDBWatcher, enable
from app.resources.catalogue.spec import normalise_value
from app.resources.datasources import tables
from app.resources.datasources.tables import ident, table_columns
from app.resources.datasources.tables import table_file as source_table
from app.resources.downloader.executors import Cancelled

TWO_128 = 2**128


class SourceUnavailable(Exception):
    """The item has no readable table; the message is safe to show."""


def table_of(item, external=False):
    """``(source, {column: duckdb type}, data version)`` of the item's rows, or SourceUnavailable.

    A stored table's version is its storage key. ``external``: the reader reads any ready source through
    ``rows`` (LOCAL does), so an ``external`` data set is accepted too (version None: its files change
    where they live); otherwise only a stored table is, read with ``table_file(source)``.
    """

    source = item.datasource
    if source is None:
        raise SourceUnavailable(f"The catalogue item {item.name!r} is not bound to a data source.")
    if source.status != "ready":
        raise SourceUnavailable(f"The item's data source is not ready (its status is {source.status!r}).")
    types = {c["name"]: c["type"] for c in table_columns(source)}
    if external and source.type == "external":
        return source, types, None
    if not source.table_key:
        raise SourceUnavailable("The item's data source has no table.")
    if not storage.exists(source.table_key):
        raise SourceUnavailable("The item's data source table is missing from storage.")
    return source, types, source.table_key


@contextlib.contextmanager
def rows(con, source, columns=None):
    """The rows of ``source`` (a stored table or an external data set) in ``con`` through the data sources'
    one reader (``tables.relation``), each with its position ``file_row_number`` (the sample's key); only
    ``columns`` are needed. JobError (its message shown) when they cannot be read now."""
    try:
        with tables.relation(con, source, positions=True, columns=columns) as relation:
            yield relation
    except LookupError:
        raise JobError("The item's data source has no table.") from None
    except FileNotFoundError:
        raise JobError("The item's data source table is missing from storage.") from None
    except tables.TableError as exc:
        raise JobError(str(exc)) from None


@contextlib.contextmanager
def table_file(source):
    """A local path of ``source``'s table for DuckDB (SourceUnavailable when storage lost it meanwhile)."""

    try:
        with source_table(source) as path:
            yield path
    except FileNotFoundError:
        raise SourceUnavailable("The item's data source table is missing from storage.") from None


def estimated_by_metadata(source):
    """Whether ``source``'s rows are estimated from its row count (the Parquet metadata) and the item's
    spec rather than counted: an ``external`` data set, a table in object storage (read where it lives,
    as a stream a download reads once), or a stored table of more than HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS
    rows. The one rule of ``POST …/estimate/`` and of a download job's ``estimated_size``: neither scans a
    large or remote table only to estimate it."""
    if source.type == "external" or storage.is_object_storage():
        return True
    return (
        source.items is not None and source.items > current_app.config["HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS"]
    )


def connect(workdir=None):
    """A DuckDB connection with the downloader's memory and thread limits, spilling to ``workdir``."""
    return tables.connect(workdir, limits="HALYARD_DOWNLOADER_DUCKDB")


def literal(kind, value):
    """A SQL literal of a validated filter value."""
    value = normalise_value(kind, value)
    if kind == "BOOLEAN":
        return "TRUE" if value else "FALSE"
    if kind == "INTEGER":
        return str(int(value))
    if kind == "FLOAT":
        return repr(float(value))
    if kind == "DATETIME":
        return "TIMESTAMP '" + value + "'"
    return "'" + str(value).replace("'", "''") + "'"


def where(item, spec):
    """The WHERE conditions of the request's filters (a list of SQL strings)."""
    types = {c["name"]: c["type"] for c in item.spec or []}
    out = []
    for flt in spec.get("filters") or []:
        column, operator, value = ident(flt["name"]), flt["operator"], flt["value"]
        if value is None:
            out.append(f"{column} IS {'NOT ' if operator == '!=' else ''}NULL")
        elif operator == "!=":
            # a missing value is "not equal" too (as in the collection grammar)
            out.append(f"({column} IS NULL OR {column} <> {literal(types[flt['name']], value)})")
        else:
            out.append(f"{column} {operator} {literal(types[flt['name']], value)}")
    return out


def sample_threshold(ratio):
    """The md5 hex text below which a row is kept at ``ratio`` (None when every row is kept): the
    32-hex-digit ``floor(ratio × 2^128)``; both engines compare the md5's hex text with it."""
    ratio = float(ratio)
    if ratio >= 1:
        return None
    return format(min(int(ratio * TWO_128), TWO_128 - 1), "032x")


def sample_key_suffix(seed):
    """The text after the row number in the hashed key: ``':' + seed``."""
    return f":{int(seed)}"


def sample_condition(ratio, seed):
    """The Bernoulli sample condition for ``ratio`` (None when every row is kept)."""
    threshold = sample_threshold(ratio)
    if threshold is None:
        return None
    return f"md5(CAST(file_row_number AS VARCHAR) || '{sample_key_suffix(seed)}') < '{threshold}'"


def query(item, spec, seed, rows):
    """The SELECT of a download request from the relation ``rows`` (it carries ``file_row_number``)."""
    conditions = where(item, spec)
    sample = sample_condition(spec.get("randomize_ratio", 1), seed)
    if sample:
        conditions.append(sample)
    sql = f"SELECT {', '.join(ident(c) for c in spec['columns'])} FROM {rows}"
    return sql + (" WHERE " + " AND ".join(conditions) if conditions else "")


def check_columns(spec, table_types):
    missing = [
        c for c in spec["columns"] + [f["name"] for f in spec.get("filters") or []] if c not in table_types
    ]
    if missing:
        raise SourceUnavailable(
            f"The data source's table has no column {missing[0]!r}; recompute the item's spec."
        )


COPY_OPTIONS = {"parquet": "FORMAT parquet, COMPRESSION zstd", "csv": "FORMAT csv, HEADER true"}


def export(con, item, spec, seed, rows, fmt, out_path):
    """Write the request's rows to ``out_path`` (CSV with header, or Parquet); return the row count."""
    options = COPY_OPTIONS[fmt]
    target = out_path.replace("'", "''")
    result = con.execute(f"COPY ({query(item, spec, seed, rows)}) TO '{target}' ({options})").fetchone()
    return int(result[0]) if result else None


def needed(spec):
    """The columns a request reads: its columns, then its filters' (each once)."""
    return list(dict.fromkeys(spec["columns"] + [f["name"] for f in spec.get("filters") or []]))


def execute(request, out_path, run):
    """The LOCAL executor (the contract of app/resources/downloader/executors.py): estimate, then one
    DuckDB COPY of the request's rows to ``out_path``; the row count. The rows come through
    ``run.relation`` (a stored table, or an external data set streamed from where it lives: no copy)."""
    import duckdb  # imported on use: web workers never need it

    item = _Item(request["types"])
    spec, fmt = request["spec"], request["format"]
    con = connect(run.workdir)
    try:
        with run.relation(con, needed(spec)) as rows:
            run.progress(0.0, "estimating")
            if run.estimated_size is None and not rows.once:  # else the job estimated it from metadata
                run.estimated_size = estimate_from_data(con, item, spec, rows, fmt).size
            if run.cancelled():
                raise Cancelled()
            run.progress(0.1, "extracting")
            with Watcher(con, run, 0.1) as watcher:
                try:
                    count = export(con, item, spec, request["seed"], rows, fmt, out_path)
                except duckdb.InterruptException:
                    raise Cancelled() from None
                except duckdb.Error as exc:
                    raise JobError(f"DuckDB could not run the download: {type(exc).__name__}.") from None
            if watcher.cancelled:
                raise Cancelled()
            return count
    finally:
        con.close()


class _Item:
    """What ``where`` needs of a catalogue item: its spec's column types."""

    def __init__(self, types):
        self.spec = [{"name": name, "type": kind} for name, kind in types.items()]


class Watcher(DuckDBWatcher):
    """While DuckDB runs a query: publish its progress through ``run.progress`` (mapped onto
    ``low``..1 of the executor's share), and interrupt it once ``run.cancelled()``."""

    def __init__(self, con, run, low):
        enable(con)
        super().__init__(con, lambda fraction: run.progress(low + (1 - low) * fraction), on_tick=self.check)
        self.run_, self.cancelled = run, False

    def check(self):
        if self.cancelled or self.run_.cancelled():
            # Keep interrupting until the query ends: an interrupt that lands before DuckDB has
            # started the statement is lost.
            self.cancelled = True
            self.con.interrupt()
            return True
        return False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


@dataclass
class Estimate:
    size: int | None
    rows: float | None
    basis: str


def estimate_from_data(con, item, spec, rows, fmt):
    """Bytes of the file: the filtered row count × ratio × the average width of the selected columns
    (one scan of the table: in the worker, or in the request for a table of at most
    HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS rows). CSV: header + rows × (Σ average text width of the
    columns + one separator or newline per column). Parquet: the selected columns' compressed bytes in
    the source, scaled by the share of rows kept.
    """
    columns = spec["columns"]
    footers = rows.footers()  # the Parquet metadata of the table's files (tables.relation)
    total = sum(footer.num_rows for footer in footers)
    conditions = where(item, spec)
    widths = " + ".join(f"coalesce(length(CAST({ident(c)} AS VARCHAR)), 0)" for c in columns)
    sql = f"SELECT count(*), avg({widths}) FROM {rows}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    count, width = con.execute(sql).fetchone()
    rows = count * float(spec.get("randomize_ratio", 1))
    basis = "data"
    if fmt == "parquet":
        wanted = set(columns)
        compressed = sum(
            group.column(i).total_compressed_size
            for footer in footers
            for group in (footer.row_group(g) for g in range(footer.num_row_groups))
            for i in range(group.num_columns)
            if group.column(i).path_in_schema in wanted
        )
        share = rows / total if total else 0
        return Estimate(int(round((compressed or 0) * share)) + 512, rows, basis)
    header = sum(len(c) for c in columns) + len(columns)
    return Estimate(int(round(header + rows * ((width or 0) + len(columns)))), rows, basis)


# Defaults where the spec is silent: average text width per type, and the selectivity of a
# filter on a column without a distribution (System R's classic guesses).
DEFAULT_WIDTH = {"INTEGER": 6, "FLOAT": 8, "BOOLEAN": 5, "DATETIME": 19, "STRING": 12}
DEFAULT_SELECTIVITY = {"=": 0.1, "!=": 0.9, ">": 1 / 3, ">=": 1 / 3, "<": 1 / 3, "<=": 1 / 3}
COMPARE = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def estimate_from_spec(item, spec, total=None):
    """Bytes from the spec alone: rows = ``total`` (the table's row count from its metadata, basis
    ``metadata``), else the largest column ``size`` (else the distribution counts), times each filter's
    selectivity (from the column's distribution, else the defaults above), times ``randomize_ratio``,
    times the average CSV row width (distribution-weighted value widths, else per-type defaults).
    Unknown when no row count is known."""
    columns = {c["name"]: c for c in item.spec or []}
    sizes = [c.get("size") for c in columns.values() if c.get("size") is not None]
    sizes += [sum(d["count"] for d in c["distribution"]) for c in columns.values() if c.get("distribution")]
    if total is None and not sizes:
        return Estimate(None, None, "unknown")
    rows, basis = (float(max(sizes)), "spec") if total is None else (float(total), "metadata")
    for flt in spec.get("filters") or []:
        rows *= _selectivity(columns[flt["name"]], flt)
    rows *= float(spec.get("randomize_ratio", 1))
    width = 0.0
    for name in spec["columns"]:
        column = columns[name]
        dist = column.get("distribution") or []
        counted = sum(d["count"] for d in dist)
        if counted:
            width += sum(len(_text(d["value"])) * d["count"] for d in dist) / counted
        else:
            width += DEFAULT_WIDTH[column["type"]]
    header = sum(len(c) for c in spec["columns"]) + len(spec["columns"])
    return Estimate(int(round(header + rows * (width + len(spec["columns"])))), rows, basis)


def _selectivity(column, flt):
    dist = column.get("distribution") or []
    total = sum(d["count"] for d in dist)
    if not total or flt["value"] is None:
        return DEFAULT_SELECTIVITY[flt["operator"]]
    kind, test = column["type"], COMPARE[flt["operator"]]
    target = normalise_value(kind, flt["value"])
    try:
        kept = sum(d["count"] for d in dist if test(normalise_value(kind, d["value"]), target))
    except TypeError:
        return DEFAULT_SELECTIVITY[flt["operator"]]
    return kept / total
