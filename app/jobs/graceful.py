"""RQ's worker and scheduler, extended through their public hooks (``halyard worker`` runs them).

- Every process a worker forks gets SIGTERM when the worker dies (app/jobs/worker.py arms that for
  every fork); a work horse then switches it to SIGKILL. The scheduler process stops on SIGTERM and
  releases its locks, so a restarted worker takes the scheduler over at once.
- SIGTERM/SIGINT: no new job is taken; the running one may finish within HALYARD_WORKER_GRACE_SECONDS,
  then it is killed (a simple worker: interrupted) and marked failed with a clear error; the worker
  unregisters from RQ. A second signal ends the grace period at once.
- Between jobs the worker notices the end of a Redis outage (one log line each way) and a Redis that
  came back without its registration (it then stops its loop, and a fresh worker starts).

- While a horse works, a Redis outage skips the worker's heartbeats and the job goes on; a lost Redis
  that ends the loop while a job runs anyway: the horse is killed and its job failed in the database
  (``abandon``).

Only documented hooks are extended (``bootstrap``, ``heartbeat``, ``request_stop``, ``teardown``,
``handle_work_horse_killed``, ``execute_job``, ``maintain_heartbeats``, ``setup_work_horse_signals``,
``RQScheduler.work``), never a private method; the scheduler process is started and watched here rather
than by RQ's ``_start_scheduler``.
"""

import logging
import os
import signal
import socket
import threading
import time

import redis
from rq import SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.worker import WorkerStatus

from app.jobs import JobError
from app.jobs.reconcile import fail
from app.lifecycle import Outage, die_with_parent

log = logging.getLogger("halyard.worker")
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)
REDIS_LOST = "The worker lost its connection to Redis while this job ran; the job was stopped."


class GracePeriodOver(JobError):
    """Raised into a job that a simple worker runs itself when its shutdown grace period ends."""


class PollingScheduler(RQScheduler):
    """RQ's scheduler, polling every ``poll`` seconds (RQ's fixed 1 s also sets its whole-second lock
    TTLs), stopping on SIGTERM and riding out Redis outages instead of dying with a traceback."""

    poll = 1.0
    stopping = False

    def request_stop(self, signum=None, frame=None):
        self.stopping = True
        super().request_stop(signum, frame)

    def work(self):
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        outage, born = Outage(self.log, "Redis (scheduler)"), False
        while not self.stopping:
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                outage.ok()
                delay = self.poll
            except REDIS_ERRORS as exc:
                delay = outage.failed(exc)
            deadline = time.monotonic() + delay
            while not self.stopping and time.monotonic() < deadline:  # a stop request ends the wait
                time.sleep(min(0.2, self.poll, deadline - time.monotonic()))
        try:
            self.stop()  # releases its locks: the next scheduler need not wait for their TTL
        except REDIS_ERRORS:
            pass


def free_dead_locks(connection, queue_names, mine):
    """Release the scheduler locks of ``queue_names`` whose holder ran on this host and is gone: a scheduler
    killed with SIGKILL (with its worker's process group, by the OOM killer) cannot release them, and
    they would keep every other worker from running a scheduler until their TTL. A holder on another
    host, or whose process still exists, is left alone; the release is a compare-and-delete."""
    for name in queue_names:
        key = RQScheduler.get_locking_key(name)
        holder = connection.get(key)
        if holder is None or holder.decode() == mine:
            continue
        pid, host = connection.hmget(SCHEDULER_KEY_TEMPLATE % holder.decode(), "pid", "hostname")
        if not pid or host is None or host.decode() != socket.gethostname():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            if release_lock(connection, key, holder.decode()):
                log.warning("released the scheduler lock of %s held by dead scheduler pid %s", name, int(pid))
        except PermissionError:
            pass


