"""Responses whose body depends on the caller vary on Authorization, and their ETags differ per caller.

The HAL state tag hashes the document without ``_templates``; a HAL-FORMS or HTML tag adds 8 hex digits
of what differs by caller (the templates they are offered; for HTML also who is signed in). A client or
cache revalidating with another caller's tag therefore gets the full body, never a 304 that would confirm
forms the caller may not use; writes still accept a tag from any representation (decision 6).
"""

import re

from app.extensions import db
from app.resources.catalogue.models import CatalogueItem

HAL_FORMS = {"Accept": "application/prs.hal-forms+json"}
HTML = {"Accept": "text/html"}
SPEC = [{"distribution": None, "is_nullable": True, "name": "product", "size": None, "type": "STRING"}]


def vary(response):
    return {v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()}


def tag(response):
    return response.headers["ETag"].strip('"')


def test_hal_forms_and_html_etags_differ_between_callers_with_different_rights(
    client, make_account, token_for
):
    admin, other_admin, researcher = (
        token_for(make_account(type=t)) for t in ("ADMIN", "ADMIN", "RESEARCHER")
    )
    item = CatalogueItem(name="variants", executor_type="DATABRICKS", spec=SPEC)
    item.set_sample([])
    db.session.add(item)
    db.session.commit()
    path = f"/catalogue/items/{item.id}"

    # plain HAL: the same body for both, so the same tag; it still varies on Authorization (a reader's view)
    hal = {
        who: client.get(path, headers=headers) for who, headers in (("admin", admin), ("user", researcher))
    }
    assert tag(hal["admin"]) == tag(hal["user"]) and re.fullmatch(r"[0-9a-f]{32}", tag(hal["admin"]))
    assert {"Accept", "Authorization"} <= vary(hal["admin"])
    state = tag(hal["admin"])

    forms = {
        who: client.get(path, headers={**headers, **HAL_FORMS})
        for who, headers in (("admin", admin), ("admin2", other_admin), ("user", researcher))
    }
    assert set(forms["admin"].get_json()["_templates"]) >= {"default", "delete"}
    assert "_templates" not in forms["user"].get_json()
    assert tag(forms["admin"]) != tag(forms["user"])
    assert tag(forms["admin"]) == tag(forms["admin2"])  # the same rights: the same representation
    for response in forms.values():
        assert re.fullmatch(state + r"-f[0-9a-f]{8}", tag(response))
        assert {"Accept", "Authorization"} <= vary(response)

    # revalidating with another caller's tag is a full 200 with the caller's own body; their own tag a 304
    crossed = client.get(
        path, headers={**researcher, **HAL_FORMS, "If-None-Match": f'"{tag(forms["admin"])}"'}
    )
    assert crossed.status_code == 200 and "_templates" not in crossed.get_json()
    own = client.get(path, headers={**researcher, **HAL_FORMS, "If-None-Match": f'"{tag(forms["user"])}"'})
    assert own.status_code == 304

    # HTML names who is signed in: two admins get different tags
    pages = [client.get(path, headers={**headers, **HTML}) for headers in (admin, other_admin)]
    assert tag(pages[0]) != tag(pages[1]) and all(
        re.fullmatch(state + r"-h[0-9a-f]{8}", tag(p)) for p in pages
    )

    # a write accepts the tag of any representation, the caller's variant included
    body = {"name": "renamed", "executor_type": "DATABRICKS", "spec": SPEC}
    put = client.put(path, json=body, headers={**admin, "If-Match": f'"{tag(forms["admin"])}"'})
    assert put.status_code == 200 and put.get_json()["name"] == "renamed"
    stale = client.put(path, json=body, headers={**admin, "If-Match": f'"{tag(forms["admin"])}"'})
    assert stale.status_code == 412


def test_public_json_does_not_vary_on_authorization_but_its_forms_and_pages_do(client, admin_headers):
    assert "Authorization" not in vary(client.get("/", headers=admin_headers))  # the same for everyone
    assert "Authorization" in vary(client.get("/", headers={**admin_headers, **HTML}))
    assert "Authorization" in vary(client.get("/jobs/", headers=admin_headers))  # what the caller may read
