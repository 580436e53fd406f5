"""The probe job: proves end to end that a worker picks up jobs, reports progress and finishes."""

import time

from app.jobs import JobError, produced, report_progress


def probe(steps=3, delay=0.0, fail=False):
    """Walk ``steps`` steps of ``delay`` seconds each, reporting progress; fail at the end if asked."""
    for step in range(steps):
        report_progress(step / steps, f"step {step + 1} of {steps}")
        time.sleep(delay)
    if fail:
        raise JobError("The probe was asked to fail.")
    report_progress(1.0, "done")
    produced("/api/health/")
    return {"steps": steps}
