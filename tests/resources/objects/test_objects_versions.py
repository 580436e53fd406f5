"""/api/v1/objects/ and its versions: create, redirect, read, write N+1, If-Match, list grammar, no leaks."""

from app.extensions import db
from app.resources.objects.models import ObjectRecord, ObjectVersion, UserPermission
from tests.resources.objects.conftest import SCHEMA, data

FORMS = {"Accept": "application/prs.hal-forms+json"}


def mass(grams):
    return {
        "_type": "quantity",
        "units": "g",
        "dimensionality": "[mass]",
        "magnitude_in_base_units": grams / 1000,
    }


def test_create_gives_201_location_of_version_0_and_grant(client, user_headers, make_action):
    action = make_action(user_headers)
    response = client.post(
        "/api/v1/objects/",
        headers=user_headers,
        json={"action_id": action["action_id"], "data": data(), "schema": SCHEMA, "version_id": 0},
    )
    assert response.status_code == 201
    object_id = response.json["object_id"]
    assert response.headers["Location"] == f"http://localhost/api/v1/objects/{object_id}/versions/0"
    assert (
        response.json["version_id"] == 0
        and response.json["schema"] == SCHEMA
        and response.json["data"] == data()
    )
    perms = client.get(f"/api/v1/objects/{object_id}/permissions/", headers=user_headers).json
    assert perms["permission"] == "grant"


