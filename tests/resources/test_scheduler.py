"""Scheduler API: validation, authorization, timing functions, arming/cancelling, exactly-once claims,
missed-run policy, metrics. Firing through real workers is in test_scheduler_firing.py."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rq.registry import ScheduledJobRegistry

from app.extensions import db
from app.jobs import get_queue
from app.resources.scheduler import delivery, jobs
from app.resources.scheduler.models import DeliveryAttempt, FailedTask, Schedule, ScheduleRun
from app.resources.scheduler.timing import (
    DefinitionError,
    cron_expression,
    following_slot,
    next_cron,
    next_interval,
    next_slot,
    parse_interval,
)
from app.timeutil import utcnow

ENDPOINT = "http://127.0.0.1:9/hook"
SCHEDULES = "/api/v1/schedule/"


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


def create(client, headers, **body):
    body = {"endpoint": ENDPOINT, "interval_definition": "1 hours", "payload": {"a": 1}, **body}
    return client.post(SCHEDULES, json=body, headers=headers)


def deliver(run_id, attempt=1):
    """The first attempt of one run, as a delivery job makes it: its outcome."""
    return delivery.deliver_batch([str(run_id)], attempt)[str(run_id)]


def scheduled_ids(app):
    return ScheduledJobRegistry(queue=get_queue(jobs.FIRE_QUEUE, app)).get_job_ids()


# --- pure timing functions, fixed clocks -------------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, 0)


@pytest.mark.parametrize(
    "definition, after, expected",
    [
        ("*/5 * * * *", T0, datetime(2026, 3, 1, 12, 5)),
        ("*/5 * * * *", T0 + timedelta(minutes=4, seconds=59), datetime(2026, 3, 1, 12, 5)),
        ("0 0 * * *", T0, datetime(2026, 3, 2)),
        ("0 9 * * 1", T0, datetime(2026, 3, 2, 9)),  # 2026-03-01 is a Sunday
        ("30 6 1 1 * 2027", T0, datetime(2027, 1, 1, 6, 30)),
        ("0 0 1 1 * 2020", T0, None),  # a year in the past: no further run
    ],
)
def test_next_cron(definition, after, expected):
    assert next_cron(definition, after) == expected


@pytest.mark.parametrize(
    "definition, after, expected",
    [
        ("1 seconds", T0, T0 + timedelta(seconds=1)),
        ("1 seconds", T0 + timedelta(seconds=5, microseconds=300), T0 + timedelta(seconds=6)),
        ("10 minutes", T0 - timedelta(hours=1), T0 + timedelta(minutes=10)),
        ("10 minutes", T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)),
        ("2 days", T0 + timedelta(days=3), T0 + timedelta(days=4)),
    ],
)
def test_next_interval_keeps_the_grid(definition, after, expected):
    assert next_interval(definition, T0, after) == expected


def test_missed_slots_collapse_into_one_next_slot():
    """After 100 missed slots the next run is the first slot after now, not the first missed one."""
    now = T0 + timedelta(seconds=100.4)
    assert next_slot(None, "1 seconds", T0, after=now) == T0 + timedelta(seconds=101)
    assert next_slot("* * * * *", None, T0, after=T0 + timedelta(minutes=30, seconds=1)) == T0 + timedelta(
        minutes=31
    )


def test_following_slot_keeps_slots_under_normal_lag_and_collapses_after_downtime():
    slot = T0 + timedelta(seconds=10)
    # the fire job ran 1.5 s late: the next slot (already 0.5 s overdue) is still sent
    assert following_slot(None, "1 seconds", T0, slot, slot + timedelta(seconds=1.5), 2) == slot + timedelta(
        seconds=1
    )
    # the workers were down for a minute: one overdue run, then the first slot after now
    now = slot + timedelta(seconds=60.2)
    assert following_slot(None, "1 seconds", T0, slot, now, 2) == slot + timedelta(seconds=61)
    assert following_slot("* * * * *", None, T0, T0, T0 + timedelta(hours=2, seconds=5), 2) == T0 + timedelta(
        hours=2, minutes=1
    )
    assert following_slot("0 0 1 1 * 2026", None, T0, T0, T0, 2) is None


def test_parse_interval_and_cron_errors():
    assert parse_interval("3 hours") == timedelta(hours=3)
    for bad in ("1 weeks", "minutes", "1", "-1 seconds", "0 seconds", "1.5 minutes"):
        with pytest.raises(DefinitionError, match="is not a valid interval string: integer and period"):
            parse_interval(bad)
    with pytest.raises(DefinitionError, match=r"^99 \* \* \* \* is not a valid crontab string: "):
        cron_expression("99 * * * *")
    with pytest.raises(DefinitionError, match="is not a valid crontab string"):
        cron_expression("* * * *")
    assert cron_expression("0 12 * * * 2030") == "0 12 * * * 0 2030"


# --- validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field, message",
    [
        (
            {"cron_definition": "99 * * * *", "interval_definition": None},
            "cron_definition",
            "99 * * * * is not a valid crontab string: ",
        ),
        (
            {"interval_definition": "every minute"},
            "interval_definition",
            "every minute is not a valid interval string: integer and period (from: days, hours, minutes,"
            " seconds) "
            "e.g. 1 minutes",
        ),
        ({"cron_definition": "* * * * *"}, "cron_definition", "Set exactly one of"),
        ({"interval_definition": None}, "interval_definition", "Set exactly one of"),
        ({"endpoint": "ftp://example.org/x"}, "endpoint", "is not a valid http(s) URL"),
        ({"endpoint": "http://10.1.2.3/hook"}, "endpoint", "is not allowed as an endpoint"),
        ({"endpoint": "http://169.254.169.254/latest"}, "endpoint", "is not allowed as an endpoint"),
        ({"frequency": 0}, "frequency", ""),
        ({"enabled": "maybe"}, "enabled", ""),
        ({"colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_create_rejects_bad_bodies_and_writes_nothing(
    app, client, user_headers, unchanged, body, field, message
):
    with unchanged():
        response = create(client, user_headers, **body)
    assert response.status_code == 400, response.get_json()
    problem = response.get_json()
    assert response.content_type == "application/problem+json"
    assert problem["@event"] == "BODY_DID_NOT_VALIDATE"
    assert any(message in m for m in problem["errors"][field]), problem["errors"]
    assert db.session.query(Schedule).count() == 0
    assert scheduled_ids(app) == []


def test_create_get_and_secrets_never_returned(app, client, user_headers, caplog):
    response = create(client, user_headers, auth_token="s3cr3t-token", frequency=3)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == body["_links"]["self"]["href"]
    assert body["signing_secret"].startswith("whsec_")
    assert body["has_auth_token"] is True and "auth_token" not in body
    assert body["interval_definition"] == "1 hours" and body["cron_definition"] is None
    assert body["enabled"] is True and body["triggered"] == 0 and body["frequency"] == 3
    assert body["next_send_at"] is not None and body["created_by"] == body["updated_by"]
    row = db.session.get(Schedule, uuid.UUID(body["id"]))
    assert "s3cr3t-token" not in (row.auth_token_encrypted or "") and row.auth_token == "s3cr3t-token"
    assert row.secret == body["signing_secret"] and body["signing_secret"] not in row.secret_encrypted
    again = client.get(response.headers["Location"], headers=user_headers).get_json()
    assert "signing_secret" not in again and "auth_token" not in again
    assert again["_links"]["ec:schedule/deliveries"]["href"].endswith(
        f"/api/v1/schedule/{body['id']}/deliveries/"
    )
    assert "s3cr3t-token" not in caplog.text and body["signing_secret"] not in caplog.text
    # armed: exactly one scheduled RQ tick, for the second of the next slot
    assert scheduled_ids(app) == [jobs.tick_job_id(row.next_send_at)]


def test_seed_alias_inteval_definition(client, user_headers):
    response = client.post(
        SCHEDULES, json={"endpoint": ENDPOINT, "inteval_definition": "2 minutes"}, headers=user_headers
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["interval_definition"] == "2 minutes"


def test_list_grammar_and_limit_offset(client, user_headers, admin_headers):
    for n in range(3):
        assert create(client, user_headers, payload={"n": n}).status_code == 201
    assert create(client, admin_headers).status_code == 201
    page = client.get(SCHEDULES + "?limit=2&offset=0", headers=user_headers).get_json()
    assert page["total"] == 3 and page["count"] == 2
    assert "offset=2" in page["_links"]["next"]["href"]
    assert len(page["_embedded"]["ec:schedule"]) == 2
    assert client.get(SCHEDULES, headers=admin_headers).get_json()["total"] == 4
    bad = client.get(SCHEDULES + "?colour=red", headers=user_headers)
    assert bad.status_code == 400 and "colour" in bad.get_json()["errors"]


def test_put_reschedules_at_once_and_disable_cancels(app, client, user_headers):
    created = create(client, user_headers).get_json()
    href = created["_links"]["self"]["href"]
    row = db.session.get(Schedule, uuid.UUID(created["id"]))
    old_slot = row.next_send_at
    assert scheduled_ids(app) == [jobs.tick_job_id(old_slot)]

    response = client.put(href, json={"cron_definition": "*/5 * * * *"}, headers=user_headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["cron_definition"] == "*/5 * * * *" and body["interval_definition"] is None
    db.session.expire_all()
    row = db.session.get(Schedule, row.id)
    assert row.next_send_at.minute % 5 == 0 and row.next_send_at.second == 0
    # Armed for the new slot: scheduled a lead before it, or (when the PUT lands within the lead of
    # the slot, one time in 300 with */5) enqueued at once as a catch-up tick.
    tick_id = jobs.tick_job_id(row.next_send_at)
    armed = scheduled_ids(app) + get_queue(jobs.FIRE_QUEUE, app).get_job_ids()
    assert any(i == tick_id or i.startswith(tick_id + "-now-") for i in armed), (tick_id, armed)
    new_slot = row.next_send_at
    assert new_slot < old_slot
    assert jobs.tick(now=new_slot - timedelta(seconds=1))["claimed"] == 0  # not due before its new slot
    # by the old slot's time the schedule has run on its new grid only: one run, for the new slot
    assert jobs.tick(now=old_slot + timedelta(seconds=1))["claimed"] == 1
    assert [r.slot for r in db.session.query(ScheduleRun)] == [new_slot]
    db.session.query(ScheduleRun).delete()
    db.session.commit()

    response = client.put(href, json={"enabled": False}, headers=user_headers)
    assert response.status_code == 200 and response.get_json()["next_send_at"] is None
    db.session.expire_all()
    assert jobs.tick(now=old_slot + timedelta(days=1))["claimed"] == 0  # disabled: never claimed

    response = client.put(href, json={"payload": [1, 2], "auth_token": "t"}, headers=user_headers)
    assert response.get_json()["payload"] == [1, 2] and response.get_json()["has_auth_token"] is True
    assert response.get_json()["next_send_at"] is None  # still disabled
    assert jobs.tick(now=old_slot + timedelta(days=1))["claimed"] == 0
    assert db.session.query(ScheduleRun).count() == 0

    bad = client.put(
        href, json={"cron_definition": "* * * * *", "interval_definition": "1 seconds"}, headers=user_headers
    )
    assert bad.status_code == 400 and set(bad.get_json()["errors"]) == {
        "cron_definition",
        "interval_definition",
    }
    db.session.expire_all()
    assert db.session.get(Schedule, row.id).cron_definition == "*/5 * * * *"


def test_delete_cancels_pending_job(app, client, user_headers):
    created = create(client, user_headers).get_json()
    assert len(scheduled_ids(app)) == 1
    due = db.session.get(Schedule, uuid.UUID(created["id"])).next_send_at
    response = client.delete(created["_links"]["self"]["href"], headers=user_headers)
    assert response.status_code == 204
    assert jobs.tick(now=due + timedelta(seconds=1))["claimed"] == 0  # the armed tick sends nothing
    assert db.session.query(ScheduleRun).count() == 0
    assert client.get(created["_links"]["self"]["href"], headers=user_headers).status_code == 404


def test_if_match_is_enforced(client, user_headers):
    created = create(client, user_headers)
    href = created.headers["Location"]
    response = client.put(href, json={"payload": 1}, headers={**user_headers, "If-Match": '"stale"'})
    assert response.status_code == 412
    etag = client.get(href, headers=user_headers).headers["ETag"]
    assert (
        client.put(href, json={"payload": 2}, headers={**user_headers, "If-Match": etag}).status_code == 200
    )


# --- authorization -----------------------------------------------------------------------------------


def _paths(schedule_id, task_id):
    return [
        ("GET", SCHEDULES),
        ("POST", SCHEDULES),
        ("GET", f"{SCHEDULES}{schedule_id}/"),
        ("PUT", f"{SCHEDULES}{schedule_id}/"),
        ("DELETE", f"{SCHEDULES}{schedule_id}/"),
        ("GET", f"{SCHEDULES}{schedule_id}/deliveries/"),
        ("GET", "/api/v1/failed-tasks/"),
        ("POST", "/api/v1/failed-tasks/"),
        ("GET", f"/api/v1/failed-tasks/{task_id}"),
        ("GET", "/api/metrics/"),
        ("POST", "/api/metrics/"),
        ("GET", "/metrics"),
    ]


@pytest.fixture
def owned(client, make_account, token_for):
    """A schedule of one user with a failed task, and that user's headers."""
    owner = make_account()
    headers = token_for(owner)
    created = create(client, headers).get_json()
    sid = uuid.UUID(created["id"])
    run = ScheduleRun(schedule_id=sid, slot=datetime(2026, 1, 1), generation=0, status="failed", attempts=1)
    db.session.add(run)
    db.session.flush()
    task = FailedTask(schedule_id=sid, run_id=run.id, attempts=1, reason="HTTP 500")
    db.session.add(task)
    db.session.commit()
    return sid, task.id, headers


