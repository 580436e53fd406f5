"""Catalogue items: seed 000's examples replayed, the word grammar, spec/sample validation, access."""

import pytest

from app.extensions import db
from app.resources.catalogue.models import CatalogueItem

SEED_BODY = {
    "executor_type": "DATABRICKS",
    "name": "iot_events",
    "sample": [],
    "spec": [{"distribution": None, "is_nullable": False, "name": "value", "size": 19203, "type": "FLOAT"}],
}
SEED_ITEM_KEYS = {
    "@type",
    "created_by",
    "executor_type",
    "maintained_by",
    "name",
    "sample",
    "spec",
    "updated_by",
}


def assert_event(response, status, event, type_=None):
    body = response.get_json()
    assert response.status_code == status, response.get_data(as_text=True)
    assert body["@event"] == event, body
    if type_:
        assert body["@type"] == type_
    return body


def seed_account(body, account):
    """Seed 000's embedded account shape, plus the self link."""
    assert {k: body[k] for k in ("@type", "id", "email", "type")} == {
        "@type": "account",
        "id": account.id,
        "email": account.email,
        "type": account.type,
    }
    assert body["_links"]["self"]["href"] == f"http://localhost/api/v1/user/{account.id}/"


@pytest.fixture
def admin(make_account, token_for):
    account = make_account(type="ADMIN")
    return account, token_for(account)


def count_items():
    return db.session.query(CatalogueItem).count()


# --- seed 000: BULK_READ_CATALOGUEITEMS ---


def test_bulk_read_matches_seed(client, make_item, admin):
    from catalogue_data import SEED_SPEC

    make_item(name="iot_features", spec=SEED_SPEC)
    make_item(name="iot_events", spec=SEED_SPEC, executor_type="ATHENA")
    make_item(name="temperatures", spec=SEED_SPEC)
    body = assert_event(
        client.get("/catalogue/items/?query=IoT", headers=admin[1]),
        200,
        "CATALOGUEITEMS_BULK_READ",
        "catalogue_items_list",
    )
    items = body["_embedded"]["ec:catalogue-item"]
    assert body["count"] == body["total"] == 2
    assert [i["name"] for i in items] == ["iot_events", "iot_features"]
    for item in items:
        assert set(item) >= SEED_ITEM_KEYS and item["@type"] == "catalogue_item"
        assert item["spec"] == SEED_SPEC and item["sample"] == [] and item["created_by"] is None
        assert item["_links"]["self"]["href"] == f"http://localhost/catalogue/items/{item['id']}"
    assert {i["executor_type"] for i in items} == {"DATABRICKS", "ATHENA"}
    assert body["_links"]["self"]["href"].startswith("http://localhost/catalogue/items/?")
    assert "query=IoT" in body["_links"]["self"]["href"]
    assert body["_links"]["ec:catalogue-items/options"]["templated"] is True


def test_bulk_read_without_query_is_the_seed_400(client, admin):
    body = assert_event(
        client.get("/catalogue/items/", headers=admin[1]), 400, "QUERY_DID_NOT_VALIDATE", "error"
    )
    assert body["errors"] == {"query": ["This field is required."]}
    assert body["user_id"] == admin[0].id


