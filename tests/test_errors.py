"""Every failure path renders problem+json with the right status and @event (DESIGN.md §5)."""

import json
import logging

import pytest
from flask import Blueprint, request
from marshmallow import Schema, fields

from app.hal import Document
from app.representation import check_preconditions, load_body, respond, url

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.fresh_app  # tclient registers a test blueprint


class ThingSchema(Schema):
    name = fields.String(required=True)


thing = {"name": "first"}


def make_test_blueprint():
    bp = Blueprint("t", __name__)

    def represent():
        return Document(dict(thing), self_href=url("t.item"))

    @bp.get("/_t/boom")
    def boom():
        raise RuntimeError("secret detail: password=hunter2")

    @bp.route("/_t/item", methods=["GET", "PUT"])
    def item():
        if request.method == "PUT":
            check_preconditions(represent())
            thing.update(load_body(ThingSchema()))
        return respond(represent())

    @bp.post("/_t/upload")
    def upload():
        return {"size": len(request.files["file"].read())}

    return bp


@pytest.fixture
def config_overrides():
    return {"HALYARD_MAX_UPLOAD_BYTES": 1024}


@pytest.fixture
def tclient(app):
    app.register_blueprint(make_test_blueprint())
    thing.update(name="first")
    return app.test_client()


def assert_problem(response, status, event):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["@event"] == event
    assert body["@type"] == "error"
    assert body["title"] and body["detail"]
    assert body["type"].startswith("http://localhost/problems/")
    assert body["_links"]["describedby"]["href"] == body["type"]
    assert body["user_id"] == "anonymous" or isinstance(body["user_id"], int)
    return body


def test_unknown_path_is_404(client):
    assert_problem(client.get("/no/such/path"), 404, "COULD_NOT_FIND_RESOURCE")


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_unacceptable_media_type_is_406(client):
    body = assert_problem(client.get("/", headers={"Accept": "application/xml"}), 406, "NOT_ACCEPTABLE")
    assert "application/hal+json" in body["detail"]


def test_too_large_body_is_413(tclient):
    response = tclient.post("/_t/upload", data={"file": (__import__("io").BytesIO(b"x" * 4096), "a.bin")})
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_wrong_content_type_is_415_and_nothing_changes(tclient):
    response = tclient.put("/_t/item", data="name=x", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert thing["name"] == "first"


def test_broken_json_is_400_body_json_did_not_parse(tclient):
    response = tclient.put("/_t/item", data="{nope", content_type="application/json")
    assert_problem(response, 400, "BODY_JSON_DID_NOT_PARSE")
    assert thing["name"] == "first"


def test_invalid_body_names_the_field(tclient):
    response = tclient.put("/_t/item", json={"name": "x", "colour": "red"})
    body = assert_problem(response, 400, "BODY_DID_NOT_VALIDATE")
    assert body["errors"] == {"colour": ["Unknown field."]}
    assert thing["name"] == "first"


def test_stale_if_match_is_412_and_nothing_changes(tclient):
    etag = tclient.get("/_t/item").headers["ETag"]
    assert tclient.put("/_t/item", json={"name": "second"}, headers={"If-Match": etag}).status_code == 200
    response = tclient.put("/_t/item", json={"name": "third"}, headers={"If-Match": etag})
    assert_problem(response, 412, "PRECONDITION_FAILED")
    assert thing["name"] == "second"


@pytest.mark.parametrize("config_overrides", [{"HALYARD_REQUIRE_IF_MATCH": True}])
def test_if_match_required_is_428(tclient):
    assert_problem(tclient.put("/_t/item", json={"name": "x"}), 428, "PRECONDITION_REQUIRED")
    etag = tclient.get("/_t/item").headers["ETag"]
    assert tclient.put("/_t/item", json={"name": "x"}, headers={"If-Match": etag}).status_code == 200


def test_conditional_get_304(tclient):
    first = tclient.get("/_t/item")
    assert first.headers["ETag"].startswith('"')
    again = tclient.get("/_t/item", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    forms = tclient.get("/_t/item", headers={"Accept": "application/prs.hal-forms+json"})
    assert forms.headers["ETag"] != first.headers["ETag"]  # a strong ETag per representation


def test_unhandled_exception_is_500_without_its_text(tclient, caplog):
    with caplog.at_level(logging.ERROR, logger="halyard"):
        response = tclient.get("/_t/boom", headers={"X-Request-ID": "req-42"})
    body = assert_problem(response, 500, "GENERIC_ERROR_OCCURRED")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert "req-42" in body["detail"] and response.headers["X-Request-ID"] == "req-42"
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "halyard"]
    assert logged and logged[-1]["request_id"] == "req-42"
    assert logged[-1]["exception"] == "RuntimeError" and logged[-1]["frames"]
    assert "hunter2" not in caplog.text


def test_request_id_round_trips_and_bad_ones_are_replaced(client):
    assert client.get("/", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = client.get("/", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert generated != "bad id <script>" and len(generated) == 32
    assert client.get("/nope").headers["X-Request-ID"]


def test_401_carries_challenge_and_event(client):
    response = client.get("/jobs/")
    assert_problem(response, 401, "COULD_NOT_FIND_AUTH_TOKEN")
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert "Basic" in response.headers["WWW-Authenticate"]


def test_problem_type_is_documented(client):
    body = client.get("/nope").get_json(force=True)
    doc = client.get(body["type"]).get_json()
    assert doc["event"] == "COULD_NOT_FIND_RESOURCE" and doc["statuses"] == [404]
    assert doc["_links"]["self"]["href"] == body["type"]


def test_head_error_has_no_body(client):
    response = client.head("/nope")
    assert response.status_code == 404 and response.data == b""
