"""Scheduler jobs: one tick per due second claims every due run; batch jobs deliver them.

Firing (docs/scheduler.md "Design" and "Exactly once"):

1. RQ: the next due second is ONE scheduled RQ job, ``tick``, created with
   ``Queue.enqueue_at(<second - CLAIM_LEAD>, ..., job_id="<prefix>-tick-<epoch>", unique=True)`` and
   moved to its queue by the workers' built-in RQ scheduler. Arming a second twice (two API
   processes, two ticks) makes one job. A tick arms the tick of the next due second; creating or
   editing a schedule arms its own. The tick claims its second's runs ahead of time and schedules
   their batches for the second itself, so at the due time only the sending is left.
2. Database: a tick claims every due schedule of that moment in set-based statements — one
   ``SELECT … FOR UPDATE SKIP LOCKED`` of the due rows (index on ``next_send_at``), then per distinct
   (slot, following slot) one compare-and-set ``UPDATE … WHERE id IN (…) AND next_send_at = slot AND
   enabled RETURNING id, generation`` and one ``INSERT`` of the runs under the unique (schedule, slot)
   key. A row another tick (or an edit) changed in between fails the compare-and-set and is not run.
3. Delivery: the claimed runs go out in batch jobs of HALYARD_SCHEDULER_BATCH_SIZE; a batch claims
   its attempts with one compare-and-set ``UPDATE … WHERE attempts = n-1 … RETURNING id``, POSTs
   concurrently through ``app.outbound.Batch`` (kept-alive connections, the SSRF policy re-checked
   at connect) and records every attempt in bulk. Retries are single-run jobs (``enqueue_in``).

A worker dying mid-batch leaves runs ``sending``; ``recover_lost`` settles them once it is certain no
live job holds them (docs/scheduler.md "Lost attempts").

Disabling, editing or deleting a schedule changes it in the database only: a later tick does not
claim it, and a run claimed under an older generation is recorded as ``canceled`` instead of sent.
"""

import hashlib
import hmac
import json
import logging
import math
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.registry import FailedJobRegistry
from sqlalchemy import DateTime, and_, any_, case, func, insert, literal, null, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs import AppJob, get_queue, get_redis, queue_name
from app.jobs.status import mark_tick
from app.resources.scheduler import counters
from app.resources.scheduler.models import DeliveryAttempt, FailedTask, Schedule, ScheduleRun, decrypt
from app.resources.scheduler.timing import following_slot
from app.timeutil import rfc3339, utcnow

log = logging.getLogger("halyard.scheduler")

FIRE_QUEUE = "high"
DELIVERY_QUEUE = "high"  # FIFO with the ticks: a busy "high" queue must not starve deliveries
RETRY_STATUSES = (408, 429)
EXCERPT_CHARS = 500
TICK_RESULT_TTL = 600
ORPHAN_AFTER = timedelta(seconds=60)
LOST_MARGIN_SECONDS = 60  # clock differences between worker hosts, stops that take a moment


def _prefix():
    return re.sub(r"[^A-Za-z0-9_-]", "_", current_app.config["HALYARD_QUEUE_PREFIX"])


def _epoch(moment):
    return int(moment.replace(tzinfo=UTC).timestamp())


def tick_job_id(slot, round_=0):
    epoch = slot if isinstance(slot, int) else _epoch(slot)
    return f"{_prefix()}-tick-{epoch}" + (f"-{round_}" if round_ else "")


def delivery_job_id(run_id, attempt):
    return f"{_prefix()}-deliver-{uuid.UUID(str(run_id)).hex}-{attempt}"


def _tick_options(job_id):
    return {
        "job_id": job_id,
        "unique": True,
        "result_ttl": TICK_RESULT_TTL,
        "failure_ttl": 7 * 24 * 3600,
        "job_timeout": 300,
    }