@pytest.mark.parametrize("index", range(12))
def test_every_path_needs_credentials(client, owned, unchanged, index):
    method, path = _paths(owned[0], owned[1])[index]
    with unchanged():
        response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert response.get_json()["@event"] == "COULD_NOT_FIND_AUTH_TOKEN"
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize("index", [2, 3, 4, 5, 8])
def test_other_users_get_404(client, owned, user_headers, unchanged, index):
    method, path = _paths(owned[0], owned[1])[index]
    with unchanged():
        response = client.open(path, method=method, json={"payload": 1}, headers=user_headers)
    assert response.status_code == 404
    assert response.get_json()["@event"] in ("COULD_NOT_FIND_SCHEDULE", "COULD_NOT_FIND_FAILEDTASK")
    # the same request from the owner goes through: the refusal was about who asked
    assert client.open(path, method=method, json={"payload": 1}, headers=owned[2]).status_code < 400


def test_other_users_lists_do_not_leak(client, owned, user_headers, unchanged):
    assert client.get(SCHEDULES, headers=user_headers).get_json()["total"] == 0
    assert client.get("/api/v1/failed-tasks/", headers=user_headers).get_json()["total"] == 0
    with unchanged():
        response = client.post("/api/v1/failed-tasks/", json={}, headers=user_headers)
    assert response.status_code == 201 and response.get_json()["count"] == 0


