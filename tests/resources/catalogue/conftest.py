"""Fixtures of the catalogue and downloader tests: items, bound data sources, API helpers."""

import itertools

import duckdb
import pytest
from catalogue_data import PRODUCT_SPEC, PRODUCTS_SQL

from app import storage
from app.extensions import db

_names = itertools.count()


@pytest.fixture
def make_item(app):
    """``make_item(**overrides)`` → a committed CatalogueItem."""
    from app.resources.catalogue.models import CatalogueItem

    def make(**overrides):
        sample = overrides.pop("sample", [])
        item = CatalogueItem(
            **{
                "name": f"item_{next(_names)}",
                "executor_type": "DATABRICKS",
                "spec": PRODUCT_SPEC,
                **overrides,
            }
        )
        item.set_sample(sample)
        db.session.add(item)
        db.session.commit()
        return item

    return make


@pytest.fixture
def make_source(app, make_account, tmp_path):
    """``make_source(rows=...)`` → a ready DataSource whose Parquet table DuckDB generated."""
    from app.resources.datasources.models import DataSource, Project

    def make(rows=20000, sql=PRODUCTS_SQL, status="ready"):
        path = str(tmp_path / f"t{next(_names)}.parquet")
        con = duckdb.connect()
        con.execute(f"COPY ({sql.format(rows=rows)}) TO '{path}' (FORMAT parquet)")
        columns = [
            {"name": n, "type": t}
            for n, t, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        ]
        con.close()
        with open(path, "rb") as fh:
            stored = storage.save(fh)
        owner = make_account(type="ADMIN")
        project = Project(title=f"p{next(_names)}", owner_id=owner.id)
        source = DataSource(
            project=project,
            name=f"s{next(_names)}",
            type="file",
            status=status,
            table_key=stored.key,
            columns=columns,
            items=rows,
            fields=len(columns),
        )
        db.session.add_all([project, source])
        db.session.commit()
        return source

    return make


@pytest.fixture
def bound_item(make_item, make_source):
    """``bound_item(rows=...)`` → a LOCAL item bound to a fresh products table, spec computed by hand."""

    def make(rows=20000, **overrides):
        source = make_source(rows=rows)
        spec = [
            {"name": "id", "type": "INTEGER", "is_nullable": False, "size": rows, "distribution": None},
            {
                "name": "category",
                "type": "STRING",
                "is_nullable": False,
                "size": rows,
                "is_enum": True,
                "distribution": [{"value": f"cat_{i}", "count": rows // 8} for i in range(8)],
            },
            {"name": "price", "type": "FLOAT", "is_nullable": False, "size": rows, "distribution": None},
            {
                "name": "available",
                "type": "BOOLEAN",
                "is_nullable": False,
                "size": rows,
                "distribution": None,
            },
            {"name": "created", "type": "DATETIME", "is_nullable": False, "size": rows, "distribution": None},
            {
                "name": "note",
                "type": "STRING",
                "is_nullable": True,
                "size": rows - rows // 10,
                "distribution": None,
            },
        ]
        return make_item(executor_type="LOCAL", datasource_id=source.id, spec=spec, **overrides)

    return make
