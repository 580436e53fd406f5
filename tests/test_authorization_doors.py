"""Doors between one account's resources: a run read through another source, a delivery read under another
schedule, failed tasks requeued by another account. Each is refused and changes nothing."""

import uuid

import pytest

from app.extensions import db
from app.jobs import all_queues
from app.resources.scheduler.models import FailedTask, ScheduleRun
from tests.authz_world import build_world

RUN_PATHS = ["", "/result", "/preview", "/table"]


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


@pytest.fixture
def world(client, make_account, token_for):
    return build_world(client, make_account, token_for)


@pytest.mark.parametrize("tail", RUN_PATHS)
def test_a_run_is_read_only_through_its_own_source(client, world, unchanged, tail):
    ids = world.ids
    own = client.get(
        f"/api/v1/datasources/{ids['source_id']}/jobs/{ids['run_id']}{tail}", headers=world.owner
    )
    assert own.status_code == 200
    with unchanged():
        # the owner's other source, and the other account's source with the owner's run (and the reverse)
        through_sibling = client.get(
            f"/api/v1/datasources/{ids['sibling_id']}/jobs/{ids['run_id']}{tail}", headers=world.owner
        )
        through_theirs = client.get(
            f"/api/v1/datasources/{ids['their_source_id']}/jobs/{ids['run_id']}{tail}", headers=world.outsider
        )
        theirs_through_mine = client.get(
            f"/api/v1/datasources/{ids['source_id']}/jobs/{ids['their_run_id']}{tail}", headers=world.owner
        )
    for response in (through_sibling, through_theirs, theirs_through_mine):
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["@event"] == "COULD_NOT_FIND_DATASOURCEJOB"


def test_a_delivery_is_read_only_under_its_own_schedule(client, world, unchanged):
    ids = world.ids
    path = "/api/v1/schedule/{}/deliveries/{}"
    assert (
        client.get(path.format(ids["schedule_id"], ids["delivery_id"]), headers=world.owner).status_code
        == 200
    )
    with unchanged():
        mine_under_theirs = client.get(
            path.format(ids["their_schedule_id"], ids["delivery_id"]), headers=world.outsider
        )
        theirs_under_mine = client.get(
            path.format(ids["schedule_id"], ids["their_delivery_id"]), headers=world.owner
        )
        listed = client.get(
            f"/api/v1/schedule/{ids['their_schedule_id']}/deliveries/?id={ids['delivery_id']}",
            headers=world.outsider,
        )
    for response in (mine_under_theirs, theirs_under_mine, listed):
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["@event"].startswith("COULD_NOT_FIND_")


@pytest.mark.parametrize(
    "body",
    [lambda ids: {"ids": [str(ids["task_id"])]}, lambda ids: {"schedule": str(ids["schedule_id"])}],
    ids=["by-id", "by-schedule"],
)
def test_another_accounts_failed_tasks_cannot_be_requeued(client, world, unchanged, body):
    with unchanged():
        response = client.post("/api/v1/failed-tasks/", json=body(world.ids), headers=world.outsider)
    assert response.status_code == 201 and response.get_json()["count"] == 0


def test_requeueing_all_touches_only_the_callers_tasks(app, client, world):
    ids = world.ids
    mine = db.session.get(FailedTask, ids["task_id"])
    mine_run = (mine.run_id, db.session.get(ScheduleRun, mine.run_id).status)
    queued = {q.name: set(q.job_ids) for q in all_queues(app)}
    response = client.post("/api/v1/failed-tasks/", json={}, headers=world.outsider)
    assert response.status_code == 201 and response.get_json()["count"] == 1
    db.session.expire_all()
    assert db.session.get(FailedTask, ids["task_id"]) is not None  # the owner's task is still failed
    assert (mine.run_id, db.session.get(ScheduleRun, mine.run_id).status) == mine_run
    assert db.session.get(FailedTask, ids["their_task_id"]) is None  # the caller's own task was requeued
    new = {job for q in all_queues(app) for job in set(q.job_ids) - queued[q.name]}
    assert len(new) == 1
    assert (
        db.session.get(
            ScheduleRun,
            db.session.query(ScheduleRun)
            .filter(ScheduleRun.schedule_id == uuid.UUID(str(ids["their_schedule_id"])))
            .one()
            .id,
        ).status
        != "failed"
    )
