"""The sign-in flow against a real gunicorn server: page, form post, polling, token use."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import ROOT, subprocess_env
from tests.resources.accounts.conftest import parse_forms

pytestmark = pytest.mark.e2e


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(app):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=subprocess_env(app),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # gunicorn and two workers booting on a loaded machine
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=5)
            break
        except OSError:  # refused, reset or timed out while the workers boot
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("the server did not start")
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(15)


def call(method, url, body=None, headers=None, form=False):
    """One request as a hypermedia client makes it (HAL unless ``headers`` name another Accept)."""
    data, head = None, {"Accept": "application/hal+json", **(headers or {})}
    if body is not None and form:
        data = urllib.parse.urlencode(body).encode()
        head["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        head["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=head)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def test_sign_in_over_http(server, make_account):
    account = make_account()
    entry = json.loads(call("GET", server + "/")[2])
    status, headers, text = call("POST", entry["_links"]["ec:auth-requests"]["href"])
    assert status == 201
    created = json.loads(text)
    ui = server + created["authenticate_ui_uri"]  # a path, as seed 000 shows it
    assert created["_links"]["ec:auth-request/ui"]["href"] == ui
    token_url = created["_links"]["ec:auth-tokens"]["href"]
    waiting = call("POST", token_url, {"request_uuid": created["request_uuid"]})
    assert waiting[0] == 400 and json.loads(waiting[2])["@event"] == "AUTH_REQUEST_NOT_YET_ATTACHED"

    status, headers, page = call("GET", ui, headers={"Accept": "text/html"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    form = parse_forms(page).forms[0]
    fields = {name: spec["value"] for name, spec in form["fields"].items()}
    fields.update(email=account.email, code="correct horse battery")
    status, _, done = call(form["method"].upper(), form["action"], fields, form=True)
    assert status == 200 and "You are signed in" in done

    status, headers, text = call("POST", token_url, {"request_uuid": created["request_uuid"]})
    assert status == 201 and headers["Location"].startswith(server)
    token = json.loads(text)["token"]
    me = json.loads(
        call("GET", entry["_links"]["ec:me"]["href"], headers={"Authorization": f"Bearer {token}"})[2]
    )
    assert me["email"] == account.email
    assert call("POST", token_url, {"request_uuid": created["request_uuid"]})[0] == 404
