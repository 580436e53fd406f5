"""Every input is a 4xx (issue 13): dates past year 9999 or before year 1, integers past their column,
JSON nested past the limit, NaN and huge floats, NUL, intervals past the longest.

Each case runs on every collection or every route that takes a body, read from the app's URL map and
OpenAPI metadata (tests/inputs_support.py), so a new route is covered without editing this file. Each
asserts the status, a problem+json body naming the parameter or field, and that nothing was written.
Body sizes (chunked bodies past the cap) are in tests/test_input_size.py.
"""

import json
import uuid
from urllib.parse import urlencode

import pytest
from inputs_support import (
    BODY_ROUTES,
    COLLECTIONS,
    JSON_ROUTES,
    Route,
    body_at,
    build_world,
    error_at,
    integer_fields,
    problem,
    snapshot,
    url_of,
)
from sqlalchemy import BigInteger
from werkzeug.routing import IntegerConverter, UUIDConverter

from app.hal.grammar import INT32_MAX, INT64_MAX
from app.inputs import MAX_JSON_DEPTH

CAP = 64 * 1024  # the deepest bodies here are ~40 KB

# After conversion to UTC, or as written: outside Python's (and so Halyard's) years 1-9999.
BAD_DATES = [
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00+05:00",
    "10000-01-01",
    "0000-12-31",
    "-0001-01-01",
    "+10000-01-01T00:00:00Z",
    "99999-01-01T00:00:00",
    "0001-01-01T00:30:00+01:00",
]
EDGE_DATES = [
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59.999Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999",
    "9999-12-31T18:59:59.999-05:00",
]


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1", "HALYARD_MAX_UPLOAD_BYTES": CAP}


@pytest.fixture
def world(client, make_account, token_for):
    return build_world(client, make_account, token_for)


def params_of(collection, kind):
    """The query parameters of ``collection`` over fields of ``kind``: ``{param: field}``."""
    variables = set(collection.variables())
    return {
        fld.name + suffix: fld
        for fld in collection.fields.values()
        if fld.type == kind
        for suffix in ("", "!", "From", "To")
        if fld.name + suffix in variables
    }


def query_url(app, route, values, **params):
    extra = dict.fromkeys(route.collection.extra_params, "")  # the catalogue's required ``query``
    return url_of(app, route, values) + "?" + urlencode({**extra, **params})


# --- the query grammar, on every collection --------------------------------------------------------------


@pytest.mark.parametrize("route", COLLECTIONS, ids=lambda r: r.id)
def test_dates_outside_years_1_to_9999_are_400_on_every_collection(app, client, world, route):
    headers, values = world
    params = params_of(route.collection, "datetime")
    before = snapshot(app)
    for param in params:
        for value in BAD_DATES:
            body = problem(
                client.get(query_url(app, route, values, **{param: value}), headers=headers),
                400,
                "QUERY_DID_NOT_VALIDATE",
            )
            assert param in body["errors"], (param, value, body)
        for value in EDGE_DATES:
            response = client.get(query_url(app, route, values, **{param: value}), headers=headers)
            found = 404 if param == route.collection.id_field else 200  # an id lookup of no item is a 404
            assert response.status_code == found, (param, value, response.get_json())
    assert snapshot(app) == before


def _limit(fld):
    return INT64_MAX if isinstance(getattr(fld.column, "type", None), BigInteger) else INT32_MAX


@pytest.mark.parametrize("route", COLLECTIONS, ids=lambda r: r.id)
def test_integers_past_their_column_are_400_on_every_collection(app, client, world, route):
    headers, values = world
    checks = [(param, _limit(fld)) for param, fld in params_of(route.collection, "int").items()]
    checks += [(param, INT32_MAX) for param in ("size", "limit")] + [(p, 2**62) for p in ("page", "offset")]
    before = snapshot(app)
    for param, limit in checks:
        for value in (limit + 1, -limit - 2, 2**63, -(2**63) - 1, 10**30, "9" * 5000, "1e3", "\u0661\u0662"):
            body = problem(
                client.get(query_url(app, route, values, **{param: value}), headers=headers),
                400,
                "QUERY_DID_NOT_VALIDATE",
            )
            assert param in body["errors"], (param, value, body)
        if param not in ("size", "limit", "page"):  # the largest page depends on size: tests/hal covers it
            response = client.get(query_url(app, route, values, **{param: limit}), headers=headers)
            found = 404 if param == route.collection.id_field else 200  # an id lookup of no item is a 404
            assert response.status_code == found, (param, response.get_json())
    assert snapshot(app) == before


