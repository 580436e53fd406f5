"""LOCAL downloads of a table kept in object storage (the suite's real S3 server): the rows are read where
they live (no copy of the input on the worker), the sample keeps the rows the documented condition keeps,
and the estimate comes from the metadata, by the one rule the web's ``…/estimate/`` follows too."""

import csv
import hashlib
import io

import duckdb
import pytest

from app import storage, storage_backends
from tests.storage_support import client as s3_client
from tests.storage_support import new_bucket, s3_settings


@pytest.fixture
def config_overrides(request, tmp_path):
    endpoint = request.getfixturevalue("s3_server")
    return {
        **s3_settings(endpoint, new_bucket(endpoint)),
        "HALYARD_STORAGE_ROOT": str(tmp_path / "files"),  # unused on object storage
        "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1",
    }


@pytest.fixture
def copies(monkeypatch):
    """Every local copy the S3 store makes (the table would be copied whole if the reader needed one)."""
    made = []
    original = storage_backends.S3Store.local_copy

    def local_copy(self, key):
        made.append(key)
        return original(self, key)

    monkeypatch.setattr(storage_backends.S3Store, "local_copy", local_copy)
    return made


def kept_positions(app, key, seed, ratio, tmp_path):
    """The positions the documented sample keeps, computed by hashlib from a copy of the stored object."""
    path = tmp_path / "table.parquet"
    bucket, _, name = storage.url(key)[len("s3://") :].partition("/")
    s3_client(app.config["HALYARD_S3_ENDPOINT_URL"]).download_file(bucket, name, str(path))
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT id, file_row_number FROM read_parquet('{path}', file_row_number = true)"
    ).fetchall()
    con.close()
    threshold = int(ratio * 2**128)
    return {i for i, n in rows if int(hashlib.md5(f"{n}:{seed}".encode()).hexdigest(), 16) < threshold}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_table_in_object_storage_is_read_where_it_lives(
    app, client, bound_item, make_account, token_for, run_jobs, copies, tmp_path, fmt
):
    assert storage.is_object_storage()
    item = bound_item(rows=20000)
    headers = token_for(make_account())
    spec = {
        "columns": ["id", "price"],
        "filters": [{"name": "category", "operator": "!=", "value": "cat_3"}],
        "randomize_ratio": 0.3,
    }
    body = {"catalogue_item_id": item.id, "spec": spec, "format": fmt}
    estimate = client.post("/downloader/requests/estimate/", json=body, headers=headers).get_json()
    created = client.post("/downloader/requests/", json=body, headers=headers)
    assert created.status_code == 201, created.get_data(as_text=True)
    run_jobs()
    done = client.get(created.get_json()["_links"]["self"]["href"], headers=headers).get_json()
    assert done["status"] == "finished", done["error"]
    assert copies == []  # neither the estimate nor the job copied the table out of the store
    # the estimate: from the metadata (a remote table is never counted to be estimated), the same both ways
    assert estimate["basis"] == "metadata" and done["estimated_size"] == estimate["estimated_size"]
    # the rows: exactly the filter and the documented sample over the positions in the stored file
    answer = client.get(done["uri"], headers=headers)
    assert answer.status_code == 302  # object storage hands the file out by a presigned URL
    result = tmp_path / f"result.{fmt}"
    bucket, _, name = answer.headers["Location"].split("?")[0].split("/", 3)[3].partition("/")
    s3_client(app.config["HALYARD_S3_ENDPOINT_URL"]).download_file(bucket, name, str(result))
    if fmt == "csv":
        ids = [int(r["id"]) for r in csv.DictReader(io.StringIO(result.read_text()))]
    else:
        ids = [i for (i,) in duckdb.sql(f"SELECT id FROM read_parquet('{result}')").fetchall()]
    eligible = {i for i in range(20000) if i % 8 != 3}  # category cat_<i % 8> (catalogue_data.PRODUCTS_SQL)
    assert ids == sorted(ids) and len(ids) == done["rows"] > 0  # in table order, counted exactly
    assert set(ids) == kept_positions(app, item.datasource.table_key, done["seed"], 0.3, tmp_path) & eligible
