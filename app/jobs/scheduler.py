"""Scheduler jobs: arming a schedule's next slot, firing a due run, delivering it, metrics.

Exactly-once, in two layers (docs/scheduler.md "Exactly once"):

1. RQ: a schedule's next run is ONE scheduled RQ job (``Queue.enqueue_at``, served by the
   workers' built-in RQ scheduler) whose id is deterministic per (schedule, slot,
   generation) and created with ``unique=True``, so arming twice creates one job.
2. Database: ``fire`` claims the slot with a compare-and-set UPDATE (next_send_at == slot,
   same generation, enabled) and inserts the run under a unique (schedule, slot) key;
   ``deliver`` claims each attempt with a compare-and-set on the run's attempt counter.
   A job that RQ hands out twice (two schedulers racing, a retried job) finds the claim
   taken and does nothing.

``fire`` enqueues one delivery and arms the following slot. Disabling, editing or deleting
a schedule removes its pending RQ job at once (``disarm``) and changes its generation, so a
fire or delivery job that was already due re-checks and does not send.
"""
import hashlib
import hmac
import json
import logging
import random
import re
import time
import uuid
from datetime import timedelta, timezone

from flask import current_app
from rq.exceptions import DuplicateJobError, NoSuchJobError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs import AppJob, get_queue, get_redis
from app.resources.scheduler import counters
from app.resources.scheduler.models import DeliveryAttempt, FailedTask, Schedule, ScheduleRun
from app.resources.scheduler.timing import following_slot
from app.timeutil import from_timestamp, rfc3339, utcnow

log = logging.getLogger("halyard.scheduler")

FIRE_QUEUE = "high"
DELIVERY_QUEUE = "high"  # FIFO with the fire jobs: a busy "high" queue must not starve deliveries
RETRY_STATUSES = (408, 429)
EXCERPT_CHARS = 500


def _prefix():
    return re.sub(r"[^A-Za-z0-9_-]", "_", current_app.config["HALYARD_QUEUE_PREFIX"])


def _epoch(moment):
    return int(moment.replace(tzinfo=timezone.utc).timestamp())


def fire_job_id(schedule_id, slot, generation):
    return f"{_prefix()}-fire-{uuid.UUID(str(schedule_id)).hex}-{_epoch(slot)}-{generation}"


def delivery_job_id(run_id, attempt):
    return f"{_prefix()}-deliver-{uuid.UUID(str(run_id)).hex}-{attempt}"


def arm(schedule):
    """Ensure the RQ job for the schedule's next slot exists (idempotent)."""
    if not schedule.enabled or schedule.next_send_at is None:
        return None
    slot = schedule.next_send_at
    job_id = fire_job_id(schedule.id, slot, schedule.generation)
    try:
        get_queue(FIRE_QUEUE).enqueue_at(
            slot.replace(tzinfo=timezone.utc), fire, str(schedule.id), _epoch(slot), schedule.generation,
            job_id=job_id, unique=True, result_ttl=3600, failure_ttl=7 * 24 * 3600, job_timeout=60,
        )
    except DuplicateJobError:
        pass
    return job_id


def disarm(schedule_id, slot, generation):
    """Remove the pending (scheduled or queued, not started) fire job of a slot, if any."""
    if slot is None:
        return
    try:
        job = AppJob.fetch(fire_job_id(schedule_id, slot, generation), connection=get_redis())
    except NoSuchJobError:
        return
    if job.get_status() in ("scheduled", "queued", "deferred"):
        job.delete()


def fire(schedule_id, slot_epoch, generation):
    """A due run: claim the slot once, enqueue its delivery, arm the next slot."""
    sid, slot = uuid.UUID(schedule_id), from_timestamp(slot_epoch)
    run = db.session.scalar(select(ScheduleRun).where(ScheduleRun.schedule_id == sid, ScheduleRun.slot == slot))
    if run is None:
        run = _claim(sid, slot, generation)
        if run is None:
            return "stale"
    if run.status == "pending" and run.attempts == 0:
        _enqueue_delivery(run.id, 1, first=1)
    schedule = db.session.get(Schedule, sid)
    if schedule is not None and schedule.generation == generation:
        arm(schedule)
    return "fired"