@pytest.mark.parametrize("route", COLLECTIONS, ids=lambda r: r.id)
def test_nul_in_a_text_filter_is_400_on_every_collection(app, client, world, route):
    headers, values = world
    for param in params_of(route.collection, "str"):
        body = problem(
            client.get(query_url(app, route, values, **{param: "a\0b"}), headers=headers),
            400,
            "QUERY_DID_NOT_VALIDATE",
        )
        assert param in body["errors"]


def placeholder(rule, name):
    converter = rule._converters[name]
    return (
        1
        if isinstance(converter, IntegerConverter)
        else uuid.UUID(int=1)
        if isinstance(converter, UUIDConverter)
        else "x"
    )


def test_nul_in_any_path_is_404_and_in_any_query_parameter_400(app, client, world):
    headers, values = world
    before = snapshot(app)
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith("static"):
            continue
        route = Route("GET", rule.endpoint, rule.rule)
        path = url_of(
            app,
            route,
            {**values, **{name: placeholder(rule, name) for name in rule.arguments if name not in values}},
        )
        for bad in (path.rstrip("/") + "%00", path.rstrip("/") + "/a%00b"):
            problem(client.get(bad, headers=headers), 404, "COULD_NOT_FIND_RESOURCE")
        body = problem(
            client.get(path + "?format%00=json&x=%00", headers=headers), 400, "QUERY_DID_NOT_VALIDATE"
        )
        assert "format\0" in body["errors"], body
    assert snapshot(app) == before


@pytest.mark.parametrize("login", ["a\0b", "user@example.org\0", "\0"])
def test_nul_in_a_basic_login_is_401(app, client, make_account, login):
    import base64

    make_account(email="user@example.org")
    credentials = base64.b64encode(f"{login}:correct horse battery".encode()).decode()
    problem(client.get("/api/v1/user/", headers={"Authorization": f"Basic {credentials}"}), 401)


@pytest.mark.parametrize("route", [r for r in BODY_ROUTES if r.multipart], ids=lambda r: r.id)
def test_nul_in_a_form_field_is_400_naming_it(app, client, world, route):
    headers, values = world
    before = snapshot(app)
    for name in [fld.data_key or key for key, fld in route.schema.fields.items()] + ["other"]:
        response = client.open(
            url_of(app, route, values),
            method=route.method,
            headers=headers,
            content_type="multipart/form-data",
            data={name: "a\0b"},
        )
        body = problem(response, 400, "BODY_DID_NOT_VALIDATE")
        assert name in body["errors"], (name, body)
    assert snapshot(app) == before


# --- JSON bodies, on every route that takes one ----------------------------------------------------------


def send(client, route, values, app, headers, data, content_type="application/json"):
    return client.open(
        url_of(app, route, values), method=route.method, data=data, headers=headers, content_type=content_type
    )


def nested(depth, leaf="1"):
    return (
        "".join('{"a":' if i % 2 else "[" for i in range(depth))
        + leaf
        + "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    )


def _json_refused(response, route):
    if route.multipart and response.status_code == 415:  # a route that takes only forms never parses JSON
        return problem(response, 415)
    return problem(response, 400, "BODY_JSON_DID_NOT_PARSE")


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.id)
def test_deep_json_is_400_on_every_route_that_takes_a_body(app, client, world, route):
    headers, values = world
    before = snapshot(app)
    for depth in (1000, 10_000, MAX_JSON_DEPTH + 1):
        for leaf in ("1", '"x"', "{}"):
            body = _json_refused(send(client, route, values, app, headers, nested(depth, leaf)), route)
            assert body["status"] == 415 or f"deeper than {MAX_JSON_DEPTH}" in body["detail"], body
    assert snapshot(app) == before


def test_deep_json_without_credentials_is_400(app, client):
    before = snapshot(app)
    body = problem(
        client.post("/accounts/auth_tokens/", data=nested(1000), content_type="application/json"),
        400,
        "BODY_JSON_DID_NOT_PARSE",
    )
    assert "deeper than" in body["detail"] and snapshot(app) == before


