"""Outbound HTTP: the one client for scheduled POSTs and ``api`` data sources (DESIGN.md §9).

``checked_addresses`` is the address check of every outbound connection, database ones included.

Only http(s), no user info, no proxies; hosts whose addresses are not all public are refused unless
allowlisted (HALYARD_OUTBOUND_ALLOWLIST). The check runs in the connection itself — resolve, check
every address, connect only to a checked one — so DNS rebinding cannot slip past it, while TLS still
verifies the host name. Redirects only when asked, each hop re-checked. ``timeout`` bounds each
connect and read and, by a watchdog that cuts the socket, the whole exchange; bodies stream and are
dropped past ``max_bytes``. Logs and messages name only the host: URLs and bodies can hold tokens.
"""

import contextlib
import contextvars
import http.client
import ipaddress
import json as jsonlib
import logging
import os
import select
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from flask import current_app
from requests import certs
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from app.config import SETTINGS

log = logging.getLogger("halyard")
logging.getLogger("urllib3.connectionpool").setLevel(logging.WARNING)  # its DEBUG lines carry queries

REDIRECTS = {301, 302, 303, 307, 308}
CHUNK_BYTES = 64 * 1024
_current_guard = contextvars.ContextVar("outbound_guard")  # no default: outside request() fails closed


class OutboundError(Exception):
    """An outbound request failed; the message is safe to show to clients."""

    kind = "connection"  # "refused" | "timeout" | "connection" | "too_large" | "invalid_url"

    def __init__(self, message, kind=None):
        super().__init__(message)
        self.kind = kind or self.kind


class OutboundRefused(OutboundError):
    """The URL breaks the policy (``kind`` "refused") or is not a usable URL ("invalid_url")."""

    kind = "refused"


@dataclass
class OutboundResponse:
    status_code: int
    headers: dict  # requests' CaseInsensitiveDict
    content: bytes
    elapsed: float  # seconds, all hops
    url: str  # after redirects


def check_url(url, *, config=None):
    """Raise OutboundRefused with a readable reason unless ``url`` (e.g. user-submitted) passes now."""
    try:
        _resolve(*_parse(url)[1:], _allowlist(config))
    except OutboundError as exc:  # a host that does not resolve makes an unusable URL
        if isinstance(exc, OutboundRefused):
            raise
        raise OutboundRefused(str(exc), "invalid_url") from None


def request(
    method,
    url,
    *,
    json=None,
    data=None,
    headers=None,
    timeout=None,
    max_bytes=None,
    follow_redirects=0,
    config=None,
):
    """Send a request under the policy: an ``OutboundResponse`` whatever its status, else OutboundError.

    ``config`` defaults to the current app's config.
    """
    timeout = float(timeout or _setting(config, "HALYARD_OUTBOUND_TIMEOUT_SECONDS"))
    max_bytes = int(max_bytes or _setting(config, "HALYARD_OUTBOUND_MAX_BYTES"))
    started, method, headers, host = time.monotonic(), method.upper(), dict(headers or {}), None
    guard = _Guard(_allowlist(config), timeout)
    token = _current_guard.set(guard)
    try:
        with requests.Session() as session:
            session.trust_env = False  # no proxies, .netrc or CA bundle from the environment
            session.mount("http://", _GuardedAdapter())
            session.mount("https://", _GuardedAdapter())
            for hop in range(max(int(follow_redirects), 0) + 1):
                origin = (_, host) = _parse(url)[:2]
                status, response_headers, content = _send(
                    session, guard, host, max_bytes, method, url, json=json, data=data, headers=headers
                )
                log.info(
                    jsonlib.dumps(
                        {
                            "event": "outbound_request",
                            "method": method,
                            "host": host,
                            "status": status,
                            "bytes": len(content),
                        }
                    )
                )
                location = response_headers.get("Location")
                if status not in REDIRECTS or not location or hop == follow_redirects:
                    break
                url, drop = urljoin(url, location), set()
                if status in (301, 302, 303) and method != "HEAD":
                    method, json, data, drop = "GET", None, None, {"content-type"}
                if _parse(url)[:2] != origin:  # credentials stay with the origin they were meant for
                    drop |= {"authorization", "cookie"}
                headers = {k: v for k, v in headers.items() if k.lower() not in drop}
    except OutboundError as exc:
        log.info(
            jsonlib.dumps({"event": "outbound_failed", "method": method, "host": host, "kind": exc.kind})
        )
        raise
    finally:
        guard.watchdog.cancel()
        _current_guard.reset(token)
    return OutboundResponse(status, response_headers, content, time.monotonic() - started, url)


