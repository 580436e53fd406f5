"""Job parts for tests/faults/test_rows.py (importable by real worker subprocesses)."""

import time


def blocking_adapter(request, out_path):
    """A download adapter that writes part of its file, then works for a long time (until killed)."""
    with open(out_path, "w") as fh:
        fh.write("id\n")
        fh.flush()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            fh.write("1\n")
            fh.flush()
            time.sleep(0.2)
    return 0


def long_job(seconds=120):
    """A plain job that runs until it is killed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
