"""Download requests: seed 000's examples replayed, validation, dedupe and waiters, estimate, UI data."""

import pytest

from app.extensions import db
from app.jobs.models import JobRecord
from app.resources.downloader.models import DownloadRequest

SEED_REQUEST_KEYS = {
    "@type",
    "catalogue_item",
    "created_by",
    "estimated_size",
    "executor_job_id",
    "is_cancelled",
    "real_size",
    "spec",
    "uri",
}


def assert_event(response, status, event, type_=None):
    body = response.get_json()
    assert response.status_code == status, response.get_data(as_text=True)
    assert body["@event"] == event, body
    if type_:
        assert body["@type"] == type_
    return body


def body_for(item, columns=("product", "price"), filters=(), ratio=0.9, **extra):
    return {
        "catalogue_item_id": item.id,
        "spec": {"columns": list(columns), "filters": list(filters), "randomize_ratio": ratio},
        **extra,
    }


@pytest.fixture
def people(make_account, token_for):
    """Three accounts with their headers."""
    accounts = [make_account(type="ADMIN"), make_account(), make_account()]
    return [(a, token_for(a)) for a in accounts]


def count_requests():
    return db.session.query(DownloadRequest).count()


# --- seed 000: CREATE_DOWNLOADREQUEST ---


def test_create_matches_seed(client, make_item, people):
    from catalogue_data import PRODUCT_SPEC

    me, headers = people[0]
    item = make_item(spec=PRODUCT_SPEC)
    response = client.post("/downloader/requests/", json=body_for(item), headers=headers)
    body = assert_event(response, 201, "DOWNLOADREQUEST_CREATED", "download_request")
    assert set(body) >= SEED_REQUEST_KEYS
    assert (
        body["catalogue_item"]["@type"] == "catalogue_item" and body["catalogue_item"]["spec"] == PRODUCT_SPEC
    )
    assert body["catalogue_item"]["executor_type"] == "DATABRICKS"
    assert body["created_by"]["@type"] == "account" and body["created_by"]["id"] == me.id
    assert body["created_by"]["email"] == me.email and body["created_by"]["type"] == "ADMIN"
    assert body["spec"] == {"columns": ["product", "price"], "filters": [], "randomize_ratio": 0.9}
    assert body["is_cancelled"] is False and body["real_size"] is None and body["uri"] is None
    assert response.headers["Location"] == body["_links"]["self"]["href"]
    assert (
        body["_embedded"]["ec:catalogue-item"]["_links"]["self"]["href"]
        == body["_links"]["ec:catalogue-item"]["href"]
    )
    # no DATABRICKS adapter configured: the request and its job failed at once, saying why
    assert body["status"] == "failed" and "No executor adapter is configured for DATABRICKS" in body["error"]
    job = db.session.get(JobRecord, body["executor_job_id"])
    assert job.status == "failed" and "HALYARD_DOWNLOADER_ADAPTERS" in job.error
    job_body = client.get(body["_links"]["ec:download-request/job"]["href"], headers=headers).get_json()
    assert job_body["status"] == "failed" and "DATABRICKS" in job_body["error"]


def test_create_with_text_item_id_is_the_seed_400(client, make_item, people):
    body = body_for(make_item())
    body["catalogue_item_id"] = "TEXT"
    response = client.post("/downloader/requests/", json=body, headers=people[0][1])
    assert assert_event(response, 400, "BODY_DID_NOT_VALIDATE", "error")["errors"] == {
        "catalogue_item_id": ["A valid integer is required."]
    }
    assert count_requests() == 0


