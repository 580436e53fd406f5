"""A JSON body with U+0000 anywhere is a 400 naming the field — PostgreSQL text and jsonb cannot store it,
so it used to be a 500 at the query (schemathesis found ``POST /api/v1/group/ {"name": "…\\u0000…"}``)."""

import pytest

from app.extensions import db
from app.resources.accounts.models import Group


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/group/", {"name": "lab\u0000"}, "name"),
        ("/datamanager/", {"title": "ok", "description": "a\u0000b"}, "description"),
        ("/api/v1/actions/", {"type": "sample", "name": "n", "schema": {"title": "t\u0000"}}, "schema.title"),
        ("/api/v1/group/", {"name\u0000": "lab"}, "name\u0000"),
    ],
)
def test_nul_in_a_json_body_is_a_400_naming_the_field_and_writes_nothing(
    client, admin_headers, unchanged, path, body, field
):
    with unchanged():
        response = client.post(path, json=body, headers=admin_headers)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert response.json["@event"] == "BODY_DID_NOT_VALIDATE" and field in response.json["errors"]


def test_bodies_without_nul_are_untouched(client, admin_headers):
    response = client.post("/api/v1/group/", json={"name": "lab \u00e9\u2603"}, headers=admin_headers)
    assert response.status_code == 201 and db.session.query(Group).one().name == "lab \u00e9\u2603"
