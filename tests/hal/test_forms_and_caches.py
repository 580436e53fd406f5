"""Templates a generic client fills on its own, and what a write tells its cache (issue 19).

- the five POST-only links on ``/`` carry HAL-FORMS templates (each ``target`` the link), only in
  application/prs.hal-forms+json;
- fields that take another resource's id carry ``options.link`` to the collection to pick from, and
  a parent's id is prefilled on its own create template; ``multiple`` sits in ``options``;
- embedded list items carry their ``_templates`` in HAL-FORMS (only what the caller may do), never in
  plain HAL;
- a write answers ``Content-Location`` when its body is the new state of a resource, ``Link: <…>;
  rel="invalidates"`` for the lists and parents it changed, and a 204 has no Content-Type.
"""

import io
import re

import pytest

HAL = {"Accept": "application/hal+json"}
FORMS = {"Accept": "application/prs.hal-forms+json"}
SCHEMA = {
    "title": "Forms",
    "type": "object",
    "properties": {"name": {"title": "Name", "type": "text"}},
    "required": ["name"],
}
SPEC = [{"distribution": None, "is_nullable": True, "name": "product", "size": None, "type": "STRING"}]


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}  # schedules name 127.0.0.1 (never fired here)


def invalidated(response):
    """The paths a response names with rel="invalidates"."""
    links = ", ".join(response.headers.getlist("Link"))
    return {
        re.sub(r"^https?://[^/]+", "", href)
        for href, rel in re.findall(r'<([^>]+)>\s*;\s*rel="([^"]+)"', links)
        if rel == "invalidates"
    }


def path_of(href):
    return re.sub(r"^https?://[^/]+", "", href)


def props(template):
    return {p["name"]: p for p in template["properties"]}


# --- templates on / ------------------------------------------------------------------------------


POST_ONLY = (
    "ec:auth-requests",
    "ec:auth-tokens",
    "ec:user/token",
    "ec:download-requests/estimate",
    "ec:download-requests/render-ui-data",
)


def test_every_post_only_link_on_the_root_has_a_template_targeting_it(client):
    doc = client.get("/", headers=FORMS).json
    for rel in POST_ONLY:
        template = doc["_templates"][rel]
        assert template["method"] == "POST" and template["target"] == doc["_links"][rel]["href"], rel
        assert client.get(template["target"], headers=HAL).status_code == 405  # POST only, as before
    assert props(doc["_templates"]["ec:auth-tokens"])["request_uuid"]["required"]
    assert props(doc["_templates"]["ec:user/token"])["email"]["type"] == "email"
    estimate = props(doc["_templates"]["ec:download-requests/estimate"])
    assert estimate["catalogue_item_id"]["options"]["link"]["href"].endswith("/catalogue/items/?query=")
    assert "_templates" not in client.get("/", headers=HAL).json  # plain HAL stays as it was


def test_the_root_template_starts_a_sign_in_as_its_link_does(client):
    template = client.get("/", headers=FORMS).json["_templates"]["ec:auth-requests"]
    created = client.post(path_of(template["target"]), json={}, headers=HAL)
    assert created.status_code == 201 and created.json["@event"] == "AUTH_REQUEST_CREATED"


# --- options, prefilled parents, multiple ------------------------------------------------------


