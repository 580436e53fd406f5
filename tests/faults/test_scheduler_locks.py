"""The RQ scheduler's locks outlive a scheduler killed with SIGKILL; a worker releases them when their holder
is dead (app/jobs/graceful.py ``free_dead_locks``), so a restarted worker runs the scheduler at once instead
of after the locks' TTL, and never takes a lock whose holder may be alive.

- real processes: ``kill -9`` of the worker's whole process group (main process, RQ scheduler) under
  ``halyard start``, with the dead scheduler's locks made to last an hour: the restarted worker's
  scheduler takes them and moves a scheduled job;
- the rule on its own, against real Redis: dead holder on this host → released; live holder, holder on
  another host, holder not registered yet, our own lock → kept.
"""

import os
import signal
import socket
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from faultkit import gone, poll
from rq import Queue
from rq.job import Job
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler

from app.jobs import get_redis
from app.jobs.graceful import free_dead_locks

QUEUES = ("high", "default", "low")


@pytest.mark.e2e
@pytest.mark.timeout_sensitive  # real processes killed
def test_a_restarted_worker_takes_the_locks_of_its_killed_scheduler(halyard):
    instance = halyard()
    redis = instance.redis()
    keys = [RQScheduler.get_locking_key(f"{instance.prefix}-{name}") for name in QUEUES]
    worker = instance.worker()
    scheduler = poll(lambda: instance.forked().get("scheduler"))
    dead_name = poll(lambda: redis.get(keys[0]))
    for key in keys:
        assert redis.get(key) == dead_name
        redis.expire(key, 3600)  # past the test's bounds: only a release lets another scheduler run

    os.killpg(worker.pid, signal.SIGKILL)  # the worker leads its group: its scheduler dies with it at once
    poll(lambda: gone(worker) and gone(scheduler), timeout=30)

    new = poll(lambda: [p for p in instance.children("app worker") if p.pid != worker.pid], timeout=120)[0]
    poll(lambda: all(redis.get(key) not in (None, dead_name) for key in keys), timeout=120)
    assert poll(lambda: instance.forked().get("scheduler")).ppid() == new.pid
    scheduled = Queue(f"{instance.prefix}-default", connection=redis).enqueue_in(
        timedelta(seconds=1), "app.jobs.probe.probe", 1, 0.0, job_id=str(uuid.uuid4())
    )
    poll(lambda: Job.fetch(scheduled.id, connection=redis).get_status() == "finished", timeout=120)
    assert "released the scheduler lock of" in instance.log()


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    "holder,released",
    [
        ({"pid": "dead", "hostname": "here"}, True),
        ({"pid": "alive", "hostname": "here"}, False),
        ({"pid": "dead", "hostname": "another-host.example"}, False),
        (None, False),  # the lock is taken just before the scheduler process registers
        ("mine", False),
    ],
    ids=["dead-here", "alive-here", "elsewhere", "unregistered", "mine"],
)
def test_only_a_lock_whose_holder_is_dead_here_is_released(app, holder, released):
    redis = get_redis()
    queue, name = f"locks-{uuid.uuid4().hex}", "mine" if holder == "mine" else uuid.uuid4().hex
    key = RQScheduler.get_locking_key(queue)
    redis.set(key, name, ex=60)
    if isinstance(holder, dict):
        pid = {"dead": dead_pid(), "alive": os.getpid()}[holder["pid"]]
        host = socket.gethostname() if holder["hostname"] == "here" else holder["hostname"]
        redis.hset(SCHEDULER_KEY_TEMPLATE % name, mapping={"pid": pid, "hostname": host})
        redis.expire(SCHEDULER_KEY_TEMPLATE % name, 60)
    try:
        free_dead_locks(redis, [queue], "mine")
        assert redis.get(key) == (None if released else name.encode())
    finally:
        redis.delete(key, SCHEDULER_KEY_TEMPLATE % name)
