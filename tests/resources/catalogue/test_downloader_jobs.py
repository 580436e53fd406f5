"""Download jobs on real RQ workers: the produced file checked row by row, the sample, the estimate,
cancellation while running, Parquet output, computed specs and the retention sweep."""

import csv
import hashlib
import io
import math
import os
import time
from datetime import datetime, timedelta

import duckdb
import pytest

from app import storage
from app.extensions import db
from app.jobs.models import JobRecord
from app.resources.downloader.models import DownloadRequest


@pytest.fixture
def people(make_account, token_for):
    accounts = [make_account(), make_account(), make_account(type="ADMIN")]
    return [(a, token_for(a)) for a in accounts]


def expected_rows(rows, filters):
    """The products table of conftest.PRODUCTS_SQL recomputed in Python, filters applied."""
    out = []
    for i in range(rows):
        row = {
            "id": i,
            "category": f"cat_{i % 8}",
            "price": round((i * 7919 % 10000) / 100.0, 2),
            "available": i % 3 == 0,
            "created": datetime(2024, 1, 1) + timedelta(minutes=i),
            "note": None if i % 10 == 0 else f"note {i}",
        }
        if all(f(row) for f in filters):
            out.append(row)
    return out


def fetch_file(client, body, headers):
    response = client.get(body["uri"], headers=headers)
    assert response.status_code == 200
    return response


