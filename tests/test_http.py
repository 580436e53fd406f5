"""Cross-cutting HTTP behaviour: CORS and proxy headers, both off by default."""

import pytest

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.org"}


def test_cors_is_off_by_default(client):
    response = client.get("/", headers={"Origin": "https://app.example.org"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("config_overrides", [{"HALYARD_CORS_ORIGINS": "https://app.example.org"}])
def test_cors_exposes_location_etag_link(client):
    response = client.get("/", headers={"Origin": "https://app.example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Location", "ETag", "Link"} <= exposed
    other = client.get("/", headers={"Origin": "https://evil.example.org"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options(
        "/jobs/",
        headers={
            "Origin": "https://app.example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert (
        preflight.status_code == 200 and "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    )


def test_forwarded_headers_are_ignored_by_default(client):
    assert client.get("/", headers=FORWARDED).get_json()["_links"]["self"]["href"] == "http://localhost/"


@pytest.mark.parametrize("config_overrides", [{"HALYARD_PROXY_FIX": True}])
def test_forwarded_headers_are_honoured_when_configured(client):
    links = client.get("/", headers=FORWARDED).get_json()["_links"]
    assert links["self"]["href"] == "https://api.example.org/"
    assert links["ec:jobs"]["href"] == "https://api.example.org/jobs/"


TWO_HOPS = {  # the client → a public load balancer (api.example.org, TLS) → an internal proxy → Halyard
    "X-Forwarded-For": "203.0.113.7, 10.0.0.2",
    "X-Forwarded-Proto": "https, http",
    "X-Forwarded-Host": "api.example.org, halyard.internal",
    "X-Forwarded-Prefix": "/halyard, /",
}


@pytest.mark.parametrize("config_overrides", [{"HALYARD_PROXY_FIX": 2}])
def test_links_carry_the_public_host_scheme_and_prefix_through_two_proxies(client, admin_headers, run_jobs):
    root = client.get("/", headers=TWO_HOPS).get_json()
    assert root["_links"]["self"]["href"] == "https://api.example.org/halyard/"
    assert root["_links"]["ec:jobs"]["href"] == "https://api.example.org/halyard/jobs/"
    assert root["_links"]["curies"][0]["href"] == "https://api.example.org/halyard/rels/{rel}"
    started = client.post("/api/health/probe", headers={**admin_headers, **TWO_HOPS})
    assert started.headers["Location"].startswith("https://api.example.org/halyard/jobs/")
    run_jobs()
    job = client.get(
        started.headers["Location"].split("/halyard", 1)[1], headers={**admin_headers, **TWO_HOPS}
    )
    links = job.get_json()["_links"]
    assert links["ec:job/subject"]["href"] == "https://api.example.org/halyard/api/health/"
    assert links["ec:job/result"]["href"] == "https://api.example.org/halyard/api/health/"
    spec = client.get("/openapi.json", headers=TWO_HOPS).get_json()
    assert spec["servers"][0]["url"] == "https://api.example.org/halyard"


@pytest.mark.parametrize("config_overrides", [{"HALYARD_PROXY_FIX": 1}])
def test_one_trusted_hop_takes_only_the_nearest_proxys_word(client):
    root = client.get("/", headers=TWO_HOPS).get_json()
    assert root["_links"]["self"]["href"] == "http://halyard.internal/"  # the nearest values; prefix "/"


def test_no_cookie_session_is_opened_or_sent(app, client, user_headers):
    """Halyard keeps no session state (docs/decisions.md 19): flask.session refuses writes, no cookie."""
    from flask import session
    from flask.sessions import NullSession

    r = client.get("/", headers=user_headers)
    assert r.status_code == 200 and "Set-Cookie" not in r.headers
    with app.test_request_context("/"):
        assert isinstance(session, NullSession)
        with pytest.raises(RuntimeError):
            session["k"] = "v"
