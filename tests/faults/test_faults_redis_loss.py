"""kill -9 of Redis under a running ``halyard start``, embedded and server mode.

While Redis is down the web answers 503 problem+json with Retry-After on a path that needs Redis and
200 on those that need only the database, and the worker waits (the same process, one log line);
when Redis is back both recover: the job resource answers again and a new job runs.

- embedded: the supervisor's own redis-server is killed; the supervisor is paused (SIGSTOP) for the
  outage so that the test sees it (it restarts Redis within about a second), then resumed, and it
  restarts Redis on the same socket.
- server (REDIS_URL): a redis-server of the test's own, killed and started again by the test on the
  same port with no persistence, so Redis comes back empty and the worker must register again.
"""

import os
import signal
import time

import pytest
from faultkit import poll

pytestmark = [pytest.mark.e2e, pytest.mark.timeout_sensitive]


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_kill_9_of_redis(request, mode):
    redis_server = request.getfixturevalue("redis_server") if mode == "server" else None  # outlives halyard
    halyard = request.getfixturevalue("halyard")
    instance = halyard(redis_url=redis_server.url if redis_server else "")  # "": embedded, whatever REDIS_URL
    job_url = instance.probe(steps=1, delay=0)
    poll(lambda: instance.job(job_url)["status"] == "finished")
    worker = instance.children("app worker")[0]

    if mode == "embedded":
        redis_child = instance.children("redis-server")[0]
        os.kill(instance.proc.pid, signal.SIGSTOP)
        redis_child.kill()
    else:
        redis_server.kill()
    try:
        # a list: a requests.Response is falsy when its status is an error
        lost = poll(lambda: (r := instance.request("GET", job_url)).status_code == 503 and [r])[0]
        assert lost.headers["Content-Type"].startswith("application/problem+json")
        assert int(lost.headers["Retry-After"]) > 0 and lost.json()["@event"] == "SERVICE_UNAVAILABLE"
        assert instance.request("POST", "/api/health/probe", json={}).status_code == 503
        assert instance.request("GET", "/").status_code == 200
        assert instance.request("GET", "/jobs/").status_code == 200  # the rows, from the database
        deadline = time.monotonic() + 3  # the worker has been without Redis for a while now
        poll(lambda: time.monotonic() > deadline)
        assert worker.is_running()
    finally:
        if mode == "embedded":
            os.kill(instance.proc.pid, signal.SIGCONT)
        else:
            redis_server.start()

    poll(lambda: instance.request("GET", job_url).status_code == 200)
    again = instance.probe(steps=1, delay=0)
    poll(lambda: instance.job(again)["status"] == "finished")
    assert [w.pid for w in poll(instance.rq_workers)] == [worker.pid]  # registered again if Redis forgot
    assert worker.is_running() and instance.children("app worker") == [worker]  # it never crashed
    log = instance.log()
    said = [r["message"] for r in instance.log_records("halyard.worker")]
    assert sum(m.startswith("Redis is unreachable") for m in said) == 1, said  # one line for the whole outage
    assert sum(m.startswith("Redis is reachable again") for m in said) >= 1, said
    if mode == "embedded":
        assert "redis (pid" in log and "exited with signal 9 (SIGKILL)" in log
