"""The benchmark's baseline: the same four answers as Halyard from stdlib sqlite3 and hand-written SQL.

No auth, no HAL library, no ORM: ``COUNT(*)`` + ``LIMIT/OFFSET`` and ``json.dumps``. Served by
gunicorn with ``BASELINE_DB`` pointing at the SQLite file Halyard uses. With ``BASELINE_TOTALS_CACHE=1``
it keeps each filter's ``COUNT(*)`` in a per-process dict (the benchmark's data never changes), as
Halyard's totals cache does: the benchmark turns both caches on or both off, never one side only.
"""

import json
import os
import sqlite3
import threading

from flask import Flask, Response, abort, request

app = Flask(__name__)
_local = threading.local()
COLUMNS = "id, title, type, created"
_totals = {} if os.environ.get("BASELINE_TOTALS_CACHE") == "1" else None


def conn():
    if getattr(_local, "conn", None) is None:
        _local.conn = sqlite3.connect(os.environ["BASELINE_DB"], check_same_thread=False)
    return _local.conn


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
    rows = (
        conn()
        .execute(
            f"SELECT {COLUMNS} FROM assets WHERE datamanager_id = ? AND id = ? AND deleted IS NULL",
            (dm, asset_id.replace("-", "")),
        )
        .fetchall()
    )
    if not rows:
        abort(404)
    return dump(items(rows)[0])


@app.get("/dm/<dm>/assets/")
def page(dm):
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
