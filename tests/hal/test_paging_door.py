"""One paging door: every collection applies HALYARD_PAGE_MAX_SIZE and HALYARD_PAGE_DEFAULT_SIZE.

Crawls the collections linked from ``/`` and, one level down, the collections linked from their
first item (a space's assets and members, a user's tokens, ...), with max 5 and default 2.
"""

from urllib.parse import parse_qs, urlsplit

import pytest


@pytest.fixture
def config_overrides():
    return {"HALYARD_PAGE_MAX_SIZE": 5, "HALYARD_PAGE_DEFAULT_SIZE": 2}


def _collection(client, href, headers):
    """The collection document at ``href``, or None when it is not a collection."""
    response = client.get(href, headers=headers)
    body = response.get_json(silent=True) if response.status_code == 200 else None
    if not isinstance(body, dict) or "count" not in body or "_embedded" not in body:
        return None
    return body


def _check(client, href, body, headers):
    self_query = parse_qs(urlsplit(body["_links"]["self"]["href"]).query)
    assert self_query.get("size") == ["2"] or self_query.get("limit") == ["2"], href
    assert body["count"] <= 2, href
    sep = "&" if "?" in href else "?"
    assert client.get(f"{href}{sep}size=5", headers=headers).status_code == 200, href
    refused = client.get(f"{href}{sep}size=6", headers=headers)
    assert refused.status_code == 400 and refused.mimetype == "application/problem+json", href
    assert "size" in refused.get_json()["errors"], href


def test_every_collection_applies_the_configured_page_sizes(client, make_account, token_for):
    admin = make_account(type="ADMIN")
    headers = token_for(admin)
    for _ in range(3):
        make_account()
        title = "space"
        assert client.post("/datamanager/", json={"title": title}, headers=headers).status_code == 201
    links = client.get("/", headers=headers).get_json()["_links"]
    hrefs = [link["href"] for link in links.values() if isinstance(link, dict) and not link.get("templated")]
    hrefs.append(links["ec:catalogue-items"]["href"].replace("{?query}", "?query=a"))
    checked, seen = [], set()
    for href in hrefs:
        body = _collection(client, href, headers)
        if body is None:
            continue
        _check(client, href, body, headers)
        checked.append(href)
        for docs in body["_embedded"].values():
            for rel, link in (docs[0]["_links"] if docs else {}).items():
                sub = link.get("href") if isinstance(link, dict) else None
                if sub is None or link.get("templated") or sub in seen or rel in ("self", "collection"):
                    continue
                seen.add(sub)
                sub_body = _collection(client, sub, headers)
                if sub_body is not None and sub not in hrefs:
                    _check(client, sub, sub_body, headers)
                    checked.append(sub)
    paths = {urlsplit(h).path for h in checked}
    for path in ("/datamanager/", "/api/v1/user/", "/api/v1/schedule/", "/api/v1/objects/", "/jobs/"):
        assert path in paths, (path, sorted(paths))
    assert any(p.endswith("/assets/") for p in paths) and any(p.endswith("/members/") for p in paths)
    assert len(paths) >= 14, sorted(paths)


def test_the_etag_is_the_hash_of_the_bytes_sent(client, make_account, token_for):
    import hashlib

    headers = token_for(make_account(type="ADMIN"))
    made = client.post("/datamanager/", json={"title": "space"}, headers=headers)
    for href in ("/datamanager/", made.headers["Location"], "/api/v1/user/?size=1"):
        for accept in ("application/hal+json", "application/json"):
            response = client.get(href, headers={**headers, "Accept": accept})
            assert response.headers["ETag"] == f'"{hashlib.sha256(response.data).hexdigest()[:32]}"'
    # HAL-FORMS and HTML carry the same state tag plus their suffix (If-Match accepts any of them)
    hal = client.get(made.headers["Location"], headers=headers).headers["ETag"].strip('"')
    forms = client.get(
        made.headers["Location"], headers={**headers, "Accept": "application/prs.hal-forms+json"}
    )
    assert forms.headers["ETag"].strip('"').startswith(hal + "-f")
