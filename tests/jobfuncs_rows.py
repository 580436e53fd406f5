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
    FAULTS_RELEASE/calls, and each progress report a line to FAULTS_RELEASE/progress-<id>: "saved" when
    Redis took it, "dropped" when not (tests/faults/test_redis_blips.py waits for a saved one)."""
    import os

    from app.jobs import report_progress

    folder = os.environ["FAULTS_RELEASE"]
    release = os.path.join(folder, str(request["id"]))
    with open(os.path.join(folder, "calls"), "a") as calls:
        calls.write(f"{request['id']}\n")
    rows = 0
    with open(out_path, "w") as fh, open(os.path.join(folder, f"progress-{request['id']}"), "a") as reports:
        fh.write("id\n")
        deadline = time.monotonic() + 600  # long enough for a slow machine's outages, still bounded
        while not os.path.exists(release) and time.monotonic() < deadline:
            fh.write(f"{rows}\n")
            fh.flush()
            rows += 1
            reports.write("saved\n" if report_progress(0.5, f"{rows} rows") else "dropped\n")
            reports.flush()
            time.sleep(0.2)
    return rows


def cooperative_adapter(request, out_path, run):
    """A download adapter that works until its request is cancelled, then stops itself as the built-in
    executors do — interrupting its engine takes it 2 s here, so a work horse killed at once never gets
    that far — and leaves the mark ``<instance>/stopped-<request id>``."""
    import os

    from app.resources.downloader.executors import Cancelled

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if run.cancelled():
            time.sleep(2)  # the engine's interrupt
            open(os.path.join(os.environ["HALYARD_INSTANCE_PATH"], f"stopped-{request['id']}"), "w").close()
            raise Cancelled()
        run.progress(0.5, "working")
        time.sleep(0.1)
    return 0