def test_prometheus_metrics_are_admin_only(client, owned, unchanged):
    with unchanged():
        assert client.get("/metrics", headers=owned[2]).status_code == 403


def test_any_account_reads_the_metric_keys_but_not_the_values(client, owned, admin_headers):
    """Seed 003: GET /api/metrics/ lists the keys for any signed-in account; values stay ADMIN-only."""
    listing = client.get("/api/metrics/", headers=owned[2]).get_json()
    assert "schedules.created.sum" in listing["metrics_available"]
    assert "metrics" not in listing and "snapshot" not in listing
    assert "metrics" in client.get("/api/metrics/", headers=admin_headers).get_json()


def test_any_account_starts_one_metrics_snapshot_at_a_time(app, client, owned, admin_headers, run_jobs):
    """Seed 003: POST /api/metrics/ is 200; while a snapshot job is pending no second one is queued."""
    from app.jobs.models import JobRecord

    first = client.post("/api/metrics/", headers=owned[2])
    assert first.status_code == 200 and first.get_json()["scheduled_metrics_initiated"] is True
    again = client.post("/api/metrics/", headers=admin_headers)
    assert again.status_code == 200 and again.headers["Location"] == first.headers["Location"]
    assert db.session.query(JobRecord).filter_by(kind="scheduler.metrics").count() == 1
    run_jobs()
    assert client.post("/api/metrics/", headers=owned[2]).headers["Location"] != first.headers["Location"]
    assert db.session.query(JobRecord).filter_by(kind="scheduler.metrics").count() == 2


