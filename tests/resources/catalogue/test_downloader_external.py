"""LOCAL downloads of items bound to an ``external`` data set (Parquet in the suite's real S3 server, read
where it lives through ``tables.relation``): the right rows, columns, filters and sample — the very bytes
the same rows stored as one table give —, no local copy of the input, and bad input answered 4xx."""

import csv
import hashlib
import io
import os
import tempfile
import time

import duckdb
import pyarrow.parquet as pq
import pytest
from catalogue_data import PRODUCTS_SQL

from app import storage
from app.extensions import db
from app.resources.datasources.models import DataSource, Project
from app.resources.downloader.models import DownloadRequest
from tests.storage_support import CREDENTIALS, new_bucket
from tests.storage_support import client as s3_client

ROWS = 4000
# Three files of unequal sizes and row groups: positions must run on across files and row groups.
PARTS = (
    ("part-0.parquet", 0, 1000, 300),
    ("part-1.parquet", 1000, 2500, 700),
    ("part-2.parquet", 2500, 4000, 1000),
)
COLUMNS = [
    ("id", "BIGINT", "INTEGER"),
    ("category", "VARCHAR", "STRING"),
    ("price", "DOUBLE", "FLOAT"),
    ("available", "BOOLEAN", "BOOLEAN"),
    ("created", "TIMESTAMP", "DATETIME"),
    ("note", "VARCHAR", "STRING"),
]


@pytest.fixture(scope="module")
def lake(s3_server, tmp_path_factory):
    """The products rows 0..3999 as three Parquet objects under ``lake/products/`` of a fresh bucket."""
    bucket, folder = new_bucket(s3_server), tmp_path_factory.mktemp("parts")
    s3 = s3_client(s3_server)
    con = duckdb.connect()
    for name, low, high, group in PARTS:
        path = str(folder / name)
        sql = (
            f"SELECT * FROM ({PRODUCTS_SQL.format(rows=ROWS)}) WHERE id >= {low} AND id < {high} ORDER BY id"
        )
        pq.write_table(con.sql(sql).to_arrow_table(), path, row_group_size=group)
        with open(path, "rb") as fh:
            s3.put_object(Bucket=bucket, Key=f"lake/products/{name}", Body=fh.read())
    con.close()
    assert [pq.ParquetFile(str(folder / n)).metadata.num_row_groups for n, *_ in PARTS] == [4, 3, 2]
    return {"bucket": bucket, "endpoint": s3_server}


@pytest.fixture
def config_overrides(lake):
    return {
        "HALYARD_DATASOURCE_EXTERNAL_LOCATIONS": [f"s3://{lake['bucket']}/lake/"],
        "HALYARD_S3_ENDPOINT_URL": lake["endpoint"],
        "HALYARD_S3_REGION": "us-east-1",
        "HALYARD_S3_ADDRESSING_STYLE": "path",
        "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1",
        **CREDENTIALS,
    }


@pytest.fixture
def people(make_account, token_for):
    return [(a, token_for(a)) for a in (make_account(), make_account(type="ADMIN"))]


def item_spec():
    return [
        {"name": name, "type": kind, "is_nullable": name == "note", "size": None, "distribution": None}
        for name, _, kind in COLUMNS
    ]


@pytest.fixture
def external_item(make_item, make_account, lake):
    def make(url=None):
        owner = make_account(type="ADMIN")
        project = Project(title=f"lake {owner.id}", owner_id=owner.id)
        source = DataSource(
            project=project,
            name="products",
            type="external",
            url=url or f"s3://{lake['bucket']}/lake/products/",
            status="ready",
            items=ROWS,
            fields=len(COLUMNS),
            columns=[{"name": n, "type": t} for n, t, _ in COLUMNS],
        )
        db.session.add_all([project, source])
        db.session.commit()
        return make_item(executor_type="LOCAL", datasource_id=source.id, spec=item_spec())

    return make


def create(client, item, headers, columns, filters=(), ratio=1.0, fmt="csv"):
    return client.post(
        "/downloader/requests/",
        json={
            "catalogue_item_id": item.id,
            "spec": {"columns": columns, "filters": list(filters), "randomize_ratio": ratio},
            "format": fmt,
        },
        headers=headers,
    )


def finished(client, body, headers):
    done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
    assert done["status"] == "finished" and done["error"] is None, done
    response = client.get(done["uri"], headers=headers)
    assert response.status_code == 200
    return done, response.data


def same_seed(request_id, seed):
    req = db.session.get(DownloadRequest, request_id)
    req.seed = seed
    db.session.commit()


FILTERS = [
    {"name": "price", "operator": ">=", "value": 25},
    {"name": "category", "operator": "!=", "value": "cat_3"},
    {"name": "note", "operator": "!=", "value": None},
]


