"""Projects: CRUD, members, and the authorization matrix over every datasources path."""

import io

import pytest

from app.extensions import db
from app.resources.datasources.models import DataSource, Project


def test_entry_point_links(client, user_headers):
    links = client.get("/", headers=user_headers).get_json()["_links"]
    for rel in (
        "ec:projects",
        "ec:project/by-id",
        "ec:datasources",
        "ec:datasource/by-id",
        "ec:project/by-id/datasources",
    ):
        assert rel in links, rel
    assert links["ec:project/by-id"]["templated"] is True
    assert links["ec:datasource/by-id"]["href"].endswith("/api/v1/datasources/{id}")
    for rel in ("projects", "datasource", "datasource-job", "datasource/scripts"):
        assert client.get(f"/rels/{rel}").status_code == 200


def test_create_read_update_delete_project(client, actor):
    owner, other = actor(), actor()
    body = {"title": "Survey", "description": "d", "members": [{"account": other.id, "role": "viewer"}]}
    r = client.post("/api/v1/projects/", json=body, headers=owner.headers)
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert r.headers["Location"] == doc["_links"]["self"]["href"]
    assert doc["owner"] == owner.id and doc["members"] == [{"account": other.id, "role": "viewer"}]
    assert doc["_links"]["ec:project/datasources"]["href"].endswith(
        f"/api/v1/projects/{doc['id']}/datasources"
    )
    seen = client.get(doc["_links"]["self"]["href"], headers=other.headers)
    assert seen.status_code == 200 and seen.get_json()["role"] == "viewer"
    put = client.put(f"/api/v1/projects/{doc['id']}", json={"title": "Renamed"}, headers=owner.headers)
    assert put.status_code == 200 and put.get_json()["title"] == "Renamed" and put.get_json()["members"] == []
    assert client.get(f"/api/v1/projects/{doc['id']}", headers=other.headers).status_code == 404
    assert client.delete(f"/api/v1/projects/{doc['id']}", headers=owner.headers).status_code == 204
    assert db.session.get(Project, doc["id"]) is None


