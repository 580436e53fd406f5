"""GET /metrics (app/metrics.py, app/resources/scheduler/metrics.py): HTTP requests by route template, jobs
by kind and outcome, file bytes served, failed sign-ins, queue and worker gauges; who may read it; and the
multiprocess mode with a real gunicorn of two workers."""

import io
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, free_port, stop, subprocess_env

METRICS_TOKEN = "scrape-secret-for-tests"


def scrape(client, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return samples(response.get_data(as_text=True))


def samples(text):
    """{(sample name, frozenset of labels): value}."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0.0)


def test_requests_jobs_files_and_failed_sign_ins_are_counted(client, admin_headers, run_jobs, make_account):
    before = scrape(client, admin_headers)
    for _ in range(3):
        client.get("/jobs/", headers=admin_headers)
    assert client.get("/jobs/does-not-exist", headers=admin_headers).status_code == 404
    client.post("/api/health/probe", json={"steps": 1}, headers=admin_headers)
    run_jobs()
    account = make_account()
    bad = client.get(
        "/accounts/me/", headers={"Authorization": "Basic " + "bm9ib2R5Ondyb25n"}
    )  # nobody:wrong
    assert bad.status_code == 401
    project = client.post("/api/v1/projects/", json={"title": "p"}, headers=admin_headers).get_json()
    content = b"a,b\n1,2\n3,4\n"
    source = client.post(
        "/api/v1/datasources",
        data={
            "name": "s",
            "project": str(project["id"]),
            "type": "file",
            "file": (io.BytesIO(content), "d.csv"),
        },
        headers=admin_headers,
        content_type="multipart/form-data",
    ).get_json()
    served = client.get(source["file"], headers=admin_headers)
    assert served.status_code == 200 and account is not None
    after = scrape(client, admin_headers)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("halyard_http_requests_total", route="/jobs/", method="GET", status="200") == 3
    assert delta("halyard_http_requests_total", route="/jobs/<job_id>", method="GET", status="404") == 1
    assert delta("halyard_http_request_duration_seconds_count", route="/jobs/", method="GET") == 3
    assert delta("halyard_jobs_total", kind="probe", outcome="finished") == 1
    assert delta("halyard_job_duration_seconds_count", kind="probe", outcome="finished") == 1
    assert delta("halyard_signin_failures_total") == 1
    assert delta(
        "halyard_download_bytes_served_total", route="/api/v1/datasources/<int:source_id>/file"
    ) == len(served.data)
    # the existing Redis-backed families stay, with the queue ages and workers read at scrape time
    names = {name for name, _ in after}
    assert {"halyard_rq_queue_length", "halyard_rq_jobs", "halyard_schedules"} <= names
    assert "halyard_rq_queue_oldest_job_age_seconds" in names


@pytest.fixture
def config_overrides():
    return {"HALYARD_METRICS_TOKEN": METRICS_TOKEN}


def test_who_may_read_metrics(client, admin_headers, user_headers):
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    assert client.get("/metrics", headers=admin_headers).status_code == 200
    assert client.get("/metrics", headers=user_headers).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"}).status_code == 401
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["WWW-Authenticate"]


@pytest.mark.e2e
def test_two_gunicorn_workers_are_both_counted(app, tmp_path):
    """A real gunicorn with two workers (the config ``halyard start`` uses): requests spread over both, and
    one scrape counts every request, whichever worker served it or the scrape."""
    port, folder = free_port(), tmp_path / "metrics"
    folder.mkdir()
    env = subprocess_env(app, PROMETHEUS_MULTIPROC_DIR=str(folder), HALYARD_METRICS_TOKEN=METRICS_TOKEN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"]
        + ["-c", os.path.join(ROOT, "app", "gunicorn_conf.py"), "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {METRICS_TOKEN}"}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/api/health/live", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        sent = 1

        def pids():
            return {name.rsplit("_", 1)[1] for name in os.listdir(folder) if name.startswith("counter_")}

        with ThreadPoolExecutor(8) as pool:
            while len(pids()) < 2 and time.monotonic() < deadline:  # until both workers served some
                codes = list(
                    pool.map(
                        lambda _: requests.get(base + "/api/health/live", timeout=30).status_code, range(16)
                    )
                )
                assert codes == [200] * 16
                sent += 16
        assert len(pids()) == 2
        found = samples(requests.get(base + "/metrics", headers=auth, timeout=30).text)
        assert (
            value(found, "halyard_http_requests_total", route="/api/health/live", method="GET", status="200")
            == sent
        )
    finally:
        stop(proc)


@pytest.mark.e2e
def test_work_horses_of_a_real_worker_are_counted_in_one_file(app, client, admin_headers, tmp_path):
    """A real forking ``halyard worker`` with the folder ``halyard start`` would give it: every job runs in
    a work horse of its own, yet all of them count into one file (no file per job), and a scrape reading
    the folder sees every job."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    folder = tmp_path / "metrics"
    folder.mkdir()
    locations = [
        client.post("/api/health/probe", json={"steps": 1}, headers=admin_headers).headers["Location"]
        for _ in range(3)
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "worker", "--burst"],
        cwd=ROOT,
        env=subprocess_env(app, PROMETHEUS_MULTIPROC_DIR=str(folder)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.wait(120)
    finally:
        stop(proc)
    assert [client.get(u, headers=admin_headers).get_json()["status"] for u in locations] == ["finished"] * 3
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))
    found = samples(generate_latest(registry).decode())
    assert value(found, "halyard_jobs_total", kind="probe", outcome="finished") == 3
    assert value(found, "halyard_job_duration_seconds_count", kind="probe", outcome="finished") == 3
    horses = [name for name in os.listdir(folder) if name.startswith("counter_") and name.endswith("h.db")]
    assert len(horses) == 1, os.listdir(folder)  # one file for all the worker's horses
