"""Generic HAL clients walk EVERY collection of a live Halyard from GET /: restnavigator and Ketting.

Both walks are data-driven (walk_restnavigator.py, ketting_walk.mjs): they discover collections by
following links from ``/`` and from the first item of each collection, then page each one with ``next``
through its ``…/options`` template at a page size of 2, check every item is seen once and the count is
``total``, and filter and sort it through the template. The fixture first puts at least three items in
every collection (walk_seed.py), so each has at least two pages. Ketting then submits one HAL-FORMS action
per domain. A collection linked from ``/`` that is not walked fails the test, and so does a discovery that
misses one of EXPECTED (so a broken discovery cannot pass with nothing to walk).
"""

import json
import os
import sys
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browsable"))
sys.path.insert(0, HERE)
from browsable_fixtures import live, widgets  # noqa: E402,F401
from browsable_live import wait_until_healthy  # noqa: E402
from run_ketting import run_ketting  # noqa: E402
from walk_restnavigator import walk  # noqa: E402
from walk_seed import PAGE_SIZE, PER, SCHEMA, SPEC, TEMPLATE_VALUES, seed  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: widgets registers routes

# Every collection of every domain, top-level and nested (the rel that first reaches it).
EXPECTED = {
    # accounts
    "ec:users",
    "ec:user/tokens",
    "ec:groups",
    "ec:group/members",
    # objects
    "ec:actions",
    "ec:objects",
    "version-history",
    "ec:object/permissions/users",
    "ec:object/permissions/groups",
    # datamanager
    "ec:datamanagers",
    "ec:datamanager/members",
    "ec:assets",
    "ec:assets/deleted",
    # datasources
    "ec:projects",
    "ec:project/datasources",
    "ec:datasources",
    "ec:datasource/scripts",
    "ec:datasource/jobs",
    # scheduler
    "ec:schedules",
    "ec:schedule/deliveries",
    "ec:failed-tasks",
    # catalogue, downloader, jobs
    "ec:catalogue-items",
    "ec:download-requests",
    "ec:jobs",
}
ENDPOINT = "http://127.0.0.1:9/ketting"


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}  # schedules POST to 127.0.0.1 (never fired here)


def wait_until_jobs_settle(live, timeout=180.0):
    """Poll /jobs/ until no job is queued or started, so nothing changes under the walk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = sum(
            requests.get(
                f"{live.base}/jobs/", params={"status": status, "size": 1}, headers=live.auth, timeout=5
            ).json()["total"]
            for status in ("queued", "started")
        )
        if not busy:
            return
        time.sleep(0.2)
    raise AssertionError("the seeded jobs did not finish in time")


@pytest.fixture
def walkable(live, make_account, worker_process):
    """The live server, a worker, at least PER items in every collection, and no job still running.

    The worker makes health 200 (a walker treats any 5xx as a failure; the probe template is read from
    health) and runs the seeded jobs before the walk, so nothing changes under it.
    """
    info = seed(live, make_account)
    worker_process()
    wait_until_healthy(live)
    wait_until_jobs_settle(live)
    return live, info


def check_walk(summary):
    """The assertions both clients' summaries must pass (the table is printed for ``pytest -s``)."""
    for rel, r in summary["walked"].items():
        print(f"{rel:32} total={r['total']:<3} pages={r['pages']} filter={r['filter']} sort={r['sort']}")
    assert not summary.get("serverErrors"), summary["serverErrors"]
    discovered, walked = set(summary["discovered"]), summary["walked"]
    missing = EXPECTED - discovered
    assert not missing, f"collections not discovered from GET /: {sorted(missing)}"
    assert set(walked) == discovered, "every discovered collection is walked"
    for rel, result in walked.items():
        assert result["total"] >= PER and result["pages"] >= 2, (rel, result)
        assert result["visited"] == result["unique"] == result["total"], (rel, result)
        assert result["filter"] is not None, (rel, "no exact filter from the …/options template")
        assert result["filter"]["total"] >= 1 and result["filter"]["all_match"], (rel, result["filter"])
        assert result["sort"] is not None and result["sort"]["descending"], (rel, result["sort"])
        assert result["sort"]["count"] >= 2, (rel, result["sort"])


