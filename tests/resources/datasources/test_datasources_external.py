"""The ``external`` type: Parquet data sets read where they live, in a folder (file://) or in the suite's
real S3 server (s3://, the ``s3_server`` fixture), and every way a client could steer it elsewhere."""

import io
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app import storage
from app.extensions import db
from app.resources.datasources import lake
from app.resources.datasources.models import DataSource
from tests.storage_support import CREDENTIALS, new_bucket
from tests.storage_support import client as s3_client


def sales(year, rows=5):
    return pa.table(
        {
            "id": pa.array(range(year * 10, year * 10 + rows), pa.int64()),
            "amount": pa.array([1.5 * n for n in range(rows)], pa.float64()),
            "shop": pa.array([f"shop {n % 2}" if n != 3 else None for n in range(rows)]),
        }
    )


def parquet_bytes(table, **options):
    out = io.BytesIO()
    pq.write_table(table, out, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def lake_places(tmp_path_factory, s3_server):
    """A folder and a bucket, each with an allowed ``lake/`` part and data outside it."""
    root = tmp_path_factory.mktemp("lake-root")
    for year in (2023, 2024):
        folder = root / "lake" / "sales" / f"year={year}"
        folder.mkdir(parents=True)
        (folder / "part-0.parquet").write_bytes(parquet_bytes(sales(year)))
    (root / "lake" / "sales" / "_SUCCESS").write_bytes(b"")
    (root / "outside").mkdir()
    (root / "outside" / "secret.parquet").write_bytes(parquet_bytes(sales(1999)))
    os.symlink(root / "outside", root / "lake" / "escape")  # a link out of the allowed folder
    bucket, other = new_bucket(s3_server), new_bucket(s3_server)
    s3 = s3_client(s3_server)
    for key in ("lake/events/part-0001.parquet", "lake/events/part-0002.parquet"):
        s3.put_object(Bucket=bucket, Key=key, Body=parquet_bytes(sales(2020, rows=7), row_group_size=3))
    s3.put_object(Bucket=bucket, Key="lake/events/_SUCCESS", Body=b"")
    s3.put_object(Bucket=bucket, Key="lake/one.parquet", Body=parquet_bytes(sales(2021)))
    s3.put_object(Bucket=bucket, Key="lake/not-parquet.parquet", Body=b"id,amount\n1,2\n")
    s3.put_object(Bucket=bucket, Key="private/secret.parquet", Body=parquet_bytes(sales(1999)))
    s3.put_object(Bucket=other, Key="lake/secret.parquet", Body=parquet_bytes(sales(1999)))
    return {"root": str(root), "bucket": bucket, "other": other, "endpoint": s3_server}


@pytest.fixture
def config_overrides(lake_places):
    return {
        "HALYARD_DATASOURCE_EXTERNAL_LOCATIONS": [
            f"file://{lake_places['root']}/lake/",
            f"s3://{lake_places['bucket']}/lake/",
        ],
        "HALYARD_S3_ENDPOINT_URL": lake_places["endpoint"],
        "HALYARD_S3_REGION": "us-east-1",
        "HALYARD_S3_ADDRESSING_STYLE": "path",
        "HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1",
        **CREDENTIALS,
    }


def create(client, headers, project_id, url, name="lake"):
    return client.post(
        "/api/v1/datasources",
        json={"project": project_id, "name": name, "type": "external", "url": url},
        headers=headers,
    )


def ready(client, headers, response, run_jobs):
    assert response.status_code == 201, response.get_json()
    doc = response.get_json()
    assert doc["status"] == "processing" and "ec:job" in doc["_links"]
    run_jobs()
    return client.get(doc["_links"]["self"]["href"], headers=headers).get_json()


def test_hive_partitioned_folder(client, team, lake_places, run_jobs):
    url = f"file://{lake_places['root']}/lake/sales/"
    doc = ready(
        client, team.editor.headers, create(client, team.editor.headers, team.project.id, url), run_jobs
    )
    assert doc["status"] == "ready", doc
    assert doc["type"] == "external" and doc["url"] == url and doc["file"] is None
    assert doc["meta_data"]["items"] == 10 and doc["meta_data"]["fields"] == 4
    assert doc["columns"] == [
        {"name": "id", "type": "BIGINT"},
        {"name": "amount", "type": "DOUBLE"},
        {"name": "shop", "type": "VARCHAR"},
        {"name": "year", "type": "INTEGER"},  # from the year=... folders
    ]
    assert doc["problems"] == {"files": 2}  # _SUCCESS is not data
    assert "ec:datasource/table" not in doc["_links"]  # the rows stay in the lake: nothing copied
    assert (
        client.get(f"/api/v1/datasources/{doc['id']}/table", headers=team.viewer.headers).status_code == 404
    )
    preview = client.get(doc["meta_data"]["preview"], headers=team.viewer.headers).get_json()
    assert preview["items"] == 10 and len(preview["rows"]) == 10
    stats = {c["name"]: c for c in preview["columns"]}
    assert stats["shop"]["nulls"] == 2 and stats["year"]["min"] == "2023" and stats["year"]["max"] == "2024"
    source = db.session.get(DataSource, doc["id"])
    assert source.table_key is None and storage.exists(source.preview_key)


@pytest.mark.parametrize(
    ("path", "items", "files"),
    [
        ("lake/events/", 14, 2),  # a folder (its _SUCCESS left out)
        ("lake/events/part-", 14, 2),  # a name prefix
        ("lake/one.parquet", 5, 1),  # one object
    ],
)
def test_s3_locations(client, team, lake_places, run_jobs, path, items, files):
    url = f"s3://{lake_places['bucket']}/{path}"
    doc = ready(
        client, team.owner.headers, create(client, team.owner.headers, team.project.id, url), run_jobs
    )
    assert doc["status"] == "ready", doc
    assert doc["meta_data"]["items"] == items and doc["problems"] == {"files": files}
    preview = client.get(doc["meta_data"]["preview"], headers=team.viewer.headers).get_json()
    assert preview["rows"][0] == {"id": 20200 if files == 2 else 20210, "amount": 0.0, "shop": "shop 0"}


def test_row_count_comes_from_the_footers_alone(app, lake_places):
    """The data pages are garbage, the footer intact: the row count is still read (no page was)."""
    good = parquet_bytes(sales(2030, rows=1000), compression="none")
    footer = int.from_bytes(good[-8:-4], "little") + 8
    broken = good[:4] + b"\xff" * (len(good) - 4 - footer) + good[-footer:]
    s3_client(lake_places["endpoint"]).put_object(
        Bucket=lake_places["bucket"], Key="lake/broken/data.parquet", Body=broken
    )
    described = lake.describe(f"s3://{lake_places['bucket']}/lake/broken/")
    assert described.items == 1000 and described.files == 1
    assert described.dataset.schema.names == ["id", "amount", "shop"]
    with pytest.raises((OSError, pa.ArrowException)):
        described.dataset.to_table()  # reading the rows does fail


@pytest.mark.parametrize("part_bytes", [1, 32 * 1024 * 1024])
def test_positions_stream_in_bounded_runs_of_row_groups(app, lake_places, monkeypatch, part_bytes):
    """Each scan reads at most PART_BYTES of row groups (so pyarrow holds no whole file): with 1 byte every
    row group is a scan of its own, with the default a file is one; the rows and their positions are the
    same either way — files in name order, rows in file order."""
    import duckdb

    monkeypatch.setattr(lake, "PART_BYTES", part_bytes)
    url = f"s3://{lake_places['bucket']}/lake/events/"  # two files of 7 rows in row groups of 3
    described = lake.describe(url)
    parts = list(lake._parts(described.dataset, ["id", "amount"]))
    assert len(parts) == (6 if part_bytes == 1 else 2)  # 3 row groups per file, or one run per file
    con = duckdb.connect()
    with lake.register_positions(con, url, "lake", ["id", "amount"], "position"):
        rows = con.execute("SELECT id, amount, position FROM lake").fetchall()
    con.close()
    expected = [(2020 * 10 + n, 1.5 * n, i) for i, n in enumerate(list(range(7)) * 2)]
    assert rows == expected


def test_the_reading_thread_keeps_order_hands_over_errors_and_stops_with_its_reader():
    import threading

    assert list(lake._ahead(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise OSError("the store went away")

    reader = lake._ahead(failing())
    assert next(reader) == 1
    with pytest.raises(OSError, match="went away"):
        next(reader)
    produced = []

    def endless():
        while True:
            produced.append(len(produced))
            yield produced[-1]

    reader = lake._ahead(endless(), depth=2)
    assert [next(reader) for _ in range(5)] == [0, 1, 2, 3, 4]
    reader.close()  # DuckDB stopped reading (an interrupt): the thread ends, no more is read
    assert not any(t.name == "lake-ahead" for t in threading.enumerate())
    assert len(produced) <= 5 + 2 + 2


HOSTILE = [
    ("s3://{other}/lake/secret.parquet", "not under a location"),  # another bucket
    ("s3://{bucket}/private/secret.parquet", "not under a location"),  # the bucket, outside lake/
    ("s3://{bucket}/lake/../private/secret.parquet", "'..'"),
    ("s3://{bucket}/lake/./one.parquet", "'..'"),
    ("s3://{bucket}/lake//one.parquet", "empty segments"),
    ("s3://{bucket}/lakehouse/x.parquet", "not under a location"),  # a sibling sharing the prefix
    ("s3://{bucket}/lake\\..\\private/secret.parquet", "not a valid URL"),
    ("s3://{bucket}/lake/one.parquet?versionId=1", "query"),
    ("s3://user:pw@{bucket}/lake/one.parquet", "bucket"),
    ("s3://{bucket}:9000/lake/one.parquet", "bucket"),
    ("s3://{bucket}/lake/one.parquet\x00", "NUL"),  # refused by the body reader already
    ("s3://{bucket}/lake/one.parquet\x0a", "not a valid URL"),
    ("s3:///lake/one.parquet", "bucket"),
    ("s3://[{bucket}/lake/one.parquet", "not a valid URL"),
    ("file://{root}/outside/secret.parquet", "not under a location"),
    ("file://{root}/lake/../outside/secret.parquet", "'..'"),
    ("file://{root}/lake/escape/secret.parquet", "not under a location"),  # a link out, resolved
    ("file:///etc/passwd", "not under a location"),
    ("file://otherhost{root}/lake/sales/", "local folder"),
    ("file:lake/sales", "absolute path"),
    ("https://{bucket}.s3.amazonaws.com/lake/one.parquet", "s3:// or file://"),
    ("ftp://example.org/lake/", "s3:// or file://"),
]


@pytest.mark.parametrize(("template", "reason"), HOSTILE)
def test_hostile_locations_are_refused_and_nothing_is_written(
    unchanged, client, team, lake_places, template, reason
):
    url = template.format(**lake_places)
    with unchanged():
        response = create(client, team.owner.headers, team.project.id, url)
    assert response.status_code == 400, response.get_json()
    errors = response.get_json()["errors"]
    assert list(errors) == ["url"] and reason in errors["url"][0], errors


def test_put_to_a_hostile_location_changes_nothing(unchanged, client, team, lake_places, run_jobs):
    url = f"s3://{lake_places['bucket']}/lake/one.parquet"
    doc = ready(
        client, team.owner.headers, create(client, team.owner.headers, team.project.id, url), run_jobs
    )
    with unchanged():
        response = client.put(
            doc["_links"]["self"]["href"],
            json={
                "name": "lake",
                "type": "external",
                "url": f"s3://{lake_places['other']}/lake/secret.parquet",
            },
            headers=team.owner.headers,
        )
    assert response.status_code == 400 and list(response.get_json()["errors"]) == ["url"]
    assert client.get(doc["_links"]["self"]["href"], headers=team.owner.headers).get_json()["url"] == url


def test_loopback_store_needs_the_outbound_allowlist(unchanged, app, client, team, lake_places):
    app.config["HALYARD_OUTBOUND_ALLOWLIST"] = ""
    with unchanged():
        response = create(client, team.owner.headers, team.project.id, f"s3://{lake_places['bucket']}/lake/")
    assert response.status_code == 400
    assert "outbound policy" in response.get_json()["errors"]["url"][0]


def test_the_type_is_off_until_locations_are_allowed(unchanged, app, client, team, lake_places):
    app.config["HALYARD_DATASOURCE_EXTERNAL_LOCATIONS"] = []
    with unchanged():
        response = create(
            client, team.owner.headers, team.project.id, f"file://{lake_places['root']}/lake/sales/"
        )
    assert response.status_code == 400 and "not under a location" in response.get_json()["errors"]["url"][0]


def test_url_is_required_and_other_types_do_not_take_locations(client, team):
    missing = client.post(
        "/api/v1/datasources",
        json={"project": team.project.id, "name": "x", "type": "external"},
        headers=team.owner.headers,
    )
    assert missing.status_code == 400 and missing.get_json()["errors"] == {
        "url": ["Required for type external."]
    }
    api = client.post(
        "/api/v1/datasources",
        json={"project": team.project.id, "name": "x", "type": "api", "url": "s3://bucket/lake/"},
        headers=team.owner.headers,
    )
    assert api.status_code == 400 and list(api.get_json()["errors"]) == ["url"]


def test_a_location_refused_when_the_job_runs_leaves_an_error_and_no_file(
    app, client, team, lake_places, run_jobs
):
    """The allowlist shrank between the request and the job: the job checks again and reads nothing."""
    url = f"file://{lake_places['root']}/lake/sales/"
    response = create(client, team.owner.headers, team.project.id, url)
    assert response.status_code == 201
    files = set(storage.all_keys())
    app.config["HALYARD_DATASOURCE_EXTERNAL_LOCATIONS"] = [f"s3://{lake_places['bucket']}/lake/"]
    run_jobs()
    doc = client.get(response.get_json()["_links"]["self"]["href"], headers=team.owner.headers).get_json()
    assert doc["status"] == "error" and "not under a location" in doc["error"]
    assert doc["meta_data"]["preview"] is None and set(storage.all_keys()) == files


def test_a_link_inside_a_folder_that_leads_out_fails_the_job(client, team, lake_places, run_jobs):
    url = f"file://{lake_places['root']}/lake/"  # the folder holds the escape link
    doc = ready(
        client, team.owner.headers, create(client, team.owner.headers, team.project.id, url), run_jobs
    )
    assert doc["status"] == "error" and "links outside" in doc["error"]


def test_only_the_projects_members_see_it(unchanged, client, team, lake_places, run_jobs):
    url = f"s3://{lake_places['bucket']}/lake/one.parquet"
    doc = ready(
        client, team.owner.headers, create(client, team.owner.headers, team.project.id, url), run_jobs
    )
    for path in (doc["_links"]["self"]["href"], doc["meta_data"]["preview"]):
        assert client.get(path, headers=team.outsider.headers).status_code == 404
        assert client.get(path, headers=team.viewer.headers).status_code == 200
    listed = client.get("/api/v1/datasources", headers=team.outsider.headers).get_data(as_text=True)
    assert lake_places["bucket"] not in listed
    with unchanged():
        viewer = create(client, team.viewer.headers, team.project.id, url, name="again")
    assert viewer.status_code == 403


def test_data_that_is_not_parquet_fails_the_job(client, team, lake_places, run_jobs):
    url = f"s3://{lake_places['bucket']}/lake/not-parquet.parquet"
    doc = ready(
        client, team.owner.headers, create(client, team.owner.headers, team.project.id, url), run_jobs
    )
    assert doc["status"] == "error" and "could not be read as Parquet" in doc["error"]
    assert doc["meta_data"]["preview"] is None


def test_a_step_job_reads_the_data_set_where_it_lives(client, team, lake_places, run_jobs):
    url = f"file://{lake_places['root']}/lake/sales/"
    doc = ready(
        client, team.owner.headers, create(client, team.owner.headers, team.project.id, url), run_jobs
    )
    steps = [
        {
            "key": "builtin:filter_rows",
            "exec_order": 1,
            "params": {"column": "year", "op": "eq", "value": "2024"},
        },
        {"key": "builtin:drop_columns", "exec_order": 2, "params": {"columns": ["amount"]}},
    ]
    started = client.post(
        f"/api/v1/datasources/{doc['id']}/job", json={"steps": steps}, headers=team.owner.headers
    )
    assert started.status_code == 201, started.get_json()
    run_jobs()
    job = client.get(started.headers["Location"], headers=team.owner.headers).get_json()
    assert job["status"] == "finished", job
    result = client.get(job["result"], headers=team.viewer.headers).get_data(as_text=True).splitlines()
    assert (
        result[0] == "id,shop,year"
        and len(result) == 6
        and all(line.endswith(",2024") for line in result[1:])
    )