def _lead():
    return max(0, int(current_app.config["HALYARD_SCHEDULER_CLAIM_LEAD_SECONDS"]))


def arm_tick(slot, catch_up=False):
    """Ensure the tick for the whole second ``slot`` exists (idempotent across processes).

    The tick runs HALYARD_SCHEDULER_CLAIM_LEAD_SECONDS before the slot. ``catch_up`` (a schedule just
    created or edited, ``reconcile``): when that moment has passed already, the tick of the slot may
    have run before the schedule was due, so an extra tick for the slot is enqueued at once.
    """
    epoch = slot if isinstance(slot, int) else _epoch(slot)
    job_id = tick_job_id(epoch)
    at = epoch - _lead()
    queue = get_queue(FIRE_QUEUE)
    if catch_up and at <= time.time():
        job_id = f"{job_id}-now-{uuid.uuid4().hex[:12]}"  # any tick claims only what is due: harmless
        queue.enqueue(tick, epoch, **_tick_options(job_id))
        return job_id
    try:
        queue.enqueue_at(datetime.fromtimestamp(at, UTC), tick, epoch, **_tick_options(job_id))
    except DuplicateJobError:
        pass
    return job_id


def arm(schedule):
    """Ensure the tick of the schedule's next slot exists; its id, or None when nothing is due."""
    if not schedule.enabled or schedule.next_send_at is None:
        return None
    return arm_tick(schedule.next_send_at, catch_up=True)


def tick(epoch=None, round_=0, now=None):
    """Claim every run due by the tick's slot (or now, if later), enqueue their batches, arm the next tick.

    A tick runs HALYARD_SCHEDULER_CLAIM_LEAD_SECONDS before its slot (``epoch``): the runs it claims for
    the slot go out in batches scheduled with ``enqueue_at(slot)``, so claiming and enqueueing are done
    before the slot comes and the batches are in the queue as soon as RQ's scheduler moves them.
    """
    mark_tick(get_redis())  # /api/health/'s scheduler tick age
    now = now or utcnow()
    horizon = max(now, datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)) if epoch is not None else now
    config = current_app.config
    groups, more = _claim_due(now, config["HALYARD_SCHEDULER_TICK_LIMIT"], horizon)
    for slot, runs in sorted(groups.items()):
        enqueue_batches(runs, due=slot if slot > utcnow() else None)
    if more:  # more due than one tick takes: continue at once rather than at the next second
        try:
            get_queue(FIRE_QUEUE).enqueue(
                tick,
                epoch,
                round_ + 1,
                **_tick_options(tick_job_id(epoch if epoch is not None else _epoch(now), round_ + 1)),
            )
        except DuplicateJobError:
            pass
    if epoch is not None and epoch % 60 == 0:
        recover_orphans(now)
        recover_lost(now)
    arm_next(horizon)
    return {"claimed": sum(map(len, groups.values())), "more": more}


def arm_next(horizon):
    """Arm the tick of the earliest due schedule (at least the second after ``horizon``)."""
    due = db.session.scalar(select(func.min(Schedule.next_send_at)).where(Schedule.enabled.is_(True)))
    db.session.rollback()
    if due is not None:
        arm_tick(max(_epoch(due), _epoch(horizon.replace(microsecond=0)) + 1))


def claim_due(now, limit, horizon=None):
    """Claim the runs due by ``horizon`` (default ``now``): the new run ids, and whether more are due."""
    groups, more = _claim_due(now, limit, horizon)
    return [run for runs in groups.values() for run in runs], more


