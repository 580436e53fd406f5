"""``halyard worker``: RQ workers on Halyard's queues, one after another, until a stop signal.

Every process the worker forks gets SIGTERM when it dies (``children_die_with_me``). A lost Redis
ends an RQ worker's loop: the process waits for Redis (backoff, one log line per outage), then starts
a fresh RQ worker (registered again, its scheduler re-armed); the process itself never crashes on it.
The RQ worker classes are in app/jobs/graceful.py.
"""

import importlib
import logging
import signal
import time

from rq import Worker

from app.extensions import db
from app.jobs import AppJob, all_queues, get_redis
from app.jobs.graceful import REDIS_ERRORS, WORKER_CLASSES
from app.jobs.reconcile import at_worker_start, call_pass, worker_dead
from app.lifecycle import Backoff, Outage, children_die_with_me

log = logging.getLogger("halyard.worker")


def run(app, *, burst=False, scheduler=True, worker_class="fork"):
    """Run RQ workers on Halyard's queues until a stop signal (with ``burst``: until they are empty)."""
    children_die_with_me(signal.SIGTERM)
    logging.getLogger("rq.worker").addFilter(quiet_retries)
    preload_spark_connect(app)
    connection, outage, restarts, dangling = get_redis(app), Outage(log, "Redis"), Backoff(1, 30), None
    stops = []  # signals that arrived outside RQ's work loop (RQ installs its own handlers in it)
    while True:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: stops.append(signum))
        if not wait_for_redis(connection, outage, stops):
            return
        try:
            if dangling is not None:  # its teardown could not unregister it: Redis was down
                dangling.register_death()
                dangling = None
            forget_dead_workers(connection, app)
        except REDIS_ERRORS as exc:
            outage.failed(exc)
            continue
        if scheduler and not burst:
            reconcile_scheduler(app)
        if not burst:  # rows left by dead jobs, stray files, and the reconciler's timer (docs/jobs.md)
            at_worker_start(app)
        worker = WORKER_CLASSES[worker_class](
            all_queues(app), connection=connection, job_class=AppJob, worker_ttl=worker_ttl(app)
        )
        worker.setup(
            grace=app.config["HALYARD_WORKER_GRACE_SECONDS"],
            with_scheduler=scheduler,
            burst=burst,
            poll=float(app.config["HALYARD_SCHEDULER_POLL_SECONDS"]),
            outage=outage,
            stops=stops,
            logging_level=app.config["HALYARD_LOG_LEVEL"],
        )
        began = time.monotonic()
        try:
            worker.work(burst=burst, logging_level=app.config["HALYARD_LOG_LEVEL"])
        except REDIS_ERRORS as exc:
            outage.failed(exc)
            worker.abandon()
            dangling = worker
        if worker.stop_requested or stops or burst:
            return
        if time.monotonic() - began > 60:
            restarts.reset()
        delay = 0 if worker.registration_lost else restarts.next()
        log.warning(
            "the RQ worker loop ended (%s); starting a new one in %.0f s",
            "Redis came back empty" if worker.registration_lost else "Redis lost, or an error",
            delay,
        )
        time.sleep(delay)


def preload_spark_connect(app):
    """With HALYARD_SPARK_REMOTE, import the Spark Connect client here once: every forked work horse
    inherits it instead of importing it per job (1–2 s). Only modules: no channel is opened before a
    fork (docs/executors.md)."""
    if app.config.get("HALYARD_SPARK_REMOTE"):
        try:
            importlib.import_module("pyspark.sql.connect.session")
            log.info("the Spark Connect client is preloaded for the work horses")
        except ImportError as exc:  # the job says so when it runs (the spark extra is not installed)
            log.warning("HALYARD_SPARK_REMOTE is set but the Spark Connect client does not import: %s", exc)


def worker_ttl(app):
    """RQ blocks up to its TTL - 15 s for a job; the default 60 s makes an idle worker check in (heartbeat,
    scheduler process alive, registration kept) every 45 s instead of RQ's 405 s."""
    return max(16, int(app.config["HALYARD_WORKER_TTL_SECONDS"]))


def quiet_retries(record):
    """Drop RQ's line per reconnect attempt: ``Outage`` logs one line per outage instead."""
    return "could not connect to Redis" not in str(record.msg)


def wait_for_redis(connection, outage, stops):
    """Block until Redis answers (True), or until a stop signal has arrived (False)."""
    while not stops:
        try:
            connection.ping()
            outage.ok()
            return True
        except REDIS_ERRORS as exc:
            deadline = time.monotonic() + outage.failed(exc)
            while not stops and time.monotonic() < deadline:
                time.sleep(0.2)
    return False


def forget_dead_workers(connection, app):
    """Unregister workers of our queues whose process is gone (killed, not stopped): one dead-worker
    test for this and the reconciler (``reconcile.worker_dead``, which unregisters them)."""
    ours = {queue.name for queue in all_queues(app)}
    for worker in Worker.all(connection=connection):
        if ours & set(worker.queue_names()) and worker_dead(connection, worker.name):
            log.warning("unregistered dead worker %s (pid %s)", worker.name, worker.pid)


def reconcile_scheduler(app):
    """The domains' passes for a worker that runs RQ's scheduler (``add_pass(..., at_scheduler_start=True)``:
    the scheduler domain re-arms its next tick, recovering ticks lost with a Redis restart; idempotent)."""
    for target in app.extensions.get("halyard.scheduler_start_passes", []):
        try:
            call_pass(target)
        except Exception:  # a worker must start even when the domain's tables are not migrated yet
            db.session.rollback()
            app.logger.warning("%s failed at worker start", target, exc_info=True)