def _claim(sid, slot, generation):
    """Move the schedule from ``slot`` to its next slot and record the run, or None if taken/stale."""
    schedule = db.session.get(Schedule, sid)
    if (schedule is None or not schedule.enabled or schedule.generation != generation
            or schedule.next_send_at != slot):
        db.session.rollback()
        return None
    now = utcnow()
    following = following_slot(schedule.cron_definition, schedule.interval_definition, schedule.anchor_at,
                               slot, now, current_app.config["HALYARD_SCHEDULER_MISFIRE_GRACE_SECONDS"])
    capped = schedule.frequency is not None and schedule.triggered + 1 >= schedule.frequency
    values = {"triggered": Schedule.triggered + 1, "last_run": now,
              "next_send_at": None if capped else following}
    if capped:
        values["enabled"] = False
    claimed = db.session.execute(
        update(Schedule)
        .where(Schedule.id == sid, Schedule.generation == generation, Schedule.next_send_at == slot,
               Schedule.enabled.is_(True))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return None
    run = ScheduleRun(id=uuid.uuid4(), schedule_id=sid, slot=slot, generation=generation, status="pending")
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    db.session.expire_all()
    counters.incr("scheduler.fire.sum")
    return run


def _enqueue_delivery(run_id, attempt, *, first, delay=None, force=False):
    job_id = delivery_job_id(run_id, attempt)
    queue = get_queue(DELIVERY_QUEUE)
    options = dict(job_id=job_id, unique=True, result_ttl=3600, failure_ttl=7 * 24 * 3600,
                   job_timeout=current_app.config["HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS"] + 30)
    try:
        if delay:
            queue.enqueue_in(timedelta(seconds=delay), deliver, str(run_id), attempt, first, force, **options)
        else:
            queue.enqueue(deliver, str(run_id), attempt, first, force, **options)
    except DuplicateJobError:
        pass


def backoff(tries, base, cap, rand=random.random):
    """Exponential backoff with jitter: a delay in [d/2, d] where d = min(cap, base * 2**(tries-1))."""
    delay = min(cap, base * 2 ** (tries - 1))
    return delay / 2 + rand() * delay / 2


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(run_id, attempt, first=1, force=False):
    """One attempt to POST a run's payload; retry, record success or store a failure."""
    rid = uuid.UUID(run_id)
    claimed = db.session.execute(
        update(ScheduleRun)
        .where(ScheduleRun.id == rid, ScheduleRun.attempts == attempt - 1,
               ScheduleRun.status.in_(("pending", "retrying")))
        .values(attempts=attempt, status="sending")
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return "duplicate"
    run = db.session.get(ScheduleRun, rid)
    schedule = db.session.get(Schedule, run.schedule_id) if run else None
    if run is None or schedule is None:
        return "canceled"
    if not force and schedule.generation != run.generation:
        _record(run, schedule, attempt, outcome="canceled", error="The schedule was disabled, edited or "
                "deleted before this run was sent.")
        run.status = "canceled"
        db.session.commit()
        counters.incr("scheduler.deliver_task.canceled.sum")
        return "canceled"
    outcome, retry_after = _post(run, schedule, attempt)
    config = current_app.config
    tries = attempt - first + 1
    if outcome == "success":
        run.status = "sent"
    elif outcome == "retry" and tries < config["HALYARD_SCHEDULER_MAX_TRIES"]:
        run.status = "retrying"
    else:
        run.status = "failed"
        last = db.session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.run_id == run.id)
                                  .order_by(DeliveryAttempt.attempt.desc()).limit(1)).first()
        db.session.add(FailedTask(schedule_id=schedule.id, run_id=run.id, attempts=tries,
                                  reason=last.error if last else None))
    db.session.commit()
    if run.status == "retrying":
        delay = backoff(tries, config["HALYARD_SCHEDULER_RETRY_BASE_SECONDS"],
                        config["HALYARD_SCHEDULER_RETRY_MAX_SECONDS"])
        delay = max(delay, min(retry_after or 0, config["HALYARD_SCHEDULER_RETRY_MAX_SECONDS"]))
        counters.incr("scheduler.deliver_task.retried.sum")
        _enqueue_delivery(run.id, attempt + 1, first=first, delay=delay, force=force)
    elif run.status == "failed":
        counters.incr("scheduler.deliver_task.failed.sum")
    return run.status


