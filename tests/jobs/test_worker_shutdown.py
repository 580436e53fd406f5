"""Graceful shutdown of a lone ``halyard worker`` (the supervised one under ``halyard start`` is in
tests/faults/test_faults_processes.py): on SIGTERM or SIGINT it takes no new job, lets the running one
finish within HALYARD_WORKER_GRACE_SECONDS, past it kills the work horse and marks the job failed with a
clear error, unregisters from RQ and leaves no process behind. ``halyard jobs cancel`` of a running job
stops its work horse while the worker goes on."""

import os
import signal
import time

import psutil
import pytest
from rq import Worker

from app.extensions import db
from app.jobs import AppJob, all_queues, enqueue, get_redis
from app.jobs.models import JobRecord
from app.jobs.probe import probe

pytestmark = pytest.mark.timeout_sensitive  # the grace period is real elapsed time


def poll(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.remove()
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def running(job_id):
    job = AppJob.fetch(job_id, connection=get_redis())
    return job.get_status() == "started" and (job.meta.get("progress") or 0) > 0


def our_workers(app):
    names = {queue.name for queue in all_queues(app)}
    return [w for w in Worker.all(connection=get_redis(app)) if names & set(w.queue_names())]


def gone(process):
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("config_overrides", [{"HALYARD_WORKER_GRACE_SECONDS": 2}])
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_job_past_the_grace_period_is_failed_and_nothing_is_left(app, make_account, worker_process, stop):
    job_id = enqueue(probe, 60, 1.0, kind="probe", owner=make_account()).id  # 60 s: far past the grace
    worker = worker_process()
    poll(lambda: running(job_id))
    processes = psutil.Process(worker.pid).children(recursive=True)  # the work horse, the scheduler
    assert len(processes) >= 1

    began = time.monotonic()
    worker.send_signal(stop)
    assert worker.wait(60) == 0
    assert time.monotonic() - began < 50  # the grace, then the kill, not the job's 60 s

    db.session.remove()
    row = db.session.get(JobRecord, job_id)
    assert (row.status, row.error) == (
        "failed",
        "The worker shut down before the job finished (grace period of 2 s).",
    )
    assert AppJob.fetch(job_id, connection=get_redis()).get_status() == "failed"
    assert all(gone(p) for p in processes)
    assert our_workers(app) == []


@pytest.mark.parametrize("config_overrides", [{"HALYARD_WORKER_GRACE_SECONDS": 60}])
def test_a_job_within_the_grace_period_finishes_and_no_new_one_starts(app, make_account, worker_process):
    owner = make_account()
    job_id = enqueue(probe, 4, 1.0, kind="probe", owner=owner).id
    worker = worker_process()
    poll(lambda: running(job_id))
    waiting = enqueue(probe, 1, 0.0, kind="probe", owner=owner).id

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(90) == 0

    db.session.remove()
    assert db.session.get(JobRecord, job_id).status == "finished"
    assert db.session.get(JobRecord, waiting).status == "queued"  # left for the next worker
    assert our_workers(app) == []


def test_halyard_jobs_cancel_stops_a_running_job_and_the_worker_goes_on(app, make_account, worker_process):
    import subprocess
    import sys

    from tests.conftest import ROOT, subprocess_env

    owner = make_account()
    job_id = enqueue(probe, 60, 1.0, kind="probe", owner=owner).id
    worker = worker_process()
    poll(lambda: running(job_id))
    horses = [p for p in psutil.Process(worker.pid).children() if os.getpgid(p.pid) == p.pid]  # own group
    assert len(horses) == 1

    cancelled = subprocess.run(
        [sys.executable, "-m", "app", "jobs", "cancel", job_id],
        cwd=ROOT,
        env=subprocess_env(app),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cancelled.returncode == 0, cancelled.stderr
    poll(lambda: AppJob.fetch(job_id, connection=get_redis()).get_status() != "started", timeout=60)
    assert db.session.get(JobRecord, job_id).status == "canceled"
    poll(lambda: gone(horses[0]), timeout=30)
    next_job = enqueue(probe, 1, 0.0, kind="probe", owner=make_account()).id
    poll(lambda: db.session.get(JobRecord, next_job).status == "finished")  # the worker took the next one
    assert worker.poll() is None
