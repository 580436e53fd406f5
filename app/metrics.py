"""Process metrics with prometheus_client: HTTP requests, jobs, bytes of files served, failed sign-ins.

Multiprocess mode (docs/operations.md "Metrics"): when ``PROMETHEUS_MULTIPROC_DIR`` is set (``halyard
start`` sets it to ``<instance>/metrics`` and empties it; app/gunicorn_conf.py makes a temporary one when
gunicorn runs on its own), every process writes its values to files there and a scrape of any web worker
sums all of them: every gunicorn worker and every ``halyard worker`` on the host. A forked work horse
writes into a file shared by its worker's horses (``adopt_parent``: they run one at a time), so files
do not pile up one per job. Without the variable the values are this process's own.

The scheduler counters, queue gauges and worker states are read from Redis at scrape time
(app/resources/scheduler/metrics.py), so they are the same from every process and host.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, values

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_identity = {"horse_of": None}  # set in a forked work horse: it writes the files of its worker's horses


def _process_identifier():
    parent = _identity["horse_of"]
    return f"{parent}h" if parent else str(os.getpid())


if MULTIPROCESS:
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_identifier)

JOB_BUCKETS = (0.05, 0.1, 0.5, 1, 2.5, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))

HTTP_REQUESTS = Counter(
    "halyard_http_requests",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "halyard_http_request_duration_seconds",
    "Time from the first hook to the response, by route template and method.",
    ["route", "method"],
)
JOBS = Counter(
    "halyard_jobs", "Jobs run, by kind and outcome (finished, failed, skipped).", ["kind", "outcome"]
)
JOB_DURATION = Histogram(
    "halyard_job_duration_seconds",
    "Run time of jobs, by kind and outcome.",
    ["kind", "outcome"],
    buckets=JOB_BUCKETS,
)
FILE_BYTES = Counter(
    "halyard_download_bytes_served",
    "Bytes of stored files (downloads, data files) sent, by route.",
    ["route"],
)
SIGNIN_FAILURES = Counter(
    "halyard_signin_failures", "Failed password checks (sign-in, Basic, password change)."
)
OWN = (HTTP_REQUESTS, HTTP_DURATION, JOBS, JOB_DURATION, FILE_BYTES, SIGNIN_FAILURES)


_request_children = {}  # (route, method, status) -> (counter, histogram): labels() once per combination


def observe_request(method, route, status, seconds):
    key = (route, method, status)
    children = _request_children.get(key)
    if children is None:
        children = _request_children[key] = (
            HTTP_REQUESTS.labels(route, method, str(status)),
            HTTP_DURATION.labels(route, method),
        )
    children[0].inc()
    children[1].observe(seconds)


def observe_job(kind, outcome, seconds):
    JOBS.labels(kind, outcome).inc()
    JOB_DURATION.labels(kind, outcome).observe(seconds)


def file_sent(route, size):
    FILE_BYTES.labels(route).inc(size)


def signin_failed():
    SIGNIN_FAILURES.inc()


def adopt_parent():
    """In a forked work horse: write into the files of its worker's horses ("<worker pid>h"), reopened from
    disk (the identifier differs from the worker's own, so prometheus_client drops what the fork copied).
    A worker runs one horse at a time, so one writer per file, and no file per job."""
    if MULTIPROCESS:
        _identity["horse_of"] = os.getppid()


class Own:
    """This process's own metrics (single-process mode)."""

    def collect(self):
        for metric in OWN:
            yield from metric.collect()


def registry(*collectors):
    """A registry with every process's metrics (or this process's) and ``collectors``."""
    made = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(made)
    else:
        made.register(Own())
    for collector in collectors:
        made.register(collector)
    return made


def process_dead(pid):
    """Drop the live-gauge files of a process that exited (gunicorn's child_exit)."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