def test_id_fields_offer_the_collection_to_pick_from(client, admin_headers):
    headers = {**admin_headers, **FORMS}
    objects = client.get("/api/v1/objects/", headers=headers).json["_templates"]["default"]
    action_id = props(objects)["action_id"]
    assert action_id["type"] == "number"  # still sent as a number
    assert action_id["options"] == {
        "link": {"href": "http://localhost/api/v1/actions/", "type": "application/hal+json"},
        "promptField": "name",
        "valueField": "action_id",
    }
    listed = client.get(path_of(action_id["options"]["link"]["href"]), headers=headers)
    assert listed.status_code == 200 and "_embedded" in listed.json

    catalogue = props(client.get("/catalogue/items/?query=", headers=headers).json["_templates"]["default"])
    assert catalogue["maintained_by_id"]["options"]["link"]["href"].endswith("/api/v1/user/")
    assert catalogue["datasource_id"]["options"]["link"]["href"].endswith("/api/v1/datasources")
    downloads = props(client.get("/downloader/requests/", headers=headers).json["_templates"]["default"])
    assert downloads["catalogue_item_id"]["options"]["valueField"] == "id"
    space = client.post("/datamanager/", json={"title": "Space"}, headers=headers)
    members = client.get(path_of(space.headers["Location"]).rstrip("/") + "/members/", headers=headers).json
    account_id = props(members["_templates"]["default"])["accountID"]
    assert account_id["options"]["link"]["href"].endswith("/api/v1/user/")


def test_a_projects_own_create_datasource_template_names_the_project(client, admin_headers):
    headers = {**admin_headers, **FORMS}
    created = client.post("/api/v1/projects/", json={"title": "P"}, headers=headers)
    assert created.status_code == 201, created.json
    project = client.get(path_of(created.headers["Location"]), headers=headers).json
    field = props(project["_templates"]["create-datasource"])["project"]
    assert field["value"] == project["id"]
    assert field["options"]["link"]["href"].endswith("/api/v1/projects/")
    nested = client.get(path_of(project["_links"]["ec:project/datasources"]["href"]), headers=headers).json
    assert props(nested["_templates"]["default"])["project"]["value"] == project["id"]
    everyone = client.get("/api/v1/datasources", headers=headers).json
    assert "value" not in props(everyone["_templates"]["default"])["project"]  # no parent there


def test_multiple_is_in_options_and_secrets_are_password_fields(client, admin_headers, make_account):
    headers = {**admin_headers, **FORMS}
    space = client.post("/datamanager/", json={"title": "Space"}, headers=headers)
    grant = props(
        client.get(path_of(space.headers["Location"]).rstrip("/") + "/members/", headers=headers).json[
            "_templates"
        ]["default"]
    )["rights"]
    assert "multiple" not in grant and grant["options"]["multiple"] is True and grant["options"]["inline"]
    user = make_account()
    me = client.get(f"/api/v1/user/{user.id}/", headers=headers).json
    password = props(me["_templates"]["change-password"])
    assert all(p["type"] == "password" for name, p in password.items() if "password" in name)
    schedules = client.get("/api/v1/schedule/", headers=headers).json
    assert props(schedules["_templates"]["default"])["auth_token"]["type"] == "password"


def test_no_partial_edit_template_marks_a_field_required(client, admin_headers, make_account):
    headers = {**admin_headers, **FORMS}
    user = make_account()
    hook = {"endpoint": "http://127.0.0.1:9/x", "interval_definition": "1 hours"}
    schedule = client.post("/api/v1/schedule/", json=hook, headers=admin_headers).headers["Location"]
    space = path_of(
        client.post("/datamanager/", json={"title": "S"}, headers=admin_headers).headers["Location"]
    )
    assets = space.rstrip("/") + "/assets/"
    client.post(assets, data={"file": (io.BytesIO(b"a\n"), "a.txt")}, headers=admin_headers)
    asset = client.get(assets, headers=headers).json["_embedded"]["ec:asset"][0]["_links"]["self"]["href"]
    for path, method in ((f"/api/v1/user/{user.id}/", "PATCH"), (schedule, "PUT"), (asset, "PUT")):
        template = client.get(path_of(path), headers=headers).json["_templates"]["default"]
        assert template["method"] == method, path
        assert not [p["name"] for p in template["properties"] if p.get("required")], path


# --- embedded items carry their templates (HAL-FORMS only) --------------------------------------


