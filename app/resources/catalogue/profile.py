"""Compute an item's ``spec`` and ``sample`` from its bound data source's table (DuckDB).

Per column: the catalogue type from the DuckDB type, ``size`` = non-null values, ``is_nullable`` =
some value is null, and — for columns with at most ``HALYARD_CATALOGUE_DISTRIBUTION_MAX`` distinct
values — ``distribution`` (every value with its count, nulls left out) and ``is_enum`` true.
``sample`` is the first ``HALYARD_CATALOGUE_SAMPLE_ROWS`` rows of the table.
"""

from flask import current_app

from app.errors import ApiError
from app.resources.datasources.tables import TableError, connect, ident, relation, table_columns, to_json

SPEC_TYPES = {
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "INTEGER",
    "SMALLINT": "INTEGER",
    "INTEGER": "INTEGER",
    "BIGINT": "INTEGER",
    "HUGEINT": "INTEGER",
    "UTINYINT": "INTEGER",
    "USMALLINT": "INTEGER",
    "UINTEGER": "INTEGER",
    "UBIGINT": "INTEGER",
    "FLOAT": "FLOAT",
    "DOUBLE": "FLOAT",
    "REAL": "FLOAT",
    "DATE": "DATETIME",
    "TIMESTAMP": "DATETIME",
    "TIMESTAMP WITH TIME ZONE": "DATETIME",
    "TIMESTAMP_S": "DATETIME",
    "TIMESTAMP_MS": "DATETIME",
    "TIMESTAMP_NS": "DATETIME",
}


def spec_type(duckdb_type):
    """The catalogue column type of a DuckDB type (DECIMAL is FLOAT; anything unknown is STRING)."""
    if duckdb_type.upper().startswith("DECIMAL"):
        return "FLOAT"
    return SPEC_TYPES.get(duckdb_type.upper(), "STRING")


class CannotProfile(ApiError):
    code = 409
    event = "CATALOGUEITEM_HAS_NO_DATA"
    description = "The item's data cannot be read."


def _source(item):
    """The item's data source when its rows can be read, else CannotProfile (409) saying why."""
    source = item.datasource
    if source is None:
        raise CannotProfile(f"The catalogue item {item.name!r} is not bound to a data source.")
    if source.status != "ready":
        raise CannotProfile(f"The item's data source is not ready (its status is {source.status!r}).")
    return source


def inline(item):
    """Whether compute_spec may profile the item in the web request: a stored table of at most
    HALYARD_CATALOGUE_PROFILE_INLINE_ROWS rows (the row count is the source's, from its metadata). An
    external data set is always profiled by a job: the web process never reads the lake. An item that
    cannot be read at all is answered at once (profile_item raises 409)."""
    try:
        source = _source(item)
    except CannotProfile:
        return True
    limit = current_app.config["HALYARD_CATALOGUE_PROFILE_INLINE_ROWS"]
    return source.type != "external" and (source.items or 0) <= limit


def profile_item(item):
    """``(spec, sample)`` computed from the item's rows; 409 when the item has no readable rows."""
    source = _source(item)
    types = {c["name"]: c["type"] for c in table_columns(source)}
    con = connect(limits="HALYARD_DOWNLOADER_DUCKDB")  # a download job's limits, as estimates have
    try:
        with relation(con, source) as rows:
            return _profile(con, rows, types)
    except LookupError:
        raise CannotProfile("The item's data source has no table.") from None
    except FileNotFoundError:
        raise CannotProfile("The item's data source table is missing from storage.") from None
    except TableError as exc:
        raise CannotProfile(str(exc)) from None
    except _duckdb_error() as exc:
        raise CannotProfile("The item's data could not be read: " + str(exc).strip()[:300]) from None
    finally:
        con.close()


def _duckdb_error():
    import duckdb  # on use, as connect imports it

    return duckdb.Error


def _profile(con, source, types):
    """Spec and sample of the relation ``source`` (its columns ``types``) in ``con``."""
    limit = current_app.config["HALYARD_CATALOGUE_DISTRIBUTION_MAX"]
    names = list(types)
    aggregates = ", ".join(f"count({ident(n)}), approx_count_distinct({ident(n)})" for n in names)
    row = con.execute(f"SELECT count(*), {aggregates} FROM {source}").fetchone()
    total, spec = row[0], []
    for i, name in enumerate(names):
        non_null, distinct = row[1 + 2 * i], row[2 + 2 * i]
        column = {
            "name": name,
            "type": spec_type(types[name]),
            "is_nullable": non_null < total,
            "is_enum": False,
            "size": non_null,
            "distribution": None,
        }
        if distinct <= limit * 2:  # approx_count_distinct is an estimate: confirm exactly below
            counts = con.execute(
                f"SELECT {ident(name)} AS v, count(*) FROM {source} WHERE v IS NOT NULL "
                f"GROUP BY v ORDER BY v LIMIT {limit + 1}"
            ).fetchall()
            if len(counts) <= limit:
                column["distribution"] = [{"value": _value(column["type"], v), "count": c} for v, c in counts]
                column["is_enum"] = True
        spec.append(column)
    rows = con.execute(
        f"SELECT {', '.join(ident(n) for n in names)} FROM {source} "
        f"LIMIT {current_app.config['HALYARD_CATALOGUE_SAMPLE_ROWS']}"
    ).fetchall()
    sample = [
        {n: _value(c["type"], v) for n, c, v in zip(names, spec, values, strict=False)} for values in rows
    ]
    return spec, sample


def _value(kind, value):
    value = to_json(value)
    if kind == "INTEGER" and isinstance(value, float):
        return int(value)
    if kind == "STRING" and value is not None and not isinstance(value, str):
        return str(value)
    return value