def _send(session, guard, host, max_bytes, method, url, **body):
    too_large = OutboundError(f"The response from {host} is larger than {max_bytes} bytes.", "too_large")
    late = OutboundError(f"{host} did not answer in time.", "timeout")
    try:
        wait = guard.remaining()
        with session.request(
            method, url, **body, timeout=(wait, wait), allow_redirects=False, stream=True
        ) as response:
            content = bytearray()
            for chunk in response.raw.stream(CHUNK_BYTES, decode_content=True):  # bounds inflation too
                content += chunk
                if len(content) > max_bytes:
                    raise too_large
            if guard.expired:  # the watchdog's shutdown can look like a clean end of the body
                raise late
            return response.status_code, response.headers, bytes(content)
    except (requests.RequestException, Urllib3Error, OSError) as exc:
        # Never pass the exception's text on: urllib3 puts the path and query string in it.
        if guard.expired or isinstance(exc, (requests.Timeout, ReadTimeoutError, TimeoutError)):
            raise late from None
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
            raise OutboundRefused("The URL is not valid.", "invalid_url") from None
        tls = "TLS " if isinstance(exc, requests.exceptions.SSLError) else ""
        raise OutboundError(f"The {tls}connection to {host} failed.", "connection") from None


def _setting(config, name):
    config = current_app.config if config is None else config
    return config.get(name, SETTINGS[name][0])


def _parse(url):
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except (ValueError, TypeError, AttributeError):
        raise OutboundRefused("The URL is not valid.", "invalid_url") from None
    if scheme not in ("http", "https"):
        raise OutboundRefused("Only http and https URLs are allowed.", "invalid_url")
    if "@" in parts.netloc:
        raise OutboundRefused("URLs may not carry a user name or password.", "invalid_url")
    if not host:
        raise OutboundRefused("The URL has no host.", "invalid_url")
    return scheme, host, port or (443 if scheme == "https" else 80)


def _allowlist(config):
    names, networks = set(), []
    for entry in _setting(config, "HALYARD_OUTBOUND_ALLOWLIST").lower().split(","):
        try:
            networks.append(ipaddress.ip_network(entry.strip().strip("[]"), strict=False))
        except ValueError:
            names.add(entry.strip().rstrip("."))
    return names - {""}, networks


def _allowed(host, address, allowlist):  # IPv4-mapped and 6to4 addresses are judged as IPv4
    names, networks = allowlist
    inner = address.ipv4_mapped or address.sixtofour or address if address.version == 6 else address
    if host.rstrip(".").lower() in names or any(ip in net for ip in (address, inner) for net in networks):
        return True
    return inner.is_global and not (
        inner.is_private
        or inner.is_loopback
        or inner.is_link_local
        or inner.is_multicast
        or inner.is_reserved
        or inner.is_unspecified
    )


def checked_addresses(host, port, *, literal=False, config=None):
    """The (address, port) pairs ``host`` resolves to, if the policy allows every one; else OutboundRefused.

    The one address check of every outbound connection: the HTTP clients run it at connect time and
    connect only to an address it returned; database connections (app.outbound_database) are pinned
    to one. ``literal``: ``host`` must be a numeric address (any spelling the C resolver accepts, as
    libpq's ``hostaddr``), judged by its value alone: an allowlisted name never vouches for it.
    A host that does not resolve raises OutboundError ("connection").
    """
    return _resolve(host, port, _allowlist(config), literal)