def create(client, item, headers, columns, filters=(), ratio=1.0, **extra):
    response = client.post(
        "/downloader/requests/",
        json={
            "catalogue_item_id": item.id,
            "spec": {"columns": columns, "filters": list(filters), "randomize_ratio": ratio},
            **extra,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def estimate_then_run(client, item, body, headers, run_jobs):
    """``…/estimate/`` of a created request's spec (before its job runs); then the job runs."""
    estimate = client.post(
        "/downloader/requests/estimate/",
        json={"catalogue_item_id": item.id, "spec": body["spec"]},
        headers=headers,
    ).get_json()
    run_jobs()
    return estimate


def test_local_download_filters_exactly_and_samples_bernoulli(client, bound_item, people, run_jobs):
    rows = 20000
    item = bound_item(rows=rows)
    me, headers = people[0]
    filters = [
        {"name": "price", "operator": ">=", "value": 25},
        {"name": "category", "operator": "!=", "value": "cat_3"},
        {"name": "created", "operator": "<", "value": "2024-01-10T12:00:00Z"},
    ]
    body = create(client, item, headers, ["id", "price", "note"], filters, ratio=0.3)
    estimate = estimate_then_run(client, item, body, headers, run_jobs)
    done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
    assert done["status"] == "finished" and done["progress"] == 1.0 and done["error"] is None
    assert done["uri"] == f"http://localhost/downloader/requests/{body['id']}/file"
    response = fetch_file(client, done, headers)
    assert response.headers["Content-Type"].startswith("text/csv")
    assert done["real_size"] == len(response.data) and done["rows"] == response.data.count(b"\n") - 1
    produced = list(csv.DictReader(io.StringIO(response.data.decode())))
    assert list(produced[0]) == ["id", "price", "note"]
    # filters: exact, against an independent computation in Python
    eligible = {
        r["id"]: r
        for r in expected_rows(
            rows,
            [
                lambda r: r["price"] >= 25,
                lambda r: r["category"] != "cat_3",
                lambda r: r["created"] < datetime(2024, 1, 10, 12),
            ],
        )
    }
    ids = [int(r["id"]) for r in produced]
    assert len(ids) == len(set(ids)) and set(ids) <= set(eligible)
    for r in produced:
        source = eligible[int(r["id"])]
        assert float(r["price"]) == source["price"] and (r["note"] or None) == source["note"]
    # the sample: Bernoulli(0.3) over the eligible rows, within 4 standard deviations
    n, p = len(eligible), 0.3
    assert abs(len(ids) - n * p) <= 4 * math.sqrt(n * p * (1 - p)), (len(ids), n)
    # ... and exactly the rows the documented condition keeps: md5("<row number>:<seed>") as a
    # 128-bit number below p × 2^128, computed here by Python's hashlib
    path = storage.store().location(item.datasource.table_key)
    con = duckdb.connect()
    kept = {
        i
        for (i, row) in con.execute(
            f"SELECT id, file_row_number FROM read_parquet('{path}', file_row_number = true)"
        ).fetchall()
        if int(hashlib.md5(f"{row}:{done['seed']}".encode()).hexdigest(), 16) < int(p * 2**128)
    }
    assert set(ids) == kept & set(eligible)
    # the estimate (made before the job ran, and stored by the job) is within 25 % of the real size
    assert abs(estimate["estimated_size"] - done["real_size"]) <= 0.25 * done["real_size"]
    assert abs(done["estimated_size"] - done["real_size"]) <= 0.25 * done["real_size"]
    assert estimate["basis"] == "data"
    job = client.get(done["_links"]["ec:download-request/job"]["href"], headers=headers).get_json()
    assert job["status"] == "finished" and job["_links"]["ec:job/result"]["href"] == done["uri"]


@pytest.mark.parametrize("max_rows, basis", [(20000, "data"), (19999, "metadata")])
def test_one_rule_decides_whether_the_estimate_and_the_job_scan_the_table(
    app, client, bound_item, people, run_jobs, max_rows, basis
):
    """HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS is the one door: past it, neither ``…/estimate/`` nor the
    download job scans the table to estimate it (the job stores the metadata estimate, to the byte)."""
    app.config["HALYARD_DOWNLOADER_ESTIMATE_MAX_ROWS"] = max_rows
    item = bound_item(rows=20000)
    item.datasource.items = 20000
    db.session.commit()
    _, headers = people[0]
    filters = [{"name": "category", "operator": "!=", "value": "cat_3"}]
    body = create(client, item, headers, ["id", "price"], filters, ratio=0.5)
    estimate = estimate_then_run(client, item, body, headers, run_jobs)
    done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
    assert done["status"] == "finished", done["error"]
    assert estimate["basis"] == basis
    assert done["estimated_size"] == estimate["estimated_size"]  # the same estimate, by the same rule
    if basis == "data":  # counted: close; from metadata, the spec's default widths (docs/executors.md)
        assert abs(done["estimated_size"] - done["real_size"]) <= 0.25 * done["real_size"]


def test_the_sample_is_reproducible_from_the_recorded_seed(app, client, bound_item, people, run_jobs):
    from app.resources.downloader.jobs import run_download

    item = bound_item(rows=5000)
    body = create(client, item, people[0][1], ["id", "category"], ratio=0.5)
    run_jobs()
    req = db.session.get(DownloadRequest, body["id"])
    first = storage.open_file(req.file_key).read()
    # run the same request again from scratch (same seed): the very same bytes
    req.status, req.file_key = "queued", None
    db.session.commit()
    run_download(req.id)
    db.session.refresh(req)
    assert storage.open_file(req.file_key).read() == first

    # neighbouring seeds keep other rows, overlapping like independent Bernoulli(0.5) samples
    def kept(data):
        return {line.split(b",")[0] for line in data.splitlines()[1:]}

    samples = [kept(first)]
    for seed in (req.seed + 1, req.seed + 2):
        req.status, req.seed = "queued", seed
        db.session.commit()
        run_download(req.id)
        db.session.refresh(req)
        samples.append(kept(storage.open_file(req.file_key).read()))
    for a, b in ((0, 1), (0, 2), (1, 2)):
        overlap = len(samples[a] & samples[b])
        assert abs(overlap - 5000 * 0.25) <= 4 * math.sqrt(5000 * 0.25 * 0.75), (a, b, overlap)


def test_estimate_accuracy_on_varied_requests(client, bound_item, people, run_jobs):
    item = bound_item(rows=20000)
    headers = people[0][1]
    cases = [
        (["id", "category", "price", "available", "created", "note"], [], 1.0),
        (["note"], [{"name": "note", "operator": "!=", "value": None}], 0.5),
        (["category", "available"], [{"name": "available", "operator": "=", "value": False}], 0.8),
        # a filter that keeps enough rows that the 10 % sample's own spread (binomial) stays well inside
        # the 25 % the estimate is allowed: with `price < 10` a few dozen rows were sampled and a 3-sigma
        # draw failed the test about once in a few hundred runs
        (["created", "price"], [{"name": "price", "operator": "<", "value": 60}], 0.1),
    ]
    bodies = []
    for columns, filters, ratio in cases:
        spec = {"columns": columns, "filters": filters, "randomize_ratio": ratio}
        estimate = client.post(
            "/downloader/requests/estimate/",
            json={"catalogue_item_id": item.id, "spec": spec},
            headers=headers,
        ).get_json()["estimated_size"]
        bodies.append((create(client, item, headers, columns, filters, ratio), estimate))
    run_jobs()
    for body, estimate in bodies:
        done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
        assert done["status"] == "finished"
        assert abs(estimate - done["real_size"]) <= 0.25 * done["real_size"], (body["spec"], estimate, done)


def test_parquet_on_request(client, bound_item, people, run_jobs):
    item = bound_item(rows=3000)
    headers = people[1][1]
    filters = [
        {"name": "available", "operator": "=", "value": True},
        {"name": "note", "operator": "=", "value": None},
    ]
    body = create(client, item, headers, ["id", "available", "note"], filters, format="parquet")
    run_jobs()
    done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
    assert done["status"] == "finished" and done["format"] == "parquet"
    response = fetch_file(client, done, headers)
    assert response.headers["Content-Type"] == "application/vnd.apache.parquet"
    path = storage.store().location(db.session.get(DownloadRequest, body["id"]).file_key)
    got = duckdb.connect().execute(f"SELECT id FROM read_parquet('{path}') ORDER BY id").fetchall()
    assert [i for (i,) in got] == [
        r["id"] for r in expected_rows(3000, [lambda r: r["available"], lambda r: r["note"] is None])
    ]


def test_unbound_local_items_fail_at_once(client, make_item, people):
    item = make_item(executor_type="LOCAL")
    body = create(client, item, people[0][1], ["product"])
    assert body["status"] == "failed" and "not bound to a data source" in body["error"]
    assert db.session.get(JobRecord, body["executor_job_id"]).status == "failed"


def test_configured_adapter_runs(client, make_item, people, run_jobs, app):
    app.config["HALYARD_DOWNLOADER_ADAPTERS"] = {"ATHENA": "jobfuncs_downloads:fake_athena"}
    item = make_item(executor_type="ATHENA")
    body = create(client, item, people[0][1], ["product"])
    assert body["status"] == "queued"
    run_jobs()
    done = client.get(body["_links"]["self"]["href"], headers=people[0][1]).get_json()
    assert done["status"] == "finished" and done["rows"] == 1
    assert fetch_file(client, done, people[0][1]).data == b"product\nfrom athena\n"


def test_a_vanished_table_fails_the_request_with_a_safe_message(client, bound_item, people, run_jobs):
    item = bound_item(rows=100)
    body = create(client, item, people[0][1], ["id"])
    storage.delete(item.datasource.table_key)
    run_jobs()
    done = client.get(body["_links"]["self"]["href"], headers=people[0][1]).get_json()
    assert (
        done["status"] == "failed"
        and done["error"] == "The item's data source table is missing from storage."
    )
    assert client.get(f"/downloader/requests/{body['id']}/file", headers=people[0][1]).status_code == 404


def test_cancel_while_running_stops_the_job(app, client, bound_item, people, worker_process):
    from app.jobs import AppJob, get_redis

    item = bound_item(rows=3_000_000)
    headers = people[0][1]
    body = create(client, item, headers, ["id", "category", "price", "created", "note"], ratio=0.9)
    worker_process()
    deadline = time.time() + 60
    while time.time() < deadline:
        db.session.expire_all()
        req = db.session.get(DownloadRequest, body["id"])
        if req.status == "running" and req.progress >= 0.1:
            break
        assert req.status in ("queued", "running"), req.status
        time.sleep(0.05)
    else:
        pytest.fail("the job did not start")
    assert client.delete(f"/downloader/requests/{body['id']}", headers=headers).status_code == 200
    job = AppJob.fetch(body["executor_job_id"], connection=get_redis())
    deadline = time.time() + 90
    while time.time() < deadline and str(getattr(job.get_status(), "value", job.get_status())) in (
        "started",
    ):
        time.sleep(0.1)
    assert str(getattr(job.get_status(), "value", job.get_status())) in ("stopped", "failed", "canceled")
    deadline = (
        time.time() + 60
    )  # the work horse's exit is recorded by the worker: poll, with a generous bound
    while True:
        db.session.expire_all()
        req = db.session.get(DownloadRequest, body["id"])
        if req.status == "cancelled" and db.session.get(JobRecord, req.executor_job_id).status != "started":
            break
        assert time.time() < deadline, (req.status, req.is_cancelled)
        time.sleep(0.1)
    assert req.is_cancelled and req.status == "cancelled" and req.file_key is None and req.real_size is None
    assert db.session.get(JobRecord, req.executor_job_id).status in ("canceled", "failed")
    from app.resources.downloader.jobs import sweep_downloads

    sweep_downloads()  # the killed work horse could not remove its work directory; the sweep does
    assert not [n for n in os.listdir(storage.scratch_root()) if n.startswith(f".download-{req.id}-")]


def test_compute_spec_from_data(client, bound_item, people, run_jobs):
    item = bound_item(rows=1000)
    admin = people[2][1]
    hal_forms = {"Accept": "application/prs.hal-forms+json"}
    before = client.get(f"/catalogue/items/{item.id}", headers={**admin, **hal_forms}).get_json()
    assert "compute-spec" in before["_templates"]
    response = client.post(before["_links"]["ec:catalogue-item/compute-spec"]["href"], headers=admin)
    body = response.get_json()
    assert response.status_code == 200 and body["@event"] == "CATALOGUEITEM_SPEC_COMPUTED"
    spec = {c["name"]: c for c in body["spec"]}
    assert [c["name"] for c in body["spec"]] == ["id", "category", "price", "available", "created", "note"]
    assert {n: c["type"] for n, c in spec.items()} == {
        "id": "INTEGER",
        "category": "STRING",
        "price": "FLOAT",
        "available": "BOOLEAN",
        "created": "DATETIME",
        "note": "STRING",
    }
    assert spec["note"]["is_nullable"] is True and spec["note"]["size"] == 900 and spec["id"]["size"] == 1000
    assert spec["category"]["is_enum"] is True and spec["category"]["distribution"] == [
        {"value": f"cat_{i}", "count": 125} for i in range(8)
    ]
    assert spec["available"]["distribution"] == [
        {"value": False, "count": 666},
        {"value": True, "count": 334},
    ]
    assert spec["id"]["distribution"] is None and spec["note"]["distribution"] is None
    assert len(body["sample"]) == 5 and body["sample"][1] == {
        "id": 1,
        "category": "cat_1",
        "price": 79.19,
        "available": False,
        "created": "2024-01-01T00:01:00",
        "note": "note 1",
    }
    # what was computed is a valid item body: PUT it back unchanged
    put = client.put(
        f"/catalogue/items/{item.id}",
        json={k: body[k] for k in ("name", "executor_type", "spec", "sample", "datasource_id")},
        headers=admin,
    )
    assert put.status_code == 200, put.get_data(as_text=True)
    # the spec-based estimate (the item unbound) from the computed spec is close to the real size
    columns = list(spec)
    real = create(client, item, admin, columns)
    run_jobs()
    real_size = client.get(real["_links"]["self"]["href"], headers=admin).get_json()["real_size"]
    unbound = client.put(
        f"/catalogue/items/{item.id}",
        json={**{k: body[k] for k in ("name", "executor_type", "spec", "sample")}, "datasource_id": None},
        headers=admin,
    )
    assert unbound.status_code == 200 and unbound.get_json()["datasource_id"] is None
    estimate = client.post(
        "/downloader/requests/estimate/",
        json={
            "catalogue_item_id": item.id,
            "spec": {"columns": columns, "filters": [], "randomize_ratio": 1.0},
        },
        headers=admin,
    ).get_json()["estimated_size"]
    assert real_size > 0 and abs(estimate - real_size) <= 0.3 * real_size, (estimate, real_size)  # 23 % today


def test_compute_spec_is_for_admins(client, bound_item, people, unchanged):
    item = bound_item(rows=100)
    with unchanged():
        response = client.post(f"/catalogue/items/{item.id}/compute_spec/", headers=people[0][1])
    assert response.status_code == 403


def test_compute_spec_needs_a_bound_item(client, make_item, people):
    item = make_item()
    response = client.post(f"/catalogue/items/{item.id}/compute_spec/", headers=people[2][1])
    assert response.status_code == 409 and "not bound" in response.get_json()["detail"]


def test_retention_sweep_deletes_files_of_cancelled_requests(app, client, bound_item, people, run_jobs):
    from app.resources.downloader.jobs import sweep_downloads

    item = bound_item(rows=100)
    headers = people[0][1]
    body = create(client, item, headers, ["id"])
    run_jobs()
    req = db.session.get(DownloadRequest, body["id"])
    key = req.file_key
    assert client.delete(f"/downloader/requests/{body['id']}", headers=headers).status_code == 200
    db.session.expire_all()
    assert storage.exists(key) and sweep_downloads() == 0  # kept until the retention passes
    app.config["HALYARD_DOWNLOADER_RETENTION_SECONDS"] = -1
    assert sweep_downloads() == 1 and not storage.exists(key)


def test_deleting_an_item_deletes_its_cancelled_requests_and_files(client, bound_item, people, run_jobs):
    item = bound_item(rows=100)
    headers = people[0][1]
    body = create(client, item, headers, ["id"])
    run_jobs()
    key = db.session.get(DownloadRequest, body["id"]).file_key
    assert client.delete(f"/downloader/requests/{body['id']}", headers=headers).status_code == 200
    assert client.delete(f"/catalogue/items/{item.id}", headers=people[2][1]).status_code == 200
    db.session.expire_all()
    assert db.session.get(DownloadRequest, body["id"]) is None and not storage.exists(key)


def test_the_job_interrupts_duckdb_when_cancellation_is_flagged(app, client, bound_item, people, monkeypatch):
    """In-process (no work horse to kill): the watcher turns the cancel flag into duckdb interrupt().

    The real export runs; a spy records how it ended, so the proof is DuckDB's InterruptException (the
    query was cut short), not a time window that a loaded machine could miss."""
    from app.jobs import JobError, get_redis
    from app.resources.downloader import local
    from app.resources.downloader.executors import cancel_key
    from app.resources.downloader.jobs import run_download

    item = bound_item(rows=3_000_000)
    body = create(client, item, people[0][1], ["id", "category", "price", "created", "note"], ratio=0.9)
    workdirs = {n for n in os.listdir(storage.scratch_root()) if n.startswith(".download-")}
    ended, real_export = [], local.export

    def export(*args):
        get_redis().set(cancel_key(body["id"]), 1, ex=600)  # cancelled as the extraction starts
        try:
            return real_export(*args)
        except BaseException as exc:
            ended.append(exc)
            raise

    monkeypatch.setattr(local, "export", export)
    with pytest.raises(JobError, match="cancelled"):
        run_download(body["id"])
    assert [type(e) for e in ended] == [duckdb.InterruptException]
    db.session.expire_all()
    req = db.session.get(DownloadRequest, body["id"])
    assert req.file_key is None and req.status == "running" and req.error is None
    assert {n for n in os.listdir(storage.scratch_root()) if n.startswith(".download-")} == workdirs


def test_the_job_checks_for_cancellation_between_stages(app, client, bound_item, people, monkeypatch):
    from app.jobs import JobError
    from app.resources.downloader import jobs as downloads
    from app.resources.downloader import local

    item = bound_item(rows=1000)
    body = create(client, item, people[0][1], ["id"])
    real_estimate = local.estimate_from_data

    def estimate_then_cancel(*args):
        result = real_estimate(*args)
        with app.app_context():  # another session: the web process cancelling meanwhile
            other = db.session.get(DownloadRequest, body["id"])
            other.cancel()
            db.session.commit()
        return result

    monkeypatch.setattr(local, "estimate_from_data", estimate_then_cancel)
    exported = []
    monkeypatch.setattr(local, "export", lambda *a: exported.append(a))
    with pytest.raises(JobError, match="cancelled"):
        downloads.run_download(body["id"])
    assert exported == []
    db.session.expire_all()
    req = db.session.get(DownloadRequest, body["id"])
    assert req.is_cancelled and req.status == "cancelled" and req.file_key is None


def test_a_dead_job_leaves_the_request_failed(client, bound_item, people):
    from rq.job import JobStatus

    from app.jobs import AppJob, get_redis

    item = bound_item(rows=100)
    body = create(client, item, people[0][1], ["id"])
    req = db.session.get(DownloadRequest, body["id"])
    req.status = "running"
    db.session.commit()
    job = AppJob.fetch(body["executor_job_id"], connection=get_redis())
    job.set_status(JobStatus.FAILED)  # what RQ records when a work horse is killed mid-job
    seen = client.get(body["_links"]["self"]["href"], headers=people[0][1]).get_json()
    assert (
        seen["status"] == "failed"
        and seen["error"] == "The worker running this download stopped before it finished."
    )
    again = client.post(
        "/downloader/requests/",
        json={"catalogue_item_id": item.id, "spec": body["spec"]},
        headers=people[1][1],
    )
    assert again.status_code == 201  # a failed request is not live: equal requests start anew


def test_compute_spec_of_a_large_table_is_a_job(app, client, bound_item, people, run_jobs):
    item = bound_item(rows=1000)
    admin = people[2][1]
    app.config["HALYARD_CATALOGUE_PROFILE_INLINE_ROWS"] = 999
    response = client.post(f"/catalogue/items/{item.id}/compute_spec/", headers=admin)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["kind"] == "catalogue-compute-spec"
    assert response.headers["Location"].endswith(f"/jobs/{job['id']}")
    run_jobs()
    done = client.get(response.headers["Location"], headers=admin).get_json()
    assert done["status"] == "finished", done
    assert done["_links"]["ec:job/result"]["href"].endswith(f"/catalogue/items/{item.id}")
    body = client.get(done["_links"]["ec:job/result"]["href"], headers=admin).get_json()
    spec = {c["name"]: c for c in body["spec"]}
    assert spec["category"]["distribution"] == [{"value": f"cat_{i}", "count": 125} for i in range(8)]
    assert spec["note"]["size"] == 900 and len(body["sample"]) == 5
