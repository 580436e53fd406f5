"""Ids are never reused: on every table with an integer surrogate key, deleting the newest row and
adding another never hands out a deleted id again (SQLite AUTOINCREMENT; PostgreSQL sequences).

The tables come from the models' metadata, so a new table is covered without editing this module.
Rows are made from the metadata too (``RowFactory``): every required column gets a value of its type,
every foreign key a parent row of its own.
"""

import importlib
import itertools
import pkgutil
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

import app.resources
from app.extensions import db


def load_models():
    for module in pkgutil.iter_modules(app.resources.__path__):
        if module.ispkg:
            try:
                importlib.import_module(f"app.resources.{module.name}.models")
            except ModuleNotFoundError as exc:
                if exc.name != f"app.resources.{module.name}.models":
                    raise
    return db.metadata


def surrogate_key_tables(metadata):
    """Tables whose primary key is one integer column the database numbers."""
    tables = []
    for table in metadata.sorted_tables:
        key = list(table.primary_key.columns)
        if len(key) == 1 and is_surrogate_key(key[0]):
            tables.append(table.name)
    return tables


def is_surrogate_key(column):
    return isinstance(column.type, sa.Integer) and column.autoincrement in (True, "auto")


TABLES = surrogate_key_tables(load_models())


class RowFactory:
    """Insert a row into any table of the metadata with Core: required columns get a fresh value of
    their type, foreign keys a new parent row; nullable and defaulted columns are left to the schema."""

    def __init__(self, session):
        self.session = session
        self.counter = itertools.count(1)

    def value(self, column):
        n = next(self.counter)
        kind = column.type
        if isinstance(kind, sa.Enum):
            return kind.enums[0]
        if isinstance(kind, sa.Uuid):
            return uuid.uuid4() if kind.as_uuid else uuid.uuid4().hex
        if isinstance(kind, sa.Boolean):
            return False
        if isinstance(kind, sa.Integer):
            return n
        if isinstance(kind, (sa.Float, sa.Numeric)):
            return float(n)
        if isinstance(kind, sa.DateTime):
            return datetime(2026, 1, 1, 0, 0, n % 60)
        if isinstance(kind, sa.JSON):
            return {}
        if isinstance(kind, sa.LargeBinary):
            return b"x"
        if isinstance(kind, sa.String):
            text = f"{column.name}-{n}-{uuid.uuid4().hex}"
            return text[: kind.length] if kind.length else text
        raise TypeError(f"no test value for {column.table.name}.{column.name} ({kind!r})")

    def insert(self, table):
        """Insert one row; return its primary key (a 1-tuple for a single-column key)."""
        values = {}
        for column in table.columns:
            if column.foreign_keys:
                if column.nullable and not column.primary_key:
                    continue
                target = next(iter(column.foreign_keys)).column
                parent = self.insert(target.table)
                values[column.name] = parent[list(target.table.primary_key.columns).index(target)]
            elif (
                column.nullable
                or column.default is not None
                or column.server_default is not None
                or column.primary_key
                and is_surrogate_key(column)
            ):
                continue
            else:
                values[column.name] = self.value(column)
        result = self.session.execute(table.insert().values(values))
        return tuple(result.inserted_primary_key)

    def delete(self, table, key):
        (column,) = table.primary_key.columns
        self.session.execute(table.delete().where(column == key))


@pytest.fixture
def rows(app):
    return RowFactory(db.session)


def test_the_tables_are_found(app):
    """The list is the metadata's, and holds the tables a client sees ids of (catalogue items first)."""
    assert {
        "catalogue_items",
        "download_requests",
        "accounts",
        "api_tokens",
        "groups",
        "objects",
        "actions",
        "projects",
        "datasources",
        "schedule_deliveries",
    } <= set(TABLES)


@pytest.mark.parametrize("name", TABLES)
def test_every_surrogate_key_table_is_declared_autoincrement(name):
    """Declared in the model (``IDS_NEVER_REUSED``), so the migrations and a rebuilt table keep it."""
    assert db.metadata.tables[name].dialect_options["sqlite"]["autoincrement"] is True, (
        f"{name}: add IDS_NEVER_REUSED to its model's __table_args__ (and a migration)"
    )


@pytest.mark.parametrize("name", TABLES)
def test_deleting_the_newest_row_never_frees_its_id(rows, name):
    table = db.metadata.tables[name]
    (first,), (second,) = rows.insert(table), rows.insert(table)
    rows.delete(table, second)
    db.session.commit()
    (third,) = rows.insert(table)
    assert third > max(first, second), f"{name}: id {third} handed out again after {second} was deleted"
    db.session.execute(table.delete())  # and with the table empty
    db.session.commit()
    (fourth,) = rows.insert(table)
    db.session.commit()
    assert fourth > third, f"{name}: an emptied table started again at {fourth}"


def test_the_migration_keeps_every_row_and_numbers_on(fresh_database, run_dir, redis_url):
    """ids_0001 (downgraded, then upgraded again) on a database holding rows in every table: nothing is
    lost (SQLite's DROP TABLE of a rebuilt parent would cascade into its children with foreign keys on),
    and ids go on from the largest kept one."""
    import flask_migrate

    from app import create_app

    url = fresh_database(str(run_dir), "ids_migration")
    other = create_app(
        {"TESTING": True, "DATABASE_URL": url, "REDIS_URL": redis_url, "SECRET_KEY": "test"},
        instance_path=str(run_dir / "instance"),
    )
    with other.app_context():
        try:
            flask_migrate.upgrade(revision="heads")
            flask_migrate.downgrade(revision="ids@-1")  # the schema as it was before: plain rowids
            factory = RowFactory(db.session)
            for table in db.metadata.sorted_tables:
                factory.insert(table)
            db.session.commit()
            before = counts()
            db.session.remove()
            flask_migrate.upgrade(revision="heads")
            assert counts() == before
            for name in TABLES:  # the rebuilt tables number on from the rows they kept, and never go back
                table = db.metadata.tables[name]
                kept = db.session.scalar(sa.select(sa.func.max(table.primary_key.columns[0])))
                (newest,) = factory.insert(table)
                factory.delete(table, newest)
                db.session.commit()
                assert factory.insert(table)[0] > newest > kept, name
            if db.engine.dialect.name == "sqlite":
                ddl = dict(db.session.execute(sa.text("SELECT name, sql FROM sqlite_master")).all())
                assert all("AUTOINCREMENT" in ddl[name] for name in TABLES)
                assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        finally:
            db.session.remove()
            db.engine.dispose()


def counts():
    tables = db.metadata.sorted_tables
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in tables}