def test_empty_query_matches_all_and_collection_grammar_applies(client, make_item, admin):
    for name in ("b", "a", "c"):
        make_item(name=name, sample=[{"product": "x", "price": 1}] if name == "c" else [])
    body = client.get("/catalogue/items/?query=&sort=-name&size=2", headers=admin[1]).get_json()
    assert body["total"] == 3 and [i["name"] for i in body["_embedded"]["ec:catalogue-item"]] == ["c", "b"]
    assert "next" in body["_links"]
    body = client.get("/catalogue/items/?query=&has_samples=true", headers=admin[1]).get_json()
    assert [i["name"] for i in body["_embedded"]["ec:catalogue-item"]] == ["c"]
    body = client.get("/catalogue/items/?query=&has_samples=false", headers=admin[1]).get_json()
    assert [i["name"] for i in body["_embedded"]["ec:catalogue-item"]] == ["a", "b"]
    response = client.get("/catalogue/items/?query=&colour=red", headers=admin[1])
    assert response.status_code == 400 and "colour" in response.get_json()["errors"]
    response = client.get("/catalogue/items/?query=&has_samples=maybe", headers=admin[1])
    assert response.status_code == 400 and "has_samples" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("iot", ["iot_events", "iot_features", "IOT_temp"]),
        ("IOT ~features", ["iot_events", "IOT_temp"]),
        ("IOT ~features | temp", ["iot_events", "IOT_temp", "temperatures"]),
        ("iot & temp", ["IOT_temp"]),
        ("iot&temp", ["IOT_temp"]),
        ("events features", ["iot_events", "iot_features"]),
        ("temp ~iot", ["temperatures"]),
        ("~iot", ["temperatures", "weird_%_name"]),
        ("%", ["weird_%_name"]),
        ("nothing", []),
    ],
)
def test_word_grammar(client, make_item, admin, query, expected):
    for name in ("iot_events", "iot_features", "IOT_temp", "temperatures", "weird_%_name"):
        make_item(name=name)
    response = client.get("/catalogue/items/", query_string={"query": query, "size": 50}, headers=admin[1])
    names = sorted((i["name"] for i in response.get_json()["_embedded"]["ec:catalogue-item"]), key=str.lower)
    assert names == sorted(expected, key=str.lower)


@pytest.mark.parametrize("query", ["iot &", "& iot", "iot & | temp", "iot ~"])
def test_word_grammar_errors(client, admin, query):
    response = client.get("/catalogue/items/", query_string={"query": query}, headers=admin[1])
    body = assert_event(response, 400, "QUERY_DID_NOT_VALIDATE")
    assert list(body["errors"]) == ["query"]


# --- seed 000: CREATE_CATALOGUEITEM ---


def test_create_matches_seed(client, admin, make_account):
    maintainer = make_account(type="RESEARCHER")
    response = client.post(
        "/catalogue/items/", json={**SEED_BODY, "maintained_by_id": maintainer.id}, headers=admin[1]
    )
    body = assert_event(response, 201, "CATALOGUEITEM_CREATED", "catalogue_item")
    assert set(body) >= SEED_ITEM_KEYS
    assert body["name"] == "iot_events" and body["executor_type"] == "DATABRICKS"
    assert body["spec"] == SEED_BODY["spec"] and body["sample"] == []
    seed_account(body["created_by"], admin[0])
    seed_account(body["updated_by"], admin[0])
    seed_account(body["maintained_by"], maintainer)
    assert response.headers["Location"] == body["_links"]["self"]["href"]
    assert body["_links"]["ec:catalogue-item/maintained-by"]["href"].endswith(
        f"/api/v1/user/{maintainer.id}/"
    )
    assert client.get(response.headers["Location"], headers=admin[1]).status_code == 200


def test_create_without_type_is_the_seed_400(client, admin):
    spec = [{"distribution": None, "is_nullable": False, "name": "value", "size": 19203}]
    body = assert_event(
        client.post("/catalogue/items/", json={**SEED_BODY, "spec": spec}, headers=admin[1]),
        400,
        "BODY_DID_NOT_VALIDATE",
        "error",
    )
    assert body["errors"] == {
        "spec": ["JSON did not validate. PATH: '0' REASON: 'type' is a required property"]
    }
    assert count_items() == 0


def test_create_with_unknown_maintainer_is_the_seed_400(client, admin):
    body = assert_event(
        client.post("/catalogue/items/", json={**SEED_BODY, "maintained_by_id": 932039}, headers=admin[1]),
        400,
        "BODY_JSON_DID_NOT_PARSE",
        "error",
    )
    assert body["errors"] == {"maintained_by": ["account instance with id 932039 does not exist."]}
    assert count_items() == 0


def test_create_without_credentials_is_the_seed_401(client):
    response = client.post("/catalogue/items/", json=SEED_BODY)
    body = assert_event(response, 401, "COULD_NOT_FIND_AUTH_TOKEN", "error")
    assert body["user_id"] == "anonymous" and "WWW-Authenticate" in response.headers
    assert count_items() == 0