def _resolve(host, port, allowlist, literal=False):
    """Resolve ``host``: its (address, port) pairs if every address is allowed, else refuse."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST if literal else 0
        )
    except (OSError, UnicodeError):
        raise OutboundError(f"Could not resolve {host}.", "connection") from None
    name = "" if literal else host
    if not all(_allowed(name, ipaddress.ip_address(info[4][0].split("%")[0]), allowlist) for info in infos):
        raise OutboundRefused(f"{host} is a private, loopback or reserved address and is not allowlisted.")
    return [info[4][:2] for info in infos]


class _Guard:
    """One request's allowlist and wall-clock deadline, at which a watchdog cuts its sockets.

    ``watchdog=False``: a ``Batch``'s reaper thread calls ``expire`` instead of a timer per request.
    """

    def __init__(self, allowlist, timeout, watchdog=True):
        self.allowlist, self.deadline = allowlist, time.monotonic() + timeout
        self.expired, self.done, self.sockets, self.lock = False, False, [], threading.Lock()
        self.watchdog = threading.Timer(timeout, self.expire) if watchdog else None
        if self.watchdog:
            self.watchdog.start()

    def remaining(self):
        return max(self.deadline - time.monotonic(), 0.001)

    def expire(self):
        with self.lock:
            if self.done:  # finished: its pooled connection may already serve another request
                return
            self.expired = True
        for sock in list(self.sockets):
            self.cut(sock)

    def finish(self):
        """Stop guarding; True unless the deadline cut the request first."""
        with self.lock:
            self.done = True
            return not self.expired

    def track(self, sock):
        with self.lock:
            self.sockets.append(sock)
        if self.expired:
            self.cut(sock)

    @staticmethod
    def cut(sock):
        with contextlib.suppress(OSError):  # the plain method leaves an SSLSocket's state to its reader
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def connect(self, connection):
        host, kind = connection.host, "connection"
        for address in _resolve(host, connection.port, self.allowlist):
            try:  # numeric addresses: no second lookup
                sock = socket.create_connection(address, self.remaining())
            except OSError as exc:
                kind = "timeout" if isinstance(exc, TimeoutError) else kind
                continue
            for option in getattr(connection, "socket_options", None) or ():
                sock.setsockopt(*option)
            return sock
        raise OutboundError(f"Could not connect to {host}.", kind)


class _GuardedConnectionMixin:
    def _new_conn(self):
        return _current_guard.get().connect(self)

    def connect(self):
        super().connect()  # for https, the TLS-wrapped socket is what the watchdog must cut
        _current_guard.get().track(self.sock)


class _GuardedPoolMixin:
    def _make_request(self, conn, *args, **kwargs):
        if conn.sock is not None:  # a kept-alive connection: the current request's watchdog must cut it
            _current_guard.get().track(conn.sock)
        return super()._make_request(conn, *args, **kwargs)


class _GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections open through the current ``_Guard``."""

    pools = {
        "http": type(
            "_GuardedHTTPPool",
            (_GuardedPoolMixin, HTTPConnectionPool),
            {"ConnectionCls": type("_GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), {})},
        ),
        "https": type(
            "_GuardedHTTPSPool",
            (_GuardedPoolMixin, HTTPSConnectionPool),
            {
                "ConnectionCls": type(
                    "_GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), {}
                )
            },
        ),
    }

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pools


class _BatchConnectionMixin:
    """An http.client connection that opens its socket through the current ``_Guard``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = self._guarded_connect

    def _guarded_connect(self, address, timeout=None, source_address=None):
        sock = _current_guard.get().connect(self)  # resolve, check every address, connect to a checked one
        sock.settimeout(timeout)
        return sock

    def connect(self):
        super().connect()  # for https, the TLS-wrapped socket is what the reaper must cut
        _current_guard.get().track(self.sock)


class _BatchHTTPConnection(_BatchConnectionMixin, http.client.HTTPConnection):
    pass


class _BatchHTTPSConnection(_BatchConnectionMixin, http.client.HTTPSConnection):
    pass


_tls_contexts = {}


def _tls_context():
    """One verifying TLS context per process (building one loads the CA bundle: milliseconds)."""
    context = _tls_contexts.get(os.getpid())
    if context is None:
        context = _tls_contexts[os.getpid()] = ssl.create_default_context(cafile=certs.where())
    return context


class _ConnectionPool:
    """Idle kept-alive connections to one (scheme, host, port), most recently used first.

    An idle connection is reused only if the server has not closed it (nothing readable on it) and
    it has been idle at most ``idle_limit`` seconds, so a server's keep-alive timeout rarely races a
    reuse; otherwise a new connection is made, checked against the policy again at connect time.
    """

    def __init__(self, scheme, host, port, size, idle_limit=None):
        self.scheme, self.host, self.port, self.size, self.idle_limit = scheme, host, port, size, idle_limit
        self.idle, self.lock = [], threading.Lock()

    def get(self, timeout):
        now = time.monotonic()
        while True:
            with self.lock:
                if not self.idle:
                    break
                conn, since = self.idle.pop()
            if (self.idle_limit is None or now - since <= self.idle_limit) and not _dropped(conn.sock):
                conn.timeout = timeout
                conn.sock.settimeout(timeout)
                return conn
            conn.close()
        if self.scheme == "https":
            return _BatchHTTPSConnection(self.host, self.port, timeout=timeout, context=_tls_context())
        return _BatchHTTPConnection(self.host, self.port, timeout=timeout)

    def put(self, conn):
        with self.lock:
            if len(self.idle) < self.size:
                self.idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self):
        with self.lock:
            idle, self.idle = self.idle, []
        for conn, _ in idle:
            conn.close()


def _dropped(sock):
    """True when an idle connection was closed by the server (EOF or stray bytes are readable)."""
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


KEPT_POOLS_MAX = (
    256  # hosts whose idle connections a process keeps; the least recently used beyond are closed
)
KEPT_IDLE_SECONDS = 1.0  # below the keep-alive timeouts of common servers (gunicorn 2 s, Node/uvicorn 5 s)
_kept_pools = {}
_kept_pools_lock = threading.Lock()


def _kept_pool(scheme, host, port, size, allowlist):
    """A pool per process, (scheme, host, port, size) and allowlist, kept between batches.

    Its connections were each checked against ``allowlist`` when they connected.
    """
    key = (os.getpid(), scheme, host, port, size, frozenset(allowlist[0]), tuple(map(str, allowlist[1])))
    with _kept_pools_lock:
        pool = _kept_pools.pop(key, None)
        if pool is None:
            pool = _ConnectionPool(scheme, host, port, size, KEPT_IDLE_SECONDS)
        _kept_pools[key] = pool  # most recently used last
        while len(_kept_pools) > KEPT_POOLS_MAX:
            _kept_pools.pop(next(iter(_kept_pools))).close()
        return pool


_UNCHECKED = object()  # a Batch's host not resolved yet


class Batch:
    """Many requests under the policy, sent concurrently with kept-alive connections (scheduled POSTs).

    ``send_many`` is the entry point. Per batch: each (host, port) is resolved and checked once before
    anything is sent (a refused host fails all its requests without a connection); every new
    connection is still resolved and checked again at connect time, exactly as in ``request``; each
    host gets one pool of up to ``concurrency`` kept-alive connections (``keep_pools``: kept by the
    process between batches); one reaper thread enforces every request's whole-exchange deadline
    (instead of a timer thread per request). Redirects are never followed: a 3xx is returned like
    any other status. The exchange itself is the standard library's http.client (a third of
    urllib3's CPU per request, which is what a scheduler sending 1,000 POSTs a second spends most on);
    bodies are not decoded (http.client asks for ``Accept-Encoding: identity``).
    """

    def __init__(self, *, timeout=None, max_bytes=None, concurrency=16, config=None, keep_pools=False):
        self.timeout = float(timeout or _setting(config, "HALYARD_OUTBOUND_TIMEOUT_SECONDS"))
        self.max_bytes = int(max_bytes or _setting(config, "HALYARD_OUTBOUND_MAX_BYTES"))
        self.concurrency, self.allowlist = max(1, int(concurrency)), _allowlist(config)
        self.keep_pools = keep_pools
        self.pools, self.checked, self.active, self.lock = {}, {}, set(), threading.Lock()
        self.stopped = threading.Event()
        self.reaper = threading.Thread(target=self._reap, name="outbound-reaper", daemon=True)
        self.reaper.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.stopped.set()
        if not self.keep_pools:
            for pool in self.pools.values():
                pool.close()

    def _reap(self):
        while not self.stopped.wait(0.05):
            now = time.monotonic()
            with self.lock:
                late = [guard for guard in self.active if guard.deadline <= now]
            for guard in late:
                guard.expire()

    def _pool(self, scheme, host, port):
        with self.lock:
            pool = self.pools.get((scheme, host, port))
            if pool is None:
                pool = (
                    _kept_pool(scheme, host, port, self.concurrency, self.allowlist)
                    if self.keep_pools
                    else _ConnectionPool(scheme, host, port, self.concurrency)
                )
                self.pools[(scheme, host, port)] = pool
            return pool

    def _check(self, host, port):
        """Resolve and check a host once per batch; re-raise its refusal for every later request.

        Concurrent first requests to one host wait for the one check (a lock per host): without it,
        each thread that arrived before the first result was stored resolved the host again."""
        with self.lock:
            entry = self.checked.get((host, port))
            if entry is None:
                entry = self.checked[(host, port)] = [threading.Lock(), _UNCHECKED]
        with entry[0]:
            if entry[1] is _UNCHECKED:
                try:
                    _resolve(host, port, self.allowlist)
                    entry[1] = None
                except OutboundError as exc:
                    entry[1] = exc
        if entry[1] is not None:
            raise entry[1]

    def send(self, method, url, *, data=None, headers=None):
        """One request: an ``OutboundResponse`` whatever its status, else OutboundError."""
        started, method, host = time.monotonic(), method.upper(), None
        try:
            scheme, host, port = _parse(url)
            self._check(host, port)
            parts = urlsplit(url)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            status, response_headers, content = self._exchange(
                self._pool(scheme, host, port), method, path, data, dict(headers or {}), host
            )
        except OutboundError as exc:
            log.info(
                jsonlib.dumps({"event": "outbound_failed", "method": method, "host": host, "kind": exc.kind})
            )
            raise
        return OutboundResponse(status, response_headers, content, time.monotonic() - started, url)

    def _exchange(self, pool, method, path, data, headers, host):
        guard = _Guard(self.allowlist, self.timeout, watchdog=False)
        with self.lock:
            self.active.add(guard)
        token, conn, reusable = _current_guard.set(guard), None, False
        late = OutboundError(f"{host} did not answer in time.", "timeout")
        try:
            conn = pool.get(guard.remaining())
            if conn.sock is not None:  # a kept-alive connection: this request's deadline must cut it
                guard.track(conn.sock)
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            content = bytearray()
            while True:
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                content += chunk
                if len(content) > self.max_bytes:
                    raise OutboundError(
                        f"The response from {host} is larger than {self.max_bytes} bytes.", "too_large"
                    )
            if guard.expired:  # the reaper's shutdown looks like a clean end of a body read to EOF
                raise late
            reusable = not response.will_close
            return response.status, response.headers, bytes(content)
        except OutboundError:
            raise
        except ValueError:  # http.client refuses header values with line breaks (a token, say)
            raise OutboundError("The request has an invalid header value.", "refused") from None
        except (http.client.HTTPException, OSError) as exc:
            if guard.expired or isinstance(exc, TimeoutError):
                raise late from None
            raise OutboundError(
                f"The {'TLS ' if isinstance(exc, ssl.SSLError) else ''}connection to {host} failed.",
                "connection",
            ) from None
        finally:
            in_time = guard.finish()
            with self.lock:
                self.active.discard(guard)
            _current_guard.reset(token)
            if conn is not None:
                if reusable and in_time:
                    pool.put(conn)
                else:
                    conn.close()  # a cut, refused or half-read connection never goes back to the pool
            if reusable and not in_time:
                raise late  # the reaper's shutdown can look like a clean end of the body

    def send_many(self, items):
        """``items``: (method, url, data, headers) tuples; results in order, each a response or an error."""

        def one(item):
            method, url, data, headers = item
            try:
                return self.send(method, url, data=data, headers=headers)
            except OutboundError as exc:
                return exc

        if len(items) <= 1 or self.concurrency == 1:
            return [one(item) for item in items]
        return list(_executor(self.concurrency).map(one, items))


_executors = {}
_executors_lock = threading.Lock()


def _executor(size):
    """A thread pool per process and size, kept between batches (starting threads per batch is costly)."""
    key = (os.getpid(), size)
    with _executors_lock:
        pool = _executors.get(key)
        if pool is None:
            pool = _executors[key] = ThreadPoolExecutor(size, thread_name_prefix="outbound")
        return pool
