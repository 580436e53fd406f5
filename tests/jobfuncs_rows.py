"""Job parts for tests/faults/test_rows.py (importable by real worker subprocesses)."""

import time


def blocking_adapter(request, out_path, run):
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


def held_adapter(request, out_path, run):
    """A download adapter that writes rows (and reports progress) until the folder FAULTS_RELEASE holds a
    file named after the request (bounded), as a long download does; each call adds its request id to
    FAULTS_RELEASE/calls."""
    import os

    from app.jobs import report_progress

    folder = os.environ["FAULTS_RELEASE"]
    release = os.path.join(folder, str(request["id"]))
    with open(os.path.join(folder, "calls"), "a") as calls:
        calls.write(f"{request['id']}\n")
    rows = 0
    with open(out_path, "w") as fh:
        fh.write("id\n")
        deadline = time.monotonic() + 120
        while not os.path.exists(release) and time.monotonic() < deadline:
            fh.write(f"{rows}\n")
            fh.flush()
            rows += 1
            report_progress(0.5, f"{rows} rows")
            time.sleep(0.2)
    return rows
