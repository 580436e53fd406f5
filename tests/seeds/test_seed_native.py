"""The representation door (app/native.py, docs/seed-native.md): on a seed 000-003 path JSON, */* and no
Accept get the seed's own body; HAL when the request names it; other paths keep HAL for every Accept."""

import pytest

SCHEDULES = "/api/v1/schedule/"
HAL = "application/hal+json"


@pytest.fixture
def config_overrides():
    return {"HALYARD_OUTBOUND_ALLOWLIST": "127.0.0.1,::1"}


@pytest.fixture
def schedules(client, user_headers):
    """Five schedules of the user, created through the API."""
    for n in range(5):
        body = {"endpoint": f"http://127.0.0.1:9/hook/{n}", "interval_definition": "1 hours"}
        assert client.post(SCHEDULES, json=body, headers=user_headers).status_code == 201
    return user_headers


def get(client, headers, accept=None, path=SCHEDULES, **more):
    sent = dict(headers, **more)
    if accept is not None:
        sent["Accept"] = accept
    return client.get(path, headers=sent)


@pytest.mark.parametrize(
    "accept", [None, "application/json", "*/*", "application/*", "application/json, */*"]
)
def test_json_star_and_no_accept_get_the_seed_body(seed_client, schedules, accept):
    response = get(seed_client, schedules, accept)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 5 and len(body["results"]) == 5
    assert "_links" not in body["results"][0] and body["results"][0]["endpoint"].startswith(
        "http://127.0.0.1"
    )
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize(
    "accept",
    [
        HAL,
        "application/vnd.hal+json",
        "application/prs.hal-forms+json",
        "application/hal+json, application/json",  # named with the same q: HAL wins
        "application/json;q=0.5, application/hal+json",
    ],
)
def test_hal_when_named_with_q_at_least_json(seed_client, schedules, accept):
    response = get(seed_client, schedules, accept)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 5 and len(body["_embedded"]["ec:schedule"]) == 5
    named = [r.split(";")[0].strip() for r in accept.split(",")]
    assert response.mimetype == next(m for m in named if m != "application/json")


def test_json_preferred_over_hal_by_q(seed_client, schedules):
    response = get(seed_client, schedules, "application/hal+json;q=0.4, application/json")
    assert response.mimetype == "application/json" and "results" in response.get_json()


def test_html_stays_browsable(seed_client, schedules):
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # a browser's
    response = get(seed_client, schedules, accept)
    assert response.status_code == 200 and response.mimetype == "text/html"


def test_unacceptable_is_still_406(seed_client, schedules):
    response = get(seed_client, schedules, "text/plain")
    assert response.status_code == 406 and response.mimetype == "application/problem+json"


def test_count_is_the_total_and_next_reaches_the_end(seed_client, schedules):
    """A seed 003 client loops ``while next:`` and reads ``count`` as the total."""
    url, seen, pages = f"{SCHEDULES}?limit=2", [], 0
    while url:
        body = get(seed_client, schedules, path=url).get_json()
        assert body["count"] == 5
        seen += [s["id"] for s in body["results"]]
        url, pages = body["next"], pages + 1
        assert url is None or url.startswith("http://localhost/api/v1/schedule/?limit=2&offset=")
    assert pages == 3 and len(set(seen)) == 5
    last = get(seed_client, schedules, path=f"{SCHEDULES}?limit=2&offset=4").get_json()
    assert last["previous"].endswith("?limit=2&offset=2") and last["next"] is None
    first = get(seed_client, schedules, path=f"{SCHEDULES}?limit=2").get_json()
    assert first["previous"] is None


def test_etag_per_representation(seed_client, schedules):
    native, hal = get(seed_client, schedules), get(seed_client, schedules, HAL)
    assert native.headers["ETag"] != hal.headers["ETag"]
    assert get(seed_client, schedules, **{"If-None-Match": native.headers["ETag"]}).status_code == 304
    again = get(seed_client, schedules, **{"If-None-Match": hal.headers["ETag"]})
    assert again.status_code == 200 and "results" in again.get_json()
    assert get(seed_client, schedules, HAL, **{"If-None-Match": hal.headers["ETag"]}).status_code == 304


def test_if_match_with_the_native_tag(seed_client, schedules, unchanged):
    one = get(seed_client, schedules).get_json()["results"][0]
    path = f"{SCHEDULES}{one['id']}/"
    read = get(seed_client, schedules, path=path)
    assert read.get_json()["id"] == one["id"] and "_links" not in read.get_json()
    with unchanged():
        stale = seed_client.put(
            path, json={"enabled": False}, headers={**schedules, "If-Match": '"0123456789abcdef"'}
        )
    assert stale.status_code == 412 and stale.mimetype == "application/problem+json"
    ok = seed_client.put(
        path, json={"enabled": False}, headers={**schedules, "If-Match": read.headers["ETag"]}
    )
    assert ok.status_code == 200 and ok.mimetype == "application/json"
    assert ok.get_json()["enabled"] is False
    hal = get(seed_client, schedules, HAL, path=path)
    ok = seed_client.put(path, json={"enabled": True}, headers={**schedules, "If-Match": hal.headers["ETag"]})
    assert ok.status_code == 200


def test_created_is_native_with_location(seed_client, user_headers):
    body = {"endpoint": "http://127.0.0.1:9/hook", "inteval_definition": "2 minutes"}
    response = seed_client.post(SCHEDULES, json=body, headers=user_headers)
    assert response.status_code == 201 and response.mimetype == "application/json"
    assert response.headers["Location"].endswith(f"{SCHEDULES}{response.get_json()['id']}/")


def test_errors_stay_problem_json(seed_client, user_headers):
    response = seed_client.get(f"{SCHEDULES}00000000-0000-0000-0000-000000000000/", headers=user_headers)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("path", ["/", "/datamanager/", "/rels/", "/jobs/"])
@pytest.mark.parametrize("accept", [None, "application/json", "*/*"])
def test_other_paths_keep_hal(seed_client, user_headers, path, accept):
    response = get(seed_client, user_headers, accept, path=path)
    assert response.status_code == 200
    assert "_links" in response.get_json()


def test_hal_client_default_is_unchanged(client, schedules):
    """The ``client`` fixture asks for HAL, as the HAL tests expect."""
    assert "_embedded" in client.get(SCHEDULES, headers=schedules).get_json()


@pytest.mark.parametrize("query", ["?size=2", "?page=1&size=2", "?limit=2"])
def test_native_pages_are_numbered_with_the_total_to_the_end(seed_client, schedules, query):
    """count is the total on every page and next keeps the request's style (never a cursor), so a
    client's `while next:` loop reads every item."""
    seen, href = [], SCHEDULES + query
    while href:
        body = get(seed_client, schedules, path=href).get_json()
        assert body["count"] == 5 and "cursor" not in (body["next"] or "")
        seen += [s["endpoint"] for s in body["results"]]
        href = body["next"]
    assert len(seen) == len(set(seen)) == 5
