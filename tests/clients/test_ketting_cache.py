"""Ketting's cache is right after a delete, a restore and a new version (issue 19, cache semantics).

ketting_cache.mjs starts at GET / and follows rel names only. Ketting answers ``get()`` from its cache,
so before Halyard named what a write changed (``Link: <…>; rel="invalidates"``) and what its body is
(``Content-Location``), a deleted asset stayed in the cached list and ``ec:object`` kept giving
version 0 after version 1 was written. The fixture data is made here over plain HTTP.
"""

import json
import os
import sys

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browsable"))
sys.path.insert(0, HERE)
from browsable_fixtures import live, widgets  # noqa: E402,F401
from run_ketting import run_ketting  # noqa: E402
from walk_seed import SCHEMA  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: widgets registers routes
TIMEOUT = 30


def make_data(live):
    s = requests.Session()
    s.headers.update({**live.auth, "Accept": "application/hal+json"})
    space = s.post(f"{live.base}/datamanager/", json={"title": "Cache"}, timeout=TIMEOUT)
    assert space.status_code == 201, space.text
    assets = space.headers["Location"].rstrip("/") + "/assets/"
    for name in ("one.txt", "two.txt"):
        upload = s.post(assets, files={"file": (name, b"text\n", "text/plain")}, timeout=TIMEOUT)
        assert upload.status_code == 201, upload.text
    kind = {"type": "sample", "name": "c", "schema": SCHEMA}
    action = s.post(f"{live.base}/api/v1/actions/", json=kind, timeout=TIMEOUT)
    assert action.status_code == 201, action.text
    body = {"action_id": action.json()["action_id"], "data": {"name": {"_type": "text", "text": "first"}}}
    obj = s.post(f"{live.base}/api/v1/objects/", json=body, timeout=TIMEOUT)
    assert obj.status_code == 201, obj.text


def test_kettings_cache_follows_delete_restore_and_new_version(live):
    make_data(live)
    summary = run_ketting("ketting_cache.mjs", live.base, live.token)
    print(json.dumps(summary, indent=1))
    # the DELETE named the list: Ketting fetched it again and the asset is gone from it
    assert summary["delete"] == {"before": 2, "after": 1, "listed": False}
    # the restore's body was stored under the asset's own URL (no new GET), and both lists were refetched
    restore = summary["restore"]
    assert restore["assetFromCache"] and restore["assetTitle"] == restore["titleBefore"]
    assert restore["after"] == 2 and restore["listed"] and restore["deletedAfter"] == 0
    # the new version invalidated ec:object, which now leads to version 1
    assert summary["version"] == {"before": 0, "after": 1, "name": "second", "created": 1, "historyTotal": 2}
