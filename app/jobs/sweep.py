"""The storage sweep: what killed jobs and interrupted requests leave in storage and its scratch folder.

- ``temporary(age)``: work folders and files of the local scratch folder (``.download-*``, ``.source-*``,
  ``.steps-*``, ``.table-*``, ``.export-*``, ``.upload-*``, ``.copy-*``) in which nothing was written for
  ``age`` seconds. A live job writes to its folder at least once per step, and no job runs longer than
  its time limit, so ``age`` (HALYARD_RECONCILE_FILE_AGE_SECONDS) must exceed the longest time a job
  goes without writing.
- ``unreferenced(age)``: stored files older than ``age`` that no row references: a job killed between
  storing a file and committing the row that points at it (a partial table, a download result). A
  column holding a storage key is named ``*_key`` (docs/jobs.md); every such column of every table is
  consulted, so a key column added later is protected without registering it.

Deleting is idempotent, so several workers may sweep at once. The file list is read before the
references, so a file whose row is committed meanwhile is seen as referenced.
"""

import os
import shutil
import time

from flask import current_app
from sqlalchemy import String, select

from app import storage
from app.extensions import db

TEMPORARY = (".download-", ".source-", ".steps-", ".table-", ".export-", ".upload-", ".copy-")
CHUNK = 500


def temporary(age):
    """Remove temporary entries idle for ``age`` seconds; the number removed."""
    root, cutoff, removed = storage.scratch_root(), time.time() - age, 0
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith(TEMPORARY) and _newest_mtime(path) < cutoff:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                _unlink(path)
            removed += 1
    return removed


def _newest_mtime(path):
    try:
        newest = os.lstat(path).st_mtime
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                newest = max(newest, os.lstat(os.path.join(folder, name)).st_mtime)
    except FileNotFoundError:  # removed meanwhile (its job ended, or another sweeper)
        return float("inf")
    return newest


def stored_keys():
    """Every key in storage, with its file's modification time: {key: mtime}."""
    return storage.all_keys()


def key_columns():
    """Every ``*_key`` string column of every table: where rows keep storage keys."""
    return [
        column
        for table in db.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_key") and isinstance(column.type, String)
    ]


def referenced(keys):
    """The subset of ``keys`` that some row references."""
    keys, found = list(keys), set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        for column in key_columns():
            found.update(db.session.scalars(select(column).where(column.in_(chunk))))
    db.session.rollback()
    return found


def unreferenced(age):
    """Delete stored files older than ``age`` seconds that no row references; the number deleted."""
    cutoff = time.time() - age
    old = [key for key, mtime in stored_keys().items() if mtime < cutoff]
    deleted = 0
    for key in set(old) - referenced(old):
        try:
            storage.delete(key)
        except ValueError:  # not a storage key's name: not ours to delete
            continue
        deleted += 1
    return deleted


def files_due(connection, age):
    """True for one caller per ``age`` seconds across processes (the file sweep lists all of storage)."""
    key = f"{current_app.config['HALYARD_QUEUE_PREFIX']}:reconcile:files-swept"
    return bool(connection.set(key, 1, nx=True, ex=max(60, int(age))))


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