def test_admin_sees_and_changes_any_schedule(client, owned, admin_headers):
    href = f"{SCHEDULES}{owned[0]}/"
    assert client.get(href, headers=admin_headers).status_code == 200
    assert client.put(href, json={"payload": "x"}, headers=admin_headers).get_json()["payload"] == "x"
    assert client.get("/api/v1/failed-tasks/", headers=admin_headers).get_json()["total"] == 1


# --- exactly-once claims and the missed-run policy (jobs called in this process) ----------------------


def _make_schedule(account, **values):
    now = utcnow().replace(microsecond=0)
    schedule = Schedule(
        created_by_id=account.id,
        endpoint=ENDPOINT,
        interval_definition="1 seconds",
        payload={"k": "v"},
        enabled=True,
        anchor_at=now,
        next_send_at=now,
        triggered=0,
        generation=0,
        secret="whsec_test",
        created_at=now,
        updated_at=now,
    )
    for name, value in values.items():
        setattr(schedule, name, value)
    db.session.add(schedule)
    db.session.commit()
    return schedule


def _epoch(moment):
    return int(moment.replace(tzinfo=UTC).timestamp())


def test_arming_twice_creates_one_job(app, make_account):
    schedule = _make_schedule(
        make_account(), next_send_at=utcnow().replace(microsecond=0) + timedelta(hours=1)
    )
    other = _make_schedule(make_account(), next_send_at=schedule.next_send_at)
    first, second, third = jobs.arm(schedule), jobs.arm(schedule), jobs.arm(other)
    assert first == second == third and scheduled_ids(app) == [first]  # one tick per due second


