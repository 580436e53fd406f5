"""Scheduler end to end: real `halyard worker` subprocesses (RQ's scheduler included) POST into a real
receiver on 127.0.0.1. Bounded polling, no long sleeps."""

import hashlib
import hmac
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.resources.scheduler.models import DeliveryAttempt, FailedTask, Schedule, ScheduleRun
from tests.receiver import Receiver

SCHEDULES = "/api/v1/schedule/"


@pytest.fixture
def config_overrides():
    return {
        "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1",
        "HALYARD_SCHEDULER_MAX_TRIES": 2,
        "HALYARD_SCHEDULER_RETRY_BASE_SECONDS": 1,
        "HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS": 5,
        "HALYARD_LOG_LEVEL": "WARNING",
        # a shared, loaded CI machine can run workers seconds late: do not let the missed-run policy
        # (tested with fixed clocks in test_scheduler.py) collapse slots here
        "HALYARD_SCHEDULER_MISFIRE_GRACE_SECONDS": 60,
    }


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    for hold in r.holds.values():
        hold.set()
    r.server.shutdown()
    r.server.server_close()


def slot_of(hit):
    return datetime.strptime(hit["headers"]["X-Halyard-Scheduled-For"], "%Y-%m-%dT%H:%M:%S.%fZ")


def wait_for(predicate, timeout=90.0, interval=0.05):
    """Poll until ``predicate()`` is truthy; the bound is generous because a loaded machine starts a worker
    subprocess slowly (importing the app alone can take seconds), and a passing test never waits it out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def create(client, headers, receiver, **body):
    response = client.post(
        SCHEDULES,
        json={"endpoint": receiver.url, "interval_definition": "1 seconds", **body},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def after_more_sends(client, headers, receiver, witness=None, more=2):
    """Return once the workers have sent ``more`` further POSTs of a witness schedule (created here unless
    given): proof that they kept firing, without waiting a fixed time that a loaded machine could outlast."""
    witness = witness or create(client, headers, receiver, payload={"witness": True})
    seen = len(receiver.of(witness["id"]))
    wait_for(lambda: len(receiver.of(witness["id"])) >= seen + more)
    return witness


def settled_runs(cutoffs):
    """Each schedule's runs up to its cutoff slot ({schedule id: slot}), in slot order, once none of them
    is pending, sending or retrying; else None."""
    db.session.expire_all()
    found = []
    for schedule_id, cutoff in cutoffs.items():
        runs = (
            db.session.query(ScheduleRun)
            .filter(ScheduleRun.schedule_id == schedule_id, ScheduleRun.slot <= cutoff)
            .order_by(ScheduleRun.slot)
            .all()
        )
        if any(run.status in ("pending", "sending", "retrying") for run in runs):
            return None
        found.append(runs)
    return found


def posts_recorded(schedule_id):
    """Attempts that went on the wire (every POST is recorded once it is answered; canceled ones never
    left)."""
    db.session.expire_all()
    return (
        db.session.query(DeliveryAttempt)
        .filter(DeliveryAttempt.schedule_id == uuid.UUID(schedule_id), DeliveryAttempt.outcome != "canceled")
        .count()
    )


def test_interval_schedule_fires_then_disable_and_delete_stop_it(
    client, user_headers, admin_headers, receiver, worker_process
):
    worker_process()
    a = create(client, user_headers, receiver, auth_token="tok-123", payload={"hello": "wörld", "n": [1, 2]})
    b = create(client, user_headers, receiver, payload=None)
    wait_for(lambda: len(receiver.of(a["id"])) >= 2 and len(receiver.of(b["id"])) >= 1)

    first, second = receiver.of(a["id"])[:2]
    for hit in (first, second):
        assert hit["headers"]["Content-Type"] == "application/json"
        assert hit["headers"]["Authorization"] == "Token tok-123"
        assert json.loads(hit["body"]) == {"hello": "wörld", "n": [1, 2]}
        expected = hmac.new(a["signing_secret"].encode(), hit["body"], hashlib.sha256).hexdigest()
        assert hit["headers"]["X-Halyard-Signature"] == "sha256=" + expected
    assert first["headers"]["Idempotency-Key"] != second["headers"]["Idempotency-Key"]
    assert "Authorization" not in receiver.of(b["id"])[0]["headers"]
    assert json.loads(receiver.of(b["id"])[0]["body"]) is None
    assert slot_of(second) - slot_of(first) == timedelta(seconds=1)  # one per second

    # the receiver can see a POST before the worker has recorded its attempt
    deliveries = wait_for(
        lambda: (
            (d := client.get(a["_links"]["ec:schedule/deliveries"]["href"], headers=user_headers).get_json())[
                "total"
            ]
            >= 2
            and d
        )
    )
    latest = deliveries["_embedded"]["ec:delivery"][0]
    assert latest["status_code"] == 200 and latest["outcome"] == "success"
    assert latest["response_excerpt"] == "answered 200" and latest["duration_ms"] >= 0
    item = client.get(a["_links"]["self"]["href"], headers=user_headers).get_json()
    assert item["triggered"] >= 2 and item["last_run"] is not None
    # three POSTs were seen (two of a, one of b); b's attempt may be recorded just after its POST
    wait_for(
        lambda: (
            (m := client.get("/api/metrics/", headers=admin_headers).get_json()["metrics"])[
                "scheduler.deliver_task.success.sum"
            ]
            >= 3
            and m["scheduler.fire.sum"] >= 3
        )
    )

    assert (
        client.put(a["_links"]["self"]["href"], json={"enabled": False}, headers=user_headers).status_code
        == 200
    )
    assert client.delete(b["_links"]["self"]["href"], headers=user_headers).status_code == 204

    # Runs claimed before the change (a tick claims a slot's runs a second early) are settled by their
    # batch: canceled, or sent if the batch had read the schedule just before the change. Once none is
    # left unsettled, nothing more may arrive.
    def unsettled():
        db.session.expire_all()
        return (
            db.session.query(ScheduleRun)
            .filter(
                ScheduleRun.status.in_(("pending", "sending", "retrying")), ScheduleRun.schedule_id.in_(ids)
            )
            .count()
        )

    ids = [uuid.UUID(s["id"]) for s in (a, b)]
    wait_for(lambda: unsettled() == 0)
    # every POST that went out was recorded: the receiver has seen exactly those (b's rows went with b)
    wait_for(lambda: len(receiver.of(a["id"])) == posts_recorded(a["id"]))
    counts = len(receiver.of(a["id"])), len(receiver.of(b["id"]))
    after_more_sends(client, user_headers, receiver, more=3)  # the workers went on firing meanwhile
    assert (len(receiver.of(a["id"])), len(receiver.of(b["id"]))) == counts
    assert unsettled() == 0


def test_retry_then_success_with_the_same_idempotency_key(client, user_headers, receiver, worker_process):
    worker_process()
    s = create(client, user_headers, receiver, frequency=1, payload={"x": 1})
    receiver.scripts[s["id"]] = [503]
    hits = wait_for(lambda: len(receiver.of(s["id"])) >= 2 and receiver.of(s["id"]))
    assert hits[0]["headers"]["Idempotency-Key"] == hits[1]["headers"]["Idempotency-Key"]
    assert [h["headers"]["X-Halyard-Attempt"] for h in hits[:2]] == ["1", "2"]
    # backoff with jitter, base 1 s: the retry waits at least half the base (no upper bound: a loaded
    # machine may run it late; the delay's range itself is test_backoff_* with a fixed random source)
    assert hits[1]["at"] - hits[0]["at"] >= 0.5
    listing = wait_for(
        lambda: (
            client.get(
                s["_links"]["ec:schedule/deliveries"]["href"] + "?sort=attempt", headers=user_headers
            ).get_json()["total"]
            == 2
            and client.get(
                s["_links"]["ec:schedule/deliveries"]["href"] + "?sort=attempt", headers=user_headers
            ).get_json()
        )
    )
    outcomes = [(d["attempt"], d["status_code"], d["outcome"]) for d in listing["_embedded"]["ec:delivery"]]
    assert outcomes == [(1, 503, "retry"), (2, 200, "success")]
    # frequency=1: the schedule disabled itself after its one run
    item = client.get(s["_links"]["self"]["href"], headers=user_headers).get_json()
    assert item["enabled"] is False and item["triggered"] == 1 and item["next_send_at"] is None
    after_more_sends(client, user_headers, receiver)
    assert len(receiver.of(s["id"])) == 2
    assert db.session.query(FailedTask).count() == 0


def test_retry_then_failure_record_then_requeue(
    client, user_headers, admin_headers, receiver, worker_process
):
    worker_process()
    s = create(client, user_headers, receiver, frequency=1)
    receiver.scripts[s["id"]] = [500, 502]
    tasks = wait_for(
        lambda: (
            client.get("/api/v1/failed-tasks/", headers=user_headers).get_json()["total"] == 1
            and client.get("/api/v1/failed-tasks/", headers=user_headers).get_json()
        )
    )
    task = tasks["_embedded"]["ec:failed-task"][0]
    assert task["schedule"] == s["id"] and task["attempts"] == 2 and task["reason"] == "HTTP 502"
    metrics = client.get("/api/metrics/", headers=admin_headers).get_json()["metrics"]
    assert metrics["scheduler.deliver_task.http_error.500.sum"] == 1
    assert metrics["scheduler.deliver_task.http_error.502.sum"] == 1
    assert metrics["scheduler.deliver_task.failed.sum"] == 1

    response = client.post("/api/v1/failed-tasks/", json={}, headers=user_headers)
    assert response.status_code == 201 and response.get_json()["count"] == 1
    assert response.headers["Location"].endswith("/api/v1/failed-tasks/")
    hits = wait_for(lambda: len(receiver.of(s["id"])) == 3 and receiver.of(s["id"]))
    assert len({h["headers"]["Idempotency-Key"] for h in hits}) == 1
    assert hits[2]["headers"]["X-Halyard-Attempt"] == "3"
    wait_for(
        lambda: (
            db.session.query(DeliveryAttempt).filter_by(outcome="success").count() == 1
            or db.session.expire_all()
        )
    )
    assert client.get("/api/v1/failed-tasks/", headers=user_headers).get_json()["total"] == 0
    assert (
        client.get("/api/metrics/", headers=admin_headers).get_json()["metrics"][
            "scheduler.failed_tasks.requeued.sum"
        ]
        == 1
    )


def test_two_workers_send_each_run_once(client, user_headers, receiver, worker_process):
    worker_process()
    worker_process()
    capped = create(client, user_headers, receiver, frequency=3)
    free = [create(client, user_headers, receiver, payload={"i": i}) for i in range(2)]
    wait_for(
        lambda: len(receiver.of(capped["id"])) >= 3 and all(len(receiver.of(s["id"])) >= 3 for s in free)
    )
    after_more_sends(client, user_headers, receiver, witness=free[0])  # time for a duplicate to show up
    # every run claimed up to the last slot received so far settles (a slow try may still be retrying)
    cutoffs = {uuid.UUID(s["id"]): max(slot_of(h) for h in receiver.of(s["id"])) for s in free}
    wait_for(lambda: settled_runs(cutoffs))
    keys = Counter(h["headers"]["Idempotency-Key"] for h in receiver.received)
    assert max(keys.values()) == 1, "a run was delivered twice"
    assert len(receiver.of(capped["id"])) == 3  # frequency cap
    for s, runs in zip(free, settled_runs(cutoffs), strict=True):
        claimed = [run.slot for run in runs]
        gaps = {(b - a).total_seconds() for a, b in zip(claimed, claimed[1:], strict=False)}
        assert gaps == {1.0}, claimed  # every slot claimed once: none skipped, none doubled
        assert {run.status for run in runs} == {"sent"}, [(r.slot, r.status) for r in runs]
        received = sorted(slot_of(h) for h in receiver.of(s["id"]) if slot_of(h) <= claimed[-1])
        assert received == claimed  # each sent run arrived once
    db.session.expire_all()
    assert db.session.get(Schedule, uuid.UUID(capped["id"])).enabled is False


def _descendants(pid):
    """Ids of the processes below ``pid`` (Linux /proc), e.g. the RQ scheduler a worker forked."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_an_attempt_lost_with_a_sigkilled_worker_is_sent_once_more_with_the_same_key(
    client, user_headers, admin_headers, receiver, worker_process
):
    from app.resources.scheduler import delivery
    from app.timeutil import utcnow

    s = create(client, user_headers, receiver, frequency=1)
    receiver.holds[s["id"]] = threading.Event()  # the POST stays open: the worker is mid-batch
    worker = worker_process("--worker-class", "simple")
    wait_for(lambda: receiver.of(s["id"]))
    for pid in [worker.pid, *_descendants(worker.pid)]:  # the worker and its RQ scheduler die at once
        os.kill(pid, signal.SIGKILL)
    worker.wait(10)
    db.session.expire_all()
    run = db.session.query(ScheduleRun).one()
    assert (run.status, run.attempts) == ("sending", 1) and run.sending_at is not None

    # Not lost yet: a live batch could still be sending it until its time limit has passed.
    assert delivery.recover_lost() == 0
    # Past that bound (a fixed clock instead of minutes of waiting), the attempt is recorded as lost
    # and the run is enqueued once more.
    later = utcnow() + delivery.lost_after() + timedelta(seconds=1)
    assert delivery.recover_lost(now=later) == 1
    assert delivery.recover_lost(now=later) == 0  # settled once
    receiver.holds[s["id"]].set()
    worker_process("--worker-class", "simple")
    hits = wait_for(lambda: len(receiver.of(s["id"])) >= 2 and receiver.of(s["id"]))
    assert hits[0]["headers"]["Idempotency-Key"] == hits[1]["headers"]["Idempotency-Key"] == str(run.id)
    assert [h["headers"]["X-Halyard-Attempt"] for h in hits] == ["1", "2"]
    listing = wait_for(
        lambda: (
            (
                d := client.get(
                    s["_links"]["ec:schedule/deliveries"]["href"] + "?sort=attempt", headers=user_headers
                ).get_json()
            )["total"]
            == 2
            and d
        )
    )
    first, second = listing["_embedded"]["ec:delivery"]
    assert (first["attempt"], first["outcome"], first["status_code"]) == (1, "retry", None)
    assert first["error"].startswith("lost:")
    assert (second["attempt"], second["outcome"], second["status_code"]) == (2, "success", 200)
    metrics = client.get("/api/metrics/", headers=admin_headers).get_json()["metrics"]
    assert metrics["scheduler.deliver_task.lost.sum"] == 1
    # Nothing more can be sent: the run is settled and no attempt of it waits in any queue or registry.
    # (No witness schedule here: the killed RQ scheduler's lock keeps a new one from starting for minutes.)
    from rq.registry import ScheduledJobRegistry

    from app.jobs import get_queue

    db.session.expire_all()
    assert db.session.get(ScheduleRun, run.id).status == "sent"
    queue = get_queue(delivery.DELIVERY_QUEUE)
    waiting = set(queue.job_ids) | set(ScheduledJobRegistry(queue=queue).get_job_ids())
    assert waiting == set(), waiting  # s is the only schedule of this test
    assert len(receiver.of(s["id"])) == 2
    assert db.session.query(FailedTask).count() == 0
