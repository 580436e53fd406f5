"""End to end on several hosts: two web processes and two ``halyard worker`` processes, each "host" with an
instance folder of its own, sharing nothing but PostgreSQL, Redis and the S3 server
(HALYARD_STORAGE_URL=s3://...). What one host stores, the other serves; a data source materialised by
host A's worker is downloaded by a job on host B's worker. Each job is pinned to one worker by running
the workers one after the other (``--burst``: a worker drains the queues and exits)."""

import csv
import io
import os
import subprocess
import sys

import pytest
import requests

from tests.conftest import stop, subprocess_env
from tests.e2e.test_storage_hosts import ROOT, TIMEOUT, on, start_web
from tests.storage_support import new_bucket, objects, s3_settings

pytestmark = pytest.mark.e2e


@pytest.fixture
def config_overrides():
    return {"HALYARD_DATASOURCE_INLINE_BYTES": 0}  # every upload is materialised by a worker


@pytest.fixture
def hosts(app, tmp_path, s3_server):
    """Start host A's and host B's web servers; yields (settings, {name: base URL}, instance folders)."""
    if app.config["DATABASE_URL"].startswith("sqlite"):
        reason = "several hosts share one database server: set TEST_DATABASE_URL (PostgreSQL)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    settings = s3_settings(s3_server, new_bucket(s3_server), HALYARD_DATASOURCE_INLINE_BYTES=0)
    folders = {name: tmp_path / f"host-{name}" for name in ("a", "b")}
    bases, procs = {}, []
    try:
        for name, folder in folders.items():
            bases[name], proc = start_web(app, folder, **settings)
            procs.append(proc)
        yield settings, bases, folders
    finally:
        for proc in procs:
            stop(proc)


def run_worker(app, folder, settings):
    """One ``halyard worker --burst`` of a host: it runs every queued job, then exits; returns its log."""
    env = subprocess_env(app, **{k: str(v) for k, v in settings.items()})
    env["HALYARD_INSTANCE_PATH"] = str(folder)
    done = subprocess.run(
        [sys.executable, "-m", "app", "worker", "--burst", "--no-scheduler"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_two_hosts_share_files_and_jobs_through_the_store(app, make_account, token_for, hosts, s3_server):
    settings, base, folders = hosts
    admin = {**token_for(make_account(type="ADMIN")), "Accept": "application/hal+json"}
    bucket = settings["HALYARD_STORAGE_URL"].split("/")[2]

    def call(host, method, path, **kwargs):
        answer = requests.request(method, on(base[host], path), headers=admin, timeout=TIMEOUT, **kwargs)
        assert answer.status_code < 400, (method, path, answer.status_code, answer.text[:2000])
        return answer

    # an asset uploaded through host A is served by host B
    space = call("a", "POST", "/datamanager/", json={"title": "shared", "description": ""}).json()
    made = call(
        "a",
        "POST",
        space["_links"]["ec:assets"]["href"],
        files={"file": ("notes.txt", io.BytesIO(b"kept in the bucket\n"), "text/plain")},
    )
    asset = call("b", "GET", made.headers["Location"]).json()
    served = call("b", "GET", asset["files"][0]["url"], allow_redirects=False)
    assert served.status_code == 302 and served.headers["Location"].startswith(s3_server + "/")
    assert requests.get(served.headers["Location"], timeout=TIMEOUT).content == b"kept in the bucket\n"

    # a data source uploaded through host A is materialised by host A's worker alone
    project = call("a", "POST", "/api/v1/projects/", json={"title": "hosts", "description": ""}).json()
    rows = [(n, f"shop {n % 3}", n * 1.5) for n in range(300)]
    text = "id,shop,amount\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    source = call(
        "a",
        "POST",
        "/api/v1/datasources",
        data={"project": str(project["id"]), "name": "sales", "type": "file"},
        files={"file": ("sales.csv", io.BytesIO(text.encode()), "text/csv")},
    ).json()
    assert source["status"] == "processing"
    run_worker(app, folders["a"], settings)
    ready = call("b", "GET", source["_links"]["self"]["href"]).json()
    assert ready["status"] == "ready" and ready["meta_data"]["items"] == 300, ready

    # host B computes the item's spec (inline, a small table read from the bucket), a download request
    # made through host B is run by host B's worker, and host A serves its file
    item = call(
        "b",
        "POST",
        "/catalogue/items/",
        json={
            "name": "sales",
            "executor_type": "LOCAL",
            "spec": [],
            "sample": [],
            "datasource_id": ready["id"],
            "maintained_by_id": None,
        },
    ).json()
    computed = call("b", "POST", f"/catalogue/items/{item['id']}/compute_spec/").json()
    assert {c["name"] for c in computed["spec"]} == {"id", "shop", "amount"}
    request = call(
        "b",
        "POST",
        "/downloader/requests/",
        json={
            "catalogue_item_id": item["id"],
            "spec": {
                "columns": ["id", "amount"],
                "filters": [{"name": "shop", "operator": "=", "value": "shop 1"}],
                "randomize_ratio": 1.0,
            },
        },
    ).json()
    assert request["status"] in ("queued", "running"), request
    run_worker(app, folders["b"], settings)
    finished = call("a", "GET", request["_links"]["self"]["href"]).json()
    assert finished["status"] == "finished" and finished["rows"] == 100, finished
    redirect = call("a", "GET", finished["uri"], allow_redirects=False)
    assert redirect.status_code == 302
    got = list(csv.reader(io.StringIO(requests.get(redirect.headers["Location"], timeout=TIMEOUT).text)))
    assert got[0] == ["id", "amount"]
    assert sorted(int(r[0]) for r in got[1:]) == [n for n, shop, _ in rows if shop == "shop 1"]

    # every file is in the bucket; neither host kept one on its own disk
    assert len(objects(s3_server, bucket)) >= 5  # asset, upload, table, preview, download
    for folder in folders.values():
        assert not (folder / "files").exists()
        scratch = folder / "scratch"
        assert not scratch.exists() or not [n for n in os.listdir(scratch) if not n.startswith("spill")]
