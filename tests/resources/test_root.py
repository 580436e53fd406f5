"""GET / (the entry point), /rels/{rel}, media types and trailing slashes."""

import pytest
import uritemplate

HAL = "application/hal+json"


def test_entry_point_links_every_registered_collection(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["Content-Type"] == HAL
    body = response.get_json()
    links = body["_links"]
    assert links["self"]["href"] == "http://localhost/"
    assert links["curies"] == [{"name": "ec", "href": "http://localhost/rels/{rel}", "templated": True}]
    for rel in ("ec:health", "ec:jobs", "ec:job/by-id"):
        assert rel in links
    assert links["ec:job/by-id"]["templated"] is True
    assert uritemplate.expand(links["ec:job/by-id"]["href"], id="abc") == "http://localhost/jobs/abc"


def test_every_curied_rel_on_the_entry_point_is_documented(client):
    links = client.get("/").get_json()["_links"]
    curied = [r for r in links if r.startswith("ec:")]
    assert len(curied) >= 15, curied
    for rel in curied:
        href = uritemplate.expand(links["curies"][0]["href"], rel=rel[3:])
        doc = client.get(href)
        assert doc.status_code == 200, rel
        assert doc.get_json()["rel"] == rel[3:]
    page = client.get("/rels/job/by-id", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html" and b"ec:job/by-id" in page.data
    assert client.get("/rels/no-such-rel").status_code == 404


@pytest.mark.parametrize(
    "accept, media_type",
    [
        (None, HAL),
        ("*/*", HAL),
        ("application/hal+json", HAL),
        ("application/vnd.hal+json", "application/vnd.hal+json"),
        ("application/json", "application/json"),
        ("application/prs.hal-forms+json, application/hal+json;q=0.9", "application/prs.hal-forms+json"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
    ],
)
def test_media_types(client, accept, media_type):
    response = client.get("/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.mimetype == media_type
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize("path", ["/jobs", "/jobs/", "/api/health", "/api/health/", "/rels", "/rels/"])
def test_paths_answer_with_and_without_trailing_slash(client, admin_headers, path):
    response = client.get(path, headers=admin_headers)
    assert response.status_code in (200, 503)  # health is 503 without a worker; never a redirect


def test_head_on_the_entry_point(client):
    response = client.head("/")
    assert response.status_code == 200 and response.data == b"" and response.headers["ETag"]
