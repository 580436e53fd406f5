"""Process lifecycle: children that die with their parent, exponential backoff, one log line per outage.

Used by ``halyard start`` (app/supervisor.py) for its children and by ``halyard worker``
(app/jobs/worker.py) for RQ's work horses and scheduler process, so that no process outlives
the one that is responsible for it, and retries neither spin nor flood the log.
"""

import ctypes
import ctypes.util
import os
import signal
import threading

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _prctl():
    try:  # resolved in the parent: a child right after fork should not have to load libraries
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: no parent-death signal
        return None


_PRCTL = _prctl()


def die_with_parent(sig, parent):
    """In a child just forked from ``parent``: have the kernel send ``sig`` when that parent dies.

    The signal fires when the parent *thread* that forked ends, so fork from a thread that lives as
    long as the process (the main thread). If the parent died before this call, die now.
    """
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def children_die_with_me(sig):
    """Every process this process's main thread forks from now on gets ``sig`` when this process dies.

    Uses ``os.register_at_fork``, so it covers forks made by libraries (RQ's work horse and scheduler
    process) without touching their code. Forks by other threads are left alone: the kernel would
    signal their children when that thread ends. Forks by the children themselves too.
    """
    me = os.getpid()
    forking = {}

    def before():
        forking["ours"] = os.getpid() == me and threading.current_thread() is threading.main_thread()

    def in_child():
        if forking.get("ours"):
            die_with_parent(sig, me)

    os.register_at_fork(before=before, after_in_child=in_child)


class Backoff:
    """Waits of ``first``, 2 × ``first``, ... up to ``cap`` seconds; ``reset()`` after a success."""

    def __init__(self, first=0.5, cap=30.0):
        self.first, self.cap, self.failures = first, cap, 0

    def next(self):
        delay = min(self.cap, self.first * 2**self.failures)
        self.failures += 1
        return delay

    def reset(self):
        self.failures = 0


class Outage:
    """A dependency that may go away: one warning when it does, one when it is back, backoff between."""

    def __init__(self, log, what, backoff=None):
        self.log, self.what, self.backoff, self.down = log, what, backoff or Backoff(), False

    def failed(self, exc):
        """Record a failed attempt; return how long to wait before the next one."""
        delay = self.backoff.next()
        if not self.down:
            self.down = True
            self.log.warning(
                "%s is unreachable (%s); retrying with backoff up to %.0f s, quietly",
                self.what,
                type(exc).__name__,
                self.backoff.cap,
            )
        return delay

    def ok(self):
        if self.down:
            self.down = False
            self.log.warning("%s is reachable again", self.what)
        self.backoff.reset()


def signal_name(code):
    """'signal 9 (SIGKILL)' or 'status 1' for a subprocess return code."""
    if code is not None and code < 0:
        try:
            return f"signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"
