"""API-wide rate limits (app/ratelimit.py) on the test's real Redis: per credential and per client
address, per-route overrides, 429 problem+json with Retry-After and RateLimit-* headers, and a refused
write changes nothing."""

import pytest

from app import create_app

ON = {"HALYARD_RATE_LIMIT_ENABLED": True}


@pytest.mark.parametrize("config_overrides", [{**ON, "HALYARD_RATE_LIMIT_ANON": "3 per minute"}])
def test_anonymous_requests_are_limited_per_client_address(client):
    answers = [client.get("/") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    assert {r.headers["RateLimit-Limit"] for r in answers} == {"3"}
    assert 0 < int(answers[0].headers["RateLimit-Reset"]) <= 60

    refused = client.get("/")
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["@event"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"

    other = client.get("/", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200  # another address counts on its own


@pytest.mark.parametrize(
    "config_overrides",
    [{**ON, "HALYARD_RATE_LIMIT_DEFAULT": "2 per minute", "HALYARD_RATE_LIMIT_ANON": "50 per minute"}],
)
def test_requests_with_a_token_are_limited_per_token(client, make_account, token_for, unchanged):
    account = make_account()
    first, second = token_for(account), token_for(account)
    assert [client.get("/jobs/", headers=first).status_code for _ in range(2)] == [200, 200]
    assert client.get("/jobs/", headers=first).headers.get("RateLimit-Limit") == "2"
    with unchanged():
        refused = client.post(f"/api/v1/user/{account.id}/tokens/", json={"name": "more"}, headers=first)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert client.get("/jobs/", headers=second).status_code == 200  # the other token has its own count
    anonymous = client.get("/")
    assert anonymous.status_code == 200 and anonymous.headers["RateLimit-Limit"] == "50"


@pytest.mark.parametrize(
    "config_overrides", [{**ON, "HALYARD_RATE_LIMIT_ROUTES": {"root.rels": "1 per minute"}}]
)
def test_a_route_limit_applies_on_top_of_the_default(client):
    assert client.get("/rels/").status_code == 200
    refused = client.get("/rels/")
    assert refused.status_code == 429 and refused.headers["RateLimit-Limit"] == "1"
    assert client.get("/").status_code == 200  # the other routes keep the default


def test_an_override_of_an_unknown_endpoint_is_refused(app, run_dir):
    config = {
        "TESTING": True,
        "DATABASE_URL": "sqlite://",
        "SECRET_KEY": "x",
        "REDIS_URL": app.config["REDIS_URL"],
        **ON,
        "HALYARD_RATE_LIMIT_ROUTES": {"no.such": "1 per minute"},
    }
    with pytest.raises(ValueError, match="no endpoint 'no.such'"):
        create_app(config, instance_path=str(run_dir / "instance"))


def test_limits_are_off_when_disabled(client):
    answers = [client.get("/") for _ in range(3)]
    assert all(r.status_code == 200 and "RateLimit-Limit" not in r.headers for r in answers)
