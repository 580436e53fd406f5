"""End to end: ``halyard start`` as a subprocess; a client that only follows links from ``/``.

The server runs on the suite's kind of database (a fresh SQLite file, or a fresh
PostgreSQL database when TEST_DATABASE_URL is set) and on the embedded Redis unless
REDIS_URL is set — the README's first command on this machine.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
import uritemplate

pytestmark = pytest.mark.e2e
TIMEOUT = 30  # per request; generous, a loaded machine answers slowly
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(fn, timeout=180.0, interval=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (
            requests.ConnectionError,
            requests.Timeout,
        ):  # a server still booting may accept but not answer yet
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out; last value {last!r}")


@pytest.fixture
def server(tmp_path, fresh_database, run_id):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALYARD_", "DATABASE_URL"))}
    env.update(
        HALYARD_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=fresh_database(str(tmp_path), "e2e"),
        HALYARD_QUEUE_PREFIX=f"hye2e-{run_id}",
        PYTHONPATH=ROOT,
        HALYARD_RATE_LIMIT_ENABLED="false",  # it polls fast; tests/test_rate_limits.py tests the limits
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "start", "--port", str(port), "--web-workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: requests.get(base + "/", timeout=TIMEOUT).status_code == 200)
        admin = subprocess.run(
            [sys.executable, "-m", "app", "create-admin", "--email", "e2e@example.org", "--token"],
            cwd=ROOT,
            env={**env, "HALYARD_ADMIN_PASSWORD": "e2e-password"},
            capture_output=True,
            text=True,
            timeout=180,  # a process importing the app on a loaded machine
        )
        assert admin.returncode == 0, admin.stderr
        token = admin.stdout.split("token: ")[1].strip()
        yield base, proc, {"Authorization": f"Bearer {token}"}, str(tmp_path / "instance")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in embedded_redis_pids(str(tmp_path / "instance")):  # start's children: groups of their own
            os.kill(pid, signal.SIGKILL)
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        print(output[-4000:])


def embedded_redis_pids(instance):
    """redis-server processes working in ``instance`` (the embedded server runs with dir= there)."""
    import psutil

    return [
        p.pid
        for p in psutil.process_iter(["name", "cwd"])
        if p.info["name"] == "redis-server" and p.info["cwd"] == instance
    ]


def test_follow_links_from_root_to_health_and_a_job(server):
    base, proc, auth, instance = server
    session = requests.Session()
    session.headers.update(auth)
    root = session.get(base + "/", timeout=TIMEOUT).json()

    health_href = root["_links"]["ec:health"]["href"]
    health = poll(
        lambda: (
            (r := session.get(health_href, timeout=TIMEOUT)).status_code == 200
            and r.json()["result"]["workers"] == "Running"
            and r.json()
        )
    )
    assert health["up"] is True and health["result"]["workers"] == "Running"

    forms = session.get(
        health_href, headers={"Accept": "application/prs.hal-forms+json"}, timeout=TIMEOUT
    ).json()
    template = forms["_templates"]["probe"]
    started = session.request(
        template["method"], template["target"], json={"steps": 2, "delay": 0.2}, timeout=TIMEOUT
    )
    assert started.status_code == 202
    job_href = started.headers["Location"]
    assert (
        uritemplate.expand(root["_links"]["ec:job/by-id"]["href"], id=job_href.rsplit("/", 1)[1]) == job_href
    )

    job = poll(lambda: (j := session.get(job_href, timeout=TIMEOUT).json())["status"] == "finished" and j)
    assert job["progress"]["fraction"] == 1.0
    assert session.get(job["_links"]["ec:job/result"]["href"], timeout=TIMEOUT).status_code == 200
    listed = session.get(root["_links"]["ec:jobs"]["href"], timeout=TIMEOUT).json()
    assert [j["id"] for j in listed["_embedded"]["ec:job"]] == [job["id"]]

    embedded = 0 if os.environ.get("REDIS_URL") else 1  # the embedded Redis runs only without REDIS_URL
    assert len(embedded_redis_pids(instance)) == embedded
    # SIGTERM to `halyard start` alone, as a process supervisor sends it (its children run in sessions of
    # their own, so Ctrl-C in a terminal reaches only `start` too); start handles SIGINT the same way.
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(30) == 0
    poll(lambda: embedded_redis_pids(instance) == [], timeout=10)  # it does not outlive `halyard start`
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/", timeout=TIMEOUT)