def _claim_due(now, limit, horizon=None):
    """Claim the runs due by ``horizon``: {slot: [new run ids]}, and whether more are due.

    Exactly once: the compare-and-set on (next_send_at, enabled) lets one claimer move a schedule
    past a slot; the unique (schedule, slot) key of the runs is the second guard. ``now`` (not the
    horizon) is what the missed-run policy compares the following slot with.
    """
    grace = current_app.config["HALYARD_SCHEDULER_MISFIRE_GRACE_SECONDS"]
    horizon = horizon or now
    due = db.session.execute(
        select(
            Schedule.id,
            Schedule.next_send_at,
            Schedule.cron_definition,
            Schedule.interval_definition,
            Schedule.anchor_at,
        )
        .where(Schedule.enabled.is_(True), Schedule.next_send_at <= horizon)
        .order_by(Schedule.next_send_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: concurrent ticks split the rows, edits wait
    ).all()
    if not due:
        db.session.rollback()
        return {}, False
    groups = defaultdict(list)
    for row in due:
        following = following_slot(
            row.cron_definition, row.interval_definition, row.anchor_at, row.next_send_at, now, grace
        )
        groups[(row.next_send_at, following)].append(row.id)
    capped = and_(Schedule.frequency.is_not(None), Schedule.triggered + 1 >= Schedule.frequency)
    recorded = defaultdict(list)
    for (slot, following), ids in groups.items():
        claim = (
            update(Schedule)
            .where(_in(Schedule.id, ids), Schedule.next_send_at == slot, Schedule.enabled.is_(True))
            .values(
                triggered=Schedule.triggered + 1,
                last_run=max(now, slot),
                next_send_at=case((capped, null()), else_=following) if following else null(),
                enabled=case((capped, False), else_=True),
            )
            .returning(Schedule.id, Schedule.generation)
        )
        recorded[slot] += _record_runs(claim, slot, now)
    db.session.commit()
    total = sum(map(len, recorded.values()))
    if total:
        counters.incr("scheduler.fire.sum", total)
    return {slot: runs for slot, runs in recorded.items() if runs}, len(due) >= limit


def _pg():
    return db.session.get_bind().dialect.name == "postgresql"


def _in(column, values):
    """``column IN values``; on PostgreSQL ``= ANY(:array)``, one parameter however many values."""
    values = list(values)
    if _pg():
        return column == any_(literal(values, postgresql.ARRAY(column.type)))
    return column.in_(values)


def _record_runs(claim, slot, now):
    """Run the claiming UPDATE and record a run per claimed schedule; the new run ids.

    PostgreSQL: one statement (the UPDATE as a CTE feeding ``INSERT … SELECT``). Elsewhere: the
    UPDATE, then one INSERT of the returned rows. A (schedule, slot) recorded already is skipped.
    """
    table = ScheduleRun.__table__
    if _pg():
        claimed = claim.cte("claimed")
        stmt = postgresql.insert(table).from_select(
            ["id", "schedule_id", "slot", "generation", "status", "attempts", "created_at"],
            select(
                func.gen_random_uuid(),
                claimed.c.id,
                literal(slot, DateTime),
                claimed.c.generation,
                literal("pending"),
                literal(0),
                literal(now, DateTime),
            ),
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=["schedule_id", "slot"]).returning(table.c.id)
        return list(db.session.execute(stmt).scalars())
    rows = [
        {
            "id": uuid.uuid4(),
            "schedule_id": sid,
            "slot": slot,
            "generation": generation,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for sid, generation in db.session.execute(claim.execution_options(synchronize_session=False))
    ]
    if not rows:
        return []
    if db.session.get_bind().dialect.name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["schedule_id", "slot"])
        return list(db.session.execute(stmt.returning(table.c.id), rows).scalars())
    db.session.execute(insert(table), rows)
    return [row["id"] for row in rows]


def enqueue_batches(run_ids, attempt=1, due=None):
    """Enqueue delivery jobs of HALYARD_SCHEDULER_BATCH_SIZE runs each, in one Redis round trip.

    ``due`` (a future slot): the jobs are scheduled for it (``enqueue_at``) instead of queued now.
    """
    if not run_ids:
        return
    size = max(1, current_app.config["HALYARD_SCHEDULER_BATCH_SIZE"])
    queue = get_queue(DELIVERY_QUEUE)
    timeout = _batch_timeout(size)
    chunks = [[str(r) for r in run_ids[i : i + size]] for i in range(0, len(run_ids), size)]
    options = {"job_timeout": timeout, "result_ttl": 600, "failure_ttl": 7 * 24 * 3600}
    if due is None:
        queue.enqueue_many(
            [
                Queue.prepare_data(
                    deliver_batch,
                    args=(chunk, attempt, attempt),
                    job_id=delivery_job_id(chunk[0], attempt),
                    timeout=timeout,
                    result_ttl=600,
                    failure_ttl=7 * 24 * 3600,
                )
                for chunk in chunks
            ]
        )
        return
    at = due.replace(tzinfo=UTC) if due.tzinfo is None else due
    with queue.connection.pipeline() as pipe:
        for chunk in chunks:
            queue.enqueue_at(
                at,
                deliver_batch,
                chunk,
                attempt,
                attempt,
                job_id=delivery_job_id(chunk[0], attempt),
                pipeline=pipe,
                **options,
            )
        pipe.execute()


def _batch_timeout(runs=1):
    """RQ's time limit of a delivery job of ``runs`` runs: every round of concurrent POSTs may take the
    whole delivery timeout, plus a minute for the database and Redis work."""
    config = current_app.config
    rounds = math.ceil(max(1, runs) / max(1, config["HALYARD_SCHEDULER_BATCH_CONCURRENCY"]))
    return config["HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS"] * rounds + 60


def lost_after():
    """How long after its claim an attempt still ``sending`` can no longer be in a live job: RQ stops a
    batch at its time limit, a POST it had started ends within the delivery timeout, plus a margin."""
    config = current_app.config
    return timedelta(
        seconds=_batch_timeout(config["HALYARD_SCHEDULER_BATCH_SIZE"])
        + config["HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS"]
        + LOST_MARGIN_SECONDS
    )


def recover_orphans(now):
    """Re-enqueue first attempts whose batch job was lost (a crash between claim and enqueue)."""
    ids = list(
        db.session.scalars(
            select(ScheduleRun.id)
            .where(
                ScheduleRun.status == "pending",
                ScheduleRun.attempts == 0,
                ScheduleRun.created_at < now - ORPHAN_AFTER,
            )
            .limit(10000)
        )
    )
    db.session.rollback()
    enqueue_batches(ids)  # a run already queued elsewhere loses the attempt claim there: never sent twice
    return len(ids)


LOST_ERROR = (
    "lost: the worker stopped while this attempt was being sent (killed, out of memory, or past its "
    "time limit); whether the receiver got it is unknown"
)


def reconcile_pass():
    """The scheduler's part of every reconcile (app/jobs/reconcile.py): runs lost with a killed delivery
    job at once, then those past ``lost_after()``; the number settled."""
    return settle_killed_deliveries() + recover_lost()


def settle_killed_deliveries(newest=500):
    """Settle (``recover_lost``) the runs still ``sending`` whose delivery job RQ reports failed: its work
    horse was killed, its worker died (RQ's abandoned-job handling) or it raised. RQ knows the job is
    over, so they need not wait for ``lost_after()``. Reads the ``newest`` failed delivery jobs."""
    registry = FailedJobRegistry(queue_name(DELIVERY_QUEUE), connection=get_redis(), job_class=AppJob)
    ids = [i for i in registry.get_job_ids(0, newest - 1, desc=True) if i.startswith(f"{_prefix()}-deliver-")]
    by_attempt = defaultdict(set)
    for job in AppJob.fetch_many(ids, connection=get_redis()):
        if job is not None and job.func_name.endswith(".deliver_batch") and len(job.args) >= 2:
            by_attempt[job.args[1]].update(uuid.UUID(str(r)) for r in job.args[0])
    if not by_attempt:
        return 0
    return recover_lost(
        where=or_(
            *[
                and_(_in(ScheduleRun.id, runs), ScheduleRun.attempts == attempt)
                for attempt, runs in by_attempt.items()
            ]
        )
    )


def recover_lost(now=None, where=None):
    """Settle attempts still ``sending`` longer than ``lost_after()``: their batch is no longer running.

    Policy (docs/scheduler.md "Lost attempts"): the attempt is recorded with outcome ``retry`` and a
    ``lost:`` error, and the run is sent once more under the same Idempotency-Key (the receiver can
    dedupe), as a new attempt whose series counts the lost one as its first try. A run that has
    lost an attempt before, or that may be tried only once, becomes a failed task instead, so a
    run that kills its worker is not retried forever. Each step is a compare-and-set on
    (status, attempts): two processes recovering at once settle each run once. ``where`` picks other
    runs known to be lost (``settle_killed_deliveries``). Returns the count.
    """
    now = now or utcnow()
    config = current_app.config
    which = where if where is not None else ScheduleRun.sending_at < now - lost_after()
    stuck = db.session.execute(
        select(ScheduleRun.id, ScheduleRun.schedule_id, ScheduleRun.slot, ScheduleRun.attempts)
        .where(ScheduleRun.status == "sending", which)
        .limit(10000)
    ).all()
    if not stuck:
        db.session.rollback()
        return 0
    lost_before = set(
        db.session.scalars(
            select(DeliveryAttempt.run_id).where(
                _in(DeliveryAttempt.run_id, [row.id for row in stuck]), DeliveryAttempt.error.like("lost:%")
            )
        )
    )
    once_more = config["HALYARD_SCHEDULER_MAX_TRIES"] > 1
    settled, records, failures, resend = 0, [], [], []
    for row in stuck:
        again = once_more and row.id not in lost_before
        claimed = db.session.execute(
            update(ScheduleRun)
            .where(
                ScheduleRun.id == row.id,
                ScheduleRun.status == "sending",
                ScheduleRun.attempts == row.attempts,
            )
            .values(status="retrying" if again else "failed")
            .returning(ScheduleRun.id)
            .execution_options(synchronize_session=False)
        ).scalar()
        if claimed is None:
            continue  # settled meanwhile (its batch finished late, or another recoverer)
        settled += 1
        record = _attempt_row(row, row.attempts, outcome="retry" if again else "failed", error=LOST_ERROR)
        records.append(record)
        if again:
            resend.append(row)
        else:
            failures.append(
                {
                    "id": uuid.uuid4(),
                    "schedule_id": row.schedule_id,
                    "run_id": row.id,
                    "attempts": 1,
                    "reason": LOST_ERROR[:500],
                    "task_name": "app.jobs.scheduler.deliver",
                    "created_at": now,
                }
            )
    for record in records:
        record.pop("_metrics")
    if records:
        _insert_attempts(records)
    if failures:
        db.session.execute(insert(FailedTask), failures)
    db.session.commit()
    counters.incr_many(
        {
            "scheduler.deliver_task.lost.sum": settled,
            "scheduler.deliver_task.retried.sum": len(resend),
            "scheduler.deliver_task.failed.sum": len(failures),
        }
    )
    for row in resend:
        _enqueue_delivery(row.id, row.attempts + 1, first=row.attempts)
    if settled:
        log.warning(
            json.dumps(
                {
                    "event": "schedule_lost_attempts",
                    "settled": settled,
                    "resent": len(resend),
                    "failed": len(failures),
                }
            )
        )
    return settled


def _enqueue_delivery(run_id, attempt, *, first, delay=None, force=False):
    """One run's next attempt (a retry or a requeue) as its own job."""
    queue = get_queue(DELIVERY_QUEUE)
    options = {
        "job_id": delivery_job_id(run_id, attempt),
        "unique": True,
        "result_ttl": 3600,
        "failure_ttl": 7 * 24 * 3600,
        "job_timeout": _batch_timeout(),
    }
    try:
        if delay:  # RQ scores scheduled jobs in whole seconds: round up so the backoff is never cut short
            due = datetime.fromtimestamp(math.ceil(time.time() + delay), UTC)
            queue.enqueue_at(due, deliver_batch, [str(run_id)], attempt, first, force, **options)
        else:
            queue.enqueue(deliver_batch, [str(run_id)], attempt, first, force, **options)
    except DuplicateJobError:
        pass


def backoff(tries, base, cap, rand=random.random):
    """Exponential backoff with jitter: a delay in [d/2, d] where d = min(cap, base * 2**(tries-1))."""
    delay = min(cap, base * 2 ** (tries - 1))
    return delay / 2 + rand() * delay / 2


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(run_id, attempt, first=1, force=False):
    """One attempt of one run (see ``deliver_batch``); its outcome."""
    return deliver_batch([run_id], attempt, first, force)[str(run_id)]


def deliver_batch(run_ids, attempt=1, first=1, force=False):
    """Attempt ``attempt`` of each run: claim, POST concurrently, record; {run id: outcome}."""
    config = current_app.config
    ids = [uuid.UUID(str(r)) for r in run_ids]
    outcome = {str(r): "duplicate" for r in ids}
    claimed = (
        db.session.execute(
            update(ScheduleRun)
            .where(
                _in(ScheduleRun.id, ids),
                ScheduleRun.attempts == attempt - 1,
                ScheduleRun.status.in_(("pending", "retrying")),
            )
            .values(attempts=attempt, status="sending", sending_at=utcnow())
            .returning(ScheduleRun.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    if not claimed:
        return outcome
    # Core rows, not ORM objects: loading 100 runs and schedules as objects costs more than sending them
    pairs = [
        (_Run(row.id, row.schedule_id, row.slot, row.run_generation), row)
        for row in db.session.execute(
            select(
                ScheduleRun.id,
                ScheduleRun.schedule_id,
                ScheduleRun.slot,
                ScheduleRun.generation.label("run_generation"),
                Schedule.generation,
                Schedule.endpoint,
                Schedule.payload,
                Schedule.secret_encrypted,
                Schedule.auth_token_encrypted,
            )
            .join(Schedule, Schedule.id == ScheduleRun.schedule_id)
            .where(_in(ScheduleRun.id, claimed))
        )
    ]
    db.session.rollback()
    for rid in set(claimed) - {run.id for run, _ in pairs}:
        outcome[str(rid)] = "canceled"  # the schedule (and with it the run) was deleted meanwhile
    records, statuses, metrics = [], {}, Counter()
    sends = []
    for run, schedule in pairs:
        if not force and schedule.generation != run.generation:
            records.append(
                _attempt_row(
                    run,
                    attempt,
                    outcome="canceled",
                    error="The schedule was disabled, edited or deleted before this run was sent.",
                )
            )
            statuses[run.id] = "canceled"
            metrics["scheduler.deliver_task.canceled.sum"] += 1
        else:
            sends.append((run, schedule))
    results = _post_all(sends, attempt)
    retries, failures = [], []
    tries = attempt - first + 1
    for (run, _schedule), (result, record, retry_after) in zip(sends, results, strict=False):
        records.append(record)
        metrics.update(record.pop("_metrics"))
        if result == "success":
            statuses[run.id] = "sent"
        elif result == "retry" and tries < config["HALYARD_SCHEDULER_MAX_TRIES"]:
            statuses[run.id] = "retrying"
            retries.append((run.id, retry_after))
        else:
            statuses[run.id] = "failed"
            failures.append(
                {
                    "id": uuid.uuid4(),
                    "schedule_id": run.schedule_id,
                    "run_id": run.id,
                    "attempts": tries,
                    "reason": record["error"],
                    "task_name": "app.jobs.scheduler.deliver",
                    "created_at": utcnow(),
                }
            )
    by_status = defaultdict(list)
    for rid, status in statuses.items():
        by_status[status].append(rid)
        outcome[str(rid)] = status
    _record(by_status, records, failures)
    metrics["scheduler.deliver_task.retried.sum"] += len(retries)
    metrics["scheduler.deliver_task.failed.sum"] += len(failures)
    counters.incr_many(metrics)
    for rid, retry_after in retries:
        delay = backoff(
            tries,
            config["HALYARD_SCHEDULER_RETRY_BASE_SECONDS"],
            config["HALYARD_SCHEDULER_RETRY_MAX_SECONDS"],
        )
        delay = max(delay, min(retry_after or 0, config["HALYARD_SCHEDULER_RETRY_MAX_SECONDS"]))
        _enqueue_delivery(rid, attempt + 1, first=first, delay=delay, force=force)
    if log.isEnabledFor(logging.INFO):
        for record in records:
            log.info(
                json.dumps(
                    {
                        "event": "schedule_delivery",
                        "schedule": str(record["schedule_id"]),
                        "run": str(record["run_id"]),
                        "attempt": attempt,
                        "status_code": record["status_code"],
                        "outcome": record["outcome"],
                        "duration_ms": record["duration_ms"],
                    }
                )
            )
    return outcome


def _record(by_status, records, failures):
    """Store a batch's outcome in one transaction. A schedule deleted while its run was being sent takes
    the run with it (cascade), and the attempt row would then break its foreign key: such runs are
    dropped from the record and it is written again, so the batch's other runs are never left
    ``sending``."""
    for _ in range(5):
        if _pg():  # the record may wait for the WAL writer (≤ 0.2 s): a crash before then re-sends, same key
            db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        try:
            for status, rids in by_status.items():
                db.session.execute(
                    update(ScheduleRun)
                    .where(_in(ScheduleRun.id, rids))
                    .values(status=status)
                    .execution_options(synchronize_session=False)
                )
            if records:
                _insert_attempts(records)
            if failures:
                db.session.execute(insert(FailedTask), failures)
            db.session.commit()
            return
        except IntegrityError:
            db.session.rollback()
            ids = {rid for rids in by_status.values() for rid in rids}
            alive = (
                set(db.session.scalars(select(ScheduleRun.id).where(_in(ScheduleRun.id, ids))))
                if ids
                else set()
            )
            db.session.rollback()
            if alive == ids:
                raise
            by_status = {status: [r for r in rids if r in alive] for status, rids in by_status.items()}
            records = [record for record in records if record["run_id"] in alive]
            failures = [failure for failure in failures if failure["run_id"] in alive]
    raise RuntimeError("the delivery record kept conflicting with deletions")


ATTEMPT_COLUMNS = (
    ("schedule_id", "uuid"),
    ("run_id", "uuid"),
    ("attempt", "integer"),
    ("due_at", "timestamp"),
    ("sent_at", "timestamp"),
    ("status_code", "integer"),
    ("duration_ms", "integer"),
    ("response_excerpt", "text"),
    ("error", "text"),
    ("outcome", "text"),
)


def _insert_attempts(records):
    """Record attempts: on PostgreSQL one ``INSERT … SELECT FROM unnest(<one array per column>)``."""
    if not _pg():
        db.session.execute(insert(DeliveryAttempt), records)
        return
    names = ", ".join(name for name, _ in ATTEMPT_COLUMNS)
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in ATTEMPT_COLUMNS)
    db.session.execute(
        text(f"INSERT INTO {DeliveryAttempt.__tablename__} ({names}) SELECT * FROM unnest({arrays})"),
        {name: [record[name] for record in records] for name, _ in ATTEMPT_COLUMNS},
    )


class _Run:
    __slots__ = ("id", "schedule_id", "slot", "generation")

    def __init__(self, id, schedule_id, slot, generation):
        self.id, self.schedule_id, self.slot, self.generation = id, schedule_id, slot, generation


def _request(run, schedule, attempt):
    """The POST of one run; ``schedule`` is a row with endpoint, payload and the encrypted secrets."""
    body = json.dumps(schedule.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(run.id),
        "X-Halyard-Schedule": str(run.schedule_id),
        "X-Halyard-Attempt": str(attempt),
        "X-Halyard-Scheduled-For": rfc3339(run.slot),
        "X-Halyard-Signature": sign(decrypt(schedule.secret_encrypted) or "", body),
    }
    token = decrypt(schedule.auth_token_encrypted)
    if token:
        headers["Authorization"] = f"Token {token}"
    return ("POST", schedule.endpoint, body, headers)


def _post_all(sends, attempt):
    """POST every (run, schedule) concurrently; per send (outcome, attempt row, Retry-After seconds)."""
    from app.outbound import Batch, OutboundError

    if not sends:
        return []
    config = current_app.config
    items = [_request(run, schedule, attempt) for run, schedule in sends]
    with Batch(
        timeout=config["HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS"],
        max_bytes=config["HALYARD_SCHEDULER_RESPONSE_MAX_BYTES"],
        concurrency=config["HALYARD_SCHEDULER_BATCH_CONCURRENCY"],
        config=config,
        keep_pools=True,
    ) as batch:
        responses = batch.send_many(items)
    results = []
    for (run, _), response in zip(sends, responses, strict=False):
        if isinstance(response, OutboundError):
            kind = getattr(response, "kind", "connection")
            result = "retry" if kind in ("timeout", "connection") else "failed"
            record = _attempt_row(run, attempt, outcome=result, error=f"{kind}: {str(response)[:400]}")
            record["_metrics"] = {
                f"scheduler.deliver_task.{'connection_error' if kind == 'connection' else kind}.sum": 1
            }
            results.append((result, record, None))
            continue
        code = response.status_code
        if 200 <= code < 300:
            result, name = "success", "scheduler.deliver_task.success.sum"
        else:
            result = "retry" if code >= 500 or code in RETRY_STATUSES else "failed"
            name = f"scheduler.deliver_task.http_error.{code}.sum"
        excerpt = response.content[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]
        record = _attempt_row(
            run,
            attempt,
            outcome=result,
            status_code=code,
            excerpt=excerpt,
            duration_ms=int(response.elapsed * 1000),
            error=None if result == "success" else f"HTTP {code}",
        )
        record["_metrics"] = {name: 1}
        retry_after = response.headers.get("Retry-After", "")
        results.append((result, record, int(retry_after) if retry_after.isdigit() else None))
    return results


def _attempt_row(run, attempt, *, outcome, status_code=None, excerpt=None, error=None, duration_ms=None):
    return {
        "schedule_id": run.schedule_id,
        "run_id": run.id,
        "attempt": attempt,
        "due_at": run.slot,
        "sent_at": utcnow(),
        "status_code": status_code,
        "duration_ms": duration_ms,
        "response_excerpt": excerpt,
        "error": error,
        "outcome": outcome,
        "_metrics": {},
    }


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
    """Arm the tick of the earliest due schedule and re-enqueue orphaned runs (idempotent).

    Recovers from a lost tick or batch job (a Redis loss, a crash between claim and enqueue).
    """
    now = utcnow()
    due = db.session.scalar(select(func.min(Schedule.next_send_at)).where(Schedule.enabled.is_(True)))
    enabled = db.session.scalar(
        select(func.count())
        .select_from(Schedule)
        .where(Schedule.enabled.is_(True), Schedule.next_send_at.is_not(None))
    )
    db.session.rollback()
    if due is not None:
        arm_tick(max(due, now.replace(microsecond=0)), catch_up=True)
    return {"armed": enabled, "orphans": recover_orphans(now), "lost": recover_lost(now)}
