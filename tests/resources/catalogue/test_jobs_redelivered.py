"""Jobs delivered again, late or after their subject changed (RQ delivers at least once; a requeue or a
slow queue can run a job after the world moved on): each one leaves the state it finds alone.
Every job runs on a real RQ worker (run_jobs: a SimpleWorker on the real Redis) or is called as a worker
would call it; ``unchanged()`` proves that the late run wrote no row, file or job."""

import io

import pytest

from app.extensions import db
from app.resources.datasources.jobs import process_source, run_steps
from app.resources.datasources.models import DataSource, StepRun
from app.resources.downloader.jobs import run_download
from app.resources.downloader.models import DownloadRequest


@pytest.fixture
def source(client, make_account, token_for, run_jobs):
    from app.resources.datasources.models import Project

    owner = make_account()
    headers = token_for(owner)
    project = Project(title="P", owner_id=owner.id)
    db.session.add(project)
    db.session.commit()
    r = client.post(
        "/api/v1/datasources",
        headers=headers,
        content_type="multipart/form-data",
        data={
            "name": "s",
            "project": str(project.id),
            "type": "file",
            "file": (io.BytesIO(b"a,b\n1,2\n3,4\n"), "d.csv"),
        },
    )
    assert r.status_code == 201, r.get_json()
    run_jobs()
    body = client.get(r.headers["Location"], headers=headers).get_json()
    assert body["status"] == "ready", body
    return body, headers


def test_a_stale_processing_job_leaves_the_replaced_source_alone(client, run_jobs, source, unchanged):
    body, headers = source
    r = client.put(
        body["_links"]["self"]["href"],
        headers=headers,
        content_type="multipart/form-data",
        data={"name": "s", "type": "file", "file": (io.BytesIO(b"a,b,c\n5,6,7\n"), "e.csv")},
    )
    assert r.status_code in (200, 202), r.get_json()
    run_jobs()
    current = db.session.get(DataSource, body["id"])
    assert current.version == 2 and current.status == "ready" and current.fields == 3
    with unchanged():  # the first version's job, delivered again now
        assert process_source(body["id"], 1) == {"skipped": True}


def test_a_step_job_of_a_deleted_source_ends_without_writing(client, run_jobs, source, unchanged):
    body, headers = source
    r = client.post(
        f"/api/v1/datasources/{body['id']}/job",
        headers=headers,
        json={"steps": [{"key": "builtin:fill_nulls", "exec_order": 1}]},
    )
    assert r.status_code == 201
    run_id = r.get_json()["id"]
    assert client.delete(body["_links"]["self"]["href"], headers=headers).status_code == 204
    assert db.session.get(StepRun, run_id) is None
    with unchanged(ignore=("jobs", "queues")):  # the job record settles, the queue drains; nothing else
        worker = run_jobs()
        assert run_steps(run_id) == {"skipped": True}  # and once more, as a redelivery would
    assert worker is not None


def request_download(client, bound_item, make_account, token_for):
    """A new account asks for the id column of a fresh 50-row item: (the POST response, its headers)."""
    headers = token_for(make_account())
    item = bound_item(rows=50)
    spec = {"columns": ["id"], "filters": [], "randomize_ratio": 1.0}
    return client.post(
        "/downloader/requests/", headers=headers, json={"catalogue_item_id": item.id, "spec": spec}
    ), headers


def test_a_finished_download_delivered_again_is_left_alone(
    client, bound_item, run_jobs, make_account, token_for, unchanged
):
    r, headers = request_download(client, bound_item, make_account, token_for)
    assert r.status_code == 201
    run_jobs()
    req = db.session.get(DownloadRequest, r.get_json()["id"])
    assert req.status == "finished" and req.file_key
    with unchanged():
        assert run_download(req.id) == "finished"


def test_a_download_cancelled_while_queued_never_runs(client, bound_item, run_jobs, make_account, token_for):
    r, headers = request_download(client, bound_item, make_account, token_for)
    assert client.delete(r.headers["Location"], headers=headers).status_code == 200
    run_jobs()
    req = db.session.get(DownloadRequest, r.get_json()["id"])
    assert req.status == "cancelled" and req.file_key is None and req.real_size is None
    # a redelivered job of the cancelled request does not start it either
    assert run_download(req.id) == "cancelled"
    db.session.expire_all()
    assert db.session.get(DownloadRequest, req.id).file_key is None
