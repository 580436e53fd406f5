"""The routes the input tests drive, generated from the app itself, and a world to drive them in.

``ROUTES`` is read from the URL map and the OpenAPI metadata of an app built at collection time, so a new
collection or a new route that takes a body is covered by tests/test_input_limits.py and
tests/test_properties.py without editing them. ``build_world`` makes one thing of every kind through the
API (as an ADMIN) and returns the value of every path variable those routes use; a route with a variable
it does not know fails loudly, naming the variable to add here.
"""

import io
import tempfile
from dataclasses import dataclass

from marshmallow import Schema, fields
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.openapi.registry import metadata

BODY_METHODS = ("POST", "PUT", "PATCH")
PROBLEM = "application/problem+json"
# The world's catalogue item: its column names and types (the property tests draw from these words).
WORDS = ["i", "INTEGER", "f", "FLOAT", "t", "DATETIME", "s", "STRING", "b", "BOOLEAN"]


@dataclass(frozen=True)
class Route:
    method: str
    endpoint: str
    rule: str
    collection: object = None  # app.hal Collection of a GET list
    schema: object = None  # marshmallow Schema of the body, when declared
    content_type: str = "application/json"

    @property
    def id(self):
        return f"{self.method} {self.rule}"

    @property
    def multipart(self):
        return self.content_type == "multipart/form-data"


def _routes():
    with tempfile.TemporaryDirectory() as tmp:
        config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp}/routes.sqlite3", "SECRET_KEY": "x"}
        app = create_app(config, instance_path=tmp, migrations=False)
        out = []
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            view = app.view_functions.get(rule.endpoint)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                meta = metadata(view, method)
                if method == "GET" and meta.get("collection") is not None:
                    out.append(Route(method, rule.endpoint, rule.rule, collection=meta["collection"]))
                elif method in BODY_METHODS and not ("request" in meta and meta["request"] is None):
                    schema = meta.get("request")
                    schema = schema() if isinstance(schema, type) else schema
                    out.append(
                        Route(
                            method,
                            rule.endpoint,
                            rule.rule,
                            schema=schema,
                            content_type=meta.get("content_type", "application/json"),
                        )
                    )
        return out


ROUTES = _routes()
COLLECTIONS = [r for r in ROUTES if r.collection is not None]
BODY_ROUTES = [r for r in ROUTES if r.method in BODY_METHODS]
JSON_ROUTES = [r for r in BODY_ROUTES if not r.multipart]


def integer_fields(schema, prefix=()):
    """``(path, field)`` of every Integer field of ``schema``, through Nested and List(Nested); a path step
    ``0`` is a list index."""
    out = []
    for name, fld in schema.fields.items():
        key = prefix + (fld.data_key or name,)
        inner, steps = fld, key
        if isinstance(inner, fields.List):
            inner, steps = inner.inner, key + (0,)
        if isinstance(inner, fields.Nested) and isinstance(inner.schema, Schema):
            out += integer_fields(inner.schema, steps)
        elif isinstance(inner, fields.Integer):
            out.append((steps, inner))
    return out


def body_at(path, value):
    """The smallest JSON body holding ``value`` at ``path`` (``("members", 0, "account")``)."""
    for step in reversed(path):
        value = [value] if step == 0 else {step: value}
    return value


def error_at(errors, path):
    """The messages ``errors`` (marshmallow's shape, keys made strings by JSON) holds for ``path``."""
    for step in path:
        if not isinstance(errors, dict) or str(step) not in errors:
            return None
        errors = errors[str(step)]
    return errors


def url_of(app, route, values):
    """The route's path with the world's values; names the variable the world lacks."""
    from flask import url_for

    missing = [name for name in _arguments(app, route) if name not in values]
    assert not missing, f"{route.id}: add a value for {missing} to tests/inputs_support.py build_world"
    with app.test_request_context():
        return url_for(route.endpoint, **{name: values[name] for name in _arguments(app, route)})


def _arguments(app, route):
    rule = next(r for r in app.url_map.iter_rules(route.endpoint) if r.rule == route.rule)
    return sorted(rule.arguments)


def snapshot(app):
    """Row counts of every table and the files in storage: equal before and after a refused request."""
    import os

    rows = {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}
    root = app.config["HALYARD_STORAGE_ROOT"]
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names)
    db.session.rollback()  # end the read transaction: the next request's writes are seen
    return rows, files


def problem(response, status, event=None):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and (event is None or body["@event"] == event), body
    return body


def _created(response):
    assert response.status_code in (200, 201, 202), (response.status_code, response.get_json())
    return response.get_json()


def build_world(client, make_account, token_for):
    """One of every thing, made through the API by an ADMIN: ``(headers, {path variable: value})``."""
    admin = token_for(make_account(type="ADMIN"))
    other = make_account()
    post = lambda path, **kw: _created(client.post(path, headers=admin, **kw))  # noqa: E731
    space = post("/datamanager/", json={"title": "Space"})
    uploaded = client.post(
        space["_links"]["ec:assets"]["href"],
        headers=admin,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(b"hello\n"), "a.txt", "text/plain")},
    )
    asset = _created(client.get(uploaded.headers["Location"], headers=admin))
    post(space["_links"]["ec:datamanager/members"]["href"], json={"accountID": other.id, "rights": []})
    group = post("/api/v1/group/", json={"name": "Lab"})
    action = post(
        "/api/v1/actions/",
        json={
            "type": "sample",
            "name": "A",
            "schema": {
                "title": "O",
                "type": "object",
                "properties": {"name": {"title": "Name", "type": "text"}},
                "required": ["name"],
            },
        },
    )
    obj = post(
        "/api/v1/objects/",
        json={"action_id": action["action_id"], "data": {"name": {"_type": "text", "text": "x"}}},
    )
    project = post("/api/v1/projects/", json={"title": "P"})
    source = post(
        "/api/v1/datasources",
        content_type="multipart/form-data",
        data={
            "name": "s",
            "project": str(project["id"]),
            "type": "file",
            "file": (io.BytesIO(b"a,b\n1,2\n"), "d.csv"),
        },
    )
    schedule = post(
        "/api/v1/schedule/", json={"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours"}
    )
    item = post(
        "/catalogue/items/",
        json={
            "name": "item",
            "executor_type": "DATABRICKS",
            "spec": [
                {"name": name, "type": kind, "is_nullable": name == "s", "size": None, "distribution": None}
                for name, kind in zip(WORDS[::2], WORDS[1::2], strict=False)
            ],
        },
    )
    values = {
        "dm_id": space["dataManagerID"],
        "asset_id": asset["assetID"],
        "account_id": other.id,
        "user_id": other.id,
        "group_id": group["id"],
        "action_id": action["action_id"],
        "object_id": obj["object_id"],
        "project_id": project["id"],
        "source_id": source["id"],
        "schedule_id": schedule["id"],
        "item_id": item["id"],
    }
    return admin, values
