"""The operator's commands on the ``halyard`` entry point (docs/operations.md "The operator's CLI").

``halyard users create|set-password|deactivate``, ``halyard jobs list|show|requeue|cancel``,
``halyard downloads sweep``, ``halyard secrets rotate``, ``halyard backup`` / ``halyard restore`` and
``halyard db upgrade`` (every branch head by default: ``upgrade_heads``). Every command runs in an app
context, so it reads the same settings as the server (instance/config.py, the environment).
"""

import datetime
import json
import os
import shutil
import sqlite3
import subprocess

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import AppJob, get_redis, reconcile
from app.jobs.models import JobRecord
from app.keyring import InvalidToken, rotate_all
from app.resources.accounts.models import SCOPES, Account
from app.resources.datasources import connectors
from app.resources.datasources.models import DataSource
from app.resources.downloader.execution import stop_download_job
from app.resources.downloader.jobs import sweep_downloads
from app.resources.downloader.models import DownloadRequest
from app.resources.scheduler import models as scheduler

PASSWORD_ENV = "HALYARD_USER_PASSWORD"


def _account(login):
    account = Account.find_login(login)
    if account is None:
        raise click.ClickException(f"No account has the email or username {login!r}.")
    return account


def _password_option(help_text):
    return click.option(
        "--password",
        envvar=PASSWORD_ENV,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help=f"{help_text} Read from ${PASSWORD_ENV} when set; prompted otherwise.",
    )


def _check_password(password):
    if len(password) < 8:
        raise click.UsageError("The password needs at least 8 characters.")


def create_account(email, username, account_type, password, *, with_token=False, scopes=None):
    """Create an active account (and a token when asked); print its id, and the token once."""
    _check_password(password)
    if Account.find_login(email) or (username and Account.find_login(username)):
        raise click.ClickException(f"An account with the email or username of {email} exists already.")
    account = Account(email=email, username=username, type=account_type, active=True)
    account.set_password(password)
    db.session.add(account)
    secret = None
    if with_token:
        _, secret = account.issue_token(name="cli", scopes=scopes or SCOPES)
    db.session.commit()
    click.echo(f"Created {account_type} account {account.id} <{account.email}>.")
    if secret:
        click.echo(f"token: {secret}")
    return account


def _scopes(ctx, param, value):
    if value is None:
        return None
    chosen = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCOPES))
    if unknown or not chosen:
        raise click.BadParameter(f"choose from {', '.join(SCOPES)} (comma-separated)")
    return chosen


@click.group("users")
def users():
    """Create accounts, set passwords, deactivate accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--username", default=None, help="Optional username (Basic auth accepts email or username).")
@click.option("--type", "account_type", type=click.Choice(("RESEARCHER", "ADMIN")), default="RESEARCHER")
@_password_option("The account's password.")
@click.option("--token", "with_token", is_flag=True, help="Also create an API token and print it once.")
@click.option("--scopes", callback=_scopes, help="The token's scopes, comma-separated (default: all).")
@with_appcontext
def users_create(email, username, account_type, password, with_token, scopes):
    """Create an account (RESEARCHER unless --type ADMIN)."""
    create_account(email, username, account_type, password, with_token=with_token, scopes=scopes)


@users.command("set-password")
@click.argument("login")
@_password_option("The new password.")
@with_appcontext
def users_set_password(login, password):
    """Set an account's password; its cached sign-ins end at once (its tokens keep working)."""
    _check_password(password)
    account = _account(login)
    account.set_password(password)
    db.session.commit()
    click.echo(f"Password of account {account.id} <{account.email}> set.")


@users.command("deactivate")
@click.argument("login")
@with_appcontext
def users_deactivate(login):
    """Deactivate an account: its tokens and sign-ins stop working at once. The last active ADMIN stays."""
    account = _account(login)
    if account.type == "ADMIN" and account.active:
        others = db.session.scalar(
            select(func.count()).where(
                Account.type == "ADMIN", Account.active.is_(True), Account.id != account.id
            )
        )
        if not others:
            raise click.ClickException("This is the last active ADMIN account; it stays active.")
    account.deactivate()
    db.session.commit()
    click.echo(f"Account {account.id} <{account.email}> deactivated.")


@click.group("jobs")
def jobs():
    """List, show, requeue and cancel jobs (the rows of /jobs/ and their RQ jobs)."""


def _job(job_id):
    record = db.session.get(JobRecord, job_id)
    if record is None:
        raise click.ClickException(f"No job {job_id}.")
    return record


def _rq_job(job_id):
    from rq.exceptions import NoSuchJobError

    try:
        return AppJob.fetch(job_id, connection=get_redis())
    except NoSuchJobError:
        return None


def _rq_status(job):
    status = job.get_status()
    return str(getattr(status, "value", status))


def _iso(value):
    return value.isoformat() + "Z" if value else None


