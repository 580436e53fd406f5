"""Command line: ``halyard start`` (the whole local system), ``worker``, ``create-admin``.

``halyard`` is Flask's CLI bound to create_app, so ``halyard db upgrade``,
``halyard routes`` and ``halyard shell`` work too.
"""
import os
import signal
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from app.extensions import db


@click.command("create-admin")
@click.option("--email", required=True, help="Email of the new ADMIN account.")
@click.option("--username", default=None, help="Optional username (Basic auth accepts email or username).")
@click.option("--password", envvar="HALYARD_ADMIN_PASSWORD", prompt=True, hide_input=True,
              confirmation_prompt=True, help="Read from $HALYARD_ADMIN_PASSWORD when set; prompted otherwise.")
@click.option("--token", "with_token", is_flag=True, help="Also create an API token and print it once.")
@with_appcontext
def create_admin(email, username, password, with_token):
    """Create an ADMIN account (the first account of a new deployment)."""
    from app.resources.accounts.models import Account

    if len(password) < 8:
        raise click.UsageError("The password needs at least 8 characters.")
    if Account.find_login(email) or (username and Account.find_login(username)):
        raise click.ClickException(f"An account with the email or username of {email} exists already.")
    account = Account(email=email, username=username, type="ADMIN", active=True)
    account.set_password(password)
    db.session.add(account)
    secret = None
    if with_token:
        _, secret = account.issue_token(name="create-admin")
    db.session.commit()
    click.echo(f"Created ADMIN account {account.id} <{email}>.")
    if secret:
        click.echo(f"token: {secret}")


WORKER_CLASSES = ("fork", "simple")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--scheduler/--no-scheduler", default=True, help="Also run RQ's scheduler (enqueue_at/in).")
@click.option("--worker-class", type=click.Choice(WORKER_CLASSES), default="fork", show_default=True,
              envvar="HALYARD_WORKER_CLASS",
              help="fork: a work horse process per job (isolation); simple: jobs run in the worker process "
                   "(no fork, kept database connections; what high scheduler throughput needs).")
@with_appcontext
def worker(burst, scheduler, worker_class):
    """Run an RQ worker (with RQ's scheduler) on Halyard's queues."""
    from rq import SimpleWorker, Worker

    from app.jobs import AppJob, all_queues, get_redis

    app = current_app._get_current_object()
    base = SimpleWorker if worker_class == "simple" else Worker
    cls = _polling(base, float(app.config["HALYARD_SCHEDULER_POLL_SECONDS"]))
    if scheduler and not burst:
        _reconcile_scheduler(app)
    if not burst:  # rows left by dead jobs, stray files, and the reconciler's timer (docs/jobs.md)
        from app.jobs.reconcile import at_worker_start

        at_worker_start(app)
    cls(all_queues(), connection=get_redis(), job_class=AppJob).work(
        burst=burst, with_scheduler=scheduler, logging_level=app.config["HALYARD_LOG_LEVEL"]
    )


def _reconcile_scheduler(app):
    """Re-arm the scheduler's next tick (idempotent): recovers ticks lost with a Redis restart."""
    if "scheduler" not in app.blueprints:
        return
    from app.jobs.scheduler import reconcile

    try:
        reconcile()
    except Exception:  # a worker must start even when the scheduler tables are not migrated yet
        db.session.rollback()
        app.logger.warning("scheduler reconcile failed at worker start", exc_info=True)


def _polling(base, interval):
    """``base`` whose built-in RQ scheduler polls every ``interval`` seconds instead of RQ's fixed 1 s.

    Scheduled jobs (ticks, retries) wait at most this long past their due second.
    """
    from rq.scheduler import RQScheduler

    class PollingScheduler(RQScheduler):
        def work(self):  # RQScheduler.work with our sleep (its `interval` also sets whole-second lock TTLs)
            self._install_signal_handlers()
            self.register_birth()
            while True:
                if self._stop_requested:
                    self.stop()
                    break
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                time.sleep(interval)

    class PollingWorker(base):
        def _start_scheduler(self, burst=False, logging_level=None, date_format=None, log_format=None):
            self.scheduler = PollingScheduler(self.queues, connection=self.connection,
                                         logging_level=logging_level if logging_level is not None else self.log.level,
                                         serializer=self.serializer,
                                         **{k: v for k, v in (("date_format", date_format),
                                                              ("log_format", log_format)) if v})
            self.scheduler.acquire_locks()
            if self.scheduler.acquired_locks:
                if burst:
                    try:
                        self.scheduler.register_birth()
                        self.scheduler.enqueue_scheduled_jobs()
                    finally:
                        self.scheduler.release_locks()
                        self.scheduler.register_death()
                else:
                    self.scheduler.start()

    PollingWorker.__name__ = PollingWorker.__qualname__ = base.__name__
    return PollingWorker


@click.command("start")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--rq-workers", default=1, show_default=True, type=int, help="RQ worker processes.")
@click.option("--worker-class", type=click.Choice(WORKER_CLASSES), default="fork", show_default=True,
              envvar="HALYARD_WORKER_CLASS", help="Passed to every `halyard worker` (see its --help).")
@with_appcontext
def start(host, port, web_workers, rq_workers, worker_class):
    """Apply migrations, then run web (gunicorn), RQ worker(s) and scheduler until Ctrl-C."""
    import flask_migrate

    from app.jobs import get_redis

    app = current_app._get_current_object()
    flask_migrate.upgrade(revision="heads")  # one branch per domain (docs/development.md)
    env = dict(os.environ, HALYARD_INSTANCE_PATH=app.instance_path)
    if not app.config["REDIS_URL"]:
        env["REDIS_URL"] = f"unix://{get_redis(app).socket_file}"  # children attach to our embedded server
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commands = [
        [sys.executable, "-m", "gunicorn", "--pythonpath", root, "-w", str(web_workers),
         "-b", f"{host}:{port}", "--graceful-timeout", "10", "wsgi:app"],
        *[[sys.executable, "-m", "app", "worker", "--worker-class", worker_class] for _ in range(rq_workers)],
    ]
    children = [subprocess.Popen(command, env=env) for command in commands]
    click.echo(f"Halyard is up on http://{host}:{port}/ (web pid {children[0].pid}); Ctrl-C stops everything.")
    code = _supervise(children)
    sys.exit(code)


def _supervise(children):
    """Wait until a signal arrives or a child dies; then stop every child, gently first."""
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    click.echo("Halyard stopped.")
    return 0 if stopping else 1


def init_app(app):
    for command in (create_admin, worker, start):
        app.cli.add_command(command)


def main():
    """The ``halyard`` console script."""
    from app import create_app

    FlaskGroup(create_app=create_app, add_version_option=False)(prog_name="halyard")
