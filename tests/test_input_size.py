"""Body sizes (issue 13): a body past HALYARD_MAX_UPLOAD_BYTES is a 413 on every route that takes one, with
nothing written, chunked ones (Transfer-Encoding: chunked, no Content-Length) included: they used to be cut
at the cap and handed to the view. Through the test client (which passes the body as a server that ends the
stream would) and through gunicorn started as `halyard start` starts it.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from inputs_support import BODY_ROUTES, PROBLEM, build_world, problem, snapshot, url_of

CAP = 64 * 1024
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1", "HALYARD_MAX_UPLOAD_BYTES": CAP}


@pytest.fixture
def world(client, make_account, token_for):
    return build_world(client, make_account, token_for)


# --- body size: chunked bodies past the cap --------------------------------------------------------------


def chunked(client, path, method, headers, data, content_type="application/json"):
    """A chunked request through the test client: no Content-Length, the server ends the stream (as gunicorn
    and werkzeug's server do for Transfer-Encoding: chunked)."""
    return client.open(
        path,
        method=method,
        data=data,
        content_type=content_type,
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.id)
def test_chunked_body_past_the_cap_is_413_on_every_route(app, client, world, route):
    headers, values = world
    before = snapshot(app)
    path = url_of(app, route, values)
    body = problem(
        chunked(client, path, route.method, headers, b"[" + b" " * CAP + b"]"), 413, "PAYLOAD_TOO_LARGE"
    )
    assert str(CAP) in body["detail"]
    problem(
        client.open(
            path, method=route.method, headers=headers, data=b" " * (CAP + 1), content_type="application/json"
        ),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    assert snapshot(app) == before


def test_chunked_bodies_under_the_cap_arrive_whole(app, client, world):
    headers, values = world
    name = "g" * 100
    body = json.dumps({"name": name}).encode() + b" " * (CAP - 200)
    response = chunked(client, "/api/v1/group/", "POST", headers, body)
    assert response.status_code == 201 and response.get_json()["name"] == name


# --- the same through gunicorn, as `halyard start` runs it -----------------------------------------------


@pytest.fixture
def gunicorn(app, tmp_path):
    """gunicorn serving this test's database, Redis and settings (the command line of `halyard start`)."""
    from tests.conftest import free_port, stop, subprocess_env

    port, log = free_port(), tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--pythonpath",
                ROOT,
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "10",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=subprocess_env(app),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60  # a generous bound for a busy machine
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.1)
        yield port
    finally:
        stop(proc)
        print(log.read_text(errors="replace")[-3000:])


def raw_chunked(port, method, path, headers, data, content_type="application/json"):
    """Send ``data`` as one chunked body over a socket; ``(status, headers, body)`` of the answer."""
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Transfer-Encoding: chunked",
        f"Content-Type: {content_type}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading everything: its answer is still there to read
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheader("Content-Type"), response.read()


@pytest.mark.e2e
def test_chunked_bodies_through_gunicorn(app, client, world, gunicorn):
    headers, values = world
    before = snapshot(app)
    for route in BODY_ROUTES:
        status, media, body = raw_chunked(
            gunicorn, route.method, url_of(app, route, values), headers, b"[" + b" " * CAP + b"]"
        )
        assert (status, media) == (413, PROBLEM), (route.id, status, body[:300])
        assert json.loads(body)["@event"] == "PAYLOAD_TOO_LARGE"
    assert snapshot(app) == before
    # Under the cap, the whole body arrives: a JSON body and a multipart upload.
    name = "n" * 50
    status, _, body = raw_chunked(
        gunicorn, "POST", "/api/v1/group/", headers, json.dumps({"name": name}).encode() + b" " * (CAP - 100)
    )
    assert status == 201 and json.loads(body)["name"] == name
    boundary = "xYzZy"
    content = os.urandom(CAP // 2)
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + content
    form += f"\r\n--{boundary}--\r\n".encode()
    status, _, body = raw_chunked(
        gunicorn,
        "POST",
        f"/datamanager/{values['dm_id']}/assets/",
        headers,
        form,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert status == 201, body[:300]
    stored = client.get(f"/datamanager/{values['dm_id']}/assets/?title=blob.bin", headers=headers).get_json()
    assert stored["total"] == 1 and stored["_embedded"]["ec:asset"][0]["files"][0]["size"] == len(content)