@pytest.mark.parametrize(
    "spec, message",
    [
        ({}, "JSON did not validate. PATH: '' REASON: {} is not of type 'array'"),
        (
            [{"name": "a", "type": "TEXT", "is_nullable": False}],
            "JSON did not validate. PATH: '0.type' REASON: 'TEXT' is not one of "
            "['INTEGER', 'FLOAT', 'STRING', 'BOOLEAN', 'DATETIME']",
        ),
        (
            [
                {
                    "name": "a",
                    "type": "INTEGER",
                    "is_nullable": False,
                    "distribution": [{"value": 1.5, "count": 2}],
                }
            ],
            "JSON did not validate. PATH: '0.distribution.0.value' REASON: 1.5 is not of type 'integer'",
        ),
        (
            [
                {
                    "name": "a",
                    "type": "BOOLEAN",
                    "is_nullable": False,
                    "distribution": [{"value": 0, "count": 2}],
                }
            ],
            "JSON did not validate. PATH: '0.distribution.0.value' REASON: 0 is not of type 'boolean'",
        ),
        (
            [
                {
                    "name": "a",
                    "type": "DATETIME",
                    "is_nullable": False,
                    "distribution": [{"value": "soon", "count": 2}],
                }
            ],
            "JSON did not validate. PATH: '0.distribution.0.value' REASON: 'soon' is not a 'date-time'",
        ),
        (
            [
                {
                    "name": "a",
                    "type": "STRING",
                    "is_nullable": False,
                    "distribution": [{"value": "x", "count": 1}, {"value": "x", "count": 2}],
                }
            ],
            "JSON did not validate. PATH: '0.distribution' REASON: distribution values are not unique",
        ),
        (
            [
                {"name": "a", "type": "STRING", "is_nullable": False},
                {"name": "a", "type": "FLOAT", "is_nullable": True},
            ],
            "JSON did not validate. PATH: '1.name' REASON: 'a' is not unique",
        ),
        (
            [{"name": "a", "type": "STRING", "is_nullable": False, "colour": "red"}],
            "JSON did not validate. PATH: '0' REASON: Additional properties are not allowed ('colour' was"
            " unexpected)",
        ),
    ],
)
def test_spec_validation_messages(client, admin, spec, message):
    response = client.post("/catalogue/items/", json={**SEED_BODY, "spec": spec}, headers=admin[1])
    assert assert_event(response, 400, "BODY_DID_NOT_VALIDATE")["errors"] == {"spec": [message]}
    assert count_items() == 0


@pytest.mark.parametrize(
    "sample, message",
    [
        ([{"a": 1}], "JSON did not validate. PATH: '0' REASON: 'b' is a required property"),
        (
            [{"a": 1, "b": "2024-01-01T00:00:00", "c": 3}],
            "JSON did not validate. PATH: '0' REASON: Additional properties are not allowed ('c' was"
            " unexpected)",
        ),
        (
            [{"a": "1", "b": "2024-01-01T00:00:00"}],
            "JSON did not validate. PATH: '0.a' REASON: '1' is not of type 'integer'",
        ),
        ([{"a": 1, "b": None}], "JSON did not validate. PATH: '0.b' REASON: None is not of type 'string'"),
    ],
)
def test_sample_must_match_the_spec(client, admin, sample, message):
    spec = [
        {"name": "a", "type": "INTEGER", "is_nullable": True},
        {"name": "b", "type": "DATETIME", "is_nullable": False},
    ]
    response = client.post(
        "/catalogue/items/", json={**SEED_BODY, "spec": spec, "sample": sample}, headers=admin[1]
    )
    assert assert_event(response, 400, "BODY_DID_NOT_VALIDATE")["errors"] == {"sample": [message]}
    assert count_items() == 0
    ok = [{"a": None, "b": "2024-01-01T00:00:00Z"}, {"a": 0, "b": "2024-01-01"}]
    response = client.post(
        "/catalogue/items/", json={**SEED_BODY, "spec": spec, "sample": ok}, headers=admin[1]
    )
    assert response.status_code == 201 and response.get_json()["has_samples"] is True


@pytest.mark.parametrize(
    "body, field",
    [
        ({**SEED_BODY, "executor_type": "SPARK"}, "executor_type"),
        ({**SEED_BODY, "name": ""}, "name"),
        ({**SEED_BODY, "colour": "red"}, "colour"),
        ({k: v for k, v in SEED_BODY.items() if k != "spec"}, "spec"),
        ({**SEED_BODY, "datasource_id": 424242}, "datasource_id"),
    ],
)
def test_bad_bodies_name_the_field_and_write_nothing(client, admin, body, field):
    response = client.post("/catalogue/items/", json=body, headers=admin[1])
    assert field in assert_event(response, 400, "BODY_DID_NOT_VALIDATE")["errors"]
    assert count_items() == 0


