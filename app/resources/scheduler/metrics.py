"""GET/POST /api/metrics/ (seed 003's helpers) and GET /metrics (Prometheus text format; who may read it:
app/resources/health/metrics_access.py).

Both serve the same Redis counters (``counters``); /metrics adds schedule, failed-task,
queue-length and per-state job gauges. The exposition uses prometheus_client's own
metric families and ``generate_latest`` (escaping, HELP/TYPE lines and the ``_total``
suffix handled by the reference implementation) with a collector that reads Redis at
scrape time, so every web and worker process reports the same numbers.
"""

import re
import time
from datetime import timedelta

from flask import current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import select

from app import metrics as process_metrics
from app.auth import current_account, login_required, requires_scope
from app.extensions import db
from app.hal import Document, Template
from app.jobs import all_queues, enqueue, get_redis
from app.jobs.models import JobRecord
from app.jobs.status import oldest_age, worker_states
from app.openapi import api_doc
from app.representation import respond, url
from app.resources.health.metrics_access import metrics_reader
from app.resources.scheduler import bp, counters
from app.resources.scheduler.jobs import snapshot_metrics
from app.resources.scheduler.openapi import PROMETHEUS, MetricsInitiatedSchema, MetricsViewSchema
from app.timeutil import utcnow

_HTTP_ERROR = re.compile(r"^scheduler\.deliver_task\.http_error\.(\d{3})\.sum$")


class RedisCollector:
    """prometheus_client collector reading the counters and gauges at scrape time."""

    def __init__(self, counter_values, gauge_values):
        self.counter_values, self.gauge_values = counter_values, gauge_values

    def collect(self):
        http = CounterMetricFamily(
            "halyard_scheduler_deliver_task_http_error",
            "Delivery attempts answered with a non-2xx status, by code.",
            labels=["code"],
        )
        for name, value in self.counter_values.items():
            match = _HTTP_ERROR.match(name)
            if match:
                http.add_metric([match.group(1)], value)
                continue
            metric = "halyard_" + re.sub(r"[^a-zA-Z0-9_]", "_", name.removesuffix(".sum"))
            yield CounterMetricFamily(metric, f"Counter {name}.", value=value)
        yield http
        schedules = GaugeMetricFamily("halyard_schedules", "Schedules by enabled flag.", labels=["enabled"])
        schedules.add_metric(["true"], self.gauge_values["schedules.enabled"])
        schedules.add_metric(["false"], self.gauge_values["schedules.disabled"])
        yield schedules
        yield GaugeMetricFamily(
            "halyard_scheduler_failed_tasks",
            "Failed tasks waiting for a requeue.",
            value=self.gauge_values["failed_tasks"],
        )
        length = GaugeMetricFamily(
            "halyard_rq_queue_length", "Jobs waiting in an RQ queue.", labels=["queue"]
        )
        states = GaugeMetricFamily(
            "halyard_rq_jobs", "RQ jobs per queue and state.", labels=["queue", "state"]
        )
        for queue in all_queues():
            length.add_metric([queue.name], self.gauge_values[f"queue.{queue.name}.queued"])
            states.add_metric([queue.name, "queued"], self.gauge_values[f"queue.{queue.name}.queued"])
            for state in counters.JOB_STATES:
                states.add_metric([queue.name, state], self.gauge_values[f"queue.{queue.name}.{state}"])
        yield length
        yield states


def snapshot():
    raw = get_redis().hgetall(counters.snapshot_key())
    if not raw:
        return None
    data = {key.decode(): value.decode() for key, value in raw.items()}
    taken = data.pop("taken_at", None)
    return {"taken_at": taken, "values": {key: int(value) for key, value in sorted(data.items())}}


