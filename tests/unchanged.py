"""``assert_unchanged()``: proof that a refused request wrote nothing.

A status code alone proves little: a 403 that still wrote a row passes every status check. So every
authorization and bad-input test wraps its request in::

    with unchanged():                      # the conftest fixture: assert_unchanged bound to the test's app
        response = client.put(...)
    assert response.status_code == 403

which compares, before and after the block, everything a request could change:

- every row of every table of the schema (read on a connection of its own, so only committed rows count,
  and ordered by primary key, so the comparison is exact);
- the files under the storage root (name and size);
- the job ids on the app's RQ queues.

``ignore`` names tables (``"jobs"``), columns (``"accounts.created"``), ``"files"`` or ``"queues"`` that a
test knows may change (a test that runs a worker inside the block ignores the queues it drains).
"""

import contextlib
import os

from sqlalchemy import select

from app.extensions import db


def snapshot(app, ignore=()):
    """Everything a request could have written, as comparable plain values."""
    state = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name in ignore:
                continue
            columns = [c for c in table.columns if f"{table.name}.{c.name}" not in ignore]
            order = list(table.primary_key.columns) or columns
            rows = conn.execute(select(*columns).order_by(*order)).all()
            state[table.name] = [tuple(row) for row in rows]
    if "files" not in ignore:
        state["files"] = _files(app.config.get("HALYARD_STORAGE_ROOT"))
    if "queues" not in ignore:
        state["queues"] = _queued(app)
    return state


def _files(root):
    if not root or not os.path.isdir(root):
        return {}
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = os.path.getsize(path)
    return found


def _queued(app):
    from app.jobs import all_queues

    return {queue.name: sorted(queue.job_ids) for queue in all_queues(app)}


def differences(before, after):
    """A readable account of what changed: per table (or files/queues), what appeared and what went."""
    lines = []
    for key in before:
        old, new = before[key], after.get(key)
        if old == new:
            continue
        if isinstance(old, list):
            gone = [row for row in old if row not in new]
            added = [row for row in new if row not in old]
            lines.append(f"{key}: added {added[:5]}, removed or changed {gone[:5]}")
        else:
            lines.append(f"{key}: {old!r} -> {new!r}")
    return "; ".join(lines)


@contextlib.contextmanager
def assert_unchanged(app, ignore=()):
    """Fail when the block changed any row, stored file or queued job (``ignore``: what may change)."""
    before = snapshot(app, ignore)
    yield before
    after = snapshot(app, ignore)
    assert after == before, "the block changed state: " + differences(before, after)
