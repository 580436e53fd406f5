"""Command line: ``halyard start`` (the whole local system), ``worker``, ``create-admin``.

``halyard`` is Flask's CLI bound to create_app, so ``halyard db upgrade`` (to every head),
``halyard routes`` and ``halyard shell`` work too; the operator's commands are in app/operate.py.
"""

import logging
import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from app.extensions import db
from app.jobs import embedded
from app.jobs.worker import run
from app.operate import COMMANDS, create_account, db_group
from app.supervisor import Child, Supervisor


@click.command("create-admin")
@click.option("--email", required=True, help="Email of the new ADMIN account.")
@click.option("--username", default=None, help="Optional username (Basic auth accepts email or username).")
@click.option(
    "--password",
    envvar="HALYARD_ADMIN_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Read from $HALYARD_ADMIN_PASSWORD when set; prompted otherwise.",
)
@click.option("--token", "with_token", is_flag=True, help="Also create an API token and print it once.")
@with_appcontext
def create_admin(email, username, password, with_token):
    """Create an ADMIN account (the first account of a new deployment)."""
    create_account(email, username, "ADMIN", password, with_token=with_token)


WORKER_CLASSES = ("fork", "simple")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--scheduler/--no-scheduler", default=True, help="Also run RQ's scheduler (enqueue_at/in).")
@click.option(
    "--worker-class",
    type=click.Choice(WORKER_CLASSES),
    default="fork",
    show_default=True,
    envvar="HALYARD_WORKER_CLASS",
    help="fork: a work horse process per job (isolation); simple: jobs run in the worker process "
    "(no fork, kept database connections; what high scheduler throughput needs).",
)
@with_appcontext
def worker(burst, scheduler, worker_class):
    """Run an RQ worker (with RQ's scheduler) on Halyard's queues; SIGTERM stops it gracefully."""
    run(current_app._get_current_object(), burst=burst, scheduler=scheduler, worker_class=worker_class)


@click.command("start")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--rq-workers", default=1, show_default=True, type=int, help="RQ worker processes.")
@click.option(
    "--worker-class",
    type=click.Choice(WORKER_CLASSES),
    default="fork",
    show_default=True,
    envvar="HALYARD_WORKER_CLASS",
    help="Passed to every `halyard worker` (see its --help).",
)
@with_appcontext
def start(host, port, web_workers, rq_workers, worker_class):
    """Apply migrations, then run and supervise Redis, web (gunicorn) and RQ worker(s) until Ctrl-C."""
    import flask_migrate

    app = current_app._get_current_object()
    flask_migrate.upgrade(revision="heads")  # one branch per domain (docs/development.md)
    db.engine.dispose()  # the supervisor itself needs no database connection while it runs
    env = dict(os.environ, HALYARD_INSTANCE_PATH=app.instance_path)
    env["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir(app)
    children = []
    if not app.config["REDIS_URL"]:
        children.append(_embedded_redis(app, env))
    web = Child("web", web_command(app.config, host, port, web_workers), env=env)
    worker_command = [sys.executable, "-m", "app", "worker", "--worker-class", worker_class]
    stop_timeout = app.config["HALYARD_WORKER_GRACE_SECONDS"] + 15  # the grace, then unregister and exit
    children += [
        web,
        *[
            Child(f"worker-{n}", worker_command, env=env, stop_timeout=stop_timeout)
            for n in range(1, rq_workers + 1)
        ],
    ]
    log = logging.getLogger("halyard.start")  # the one log stream (app/logs.py), as its children write
    supervisor = Supervisor(children, say=log.warning)  # restarts, stops, kills: worth a look at any level
    supervisor.run(
        on_up=lambda: log.info(
            "Halyard is up on http://%s:%s/ (web pid %s); Ctrl-C stops everything.", host, port, web.proc.pid
        )
    )
    log.info("Halyard stopped.")


def _metrics_dir(app):
    """The folder where web and worker processes keep their metrics (prometheus_client multiprocess
    mode): $PROMETHEUS_MULTIPROC_DIR or <instance>/metrics, emptied at every start (counters restart)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(app.instance_path, "metrics")
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
    return path


def web_command(config, host, port, workers):
    """gunicorn's command line: threaded workers (gthread), so a slow download holds one thread, and the
    worker timeout (a hung process) is independent of how long a download takes (docs/storage.md)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--pythonpath",
        root,
        "-w",
        str(workers),
        "-k",
        "gthread",
        "--threads",
        str(config["HALYARD_WEB_THREADS"]),
        "--timeout",
        str(config["HALYARD_WEB_TIMEOUT_SECONDS"]),
        "-b",
        f"{host}:{port}",
        "--graceful-timeout",
        "10",
        "-c",
        os.path.join(root, "app", "gunicorn_conf.py"),
        "wsgi:app",
    ]


def _embedded_redis(app, env):
    """The embedded Redis as a supervised child on its fixed socket, handed to the others as REDIS_URL."""

    path = embedded.socket_path(app.instance_path)
    if embedded.listening(path):
        raise click.ClickException(
            f"A Redis server already listens on {path}: another `halyard start`, or "
            "one a lone command started, uses this instance folder. Stop it first "
            f"(`redis-cli -s {path} shutdown`)."
        )
    env["REDIS_URL"] = f"unix://{path}"
    return Child(
        "redis",
        embedded.server_command(app.instance_path),
        env=env,
        cwd=app.instance_path,
        ready=lambda: embedded.listening(path),
        stop_timeout=10,
        last=True,
    )


def init_app(app):
    for command in (create_admin, worker, start, *COMMANDS):
        app.cli.add_command(command)


class HalyardGroup(FlaskGroup):
    """Flask's CLI, whose ``db`` is Flask-Migrate's with ``upgrade`` to every head (app/operate.py)."""

    def get_command(self, ctx, name):
        if name == "db":
            return db_group()
        return super().get_command(ctx, name)


def main():
    """The ``halyard`` console script."""
    from app import create_app  # deferred: the composition root

    HalyardGroup(create_app=create_app, add_version_option=False)(prog_name="halyard")
