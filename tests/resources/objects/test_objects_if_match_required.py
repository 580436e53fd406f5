"""With HALYARD_REQUIRE_IF_MATCH on, writes to existing resources need If-Match (428 without it)."""

import pytest

from app.extensions import db
from app.resources.objects.models import ObjectVersion
from tests.resources.objects.conftest import data


@pytest.fixture
def config_overrides():
    return {"HALYARD_REQUIRE_IF_MATCH": True}


def test_new_versions_and_permission_writes_need_if_match(client, user_headers, make_action, make_object):
    oid = make_object(user_headers, make_action(user_headers)["action_id"])["object_id"]
    url = f"/api/v1/objects/{oid}/versions/"
    missing = client.post(url, json={"data": data("x")}, headers=user_headers)
    assert missing.status_code == 428 and missing.json["@event"] == "PRECONDITION_REQUIRED"
    public = f"/api/v1/objects/{oid}/permissions/public"
    assert client.put(public, json=True, headers=user_headers).status_code == 428
    assert db.session.query(ObjectVersion).count() == 1
    etag = client.get(f"{url}0", headers=user_headers).headers["ETag"]
    assert (
        client.post(url, json={"data": data("x")}, headers={**user_headers, "If-Match": etag}).status_code
        == 201
    )
    etag = client.get(public, headers=user_headers).headers["ETag"]
    assert client.put(public, json=True, headers={**user_headers, "If-Match": etag}).status_code == 200
