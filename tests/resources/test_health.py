"""GET /api/health/: seed 003's shape, Redis and worker liveness, 503 when a dependency is down."""

import time

import pytest

from app import create_app


def test_health_needs_credentials_by_default(client):
    response = client.get("/api/health/")
    assert response.status_code == 401


def test_health_without_worker_is_503(client, user_headers):
    response = client.get("/api/health/", headers=user_headers)
    assert response.status_code == 503
    body = response.get_json()
    assert body["up"] is False
    assert body["result"]["database"] == "Accessible"
    assert body["result"]["redis"] == "Accessible"
    assert body["result"]["workers"] == "Missing" and body["result"]["workers_alive"] == 0
    assert body["result"]["version"]
    assert "ec:health/probe" not in body["_links"]  # not an ADMIN


def test_health_with_a_live_worker_is_up(client, admin_headers, worker_process):
    worker_process()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        response = client.get("/api/health/", headers=admin_headers)
        if response.status_code == 200:
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
    assert (
        client.get("/api/health").status_code == 503
    )  # no worker in this test; no redirect for "/"-less path


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
    response = app.test_client().get("/api/health/")
    body = response.get_json()
    assert response.status_code == 503
    assert body["result"]["redis"] == "Inaccessible" and body["result"]["database"] == "Accessible"


def test_database_down_is_reported(redis_url, run_dir, tmp_path):
    url = "sqlite:///" + str(tmp_path / "missing-dir" / "nope.sqlite3")
    app = create_app(
        {"DATABASE_URL": url, "REDIS_URL": redis_url, "HALYARD_HEALTH_PUBLIC": True, "TESTING": True},
        instance_path=str(run_dir / "instance"),
    )
    response = app.test_client().get("/api/health/")
    assert response.status_code == 503
    assert response.get_json()["result"]["database"] == "Inaccessible"