def _post(run, schedule, attempt):
    """POST through the outbound client; record the attempt; return (outcome, Retry-After seconds)."""
    from app.outbound import OutboundError, request

    config = current_app.config
    body = json.dumps(schedule.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": str(run.id),
               "X-Halyard-Schedule": str(schedule.id), "X-Halyard-Attempt": str(attempt),
               "X-Halyard-Scheduled-For": rfc3339(run.slot),
               "X-Halyard-Signature": sign(schedule.secret or "", body)}
    token = schedule.auth_token
    if token:
        headers["Authorization"] = f"Token {token}"
    started = time.monotonic()
    try:
        response = request("POST", schedule.endpoint, data=body, headers=headers,
                           timeout=config["HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS"],
                           max_bytes=config["HALYARD_SCHEDULER_RESPONSE_MAX_BYTES"], follow_redirects=0)
    except OutboundError as exc:
        kind = getattr(exc, "kind", "connection")
        counters.incr(f"scheduler.deliver_task.{'connection_error' if kind == 'connection' else kind}.sum")
        outcome = "retry" if kind in ("timeout", "connection") else "failed"
        _record(run, schedule, attempt, outcome=outcome, started=started, error=f"{kind}: {str(exc)[:400]}")
        return outcome, None
    code = response.status_code
    if 200 <= code < 300:
        outcome = "success"
        counters.incr("scheduler.deliver_task.success.sum")
    else:
        outcome = "retry" if code >= 500 or code in RETRY_STATUSES else "failed"
        counters.incr(f"scheduler.deliver_task.http_error.{code}.sum")
    excerpt = response.content[:EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]
    _record(run, schedule, attempt, outcome=outcome, started=started, status_code=code, excerpt=excerpt,
            error=None if outcome == "success" else f"HTTP {code}")
    retry_after = response.headers.get("Retry-After", "")
    return outcome, int(retry_after) if retry_after.isdigit() else None


def _record(run, schedule, attempt, *, outcome, started=None, status_code=None, excerpt=None, error=None):
    duration = int((time.monotonic() - started) * 1000) if started is not None else None
    db.session.add(DeliveryAttempt(schedule_id=schedule.id, run_id=run.id, attempt=attempt, due_at=run.slot,
                                   sent_at=utcnow(), status_code=status_code, duration_ms=duration,
                                   response_excerpt=excerpt, error=error, outcome=outcome))
    log.info(json.dumps({"event": "schedule_delivery", "schedule": str(schedule.id), "run": str(run.id),
                         "attempt": attempt, "status_code": status_code, "outcome": outcome,
                         "duration_ms": duration}))


def requeue(task):
    """Send a failed run again (a fresh series of tries, same Idempotency-Key); drop the record."""
    run = db.session.get(ScheduleRun, task.run_id)
    run.status = "retrying"
    db.session.delete(task)
    db.session.commit()
    counters.incr("scheduler.failed_tasks.requeued.sum")
    _enqueue_delivery(run.id, run.attempts + 1, first=run.attempts + 1, force=True)


def snapshot_metrics():
    """Compute every scheduler metric now and store the snapshot in Redis (POST /api/metrics/)."""
    from app.resources.scheduler.metrics import current_metrics

    values = current_metrics()
    redis = get_redis()
    key = counters.snapshot_key()
    pipe = redis.pipeline()
    pipe.delete(key)
    pipe.hset(key, mapping={**{k: str(v) for k, v in values.items()}, "taken_at": utcnow().isoformat() + "Z"})
    pipe.execute()
    return {"metrics": len(values)}


def reconcile():
    """Re-arm every enabled schedule (idempotent): recovers a fire job lost to a crash."""
    armed = 0
    for schedule in db.session.scalars(select(Schedule).where(Schedule.enabled.is_(True),
                                                              Schedule.next_send_at.is_not(None))):
        arm(schedule)
        armed += 1
    return {"armed": armed}
