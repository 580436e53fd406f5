"""app/outbound.py against real HTTP servers on 127.0.0.1 (and ::1); nothing else is ever contacted."""

import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import outbound
from app.outbound import OutboundError, OutboundRefused, check_url, request

EMPTY = {"HALYARD_OUTBOUND_ALLOWLIST": ""}
CHUNK = 64 * 1024


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


class Handler(BaseHTTPRequestHandler):
    """Routes by path; ``self.server.events`` records what the handlers saw or did."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/hello":
            self.reply(200, b"hello", [("X-Test", "yes"), ("Content-Type", "text/plain")])
        elif path == "/echo":
            self.do_POST()
        elif path == "/redirect":
            target = self.path.split("to=", 1)[1]
            self.reply(int(self.headers.get("X-Status", 302)), b"", [("Location", target)])
        elif path == "/sleep":
            time.sleep(float(self.path.partition("seconds=")[2] or 1.5))
            self.reply(200, b"late")
        elif path == "/trickle":
            self.stream(b"x", count=200, pause=0.05)
        elif path == "/big":
            self.stream(b"y" * CHUNK, count=32, pause=0.03)
        elif path == "/big-declared":
            self.stream(b"z" * CHUNK, count=32, pause=0.03, length=32 * CHUNK)
        else:
            self.reply(404, b"nope")

    def do_POST(self):
        if self.path.startswith("/redirect"):
            return self.do_GET()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        echo = {
            "method": self.command,
            "content_type": self.headers.get("Content-Type"),
            "body": body.decode(),
            "authorization": self.headers.get("Authorization"),
        }
        self.reply(201, json.dumps(echo).encode(), [("Content-Type", "application/json")])

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def stream(self, piece, count, pause, length=None):
        """Write ``count`` pieces with pauses (no length: the body ends at close); record completion."""
        self.send_response(200)
        if length:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            for _ in range(count):
                self.wfile.write(piece)
                time.sleep(pause)
            self.server.events.append("completed")
        except OSError:
            self.server.events.append("aborted")
        self.close_connection = True


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients hanging up mid-stream is what several tests do


class V6Server(QuietServer):
    address_family = socket.AF_INET6


def start(server_class, address, tls_context=None):
    server = server_class(address, Handler)
    server.events = []
    if tls_context:
        server.socket = tls_context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def server():
    server = start(QuietServer, ("127.0.0.1", 0))
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_connect(monkeypatch):
    """Fail the test if any socket connects."""

    def refuse(sock, address):
        raise AssertionError(f"connection attempted to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def wait_for(events, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not events and time.monotonic() < deadline:
        time.sleep(0.02)
    return events


def test_get(app, server):
    response = request("GET", server.url + "/hello?token=secret")
    assert response.status_code == 200
    assert response.content == b"hello"
    assert response.headers["x-test"] == "yes"
    assert response.url == server.url + "/hello?token=secret"
    assert response.elapsed > 0


def test_post_json(app, server):
    response = request("POST", server.url + "/echo", json={"a": 1}, headers={"Authorization": "Bearer t"})
    assert response.status_code == 201
    echo = json.loads(response.content)
    assert echo["content_type"] == "application/json"
    assert json.loads(echo["body"]) == {"a": 1}
    assert echo["authorization"] == "Bearer t"


def test_logs_name_the_host_only(app, server, caplog):
    caplog.set_level(logging.DEBUG)
    request("GET", server.url + "/hooks/s3cret?token=s3cret", headers={"Authorization": "Bearer s3cret"})
    with pytest.raises(OutboundError):
        request("GET", server.url + "/sleep?token=s3cret", timeout=0.2)
    assert "127.0.0.1" in caplog.text
    assert "s3cret" not in caplog.text


def test_error_status_is_returned_not_raised(app, server):
    assert request("GET", server.url + "/missing").status_code == 404


def test_check_url_accepts_allowlisted(app, server):
    assert check_url(server.url + "/hello") is None
    with pytest.raises(OutboundRefused):  # the same URL without the allowlist entry: the entry let it pass
        check_url(server.url + "/hello", config={**app.config, "HALYARD_OUTBOUND_ALLOWLIST": ""})


@pytest.mark.parametrize(
    "url, kind",
    [
        ("http://127.0.0.1/", "refused"),
        ("http://localhost/", "refused"),
        ("http://[::1]/", "refused"),
        ("http://10.0.0.1/", "refused"),
        ("http://192.168.1.1/", "refused"),
        ("http://172.16.0.1/", "refused"),
        ("http://169.254.169.254/latest/meta-data/", "refused"),
        ("http://[::ffff:127.0.0.1]/", "refused"),
        ("http://[::ffff:169.254.169.254]/", "refused"),
        ("http://0.0.0.0/", "refused"),
        ("http://2130706433/", "refused"),  # 127.0.0.1 as a decimal number
        ("http://[fd00::1]/", "refused"),
        ("http://[fe80::1]/", "refused"),
        ("http://224.0.0.1/", "refused"),
        ("http://[2002:7f00:1::]/", "refused"),  # 6to4 wrapping 127.0.0.1
        ("file:///etc/passwd", "invalid_url"),
        ("ftp://example.org/", "invalid_url"),
        ("gopher://127.0.0.1/", "invalid_url"),
        ("http://user:hunter2@example.org/", "invalid_url"),
        ("http://user@127.0.0.1/", "invalid_url"),
        ("http:///path", "invalid_url"),
        ("not a url", "invalid_url"),
    ],
)
def test_refused_before_connecting(app, no_connect, url, kind):
    for call in (lambda: check_url(url, config=EMPTY), lambda: request("GET", url, config=EMPTY)):
        with pytest.raises(OutboundRefused) as caught:
            call()
        assert caught.value.kind == kind
        assert "hunter2" not in str(caught.value)


def test_hostname_resolving_to_loopback_is_refused_when_only_an_ip_is_allowlisted(app, server, no_connect):
    url = server.url.replace("127.0.0.1", "localhost") + "/hello"
    with pytest.raises(OutboundRefused, match="localhost"):
        check_url(url, config={"HALYARD_OUTBOUND_ALLOWLIST": "10.1.2.3"})
    with pytest.raises(OutboundRefused):
        request("GET", url, config={"HALYARD_OUTBOUND_ALLOWLIST": "10.1.2.3"})


def test_allowlisting_by_hostname(app, server):
    url = server.url.replace("127.0.0.1", "localhost") + "/hello"
    config = {"HALYARD_OUTBOUND_ALLOWLIST": "LocalHost"}
    check_url(url, config=config)
    assert request("GET", url, config=config).content == b"hello"


@pytest.mark.parametrize("allowlist", ["127.0.0.0/8", " 10.0.0.0/8 , 127.0.0.0/24 "])
def test_cidr_allowlist(app, server, allowlist):
    config = {"HALYARD_OUTBOUND_ALLOWLIST": allowlist}
    check_url(server.url, config=config)
    assert request("GET", server.url + "/hello", config=config).status_code == 200


def test_rebinding_after_check_is_caught_at_connect(app, server, monkeypatch):
    """check_url sees a public address; by the time of the request the name points at loopback."""
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://rebind.example:{server.server_address[1]}/hello"
    check_url(url, config=EMPTY)
    with pytest.raises(OutboundRefused, match="rebind.example"):
        request("GET", url, config=EMPTY)


def test_ipv6_loopback_when_allowlisted(app):
    try:
        v6 = start(V6Server, ("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        response = request("GET", f"http://[::1]:{v6.server_address[1]}/hello")
        assert response.content == b"hello"
    finally:
        v6.shutdown()
        v6.server_close()


def test_timeout_waiting_for_headers(app, server):
    with pytest.raises(OutboundError) as caught:
        request("GET", server.url + "/sleep", timeout=0.5)
    assert caught.value.kind == "timeout"  # the server answers only after 1.5 s


def test_trickling_body_hits_the_total_deadline(app, server):
    with pytest.raises(OutboundError) as caught:
        request("GET", server.url + "/trickle", timeout=0.5)
    assert caught.value.kind == "timeout"  # each byte comes within 0.05 s, the whole body takes 10 s


def test_default_timeout_comes_from_settings(app, server):
    app.config["HALYARD_OUTBOUND_TIMEOUT_SECONDS"] = 0.5
    with pytest.raises(OutboundError) as caught:
        request("GET", server.url + "/sleep")
    assert caught.value.kind == "timeout"


@pytest.mark.parametrize("path", ["/big", "/big-declared"])
def test_size_cap_stops_reading(app, server, path):
    with pytest.raises(OutboundError) as caught:
        request("GET", server.url + path, max_bytes=1024 * 1024)
    assert caught.value.kind == "too_large"
    assert wait_for(server.events) == ["aborted"]  # the client hung up before the server wrote it all


def test_body_at_the_cap_is_accepted(app, server):
    assert request("GET", server.url + "/hello", max_bytes=5).content == b"hello"
    with pytest.raises(OutboundError, match="larger"):
        request("GET", server.url + "/hello", max_bytes=4)


def test_connection_refused(app):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OutboundError) as caught:
        request("GET", f"http://127.0.0.1:{port}/")
    assert caught.value.kind == "connection"
    assert not isinstance(caught.value, OutboundRefused)


def test_redirect_not_followed_by_default(app, server):
    response = request("GET", f"{server.url}/redirect?to={server.url}/hello")
    assert response.status_code == 302
    assert response.headers["Location"] == server.url + "/hello"


def test_redirect_followed_when_asked(app, server):
    response = request("GET", f"{server.url}/redirect?to=/hello", follow_redirects=2)
    assert (response.status_code, response.content, response.url) == (200, b"hello", server.url + "/hello")


def test_redirect_chain_longer_than_allowed_stops(app, server):
    chain = f"{server.url}/redirect?to={server.url}/redirect?to=/hello"
    assert request("GET", chain, follow_redirects=1).status_code == 302
    assert request("GET", chain, follow_redirects=2).status_code == 200


def test_post_redirect_becomes_get_and_drops_credentials_across_origins(app, server):
    other = server.url.replace("127.0.0.1", "localhost")
    config = {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,localhost"}
    response = request(
        "POST",
        f"{server.url}/redirect?to={other}/echo",
        json={"a": 1},
        follow_redirects=1,
        headers={"Authorization": "Bearer t", "Cookie": "s=1"},
        config=config,
    )
    echo = json.loads(response.content)
    assert echo == {"method": "GET", "content_type": None, "body": "", "authorization": None}


def test_307_keeps_method_body_and_same_origin_credentials(app, server):
    response = request(
        "POST",
        f"{server.url}/redirect?to=/echo",
        json={"a": 1},
        follow_redirects=1,
        headers={"Authorization": "Bearer t", "X-Status": "307"},
    )
    echo = json.loads(response.content)
    assert (echo["method"], json.loads(echo["body"]), echo["authorization"]) == ("POST", {"a": 1}, "Bearer t")


@pytest.mark.parametrize("target", ["http://10.0.0.1/", "http://169.254.169.254/", "ftp://127.0.0.1/"])
def test_redirect_to_refused_target_is_refused(app, server, target):
    real_connect = socket.socket.connect
    seen = []

    def watch(sock, address):
        seen.append(address[0])
        return real_connect(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", watch)
        with pytest.raises(OutboundRefused):
            request("GET", f"{server.url}/redirect?to={target}", follow_redirects=3)
    assert set(seen) == {"127.0.0.1"}


def test_guarded_adapter_fails_closed_outside_request(app, server):
    import requests

    session = requests.Session()
    session.mount("http://", outbound._GuardedAdapter())
    with pytest.raises(LookupError):
        session.get(server.url + "/hello")


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
def test_https_verifies_the_hostname_and_sends_sni(app, tmp_path):
    """We connect to a checked address, yet TLS still talks to (and verifies) the URL's host name."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    tls = start(QuietServer, ("127.0.0.1", 0), tls_context=context)
    try:
        with pytest.raises(OutboundError) as caught:  # self-signed: verification must fail
            request(
                "GET",
                f"https://localhost:{tls.server_address[1]}/hello",
                config={"HALYARD_OUTBOUND_ALLOWLIST": "localhost"},
            )
        assert caught.value.kind == "connection"
        assert "TLS" in str(caught.value)
        assert names == ["localhost"]
    finally:
        tls.shutdown()
        tls.server_close()


