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


def test_the_web_entry_point_loads_no_migration_tooling(app):
    """wsgi.py builds the app without Flask-Migrate: Alembic (and sqlglot, imported only by the data
    source query check) stay out of every web worker's memory."""
    import subprocess
    import sys

    from tests.conftest import ROOT, subprocess_env

    code = (
        "import sys, wsgi; loaded = [m for m in ('alembic', 'flask_migrate', 'sqlglot') if m in"
        " sys.modules]; "
        "print(loaded, 'migrate' in wsgi.app.extensions)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=subprocess_env(app),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[] False", out.stderr[-2000:]
