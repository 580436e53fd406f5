"""A live server for the client, schemathesis and browser tests: the test's app on a werkzeug thread.

The app is the suite's ``app`` fixture (real database, real Redis) plus the test-only widgets
blueprint, served over real HTTP on 127.0.0.1, so generic clients and Chromium talk to it like to
``halyard start`` while the test can still register test-only routes and read the database.
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass

import requests
from werkzeug.serving import make_server

from tests.route_server import serving


@dataclass
class Live:
    base: str
    token: str
    email: str
    password: str

    @property
    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def serve(app):
    """Serve ``app`` on a free port of 127.0.0.1 until the block ends; yields the base URL."""
    with serving(make_server("127.0.0.1", 0, app, threaded=True)) as base:
        yield base


def wait_until_healthy(live, timeout=120.0):
    """Poll /api/health/ until a worker is seen (a worker subprocess on a loaded machine takes a while to
    register; the bound is generous because a passing run never waits it out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = requests.get(live.base + "/api/health/", headers=live.auth, timeout=30)
        if health.status_code == 200 and health.json()["result"]["workers"] == "Running":
            return
        time.sleep(0.25)
    raise AssertionError("no worker registered in time")
