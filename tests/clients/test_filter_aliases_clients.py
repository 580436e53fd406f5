"""traverson, Ketting and restnavigator filter a collection through its ``…/options`` template with the
dotted filter names (``name.contains``, ``id.not``, ``created.from``; app.hal.grammar.OPERATORS) exactly
as the template advertises them, from ``GET /`` by rel names only, and get what the suffix spelling
(``name~``, ``id!``, ``createdFrom``) gets. Before the aliases a generic client had to hand-encode the
variable (``'name%7E'``), and traverson could not filter at all (its template library re-encodes ``%``).
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import requests
from restnavigator import Navigator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "browsable"))
from browsable_fixtures import live, widgets  # noqa: E402,F401

pytestmark = [pytest.mark.e2e, pytest.mark.fresh_app]  # fresh_app: widgets registers routes
COLLECTION = "ec:groups"


@pytest.fixture
def groups(live):
    """Four groups; the queries in both spellings, and the ids the suffix spelling selects."""
    headers = {"Authorization": f"Bearer {live.token}", "Accept": "application/hal+json"}
    made = []
    for name in ("alpha one", "alpha two", "beta", "gamma alpha"):
        response = requests.post(
            f"{live.base}/api/v1/group/", json={"name": name}, headers=headers, timeout=10
        )
        assert response.status_code == 201, response.text
        made.append(response.json())
    created = made[1]["created"]
    pairs = [  # (dotted, suffix): each must select a proper, non-empty subset
        ({"name.contains": "alpha"}, {"name~": "alpha"}),
        (
            {"name.contains": "alpha", "id.not": str(made[0]["id"])},
            {"name~": "alpha", "id!": str(made[0]["id"])},
        ),
        ({"created.from": created, "name.not": "beta"}, {"createdFrom": created, "name!": "beta"}),
        (
            {"id.from": str(made[1]["id"]), "id.to": str(made[2]["id"])},
            {"idFrom": made[1]["id"], "idTo": made[2]["id"]},
        ),
    ]
    expected = []
    for _, suffix in pairs:
        body = requests.get(f"{live.base}/api/v1/group/", params=suffix, headers=headers, timeout=10).json()
        ids = sorted(item["id"] for item in body["_embedded"]["ec:group"])
        assert 0 < len(ids) < len(made), (suffix, ids)
        expected.append(ids)
    return live, [dotted for dotted, _ in pairs], expected


def test_the_template_advertises_the_dotted_names(live):
    headers = {"Authorization": f"Bearer {live.token}", "Accept": "application/hal+json"}
    page = requests.get(f"{live.base}/api/v1/group/", headers=headers, timeout=10).json()
    template = page["_links"][f"{COLLECTION}/options"]["href"]
    for name in ("name.contains", "name.not", "id.not", "id.from", "id.to", "created.from", "created.to"):
        assert f",{name}," in template or f",{name}}}" in template, name
    assert "name%7E" in template  # the suffix spelling stays advertised (and accepted)


def test_restnavigator_filters_with_the_dotted_names(groups):
    live, queries, expected = groups
    root = Navigator.hal(live.base + "/", headers={"Authorization": f"Bearer {live.token}"})
    collection = root[COLLECTION]
    collection()
    options = collection[f"{COLLECTION}/options"]
    for query, ids in zip(queries, expected, strict=True):
        page = options(**query, size=50)
        page()
        got = sorted(item.state["id"] for item in page.embedded()["ec:group"])
        assert got == ids, (query, page.uri)
        assert all(name in page.uri for name in query), page.uri  # sent as named, not encoded


@pytest.mark.parametrize("client", ["traverson", "ketting"])
def test_node_clients_filter_with_the_dotted_names(groups, client):
    live, queries, expected = groups
    node = shutil.which("node")
    assert node, "Node.js is required (CI installs it with the machine; see docs/browsable.md)"
    for package in ("ketting", "traverson", "traverson-hal"):
        assert os.path.isdir(os.path.join(HERE, "node_modules", package)), (
            "run `npm ci` in tests/clients (.ci/run does) to install the clients from package-lock.json"
        )
    config = {"collection": COLLECTION, "queries": [{**q, "size": 50} for q in queries]}
    done = subprocess.run(
        [node, "filter_clients.mjs", live.base, live.token, json.dumps(config)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])[client]
    for query, ids, result in zip(queries, expected, results, strict=True):
        assert "error" not in result, (query, result)
        assert sorted(result["ids"]) == ids, (query, result)