def test_tick_claims_a_slot_once_and_collapses_missed_runs(app, make_account):
    past = utcnow().replace(microsecond=0) - timedelta(seconds=100)
    schedule = _make_schedule(make_account(), anchor_at=past - timedelta(seconds=1), next_send_at=past)
    now = utcnow()  # one fixed clock: the machine may cross a second between the calls
    assert jobs.tick(_epoch(past), now=now)["claimed"] == 1
    assert jobs.tick(_epoch(past), now=now)["claimed"] == 0  # RQ handing the tick out twice: no second run
    assert jobs.tick(_epoch(past) + 1, now=now)["claimed"] == 0  # the collapsed slot is not due yet
    db.session.expire_all()
    assert db.session.query(ScheduleRun).count() == 1
    row = db.session.get(Schedule, schedule.id)
    assert row.triggered == 1 and row.next_send_at > utcnow() - timedelta(seconds=1)
    # one delivery batch holding the run, and the tick of the next slot armed
    run = db.session.query(ScheduleRun).one()
    queued = get_queue(delivery.DELIVERY_QUEUE, app).jobs
    assert [job.id for job in queued] == [delivery.delivery_job_id(run.id, 1)]
    assert queued[0].args[0] == [str(run.id)]
    assert jobs.tick_job_id(row.next_send_at) in scheduled_ids(app)


def test_concurrent_claims_of_the_same_slot_record_one_run(app, make_account):
    """Two ticks that read the same due rows (no row locks on SQLite): the compare-and-set lets one win."""
    now = utcnow().replace(microsecond=0)
    schedules = [_make_schedule(make_account(), next_send_at=now - timedelta(seconds=1)) for _ in range(3)]
    real_execute, raced = db.session.execute, []

    def racing_execute(statement, *args, **kwargs):
        # the claim: an UPDATE (SQLite) or the INSERT fed by the UPDATE CTE (PostgreSQL)
        if not raced and (getattr(statement, "is_update", False) or getattr(statement, "is_insert", False)):
            raced.append(True)
            won, _ = jobs.claim_due(now, 100)  # the other tick wins the race in between
            assert sum(map(len, won.values())) == 3
        return real_execute(statement, *args, **kwargs)

    db.session.execute = racing_execute
    try:
        second, _ = jobs.claim_due(now, 100)
    finally:
        del db.session.execute
    assert raced and second == {}
    assert db.session.query(ScheduleRun).count() == 3
    db.session.expire_all()
    assert all(db.session.get(Schedule, s.id).triggered == 1 for s in schedules)


def test_tick_skips_disabled_and_caps_frequency(app, make_account):
    now = utcnow().replace(microsecond=0)
    off = _make_schedule(make_account(), enabled=False, next_send_at=now - timedelta(seconds=1))
    capped = _make_schedule(make_account(), frequency=2, triggered=1, next_send_at=now - timedelta(seconds=1))
    assert jobs.tick(now=now)["claimed"] == 1
    db.session.expire_all()
    assert db.session.query(ScheduleRun).one().schedule_id == capped.id
    row = db.session.get(Schedule, capped.id)
    assert (row.enabled, row.next_send_at, row.triggered) == (False, None, 2)
    assert db.session.get(Schedule, off.id).triggered == 0


