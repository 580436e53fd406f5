"""Each way the web uses Redis answers 503 problem+json with Retry-After when Redis is down; the
paths that need only the database keep answering 200.

The app's REDIS_URL points at a port that refuses connections (bound, never listening), which is
what the web sees while a Redis server is down or restarting (tests/faults/test_faults_redis_loss.py
does it with real processes).
"""

import base64
import socket
import uuid

import pytest

from app.extensions import db
from app.jobs.models import JobRecord

_refusing = socket.socket()
_refusing.bind(("127.0.0.1", 0))  # kept bound so no other process can listen on the port


@pytest.fixture
def config_overrides():
    return {
        "REDIS_URL": f"redis://127.0.0.1:{_refusing.getsockname()[1]}/0",
        "HALYARD_HEALTH_PUBLIC": True,
        "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1",
    }


@pytest.fixture
def admin(make_account, token_for):
    account = make_account(type="ADMIN", password="admin password")
    record = JobRecord(id=str(uuid.uuid4()), kind="probe", owner=account, status="queued")
    db.session.add(record)
    db.session.commit()
    basic = base64.b64encode(f"{account.email}:admin password".encode()).decode()
    return {"bearer": token_for(account), "basic": {"Authorization": f"Basic {basic}"}, "job": record.id}


def unavailable(response, event):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["status"] == 503 and body["detail"] and "Traceback" not in response.get_data(as_text=True)
    assert body["@event"] == event if event else body["@event"].endswith("_UNAVAILABLE")


SCHEDULE = {"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours", "payload": {}}

# (method, path, body, credentials, @event): one path per way the web process uses Redis (the others,
# e.g. the downloader's and data sources' jobs, go through the same get_redis()/enqueue() and handler).
# A lost Redis is SERVICE_UNAVAILABLE; enqueue() may raise its own 503 (None: any *_UNAVAILABLE event).
REDIS_PATHS = [
    ("GET", "/jobs/{job}", None, "bearer", "SERVICE_UNAVAILABLE"),  # live job state
    ("GET", "/jobs/?id={job}", None, "bearer", "SERVICE_UNAVAILABLE"),
    ("POST", "/api/health/probe", {}, "bearer", None),  # enqueue
    ("POST", "/api/metrics/", None, "bearer", None),  # enqueue
    ("GET", "/api/metrics/", None, "bearer", "SERVICE_UNAVAILABLE"),  # counters and queue gauges
    ("GET", "/metrics", None, "bearer", "SERVICE_UNAVAILABLE"),
    ("POST", "/api/v1/schedule/", SCHEDULE, "bearer", "SERVICE_UNAVAILABLE"),  # arms the schedule's tick
    ("GET", "/jobs/", None, "basic", "SERVICE_UNAVAILABLE"),  # the sign-in throttle
    ("POST", "/accounts/auth_requests/", None, None, "SERVICE_UNAVAILABLE"),  # the auth-request rate limit
]


@pytest.mark.parametrize("method,path,body,credentials,event", REDIS_PATHS)
def test_a_path_that_needs_redis_is_a_503(client, admin, method, path, body, credentials, event):
    headers = admin[credentials] if credentials else {}
    unavailable(client.open(path.format(job=admin["job"]), method=method, json=body, headers=headers), event)


DATABASE_READS = ["/", "/jobs/", "/rels/ec:jobs", "/api/v1/schedule/", "/downloader/requests/"]


@pytest.mark.parametrize("path", DATABASE_READS)
def test_database_reads_keep_answering(client, admin, path):
    response = client.get(path, headers=admin["bearer"])
    assert response.status_code == 200, response.get_data(as_text=True)


def test_health_reports_redis_down_in_its_own_shape(client):
    response = client.get("/api/health/")
    assert response.status_code == 503
    assert response.get_json()["result"]["redis"] == "Inaccessible"