def test_embedded_items_carry_their_templates_only_in_hal_forms(client, admin_headers, user_headers):
    for name in ("a", "b"):
        created = client.post(
            "/api/v1/actions/", json={"type": "sample", "name": name, "schema": SCHEMA}, headers=admin_headers
        )
        assert created.status_code == 201, created.json
        hook = {"endpoint": "http://127.0.0.1:9/x", "interval_definition": "1 hours"}
        assert client.post("/api/v1/schedule/", json=hook, headers=admin_headers).status_code == 201
    actions = client.get("/api/v1/actions/", headers={**admin_headers, **FORMS}).json["_embedded"][
        "ec:action"
    ]
    assert [a["_templates"]["default"]["method"] for a in actions] == ["PUT", "PUT"]
    assert props(actions[0]["_templates"]["default"])["name"]["value"] == actions[0]["name"]  # prefilled
    schedules = client.get("/api/v1/schedule/", headers={**admin_headers, **FORMS}).json
    assert all(s["_templates"]["delete"]["method"] == "DELETE" for s in schedules["_embedded"]["ec:schedule"])
    plain = client.get("/api/v1/actions/", headers={**admin_headers, **HAL}).json["_embedded"]["ec:action"]
    assert all("_templates" not in a for a in plain)
    # only what the caller may do: a researcher reads the admin's actions but may not replace them
    theirs = client.get("/api/v1/actions/", headers={**user_headers, **FORMS}).json["_embedded"]["ec:action"]
    assert theirs and all("_templates" not in a for a in theirs)


def test_callers_offered_different_item_templates_get_different_tags(client, make_account, token_for):
    owner, other = token_for(make_account()), token_for(make_account())
    body = {"type": "sample", "name": "mine", "schema": SCHEMA}
    assert client.post("/api/v1/actions/", json=body, headers=owner).status_code == 201
    pages = {
        who: client.get("/api/v1/actions/", headers={**h, **FORMS})
        for who, h in (("owner", owner), ("other", other))
    }
    assert pages["owner"].json["_templates"] == pages["other"].json["_templates"]  # the same create form
    assert "_templates" in pages["owner"].json["_embedded"]["ec:action"][0]
    assert "_templates" not in pages["other"].json["_embedded"]["ec:action"][0]
    assert pages["owner"].headers["ETag"] != pages["other"].headers["ETag"]
    crossed = client.get(
        "/api/v1/actions/", headers={**other, **FORMS, "If-None-Match": pages["owner"].headers["ETag"]}
    )
    assert crossed.status_code == 200  # never a 304 confirming another caller's item forms


def test_embedded_catalogue_items_carry_the_admins_templates(client, admin_headers, user_headers):
    body = {"name": "cars", "executor_type": "DATABRICKS", "spec": SPEC}
    assert client.post("/catalogue/items/", json=body, headers=admin_headers).status_code == 201
    (item,) = client.get("/catalogue/items/?query=", headers={**admin_headers, **FORMS}).json["_embedded"][
        "ec:catalogue-item"
    ]
    replace = props(item["_templates"]["default"])
    assert replace["spec"]["value"] == SPEC and replace["name"]["value"] == "cars"  # a full PUT starts full
    (seen,) = client.get("/catalogue/items/?query=", headers={**user_headers, **FORMS}).json["_embedded"][
        "ec:catalogue-item"
    ]
    assert "_templates" not in seen


# --- cache semantics of writes -----------------------------------------------------------------


def test_create_edit_and_delete_tell_the_cache_what_changed(client, admin_headers):
    headers = {**admin_headers, **HAL}
    hook = {"endpoint": "http://127.0.0.1:9/x", "interval_definition": "1 hours"}
    created = client.post("/api/v1/schedule/", json=hook, headers=headers)
    assert created.status_code == 201
    assert created.headers["Content-Location"] == created.headers["Location"]
    item = path_of(created.headers["Location"])
    etag = client.get(item, headers=headers).headers["ETag"]
    edited = client.put(item, json={"frequency": 3}, headers={**headers, "If-Match": etag})
    assert edited.status_code == 200 and path_of(edited.headers["Content-Location"]) == item
    assert invalidated(edited) == {"/api/v1/schedule/"}
    deleted = client.delete(item, headers=headers)
    assert deleted.status_code == 204
    assert "Content-Type" not in deleted.headers and deleted.data == b""
    assert invalidated(deleted) == {"/api/v1/schedule/"}
    refused = client.put(item, json={"frequency": 3}, headers=headers)
    assert refused.status_code == 404 and not invalidated(refused)


