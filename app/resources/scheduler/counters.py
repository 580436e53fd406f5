"""Scheduler metrics: monotonically increasing counters in one Redis hash, and the gauges read beside them.

The hash is keyed with HALYARD_QUEUE_PREFIX, so deployments (and test runs) sharing a
Redis never mix their counters. Names follow the original service's
(``scheduler.deliver_task.http_error.<code>.sum``, ...).
"""

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import all_queues, get_redis
from app.resources.scheduler.models import FailedTask, Schedule

JOB_STATES = ("scheduled", "started", "deferred", "finished", "failed", "canceled")

BASE_METRICS = (
    "schedules.created.sum",
    "schedules.deleted.sum",
    "scheduler.fire.sum",
    "scheduler.deliver_task.success.sum",
    "scheduler.deliver_task.connection_error.sum",
    "scheduler.deliver_task.timeout.sum",
    "scheduler.deliver_task.refused.sum",
    "scheduler.deliver_task.too_large.sum",
    "scheduler.deliver_task.canceled.sum",
    "scheduler.deliver_task.retried.sum",
    "scheduler.deliver_task.failed.sum",
    "scheduler.deliver_task.lost.sum",
    "scheduler.failed_tasks.requeued.sum",
)


def counters_key():
    return f"{current_app.config['HALYARD_QUEUE_PREFIX']}:scheduler:metrics"


def snapshot_key():
    return f"{current_app.config['HALYARD_QUEUE_PREFIX']}:scheduler:metrics:snapshot"


def incr(name, amount=1):
    get_redis().hincrby(counters_key(), name, amount)


def incr_many(amounts):
    """Add several counters in one round trip (``{name: amount}``; zeros skipped)."""
    amounts = {name: n for name, n in amounts.items() if n}
    if amounts:
        pipe = get_redis().pipeline(transaction=False)
        for name, n in amounts.items():
            pipe.hincrby(counters_key(), name, n)
        pipe.execute()


def read():
    """Every counter (the base ones at 0 when never incremented), sorted by name."""
    stored = {key.decode(): int(value) for key, value in get_redis().hgetall(counters_key()).items()}
    values = dict.fromkeys(BASE_METRICS, 0)
    values.update(stored)
    return dict(sorted(values.items()))


def gauges():
    """Schedules by enabled flag, failed tasks, and per queue: length and jobs per state."""
    rows = dict(db.session.execute(select(Schedule.enabled, func.count()).group_by(Schedule.enabled)).all())
    values = {
        "schedules.enabled": rows.get(True, 0),
        "schedules.disabled": rows.get(False, 0),
        "failed_tasks": db.session.scalar(select(func.count()).select_from(FailedTask)) or 0,
    }
    for queue in all_queues():
        values[f"queue.{queue.name}.queued"] = queue.count
        for state in JOB_STATES:
            values[f"queue.{queue.name}.{state}"] = getattr(queue, f"{state}_job_registry").count
    return values


def current_metrics():
    return {**read(), **gauges()}
