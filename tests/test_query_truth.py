"""What the OpenAPI description says of every query, the server does (docs/openapi.md, "Schemathesis"):
``format`` is one of its values (or the view's own), never repeated; no query value past MAX_QUERY_VALUE
characters; ``page`` at most ``max_page``. Each refusal is a 400 problem naming the parameter."""

import pytest

from app.inputs import MAX_QUERY_VALUE


def problem(response, param):
    assert response.status_code == 400 and response.mimetype == "application/problem+json", response.data
    body = response.get_json()
    assert body["@event"] == "QUERY_DID_NOT_VALIDATE" and list(body["errors"]) == [param], body


@pytest.mark.parametrize("path", ["/", "/rels/", "/api/v1/user/"])
def test_format_names_a_representation_where_the_view_has_none_of_its_own(client, admin_headers, path):
    problem(client.get(path + "?format=csv", headers=admin_headers), "format")
    problem(client.get(path + "?format=json&format=json", headers=admin_headers), "format")
    problem(client.get(path + "?format=x&format=y", headers=admin_headers), "format")
    assert client.get(path + "?format=json", headers=admin_headers).status_code == 200


def test_a_query_value_past_the_limit_is_refused_naming_it(client, admin_headers):
    long = "a" * (MAX_QUERY_VALUE + 1)
    problem(client.get(f"/?x={long}", headers=admin_headers), "x")
    problem(client.get(f"/api/v1/group/?name.contains={long}", headers=admin_headers), "name.contains")
    fits = client.get("/api/v1/group/?name.contains=" + "a" * MAX_QUERY_VALUE, headers=admin_headers)
    assert fits.status_code == 200 and fits.get_json()["total"] == 0


def test_the_last_page_is_the_same_for_every_size(app, client, admin_headers):
    from app.resources.accounts.groups import groups_collection

    cap = groups_collection.limits(None, app.config.get("HALYARD_PAGE_MAX_SIZE"))[1]
    last = groups_collection.max_page(cap)
    assert client.get(f"/api/v1/group/?size=1&page={last}", headers=admin_headers).status_code == 200
    problem(client.get(f"/api/v1/group/?size=1&page={last + 1}", headers=admin_headers), "page")
    assert (last - 1) * cap < 2**62  # every page up to it is an OFFSET SQL can take
