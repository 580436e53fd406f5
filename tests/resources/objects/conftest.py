"""Helpers of the objects domain tests: actions, objects and the seven roles of the permission matrix."""

import pytest

from app.extensions import db
from app.resources.accounts.models import Group
from app.resources.objects.models import GRANT, READ, WRITE, GroupPermission, UserPermission

SCHEMA = {
    "title": "Object Information",
    "type": "object",
    "properties": {
        "name": {"title": "Object Name", "type": "text"},
        "mass": {"title": "Mass", "type": "quantity", "units": "g"},
    },
    "required": ["name"],
}


def data(name="Example Object", **extra):
    return {"name": {"_type": "text", "text": name}, **extra}


@pytest.fixture
def make_action(client):
    """``make_action(headers, **fields)`` → the created action's JSON (through the API)."""

    def make(headers, **fields):
        body = {"type": "sample", "name": "Sample creation", "schema": SCHEMA, **fields}
        response = client.post("/api/v1/actions/", json=body, headers=headers)
        assert response.status_code == 201, response.json
        return response.json

    return make


@pytest.fixture
def make_object(client):
    """``make_object(headers, action_id, name=...)`` → version 0's JSON (through the API)."""

    def make(headers, action_id, name="Example Object", **extra):
        response = client.post(
            "/api/v1/objects/", json={"action_id": action_id, "data": data(name, **extra)}, headers=headers
        )
        assert response.status_code == 201, response.json
        return response.json

    return make


class Roles:
    """An object owned by ``owner`` and one account per role of the permission matrix."""

    def __init__(self, make_account, token_for, make_action, make_object):
        accounts = {
            role: make_account()
            for role in ("owner", "reader", "writer", "granter", "member", "stranger", "public")
        }
        self.accounts = accounts
        self.headers = {role: token_for(account) for role, account in accounts.items()}
        self.headers["admin"] = token_for(make_account(type="ADMIN"))
        self.action = make_action(self.headers["owner"])
        self.version = make_object(self.headers["owner"], self.action["action_id"], name="Matrix object")
        self.object_id = self.version["object_id"]
        group = Group(name="readers")
        group.members.append(accounts["member"])
        db.session.add(group)
        db.session.flush()
        self.group_id = group.id
        for role, level in (("reader", READ), ("writer", WRITE), ("granter", GRANT)):
            db.session.add(UserPermission(object_id=self.object_id, user_id=accounts[role].id, level=level))
        db.session.add(GroupPermission(object_id=self.object_id, group_id=group.id, level=READ))
        db.session.commit()
        # "public" is a role whose only access comes from the public flag on a second object
        self.public_version = make_object(
            self.headers["owner"], self.action["action_id"], name="Public object"
        )
        from app.resources.objects.models import ObjectRecord

        db.session.get(ObjectRecord, self.public_version["object_id"]).public_level = READ
        db.session.commit()


@pytest.fixture
def roles(make_account, token_for, make_action, make_object):
    return Roles(make_account, token_for, make_action, make_object)