def test_names_are_unique(client, admin, make_item):
    make_item(name="iot_events")
    response = client.post("/catalogue/items/", json=SEED_BODY, headers=admin[1])
    assert assert_event(response, 400, "BODY_DID_NOT_VALIDATE")["errors"] == {
        "name": ["catalogue item with this name already exists."]
    }
    assert count_items() == 1


# --- seed 000: READ / UPDATE / DELETE ---


def test_read_matches_seed(client, make_item, user_headers):
    from catalogue_data import SEED_SPEC

    item = make_item(name="temperatures", spec=SEED_SPEC)
    body = assert_event(
        client.get(f"/catalogue/items/{item.id}", headers=user_headers),
        200,
        "CATALOGUEITEM_READ",
        "catalogue_item",
    )
    assert {k: body[k] for k in SEED_ITEM_KEYS} == {
        "@type": "catalogue_item",
        "created_by": None,
        "executor_type": "DATABRICKS",
        "maintained_by": None,
        "name": "temperatures",
        "sample": [],
        "spec": SEED_SPEC,
        "updated_by": None,
    }
    assert client.get(f"/catalogue/items/{item.id}/", headers=user_headers).status_code == 200
    listed = client.get(f"/catalogue/items/?query=&id={item.id}", headers=user_headers).get_json()
    assert listed["@event"] == "CATALOGUEITEM_READ" and listed["id"] == item.id


def test_update_matches_seed(client, admin, make_item, make_account):
    creator, maintainer = make_account(), make_account()
    item = make_item(name="old", created_by_id=creator.id)
    response = client.put(
        f"/catalogue/items/{item.id}", json={**SEED_BODY, "maintained_by_id": maintainer.id}, headers=admin[1]
    )
    body = assert_event(response, 200, "CATALOGUEITEM_UPDATED", "catalogue_item")
    assert body["name"] == "iot_events" and body["spec"] == SEED_BODY["spec"]
    seed_account(body["created_by"], creator)
    seed_account(body["updated_by"], admin[0])
    seed_account(body["maintained_by"], maintainer)


def test_update_errors_match_seed(client, admin, make_item):
    item = make_item(name="old")
    spec = [{"distribution": None, "is_nullable": False, "name": "value", "size": 19203}]
    body = assert_event(
        client.put(f"/catalogue/items/{item.id}", json={**SEED_BODY, "spec": spec}, headers=admin[1]),
        400,
        "BODY_DID_NOT_VALIDATE",
    )
    assert body["errors"] == {
        "spec": ["JSON did not validate. PATH: '0' REASON: 'type' is a required property"]
    }
    db.session.expire_all()
    assert db.session.get(CatalogueItem, item.id).name == "old"
    assert_event(
        client.put("/catalogue/items/9022", json=SEED_BODY, headers=admin[1]),
        404,
        "COULD_NOT_FIND_CATALOGUEITEM",
        "error",
    )


def test_update_honours_if_match(client, admin, make_item):
    item = make_item(name="old")
    etag = client.get(f"/catalogue/items/{item.id}", headers=admin[1]).headers["ETag"]
    stale = client.put(
        f"/catalogue/items/{item.id}",
        json={**SEED_BODY, "name": "newer"},
        headers={**admin[1], "If-Match": '"nope"'},
    )
    assert stale.status_code == 412
    fresh = client.put(
        f"/catalogue/items/{item.id}",
        json={**SEED_BODY, "name": "newer"},
        headers={**admin[1], "If-Match": etag},
    )
    assert fresh.status_code == 200 and fresh.get_json()["name"] == "newer"


def test_delete_matches_seed(client, admin, make_item):
    item = make_item()
    body = assert_event(
        client.delete(f"/catalogue/items/{item.id}", headers=admin[1]), 200, "CATALOGUEITEM_DELETED", "empty"
    )
    assert body["_links"]["collection"]["href"].startswith("http://localhost/catalogue/items/")
    assert count_items() == 0
    assert_event(
        client.delete("/catalogue/items/69506", headers=admin[1]), 404, "COULD_NOT_FIND_CATALOGUEITEM"
    )
    assert_event(client.get("/catalogue/items/69506", headers=admin[1]), 404, "COULD_NOT_FIND_CATALOGUEITEM")