def test_create_without_body_is_the_seed_400(client, people):
    response = client.post(
        "/downloader/requests/", data="{", headers={**people[0][1], "Content-Type": "application/json"}
    )
    assert_event(response, 400, "BODY_JSON_DID_NOT_PARSE", "error")
    # seed 000's example: no body, no Content-Type
    assert_event(client.post("/downloader/requests/", headers=people[0][1]), 400, "BODY_JSON_DID_NOT_PARSE")
    response = client.post(
        "/downloader/requests/",
        data="a=b",
        headers={**people[0][1], "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert count_requests() == 0


def test_create_for_unknown_item_is_the_seed_404(client, people, make_item):
    response = client.post(
        "/downloader/requests/",
        json={**body_for(make_item()), "catalogue_item_id": 58495},
        headers=people[0][1],
    )
    assert_event(response, 404, "COULD_NOT_FIND_CATALOGUEITEM", "error")
    assert count_requests() == 0


def spec_of_all_types():
    return [
        {"name": "n", "type": "INTEGER", "is_nullable": False},
        {"name": "f", "type": "FLOAT", "is_nullable": True},
        {"name": "s", "type": "STRING", "is_nullable": False},
        {"name": "b", "type": "BOOLEAN", "is_nullable": False},
        {"name": "d", "type": "DATETIME", "is_nullable": False},
    ]


@pytest.mark.parametrize(
    "spec, errors",
    [
        ({"columns": [], "filters": []}, {"columns": ["At least one column is required."]}),
        ({"columns": ["n", "n"]}, {"columns": ["Column 'n' is requested twice."]}),
        ({"columns": ["zz"]}, {"columns": ["Unknown column 'zz'."]}),
        (
            {"columns": ["n"], "filters": [{"name": "zz", "operator": "=", "value": 1}]},
            {"filters": {"0": {"name": ["Unknown column 'zz'."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "s", "operator": ">", "value": "a"}]},
            {"filters": {"0": {"operator": ["'>' is not allowed for STRING columns; use one of =, !=."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "b", "operator": "<=", "value": True}]},
            {"filters": {"0": {"operator": ["'<=' is not allowed for BOOLEAN columns; use one of =, !=."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "n", "operator": "=", "value": "1"}]},
            {"filters": {"0": {"value": ['"1" is not a valid INTEGER value.']}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "n", "operator": "=", "value": False}]},
            {"filters": {"0": {"value": ["false is not a valid INTEGER value."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "n", "operator": "=", "value": 1.5}]},
            {"filters": {"0": {"value": ["1.5 is not a valid INTEGER value."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "b", "operator": "=", "value": 0}]},
            {"filters": {"0": {"value": ["0 is not a valid BOOLEAN value."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "d", "operator": ">", "value": "yesterday"}]},
            {"filters": {"0": {"value": ['"yesterday" is not a valid DATETIME value.']}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "s", "operator": "=", "value": None}]},
            {"filters": {"0": {"value": ["Column 's' is not nullable; null is not a value of it."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "f", "operator": ">", "value": None}]},
            {"filters": {"0": {"value": ["null can only be compared with = and !=."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "n", "operator": "~", "value": 1}]},
            {"filters": {"0": {"operator": ["Must be one of: >, >=, <, <=, =, !=."]}}},
        ),
        (
            {"columns": ["n"], "filters": [{"name": "n", "operator": "="}]},
            {"filters": {"0": {"value": ["Missing data for required field."]}}},
        ),
        (
            {"columns": ["n"], "randomize_ratio": 0},
            {"randomize_ratio": ["Must be greater than 0 and at most 1."]},
        ),
        (
            {"columns": ["n"], "randomize_ratio": 1.5},
            {"randomize_ratio": ["Must be greater than 0 and at most 1."]},
        ),
        ({"columns": ["n"], "randomize_ratio": True}, {"randomize_ratio": ["Not a valid number."]}),
        ({"columns": ["n"], "colour": "red"}, {"colour": ["Unknown field."]}),
    ],
)
def test_spec_validation(client, make_item, people, spec, errors):
    item = make_item(spec=spec_of_all_types())
    response = client.post(
        "/downloader/requests/", json={"catalogue_item_id": item.id, "spec": spec}, headers=people[1][1]
    )
    assert assert_event(response, 400, "BODY_DID_NOT_VALIDATE")["errors"] == {"spec": errors}
    assert count_requests() == 0
    estimate = client.post(
        "/downloader/requests/estimate/",
        json={"catalogue_item_id": item.id, "spec": spec},
        headers=people[1][1],
    )
    assert estimate.status_code == 400 and estimate.get_json()["errors"] == {"spec": errors}


@pytest.mark.parametrize(
    "column, operator, value",
    [
        ("n", "<=", 0),
        ("f", "!=", 0),
        ("f", ">", 0.5),
        ("f", "=", None),
        ("s", "=", ""),
        ("b", "=", False),
        ("d", ">=", "2024-01-01T00:00:00Z"),
        ("n", "=", 3.0),
    ],
)
def test_falsy_and_typed_values_are_accepted(client, make_item, people, column, operator, value):
    item = make_item(spec=spec_of_all_types())
    body = {
        "catalogue_item_id": item.id,
        "spec": {
            "columns": ["n"],
            "filters": [{"name": column, "operator": operator, "value": value}],
            "randomize_ratio": 1,
        },
    }
    assert client.post("/downloader/requests/", json=body, headers=people[1][1]).status_code == 201


# --- dedupe and waiters ---


def test_equal_requests_share_one_request_across_three_accounts(client, make_item, people):
    item = make_item(executor_type="ATHENA")
    filters = [
        {"name": "price", "operator": ">=", "value": 78},
        {"name": "product", "operator": "=", "value": "x"},
    ]
    first = client.post(
        "/downloader/requests/", json=body_for(item, filters=filters, ratio=1), headers=people[0][1]
    )
    # ATHENA without adapter fails at once: failed requests are not live, so the next POST starts anew
    assert first.status_code == 201 and first.get_json()["status"] == "failed"
    second = client.post(
        "/downloader/requests/", json=body_for(item, filters=filters, ratio=1), headers=people[0][1]
    )
    assert second.status_code == 201 and second.get_json()["id"] != first.get_json()["id"]


def test_dedupe_joins_live_requests(app, client, bound_item, people):
    item = bound_item(rows=1000)
    a, b, c = people
    filters = [
        {"name": "price", "operator": ">=", "value": 50},
        {"name": "available", "operator": "=", "value": True},
    ]
    created = client.post(
        "/downloader/requests/", json=body_for(item, ("id", "price"), filters, 0.5), headers=a[1]
    )
    body = assert_event(created, 201, "DOWNLOADREQUEST_CREATED")
    assert body["status"] == "queued" and body["executor_job_id"]
    # same request with columns and filters reordered and 50 written as 50.0: joins, starts nothing
    joined = client.post(
        "/downloader/requests/",
        json=body_for(item, ("price", "id"), [filters[1], {**filters[0], "value": 50.0}], 0.5),
        headers=b[1],
    )
    assert assert_event(joined, 200, "DOWNLOADREQUEST_READ")["id"] == body["id"]
    again = client.post(
        "/downloader/requests/", json=body_for(item, ("id", "price"), filters, 0.5), headers=b[1]
    )
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    # a different ratio, format or filter value is another request
    other = client.post(
        "/downloader/requests/", json=body_for(item, ("id", "price"), filters, 0.4), headers=c[1]
    )
    parquet = client.post(
        "/downloader/requests/",
        json=body_for(item, ("id", "price"), filters, 0.5, format="parquet"),
        headers=c[1],
    )
    assert other.status_code == parquet.status_code == 201
    assert db.session.query(JobRecord).filter_by(kind="download").count() == 3
    # who sees what
    assert [
        r["id"]
        for r in client.get("/downloader/requests/", headers=a[1]).get_json()["_embedded"][
            "ec:download-request"
        ]
    ] == [body["id"]]
    listed = client.get("/downloader/requests/?sort=id", headers=c[1]).get_json()
    assert listed["total"] == 2 and body["id"] not in [
        r["id"] for r in listed["_embedded"]["ec:download-request"]
    ]
    assert_event(
        client.get(f"/downloader/requests/{body['id']}", headers=c[1]), 404, "COULD_NOT_FIND_DOWNLOADREQUEST"
    )
    assert client.get(f"/downloader/requests/{body['id']}", headers=b[1]).status_code == 200
    # waiters leave one by one; the last one cancels
    assert_event(
        client.delete(f"/downloader/requests/{body['id']}", headers=a[1]),
        200,
        "DOWNLOADREQUEST_DELETED",
        "empty",
    )
    assert client.get(f"/downloader/requests/{body['id']}", headers=a[1]).status_code == 404
    still = client.get(f"/downloader/requests/{body['id']}", headers=b[1]).get_json()
    assert still["is_cancelled"] is False and still["status"] == "queued"
    assert client.delete(f"/downloader/requests/{body['id']}", headers=c[1]).status_code == 404
    assert client.delete(f"/downloader/requests/{body['id']}", headers=b[1]).status_code == 200
    db.session.expire_all()
    req = db.session.get(DownloadRequest, body["id"])
    assert req.is_cancelled and req.status == "cancelled" and req.live_key is None and not req.waiting
    from app.jobs import AppJob, get_redis

    assert AppJob.fetch(req.executor_job_id, connection=get_redis()).get_status() == "canceled"
    # a cancelled request is not live: the same POST starts a new one
    fresh = client.post(
        "/downloader/requests/", json=body_for(item, ("id", "price"), filters, 0.5), headers=a[1]
    )
    assert fresh.status_code == 201 and fresh.get_json()["id"] != body["id"]


def test_seed_bulk_read_and_read(client, make_item, people):
    from catalogue_data import PRODUCT_SPEC

    me, headers = people[1]
    item = make_item(spec=PRODUCT_SPEC, executor_type="ATHENA")
    for filters, ratio in (
        ([{"name": "price", "operator": ">=", "value": 78}], 1),
        ([{"name": "price", "operator": "=", "value": 18}], 0.8),
    ):
        client.post(
            "/downloader/requests/", json=body_for(item, ["product"], filters, ratio), headers=headers
        )
    body = assert_event(
        client.get("/downloader/requests/?sort=id", headers=headers),
        200,
        "DOWNLOADREQUESTS_BULK_READ",
        "download_requests_list",
    )
    assert body["count"] == body["total"] == 2
    first, second = body["_embedded"]["ec:download-request"]
    assert set(first) >= SEED_REQUEST_KEYS
    assert first["spec"] == {
        "columns": ["product"],
        "filters": [{"name": "price", "operator": ">=", "value": 78}],
        "randomize_ratio": 1,
    }
    assert second["spec"]["randomize_ratio"] == 0.8
    assert first["created_by"]["id"] == me.id and first["catalogue_item"]["executor_type"] == "ATHENA"
    read = assert_event(
        client.get(first["_links"]["self"]["href"], headers=headers),
        200,
        "DOWNLOADREQUEST_READ",
        "download_request",
    )
    assert read["spec"] == first["spec"]
    assert_event(
        client.get("/downloader/requests/69506", headers=headers), 404, "COULD_NOT_FIND_DOWNLOADREQUEST"
    )
    assert_event(
        client.delete("/downloader/requests/69506", headers=headers), 404, "COULD_NOT_FIND_DOWNLOADREQUEST"
    )


# --- estimate and UI data ---


def test_estimate_matches_seed_shape_and_uses_the_spec(client, make_item, people):
    spec = [
        {
            "name": "product",
            "type": "STRING",
            "is_nullable": True,
            "size": 1000,
            "distribution": [{"value": "apple", "count": 600}, {"value": "kiwi", "count": 400}],
        },
        {"name": "price", "type": "INTEGER", "is_nullable": False, "size": 1000, "distribution": None},
    ]
    item = make_item(spec=spec)
    body = assert_event(
        client.post("/downloader/requests/estimate/", json=body_for(item, ratio=0.9), headers=people[1][1]),
        200,
        "SIZE_OF_DOWNLOAD_REQUEST_ESTIMATED",
        "download_request_estimated_size",
    )
    # 1000 rows × 0.9 × (avg("apple","kiwi") = 4.6 + INTEGER default 6 + 2 separators) + header 14
    assert body["basis"] == "spec" and body["estimated_size"] == round(14 + 900 * (4.6 + 6 + 2))
    filtered = client.post(
        "/downloader/requests/estimate/",
        json=body_for(item, filters=[{"name": "product", "operator": "=", "value": "kiwi"}], ratio=1),
        headers=people[1][1],
    )
    assert filtered.get_json()["estimated_rows"] == 400
    unknown = make_item(
        spec=[
            {"name": "product", "type": "STRING", "is_nullable": True},
            {"name": "price", "type": "INTEGER", "is_nullable": True},
        ]
    )
    body = client.post(
        "/downloader/requests/estimate/", json=body_for(unknown), headers=people[1][1]
    ).get_json()
    assert body["estimated_size"] is None and body["basis"] == "unknown"
    assert count_requests() == 0


def test_render_ui_data_matches_seed(client, make_item, people):
    item = make_item(spec=spec_of_all_types())
    body = assert_event(
        client.post(
            "/downloader/requests/render_ui_data/", json={"catalogue_item_id": item.id}, headers=people[2][1]
        ),
        200,
        "DOWNLOAD_REQUEST_UI_DATA_RENDERED",
        "download_request_render",
    )
    ops = {c["name"]: c["operators"] for c in body["columns_operators"]}
    numeric = [">", ">=", "<", "<=", "=", "!="]
    assert ops == {"n": numeric, "f": numeric, "d": numeric, "s": ["=", "!="], "b": ["=", "!="]}
    assert all(c["@type"] == "column_operators" for c in body["columns_operators"])
    assert_event(
        client.post(
            "/downloader/requests/render_ui_data/", json={"catalogue_item_id": 999}, headers=people[2][1]
        ),
        404,
        "COULD_NOT_FIND_CATALOGUEITEM",
    )
    bad = client.post(
        "/downloader/requests/render_ui_data/", json={"catalogue_item_id": "x"}, headers=people[2][1]
    )
    assert bad.get_json()["errors"] == {"catalogue_item_id": ["A valid integer is required."]}


# --- authorization on every path ---

PATHS = [
    ("get", "/downloader/requests/"),
    ("post", "/downloader/requests/"),
    ("get", "/downloader/requests/{id}"),
    ("delete", "/downloader/requests/{id}"),
    ("get", "/downloader/requests/{id}/file"),
    ("post", "/downloader/requests/estimate/"),
    ("post", "/downloader/requests/render_ui_data/"),
]


@pytest.mark.parametrize("method, path", PATHS)
def test_every_path_needs_credentials(client, make_item, people, method, path):
    item = make_item()
    request_id = client.post("/downloader/requests/", json=body_for(item), headers=people[0][1]).get_json()[
        "id"
    ]
    response = getattr(client, method)(path.format(id=request_id), json=body_for(item))
    assert_event(response, 401, "COULD_NOT_FIND_AUTH_TOKEN")
    assert count_requests() == 1


@pytest.mark.parametrize("method, path", [p for p in PATHS if "{id}" in p[1]])
def test_non_waiters_get_404_even_admins(client, make_item, people, method, path):
    item = make_item()
    request_id = client.post("/downloader/requests/", json=body_for(item), headers=people[1][1]).get_json()[
        "id"
    ]
    for _, headers in (people[0], people[2]):
        response = getattr(client, method)(path.format(id=request_id), headers=headers)
        assert_event(response, 404, "COULD_NOT_FIND_DOWNLOADREQUEST")
    assert db.session.get(DownloadRequest, request_id).waiting[0].id == people[1][0].id


def test_format_filter_and_the_representation_toggle_share_the_parameter(client, make_item, people):
    """`format=csv|parquet` is the downloader's filter; `format=json|hal|hal-forms|html` the toggle."""
    item = make_item()
    headers = people[0][1]
    ids = {}
    for fmt in ("csv", "parquet"):
        created = client.post("/downloader/requests/", json=body_for(item, format=fmt), headers=headers)
        ids[fmt] = assert_event(created, 201, "DOWNLOADREQUEST_CREATED")["id"]

    def listed(query, **extra):
        response = client.get(f"/downloader/requests/?{query}", headers={**headers, **extra})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response, [r["id"] for r in response.get_json()["_embedded"]["ec:download-request"]]

    assert listed("format=parquet")[1] == [ids["parquet"]]
    assert listed("format=csv")[1] == [ids["csv"]]
    assert listed("format!=csv")[1] == [ids["parquet"]]
    assert sorted(listed("format=csv,parquet")[1]) == sorted(ids.values())
    # the toggle still works here, and combines with the filter
    native = client.get("/downloader/requests/?format=json", headers=headers)  # seed 000's own body
    assert native.mimetype == "application/json"
    assert sorted(r["id"] for r in native.get_json()["requests"]) == sorted(ids.values())
    response, found = listed("format=parquet&format=hal-forms", Accept="text/html")
    assert response.mimetype == "application/prs.hal-forms+json" and found == [ids["parquet"]]
    assert "_templates" in response.get_json()
    bad = client.get("/downloader/requests/?format=xml", headers=headers)
    assert_event(bad, 400, "QUERY_DID_NOT_VALIDATE")
    assert list(bad.get_json()["errors"]) == ["format"]
