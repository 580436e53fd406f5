"""Seed 002 (Data sources API) replayed as its document writes it, by a client that sends no Accept.

Every request of the document is replayed (``test_every_documented_endpoint_is_replayed`` checks the
list): its method and path (``:id`` filled with an id made first), its parameters by their documented
names and its content types (``multipart/form-data`` where the document says so). Prerequisites the
document does not show are made through the API first: a project (``POST /api/v1/projects/``) and, for
a job, an uploaded script. The document prints "200 Created" for the two writes of a data source; Halyard
answers 201 Created on create (the "Created") and 200 on update.
"""

import io
import re

import pytest

from tests.seeds.seed_support import assert_shape, document, native, problem

DOC = document("002")
HOST = "http://localhost"
CSV = b"name,age,city\nAnn,31,Oslo\nBob,,Rome\nCy,27,Oslo\n"
SCRIPT = b"def transform(rows, params):\n    return rows\n"

# The bodies as printed (the document's create response, not valid JSON as printed, is its item).
ITEM = {
    "id": 99,
    "name": "Decade appear world.",
    "project": 285,
    "type": "file",
    "file": "http://localhost:8000/static/file.csv",
    "meta_data": {"items": 2419, "fields": 3, "preview": "http://localhost:8000/static/preview_file.json"},
}
LIST = {"count": 2, "next": None, "previous": None, "results": [ITEM]}
SCRIPTS = [{"key": "string", "body": "string"}]

REPLAYED = {
    ("GET", "/api/v1/projects/:id/datasources"),
    ("GET", "/api/v1/datasources"),
    ("POST", "/api/v1/datasources"),
    ("PUT", "/api/v1/datasources/:id"),
    ("GET", "/api/v1/datasources/:id/script"),
    ("POST", "/api/v1/datasources/:id/script-upload"),
    ("POST", "/api/v1/datasources/:id/job"),
}


@pytest.fixture
def headers(user_headers):
    return user_headers


@pytest.fixture
def project(seed_client, headers):
    """A project of the caller (not in the document: its data sources name one by id)."""
    return native(seed_client.post("/api/v1/projects/", json={"title": "Decade"}, headers=headers), 201)


def create(seed_client, headers, project_id, name="Decade appear world.", content=CSV):
    """``POST /api/v1/datasources`` as documented: multipart name, project, type, file."""
    data = {
        "name": name,
        "project": str(project_id),
        "type": "file",
        "file": (io.BytesIO(content), "file.csv"),
    }
    return seed_client.post(
        "/api/v1/datasources", data=data, headers=headers, content_type="multipart/form-data"
    )


@pytest.fixture
def source(seed_client, headers, project):
    return native(create(seed_client, headers, project["id"]), 201)


def test_every_documented_endpoint_is_replayed():
    assert set(re.findall(r"`(GET|POST|PUT|DELETE)` `([^`]+)`", DOC)) == REPLAYED


def check_item(item, project_id, rows=3, fields=3):
    assert_shape(item, ITEM)
    assert item["project"] == project_id and item["type"] == "file"
    assert item["file"] == f"{HOST}/api/v1/datasources/{item['id']}/file"
    assert item["meta_data"]["items"] == rows and item["meta_data"]["fields"] == fields
    assert item["meta_data"]["preview"] == f"{HOST}/api/v1/datasources/{item['id']}/preview"
    assert item["meta_data"]["preeview"] == item["meta_data"]["preview"]  # the create example's spelling


def test_create(seed_client, headers, project):
    response = create(seed_client, headers, project["id"])
    body = native(response, 201)
    check_item(body, project["id"])
    assert body["name"] == "Decade appear world."
    assert response.headers["Location"] == f"{HOST}/api/v1/datasources/{body['id']}"
    preview = seed_client.get(body["meta_data"]["preeview"], headers=headers)
    assert preview.status_code == 200 and preview.mimetype == "application/json"


def test_project_data_sources(seed_client, headers, project):
    ids = [native(create(seed_client, headers, project["id"], name=n), 201)["id"] for n in ("Also", "Decade")]
    body = native(seed_client.get(f"/api/v1/projects/{project['id']}/datasources", headers=headers), 200)
    assert_shape(body, LIST)
    assert list(body)[:4] == ["count", "next", "previous", "results"]
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    assert sorted(item["id"] for item in body["results"]) == sorted(ids)
    for item in body["results"]:
        check_item(item, project["id"])


