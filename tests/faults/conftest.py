"""Fault injection: real ``halyard start`` instances whose processes the tests kill.

``halyard(**options)`` starts one on the suite's kind of database (SQLite, or PostgreSQL with
TEST_DATABASE_URL) and Redis (embedded, or REDIS_URL; ``redis_url=`` overrides, "" is the embedded
one), waits until it
serves and its worker is registered, and returns an ``Instance`` (faultkit.py). ``redis_server``
is a redis-server of the test's own on a free port, for the tests that kill a Redis server.
``shared_halyard`` keeps one for several tests of a module. Everything a test (or module) started is
stopped afterwards, processes it left behind included.
"""

import itertools
import os
import subprocess
import sys
import uuid

import pytest
from faultkit import ROOT, Instance, RedisServer, free_port, poll

_names = itertools.count()


def starter(tmp_path, fresh_database, run_id, started):
    """``start(**options)``: the ``halyard`` fixture's function, for fixtures of other scopes."""

    def start(*, redis_url=None, env=None, args=()):
        n = next(_names)
        port = free_port()
        inherited = ("HALYARD_", "DATABASE_URL", "REDIS_URL")
        environ = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
        environ.update(
            HALYARD_INSTANCE_PATH=str(tmp_path / f"instance{n}"),
            DATABASE_URL=fresh_database(str(tmp_path), f"faults{n}"),
            HALYARD_QUEUE_PREFIX=f"hyfault-{run_id}-{uuid.uuid4().hex[:6]}",
            PYTHONPATH=ROOT,
            HALYARD_RATE_LIMIT_ENABLED="false",  # these poll fast; tests/test_rate_limits.py tests the limits
        )
        environ.update(env or {})
        redis_url = os.environ.get("REDIS_URL") if redis_url is None else redis_url  # "": the embedded one
        if redis_url:
            environ["REDIS_URL"] = redis_url
        log_path = tmp_path / f"halyard{n}.log"
        with open(log_path, "wb") as log:
            command = [sys.executable, "-m", "app", "start", "--port", str(port), "--web-workers", "1", *args]
            proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
        instance = Instance(proc, f"http://127.0.0.1:{port}", environ, log_path)
        started.append(instance)
        poll(lambda: instance.request("GET", "/").status_code == 200, timeout=180)
        command = [sys.executable, "-m", "app", "create-admin", "--email", "faults@example.org", "--token"]
        admin = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**environ, "HALYARD_ADMIN_PASSWORD": "faults-password"},
        )
        assert admin.returncode == 0, admin.stderr
        instance.headers = {"Authorization": f"Bearer {admin.stdout.split('token: ')[1].strip()}"}
        poll(instance.rq_workers, timeout=180)
        return instance

    return start


def stop_all(started):
    for instance in started:
        instance.stop()
        print(f"--- {instance.log_path} (tail)\n{instance.log()[-6000:]}")


@pytest.fixture
def halyard(tmp_path, fresh_database, run_id):
    started = []
    yield starter(tmp_path, fresh_database, run_id, started)
    stop_all(started)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.kill()


@pytest.fixture(scope="module")
def shared_halyard(tmp_path_factory, fresh_database, run_id):
    """``shared_halyard(key, options)``: an instance kept for the module's next tests that ask for the same
    key (so they should come in order of keys); asking for another key stops the one before.
    ``options(folder)`` gives ``halyard``'s options, ``folder`` being the instance's own temp folder.
    ``shared_halyard.discard()`` stops the current one (after a failure: the next test starts afresh)."""
    current, started = {}, []

    def get(key, options):
        if key not in current:
            get.discard()
            folder = tmp_path_factory.mktemp(f"shared-{key}")
            current[key] = starter(folder, fresh_database, run_id, started)(**options(folder))
        return current[key]

    def discard():
        stop_all(started)
        started.clear()
        current.clear()

    get.discard = discard
    yield get
    discard()