@jobs.command("list")
@click.option(
    "--status", type=click.Choice(("queued", "started", "finished", "failed", "canceled", "scheduled"))
)
@click.option("--kind", default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@with_appcontext
def jobs_list(status, kind, limit):
    """The newest jobs: id, status, kind, created, error (tab-separated)."""
    stmt = select(JobRecord).order_by(JobRecord.created.desc(), JobRecord.id).limit(limit)
    if status:
        stmt = stmt.where(JobRecord.status == status)
    if kind:
        stmt = stmt.where(JobRecord.kind == kind)
    for record in db.session.scalars(stmt):
        click.echo(
            "\t".join([record.id, record.status, record.kind, _iso(record.created), record.error or ""])
        )


@jobs.command("show")
@click.argument("job_id")
@with_appcontext
def jobs_show(job_id):
    """One job as JSON: its row and what RQ knows (status, progress, worker)."""
    record = _job(job_id)
    job = _rq_job(job_id)
    rq = None
    if job is not None:
        rq = {
            "status": _rq_status(job),
            "progress": job.meta.get("progress"),
            "message": job.meta.get("message"),
            "enqueued": _iso(job.enqueued_at),
            "worker": job.worker_name,
        }
    shown = {
        "id": record.id,
        "kind": record.kind,
        "status": record.status,
        "owner_id": record.owner_id,
        "subject": record.subject,
        "result": record.result,
        "queue": record.queue,
        "error": record.error,
        "created": _iso(record.created),
        "started": _iso(record.started),
        "ended": _iso(record.ended),
        "rq": rq,
    }
    click.echo(json.dumps(shown, indent=2))


@jobs.command("requeue")
@click.argument("job_id")
@with_appcontext
def jobs_requeue(job_id):
    """Run a failed or cancelled job again (its RQ job must still be kept: HALYARD_JOB_RESULT_TTL_SECONDS)."""
    record = _job(job_id)
    job = _rq_job(job_id)
    if record.status not in ("failed", "canceled"):
        raise click.ClickException(
            f"Job {job_id} is {record.status}; only failed or canceled jobs are requeued."
        )
    if job is None:
        raise click.ClickException(f"Job {job_id} is no longer kept in Redis; it cannot be requeued.")
    db.session.execute(
        JobRecord.__table__.update()
        .where(JobRecord.id == job_id)
        .values(status="queued", error=None, started=None, ended=None)
    )
    db.session.commit()
    if _rq_status(job) == "failed":
        job.requeue()
    else:  # canceled or stopped: out of its registry, back onto its queue
        from rq import Queue
        from rq.registry import CanceledJobRegistry

        queue = Queue(job.origin, connection=job.connection, job_class=type(job))
        CanceledJobRegistry(queue=queue).remove(job)
        queue.enqueue_job(job)
    click.echo(f"Job {job_id} requeued.")


@jobs.command("cancel")
@click.argument("job_id")
@with_appcontext
def jobs_cancel(job_id):
    """Cancel a queued job, or stop a running one (its work horse is stopped; a download first gets
    HALYARD_DOWNLOADER_STOP_GRACE_SECONDS to stop itself); the row says canceled."""
    from rq.command import send_stop_job_command

    record = _job(job_id)
    if record.status not in ("queued", "started", "scheduled"):
        raise click.ClickException(f"Job {job_id} is {record.status} already.")
    job = _rq_job(job_id)
    download = db.session.scalar(select(DownloadRequest.id).where(DownloadRequest.executor_job_id == job_id))
    reconcile.fail(job_id, "Cancelled by an operator (halyard jobs cancel).", status="canceled")
    if download is not None:  # a download stops as when its last waiter leaves: first by itself
        stop_download_job(download, job_id)
    elif job is not None and _rq_status(job) == "started":
        try:
            send_stop_job_command(get_redis(), job_id)
        except Exception as exc:  # noqa: BLE001 — finished meanwhile; the row is settled either way
            click.echo(f"(the running job could not be stopped: {exc})")
    click.echo(f"Job {job_id} canceled.")


@click.group("downloads")
def downloads():
    """Download files."""


@downloads.command("sweep")
@with_appcontext
def downloads_sweep():
    """Delete files of downloads cancelled longer than HALYARD_DOWNLOADER_RETENTION_SECONDS ago and work
    folders left by killed jobs (the worker's reconciler also runs this every HALYARD_RECONCILE_SECONDS)."""
    click.echo(f"Swept the files of {sweep_downloads()} cancelled download(s).")


@click.group("secrets")
def secrets_group():
    """Stored secrets (encrypted with SECRET_KEY)."""


def stored_secrets():
    """Every kind of encrypted secret the database stores: (model, columns, derive)."""

    return [
        (scheduler.Schedule, ["secret_encrypted", "auth_token_encrypted"], scheduler.derive_key),
        (DataSource, ["connection_secret"], connectors.derive_key),
    ]


@secrets_group.command("rotate")
@with_appcontext
def secrets_rotate():
    """Re-encrypt every stored secret with the newest SECRET_KEY (the first of the list)."""
    try:
        counts = rotate_all(stored_secrets())
    except InvalidToken:
        db.session.rollback()
        raise click.ClickException(
            "A stored secret decrypts with none of the configured SECRET_KEYs; nothing was changed. "
            "Add the key it was encrypted with to the list."
        ) from None
    for name, count in counts.items():
        click.echo(f"{name}: {count} re-encrypted")


# --- backup and restore -----------------------------------------------------------------------------

MANIFEST = "halyard-backup.json"


def _sqlite_path(url):
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise click.ClickException("An in-memory SQLite database cannot be backed up.")
    return url.database


def _pg_url(url):
    """The URL for pg_dump/pg_restore (libpq's form: no SQLAlchemy driver)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _heads():
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        return sorted(MigrationContext.configure(connection).get_current_heads())


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False))
@with_appcontext
def backup(destination):
    """Write the database and the stored files into DESTINATION (a new folder).

    SQLite: an online copy (SQLite's backup API, consistent while the server runs). PostgreSQL: pg_dump
    in its custom format. The storage folder is copied as it is; take the backup while no job writes
    files (or stop the workers) for files and rows to match exactly."""
    if os.path.exists(destination):
        raise click.ClickException(f"{destination} exists already; name a new folder.")
    url = db.engine.url
    os.makedirs(destination)
    path = _sqlite_path(url)
    if path:
        source, target = sqlite3.connect(path), sqlite3.connect(os.path.join(destination, "database.sqlite3"))
        with target:
            source.backup(target)
        source.close()
        target.close()
        kind = "sqlite"
    elif url.get_backend_name() == "postgresql":
        dump = os.path.join(destination, "database.dump")
        _run(["pg_dump", "--format=custom", "--no-owner", "--file", dump, "--dbname", _pg_url(url)])
        kind = "postgresql"
    else:
        raise click.ClickException(f"No backup for {url.get_backend_name()} databases.")
    storage_root = current_app.config["HALYARD_STORAGE_ROOT"]
    if os.path.isdir(storage_root):
        shutil.copytree(storage_root, os.path.join(destination, "files"), symlinks=True)
    manifest = {"database": kind, "migrations": _heads(), "taken": _iso(datetime.datetime.utcnow())}
    with open(os.path.join(destination, MANIFEST), "w") as fh:
        json.dump(manifest, fh, indent=2)
    click.echo(f"Backed up the {kind} database and the stored files into {destination}.")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--yes", is_flag=True, help="Confirm: the database and the stored files are replaced.")
@with_appcontext
def restore(source, yes):
    """Replace the database and the stored files with a backup from ``halyard backup``.

    Stop the web and the workers first. Afterwards run ``halyard db upgrade`` when the backup is older
    than the code."""
    try:
        with open(os.path.join(source, MANIFEST)) as fh:
            manifest = json.load(fh)
    except (OSError, ValueError):
        raise click.ClickException(f"{source} is not a backup of `halyard backup` (no {MANIFEST}).") from None
    if not yes:
        raise click.UsageError("Restoring replaces the database and the stored files; confirm with --yes.")
    url = db.engine.url
    kind = "sqlite" if url.get_backend_name() == "sqlite" else url.get_backend_name()
    if kind != manifest["database"]:
        raise click.ClickException(
            f"The backup holds a {manifest['database']} database; this server uses {kind}."
        )
    db.session.remove()
    db.engine.dispose()
    if kind == "sqlite":
        path = _sqlite_path(url)
        backup_db = sqlite3.connect(os.path.join(source, "database.sqlite3"))
        target = sqlite3.connect(path)
        with target:
            backup_db.backup(target)
        backup_db.close()
        target.close()
    else:
        dump = os.path.join(source, "database.dump")
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname", _pg_url(url), dump])
    storage_root = current_app.config["HALYARD_STORAGE_ROOT"]
    if os.path.isdir(storage_root):
        shutil.rmtree(storage_root)
    if os.path.isdir(os.path.join(source, "files")):
        shutil.copytree(os.path.join(source, "files"), storage_root, symlinks=True)
    else:
        os.makedirs(storage_root, exist_ok=True)
    click.echo(
        f"Restored the {kind} database and the stored files from {source} (taken {manifest['taken']})."
    )


def _run(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise click.ClickException(f"{argv[0]} is not installed (Debian: postgresql-client).") from None
    if done.returncode != 0:
        raise click.ClickException(f"{argv[0]} failed: {done.stderr.strip()[-2000:]}")


# --- db upgrade without naming heads --------------------------------------------------------------


def db_group():
    """Flask-Migrate's ``db`` group with ``upgrade`` defaulting to every branch head ("heads"): the
    migrations have one branch per domain (docs/development.md), where Alembic's "head" is ambiguous."""
    from flask_migrate import cli as migrate_cli

    group = click.Group("db", help=migrate_cli.db.help)
    for name, command in migrate_cli.db.commands.items():
        group.add_command(command, name)
    group.add_command(upgrade_heads, "upgrade")
    return group


@click.command("upgrade")
@click.argument("revision", default="heads")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@with_appcontext
def upgrade_heads(revision, sql):
    """Upgrade the database to REVISION (default: every branch head). Several hosts may run this at
    once: app/migrations/env.py holds a lock while it migrates."""
    import flask_migrate

    flask_migrate.upgrade(revision=revision, sql=sql)
    if not sql:
        click.echo(f"Database at {', '.join(_heads())}.")


COMMANDS = (users, jobs, downloads, secrets_group, backup, restore)
