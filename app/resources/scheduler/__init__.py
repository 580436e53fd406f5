"""Scheduler (seed 003): schedules that POST a payload on cron or interval, their deliveries,
failed tasks and metrics. Firing and delivery run on RQ
(jobs.py: the tick that claims due runs; delivery.py: the batches that POST them)."""

import click
from flask import Blueprint
from flask.cli import AppGroup

from app.jobs.reconcile import add_pass
from app.resources.root import document_relations, register_entries
from app.resources.scheduler.jobs import reconcile

bp = Blueprint("scheduler", __name__)

RELATIONS = {
    "schedules": (
        "Schedules",
        ("GET", "POST"),
        "The caller's schedules (ADMINs: all) with the query grammar and limit/offset; POST creates one "
        "(201 + Location; the body carries signing_secret this once).",
    ),
    "schedule": (
        "Schedule",
        ("GET", "PUT", "DELETE"),
        "One schedule: id, frequency, endpoint, cron_definition, interval_definition, has_auth_token, "
        "payload, enabled, next_send_at, last_run, triggered, created_at/updated_at, created_by/updated_by.",
    ),
    "schedule/by-id": ("Schedule by id", ("GET",), "Templated link to one schedule by its UUID."),
    "schedules/options": (
        "Schedule list grammar",
        ("GET",),
        "Every paging, sort and filter variable of ec:schedules.",
    ),
    "schedule/deliveries": (
        "Deliveries",
        ("GET",),
        "Every delivery attempt of a schedule: due_at, sent_at, status_code, duration_ms, "
        "response_excerpt, error, outcome (success/retry/failed/canceled), run_id.",
    ),
    "schedule/deliveries/options": (
        "Delivery list grammar",
        ("GET",),
        "The grammar of ec:schedule/deliveries.",
    ),
    "delivery": ("Delivery attempt", ("GET",), "One attempt to POST a run of a schedule."),
    "failed-tasks": (
        "Failed tasks",
        ("GET", "POST"),
        "Runs whose last try failed; POST {ids?, schedule?} requeues them (201, "
        "{requeued_failed_tasks: true, count}).",
    ),
    "failed-tasks/options": ("Failed task list grammar", ("GET",), "The grammar of ec:failed-tasks."),
    "failed-task": (
        "Failed task",
        ("GET",),
        "One failed run: schedule, run_id, attempts, reason, created_at.",
    ),
    "metrics": (
        "Metrics",
        ("GET", "POST"),
        "ADMIN: {metrics_available, metrics, snapshot}; POST starts a job storing a snapshot "
        "(201, {scheduled_metrics_initiated: true}, Location of the job).",
    ),
    "metrics/prometheus": (
        "Prometheus metrics",
        ("GET",),
        "ADMIN or the HALYARD_METRICS_TOKEN bearer secret: HTTP, job, file and sign-in metrics, the "
        "same counters plus queue lengths and ages, job counts per state and workers, in the Prometheus "
        "text format (GET /metrics; docs/operations.md).",
    ),
}

# The links of GET /: rel -> (endpoint, title, path variables of a templated link).
ENTRIES = {
    "ec:schedules": ("scheduler.index", "Schedules that POST a payload on cron or interval", None),
    "ec:schedule/by-id": ("scheduler.get", "A schedule by id", {"schedule_id": "id"}),
    "ec:failed-tasks": ("scheduler.failed_tasks", "Scheduled deliveries that ran out of tries", None),
    "ec:metrics": ("scheduler.metrics", "Scheduler metrics (ADMIN)", None),
}


def init_app(app):
    # deferred: route modules import bp from this package
    from app.resources.scheduler import (  # noqa: F401  (routes attach to bp)
        deliveries,
        metrics,
        views,
    )

    app.register_blueprint(bp)
    add_pass(app, "app.resources.scheduler.jobs:reconcile_pass")  # lost deliveries and ticks, every reconcile
    add_pass(app, "app.resources.scheduler.jobs:reconcile", at_scheduler_start=True)  # the next tick armed
    register_entries(app, ENTRIES)
    document_relations(RELATIONS)
    app.cli.add_command(scheduler_cli)


scheduler_cli = AppGroup("scheduler", help="Scheduler maintenance.")


@scheduler_cli.command("reconcile")
def reconcile_command():
    """Re-arm every enabled schedule's next run (idempotent; after a Redis loss or crash)."""
    click.echo(f"Armed {reconcile()['armed']} schedule(s).")
