"""The ``database`` and ``api`` source types: fetch their rows into a CSV file for ``tables``.

- ``database``: the connection URL is stored encrypted (Fernet, key derived from SECRET_KEY
  with HKDF) or named by reference to ``HALYARD_DATASOURCE_CONNECTIONS``; it is never
  returned. A literal URL is checked by app.outbound_database when it is sent and again when
  the job connects, which is pinned to the checked addresses. The query is checked on input
  with sqlglot (exactly one statement, a SELECT, nothing that writes or locks) and then run in
  a read-only transaction with a statement timeout (PostgreSQL) or ``PRAGMA query_only`` and a
  progress-handler deadline (SQLite), fetching at most ``HALYARD_DATASOURCE_ROW_CAP`` rows.
- ``api``: a URL answering CSV or a JSON array of objects, fetched through app.outbound
  (SSRF-safe, timeout, size cap).
"""

import json
import time

from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.keyring import keyring
from app.outbound import OutboundError, request
from app.resources.datasources.tables import TableError, rows_to_csv

_WRITE_NODES = (
    "Insert",
    "Update",
    "Delete",
    "Merge",
    "Create",
    "Drop",
    "Alter",
    "Command",
    "Into",
    "Lock",
    "Copy",
    "TruncateTable",
    "Pragma",
    "Set",
    "Transaction",
    "Commit",
    "Rollback",
    "Use",
    "LoadData",
)


def derive_key(secret_key):
    """The connection URLs' Fernet key from one SECRET_KEY (app/keyring.py)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"halyard", info=b"datasource-connection").derive(
        secret_key
    )


def encrypt(url):
    return keyring(derive_key).encrypt(url.encode()).decode()


def decrypt(token):
    try:
        return keyring(derive_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise TableError("The stored connection can no longer be decrypted (SECRET_KEY changed?).") from None


def configured_connections():
    return dict(current_app.config["HALYARD_DATASOURCE_CONNECTIONS"] or {})


def check_connection(value):
    """An error message for a connection the caller may not use, or None.

    A configured name is always allowed; a literal URL must be a network database (PostgreSQL)
    that every host it could reach passes the outbound policy (app.outbound_database).
    """
    from app import outbound_database  # deferred: psycopg loads only for database sources

    if value in configured_connections():
        return None
    try:
        outbound_database.pinned(value)
    except outbound_database.DatabaseRefused as error:
        return str(error)
    return None


def resolve(source):
    """The SQLAlchemy URL of a database source (decrypted or looked up), never shown to clients."""
    if source.connection_ref:
        url = configured_connections().get(source.connection_ref)
        if url is None:
            raise TableError(f"The connection {source.connection_ref!r} is no longer configured.")
        return url
    return decrypt(source.connection_secret)


def check_query(sql):
    """An error message unless ``sql`` is exactly one read-only SELECT, else None."""
    import sqlglot  # here, not at module level: 7 MB that a web worker needs only for this check
    from sqlglot import exp

    writes = tuple(getattr(exp, name) for name in _WRITE_NODES if hasattr(exp, name))
    try:
        statements = [s for s in sqlglot.parse(sql) if s is not None]
    except sqlglot.errors.SqlglotError:
        return "The query could not be parsed as SQL."
    if len(statements) != 1:
        return "Exactly one statement is allowed."
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        return "Only a SELECT query is allowed."
    if any(isinstance(node, writes) for node in statement.walk()):
        return "The query must only read (no INTO, locking or data-changing clauses)."
    return None


def run_query(url, sql, destination):
    """Run the query read-only with a timeout; write at most the row cap as CSV. Returns truncated?"""
    config = current_app.config
    timeout, cap = config["HALYARD_DATASOURCE_QUERY_TIMEOUT_SECONDS"], config["HALYARD_DATASOURCE_ROW_CAP"]
    engine = _engine(url, timeout)
    try:
        with engine.connect() as conn:
            _read_only(conn, timeout)
            result = conn.exec_driver_sql(sql)
            header, rows = list(result.keys()), _capped(result, cap + 1)
            rows_to_csv(header, rows[:cap], destination)
            conn.rollback()
            return len(rows) > cap
    except sa_exc.OperationalError as error:
        text = str(getattr(error, "orig", error)).lower()
        if "timeout" in text or "interrupted" in text or "canceling statement" in text:
            raise TableError(f"The query exceeded its time limit of {timeout} s.") from None
        if "connect" in text or "connection" in text:
            raise TableError("Could not connect to the database.") from None
        raise TableError("The query failed: " + _first_line(error)) from None
    except sa_exc.DBAPIError as error:
        raise TableError("The query failed: " + _first_line(error)) from None
    finally:
        engine.dispose()


def _engine(url, timeout):
    """An engine for ``url``: a configured connection as the operator wrote it; any other URL checked
    again now (the allowlist may have changed since it was stored) and pinned to the checked addresses."""
    from app import outbound_database  # deferred: psycopg loads only for database sources

    if url not in configured_connections().values():
        try:
            params = outbound_database.pinned(url, timeout=timeout)
        except outbound_database.DatabaseRefused as error:
            reason = f"The connection is not allowed by the outbound policy ({error.param})."
            raise TableError(reason) from None
        return create_engine("postgresql+psycopg://", poolclass=NullPool, connect_args=params)
    parsed, connect_args = make_url(url), {}
    if parsed.drivername.startswith("postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args = {"connect_timeout": max(1, int(timeout))}
    return create_engine(parsed, poolclass=NullPool, connect_args=connect_args)


def _read_only(conn, timeout):
    """Make this connection's transaction read-only and bounded in time."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA query_only = ON")
        deadline = time.monotonic() + timeout
        raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    else:
        raise TableError(f"The {conn.dialect.name} dialect is not supported.")


