"""Benchmark: a 5-million-row CSV bound to a LOCAL catalogue item, downloaded end to end.

    /work/venv/bin/python benchmarks/downloader_duckdb.py [--rows 5000000] [--keep DIR]

1. DuckDB writes a CSV (id, category, price, available, created).
2. Bind: the data-sources code turns it into the source's Parquet table; a LOCAL catalogue item
   is bound to that source.
3. End to end: POST /downloader/requests/ (3 columns, one filter, randomize_ratio 0.5) → a real
   ``halyard worker`` (started beforehand, so its start-up is not counted) runs the job → the
   request is ``finished``; timed from the POST to the moment the finished state is visible.
4. The same query run directly with DuckDB, in this process with the same thread and memory
   limits: on the CSV itself (what a user without Halyard would run) and on the bound Parquet.
5. Worker peak memory: ru_maxrss of the worker process tree (the worker and its work horse),
   read with wait4() when the worker exits.
Prints one JSON object with the figures (recorded in docs/catalogue.md).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

COLUMNS = ["id", "price", "created"]
FILTER = {"name": "category", "operator": "=", "value": "cat_3"}
RATIO = 0.5


def generate_csv(path, rows):
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT range AS id, 'cat_' || (range % 10) AS category,
                          round((hash(range) % 100000) / 100.0, 2) AS price, range % 3 = 0 AS available,
                          TIMESTAMP '2024-01-01' + to_seconds(range) AS created FROM range({rows}))
                    TO '{path}' (FORMAT csv, HEADER true)""")
    con.close()


def direct(sql, threads, memory):
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory})
    started = time.perf_counter()
    con.execute(sql)
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keep", help="work directory to use (kept afterwards)")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="halyard-bench-")
    os.makedirs(work, exist_ok=True)
    instance = os.path.join(work, "instance")
    os.environ["HALYARD_INSTANCE_PATH"] = instance
    os.environ["HALYARD_RATE_LIMIT_ENABLED"] = "false"  # a benchmark measures the API, not its rate limits
    os.environ.setdefault("HALYARD_QUEUE_PREFIX", f"bench{os.getpid()}")

    import flask_migrate

    from app import create_app
    from app.extensions import db
    from app.resources.accounts.models import Account
    from app.resources.catalogue.models import CatalogueItem
    from app.resources.catalogue.profile import spec_type
    from app.resources.datasources.models import DataSource, Project
    from app.resources.datasources.tables import materialise_csv, parquet_rows, table_path
    from app.resources.downloader import local
    from app.resources.downloader.models import DownloadRequest

    figures = {"rows": args.rows}
    csv_path = os.path.join(work, "products.csv")
    started = time.perf_counter()
    generate_csv(csv_path, args.rows)
    figures["generate_csv_s"] = round(time.perf_counter() - started, 2)
    figures["csv_bytes"] = os.path.getsize(csv_path)

    app = create_app()
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        admin = Account(email=f"bench{os.getpid()}@example.org", type="ADMIN")
        db.session.add(admin)
        started = time.perf_counter()
        table = materialise_csv(csv_path, known_dialect=True)
        figures["bind_s"] = round(time.perf_counter() - started, 2)
        project = Project(title="bench", owner=admin)
        source = DataSource(
            project=project,
            name="products",
            type="file",
            status="ready",
            table_key=table.table_key,
            preview_key=table.preview_key,
            columns=table.columns,
            items=table.items,
            fields=table.fields,
        )
        spec = [
            {"name": c["name"], "type": spec_type(c["type"]), "is_nullable": False} for c in table.columns
        ]
        item = CatalogueItem(
            name=f"products-{os.getpid()}", executor_type="LOCAL", spec=spec, datasource=source
        )
        db.session.add_all([project, source, item])
        db.session.commit()
        _, secret = admin.issue_token()
        db.session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        parquet = table_path(source)
        threads = app.config["HALYARD_DOWNLOADER_DUCKDB_THREADS"]
        memory = app.config["HALYARD_DOWNLOADER_DUCKDB_MEMORY"]

        env = {**os.environ, "PYTHONPATH": ROOT}
        worker = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--no-scheduler"],
            cwd=ROOT,
            env=env,
            stdout=open(os.path.join(work, "worker.log"), "w"),
            stderr=subprocess.STDOUT,
        )
        time.sleep(3)  # the worker's start-up (imports, Redis) is not part of a download
        client = app.test_client()
        out = os.path.join(work, "direct.csv")
        rounds = []
        for value in ("cat_3", "cat_4", "cat_5"):  # three different requests (equal ones would be joined)
            spec = {"columns": COLUMNS, "filters": [{**FILTER, "value": value}], "randomize_ratio": RATIO}
            started = time.perf_counter()
            response = client.post(
                "/downloader/requests/", json={"catalogue_item_id": item.id, "spec": spec}, headers=headers
            )
            assert response.status_code == 201, response.get_data(as_text=True)
            request_id = response.get_json()["id"]
            while True:
                db.session.expire_all()
                req = db.session.get(DownloadRequest, request_id)
                if req.status in ("finished", "failed"):
                    break
                time.sleep(0.02)
            end_to_end = time.perf_counter() - started
            assert req.status == "finished", req.error
            csv_sql = (
                f"COPY (SELECT id, price, created FROM (SELECT * FROM read_csv('{csv_path}', header = true) "
                f"WHERE category = '{value}') USING SAMPLE {RATIO * 100}% (bernoulli)) TO '{out}' "
                "(FORMAT csv, HEADER true)"
            )
            select = local.query(item, spec, req.seed, parquet_rows(parquet, True))
            parquet_sql = f"COPY ({select}) TO '{out}' (FORMAT csv, HEADER true)"
            rounds.append(
                {
                    "end_to_end_s": round(end_to_end, 3),
                    "rows": req.rows,
                    "bytes": req.real_size,
                    "estimated_bytes": req.estimated_size,
                    "direct_duckdb_on_csv_s": round(direct(csv_sql, threads, memory), 3),
                    "direct_duckdb_on_parquet_s": round(direct(parquet_sql, threads, memory), 3),
                }
            )
        worker.send_signal(signal.SIGTERM)
        _, _, usage = os.wait4(worker.pid, 0)
        figures["worker_peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
        figures["rounds"] = rounds
        for key in ("end_to_end_s", "direct_duckdb_on_csv_s", "direct_duckdb_on_parquet_s"):
            figures["median_" + key] = statistics.median(r[key] for r in rounds)
        figures["ratio_vs_direct_csv"] = round(
            figures["median_end_to_end_s"] / figures["median_direct_duckdb_on_csv_s"], 2
        )
        figures["ratio_vs_direct_parquet"] = round(
            figures["median_end_to_end_s"] / figures["median_direct_duckdb_on_parquet_s"], 2
        )
        figures["duckdb_threads"], figures["duckdb_memory_limit"] = threads, memory
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
