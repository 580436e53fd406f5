"""Short Redis outages while a job runs, under a real ``halyard start`` (embedded Redis, and a redis-server
of the test's own that comes back empty).

A download whose adapter reports progress every 0.2 s until the test releases it runs through two
outages. During each, the web answers 503 problem+json with Retry-After for a call that needs Redis and
200 for one that does not, and the job's progress updates are dropped (informational only, one log line
each) instead of failing the job; the worker process waits and reconnects. Released, the download
finishes, the same worker process serves a new job, and nothing that tracks work is left unfinished.
"""

import os

import pytest
from faultkit import answers_without_redis, held_work_environment, poll, redis_outage

pytestmark = [pytest.mark.e2e, pytest.mark.timeout_sensitive]  # real processes, Redis killed mid-job

DROPPED = "meta not saved"
SPEC = [{"name": "id", "type": "INTEGER", "is_nullable": False, "size": 10, "distribution": None}]


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_a_job_rides_out_redis_blips(request, tmp_path, mode):
    server = request.getfixturevalue("redis_server") if mode == "server" else None  # outlives halyard
    instance = request.getfixturevalue("halyard")(
        redis_url=server.url if server else "", env=held_work_environment(tmp_path)
    )
    worker = instance.worker()
    item = instance.request(
        "POST", "/catalogue/items/", json={"name": "held", "executor_type": "DATABRICKS", "spec": SPEC}
    )
    assert item.status_code == 201, item.text
    spec = {"columns": ["id"], "filters": [], "randomize_ratio": 1.0}
    created = instance.request(
        "POST", "/downloader/requests/", json={"catalogue_item_id": item.json()["id"], "spec": spec}
    )
    assert created.status_code == 201, created.text
    download = created.headers["Location"]
    poll(lambda: instance.request("GET", download).json()["status"] == "running")

    reports = os.path.join(instance.env["FAULTS_RELEASE"], f"progress-{created.json()['id']}")

    def saved():
        with open(reports) as fh:
            return fh.read().count("saved")

    for _ in range(2):
        dropped = instance.log().count(DROPPED)
        with redis_outage(instance, server):
            answers_without_redis(instance)
            poll(lambda n=dropped: instance.log().count(DROPPED) > n)  # a progress update fell in the outage
            before = saved()
        poll(lambda: instance.request("POST", "/api/health/probe", json={"steps": 1}).status_code == 202)
        # the job saves its progress again (so the next outage is a new one, logged again)
        poll(lambda n=before: saved() > n)

    open(os.path.join(instance.env["FAULTS_RELEASE"], str(created.json()["id"])), "w").close()
    poll(lambda: instance.request("GET", download).json()["status"] == "finished", timeout=120)
    assert instance.worker().pid == worker.pid  # the worker waited and reconnected; it never crashed
    poll(lambda: instance.unfinished() == [] and [True], timeout=120)  # the probes ran too
