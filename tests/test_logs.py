"""One log stream (app/logs.py, app/observe.py): JSON lines with the request's and the job's context, the
request id carried into the jobs a request enqueues, and no secret in any line."""

import base64
import json
import logging

import pytest

from app import logs
from tests.conftest import stop

PASSWORD = "correct horse battery"


def lines(capsys):
    """The JSON log lines written to stderr since the last call."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]


def test_access_line_carries_the_request_context(client, user_headers, make_account, capsys):
    capsys.readouterr()
    response = client.get("/accounts/me/?secret=q", headers={**user_headers, "X-Request-ID": "req-7"})
    me = response.get_json()["id"]
    (access,) = [line for line in lines(capsys) if line["logger"] == "halyard.access"]
    assert access["message"] == "request" and access["level"] == "INFO"
    assert access["request_id"] == "req-7" and access["method"] == "GET"
    assert access["path"] == "/accounts/me/"  # never the query string
    assert access["status"] == 200 and access["account_id"] == me
    assert access["duration_ms"] >= 0 and access["time"].endswith("Z")


@pytest.mark.parametrize("config_overrides", [{"HALYARD_ACCESS_LOG": False}])
def test_access_log_can_be_switched_off(client, capsys):
    capsys.readouterr()
    assert client.get("/").status_code == 200
    assert [line for line in lines(capsys) if line["logger"] == "halyard.access"] == []


def test_request_id_travels_into_the_job(client, admin_headers, run_jobs, capsys):
    started = client.post(
        "/api/health/probe", json={"steps": 1}, headers={**admin_headers, "X-Request-ID": "rq-9"}
    )
    job_url = started.headers["Location"]
    assert client.get(job_url, headers=admin_headers).get_json()["request_id"] == "rq-9"
    capsys.readouterr()
    run_jobs()
    ended = [line for line in lines(capsys) if line["message"] == "job_ended"]
    assert len(ended) == 1
    assert ended[0]["request_id"] == "rq-9" and job_url.endswith(ended[0]["job_id"])
    assert ended[0]["kind"] == "probe" and ended[0]["outcome"] == "finished" and ended[0]["duration_ms"] >= 0
    assert client.get(job_url, headers=admin_headers).get_json()["request_id"] == "rq-9"


@pytest.mark.parametrize("fmt", ["logfmt", "text"])
def test_other_formats_carry_the_same_fields(fmt):
    record = logging.LogRecord(
        "halyard", logging.INFO, __file__, 1, '{"event": "x", "note": "a b"}', (), None
    )
    record.request_id = "r-1"
    line = logs.formatter(fmt).format(record)
    assert "request_id=r-1" in line and 'note="a b"' in line
    assert ("message=x" in line) == (fmt == "logfmt")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="HALYARD_LOG_FORMAT"):
        logs.formatter("xml")


SECRETS = {
    "password": PASSWORD,
    "db password": "Db-Pw-secret-4711",
    "schedule auth token": "sched-token-secret-0815",
    "wrong password": "wrong-guess-secret-99",
}


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1", "HALYARD_LOG_LEVEL": "DEBUG"}


def test_no_secret_in_any_log_line(client, make_account, run_jobs, capsys):
    account = make_account(password=PASSWORD)
    capsys.readouterr()
    # sign-in (device style): a wrong code, then the right one, then the token it issues
    created = client.post("/accounts/auth_requests/").get_json()["request_uuid"]
    attach = {"email": account.email, "request_uuid": created}
    client.post("/accounts/auth_requests/attach_account/", json={**attach, "code": SECRETS["wrong password"]})
    assert (
        client.post("/accounts/auth_requests/attach_account/", json={**attach, "code": PASSWORD}).status_code
        < 300
    )
    issued = client.post("/accounts/auth_tokens/", json={"request_uuid": created}).get_json()["token"]
    bearer = {"Authorization": f"Bearer {issued}"}
    basic = base64.b64encode(f"{account.email}:{PASSWORD}".encode()).decode()
    assert client.get("/accounts/me/", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    # a token of its own
    token = client.post(f"/api/v1/user/{account.id}/tokens/", json={"name": "t"}, headers=bearer).get_json()
    client.get("/accounts/me/", headers={"Authorization": f"Bearer {token['token']}x"})  # a wrong one: 401
    # a schedule with an auth token, a database source whose URL holds a password (its job fails)
    schedule = {"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours", "payload": {}}
    created = client.post(
        "/api/v1/schedule/", json={**schedule, "auth_token": SECRETS["schedule auth token"]}, headers=bearer
    )
    assert created.status_code == 201, created.get_json()
    project = client.post("/api/v1/projects/", json={"title": "p"}, headers=bearer).get_json()
    url = f"postgresql://someone:{SECRETS['db password']}@127.0.0.1:9/x"
    source = client.post(
        "/api/v1/datasources",
        data={
            "project": str(project["id"]),
            "name": "db",
            "type": "database",
            "connection": url,
            "query": "SELECT 1 AS a",
        },
        headers=bearer,
        content_type="multipart/form-data",
    )
    assert source.status_code == 201, source.get_json()
    run_jobs()
    failed = client.get(source.headers["Location"], headers=bearer).get_json()
    assert failed["status"] == "error"  # its job tried the URL (and logged about it)
    written = capsys.readouterr().err
    assert '"halyard.access"' in written and '"job_ended"' in written  # the requests and the job did log
    for secret in [*SECRETS.values(), issued, token["token"], basic]:
        assert secret not in written


def test_worker_logs_are_json_lines_too(app, worker_process):
    """A real ``halyard worker``: RQ's own lines and Halyard's come out in the one JSON format."""
    proc = worker_process("--burst")
    try:
        proc.wait(90)
    finally:
        stop(proc)
    output = proc.stdout.read().decode().splitlines()
    assert output
    parsed = [json.loads(line) for line in output]  # every line is a JSON object
    assert any(line["logger"].startswith("rq.worker") for line in parsed)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in parsed)