def test_user_data_sources_page_to_the_end(seed_client, headers, project, make_account, token_for):
    other = native(seed_client.post("/api/v1/projects/", json={"title": "Two"}, headers=headers), 201)
    for n in range(3):
        assert create(seed_client, headers, project["id"], name=f"a{n}").status_code == 201
        assert create(seed_client, headers, other["id"], name=f"b{n}").status_code == 201
    stranger = token_for(make_account())
    assert (
        create(seed_client, stranger, project["id"], name="not theirs").status_code == 400
    )  # no such project
    body = native(seed_client.get("/api/v1/datasources", headers=headers), 200)
    assert_shape(body, LIST)
    assert body["count"] == 6
    url, seen = "/api/v1/datasources?limit=4", []
    while url:
        page = native(seed_client.get(url, headers=headers), 200)
        assert page["count"] == 6
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 6
    assert native(seed_client.get("/api/v1/datasources", headers=stranger), 200)["count"] == 0


def test_update(seed_client, headers, source):
    data = {
        "name": "Also entire machine lay.",
        "type": "file",
        "file": (io.BytesIO(CSV + b"Dee,45,\n"), "file.csv"),
    }
    path = f"/api/v1/datasources/{source['id']}"
    body = native(seed_client.put(path, data=data, headers=headers, content_type="multipart/form-data"), 200)
    check_item(body, source["project"], rows=4)
    assert body["name"] == "Also entire machine lay." and body["id"] == source["id"]


def upload_script(seed_client, headers, source_id, name="clean.py", body=SCRIPT):
    return seed_client.post(
        f"/api/v1/datasources/{source_id}/script-upload",
        data={"script": (io.BytesIO(body), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_script_upload(seed_client, headers, source):
    response = upload_script(seed_client, headers, source["id"])
    assert native(response, 201)["key"] == "upload:clean"


def test_scripts_are_a_bare_array_of_every_script(seed_client, headers, source):
    for n in range(10):  # with the built-ins more than one default page: the array still holds them all
        assert upload_script(seed_client, headers, source["id"], name=f"s{n}.py").status_code == 201
    response = seed_client.get(f"/api/v1/datasources/{source['id']}/script", headers=headers)
    body = native(response, 200)
    assert_shape(body, SCRIPTS)
    keys = [script["key"] for script in body]
    assert len(keys) == len(set(keys)) >= 14 and {f"upload:s{n}" for n in range(10)} <= set(keys)
    assert all(script["body"] for script in body)
    assert "Link" not in response.headers  # nothing left over


def test_job(seed_client, headers, source, run_jobs):
    assert upload_script(seed_client, headers, source["id"]).status_code == 201
    steps = {
        "steps": [{"key": "upload:clean", "exec_order": 2}, {"key": "builtin:fill_nulls", "exec_order": 1}]
    }
    response = seed_client.post(f"/api/v1/datasources/{source['id']}/job", json=steps, headers=headers)
    body = native(response, 201)
    assert response.headers["Location"] == f"{HOST}/api/v1/datasources/{source['id']}/jobs/{body['id']}"
    assert [step["key"] for step in body["steps"]] == ["builtin:fill_nulls", "upload:clean"]  # exec_order
    run_jobs()
    job = native(seed_client.get(response.headers["Location"], headers=headers), 200)
    assert job["status"] == "finished", job


@pytest.mark.parametrize("key", ["scripts/clean.py", "/srv/clean.py", "clean.py"])
def test_job_step_key_that_is_a_path_names_the_accepted_forms(seed_client, headers, source, unchanged, key):
    with unchanged():
        response = seed_client.post(
            f"/api/v1/datasources/{source['id']}/job",
            json={"steps": [{"key": key, "exec_order": 1}]},
            headers=headers,
        )
    message = problem(response, 400, "BODY_DID_NOT_VALIDATE")["errors"]["steps"]["0"]["key"][0]
    assert "builtin:<name>" in message and "upload:<name>" in message


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/projects/{p}/datasources"),
        ("GET", "/api/v1/datasources"),
        ("POST", "/api/v1/datasources"),
        ("PUT", "/api/v1/datasources/{s}"),
        ("GET", "/api/v1/datasources/{s}/script"),
        ("POST", "/api/v1/datasources/{s}/script-upload"),
        ("POST", "/api/v1/datasources/{s}/job"),
    ],
)
def test_authorization_protected(seed_client, source, unchanged, method, path):
    with unchanged():
        response = seed_client.open(path.format(p=source["project"], s=source["id"]), method=method, json={})
    problem(response, 401, "COULD_NOT_FIND_AUTH_TOKEN")
