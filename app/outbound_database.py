"""Outbound database connections: a user's PostgreSQL URL as libpq sees it, checked and pinned.

Where libpq connects is decided by much more than the URL's host: ``?host=`` and ``?hostaddr=``
replace it, hosts and ports may be comma-separated lists, a host that starts with ``/`` or ``@`` (or
no host at all) is a Unix socket, and ``service``, ``passfile``, ``sslkey`` and friends read files on
this server. So a URL is read exactly as the connection would read it: SQLAlchemy's URL parser and
its psycopg dialect give the driver's keyword arguments, and libpq's own parser
(``conninfo_to_dict``) turns them into its parameters. Then:

- only parameters named in ``ALLOWED`` pass; any other is refused by name;
- every host is a network host, resolved once and checked by ``app.outbound.checked_addresses``
  (every address allowed); a ``hostaddr`` the URL gives is checked as the address it is;
- the connection is made from those parameters with ``hostaddr`` set to the checked address of each
  host (``host`` stays, so TLS still verifies the name), so a DNS answer that changes after the
  check cannot move it. What libpq would otherwise take from this server's files or environment is
  pinned too: no password file, no client certificate, no GSSAPI, an explicit port.
"""

import json
import logging
import os

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.outbound import OutboundError, OutboundRefused, checked_addresses

log = logging.getLogger("halyard")

DRIVERS = ("postgresql", "postgresql+psycopg")
TARGET = ("host", "hostaddr", "port", "dbname", "user", "password")
HARMLESS = ("application_name", "channel_binding", "connect_timeout", "sslmode", "target_session_attrs")
ONLY_VALUES = {"sslrootcert": ("system",)}  # the system CA store: no file of this server is named
ALLOWED = TARGET + HARMLESS + tuple(ONLY_VALUES)
DEFAULT_PORT = 5432
NO_FILE = os.path.join(os.devnull, "none")  # can never exist; libpq skips a missing passfile silently


class DatabaseRefused(OutboundRefused):
    """A database URL the policy refuses; ``param`` names the part at fault (safe to show its author)."""

    def __init__(self, message, param, kind="refused"):
        super().__init__(message, kind)
        self.param = param


def libpq_params(value):
    """The parameters libpq would connect with for the SQLAlchemy URL ``value`` (DatabaseRefused if none)."""
    try:
        url = make_url(value)
    except Exception:  # noqa: BLE001 — every parse failure is the same client error
        raise DatabaseRefused(
            "Not a configured connection name or a valid SQLAlchemy URL.", "url", "invalid_url"
        ) from None
    if url.drivername not in DRIVERS:
        raise DatabaseRefused(
            "Only PostgreSQL URLs, or the name of a configured connection, are accepted.",
            "driver",
            "invalid_url",
        )
    url = url.set(drivername="postgresql+psycopg")
    try:
        kwargs = url.get_dialect()().create_connect_args(url)[1]
    except ArgumentError as error:  # its texts name only ports and formats, never credentials
        raise DatabaseRefused(
            f"The database host and port lists do not fit: {error}.", "port", "invalid_url"
        ) from None
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo  # the postgres extra
    except ImportError:
        raise DatabaseRefused(
            "PostgreSQL URLs need the postgres extra (psycopg) on this server.", "driver", "invalid_url"
        ) from None
    for name, given in kwargs.items():
        if name not in ALLOWED or (name == "sslrootcert" and _libpq_version() < 160000):  # old: a file
            raise DatabaseRefused(
                f"The parameter {name!r} is not allowed (allowed: {', '.join(ALLOWED)}).", name
            )
        if isinstance(given, (tuple, list)):
            raise DatabaseRefused(f"The parameter {name!r} is given more than once.", name)
        if name in ONLY_VALUES and given not in ONLY_VALUES[name]:
            allowed = " or ".join(ONLY_VALUES[name])
            raise DatabaseRefused(f"The parameter {name!r} may only be {allowed}.", name)
    try:
        return conninfo_to_dict(make_conninfo("", **kwargs))
    except Exception:  # noqa: BLE001 — libpq's parser refused it
        raise DatabaseRefused(
            "The connection parameters could not be parsed.", "url", "invalid_url"
        ) from None


def pinned(value, *, timeout=None, config=None):
    """libpq parameters for ``value`` with every host checked and ``hostaddr`` pinned to its checked address.

    ``timeout`` (seconds) caps ``connect_timeout``. Raises DatabaseRefused naming the parameter at fault.
    """
    params = libpq_params(value)
    hosts = params.get("host", "").split(",")
    ports = params.get("port", "").split(",")
    given = params["hostaddr"].split(",") if params.get("hostaddr") else [""] * len(hosts)
    if len(ports) not in (1, len(hosts)):
        raise DatabaseRefused(
            f"The database port list ({len(ports)}) does not match the {len(hosts)} hosts.", "port"
        )
    if len(given) != len(hosts):
        raise DatabaseRefused(
            f"The database hostaddr list ({len(given)}) does not match the {len(hosts)} hosts.", "hostaddr"
        )
    ports = [_port(port) for port in (ports * len(hosts) if len(ports) == 1 else ports)]
    addresses = [
        _check(host, port, address, config) for host, port, address in zip(hosts, ports, given, strict=False)
    ]
    result = dict(
        params,
        host=",".join(hosts),
        hostaddr=",".join(addresses),
        port=",".join(map(str, ports)),
        passfile=NO_FILE,
        gssencmode="disable",
    )
    if _libpq_version() >= 160000:  # older libpq has no sslcertmode
        result["sslcertmode"] = "disable"
    if timeout is not None:  # the URL may ask for less time, never for more (libpq's 0 means forever)
        limit = max(1, int(timeout))
        asked = _int(params.get("connect_timeout"), limit)
        result["connect_timeout"] = str(min(limit, asked) if asked > 0 else limit)
    log.info(json.dumps({"event": "outbound_database", "hosts": hosts, "addresses": addresses}))
    return result


def _check(host, port, address, config):
    """The checked address to connect to for one host (a given ``hostaddr`` is checked as itself)."""
    if not host:
        raise DatabaseRefused(
            "The database host is missing: without one the driver uses a local socket.", "host"
        )
    if host.startswith(("/", "@")):
        raise DatabaseRefused(
            f"The database host {host!r} is a Unix socket; only network hosts are allowed.", "host"
        )
    param, target = ("hostaddr", address) if address else ("host", host)
    try:
        return checked_addresses(target, port, literal=bool(address), config=config)[0][0]
    except OutboundRefused as error:
        raise DatabaseRefused(f"The database {param} is not allowed: {error}", param) from None
    except OutboundError:
        raise DatabaseRefused(
            f"The database {param} {target!r} could not be resolved.", param, "invalid_url"
        ) from None


def _port(text):
    port = _int(text or str(DEFAULT_PORT), 0)
    if not 0 < port < 65536:
        raise DatabaseRefused(f"The database port {text!r} is not a port number.", "port")
    return port


def _int(text, default):
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _libpq_version():
    from psycopg import pq

    return pq.version()