# --- Batch / send_many: concurrent requests on kept-alive connections, same policy ---------------------


class KeepAliveHandler(Handler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable

    def setup(self):
        super().setup()
        self.server.events.append(("connect", self.client_address))


def send_many(items, **options):
    """As the scheduler's delivery sends (app/resources/scheduler/delivery.py): one Batch, its send_many."""
    with outbound.Batch(**options) as batch:
        return batch.send_many(items)


def test_send_many_reuses_connections_and_keeps_order(app):
    server = start(QuietServer, ("127.0.0.1", 0))
    server.RequestHandlerClass = KeepAliveHandler
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        items = [
            ("POST", url + "/echo", json.dumps({"n": n}).encode(), {"Content-Type": "application/json"})
            for n in range(60)
        ]
        results = send_many(items, concurrency=4, timeout=5)
        assert [json.loads(json.loads(r.content)["body"])["n"] for r in results] == list(range(60))
        assert {r.status_code for r in results} == {201}
        connects = [e for e in server.events if e[0] == "connect"]
        assert 1 <= len(connects) <= 4  # 60 requests over at most `concurrency` kept-alive connections
    finally:
        server.shutdown()
        server.server_close()


def test_send_many_refuses_a_private_host_once_without_connecting(app, server, monkeypatch):
    looked_up, real = [], socket.getaddrinfo

    def counting(host, *args, **kwargs):
        looked_up.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    items = [("POST", f"{server.url}/echo", b"{}", {})] * 5 + [("POST", "ftp://127.0.0.1/x", b"", {})]
    results = send_many(items, config=EMPTY, concurrency=3)
    assert all(isinstance(r, OutboundRefused) for r in results)
    assert [r.kind for r in results] == ["refused"] * 5 + ["invalid_url"]
    assert looked_up == ["127.0.0.1"]  # one check per host and batch


def test_send_many_rebinding_after_the_batch_check_is_caught_at_connect(app, server, monkeypatch):
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    [result] = send_many(
        [("GET", f"http://rebind.example:{server.server_address[1]}/hello", None, {})], config=EMPTY
    )
    assert isinstance(result, OutboundRefused) and "rebind.example" in str(result)


def test_send_many_deadlines_sizes_and_errors_per_request(app, server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    # A 5 s deadline, so the quick request answers in time on a loaded machine; the slow ones take far
    # longer (the trickle 10 s, the sleep 60 s), so "timeout" is proof that the deadline cut them.
    results = send_many(
        [
            ("GET", server.url + "/trickle", None, {}),
            ("GET", server.url + "/sleep?seconds=60", None, {}),
            ("GET", server.url + "/big", None, {}),
            ("GET", server.url + "/hello", None, {}),
            ("GET", f"http://127.0.0.1:{closed_port}/", None, {}),
        ],
        timeout=5.0,
        max_bytes=200 * 1024,
        concurrency=5,
    )
    assert [getattr(r, "kind", None) for r in results] == [
        "timeout",
        "timeout",
        "too_large",
        None,
        "connection",
    ]
    assert results[3].status_code == 200 and results[3].content == b"hello"


def test_send_many_resolves_a_host_once_when_its_first_requests_arrive_together(app, server, monkeypatch):
    """A slow lookup: three threads ask for the same host at once; one resolves, the others wait for it."""
    looked_up, real = [], socket.getaddrinfo

    def slow(host, *args, **kwargs):
        looked_up.append(host)
        time.sleep(0.2)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    results = send_many([("POST", f"{server.url}/echo", b"{}", {})] * 6, config=EMPTY, concurrency=3)
    assert [r.kind for r in results] == ["refused"] * 6  # 127.0.0.1 is not allowlisted under EMPTY
    assert looked_up == ["127.0.0.1"]