def _capped(result, limit):
    rows = []
    while len(rows) < limit:
        batch = result.fetchmany(min(1000, limit - len(rows)))
        if not batch:
            break
        rows.extend(batch)
    return rows


def _first_line(error):
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def fetch_api(url, raw_destination, csv_destination):
    """Fetch ``url`` into ``raw_destination``; write it as CSV to ``csv_destination``.

    Returns ``(content_type, known_dialect)``: JSON arrays become server-written CSV.
    """

    config = current_app.config
    try:
        response = request(
            "GET",
            url,
            headers={"Accept": "text/csv, application/json;q=0.9"},
            timeout=config["HALYARD_DATASOURCE_API_TIMEOUT_SECONDS"],
            max_bytes=config["HALYARD_DATASOURCE_API_MAX_BYTES"],
        )
    except OutboundError as error:
        kind = getattr(error, "kind", "connection")
        raise TableError(f"The URL could not be fetched ({kind}).") from None
    if response.status_code >= 400:
        raise TableError(f"The URL answered HTTP {response.status_code}.")
    with open(raw_destination, "wb") as fh:
        fh.write(response.content)
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if "json" in content_type or response.content.lstrip()[:1] == b"[":
        _json_to_csv(response.content, csv_destination)
        return content_type or "application/json", True
    with open(csv_destination, "wb") as fh:
        fh.write(response.content)
    return content_type or "text/csv", False


def _json_to_csv(content, destination):
    try:
        data = json.loads(content)
    except ValueError:
        raise TableError("The URL's JSON could not be parsed.") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise TableError("The URL's JSON must be an array of objects.")
    header = list(dict.fromkeys(key for item in data for key in item))
    if not header:
        raise TableError("The URL's JSON array has no fields.")
    rows = ([_cell(item.get(key)) for key in header] for item in data)
    rows_to_csv(header, rows, destination)


def _cell(value):
    return json.dumps(value) if isinstance(value, (dict, list)) else value
