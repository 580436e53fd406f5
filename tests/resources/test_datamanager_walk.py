"""End to end: every data manager operation reached from ``GET /`` by links and HAL-FORMS templates only.

The walk never builds a URL: it reads hrefs from ``_links``, expands templated links with
``uritemplate`` and submits ``_templates`` (method, target, contentType, property names).
"""

import io

from datamanager_support import HAL_FORMS, config_overrides, jpeg, pdf, png, stored_files  # noqa: F401

from app.hal import expand  # uritemplate, accepting decoded names such as "title~"


class Walker:
    def __init__(self, client, headers):
        self.client, self.headers = client, {**headers, **HAL_FORMS}

    def get(self, href, **kwargs):
        r = self.client.get(href, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)
        assert r.status_code in (200, 206), (href, r.get_json())
        return r.get_json() if r.is_json else r

    def follow(self, doc, rel, index=None, headers=None, **variables):
        link = doc["_links"][rel]
        link = link[index] if index is not None else link
        href = expand(link["href"], **variables) if link.get("templated") else link["href"]
        return self.get(href, headers=headers or {})

    def submit(self, doc, name, body=None, files=(), status=None):
        """Send ``_templates[name]`` of ``doc``; only the template's own property names may be used."""
        tpl = doc["_templates"][name]
        allowed = {p["name"] for p in tpl["properties"]}
        assert set(body or {}) | ({"file"} if files else set()) <= allowed, (name, allowed)
        target = tpl.get("target", doc["_links"]["self"]["href"])
        kwargs = {}
        if tpl["contentType"] == "multipart/form-data":
            kwargs = {
                "data": {**(body or {}), "file": [(io.BytesIO(c), n) for c, n in files]},
                "content_type": "multipart/form-data",
            }
        elif body is not None:
            kwargs = {"json": body}
        r = self.client.open(target, method=tpl["method"], headers=self.headers, **kwargs)
        assert r.status_code == (status or r.status_code) and r.status_code < 300, (name, r.get_json())
        return r


def test_walk_every_operation_from_the_entry_point(client, app, make_account, token_for):
    friend = make_account()
    me = Walker(client, token_for(make_account()))
    root = me.get("/")

    spaces = me.follow(root, "ec:datamanagers")
    r = me.submit(spaces, "default", {"title": "Walk", "description": "From GET /"}, status=201)
    space = me.get(r.headers["Location"])
    assert me.follow(root, "ec:datamanager/by-id", dataManagerID=space["dataManagerID"])["title"] == "Walk"
    space = me.get(me.submit(space, "default", {"title": "Walked"}).get_json()["_links"]["self"]["href"])
    assert space["title"] == "Walked"
    assert me.follow(space, "collection")["total"] == 1

    members = me.follow(space, "ec:datamanager/members")
    r = me.submit(members, "default", {"accountID": friend.id, "rights": ["editAssets"]}, status=201)
    member = me.get(r.headers["Location"])
    member = me.submit(member, "default", {"rights": ["editAssets", "editModel"]}).get_json()
    assert member["rights"] == ["editModel", "editAssets"]
    me.submit(me.get(member["_links"]["self"]["href"]), "delete", status=204)
    assert me.follow(space, "ec:datamanager/members")["total"] == 1

    assets = me.follow(space, "ec:assets")
    r = me.submit(assets, "default", files=[(png(8, 6), "one.png"), (jpeg(5, 5), "two.jpg")], status=201)
    first, second = (me.get(link["href"]) for link in r.get_json()["_links"]["ec:asset"])
    assets = me.follow(space, "ec:assets")
    assert assets["total"] == 2
    assert me.follow(assets, "ec:assets/by-id", assetID=first["assetID"])["title"] == "one.png"
    assert me.follow(assets, "ec:assets/options", **{"title~": "two"})["total"] == 1

    first = me.submit(first, "default", {"title": "One", "tags": ["walk"]}).get_json()
    first = me.submit(
        me.get(first["_links"]["self"]["href"]),
        "addFile",
        {"locale": "en-US"},
        files=[(png(16, 12), "one@2x.png")],
        status=200,
    ).get_json()
    assert [f["resolution"] for f in first["files"]] == [
        {"width": 8, "height": 6},
        {"width": 16, "height": 12},
    ]
    file_bytes = me.follow(first, "ec:asset/file", 1, headers={"Range": "bytes=0-7"})
    assert file_bytes.status_code == 206 and file_bytes.data == png(16, 12)[:8]

    merged = me.submit(first, "default", {"_links": {"ec:asset": {"href": second["_links"]["self"]["href"]}}})
    merged = merged.get_json()
    assert len(merged["files"]) == 3 and me.follow(space, "ec:assets")["total"] == 1
    keep = [{"url": f["url"], "locale": "de-DE"} for f in merged["files"][:2]]
    merged = me.submit(me.get(merged["_links"]["self"]["href"]), "default", {"files": keep}).get_json()
    assert [f["locale"] for f in merged["files"]] == ["de-DE", "de-DE"]

    me.submit(merged, "delete", status=204)
    deleted = me.follow(space, "ec:assets/deleted")
    gone = me.follow(deleted, "ec:assets/deleted/by-id", assetID=merged["assetID"])
    restored = me.submit(gone, "restore", status=200).get_json()
    assert me.follow(restored, "collection")["total"] == 1
    me.submit(me.get(restored["_links"]["self"]["href"]), "delete", status=204)
    gone = me.follow(me.follow(space, "ec:assets/deleted")["_embedded"]["ec:asset/deleted"][0], "self")
    me.submit(gone, "destroy", status=204)
    assert me.follow(space, "ec:assets/deleted")["total"] == 0 and stored_files(app) == []
