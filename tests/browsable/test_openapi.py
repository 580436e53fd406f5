"""GET /openapi.json: a valid OpenAPI 3.1 document covering every route, declared or not."""

import re

import pytest
from browsable_fixtures import widgets  # noqa: F401  (no conftest here: it would shadow tests/conftest)
from openapi_spec_validator import validate

from app.jobs.models import STATUSES
from app.openapi import api_doc
from app.openapi.generate import query_parameters

pytestmark = pytest.mark.fresh_app  # the widgets blueprint is registered on the app
SKIP = {"HEAD", "OPTIONS"}


@pytest.fixture
def spec(widgets, client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/vnd.oai.openapi+json"
    return response.get_json()


def test_the_document_validates_as_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"] == "3.1.0" and spec["servers"] == [{"url": "http://localhost"}]


def test_the_entry_point_links_it_as_service_desc(client):
    links = client.get("/").get_json()["_links"]
    assert links["service-desc"]["href"] == "http://localhost/openapi.json"


def test_every_route_and_method_is_described(app, spec):
    import re

    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static"):
            continue
        path = re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - SKIP:
            op = spec["paths"][path][method.lower()]
            assert op["operationId"] and "default" in op["responses"], (path, method)


def test_security_schemes_and_per_operation_security(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["basic"] == {
        "type": "http",
        "scheme": "basic",
        "description": schemes["basic"]["description"],
    }
    assert schemes["bearer"]["scheme"] == "bearer"
    assert (schemes["token"]["type"], schemes["token"]["in"], schemes["token"]["name"]) == (
        "apiKey",
        "header",
        "Authorization",
    )
    paths = spec["paths"]
    assert paths["/jobs/{job_id}"]["get"]["security"] == [{"basic": []}, {"bearer": []}, {"token": []}]
    assert {} in paths["/"]["get"]["security"]  # anonymous allowed
    assert paths["/rels/"]["get"]["security"] == []
    assert (
        "401" in paths["/jobs/{job_id}"]["get"]["responses"]
        and "401" not in paths["/rels/"]["get"]["responses"]
    )


def test_declared_request_body_and_responses(spec):
    probe = spec["paths"]["/api/health/probe"]["post"]
    body = probe["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Probe"}
    steps = spec["components"]["schemas"]["Probe"]["properties"]["steps"]
    assert (steps["minimum"], steps["maximum"]) == (1, 20)
    assert spec["components"]["schemas"]["Probe"]["additionalProperties"] is False  # unknown fields: 400
    accepted = probe["responses"]["202"]
    assert "Location" in accepted["headers"]
    assert accepted["content"]["application/hal+json"]["schema"] == {
        "$ref": "#/components/schemas/JobResource"
    }
    problem = probe["responses"]["400"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


def test_collections_document_their_grammar(spec):
    params = query_parameters(spec["paths"]["/jobs/"]["get"])
    assert {
        "page",
        "size",
        "limit",
        "offset",
        "sort",
        "id",
        "status",
        "status!",
        "kind",
        "kind~",
        "created",
        "createdFrom",
        "createdTo",
        "format",
    } <= set(params)
    assert params["status"]["schema"]["enum"] == list(STATUSES)
    assert params["size"]["schema"]["maximum"] == 200
    sort = re.compile(params["sort"]["schema"]["pattern"])
    assert sort.fullmatch("kind,-created") and not sort.fullmatch("kind,-kind")  # each key once
    assert params["createdFrom"]["schema"]["format"] == "date-time"
    # the dotted aliases (app.hal.grammar.OPERATORS) are documented beside the suffix spellings
    assert params["created.from"]["schema"] == params["createdFrom"]["schema"]
    assert params["status.not"]["schema"]["enum"] == list(STATUSES)
    assert "`status!`" in params["status.not"]["description"]


def test_multipart_upload_and_undeclared_operations(spec):
    upload = spec["paths"]["/test-widgets/box/files"]["post"]
    schema_ref = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    file_prop = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]["properties"]["file"]
    assert file_prop == {"type": "string", "format": "binary"}
    undeclared = spec["paths"]["/test-widgets/box"]["delete"]
    assert set(undeclared["responses"]) >= {"204", "401", "403", "404", "412", "428", "default"}
    assert undeclared["summary"] == "Empty the box."  # the view's docstring
    assert spec["paths"]["/test-widgets/box"]["put"]["requestBody"]["required"] is True


def test_the_metadata_api_refuses_unknown_keys():
    with pytest.raises(TypeError):
        api_doc(respones={200: None})
    with pytest.raises(ValueError):
        api_doc(auth="sometimes")


def test_integer_path_ids_are_bounded_so_huge_ids_are_404_not_500(app, widgets, client, admin_headers):
    from werkzeug.routing import IntegerConverter

    int_rules = [
        r
        for r in app.url_map.iter_rules()
        if any(isinstance(c, IntegerConverter) for c in r._converters.values())
    ]
    assert int_rules, "the test-only widgets blueprint has an <int:n> route"
    assert all(
        c.max is not None and c.max <= 2**31 - 1
        for r in int_rules
        for c in r._converters.values()
        if isinstance(c, IntegerConverter)
    )
    huge = client.get("/test-widgets/box/files/6328411720", headers=admin_headers)
    assert huge.status_code == 404 and huge.mimetype == "application/problem+json"


def test_generation_warns_of_nothing_and_refuses_name_clashes(app, widgets):
    """apispec renames a second schema of a taken name ("Member1") with a UserWarning; every schema
    has its own name, and a clash the generator would resolve silently is an error."""
    import warnings

    from marshmallow import Schema, fields

    from app.hal import Collection, Field
    from app.openapi.generate import Builder, build_spec
    from app.openapi.helpers import page

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = build_spec(app, "http://localhost")
    assert [str(w.message) for w in caught if w.category is UserWarning] == []
    names = spec["components"]["schemas"]
    assert {"GroupMember", "ProjectMember"} <= set(names) and "Member1" not in names
    assert build_spec(app, "http://localhost") == spec  # the declarations are not used up by a build

    def named(name, **members):
        return type(name, (Schema,), members)

    builder = Builder(app, "http://localhost")
    builder.schema_ref(named("ThingSchema", a=fields.String()), response=True)
    with pytest.raises(ValueError, match="ThingResource"):
        builder.schema_ref(named("ThingSchema", b=fields.String()), response=True)
    things = Collection(rel="ec:things", item_rel="ec:thing", fields=[Field("id", type="int")], id_field="id")
    described = builder.page_response(page(named("OneSchema")), things)
    assert described["content"]["application/json"]["schema"] == {
        "anyOf": [{"$ref": "#/components/schemas/ThingsPage"}, {"$ref": "#/components/schemas/OneResource"}]
    }
    with pytest.raises(ValueError, match="ThingsPage"):
        builder.page_response(page(named("OtherSchema")), things)
    with pytest.raises(ValueError, match="collection="):
        builder.page_response(page(named("OneSchema")), None)