def test_delete_is_refused_while_a_request_is_not_cancelled(client, admin, make_item, user_headers):
    item = make_item()
    body = {
        "catalogue_item_id": item.id,
        "spec": {"columns": ["product"], "filters": [], "randomize_ratio": 1},
    }
    request_id = client.post("/downloader/requests/", json=body, headers=user_headers).get_json()["id"]
    body = assert_event(
        client.delete(f"/catalogue/items/{item.id}", headers=admin[1]),
        400,
        "NOT_CANCELLED_DOWNLOAD_REQEUSTS_DETECTED",
        "error",
    )
    assert body["item_id"] == item.id and body["not_cancelled_count"] == 1
    assert count_items() == 1
    assert client.delete(f"/downloader/requests/{request_id}", headers=user_headers).status_code == 200
    assert client.delete(f"/catalogue/items/{item.id}", headers=admin[1]).status_code == 200
    assert count_items() == 0


def test_templates_only_for_admins(client, admin, make_item, user_headers):
    item = make_item()
    hal_forms = {"Accept": "application/prs.hal-forms+json"}
    as_admin = client.get(f"/catalogue/items/{item.id}", headers={**admin[1], **hal_forms}).get_json()
    assert set(as_admin["_templates"]) == {"default", "delete"}
    assert as_admin["_templates"]["default"]["method"] == "PUT"
    as_user = client.get(f"/catalogue/items/{item.id}", headers={**user_headers, **hal_forms}).get_json()
    assert "_templates" not in as_user
    listed = client.get("/catalogue/items/?query=", headers={**user_headers, **hal_forms}).get_json()
    assert "_templates" not in listed


# --- authorization on every path ---

PATHS = [
    ("get", "/catalogue/items/?query="),
    ("post", "/catalogue/items/"),
    ("get", "/catalogue/items/{id}"),
    ("put", "/catalogue/items/{id}"),
    ("delete", "/catalogue/items/{id}"),
    ("post", "/catalogue/items/{id}/compute_spec/"),
]
ADMIN_ONLY = {"post", "put", "delete"}


@pytest.mark.parametrize("method, path", PATHS)
def test_every_path_needs_credentials(client, make_item, method, path):
    item = make_item()
    response = getattr(client, method)(path.format(id=item.id), json=SEED_BODY)
    assert_event(response, 401, "COULD_NOT_FIND_AUTH_TOKEN")


@pytest.mark.parametrize("method, path", [p for p in PATHS if p[0] in ADMIN_ONLY])
def test_writes_are_for_admins(client, make_item, user_headers, method, path):
    item = make_item(name="keep")
    response = getattr(client, method)(path.format(id=item.id), json=SEED_BODY, headers=user_headers)
    assert_event(response, 403, "ACCESS_DENIED")
    db.session.expire_all()
    assert db.session.get(CatalogueItem, item.id).name == "keep"


@pytest.mark.parametrize("method, path", [p for p in PATHS if "{id}" in p[1]])
def test_unknown_items_are_404(client, admin, method, path):
    response = getattr(client, method)(path.format(id=69506), json=SEED_BODY, headers=admin[1])
    assert_event(response, 404, "COULD_NOT_FIND_CATALOGUEITEM")


def test_entry_point_links(client, user_headers):
    body = client.get("/", headers=user_headers).get_json()
    links = body["_links"]
    assert links["ec:catalogue-items"]["href"] == "http://localhost/catalogue/items/{?query}"
    assert links["ec:catalogue-item/by-id"]["href"] == "http://localhost/catalogue/items/{id}"
    for rel in (
        "ec:download-requests",
        "ec:download-request/by-id",
        "ec:download-requests/estimate",
        "ec:download-requests/render-ui-data",
    ):
        assert rel in links
    for rel in (
        "catalogue-items",
        "catalogue-item",
        "catalogue-item/by-id",
        "catalogue-item/compute-spec",
        "download-requests",
        "download-request",
        "download-request/file",
        "download-requests/estimate",
        "download-requests/render-ui-data",
        "download-request/job",
        "download-request/creator",
    ):
        assert client.get(f"/rels/{rel}").status_code == 200, rel
