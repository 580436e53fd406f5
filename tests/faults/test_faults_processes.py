"""kill -9 of a child of ``halyard start``, and SIGTERM to it, against a real running instance.

- the worker's main process, while a long probe job runs: its job process and RQ scheduler process
  die with it, the supervisor restarts the worker, ``GET /`` answers throughout, a new job runs and
  the new worker's scheduler fires a scheduled (``enqueue_in``) job;
- the web (gunicorn's arbiter): restarted, nothing of the old one left;
- SIGTERM with a running job: it finishes within the grace period, or past it is killed and marked
  failed with a clear error; the worker is unregistered from RQ and no process is left.
"""

import os
import signal
import threading
import uuid
from datetime import timedelta

import pytest
from faultkit import gone, poll, snapshot_redis
from rq import Queue
from rq.job import Job

pytestmark = [pytest.mark.e2e, pytest.mark.timeout_sensitive]


def only(processes):
    assert len(processes) == 1, processes
    return processes[0]


def started(instance, job_url):
    return poll(lambda: (j := instance.job(job_url))["status"] == "started" and j["progress"]["fraction"])


class Watch(threading.Thread):
    """GET / every 0.2 s until stopped; every answer that is not a 200 is kept."""

    def __init__(self, instance):
        super().__init__(daemon=True)
        self.instance, self.failures, self.count, self.done = instance, [], 0, threading.Event()

    def run(self):
        while not self.done.wait(0.2):
            try:
                status = self.instance.request("GET", "/").status_code
            except Exception as exc:  # noqa: BLE001 — a refused connection is what we look for
                status = type(exc).__name__
            self.count += 1
            if status != 200:
                self.failures.append(status)

    def stop(self):
        self.done.set()
        self.join()
        return self


def test_kill_9_of_the_worker_main_process(halyard):
    instance = halyard()
    job_url = instance.probe(steps=20, delay=5)  # 100 s: still running when its worker dies
    started(instance, job_url)
    worker = only(instance.children("app worker"))
    forked = {os.getpgid(p.pid) == p.pid: p for p in worker.children()}  # the horse leads its own group
    horse, scheduler = forked[True], forked[False]
    watch = Watch(instance)
    watch.start()

    worker.kill()
    poll(lambda: gone(horse) and gone(scheduler), timeout=15)
    new = poll(lambda: [p for p in instance.children("app worker") if p.pid != worker.pid], timeout=120)[0]
    finished = instance.probe(steps=1, delay=0)
    poll(lambda: instance.job(finished)["status"] == "finished")
    scheduled = Queue(f"{instance.prefix}-default", connection=instance.redis()).enqueue_in(
        timedelta(seconds=1), "app.jobs.probe.probe", 1, 0.0, job_id=str(uuid.uuid4())
    )
    poll(lambda: Job.fetch(scheduled.id, connection=instance.redis()).get_status() == "finished")
    watch = watch.stop()

    assert watch.failures == [] and watch.count > 5  # GET / answered throughout
    assert [w.pid for w in instance.rq_workers()] == [new.pid]  # the dead worker is not listed any more
    assert f"worker-1 (pid {worker.pid}) exited with signal 9 (SIGKILL)" in instance.log()


def test_kill_9_of_the_web(halyard):
    instance = halyard()
    web = only(instance.children("gunicorn"))
    serving = web.children()
    assert serving
    web.kill()
    new = poll(lambda: [p for p in instance.children("gunicorn") if p.pid != web.pid], timeout=120)[0]
    poll(lambda: instance.request("GET", "/").status_code == 200)
    assert all(gone(p) for p in serving)  # the old arbiter's workers do not hold the port any more
    assert new.children() and "web (pid" in instance.log()
    job_url = instance.probe(steps=1, delay=0)
    poll(lambda: instance.job(job_url)["status"] == "finished")


@pytest.mark.parametrize("worker_class", ["fork", "simple"])
def test_sigterm_past_the_grace_period_fails_the_job_and_leaves_nothing(halyard, worker_class):
    instance = halyard(env={"HALYARD_WORKER_GRACE_SECONDS": "3"}, args=["--worker-class", worker_class])
    job_url = instance.probe(steps=20, delay=5)
    started(instance, job_url)
    processes = instance.descendants()

    instance.proc.send_signal(signal.SIGTERM)
    assert instance.proc.wait(60) == 0  # long before the job's 100 s

    assert tuple(instance.row(job_url)) == (
        "failed",
        "The worker shut down before the job finished (grace period of 3 s).",
    )
    assert [p for p in processes.values() if not gone(p)] == []
    with snapshot_redis(instance) as connection:
        assert instance.rq_workers(connection) == []
        assert Job.fetch(job_url.rsplit("/", 1)[1], connection=connection).get_status() == "failed"


def test_sigterm_lets_the_running_job_finish(halyard):
    instance = halyard()  # the default grace period, 30 s
    job_url = instance.probe(steps=5, delay=1)
    started(instance, job_url)
    processes = instance.descendants()

    instance.proc.send_signal(signal.SIGTERM)
    assert instance.proc.wait(90) == 0

    assert tuple(instance.row(job_url)) == ("finished", None)
    assert [p for p in processes.values() if not gone(p)] == []
    with snapshot_redis(instance) as connection:
        assert instance.rq_workers(connection) == []
    assert "Halyard stopped." in instance.log()