def test_project_collection_grammar_and_visibility(client, team, actor):
    stranger = actor()
    client.post("/api/v1/projects/", json={"title": "Alpha"}, headers=stranger.headers)
    r = client.get("/api/v1/projects/?sort=title&title~=sha", headers=team.viewer.headers)
    doc = r.get_json()
    assert r.status_code == 200 and doc["total"] == 1
    assert [p["title"] for p in doc["_embedded"]["ec:project"]] == ["Shared"]
    assert "ec:projects/options" in doc["_links"]
    assert client.get("/api/v1/projects/", headers=team.admin.headers).get_json()["total"] == 2
    bad = client.get("/api/v1/projects/?colour=red", headers=team.viewer.headers)
    assert bad.status_code == 400 and "colour" in bad.get_json()["errors"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x", "members": [{"account": 999999, "role": "editor"}]}, "members"),
        ({"title": "x", "members": [{"account": 1, "role": "boss"}]}, "members"),
        ({"title": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_project_bodies_write_nothing(client, user_headers, unchanged, body, field):
    with unchanged():
        r = client.post("/api/v1/projects/", json=body, headers=user_headers)
    assert r.status_code == 400 and field in r.get_json()["errors"]
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_members_cannot_change_project(client, team, unchanged):
    for who in (team.editor, team.viewer):
        with unchanged():
            r = client.put(f"/api/v1/projects/{team.project.id}", json={"title": "x"}, headers=who.headers)
            assert r.status_code == 403
            assert (
                client.delete(f"/api/v1/projects/{team.project.id}", headers=who.headers).status_code == 403
            )
    assert (
        client.put(
            f"/api/v1/projects/{team.project.id}", json={"title": "by admin"}, headers=team.admin.headers
        ).status_code
        == 200
    )


def test_templates_follow_role(client, team):
    forms = {"Accept": "application/prs.hal-forms+json"}
    owner = client.get(
        f"/api/v1/projects/{team.project.id}", headers={**team.owner.headers, **forms}
    ).get_json()
    viewer = client.get(
        f"/api/v1/projects/{team.project.id}", headers={**team.viewer.headers, **forms}
    ).get_json()
    editor = client.get(
        f"/api/v1/projects/{team.project.id}", headers={**team.editor.headers, **forms}
    ).get_json()
    assert {"default", "delete", "create-datasource"} <= set(owner["_templates"])
    assert set(editor["_templates"]) == {"create-datasource"}
    assert "_templates" not in viewer


# Every path of the domain × every role: (method, path template, level needed, body for the allowed roles)
# Levels: "read" (viewer, editor, owner, admin), "edit" (editor, owner, admin), "own" (owner, admin).
SCRIPT = ("multipart", lambda: {"script": (io.BytesIO(b"def run(t):\n    return t\n"), "tidy.py")})
PATHS = [
    ("GET", "/api/v1/projects/{p}", "read", None),
    ("PUT", "/api/v1/projects/{p}", "own", {"title": "Renamed"}),
    ("DELETE", "/api/v1/projects/{p}", "own", None),
    ("GET", "/api/v1/projects/{p}/datasources", "read", None),
    ("GET", "/api/v1/datasources/{s}", "read", None),
    ("PUT", "/api/v1/datasources/{s}", "edit", {"name": "renamed", "type": "file"}),
    ("DELETE", "/api/v1/datasources/{s}", "edit", None),
    ("GET", "/api/v1/datasources/{s}/file", "read", None),
    ("GET", "/api/v1/datasources/{s}/preview", "read", None),
    ("GET", "/api/v1/datasources/{s}/table", "read", None),
    ("GET", "/api/v1/datasources/{s}/script", "read", None),
    ("GET", "/api/v1/datasources/{s}/script/builtin:fill_nulls", "read", None),
    ("POST", "/api/v1/datasources/{s}/script-upload", "edit", SCRIPT),
    (
        "POST",
        "/api/v1/datasources/{s}/job",
        "edit",
        {"steps": [{"key": "builtin:fill_nulls", "exec_order": 1}]},
    ),
    ("GET", "/api/v1/datasources/{s}/jobs", "read", None),
    ("GET", "/api/v1/datasources/{s}/jobs/{r}", "read", None),
    ("GET", "/api/v1/datasources/{s}/jobs/{r}/result", "read", None),
    ("GET", "/api/v1/datasources/{s}/jobs/{r}/preview", "read", None),
    ("GET", "/api/v1/datasources/{s}/jobs/{r}/table", "read", None),
]
ALLOWED = {
    "read": {"viewer", "editor", "owner", "admin"},
    "edit": {"editor", "owner", "admin"},
    "own": {"owner", "admin"},
}
ROLES = ["anonymous", "outsider", "viewer", "editor", "owner", "admin"]
LISTS = ["/api/v1/projects/", "/api/v1/datasources", "/api/v1/projects/{p}/datasources"]


@pytest.fixture
def source_id(team, upload):
    r = upload(team.owner.headers, team.project.id, b"a,b\n1,2\n")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


@pytest.fixture
def run_id(source_id, team):
    from tests.authz_world import finished_run

    run = finished_run(db.session.get(DataSource, source_id), team.owner.id)
    db.session.commit()
    return run.id


def send(client, method, target, body, headers):
    if isinstance(body, tuple):
        return client.open(
            target, method=method, headers=headers, data=body[1](), content_type="multipart/form-data"
        )
    return client.open(target, method=method, headers=headers, **({} if body is None else {"json": body}))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path, level, body", PATHS, ids=[f"{m} {p}" for m, p, _, _ in PATHS])
def test_authorization_matrix(client, team, source_id, run_id, unchanged, role, method, path, level, body):
    target = path.format(p=team.project.id, s=source_id, r=run_id)
    headers = {} if role == "anonymous" else getattr(team, role).headers
    if role in ALLOWED[level]:  # a real request that must succeed (a write really writes)
        r = send(client, method, target, body, headers)
        assert r.status_code < 300, (r.status_code, r.get_json(silent=True))
        return
    with unchanged():
        r = send(client, method, target, body, headers)
    expected = {"anonymous": 401, "outsider": 404}.get(role, 403)  # members may know it exists
    assert r.status_code == expected, r.get_json()
    if expected == 404:
        assert r.get_json()["@event"].startswith("COULD_NOT_FIND_")


@pytest.mark.parametrize("path", LISTS)
def test_lists_need_auth_and_hide_totals(client, team, source_id, actor, path):
    target = path.format(p=team.project.id)
    assert client.get(target).status_code == 401
    r = client.get(target, headers=team.outsider.headers)
    if "{p}" in path:
        assert r.status_code == 404
    else:
        assert r.status_code == 200 and r.get_json()["total"] == 0


def test_unknown_ids_are_404(client, team):
    for path in (
        "/api/v1/projects/987654",
        "/api/v1/datasources/987654",
        "/api/v1/datasources/987654/jobs/1",
    ):
        r = client.get(path, headers=team.admin.headers)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")
