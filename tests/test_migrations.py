"""The migrations build exactly the schema the models describe (a missing migration fails here)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_migrated_schema_matches_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_every_branch_is_applied(app):
    from alembic.script import ScriptDirectory
    from flask_migrate import Config  # noqa: F401  (Flask-Migrate's alembic config)

    migrate = app.extensions["migrate"]
    config = migrate.migrate.get_config(migrate.directory)
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    # A branch whose revision another branch ``depends_on`` is applied without being a stored head
    # (Alembic keeps only the dependant in alembic_version), so compare with everything applied.
    applied = {rev.revision for rev in script.iterate_revisions(tuple(current), "base")}
    assert heads and current <= heads and heads <= applied
