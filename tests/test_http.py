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
