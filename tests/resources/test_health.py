"""GET /api/health/ (seed 003's shape), /api/health/live and /api/health/ready: 503 only when the database
or Redis is down; workers come from RQ's registry and their state, not from a recent heartbeat."""

import time

import pytest

from app import create_app


def test_health_needs_credentials_by_default(client):
    response = client.get("/api/health/")
    assert response.status_code == 401


def test_health_without_worker_is_up_with_workers_missing(client, user_headers, app):
    from app.jobs import get_queue

    get_queue("low").enqueue("tests.jobfuncs.steps", 1, 0)  # waits: no worker
    response = client.get("/api/health/", headers=user_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["up"] is True
    result = body["result"]
    assert result["database"] == "Accessible" and result["redis"] == "Accessible"
    assert result["workers"] == "Missing" and result["workers_alive"] == 0 and result["worker_states"] == {}
    prefix = app.config["HALYARD_QUEUE_PREFIX"]
    assert result["queues"][f"{prefix}-default"] == {"length": 0, "oldest_age_seconds": None}
    low = result["queues"][f"{prefix}-low"]
    assert low["length"] == 1 and 0 <= low["oldest_age_seconds"] < 60
    assert result["scheduler_tick_age_seconds"] is None  # no tick ran for this prefix
    assert result["version"]
    assert "ec:health/probe" not in body["_links"]  # not an ADMIN
    assert body["_links"]["ec:health/ready"]["href"] == "http://localhost/api/health/ready"


def test_scheduler_tick_age_is_reported(client, user_headers, run_jobs):
    from app.jobs import get_queue
    from app.resources.scheduler.jobs import tick

    get_queue("high").enqueue(tick)
    run_jobs()
    age = client.get("/api/health/", headers=user_headers).get_json()["result"]["scheduler_tick_age_seconds"]
    assert 0 <= age < 60


def test_live_and_ready_answer_without_credentials(client):
    live = client.get("/api/health/live")
    assert live.status_code == 200 and live.get_json()["up"] is True
    assert live.get_json()["result"] == {"process": "Answering"}
    ready = client.get("/api/health/ready")
    assert ready.status_code == 200
    assert ready.get_json()["result"] == {"database": "Accessible", "redis": "Accessible"}


def test_health_with_a_live_worker_is_up(client, admin_headers, worker_process):
    worker_process()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        response = client.get("/api/health/", headers=admin_headers)
        if response.get_json()["result"]["workers"] == "Running":
            break
        time.sleep(0.2)
    body = response.get_json()
    assert response.status_code == 200 and body["up"] is True
    assert body["result"]["workers"] == "Running" and body["result"]["workers_alive"] >= 1
    assert body["_links"]["ec:health/probe"]["href"] == "http://localhost/api/health/probe"
    forms = client.get("/api/health/", headers={**admin_headers, "Accept": "application/prs.hal-forms+json"})
    template = forms.get_json()["_templates"]["probe"]
    assert template["method"] == "POST" and template["target"].endswith("/api/health/probe")
    assert {p["name"] for p in template["properties"]} == {"steps", "delay", "fail"}


@pytest.mark.parametrize("config_overrides", [{"HALYARD_HEALTH_PUBLIC": True}])
def test_public_health_answers_without_credentials(client):
    assert client.get("/api/health").status_code == 200  # no redirect for the "/"-less path


@pytest.mark.e2e
@pytest.mark.parametrize("config_overrides", [{"HALYARD_WORKER_TTL_SECONDS": 17}])
def test_idle_worker_keeps_health_up_past_its_heartbeat_interval(client, user_headers, worker_process, app):
    """TTL 17: the idle worker checks in every 2 s; health is polled for 4 intervals and more, and must
    see the worker (200, Running) every time, however old its last heartbeat is."""
    from rq import Worker

    from app.jobs import get_redis

    worker_process()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if client.get("/api/health/", headers=user_headers).get_json()["result"]["workers"] == "Running":
            break
        time.sleep(0.2)
    ages, states, until = [], set(), time.monotonic() + 9
    while time.monotonic() < until:
        response = client.get("/api/health/", headers=user_headers)
        result = response.get_json()["result"]
        assert response.status_code == 200 and result["workers"] == "Running", result
        assert result["workers_alive"] == 1
        states.update(result["worker_states"])
        prefix = app.config["HALYARD_QUEUE_PREFIX"]
        workers = Worker.all(connection=get_redis(app))
        (worker,) = [w for w in workers if w.queue_names()[0].startswith(prefix)]
        ages.append(time.time() - worker.last_heartbeat.timestamp())
        time.sleep(0.1)
    assert "idle" in states  # its start-up jobs (the reconciler) may keep it busy for a moment
    assert max(ages) > 1.0  # health asked between heartbeats, long after the last one


def test_redis_down_is_reported(database_url, run_dir):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "HALYARD_HEALTH_PUBLIC": True,
            "TESTING": True,
        },
        instance_path=str(run_dir / "instance"),
    )
    client = app.test_client()
    response = client.get("/api/health/")
    body = response.get_json()
    assert response.status_code == 503 and body["up"] is False
    assert body["result"]["redis"] == "Inaccessible" and body["result"]["database"] == "Accessible"
    ready = client.get("/api/health/ready")
    assert ready.status_code == 503 and ready.mimetype == "application/problem+json"
    assert "Redis" in ready.get_json()["detail"]
    assert client.get("/api/health/live").status_code == 200


def test_database_down_is_reported(redis_url, run_dir, tmp_path):
    url = "sqlite:///" + str(tmp_path / "missing-dir" / "nope.sqlite3")
    app = create_app(
        {"DATABASE_URL": url, "REDIS_URL": redis_url, "HALYARD_HEALTH_PUBLIC": True, "TESTING": True},
        instance_path=str(run_dir / "instance"),
    )
    client = app.test_client()
    response = client.get("/api/health/")
    assert response.status_code == 503
    assert response.get_json()["result"]["database"] == "Inaccessible"
    ready = client.get("/api/health/ready")
    assert ready.status_code == 503 and "database" in ready.get_json()["detail"]
    assert client.get("/api/health/live").status_code == 200
