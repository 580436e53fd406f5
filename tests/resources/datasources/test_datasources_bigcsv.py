"""LARGE: a generated CSV (100 MB by default) is processed by a real worker with bounded memory.

Size: HALYARD_TEST_BIG_CSV_MB (default 100; CI keeps 100). The worker's peak RSS (work horse
included, measured by a small launcher's RUSAGE_CHILDREN) must stay under HALYARD_TEST_BIG_CSV_MAX_RSS_MB
(default 450 MB; measured: ~160 MB for 5 MB, ~310 MB for 100 MB, ~360 MB for 300 MB),
far below the file's size plus the interpreter, which proves nothing loads the file whole.
"""

import os
import subprocess
import sys
import time

from app import storage
from app.extensions import db
from app.jobs import enqueue
from app.resources.datasources.jobs import process_source
from app.resources.datasources.models import DataSource

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SIZE_MB = int(os.environ.get("HALYARD_TEST_BIG_CSV_MB", "100"))
MAX_RSS_MB = int(os.environ.get("HALYARD_TEST_BIG_CSV_MAX_RSS_MB", "450"))
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)
CITIES = ["Oslo", "Rome", "Lima", "Kyiv", "Accra", "Quito", "Hanoi", "Perth"]


def generate(path, size):
    """Write a CSV of about ``size`` bytes, streamed (ids, text, floats, dates, some empty cells)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("id;name;amount;city;day;note\n")
        written, i, chunk = 0, 0, []
        while written < size:
            i += 1
            note = "" if i % 7 == 0 else f"note number {i} with some text"
            chunk.append(
                f"{i};person {i % 10007};{(i * 37) % 100000 / 100:.2f};{CITIES[i % 8]};"
                f"2026-{1 + i % 12:02d}-{1 + i % 28:02d};{note}\n"
            )
            if len(chunk) == 10000:
                block = "".join(chunk)
                fh.write(block)
                written += len(block)
                chunk = []
        fh.write("".join(chunk))
    return i


def worker_env(app):
    config = app.config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALYARD_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        DATABASE_URL=config["DATABASE_URL"],
        SECRET_KEY=config["SECRET_KEY"],
        PYTHONPATH=ROOT,
        HALYARD_INSTANCE_PATH=app.instance_path,
        HALYARD_QUEUE_PREFIX=config["HALYARD_QUEUE_PREFIX"],
    )
    if config["REDIS_URL"]:
        env["REDIS_URL"] = config["REDIS_URL"]
    return env


def test_big_csv_is_processed_with_bounded_memory(app, team, tmp_path):
    path = tmp_path / "big.csv"
    rows = generate(path, SIZE_MB * 1024 * 1024)
    with open(path, "rb") as fh:
        stored = storage.save(fh)
    os.unlink(path)
    source = DataSource(
        project_id=team.project.id,
        name="big",
        type="file",
        status="processing",
        file_key=stored.key,
        file_type="text/csv",
        version=1,
    )
    db.session.add(source)
    db.session.commit()
    record = enqueue(process_source, source.id, 1, kind="datasource-process", owner=team.owner.account)
    started = time.monotonic()
    # A small launcher runs the worker and reports its children's peak RSS. Measuring the worker as a
    # direct child of pytest would count pytest's own pages, which the child holds between fork and exec.
    proc = subprocess.Popen(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "app", "worker", "--burst", "--no-scheduler"],
        cwd=ROOT,
        env=worker_env(app),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=600)
    elapsed = time.monotonic() - started
    peak_mb = int(out.decode().split()[-1]) / 1024
    print(
        f"\nbig CSV: {SIZE_MB} MB, {rows} rows, processed in {elapsed:.1f} s, worker peak RSS"
        f" {peak_mb:.0f} MB"
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    db.session.expire_all()
    source = db.session.get(DataSource, source.id)
    assert source.status == "ready", source.error
    assert source.items == rows and source.fields == 6
    assert [c["type"] for c in source.columns] == [
        "BIGINT",
        "VARCHAR",
        "DOUBLE",
        "VARCHAR",
        "DATE",
        "VARCHAR",
    ]
    assert source.problems["malformed_rows"] == 0
    assert peak_mb < MAX_RSS_MB, f"worker peak RSS {peak_mb:.0f} MB"
    assert db.session.get(type(record), record.id).status == "finished"