def test_create_rejects_bad_bodies_and_writes_nothing(client, user_headers, make_action):
    action = make_action(user_headers)
    cases = [
        ({"action_id": action["action_id"], "data": data(), "schema": {"other": 1}}, "schema"),
        ({"action_id": action["action_id"], "data": data(), "version_id": 1}, "version_id"),
        ({"action_id": 999, "data": data()}, "action_id"),
        ({"action_id": "1", "data": data()}, "action_id"),
        ({"action_id": 2**40, "data": data()}, "action_id"),
        ({"action_id": action["action_id"]}, "data"),
        ({"action_id": action["action_id"], "data": data(), "extra": True}, "extra"),
        ({"action_id": action["action_id"], "data": {"name": {"_type": "text", "text": ""}}}, "data"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/objects/", json=body, headers=user_headers)
        assert response.status_code == 400 and field in response.json["errors"], (body, response.json)
    assert db.session.query(ObjectRecord).count() == 0 and db.session.query(ObjectVersion).count() == 0
    assert db.session.query(UserPermission).count() == 0
    assert (
        client.post("/api/v1/objects/", data="{", content_type="application/json", headers=user_headers).json[
            "@event"
        ]
        == "BODY_JSON_DID_NOT_PARSE"
    )
    assert client.post("/api/v1/objects/", data="x", headers=user_headers).status_code == 415


def test_data_errors_are_all_reported_with_paths(client, user_headers, make_action):
    action = make_action(user_headers)
    body = {"action_id": action["action_id"], "data": {"mass": {**mass(5), "units": "m"}, "colour": 1}}
    errors = client.post("/api/v1/objects/", json=body, headers=user_headers).json["errors"]["data"]
    assert sorted(errors) == sorted(
        [
            "unknown property 'colour' (at data -> colour)",
            "missing required property 'name' (at data -> name)",
            "units 'm' are not compatible with 'g' ([mass]) (at data -> mass -> units)",
        ]
    )


def test_redirect_version_read_and_links(client, user_headers, make_action, make_object):
    action = make_action(user_headers)
    v0 = make_object(user_headers, action["action_id"], mass=mass(5))
    oid = v0["object_id"]
    redirect = client.get(f"/api/v1/objects/{oid}/", headers=user_headers)
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith(
        f"/api/v1/objects/{oid}/versions/0"
    )
    v1 = client.post(f"/api/v1/objects/{oid}/versions/", json={"data": data("Renamed")}, headers=user_headers)
    assert v1.status_code == 201 and v1.headers["Location"].endswith("/versions/1")
    assert (
        client.get(f"/api/v1/objects/{oid}", headers=user_headers).headers["Location"].endswith("/versions/1")
    )
    old = client.get(f"/api/v1/objects/{oid}/versions/0", headers=user_headers).json
    assert old["data"]["mass"] == mass(5) and old["utc_datetime"][4] == "-"
    links = old["_links"]
    assert links["successor-version"]["href"].endswith("/versions/1")
    assert links["latest-version"]["href"].endswith("/versions/1") and "predecessor-version" not in links
    assert links["version-history"]["href"].endswith(f"/objects/{oid}/versions/")
    assert links["ec:action"]["href"].endswith(f"/api/v1/actions/{action['action_id']}")
    assert links["ec:object/permissions"]["href"].endswith(f"/objects/{oid}/permissions/")
    new = client.get(f"/api/v1/objects/{oid}/versions/1", headers={**user_headers, **FORMS}).json
    assert (
        new["_links"]["predecessor-version"]["href"].endswith("/versions/0")
        and new["user_id"] == v0["user_id"]
    )
    assert new["_templates"]["new-version"]["target"].endswith(f"/objects/{oid}/versions/")
    assert (
        "_templates"
        not in client.get(f"/api/v1/objects/{oid}/versions/0", headers={**user_headers, **FORMS}).json
    )
    assert (
        client.get(f"/api/v1/objects/{oid}/versions/2", headers=user_headers).json["@event"]
        == "COULD_NOT_FIND_OBJECTVERSION"
    )
    assert client.get("/api/v1/objects/999", headers=user_headers).json["@event"] == "COULD_NOT_FIND_OBJECT"
    history = client.get(f"/api/v1/objects/{oid}/versions/?sort=-version_id", headers=user_headers).json
    assert [v["version_id"] for v in history["_embedded"]["ec:object/version"]] == [1, 0]
    assert client.get(f"/api/v1/objects/{oid}/versions/?version_id=0", headers=user_headers).json["data"][
        "mass"
    ]


def test_versions_are_immutable(client, user_headers, make_action, make_object):
    oid = make_object(user_headers, make_action(user_headers)["action_id"])["object_id"]
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(
            f"/api/v1/objects/{oid}/versions/0", json={"data": data("x")}, headers=user_headers
        )
        assert response.status_code == 405
    assert client.delete(f"/api/v1/objects/{oid}", headers=user_headers).status_code == 405
    assert db.session.get(ObjectVersion, (oid, 0)).data == data()


def test_new_version_optional_fields_must_match(client, user_headers, make_action, make_object):
    action = make_action(user_headers)
    oid = make_object(user_headers, action["action_id"])["object_id"]
    url = f"/api/v1/objects/{oid}/versions/"
    for extra, field in [
        ({"object_id": oid + 1}, "object_id"),
        ({"version_id": 5}, "version_id"),
        ({"action_id": 999}, "action_id"),
        ({"schema": {"title": "x"}}, "schema"),
        ({"colour": 1}, "colour"),
    ]:
        response = client.post(url, json={"data": data("x"), **extra}, headers=user_headers)
        assert response.status_code == 400 and field in response.json["errors"], response.json
    taken = client.post(url, json={"data": data("x"), "version_id": 0}, headers=user_headers)
    assert taken.status_code == 409
    ok = client.post(
        url,
        json={
            "data": data("x"),
            "object_id": oid,
            "version_id": 1,
            "action_id": action["action_id"],
            "schema": SCHEMA,
        },
        headers=user_headers,
    )
    assert ok.status_code == 201
    assert db.session.query(ObjectVersion).count() == 2


def test_new_version_may_use_the_actions_new_schema(client, user_headers, make_action, make_object):
    action = make_action(user_headers)
    oid = make_object(user_headers, action["action_id"])["object_id"]
    new_schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "ok": {"title": "OK", "type": "bool"}}}
    put = client.put(
        f"/api/v1/actions/{action['action_id']}",
        headers=user_headers,
        json={"type": "sample", "name": "v2", "schema": new_schema},
    )
    assert put.status_code == 200
    url = f"/api/v1/objects/{oid}/versions/"
    body = {"data": data("x", ok={"_type": "bool", "value": True})}
    assert (
        "unknown property 'ok' (at data -> ok)"
        in client.post(url, json=body, headers=user_headers).json["errors"]["data"]
    )
    response = client.post(url, json={**body, "schema": new_schema}, headers=user_headers)
    assert response.status_code == 201 and response.json["schema"] == new_schema
    assert client.get(f"/api/v1/objects/{oid}/versions/0", headers=user_headers).json["schema"] == SCHEMA


def test_if_match_is_honoured_on_new_versions(client, user_headers, make_action, make_object):
    oid = make_object(user_headers, make_action(user_headers)["action_id"])["object_id"]
    etag = client.get(f"/api/v1/objects/{oid}/versions/0", headers=user_headers).headers["ETag"]
    url = f"/api/v1/objects/{oid}/versions/"
    first = client.post(url, json={"data": data("one")}, headers={**user_headers, "If-Match": etag})
    assert first.status_code == 201
    stale = client.post(url, json={"data": data("two")}, headers={**user_headers, "If-Match": etag})
    assert stale.status_code == 412 and stale.json["@event"] == "PRECONDITION_FAILED"
    assert db.session.query(ObjectVersion).count() == 2
    fresh = client.get(f"/api/v1/objects/{oid}/versions/1", headers=user_headers).headers["ETag"]
    assert (
        client.post(url, json={"data": data("two")}, headers={**user_headers, "If-Match": fresh}).status_code
        == 201
    )


