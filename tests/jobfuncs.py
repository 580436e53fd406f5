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
