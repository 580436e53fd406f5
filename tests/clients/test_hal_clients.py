"""Generic HAL clients walk a live Halyard from GET /: restnavigator (Python) and Ketting (Node).

Each starts at ``/``, follows links by rel, expands templated links, pages the jobs collection with
``next`` to the end and uses the collection's ``…/options`` grammar; Ketting also submits the
HAL-FORMS ``probe`` action. The jobs are created first through that same template, by links only.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401
from browsable_live import wait_until_healthy  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: widgets registers routes
JOBS = 23  # three pages of the default size 10


@pytest.fixture
def walkable(live, worker_process):
    """A live server with a worker (health is up) and JOBS probe jobs started through the probe template."""
    worker_process()
    wait_until_healthy(live)
    session = requests.Session()
    session.headers.update(live.auth)
    root = session.get(live.base + "/", timeout=5).json()
    health = session.get(
        root["_links"]["ec:health"]["href"], headers={"Accept": "application/prs.hal-forms+json"}, timeout=5
    ).json()
    template = health["_templates"]["probe"]
    for _ in range(JOBS):
        started = session.request(template["method"], template["target"], json={"steps": 1}, timeout=5)
        assert started.status_code == 202
    return live


def test_restnavigator_walks_the_graph(walkable):
    from restnavigator import Navigator

    nav = Navigator.hal(walkable.base + "/", headers=walkable.auth)
    nav()
    assert {"ec:jobs", "ec:health", "ec:job/by-id", "service-desc"} <= set(nav.links())

    probe = nav["ec:health", "ec:health/probe"]
    job = probe.create({"steps": 1, "delay": 0})  # 202: restnavigator keeps the body as an orphan
    assert job.status[0] == 202 and job.state["kind"] == "probe"

    by_id = nav["ec:job/by-id"](id=job.state["id"])
    assert by_id()["id"] == job.state["id"]

    page = nav["ec:jobs"]
    page()
    total, seen, pages = page.state["total"], [], 0
    while True:
        pages += 1
        seen += [item.state["id"] for item in page.embedded()["ec:job"]]
        if "next" not in page.links():
            break
        page = page.links()["next"]
        page()
    assert total == JOBS + 1 and len(seen) == total == len(set(seen)) and pages == 3

    options = nav["ec:jobs"].links()["ec:jobs/options"](kind="probe", sort="-created", size=5)
    options()
    assert options.state["count"] == 5 and options.state["total"] == JOBS + 1
    assert all(item.state["kind"] == "probe" for item in options.embedded()["ec:job"])


def test_ketting_walks_the_graph_and_submits_a_hal_forms_action(walkable):
    node = shutil.which("node")
    assert node, "Node.js is required (CI installs it with the machine; see docs/browsable.md)"
    assert os.path.isdir(
        os.path.join(HERE, "node_modules", "ketting")
    ), "run `npm ci` in tests/clients (.ci/run does) to install Ketting from package-lock.json"
    done = subprocess.run(
        [node, "ketting_walk.mjs", walkable.base, walkable.token],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["paging"] == {"total": JOBS + 1, "pages": 3, "visited": JOBS + 1}
    assert summary["submitted"]["kind"] == "probe"
    assert summary["filtered"]["total"] == JOBS + 1 and summary["filtered"]["count"] == 3
    assert "service-desc" in summary["rootRels"]
