"""Scheduler jobs: one tick per due second claims every due run and hands it to the delivery jobs.

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
3. Delivery: app/resources/scheduler/delivery.py (batches, retries, lost attempts).

Disabling, editing or deleting a schedule changes it in the database only: a later tick does not
claim it, and a run claimed under an older generation is recorded as ``canceled`` instead of sent.
"""

import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq.exceptions import DuplicateJobError
from sqlalchemy import DateTime, and_, case, func, insert, literal, null, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.jobs import get_queue, get_redis
from app.jobs.status import mark_tick
from app.resources.scheduler import counters
from app.resources.scheduler.delivery import (
    enqueue_batches,
    job_id_prefix,
    recover_lost,
    settle_killed_deliveries,
)
from app.resources.scheduler.models import Schedule, ScheduleRun, in_values, on_postgresql
from app.resources.scheduler.timing import following_slot
from app.timeutil import utcnow

FIRE_QUEUE = "high"
TICK_RESULT_TTL = 600
ORPHAN_AFTER = timedelta(seconds=60)


def _epoch(moment):
    return int(moment.replace(tzinfo=UTC).timestamp())


def tick_job_id(slot, round_=0):
    epoch = slot if isinstance(slot, int) else _epoch(slot)
    return f"{job_id_prefix()}-tick-{epoch}" + (f"-{round_}" if round_ else "")


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
    groups, more = claim_due(now, config["HALYARD_SCHEDULER_TICK_LIMIT"], horizon)
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
            .where(in_values(Schedule.id, ids), Schedule.next_send_at == slot, Schedule.enabled.is_(True))
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


def _record_runs(claim, slot, now):
    """Run the claiming UPDATE and record a run per claimed schedule; the new run ids.

    PostgreSQL: one statement (the UPDATE as a CTE feeding ``INSERT … SELECT``). Elsewhere: the
    UPDATE, then one INSERT of the returned rows. A (schedule, slot) recorded already is skipped.
    """
    table = ScheduleRun.__table__
    if on_postgresql():
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


def reconcile_pass():
    """The scheduler's part of every reconcile (app/jobs/reconcile.py): the tick of the earliest due
    schedule re-armed (a Redis restarted from an older snapshot keeps the worker registered but may have
    lost it, and nothing else would arm it again; idempotent), runs lost with a killed delivery job at
    once, then those past ``lost_after()``; the number settled."""
    arm_next(utcnow())
    return settle_killed_deliveries() + recover_lost()


def snapshot_metrics():
    """Compute every scheduler metric now and store the snapshot in Redis (POST /api/metrics/)."""
    values = counters.current_metrics()
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