def test_a_new_version_invalidates_the_object_and_its_lists(client, admin_headers):
    headers = {**admin_headers, **HAL}
    action = client.post(
        "/api/v1/actions/", json={"type": "sample", "name": "a", "schema": SCHEMA}, headers=headers
    )
    data = {"name": {"_type": "text", "text": "v0"}}
    obj = client.post(
        "/api/v1/objects/", json={"action_id": action.json["action_id"], "data": data}, headers=headers
    )
    assert obj.status_code == 201 and obj.headers["Content-Location"] == obj.headers["Location"]
    object_id = obj.json["object_id"]
    history = client.get(f"/api/v1/objects/{object_id}/versions/", headers={**admin_headers, **FORMS}).json
    write = props(history["_templates"]["default"])
    action_id = action.json["action_id"]
    assert (write["object_id"]["value"], write["version_id"]["value"]) == (
        object_id,
        1,
    )  # the ids it must carry
    assert (
        write["action_id"]["value"] == action_id
        and write["action_id"]["options"]["valueField"] == "action_id"
    )
    data = {"name": {"_type": "text", "text": "v1"}}
    version = client.post(f"/api/v1/objects/{object_id}/versions/", json={"data": data}, headers=headers)
    assert version.status_code == 201
    assert path_of(version.headers["Content-Location"]) == f"/api/v1/objects/{object_id}/versions/1"
    assert {f"/api/v1/objects/{object_id}", "/api/v1/objects/"} <= invalidated(version)
    bad = client.post(f"/api/v1/objects/{object_id}/versions/", json={"data": 1}, headers=headers)
    assert bad.status_code == 400 and not invalidated(bad) and "Content-Location" not in bad.headers


def test_deleting_and_restoring_an_asset_names_both_lists(client, admin_headers):
    headers = {**admin_headers, **HAL}
    space = path_of(client.post("/datamanager/", json={"title": "S"}, headers=headers).headers["Location"])
    assets = space.rstrip("/") + "/assets/"
    upload = client.post(assets, data={"file": (io.BytesIO(b"a kite\n"), "kite.txt")}, headers=headers)
    assert upload.status_code == 201, upload.json
    asset = client.get(assets, headers=headers).json["_embedded"]["ec:asset"][0]
    href = path_of(asset["_links"]["self"]["href"])
    deleted = client.delete(href, headers=headers)
    assert deleted.status_code == 204 and "Content-Type" not in deleted.headers
    assert {assets, space} <= invalidated(deleted)
    restored = client.delete(f"{assets}deleted/{asset['assetID']}", headers=headers)
    assert restored.status_code == 200
    assert path_of(restored.headers["Content-Location"]) == href  # the body is the live asset again
    assert {f"{assets}deleted/", assets, space} <= invalidated(restored)


def test_invalidated_urls_keep_the_path_prefix(client, admin_headers):
    """Behind a proxy that mounts Halyard under a prefix (SCRIPT_NAME), every URL keeps it."""
    hook = {"endpoint": "http://127.0.0.1:9/x", "interval_definition": "1 hours"}
    headers, base = {**admin_headers, **HAL}, "http://localhost/halyard"
    created = client.post("/api/v1/schedule/", json=hook, headers=headers, base_url=base)
    assert path_of(created.headers["Location"]).startswith("/halyard/api/v1/schedule/")
    assert created.headers["Content-Location"] == created.headers["Location"]
    item = path_of(created.headers["Location"])[len("/halyard") :]
    deleted = client.delete(item, headers=headers, base_url=base)
    assert deleted.status_code == 204 and invalidated(deleted) == {"/halyard/api/v1/schedule/"}
