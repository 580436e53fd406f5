"""The supervisor behind ``halyard start``: keeps its children running until SIGINT/SIGTERM.

Each child (the embedded Redis, gunicorn, every ``halyard worker``) runs in a process group of its
own and gets SIGTERM if the supervisor itself dies (PR_SET_PDEATHSIG). A child that exits is
restarted after a backoff (1 s, doubling up to 30 s, back to 1 s once it has run for a minute), with
one log line when it exits and one when it starts again; what its process group left behind
(gunicorn workers still holding the port, say) is stopped first. On SIGINT/SIGTERM the web and the
workers get SIGTERM and their own time to stop (a worker's grace period), then Redis; whatever is
left is killed. A second signal skips the waiting.
"""

import functools
import os
import signal
import subprocess
import time

from app.lifecycle import Backoff, die_with_parent, signal_name

POLL = 0.2
STABLE_SECONDS = 60


class Child:
    """One supervised command; ``ready()`` tells when it serves, ``last`` children stop last."""

    def __init__(self, name, argv, *, env, cwd=None, stop_timeout=15.0, ready=None, last=False):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.stop_timeout, self.ready, self.last = stop_timeout, ready, last
        self.proc, self.started, self.restart_at, self.restarts = None, 0.0, 0.0, 0
        self.backoff = Backoff(1, 30)

    def start(self):
        orphaned = functools.partial(die_with_parent, signal.SIGTERM, os.getpid())  # runs in the child
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, start_new_session=True, preexec_fn=orphaned
        )
        self.started = time.monotonic()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def clear_group(self, grace):
        """Stop what is left in the child's process group: SIGTERM, and SIGKILL after ``grace`` s."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not group_alive(self.proc.pid):
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            poll_until(lambda: not group_alive(self.proc.pid), wait)
        self.proc.poll()


class Supervisor:
    def __init__(self, children, say):
        self.children, self.say = children, say
        self.stop_signal, self.hurry = None, False

    def on_signal(self, signum, frame):
        self.hurry = self.stop_signal is not None  # a second signal: stop without waiting
        self.stop_signal = signum

    def run(self, on_up=None):
        """Start every child (each ready before the next), tend them until a signal, stop them."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.on_signal)
        for child in self.children:
            if self.stop_signal is None and self.launch(child) and child.ready:
                poll_until(lambda child=child: child.ready() or not child.running() or self.stop_signal, 30)
        if on_up and self.stop_signal is None:
            on_up()
        while self.stop_signal is None:
            for child in self.children:
                self.tend(child)
            time.sleep(POLL)
        self.stop()

    def launch(self, child):
        """Start ``child``; when it cannot be started at all, try again after its backoff."""
        try:
            child.start()
        except OSError as exc:
            child.proc, delay = None, child.backoff.next()
            child.restart_at = time.monotonic() + delay
            self.say(f"{child.name} could not start ({exc}); trying again in {delay:.0f} s")
            return False
        return True

    def tend(self, child):
        """Restart ``child`` when it has exited and its backoff has passed."""
        now = time.monotonic()
        if child.proc is None:
            if now >= child.restart_at and self.launch(child) and child.restarts:
                self.say(f"{child.name} started again (pid {child.proc.pid}, restart {child.restarts})")
            return
        code = child.proc.poll()
        if code is None:
            if now - child.started > STABLE_SECONDS:
                child.backoff.reset()
            return
        delay = child.backoff.next()
        child.restarts += 1
        self.say(
            f"{child.name} (pid {child.proc.pid}) exited with {signal_name(code)}; "
            f"restarting it in {delay:.0f} s"
        )
        child.clear_group(5.0)
        child.proc, child.restart_at = None, time.monotonic() + delay

    def stop(self):
        self.say(f"stopping on {signal.Signals(self.stop_signal).name}")
        for phase in ([c for c in self.children if not c.last], [c for c in self.children if c.last]):
            for child in phase:
                if child.running():
                    child.proc.send_signal(signal.SIGTERM)  # the leader only: it stops its own children
            deadline = time.monotonic() + max([c.stop_timeout for c in phase], default=0)
            poll_until(
                lambda phase=phase: self.hurry or not any(c.running() for c in phase),
                deadline - time.monotonic(),
            )
            for child in phase:
                if child.running():
                    self.say(f"{child.name} (pid {child.proc.pid}) did not stop in time; killing it")
                child.clear_group(0.0 if child.running() else 2.0)
                if child.proc is not None:
                    child.proc.wait()


def poll_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))


def group_alive(pgid):
    """True while process group ``pgid`` has a process that is not a zombie."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                state, _ppid, group = fh.read().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False
