"""Scheduler delivery jobs: a batch of claimed runs POSTed concurrently, retries, lost attempts.

Delivery (docs/scheduler.md "Design" and "Exactly once"; the claiming is app/resources/scheduler/jobs.py):
the claimed runs go out in batch jobs of HALYARD_SCHEDULER_BATCH_SIZE; a batch claims its attempts with
one compare-and-set ``UPDATE … WHERE attempts = n-1 … RETURNING id``, POSTs concurrently through
``app.outbound.Batch`` (kept-alive connections, the SSRF policy re-checked at connect) and records every
attempt in bulk. Retries are single-run jobs (``enqueue_in``).

A worker dying mid-batch leaves runs ``sending``; ``recover_lost`` settles them once it is certain no
live job holds them (docs/scheduler.md "Lost attempts"). A run claimed under an older generation of its
schedule (disabled, edited or deleted meanwhile) is recorded as ``canceled`` instead of sent.
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
from sqlalchemy import and_, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs import AppJob, get_queue, get_redis, queue_name
from app.outbound import Batch, OutboundError
from app.resources.scheduler import counters
from app.resources.scheduler.models import (
    FAILED_TASK_NAME,
    DeliveryAttempt,
    FailedTask,
    Schedule,
    ScheduleRun,
    decrypt,
    in_values,
    on_postgresql,
)
from app.timeutil import rfc3339, utcnow

log = logging.getLogger("halyard.scheduler")

DELIVERY_QUEUE = "high"  # FIFO with the ticks: a busy "high" queue must not starve deliveries
RETRY_STATUSES = (408, 429)
EXCERPT_CHARS = 500
LOST_MARGIN_SECONDS = 60  # clock differences between worker hosts, stops that take a moment


def job_id_prefix():
    """HALYARD_QUEUE_PREFIX made safe for RQ job ids (the tick's and the deliveries')."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", current_app.config["HALYARD_QUEUE_PREFIX"])


def delivery_job_id(run_id, attempt):
    return f"{job_id_prefix()}-deliver-{uuid.UUID(str(run_id)).hex}-{attempt}"


def enqueue_batches(run_ids, attempt=1, due=None):
    """Enqueue delivery jobs of HALYARD_SCHEDULER_BATCH_SIZE runs each, in one Redis round trip.

    ``due`` (a future slot): the jobs are scheduled for it (``enqueue_at``) instead of queued now.
    """
    if not run_ids:
        return
    size = max(1, current_app.config["HALYARD_SCHEDULER_BATCH_SIZE"])
    queue = get_queue(DELIVERY_QUEUE)
    timeout = batch_timeout(size)
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


def batch_timeout(runs=1):
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
        seconds=batch_timeout(config["HALYARD_SCHEDULER_BATCH_SIZE"])
        + config["HALYARD_SCHEDULER_DELIVERY_TIMEOUT_SECONDS"]
        + LOST_MARGIN_SECONDS
    )


LOST_ERROR = (
    "lost: the worker stopped while this attempt was being sent (killed, out of memory, or past its "
    "time limit); whether the receiver got it is unknown"
)


def settle_killed_deliveries(newest=500):
    """Settle (``recover_lost``) the runs still ``sending`` whose delivery job RQ reports failed: its work
    horse was killed, its worker died (RQ's abandoned-job handling) or it raised. RQ knows the job is
    over, so they need not wait for ``lost_after()``. Reads the ``newest`` failed delivery jobs."""
    registry = FailedJobRegistry(queue_name(DELIVERY_QUEUE), connection=get_redis(), job_class=AppJob)
    ids = [
        i
        for i in registry.get_job_ids(0, newest - 1, desc=True)
        if i.startswith(f"{job_id_prefix()}-deliver-")
    ]
    by_attempt = defaultdict(set)
    for job in AppJob.fetch_many(ids, connection=get_redis()):
        if job is not None and job.func_name.endswith(".deliver_batch") and len(job.args) >= 2:
            by_attempt[job.args[1]].update(uuid.UUID(str(r)) for r in job.args[0])
    if not by_attempt:
        return 0
    return recover_lost(
        where=or_(
            *[
                and_(in_values(ScheduleRun.id, runs), ScheduleRun.attempts == attempt)
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
                in_values(DeliveryAttempt.run_id, [row.id for row in stuck]),
                DeliveryAttempt.error.like("lost:%"),
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
                    "task_name": FAILED_TASK_NAME,
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
        "job_timeout": batch_timeout(),
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


def deliver_batch(run_ids, attempt=1, first=1, force=False):
    """Attempt ``attempt`` of each run: claim, POST concurrently, record; {run id: outcome}."""
    config = current_app.config
    ids = [uuid.UUID(str(r)) for r in run_ids]
    outcome = {str(r): "duplicate" for r in ids}
    claimed = (
        db.session.execute(
            update(ScheduleRun)
            .where(
                in_values(ScheduleRun.id, ids),
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
            .where(in_values(ScheduleRun.id, claimed))
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
                    "task_name": FAILED_TASK_NAME,
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
        if (
            on_postgresql()
        ):  # the record may wait for the WAL writer (≤ 0.2 s): a crash before then re-sends, same key
            db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        try:
            for status, rids in by_status.items():
                db.session.execute(
                    update(ScheduleRun)
                    .where(in_values(ScheduleRun.id, rids))
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
                set(db.session.scalars(select(ScheduleRun.id).where(in_values(ScheduleRun.id, ids))))
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
    if not on_postgresql():
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
