"""Cancelling a running download on a real ``halyard worker``: the job first gets
HALYARD_DOWNLOADER_STOP_GRACE_SECONDS to stop itself (an executor interrupts its engine, e.g. Spark's jobs
on a Spark Connect server, which killing the work horse would leave running); only then is the horse
killed. The setting is changed in the test and both outcomes are checked."""

import os
import time

import pytest
from rq.job import Job

from app.extensions import db
from app.jobs import get_redis
from app.jobs.models import JobRecord
from app.resources.downloader.models import DownloadRequest
from tests.conftest import subprocess_env, wait_for
from tests.test_operate import halyard


@pytest.fixture
def config_overrides():
    return {"HALYARD_DOWNLOADER_ADAPTERS": {"DATABRICKS": "jobfuncs_rows:cooperative_adapter"}}


@pytest.mark.parametrize(
    "grace, stops_itself, way",
    [(20, True, "DELETE"), (0, False, "DELETE"), (20, True, "halyard jobs cancel")],
)
def test_a_cancelled_download_may_stop_itself_before_its_horse_is_killed(
    app, client, make_item, make_account, token_for, worker_process, grace, stops_itself, way
):
    """``way``: the last waiter leaves (DELETE), or an operator cancels the job: the same door."""
    app.config["HALYARD_DOWNLOADER_STOP_GRACE_SECONDS"] = grace
    item = make_item(executor_type="DATABRICKS")
    headers = token_for(make_account())
    worker_process()
    created = client.post(
        "/downloader/requests/",
        json={"catalogue_item_id": item.id, "spec": {"columns": ["price"], "randomize_ratio": 1}},
        headers=headers,
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    mark = os.path.join(app.instance_path, f"stopped-{body['id']}")  # the instance folder outlives a test
    if os.path.exists(mark):
        os.unlink(mark)
    job_id = body["_links"]["ec:download-request/job"]["href"].rstrip("/").rsplit("/", 1)[1]
    job = Job.fetch(job_id, connection=get_redis())
    wait_for(lambda: job.get_meta(refresh=True).get("message") == "working", what="the adapter at work")

    started = time.monotonic()
    if way == "DELETE":
        assert client.delete(f"/downloader/requests/{body['id']}", headers=headers).status_code == 200
    else:
        cancelled = halyard(subprocess_env(app), "jobs", "cancel", job_id)
        assert cancelled.returncode == 0, cancelled.stderr
    took = time.monotonic() - started

    ended = ("failed", "stopped")
    final = wait_for(lambda: status(job) if status(job) in ended else None, what="the job's end")
    wait_for(lambda: db.session.get(JobRecord, job_id).status == "canceled", what="a canceled record")
    reason = db.session.get(JobRecord, job_id).error  # says why
    req = db.session.get(DownloadRequest, body["id"])
    if way == "DELETE":
        assert reason.startswith("The download") and req.status == "cancelled" and req.file_key is None
    else:
        assert "operator" in reason and req.status == "failed" and req.file_key is None
    if stops_itself:  # the adapter saw the flag and stopped; the DELETE answered once it had
        assert os.path.exists(mark) and final == "failed" and took < grace
    else:  # killed at once: the adapter never saw the flag
        assert not os.path.exists(mark) and final == "stopped"


def status(job):
    value = job.get_status(refresh=True)
    return str(getattr(value, "value", value))