def test_restnavigator_walks_every_collection(walkable):
    live, _ = walkable
    summary = walk(live.base, live.auth, TEMPLATE_VALUES, PAGE_SIZE)
    assert {"ec:jobs", "ec:health", "ec:job/by-id", "service-desc", "ec:rels"} <= set(summary["rootRels"])
    check_walk(summary)


def test_ketting_walks_every_collection_and_submits_hal_forms_actions(walkable):
    live, info = walkable
    # One create per domain where the admin may write, each through its collection's HAL-FORMS template.
    actions = [
        {"collection": "ec:groups", "template": "default", "body": {"name": "ketting-group"}},
        {
            "collection": "ec:actions",
            "template": "default",
            "body": {"type": "sample", "name": "ketting", "schema": SCHEMA},
        },
        {
            "collection": "ec:objects",
            "template": "default",
            "body": {"action_id": info["action"], "data": {"name": {"_type": "text", "text": "ketting"}}},
        },
        {"collection": "ec:datamanagers", "template": "default", "body": {"title": "ketting"}},
        {"collection": "ec:projects", "template": "default", "body": {"title": "ketting"}},
        {
            "collection": "ec:schedules",
            "template": "default",
            "body": {"endpoint": ENDPOINT, "interval_definition": "5 hours"},
        },
        {
            "collection": "ec:catalogue-items",
            "template": "default",
            "body": {"name": "walk_ketting", "executor_type": "DATABRICKS", "spec": SPEC},
        },
        {
            "collection": "ec:download-requests",
            "template": "default",
            "body": {
                "catalogue_item_id": info["catalogue_item"],
                "format": "parquet",
                "spec": {"columns": ["product"], "filters": [], "randomize_ratio": 0.5},
            },
        },
    ]
    probe = {"root": "ec:health", "template": "probe", "body": {"steps": 1, "delay": 0}}  # jobs: a probe job
    config = {"templateValues": TEMPLATE_VALUES, "pageSize": PAGE_SIZE, "actions": actions + [probe]}
    summary = run_ketting("ketting_walk.mjs", live.base, live.token, json.dumps(config))
    assert "service-desc" in summary["rootRels"] and summary["openapi"].startswith("3.1")
    assert summary["relations"] > 0
    check_walk(summary)
    assert set(summary["submitted"]) == {a["collection"] for a in actions} | {"ec:health"}
    started = summary["submitted"].pop("ec:health")
    assert started["data"]["kind"] == "probe" and "/jobs/" in started["self"]
    for rel, result in summary["submitted"].items():
        assert result["method"] == "POST" and result["contentType"] == "application/json", (rel, result)
        assert result["after"] == result["before"] + 1, (rel, result)
        assert result["self"], (rel, result)


def test_the_checks_fail_when_a_collection_is_missed_or_not_walked():
    """check_walk itself: a discovery that misses a collection, or a walk that skips one, fails."""
    result = {
        "total": 3,
        "pages": 2,
        "visited": 3,
        "unique": 3,
        "filter": {"total": 1, "all_match": True},
        "sort": {"descending": True, "count": 3},
    }
    complete = {"discovered": sorted(EXPECTED), "walked": dict.fromkeys(EXPECTED, result)}
    check_walk(complete)
    with pytest.raises(AssertionError, match="not discovered"):
        check_walk(
            {
                "discovered": sorted(EXPECTED - {"ec:jobs"}),
                "walked": dict.fromkeys(EXPECTED - {"ec:jobs"}, result),
            }
        )
    with pytest.raises(AssertionError, match="every discovered collection is walked"):
        check_walk({**complete, "walked": dict.fromkeys(EXPECTED - {"ec:assets"}, result)})
    with pytest.raises(AssertionError):
        check_walk({**complete, "walked": {**complete["walked"], "ec:users": {**result, "visited": 2}}})
