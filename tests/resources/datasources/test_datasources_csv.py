"""The ``file`` type: CSV edge cases, metadata and preview, PUT/DELETE, the table-reading contract."""

import duckdb
import pytest

from app.extensions import db
from app.resources.datasources.models import DataSource
from app.resources.datasources.tables import table_columns, table_file


def preview_of(client, headers, doc):
    r = client.get(doc["meta_data"]["preview"], headers=headers)
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def test_create_file_source_seed_shape(client, team, upload):
    r = upload(
        team.editor.headers,
        team.project.id,
        b"name,age,city\nAnn,31,Oslo\nBob,,Rome\nCy,27,Oslo\n",
        name="People",
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert r.headers["Location"] == doc["_links"]["self"]["href"]
    assert (doc["name"], doc["project"], doc["type"], doc["status"]) == (
        "People",
        team.project.id,
        "file",
        "ready",
    )
    assert doc["meta_data"]["items"] == 3 and doc["meta_data"]["fields"] == 3
    assert doc["file"].startswith("http://") and doc["meta_data"]["preview"].startswith("http://")
    assert client.get(doc["file"], headers=team.viewer.headers).data.startswith(b"name,age,city")
    preview = preview_of(client, team.viewer.headers, doc)
    cols = {c["name"]: c for c in preview["columns"]}
    assert cols["age"]["type"] == "BIGINT" and cols["age"]["nulls"] == 1
    assert (cols["age"]["min"], cols["age"]["max"]) == ("27", "31")
    assert cols["city"]["distinct"] == 2 and cols["name"]["type"] == "VARCHAR"
    assert preview["rows"][0] == {"name": "Ann", "age": 31, "city": "Oslo"}
    listed = client.get(
        f"/api/v1/projects/{team.project.id}/datasources?type=file&name~=peo", headers=team.viewer.headers
    ).get_json()
    assert [s["id"] for s in listed["_embedded"]["ec:datasource"]] == [doc["id"]]


@pytest.mark.parametrize(
    "content, delimiter, encoding, rows, first",
    [
        (b"a;b;c\n1;2;3\n4;5;6\n", ";", "utf-8", 2, {"a": 1, "b": 2, "c": 3}),
        (b"a\tb\nx\ty\n", "\t", "utf-8", 1, {"a": "x", "b": "y"}),
        (
            b'title,note\n"Hello, world","He said ""hi""\nthen left"\nplain,x\n',
            ",",
            "utf-8",
            2,
            {"title": "Hello, world", "note": 'He said "hi"\nthen left'},
        ),
        ("\ufeffname,city\nZoë,Köln\n".encode("utf-8"), ",", "utf-8", 1, {"name": "Zoë", "city": "Köln"}),
        (
            "name;city;note\nJosé;Málaga;très bien\nFrançois;Zürich;déjà vu\n".encode("latin-1"),
            ";",
            "cp1252",
            2,
            {"name": "José", "city": "Málaga", "note": "très bien"},
        ),
    ],
)
def test_csv_dialects_and_encodings(client, team, upload, content, delimiter, encoding, rows, first):
    r = upload(team.owner.headers, team.project.id, content)
    doc = r.get_json()
    assert r.status_code == 201 and doc["status"] == "ready", doc
    assert doc["meta_data"]["items"] == rows
    assert doc["problems"]["delimiter"] == delimiter
    assert doc["problems"]["encoding"] == encoding
    assert preview_of(client, team.owner.headers, doc)["rows"][0] == first


def test_ragged_rows_reported_with_line_numbers(client, team, upload):
    content = b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n"
    doc = upload(team.owner.headers, team.project.id, content).get_json()
    assert doc["status"] == "ready" and doc["meta_data"]["items"] == 2
    problems = doc["problems"]
    assert problems["malformed_rows"] == 2
    assert [m["line"] for m in problems["malformed"]] == [3, 4]
    assert "missing columns" in problems["malformed"][0]["error"]


def test_header_only_is_an_empty_table(client, team, upload):
    doc = upload(team.owner.headers, team.project.id, b"a,b,c\n").get_json()
    assert doc["status"] == "ready" and doc["meta_data"] == {**doc["meta_data"], "items": 0, "fields": 3}
    assert preview_of(client, team.owner.headers, doc)["rows"] == []


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"1,2,3\n4,5,6\n", "header"),
        (b"a,,c\n1,2,3\n", "column 2 has no name"),
    ],
)
def test_unusable_csv_is_400_and_writes_nothing(app, stored_files, client, team, upload, content, message):
    before = stored_files()
    r = upload(team.owner.headers, team.project.id, content)
    assert r.status_code == 400 and message in r.get_json()["errors"]["file"][0]
    assert db.session.scalar(db.select(db.func.count(DataSource.id))) == 0
    assert stored_files() == before


@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"name": ""}, "name"),
        ({"type": "ftp"}, "type"),
        ({"project": "abc"}, "project"),
        ({"colour": "red"}, "colour"),
        ({"query": "SELECT 1"}, "query"),
        ({"url": "http://127.0.0.1/x.csv"}, "url"),
    ],
)
def test_bad_fields_are_named(app, stored_files, client, team, upload, fields, bad):
    before = stored_files()
    data = {"name": "n", "project": team.project.id, **fields}
    r = upload(team.owner.headers, **{"project_id": data.pop("project"), **data})
    assert r.status_code == 400 and bad in r.get_json()["errors"], r.get_json()
    assert stored_files() == before and db.session.scalar(db.select(db.func.count(DataSource.id))) == 0


