"""Fixtures of the datasources tests: accounts with tokens, projects, CSV uploads."""

import io

import pytest

from app.extensions import db
from app.resources.datasources.models import Project, ProjectMember


class Actor:
    def __init__(self, account, headers):
        self.account, self.headers, self.id = account, headers, account.id


@pytest.fixture
def actor(make_account, token_for):
    def make(**overrides):
        account = make_account(**overrides)
        return Actor(account, token_for(account))

    return make


@pytest.fixture
def team(actor):
    """owner, editor, viewer, outsider, admin and a project owned by owner with the two members."""
    owner, editor, viewer, outsider, admin = actor(), actor(), actor(), actor(), actor(type="ADMIN")
    project = Project(
        title="Shared",
        description="",
        owner_id=owner.id,
        members=[
            ProjectMember(account_id=editor.id, role="editor"),
            ProjectMember(account_id=viewer.id, role="viewer"),
        ],
    )
    db.session.add(project)
    db.session.commit()

    class Team:
        pass

    t = Team()
    t.owner, t.editor, t.viewer, t.outsider, t.admin, t.project = (
        owner,
        editor,
        viewer,
        outsider,
        admin,
        project,
    )
    return t


@pytest.fixture
def upload(client):
    """``upload(headers, project_id, content, name=..., **fields)`` → the POST response."""

    def post(
        headers, project_id, content=b"a,b\n1,2\n", name="source", type="file", filename="data.csv", **fields
    ):
        data = {"name": name, "project": str(project_id), "type": type, **fields}
        if content is not None:
            data["file"] = (io.BytesIO(content), filename)
        return client.post(
            "/api/v1/datasources", data=data, headers=headers, content_type="multipart/form-data"
        )

    return post


@pytest.fixture
def source(team, upload):
    """The team owner's ready source "people" (name, age, city; 4 rows, empty cells): the steps' input."""
    people = b"name,age,city\nAnn,31,Oslo\nBob,,Rome\nCy,27,Oslo\nDee,45,\n"
    r = upload(team.owner.headers, team.project.id, people, name="people")
    assert r.status_code == 201
    return r.get_json()


@pytest.fixture
def stored_files(app):
    """``stored_files()``: the names of the files under the storage root now (a set)."""
    import os

    def names():
        root = app.config["HALYARD_STORAGE_ROOT"]
        if not os.path.isdir(root):
            return set()
        return {name for _, _, names in os.walk(root) for name in names if not name.startswith(".")}

    return names
