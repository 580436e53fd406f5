"""Projects: CRUD, members, and the authorization matrix over every datasources path."""
import pytest

from app.extensions import db
from app.resources.datasources.models import Project


def test_entry_point_links(client, user_headers):
    links = client.get("/", headers=user_headers).get_json()["_links"]
    for rel in ("ec:projects", "ec:project/by-id", "ec:datasources", "ec:datasource/by-id",
                "ec:project/by-id/datasources"):
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
    assert doc["_links"]["ec:project/datasources"]["href"].endswith(f"/api/v1/projects/{doc['id']}/datasources")
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


@pytest.mark.parametrize("body, field", [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x", "members": [{"account": 999999, "role": "editor"}]}, "members"),
    ({"title": "x", "members": [{"account": 1, "role": "boss"}]}, "members"),
    ({"title": "x", "colour": "red"}, "colour"),
])
def test_bad_project_bodies_write_nothing(client, user_headers, body, field):
    before = db.session.scalar(db.select(db.func.count(Project.id)))
    r = client.post("/api/v1/projects/", json=body, headers=user_headers)
    assert r.status_code == 400 and field in r.get_json()["errors"]
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert db.session.scalar(db.select(db.func.count(Project.id))) == before


def test_members_cannot_change_project(client, team):
    for who in (team.editor, team.viewer):
        r = client.put(f"/api/v1/projects/{team.project.id}", json={"title": "x"}, headers=who.headers)
        assert r.status_code == 403
        assert client.delete(f"/api/v1/projects/{team.project.id}", headers=who.headers).status_code == 403
    assert client.put(f"/api/v1/projects/{team.project.id}", json={"title": "by admin"},
                      headers=team.admin.headers).status_code == 200


def test_templates_follow_role(client, team):
    forms = {"Accept": "application/prs.hal-forms+json"}
    owner = client.get(f"/api/v1/projects/{team.project.id}", headers={**team.owner.headers, **forms}).get_json()
    viewer = client.get(f"/api/v1/projects/{team.project.id}", headers={**team.viewer.headers, **forms}).get_json()
    editor = client.get(f"/api/v1/projects/{team.project.id}", headers={**team.editor.headers, **forms}).get_json()
    assert {"default", "delete", "create-datasource"} <= set(owner["_templates"])
    assert set(editor["_templates"]) == {"create-datasource"}
    assert "_templates" not in viewer


# Every path of the domain: (method, path template, needs a write role)
PATHS = [
    ("GET", "/api/v1/projects/{p}", False), ("PUT", "/api/v1/projects/{p}", True),
    ("DELETE", "/api/v1/projects/{p}", True), ("GET", "/api/v1/projects/{p}/datasources", False),
    ("GET", "/api/v1/datasources/{s}", False), ("PUT", "/api/v1/datasources/{s}", True),
    ("DELETE", "/api/v1/datasources/{s}", True), ("GET", "/api/v1/datasources/{s}/file", False),
    ("GET", "/api/v1/datasources/{s}/preview", False), ("GET", "/api/v1/datasources/{s}/table", False),
    ("GET", "/api/v1/datasources/{s}/script", False), ("GET", "/api/v1/datasources/{s}/script/builtin:fill_nulls", False),
    ("POST", "/api/v1/datasources/{s}/script-upload", True), ("POST", "/api/v1/datasources/{s}/job", True),
    ("GET", "/api/v1/datasources/{s}/jobs", False),
]
LISTS = ["/api/v1/projects/", "/api/v1/datasources", "/api/v1/projects/{p}/datasources"]


@pytest.fixture
def source_id(team, upload):
    r = upload(team.owner.headers, team.project.id, b"a,b\n1,2\n")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


@pytest.mark.parametrize("method, path, write", PATHS)
def test_authorization_matrix(client, team, source_id, method, path, write):
    target = path.format(p=team.project.id, s=source_id)
    assert client.open(target, method=method).status_code == 401
    r = client.open(target, method=method, headers=team.outsider.headers)
    assert r.status_code == 404 and r.get_json()["@event"].startswith("COULD_NOT_FIND_")
    viewer = client.open(target, method=method, headers=team.viewer.headers)
    if write:
        assert viewer.status_code == 403
    else:
        assert viewer.status_code == 200
    assert client.open(target, method="GET" if method == "GET" else "HEAD", headers=team.admin.headers).status_code \
        in (200, 405)


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
    for path in ("/api/v1/projects/987654", "/api/v1/datasources/987654", "/api/v1/datasources/987654/jobs/1"):
        r = client.get(path, headers=team.admin.headers)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")