def test_list_grammar_runs_over_current_versions(client, make_account, token_for, make_action, make_object):
    alice, bob = make_account(), make_account()
    ha, hb = token_for(alice), token_for(bob)
    sample = make_action(ha)
    measurement = make_action(ha, type="measurement", name="Measure")
    first = make_object(ha, sample["action_id"], name="Copper wire")
    make_object(ha, measurement["action_id"], name="Resistance")
    make_object(ha, sample["action_id"], name="Iron bar")
    UserPermissionRow = UserPermission(object_id=first["object_id"], user_id=bob.id, level=2)
    db.session.add(UserPermissionRow)
    db.session.commit()
    client.post(
        f"/api/v1/objects/{first['object_id']}/versions/", json={"data": data("Copper coil")}, headers=hb
    )

    def names(query, headers=ha):
        doc = client.get(f"/api/v1/objects/?{query}", headers=headers).json
        return [o["data"]["name"]["text"] for o in doc["_embedded"]["ec:object"]], doc["total"]

    assert names("") == (["Copper coil", "Resistance", "Iron bar"], 3)
    assert names("action_type=sample&sort=name") == (["Copper coil", "Iron bar"], 2)
    assert names(f"action_id={measurement['action_id']}") == (["Resistance"], 1)
    assert names("name~=co") == (["Copper coil"], 1)
    assert names("name~=wire") == ([], 0)
    assert names(f"user_id={bob.id}") == (["Copper coil"], 1)
    assert names("sort=-object_id&limit=2&offset=1") == (["Resistance", "Copper coil"], 3)
    assert names("createdFrom=2000-01-01&createdTo=2999-01-01") == (
        ["Copper coil", "Resistance", "Iron bar"],
        3,
    )
    assert names("createdTo=2000-01-01") == ([], 0)
    assert names("", hb) == (["Copper coil"], 1)
    paged = client.get("/api/v1/objects/?limit=1&offset=1", headers=ha).json
    assert paged["_links"]["next"]["href"].endswith("limit=1&offset=2")
    single = client.get(f"/api/v1/objects/?object_id={first['object_id']}", headers=ha).json
    assert single["version_id"] == 1
    for bad in ("colour=red", "action_type=gadget", "limit=0", "sort=user_id", "createdFrom=yesterday"):
        response = client.get(f"/api/v1/objects/?{bad}", headers=ha)
        assert response.status_code == 400 and response.json["@event"] == "QUERY_DID_NOT_VALIDATE", bad


def test_references_must_be_readable_and_only_readable_ones_are_linked(
    client, make_account, token_for, make_action, make_object
):
    owner, other = make_account(), make_account()
    ho, hx = token_for(owner), token_for(other)
    ref_schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "of": {"title": "Of", "type": "sample"}}}
    holder = make_action(ho, schema=ref_schema)
    sample_action = make_action(ho)
    private = make_object(hx, sample_action["action_id"], name="Other's sample")
    mine = make_object(ho, sample_action["action_id"], name="My sample")
    bad = client.post(
        "/api/v1/objects/",
        headers=ho,
        json={
            "action_id": holder["action_id"],
            "data": data("Holder", of={"_type": "sample", "object_id": private["object_id"]}),
        },
    )
    assert bad.status_code == 400
    assert bad.json["errors"]["data"] == [
        f"object {private['object_id']} does not exist or you may not read it (at data -> of -> object_id)"
    ]
    good = client.post(
        "/api/v1/objects/",
        headers=ho,
        json={
            "action_id": holder["action_id"],
            "data": data("Holder", of={"_type": "sample", "object_id": mine["object_id"]}),
        },
    )
    assert good.status_code == 201
    links = good.json["_links"]["ec:object/references"]
    assert [link["href"] for link in links] == [f"http://localhost/api/v1/objects/{mine['object_id']}"]
    # a reader of the holder who may not read the referenced object sees no link to it
    client.put(
        f"/api/v1/objects/{good.json['object_id']}/permissions/users/{other.id}", json="read", headers=ho
    )
    seen = client.get(good.headers["Location"], headers=hx).json
    assert seen["_links"]["ec:object/references"] == []


def test_ids_beyond_the_columns_range_are_404_or_400_not_500(client, user_headers):
    for path in (
        "/api/v1/objects/99999999999999",
        "/api/v1/actions/99999999999999",
        "/api/v1/objects/1/versions/99999999999999",
        "/api/v1/objects/99999999999999/permissions/",
    ):
        assert client.get(path, headers=user_headers).status_code == 404, path
    for query in ("object_id=99999999999999", "offset=99999999999999999999"):
        response = client.get(f"/api/v1/objects/?{query}", headers=user_headers)
        assert response.status_code == 400 and query.split("=")[0] in response.json["errors"]