class Graceful:
    """Mixed into RQ's Worker or SimpleWorker (see the module docstring)."""

    grace = 30
    poll = 1.0
    with_scheduler = False
    burst = False
    max_connection_wait_time = 10.0  # RQ's reconnect backoff cap while dequeuing (its default: 60 s)

    def setup(self, *, grace, poll, with_scheduler, burst, outage, stops, logging_level):
        """Settings; ``stops`` collects stop signals that came before RQ installed its handlers."""
        self.grace, self.poll, self.with_scheduler, self.burst = grace, poll, with_scheduler, burst
        self.outage, self.stops, self.logging_level = outage, stops, logging_level
        self.stop_requested = self.registration_lost = self.grace_over = False
        self.timer = self.scheduler_process = self.polling = None
        return self

    def bootstrap(self, *args, **kwargs):
        super().bootstrap(*args, **kwargs)
        if not self.with_scheduler:
            return
        self.polling = PollingScheduler(
            self.queues,
            connection=self.connection,
            serializer=self.serializer,
            logging_level=self.logging_level,
        )
        self.polling.poll = self.poll
        if self.burst:  # move what is due once, as RQ's burst mode does
            if self.polling.acquire_locks():
                self.polling.register_birth()
                self.polling.enqueue_scheduled_jobs()
                self.polling.release_locks()
                self.polling.register_death()
            self.polling = None
        else:
            self.watch_scheduler()

    def watch_scheduler(self):
        """Start the scheduler process when it is not running and its lock is free, ours, or held by a
        scheduler that died on this host without releasing it (``free_dead_locks``)."""
        if self.polling is None or (self.scheduler_process and self.scheduler_process.is_alive()):
            return
        free_dead_locks(self.connection, [queue.name for queue in self.queues], self.polling.name)
        if self.polling.acquire_locks():
            self.scheduler_process = self.polling.start()

    def halt_scheduler(self):
        process, self.scheduler_process = self.scheduler_process, None
        if process is not None and process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()

    def heartbeat(self, timeout=None, pipeline=None):
        """RQ's heartbeat; between jobs also: notice an outage's end and a Redis that forgot us."""
        if pipeline is not None or self.horse_pid or self.get_state() == WorkerStatus.BUSY:
            return super().heartbeat(timeout, pipeline)
        try:
            registered = self.connection.sismember(self.redis_workers_keys, self.key)
            super().heartbeat(timeout, pipeline)
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            raise
        self.outage.ok()
        if self.stops:  # a stop signal arrived while the worker was starting
            self.stop_requested = True
            raise StopRequested()
        if not registered:  # Redis restarted without our keys: start over as a new worker
            self.registration_lost = True
            raise StopRequested()
        self.watch_scheduler()

    def maintain_heartbeats(self, job, execution):
        """RQ's heartbeat while a horse works; a Redis outage skips it (one log line per outage) instead
        of ending the loop and killing the job: the next one comes a monitoring interval later, well
        within the keys' TTL, and the job itself does not need Redis to go on."""
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_ERRORS as exc:
            self.outage.failed(exc)
            return
        self.outage.ok()

    def request_stop(self, signum, frame):
        """First SIGTERM/SIGINT: take no new job; give the running one ``grace`` seconds."""
        self.stop_requested = True
        if self.get_state() == WorkerStatus.BUSY and self.timer is None:
            log.warning("stop requested: waiting up to %s s for the running job", self.grace)
            signal.signal(signal.SIGUSR1, self.interrupt_job)
            self.timer = threading.Timer(self.grace, self.end_grace)
            self.timer.daemon = True
            self.timer.start()
        super().request_stop(signum, frame)

    def request_force_stop(self, signum, frame):
        """A second signal ends the grace period now (the job is still marked failed)."""
        self.end_grace()

    def end_grace(self):
        if self.grace_over:
            return
        self.grace_over = True
        pid = self.horse_pid
        if pid:
            log.warning("grace period over: killing the work horse %s", pid)
            try:
                os.killpg(pid, signal.SIGKILL)  # the horse leads its own group (RQ's setpgrp)
            except ProcessLookupError:
                pass
        elif self.get_state() == WorkerStatus.BUSY:
            os.kill(os.getpid(), signal.SIGUSR1)  # a simple worker runs the job in its main thread

    def interrupt_job(self, signum, frame):
        if self.grace_over and self.get_state() == WorkerStatus.BUSY:
            raise GracePeriodOver(self.grace_message())

    def grace_message(self):
        return f"The worker shut down before the job finished (grace period of {self.grace} s)."

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        if self.grace_over:
            job.meta["error"] = self.grace_message()
            job.save_meta()
            fail(job.id, job.meta["error"], cancel=False)

    def setup_work_horse_signals(self):
        super().setup_work_horse_signals()
        die_with_parent(signal.SIGKILL, self.pid)  # a horse must not outlive its worker, even briefly

    def teardown(self):
        if self.timer is not None:
            self.timer.cancel()
        self.halt_scheduler()
        super().teardown()

    def execute_job(self, job, queue):
        self.running = job  # for ``abandon``: RQ's own record of it is in Redis, which may be gone
        result = super().execute_job(job, queue)
        self.running = None  # kept when Redis ended the job's run with an error: ``abandon`` fails it
        return result

    def abandon(self):
        """After a lost Redis ended the work loop: no horse or scheduler may be left running, and the
        job the horse ran is failed in the database (its row would otherwise wait for the reconciler)."""
        pid, job = self.horse_pid, getattr(self, "running", None)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait_for_horse()
            if job is not None:
                fail(job.id, REDIS_LOST, cancel=False)
        self.halt_scheduler()


class ForkingWorker(Graceful, Worker):
    pass


class InProcessWorker(Graceful, SimpleWorker):
    pass


WORKER_CLASSES = {"fork": ForkingWorker, "simple": InProcessWorker}
