"""/api/v1/actions/: create with a checked schema, read visible ones, replace as ADMIN or creator."""

from app.extensions import db
from app.resources.objects.models import Action
from tests.resources.objects.conftest import SCHEMA

FORMS = {"Accept": "application/prs.hal-forms+json"}


def test_create_and_read_an_action(client, user_headers, make_action):
    action = make_action(user_headers, description="Make a sample")
    assert action["type"] == "sample" and action["schema"] == SCHEMA and action["is_hidden"] is False
    got = client.get(action["_links"]["self"]["href"], headers=user_headers)
    assert got.status_code == 200 and got.json["description"] == "Make a sample"
    assert got.json["_links"]["ec:user"]["href"].endswith(f"/api/v1/user/{action['user_id']}/")
    assert got.json["_links"]["ec:objects"]["href"].endswith(
        f"/api/v1/objects/?action_id={action['action_id']}"
    )


def test_bad_schema_is_400_naming_every_path_and_writes_nothing(client, user_headers):
    schema = {
        "title": "x",
        "type": "object",
        "properties": {
            "name": {"title": "n", "type": "text"},
            "m": {"title": "m", "type": "quantity", "units": "zorks"},
            "t": {"type": "text"},
        },
        "required": ["m"],
    }
    response = client.post(
        "/api/v1/actions/", json={"type": "sample", "name": "bad", "schema": schema}, headers=user_headers
    )
    assert response.status_code == 400
    assert response.json["@event"] == "BODY_DID_NOT_VALIDATE"
    errors = response.json["errors"]["schema"]
    assert "unknown units 'zorks' (at schema -> properties -> m -> units)" in errors
    assert "missing keyword 'title' (at schema -> properties -> t)" in errors
    assert "the property 'name' must be required (at schema -> required)" in errors
    assert db.session.query(Action).count() == 0


def test_bad_fields_are_400_with_the_field_named(client, user_headers):
    for body, field in [
        ({"type": "gadget", "name": "x", "schema": SCHEMA}, "type"),
        ({"type": "sample", "name": "x", "schema": SCHEMA, "colour": 1}, "colour"),
        ({"type": "sample", "name": "x", "schema": SCHEMA, "is_hidden": "yes"}, "is_hidden"),
        ({"type": "sample", "name": "x", "schema": SCHEMA, "is_hidden": 1}, "is_hidden"),
        ({"type": "sample", "schema": SCHEMA}, "name"),
    ]:
        response = client.post("/api/v1/actions/", json=body, headers=user_headers)
        assert response.status_code == 400 and field in response.json["errors"], response.json
    assert db.session.query(Action).count() == 0


def test_hidden_actions_are_seen_by_creator_and_admin_only(
    client, make_account, token_for, make_action, admin_headers
):
    creator, other = token_for(make_account()), token_for(make_account())
    hidden = make_action(creator, name="secret", is_hidden=True)
    visible = make_action(creator, name="open")
    for headers, expected in ((creator, 2), (admin_headers, 2), (other, 1)):
        listing = client.get("/api/v1/actions/", headers=headers).json
        assert listing["total"] == expected == len(listing["_embedded"]["ec:action"])
    assert client.get(f"/api/v1/actions/{hidden['action_id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/actions/?action_id={hidden['action_id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/actions/{visible['action_id']}", headers=other).status_code == 200
    response = client.post(
        "/api/v1/objects/", json={"action_id": hidden["action_id"], "data": {}}, headers=other
    )
    assert response.status_code == 400 and "action_id" in response.json["errors"]


def test_action_list_grammar(client, user_headers, make_action):
    make_action(user_headers, name="beta", type="measurement")
    make_action(user_headers, name="alpha")
    listing = client.get(
        "/api/v1/actions/?sort=name&type=sample,measurement&name~=A", headers=user_headers
    ).json
    assert [a["name"] for a in listing["_embedded"]["ec:action"]] == ["alpha", "beta"]
    assert client.get("/api/v1/actions/?type=measurement", headers=user_headers).json["total"] == 1
    bad = client.get("/api/v1/actions/?colour=red", headers=user_headers)
    assert bad.status_code == 400 and "colour" in bad.json["errors"]


def test_put_is_for_creator_and_admin_with_if_match(
    client, make_account, token_for, make_action, admin_headers
):
    creator, other = token_for(make_account()), token_for(make_account())
    action = make_action(creator)
    href = action["_links"]["self"]["href"]
    assert "_templates" not in client.get(href, headers={**other, **FORMS}).json
    assert client.get(href, headers={**creator, **FORMS}).json["_templates"]["default"]["method"] == "PUT"
    body = {"type": "custom", "name": "Renamed", "schema": SCHEMA}
    assert client.put(href, json=body, headers=other).status_code == 403
    etag = client.get(href, headers=creator).headers["ETag"]
    assert client.put(href, json=body, headers={**creator, "If-Match": '"stale"'}).status_code == 412
    response = client.put(href, json=body, headers={**creator, "If-Match": etag})
    assert (
        response.status_code == 200
        and response.json["name"] == "Renamed"
        and response.json["type"] == "custom"
    )
    assert (
        client.put(href, json={**body, "name": "By admin"}, headers=admin_headers).json["name"] == "By admin"
    )
    bad = client.put(href, json={**body, "schema": {"type": "object"}}, headers=admin_headers)
    assert bad.status_code == 400 and "schema" in bad.json["errors"]
    assert db.session.get(Action, action["action_id"]).name == "By admin"


def test_collection_offers_create_template(client, user_headers):
    doc = client.get("/api/v1/actions/", headers={**user_headers, **FORMS}).json
    names = [p["name"] for p in doc["_templates"]["default"]["properties"]]
    assert doc["_templates"]["default"]["method"] == "POST" and {"type", "name", "schema"} <= set(names)
    type_prop = next(p for p in doc["_templates"]["default"]["properties"] if p["name"] == "type")
    assert type_prop["options"]["inline"] == ["sample", "measurement", "simulation", "custom"]