def test_a_due_delivery_of_a_disabled_schedule_is_not_sent(app, make_account):
    schedule = _make_schedule(make_account())
    jobs.tick(now=schedule.next_send_at)
    run = db.session.query(ScheduleRun).one()
    schedule = db.session.get(Schedule, schedule.id)
    schedule.enabled, schedule.generation = False, 1  # what PUT enabled=false does
    db.session.commit()
    assert deliver(run.id) == "canceled"
    assert deliver(run.id) == "duplicate"
    attempt = db.session.query(DeliveryAttempt).one()
    assert attempt.outcome == "canceled" and attempt.status_code is None


def test_delivery_to_a_private_address_is_refused(app, client, make_account, admin_headers):
    """DNS may change after validation: the outbound client refuses again at send time."""
    schedule = _make_schedule(make_account(), endpoint="http://10.255.255.1/hook", frequency=1)
    jobs.tick(now=schedule.next_send_at)
    run = db.session.query(ScheduleRun).one()
    assert deliver(run.id) == "failed"  # refused is not retried
    attempt = db.session.query(DeliveryAttempt).one()
    assert attempt.outcome == "failed" and attempt.error.startswith("refused")
    assert db.session.query(FailedTask).one().run_id == run.id
    metrics = client.get("/api/metrics/", headers=admin_headers).get_json()["metrics"]
    assert metrics["scheduler.deliver_task.refused.sum"] == 1
    assert metrics["scheduler.deliver_task.failed.sum"] == 1


# --- metrics -----------------------------------------------------------------------------------------


def test_metrics_counters_snapshot_and_prometheus(app, client, admin_headers, user_headers, run_jobs):
    listing = client.get("/api/metrics/", headers=admin_headers).get_json()
    for key in (
        "schedules.created.sum",
        "scheduler.deliver_task.connection_error.sum",
        "scheduler.deliver_task.timeout.sum",
    ):
        assert key in listing["metrics_available"] and listing["metrics"][key] == 0
    assert create(client, user_headers).status_code == 201
    assert create(client, user_headers, interval_definition="2 hours").status_code == 201  # a second tick
    from app.resources.scheduler import counters

    counters.incr("scheduler.deliver_task.http_error.503.sum")
    listing = client.get("/api/metrics/", headers=admin_headers).get_json()
    assert listing["metrics"]["schedules.created.sum"] == 2
    assert "scheduler.deliver_task.http_error.503.sum" in listing["metrics_available"]
    assert listing["snapshot"] is None

    response = client.post("/api/metrics/", headers=admin_headers)
    assert response.status_code == 200 and response.get_json() == {
        **response.get_json(),
        "scheduled_metrics_initiated": True,
    }
    assert "/jobs/" in response.headers["Location"]
    run_jobs()
    snapshot = client.get("/api/metrics/", headers=admin_headers).get_json()["snapshot"]
    assert snapshot["values"]["schedules.created.sum"] == 2 and snapshot["values"]["schedules.enabled"] == 2
    assert client.get(response.headers["Location"], headers=admin_headers).get_json()["status"] == "finished"

    text = client.get("/metrics", headers=admin_headers)
    assert text.status_code == 200 and text.content_type.startswith("text/plain")
    body = text.get_data(as_text=True)
    assert "halyard_schedules_created_total 2.0" in body
    assert 'halyard_scheduler_deliver_task_http_error_total{code="503"} 1.0' in body
    assert 'halyard_schedules{enabled="true"} 2.0' in body
    assert (
        f'halyard_rq_jobs{{queue="{app.config["HALYARD_QUEUE_PREFIX"]}-high",state="scheduled"}} 2.0' in body
    )


def test_entry_point_links_and_rel_docs(client):
    links = client.get("/").get_json()["_links"]
    assert links["ec:schedules"]["href"].endswith("/api/v1/schedule/")
    assert links["ec:schedule/by-id"]["templated"] is True and "{id}" in links["ec:schedule/by-id"]["href"]
    assert links["ec:failed-tasks"]["href"].endswith("/api/v1/failed-tasks/")
    assert links["ec:metrics"]["href"].endswith("/api/metrics/")
    for rel in (
        "schedules",
        "schedule",
        "schedule/by-id",
        "schedule/deliveries",
        "delivery",
        "failed-tasks",
        "failed-task",
        "metrics",
        "metrics/prometheus",
        "schedules/options",
    ):
        assert client.get(f"/rels/{rel}").status_code == 200, rel


