"""ids: integer primary keys are never reused (SQLite AUTOINCREMENT on every surrogate-key table)

SQLite's plain rowid hands out max(id) + 1, so deleting the newest row gave its id to the next one.
AUTOINCREMENT (a table option, so the table is rebuilt: Alembic batch mode, recreate="always")
keeps the largest id ever given in sqlite_sequence. The copy carries the rows over, so the
sequence starts at the largest id present; an id deleted before this upgrade and larger than every
remaining one can still come back once. PostgreSQL: nothing to do (a sequence never goes back).

A foundation-level revision on its own branch (``ids``), after the revisions that created the tables
of every domain; see docs/development.md "Migrations".

Revision ID: ids_0001
Revises: 0001
Create Date: 2026-12-01 00:00:00

"""

import contextlib

from alembic import op

revision = "ids_0001"
down_revision = "0001"
branch_labels = ("ids",)
# The revisions that created the tables below (catalogue_0001 itself depends on datasources_0001).
depends_on = ("accounts_0001", "catalogue_0001", "objects_0001", "scheduler_0001")

# Every table with an integer surrogate key as of this revision (later tables are created with it).
TABLES = (
    "accounts",
    "groups",
    "api_tokens",
    "auth_requests",  # foundation, accounts
    "catalogue_items",
    "download_requests",  # catalogue, downloader
    "projects",
    "datasources",
    "datasource_scripts",
    "datasource_jobs",  # datasources
    "actions",
    "objects",  # objects
    "schedule_deliveries",  # scheduler
)


@contextlib.contextmanager
def foreign_keys_off(bind):
    """Rebuilding a table drops the old one, and with foreign keys on, SQLite's DROP TABLE deletes its
    rows first, cascading into every child table. The pragma only changes outside a transaction, so the
    revisions run before this one in the same upgrade are committed first."""
    raw = bind.connection.driver_connection
    raw.commit()
    raw.execute("PRAGMA foreign_keys=OFF")
    if raw.execute("PRAGMA foreign_keys").fetchone()[0] != 0:
        raise RuntimeError("could not switch SQLite foreign keys off for the table rebuild")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the rebuild broke foreign keys: {broken[:5]}")
    except BaseException:
        raw.rollback()
        raise
    else:
        raw.commit()
    finally:  # outside a transaction again, so this takes effect before the connection is reused
        raw.execute("PRAGMA foreign_keys=ON")


def rebuild(autoincrement):
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    with foreign_keys_off(bind):
        for name in TABLES:
            with op.batch_alter_table(
                name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
            ):
                pass


def upgrade():
    rebuild(True)


def downgrade():
    rebuild(False)
