"""/openapi.json describes both representations of a seed path: application/json is the seed-native body
(its envelope, its items without HAL members), application/hal+json the HAL graph. Each answer of seeds 002
and 003 is validated against the schema of the media type it came in, for both kinds of client."""

import io

import pytest
from jsonschema import Draft202012Validator, FormatChecker

HAL = "application/hal+json"


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def conforms(spec, response, path, method="get"):
    op = spec["paths"][path][method]
    status = str(response.status_code)
    assert status in op["responses"], (path, status)
    content = op["responses"][status]["content"]
    assert response.mimetype in content, (path, status, response.mimetype)
    schema = {"components": spec["components"], **content[response.mimetype]["schema"]}
    errors = sorted(
        Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(response.get_json()), key=str
    )
    assert not errors, (
        path,
        response.mimetype,
        [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]],
    )


def test_seed_paths_document_both_media_types(spec):
    for path, kind in [
        ("/api/v1/schedule/", "object"),
        ("/api/v1/datasources/{source_id}/script", "array"),
        ("/api/v1/user/", "object"),
    ]:
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        assert {HAL, "application/json", "application/prs.hal-forms+json"} <= set(content)
        native = content["application/json"]["schema"]["anyOf"][0]
        assert native["type"] == kind and native != content[HAL]["schema"]["anyOf"][0]
    hal_only = spec["paths"]["/datamanager/"]["get"]["responses"]["200"]["content"]
    assert hal_only["application/json"] == hal_only[HAL]  # seed 004: HAL for every Accept


@pytest.mark.parametrize("accept", [None, HAL])
def test_seed_002_and_003_answers_match_the_description(seed_client, spec, admin_headers, accept, run_jobs):
    headers = dict(admin_headers, **({"Accept": accept} if accept else {}))
    expected = accept or "application/json"

    def check(response, path, method="get"):
        assert response.mimetype == expected
        conforms(spec, response, path, method)
        return response.get_json()

    project = check(
        seed_client.post("/api/v1/projects/", json={"title": "p"}, headers=headers),
        "/api/v1/projects/",
        "post",
    )
    data = {
        "name": "s",
        "project": str(project["id"]),
        "type": "file",
        "file": (io.BytesIO(b"a,b\n1,2\n"), "f.csv"),
    }
    created = seed_client.post(
        "/api/v1/datasources", data=data, headers=headers, content_type="multipart/form-data"
    )
    source = check(created, "/api/v1/datasources", "post")
    sid = source["id"]
    check(seed_client.get("/api/v1/datasources", headers=headers), "/api/v1/datasources")
    check(
        seed_client.get(f"/api/v1/projects/{project['id']}/datasources", headers=headers),
        "/api/v1/projects/{project_id}/datasources",
    )
    check(seed_client.get("/api/v1/projects/", headers=headers), "/api/v1/projects/")
    check(seed_client.get(f"/api/v1/datasources/{sid}", headers=headers), "/api/v1/datasources/{source_id}")
    check(
        seed_client.get(f"/api/v1/datasources/{sid}/script", headers=headers),
        "/api/v1/datasources/{source_id}/script",
    )
    steps = {"steps": [{"key": "builtin:fill_nulls", "exec_order": 1}]}
    check(
        seed_client.post(f"/api/v1/datasources/{sid}/job", json=steps, headers=headers),
        "/api/v1/datasources/{source_id}/job",
        "post",
    )
    run_jobs()
    check(
        seed_client.get(f"/api/v1/datasources/{sid}/jobs", headers=headers),
        "/api/v1/datasources/{source_id}/jobs",
    )

    body = {"endpoint": "http://127.0.0.1:9/x", "inteval_definition": "1 hours"}
    schedule = check(
        seed_client.post("/api/v1/schedule/", json=body, headers=headers), "/api/v1/schedule/", "post"
    )
    check(seed_client.get("/api/v1/schedule/?limit=1", headers=headers), "/api/v1/schedule/")
    one = f"/api/v1/schedule/{schedule['id']}/"
    check(seed_client.get(one, headers=headers), "/api/v1/schedule/{schedule_id}/")
    check(
        seed_client.put(one, json={"enabled": False}, headers=headers),
        "/api/v1/schedule/{schedule_id}/",
        "put",
    )
    check(seed_client.get("/api/v1/user/", headers=headers), "/api/v1/user/")
    check(seed_client.get("/api/v1/user/1/", headers=headers), "/api/v1/user/{user_id}/")
    check(
        seed_client.post("/api/v1/group/", json={"name": "Admins"}, headers=headers), "/api/v1/group/", "post"
    )
    check(seed_client.get("/api/v1/group/", headers=headers), "/api/v1/group/")
    check(seed_client.get("/api/v1/group/1/", headers=headers), "/api/v1/group/{group_id}/")
    check(seed_client.get("/api/v1/failed-tasks/", headers=headers), "/api/v1/failed-tasks/")
    check(seed_client.get("/api/metrics/", headers=headers), "/api/metrics/")
    check(seed_client.post("/api/metrics/", headers=headers), "/api/metrics/", "post")
    token = seed_client.post("/api/v1/user/token/", json={"email": "bob@example.org"}, headers=headers)
    check(token, "/api/v1/user/token/", "post")
