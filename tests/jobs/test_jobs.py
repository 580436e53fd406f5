"""Jobs as resources: real Redis, real RQ workers (in-process and forking subprocesses)."""

import importlib
import time

import jobfuncs
import pytest

from app.jobs import MOVED_FUNCTIONS, enqueue, get_queue


def wait_for(predicate, timeout=90.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def test_probe_job_runs_queued_to_finished(client, admin_headers, run_jobs):
    started = client.post("/api/health/probe", json={"steps": 2}, headers=admin_headers)
    assert started.status_code == 202
    location = started.headers["Location"]
    assert started.get_json()["_links"]["self"]["href"] == location

    queued = client.get(location, headers=admin_headers).get_json()
    assert queued["status"] == "queued" and queued["started"] is None
    assert "ec:job/result" not in queued["_links"]
    assert queued["_links"]["ec:job/subject"]["href"] == "http://localhost/api/health/"

    run_jobs()
    done = client.get(location, headers=admin_headers).get_json()
    assert done["status"] == "finished"
    assert done["progress"]["fraction"] == 1.0 and done["progress"]["message"] == "done"
    assert done["progress"]["updated"].endswith("Z")  # when the job last reported progress
    assert done["started"] and done["ended"] and done["error"] is None
    assert done["_links"]["ec:job/result"]["href"] == "http://localhost/api/health/"
    assert done["_links"]["collection"]["href"] == "http://localhost/jobs/"


def test_failing_job_shows_a_safe_summary(app, client, make_account, token_for, run_jobs):
    owner = make_account()
    record = enqueue(jobfuncs.boom, kind="boom", owner=owner)
    run_jobs()
    response = client.get(f"/jobs/{record.id}", headers=token_for(owner))
    body = response.get_json()
    assert body["status"] == "failed"
    assert body["error"] == "The job failed with an internal error (ValueError)."
    assert "hunter2" not in response.get_data(as_text=True)


def test_job_error_message_is_shown(client, admin_headers, run_jobs):
    location = client.post("/api/health/probe", json={"fail": True}, headers=admin_headers).headers[
        "Location"
    ]
    run_jobs()
    body = client.get(location, headers=admin_headers).get_json()
    assert body["status"] == "failed" and body["error"] == "The probe was asked to fail."


def test_jobs_are_visible_to_their_owner_and_admins_only(app, client, make_account, token_for):
    owner, stranger, admin = make_account(), make_account(), make_account(type="ADMIN")
    record = enqueue(jobfuncs.steps, kind="steps", owner=owner)
    assert client.get(f"/jobs/{record.id}", headers=token_for(owner)).status_code == 200
    assert client.get(f"/jobs/{record.id}", headers=token_for(admin)).status_code == 200
    hidden = client.get(f"/jobs/{record.id}", headers=token_for(stranger))
    assert hidden.status_code == 404 and hidden.get_json()["@event"] == "COULD_NOT_FIND_JOB"
    listing = client.get("/jobs/", headers=token_for(stranger)).get_json()
    assert listing["total"] == 0 and listing["_embedded"]["ec:job"] == []
    assert client.get("/jobs/", headers=token_for(owner)).get_json()["total"] == 1


def test_jobs_collection_grammar(app, client, make_account, token_for, run_jobs):
    owner = make_account()
    headers = token_for(owner)
    for _ in range(3):
        enqueue(jobfuncs.steps, 1, 0, kind="steps", owner=owner)
    enqueue(jobfuncs.boom, kind="boom", owner=owner)
    run_jobs()
    failed = client.get("/jobs/?status=failed", headers=headers).get_json()
    assert failed["total"] == 1 and failed["_embedded"]["ec:job"][0]["kind"] == "boom"
    page = client.get("/jobs/?size=2&sort=kind", headers=headers).get_json()
    assert page["count"] == 2 and page["total"] == 4 and "next" in page["_links"]
    bad = client.get("/jobs/?status=exploded", headers=headers)
    assert bad.status_code == 400 and "status" in bad.get_json()["errors"]
    single = client.get(f"/jobs/?id={failed['_embedded']['ec:job'][0]['id']}", headers=headers).get_json()
    assert single["kind"] == "boom" and single["status"] == "failed"


def test_real_worker_reports_progress_then_finishes(app, client, make_account, token_for, worker_process):
    from app.jobs import get_redis

    owner = make_account()
    headers = token_for(owner)
    gate = f"{app.config['HALYARD_QUEUE_PREFIX']}:gate"  # the job waits at each step until the test allows it
    record = enqueue(jobfuncs.gated_steps, 4, gate, kind="steps", owner=owner)
    worker_process()
    url = f"/jobs/{record.id}"
    running = wait_for(
        lambda: (
            (b := client.get(url, headers=headers).get_json())["status"] == "started"
            and b["progress"]["message"] == "step 2"
            and b
        ),
        timeout=90,
    )
    assert running["progress"]["fraction"] == 0.25 and running["ended"] is None
    get_redis().rpush(gate, 1, 1, 1)  # let steps 2 to 4 end
    finished = wait_for(
        lambda: (b := client.get(url, headers=headers).get_json())["status"] == "finished" and b, timeout=90
    )
    assert finished["progress"]["fraction"] == 1.0


def test_worker_survives_a_crashing_job(app, client, make_account, token_for, worker_process):
    owner = make_account()
    headers = token_for(owner)
    crashed = enqueue(jobfuncs.crash, kind="crash", owner=owner)
    after = enqueue(jobfuncs.steps, 1, 0, kind="steps", owner=owner)
    worker = worker_process()
    wait_for(lambda: client.get(f"/jobs/{after.id}", headers=headers).get_json()["status"] == "finished")
    body = client.get(f"/jobs/{crashed.id}", headers=headers).get_json()
    assert body["status"] == "failed"
    assert body["error"] == "The worker running this job stopped before it finished."
    assert worker.poll() is None  # the worker process itself is still serving


@pytest.mark.parametrize("config_overrides", [{"HALYARD_PAGE_MAX_SIZE": 5, "HALYARD_PAGE_DEFAULT_SIZE": 2}])
def test_paging_limits_come_from_the_configuration(client, admin_headers):
    assert client.get("/jobs/?size=5", headers=admin_headers).status_code == 200
    too_big = client.get("/jobs/?size=6", headers=admin_headers)
    assert too_big.status_code == 400 and list(too_big.get_json()["errors"]) == ["size"]
    assert "size=2" in client.get("/jobs/", headers=admin_headers).get_json()["_links"]["self"]["href"]


@pytest.mark.parametrize("old_name", sorted(MOVED_FUNCTIONS))
def test_a_job_queued_under_a_moved_function_name_still_runs(app, old_name):
    """Jobs queued before an upgrade name their function by the old dotted path (app/jobs MOVED_FUNCTIONS):
    the job resolves to the function's new home, which exists."""
    job = get_queue("high", app).enqueue(old_name)
    assert job.func_name == old_name
    new_module, name = MOVED_FUNCTIONS[old_name].rsplit(".", 1)
    assert job.func is getattr(importlib.import_module(new_module), name)
    assert not old_name.startswith(new_module + ".")
