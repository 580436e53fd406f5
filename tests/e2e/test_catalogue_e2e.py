"""End to end: a live ``halyard start``; a client that follows links from ``/`` uploads a CSV as a
data source, publishes it as a LOCAL catalogue item, computes its spec and downloads a sample."""

import csv
import io

import pytest
import requests
import uritemplate
from test_start import TIMEOUT, poll, server  # noqa: F401  (the live-server fixture)

pytestmark = pytest.mark.e2e


def test_publish_a_csv_and_download_a_filtered_sample(server):  # noqa: F811
    base, _, headers, _ = server
    s = requests.Session()
    s.headers.update(headers)
    s.headers["Accept"] = "application/hal+json"  # a hypermedia client following links, not a seed client
    root = s.get(base + "/", timeout=TIMEOUT).json()["_links"]
    project = s.post(root["ec:projects"]["href"], json={"title": "e2e"}, timeout=TIMEOUT).json()
    lines = ["id,city,temp"] + [f"{i},{['oslo', 'rome', 'lima'][i % 3]},{i % 40}" for i in range(3000)]
    source = s.post(
        root["ec:datasources"]["href"],
        data={"name": "temps", "project": str(project["id"]), "type": "file"},
        files={"file": ("temps.csv", "\n".join(lines).encode())},
        timeout=TIMEOUT,
    )
    assert source.status_code in (201, 202), source.text
    source_href = source.headers["Location"]
    source_id = poll(
        lambda: (r := s.get(source_href, timeout=TIMEOUT).json())["status"] == "ready" and r["id"]
    )

    items_href = uritemplate.expand(root["ec:catalogue-items"]["href"], query="")
    item = s.post(
        items_href,
        json={
            "name": "temps",
            "executor_type": "LOCAL",
            "datasource_id": source_id,
            "spec": [{"name": "id", "type": "INTEGER", "is_nullable": False}],
        },
        timeout=TIMEOUT,
    )
    assert item.status_code == 201, item.text
    item = s.post(item.json()["_links"]["ec:catalogue-item/compute-spec"]["href"], timeout=TIMEOUT).json()
    assert item["@event"] == "CATALOGUEITEM_SPEC_COMPUTED"
    assert {c["name"]: c["type"] for c in item["spec"]} == {
        "id": "INTEGER",
        "city": "STRING",
        "temp": "INTEGER",
    }

    ui = s.post(
        root["ec:download-requests/render-ui-data"]["href"],
        json={"catalogue_item_id": item["id"]},
        timeout=TIMEOUT,
    ).json()
    assert {c["name"]: c["operators"] for c in ui["columns_operators"]}["city"] == ["=", "!="]
    body = {
        "catalogue_item_id": item["id"],
        "spec": {
            "columns": ["id", "temp"],
            "randomize_ratio": 0.5,
            "filters": [{"name": "city", "operator": "=", "value": "rome"}],
        },
    }
    estimate = s.post(root["ec:download-requests/estimate"]["href"], json=body, timeout=TIMEOUT).json()
    created = s.post(root["ec:download-requests"]["href"], json=body, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    done = poll(
        lambda: (
            (r := s.get(created.headers["Location"], timeout=TIMEOUT).json())["status"] == "finished" and r
        )
    )
    rows = list(csv.DictReader(io.StringIO(s.get(done["uri"], timeout=TIMEOUT).text)))
    assert rows and all(int(r["id"]) % 3 == 1 for r in rows) and abs(len(rows) - 500) < 4 * (250**0.5)
    assert abs(estimate["estimated_size"] - done["real_size"]) <= 0.25 * done["real_size"]
    # the request row is finished inside the job; RQ marks the job finished just after it returns
    job_href = done["_links"]["ec:download-request/job"]["href"]
    job = poll(lambda: (r := s.get(job_href, timeout=TIMEOUT).json())["status"] != "started" and r)
    assert job["status"] == "finished", job