def test_json_as_deep_as_the_limit_is_accepted(app, client, world):
    headers, _ = world
    payload = json.loads(nested(MAX_JSON_DEPTH - 1))  # inside the body object: MAX_JSON_DEPTH levels in all
    response = client.post(
        "/api/v1/schedule/",
        headers=headers,
        json={"endpoint": "http://127.0.0.1:9/hook", "interval_definition": "1 hours", "payload": payload},
    )
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("route", JSON_ROUTES, ids=lambda r: r.id)
def test_nan_infinity_and_huge_floats_are_400_on_every_json_route(app, client, world, route):
    headers, values = world
    before = snapshot(app)
    for number in ("NaN", "Infinity", "-Infinity", "1e400", "-1.5e309"):
        body = problem(
            send(client, route, values, app, headers, f'{{"x": {number}}}'),
            400,
            "BODY_JSON_DID_NOT_PARSE",
        )
        assert number.lstrip("-") in body["detail"] or "too large" in body["detail"], body
    assert snapshot(app) == before


@pytest.mark.parametrize("route", [r for r in JSON_ROUTES if r.schema is not None], ids=lambda r: r.id)
def test_text_no_column_stores_is_400_naming_the_field(app, client, world, route):
    headers, values = world
    name = next(iter(route.schema.fields.values())).data_key or next(iter(route.schema.fields))
    before = snapshot(app)
    for text in ("a\\u0000b", "\\ud800", "x\\udfffy"):
        body = problem(
            send(client, route, values, app, headers, f'{{"{name}": "{text}"}}'),
            400,
            "BODY_DID_NOT_VALIDATE",
        )
        assert name in body["errors"], body
    assert snapshot(app) == before


INTEGER_ROUTES = [
    (route, path)
    for route in BODY_ROUTES
    if route.schema is not None
    for path, _ in integer_fields(route.schema)
]


@pytest.mark.parametrize(
    "route, path", INTEGER_ROUTES, ids=lambda x: x.id if hasattr(x, "id") else ".".join(map(str, x))
)
def test_integers_past_an_int32_column_are_400_naming_the_field(app, client, world, route, path):
    headers, values = world
    before = snapshot(app)
    for number in (2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30, 2**64 + 1):
        response = send(client, route, values, app, headers, json.dumps(body_at(path, number)))
        if route.multipart and response.status_code == 415:  # a form-only route: the field as a form value
            response = client.open(
                url_of(app, route, values),
                method=route.method,
                headers=headers,
                data={path[0]: str(number)},
                content_type="multipart/form-data",
            )
        body = problem(response, 400, "BODY_DID_NOT_VALIDATE")
        assert error_at(body["errors"], path), (path, number, body["errors"])
    assert snapshot(app) == before
    assert len(INTEGER_ROUTES) >= 15  # accountID, user_id, exec_order, project, catalogue_item_id, ...


@pytest.mark.parametrize("path", ["/downloader/requests/", "/downloader/requests/estimate/"])
def test_dates_outside_years_1_to_9999_in_download_filters_are_400(app, client, world, path):
    headers, values = world
    before = snapshot(app)
    for value in BAD_DATES:
        spec = {"columns": ["t"], "filters": [{"name": "t", "operator": ">", "value": value}]}
        body = problem(
            client.post(path, headers=headers, json={"catalogue_item_id": values["item_id"], "spec": spec}),
            400,
        )
        assert error_at(body["errors"], ("spec", "filters", 0, "value")), (value, body)
    assert snapshot(app) == before


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("key", ["interval_definition", "inteval_definition"])
def test_intervals_past_the_longest_are_400(app, client, world, method, key):
    headers, values = world
    path = "/api/v1/schedule/" + ("" if method == "POST" else f"{values['schedule_id']}/")
    before = snapshot(app)
    for interval in ("1000000000 days", "3651 days", "87601 hours", "9" * 90 + " seconds"):
        body = problem(
            client.open(
                path,
                method=method,
                headers=headers,
                json={"endpoint": "http://127.0.0.1:9/hook", key: interval},
            ),
            400,
            "BODY_DID_NOT_VALIDATE",
        )
        assert key in body["errors"] and "longest" in str(body["errors"]), body  # named as the client sent it
    assert snapshot(app) == before
    ok = client.open(
        path, method=method, headers=headers, json={"endpoint": "http://127.0.0.1:9/hook", key: "3650 days"}
    )
    assert ok.status_code in (200, 201), ok.get_json()
