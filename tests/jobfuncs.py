"""Job functions used only by the tests (importable by real worker subprocesses too)."""

import os
import signal
import time

from app.jobs import report_progress


def crash():
    """Kill the work horse the way a segfault or the OOM killer would."""
    os.kill(os.getpid(), signal.SIGKILL)


def boom():
    """An unexpected exception whose text must never reach a client."""
    raise ValueError("secret detail: postgresql://admin:hunter2@db/prod")


def steps(n=3, delay=0.3):
    for i in range(n):
        report_progress(i / n, f"step {i + 1}")
        time.sleep(delay)
    return n


def gated_steps(n, gate_key, timeout=120):
    """Like ``steps``, but each step after the first waits for the test to allow it: the Redis list
    ``gate_key`` gets one item per step allowed (an event, not a delay), bounded by ``timeout``."""
    from app.jobs import get_redis

    for i in range(n):
        report_progress(i / n, f"step {i + 1}")
        if i and get_redis().blpop(gate_key, timeout=timeout) is None:
            raise TimeoutError("the test never allowed the next step")
    return n