def test_lost_attempts_are_sent_once_more_then_recorded_as_failed(app, make_account):
    """Runs left ``sending`` by a dead worker: the first loss re-sends (same run, next attempt), a second
    loss of the same run stores a failed task. test_scheduler_firing kills a real worker for the first."""
    schedule = _make_schedule(make_account(), frequency=1)
    jobs.tick(now=schedule.next_send_at)
    get_queue(delivery.DELIVERY_QUEUE, app).empty()  # its batch was taken by the worker that then died
    run = db.session.query(ScheduleRun).one()
    run.status, run.attempts, run.sending_at = "sending", 1, utcnow()
    db.session.commit()
    assert delivery.recover_lost() == 0  # within the bound a live batch may still be sending it
    later = utcnow() + delivery.lost_after() + timedelta(seconds=1)
    assert delivery.recover_lost(now=later) == 1
    db.session.expire_all()
    assert db.session.get(ScheduleRun, run.id).status == "retrying"
    queued = get_queue(delivery.DELIVERY_QUEUE, app).jobs
    assert [job.id for job in queued] == [delivery.delivery_job_id(run.id, 2)]

    run = db.session.get(ScheduleRun, run.id)  # attempt 2 is lost as well
    run.status, run.attempts, run.sending_at = "sending", 2, utcnow()
    db.session.commit()
    assert delivery.recover_lost(now=utcnow() + delivery.lost_after() + timedelta(seconds=1)) == 1
    db.session.expire_all()
    assert db.session.get(ScheduleRun, run.id).status == "failed"
    task = db.session.query(FailedTask).one()
    assert task.run_id == run.id and task.reason.startswith("lost:")
    assert [
        (a.attempt, a.outcome) for a in db.session.query(DeliveryAttempt).order_by(DeliveryAttempt.attempt)
    ] == [(1, "retry"), (2, "failed")]
    assert len(get_queue(delivery.DELIVERY_QUEUE, app).jobs) == 1  # no third send


def test_a_schedule_deleted_while_its_batch_sends_does_not_strand_the_other_runs(app, make_account):
    from tests.receiver import Receiver

    receiver = Receiver()
    try:
        account = make_account()
        kept = _make_schedule(account, endpoint=receiver.url)
        gone = _make_schedule(
            account, endpoint=receiver.url, next_send_at=kept.next_send_at, anchor_at=kept.anchor_at
        )
        gone_id = gone.id
        jobs.tick(now=kept.next_send_at)
        runs = {run.schedule_id: run.id for run in db.session.query(ScheduleRun)}

        def delete_while_on_the_wire():  # as a web request would: its own app context and session
            with app.app_context():
                db.session.delete(db.session.get(Schedule, gone_id))
                db.session.commit()

        receiver.on_post[str(gone_id)] = delete_while_on_the_wire
        outcome = delivery.deliver_batch([str(runs[kept.id]), str(runs[gone_id])], 1)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    assert {h["schedule"] for h in receiver.received} == {str(kept.id), str(gone_id)}  # both POSTs were sent
    assert outcome[str(runs[kept.id])] == "sent"
    db.session.expire_all()
    assert db.session.get(ScheduleRun, runs[kept.id]).status == "sent"
    assert db.session.get(Schedule, gone_id) is None and db.session.get(ScheduleRun, runs[gone_id]) is None
    assert [a.run_id for a in db.session.query(DeliveryAttempt)] == [runs[kept.id]]


@pytest.mark.parametrize(
    "tries, rand, expected",
    [(1, 0.0, 0.5), (1, 1.0, 1.0), (3, 0.0, 2.0), (3, 0.5, 3.0), (10, 1.0, 60.0), (10, 0.0, 30.0)],
)
def test_backoff_doubles_with_jitter_in_the_upper_half_and_caps(tries, rand, expected):
    assert delivery.backoff(tries, 1, 60, rand=lambda: rand) == expected


def test_a_204_names_no_media_type(client, user_headers):
    """No body, no Content-Type (Flask's text/html default misled clients that parse by type)."""
    created = client.post(
        "/api/v1/schedule/",
        json={"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours"},
        headers=user_headers,
    )
    assert created.status_code == 201, created.get_json()
    gone = client.delete(created.headers["Location"], headers=user_headers)
    assert gone.status_code == 204
    assert "Content-Type" not in gone.headers