def test_an_external_item_downloads_the_rows_a_stored_table_of_them_gives(
    app, client, external_item, bound_item, people, run_jobs
):
    headers = people[0][1]
    lake_item, stored_item = external_item(), bound_item(rows=ROWS)
    lake_body = create(client, lake_item, headers, ["id", "price", "note"], FILTERS, ratio=0.3).get_json()
    stored_body = create(client, stored_item, headers, ["id", "price", "note"], FILTERS, ratio=0.3).get_json()
    assert lake_body["status"] == "queued", lake_body
    seed = lake_body["seed"]
    same_seed(stored_body["id"], seed)  # the same sample on both: one seed
    run_jobs()
    lake_done, lake_csv = finished(client, lake_body, headers)
    _, stored_csv = finished(client, stored_body, headers)
    # the multi-file data set samples exactly as the same rows stored as one table: the same bytes
    assert lake_csv == stored_csv
    rows = list(csv.DictReader(io.StringIO(lake_csv.decode())))
    assert list(rows[0]) == ["id", "price", "note"] and lake_done["rows"] == len(rows)
    # ... and exactly the rows of the documented condition, recomputed here with hashlib: the key of row
    # i is its position in the data set (files in name order), here its id
    eligible = [
        i for i in range(ROWS) if round((i * 7919 % 10000) / 100.0, 2) >= 25 and i % 8 != 3 and i % 10 != 0
    ]
    kept = [
        i for i in eligible if int(hashlib.md5(f"{i}:{seed}".encode()).hexdigest(), 16) < int(0.3 * 2**128)
    ]
    assert [int(r["id"]) for r in rows] == kept and 0 < len(kept) < len(eligible)
    assert all(float(r["price"]) >= 25 and r["note"] == f"note {r['id']}" for r in rows)
    # the rows of the last file are there too (positions run on across files)
    assert max(kept) >= 2500 and [int(r["id"]) for r in rows if int(r["id"]) >= 2500]
    # no data version (the files change where they live) and an estimate from the metadata
    assert lake_done["data_version"] is None and lake_done["estimated_size"] > 0


def test_parquet_output_of_an_external_item(app, client, external_item, people, run_jobs):
    headers = people[0][1]
    item = external_item()
    filters = [{"name": "available", "operator": "=", "value": True}]
    body = create(client, item, headers, ["id", "created", "available"], filters, fmt="parquet").get_json()
    run_jobs()
    _, data = finished(client, body, headers)
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == ["id", "created", "available"]
    assert table.column("id").to_pylist() == [i for i in range(ROWS) if i % 3 == 0]
    assert set(table.column("available").to_pylist()) == {True}


def test_the_worker_keeps_no_local_copy_of_the_input(
    app, client, external_item, bound_item, people, run_jobs, monkeypatch, tmp_path
):
    """While the COPY runs, nothing on this machine holds the input: storage made no local copy, and no
    Parquet file exists under the storage folder, the instance folder or the temporary folder. The same
    probe on a stored table sees its local copy, so it can fail."""
    from app.resources.downloader import local

    headers, started = people[0][1], time.time()
    copies, found = [], {}
    real_copy, real_export = storage.local_copy, local.export

    def counted_copy(key):
        copies.append(key)
        return real_copy(key)

    def export_and_look(con, item, spec, seed, rows, fmt, out_path):
        count = real_export(con, item, spec, seed, rows, fmt, out_path)
        found[rows.path is None] = parquet_files_since(started, app) | ({rows.path} if rows.path else set())
        return count

    monkeypatch.setattr(storage, "local_copy", counted_copy)
    monkeypatch.setattr(local, "export", export_and_look)
    # a temporary folder of this test's own: other test processes write Parquet into the shared one
    os.makedirs(tmp_path / "tmp")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    lake_body = create(client, external_item(), headers, ["id", "category"]).get_json()
    run_jobs()
    finished(client, lake_body, headers)
    assert copies == [] and found[True] == set()
    stored_body = create(client, bound_item(rows=500), headers, ["id", "category"]).get_json()
    run_jobs()
    finished(client, stored_body, headers)
    assert copies and found[False]  # the probe sees a stored table's file


def parquet_files_since(started, app):
    seen = set()
    for root in {storage.scratch_root(), app.instance_path, tempfile.gettempdir()}:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    if os.path.getmtime(path) >= started and os.path.getsize(path) > 8:
                        with open(path, "rb") as fh:
                            if fh.read(4) == b"PAR1":
                                seen.add(path)
                except OSError:
                    continue  # another process's file, gone or unreadable
    return seen


def test_bad_input_is_answered_4xx_and_nothing_is_written(app, client, external_item, people):
    headers = people[0][1]
    item = external_item()
    before = db.session.query(DownloadRequest).count()
    unknown = create(client, item, headers, ["id", "nope"])
    assert unknown.status_code == 400 and unknown.headers["Content-Type"] == "application/problem+json"
    assert "columns" in unknown.get_data(as_text=True)
    wrong_type = create(
        client, item, headers, ["id"], [{"name": "price", "operator": ">=", "value": "cheap"}]
    )
    assert wrong_type.status_code == 400 and "filters" in wrong_type.get_data(as_text=True)
    ratio = create(client, item, headers, ["id"], ratio=1.5)
    assert ratio.status_code == 400 and "randomize_ratio" in ratio.get_data(as_text=True)
    assert db.session.query(DownloadRequest).count() == before


def test_a_location_no_longer_allowed_fails_the_download_with_the_reason(
    app, client, external_item, people, run_jobs
):
    headers = people[0][1]
    item = external_item()
    body = create(client, item, headers, ["id"]).get_json()
    app.config["HALYARD_DATASOURCE_EXTERNAL_LOCATIONS"] = []
    run_jobs()
    done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
    assert done["status"] == "failed" and "not under a location" in done["error"]
    assert done["uri"] is None


def test_a_data_set_gone_from_the_store_fails_the_download_cleanly(
    app, client, external_item, people, run_jobs, lake
):
    headers = people[0][1]
    item = external_item(url=f"s3://{lake['bucket']}/lake/vanished/")
    body = create(client, item, headers, ["id"]).get_json()
    run_jobs()
    done = client.get(body["_links"]["self"]["href"], headers=headers).get_json()
    assert done["status"] == "failed" and "Nothing was found" in done["error"], done