@bp.get("/api/metrics/")
@login_required
@api_doc(
    responses={200: MetricsViewSchema},
    description="Any signed-in account: the counter names (seed 003); ADMINs also get their values and the "
    "last stored snapshot.",
)
def metrics():
    """The available metric keys (seed 003, any signed-in account); ADMINs also get the values and the
    last stored snapshot."""
    values = counters.read()
    doc = Document({"metrics_available": list(values)}, self_href=url("scheduler.metrics"))
    doc.link("up", url("root.index"))
    if current_account().is_admin:
        doc.properties.update(metrics=values, snapshot=snapshot())
        doc.link("ec:metrics/prometheus", url("scheduler.prometheus"))
    doc.template("default", Template(method="POST", title="Compute and store a snapshot of every metric"))
    return respond(doc, etag=False)


@bp.post("/api/metrics/")
@login_required
@api_doc(
    request=None,
    responses={200: MetricsInitiatedSchema},
    description="Any signed-in account; no body; 200 as seed 003 documents. Starts a job storing a snapshot "
    "of every metric (none while one is pending); Location names the job when the caller may read it.",
)
def fire_metrics():
    """Start a job that computes and stores a snapshot of every metric; 200 (seed 003), with Location of
    the job. While one started less than a job timeout ago is still queued or running, no other is
    started (any signed-in account may ask: this keeps one from filling the queue)."""
    account = current_account()
    since = utcnow() - timedelta(seconds=current_app.config["HALYARD_JOB_TIMEOUT_SECONDS"])
    pending = select(JobRecord).where(
        JobRecord.kind == "scheduler.metrics",
        JobRecord.status.in_(("queued", "scheduled", "started")),
        JobRecord.created > since,
    )
    record = db.session.scalars(pending.limit(1)).first() or enqueue(
        snapshot_metrics, kind="scheduler.metrics", owner=account, subject="/api/metrics/"
    )
    doc = Document({"scheduled_metrics_initiated": True}, self_href=url("scheduler.metrics"))
    headers = {}
    if account.is_admin or record.owner_id == account.id:  # the job is readable by its owner and ADMINs
        headers["Location"] = url("jobs.get", job_id=record.id)
        doc.link("ec:job", headers["Location"])
    return respond(doc, 200, headers, etag=False)


class LiveCollector:
    """Per queue the age of its oldest waiting job, and the live workers by state (read at scrape time)."""

    def __init__(self, connection, queues):
        self.connection, self.queues = connection, queues

    def collect(self):
        now = time.time()
        age = GaugeMetricFamily(
            "halyard_rq_queue_oldest_job_age_seconds",
            "How long the job at the head of an RQ queue has waited (0 when empty).",
            labels=["queue"],
        )
        for queue in self.queues:
            age.add_metric([queue.name], oldest_age(queue, now) or 0.0)
        yield age
        workers = GaugeMetricFamily(
            "halyard_rq_workers", "Live RQ workers on our queues, by state.", labels=["state"]
        )
        for state, count in sorted(worker_states(self.connection, self.queues).items()):
            workers.add_metric([state], count)
        yield workers


@bp.get("/metrics")
@requires_scope("metrics")  # a scraper's token needs only this scope (docs/operations.md)
@metrics_reader
@api_doc(
    auth="admin",
    responses={
        200: {
            "description": "The Prometheus text exposition format: HTTP requests, jobs, bytes served, "
            "failed sign-ins, scheduler counters, schedules, failed tasks, queue lengths and ages, RQ jobs "
            "per state and workers (docs/operations.md).",
            "content": {PROMETHEUS: {"schema": {"type": "string"}}},
        }
    },
    description="ADMIN, or the HALYARD_METRICS_TOKEN bearer secret.",
)
def prometheus():
    """HTTP, job, file and sign-in metrics of every process (app/metrics.py), the scheduler counters,
    queue lengths and ages, job counts per state and workers, in the Prometheus text format."""
    registry = process_metrics.registry(
        RedisCollector(counters.read(), counters.gauges()), LiveCollector(get_redis(), all_queues())
    )
    return current_app.response_class(
        generate_latest(registry), mimetype=None, headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