def test_file_required_and_project_checked(client, team, actor, upload):
    r = upload(team.owner.headers, team.project.id, None)
    assert r.status_code == 400 and "file" in r.get_json()["errors"]
    stranger = actor()
    r = upload(stranger.headers, team.project.id)
    assert r.status_code == 400 and "project" in r.get_json()["errors"]
    assert upload(team.viewer.headers, team.project.id).status_code == 403


def test_names_unique_per_project(client, team, upload):
    assert upload(team.owner.headers, team.project.id, name="Same").status_code == 201
    r = upload(team.editor.headers, team.project.id, name="Same")
    assert r.status_code == 400 and "name" in r.get_json()["errors"]
    other = client.post("/api/v1/projects/", json={"title": "Other"}, headers=team.owner.headers).get_json()
    assert upload(team.owner.headers, other["id"], name="Same").status_code == 201


def test_put_replaces_and_recomputes_delete_removes_files(app, stored_files, client, team, upload):
    before = stored_files()
    doc = upload(team.owner.headers, team.project.id, b"a,b\n1,2\n").get_json()
    first_files = stored_files() - before
    assert len(first_files) == 3  # upload, Parquet table, preview
    r = client.put(
        doc["_links"]["self"]["href"],
        headers=team.editor.headers,
        content_type="multipart/form-data",
        data={
            "name": "renamed",
            "type": "file",
            "file": (__import__("io").BytesIO(b"x;y;z\n1;2;3\n4;5;6\n"), "new.csv"),
        },
    )
    assert r.status_code == 200, r.get_json()
    new = r.get_json()
    assert new["name"] == "renamed" and new["meta_data"]["items"] == 2 and new["meta_data"]["fields"] == 3
    assert not (first_files & stored_files()), "the replaced files are deleted"
    renamed = client.put(
        doc["_links"]["self"]["href"],
        headers=team.editor.headers,
        data={"name": "kept file", "type": "file"},
        content_type="multipart/form-data",
    )
    assert renamed.status_code == 200 and renamed.get_json()["meta_data"]["items"] == 2
    assert client.delete(doc["_links"]["self"]["href"], headers=team.editor.headers).status_code == 204
    assert stored_files() == before
    assert client.get(doc["_links"]["self"]["href"], headers=team.owner.headers).status_code == 404


def test_large_upload_goes_through_a_job(app, client, team, upload, run_jobs):
    app.config["HALYARD_DATASOURCE_INLINE_BYTES"] = 10
    doc = upload(team.owner.headers, team.project.id, b"a,b\n1,2\n3,4\n5,6\n").get_json()
    assert doc["status"] == "processing" and doc["meta_data"]["preview"] is None
    job = client.get(doc["_links"]["ec:job"]["href"], headers=team.owner.headers).get_json()
    assert (
        job["status"] == "queued" and job["_links"]["ec:job/subject"]["href"] == doc["_links"]["self"]["href"]
    )
    run_jobs()
    ready = client.get(doc["_links"]["self"]["href"], headers=team.owner.headers).get_json()
    assert ready["status"] == "ready" and ready["meta_data"]["items"] == 3
    bad = upload(team.owner.headers, team.project.id, b"1,2\n3,4\n5,6\n", name="bad").get_json()
    run_jobs()
    failed = client.get(bad["_links"]["self"]["href"], headers=team.owner.headers).get_json()
    assert failed["status"] == "error" and "header" in failed["error"]
    assert (
        client.get(bad["_links"]["ec:job"]["href"], headers=team.owner.headers).get_json()["status"]
        == "failed"
    )


def test_table_path_contract(client, team, upload):
    doc = upload(team.owner.headers, team.project.id, b"k,v\na,1\nb,2\n").get_json()
    source = db.session.get(DataSource, doc["id"])
    assert table_columns(source) == [{"name": "k", "type": "VARCHAR"}, {"name": "v", "type": "BIGINT"}]
    with table_file(source) as path:
        rows = duckdb.sql(f"SELECT k, v FROM read_parquet('{path}') ORDER BY k").fetchall()
    assert rows == [("a", 1), ("b", 2)]
    parquet = client.get(doc["_links"]["ec:datasource/table"]["href"], headers=team.viewer.headers)
    assert parquet.status_code == 200 and parquet.data[:4] == b"PAR1"


def test_conditional_requests_on_a_source(client, team, upload):
    doc = upload(team.owner.headers, team.project.id, b"a\n1\n").get_json()
    got = client.get(doc["_links"]["self"]["href"], headers=team.owner.headers)
    etag = got.headers["ETag"]
    assert (
        client.get(
            doc["_links"]["self"]["href"], headers={**team.owner.headers, "If-None-Match": etag}
        ).status_code
        == 304
    )
    stale = client.delete(
        doc["_links"]["self"]["href"], headers={**team.owner.headers, "If-Match": '"stale"'}
    )
    assert stale.status_code == 412
    assert (
        client.delete(
            doc["_links"]["self"]["href"], headers={**team.owner.headers, "If-Match": etag}
        ).status_code
        == 204
    )


def test_json_body_for_non_file_types_and_415(client, team):
    r = client.post(
        "/api/v1/datasources",
        json={"name": "j", "project": team.project.id, "type": "database", "query": "DELETE FROM x"},
        headers=team.owner.headers,
    )
    assert r.status_code == 400 and set(r.get_json()["errors"]) == {"query", "connection"}
    r = client.post("/api/v1/datasources", data="x", content_type="text/plain", headers=team.owner.headers)
    assert r.status_code == 415
