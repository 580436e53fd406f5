"""Progress that moves (app/jobs/progress.py): DuckDB's query progress published while a statement runs,
at least every 2 s; progress writes that cannot fail a job; /jobs/ showing what /jobs/{id} shows."""

import threading
import time

import redis
from rq.job import Job

from app.jobs import get_redis
from app.jobs.progress import duckdb_progress, write


def test_duckdb_progress_moves_while_a_statement_runs(app, tmp_path):
    import duckdb

    job = Job.create("tests.jobfuncs.steps", connection=get_redis(app))
    job.save()
    con = duckdb.connect(config={"threads": 1})
    seen, done = [], threading.Event()

    def sample():
        while not done.is_set():
            meta = Job.fetch(job.id, connection=get_redis(app)).meta
            if "progress" in meta:
                seen.append((time.monotonic(), meta["progress"], meta["progress_at"]))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    began = time.monotonic()
    try:
        with duckdb_progress(con, 0.1, 0.9, "extracting", job=job):
            con.execute(
                "COPY (SELECT i, md5(i::varchar) AS m FROM range(3000000) t(i) ORDER BY m) "
                f"TO '{tmp_path / 'out.csv'}'"
            )
    finally:
        ran = time.monotonic() - began
        done.set()
        sampler.join()
        con.close()
    fractions = [fraction for _, fraction, _ in seen]
    assert fractions and all(0.1 <= f <= 0.9 for f in fractions)
    assert fractions == sorted(fractions)  # never goes back
    assert len(set(fractions)) >= 2, (ran, fractions)  # it moved while the statement ran
    updates = sorted({(at, when) for when, _, at in seen}, key=lambda pair: pair[1])
    first_seen = [when for _, when in updates]
    gaps = [b - a for a, b in zip([began, *first_seen], first_seen, strict=False)]
    assert max(gaps) <= 2.0 + 0.5, gaps  # a new write at least every 2 s (sampling adds up to 0.1 s)
    assert Job.fetch(job.id, connection=get_redis(app)).meta["message"] == "extracting"


def test_a_progress_write_that_fails_does_not_raise(app):
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    job = Job.create("tests.jobfuncs.steps", connection=unreachable)
    assert write(job, 0.5, "halfway") is False  # logged, not raised: the job goes on
    assert write(None, 0.5) is False


def test_the_list_shows_what_the_job_shows(client, admin_headers, run_jobs):
    location = client.post("/api/health/probe", json={"steps": 2}, headers=admin_headers).headers["Location"]
    queued = client.get("/jobs/", headers=admin_headers).get_json()["_embedded"]["ec:job"][0]
    assert queued["enqueued"] is not None and queued["status"] == "queued"
    run_jobs()
    single = client.get(location, headers=admin_headers).get_json()
    listed = client.get("/jobs/", headers=admin_headers).get_json()["_embedded"]["ec:job"][0]
    assert single["progress"]["fraction"] == 1.0 and single["progress"]["updated"] is not None
    for field in ("id", "status", "progress", "enqueued", "started", "ended", "request_id"):
        assert listed[field] == single[field], field
