"""The benchmark's baseline: the same four answers as Halyard from stdlib sqlite3 and hand-written SQL.

No HAL library, no ORM: ``COUNT(*)`` + ``LIMIT/OFFSET`` and ``json.dumps``. Served by gunicorn with
``BASELINE_DB`` pointing at the SQLite file Halyard uses. With ``BASELINE_TOTALS_CACHE=1`` it keeps each
filter's ``COUNT(*)`` in a per-process dict (the benchmark's data never changes), as Halyard's totals
cache does: the benchmark turns both caches on or both off, never one side only.

The same auth work as Halyard, written the short way: a token is looked up by its SHA-256 with its
account (revoked, expired, deactivated and the ``read`` scope checked) on every request; Basic
credentials are verified once (werkzeug's password hash) and then remembered by an HMAC of them, and
every request still reads the account (active, ``credentials_version``) and the failed sign-in counters
of the account and the address in Redis (one MGET, ``BASELINE_REDIS_SOCKET``: the embedded Redis Halyard
uses). Every request checks the caller's membership of the space (404 when not a member).
"""

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime

from flask import Flask, Response, abort, request
from werkzeug.security import check_password_hash

app = Flask(__name__)
_local = threading.local()
COLUMNS = "id, title, type, created"
JOINED_COLUMNS = "assets.id, assets.title, assets.type, assets.created"
_totals = {} if os.environ.get("BASELINE_TOTALS_CACHE") == "1" else None
_verified = {}  # HMAC of Basic credentials -> (account id, credentials_version)
_SECRET = os.urandom(32)
PREFIX, MAX_FAILURES = "halyard", 5  # HALYARD_QUEUE_PREFIX and HALYARD_LOGIN_MAX_FAILURES: the throttle's


def conn():
    if getattr(_local, "conn", None) is None:
        _local.conn = sqlite3.connect(os.environ["BASELINE_DB"], check_same_thread=False)
    return _local.conn


def redis():
    if getattr(_local, "redis", None) is None:
        import redis as redis_py

        _local.redis = redis_py.Redis(unix_socket_path=os.environ["BASELINE_REDIS_SOCKET"])
    return _local.redis


def caller():
    """The account id of the request's credential (a token or Basic), else 401."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme in ("Bearer", "Token"):
        row = (
            conn()
            .execute(
                "SELECT a.id, t.revoked_at, t.expires_at, t.scopes, a.active FROM api_tokens t"
                " JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?",
                (hashlib.sha256(secret.encode()).hexdigest(),),
            )
            .fetchone()
        )
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        live = row and row[1] is None and (row[2] is None or row[2] > now) and row[4]
        if live and "read" in row[3].split():
            return row[0]
    elif scheme == "Basic":
        login, _, password = base64.b64decode(secret).decode().partition(":")
        key = hmac.new(_SECRET, f"{login}\0{password}".encode(), hashlib.sha256).digest()
        hit = _verified.get(key)
        if hit is not None:
            account_key = f"{PREFIX}:signin-fail:account:id-{hit[0]}"
            counters = redis().mget(account_key, f"{PREFIX}:signin-fail:addr:{request.remote_addr}")
            if any(count is not None and int(count) >= MAX_FAILURES for count in counters):
                abort(429)
            row = conn().execute("SELECT active, credentials_version FROM accounts WHERE id = ?", (hit[0],))
            if tuple(row.fetchone() or ()) == (1, hit[1]):
                return hit[0]
        row = (
            conn()
            .execute(
                "SELECT id, password_hash, credentials_version FROM accounts"
                " WHERE (username = ? OR email = ?) AND active",
                (login, login),
            )
            .fetchone()
        )
        if row and check_password_hash(row[1], password):
            _verified[key] = (row[0], row[2])
            return row[0]
    abort(401)


def get_member_or_404(dm, account_id):
    row = conn().execute(
        "SELECT 1 FROM datamanager_members WHERE datamanager_id = ? AND account_id = ?", (dm, account_id)
    )
    if row.fetchone() is None:
        abort(404)


def hex_to_uuid(h):
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def created(value):  # "2024-01-02 03:04:05.000000" → RFC 3339 with milliseconds
    return value[:10] + "T" + value[11:19] + "." + (value[20:23] if len(value) > 19 else "000") + "Z"


def items(rows):
    ids = [r[0] for r in rows]
    marks = ",".join("?" * len(ids))
    tags, files = {}, {}
    if ids:
        for asset_id, tag in conn().execute(
            f"SELECT asset_id, tag FROM asset_tags WHERE asset_id IN ({marks}) ORDER BY tag", ids
        ):
            tags.setdefault(asset_id, []).append(tag)
        for asset_id, mimetype, size in conn().execute(
            f"SELECT asset_id, mimetype, size FROM asset_files WHERE asset_id IN ({marks})", ids
        ):
            files.setdefault(asset_id, []).append({"mimetype": mimetype, "size": size})
    return [
        {
            "assetID": hex_to_uuid(r[0]),
            "title": r[1],
            "type": r[2],
            "created": created(r[3]),
            "tags": tags.get(r[0], []),
            "files": files.get(r[0], []),
        }
        for r in rows
    ]


def dump(body):
    return Response(json.dumps(body), mimetype="application/json")


@app.get("/dm/<dm>/assets/<asset_id>")
def one(dm, asset_id):
    account_id = caller()
    rows = (
        conn()
        .execute(
            f"SELECT {JOINED_COLUMNS} FROM assets JOIN datamanager_members m"
            " ON m.datamanager_id = assets.datamanager_id AND m.account_id = ?"
            " WHERE assets.datamanager_id = ? AND id = ? AND deleted IS NULL",
            (account_id, dm, asset_id.replace("-", "")),
        )
        .fetchall()
    )
    if not rows:
        abort(404)
    return dump(items(rows)[0])


@app.get("/dm/<dm>/assets/")
def page(dm):
    get_member_or_404(dm, caller())
    page_no, size = int(request.args.get("page", 1)), int(request.args.get("size", 10))
    where, params = "datamanager_id = ? AND deleted IS NULL", [dm]
    if "title~" in request.args:
        where += " AND title LIKE ?"
        params.append(f"%{request.args['title~']}%")
    total = _totals.get((where, *params)) if _totals is not None else None
    if total is None:
        total = conn().execute(f"SELECT COUNT(*) FROM assets WHERE {where}", params).fetchone()[0]
        if _totals is not None:
            _totals[(where, *params)] = total
    rows = (
        conn()
        .execute(
            f"SELECT {COLUMNS} FROM assets WHERE {where} ORDER BY created DESC, id LIMIT ? OFFSET ?",
            params + [size, (page_no - 1) * size],
        )
        .fetchall()
    )
    return dump({"count": len(rows), "total": total, "items": items(rows)})
