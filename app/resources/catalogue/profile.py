"""Compute an item's ``spec`` and ``sample`` from its bound data source's table (DuckDB).

Per column: the catalogue type from the DuckDB type, ``size`` = non-null values, ``is_nullable`` =
some value is null, and — for columns with at most ``HALYARD_CATALOGUE_DISTRIBUTION_MAX`` distinct
values — ``distribution`` (every value with its count, nulls left out) and ``is_enum`` true.
``sample`` is the first ``HALYARD_CATALOGUE_SAMPLE_ROWS`` rows of the table.
"""

from flask import current_app

from app.errors import ApiError
from app.extensions import db
from app.jobs import JobError, produced, report_progress
from app.resources.catalogue.models import CatalogueItem
from app.resources.downloader import local


class CannotProfile(ApiError):
    code = 409
    event = "CATALOGUEITEM_HAS_NO_DATA"
    description = "The item's data cannot be read."


def readable_rows(item):
    """The row count of the item's table (0 when it has none: profile_item then answers 409 at once)."""
    try:
        source, _, _ = local.table_of(item)
    except local.SourceUnavailable:
        return 0
    return source.items or 0


def compute_spec_job(item_id, account_id):
    """RQ job: profile a large table; the item gets its spec and sample (the job's result links it)."""
    item = db.session.get(CatalogueItem, item_id)
    if item is None:
        raise JobError("The catalogue item was deleted.")
    report_progress(0.1, "profiling the table")
    try:
        spec, sample = profile_item(item)
    except CannotProfile as exc:
        raise JobError(exc.description) from None
    item.spec = spec
    item.set_sample(sample)
    item.updated_by_id = account_id
    db.session.commit()
    produced(f"/catalogue/items/{item_id}")
    return {"columns": len(spec)}


def profile_item(item):
    """``(spec, sample)`` computed from the item's table; 409 when the item has no readable table."""
    try:
        source, types, _ = local.table_of(item)
        with local.table_file(source) as path:
            return _profile(path, types)
    except local.SourceUnavailable as exc:
        raise CannotProfile(str(exc)) from None


def _profile(path, types):
    limit = current_app.config["HALYARD_CATALOGUE_DISTRIBUTION_MAX"]
    con = local.connect()
    try:
        source = local.source_sql(path)
        names = list(types)
        aggregates = ", ".join(
            f"count({local.ident(n)}), approx_count_distinct({local.ident(n)})" for n in names
        )
        row = con.execute(f"SELECT count(*), {aggregates} FROM {source}").fetchone()
        total, spec = row[0], []
        for i, name in enumerate(names):
            non_null, distinct = row[1 + 2 * i], row[2 + 2 * i]
            column = {
                "name": name,
                "type": local.spec_type(types[name]),
                "is_nullable": non_null < total,
                "is_enum": False,
                "size": non_null,
                "distribution": None,
            }
            if distinct <= limit * 2:  # approx_count_distinct is an estimate: confirm exactly below
                counts = con.execute(
                    f"SELECT {local.ident(name)} AS v, count(*) FROM {source} WHERE v IS NOT NULL "
                    f"GROUP BY v ORDER BY v LIMIT {limit + 1}"
                ).fetchall()
                if len(counts) <= limit:
                    column["distribution"] = [
                        {"value": _value(column["type"], v), "count": c} for v, c in counts
                    ]
                    column["is_enum"] = True
            spec.append(column)
        rows = con.execute(
            f"SELECT {', '.join(local.ident(n) for n in names)} FROM {source} "
            f"LIMIT {current_app.config['HALYARD_CATALOGUE_SAMPLE_ROWS']}"
        ).fetchall()
    finally:
        con.close()
    sample = [
        {n: _value(c["type"], v) for n, c, v in zip(names, spec, values, strict=False)} for values in rows
    ]
    return spec, sample


def _value(kind, value):
    value = local.to_json(value)
    if kind == "INTEGER" and isinstance(value, float):
        return int(value)
    if kind == "STRING" and value is not None and not isinstance(value, str):
        return str(value)
    return value
