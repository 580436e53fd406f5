"""What the queues and workers look like now, read from Redis: the health report and the metrics use it.

- ``worker_states``: workers registered on our queues whose process is not dead, by state. Presence
  comes from RQ's worker registry (a worker's key lives TTL + 60 s past its last check-in) and each
  worker's own state, never from how recent its heartbeat is: an idle RQ worker checks in only every
  TTL - 15 s (``HALYARD_WORKER_TTL_SECONDS``, docs/operations.md).
- ``oldest_age``: how long the job at the head of a queue has waited.
- ``tick_age``: how long ago the scheduler's last tick ran (``mark_tick`` records it).
"""

import re
import time
from datetime import UTC

from flask import current_app
from rq import Worker

from app.jobs.reconcile import worker_dead


def worker_states(connection, queues):
    """{state: count} of the live workers serving any of ``queues``."""
    names = {queue.name for queue in queues}
    states = {}
    for worker in Worker.all(connection=connection):
        if not names & set(worker.queue_names()) or worker_dead(connection, worker.name):
            continue
        state = worker.get_state() or "unknown"
        states[state] = states.get(state, 0) + 1
    return states


def oldest_age(queue, now):
    """Seconds the job at the head of ``queue`` has waited (None when the queue is empty)."""
    for job_id in queue.get_job_ids(0, 1):
        job = queue.fetch_job(job_id)
        if job is not None and job.enqueued_at is not None:
            return round(max(0.0, now - job.enqueued_at.replace(tzinfo=UTC).timestamp()), 3)
    return None


def last_tick_key():
    """Redis key holding the time (epoch seconds) the scheduler's last tick ran."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", current_app.config["HALYARD_QUEUE_PREFIX"]) + ":scheduler:last-tick"


def mark_tick(connection):
    connection.set(last_tick_key(), f"{time.time():.3f}")


def tick_age(connection, now):
    """Seconds since the scheduler's last tick ran (None: no tick ran since Redis was last emptied)."""
    raw = connection.get(last_tick_key())
    return round(max(0.0, now - float(raw)), 3) if raw else None
